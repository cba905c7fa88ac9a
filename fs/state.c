/*
 * --state FILE: the guest starts from the snapshot file FILE when there is
 * one, and is written back to it, atomically, when the daemon ends.
 * Try it: gmemfs --state /tmp/g.snap /tmp/g; echo 'write 0x7ffffffde000 41'
 * > /tmp/g/ctl; fusermount3 -u /tmp/g; gmem snapshot info /tmp/g.snap
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gmemfs.h"
#include "snapfile.h"
#include "snapshot.h"

/* How long a start waits for the daemon that holds FILE to write it. */
#define LOCK_WAIT_S 60

/*
 * Hold FILE.lock for as long as this daemon may still write FILE: a daemon
 * started on FILE right after `fusermount3 -u` waits here until the one
 * before has written its state, instead of starting from the old one and
 * writing over the new one later.
 */
static int state_lock(const char *path, int *lock_fd, struct gm_error *err)
{
	char *lock = NULL;
	struct stat st = {0};
	int fd, rc = 0;

	if (asprintf(&lock, "%s.lock", path) < 0)
		return gm_fail(err, ENOMEM, "out of memory");
	fd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = gm_fail(err, errno, "cannot open %s: %s", lock,
			     strerror(errno));
		goto out;
	}
	/* A lock another user planted would hold us for nothing. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid()) {
		rc = gm_fail(err, EPERM,
			     "%s is not a file of ours (uid %u): remove it",
			     lock, (unsigned)st.st_uid);
		close(fd);
		goto out;
	}
	for (int tenths = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; tenths++) {
		if (errno != EWOULDBLOCK || tenths == LOCK_WAIT_S * 10) {
			rc = gm_fail(err, errno == EWOULDBLOCK ? EBUSY : errno,
				     "another gmemfs has held %s for %d s",
				     lock, LOCK_WAIT_S);
			close(fd);
			goto out;
		}
		if (tenths == 0)
			fprintf(stderr,
				"gmemfs: --state %s: waiting for the gmemfs "
				"that has it to write it\n",
				path);
		nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
	}
	*lock_fd = fd;
out:
	free(lock);
	return rc;
}

/* ASKED with its symbolic links followed, also a last one that points at
 * nothing yet: the state goes where a link points, and the link stays.
 * NULL when out of memory. */
static char *link_target(const char *asked)
{
	char *cur = strdup(asked), *next, buf[PATH_MAX];
	struct stat st;
	ssize_t n;

	for (int hops = 0; cur && hops < 40; hops++) {
		const char *slash = strrchr(cur, '/');

		if (lstat(cur, &st) < 0 || !S_ISLNK(st.st_mode))
			break;
		n = readlink(cur, buf, sizeof(buf) - 1);
		if (n < 0)
			break;
		buf[n] = '\0';
		if (buf[0] == '/' || !slash)
			next = strdup(buf);
		else if (asprintf(&next, "%.*s%s", (int)(slash - cur + 1), cur,
				  buf) < 0)
			next = NULL;
		free(cur);
		cur = next;
	}
	return cur;
}

int gmfs_state_prepare(const char *asked, char **path, int *lock_fd,
		       struct gm_error *err)
{
	char *given = link_target(asked);
	const char *slash = given ? strrchr(given, '/') : NULL;
	const char *base = slash ? slash + 1 : given;
	char *dir =
	    slash ? strndup(given, (size_t)(slash - given + 1)) : strdup(".");
	char real[PATH_MAX], *tmp = NULL;
	struct stat st;
	int fd, rc = 0;

	*path = NULL;
	if (!dir || !given) {
		free(dir);
		free(given);
		return gm_fail(err, ENOMEM, "out of memory");
	}
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		rc = gm_fail(err, EINVAL, "names a directory, not a file");
		goto out;
	}
	/* The daemon runs in /: keep the path as it is found now, a link
	 * followed (the state replaces what it names, not the link). */
	if (realpath(given, real)) {
		*path = strdup(real);
	} else if (!realpath(dir, real)) {
		rc = gm_fail(err, errno, "%s: %s", dir, strerror(errno));
		goto out;
	} else if (asprintf(path, "%s/%s", strcmp(real, "/") ? real : "",
			    base) < 0) {
		*path = NULL;
	}
	if (!*path ||
	    asprintf(&tmp, "%s%s", *path, GM_SNAPFILE_TMP_SUFFIX) < 0) {
		rc = gm_fail(err, ENOMEM, "out of memory");
		goto out;
	}
	/* Find out now, not at the end, that the state cannot be written
	 * (another daemon's FILE.tmp is left alone: we wait for it below). */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0 && errno != EEXIST) {
		rc = gm_fail(err, errno, "cannot write beside it (%s): %s", tmp,
			     strerror(errno));
		goto out;
	}
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	} else if (lstat(tmp, &st) == 0 &&
		   (!S_ISREG(st.st_mode) || st.st_uid != geteuid())) {
		rc = gm_fail(err, EEXIST,
			     "%s exists and is not a file of ours (uid %u): "
			     "remove it",
			     tmp, (unsigned)st.st_uid);
		goto out;
	}
	rc = state_lock(*path, lock_fd, err);
out:
	if (rc < 0) {
		free(*path);
		*path = NULL;
	}
	free(tmp);
	free(dir);
	free(given);
	return rc;
}

int gmfs_state_load(const char *path, const struct gm_arch *arch,
		    struct gm_guest **out, struct gm_error *err)
{
	struct gm_snapfile_want want = {.arch = arch};
	struct gm_snapshot *s = NULL;
	struct gm_guest *g = NULL;
	int rc;

	*out = NULL;
	rc = gm_snapfile_load(path, NULL, &want, &s, NULL, err);
	if (rc == -ENOENT)
		return 0; /* the first start: the options make the guest */
	if (rc == 0)
		rc = gm_guest_open(s->arch, &g, err);
	if (rc == 0)
		rc = gm_snap_restore_from(g, s, err);
	gm_snapshot_free(s);
	if (rc < 0) {
		gm_guest_close(g);
		return rc;
	}
	*out = g;
	return 0;
}

int gmfs_state_store(struct gm_guest *g, const char *path, struct gm_error *err)
{
	int rc;

	gm_guest_lock(g);
	rc = gm_snap_store(g, path, err);
	gm_guest_unlock(g);
	return rc;
}
