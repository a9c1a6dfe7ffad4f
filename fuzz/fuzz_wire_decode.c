/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the wire layer's decoder and encoder (src/wire):
 * any bytes a peer can put in a SynIC message payload, decoded under a
 * negotiated version and feature set chosen by the input's first bytes
 * (fuzz_wire.h), in all three receive directions. Besides "never crash, no
 * sanitizer report" it checks what the header (include/cvmbus/wire.h)
 * promises, each of which is a bug when it fails:
 *  - the return value, the status and out->variant agree;
 *  - the directed decodes agree with the undirected one: a message decodes
 *    in exactly its type's direction, to the same result, and is refused
 *    with -EPERM in the other;
 *  - a decoded message is exactly as long as the input, and its bytes past
 *    that length are zero;
 *  - round trip: encoding a decoded message succeeds with the same length,
 *    only clears bits of the input (reserved and padding fields), never
 *    sets any, and decoding the encoding under the same context gives the
 *    same layout, whose encoding is again the same bytes (encode is
 *    canonical and idempotent).
 * It also formats every status, name and flag set it meets, so the text
 * helpers run on hostile values too.
 */
#include <errno.h>

#include "fuzz_wire.h"

/* Exercises the formatting helpers on whatever the decode produced, into a
 * buffer that is sometimes too small, as a logger's may be. */
static void fz_format(const struct cvmbus_wire_status *st, const struct cvmbus_wire_msg *m,
		      size_t cap)
{
	char buf[512];
	int n;

	FZ_CHECK(cap <= sizeof(buf));
	n = cvmbus_wire_status_format(st, buf, cap);
	FZ_CHECK(n >= 0);
	if (cap > 0)
		FZ_CHECK(strlen(buf) < cap);
	FZ_CHECK(cvmbus_wire_strerror(st->error) != NULL);
	FZ_CHECK(cvmbus_wire_type_name(st->type) != NULL);
	FZ_CHECK(cvmbus_wire_variant_name(m->variant) != NULL);
	n = cvmbus_wire_features_format(st->need_features | st->have_features, buf, cap);
	FZ_CHECK(n >= 0);
	n = cvmbus_wire_version_format(st->need_version, buf, cap);
	FZ_CHECK(n >= 0);
	if (m->variant == CVMBUS_WIRE_OFFER_CHANNEL) {
		char guid[CVMBUS_GUID_STRLEN];
		struct cvmbus_guid back;

		n = cvmbus_wire_offer_flags_format(m->u.offer_channel.flags, buf, cap);
		FZ_CHECK(n >= 0);
		/* GUID text must parse back to the same GUID. */
		cvmbus_guid_format(&m->u.offer_channel.if_instance, guid);
		FZ_CHECK(cvmbus_guid_parse(guid, &back) == 0);
		FZ_CHECK(memcmp(&back, &m->u.offer_channel.if_instance, sizeof(back)) == 0);
	}
}

static void fz_check_result(int rc, const struct cvmbus_wire_msg *m,
			    const struct cvmbus_wire_status *st)
{
	if (rc == 0) {
		FZ_CHECK(st->error == CVMBUS_WIRE_OK);
		FZ_CHECK(m->variant > CVMBUS_WIRE_NONE && m->variant < CVMBUS_WIRE_VARIANT_COUNT);
	} else {
		FZ_CHECK(rc < 0);
		FZ_CHECK(st->error > CVMBUS_WIRE_OK && st->error < CVMBUS_WIRE_ERROR_COUNT);
		FZ_CHECK(rc == -cvmbus_wire_errno(st->error));
		FZ_CHECK(m->variant == CVMBUS_WIRE_NONE);
		FZ_CHECK(m->data_count == 0);
	}
}

/* A GPADL message that Linux's one-range packing could have produced must
 * come out of the builders (cvmbus_wire_gpadl_header_init/_body_init) as
 * the same bytes the encoder gave: the builders and the decoder agree on
 * the layout. */
