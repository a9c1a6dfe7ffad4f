/* SPDX-License-Identifier: MIT */
/*
 * The deterministic executor: real pthreads, but only the thread holding the
 * baton runs. Every primitive (spawn, exit, join, lock, trylock, unlock, cond
 * wait/signal/broadcast, sleep, yield, point) is a schedule point at which a
 * seeded PRNG picks the next runnable thread, so a seed names one
 * interleaving and a sweep of seeds explores many. Time is virtual: it moves
 * only when no thread can run, straight to the earliest deadline. When no
 * thread can ever run again (deadlock), the virtual deadline would pass, or
 * the step budget is spent, the run fails with a report of every thread and
 * what it waits on, and every thread is unwound from its blocking point so
 * that cvmbus_exec_run() returns instead of hanging. Part of src/exec; the
 * native twin is native.c.
 *
 * Mechanics. One pthread mutex (det->lock) guards all scheduler state and
 * every det object (mutex owners, cond waiters). The baton is det->current:
 * a thread inside a primitive takes det->lock, updates its state, picks the
 * next thread, sets current and signals that thread's own condition variable
 * (go), then sleeps on its own go until it is current again. User code runs
 * without det->lock but with the baton, so it never runs concurrently with
 * another det thread; the handoff through det->lock also gives every
 * user-level access a happens-before edge (clean under ThreadSanitizer).
 *
 * Determinism comes from: thread ids by creation order (main is 1), the
 * runnable set scanned in creation order, the PRNG (splitmix64) as the only
 * choice, cond waiters woken in FIFO ticket order, and virtual time. Nothing
 * depends on addresses or on real time.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cvmbus/log.h"
#include "exec/exec_internal.h"

#define DET_DEFAULT_DEADLINE_NS (60ull * 1000000000ull)
#define DET_DEFAULT_MAX_STEPS   10000000ull
#define DET_DEFAULT_TRACE_CAP   65536u

#define FNV64_OFFSET 0xcbf29ce484222325ull
#define FNV64_PRIME  0x100000001b3ull

struct det_exec {
	struct cvmbus_exec *exec;
	pthread_mutex_t lock;  /* guards all below, and every det object */
	pthread_cond_t done;   /* the run's caller: finished or aborting */

	/* Options. */
	uint64_t seed;
	uint64_t deadline_ns;
	uint64_t max_steps;
	size_t trace_cap;

	/* The run. */
	struct cvmbus_thread *threads; /* creation order, not yet joined */
	struct cvmbus_thread **runnable;
	size_t runnable_cap;
	size_t nthreads;               /* records in threads */
	size_t nlive;                  /* records not EXITED */
	struct cvmbus_thread *current; /* baton holder */
	uint32_t next_id;
	uint64_t rng;
	_Atomic uint64_t vtime;        /* read lock-free by now() */
	uint64_t step;
	uint64_t ticket;
	uint64_t hash;
	struct cvmbus_exec_trace_entry *trace;
	size_t trace_len;
	int main_ret;
	int failed;                    /* 0 or the run's negative errno */
	bool running;
	bool finished;
	bool aborting;
	char *report;
};

/* The owner id of a mutex taken outside a run (single-threaded setup). Run
 * thread ids count up from 1 and never get this far. */
#define DET_OUTSIDER UINT32_MAX

static struct det_exec *det_of(const struct cvmbus_exec *exec)
{
	return exec->impl;
}

/* The caller as a thread of this executor's run, or NULL. */
static struct cvmbus_thread *det_self(struct det_exec *d)
{
	struct cvmbus_thread *t = exec_tls_self;

	return t && t->exec == d->exec ? t : NULL;
}

/* splitmix64 (Steele, Lea, Flood): one 64-bit state, good enough mixing for
 * choosing among a handful of threads, and trivially seedable. */
