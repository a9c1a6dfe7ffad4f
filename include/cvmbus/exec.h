/* SPDX-License-Identifier: MIT */
/*
 * The concurrency interface of cvmbus: threads, mutexes and condition
 * variables, completions, doorbells (a bitmask of wake-up reasons a thread
 * waits on), timers, a monotonic clock and bounded waits. Every party of the
 * system (guest, paravisor, hypervisor model, host) waits only through this
 * header, never through pthreads, so that the same code runs on two executors
 * chosen at run time by the `struct cvmbus_exec *` it is given:
 *
 *   native         real pthreads, CLOCK_MONOTONIC, real time;
 *   deterministic  real pthreads underneath, but one thread runs at a time and
 *                  a seeded PRNG picks the next one at every primitive; time
 *                  is virtual and jumps only when every thread is blocked. A
 *                  seed names one schedule, byte for byte; a deadlock or a
 *                  virtual-time deadline ends the run with an error and a
 *                  report that names every blocked thread.
 *
 * This is the layer below the platform model (src/hw) and above the ring:
 * rings in shared memory use atomics directly, everything that *waits* comes
 * here. See docs/EXEC.md for the semantics and how to replay a seed.
 *
 * Errors are negative errno values. Objects (mutex, cond, completion,
 * doorbell, timer) are embedded by the caller and bound to one executor at
 * init; their fields are private even though the layout is visible.
 */
#ifndef CVMBUS_EXEC_H
#define CVMBUS_EXEC_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct cvmbus_exec;
struct cvmbus_thread;

/* A timeout or deadline that never expires. */
#define CVMBUS_EXEC_FOREVER UINT64_MAX

/* Longest thread name kept, terminating NUL included; longer names are cut. */
#define CVMBUS_THREAD_NAME_MAX 32

enum cvmbus_exec_kind {
	CVMBUS_EXEC_NATIVE = 1,
	CVMBUS_EXEC_DET = 2,
};

/* A thread's body. Its return value is handed to cvmbus_thread_join(). */
typedef int (*cvmbus_thread_fn)(void *arg);

/* ---- executors ---------------------------------------------------------- */

/* Options of the deterministic executor; a zero field takes its default. */
struct cvmbus_exec_det_opts {
	uint64_t seed;        /* the only source of scheduling choice */
	uint64_t deadline_ns; /* virtual time after which a run fails; 0: 60 s */
	uint64_t max_steps;   /* schedule points before a run fails; 0: 10^7 */
	size_t trace_cap;     /* trace entries kept (the hash covers all); 0: 65536 */
};

/* 0, or -ENOMEM. */
int cvmbus_exec_native_create(struct cvmbus_exec **out);
/* opts may be NULL (seed 0, defaults). 0, or -ENOMEM. */
int cvmbus_exec_det_create(struct cvmbus_exec **out,
			   const struct cvmbus_exec_det_opts *opts);
/* Call only when no thread of the executor is running; stops the native
 * timer thread. Safe on NULL. */
void cvmbus_exec_destroy(struct cvmbus_exec *exec);
enum cvmbus_exec_kind cvmbus_exec_kind(const struct cvmbus_exec *exec);

/*
 * Run main_fn(arg) on a new executor thread named "main" and return once every
 * thread of the executor has exited. Threads left unjoined are reaped.
 * *main_ret (if not NULL) receives main_fn's return value.
 *   0          every thread exited
 *   -EBUSY     a run is already in progress on this executor
 *   -EAGAIN    the main thread could not be created
 *   det only:  -EDEADLK every thread blocked and no timeout pending;
 *              -ETIMEDOUT virtual time would pass opts.deadline_ns;
 *              -ELOOP opts.max_steps schedule points were taken.
 * On a det failure every thread is unwound at its blocking point (no code of
 * it runs again), cvmbus_exec_det_report() says who waited on what, and the
 * objects the run used may only be destroyed.
 */
int cvmbus_exec_run(struct cvmbus_exec *exec, cvmbus_thread_fn main_fn,
		    void *arg, int *main_ret);
