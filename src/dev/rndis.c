/* SPDX-License-Identifier: MIT */
/*
 * RNDIS messages (include/cvmbus/net.h), layer src/dev: the builders both
 * netvsc sides use, and one parser that every RNDIS message read from a
 * peer goes through. The parser works on a private copy and checks every
 * offset/length pair against the message before handing out a pointer, so
 * the device and the driver never index a peer's buffer with a peer's
 * number. Also the packet filter decision (which frames a NIC with a given
 * filter and MAC accepts). And the offloads' per-packet info: the
 * checksum and LSOv2 elements built and read, and the device's check of
 * them against the frame they describe (docs/NETWORK.md, "Offloads"),
 * which is where a guest's numbers meet IP and TCP headers: every offset
 * the info names is checked against the headers actually there before the
 * frame goes to a kernel with that state.
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

/* ---- per-packet info and offloads ----------------------------------------- */

int cvmbus_rndis_ppi_get(const struct cvmbus_rndis_msg *msg, uint32_t type, uint32_t *value)
{
	const uint8_t *p = msg->ppi;
	uint32_t left = msg->ppi_len;
	bool found = false;

	/* The parser checked every element's size and value offset; this
	 * walk relies on that and only checks that the u32 fits. */
	while (p && left >= sizeof(struct cvmbus_rndis_ppi)) {
		struct cvmbus_rndis_ppi e;

		memcpy(&e, p, sizeof(e));
		if (e.size < sizeof(e) || e.size > left)
			return -EINVAL;
		/* Bit 31 marks the internal types (packet ids): not ours. */
		if (e.type == type) {
			/* Two answers to one question: which would the
			 * device believe? Neither. */
			if (found)
				return -EINVAL;
			if ((uint64_t)e.offset + sizeof(*value) > e.size)
				return -EINVAL;
			memcpy(value, p + e.offset, sizeof(*value));
			found = true;
		}
		p += e.size;
		left -= e.size;
	}
	return found ? 0 : -ENOENT;
}

static uint16_t rd16be(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static void wr16be(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The ones'-complement sum of a byte range, not folded. */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	while (len >= 2) {
		sum += rd16be(p);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

#define ETH_P_IPV4 0x0800u
#define ETH_P_IPV6 0x86ddu
#define IPPROTO_TCP_ 6u
#define IPPROTO_UDP_ 17u
#define IP6_HLEN 40u

/* The L3 header the info names, checked: its version and, for IPv4, a
 * header that ends where the transport header starts and no fragment
 * (only a whole datagram has a transport header to offload). *proto the
 * transport protocol; *l4_len the transport bytes the IP header claims. */
static int l3_check(const uint8_t *f, size_t len, bool v6, uint32_t l4_off, uint32_t *proto,
		    uint32_t *l4_len)
{
	uint32_t eth_type, ihl, tot;

	if (len < CVMBUS_NET_ETH_HLEN + 20u)
		return -EPROTO;
	eth_type = rd16be(f + 12);
	if (!v6) {
		const uint8_t *ip = f + CVMBUS_NET_ETH_HLEN;

		if (eth_type != ETH_P_IPV4 || (ip[0] >> 4) != 4)
			return -EPROTO;
		ihl = (ip[0] & 0xfu) * 4u;
		if (ihl < 20 || l4_off != CVMBUS_NET_ETH_HLEN + ihl || l4_off > len)
			return -EPROTO;
		/* MF set or a fragment offset: not a whole datagram. */
		if (rd16be(ip + 6) & 0x3fffu)
			return -EPROTO;
		/* An LSO frame may carry 0 here (NDIS leaves it to the
		 * device): a short one yields 0, which only a checksum
		 * request, whose caller checks it, would use. */
		tot = rd16be(ip + 2);
		*proto = ip[9];
		*l4_len = tot >= ihl ? tot - ihl : 0;
	} else {
		const uint8_t *ip = f + CVMBUS_NET_ETH_HLEN;

		/* No extension headers: the capabilities do not claim them. */
		if (eth_type != ETH_P_IPV6 || len < CVMBUS_NET_ETH_HLEN + IP6_HLEN ||
		    (ip[0] >> 4) != 6 || l4_off != CVMBUS_NET_ETH_HLEN + IP6_HLEN)
			return -EPROTO;
		*proto = ip[6];
		*l4_len = rd16be(ip + 4);
	}
	return 0;
}

/* The folded pseudo-header sum of a transport segment of l4_len bytes,
 * as a Linux CHECKSUM_PARTIAL frame carries it in its checksum field. */
static uint16_t pseudo_sum(const uint8_t *f, bool v6, uint32_t proto, uint32_t l4_len)
{
	const uint8_t *ip = f + CVMBUS_NET_ETH_HLEN;
	uint64_t sum = proto + (uint64_t)l4_len;

	if (v6)
		sum = csum_add(sum, ip + 8, 32); /* source and destination */
	else
		sum = csum_add(sum, ip + 12, 8);
	return csum_fold(sum);
}

static void ip4_header_csum(uint8_t *f)
{
	uint8_t *ip = f + CVMBUS_NET_ETH_HLEN;
	uint32_t ihl = (ip[0] & 0xfu) * 4u;

	wr16be(ip + 10, 0);
	wr16be(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, ihl)));
}