static uint64_t det_rand(struct det_exec *d)
{
	uint64_t z = (d->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Hash fields as little-endian bytes, so padding and host layout never reach
 * the hash. */
static uint64_t det_fnv(uint64_t h, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++) {
		h ^= (v >> (8 * i)) & 0xffu;
		h *= FNV64_PRIME;
	}
	return h;
}

static uint64_t det_now(const struct det_exec *d)
{
	return atomic_load_explicit(&d->vtime, memory_order_relaxed);
}

static void det_record(struct det_exec *d, uint32_t tid,
		       enum cvmbus_exec_prim prim, uint32_t next_tid)
{
	struct cvmbus_exec_trace_entry e = {
		.step = d->step,
		.time_ns = det_now(d),
		.tid = tid,
		.next_tid = next_tid,
		.prim = prim,
	};

	d->hash = det_fnv(d->hash, e.step, 8);
	d->hash = det_fnv(d->hash, e.time_ns, 8);
	d->hash = det_fnv(d->hash, e.tid, 4);
	d->hash = det_fnv(d->hash, e.prim, 4);
	d->hash = det_fnv(d->hash, e.next_tid, 4);
	if (d->trace_len < d->trace_cap)
		d->trace[d->trace_len++] = e;
}

static void det_block(struct cvmbus_thread *t, enum exec_wait w,
		      const void *obj, uint64_t deadline)
{
	t->state = EXEC_T_BLOCKED;
	t->wait = w;
	t->wait_obj = obj;
	t->wait_deadline = deadline;
	t->wait_result = 0;
}

static void det_wake(struct cvmbus_thread *t, int result)
{
	t->state = EXEC_T_RUNNABLE;
	t->wait = EXEC_W_NONE;
	t->wait_obj = NULL;
	t->wait_deadline = CVMBUS_EXEC_FOREVER;
	t->wait_result = result;
}

/* Every thread blocked on obj for w becomes runnable. Waking all mutex
 * waiters (not handing the mutex to one) lets the PRNG decide who gets it,
 * barging included, as with a real mutex. */
static void det_wake_all(struct det_exec *d, enum exec_wait w, const void *obj)
{
	for (struct cvmbus_thread *t = d->threads; t; t = t->next)
		if (t->state == EXEC_T_BLOCKED && t->wait == w && t->wait_obj == obj)
			det_wake(t, 0);
}

/* Deadlines at or before now fire: a cond or sleep whose deadline was already
 * past when it blocked must not wait for the others to block too. */
static void det_wake_expired(struct det_exec *d)
{
	uint64_t now = det_now(d);

	for (struct cvmbus_thread *t = d->threads; t; t = t->next)
		if (t->state == EXEC_T_BLOCKED && t->wait_deadline <= now)
			det_wake(t, t->wait == EXEC_W_SLEEP ? 0 : -ETIMEDOUT);
}

static size_t det_collect(struct det_exec *d)
{
	size_t n = 0;

	for (struct cvmbus_thread *t = d->threads; t; t = t->next)
		if (t->state == EXEC_T_RUNNABLE)
			d->runnable[n++] = t;
	return n;
}

static uint64_t det_earliest(struct det_exec *d)
{
	uint64_t when = CVMBUS_EXEC_FOREVER;

	for (struct cvmbus_thread *t = d->threads; t; t = t->next)
		if (t->state == EXEC_T_BLOCKED && t->wait_deadline < when)
			when = t->wait_deadline;
	return when;
}

static const char *det_obj_name(const char *name)
{
	return name ? name : "(unnamed)";
}

static const struct cvmbus_thread *det_find(const struct det_exec *d, uint32_t id)
{
	for (const struct cvmbus_thread *t = d->threads; t; t = t->next)
		if (t->id == id)
			return t;
	return NULL;
}

static void det_describe(const struct det_exec *d, FILE *f,
			 const struct cvmbus_thread *t)
{
	const struct cvmbus_mutex *m;
	const struct cvmbus_cond *c;
	const struct cvmbus_thread *o;

	fprintf(f, "  thread %" PRIu32 " \"%s\": ", t->id, t->name);
	if (t->state == EXEC_T_RUNNABLE) {
		fputs("runnable\n", f);
		return;
	}
	switch (t->wait) {
	case EXEC_W_MUTEX:
		m = t->wait_obj;
		fprintf(f, "blocked in lock of mutex \"%s\"", det_obj_name(m->name));
		if (m->u.det.owner == DET_OUTSIDER) {
			fputs(" held outside the run", f);
			break;
		}
		o = det_find(d, m->u.det.owner);
		if (o)
			fprintf(f, " held by thread %" PRIu32 " \"%s\"", o->id, o->name);
		else
			fprintf(f, " held by thread %" PRIu32 ", which exited holding it",
				m->u.det.owner);
		break;
	case EXEC_W_COND:
		c = t->wait_obj;
		fprintf(f, "blocked in wait on %s \"%s\"", c->kind ? c->kind : "cond",
			det_obj_name(c->name));
		break;
	case EXEC_W_JOIN:
		o = t->wait_obj;
		fprintf(f, "blocked in join of thread %" PRIu32 " \"%s\"", o->id, o->name);
		break;
	case EXEC_W_SLEEP:
		fputs("sleeping", f);
		break;
	case EXEC_W_NONE:
		fputs("blocked (on nothing?)", f);
		break;
	}
	if (t->wait_deadline != CVMBUS_EXEC_FOREVER)
		fprintf(f, " until t=%" PRIu64 " ns", t->wait_deadline);
	else if (t->wait != EXEC_W_SLEEP)
		fputs(", no timeout", f);
	fputc('\n', f);
}

/* End the run: write the report, raise aborting, and wake every thread and
 * the run's caller. Called with det->lock held by the baton holder. */
static void det_fail(struct det_exec *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void det_fail(struct det_exec *d, int err, const char *fmt, ...)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	va_list ap;

	d->failed = err;
	d->aborting = true;
	free(d->report);
	d->report = NULL;
	f = open_memstream(&buf, &len);
	if (f) {
		fprintf(f, "det run failed (seed 0x%016" PRIx64 ", step %" PRIu64
			", t=%" PRIu64 " ns): ", d->seed, d->step, det_now(d));
		va_start(ap, fmt);
		vfprintf(f, fmt, ap);
		va_end(ap);
		fputc('\n', f);
		for (struct cvmbus_thread *t = d->threads; t; t = t->next)
			if (t->state != EXEC_T_EXITED)
				det_describe(d, f, t);
		if (fclose(f) == 0)
			d->report = buf;
		else
			free(buf);
	}
	cvmbus_log(CVMBUS_LOG_ERROR, "%s", d->report ? d->report : "det run failed");
	for (struct cvmbus_thread *t = d->threads; t; t = t->next)
		pthread_cond_signal(&t->go);
	pthread_cond_signal(&d->done);
}

/* Leave the run from inside a primitive: no code of this thread's body runs
 * again. Its stack frames hold no executor resources (det->lock is dropped
 * first), so jumping over them is safe. */
_Noreturn static void det_unwind(struct det_exec *d, struct cvmbus_thread *self)
{
	pthread_mutex_unlock(&d->lock);
	longjmp(self->unwind, 1);
}

/*
 * The schedule point. The caller holds det->lock and the baton and has set
 * its own state (RUNNABLE to stay eligible, BLOCKED with what it waits for,
 * EXITED). Picks the next thread, hands the baton over, and returns when the
 * caller holds it again (det->lock held) -- or, when the run fails, unwinds
 * the caller. An exiting caller returns right after the handoff.
 */
static void det_point(struct det_exec *d, struct cvmbus_thread *self,
		      enum cvmbus_exec_prim prim)
{
	struct cvmbus_thread *next;
	uint64_t when;
	size_t n;

	if (d->aborting)
		goto unwind;
	d->step++;
	if (d->step > d->max_steps) {
		det_fail(d, -ELOOP, "step limit %" PRIu64 " reached (a poll loop "
			 "that never sleeps or blocks?)", d->max_steps);
		goto unwind;
	}
	det_wake_expired(d);
	n = det_collect(d);
	if (n == 0) {
		if (d->nlive == 0) {
			/* The caller was the last thread and is exiting. */
			det_record(d, self->id, prim, 0);
			d->current = NULL;
			d->finished = true;
			pthread_cond_signal(&d->done);
			return;
		}
		/* Nobody can run: this is the only place time moves. */
		when = det_earliest(d);
		if (when == CVMBUS_EXEC_FOREVER) {
			det_fail(d, -EDEADLK, "deadlock: every thread is blocked "
				 "and no timeout is pending");
			goto unwind;
		}
		if (when > d->deadline_ns) {
			det_fail(d, -ETIMEDOUT, "deadline: the next wake-up at t=%"
				 PRIu64 " ns is past the deadline t=%" PRIu64 " ns",
				 when, d->deadline_ns);
			goto unwind;
		}
		atomic_store_explicit(&d->vtime, when, memory_order_relaxed);
		det_wake_expired(d);
		n = det_collect(d);
	}
	next = d->runnable[det_rand(d) % n];
	det_record(d, self->id, prim, next->id);
	d->current = next;
	if (next != self)
		pthread_cond_signal(&next->go);
	if (self->state == EXEC_T_EXITED)
		return;
	while (d->current != self && !d->aborting)
		pthread_cond_wait(&self->go, &d->lock);
	if (!d->aborting)
		return;
unwind:
	if (self->state != EXEC_T_EXITED)
		det_unwind(d, self);
}

static void det_exit(struct det_exec *d, struct cvmbus_thread *self)
{
	self->state = EXEC_T_EXITED;
	d->nlive--;
	if (self->id == 1)
		d->main_ret = self->ret;
	det_wake_all(d, EXEC_W_JOIN, self);
	det_point(d, self, CVMBUS_PRIM_EXIT);
}

static void *det_trampoline(void *p)
{
	struct cvmbus_thread *self = p;
	struct det_exec *d = det_of(self->exec);

	exec_tls_self = self;
	pthread_mutex_lock(&d->lock);
	/* A failed run longjmps back here from the thread's blocking point,
	 * with det->lock already released. */
	if (setjmp(self->unwind) == 0) {
		while (d->current != self && !d->aborting)
			pthread_cond_wait(&self->go, &d->lock);
		if (d->aborting)
			det_unwind(d, self);
		pthread_mutex_unlock(&d->lock);

		self->ret = self->fn(self->arg);

		pthread_mutex_lock(&d->lock);
		det_exit(d, self);
		pthread_mutex_unlock(&d->lock);
	}
	exec_tls_self = NULL;
	return NULL;
}

/* ---- setup ------------------------------------------------------------------ */

int exec_det_init(struct cvmbus_exec *exec, const struct cvmbus_exec_det_opts *o)
{
	struct det_exec *d = calloc(1, sizeof(*d));
	int err = -ENOMEM;

	if (!d)
		return -ENOMEM;
	d->exec = exec;
	d->seed = o->seed;
	d->deadline_ns = o->deadline_ns ? o->deadline_ns : DET_DEFAULT_DEADLINE_NS;
	d->max_steps = o->max_steps ? o->max_steps : DET_DEFAULT_MAX_STEPS;
	d->trace_cap = o->trace_cap ? o->trace_cap : DET_DEFAULT_TRACE_CAP;
	d->trace = calloc(d->trace_cap, sizeof(*d->trace));
	if (!d->trace)
		goto fail;
	if (pthread_mutex_init(&d->lock, NULL))
		goto fail;
	if (pthread_cond_init(&d->done, NULL)) {
		pthread_mutex_destroy(&d->lock);
		goto fail;
	}
	d->hash = FNV64_OFFSET;
	exec->impl = d;
	return 0;
fail:
	free(d->trace);
	free(d);
	return err;
}

static void det_destroy(struct cvmbus_exec *exec)
{
	struct det_exec *d = det_of(exec);

	pthread_cond_destroy(&d->done);
	pthread_mutex_destroy(&d->lock);
	free(d->runnable);
	free(d->trace);
	free(d->report);
	free(d);
	exec->impl = NULL;
}

static void det_free_thread(struct cvmbus_thread *t)
{
	pthread_cond_destroy(&t->go);
	free(t);
}

/* Add t to the run (det->lock held): id, list, room in the runnable array. */
static int det_add_thread(struct det_exec *d, struct cvmbus_thread *t)
{
	struct cvmbus_thread **pp;

	if (d->nthreads + 1 > d->runnable_cap) {
		size_t cap = d->runnable_cap ? 2 * d->runnable_cap : 8;
		void *r = realloc(d->runnable, cap * sizeof(*d->runnable));

		if (!r)
			return -ENOMEM;
		d->runnable = r;
		d->runnable_cap = cap;
	}
	if (pthread_cond_init(&t->go, NULL))
		return -ENOMEM;
	t->id = ++d->next_id;
	t->state = EXEC_T_RUNNABLE;
	t->next = NULL;
	for (pp = &d->threads; *pp; pp = &(*pp)->next)
		;
	*pp = t;
	d->nthreads++;
	d->nlive++;
	return 0;
}

static void det_unlink(struct det_exec *d, struct cvmbus_thread *t)
{
	for (struct cvmbus_thread **pp = &d->threads; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			d->nthreads--;
			if (t->state != EXEC_T_EXITED)
				d->nlive--;
			return;
		}
	}
}

