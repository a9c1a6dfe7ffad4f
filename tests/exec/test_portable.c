/* SPDX-License-Identifier: MIT */
/*
 * One program, two executors: a small system written once against
 * cvmbus/exec.h -- two producers feeding a bounded queue (mutex + two
 * condition variables), a consumer woken through a doorbell with a "data"
 * and a "stop" reason, a watchdog timer, a completion for start-up -- runs
 * on the native executor and on the deterministic one under many seeds, and
 * must compute the same result everywhere. This is the property every party
 * of cvmbus relies on: nothing in it knows which executor it runs on.
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

#define QCAP      4
#define PER_PROD  200
#define DB_DATA   (1ull << 0)
#define DB_STOP   (1ull << 1)

struct sys {
	struct cvmbus_exec *exec;
	struct cvmbus_mutex qlock;
	struct cvmbus_cond not_full, not_empty;
	uint32_t q[QCAP];
	unsigned head, len;
	struct cvmbus_doorbell bell;    /* the consumer's */
	struct cvmbus_completion ready; /* consumer is up */
	struct cvmbus_timer watchdog;
	int watchdog_fired;
	/* Results. */
	uint64_t sum, sumsq, count;
	uint32_t xor_pos;               /* order-insensitive fingerprint */
};

struct prod {
	struct sys *s;
	uint32_t base;
};

static int producer(void *arg)
{
	struct prod *p = arg;
	struct sys *s = p->s;

	if (cvmbus_completion_wait(&s->ready, CVMBUS_EXEC_FOREVER))
		return -1;
	for (uint32_t i = 0; i < PER_PROD; i++) {
		cvmbus_mutex_lock(&s->qlock);
		while (s->len == QCAP)
			cvmbus_cond_wait(&s->not_full, &s->qlock);
		s->q[(s->head + s->len++) % QCAP] = p->base + i;
		cvmbus_cond_signal(&s->not_empty);
		cvmbus_mutex_unlock(&s->qlock);
		cvmbus_doorbell_ring(&s->bell, DB_DATA);
		if (i % 16 == 0)
			cvmbus_exec_yield(s->exec);
	}
	return 0;
}

static int consumer(void *arg)
{
	struct sys *s = arg;
	uint64_t fired;
	bool stop = false;

	cvmbus_completion_complete_all(&s->ready);
	for (;;) {
		/* Drain whatever is queued, then sleep on the doorbell. */
		cvmbus_mutex_lock(&s->qlock);
		while (s->len) {
			uint32_t v = s->q[s->head];

			s->head = (s->head + 1) % QCAP;
			s->len--;
			s->sum += v;
			s->sumsq += (uint64_t)v * v;
			s->xor_pos ^= v * 2654435761u;
			s->count++;
			cvmbus_cond_signal(&s->not_full);
		}
		cvmbus_mutex_unlock(&s->qlock);
		if (stop)
			break;
		if (cvmbus_doorbell_wait(&s->bell, DB_DATA | DB_STOP,
					 CVMBUS_EXEC_FOREVER, &fired))
			return -1;
		/* Drain once more after stop: data rung before it is queued. */
		stop = (fired & DB_STOP) != 0;
	}
	return 0;
}

static void watchdog_fn(struct cvmbus_timer *t, void *arg)
{
	struct sys *s = arg;

	s->watchdog_fired = 1;
}

static int sys_main(void *arg)
{
	struct sys *s = arg;
	struct prod p[2] = { { s, 1000 }, { s, 50000 } };
	struct cvmbus_thread *c, *pt[2];
	int ret = 0;

	/* An hour-long watchdog that must never fire: cancelled at the end.
	 * Under det it would otherwise keep the run alive for an hour of
	 * virtual time (and fail the 60 s deadline). */
	if (cvmbus_timer_arm(&s->watchdog, 3600000 * MS))
		return -1;
	if (cvmbus_thread_spawn(s->exec, &c, "consumer", consumer, s))
		return -1;
	for (int i = 0; i < 2; i++)
		if (cvmbus_thread_spawn(s->exec, &pt[i], "producer", producer, &p[i]))
			return -1;
	for (int i = 0; i < 2; i++) {
		cvmbus_thread_join(pt[i], &ret);
		if (ret)
			return -2;
	}
	cvmbus_doorbell_ring(&s->bell, DB_STOP);
	cvmbus_thread_join(c, &ret);
	if (cvmbus_timer_cancel(&s->watchdog) != 0)
		return -3;
	return ret;
}

struct outcome {
	uint64_t sum, sumsq, count;
	uint32_t xor_pos;
	int watchdog_fired;
};

static void run_sys(struct cvmbus_exec *exec, struct outcome *o)
{
	struct sys s;
	int ret = -99;

	memset(&s, 0, sizeof(s));
	s.exec = exec;
	cvmbus_mutex_init(&s.qlock, exec, "queue");
	cvmbus_cond_init(&s.not_full, exec, "not full");
	cvmbus_cond_init(&s.not_empty, exec, "not empty");
	cvmbus_doorbell_init(&s.bell, exec, "consumer");
	cvmbus_completion_init(&s.ready, exec, "ready");
	cvmbus_timer_init(&s.watchdog, exec, watchdog_fn, &s);
	assert_int_equal(cvmbus_exec_run(exec, sys_main, &s, &ret), 0);
	assert_int_equal(ret, 0);
	o->sum = s.sum;
	o->sumsq = s.sumsq;
	o->count = s.count;
	o->xor_pos = s.xor_pos;
	o->watchdog_fired = s.watchdog_fired;
	cvmbus_completion_destroy(&s.ready);
	cvmbus_doorbell_destroy(&s.bell);
	cvmbus_cond_destroy(&s.not_empty);
	cvmbus_cond_destroy(&s.not_full);
	cvmbus_mutex_destroy(&s.qlock);
}

static void test_same_result_on_both_executors(void **state)
{
	struct cvmbus_exec *exec;
	struct outcome native, det;
	uint64_t expect_sum = 0, expect_sq = 0;
	uint32_t expect_xor = 0;

	/* The expected values come from the inputs alone. */
	for (uint32_t base = 1000; base <= 50000; base += 49000)
		for (uint32_t i = 0; i < PER_PROD; i++) {
			uint32_t v = base + i;

			expect_sum += v;
			expect_sq += (uint64_t)v * v;
			expect_xor ^= v * 2654435761u;
		}

	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	run_sys(exec, &native);
	cvmbus_exec_destroy(exec);
	assert_int_equal(native.count, 2 * PER_PROD);
	assert_int_equal(native.sum, expect_sum);
	assert_int_equal(native.sumsq, expect_sq);
	assert_int_equal(native.xor_pos, expect_xor);
	assert_int_equal(native.watchdog_fired, 0);

	for (uint64_t seed = 0; seed < 20; seed++) {
		struct cvmbus_exec_det_opts o = { .seed = seed };

		assert_int_equal(cvmbus_exec_det_create(&exec, &o), 0);
		run_sys(exec, &det);
		assert_memory_equal(&det, &native, sizeof(det));
		/* The whole run took no virtual time: nobody slept, and the
		 * watchdog was cancelled before it could move the clock. */
		assert_int_equal(cvmbus_exec_now_ns(exec), 0);
		cvmbus_exec_destroy(exec);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_result_on_both_executors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
