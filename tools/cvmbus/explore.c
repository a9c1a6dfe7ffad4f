/* SPDX-License-Identifier: MIT */
/*
 * `cvmbus explore`: run one racy scenario of schedule exploration under the
 * deterministic executor with one seed, and print its schedule hash and
 * outcome. This is how a seed that failed in the sweeps (tests/explore) is
 * replayed: the same seed gives the same schedule hash, and --trace writes
 * every scheduling decision so that two runs can be diffed. --count N runs
 * N consecutive seeds instead and prints only the failures and the rate.
 * Tool layer, over include/cvmbus/explore.h; docs/SECURITY.md ("Schedule
 * exploration") describes the scenarios.
 *
 * Exit codes (commands.h): 0 every seed passed; 1 a seed failed (an
 * invariant broke, or the run hung); 2 bad command line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cvmbus/explore.h>
#include <cvmbus/log.h>

#include "commands.h"

static void explore_usage(FILE *out)
{
	fprintf(out, "usage: cvmbus explore --scenario NAME --seed N [--trace FILE] [--verbose]\n"
		     "       cvmbus explore --scenario NAME --seed N --count M\n"
		     "       cvmbus explore --list\n"
		     "\n"
		     "Run a racy scenario of a small VM (host server with an echo device, guest)\n"
		     "under the deterministic executor with seed N (decimal or 0x hex), check its\n"
		     "invariants and print the schedule hash and the outcome. The same seed gives\n"
		     "the same hash on the same build. --trace writes one line per scheduling\n"
		     "decision; --count runs M seeds from N and prints the failures.\n"
		     "\n"
		     "scenarios:\n");
	for (unsigned int i = 0; i < CVMBUS_EXPLORE_SCENARIO_COUNT; i++)
		fprintf(out, "  %-20s %s\n",
			cvmbus_explore_scenario_name((enum cvmbus_explore_scenario)i),
			cvmbus_explore_scenario_summary((enum cvmbus_explore_scenario)i));
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return !errno && !*end;
}

static void print_result(const struct cvmbus_explore_result *r, FILE *out)
{
	const char *name = cvmbus_explore_scenario_name(r->scenario);

	fprintf(out, "scenario:      %s (%s)\n", name, cvmbus_explore_scenario_summary(r->scenario));
	fprintf(out, "seed:          %" PRIu64 "\n", r->seed);
	fprintf(out, "schedule hash: 0x%016" PRIx64 "\n", r->schedule_hash);
	fprintf(out, "steps:         %" PRIu64 "\n", r->steps);
	fprintf(out, "virtual time:  %" PRIu64 ".%09" PRIu64 " s\n", r->virtual_ns / 1000000000u,
		r->virtual_ns % 1000000000u);
	fprintf(out, "trace:         %" PRIu64 " events, hash 0x%016" PRIx64 "\n", r->trace_events,
		r->trace_hash);
	if (r->trigger == CVMBUS_EXPLORE_AFTER_TIME)
		fprintf(out, "action:        after %" PRIu64 " ns of virtual time, returned %d\n",
			r->delay_ns, r->action_status);
	else
		fprintf(out, "action:        after %u schedule points, returned %d\n", r->points,
			r->action_status);
	fprintf(out, "requests:      %u (%u succeeded, %u failed cleanly, %u bad)\n", r->requests,
		r->succeeded, r->failed, r->bad);
	fprintf(out, "guest pages:   %" PRId64 " lost, %" PRIu64 " kept out by design\n",
		r->pages_lost, r->pages_kept_out);
	fprintf(out, "outcome:       %s\n", r->outcome);
	if (r->exec_status)
		fprintf(out, "executor:      %d\n", r->exec_status);
	if (r->passed)
		fprintf(out, "verdict:       pass\n");
	else
		fprintf(out, "verdict:       FAIL: %s\n", r->violation);
	if (r->report[0])
		fprintf(out, "%s\n", r->report);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --count: a sweep from the command line, for the seeds-per-second figure
 * and for hunting with a different range than the tests use. */
static int explore_sweep(enum cvmbus_explore_scenario sc, uint64_t first, uint64_t count,
			 const char *self)
{
	uint64_t failures = 0;
	double t0 = now_s(), dt;

	for (uint64_t i = 0; i < count; i++) {
		struct cvmbus_explore_result r;
		char line[1024];
		int rc = cvmbus_explore_run(sc, first + i, NULL, &r);

		if (rc) {
			fprintf(stderr, "cvmbus explore: seed %" PRIu64 ": cannot run (%d)\n",
				first + i, rc);
			return CVMBUS_EXIT_FAILURE;
		}
		if (r.passed)
			continue;
		failures++;
		cvmbus_explore_format_failure(&r, self, line, sizeof(line));
		printf("%s\n", line);
	}
	dt = now_s() - t0;
	printf("%s: %" PRIu64 " seeds from %" PRIu64 ", %" PRIu64 " failed, %.2f s, %.1f seeds/s\n",
	       cvmbus_explore_scenario_name(sc), count, first, failures, dt,
	       dt > 0 ? (double)count / dt : 0.0);
	return failures ? CVMBUS_EXIT_FAILURE : CVMBUS_EXIT_OK;
}