static int offload_lso(uint8_t *f, size_t len, uint32_t mtu, uint32_t allowed, uint32_t lso,
		       struct cvmbus_net_offload *out)
{
	bool v6 = (lso & CVMBUS_RNDIS_LSO_IPV6) != 0;
	uint32_t mss = lso & CVMBUS_RNDIS_LSO_MSS_MASK;
	uint32_t off = (lso >> CVMBUS_RNDIS_LSO_OFF_SHIFT) & CVMBUS_RNDIS_LSO_OFF_MASK;
	uint32_t proto, l4_len, hdr_len;
	int rc;

	if (!(lso & CVMBUS_RNDIS_LSO_V2))
		return -EINVAL; /* LSOv1 is never granted */
	if (!(allowed & (v6 ? CVMBUS_NET_OFFLOAD_LSO6 : CVMBUS_NET_OFFLOAD_LSO4)))
		return -EPERM;
	if (len > CVMBUS_NET_GSO_MAX_FRAME)
		return -EMSGSIZE;
	rc = l3_check(f, len, v6, off, &proto, &l4_len);
	if (rc)
		return rc;
	if (proto != IPPROTO_TCP_ || (size_t)off + 20u > len)
		return -EPROTO;
	hdr_len = off + (f[off + 12] >> 4) * 4u;
	if (hdr_len < off + 20u || hdr_len >= len)
		return -EPROTO;
	/* Every segment must fit the MTU, and none be absurdly small. */
	if (mss < CVMBUS_NET_MIN_MSS || hdr_len + mss > mtu + CVMBUS_NET_ETH_HLEN)
		return -EINVAL;
	/* The guest may have left the lengths for the device to fill (the
	 * NDIS rule for LSO: total length 0, pseudo-header sum without it):
	 * make them the frame's, as the kernel's segmentation expects. */
	l4_len = (uint32_t)len - off;
	if (!v6) {
		if (len - CVMBUS_NET_ETH_HLEN > 65535u)
			return -EMSGSIZE;
		wr16be(f + CVMBUS_NET_ETH_HLEN + 2, (uint16_t)(len - CVMBUS_NET_ETH_HLEN));
		ip4_header_csum(f);
	} else {
		if (l4_len > 65535u)
			return -EMSGSIZE;
		wr16be(f + CVMBUS_NET_ETH_HLEN + 4, (uint16_t)l4_len);
	}
	wr16be(f + off + 16, pseudo_sum(f, v6, IPPROTO_TCP_, l4_len));
	out->flags = CVMBUS_NET_OFF_NEEDS_CSUM;
	out->gso_type = v6 ? CVMBUS_NET_GSO_TCPV6 : CVMBUS_NET_GSO_TCPV4;
	out->hdr_len = (uint16_t)hdr_len;
	out->gso_size = (uint16_t)mss;
	out->csum_start = (uint16_t)off;
	out->csum_offset = 16;
	return 0;
}

