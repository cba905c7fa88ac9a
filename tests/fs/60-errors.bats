#!/usr/bin/env bats
# The errno table of SPEC §4: a failing command makes write() fail with its
# errno, the shell's echo fail, the answer read `error: MESSAGE`, the log
# show the same line, and the guest stay exactly as it was.

load helpers

setup() {
	mount_guest
}

teardown() {
	unmount_guest
}

# strerror NAME: what the shell says for each errno of SPEC §4 (glibc).
strerror() {
	case $1 in
	EINVAL) echo "Invalid argument" ;;
	EEXIST) echo "File exists" ;;
	EFAULT) echo "Bad address" ;;
	ENOMEM) echo "Cannot allocate memory" ;;
	ENOSPC) echo "No space left on device" ;;
	ENOENT) echo "No such file or directory" ;;
	ERANGE) echo "Numerical result out of range" ;;
	esac
}

# fails_with FILE COMMAND ERRNO MESSAGE: COMMAND written to FILE fails, in
# every way SPEC §4 promises, with ERRNO and `error: MESSAGE`, and changes
# nothing. The log line names the verb of a bound control file.
fails_with() {
	local file=$1 cmd=$2 errno=$3 msg=$4 logged=$2 before after strerror
	[ "$file" = ctl ] || logged="$file${cmd:+ $cmd}"
	before=$(guest_state --snapshots)

	run ask_errno "$file" "$cmd"
	if [ "$output" != "$errno" ]; then
		echo "'$cmd' on $file: write failed with $output, not $errno" >&2
		return 1
	fi

	run ask "$file" "$cmd"
	if [ "$status" -ne 1 ] || [ "$output" != "error: $msg" ]; then
		printf '%s on %s: status %s, answer\n  %s\nnot\n  %s\n' \
			"'$cmd'" "$file" "$status" "$output" "error: $msg" >&2
		return 1
	fi

	strerror=$(strerror "$errno")
	# bash names the place ("bash: line 1: echo: ") as its version likes.
	run bash -c 'echo "$1" > "$2"' bash "$cmd" "$MNT/$file"
	if [ "$status" -ne 1 ] ||
		[ "${output#bash: *echo: }" != "write error: $strerror" ]; then
		echo "echo '$cmd' > $file: status $status, said: $output" >&2
		return 1
	fi

	run tail -n 1 "$MNT/log"
	if [ "$output" != "$logged -> error: $msg" ]; then
		printf 'log ends with\n  %s\nnot\n  %s\n' "$output" \
			"$logged -> error: $msg" >&2
		return 1
	fi

	after=$(guest_state --snapshots)
	if [ "$before" != "$after" ]; then
		echo "'$cmd' on $file changed the guest:" >&2
		diff -u <(echo "$before") <(echo "$after") >&2
		return 1
	fi
}

# run_ok TEXT: a command that must succeed, to set the scene.
run_ok() {
	run ask ctl "$1"
	if [ "$status" -ne 0 ]; then
		echo "setting the scene: '$1' answered $output" >&2
		return 1
	fi
}

@test "an unknown verb fails with EINVAL" {
	fails_with ctl "frobnicate 1 2" EINVAL \
		'unknown verb "frobnicate" ("help" lists the verbs)'
}

@test "bad syntax fails with EINVAL: an unterminated quote, a bad escape, missing and extra arguments" {
	fails_with ctl 'map 0x10000 0x1000 rw- "open' EINVAL \
		'map: unterminated quote at byte 24'
	fails_with ctl 'map 0x10000 0x1000 rw- "\q"' EINVAL \
		'map: bad escape "\\q\"": use \\ \" \n \t or \xNN'
	fails_with ctl 'map 0x10000' EINVAL \
		'map: missing SIZE (usage: map ADDR SIZE [PERMS] [LABEL])'
	fails_with ctl 'is_mapped 0x10000 0x1000 0x1000' EINVAL \
		'is_mapped: too many arguments at "0x1000" (usage: is_mapped ADDR SIZE)'
	fails_with ctl 'read_ptr 0x10000 colour=red' EINVAL \
		'read_ptr: unknown keyword "colour=red" (usage: read_ptr ADDR [size=1|2|4|8] [signed=true])'
	fails_with ctl 'read_ptr 0x7ffffffde000 signed=yes' EINVAL \
		'read_ptr: signed must be true or false, not "yes"'
}

