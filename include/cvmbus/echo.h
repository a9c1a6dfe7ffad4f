/* SPDX-License-Identifier: MIT */
/*
 * The echo device: a test VSP with its own interface GUID (layer src/dev,
 * over the device-facing channel of channel.h; it plugs into the server
 * glue through struct cvmbus_vsp_ops and so runs unchanged on the host or in
 * the paravisor). Each open channel gets a receive loop thread that answers:
 *   - an in-band packet with COMPLETION_REQUESTED: a completion carrying the
 *     same payload (the sender's 8-byte padding included);
 *   - a GPA-direct packet: the bytes its ranges name, read through the
 *     channel's memory operations (the role's view of guest memory), and a
 *     completion carrying struct cvmbus_echo_hash_reply: the 64-bit FNV-1a
 *     of those bytes, or the error (-EFAULT when the device could not reach
 *     them). That is how a test proves which memory a device could read.
 * Anything else is counted and ignored. The guest side (a VSC helper over a
 * cvmbus_channel) is below: cvmbus_echo_call and cvmbus_echo_gpa_hash.
 *
 * Errors are negative errno values: -EINVAL, -ENOMEM, -ETIMEDOUT (no answer
 * in time), -ESHUTDOWN (the channel closed), -EPROTO (an answer that does
 * not fit the request), -EMSGSIZE, and what the channel returns.
 */
#ifndef CVMBUS_ECHO_H
#define CVMBUS_ECHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmbus/channel.h>
#include <cvmbus/server_glue.h>

/* {e5a0c4d2-7f3b-4c1e-9a56-3b1d0c8e2f41}: the echo device class. */
#define CVMBUS_ECHO_INTERFACE_ID_INIT                                                   \
	{ 0xe5a0c4d2u, 0x7f3bu, 0x4c1eu, { 0x9a, 0x56, 0x3b, 0x1d, 0x0c, 0x8e, 0x2f, 0x41 } }

/* FNV-1a 64 (offset basis and prime of the published algorithm). */
#define CVMBUS_ECHO_FNV_OFFSET 0xcbf29ce484222325ull
#define CVMBUS_ECHO_FNV_PRIME  0x00000100000001b3ull

static inline uint64_t cvmbus_echo_fnv1a(uint64_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= CVMBUS_ECHO_FNV_PRIME;
	}
	return h;
}

/* The completion payload answering a GPA-direct packet (little-endian). */
struct cvmbus_echo_hash_reply {
	int32_t status;   /* @0: 0, or a negative errno: -EFAULT unreachable, -E2BIG too much */
	uint32_t ranges;  /* @4: ranges read completely */
	uint64_t bytes;   /* @8: bytes hashed */
	uint64_t fnv1a;   /* @16: FNV-1a 64 of every range's bytes, in order (0 on error) */
};
_Static_assert(sizeof(struct cvmbus_echo_hash_reply) == 24, "echo hash reply");
_Static_assert(offsetof(struct cvmbus_echo_hash_reply, ranges) == 4, "ranges");
_Static_assert(offsetof(struct cvmbus_echo_hash_reply, bytes) == 8, "bytes");
_Static_assert(offsetof(struct cvmbus_echo_hash_reply, fnv1a) == 16, "fnv1a");

/* ---- the device (VSP) ---------------------------------------------------- */

struct cvmbus_echo;

struct cvmbus_echo_config {
	struct cvmbus_exec *exec;  /* required: where the receive loops run */
	uint64_t poll_ns;          /* receive timeout per loop turn; 0: 100 ms */
	size_t max_packet;         /* 0: CVMBUS_CHANNEL_DEFAULT_MAX_PACKET */
	uint64_t max_gpa_bytes;    /* per GPA-direct packet; 0: 1 MiB (more: -E2BIG) */
};

struct cvmbus_echo_stats {
	uint64_t opens, closes;
	uint64_t channels_open;
	uint64_t packets, bytes;   /* received (bytes: whole packets) */
	uint64_t echoes;           /* in-band completions sent */
	uint64_t gpa_requests;
	uint64_t gpa_bytes;        /* external bytes read */
	uint64_t faults;           /* GPA-direct requests that could not be read */
	uint64_t ignored;          /* packets that asked for nothing */
	uint64_t send_errors;      /* completions that could not be sent */
};

int cvmbus_echo_create(const struct cvmbus_echo_config *cfg, struct cvmbus_echo **out);
/* Every channel must be closed first (the glue's stop or rescind does). */
void cvmbus_echo_destroy(struct cvmbus_echo *e);
/* The ops to register with cvmbus_server_glue_add_device (ctx: the echo). */
const struct cvmbus_vsp_ops *cvmbus_echo_vsp_ops(void);
/* Offer parameters: the echo class, instance {instance, 0xec40, ...}, and
 * CONFIDENTIAL_EXTERNAL_MEMORY if asked (the echo can read private pages
 * when its server can). */
void cvmbus_echo_offer_params(struct cvmbus_offer_params *p, uint32_t instance,
			      bool confidential_external_memory);
void cvmbus_echo_get_stats(struct cvmbus_echo *e, struct cvmbus_echo_stats *out);

/* ---- the guest side (VSC helper) ----------------------------------------- */

struct cvmbus_echo_vsc {
	struct cvmbus_channel *ch; /* GUEST endpoint; this helper is its only reader */
	uint64_t next_id;
	uint64_t stale; /* packets received that answered nothing we wait for */
};

void cvmbus_echo_vsc_init(struct cvmbus_echo_vsc *v, struct cvmbus_channel *ch);
/* Send data (1..len) in-band and wait for its echo: up to cap bytes of the
 * answer go to reply, *reply_len gets the answer's full length (len rounded
 * up to 8). 0, -ETIMEDOUT, -ESHUTDOWN, -EPROTO (a shorter answer). */
int cvmbus_echo_call(struct cvmbus_echo_vsc *v, const void *data, size_t len, void *reply,
		     size_t cap, size_t *reply_len, uint64_t timeout_ns);
/* Send a GPA-direct packet naming ranges and wait for the device's hash
 * reply. The device's own verdict is in out->status. */
int cvmbus_echo_gpa_hash(struct cvmbus_echo_vsc *v, const struct cvmbus_ring_gpa_range *ranges,
			 uint32_t count, struct cvmbus_echo_hash_reply *out, uint64_t timeout_ns);

#endif /* CVMBUS_ECHO_H */