static int det_run(struct cvmbus_exec *exec, cvmbus_thread_fn fn, void *arg,
		   int *main_ret)
{
	struct det_exec *d = det_of(exec);
	struct cvmbus_thread *main_thread, *t;
	int err;

	main_thread = calloc(1, sizeof(*main_thread));
	if (!main_thread)
		return -ENOMEM;
	main_thread->exec = exec;
	main_thread->fn = fn;
	main_thread->arg = arg;
	main_thread->wait_deadline = CVMBUS_EXEC_FOREVER;
	snprintf(main_thread->name, sizeof(main_thread->name), "main");

	pthread_mutex_lock(&d->lock);
	if (d->running) {
		pthread_mutex_unlock(&d->lock);
		free(main_thread);
		return -EBUSY;
	}
	/* Every run starts from the same state, so a seed replays exactly. */
	d->running = true;
	d->finished = false;
	d->aborting = false;
	d->failed = 0;
	d->main_ret = 0;
	d->next_id = 0;
	d->rng = d->seed;
	d->step = 0;
	d->ticket = 0;
	d->hash = FNV64_OFFSET;
	d->trace_len = 0;
	free(d->report);
	d->report = NULL;
	atomic_store_explicit(&d->vtime, 0, memory_order_relaxed);

	err = det_add_thread(d, main_thread);
	if (err) {
		free(main_thread);
		goto out_unlock;
	}
	det_record(d, 0, CVMBUS_PRIM_START, main_thread->id);
	d->current = main_thread;
	if (pthread_create(&main_thread->pt, NULL, det_trampoline, main_thread)) {
		det_unlink(d, main_thread);
		det_free_thread(main_thread);
		err = -EAGAIN;
		goto out_unlock;
	}
	while (!d->finished && !d->aborting)
		pthread_cond_wait(&d->done, &d->lock);
	pthread_mutex_unlock(&d->lock);

	/* Reap without det->lock: unwinding threads need it to leave. After
	 * finished/aborting nobody changes the thread list any more. */
	while ((t = d->threads) != NULL) {
		d->threads = t->next;
		pthread_join(t->pt, NULL);
		det_free_thread(t);
	}

	pthread_mutex_lock(&d->lock);
	d->nthreads = 0;
	d->nlive = 0;
	d->current = NULL;
	err = d->failed;
	if (!err && main_ret)
		*main_ret = d->main_ret;
	pthread_mutex_unlock(&d->lock);
	exec_timers_after_run(exec, err != 0);
	pthread_mutex_lock(&d->lock);
out_unlock:
	d->running = false;
	pthread_mutex_unlock(&d->lock);
	return err;
}

