#!/usr/bin/env bats
# The command language of SPEC §4 through ctl: every verb of the table, each
# answer exact, read back on the fd that wrote the command.

load helpers

STACK='00007ffffffde000-00007ffffffff000 rw- [stack]'

setup() {
	mount_guest
}

teardown() {
	exec 4>&- 5>&- # a test that failed may leave its fds on ctl open
	unmount_guest
}

@test "map ADDR SIZE maps the range rwx with the label [mapped]" {
	answer_is ctl "map 0x400000 0x2000" ""
	maps_are "0000000000400000-0000000000402000 rwx [mapped]" "$STACK"
}

@test "map takes permissions, a label, decimal numbers and k/m suffixes" {
	answer_is ctl "map 65536 8k r-x code" ""
	answer_is ctl "map 0x100000 1m rw- heap" ""
	answer_is ctl "map 0x300000 4096 --- guard" ""
	maps_are "0000000000010000-0000000000012000 r-x code" \
		"0000000000100000-0000000000200000 rw- heap" \
		"0000000000300000-0000000000301000 --- guard" "$STACK"
}

@test "map_anywhere answers the lowest free address and maps the size rounded up to pages" {
	answer_is ctl "map 0x0 0x1000" ""
	answer_is ctl "map_anywhere 100" "0x1000"
	answer_is ctl "map_anywhere 0x1001 r-- data" "0x2000"
	maps_are "0000000000000000-0000000000001000 rwx [mapped]" \
		"0000000000001000-0000000000002000 rwx [mapped]" \
		"0000000000002000-0000000000004000 r-- data" "$STACK"
}

@test "map_anywhere honours min_addr, max_addr and alignment" {
	answer_is ctl "map 0x10000 0x1000" ""
	answer_is ctl "map_anywhere 0x1000 min_addr=0x10000" "0x11000"
	answer_is ctl "map_anywhere 0x1000 rw- aligned min_addr=0x10000 alignment=0x10000" "0x20000"
	answer_is ctl "map_anywhere 0x2000 rw- top min_addr=0x30000 max_addr=0x40000" "0x30000"
	answer_is ctl "map_anywhere 0x1000 --- last min_addr=0x30000 max_addr=0x33000" "0x32000"
	maps_are "0000000000010000-0000000000011000 rwx [mapped]" \
		"0000000000011000-0000000000012000 rwx [mapped]" \
		"0000000000020000-0000000000021000 rw- aligned" \
		"0000000000030000-0000000000032000 rw- top" \
		"0000000000032000-0000000000033000 --- last" "$STACK"
}

@test "unmap of a region's first page keeps the rest with its label and bytes" {
	answer_is ctl "map 0x10000 0x3000 rw- buf" ""
	answer_is ctl "write 0x11000 11223344" ""
	answer_is ctl "unmap 0x10000 0x1000" ""
	maps_are "0000000000011000-0000000000013000 rw- buf" "$STACK"
	answer_is ctl "read 0x11000 4" "11223344"
}

@test "unmap of a region's last page keeps the rest with its label and bytes" {
	answer_is ctl "map 0x10000 0x3000 rw- buf" ""
	answer_is ctl "write 0x11ffc aabbccdd" ""
	answer_is ctl "unmap 0x12000 0x1000" ""
	maps_are "0000000000010000-0000000000012000 rw- buf" "$STACK"
	answer_is ctl "read 0x11ffc 4" "aabbccdd"
}

