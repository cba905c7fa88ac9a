# Shared helpers of the bats tests that run through a real gmemfs mount:
# mount a guest, unmount it (and check the daemon's exit status), ask a
# control file. Load with `load helpers` at the top of tests/fs/NN-*.bats.
#
# Call mount_guest in the test or in setup (never through `run`: the
# variables it sets would be lost), and unmount_guest from teardown.

_helpers_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${GMEMFS:=$_helpers_root/build/fs/gmemfs}"
: "${GMEM:=$_helpers_root/build/tools/gmem}"
export GMEMFS GMEM
# ls, sort and error messages the same everywhere
export LC_ALL=C

# is_mounted DIR: is DIR in the mount table (also when its daemon died and
# stat on it fails with ENOTCONN, where `mountpoint` says no)?
is_mounted() {
	awk -v d="$1" '$2 == d { found = 1 } END { exit !found }' /proc/self/mounts
}

# mount_guest [GMEMFS OPTIONS...]: mount a guest on $MNT and wait until it is
# mounted (10 s at most). Sets MNT, GMEMFS_PID, GMEMFS_LOG, exports
# GMEMFS_MOUNT. Fails, showing the daemon's log, if the daemon exits first.
mount_guest() {
	MNT=$BATS_TEST_TMPDIR/mnt
	GMEMFS_LOG=$BATS_TEST_TMPDIR/daemon.log
	mkdir -p "$MNT"
	# Started with & as a script would: SIGINT comes in ignored, and the
	# daemon must still end cleanly on it (SPEC §1).
	"$GMEMFS" -f "$@" "$MNT" >"$GMEMFS_LOG" 2>&1 3>&- </dev/null &
	GMEMFS_PID=$!
	export GMEMFS_MOUNT=$MNT
	local i
	for ((i = 0; i < 200; i++)); do
		mountpoint -q "$MNT" && return 0
		if ! kill -0 "$GMEMFS_PID" 2>/dev/null; then
			local status=0
			wait "$GMEMFS_PID" || status=$?
			unset GMEMFS_PID
			echo "mount_guest: gmemfs exited with status $status" \
				"before mounting; its log:" >&2
			cat "$GMEMFS_LOG" >&2
			return 1
		fi
		sleep 0.05
	done
	echo "mount_guest: $MNT not mounted after 10 s; daemon log:" >&2
	cat "$GMEMFS_LOG" >&2
	unmount_guest
	return 1
}

