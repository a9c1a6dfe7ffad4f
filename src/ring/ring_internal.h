/* SPDX-License-Identifier: MIT */
/*
 * Internal interface between the files of the ring layer (src/ring): ring.c
 * owns the shared-memory mechanics (indices, barriers, copies, signalling),
 * ring_packet.c owns packet framing (building descriptors and type headers,
 * validating and parsing a private copy), ring_map.c owns address-space
 * set-up. Nothing here is used outside src/ring.
 */
#ifndef CVMBUS_RING_INTERNAL_H
#define CVMBUS_RING_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cvmbus/ring.h>

/* Branch hints for the hot paths: every error and every rare case (a
 * wrap without a double mapping, a test hook, a waiting writer) is marked
 * unlikely so the compiler lays out the common path straight. They change
 * only code layout, never what is checked. */
#define RING_LIKELY(x)   __builtin_expect(!!(x), 1)
#define RING_UNLIKELY(x) __builtin_expect(!!(x), 0)
/* The per-packet helpers are small and called from one or two places; if
 * the compiler left them out of line, each packet would pay a call per
 * copy (that was about a third of the instructions per 64-byte packet). */
#define RING_INLINE static inline __attribute__((always_inline))

/* Round up to the 8-byte unit every ring offset and length is made of. */
static inline uint64_t ring_round8(uint64_t n)
{
	return (n + 7u) & ~(uint64_t)7u;
}

/* One packet being written: begin reserves space for body_len bytes
 * (descriptor + headers + payload, unpadded) and checks that the ring has
 * more than body + padding + trailer free; put appends caller bytes in
 * order; commit pads, appends the trailer, publishes write_index and makes
 * the signalling decision. Nothing is visible to the reader before commit.
 * This is the general path (GPA direct, transfer pages, caller-framed
 * packets); packets without a type header take ring_tx_gather(). */
struct ring_tx {
	struct cvmbus_ring *r;
	uint32_t start;   /* offset of the descriptor: the trailer records it */
	uint32_t pos;     /* next byte to write */
	uint32_t padded;  /* body rounded up to 8 */
	uint32_t written; /* body bytes put so far */
};

/* Returns 0, -EINVAL (not a ready writer), -EPROTO, -EMSGSIZE, -EAGAIN;
 * *needed (if not NULL) gets the ring space the packet takes. */
int ring_tx_begin(struct cvmbus_ring *r, uint64_t body_len, struct ring_tx *tx,
		  uint32_t *needed);
void ring_tx_put(struct ring_tx *tx, const void *src, size_t len);
int ring_tx_commit(struct ring_tx *tx, bool *signal);

/* A whole packet without a type header (in-band, completion) in one call:
 * the descriptor d, then the payload pieces iov[0..n) whose lengths add up
 * to payload_len, zero padding, the trailer; publish and decide as
 * ring_tx_commit() does. The caller has checked that r is a READY writer
 * (ring_usable()), that the pieces are valid and sum to payload_len, and
 * that d->len8 * 8 is 16 + payload_len rounded up to 8 (at most
 * CVMBUS_RING_MAX_PACKET_LEN). Returns as ring_tx_begin() + commit, and
 * sets *needed (if not NULL) as ring_tx_begin() does. */
int ring_tx_gather(struct cvmbus_ring *r, const struct cvmbus_ring_desc *d,
		   const struct cvmbus_ring_iov *iov, size_t n, uint32_t payload_len,
		   bool *signal, uint32_t *needed);

/* The slow half of ring_usable(): why r is not usable (-EINVAL, or
 * -EPROTO when CORRUPT). */
int ring_unusable(const struct cvmbus_ring *r);

/* 0 if the endpoint is READY in one of the two roles given (pass the same
 * role twice for one), -EPROTO if CORRUPT, -EINVAL otherwise. Called first
 * by every operation so a CORRUPT ring answers -EPROTO to everything.
 * Inline because every packet passes through it at least twice. */
RING_INLINE int ring_usable(const struct cvmbus_ring *r, enum cvmbus_ring_role a,
			    enum cvmbus_ring_role b)
{
	if (RING_LIKELY(r && r->local.state == CVMBUS_RING_STATE_READY &&
			(r->view.role == a || r->view.role == b)))
		return 0;
	return ring_unusable(r);
}

static inline bool ring_bad(struct cvmbus_ring_fault_info *f, enum cvmbus_ring_fault fault,
			    uint32_t value)
{
	f->fault = fault;
	f->value = value;
	return false;
}