@test "a bad number fails with EINVAL" {
	fails_with ctl "map 0x10zz 0x1000" EINVAL \
		'map: bad ADDR "0x10zz": expected 0x hex or decimal'
	fails_with ctl "map 0x10000 12q" EINVAL \
		'map: bad SIZE "12q": expected 0x hex or decimal, may end in k, m or g'
	fails_with ctl "read 0x10000 -1" EINVAL \
		'read: bad SIZE "-1": expected 0x hex or decimal, may end in k, m or g'
	fails_with ctl "read_ptr 0x7ffffffde000 size=3" EINVAL \
		'read_ptr: size must be 1, 2, 4 or 8, not "3"'
	fails_with ctl "map 0x 0x1000" EINVAL \
		'map: bad ADDR "0x": expected 0x hex or decimal'
}

@test "an unaligned address or size fails with EINVAL" {
	fails_with ctl "map 0x10001 0x1000" EINVAL \
		'map: 0x10001-0x11001 is not a multiple of the page size 0x1000'
	fails_with ctl "map 0x10000 0x1800" EINVAL \
		'map: 0x10000-0x11800 is not a multiple of the page size 0x1000'
	fails_with ctl "unmap 0x7ffffffde800 0x1000" EINVAL \
		'unmap: 0x7ffffffde800-0x7ffffffdf800 is not a multiple of the page size 0x1000'
	fails_with ctl "protect 0x7ffffffde000 0x10 r--" EINVAL \
		'protect: 0x7ffffffde000-0x7ffffffde010 is not a multiple of the page size 0x1000'
}

@test "bad permissions fail with EINVAL" {
	fails_with ctl "map 0x10000 0x1000 rwz" EINVAL \
		'map: bad PERMS "rwz": three letters rwx with - for an absent one, as r-x'
	fails_with ctl "protect 0x7ffffffde000 0x1000 rw" EINVAL \
		'protect: bad PERMS "rw": three letters rwx with - for an absent one, as r-x'
	fails_with ctl "map 0x10000 0x1000 xwr" EINVAL \
		'map: bad PERMS "xwr": three letters rwx with - for an absent one, as r-x'
}

@test "an empty range fails with EINVAL" {
	fails_with ctl "map 0x10000 0" EINVAL 'map: empty range at 0x10000'
	fails_with ctl "unmap 0x7ffffffde000 0" EINVAL \
		'unmap: empty range at 0x7ffffffde000'
	fails_with ctl "is_mapped 0x7ffffffde000 0" EINVAL \
		'is_mapped: empty range at 0x7ffffffde000'
}

@test "a range past the address space fails with EINVAL" {
	fails_with ctl "map 0xfffffffffffff000 0x2000" EINVAL \
		'map: 0xfffffffffffff000+0x2000 passes the end of the 64-bit address space'
	fails_with ctl "is_available 0xffffffffffffffff 2" EINVAL \
		'is_available: 0xffffffffffffffff+0x2 passes the end of the 64-bit address space'
	fails_with ctl "read 0xffffffffffffffff 2" EINVAL \
		'read: 0xffffffffffffffff+0x2 passes the end of the 64-bit address space'
}

@test "a range past the 32-bit address space fails with EINVAL on x86" {
	unmount_guest
	mount_guest --arch x86
	fails_with ctl "map 0xfffff000 0x2000" EINVAL \
		'map: 0xfffff000+0x2000 passes the end of the 32-bit address space'
	fails_with ctl "map 0x100000000 0x1000" EINVAL \
		'map: 0x100000000+0x1000 passes the end of the 32-bit address space'
}

@test "map onto a range that is not free fails with EEXIST" {
	run_ok "map 0x10000 0x2000 rw- data"
	fails_with ctl "map 0x11000 0x2000" EEXIST \
		'map: 0x11000-0x13000 overlaps the region 0x10000-0x12000'
	fails_with ctl "map 0x7ffffffd0000 0x10000" EEXIST \
		'map: 0x7ffffffd0000-0x7ffffffe0000 overlaps the region 0x7ffffffde000-0x7ffffffff000'
	fails_with map "0x10000 0x1000" EEXIST \
		'map: 0x10000-0x11000 overlaps the region 0x10000-0x12000'
}