static int offload_csum(uint8_t *f, size_t len, uint32_t mtu, uint32_t allowed, uint32_t csum,
			struct cvmbus_net_offload *out)
{
	bool v4 = (csum & CVMBUS_RNDIS_CSUM_TX_IPV4) != 0;
	bool v6 = (csum & CVMBUS_RNDIS_CSUM_TX_IPV6) != 0;
	bool tcp = (csum & CVMBUS_RNDIS_CSUM_TX_TCP) != 0;
	bool udp = (csum & CVMBUS_RNDIS_CSUM_TX_UDP) != 0;
	uint32_t off = (csum >> CVMBUS_RNDIS_CSUM_TX_OFF_SHIFT) & CVMBUS_RNDIS_CSUM_TX_OFF_MASK;
	uint32_t proto, l4_len;
	int rc;

	if (len > mtu + CVMBUS_NET_ETH_HLEN)
		return -EMSGSIZE;
	if (v4 == v6 || (tcp && udp))
		return -EINVAL;
	/* An IP header checksum is never granted (Linux computes it before
	 * any offload); nothing at all asked: a plain frame. */
	if (csum & CVMBUS_RNDIS_CSUM_TX_IP)
		return -EPERM;
	if (!tcp && !udp)
		return 0;
	if (!(allowed & (v6 ? CVMBUS_NET_OFFLOAD_CSUM6 : CVMBUS_NET_OFFLOAD_CSUM4)))
		return -EPERM;
	rc = l3_check(f, len, v6, off, &proto, &l4_len);
	if (rc)
		return rc;
	if (proto != (tcp ? IPPROTO_TCP_ : IPPROTO_UDP_))
		return -EPROTO;
	if (l4_len < (tcp ? 20u : 8u) || (uint64_t)off + l4_len > len)
		return -EPROTO;
	wr16be(f + off + (tcp ? 16 : 6), pseudo_sum(f, v6, proto, l4_len));
	out->flags = CVMBUS_NET_OFF_NEEDS_CSUM;
	out->csum_start = (uint16_t)off;
	out->csum_offset = tcp ? 16 : 6;
	return 0;
}

int cvmbus_net_offload_from_rndis(uint8_t *frame, size_t len, uint32_t mtu, uint32_t allowed,
				  bool have_csum, uint32_t csum, bool have_lso, uint32_t lso,
				  struct cvmbus_net_offload *out)
{
	memset(out, 0, sizeof(*out));
	if (len < CVMBUS_NET_MIN_FRAME)
		return -EMSGSIZE;
	/* LSO implies the TCP checksum: a checksum element next to it adds
	 * nothing (Linux sends none) and is not looked at. */
	if (have_lso)
		return offload_lso(frame, len, mtu, allowed, lso, out);
	if (have_csum)
		return offload_csum(frame, len, mtu, allowed, csum, out);
	return len > mtu + CVMBUS_NET_ETH_HLEN ? -EMSGSIZE : 0;
}

int cvmbus_net_offload_to_rndis(const struct cvmbus_net_offload *off, const void *frame,
				size_t len, uint32_t granted, bool *have_csum, uint32_t *csum,
				bool *have_lso, uint32_t *lso)
{
	const uint8_t *f = frame;
	bool v6;

	*have_csum = *have_lso = false;
	*csum = *lso = 0;
	if (off->gso_type != CVMBUS_NET_GSO_NONE) {
		v6 = off->gso_type == CVMBUS_NET_GSO_TCPV6;
		if ((off->gso_type != CVMBUS_NET_GSO_TCPV4 && !v6) ||
		    !(granted & (v6 ? CVMBUS_NET_OFFLOAD_LSO6 : CVMBUS_NET_OFFLOAD_LSO4)))
			return -EINVAL;
		/* A u16 MSS always fits the 20-bit field. */
		if (off->csum_start > CVMBUS_RNDIS_LSO_OFF_MASK || off->gso_size == 0 ||
		    off->csum_start >= len)
			return -EINVAL;
		*lso = CVMBUS_RNDIS_LSO_V2 | (v6 ? CVMBUS_RNDIS_LSO_IPV6 : 0) | off->gso_size |
		       ((uint32_t)off->csum_start << CVMBUS_RNDIS_LSO_OFF_SHIFT);
		*have_lso = true;
		return 0;
	}
	if (!(off->flags & CVMBUS_NET_OFF_NEEDS_CSUM))
		return 0;
	if (len < CVMBUS_NET_ETH_HLEN || off->csum_start > CVMBUS_RNDIS_CSUM_TX_OFF_MASK)
		return -EOPNOTSUPP;
	switch (rd16be(f + 12)) {
	case ETH_P_IPV4: v6 = false; break;
	case ETH_P_IPV6: v6 = true; break;
	default: return -EOPNOTSUPP;
	}
	if (!(granted & (v6 ? CVMBUS_NET_OFFLOAD_CSUM6 : CVMBUS_NET_OFFLOAD_CSUM4)))
		return -EOPNOTSUPP;
	/* The field's place says which transport it is; anything else
	 * (SCTP's CRC, odd offsets) the driver completes itself. */
	if (off->csum_offset == 16)
		*csum = CVMBUS_RNDIS_CSUM_TX_TCP;
	else if (off->csum_offset == 6)
		*csum = CVMBUS_RNDIS_CSUM_TX_UDP;
	else
		return -EOPNOTSUPP;
	*csum |= (v6 ? CVMBUS_RNDIS_CSUM_TX_IPV6 : CVMBUS_RNDIS_CSUM_TX_IPV4) |
		 ((uint32_t)off->csum_start << CVMBUS_RNDIS_CSUM_TX_OFF_SHIFT);
	*have_csum = true;
	return 0;
}

