/* SPDX-License-Identifier: MIT */
/*
 * The channel-message decoder of the wire layer: copy the bytes a peer sent
 * into a message the caller owns, then validate that copy against the
 * protocol table (protocol_table.c) — type, direction, version and feature
 * gates, size or size variant, and the table's consistency rules. Also the
 * error vocabulary every wire function reports through (strerror, errno,
 * one-line formatting).
 *
 * Threat model: the bytes come from the other party of the connection (the
 * host, for a guest or paravisor client; the guest, for a server) and may be
 * any length and any content, and may change while we read them if they sit
 * in shared memory. They are read exactly once, by the memcpy at the top of
 * cvmbus_wire_decode(); every check after that looks only at the copy.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wire/wire_internal.h"

/* ---- Errors ------------------------------------------------------------- */

static const struct {
	const char *text;
	int err;
} wire_errors[CVMBUS_WIRE_ERROR_COUNT] = {
	[CVMBUS_WIRE_OK] = { "ok", 0 },
	[CVMBUS_WIRE_E_ARGS] = { "invalid arguments", EINVAL },
	[CVMBUS_WIRE_E_TOO_SHORT] = { "message too short", EMSGSIZE },
	[CVMBUS_WIRE_E_TOO_LONG] = { "message too long", EMSGSIZE },
	[CVMBUS_WIRE_E_BAD_SIZE] = { "not a valid message size", EMSGSIZE },
	[CVMBUS_WIRE_E_UNKNOWN_TYPE] = { "unknown message type", ENOMSG },
	[CVMBUS_WIRE_E_NEEDS_VERSION] = { "needs a newer protocol version", EPROTO },
	[CVMBUS_WIRE_E_NEEDS_FEATURE] = { "needs a feature not negotiated", EOPNOTSUPP },
	[CVMBUS_WIRE_E_WRONG_DIRECTION] = { "wrong direction", EPERM },
	[CVMBUS_WIRE_E_INCONSISTENT] = { "inconsistent message", EBADMSG },
	[CVMBUS_WIRE_E_NO_SPACE] = { "buffer too small", ENOBUFS },
	[CVMBUS_WIRE_E_ENVELOPE] = { "bad synic message envelope", EBADMSG },
};

const char *cvmbus_wire_strerror(enum cvmbus_wire_error error)
{
	if ((unsigned)error >= CVMBUS_WIRE_ERROR_COUNT)
		return "unknown error";
	return wire_errors[error].text;
}

int cvmbus_wire_errno(enum cvmbus_wire_error error)
{
	if ((unsigned)error >= CVMBUS_WIRE_ERROR_COUNT)
		return EINVAL;
	return wire_errors[error].err;
}

int wire_fail(struct cvmbus_wire_status *st, enum cvmbus_wire_error error)
{
	if (st)
		st->error = error;
	return -cvmbus_wire_errno(error);
}

int wire_fail_inconsistent(struct cvmbus_wire_status *st, const char *detail)
{
	if (st)
		st->detail = detail;
	return wire_fail(st, CVMBUS_WIRE_E_INCONSISTENT);
}

int wire_fail_version(struct cvmbus_wire_status *st, uint32_t need, uint32_t have)
{
	if (st) {
		st->need_version = need;
		st->have_version = have;
	}
	return wire_fail(st, CVMBUS_WIRE_E_NEEDS_VERSION);
}

int wire_fail_feature(struct cvmbus_wire_status *st, uint32_t need, uint32_t have)
{
	if (st) {
		st->need_features = need;
		st->have_features = have;
	}
	return wire_fail(st, CVMBUS_WIRE_E_NEEDS_FEATURE);
}

/* Appends at offset at with snprintf semantics: returns the new length it
 * wanted, so callers can chain and still report the full size. */
__attribute__((format(printf, 4, 5)))
static size_t wire_append(char *buf, size_t cap, size_t at, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(at < cap ? buf + at : NULL, at < cap ? cap - at : 0, fmt, ap);
	va_end(ap);
	return at + (n > 0 ? (size_t)n : 0);
}

