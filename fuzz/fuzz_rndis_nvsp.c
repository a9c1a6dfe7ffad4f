/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the network device's parsers (layer src/dev, rndis.c
 * and nvsp.c): the two formats a netvsc peer controls byte for byte. The
 * first input byte chooses which.
 *
 * RNDIS (byte 0 even): the rest of the input is one message buffer, on an
 * exact-size heap block, as netvsc/netvsp copy it out of a receive section
 * before parsing. cvmbus_rndis_parse() must accept exactly what an
 * independent model written here from include/cvmbus/net.h accepts (fixed
 * part per type, msg len inside the buffer, every body-relative
 * offset/length pair inside the body and not over the fixed part, PACKET
 * without out-of-band data, with data, with a per-packet-info area whose
 * elements tile it exactly); every pointer it hands out must lie inside the
 * message, which lies inside the input; the fields must be the ones at
 * their documented offsets; the message must parse the same when the
 * buffer ends exactly at msg len, and an accepted message rebuilt with the
 * matching builder must parse back to the same content. An accepted PACKET
 * also goes through the device's offload path as netvsp runs it (its
 * checksum and LSO info read with cvmbus_rndis_ppi_get, then
 * cvmbus_net_offload_from_rndis on a private copy of the frame, with every
 * offload granted and with none): only the documented errors; a frame
 * accepted with offload state must have that state inside the frame (the
 * checksum field, the GSO headers, an MSS that keeps segments inside the
 * MTU), nothing may be accepted with state when nothing was granted, and
 * the state mapped back to RNDIS info by the driver's side must be
 * accepted again to the same state (the fix-ups are idempotent).
 *
 * NVSP (byte 0 odd): byte 1 the version (0..4 the supported ones newest
 * first, 5 "before INIT" (0), else a raw u32), byte 2 bit 0 the direction
 * received (host-to-guest if set), then u32 buffer bytes (< 1 GiB), u32
 * min_section, u32 section count, u32 section size, and the rest is the
 * message. cvmbus_nvsp_decode() must agree with the protocol table's own
 * queries (size, directions, first version) and with the sizes of the
 * message structs written here by hand; the copy must be the input's first
 * 40 bytes, zero-padded. The field checks must accept exactly what their
 * documented rules say, and what they accept must describe sections that
 * lie inside the buffer.
 */
#include <errno.h>

#include <cvmbus/net.h>

#include "fuzz_util.h"

static uint32_t fz_le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* [p, p + n) inside [lo, hi). */
static bool fz_inside(const uint8_t *p, uint64_t n, const uint8_t *lo, const uint8_t *hi)
{
	return p >= lo && p <= hi && n <= (uint64_t)(hi - p);
}

/* ---- RNDIS ---------------------------------------------------------------- */

/* The fixed part of each type, header included (net.h struct sizes + 8). */
static uint32_t fz_rndis_fixed(uint32_t type)
{
	switch (type) {
	case CVMBUS_RNDIS_MSG_PACKET: return 8 + 36;
	case CVMBUS_RNDIS_MSG_INITIALIZE: return 8 + 16;
	case CVMBUS_RNDIS_MSG_HALT:
	case CVMBUS_RNDIS_MSG_KEEPALIVE: return 8 + 4;
	case CVMBUS_RNDIS_MSG_QUERY:
	case CVMBUS_RNDIS_MSG_SET: return 8 + 20;
	case CVMBUS_RNDIS_MSG_RESET: return 8 + 4;
	case CVMBUS_RNDIS_MSG_INDICATE_STATUS: return 8 + 12;
	case CVMBUS_RNDIS_MSG_INITIALIZE_CMPLT: return 8 + 44;
	case CVMBUS_RNDIS_MSG_QUERY_CMPLT: return 8 + 16;
	case CVMBUS_RNDIS_MSG_SET_CMPLT:
	case CVMBUS_RNDIS_MSG_KEEPALIVE_CMPLT:
	case CVMBUS_RNDIS_MSG_RESET_CMPLT: return 8 + 8;
	default: return 0;
	}
}

/* A body-relative pair of a message of msg_len bytes with a fixed part of
 * `fixed` bytes: empty, or after the fixed fields and inside the body. */