@test "unmap and protect of a range with a hole fail with EFAULT" {
	run_ok "map 0x10000 0x1000"
	run_ok "map 0x12000 0x1000"
	fails_with ctl "unmap 0x20000 0x1000" EFAULT \
		'unmap: 0x20000 is not mapped'
	fails_with ctl "unmap 0x10000 0x3000" EFAULT \
		'unmap: 0x11000 is not mapped'
	fails_with ctl "protect 0x10000 0x3000 r--" EFAULT \
		'protect: 0x11000 is not mapped'
	fails_with unmap "0x11000 0x1000" EFAULT 'unmap: 0x11000 is not mapped'
}

@test "read, write and string of unmapped memory fail with EFAULT" {
	run_ok "map 0x10000 0x1000"
	run_ok "write 0x10ffc 41424344"
	fails_with ctl "read 0x20000 1" EFAULT 'read: 0x20000 is not mapped'
	fails_with ctl "read 0x10fff 2" EFAULT 'read: 0x11000 is not mapped'
	fails_with ctl "write 0x10fff 0102" EFAULT \
		'write: 0x11000 is not mapped'
	fails_with ctl "read_ptr 0x10ffc" EFAULT \
		'read_ptr: 0x11000 is not mapped'
	fails_with ctl "write_ptr 0x10ffc 1" EFAULT \
		'write_ptr: 0x11000 is not mapped'
	fails_with ctl "string 0x10ffc" EFAULT \
		'string: the string at 0x10ffc runs into unmapped memory at 0x11000 before its NUL'
	fails_with ctl 'string 0x10ffd "abc"' EFAULT \
		'string: 0x11000 is not mapped'
}

@test "stack operations on unmapped memory fail with EFAULT" {
	# SP is the top of the stack region: the word at SP is not mapped.
	fails_with ctl "stack pop" EFAULT \
		'stack pop: 0x7ffffffff000 is not mapped'
	fails_with ctl "stack read 0" EFAULT \
		'stack read: 0x7ffffffff000 is not mapped'
	fails_with ctl "stack write 8 1" EFAULT \
		'stack write: 0x7ffffffff008 is not mapped'
	fails_with ctl "stack_pop" EFAULT \
		'stack pop: 0x7ffffffff000 is not mapped'
	fails_with stack "read 0" EFAULT \
		'stack read: 0x7ffffffff000 is not mapped'
	run_ok "unmap_all"
	fails_with ctl "stack push 0x41" EFAULT \
		'stack push: 0x7fffffffeff8 is not mapped'
	fails_with stack "push 0x41" EFAULT \
		'stack push: 0x7fffffffeff8 is not mapped'
}

@test "find_free_space and map_anywhere fail with ENOMEM when no space fits" {
	run_ok "map 0x10000 0x2000"
	fails_with ctl "find_free_space 0x1000 min_addr=0x10000 max_addr=0x12000" \
		ENOMEM 'find_free_space: no free space of 0x1000 bytes'
	fails_with ctl "map_anywhere 0x3000 min_addr=0xf000 max_addr=0x14000" \
		ENOMEM 'map_anywhere: no free space of 0x3000 bytes'
	fails_with ctl "map_anywhere 0x2000 min_addr=0xfffffffffffff000" \
		ENOMEM 'map_anywhere: no free space of 0x2000 bytes'
}

@test "a map past the engine's region limit fails with ENOSPC (arm: 1008 regions)" {
	unmount_guest
	mount_guest --arch arm --no-stack
	local i
	# 1007 maps of one 1 KiB page, every other page, in one write.
	run ask ctl "$(for ((i = 0; i < 1007; i++)); do
		printf 'map 0x%x 0x400\n' $((0x100000 + i * 0x800))
	done)"
	[ "$status" -eq 0 ]
	run_ok "map 0x10000 0x1000"
	[ "$(wc -l <"$MNT/maps")" -eq 1008 ]
	fails_with ctl "map 0x20000 0x400" ENOSPC \
		'map: the engine can hold 1008 regions and this needs 1009 (Unicorn 2.0.1 aborts past its limit): unmap or merge regions first'
	fails_with ctl "protect 0x10400 0x400 r--" ENOSPC \
		'protect: the engine can hold 1008 regions and this needs 1010 (Unicorn 2.0.1 aborts past its limit): unmap or merge regions first'
	fails_with ctl "unmap 0x10400 0x400" ENOSPC \
		'unmap: the engine can hold 1008 regions and this needs 1009 (Unicorn 2.0.1 aborts past its limit): unmap or merge regions first'
	run_ok "unmap 0x10000 0x1000"
	run_ok "map 0x20000 0x400"
	# Unicorn closes an engine of 1008 regions slowly (13 s under ASan):
	# wait longer than unmount_guest does; teardown checks the status.
	fusermount3 -u "$MNT"
	for ((i = 0; i < 1200; i++)); do
		kill -0 "$GMEMFS_PID" 2>/dev/null || break
		sleep 0.1
	done
}

