/* SPDX-License-Identifier: MIT */
/*
 * Tests of schedule exploration (include/cvmbus/explore.h, src/vm): the
 * seed sweeps of the four racy scenarios and what makes a failing seed
 * worth having, namely that it replays. Three modes:
 *
 *   test_explore                       unit tests (cmocka): names, the
 *                                      same seed twice gives the same
 *                                      schedule hash, different seeds
 *                                      different schedules, the failure
 *                                      line, the regression seeds;
 *   test_explore sweep NAME FIRST N    seeds FIRST..FIRST+N-1 of scenario
 *                                      NAME: every invariant on every seed,
 *                                      and the sweep must reach both sides
 *                                      of the race; a failing seed is
 *                                      printed with the command that
 *                                      replays it;
 *   test_explore cli TOOL              `TOOL explore --scenario NAME --seed
 *                                      N` prints the library's hash.
 *
 * Under sanitizers a sweep runs every other seed of its range (a seed costs
 * about 3-5x more there); CVMBUS_EXPLORE_SEEDS=N runs N consecutive seeds
 * per sweep instead, in any build.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <cvmbus/explore.h>
#include <cvmbus/log.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define XT_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define XT_SANITIZED 1
#endif
#endif
#ifndef XT_SANITIZED
#define XT_SANITIZED 0
#endif
#if XT_SANITIZED && defined(__has_include)
#if __has_include(<sanitizer/common_interface_defs.h>)
#include <sanitizer/common_interface_defs.h>
#define XT_DEATH_CALLBACK 1
#endif
#endif

/* Where a developer finds the tool after a default build. */
#define XT_TOOL "build/tools/cvmbus/cvmbus"