/* cvmbus_exec_run() for a det executor; -EINVAL on a native one. */
int cvmbus_exec_det_run(struct cvmbus_exec *exec, cvmbus_thread_fn main_fn,
			void *arg);

/* The seed the next det run uses (runs always restart their PRNG from it). */
void cvmbus_exec_det_set_seed(struct cvmbus_exec *exec, uint64_t seed);
uint64_t cvmbus_exec_det_seed(const struct cvmbus_exec *exec);
/* CVMBUS_EXEC_SEED from the environment (decimal or 0x hex), else fallback:
 * how a test's seed sweep is replayed with one seed. */
uint64_t cvmbus_exec_seed_from_env(uint64_t fallback);

/* ---- the schedule trace (deterministic executor) ------------------------ */

/* The primitive at which a schedule point was taken. */
enum cvmbus_exec_prim {
	CVMBUS_PRIM_START = 1, /* the run's first decision */
	CVMBUS_PRIM_SPAWN,
	CVMBUS_PRIM_EXIT,
	CVMBUS_PRIM_JOIN,
	CVMBUS_PRIM_LOCK,
	CVMBUS_PRIM_TRYLOCK,
	CVMBUS_PRIM_UNLOCK,
	CVMBUS_PRIM_WAIT,      /* condition wait (completion, doorbell, timer) */
	CVMBUS_PRIM_SIGNAL,
	CVMBUS_PRIM_BROADCAST,
	CVMBUS_PRIM_YIELD,     /* cvmbus_exec_yield() and cvmbus_exec_point() */
	CVMBUS_PRIM_SLEEP,
};
const char *cvmbus_exec_prim_name(enum cvmbus_exec_prim prim);

/* One scheduling decision: thread `tid` reached `prim` at step `step`, and
 * `next_tid` was chosen to run on, at virtual time `time_ns`. */
struct cvmbus_exec_trace_entry {
	uint64_t step;
	uint64_t time_ns;
	uint32_t tid;
	uint32_t next_tid;
	uint32_t prim; /* enum cvmbus_exec_prim */
};

/* FNV-1a 64 over every decision of the last run (all of them, even past
 * trace_cap): equal seeds give equal hashes. */
uint64_t cvmbus_exec_det_hash(const struct cvmbus_exec *exec);
/* Schedule points taken by the last run. */
uint64_t cvmbus_exec_det_steps(const struct cvmbus_exec *exec);
/* The first min(steps, trace_cap) decisions of the last run; *n gets the
 * count. Valid until the next run or destroy. */
const struct cvmbus_exec_trace_entry *
cvmbus_exec_det_trace(const struct cvmbus_exec *exec, size_t *n);
/* One line per kept decision: "step time_ns tid prim next_tid". 0 or -EIO. */
int cvmbus_exec_det_trace_write(const struct cvmbus_exec *exec, FILE *f);
/* Why the last run failed (every live thread and what it waits on), or ""
 * after a clean run. Valid until the next run or destroy. */
const char *cvmbus_exec_det_report(const struct cvmbus_exec *exec);

/* ---- clock, current thread ------------------------------------------------ */

/* Nanoseconds since the executor was created (native, CLOCK_MONOTONIC) or
 * since the run began (det, virtual). Cheap: one vDSO call or one load. */
uint64_t cvmbus_exec_now_ns(const struct cvmbus_exec *exec);
/* now + timeout, saturating at CVMBUS_EXEC_FOREVER. */
uint64_t cvmbus_exec_deadline(const struct cvmbus_exec *exec, uint64_t timeout_ns);
void cvmbus_exec_sleep_ns(struct cvmbus_exec *exec, uint64_t ns);
/* Give way: native sched_yield(); det, a schedule point. Call it in loops
 * that poll shared memory. Under det a polling loop never advances time:
 * to wait for time to pass, sleep. */
void cvmbus_exec_yield(struct cvmbus_exec *exec);
/* A schedule point that costs nothing natively: mark places where another
 * thread's interleaving matters (between two stores to shared memory). */
