/* SPDX-License-Identifier: MIT */
/*
 * Storage end to end (src/dev storvsc + storvsp + bounce) over a loopback
 * channel pair with real rings and SNP partition memory (storage_harness.c):
 *
 *   - 64 outstanding writes of random data, then 64 reads, compared, on both
 *     paths: confidential (the VSP reads private guest memory through the
 *     paravisor view; no page becomes host-visible, nothing is bounced) and
 *     host (the VSP reaches only the bounce pool through the host view;
 *     bytes bounced == bytes moved; host-visible pages == the pool);
 *   - a private buffer sent unbounced on the host path fails cleanly (-EIO);
 *   - a secret written to disk never appears in anything the host can see on
 *     the confidential path, and does on the host path (the scan works);
 *   - faults: the VSP stopped with requests in flight, the channel closed
 *     under them: every request ends with an error, none hangs;
 *   - hostile completions (a scripted VSP) and hostile requests (a scripted
 *     VSC against the real VSP): refused one by one, the channel goes on;
 *   - the older protocol layouts (WIN7, WIN8) end to end, the conveniences,
 *     and several guest threads at once over a small bounce pool.
 *
 * Multithreaded throughout: label tsan.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dev/storage_harness.h"

#define PG CVMBUS_MEM_PAGE_SIZE
#define MS 1000000ull
#define SEC 1000000000ull
#define NREQ 64u
#define REQ_BYTES 8192u
#define REQ_SECTORS (REQ_BYTES / 512u)

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void rw_cmd(struct cvmbus_storvsc_cmd *c, bool write, uint64_t lba, uint32_t sectors,
		   uint64_t gpa)
{
	memset(c, 0, sizeof(*c));
	c->cdb[0] = write ? 0x8a : 0x88;
	put_be32(c->cdb + 2, (uint32_t)(lba >> 32));
	put_be32(c->cdb + 6, (uint32_t)lba);
	put_be32(c->cdb + 10, sectors);
	c->cdb_len = 16;
	c->dir = write ? CVMBUS_SCSI_DIR_OUT : CVMBUS_SCSI_DIR_IN;
	c->gpa = gpa;
	c->len = sectors * 512u;
}

/* NREQ requests submitted before any is waited for, then all waited. */
static void batch(struct harness *h, bool write, uint64_t gpa0, uint64_t lba0)
{
	struct cvmbus_storvsc_cmd cmd;
	struct cvmbus_storvsc_result res;
	uint32_t tags[NREQ];

	for (uint32_t i = 0; i < NREQ; i++) {
		rw_cmd(&cmd, write, lba0 + (uint64_t)i * REQ_SECTORS, REQ_SECTORS,
		       gpa0 + (uint64_t)i * REQ_BYTES);
		assert_int_equal(cvmbus_storvsc_submit(h->vsc, &cmd, &tags[i]), 0);
	}
	for (uint32_t i = 0; i < NREQ; i++) {
		assert_int_equal(cvmbus_storvsc_wait(h->vsc, tags[i], &res), 0);
		assert_int_equal(cvmbus_storvsc_result_errno(&res), 0);
		assert_int_equal(res.transfer_length, REQ_BYTES);
	}
}

static void compare_guest(struct harness *h, uint64_t a, uint64_t b, size_t len)
{
	uint8_t *x = malloc(len), *y = malloc(len);

	assert_non_null(x);
	assert_non_null(y);
	assert_int_equal(cvmbus_mem_read(h->mem, CVMBUS_MEM_VIEW_GUEST, a, x, len), 0);
	assert_int_equal(cvmbus_mem_read(h->mem, CVMBUS_MEM_VIEW_GUEST, b, y, len), 0);
	assert_memory_equal(x, y, len);
	free(x);
	free(y);
}

/* Write NREQ x 8 KiB of random data at once, read it back at once. */
static void roundtrip(struct harness *h)
{
	const size_t total = (size_t)NREQ * REQ_BYTES;
	uint64_t wbuf = harness_alloc(h, total / PG);
	uint64_t rbuf = harness_alloc(h, total / PG);
	struct cvmbus_storvsc_stats st;

	harness_fill_random(h, wbuf, total, 42);
	harness_fill_random(h, rbuf, total, 7); /* not zeros: a no-op read must fail */
	batch(h, true, wbuf, 100);
	batch(h, false, rbuf, 100);
	compare_guest(h, wbuf, rbuf, total);
	cvmbus_storvsc_get_stats(h->vsc, &st);
	assert_int_equal(st.max_outstanding, NREQ);
	assert_int_equal(st.bytes_written, total);
	assert_int_equal(st.bytes_read, total);
	assert_int_equal(st.failed, 0);
	/* The buffers stayed private all along. */
	assert_int_equal(cvmbus_mem_page_state(h->mem, wbuf), CVMBUS_MEM_PAGE_PRIVATE);
	assert_int_equal(cvmbus_mem_page_state(h->mem, rbuf + total - PG), CVMBUS_MEM_PAGE_PRIVATE);
}

/* ---- the two data paths -------------------------------------------------------- */

static void test_confidential_path(void **state)
{
	struct harness_config cfg = { .path = HARNESS_CONFIDENTIAL };
	const uint64_t total = (uint64_t)NREQ * REQ_BYTES;
	struct harness h;
	struct cvmbus_mem_exposure_totals t;
	struct cvmbus_mem_stats ms;
	struct cvmbus_storvsc_stats st;

	(void)state;
	harness_init(&h, &cfg);
	assert_int_equal(cvmbus_storvsc_version(h.vsc), CVMBUS_VSTOR_VERSION_WIN10);
	roundtrip(&h);

	/* The host view was never used, not even to fail. */
	assert_int_equal(atomic_load(&h.host_view.reads), 0);
	assert_int_equal(atomic_load(&h.host_view.writes), 0);
	assert_int_equal(atomic_load(&h.host_view.faults), 0);
	/* The VSP read and wrote private memory through the paravisor view. */
	assert_int_equal(atomic_load(&h.paravisor_view.read_bytes), total);
	assert_int_equal(atomic_load(&h.paravisor_view.write_bytes), total);
	assert_int_equal(atomic_load(&h.paravisor_view.faults), 0);
	/* Zero copies, zero host-visible pages: no "bounce" reason was ever
	 * used, no page of the partition was ever visible, none was made
	 * shared. */
	cvmbus_storvsc_get_stats(h.vsc, &st);
	assert_int_equal(st.direct_bytes, 2 * total);
	assert_null(h.bounce);
	assert_int_equal(cvmbus_mem_exposure_by_reason(h.mem, "bounce", &t), -ENOENT);
	cvmbus_mem_exposure_total(h.mem, &t);
	assert_int_equal(t.pages_ever, 0);
	cvmbus_mem_get_stats(h.mem, &ms);
	assert_int_equal(ms.pages_made_shared, 0);
	assert_int_equal(ms.host_faults, 0);
	harness_fini(&h);
}

static void test_host_path(void **state)
{
	struct harness_config cfg = { .path = HARNESS_HOST, .bounce_pages = 128 };
	const uint64_t total = (uint64_t)NREQ * REQ_BYTES;
	struct harness h;
	struct cvmbus_mem_exposure_totals t;
	struct cvmbus_bounce_stats bs;
	struct cvmbus_storvsc_stats st;

	(void)state;
	harness_init(&h, &cfg);
	roundtrip(&h);

	/* Every byte moved went through the pool: in for writes, out for
	 * reads. */
	cvmbus_bounce_get_stats(h.bounce, &bs);
	assert_int_equal(bs.bytes_to_device, total);
	assert_int_equal(bs.bytes_from_device, total);
	assert_int_equal(bs.pages_in_use, 0);
	cvmbus_storvsc_get_stats(h.vsc, &st);
	assert_int_equal(st.direct_bytes, 0);
	/* The VSP only ever used the host view. */
	assert_int_equal(atomic_load(&h.host_view.read_bytes), total);
	assert_int_equal(atomic_load(&h.host_view.write_bytes), total);
	assert_int_equal(atomic_load(&h.host_view.faults), 0);
	assert_int_equal(atomic_load(&h.paravisor_view.reads), 0);
	/* Host-visible: the pool, and nothing else, ever. */
	assert_int_equal(cvmbus_mem_exposure_by_reason(h.mem, "bounce", &t), 0);
	assert_int_equal(t.pages_now, 128);
	/* Each pool page changed visibility once, at creation: none per I/O. */
	assert_int_equal(t.transitions, 128);
	cvmbus_mem_exposure_total(h.mem, &t);
	assert_int_equal(t.pages_now, 128);
	assert_int_equal(t.pages_ever, 128);
	harness_fini(&h);
}

