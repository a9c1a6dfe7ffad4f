/* SPDX-License-Identifier: MIT */
/*
 * Tests of the bounce pool (src/dev/bounce.c) over SNP partition memory:
 * the pool is made host-visible once with reason "bounce" and nothing else
 * is; data copied into it is what the host view reads at the pages' shared
 * aliases, and what the host writes there comes back out; allocation is
 * first-fit, refuses what cannot fit, times out, and a waiter is woken by a
 * free on another thread (threaded: label tsan).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/storage.h>

#define PG CVMBUS_MEM_PAGE_SIZE
#define MS 1000000ull
#define SEC 1000000000ull

struct fx {
	struct cvmbus_exec *exec;
	struct cvmbus_mem *mem;
	struct cvmbus_bounce_pool *pool;
};

static int setup(void **state)
{
	static struct fx f;
	struct cvmbus_mem_config mc = {
		.isolation = HV_ISOLATION_TYPE_SNP,
		.vtl0_bytes = 256 * PG,
	};
	struct cvmbus_bounce_pool_config bc = { .pages = 16 };

	memset(&f, 0, sizeof(f));
	assert_int_equal(cvmbus_exec_native_create(&f.exec), 0);
	assert_int_equal(cvmbus_mem_create(&mc, &f.mem), 0);
	bc.exec = f.exec;
	bc.mem = f.mem;
	assert_int_equal(cvmbus_bounce_pool_create(&bc, &f.pool), 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	cvmbus_bounce_pool_destroy(f->pool);
	cvmbus_mem_destroy(f->mem);
	cvmbus_exec_destroy(f->exec);
	return 0;
}

static void test_exposure(void **state)
{
	struct fx *f = *state;
	struct cvmbus_mem_exposure_totals t;
	struct cvmbus_mem_exposure_page pg;
	uint64_t gpa = cvmbus_bounce_pool_gpa(f->pool);

	assert_int_equal(cvmbus_bounce_pool_pages(f->pool), 16);
	assert_int_equal(cvmbus_mem_exposure_by_reason(f->mem, "bounce", &t), 0);
	assert_int_equal(t.pages_now, 16);
	assert_int_equal(t.bytes_now, 16 * PG);
	/* The whole partition shows nothing else. */
	cvmbus_mem_exposure_total(f->mem, &t);
	assert_int_equal(t.pages_now, 16);
	for (uint64_t i = 0; i < 16; i++) {
		assert_int_equal(cvmbus_mem_page_state(f->mem, gpa + i * PG),
				 CVMBUS_MEM_PAGE_SHARED);
		assert_true(cvmbus_mem_host_view_visible(cvmbus_mem_host(f->mem), gpa + i * PG));
	}
	assert_int_equal(cvmbus_mem_exposure_page(f->mem, gpa, &pg), 0);
	assert_true(pg.visible_now);
	assert_int_equal(pg.party, CVMBUS_MEM_PARTY_GUEST);
	assert_string_equal(pg.reason, "bounce");
}

static void test_copy_through_aliases(void **state)
{
	struct fx *f = *state;
	struct cvmbus_mem_host_view *hv = cvmbus_mem_host(f->mem);
	struct cvmbus_bounce_buf b;
	struct cvmbus_bounce_stats st;
	uint64_t boundary = cvmbus_mem_shared_gpa_boundary(f->mem);
	uint64_t priv;
	uint8_t data[6000], back[6000];

	assert_int_equal(boundary, 1ull << 46);
	assert_int_equal(cvmbus_mem_alloc(f->mem, CVMBUS_MEM_REGION_VTL0, 2, &priv), 0);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + 1);
	assert_int_equal(cvmbus_mem_write(f->mem, CVMBUS_MEM_VIEW_GUEST, priv, data, sizeof(data)),
			 0);
	/* The host cannot read the private buffer at any address. */
	assert_int_equal(cvmbus_mem_host_read(hv, priv | boundary, back, 16), -EFAULT);
	assert_int_equal(cvmbus_mem_host_read(hv, priv, back, 16), -EFAULT);

	assert_int_equal(cvmbus_bounce_alloc(f->pool, sizeof(data), 0, &b), 0);
	assert_int_equal(b.pages, 2);
	assert_int_equal(cvmbus_bounce_alias_pfn(f->pool, &b, 1), ((b.gpa + PG) | boundary) / PG);
	assert_int_equal(cvmbus_bounce_to_device(f->pool, &b, priv, sizeof(data)), 0);
	/* The host reads the copy at the alias the VSC would send. */
	memset(back, 0, sizeof(back));
	assert_int_equal(cvmbus_mem_host_read(hv, cvmbus_bounce_alias_pfn(f->pool, &b, 0) * PG,
					      back, sizeof(back)),
			 0);
	assert_memory_equal(back, data, sizeof(data));

	/* And what the host writes there comes back into private memory. */
	memset(back, 0x77, sizeof(back));
	assert_int_equal(cvmbus_mem_host_write(hv, b.gpa | boundary, back, 5000), 0);
	assert_int_equal(cvmbus_bounce_from_device(f->pool, &b, priv, 5000), 0);
	assert_int_equal(cvmbus_mem_read(f->mem, CVMBUS_MEM_VIEW_GUEST, priv, data, 5000), 0);
	assert_memory_equal(data, back, 5000);

	assert_int_equal(cvmbus_bounce_to_device(f->pool, &b, priv, 2 * PG + 1), -EINVAL);
	cvmbus_bounce_get_stats(f->pool, &st);
	assert_int_equal(st.bytes_to_device, 6000);
	assert_int_equal(st.bytes_from_device, 5000);
	assert_int_equal(st.pages_in_use, 2);
	cvmbus_bounce_free(f->pool, &b);
	cvmbus_bounce_get_stats(f->pool, &st);
	assert_int_equal(st.pages_in_use, 0);
	assert_int_equal(st.pages_peak, 2);
	/* Still exactly the pool, no page of the private buffer. */
	assert_int_equal(cvmbus_mem_page_state(f->mem, priv), CVMBUS_MEM_PAGE_PRIVATE);
}

