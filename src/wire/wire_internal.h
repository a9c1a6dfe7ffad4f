/* SPDX-License-Identifier: MIT */
/*
 * Internal to src/wire: the shape of the protocol table (one row per message
 * type, one entry per wire layout) and the helpers the decoder, encoder and
 * name functions share. The table itself lives in protocol_table.c; nothing
 * outside src/wire includes this file.
 */
#ifndef CVMBUS_WIRE_INTERNAL_H
#define CVMBUS_WIRE_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "cvmbus/wire.h"

/* A reserved byte range of a layout: bytes [off, off + len) are and-ed with
 * keep on encode (0 clears them; 0x01 keeps bit 0 of a one-bit field). */
struct wire_reserved {
	uint8_t off;
	uint8_t len;
	uint8_t keep;
};

#define WIRE_MAX_RESERVED 4

/* Encoder-side facts about one layout, parallel to the public variant row. */
struct wire_layout {
	uint8_t nreserved;
	struct wire_reserved reserved[WIRE_MAX_RESERVED];
};

/* Context-free consistency check: fields of one message that contradict
 * each other. Used by both the decoder and the encoder. Returns 0 or fills
 * st and returns the negative errno. */
typedef int (*wire_check_fn)(const struct cvmbus_wire_msg *msg, struct cvmbus_wire_status *st);
/* Checks that depend on the negotiated version and features beyond the
 * per-layout gates (e.g. an offer flag that needs a feature). Decoder only. */
typedef int (*wire_gate_fn)(const struct cvmbus_wire_msg *msg, uint32_t version,
			    uint32_t features, struct cvmbus_wire_status *st);
/* Clears reserved fields whose position depends on the content (the
 * InitiateContact union). Encoder only, after the table's reserved ranges. */
typedef void (*wire_scrub_fn)(struct cvmbus_wire_msg *msg);

struct wire_type_row {
	struct cvmbus_wire_type_info info;
	struct wire_layout layouts[CVMBUS_WIRE_MAX_VARIANTS];
	wire_check_fn check;
	wire_gate_fn gate;
	wire_scrub_fn scrub;
};

/* The row of a type, NULL if unknown. */
const struct wire_type_row *wire_row(uint32_t type);
/* The row and index of a variant within it; NULL if the variant is unknown. */
const struct wire_type_row *wire_row_of_variant(enum cvmbus_wire_variant variant,
						unsigned *index);

/* Fills st (if not NULL) with an error and returns its negative errno. */
int wire_fail(struct cvmbus_wire_status *st, enum cvmbus_wire_error error);
int wire_fail_inconsistent(struct cvmbus_wire_status *st, const char *detail);
int wire_fail_version(struct cvmbus_wire_status *st, uint32_t need, uint32_t have);
int wire_fail_feature(struct cvmbus_wire_status *st, uint32_t need, uint32_t have);

/* Little-endian loads and stores at any alignment. */
static inline uint64_t wire_load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void wire_store64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* Does a layout's gate pass under (version, features)? */
static inline int wire_gate_passes(const struct cvmbus_wire_variant_info *v, uint32_t version,
				   uint32_t features)
{
	if (version < v->min_version)
		return 0;
	return v->features_any == 0 || (features & v->features_any) != 0;
}

#endif /* CVMBUS_WIRE_INTERNAL_H */
