#!/usr/bin/env bats
# What everyday tools expect of a file system: tar, cp -a and rsync into
# snapshots/, mv there, a reader that keeps its snapshot, imports checked
# once, xattrs listed, errnos as other file systems give them.

load helpers

teardown() {
	unmount_guest
}

# errno_of PYTHON-EXPRESSION: the errno name the expression raises, or OK.
errno_of() {
	py "print(tryit(lambda: $1))"
}

@test "tar -x, cp -a and plain rsync copy snapshots into snapshots/, and each is imported" {
	command -v rsync >/dev/null || skip "no rsync (tools/deps installs it)"
	mount_guest
	local out=$BATS_TEST_TMPDIR/out
	mkdir "$out"
	echo a >"$MNT/save"
	cp "$MNT/snapshots/a" "$out/t"
	cp "$out/t" "$out/c"
	cp "$out/t" "$out/r"
	chmod 644 "$out/t" "$out/c" "$out/r"
	tar -C "$out" -cf "$BATS_TEST_TMPDIR/a.tar" t
	# as root, tar -x chowns to the archive's owner (root: ourselves)
	tar -C "$MNT/snapshots" -xf "$BATS_TEST_TMPDIR/a.tar"
	cp -a "$out/c" "$MNT/snapshots/c"
	rsync "$out/r" "$MNT/snapshots/"
	rsync -a "$out/r" "$MNT/snapshots/r2"
	[ "$(ls "$MNT/snapshots" | tr '\n' ' ')" = "a c r r2 t " ]
	for s in t c r r2; do cmp "$MNT/snapshots/$s" "$out/t"; done
	! grep -q 'error' "$MNT/log"
}

@test "chown to the owner every file has is a no-op; to anyone else EPERM" {
	mount_guest
	echo a >"$MNT/save"
	chown "$(id -u):$(id -g)" "$MNT/snapshots/a" "$MNT/regions/"* "$MNT/maps"
	chgrp "$(id -g)" "$MNT/snapshots/a"
	run chown 12345 "$MNT/snapshots/a"
	[ "$status" -ne 0 ]
	[[ $output == *"Operation not permitted"* ]]
	[ "$(errno_of 'os.chown(M + "/maps", -1, 4242)')" = EPERM ]
}

@test "mv within snapshots/ renames a snapshot, replacing one of the new name" {
	mount_guest
	echo a >"$MNT/save"
	ask ctl 'map 0x10000 0x1000' >/dev/null
	echo b >"$MNT/save"
	cp "$MNT/snapshots/b" "$BATS_TEST_TMPDIR/b.snap"
	mv "$MNT/snapshots/b" "$MNT/snapshots/c"
	[ "$(ls "$MNT/snapshots" | tr '\n' ' ')" = "a c " ]
	cmp "$MNT/snapshots/c" "$BATS_TEST_TMPDIR/b.snap"
	mv -f "$MNT/snapshots/c" "$MNT/snapshots/a"
	[ "$(ls "$MNT/snapshots")" = a ]
	cmp "$MNT/snapshots/a" "$BATS_TEST_TMPDIR/b.snap"
	echo a >"$MNT/restore"
	maps_are '0000000000010000-0000000000011000 rwx [mapped]' \
		'00007ffffffde000-00007ffffffff000 rw- [stack]'
	grep -qx 'mv snapshots/c a -> ok' "$MNT/log"
	# a missing one, and out of snapshots/
	run mv "$MNT/snapshots/nothing" "$MNT/snapshots/x"
	[ "$status" -ne 0 ]
	[ "$(errno_of 'os.rename(M + "/snapshots/a", M + "/regions/a")')" = EACCES ]
}