/* ---- clock, yield, sleep ------------------------------------------------------ */

static uint64_t det_now_op(const struct cvmbus_exec *exec)
{
	return det_now(det_of(exec));
}

/* The calling run thread; anything else calling a blocking primitive is a
 * contract violation (only run threads exist under det). */
static struct cvmbus_thread *det_self_or_die(struct det_exec *d, const char *what)
{
	struct cvmbus_thread *self = det_self(d);

	if (!self)
		exec_die("det: %s called from a thread outside the run", what);
	return self;
}

static void det_yield_prim(struct cvmbus_exec *exec, enum cvmbus_exec_prim prim)
{
	struct det_exec *d = det_of(exec);
	struct cvmbus_thread *self = det_self(d);

	/* Outside a run there is nobody to give way to. */
	if (!self)
		return;
	pthread_mutex_lock(&d->lock);
	det_point(d, self, prim);
	pthread_mutex_unlock(&d->lock);
}

static void det_yield(struct cvmbus_exec *exec)
{
	det_yield_prim(exec, CVMBUS_PRIM_YIELD);
}

static void det_sleep(struct cvmbus_exec *exec, uint64_t ns)
{
	struct det_exec *d = det_of(exec);
	struct cvmbus_thread *self = det_self_or_die(d, "sleep");

	pthread_mutex_lock(&d->lock);
	if (ns == 0) {
		det_point(d, self, CVMBUS_PRIM_SLEEP);
	} else {
		det_block(self, EXEC_W_SLEEP, NULL, exec_sat_add(det_now(d), ns));
		det_point(d, self, CVMBUS_PRIM_SLEEP);
	}
	pthread_mutex_unlock(&d->lock);
}

