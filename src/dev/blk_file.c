/* SPDX-License-Identifier: MIT */
/*
 * The file block backend (include/cvmbus/storage.h, layer src/dev): a disk
 * image in a regular file, read and written with pread/pwrite so that the
 * VSP's worker threads share one descriptor without a lock (positional I/O
 * has no shared file offset), flushed with fdatasync, and discarded by
 * punching holes (FALLOC_FL_KEEP_SIZE: the disk never shrinks; a hole reads
 * as zeros, which is what VPD 0xB2 promises with LBPRZ).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cvmbus/storage.h>

struct blk_file {
	struct cvmbus_blk blk;
	int fd;
};

/* Loop until every byte moved: pread/pwrite may be short on a regular file
 * (a signal, a quota), and a short I/O must not be reported as success. */
static int blk_file_read(void *ctx, uint64_t offset, void *buf, size_t len)
{
	struct blk_file *f = ctx;
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(f->fd, p, len, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) /* the file shrank under us */
			return -EIO;
		p += n;
		offset += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int blk_file_write(void *ctx, uint64_t offset, const void *buf, size_t len)
{
	struct blk_file *f = ctx;
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(f->fd, p, len, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		offset += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int blk_file_flush(void *ctx)
{
	struct blk_file *f = ctx;

	return fdatasync(f->fd) < 0 ? -errno : 0;
}

static int blk_file_discard(void *ctx, uint64_t offset, uint64_t len)
{
	struct blk_file *f = ctx;

	if (fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset,
		      (off_t)len) < 0)
		return -errno;
	return 0;
}

static void blk_file_close(void *ctx)
{
	struct blk_file *f = ctx;

	close(f->fd);
	f->fd = -1;
}

static const struct cvmbus_blk_ops blk_file_ops = {
	.read = blk_file_read,
	.write = blk_file_write,
	.flush = blk_file_flush,
	.discard = blk_file_discard,
	.close = blk_file_close,
};

int cvmbus_blk_file_open(const struct cvmbus_blk_file_config *cfg, struct cvmbus_blk **out)
{
	struct blk_file *f;
	struct stat st;
	int flags, rc;

	if (!cfg || !cfg->path || !out || cfg->create_bytes % CVMBUS_SCSI_SECTOR ||
	    (cfg->create_bytes && cfg->read_only))
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	flags = (cfg->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	if (cfg->create_bytes)
		flags |= O_CREAT;
	f->fd = open(cfg->path, flags, 0600);
	if (f->fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (cfg->create_bytes && ftruncate(f->fd, (off_t)cfg->create_bytes) < 0) {
		rc = -errno;
		goto fail_fd;
	}
	if (fstat(f->fd, &st) < 0) {
		rc = -errno;
		goto fail_fd;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)CVMBUS_SCSI_SECTOR) {
		rc = -EINVAL;
		goto fail_fd;
	}
	f->blk.ops = &blk_file_ops;
	f->blk.ctx = f;
	f->blk.sectors = (uint64_t)st.st_size / CVMBUS_SCSI_SECTOR;
	f->blk.read_only = cfg->read_only;
	*out = &f->blk;
	return 0;

fail_fd:
	close(f->fd);
fail:
	free(f);
	return rc;
}

void cvmbus_blk_close(struct cvmbus_blk *blk)
{
	if (!blk)
		return;
	if (blk->ops && blk->ops->close)
		blk->ops->close(blk->ctx);
	/* Every backend of this file embeds its cvmbus_blk first. */
	free(blk);
}
