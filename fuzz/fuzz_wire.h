/* SPDX-License-Identifier: MIT */
/*
 * The connection context of the wire-layer fuzz targets (fuzz/): which
 * negotiated version and feature set a message is decoded under, taken from
 * the first bytes of the input so that the fuzzer explores every gate of the
 * protocol table together with the message bytes. Shared by
 * fuzz_wire_decode.c and fuzz_wire_envelope.c (and any later target that
 * decodes channel messages), so their seed files share one prefix format:
 *
 *   byte 0, bits 0-4: version choice: 0..N-1 the N known versions oldest
 *                     first (cvmbus_wire_known_versions), N "not connected"
 *                     (version 0), above N a raw u32 version follows;
 *   byte 0, bit 5:    a raw u32 feature set follows (after the raw version,
 *                     if any) instead of byte 1, for unknown feature bits;
 *   byte 1:           the feature flags (CVMBUS_FEATURE_*), when bit 5 is 0.
 *
 * With 11 known versions today, byte 0 = 10 is 6.0 and 11 is version 0.
 */
#ifndef CVMBUS_FUZZ_WIRE_H
#define CVMBUS_FUZZ_WIRE_H

#include <cvmbus/wire.h>

#include "fuzz_util.h"

#define FZ_WIRE_RAW_FEATURES 0x20u

struct fz_wire_ctx {
	uint32_t version;
	uint32_t features;
};

static inline struct fz_wire_ctx fz_wire_ctx_take(struct fz_in *in)
{
	const uint32_t *known;
	size_t nknown = cvmbus_wire_known_versions(&known);
	uint8_t sel = fz_u8(in);
	uint8_t feat = fz_u8(in);
	uint32_t choice = sel & 0x1fu;
	struct fz_wire_ctx ctx;

	if (choice < nknown)
		ctx.version = known[choice];
	else if (choice == nknown)
		ctx.version = 0;
	else
		ctx.version = fz_u32(in);
	ctx.features = (sel & FZ_WIRE_RAW_FEATURES) ? fz_u32(in) : feat;
	return ctx;
}

#endif
