/* SPDX-License-Identifier: MIT */
/*
 * The secret scan of a VM run (src/vm): how many copies of some bytes the
 * host can read. Two independent looks, so that neither a bug in the host
 * view's mapping nor one in the exposure account can hide a copy:
 *   - the shared memfd, read with pread from start to end: everything a
 *     host process that was handed only that fd could read, including
 *     stale bytes of pages that are no longer shared;
 *   - every page the exposure account says is host-visible now, read
 *     through the host view by its shared alias (what the host's own code
 *     reads), runs of adjacent pages read as one so that a copy straddling
 *     two pages is still found.
 * The memfd look is the stronger claim ("not one byte anywhere"); the view
 * look says whether the host's normal accessors would hand the bytes out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm/vm_internal.h"

static uint64_t count_in(const uint8_t *hay, size_t hay_len, const void *needle, size_t len)
{
	uint64_t hits = 0;
	const uint8_t *p = hay, *end = hay + hay_len;

	while ((size_t)(end - p) >= len) {
		const uint8_t *q = memmem(p, (size_t)(end - p), needle, len);

		if (!q)
			break;
		hits++;
		p = q + 1;
	}
	return hits;
}

static int scan_fd(int fd, uint64_t bytes, const void *needle, size_t len, uint64_t *hits)
{
	uint8_t *buf;
	size_t got = 0;
	int rc = 0;

	if (bytes > SIZE_MAX)
		return -EFBIG;
	buf = malloc(bytes ? bytes : 1);
	if (!buf)
		return -ENOMEM;
	while (got < bytes) {
		ssize_t n = pread(fd, buf + got, bytes - got, (off_t)got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break; /* the memfd is shorter than the partition: scan what there is */
		got += (size_t)n;
	}
	*hits = count_in(buf, got, needle, len);
out:
	free(buf);
	return rc;
}

/* Read [gpa, gpa + bytes) through the host view and count. */
static int scan_run(struct cvmbus_mem *mem, uint64_t gpa, uint64_t bytes, const void *needle,
		    size_t len, uint64_t *hits)
{
	struct cvmbus_mem_host_view *hv = cvmbus_mem_host(mem);
	uint8_t *buf;
	int rc;

	if (!bytes)
		return 0;
	buf = malloc(bytes);
	if (!buf)
		return -ENOMEM;
	rc = cvmbus_mem_host_read(hv, cvmbus_mem_gpa_to_alias(mem, gpa), buf, bytes);
	if (!rc)
		*hits += count_in(buf, bytes, needle, len);
	free(buf);
	return rc;
}

int cvmbus_vm_scan(struct cvmbus_vm *vm, const void *needle, size_t len, uint64_t *view,
		   uint64_t *fd)
{
	struct cvmbus_mem *mem;
	struct cvmbus_mem_exposure_iter it;
	struct cvmbus_mem_exposure_range er;
	uint64_t run_gpa = 0, run_bytes = 0, hv_hits = 0, fd_hits = 0;
	int rc, first = 0;

	if (!vm || !vm->running || !vm->p || !needle || !len)
		return -EINVAL;
	mem = cvmbus_platform_mem(vm->p);

	rc = scan_fd(cvmbus_mem_shared_fd(mem), cvmbus_mem_bytes(mem), needle, len, &fd_hits);
	if (rc && !first)
		first = rc;

	cvmbus_mem_exposure_iter_init(&it, CVMBUS_MEM_EXPOSURE_NOW);
	while (cvmbus_mem_exposure_next(mem, &it, &er) == 1) {
		if (run_bytes && run_gpa + run_bytes == er.gpa) {
			run_bytes += er.bytes;
			continue;
		}
		rc = scan_run(mem, run_gpa, run_bytes, needle, len, &hv_hits);
		if (rc && !first)
			first = rc;
		run_gpa = er.gpa;
		run_bytes = er.bytes;
	}
	rc = scan_run(mem, run_gpa, run_bytes, needle, len, &hv_hits);
	if (rc && !first)
		first = rc;
	if (view)
		*view = hv_hits;
	if (fd)
		*fd = fd_hits;
	return first;
}
