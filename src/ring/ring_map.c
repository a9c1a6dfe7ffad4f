/* SPDX-License-Identifier: MIT */
/*
 * Address-space set-up for rings (layer src/ring): splitting one channel
 * region into its upstream and downstream rings (the split OpenChannel's
 * downstream ring page offset describes), initialising both endpoint
 * objects of one side of a channel, and mapping rings from a file
 * descriptor (a memfd, or a file two processes share), optionally with the
 * data pages mapped twice back to back as Linux's hv_ringbuffer_init does
 * with vmap, so that no packet copy ever wraps. The ring core learns which
 * kind of mapping it has only from struct cvmbus_ring_mem.double_mapped,
 * which these helpers set.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ring/ring_internal.h"

/* A ring of ring_len bytes (control page included) has a usable data area. */
static bool ring_len_ok(uint64_t ring_len)
{
	return ring_len >= 2u * CVMBUS_RING_PAGE_SIZE && ring_len % CVMBUS_RING_PAGE_SIZE == 0 &&
	       ring_len - CVMBUS_RING_CONTROL_SIZE <= CVMBUS_RING_MAX_DATA_SIZE;
}

int cvmbus_ring_split(void *region, size_t region_len, uint32_t downstream_page_offset,
		      struct cvmbus_ring_mem *upstream, struct cvmbus_ring_mem *downstream)
{
	uint64_t up_len = (uint64_t)downstream_page_offset * CVMBUS_RING_PAGE_SIZE;
	uint8_t *base = region;

	if (!region || !upstream || !downstream || ((uintptr_t)region & 7u))
		return -EINVAL;
	if (region_len % CVMBUS_RING_PAGE_SIZE || up_len >= region_len)
		return -EINVAL;
	if (!ring_len_ok(up_len) || !ring_len_ok(region_len - up_len))
		return -EINVAL;
	upstream->control = base;
	upstream->data = base + CVMBUS_RING_CONTROL_SIZE;
	upstream->data_size = (uint32_t)(up_len - CVMBUS_RING_CONTROL_SIZE);
	upstream->double_mapped = false;
	downstream->control = base + up_len;
	downstream->data = base + up_len + CVMBUS_RING_CONTROL_SIZE;
	downstream->data_size = (uint32_t)(region_len - up_len - CVMBUS_RING_CONTROL_SIZE);
	downstream->double_mapped = false;
	return 0;
}

int cvmbus_ring_channel_init(struct cvmbus_ring_channel *ch, enum cvmbus_ring_endpoint ep,
			     enum cvmbus_ring_init_mode mode,
			     const struct cvmbus_ring_mem *upstream,
			     const struct cvmbus_ring_mem *downstream)
{
	const struct cvmbus_ring_mem *out, *in;
	int rc_out, rc_in;

	if (!ch || !upstream || !downstream)
		return -EINVAL;
	if (ep == CVMBUS_RING_ENDPOINT_GUEST) {
		out = upstream;
		in = downstream;
	} else if (ep == CVMBUS_RING_ENDPOINT_HOST) {
		out = downstream;
		in = upstream;
	} else {
		return -EINVAL;
	}
	/* Both are set up even if the first finds a corrupt image, so that the
	 * caller can read both faults; the first error is returned. */
	rc_out = cvmbus_ring_init(&ch->out, CVMBUS_RING_WRITER, mode, out);
	if (rc_out == -EINVAL)
		return rc_out;
	rc_in = cvmbus_ring_init(&ch->in, CVMBUS_RING_READER, mode, in);
	return rc_out ? rc_out : rc_in;
}

int cvmbus_ring_map_fd(struct cvmbus_ring_map *m, int fd, off_t offset, size_t ring_len,
		       unsigned flags)
{
	long host_page = sysconf(_SC_PAGESIZE);
	size_t data_size, span;
	struct stat st;
	uint8_t *base;
	int prot, rc;

	if (!m)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	if (fd < 0 || offset < 0 || !ring_len_ok(ring_len) ||
	    (flags & ~(CVMBUS_RING_MAP_DOUBLE | CVMBUS_RING_MAP_READONLY)))
		return -EINVAL;
	if (host_page <= 0 || offset % host_page)
		return -EINVAL;
	/* The alias must start on a host page right after the first copy of
	 * the data; with pages larger than Hyper-V's 4 KiB the control page
	 * and the data cannot be mapped separately. */
	if ((flags & CVMBUS_RING_MAP_DOUBLE) && host_page != (long)CVMBUS_RING_PAGE_SIZE)
		return -EINVAL;
	/* Touching a mapping beyond the end of a file raises SIGBUS; a short
	 * ring image is an input error, not a crash. */
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < (uint64_t)offset + ring_len)
		return -EINVAL;

	prot = (flags & CVMBUS_RING_MAP_READONLY) ? PROT_READ : PROT_READ | PROT_WRITE;
	data_size = ring_len - CVMBUS_RING_CONTROL_SIZE;
	if (!(flags & CVMBUS_RING_MAP_DOUBLE)) {
		base = mmap(NULL, ring_len, prot, MAP_SHARED, fd, offset);
		if (base == MAP_FAILED)
			return -errno;
		span = ring_len;
	} else {
		span = ring_len + data_size;
		/* Reserve the whole span first so nobody else's mapping can
		 * land between the two copies, then map over it. */
		base = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (base == MAP_FAILED)
			return -errno;
		if (mmap(base, ring_len, prot, MAP_SHARED | MAP_FIXED, fd, offset) == MAP_FAILED) {
			rc = -errno;
			goto unwind;
		}
		if (mmap(base + ring_len, data_size, prot, MAP_SHARED | MAP_FIXED, fd,
			 offset + (off_t)CVMBUS_RING_CONTROL_SIZE) == MAP_FAILED) {
			rc = -errno;
			goto unwind;
		}
	}
	m->base = base;
	m->len = span;
	m->mem.control = base;
	m->mem.data = base + CVMBUS_RING_CONTROL_SIZE;
	m->mem.data_size = (uint32_t)data_size;
	m->mem.double_mapped = (flags & CVMBUS_RING_MAP_DOUBLE) != 0;
	return 0;

unwind:
	munmap(base, span);
	return rc;
}

void cvmbus_ring_unmap(struct cvmbus_ring_map *m)
{
	if (!m || !m->base)
		return;
	munmap(m->base, m->len);
	memset(m, 0, sizeof(*m));
}

int cvmbus_ring_channel_map_fd(struct cvmbus_ring_channel_map *m, int fd, off_t offset,
			       size_t region_len, uint32_t downstream_page_offset,
			       unsigned flags)
{
	uint64_t up_len = (uint64_t)downstream_page_offset * CVMBUS_RING_PAGE_SIZE;
	int rc;

	if (!m)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	if (region_len % CVMBUS_RING_PAGE_SIZE || up_len >= region_len || !ring_len_ok(up_len) ||
	    !ring_len_ok(region_len - up_len))
		return -EINVAL;
	rc = cvmbus_ring_map_fd(&m->upstream, fd, offset, (size_t)up_len, flags);
	if (rc)
		return rc;
	rc = cvmbus_ring_map_fd(&m->downstream, fd, offset + (off_t)up_len,
				(size_t)(region_len - up_len), flags);
	if (rc)
		goto unwind;
	return 0;

unwind:
	cvmbus_ring_unmap(&m->upstream);
	return rc;
}

void cvmbus_ring_channel_unmap(struct cvmbus_ring_channel_map *m)
{
	if (!m)
		return;
	cvmbus_ring_unmap(&m->upstream);
	cvmbus_ring_unmap(&m->downstream);
}
