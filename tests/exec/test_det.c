/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the deterministic executor (src/exec/det.c): a seed replays
 * the same schedule byte for byte, different seeds explore different
 * interleavings, deadlocks / passed deadlines / livelocks end the run with an
 * error and a report naming every blocked thread instead of hanging, and
 * virtual time jumps over sleeps, timeouts and timers. A sweep that fails
 * prints its seed; CVMBUS_EXEC_SEED=<seed> starts the sweeps at that seed,
 * so the failing one runs first (see docs/EXEC.md).
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "cvmbus/exec.h"
#include "cvmbus/log.h"

#define MS  1000000ull
#define SEC 1000000000ull

static struct cvmbus_exec *new_det(uint64_t seed, uint64_t deadline,
				   uint64_t max_steps)
{
	struct cvmbus_exec_det_opts o = {
		.seed = seed, .deadline_ns = deadline, .max_steps = max_steps,
	};
	struct cvmbus_exec *exec = NULL;

	assert_int_equal(cvmbus_exec_det_create(&exec, &o), 0);
	assert_int_equal(cvmbus_exec_kind(exec), CVMBUS_EXEC_DET);
	assert_int_equal(cvmbus_exec_det_seed(exec), seed);
	return exec;
}

/* Failed runs log their report at error level; keep the test output for
 * real failures, but remember the last line so tests can look at it. */