static bool fz_rndis_pair_ok(uint32_t msg_len, uint32_t fixed, uint32_t off, uint32_t len)
{
	if (len == 0)
		return true;
	return off >= fixed - 8 && (uint64_t)off + len <= (uint64_t)msg_len - 8;
}

/* Elements {size, type, offset} tiling the area exactly; -1 if they do not. */
static int64_t fz_ppi_count(const uint8_t *p, uint32_t len)
{
	int64_t n = 0;

	while (len) {
		uint32_t size, offset;

		if (len < 12)
			return -1;
		size = fz_le32(p);
		offset = fz_le32(p + 8);
		if (size < 12 || size > len || offset < 12 || offset > size)
			return -1;
		p += size;
		len -= size;
		n++;
	}
	return n;
}

/* What the parser must produce for b[0..len): accepted or not, and if so
 * the fields. */
struct fz_rndis_model {
	bool ok;
	int early; /* -EMSGSIZE/-ENOMSG when decided before the body: exact */
	uint32_t fixed;
	uint32_t req_id, status, oid;
	uint32_t info_off, info_len;
	uint32_t data_off, data_len;
	uint32_t ppi_off, ppi_len;
	int64_t ppi_count;
};

static void fz_rndis_model(const uint8_t *b, size_t len, struct fz_rndis_model *mo)
{
	uint32_t type, mlen, fixed;
	const uint8_t *body = b + 8;

	memset(mo, 0, sizeof(*mo));
	if (len < 8) {
		mo->early = -EMSGSIZE;
		return;
	}
	type = fz_le32(b);
	mlen = fz_le32(b + 4);
	fixed = fz_rndis_fixed(type);
	if (!fixed) {
		mo->early = -ENOMSG;
		return;
	}
	if (mlen < fixed || mlen > len) {
		mo->early = -EMSGSIZE;
		return;
	}
	mo->fixed = fixed;
	switch (type) {
	case CVMBUS_RNDIS_MSG_PACKET:
		/* data_offset @8, data_len @12, oob @16 @20 @24, ppi @28 @32 */
		if (fz_le32(body + 12) || fz_le32(body + 16) || fz_le32(body + 4) == 0)
			return;
		mo->data_off = fz_le32(body);
		mo->data_len = fz_le32(body + 4);
		mo->ppi_off = fz_le32(body + 20);
		mo->ppi_len = fz_le32(body + 24);
		if (!fz_rndis_pair_ok(mlen, fixed, mo->data_off, mo->data_len) ||
		    !fz_rndis_pair_ok(mlen, fixed, mo->ppi_off, mo->ppi_len))
			return;
		mo->ppi_count = mo->ppi_len ? fz_ppi_count(body + mo->ppi_off, mo->ppi_len) : 0;
		if (mo->ppi_count < 0)
			return;
		break;
	case CVMBUS_RNDIS_MSG_INITIALIZE:
	case CVMBUS_RNDIS_MSG_HALT:
	case CVMBUS_RNDIS_MSG_KEEPALIVE:
		mo->req_id = fz_le32(body);
		break;
	case CVMBUS_RNDIS_MSG_RESET:
		break;
	case CVMBUS_RNDIS_MSG_QUERY:
	case CVMBUS_RNDIS_MSG_SET:
		/* req_id @8, oid @12, info_len @16, info_offset @20 */
		mo->req_id = fz_le32(body);
		mo->oid = fz_le32(body + 4);
		mo->info_len = fz_le32(body + 8);
		mo->info_off = fz_le32(body + 12);
		if (!fz_rndis_pair_ok(mlen, fixed, mo->info_off, mo->info_len))
			return;
		break;
	case CVMBUS_RNDIS_MSG_INDICATE_STATUS:
		/* status @8, buf_len @12, buf_offset @16 */
		mo->status = fz_le32(body);
		mo->info_len = fz_le32(body + 4);
		mo->info_off = fz_le32(body + 8);
		if (!fz_rndis_pair_ok(mlen, fixed, mo->info_off, mo->info_len))
			return;
		break;
	case CVMBUS_RNDIS_MSG_INITIALIZE_CMPLT:
	case CVMBUS_RNDIS_MSG_SET_CMPLT:
	case CVMBUS_RNDIS_MSG_KEEPALIVE_CMPLT:
		mo->req_id = fz_le32(body);
		mo->status = fz_le32(body + 4);
		break;
	case CVMBUS_RNDIS_MSG_QUERY_CMPLT:
		/* req_id @8, status @12, info_len @16, info_offset @20 */
		mo->req_id = fz_le32(body);
		mo->status = fz_le32(body + 4);
		mo->info_len = fz_le32(body + 8);
		mo->info_off = fz_le32(body + 12);
		if (!fz_rndis_pair_ok(mlen, fixed, mo->info_off, mo->info_len))
			return;
		break;
	case CVMBUS_RNDIS_MSG_RESET_CMPLT:
		mo->status = fz_le32(body);
		break;
	default:
		return;
	}
	mo->ok = true;
}

