#!/usr/bin/env bats
# Running code through the mount (SPEC §8): every stop on x86_64, arm64 and
# mips with its stop line, errno, log line and gmem status; real compiled
# code against the host; Ctrl-C, stop and timeout on an infinite loop; code
# patched from outside; files that stay live while the guest runs.

load helpers

HERE=$(cd "$(dirname "$BATS_TEST_FILENAME")" && pwd)

# build NAME TARGET FLAGS...: assemble or compile run/NAME.s (or a C file
# given as FLAGS) into $BIN/NAME.bin, flat, linked at 0x10000.
build() {
	local name=$1 target=$2
	shift 2
	clang --target="$target" -ffreestanding -nostdlib -fno-builtin -O2 \
		-c "$@" -o "$BIN/$name.o" &&
		ld.lld -Ttext=0x10000 -e 0x10000 "$BIN/$name.o" \
			-o "$BIN/$name.elf" &&
		llvm-objcopy -O binary --only-section=.text "$BIN/$name.elf" \
			"$BIN/$name.bin"
}

setup_file() {
	BIN=$BATS_FILE_TMPDIR
	export BIN
	build x86_64 x86_64-unknown-none-elf -x assembler "$HERE/run/x86_64.s"
	build arm64 aarch64-none-elf -x assembler "$HERE/run/arm64.s"
	build mips mips-unknown-linux-gnu -x assembler "$HERE/run/mips.s"
	build loop x86_64-unknown-none-elf -x assembler "$HERE/run/loop.s"
	build sum-x86_64 x86_64-unknown-none-elf -DCHECKSUM \
		"$HERE/../unit/guest-code.c"
	build sum-arm64 aarch64-none-elf -DCHECKSUM "$HERE/../unit/guest-code.c"
	build sum-mips mips-unknown-linux-gnu -fno-pic -mno-abicalls \
		-DCHECKSUM "$HERE/../unit/guest-code.c"
	cc -O2 -DCHECKSUM -I"$HERE/../unit" "$HERE/run/host-checksum.c" \
		-o "$BIN/host-checksum"
}

teardown() {
	[ -z "${GMEM_PID-}" ] || kill -9 "$GMEM_PID" 2>/dev/null || true
	unmount_guest
}

# mount_stops ARCH: a guest with run/ARCH.s at 0x10000 and three pages at
# 0x30000 (---), 0x31000 (r--), 0x32000 (rw-) for the protection faults.
mount_stops() {
	mount_guest --arch "$1" --load "$BIN/$1.bin@0x10000" \
		--map 0x30000:0x1000:--- --map 0x31000:0x1000:r-- \
		--map 0x32000:0x1000:rw-
}

# stops ARGS LINE STATUS ERRNO: `gmem run ARGS` prints LINE (on stdout when
# STATUS is 0, else on stderr) and exits STATUS; log's last line is the
# run and its stop; the same write on ctl fails with ERRNO (or OK); and a
# run after it still goes on (the nops at 0x10090).
stops() {
	local out st=0
	out=$("$GMEM" run $1 2>"$BATS_TEST_TMPDIR/err") || st=$?
	if [ "$3" = 0 ]; then
		[ "$out" = "$2" ] || { echo "stdout: $out, want $2"; return 1; }
	else
		[ -z "$out" ] || { echo "stdout: $out"; return 1; }
		[ "$(cat "$BATS_TEST_TMPDIR/err")" = "$2" ] || {
			echo "stderr: $(cat "$BATS_TEST_TMPDIR/err"), want $2"
			return 1
		}
	fi
	[ "$st" = "$3" ] || { echo "gmem run $1: status $st, want $3"; return 1; }
	local want="run $1 -> $2"
	[ "$3" = 0 ] || want="run $1 -> error: $2"
	[ "$(tail -n 1 "$MNT/log")" = "$want" ] || {
		echo "log: $(tail -n 1 "$MNT/log"), want $want"
		return 1
	}
	[ "$(ask_errno ctl "run $1")" = "$4" ] || {
		echo "errno: $(ask_errno ctl "run $1"), want $4"
		return 1
	}
	[ "$("$GMEM" run begin=0x10090 until=0x10094)" = "until pc=0x10094" ]
}

