/* SPDX-License-Identifier: MIT */
/*
 * RNDIS messages (include/cvmbus/net.h), layer src/dev: the builders both
 * netvsc sides use, and one parser that every RNDIS message read from a
 * peer goes through. The parser works on a private copy and checks every
 * offset/length pair against the message before handing out a pointer, so
 * the device and the driver never index a peer's buffer with a peer's
 * number. Also the packet filter decision (which frames a NIC with a given
 * filter and MAC accepts).
 *
 * Layout facts: Linux include/linux/rndis.h and drivers/net/hyperv
 * (rndis_filter.c): offsets inside a body count from the body, which starts
 * 8 bytes into the message, after type and length.
 */
#include <errno.h>
#include <string.h>

#include <cvmbus/net.h>

#define HDR CVMBUS_RNDIS_HEADER_SIZE

/* Fixed part of each message type (header included). */
static uint32_t rndis_min_len(uint32_t type)
{
	switch (type) {
	case CVMBUS_RNDIS_MSG_PACKET: return HDR + sizeof(struct cvmbus_rndis_packet);
	case CVMBUS_RNDIS_MSG_INITIALIZE: return HDR + sizeof(struct cvmbus_rndis_init_req);
	case CVMBUS_RNDIS_MSG_HALT: return HDR + sizeof(struct cvmbus_rndis_id_req);
	case CVMBUS_RNDIS_MSG_QUERY:
	case CVMBUS_RNDIS_MSG_SET: return HDR + sizeof(struct cvmbus_rndis_oid_req);
	case CVMBUS_RNDIS_MSG_RESET: return HDR + 4;
	case CVMBUS_RNDIS_MSG_INDICATE_STATUS: return HDR + sizeof(struct cvmbus_rndis_indicate);
	case CVMBUS_RNDIS_MSG_KEEPALIVE: return HDR + sizeof(struct cvmbus_rndis_id_req);
	case CVMBUS_RNDIS_MSG_INITIALIZE_CMPLT:
		return HDR + sizeof(struct cvmbus_rndis_init_cmplt);
	case CVMBUS_RNDIS_MSG_QUERY_CMPLT: return HDR + sizeof(struct cvmbus_rndis_query_cmplt);
	case CVMBUS_RNDIS_MSG_SET_CMPLT:
	case CVMBUS_RNDIS_MSG_KEEPALIVE_CMPLT:
		return HDR + sizeof(struct cvmbus_rndis_status_cmplt);
	case CVMBUS_RNDIS_MSG_RESET_CMPLT: return HDR + sizeof(struct cvmbus_rndis_reset_cmplt);
	default: return 0;
	}
}

const char *cvmbus_rndis_type_name(uint32_t type)
{
	switch (type) {
	case CVMBUS_RNDIS_MSG_PACKET: return "packet";
	case CVMBUS_RNDIS_MSG_INITIALIZE: return "initialize";
	case CVMBUS_RNDIS_MSG_HALT: return "halt";
	case CVMBUS_RNDIS_MSG_QUERY: return "query";
	case CVMBUS_RNDIS_MSG_SET: return "set";
	case CVMBUS_RNDIS_MSG_RESET: return "reset";
	case CVMBUS_RNDIS_MSG_INDICATE_STATUS: return "indicate-status";
	case CVMBUS_RNDIS_MSG_KEEPALIVE: return "keepalive";
	case CVMBUS_RNDIS_MSG_INITIALIZE_CMPLT: return "initialize-cmplt";
	case CVMBUS_RNDIS_MSG_QUERY_CMPLT: return "query-cmplt";
	case CVMBUS_RNDIS_MSG_SET_CMPLT: return "set-cmplt";
	case CVMBUS_RNDIS_MSG_RESET_CMPLT: return "reset-cmplt";
	case CVMBUS_RNDIS_MSG_KEEPALIVE_CMPLT: return "keepalive-cmplt";
	default: return "unknown";
	}
}

/* A body-relative (offset, length) pair must lie inside the message's body.
 * A zero length needs no offset (peers leave it 0 or garbage). Done in 64
 * bits: no sum of two peer numbers may wrap. */
static int body_range(uint32_t msg_len, uint32_t offset, uint32_t len, uint32_t fixed)
{
	uint64_t body = msg_len - HDR;

	if (len == 0)
		return 0;
	/* The variable part may not overlap the fixed fields. */
	if (offset < fixed - HDR)
		return -ERANGE;
	if ((uint64_t)offset + len > body)
		return -ERANGE;
	return 0;
}

/* Every element of a PACKET's per-packet info: a header that fits, a size
 * that covers it and stays in the area, a value offset inside the element. */