/* Parses b[0..len) and checks the result against the model; returns rc. */
static int fz_rndis_check(const uint8_t *b, size_t len, struct cvmbus_rndis_msg *m)
{
	struct fz_rndis_model mo;
	const uint8_t *end;
	int rc;

	rc = cvmbus_rndis_parse(b, len, m);
	fz_rndis_model(b, len, &mo);
	if (mo.early) {
		FZ_CHECK(rc == mo.early);
		return rc;
	}
	if (!mo.ok) {
		FZ_CHECK(rc == -ERANGE || rc == -EINVAL);
		return rc;
	}
	FZ_CHECK(rc == 0);
	FZ_CHECK(m->type == fz_le32(b) && m->len == fz_le32(b + 4));
	FZ_CHECK(m->len <= len && m->len >= mo.fixed);
	end = b + m->len;
	FZ_CHECK(m->req_id == mo.req_id && m->status == mo.status && m->oid == mo.oid);
	/* Every pointer: inside the variable part of this message. */
	FZ_CHECK(m->info_len == mo.info_len);
	if (m->info_len) {
		FZ_CHECK(m->info == b + 8 + mo.info_off);
		FZ_CHECK(fz_inside(m->info, m->info_len, b + mo.fixed, end));
	} else {
		FZ_CHECK(m->info == NULL);
	}
	FZ_CHECK(m->data_len == mo.data_len);
	if (m->data_len) {
		FZ_CHECK(m->data == b + 8 + mo.data_off);
		FZ_CHECK(fz_inside(m->data, m->data_len, b + mo.fixed, end));
	} else {
		FZ_CHECK(m->data == NULL);
	}
	FZ_CHECK(m->ppi_len == mo.ppi_len);
	if (m->ppi_len) {
		FZ_CHECK(m->ppi == b + 8 + mo.ppi_off);
		FZ_CHECK(fz_inside(m->ppi, m->ppi_len, b + mo.fixed, end));
		FZ_CHECK((int64_t)m->ppi_count == mo.ppi_count);
	} else {
		FZ_CHECK(m->ppi == NULL && m->ppi_count == 0);
	}
	if (m->type == CVMBUS_RNDIS_MSG_INITIALIZE_CMPLT)
		FZ_CHECK(memcmp(&m->u.init_cmplt, b + 8, sizeof(m->u.init_cmplt)) == 0);
	if (m->type == CVMBUS_RNDIS_MSG_INITIALIZE)
		FZ_CHECK(memcmp(&m->u.init, b + 8, sizeof(m->u.init)) == 0);
	if (m->type == CVMBUS_RNDIS_MSG_RESET_CMPLT)
		FZ_CHECK(memcmp(&m->u.reset_cmplt, b + 8, sizeof(m->u.reset_cmplt)) == 0);
	return 0;
}

/* The builder of m's type, writing into buf (cap bytes); 0 if the type
 * has none that takes every field (INITIALIZE, RESET, PACKET with ppi). */
