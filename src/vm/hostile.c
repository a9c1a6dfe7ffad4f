/* SPDX-License-Identifier: MIT */
/*
 * The hostile host engine (layer src/vm, the top of libcvmbus: it uses the
 * guest glue, the storage and echo drivers, the channel, the ring and the
 * platform, and knows JSON through jansson). include/cvmbus/hostile.h says
 * what it is for; docs/SECURITY.md documents the scenario vocabulary. This
 * file has three halves:
 *
 *   loading     a JSON scenario becomes a validated list of steps and an
 *               expected outcome. Every key is checked against the
 *               vocabulary and every message a step sends is built into
 *               bytes at load time, so a run never interprets JSON;
 *   the host    it owns connection ids 4 and 1 on the platform: a port
 *               handler answers the guest's control messages by policy
 *               (or not at all), a script thread plays the steps (hand-built
 *               messages through cvmbus_synic_post, ring edits through the
 *               host view of the ring pages, storms), and each channel the
 *               guest opens gets a host endpoint with an optional service
 *               (echo, or a hand-written storage or network device whose
 *               answers the script may falsify);
 *   the guest   the real cvmbus_guest, driven by one worker thread that runs
 *               the guest steps (connect, open, echo, storvsc ...) in order,
 *               synchronously or in the background; its events are
 *               recorded for the checks.
 *
 * Threat-model note: the host here may do anything the host of a real
 * CoCo VM can (write any byte of a host-visible page, post anything into
 * the hypervisor SynIC, signal any event flag, answer or not). The only
 * thing it does that a real host cannot is the double-fetch step, which
 * installs the ring's test hook on the guest's reader so that the rewrite
 * lands at the worst moment deterministically instead of by luck.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <cvmbus/channel.h>
#include <cvmbus/client.h>
#include <cvmbus/echo.h>
#include <cvmbus/exec.h>
#include <cvmbus/guest.h>
#include <cvmbus/hostile.h>
#include <cvmbus/log.h>
#include <cvmbus/memory.h>
#include <cvmbus/net.h>
#include <cvmbus/platform.h>
#include <cvmbus/ring.h>
#include <cvmbus/storage.h>
#include <cvmbus/wire.h>

#define HH_MS              ((uint64_t)1000000)
#define HH_PAGE            4096u
#define HH_MAX_FILE        (1u << 20)  /* a scenario is a page of JSON, not a data set */
#define HH_MAX_STEPS       256u
#define HH_MAX_OFFERS      16u         /* relids the host may offer in one scenario */
#define HH_MAX_RELID       64u         /* offered relids: 1..63 keep tables small */
#define HH_MAX_GPADLS      64u
#define HH_INBOX           256u        /* guest -> host messages kept for "expect" */
#define HH_MAX_JOBS        128u
#define HH_MAX_EVENTS      1024u
#define HH_MAX_BLOB        512u        /* hex payloads of ring packets */
#define HH_MAX_STORM       100000u
#define HH_DEFAULT_BUDGET  (20000ull * HH_MS)
#define HH_DEFAULT_WAIT    (5000ull * HH_MS)
#define HH_POST_RETRY_NS   (100ull * 1000)
#define HH_POST_PATIENCE   (2000ull * HH_MS) /* a full SINT queue gets this long */
#define HH_SVC_POLL_NS     (2 * HH_MS)
#define HH_BOUNCE_PAGES    16u
#define HH_IOBUF_PAGES     8u
#define HH_STOR_MAX_XFER   (256u * 1024u)
#define HH_CONN_BASE       0x2000u     /* default signal connection id: base + relid */
#define HH_STATUS_FAILED   0xC0000001u /* STATUS_UNSUCCESSFUL, for refusals */
#define HH_NET_BUF         (64u * 1024u) /* netvsc's receive and send buffers */
#define HH_NET_RX_SECTION  1728u         /* the receive sections the device announces */
#define HH_NET_TX_SECTION  6144u         /* the send sections it answers */
#define HH_NET_FRAME       60u           /* every honest frame, both ways */
#define HH_NET_MTU         1500u

/* storvsc's class (ba6163d9-04a1-4d29-b605-72e2ffb1dc7f). */
static const struct cvmbus_guid hh_class_scsi = {
	0xba6163d9u, 0x04a1u, 0x4d29u, { 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f }
};
static const struct cvmbus_guid hh_class_echo = CVMBUS_ECHO_INTERFACE_ID_INIT;
/* netvsc's class (f8615163-df3e-46c5-913f-f2d2f965ed0e). */
static const struct cvmbus_guid hh_class_nic = {
	0xf8615163u, 0xdf3eu, 0x46c5u, { 0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0x0e, 0xd0 }
};

/* ======================================================================
 * Names
 * ====================================================================== */

static const char *const hh_family_names[CVMBUS_HOSTILE_FAMILY_COUNT] = {
	[CVMBUS_HOSTILE_CONTROL] = "control",
	[CVMBUS_HOSTILE_RING] = "ring",
	[CVMBUS_HOSTILE_DEVICE] = "device",
};

static const char *const hh_outcome_names[CVMBUS_HOSTILE_OUTCOME_COUNT] = {
	[CVMBUS_HOSTILE_MESSAGE_DROPPED] = "message_dropped",
	[CVMBUS_HOSTILE_OFFER_REFUSED] = "offer_refused",
	[CVMBUS_HOSTILE_CONNECTION_REFUSED] = "connection_refused",
	[CVMBUS_HOSTILE_CHANNEL_CLOSED] = "channel_closed",
	[CVMBUS_HOSTILE_REQUEST_FAILED] = "request_failed",
	[CVMBUS_HOSTILE_COMPLETION_DROPPED] = "completion_dropped",
	[CVMBUS_HOSTILE_PACKET_DROPPED] = "packet_dropped",
	[CVMBUS_HOSTILE_SURVIVED] = "survived",
};

/* Drop reasons as identifiers (the client's own names are sentences). */
static const char *const hh_drop_ids[CVMBUS_CLIENT_DROP_COUNT] = {
	[CVMBUS_CLIENT_DROP_NONE] = "none",
	[CVMBUS_CLIENT_DROP_MALFORMED] = "malformed",
	[CVMBUS_CLIENT_DROP_UNEXPECTED] = "unexpected",
	[CVMBUS_CLIENT_DROP_UNKNOWN_RELID] = "unknown_relid",
	[CVMBUS_CLIENT_DROP_UNKNOWN_GPADL] = "unknown_gpadl",
	[CVMBUS_CLIENT_DROP_BAD_RELID] = "bad_relid",
	[CVMBUS_CLIENT_DROP_DUPLICATE_RELID] = "duplicate_relid",
	[CVMBUS_CLIENT_DROP_CONFIDENTIAL_UNSUPPORTED] = "confidential_unsupported",
	[CVMBUS_CLIENT_DROP_EXTERNAL_WITHOUT_RING] = "external_without_ring",
	[CVMBUS_CLIENT_DROP_NO_MEMORY] = "no_memory",
};

static const char *const hh_fault_ids[CVMBUS_RING_FAULT_COUNT_] = {
	[CVMBUS_RING_FAULT_NONE] = "none",
	[CVMBUS_RING_FAULT_WRITE_INDEX_RANGE] = "write_index_range",
	[CVMBUS_RING_FAULT_WRITE_INDEX_ALIGN] = "write_index_align",
	[CVMBUS_RING_FAULT_READ_INDEX_RANGE] = "read_index_range",
	[CVMBUS_RING_FAULT_READ_INDEX_ALIGN] = "read_index_align",
	[CVMBUS_RING_FAULT_SHORT_DATA] = "short_data",
	[CVMBUS_RING_FAULT_OFFSET8] = "offset8",
	[CVMBUS_RING_FAULT_LEN8] = "len8",
	[CVMBUS_RING_FAULT_TOO_BIG] = "too_big",
	[CVMBUS_RING_FAULT_TRUNCATED] = "truncated",
	[CVMBUS_RING_FAULT_TYPE] = "type",
	[CVMBUS_RING_FAULT_FLAGS] = "flags",
	[CVMBUS_RING_FAULT_GPA_HEADER] = "gpa_header",
	[CVMBUS_RING_FAULT_GPA_RANGE_COUNT] = "gpa_range_count",
	[CVMBUS_RING_FAULT_GPA_RANGES] = "gpa_ranges",
	[CVMBUS_RING_FAULT_GPA_RANGE_EMPTY] = "gpa_range_empty",
	[CVMBUS_RING_FAULT_GPA_RANGE_OFFSET] = "gpa_range_offset",
	[CVMBUS_RING_FAULT_XFER_HEADER] = "xfer_header",
	[CVMBUS_RING_FAULT_XFER_RANGE_COUNT] = "xfer_range_count",
	[CVMBUS_RING_FAULT_XFER_RANGES] = "xfer_ranges",
};

static const char *const hh_event_ids[CVMBUS_CLIENT_EV_COUNT] = {
	[CVMBUS_CLIENT_EV_NONE] = "none",
	[CVMBUS_CLIENT_EV_CONNECTED] = "connected",
	[CVMBUS_CLIENT_EV_CONNECT_FAILED] = "connect_failed",
	[CVMBUS_CLIENT_EV_OFFER] = "offer",
	[CVMBUS_CLIENT_EV_OFFER_REFUSED] = "offer_refused",
	[CVMBUS_CLIENT_EV_ALL_OFFERS] = "all_offers",
	[CVMBUS_CLIENT_EV_OPEN_DONE] = "open_done",
	[CVMBUS_CLIENT_EV_CLOSE_DONE] = "close_done",
	[CVMBUS_CLIENT_EV_GPADL_DONE] = "gpadl_done",
	[CVMBUS_CLIENT_EV_GPADL_TORNDOWN] = "gpadl_torndown",
	[CVMBUS_CLIENT_EV_RESCIND] = "rescind",
	[CVMBUS_CLIENT_EV_RELEASED] = "released",
	[CVMBUS_CLIENT_EV_UNLOADED] = "unloaded",
	[CVMBUS_CLIENT_EV_PROTOCOL_ERROR] = "protocol_error",
};

static const char *const hh_state_ids[] = {
	[CVMBUS_GUEST_CREATED] = "created",     [CVMBUS_GUEST_STARTED] = "started",
	[CVMBUS_GUEST_CONNECTED] = "connected", [CVMBUS_GUEST_UNLOADED] = "unloaded",
	[CVMBUS_GUEST_STOPPED] = "stopped",
};

/* The errno values a scenario may name: what the guest API documents. */
static const struct {
	const char *name;
	int value;
} hh_errnos[] = {
	{ "EPERM", EPERM },       { "ENOENT", ENOENT },       { "EINTR", EINTR },
	{ "EIO", EIO },           { "E2BIG", E2BIG },         { "EAGAIN", EAGAIN },
	{ "ENOMEM", ENOMEM },     { "EFAULT", EFAULT },       { "EBUSY", EBUSY },
	{ "EEXIST", EEXIST },     { "ENODEV", ENODEV },       { "EINVAL", EINVAL },
	{ "ENOSPC", ENOSPC },     { "EDOM", EDOM },           { "ERANGE", ERANGE },
	{ "EDEADLK", EDEADLK },   { "EPROTO", EPROTO },       { "EMSGSIZE", EMSGSIZE },
	{ "EOPNOTSUPP", EOPNOTSUPP }, { "ENOBUFS", ENOBUFS }, { "ENOTCONN", ENOTCONN },
	{ "ESHUTDOWN", ESHUTDOWN }, { "ETIMEDOUT", ETIMEDOUT }, { "EALREADY", EALREADY },
	{ "EDQUOT", EDQUOT },
};

const char *cvmbus_hostile_family_name(enum cvmbus_hostile_family family)
{
	if ((unsigned)family >= CVMBUS_HOSTILE_FAMILY_COUNT)
		return "unknown";
	return hh_family_names[family];
}

const char *cvmbus_hostile_outcome_name(enum cvmbus_hostile_outcome_kind kind)
{
	if ((unsigned)kind >= CVMBUS_HOSTILE_OUTCOME_COUNT)
		return "unknown";
	return hh_outcome_names[kind];
}

/* "-EPROTO", "0", or a number for anything not in the table. */
static void hh_errno_format(int rc, char *buf, size_t cap)
{
	if (rc == 0) {
		snprintf(buf, cap, "0");
		return;
	}
	for (size_t i = 0; i < sizeof(hh_errnos) / sizeof(hh_errnos[0]); i++)
		if (-rc == hh_errnos[i].value) {
			snprintf(buf, cap, "%s%s", rc < 0 ? "-" : "", hh_errnos[i].name);
			return;
		}
	snprintf(buf, cap, "%d", rc);
}

/* Index of `name` in a table of identifiers, or -1. */
static int hh_lookup(const char *const *table, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (table[i] && !strcmp(table[i], name))
			return (int)i;
	return -1;
}

/* A channel message type by its wire name ("version_response" ...). */
static int hh_msgtype_lookup(const char *name, uint32_t *type)
{
	for (uint32_t t = 1; t < CVMBUS_MSG_COUNT; t++)
		if (!strcmp(cvmbus_wire_type_name(t), name)) {
			*type = t;
			return 0;
		}
	return -EINVAL;
}

/* ======================================================================
 * The loaded scenario
 * ====================================================================== */

enum hh_answer {
	HH_ANSWER_OK = 0, /* answer as an honest host would */
	HH_ANSWER_FAIL,   /* answer with a failure status */
	HH_ANSWER_NEVER,  /* never answer: the guest's timeout must save it */
};

/* What the host runs on a channel the guest opened. */
enum hh_service {
	HH_SVC_NONE = 0, /* nothing: the script writes the ring itself */
	HH_SVC_ECHO,     /* in-band requests answered with their own payload */
	HH_SVC_STORAGE,  /* a VSTOR device written by hand, falsifiable */
	HH_SVC_NET,      /* an NVSP/RNDIS device written by hand, falsifiable */
};

struct hh_offer {
	uint32_t relid;
	struct cvmbus_guid cls;
	struct cvmbus_guid inst;
	uint16_t flags;
	uint32_t conn;
	enum hh_service service;
};

/* How the port handler answers the guest's control messages. */
struct hh_policy {
	bool answer_contact;
	uint32_t versions[16]; /* InitiateContact for one of these is accepted */
	unsigned int nversions;
	uint32_t version_response_len; /* 16 (the Linux layout) or 20 */
	uint32_t supported_features;   /* for the 20-byte layout */
	bool answer_offers;            /* RequestOffers -> offers + AllOffersDelivered */
	enum hh_answer gpadl, open, teardown, unload;
	bool signal_always;            /* signal after every host send, whatever the ring says */
};

enum hh_step_kind {
	HH_STEP_EXPECT = 0,
	HH_STEP_SEND,
	HH_STEP_OFFER,
	HH_STEP_POLICY,
	HH_STEP_RING,
	HH_STEP_RING_PACKET,
	HH_STEP_DOUBLE_FETCH,
	HH_STEP_STORAGE_RESPONSE,
	HH_STEP_NETWORK_RESPONSE,
	HH_STEP_SIGNAL_STORM,
	HH_STEP_MESSAGE_STORM,
	HH_STEP_SLEEP,
	HH_STEP_GUEST,
	HH_STEP_AWAIT,
	HH_STEP_WAIT_EVENT,
	HH_STEP_SIMP_SLOT,
	HH_STEP_VISIBILITY,
};

enum hh_policy_field {
	HH_POL_GPADL = 0,
	HH_POL_OPEN,
	HH_POL_TEARDOWN,
	HH_POL_UNLOAD,
	HH_POL_CONTACT,
	HH_POL_OFFERS,
};

/* Control words of one ring, in struct cvmbus_ring_control order. */
enum hh_ring_word {
	HH_RW_WRITE_INDEX = 0,
	HH_RW_READ_INDEX,
	HH_RW_INTERRUPT_MASK,
	HH_RW_PENDING_SEND_SZ,
	HH_RW_FEATURE_BITS,
	HH_RW_COUNT
};
static const char *const hh_ring_words[HH_RW_COUNT] = {
	"write_index", "read_index", "interrupt_mask", "pending_send_sz", "feature_bits",
};

struct hh_ring_edit {
	uint32_t relid;
	bool guest_tx;      /* the ring the guest writes (upstream), else the one it reads */
	uint32_t set;       /* bit per enum hh_ring_word */
	uint32_t value[HH_RW_COUNT];
	bool signal;
};

/* A packet the host writes into the guest's receive ring by hand. */
struct hh_packet {
	uint32_t relid;
	uint16_t type, offset8, len8, flags;
	uint64_t trans_id;
	uint8_t payload[HH_MAX_BLOB];
	uint32_t payload_len;
	bool has_advance;
	uint32_t advance; /* bytes write_index moves by (default: the real size) */
	bool signal;
	/* double_fetch: what the shared copy becomes once the guest copied it */
	bool rw_type, rw_offset8, rw_len8;
	uint16_t new_type, new_offset8, new_len8;
	uint8_t new_payload[HH_MAX_BLOB];
	uint32_t new_payload_len;
};

/* Fields of the next EXECUTE_SRB completion that the storage device lies
 * about (each bit of `set` one field). */
enum hh_tamper_field {
	HH_TF_XFER = 0x1,
	HH_TF_SENSE = 0x2,
	HH_TF_OPERATION = 0x4,
	HH_TF_STATUS = 0x8,
	HH_TF_SRB_STATUS = 0x10,
	HH_TF_LEN = 0x20,
};
struct hh_tamper {
	uint32_t relid;
	uint32_t set;
	uint32_t data_transfer_length, sense_info_length, operation, status, srb_status, len;
	bool unknown_id;  /* a transaction id that names no request */
	bool then_honest; /* and afterwards the true completion */
};

/* What the network device lies about next. The first five are packets the
 * host sends on its own (each a transfer-page indication); the last two
 * falsify the next answer the guest waits for. */
enum hh_net_lie {
	HH_NL_RNDIS_DATA_OFFSET = 0, /* a PACKET whose data offset points past it */
	HH_NL_RNDIS_DATA_LENGTH,     /* a PACKET whose data runs past the message */
	HH_NL_RNDIS_MSG_LENGTH,      /* an RNDIS length past the range carrying it */
	HH_NL_XFER_RANGE,            /* a range outside the receive buffer */
	HH_NL_XFER_SET_ID,           /* a transfer-page set that is no buffer */
	HH_NL_UNKNOWN_COMPLETION,    /* the next frame's completion: an id of nothing */
	HH_NL_QUERY_INFO_OFFSET,     /* the next QUERY answer: info offset out of it */
	HH_NL_COUNT
};
static const char *const hh_net_lie_names[HH_NL_COUNT] = {
	"rndis_data_offset", "rndis_data_length", "rndis_msg_length", "xfer_range",
	"xfer_set_id",	     "unknown_completion", "query_info_offset",
};
struct hh_netlie {
	uint32_t relid;
	enum hh_net_lie lie;
	bool has_value;
	uint32_t value;   /* the lying number (each lie has a default) */
	bool then_honest; /* answers: the true one follows the lie */
};

enum hh_gop {
	HH_GOP_CONNECT = 0,
	HH_GOP_OPEN,
	HH_GOP_CLOSE,
	HH_GOP_RELEASE,
	HH_GOP_UNLOAD,
	HH_GOP_ECHO,
	HH_GOP_RECV,
	HH_GOP_SEND,
	HH_GOP_STORVSC_CONNECT,
	HH_GOP_STORVSC_IO,
	HH_GOP_NETVSC_CONNECT,
	HH_GOP_NET_RECV,
	HH_GOP_NET_SEND,
	HH_GOP_NET_QUERY,
	HH_GOP_COUNT
};
static const char *const hh_gop_names[HH_GOP_COUNT] = {
	"connect",	  "open",	"close",    "release",	 "unload",
	"echo",		  "recv",	"send",	    "storvsc_connect", "storvsc_io",
	"netvsc_connect", "net_recv", "net_send", "net_query",
};

enum hh_io { HH_IO_TUR = 0, HH_IO_READ, HH_IO_WRITE };

struct hh_guest_op {
	enum hh_gop op;
	uint32_t relid;
	uint32_t ring_pages; /* open: pages per ring, control page included */
	uint32_t count;      /* echo rounds */
	uint32_t bytes;      /* echo / send payload */
	enum hh_io io;
	uint64_t lba;
	uint32_t sectors;
	uint8_t hex[HH_MAX_BLOB]; /* recv: the payload the guest must see */
	uint32_t hex_len;
	bool has_hex;
};

struct hh_step {
	enum hh_step_kind kind;
	char label[64];
	uint64_t timeout_ns;
	/* expect, send */
	uint32_t msgtype;
	bool has_relid;
	uint32_t relid;
	uint8_t bytes[HV_MESSAGE_PAYLOAD_SIZE];
	uint32_t len;
	uint32_t hv_type;
	uint32_t repeat;
	/* offer */
	struct hh_offer offer;
	/* policy */
	enum hh_policy_field pfield;
	enum hh_answer answer;
	bool flag;
	/* ring edits, packets, device lies */
	struct hh_ring_edit ring;
	struct hh_packet *pkt; /* big: allocated for the steps that need it */
	struct hh_tamper tamper;
	struct hh_netlie netlie;
	/* storms */
	uint32_t storm_count;
	uint32_t storm_relids[8];
	unsigned int storm_nrelids;
	uint32_t storm_vp;
	uint64_t sleep_ns;
	/* guest, await */
	struct hh_guest_op gop;
	bool async;
	int expect_rc;
	/* wait_event */
	enum cvmbus_client_event_type event;
};

/* A counter of the result compared with an exact value or a minimum. */
struct hh_counter_check {
	char name[40];
	uint64_t value;
	bool minimum;
};

struct hh_expect {
	enum cvmbus_hostile_outcome_kind kind;
	bool has_reason;
	enum cvmbus_client_drop reason;
	bool has_count, count_min, count_storm;
	uint64_t count;
	bool has_msgtype;
	uint32_t msgtype;
	bool has_errno;
	int err;
	bool has_relid;
	uint32_t relid;
	bool has_fault;
	enum cvmbus_ring_fault fault;
	bool released;
	enum cvmbus_guest_state state;
	uint32_t allow_drops; /* bit per drop reason besides `reason` */
	bool allow_leaks;
	struct hh_counter_check counters[16];
	unsigned int ncounters;
};

struct cvmbus_hostile {
	char *path;
	char *name, *description, *attack;
	char outcome[200];
	enum cvmbus_hostile_family family;
	/* platform */
	enum hv_isolation_type isolation;
	unsigned int vcpus;
	/* guest */
	uint64_t contact_timeout_ns, offers_timeout_ns, reply_timeout_ns;
	unsigned int queue_depth;
	uint64_t op_timeout_ns; /* echo, recv, storvsc requests */
	/* host */
	struct hh_policy policy;
	struct hh_offer offers[HH_MAX_OFFERS];
	unsigned int noffers;
	uint64_t budget_ns;
	struct hh_step *steps;
	size_t nsteps;
	struct hh_expect expect;
};

/* ======================================================================
 * Loading: JSON -> steps. Every error names where it is.
 * ====================================================================== */

static int hh_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int hh_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* Every key of obj must be one of keys (NULL-terminated): a typo in a
 * scenario is an error, not a silently ignored attack. */
static int hh_keys(json_t *obj, const char *where, const char *const *keys, char *err,
		   size_t errlen)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return hh_err(err, errlen, "%s: expected an object", where);
	json_object_foreach(obj, k, v) {
		size_t i;

		for (i = 0; keys[i]; i++)
			if (!strcmp(keys[i], k))
				break;
		if (!keys[i])
			return hh_err(err, errlen, "%s: unknown key \"%s\"", where, k);
	}
	return 0;
}

/* A non-negative integer: a JSON integer, or a string in C notation
 * ("0x1000", "4096"), at most max. */
static int hh_u64(json_t *v, uint64_t max, uint64_t *out)
{
	uint64_t x;

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < 0)
			return -EINVAL;
		x = (uint64_t)i;
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end = NULL;

		if (!*s || *s == '-')
			return -EINVAL;
		errno = 0;
		x = strtoull(s, &end, 0);
		if (errno || *end)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (x > max)
		return -ERANGE;
	*out = x;
	return 0;
}

