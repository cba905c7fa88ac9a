/*
 * `gmem snapshot info` and `gmem snapshot diff`: snapshot files (SPEC §5)
 * described and compared without a mount.
 */
#ifndef GMEM_SNAPSHOT_H
#define GMEM_SNAPSHOT_H

#define GMEM_SNAPSHOT_USAGE                       \
	"       gmem snapshot info FILE\n"        \
	"       gmem snapshot diff FILE1 FILE2\n" \
	"       gmem snapshot core FILE > OUT\n"

/*
 * Run `gmem snapshot ARGV...` (ARGV after the word "snapshot") and return
 * the exit status. info: 0, or 1 when the checksum is bad or the file is no
 * snapshot. diff: 0 same, 1 different, 2 trouble. core: 0, or 1 when the file
 * is no snapshot or stdout fails. 2 for usage errors.
 */
int gmem_snapshot(int argc, char **argv, const char *usage);

#endif
