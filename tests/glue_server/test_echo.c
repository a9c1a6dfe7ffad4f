/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the echo device and its guest helper (src/dev/echo.c) over
 * an in-process loopback channel pair, without any control plane: the
 * device's side reads "guest memory" through fake memory operations with a
 * page that is not reachable, so the hash reply can be checked against a
 * hash the test computes itself and against -EFAULT. Each scenario runs as
 * the main thread of an executor run (native, and deterministic with a
 * seed); failures inside the run are recorded and asserted afterwards,
 * because cmocka's asserts must run on the test's own thread.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/channel.h>
#include <cvmbus/echo.h>
#include <cvmbus/exec.h>

#define PAGES 8u
#define TMO   (5ull * 1000000000ull)

struct fake_mem {
	uint8_t page[PAGES][4096];
	bool reachable[PAGES];
	unsigned int faults;
};

struct run {
	struct fake_mem mem;
	int line;
	char why[128];
};

#define CHECK(c)                                                                \
	do {                                                                    \
		if (!(c)) {                                                     \
			r->line = __LINE__;                                     \
			snprintf(r->why, sizeof(r->why), "%s", #c);             \
			goto out;                                               \
		}                                                               \
	} while (0)

static int fake_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	struct fake_mem *m = ctx;
	uint64_t pg = gpa / 4096u, off = gpa % 4096u;

	if (pg >= PAGES || !m->reachable[pg] || off + len > 4096u) {
		m->faults++;
		return -EFAULT;
	}
	memcpy(dst, &m->page[pg][off], len);
	return 0;
}

static const struct cvmbus_channel_ops fake_ops = { .mem_read = fake_read };

/* FNV-1a 64 written out here, independent of the header's inline one. */
static uint64_t ref_fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static int echo_main(void *arg)
{
	struct run *r = arg;
	struct cvmbus_exec *exec = cvmbus_exec_current();
	struct cvmbus_channel_pair pair;
	struct cvmbus_echo_config ecfg = { .exec = exec, .poll_ns = 20000000ull };
	struct cvmbus_echo *e = NULL;
	struct cvmbus_vsp_channel vc;
	struct cvmbus_echo_vsc vsc;
	struct cvmbus_echo_hash_reply hr;
	struct cvmbus_echo_stats st;
	struct cvmbus_channel_pair_config pc = {
		.exec = exec,
		.upstream_bytes = 4 * 4096,
		.downstream_bytes = 4 * 4096,
		.host_mem_ops = &fake_ops,
		.host_mem_ctx = &r->mem,
	};
	uint8_t reply[1100], big[1000];
	uint64_t pfns_a[2] = { 1, 2 }, pfns_b[1] = { 5 }, pfns_bad[1] = { 3 };
	struct cvmbus_ring_gpa_range ranges[2], bad;
	uint64_t want;
	size_t rlen = 0;
	bool paired = false, opened = false;
	int ret = -1;

	for (unsigned int i = 0; i < PAGES; i++) {
		r->mem.reachable[i] = i != 3;
		for (unsigned int j = 0; j < 4096u; j++)
			r->mem.page[i][j] = (uint8_t)(i * 37u + j * 11u + 1u);
	}
	CHECK(cvmbus_channel_pair_create(&pair, &pc) == 0);
	paired = true;
	CHECK(cvmbus_echo_create(&ecfg, &e) == 0);
	memset(&vc, 0, sizeof(vc));
	vc.channel = &pair.host;
	vc.relid = 7;
	CHECK(cvmbus_echo_vsp_ops()->open(e, &vc) == 0);
	opened = true;
	cvmbus_echo_vsc_init(&vsc, &pair.guest);

	/* In-band: the same bytes back, padded to 8 by the sender. */
	CHECK(cvmbus_echo_call(&vsc, "hello", 5, reply, sizeof(reply), &rlen, TMO) == 0);
	CHECK(rlen == 8);
	CHECK(memcmp(reply, "hello\0\0\0", 8) == 0);
	for (unsigned int i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i ^ 0x5a);
	CHECK(cvmbus_echo_call(&vsc, big, sizeof(big), reply, sizeof(reply), &rlen, TMO) == 0);
	CHECK(rlen == 1000);
	CHECK(memcmp(reply, big, sizeof(big)) == 0);

	/* An in-band packet that asks for nothing gets nothing: the next call
	 * still pairs with its own answer. */
	CHECK(cvmbus_channel_send_inband(&pair.guest, 0, 99, "quiet!!!", 8, TMO) == 0);
	CHECK(cvmbus_echo_call(&vsc, "after", 5, reply, sizeof(reply), &rlen, TMO) == 0);
	CHECK(memcmp(reply, "after", 5) == 0);

	/* GPA direct: range 1 spans pages 1-2 from offset 100, range 2 is part
	 * of page 5. The expected hash is over exactly those bytes. */
	ranges[0] = (struct cvmbus_ring_gpa_range){ .byte_count = 5000, .byte_offset = 100,
						    .pfns = pfns_a, .pfn_count = 2 };
	ranges[1] = (struct cvmbus_ring_gpa_range){ .byte_count = 64, .byte_offset = 4000,
						    .pfns = pfns_b, .pfn_count = 1 };
	want = ref_fnv(0xcbf29ce484222325ull, &r->mem.page[1][100], 4096 - 100);
	want = ref_fnv(want, &r->mem.page[2][0], 5000 - (4096 - 100));
	want = ref_fnv(want, &r->mem.page[5][4000], 64);
	CHECK(cvmbus_echo_gpa_hash(&vsc, ranges, 2, &hr, TMO) == 0);
	CHECK(hr.status == 0);
	CHECK(hr.ranges == 2);
	CHECK(hr.bytes == 5064);
	CHECK(hr.fnv1a == want);

	/* A page the device cannot reach: -EFAULT in the reply, no hash. */
	bad = (struct cvmbus_ring_gpa_range){ .byte_count = 16, .byte_offset = 0,
					      .pfns = pfns_bad, .pfn_count = 1 };
	CHECK(cvmbus_echo_gpa_hash(&vsc, &bad, 1, &hr, TMO) == 0);
	CHECK(hr.status == -EFAULT);
	CHECK(hr.fnv1a == 0);
	CHECK(r->mem.faults == 1);

	cvmbus_echo_vsp_ops()->close(e, &vc);
	opened = false;
	cvmbus_echo_get_stats(e, &st);
	CHECK(st.opens == 1 && st.closes == 1 && st.channels_open == 0);
	CHECK(st.echoes == 3);
	CHECK(st.ignored == 1);
	CHECK(st.gpa_requests == 2);
	CHECK(st.faults == 1);
	CHECK(st.packets == 6);
	CHECK(vsc.stale == 0);
	/* The device is gone: nobody answers, and the helper gives up on time. */
	CHECK(cvmbus_echo_call(&vsc, "x", 1, reply, sizeof(reply), &rlen, 10000000ull) ==
	      -ETIMEDOUT);
	/* Its own end closed: the helper says so instead of waiting. */
	cvmbus_channel_close(&pair.guest);
	CHECK(cvmbus_echo_call(&vsc, "x", 1, reply, sizeof(reply), &rlen, TMO) == -ESHUTDOWN);
	ret = 0;
out:
	if (opened)
		cvmbus_echo_vsp_ops()->close(e, &vc);
	cvmbus_echo_destroy(e);
	if (paired)
		cvmbus_channel_pair_destroy(&pair);
	return ret;
}

