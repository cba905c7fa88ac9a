#!/usr/bin/env bats
# Other users: -o allow_other gives them only what the files' "other" bits
# say, and --state in a shared directory never writes into, or waits on,
# a file another user made.

load helpers

OTHER=gmemfs-test-other

teardown() {
	unmount_guest
}

# The second user (made once), or skip when none can be made.
other_user() {
	[ "$(id -u)" = 0 ] || skip "needs root to add a second user"
	id "$OTHER" >/dev/null 2>&1 ||
		useradd --no-create-home --shell /usr/sbin/nologin "$OTHER" ||
		skip "useradd failed"
}

# as_other CMD...: run CMD as the second user.
as_other() {
	runuser -u "$OTHER" -- "$@"
}

# Let the second user reach $BATS_TEST_TMPDIR (bats makes it 0700).
open_path() {
	local d=$BATS_TEST_TMPDIR
	while [ "$d" != / ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
}

@test "-o allow_other: another user may read maps, info and log and list, and nothing else" {
	other_user
	open_path
	mount_guest -o allow_other
	local r=$MNT/regions/00007ffffffde000-00007ffffffff000
	as_other cat "$MNT/maps" | grep -q stack
	as_other cat "$MNT/info" >/dev/null
	as_other ls "$MNT/regions" >/dev/null
	run as_other cat "$r"
	[ "$status" -ne 0 ] && [[ $output == *"Permission denied"* ]]
	run as_other dd if="$MNT/mem" bs=1 count=1 skip=$((0x7ffffffde000)) status=none
	[ "$status" -ne 0 ] && [[ $output == *"Permission denied"* ]]
	run as_other sh -c "echo 'map 0x10000 0x1000' > '$MNT/ctl'"
	[ "$status" -ne 0 ]
	run as_other sh -c "printf A | dd of='$MNT/mem' bs=1 seek=$((0x7ffffffde000)) conv=notrunc status=none"
	[ "$status" -ne 0 ]
	run as_other cat "$MNT/regs/rip"
	[ "$status" -ne 0 ]
	run as_other rm "$r"
	[ "$status" -ne 0 ]
	run as_other chmod 400 "$r"
	[ "$status" -ne 0 ]
	run as_other setfattr -n user.label -v x "$r"
	[ "$status" -ne 0 ]
	run as_other getfattr -n user.label "$r"
	[ "$status" -ne 0 ]
	# the guest is as it was, and its owner still does everything
	maps_are '00007ffffffde000-00007ffffffff000 rw- [stack]'
	[ "$(xxd -p -l 1 "$r")" = 00 ]
	echo 'map 0x10000 0x1000' >"$MNT/ctl"
}

# A sticky directory that every user may write in, as /tmp.
shared_dir() {
	SHARED=$BATS_TEST_TMPDIR/shared
	mkdir -m 1777 "$SHARED"
	open_path
}

@test "--state in a shared directory refuses a temp file another user planted, and leaves it alone" {
	other_user
	shared_dir
	as_other sh -c "echo mine > '$SHARED/s.snap.tmp'"
	run "$GMEMFS" -f --state "$SHARED/s.snap" "$BATS_TEST_TMPDIR/none"
	[ "$status" = 1 ]
	[[ $output == *"s.snap.tmp exists and is not a file of ours"* ]]
	[ "$(cat "$SHARED/s.snap.tmp")" = mine ]
	[ ! -e "$SHARED/s.snap" ]
}

@test "--state: a temp file planted while the daemon runs is refused at the end, and FILE stays as it was" {
	other_user
	shared_dir
	mount_guest --state "$SHARED/s.snap"
	echo 'map 0x10000 0x1000' >"$MNT/ctl"
	fusermount3 -u "$MNT"
	wait_daemon
	[ "$daemon_status" = 0 ]
	cp "$SHARED/s.snap" "$BATS_TEST_TMPDIR/before.snap"
	mount_guest --state "$SHARED/s.snap"
	as_other sh -c "echo mine > '$SHARED/s.snap.tmp'"
	echo 'map 0x20000 0x1000' >"$MNT/ctl"
	fusermount3 -u "$MNT"
	wait_daemon
	[ "$daemon_status" = 1 ]
	grep -q "not a file of ours" "$GMEMFS_LOG"
	[ "$(cat "$SHARED/s.snap.tmp")" = mine ]
	cmp "$SHARED/s.snap" "$BATS_TEST_TMPDIR/before.snap"
	[ "$(stat -c %U "$SHARED/s.snap")" = root ]
}

@test "--state refuses at once a FILE.lock another user planted" {
	other_user
	shared_dir
	as_other touch "$SHARED/s.snap.lock"
	local t0=$SECONDS
	run "$GMEMFS" -f --state "$SHARED/s.snap" "$BATS_TEST_TMPDIR/none"
	[ "$status" = 1 ]
	[ $((SECONDS - t0)) -le 2 ]
	[[ $output == *"s.snap.lock is not a file of ours"* ]]
}

@test "the state file is made 0600 with O_EXCL, then given FILE's permissions" {
	mount_guest --state "$BATS_TEST_TMPDIR/s.snap"
	unmount_guest
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/s.snap")" = 600 ]
	chmod 640 "$BATS_TEST_TMPDIR/s.snap"
	mount_guest --state "$BATS_TEST_TMPDIR/s.snap"
	unmount_guest
	[ "$(stat -c %a "$BATS_TEST_TMPDIR/s.snap")" = 640 ]
}

@test "--state through a link that points at nothing yet writes where it points, and the link stays" {
	ln -s real.snap "$BATS_TEST_TMPDIR/link.snap"
	mount_guest --state "$BATS_TEST_TMPDIR/link.snap"
	echo 'map 0x10000 0x1000' >"$MNT/ctl"
	unmount_guest
	[ -L "$BATS_TEST_TMPDIR/link.snap" ]
	[ -f "$BATS_TEST_TMPDIR/real.snap" ]
	"$GMEM" snapshot info "$BATS_TEST_TMPDIR/real.snap" | grep -q '^0000000000010000-'
}
