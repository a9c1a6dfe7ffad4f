/* SPDX-License-Identifier: MIT */
/*
 * The executor-neutral half of src/exec: creating and destroying executors,
 * the thread-local "current thread", and the thin dispatch from every public
 * call in cvmbus/exec.h to the executor's operations table (native.c or
 * det.c). Nothing here waits by itself; the layers above (hw, server,
 * client, paravisor, dev) reach threads, locks and time only through here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/exec_internal.h"

_Thread_local struct cvmbus_thread *exec_tls_self;

_Noreturn void exec_die(const char *fmt, ...)
{
	va_list ap;

	fputs("cvmbus: exec: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

uint64_t exec_sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static struct cvmbus_exec *exec_alloc(const struct exec_ops *ops)
{
	struct cvmbus_exec *exec = calloc(1, sizeof(*exec));

	if (exec)
		exec->ops = ops;
	return exec;
}

int cvmbus_exec_native_create(struct cvmbus_exec **out)
{
	struct cvmbus_exec *exec = exec_alloc(&exec_native_ops);
	int err;

	*out = NULL;
	if (!exec)
		return -ENOMEM;
	err = exec_native_init(exec);
	if (err)
		goto fail;
	/* The timer service uses the executor's own primitives, so it can only
	 * be set up once the implementation exists. */
	exec_timers_init(exec);
	*out = exec;
	return 0;
fail:
	free(exec);
	return err;
}

int cvmbus_exec_det_create(struct cvmbus_exec **out,
			   const struct cvmbus_exec_det_opts *opts)
{
	struct cvmbus_exec_det_opts defaults = { 0 };
	struct cvmbus_exec *exec = exec_alloc(&exec_det_ops);
	int err;

	*out = NULL;
	if (!exec)
		return -ENOMEM;
	err = exec_det_init(exec, opts ? opts : &defaults);
	if (err)
		goto fail;
	exec_timers_init(exec);
	*out = exec;
	return 0;
fail:
	free(exec);
	return err;
}

void cvmbus_exec_destroy(struct cvmbus_exec *exec)
{
	if (!exec)
		return;
	exec_timers_stop(exec);
	exec_timers_destroy(exec);
	exec->ops->destroy(exec);
	free(exec);
}

enum cvmbus_exec_kind cvmbus_exec_kind(const struct cvmbus_exec *exec)
{
	return exec->ops->kind;
}

int cvmbus_exec_run(struct cvmbus_exec *exec, cvmbus_thread_fn main_fn,
		    void *arg, int *main_ret)
{
	return exec->ops->run(exec, main_fn, arg, main_ret);
}

int cvmbus_exec_det_run(struct cvmbus_exec *exec, cvmbus_thread_fn main_fn,
			void *arg)
{
	if (exec->ops->kind != CVMBUS_EXEC_DET)
		return -EINVAL;
	return exec->ops->run(exec, main_fn, arg, NULL);
}

uint64_t cvmbus_exec_seed_from_env(uint64_t fallback)
{
	const char *s = getenv("CVMBUS_EXEC_SEED");
	char *end = NULL;
	unsigned long long v;

	if (!s || !*s)
		return fallback;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || !end || *end)
		return fallback;
	return (uint64_t)v;
}

const char *cvmbus_exec_prim_name(enum cvmbus_exec_prim prim)
{
	switch (prim) {
	case CVMBUS_PRIM_START:     return "start";
	case CVMBUS_PRIM_SPAWN:     return "spawn";
	case CVMBUS_PRIM_EXIT:      return "exit";
	case CVMBUS_PRIM_JOIN:      return "join";
	case CVMBUS_PRIM_LOCK:      return "lock";
	case CVMBUS_PRIM_TRYLOCK:   return "trylock";
	case CVMBUS_PRIM_UNLOCK:    return "unlock";
	case CVMBUS_PRIM_WAIT:      return "wait";
	case CVMBUS_PRIM_SIGNAL:    return "signal";
	case CVMBUS_PRIM_BROADCAST: return "broadcast";
	case CVMBUS_PRIM_YIELD:     return "yield";
	case CVMBUS_PRIM_SLEEP:     return "sleep";
	}
	return "?";
}

/* ---- clock and current thread ------------------------------------------- */

uint64_t cvmbus_exec_now_ns(const struct cvmbus_exec *exec)
{
	return exec->ops->now(exec);
}