static int hh_get_u64(json_t *obj, const char *key, uint64_t max, uint64_t def, uint64_t *out,
		      const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		*out = def;
		return 0;
	}
	if (hh_u64(v, max, out))
		return hh_err(err, errlen, "%s: \"%s\" must be an integer in 0..%" PRIu64, where,
			      key, max);
	return 0;
}

static int hh_get_u32(json_t *obj, const char *key, uint32_t max, uint32_t def, uint32_t *out,
		      const char *where, char *err, size_t errlen)
{
	uint64_t x;
	int rc = hh_get_u64(obj, key, max, def, &x, where, err, errlen);

	if (!rc)
		*out = (uint32_t)x;
	return rc;
}

static int hh_get_bool(json_t *obj, const char *key, bool def, bool *out, const char *where,
		       char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_boolean(v))
		return hh_err(err, errlen, "%s: \"%s\" must be true or false", where, key);
	*out = json_is_true(v);
	return 0;
}

static int hh_get_ms(json_t *obj, const char *key, uint64_t def_ns, uint64_t *out_ns,
		     const char *where, char *err, size_t errlen)
{
	uint64_t ms;
	int rc = hh_get_u64(obj, key, 600000, def_ns / HH_MS, &ms, where, err, errlen);

	if (!rc)
		*out_ns = ms * HH_MS;
	return rc;
}

/* "0", "-EPROTO", or a negative integer. */
static int hh_errno_parse(json_t *v, int *out)
{
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i > 0 || i < -4095)
			return -EINVAL;
		*out = (int)i;
		return 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	if (!strcmp(json_string_value(v), "0")) {
		*out = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof(hh_errnos) / sizeof(hh_errnos[0]); i++)
		if (json_string_value(v)[0] == '-' &&
		    !strcmp(json_string_value(v) + 1, hh_errnos[i].name)) {
			*out = -hh_errnos[i].value;
			return 0;
		}
	return -EINVAL;
}

