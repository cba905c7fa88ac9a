#!/usr/bin/env bats
# snapshots/NAME as files (SPEC §5): reading one exports it in the snapshot
# file format, writing a new one imports it at close(), and anything that
# is not a valid snapshot of this guest is refused at close() with EINVAL,
# leaving no snapshot behind.

load helpers

teardown() {
	unmount_guest
}

# import SRC NAME: copy the file SRC to snapshots/NAME in one open, the way
# cp does, and print OK or the errno name of the call that failed (the
# close, for a file that is not a snapshot).
import() {
	python3 -c '
import errno, os, sys
data = open(sys.argv[1], "rb").read()
try:
    fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.write(fd, data)
    os.close(fd)
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
' "$1" "$MNT/snapshots/$2"
}

# A guest with something of everything a snapshot must keep: regions of
# every permission, adjacent regions, a label with odd bytes, scattered
# bytes, registers.
shape_guest() {
	ask ctl 'map 0x400000 0x3000 r-x code' >/dev/null
	ask ctl 'map 0x403000 0x1000 rw- data' >/dev/null
	ask ctl 'map 0x500000 0x1000 --- "odd \x01\xff label"' >/dev/null
	ask ctl 'map 0x600000 0x2000 -w-' >/dev/null
	ask ctl 'write 0x400ffe 11223344' >/dev/null
	ask ctl 'write 0x403abc 5566' >/dev/null
	ask ctl 'write 0x7fffffffeff0 77' >/dev/null
	echo 0x1234 >"$MNT/regs/rax"
	echo 0x400100 >"$MNT/regs/rip"
}

# save_and_export: save the guest as snapshot a and copy its file out to
# $BATS_TEST_TMPDIR/a.snap.
save_and_export() {
	echo a >"$MNT/save"
	cp "$MNT/snapshots/a" "$BATS_TEST_TMPDIR/a.snap"
}

# Change every part of it, so that a restore has work to do everywhere.
change_guest() {
	ask ctl 'write 0x400ffe ffffffff' >/dev/null
	ask ctl 'unmap 0x500000 0x1000' >/dev/null
	ask ctl 'protect 0x401000 0x1000 rwx' >/dev/null
	ask ctl 'map 0x900000 0x1000 rw- new' >/dev/null
	setfattr -n user.label -v renamed "$MNT/regions/0000000000403000-0000000000404000"
	echo 0 >"$MNT/regs/rax"
}

@test "cp of snapshots/NAME exports a file of exactly its st_size, in the snapshot format" {
	mount_guest
	shape_guest
	save_and_export
	[ "$(stat -c %s "$MNT/snapshots/a")" = "$(stat -c %s "$BATS_TEST_TMPDIR/a.snap")" ]
	[ "$(wc -c <"$MNT/snapshots/a")" = "$(stat -c %s "$MNT/snapshots/a")" ]
	# magic, version 1, no flags, the architecture
	[ "$(head -c 22 "$BATS_TEST_TMPDIR/a.snap" | xxd -p)" = \
		474d454d534e415001000000000000007838365f3634 ]
	# the same snapshot exports the same bytes every time
	cmp "$MNT/snapshots/a" "$BATS_TEST_TMPDIR/a.snap"
}

@test "an exported snapshot imports under another name and restores exactly: maps, bytes, permissions, labels, registers" {
	mount_guest
	shape_guest
	local saved
	saved=$(guest_state)
	save_and_export
	rm "$MNT/snapshots/a"
	change_guest
	[ "$(guest_state)" != "$saved" ]
	cp "$BATS_TEST_TMPDIR/a.snap" "$MNT/snapshots/b"
	[ "$(ls "$MNT/snapshots")" = b ]
	cmp "$MNT/snapshots/b" "$BATS_TEST_TMPDIR/a.snap"
	echo b >"$MNT/restore"
	[ "$(guest_state)" = "$saved" ]
	grep -qx 'import snapshots/b -> ok' "$MNT/log"
}

@test "a snapshot exported from one daemon restores exactly in another" {
	mount_guest
	shape_guest
	local saved
	saved=$(guest_state)
	save_and_export
	unmount_guest
	mount_guest
	[ "$(guest_state)" != "$saved" ]
	[ "$(import "$BATS_TEST_TMPDIR/a.snap" a)" = OK ]
	echo a >"$MNT/restore"
	[ "$(guest_state)" = "$saved" ]
}

