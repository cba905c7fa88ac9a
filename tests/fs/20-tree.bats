#!/usr/bin/env bats
# The tree of SPEC §2: which paths exist with which type and mode, the maps
# format, regions/ names, info, regs/, snapshots/ and log.

load helpers

STACK64='00007ffffffde000-00007ffffffff000 rw- [stack]'

teardown() {
	unmount_guest
}

# errno_of OP PATH...: for each PATH, the errno name of a system call on
# it, or OK, one a line. OP: stat, open_w, unlink, mkdir, create.
errno_of() {
	python3 -c '
import errno, os, sys
op = sys.argv[1]
for path in sys.argv[2:]:
    try:
        if op == "stat":
            os.stat(path)
        elif op == "open_w":
            os.close(os.open(path, os.O_WRONLY))
        elif op == "unlink":
            os.unlink(path)
        elif op == "mkdir":
            os.mkdir(path)
        elif op == "create":
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL))
        print("OK")
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
' "$@"
}

# write_errno FILE VALUE...: for each VALUE, open FILE under the mount,
# write VALUE and print the errno name of the write, or OK, one a line.
write_errno() {
	python3 -c '
import errno, os, sys
for v in sys.argv[2:]:
    fd = os.open(sys.argv[1], os.O_WRONLY)
    try:
        os.write(fd, os.fsencode(v))
        print("OK")
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
    os.close(fd)
' "$MNT/$1" "${@:2}"
}

@test "the root holds exactly the files of SPEC §2" {
	mount_guest
	run ls -A "$MNT"
	[ "$output" = "$(printf '%s\n' core ctl info log map maps mem regions \
		regs restore run save snapshots stack unmap)" ]
}

@test "each file of the root has its type and mode" {
	mount_guest
	run bash -c 'cd "$1" && stat -c "%n %A" core ctl info log map maps mem \
		regions regs restore run save snapshots stack unmap' _ "$MNT"
	[ "$status" -eq 0 ]
	[ "$output" = "$(
		cat <<-EOF
			core -r--------
			ctl -rw-------
			info -r--r--r--
			log -r--r--r--
			map -rw-------
			maps -r--r--r--
			mem -rw-------
			regions drwxr-xr-x
			regs drwxr-xr-x
			restore -rw-------
			run -rw-------
			save -rw-------
			snapshots drwxr-xr-x
			stack -rw-------
			unmap -rw-------
		EOF
	)" ]
}

@test "a name not in SPEC §2 does not exist (ENOENT)" {
	mount_guest
	local p paths=(nope Maps maps2 regions/nope
		regions/0000000000001000-0000000000002000
		regions/00007ffffffde000-00007fffffffe000
		regions/7ffffffde000-7ffffffff000 regs/nope regs/RIP regs/eax
		snapshots/nope)
	run errno_of stat "${paths[@]/#/$MNT/}"
	[ "$output" = "$(for p in "${paths[@]}"; do echo ENOENT; done)" ]
}

@test "nothing can be created, moved or linked in the tree (EACCES)" {
	mount_guest
	run errno_of create "$MNT/new" "$MNT/regs/new"
	[ "$output" = "$(printf 'EACCES\nEACCES')" ]
	run errno_of mkdir "$MNT/dir" "$MNT/regions/dir"
	[ "$output" = "$(printf 'EACCES\nEACCES')" ]
	run mv "$MNT/maps" "$MNT/maps2"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	run ln -s maps "$MNT/link"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Permission denied"* ]]
	run errno_of stat "$MNT/new" "$MNT/regs/new" "$MNT/dir" \
		"$MNT/regions/dir"
	[ "$output" = "$(printf 'ENOENT\n%.0s' {1..4})" ]
}

@test "maps lists regions sorted by address, 16 hex digits on a 64-bit guest" {
	mount_guest
	ask ctl "map 0x400000 0x3000 r-x code"
	ask ctl "map 0x1000 0x1000"
	ask ctl "map 0x7fff00000000 64k rw- heap"
	maps_are "0000000000001000-0000000000002000 rwx [mapped]" \
		"0000000000400000-0000000000403000 r-x code" \
		"00007fff00000000-00007fff00010000 rw- heap" \
		"$STACK64"
}