/* With an endpoint that can hold guest memory, every READ of the round
 * trip (8 KiB into two consecutive pages) goes from the file straight into
 * the guest's buffer: held once, released once, never copied; writes
 * still come through the VSP's private buffer. The data and the exposure
 * are those of the copying path. */
static void direct_reads(enum harness_path path)
{
	struct harness_config cfg = { .path = path, .hold = true };
	const uint64_t total = (uint64_t)NREQ * REQ_BYTES;
	struct harness h;
	struct harness_view_counts *used, *other;
	struct cvmbus_storvsp_stats vs;
	struct cvmbus_mem_exposure_totals t;

	harness_init(&h, &cfg);
	roundtrip(&h);
	used = path == HARNESS_HOST ? &h.host_view : &h.paravisor_view;
	other = path == HARNESS_HOST ? &h.paravisor_view : &h.host_view;
	assert_int_equal(atomic_load(&used->holds), NREQ);
	assert_int_equal(atomic_load(&used->hold_bytes), total);
	assert_int_equal(atomic_load(&used->releases), NREQ);
	assert_int_equal(atomic_load(&used->write_bytes), 0); /* no copy into the guest */
	assert_int_equal(atomic_load(&used->read_bytes), total); /* the writes' data */
	assert_int_equal(atomic_load(&used->faults), 0);
	assert_int_equal(atomic_load(&other->holds) + atomic_load(&other->reads), 0);
	cvmbus_storvsp_get_stats(h.vsp, &vs);
	assert_int_equal(vs.bytes_read, total);
	assert_int_equal(vs.bytes_read_direct, total);
	if (path == HARNESS_HOST) {
		assert_int_equal(cvmbus_mem_exposure_by_reason(h.mem, "bounce", &t), 0);
		assert_int_equal(t.pages_now, 128);
	} else {
		cvmbus_mem_exposure_total(h.mem, &t);
		assert_int_equal(t.pages_ever, 0);
	}
	harness_fini(&h);
}

static void test_direct_reads_confidential(void **state)
{
	(void)state;
	direct_reads(HARNESS_CONFIDENTIAL);
}

static void test_direct_reads_host(void **state)
{
	(void)state;
	direct_reads(HARNESS_HOST);
}

static void test_host_path_without_bounce_fails(void **state)
{
	struct harness_config cfg = { .path = HARNESS_HOST, .no_bounce = true };
	struct harness h;
	struct cvmbus_storvsp_stats vs;
	struct cvmbus_mem_stats ms;
	uint64_t buf;

	(void)state;
	harness_init(&h, &cfg);
	buf = harness_alloc(&h, 1);
	harness_fill_random(&h, buf, PG, 3);
	/* The host view cannot read the private page: the VSP answers an SRB
	 * error and the VSC reports -EIO. */
	assert_int_equal(cvmbus_storvsc_write(h.vsc, 0, 8, buf), -EIO);
	assert_int_equal(cvmbus_storvsc_read(h.vsc, 0, 8, buf), -EIO);
	cvmbus_storvsp_get_stats(h.vsp, &vs);
	assert_int_equal(vs.gpa_faults, 2);
	assert_int_equal(vs.bytes_written, 0);
	assert_true(atomic_load(&h.host_view.faults) >= 2);
	cvmbus_mem_get_stats(h.mem, &ms);
	assert_true(ms.host_faults >= 2);
	/* The channel and the device are fine. */
	assert_int_equal(cvmbus_storvsc_test_unit_ready(h.vsc), 0);
	assert_int_equal(cvmbus_storvsc_state(h.vsc), CVMBUS_STORVSC_READY);
	harness_fini(&h);
}

/* ---- the secret scan --------------------------------------------------------------- */

static void secret_run(enum harness_path path, bool expect_seen)
{
	struct harness_config cfg = { .path = path };
	struct harness h;
	uint8_t secret[32], back[32];
	uint64_t wbuf, rbuf;
	int fd;

	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, secret, sizeof(secret)), (ssize_t)sizeof(secret));
	close(fd);

	harness_init(&h, &cfg);
	/* Before: nowhere (the scan is not trivially true). */
	assert_false(harness_host_sees(&h, secret, sizeof(secret)));
	wbuf = harness_alloc(&h, 1);
	rbuf = harness_alloc(&h, 1);
	harness_fill_random(&h, wbuf, PG, 11);
	assert_int_equal(cvmbus_mem_write(h.mem, CVMBUS_MEM_VIEW_GUEST, wbuf + 1000, secret,
					  sizeof(secret)),
			 0);
	assert_int_equal(cvmbus_storvsc_write(h.vsc, 7, 8, wbuf), 0);
	assert_int_equal(cvmbus_storvsc_flush(h.vsc), 0);
	assert_int_equal(cvmbus_storvsc_read(h.vsc, 7, 8, rbuf), 0);
	assert_int_equal(cvmbus_mem_read(h.mem, CVMBUS_MEM_VIEW_GUEST, rbuf + 1000, back,
					 sizeof(back)),
			 0);
	assert_memory_equal(back, secret, sizeof(secret));
	assert_int_equal(harness_host_sees(&h, secret, sizeof(secret)), expect_seen);
	harness_fini(&h);
}

static void test_secret_scan_confidential(void **state)
{
	(void)state;
	secret_run(HARNESS_CONFIDENTIAL, false);
}

static void test_secret_scan_host(void **state)
{
	(void)state;
	/* Found in the bounce pages: the scan does look where it should. */
	secret_run(HARNESS_HOST, true);
}

/* ---- faults --------------------------------------------------------------------------- */

/* A backend whose I/O waits at a gate: requests stay inside the VSP's
 * workers for as long as the test wants. */
struct gate {
	struct cvmbus_blk blk;
	struct cvmbus_blk *inner;
	struct harness *h; /* whose executor the gate's lock belongs to */
	struct cvmbus_mutex lock;
	struct cvmbus_cond cond;
	bool open;
	int inside;
};

static void gate_pass(struct gate *g)
{
	cvmbus_mutex_lock(&g->lock);
	g->inside++;
	while (!g->open)
		cvmbus_cond_wait(&g->cond, &g->lock);
	g->inside--;
	cvmbus_mutex_unlock(&g->lock);
}

static int gate_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct gate *g = ctx;

	gate_pass(g);
	return g->inner->ops->read(g->inner->ctx, off, buf, len);
}

static int gate_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct gate *g = ctx;

	gate_pass(g);
	return g->inner->ops->write(g->inner->ctx, off, buf, len);
}

static int gate_flush(void *ctx)
{
	struct gate *g = ctx;

	gate_pass(g);
	return g->inner->ops->flush(g->inner->ctx);
}

static const struct cvmbus_blk_ops gate_ops = {
	.read = gate_read, .write = gate_write, .flush = gate_flush,
};

static struct cvmbus_blk *gate_wrap(struct cvmbus_blk *file, void *arg)
{
	struct gate *g = arg;

