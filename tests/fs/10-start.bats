#!/usr/bin/env bats
# Starting gmemfs (SPEC §1): the default guest, --arch, --stack, --map,
# --load, bad options, -h/-V, and a clean end on unmount and on signals.

load helpers
bats_require_minimum_version 1.5.0

STACK64='00007ffffffde000-00007ffffffff000 rw- [stack]'
STACK32='7ff0d000-7ff3d000 rw- [stack]'

teardown() {
	unmount_guest
}

# start_fails OPTIONS...: gmemfs with OPTIONS exits 2 with exactly one line
# on stderr, in $stderr, and mounts nothing.
start_fails() {
	MNT=$BATS_TEST_TMPDIR/mnt
	mkdir -p "$MNT"
	run --separate-stderr timeout 10 "$GMEMFS" -f "$@" "$MNT" 3>&-
	if [ "$status" -ne 2 ]; then
		echo "gmemfs $*: status $status, expected 2;" \
			"stderr: $stderr" >&2
		return 1
	fi
	if [ "${#stderr_lines[@]}" -ne 1 ]; then
		echo "gmemfs $*: ${#stderr_lines[@]} lines on stderr:" >&2
		echo "$stderr" >&2
		return 1
	fi
	! is_mounted "$MNT"
}

# stderr_names TEXT: the one error line names TEXT (the option or value).
stderr_names() {
	case "$stderr" in
	*"$1"*) ;;
	*)
		echo "stderr '$stderr' does not name '$1'" >&2
		return 1
		;;
	esac
}

@test "with no options the guest is x86_64 with one rw- [stack] region" {
	mount_guest
	maps_are "$STACK64"
	run ls "$MNT/regions"
	[ "$output" = "00007ffffffde000-00007ffffffff000" ]
	info_is arch x86_64
}

@test "with no options sp is at the top of the stack" {
	mount_guest
	file_is regs/sp 0x7ffffffff000
	file_is regs/rsp 0x7ffffffff000
	info_is sp 0x7ffffffff000
}

# check_arch ARCH ENDIAN POINTER_SIZE PAGE_SIZE BITS SP_REG: a mount with
# --arch ARCH has the default stack of its width, SP at its top, and these
# info values.
check_arch() {
	local stack top
	if [ "$5" = 64 ]; then
		stack=$STACK64 top=0x7ffffffff000
	else
		stack=$STACK32 top=0x7ff3d000
	fi
	mount_guest --arch "$1"
	maps_are "$stack"
	file_is regs/sp "$top"
	file_is "regs/$6" "$top"
	info_is arch "$1"
	info_is endian "$2"
	info_is pointer_size "$3"
	info_is page_size "$4"
	info_is address_bits "$5"
	info_is regions 1
	info_is sp "$top"
}

@test "--arch x86 is a little-endian 32-bit guest with the stack at 7ff0d000" {
	check_arch x86 little 4 0x1000 32 esp
}

@test "--arch x86_64 is a little-endian 64-bit guest with the default stack" {
	check_arch x86_64 little 8 0x1000 64 rsp
}

@test "--arch arm is a little-endian 32-bit guest with 1 KiB pages" {
	check_arch arm little 4 0x400 32 sp
}

@test "--arch arm64 is a little-endian 64-bit guest with 1 KiB pages" {
	check_arch arm64 little 8 0x400 64 sp
}

@test "--arch mips is a big-endian 32-bit guest" {
	check_arch mips big 4 0x1000 32 sp
}

@test "--arch mipsel is a little-endian 32-bit guest" {
	check_arch mipsel little 4 0x1000 32 sp
}

@test "--arch riscv32 is a little-endian 32-bit guest" {
	check_arch riscv32 little 4 0x1000 32 sp
}

@test "--arch riscv64 is a little-endian 64-bit guest" {
	check_arch riscv64 little 8 0x1000 64 sp
}