@test "x86_64: every stop of SPEC §8 has its line, errno, log line and gmem status" {
	mount_stops x86_64
	stops "begin=0x10000" "halt pc=0x10003" 0 OK
	stops "begin=0x10010" "syscall pc=0x10017 nr=0x3c" 0 OK
	stops "begin=0x10020" "breakpoint pc=0x10020" 0 OK
	stops "begin=0x10030" "interrupt pc=0x10032 intno=16" 0 OK
	echo 0x500000 >"$MNT/regs/rbx"
	stops "begin=0x10040" "fault read_unmapped pc=0x10040 addr=0x500000" 1 EFAULT
	stops "begin=0x10050" "fault write_unmapped pc=0x10050 addr=0x500000" 1 EFAULT
	stops "begin=0x10060" "fault fetch_unmapped pc=0x500000 addr=0x500000" 1 EFAULT
	echo 0x30000 >"$MNT/regs/rbx"
	stops "begin=0x10040" "fault read_prot pc=0x10040 addr=0x30000" 1 EFAULT
	echo 0x31000 >"$MNT/regs/rbx"
	stops "begin=0x10050" "fault write_prot pc=0x10050 addr=0x31000" 1 EFAULT
	echo 0x32000 >"$MNT/regs/rbx"
	stops "begin=0x10060" "fault fetch_prot pc=0x32000 addr=0x32000" 1 EFAULT
	stops "begin=0x10070" "invalid pc=0x10070" 1 EILSEQ
	stops "begin=0x10080 timeout=50ms" "timeout pc=0x10080" 1 ETIMEDOUT
	stops "begin=0x10090 until=0x10092" "until pc=0x10092" 0 OK
	stops "begin=0x10090 count=3" "count pc=0x10093" 0 OK
}

@test "x86_64: after a syscall stop a script acts as the kernel and run goes on from pc" {
	mount_stops x86_64
	run "$GMEM" run begin=0x10010
	[ "$output" = "syscall pc=0x10017 nr=0x3c" ]
	[ "$(cat "$MNT/regs/rip")" = 0x10017 ]
	echo 0x100 >"$MNT/regs/rax"
	run "$GMEM" run until=0x1001b
	[ "$output" = "until pc=0x1001b" ]
	[ "$(cat "$MNT/regs/rax")" = 0x101 ]
	run "$GMEM" step
	[ "$output" = "count pc=0x1001c" ]
	# `step` and the run control file give the same answers.
	echo 0x10090 >"$MNT/regs/rip"
	run ask run "count=2"
	[ "$output" = "count pc=0x10092" ]
}

@test "arm64: every stop of SPEC §8 has its line, errno, log line and gmem status" {
	mount_stops arm64
	stops "begin=0x10000" "syscall pc=0x10008 nr=0x5d" 0 OK
	stops "begin=0x10010" "breakpoint pc=0x10010" 0 OK
	stops "begin=0x10070" "halt pc=0x10074" 0 OK
	echo 0x500000 >"$MNT/regs/x1"
	stops "begin=0x10020" "fault read_unmapped pc=0x10020 addr=0x500000" 1 EFAULT
	stops "begin=0x10030" "fault write_unmapped pc=0x10030 addr=0x500000" 1 EFAULT
	stops "begin=0x10040" "fault fetch_unmapped pc=0x500000 addr=0x500000" 1 EFAULT
	echo 0x30000 >"$MNT/regs/x1"
	stops "begin=0x10020" "fault read_prot pc=0x10020 addr=0x30000" 1 EFAULT
	echo 0x31000 >"$MNT/regs/x1"
	stops "begin=0x10030" "fault write_prot pc=0x10030 addr=0x31000" 1 EFAULT
	echo 0x32000 >"$MNT/regs/x1"
	stops "begin=0x10040" "fault fetch_prot pc=0x32000 addr=0x32000" 1 EFAULT
	stops "begin=0x10050" "invalid pc=0x10050" 1 EILSEQ
	stops "begin=0x10060 timeout=50ms" "timeout pc=0x10060" 1 ETIMEDOUT
	stops "begin=0x10090 until=0x10098" "until pc=0x10098" 0 OK
	stops "begin=0x10090 count=1" "count pc=0x10094" 0 OK
	# after the syscall, run goes on: x0 + 1
	"$GMEM" run begin=0x10000
	echo 0x41 >"$MNT/regs/x0"
	[ "$("$GMEM" run until=0x1000c)" = "until pc=0x1000c" ]
	[ "$(cat "$MNT/regs/x0")" = 0x42 ]
}

