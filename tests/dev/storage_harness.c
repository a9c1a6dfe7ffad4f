/* SPDX-License-Identifier: MIT */
/*
 * The loopback storage rig of tests/dev (see storage_harness.h): SNP
 * partition memory, a channel pair whose host endpoint reaches guest memory
 * through the host view or the paravisor view, a VSP over a temporary file,
 * and a VSC. Everything the host could see can be scanned for a secret.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dev/storage_harness.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* ---- memory ops, counted ------------------------------------------------------- */

static void count(struct harness_view_counts *c, bool write, size_t len, int rc)
{
	if (rc < 0) {
		atomic_fetch_add(&c->faults, 1);
		return;
	}
	if (write) {
		atomic_fetch_add(&c->writes, 1);
		atomic_fetch_add(&c->write_bytes, len);
	} else {
		atomic_fetch_add(&c->reads, 1);
		atomic_fetch_add(&c->read_bytes, len);
	}
}

static int guest_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	struct harness *h = ctx;

	return cvmbus_mem_read(h->mem, CVMBUS_MEM_VIEW_GUEST, gpa, dst, len);
}

static int guest_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct harness *h = ctx;

	return cvmbus_mem_write(h->mem, CVMBUS_MEM_VIEW_GUEST, gpa, src, len);
}

/* The host path: addresses are shared aliases; private pages are absent. */
static int host_read(void *ctx, uint64_t alias, void *dst, size_t len)
{
	struct harness *h = ctx;
	int rc = cvmbus_mem_host_read(h->hv, alias, dst, len);

	count(&h->host_view, false, len, rc);
	return rc;
}

static int host_write(void *ctx, uint64_t alias, const void *src, size_t len)
{
	struct harness *h = ctx;
	int rc = cvmbus_mem_host_write(h->hv, alias, src, len);

	count(&h->host_view, true, len, rc);
	return rc;
}

/* The confidential path: the paravisor reaches every page by its GPA. */
static int pv_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	struct harness *h = ctx;
	int rc = cvmbus_mem_read(h->mem, CVMBUS_MEM_VIEW_PARAVISOR, gpa, dst, len);

	count(&h->paravisor_view, false, len, rc);
	return rc;
}

static int pv_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct harness *h = ctx;
	int rc = cvmbus_mem_write(h->mem, CVMBUS_MEM_VIEW_PARAVISOR, gpa, src, len);

	count(&h->paravisor_view, true, len, rc);
	return rc;
}

static void count_hold(struct harness_view_counts *c, size_t len, int rc)
{
	if (rc < 0) {
		atomic_fetch_add(&c->faults, 1);
		return;
	}
	atomic_fetch_add(&c->holds, 1);
	atomic_fetch_add(&c->hold_bytes, len);
}

/* A hold through the VSP's view, which the path decides (addresses are
 * shared aliases on the host path, GPAs on the paravisor's). */
static int view_hold(void *ctx, uint64_t addr, size_t len, void **ptr)
{
	struct harness *h = ctx;
	bool host = h->cfg.path == HARNESS_HOST;
	int rc = host ? cvmbus_mem_host_hold(h->hv, addr, len, ptr)
		      : cvmbus_mem_hold(h->mem, CVMBUS_MEM_VIEW_PARAVISOR, addr, len, ptr);

	count_hold(host ? &h->host_view : &h->paravisor_view, len, rc);
	return rc;
}

static void view_release(void *ctx, uint64_t addr, size_t len)
{
	struct harness *h = ctx;

	if (h->cfg.path == HARNESS_HOST) {
		atomic_fetch_add(&h->host_view.releases, 1);
		cvmbus_mem_host_release(h->hv, addr, len);
	} else {
		atomic_fetch_add(&h->paravisor_view.releases, 1);
		cvmbus_mem_release(h->mem, addr, len);
	}
}

/* ---- setup ---------------------------------------------------------------------- */

/* The channel of the offer, its VSP over the disk and the guest's VSC:
 * what a (re-)offer and the guest's open make. */