/* ---- threads ------------------------------------------------------------------- */

static int det_spawn(struct cvmbus_exec *exec, struct cvmbus_thread *t)
{
	struct det_exec *d = det_of(exec);
	struct cvmbus_thread *self = det_self(d);
	int err;

	if (!self) {
		free(t);
		return -EPERM;
	}
	pthread_mutex_lock(&d->lock);
	err = det_add_thread(d, t);
	if (err)
		goto fail;
	/* The new thread waits for the baton before running any of its body. */
	if (pthread_create(&t->pt, NULL, det_trampoline, t)) {
		det_unlink(d, t);
		pthread_cond_destroy(&t->go);
		err = -EAGAIN;
		goto fail;
	}
	det_point(d, self, CVMBUS_PRIM_SPAWN);
	pthread_mutex_unlock(&d->lock);
	return 0;
fail:
	pthread_mutex_unlock(&d->lock);
	free(t);
	return err;
}

static int det_join(struct cvmbus_thread *t, int *ret)
{
	struct det_exec *d = det_of(t->exec);
	struct cvmbus_thread *self = det_self(d);

	if (!self)
		return -EPERM;
	pthread_mutex_lock(&d->lock);
	if (t->state == EXEC_T_EXITED)
		det_point(d, self, CVMBUS_PRIM_JOIN);
	while (t->state != EXEC_T_EXITED) {
		det_block(self, EXEC_W_JOIN, t, CVMBUS_EXEC_FOREVER);
		det_point(d, self, CVMBUS_PRIM_JOIN);
	}
	det_unlink(d, t);
	pthread_mutex_unlock(&d->lock);
	/* t's pthread has handed the baton on and is returning; this real join
	 * waits for nothing else. */
	pthread_join(t->pt, NULL);
	if (ret)
		*ret = t->ret;
	det_free_thread(t);
	return 0;
}