@test "an import written in small pieces, or out of order, is the same snapshot" {
	mount_guest
	shape_guest
	save_and_export
	dd if="$BATS_TEST_TMPDIR/a.snap" of="$MNT/snapshots/pieces" bs=100 status=none
	python3 -c '
import os, sys
data = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
for off in reversed(range(0, len(data), 1000)):
    os.pwrite(fd, data[off:off + 1000], off)
os.close(fd)
' "$BATS_TEST_TMPDIR/a.snap" "$MNT/snapshots/backwards"
	cmp "$MNT/snapshots/pieces" "$BATS_TEST_TMPDIR/a.snap"
	cmp "$MNT/snapshots/backwards" "$BATS_TEST_TMPDIR/a.snap"
}

# refused FILE: importing FILE as snapshots/x fails at close() with EINVAL,
# leaves the snapshots as they were, and the log says why (REASON).
refused() {
	local before
	before=$(ls "$MNT/snapshots")
	run import "$1" x
	[ "$output" = EINVAL ] || {
		echo "import of $1: $output, expected EINVAL" >&2
		return 1
	}
	[ "$(ls "$MNT/snapshots")" = "$before" ]
	[ ! -e "$MNT/snapshots/x" ]
	tail -n 1 "$MNT/log" | grep -q "^import snapshots/x -> error: .*$2" || {
		echo "log: $(tail -n 1 "$MNT/log"), expected $2" >&2
		return 1
	}
}

@test "garbage, a truncated file and a flipped bit are each refused at close() with EINVAL, leaving nothing" {
	mount_guest
	shape_guest
	save_and_export
	local snap=$BATS_TEST_TMPDIR/a.snap size
	size=$(stat -c %s "$snap")
	head -c 5000 /dev/urandom >"$BATS_TEST_TMPDIR/garbage"
	refused "$BATS_TEST_TMPDIR/garbage" 'does not start with "GMEMSNAP"'
	head -c $((size - 1)) "$snap" >"$BATS_TEST_TMPDIR/cut"
	refused "$BATS_TEST_TMPDIR/cut" 'checksum does not match'
	head -c 100 "$snap" >"$BATS_TEST_TMPDIR/cut"
	refused "$BATS_TEST_TMPDIR/cut" 'checksum does not match'
	# a bit of the data (the byte 0x44 written at 0x401001)
	python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.index(bytes.fromhex("11223344"))
b[i + 3] ^= 0x10
open(sys.argv[2], "wb").write(b)
' "$snap" "$BATS_TEST_TMPDIR/flipped"
	refused "$BATS_TEST_TMPDIR/flipped" 'checksum does not match'
	[ "$(ls "$MNT/snapshots")" = a ]
}

@test "a snapshot of another architecture is refused at close() with EINVAL" {
	mount_guest --arch arm
	echo a >"$MNT/save"
	cp "$MNT/snapshots/a" "$BATS_TEST_TMPDIR/arm.snap"
	unmount_guest
	mount_guest
	refused "$BATS_TEST_TMPDIR/arm.snap" 'arm, not x86_64'
	[ -z "$(ls "$MNT/snapshots")" ]
}

@test "a refused import over an existing snapshot leaves it unchanged" {
	mount_guest
	shape_guest
	save_and_export
	head -c 3000 /dev/urandom >"$BATS_TEST_TMPDIR/garbage"
	[ "$(import "$BATS_TEST_TMPDIR/garbage" a)" = EINVAL ]
	cmp "$MNT/snapshots/a" "$BATS_TEST_TMPDIR/a.snap"
	# and a valid one replaces it
	change_guest
	echo b >"$MNT/save"
	[ "$(import "$MNT/snapshots/b" a)" = OK ]
	cmp "$MNT/snapshots/a" "$MNT/snapshots/b"
}