void cvmbus_exec_point(struct cvmbus_exec *exec);

/* The calling thread as the executor knows it; NULL, id 0, name "-" for a
 * thread that no executor started. Thread-local reads, no locking: cheap
 * enough for every trace event. */
struct cvmbus_thread *cvmbus_thread_self(void);
uint32_t cvmbus_exec_thread_id(void);
const char *cvmbus_exec_thread_name(void);
/* The executor of the calling thread, or NULL. */
struct cvmbus_exec *cvmbus_exec_current(void);

/* ---- threads -------------------------------------------------------------- */

/* Start fn(arg) as a thread called name (NULL: "thread"). Under det only a
 * thread of a run may spawn. 0, -EAGAIN (no thread), -ENOMEM, -EPERM (det,
 * called from outside the run). */
int cvmbus_thread_spawn(struct cvmbus_exec *exec, struct cvmbus_thread **out,
			const char *name, cvmbus_thread_fn fn, void *arg);
/* Wait for t to exit, free it, give its return value. 0, -EINVAL (t is the
 * caller), -EPERM (det, called from outside the run). */
int cvmbus_thread_join(struct cvmbus_thread *t, int *ret);
uint32_t cvmbus_thread_id(const struct cvmbus_thread *t);
const char *cvmbus_thread_name(const struct cvmbus_thread *t);

/* ---- mutex and condition variable --------------------------------------- */

/* Names (may be NULL) appear in det failure reports; they are not copied, so
 * they must outlive the object (string literals, usually). */
struct cvmbus_mutex {
	struct cvmbus_exec *exec;
	const char *name;
	union {
		pthread_mutex_t native;
		struct {
			/* The holder's thread id (0: free). An id, not a pointer:
			 * a thread that exits holding a mutex is freed, and the
			 * report must still be able to say who held it. */
			uint32_t owner;
		} det;
	} u;
};

struct cvmbus_cond {
	struct cvmbus_exec *exec;
	const char *name;
	const char *kind; /* "cond", "completion", "doorbell", ... for reports */
	union {
		pthread_cond_t native; /* on CLOCK_MONOTONIC */
		struct {
			/* Det waiters are found by scanning the run's threads, so
			 * the object itself holds nothing. */
			uint64_t unused;
		} det;
	} u;
};

void cvmbus_mutex_init(struct cvmbus_mutex *m, struct cvmbus_exec *exec,
		       const char *name);
void cvmbus_mutex_destroy(struct cvmbus_mutex *m);
void cvmbus_mutex_lock(struct cvmbus_mutex *m);
/* 0 if taken, -EBUSY if held. */
int cvmbus_mutex_trylock(struct cvmbus_mutex *m);
void cvmbus_mutex_unlock(struct cvmbus_mutex *m);

void cvmbus_cond_init(struct cvmbus_cond *c, struct cvmbus_exec *exec,
		      const char *name);
void cvmbus_cond_destroy(struct cvmbus_cond *c);
/* m must be held; it is released while waiting and held again on return.
 * Wake-ups may be spurious: wait in a loop on a predicate. */
void cvmbus_cond_wait(struct cvmbus_cond *c, struct cvmbus_mutex *m);
/* As cond_wait, until the absolute executor time deadline_ns (see
 * cvmbus_exec_deadline()). 0, or -ETIMEDOUT once the deadline passed. */
int cvmbus_cond_wait_until(struct cvmbus_cond *c, struct cvmbus_mutex *m,
			   uint64_t deadline_ns);
void cvmbus_cond_signal(struct cvmbus_cond *c);
void cvmbus_cond_broadcast(struct cvmbus_cond *c);

/* ---- completion ------------------------------------------------------------ */

/* A counting event, as in Linux: complete() lets one wait() through,
 * complete_all() lets every present and future wait() through until reset(). */
struct cvmbus_completion {
	struct cvmbus_mutex lock;
	struct cvmbus_cond cond;
	uint32_t done;
	bool all;
};