int cvmbus_wire_status_format(const struct cvmbus_wire_status *st, char *buf, size_t cap)
{
	char a[24], b[24], fa[160], fb[160];
	size_t at = 0;

	if (cap > 0)
		buf[0] = '\0';
	if (!st)
		return 0;
	if (st->type != 0)
		at = wire_append(buf, cap, at, "%s: ", cvmbus_wire_type_name(st->type));
	at = wire_append(buf, cap, at, "%s", cvmbus_wire_strerror(st->error));
	switch (st->error) {
	case CVMBUS_WIRE_E_TOO_SHORT:
	case CVMBUS_WIRE_E_TOO_LONG:
		at = wire_append(buf, cap, at, " (%u bytes, limit %u)", st->len, st->need_len);
		break;
	case CVMBUS_WIRE_E_BAD_SIZE:
		at = wire_append(buf, cap, at, " (%u bytes)", st->len);
		break;
	case CVMBUS_WIRE_E_NO_SPACE:
		at = wire_append(buf, cap, at, " (need %u bytes)", st->need_len);
		break;
	case CVMBUS_WIRE_E_UNKNOWN_TYPE:
		at = wire_append(buf, cap, at, " (%u)", st->type);
		break;
	case CVMBUS_WIRE_E_NEEDS_VERSION:
		cvmbus_wire_version_format(st->need_version, a, sizeof(a));
		cvmbus_wire_version_format(st->have_version, b, sizeof(b));
		at = wire_append(buf, cap, at, " (%s, have %s)", a,
				 st->have_version ? b : "none");
		break;
	case CVMBUS_WIRE_E_NEEDS_FEATURE:
		cvmbus_wire_features_format(st->need_features, fa, sizeof(fa));
		cvmbus_wire_features_format(st->have_features, fb, sizeof(fb));
		at = wire_append(buf, cap, at, " (any of %s, have %s)", fa, fb);
		break;
	default:
		break;
	}
	if (st->detail)
		at = wire_append(buf, cap, at, ": %s", st->detail);
	return at > (size_t)0x7FFFFFFF ? 0x7FFFFFFF : (int)at;
}

/* ---- Decode ------------------------------------------------------------- */

/* Which layout of row has exactly len bytes; -1 if none. */
static int wire_match_size(const struct cvmbus_wire_type_info *info, size_t len)
{
	for (unsigned i = 0; i < info->nvariants; i++) {
		const struct cvmbus_wire_variant_info *v = &info->variants[i];

		if (len < v->min_size || len > v->max_size)
			continue;
		/* An array of 8-byte values: only whole values count. */
		if ((len - v->fixed_size) % 8u != 0)
			continue;
		return (int)i;
	}
	return -1;
}

static int wire_fail_gate(const struct cvmbus_wire_variant_info *v, uint32_t version,
			  uint32_t features, struct cvmbus_wire_status *st)
{
	if (version < v->min_version)
		return wire_fail_version(st, v->min_version, version);
	return wire_fail_feature(st, v->features_any, features);
}

static int wire_validate(const struct cvmbus_wire_msg *copy, size_t len, uint32_t version,
			 uint32_t features, enum cvmbus_wire_dir dir,
			 struct cvmbus_wire_status *st, int *matched)
{
	const struct wire_type_row *row;
	const struct cvmbus_wire_type_info *info;
	const struct cvmbus_wire_variant_info *v;
	unsigned last;
	bool any_gate = false;
	int m;

	if (len > CVMBUS_WIRE_MAX_SIZE) {
		if (st)
			st->need_len = CVMBUS_WIRE_MAX_SIZE;
		return wire_fail(st, CVMBUS_WIRE_E_TOO_LONG);
	}
	if (len < CVMBUS_WIRE_HEADER_SIZE) {
		if (st)
			st->need_len = CVMBUS_WIRE_HEADER_SIZE;
		return wire_fail(st, CVMBUS_WIRE_E_TOO_SHORT);
	}
	if (st)
		st->type = copy->u.hdr.msgtype;
	row = wire_row(copy->u.hdr.msgtype);
	if (!row)
		return wire_fail(st, CVMBUS_WIRE_E_UNKNOWN_TYPE);
	info = &row->info;
	last = info->nvariants - 1;