static char last_log[4096];
static void quiet_sink(void *ctx, enum cvmbus_log_level level, const char *msg)
{
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

static int setup_quiet(void **state)
{
	cvmbus_log_set_sink(quiet_sink, NULL);
	return 0;
}

static int teardown_quiet(void **state)
{
	cvmbus_log_set_sink(NULL, NULL);
	return 0;
}

static double real_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the 3-thread workload: locks, a shared counter, yields ------------ */

#define WORKERS 3
#define ITERS   12

struct work {
	struct cvmbus_exec *exec;
	struct cvmbus_mutex lock;
	uint64_t counter;       /* guarded by lock */
	uint64_t racy;          /* read-yield-write without the lock */
	uint8_t order[WORKERS * ITERS]; /* which worker took the lock, in order */
	size_t n;
};

struct worker {
	struct work *w;
	uint8_t me;
};

static int work_body(void *arg)
{
	struct worker *k = arg;
	struct work *w = k->w;
	uint64_t v;

	for (int i = 0; i < ITERS; i++) {
		cvmbus_mutex_lock(&w->lock);
		w->counter++;
		w->order[w->n++] = k->me;
		cvmbus_mutex_unlock(&w->lock);
		/* Under det only one thread runs at a time, so this unlocked
		 * read-modify-write is not a data race, but a yield in the
		 * middle lets another worker interleave: lost updates are a
		 * property of the seed. */
		v = w->racy;
		cvmbus_exec_yield(w->exec);
		w->racy = v + 1;
	}
	return k->me;
}

static int work_main(void *arg)
{
	struct work *w = arg;
	struct worker k[WORKERS];
	struct cvmbus_thread *t[WORKERS];
	static const char *const names[WORKERS] = { "alpha", "beta", "gamma" };
	int ret;

	for (int i = 0; i < WORKERS; i++) {
		k[i] = (struct worker){ w, (uint8_t)i };
		if (cvmbus_thread_spawn(w->exec, &t[i], names[i], work_body, &k[i]))
			return -1;
	}
	for (int i = 0; i < WORKERS; i++) {
		if (cvmbus_thread_join(t[i], &ret) || ret != i)
			return -2;
	}
	return 0;
}

struct work_result {
	uint64_t hash;
	uint64_t steps;
	uint64_t racy;
	uint8_t order[WORKERS * ITERS];
};

static void run_work(struct cvmbus_exec *exec, struct work_result *r)
{
	struct work w = { .exec = exec };
	int ret = -99;

	cvmbus_mutex_init(&w.lock, exec, "work");
	assert_int_equal(cvmbus_exec_run(exec, work_main, &w, &ret), 0);
	assert_int_equal(ret, 0);
	assert_int_equal(w.counter, WORKERS * ITERS);
	assert_int_equal(w.n, WORKERS * ITERS);
	assert_true(w.racy >= ITERS && w.racy <= WORKERS * ITERS);
	assert_string_equal(cvmbus_exec_det_report(exec), "");
	r->hash = cvmbus_exec_det_hash(exec);
	r->steps = cvmbus_exec_det_steps(exec);
	r->racy = w.racy;
	memcpy(r->order, w.order, sizeof(r->order));
	cvmbus_mutex_destroy(&w.lock);
}

static void test_same_seed_same_schedule(void **state)
{
	/* 100 seeds, each run twice on a fresh executor: every observable of
	 * the schedule must repeat exactly. */
	uint64_t base = cvmbus_exec_seed_from_env(0);

	for (uint64_t seed = base; seed < base + 100; seed++) {
		struct work_result a, b;
		struct cvmbus_exec *e1 = new_det(seed, 0, 0);
		struct cvmbus_exec *e2 = new_det(seed, 0, 0);

		run_work(e1, &a);
		run_work(e2, &b);
		if (a.hash != b.hash)
			fail_msg("seed %" PRIu64 ": hash %016" PRIx64 " then %016" PRIx64,
				 seed, a.hash, b.hash);
		assert_int_equal(a.steps, b.steps);
		assert_int_equal(a.racy, b.racy);
		assert_memory_equal(a.order, b.order, sizeof(a.order));
		cvmbus_exec_destroy(e1);
		cvmbus_exec_destroy(e2);
	}
}

static void test_rerun_same_executor(void **state)
{
	/* A run restarts the PRNG from the seed: the same executor replays. */
	struct cvmbus_exec *exec = new_det(0xfeedfacecafebeefull, 0, 0);
	struct work_result a, b, c;
	const struct cvmbus_exec_trace_entry *tr;
	struct cvmbus_exec_trace_entry *copy;
	size_t n, m;

	run_work(exec, &a);
	tr = cvmbus_exec_det_trace(exec, &n);
	assert_int_equal(n, a.steps + 1); /* every point, plus the start */
	assert_int_equal(tr[0].prim, CVMBUS_PRIM_START);
	assert_int_equal(tr[0].next_tid, 1);
	assert_int_equal(tr[n - 1].prim, CVMBUS_PRIM_EXIT);
	assert_int_equal(tr[n - 1].tid, 1); /* main exits last: it joins */
	copy = malloc(n * sizeof(*copy));
	assert_non_null(copy);
	memcpy(copy, tr, n * sizeof(*copy));

	run_work(exec, &b);
	tr = cvmbus_exec_det_trace(exec, &m);
	assert_int_equal(a.hash, b.hash);
	assert_int_equal(n, m);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(copy[i].step, tr[i].step);
		assert_int_equal(copy[i].tid, tr[i].tid);
		assert_int_equal(copy[i].next_tid, tr[i].next_tid);
		assert_int_equal(copy[i].prim, tr[i].prim);
		assert_int_equal(copy[i].time_ns, tr[i].time_ns);
	}
	free(copy);

	cvmbus_exec_det_set_seed(exec, 1);
	run_work(exec, &c);
	assert_int_not_equal(a.hash, c.hash);
	cvmbus_exec_destroy(exec);
}

static void test_seeds_explore_interleavings(void **state)
{
	uint64_t hashes[50];
	uint8_t orders[50][WORKERS * ITERS];
	size_t distinct_h = 0, distinct_o = 0, lost = 0;

	uint64_t base = cvmbus_exec_seed_from_env(0);

	for (uint64_t seed = 0; seed < 50; seed++) {
		struct work_result r;
		struct cvmbus_exec *exec = new_det(base + seed, 0, 0);

		run_work(exec, &r);
		hashes[seed] = r.hash;
		memcpy(orders[seed], r.order, sizeof(r.order));
		if (r.racy < WORKERS * ITERS)
			lost++;
		cvmbus_exec_destroy(exec);
	}
	for (size_t i = 0; i < 50; i++) {
		bool seen_h = false, seen_o = false;

		for (size_t j = 0; j < i; j++) {
			seen_h |= hashes[j] == hashes[i];
			seen_o |= memcmp(orders[j], orders[i], sizeof(orders[i])) == 0;
		}
		distinct_h += !seen_h;
		distinct_o += !seen_o;
	}
	print_message("det: %zu/50 distinct schedule hashes, %zu/50 distinct lock "
		      "orders, %zu/50 runs lost a racy update\n",
		      distinct_h, distinct_o, lost);
	/* 36 lock acquisitions among 3 threads with random choice at every
	 * point: a repeat is astronomically unlikely, but the bar is lower
	 * so that only a scheduler that ignores its seed fails. */
	assert_true(distinct_h >= 45);
	assert_true(distinct_o >= 40);
	/* And the interleavings are real ones: some seeds lose updates. */
	assert_true(lost > 0);
}

