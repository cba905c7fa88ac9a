#!/usr/bin/env bats
# gmem snapshot info and diff (SPEC §5, §6): snapshot files exported from a
# mount (snapshots/NAME), described and compared without one.

load helpers

bats_require_minimum_version 1.5.0

setup() {
	cd "$BATS_TEST_TMPDIR"
}

teardown() {
	unmount_guest
}

# save_to NAME FILE: save the guest as NAME and export it to FILE.
save_to() {
	echo "$1" >"$MNT/save"
	cp "$MNT/snapshots/$1" "$2"
}

# flip_byte FILE HEX: flip the low bit of the first byte of the first
# occurrence of the bytes HEX in FILE.
flip_byte() {
	python3 -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.find(bytes.fromhex(sys.argv[2]))
assert i >= 0, "pattern not found"
b[i] ^= 1
open(sys.argv[1], "wb").write(b)
' "$1" "$2"
}

# trailer FILE: the CRC in FILE's last 4 bytes, as 0x%08x.
trailer() {
	printf '0x%08x' "0x$(od -An -tx4 -j $(($(stat -c %s "$1") - 4)) "$1" | tr -d ' ')"
}

# regs_text: every register of regs/ as `NAME VALUE`, once: the aliases pc
# and sp share their register's inode and are left out (on arm they are
# the registers themselves).
regs_text() {
	local -A name_of
	local f ino
	for f in "$MNT"/regs/*; do
		ino=$(stat -c %i "$f")
		case ${f##*/} in
		pc | sp) [ -n "${name_of[$ino]-}" ] || name_of[$ino]=${f##*/} ;;
		*) name_of[$ino]=${f##*/} ;;
		esac
	done
	for f in "${name_of[@]}"; do
		printf '%s %s\n' "$f" "$(cat "$MNT/regs/$f")"
	done
}

# file_regs FILE: the register names in FILE's own order (the table's), as
# its bytes hold them after the 48-byte header.
file_regs() {
	python3 -c '
import struct, sys
b = open(sys.argv[1], "rb").read()
off = 48
for _ in range(struct.unpack_from("<I", b, 44)[0]):
    n = b[off]
    print(b[off + 1:off + 1 + n].decode())
    off += 1 + n + 8
' "$1"
}

# same_text GOT EXPECTED: the two texts are equal, else show the diff.
same_text() {
	[ "$1" = "$2" ] && return 0
	diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$1") >&2
	return 1
}

@test "info of a fresh guest's snapshot: header, maps and regs/ exactly" {
	mount_guest
	save_to a a.snap
	run --separate-stderr "$GMEM" snapshot info a.snap
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	same_text "$(head -n 9 <<<"$output")" "file a.snap
format 1
arch x86_64
page_size 0x1000
regions 1
mapped_bytes 0x21000
stored_bytes 0x0
registers 26
checksum ok $(trailer a.snap)"
	same_text "$(sed -n 10p <<<"$output")" "$(cat "$MNT/maps")"
	# The registers in the table's order, with the values of regs/.
	same_text "$(tail -n +11 <<<"$output" | cut -d' ' -f1)" "$(file_regs a.snap)"
	[ "$(sed -n 11p <<<"$output")" = "eflags 0x2" ]
	same_text "$(tail -n +11 <<<"$output" | sort)" "$(regs_text | sort)"
	[ "${#lines[@]}" -eq $((9 + 1 + 26)) ]
}