@test "maps shows the end of the top page of a 64-bit guest as 2^64" {
	mount_guest --no-stack --map 0xfffffffffffff000:0x1000
	maps_are "fffffffffffff000-10000000000000000 rwx [mapped]"
	run ls "$MNT/regions"
	[ "$output" = "fffffffffffff000-10000000000000000" ]
}

@test "maps pads to 8 hex digits on a 32-bit guest, and shows 2^32 as the top" {
	mount_guest --arch x86 --no-stack --map 0x1000:0x1000 \
		--map 0xfffff000:0x1000
	maps_are "00001000-00002000 rwx [mapped]" \
		"fffff000-100000000 rwx [mapped]"
}

@test "a label with a newline or a backslash cannot forge a line of maps" {
	mount_guest --no-stack
	ask ctl 'map 0x1000 0x1000 rw- "x\n0000000000002000-0000000000003000 rwx y"'
	ask ctl 'map 0x2000 0x1000 r-- "back\\slash\ttab\xff"'
	maps_are '0000000000001000-0000000000002000 rw- x\x0a0000000000002000-0000000000003000 rwx y' \
		'0000000000002000-0000000000003000 r-- back\\slash\x09tab\xff'
	[ "$(wc -l <"$MNT/maps")" -eq 2 ]
}

@test "a label with blanks is shown as it is" {
	mount_guest --no-stack
	ask ctl 'map 0x1000 0x1000 rw- "my heap"'
	maps_are "0000000000001000-0000000000002000 rw- my heap"
}

@test "regions/ has one file per line of maps, named as in maps" {
	mount_guest --map 0x400000:0x3000:r-x:code --map 0x10000:0x1000
	ask ctl "protect 0x401000 0x1000 rw-"
	run ls "$MNT/regions"
	[ "$output" = "$(cut -d' ' -f1 "$MNT/maps")" ]
	[ "${#lines[@]}" -eq 5 ]
}

@test "regions/ follows map and unmap" {
	mount_guest --no-stack
	run ls -A "$MNT/regions"
	[ "$output" = "" ]
	ask ctl "map 0x2000 0x1000"
	run ls "$MNT/regions"
	[ "$output" = "0000000000002000-0000000000003000" ]
	ask ctl "unmap 0x2000 0x1000"
	run ls -A "$MNT/regions"
	[ "$output" = "" ]
	[ "$(errno_of stat "$MNT/regions/0000000000002000-0000000000003000")" = ENOENT ]
}

@test "info of the default guest has every key of SPEC §2 with its value" {
	mount_guest
	local version
	version=$(sed -n "s/^  version: '\(.*\)',$/\1/p" \
		"$BATS_TEST_DIRNAME/../../meson.build")
	[ "$(cat "$MNT/info")" = "$(
		cat <<-EOF
			arch x86_64
			endian little
			pointer_size 8
			page_size 0x1000
			address_bits 64
			regions 1
			mapped_bytes 0x21000
			snapshots 0
			pc 0x0
			sp 0x7ffffffff000
			version $version
		EOF
	)" ]
}

@test "info follows maps, saves and registers" {
	mount_guest --arch mips
	ask ctl "map 0x400000 0x2000"
	ask ctl "save a"
	echo 0x400100 >"$MNT/regs/pc"
	echo 0x7ff3cff0 >"$MNT/regs/sp"
	[ "$(grep -E '^(regions|mapped_bytes|snapshots|pc|sp|endian) ' \
		"$MNT/info")" = "$(
		cat <<-EOF
			endian big
			regions 2
			mapped_bytes 0x32000
			snapshots 1
			pc 0x400100
			sp 0x7ff3cff0
		EOF
	)" ]
}

@test "regs/ lists every x86_64 register and the aliases pc and sp" {
	mount_guest
	run ls "$MNT/regs"
	diff -u <(printf '%s\n' eflags rax rbx rcx rdx rsi rdi rbp rsp r8 r9 \
		r10 r11 r12 r13 r14 r15 rip cs ss ds es fs gs fs_base gs_base \
		pc sp | sort) <(echo "$output")
}

@test "register files are rw- for the owner" {
	mount_guest
	run stat -c '%F %A' "$MNT/regs/rax" "$MNT/regs/pc" "$MNT/regs/sp"
	[ "$output" = "$(printf '%s\n' 'regular file -rw-------' \
		'regular file -rw-------' 'regular file -rw-------')" ]
}