static void fz_gpadl_rebuild(const struct cvmbus_wire_msg *m, const uint8_t *enc, size_t len)
{
	uint64_t pfns[CVMBUS_GPADL_BODY_MAX_PFNS];
	uint8_t out[CVMBUS_WIRE_MAX_SIZE];
	struct cvmbus_wire_status st;
	struct cvmbus_wire_msg b;
	uint64_t range, npfn;
	uint32_t byte_count, byte_offset;
	size_t i, have;
	uint64_t *all;
	int rc, n;

	if (m->variant == CVMBUS_WIRE_GPADL_BODY) {
		for (i = 0; i < m->data_count; i++)
			pfns[i] = cvmbus_wire_gpadl_value(m, i);
		FZ_CHECK(cvmbus_wire_gpadl_value(m, CVMBUS_GPADL_BODY_MAX_PFNS) == 0);
		rc = cvmbus_wire_gpadl_body_init(&b, m->u.gpadl_body.msgnumber, m->u.gpadl_body.gpadl,
						 pfns, m->data_count);
		FZ_CHECK(rc == m->data_count);
		n = cvmbus_wire_encode(&b, out, sizeof(out), &st);
		FZ_CHECK(n == (int)len && memcmp(out, enc, len) == 0);
		return;
	}
	FZ_CHECK(cvmbus_wire_gpadl_value(m, CVMBUS_GPADL_HEADER_MAX_VALUES) == 0);
	if (m->u.gpadl_header.rangecount != 1)
		return;
	range = cvmbus_wire_gpadl_value(m, 0);
	byte_count = (uint32_t)range;
	byte_offset = (uint32_t)(range >> 32);
	npfn = cvmbus_gpa_range_pages(byte_count, byte_offset);
	have = m->data_count - 1u;
	/* Linux's packing: the range header, then as many PFNs as fit. */
	if (m->u.gpadl_header.range_buflen != 8u + 8u * npfn ||
	    have != (npfn < CVMBUS_GPADL_HEADER_MAX_PFNS_ONE_RANGE
			     ? npfn : CVMBUS_GPADL_HEADER_MAX_PFNS_ONE_RANGE))
		return;
	/* The PFNs past this message would travel in bodies: any value. */
	all = calloc((size_t)npfn, sizeof(*all));
	FZ_CHECK(all != NULL);
	for (i = 0; i < have; i++)
		all[i] = cvmbus_wire_gpadl_value(m, 1 + i);
	rc = cvmbus_wire_gpadl_header_init(&b, m->u.gpadl_header.child_relid,
					   m->u.gpadl_header.gpadl, byte_count, byte_offset, all,
					   (size_t)npfn);
	free(all);
	FZ_CHECK(rc == (int)have);
	n = cvmbus_wire_encode(&b, out, sizeof(out), &st);
	FZ_CHECK(n == (int)len && memcmp(out, enc, len) == 0);
}

