/* SPDX-License-Identifier: MIT */
/*
 * The native executor: each cvmbus primitive is the pthread one (mutexes,
 * condition variables on CLOCK_MONOTONIC, clock_nanosleep), so parties run
 * truly in parallel in real time. This is what the `cvmbus` tool and the
 * benchmarks use; the deterministic executor (det.c) is its stand-in for
 * reproducible tests. Part of src/exec, under the layers that wait.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/exec_internal.h"

struct native_exec {
	uint64_t base_ns;     /* CLOCK_MONOTONIC at creation: executor time 0 */
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t idle;  /* live dropped to 0 */
	struct cvmbus_thread *threads; /* not yet joined */
	uint32_t live;        /* started and not yet returned from their fn */
	uint32_t next_id;
	bool running;         /* inside cvmbus_exec_run() */
};

static struct native_exec *native_of(const struct cvmbus_exec *exec)
{
	return exec->impl;
}

static uint64_t native_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timespec native_ts(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000u),
		.tv_nsec = (long)(ns % 1000000000u),
	};
	return ts;
}

/* pthread calls that cannot fail on Linux with valid arguments; a failure is
 * a corrupted object, which is a programming error. */
static void native_check(int err, const char *what)
{
	if (err)
		exec_die("%s: %s", what, strerror(err));
}

int exec_native_init(struct cvmbus_exec *exec)
{
	struct native_exec *n = calloc(1, sizeof(*n));
	pthread_condattr_t attr;

	if (!n)
		return -ENOMEM;
	n->base_ns = native_mono_ns();
	native_check(pthread_mutex_init(&n->lock, NULL), "mutex init");
	native_check(pthread_condattr_init(&attr), "condattr init");
	native_check(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), "setclock");
	native_check(pthread_cond_init(&n->idle, &attr), "cond init");
	pthread_condattr_destroy(&attr);
	exec->impl = n;
	return 0;
}

static void native_destroy(struct cvmbus_exec *exec)
{
	struct native_exec *n = native_of(exec);

	pthread_cond_destroy(&n->idle);
	pthread_mutex_destroy(&n->lock);
	free(n);
	exec->impl = NULL;
}

static uint64_t native_now(const struct cvmbus_exec *exec)
{
	return native_mono_ns() - native_of(exec)->base_ns;
}

static void native_sleep(struct cvmbus_exec *exec, uint64_t ns)
{
	/* An absolute target, so that a signal interrupting the sleep does not
	 * stretch it when we go back to sleep. */
	struct timespec until = native_ts(exec_sat_add(native_mono_ns(), ns));

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
}

static void native_yield(struct cvmbus_exec *exec)
{
	sched_yield();
}

static void native_point(struct cvmbus_exec *exec)
{
	/* Real threads interleave on their own; a marker costs nothing. */
}

static void native_unlink(struct native_exec *n, struct cvmbus_thread *t)
{
	struct cvmbus_thread **pp;

	for (pp = &n->threads; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			return;
		}
	}
}

