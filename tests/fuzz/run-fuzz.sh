#!/bin/sh
# Runs the fuzzer briefly for `meson test --suite fuzz`: FUZZER CORPUS SEEDS
# [LIBFUZZER OPTIONS…]. CORPUS keeps what earlier runs found, but only its
# newest 500 inputs, so that loading it never takes most of the 20 seconds.
# A failing input is written beside CORPUS as crash-SHA1. Inputs may grow
# to 16 KiB from the start (-len_control=0): the first bytes set a guest
# up, the depth is in the operations after them.
set -eu
fuzzer=$1 corpus=$2 seeds=$3
shift 3
mkdir -p "$corpus"
ls -t "$corpus" | tail -n +501 | (cd "$corpus" && xargs -r rm -f --)
# Undefined behaviour fails the run, not just prints a line.
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export UBSAN_OPTIONS
exec "$fuzzer" -max_total_time=20 -max_len=16384 -len_control=0 \
	-rss_limit_mb=4096 -print_final_stats=1 \
	-artifact_prefix="$(dirname "$corpus")/" "$@" "$corpus" "$seeds"