static int hh_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Hex digits, spaces allowed between bytes for readability. */
static int hh_hex_parse(json_t *v, uint8_t *out, size_t cap, uint32_t *len)
{
	const char *s;
	size_t n = 0;

	if (!json_is_string(v))
		return -EINVAL;
	s = json_string_value(v);
	while (*s) {
		int hi, lo;

		if (*s == ' ') {
			s++;
			continue;
		}
		hi = hh_hexval(s[0]);
		lo = hi < 0 ? -1 : hh_hexval(s[1]);
		if (lo < 0)
			return -EINVAL;
		if (n == cap)
			return -E2BIG;
		out[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	*len = (uint32_t)n;
	return 0;
}

static int hh_get_hex(json_t *obj, const char *key, uint8_t *out, size_t cap, uint32_t *len,
		      bool *present, const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	int rc;

	if (present)
		*present = v != NULL;
	*len = 0;
	if (!v)
		return 0;
	rc = hh_hex_parse(v, out, cap, len);
	if (rc == -E2BIG)
		return hh_err(err, errlen, "%s: \"%s\" longer than %zu bytes", where, key, cap);
	if (rc)
		return hh_err(err, errlen, "%s: \"%s\" must be pairs of hex digits", where, key);
	return 0;
}

static int hh_get_enum(json_t *obj, const char *key, const char *const *table, size_t n,
		       int def, int *out, const char *where, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);
	int i;

	if (!v) {
		if (def < 0)
			return hh_err(err, errlen, "%s: \"%s\" is required", where, key);
		*out = def;
		return 0;
	}
	i = json_is_string(v) ? hh_lookup(table, n, json_string_value(v)) : -1;
	if (i < 0)
		return hh_err(err, errlen, "%s: \"%s\" has no such value", where, key);
	*out = i;
	return 0;
}

static void hh_wr16(uint8_t *b, size_t off, uint16_t v)
{
	b[off] = (uint8_t)v;
	b[off + 1] = (uint8_t)(v >> 8);
}

static void hh_wr32(uint8_t *b, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static void hh_wr64(uint8_t *b, size_t off, uint64_t v)
{
	hh_wr32(b, off, (uint32_t)v);
	hh_wr32(b, off + 4, (uint32_t)(v >> 32));
}

static uint16_t hh_rd16(const uint8_t *b, size_t off)
{
	return (uint16_t)(b[off] | b[off + 1] << 8);
}

static uint32_t hh_rd32(const uint8_t *b, size_t off)
{
	return (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 |
	       (uint32_t)b[off + 3] << 24;
}

static uint64_t hh_rd64(const uint8_t *b, size_t off)
{
	return (uint64_t)hh_rd32(b, off) | (uint64_t)hh_rd32(b, off + 4) << 32;
}

static void hh_wr_guid(uint8_t *b, size_t off, const struct cvmbus_guid *g)
{
	hh_wr32(b, off, g->data1);
	hh_wr16(b, off + 4, g->data2);
	hh_wr16(b, off + 6, g->data3);
	memcpy(b + off + 8, g->data4, 8);
}

/* OfferChannel, 196 bytes, by hand from the layout: type 1 @0, if_type @8,
 * if_instance @24, flags @56, child_relid @184, connection_id @192. */
static uint32_t hh_offer_bytes(const struct hh_offer *o, uint8_t *b)
{
	memset(b, 0, 196);
	hh_wr32(b, 0, CVMBUS_MSG_OFFER_CHANNEL);
	hh_wr_guid(b, 8, &o->cls);
	hh_wr_guid(b, 24, &o->inst);
	hh_wr16(b, 56, o->flags);
	hh_wr32(b, 184, o->relid);
	hh_wr32(b, 192, o->conn);
	return 196;
}

static const char *const hh_service_names[] = { "none", "echo", "storage", "nic" };

static int hh_parse_offer(json_t *obj, const char *where, struct hh_offer *o, char *err,
			  size_t errlen)
{
	static const char *const keys[] = { "relid",   "class",   "instance", "flags",
					    "connection_id", "service", NULL };
	json_t *v;
	int svc, rc;

	memset(o, 0, sizeof(*o));
	rc = hh_keys(obj, where, keys, err, errlen);
	if (rc)
		return rc;
	if (!json_object_get(obj, "relid"))
		return hh_err(err, errlen, "%s: \"relid\" is required", where);
	/* Any u32: relids the guest must refuse (0, 4096) are attacks too. */
	rc = hh_get_u32(obj, "relid", UINT32_MAX, 0, &o->relid, where, err, errlen);
	if (!rc) {
		uint32_t flags;

		rc = hh_get_u32(obj, "flags", 0xFFFF, 0, &flags, where, err, errlen);
		o->flags = (uint16_t)flags;
	}
	if (!rc)
		rc = hh_get_u32(obj, "connection_id", UINT32_MAX, HH_CONN_BASE + (o->relid & 0xFFFF),
				&o->conn, where, err, errlen);
	if (rc)
		return rc;
	v = json_object_get(obj, "class");
	svc = HH_SVC_ECHO;
	o->cls = hh_class_echo;
	if (v) {
		const char *c = json_is_string(v) ? json_string_value(v) : "";

		if (!strcmp(c, "echo")) {
			o->cls = hh_class_echo;
		} else if (!strcmp(c, "scsi")) {
			o->cls = hh_class_scsi;
			svc = HH_SVC_STORAGE;
		} else if (!strcmp(c, "nic")) {
			o->cls = hh_class_nic;
			svc = HH_SVC_NET;
		} else if (cvmbus_guid_parse(c, &o->cls) == 0) {
			svc = HH_SVC_NONE;
		} else {
			return hh_err(err, errlen,
				      "%s: \"class\" must be echo, scsi, nic or a guid", where);
		}
	}
	rc = hh_get_enum(obj, "service", hh_service_names, 4, svc, &svc, where, err, errlen);
	if (rc)
		return rc;
	o->service = (enum hh_service)svc;
	/* A distinct instance per relid unless the scenario names one. */
	o->inst.data1 = 0x48535421u ^ o->relid;
	o->inst.data2 = 0x686fu;
	o->inst.data3 = 0x7374u;
	memcpy(o->inst.data4, "hostile!", 8);
	v = json_object_get(obj, "instance");
	if (v && (!json_is_string(v) || cvmbus_guid_parse(json_string_value(v), &o->inst)))
		return hh_err(err, errlen, "%s: \"instance\" must be a guid", where);
	return 0;
}

/* ---- steps ----------------------------------------------------------------------- */

static const char *const hh_answer_names[] = { "ok", "fail", "never" };

/* send: a named message built from "fields" (or "hex" for its body). */
static int hh_parse_send(json_t *obj, const char *where, struct hh_step *s, char *err,
			 size_t errlen)
{
	static const char *const keys[] = { "send", "fields", "hex", "len", "repeat", NULL };
	json_t *f = json_object_get(obj, "fields");
	const char *name = json_string_value(json_object_get(obj, "send"));
	uint8_t *b = s->bytes;
	uint32_t v = 0, len = 0;
	bool has_hex;
	int rc;

	rc = hh_keys(obj, where, keys, err, errlen);
	if (rc)
		return rc;
	if (!name || hh_msgtype_lookup(name, &s->msgtype))
		return hh_err(err, errlen, "%s: \"send\" must name a message type", where);
	if (f && json_object_get(obj, "hex"))
		return hh_err(err, errlen, "%s: \"fields\" and \"hex\" exclude each other", where);
	if (!f)
		f = json_object();
	else
		json_incref(f);
	memset(b, 0, HV_MESSAGE_PAYLOAD_SIZE);
	hh_wr32(b, 0, s->msgtype);
	s->len = 8;
	switch (s->msgtype) {
	case CVMBUS_MSG_VERSION_RESPONSE: {
		static const char *const fk[] = { "version_supported", "connection_state",
						  "msg_conn_id", "supported_features", NULL };

		rc = hh_keys(f, where, fk, err, errlen);
		if (!rc)
			rc = hh_get_u32(f, "version_supported", 0xFF, 1, &v, where, err, errlen);
		b[8] = (uint8_t)v;
		if (!rc)
			rc = hh_get_u32(f, "connection_state", 0xFF, 0, &v, where, err, errlen);
		b[9] = (uint8_t)v;
		if (!rc)
			rc = hh_get_u32(f, "msg_conn_id", UINT32_MAX, VMBUS_MESSAGE_CONNECTION_ID_4,
					&v, where, err, errlen);
		hh_wr32(b, 12, v);
		s->len = 16;
		if (!rc && json_object_get(f, "supported_features")) {
			rc = hh_get_u32(f, "supported_features", UINT32_MAX, 0, &v, where, err,
					errlen);
			hh_wr32(b, 16, v);
			s->len = 20;
		}
		break;
	}
	case CVMBUS_MSG_OFFER_CHANNEL: {
		struct hh_offer o;

		rc = hh_parse_offer(f, where, &o, err, errlen);
		if (!rc)
			s->len = hh_offer_bytes(&o, b);
		break;
	}
	case CVMBUS_MSG_RESCIND_CHANNEL_OFFER: {
		static const char *const fk[] = { "relid", NULL };

		rc = hh_keys(f, where, fk, err, errlen);
		if (!rc)
			rc = hh_get_u32(f, "relid", UINT32_MAX, 0, &v, where, err, errlen);
		hh_wr32(b, 8, v);
		s->len = 12;
		break;
	}
	case CVMBUS_MSG_OPEN_CHANNEL_RESULT:
	case CVMBUS_MSG_GPADL_CREATED: {
		/* relid @8, openid or gpadl @12, status @16 */
		static const char *const fk[] = { "relid", "openid", "gpadl", "status", NULL };
		uint32_t relid = 0;

		rc = hh_keys(f, where, fk, err, errlen);
		if (!rc)
			rc = hh_get_u32(f, "relid", UINT32_MAX, 0, &relid, where, err, errlen);
		hh_wr32(b, 8, relid);
		if (!rc)
			rc = hh_get_u32(f, s->msgtype == CVMBUS_MSG_GPADL_CREATED ? "gpadl" : "openid",
					UINT32_MAX, relid, &v, where, err, errlen);
		hh_wr32(b, 12, v);
		if (!rc)
			rc = hh_get_u32(f, "status", UINT32_MAX, 0, &v, where, err, errlen);
		hh_wr32(b, 16, v);
		s->len = 20;
		break;
	}
	case CVMBUS_MSG_GPADL_TORNDOWN: {
		static const char *const fk[] = { "gpadl", NULL };

		rc = hh_keys(f, where, fk, err, errlen);
		if (!rc)
			rc = hh_get_u32(f, "gpadl", UINT32_MAX, 0, &v, where, err, errlen);
		hh_wr32(b, 8, v);
		s->len = 12;
		break;
	}
	default:
		/* Header-only messages, and any other type with a raw body. */
		if (json_object_size(f))
			rc = hh_err(err, errlen, "%s: %s takes no fields (use \"hex\")", where, name);
		break;
	}
	json_decref(f);
	if (rc)
		return rc;
	rc = hh_get_hex(obj, "hex", b + 8, HV_MESSAGE_PAYLOAD_SIZE - 8, &len, &has_hex, where, err,
			errlen);
	if (rc)
		return rc;
	if (has_hex)
		s->len = 8 + len;
	/* "len" cuts or zero-extends whatever was built: short and long
	 * messages of a known type. */
	rc = hh_get_u32(obj, "len", HV_MESSAGE_PAYLOAD_SIZE, s->len, &s->len, where, err, errlen);
	if (!rc)
		rc = hh_get_u32(obj, "repeat", 10000, 1, &s->repeat, where, err, errlen);
	s->hv_type = HVMSG_VMBUS;
	snprintf(s->label, sizeof(s->label), "send %s (%u bytes)", name, s->len);
	return rc;
}

/* send_raw, and simp_slot (the same bytes, written straight into the
 * guest's message slot, where payload_size may say up to 255 and the
 * message flags anything). */
static int hh_parse_send_raw(json_t *obj, const char *where, struct hh_step *s, char *err,
			     size_t errlen, bool slot)
{
	static const char *const okeys[] = { "send_raw", "simp_slot", "repeat", NULL };
	static const char *const keys[] = { "type", "hex", "size", "hv_type", NULL };
	static const char *const slot_keys[] = { "type",	  "hex",  "size", "hv_type",
						 "message_flags", "flag", NULL };
	json_t *r = json_object_get(obj, slot ? "simp_slot" : "send_raw");
	uint32_t len = 0, off = 0;
	int rc;

	rc = hh_keys(obj, where, okeys, err, errlen);
	if (!rc)
		rc = hh_keys(r, where, slot ? slot_keys : keys, err, errlen);
	if (rc)
		return rc;
	memset(s->bytes, 0, sizeof(s->bytes));
	if (json_object_get(r, "type")) {
		/* The 8-byte channel header, then "hex" as the body. */
		rc = hh_get_u32(r, "type", UINT32_MAX, 0, &s->msgtype, where, err, errlen);
		hh_wr32(s->bytes, 0, s->msgtype);
		off = 8;
	}
	if (!rc)
		rc = hh_get_hex(r, "hex", s->bytes + off, sizeof(s->bytes) - off, &len, NULL, where,
				err, errlen);
	s->len = off + len;
	/* "size" is the SynIC payload_size: 0..240 through the SynIC, past the
	 * bytes as zeros; in a slot written by hand, any u8. */
	if (!rc)
		rc = hh_get_u32(r, "size", slot ? 0xFF : HV_MESSAGE_PAYLOAD_SIZE, s->len, &s->len,
				where, err, errlen);
	if (!rc)
		rc = hh_get_u32(r, "hv_type", UINT32_MAX, HVMSG_VMBUS, &s->hv_type, where, err,
				errlen);
	if (!rc)
		rc = hh_get_u32(obj, "repeat", 10000, 1, &s->repeat, where, err, errlen);
	if (!rc && slot)
		rc = hh_get_u32(r, "message_flags", 0xFF, 0, &s->msgtype, where, err, errlen);
	/* The event flag whose signal raises SINT 2 (0: no relid has it). */
	if (!rc && slot)
		rc = hh_get_u32(r, "flag", 2047, 0, &s->relid, where, err, errlen);
	s->kind = slot ? HH_STEP_SIMP_SLOT : HH_STEP_SEND;
	snprintf(s->label, sizeof(s->label), "%s (%u bytes, hv type %#x)",
		 slot ? "simp_slot" : "send_raw", s->len, s->hv_type);
	return rc;
}

static int hh_parse_ring(json_t *obj, const char *where, struct hh_step *s, char *err,
			 size_t errlen)
{
	static const char *const okeys[] = { "ring", NULL };
	static const char *const keys[] = { "relid",	      "ring",	 "write_index",
					    "read_index",     "interrupt_mask", "pending_send_sz",
					    "feature_bits", "signal",	 NULL };
	static const char *const rings[] = { "guest_rx", "guest_tx" };
	json_t *r = json_object_get(obj, "ring");
	int which = 0, rc;

	rc = hh_keys(obj, where, okeys, err, errlen);
	if (!rc)
		rc = hh_keys(r, where, keys, err, errlen);
	if (!rc)
		rc = hh_get_u32(r, "relid", HH_MAX_RELID - 1, 0, &s->ring.relid, where, err, errlen);
	if (!rc)
		rc = hh_get_enum(r, "ring", rings, 2, 0, &which, where, err, errlen);
	if (rc)
		return rc;
	s->ring.guest_tx = which == 1;
	for (int w = 0; w < HH_RW_COUNT; w++)
		if (json_object_get(r, hh_ring_words[w])) {
			rc = hh_get_u32(r, hh_ring_words[w], UINT32_MAX, 0, &s->ring.value[w], where,
					err, errlen);
			if (rc)
				return rc;
			s->ring.set |= 1u << w;
		}
	if (!s->ring.relid || !s->ring.set)
		return hh_err(err, errlen, "%s: a ring edit needs \"relid\" and a word", where);
	snprintf(s->label, sizeof(s->label), "ring %u %s", s->ring.relid, rings[which]);
	return hh_get_bool(r, "signal", true, &s->ring.signal, where, err, errlen);
}

/* ring_packet and double_fetch share the packet description. */
static int hh_parse_packet(json_t *r, const char *where, struct hh_packet *p, char *err,
			   size_t errlen)
{
	uint32_t v = 0;
	int rc;

	rc = hh_get_u32(r, "relid", HH_MAX_RELID - 1, 0, &p->relid, where, err, errlen);
	if (!rc && !p->relid)
		rc = hh_err(err, errlen, "%s: \"relid\" is required", where);
	if (!rc)
		rc = hh_get_hex(r, "hex", p->payload, sizeof(p->payload), &p->payload_len, NULL,
				where, err, errlen);
	if (!rc)
		rc = hh_get_u32(r, "type", 0xFFFF, CVMBUS_RING_PKT_INBAND, &v, where, err, errlen);
	p->type = (uint16_t)v;
	if (!rc)
		rc = hh_get_u32(r, "offset8", 0xFFFF, 2, &v, where, err, errlen);
	p->offset8 = (uint16_t)v;
	/* By default the length the bytes really take: descriptor + payload. */
	if (!rc)
		rc = hh_get_u32(r, "len8", 0xFFFF, 2 + (p->payload_len + 7) / 8, &v, where, err,
				errlen);
	p->len8 = (uint16_t)v;
	if (!rc)
		rc = hh_get_u32(r, "flags", 0xFFFF, 0, &v, where, err, errlen);
	p->flags = (uint16_t)v;
	if (!rc)
		rc = hh_get_u64(r, "trans_id", UINT64_MAX, 0x484f5354ull, &p->trans_id, where, err,
				errlen);
	if (!rc && json_object_get(r, "advance")) {
		p->has_advance = true;
		rc = hh_get_u32(r, "advance", UINT32_MAX, 0, &p->advance, where, err, errlen);
	}
	if (!rc)
		rc = hh_get_bool(r, "signal", true, &p->signal, where, err, errlen);
	return rc;
}

static int hh_parse_ring_packet(json_t *obj, const char *where, struct hh_step *s, char *err,
				size_t errlen, bool double_fetch)
{
	static const char *const okeys[] = { "ring_packet", "double_fetch", NULL };
	static const char *const keys[] = { "relid", "type",	 "offset8", "len8", "flags",
					    "trans_id", "hex", "advance", "signal", "rewrite",
					    NULL };
	static const char *const rkeys[] = { "type", "offset8", "len8", "hex", NULL };
	json_t *r = json_object_get(obj, double_fetch ? "double_fetch" : "ring_packet");
	json_t *rw;
	uint32_t v = 0;
	int rc;

	rc = hh_keys(obj, where, okeys, err, errlen);
	if (!rc)
		rc = hh_keys(r, where, keys, err, errlen);
	if (rc)
		return rc;
	s->pkt = calloc(1, sizeof(*s->pkt));
	if (!s->pkt)
		return -ENOMEM;
	rc = hh_parse_packet(r, where, s->pkt, err, errlen);
	if (rc)
		return rc;
	rw = json_object_get(r, "rewrite");
	if (!double_fetch) {
		if (rw)
			return hh_err(err, errlen, "%s: \"rewrite\" belongs to double_fetch", where);
		snprintf(s->label, sizeof(s->label), "ring_packet %u (type %u, len8 %u)",
			 s->pkt->relid, s->pkt->type, s->pkt->len8);
		return 0;
	}
	rc = hh_keys(rw, where, rkeys, err, errlen);
	if (rc)
		return rc;
	if ((s->pkt->rw_type = json_object_get(rw, "type") != NULL))
		rc = hh_get_u32(rw, "type", 0xFFFF, 0, &v, where, err, errlen);
	s->pkt->new_type = (uint16_t)v;
	if (!rc && (s->pkt->rw_offset8 = json_object_get(rw, "offset8") != NULL))
		rc = hh_get_u32(rw, "offset8", 0xFFFF, 0, &v, where, err, errlen);
	s->pkt->new_offset8 = (uint16_t)v;
	if (!rc && (s->pkt->rw_len8 = json_object_get(rw, "len8") != NULL))
		rc = hh_get_u32(rw, "len8", 0xFFFF, 0, &v, where, err, errlen);
	s->pkt->new_len8 = (uint16_t)v;
	if (!rc)
		rc = hh_get_hex(rw, "hex", s->pkt->new_payload, sizeof(s->pkt->new_payload),
				&s->pkt->new_payload_len, NULL, where, err, errlen);
	snprintf(s->label, sizeof(s->label), "double_fetch %u", s->pkt->relid);
	return rc;
}

static int hh_parse_tamper(json_t *obj, const char *where, struct hh_step *s, char *err,
			   size_t errlen)
{
	static const char *const okeys[] = { "storage_response", NULL };
	static const char *const keys[] = { "relid",	 "data_transfer_length", "sense_info_length",
					    "operation", "status",	       "srb_status",
					    "len",	 "trans_id",	       "then_honest",
					    NULL };
	static const struct {
		const char *key;
		uint32_t bit, max;
		size_t off;
	} fields[] = {
		{ "data_transfer_length", HH_TF_XFER, UINT32_MAX,
		  offsetof(struct hh_tamper, data_transfer_length) },
		{ "sense_info_length", HH_TF_SENSE, 0xFF,
		  offsetof(struct hh_tamper, sense_info_length) },
		{ "operation", HH_TF_OPERATION, UINT32_MAX, offsetof(struct hh_tamper, operation) },
		{ "status", HH_TF_STATUS, UINT32_MAX, offsetof(struct hh_tamper, status) },
		{ "srb_status", HH_TF_SRB_STATUS, 0xFF, offsetof(struct hh_tamper, srb_status) },
		{ "len", HH_TF_LEN, 64, offsetof(struct hh_tamper, len) },
	};
	json_t *r = json_object_get(obj, "storage_response");
	json_t *id;
	int rc;

	rc = hh_keys(obj, where, okeys, err, errlen);
	if (!rc)
		rc = hh_keys(r, where, keys, err, errlen);
	if (!rc)
		rc = hh_get_u32(r, "relid", HH_MAX_RELID - 1, 0, &s->tamper.relid, where, err,
				errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (json_object_get(r, fields[i].key)) {
			rc = hh_get_u32(r, fields[i].key, fields[i].max, 0,
					(uint32_t *)((uint8_t *)&s->tamper + fields[i].off), where,
					err, errlen);
			if (rc)
				return rc;
			s->tamper.set |= fields[i].bit;
		}
	id = json_object_get(r, "trans_id");
	if (id && !(json_is_string(id) && !strcmp(json_string_value(id), "unknown")))
		return hh_err(err, errlen, "%s: \"trans_id\" may only be \"unknown\"", where);
	s->tamper.unknown_id = id != NULL;
	if (!s->tamper.relid || (!s->tamper.set && !s->tamper.unknown_id))
		return hh_err(err, errlen, "%s: a storage lie needs \"relid\" and a field", where);
	snprintf(s->label, sizeof(s->label), "storage_response %u", s->tamper.relid);
	return hh_get_bool(r, "then_honest", false, &s->tamper.then_honest, where, err, errlen);
}

/* network_response: what the network device lies about next. */
static int hh_parse_netlie(json_t *obj, const char *where, struct hh_step *s, char *err,
			   size_t errlen)
{
	static const char *const okeys[] = { "network_response", NULL };
	static const char *const keys[] = { "relid", "lie", "value", "then_honest", NULL };
	json_t *r = json_object_get(obj, "network_response");
	int lie = 0, rc;

	rc = hh_keys(obj, where, okeys, err, errlen);
	if (!rc)
		rc = hh_keys(r, where, keys, err, errlen);
	if (!rc)
		rc = hh_get_u32(r, "relid", HH_MAX_RELID - 1, 0, &s->netlie.relid, where, err,
				errlen);
	if (!rc)
		rc = hh_get_enum(r, "lie", hh_net_lie_names, HH_NL_COUNT, -1, &lie, where, err,
				 errlen);
	if (rc)
		return rc;
	s->netlie.lie = (enum hh_net_lie)lie;
	if ((s->netlie.has_value = json_object_get(r, "value") != NULL))
		rc = hh_get_u32(r, "value", UINT32_MAX, 0, &s->netlie.value, where, err, errlen);
	if (!rc)
		rc = hh_get_bool(r, "then_honest", true, &s->netlie.then_honest, where, err,
				 errlen);
	if (!rc && !s->netlie.relid)
		rc = hh_err(err, errlen, "%s: a network lie needs \"relid\"", where);
	snprintf(s->label, sizeof(s->label), "network_response %u %s", s->netlie.relid,
		 hh_net_lie_names[lie]);
	return rc;
}

static int hh_parse_storm(json_t *obj, const char *where, struct hh_step *s, bool signals,
			  char *err, size_t errlen)
{
	static const char *const sig_keys[] = { "count", "relids", "vp", NULL };
	static const char *const msg_keys[] = { "count", "type", "len", "hv_type", NULL };
	json_t *r = json_object_get(obj, signals ? "signal_storm" : "message_storm");
	static const char *const okeys[] = { "signal_storm", "message_storm", NULL };
	uint32_t type = 0xFFFF, len = 16;
	int rc;

	rc = hh_keys(obj, where, okeys, err, errlen);
	if (rc)
		return rc;
	s->hv_type = HVMSG_VMBUS;
	if (json_is_object(r)) {
		rc = hh_keys(r, where, signals ? sig_keys : msg_keys, err, errlen);
		if (!rc)
			rc = hh_get_u32(r, "count", HH_MAX_STORM, 1000, &s->storm_count, where, err,
					errlen);
		if (!rc && signals)
			rc = hh_get_u32(r, "vp", 63, 0, &s->storm_vp, where, err, errlen);
		if (!rc && !signals)
			rc = hh_get_u32(r, "type", UINT32_MAX, type, &type, where, err, errlen);
		if (!rc && !signals)
			rc = hh_get_u32(r, "len", HV_MESSAGE_PAYLOAD_SIZE, len, &len, where, err,
					errlen);
		if (!rc && !signals)
			rc = hh_get_u32(r, "hv_type", UINT32_MAX, HVMSG_VMBUS, &s->hv_type, where,
					err, errlen);
		if (!rc && signals && json_object_get(r, "relids")) {
			json_t *a = json_object_get(r, "relids"), *e;
			size_t i;

			if (!json_is_array(a) || !json_array_size(a) || json_array_size(a) > 8)
				return hh_err(err, errlen, "%s: \"relids\" must list 1..8 flags",
					      where);
			json_array_foreach(a, i, e) {
				uint64_t x;

				if (hh_u64(e, 2047, &x))
					return hh_err(err, errlen, "%s: event flags are 0..2047",
						      where);
				s->storm_relids[s->storm_nrelids++] = (uint32_t)x;
			}
		}
		if (rc)
			return rc;
	} else {
		uint64_t x;

		if (hh_u64(r, HH_MAX_STORM, &x))
			return hh_err(err, errlen, "%s: a storm is a count or an object", where);
		s->storm_count = (uint32_t)x;
	}
	if (signals && !s->storm_nrelids) {
		/* A relid the guest never heard of: pure noise. */
		s->storm_relids[0] = 1000;
		s->storm_nrelids = 1;
	}
	memset(s->bytes, 0, sizeof(s->bytes));
	hh_wr32(s->bytes, 0, type);
	s->len = len;
	snprintf(s->label, sizeof(s->label), "%s x%u", signals ? "signal_storm" : "message_storm",
		 s->storm_count);
	return 0;
}

static int hh_parse_guest(json_t *obj, const char *where, struct hh_step *s, char *err,
			  size_t errlen)
{
	static const char *const keys[] = { "guest", "relid", "ring_pages", "count", "bytes",
					    "io",    "lba",   "sectors",    "hex",   "result",
					    "async", "timeout_ms", NULL };
	static const char *const ios[] = { "tur", "read", "write" };
	struct hh_guest_op *g = &s->gop;
	int op = 0, io = 0, rc;
	json_t *res;

	rc = hh_keys(obj, where, keys, err, errlen);
	if (!rc)
		rc = hh_get_enum(obj, "guest", hh_gop_names, HH_GOP_COUNT, -1, &op, where, err,
				 errlen);
	if (rc)
		return rc;
	g->op = (enum hh_gop)op;
	rc = hh_get_u32(obj, "relid", HH_MAX_RELID - 1, 0, &g->relid, where, err, errlen);
	if (!rc && g->op != HH_GOP_CONNECT && g->op != HH_GOP_UNLOAD && !g->relid)
		rc = hh_err(err, errlen, "%s: guest %s needs \"relid\"", where, hh_gop_names[op]);
	if (!rc)
		rc = hh_get_u32(obj, "ring_pages", 64, 2, &g->ring_pages, where, err, errlen);
	if (!rc && g->ring_pages < 2)
		rc = hh_err(err, errlen, "%s: a ring has at least 2 pages", where);
	if (!rc)
		rc = hh_get_u32(obj, "count", 100000, 1, &g->count, where, err, errlen);
	if (!rc)
		rc = hh_get_u32(obj, "bytes", 2048, 64, &g->bytes, where, err, errlen);
	if (!rc && !g->bytes)
		rc = hh_err(err, errlen, "%s: \"bytes\" must be positive", where);
	if (!rc)
		rc = hh_get_enum(obj, "io", ios, 3, 0, &io, where, err, errlen);
	g->io = (enum hh_io)io;
	if (!rc)
		rc = hh_get_u64(obj, "lba", 1u << 20, 0, &g->lba, where, err, errlen);
	if (!rc)
		rc = hh_get_u32(obj, "sectors", HH_IOBUF_PAGES * 8, 1, &g->sectors, where, err,
				errlen);
	if (!rc && !g->sectors)
		rc = hh_err(err, errlen, "%s: \"sectors\" must be positive", where);
	if (!rc)
		rc = hh_get_hex(obj, "hex", g->hex, sizeof(g->hex), &g->hex_len, &g->has_hex, where,
				err, errlen);
	if (!rc)
		rc = hh_get_bool(obj, "async", false, &s->async, where, err, errlen);
	if (rc)
		return rc;
	res = json_object_get(obj, "result");
	s->expect_rc = 0;
	if (res && hh_errno_parse(res, &s->expect_rc))
		return hh_err(err, errlen, "%s: \"result\" must be 0 or -EXXX", where);
	snprintf(s->label, sizeof(s->label), "guest %s%s", hh_gop_names[op],
		 s->async ? " (async)" : "");
	if (g->relid)
		snprintf(s->label + strlen(s->label), sizeof(s->label) - strlen(s->label),
			 " relid %u", g->relid);
	return 0;
}

static int hh_parse_step(json_t *obj, size_t index, struct hh_step *s, char *err, size_t errlen)
{
	static const char *const actions[] = {
		"expect",	    "send",	       "send_raw",	   "offer",
		"rescind",	    "respond_gpadl",   "respond_open",	   "respond_teardown",
		"respond_unload",   "answer_contact",  "answer_offers",	   "ring",
		"ring_packet",	    "double_fetch",    "storage_response", "signal_storm",
		"message_storm",    "sleep_ms",	       "guest",		   "await",
		"wait_event",	    "simp_slot",       "visibility",	   "network_response",
		NULL,
	};
	const char *action = NULL;
	char where[48];
	int rc = 0;

	snprintf(where, sizeof(where), "step %zu", index + 1);
	if (!json_is_object(obj))
		return hh_err(err, errlen, "%s: expected an object", where);
	for (size_t i = 0; actions[i]; i++)
		if (json_object_get(obj, actions[i])) {
			if (action)
				return hh_err(err, errlen, "%s: \"%s\" and \"%s\" in one step",
					      where, action, actions[i]);
			action = actions[i];
		}
	if (!action)
		return hh_err(err, errlen, "%s: no action", where);
	s->timeout_ns = HH_DEFAULT_WAIT;

	if (!strcmp(action, "expect")) {
		static const char *const keys[] = { "expect", "relid", "timeout_ms", NULL };
		const char *name = json_string_value(json_object_get(obj, "expect"));

		s->kind = HH_STEP_EXPECT;
		rc = hh_keys(obj, where, keys, err, errlen);
		if (!rc && (!name || hh_msgtype_lookup(name, &s->msgtype)))
			rc = hh_err(err, errlen, "%s: \"expect\" must name a message type", where);
		if (!rc && (s->has_relid = json_object_get(obj, "relid") != NULL))
			rc = hh_get_u32(obj, "relid", UINT32_MAX, 0, &s->relid, where, err, errlen);
		if (!rc)
			rc = hh_get_ms(obj, "timeout_ms", HH_DEFAULT_WAIT, &s->timeout_ns, where,
				       err, errlen);
		snprintf(s->label, sizeof(s->label), "expect %s", name ? name : "?");
	} else if (!strcmp(action, "send")) {
		s->kind = HH_STEP_SEND;
		rc = hh_parse_send(obj, where, s, err, errlen);
	} else if (!strcmp(action, "send_raw") || !strcmp(action, "simp_slot")) {
		rc = hh_parse_send_raw(obj, where, s, err, errlen, action[1] == 'i');
	} else if (!strcmp(action, "visibility")) {
		static const char *const keys[] = { "visibility", NULL };
		static const char *const vals[] = { "grant", "refuse" };
		int v = 0;

		s->kind = HH_STEP_VISIBILITY;
		rc = hh_keys(obj, where, keys, err, errlen);
		if (!rc)
			rc = hh_get_enum(obj, "visibility", vals, 2, -1, &v, where, err, errlen);
		s->flag = v == 1;
		snprintf(s->label, sizeof(s->label), "visibility %s", vals[v]);
	} else if (!strcmp(action, "offer")) {
		static const char *const keys[] = { "offer", NULL };

		s->kind = HH_STEP_OFFER;
		rc = hh_keys(obj, where, keys, err, errlen);
		if (!rc)
			rc = hh_parse_offer(json_object_get(obj, "offer"), where, &s->offer, err,
					    errlen);
		s->len = hh_offer_bytes(&s->offer, s->bytes);
		s->hv_type = HVMSG_VMBUS;
		s->repeat = 1;
		snprintf(s->label, sizeof(s->label), "offer relid %u flags %#x", s->offer.relid,
			 s->offer.flags);
	} else if (!strcmp(action, "rescind")) {
		static const char *const keys[] = { "rescind", NULL };
		uint64_t relid = 0;

		s->kind = HH_STEP_SEND;
		rc = hh_keys(obj, where, keys, err, errlen);
		if (!rc && hh_u64(json_object_get(obj, "rescind"), UINT32_MAX, &relid))
			rc = hh_err(err, errlen, "%s: \"rescind\" takes a relid", where);
		memset(s->bytes, 0, sizeof(s->bytes));
		hh_wr32(s->bytes, 0, CVMBUS_MSG_RESCIND_CHANNEL_OFFER);
		hh_wr32(s->bytes, 8, rc ? 0 : (uint32_t)relid);
		s->msgtype = CVMBUS_MSG_RESCIND_CHANNEL_OFFER;
		s->len = 12;
		s->hv_type = HVMSG_VMBUS;
		s->repeat = 1;
		snprintf(s->label, sizeof(s->label), "rescind %u", rc ? 0 : (unsigned)relid);
	} else if (!strncmp(action, "respond_", 8)) {
		static const char *const fields[] = { "respond_gpadl", "respond_open",
						      "respond_teardown", "respond_unload" };
		const char *keys[] = { action, NULL };
		int a = 0;

		s->kind = HH_STEP_POLICY;
		rc = hh_keys(obj, where, keys, err, errlen);
		if (!rc)
			rc = hh_get_enum(obj, action, hh_answer_names, 3, -1, &a, where, err, errlen);
		s->answer = (enum hh_answer)a;
		for (int i = 0; i < 4; i++)
			if (!strcmp(fields[i], action))
				s->pfield = (enum hh_policy_field)i;
		snprintf(s->label, sizeof(s->label), "%s %s", action, rc ? "?" : hh_answer_names[a]);
	} else if (!strcmp(action, "answer_contact") || !strcmp(action, "answer_offers")) {
		const char *keys[] = { action, NULL };

		s->kind = HH_STEP_POLICY;
		s->pfield = action[7] == 'c' ? HH_POL_CONTACT : HH_POL_OFFERS;
		rc = hh_keys(obj, where, keys, err, errlen);
		if (!rc)
			rc = hh_get_bool(obj, action, true, &s->flag, where, err, errlen);
		snprintf(s->label, sizeof(s->label), "%s %s", action, s->flag ? "on" : "off");
	} else if (!strcmp(action, "ring")) {
		s->kind = HH_STEP_RING;
		rc = hh_parse_ring(obj, where, s, err, errlen);
	} else if (!strcmp(action, "ring_packet") || !strcmp(action, "double_fetch")) {
		s->kind = action[0] == 'r' ? HH_STEP_RING_PACKET : HH_STEP_DOUBLE_FETCH;
		rc = hh_parse_ring_packet(obj, where, s, err, errlen, action[0] == 'd');
	} else if (!strcmp(action, "storage_response")) {
		s->kind = HH_STEP_STORAGE_RESPONSE;
		rc = hh_parse_tamper(obj, where, s, err, errlen);
	} else if (!strcmp(action, "network_response")) {
		s->kind = HH_STEP_NETWORK_RESPONSE;
		rc = hh_parse_netlie(obj, where, s, err, errlen);
	} else if (!strcmp(action, "signal_storm") || !strcmp(action, "message_storm")) {
		s->kind = action[0] == 's' ? HH_STEP_SIGNAL_STORM : HH_STEP_MESSAGE_STORM;
		rc = hh_parse_storm(obj, where, s, action[0] == 's', err, errlen);
	} else if (!strcmp(action, "sleep_ms")) {
		static const char *const keys[] = { "sleep_ms", NULL };

		s->kind = HH_STEP_SLEEP;
		rc = hh_keys(obj, where, keys, err, errlen);
		if (!rc)
			rc = hh_get_ms(obj, "sleep_ms", 0, &s->sleep_ns, where, err, errlen);
		snprintf(s->label, sizeof(s->label), "sleep %" PRIu64 " ms", s->sleep_ns / HH_MS);
	} else if (!strcmp(action, "guest")) {
		s->kind = HH_STEP_GUEST;
		rc = hh_parse_guest(obj, where, s, err, errlen);
		if (!rc)
			rc = hh_get_ms(obj, "timeout_ms", HH_DEFAULT_WAIT, &s->timeout_ns, where,
				       err, errlen);
	} else if (!strcmp(action, "await")) {
		static const char *const keys[] = { "await", "result", "timeout_ms", NULL };
		json_t *res = json_object_get(obj, "result");
		int op = 0;

		s->kind = HH_STEP_AWAIT;
		rc = hh_keys(obj, where, keys, err, errlen);
		if (!rc)
			rc = hh_get_enum(obj, "await", hh_gop_names, HH_GOP_COUNT, -1, &op, where,
					 err, errlen);
		s->gop.op = (enum hh_gop)op;
		if (!rc && res && hh_errno_parse(res, &s->expect_rc))
			rc = hh_err(err, errlen, "%s: \"result\" must be 0 or -EXXX", where);
		if (!rc)
			rc = hh_get_ms(obj, "timeout_ms", HH_DEFAULT_WAIT, &s->timeout_ns, where,
				       err, errlen);
		snprintf(s->label, sizeof(s->label), "await %s", rc ? "?" : hh_gop_names[op]);
	} else {
		static const char *const keys[] = { "wait_event", "relid", "timeout_ms", NULL };
		int ev = 0;

		s->kind = HH_STEP_WAIT_EVENT;
		rc = hh_keys(obj, where, keys, err, errlen);
		if (!rc)
			rc = hh_get_enum(obj, "wait_event", hh_event_ids, CVMBUS_CLIENT_EV_COUNT, -1,
					 &ev, where, err, errlen);
		s->event = (enum cvmbus_client_event_type)ev;
		if (!rc && (s->has_relid = json_object_get(obj, "relid") != NULL))
			rc = hh_get_u32(obj, "relid", UINT32_MAX, 0, &s->relid, where, err, errlen);
		if (!rc)
			rc = hh_get_ms(obj, "timeout_ms", HH_DEFAULT_WAIT, &s->timeout_ns, where,
				       err, errlen);
		snprintf(s->label, sizeof(s->label), "wait_event %s", rc ? "?" : hh_event_ids[ev]);
	}
	return rc;
}

/* ---- the expected outcome ---------------------------------------------------------- */

/* Counters a scenario may check, by name (see hh_counter_value()). */
static const char *const hh_counter_names[] = {
	"other_messages",  "unknown_relid_events", "queue_stalls",     "interrupts",
	"rx_messages",	   "rx_dropped",	   "offers_accepted",  "offers_refused",
	"timeouts",	   "pages_leaked",	   "storvsc_unknown_completions",
	"storvsc_bad_completions", "host_posts",  "host_signals",     "storm_messages",
	"host_rewrites",   "host_post_drops",	   "visibility_refusals",
	"netvsc_bad_xfer", "netvsc_bad_nvsp",	   "netvsc_bad_rndis", "netvsc_unknown_completions",
	"netvsc_rx_frames", "host_net_tx_frames",  NULL,
};

static int hh_parse_expect(json_t *obj, struct hh_expect *e, char *err, size_t errlen)
{
	static const char *const keys[] = { "kind",	"drop_reason", "count",	     "min_count",
					    "msgtype",	"errno",       "relid",	     "ring_fault",
					    "released", "guest_state", "allow_drops", "allow_leaks",
					    "counters", NULL };
	const char *where = "expect_outcome";
	json_t *v;
	int kind = 0, rc;

	rc = hh_keys(obj, where, keys, err, errlen);
	if (!rc)
		rc = hh_get_enum(obj, "kind", hh_outcome_names, CVMBUS_HOSTILE_OUTCOME_COUNT, -1,
				 &kind, where, err, errlen);
	if (rc)
		return rc;
	e->kind = (enum cvmbus_hostile_outcome_kind)kind;
	if ((v = json_object_get(obj, "drop_reason"))) {
		int r = json_is_string(v) ? hh_lookup(hh_drop_ids, CVMBUS_CLIENT_DROP_COUNT,
						      json_string_value(v))
					  : -1;

		if (r <= 0)
			return hh_err(err, errlen, "%s: no such drop reason", where);
		e->has_reason = true;
		e->reason = (enum cvmbus_client_drop)r;
	}
	if ((e->kind == CVMBUS_HOSTILE_MESSAGE_DROPPED || e->kind == CVMBUS_HOSTILE_OFFER_REFUSED) &&
	    !e->has_reason)
		return hh_err(err, errlen, "%s: %s needs \"drop_reason\"", where,
			      hh_outcome_names[kind]);
	v = json_object_get(obj, "count");
	if (v && json_is_string(v) && !strcmp(json_string_value(v), "storm")) {
		/* As many as the message storms delivered. */
		e->has_count = e->count_storm = true;
	} else if (v) {
		e->has_count = true;
		if (hh_u64(v, UINT32_MAX, &e->count))
			return hh_err(err, errlen, "%s: \"count\" is a number or \"storm\"", where);
	} else if (json_object_get(obj, "min_count")) {
		e->has_count = e->count_min = true;
		rc = hh_get_u64(obj, "min_count", UINT32_MAX, 1, &e->count, where, err, errlen);
	}
	if (!rc && (v = json_object_get(obj, "msgtype"))) {
		e->has_msgtype = true;
		if (json_is_string(v) ? hh_msgtype_lookup(json_string_value(v), &e->msgtype)
				      : hh_get_u32(obj, "msgtype", UINT32_MAX, 0, &e->msgtype,
						   where, err, errlen))
			return hh_err(err, errlen, "%s: \"msgtype\" is a type name or number",
				      where);
	}
	if (!rc && (v = json_object_get(obj, "errno"))) {
		e->has_errno = true;
		if (hh_errno_parse(v, &e->err))
			return hh_err(err, errlen, "%s: \"errno\" must be 0 or -EXXX", where);
	}
	if (!rc && (e->has_relid = json_object_get(obj, "relid") != NULL))
		rc = hh_get_u32(obj, "relid", HH_MAX_RELID - 1, 0, &e->relid, where, err, errlen);
	if (!rc && (v = json_object_get(obj, "ring_fault"))) {
		int f = json_is_string(v) ? hh_lookup(hh_fault_ids, CVMBUS_RING_FAULT_COUNT_,
						      json_string_value(v))
					  : -1;

		if (f <= 0)
			return hh_err(err, errlen, "%s: no such ring fault", where);
		e->has_fault = true;
		e->fault = (enum cvmbus_ring_fault)f;
	}
	if (!rc)
		rc = hh_get_bool(obj, "released", false, &e->released, where, err, errlen);
	if (!rc) {
		int st = e->kind == CVMBUS_HOSTILE_CONNECTION_REFUSED ? CVMBUS_GUEST_STARTED
								       : CVMBUS_GUEST_CONNECTED;

		rc = hh_get_enum(obj, "guest_state", hh_state_ids,
				 sizeof(hh_state_ids) / sizeof(hh_state_ids[0]), st, &st, where,
				 err, errlen);
		e->state = (enum cvmbus_guest_state)st;
	}
	if (!rc)
		rc = hh_get_bool(obj, "allow_leaks", false, &e->allow_leaks, where, err, errlen);
	if (rc)
		return rc;
	if ((v = json_object_get(obj, "allow_drops"))) {
		json_t *d;
		size_t i;

		if (!json_is_array(v))
			return hh_err(err, errlen, "%s: \"allow_drops\" is a list", where);
		json_array_foreach(v, i, d) {
			int r = json_is_string(d) ? hh_lookup(hh_drop_ids, CVMBUS_CLIENT_DROP_COUNT,
							      json_string_value(d))
						  : -1;

			if (r <= 0)
				return hh_err(err, errlen, "%s: no such drop reason", where);
			e->allow_drops |= 1u << r;
		}
	}
	if ((v = json_object_get(obj, "counters"))) {
		const char *k;
		json_t *c;

		if (!json_is_object(v))
			return hh_err(err, errlen, "%s: \"counters\" is an object", where);
		json_object_foreach(v, k, c) {
			struct hh_counter_check *cc;

			if (hh_lookup(hh_counter_names,
				      sizeof(hh_counter_names) / sizeof(hh_counter_names[0]) - 1,
				      k) < 0)
				return hh_err(err, errlen, "%s: no counter \"%s\"", where, k);
			if (e->ncounters == sizeof(e->counters) / sizeof(e->counters[0]))
				return hh_err(err, errlen, "%s: too many counters", where);
			cc = &e->counters[e->ncounters++];
			snprintf(cc->name, sizeof(cc->name), "%s", k);
			if (json_is_object(c)) {
				static const char *const mk[] = { "min", NULL };

				rc = hh_keys(c, where, mk, err, errlen);
				if (!rc)
					rc = hh_get_u64(c, "min", UINT64_MAX, 0, &cc->value, where,
							err, errlen);
				if (rc)
					return rc;
				cc->minimum = true;
			} else if (hh_u64(c, UINT64_MAX, &cc->value)) {
				return hh_err(err, errlen, "%s: counter \"%s\" is N or {\"min\": N}",
					      where, k);
			}
		}
	}
	if (e->kind == CVMBUS_HOSTILE_CHANNEL_CLOSED && !e->has_relid)
		return hh_err(err, errlen, "%s: channel_closed needs \"relid\"", where);
	if ((e->kind == CVMBUS_HOSTILE_CONNECTION_REFUSED ||
	     e->kind == CVMBUS_HOSTILE_REQUEST_FAILED) && !e->has_errno)
		return hh_err(err, errlen, "%s: %s needs \"errno\"", where, hh_outcome_names[kind]);
	return 0;
}

/* One line for the table in docs/SECURITY.md: what the guest must do. */
static void hh_outcome_text(struct cvmbus_hostile *h)
{
	const struct hh_expect *e = &h->expect;
	char er[24], cnt[32] = "";
	char *o = h->outcome;
	size_t cap = sizeof(h->outcome);

	hh_errno_format(e->err, er, sizeof(er));
	if (e->count_storm)
		snprintf(cnt, sizeof(cnt), ", every one");
	else if (e->has_count)
		snprintf(cnt, sizeof(cnt), ", %sx%" PRIu64, e->count_min ? ">= " : "", e->count);
	switch (e->kind) {
	case CVMBUS_HOSTILE_MESSAGE_DROPPED:
		snprintf(o, cap, "dropped: `%s`%s", hh_drop_ids[e->reason], cnt);
		break;
	case CVMBUS_HOSTILE_OFFER_REFUSED:
		snprintf(o, cap, "offer refused: `%s`%s", hh_drop_ids[e->reason], cnt);
		break;
	case CVMBUS_HOSTILE_CONNECTION_REFUSED:
		snprintf(o, cap, "connection refused: `%s`", er);
		break;
	case CVMBUS_HOSTILE_CHANNEL_CLOSED:
		snprintf(o, cap, "channel %u closed%s%s%s%s", e->relid,
			 e->has_fault ? ": ring fault `" : "",
			 e->has_fault ? hh_fault_ids[e->fault] : "", e->has_fault ? "`" : "",
			 e->released ? ", released" : "");
		break;
	case CVMBUS_HOSTILE_REQUEST_FAILED:
		snprintf(o, cap, "request failed: `%s`, the guest goes on", er);
		break;
	case CVMBUS_HOSTILE_COMPLETION_DROPPED:
		snprintf(o, cap, "completion dropped%s, the request completes", cnt);
		break;
	case CVMBUS_HOSTILE_PACKET_DROPPED:
		snprintf(o, cap, "dropped and counted by netvsc%s, good frames pass", cnt);
		break;
	default:
		snprintf(o, cap, "survives, later exchanges work");
		break;
	}
}

static char *hh_strdup_field(json_t *root, const char *key, bool required, char *err,
			     size_t errlen, int *rc)
{
	json_t *v = json_object_get(root, key);
	char *s;

	if (!v && !required)
		return strdup("");
	if (!json_is_string(v) || !*json_string_value(v)) {
		*rc = hh_err(err, errlen, "\"%s\" must be a non-empty string", key);
		return NULL;
	}
	s = strdup(json_string_value(v));
	if (!s)
		*rc = -ENOMEM;
	return s;
}

static int hh_parse_platform_guest(json_t *root, struct cvmbus_hostile *h, char *err,
				   size_t errlen)
{
	static const char *const pkeys[] = { "isolation", "vcpus", NULL };
	static const char *const gkeys[] = { "contact_timeout_ms", "offers_timeout_ms",
					     "reply_timeout_ms",   "queue_depth",
					     "op_timeout_ms",	   NULL };
	static const char *const isos[] = { "none", "vbs", "snp", "tdx" };
	json_t *p = json_object_get(root, "platform"), *g = json_object_get(root, "guest");
	int iso = 2, rc = 0;

	if (p) {
		rc = hh_keys(p, "platform", pkeys, err, errlen);
		if (!rc)
			rc = hh_get_enum(p, "isolation", isos, 4, 2, &iso, "platform", err, errlen);
		if (!rc)
			rc = hh_get_u32(p, "vcpus", 4, 1, &h->vcpus, "platform", err, errlen);
		if (!rc && !h->vcpus)
			rc = hh_err(err, errlen, "platform: \"vcpus\" is 1..4");
	} else {
		h->vcpus = 1;
	}
	/* The values of enum hv_isolation_type, in the order of isos[]. */
	h->isolation = iso == 0   ? HV_ISOLATION_TYPE_NONE
		       : iso == 1 ? HV_ISOLATION_TYPE_VBS
		       : iso == 2 ? HV_ISOLATION_TYPE_SNP
				  : HV_ISOLATION_TYPE_TDX;
	/* Short waits by default: a host that never answers must cost the
	 * suite little, and every wait is still far above a real answer. */
	if (!g)
		g = json_object();
	else
		json_incref(g);
	if (!rc)
		rc = hh_keys(g, "guest", gkeys, err, errlen);
	if (!rc)
		rc = hh_get_ms(g, "contact_timeout_ms", 2000 * HH_MS, &h->contact_timeout_ns,
			       "guest", err, errlen);
	if (!rc)
		rc = hh_get_ms(g, "offers_timeout_ms", 2000 * HH_MS, &h->offers_timeout_ns, "guest",
			       err, errlen);
	if (!rc)
		rc = hh_get_ms(g, "reply_timeout_ms", 1000 * HH_MS, &h->reply_timeout_ns, "guest",
			       err, errlen);
	if (!rc)
		rc = hh_get_ms(g, "op_timeout_ms", 2000 * HH_MS, &h->op_timeout_ns, "guest", err,
			       errlen);
	if (!rc)
		rc = hh_get_u32(g, "queue_depth", CVMBUS_GUEST_MAX_MSG_QUEUE, 0, &h->queue_depth,
				"guest", err, errlen);
	json_decref(g);
	return rc;
}

static int hh_parse_host(json_t *root, struct cvmbus_hostile *h, char *err, size_t errlen)
{
	static const char *const keys[] = { "versions",	       "answer_contact",
					    "version_response_len", "supported_features",
					    "answer_offers",   "offers",
					    "gpadl",	       "open",
					    "teardown",	       "unload",
					    "signal",	       NULL };
	static const char *const signals[] = { "ring", "always" };
	struct hh_policy *p = &h->policy;
	json_t *o = json_object_get(root, "host"), *v, *e;
	int a, rc;
	size_t i;

	if (!o)
		o = json_object();
	else
		json_incref(o);
	rc = hh_keys(o, "host", keys, err, errlen);
	if (!rc)
		rc = hh_get_bool(o, "answer_contact", true, &p->answer_contact, "host", err, errlen);
	if (!rc)
		rc = hh_get_bool(o, "answer_offers", true, &p->answer_offers, "host", err, errlen);
	if (!rc)
		rc = hh_get_u32(o, "version_response_len", HV_MESSAGE_PAYLOAD_SIZE, 16,
				&p->version_response_len, "host", err, errlen);
	if (!rc)
		rc = hh_get_u32(o, "supported_features", UINT32_MAX, 0, &p->supported_features,
				"host", err, errlen);
	if (!rc) {
		rc = hh_get_enum(o, "gpadl", hh_answer_names, 3, HH_ANSWER_OK, &a, "host", err,
				 errlen);
		p->gpadl = (enum hh_answer)a;
	}
	if (!rc) {
		rc = hh_get_enum(o, "open", hh_answer_names, 3, HH_ANSWER_OK, &a, "host", err,
				 errlen);
		p->open = (enum hh_answer)a;
	}
	if (!rc) {
		rc = hh_get_enum(o, "teardown", hh_answer_names, 3, HH_ANSWER_OK, &a, "host", err,
				 errlen);
		p->teardown = (enum hh_answer)a;
	}
	if (!rc) {
		rc = hh_get_enum(o, "unload", hh_answer_names, 3, HH_ANSWER_OK, &a, "host", err,
				 errlen);
		p->unload = (enum hh_answer)a;
	}
	if (!rc) {
		rc = hh_get_enum(o, "signal", signals, 2, 0, &a, "host", err, errlen);
		p->signal_always = a == 1;
	}
	v = json_object_get(o, "versions");
	if (!rc && v) {
		if (!json_is_array(v) || json_array_size(v) > 16)
			rc = hh_err(err, errlen, "host: \"versions\" lists up to 16 \"M.m\"");
		json_array_foreach(v, i, e) {
			if (rc)
				break;
			if (!json_is_string(e) ||
			    cvmbus_wire_version_parse(json_string_value(e),
						      &p->versions[p->nversions]))
				rc = hh_err(err, errlen, "host: bad version in \"versions\"");
			else
				p->nversions++;
		}
	} else if (!rc) {
		p->versions[0] = CVMBUS_VERSION_6_0;
		p->nversions = 1;
	}
	v = json_object_get(o, "offers");
	if (!rc && v) {
		if (!json_is_array(v) || json_array_size(v) > HH_MAX_OFFERS)
			rc = hh_err(err, errlen, "host: \"offers\" lists up to %u offers",
				    HH_MAX_OFFERS);
		json_array_foreach(v, i, e) {
			char where[32];

			if (rc)
				break;
			snprintf(where, sizeof(where), "host offer %zu", i + 1);
			rc = hh_parse_offer(e, where, &h->offers[h->noffers++], err, errlen);
		}
	}
	json_decref(o);
	return rc;
}

static bool hh_name_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

static int hh_load_json(json_t *root, const char *path, struct cvmbus_hostile **out, char *err,
			size_t errlen)
{
	static const char *const keys[] = { "name",  "family", "description", "attack",
					    "platform", "guest", "host",	"budget_ms",
					    "steps", "expect_outcome", NULL };
	struct cvmbus_hostile *h;
	json_t *steps, *s;
	int fam = 0, rc = 0;
	size_t i;

	rc = hh_keys(root, "scenario", keys, err, errlen);
	if (rc)
		return rc;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->path = strdup(path ? path : "");
	h->name = hh_strdup_field(root, "name", true, err, errlen, &rc);
	if (!rc)
		h->description = hh_strdup_field(root, "description", true, err, errlen, &rc);
	if (!rc)
		h->attack = hh_strdup_field(root, "attack", true, err, errlen, &rc);
	if (!rc && (!h->path || !h->name || !h->description || !h->attack))
		rc = -ENOMEM;
	if (!rc && !hh_name_ok(h->name))
		rc = hh_err(err, errlen, "\"name\" is lowercase letters, digits and '-'");
	if (!rc)
		rc = hh_get_enum(root, "family", hh_family_names, CVMBUS_HOSTILE_FAMILY_COUNT, -1,
				 &fam, "scenario", err, errlen);
	h->family = (enum cvmbus_hostile_family)fam;
	if (!rc)
		rc = hh_get_ms(root, "budget_ms", HH_DEFAULT_BUDGET, &h->budget_ns, "scenario", err,
			       errlen);
	if (!rc)
		rc = hh_parse_platform_guest(root, h, err, errlen);
	if (!rc)
		rc = hh_parse_host(root, h, err, errlen);
	steps = json_object_get(root, "steps");
	if (!rc && (!json_is_array(steps) || !json_array_size(steps) ||
		    json_array_size(steps) > HH_MAX_STEPS))
		rc = hh_err(err, errlen, "\"steps\" must list 1..%u steps", HH_MAX_STEPS);
	if (!rc) {
		h->steps = calloc(json_array_size(steps), sizeof(*h->steps));
		if (!h->steps)
			rc = -ENOMEM;
	}
	if (!rc) {
		json_array_foreach(steps, i, s) {
			h->nsteps++;
			rc = hh_parse_step(s, i, &h->steps[i], err, errlen);
			if (rc)
				break;
		}
	}
	if (!rc && !json_object_get(root, "expect_outcome"))
		rc = hh_err(err, errlen, "\"expect_outcome\" is required");
	if (!rc)
		rc = hh_parse_expect(json_object_get(root, "expect_outcome"), &h->expect, err,
				     errlen);
	if (rc) {
		cvmbus_hostile_free(h);
		return rc;
	}
	hh_outcome_text(h);
	*out = h;
	return 0;
}

int cvmbus_hostile_load_string(const char *text, struct cvmbus_hostile **out, char *err,
			       size_t errlen)
{
	json_error_t je;
	json_t *root;
	int rc;

	if (!text || !out)
		return -EINVAL;
	root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return hh_err(err, errlen, "json line %d: %s", je.line, je.text);
	rc = hh_load_json(root, NULL, out, err, errlen);
	json_decref(root);
	return rc;
}

int cvmbus_hostile_load_file(const char *path, struct cvmbus_hostile **out, char *err,
			     size_t errlen)
{
	json_error_t je;
	json_t *root;
	FILE *f;
	long size;
	int rc;

	if (!path || !out)
		return -EINVAL;
	f = fopen(path, "r");
	if (!f) {
		hh_err(err, errlen, "%s: cannot open", path);
		return -ENOENT;
	}
	/* Check the size first: jansson would read a file of any size. */
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return hh_err(err, errlen, "%s: cannot size", path);
	}
	if (size > (long)HH_MAX_FILE) {
		fclose(f);
		hh_err(err, errlen, "%s: larger than %u bytes", path, HH_MAX_FILE);
		return -EFBIG;
	}
	root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
	fclose(f);
	if (!root)
		return hh_err(err, errlen, "%s:%d: %s", path, je.line, je.text);
	rc = hh_load_json(root, path, out, err, errlen);
	json_decref(root);
	return rc;
}

void cvmbus_hostile_free(struct cvmbus_hostile *h)
{
	if (!h)
		return;
	for (size_t i = 0; h->steps && i < h->nsteps; i++)
		free(h->steps[i].pkt);
	free(h->steps);
	free(h->path);
	free(h->name);
	free(h->description);
	free(h->attack);
	free(h);
}

void cvmbus_hostile_get_info(const struct cvmbus_hostile *h, struct cvmbus_hostile_info *out)
{
	memset(out, 0, sizeof(*out));
	if (!h)
		return;
	out->path = h->path;
	out->name = h->name;
	out->family = h->family;
	out->description = h->description;
	out->attack = h->attack;
	out->kind = h->expect.kind;
	out->outcome = h->outcome;
	out->steps = h->nsteps;
}

/* ======================================================================
 * The run: shared state of the host, the guest driver and the checks
 * ====================================================================== */

struct hh_run;

/* The host side of one relid the host offered. */
struct hh_hchan {
	struct hh_run *run;
	uint32_t relid;
	bool offered;
	struct hh_offer offer;
	/* Set by the port thread at OpenChannel, under run->lock. */
	bool attached;
	uint8_t *region; /* the ring pages through the host view */
	size_t len;
	uint32_t ds_off; /* the guest's receive ring, in pages */
	uint32_t target_vp;
	bool event_port;
	_Atomic bool host_up;
	struct cvmbus_channel host;
	struct cvmbus_channel_ops ops;
	struct cvmbus_thread *svc;
	_Atomic bool svc_stop;
	/* The next storage completion's lies (run->lock). */
	bool tamper_armed;
	struct hh_tamper tamper;
	/* The network device (HH_SVC_NET): its own thread's state ... */
	bool net_rx_ok, net_tx_ok;
	uint64_t net_rx_alias, net_tx_alias; /* the buffers, as the host reaches them */
	uint32_t net_rx_bytes, net_tx_bytes;
	uint16_t net_rx_id;
	uint32_t net_rx_sections, net_rx_next;
	uint64_t net_tid;
	uint8_t net_seq;
	/* ... what the script asked of it (run->lock) ... */
	bool net_lie_armed;
	struct hh_netlie net_lie;
	uint32_t net_frames_wanted;
	/* ... and what it saw. */
	_Atomic uint64_t net_tx_frames;
};

struct hh_gpadl {
	bool used;
	uint32_t handle, relid;
	uint32_t pages, have; /* PFNs announced, PFNs received so far */
	uint64_t first_pfn;
	bool contiguous;
};

/* A control message the guest posted to the host. */
struct hh_msg {
	uint32_t type, len;
	uint8_t b[HV_MESSAGE_PAYLOAD_SIZE];
	bool consumed;
};

/* A guest step handed to the guest driver thread. */
struct hh_job {
	const struct hh_step *step;
	bool done, awaited;
	int rc;
	char why[160];
};

/* The guest side of one relid: what the driver thread opened on it. */
struct hh_gchan {
	struct cvmbus_channel *ch; /* owned by the guest glue */
	struct cvmbus_echo_vsc echo;
	struct cvmbus_storvsc *vsc;
	struct cvmbus_bounce_pool *pool;
	uint64_t buf_gpa; /* private I/O buffer, HH_IOBUF_PAGES */
	bool buf;
	/* netvsc, on the guest's channel (whose ops give it its buffers and
	 * tear them down after the close). */
	struct cvmbus_netvsc *nvsc;
	_Atomic uint64_t net_good, net_bad; /* frames delivered: honest or not */
	/* Why the channel ended, read before the glue destroys it. */
	bool was_closed;
	struct cvmbus_ring_fault_info fault;
};

struct hh_event {
	enum cvmbus_client_event_type type;
	uint32_t relid, msgtype;
	int status;
	enum cvmbus_client_drop reason;
};

/* The double-fetch hook's state: where the packet is, what to rewrite. */
struct hh_dfetch {
	struct hh_run *run;
	struct hh_hchan *c;
	const struct hh_packet *p;
	_Atomic bool armed_desc, armed_pkt;
};

struct hh_run {
	const struct cvmbus_hostile *sc;
	bool verbose;
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct cvmbus_mem *mem;
	struct cvmbus_mem_host_view *hv;
	struct cvmbus_guest *g;
	uint64_t t0, deadline;

	struct cvmbus_mutex lock; /* everything below but the atomics */
	struct cvmbus_cond cond;  /* inbox, events, jobs changed */
	struct hh_policy pol;
	bool port4, port1;
	struct hh_msg inbox[HH_INBOX];
	unsigned int ninbox;
	uint64_t inbox_overflow;
	struct hh_gpadl gpadls[HH_MAX_GPADLS];
	struct hh_hchan hc[HH_MAX_RELID];
	struct hh_gchan gc[HH_MAX_RELID]; /* the driver thread's; read by main once idle */
	struct hh_event events[HH_MAX_EVENTS];
	unsigned int nevents;
	uint64_t ev_count[CVMBUS_CLIENT_EV_COUNT];
	uint64_t proto_drops[CVMBUS_CLIENT_DROP_COUNT]; /* PROTOCOL_ERROR events by reason */
	uint64_t refusals[CVMBUS_CLIENT_DROP_COUNT];    /* OFFER_REFUSED events by reason */
	bool connect_failed;
	int connect_status;
	struct hh_job jobs[HH_MAX_JOBS];
	unsigned int njobs, next_job;
	bool worker_stop;
	struct cvmbus_thread *worker;
	struct hh_dfetch df;

	_Atomic uint64_t posts, post_drops, signals, storm, rewrites;
	_Atomic uint32_t msg_vp; /* InitiateContact's target_vcpu */
	_Atomic bool vis_refuse;
	_Atomic uint64_t vis_refused;
	bool vis_hooked;
	char host_err[160]; /* the first thing the host itself got wrong */
	char why[256];      /* the first failed step or check */
};

/* The first error of a run, a job or the host wins: a later one is usually
 * a consequence of it and would hide the cause. */
static void hh_first_error(char *buf, size_t cap, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void hh_first_error(char *buf, size_t cap, const char *fmt, va_list ap)
{
	if (!buf[0])
		vsnprintf(buf, cap, fmt, ap);
}

static void hh_host_fail(struct hh_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Under run->lock or not: only the first failure is kept. */
static void hh_host_fail(struct hh_run *r, const char *fmt, ...)
{
	va_list ap;

	cvmbus_mutex_lock(&r->lock);
	va_start(ap, fmt);
	hh_first_error(r->host_err, sizeof(r->host_err), fmt, ap);
	va_end(ap);
	cvmbus_mutex_unlock(&r->lock);
}

static void hh_fail(struct hh_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The scenario failed (main thread only). */
static void hh_fail(struct hh_run *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hh_first_error(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

static uint64_t hh_now(const struct hh_run *r)
{
	return cvmbus_exec_now_ns(r->exec);
}

/* A wait of `want` cut to what is left of the budget (at least 1 ns, so
 * that a wait never means "forever"). */
static uint64_t hh_wait_ns(const struct hh_run *r, uint64_t want)
{
	uint64_t now = hh_now(r), left = r->deadline > now ? r->deadline - now : 1;

	return want < left ? want : left;
}

/* Anything into the guest's SINT 2 on the hypervisor SynIC. A full queue
 * is the guest's back-pressure, not a refusal: the host retries for a
 * while, as the paravisor's and the host's glue do. */
static int hh_post(struct hh_run *r, uint32_t vp, uint32_t hv_type, const void *b, uint32_t len)
{
	uint64_t give_up = hh_now(r) + HH_POST_PATIENCE;
	int rc;

	for (;;) {
		rc = cvmbus_synic_post(r->p, CVMBUS_SYNIC_HYPERVISOR, vp, VMBUS_MESSAGE_SINT, hv_type,
				       b, len);
		if (rc != -ENOSPC || hh_now(r) >= give_up)
			break;
		cvmbus_exec_sleep_ns(r->exec, HH_POST_RETRY_NS);
	}
	if (rc == 0)
		atomic_fetch_add(&r->posts, 1);
	else
		atomic_fetch_add(&r->post_drops, 1);
	return rc;
}

static int hh_signal(struct hh_run *r, uint32_t vp, uint32_t flag)
{
	int rc = cvmbus_synic_signal(r->p, CVMBUS_SYNIC_HYPERVISOR, vp, VMBUS_MESSAGE_SINT, flag);

	/* 1: the flag was set and the SINT raised; 0: it was set already
	 * (the guest had not looked yet). Both are a delivered signal. */
	if (rc >= 0)
		atomic_fetch_add(&r->signals, 1);
	return rc < 0 ? rc : 0;
}

/* ---- host channels ----------------------------------------------------------------- */

static void hh_host_chan_signal(void *ctx)
{
	struct hh_hchan *c = ctx;

	(void)hh_signal(c->run, c->target_vp, c->relid);
}

/* The host reaches guest memory through its view only: shared aliases. */
static int hh_host_mem_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	struct hh_hchan *c = ctx;

	return cvmbus_mem_host_read(c->run->hv, gpa, dst, len);
}

static int hh_host_mem_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct hh_hchan *c = ctx;

	return cvmbus_mem_host_write(c->run->hv, gpa, src, len);
}

static void hh_on_guest_signal(void *ctx, const struct cvmbus_port_event *ev)
{
	struct hh_hchan *c = ctx;

	(void)ev;
	if (atomic_load(&c->host_up))
		cvmbus_channel_notify(&c->host);
}

/* Send on the host endpoint; a noisy host signals whatever the ring says
 * (the interrupt_mask games make the ring's own decision lie). */
static int hh_host_send(struct hh_hchan *c, uint64_t trans_id, const void *b, size_t len)
{
	int rc = cvmbus_channel_send_completion(&c->host, trans_id, b, len, 1000 * HH_MS);

	if (rc == 0 && c->run->pol.signal_always)
		(void)hh_signal(c->run, c->target_vp, c->relid);
	return rc;
}

static int hh_echo_main(void *arg)
{
	struct hh_hchan *c = arg;
	struct cvmbus_ring_packet pkt;

	while (!atomic_load(&c->svc_stop)) {
		int rc = cvmbus_channel_recv(&c->host, &pkt, HH_SVC_POLL_NS);

		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			continue;
		if (rc < 0)
			break; /* closed, or the guest broke its ring: nothing to serve */
		if (pkt.type == CVMBUS_RING_PKT_INBAND &&
		    (pkt.flags & CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED))
			(void)hh_host_send(c, pkt.trans_id, pkt.payload, pkt.payload_len);
	}
	return 0;
}

/* What the honest disk holds at byte `off`: the guest checks it. */
static uint8_t hh_disk_byte(uint64_t off)
{
	return (uint8_t)(off ^ (off >> 9) ^ 0x5a);
}

static uint64_t hh_be(const uint8_t *b, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

/* One VSTOR request in, one completion out: a device written by hand from
 * the layouts (docs/STORAGE.md), honest unless the script armed a lie. */
static void hh_storage_serve(struct hh_hchan *c, const struct cvmbus_ring_packet *pkt)
{
	struct hh_run *r = c->run;
	uint8_t req[64], resp[64];
	uint32_t len = pkt->payload_len < sizeof(req) ? pkt->payload_len : (uint32_t)sizeof(req);
	uint32_t op, honest_len;
	uint64_t id = pkt->trans_id;
	struct hh_tamper t = { 0 };
	bool lie = false;

	if (len < 12 || !(pkt->flags & CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED))
		return;
	memset(req, 0, sizeof(req));
	memcpy(req, pkt->payload, len);
	memcpy(resp, req, sizeof(resp));
	op = hh_rd32(req, 0);
	/* operation COMPLETE_IO @0, flags @4, status @8 */
	hh_wr32(resp, 0, CVMBUS_VSTOR_OP_COMPLETE_IO);
	hh_wr32(resp, 4, 0);
	hh_wr32(resp, 8, CVMBUS_VSTOR_STATUS_SUCCESS);
	switch (op) {
	case CVMBUS_VSTOR_OP_QUERY_PROTOCOL_VERSION: /* major_minor @12 */
		if (hh_rd16(req, 12) != CVMBUS_VSTOR_VERSION_WIN10)
			hh_wr32(resp, 8, CVMBUS_VSTOR_STATUS_REVISION_MISMATCH);
		break;
	case CVMBUS_VSTOR_OP_QUERY_PROPERTIES:
		/* properties @12: max_channel_count @16, flags @20,
		 * max_transfer_bytes @24 */
		hh_wr16(resp, 16, 0);
		hh_wr32(resp, 20, 0);
		hh_wr32(resp, 24, HH_STOR_MAX_XFER);
		break;
	case CVMBUS_VSTOR_OP_EXECUTE_SRB: {
		/* SRB @12: srb_status @14, scsi_status @15, sense_info_length
		 * @21, data_in @22, data_transfer_length @24, cdb @28 */
		uint32_t xfer = hh_rd32(req, 24);
		const uint8_t *cdb = req + 28;

		resp[14] = CVMBUS_SRB_STATUS_SUCCESS;
		resp[15] = 0;
		resp[21] = 0;
		if (req[22] == CVMBUS_VSTOR_DATA_IN && xfer && pkt->type == CVMBUS_RING_PKT_GPA_DIRECT) {
			struct cvmbus_ring_gpa_view range;
			uint32_t cursor = 0;
			uint64_t lba = cdb[0] == 0x88 ? hh_be(cdb + 2, 8) : hh_be(cdb + 2, 4);
			uint8_t *data = xfer <= HH_STOR_MAX_XFER ? malloc(xfer) : NULL;

			if (!data || cvmbus_ring_packet_gpa_range(pkt, &cursor, &range) != 1) {
				resp[14] = CVMBUS_SRB_STATUS_ERROR;
				hh_wr32(resp, 24, 0);
			} else {
				for (uint32_t i = 0; i < xfer; i++)
					data[i] = hh_disk_byte(lba * 512 + i);
				if (cvmbus_channel_gpa_write(&c->host, &range, 0, data, xfer)) {
					resp[14] = CVMBUS_SRB_STATUS_ERROR;
					hh_wr32(resp, 24, 0);
				}
			}
			free(data);
		}
		cvmbus_mutex_lock(&r->lock);
		if (c->tamper_armed) {
			t = c->tamper;
			c->tamper_armed = false;
			lie = true;
		}
		cvmbus_mutex_unlock(&r->lock);
		break;
	}
	default: /* BEGIN/END_INITIALIZATION and the rest: success */
		break;
	}
	honest_len = len;
	if (lie) {
		uint8_t bad[64];
		uint32_t blen = (t.set & HH_TF_LEN) ? t.len : len;

		memcpy(bad, resp, sizeof(bad));
		if (t.set & HH_TF_XFER)
			hh_wr32(bad, 24, t.data_transfer_length);
		if (t.set & HH_TF_SENSE) {
			/* The claimed sense bytes are there too (20 bytes @28). */
			bad[21] = (uint8_t)t.sense_info_length;
			memset(bad + 28, 0x70, 20);
		}
		if (t.set & HH_TF_OPERATION)
			hh_wr32(bad, 0, t.operation);
		if (t.set & HH_TF_STATUS)
			hh_wr32(bad, 8, t.status);
		if (t.set & HH_TF_SRB_STATUS)
			bad[14] = (uint8_t)t.srb_status;
		/* Another generation of the same tag: close to a real id, and
		 * exactly what a stale or forged completion looks like. */
		(void)hh_host_send(c, t.unknown_id ? id ^ (0x5a5aull << 40) : id, bad, blen);
		if (!t.then_honest)
			return;
	}
	(void)hh_host_send(c, id, resp, honest_len);
}

static int hh_storage_main(void *arg)
{
	struct hh_hchan *c = arg;
	struct cvmbus_ring_packet pkt;

	while (!atomic_load(&c->svc_stop)) {
		int rc = cvmbus_channel_recv(&c->host, &pkt, HH_SVC_POLL_NS);

		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			continue;
		if (rc < 0)
			break;
		if (pkt.type == CVMBUS_RING_PKT_INBAND || pkt.type == CVMBUS_RING_PKT_GPA_DIRECT)
			hh_storage_serve(c, &pkt);
	}
	return 0;
}

/* ---- the network device: NVSP and RNDIS by hand ----------------------------------- */

static struct hh_gpadl *hh_gpadl_find(struct hh_run *r, uint32_t handle);

/* The honest frame number `seq`, either way: to the guest's MAC (the one
 * the device announced) or to the host's, an experimental ethertype, then
 * bytes that depend on seq so that a frame the guest got can be checked
 * against the one that was sent. */
static const uint8_t hh_net_guest_mac[6] = { 0x00, 0x15, 0x5d, 0x48, 0x48, 0x01 };
static const uint8_t hh_net_host_mac[6] = { 0x02, 0x15, 0x5d, 0x48, 0x48, 0x02 };

static void hh_net_frame(uint8_t seq, bool to_guest, uint8_t *b)
{
	memcpy(b, to_guest ? hh_net_guest_mac : hh_net_host_mac, 6);
	memcpy(b + 6, to_guest ? hh_net_host_mac : hh_net_guest_mac, 6);
	b[12] = 0x88;
	b[13] = 0xb5;
	b[14] = seq;
	for (uint32_t i = 15; i < HH_NET_FRAME; i++)
		b[i] = (uint8_t)(seq * 13u + i);
}

/* A buffer the guest named by GPADL handle: the host's own record of the
 * GPADL (what a real host has), contiguous and complete, or nothing. */
static int hh_net_buf(struct hh_run *r, uint32_t handle, uint64_t *alias, uint32_t *bytes)
{
	struct hh_gpadl *gp;
	int rc = -ENOENT;

	cvmbus_mutex_lock(&r->lock);
	gp = hh_gpadl_find(r, handle);
	if (gp && gp->contiguous && gp->have == gp->pages && gp->pages <= (1u << 16)) {
		*alias = cvmbus_mem_gpa_to_alias(r->mem, gp->first_pfn * HH_PAGE);
		*bytes = gp->pages * HH_PAGE;
		rc = 0;
	}
	cvmbus_mutex_unlock(&r->lock);
	return rc;
}

/* A 40-byte NVSP message as the completion of the guest's request `tid`:
 * the type @0, then up to six u32 fields @4.. */
static void hh_net_complete(struct hh_hchan *c, uint64_t tid, uint32_t type, const uint32_t *f,
			    unsigned int n)
{
	uint8_t m[CVMBUS_NVSP_MSG_SIZE];

	memset(m, 0, sizeof(m));
	hh_wr32(m, 0, type);
	for (unsigned int i = 0; i < n && i < 9; i++)
		hh_wr32(m, 4 + 4 * (size_t)i, f[i]);
	(void)hh_host_send(c, tid, m, sizeof(m));
}

/* Put an RNDIS message in the next receive section and indicate it with a
 * transfer-page packet naming (set, off, count); off/count/set are the
 * honest ones unless the caller lies. */
static void hh_net_xfer(struct hh_hchan *c, uint16_t set, uint32_t off, uint32_t count,
			uint32_t channel_type)
{
	uint8_t m[CVMBUS_NVSP_MSG_SIZE];
	struct cvmbus_ring_xfer_range range = { .byte_count = count, .byte_offset = off };
	struct cvmbus_ring_iov iov = { .base = m, .len = sizeof(m) };
	struct cvmbus_ring_outpkt pkt = {
		.type = CVMBUS_RING_PKT_XFER_PAGES,
		.flags = CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED,
		.trans_id = 0x4e45540000000000ull | c->net_tid++,
		.xfer_set_id = set,
		.xfer = &range,
		.xfer_count = 1,
		.payload = &iov,
		.payload_count = 1,
	};

	/* SEND_RNDIS_PKT: channel_type @4, section_index @8 (none) */
	memset(m, 0, sizeof(m));
	hh_wr32(m, 0, CVMBUS_NVSP_SEND_RNDIS_PKT);
	hh_wr32(m, 4, channel_type);
	hh_wr32(m, 8, CVMBUS_NVSP_NO_SECTION);
	if (cvmbus_channel_send(&c->host, &pkt, 1000 * HH_MS) == 0 && c->run->pol.signal_always)
		(void)hh_signal(c->run, c->target_vp, c->relid);
}

/* Write msg into the next section (round robin: the guest copies a
 * section out before it completes the packet, and the script's traffic is
 * far from filling the buffer) and return its offset. */
static int hh_net_put(struct hh_hchan *c, const uint8_t *msg, uint32_t len, uint32_t *off)
{
	if (!c->net_rx_ok || len > HH_NET_RX_SECTION)
		return -ENOTCONN;
	*off = (c->net_rx_next++ % c->net_rx_sections) * HH_NET_RX_SECTION;
	return cvmbus_mem_host_write(c->run->hv, c->net_rx_alias + *off, msg, len);
}

static void hh_net_indicate(struct hh_hchan *c, const uint8_t *msg, uint32_t len,
			    uint32_t channel_type)
{
	uint32_t off;

	if (hh_net_put(c, msg, len, &off) == 0)
		hh_net_xfer(c, c->net_rx_id, off, len, channel_type);
}

/* One packet the script asked for: a lie, then (for the lies that are
 * packets of their own) nothing more: the script's net_recv shows that
 * the good frames still pass. */
static void hh_net_send_lie(struct hh_hchan *c, const struct hh_netlie *l)
{
	uint8_t frame[HH_NET_FRAME], b[128];
	uint32_t off;
	int n;

	hh_net_frame(0xEE, true, frame);
	n = cvmbus_rndis_build_packet(b, sizeof(b), frame, HH_NET_FRAME);
	if (n < 0)
		return;
	/* PACKET: len @4, data_offset @8 (from @8), data_len @12 */
	switch (l->lie) {
	case HH_NL_RNDIS_DATA_OFFSET:
		hh_wr32(b, 8, l->has_value ? l->value : 0x10000u);
		break;
	case HH_NL_RNDIS_DATA_LENGTH:
		hh_wr32(b, 12, l->has_value ? l->value : HH_NET_FRAME + 64);
		break;
	case HH_NL_RNDIS_MSG_LENGTH:
		hh_wr32(b, 4, l->has_value ? l->value : (uint32_t)n + 256);
		break;
	default:
		break;
	}
	if (hh_net_put(c, b, (uint32_t)n, &off))
		return;
	if (l->lie == HH_NL_XFER_RANGE)
		off = l->has_value ? l->value : c->net_rx_bytes;
	hh_net_xfer(c, l->lie == HH_NL_XFER_SET_ID ? (uint16_t)(l->has_value ? l->value : 0x1234)
						  : c->net_rx_id,
		    off, (uint32_t)n, CVMBUS_NVSP_CHANNEL_DATA);
}

/* The answer to one RNDIS control message (honest unless a QUERY lie is
 * armed: then that answer, then the true one if the script says so). */
static void hh_net_control(struct hh_hchan *c, const uint8_t *req, uint32_t len)
{
	struct hh_run *r = c->run;
	uint32_t type = hh_rd32(req, 0), id = hh_rd32(req, 8), v = 0;
	uint8_t b[128];
	const void *info = &v;
	uint32_t info_len = 4, status = CVMBUS_RNDIS_STATUS_SUCCESS;
	struct hh_netlie l = { 0 };
	bool lie = false;
	int n = -1;

	if (len < 12)
		return;
	switch (type) {
	case CVMBUS_RNDIS_MSG_INITIALIZE: {
		struct cvmbus_rndis_init_cmplt ic = {
			.req_id = id, .status = CVMBUS_RNDIS_STATUS_SUCCESS, .major = 1,
			.medium = CVMBUS_RNDIS_MEDIUM_802_3, .max_pkt_per_msg = 1,
			.max_xfer = HH_NET_TX_SECTION, .align_shift = 3,
		};

		n = cvmbus_rndis_build_init_cmplt(b, sizeof(b), &ic);
		break;
	}
	case CVMBUS_RNDIS_MSG_QUERY: /* oid @12 */
		switch (len >= 16 ? hh_rd32(req, 12) : 0) {
		case CVMBUS_OID_802_3_PERMANENT_ADDRESS:
		case CVMBUS_OID_802_3_CURRENT_ADDRESS:
			info = hh_net_guest_mac;
			info_len = 6;
			break;
		case CVMBUS_OID_GEN_MAXIMUM_FRAME_SIZE:
			v = HH_NET_MTU;
			break;
		case CVMBUS_OID_GEN_MEDIA_CONNECT_STATUS:
			v = CVMBUS_RNDIS_MEDIA_CONNECTED;
			break;
		case CVMBUS_OID_GEN_LINK_SPEED:
			v = 100000; /* 10 Gbit/s in units of 100 bit/s */
			break;
		default:
			status = CVMBUS_RNDIS_STATUS_NOT_SUPPORTED;
			info_len = 0;
			break;
		}
		n = cvmbus_rndis_build_query_cmplt(b, sizeof(b), id, status, info, info_len);
		cvmbus_mutex_lock(&r->lock);
		if (c->net_lie_armed && c->net_lie.lie == HH_NL_QUERY_INFO_OFFSET) {
			l = c->net_lie;
			c->net_lie_armed = false;
			lie = true;
		}
		cvmbus_mutex_unlock(&r->lock);
		break;
	case CVMBUS_RNDIS_MSG_SET:
		n = cvmbus_rndis_build_set_cmplt(b, sizeof(b), id, CVMBUS_RNDIS_STATUS_SUCCESS);
		break;
	case CVMBUS_RNDIS_MSG_KEEPALIVE:
		n = cvmbus_rndis_build_keepalive_cmplt(b, sizeof(b), id,
						       CVMBUS_RNDIS_STATUS_SUCCESS);
		break;
	default: /* HALT, RESET: no answer this test needs */
		return;
	}
	if (n < 0)
		return;
	if (lie) {
		uint8_t bad[128];

		/* QUERY_CMPLT: info_offset @20, counted from @8 */
		memcpy(bad, b, (size_t)n);
		hh_wr32(bad, 20, l.has_value ? l.value : 0x1000u);
		hh_net_indicate(c, bad, (uint32_t)n, CVMBUS_NVSP_CHANNEL_CONTROL);
		if (!l.then_honest)
			return;
	}
	hh_net_indicate(c, b, (uint32_t)n, CVMBUS_NVSP_CHANNEL_CONTROL);
}

/* SEND_RNDIS_PKT from the guest: the RNDIS message in its send section
 * (channel_type @4, section_index @8, section_size @12). */
static void hh_net_rndis(struct hh_hchan *c, const struct cvmbus_ring_packet *pkt,
			 const uint8_t *m)
{
	struct hh_run *r = c->run;
	uint32_t idx = hh_rd32(m, 8), size = hh_rd32(m, 12), st = CVMBUS_NVSP_STATUS_SUCCESS;
	uint8_t req[128];
	struct hh_netlie l = { 0 };
	bool lie = false, data = false;

	memset(req, 0, sizeof(req));
	if (!c->net_tx_ok || idx >= c->net_tx_bytes / HH_NET_TX_SECTION || size < 8 ||
	    size > HH_NET_TX_SECTION ||
	    cvmbus_mem_host_read(r->hv, c->net_tx_alias + (uint64_t)idx * HH_NET_TX_SECTION, req,
				 size < sizeof(req) ? size : sizeof(req))) {
		st = CVMBUS_NVSP_STATUS_INVALID_RNDIS_PKT;
	} else if (hh_rd32(req, 0) == CVMBUS_RNDIS_MSG_PACKET) {
		data = true;
		atomic_fetch_add(&c->net_tx_frames, 1);
		cvmbus_mutex_lock(&r->lock);
		if (c->net_lie_armed && c->net_lie.lie == HH_NL_UNKNOWN_COMPLETION) {
			l = c->net_lie;
			c->net_lie_armed = false;
			lie = true;
		}
		cvmbus_mutex_unlock(&r->lock);
	}
	if (lie) {
		/* Another tag on the same section: what a forged or stale
		 * completion looks like. */
		hh_net_complete(c, pkt->trans_id ^ (0x5a5aull << 40),
				CVMBUS_NVSP_SEND_RNDIS_PKT_COMPLETE, &st, 1);
		if (!l.then_honest)
			return;
	}
	hh_net_complete(c, pkt->trans_id, CVMBUS_NVSP_SEND_RNDIS_PKT_COMPLETE, &st, 1);
	if (!data && st == CVMBUS_NVSP_STATUS_SUCCESS)
		hh_net_control(c, req, size < sizeof(req) ? size : (uint32_t)sizeof(req));
}

/* One NVSP message from the guest, honestly answered. */
static void hh_net_serve(struct hh_hchan *c, const struct cvmbus_ring_packet *pkt)
{
	uint8_t m[CVMBUS_NVSP_MSG_SIZE];
	uint32_t len = pkt->payload_len < sizeof(m) ? pkt->payload_len : (uint32_t)sizeof(m);
	uint32_t f[6];

	if (len < 4)
		return;
	memset(m, 0, sizeof(m));
	memcpy(m, pkt->payload, len);
	switch (hh_rd32(m, 0)) {
	case CVMBUS_NVSP_INIT: /* min @4, max @8 -> negotiated @4, status @12 */
		f[0] = hh_rd32(m, 8);
		f[1] = 0;
		f[2] = cvmbus_nvsp_version_supported(f[0]) ? CVMBUS_NVSP_STATUS_SUCCESS
							   : CVMBUS_NVSP_STATUS_FAILURE;
		hh_net_complete(c, pkt->trans_id, CVMBUS_NVSP_INIT_COMPLETE, f, 3);
		break;
	case CVMBUS_NVSP_SEND_RECV_BUF: /* gpadl @4, id @8 -> one section list */
		f[0] = hh_net_buf(c->run, hh_rd32(m, 4), &c->net_rx_alias, &c->net_rx_bytes)
			       ? CVMBUS_NVSP_STATUS_FAILURE
			       : CVMBUS_NVSP_STATUS_SUCCESS;
		c->net_rx_sections = c->net_rx_bytes / HH_NET_RX_SECTION;
		c->net_rx_ok = f[0] == CVMBUS_NVSP_STATUS_SUCCESS && c->net_rx_sections;
		c->net_rx_id = hh_rd16(m, 8);
		/* status @4, num_sections @8, offset @12, size @16, count @20, end @24 */
		f[1] = 1;
		f[2] = 0;
		f[3] = HH_NET_RX_SECTION;
		f[4] = c->net_rx_sections;
		f[5] = c->net_rx_sections * HH_NET_RX_SECTION;
		hh_net_complete(c, pkt->trans_id, CVMBUS_NVSP_SEND_RECV_BUF_COMPLETE, f, 6);
		break;
	case CVMBUS_NVSP_SEND_SEND_BUF: /* status @4, section_size @8 */
		c->net_tx_ok = hh_net_buf(c->run, hh_rd32(m, 4), &c->net_tx_alias,
					  &c->net_tx_bytes) == 0;
		f[0] = c->net_tx_ok ? CVMBUS_NVSP_STATUS_SUCCESS : CVMBUS_NVSP_STATUS_FAILURE;
		f[1] = HH_NET_TX_SECTION;
		hh_net_complete(c, pkt->trans_id, CVMBUS_NVSP_SEND_SEND_BUF_COMPLETE, f, 2);
		break;
	case CVMBUS_NVSP_SEND_RNDIS_PKT:
		hh_net_rndis(c, pkt, m);
		break;
	default: /* NDIS_CONFIG, NDIS_VERSION, revokes: nothing to answer */
		break;
	}
}

/* What the script asked for since the last look: a lie to send, frames. */
static void hh_net_pending(struct hh_hchan *c)
{
	struct hh_run *r = c->run;
	struct hh_netlie l = { 0 };
	bool lie = false;
	uint32_t frames;

	cvmbus_mutex_lock(&r->lock);
	if (c->net_lie_armed && c->net_lie.lie < HH_NL_UNKNOWN_COMPLETION) {
		l = c->net_lie;
		c->net_lie_armed = false;
		lie = true;
	}
	frames = c->net_frames_wanted;
	c->net_frames_wanted = 0;
	cvmbus_mutex_unlock(&r->lock);
	if (lie)
		hh_net_send_lie(c, &l);
	for (uint32_t i = 0; i < frames; i++) {
		uint8_t frame[HH_NET_FRAME], b[128];
		int n;

		hh_net_frame(c->net_seq++, true, frame);
		n = cvmbus_rndis_build_packet(b, sizeof(b), frame, HH_NET_FRAME);
		if (n > 0)
			hh_net_indicate(c, b, (uint32_t)n, CVMBUS_NVSP_CHANNEL_DATA);
	}
}

static int hh_net_main(void *arg)
{
	struct hh_hchan *c = arg;
	struct cvmbus_ring_packet pkt;

	while (!atomic_load(&c->svc_stop)) {
		int rc;

		hh_net_pending(c);
		rc = cvmbus_channel_recv(&c->host, &pkt, HH_SVC_POLL_NS);
		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			continue;
		if (rc < 0)
			break;
		/* Completions of our transfer pages return sections we
		 * reuse round robin anyway: nothing to do with them. */
		if (pkt.type == CVMBUS_RING_PKT_INBAND)
			hh_net_serve(c, &pkt);
	}
	return 0;
}

/* OpenChannel accepted: a host endpoint over the ring pages (host view:
 * they must be host-visible, or the host cannot serve), the event port of
 * the offer's connection id, and the offer's service. Port thread. */
static int hh_attach(struct hh_run *r, struct hh_hchan *c, uint64_t ring_gpa, uint32_t pages,
		     uint32_t ds_off, uint32_t target_vp)
{
	struct cvmbus_channel_config cfg;
	struct cvmbus_port_config pc;
	void *region;
	int rc;

	c->len = (size_t)pages * HH_PAGE;
	rc = cvmbus_mem_host_ptr(r->hv, cvmbus_mem_gpa_to_alias(r->mem, ring_gpa), c->len, &region);
	if (rc)
		return rc;
	memset(&cfg, 0, sizeof(cfg));
	rc = cvmbus_ring_split(region, c->len, ds_off, &cfg.upstream, &cfg.downstream);
	if (rc)
		return rc;
	c->ops.signal = hh_host_chan_signal;
	c->ops.mem_read = hh_host_mem_read;
	c->ops.mem_write = hh_host_mem_write;
	cfg.exec = r->exec;
	cfg.endpoint = CVMBUS_RING_ENDPOINT_HOST;
	cfg.mode = CVMBUS_RING_ATTACH; /* the guest formatted it */
	cfg.ops = &c->ops;
	cfg.ctx = c;
	rc = cvmbus_channel_init(&c->host, &cfg);
	if (rc)
		return rc;
	cvmbus_mutex_lock(&r->lock);
	c->region = region;
	c->ds_off = ds_off;
	c->target_vp = target_vp;
	c->attached = true;
	cvmbus_mutex_unlock(&r->lock);
	atomic_store(&c->host_up, true);
	memset(&pc, 0, sizeof(pc));
	pc.connection_id = c->offer.conn;
	pc.kind = CVMBUS_PORT_EVENT;
	pc.owner = CVMBUS_MEM_PARTY_HOST;
	pc.on_event = hh_on_guest_signal;
	pc.ctx = c;
	if (cvmbus_port_add(r->p, &pc) == 0)
		c->event_port = true;
	atomic_store(&c->svc_stop, false);
	c->net_rx_ok = c->net_tx_ok = false;
	c->net_rx_next = 0;
	atomic_store(&c->net_tx_frames, 0);
	if (c->offer.service != HH_SVC_NONE &&
	    cvmbus_thread_spawn(r->exec, &c->svc,
				c->offer.service == HH_SVC_ECHO	     ? "host-echo"
				: c->offer.service == HH_SVC_STORAGE ? "host-storage"
								     : "host-net",
				c->offer.service == HH_SVC_ECHO	     ? hh_echo_main
				: c->offer.service == HH_SVC_STORAGE ? hh_storage_main
								     : hh_net_main,
				c))
		c->svc = NULL;
	return 0;
}

/* The host lets go of a ring: before the guest may make its pages private
 * again (CloseChannel comes before GpadlTeardown), or at the end. */
static void hh_detach(struct hh_run *r, struct hh_hchan *c)
{
	bool was;

	cvmbus_mutex_lock(&r->lock);
	was = c->attached;
	c->attached = false;
	cvmbus_mutex_unlock(&r->lock);
	if (!was)
		return;
	if (c->event_port) {
		(void)cvmbus_port_remove(r->p, c->offer.conn);
		c->event_port = false;
	}
	atomic_store(&c->svc_stop, true);
	cvmbus_channel_close(&c->host);
	if (c->svc) {
		(void)cvmbus_thread_join(c->svc, NULL);
		c->svc = NULL;
	}
	atomic_store(&c->host_up, false);
	cvmbus_channel_destroy(&c->host);
}

static struct hh_hchan *hh_hchan(struct hh_run *r, uint32_t relid)
{
	return relid && relid < HH_MAX_RELID ? &r->hc[relid] : NULL;
}

/* The host offers a relid: remember what it runs there (the first offer
 * of a relid wins; a duplicate is the guest's to refuse). */
static void hh_note_offer(struct hh_run *r, const struct hh_offer *o)
{
	struct hh_hchan *c = hh_hchan(r, o->relid);

	cvmbus_mutex_lock(&r->lock);
	if (c && !c->offered) {
		c->offered = true;
		c->offer = *o;
	}
	cvmbus_mutex_unlock(&r->lock);
}

/* ---- the host's port: the guest's control messages ------------------------------------ */

static void hh_inbox_add(struct hh_run *r, const uint8_t *b, uint32_t len)
{
	cvmbus_mutex_lock(&r->lock);
	if (r->ninbox == HH_INBOX) {
		/* Keep what nobody looked at yet. */
		unsigned int k = 0;

		for (unsigned int i = 0; i < r->ninbox; i++)
			if (!r->inbox[i].consumed)
				r->inbox[k++] = r->inbox[i];
		r->ninbox = k;
	}
	if (r->ninbox < HH_INBOX) {
		struct hh_msg *m = &r->inbox[r->ninbox++];

		m->type = hh_rd32(b, 0);
		m->len = len;
		memcpy(m->b, b, len);
		m->consumed = false;
	} else {
		r->inbox_overflow++;
	}
	cvmbus_cond_broadcast(&r->cond);
	cvmbus_mutex_unlock(&r->lock);
}

/* An answer of the host's own protocol logic: if the guest's SynIC will
 * not take it, that is a failure of the run, not an attack. */
static void hh_reply(struct hh_run *r, const uint8_t *b, uint32_t len)
{
	int rc = hh_post(r, atomic_load(&r->msg_vp), HVMSG_VMBUS, b, len);

	if (rc)
		hh_host_fail(r, "host: could not answer with %s (%d)",
			     cvmbus_wire_type_name(hh_rd32(b, 0)), rc);
}

static void hh_reply3(struct hh_run *r, uint32_t type, uint32_t a, uint32_t b, uint32_t c,
		      uint32_t len)
{
	uint8_t out[20];

	memset(out, 0, sizeof(out));
	hh_wr32(out, 0, type);
	hh_wr32(out, 8, a);
	hh_wr32(out, 12, b);
	hh_wr32(out, 16, c);
	hh_reply(r, out, len);
}

static struct hh_gpadl *hh_gpadl_find(struct hh_run *r, uint32_t handle)
{
	for (unsigned int i = 0; i < HH_MAX_GPADLS; i++)
		if (r->gpadls[i].used && r->gpadls[i].handle == handle)
			return &r->gpadls[i];
	return NULL;
}

/* Every PFN of a GPADL arrived: answer it as the policy says. */
static void hh_gpadl_complete(struct hh_run *r, const struct hh_gpadl *gp, enum hh_answer a)
{
	if (a == HH_ANSWER_NEVER)
		return;
	/* GpadlCreated: relid @8, gpadl @12, creation_status @16 */
	hh_reply3(r, CVMBUS_MSG_GPADL_CREATED, gp->relid, gp->handle,
		  a == HH_ANSWER_OK ? CVMBUS_STATUS_SUCCESS : HH_STATUS_FAILED, 20);
}

static void hh_on_gpadl_header(struct hh_run *r, const uint8_t *b, uint32_t len,
			       enum hh_answer a)
{
	struct hh_gpadl *gp = NULL;
	uint32_t bytes, have;

	/* relid @8, gpadl @12, range_buflen @16, rangecount @18, then one
	 * range: byte_count @20, byte_offset @24, PFNs from @28 (Linux packs
	 * one range, the client too). */
	if (len < 36 || hh_rd16(b, 18) != 1 || hh_rd32(b, 24) != 0) {
		hh_host_fail(r, "host: gpadl header not in the one-range packing");
		return;
	}
	bytes = hh_rd32(b, 20);
	if (!bytes || bytes % HH_PAGE) {
		hh_host_fail(r, "host: gpadl of %u bytes", bytes);
		return;
	}
	cvmbus_mutex_lock(&r->lock);
	for (unsigned int i = 0; i < HH_MAX_GPADLS && !gp; i++)
		if (!r->gpadls[i].used)
			gp = &r->gpadls[i];
	if (gp) {
		gp->used = true;
		gp->relid = hh_rd32(b, 8);
		gp->handle = hh_rd32(b, 12);
		gp->pages = bytes / HH_PAGE;
		have = (len - 28) / 8;
		gp->have = have < gp->pages ? have : gp->pages;
		gp->first_pfn = hh_rd64(b, 28);
		gp->contiguous = true;
		for (uint32_t i = 1; i < gp->have; i++)
			if (hh_rd64(b, 28 + 8 * (size_t)i) != gp->first_pfn + i)
				gp->contiguous = false;
	}
	cvmbus_mutex_unlock(&r->lock);
	if (!gp) {
		hh_host_fail(r, "host: more than %u gpadls", HH_MAX_GPADLS);
		return;
	}
	if (gp->have == gp->pages)
		hh_gpadl_complete(r, gp, a);
}

static void hh_on_gpadl_body(struct hh_run *r, const uint8_t *b, uint32_t len, enum hh_answer a)
{
	struct hh_gpadl *gp;
	bool done = false;

	/* msgnumber @8, gpadl @12, PFNs from @16 */
	if (len < 24)
		return;
	cvmbus_mutex_lock(&r->lock);
	gp = hh_gpadl_find(r, hh_rd32(b, 12));
	if (gp && gp->have < gp->pages) {
		uint32_t n = (len - 16) / 8;

		for (uint32_t i = 0; i < n && gp->have < gp->pages; i++, gp->have++)
			if (hh_rd64(b, 16 + 8 * (size_t)i) != gp->first_pfn + gp->have)
				gp->contiguous = false;
		done = gp->have == gp->pages;
	}
	cvmbus_mutex_unlock(&r->lock);
	if (done)
		hh_gpadl_complete(r, gp, a);
}

static void hh_on_open(struct hh_run *r, const uint8_t *b, uint32_t len, enum hh_answer a)
{
	uint32_t relid = hh_rd32(b, 8), openid = hh_rd32(b, 12), handle = hh_rd32(b, 16);
	struct hh_hchan *c = hh_hchan(r, relid);
	struct hh_gpadl *gp;
	uint64_t gpa = 0;
	uint32_t pages = 0;
	bool ok;
	int rc;

	/* relid @8, openid @12, ringbuffer_gpadl @16, target_vp @20,
	 * downstream_ring_page_offset @24 */
	if (len < 28 || a == HH_ANSWER_NEVER)
		return;
	cvmbus_mutex_lock(&r->lock);
	gp = hh_gpadl_find(r, handle);
	ok = gp && gp->contiguous && gp->have == gp->pages && c && c->offered && !c->attached;
	if (ok) {
		gpa = gp->first_pfn * HH_PAGE;
		pages = gp->pages;
	}
	cvmbus_mutex_unlock(&r->lock);
	if (a == HH_ANSWER_OK && !ok) {
		hh_host_fail(r, "host: cannot open relid %u on gpadl %#x", relid, handle);
		a = HH_ANSWER_FAIL;
	}
	if (a == HH_ANSWER_OK) {
		rc = hh_attach(r, c, gpa, pages, hh_rd32(b, 24), hh_rd32(b, 20));
		if (rc) {
			hh_host_fail(r, "host: cannot attach to relid %u's ring (%d)", relid, rc);
			a = HH_ANSWER_FAIL;
		}
	}
	/* OpenResult: relid @8, openid @12, status @16 */
	hh_reply3(r, CVMBUS_MSG_OPEN_CHANNEL_RESULT, relid, openid,
		  a == HH_ANSWER_OK ? CVMBUS_STATUS_SUCCESS : HH_STATUS_FAILED, 20);
}

static void hh_on_message(void *ctx, const struct cvmbus_port_message *m)
{
	struct hh_run *r = ctx;
	const uint8_t *b = m->payload;
	uint8_t out[HV_MESSAGE_PAYLOAD_SIZE];
	struct hh_policy pol;
	uint32_t type;

	if (m->message_type != HVMSG_VMBUS || m->size < 8 || m->size > HV_MESSAGE_PAYLOAD_SIZE) {
		hh_host_fail(r, "host: the guest posted a malformed message (%u bytes)", m->size);
		return;
	}
	type = hh_rd32(b, 0);
	hh_inbox_add(r, b, m->size);
	cvmbus_mutex_lock(&r->lock);
	pol = r->pol;
	cvmbus_mutex_unlock(&r->lock);
	memset(out, 0, sizeof(out));

	switch (type) {
	case CVMBUS_MSG_INITIATE_CONTACT: {
		/* version_requested @8, target_vcpu @12 */
		uint32_t version = hh_rd32(b, 8);
		bool accept = false;

		if (m->size >= 16)
			atomic_store(&r->msg_vp, hh_rd32(b, 12));
		if (!pol.answer_contact)
			break;
		for (unsigned int i = 0; i < pol.nversions; i++)
			accept |= pol.versions[i] == version;
		/* VersionResponse: version_supported @8, connection_state @9,
		 * msg_conn_id @12, supported_features @16 (20-byte layout) */
		hh_wr32(out, 0, CVMBUS_MSG_VERSION_RESPONSE);
		out[8] = accept;
		hh_wr32(out, 12, VMBUS_MESSAGE_CONNECTION_ID_4);
		hh_wr32(out, 16, pol.supported_features);
		hh_reply(r, out, pol.version_response_len);
		break;
	}
	case CVMBUS_MSG_REQUEST_OFFERS:
		if (!pol.answer_offers)
			break;
		for (unsigned int i = 0; i < r->sc->noffers; i++) {
			hh_note_offer(r, &r->sc->offers[i]);
			hh_reply(r, out, hh_offer_bytes(&r->sc->offers[i], out));
		}
		memset(out, 0, sizeof(out));
		hh_wr32(out, 0, CVMBUS_MSG_ALL_OFFERS_DELIVERED);
		hh_reply(r, out, 8);
		break;
	case CVMBUS_MSG_GPADL_HEADER:
		hh_on_gpadl_header(r, b, m->size, pol.gpadl);
		break;
	case CVMBUS_MSG_GPADL_BODY:
		hh_on_gpadl_body(r, b, m->size, pol.gpadl);
		break;
	case CVMBUS_MSG_OPEN_CHANNEL:
		hh_on_open(r, b, m->size, pol.open);
		break;
	case CVMBUS_MSG_CLOSE_CHANNEL: {
		struct hh_hchan *c = m->size >= 12 ? hh_hchan(r, hh_rd32(b, 8)) : NULL;

		if (c)
			hh_detach(r, c);
		break;
	}
	case CVMBUS_MSG_GPADL_TEARDOWN: {
		/* relid @8, gpadl @12 -> GpadlTorndown: gpadl @8 */
		struct hh_gpadl *gp;

		if (m->size < 16)
			break;
		cvmbus_mutex_lock(&r->lock);
		gp = hh_gpadl_find(r, hh_rd32(b, 12));
		if (gp)
			gp->used = false;
		cvmbus_mutex_unlock(&r->lock);
		if (pol.teardown == HH_ANSWER_OK)
			hh_reply3(r, CVMBUS_MSG_GPADL_TORNDOWN, hh_rd32(b, 12), 0, 0, 12);
		break;
	}
	case CVMBUS_MSG_UNLOAD:
		/* The guest takes every page back on the answer: let go first. */
		for (uint32_t relid = 1; relid < HH_MAX_RELID; relid++)
			hh_detach(r, &r->hc[relid]);
		if (pol.unload == HH_ANSWER_OK) {
			hh_wr32(out, 0, CVMBUS_MSG_UNLOAD_RESPONSE);
			hh_reply(r, out, 8);
		}
		break;
	default: /* RelIdReleased and the rest: recorded for "expect" only */
		break;
	}
}

/* ======================================================================
 * The guest: events, and the driver thread that runs guest steps
 * ====================================================================== */

/* Control thread: record, wake waiters, nothing else (it must not call the
 * guest's blocking API). */
static void hh_on_event(void *ctx, const struct cvmbus_client_event *ev)
{
	struct hh_run *r = ctx;

	cvmbus_mutex_lock(&r->lock);
	if ((unsigned)ev->type < CVMBUS_CLIENT_EV_COUNT)
		r->ev_count[ev->type]++;
	if (ev->type == CVMBUS_CLIENT_EV_PROTOCOL_ERROR &&
	    (unsigned)ev->reason < CVMBUS_CLIENT_DROP_COUNT)
		r->proto_drops[ev->reason]++;
	if (ev->type == CVMBUS_CLIENT_EV_OFFER_REFUSED &&
	    (unsigned)ev->reason < CVMBUS_CLIENT_DROP_COUNT)
		r->refusals[ev->reason]++;
	if (ev->type == CVMBUS_CLIENT_EV_CONNECT_FAILED) {
		r->connect_failed = true;
		r->connect_status = ev->status;
	}
	if (r->nevents < HH_MAX_EVENTS) {
		struct hh_event *e = &r->events[r->nevents++];

		e->type = ev->type;
		e->relid = ev->relid;
		e->msgtype = ev->msgtype;
		e->status = ev->status;
		e->reason = ev->reason;
	}
	cvmbus_cond_broadcast(&r->cond);
	cvmbus_mutex_unlock(&r->lock);
}

static void hh_job_fail(struct hh_job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void hh_job_fail(struct hh_job *j, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hh_first_error(j->why, sizeof(j->why), fmt, ap);
	va_end(ap);
}

/* What a channel's end looked like, kept before the glue frees it. */
static void hh_gchan_note_end(struct hh_gchan *gc)
{
	struct cvmbus_ring_fault_info f;

	if (!gc->ch)
		return;
	gc->was_closed = cvmbus_channel_is_closed(gc->ch);
	cvmbus_ring_fault_get(&gc->ch->rings.in, &f);
	if (f.fault == CVMBUS_RING_FAULT_NONE)
		cvmbus_ring_fault_get(&gc->ch->rings.out, &f);
	if (f.fault != CVMBUS_RING_FAULT_NONE)
		gc->fault = f;
}

static void hh_storvsc_drop(struct hh_gchan *gc)
{
	cvmbus_storvsc_destroy(gc->vsc);
	gc->vsc = NULL;
}

/* ---- netvsc on a guest channel -------------------------------------------------- */

/* Frames from the host, on netvsc's thread: honest ones are counted good. */
static void hh_net_rx(void *ctx, const void *frame, size_t len)
{
	struct hh_gchan *gc = ctx;
	uint8_t want[HH_NET_FRAME];

	if (len == HH_NET_FRAME) {
		hh_net_frame(((const uint8_t *)frame)[14], true, want);
		if (!memcmp(frame, want, HH_NET_FRAME)) {
			atomic_fetch_add(&gc->net_good, 1);
			return;
		}
	}
	atomic_fetch_add(&gc->net_bad, 1);
}

/* The driver stops using the channel: netvsc halts and revokes its
 * buffers; the guest tears them down once the channel is closed (or the
 * release or unload settles them). */
static void hh_netvsc_drop(struct hh_gchan *gc)
{
	if (gc->nvsc) {
		cvmbus_netvsc_destroy(gc->nvsc);
		gc->nvsc = NULL;
	}
}

static int hh_gop_netvsc_connect(struct hh_run *r, struct hh_gchan *gc)
{
	struct cvmbus_netvsc_config nc;
	int rc;

	if (gc->nvsc)
		return -EBUSY;
	memset(&nc, 0, sizeof(nc));
	nc.ch = gc->ch;
	nc.recv_buf_bytes = HH_NET_BUF;
	nc.send_buf_bytes = HH_NET_BUF;
	nc.timeout_ns = r->sc->op_timeout_ns;
	nc.rx_frame = hh_net_rx;
	nc.rx_ctx = gc;
	rc = cvmbus_netvsc_create(r->exec, &nc, &gc->nvsc);
	if (rc)
		return rc;
	return cvmbus_netvsc_connect(gc->nvsc);
}

/* Poll a counter up to `want` within the guest's operation timeout. */
static int hh_net_wait(struct hh_run *r, _Atomic uint64_t *v, uint64_t want)
{
	uint64_t until = hh_now(r) + hh_wait_ns(r, r->sc->op_timeout_ns);

	while (atomic_load(v) < want) {
		if (hh_now(r) >= until)
			return -ETIMEDOUT;
		cvmbus_exec_sleep_ns(r->exec, HH_MS);
	}
	return 0;
}

/* net_recv: the host indicates `count` honest frames; the guest must
 * deliver every one, and nothing else. */
static int hh_gop_net_recv(struct hh_run *r, struct hh_gchan *gc, uint32_t relid,
			   uint32_t count, struct hh_job *j)
{
	struct hh_hchan *c = hh_hchan(r, relid);
	uint64_t start = atomic_load(&gc->net_good);
	int rc;

	if (!gc->nvsc || !c)
		return -ENODEV;
	cvmbus_mutex_lock(&r->lock);
	c->net_frames_wanted += count;
	cvmbus_mutex_unlock(&r->lock);
	rc = hh_net_wait(r, &gc->net_good, start + count);
	if (atomic_load(&gc->net_bad))
		hh_job_fail(j, "netvsc on relid %u delivered %" PRIu64 " frames the host never sent",
			    relid, atomic_load(&gc->net_bad));
	return rc;
}

/* net_send: the guest sends `count` frames; the device must get them. */
static int hh_gop_net_send(struct hh_run *r, struct hh_gchan *gc, uint32_t relid,
			   uint32_t count)
{
	struct hh_hchan *c = hh_hchan(r, relid);
	uint8_t frame[HH_NET_FRAME];
	uint64_t start;

	if (!gc->nvsc || !c)
		return -ENODEV;
	start = atomic_load(&c->net_tx_frames);
	for (uint32_t i = 0; i < count; i++) {
		int rc;

		hh_net_frame((uint8_t)i, false, frame);
		rc = cvmbus_netvsc_send_frame(gc->nvsc, frame, sizeof(frame),
					      r->sc->op_timeout_ns);
		if (rc)
			return rc;
	}
	return hh_net_wait(r, &c->net_tx_frames, start + count);
}

static int hh_gop_net_query(struct hh_gchan *gc, uint32_t relid, struct hh_job *j)
{
	uint32_t v = 0;
	size_t len = sizeof(v);
	int rc;

	if (!gc->nvsc)
		return -ENODEV;
	rc = cvmbus_netvsc_query(gc->nvsc, CVMBUS_OID_GEN_MAXIMUM_FRAME_SIZE, &v, &len, NULL);
	if (rc == 0 && (len != sizeof(v) || v != HH_NET_MTU))
		hh_job_fail(j, "query on relid %u answered %zu bytes, %u", relid, len, v);
	return rc;
}

static int hh_gop_echo(struct hh_run *r, struct hh_gchan *gc, const struct hh_guest_op *g,
		       struct hh_job *j)
{
	uint8_t data[2048], reply[2048 + 8];

	for (uint32_t round = 0; round < g->count; round++) {
		size_t got = 0;
		int rc;

		for (uint32_t i = 0; i < g->bytes; i++)
			data[i] = (uint8_t)(round * 31 + i);
		rc = cvmbus_echo_call(&gc->echo, data, g->bytes, reply, sizeof(reply), &got,
				      r->sc->op_timeout_ns);
		if (rc)
			return rc;
		/* The answer is the host's, hostile like any: the same bytes
		 * back, or the exchange did not work. */
		if (got < g->bytes || memcmp(reply, data, g->bytes)) {
			hh_job_fail(j, "echo %u on relid %u came back different", round, g->relid);
			return -EPROTO;
		}
	}
	return 0;
}

static int hh_gop_recv(struct hh_run *r, struct hh_gchan *gc, const struct hh_guest_op *g,
		       struct hh_job *j)
{
	struct cvmbus_ring_packet pkt;
	int rc = cvmbus_channel_recv(gc->ch, &pkt, r->sc->op_timeout_ns);

	if (rc || !g->has_hex)
		return rc;
	/* What was validated is what is delivered: the bytes the host wrote
	 * first, whatever it wrote after the guest's copy. */
	if (pkt.payload_len != (g->hex_len + 7) / 8 * 8 || memcmp(pkt.payload, g->hex, g->hex_len))
		hh_job_fail(j, "recv on relid %u delivered %u bytes that were not the packet's",
			    g->relid, pkt.payload_len);
	return 0;
}

static int hh_gop_storvsc_connect(struct hh_run *r, struct hh_gchan *gc)
{
	struct cvmbus_bounce_pool_config bc = {
		.exec = r->exec, .mem = r->mem, .pages = HH_BOUNCE_PAGES,
	};
	struct cvmbus_storvsc_config sc;
	int rc;

	if (gc->vsc)
		return -EBUSY;
	if (!gc->pool) {
		rc = cvmbus_bounce_pool_create(&bc, &gc->pool);
		if (rc)
			return rc;
	}
	if (!gc->buf) {
		rc = cvmbus_mem_alloc(r->mem, CVMBUS_MEM_REGION_VTL0, HH_IOBUF_PAGES, &gc->buf_gpa);
		if (rc)
			return rc;
		gc->buf = true;
	}
	memset(&sc, 0, sizeof(sc));
	sc.exec = r->exec;
	sc.channel = gc->ch;
	sc.mem = r->mem;
	sc.bounce = gc->pool; /* a host channel: data goes through shared pages */
	sc.timeout_ns = r->sc->op_timeout_ns;
	sc.poll_ns = HH_SVC_POLL_NS;
	rc = cvmbus_storvsc_create(&sc, &gc->vsc);
	if (rc)
		return rc;
	return cvmbus_storvsc_connect(gc->vsc);
}

static int hh_gop_storvsc_io(struct hh_run *r, struct hh_gchan *gc, const struct hh_guest_op *g,
			     struct hh_job *j)
{
	uint32_t bytes = g->sectors * 512u;
	uint8_t *buf;
	int rc;

	if (!gc->vsc || !gc->buf)
		return -ENODEV;
	if (g->io == HH_IO_TUR)
		return cvmbus_storvsc_test_unit_ready(gc->vsc);
	buf = malloc(bytes);
	if (!buf)
		return -ENOMEM;
	if (g->io == HH_IO_WRITE) {
		for (uint32_t i = 0; i < bytes; i++)
			buf[i] = hh_disk_byte(g->lba * 512 + i);
		rc = cvmbus_mem_write(r->mem, CVMBUS_MEM_VIEW_GUEST, gc->buf_gpa, buf, bytes);
		if (!rc)
			rc = cvmbus_storvsc_write(gc->vsc, g->lba, g->sectors, gc->buf_gpa);
		free(buf);
		return rc;
	}
	/* A read: the buffer holds a sentinel first, so a refused completion
	 * can be shown to have copied nothing into it. */
	memset(buf, 0xEE, bytes);
	rc = cvmbus_mem_write(r->mem, CVMBUS_MEM_VIEW_GUEST, gc->buf_gpa, buf, bytes);
	if (!rc)
		rc = cvmbus_storvsc_read(gc->vsc, g->lba, g->sectors, gc->buf_gpa);
	if (cvmbus_mem_read(r->mem, CVMBUS_MEM_VIEW_GUEST, gc->buf_gpa, buf, bytes) == 0) {
		for (uint32_t i = 0; i < bytes; i++) {
			uint8_t want = rc == 0 ? hh_disk_byte(g->lba * 512 + i) : 0xEE;

			if (buf[i] != want) {
				hh_job_fail(j, "read of relid %u: byte %u is %#x, not %#x (%s)",
					    g->relid, i, buf[i], want,
					    rc == 0 ? "data" : "untouched after a failure");
				break;
			}
		}
	}
	free(buf);
	return rc;
}

static int hh_run_gop(struct hh_run *r, struct hh_job *j)
{
	const struct hh_guest_op *g = &j->step->gop;
	struct hh_gchan *gc = g->relid < HH_MAX_RELID ? &r->gc[g->relid] : NULL;
	int rc;

	switch (g->op) {
	case HH_GOP_CONNECT:
		return cvmbus_guest_connect(r->g);
	case HH_GOP_OPEN: {
		struct cvmbus_guest_open_params op = {
			.send_bytes = g->ring_pages * HH_PAGE,
			.recv_bytes = g->ring_pages * HH_PAGE,
		};
		struct cvmbus_channel *ch = NULL;

		if (gc->ch)
			return -EBUSY;
		rc = cvmbus_guest_open(r->g, g->relid, &op, &ch);
		if (rc == 0) {
			gc->ch = ch;
			gc->vsc = NULL;
			gc->was_closed = false;
			memset(&gc->fault, 0, sizeof(gc->fault));
			cvmbus_echo_vsc_init(&gc->echo, ch);
		}
		return rc;
	}
	case HH_GOP_CLOSE:
	case HH_GOP_RELEASE:
		/* A driver stops using the channel before it lets go of it. */
		hh_storvsc_drop(gc);
		hh_netvsc_drop(gc);
		hh_gchan_note_end(gc);
		rc = g->op == HH_GOP_CLOSE ? cvmbus_guest_close(r->g, g->relid)
					   : cvmbus_guest_release(r->g, g->relid);
		/* Either way the glue freed the channel object (a failed
		 * release of a closed channel leaves nothing of ours). */
		if (rc == 0 || g->op == HH_GOP_CLOSE)
			gc->ch = NULL;
		return rc;
	case HH_GOP_UNLOAD:
		for (uint32_t relid = 1; relid < HH_MAX_RELID; relid++) {
			hh_storvsc_drop(&r->gc[relid]);
			hh_netvsc_drop(&r->gc[relid]);
			hh_gchan_note_end(&r->gc[relid]);
		}
		rc = cvmbus_guest_unload(r->g);
		for (uint32_t relid = 1; relid < HH_MAX_RELID; relid++)
			r->gc[relid].ch = NULL;
		return rc;
	default:
		break;
	}
	if (!gc->ch)
		return -ENOTCONN; /* the scenario never opened it */
	switch (g->op) {
	case HH_GOP_ECHO:
		return hh_gop_echo(r, gc, g, j);
	case HH_GOP_RECV:
		return hh_gop_recv(r, gc, g, j);
	case HH_GOP_SEND: {
		uint8_t data[2048];

		memset(data, 0xA5, g->bytes);
		return cvmbus_channel_send_inband(gc->ch, 0, 0x5e4d, data, g->bytes,
						  r->sc->op_timeout_ns);
	}
	case HH_GOP_STORVSC_CONNECT:
		return hh_gop_storvsc_connect(r, gc);
	case HH_GOP_STORVSC_IO:
		return hh_gop_storvsc_io(r, gc, g, j);
	case HH_GOP_NETVSC_CONNECT:
		return hh_gop_netvsc_connect(r, gc);
	case HH_GOP_NET_RECV:
		return hh_gop_net_recv(r, gc, g->relid, g->count, j);
	case HH_GOP_NET_SEND:
		return hh_gop_net_send(r, gc, g->relid, g->count);
	case HH_GOP_NET_QUERY:
		return hh_gop_net_query(gc, g->relid, j);
	default:
		return -EINVAL;
	}
}

/* The guest's driver: one thread, steps in order, as a VSC's probe and I/O
 * would run in one guest. */
static int hh_worker_main(void *arg)
{
	struct hh_run *r = arg;

	cvmbus_mutex_lock(&r->lock);
	for (;;) {
		struct hh_job *j;
		int rc;

		while (!r->worker_stop && r->next_job == r->njobs)
			cvmbus_cond_wait(&r->cond, &r->lock);
		if (r->next_job == r->njobs)
			break;
		j = &r->jobs[r->next_job++];
		cvmbus_mutex_unlock(&r->lock);
		rc = hh_run_gop(r, j);
		cvmbus_mutex_lock(&r->lock);
		j->rc = rc;
		j->done = true;
		cvmbus_cond_broadcast(&r->cond);
	}
	cvmbus_mutex_unlock(&r->lock);
	return 0;
}

/* Wait for a job, bounded by `timeout` and the budget. 0 or -ETIMEDOUT. */
static int hh_job_wait(struct hh_run *r, struct hh_job *j, uint64_t timeout)
{
	uint64_t until = hh_now(r) + hh_wait_ns(r, timeout);
	int rc = 0;

	cvmbus_mutex_lock(&r->lock);
	while (!j->done && rc == 0)
		rc = cvmbus_cond_wait_until(&r->cond, &r->lock, until);
	rc = j->done ? 0 : -ETIMEDOUT;
	cvmbus_mutex_unlock(&r->lock);
	return rc;
}

static void hh_job_judge(struct hh_run *r, const struct hh_step *s, struct hh_job *j, int expect)
{
	char got[24], want[24];

	if (j->why[0]) {
		hh_fail(r, "%s: %s", s->label, j->why);
		return;
	}
	if (j->rc != expect) {
		hh_errno_format(j->rc, got, sizeof(got));
		hh_errno_format(expect, want, sizeof(want));
		hh_fail(r, "%s returned %s, expected %s", s->label, got, want);
	}
}

/* ======================================================================
 * The script: one step at a time on the run's main thread
 * ====================================================================== */

/* The rings of an attached host channel, as the host sees them. */
struct hh_rings {
	struct cvmbus_ring_control *tx_ctl; /* the guest's send ring (upstream) */
	struct cvmbus_ring_control *rx_ctl; /* the guest's receive ring (downstream) */
	uint8_t *rx_data;
	uint32_t rx_size;
	uint32_t target_vp;
};

static int hh_rings_of(struct hh_run *r, uint32_t relid, struct hh_rings *out)
{
	struct hh_hchan *c = hh_hchan(r, relid);
	int rc = -ENOTCONN;

	if (!c)
		return -EINVAL;
	cvmbus_mutex_lock(&r->lock);
	if (c->attached) {
		size_t rx_off = (size_t)c->ds_off * HH_PAGE;

		out->tx_ctl = (struct cvmbus_ring_control *)c->region;
		out->rx_ctl = (struct cvmbus_ring_control *)(c->region + rx_off);
		out->rx_data = c->region + rx_off + CVMBUS_RING_CONTROL_SIZE;
		out->rx_size = (uint32_t)(c->len - rx_off - CVMBUS_RING_CONTROL_SIZE);
		out->target_vp = c->target_vp;
		rc = 0;
	}
	cvmbus_mutex_unlock(&r->lock);
	return rc;
}

/* Bytes into the guest's receive ring at `pos`, wrapping: the host writes
 * shared memory it may write, byte by byte, as a hostile peer would. */
static void hh_ring_put(const struct hh_rings *rg, uint64_t pos, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rg->rx_data[(pos + i) % rg->rx_size] = b[i];
}

/* A packet framed by hand: descriptor (type @0, offset8 @2, len8 @4,
 * flags @6, trans_id @8), the payload zero-padded to 8, the trailer
 * ((u64)start << 32). write_index moves by what the bytes take unless the
 * script says otherwise. */
static int hh_write_packet(struct hh_run *r, const struct hh_packet *p, struct hh_rings *rg)
{
	uint8_t bytes[16 + HH_MAX_BLOB + 8];
	uint32_t body = 16 + (p->payload_len + 7) / 8 * 8, pos, advance;
	int rc = hh_rings_of(r, p->relid, rg);

	if (rc)
		return rc;
	pos = atomic_load_explicit(&rg->rx_ctl->write_index, memory_order_relaxed);
	if (pos >= rg->rx_size || pos % 8)
		return -EPROTO; /* an earlier step broke it: nothing to continue from */
	memset(bytes, 0, sizeof(bytes));
	hh_wr16(bytes, 0, p->type);
	hh_wr16(bytes, 2, p->offset8);
	hh_wr16(bytes, 4, p->len8);
	hh_wr16(bytes, 6, p->flags);
	hh_wr64(bytes, 8, p->trans_id);
	memcpy(bytes + 16, p->payload, p->payload_len);
	hh_wr64(bytes, body, (uint64_t)pos << 32);
	hh_ring_put(rg, pos, bytes, body + 8);
	advance = p->has_advance ? p->advance : body + 8;
	/* Release: the bytes before the index, as an honest writer would, so
	 * that what the guest finds is exactly the lie and nothing torn. */
	atomic_store_explicit(&rg->rx_ctl->write_index,
			      (uint32_t)(((uint64_t)pos + advance) % rg->rx_size),
			      memory_order_release);
	if (p->signal)
		(void)hh_signal(r, rg->target_vp, p->relid);
	return 0;
}

/* The ring's test hook on the guest's reader: after each copy, the shared
 * bytes change to what the script says. Runs on the guest's thread. */
static void hh_df_hook(void *arg, enum cvmbus_ring_hook_point at, uint32_t ring_offset)
{
	struct hh_dfetch *df = arg;
	const struct hh_packet *p = df->p;
	struct hh_rings rg;
	uint8_t d[6];

	if (hh_rings_of(df->run, p->relid, &rg))
		return;
	if (at == CVMBUS_RING_HOOK_DESC_COPIED && atomic_exchange(&df->armed_desc, false)) {
		/* The descriptor the guest validated is in its private copy;
		 * the shared one now says something else. */
		for (int i = 0; i < 6; i++)
			d[i] = rg.rx_data[(ring_offset + (uint32_t)i) % rg.rx_size];
		if (p->rw_type)
			hh_wr16(d, 0, p->new_type);
		if (p->rw_offset8)
			hh_wr16(d, 2, p->new_offset8);
		if (p->rw_len8)
			hh_wr16(d, 4, p->new_len8);
		hh_ring_put(&rg, ring_offset, d, sizeof(d));
		atomic_fetch_add(&df->run->rewrites, 1);
	}
	if (at == CVMBUS_RING_HOOK_PACKET_COPIED && atomic_exchange(&df->armed_pkt, false) &&
	    p->new_payload_len) {
		hh_ring_put(&rg, (uint64_t)ring_offset + 16, p->new_payload, p->new_payload_len);
		atomic_fetch_add(&df->run->rewrites, 1);
	}
}

static void hh_step_expect(struct hh_run *r, const struct hh_step *s)
{
	uint64_t until = hh_now(r) + hh_wait_ns(r, s->timeout_ns);
	bool found = false;
	int rc = 0;

	cvmbus_mutex_lock(&r->lock);
	while (!found && rc == 0) {
		for (unsigned int i = 0; i < r->ninbox && !found; i++) {
			struct hh_msg *m = &r->inbox[i];

			if (m->consumed || m->type != s->msgtype ||
			    (s->has_relid && (m->len < 12 || hh_rd32(m->b, 8) != s->relid)))
				continue;
			m->consumed = true;
			found = true;
		}
		if (!found)
			rc = cvmbus_cond_wait_until(&r->cond, &r->lock, until);
	}
	cvmbus_mutex_unlock(&r->lock);
	if (!found)
		hh_fail(r, "%s: the guest did not send it", s->label);
}

static void hh_step_policy(struct hh_run *r, const struct hh_step *s)
{
	cvmbus_mutex_lock(&r->lock);
	switch (s->pfield) {
	case HH_POL_GPADL:
		r->pol.gpadl = s->answer;
		break;
	case HH_POL_OPEN:
		r->pol.open = s->answer;
		break;
	case HH_POL_TEARDOWN:
		r->pol.teardown = s->answer;
		break;
	case HH_POL_UNLOAD:
		r->pol.unload = s->answer;
		break;
	case HH_POL_CONTACT:
		r->pol.answer_contact = s->flag;
		break;
	case HH_POL_OFFERS:
		r->pol.answer_offers = s->flag;
		break;
	}
	cvmbus_mutex_unlock(&r->lock);
}

static void hh_step_ring(struct hh_run *r, const struct hh_step *s)
{
	const struct hh_ring_edit *e = &s->ring;
	struct cvmbus_ring_control *ctl;
	struct hh_rings rg;
	_Atomic uint32_t *words[HH_RW_COUNT];

	if (hh_rings_of(r, e->relid, &rg)) {
		hh_fail(r, "%s: relid %u is not open on the host", s->label, e->relid);
		return;
	}
	ctl = e->guest_tx ? rg.tx_ctl : rg.rx_ctl;
	words[HH_RW_WRITE_INDEX] = &ctl->write_index;
	words[HH_RW_READ_INDEX] = &ctl->read_index;
	words[HH_RW_INTERRUPT_MASK] = &ctl->interrupt_mask;
	words[HH_RW_PENDING_SEND_SZ] = &ctl->pending_send_sz;
	words[HH_RW_FEATURE_BITS] = &ctl->feature_bits;
	for (int w = 0; w < HH_RW_COUNT; w++)
		if (e->set & (1u << w))
			atomic_store_explicit(words[w], e->value[w], memory_order_release);
	if (e->signal)
		(void)hh_signal(r, rg.target_vp, e->relid);
}

static void hh_step_double_fetch(struct hh_run *r, const struct hh_step *s)
{
	const struct hh_packet *p = s->pkt;
	struct hh_gchan *gc = &r->gc[p->relid];
	struct hh_rings rg;

	/* The guest driver is idle between synchronous steps: its channel
	 * pointer is stable here. */
	if (!gc->ch || hh_rings_of(r, p->relid, &rg)) {
		hh_fail(r, "%s: relid %u is not open on both sides", s->label, p->relid);
		return;
	}
	r->df.run = r;
	r->df.c = hh_hchan(r, p->relid);
	r->df.p = p;
	atomic_store(&r->df.armed_desc, p->rw_type || p->rw_offset8 || p->rw_len8);
	atomic_store(&r->df.armed_pkt, true);
	cvmbus_ring_set_test_hook(&gc->ch->rings.in, hh_df_hook, &r->df);
	if (hh_write_packet(r, p, &rg))
		hh_fail(r, "%s: could not write the packet", s->label);
}

static void hh_step_guest(struct hh_run *r, const struct hh_step *s)
{
	struct hh_job *j = NULL;

	cvmbus_mutex_lock(&r->lock);
	if (r->njobs < HH_MAX_JOBS) {
		j = &r->jobs[r->njobs++];
		memset(j, 0, sizeof(*j));
		j->step = s;
		cvmbus_cond_broadcast(&r->cond);
	}
	cvmbus_mutex_unlock(&r->lock);
	if (!j) {
		hh_fail(r, "%s: more than %u guest steps", s->label, HH_MAX_JOBS);
		return;
	}
	if (s->async)
		return;
	j->awaited = true;
	if (hh_job_wait(r, j, s->timeout_ns)) {
		hh_fail(r, "%s did not return in time: the guest hangs", s->label);
		return;
	}
	hh_job_judge(r, s, j, s->expect_rc);
}

static void hh_step_await(struct hh_run *r, const struct hh_step *s)
{
	struct hh_job *j = NULL;

	cvmbus_mutex_lock(&r->lock);
	for (unsigned int i = 0; i < r->njobs && !j; i++)
		if (!r->jobs[i].awaited && r->jobs[i].step->gop.op == s->gop.op)
			j = &r->jobs[i];
	if (j)
		j->awaited = true;
	cvmbus_mutex_unlock(&r->lock);
	if (!j) {
		hh_fail(r, "%s: no such guest step in the background", s->label);
		return;
	}
	if (hh_job_wait(r, j, s->timeout_ns)) {
		hh_fail(r, "%s: %s did not return in time: the guest hangs", s->label,
			j->step->label);
		return;
	}
	hh_job_judge(r, j->step, j, s->expect_rc);
}

static void hh_step_wait_event(struct hh_run *r, const struct hh_step *s, unsigned int *cursor)
{
	uint64_t until = hh_now(r) + hh_wait_ns(r, s->timeout_ns);
	bool found = false;
	int rc = 0;

	cvmbus_mutex_lock(&r->lock);
	while (!found && rc == 0) {
		for (unsigned int i = cursor[s->event]; i < r->nevents && !found; i++) {
			const struct hh_event *e = &r->events[i];

			if (e->type != s->event || (s->has_relid && e->relid != s->relid))
				continue;
			cursor[s->event] = i + 1;
			found = true;
		}
		if (!found)
			rc = cvmbus_cond_wait_until(&r->cond, &r->lock, until);
	}
	cvmbus_mutex_unlock(&r->lock);
	if (!found)
		hh_fail(r, "%s: the guest never reported it", s->label);
}

/* The hypervisor's answer to HvCallModifySparseGpaPageHostVisibility:
 * granted as the platform would (the host view follows), or refused. */
static uint16_t hh_visibility(void *ctx,
			      const struct hv_input_modify_sparse_gpa_page_host_visibility *in,
			      uint32_t rep_count)
{
	struct hh_run *r = ctx;

	if (atomic_load(&r->vis_refuse)) {
		atomic_fetch_add(&r->vis_refused, 1);
		return HV_STATUS_ACCESS_DENIED;
	}
	return cvmbus_mem_visibility_default(r->hv, in, rep_count);
}

static void hh_step_visibility(struct hh_run *r, const struct hh_step *s)
{
	/* Installed at the first such step and kept: the platform's own hook
	 * only adds trace events, which no check here reads. */
	if (!r->vis_hooked) {
		cvmbus_mem_set_visibility_handler(r->mem, hh_visibility, r);
		r->vis_hooked = true;
	}
	atomic_store(&r->vis_refuse, s->flag);
}

/* A message written by hand into the slot of SINT 2 in the guest's
 * hypervisor SIMP page (host-visible when there is no paravisor), then an
 * event signal to raise the SINT: what a host that owns the hypervisor
 * can do without going through HvPostMessage's checks. */
static void hh_step_simp_slot(struct hh_run *r, const struct hh_step *s)
{
	struct cvmbus_guest_synic_report rep;
	uint32_t vp = atomic_load(&r->msg_vp);
	uint64_t until = hh_now(r) + hh_wait_ns(r, 1000 * HH_MS);
	uint8_t *slot;
	void *page;

	if (cvmbus_guest_synic_report(r->g, vp, &rep) || !rep.hypervisor.simp_gpa ||
	    cvmbus_mem_host_ptr(r->hv, cvmbus_mem_gpa_to_alias(r->mem, rep.hypervisor.simp_gpa),
				HH_PAGE, &page)) {
		hh_fail(r, "%s: the guest's SIMP page is not host-visible", s->label);
		return;
	}
	slot = (uint8_t *)page + (size_t)VMBUS_MESSAGE_SINT * HV_MESSAGE_SIZE;
	/* Wait until the slot is free, as the SynIC would: a message in it
	 * is the guest's to read first. */
	while (atomic_load_explicit((_Atomic uint32_t *)slot, memory_order_acquire) != HVMSG_NONE) {
		if (hh_now(r) >= until) {
			hh_fail(r, "%s: the slot stayed busy", s->label);
			return;
		}
		cvmbus_exec_sleep_ns(r->exec, HH_POST_RETRY_NS);
	}
	/* header: message_type @0, payload_size @4, message_flags @5,
	 * port_id @8; payload @16. The type goes last, with release. */
	memcpy(slot + 16, s->bytes, HV_MESSAGE_PAYLOAD_SIZE);
	slot[4] = (uint8_t)s->len;
	slot[5] = (uint8_t)s->msgtype;
	hh_wr64(slot, 8, VMBUS_MESSAGE_PORT_ID);
	atomic_store_explicit((_Atomic uint32_t *)slot, s->hv_type, memory_order_release);
	atomic_fetch_add(&r->posts, 1);
	(void)hh_signal(r, vp, s->relid);
}

static void hh_step_run(struct hh_run *r, const struct hh_step *s, unsigned int *ev_cursor)
{
	struct hh_rings rg;
	uint32_t vp = atomic_load(&r->msg_vp);

	switch (s->kind) {
	case HH_STEP_EXPECT:
		hh_step_expect(r, s);
		break;
	case HH_STEP_OFFER:
		hh_note_offer(r, &s->offer);
		/* fall through */
	case HH_STEP_SEND:
		for (uint32_t i = 0; i < s->repeat; i++)
			if (hh_post(r, vp, s->hv_type, s->bytes, s->len)) {
				hh_fail(r, "%s: the SynIC refused it", s->label);
				break;
			}
		break;
	case HH_STEP_POLICY:
		hh_step_policy(r, s);
		break;
	case HH_STEP_RING:
		hh_step_ring(r, s);
		break;
	case HH_STEP_RING_PACKET:
		if (hh_write_packet(r, s->pkt, &rg))
			hh_fail(r, "%s: relid %u has no ring to write", s->label, s->pkt->relid);
		break;
	case HH_STEP_DOUBLE_FETCH:
		hh_step_double_fetch(r, s);
		break;
	case HH_STEP_STORAGE_RESPONSE: {
		struct hh_hchan *c = hh_hchan(r, s->tamper.relid);

		cvmbus_mutex_lock(&r->lock);
		if (c && c->attached && c->offer.service == HH_SVC_STORAGE) {
			c->tamper = s->tamper;
			c->tamper_armed = true;
			c = NULL;
		}
		cvmbus_mutex_unlock(&r->lock);
		if (c)
			hh_fail(r, "%s: relid %u runs no storage device", s->label, s->tamper.relid);
		break;
	}
	case HH_STEP_NETWORK_RESPONSE: {
		struct hh_hchan *c = hh_hchan(r, s->netlie.relid);

		cvmbus_mutex_lock(&r->lock);
		if (c && c->attached && c->offer.service == HH_SVC_NET) {
			c->net_lie = s->netlie;
			c->net_lie_armed = true;
			c = NULL;
		}
		cvmbus_mutex_unlock(&r->lock);
		if (c)
			hh_fail(r, "%s: relid %u runs no network device", s->label,
				s->netlie.relid);
		break;
	}
	case HH_STEP_SIGNAL_STORM:
		for (uint32_t i = 0; i < s->storm_count; i++)
			(void)hh_signal(r, s->storm_vp, s->storm_relids[i % s->storm_nrelids]);
		break;
	case HH_STEP_MESSAGE_STORM:
		for (uint32_t i = 0; i < s->storm_count && !r->why[0]; i++) {
			if (hh_post(r, vp, s->hv_type, s->bytes, s->len))
				hh_fail(r, "%s: the SynIC refused message %u", s->label, i);
			else
				atomic_fetch_add(&r->storm, 1);
		}
		break;
	case HH_STEP_SLEEP:
		cvmbus_exec_sleep_ns(r->exec, hh_wait_ns(r, s->sleep_ns));
		break;
	case HH_STEP_GUEST:
		hh_step_guest(r, s);
		break;
	case HH_STEP_AWAIT:
		hh_step_await(r, s);
		break;
	case HH_STEP_WAIT_EVENT:
		hh_step_wait_event(r, s, ev_cursor);
		break;
	case HH_STEP_SIMP_SLOT:
		hh_step_simp_slot(r, s);
		break;
	case HH_STEP_VISIBILITY:
		hh_step_visibility(r, s);
		break;
	}
}

/* ======================================================================
 * Judging the guest
 * ====================================================================== */

static bool hh_counter_value(const struct cvmbus_hostile_result *res, const char *name,
			     uint64_t *v)
{
	const struct {
		const char *name;
		uint64_t value;
	} table[] = {
		{ "other_messages", res->guest.other_messages },
		{ "unknown_relid_events", res->guest.unknown_relid_events },
		{ "queue_stalls", res->guest.queue_stalls },
		{ "interrupts", res->guest.interrupts },
		{ "rx_messages", res->client.rx_messages },
		{ "rx_dropped", res->client.rx_dropped },
		{ "offers_accepted", res->client.offers_accepted },
		{ "offers_refused", res->client.offers_refused },
		{ "timeouts", res->client.timeouts },
		{ "pages_leaked", res->client.pages_leaked + res->guest.pages_leaked },
		{ "storvsc_unknown_completions", res->storvsc_unknown_completions },
		{ "storvsc_bad_completions", res->storvsc_bad_completions },
		{ "host_posts", res->host_posts },
		{ "host_signals", res->host_signals },
		{ "storm_messages", res->storm_messages },
		{ "host_rewrites", res->host_rewrites },
		{ "host_post_drops", res->host_post_drops },
		{ "visibility_refusals", res->visibility_refusals },
		{ "netvsc_bad_xfer", res->netvsc_bad_xfer },
		{ "netvsc_bad_nvsp", res->netvsc_bad_nvsp },
		{ "netvsc_bad_rndis", res->netvsc_bad_rndis },
		{ "netvsc_unknown_completions", res->netvsc_unknown_completions },
		{ "netvsc_rx_frames", res->netvsc_rx_frames },
		{ "host_net_tx_frames", res->host_net_tx_frames },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (!strcmp(table[i].name, name)) {
			*v = table[i].value;
			return true;
		}
	return false;
}

static bool hh_count_ok(const struct hh_expect *e, uint64_t n, uint64_t storm)
{
	if (!e->has_count)
		return n >= 1;
	if (e->count_storm)
		return n == storm;
	return e->count_min ? n >= e->count : n == e->count;
}

/* The kind-specific part: what the guest must have done about the attack. */
static void hh_judge_kind(struct hh_run *r, const struct cvmbus_hostile_result *res)
{
	const struct hh_expect *e = &r->sc->expect;
	char want[24], got[24];

	hh_errno_format(e->err, want, sizeof(want));
	switch (e->kind) {
	case CVMBUS_HOSTILE_MESSAGE_DROPPED: {
		uint64_t n = res->client.drops[e->reason];
		bool typed = !e->has_msgtype;

		if (!hh_count_ok(e, n, res->storm_messages))
			hh_fail(r, "dropped %" PRIu64 " as %s, expected %s%" PRIu64, n,
				hh_drop_ids[e->reason], e->count_min ? ">= " : "",
				e->count_storm ? res->storm_messages : e->count ? e->count : 1);
		/* Each drop is also a PROTOCOL_ERROR event with its reason (and
		 * the message type, where the scenario names one). */
		cvmbus_mutex_lock(&r->lock);
		if (!r->proto_drops[e->reason])
			hh_fail(r, "no protocol_error event for %s", hh_drop_ids[e->reason]);
		for (unsigned int i = 0; i < r->nevents && !typed; i++)
			typed = r->events[i].type == CVMBUS_CLIENT_EV_PROTOCOL_ERROR &&
				r->events[i].reason == e->reason &&
				r->events[i].msgtype == e->msgtype;
		cvmbus_mutex_unlock(&r->lock);
		if (!typed)
			hh_fail(r, "no %s message among the drops", cvmbus_wire_type_name(e->msgtype));
		break;
	}
	case CVMBUS_HOSTILE_OFFER_REFUSED: {
		uint64_t n;

		cvmbus_mutex_lock(&r->lock);
		n = r->refusals[e->reason];
		cvmbus_mutex_unlock(&r->lock);
		if (!hh_count_ok(e, n, res->storm_messages))
			hh_fail(r, "%" PRIu64 " offers refused as %s", n, hh_drop_ids[e->reason]);
		break;
	}
	case CVMBUS_HOSTILE_CONNECTION_REFUSED: {
		struct cvmbus_guest_info info;

		cvmbus_guest_get_info(r->g, &info);
		hh_errno_format(r->connect_status, got, sizeof(got));
		if (!r->connect_failed || r->connect_status != e->err)
			hh_fail(r, "connect_failed %s, expected %s", r->connect_failed ? got : "never",
				want);
		else if (info.version)
			hh_fail(r, "a version (%#x) was recorded after a refused connection",
				info.version);
		break;
	}
	case CVMBUS_HOSTILE_CHANNEL_CLOSED: {
		struct hh_gchan *gc = &r->gc[e->relid];
		struct cvmbus_guest_channel_report cr;
		int rc = cvmbus_guest_channel_report(r->g, e->relid, &cr);

		hh_gchan_note_end(gc);
		if (e->released) {
			if (rc != -ENOENT)
				hh_fail(r, "relid %u was not released", e->relid);
		} else if (!gc->was_closed && rc == 0 && cr.open) {
			hh_fail(r, "channel %u is still open", e->relid);
		}
		if (e->has_fault && gc->fault.fault != e->fault)
			hh_fail(r, "channel %u ring fault %s, expected %s", e->relid,
				hh_fault_ids[gc->fault.fault < CVMBUS_RING_FAULT_COUNT_ ? gc->fault.fault
											: 0],
				hh_fault_ids[e->fault]);
		break;
	}
	case CVMBUS_HOSTILE_REQUEST_FAILED: {
		bool seen = false;

		cvmbus_mutex_lock(&r->lock);
		for (unsigned int i = 0; i < r->njobs; i++)
			seen |= r->jobs[i].done && r->jobs[i].rc == e->err;
		cvmbus_mutex_unlock(&r->lock);
		if (!seen)
			hh_fail(r, "no guest request failed with %s", want);
		break;
	}
	case CVMBUS_HOSTILE_COMPLETION_DROPPED:
		if (!hh_count_ok(e, res->storvsc_unknown_completions, res->storm_messages))
			hh_fail(r, "%" PRIu64 " completions dropped as unknown",
				res->storvsc_unknown_completions);
		break;
	case CVMBUS_HOSTILE_PACKET_DROPPED: {
		uint64_t n = res->netvsc_bad_xfer + res->netvsc_bad_nvsp + res->netvsc_bad_rndis +
			     res->netvsc_unknown_completions;

		if (!hh_count_ok(e, n, res->storm_messages))
			hh_fail(r, "netvsc dropped %" PRIu64 " (xfer %" PRIu64 ", nvsp %" PRIu64
				   ", rndis %" PRIu64 ", unknown %" PRIu64 ")",
				n, res->netvsc_bad_xfer, res->netvsc_bad_nvsp, res->netvsc_bad_rndis,
				res->netvsc_unknown_completions);
		break;
	}
	default:
		break;
	}
}

/* After the attack: every echo channel still open must still echo. */
static unsigned int hh_still_works(struct hh_run *r)
{
	static const struct hh_step probe = {
		.kind = HH_STEP_GUEST,
		.label = "echo after the attack",
		.gop = { .op = HH_GOP_ECHO, .count = 1, .bytes = 64 },
	};
	unsigned int n = 0;

	for (uint32_t relid = 1; relid < HH_MAX_RELID && !r->why[0]; relid++) {
		struct hh_gchan *gc = &r->gc[relid];
		struct hh_job j = { .step = &probe };
		struct hh_guest_op g = probe.gop;
		int rc;

		if (gc->ch && gc->nvsc && r->hc[relid].attached &&
		    cvmbus_netvsc_state(gc->nvsc) == CVMBUS_NETVSC_READY) {
			rc = hh_gop_net_recv(r, gc, relid, 1, &j);
			if (!rc)
				rc = hh_gop_net_send(r, gc, relid, 1);
			if (rc || j.why[0])
				hh_fail(r, "relid %u passes no frame after the attack (%d%s%s)",
					relid, rc, j.why[0] ? ": " : "", j.why);
			n++;
			continue;
		}
		if (!gc->ch || gc->vsc || cvmbus_channel_is_closed(gc->ch) ||
		    r->hc[relid].offer.service != HH_SVC_ECHO || !r->hc[relid].attached)
			continue;
		g.relid = relid;
		rc = hh_gop_echo(r, gc, &g, &j);
		if (rc || j.why[0])
			hh_fail(r, "relid %u stopped working after the attack (%d%s%s)", relid, rc,
				j.why[0] ? ": " : "", j.why);
		n++;
	}
	return n;
}

static uint64_t hh_net_dropped(const struct cvmbus_hostile_result *res)
{
	return res->netvsc_bad_xfer + res->netvsc_bad_nvsp + res->netvsc_bad_rndis +
	       res->netvsc_unknown_completions;
}

static void hh_net_stats(struct hh_run *r, struct cvmbus_hostile_result *res)
{
	res->netvsc_bad_xfer = res->netvsc_bad_nvsp = res->netvsc_bad_rndis = 0;
	res->netvsc_unknown_completions = res->netvsc_rx_frames = res->host_net_tx_frames = 0;
	for (uint32_t relid = 1; relid < HH_MAX_RELID; relid++) {
		struct cvmbus_netvsc_stats ns;

		res->host_net_tx_frames += atomic_load(&r->hc[relid].net_tx_frames);
		if (!r->gc[relid].nvsc)
			continue;
		cvmbus_netvsc_get_stats(r->gc[relid].nvsc, &ns);
		res->netvsc_bad_xfer += ns.bad_xfer;
		res->netvsc_bad_nvsp += ns.bad_nvsp;
		res->netvsc_bad_rndis += ns.bad_rndis;
		res->netvsc_unknown_completions += ns.unknown_completions;
		res->netvsc_rx_frames += ns.rx_frames;
	}
}

static void hh_judge(struct hh_run *r, struct cvmbus_hostile_result *res)
{
	const struct hh_expect *e = &r->sc->expect;
	enum cvmbus_guest_state st = cvmbus_guest_state(r->g);
	unsigned int works = 0, nd = 0;
	char drops[96] = "";

	cvmbus_guest_get_stats(r->g, &res->guest);
	(void)cvmbus_guest_client_stats(r->g, &res->client);
	for (uint32_t relid = 1; relid < HH_MAX_RELID; relid++)
		if (r->gc[relid].vsc) {
			struct cvmbus_storvsc_stats vs;

			cvmbus_storvsc_get_stats(r->gc[relid].vsc, &vs);
			res->storvsc_unknown_completions += vs.unknown_completions;
			res->storvsc_bad_completions += vs.bad_completions;
		}
	hh_net_stats(r, res);
	/* netvsc counts on its own thread: a refusal the script provoked
	 * last may still be on its way through the ring. Bounded wait. */
	if (e->kind == CVMBUS_HOSTILE_PACKET_DROPPED) {
		uint64_t until = hh_now(r) + hh_wait_ns(r, r->sc->op_timeout_ns);

		while (!hh_count_ok(e, hh_net_dropped(res), res->storm_messages) &&
		       hh_now(r) < until) {
			cvmbus_exec_sleep_ns(r->exec, HH_MS);
			hh_net_stats(r, res);
		}
	}
	res->host_posts = atomic_load(&r->posts);
	res->host_post_drops = atomic_load(&r->post_drops);
	res->host_signals = atomic_load(&r->signals);
	res->storm_messages = atomic_load(&r->storm);
	res->host_rewrites = atomic_load(&r->rewrites);
	res->visibility_refusals = atomic_load(&r->vis_refused);

	if (r->host_err[0])
		hh_fail(r, "%s", r->host_err);
	if (st != e->state)
		hh_fail(r, "guest %s, expected %s", hh_state_ids[st], hh_state_ids[e->state]);
	hh_judge_kind(r, res);
	/* Nothing else was dropped than what the attack explains. */
	for (int d = 1; d < CVMBUS_CLIENT_DROP_COUNT; d++) {
		uint64_t n = res->client.drops[d];

		if (!n)
			continue;
		if (nd++ < 3)
			snprintf(drops + strlen(drops), sizeof(drops) - strlen(drops), "%s%s=%" PRIu64,
				 nd > 1 ? "," : "", hh_drop_ids[d], n);
		if (!(e->has_reason && (int)e->reason == d) && !(e->allow_drops & (1u << d)))
			hh_fail(r, "also dropped %" PRIu64 " as %s", n, hh_drop_ids[d]);
	}
	if (res->client.offers_received != res->client.offers_accepted + res->client.offers_refused)
		hh_fail(r, "offer accounting broken: %" PRIu64 " != %" PRIu64 " + %" PRIu64,
			res->client.offers_received, res->client.offers_accepted,
			res->client.offers_refused);
	if (!e->allow_leaks && (res->client.pages_leaked || res->guest.pages_leaked))
		hh_fail(r, "pages leaked: %" PRIu64, res->client.pages_leaked + res->guest.pages_leaked);
	if (res->guest.eom_failures)
		hh_fail(r, "%" PRIu64 " EOM writes failed", res->guest.eom_failures);
	for (unsigned int i = 0; i < e->ncounters; i++) {
		const struct hh_counter_check *cc = &e->counters[i];
		uint64_t v = 0;

		(void)hh_counter_value(res, cc->name, &v);
		if (cc->minimum ? v < cc->value : v != cc->value)
			hh_fail(r, "counter %s is %" PRIu64 ", expected %s%" PRIu64, cc->name, v,
				cc->minimum ? ">= " : "", cc->value);
	}
	if (st == CVMBUS_GUEST_CONNECTED)
		works = hh_still_works(r);
	snprintf(res->observed, sizeof(res->observed),
		 "guest %s; drops %s; refused %" PRIu64 "; host posts %" PRIu64 " signals %" PRIu64
		 "; echo ok on %u",
		 hh_state_ids[st], nd ? drops : "none", res->client.offers_refused, res->host_posts,
		 res->host_signals, works);
}

/* ======================================================================
 * The run
 * ====================================================================== */

static int hh_setup(struct hh_run *r)
{
	struct cvmbus_platform_config pc;
	struct cvmbus_port_config port;
	struct cvmbus_guest_config gc;
	char err[128];
	int rc;

	memset(&pc, 0, sizeof(pc));
	pc.exec = r->exec;
	pc.arch = CVMBUS_ARCH_X86_64;
	pc.isolation = r->sc->isolation;
	pc.vcpus = r->sc->vcpus;
	pc.vtl0_bytes = 16u << 20;
	rc = cvmbus_platform_create(&pc, &r->p, err, sizeof(err));
	if (rc) {
		hh_fail(r, "platform: %s", err);
		return rc;
	}
	r->mem = cvmbus_platform_mem(r->p);
	r->hv = cvmbus_mem_host(r->mem);

	/* No paravisor: both message connection ids are the host's. */
	memset(&port, 0, sizeof(port));
	port.kind = CVMBUS_PORT_MESSAGE;
	port.owner = CVMBUS_MEM_PARTY_HOST;
	port.on_message = hh_on_message;
	port.ctx = r;
	port.queue_depth = 256;
	port.connection_id = VMBUS_MESSAGE_CONNECTION_ID_4;
	rc = cvmbus_port_add(r->p, &port);
	r->port4 = rc == 0;
	if (!rc) {
		port.connection_id = VMBUS_MESSAGE_CONNECTION_ID;
		rc = cvmbus_port_add(r->p, &port);
		r->port1 = rc == 0;
	}
	if (rc) {
		hh_fail(r, "host ports refused (%d)", rc);
		return rc;
	}

	memset(&gc, 0, sizeof(gc));
	gc.platform = r->p;
	gc.detect = CVMBUS_CLIENT_DETECT_CPUID;
	gc.contact_timeout_ns = r->sc->contact_timeout_ns;
	gc.offers_timeout_ns = r->sc->offers_timeout_ns;
	gc.reply_timeout_ns = r->sc->reply_timeout_ns;
	gc.msg_queue_depth = r->sc->queue_depth;
	gc.on_event = hh_on_event;
	gc.event_ctx = r;
	rc = cvmbus_guest_create(&gc, &r->g);
	if (!rc) {
		rc = cvmbus_guest_start(r->g);
		if (rc)
			hh_fail(r, "guest start failed (%d)", rc);
	} else {
		hh_fail(r, "guest create failed (%d)", rc);
	}
	if (!rc) {
		rc = cvmbus_thread_spawn(r->exec, &r->worker, "guest-driver", hh_worker_main, r);
		if (rc)
			hh_fail(r, "no driver thread (%d)", rc);
	}
	return rc;
}

static void hh_teardown(struct hh_run *r)
{
	bool idle = true;

	/* The driver thread first, unless a guest call still hangs in it:
	 * then stopping the guest is what ends that call. */
	cvmbus_mutex_lock(&r->lock);
	r->worker_stop = true;
	for (unsigned int i = r->next_job; i < r->njobs; i++)
		r->jobs[i].done = true; /* never started: nothing to wait for */
	r->njobs = r->next_job;
	for (unsigned int i = 0; i < r->njobs; i++)
		idle &= r->jobs[i].done;
	cvmbus_cond_broadcast(&r->cond);
	cvmbus_mutex_unlock(&r->lock);
	if (r->worker && idle) {
		(void)cvmbus_thread_join(r->worker, NULL);
		r->worker = NULL;
	}
	if (!r->worker)
		for (uint32_t relid = 1; relid < HH_MAX_RELID; relid++) {
			hh_storvsc_drop(&r->gc[relid]);
			hh_netvsc_drop(&r->gc[relid]);
		}
	/* The message ports first (removing one waits for its handler), so
	 * that no OpenChannel can attach a ring behind our back; then the host
	 * lets go of every ring before the guest takes its pages back. */
	if (r->port4)
		(void)cvmbus_port_remove(r->p, VMBUS_MESSAGE_CONNECTION_ID_4);
	if (r->port1)
		(void)cvmbus_port_remove(r->p, VMBUS_MESSAGE_CONNECTION_ID);
	for (uint32_t relid = 1; relid < HH_MAX_RELID; relid++)
		hh_detach(r, &r->hc[relid]);
	if (r->g)
		cvmbus_guest_stop(r->g);
	if (r->worker) {
		(void)cvmbus_thread_join(r->worker, NULL);
		r->worker = NULL;
		for (uint32_t relid = 1; relid < HH_MAX_RELID; relid++) {
			hh_storvsc_drop(&r->gc[relid]);
			hh_netvsc_drop(&r->gc[relid]);
		}
	}
	cvmbus_guest_destroy(r->g);
	r->g = NULL;
	for (uint32_t relid = 1; relid < HH_MAX_RELID; relid++) {
		struct hh_gchan *gc = &r->gc[relid];

		cvmbus_bounce_pool_destroy(gc->pool);
		gc->pool = NULL;
		if (gc->buf)
			(void)cvmbus_mem_free(r->mem, gc->buf_gpa, HH_IOBUF_PAGES);
		gc->buf = false;
		gc->ch = NULL;
	}
	cvmbus_platform_destroy(r->p);
	r->p = NULL;
}

struct hh_ctx {
	struct hh_run *r;
	struct cvmbus_hostile_result *res;
	uint64_t budget;
};

static int hh_main(void *arg)
{
	struct hh_ctx *x = arg;
	struct hh_run *r = x->r;
	struct cvmbus_hostile_result *res = x->res;
	unsigned int ev_cursor[CVMBUS_CLIENT_EV_COUNT] = { 0 };

	cvmbus_mutex_init(&r->lock, r->exec, "hostile");
	cvmbus_cond_init(&r->cond, r->exec, "hostile");
	r->pol = r->sc->policy;
	for (uint32_t relid = 0; relid < HH_MAX_RELID; relid++) {
		r->hc[relid].run = r;
		r->hc[relid].relid = relid;
	}
	r->t0 = hh_now(r);
	r->deadline = r->t0 + x->budget;

	if (hh_setup(r) == 0) {
		for (size_t i = 0; i < r->sc->nsteps && !r->why[0]; i++) {
			const struct hh_step *s = &r->sc->steps[i];

			if (hh_now(r) >= r->deadline) {
				hh_fail(r, "budget spent before step %zu (%s)", i + 1, s->label);
				break;
			}
			if (r->verbose)
				fprintf(stderr, "hostile: %s: step %zu: %s\n", r->sc->name, i + 1,
					s->label);
			hh_step_run(r, s, ev_cursor);
			if (r->why[0]) {
				char why[sizeof(r->why)];

				snprintf(why, sizeof(why), "%s", r->why);
				snprintf(r->why, sizeof(r->why), "step %zu: %.200s", i + 1, why);
			} else {
				res->steps_done++;
			}
		}
		/* Background guest steps nobody awaited still end in time. */
		for (unsigned int i = 0; i < r->njobs && !r->why[0]; i++)
			if (hh_job_wait(r, &r->jobs[i], HH_DEFAULT_WAIT))
				hh_fail(r, "%s never returned: the guest hangs",
					r->jobs[i].step->label);
		if (!r->why[0])
			hh_judge(r, res);
		else
			cvmbus_guest_get_stats(r->g, &res->guest);
	}
	res->elapsed_ns = hh_now(r) - r->t0;
	hh_teardown(r);
	res->passed = !r->why[0];
	snprintf(res->why, sizeof(res->why), "%s", r->why);
	cvmbus_cond_destroy(&r->cond);
	cvmbus_mutex_destroy(&r->lock);
	return 0;
}

int cvmbus_hostile_run(const struct cvmbus_hostile *h, const struct cvmbus_hostile_options *o,
		       struct cvmbus_hostile_result *out)
{
	struct hh_ctx x;
	struct hh_run *r;
	int ret = -1, rc;

	if (!h || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->sc = h;
	r->verbose = o && o->verbose;
	x.r = r;
	x.res = out;
	x.budget = o && o->budget_ns ? o->budget_ns : h->budget_ns;
	rc = cvmbus_exec_native_create(&r->exec);
	if (rc) {
		free(r);
		return rc;
	}
	rc = cvmbus_exec_run(r->exec, hh_main, &x, &ret);
	cvmbus_exec_destroy(r->exec);
	free(r);
	return rc ? rc : ret;
}
