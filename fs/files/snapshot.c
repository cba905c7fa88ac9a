/*
 * snapshots/: one file per saved snapshot; rm drops it (as `drop NAME`).
 * Try it: echo before > /tmp/g/save; ls /tmp/g/snapshots; rm
 * /tmp/g/snapshots/before
 */
#include <errno.h>
#include <stdio.h>

#include "gmemfs.h"
#include "snapshot.h"

void gmfs_snapshot_unlink(fuse_req_t req, struct gmfs *fs, const char *name)
{
	struct gm_error err = {0};
	char what[GM_SNAP_NAME_MAX + 16];
	int rc;

	gm_guest_lock(fs->guest);
	rc = gm_snap_drop(fs->guest, name, &err);
	snprintf(what, sizeof(what), "rm snapshots/%s", name);
	gm_cmd_log_add(fs->cmd, what, rc, &err);
	gm_guest_unlock(fs->guest);
	fuse_reply_err(req, -rc);
}