static int fz_rndis_build(const struct cvmbus_rndis_msg *m, uint8_t *buf, size_t cap)
{
	switch (m->type) {
	case CVMBUS_RNDIS_MSG_PACKET:
		if (m->ppi_len)
			return 0;
		return cvmbus_rndis_build_packet(buf, cap, m->data, m->data_len);
	case CVMBUS_RNDIS_MSG_QUERY:
		return cvmbus_rndis_build_query(buf, cap, m->req_id, m->oid, m->info, m->info_len);
	case CVMBUS_RNDIS_MSG_SET:
		return cvmbus_rndis_build_set(buf, cap, m->req_id, m->oid, m->info, m->info_len);
	case CVMBUS_RNDIS_MSG_INDICATE_STATUS:
		return cvmbus_rndis_build_indicate(buf, cap, m->status, m->info, m->info_len);
	case CVMBUS_RNDIS_MSG_QUERY_CMPLT:
		return cvmbus_rndis_build_query_cmplt(buf, cap, m->req_id, m->status, m->info,
						      m->info_len);
	case CVMBUS_RNDIS_MSG_INITIALIZE_CMPLT:
		return cvmbus_rndis_build_init_cmplt(buf, cap, &m->u.init_cmplt);
	case CVMBUS_RNDIS_MSG_SET_CMPLT:
		return cvmbus_rndis_build_set_cmplt(buf, cap, m->req_id, m->status);
	case CVMBUS_RNDIS_MSG_KEEPALIVE_CMPLT:
		return cvmbus_rndis_build_keepalive_cmplt(buf, cap, m->req_id, m->status);
	case CVMBUS_RNDIS_MSG_KEEPALIVE:
		return cvmbus_rndis_build_keepalive(buf, cap, m->req_id);
	case CVMBUS_RNDIS_MSG_HALT:
		return cvmbus_rndis_build_halt(buf, cap, m->req_id);
	case CVMBUS_RNDIS_MSG_RESET_CMPLT:
		return cvmbus_rndis_build_reset_cmplt(buf, cap, m->status,
						      m->u.reset_cmplt.addressing_reset);
	default:
		return 0;
	}
}

/* An accepted message rebuilt by the builder of its type parses back to the
 * same content (the builders are how our own side writes these), and the
 * builder refuses one byte less of room instead of overrunning it. */
static void fz_rndis_rebuild(const struct cvmbus_rndis_msg *m)
{
	struct cvmbus_rndis_msg back;
	size_t cap = 64u + m->info_len + m->data_len;
	uint8_t *buf = malloc(cap);
	uint8_t *tight;
	int n;

	FZ_CHECK(buf != NULL);
	n = fz_rndis_build(m, buf, cap);
	if (n == 0) {
		free(buf);
		return;
	}
	FZ_CHECK(n > 0 && (size_t)n <= cap);
	FZ_CHECK(cvmbus_rndis_parse(buf, (size_t)n, &back) == 0);
	FZ_CHECK(back.type == m->type && back.len == (uint32_t)n);
	FZ_CHECK(back.req_id == m->req_id && back.status == m->status && back.oid == m->oid);
	FZ_CHECK(back.info_len == m->info_len && back.data_len == m->data_len);
	if (m->info_len)
		FZ_CHECK(memcmp(back.info, m->info, m->info_len) == 0);
	if (m->data_len)
		FZ_CHECK(memcmp(back.data, m->data, m->data_len) == 0);
	tight = malloc((size_t)n - 1u);
	FZ_CHECK(tight != NULL);
	FZ_CHECK(fz_rndis_build(m, tight, (size_t)n - 1u) == -ENOBUFS);
	free(tight);
	free(buf);
}