uint64_t cvmbus_exec_deadline(const struct cvmbus_exec *exec, uint64_t timeout_ns)
{
	if (timeout_ns == CVMBUS_EXEC_FOREVER)
		return CVMBUS_EXEC_FOREVER;
	return exec_sat_add(exec->ops->now(exec), timeout_ns);
}

void cvmbus_exec_sleep_ns(struct cvmbus_exec *exec, uint64_t ns)
{
	exec->ops->sleep(exec, ns);
}

void cvmbus_exec_yield(struct cvmbus_exec *exec)
{
	exec->ops->yield(exec);
}

void cvmbus_exec_point(struct cvmbus_exec *exec)
{
	exec->ops->point(exec);
}

struct cvmbus_thread *cvmbus_thread_self(void)
{
	return exec_tls_self;
}

uint32_t cvmbus_exec_thread_id(void)
{
	return exec_tls_self ? exec_tls_self->id : 0;
}

const char *cvmbus_exec_thread_name(void)
{
	return exec_tls_self ? exec_tls_self->name : "-";
}

struct cvmbus_exec *cvmbus_exec_current(void)
{
	return exec_tls_self ? exec_tls_self->exec : NULL;
}

/* ---- threads --------------------------------------------------------------- */

int cvmbus_thread_spawn(struct cvmbus_exec *exec, struct cvmbus_thread **out,
			const char *name, cvmbus_thread_fn fn, void *arg)
{
	struct cvmbus_thread *t;
	int err;

	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->exec = exec;
	t->fn = fn;
	t->arg = arg;
	t->state = EXEC_T_RUNNABLE;
	t->wait_deadline = CVMBUS_EXEC_FOREVER;
	/* snprintf cuts long names; a name is for people, not an identity. */
	snprintf(t->name, sizeof(t->name), "%s", name ? name : "thread");
	/* Publish the handle before the thread can run: a new thread commonly
	 * finds its own handle through a struct its spawner fills in. */
	*out = t;
	err = exec->ops->spawn(exec, t); /* frees t on failure */
	if (err)
		*out = NULL;
	return err;
}

int cvmbus_thread_join(struct cvmbus_thread *t, int *ret)
{
	if (t == exec_tls_self)
		return -EINVAL;
	return t->exec->ops->join(t, ret);
}

uint32_t cvmbus_thread_id(const struct cvmbus_thread *t)
{
	return t->id;
}

const char *cvmbus_thread_name(const struct cvmbus_thread *t)
{
	return t->name;
}

/* ---- mutex and condition variable ---------------------------------------- */

void cvmbus_mutex_init(struct cvmbus_mutex *m, struct cvmbus_exec *exec,
		       const char *name)
{
	memset(m, 0, sizeof(*m));
	m->exec = exec;
	m->name = name;
	exec->ops->mutex_init(m);
}

void cvmbus_mutex_destroy(struct cvmbus_mutex *m)
{
	m->exec->ops->mutex_destroy(m);
}

void cvmbus_mutex_lock(struct cvmbus_mutex *m)
{
	m->exec->ops->mutex_lock(m);
}

int cvmbus_mutex_trylock(struct cvmbus_mutex *m)
{
	return m->exec->ops->mutex_trylock(m);
}

void cvmbus_mutex_unlock(struct cvmbus_mutex *m)
{
	m->exec->ops->mutex_unlock(m);
}

void cvmbus_cond_init(struct cvmbus_cond *c, struct cvmbus_exec *exec,
		      const char *name)
{
	memset(c, 0, sizeof(*c));
	c->exec = exec;
	c->name = name;
	c->kind = "cond";
	exec->ops->cond_init(c);
}

void cvmbus_cond_destroy(struct cvmbus_cond *c)
{
	c->exec->ops->cond_destroy(c);
}

void cvmbus_cond_wait(struct cvmbus_cond *c, struct cvmbus_mutex *m)
{
	(void)c->exec->ops->cond_wait(c, m, CVMBUS_EXEC_FOREVER);
}

int cvmbus_cond_wait_until(struct cvmbus_cond *c, struct cvmbus_mutex *m,
			   uint64_t deadline_ns)
{
	return c->exec->ops->cond_wait(c, m, deadline_ns);
}

void cvmbus_cond_signal(struct cvmbus_cond *c)
{
	c->exec->ops->cond_signal(c);
}

void cvmbus_cond_broadcast(struct cvmbus_cond *c)
{
	c->exec->ops->cond_broadcast(c);
}
