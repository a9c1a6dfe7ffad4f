/* SPDX-License-Identifier: MIT */
/*
 * Schedule exploration (src/vm; include/cvmbus/explore.h): four racy
 * scenarios of a small topology run under the deterministic executor, one
 * seed per run, each followed by its invariants. The topology is the
 * cheapest one that still has every real party: a platform with no
 * isolation, no paravisor and one vCPU, the host's server glue (HOST role)
 * with one echo device, and the guest. A run is the executor's main thread
 * building all of it, the scenario's body (its own threads for the racing
 * party), then the teardown and the checks that only make sense once every
 * thread is joined (the device closed, no guest page lost).
 *
 * The seed does two things: it is the executor's seed (which thread runs at
 * every schedule point) and, through a splitmix64 stream of its own, it
 * picks the moment the racing party acts: after k schedule points of its
 * own (most seeds: that lands inside the other party's protocol exchange,
 * which happens at virtual time 0) or after a stretch of virtual time (the
 * rest: that lands in the waits for replies and timeouts). Nothing else
 * chooses anything, so a seed replays the same schedule and the same hash.
 *
 * What each scenario checks is in docs/SECURITY.md ("Schedule
 * exploration"); the wire-level "answered exactly once" checks count the
 * guest's channel messages in the platform trace (the guest emits one "msg"
 * event per successful post and per message it takes in, so a second
 * answer from the host shows up even when the client drops it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/echo.h>
#include <cvmbus/exec.h>
#include <cvmbus/explore.h>
#include <cvmbus/guest.h>
#include <cvmbus/hv.h>
#include <cvmbus/memory.h>
#include <cvmbus/platform.h>
#include <cvmbus/server_glue.h>
#include <cvmbus/trace.h>
#include <cvmbus/wire.h>

/* ---- tuning ------------------------------------------------------------------ */

#define XP_NS_PER_MS ((uint64_t)1000000)
#define XP_NS_PER_S  ((uint64_t)1000000000)

/* Guest RAM: enough for the SynIC pages, monitor pages, one ring and one
 * buffer, and small enough that counting free pages is cheap. */
#define XP_VTL0_BYTES (1024ull * 1024ull)
#define XP_MAX_PAGES  (XP_VTL0_BYTES / CVMBUS_MEM_PAGE_SIZE)
/* Smallest rings the guest accepts (control page + one data page each
 * way): cheap to format, and small enough that requests fill them. */
#define XP_RING_BYTES (2u * CVMBUS_MEM_PAGE_SIZE)
/* A device buffer of 4 pages: its GPADL is a header and no body, the
 * ring's is the same size; both race the unload alike. */
#define XP_BUFFER_BYTES (4ull * CVMBUS_MEM_PAGE_SIZE)
/* Short client waits: virtual time is free, but a scenario whose host went
 * away spends its time in them, and they bound how long connect may take. */
#define XP_CONTACT_TIMEOUT (1 * XP_NS_PER_S)
#define XP_OFFERS_TIMEOUT  (2 * XP_NS_PER_S)
#define XP_REPLY_TIMEOUT   (1 * XP_NS_PER_S)
/* A connect must end (either way) within this much virtual time: every
 * version tried once with its contact timeout, then the offers' wait. */
#define XP_CONNECT_BOUND (20 * XP_NS_PER_S)
/* The echo device's receive loop looks at its stop flag this often. */
#define XP_ECHO_POLL (50 * XP_NS_PER_MS)
/* The run fails as a hang past this much virtual time: far more than any
 * scenario's waits add up to, far less than a retry loop that never ends. */
#define XP_DEADLINE (120 * XP_NS_PER_S)
#define XP_DEFAULT_MAX_STEPS 4000000ull
#define XP_DEFAULT_TRACE_CAP (1024ull * 1024ull)
/* Echo requests in flight for close-with-io: count and size ranges. */
#define XP_IO_MIN_REQS  4u
#define XP_IO_MAX_REQS  16u
#define XP_IO_MAX_BYTES 1024u
#define XP_ECHO_INSTANCE 0x0e8b1003u

/* Channel message types counted from the trace. */
#define XP_MSG_TYPES 32u

/* ---- scenario table ---------------------------------------------------------- */

struct xp_scenario_desc {
	const char *name;
	const char *summary;
	/* The racing party's moment: up to this many of its own schedule
	 * points, or (one seed in time_share) up to this much virtual time.
	 * The point ranges were measured: they cover the other party's whole
	 * exchange with some margin after it, so that a quarter to two thirds
	 * of the seeds land inside it (docs/SECURITY.md has the figures). */
	unsigned int max_points;
	uint64_t max_delay_ns;
	unsigned int time_share;
};

static const struct xp_scenario_desc xp_scenarios[CVMBUS_EXPLORE_SCENARIO_COUNT] = {
	[CVMBUS_EXPLORE_RESCIND_DURING_OPEN] = {
		"rescind-during-open",
		"the host rescinds the echo channel while the guest opens it",
		150, 1500 * XP_NS_PER_MS, 4,
	},
	[CVMBUS_EXPLORE_UNLOAD_DURING_GPADL] = {
		"unload-during-gpadl",
		"the guest unloads while a buffer gpadl or the ring's gpadl is being created",
		150, 1500 * XP_NS_PER_MS, 4,
	},
	[CVMBUS_EXPLORE_CLOSE_WITH_IO] = {
		"close-with-io",
		"the guest closes the echo channel with echo requests in flight",
		300, 200 * XP_NS_PER_MS, 8,
	},
	[CVMBUS_EXPLORE_HOST_CRASH_CONNECT] = {
		"host-crash-connect",
		"the host's server stops (ports removed) while the guest connects",
		120, 4 * XP_NS_PER_S, 4,
	},
};