@test "restore and drop of a snapshot that does not exist fail with ENOENT" {
	fails_with ctl "restore" ENOENT 'restore: no snapshot to restore'
	fails_with restore "" ENOENT 'restore: no snapshot to restore'
	run_ok "save kept"
	fails_with ctl "restore nosuch" ENOENT \
		'restore: no snapshot named "nosuch"'
	fails_with restore "nosuch" ENOENT 'restore: no snapshot named "nosuch"'
	fails_with ctl "drop nosuch" ENOENT 'drop: no snapshot named "nosuch"'
}

@test "a value that does not fit fails with ERANGE" {
	run_ok "map 0x10000 0x1000"
	fails_with ctl "write_ptr 0x10000 0x100 size=1" ERANGE \
		'write_ptr: 0x100 does not fit in 1 byte'
	fails_with ctl "write_ptr 0x10000 0x10000 size=2" ERANGE \
		'write_ptr: 0x10000 does not fit in 2 bytes'
	fails_with ctl "write_ptr 0x10000 -129 size=1" ERANGE \
		'write_ptr: -0x81 does not fit in 1 signed byte'
	fails_with ctl "reg eflags 0x100000000" ERANGE \
		'reg: 0x100000000 does not fit the 32-bit register eflags'
	fails_with ctl "reg cs 0x10000" ERANGE \
		'reg: 0x10000 does not fit the 16-bit register cs'
}

@test "write_ptr signed=true of a value past the signed range fails with ERANGE" {
	run_ok "map 0x10000 0x1000"
	fails_with ctl "write_ptr 0x10000 -0x81 size=1 signed=true" ERANGE \
		'write_ptr: -0x81 does not fit in 1 signed byte'
	fails_with ctl "write_ptr 0x10000 0xff size=1 signed=true" ERANGE \
		'write_ptr: 0xff does not fit in 1 signed byte'
	fails_with ctl "write_ptr 0x10000 0x8000 size=2 signed=true" ERANGE \
		'write_ptr: 0x8000 does not fit in 2 signed bytes'
}

@test "a value wider than the pointer fails with ERANGE on x86" {
	unmount_guest
	mount_guest --arch x86
	run_ok "map 0x10000 0x1000"
	fails_with ctl "write_ptr 0x10000 0x100000000" ERANGE \
		'write_ptr: 0x100000000 does not fit in 4 bytes'
	fails_with ctl "stack push 0x100000000" ERANGE \
		'stack push: 0x100000000 does not fit in 4 bytes'
	fails_with stack "push 0x100000000" ERANGE \
		'stack push: 0x100000000 does not fit in 4 bytes'
	fails_with ctl "reg eax 0x100000000" ERANGE \
		'reg: 0x100000000 does not fit the 32-bit register eax'
}

@test "the lines before a failing one stay done, the failing one changes nothing" {
	run ask_errno ctl $'map 0x10000 0x1000\nwrite 0x10000 41\nwrite 0x10fff 4243'
	[ "$output" = "EFAULT" ]
	[ "$(cat "$MNT/maps")" = "0000000000010000-0000000000011000 rwx [mapped]
00007ffffffde000-00007ffffffff000 rw- [stack]" ]
	[ "$(xxd -p -l 2 "$MNT/regions/0000000000010000-0000000000011000")" = "4100" ]
	[ "$(xxd -p -s 0xfff -l 1 "$MNT/regions/0000000000010000-0000000000011000")" = "00" ]
}