static void run_on(struct cvmbus_exec *exec)
{
	struct run *r = calloc(1, sizeof(*r));
	int ret = -1;

	assert_non_null(r);
	assert_int_equal(cvmbus_exec_run(exec, echo_main, r, &ret), 0);
	if (ret)
		print_error("failed at line %d: %s\n", r->line, r->why);
	assert_int_equal(ret, 0);
	free(r);
	cvmbus_exec_destroy(exec);
}

static void test_echo_native(void **state)
{
	struct cvmbus_exec *exec;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	run_on(exec);
}

static void test_echo_det(void **state)
{
	struct cvmbus_exec_det_opts o = { .seed = cvmbus_exec_seed_from_env(7) };
	struct cvmbus_exec *exec;

	(void)state;
	assert_int_equal(cvmbus_exec_det_create(&exec, &o), 0);
	run_on(exec);
}

/* Published FNV-1a 64 test vectors. */
static void test_fnv_vectors(void **state)
{
	(void)state;
	assert_true(cvmbus_echo_fnv1a(CVMBUS_ECHO_FNV_OFFSET, "", 0) == 0xcbf29ce484222325ull);
	assert_true(cvmbus_echo_fnv1a(CVMBUS_ECHO_FNV_OFFSET, "a", 1) == 0xaf63dc4c8601ec8cull);
	assert_true(cvmbus_echo_fnv1a(CVMBUS_ECHO_FNV_OFFSET, "foobar", 6) ==
		    0x85944171f73967e8ull);
}

/* The reply layout, byte by byte. */
static void test_hash_reply_layout(void **state)
{
	struct cvmbus_echo_hash_reply hr = {
		.status = -14, .ranges = 2, .bytes = 0x0102, .fnv1a = 0x1122334455667788ull,
	};
	const uint8_t want[24] = {
		0xf2, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00,
		0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
	};

	(void)state;
	assert_memory_equal(&hr, want, sizeof(want));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fnv_vectors),
		cmocka_unit_test(test_hash_reply_layout),
		cmocka_unit_test(test_echo_native),
		cmocka_unit_test(test_echo_det),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