@test "a register reads as 0x hex and a newline" {
	mount_guest
	[ "$(od -An -c "$MNT/regs/rsp" | tr -s ' ')" = \
		" 0 x 7 f f f f f f f f 0 0 0 \n" ]
	file_is regs/rax 0x0
}

@test "writing a number to a register sets it, decimal or hex" {
	mount_guest
	echo 0x1234 >"$MNT/regs/rax"
	file_is regs/rax 0x1234
	echo 4096 >"$MNT/regs/rbx"
	file_is regs/rbx 0x1000
	printf '0xffffffffffffffff' >"$MNT/regs/r15"
	file_is regs/r15 0xffffffffffffffff
}

@test "pc and sp are aliases of rip and rsp, both ways" {
	mount_guest
	echo 0x400000 >"$MNT/regs/pc"
	file_is regs/rip 0x400000
	echo 0x401000 >"$MNT/regs/rip"
	file_is regs/pc 0x401000
	echo 0x7fffffffe000 >"$MNT/regs/sp"
	file_is regs/rsp 0x7fffffffe000
	echo 0x7fffffffd000 >"$MNT/regs/rsp"
	file_is regs/sp 0x7fffffffd000
}

@test "a bad value in a register file fails EINVAL and leaves it unchanged" {
	mount_guest
	echo 0x55 >"$MNT/regs/rax"
	run write_errno regs/rax zz 0x 12x -- "0x1 0x2" 0x10000000000000000
	[ "$output" = "$(printf 'EINVAL\n%.0s' {1..6})" ]
	file_is regs/rax 0x55
}

@test "a value wider than a 32-bit guest's register fails ERANGE" {
	mount_guest --arch x86
	echo 0x55 >"$MNT/regs/eax"
	[ "$(write_errno regs/eax 0x100000000)" = ERANGE ]
	file_is regs/eax 0x55
	echo 0xffffffff >"$MNT/regs/eax"
	file_is regs/eax 0xffffffff
}

@test "snapshots/ lists the saved names" {
	mount_guest
	run ls -A "$MNT/snapshots"
	[ "$output" = "" ]
	ask ctl "save b"
	ask ctl "save a"
	run ls "$MNT/snapshots"
	[ "$output" = "$(printf '%s\n' a b)" ]
}

@test "rm snapshots/NAME drops the snapshot" {
	mount_guest
	ask ctl "save a"
	ask ctl "save b"
	rm "$MNT/snapshots/a"
	run ls "$MNT/snapshots"
	[ "$output" = "b" ]
	[ "$(ask_errno ctl "restore a")" = ENOENT ]
	[ "$(errno_of unlink "$MNT/snapshots/a")" = ENOENT ]
	grep -qx "snapshots 1" "$MNT/info"
}

@test "log shows each command with its answer, ok or its error" {
	mount_guest
	ask ctl "map 0x1000 0x1000"
	ask ctl "is_mapped 0x1000 0x1000"
	ask ctl "save one"
	run ask ctl "map 0x1000 0x1000"
	[ "$status" -eq 1 ]
	local error=${output#error: }
	[ "$(cat "$MNT/log")" = "$(
		cat <<-EOF
			map 0x1000 0x1000 -> ok
			is_mapped 0x1000 0x1000 -> true
			save one -> one
			map 0x1000 0x1000 -> error: $error
		EOF
	)" ]
}

@test "log keeps the last 1000 commands" {
	mount_guest
	local i text=
	for ((i = 1; i <= 1005; i++)); do
		text+="is_mapped $((i * 4096)) 4096"$'\n'
	done
	ask ctl "$text" >/dev/null
	run cat "$MNT/log"
	[ "${#lines[@]}" -eq 1000 ]
	[ "${lines[0]}" = "is_mapped 24576 4096 -> false" ]
	[ "${lines[999]}" = "is_mapped 4116480 4096 -> false" ]
}

@test "log cannot be written" {
	mount_guest
	ask ctl "save x"
	run errno_of open_w "$MNT/log" "$MNT/maps" "$MNT/info"
	[ "$output" = "$(printf '%s\n' EACCES EACCES EACCES)" ]
	[ "$(cat "$MNT/log")" = "save x -> x" ]
}
