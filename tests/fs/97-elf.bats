#!/usr/bin/env bats
# SPEC §9 through the mount, with files nobody here wrote as far as we
# could: busybox-static, cross-compiled programs run to their end under a
# kernel played in shell, gcore and qemu-user dumps, and the core file read
# by readelf and gdb and loaded back. GM_TEST_PROGS is tests/fs's build dir
# (meson.build builds progs/hello.c there for each cross compiler found).

load helpers

: "${GM_TEST_PROGS:=$_helpers_root/build/tests/fs}"

teardown() {
	unmount_guest
	[ -z "${SECOND_PID-}" ] || unmount_second
	[ -z "${SLEEP_PID-}" ] || kill "$SLEEP_PID" 2>/dev/null || true
}

# start_refused OPTIONS...: gmemfs with OPTIONS exits with status 2 before
# mounting, with one line on stderr, in $output.
start_refused() {
	mkdir -p "$BATS_TEST_TMPDIR/mnt"
	run "$GMEMFS" -f "$@" "$BATS_TEST_TMPDIR/mnt"
	if [ "$status" -ne 2 ] || [ "${#lines[@]}" -ne 1 ]; then
		echo "status $status, expected 2 and one line: $output" >&2
		return 1
	fi
	! is_mounted "$BATS_TEST_TMPDIR/mnt"
}

# mount_second OPTIONS...: a second guest on $MNT2 (for round trips).
mount_second() {
	MNT2=$BATS_TEST_TMPDIR/mnt2
	mkdir -p "$MNT2"
	"$GMEMFS" -f "$@" "$MNT2" >"$BATS_TEST_TMPDIR/daemon2.log" 2>&1 3>&- \
		</dev/null &
	SECOND_PID=$!
	local i
	for ((i = 0; i < 200; i++)); do
		mountpoint -q "$MNT2" && return 0
		sleep 0.05
	done
	cat "$BATS_TEST_TMPDIR/daemon2.log" >&2
	return 1
}

unmount_second() {
	fusermount3 -u "$MNT2" 2>/dev/null || fusermount3 -uz "$MNT2"
	wait "$SECOND_PID"
	unset SECOND_PID
}

# prog ARCH: the path of hello for ARCH, or skip the test.
prog() {
	local p=$GM_TEST_PROGS/hello-$1
	[ -x "$p" ] || skip "hello-$1 not built (no cross compiler)"
	echo "$p"
}

# The PT_LOAD lines of readelf -lW FILE as "OFFSET VADDR FILESZ MEMSZ FLAGS",
# the flags as rwx letters.
load_segments() {
	readelf -lW "$1" | awk '$1 == "LOAD" {
		f = ""
		for (i = 7; i < NF; i++)
			f = f $i
		perms = (f ~ /R/ ? "r" : "-") (f ~ /W/ ? "w" : "-") \
			(f ~ /E/ ? "x" : "-")
		print $2, $3, $5, $6, perms }'
}

# maps_of_elf FILE LABEL PAGE: the maps lines SPEC §9 gives FILE's PT_LOADs
# (page-rounded; pages two segments share are one region, the union of
# their permissions; these files have none), labelled LABEL.
maps_of_elf() {
	local off va fsz msz perms digits=16
	readelf -hW "$1" | grep -q 'ELF32' && digits=8
	load_segments "$1" | while read -r off va fsz msz perms; do
		local start=$((va & ~($3 - 1)))
		local end=$(((va + msz + $3 - 1) & ~($3 - 1)))
		printf '%0*x-%0*x %s %s\n' $digits "$start" $digits "$end" \
			"$perms" "$2"
	done
}