@test "mips: every stop of SPEC §8 has its line, errno, log line and gmem status" {
	mount_stops mips
	stops "begin=0x10000" "syscall pc=0x10008 nr=0xfa1" 0 OK
	stops "begin=0x10010" "breakpoint pc=0x10010" 0 OK
	stops "begin=0x10070" "halt pc=0x10074" 0 OK
	stops "begin=0x10080" "interrupt pc=0x10080 intno=22" 0 OK
	echo 0x500000 >"$MNT/regs/t0"
	stops "begin=0x10020" "fault read_unmapped pc=0x10020 addr=0x500000" 1 EFAULT
	stops "begin=0x10030" "fault write_unmapped pc=0x10030 addr=0x500000" 1 EFAULT
	stops "begin=0x10040" "fault fetch_unmapped pc=0x500000 addr=0x500000" 1 EFAULT
	echo 0x30000 >"$MNT/regs/t0"
	stops "begin=0x10020" "fault read_prot pc=0x10020 addr=0x30000" 1 EFAULT
	echo 0x31000 >"$MNT/regs/t0"
	stops "begin=0x10030" "fault write_prot pc=0x10030 addr=0x31000" 1 EFAULT
	echo 0x32000 >"$MNT/regs/t0"
	stops "begin=0x10040" "fault fetch_prot pc=0x32000 addr=0x32000" 1 EFAULT
	stops "begin=0x10050" "invalid pc=0x10050" 1 EILSEQ
	stops "begin=0x10060 timeout=50ms" "timeout pc=0x10060" 1 ETIMEDOUT
	stops "begin=0x10090 until=0x10098" "until pc=0x10098" 0 OK
	stops "begin=0x10090 count=1" "count pc=0x10094" 0 OK
	"$GMEM" run begin=0x10000
	[ "$("$GMEM" run until=0x1000c)" = "until pc=0x1000c" ]
	[ "$(cat "$MNT/regs/v0")" = 0xfa2 ]
}

# checksum ARCH ARG0 ARG1 RA RESULT: load the compiled checksum, put 3000
# bytes at 0x40000, set the arguments, plant the return address 0x20000,
# run until it, and compare the result with the host's.
checksum() {
	local arch=$1
	mount_guest --arch "$arch" --load "$BIN/sum-$arch.bin@0x10000" \
		--map 0x40000:0x1000
	head -c 3000 /dev/urandom >"$BATS_TEST_TMPDIR/data"
	dd if="$BATS_TEST_TMPDIR/data" of="$MNT/mem" bs=3000 seek=$((0x40000)) \
		oflag=seek_bytes conv=notrunc status=none
	echo 0x40000 >"$MNT/regs/$2"
	echo 3000 >"$MNT/regs/$3"
	if [ "$4" = stack ]; then
		"$GMEM" stack push 0x20000 >/dev/null
	else
		echo 0x20000 >"$MNT/regs/$4"
	fi
	echo 0x10000 >"$MNT/regs/pc"
	run "$GMEM" run until=0x20000 timeout=5s
	[ "$status" = 0 ]
	[ "$output" = "until pc=0x20000" ]
	want=$("$BIN/host-checksum" <"$BATS_TEST_TMPDIR/data")
	got=$(cat "$MNT/regs/$5")
	[ "$got" = "$want" ] || { echo "guest $got, host $want"; return 1; }
}

