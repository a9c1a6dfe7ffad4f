/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the native executor (src/exec/native.c and the executor-
 * neutral sync.c and timer.c on top of it): mutexes, condition variables,
 * completions, bounded waits, timers and doorbells, each with several real
 * threads. Labelled "tsan": .ci runs them under ThreadSanitizer too, which is
 * what shows the primitives really order memory. No assertion depends on
 * how fast the machine is; timed waits are checked only for not returning
 * early.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cvmbus/exec.h"

#define MS 1000000ull

static struct cvmbus_exec *new_native(void)
{
	struct cvmbus_exec *exec = NULL;

	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	assert_non_null(exec);
	assert_int_equal(cvmbus_exec_kind(exec), CVMBUS_EXEC_NATIVE);
	return exec;
}

/* ---- mutex: a shared counter ----------------------------------------- */

struct counter {
	struct cvmbus_mutex lock;
	uint64_t value; /* guarded by lock */
	int iters;
};

static int counter_body(void *arg)
{
	struct counter *c = arg;

	for (int i = 0; i < c->iters; i++) {
		cvmbus_mutex_lock(&c->lock);
		c->value++;
		cvmbus_mutex_unlock(&c->lock);
	}
	return 7;
}

static void test_mutex_counter(void **state)
{
	struct cvmbus_exec *exec = new_native();
	struct counter c = { .iters = 20000 };
	struct cvmbus_thread *t[4];
	int ret;

	cvmbus_mutex_init(&c.lock, exec, "counter");
	for (int i = 0; i < 4; i++)
		assert_int_equal(cvmbus_thread_spawn(exec, &t[i], "inc", counter_body, &c), 0);
	for (int i = 0; i < 4; i++) {
		ret = 0;
		assert_int_equal(cvmbus_thread_join(t[i], &ret), 0);
		assert_int_equal(ret, 7);
	}
	/* Unsynchronised increments from four threads would lose some. */
	assert_int_equal(c.value, 4 * 20000);
	cvmbus_mutex_destroy(&c.lock);
	cvmbus_exec_destroy(exec);
}

static int try_lock(void *arg)
{
	struct cvmbus_mutex *m = arg;
	int err = cvmbus_mutex_trylock(m);

	if (!err)
		cvmbus_mutex_unlock(m);
	return err;
}

static void test_trylock(void **state)
{
	struct cvmbus_exec *exec = new_native();
	struct cvmbus_mutex m;
	struct cvmbus_thread *t;
	int ret = 1;

	cvmbus_mutex_init(&m, exec, "m");
	assert_int_equal(cvmbus_mutex_trylock(&m), 0);
	/* Held here, so another thread's trylock must fail. */
	assert_int_equal(cvmbus_thread_spawn(exec, &t, "try", try_lock, &m), 0);
	assert_int_equal(cvmbus_thread_join(t, &ret), 0);
	assert_int_equal(ret, -EBUSY);
	cvmbus_mutex_unlock(&m);
	assert_int_equal(cvmbus_thread_spawn(exec, &t, "try", try_lock, &m), 0);
	assert_int_equal(cvmbus_thread_join(t, &ret), 0);
	assert_int_equal(ret, 0);
	cvmbus_mutex_destroy(&m);
	cvmbus_exec_destroy(exec);
}

/* ---- condition variable: strict ping-pong ----------------------------- */

struct pingpong {
	struct cvmbus_mutex lock;
	struct cvmbus_cond cond;
	int turn;     /* 0: ping's turn, 1: pong's */
	int rounds;
	int log[64];  /* who ran, in order, for the first rounds */
	int n;
};

struct player {
	struct pingpong *pp;
	int me;
};