@test "--elf /bin/busybox: maps match readelf -lW segment by segment, the file's bytes, zeros in bss, pc at the entry" {
	local busybox=/bin/busybox
	mount_guest --elf "$busybox" --arg echo --arg hi
	diff -u <(maps_of_elf "$busybox" busybox 4096) \
		<(grep ' busybox$' "$MNT/maps")
	local off va fsz msz perms n=0
	while read -r off va fsz msz perms; do
		cmp <(tail -c +$((off + 1)) "$busybox" | head -c $((fsz))) \
			<(dd if="$MNT/mem" iflag=skip_bytes,count_bytes \
				skip=$((va)) count=$((fsz)) status=none)
		if [ $((msz)) -gt $((fsz)) ]; then
			cmp <(head -c $((msz - fsz)) /dev/zero) \
				<(dd if="$MNT/mem" iflag=skip_bytes,count_bytes \
					skip=$((va + fsz)) count=$((msz - fsz)) \
					status=none)
			n=$((n + 1))
		fi
	done < <(load_segments "$busybox")
	[ "$n" -ge 1 ] # a bss was checked
	local entry
	entry=$(readelf -hW "$busybox" | awk '/Entry point/ { print $4 }')
	file_is regs/pc "$entry"
	[ "$("$GMEM" stack read 0)" = 0x3 ] # busybox echo hi
}