static int ppi_check(const uint8_t *p, uint32_t len, uint32_t *count)
{
	uint32_t n = 0;

	while (len) {
		struct cvmbus_rndis_ppi e;

		if (len < sizeof(e))
			return -EINVAL;
		memcpy(&e, p, sizeof(e));
		if (e.size < sizeof(e) || e.size > len)
			return -EINVAL;
		if (e.offset < sizeof(e) || e.offset > e.size)
			return -EINVAL;
		p += e.size;
		len -= e.size;
		n++;
	}
	*count = n;
	return 0;
}

static int parse_packet(const uint8_t *b, struct cvmbus_rndis_msg *m)
{
	struct cvmbus_rndis_packet pk;
	uint32_t fixed = HDR + sizeof(pk);
	int rc;

	memcpy(&pk, b + HDR, sizeof(pk));
	/* Out-of-band data is an NDIS 5 relic no Hyper-V peer sends. */
	if (pk.oob_len || pk.oob_count)
		return -EINVAL;
	if (pk.data_len == 0)
		return -EINVAL;
	rc = body_range(m->len, pk.data_offset, pk.data_len, fixed);
	if (rc)
		return rc;
	rc = body_range(m->len, pk.ppi_offset, pk.ppi_len, fixed);
	if (rc)
		return rc;
	m->data = b + HDR + pk.data_offset;
	m->data_len = pk.data_len;
	if (pk.ppi_len) {
		m->ppi = b + HDR + pk.ppi_offset;
		m->ppi_len = pk.ppi_len;
		rc = ppi_check(m->ppi, m->ppi_len, &m->ppi_count);
		if (rc)
			return rc;
	}
	return 0;
}

int cvmbus_rndis_parse(const void *buf, size_t len, struct cvmbus_rndis_msg *m)
{
	const uint8_t *b = buf;
	struct cvmbus_rndis_header h;
	uint32_t min;
	int rc;

	memset(m, 0, sizeof(*m));
	if (len < sizeof(h))
		return -EMSGSIZE;
	memcpy(&h, b, sizeof(h));
	m->type = h.type;
	m->len = h.len;
	min = rndis_min_len(h.type);
	if (!min)
		return -ENOMSG;
	if (h.len < min || h.len > len)
		return -EMSGSIZE;

	switch (h.type) {
	case CVMBUS_RNDIS_MSG_PACKET:
		return parse_packet(b, m);
	case CVMBUS_RNDIS_MSG_INITIALIZE:
		memcpy(&m->u.init, b + HDR, sizeof(m->u.init));
		m->req_id = m->u.init.req_id;
		return 0;
	case CVMBUS_RNDIS_MSG_HALT:
	case CVMBUS_RNDIS_MSG_KEEPALIVE: {
		struct cvmbus_rndis_id_req r;

		memcpy(&r, b + HDR, sizeof(r));
		m->req_id = r.req_id;
		return 0;
	}
	case CVMBUS_RNDIS_MSG_RESET:
		return 0;
	case CVMBUS_RNDIS_MSG_QUERY:
	case CVMBUS_RNDIS_MSG_SET: {
		struct cvmbus_rndis_oid_req r;

		memcpy(&r, b + HDR, sizeof(r));
		m->req_id = r.req_id;
		m->oid = r.oid;
		rc = body_range(h.len, r.info_offset, r.info_len, min);
		if (rc)
			return rc;
		if (r.info_len) {
			m->info = b + HDR + r.info_offset;
			m->info_len = r.info_len;
		}
		return 0;
	}
	case CVMBUS_RNDIS_MSG_INDICATE_STATUS: {
		struct cvmbus_rndis_indicate r;

		memcpy(&r, b + HDR, sizeof(r));
		m->status = r.status;
		rc = body_range(h.len, r.buf_offset, r.buf_len, min);
		if (rc)
			return rc;
		if (r.buf_len) {
			m->info = b + HDR + r.buf_offset;
			m->info_len = r.buf_len;
		}
		return 0;
	}
	case CVMBUS_RNDIS_MSG_INITIALIZE_CMPLT:
		memcpy(&m->u.init_cmplt, b + HDR, sizeof(m->u.init_cmplt));
		m->req_id = m->u.init_cmplt.req_id;
		m->status = m->u.init_cmplt.status;
		return 0;
	case CVMBUS_RNDIS_MSG_QUERY_CMPLT: {
		struct cvmbus_rndis_query_cmplt r;

		memcpy(&r, b + HDR, sizeof(r));
		m->req_id = r.req_id;
		m->status = r.status;
		rc = body_range(h.len, r.info_offset, r.info_len, min);
		if (rc)
			return rc;
		if (r.info_len) {
			m->info = b + HDR + r.info_offset;
			m->info_len = r.info_len;
		}
		return 0;
	}
	case CVMBUS_RNDIS_MSG_SET_CMPLT:
	case CVMBUS_RNDIS_MSG_KEEPALIVE_CMPLT: {
		struct cvmbus_rndis_status_cmplt r;

		memcpy(&r, b + HDR, sizeof(r));
		m->req_id = r.req_id;
		m->status = r.status;
		return 0;
	}
	case CVMBUS_RNDIS_MSG_RESET_CMPLT:
		memcpy(&m->u.reset_cmplt, b + HDR, sizeof(m->u.reset_cmplt));
		m->status = m->u.reset_cmplt.status;
		return 0;
	default:
		return -ENOMSG;
	}
}