int cmd_explore(int argc, char **argv)
{
	struct cvmbus_explore_opts opts;
	struct cvmbus_explore_result r;
	enum cvmbus_explore_scenario sc = CVMBUS_EXPLORE_SCENARIO_COUNT;
	const char *trace_path = NULL;
	uint64_t seed = 0, count = 0;
	bool have_seed = false, verbose = false;
	FILE *trace = NULL;
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			explore_usage(stdout);
			return CVMBUS_EXIT_OK;
		} else if (!strcmp(a, "--list")) {
			for (unsigned int k = 0; k < CVMBUS_EXPLORE_SCENARIO_COUNT; k++)
				printf("%s\n",
				       cvmbus_explore_scenario_name((enum cvmbus_explore_scenario)k));
			return CVMBUS_EXIT_OK;
		} else if (!strcmp(a, "--scenario") && i + 1 < argc) {
			if (cvmbus_explore_scenario_parse(argv[++i], &sc)) {
				fprintf(stderr,
					"cvmbus explore: unknown scenario '%s' (see --list)\n",
					argv[i]);
				return CVMBUS_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--seed") && i + 1 < argc) {
			if (!parse_u64(argv[++i], &seed)) {
				fprintf(stderr, "cvmbus explore: --seed: '%s' is not a number\n",
					argv[i]);
				return CVMBUS_EXIT_USAGE;
			}
			have_seed = true;
		} else if (!strcmp(a, "--count") && i + 1 < argc) {
			if (!parse_u64(argv[++i], &count) || !count) {
				fprintf(stderr, "cvmbus explore: --count: '%s' is not 1 or more\n",
					argv[i]);
				return CVMBUS_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--trace") && i + 1 < argc) {
			trace_path = argv[++i];
		} else if (!strcmp(a, "--verbose")) {
			verbose = true;
		} else {
			fprintf(stderr,
				"cvmbus explore: unknown option '%s' (see 'cvmbus explore --help')\n",
				a);
			return CVMBUS_EXIT_USAGE;
		}
	}
	if (sc == CVMBUS_EXPLORE_SCENARIO_COUNT || !have_seed) {
		fprintf(stderr, "cvmbus explore: --scenario and --seed are required\n");
		explore_usage(stderr);
		return CVMBUS_EXIT_USAGE;
	}
	if (count && trace_path) {
		fprintf(stderr, "cvmbus explore: --trace replays one seed: not with --count\n");
		return CVMBUS_EXIT_USAGE;
	}
	/* The scenarios make parties fail on purpose, and those failures are
	 * logged as warnings; the verdict says whether any mattered. */
	if (!verbose)
		cvmbus_log_set_level(CVMBUS_LOG_ERROR);
	/* main() hands a subcommand argv + 1, so argv[-1] is the program as
	 * it was invoked: the replay lines name the very binary that ran. */
	if (count)
		return explore_sweep(sc, seed, count, argv[-1] ? argv[-1] : "cvmbus");

	memset(&opts, 0, sizeof(opts));
	if (trace_path) {
		trace = fopen(trace_path, "w");
		if (!trace) {
			fprintf(stderr, "cvmbus explore: cannot write %s: %s\n", trace_path,
				strerror(errno));
			return CVMBUS_EXIT_FAILURE;
		}
		opts.trace = trace;
	}
	rc = cvmbus_explore_run(sc, seed, &opts, &r);
	if (trace && fclose(trace)) {
		fprintf(stderr, "cvmbus explore: cannot write %s\n", trace_path);
		return CVMBUS_EXIT_FAILURE;
	}
	if (rc) {
		fprintf(stderr, "cvmbus explore: cannot run (%d)\n", rc);
		return CVMBUS_EXIT_FAILURE;
	}
	print_result(&r, stdout);
	if (trace_path)
		printf("schedule trace: %s (%" PRIu64 " lines: steps 0 to %" PRIu64 ")\n",
		       trace_path, r.steps + 1, r.steps);
	return r.passed ? CVMBUS_EXIT_OK : CVMBUS_EXIT_FAILURE;
}