static void *native_trampoline(void *p)
{
	struct cvmbus_thread *t = p;
	struct native_exec *n = native_of(t->exec);
	char comm[16];

	exec_tls_self = t;
	/* The kernel keeps 15 characters; enough to tell vcpu0 from host in
	 * gdb and top. */
	memcpy(comm, t->name, sizeof(comm) - 1);
	comm[sizeof(comm) - 1] = '\0';
	pthread_setname_np(pthread_self(), comm);
	t->ret = t->fn(t->arg);
	exec_tls_self = NULL;

	pthread_mutex_lock(&n->lock);
	t->state = EXEC_T_EXITED;
	if (--n->live == 0)
		pthread_cond_broadcast(&n->idle);
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

static int native_spawn(struct cvmbus_exec *exec, struct cvmbus_thread *t)
{
	struct native_exec *n = native_of(exec);
	int err;

	pthread_mutex_lock(&n->lock);
	t->id = ++n->next_id;
	t->next = n->threads;
	n->threads = t;
	n->live++;
	/* Created under the lock so that a concurrent run end cannot see the
	 * thread counted as live but not yet started. */
	err = pthread_create(&t->pt, NULL, native_trampoline, t);
	if (err) {
		native_unlink(n, t);
		if (--n->live == 0)
			pthread_cond_broadcast(&n->idle);
	}
	pthread_mutex_unlock(&n->lock);
	if (err) {
		free(t);
		return -EAGAIN;
	}
	return 0;
}

static int native_join(struct cvmbus_thread *t, int *ret)
{
	struct native_exec *n = native_of(t->exec);

	native_check(pthread_join(t->pt, NULL), "join");
	pthread_mutex_lock(&n->lock);
	native_unlink(n, t);
	pthread_mutex_unlock(&n->lock);
	if (ret)
		*ret = t->ret;
	free(t);
	return 0;
}

static int native_run(struct cvmbus_exec *exec, cvmbus_thread_fn fn, void *arg,
		      int *main_ret)
{
	struct native_exec *n = native_of(exec);
	struct cvmbus_thread *main_thread, *t, *left;
	int err, ret = 0;

	pthread_mutex_lock(&n->lock);
	if (n->running) {
		pthread_mutex_unlock(&n->lock);
		return -EBUSY;
	}
	n->running = true;
	pthread_mutex_unlock(&n->lock);

	err = cvmbus_thread_spawn(exec, &main_thread, "main", fn, arg);
	if (err)
		goto out;
	native_join(main_thread, &ret);
	if (main_ret)
		*main_ret = ret;

	/* As under det, a run ends when every thread has, not only main. */
	pthread_mutex_lock(&n->lock);
	while (n->live)
		pthread_cond_wait(&n->idle, &n->lock);
	left = n->threads;
	n->threads = NULL;
	pthread_mutex_unlock(&n->lock);
	while (left) {
		t = left;
		left = t->next;
		native_check(pthread_join(t->pt, NULL), "join");
		free(t);
	}
	exec_timers_after_run(exec, false);
out:
	pthread_mutex_lock(&n->lock);
	n->running = false;
	pthread_mutex_unlock(&n->lock);
	return err;
}

static void native_mutex_init(struct cvmbus_mutex *m)
{
	native_check(pthread_mutex_init(&m->u.native, NULL), "mutex init");
}

static void native_mutex_destroy(struct cvmbus_mutex *m)
{
	pthread_mutex_destroy(&m->u.native);
}

static void native_mutex_lock(struct cvmbus_mutex *m)
{
	native_check(pthread_mutex_lock(&m->u.native), "lock");
}

static int native_mutex_trylock(struct cvmbus_mutex *m)
{
	int err = pthread_mutex_trylock(&m->u.native);

	if (err == EBUSY)
		return -EBUSY;
	native_check(err, "trylock");
	return 0;
}

static void native_mutex_unlock(struct cvmbus_mutex *m)
{
	native_check(pthread_mutex_unlock(&m->u.native), "unlock");
}

static void native_cond_init(struct cvmbus_cond *c)
{
	pthread_condattr_t attr;

	/* CLOCK_MONOTONIC: deadlines are executor time, which must not jump
	 * when someone sets the wall clock. */
	native_check(pthread_condattr_init(&attr), "condattr init");
	native_check(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), "setclock");
	native_check(pthread_cond_init(&c->u.native, &attr), "cond init");
	pthread_condattr_destroy(&attr);
}

static void native_cond_destroy(struct cvmbus_cond *c)
{
	pthread_cond_destroy(&c->u.native);
}

static int native_cond_wait(struct cvmbus_cond *c, struct cvmbus_mutex *m,
			    uint64_t deadline_ns)
{
	struct native_exec *n = native_of(c->exec);
	struct timespec abs;
	uint64_t mono;
	int err;

	if (deadline_ns == CVMBUS_EXEC_FOREVER) {
		native_check(pthread_cond_wait(&c->u.native, &m->u.native), "wait");
		return 0;
	}
	mono = exec_sat_add(n->base_ns, deadline_ns);
	abs = native_ts(mono);
	err = pthread_cond_timedwait(&c->u.native, &m->u.native, &abs);
	if (err == ETIMEDOUT)
		return -ETIMEDOUT;
	native_check(err, "timedwait");
	return 0;
}

static void native_cond_signal(struct cvmbus_cond *c)
{
	pthread_cond_signal(&c->u.native);
}

static void native_cond_broadcast(struct cvmbus_cond *c)
{
	pthread_cond_broadcast(&c->u.native);
}

const struct exec_ops exec_native_ops = {
	.kind = CVMBUS_EXEC_NATIVE,
	.destroy = native_destroy,
	.run = native_run,
	.now = native_now,
	.sleep = native_sleep,
	.yield = native_yield,
	.point = native_point,
	.spawn = native_spawn,
	.join = native_join,
	.mutex_init = native_mutex_init,
	.mutex_destroy = native_mutex_destroy,
	.mutex_lock = native_mutex_lock,
	.mutex_trylock = native_mutex_trylock,
	.mutex_unlock = native_mutex_unlock,
	.cond_init = native_cond_init,
	.cond_destroy = native_cond_destroy,
	.cond_wait = native_cond_wait,
	.cond_signal = native_cond_signal,
	.cond_broadcast = native_cond_broadcast,
};