static int play(void *arg)
{
	struct player *p = arg;
	struct pingpong *pp = p->pp;

	for (int i = 0; i < pp->rounds; i++) {
		cvmbus_mutex_lock(&pp->lock);
		while (pp->turn != p->me)
			cvmbus_cond_wait(&pp->cond, &pp->lock);
		if (pp->n < 64)
			pp->log[pp->n] = p->me;
		pp->n++;
		pp->turn = !p->me;
		cvmbus_cond_broadcast(&pp->cond);
		cvmbus_mutex_unlock(&pp->lock);
	}
	return 0;
}

static void test_cond_pingpong(void **state)
{
	struct cvmbus_exec *exec = new_native();
	struct pingpong pp = { .rounds = 2000 };
	struct player a = { &pp, 0 }, b = { &pp, 1 };
	struct cvmbus_thread *ta, *tb;

	cvmbus_mutex_init(&pp.lock, exec, "pp");
	cvmbus_cond_init(&pp.cond, exec, "pp");
	assert_int_equal(cvmbus_thread_spawn(exec, &tb, "pong", play, &b), 0);
	assert_int_equal(cvmbus_thread_spawn(exec, &ta, "ping", play, &a), 0);
	assert_int_equal(cvmbus_thread_join(ta, NULL), 0);
	assert_int_equal(cvmbus_thread_join(tb, NULL), 0);
	assert_int_equal(pp.n, 4000);
	for (int i = 0; i < 64; i++)
		assert_int_equal(pp.log[i], i % 2);
	cvmbus_cond_destroy(&pp.cond);
	cvmbus_mutex_destroy(&pp.lock);
	cvmbus_exec_destroy(exec);
}

/* ---- completion -------------------------------------------------------- */

struct waiter {
	struct cvmbus_completion *c;
	uint64_t timeout;
	int result;
};

static int wait_body(void *arg)
{
	struct waiter *w = arg;

	w->result = cvmbus_completion_wait(w->c, w->timeout);
	return 0;
}

static void test_completion_counting(void **state)
{
	struct cvmbus_exec *exec = new_native();
	struct cvmbus_completion c;
	struct waiter w[3];
	struct cvmbus_thread *t[3];

	cvmbus_completion_init(&c, exec, "c");
	for (int i = 0; i < 3; i++) {
		w[i] = (struct waiter){ &c, CVMBUS_EXEC_FOREVER, 1 };
		assert_int_equal(cvmbus_thread_spawn(exec, &t[i], "waiter", wait_body, &w[i]), 0);
	}
	/* Three completions let exactly three waits through, whoever comes
	 * first; none is left over. */
	for (int i = 0; i < 3; i++)
		cvmbus_completion_complete(&c);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cvmbus_thread_join(t[i], NULL), 0);
		assert_int_equal(w[i].result, 0);
	}
	assert_int_equal(cvmbus_completion_try(&c), -EAGAIN);
	cvmbus_completion_complete(&c);
	assert_int_equal(cvmbus_completion_try(&c), 0);
	assert_int_equal(cvmbus_completion_try(&c), -EAGAIN);
	cvmbus_completion_destroy(&c);
	cvmbus_exec_destroy(exec);
}

static void test_completion_all_and_reset(void **state)
{
	struct cvmbus_exec *exec = new_native();
	struct cvmbus_completion c;
	struct waiter w[4];
	struct cvmbus_thread *t[4];

	cvmbus_completion_init(&c, exec, "c");
	for (int i = 0; i < 4; i++) {
		w[i] = (struct waiter){ &c, CVMBUS_EXEC_FOREVER, 1 };
		assert_int_equal(cvmbus_thread_spawn(exec, &t[i], "waiter", wait_body, &w[i]), 0);
	}
	cvmbus_completion_complete_all(&c);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(cvmbus_thread_join(t[i], NULL), 0);
		assert_int_equal(w[i].result, 0);
	}
	/* complete_all stays done for later waiters ... */
	assert_int_equal(cvmbus_completion_wait(&c, 0), 0);
	assert_int_equal(cvmbus_completion_wait(&c, 0), 0);
	/* ... until reset. */
	cvmbus_completion_reset(&c);
	assert_int_equal(cvmbus_completion_try(&c), -EAGAIN);
	cvmbus_completion_destroy(&c);
	cvmbus_exec_destroy(exec);
}