/* The device's offload path on an accepted PACKET (see the top). */
static void fz_offload(const struct cvmbus_rndis_msg *m)
{
	const uint32_t mtu = 1500;
	struct cvmbus_net_offload off, again;
	uint32_t csum = 0, lso = 0, c2, l2;
	bool hc, hl, hc2, hl2;
	uint8_t *f;
	uint16_t v;
	int rc, rc2;

	rc = cvmbus_rndis_ppi_get(m, CVMBUS_RNDIS_PPI_CHECKSUM, &csum);
	FZ_CHECK(rc == 0 || rc == -ENOENT || rc == -EINVAL);
	rc2 = cvmbus_rndis_ppi_get(m, CVMBUS_RNDIS_PPI_LSO, &lso);
	FZ_CHECK(rc2 == 0 || rc2 == -ENOENT || rc2 == -EINVAL);
	if (rc == -EINVAL || rc2 == -EINVAL)
		return;
	hc = rc == 0;
	hl = rc2 == 0;
	f = malloc(m->data_len);
	FZ_CHECK(f != NULL);

	/* Nothing granted: nothing comes out partial. */
	memcpy(f, m->data, m->data_len);
	rc = cvmbus_net_offload_from_rndis(f, m->data_len, mtu, 0, hc, csum, hl, lso, &off);
	FZ_CHECK(rc == 0 || rc == -EPERM || rc == -EINVAL || rc == -EMSGSIZE || rc == -EPROTO);
	if (rc == 0)
		FZ_CHECK(off.flags == 0 && off.gso_type == 0 && m->data_len <= mtu + 14u);

	memcpy(f, m->data, m->data_len);
	rc = cvmbus_net_offload_from_rndis(f, m->data_len, mtu, CVMBUS_NET_OFFLOAD_ALL, hc, csum, hl,
					   lso, &off);
	FZ_CHECK(rc == 0 || rc == -EPERM || rc == -EINVAL || rc == -EMSGSIZE || rc == -EPROTO);
	if (rc == 0 && off.flags) {
		FZ_CHECK(off.flags == CVMBUS_NET_OFF_NEEDS_CSUM);
		FZ_CHECK((uint32_t)off.csum_start + off.csum_offset + 2u <= m->data_len);
		FZ_CHECK(cvmbus_net_csum_fixup(&off, f, m->data_len, &v) == 0);
		if (off.gso_type) {
			FZ_CHECK(off.gso_type == CVMBUS_NET_GSO_TCPV4 ||
				 off.gso_type == CVMBUS_NET_GSO_TCPV6);
			FZ_CHECK(off.hdr_len > off.csum_start && off.hdr_len < m->data_len);
			FZ_CHECK(off.gso_size >= CVMBUS_NET_MIN_MSS &&
				 off.hdr_len + (uint32_t)off.gso_size <= mtu + 14u);
			FZ_CHECK(m->data_len <= CVMBUS_NET_GSO_MAX_FRAME);
		} else {
			FZ_CHECK(m->data_len <= mtu + 14u);
		}
		/* Back through the driver's mapping, and in again. */
		FZ_CHECK(cvmbus_net_offload_to_rndis(&off, f, m->data_len, CVMBUS_NET_OFFLOAD_ALL,
						     &hc2, &c2, &hl2, &l2) == 0);
		FZ_CHECK(cvmbus_net_offload_from_rndis(f, m->data_len, mtu, CVMBUS_NET_OFFLOAD_ALL,
						       hc2, c2, hl2, l2, &again) == 0);
		FZ_CHECK(memcmp(&again, &off, sizeof(off)) == 0);
	} else if (rc == 0) {
		FZ_CHECK(off.gso_type == 0 && m->data_len <= mtu + 14u);
	}
	free(f);
}

static void fz_rndis(struct fz_in *in)
{
	uint8_t *b = malloc(in->n ? in->n : 1);
	struct cvmbus_rndis_msg m, again;
	uint8_t mac[6] = { 0x00, 0x15, 0x5d, 0x01, 0x02, 0x03 };
	size_t len = in->n;
	int rc;

	FZ_CHECK(b != NULL);
	fz_take(in, b, len);
	rc = fz_rndis_check(b, len, &m);
	if (rc == 0) {
		/* The buffer's tail past msg len changes nothing. */
		uint8_t *exact = malloc(m.len);

		FZ_CHECK(exact != NULL);
		memcpy(exact, b, m.len);
		FZ_CHECK(fz_rndis_check(exact, m.len, &again) == 0);
		FZ_CHECK(again.info_len == m.info_len && again.data_len == m.data_len &&
			 again.ppi_count == m.ppi_count);
		free(exact);
		fz_rndis_rebuild(&m);
		if (m.type == CVMBUS_RNDIS_MSG_PACKET) {
			bool acc = cvmbus_net_filter_accepts(0x2fu, mac, m.data, m.data_len);

			if (m.data_len < CVMBUS_NET_ETH_HLEN)
				FZ_CHECK(!acc);
			else
				FZ_CHECK(acc); /* promiscuous takes every frame */
			fz_offload(&m);
		}
	}
	free(b);
}

