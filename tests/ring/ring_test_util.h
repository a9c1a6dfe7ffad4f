/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the ring layer's tests (tests/ring): ring memory in the
 * two shapes the ring supports (one heap block, single-mapped; a memfd
 * mapped with the data pages twice), little-endian byte readers for checking
 * wire bytes by hand, and a small seeded PRNG so every randomised test is
 * reproducible. Header-only, static inline, so each test stays one file.
 */
#ifndef CVMBUS_TESTS_RING_UTIL_H
#define CVMBUS_TESTS_RING_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cvmbus/ring.h>

/* One ring's memory: heap (single-mapped) or memfd (single or double). */
struct tring {
	uint8_t *block; /* heap: control page + data */
	int fd;         /* memfd, -1 for heap */
	struct cvmbus_ring_map map;
	struct cvmbus_ring_mem mem;
};

static inline int tring_heap(struct tring *t, uint32_t data_size)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->block = aligned_alloc(CVMBUS_RING_PAGE_SIZE, CVMBUS_RING_CONTROL_SIZE + data_size);
	if (!t->block)
		return -1;
	/* Not zero: FORMAT must clear the control page itself. */
	memset(t->block, 0xa5, CVMBUS_RING_CONTROL_SIZE + data_size);
	t->mem.control = t->block;
	t->mem.data = t->block + CVMBUS_RING_CONTROL_SIZE;
	t->mem.data_size = data_size;
	t->mem.double_mapped = false;
	return 0;
}

static inline int tring_memfd(struct tring *t, uint32_t data_size, unsigned flags)
{
	memset(t, 0, sizeof(*t));
	t->fd = memfd_create("cvmbus-ring-test", MFD_CLOEXEC);
	if (t->fd < 0)
		return -1;
	if (ftruncate(t->fd, (off_t)CVMBUS_RING_CONTROL_SIZE + data_size) < 0)
		return -1;
	if (cvmbus_ring_map_fd(&t->map, t->fd, 0, CVMBUS_RING_CONTROL_SIZE + data_size, flags))
		return -1;
	t->mem = t->map.mem;
	return 0;
}

/* A second, independent mapping of the same memfd (another "process"). */
static inline int tring_remap(struct tring *dst, const struct tring *src, unsigned flags)
{
	memset(dst, 0, sizeof(*dst));
	dst->fd = -1;
	if (cvmbus_ring_map_fd(&dst->map, src->fd, 0,
			       CVMBUS_RING_CONTROL_SIZE + src->mem.data_size, flags))
		return -1;
	dst->mem = dst->map.mem;
	return 0;
}

static inline void tring_free(struct tring *t)
{
	if (t->block)
		free(t->block);
	cvmbus_ring_unmap(&t->map);
	if (t->fd >= 0)
		close(t->fd);
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}

static inline uint8_t *tring_ctl_bytes(const struct tring *t)
{
	return (uint8_t *)t->mem.control;
}

static inline uint8_t *tring_data(const struct tring *t)
{
	return (uint8_t *)t->mem.data;
}

/* Little-endian readers and writers, by hand, independent of the code
 * under test. */
static inline uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64_at(const uint8_t *p)
{
	return (uint64_t)le32_at(p) | (uint64_t)le32_at(p + 4) << 32;
}

static inline void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, (uint16_t)v);
	put_le16(p + 2, (uint16_t)(v >> 16));
}

static inline void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

/* splitmix64: tiny, good enough, and the same on every platform. */
struct tprng {
	uint64_t s;
};

static inline uint64_t tprng_next(struct tprng *g)
{
	uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform-ish in [lo, hi]. */
static inline uint32_t tprng_range(struct tprng *g, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(tprng_next(g) % ((uint64_t)hi - lo + 1));
}

/* The payload byte i of packet seq: a pattern that differs per packet and
 * per position, so a misplaced or stale byte shows. */
static inline uint8_t tpattern(uint64_t seq, uint32_t i)
{
	uint64_t x = seq * 0x100000001b3ull + i * 0x9e3779b1u;

	return (uint8_t)(x ^ (x >> 13) ^ (x >> 29));
}

#endif
