/* SPDX-License-Identifier: MIT */
/*
 * Verbosity, the progress bar and the configuration of a VM run, as the
 * subcommands of the cvmbus tool share them (cli.h). The one piece
 * of process-wide state here, the verbosity, is written once by main()
 * before any subcommand runs and only read afterwards; the progress bar is
 * a struct its caller owns.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cvmbus/vm_config.h>

#include "cli.h"
#include "commands.h"

#define PROGRESS_DELAY_NS  (500ull * 1000000ull) /* nothing before this */
#define PROGRESS_PERIOD_NS (100ull * 1000000ull) /* then at most 10 redraws/s */
#define PROGRESS_WIDTH     30

static int verbosity;

void tool_set_verbosity(int v)
{
	verbosity = v < -1 ? -1 : v > 2 ? 2 : v;
}

int tool_verbosity(void)
{
	return verbosity;
}

void tool_apply_verbosity(enum cvmbus_log_level dflt)
{
	static const enum cvmbus_log_level levels[] = { CVMBUS_LOG_ERROR, CVMBUS_LOG_WARN,
							CVMBUS_LOG_INFO, CVMBUS_LOG_DEBUG };

	cvmbus_log_set_level(verbosity ? levels[verbosity + 1] : dflt);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	/* Wall time on purpose: under the deterministic executor the run's
	 * clock is virtual, and a person watches the real one. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void tool_progress_init(struct tool_progress *p, const char *label, const char *unit,
			uint64_t total)
{
	*p = (struct tool_progress){
		.label = label,
		.unit = unit,
		.total = total,
		.enabled = total > 0 && verbosity >= 0 && isatty(STDERR_FILENO),
		.start_ns = now_ns(),
	};
}

void tool_progress_update(struct tool_progress *p, uint64_t done)
{
	char bar[PROGRESS_WIDTH + 1];
	uint64_t t, filled;
	unsigned int pct;

	p->done = done > p->total ? p->total : done;
	if (!p->enabled)
		return;
	t = now_ns();
	if (t - p->start_ns < PROGRESS_DELAY_NS || (p->drawn && t - p->last_ns < PROGRESS_PERIOD_NS))
		return;
	p->last_ns = t;
	filled = p->done * PROGRESS_WIDTH / p->total;
	pct = (unsigned int)(p->done * 100 / p->total);
	for (unsigned int i = 0; i < PROGRESS_WIDTH; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[PROGRESS_WIDTH] = '\0';
	/* \r and an erase-to-end-of-line: one line, redrawn in place. */
	fprintf(stderr, "\r%s [%s] %3u%% %llu/%llu %s, %.1f s\033[K", p->label, bar, pct,
		(unsigned long long)p->done, (unsigned long long)p->total, p->unit,
		(double)(t - p->start_ns) / 1e9);
	fflush(stderr);
	p->drawn = true;
}

void tool_progress_done(struct tool_progress *p)
{
	if (p->drawn) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		p->drawn = false;
	}
}

/* ---- the configuration of a VM run ------------------------------------------ */

/* Split "--name=value" / "--name" into name and inline value. */
static const char *long_name(const char *arg, char *buf, size_t cap, const char **inline_value)
{
	const char *eq;

	*inline_value = NULL;
	if (strncmp(arg, "--", 2) || !arg[2])
		return NULL;
	eq = strchr(arg + 2, '=');
	if (!eq)
		return arg + 2;
	if ((size_t)(eq - arg - 2) >= cap)
		return NULL;
	memcpy(buf, arg + 2, (size_t)(eq - arg - 2));
	buf[eq - arg - 2] = '\0';
	*inline_value = eq + 1;
	return buf;
}

static bool skipped(const char *arg, const char *const *skip)
{
	for (; skip && *skip; skip++)
		if (!strcmp(arg, *skip))
			return true;
	return false;
}

int tool_setup_configure(const char *who, int argc, char **argv, const char *const *skip,
			 struct cvmbus_vm_setup *s, char **config_text)
{
	struct cvmbus_vm_setup_builder *b;
	char err[CVMBUS_VM_SETUP_ERR_MAX];
	const char *config = NULL;
	int rc, ret = CVMBUS_EXIT_USAGE;

	*config_text = NULL;
	/* The file first, wherever it stands: options override it whatever
	 * their order, as they override the default. */
	for (int i = 1; i < argc; i++) {
		const char *c = NULL;

		if (!strcmp(argv[i], "--config")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "%s: --config needs a file\n", who);
				return CVMBUS_EXIT_USAGE;
			}
			c = argv[++i];
		} else if (!strncmp(argv[i], "--config=", 9)) {
			c = argv[i] + 9;
		}
		if (c && config) {
			fprintf(stderr, "%s: --config given twice\n", who);
			return CVMBUS_EXIT_USAGE;
		}
		if (c)
			config = c;
	}
	if (cvmbus_vm_setup_builder_new(&b)) {
		fprintf(stderr, "%s: out of memory\n", who);
		return CVMBUS_EXIT_FAILURE;
	}
	if (config && (rc = cvmbus_vm_setup_builder_load(b, config, err, sizeof(err)))) {
		fprintf(stderr, "%s: %s\n", who, err);
		goto out;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *value, *name;
		char nbuf[48];
		int has_arg;

		if (!strcmp(a, "--config")) {
			i++;
			continue;
		}
		if (!strncmp(a, "--config=", 9) || skipped(a, skip))
			continue;
		name = long_name(a, nbuf, sizeof(nbuf), &value);
		has_arg = name ? cvmbus_vm_setup_option_has_arg(name) : -1;
		if (has_arg < 0) {
			fprintf(stderr, "%s: unknown option '%s' (see '%s --help')\n", who, a, who);
			goto out;
		}
		if (has_arg && !value) {
			if (i + 1 >= argc) {
				fprintf(stderr, "%s: --%s needs a value\n", who, name);
				goto out;
			}
			value = argv[++i];
		}
		rc = cvmbus_vm_setup_builder_option(b, name, value, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "%s: %s\n", who, err);
			if (rc == -ENOMEM)
				ret = CVMBUS_EXIT_FAILURE;
			goto out;
		}
	}
	rc = cvmbus_vm_setup_builder_finish(b, s, err, sizeof(err));
	if (rc) {
		/* Name the file too when there is one: the field may be in it. */
		fprintf(stderr, "%s: %s%s%s\n", who, config ? config : "", config ? ": " : "", err);
		goto out;
	}
	*config_text = cvmbus_vm_setup_to_json(s);
	ret = 0;
out:
	cvmbus_vm_setup_builder_free(b);
	return ret;
}
