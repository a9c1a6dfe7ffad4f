/* SPDX-License-Identifier: MIT */
/*
 * The channel-message encoder of the wire layer, and the builders for the
 * one message family whose size varies (GPADL header and body). Encoding
 * writes a fresh header, clears every reserved and padding field named in
 * the protocol table (protocol_table.c), and refuses to produce a message
 * the decoder would reject as inconsistent, so what we put on the wire is
 * always canonical: a receiver never sees our stale stack bytes, and a
 * message that reaches the host carries no private data in its padding.
 */
#include <errno.h>
#include <string.h>

#include "wire/wire_internal.h"

void cvmbus_wire_msg_init(struct cvmbus_wire_msg *msg, enum cvmbus_wire_variant variant)
{
	memset(msg, 0, sizeof(*msg));
	msg->variant = variant;
}

/* Size of msg on the wire, 0 if its variant or data_count is not valid. */
static size_t wire_size_of(const struct cvmbus_wire_msg *msg, const struct wire_type_row **rowp,
			   unsigned *indexp)
{
	unsigned i;
	const struct wire_type_row *row = wire_row_of_variant(msg->variant, &i);
	const struct cvmbus_wire_variant_info *v;

	if (!row)
		return 0;
	v = &row->info.variants[i];
	if (rowp)
		*rowp = row;
	if (indexp)
		*indexp = i;
	if (v->max_size == v->fixed_size)
		return v->fixed_size;
	/* An array layout: data_count values after the fixed part. */
	if (v->fixed_size + 8u * (size_t)msg->data_count < v->min_size ||
	    v->fixed_size + 8u * (size_t)msg->data_count > v->max_size)
		return 0;
	return v->fixed_size + 8u * (size_t)msg->data_count;
}

size_t cvmbus_wire_encoded_size(const struct cvmbus_wire_msg *msg)
{
	return msg ? wire_size_of(msg, NULL, NULL) : 0;
}

int cvmbus_wire_encode(const struct cvmbus_wire_msg *msg, void *buf, size_t cap,
		       struct cvmbus_wire_status *st)
{
	const struct wire_type_row *row = NULL;
	const struct wire_layout *layout;
	struct cvmbus_wire_msg tmp;
	unsigned idx = 0;
	size_t size;
	int rc;

	if (st)
		memset(st, 0, sizeof(*st));
	if (!msg || (!buf && cap != 0))
		return wire_fail(st, CVMBUS_WIRE_E_ARGS);
	size = wire_size_of(msg, &row, &idx);
	if (size == 0)
		return wire_fail(st, CVMBUS_WIRE_E_ARGS);
	if (st) {
		st->type = row->info.type;
		st->len = (uint32_t)size;
	}
	if (cap < size) {
		if (st)
			st->need_len = (uint32_t)size;
		return wire_fail(st, CVMBUS_WIRE_E_NO_SPACE);
	}

	/* Work on a copy: the caller's struct is const, and the consistency
	 * check must see exactly the bytes that will go out. */
	tmp = *msg;
	tmp.u.hdr.msgtype = row->info.type;
	tmp.u.hdr.padding = 0;
	layout = &row->layouts[idx];
	for (unsigned r = 0; r < layout->nreserved; r++) {
		const struct wire_reserved *res = &layout->reserved[r];

		for (unsigned b = 0; b < res->len; b++)
			tmp.u.bytes[res->off + b] &= res->keep;
	}
	if (row->scrub)
		row->scrub(&tmp);
	memset(tmp.u.bytes + size, 0, sizeof(tmp.u.bytes) - size);
	tmp.len = (uint16_t)size;
	if (row->info.variants[idx].max_size == row->info.variants[idx].fixed_size)
		tmp.data_count = 0;

	if (row->check && (rc = row->check(&tmp, st)) < 0)
		return rc;
	memcpy(buf, tmp.u.bytes, size);
	return (int)size;
}

/* ---- GPADL -------------------------------------------------------------- */

