#!/usr/bin/env bats
# --state FILE (SPEC §1): the guest starts from FILE when it exists and is
# written back to it when the daemon ends (unmount, SIGTERM, SIGINT), through
# a temporary file that is synced and renamed, so a crash leaves the old
# file or the new one. A bad FILE stops the start with status 1, untouched.

load helpers

teardown() {
	unmount_guest
}

# start_refused OPTIONS...: gmemfs with OPTIONS exits with status 1 before
# mounting; its message is in $output.
start_refused() {
	mkdir -p "$BATS_TEST_TMPDIR/mnt"
	run "$GMEMFS" -f "$@" "$BATS_TEST_TMPDIR/mnt"
	[ "$status" -eq 1 ] || {
		echo "status $status, expected 1: $output" >&2
		return 1
	}
	! is_mounted "$BATS_TEST_TMPDIR/mnt"
}

# shape_guest: something of everything the state must keep.
shape_guest() {
	ask ctl 'map 0x400000 0x2000 r-x "code \xff"' >/dev/null
	ask ctl 'write 0x401ff0 c0ffee' >/dev/null
	ask ctl 'write 0x7fffffffeff8 4142' >/dev/null
	echo 0xabcdef >"$MNT/regs/rbx"
}

@test "--state FILE that does not exist: the options make the guest, and unmounting writes it to FILE" {
	local state=$BATS_TEST_TMPDIR/guest.snap
	mount_guest --state "$state" --map 0x10000:0x1000:rw-:data
	[ ! -e "$state" ]
	shape_guest
	local saved
	saved=$(guest_state)
	unmount_guest
	[ -f "$state" ]
	[ "$(stat -c %a "$state")" = 600 ]
	[ ! -e "$state.tmp" ]
	mount_guest --state "$state"
	[ "$(guest_state)" = "$saved" ]
}

@test "--state survives SIGTERM and SIGINT: the daemon writes the state and exits 0" {
	local state=$BATS_TEST_TMPDIR/guest.snap sig saved
	for sig in TERM INT; do
		mount_guest --state "$state"
		ask ctl "map 0x$((RANDOM % 1000 + 1))000 0x1000 rw- $sig" >/dev/null
		saved=$(guest_state)
		kill -s "$sig" "$GMEMFS_PID"
		wait_daemon
		[ "$daemon_status" = 0 ]
		! is_mounted "$MNT"
		mount_guest --state "$state"
		[ "$(guest_state)" = "$saved" ]
		unmount_guest
	done
}

@test "--state FILE names the architecture when --arch does not" {
	local state=$BATS_TEST_TMPDIR/arm.snap
	mount_guest --arch arm --state "$state"
	ask ctl 'map 0x8000 0x400 rwx' >/dev/null
	echo 0x1234 >"$MNT/regs/r7"
	unmount_guest
	mount_guest --state "$state"
	info_is arch arm
	file_is regs/r7 0x1234
	maps_are '00008000-00008400 rwx [mapped]' \
		'7ff0d000-7ff3d000 rw- [stack]'
}

@test "a --state FILE that holds a guest ignores the options that shape a new one, and says so" {
	local state=$BATS_TEST_TMPDIR/guest.snap saved
	mount_guest --state "$state"
	saved=$(guest_state)
	unmount_guest
	mount_guest --state "$state" --map 0x10000:0x1000 --no-stack
	[ "$(guest_state)" = "$saved" ]
	grep -q -- '--map, --load, --elf and --core shape only a new guest' "$GMEMFS_LOG"
}

