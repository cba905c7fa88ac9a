#!/usr/bin/env bats
# Region files (SPEC §3) with the programs people use on files: dd, xxd,
# cmp, truncate, chmod, rm, getfattr/setfattr, python's mmap, and hexedit
# driven in tmux. Each change is checked through another path (mem, a
# command, maps), so a region file can't just agree with itself.

load helpers
bats_require_minimum_version 1.5.0

# data: 16 KiB rw- at 0x400000; next: the page right after it.
DATA=regions/0000000000400000-0000000000404000
NEXT=regions/0000000000404000-0000000000405000
STACK=regions/00007ffffffde000-00007ffffffff000

setup() {
	mount_guest --map 0x400000:0x4000:rw-:data --map 0x404000:0x1000:rw-:next
	R=$MNT/$DATA
}

teardown() {
	if [ -n "${TMUX_SOCKET-}" ]; then
		tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null || true
	fi
	unmount_guest
}

# maps_line ADDR: the line of maps for the region starting at ADDR (hex,
# 16 digits).
maps_line() {
	grep "^$1-" "$MNT/maps"
}

@test "a region file's size is the region's size" {
	[ "$(stat -c %s "$R")" -eq $((0x4000)) ]
	[ "$(stat -c %s "$MNT/$NEXT")" -eq 4096 ]
	[ "$(stat -c %s "$MNT/$STACK")" -eq $((0x21000)) ]
}

@test "offset 0 of a region file is the region's start" {
	ask ctl "write 0x400000 a1a2a3a4" >/dev/null
	ask ctl "write 0x403ffc b1b2b3b4" >/dev/null
	[ "$(xxd -p -l 4 "$R")" = a1a2a3a4 ]
	[ "$(xxd -p -s 0x3ffc "$R")" = b1b2b3b4 ]
}

@test "dd conv=notrunc writes at an offset and leaves the rest alone" {
	printf 'ABCD' | dd of="$R" bs=1 seek=100 conv=notrunc status=none
	bytes_are 0x400062 0000414243440000
	[ "$(stat -c %s "$R")" -eq $((0x4000)) ]
}

@test "dd conv=notrunc writes whole blocks at block offsets" {
	head -c 8192 /dev/urandom >"$BATS_TEST_TMPDIR/blk"
	dd if="$BATS_TEST_TMPDIR/blk" of="$R" bs=4096 seek=1 conv=notrunc \
		status=none
	bytes_are 0x400ff8 0000000000000000
	[ "$(bytes_at 0x401000 8192)" = "$(xxd -p -c 4096 "$BATS_TEST_TMPDIR/blk")" ]
	bytes_are 0x403000 0000000000000000
}