	/* The harness calls this before it spawns the VSP's threads, which
	 * thread creation orders after these inits: initialised after
	 * harness_init, a worker could reach the lock by a path TSan cannot
	 * follow (the ring's fences), and TSan said so under load. */
	cvmbus_mutex_init(&g->lock, g->h->exec, "gate");
	cvmbus_cond_init(&g->cond, g->h->exec, "gate");
	g->inner = file;
	g->blk.ops = &gate_ops;
	g->blk.ctx = g;
	g->blk.sectors = file->sectors;
	return &g->blk;
}

static void gate_unwrap(void *arg)
{
	struct gate *g = arg;

	cvmbus_cond_destroy(&g->cond);
	cvmbus_mutex_destroy(&g->lock);
}

static void gate_set(struct gate *g, bool open)
{
	cvmbus_mutex_lock(&g->lock);
	g->open = open;
	cvmbus_mutex_unlock(&g->lock);
	cvmbus_cond_broadcast(&g->cond);
}

static void gate_wait_inside(struct harness *h, struct gate *g, int n)
{
	for (int i = 0; i < 10000; i++) {
		int in;

		cvmbus_mutex_lock(&g->lock);
		in = g->inside;
		cvmbus_mutex_unlock(&g->lock);
		if (in >= n)
			return;
		cvmbus_exec_sleep_ns(h->exec, 1 * MS);
	}
	fail_msg("workers never reached the gate");
}

static int stop_main(void *arg)
{
	cvmbus_storvsp_stop(arg);
	return 0;
}

/* Stop the VSP while the gate holds its I/O: the stop begins (the VSP
 * leaves RUNNING), only then does the gate open, and the stop ends. */
static void stop_vsp_behind_gate(struct harness *h, struct gate *g)
{
	struct cvmbus_thread *stopper;

	assert_int_equal(cvmbus_thread_spawn(h->exec, &stopper, "stopper", stop_main, h->vsp), 0);
	while (cvmbus_storvsp_state(h->vsp) == CVMBUS_STORVSP_RUNNING)
		cvmbus_exec_sleep_ns(h->exec, 1 * MS);
	gate_set(g, true);
	assert_int_equal(cvmbus_thread_join(stopper, NULL), 0);
}

/* The start of every gated fault test: the harness with g wrapped around
 * its backend, n pages of guest buffer, and n 4 KiB requests submitted
 * (writes; with `alternate`, writes and reads in turn). The buffer's GPA. */
static uint64_t gated_submit(struct harness *h, struct gate *g, const struct harness_config *cfg,
			     uint32_t n, bool alternate, uint32_t *tags)
{
	struct cvmbus_storvsc_cmd cmd;
	uint64_t buf;

	memset(g, 0, sizeof(*g));
	g->h = h;
	harness_init(h, cfg);
	buf = harness_alloc(h, n);
	for (uint32_t i = 0; i < n; i++) {
		rw_cmd(&cmd, !alternate || i % 2 == 0, i * 8u, 8, buf + i * PG);
		assert_int_equal(cvmbus_storvsc_submit(h->vsc, &cmd, &tags[i]), 0);
	}
	return buf;
}

static void test_fault_vsp_stops_mid_io(void **state)
{
	static struct gate g; /* outlives the harness's last use of it */
	struct harness_config cfg = {
		.path = HARNESS_CONFIDENTIAL,
		.vsc_timeout_ns = 300 * MS,
		.vsp_workers = 4,
		/* Every SRB to a worker: four inside the gate at once. */
		.vsp_inline_max = CVMBUS_STORVSP_INLINE_NONE,
		.wrap_blk = gate_wrap,
		.unwrap_blk = gate_unwrap,
		.wrap_arg = &g,
	};
	struct cvmbus_storvsc_result res;
	struct cvmbus_storvsp_stats vs;
	struct cvmbus_storvsc_stats st;
	struct harness h;
	uint32_t tags[16];
	uint64_t buf;

	(void)state;
	buf = gated_submit(&h, &g, &cfg, 16, false, tags);
	/* Four requests in the workers, twelve queued: now the VSP dies. */
	gate_wait_inside(&h, &g, 4);
	for (int i = 0; i < 10000; i++) {
		cvmbus_storvsp_get_stats(h.vsp, &vs);
		if (vs.srbs == 16)
			break;
		cvmbus_exec_sleep_ns(h.exec, 1 * MS);
	}
	assert_int_equal(vs.srbs, 16);
	stop_vsp_behind_gate(&h, &g);

	for (uint32_t i = 0; i < 16; i++)
		assert_int_equal(cvmbus_storvsc_wait(h.vsc, tags[i], &res), -ETIMEDOUT);
	cvmbus_storvsp_get_stats(h.vsp, &vs);
	assert_int_equal(vs.abandoned, 16);
	assert_int_equal(vs.completions, 4); /* the handshake's, nothing else */
	cvmbus_storvsc_get_stats(h.vsc, &st);
	assert_int_equal(st.timeouts, 16);
	assert_int_equal(st.completed, 4);

	/* The channel survived; a restarted VSP serves the same guest. */
	assert_int_equal(cvmbus_storvsp_start(h.vsp), 0);
	assert_int_equal(cvmbus_storvsc_write(h.vsc, 0, 8, buf), 0);
	assert_int_equal(cvmbus_storvsc_test_unit_ready(h.vsc), 0);
	harness_fini(&h);
}

/* Small SRBs run on the storvsp's receive thread (inline_max): one at a
 * time, the rest wait in the ring. A stop while one is inside the backend
 * abandons it like a worker's, and what was never received is received by
 * the next start. */
static void test_fault_vsp_stops_inline(void **state)
{
	static struct gate g;
	struct harness_config cfg = {
		.path = HARNESS_CONFIDENTIAL,
		.vsc_timeout_ns = 300 * MS,
		.vsp_workers = 4,
		.vsp_inline_max = 8u * 1024u,
		.wrap_blk = gate_wrap,
		.unwrap_blk = gate_unwrap,
		.wrap_arg = &g,
	};
	struct cvmbus_storvsc_result res;
	struct cvmbus_storvsp_stats vs;
	struct cvmbus_storvsc_stats st;
	struct harness h;
	uint32_t tags[8];
	uint64_t buf;
	int inside;

	(void)state;
	/* 4 KiB writes: under inline_max, so the receive thread runs them. */
	buf = gated_submit(&h, &g, &cfg, 8, false, tags);
	gate_wait_inside(&h, &g, 1);
	/* Give the workers every chance to be wrongly handed the others. */
	cvmbus_exec_sleep_ns(h.exec, 20 * MS);
	cvmbus_mutex_lock(&g.lock);
	inside = g.inside;
	cvmbus_mutex_unlock(&g.lock);
	assert_int_equal(inside, 1);
	cvmbus_storvsp_get_stats(h.vsp, &vs);
	assert_int_equal(vs.srbs, 1);

	stop_vsp_behind_gate(&h, &g);
	for (uint32_t i = 0; i < 8; i++)
		assert_int_equal(cvmbus_storvsc_wait(h.vsc, tags[i], &res), -ETIMEDOUT);
	cvmbus_storvsp_get_stats(h.vsp, &vs);
	assert_int_equal(vs.abandoned, 1);
	assert_int_equal(vs.completions, 4); /* the handshake's */

	/* A new start receives the seven left in the ring: their answers
	 * match nothing now (their requests timed out) and are dropped. */
	assert_int_equal(cvmbus_storvsp_start(h.vsp), 0);
	assert_int_equal(cvmbus_storvsc_write(h.vsc, 0, 8, buf), 0);
	cvmbus_storvsp_get_stats(h.vsp, &vs);
	assert_int_equal(vs.srbs, 1 + 7 + 1);
	cvmbus_storvsc_get_stats(h.vsc, &st);
	assert_int_equal(st.timeouts, 8);
	assert_int_equal(st.unknown_completions, 7);
	harness_fini(&h);
}