/* ---- bounded waits --------------------------------------------------------- */

static void test_timeouts(void **state)
{
	struct cvmbus_exec *exec = new_native();
	struct cvmbus_mutex m;
	struct cvmbus_cond cv;
	struct cvmbus_completion c;
	struct cvmbus_doorbell d;
	uint64_t start, deadline, fired = 99;

	cvmbus_mutex_init(&m, exec, "m");
	cvmbus_cond_init(&cv, exec, "cv");
	cvmbus_completion_init(&c, exec, "c");
	cvmbus_doorbell_init(&d, exec, "d");

	deadline = cvmbus_exec_deadline(exec, 20 * MS);
	cvmbus_mutex_lock(&m);
	/* Nobody signals: only the deadline can end this (a spurious wake-up
	 * returns 0 early, so loop as callers must). */
	while (cvmbus_cond_wait_until(&cv, &m, deadline) != -ETIMEDOUT)
		;
	assert_true(cvmbus_exec_now_ns(exec) >= deadline);
	cvmbus_mutex_unlock(&m);

	start = cvmbus_exec_now_ns(exec);
	assert_int_equal(cvmbus_completion_wait(&c, 10 * MS), -ETIMEDOUT);
	assert_true(cvmbus_exec_now_ns(exec) - start >= 10 * MS);

	start = cvmbus_exec_now_ns(exec);
	assert_int_equal(cvmbus_doorbell_wait(&d, 1, 10 * MS, &fired), -ETIMEDOUT);
	assert_int_equal(fired, 0);
	assert_true(cvmbus_exec_now_ns(exec) - start >= 10 * MS);
	/* A zero timeout polls. */
	assert_int_equal(cvmbus_completion_wait(&c, 0), -ETIMEDOUT);
	assert_int_equal(cvmbus_doorbell_wait(&d, 0, 0, &fired), -EINVAL);

	start = cvmbus_exec_now_ns(exec);
	cvmbus_exec_sleep_ns(exec, 5 * MS);
	assert_true(cvmbus_exec_now_ns(exec) - start >= 5 * MS);

	cvmbus_doorbell_destroy(&d);
	cvmbus_completion_destroy(&c);
	cvmbus_cond_destroy(&cv);
	cvmbus_mutex_destroy(&m);
	cvmbus_exec_destroy(exec);
}

/* ---- timers ------------------------------------------------------------------ */

struct tick {
	struct cvmbus_timer timer;
	struct cvmbus_mutex *lock;
	int *order;
	int *n;
	int tag;
	uint64_t due;
	uint64_t fired_at;
	int rearm; /* fire again this many times */
	struct cvmbus_completion *done;
};

static void tick_fn(struct cvmbus_timer *t, void *arg)
{
	struct tick *k = arg;
	struct cvmbus_exec *exec = t->exec;

	assert_ptr_equal(&k->timer, t);
	assert_string_equal(cvmbus_exec_thread_name(), "timer");
	k->fired_at = cvmbus_exec_now_ns(exec);
	cvmbus_mutex_lock(k->lock);
	k->order[(*k->n)++] = k->tag;
	cvmbus_mutex_unlock(k->lock);
	if (k->rearm > 0) {
		k->rearm--;
		k->due = cvmbus_exec_deadline(exec, 1 * MS);
		assert_int_equal(cvmbus_timer_arm_at(t, k->due), 0);
		return;
	}
	cvmbus_completion_complete(k->done);
}

static void gate_fn(struct cvmbus_timer *t, void *arg)
{
	/* Hold the timer thread until the test opens the gate: by then every
	 * other timer is due, so the firing order depends only on deadlines,
	 * not on how promptly this machine schedules the timer thread. */
	assert_int_equal(cvmbus_completion_wait(arg, CVMBUS_EXEC_FOREVER), 0);
}