const char *cvmbus_explore_scenario_name(enum cvmbus_explore_scenario sc)
{
	if ((unsigned int)sc >= CVMBUS_EXPLORE_SCENARIO_COUNT)
		return NULL;
	return xp_scenarios[sc].name;
}

const char *cvmbus_explore_scenario_summary(enum cvmbus_explore_scenario sc)
{
	if ((unsigned int)sc >= CVMBUS_EXPLORE_SCENARIO_COUNT)
		return NULL;
	return xp_scenarios[sc].summary;
}

int cvmbus_explore_scenario_parse(const char *name, enum cvmbus_explore_scenario *out)
{
	if (!name || !out)
		return -EINVAL;
	for (unsigned int i = 0; i < CVMBUS_EXPLORE_SCENARIO_COUNT; i++) {
		if (!strcmp(name, xp_scenarios[i].name)) {
			*out = (enum cvmbus_explore_scenario)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- the run's state ----------------------------------------------------------- */

/* One echo request of close-with-io. */
enum xp_req_state {
	XP_REQ_UNUSED = 0,
	XP_REQ_SENDING, /* handed to the channel (its completion may beat the send's return) */
	XP_REQ_DONE,    /* its completion came back intact */
	XP_REQ_FAILED,  /* ended with an error: not sent, or failed at the close */
};

struct xp_io {
	struct cvmbus_channel *ch;
	unsigned int count;
	size_t bytes[XP_IO_MAX_REQS + 1];
	/* Indexed by transaction id (1..count). Written by the sender and
	 * the receiver under `lock`. */
	enum xp_req_state state[XP_IO_MAX_REQS + 1];
	struct cvmbus_mutex lock;
	unsigned int sent;        /* sends that returned 0 */
	int send_status;          /* the first failed send's error, or 0 */
	int recv_status;          /* why the receiver stopped */
};

struct xp {
	enum cvmbus_explore_scenario sc;
	const struct xp_scenario_desc *desc;
	uint64_t rng;
	struct cvmbus_explore_result *res;

	struct cvmbus_exec *exec;
	struct cvmbus_trace *trace;
	struct cvmbus_platform *p;
	struct cvmbus_mem *mem;
	struct cvmbus_echo *echo;
	struct cvmbus_server_glue *glue;
	uint32_t host_relid;
	struct cvmbus_guest *g;
	uint32_t relid; /* the echo channel as the guest sees it */
	bool glue_started;

	/* The guest's events (control thread) and channel messages (trace
	 * callback, under the trace's lock): atomics, read by the main
	 * thread after the fact. */
	_Atomic unsigned int ev[CVMBUS_CLIENT_EV_COUNT];
	_Atomic unsigned int tx[XP_MSG_TYPES];
	_Atomic unsigned int rx[XP_MSG_TYPES];
	struct cvmbus_completion rescinded;
	bool rescinded_init;

	int64_t free_before;
	uint64_t end_ns;
	struct xp_io io;
};

/* ---- small helpers ---------------------------------------------------------------- */

/* splitmix64: the seed's own stream for the scenario's choices, apart from
 * the executor's PRNG (which is seeded with the same value). */
static uint64_t xp_next(struct xp *x)
{
	uint64_t z = (x->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void xp_fail(struct xp *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Keep the first broken invariant: later ones are usually its echoes. */
static void xp_fail(struct xp *x, const char *fmt, ...)
{
	va_list ap;

	if (x->res->violation[0])
		return;
	va_start(ap, fmt);
	vsnprintf(x->res->violation, sizeof(x->res->violation), fmt, ap);
	va_end(ap);
}

static void xp_note(struct xp *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One "name=value" more in the outcome line. */
static void xp_note(struct xp *x, const char *fmt, ...)
{
	char *o = x->res->outcome;
	size_t used = strlen(o);
	va_list ap;

	if (used + 2 >= sizeof(x->res->outcome))
		return;
	if (used)
		o[used++] = ' ';
	va_start(ap, fmt);
	vsnprintf(o + used, sizeof(x->res->outcome) - used, fmt, ap);
	va_end(ap);
}

/* Is rc one of the listed errors (0-terminated list)? */
static bool xp_in(int rc, const int *allowed)
{
	for (; *allowed; allowed++)
		if (rc == *allowed)
			return true;
	return false;
}

/* One request's outcome: success, a clean error from `allowed`, or bad. */
static void xp_account(struct xp *x, const char *what, int rc, const int *allowed)
{
	if (!x->res->requests)
		x->res->first_status = rc;
	x->res->requests++;
	if (!rc) {
		x->res->succeeded++;
	} else if (xp_in(rc, allowed)) {
		x->res->failed++;
	} else {
		x->res->bad++;
		xp_fail(x, "%s ended with %d, not a documented clean error", what, rc);
	}
}

/* Free VTL0 pages, counted by taking them one by one and giving them back
 * (the allocator has no counter; first fit over 256 pages is cheap). Only
 * called while no other party allocates. */
static int64_t xp_free_pages(struct cvmbus_mem *mem)
{
	uint64_t gpas[XP_MAX_PAGES];
	size_t n = 0;

	while (n < XP_MAX_PAGES && cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 1, &gpas[n]) == 0)
		n++;
	for (size_t i = 0; i < n; i++)
		(void)cvmbus_mem_free(mem, gpas[i], 1);
	return (int64_t)n;
}

/* ---- the racing party's moment ------------------------------------------------------ */

static void xp_pick_trigger(struct xp *x)
{
	struct cvmbus_explore_result *r = x->res;

	/* Some seeds wait for virtual time: the protocol exchanges all
	 * happen at time 0, so only a time delay reaches the stretches where
	 * a party waits for a reply or a timeout, or sits idle. */
	if (xp_next(x) % x->desc->time_share == 0) {
		r->trigger = CVMBUS_EXPLORE_AFTER_TIME;
		r->delay_ns = xp_next(x) % (x->desc->max_delay_ns + 1);
	} else {
		r->trigger = CVMBUS_EXPLORE_AFTER_POINTS;
		r->points = (unsigned int)(xp_next(x) % (x->desc->max_points + 1u));
	}
}

static void xp_wait_trigger(struct xp *x)
{
	const struct cvmbus_explore_result *r = x->res;

	if (r->trigger == CVMBUS_EXPLORE_AFTER_TIME) {
		if (r->delay_ns)
			cvmbus_exec_sleep_ns(x->exec, r->delay_ns);
		return;
	}
	/* Each yield is a schedule point at which the executor may run any
	 * other thread: k of them put the action somewhere inside whatever
	 * the other threads are doing at time 0. */
	for (unsigned int i = 0; i < r->points; i++)
		cvmbus_exec_yield(x->exec);
}

/* ---- what the guest saw ---------------------------------------------------------------- */

static void xp_on_event(void *ctx, const struct cvmbus_client_event *ev)
{
	struct xp *x = ctx;

	if ((unsigned int)ev->type < CVMBUS_CLIENT_EV_COUNT)
		atomic_fetch_add(&x->ev[ev->type], 1);
	/* The control thread may not call the guest's blocking API: it only
	 * tells the driver, which releases from its own thread. */
	if (ev->type == CVMBUS_CLIENT_EV_RESCIND && ev->relid == x->relid && x->rescinded_init)
		cvmbus_completion_complete(&x->rescinded);
}

static void xp_on_trace(void *ctx, const struct cvmbus_trace_event *ev, const char *json,
			size_t len)
{
	struct xp *x = ctx;
	uint32_t type;

	(void)json;
	(void)len;
	if (ev->kind != CVMBUS_TRACE_MSG || !ev->bytes || ev->len < 4)
		return;
	/* The channel message header's first field, little-endian. */
	{
		const uint8_t *b = ev->bytes;

		type = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
		       (uint32_t)b[3] << 24;
	}
	if (type >= XP_MSG_TYPES)
		return;
	if (ev->from == CVMBUS_MEM_PARTY_GUEST) {
		/* A post attempt: only one that went through is a request
		 * the host could answer. */
		if (ev->status == HV_STATUS_SUCCESS)
			atomic_fetch_add(&x->tx[type], 1);
	} else if (ev->to == CVMBUS_MEM_PARTY_GUEST) {
		atomic_fetch_add(&x->rx[type], 1);
	}
}

static unsigned int xp_tx(struct xp *x, uint32_t type)
{
	return atomic_load(&x->tx[type]);
}

static unsigned int xp_rx(struct xp *x, uint32_t type)
{
	return atomic_load(&x->rx[type]);
}

static unsigned int xp_ev(struct xp *x, enum cvmbus_client_event_type t)
{
	return atomic_load(&x->ev[t]);
}

/* No answer without a request, and never two answers to one request. */
static void xp_check_answers(struct xp *x)
{
	static const struct {
		uint32_t req, ans;
		const char *name;
	} pairs[] = {
		{ CVMBUS_MSG_INITIATE_CONTACT, CVMBUS_MSG_VERSION_RESPONSE, "version response" },
		{ CVMBUS_MSG_REQUEST_OFFERS, CVMBUS_MSG_ALL_OFFERS_DELIVERED, "all offers delivered" },
		{ CVMBUS_MSG_OPEN_CHANNEL, CVMBUS_MSG_OPEN_CHANNEL_RESULT, "open result" },
		{ CVMBUS_MSG_GPADL_HEADER, CVMBUS_MSG_GPADL_CREATED, "gpadl created" },
		{ CVMBUS_MSG_GPADL_TEARDOWN, CVMBUS_MSG_GPADL_TORNDOWN, "gpadl torndown" },
		{ CVMBUS_MSG_UNLOAD, CVMBUS_MSG_UNLOAD_RESPONSE, "unload response" },
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		unsigned int req = xp_tx(x, pairs[i].req), ans = xp_rx(x, pairs[i].ans);

		if (ans > req)
			xp_fail(x, "%u %s message(s) for %u request(s): answered twice", ans,
				pairs[i].name, req);
	}
	if (xp_rx(x, CVMBUS_MSG_RESCIND_CHANNEL_OFFER) > 1)
		xp_fail(x, "the echo channel was rescinded %u times",
			xp_rx(x, CVMBUS_MSG_RESCIND_CHANNEL_OFFER));
}

/* ---- topology -------------------------------------------------------------------------- */

static int xp_setup(struct xp *x)
{
	struct cvmbus_platform_config pc;
	struct cvmbus_echo_config ec;
	struct cvmbus_server_glue_config gc;
	struct cvmbus_offer_params op;
	struct cvmbus_guest_config cfg;
	char err[128] = "";
	int rc;

	memset(&pc, 0, sizeof(pc));
	pc.exec = x->exec;
	pc.arch = CVMBUS_ARCH_X86_64;
	pc.isolation = HV_ISOLATION_TYPE_NONE;
	pc.vcpus = 1;
	pc.vtl0_bytes = XP_VTL0_BYTES;
	pc.trace = x->trace;
	rc = cvmbus_platform_create(&pc, &x->p, err, sizeof(err));
	if (rc) {
		xp_fail(x, "setup: platform: %s (%d)", err, rc);
		return rc;
	}
	x->mem = cvmbus_platform_mem(x->p);

	memset(&ec, 0, sizeof(ec));
	ec.exec = x->exec;
	ec.poll_ns = XP_ECHO_POLL;
	rc = cvmbus_echo_create(&ec, &x->echo);
	if (rc) {
		xp_fail(x, "setup: echo device (%d)", rc);
		return rc;
	}
	cvmbus_server_glue_config_init(&gc, x->p, CVMBUS_SERVER_ROLE_HOST);
	rc = cvmbus_server_glue_create(&gc, &x->glue);
	if (rc) {
		xp_fail(x, "setup: host server (%d)", rc);
		return rc;
	}
	cvmbus_echo_offer_params(&op, XP_ECHO_INSTANCE, false);
	rc = cvmbus_server_glue_add_device(x->glue, &op, cvmbus_echo_vsp_ops(), x->echo,
					   &x->host_relid);
	if (!rc)
		rc = cvmbus_server_glue_start(x->glue);
	if (rc) {
		xp_fail(x, "setup: host server start (%d)", rc);
		return rc;
	}
	x->glue_started = true;

	/* Before the guest exists: what the platform itself holds is the
	 * baseline the end of the run must come back to. */
	x->free_before = xp_free_pages(x->mem);

	cvmbus_completion_init(&x->rescinded, x->exec, "explore-rescinded");
	x->rescinded_init = true;
	memset(&cfg, 0, sizeof(cfg));
	cfg.platform = x->p;
	cfg.max_version = CVMBUS_VERSION_6_0;
	cfg.detect = CVMBUS_CLIENT_DETECT_CPUID;
	cfg.contact_timeout_ns = XP_CONTACT_TIMEOUT;
	cfg.offers_timeout_ns = XP_OFFERS_TIMEOUT;
	cfg.reply_timeout_ns = XP_REPLY_TIMEOUT;
	cfg.on_event = xp_on_event;
	cfg.event_ctx = x;
	rc = cvmbus_guest_create(&cfg, &x->g);
	if (!rc)
		rc = cvmbus_guest_start(x->g);
	if (rc)
		xp_fail(x, "setup: guest (%d)", rc);
	return rc;
}

/* The echo offer as the guest sees it. */
static int xp_find_echo(struct xp *x)
{
	const struct cvmbus_guid echo = CVMBUS_ECHO_INTERFACE_ID_INIT;
	struct cvmbus_guest_offer o;
	int rc;

	rc = cvmbus_guest_find_offer(x->g, &echo, &o);
	if (rc) {
		xp_fail(x, "the guest was not offered the echo device (%d)", rc);
		return rc;
	}
	x->relid = o.relid;
	return 0;
}

static int xp_connect(struct xp *x)
{
	int rc = cvmbus_guest_connect(x->g);

	if (rc) {
		/* Nothing disturbs this connect: a failure is a finding. */
		xp_fail(x, "connect failed (%d) with nothing in its way", rc);
		return rc;
	}
	return xp_find_echo(x);
}

static void xp_open_params(struct cvmbus_guest_open_params *op)
{
	memset(op, 0, sizeof(*op));
	op->send_bytes = XP_RING_BYTES;
	op->recv_bytes = XP_RING_BYTES;
}

/* ---- scenario 1: rescind during open ------------------------------------------------------- */

static int xp_rescinder(void *arg)
{
	struct xp *x = arg;

	xp_wait_trigger(x);
	x->res->action_status = cvmbus_server_glue_rescind(x->glue, x->host_relid);
	return 0;
}

static void xp_rescind_during_open(struct xp *x)
{
	/* What an open may end with once the offer is going away. */
	static const int open_clean[] = { -ENODEV, -ESHUTDOWN, -ENOENT, 0 };
	static const int echo_clean[] = { -ESHUTDOWN, 0 };
	struct cvmbus_guest_open_params op;
	struct cvmbus_guest_channel_report cr;
	struct cvmbus_channel *ch = NULL;
	struct cvmbus_thread *t;
	unsigned int opens_tx;
	bool close_after;
	int rc, rc_open, rc_echo = 1, rc_rel;

	if (xp_connect(x))
		return;
	xp_pick_trigger(x);
	/* After an open that worked: echo through the channel (a wait the
	 * rescind must end), or close it (a CloseChannel racing the
	 * rescind). */
	close_after = xp_next(x) & 1;
	rc = cvmbus_thread_spawn(x->exec, &t, "explore-host", xp_rescinder, x);
	if (rc) {
		xp_fail(x, "spawn (%d)", rc);
		return;
	}
	xp_open_params(&op);
	rc_open = cvmbus_guest_open(x->g, x->relid, &op, &ch);
	xp_account(x, "open", rc_open, open_clean);
	xp_note(x, "open=%d", rc_open);
	if (!rc_open && close_after) {
		static const int close_clean[] = { -ENODEV, -ESHUTDOWN, -ENOENT, 0 };

		rc = cvmbus_guest_close(x->g, x->relid);
		xp_account(x, "close", rc, close_clean);
		xp_note(x, "close=%d", rc);
	} else if (!rc_open) {
		/* The channel works until the rescind closes it, and then
		 * every wait on it ends with -ESHUTDOWN, never a timeout. */
		struct cvmbus_echo_vsc v;
		uint8_t msg[64], reply[72];
		size_t rlen = 0;

		for (size_t i = 0; i < sizeof(msg); i++)
			msg[i] = (uint8_t)(i * 3u + 1u);
		cvmbus_echo_vsc_init(&v, ch);
		rc_echo = cvmbus_echo_call(&v, msg, sizeof(msg), reply, sizeof(reply), &rlen,
					   2 * XP_NS_PER_S);
		xp_account(x, "echo", rc_echo, echo_clean);
		if (!rc_echo && (rlen != sizeof(msg) || memcmp(reply, msg, sizeof(msg))))
			xp_fail(x, "the echo came back altered");
		xp_note(x, "echo=%d", rc_echo);
	}
	(void)cvmbus_thread_join(t, NULL);
	xp_note(x, "rescind=%d", x->res->action_status);
	if (x->res->action_status)
		xp_fail(x, "the host's rescind failed (%d)", x->res->action_status);

	/* The guest must learn of the rescind whatever state the open was
	 * in, and soon: the host sent it once, right away. */
	rc = cvmbus_completion_wait(&x->rescinded, 2 * XP_NS_PER_S);
	xp_note(x, "seen=%d", rc);
	if (rc)
		xp_fail(x, "the guest never saw the rescind (%d)", rc);
	opens_tx = xp_tx(x, CVMBUS_MSG_OPEN_CHANNEL);
	if (xp_ev(x, CVMBUS_CLIENT_EV_OPEN_DONE) > 1)
		xp_fail(x, "%u open outcomes for one open", xp_ev(x, CVMBUS_CLIENT_EV_OPEN_DONE));
	if (!rc_open && (xp_ev(x, CVMBUS_CLIENT_EV_OPEN_DONE) != 1 || opens_tx != 1))
		xp_fail(x, "open returned 0 without exactly one openchannel and one outcome");

	rc_rel = cvmbus_guest_release(x->g, x->relid);
	xp_note(x, "release=%d", rc_rel);
	if (rc_rel)
		xp_fail(x, "release after the rescind failed (%d)", rc_rel);
	if (cvmbus_guest_channel_report(x->g, x->relid, &cr) != -ENOENT)
		xp_fail(x, "the guest still knows relid %u after release", x->relid);
	if (xp_tx(x, CVMBUS_MSG_RELID_RELEASED) != 1)
		xp_fail(x, "%u relid released messages", xp_tx(x, CVMBUS_MSG_RELID_RELEASED));
}

/* ---- scenario 2: unload during GPADL setup ---------------------------------------------------- */

static int xp_unloader(void *arg)
{
	struct xp *x = arg;

	xp_wait_trigger(x);
	x->res->action_status = cvmbus_guest_unload(x->g);
	return 0;
}

static void xp_unload_during_gpadl(struct xp *x)
{
	/* What a request may end with once the connection is going away. */
	static const int clean[] = { -ENOTCONN, -ESHUTDOWN, -ENOENT, 0 };
	struct cvmbus_guest_open_params op;
	struct cvmbus_server_glue_gpadl_info gi;
	struct cvmbus_server_connection conn;
	struct cvmbus_echo_stats es;
	struct cvmbus_channel *ch = NULL;
	struct cvmbus_thread *t;
	uint32_t handle = 0;
	uint64_t gpa = 0;
	unsigned int variant;
	bool teardown;
	int rc, rc_gpadl = 1, rc_open = 1;

	if (xp_connect(x))
		return;
	/* 0: a buffer GPADL; 1: an open (the ring's GPADL, then
	 * OpenChannel); 2: both, one after the other. */
	variant = (unsigned int)(xp_next(x) % 3u);
	xp_pick_trigger(x);
	teardown = xp_next(x) & 1;
	rc = cvmbus_thread_spawn(x->exec, &t, "explore-unload", xp_unloader, x);
	if (rc) {
		xp_fail(x, "spawn (%d)", rc);
		return;
	}
	if (variant != 1) {
		rc_gpadl = cvmbus_guest_gpadl_create(x->g, x->relid, XP_BUFFER_BYTES, &handle, &gpa);
		xp_account(x, "gpadl create", rc_gpadl, clean);
		xp_note(x, "gpadl=%d", rc_gpadl);
	}
	if (variant != 0) {
		xp_open_params(&op);
		rc_open = cvmbus_guest_open(x->g, x->relid, &op, &ch);
		xp_account(x, "open", rc_open, clean);
		xp_note(x, "open=%d", rc_open);
		/* The unload destroys the channel object: not touched. */
	}
	if (!rc_gpadl && teardown) {
		/* The buffer goes again: a GpadlTeardown racing the unload
		 * (drawn after the moment, so that it changes nothing before). */
		rc = cvmbus_guest_gpadl_teardown(x->g, x->relid, handle);
		xp_account(x, "gpadl teardown", rc, clean);
		xp_note(x, "teardown=%d", rc);
		if (!rc)
			rc_gpadl = 1; /* the host may no longer hold it, rightly */
	}
	(void)cvmbus_thread_join(t, NULL);
	xp_note(x, "unload=%d", x->res->action_status);
	if (x->res->action_status)
		xp_fail(x, "unload failed (%d) with the host present", x->res->action_status);
	if (cvmbus_guest_state(x->g) != CVMBUS_GUEST_UNLOADED)
		xp_fail(x, "the guest is %s after unload",
			cvmbus_guest_state_name(cvmbus_guest_state(x->g)));
	if (xp_tx(x, CVMBUS_MSG_UNLOAD) != 1 || xp_rx(x, CVMBUS_MSG_UNLOAD_RESPONSE) != 1)
		xp_fail(x, "unload: %u sent, %u answered", xp_tx(x, CVMBUS_MSG_UNLOAD),
			xp_rx(x, CVMBUS_MSG_UNLOAD_RESPONSE));
	if (xp_ev(x, CVMBUS_CLIENT_EV_GPADL_DONE) > 1 || xp_ev(x, CVMBUS_CLIENT_EV_OPEN_DONE) > 1)
		xp_fail(x, "a request had two outcomes (gpadl %u, open %u)",
			xp_ev(x, CVMBUS_CLIENT_EV_GPADL_DONE), xp_ev(x, CVMBUS_CLIENT_EV_OPEN_DONE));

	/* The host answered the Unload: it must hold nothing of the guest's
	 * any more, neither the connection, nor a GPADL, nor an open device. */
	if (cvmbus_server_glue_connection(x->glue, CVMBUS_SERVER_GLUE_CLIENT_GUEST, &conn) == 0 &&
	    conn.state != CVMBUS_SERVER_CONN_DISCONNECTED)
		xp_fail(x, "the host still sees the guest connected after unload (state %d)",
			(int)conn.state);
	if (!rc_gpadl &&
	    cvmbus_server_glue_gpadl_info(x->glue, CVMBUS_SERVER_GLUE_CLIENT_GUEST, handle, &gi) == 0)
		xp_fail(x, "the host still holds gpadl %u after unload", handle);
	cvmbus_echo_get_stats(x->echo, &es);
	if (es.channels_open)
		xp_fail(x, "the host's device still serves %" PRIu64 " channel(s) after unload",
			es.channels_open);
}

/* ---- scenario 3: close with outstanding I/O ------------------------------------------------------ */

static void xp_io_pattern(uint8_t *buf, size_t len, unsigned int id)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(id * 37u + i * 11u + 5u);
}

static int xp_io_sender(void *arg)
{
	struct xp *x = arg;
	struct xp_io *io = &x->io;
	uint8_t buf[XP_IO_MAX_BYTES];

	for (unsigned int id = 1; id <= io->count; id++) {
		int rc;

		xp_io_pattern(buf, io->bytes[id], id);
		/* In flight before the send: the completion may come back
		 * before the send returns. */
		cvmbus_mutex_lock(&io->lock);
		io->state[id] = XP_REQ_SENDING;
		cvmbus_mutex_unlock(&io->lock);
		rc = cvmbus_channel_send_inband(io->ch, CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED, id,
						buf, io->bytes[id], 2 * XP_NS_PER_S);
		cvmbus_mutex_lock(&io->lock);
		if (rc) {
			/* Never reached the ring: it ends here, with its
			 * error (a completion for it would be a finding). */
			if (io->state[id] == XP_REQ_SENDING)
				io->state[id] = XP_REQ_FAILED;
			if (!io->send_status)
				io->send_status = rc;
		} else {
			io->sent++;
		}
		cvmbus_mutex_unlock(&io->lock);
		if (rc)
			break;
	}
	return 0;
}

static int xp_io_receiver(void *arg)
{
	struct xp *x = arg;
	struct xp_io *io = &x->io;

	for (;;) {
		struct cvmbus_ring_packet pkt;
		uint8_t want[XP_IO_MAX_BYTES];
		uint64_t id;
		int rc;

		rc = cvmbus_channel_recv(io->ch, &pkt, XP_NS_PER_S);
		if (rc == -ETIMEDOUT || rc == -EINTR)
			continue;
		if (rc) {
			io->recv_status = rc;
			return 0;
		}
		if (pkt.type != CVMBUS_RING_PKT_COMPLETION) {
			xp_fail(x, "the echo device sent a packet of type %u", pkt.type);
			continue;
		}
		id = pkt.trans_id;
		cvmbus_mutex_lock(&io->lock);
		if (id == 0 || id > io->count || io->state[id] == XP_REQ_UNUSED) {
			x->res->bad++;
			xp_fail(x, "a completion for request %" PRIu64 ", never sent", id);
		} else if (io->state[id] != XP_REQ_SENDING) {
			x->res->bad++;
			xp_fail(x, "a second completion for request %" PRIu64, id);
		} else {
			xp_io_pattern(want, io->bytes[id], (unsigned int)id);
			if (pkt.payload_len < io->bytes[id] ||
			    memcmp(pkt.payload, want, io->bytes[id])) {
				x->res->bad++;
				xp_fail(x, "request %" PRIu64 " came back altered", id);
			}
			io->state[id] = XP_REQ_DONE;
		}
		cvmbus_mutex_unlock(&io->lock);
	}
}

static void xp_close_with_io(struct xp *x)
{
	struct xp_io *io = &x->io;
	struct cvmbus_guest_open_params op;
	struct cvmbus_echo_stats es;
	struct cvmbus_thread *ts = NULL, *tr = NULL;
	int64_t free_open;
	int rc, rc_close;

	if (xp_connect(x))
		return;
	io->count = XP_IO_MIN_REQS + (unsigned int)(xp_next(x) % (XP_IO_MAX_REQS - XP_IO_MIN_REQS + 1));
	for (unsigned int id = 1; id <= io->count; id++)
		io->bytes[id] = 1 + (size_t)(xp_next(x) % XP_IO_MAX_BYTES);
	xp_pick_trigger(x);

	free_open = xp_free_pages(x->mem);
	xp_open_params(&op);
	rc = cvmbus_guest_open(x->g, x->relid, &op, &io->ch);
	if (rc) {
		xp_fail(x, "open failed (%d) with nothing in its way", rc);
		return;
	}
	cvmbus_mutex_init(&io->lock, x->exec, "explore-io");
	rc = cvmbus_thread_spawn(x->exec, &tr, "explore-rx", xp_io_receiver, x);
	if (!rc)
		rc = cvmbus_thread_spawn(x->exec, &ts, "explore-tx", xp_io_sender, x);
	if (rc) {
		xp_fail(x, "spawn (%d)", rc);
		cvmbus_channel_close(io->ch);
		goto join;
	}

	/* The driver's close: stop its channel (every wait in it ends with
	 * -ESHUTDOWN), join its threads, fail what is still outstanding,
	 * then close the channel with the host (the guest API's contract:
	 * nobody inside the channel object when it goes). */
	xp_wait_trigger(x);
	cvmbus_channel_close(io->ch);
join:
	if (tr)
		(void)cvmbus_thread_join(tr, NULL);
	if (ts)
		(void)cvmbus_thread_join(ts, NULL);
	for (unsigned int id = 1; id <= io->count; id++) {
		switch (io->state[id]) {
		case XP_REQ_UNUSED:
			continue; /* never submitted */
		case XP_REQ_DONE:
			x->res->requests++;
			x->res->succeeded++;
			break;
		case XP_REQ_SENDING: /* outstanding at the close: fails now */
		case XP_REQ_FAILED:
			if (!x->res->requests)
				x->res->first_status = io->send_status ? io->send_status : -ESHUTDOWN;
			x->res->requests++;
			x->res->failed++;
			break;
		}
	}
	if (io->recv_status && io->recv_status != -ESHUTDOWN)
		xp_fail(x, "the receiver stopped with %d, not -ESHUTDOWN", io->recv_status);
	if (io->send_status && io->send_status != -ESHUTDOWN)
		xp_fail(x, "a send failed with %d, not -ESHUTDOWN", io->send_status);
	xp_note(x, "reqs=%u sent=%u done=%u", io->count, io->sent, x->res->succeeded);
	if (x->res->bad)
		return;

	rc_close = cvmbus_guest_close(x->g, x->relid);
	xp_note(x, "close=%d", rc_close);
	if (rc_close) {
		xp_fail(x, "close failed (%d)", rc_close);
		return;
	}
	/* The guest freed the ring when close returned: the host's device
	 * must have stopped touching it before the teardown was answered. */
	cvmbus_echo_get_stats(x->echo, &es);
	if (es.channels_open)
		xp_fail(x, "the host's device still serves the ring the guest freed");
	if (xp_tx(x, CVMBUS_MSG_GPADL_TEARDOWN) != xp_rx(x, CVMBUS_MSG_GPADL_TORNDOWN))
		xp_fail(x, "%u gpadl teardowns, %u answered", xp_tx(x, CVMBUS_MSG_GPADL_TEARDOWN),
			xp_rx(x, CVMBUS_MSG_GPADL_TORNDOWN));
	if (xp_free_pages(x->mem) != free_open)
		xp_fail(x, "%" PRId64 " guest page(s) not back after the close",
			free_open - xp_free_pages(x->mem));
	if (es.echoes > io->sent)
		xp_fail(x, "the device answered %" PRIu64 " requests, %u were sent", es.echoes,
			io->sent);
}

/* ---- scenario 4: the host dies during negotiation -------------------------------------------------- */

static int xp_crasher(void *arg)
{
	struct xp *x = arg;

	xp_wait_trigger(x);
	cvmbus_server_glue_stop(x->glue);
	return 0;
}

static void xp_host_crash_connect(struct xp *x)
{
	/* The guest's documented outcomes of a connect nobody answers. */
	static const int connect_clean[] = { -ETIMEDOUT, -EINVAL, -EDOM, -EAGAIN, -ENOBUFS, 0 };
	static const int unload_clean[] = { -ETIMEDOUT, -EAGAIN, 0 };
	struct cvmbus_thread *t;
	uint64_t t0, took;
	int rc, rc_conn, rc_unload;

	xp_pick_trigger(x);
	rc = cvmbus_thread_spawn(x->exec, &t, "explore-crash", xp_crasher, x);
	if (rc) {
		xp_fail(x, "spawn (%d)", rc);
		return;
	}
	t0 = cvmbus_exec_now_ns(x->exec);
	rc_conn = cvmbus_guest_connect(x->g);
	took = cvmbus_exec_now_ns(x->exec) - t0;
	xp_account(x, "connect", rc_conn, connect_clean);
	xp_note(x, "connect=%d took=%" PRIu64 "ms", rc_conn, took / XP_NS_PER_MS);
	if (took > XP_CONNECT_BOUND)
		xp_fail(x, "connect took %" PRIu64 " ms of virtual time", took / XP_NS_PER_MS);
	(void)cvmbus_thread_join(t, NULL);
	if (xp_rx(x, CVMBUS_MSG_ALL_OFFERS_DELIVERED) > 1)
		xp_fail(x, "all offers delivered twice");
	if (rc_conn)
		return;
	/* Connected before the crash: the guest goes on alone, and its
	 * unload must end (with the host gone, by its timeout). */
	t0 = cvmbus_exec_now_ns(x->exec);
	rc_unload = cvmbus_guest_unload(x->g);
	took = cvmbus_exec_now_ns(x->exec) - t0;
	xp_account(x, "unload", rc_unload, unload_clean);
	xp_note(x, "unload=%d took=%" PRIu64 "ms", rc_unload, took / XP_NS_PER_MS);
	if (took > XP_CONNECT_BOUND)
		xp_fail(x, "unload took %" PRIu64 " ms of virtual time", took / XP_NS_PER_MS);
}

/* ---- the run ------------------------------------------------------------------------------------------ */

static void xp_teardown(struct xp *x)
{
	struct cvmbus_guest_stats gs;
	struct cvmbus_client_stats cs;
	struct cvmbus_echo_stats es;
	int64_t free_after;

	/* Guest first (its thread joined, SynICs down), then the host, as
	 * cvmbus_vm_run does: each stop joins the threads that use the
	 * next one's objects. */
	if (x->g) {
		cvmbus_guest_stop(x->g);
		cvmbus_guest_get_stats(x->g, &gs);
		memset(&cs, 0, sizeof(cs));
		(void)cvmbus_guest_client_stats(x->g, &cs);
		x->res->pages_kept_out = gs.pages_leaked + cs.pages_leaked;
	}
	if (x->glue)
		cvmbus_server_glue_stop(x->glue);
	if (x->echo) {
		cvmbus_echo_get_stats(x->echo, &es);
		if (es.opens != es.closes || es.channels_open)
			xp_fail(x, "the host's device: %" PRIu64 " opens, %" PRIu64
				   " closes, %" PRIu64 " still open",
				es.opens, es.closes, es.channels_open);
	}
	cvmbus_guest_destroy(x->g);
	x->g = NULL;
	if (x->mem && x->glue_started) {
		free_after = xp_free_pages(x->mem);
		x->res->pages_lost = x->free_before - free_after;
		/* Pages the client deliberately kept out (a teardown nobody
		 * answered) are not a leak; anything beyond them is. */
		if (x->res->pages_lost != (int64_t)x->res->pages_kept_out)
			xp_fail(x, "%" PRId64 " guest page(s) lost (%" PRIu64 " kept out on purpose)",
				x->res->pages_lost, x->res->pages_kept_out);
	}
	cvmbus_server_glue_destroy(x->glue);
	x->glue = NULL;
	cvmbus_echo_destroy(x->echo);
	x->echo = NULL;
	if (x->io.ch)
		cvmbus_mutex_destroy(&x->io.lock);
	if (x->rescinded_init)
		cvmbus_completion_destroy(&x->rescinded);
	if (x->p) {
		cvmbus_platform_set_isr(x->p, NULL, NULL);
		cvmbus_platform_destroy(x->p);
		x->p = NULL;
	}
}

static int xp_main(void *arg)
{
	struct xp *x = arg;

	if (!xp_setup(x)) {
		switch (x->sc) {
		case CVMBUS_EXPLORE_RESCIND_DURING_OPEN:
			xp_rescind_during_open(x);
			break;
		case CVMBUS_EXPLORE_UNLOAD_DURING_GPADL:
			xp_unload_during_gpadl(x);
			break;
		case CVMBUS_EXPLORE_CLOSE_WITH_IO:
			xp_close_with_io(x);
			break;
		case CVMBUS_EXPLORE_HOST_CRASH_CONNECT:
			xp_host_crash_connect(x);
			break;
		case CVMBUS_EXPLORE_SCENARIO_COUNT:
			break;
		}
		xp_check_answers(x);
	}
	xp_teardown(x);
	x->end_ns = cvmbus_exec_now_ns(x->exec);
	return 0;
}

int cvmbus_explore_run(enum cvmbus_explore_scenario sc, uint64_t seed,
		       const struct cvmbus_explore_opts *opts, struct cvmbus_explore_result *out)
{
	struct cvmbus_exec_det_opts o;
	struct xp *x;
	const char *report;
	int rc, ret = 0;

	if (!out || (unsigned int)sc >= CVMBUS_EXPLORE_SCENARIO_COUNT)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->scenario = sc;
	out->seed = seed;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->sc = sc;
	x->desc = &xp_scenarios[sc];
	/* The scenario's stream differs from the executor's PRNG (same
	 * seed) and from one scenario to the next. */
	x->rng = seed ^ (0x5ce7a210ull + (uint64_t)sc * 0x1000193ull);
	x->res = out;
	for (unsigned int i = 0; i < CVMBUS_CLIENT_EV_COUNT; i++)
		atomic_init(&x->ev[i], 0);
	for (unsigned int i = 0; i < XP_MSG_TYPES; i++) {
		atomic_init(&x->tx[i], 0);
		atomic_init(&x->rx[i], 0);
	}

	memset(&o, 0, sizeof(o));
	o.seed = seed;
	o.deadline_ns = XP_DEADLINE;
	o.max_steps = opts && opts->max_steps ? opts->max_steps : XP_DEFAULT_MAX_STEPS;
	/* A sweep needs only the hash (which covers every decision): keep one
	 * entry rather than the default 64 Ki, which would be allocated per
	 * seed for nothing. */
	o.trace_cap = opts && opts->trace ? (opts->trace_cap ? opts->trace_cap
							     : XP_DEFAULT_TRACE_CAP)
					  : 1;
	rc = cvmbus_exec_det_create(&x->exec, &o);
	if (rc)
		goto fail;
	rc = cvmbus_trace_create(x->exec, &x->trace);
	if (rc)
		goto fail_exec;
	cvmbus_trace_set_callback_kinds(x->trace, xp_on_trace, x,
					CVMBUS_TRACE_KIND_BIT(CVMBUS_TRACE_MSG));

	rc = cvmbus_exec_run(x->exec, xp_main, x, &ret);

	cvmbus_trace_set_callback(x->trace, NULL, NULL);
	out->exec_status = rc;
	out->schedule_hash = cvmbus_exec_det_hash(x->exec);
	out->steps = cvmbus_exec_det_steps(x->exec);
	out->trace_hash = cvmbus_trace_hash(x->trace);
	out->trace_events = cvmbus_trace_count(x->trace);
	out->virtual_ns = rc ? cvmbus_exec_now_ns(x->exec) : x->end_ns;
	if (opts && opts->trace)
		(void)cvmbus_exec_det_trace_write(x->exec, opts->trace);
	if (rc) {
		/* Every thread was unwound where it blocked: say where, and
		 * leave the parties (their threads are gone, so freeing them
		 * would wait on threads that never answer). */
		report = cvmbus_exec_det_report(x->exec);
		snprintf(out->report, sizeof(out->report), "%s", report ? report : "");
		out->violation[0] = '\0';
		snprintf(out->violation, sizeof(out->violation), "run failed (%d): %s", rc,
			 rc == -EDEADLK	   ? "every thread blocked (a hang)"
			 : rc == -ETIMEDOUT ? "virtual time ran past the deadline (a hang)"
			 : rc == -ELOOP	   ? "too many schedule points (a livelock)"
					   : "executor error");
		out->passed = false;
		cvmbus_trace_destroy(x->trace);
		cvmbus_exec_destroy(x->exec);
		free(x);
		return 0;
	}
	out->passed = out->violation[0] == '\0';
	cvmbus_trace_destroy(x->trace);
	cvmbus_exec_destroy(x->exec);
	free(x);
	return 0;

fail_exec:
	cvmbus_exec_destroy(x->exec);
fail:
	free(x);
	return rc;
}

int cvmbus_explore_format_failure(const struct cvmbus_explore_result *r, const char *tool,
				  char *buf, size_t cap)
{
	const char *name;

	if (!r || !buf)
		return -EINVAL;
	name = cvmbus_explore_scenario_name(r->scenario);
	return snprintf(buf, cap,
			"explore: %s seed %" PRIu64 " failed: %s\n"
			"  outcome: %s\n"
			"  schedule hash 0x%016" PRIx64 " (%" PRIu64 " steps)\n"
			"  replay:  %s explore --scenario %s --seed %" PRIu64,
			name ? name : "?", r->seed, r->violation[0] ? r->violation : "(passed)",
			r->outcome, r->schedule_hash, r->steps, tool ? tool : "cvmbus",
			name ? name : "?", r->seed);
}