uint64_t cvmbus_gpa_range_pages(uint32_t byte_count, uint32_t byte_offset)
{
	return ((uint64_t)byte_offset + byte_count + HV_PAGE_SIZE - 1u) / HV_PAGE_SIZE;
}

uint64_t cvmbus_wire_gpadl_value(const struct cvmbus_wire_msg *msg, size_t i)
{
	if (msg->variant == CVMBUS_WIRE_GPADL_HEADER && i < CVMBUS_GPADL_HEADER_MAX_VALUES)
		return wire_load64(msg->u.gpadl_header.range_data + 8u * i);
	if (msg->variant == CVMBUS_WIRE_GPADL_BODY && i < CVMBUS_GPADL_BODY_MAX_PFNS)
		return msg->u.gpadl_body.pfn[i];
	return 0;
}

void cvmbus_wire_gpadl_set_value(struct cvmbus_wire_msg *msg, size_t i, uint64_t value)
{
	if (msg->variant == CVMBUS_WIRE_GPADL_HEADER && i < CVMBUS_GPADL_HEADER_MAX_VALUES)
		wire_store64(msg->u.gpadl_header.range_data + 8u * i, value);
	else if (msg->variant == CVMBUS_WIRE_GPADL_BODY && i < CVMBUS_GPADL_BODY_MAX_PFNS)
		msg->u.gpadl_body.pfn[i] = value;
}

/* range_buflen is a u16 and a multiple of 8. */
#define WIRE_MAX_RANGE_BUFLEN 0xFFF8u

int cvmbus_wire_gpadl_header_init(struct cvmbus_wire_msg *msg, uint32_t child_relid,
				  uint32_t gpadl, uint32_t byte_count, uint32_t byte_offset,
				  const uint64_t *pfns, size_t npfn)
{
	struct cvmbus_msg_gpadl_header *h;
	size_t take;

	if (!msg || (!pfns && npfn != 0))
		return -EINVAL;
	if (byte_count == 0 || byte_offset >= HV_PAGE_SIZE ||
	    cvmbus_gpa_range_pages(byte_count, byte_offset) != npfn)
		return -EINVAL;
	if (npfn > (WIRE_MAX_RANGE_BUFLEN - 8u) / 8u)
		return -E2BIG;

	cvmbus_wire_msg_init(msg, CVMBUS_WIRE_GPADL_HEADER);
	h = &msg->u.gpadl_header;
	h->child_relid = child_relid;
	h->gpadl = gpadl;
	h->range_buflen = (uint16_t)(8u + 8u * npfn);
	h->rangecount = 1;
	take = npfn < CVMBUS_GPADL_HEADER_MAX_PFNS_ONE_RANGE ? npfn
							     : CVMBUS_GPADL_HEADER_MAX_PFNS_ONE_RANGE;
	cvmbus_wire_gpadl_set_value(msg, 0, cvmbus_gpa_range_value(byte_count, byte_offset));
	for (size_t i = 0; i < take; i++)
		cvmbus_wire_gpadl_set_value(msg, 1 + i, pfns[i]);
	msg->data_count = (uint16_t)(1u + take);
	return (int)take;
}

int cvmbus_wire_gpadl_body_init(struct cvmbus_wire_msg *msg, uint32_t msgnumber,
				uint32_t gpadl, const uint64_t *pfns, size_t n)
{
	size_t take;

	if (!msg || !pfns || n == 0)
		return -EINVAL;
	cvmbus_wire_msg_init(msg, CVMBUS_WIRE_GPADL_BODY);
	msg->u.gpadl_body.msgnumber = msgnumber;
	msg->u.gpadl_body.gpadl = gpadl;
	take = n < CVMBUS_GPADL_BODY_MAX_PFNS ? n : CVMBUS_GPADL_BODY_MAX_PFNS;
	for (size_t i = 0; i < take; i++)
		msg->u.gpadl_body.pfn[i] = pfns[i];
	msg->data_count = (uint16_t)take;
	return (int)take;
}
