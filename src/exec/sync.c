/* SPDX-License-Identifier: MIT */
/*
 * Completions and doorbells, built once from the executor's mutex and
 * condition variable so that both executors get them, and so that under det
 * every ring and wait is made of schedule points like any other lock. A
 * completion is the "wait for the host's answer" of the VMBus client and
 * server; a doorbell is a vCPU's interrupt line or a channel's eventfd-like
 * signal, with a bitmask of reasons so one wait covers several sources.
 * Part of src/exec.
 */
#include <errno.h>
#include <stdint.h>

#include "exec/exec_internal.h"

/* Wait on cond (lock held) until ready(obj, mask) or the deadline passed.
 * The predicate is tested once more after a timeout: a wake-up that raced
 * with the deadline still counts. 0 or -ETIMEDOUT. */
static int sync_wait(struct cvmbus_cond *cond, struct cvmbus_mutex *lock,
		     bool (*ready)(const void *obj, uint64_t mask),
		     const void *obj, uint64_t mask, uint64_t deadline)
{
	bool timed_out = false;

	for (;;) {
		if (ready(obj, mask))
			return 0;
		if (timed_out)
			return -ETIMEDOUT;
		if (cvmbus_cond_wait_until(cond, lock, deadline) == -ETIMEDOUT)
			timed_out = true;
	}
}

/* ---- completion --------------------------------------------------------- */

void cvmbus_completion_init(struct cvmbus_completion *c,
			    struct cvmbus_exec *exec, const char *name)
{
	cvmbus_mutex_init(&c->lock, exec, name);
	cvmbus_cond_init(&c->cond, exec, name);
	c->cond.kind = "completion";
	c->done = 0;
	c->all = false;
}

void cvmbus_completion_destroy(struct cvmbus_completion *c)
{
	cvmbus_cond_destroy(&c->cond);
	cvmbus_mutex_destroy(&c->lock);
}

static bool completion_ready(const void *obj, uint64_t mask)
{
	const struct cvmbus_completion *c = obj;

	return c->all || c->done > 0;
}

int cvmbus_completion_wait(struct cvmbus_completion *c, uint64_t timeout_ns)
{
	uint64_t deadline = cvmbus_exec_deadline(c->lock.exec, timeout_ns);
	int err;

	cvmbus_mutex_lock(&c->lock);
	err = sync_wait(&c->cond, &c->lock, completion_ready, c, 0, deadline);
	if (!err && !c->all)
		c->done--;
	cvmbus_mutex_unlock(&c->lock);
	return err;
}

int cvmbus_completion_try(struct cvmbus_completion *c)
{
	int err = -EAGAIN;

	cvmbus_mutex_lock(&c->lock);
	if (completion_ready(c, 0)) {
		if (!c->all)
			c->done--;
		err = 0;
	}
	cvmbus_mutex_unlock(&c->lock);
	return err;
}

void cvmbus_completion_complete(struct cvmbus_completion *c)
{
	cvmbus_mutex_lock(&c->lock);
	/* Saturate rather than wrap: a wrapped count would block waiters that
	 * were already let through. */
	if (c->done != UINT32_MAX)
		c->done++;
	cvmbus_cond_signal(&c->cond);
	cvmbus_mutex_unlock(&c->lock);
}

void cvmbus_completion_complete_all(struct cvmbus_completion *c)
{
	cvmbus_mutex_lock(&c->lock);
	c->all = true;
	cvmbus_cond_broadcast(&c->cond);
	cvmbus_mutex_unlock(&c->lock);
}

void cvmbus_completion_reset(struct cvmbus_completion *c)
{
	cvmbus_mutex_lock(&c->lock);
	c->done = 0;
	c->all = false;
	cvmbus_mutex_unlock(&c->lock);
}

/* ---- doorbell ------------------------------------------------------------- */

void cvmbus_doorbell_init(struct cvmbus_doorbell *d, struct cvmbus_exec *exec,
			  const char *name)
{
	cvmbus_mutex_init(&d->lock, exec, name);
	cvmbus_cond_init(&d->cond, exec, name);
	d->cond.kind = "doorbell";
	d->pending = 0;
	d->rings = 0;
}

void cvmbus_doorbell_destroy(struct cvmbus_doorbell *d)
{
	cvmbus_cond_destroy(&d->cond);
	cvmbus_mutex_destroy(&d->lock);
}

void cvmbus_doorbell_ring(struct cvmbus_doorbell *d, uint64_t bits)
{
	if (!bits)
		return;
	cvmbus_mutex_lock(&d->lock);
	/* Only a newly set bit can satisfy a waiter; re-ringing a pending bit
	 * coalesces, as a latched interrupt or an eventfd counter would. */
	if (bits & ~d->pending) {
		d->pending |= bits;
		d->rings++;
		/* Broadcast, not signal: a doorbell has one intended waiter, but
		 * a waiter whose mask misses these bits must not swallow the
		 * only wake-up. */
		cvmbus_cond_broadcast(&d->cond);
	}
	cvmbus_mutex_unlock(&d->lock);
}

static bool doorbell_ready(const void *obj, uint64_t mask)
{
	const struct cvmbus_doorbell *d = obj;

	return (d->pending & mask) != 0;
}

int cvmbus_doorbell_wait(struct cvmbus_doorbell *d, uint64_t mask,
			 uint64_t timeout_ns, uint64_t *fired)
{
	uint64_t deadline, got = 0;
	int err;

	if (fired)
		*fired = 0;
	if (!mask)
		return -EINVAL;
	deadline = cvmbus_exec_deadline(d->lock.exec, timeout_ns);
	cvmbus_mutex_lock(&d->lock);
	err = sync_wait(&d->cond, &d->lock, doorbell_ready, d, mask, deadline);
	if (!err) {
		got = d->pending & mask;
		d->pending &= ~got;
	}
	cvmbus_mutex_unlock(&d->lock);
	if (fired)
		*fired = got;
	return err;
}

uint64_t cvmbus_doorbell_take(struct cvmbus_doorbell *d, uint64_t mask)
{
	uint64_t got;

	cvmbus_mutex_lock(&d->lock);
	got = d->pending & mask;
	d->pending &= ~got;
	cvmbus_mutex_unlock(&d->lock);
	return got;
}