@test "dd reads a block at an offset" {
	ask ctl "write 0x402000 $(printf '5a%.0s' {1..16})" >/dev/null
	run bash -c 'dd if="$1" bs=16 skip=512 count=1 status=none | xxd -p' _ "$R"
	[ "$output" = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a" ]
}

@test "xxd dumps a region file" {
	ask ctl 'string 0x400010 "hello, guest"' >/dev/null
	run xxd -l 32 "$R"
	[ "$output" = "$(
		cat <<-'EOF'
			00000000: 0000 0000 0000 0000 0000 0000 0000 0000  ................
			00000010: 6865 6c6c 6f2c 2067 7565 7374 0000 0000  hello, guest....
		EOF
	)" ]
}

@test "an xxd -r patch changes only the patched bytes" {
	echo "00000020: dead beef" | xxd -r - "$R"
	bytes_are 0x40001e 0000deadbeef0000
	[ "$(stat -c %s "$R")" -eq $((0x4000)) ]
	[ "$(ask ctl "read 0x400020 4")" = deadbeef ]
}

@test "cmp finds a region file equal to the bytes written into it" {
	head -c $((0x4000)) /dev/urandom >"$BATS_TEST_TMPDIR/all"
	dd if="$BATS_TEST_TMPDIR/all" of="$R" conv=notrunc status=none
	cmp "$BATS_TEST_TMPDIR/all" "$R"
	cmp "$BATS_TEST_TMPDIR/all" <(xxd -p -c 4096 -s 0x400000 -l 0x4000 \
		"$MNT/mem" | xxd -r -p)
}

@test "reads past the end of a region file give EOF" {
	ask ctl "write 0x403ffe 4142" >/dev/null
	run py '
fd = os.open(M + "/" + sys.argv[2], os.O_RDONLY)
print(os.pread(fd, 10, 0x3ffe).hex(), os.pread(fd, 10, 0x4000).hex() or "eof",
      os.pread(fd, 10, 0x9000).hex() or "eof")
os.lseek(fd, 0x3ffe, os.SEEK_SET)
print(os.read(fd, 100).hex(), os.read(fd, 100).hex() or "eof")
' "$DATA"
	[ "$output" = "$(printf '%s\n' '4142 eof eof' '4142 eof')" ]
	[ "$(tail -c 2 "$R" | xxd -p)" = 4142 ]
}

@test "a write that starts at the end of a region file fails ENOSPC" {
	run py '
fd = os.open(M + "/" + sys.argv[2], os.O_WRONLY)
for off in (0x4000, 0x4001, 0x10000):
    try:
        os.pwrite(fd, b"xy", off)
        print("wrote at", hex(off))
    except OSError as e:
        print(en(e))
' "$DATA"
	[ "$output" = "$(printf '%s\n' ENOSPC ENOSPC ENOSPC)" ]
	bytes_are 0x403ffe 00000000
	bytes_are 0x404000 0000
}

@test "a write that crosses the end of a region file is cut short at the end" {
	run py '
fd = os.open(M + "/" + sys.argv[2], os.O_WRONLY)
print(os.pwrite(fd, b"ABCDEF", 0x3ffd))
' "$DATA"
	[ "$output" = 3 ]
	# the adjacent region is untouched
	bytes_are 0x403ffc 0041424300000000
}

@test "echo >> a region file fails ENOSPC and changes nothing" {
	run -1 bash -c 'echo hi >>"$1"' _ "$R"
	bytes_are 0x400000 0000
	bytes_are 0x404000 0000
}

@test "truncating a region file to its size or less changes nothing" {
	ask ctl "write 0x400000 01020304" >/dev/null
	truncate -s 0 "$R"
	truncate -s 100 "$R"
	truncate -s $((0x4000)) "$R"
	[ "$(stat -c %s "$R")" -eq $((0x4000)) ]
	bytes_are 0x400000 01020304
	[ "$(grep -c . "$MNT/maps")" -eq 3 ]
}

@test "truncating a region file past its size fails EFBIG" {
	run py 'os.truncate(M + "/" + sys.argv[2], 0x4001)' "$DATA"
	[ "$status" -eq 1 ]
	[ "$output" = EFBIG ]
	run py 'os.truncate(M + "/" + sys.argv[2], 1 << 40)' "$DATA"
	[ "$output" = EFBIG ]
	[ "$(stat -c %s "$R")" -eq $((0x4000)) ]
	[ "$(maps_line 0000000000400000)" = \
		"0000000000400000-0000000000404000 rw- data" ]
}

@test "cat f > region patches the start of the region" {
	ask ctl "write 0x400000 ffffffffffffffff" >/dev/null
	printf 'new' >"$BATS_TEST_TMPDIR/f"
	cat "$BATS_TEST_TMPDIR/f" >"$R"
	bytes_are 0x400000 6e6577ffffffffff
	[ "$(stat -c %s "$R")" -eq $((0x4000)) ]
}

@test "cat of a file larger than the region fills it and then fails" {
	head -c $((0x4000 + 10)) /dev/urandom >"$BATS_TEST_TMPDIR/big"
	run -1 bash -c 'cat "$1" >"$2"' _ "$BATS_TEST_TMPDIR/big" "$R"
	cmp <(head -c $((0x4000)) "$BATS_TEST_TMPDIR/big") "$R"
	bytes_are 0x404000 0000000000000000
}

@test "a region file's mode is the region's protection in the owner bits" {
	ask ctl "map 0x500000 0x1000 r-x" >/dev/null
	ask ctl "map 0x501000 0x1000 ---" >/dev/null
	ask ctl "map 0x502000 0x1000 -w-" >/dev/null
	run stat -c %A "$R" "$MNT/regions/0000000000500000-0000000000501000" \
		"$MNT/regions/0000000000501000-0000000000502000" \
		"$MNT/regions/0000000000502000-0000000000503000"
	[ "$output" = "$(printf '%s\n' -rw------- -r-x------ ---------- \
		--w-------)" ]
}

@test "chmod on a region file is protect, and maps agrees" {
	chmod 0500 "$R"
	[ "$(stat -c %A "$R")" = -r-x------ ]
	[ "$(maps_line 0000000000400000)" = \
		"0000000000400000-0000000000404000 r-x data" ]
	chmod 0 "$R"
	[ "$(stat -c %A "$R")" = ---------- ]
	[ "$(maps_line 0000000000400000)" = \
		"0000000000400000-0000000000404000 --- data" ]
	chmod u+rwx "$R"
	[ "$(stat -c %A "$R")" = -rwx------ ]
	[ "$(maps_line 0000000000400000)" = \
		"0000000000400000-0000000000404000 rwx data" ]
}

@test "a protect through ctl shows in the region file's mode" {
	ask ctl "protect 0x400000 0x4000 r--" >/dev/null
	[ "$(stat -c %A "$R")" = -r-------- ]
}

@test "writes through a region file ignore the guest's protection" {
	chmod 0400 "$R"
	printf 'RO' | dd of="$R" bs=1 seek=8 conv=notrunc status=none
	bytes_are 0x400008 524f
	chmod 0 "$R"
	printf 'NO' | dd of="$R" bs=1 seek=8 conv=notrunc status=none
	bytes_are 0x400008 4e4f
	[ "$(xxd -p -s 8 -l 2 "$R")" = 4e4f ]
}

@test "rm of a region file unmaps the region" {
	rm "$R"
	[ "$(cut -d' ' -f1 "$MNT/maps")" = "$(printf '%s\n' \
		0000000000404000-0000000000405000 \
		00007ffffffde000-00007ffffffff000)" ]
	run ls "$MNT/regions"
	[ "$output" = "$(printf '%s\n' 0000000000404000-0000000000405000 \
		00007ffffffde000-00007ffffffff000)" ]
	[ "$(ask ctl "is_mapped 0x400000 0x1000")" = false ]
	[ ! -e "$R" ]
}

@test "getfattr reads a region's label as user.label" {
	run --separate-stderr getfattr --only-values -n user.label "$R"
	[ "$output" = data ]
	run --separate-stderr getfattr --only-values -n user.label "$MNT/$STACK"
	[ "$output" = "[stack]" ]
}

@test "getfattr -d lists user.label" {
	run bash -c 'cd "$1" && getfattr -d "$2"' _ "$MNT" "$DATA"
	[ "$output" = "$(printf '%s\n' "# file: $DATA" 'user.label="data"')" ]
}

@test "setfattr -n user.label sets the label that maps shows" {
	setfattr -n user.label -v "my heap" "$R"
	[ "$(maps_line 0000000000400000)" = \
		"0000000000400000-0000000000404000 rw- my heap" ]
	run --separate-stderr getfattr --only-values -n user.label "$R"
	[ "$output" = "my heap" ]
}

@test "a label set through setfattr is escaped in maps" {
	setfattr -n user.label -v 0x610a5c62 "$R"
	[ "$(maps_line 0000000000400000)" = \
		'0000000000400000-0000000000404000 rw- a\x0a\\b' ]
	[ "$(grep -c . "$MNT/maps")" -eq 3 ]
	[ "$(getfattr --only-values -n user.label "$R" | xxd -p)" = 610a5c62 ]
}

@test "an extended attribute other than user.label does not exist" {
	run py 'os.getxattr(M + "/" + sys.argv[2], "user.other")' "$DATA"
	[ "$output" = ENODATA ]
	run py 'os.setxattr(M + "/" + sys.argv[2], "user.other", b"x")' "$DATA"
	[ "$status" -eq 1 ]
	[ "$(maps_line 0000000000400000)" = \
		"0000000000400000-0000000000404000 rw- data" ]
}

@test "a shared writable mmap of a region file writes guest memory" {
	run py '
fd = os.open(M + "/" + sys.argv[2], os.O_RDWR)
m = mmap.mmap(fd, 0x4000, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[0x10:0x14] = b"WXYZ"
m[0x3ffe:0x4000] = b"!!"
m.flush()
print("ok")
' "$DATA"
	[ "$output" = ok ]
	bytes_are 0x400010 5758595a
	[ "$(ask ctl "read 0x400010 4")" = 5758595a ]
	bytes_are 0x403ffe 2121
}

@test "a shared mmap of a region file reads guest memory" {
	ask ctl "write 0x401000 cafebabe" >/dev/null
	run py '
fd = os.open(M + "/" + sys.argv[2], os.O_RDWR)
m = mmap.mmap(fd, 0x4000, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
print(m[0x1000:0x1004].hex())
' "$DATA"
	[ "$output" = cafebabe ]
}

@test "an existing mmap sees a change made through ctl" {
	run py '
fd = os.open(M + "/" + sys.argv[2], os.O_RDWR)
m = mmap.mmap(fd, 0x4000, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
before = m[0x20:0x24].hex()
c = os.open(M + "/ctl", os.O_RDWR)
os.write(c, b"write 0x400020 11223344\n")
os.close(c)
print(before, m[0x20:0x24].hex())
' "$DATA"
	[ "$output" = "00000000 11223344" ]
}

@test "an open reader sees a change made through mem" {
	run py '
fd = os.open(M + "/" + sys.argv[2], os.O_RDONLY)
before = os.pread(fd, 4, 0x100).hex()
mem = os.open(M + "/mem", os.O_RDWR)
os.pwrite(mem, b"\x01\x02\x03\x04", 0x400100)
print(before, os.pread(fd, 4, 0x100).hex())
' "$DATA"
	[ "$output" = "00000000 01020304" ]
	[ "$(xxd -p -s 0x100 -l 4 "$R")" = 01020304 ]
}

@test "an open reader sees a change made through a command" {
	run py '
fd = os.open(M + "/" + sys.argv[2], os.O_RDONLY)
before = os.pread(fd, 8, 0x200).hex()
c = os.open(M + "/ctl", os.O_RDWR)
os.write(c, b"write_ptr 0x400200 0x1122334455667788\n")
print(before, os.pread(fd, 8, 0x200).hex())
' "$DATA"
	[ "$output" = "0000000000000000 8877665544332211" ]
	[ "$(xxd -p -s 0x200 -l 8 "$R")" = 8877665544332211 ]
}

@test "an open reader sees a change made through another region file" {
	ask ctl "map 0x600000 0x1000" >/dev/null
	run py '
fd = os.open(M + "/" + sys.argv[2], os.O_RDONLY)
before = os.pread(fd, 2, 0x300).hex()
mem = os.open(M + "/mem", os.O_RDONLY)
mbefore = os.pread(mem, 2, 0x400300).hex()
w = os.open(M + "/" + sys.argv[2], os.O_WRONLY)
os.pwrite(w, b"\xee\xff", 0x300)
print(before, mbefore, os.pread(fd, 2, 0x300).hex(),
      os.pread(mem, 2, 0x400300).hex())
' "$DATA"
	[ "$output" = "0000 0000 eeff eeff" ]
}

@test "an open reader sees the bytes a restore brings back" {
	ask ctl "write 0x400400 aabbccdd" >/dev/null
	ask ctl "save before" >/dev/null
	ask ctl "write 0x400400 00000000" >/dev/null
	run py '
fd = os.open(M + "/" + sys.argv[2], os.O_RDONLY)
before = os.pread(fd, 4, 0x400).hex()
m = mmap.mmap(fd, 0x4000, mmap.MAP_SHARED, mmap.PROT_READ)
mbefore = m[0x400:0x404].hex()
c = os.open(M + "/ctl", os.O_RDWR)
os.write(c, b"restore before\n")
print(before, mbefore, os.pread(fd, 4, 0x400).hex(), m[0x400:0x404].hex())
' "$DATA"
	[ "$output" = "00000000 00000000 aabbccdd aabbccdd" ]
}

@test "a new reader after a change sees the change (no stale page cache)" {
	[ "$(xxd -p -s 0x500 -l 4 "$R")" = 00000000 ]
	ask ctl "write 0x400500 01010101" >/dev/null
	[ "$(xxd -p -s 0x500 -l 4 "$R")" = 01010101 ]
	printf '\x02\x02' | dd of="$MNT/mem" bs=1 seek=$((0x400500)) \
		conv=notrunc status=none
	[ "$(xxd -p -s 0x500 -l 4 "$R")" = 02020101 ]
}

@test "after a change in one page, a new reader sees later changes in other pages too" {
	# The kernel keeps a closed file's pages; the first change must drop
	# them all, not just its own, or the second one is read stale. Far
	# apart, so that no large folio of the cache holds both.
	local big=$MNT/regions/0000000010000000-0000000010400000
	ask ctl "map 0x10000000 4m rw- big" >/dev/null
	cat "$big" >/dev/null
	ask ctl "write 0x10000000 01" >/dev/null
	ask ctl "write 0x10300000 02" >/dev/null
	[ "$(xxd -p -s 0x300000 -l 1 "$big")" = 02 ]
	[ "$(xxd -p -s 0 -l 1 "$big")" = 01 ]
}

@test "a file open before a split keeps reading and writing the same addresses" {
	ask ctl "write 0x403000 5a5a" >/dev/null
	exec 4<>"$R"
	ask ctl "protect 0x401000 0x1000 r--" >/dev/null
	# The name is gone: the range is three regions now.
	[ ! -e "$R" ]
	[ "$(py 'import os; print(os.fstat(4).st_size)')" = 16384 ]
	[ "$(py 'import os; print(os.pread(4, 2, 0x3000).hex())')" = 5a5a ]
	py 'import os; os.pwrite(4, b"\x77", 0x3001)'
	exec 4>&-
	run ask ctl "read 0x403000 2"
	[ "$output" = 5a77 ]
}

@test "the top page of a 64-bit guest is reached through its region file" {
	ask ctl "map 0xfffffffffffff000 0x1000" >/dev/null
	local top=$MNT/regions/fffffffffffff000-10000000000000000
	[ "$(stat -c %s "$top")" -eq 4096 ]
	printf 'top!' | dd of="$top" bs=1 seek=4092 conv=notrunc status=none
	[ "$(ask ctl "read 0xfffffffffffffffc 4")" = 746f7021 ]
	[ "$(tail -c 4 "$top")" = 'top!' ]
}

@test "hexedit in tmux edits a region file and saves into guest memory" {
	ask ctl "write 0x400000 0011223344" >/dev/null
	TMUX_SOCKET=gmemfs-test-$$
	tmux -L "$TMUX_SOCKET" -f /dev/null new-session -d -x 100 -y 30 \
		"TERM=xterm hexedit '$R'"
	# wait for hexedit to draw the first line of the file
	local i
	for ((i = 0; i < 100; i++)); do
		tmux -L "$TMUX_SOCKET" capture-pane -p | grep -q '^00000000 ' &&
			break
		sleep 0.1
	done
	tmux -L "$TMUX_SOCKET" capture-pane -p | grep -q '^00000000 '
	# the cursor starts on byte 0 in the hex column: overwrite 4 bytes
	tmux -L "$TMUX_SOCKET" send-keys 'c0ffee42'
	sleep 0.2
	# ^X saves and quits; it asks whether to save the changes
	tmux -L "$TMUX_SOCKET" send-keys C-x
	sleep 0.2
	tmux -L "$TMUX_SOCKET" send-keys y
	for ((i = 0; i < 100; i++)); do
		tmux -L "$TMUX_SOCKET" has-session 2>/dev/null || break
		sleep 0.1
	done
	! tmux -L "$TMUX_SOCKET" has-session 2>/dev/null
	bytes_are 0x400000 c0ffee4244
	[ "$(stat -c %s "$R")" -eq $((0x4000)) ]
	[ "$(maps_line 0000000000400000)" = \
		"0000000000400000-0000000000404000 rw- data" ]
}