/* The round trip of a message that decoded under (version, features, dir). */
static void fz_round_trip(const uint8_t *in, size_t len, const struct cvmbus_wire_msg *m,
			  uint32_t version, uint32_t features, enum cvmbus_wire_dir dir)
{
	uint8_t enc[CVMBUS_WIRE_MAX_SIZE], enc2[CVMBUS_WIRE_MAX_SIZE];
	struct cvmbus_wire_status st;
	struct cvmbus_wire_msg m2;
	int n, n2, rc;
	size_t i;

	FZ_CHECK(m->len == len);
	FZ_CHECK(cvmbus_wire_msg_type(m) == m->u.hdr.msgtype);
	for (i = len; i < sizeof(m->u.bytes); i++)
		FZ_CHECK(m->u.bytes[i] == 0);
	FZ_CHECK(cvmbus_wire_encoded_size(m) == len);

	/* A buffer one byte short must be refused with the size it needs. */
	n = cvmbus_wire_encode(m, enc, len - 1, &st);
	FZ_CHECK(n == -ENOBUFS && st.error == CVMBUS_WIRE_E_NO_SPACE && st.need_len == len);

	n = cvmbus_wire_encode(m, enc, sizeof(enc), &st);
	FZ_CHECK(n >= 0);
	FZ_CHECK((size_t)n == len);
	/* Encoding clears reserved bits; it must never invent one. */
	for (i = 0; i < len; i++)
		FZ_CHECK((enc[i] & (uint8_t)~in[i]) == 0);

	rc = cvmbus_wire_decode(enc, (size_t)n, version, features, dir, &m2, &st);
	FZ_CHECK(rc == 0);
	FZ_CHECK(m2.variant == m->variant);
	FZ_CHECK(m2.data_count == m->data_count);
	FZ_CHECK(m2.len == m->len);
	FZ_CHECK(memcmp(m2.u.bytes, enc, (size_t)n) == 0);

	n2 = cvmbus_wire_encode(&m2, enc2, sizeof(enc2), &st);
	FZ_CHECK(n2 == n);
	FZ_CHECK(memcmp(enc, enc2, (size_t)n) == 0);

	if (m->variant == CVMBUS_WIRE_GPADL_HEADER || m->variant == CVMBUS_WIRE_GPADL_BODY)
		fz_gpadl_rebuild(m, enc, (size_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum cvmbus_wire_dir dirs[2] = { CVMBUS_WIRE_TO_SERVER,
						      CVMBUS_WIRE_TO_CLIENT };
	struct fz_in in = fz_in_make(data, size);
	struct fz_wire_ctx ctx = fz_wire_ctx_take(&in);
	struct cvmbus_wire_status st_any, st_dir;
	struct cvmbus_wire_msg m_any, m_dir;
	const struct cvmbus_wire_type_info *info;
	int rc_any, rc_dir, ok_dirs = 0;
	unsigned d;

	rc_any = cvmbus_wire_decode(in.p, in.n, ctx.version, ctx.features, CVMBUS_WIRE_DIR_ANY,
				    &m_any, &st_any);
	fz_check_result(rc_any, &m_any, &st_any);
	fz_format(&st_any, &m_any, in.n % 97u); /* a varying, often short buffer */
	fz_format(&st_any, &m_any, 512);
	/* Whatever the outcome, the copy of the first 240 bytes is kept. */
	FZ_CHECK(memcmp(m_any.u.bytes, in.p, in.n < 240 ? in.n : 240) == 0);

	info = in.n >= CVMBUS_WIRE_HEADER_SIZE ? cvmbus_wire_type_info(m_any.u.hdr.msgtype) : NULL;
	for (d = 0; d < 2; d++) {
		rc_dir = cvmbus_wire_decode(in.p, in.n, ctx.version, ctx.features, dirs[d], &m_dir,
					    &st_dir);
		fz_check_result(rc_dir, &m_dir, &st_dir);
		if (info && in.n <= CVMBUS_WIRE_MAX_SIZE && info->dir != dirs[d]) {
			/* The direction is checked before the gates and sizes. */
			FZ_CHECK(rc_dir == -EPERM && st_dir.error == CVMBUS_WIRE_E_WRONG_DIRECTION);
			continue;
		}
		/* The type's own direction (or no type at all): same outcome. */
		FZ_CHECK(rc_dir == rc_any);
		FZ_CHECK(st_dir.error == st_any.error);
		FZ_CHECK(memcmp(&m_dir, &m_any, sizeof(m_dir)) == 0);
		if (rc_dir == 0) {
			ok_dirs++;
			fz_round_trip(in.p, in.n, &m_dir, ctx.version, ctx.features, dirs[d]);
		}
	}
	FZ_CHECK(ok_dirs == (rc_any == 0 ? 1 : 0));
	if (rc_any == 0)
		fz_round_trip(in.p, in.n, &m_any, ctx.version, ctx.features, CVMBUS_WIRE_DIR_ANY);
	return 0;
}