void cvmbus_completion_init(struct cvmbus_completion *c,
			    struct cvmbus_exec *exec, const char *name);
void cvmbus_completion_destroy(struct cvmbus_completion *c);
/* 0, or -ETIMEDOUT after timeout_ns (CVMBUS_EXEC_FOREVER: never). */
int cvmbus_completion_wait(struct cvmbus_completion *c, uint64_t timeout_ns);
/* 0 if one completion was taken, -EAGAIN if none was there. */
int cvmbus_completion_try(struct cvmbus_completion *c);
void cvmbus_completion_complete(struct cvmbus_completion *c);
void cvmbus_completion_complete_all(struct cvmbus_completion *c);
void cvmbus_completion_reset(struct cvmbus_completion *c);

/* ---- doorbell ---------------------------------------------------------------- */

/* One waiter, many ringers; each ring ORs reason bits into a pending mask (as
 * an interrupt line latches). A vCPU's doorbell has, say, bit 0 "interrupt"
 * and bit 1 "stop": waiting on both is a wait-any. Rings of a bit that is
 * already pending coalesce, like eventfd signals. */
struct cvmbus_doorbell {
	struct cvmbus_mutex lock;
	struct cvmbus_cond cond;
	uint64_t pending;
	uint64_t rings; /* ring calls that set a new bit (statistics) */
};

void cvmbus_doorbell_init(struct cvmbus_doorbell *d, struct cvmbus_exec *exec,
			  const char *name);
void cvmbus_doorbell_destroy(struct cvmbus_doorbell *d);
/* bits == 0 does nothing. */
void cvmbus_doorbell_ring(struct cvmbus_doorbell *d, uint64_t bits);
/* Wait until a bit of mask is pending, then take (clear) and return in *fired
 * every pending bit of mask; bits outside mask stay pending. 0, -ETIMEDOUT
 * after timeout_ns, -EINVAL if mask == 0. fired may be NULL. */
int cvmbus_doorbell_wait(struct cvmbus_doorbell *d, uint64_t mask,
			 uint64_t timeout_ns, uint64_t *fired);
/* Take the pending bits of mask without waiting (0 if none). */
uint64_t cvmbus_doorbell_take(struct cvmbus_doorbell *d, uint64_t mask);

/* ---- timers ------------------------------------------------------------------ */

/* A one-shot timer. Its callback runs on the executor's timer thread ("timer",
 * started when a timer is armed and gone when none is), with no lock held; it
 * may re-arm its own timer, ring a doorbell, complete a completion. Timers
 * due at the same time fire in the order they were armed. Under det the
 * timer thread is an ordinary run thread, so timers are part of the schedule
 * and keep a run alive until they fire or are cancelled. */
struct cvmbus_timer;
typedef void (*cvmbus_timer_fn)(struct cvmbus_timer *t, void *arg);

struct cvmbus_timer {
	struct cvmbus_exec *exec;
	cvmbus_timer_fn fn;
	void *arg;
	uint64_t deadline_ns;
	uint64_t seq;
	struct cvmbus_timer *next;
	bool armed;
};

void cvmbus_timer_init(struct cvmbus_timer *t, struct cvmbus_exec *exec,
		       cvmbus_timer_fn fn, void *arg);
/* Arm (or move) the timer to fire delay_ns from now. 0, or -EAGAIN/-ENOMEM
 * if the timer thread could not be started, -EPERM (det, outside a run). */
int cvmbus_timer_arm(struct cvmbus_timer *t, uint64_t delay_ns);
/* The same at the absolute executor time deadline_ns. */
int cvmbus_timer_arm_at(struct cvmbus_timer *t, uint64_t deadline_ns);
/* Disarm. When this returns the callback is not running (unless the caller is
 * that callback) and will not run. 0 if the timer was armed, -ENOENT if not. */
int cvmbus_timer_cancel(struct cvmbus_timer *t);
bool cvmbus_timer_armed(struct cvmbus_timer *t);

#endif /* CVMBUS_EXEC_H */