/* ---- deadlocks ---------------------------------------------------------------- */

struct abba {
	struct cvmbus_exec *exec;
	struct cvmbus_mutex a, b;
	struct cvmbus_completion a_held, b_held;
	bool force; /* make the deadlock certain instead of seed-dependent */
};

static int take_ab(void *arg)
{
	struct abba *s = arg;

	cvmbus_mutex_lock(&s->a);
	cvmbus_exec_yield(s->exec);
	if (s->force) {
		cvmbus_completion_complete(&s->a_held);
		(void)cvmbus_completion_wait(&s->b_held, CVMBUS_EXEC_FOREVER);
	}
	cvmbus_mutex_lock(&s->b);
	cvmbus_mutex_unlock(&s->b);
	cvmbus_mutex_unlock(&s->a);
	return 0;
}

static int take_ba(void *arg)
{
	struct abba *s = arg;

	cvmbus_mutex_lock(&s->b);
	cvmbus_exec_yield(s->exec);
	if (s->force) {
		cvmbus_completion_complete(&s->b_held);
		(void)cvmbus_completion_wait(&s->a_held, CVMBUS_EXEC_FOREVER);
	}
	cvmbus_mutex_lock(&s->a);
	cvmbus_mutex_unlock(&s->a);
	cvmbus_mutex_unlock(&s->b);
	return 0;
}

static int abba_main(void *arg)
{
	struct abba *s = arg;
	struct cvmbus_thread *l, *r;

	if (cvmbus_thread_spawn(s->exec, &l, "left", take_ab, s) ||
	    cvmbus_thread_spawn(s->exec, &r, "right", take_ba, s))
		return -1;
	cvmbus_thread_join(l, NULL);
	cvmbus_thread_join(r, NULL);
	return 0;
}

static int run_abba(struct cvmbus_exec *exec, bool force)
{
	struct abba s = { .exec = exec, .force = force };
	int err;

	cvmbus_mutex_init(&s.a, exec, "A");
	cvmbus_mutex_init(&s.b, exec, "B");
	cvmbus_completion_init(&s.a_held, exec, "a held");
	cvmbus_completion_init(&s.b_held, exec, "b held");
	err = cvmbus_exec_run(exec, abba_main, &s, NULL);
	cvmbus_completion_destroy(&s.a_held);
	cvmbus_completion_destroy(&s.b_held);
	cvmbus_mutex_destroy(&s.a);
	cvmbus_mutex_destroy(&s.b);
	return err;
}

static void assert_abba_report(const char *rep)
{
	assert_non_null(strstr(rep, "deadlock"));
	assert_non_null(strstr(rep, "thread 1 \"main\": blocked in join of thread 2 \"left\""));
	assert_non_null(strstr(rep, "thread 2 \"left\": blocked in lock of mutex \"B\" "
				    "held by thread 3 \"right\""));
	assert_non_null(strstr(rep, "thread 3 \"right\": blocked in lock of mutex \"A\" "
				    "held by thread 2 \"left\""));
}