/* The packet types we write and accept. */
static inline bool ring_type_known(uint16_t type)
{
	return type == CVMBUS_RING_PKT_INBAND || type == CVMBUS_RING_PKT_XFER_PAGES ||
	       type == CVMBUS_RING_PKT_GPA_DIRECT || type == CVMBUS_RING_PKT_COMPLETION;
}

/* Descriptor checks that need only the 16 copied bytes, the bytes readable
 * and the ring size: offset8, len8, size, type, flags. On failure fills
 * *f (fault and value) and returns false. Inline: the reader runs it on
 * every packet, and it is a handful of compares on a local copy. */
RING_INLINE bool ring_desc_check(const struct cvmbus_ring_desc *d, uint32_t avail,
				 uint32_t data_size, struct cvmbus_ring_fault_info *f)
{
	uint64_t total = (uint64_t)d->len8 * 8u + CVMBUS_RING_TRAILER_SIZE;

	if (RING_UNLIKELY(d->offset8 < CVMBUS_RING_DESC_SIZE / 8))
		return ring_bad(f, CVMBUS_RING_FAULT_OFFSET8, d->offset8);
	if (RING_UNLIKELY(d->len8 < d->offset8))
		return ring_bad(f, CVMBUS_RING_FAULT_LEN8, d->len8);
	/* A writer needs free > total and free <= size, so nothing above
	 * size - 8 can have been written by a correct peer. */
	if (RING_UNLIKELY(total > (uint64_t)data_size - CVMBUS_RING_TRAILER_SIZE))
		return ring_bad(f, CVMBUS_RING_FAULT_TOO_BIG, (uint32_t)total);
	if (RING_UNLIKELY(total > avail))
		return ring_bad(f, CVMBUS_RING_FAULT_TRUNCATED, (uint32_t)total);
	if (RING_UNLIKELY(!ring_type_known(d->type)))
		return ring_bad(f, CVMBUS_RING_FAULT_TYPE, d->type);
	if (RING_UNLIKELY(d->flags & ~(uint16_t)CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED))
		return ring_bad(f, CVMBUS_RING_FAULT_FLAGS, d->flags);
	return true;
}

/* Type-header parsers of ring_packet.c, on the private copy: fill pkt's
 * range fields or *f. */
bool ring_parse_gpa(const uint8_t *hdr, uint32_t hdr_len, struct cvmbus_ring_packet *pkt,
		    struct cvmbus_ring_fault_info *f);
bool ring_parse_xfer(const uint8_t *hdr, uint32_t hdr_len, struct cvmbus_ring_packet *pkt,
		     struct cvmbus_ring_fault_info *f);

/* Parse a whole packet from the private copy (len = len8 * 8 bytes whose
 * descriptor already passed ring_desc_check()): fills pkt's fields and
 * pointers, validates the GPA-direct / transfer-page headers. On failure
 * fills *f and returns false. Every field of pkt except ring_offset, total
 * and trailer is written (the reader relies on that instead of clearing
 * the whole struct per packet). Inline for in-band and completion packets;
 * the two types with headers call out to their parsers. */
RING_INLINE bool ring_body_parse(const uint8_t *copy, uint32_t len,
				 struct cvmbus_ring_packet *pkt,
				 struct cvmbus_ring_fault_info *f)
{
	struct cvmbus_ring_desc d;
	uint32_t off;

	/* Same bytes ring_desc_check() saw: ring.c put its local descriptor
	 * into the copy rather than copying it from the ring a second time. */
	memcpy(&d, copy, sizeof(d));
	off = (uint32_t)d.offset8 * 8u;
	pkt->type = d.type;
	pkt->flags = d.flags;
	pkt->trans_id = d.trans_id;
	pkt->len = len;
	pkt->bytes = copy;
	pkt->header = copy + CVMBUS_RING_DESC_SIZE;
	pkt->header_len = off - CVMBUS_RING_DESC_SIZE;
	pkt->payload = copy + off;
	pkt->payload_len = len - off;
	pkt->range_count = 0;
	pkt->xfer_set_id = 0;
	pkt->ranges = NULL;
	pkt->ranges_len = 0;

	switch (d.type) {
	case CVMBUS_RING_PKT_GPA_DIRECT:
		return ring_parse_gpa(pkt->header, pkt->header_len, pkt, f);
	case CVMBUS_RING_PKT_XFER_PAGES:
		return ring_parse_xfer(pkt->header, pkt->header_len, pkt, f);
	default:
		/* In-band and completion: any header bytes are the sender's
		 * business; the payload starts at offset8 * 8 regardless. */
		return true;
	}
}

#endif