@test "a bad --state FILE refuses the start with status 1 and a message, and is left untouched" {
	local f=$BATS_TEST_TMPDIR/bad.snap sum
	head -c 4096 /dev/urandom >"$f"
	sum=$(sha1sum <"$f")
	start_refused --state "$f"
	[[ "$output" == *"--state $f: not a valid snapshot: it does not start with \"GMEMSNAP\""* ]]
	[ "$(sha1sum <"$f")" = "$sum" ]

	# a good one, cut short or with a bit flipped
	local good=$BATS_TEST_TMPDIR/good.snap
	mount_guest --state "$good"
	unmount_guest
	head -c 200 "$good" >"$f"
	sum=$(sha1sum <"$f")
	start_refused --state "$f"
	[[ "$output" == *"checksum does not match"* ]]
	[ "$(sha1sum <"$f")" = "$sum" ]

	# of another architecture than --arch asks for
	start_refused --arch mips --state "$good"
	[[ "$output" == *"x86_64, not mips"* ]]

	# not a file, or where nothing can be written
	start_refused --state "$BATS_TEST_TMPDIR"
	[[ "$output" == *"not a regular file"* ]]
	start_refused --state "$BATS_TEST_TMPDIR/no/such/dir/state"
	[[ "$output" == *"No such file or directory"* ]]
}

@test "a state that cannot be written at the end fails the exit (status 1) with a message" {
	mkdir "$BATS_TEST_TMPDIR/dir"
	mount_guest --state "$BATS_TEST_TMPDIR/dir/state"
	rm -r "$BATS_TEST_TMPDIR/dir"
	fusermount3 -u "$MNT"
	wait_daemon
	[ "$daemon_status" = 1 ]
	grep -q "cannot create .*/dir/state.tmp" "$GMEMFS_LOG"
}

@test "SIGKILL in the middle of a state write leaves the previous state file intact" {
	local state=$BATS_TEST_TMPDIR/guest.snap sum saved i
	mount_guest --state "$state"
	shape_guest
	saved=$(guest_state)
	unmount_guest
	sum=$(sha1sum <"$state")

	# A state of 256 MiB that is not zero takes long enough to write that
	# the kill lands while its temporary file grows, past 64 MiB.
	mount_guest --state "$state"
	ask ctl 'map 0x10000000 256m rw- big' >/dev/null
	head -c 256M /dev/zero | tr '\0' '\132' \
		>"$MNT/regions/0000000010000000-0000000020000000"
	fusermount3 -u "$MNT"
	for ((i = 0; i < 2000; i++)); do
		[ "$(stat -c %s "$state.tmp" 2>/dev/null || echo 0)" -gt $((64 << 20)) ] && break
		sleep 0.005
	done
	kill -9 "$GMEMFS_PID"
	wait_daemon || true
	[ "$daemon_status" = 137 ]
	echo "# killed with $(stat -c %s "$state.tmp") bytes of the new state written" >&3
	[ -s "$state.tmp" ]
	[ "$(sha1sum <"$state")" = "$sum" ]

	# the previous state is whole: the next daemon starts from it, and
	# writes over the leftover temporary file
	mount_guest --state "$state"
	[ "$(guest_state)" = "$saved" ]
	unmount_guest
	[ ! -e "$state.tmp" ]
}

@test "a daemon started on FILE right after an unmount waits for the one before to write it" {
	local state=$BATS_TEST_TMPDIR/guest.snap saved first
	mount_guest --state "$state"
	# big enough that writing it takes a while
	ask ctl 'map 0x10000000 256m rw- big' >/dev/null
	head -c 256M /dev/zero | tr '\0' '\132' \
		>"$MNT/regions/0000000010000000-0000000020000000"
	shape_guest
	saved=$(guest_state)
	first=$GMEMFS_PID
	fusermount3 -u "$MNT"
	mount_guest --state "$state"
	[ "$(guest_state)" = "$saved" ]
	wait "$first"
}

@test "a --state FILE that is a symbolic link keeps the link: the state goes where it points" {
	local target=$BATS_TEST_TMPDIR/real.snap link=$BATS_TEST_TMPDIR/link.snap
	mount_guest --state "$target"
	unmount_guest
	ln -s real.snap "$link"
	mount_guest --state "$link"
	ask ctl 'map 0x10000 0x1000 rw- linked' >/dev/null
	unmount_guest
	[ -L "$link" ]
	mount_guest --state "$target"
	grep -q ' linked$' "$MNT/maps"
}