	if (dir != CVMBUS_WIRE_DIR_ANY && info->dir != dir)
		return wire_fail(st, CVMBUS_WIRE_E_WRONG_DIRECTION);

	/* Is the message type allowed at all on this connection? A type none of
	 * whose layouts passes is refused before its size is looked at, with the
	 * requirement of its oldest (last) layout. */
	for (unsigned i = 0; i < info->nvariants; i++)
		any_gate |= wire_gate_passes(&info->variants[i], version, features) != 0;
	if (!any_gate)
		return wire_fail_gate(&info->variants[last], version, features, st);

	m = wire_match_size(info, len);
	if (m < 0) {
		if (len < info->variants[last].min_size) {
			if (st)
				st->need_len = info->variants[last].min_size;
			return wire_fail(st, CVMBUS_WIRE_E_TOO_SHORT);
		}
		if (len > info->variants[0].max_size) {
			if (st)
				st->need_len = info->variants[0].max_size;
			return wire_fail(st, CVMBUS_WIRE_E_TOO_LONG);
		}
		return wire_fail(st, CVMBUS_WIRE_E_BAD_SIZE);
	}
	v = &info->variants[m];
	if (!wire_gate_passes(v, version, features))
		return wire_fail_gate(v, version, features, st);

	/* A larger layout that is allowed here and supersedes the smaller ones
	 * makes this (smaller) one a truncated message. */
	for (int i = 0; i < m; i++) {
		const struct cvmbus_wire_variant_info *u = &info->variants[i];

		if (u->supersedes_smaller && wire_gate_passes(u, version, features)) {
			if (st) {
				st->need_len = u->min_size;
				st->detail = "negotiated features require the larger layout";
			}
			return wire_fail(st, CVMBUS_WIRE_E_TOO_SHORT);
		}
	}
	*matched = m;
	return 0;
}

int cvmbus_wire_decode(const void *bytes, size_t len, uint32_t version, uint32_t features,
		       enum cvmbus_wire_dir dir, struct cvmbus_wire_msg *out,
		       struct cvmbus_wire_status *st)
{
	const struct wire_type_row *row;
	const struct cvmbus_wire_variant_info *v;
	size_t take = len < CVMBUS_WIRE_MAX_SIZE ? len : CVMBUS_WIRE_MAX_SIZE;
	int matched = -1;
	int rc;

	if (st) {
		memset(st, 0, sizeof(*st));
		st->len = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
	}
	if (!out || (!bytes && len != 0))
		return wire_fail(st, CVMBUS_WIRE_E_ARGS);

	/* The only read of the peer's bytes. Zeroing first means the fields of
	 * a shorter layout's larger siblings read as 0, never as stale data. */
	memset(out, 0, sizeof(*out));
	if (take)
		memcpy(out->u.bytes, bytes, take);
	out->len = (uint16_t)take;
	out->variant = CVMBUS_WIRE_NONE;

	rc = wire_validate(out, len, version, features, dir, st, &matched);
	if (rc < 0)
		return rc;

	row = wire_row(out->u.hdr.msgtype);
	v = &row->info.variants[matched];
	out->variant = v->variant;
	out->data_count = (uint16_t)((len - v->fixed_size) / 8u);

	if (row->check && (rc = row->check(out, st)) < 0)
		goto fail;
	if (row->gate && (rc = row->gate(out, version, features, st)) < 0)
		goto fail;
	return 0;
fail:
	out->variant = CVMBUS_WIRE_NONE;
	out->data_count = 0;
	return rc;
}

uint32_t cvmbus_wire_msg_type(const struct cvmbus_wire_msg *msg)
{
	const struct wire_type_row *row;

	if (!msg)
		return 0;
	row = wire_row_of_variant(msg->variant, NULL);
	return row ? row->info.type : 0;
}