/* ---- mutex ------------------------------------------------------------------------ */

static void det_mutex_init(struct cvmbus_mutex *m)
{
	m->u.det.owner = 0;
}

static void det_mutex_destroy(struct cvmbus_mutex *m)
{
}

/* Setup code may lock and unlock outside a run (no other thread exists
 * then); anything that would block there can never be woken. */
static bool det_outside(struct det_exec *d, const char *what)
{
	bool running;

	pthread_mutex_lock(&d->lock);
	running = d->running;
	pthread_mutex_unlock(&d->lock);
	if (running)
		exec_die("det: %s called from a thread outside the run", what);
	return true;
}

static void det_mutex_lock(struct cvmbus_mutex *m)
{
	struct det_exec *d = det_of(m->exec);
	struct cvmbus_thread *self = det_self(d);

	if (!self && det_outside(d, "lock")) {
		if (m->u.det.owner)
			exec_die("det: lock of held mutex \"%s\" outside a run",
				 det_obj_name(m->name));
		m->u.det.owner = DET_OUTSIDER;
		return;
	}
	pthread_mutex_lock(&d->lock);
	det_point(d, self, CVMBUS_PRIM_LOCK);
	while (m->u.det.owner) {
		det_block(self, EXEC_W_MUTEX, m, CVMBUS_EXEC_FOREVER);
		det_point(d, self, CVMBUS_PRIM_LOCK);
	}
	m->u.det.owner = self->id;
	pthread_mutex_unlock(&d->lock);
}

