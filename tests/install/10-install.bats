#!/usr/bin/env bats
# `meson install` into a temporary DESTDIR, then what a user of the
# installed tree relies on: the commands mount and answer, the C example
# builds against the installed library (shared and static) and runs, each
# header stands alone, the man pages render cleanly, the completion works.
# meson passes BUILD_ROOT, SOURCE_ROOT, the install dirs and SANITIZE.

load ../fs/helpers

bats_require_minimum_version 1.5.0

setup_file() {
	export DEST=$BATS_FILE_TMPDIR/dest
	meson install -C "$BUILD_ROOT" --destdir "$DEST" --no-rebuild \
		--quiet >"$BATS_FILE_TMPDIR/install.log" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/install.log" >&2
		return 1
	}
}

setup() {
	BIN=$DEST$BINDIR
	LIB=$DEST$LIBDIR
	INC=$DEST$INCLUDEDIR
	# pkg-config finds the installed .pc, and its paths under DEST
	export PKG_CONFIG_PATH=$LIB/pkgconfig PKG_CONFIG_SYSROOT_DIR=$DEST
	# a sanitized build's library needs its runtime in the program too
	CFLAGS=(-std=c11 -Wall -Wextra -Werror)
	if [ "$SANITIZE" != none ]; then
		CFLAGS+=("-fsanitize=$SANITIZE")
	fi
}

teardown() {
	unmount_guest
}

@test "meson install puts the commands, library, headers, pkg-config file, man pages and completion under the prefix" {
	[ -x "$BIN/gmemfs" ]
	[ -x "$BIN/gmem" ]
	[ -f "$LIB/libgmemcore.a" ]
	[ "$(readlink "$LIB/libgmemcore.so")" = libgmemcore.so.0 ]
	[ -f "$LIB/libgmemcore.so.0" ]
	[ -f "$LIB/pkgconfig/gmemcore.pc" ]
	[ -f "$INC/gmem/gmem.h" ]
	[ -f "$DEST$MANDIR/man1/gmemfs.1" ]
	[ -f "$DEST$MANDIR/man1/gmem.1" ]
	[ -f "$DEST$MANDIR/man5/gmemfs-snapshot.5" ]
	[ -f "$DEST$COMPLETIONSDIR/gmem" ]
	# nothing outside the prefix
	[ "$(cd "$DEST" && ls)" = "${PREFIX#/}" ] ||
		[ "$(cd "$DEST" && ls)" = "$(echo "$PREFIX" | cut -d/ -f2)" ]
	run pkg-config --modversion gmemcore
	[ "$output" = "$("$BIN/gmem" --version | cut -d' ' -f2)" ]
	run readelf -d "$LIB/libgmemcore.so"
	[[ "$output" == *"Library soname: [libgmemcore.so.0]"* ]]
}

@test "the installed gmemfs and gmem mount a guest, run a command and unmount" {
	GMEMFS=$BIN/gmemfs GMEM=$BIN/gmem
	run "$BIN/gmemfs" --version
	[ "$status" -eq 0 ]
	[[ "$output" == "gmemfs "* ]]
	mount_guest
	run "$BIN/gmem" map 0x10000 0x1000 r-- data
	[ "$status" -eq 0 ]
	run "$BIN/gmem" show_mapinfo
	[ "${lines[0]}" = "0000000000010000-0000000000011000 r-- data" ]
	unmount_guest
	! is_mounted "$MNT"
}

@test "the README's C example builds against the installed shared library and runs" {
	cc "${CFLAGS[@]}" "$SOURCE_ROOT/examples/example.c" \
		-o "$BATS_TEST_TMPDIR/example" \
		$(pkg-config --cflags --libs gmemcore)
	run readelf -d "$BATS_TEST_TMPDIR/example"
	[[ "$output" == *"Shared library: [libgmemcore.so.0]"* ]]
	run env LD_LIBRARY_PATH="$LIB" "$BATS_TEST_TMPDIR/example"
	[ "$status" -eq 0 ]
	[ "$output" = "hello 1 0x10000-0x14000 heap" ]
	# and it is the installed library that ran
	run env LD_LIBRARY_PATH="$LIB" ldd "$BATS_TEST_TMPDIR/example"
	[[ "$output" == *"libgmemcore.so.0 => $LIB/libgmemcore.so.0"* ]]
}

@test "the README's C example builds against the installed static library and runs" {
	if [ "$SANITIZE" = none ]; then
		# as the README says: everything static
		cc "${CFLAGS[@]}" -static "$SOURCE_ROOT/examples/example.c" \
			-o "$BATS_TEST_TMPDIR/example" \
			$(pkg-config --static --cflags --libs gmemcore)
	else
		# the sanitizers' runtime cannot be linked statically: only
		# libgmemcore.a, the rest as pkg-config --static says
		cc "${CFLAGS[@]}" "$SOURCE_ROOT/examples/example.c" \
			-o "$BATS_TEST_TMPDIR/example" \
			$(pkg-config --static --cflags gmemcore) \
			-L"$LIB" -l:libgmemcore.a \
			$(pkg-config --static --libs gmemcore | sed 's/-lgmemcore//')
	fi
	run readelf -d "$BATS_TEST_TMPDIR/example"
	[[ "$output" != *libgmemcore* ]]
	run "$BATS_TEST_TMPDIR/example"
	[ "$status" -eq 0 ]
	[ "$output" = "hello 1 0x10000-0x14000 heap" ]
}

@test "the README shows examples/example.c as it is" {
	diff <(sed -n '/^```c$/,/^```$/p' "$SOURCE_ROOT/README.md" | sed '1d;$d') \
		"$SOURCE_ROOT/examples/example.c"
}