static void harness_channel(struct harness *h)
{
	const struct harness_config *cfg = &h->cfg;
	struct cvmbus_channel_pair_config pc;
	struct cvmbus_storvsp_config vc;
	struct cvmbus_storvsc_config cc;

	memset(&pc, 0, sizeof(pc));
	pc.exec = h->exec;
	pc.upstream_bytes = 128 * 1024;
	pc.downstream_bytes = 128 * 1024;
	pc.guest_mem_ops = &h->guest_mem_ops;
	pc.guest_mem_ctx = h;
	pc.host_mem_ops = &h->host_mem_ops;
	pc.host_mem_ctx = h;
	assert_int_equal(cvmbus_channel_pair_create(&h->pair, &pc), 0);

	if (!cfg->no_vsp) {
		memset(&vc, 0, sizeof(vc));
		vc.exec = h->exec;
		vc.channel = &h->pair.host;
		vc.disk = &h->disk;
		vc.workers = cfg->vsp_workers;
		vc.inline_max = cfg->vsp_inline_max;
		vc.max_version = cfg->vsp_max_version;
		vc.poll_ns = 5 * MS;
		assert_int_equal(cvmbus_storvsp_create(&vc, &h->vsp), 0);
		assert_int_equal(cvmbus_storvsp_start(h->vsp), 0);
	}

	if (!cfg->no_vsc) {
		memset(&cc, 0, sizeof(cc));
		cc.exec = h->exec;
		cc.channel = &h->pair.guest;
		cc.mem = h->mem;
		cc.confidential_external_memory = cfg->path == HARNESS_CONFIDENTIAL;
		cc.bounce = h->bounce;
		cc.no_bounce = cfg->no_bounce;
		cc.timeout_ns = cfg->vsc_timeout_ns ? cfg->vsc_timeout_ns : 10 * SEC;
		cc.poll_ns = 5 * MS;
		assert_int_equal(cvmbus_storvsc_create(&cc, &h->vsc), 0);
		if (!cfg->no_connect && !cfg->no_vsp)
			assert_int_equal(cvmbus_storvsc_connect(h->vsc), 0);
	}
}

void harness_init(struct harness *h, const struct harness_config *cfg)
{
	struct cvmbus_mem_config mc;
	struct cvmbus_blk_file_config fc;
	uint64_t ram_pages;
	int fd;

	memset(h, 0, sizeof(*h));
	h->cfg = *cfg;
	ram_pages = cfg->ram_pages ? cfg->ram_pages : 2048;
	if (cfg->exec)
		h->exec = cfg->exec;
	else
		assert_int_equal(cvmbus_exec_native_create(&h->exec), 0);

	memset(&mc, 0, sizeof(mc));
	mc.isolation = HV_ISOLATION_TYPE_SNP;
	mc.vtl0_bytes = ram_pages * CVMBUS_MEM_PAGE_SIZE;
	mc.vtl2_bytes = 16 * CVMBUS_MEM_PAGE_SIZE;
	assert_int_equal(cvmbus_mem_create(&mc, &h->mem), 0);
	h->hv = cvmbus_mem_host(h->mem);
	assert_non_null(h->hv);

	h->guest_mem_ops = (struct cvmbus_channel_ops){ .mem_read = guest_read,
							.mem_write = guest_write };
	if (cfg->path == HARNESS_HOST)
		h->host_mem_ops = (struct cvmbus_channel_ops){
			.mem_read = host_read, .mem_write = host_write,
			.mem_hold = cfg->hold ? view_hold : NULL,
			.mem_release = cfg->hold ? view_release : NULL,
		};
	else
		h->host_mem_ops = (struct cvmbus_channel_ops){
			.mem_read = pv_read, .mem_write = pv_write,
			.mem_hold = cfg->hold ? view_hold : NULL,
			.mem_release = cfg->hold ? view_release : NULL,
		};

	/* The disk: a temporary file, unlinked at once so nothing is left
	 * behind whatever happens to the test. */
	strcpy(h->disk_path, "/tmp/cvmbus-disk-XXXXXX");
	fd = mkstemp(h->disk_path);
	assert_true(fd >= 0);
	close(fd);
	memset(&fc, 0, sizeof(fc));
	fc.path = h->disk_path;
	fc.create_bytes = cfg->disk_bytes ? cfg->disk_bytes : 8ull << 20;
	assert_int_equal(cvmbus_blk_file_open(&fc, &h->file), 0);
	unlink(h->disk_path);
	h->disk.blk = cfg->wrap_blk ? cfg->wrap_blk(h->file, cfg->wrap_arg) : h->file;
	h->disk.id = 0x00c0ffee12345678ull;
	h->disk.max_transfer_bytes = cfg->max_transfer;
	h->disk.write_cache = true;

	if (cfg->path == HARNESS_HOST && !cfg->no_vsc) {
		struct cvmbus_bounce_pool_config bc = {
			.exec = h->exec,
			.mem = h->mem,
			.pages = cfg->bounce_pages ? cfg->bounce_pages : 128,
		};

		assert_int_equal(cvmbus_bounce_pool_create(&bc, &h->bounce), 0);
	}

	harness_channel(h);
}