static int det_mutex_trylock(struct cvmbus_mutex *m)
{
	struct det_exec *d = det_of(m->exec);
	struct cvmbus_thread *self = det_self(d);
	int err = 0;

	if (!self && det_outside(d, "trylock")) {
		if (m->u.det.owner)
			return -EBUSY;
		m->u.det.owner = DET_OUTSIDER;
		return 0;
	}
	pthread_mutex_lock(&d->lock);
	det_point(d, self, CVMBUS_PRIM_TRYLOCK);
	if (m->u.det.owner)
		err = -EBUSY;
	else
		m->u.det.owner = self->id;
	pthread_mutex_unlock(&d->lock);
	return err;
}

/* Release m (det->lock held) and make its waiters contend again. */
static void det_release(struct det_exec *d, struct cvmbus_mutex *m,
			struct cvmbus_thread *self)
{
	if (m->u.det.owner != self->id)
		exec_die("det: unlock of mutex \"%s\" by thread %" PRIu32
			 " \"%s\", which does not hold it", det_obj_name(m->name),
			 self->id, self->name);
	m->u.det.owner = 0;
	det_wake_all(d, EXEC_W_MUTEX, m);
}

static void det_mutex_unlock(struct cvmbus_mutex *m)
{
	struct det_exec *d = det_of(m->exec);
	struct cvmbus_thread *self = det_self(d);

	if (!self && det_outside(d, "unlock")) {
		if (m->u.det.owner != DET_OUTSIDER)
			exec_die("det: unlock of mutex \"%s\" not held outside the run",
				 det_obj_name(m->name));
		m->u.det.owner = 0;
		return;
	}
	pthread_mutex_lock(&d->lock);
	det_release(d, m, self);
	det_point(d, self, CVMBUS_PRIM_UNLOCK);
	pthread_mutex_unlock(&d->lock);
}

/* ---- condition variable ------------------------------------------------------------ */

static void det_cond_init(struct cvmbus_cond *c)
{
	c->u.det.unused = 0;
}

static void det_cond_destroy(struct cvmbus_cond *c)
{
}

static int det_cond_wait(struct cvmbus_cond *c, struct cvmbus_mutex *m,
			 uint64_t deadline_ns)
{
	struct det_exec *d = det_of(c->exec);
	struct cvmbus_thread *self = det_self_or_die(d, "cond wait");
	int res;

	pthread_mutex_lock(&d->lock);
	/* Release and block in one step: with det->lock held no signal can
	 * slip in between, which is the atomicity a condvar promises. */
	det_release(d, m, self);
	det_block(self, EXEC_W_COND, c, deadline_ns);
	self->wait_ticket = ++d->ticket;
	det_point(d, self, CVMBUS_PRIM_WAIT);
	res = self->wait_result;
	while (m->u.det.owner) {
		det_block(self, EXEC_W_MUTEX, m, CVMBUS_EXEC_FOREVER);
		det_point(d, self, CVMBUS_PRIM_LOCK);
	}
	m->u.det.owner = self->id;
	pthread_mutex_unlock(&d->lock);
	return res;
}