@test "info lists regions, stored bytes and registers as the daemon shows them" {
	mount_guest
	"$GMEM" map 0x10000 0x4000 rw- heap
	"$GMEM" map 0x20000 0x2000 r-x code
	"$GMEM" write 0x11000 41
	"$GMEM" write 0x13fff 42
	"$GMEM" reg rax 0x1234
	echo 0xdeadbeef >"$MNT/regs/r15"
	"$GMEM" stack push 0x41
	save_to a a.snap
	run --separate-stderr "$GMEM" snapshot info a.snap
	[ "$status" -eq 0 ]
	[ "${lines[4]}" = "regions 3" ]
	[ "${lines[4]}" = "regions $(sed -n 's/^regions //p' "$MNT/info")" ]
	[ "${lines[5]}" = "mapped_bytes 0x27000" ]
	[ "${lines[5]}" = "$(grep '^mapped_bytes ' "$MNT/info")" ]
	[ "${lines[6]}" = "stored_bytes 0x3000" ] # two heap pages, one stack
	same_text "$(sed -n '10,12p' <<<"$output")" "$(cat "$MNT/maps")"
	same_text "$(tail -n +13 <<<"$output" | sort)" "$(regs_text | sort)"
	[[ "$output" == *$'\nrax 0x1234\n'* ]]
	[[ "$output" == *$'\nr15 0xdeadbeef\n'* ]]
	[[ "$output" == *$'\nrsp 0x7fffffffeff8\n'* ]]
}

@test "info escapes labels with odd bytes exactly as maps does" {
	mount_guest
	"$GMEM" map 0x10000 0x1000 rw- $'a b\\c\x01\x7f\xc3\xa9"\t'
	setfattr -n user.label -v '' "$MNT/regions/00007ffffffde000-00007ffffffff000"
	save_to a a.snap
	run "$GMEM" snapshot info a.snap
	[ "$status" -eq 0 ]
	same_text "$(sed -n '10,11p' <<<"$output")" "$(cat "$MNT/maps")"
	[ "${lines[9]}" = '0000000000010000-0000000000011000 rw- a b\\c\x01\x7f\xc3\xa9"\x09' ]
	[ "${lines[10]}" = '00007ffffffde000-00007ffffffff000 rw- ' ]
}

@test "info of a 32-bit guest pads addresses to 8 digits, as maps does" {
	mount_guest --arch arm
	"$GMEM" map 0x400 0x400 r-x code
	save_to a a.snap
	run "$GMEM" snapshot info a.snap
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "arch arm" ]
	[ "${lines[3]}" = "page_size 0x400" ]
	same_text "$(sed -n '10,11p' <<<"$output")" "$(cat "$MNT/maps")"
	[ "${lines[9]}" = "00000400-00000800 r-x code" ]
	same_text "$(tail -n +12 <<<"$output" | sort)" "$(regs_text | sort)"
}

@test "info reads a snapshot straight from the mount's snapshots/" {
	mount_guest
	echo a >"$MNT/save"
	cp "$MNT/snapshots/a" a.snap
	diff <("$GMEM" snapshot info "$MNT/snapshots/a" | tail -n +2) \
		<("$GMEM" snapshot info a.snap | tail -n +2)
}

@test "a flipped data byte: checksum bad, the listing still printed, exit 1" {
	mount_guest
	"$GMEM" map 0x10000 0x1000 rw- data
	"$GMEM" write 0x10800 deadbeef
	save_to a a.snap
	local good crc
	good=$("$GMEM" snapshot info a.snap)
	crc=$(trailer a.snap)
	flip_byte a.snap deadbeef
	run --separate-stderr "$GMEM" snapshot info a.snap
	[ "$status" -eq 1 ]
	[ "$stderr" = "gmem: a.snap: the checksum does not match (the file is damaged)" ]
	[[ "${lines[8]}" =~ ^checksum\ bad\ stored\ $crc\ computed\ 0x[0-9a-f]{8}$ ]]
	[ "${lines[8]}" != "checksum bad stored $crc computed $crc" ]
	# Everything else is as before: the flip is in the bytes.
	same_text "$(sed 9d <<<"$output")" "$(sed 9d <<<"$good")"
}

@test "a file that is no snapshot: gmem: FILE: MESSAGE on stderr, exit 1" {
	mount_guest
	save_to a a.snap
	unmount_guest
	echo garbage >garbage.snap
	run --separate-stderr "$GMEM" snapshot info garbage.snap
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = 'gmem: garbage.snap: not a valid snapshot: it does not start with "GMEMSNAP" (at byte 0)' ]
	head -c 100 a.snap >cut.snap
	run --separate-stderr "$GMEM" snapshot info cut.snap
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[[ "$stderr" == "gmem: cut.snap: not a valid snapshot: the file ends inside "* ]]
	: >empty.snap
	run --separate-stderr "$GMEM" snapshot info empty.snap
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[[ "$stderr" == "gmem: empty.snap: not a valid snapshot: "* ]]
}

