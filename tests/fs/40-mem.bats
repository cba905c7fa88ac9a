#!/usr/bin/env bats
# mem (SPEC §2, §3): the whole address space as one file, offset = guest
# address. Reads and writes run across adjacent regions, and stop at an
# unmapped address as /proc/PID/mem does: short count first, then EIO.

load helpers

teardown() {
	unmount_guest
}

@test "mem's size is 2^63-1 on a 64-bit guest" {
	mount_guest
	[ "$(stat -c %s "$MNT/mem")" = 9223372036854775807 ]
}

@test "mem's size is 2^63-1 on arm64 and riscv64 too" {
	mount_guest --arch arm64
	[ "$(stat -c %s "$MNT/mem")" = 9223372036854775807 ]
	unmount_guest
	mount_guest --arch riscv64
	[ "$(stat -c %s "$MNT/mem")" = 9223372036854775807 ]
}

@test "mem's size is 2^32 on a 32-bit guest" {
	local arch
	for arch in x86 arm mips mipsel riscv32; do
		mount_guest --arch "$arch"
		[ "$(stat -c %s "$MNT/mem")" = 4294967296 ] ||
			{ echo "$arch: $(stat -c %s "$MNT/mem")" >&2; return 1; }
		unmount_guest
	done
}

@test "a byte of mem at offset A is the guest's byte at address A" {
	mount_guest
	ask ctl "write 0x7fffffffeff0 0102030405060708" >/dev/null
	[ "$(bytes_at 0x7fffffffeff0 8)" = 0102030405060708 ]
	run py 'print(os.pread(fd, 8, 0x7fffffffeff0).hex())'
	[ "$output" = 0102030405060708 ]
	run bash -c 'dd if="$1" bs=8 skip=$((0x7fffffffeff0 / 8)) count=1 \
		status=none | xxd -p' _ "$MNT/mem"
	[ "$output" = 0102030405060708 ]
}

@test "a write to mem at offset A changes the guest at address A" {
	mount_guest
	run py 'print(os.pwrite(fd, b"\xde\xad\xbe\xef", 0x7ffffffff000 - 4))'
	[ "$output" = 4 ]
	[ "$(ask ctl "read 0x7fffffffeffc 4")" = deadbeef ]
	[ "$(ask ctl "read_ptr 0x7fffffffeffc size=4")" = 0xefbeadde ]
}

@test "dd conv=notrunc into mem writes at the address" {
	mount_guest --map 0x400000:0x1000
	printf 'gmem' | dd of="$MNT/mem" bs=1 seek=$((0x400123)) conv=notrunc \
		status=none
	[ "$(ask ctl "read 0x400122 6")" = 00676d656d00 ]
}

@test "reads and writes of mem run across adjacent regions" {
	mount_guest --no-stack --map 0x400000:0x1000:rw-:a \
		--map 0x401000:0x1000:r--:b --map 0x402000:0x1000:---:c
	run py '
data = b"\x01\x02\x03\x04" + b"\x55" * 0x1000 + b"\x05\x06\x07\x08"
print(os.pwrite(fd, data, 0x400ffc))
r = os.pread(fd, 0x1010, 0x400ff8)
print(len(r), r[:8].hex(), r[8:0x1008] == b"\x55" * 0x1000, r[0x1008:].hex())
'
	[ "$output" = "$(printf '%s\n' 4104 \
		'4112 0000000001020304 True 0506070800000000')" ]
	[ "$(xxd -p -s 0xffc "$MNT/regions/0000000000400000-0000000000401000")" = 01020304 ]
	[ "$(xxd -p -l 4 "$MNT/regions/0000000000402000-0000000000403000")" = 05060708 ]
	cmp <(head -c 4096 /dev/zero | tr '\0' U) \
		"$MNT/regions/0000000000401000-0000000000402000"
}

@test "a read of mem that reaches unmapped memory returns what was mapped, then EIO" {
	mount_guest --no-stack --map 0x400000:0x1000
	ask ctl "write 0x400ff8 1122334455667788" >/dev/null
	run py '
print(tryit(os.pread, fd, 16, 0x400ff8))
print(tryit(os.pread, fd, 16, 0x401000))
os.lseek(fd, 0x400ffc, os.SEEK_SET)
print(tryit(os.read, fd, 64))
print(tryit(os.read, fd, 64))
'
	[ "$output" = "$(printf '%s\n' 1122334455667788 EIO 55667788 EIO)" ]
}

@test "a read of mem at an unmapped address fails EIO at once" {
	mount_guest
	run py '
print(tryit(os.pread, fd, 16, 0))
print(tryit(os.pread, fd, 1, 0x7ffffffdd000))
print(tryit(os.pread, fd, 1, 0x7ffffffff000))
'
	[ "$output" = "$(printf '%s\n' EIO EIO EIO)" ]
	run cat "$MNT/mem"
	[ "$status" -ne 0 ]
}

@test "a read of mem stops at a hole between two regions" {
	mount_guest --no-stack --map 0x400000:0x1000 --map 0x402000:0x1000
	run py '
print(len(os.pread(fd, 0x3000, 0x400000)))
print(tryit(os.pread, fd, 4, 0x401ffe))
print(len(os.pread(fd, 0x3000, 0x402000)))
'
	[ "$output" = "$(printf '%s\n' 4096 EIO 4096)" ]
}