int cvmbus_net_csum_fixup(const struct cvmbus_net_offload *off, const void *frame, size_t len,
			  uint16_t *value)
{
	const uint8_t *f = frame;
	size_t at = (size_t)off->csum_start + off->csum_offset;
	uint16_t v;

	if (off->csum_start >= len || at + 2 > len)
		return -EINVAL;
	/* The field holds the pseudo-header sum: summing over it and the
	 * rest gives the whole sum, whose complement goes in its place. */
	v = (uint16_t)~csum_fold(csum_add(0, f + off->csum_start, len - off->csum_start));
	*value = (uint16_t)((v >> 8) | (v << 8)); /* wire order, as stored */
	return 0;
}

int cvmbus_rndis_build_packet_header_ppi(void *buf, size_t cap, uint32_t frame_len,
					 bool have_csum, uint32_t csum, bool have_lso,
					 uint32_t lso)
{
	uint8_t *b = buf;
	uint32_t n = (have_csum ? 1u : 0u) + (have_lso ? 1u : 0u);
	uint32_t ppi_len = n * CVMBUS_RNDIS_PPI_ELEM_SIZE;
	uint32_t hlen = CVMBUS_RNDIS_PACKET_HEADER_SIZE + ppi_len, at;
	struct cvmbus_rndis_header h;
	struct cvmbus_rndis_packet pk = {
		/* Offsets count from the body: the ppi area follows the
		 * fixed part, the frame follows the ppi. */
		.data_offset = (uint32_t)sizeof(pk) + ppi_len,
		.data_len = frame_len,
		.ppi_offset = ppi_len ? (uint32_t)sizeof(pk) : 0,
		.ppi_len = ppi_len,
	};

	if (cap < hlen || frame_len > INT32_MAX - hlen)
		return -ENOBUFS;
	h.type = CVMBUS_RNDIS_MSG_PACKET;
	h.len = hlen + frame_len;
	memcpy(b, &h, sizeof(h));
	memcpy(b + HDR, &pk, sizeof(pk));
	at = CVMBUS_RNDIS_PACKET_HEADER_SIZE;
	for (uint32_t i = 0; i < 2; i++) {
		struct cvmbus_rndis_ppi e = {
			.size = CVMBUS_RNDIS_PPI_ELEM_SIZE,
			.offset = sizeof(e),
		};
		uint32_t v;

		if (i == 0 && !have_csum)
			continue;
		if (i == 1 && !have_lso)
			continue;
		e.type = i == 0 ? CVMBUS_RNDIS_PPI_CHECKSUM : CVMBUS_RNDIS_PPI_LSO;
		v = i == 0 ? csum : lso;
		memcpy(b + at, &e, sizeof(e));
		memcpy(b + at + sizeof(e), &v, sizeof(v));
		at += CVMBUS_RNDIS_PPI_ELEM_SIZE;
	}
	return (int)hlen;
}