/* The guest's end closes mid-I/O (a rescind), then the device is
 * re-offered and reopened. */
static void test_fault_channel_closes(void **state)
{
	static struct gate g;
	struct harness_config cfg = {
		.path = HARNESS_HOST,
		.vsp_inline_max = CVMBUS_STORVSP_INLINE_NONE,
		.wrap_blk = gate_wrap,
		.unwrap_blk = gate_unwrap,
		.wrap_arg = &g,
	};
	struct cvmbus_storvsc_result res;
	struct cvmbus_bounce_stats bs;
	struct harness h;
	uint32_t tags[8];

	(void)state;
	(void)gated_submit(&h, &g, &cfg, 8, true, tags);
	gate_wait_inside(&h, &g, 4);
	/* The guest's end of the channel closes (rescind, unload): every
	 * request still out fails at once, with a 10 s timeout untouched. */
	cvmbus_channel_close(&h.pair.guest);
	for (uint32_t i = 0; i < 8; i++)
		assert_int_equal(cvmbus_storvsc_wait(h.vsc, tags[i], &res), -ESHUTDOWN);
	assert_int_equal(cvmbus_storvsc_state(h.vsc), CVMBUS_STORVSC_DEAD);
	assert_int_equal(cvmbus_storvsc_test_unit_ready(h.vsc), -ESHUTDOWN);
	/* Their bounce pages came back. */
	cvmbus_bounce_get_stats(h.bounce, &bs);
	assert_int_equal(bs.pages_in_use, 0);
	gate_set(&g, true);

	/* The device is offered again (a new channel, a new VSP over the same
	 * disk) and the guest opens it: the same guest memory and bounce pool
	 * move data through it as before, and the pool is whole again. */
	harness_reoffer(&h);
	assert_int_equal(cvmbus_storvsc_state(h.vsc), CVMBUS_STORVSC_READY);
	roundtrip(&h);
	cvmbus_bounce_get_stats(h.bounce, &bs);
	assert_int_equal(bs.pages_in_use, 0);
	harness_fini(&h);
}

/* ---- hostile completions: a scripted VSP ------------------------------------------------ */

enum script {
	S_GOOD,
	S_TX_TOO_BIG,
	S_SENSE_TOO_BIG,
	S_SHORT,
	S_WRONG_OP,
	S_UNKNOWN_ID_FIRST,
	S_DUPLICATE,
	S_INBAND_FIRST,
	S_END,
};

struct fake_vsp {
	struct harness *h;
	const enum script *script;
	int step;
	int rc;
};

/* The fake runs on its own thread, where a cmocka assert cannot unwind:
 * failures are recorded in f->rc and checked by the test. */
static void fake_send(struct fake_vsp *f, uint64_t id, const struct cvmbus_vstor_packet *p,
		      size_t len)
{
	if (cvmbus_channel_send_completion(&f->h->pair.host, id, p, len, 5 * SEC) != 0)
		f->rc = -EIO;
}

static int fake_vsp_main(void *arg)
{
	struct fake_vsp *f = arg;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_vstor_packet in, out;

	for (;;) {
		uint32_t len;
		int rc = cvmbus_channel_recv(&f->h->pair.host, &pkt, 10 * SEC);

		if (rc < 0) {
			f->rc = rc;
			return 0;
		}
		len = pkt.payload_len < 64 ? pkt.payload_len : 64;
		if (cvmbus_vstor_decode(pkt.payload, pkt.payload_len, 0, &in) != 0) {
			f->rc = -EPROTO;
			return 0;
		}
		memset(&out, 0, sizeof(out));
		out.operation = CVMBUS_VSTOR_OP_COMPLETE_IO;
		switch (in.operation) {
		case CVMBUS_VSTOR_OP_QUERY_PROTOCOL_VERSION:
			out.version = in.version;
			break;
		case CVMBUS_VSTOR_OP_QUERY_PROPERTIES:
			out.properties.max_transfer_bytes = 0x40000;
			break;
		case CVMBUS_VSTOR_OP_EXECUTE_SRB:
			out.srb = in.srb;
			out.srb.srb_status = CVMBUS_SRB_STATUS_SUCCESS;
			out.srb.sense_info_length = 0;
			switch (f->script[f->step++]) {
			case S_GOOD:
				break;
			case S_TX_TOO_BIG:
				out.srb.data_transfer_length = in.srb.data_transfer_length + 1;
				break;
			case S_SENSE_TOO_BIG:
				out.srb.srb_status = 0x84;
				out.srb.scsi_status = 2;
				out.srb.sense_info_length = 21;
				break;
			case S_SHORT:
				len = 40;
				break;
			case S_WRONG_OP:
				out.operation = CVMBUS_VSTOR_OP_EXECUTE_SRB;
				break;
			case S_UNKNOWN_ID_FIRST:
				/* Another generation of the same tag, then a tag
				 * that was never used. */
				fake_send(f, pkt.trans_id + (1ull << 32), &out, len);
				fake_send(f, 100, &out, len);
				break;
			case S_DUPLICATE:
				fake_send(f, pkt.trans_id, &out, len);
				break;
			case S_INBAND_FIRST: {
				struct cvmbus_vstor_packet en = { .operation =
									  CVMBUS_VSTOR_OP_ENUMERATE_BUS };

				if (cvmbus_channel_send_inband(&f->h->pair.host, 0, 0, &en, 64,
							       5 * SEC) != 0)
					f->rc = -EIO;
				break;
			}
			case S_END:
				if (f->rc == 1)
					f->rc = 0;
				return 0;
			}
			break;
		default:
			break;
		}
		fake_send(f, pkt.trans_id, &out, len);
	}
}

static void test_hostile_completions(void **state)
{
	static const enum script script[] = {
		S_GOOD, S_TX_TOO_BIG, S_SENSE_TOO_BIG, S_SHORT, S_WRONG_OP,
		S_UNKNOWN_ID_FIRST, S_DUPLICATE, S_INBAND_FIRST, S_GOOD, S_END,
	};
	struct harness_config cfg = { .path = HARNESS_CONFIDENTIAL, .no_vsp = true };
	struct fake_vsp f = { .script = script, .rc = 1 };
	struct cvmbus_storvsc_cmd cmd;
	struct cvmbus_storvsc_result res;
	struct cvmbus_storvsc_stats st;
	struct cvmbus_thread *t;
	struct harness h;
	uint64_t buf;
	int expect[] = { 0, -EPROTO, -EPROTO, -EPROTO, -EPROTO, 0, 0, 0, 0 };

	(void)state;
	harness_init(&h, &cfg);
	f.h = &h;
	assert_int_equal(cvmbus_thread_spawn(h.exec, &t, "fake-vsp", fake_vsp_main, &f), 0);
	assert_int_equal(cvmbus_storvsc_connect(h.vsc), 0);
	assert_int_equal(cvmbus_storvsc_max_transfer(h.vsc), 0x40000);
	buf = harness_alloc(&h, 1);
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		rw_cmd(&cmd, false, 0, 1, buf);
		assert_int_equal(cvmbus_storvsc_execute(h.vsc, &cmd, &res), expect[i]);
		if (expect[i] == 0)
			assert_int_equal(res.transfer_length, 512);
		/* Each bad answer failed only its own request. */
		assert_int_equal(cvmbus_storvsc_state(h.vsc), CVMBUS_STORVSC_READY);
	}
	/* Let the fake VSP see the end of its script. */
	rw_cmd(&cmd, false, 0, 1, buf);
	{
		uint32_t tag;

		assert_int_equal(cvmbus_storvsc_submit(h.vsc, &cmd, &tag), 0);
		assert_int_equal(cvmbus_thread_join(t, NULL), 0);
		cvmbus_storvsc_stop(h.vsc); /* the last request ends by shutdown */
		assert_int_equal(cvmbus_storvsc_wait(h.vsc, tag, &res), -ESHUTDOWN);
	}
	assert_int_equal(f.rc, 0);
	cvmbus_storvsc_get_stats(h.vsc, &st);
	assert_int_equal(st.bad_completions, 4);
	assert_int_equal(st.unknown_completions, 3);
	assert_int_equal(st.unsolicited, 1);
	harness_fini(&h);
}