static void test_timers_order_and_cancel(void **state)
{
	struct cvmbus_exec *exec = new_native();
	struct cvmbus_mutex lock;
	struct cvmbus_completion done, gate;
	struct cvmbus_timer blocker;
	int order[16], n = 0;
	struct tick k[4];
	const uint64_t delay[4] = { 30 * MS, 10 * MS, 20 * MS, 25 * MS };
	uint64_t start;

	cvmbus_mutex_init(&lock, exec, "order");
	cvmbus_completion_init(&done, exec, "done");
	cvmbus_completion_init(&gate, exec, "gate");
	cvmbus_timer_init(&blocker, exec, gate_fn, &gate);
	for (int i = 0; i < 4; i++) {
		k[i] = (struct tick){ .lock = &lock, .order = order, .n = &n,
				      .tag = i, .done = &done };
		cvmbus_timer_init(&k[i].timer, exec, tick_fn, &k[i]);
	}
	k[1].rearm = 2; /* the 10 ms one re-arms itself twice, 1 ms later */
	start = cvmbus_exec_now_ns(exec);
	assert_int_equal(cvmbus_timer_arm(&blocker, 1 * MS), 0);
	for (int i = 0; i < 4; i++) {
		k[i].due = start + delay[i];
		assert_int_equal(cvmbus_timer_arm_at(&k[i].timer, k[i].due), 0);
	}
	assert_true(cvmbus_timer_armed(&k[3].timer));
	assert_int_equal(cvmbus_timer_cancel(&k[3].timer), 0);
	assert_int_equal(cvmbus_timer_cancel(&k[3].timer), -ENOENT);
	assert_false(cvmbus_timer_armed(&k[3].timer));

	while (cvmbus_exec_now_ns(exec) < start + 31 * MS)
		cvmbus_exec_sleep_ns(exec, 5 * MS);
	cvmbus_completion_complete(&gate);
	for (int i = 0; i < 3; i++)
		assert_int_equal(cvmbus_completion_wait(&done, CVMBUS_EXEC_FOREVER), 0);
	/* Deadline order, not arming order: 10, 20, 30 ms; the 10 ms timer's
	 * re-arms come due 1 ms after it ran, i.e. after the others. */
	assert_int_equal(n, 5);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 0);
	assert_int_equal(order[3], 1);
	assert_int_equal(order[4], 1);
	for (int i = 0; i < 3; i++)
		assert_true(k[i].fired_at >= k[i].due); /* never early */
	assert_int_equal(k[3].fired_at, 0);        /* the cancelled one */
	/* Everything fired: the timer thread leaves on its own; destroy
	 * reaps it. */
	cvmbus_completion_destroy(&gate);
	cvmbus_completion_destroy(&done);
	cvmbus_mutex_destroy(&lock);
	cvmbus_exec_destroy(exec);
}

static void test_destroy_with_armed_timer(void **state)
{
	struct cvmbus_exec *exec = new_native();
	struct cvmbus_mutex lock;
	struct cvmbus_completion done;
	int order[4], n = 0;
	struct tick k = { .lock = &lock, .order = order, .n = &n, .done = &done };

	cvmbus_mutex_init(&lock, exec, "order");
	cvmbus_completion_init(&done, exec, "done");
	cvmbus_timer_init(&k.timer, exec, tick_fn, &k);
	assert_int_equal(cvmbus_timer_arm(&k.timer, 3600ull * 1000 * MS), 0);
	/* An hour-long timer must not hold destroy up. */
	cvmbus_completion_destroy(&done);
	cvmbus_mutex_destroy(&lock);
	cvmbus_exec_destroy(exec);
	assert_int_equal(n, 0);
}

/* ---- doorbell: many ringers, one waiter, wait-any ------------------------- */

