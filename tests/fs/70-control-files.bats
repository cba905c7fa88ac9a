#!/usr/bin/env bats
# The control files bound to one verb (map, unmap, save, restore, stack) and
# snapshots through them: writing ARGS is writing VERB ARGS to ctl, and a
# restore gives back exactly the saved maps, bytes and registers.

load helpers

STACK='00007ffffffde000-00007ffffffff000 rw- [stack]'

teardown() {
	unmount_guest
}

# same_state EXPECTED: the guest_state is EXPECTED, else show the diff.
same_state() {
	local now
	now=$(guest_state)
	if [ "$now" != "$1" ]; then
		diff -u <(echo "$1") <(echo "$now") >&2
		return 1
	fi
}

@test "writing ARGS to map is map ARGS on ctl" {
	mount_guest
	echo "0x10000 0x2000 r-x code" >"$MNT/map"
	answer_is map '0x20000 0x1000 rw- "two words"' ""
	answer_is map "0x30000 4k" ""
	[ "$(cat "$MNT/maps")" = "0000000000010000-0000000000012000 r-x code
0000000000020000-0000000000021000 rw- two words
0000000000030000-0000000000031000 rwx [mapped]
$STACK" ]
	[ "$(tail -n 3 "$MNT/log")" = 'map 0x10000 0x2000 r-x code -> ok
map 0x20000 0x1000 rw- "two words" -> ok
map 0x30000 4k -> ok' ]
}

@test "writing ARGS to unmap is unmap ARGS on ctl, and all unmaps everything" {
	mount_guest
	echo "0x10000 0x3000" >"$MNT/map"
	echo "0x11000 0x1000" >"$MNT/unmap"
	[ "$(cat "$MNT/maps")" = "0000000000010000-0000000000011000 rwx [mapped]
0000000000012000-0000000000013000 rwx [mapped]
$STACK" ]
	answer_is unmap "all" ""
	[ "$(cat "$MNT/maps")" = "" ]
}

@test "echo > save saves under the default name; save NAME answers the name" {
	mount_guest
	echo >"$MNT/save"
	[ "$(ls "$MNT/snapshots")" = "snap-1" ]
	answer_is save "" "snap-2"
	answer_is save "mine" "mine"
	[ "$(ls "$MNT/snapshots")" = "mine
snap-1
snap-2" ]
}

@test "echo NAME > restore restores that snapshot, echo > restore the newest" {
	mount_guest
	echo "0x10000 0x1000" >"$MNT/map"
	echo first >"$MNT/save"
	echo "0x20000 0x1000" >"$MNT/map"
	echo second >"$MNT/save"
	echo "0x30000 0x1000" >"$MNT/map"
	echo first >"$MNT/restore"
	[ "$(cat "$MNT/maps")" = "0000000000010000-0000000000011000 rwx [mapped]
$STACK" ]
	echo >"$MNT/restore"
	[ "$(cat "$MNT/maps")" = "0000000000010000-0000000000011000 rwx [mapped]
0000000000020000-0000000000021000 rwx [mapped]
$STACK" ]
}

@test "push VALUE on the stack file answers the new SP and writes the word there" {
	mount_guest
	answer_is stack "push 0x41" "0x7fffffffeff8"
	echo "push 0x42" >"$MNT/stack"
	[ "$(cat "$MNT/regs/rsp")" = "0x7fffffffeff0" ]
	[ "$(xxd -p -s 0x7fffffffeff0 -l 16 "$MNT/mem")" = "42000000000000004100000000000000" ]
}

@test "reading the stack file lists the words from SP to the end of its region" {
	mount_guest
	[ "$(cat "$MNT/stack")" = "" ]
	echo "push 0x41" >"$MNT/stack"
	echo "push 0x1122334455667788" >"$MNT/stack"
	echo "push 0" >"$MNT/stack"
	[ "$(cat "$MNT/stack")" = "+0x0 0x7fffffffefe8 0x0
+0x8 0x7fffffffeff0 0x1122334455667788
+0x10 0x7fffffffeff8 0x41" ]
}

@test "the stack listing starts at SP wherever it is in its region" {
	mount_guest
	echo "reg rsp 0x7fffffffefe0" >"$MNT/ctl"
	echo "write 0x7fffffffefe0 0100000000000000" >"$MNT/ctl"
	[ "$(cat "$MNT/stack")" = "+0x0 0x7fffffffefe0 0x1
+0x8 0x7fffffffefe8 0x0
+0x10 0x7fffffffeff0 0x0
+0x18 0x7fffffffeff8 0x0" ]
}

@test "pop, read and write on the stack file, with positive and negative offsets" {
	mount_guest
	echo "push 0x41" >"$MNT/stack"
	echo "push 0x42" >"$MNT/stack"
	answer_is stack "read 0" "0x42"
	answer_is stack "read 8" "0x41"
	answer_is stack "write 8 0x99" ""
	answer_is stack "read 0x8" "0x99"
	answer_is stack "pop" "0x42"
	[ "$(cat "$MNT/regs/rsp")" = "0x7fffffffeff8" ]
	answer_is stack "read -8" "0x42"
	answer_is stack "write -0x8 0x7" ""
	answer_is stack "read -8" "0x7"
	answer_is stack "pop" "0x99"
	[ "$(cat "$MNT/regs/rsp")" = "0x7ffffffff000" ]
	[ "$(cat "$MNT/stack")" = "" ]
}

@test "stack VERB on ctl and the stack_push… aliases do what the stack file does" {
	mount_guest
	answer_is ctl "stack push 0x41" "0x7fffffffeff8"
	answer_is ctl "stack_push 0x42" "0x7fffffffeff0"
	answer_is ctl "stack read 8" "0x41"
	answer_is ctl "stack_read 0" "0x42"
	answer_is ctl "stack write 0 0x43" ""
	answer_is ctl "stack_write 8 0x44" ""
	answer_is ctl "stack pop" "0x43"
	answer_is ctl "stack_pop" "0x44"
	answer_is ctl "reg rsp" "0x7ffffffff000"
}

@test "the x86 stack is Qiling's 32-bit default and holds 4-byte words" {
	mount_guest --arch x86
	[ "$(cat "$MNT/maps")" = "7ff0d000-7ff3d000 rw- [stack]" ]
	[ "$(cat "$MNT/regs/esp")" = "0x7ff3d000" ]
	answer_is stack "push 0x41" "0x7ff3cffc"
	answer_is ctl "stack_push 0xdeadbeef" "0x7ff3cff8"
	[ "$(xxd -p -s 0x7ff3cff8 -l 8 "$MNT/mem")" = "efbeadde41000000" ]
	[ "$(cat "$MNT/stack")" = "+0x0 0x7ff3cff8 0xdeadbeef
+0x4 0x7ff3cffc 0x41" ]
	answer_is stack "read 4" "0x41"
	answer_is stack "pop" "0xdeadbeef"
	[ "$(cat "$MNT/regs/esp")" = "0x7ff3cffc" ]
}

@test "a big-endian mips stack lists its words in guest order" {
	mount_guest --arch mips
	answer_is stack "push 0x11223344" "0x7ff3cffc"
	[ "$(xxd -p -s 0x7ff3cffc -l 4 "$MNT/mem")" = "11223344" ]
	[ "$(cat "$MNT/stack")" = "+0x0 0x7ff3cffc 0x11223344" ]
}

# scene: regions with bytes, permissions, labels and registers to save.
scene() {
	mount_guest
	echo "0x10000 0x3000 r-x code" >"$MNT/map"
	echo "0x20000 0x2000 rw- data" >"$MNT/map"
	echo "write 0x10000 554889e5c3" >"$MNT/ctl"
	echo "write 0x21ff0 $(printf '%02x' {1..16})" >"$MNT/ctl"
	echo "write 0x7fffffffeff8 4142434445464748" >"$MNT/ctl"
	echo "reg rax 0x1234" >"$MNT/ctl"
	echo "reg rip 0x10000" >"$MNT/ctl"
	echo "reg rsp 0x7fffffffeff8" >"$MNT/ctl"
	saved=$(guest_state)
	echo saved >"$MNT/save"
}

@test "restore after unmap_all gives back the saved maps, bytes and registers" {
	scene
	echo "unmap_all" >"$MNT/ctl"
	echo "reg rax 0" >"$MNT/ctl"
	echo saved >"$MNT/restore"
	same_state "$saved"
	[ "$(cat "$MNT/maps")" = "0000000000010000-0000000000013000 r-x code
0000000000020000-0000000000022000 rw- data
$STACK" ]
}

@test "restore after new maps and changed bytes unmaps the new regions and restores the bytes" {
	scene
	echo "0x30000 0x1000" >"$MNT/map"
	echo "0x13000 0x1000" >"$MNT/map"
	echo "write 0x10000 00" >"$MNT/ctl"
	echo "write 0x21fff ff" >"$MNT/ctl"
	echo "push 0x1" >"$MNT/stack"
	echo "reg r8 0x8" >"$MNT/ctl"
	echo saved >"$MNT/restore"
	same_state "$saved"
}

@test "restore after protect, partial unmap and a label change gives back the saved regions" {
	scene
	echo "protect 0x11000 0x1000 rwx" >"$MNT/ctl"
	echo "protect 0x20000 0x2000 ---" >"$MNT/ctl"
	echo "0x12000 0x1000" >"$MNT/unmap"
	setfattr -n user.label -v changed "$MNT/regions/0000000000020000-0000000000022000"
	echo "reg rax 0x9" >"$MNT/ctl"
	echo saved >"$MNT/restore"
	same_state "$saved"
}

@test "restore twice in a row gives the same guest" {
	scene
	echo "unmap all" >"$MNT/ctl"
	echo >"$MNT/restore"
	echo "0x40000 0x1000" >"$MNT/map"
	echo "reg rip 0x40000" >"$MNT/ctl"
	echo >"$MNT/restore"
	same_state "$saved"
}

# follows FLAG: tail FLAG log shows each command logged after it started,
# also once more lines than the log keeps have gone by.
follows() {
	mount_guest
	local i out=$BATS_TEST_TMPDIR/tail.out
	tail "$1" -n 2 -s 0.1 "$MNT/log" >"$out" 2>"$BATS_TEST_TMPDIR/tail.err" &
	local tail_pid=$!
	sleep 0.5
	echo first >"$MNT/save"
	for ((i = 0; i < 50; i++)); do
		grep -q '^save first -> first$' "$out" && break
		sleep 0.1
	done
	# past the 1000 lines kept: the oldest go, the offsets go on (a
	# reader 1000 lines behind would skip to the oldest kept line)
	python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
for k in range(3):
    os.write(fd, b"".join(b"is_mapped 0x%x 0x1000\n" % i for i in range(400)))
    time.sleep(0.5)
' "$MNT/ctl"
	echo last >"$MNT/save"
	for ((i = 0; i < 50; i++)); do
		grep -q '^save last -> last$' "$out" && break
		sleep 0.1
	done
	kill "$tail_pid"
	wait "$tail_pid" || true
	grep -q '^save first -> first$' "$out"
	grep -q '^save last -> last$' "$out"
	[ "$(grep -c '^is_mapped' "$out")" = 1200 ]
	! grep -q truncated "$BATS_TEST_TMPDIR/tail.err"
	# and cat reads the kept lines from its offset 0 on
	[ "$(cat "$MNT/log" | wc -l)" = 1000 ]
	[ "$(tail -n 1 "$MNT/log")" = 'save last -> last' ]
}

@test "tail -f log shows new commands as they come" {
	follows -f
}

@test "tail -F log shows new commands as they come" {
	follows -F
}