@test "unmap in the middle of a region splits it in two with the same label and bytes" {
	answer_is ctl "map 0x10000 0x3000 r-x buf" ""
	answer_is ctl "write 0x10ffe 0102" ""
	answer_is ctl "write 0x12000 0304" ""
	answer_is ctl "unmap 0x11000 0x1000" ""
	maps_are "0000000000010000-0000000000011000 r-x buf" \
		"0000000000012000-0000000000013000 r-x buf" "$STACK"
	answer_is ctl "read 0x10ffe 2" "0102"
	answer_is ctl "read 0x12000 2" "0304"
	[ "$(ls "$MNT/regions")" = "0000000000010000-0000000000011000
0000000000012000-0000000000013000
00007ffffffde000-00007ffffffff000" ]
}

@test "unmap across two adjacent regions cuts the end of one and the start of the other" {
	answer_is ctl "map 0x10000 0x2000 rw- a" ""
	answer_is ctl "map 0x12000 0x2000 r-- b" ""
	answer_is ctl "unmap 0x11000 0x2000" ""
	maps_are "0000000000010000-0000000000011000 rw- a" \
		"0000000000013000-0000000000014000 r-- b" "$STACK"
}

@test "unmap of a whole region removes it and its file" {
	answer_is ctl "map 0x10000 0x2000" ""
	answer_is ctl "unmap 0x10000 0x2000" ""
	maps_are "$STACK"
	[ ! -e "$MNT/regions/0000000000010000-0000000000012000" ]
}

@test "unmap_all unmaps every region, the stack too" {
	answer_is ctl "map 0x10000 0x2000" ""
	answer_is ctl "map 0x20000 0x1000" ""
	answer_is ctl "unmap_all" ""
	[ "$(cat "$MNT/maps")" = "" ]
	[ "$(ls "$MNT/regions")" = "" ]
}

@test "unmap all is unmap_all" {
	answer_is ctl "map 0x10000 0x2000" ""
	answer_is ctl "unmap all" ""
	[ "$(cat "$MNT/maps")" = "" ]
}

@test "protect of the middle of a region splits it in three, and protecting it back merges them" {
	answer_is ctl "map 0x10000 0x3000 rwx code" ""
	answer_is ctl "write 0x11000 c3" ""
	answer_is ctl "protect 0x11000 0x1000 r--" ""
	maps_are "0000000000010000-0000000000011000 rwx code" \
		"0000000000011000-0000000000012000 r-- code" \
		"0000000000012000-0000000000013000 rwx code" "$STACK"
	[ "$(stat -c %A "$MNT/regions/0000000000011000-0000000000012000")" = "-r--------" ]
	answer_is ctl "read 0x11000 1" "c3"
	answer_is ctl "protect 0x11000 0x1000 rwx" ""
	maps_are "0000000000010000-0000000000013000 rwx code" "$STACK"
}

@test "protect across two adjacent regions changes both and keeps them apart" {
	answer_is ctl "map 0x10000 0x2000 rwx a" ""
	answer_is ctl "map 0x12000 0x2000 rwx b" ""
	answer_is ctl "protect 0x10000 0x4000 r-x" ""
	maps_are "0000000000010000-0000000000012000 r-x a" \
		"0000000000012000-0000000000014000 r-x b" "$STACK"
}

@test "write HEX puts the bytes in memory and read ADDR SIZE answers them in hex" {
	answer_is ctl "map 0x10000 0x2000" ""
	answer_is ctl "write 0x10ffe deadbeef01" ""
	answer_is ctl "read 0x10ffe 5" "deadbeef01"
	[ "$(bytes_at 0x10ffe 5)" = "deadbeef01" ]
	[ "$(xxd -p -s 0xffe -l 5 "$MNT/regions/0000000000010000-0000000000012000")" = "deadbeef01" ]
	answer_is ctl "read 0x10000 3" "000000"
}

@test "write_ptr and read_ptr use the pointer size and little-endian order on x86_64" {
	answer_is ctl "map 0x10000 0x1000" ""
	answer_is ctl "write_ptr 0x10000 0x1122334455667788" ""
	[ "$(bytes_at 0x10000 8)" = "8877665544332211" ]
	answer_is ctl "read_ptr 0x10000" "0x1122334455667788"
	answer_is ctl "read_ptr 0x10000 size=1" "0x88"
	answer_is ctl "read_ptr 0x10000 size=2" "0x7788"
	answer_is ctl "read_ptr 0x10000 size=4" "0x55667788"
	answer_is ctl "read_ptr 0x10000 size=8" "0x1122334455667788"
}

@test "write_ptr size= writes only that many bytes" {
	answer_is ctl "map 0x10000 0x1000" ""
	answer_is ctl "write 0x10000 ffffffffffffffff" ""
	answer_is ctl "write_ptr 0x10000 0x0102 size=2" ""
	answer_is ctl "write_ptr 0x10004 0x7 size=1" ""
	[ "$(bytes_at 0x10000 8)" = "0201ffff07ffffff" ]
	answer_is ctl "write_ptr 0x10000 0xaabbccdd size=4" ""
	[ "$(bytes_at 0x10000 8)" = "ddccbbaa07ffffff" ]
}

@test "write_ptr takes a negative VALUE as its two's complement in size bytes" {
	answer_is ctl "map 0x10000 0x1000" ""
	answer_is ctl "write_ptr 0x10000 -2 size=2" ""
	[ "$(bytes_at 0x10000 3)" = "feff00" ]
	answer_is ctl "write_ptr 0x10000 -0x80 size=1 signed=true" ""
	[ "$(bytes_at 0x10000 3)" = "80ff00" ]
	answer_is ctl "write_ptr 0x10000 -1" ""
	[ "$(bytes_at 0x10000 9)" = "ffffffffffffffff00" ]
	answer_is ctl "read_ptr 0x10000 signed=true" "-0x1"
}

@test "read_ptr signed=true answers negative values as -0x…" {
	answer_is ctl "map 0x10000 0x1000" ""
	answer_is ctl "write 0x10000 feff80ffffffffff" ""
	answer_is ctl "read_ptr 0x10000 size=2 signed=true" "-0x2"
	answer_is ctl "read_ptr 0x10000 size=2" "0xfffe"
	answer_is ctl "read_ptr 0x10002 size=1 signed=true" "-0x80"
	answer_is ctl "read_ptr 0x10000 signed=true" "-0x7f0002"
	answer_is ctl "read_ptr 0x10003 size=1 signed=true" "-0x1"
	answer_is ctl "write 0x10000 7f" ""
	answer_is ctl "read_ptr 0x10000 size=1 signed=true" "0x7f"
}

@test "string ADDR TEXT writes TEXT and a NUL; string ADDR reads up to the NUL" {
	answer_is ctl "map 0x10000 0x1000" ""
	answer_is ctl "write 0x10000 ffffffffffffffffffffffffffff" ""
	answer_is ctl 'string 0x10000 "hello world"' ""
	[ "$(bytes_at 0x10000 13)" = "68656c6c6f20776f726c6400ff" ]
	answer_is ctl "string 0x10000" "hello world"
	answer_is ctl "string 0x10006" "world"
	answer_is ctl "string 0x10000 hi" ""
	answer_is ctl "string 0x10000" "hi"
}

@test "string reads its answer as the bytes and one newline, escapes written as C does" {
	answer_is ctl "map 0x10000 0x1000" ""
	answer_is ctl 'string 0x10000 "a\tb\x41\"\\"' ""
	[ "$(bytes_at 0x10000 7)" = "61096241225c00" ]
	[ "$(ask ctl "string 0x10000" | xxd -p)" = "61096241225c0a" ]
	answer_is ctl "string 0x10100" ""
	[ "$(ask ctl "string 0x10100" | xxd -p)" = "0a" ]
}

@test "search HEX answers every match, one address a line, in order and not overlapping" {
	answer_is ctl "map 0x10000 0x1000" ""
	answer_is ctl "map 0x20000 0x1000" ""
	answer_is ctl "write 0x10010 deadbeef" ""
	answer_is ctl "write 0x20ffc deadbeef" ""
	answer_is ctl "write 0x10100 aaaaaa" ""
	answer_is ctl "search deadbeef" "0x10010
0x20ffc"
	answer_is ctl "search aaaa" "0x10100"
	answer_is ctl "search 0102030405" ""
}

@test "search \"TEXT\" finds a string, also across adjacent regions" {
	answer_is ctl "map 0x10000 0x1000" ""
	answer_is ctl "map 0x11000 0x1000" ""
	answer_is ctl 'string 0x10ffd "needle in"' ""
	answer_is ctl 'string 0x11800 "needle"' ""
	answer_is ctl 'search "needle"' "0x10ffd
0x11800"
	answer_is ctl 'search "needle in"' "0x10ffd"
}

@test "search begin= and end= limit the matches to [begin, end)" {
	answer_is ctl "map 0x10000 0x1000" ""
	answer_is ctl "write 0x10000 abcd" ""
	answer_is ctl "write 0x10100 abcd" ""
	answer_is ctl "write 0x10200 abcd" ""
	answer_is ctl "search abcd begin=0x10001" "0x10100
0x10200"
	answer_is ctl "search abcd end=0x10200" "0x10000
0x10100"
	answer_is ctl "search abcd begin=0x10100 end=0x10101" ""
	answer_is ctl "search abcd begin=0x10100 end=0x10102" "0x10100"
}

@test "find_free_space answers an address without mapping it" {
	answer_is ctl "map 0x0 0x1000" ""
	answer_is ctl "map 0x10000 0x1000" ""
	answer_is ctl "find_free_space 0x1000" "0x1000"
	answer_is ctl "find_free_space 0x1000 min_addr=0x10000" "0x11000"
	answer_is ctl "find_free_space 0x1000 min_addr=0x10000 alignment=0x10000" "0x20000"
	answer_is ctl "find_free_space 0xe000 min_addr=0x2000 max_addr=0x20000" "0x2000"
	answer_is ctl "find_free_space 0xf000 min_addr=0x2000 max_addr=0x20000" "0x11000"
	answer_is ctl "find_free_space 1" "0x1000"
	maps_are "0000000000000000-0000000000001000 rwx [mapped]" \
		"0000000000010000-0000000000011000 rwx [mapped]" "$STACK"
}

@test "is_mapped is true across adjacent regions and false over a gap" {
	answer_is ctl "map 0x10000 0x2000" ""
	answer_is ctl "map 0x12000 0x2000" ""
	answer_is ctl "map 0x15000 0x1000" ""
	answer_is ctl "is_mapped 0x10000 0x4000" "true"
	answer_is ctl "is_mapped 0x11fff 2" "true"
	answer_is ctl "is_mapped 0x13000 0x2000" "false"
	answer_is ctl "is_mapped 0x10000 0x6000" "false"
	answer_is ctl "is_mapped 0x14000 1" "false"
}

@test "is_available is true only when no byte of the range is mapped" {
	answer_is ctl "map 0x10000 0x2000" ""
	answer_is ctl "map 0x13000 0x1000" ""
	answer_is ctl "is_available 0x12000 0x1000" "true"
	answer_is ctl "is_available 0x12000 0x1001" "false"
	answer_is ctl "is_available 0xf000 0x1001" "false"
	answer_is ctl "is_available 0x0 0x10000" "true"
	answer_is ctl "is_available 0x10000 0x4000" "false"
}

@test "show_mapinfo answers the text of maps" {
	answer_is ctl "map 0x10000 0x2000 r-x code" ""
	answer_is ctl "map 0x20000 0x1000 rw- data" ""
	answer_is ctl "show_mapinfo" "$(cat "$MNT/maps")"
	answer_is ctl "show_mapinfo" "0000000000010000-0000000000012000 r-x code
0000000000020000-0000000000021000 rw- data
$STACK"
}

@test "save answers snap-1, snap-2… and restore with no name restores the newest" {
	answer_is ctl "map 0x10000 0x1000" ""
	answer_is ctl "write 0x10000 01" ""
	answer_is ctl "save" "snap-1"
	answer_is ctl "write 0x10000 02" ""
	answer_is ctl "save" "snap-2"
	answer_is ctl "write 0x10000 03" ""
	[ "$(ls "$MNT/snapshots")" = "snap-1
snap-2" ]
	answer_is ctl "restore" ""
	answer_is ctl "read 0x10000 1" "02"
	answer_is ctl "restore snap-1" ""
	answer_is ctl "read 0x10000 1" "01"
	answer_is ctl "restore" ""
	answer_is ctl "read 0x10000 1" "02"
}

@test "save NAME replaces a snapshot of that name; drop deletes one" {
	answer_is ctl "map 0x10000 0x1000" ""
	answer_is ctl "save before" "before"
	answer_is ctl "write 0x10000 05" ""
	answer_is ctl "save before" "before"
	answer_is ctl "write 0x10000 06" ""
	answer_is ctl "save" "snap-1"
	[ "$(ls "$MNT/snapshots")" = "before
snap-1" ]
	answer_is ctl "restore before" ""
	answer_is ctl "read 0x10000 1" "05"
	answer_is ctl "drop snap-1" ""
	[ "$(ls "$MNT/snapshots")" = "before" ]
	answer_is ctl "save" "snap-2"
	[ "$(ls "$MNT/snapshots")" = "before
snap-2" ]
}

@test "reg NAME answers the register and reg NAME VALUE sets it, as regs/ shows" {
	answer_is ctl "reg rax" "0x0"
	answer_is ctl "reg rax 0x1234" "0x1234"
	answer_is ctl "reg rax" "0x1234"
	[ "$(cat "$MNT/regs/rax")" = "0x1234" ]
	answer_is ctl "reg rsp" "0x7ffffffff000"
	answer_is ctl "reg sp" "0x7ffffffff000"
	answer_is ctl "reg pc 0x401000" "0x401000"
	answer_is ctl "reg rip" "0x401000"
	answer_is ctl "reg r15 18446744073709551615" "0xffffffffffffffff"
	[ "$(cat "$MNT/regs/r15")" = "0xffffffffffffffff" ]
}

@test "help lists every verb of the command language" {
	run ask ctl "help"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | awk '{ print $1 }' | sort -u)" = "$(printf '%s\n' \
		drop find_free_space help is_available is_mapped load_core \
		load_elf map map_anywhere protect read read_ptr reg restore \
		run save search show_mapinfo stack step stop string unmap \
		unmap_all write write_ptr |
		sort)" ]
}

@test "help VERB answers the usage of that verb" {
	answer_is ctl "help map" "map ADDR SIZE [PERMS] [LABEL]"
	answer_is ctl "help unmap" "unmap ADDR SIZE"
	answer_is ctl "help is_mapped" "is_mapped ADDR SIZE"
	answer_is ctl "help write_ptr" "write_ptr ADDR VALUE [size=1|2|4|8] [signed=true]"
	answer_is ctl "help unmap_all" "unmap_all (or: unmap all)"
	answer_is ctl "help stack" "stack push VALUE (or: stack_push VALUE)
stack pop (or: stack_pop)
stack read OFFSET (or: stack_read OFFSET)
stack write OFFSET VALUE (or: stack_write OFFSET VALUE)"
}

@test "a quoted label may hold blanks, quotes, backslashes and \\xNN escapes" {
	answer_is ctl 'map 0x10000 0x1000 rw- "my label"' ""
	answer_is ctl 'map 0x20000 0x1000 rw- "say \"hi\" \\ now"' ""
	answer_is ctl 'map 0x30000 0x1000 rw- "\x41\tB"' ""
	maps_are "0000000000010000-0000000000011000 rw- my label" \
		'0000000000020000-0000000000021000 rw- say "hi" \\ now' \
		'0000000000030000-0000000000031000 rw- A\x09B' "$STACK"
	[ "$(getfattr --only-values -n user.label "$MNT/regions/0000000000020000-0000000000021000")" = 'say "hi" \ now' ]
}

@test "several lines in one write run in order and answer in order" {
	answer_is ctl $'map 0x10000 0x1000\nwrite 0x10000 4142\nread 0x10000 2\nis_mapped 0x10000 0x1000' \
		"4142
true"
}

@test "several lines in one write stop at the first error; the lines before it stay done" {
	run ask ctl $'map 0x10000 0x1000\nis_mapped 0x10000 1\nmap 0x10000 0x1000\nmap 0x20000 0x1000'
	[ "$status" -eq 1 ]
	[ "$output" = "true
error: map: 0x10000-0x11000 overlaps the region 0x10000-0x11000" ]
	maps_are "0000000000010000-0000000000011000 rwx [mapped]" "$STACK"
}

@test "blank lines and # comments on ctl are skipped" {
	answer_is ctl $'\n# map 0x10000 0x1000\n\nis_mapped 0x10000 0x1000' "false"
	maps_are "$STACK"
}

@test "each open file description reads the answer of its own commands" {
	answer_is ctl "map 0x10000 0x1000" ""
	exec 4<>"$MNT/ctl" 5<>"$MNT/ctl"
	echo "is_mapped 0x10000 0x1000" >&4
	echo "is_mapped 0x20000 0x1000" >&5
	run cat <&5
	[ "$output" = "false" ]
	run cat <&4
	[ "$output" = "true" ]
	exec 4>&- 5>&-
}

@test "answers of several writes on one fd pile up until read, then read gives EOF" {
	exec 4<>"$MNT/ctl"
	echo "is_mapped 0x10000 1" >&4
	echo "reg sp" >&4
	run cat <&4
	[ "$output" = "false
0x7ffffffff000" ]
	run cat <&4
	[ "$output" = "" ]
	if echo "is_mapped 0x10000" >&4 2>/dev/null; then
		echo "the write of a failing command succeeded" >&2
		return 1
	fi
	run cat <&4
	[ "$output" = 'error: is_mapped: missing SIZE (usage: is_mapped ADDR SIZE)' ]
	echo "is_available 0x10000 1" >&4
	run cat <&4
	[ "$output" = "true" ]
	exec 4>&-
}