/* ---- NVSP ------------------------------------------------------------------ */

/* Bytes each message needs, type word included, from the structs of net.h
 * (0: not restated here). */
static uint32_t fz_nvsp_size(uint32_t type)
{
	switch (type) {
	case CVMBUS_NVSP_INIT: return 12;
	case CVMBUS_NVSP_INIT_COMPLETE: return 16;
	case CVMBUS_NVSP_SEND_NDIS_VERSION: return 12;
	case CVMBUS_NVSP_SEND_RECV_BUF: return 10;
	case CVMBUS_NVSP_SEND_RECV_BUF_COMPLETE: return 28;
	case CVMBUS_NVSP_REVOKE_RECV_BUF: return 6;
	case CVMBUS_NVSP_SEND_SEND_BUF: return 10;
	case CVMBUS_NVSP_SEND_SEND_BUF_COMPLETE: return 12;
	case CVMBUS_NVSP_REVOKE_SEND_BUF: return 6;
	case CVMBUS_NVSP_SEND_RNDIS_PKT: return 16;
	case CVMBUS_NVSP_SEND_RNDIS_PKT_COMPLETE: return 8;
	case CVMBUS_NVSP_SEND_NDIS_CONFIG: return 20;
	case CVMBUS_NVSP_SUBCHANNEL: return 12;
	default: return 0;
	}
}

static void fz_nvsp_fields(const struct cvmbus_nvsp_msg *m, uint64_t buf_bytes,
			   uint32_t min_section, uint32_t count, uint32_t ssize)
{
	struct cvmbus_nvsp_recv_section sec;
	uint32_t size = 0, n = 0;
	int rc;

	if (m->type == CVMBUS_NVSP_SEND_RECV_BUF_COMPLETE) {
		const struct cvmbus_nvsp_recv_section *s = &m->u.recv_buf_complete.section;
		uint64_t end = (uint64_t)s->offset + (uint64_t)s->sub_alloc_size * s->num_sub_allocs;
		bool ok = m->u.recv_buf_complete.num_sections == 1 && s->offset == 0 &&
			  s->sub_alloc_size >= min_section && s->sub_alloc_size > 0 &&
			  s->num_sub_allocs > 0 && end <= buf_bytes && s->end_offset == end;

		memset(&sec, 0xee, sizeof(sec));
		rc = cvmbus_nvsp_check_recv_buf_complete(m, buf_bytes, min_section, &sec);
		if (m->u.recv_buf_complete.status != CVMBUS_NVSP_STATUS_SUCCESS) {
			FZ_CHECK(rc == -EIO);
		} else {
			FZ_CHECK(rc == (ok ? 0 : -EPROTO));
		}
		if (rc == 0) {
			/* Every section the VSC will hand out lies in its buffer. */
			FZ_CHECK(memcmp(&sec, s, sizeof(sec)) == 0);
			FZ_CHECK(sec.sub_alloc_size > 0 && sec.num_sub_allocs > 0);
			FZ_CHECK((uint64_t)sec.sub_alloc_size * sec.num_sub_allocs <= buf_bytes);
			FZ_CHECK(sec.end_offset <= buf_bytes);
		}
	} else {
		FZ_CHECK(cvmbus_nvsp_check_recv_buf_complete(m, buf_bytes, min_section, &sec) ==
			 -EPROTO);
	}

	rc = cvmbus_nvsp_check_send_buf_complete(m, buf_bytes, min_section, &size, &n);
	if (m->type != CVMBUS_NVSP_SEND_SEND_BUF_COMPLETE) {
		FZ_CHECK(rc == -EPROTO);
	} else if (m->u.send_buf_complete.status != CVMBUS_NVSP_STATUS_SUCCESS) {
		FZ_CHECK(rc == -EIO);
	} else {
		uint32_t s = m->u.send_buf_complete.section_size;
		bool ok = s > 0 && s >= min_section && s <= buf_bytes;

		FZ_CHECK(rc == (ok ? 0 : -EPROTO));
		if (rc == 0) {
			FZ_CHECK(size == s && n == buf_bytes / s);
			FZ_CHECK((uint64_t)size * n <= buf_bytes);
		}
	}

	rc = cvmbus_nvsp_check_rndis_pkt(m, count, ssize);
	if (m->type != CVMBUS_NVSP_SEND_RNDIS_PKT) {
		FZ_CHECK(rc == -EPROTO);
	} else {
		const struct cvmbus_nvsp_rndis_pkt *r = &m->u.rndis;
		int want = 0;

		if (r->channel_type > CVMBUS_NVSP_CHANNEL_CONTROL)
			want = -EINVAL;
		else if (r->section_index == CVMBUS_NVSP_NO_SECTION)
			want = 0;
		else if (r->section_index >= count)
			want = -ERANGE;
		else if (r->section_size == 0 || r->section_size > ssize)
			want = -EMSGSIZE;
		FZ_CHECK(rc == want);
		/* An accepted section lies inside the send buffer's sections. */
		if (rc == 0 && r->section_index != CVMBUS_NVSP_NO_SECTION)
			FZ_CHECK((uint64_t)r->section_index * ssize + r->section_size <=
				 (uint64_t)count * ssize);
	}
}

