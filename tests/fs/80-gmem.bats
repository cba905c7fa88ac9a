#!/usr/bin/env bats
# The gmem tool of SPEC §6: one command against a mount, the answer on
# stdout, errors as `gmem: MESSAGE` on stderr, exit 0, 1 or 2.

load helpers

bats_require_minimum_version 1.5.0

setup() {
	mount_guest
}

teardown() {
	unmount_guest
}

@test "gmem -C MNT VERB ARGS prints the answer and exits 0" {
	run --separate-stderr "$GMEM" -C "$MNT" map_anywhere 0x2000 r-- data min_addr=0x10000
	[ "$status" -eq 0 ]
	[ "$output" = "0x10000" ]
	[ "$stderr" = "" ]
	run --separate-stderr "$GMEM" -C "$MNT" read_ptr 0x7ffffffde000
	[ "$status" -eq 0 ]
	[ "$output" = "0x0" ]
	[ "$(cat "$MNT/maps")" = "0000000000010000-0000000000012000 r-- data
00007ffffffde000-00007ffffffff000 rw- [stack]" ]
}

@test "gmem prints a multi-line answer exactly as ctl gives it" {
	"$GMEM" -C "$MNT" map 0x10000 0x1000 r-x code
	[ "$("$GMEM" -C "$MNT" show_mapinfo)" = "$(cat "$MNT/maps")" ]
	diff <("$GMEM" -C "$MNT" show_mapinfo) <(ask ctl show_mapinfo)
}

@test "a command with no answer prints nothing and exits 0" {
	run --separate-stderr "$GMEM" -C "$MNT" map 0x10000 0x1000
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ "$stderr" = "" ]
}

@test "gmem uses \$GMEMFS_MOUNT when there is no -C" {
	run "$GMEM" is_mapped 0x7ffffffde000 0x21000
	[ "$status" -eq 0 ]
	[ "$output" = "true" ]
	cd "$BATS_TEST_TMPDIR"
	run env GMEMFS_MOUNT=mnt "$GMEM" reg rsp
	[ "$status" -eq 0 ]
	[ "$output" = "0x7ffffffff000" ]
}

@test "gmem uses the current directory without -C or \$GMEMFS_MOUNT" {
	# In a subshell: a shell left inside the mount would keep it busy.
	run bash -c 'cd "$1" && exec env -u GMEMFS_MOUNT "$2" reg sp' \
		bash "$MNT" "$GMEM"
	[ "$status" -eq 0 ]
	[ "$output" = "0x7ffffffff000" ]
}

@test "-C wins over \$GMEMFS_MOUNT" {
	run env GMEMFS_MOUNT=/nonexistent "$GMEM" -C "$MNT" reg sp
	[ "$status" -eq 0 ]
	[ "$output" = "0x7ffffffff000" ]
}

@test "a failing command prints gmem: MESSAGE on stderr and exits 1" {
	run --separate-stderr "$GMEM" -C "$MNT" map 0x7ffffffde000 0x1000
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = "gmem: map: 0x7ffffffde000-0x7ffffffdf000 overlaps the region 0x7ffffffde000-0x7ffffffff000" ]
	run --separate-stderr "$GMEM" -C "$MNT" read 0x10000 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "gmem: read: 0x10000 is not mapped" ]
	[ "$(tail -n 1 "$MNT/log")" = "read 0x10000 1 -> error: read: 0x10000 is not mapped" ]
}

@test "gmem is_mapped and is_available exit 1 for false, for use in if" {
	run "$GMEM" -C "$MNT" is_mapped 0x10000 0x1000
	[ "$status" -eq 1 ]
	[ "$output" = "false" ]
	run "$GMEM" -C "$MNT" is_available 0x7ffffffde000 0x1000
	[ "$status" -eq 1 ]
	[ "$output" = "false" ]
	run "$GMEM" -C "$MNT" is_available 0x10000 0x1000
	[ "$status" -eq 0 ]
	[ "$output" = "true" ]
	if "$GMEM" -C "$MNT" is_mapped 0x10000 0x1000 >/dev/null; then
		false
	fi
	"$GMEM" -C "$MNT" is_mapped 0x7ffffffde000 0x1000 >/dev/null
}

@test "other commands that answer false still exit 0" {
	"$GMEM" -C "$MNT" map 0x10000 0x1000
	"$GMEM" -C "$MNT" string 0x10000 false
	run "$GMEM" -C "$MNT" string 0x10000
	[ "$status" -eq 0 ]
	[ "$output" = "false" ]
}

