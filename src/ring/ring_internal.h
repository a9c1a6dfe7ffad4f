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

#include <cvmbus/ring.h>

/* Round up to the 8-byte unit every ring offset and length is made of. */
static inline uint64_t ring_round8(uint64_t n)
{
	return (n + 7u) & ~(uint64_t)7u;
}

/* One packet being written: begin reserves space for body_len bytes
 * (descriptor + headers + payload, unpadded) and checks that the ring has
 * more than body + padding + trailer free; put appends caller bytes in
 * order; commit pads, appends the trailer, publishes write_index and makes
 * the signalling decision. Nothing is visible to the reader before commit. */
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

/* 0 if the endpoint is READY in one of the two roles given (pass the same
 * role twice for one), -EPROTO if CORRUPT, -EINVAL otherwise. Called first
 * by every operation so a CORRUPT ring answers -EPROTO to everything. */
int ring_usable(const struct cvmbus_ring *r, enum cvmbus_ring_role a,
		enum cvmbus_ring_role b);

/* Descriptor checks that need only the 16 copied bytes, the bytes readable
 * and the ring size: offset8, len8, size, type, flags. On failure fills
 * *f (fault and value) and returns false. */
bool ring_desc_check(const struct cvmbus_ring_desc *d, uint32_t avail, uint32_t data_size,
		     struct cvmbus_ring_fault_info *f);

/* Parse a whole packet from the private copy (len = len8 * 8 bytes whose
 * descriptor already passed ring_desc_check()): fills pkt's fields and
 * pointers, validates the GPA-direct / transfer-page headers. On failure
 * fills *f and returns false. */
bool ring_body_parse(const uint8_t *copy, uint32_t len, struct cvmbus_ring_packet *pkt,
		     struct cvmbus_ring_fault_info *f);

/* The same descriptor rules for packets we write (raw writes). */
bool ring_type_known(uint16_t type);

#endif