#define RINGS 300

struct bell_test {
	struct cvmbus_doorbell bell;
	struct cvmbus_completion ack[3];
	uint64_t seen[3];
};

struct ringer {
	struct bell_test *bt;
	int bit;
};

static int ring_body(void *arg)
{
	struct ringer *r = arg;

	/* Ring, then wait to be acknowledged, so that no ring coalesces with
	 * the previous one and the waiter can count exactly. */
	for (int i = 0; i < RINGS; i++) {
		cvmbus_doorbell_ring(&r->bt->bell, 1ull << r->bit);
		assert_int_equal(cvmbus_completion_wait(&r->bt->ack[r->bit],
							CVMBUS_EXEC_FOREVER), 0);
	}
	return 0;
}

static void test_doorbell_many_ringers(void **state)
{
	struct cvmbus_exec *exec = new_native();
	struct bell_test bt;
	struct ringer r[3];
	struct cvmbus_thread *t[3];
	uint64_t fired, total = 0;

	memset(&bt, 0, sizeof(bt));
	cvmbus_doorbell_init(&bt.bell, exec, "vcpu0");
	for (int i = 0; i < 3; i++) {
		cvmbus_completion_init(&bt.ack[i], exec, "ack");
		r[i] = (struct ringer){ &bt, i };
		assert_int_equal(cvmbus_thread_spawn(exec, &t[i], "ringer", ring_body, &r[i]), 0);
	}
	while (total < 3 * RINGS) {
		assert_int_equal(cvmbus_doorbell_wait(&bt.bell, 0x7, CVMBUS_EXEC_FOREVER,
						      &fired), 0);
		assert_int_not_equal(fired, 0);
		assert_int_equal(fired & ~0x7ull, 0);
		for (int i = 0; i < 3; i++) {
			if (fired & (1ull << i)) {
				bt.seen[i]++;
				total++;
				cvmbus_completion_complete(&bt.ack[i]);
			}
		}
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cvmbus_thread_join(t[i], NULL), 0);
		assert_int_equal(bt.seen[i], RINGS);
		cvmbus_completion_destroy(&bt.ack[i]);
	}
	cvmbus_doorbell_destroy(&bt.bell);
	cvmbus_exec_destroy(exec);
}

static int ring_stop(void *arg)
{
	struct cvmbus_doorbell *d = arg;

	cvmbus_doorbell_ring(d, 1u << 1);
	return 0;
}

static void test_doorbell_mask(void **state)
{
	struct cvmbus_exec *exec = new_native();
	struct cvmbus_doorbell d;
	struct cvmbus_thread *t;
	uint64_t fired = 0;

	cvmbus_doorbell_init(&d, exec, "vcpu1");
	/* Bit 2 is pending but outside the mask: it must neither satisfy the
	 * wait nor be consumed by it. */
	cvmbus_doorbell_ring(&d, 1u << 2);
	assert_int_equal(cvmbus_thread_spawn(exec, &t, "stopper", ring_stop, &d), 0);
	assert_int_equal(cvmbus_doorbell_wait(&d, 0x3, CVMBUS_EXEC_FOREVER, &fired), 0);
	assert_int_equal(fired, 1u << 1);
	assert_int_equal(cvmbus_thread_join(t, NULL), 0);
	assert_int_equal(cvmbus_doorbell_take(&d, ~0ull), 1u << 2);
	assert_int_equal(cvmbus_doorbell_take(&d, ~0ull), 0);
	/* Re-ringing a pending bit coalesces. */
	cvmbus_doorbell_ring(&d, 1);
	cvmbus_doorbell_ring(&d, 1);
	cvmbus_doorbell_ring(&d, 0);
	assert_int_equal(cvmbus_doorbell_wait(&d, 1, 0, &fired), 0);
	assert_int_equal(fired, 1);
	assert_int_equal(cvmbus_doorbell_wait(&d, 1, 0, &fired), -ETIMEDOUT);
	cvmbus_doorbell_destroy(&d);
	cvmbus_exec_destroy(exec);
}

