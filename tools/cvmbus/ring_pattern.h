/* SPDX-License-Identifier: MIT */
/*
 * The fixed payload pattern of `cvmbus ring write/read` and `cvmbus demo`
 * (tools/cvmbus), shared with the CLI tests, the DPDK interop test and the
 * ring benchmark so that every producer and checker agrees byte for byte.
 * Packet i (counting from 0) carries i as a little-endian u64 in its first
 * 8 bytes; every later byte j (counted from the payload start, j >= 8) is
 * (i + j) mod 251. 251 is prime and not a power of two, so a payload that
 * was shifted, truncated, reordered or taken from the wrong packet never
 * matches by accident on a ring whose sizes are powers of two. The format is
 * documented in docs/RING_IMAGE.md. Header-only (static inline) so that
 * tests and benchmarks need not link the tool.
 */
#ifndef CVMBUS_TOOL_RING_PATTERN_H
#define CVMBUS_TOOL_RING_PATTERN_H

#include <stddef.h>
#include <stdint.h>

#define RING_PATTERN_MOD    251u
#define RING_PATTERN_MIN_SIZE 8u /* the u64 packet number */

/* Fill len bytes (len >= 8) with packet i's pattern. */
static inline void ring_pattern_fill(uint8_t *buf, size_t len, uint64_t i)
{
	uint32_t v;

	for (unsigned k = 0; k < 8 && k < len; k++)
		buf[k] = (uint8_t)(i >> (8 * k));
	/* (i + j) mod 251 for j = 8, 9, ...: start once, then step, so the
	 * fill costs one compare per byte rather than one division. */
	v = (uint32_t)((i % RING_PATTERN_MOD + 8u) % RING_PATTERN_MOD);
	for (size_t j = 8; j < len; j++) {
		buf[j] = (uint8_t)v;
		if (++v == RING_PATTERN_MOD)
			v = 0;
	}
}

/* Check len bytes against packet i's pattern. Returns len if all match,
 * else the offset of the first byte that differs. */
static inline size_t ring_pattern_check(const uint8_t *buf, size_t len, uint64_t i)
{
	uint32_t v;

	for (unsigned k = 0; k < 8 && k < len; k++)
		if (buf[k] != (uint8_t)(i >> (8 * k)))
			return k;
	v = (uint32_t)((i % RING_PATTERN_MOD + 8u) % RING_PATTERN_MOD);
	for (size_t j = 8; j < len; j++) {
		if (buf[j] != (uint8_t)v)
			return j;
		if (++v == RING_PATTERN_MOD)
			v = 0;
	}
	return len;
}

/* The expected value of byte j of packet i (for error messages). */
static inline uint8_t ring_pattern_byte(uint64_t i, size_t j)
{
	if (j < 8)
		return (uint8_t)(i >> (8 * j));
	return (uint8_t)((i % RING_PATTERN_MOD + j % RING_PATTERN_MOD) % RING_PATTERN_MOD);
}

#endif
