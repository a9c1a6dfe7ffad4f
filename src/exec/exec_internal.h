/* SPDX-License-Identifier: MIT */
/*
 * What the two executors of src/exec share and what they implement: the
 * operations table that every public call in exec.h dispatches through, the
 * executor and thread records, and the timer service (written once, against
 * the public interface, so that it is deterministic under det for free).
 * Private to src/exec.
 */
#ifndef CVMBUS_EXEC_INTERNAL_H
#define CVMBUS_EXEC_INTERNAL_H

#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "cvmbus/exec.h"

/* A thread's life as the det scheduler sees it (native uses only EXITED). */
enum exec_tstate {
	EXEC_T_RUNNABLE = 1,
	EXEC_T_BLOCKED,
	EXEC_T_EXITED,
};

/* What a blocked det thread waits for; wait_obj points at that object. */
enum exec_wait {
	EXEC_W_NONE = 0,
	EXEC_W_MUTEX, /* wait_obj: struct cvmbus_mutex, taken by another thread */
	EXEC_W_COND,  /* wait_obj: struct cvmbus_cond, until signalled or deadline */
	EXEC_W_JOIN,  /* wait_obj: struct cvmbus_thread, until it exits */
	EXEC_W_SLEEP, /* until wait_deadline */
};

struct cvmbus_thread {
	struct cvmbus_exec *exec;
	uint32_t id;
	char name[CVMBUS_THREAD_NAME_MAX];
	cvmbus_thread_fn fn;
	void *arg;
	int ret;
	pthread_t pt;
	struct cvmbus_thread *next; /* the executor's threads, creation order */
	enum exec_tstate state;

	/* Deterministic executor only. */
	pthread_cond_t go;           /* signalled when this thread gets the baton */
	enum exec_wait wait;
	const void *wait_obj;
	uint64_t wait_deadline;      /* virtual ns, CVMBUS_EXEC_FOREVER: none */
	uint64_t wait_ticket;        /* FIFO order among a cond's waiters */
	int wait_result;             /* 0, or -ETIMEDOUT when the deadline woke it */
	jmp_buf unwind;              /* where a failed run unwinds this thread to */
};

struct exec_ops {
	enum cvmbus_exec_kind kind;
	void (*destroy)(struct cvmbus_exec *exec);
	int (*run)(struct cvmbus_exec *exec, cvmbus_thread_fn fn, void *arg,
		   int *main_ret);
	uint64_t (*now)(const struct cvmbus_exec *exec);
	void (*sleep)(struct cvmbus_exec *exec, uint64_t ns);
	void (*yield)(struct cvmbus_exec *exec);
	void (*point)(struct cvmbus_exec *exec);
	/* t is allocated and named by the caller; the executor assigns the id,
	 * starts it, and owns it from then on (frees it on failure too). */
	int (*spawn)(struct cvmbus_exec *exec, struct cvmbus_thread *t);
	int (*join)(struct cvmbus_thread *t, int *ret);
	void (*mutex_init)(struct cvmbus_mutex *m);
	void (*mutex_destroy)(struct cvmbus_mutex *m);
	void (*mutex_lock)(struct cvmbus_mutex *m);
	int (*mutex_trylock)(struct cvmbus_mutex *m);
	void (*mutex_unlock)(struct cvmbus_mutex *m);
	void (*cond_init)(struct cvmbus_cond *c);
	void (*cond_destroy)(struct cvmbus_cond *c);
	int (*cond_wait)(struct cvmbus_cond *c, struct cvmbus_mutex *m,
			 uint64_t deadline_ns);
	void (*cond_signal)(struct cvmbus_cond *c);
	void (*cond_broadcast)(struct cvmbus_cond *c);
};

/* The per-executor timer service (timer.c). */
struct exec_timers {
	struct cvmbus_mutex lock;
	struct cvmbus_cond cond;      /* the timer thread: new earliest timer */
	struct cvmbus_cond idle;      /* cancel: the running callback returned */
	struct cvmbus_timer *head;    /* armed timers by (deadline, seq) */
	uint64_t seq;
	struct cvmbus_timer *running; /* callback in progress, or NULL */
	struct cvmbus_thread *thread; /* the timer thread, live or exited */
	bool live;                    /* the timer thread is in its loop */
};

struct cvmbus_exec {
	const struct exec_ops *ops;
	void *impl; /* struct native_exec or struct det_exec */
	struct exec_timers timers;
};

extern const struct exec_ops exec_native_ops;
extern const struct exec_ops exec_det_ops;

/* The executor thread running on this OS thread, or NULL. */
extern _Thread_local struct cvmbus_thread *exec_tls_self;

int exec_native_init(struct cvmbus_exec *exec);
int exec_det_init(struct cvmbus_exec *exec, const struct cvmbus_exec_det_opts *o);

void exec_timers_init(struct cvmbus_exec *exec);
/* Native destroy: disarm everything and stop the timer thread. */
void exec_timers_stop(struct cvmbus_exec *exec);
/* After a run reaped every thread: forget the (freed) timer thread; after a
 * failed det run also drop armed timers and reset the service's lock. */
void exec_timers_after_run(struct cvmbus_exec *exec, bool failed);
void exec_timers_destroy(struct cvmbus_exec *exec);

/* A violated contract (unlock by a non-owner, a blocking det call from
 * outside the run): report and abort, as DESIGN allows for programming
 * errors. */
_Noreturn void exec_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

uint64_t exec_sat_add(uint64_t a, uint64_t b);

#endif /* CVMBUS_EXEC_INTERNAL_H */