@test "diff of a file with itself, or of two saves of one state, prints nothing and exits 0" {
	mount_guest
	"$GMEM" map 0x10000 0x4000 rw- heap
	"$GMEM" write 0x10000 0102
	save_to a a.snap
	save_to b b.snap
	run --separate-stderr "$GMEM" snapshot diff a.snap a.snap
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
	run --separate-stderr "$GMEM" snapshot diff a.snap b.snap
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
}

@test "diff lists a write, map, unmap, protect, label change and register write in address order" {
	mount_guest
	"$GMEM" map 0x10000 0x4000 rw- heap
	"$GMEM" map 0x14000 0x1000 rw- next
	"$GMEM" map 0x20000 0x2000 r-x code
	"$GMEM" map 0x30000 0x1000 rw- gone
	"$GMEM" write 0x10000 00112233
	"$GMEM" reg rax 1
	save_to a a.snap
	"$GMEM" write 0x10000 00112299     # one byte of four changes
	"$GMEM" write 0x10ffe 01020304     # across a page
	"$GMEM" write 0x13ffe 11223344     # across two regions: one range
	"$GMEM" write 0x7fffffffeff8 41    # the stack's last page
	"$GMEM" map 0x40000 0x1000 rw- new
	"$GMEM" unmap 0x30000 0x1000
	"$GMEM" protect 0x20000 0x2000 rwx
	setfattr -n user.label -v 'heap 2' "$MNT/regions/0000000000010000-0000000000014000"
	"$GMEM" reg rax 2
	echo 0x77 >"$MNT/regs/rbx"
	save_to b b.snap
	run --separate-stderr "$GMEM" snapshot diff a.snap b.snap
	[ "$status" -eq 1 ]
	[ "$stderr" = "" ]
	same_text "$output" "~ 0000000000010000-0000000000014000 rw- heap -> rw- heap 2
bytes 0000000000010003-0000000000010004
bytes 0000000000010ffe-0000000000011002
bytes 0000000000013ffe-0000000000014002
~ 0000000000020000-0000000000022000 r-x code -> rwx code
- 0000000000030000-0000000000031000 rw- gone
+ 0000000000040000-0000000000041000 rw- new
bytes 00007fffffffeff8-00007fffffffeff9
reg rax 0x1 0x2
reg rbx 0x0 0x77"
	# The other way round, every line turns over.
	run "$GMEM" snapshot diff b.snap a.snap
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "~ 0000000000010000-0000000000014000 rw- heap 2 -> rw- heap" ]
	[ "${lines[5]}" = "+ 0000000000030000-0000000000031000 rw- gone" ]
	[ "${lines[6]}" = "- 0000000000040000-0000000000041000 rw- new" ]
	[ "${lines[9]}" = "reg rbx 0x77 0x0" ]
}

@test "diff shows a split region as the old range gone and its pieces new" {
	mount_guest
	"$GMEM" map 0x10000 0x3000 rw- heap
	save_to a a.snap
	"$GMEM" protect 0x11000 0x1000 r--
	save_to b b.snap
	run "$GMEM" snapshot diff a.snap b.snap
	[ "$status" -eq 1 ]
	same_text "$output" "- 0000000000010000-0000000000013000 rw- heap
+ 0000000000010000-0000000000011000 rw- heap
+ 0000000000011000-0000000000012000 r-- heap
+ 0000000000012000-0000000000013000 rw- heap"
}

