/* SPDX-License-Identifier: MIT */
/*
 * The bytes of the host link (src/hw, hostlink.c and hostlink_remote.c):
 * what the partition's process (the hypervisor model's end) and the host's
 * process say to each other over one SOCK_SEQPACKET Unix socket, one
 * message per datagram. Both ends are built from this header, but the host
 * is untrusted: the partition's end copies every datagram into a buffer of
 * its own, checks the length against the type before it reads a field, and
 * never lets a field choose a SynIC, a party or a page beyond what the host
 * may name (hostlink.c says which checks).
 *
 * Partition -> host:
 *   HELLO        once, first, with the shared memfd (SCM_RIGHTS) and the
 *                layout the host needs; never the private memfd.
 *   VISIBILITY   pages that became host-visible or hidden, numbered
 *                (h.seq, never 0 but in the snapshot that follows HELLO).
 *                The host applies it to its window and answers
 *                VISIBILITY_DONE; the hypercall that made the change
 *                returns only then, as a hypervisor's does once the page
 *                tables say so. Socket order alone is not enough: the
 *                rings are shared memory and the doorbells eventfds, so a
 *                packet naming a bounce page can reach the host's device
 *                before the VISIBILITY datagram in front of it was read
 *                (seen: "guest buffer not reachable", the disk failed to
 *                open). A page made private is already zero in the shared
 *                memfd, so a host that lags sees zeros, never secrets.
 *   PORT_MESSAGE a message posted to a port the host owns.
 *   LOST_PORT    a port the host added is gone on the partition's side.
 *   REPLY        the answer to a request of the host.
 * Host -> partition:
 *   PORT_ADD     a port the host owns; an EVENT port comes with an eventfd
 *                (SCM_RIGHTS) that the partition writes when the guest
 *                signals it: the doorbell. Answered.
 *   PORT_REMOVE, SYNIC_POST, POST_FROM, SIGNAL_FROM, PIN: answered.
 *   SYNIC_SIGNAL not answered (the hot path: one datagram per signal).
 *   VISIBILITY_DONE  the VISIBILITY numbered h.seq (and every one before
 *                it) is applied. Not answered; one for a number not yet
 *                sent is a lie and closes the link.
 */
#ifndef CVMBUS_HW_HOSTLINK_PROTO_H
#define CVMBUS_HW_HOSTLINK_PROTO_H

#include <stddef.h>
#include <sys/types.h>
#include <stdint.h>

#include <cvmbus/hostlink.h>
#include <cvmbus/hv.h>

#define HL_MAGIC   0x4b4e4c48u /* "HLNK" */
#define HL_VERSION 1u

enum hl_type {
	HL_HELLO = 1,
	HL_VISIBILITY = 2,
	HL_PORT_MESSAGE = 3,
	HL_LOST_PORT = 4,
	HL_REPLY = 5,
	HL_PORT_ADD = 16,
	HL_PORT_REMOVE = 17,
	HL_SYNIC_POST = 18,
	HL_SYNIC_SIGNAL = 19,
	HL_POST_FROM = 20,
	HL_SIGNAL_FROM = 21,
	HL_PIN = 22,
	HL_VISIBILITY_DONE = 23,
};

struct hl_hdr {
	uint32_t type;
	uint32_t seq; /* a request's number; its REPLY carries it back */
};
_Static_assert(sizeof(struct hl_hdr) == 8, "hl_hdr");

struct hl_hello {
	struct hl_hdr h;
	uint32_t magic;
	uint32_t version;
	uint32_t isolation;  /* enum hv_isolation_type */
	uint32_t arch;       /* enum cvmbus_arch */
	uint32_t vcpus;
	uint32_t paravisor;  /* 0 or 1 */
	uint32_t confidential_vmbus;
	uint32_t shared_gpa_bits;
	uint64_t boundary;
	uint64_t bytes;      /* the whole partition (the memfd's size) */
	uint64_t vtl0_base, vtl0_bytes;
	uint64_t vtl2_base, vtl2_bytes;
	uint32_t port_queue_depth;
	uint32_t sint_queue_depth;
};
_Static_assert(sizeof(struct hl_hello) == 96, "hl_hello");
_Static_assert(offsetof(struct hl_hello, boundary) == 40, "hl_hello.boundary");