static void test_deadlock_seed_sweep(void **state)
{
	struct cvmbus_exec *exec = new_det(0, 0, 0);
	uint64_t first_deadlock = UINT64_MAX;
	uint64_t base = cvmbus_exec_seed_from_env(0);
	unsigned deadlocks = 0, clean = 0;

	/* Opposite lock order with a yield in between: whether it deadlocks
	 * depends on the seed. Every run must end, either way. */
	for (uint64_t seed = base; seed < base + 64; seed++) {
		int err;

		cvmbus_exec_det_set_seed(exec, seed);
		err = run_abba(exec, false);
		if (err == 0) {
			clean++;
			continue;
		}
		if (err != -EDEADLK)
			fail_msg("seed %" PRIu64 ": run returned %d", seed, err);
		assert_abba_report(cvmbus_exec_det_report(exec));
		if (first_deadlock == UINT64_MAX)
			first_deadlock = seed;
		deadlocks++;
	}
	print_message("det: abba deadlocked on %u/64 seeds (first: %" PRIu64 ")\n",
		      deadlocks, first_deadlock);
	assert_true(deadlocks > 0);
	assert_true(clean > 0);

	/* The failing seed replays: same error, same report, same hash. */
	cvmbus_exec_det_set_seed(exec, first_deadlock);
	assert_int_equal(run_abba(exec, false), -EDEADLK);
	char *rep = strdup(cvmbus_exec_det_report(exec));
	uint64_t h = cvmbus_exec_det_hash(exec);
	assert_int_equal(run_abba(exec, false), -EDEADLK);
	assert_string_equal(rep, cvmbus_exec_det_report(exec));
	assert_int_equal(h, cvmbus_exec_det_hash(exec));
	/* The report also went to the log. */
	assert_non_null(strstr(last_log, "deadlock"));
	free(rep);
	cvmbus_exec_destroy(exec);
}

static void test_deadlock_certain(void **state)
{
	/* Each side holds its first lock before either tries its second:
	 * every seed deadlocks. */
	for (uint64_t seed = 0; seed < 8; seed++) {
		struct cvmbus_exec *exec = new_det(seed, 0, 0);

		assert_int_equal(run_abba(exec, true), -EDEADLK);
		assert_abba_report(cvmbus_exec_det_report(exec));
		/* After a failed run the executor still works. */
		struct work_result r;
		run_work(exec, &r);
		cvmbus_exec_destroy(exec);
	}
}

static int self_deadlock(void *arg)
{
	struct cvmbus_mutex *m = arg;

	cvmbus_mutex_lock(m);
	cvmbus_mutex_lock(m); /* not recursive */
	return 0;
}

static void test_self_deadlock(void **state)
{
	struct cvmbus_exec *exec = new_det(5, 0, 0);
	struct cvmbus_mutex m;

	cvmbus_mutex_init(&m, exec, "self");
	assert_int_equal(cvmbus_exec_run(exec, self_deadlock, &m, NULL), -EDEADLK);
	assert_non_null(strstr(cvmbus_exec_det_report(exec),
		"thread 1 \"main\": blocked in lock of mutex \"self\" held by "
		"thread 1 \"main\", no timeout"));
	cvmbus_mutex_destroy(&m);
	cvmbus_exec_destroy(exec);
}

static int exit_holding(void *arg)
{
	cvmbus_mutex_lock(arg);
	return 0; /* a bug: leaves the mutex held forever */
}

static int lock_after_exit(void *arg)
{
	struct cvmbus_mutex *m = arg;
	struct cvmbus_thread *t;

	if (cvmbus_thread_spawn(m->exec, &t, "leaver", exit_holding, m))
		return -1;
	cvmbus_thread_join(t, NULL); /* frees the holder's record */
	cvmbus_mutex_lock(m);
	return 0;
}

static void test_lock_held_by_exited_thread(void **state)
{
	struct cvmbus_exec *exec = new_det(6, 0, 0);
	struct cvmbus_mutex m;

	cvmbus_mutex_init(&m, exec, "orphaned");
	assert_int_equal(cvmbus_exec_run(exec, lock_after_exit, &m, NULL), -EDEADLK);
	assert_non_null(strstr(cvmbus_exec_det_report(exec),
		"thread 1 \"main\": blocked in lock of mutex \"orphaned\" held by "
		"thread 2, which exited holding it"));
	cvmbus_mutex_destroy(&m);
	cvmbus_exec_destroy(exec);
}

/* ---- virtual time ------------------------------------------------------------- */

struct sleeper {
	struct cvmbus_exec *exec;
	uint64_t ns;
	uint64_t woke_at;
};

static int sleep_body(void *arg)
{
	struct sleeper *s = arg;

	cvmbus_exec_sleep_ns(s->exec, s->ns);
	s->woke_at = cvmbus_exec_now_ns(s->exec);
	return 0;
}