@test "x86_64: a compiled checksum loaded with --load gives the host's result" {
	checksum x86_64 rdi rsi stack rax
}

@test "arm64: a compiled checksum loaded with --load gives the host's result" {
	checksum arm64 x0 x1 lr x0
}

@test "mips: a compiled checksum loaded with --load gives the host's result" {
	checksum mips a0 a1 ra v0
}

# mount_loop: the counting loop at 0x10000, rdi at the quad 0x20000.
mount_loop() {
	mount_guest --load "$BIN/loop.bin@0x10000" --map 0x20000:0x1000
	echo 0x20000 >"$MNT/regs/rdi"
	echo 0x10000 >"$MNT/regs/rip"
}

# counter: the loop's count, read through mem.
counter() {
	od -An -tu8 -j $((0x20000)) -N 8 "$MNT/mem" | tr -d ' '
}

# wait_running: wait (5 s) until the counter moves, so the run is on.
wait_running() {
	local i c0
	c0=$(counter)
	for ((i = 0; i < 100; i++)); do
		[ "$(counter)" != "$c0" ] && return 0
		sleep 0.05
	done
	echo "the guest does not run"
	return 1
}

@test "Ctrl-C on gmem run stops the guest: stopped on stderr, status 1, log, and the guest goes on after" {
	mount_loop
	"$GMEM" run 2>"$BATS_TEST_TMPDIR/err" &
	GMEM_PID=$!
	wait_running
	kill -INT "$GMEM_PID"
	st=0
	wait "$GMEM_PID" || st=$?
	unset GMEM_PID
	[ "$st" = 1 ]
	grep -qx 'stopped pc=0x1000[03]' "$BATS_TEST_TMPDIR/err"
	tail -n 1 "$MNT/log" | grep -qx 'run -> error: stopped pc=0x1000[03]'
	c1=$(counter)
	run "$GMEM" run count=10
	[ "$status" = 0 ]
	[ "$(counter)" -gt "$c1" ]
}

@test "an interrupted write of run fails with EINTR" {
	mount_loop
	/usr/bin/python3 -c '
import ctypes, errno, os, signal, sys
signal.signal(signal.SIGINT, lambda *a: None)
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDWR)
n = libc.write(fd, b"run\n", 4)
print("OK" if n == 4 else errno.errorcode[ctypes.get_errno()])
' "$MNT/ctl" >"$BATS_TEST_TMPDIR/out" &
	pid=$!
	wait_running
	kill -INT "$pid"
	wait "$pid"
	[ "$(cat "$BATS_TEST_TMPDIR/out")" = EINTR ]
	[ "$("$GMEM" run count=1)" = "count pc=0x10003" ] ||
		[ "$("$GMEM" run count=1)" = "count pc=0x10000" ]
}

@test "gmem stop from another process ends the run with stopped, status 1, and a no-op without a run" {
	mount_loop
	"$GMEM" run 2>"$BATS_TEST_TMPDIR/err" &
	GMEM_PID=$!
	wait_running
	run "$GMEM" stop
	[ "$status" = 0 ]
	st=0
	wait "$GMEM_PID" || st=$?
	unset GMEM_PID
	[ "$st" = 1 ]
	grep -qx 'stopped pc=0x1000[03]' "$BATS_TEST_TMPDIR/err"
	grep -qx 'run -> error: stopped pc=0x1000[03]' "$MNT/log"
	# stop with no run is a no-op
	run "$GMEM" stop
	[ "$status" = 0 ]
	run "$GMEM" run count=1
	[ "$status" = 0 ]
}

@test "a timeout that fires ends an endless loop, and the daemon stays healthy" {
	mount_loop
	run "$GMEM" run timeout=200ms
	[ "$status" = 1 ]
	[[ "$output" =~ ^timeout\ pc=0x1000[03]$ ]]
	[ "$(counter)" -gt 0 ]
	run "$GMEM" is_mapped 0x20000 0x1000
	[ "$output" = true ]
}