static void fz_nvsp(struct fz_in *in)
{
	size_t nversions;
	const uint32_t *versions = cvmbus_nvsp_versions(&nversions);
	uint8_t vsel = fz_u8(in);
	uint8_t dsel = fz_u8(in);
	uint32_t version = vsel < nversions ? versions[vsel] : vsel == nversions ? 0 : fz_u32(in);
	enum cvmbus_nvsp_dir dir = (dsel & 1u) ? CVMBUS_NVSP_H2G : CVMBUS_NVSP_G2H;
	/* Device buffers are at most 1 GiB (cvmbus_net_gbuf_init). */
	uint64_t buf_bytes = fz_u32(in) & ((1u << 30) - 1u);
	uint32_t min_section = fz_u32(in);
	uint32_t count = fz_u32(in);
	uint32_t ssize = fz_u32(in);
	struct cvmbus_nvsp_msg m;
	uint8_t expect[CVMBUS_NVSP_MSG_SIZE];
	uint8_t *b;
	size_t len = in->n;
	uint32_t type, need, hand;
	unsigned dirs;
	int rc, want;

	b = malloc(len ? len : 1);
	FZ_CHECK(b != NULL);
	fz_take(in, b, len);
	memset(&m, 0xcc, sizeof(m));
	rc = cvmbus_nvsp_decode(b, len, version, dir, &m);
	memset(expect, 0, sizeof(expect));
	if (len < 4) {
		FZ_CHECK(rc == -EMSGSIZE);
		FZ_CHECK(memcmp(&m, expect, sizeof(m)) == 0);
		free(b);
		return;
	}
	memcpy(expect, b, len < sizeof(expect) ? len : sizeof(expect));
	FZ_CHECK(memcmp(&m, expect, sizeof(m)) == 0);
	type = m.type;
	need = cvmbus_nvsp_min_size(type);
	dirs = cvmbus_nvsp_type_dirs(type);
	hand = fz_nvsp_size(type);
	if (hand)
		FZ_CHECK(need == hand);
	FZ_CHECK(need <= CVMBUS_NVSP_MSG_SIZE);
	if (need == 0) {
		FZ_CHECK(dirs == 0);
		want = -ENOMSG;
	} else if (len < need) {
		want = -EMSGSIZE;
	} else if (!(dirs & (unsigned)dir)) {
		want = -EPROTO;
	} else if (version == 0 ? cvmbus_nvsp_type_min_version(type) != 0
				: cvmbus_nvsp_type_min_version(type) > version) {
		want = -EPROTO;
	} else {
		want = 0;
	}
	FZ_CHECK(rc == want);
	FZ_CHECK(cvmbus_nvsp_type_name(type) != NULL);
	/* A known request's refusal goes out as a known type. */
	if (need)
		FZ_CHECK(cvmbus_nvsp_min_size(cvmbus_nvsp_response_type(type)) != 0);
	if (rc == 0)
		fz_nvsp_fields(&m, buf_bytes, min_section, count, ssize);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = fz_in_make(data, size);

	if (fz_u8(&in) & 1u)
		fz_nvsp(&in);
	else
		fz_rndis(&in);
	return 0;
}