static void test_alloc_limits(void **state)
{
	struct fx *f = *state;
	struct cvmbus_bounce_buf a, b, c, d, e;
	struct cvmbus_bounce_stats st;

	assert_int_equal(cvmbus_bounce_alloc(f->pool, 0, 0, &a), -EMSGSIZE);
	assert_int_equal(cvmbus_bounce_alloc(f->pool, 16 * PG + 1, 0, &a), -EMSGSIZE);
	assert_int_equal(cvmbus_bounce_alloc(f->pool, 4 * PG, 0, &a), 0);
	assert_int_equal(cvmbus_bounce_alloc(f->pool, 4 * PG, 0, &b), 0);
	assert_int_equal(cvmbus_bounce_alloc(f->pool, 4 * PG, 0, &c), 0);
	assert_int_equal(cvmbus_bounce_alloc(f->pool, 4 * PG, 0, &d), 0);
	/* Full: a zero timeout fails at once, a short one after waiting. */
	assert_int_equal(cvmbus_bounce_alloc(f->pool, 1, 0, &e), -ETIMEDOUT);
	assert_int_equal(cvmbus_bounce_alloc(f->pool, 1, 5 * MS, &e), -ETIMEDOUT);
	/* First fit: the hole b left is found again (the search wraps). */
	cvmbus_bounce_free(f->pool, &b);
	assert_int_equal(cvmbus_bounce_alloc(f->pool, 4 * PG, 0, &e), 0);
	assert_int_equal(e.gpa, b.gpa);
	/* A hole of four pages is no run of five. */
	cvmbus_bounce_free(f->pool, &e);
	assert_int_equal(cvmbus_bounce_alloc(f->pool, 5 * PG, 0, &e), -ETIMEDOUT);
	cvmbus_bounce_get_stats(f->pool, &st);
	assert_true(st.alloc_failures >= 5);
	assert_int_equal(st.pages_in_use, 12);
	cvmbus_bounce_free(f->pool, &a);
	cvmbus_bounce_free(f->pool, &c);
	cvmbus_bounce_free(f->pool, &d);
	assert_int_equal(cvmbus_bounce_alloc(f->pool, 16 * PG, 0, &e), 0);
	assert_int_equal(e.gpa, cvmbus_bounce_pool_gpa(f->pool));
	cvmbus_bounce_free(f->pool, &e);
}

struct waiter {
	struct fx *f;
	int rc;
	struct cvmbus_bounce_buf got;
};

static int waiter_main(void *arg)
{
	struct waiter *w = arg;

	w->rc = cvmbus_bounce_alloc(w->f->pool, 8 * PG, 10 * SEC, &w->got);
	return 0;
}

static void test_waiter_woken_by_free(void **state)
{
	struct fx *f = *state;
	struct cvmbus_bounce_buf all;
	struct cvmbus_bounce_stats st;
	struct cvmbus_thread *t;
	struct waiter w = { .f = f, .rc = 1 };

	assert_int_equal(cvmbus_bounce_alloc(f->pool, 16 * PG, 0, &all), 0);
	assert_int_equal(cvmbus_thread_spawn(f->exec, &t, "waiter", waiter_main, &w), 0);
	/* Free only once the waiter is known to be waiting. */
	for (;;) {
		cvmbus_bounce_get_stats(f->pool, &st);
		if (st.alloc_waits >= 1)
			break;
		cvmbus_exec_sleep_ns(f->exec, 1 * MS);
	}
	cvmbus_bounce_free(f->pool, &all);
	assert_int_equal(cvmbus_thread_join(t, NULL), 0);
	assert_int_equal(w.rc, 0);
	assert_int_equal(w.got.pages, 8);
	cvmbus_bounce_free(f->pool, &w.got);
}

static void test_destroy_makes_private(void **state)
{
	struct fx *f = *state;
	struct cvmbus_mem_exposure_totals t;
	uint64_t gpa = cvmbus_bounce_pool_gpa(f->pool);

	cvmbus_bounce_pool_destroy(f->pool);
	f->pool = NULL;
	assert_int_equal(cvmbus_mem_exposure_by_reason(f->mem, "bounce", &t), 0);
	assert_int_equal(t.pages_now, 0);
	assert_int_equal(t.pages_ever, 16);
	assert_int_equal(cvmbus_mem_page_state(f->mem, gpa), CVMBUS_MEM_PAGE_PRIVATE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exposure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_through_aliases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_waiter_woken_by_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_makes_private, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