static int sleepers_main(void *arg)
{
	struct sleeper *s = arg;
	struct cvmbus_thread *t[3];

	for (int i = 0; i < 3; i++)
		if (cvmbus_thread_spawn(s[i].exec, &t[i], "sleeper", sleep_body, &s[i]))
			return -1;
	for (int i = 0; i < 3; i++)
		cvmbus_thread_join(t[i], NULL);
	return 0;
}

static void test_virtual_time_jumps(void **state)
{
	struct cvmbus_exec *exec = new_det(11, 2 * 3600 * SEC, 0);
	struct sleeper one = { .exec = exec, .ns = 10 * SEC };
	struct sleeper s[3] = {
		{ exec, 3600 * SEC, 0 }, { exec, 10 * SEC, 0 }, { exec, 1, 0 },
	};
	double t0 = real_seconds(), spent;

	assert_int_equal(cvmbus_exec_now_ns(exec), 0);
	assert_int_equal(cvmbus_exec_run(exec, sleep_body, &one, NULL), 0);
	/* Exactly 10 s of virtual time: nothing else could move the clock. */
	assert_int_equal(one.woke_at, 10 * SEC);
	assert_int_equal(cvmbus_exec_now_ns(exec), 10 * SEC);

	/* Sleepers of an hour, 10 s and 1 ns wake at exactly those times; a
	 * new run starts again at 0. */
	assert_int_equal(cvmbus_exec_run(exec, sleepers_main, s, NULL), 0);
	assert_int_equal(s[0].woke_at, 3600 * SEC);
	assert_int_equal(s[1].woke_at, 10 * SEC);
	assert_int_equal(s[2].woke_at, 1);
	spent = real_seconds() - t0;
	print_message("det: 1 h 10 s of virtual sleep took %.3f s of real time\n",
		      spent);
	/* Not a speed assertion: only proof that the hour was not waited. */
	assert_true(spent < 3600.0);
	cvmbus_exec_destroy(exec);
}

struct timed {
	struct cvmbus_exec *exec;
	struct cvmbus_mutex m;
	struct cvmbus_cond cv;
	struct cvmbus_completion c;
	struct cvmbus_timer tm;
	int cond_res, comp_res, late_res;
	uint64_t cond_at, comp_at, late_at;
};

static void complete_fn(struct cvmbus_timer *t, void *arg)
{
	cvmbus_completion_complete(arg);
}

static int timed_main(void *arg)
{
	struct timed *x = arg;

	cvmbus_mutex_lock(&x->m);
	x->cond_res = cvmbus_cond_wait_until(&x->cv, &x->m, 5 * MS);
	x->cond_at = cvmbus_exec_now_ns(x->exec);
	cvmbus_mutex_unlock(&x->m);

	/* A timer completes at t=5+3 ms, well inside the 10 ms timeout. */
	if (cvmbus_timer_arm(&x->tm, 3 * MS))
		return -1;
	x->comp_res = cvmbus_completion_wait(&x->c, 10 * MS);
	x->comp_at = cvmbus_exec_now_ns(x->exec);

	/* A deadline already past times out at once, without waiting. */
	cvmbus_mutex_lock(&x->m);
	x->late_res = cvmbus_cond_wait_until(&x->cv, &x->m, 1 * MS);
	x->late_at = cvmbus_exec_now_ns(x->exec);
	cvmbus_mutex_unlock(&x->m);
	return 0;
}

static void test_timed_waits(void **state)
{
	struct cvmbus_exec *exec = new_det(3, 0, 0);
	struct timed x = { .exec = exec };

	cvmbus_mutex_init(&x.m, exec, "m");
	cvmbus_cond_init(&x.cv, exec, "cv");
	cvmbus_completion_init(&x.c, exec, "c");
	cvmbus_timer_init(&x.tm, exec, complete_fn, &x.c);
	assert_int_equal(cvmbus_exec_run(exec, timed_main, &x, NULL), 0);
	assert_int_equal(x.cond_res, -ETIMEDOUT);
	assert_int_equal(x.cond_at, 5 * MS);
	assert_int_equal(x.comp_res, 0);
	assert_int_equal(x.comp_at, 8 * MS);
	assert_int_equal(x.late_res, -ETIMEDOUT);
	assert_int_equal(x.late_at, 8 * MS);
	cvmbus_completion_destroy(&x.c);
	cvmbus_cond_destroy(&x.cv);
	cvmbus_mutex_destroy(&x.m);
	cvmbus_exec_destroy(exec);
}