/* ---- hostile requests: a scripted VSC against the real VSP ------------------------------- */

struct raw {
	struct harness *h;
	uint64_t next_id;
};

/* Send one packet from the guest end and return the VSP's answer (or
 * -EAGAIN if none came within 200 ms). */
static int raw_call(struct raw *r, const void *payload, size_t len, uint16_t flags,
		    const struct cvmbus_ring_gpa_range *ranges, uint32_t nranges,
		    struct cvmbus_vstor_packet *resp, uint32_t *resp_len)
{
	struct cvmbus_ring_iov iov = { .base = payload, .len = len };
	struct cvmbus_ring_outpkt out = {
		.type = nranges ? CVMBUS_RING_PKT_GPA_DIRECT : CVMBUS_RING_PKT_INBAND,
		.flags = flags,
		.trans_id = ++r->next_id,
		.gpa = ranges,
		.gpa_count = nranges,
		.payload = &iov,
		.payload_count = 1,
	};
	struct cvmbus_ring_packet pkt;
	int rc;

	assert_int_equal(cvmbus_channel_send(&r->h->pair.guest, &out, SEC), 0);
	rc = cvmbus_channel_recv(&r->h->pair.guest, &pkt, 200 * MS);
	if (rc == -ETIMEDOUT)
		return -EAGAIN;
	assert_int_equal(rc, 0);
	assert_int_equal(pkt.type, CVMBUS_RING_PKT_COMPLETION);
	assert_int_equal(pkt.trans_id, r->next_id);
	*resp_len = pkt.payload_len;
	assert_int_equal(cvmbus_vstor_decode(pkt.payload, pkt.payload_len, 0, resp), 0);
	assert_int_equal(resp->operation, CVMBUS_VSTOR_OP_COMPLETE_IO);
	return 0;
}

static uint32_t raw_status(struct raw *r, const struct cvmbus_vstor_packet *req, size_t len,
			   const struct cvmbus_ring_gpa_range *ranges, uint32_t nranges,
			   struct cvmbus_vstor_packet *resp)
{
	uint32_t rl;

	assert_int_equal(raw_call(r, req, len, CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED, ranges,
				  nranges, resp, &rl),
			 0);
	return resp->status;
}

static void srb_req(struct cvmbus_vstor_packet *p, uint8_t op, uint8_t data_in, uint32_t len)
{
	memset(p, 0, sizeof(*p));
	p->operation = CVMBUS_VSTOR_OP_EXECUTE_SRB;
	p->flags = CVMBUS_VSTOR_FLAG_REQUEST_COMPLETION;
	p->srb.length = CVMBUS_VSTOR_SRB_SIZE;
	p->srb.cdb_length = 10;
	p->srb.sense_info_length = 20;
	p->srb.data_in = data_in;
	p->srb.data_transfer_length = len;
	p->srb.cdb[0] = op;
	p->srb.cdb[8] = (uint8_t)(len / 512); /* READ/WRITE(10) block count */
}