@test "a 32-bit guest names regions with 8 hex digits" {
	mount_guest --arch mips --map 0x10000:0x1000
	maps_are "00010000-00011000 rwx [mapped]" "$STACK32"
	run ls "$MNT/regions"
	[ "$output" = "$(printf '%s\n' 00010000-00011000 7ff0d000-7ff3d000)" ]
}

@test "--stack ADDR:SIZE puts the stack there with sp at its top" {
	mount_guest --stack 0x10000:0x4000
	maps_are "0000000000010000-0000000000014000 rw- [stack]"
	file_is regs/sp 0x14000
}

@test "--stack takes decimal numbers and k/m suffixes" {
	mount_guest --arch x86 --stack 1048576:64k
	maps_are "00100000-00110000 rw- [stack]"
	file_is regs/esp 0x110000
}

@test "--no-stack starts with no region at all" {
	mount_guest --no-stack
	maps_are
	run ls -A "$MNT/regions"
	[ "$output" = "" ]
	info_is regions 0
	info_is mapped_bytes 0x0
}

@test "--map ADDR:SIZE maps rwx [mapped] beside the default stack" {
	mount_guest --map 0x400000:0x2000
	maps_are "0000000000400000-0000000000402000 rwx [mapped]" "$STACK64"
	[ "$(bytes_at 0x400000 8)" = "0000000000000000" ]
}

@test "--map takes PERMS and LABEL and can be repeated" {
	mount_guest --no-stack --map 0x600000:8k:rw-:data \
		--map 0x400000:0x1000:r-x:code --map 0x1000:4096:---
	maps_are "0000000000001000-0000000000002000 --- [mapped]" \
		"0000000000400000-0000000000401000 r-x code" \
		"0000000000600000-0000000000602000 rw- data"
}

@test "--map's LABEL is every byte after the third ':', quotes and blanks too" {
	mount_guest --no-stack --map '0x1000:0x1000:r--:a "b":c\d e' \
		--map=0x2000:4k:rw-:
	maps_are '0000000000001000-0000000000002000 r-- a "b":c\\d e' \
		'0000000000002000-0000000000003000 rw- '
	getfattr --only-values -n user.label \
		"$MNT/regions/0000000000001000-0000000000002000" >"$BATS_TEST_TMPDIR/l"
	printf 'a "b":c\\d e' | cmp - "$BATS_TEST_TMPDIR/l"
}

@test "the guest --map makes leaves the log empty" {
	mount_guest --map 0x400000:0x1000
	[ ! -s "$MNT/log" ]
	[ -z "$(cat "$MNT/log")" ]
}

@test "--load FILE@ADDR copies the bytes and maps missing pages rwx named for the file" {
	head -c 5000 /dev/urandom >"$BATS_TEST_TMPDIR/blob.bin"
	mount_guest --no-stack --load "$BATS_TEST_TMPDIR/blob.bin@0x600000"
	maps_are "0000000000600000-0000000000602000 rwx blob.bin"
	cmp "$BATS_TEST_TMPDIR/blob.bin" \
		<(head -c 5000 "$MNT/regions/0000000000600000-0000000000602000")
	# the rest of the last page is zero
	[ "$(bytes_at $((0x600000 + 5000)) 8)" = "0000000000000000" ]
}

@test "--load at an unaligned address maps the pages around it" {
	printf 'hello' >"$BATS_TEST_TMPDIR/hi"
	mount_guest --no-stack --load "$BATS_TEST_TMPDIR/hi@0x600ffe"
	maps_are "0000000000600000-0000000000602000 rwx hi"
	[ "$(bytes_at 0x600ffc 9)" = "000068656c6c6f0000" ]
}

@test "--load into a mapped region keeps it and maps only the missing pages" {
	head -c 8192 /dev/urandom >"$BATS_TEST_TMPDIR/code"
	mount_guest --no-stack --map 0x400000:0x1000:r--:text \
		--load "$BATS_TEST_TMPDIR/code@0x400000"
	maps_are "0000000000400000-0000000000401000 r-- text" \
		"0000000000401000-0000000000402000 rwx code"
	cmp "$BATS_TEST_TMPDIR/code" <(xxd -p -c 4096 -s 0x400000 -l 8192 \
		"$MNT/mem" | xxd -r -p)
}

