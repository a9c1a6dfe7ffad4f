/* SPDX-License-Identifier: MIT */
/*
 * Schedule exploration (src/vm, beside the whole-VM runs of vm.h): racy
 * scenarios of a small topology (the platform without isolation or
 * paravisor, the host's server glue with one echo device, the guest), each
 * run under the deterministic executor with one seed. The seed picks the
 * interleaving of every thread and the moment a hostile or careless party
 * acts: the host rescinds the channel the guest is opening, the guest
 * unloads while a GPADL is being created, the guest closes a channel with
 * requests still in flight, the host goes away while the guest negotiates.
 * After each run the scenario's invariants are checked (every request
 * answered exactly once, clean errors only, no thread left blocked, no guest
 * page lost, the host's device closed). A failing seed is replayed, with the
 * same schedule hash, by `cvmbus explore --scenario NAME --seed N`; the
 * sweeps are tests/explore. docs/SECURITY.md ("Schedule exploration")
 * lists the scenarios and their invariants.
 *
 * Errors are negative errno values: -EINVAL (unknown scenario, NULL
 * result), -ENOMEM (the executor or the trace could not be made). A run
 * whose invariants fail is not an error: cvmbus_explore_run returns 0 and
 * the result says what broke.
 */
#ifndef CVMBUS_EXPLORE_H
#define CVMBUS_EXPLORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cvmbus_explore_scenario {
	/* The guest opens the echo channel while the host rescinds it. */
	CVMBUS_EXPLORE_RESCIND_DURING_OPEN = 0,
	/* The guest unloads while a device-buffer GPADL or the ring's GPADL
	 * (an open) is being created. */
	CVMBUS_EXPLORE_UNLOAD_DURING_GPADL = 1,
	/* The guest closes the echo channel with requests in flight. */
	CVMBUS_EXPLORE_CLOSE_WITH_IO = 2,
	/* The host's server stops (its ports removed) while the guest
	 * connects. */
	CVMBUS_EXPLORE_HOST_CRASH_CONNECT = 3,
	CVMBUS_EXPLORE_SCENARIO_COUNT
};

/* "rescind-during-open", "unload-during-gpadl", "close-with-io",
 * "host-crash-connect"; NULL for an unknown value. */
const char *cvmbus_explore_scenario_name(enum cvmbus_explore_scenario sc);
/* One line: what the scenario does and what it checks. */
const char *cvmbus_explore_scenario_summary(enum cvmbus_explore_scenario sc);
/* By name: 0 or -EINVAL. */
int cvmbus_explore_scenario_parse(const char *name, enum cvmbus_explore_scenario *out);

struct cvmbus_explore_opts {
	/* Write the schedule trace of the run to this stream, one decision
	 * per line ("step time_ns tid prim next_tid", cvmbus_exec.h). NULL:
	 * none (the hash covers every decision anyway). */
	FILE *trace;
	/* Decisions kept for the trace; 0: 1 Mi when trace is set. */
	size_t trace_cap;
	/* Schedule points before the run counts as a livelock; 0: 4 M. */
	uint64_t max_steps;
};

/* How the seed chose the moment of the disruptive action. */
enum cvmbus_explore_trigger {
	CVMBUS_EXPLORE_AFTER_POINTS = 0, /* after `points` schedule points of its own */
	CVMBUS_EXPLORE_AFTER_TIME = 1,   /* after `delay_ns` of virtual time */
};

struct cvmbus_explore_result {
	enum cvmbus_explore_scenario scenario;
	uint64_t seed;
	/* Every invariant held (and the run finished). */
	bool passed;
	/* cvmbus_exec_run's status: 0, or -EDEADLK (every thread blocked: a
	 * hang), -ETIMEDOUT (virtual time ran past the deadline), -ELOOP
	 * (max_steps: a livelock). */
	int exec_status;
	/* The executor's schedule hash: the same for every replay of a seed
	 * on the same build. */
	uint64_t schedule_hash;
	uint64_t steps;
	/* The platform trace's hash and length (a second fingerprint). */
	uint64_t trace_hash;
	uint64_t trace_events;
	uint64_t virtual_ns;       /* executor time when the run ended */
	/* The disruptive action: when it came, and what it returned. */
	enum cvmbus_explore_trigger trigger;
	unsigned int points;
	uint64_t delay_ns;
	int action_status;
	/* Requests the scenario made (opens, GPADLs, echo requests, connects)
	 * and how each ended: success, a clean error, or badly (a second
	 * answer, an answer to nothing, an error outside the documented
	 * set, no answer at all). */
	unsigned int requests;
	unsigned int succeeded;
	unsigned int failed;
	unsigned int bad;
	/* How the scenario's first request ended (the open, the GPADL, echo
	 * request 1, the connect): which side of the race the seed fell on. */
	int first_status;
	/* Guest RAM pages not back in the allocator once every party was
	 * destroyed (a leak), and pages the client gave up on by design
	 * (a request that timed out leaves its pages out). */
	int64_t pages_lost;
	uint64_t pages_kept_out;
	/* What happened, one line ("open=0 rescind=0 echo=-108 ..."). */
	char outcome[256];
	/* The first invariant that failed; "" when passed. */
	char violation[256];
	/* The executor's report when exec_status is not 0. */
	char report[2048];
};

/*
 * Run scenario sc once with seed (the executor's seed, and the source of
 * the disruptive action's moment). opts may be NULL. 0 with *out filled
 * (look at out->passed), -EINVAL, -ENOMEM. After a failed run
 * (out->exec_status != 0) the parties were unwound where they blocked and
 * cannot be freed: their memory is left behind, as cvmbus_vm_run does.
 */
int cvmbus_explore_run(enum cvmbus_explore_scenario sc, uint64_t seed,
		       const struct cvmbus_explore_opts *opts, struct cvmbus_explore_result *out);

/* The line a sweep prints for a failing seed: scenario, seed, violation
 * and the command that replays it with tool (e.g.
 * "build/tools/cvmbus/cvmbus"). snprintf semantics. */
int cvmbus_explore_format_failure(const struct cvmbus_explore_result *r, const char *tool,
				  char *buf, size_t cap);

#endif /* CVMBUS_EXPLORE_H */