static void test_hostile_requests(void **state)
{
	struct harness_config cfg = { .path = HARNESS_CONFIDENTIAL, .no_vsc = true };
	struct cvmbus_vstor_packet req, resp;
	struct cvmbus_storvsp_stats vs;
	struct cvmbus_ring_gpa_range rg[2];
	uint64_t pfns[300];
	struct harness h;
	struct raw r;
	uint32_t rl;
	uint64_t buf, data;
	uint8_t block[512], back[512];

	(void)state;
	harness_init(&h, &cfg);
	r.h = &h;
	r.next_id = 0;
	buf = harness_alloc(&h, 1);
	data = harness_alloc(&h, 1);

	/* I/O before the handshake: out of order. */
	srb_req(&req, 0x00, CVMBUS_VSTOR_DATA_UNKNOWN, 0);
	assert_int_equal(raw_status(&r, &req, 64, NULL, 0, &resp),
			 CVMBUS_VSTOR_STATUS_INVALID_DEVICE_STATE);

	/* The handshake, by hand, in the 48-byte layout Linux starts with;
	 * each answer is as long as its request. */
	memset(&req, 0, sizeof(req));
	req.operation = CVMBUS_VSTOR_OP_BEGIN_INITIALIZATION;
	req.flags = CVMBUS_VSTOR_FLAG_REQUEST_COMPLETION;
	assert_int_equal(raw_call(&r, &req, 48, 1, NULL, 0, &resp, &rl), 0);
	assert_int_equal(resp.status, 0);
	assert_int_equal(rl, 48);
	req.operation = CVMBUS_VSTOR_OP_QUERY_PROTOCOL_VERSION;
	req.version.major_minor = 0x0603;
	assert_int_equal(raw_status(&r, &req, 48, NULL, 0, &resp),
			 CVMBUS_VSTOR_STATUS_REVISION_MISMATCH);
	req.version.major_minor = CVMBUS_VSTOR_VERSION_WIN10;
	assert_int_equal(raw_status(&r, &req, 48, NULL, 0, &resp), 0);
	assert_int_equal(resp.version.major_minor, CVMBUS_VSTOR_VERSION_WIN10);
	req.operation = CVMBUS_VSTOR_OP_QUERY_PROPERTIES;
	assert_int_equal(raw_status(&r, &req, 64, NULL, 0, &resp), 0);
	assert_int_equal(resp.properties.max_transfer_bytes, 0x40000);
	assert_int_equal(resp.properties.max_channel_count, 0);
	assert_int_equal(resp.properties.flags, 0);
	req.operation = CVMBUS_VSTOR_OP_CREATE_SUB_CHANNELS;
	req.sub_channel_count = 4;
	assert_int_equal(raw_status(&r, &req, 64, NULL, 0, &resp),
			 CVMBUS_VSTOR_STATUS_INVALID_PARAMETER);
	req.operation = CVMBUS_VSTOR_OP_END_INITIALIZATION;
	assert_int_equal(raw_status(&r, &req, 64, NULL, 0, &resp), 0);
	assert_int_equal(cvmbus_storvsp_proto(h.vsp), CVMBUS_STORVSP_PROTO_READY);
	assert_int_equal(cvmbus_storvsp_version(h.vsp), CVMBUS_VSTOR_VERSION_WIN10);

	/* No completion asked for: no answer, counted. */
	srb_req(&req, 0x00, CVMBUS_VSTOR_DATA_UNKNOWN, 0);
	assert_int_equal(raw_call(&r, &req, 64, 0, NULL, 0, &resp, &rl), -EAGAIN);
	/* Operations a guest never sends; packets too short to decode. */
	req.operation = 0x55;
	assert_int_equal(raw_status(&r, &req, 64, NULL, 0, &resp),
			 CVMBUS_VSTOR_STATUS_INVALID_DEVICE_REQUEST);
	req.operation = CVMBUS_VSTOR_OP_ENUMERATE_BUS;
	assert_int_equal(raw_status(&r, &req, 64, NULL, 0, &resp),
			 CVMBUS_VSTOR_STATUS_INVALID_DEVICE_REQUEST);
	req.operation = CVMBUS_VSTOR_OP_BEGIN_INITIALIZATION; /* again, when ready */
	assert_int_equal(raw_status(&r, &req, 64, NULL, 0, &resp),
			 CVMBUS_VSTOR_STATUS_INVALID_DEVICE_STATE);
	assert_int_equal(raw_status(&r, &req, 8, NULL, 0, &resp),
			 CVMBUS_VSTOR_STATUS_INVALID_PARAMETER);
	srb_req(&req, 0x00, CVMBUS_VSTOR_DATA_UNKNOWN, 0);
	assert_int_equal(raw_status(&r, &req, 56, NULL, 0, &resp),
			 CVMBUS_VSTOR_STATUS_INVALID_PARAMETER);

	/* SRB fields: each refusal is INVALID_REQUEST with nothing moved. */
	rg[0] = (struct cvmbus_ring_gpa_range){ .byte_count = 4096, .pfns = pfns, .pfn_count = 1 };
	pfns[0] = data / PG;
	srb_req(&req, 0x28, CVMBUS_VSTOR_DATA_IN, 4096);
	req.srb.cdb_length = 17;
	raw_status(&r, &req, 64, rg, 1, &resp);
	assert_int_equal(resp.srb.srb_status, CVMBUS_SRB_STATUS_INVALID_REQUEST);
	assert_int_equal(resp.status, CVMBUS_VSTOR_STATUS_INVALID_PARAMETER);
	srb_req(&req, 0x28, CVMBUS_VSTOR_DATA_IN, 4096);
	req.srb.sense_info_length = 0xff;
	raw_status(&r, &req, 64, rg, 1, &resp);
	assert_int_equal(resp.srb.srb_status, CVMBUS_SRB_STATUS_INVALID_REQUEST);
	srb_req(&req, 0x28, CVMBUS_VSTOR_DATA_IN, 8192); /* more than the range */
	raw_status(&r, &req, 64, rg, 1, &resp);
	assert_int_equal(resp.srb.srb_status, CVMBUS_SRB_STATUS_INVALID_REQUEST);
	assert_int_equal(resp.srb.data_transfer_length, 0);
	srb_req(&req, 0x28, CVMBUS_VSTOR_DATA_IN, 4096); /* data, but in-band */
	raw_status(&r, &req, 64, NULL, 0, &resp);
	assert_int_equal(resp.srb.srb_status, CVMBUS_SRB_STATUS_INVALID_REQUEST);
	rg[1] = rg[0]; /* two ranges */
	raw_status(&r, &req, 64, rg, 2, &resp);
	assert_int_equal(resp.srb.srb_status, CVMBUS_SRB_STATUS_INVALID_REQUEST);
	/* Over the device's maximum transfer, with a range that would hold it. */
	for (int i = 0; i < 257; i++)
		pfns[i] = data / PG;
	rg[1] = (struct cvmbus_ring_gpa_range){ .byte_count = 1u << 20, .pfns = pfns,
						.pfn_count = 256 };
	srb_req(&req, 0x28, CVMBUS_VSTOR_DATA_IN, 1u << 20);
	raw_status(&r, &req, 64, &rg[1], 1, &resp);
	assert_int_equal(resp.srb.srb_status, CVMBUS_SRB_STATUS_INVALID_REQUEST);

	/* A write, then a read of it, with good fields: served. */
	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (uint8_t)(i ^ 0xa5);
	assert_int_equal(cvmbus_mem_write(h.mem, CVMBUS_MEM_VIEW_GUEST, data, block, 512), 0);
	rg[0] = (struct cvmbus_ring_gpa_range){ .byte_count = 512, .pfns = pfns, .pfn_count = 1 };
	pfns[0] = data / PG;
	srb_req(&req, 0x2a, CVMBUS_VSTOR_DATA_OUT, 512);
	assert_int_equal(raw_status(&r, &req, 64, rg, 1, &resp), 0);
	assert_int_equal(resp.srb.srb_status, CVMBUS_SRB_STATUS_SUCCESS);
	assert_int_equal(resp.srb.data_transfer_length, 512);
	pfns[0] = buf / PG;
	srb_req(&req, 0x28, CVMBUS_VSTOR_DATA_IN, 512);
	assert_int_equal(raw_status(&r, &req, 64, rg, 1, &resp), 0);
	assert_int_equal(cvmbus_mem_read(h.mem, CVMBUS_MEM_VIEW_GUEST, buf, back, 512), 0);
	assert_memory_equal(back, block, 512);

	/* A PFN outside the partition: the VSP's view faults, SRB ERROR. */
	pfns[0] = (cvmbus_mem_bytes(h.mem) / PG) + 10;
	srb_req(&req, 0x28, CVMBUS_VSTOR_DATA_IN, 512);
	raw_status(&r, &req, 64, rg, 1, &resp);
	assert_int_equal(resp.srb.srb_status, CVMBUS_SRB_STATUS_ERROR);
	assert_int_equal(resp.srb.data_transfer_length, 0);

	/* Another target: INVALID_LUN. A CHECK CONDITION: autosense. */
	srb_req(&req, 0x00, CVMBUS_VSTOR_DATA_UNKNOWN, 0);
	req.srb.target_id = 1;
	raw_status(&r, &req, 64, NULL, 0, &resp);
	assert_int_equal(resp.srb.srb_status, CVMBUS_SRB_STATUS_INVALID_LUN);
	assert_int_equal(resp.status, CVMBUS_VSTOR_STATUS_DEVICE_DOES_NOT_EXIST);
	srb_req(&req, 0xc7, CVMBUS_VSTOR_DATA_UNKNOWN, 0);
	req.srb.sense_info_length = 14; /* room for only 14 bytes of sense */
	raw_status(&r, &req, 64, NULL, 0, &resp);
	assert_int_equal(resp.srb.srb_status, 0x84);
	assert_int_equal(resp.srb.scsi_status, 0x02);
	assert_int_equal(resp.srb.sense_info_length, 14);
	assert_int_equal(resp.srb.sense_data[2], 0x05);
	assert_int_equal(resp.srb.sense_data[12], 0x20);
	assert_int_equal(resp.srb.sense_data[14], 0x00); /* not sent */

	cvmbus_storvsp_get_stats(h.vsp, &vs);
	assert_int_equal(vs.dropped, 1);
	assert_int_equal(vs.gpa_faults, 1);
	assert_true(vs.refused >= 12);
	assert_int_equal(cvmbus_storvsp_state(h.vsp), CVMBUS_STORVSP_RUNNING);
	harness_fini(&h);
}

/* ---- versions, conveniences, threads ---------------------------------------------------- */

static void version_run(uint16_t vsp_max, uint32_t sense_room)
{
	struct harness_config cfg = { .path = HARNESS_HOST, .vsp_max_version = vsp_max };
	struct cvmbus_storvsc_cmd cmd;
	struct cvmbus_storvsc_result res;
	struct harness h;
	uint64_t w, rd;
	uint8_t key;
	uint16_t asc;

	harness_init(&h, &cfg);
	assert_int_equal(cvmbus_storvsc_version(h.vsc), vsp_max);
	assert_int_equal(cvmbus_storvsp_version(h.vsp), vsp_max);
	w = harness_alloc(&h, 2);
	rd = harness_alloc(&h, 2);
	harness_fill_random(&h, w, 2 * PG, 5);
	assert_int_equal(cvmbus_storvsc_write(h.vsc, 30, 16, w), 0);
	assert_int_equal(cvmbus_storvsc_read(h.vsc, 30, 16, rd), 0);
	compare_guest(&h, w, rd, 2 * PG);
	/* Past the end: the sense comes back in the version's room. */
	rw_cmd(&cmd, false, (8u << 20) / 512, 1, rd);
	assert_int_equal(cvmbus_storvsc_execute(h.vsc, &cmd, &res), 0);
	assert_int_equal(cvmbus_storvsc_result_errno(&res), -EIO);
	assert_int_equal(res.scsi_status, CVMBUS_SCSI_STATUS_CHECK_CONDITION);
	assert_true(res.srb_status & CVMBUS_SRB_STATUS_AUTOSENSE_VALID);
	assert_int_equal(res.sense_len, sense_room < 18 ? sense_room : 18);
	assert_int_equal(cvmbus_scsi_sense_parse(res.sense, res.sense_len, &key, &asc), 0);
	assert_int_equal(key, CVMBUS_SCSI_KEY_ILLEGAL_REQUEST);
	assert_int_equal(asc, CVMBUS_SCSI_ASC_LBA_OUT_OF_RANGE);
	harness_fini(&h);
}