/* ---- timers ------------------------------------------------------------------------ */

struct tlog {
	struct cvmbus_exec *exec;
	struct cvmbus_timer t[5];
	int order[8];
	uint64_t at[8];
	int n;
	int periodic_left;
};

static void tlog_fn(struct cvmbus_timer *t, void *arg)
{
	struct tlog *l = arg;
	int idx = (int)(t - l->t);

	/* Only the timer thread touches these, and under det it runs alone. */
	l->order[l->n] = idx;
	l->at[l->n++] = cvmbus_exec_now_ns(l->exec);
	if (idx == 4 && --l->periodic_left > 0)
		cvmbus_timer_arm(t, 7 * MS);
}

static int tlog_main(void *arg)
{
	struct tlog *l = arg;

	cvmbus_timer_arm(&l->t[0], 30 * MS);
	cvmbus_timer_arm(&l->t[1], 10 * MS);
	cvmbus_timer_arm(&l->t[2], 10 * MS); /* same deadline: after t[1] */
	cvmbus_timer_arm(&l->t[3], 20 * MS);
	cvmbus_timer_arm(&l->t[4], 7 * MS);  /* periodic: 7, 14, 21 */
	if (cvmbus_timer_cancel(&l->t[3]) != 0)
		return -1;
	cvmbus_timer_arm(&l->t[0], 25 * MS); /* moved earlier */
	/* main exits now; the timer thread keeps the run alive until the
	 * last timer fired, then leaves too. */
	return 0;
}

static void test_timers(void **state)
{
	struct cvmbus_exec *exec = new_det(21, 0, 0);
	struct tlog l = { .exec = exec, .periodic_left = 3 };
	static const int want[] = { 4, 1, 2, 4, 4, 0 };
	static const uint64_t want_at[] = { 7, 10, 10, 14, 21, 25 };

	for (int i = 0; i < 5; i++)
		cvmbus_timer_init(&l.t[i], exec, tlog_fn, &l);
	assert_int_equal(cvmbus_exec_run(exec, tlog_main, &l, NULL), 0);
	assert_int_equal(l.n, 6);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(l.order[i], want[i]);
		assert_int_equal(l.at[i], want_at[i] * MS);
	}
	/* Outside a run there is no timer thread to start. */
	assert_int_equal(cvmbus_timer_arm(&l.t[0], 1), -EPERM);
	assert_false(cvmbus_timer_armed(&l.t[0]));
	cvmbus_exec_destroy(exec);
}

/* ---- failures that are not deadlocks ------------------------------------------------ */

static int wait_long(void *arg)
{
	struct cvmbus_completion *c = arg;

	return cvmbus_completion_wait(c, 3600 * SEC);
}

static int wait_long_main(void *arg)
{
	struct cvmbus_completion *c = arg;
	struct cvmbus_thread *t;

	if (cvmbus_thread_spawn(c->lock.exec, &t, "patient", wait_long, c))
		return -1;
	cvmbus_thread_join(t, NULL);
	return 0;
}

static void test_deadline_reports_hang(void **state)
{
	struct cvmbus_exec *exec = new_det(8, 10 * SEC, 0);
	struct cvmbus_completion c;
	const char *rep;

	cvmbus_completion_init(&c, exec, "host reply");
	/* Nobody completes it; the hour-long timeout is past the 10 s virtual
	 * deadline, so the run must fail rather than jump an hour ahead. */
	assert_int_equal(cvmbus_exec_run(exec, wait_long_main, &c, NULL), -ETIMEDOUT);
	rep = cvmbus_exec_det_report(exec);
	assert_non_null(strstr(rep, "deadline"));
	assert_non_null(strstr(rep, "thread 2 \"patient\": blocked in wait on "
				    "completion \"host reply\" until t=3600000000000 ns"));
	assert_non_null(strstr(rep, "thread 1 \"main\": blocked in join of thread 2"));
	cvmbus_completion_destroy(&c);
	cvmbus_exec_destroy(exec);
}

static int spin(void *arg)
{
	volatile int *flag = arg;

	/* Polls with yields but never sleeps: virtual time cannot move. */
	while (!*flag)
		cvmbus_exec_yield(cvmbus_exec_current());
	return 0;
}