@test "a file renamed while it is still being written is imported under its new name" {
	mount_guest
	echo a >"$MNT/save"
	cp "$MNT/snapshots/a" "$BATS_TEST_TMPDIR/a.snap"
	py '
data = open(sys.argv[2], "rb").read()
w = os.open(M + "/snapshots/.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(w, data[:100])
os.rename(M + "/snapshots/.tmp", M + "/snapshots/final")
os.write(w, data[100:])
os.close(w)
' "$BATS_TEST_TMPDIR/a.snap"
	[ "$(ls -A "$MNT/snapshots" | tr '\n' ' ')" = "a final " ]
	cmp "$MNT/snapshots/final" "$BATS_TEST_TMPDIR/a.snap"
}

@test "a reader of an open snapshot keeps its bytes across a save of the same name" {
	mount_guest
	ask ctl 'map 0x10000 0x100000' >/dev/null
	head -c 65536 /dev/urandom | dd of="$MNT/mem" bs=64k seek=1 \
		conv=notrunc status=none
	echo s >"$MNT/save"
	cp "$MNT/snapshots/s" "$BATS_TEST_TMPDIR/old.snap"
	py '
r = os.open(M + "/snapshots/s", os.O_RDONLY)
first = os.read(r, 4096)
# a new snapshot of the same name, of another size
w = os.open(M + "/ctl", os.O_WRONLY)
os.write(w, b"map 0x200000 0x4000\nwrite 0x200000 41424344\nsave s\n")
os.close(w)
other = open(M + "/snapshots/s", "rb").read()
rest = b""
while True:
    b = os.read(r, 65536)
    if not b:
        break
    rest += b
os.close(r)
old = open(sys.argv[2], "rb").read()
assert first + rest == old, "the reader got other bytes"
assert other != old, "the save did not replace it"
' "$BATS_TEST_TMPDIR/old.snap"
}

@test "cat a.snap > snapshots/x imports once, with no false error from the shell's own descriptor" {
	mount_guest
	echo a >"$MNT/save"
	cp "$MNT/snapshots/a" "$BATS_TEST_TMPDIR/a.snap"
	cat "$BATS_TEST_TMPDIR/a.snap" >"$MNT/snapshots/x"
	cmp "$MNT/snapshots/x" "$BATS_TEST_TMPDIR/a.snap"
	[ "$(grep -c 'snapshots/x' "$MNT/log")" = 1 ]
	grep -qx 'import snapshots/x -> ok' "$MNT/log"
	# a file created and closed unwritten imports nothing and says nothing
	: >"$MNT/snapshots/empty"
	[ ! -e "$MNT/snapshots/empty" ]
	! grep -q empty "$MNT/log"
}

@test "listxattr works on every file: user.label on regions, an empty list elsewhere" {
	mount_guest
	echo a >"$MNT/save"
	py '
for f in ["maps", "mem", "ctl", "log", "regs/rip", "snapshots/a", "regions"]:
    assert os.listxattr(M + "/" + f) == [], f
r = M + "/regions/" + os.listdir(M + "/regions")[0]
assert os.listxattr(r) == ["user.label"]
'
}

@test "removing an attribute a file does not have is ENODATA; the label is EPERM" {
	mount_guest
	local r=$MNT/regions/00007ffffffde000-00007ffffffff000
	[ "$(errno_of 'os.removexattr(M + "/maps", "user.x")')" = ENODATA ]
	[ "$(errno_of "os.removexattr('$r', 'user.x')")" = ENODATA ]
	[ "$(errno_of "os.removexattr('$r', 'user.label')")" = EPERM ]
}

@test "a snapshot name of 256 bytes is ENAMETOOLONG; bidi controls are refused" {
	mount_guest
	echo a >"$MNT/save"
	local long
	long=$(printf 'n%.0s' {1..256})
	[ "$(errno_of "os.open(M + '/snapshots/$long', os.O_WRONLY | os.O_CREAT)")" = ENAMETOOLONG ]
	[ "$(errno_of "os.stat(M + '/snapshots/$long')")" = ENAMETOOLONG ]
	[ "$(errno_of "os.rename(M + '/snapshots/a', M + '/snapshots/$long')")" = ENAMETOOLONG ]
	# U+202E (right-to-left override) would show "evil" as "live"
	[ "$(errno_of 'os.open(M + "/snapshots/x\u202elive", os.O_WRONLY | os.O_CREAT)')" = EINVAL ]
	[ "$(errno_of 'os.rename(M + "/snapshots/a", M + "/snapshots/\u2066a")')" = EINVAL ]
	run ask_errno save $'b\xe2\x80\x8f'
	[ "$output" = EINVAL ]
	[ "$(ls "$MNT/snapshots")" = a ]
}

@test "regs/NAME takes one value: a write of several lines runs none of them" {
	mount_guest
	ask ctl 'map 0x10000 0x4000' >/dev/null
	local before
	before=$(cat "$MNT/regs/rip")
	run py '
w = os.open(M + "/regs/rip", os.O_WRONLY)
print(tryit(os.write, w, b"0x10\nunmap 0x10000 0x4000\nsave x\n"))
'
	[ "$output" = EINVAL ]
	[ "$(cat "$MNT/regs/rip")" = "$before" ]
	[ -z "$(ls "$MNT/snapshots")" ]
	grep -q '^0000000000010000-0000000000014000' "$MNT/maps"
	echo 0x20 >"$MNT/regs/rip"
	[ "$(cat "$MNT/regs/rip")" = 0x20 ]
}

@test "inode numbers are small and stay the same while the file is known" {
	mount_guest
	echo a >"$MNT/save"
	ask ctl 'map 0x10000 0x1000' >/dev/null
	local r=$MNT/regions/0000000000010000-0000000000011000 i1 i2 s
	exec 4<"$r"
	i1=$(stat -c %i "$r")
	i2=$(stat -c %i "$r")
	s=$(stat -c %i "$MNT/snapshots/a")
	exec 4<&-
	[ "$i1" = "$i2" ]
	[ "$i1" -lt $((1 << 32)) ]
	[ "$s" -lt $((1 << 32)) ]
	[ "$s" != "$i1" ]
}

@test "a map the host cannot back fails with ENOSPC, the errno of a save without host memory" {
	mount_guest
	run ask_errno ctl 'map 0x4000000000000000 0x4000000000000000'
	[ "$output" = ENOSPC ]
	tail -n 1 "$MNT/log" | grep -q 'error: map: cannot allocate 0x4000000000000000 bytes of host memory'
	maps_are '00007ffffffde000-00007ffffffff000 rw- [stack]'
}
