/* SPDX-License-Identifier: MIT */
/*
 * The cvmbus logger: a leveled printf-style log with a settable sink and
 * level, and a per-call-site rate limit for lines a hostile peer can provoke
 * at will ("rejected GPADL from host", once per message, would otherwise let
 * the host flood our log). It lives with src/exec because it is the one other
 * place allowed process-wide state, and because it prefixes each line with
 * the current executor thread and its (possibly virtual) time.
 *
 * Thread-safe; a line below the level costs one atomic load.
 */
#ifndef CVMBUS_LOG_H
#define CVMBUS_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum cvmbus_log_level {
	CVMBUS_LOG_ERROR = 0,
	CVMBUS_LOG_WARN = 1,
	CVMBUS_LOG_INFO = 2,
	CVMBUS_LOG_DEBUG = 3,
};

/* Receives each line that passed the level and rate limits: msg is the
 * formatted text without prefix or newline. Called with the logger's lock
 * held, so lines never interleave; a sink must not log, nor wait through
 * cvmbus/exec.h (a det run reports its failure through the log). */
typedef void (*cvmbus_log_sink)(void *ctx, enum cvmbus_log_level level,
				const char *msg);

/* Lines above level are dropped. Default: CVMBUS_LOG_INFO. */
void cvmbus_log_set_level(enum cvmbus_log_level level);
enum cvmbus_log_level cvmbus_log_get_level(void);
bool cvmbus_log_enabled(enum cvmbus_log_level level);
/* NULL restores the default sink: stderr, one line
 * "cvmbus: <level>: [<thread> <seconds>] <msg>". */
void cvmbus_log_set_sink(cvmbus_log_sink sink, void *ctx);
/* At most burst lines per interval_ns per rate-limited call site.
 * Defaults: 10 lines per 5 s (as Linux's printk_ratelimit). */
void cvmbus_log_set_ratelimit(uint64_t interval_ns, uint32_t burst);
/* "error", "warn", "info", "debug". */
const char *cvmbus_log_level_name(enum cvmbus_log_level level);

void cvmbus_log(enum cvmbus_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One call site's rate-limit state; CVMBUS_LOG_RL declares it for you. The
 * window is measured on the executor clock of the calling thread when it has
 * one (virtual time under det, so that what is suppressed is deterministic)
 * and on CLOCK_MONOTONIC otherwise. */
struct cvmbus_log_ratelimit {
	const char *file;
	int line;
	uint64_t window_start_ns;
	uint32_t emitted;
	uint32_t suppressed;
	bool started;
};

/* Log unless this site already logged burst lines in the current window.
 * When a new window opens after suppression, a line first says how many were
 * suppressed. Returns whether the line was emitted. */
bool cvmbus_log_ratelimited(struct cvmbus_log_ratelimit *rl,
			    enum cvmbus_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A rate-limited line with its own per-site state:
 *   CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "host sent bad gpadl %u", id); */
#define CVMBUS_LOG_RL(level, ...)                                        \
	do {                                                             \
		static struct cvmbus_log_ratelimit cvmbus_log_rl_ = {    \
			.file = __FILE__, .line = __LINE__ };            \
		(void)cvmbus_log_ratelimited(&cvmbus_log_rl_, (level),   \
					     __VA_ARGS__);               \
	} while (0)

#define cvmbus_log_error(...) cvmbus_log(CVMBUS_LOG_ERROR, __VA_ARGS__)
#define cvmbus_log_warn(...)  cvmbus_log(CVMBUS_LOG_WARN, __VA_ARGS__)
#define cvmbus_log_info(...)  cvmbus_log(CVMBUS_LOG_INFO, __VA_ARGS__)
#define cvmbus_log_debug(...) cvmbus_log(CVMBUS_LOG_DEBUG, __VA_ARGS__)

#endif /* CVMBUS_LOG_H */
