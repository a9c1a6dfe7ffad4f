/* SPDX-License-Identifier: MIT */
/*
 * A hostile host, played from a script (layer src/vm, on top of the guest
 * glue of guest.h, the device drivers of storage.h and echo.h, and the
 * platform of platform.h). It is the threat model of a CoCo guest made
 * executable: a host that lies. The engine builds an SNP (or TDX, VBS,
 * none) partition without a paravisor, so the host owns connection ids 4
 * and 1 and posts into the hypervisor SynIC the guest reads; it runs the
 * real cvmbus_guest (and, on the channels it opens, the real storvsc,
 * netvsc and echo VSC), and it answers, or does not answer, or answers
 * wrongly, as a JSON scenario says: hand-built control messages, raw SynIC payloads,
 * offers with forbidden flags, corrupt ring indices and packet descriptors
 * written through the host view of the ring pages, bytes rewritten while
 * the guest reads them, storage completions that claim more than the
 * request had room for, network indications whose RNDIS offsets and
 * transfer-page ranges point outside what they may, storms of signals and
 * messages. At the end it
 * compares what the guest did (its counters, drop reasons, channel states,
 * ring faults, request results) with the scenario's expected outcome.
 *
 * The scenario vocabulary is documented in docs/SECURITY.md ("Hostile
 * scenarios"); the scenarios themselves live in tests/hostile/, one
 * per file, and tests/hostile/test_hostile.c runs them all.
 *
 * Threads: cvmbus_hostile_run() creates its own native executor and runs
 * the scenario inside it (host script, port handlers, host device threads,
 * a guest driver thread), then joins everything. Call it from a thread of
 * no executor. It is bounded: every wait has a timeout inside the
 * scenario's budget; a guest that hangs anyway is a failure the caller
 * sees only by its own timeout (the test runs each scenario in a child
 * process for that reason).
 *
 * Errors are negative errno values: -EINVAL (a scenario that does not
 * parse or breaks the vocabulary: err says where), -ENOENT (no such file),
 * -ENOMEM, -EFBIG (a file larger than the 1 MiB a scenario may be).
 */
#ifndef CVMBUS_HOSTILE_H
#define CVMBUS_HOSTILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmbus/client.h>
#include <cvmbus/guest.h>

struct cvmbus_hostile; /* one loaded, validated scenario */

/* The families a scenario may belong to. */
enum cvmbus_hostile_family {
	CVMBUS_HOSTILE_CONTROL = 0, /* control messages (SynIC, the client) */
	CVMBUS_HOSTILE_RING,        /* ring indices, packets, signals */
	CVMBUS_HOSTILE_DEVICE,      /* device responses (storvsc, netvsc) */
	CVMBUS_HOSTILE_FAMILY_COUNT
};

/* What the scenario expects the guest to have done about the attack. */
enum cvmbus_hostile_outcome_kind {
	CVMBUS_HOSTILE_MESSAGE_DROPPED = 0, /* control messages dropped, with a reason */
	CVMBUS_HOSTILE_OFFER_REFUSED,       /* offers refused, with a reason */
	CVMBUS_HOSTILE_CONNECTION_REFUSED,  /* connect failed with an errno */
	CVMBUS_HOSTILE_CHANNEL_CLOSED,      /* a channel ended (ring fault, rescind) */
	CVMBUS_HOSTILE_REQUEST_FAILED,      /* a request failed with an errno, the rest works */
	CVMBUS_HOSTILE_COMPLETION_DROPPED,  /* device completions matched nothing: dropped */
	CVMBUS_HOSTILE_PACKET_DROPPED,      /* netvsc refused and counted packets, frames go on */
	CVMBUS_HOSTILE_SURVIVED,            /* nothing to refuse: the guest just keeps working */
	CVMBUS_HOSTILE_OUTCOME_COUNT
};

/* Read-only facts of a loaded scenario; the strings live as long as it. */
struct cvmbus_hostile_info {
	const char *path;        /* the file it came from, "" if from a string */
	const char *name;
	enum cvmbus_hostile_family family;
	const char *description;
	const char *attack;      /* one sentence: what the host does */
	enum cvmbus_hostile_outcome_kind kind;
	const char *outcome;     /* one line: the expected outcome, for tables */
	size_t steps;
};

/* Load and validate a scenario (the whole vocabulary is checked here, so a
 * typo fails at load, not halfway through a run). err (may be NULL) gets a
 * short lowercase reason naming the key or step at fault. */
int cvmbus_hostile_load_file(const char *path, struct cvmbus_hostile **out, char *err,
			     size_t errlen);
int cvmbus_hostile_load_string(const char *json, struct cvmbus_hostile **out, char *err,
			       size_t errlen);
void cvmbus_hostile_free(struct cvmbus_hostile *h);
void cvmbus_hostile_get_info(const struct cvmbus_hostile *h, struct cvmbus_hostile_info *out);

const char *cvmbus_hostile_family_name(enum cvmbus_hostile_family family);
const char *cvmbus_hostile_outcome_name(enum cvmbus_hostile_outcome_kind kind);

struct cvmbus_hostile_options {
	/* Overrides the scenario's budget (its "budget_ms", 20 s by default)
	 * when non-zero: the time every wait of the run must fit in. */
	uint64_t budget_ns;
	/* Print each step as it runs (stderr). */
	bool verbose;
};

struct cvmbus_hostile_result {
	bool passed;
	char why[256];       /* the first check that failed; "" when passed */
	char observed[256];  /* what the guest did, one line */
	unsigned int steps_done;
	uint64_t elapsed_ns;
	/* Counters at the end of the scenario (before teardown). */
	struct cvmbus_client_stats client;
	struct cvmbus_guest_stats guest;
	uint64_t host_posts;      /* messages the host put in the guest's SynIC */
	uint64_t host_post_drops; /* refused by the SynIC even after retries */
	uint64_t host_signals;    /* event flags the host set */
	uint64_t storm_messages;  /* of host_posts: sent by message storms */
	uint64_t host_rewrites;   /* shared bytes rewritten between the guest's copy and parse */
	uint64_t visibility_refusals; /* visibility hypercalls the hypervisor refused */
	uint64_t storvsc_unknown_completions;
	uint64_t storvsc_bad_completions;
	/* The guest's netvsc counters (summed over its nic channels) and the
	 * frames the host's network device got from the guest. */
	uint64_t netvsc_bad_xfer;
	uint64_t netvsc_bad_nvsp;
	uint64_t netvsc_bad_rndis;
	uint64_t netvsc_unknown_completions;
	uint64_t netvsc_rx_frames;
	uint64_t host_net_tx_frames;
};

/* Run one scenario to its end and judge it. Returns 0 when the run could
 * be made (pass or fail: see out->passed), -EINVAL, -ENOMEM or an
 * executor error when it could not. */
int cvmbus_hostile_run(const struct cvmbus_hostile *h, const struct cvmbus_hostile_options *o,
		       struct cvmbus_hostile_result *out);

#endif /* CVMBUS_HOSTILE_H */