/* ---- a VTL2 pass never waits for the guest ------------------------------------------------- */

/* The guest's vCPU runs the paravisor's pass (cvmbus_channel_notify_inline,
 * as the platform does for a signal through the paravisor trap) while
 * the guest's inbound ring has no room for the completion: the pass may
 * not wait (the vCPU it runs on may be the one that would drain that
 * ring), so it stashes the completion and leaves the rest to the receive
 * thread, which sends it once the guest makes room. Nothing is lost or
 * sent twice, no send fails. Without the stash the pass would wait
 * up to the send timeout and then drop the completion (send_errors 1). */
static void send_tur(struct harness *h, uint64_t id, bool through_channel)
{
	struct cvmbus_vstor_packet req;
	struct cvmbus_ring_iov iov = { .base = &req, .len = 64 };
	struct cvmbus_ring_outpkt out = {
		.type = CVMBUS_RING_PKT_INBAND,
		.flags = CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED,
		.trans_id = id,
		.payload = &iov,
		.payload_count = 1,
	};
	bool sig = false;

	srb_req(&req, 0x00, CVMBUS_VSTOR_DATA_UNKNOWN, 0); /* TEST UNIT READY */
	if (through_channel)
		assert_int_equal(cvmbus_channel_send(&h->pair.guest, &out, SEC), 0);
	else /* straight into the ring, no signal: the test plays the trap */
		assert_int_equal(cvmbus_ring_send(&h->pair.guest.rings.out, &out, &sig, NULL), 0);
}

/* Free bytes in the guest's inbound ring, from its control page alone:
 * the storvsp's writer endpoint belongs to its threads (asking it would
 * write its cached read index under them). */
static uint32_t guest_in_free(struct harness *h)
{
	const struct cvmbus_ring_view *v = &h->pair.guest.rings.in.view;
	uint32_t wr = atomic_load_explicit(&v->ctl->write_index, memory_order_acquire);
	uint32_t rd = atomic_load_explicit(&v->ctl->read_index, memory_order_acquire);

	return v->size - (wr >= rd ? wr - rd : v->size - rd + wr);
}

static void test_vtl_pass_full_guest_ring(void **state)
{
	struct harness_config cfg = { .path = HARNESS_CONFIDENTIAL, .no_vsc = true };
	struct cvmbus_vstor_packet req, resp;
	struct cvmbus_storvsp_stats vs;
	struct cvmbus_ring_packet pkt;
	struct harness h;
	struct raw r;
	uint64_t id, before;
	uint32_t free_bytes = 0, rl;

	(void)state;
	harness_init(&h, &cfg);
	r.h = &h;
	r.next_id = 0;
	memset(&req, 0, sizeof(req));
	req.operation = CVMBUS_VSTOR_OP_BEGIN_INITIALIZATION;
	req.flags = CVMBUS_VSTOR_FLAG_REQUEST_COMPLETION;
	assert_int_equal(raw_call(&r, &req, 64, CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED, NULL, 0,
				  &resp, &rl), 0);
	req.operation = CVMBUS_VSTOR_OP_QUERY_PROTOCOL_VERSION;
	req.version.major_minor = CVMBUS_VSTOR_VERSION_WIN10;
	assert_int_equal(raw_status(&r, &req, 64, NULL, 0, &resp), 0);
	req.operation = CVMBUS_VSTOR_OP_QUERY_PROPERTIES;
	assert_int_equal(raw_status(&r, &req, 64, NULL, 0, &resp), 0);
	req.operation = CVMBUS_VSTOR_OP_END_INITIALIZATION;
	assert_int_equal(raw_status(&r, &req, 64, NULL, 0, &resp), 0);

	/* Fill the guest's inbound ring with completions nobody reads: one
	 * is 16 (descriptor) + 64 (as long as its request) + 8 (trailer)
	 * = 88 bytes, and fits iff more than that is free. */
	id = r.next_id;
	/* The handshake's four, counted once each send has returned (the
	 * guest may read a completion before its sender counts it). */
	before = 4;
	do {
		cvmbus_exec_sleep_ns(h.exec, 100000ull);
		cvmbus_storvsp_get_stats(h.vsp, &vs);
	} while (vs.completions < before);
	for (;;) {
		free_bytes = guest_in_free(&h);
		if (free_bytes <= 88)
			break;
		send_tur(&h, ++id, true);
		do {
			cvmbus_exec_sleep_ns(h.exec, 100000ull);
			cvmbus_storvsp_get_stats(h.vsp, &vs);
		} while (vs.completions < before + (id - r.next_id));
	}
	print_message("guest ring full after %llu completions (%u bytes free)\n",
		      (unsigned long long)(id - r.next_id), free_bytes);

	/* Two more requests, then the pass on this thread: the first one's
	 * completion has no room. The pass must come back without it. */
	send_tur(&h, id + 1, false);
	send_tur(&h, id + 2, false);
	cvmbus_channel_notify_inline(&h.pair.host);
	cvmbus_storvsp_get_stats(h.vsp, &vs);
	assert_int_equal(vs.send_errors, 0);
	assert_int_equal(vs.completions, before + (id - r.next_id));

	/* The guest drains: every completion exactly once, the last two
	 * too. Those two may come in either order (the receive thread can
	 * take the second before it sends the stashed first; completions
	 * are matched by transaction id, and the workers' come in any order
	 * anyway); the ones before them come first, in order. */
	for (uint64_t want = r.next_id + 1; want <= id; want++) {
		assert_int_equal(cvmbus_channel_recv(&h.pair.guest, &pkt, 10 * SEC), 0);
		assert_int_equal(pkt.type, CVMBUS_RING_PKT_COMPLETION);
		assert_int_equal(pkt.trans_id, want);
		assert_int_equal(pkt.payload_len, 64);
	}
	{
		bool seen[2] = { false, false };

		for (int i = 0; i < 2; i++) {
			assert_int_equal(cvmbus_channel_recv(&h.pair.guest, &pkt, 10 * SEC), 0);
			assert_int_equal(pkt.type, CVMBUS_RING_PKT_COMPLETION);
			assert_true(pkt.trans_id == id + 1 || pkt.trans_id == id + 2);
			assert_false(seen[pkt.trans_id - id - 1]);
			seen[pkt.trans_id - id - 1] = true;
		}
	}
	/* The last one is counted once its send returned. */
	do {
		cvmbus_exec_sleep_ns(h.exec, 100000ull);
		cvmbus_storvsp_get_stats(h.vsp, &vs);
	} while (vs.completions + vs.send_errors < before + (id + 2 - r.next_id));
	assert_int_equal(vs.send_errors, 0);
	assert_int_equal(vs.completions, before + (id + 2 - r.next_id));
	harness_fini(&h);
}

static void test_versions(void **state)
{
	(void)state;
	version_run(CVMBUS_VSTOR_VERSION_WIN7, 18); /* 48-byte packets, 18 bytes of sense */
	version_run(CVMBUS_VSTOR_VERSION_WIN8, 20);
}