static void test_step_limit_reports_livelock(void **state)
{
	struct cvmbus_exec *exec = new_det(9, 0, 5000);
	int flag = 0;

	assert_int_equal(cvmbus_exec_run(exec, spin, &flag, NULL), -ELOOP);
	assert_non_null(strstr(cvmbus_exec_det_report(exec), "step limit 5000"));
	assert_non_null(strstr(cvmbus_exec_det_report(exec),
			       "thread 1 \"main\": runnable"));
	assert_int_equal(cvmbus_exec_det_steps(exec), 5001);
	cvmbus_exec_destroy(exec);
}

/* ---- the contract at the edges of a run --------------------------------------------- */

static int noop(void *arg)
{
	return 0;
}

static int spawn_and_leave(void *arg)
{
	struct cvmbus_thread *t;
	int *reaped_ret = arg;

	/* Not joined: the run reaps it. */
	if (cvmbus_thread_spawn(cvmbus_exec_current(), &t, "orphan", noop, NULL))
		return -1;
	*reaped_ret = 1;
	return 77;
}

static void test_run_edges(void **state)
{
	struct cvmbus_exec *exec = new_det(4, 0, 0);
	struct cvmbus_thread *t = (struct cvmbus_thread *)1;
	struct cvmbus_mutex m;
	int ret = 0, flag = 0;
	FILE *f;
	char *buf = NULL;
	size_t len = 0;

	/* Only a run's threads may spawn. */
	assert_int_equal(cvmbus_thread_spawn(exec, &t, "x", noop, NULL), -EPERM);
	assert_null(t);
	/* Setup code may take and drop locks before the run. */
	cvmbus_mutex_init(&m, exec, "setup");
	cvmbus_mutex_lock(&m);
	assert_int_equal(cvmbus_mutex_trylock(&m), -EBUSY);
	cvmbus_mutex_unlock(&m);
	cvmbus_exec_yield(exec); /* nothing to yield to: a no-op */

	assert_int_equal(cvmbus_exec_run(exec, spawn_and_leave, &flag, &ret), 0);
	assert_int_equal(ret, 77);
	assert_int_equal(flag, 1);
	assert_int_equal(cvmbus_exec_det_run(exec, noop, NULL), 0);

	/* The trace as text: one line per decision, the last one main's exit. */
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(cvmbus_exec_det_trace_write(exec, f), 0);
	fclose(f);
	assert_string_equal(buf, "0 0 0 start 1\n1 0 1 exit 0\n");
	free(buf);
	cvmbus_mutex_destroy(&m);
	cvmbus_exec_destroy(exec);
}

static void test_seed_from_env(void **state)
{
	unsetenv("CVMBUS_EXEC_SEED");
	assert_int_equal(cvmbus_exec_seed_from_env(17), 17);
	setenv("CVMBUS_EXEC_SEED", "0x2a", 1);
	assert_int_equal(cvmbus_exec_seed_from_env(17), 42);
	setenv("CVMBUS_EXEC_SEED", "123", 1);
	assert_int_equal(cvmbus_exec_seed_from_env(17), 123);
	setenv("CVMBUS_EXEC_SEED", "12z", 1);
	assert_int_equal(cvmbus_exec_seed_from_env(17), 17);
	unsetenv("CVMBUS_EXEC_SEED");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_seed_same_schedule),
		cmocka_unit_test(test_rerun_same_executor),
		cmocka_unit_test(test_seeds_explore_interleavings),
		cmocka_unit_test(test_deadlock_seed_sweep),
		cmocka_unit_test(test_deadlock_certain),
		cmocka_unit_test(test_self_deadlock),
		cmocka_unit_test(test_lock_held_by_exited_thread),
		cmocka_unit_test(test_virtual_time_jumps),
		cmocka_unit_test(test_timed_waits),
		cmocka_unit_test(test_timers),
		cmocka_unit_test(test_deadline_reports_hang),
		cmocka_unit_test(test_step_limit_reports_livelock),
		cmocka_unit_test(test_run_edges),
		cmocka_unit_test(test_seed_from_env),
	};

	return cmocka_run_group_tests(tests, setup_quiet, teardown_quiet);
}