/* ---- builders ------------------------------------------------------------ */

/* Header + fixed body + optional trailing bytes, in one place so that
 * every builder checks its room the same way. */
static int rndis_emit(void *buf, size_t cap, uint32_t type, const void *body, uint32_t body_len,
		      const void *tail, uint32_t tail_len)
{
	struct cvmbus_rndis_header h;
	uint8_t *b = buf;
	uint64_t total = (uint64_t)HDR + body_len + tail_len;

	if (total > cap || total > INT32_MAX)
		return -ENOBUFS;
	h.type = type;
	h.len = (uint32_t)total;
	memcpy(b, &h, sizeof(h));
	memcpy(b + HDR, body, body_len);
	if (tail_len)
		memcpy(b + HDR + body_len, tail, tail_len);
	return (int)total;
}

int cvmbus_rndis_build_packet_header(void *buf, size_t cap, uint32_t frame_len)
{
	struct cvmbus_rndis_header h;
	struct cvmbus_rndis_packet pk = {
		/* The frame follows the fixed part directly: offset counts
		 * from the body, which is the packet struct itself. */
		.data_offset = sizeof(pk),
		.data_len = frame_len,
	};

	if (cap < CVMBUS_RNDIS_PACKET_HEADER_SIZE ||
	    frame_len > INT32_MAX - CVMBUS_RNDIS_PACKET_HEADER_SIZE)
		return -ENOBUFS;
	h.type = CVMBUS_RNDIS_MSG_PACKET;
	h.len = CVMBUS_RNDIS_PACKET_HEADER_SIZE + frame_len;
	memcpy(buf, &h, sizeof(h));
	memcpy((uint8_t *)buf + HDR, &pk, sizeof(pk));
	return CVMBUS_RNDIS_PACKET_HEADER_SIZE;
}

int cvmbus_rndis_build_packet(void *buf, size_t cap, const void *frame, uint32_t frame_len)
{
	int rc;

	if ((uint64_t)CVMBUS_RNDIS_PACKET_HEADER_SIZE + frame_len > cap)
		return -ENOBUFS;
	rc = cvmbus_rndis_build_packet_header(buf, cap, frame_len);
	if (rc < 0)
		return rc;
	memcpy((uint8_t *)buf + CVMBUS_RNDIS_PACKET_HEADER_SIZE, frame, frame_len);
	return (int)(CVMBUS_RNDIS_PACKET_HEADER_SIZE + frame_len);
}

int cvmbus_rndis_build_init(void *buf, size_t cap, uint32_t req_id, uint32_t max_xfer)
{
	struct cvmbus_rndis_init_req r = {
		.req_id = req_id,
		.major = CVMBUS_RNDIS_MAJOR_VERSION,
		.minor = CVMBUS_RNDIS_MINOR_VERSION,
		.max_xfer = max_xfer,
	};

	return rndis_emit(buf, cap, CVMBUS_RNDIS_MSG_INITIALIZE, &r, sizeof(r), NULL, 0);
}

static int build_oid(void *buf, size_t cap, uint32_t type, uint32_t req_id, uint32_t oid,
		     const void *info, uint32_t info_len)
{
	struct cvmbus_rndis_oid_req r = {
		.req_id = req_id,
		.oid = oid,
		.info_len = info_len,
		.info_offset = info_len ? sizeof(r) : 0,
	};

	return rndis_emit(buf, cap, type, &r, sizeof(r), info, info_len);
}

int cvmbus_rndis_build_query(void *buf, size_t cap, uint32_t req_id, uint32_t oid,
			     const void *info, uint32_t info_len)
{
	return build_oid(buf, cap, CVMBUS_RNDIS_MSG_QUERY, req_id, oid, info, info_len);
}