# wait_daemon: wait (10 s at most) for the daemon of mount_guest to exit and
# set daemon_status to its exit status; kill -9 it and fail if it does not.
wait_daemon() {
	local pid=${GMEMFS_PID-} i
	daemon_status=
	[ -n "$pid" ] || return 0
	for ((i = 0; i < 200; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "wait_daemon: gmemfs $pid still running after 10 s;" \
			"killed" >&2
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		unset GMEMFS_PID
		daemon_status=137
		return 1
	fi
	daemon_status=0
	wait "$pid" || daemon_status=$?
	unset GMEMFS_PID
}

# unmount_guest: unmount $MNT, wait for the daemon to exit, and fail if it
# did not exit with status 0 (an ASan report makes it non-zero). Harmless
# when nothing is mounted, so every file calls it from teardown.
unmount_guest() {
	local ok=0
	if [ -n "${MNT-}" ] && is_mounted "$MNT"; then
		# A test that failed may have left a file open; then detach.
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" || ok=1
	fi
	[ -n "${GMEMFS_PID-}" ] || return $ok
	wait_daemon || ok=1
	if [ "$daemon_status" != 0 ]; then
		echo "unmount_guest: gmemfs exited with status" \
			"$daemon_status; its log:" >&2
		cat "$GMEMFS_LOG" >&2
		ok=1
	fi
	if [ -n "${MNT-}" ] && is_mounted "$MNT"; then
		echo "unmount_guest: $MNT is still mounted" >&2
		fusermount3 -uz "$MNT" 2>/dev/null
		ok=1
	fi
	return $ok
}

# ask FILE TEXT: open $MNT/FILE read-write once, write TEXT and a newline
# in one write(), print what reads back on the same fd. Returns 0, or 1 if
# the write failed (the answer is then `error: ...`).
ask() {
	# bash's printf writes a line, or 4 KiB, at a time: a text of several
	# lines or a long one goes through python, which writes it at once.
	if [[ "$2" != *$'\n'* ]] && [ ${#2} -lt 4000 ]; then
		local rc=0
		{
			printf '%s\n' "$2" >&9 2>/dev/null || rc=1
			cat <&9
		} 9<>"$MNT/$1" || return 1
		return $rc
	fi
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
rc = 0
try:
    os.write(fd, os.fsencode(sys.argv[2]) + b"\n")
except OSError:
    rc = 1
while True:
    b = os.read(fd, 65536)
    if not b:
        break
    sys.stdout.buffer.write(b)
sys.exit(rc)
' "$MNT/$1" "$2"
}

# ask_errno FILE TEXT: the same write; print the errno name of the failed
# write (EINVAL, EFAULT, ...) or OK.
ask_errno() {
	python3 -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
try:
    os.write(fd, os.fsencode(sys.argv[2]) + b"\n")
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
' "$MNT/$1" "$2"
}

# --- checks that print what differs when they fail ---

# answer_is FILE TEXT EXPECTED: TEXT written to FILE succeeds and the answer
# read back is exactly EXPECTED (trailing newlines aside).
answer_is() {
	run ask "$1" "$2"
	if [ "$status" -ne 0 ] || [ "$output" != "$3" ]; then
		printf '%s <- %s\nstatus:   %s\nanswer:   %s\nexpected: %s\n' \
			"$1" "$2" "$status" "$output" "$3" >&2
		return 1
	fi
}

# guest_state [--snapshots]: maps, every region's bytes and every register
# (and the snapshot names), to compare before and after.
guest_state() {
	cat "$MNT/maps"
	(cd "$MNT/regions" && find . -type f -print0 | sort -z |
		xargs -0r sha1sum)
	(cd "$MNT/regs" && grep -r . | sort)
	[ "${1-}" != --snapshots ] || ls "$MNT/snapshots"
}

# maps_are LINES...: the maps file is exactly these lines (none: empty).
maps_are() {
	local expected=
	[ $# -eq 0 ] || expected=$(printf '%s\n' "$@")
	if [ "$(cat "$MNT/maps")" != "$expected" ]; then
		diff -u <(echo "$expected") "$MNT/maps" >&2
		return 1
	fi
}

# file_is FILE TEXT: $MNT/FILE reads exactly TEXT (trailing newlines aside).
file_is() {
	local got
	got=$(cat "$MNT/$1")
	if [ "$got" != "$2" ]; then
		echo "$1: '$got', expected '$2'" >&2
		return 1
	fi
}

# info_is KEY VALUE: the info file has the line "KEY VALUE".
info_is() {
	local line
	line=$(grep "^$1 " "$MNT/info")
	if [ "$line" != "$1 $2" ]; then
		echo "info: '$line', expected '$1 $2'" >&2
		return 1
	fi
}

# bytes_at ADDR LEN: LEN bytes of guest memory at ADDR, in hex on one line,
# read through the mem file.
bytes_at() {
	xxd -p -c 4096 -s "$1" -l "$2" "$MNT/mem"
}

# bytes_are ADDR HEX: guest memory at ADDR, read through mem, is HEX.
bytes_are() {
	local got
	got=$(bytes_at "$1" $((${#2} / 2)))
	if [ "$got" != "$2" ]; then
		echo "at $1: $got, expected $2" >&2
		return 1
	fi
}

# py CODE ARGS...: run the Python 3 CODE (ARGS in sys.argv[2:]) with os,
# errno, mmap and sys imported and: M, the mount; fd, mem opened
# read-write; en(e), the errno name of an OSError; tryit(f, *args), f's
# result (bytes in hex) or the errno name it raised. An OSError that CODE
# does not catch prints its errno name and exits 1.
py() {
	python3 -c '
import errno, mmap, os, sys
M = os.environ["GMEMFS_MOUNT"]
def en(e):
    return errno.errorcode.get(e.errno, str(e.errno))
def tryit(f, *a):
    try:
        r = f(*a)
        return r.hex() if isinstance(r, bytes) else str(r)
    except OSError as e:
        return en(e)
try:
    fd = os.open(M + "/mem", os.O_RDWR)
    exec(sys.argv[1])
except OSError as e:
    print(en(e))
    sys.exit(1)
' "$@"
}