/* At most this many page numbers per VISIBILITY datagram. */
#define HL_VIS_MAX 480u

struct hl_visibility {
	struct hl_hdr h;
	uint32_t visible; /* 0 or 1 */
	uint32_t count;   /* 1..HL_VIS_MAX */
	uint64_t pfns[HL_VIS_MAX];
};
_Static_assert(offsetof(struct hl_visibility, pfns) == 16, "hl_visibility.pfns");

struct hl_port_message {
	struct hl_hdr h;
	uint32_t connection_id;
	uint32_t message_type;
	uint32_t size; /* <= HV_MESSAGE_PAYLOAD_SIZE */
	uint32_t vp;
	uint32_t from;  /* enum cvmbus_mem_party */
	uint32_t path;  /* enum cvmbus_path */
	uint32_t trusted;
	uint32_t reserved;
	uint8_t payload[HV_MESSAGE_PAYLOAD_SIZE];
};
_Static_assert(offsetof(struct hl_port_message, payload) == 40, "hl_port_message.payload");

struct hl_lost_port {
	struct hl_hdr h;
	uint32_t connection_id;
	uint32_t reserved;
};

struct hl_reply {
	struct hl_hdr h;
	int32_t rc;      /* 0 or a negative errno */
	uint32_t status; /* a hypercall's HV_STATUS_* */
};
_Static_assert(sizeof(struct hl_reply) == 16, "hl_reply");

struct hl_port_add {
	struct hl_hdr h;
	uint32_t connection_id;
	uint32_t kind;        /* enum cvmbus_port_kind */
	uint32_t queue_depth; /* MESSAGE: 0 for the platform's default */
	uint32_t reserved;
};

struct hl_port_remove {
	struct hl_hdr h;
	uint32_t connection_id;
	uint32_t reserved;
};

/* SYNIC_POST (target: the SINT, on the hypervisor's SynIC of vCPU vp) and
 * POST_FROM (target: the connection id of HvPostMessage made by the host):
 * one layout. */
struct hl_post {
	struct hl_hdr h;
	uint32_t vp;
	uint32_t target;
	uint32_t message_type;
	uint32_t size;
	uint8_t payload[HV_MESSAGE_PAYLOAD_SIZE];
};
_Static_assert(offsetof(struct hl_post, payload) == 24, "hl_post.payload");

struct hl_synic_signal {
	struct hl_hdr h;
	uint32_t vp;
	uint32_t sint;
	uint32_t flag;
	uint32_t reserved;
};

/* HvSignalEvent made by the host (the root partition). */
struct hl_signal_from {
	struct hl_hdr h;
	uint32_t vp;
	uint32_t connection_id;
	uint32_t flag_number;
	uint32_t reserved;
};

struct hl_pin {
	struct hl_hdr h;
	uint64_t gpa;
	uint64_t npages;
	int32_t delta; /* +1 pin, -1 unpin */
	uint32_t reserved;
};
_Static_assert(sizeof(struct hl_pin) == 32, "hl_pin");

/* VISIBILITY_DONE: the header alone (h.seq: the VISIBILITY applied). */
struct hl_visibility_done {
	struct hl_hdr h;
};
_Static_assert(sizeof(struct hl_visibility_done) == 8, "hl_visibility_done");

/* Every datagram fits in this. */
#define HL_MAX_DATAGRAM sizeof(struct hl_visibility)

/* Datagram I/O with fds: cvmbus_seqpacket_send/recv (cvmbus/hostlink.h). */

#endif /* CVMBUS_HW_HOSTLINK_PROTO_H */