@test "a saved snapshot is replaced whole: writing without O_TRUNC is EACCES" {
	mount_guest
	echo a >"$MNT/save"
	cp "$MNT/snapshots/a" "$BATS_TEST_TMPDIR/a.snap"
	run python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    os.pwrite(fd, b"x", 100)
except PermissionError:
    print("EACCES")
os.close(fd)
' "$MNT/snapshots/a"
	[ "$output" = EACCES ]
	cmp "$MNT/snapshots/a" "$BATS_TEST_TMPDIR/a.snap"
	run dd if=/dev/zero of="$MNT/snapshots/a" bs=1 count=1 seek=100 \
		conv=notrunc status=none
	[ "$status" -ne 0 ]
	cmp "$MNT/snapshots/a" "$BATS_TEST_TMPDIR/a.snap"
	run truncate -s 10 "$MNT/snapshots/a"
	[ "$status" -ne 0 ]
}

@test "a 1 GiB guest that is mostly zero exports to a few KiB and restores exactly" {
	mount_guest --no-stack --map 0x10000000:1g:rw-:big
	local off
	for off in 0 0x1234 0x3ffff000 0x20000010 0x12345678; do
		ask ctl "write $((0x10000000 + off)) 0badf00d" >/dev/null
	done
	echo big >"$MNT/save"
	local size
	size=$(stat -c %s "$MNT/snapshots/big")
	echo "# 1 GiB guest, snapshot file of $size bytes" >&3
	[ "$size" -lt $((4 * 1024 * 1024)) ]
	cp "$MNT/snapshots/big" "$BATS_TEST_TMPDIR/big.snap"
	unmount_guest
	mount_guest --no-stack
	[ "$(import "$BATS_TEST_TMPDIR/big.snap" big)" = OK ]
	echo big >"$MNT/restore"
	maps_are '0000000010000000-0000000050000000 rw- big'
	for off in 0 0x1234 0x3ffff000 0x20000010 0x12345678; do
		bytes_are $((0x10000000 + off)) 0badf00d
	done
	[ "$(bytes_at 0x10000004 4)" = 00000000 ]
}

@test "a name that cannot be a snapshot's is refused at create (EINVAL)" {
	mount_guest
	run python3 -c '
import os, sys
try:
    os.open(sys.argv[1] + "/snapshots/a\nb", os.O_WRONLY | os.O_CREAT)
except OSError as e:
    print(e.errno == 22)
' "$MNT"
	[ "$output" = True ]
}

@test "an open snapshot file reads the same bytes at any offset, also after the snapshot is replaced or dropped" {
	mount_guest
	shape_guest
	ask ctl 'map 0x10000000 0x100000 rw- big' >/dev/null
	head -c 1M /dev/urandom >"$MNT/regions/0000000010000000-0000000010100000"
	save_and_export
	run python3 -c '
import os, random, sys
want = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_RDONLY)
def check(tag):
    rnd = random.Random(7)
    for _ in range(300):
        off = rnd.randrange(len(want) + 10)
        n = rnd.choice([1, 3, 100, 4096, 5000, 200000, 2 << 20])
        if os.pread(fd, n, off) != want[off:off + n]:
            print(tag, "differs at", off, n)
            sys.exit(1)
check("open")
with open(sys.argv[3] + "/save", "w") as f:
    f.write("a\n")            # replaced by another save of the name
os.unlink(sys.argv[3] + "/snapshots/a")
with open(sys.argv[3] + "/save", "w") as f:
    f.write("b\n")            # and its memory maybe reused
check("dropped")
print("same")
' "$BATS_TEST_TMPDIR/a.snap" "$MNT/snapshots/a" "$MNT"
	[ "$output" = same ]
	[ "$(ls "$MNT/snapshots")" = b ]
}

@test "a file being written can be cut and written again; past what an import may hold is EFBIG" {
	mount_guest
	shape_guest
	save_and_export
	run python3 -c '
import errno, os, sys
data = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, b"junk" * 100000)  # longer than the file
os.ftruncate(fd, 0)
os.pwrite(fd, data, 0)
try:
    os.pwrite(fd, b"x", 1 << 50)
except OSError as e:
    print(errno.errorcode[e.errno])
os.close(fd)
print("closed")
' "$BATS_TEST_TMPDIR/a.snap" "$MNT/snapshots/b"
	[ "$output" = "$(printf 'EFBIG\nclosed')" ]
	cmp "$MNT/snapshots/b" "$BATS_TEST_TMPDIR/a.snap"
}