@test "an empty --load file maps nothing" {
	: >"$BATS_TEST_TMPDIR/empty"
	mount_guest --no-stack --load "$BATS_TEST_TMPDIR/empty@0x600000"
	maps_are
}

@test "an unknown --arch exits 2 naming the option" {
	start_fails --arch sparc
	stderr_names --arch
	stderr_names sparc
}

@test "a bad number in --stack exits 2 naming the option" {
	start_fails --stack 0x10000:zz
	stderr_names --stack
}

@test "a bad number in --map exits 2 naming the option" {
	start_fails --map 0x1g000:0x1000
	stderr_names --map
}

@test "an unaligned --map exits 2 naming the option" {
	start_fails --map 0x1001:0x1000
	stderr_names --map
}

@test "a --map of an unaligned size exits 2 naming the option" {
	start_fails --map 0x1000:0x800
	stderr_names --map
}

@test "a --map with bad permissions exits 2 naming the option" {
	start_fails --map 0x1000:0x1000:rwz
	stderr_names --map
}

@test "overlapping --map options exit 2 naming the option" {
	start_fails --map 0x1000:0x2000 --map 0x2000:0x1000
	stderr_names --map
}

@test "a --map past a 32-bit address space exits 2 naming the option" {
	start_fails --arch x86 --map 0xfffff000:0x2000
	stderr_names --map
}

@test "a --load of a missing file exits 2 naming the option" {
	start_fails --load "$BATS_TEST_TMPDIR/missing@0x1000"
	stderr_names --load
	stderr_names missing
}

@test "a --load without @ADDR exits 2 naming the option" {
	printf x >"$BATS_TEST_TMPDIR/f"
	start_fails --load "$BATS_TEST_TMPDIR/f"
	stderr_names --load
}

@test "an unknown option exits 2 naming it" {
	start_fails --frobnicate
	stderr_names --frobnicate
}

@test "-h and --help print a usage naming every option and exit 0" {
	local opt h
	for h in -h --help; do
		run --separate-stderr "$GMEMFS" "$h"
		[ "$status" -eq 0 ]
		for opt in --arch --stack --no-stack --map --load \
			x86_64 riscv32 mipsel; do
			case "$output" in
			*"$opt"*) ;;
			*)
				echo "$h does not mention $opt: $output" >&2
				return 1
				;;
			esac
		done
	done
}

@test "-V and --version print the version of the project and exit 0" {
	local version v
	version=$(sed -n "s/^  version: '\(.*\)',$/\1/p" \
		"$BATS_TEST_DIRNAME/../../meson.build")
	[ -n "$version" ]
	for v in -V --version; do
		run --separate-stderr "$GMEMFS" "$v"
		[ "$status" -eq 0 ]
		# "gmemfs 0.1.0", maybe followed by more (libfuse's version)
		[[ "${lines[0]}" == "gmemfs $version" ||
			"${lines[0]}" == "gmemfs $version "* ]]
	done
}

@test "fusermount3 -u ends the daemon with status 0" {
	mount_guest
	fusermount3 -u "$MNT"
	wait_daemon
	[ "$daemon_status" = 0 ]
	! is_mounted "$MNT"
}

@test "SIGTERM unmounts and ends the daemon with status 0" {
	mount_guest
	kill -TERM "$GMEMFS_PID"
	wait_daemon
	[ "$daemon_status" = 0 ]
	! is_mounted "$MNT"
}

@test "SIGINT unmounts and ends the daemon with status 0" {
	mount_guest
	kill -INT "$GMEMFS_PID"
	wait_daemon
	[ "$daemon_status" = 0 ]
	! is_mounted "$MNT"
}

@test "SIGTERM while a file is open still ends the daemon with status 0" {
	mount_guest
	exec 5<"$MNT/maps"
	kill -TERM "$GMEMFS_PID"
	wait_daemon
	exec 5<&-
	[ "$daemon_status" = 0 ]
	! is_mounted "$MNT"
}