static void test_conveniences(void **state)
{
	struct harness_config cfg = { .path = HARNESS_HOST };
	struct harness h;
	uint64_t scratch, w, rd, sectors = 0;
	uint32_t bs = 0, got = 0;
	uint8_t inq[36], zero[4096];

	(void)state;
	harness_init(&h, &cfg);
	scratch = harness_alloc(&h, 1);
	w = harness_alloc(&h, 1);
	rd = harness_alloc(&h, 1);
	assert_int_equal(cvmbus_storvsc_read_capacity(h.vsc, scratch, &sectors, &bs), 0);
	assert_int_equal(sectors, (8u << 20) / 512);
	assert_int_equal(bs, 512);
	assert_int_equal(cvmbus_storvsc_inquiry(h.vsc, false, 0, scratch, 255, &got), 0);
	assert_int_equal(got, 36);
	assert_int_equal(cvmbus_mem_read(h.mem, CVMBUS_MEM_VIEW_GUEST, scratch, inq, 36), 0);
	assert_memory_equal(inq + 8, "CVMBUS  Virtual Disk    1.0 ", 28);
	assert_int_equal(cvmbus_storvsc_inquiry(h.vsc, true, 0x80, scratch, 255, &got), 0);
	assert_int_equal(got, 20);
	assert_int_equal(cvmbus_storvsc_inquiry(h.vsc, true, 0x42, scratch, 255, &got), -EIO);

	harness_fill_random(&h, w, PG, 9);
	assert_int_equal(cvmbus_storvsc_write(h.vsc, 64, 8, w), 0);
	assert_int_equal(cvmbus_storvsc_unmap(h.vsc, 64, 8, scratch), 0);
	assert_int_equal(cvmbus_storvsc_flush(h.vsc), 0);
	assert_int_equal(cvmbus_storvsc_read(h.vsc, 64, 8, rd), 0);
	memset(zero, 0, sizeof(zero));
	{
		uint8_t back[4096];

		assert_int_equal(cvmbus_mem_read(h.mem, CVMBUS_MEM_VIEW_GUEST, rd, back, PG), 0);
		assert_memory_equal(back, zero, PG); /* a punched hole reads zeros */
	}
	/* Argument checks on the guest side. */
	assert_int_equal(cvmbus_storvsc_read(h.vsc, 0, 0, rd), -EINVAL);
	assert_int_equal(cvmbus_storvsc_read(h.vsc, 0, 8, cvmbus_mem_bytes(h.mem)), -EFAULT);
	assert_int_equal(cvmbus_storvsc_read(h.vsc, 0, 1024, rd), -EMSGSIZE); /* 512 KiB */
	assert_int_equal(cvmbus_storvsc_connect(h.vsc), -EBUSY);
	harness_fini(&h);
}

struct worker_arg {
	struct harness *h;
	uint64_t lba;
	uint64_t w, r;
	int iterations;
	int rc;
};

static int io_worker(void *arg)
{
	struct worker_arg *a = arg;
	uint8_t x[PG], y[PG];

	for (int i = 0; i < a->iterations; i++) {
		uint64_t lba = a->lba + (uint64_t)(i % 8) * 8;

		harness_fill_random(a->h, a->w, PG, a->lba * 1000 + (uint64_t)i);
		if (cvmbus_storvsc_write(a->h->vsc, lba, 8, a->w) != 0 ||
		    cvmbus_storvsc_read(a->h->vsc, lba, 8, a->r) != 0) {
			a->rc = -1;
			return 0;
		}
		cvmbus_mem_read(a->h->mem, CVMBUS_MEM_VIEW_GUEST, a->w, x, PG);
		cvmbus_mem_read(a->h->mem, CVMBUS_MEM_VIEW_GUEST, a->r, y, PG);
		if (memcmp(x, y, PG) != 0) {
			a->rc = -2;
			return 0;
		}
	}
	a->rc = 0;
	return 0;
}

static void test_threads_small_pool(void **state)
{
	/* Four guest threads, a pool of 2 pages: requests wait for bounce
	 * pages and still all complete correctly. */
	struct harness_config cfg = { .path = HARNESS_HOST, .bounce_pages = 2 };
	struct worker_arg args[4];
	struct cvmbus_thread *t[4];
	struct cvmbus_bounce_stats bs;
	struct harness h;

	(void)state;
	harness_init(&h, &cfg);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct worker_arg){
			.h = &h, .lba = 1000u + (uint64_t)i * 100, .iterations = 24, .rc = 1,
			.w = harness_alloc(&h, 1), .r = harness_alloc(&h, 1),
		};
		assert_int_equal(cvmbus_thread_spawn(h.exec, &t[i], "io", io_worker, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(cvmbus_thread_join(t[i], NULL), 0);
		assert_int_equal(args[i].rc, 0);
	}
	cvmbus_bounce_get_stats(h.bounce, &bs);
	assert_int_equal(bs.bytes_to_device, 4 * 24 * PG);
	assert_int_equal(bs.bytes_from_device, 4 * 24 * PG);
	assert_true(bs.pages_peak <= 2);
	harness_fini(&h);
}

/* The whole stack under the deterministic executor: every wait of the VSC,
 * the VSP, the bounce pool and the channel goes through src/exec, so a lost
 * wake-up would be reported as a deadlock here instead of a rare hang. */
struct det_run {
	struct cvmbus_exec *exec;
	enum harness_path path;
	int ok;
};

static int det_main(void *arg)
{
	struct det_run *d = arg;
	struct harness_config cfg = { .path = d->path, .exec = d->exec, .bounce_pages = 8,
				      .vsp_workers = 2 };
	struct cvmbus_storvsc_cmd cmd;
	struct cvmbus_storvsc_result res;
	struct harness h;
	uint32_t tags[8];
	uint64_t w, r;
	uint8_t x[PG], y[PG];

	harness_init(&h, &cfg);
	w = harness_alloc(&h, 8);
	r = harness_alloc(&h, 8);
	harness_fill_random(&h, w, 8 * PG, 77);
	d->ok = 1;
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < 8; i++) {
			rw_cmd(&cmd, pass == 0, i * 8u, 8, (pass == 0 ? w : r) + i * PG);
			if (cvmbus_storvsc_submit(h.vsc, &cmd, &tags[i]) != 0)
				d->ok = 0;
		}
		for (uint32_t i = 0; i < 8; i++)
			if (cvmbus_storvsc_wait(h.vsc, tags[i], &res) != 0 ||
			    cvmbus_storvsc_result_errno(&res) != 0)
				d->ok = 0;
	}
	for (uint32_t i = 0; i < 8; i++) {
		cvmbus_mem_read(h.mem, CVMBUS_MEM_VIEW_GUEST, w + i * PG, x, PG);
		cvmbus_mem_read(h.mem, CVMBUS_MEM_VIEW_GUEST, r + i * PG, y, PG);
		if (memcmp(x, y, PG) != 0)
			d->ok = 0;
	}
	harness_fini(&h);
	return 0;
}

static void test_deterministic_executor(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct cvmbus_exec_det_opts o = { .seed = cvmbus_exec_seed_from_env(seed) };
		struct det_run d = { .path = seed % 2 ? HARNESS_HOST : HARNESS_CONFIDENTIAL };
		int rc;

		assert_int_equal(cvmbus_exec_det_create(&d.exec, &o), 0);
		rc = cvmbus_exec_run(d.exec, det_main, &d, NULL);
		if (rc != 0)
			fail_msg("seed %llu: %d\n%s", (unsigned long long)o.seed, rc,
				 cvmbus_exec_det_report(d.exec));
		assert_int_equal(d.ok, 1);
		cvmbus_exec_destroy(d.exec);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_confidential_path),
		cmocka_unit_test(test_host_path),
		cmocka_unit_test(test_direct_reads_confidential),
		cmocka_unit_test(test_direct_reads_host),
		cmocka_unit_test(test_host_path_without_bounce_fails),
		cmocka_unit_test(test_secret_scan_confidential),
		cmocka_unit_test(test_secret_scan_host),
		cmocka_unit_test(test_fault_vsp_stops_mid_io),
		cmocka_unit_test(test_fault_vsp_stops_inline),
		cmocka_unit_test(test_fault_channel_closes),
		cmocka_unit_test(test_hostile_completions),
		cmocka_unit_test(test_hostile_requests),
		cmocka_unit_test(test_vtl_pass_full_guest_ring),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_conveniences),
		cmocka_unit_test(test_threads_small_pool),
		cmocka_unit_test(test_deterministic_executor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