# stack_is PROG WORD ARGS...: the initial stack of a guest started with
# --elf PROG --arg ARGS: argc, argv strings, NULLs, and the auxv entries
# read back with read_ptr (WORD: the pointer size).
stack_is() {
	local p=$1 w=$2 sp i
	shift 2
	sp=$(cat "$MNT/regs/sp")
	[ $((sp % 16)) -eq 0 ]
	[ "$("$GMEM" read_ptr "$sp")" = "$(printf '0x%x' $(($# + 1)))" ]
	local args=("$p" "$@")
	for i in "${!args[@]}"; do
		local a
		a=$("$GMEM" read_ptr $((sp + (i + 1) * w)))
		[ "$("$GMEM" string "$a")" = "${args[$i]}" ]
	done
	local at=$((sp + (${#args[@]} + 1) * w))
	[ "$("$GMEM" read_ptr $at)" = 0x0 ]       # argv's NULL
	[ "$("$GMEM" read_ptr $((at + w)))" = 0x0 ] # the empty envp
	at=$((at + 2 * w))
	declare -A aux
	for ((i = 0; i < 32; i++)); do
		local k v
		k=$("$GMEM" read_ptr $at)
		v=$("$GMEM" read_ptr $((at + w)))
		aux[$((k))]=$v
		at=$((at + 2 * w))
		[ "$k" != 0x0 ] || break
	done
	local entry phnum
	entry=$(readelf -hW "$p" | awk '/Entry point/ { print $4 }')
	phnum=$(readelf -hW "$p" | awk '/Number of program headers/ { print $5 }')
	[ "${aux[9]}" = "$entry" ]                      # AT_ENTRY
	[ "${aux[5]}" = "$(printf '0x%x' "$phnum")" ]   # AT_PHNUM
	[ "${aux[4]}" = "$(printf '0x%x' $((w == 8 ? 56 : 32)))" ] # AT_PHENT
	[ "${aux[6]}" = 0x1000 ]                        # AT_PAGESZ
	[ "${aux[0]}" = 0x0 ]                           # AT_NULL ends it
	# AT_PHDR: the program headers, as in the file (first segment at 0)
	local phoff first
	phoff=$(readelf -hW "$p" | awk '/Start of program headers/ { print $5 }')
	first=$(load_segments "$p" | awk 'NR == 1 { print $2 }')
	[ "${aux[3]}" = "$(printf '0x%x' $((first + phoff)))" ]
	cmp <(tail -c +$((phoff + 1)) "$p" | head -c $((phnum * (w == 8 ? 56 : 32)))) \
		<(dd if="$MNT/mem" iflag=skip_bytes,count_bytes \
			skip=$((aux[3])) count=$((phnum * (w == 8 ? 56 : 32))) \
			status=none)
	# AT_RANDOM: 16 bytes inside the stack, above SP
	[ $((aux[25])) -gt $((sp)) ]
	"$GMEM" is_mapped "${aux[25]}" 16
}

# shell_kernel ARCH: run the guest, serving write and exit at each syscall
# stop as Linux would; the program's output goes to stdout and its exit
# code to $BATS_TEST_TMPDIR/exit.
shell_kernel() {
	local nr_reg a0 a1 a2 ret sys_write sys_exit
	case $1 in
	x86_64) nr_reg=rax a0=rdi a1=rsi a2=rdx ret=rax sys_write=1 sys_exit=60 ;;
	arm64) nr_reg=x8 a0=x0 a1=x1 a2=x2 ret=x0 sys_write=64 sys_exit=93 ;;
	arm) nr_reg=r7 a0=r0 a1=r1 a2=r2 ret=r0 sys_write=4 sys_exit=1 ;;
	mips) nr_reg=v0 a0=a0 a1=a1 a2=a2 ret=v0 sys_write=4004 sys_exit=4001 ;;
	riscv64) nr_reg=a7 a0=a0 a1=a1 a2=a2 ret=a0 sys_write=64 sys_exit=93 ;;
	esac
	local i stop nr
	for ((i = 0; i < 100; i++)); do
		stop=$("$GMEM" run timeout=10s) || {
			echo "run: $stop" >&2
			return 1
		}
		[[ $stop == "syscall "* ]] || {
			echo "not a syscall stop: $stop" >&2
			return 1
		}
		nr=$((${stop##*nr=}))
		[ "$nr" -eq $(($(cat "$MNT/regs/$nr_reg"))) ]
		if [ "$nr" -eq "$sys_write" ]; then
			local fd buf len
			fd=$(($(cat "$MNT/regs/$a0")))
			buf=$(cat "$MNT/regs/$a1")
			len=$(cat "$MNT/regs/$a2")
			[ "$fd" -eq 1 ]
			"$GMEM" read "$buf" "$len" | xxd -r -p
			echo "$len" >"$MNT/regs/$ret"
			[ "$1" != mips ] || echo 0 >"$MNT/regs/a3"
		elif [ "$nr" -eq "$sys_exit" ]; then
			echo $(($(cat "$MNT/regs/$a0") & 0xff)) \
				>"$BATS_TEST_TMPDIR/exit"
			return 0
		else
			echo "unexpected system call $nr" >&2
			return 1
		fi
	done
	return 1
}

# runs_to_its_end ARCH WORD: hello for ARCH, started with --elf and two
# arguments, has the initial stack of Linux and prints its lines and
# exits 43 under the shell kernel.
runs_to_its_end() {
	local p
	p=$(prog "$1")
	mount_guest --elf "$p" --arg "first arg" --arg two
	info_is arch "$1"
	file_is regs/pc "$(readelf -hW "$p" | awk '/Entry point/ { print $4 }')"
	stack_is "$p" "$2" "first arg" two
	run shell_kernel "$1"
	[ "$status" -eq 0 ] || {
		echo "$output" >&2
		return 1
	}
	[ "$output" = $'hello from the guest\nfirst arg' ]
	[ "$(cat "$BATS_TEST_TMPDIR/exit")" = 43 ]
}

@test "hello for x86_64 runs to its end under a shell kernel" {
	runs_to_its_end x86_64 8
}

@test "hello for arm64 runs to its end under a shell kernel" {
	runs_to_its_end arm64 8
}

@test "hello for arm runs to its end under a shell kernel" {
	runs_to_its_end arm 4
}

@test "hello for mips (big endian) runs to its end under a shell kernel" {
	runs_to_its_end mips 4
}

@test "hello for riscv64 runs to its end under a shell kernel" {
	runs_to_its_end riscv64 8
}

@test "--elf of another architecture's file takes it from the file; with --arch it must agree" {
	local p
	p=$(prog arm)
	start_refused --arch x86_64 --elf "$p"
	[[ $output == "gmemfs: --elf $p: "*arm*x86_64* ]]
	mount_guest --arch arm --elf "$p"
	info_is arch arm
	diff -u <(maps_of_elf "$p" hello-arm 1024) <(grep ' hello-arm$' "$MNT/maps")
}

# live_sleep: start sleep 100, wait until it runs sleep, set SLEEP_PID.
live_sleep() {
	sleep 100 &
	SLEEP_PID=$!
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q '/usr/bin/sleep\|/bin/sleep' "/proc/$SLEEP_PID/maps" &&
			return 0
		sleep 0.05
	done
	return 1
}

# gcore_of_sleep: a gcore dump of a live sleep in $CORE, and in $WANT
# "ADDR HEX" lines of 32 bytes at the start of each readable file mapping,
# read from /proc/PID/mem before the dump.
gcore_of_sleep() {
	command -v gcore >/dev/null || skip "gcore: install gdb (tools/deps)"
	live_sleep
	WANT=$BATS_TEST_TMPDIR/want
	awk '$2 ~ /^r/ && $6 ~ /^\// { split($1, r, "-"); print r[1] }' \
		"/proc/$SLEEP_PID/maps" | while read -r a; do
		printf '%x %s\n' $((0x$a)) "$(dd if="/proc/$SLEEP_PID/mem" \
			iflag=skip_bytes,count_bytes skip=$((0x$a)) count=32 \
			status=none | xxd -p -c 64)"
	done >"$WANT"
	[ -s "$WANT" ]
	gcore -o "$BATS_TEST_TMPDIR/core" "$SLEEP_PID" >/dev/null 2>&1 ||
		skip "gcore failed (ptrace not allowed here?)"
	CORE=$BATS_TEST_TMPDIR/core.$SLEEP_PID
	kill "$SLEEP_PID"
	unset SLEEP_PID
}

# is_the_sleep_process CORE: the guest is the sleep of gcore_of_sleep:
# labels, bytes, and the registers gdb reads in CORE.
is_the_sleep_process() {
	grep -q ' /usr/bin/sleep$' "$MNT/maps"
	grep -q ' /usr/lib/x86_64-linux-gnu/libc.so.6$' "$MNT/maps"
	# gcore leaves out file pages it takes for unchanged (text)
	local addr hex n=0
	while read -r addr hex; do
		"$GMEM" is_mapped $((0x$addr)) 32 >/dev/null || continue
		bytes_are $((0x$addr)) "$hex"
		n=$((n + 1))
	done <"$WANT"
	[ "$n" -ge 4 ]
	# every register gdb prints that the tree has, as gdb prints it
	local name value rest m=0
	while read -r name value rest; do
		[ -e "$MNT/regs/$name" ] || continue
		[ "$(cat "$MNT/regs/$name")" = "$value" ] || {
			echo "$name: $(cat "$MNT/regs/$name"), gdb $value" >&2
			return 1
		}
		m=$((m + 1))
	done < <(gdb -nx -batch -c "$1" -ex 'info registers' 2>/dev/null |
		grep -E '^[a-z0-9_]+ +0x')
	[ "$m" -ge 17 ] # rax…r15, rip, eflags at least
}

@test "--core of a gcore dump of a live sleep: labels, /proc/PID/mem's bytes, gdb's registers" {
	gcore_of_sleep
	mount_guest --core "$CORE"
	info_is arch x86_64
	is_the_sleep_process "$CORE"
}

@test "load_core of a gcore dump into a running mount replaces the guest" {
	gcore_of_sleep
	mount_guest --map 0x10000:0x1000
	"$GMEM" save before
	"$GMEM" load_core "$CORE"
	! grep -q '\[mapped\]' "$MNT/maps"
	is_the_sleep_process "$CORE"
	ls "$MNT/snapshots" | grep -qx before # snapshots stay
}

# qemu_core ARCH QEMU: the core qemu-user writes for hello-crash-ARCH, in
# $CORE (skip without qemu or the program).
qemu_core() {
	local p=$GM_TEST_PROGS/crash-$1
	[ -x "$p" ] || skip "crash-$1 not built (no cross compiler)"
	command -v "qemu-$2-static" >/dev/null || skip "no qemu-$2-static"
	local dir=$BATS_TEST_TMPDIR/qemu
	mkdir -p "$dir"
	(cd "$dir" && ulimit -c unlimited && "qemu-$2-static" "$p") \
		>/dev/null 2>&1 || true
	CORE=$(ls "$dir"/*.core | head -1)
	[ -s "$CORE" ]
}

# crashed_in_main ARCH: the guest is crash-ARCH as it died: pc in main,
# the store's address (16) and value (0x12345678) in registers; and its
# core file loads into a fresh mount as the same guest.
crashed_in_main() {
	local main pc
	main=$(nm "$GM_TEST_PROGS/crash-$1" | awk '$3 == "main" { print $1 }')
	pc=$(cat "$MNT/regs/pc")
	[ $((pc)) -ge $((0x$main & ~1)) ] && [ $((pc)) -lt $((0x$main + 64)) ]
	grep -rqx 0x10 "$MNT/regs"
	grep -rqx 0x12345678 "$MNT/regs"
	"$GMEM" save a
	mount_second --arch "$1"
	GMEMFS_MOUNT=$MNT2 "$GMEM" load_core "$MNT/core"
	GMEMFS_MOUNT=$MNT2 "$GMEM" save b
	"$GMEM" snapshot diff "$MNT/snapshots/a" "$MNT2/snapshots/b"
}

@test "--core of a qemu-mips core (32-bit, big endian): arch from the file, the crash's pc and operands, round trip" {
	qemu_core mips mips
	mount_guest --core "$CORE"
	info_is arch mips
	info_is endian big
	readelf -hW "$MNT/core" | grep -q "big endian"
	readelf -hW "$MNT/core" | grep -q "ELF32"
	crashed_in_main mips
}

@test "--core of a qemu-arm core (32-bit, Thumb-2) and a qemu-aarch64 one: the crash's pc and operands, round trip" {
	qemu_core arm arm
	mount_guest --core "$CORE"
	info_is arch arm
	[ $(($(cat "$MNT/regs/cpsr") & 0x20)) -ne 0 ] # Thumb state kept
	crashed_in_main arm
	unmount_second
	unmount_guest
	rm -rf "$BATS_TEST_TMPDIR/qemu"
	qemu_core arm64 aarch64
	mount_guest --core "$CORE"
	info_is arch arm64
	crashed_in_main arm64
}

# core_lists_the_guest CORE: readelf lists every region of maps as a
# PT_LOAD with its range and flags, and the NT_PRSTATUS and NT_FILE notes;
# each region's file bytes are the guest's.
core_lists_the_guest() {
	local off va fsz msz perms start end label
	diff -u <(while read -r off va fsz msz perms; do
		printf '%x %x %s\n' $((va)) $((va + msz)) "$perms"
	done < <(load_segments "$1")) <(sed 's/-/ /' "$MNT/maps" |
		while read -r start end perms label; do
			printf '%x %x %s\n' $((0x$start)) $((0x$end)) "$perms"
		done)
	local notes
	notes=$(readelf -nW "$1")
	[[ $notes == *NT_PRSTATUS* ]] && [[ $notes == *NT_FILE* ]]
	while read -r off va fsz msz perms; do
		cmp <(tail -c +$((off + 1)) "$1" | head -c $((fsz))) \
			<(dd if="$MNT/mem" iflag=skip_bytes,count_bytes \
				skip=$((va)) count=$((fsz)) status=none)
	done < <(load_segments "$1")
}

@test "the core file: readelf lists every region with its flags, gdb reads the guest's bytes and pc, st_size is exact" {
	mount_guest --elf /bin/busybox --arg sh --map 0x10000:0x3000:r-x:code
	"$GMEM" write 0x11000 00112233445566778899aabbccddeeff
	echo 0x11000 >"$MNT/regs/rip"
	core_lists_the_guest "$MNT/core"
	[ "$(stat -c %s "$MNT/core")" = "$(cat "$MNT/core" | wc -c)" ]
	run gdb -nx -batch -c "$MNT/core" -ex 'x/16xb 0x11000' \
		-ex 'info registers pc'
	[[ $output == *"0x11000:"$'\t'"0x00"$'\t'"0x11"$'\t'"0x22"$'\t'"0x33"$'\t'"0x44"$'\t'"0x55"$'\t'"0x66"$'\t'"0x77"* ]]
	[[ $output == *"0x11008:"$'\t'"0x88"$'\t'"0x99"$'\t'"0xaa"$'\t'"0xbb"$'\t'"0xcc"$'\t'"0xdd"$'\t'"0xee"$'\t'"0xff"* ]]
	[[ $output == *$'\n'"pc             0x11000"* ]]
	# read-only, and its mode says so
	[ "$(stat -c %A "$MNT/core")" = -r-------- ]
	run py 'print(tryit(os.open, M + "/core", os.O_WRONLY))'
	[ "$output" = EACCES ]
}

@test "the core file is the guest at open(): later changes are not in it, the next open has them" {
	mount_guest --map 0x10000:0x1000:rw-:data
	"$GMEM" write 0x10000 41414141
	run py '
c = os.open(M + "/core", os.O_RDONLY)
size = os.fstat(c).st_size
with open(M + "/ctl", "w") as ctl:
    ctl.write("write 0x10000 42424242\nmap 0x20000 0x1000\n")
data = b""
while True:
    b = os.read(c, 1 << 20)
    if not b:
        break
    data += b
print(len(data) == size, data.count(b"AAAA") >= 1, b"BBBB" in data)
'
	[ "$output" = "True True False" ]
	grep -q BBBB "$MNT/core"
	[ "$(readelf -lW "$MNT/core" | grep -c LOAD)" = 3 ]
}

@test "the core file of a 1 GiB guest, mostly zero, stores only what is written; zero runs read as zeros" {
	mount_guest --map 0x100000000:1g:rw-:big
	"$GMEM" write 0x100000000 cafe
	"$GMEM" write 0x120000000 beef
	local size blocks
	size=$(stat -c %s "$MNT/core")
	blocks=$(stat -c %b "$MNT/core")
	# up to the last written page, and du sees only what is stored
	[ "$size" -gt $((0x20000000)) ] && [ "$size" -lt $((0x20100000)) ]
	[ "$blocks" -lt 200 ]
	core_lists_the_guest "$MNT/core"
	gdb -nx -batch -c "$MNT/core" -ex 'x/2xb 0x120000000' |
		grep -q $'0xbe\t0xef'
	# the zero run is a hole to SEEK_DATA / SEEK_HOLE, and cp keeps it one
	run py '
c = os.open(M + "/core", os.O_RDONLY)
size, off, spans = os.fstat(c).st_size, 0, []
while off < size:
    d = tryit(os.lseek, c, off, os.SEEK_DATA)
    if d == "ENXIO":
        break
    h = os.lseek(c, int(d), os.SEEK_HOLE)
    spans.append("%x-%x" % (int(d), h))
    off = h
print(" ".join(spans), tryit(os.lseek, c, size, os.SEEK_DATA))
'
	[ "$output" = "0-2000 $(printf '%x-%x' $((size - 0x1000)) "$size") ENXIO" ]
	cp "$MNT/core" "$BATS_TEST_TMPDIR/sparse.core"
	[ "$(du -k "$BATS_TEST_TMPDIR/sparse.core" | cut -f1)" -lt 1024 ]
	cmp "$BATS_TEST_TMPDIR/sparse.core" "$MNT/core"
}

@test "round trip: load_core of MNT/core into a fresh mount gives the same guest (snapshot diff)" {
	mount_guest --elf /bin/busybox --arg ls --map 0x10000:0x2000:r--:"two words"
	"$GMEM" write 0x10ff0 0102030405
	echo 0x1234 >"$MNT/regs/rbx"
	echo 0x10000 >"$MNT/regs/rip"
	"$GMEM" save a
	mount_second --arch x86_64 --no-stack --map 0x50000:0x1000
	GMEMFS_MOUNT=$MNT2 "$GMEM" load_core "$MNT/core"
	GMEMFS_MOUNT=$MNT2 "$GMEM" save b
	run "$GMEM" snapshot diff "$MNT/snapshots/a" "$MNT2/snapshots/b"
	[ "$status" -eq 0 ] || {
		echo "$output" >&2
		return 1
	}
	diff -u "$MNT/maps" "$MNT2/maps"
}

@test "--core and the other options: --map and --load add to the dump, --stack and --arg without --elf are refused" {
	mount_guest --elf /bin/busybox --map 0x10000:0x1000:rw-:data
	cp "$MNT/core" "$BATS_TEST_TMPDIR/busybox.core"
	unmount_guest
	printf 'XY' >"$BATS_TEST_TMPDIR/xy"
	mount_guest --core "$BATS_TEST_TMPDIR/busybox.core" \
		--map 0x20000:0x1000:r--:more --load "$BATS_TEST_TMPDIR/xy@0x10004"
	grep -qx '0000000000010000-0000000000011000 rw- data' "$MNT/maps"
	grep -qx '0000000000020000-0000000000021000 r-- more' "$MNT/maps"
	grep -q ' \[stack\]$' "$MNT/maps"
	bytes_are 0x10004 5859
	unmount_guest
	start_refused --core "$BATS_TEST_TMPDIR/busybox.core" --stack 0x10000:0x1000
	[[ $output == *"--stack"* ]]
	start_refused --arg x
	[[ $output == *"--arg"*"--elf"* ]]
	start_refused --elf /bin/busybox --core "$BATS_TEST_TMPDIR/busybox.core"
	start_refused --map 0x400000:0x1000 --elf /bin/busybox
	[ "$output" = "gmemfs: --elf /bin/busybox: segment pages 0x400000-0x401000 are not free" ]
}

@test "bad files through --elf and --core: status 2, one line naming the problem, nothing mounted" {
	head -c 100 /bin/busybox >"$BATS_TEST_TMPDIR/short"
	start_refused --elf "$BATS_TEST_TMPDIR/nothing"
	[ "$output" = "gmemfs: --elf $BATS_TEST_TMPDIR/nothing: No such file or directory" ]
	start_refused --elf /etc/passwd
	[ "$output" = "gmemfs: --elf /etc/passwd: not an ELF file (it does not start with \x7fELF)" ]
	start_refused --elf "$BATS_TEST_TMPDIR/short"
	start_refused --core /bin/busybox
	[[ $output == "gmemfs: --core /bin/busybox: "*core* ]]
	start_refused --arch x86_64 --core /etc/passwd
	start_refused --elf "$BATS_TEST_TMPDIR"
}

@test "bad files through load_elf and load_core: ENOEXEC or EINVAL, the guest unchanged" {
	mount_guest --map 0x10000:0x1000:rw-:data
	"$GMEM" write 0x10000 1234
	cp "$MNT/core" "$BATS_TEST_TMPDIR/good.core"
	head -c 100 /bin/busybox >"$BATS_TEST_TMPDIR/short"
	head -c 3000 "$BATS_TEST_TMPDIR/good.core" >"$BATS_TEST_TMPDIR/short.core"
	local before
	before=$(guest_state --snapshots)
	[ "$(ask_errno ctl "load_elf /etc/passwd")" = ENOEXEC ]
	[ "$(ask_errno ctl "load_elf $BATS_TEST_TMPDIR/short")" = EINVAL ]
	[ "$(ask_errno ctl "load_elf $BATS_TEST_TMPDIR/good.core")" = ENOEXEC ]
	[ "$(ask_errno ctl "load_elf $(prog arm)")" = ENOEXEC ]
	[ "$(ask_errno ctl "load_elf $BATS_TEST_TMPDIR/none")" = ENOENT ]
	[ "$(ask_errno ctl "load_core /bin/busybox")" = ENOEXEC ]
	[ "$(ask_errno ctl "load_core $BATS_TEST_TMPDIR/short.core")" = EINVAL ]
	[ "$(ask_errno ctl "load_core /etc/passwd")" = ENOEXEC ]
	run "$GMEM" load_core /bin/busybox
	[ "$status" -eq 1 ] && [[ $output == "gmem: load_core: /bin/busybox: "* ]]
	[ "$(guest_state --snapshots)" = "$before" ]
}

@test "load_core and load_elf of a file in the same mount: EDEADLK at once, not a hung daemon" {
	mount_guest --map 0x10000:0x1000:rw-:data
	local before
	before=$(guest_state)
	run timeout 20 python3 -c '
import errno, os, sys
fd = os.open(sys.argv[1] + "/ctl", os.O_RDWR)
for line in ("load_core " + sys.argv[1] + "/core",
             "load_elf " + sys.argv[1] + "/regions/0000000000010000-0000000000011000"):
    try:
        os.write(fd, os.fsencode(line) + b"\n")
        print("OK")
    except OSError as e:
        print("EDEADLK" if e.errno == errno.EDEADLK else e.strerror)
' "$MNT"
	[ "$output" = $'EDEADLK\nEDEADLK' ]
	[ "$(guest_state)" = "$before" ]
	# the same core, copied out first, loads
	cp "$MNT/core" "$BATS_TEST_TMPDIR/c"
	"$GMEM" load_core "$BATS_TEST_TMPDIR/c"
	[ "$(guest_state)" = "$before" ]
}

@test "load_elf through ctl: a PIE (/usr/bin/sleep) at base= and at the default base, its entry the answer; onto mapped memory is EEXIST and the guest unchanged" {
	mount_guest
	local entry before
	entry=$(readelf -hW /usr/bin/sleep | awk '/Entry point/ { print $4 }')
	# PT_INTERP is not followed: only the file's own segments
	answer_is ctl "load_elf /usr/bin/sleep base=0x600000000000 a b" \
		"$(printf '0x%x' $((0x600000000000 + entry)))"
	[ "$(cat "$MNT/regs/pc")" = "$(printf '0x%x' $((0x600000000000 + entry)))" ]
	grep -q '^0000600000000000-.* r-- sleep$' "$MNT/maps"
	grep -q '^0000600000002000-.* r-x sleep$' "$MNT/maps"
	[ "$("$GMEM" stack read 0)" = 0x3 ]	# argc: the path, a, b
	[ "$("$GMEM" read 0x600000000000 4)" = 7f454c46 ]
	# the same file again lands on its own segments: EEXIST, nothing moves
	before=$(guest_state)
	[ "$(ask_errno ctl "load_elf /usr/bin/sleep base=0x600000000000")" = EEXIST ]
	[ "$(guest_state)" = "$before" ]
	# without base=, Linux's default for 64-bit guests
	answer_is ctl "load_elf /usr/bin/sleep" \
		"$(printf '0x%x' $((0x555555554000 + entry)))"
	grep -q '^0000555555554000-.* r-- sleep$' "$MNT/maps"
}