/* ---- identity and runs ---------------------------------------------------------- */

struct ident {
	struct cvmbus_exec *exec;
	char name[CVMBUS_THREAD_NAME_MAX];
	uint32_t id;
	struct cvmbus_thread *self;
	struct cvmbus_exec *current;
};

static int ident_body(void *arg)
{
	struct ident *id = arg;

	strcpy(id->name, cvmbus_exec_thread_name());
	id->id = cvmbus_exec_thread_id();
	id->self = cvmbus_thread_self();
	id->current = cvmbus_exec_current();
	return 0;
}

static void test_identity(void **state)
{
	struct cvmbus_exec *exec = new_native();
	struct ident id = { 0 };
	struct cvmbus_thread *t;
	uint32_t tid;

	/* The test's own thread was not started by an executor. */
	assert_int_equal(cvmbus_exec_thread_id(), 0);
	assert_string_equal(cvmbus_exec_thread_name(), "-");
	assert_null(cvmbus_thread_self());
	assert_null(cvmbus_exec_current());

	assert_int_equal(cvmbus_thread_spawn(exec, &t,
		"a-very-long-thread-name-that-will-be-cut-short", ident_body, &id), 0);
	tid = cvmbus_thread_id(t);
	assert_int_equal(cvmbus_thread_join(t, NULL), 0);
	assert_int_not_equal(tid, 0);
	assert_int_equal(id.id, tid);
	assert_ptr_equal(id.self, t);
	assert_ptr_equal(id.current, exec);
	assert_int_equal(strlen(id.name), CVMBUS_THREAD_NAME_MAX - 1);
	assert_memory_equal(id.name, "a-very-long-thread-name-that-wi", 31);
	cvmbus_exec_destroy(exec);
}

struct run_ctx {
	struct cvmbus_exec *exec;
	int leftover_ran;
	int nested;
};

static int leftover(void *arg)
{
	struct run_ctx *r = arg;

	cvmbus_exec_sleep_ns(r->exec, 20 * MS);
	r->leftover_ran = 1;
	return 0;
}

static int run_main(void *arg)
{
	struct run_ctx *r = arg;
	struct cvmbus_thread *t;

	assert_string_equal(cvmbus_exec_thread_name(), "main");
	r->nested = cvmbus_exec_run(r->exec, run_main, r, NULL);
	/* Not joined: the run still waits for it, then reaps it. */
	assert_int_equal(cvmbus_thread_spawn(r->exec, &t, "leftover", leftover, r), 0);
	return 42;
}

static void test_run(void **state)
{
	struct cvmbus_exec *exec = new_native();
	struct run_ctx r = { .exec = exec };
	int ret = 0;

	assert_int_equal(cvmbus_exec_run(exec, run_main, &r, &ret), 0);
	assert_int_equal(ret, 42);
	assert_int_equal(r.leftover_ran, 1);
	assert_int_equal(r.nested, -EBUSY);
	assert_int_equal(cvmbus_exec_det_run(exec, run_main, &r), -EINVAL);
	/* An executor can run again. */
	r.leftover_ran = 0;
	assert_int_equal(cvmbus_exec_run(exec, run_main, &r, &ret), 0);
	assert_int_equal(r.leftover_ran, 1);
	cvmbus_exec_destroy(exec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutex_counter),
		cmocka_unit_test(test_trylock),
		cmocka_unit_test(test_cond_pingpong),
		cmocka_unit_test(test_completion_counting),
		cmocka_unit_test(test_completion_all_and_reset),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_timers_order_and_cancel),
		cmocka_unit_test(test_destroy_with_armed_timer),
		cmocka_unit_test(test_doorbell_many_ringers),
		cmocka_unit_test(test_doorbell_mask),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
