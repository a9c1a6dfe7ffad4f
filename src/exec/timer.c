/* SPDX-License-Identifier: MIT */
/*
 * One-shot timers for both executors, written once against the public
 * primitives: a sorted list of armed timers and one "timer" thread per
 * executor that sleeps on a condition variable until the earliest deadline
 * and runs due callbacks with no lock held. Under det that thread is an
 * ordinary run thread and its timed wait is what makes virtual time jump to
 * a timer's deadline, so timers are deterministic with no code of their own.
 * The thread exists only while a timer is armed: an idle executor has no
 * thread that would keep a det run from ending (or be reported as blocked).
 * Part of src/exec; users are the hypervisor model's synthetic timers,
 * protocol timeouts and watchdogs in the layers above.
 */
#include <errno.h>
#include <stddef.h>

#include "exec/exec_internal.h"

void exec_timers_init(struct cvmbus_exec *exec)
{
	struct exec_timers *ts = &exec->timers;

	cvmbus_mutex_init(&ts->lock, exec, "timers");
	cvmbus_cond_init(&ts->cond, exec, "timer queue");
	cvmbus_cond_init(&ts->idle, exec, "timer callback");
	ts->head = NULL;
	ts->running = NULL;
	ts->thread = NULL;
	ts->live = false;
	ts->seq = 0;
}

void exec_timers_destroy(struct cvmbus_exec *exec)
{
	struct exec_timers *ts = &exec->timers;

	cvmbus_cond_destroy(&ts->idle);
	cvmbus_cond_destroy(&ts->cond);
	cvmbus_mutex_destroy(&ts->lock);
}

/* Disarm every timer (ts->lock held). */
static void timers_clear(struct exec_timers *ts)
{
	struct cvmbus_timer *t;

	while ((t = ts->head) != NULL) {
		ts->head = t->next;
		t->next = NULL;
		t->armed = false;
	}
}

void exec_timers_stop(struct cvmbus_exec *exec)
{
	struct exec_timers *ts = &exec->timers;
	struct cvmbus_thread *thread;

	/* Under det every timer thread lived and died inside a run, which
	 * already reaped it; only a native executor can have one running. */
	if (cvmbus_exec_kind(exec) != CVMBUS_EXEC_NATIVE)
		return;
	cvmbus_mutex_lock(&ts->lock);
	timers_clear(ts);
	cvmbus_cond_signal(&ts->cond);
	thread = ts->thread;
	ts->thread = NULL;
	cvmbus_mutex_unlock(&ts->lock);
	/* With an empty list the thread leaves its loop (after a callback in
	 * progress returns). */
	if (thread)
		cvmbus_thread_join(thread, NULL);
}

void exec_timers_after_run(struct cvmbus_exec *exec, bool failed)
{
	struct exec_timers *ts = &exec->timers;

	/* The run freed every thread record, the timer thread's included. No
	 * executor thread exists now, so no locking is needed (or possible:
	 * under det a failed run can leave the lock "held" by a dead thread). */
	ts->thread = NULL;
	ts->live = false;
	ts->running = NULL;
	if (failed) {
		timers_clear(ts);
		cvmbus_mutex_init(&ts->lock, exec, "timers");
	}
}

static int timer_thread(void *arg)
{
	struct cvmbus_exec *exec = arg;
	struct exec_timers *ts = &exec->timers;
	struct cvmbus_timer *t;
	cvmbus_timer_fn fn;
	void *fn_arg;

	cvmbus_mutex_lock(&ts->lock);
	while ((t = ts->head) != NULL) {
		if (t->deadline_ns > cvmbus_exec_now_ns(exec)) {
			/* Woken early by a new earliest timer or a cancel; either
			 * way, look at the head again. */
			(void)cvmbus_cond_wait_until(&ts->cond, &ts->lock,
						     t->deadline_ns);
			continue;
		}
		ts->head = t->next;
		t->next = NULL;
		t->armed = false;
		ts->running = t;
		fn = t->fn;
		fn_arg = t->arg;
		cvmbus_mutex_unlock(&ts->lock);
		/* No lock held: the callback may arm timers, and may free t. */
		fn(t, fn_arg);
		cvmbus_mutex_lock(&ts->lock);
		ts->running = NULL;
		cvmbus_cond_broadcast(&ts->idle);
	}
	/* Nothing armed: leave. The next arm joins this thread and starts a
	 * new one, so an idle executor holds no thread. */
	ts->live = false;
	cvmbus_mutex_unlock(&ts->lock);
	return 0;
}

