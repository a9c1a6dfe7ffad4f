/* SPDX-License-Identifier: MIT */
/*
 * Shared by every libFuzzer target in fuzz/ and by the replay driver that
 * runs the same targets over saved inputs in a normal build
 * (tests/fuzz_replay). It holds the libFuzzer entry point's prototype, a
 * cursor that hands out the input's bytes (zeros once it runs dry, so a
 * target never has to reject a short input), and FZ_CHECK, the invariant
 * check that aborts: libFuzzer and the replay test both treat an abort as a
 * crash, which is the point, since a failed invariant is a bug in the layer
 * under test. Header-only and static inline so that a target stays one file.
 * Nothing in the fuzz harnesses is part of libcvmbus.
 */
#ifndef CVMBUS_FUZZ_UTIL_H
#define CVMBUS_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defined by each target; called by libFuzzer or by tests/fuzz_replay. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional: a target that needs read-only set-up built once (a key, a
 * table) defines this; libFuzzer and the replay driver call it before the
 * first input. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The not-yet-consumed part of the input. */
struct fz_in {
	const uint8_t *p;
	size_t n;
};

static inline struct fz_in fz_in_make(const uint8_t *data, size_t size)
{
	struct fz_in in = { .p = data, .n = size };

	return in;
}

/* Copies up to want bytes to dst and zero-fills the rest, so that every
 * input maps to some test case; returns how many came from the input. */
static inline size_t fz_take(struct fz_in *in, void *dst, size_t want)
{
	size_t got = in->n < want ? in->n : want;

	if (got)
		memcpy(dst, in->p, got);
	if (got < want)
		memset((uint8_t *)dst + got, 0, want - got);
	in->p += got;
	in->n -= got;
	return got;
}

static inline uint8_t fz_u8(struct fz_in *in)
{
	uint8_t v;

	fz_take(in, &v, 1);
	return v;
}

/* Multi-byte values are little-endian, like everything on the VMBus wire,
 * so a seed file reads the same as the structures it contains. */
static inline uint16_t fz_u16(struct fz_in *in)
{
	uint8_t b[2];

	fz_take(in, b, 2);
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t fz_u32(struct fz_in *in)
{
	uint8_t b[4];

	fz_take(in, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Takes n bytes as a sub-input (fewer if the input is shorter). */
static inline struct fz_in fz_split(struct fz_in *in, size_t n)
{
	struct fz_in sub = { .p = in->p, .n = in->n < n ? in->n : n };

	in->p += sub.n;
	in->n -= sub.n;
	return sub;
}

static inline _Noreturn void fz_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", what, file, line);
	abort();
}

/* Not assert(): it must stay on in release builds and under NDEBUG. */
#define FZ_CHECK(cond)                                        \
	do {                                                  \
		if (!(cond))                                  \
			fz_fail(#cond, __FILE__, __LINE__);   \
	} while (0)

#endif