static double xt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Expected failures go to the log at warn level; a sweep would drown in
 * them. Errors (a det run's report) still show. */
static void xt_quiet(void)
{
	cvmbus_log_set_level(CVMBUS_LOG_ERROR);
}

/* ---- unit tests -------------------------------------------------------------------- */

static void test_names(void **state)
{
	enum cvmbus_explore_scenario sc;

	(void)state;
	for (unsigned int i = 0; i < CVMBUS_EXPLORE_SCENARIO_COUNT; i++) {
		const char *n = cvmbus_explore_scenario_name((enum cvmbus_explore_scenario)i);

		assert_non_null(n);
		assert_non_null(cvmbus_explore_scenario_summary((enum cvmbus_explore_scenario)i));
		assert_int_equal(cvmbus_explore_scenario_parse(n, &sc), 0);
		assert_int_equal((unsigned int)sc, i);
	}
	assert_string_equal(cvmbus_explore_scenario_name(CVMBUS_EXPLORE_RESCIND_DURING_OPEN),
			    "rescind-during-open");
	assert_string_equal(cvmbus_explore_scenario_name(CVMBUS_EXPLORE_UNLOAD_DURING_GPADL),
			    "unload-during-gpadl");
	assert_string_equal(cvmbus_explore_scenario_name(CVMBUS_EXPLORE_CLOSE_WITH_IO),
			    "close-with-io");
	assert_string_equal(cvmbus_explore_scenario_name(CVMBUS_EXPLORE_HOST_CRASH_CONNECT),
			    "host-crash-connect");
	assert_null(cvmbus_explore_scenario_name(CVMBUS_EXPLORE_SCENARIO_COUNT));
	assert_int_equal(cvmbus_explore_scenario_parse("rescind", &sc), -EINVAL);
	assert_int_equal(cvmbus_explore_scenario_parse("", &sc), -EINVAL);
	assert_int_equal(cvmbus_explore_scenario_parse(NULL, &sc), -EINVAL);
	assert_int_equal(cvmbus_explore_run(CVMBUS_EXPLORE_SCENARIO_COUNT, 1, NULL, NULL), -EINVAL);
}

/* The point of a seed: running it again gives the same schedule (hash and
 * steps), the same platform trace and the same outcome. */
static void test_replay_same_hash(void **state)
{
	(void)state;
	xt_quiet();
	for (unsigned int i = 0; i < CVMBUS_EXPLORE_SCENARIO_COUNT; i++) {
		struct cvmbus_explore_result a, b;
		uint64_t seed = 17u + i;

		assert_int_equal(cvmbus_explore_run((enum cvmbus_explore_scenario)i, seed, NULL, &a),
				 0);
		assert_int_equal(cvmbus_explore_run((enum cvmbus_explore_scenario)i, seed, NULL, &b),
				 0);
		assert_true(a.passed);
		assert_true(a.steps > 100);
		assert_int_equal(a.schedule_hash, b.schedule_hash);
		assert_int_equal(a.steps, b.steps);
		assert_int_equal(a.trace_hash, b.trace_hash);
		assert_int_equal(a.trace_events, b.trace_events);
		assert_int_equal(a.virtual_ns, b.virtual_ns);
		assert_string_equal(a.outcome, b.outcome);
		assert_int_equal(a.seed, seed);
		assert_int_equal((unsigned int)a.scenario, i);
	}
}

/* Different seeds are different schedules: if the seed did not reach the
 * executor, a sweep would test one interleaving 500 times. */
static void test_seeds_differ(void **state)
{
	uint64_t h[8];

	(void)state;
	xt_quiet();
	for (unsigned int s = 0; s < 8; s++) {
		struct cvmbus_explore_result r;

		assert_int_equal(cvmbus_explore_run(CVMBUS_EXPLORE_RESCIND_DURING_OPEN, 100 + s, NULL,
						    &r),
				 0);
		h[s] = r.schedule_hash;
		for (unsigned int t = 0; t < s; t++)
			assert_true(h[t] != h[s]);
	}
}

/* The schedule trace written for a replay has one line per decision, and
 * the first is the run's start. */
static void test_trace_file(void **state)
{
	struct cvmbus_explore_opts o = { 0 };
	struct cvmbus_explore_result r, plain;
	char line[128];
	size_t lines = 0;
	FILE *f = tmpfile();

	(void)state;
	xt_quiet();
	assert_non_null(f);
	o.trace = f;
	assert_int_equal(cvmbus_explore_run(CVMBUS_EXPLORE_CLOSE_WITH_IO, 5, &o, &r), 0);
	assert_int_equal(cvmbus_explore_run(CVMBUS_EXPLORE_CLOSE_WITH_IO, 5, NULL, &plain), 0);
	/* Keeping the trace changes nothing about the schedule. */
	assert_int_equal(r.schedule_hash, plain.schedule_hash);
	rewind(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "0 0 0 start 1\n");
	lines = 1;
	while (fgets(line, sizeof(line), f))
		lines++;
	/* Steps 0 (the start) to r.steps, one line each. */
	assert_int_equal(lines, r.steps + 1);
	fclose(f);
}

/*
 * A run that does not finish is a failure with the executor's report, not a
 * hang of the sweep: with a step budget far below what the scenario needs,
 * the executor stops it (-ELOOP, as a livelock would) and the result says
 * so. The parties of such a run are left behind by design (their threads
 * were unwound), which the leak checker would report at exit: so the run
 * happens in a child that leaves with _exit.
 */
static void test_failed_run_reported(void **state)
{
	pid_t pid;
	int st = 0;

	(void)state;
	xt_quiet();
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct cvmbus_explore_opts o = { .max_steps = 2000 };
		struct cvmbus_explore_result r;
		char line[1024];
		int ok;

		ok = cvmbus_explore_run(CVMBUS_EXPLORE_CLOSE_WITH_IO, 5, &o, &r) == 0 &&
		     r.exec_status == -ELOOP && !r.passed && r.steps >= 2000 &&
		     strstr(r.violation, "livelock") && r.report[0];
		cvmbus_explore_format_failure(&r, XT_TOOL, line, sizeof(line));
		ok = ok && strstr(line, "close-with-io seed 5 failed: run failed (-40)") &&
		     strstr(line, "--scenario close-with-io --seed 5");
		if (!ok)
			fprintf(stderr, "exec %d steps %" PRIu64 " violation '%s'\n%s\n",
				r.exec_status, r.steps, r.violation, line);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

/* The line a sweep prints names the seed and the exact command. */
static void test_failure_line(void **state)
{
	struct cvmbus_explore_result r;
	char buf[1024];

	(void)state;
	memset(&r, 0, sizeof(r));
	r.scenario = CVMBUS_EXPLORE_UNLOAD_DURING_GPADL;
	r.seed = 4242;
	r.schedule_hash = 0x0123456789abcdefull;
	r.steps = 99;
	snprintf(r.violation, sizeof(r.violation), "the host still holds gpadl 7 after unload");
	snprintf(r.outcome, sizeof(r.outcome), "gpadl=0 unload=0");
	assert_true(cvmbus_explore_format_failure(&r, XT_TOOL, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "unload-during-gpadl seed 4242 failed: the host still holds "
				    "gpadl 7 after unload"));
	assert_non_null(strstr(buf, "schedule hash 0x0123456789abcdef (99 steps)"));
	assert_non_null(strstr(buf, "replay:  build/tools/cvmbus/cvmbus explore --scenario "
				    "unload-during-gpadl --seed 4242"));
}

/*
 * Regression seeds. unload-during-gpadl seeds 2, 3 and 11 found a double
 * free in the guest (src/client/guest.c): the unload landed while an open
 * was waiting for its answer; the UNLOADED event destroyed every channel
 * object in the table, the pending open's included, and then failed the
 * pending open by destroying its channel object a second time. Each seed
 * must still reach that moment (the open fails with -ENOTCONN after its
 * GPADL went through) and pass.
 */
static void test_regression_unload_open(void **state)
{
	static const uint64_t seeds[] = { 2, 3, 11 };

	(void)state;
	xt_quiet();
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct cvmbus_explore_result r;

		assert_int_equal(cvmbus_explore_run(CVMBUS_EXPLORE_UNLOAD_DURING_GPADL, seeds[i],
						    NULL, &r),
				 0);
		if (!r.passed)
			fprintf(stderr, "seed %" PRIu64 ": %s\n", seeds[i], r.violation);
		assert_true(r.passed);
		assert_non_null(strstr(r.outcome, "gpadl=0 open=-107"));
	}
}

/* ---- a seed that takes the process down ------------------------------------------------ */

/*
 * A seed that crashes (a double free, a sanitizer report) or spins without
 * a schedule point never gets to print its replay line. So the line is
 * written before each run and printed from the crash path: a fatal signal,
 * the sanitizer's death callback, or the watchdog alarm. Only
 * async-signal-safe calls there (write, signal, raise).
 */
#define XT_WATCHDOG_S 60u

static char xt_pending[512];
static volatile sig_atomic_t xt_pending_len;

static void xt_say_pending(void)
{
	if (xt_pending_len > 0) {
		ssize_t n = write(STDERR_FILENO, xt_pending, (size_t)xt_pending_len);

		(void)n;
	}
}

static void xt_fatal(int sig)
{
	xt_say_pending();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void xt_watchdog(int sig)
{
	static const char msg[] = "explore: the seed below ran past the watchdog: a hang\n";
	ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);

	(void)n;
	(void)sig;
	xt_say_pending();
	signal(SIGABRT, SIG_DFL);
	abort();
}

#ifdef XT_DEATH_CALLBACK
static void xt_death(void)
{
	xt_say_pending();
}
#endif

static void xt_guard_install(void)
{
	signal(SIGSEGV, xt_fatal);
	signal(SIGBUS, xt_fatal);
	signal(SIGABRT, xt_fatal);
	signal(SIGFPE, xt_fatal);
	signal(SIGILL, xt_fatal);
	signal(SIGALRM, xt_watchdog);
#ifdef XT_DEATH_CALLBACK
	__sanitizer_set_death_callback(xt_death);
#endif
}

static void xt_guard_arm(enum cvmbus_explore_scenario sc, uint64_t seed)
{
	const char *name = cvmbus_explore_scenario_name(sc);
	int n;

	xt_pending_len = 0;
	n = snprintf(xt_pending, sizeof(xt_pending),
		     "explore: %s seed %" PRIu64 " took the process down\n"
		     "  replay:  %s explore --scenario %s --seed %" PRIu64 "\n",
		     name, seed, XT_TOOL, name, seed);
	if (n > 0 && (size_t)n < sizeof(xt_pending))
		xt_pending_len = n;
	alarm(XT_WATCHDOG_S);
}

static void xt_guard_disarm(void)
{
	alarm(0);
	xt_pending_len = 0;
}

/* ---- sweep ---------------------------------------------------------------------------- */

static const char *xt_sweep_name;
static uint64_t xt_sweep_first, xt_sweep_count;

/* A sweep reaches both sides of its race, or it explored nothing: the
 * disruption must land before the guest's first request completed on some
 * seeds (it fails cleanly) and after it on others (it succeeds). */
struct xt_coverage {
	unsigned int runs;
	unsigned int first_ok;     /* the first request succeeded */
	unsigned int first_failed; /* the first request failed cleanly */
};

static void test_sweep(void **state)
{
	enum cvmbus_explore_scenario sc;
	struct xt_coverage cov = { 0 };
	uint64_t stride = 1, n = xt_sweep_count, failures = 0, steps = 0;
	const char *env = getenv("CVMBUS_EXPLORE_SEEDS");
	const char *venv = getenv("CVMBUS_EXPLORE_VERBOSE");
	bool verbose = venv && *venv && strcmp(venv, "0");
	double t0, dt;

	(void)state;
	xt_quiet();
	assert_int_equal(cvmbus_explore_scenario_parse(xt_sweep_name, &sc), 0);
	xt_guard_install();
	if (env && *env) {
		n = strtoull(env, NULL, 0);
	} else if (XT_SANITIZED) {
		/* Same range, half the seeds: every other one. */
		stride = 2;
		n = (xt_sweep_count + stride - 1) / stride;
	}
	t0 = xt_now();
	for (uint64_t i = 0; i < n; i++) {
		uint64_t seed = xt_sweep_first + i * stride;
		struct cvmbus_explore_result r;

		xt_guard_arm(sc, seed);
		assert_int_equal(cvmbus_explore_run(sc, seed, NULL, &r), 0);
		xt_guard_disarm();
		steps += r.steps;
		cov.runs++;
		if (verbose)
			printf("seed %" PRIu64 ": %s %s (%s %u / %" PRIu64 " ns) %s\n", seed,
			       r.passed ? "pass" : "FAIL", r.outcome,
			       r.trigger == CVMBUS_EXPLORE_AFTER_TIME ? "time" : "points", r.points,
			       r.delay_ns, r.violation);
		if (r.requests && !r.first_status)
			cov.first_ok++;
		else if (r.requests)
			cov.first_failed++;
		if (!r.passed) {
			char line[1024];

			cvmbus_explore_format_failure(&r, XT_TOOL, line, sizeof(line));
			fprintf(stderr, "%s\n", line);
			if (r.report[0])
				fprintf(stderr, "%s\n", r.report);
			failures++;
		}
	}
	dt = xt_now() - t0;
	printf("explore: %s: %" PRIu64 " seeds from %" PRIu64 " (stride %" PRIu64
	       "), %" PRIu64 " failed, %.2f s, %.1f seeds/s, %.0f steps/seed; "
	       "first request: %u succeeded, %u failed cleanly\n",
	       xt_sweep_name, n, xt_sweep_first, stride, failures, dt, dt > 0 ? (double)n / dt : 0.0,
	       n ? (double)steps / (double)n : 0.0, cov.first_ok, cov.first_failed);
	assert_int_equal(failures, 0);
	/* Both sides of the race, once the sweep is big enough to expect it. */
	if (n >= 40) {
		assert_true(cov.first_ok > 0);
		assert_true(cov.first_failed > 0);
	}
}

/* ---- the tool ----------------------------------------------------------------------------- */

static const char *xt_tool;

/* `cvmbus explore --scenario NAME --seed N` prints the library's schedule
 * hash, twice the same, and exits 0 for a passing seed. */
static void test_cli_replay(void **state)
{
	(void)state;
	xt_quiet();
	for (unsigned int i = 0; i < CVMBUS_EXPLORE_SCENARIO_COUNT; i++) {
		const char *name = cvmbus_explore_scenario_name((enum cvmbus_explore_scenario)i);
		struct cvmbus_explore_result r;
		char cmd[1024], line[512], want[64];
		bool found = false;

		assert_int_equal(cvmbus_explore_run((enum cvmbus_explore_scenario)i, 3, NULL, &r), 0);
		snprintf(want, sizeof(want), "schedule hash: 0x%016" PRIx64, r.schedule_hash);
		for (int rep = 0; rep < 2; rep++) {
			FILE *p;
			int st;

			snprintf(cmd, sizeof(cmd), "'%s' explore --scenario %s --seed 3 2>&1", xt_tool,
				 name);
			p = popen(cmd, "r");
			assert_non_null(p);
			found = false;
			while (fgets(line, sizeof(line), p))
				if (strstr(line, want))
					found = true;
			st = pclose(p);
			assert_true(found);
			assert_int_equal(st, 0);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "sweep")) {
		const struct CMUnitTest sweep[] = { cmocka_unit_test(test_sweep) };

		xt_sweep_name = argv[2];
		xt_sweep_first = strtoull(argv[3], NULL, 0);
		xt_sweep_count = strtoull(argv[4], NULL, 0);
		return cmocka_run_group_tests_name(xt_sweep_name, sweep, NULL, NULL);
	}
	if (argc == 3 && !strcmp(argv[1], "cli")) {
		const struct CMUnitTest cli[] = { cmocka_unit_test(test_cli_replay) };

		xt_tool = argv[2];
		return cmocka_run_group_tests_name("explore_cli", cli, NULL, NULL);
	}
	if (argc != 1) {
		fprintf(stderr, "usage: test_explore [sweep NAME FIRST COUNT | cli TOOL]\n");
		return 2;
	}
	{
		const struct CMUnitTest tests[] = {
			cmocka_unit_test(test_names),
			cmocka_unit_test(test_replay_same_hash),
			cmocka_unit_test(test_seeds_differ),
			cmocka_unit_test(test_trace_file),
			cmocka_unit_test(test_failure_line),
			cmocka_unit_test(test_failed_run_reported),
			cmocka_unit_test(test_regression_unload_open),
		};

		return cmocka_run_group_tests_name("explore", tests, NULL, NULL);
	}
}