static void timers_unlink(struct exec_timers *ts, struct cvmbus_timer *t)
{
	for (struct cvmbus_timer **pp = &ts->head; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			t->next = NULL;
			return;
		}
	}
}

void cvmbus_timer_init(struct cvmbus_timer *t, struct cvmbus_exec *exec,
		       cvmbus_timer_fn fn, void *arg)
{
	t->exec = exec;
	t->fn = fn;
	t->arg = arg;
	t->deadline_ns = CVMBUS_EXEC_FOREVER;
	t->seq = 0;
	t->next = NULL;
	t->armed = false;
}

int cvmbus_timer_arm_at(struct cvmbus_timer *t, uint64_t deadline_ns)
{
	struct cvmbus_exec *exec = t->exec;
	struct exec_timers *ts = &exec->timers;
	struct cvmbus_timer **pp;
	int err = 0;

	cvmbus_mutex_lock(&ts->lock);
	if (t->armed)
		timers_unlink(ts, t);
	t->deadline_ns = deadline_ns;
	t->seq = ++ts->seq;
	/* Sorted by deadline, then by arming order, so that simultaneous
	 * timers fire in a defined order (det replays need one). */
	for (pp = &ts->head; *pp; pp = &(*pp)->next)
		if ((*pp)->deadline_ns > deadline_ns)
			break;
	t->next = *pp;
	*pp = t;
	t->armed = true;
	if (!ts->live) {
		/* The previous timer thread left its loop; reap it before
		 * starting the next. It needs no lock to finish, so joining
		 * with ts->lock held is safe. */
		if (ts->thread) {
			cvmbus_thread_join(ts->thread, NULL);
			ts->thread = NULL;
		}
		err = cvmbus_thread_spawn(exec, &ts->thread, "timer", timer_thread,
					  exec);
		if (err) {
			timers_unlink(ts, t);
			t->armed = false;
			goto out;
		}
		ts->live = true;
	} else if (ts->head == t) {
		cvmbus_cond_signal(&ts->cond);
	}
out:
	cvmbus_mutex_unlock(&ts->lock);
	return err;
}

int cvmbus_timer_arm(struct cvmbus_timer *t, uint64_t delay_ns)
{
	return cvmbus_timer_arm_at(t, cvmbus_exec_deadline(t->exec, delay_ns));
}

int cvmbus_timer_cancel(struct cvmbus_timer *t)
{
	struct exec_timers *ts = &t->exec->timers;
	int err = -ENOENT;

	cvmbus_mutex_lock(&ts->lock);
	if (t->armed) {
		timers_unlink(ts, t);
		t->armed = false;
		err = 0;
		/* The timer thread may be waiting for this very deadline; let
		 * it re-read the head (and leave if nothing is armed). */
		cvmbus_cond_signal(&ts->cond);
	}
	/* Wait out a callback in progress, unless we are that callback:
	 * afterwards the caller may free t. */
	while (ts->running == t && cvmbus_thread_self() != ts->thread)
		cvmbus_cond_wait(&ts->idle, &ts->lock);
	cvmbus_mutex_unlock(&ts->lock);
	return err;
}

bool cvmbus_timer_armed(struct cvmbus_timer *t)
{
	struct exec_timers *ts = &t->exec->timers;
	bool armed;

	cvmbus_mutex_lock(&ts->lock);
	armed = t->armed;
	cvmbus_mutex_unlock(&ts->lock);
	return armed;
}
