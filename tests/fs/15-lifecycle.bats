#!/usr/bin/env bats
# The daemon's life: a relative mount point ends cleanly on signals, the
# --state wait ends on SIGINT and SIGTERM, and tools/run and the daemon
# agree on failure (nothing mounts after tools/run gave up).

load helpers

# The daemons of a test started without -f (they fork): their pids.
daemons=()

teardown() {
	local p m
	for p in "${daemons[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for m in "$BATS_TEST_TMPDIR"/rel* "$BATS_TEST_TMPDIR"/mnt2; do
		is_mounted "$m" && fusermount3 -uz "$m"
	done
	unmount_guest
}

# gone PID: wait (10 s at most) until process PID has ended.
gone() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ -e "/proc/$1" ] || return 0
		sleep 0.05
	done
	echo "process $1 still runs" >&2
	return 1
}

# daemon_of MOUNTPOINT-NAME: the pid of the forked gmemfs serving the
# relative mount point NAME (its command line ends with it).
daemon_of() {
	local p
	for p in /proc/[0-9]*; do
		if [ "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" = "$GMEMFS $1 " ]; then
			echo "${p#/proc/}"
			return 0
		fi
	done
	return 1
}

# A daemon that forked (no -f), its mount point given relative to the
# current directory, ends on SIG, and its mount goes with it.
relative_mount_ends_on() {
	local name=rel$1 pid
	cd "$BATS_TEST_TMPDIR"
	mkdir "$name"
	"$GMEMFS" "$name" </dev/null
	is_mounted "$BATS_TEST_TMPDIR/$name"
	pid=$(daemon_of "$name")
	daemons+=("$pid")
	[ -n "$pid" ]
	ls "$name/regions" >/dev/null
	kill "-$1" "$pid"
	gone "$pid"
	if is_mounted "$BATS_TEST_TMPDIR/$name"; then
		echo "$name is still mounted after SIG$1" >&2
		return 1
	fi
}

@test "a relative mount point is unmounted on SIGINT" {
	relative_mount_ends_on INT
}

@test "a relative mount point is unmounted on SIGTERM" {
	relative_mount_ends_on TERM
}

# A second daemon on the --state FILE of a running one waits for it; SIG
# ends that wait at once, also when started from a script with & (SIGINT
# then comes in ignored).
state_wait_ends_on() {
	mount_guest --state "$BATS_TEST_TMPDIR/s.snap"
	mkdir "$BATS_TEST_TMPDIR/mnt2"
	"$GMEMFS" -f --state "$BATS_TEST_TMPDIR/s.snap" "$BATS_TEST_TMPDIR/mnt2" \
		2>"$BATS_TEST_TMPDIR/second.log" </dev/null &
	local pid=$!
	daemons+=("$pid")
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q waiting "$BATS_TEST_TMPDIR/second.log" && break
		sleep 0.05
	done
	grep -q waiting "$BATS_TEST_TMPDIR/second.log"
	kill "-$1" "$pid"
	local t0=$SECONDS
	gone "$pid"
	[ $((SECONDS - t0)) -le 2 ]
	! is_mounted "$BATS_TEST_TMPDIR/mnt2"
}

@test "SIGINT ends the wait for another daemon's --state FILE" {
	state_wait_ends_on INT
}

@test "SIGTERM ends the wait for another daemon's --state FILE" {
	state_wait_ends_on TERM
}

@test "tools/run gives up on a --state FILE another daemon holds, and nothing mounts later" {
	mount_guest --state "$BATS_TEST_TMPDIR/s.snap"
	local m2=$BATS_TEST_TMPDIR/mnt2
	run env GMEMFS_RUN_WAIT=1 "$_helpers_root/tools/run" "$m2" \
		--state "$BATS_TEST_TMPDIR/s.snap"
	[ "$status" = 1 ]
	[[ $output == *"not mounted after 1 s"* ]]
	# the first daemon ends and frees FILE: the second must not mount now
	unmount_guest
	sleep 1
	! is_mounted "$m2"
	[ -z "$(daemon_of "--state $BATS_TEST_TMPDIR/s.snap $m2")" ]
}
