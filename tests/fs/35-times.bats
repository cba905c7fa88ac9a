#!/usr/bin/env bats
# Timestamps that mean something (SPEC §3): a region file's mtime moves when
# its bytes, mapping or protection change by any path; a snapshot's is its
# save or import time; maps, info and the directories move when what they
# list changes.

load helpers

teardown() {
	unmount_guest
}

R1=0000000000010000-0000000000012000
R2=0000000000020000-0000000000021000

# mtimes FILE...: the mtimes of the files under $MNT, in ns, one a line.
mtimes() {
	python3 -c '
import os, sys
for f in sys.argv[2:]:
    print(os.stat(os.path.join(sys.argv[1], f)).st_mtime_ns)
' "$MNT" "$@"
}

# moved BEFORE AFTER: each "1" where the line of AFTER is later than BEFORE's.
moved() {
	paste -d' ' <(echo "$1") <(echo "$2") |
		awk '{ printf "%d", ($2 > $1) } END { print "" }'
}

# after CMD...: run CMD, then print which of the watched files moved.
WATCH=(regions/$R1 regions/$R2 maps info regions snapshots mem)
after() {
	local before
	before=$(mtimes "${WATCH[@]}")
	sleep 0.01
	"$@" >/dev/null
	moved "$before" "$(mtimes "${WATCH[@]}")"
}

@test "mtimes move with what changed: bytes, mapping, protection, registers, snapshots" {
	mount_guest
	ask ctl 'map 0x10000 0x2000' >/dev/null
	ask ctl 'map 0x20000 0x1000' >/dev/null
	#                       R1 R2 maps info regions snapshots mem
	[ "$(after ask ctl 'write 0x10010 41')" = 1000001 ]
	[ "$(after sh -c "printf B | dd of='$MNT/mem' bs=1 seek=$((0x20000)) conv=notrunc status=none")" = 0100001 ]
	[ "$(after sh -c "printf C > '$MNT/regions/$R2'")" = 0100001 ]
	[ "$(after chmod 500 "$MNT/regions/$R1")" = 1010001 ]
	chmod 700 "$MNT/regions/$R1"
	[ "$(after ask ctl 'map 0x30000 0x1000')" = 0011101 ]
	[ "$(after ask ctl 'reg rip 0x1234')" = 0001000 ]
	[ "$(after ask save s1)" = 0001010 ]
	[ "$(after cat "$MNT/maps" "$MNT/regions/$R1")" = 0000000 ]
	ask ctl 'unmap 0x30000 0x1000' >/dev/null
	# a restore writes every region back and maps 0x30000 again
	[ "$(after ask ctl 'restore s1')" = 1111101 ]
}

@test "a snapshot's mtime is its save time; rsync -a copies one saved again with the same size" {
	command -v rsync >/dev/null || skip "no rsync (tools/deps installs it)"
	mount_guest
	ask ctl 'map 0x10000 0x1000' >/dev/null
	ask ctl 'write 0x10000 41' >/dev/null
	echo s >"$MNT/save"
	local out=$BATS_TEST_TMPDIR/out t0
	mkdir "$out"
	rsync -a "$MNT/snapshots/s" "$out/"
	cmp "$MNT/snapshots/s" "$out/s"
	t0=$(stat -c %Y "$out/s")
	sleep 1.1
	ask ctl 'write 0x10000 42' >/dev/null
	echo s >"$MNT/save"
	[ "$(stat -c %s "$MNT/snapshots/s")" = "$(stat -c %s "$out/s")" ]
	[ "$(stat -c %Y "$MNT/snapshots/s")" -gt "$t0" ]
	rsync -a "$MNT/snapshots/s" "$out/"
	cmp "$MNT/snapshots/s" "$out/s"
}