@test "during a run mem is live, map answers EBUSY, regs/ answers EBUSY, and the guest is unchanged" {
	mount_loop
	"$GMEM" run 2>/dev/null &
	GMEM_PID=$!
	wait_running
	c1=$(counter)
	sleep 0.2
	[ "$(counter)" -gt "$c1" ]
	run "$GMEM" map 0x50000 0x1000
	[ "$status" = 1 ]
	[[ "$output" == *"the guest is running"* ]]
	run cat "$MNT/regs/rip"
	[ "$status" != 0 ]
	[[ "$output" == *"busy"* ]]
	# region files, maps, info and log answer too
	run cat "$MNT/maps"
	[ "$status" = 0 ]
	r=$MNT/regions/0000000000020000-0000000000021000
	a=$(od -An -tu8 -N 8 "$r" | tr -d ' ')
	sleep 0.1
	b=$(od -An -tu8 -N 8 "$r" | tr -d ' ')
	[ "$b" -gt "$a" ]
	"$GMEM" stop
	wait "$GMEM_PID" || true
	unset GMEM_PID
	run "$GMEM" is_mapped 0x50000 0x1000
	[ "$output" = false ]
}

@test "a region file's cached pages show what the guest wrote once it stops" {
	mount_loop
	# One descriptor reads the count (0) into the page cache, the guest
	# counts to 500, the same descriptor reads again.
	run /usr/bin/python3 -c '
import os, subprocess, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
before = int.from_bytes(os.pread(fd, 8, 0), "little")
subprocess.run([sys.argv[2], "run", "count=1000"], check=True,
               stdout=subprocess.DEVNULL)
after = int.from_bytes(os.pread(fd, 8, 0), "little")
print(before, after)
' "$MNT/regions/0000000000020000-0000000000021000" "$GMEM"
	[ "$status" = 0 ]
	[ "$output" = "0 500" ]
}

@test "code patched through a region file, mem and a shared mmap runs the next time" {
	mount_stops x86_64
	r=$MNT/regions/0000000000010000-0000000000011000
	# 0x10090: nops; patch the first into hlt three ways
	[ "$("$GMEM" run begin=0x10090 until=0x10094)" = "until pc=0x10094" ]
	printf '\xf4' | dd of="$r" bs=1 seek=$((0x90)) conv=notrunc status=none
	[ "$("$GMEM" run begin=0x10090 until=0x10094)" = "halt pc=0x10091" ]
	printf '\x90\xf4' | dd of="$MNT/mem" bs=1 seek=$((0x10090)) \
		conv=notrunc status=none
	[ "$("$GMEM" run begin=0x10090 until=0x10094)" = "halt pc=0x10092" ]
	/usr/bin/python3 -c '
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
m[0x91:0x93] = b"\x90\xf4"
m.close()
' "$r"
	[ "$("$GMEM" run begin=0x10090 until=0x10094)" = "halt pc=0x10093" ]
}

@test "SIGTERM during a run stops it, stores --state and exits 0" {
	mount_guest --state "$BATS_TEST_TMPDIR/g.snap" \
		--load "$BIN/loop.bin@0x10000" --map 0x20000:0x1000
	echo 0x20000 >"$MNT/regs/rdi"
	echo 0x10000 >"$MNT/regs/rip"
	"$GMEM" run 2>"$BATS_TEST_TMPDIR/err" &
	GMEM_PID=$!
	wait_running
	kill -TERM "$GMEMFS_PID"
	wait_daemon
	[ "$daemon_status" = 0 ]
	wait "$GMEM_PID" || true
	unset GMEM_PID
	# the mount goes away under gmem, which cannot read the stop line
	# back: it reports the write's EINTR
	grep -q 'Interrupted system call' "$BATS_TEST_TMPDIR/err"
	run "$GMEM" snapshot info "$BATS_TEST_TMPDIR/g.snap"
	[ "$status" = 0 ]
	fusermount3 -u "$MNT" 2>/dev/null || true
}
