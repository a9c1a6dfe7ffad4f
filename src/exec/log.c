/* SPDX-License-Identifier: MIT */
/*
 * The logger (cvmbus/log.h): level filter, one sink, and per-call-site rate
 * limits. It is process-wide state by design (DESIGN allows it for the
 * logger and src/exec): a log is a property of the process, and threading a
 * logger handle through every party would buy nothing. It sits in src/exec
 * so that each line can name the executor thread that wrote it and its
 * executor time, which under det is virtual and therefore reproducible.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cvmbus/exec.h"
#include "cvmbus/log.h"

#define LOG_LINE_MAX 1024 /* longer lines are allocated, not cut */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int log_level = CVMBUS_LOG_INFO;
/* Guarded by log_lock. */
static cvmbus_log_sink log_sink;
static void *log_sink_ctx;
static uint64_t log_rl_interval_ns = 5000000000ull;
static uint32_t log_rl_burst = 10;

const char *cvmbus_log_level_name(enum cvmbus_log_level level)
{
	switch (level) {
	case CVMBUS_LOG_ERROR: return "error";
	case CVMBUS_LOG_WARN:  return "warn";
	case CVMBUS_LOG_INFO:  return "info";
	case CVMBUS_LOG_DEBUG: return "debug";
	}
	return "?";
}

void cvmbus_log_set_level(enum cvmbus_log_level level)
{
	atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

enum cvmbus_log_level cvmbus_log_get_level(void)
{
	return (enum cvmbus_log_level)atomic_load_explicit(&log_level,
							   memory_order_relaxed);
}

bool cvmbus_log_enabled(enum cvmbus_log_level level)
{
	return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void cvmbus_log_set_sink(cvmbus_log_sink sink, void *ctx)
{
	pthread_mutex_lock(&log_lock);
	log_sink = sink;
	log_sink_ctx = ctx;
	pthread_mutex_unlock(&log_lock);
}

void cvmbus_log_set_ratelimit(uint64_t interval_ns, uint32_t burst)
{
	pthread_mutex_lock(&log_lock);
	log_rl_interval_ns = interval_ns;
	log_rl_burst = burst;
	pthread_mutex_unlock(&log_lock);
}

/* The clock a line is stamped and rate-limited with: the writer's executor
 * clock if it has one, CLOCK_MONOTONIC otherwise. */
static bool log_exec_time(uint64_t *ns)
{
	struct cvmbus_exec *exec = cvmbus_exec_current();
	struct timespec ts;

	if (exec) {
		*ns = cvmbus_exec_now_ns(exec);
		return true;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	*ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return false;
}

static void log_default_sink(enum cvmbus_log_level level, const char *msg)
{
	uint64_t ns;

	if (log_exec_time(&ns))
		fprintf(stderr, "cvmbus: %s: [%s %" PRIu64 ".%09" PRIu64 "] %s\n",
			cvmbus_log_level_name(level), cvmbus_exec_thread_name(),
			ns / 1000000000u, ns % 1000000000u, msg);
	else
		fprintf(stderr, "cvmbus: %s: %s\n", cvmbus_log_level_name(level), msg);
}

/* log_lock held. */
static void log_emit_locked(enum cvmbus_log_level level, const char *msg)
{
	if (log_sink)
		log_sink(log_sink_ctx, level, msg);
	else
		log_default_sink(level, msg);
}

/* Format into buf, or into a heap string when the line is longer; returns
 * what to print (NULL only if even the allocation failed), *heap set when
 * it must be freed. */
static const char *log_format(char *buf, size_t size, char **heap,
			      const char *fmt, va_list ap)
{
	va_list again;
	int len;

	*heap = NULL;
	va_copy(again, ap);
	len = vsnprintf(buf, size, fmt, ap);
	if (len >= 0 && (size_t)len >= size) {
		*heap = malloc((size_t)len + 1);
		if (*heap)
			vsnprintf(*heap, (size_t)len + 1, fmt, again);
	}
	va_end(again);
	if (len < 0)
		return "(unprintable log line)";
	return *heap ? *heap : buf; /* on allocation failure, the cut line */
}

void cvmbus_log(enum cvmbus_log_level level, const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	char *heap;
	const char *msg;
	va_list ap;

	if (!cvmbus_log_enabled(level))
		return;
	va_start(ap, fmt);
	msg = log_format(buf, sizeof(buf), &heap, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&log_lock);
	log_emit_locked(level, msg);
	pthread_mutex_unlock(&log_lock);
	free(heap);
}

bool cvmbus_log_ratelimited(struct cvmbus_log_ratelimit *rl,
			    enum cvmbus_log_level level, const char *fmt, ...)
{
	char buf[LOG_LINE_MAX], note[160];
	char *heap;
	const char *msg;
	uint32_t suppressed = 0;
	uint64_t now;
	bool emit;
	va_list ap;

	if (!cvmbus_log_enabled(level))
		return false;
	(void)log_exec_time(&now);
	va_start(ap, fmt);
	msg = log_format(buf, sizeof(buf), &heap, fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&log_lock);
	/* A clock that went backwards (this site used from two executors)
	 * opens a new window rather than an endless one. */
	if (!rl->started || now < rl->window_start_ns ||
	    now - rl->window_start_ns >= log_rl_interval_ns) {
		suppressed = rl->suppressed;
		rl->started = true;
		rl->window_start_ns = now;
		rl->emitted = 0;
		rl->suppressed = 0;
	}
	emit = rl->emitted < log_rl_burst;
	if (emit) {
		rl->emitted++;
		if (suppressed) {
			snprintf(note, sizeof(note), "%" PRIu32 " lines suppressed "
				 "at %s:%d", suppressed, rl->file ? rl->file : "?",
				 rl->line);
			log_emit_locked(level, note);
		}
		log_emit_locked(level, msg);
	} else {
		rl->suppressed++;
	}
	pthread_mutex_unlock(&log_lock);
	free(heap);
	return emit;
}