@test "a write to mem that reaches unmapped memory writes what was mapped, then EIO" {
	mount_guest --no-stack --map 0x400000:0x1000 --map 0x402000:0x1000
	run py '
print(tryit(os.pwrite, fd, b"ABCDEFGHIJKLMNOP", 0x400ffa))
print(tryit(os.pwrite, fd, b"QRST", 0x401000))
print(tryit(os.pwrite, fd, b"QRST", 0x401ffe))
'
	[ "$output" = "$(printf '%s\n' 6 EIO EIO)" ]
	[ "$(bytes_at 0x400ff8 8)" = 0000414243444546 ]
	[ "$(bytes_at 0x402000 4)" = 00000000 ]
	[ "$(cut -d' ' -f1 "$MNT/maps")" = "$(printf '%s\n' \
		0000000000400000-0000000000401000 \
		0000000000402000-0000000000403000)" ]
}

@test "mem on a 32-bit guest ends at 2^32: a read at the top page stops at EOF" {
	mount_guest --arch x86 --no-stack --map 0xfffff000:0x1000
	ask ctl "write 0xfffffffc 61626364" >/dev/null
	run py '
print(tryit(os.pread, fd, 16, 0xfffffffc))
print(tryit(os.pread, fd, 16, 0x100000000) or "eof")
'
	[ "$output" = "$(printf '%s\n' 61626364 eof)" ]
}

@test "a region file sees writes through mem, and mem sees writes through a region file" {
	mount_guest --map 0x400000:0x2000
	local R=$MNT/regions/0000000000400000-0000000000402000
	run py '
r = os.open(sys.argv[2], os.O_RDWR)
b1 = os.pread(r, 4, 0x1000).hex()
b2 = os.pread(fd, 4, 0x400010).hex()
os.pwrite(fd, b"\x01\x02\x03\x04", 0x401000)
os.pwrite(r, b"\x05\x06\x07\x08", 0x10)
print(b1, b2, os.pread(r, 4, 0x1000).hex(), os.pread(fd, 4, 0x400010).hex())
' "$R"
	[ "$output" = "00000000 00000000 01020304 05060708" ]
	[ "$(xxd -p -s 0x1000 -l 4 "$R")" = 01020304 ]
	[ "$(bytes_at 0x400010 4)" = 05060708 ]
}

@test "mem shows a region mapped, unmapped or restored after it was opened" {
	mount_guest --no-stack
	run py '
c = os.open(M + "/ctl", os.O_RDWR)
a = tryit(os.pread, fd, 4, 0x400000)
os.write(c, b"map 0x400000 0x1000\n")
os.write(c, b"write 0x400000 0a0b0c0d\n")
b = tryit(os.pread, fd, 4, 0x400000)
os.write(c, b"save s\n")
os.write(c, b"unmap 0x400000 0x1000\n")
d = tryit(os.pread, fd, 4, 0x400000)
os.write(c, b"restore s\n")
e = tryit(os.pread, fd, 4, 0x400000)
print(a, b, d, e)
'
	[ "$output" = "EIO 0a0b0c0d EIO 0a0b0c0d" ]
}

@test "writes through mem ignore the guest's protection" {
	mount_guest --no-stack --map 0x400000:0x1000:r-x --map 0x401000:0x1000:---
	run py 'print(os.pwrite(fd, b"\x90\x90\xc3\xcc", 0x400ffe))'
	[ "$output" = 4 ]
	[ "$(bytes_at 0x400ffe 4)" = 9090c3cc ]
}

@test "SEEK_DATA and SEEK_HOLE on mem give the mapped ranges; st_size stays the address space" {
	mount_guest
	ask ctl 'map 0x10000 0x2000' >/dev/null
	ask ctl 'map 0x12000 0x1000 r--' >/dev/null
	ask ctl 'map 0x20000 0x1000' >/dev/null
	run py '
D, H = os.SEEK_DATA, os.SEEK_HOLE
out = [tryit(os.lseek, fd, o, w) for o, w in [
    (0, D), (0, H), (0x10000, H), (0x11fff, D), (0x11fff, H),
    (0x13000, D), (0x20800, D), (0x20800, H), (0x21000, D),
    (0x7ffffffde000, H), (0x7ffffffff000, D), (2**63 - 1, H)]]
print(" ".join(hex(int(x)) if x[0].isdigit() else x for x in out))
print(hex(os.fstat(fd).st_size))
'
	[ "${lines[0]}" = "0x10000 0x0 0x13000 0x11fff 0x13000 0x20000 0x20800 0x21000 0x7ffffffde000 0x7ffffffff000 ENXIO ENXIO" ]
	[ "${lines[1]}" = 0x7fffffffffffffff ]
}

@test "cp --sparse=always of a 32-bit guest's mem copies the mapped bytes at their offsets" {
	mount_guest --arch x86 --no-stack
	ask ctl 'map 0x10000 0x1000' >/dev/null
	ask ctl 'write 0x10010 6869' >/dev/null
	ask ctl 'map 0x80000000 0x1000' >/dev/null
	ask ctl 'write 0x80000ff0 7a7a' >/dev/null
	cp --sparse=always "$MNT/mem" "$BATS_TEST_TMPDIR/mem.img"
	[ "$(stat -c %s "$BATS_TEST_TMPDIR/mem.img")" = 4294967296 ]
	[ "$(xxd -p -s 0x10010 -l 2 "$BATS_TEST_TMPDIR/mem.img")" = 6869 ]
	[ "$(xxd -p -s 0x80000ff0 -l 2 "$BATS_TEST_TMPDIR/mem.img")" = 7a7a ]
}