@test "each installed header compiles alone, twice, and gmem.h includes them all" {
	local h n=0
	for h in "$INC"/gmem/*.h; do
		printf '#include <gmem/%s>\n#include <gmem/%s>\n' \
			"${h##*/}" "${h##*/}" |
			cc "${CFLAGS[@]}" -pedantic -fsyntax-only -I"$INC" -x c - ||
			{ echo "gmem/${h##*/} does not compile alone" >&2; return 1; }
		n=$((n + 1))
		[ "${h##*/}" = gmem.h ] ||
			grep -q "^#include \"${h##*/}\"$" "$INC/gmem/gmem.h" ||
			{ echo "gmem.h misses ${h##*/}" >&2; return 1; }
	done
	[ "$n" -ge 12 ]
	# no header of ours that is not installed
	! grep -h '^#include "' "$INC"/gmem/*.h | sed 's/.*"\(.*\)"/\1/' |
		while read -r h; do [ -f "$INC/gmem/$h" ] || echo "$h"; done |
		grep .
}

@test "libgmemcore.so exports exactly the functions the installed headers declare" {
	command -v clang >/dev/null || skip "clang lists the declarations"
	local declared exported
	# each function declaration, not static inline ones
	declared=$(echo '#include <gmem/gmem.h>' |
		clang -std=c11 -I"$INC" -x c - -fsyntax-only -Xclang -ast-dump |
		grep -E '^[|` -]*FunctionDecl .* gm_[a-z0-9_]+ ' |
		grep -v ' static' |
		sed -E "s/^[^']* (gm_[a-z0-9_]+) '.*/\1/" | sort -u)
	exported=$(nm -D --defined-only "$LIB/libgmemcore.so" |
		awk '$2 == "T" { print $3 }' | sed 's/@.*//' | sort -u)
	[ -n "$declared" ]
	diff <(echo "$declared") <(echo "$exported")
}

@test "man -l renders each installed page without a warning" {
	local page n=0
	for page in "$DEST$MANDIR"/man*/*; do
		run --separate-stderr env MANWIDTH=80 man --warnings -l "$page"
		[ "$status" -eq 0 ]
		[ "$stderr" = "" ] || { echo "$page: $stderr" >&2; return 1; }
		[ "${#lines[@]}" -gt 20 ]
		run --separate-stderr groff -ww -z -t -man "$page"
		[ "$status" -eq 0 ]
		[ "$stderr" = "" ] || { echo "$page: $stderr" >&2; return 1; }
		n=$((n + 1))
	done
	[ "$n" -eq 3 ]
	run env MANPATH="$DEST$MANDIR" man -w gmemfs-snapshot
	[ "$output" = "$DEST$MANDIR/man5/gmemfs-snapshot.5" ]
}

@test "gmem(1) has a paragraph for every verb gmem help lists" {
	local name missing=
	while read -r name; do
		grep -qF "\\fB$name\\fR" "$DEST$MANDIR/man1/gmem.1" ||
			missing+=" $name"
	done < <("$BIN/gmem" help | sed 's/ (or:.*//' |
		awk '{ n = $1; if ($2 ~ /^[a-z_]+$/) n = n " " $2; print n }')
	[ -z "$missing" ] || { echo "gmem(1) lacks:$missing" >&2; return 1; }
}

# complete WORDS...: what the installed completion offers for the last word.
complete_gmem() {
	PATH=$BIN:$PATH bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_gmem gmem
		printf "%s\n" "${COMPREPLY[@]}"' bash \
		"$DEST$COMPLETIONSDIR/gmem" "$@"
}

@test "the completion loads in bash and completes verbs, keywords and subcommands" {
	run bash -c 'source "$1" && complete -p gmem' bash "$DEST$COMPLETIONSDIR/gmem"
	[ "$status" -eq 0 ]
	[ "$output" = "complete -F _gmem gmem" ]
	run complete_gmem gmem ma
	[ "$output" = "map
map_anywhere" ]
	run complete_gmem gmem stack_p
	[ "$output" = "stack_pop
stack_push" ]
	run complete_gmem gmem stack ""
	[ "$output" = "push
pop
read
write" ]
	run complete_gmem gmem -C /x map_anywhere 0x1000 ""
	[ "$output" = "alignment=
max_addr=
min_addr=" ]
	run complete_gmem gmem --he
	[ "$output" = "--help" ]
	run complete_gmem gmem help unm
	[ "$output" = "unmap
unmap_all" ]
}

@test "the completion offers snapshot names, region addresses and sizes, and registers from the mount" {
	GMEMFS=$BIN/gmemfs GMEM=$BIN/gmem
	mount_guest --map 0x10000:0x3000
	"$GMEM" save before
	"$GMEM" save after
	run complete_gmem gmem restore b
	[ "$output" = "before" ]
	run complete_gmem gmem -C "$MNT" drop ""
	[ "$output" = "after
before" ]
	run complete_gmem gmem unmap 0x
	[ "$output" = "0x10000
0x7ffffffde000" ]
	run complete_gmem gmem unmap 0x7ffffffde000 ""
	[ "$output" = "0x21000" ]
	run complete_gmem gmem reg ri
	[ "$output" = "rip" ]
	# -C wins over $GMEMFS_MOUNT
	run env GMEMFS_MOUNT=/nonexistent bash -c "$(declare -f complete_gmem);
		BIN=$BIN DEST=$DEST COMPLETIONSDIR=$COMPLETIONSDIR
		complete_gmem gmem -C $MNT reg rs"
	[ "$output" = "rsi
rsp" ]
}
