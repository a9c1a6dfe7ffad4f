/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the logger (src/exec/log.c): level filtering, the sink, long
 * lines, and the per-call-site rate limit that keeps a hostile peer from
 * flooding the log -- measured on the deterministic executor's virtual clock
 * so that which lines are suppressed is exact, not a matter of speed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cvmbus/exec.h"
#include "cvmbus/log.h"

#define SEC 1000000000ull

struct capture {
	int n;
	enum cvmbus_log_level level[64];
	char msg[64][160];
	size_t last_len;
};

static void capture_sink(void *ctx, enum cvmbus_log_level level, const char *msg)
{
	struct capture *c = ctx;

	c->last_len = strlen(msg);
	if (c->n < 64) {
		c->level[c->n] = level;
		snprintf(c->msg[c->n], sizeof(c->msg[0]), "%s", msg);
	}
	c->n++;
}

static int teardown(void **state)
{
	cvmbus_log_set_sink(NULL, NULL);
	cvmbus_log_set_level(CVMBUS_LOG_INFO);
	cvmbus_log_set_ratelimit(5 * SEC, 10);
	return 0;
}

static void test_levels_and_sink(void **state)
{
	struct capture c = { 0 };

	cvmbus_log_set_sink(capture_sink, &c);
	assert_int_equal(cvmbus_log_get_level(), CVMBUS_LOG_INFO);
	cvmbus_log_debug("hidden %d", 1);
	cvmbus_log_info("shown %d", 2);
	cvmbus_log_warn("bad relid %u from %s", 7u, "host");
	cvmbus_log_set_level(CVMBUS_LOG_ERROR);
	assert_false(cvmbus_log_enabled(CVMBUS_LOG_WARN));
	cvmbus_log_warn("hidden too");
	cvmbus_log_error("fatal-ish");
	cvmbus_log_set_level(CVMBUS_LOG_DEBUG);
	cvmbus_log_debug("now shown");

	assert_int_equal(c.n, 4);
	assert_string_equal(c.msg[0], "shown 2");
	assert_int_equal(c.level[0], CVMBUS_LOG_INFO);
	assert_string_equal(c.msg[1], "bad relid 7 from host");
	assert_int_equal(c.level[1], CVMBUS_LOG_WARN);
	assert_string_equal(c.msg[2], "fatal-ish");
	assert_int_equal(c.level[2], CVMBUS_LOG_ERROR);
	assert_string_equal(c.msg[3], "now shown");
	assert_string_equal(cvmbus_log_level_name(CVMBUS_LOG_WARN), "warn");
	assert_string_equal(cvmbus_log_level_name(CVMBUS_LOG_DEBUG), "debug");
}

static void test_long_line_not_cut(void **state)
{
	struct capture c = { 0 };
	char big[3001];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cvmbus_log_set_sink(capture_sink, &c);
	cvmbus_log_info("<%s>", big);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.last_len, 3002);
}

static void flood_once(int i)
{
	CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "hostile message %d", i);
}

struct flood {
	struct cvmbus_exec *exec;
};

static int flood_main(void *arg)
{
	struct flood *f = arg;

	/* 25 lines in one instant: the first 3 pass. */
	for (int i = 0; i < 25; i++)
		flood_once(i);
	/* Half a window later: still the same window, all suppressed. */
	cvmbus_exec_sleep_ns(f->exec, SEC / 2);
	for (int i = 25; i < 30; i++)
		flood_once(i);
	/* A new window: first a note of what was dropped, then 3 lines. */
	cvmbus_exec_sleep_ns(f->exec, SEC);
	for (int i = 30; i < 40; i++)
		flood_once(i);
	return 0;
}

static void test_ratelimit_per_site(void **state)
{
	struct capture c = { 0 };
	struct cvmbus_exec *exec;
	struct flood f;

	cvmbus_log_set_sink(capture_sink, &c);
	cvmbus_log_set_ratelimit(1 * SEC, 3);
	assert_int_equal(cvmbus_exec_det_create(&exec, NULL), 0);
	f.exec = exec;
	assert_int_equal(cvmbus_exec_run(exec, flood_main, &f, NULL), 0);
	cvmbus_exec_destroy(exec);

	assert_int_equal(c.n, 7);
	assert_string_equal(c.msg[0], "hostile message 0");
	assert_string_equal(c.msg[1], "hostile message 1");
	assert_string_equal(c.msg[2], "hostile message 2");
	/* 22 + 5 dropped; the note names this file's call site. */
	assert_non_null(strstr(c.msg[3], "27 lines suppressed at "));
	assert_non_null(strstr(c.msg[3], "test_log.c:"));
	assert_int_equal(c.level[3], CVMBUS_LOG_WARN);
	assert_string_equal(c.msg[4], "hostile message 30");
	assert_string_equal(c.msg[5], "hostile message 31");
	assert_string_equal(c.msg[6], "hostile message 32");

	/* Another site has its own budget. */
	CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "other site");
	assert_int_equal(c.n, 8);
	assert_string_equal(c.msg[7], "other site");
}

static int log_later(void *arg)
{
	cvmbus_exec_sleep_ns(arg, 1500000042ull);
	cvmbus_log_info("from %s", "a run");
	return 0;
}

static void test_default_sink_prefix(void **state)
{
	char buf[256] = { 0 };
	FILE *saved = stderr;
	FILE *mem = fmemopen(buf, sizeof(buf) - 1, "w");
	struct cvmbus_exec *exec;

	assert_non_null(mem);
	assert_int_equal(cvmbus_exec_det_create(&exec, NULL), 0);
	/* The default sink writes to stderr; point it at memory for a moment
	 * (glibc's stderr is an assignable variable). */
	stderr = mem;
	cvmbus_log_set_sink(NULL, NULL);
	cvmbus_log_warn("plain %d", 5);
	/* From an executor thread: its name and its (virtual) time. */
	assert_int_equal(cvmbus_exec_run(exec, log_later, exec, NULL), 0);
	fflush(mem);
	stderr = saved;
	fclose(mem);
	cvmbus_exec_destroy(exec);
	assert_string_equal(buf, "cvmbus: warn: plain 5\n"
				 "cvmbus: info: [main 1.500000042] from a run\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_levels_and_sink, teardown),
		cmocka_unit_test_teardown(test_long_line_not_cut, teardown),
		cmocka_unit_test_teardown(test_ratelimit_per_site, teardown),
		cmocka_unit_test_teardown(test_default_sink_prefix, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