@test "usage errors exit 2 and change nothing" {
	local before usage="usage: gmem [-C MOUNTPOINT] VERB [ARGS...]
       gmem stack
       gmem snapshot info FILE
       gmem snapshot diff FILE1 FILE2
       gmem snapshot core FILE > OUT
       gmem help [VERB] | -h | --help | -V | --version"
	before=$(cat "$MNT/log")
	run --separate-stderr "$GMEM"
	[ "$status" -eq 2 ]
	[ "$output" = "" ]
	[ "$stderr" = "$usage" ]
	run --separate-stderr "$GMEM" -C
	[ "$status" -eq 2 ]
	[ "$stderr" = "gmem: -C needs a MOUNTPOINT
$usage" ]
	run --separate-stderr "$GMEM" -Z -C "$MNT" reg sp
	[ "$status" -eq 2 ]
	[ "$stderr" = "gmem: unknown option -Z
$usage" ]
	run --separate-stderr "$GMEM" --bogus -C "$MNT" reg sp
	[ "$status" -eq 2 ]
	[ "$stderr" = "gmem: unknown option --bogus
$usage" ]
	run --separate-stderr "$GMEM" -C "$MNT"
	[ "$status" -eq 2 ]
	[ "$(cat "$MNT/log")" = "$before" ]
}

# gmem_nomount ARGS...: gmem run where there is no mount at all.
gmem_nomount() {
	(cd "$BATS_TEST_TMPDIR" && exec env -u GMEMFS_MOUNT "$GMEM" "$@")
}

@test "gmem --help and -h print the usage and every verb without a mount, exit 0" {
	run --separate-stderr gmem_nomount --help
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "${lines[0]}" = "usage: gmem [-C MOUNTPOINT] VERB [ARGS...]" ]
	# every usage line of the daemon's help, indented, in its order
	diff <(printf '%s\n' "${lines[@]}" | sed -n 's/^  \([^ ]\)/\1/p') <(ask ctl help)
	run --separate-stderr gmem_nomount -h
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "usage: gmem [-C MOUNTPOINT] VERB [ARGS...]" ]
	# options after -C still count
	run gmem_nomount -C /nonexistent --help
	[ "$status" -eq 0 ]
}

@test "gmem help [VERB] answers without a mount exactly as ctl's help does" {
	run --separate-stderr gmem_nomount help
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "$(ask ctl help)" ]
	[ "${lines[0]}" = "map ADDR SIZE [PERMS] [LABEL]" ]
	run --separate-stderr gmem_nomount help map
	[ "$status" -eq 0 ]
	[ "$output" = "map ADDR SIZE [PERMS] [LABEL]" ]
	run gmem_nomount help stack
	[ "$status" -eq 0 ]
	[ "$output" = "$(ask ctl "help stack")" ]
	[ "${#lines[@]}" -eq 4 ]
	run gmem_nomount help stack_pop
	[ "$output" = "stack pop (or: stack_pop)" ]
}

@test "gmem help of no verb says so and exits 1; too many words is an error too" {
	run --separate-stderr gmem_nomount help nosuch
	[ "$status" -eq 1 ]
	[ "$output" = "" ]
	[ "$stderr" = 'gmem: help: no verb "nosuch" ("help" lists them)' ]
	run --separate-stderr gmem_nomount help a b c
	[ "$status" -eq 1 ]
	[ "$stderr" = 'gmem: help: too many arguments at "c" (usage: help [VERB])' ]
}

@test "gmem --version and -V print the version without a mount, exit 0" {
	local version
	version=$(awk '$1 == "version" { print $2 }' "$MNT/info")
	run --separate-stderr gmem_nomount --version
	[ "$status" -eq 0 ]
	[ "$output" = "gmem $version" ]
	[ "$stderr" = "" ]
	run gmem_nomount -V
	[ "$status" -eq 0 ]
	[ "$output" = "gmem $version" ]
}

@test "a bare gmem stack lists the stack as cat MNT/stack does" {
	"$GMEM" stack push 0x41
	"$GMEM" stack push 0x42
	run --separate-stderr "$GMEM" stack
	[ "$status" -eq 0 ]
	[ "$stderr" = "" ]
	[ "$output" = "$(cat "$MNT/stack")" ]
	[ "${lines[0]}" = "+0x0 0x7fffffffeff0 0x42" ]
	[ "${lines[1]}" = "+0x8 0x7fffffffeff8 0x41" ]
	# the subcommands still run
	run "$GMEM" stack pop
	[ "$output" = "0x42" ]
	run --separate-stderr gmem_nomount stack
	[ "$status" -eq 1 ]
	[ "$stderr" = "gmem: . is not a gmemfs mount" ]
}

@test "gmem refuses a directory that is not a gmemfs mount, exit 1" {
	run --separate-stderr "$GMEM" -C "$BATS_TEST_TMPDIR" reg sp
	[ "$status" -eq 1 ]
	[ "$stderr" = "gmem: $BATS_TEST_TMPDIR is not a gmemfs mount" ]
	run --separate-stderr "$GMEM" -C "$BATS_TEST_TMPDIR/nonexistent" reg sp
	[ "$status" -eq 1 ]
	[ "$stderr" = "gmem: $BATS_TEST_TMPDIR/nonexistent: No such file or directory" ]
}

@test "an argument with blanks, quotes and backslashes reaches the daemon intact" {
	local label='my "big" \ label	tab'
	"$GMEM" -C "$MNT" map 0x10000 0x1000 rw- "$label"
	[ "$(getfattr --only-values -n user.label "$MNT/regions/0000000000010000-0000000000011000")" = "$label" ]
	[ "$(head -n 1 "$MNT/maps")" = '0000000000010000-0000000000011000 rw- my "big" \\ label\x09tab' ]
	"$GMEM" -C "$MNT" string 0x10000 "$label"
	[ "$("$GMEM" -C "$MNT" string 0x10000)" = "$label" ]
}

@test "an argument with a newline, a leading # or nothing at all stays one argument" {
	"$GMEM" -C "$MNT" map 0x10000 0x1000 rw- $'two\nlines'
	"$GMEM" -C "$MNT" map 0x20000 0x1000 rw- '#hash'
	"$GMEM" -C "$MNT" map 0x30000 0x1000 rw- ''
	[ "$(cat "$MNT/maps")" = '0000000000010000-0000000000011000 rw- two\x0alines
0000000000020000-0000000000021000 rw- #hash
0000000000030000-0000000000031000 rw- 
00007ffffffde000-00007ffffffff000 rw- [stack]' ]
}

@test "gmem runs one command: a command after a newline in an argument is part of it" {
	"$GMEM" -C "$MNT" map 0x10000 0x1000 rw- 'x
unmap_all'
	[ "$(wc -l <"$MNT/maps")" -eq 2 ]
	[ "$(tail -n 1 "$MNT/log")" = 'map 0x10000 0x1000 rw- "x\nunmap_all" -> ok' ]
}