static void det_cond_wake(struct cvmbus_cond *c, bool all)
{
	struct det_exec *d = det_of(c->exec);
	struct cvmbus_thread *self = det_self(d);
	struct cvmbus_thread *first = NULL;

	/* Outside a run no thread can be waiting. */
	if (!self && det_outside(d, all ? "broadcast" : "signal"))
		return;
	pthread_mutex_lock(&d->lock);
	for (struct cvmbus_thread *t = d->threads; t; t = t->next) {
		if (t->state != EXEC_T_BLOCKED || t->wait != EXEC_W_COND ||
		    t->wait_obj != c)
			continue;
		if (all)
			det_wake(t, 0);
		else if (!first || t->wait_ticket < first->wait_ticket)
			first = t;
	}
	/* Signal wakes the longest waiter: FIFO, deterministic. */
	if (first)
		det_wake(first, 0);
	det_point(d, self, all ? CVMBUS_PRIM_BROADCAST : CVMBUS_PRIM_SIGNAL);
	pthread_mutex_unlock(&d->lock);
}

static void det_cond_signal(struct cvmbus_cond *c)
{
	det_cond_wake(c, false);
}

static void det_cond_broadcast(struct cvmbus_cond *c)
{
	det_cond_wake(c, true);
}

/* ---- the public det-only queries ----------------------------------------------------- */

static struct det_exec *det_checked(const struct cvmbus_exec *exec)
{
	return exec->ops->kind == CVMBUS_EXEC_DET ? det_of(exec) : NULL;
}

void cvmbus_exec_det_set_seed(struct cvmbus_exec *exec, uint64_t seed)
{
	struct det_exec *d = det_checked(exec);

	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->seed = seed;
	pthread_mutex_unlock(&d->lock);
}

uint64_t cvmbus_exec_det_seed(const struct cvmbus_exec *exec)
{
	struct det_exec *d = det_checked(exec);

	return d ? d->seed : 0;
}

uint64_t cvmbus_exec_det_hash(const struct cvmbus_exec *exec)
{
	struct det_exec *d = det_checked(exec);

	return d ? d->hash : 0;
}

uint64_t cvmbus_exec_det_steps(const struct cvmbus_exec *exec)
{
	struct det_exec *d = det_checked(exec);

	return d ? d->step : 0;
}

const struct cvmbus_exec_trace_entry *
cvmbus_exec_det_trace(const struct cvmbus_exec *exec, size_t *n)
{
	struct det_exec *d = det_checked(exec);

	*n = d ? d->trace_len : 0;
	return d ? d->trace : NULL;
}

int cvmbus_exec_det_trace_write(const struct cvmbus_exec *exec, FILE *f)
{
	size_t n;
	const struct cvmbus_exec_trace_entry *e = cvmbus_exec_det_trace(exec, &n);

	for (size_t i = 0; i < n; i++) {
		if (fprintf(f, "%" PRIu64 " %" PRIu64 " %" PRIu32 " %s %" PRIu32 "\n",
			    e[i].step, e[i].time_ns, e[i].tid,
			    cvmbus_exec_prim_name((enum cvmbus_exec_prim)e[i].prim),
			    e[i].next_tid) < 0)
			return -EIO;
	}
	return 0;
}

const char *cvmbus_exec_det_report(const struct cvmbus_exec *exec)
{
	struct det_exec *d = det_checked(exec);

	return d && d->report ? d->report : "";
}

const struct exec_ops exec_det_ops = {
	.kind = CVMBUS_EXEC_DET,
	.destroy = det_destroy,
	.run = det_run,
	.now = det_now_op,
	.sleep = det_sleep,
	.yield = det_yield,
	.point = det_yield,
	.spawn = det_spawn,
	.join = det_join,
	.mutex_init = det_mutex_init,
	.mutex_destroy = det_mutex_destroy,
	.mutex_lock = det_mutex_lock,
	.mutex_trylock = det_mutex_trylock,
	.mutex_unlock = det_mutex_unlock,
	.cond_init = det_cond_init,
	.cond_destroy = det_cond_destroy,
	.cond_wait = det_cond_wait,
	.cond_signal = det_cond_signal,
	.cond_broadcast = det_cond_broadcast,
};