int cvmbus_rndis_build_set(void *buf, size_t cap, uint32_t req_id, uint32_t oid,
			   const void *info, uint32_t info_len)
{
	return build_oid(buf, cap, CVMBUS_RNDIS_MSG_SET, req_id, oid, info, info_len);
}

int cvmbus_rndis_build_halt(void *buf, size_t cap, uint32_t req_id)
{
	struct cvmbus_rndis_id_req r = { .req_id = req_id };

	return rndis_emit(buf, cap, CVMBUS_RNDIS_MSG_HALT, &r, sizeof(r), NULL, 0);
}

int cvmbus_rndis_build_reset(void *buf, size_t cap)
{
	uint32_t reserved = 0;

	return rndis_emit(buf, cap, CVMBUS_RNDIS_MSG_RESET, &reserved, sizeof(reserved), NULL, 0);
}

int cvmbus_rndis_build_keepalive(void *buf, size_t cap, uint32_t req_id)
{
	struct cvmbus_rndis_id_req r = { .req_id = req_id };

	return rndis_emit(buf, cap, CVMBUS_RNDIS_MSG_KEEPALIVE, &r, sizeof(r), NULL, 0);
}

int cvmbus_rndis_build_init_cmplt(void *buf, size_t cap, const struct cvmbus_rndis_init_cmplt *c)
{
	return rndis_emit(buf, cap, CVMBUS_RNDIS_MSG_INITIALIZE_CMPLT, c, sizeof(*c), NULL, 0);
}

int cvmbus_rndis_build_query_cmplt(void *buf, size_t cap, uint32_t req_id, uint32_t status,
				   const void *info, uint32_t info_len)
{
	struct cvmbus_rndis_query_cmplt r = {
		.req_id = req_id,
		.status = status,
		.info_len = info_len,
		.info_offset = info_len ? sizeof(r) : 0,
	};

	return rndis_emit(buf, cap, CVMBUS_RNDIS_MSG_QUERY_CMPLT, &r, sizeof(r), info, info_len);
}

int cvmbus_rndis_build_set_cmplt(void *buf, size_t cap, uint32_t req_id, uint32_t status)
{
	struct cvmbus_rndis_status_cmplt r = { .req_id = req_id, .status = status };

	return rndis_emit(buf, cap, CVMBUS_RNDIS_MSG_SET_CMPLT, &r, sizeof(r), NULL, 0);
}

int cvmbus_rndis_build_keepalive_cmplt(void *buf, size_t cap, uint32_t req_id, uint32_t status)
{
	struct cvmbus_rndis_status_cmplt r = { .req_id = req_id, .status = status };

	return rndis_emit(buf, cap, CVMBUS_RNDIS_MSG_KEEPALIVE_CMPLT, &r, sizeof(r), NULL, 0);
}

int cvmbus_rndis_build_reset_cmplt(void *buf, size_t cap, uint32_t status,
				   uint32_t addressing_reset)
{
	struct cvmbus_rndis_reset_cmplt r = { .status = status,
					      .addressing_reset = addressing_reset };

	return rndis_emit(buf, cap, CVMBUS_RNDIS_MSG_RESET_CMPLT, &r, sizeof(r), NULL, 0);
}

int cvmbus_rndis_build_indicate(void *buf, size_t cap, uint32_t status, const void *sbuf,
				uint32_t sbuf_len)
{
	struct cvmbus_rndis_indicate r = {
		.status = status,
		.buf_len = sbuf_len,
		.buf_offset = sbuf_len ? sizeof(r) : 0,
	};

	return rndis_emit(buf, cap, CVMBUS_RNDIS_MSG_INDICATE_STATUS, &r, sizeof(r), sbuf,
			  sbuf_len);
}

/* ---- packet filter --------------------------------------------------------- */

bool cvmbus_net_filter_accepts(uint32_t filter, const uint8_t mac[6], const void *frame,
			       size_t len)
{
	static const uint8_t bcast[CVMBUS_NET_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t *dst = frame;

	if (len < CVMBUS_NET_ETH_HLEN)
		return false;
	if (filter & CVMBUS_RNDIS_FILTER_PROMISCUOUS)
		return true;
	if (memcmp(dst, bcast, sizeof(bcast)) == 0)
		return (filter & CVMBUS_RNDIS_FILTER_BROADCAST) != 0;
	/* The group bit: the first bit on the wire, bit 0 of byte 0. */
	if (dst[0] & 1)
		return (filter & (CVMBUS_RNDIS_FILTER_MULTICAST |
				  CVMBUS_RNDIS_FILTER_ALL_MULTICAST)) != 0;
	return (filter & CVMBUS_RNDIS_FILTER_DIRECTED) && memcmp(dst, mac, 6) == 0;
}