void harness_fini(struct harness *h)
{
	/* Threads first (they use the channel), then the channel, then the
	 * memory the channel's ops point into. */
	cvmbus_storvsc_destroy(h->vsc);
	cvmbus_storvsp_destroy(h->vsp);
	cvmbus_channel_pair_destroy(&h->pair);
	cvmbus_bounce_pool_destroy(h->bounce);
	if (h->cfg.unwrap_blk)
		h->cfg.unwrap_blk(h->cfg.wrap_arg);
	cvmbus_blk_close(h->file);
	cvmbus_mem_destroy(h->mem);
	if (!h->cfg.exec)
		cvmbus_exec_destroy(h->exec);
}

void harness_reoffer(struct harness *h)
{
	cvmbus_channel_close(&h->pair.guest);
	cvmbus_storvsc_destroy(h->vsc);
	h->vsc = NULL;
	cvmbus_storvsp_destroy(h->vsp);
	h->vsp = NULL;
	cvmbus_channel_pair_destroy(&h->pair);
	harness_channel(h);
}

uint64_t harness_alloc(struct harness *h, uint64_t npages)
{
	uint64_t gpa;

	assert_int_equal(cvmbus_mem_alloc(h->mem, CVMBUS_MEM_REGION_VTL0, npages, &gpa), 0);
	assert_int_equal(cvmbus_mem_page_state(h->mem, gpa), CVMBUS_MEM_PAGE_PRIVATE);
	return gpa;
}

void harness_fill_random(struct harness *h, uint64_t gpa, size_t len, uint64_t seed)
{
	uint8_t *buf = malloc(len);
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	assert_non_null(buf);
	for (size_t i = 0; i < len; i++) {
		/* xorshift64: deterministic per seed, no two requests alike */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)(x >> 24);
	}
	assert_int_equal(cvmbus_mem_write(h->mem, CVMBUS_MEM_VIEW_GUEST, gpa, buf, len), 0);
	free(buf);
}

bool harness_find(const uint8_t *hay, size_t len, const uint8_t *needle, size_t nlen)
{
	if (nlen == 0 || len < nlen)
		return false;
	for (size_t i = 0; i + nlen <= len; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, nlen) == 0)
			return true;
	return false;
}

static bool fd_contains(int fd, const uint8_t *needle, size_t nlen)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	bool found;

	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);

		assert_true(n > 0);
		got += (size_t)n;
	}
	found = harness_find(buf, got, needle, nlen);
	free(buf);
	return found;
}

bool harness_host_sees(struct harness *h, const uint8_t *needle, size_t nlen)
{
	uint8_t *base = cvmbus_mem_host_view_base(h->hv);
	uint64_t bytes = cvmbus_mem_bytes(h->mem);
	uint64_t gpa = 0;

	/* Every run of pages visible in the host view, read through the
	 * host's own mapping (a secret may straddle two visible pages). */
	while (gpa < bytes) {
		uint64_t end;

		if (!cvmbus_mem_host_view_visible(h->hv, gpa)) {
			gpa += CVMBUS_MEM_PAGE_SIZE;
			continue;
		}
		end = gpa;
		while (end < bytes && cvmbus_mem_host_view_visible(h->hv, end))
			end += CVMBUS_MEM_PAGE_SIZE;
		if (harness_find(base + gpa, end - gpa, needle, nlen))
			return true;
		gpa = end;
	}
	/* The shared memfd as a host process holding it would read it, and
	 * the ring pages (host-visible too). */
	if (fd_contains(cvmbus_mem_shared_fd(h->mem), needle, nlen))
		return true;
	return fd_contains(h->pair.fd, needle, nlen);
}