@test "diff of a 1 GiB region compares stored pages only, to the byte" {
	mount_guest
	"$GMEM" map 0x100000000 1g rw- big
	"$GMEM" write 0x100000000 01
	save_to a a.snap
	"$GMEM" write 0x100000000 00
	"$GMEM" write 0x13ffffffe ffff
	save_to b b.snap
	[ "$(stat -c %s b.snap)" -lt 100000 ]
	run "$GMEM" snapshot diff a.snap b.snap
	[ "$status" -eq 1 ]
	same_text "$output" "bytes 0000000100000000-0000000100000001
bytes 000000013ffffffe-0000000140000000"
}

@test "diff of snapshots of different architectures says so and exits 2" {
	mount_guest
	save_to a x86.snap
	unmount_guest
	mount_guest --arch arm
	save_to a arm.snap
	run --separate-stderr "$GMEM" snapshot diff x86.snap arm.snap
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "$stderr" = "gmem: x86.snap is a snapshot of x86_64 and arm.snap one of arm: different architectures" ]
}

@test "diff refuses a file with a bad checksum or no snapshot, exit 2" {
	mount_guest
	"$GMEM" map 0x10000 0x1000 rw- data
	"$GMEM" write 0x10800 deadbeef
	save_to a a.snap
	cp a.snap bad.snap
	flip_byte bad.snap deadbeef
	run --separate-stderr "$GMEM" snapshot diff a.snap bad.snap
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "$stderr" = "gmem: bad.snap: not a valid snapshot: the checksum does not match (the file is damaged or cut short)" ]
	echo garbage >garbage.snap
	run --separate-stderr "$GMEM" snapshot diff garbage.snap a.snap
	[ "$status" -eq 2 ]
	[[ "$stderr" == "gmem: garbage.snap: not a valid snapshot: "* ]]
}

@test "without a mount: no file, a directory, a FIFO are refused with a message" {
	export GMEMFS_MOUNT=/nonexistent
	run --separate-stderr "$GMEM" snapshot info nope.snap
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "gmem: nope.snap: No such file or directory" ]
	mkdir dir
	run --separate-stderr "$GMEM" snapshot info dir
	[ "$status" -eq 1 ]
	[ "$stderr" = "gmem: dir: not a regular file" ]
	mkfifo fifo
	run --separate-stderr timeout 10 "$GMEM" snapshot info fifo
	[ "$status" -eq 1 ]
	[ "$stderr" = "gmem: fifo: not a regular file" ]
	run --separate-stderr "$GMEM" snapshot diff nope.snap dir
	[ "$status" -eq 2 ]
	[ "$stderr" = "gmem: nope.snap: No such file or directory" ]
	run --separate-stderr "$GMEM" snapshot diff /dev/null nope.snap
	[ "$status" -eq 2 ]
	[ "$stderr" = "gmem: /dev/null: not a regular file" ]
}

@test "snapshot usage errors exit 2 with the usage" {
	local usage="usage: gmem [-C MOUNTPOINT] VERB [ARGS...]
       gmem stack
       gmem snapshot info FILE
       gmem snapshot diff FILE1 FILE2
       gmem snapshot core FILE > OUT
       gmem help [VERB] | -h | --help | -V | --version"
	run --separate-stderr "$GMEM" snapshot
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "$stderr" = "gmem: snapshot needs info, diff or core
$usage" ]
	run --separate-stderr "$GMEM" snapshot show a.snap
	[ "$status" -eq 2 ]
	[ "$stderr" = "gmem: snapshot needs info, diff or core
$usage" ]
	run --separate-stderr "$GMEM" snapshot info
	[ "$status" -eq 2 ]
	[ "$stderr" = "gmem: snapshot info takes one FILE
$usage" ]
	run --separate-stderr "$GMEM" snapshot info a b
	[ "$status" -eq 2 ]
	run --separate-stderr "$GMEM" snapshot diff a.snap
	[ "$status" -eq 2 ]
	[ "$stderr" = "gmem: snapshot diff takes two FILEs
$usage" ]
	# -h is help, not an error: the same usage on stdout, exit 0
	run --separate-stderr "$GMEM" -h
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$(printf '%s\n' "${lines[@]:0:6}")" = "$usage" ]
}
