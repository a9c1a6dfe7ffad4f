/* SPDX-License-Identifier: MIT */
/*
 * Packet framing for the ring layer (src/ring): builds the descriptor and
 * the type header of the packets we send (in-band, completion, GPA direct,
 * transfer pages) and gathers them with the caller's payload into the ring
 * through ring.c's reserve/put/commit; validates and parses packets that
 * ring.c has already copied into private memory. Nothing in this file reads
 * shared memory: every parse works on a copy, so a peer rewriting the ring
 * meanwhile cannot change what we decide.
 *
 * The descriptor check (ring_desc_check) and the parse of a copied packet
 * (ring_body_parse) are inline in ring_internal.h, so that the reader in
 * ring.c runs them on every packet without a call; the parsers of the two
 * type headers (GPA direct, transfer pages) stay here. Packets without a
 * type header are framed here and gathered into the ring in one call
 * (ring_tx_gather); the others go piece by piece through ring_tx_*.
 *
 * Validation follows the hardened readers (OpenVMM's vmbus_ring, mu_msvm's
 * EmclDxe): offset8 >= 2, len8 >= offset8, the whole packet within the
 * readable bytes and the ring, known types and flags only, and type headers
 * that fit before the payload with a range count the header can hold.
 */
#include <errno.h>
#include <string.h>

#include "ring/ring_internal.h"

static const char *const ring_fault_names[CVMBUS_RING_FAULT_COUNT_] = {
	[CVMBUS_RING_FAULT_NONE] = "no fault",
	[CVMBUS_RING_FAULT_WRITE_INDEX_RANGE] = "write index out of range",
	[CVMBUS_RING_FAULT_WRITE_INDEX_ALIGN] = "write index not 8-byte aligned",
	[CVMBUS_RING_FAULT_READ_INDEX_RANGE] = "read index out of range",
	[CVMBUS_RING_FAULT_READ_INDEX_ALIGN] = "read index not 8-byte aligned",
	[CVMBUS_RING_FAULT_SHORT_DATA] = "readable bytes shorter than a packet",
	[CVMBUS_RING_FAULT_OFFSET8] = "data offset inside the descriptor",
	[CVMBUS_RING_FAULT_LEN8] = "packet length below data offset",
	[CVMBUS_RING_FAULT_TOO_BIG] = "packet larger than the ring",
	[CVMBUS_RING_FAULT_TRUNCATED] = "packet longer than the readable bytes",
	[CVMBUS_RING_FAULT_TYPE] = "unknown packet type",
	[CVMBUS_RING_FAULT_FLAGS] = "unknown packet flags",
	[CVMBUS_RING_FAULT_GPA_HEADER] = "gpa direct header past the data offset",
	[CVMBUS_RING_FAULT_GPA_RANGE_COUNT] = "gpa direct packet without ranges",
	[CVMBUS_RING_FAULT_GPA_RANGES] = "gpa ranges overflow the header",
	[CVMBUS_RING_FAULT_GPA_RANGE_EMPTY] = "gpa range of zero bytes",
	[CVMBUS_RING_FAULT_GPA_RANGE_OFFSET] = "gpa range offset beyond its first page",
	[CVMBUS_RING_FAULT_XFER_HEADER] = "transfer page header past the data offset",
	[CVMBUS_RING_FAULT_XFER_RANGE_COUNT] = "transfer page packet without ranges",
	[CVMBUS_RING_FAULT_XFER_RANGES] = "transfer page ranges overflow the header",
};

const char *cvmbus_ring_fault_str(enum cvmbus_ring_fault fault)
{
	if ((unsigned)fault >= CVMBUS_RING_FAULT_COUNT_ || !ring_fault_names[fault])
		return "unknown fault";
	return ring_fault_names[fault];
}

/* Pages a GPA range touches: its first page plus whatever byte_count spills
 * into. 64-bit so that hostile values cannot wrap. */
static uint64_t ring_gpa_pages(uint32_t byte_offset, uint32_t byte_count)
{
	return ((uint64_t)byte_offset + byte_count + CVMBUS_RING_PAGE_SIZE - 1) /
	       CVMBUS_RING_PAGE_SIZE;
}

/* ---- validating a copy ------------------------------------------------ */

/* GPA direct: header {reserved, range_count}, then ranges of
 * {byte_count, byte_offset, pfn[pages]} that must all end by offset8 * 8.
 * Bytes after the last range are tolerated (as OpenVMM does). Each range
 * consumes at least 16 bytes, so a hostile range_count cannot make the loop
 * run longer than the header allows. */
bool ring_parse_gpa(const uint8_t *hdr, uint32_t hdr_len, struct cvmbus_ring_packet *pkt,
		    struct cvmbus_ring_fault_info *f)
{
	struct cvmbus_ring_gpa_direct_header gh;
	uint64_t p = sizeof(gh);
	uint32_t i;

	if (hdr_len < sizeof(gh))
		return ring_bad(f, CVMBUS_RING_FAULT_GPA_HEADER, hdr_len);
	memcpy(&gh, hdr, sizeof(gh));
	if (gh.range_count == 0)
		return ring_bad(f, CVMBUS_RING_FAULT_GPA_RANGE_COUNT, 0);
	for (i = 0; i < gh.range_count; i++) {
		struct cvmbus_ring_gpa_range_header rh;
		uint64_t need;

		if (hdr_len - p < sizeof(rh))
			return ring_bad(f, CVMBUS_RING_FAULT_GPA_RANGES, gh.range_count);
		memcpy(&rh, hdr + p, sizeof(rh));
		if (rh.byte_count == 0)
			return ring_bad(f, CVMBUS_RING_FAULT_GPA_RANGE_EMPTY, i);
		if (rh.byte_offset >= CVMBUS_RING_PAGE_SIZE)
			return ring_bad(f, CVMBUS_RING_FAULT_GPA_RANGE_OFFSET, rh.byte_offset);
		need = sizeof(rh) + ring_gpa_pages(rh.byte_offset, rh.byte_count) * 8u;
		if (need > hdr_len - p)
			return ring_bad(f, CVMBUS_RING_FAULT_GPA_RANGES, gh.range_count);
		p += need;
	}
	pkt->range_count = gh.range_count;
	pkt->ranges = hdr + sizeof(gh);
	pkt->ranges_len = (uint32_t)(p - sizeof(gh));
	return true;
}

bool ring_parse_xfer(const uint8_t *hdr, uint32_t hdr_len, struct cvmbus_ring_packet *pkt,
		     struct cvmbus_ring_fault_info *f)
{
	struct cvmbus_ring_xfer_header xh;

	if (hdr_len < sizeof(xh))
		return ring_bad(f, CVMBUS_RING_FAULT_XFER_HEADER, hdr_len);
	memcpy(&xh, hdr, sizeof(xh));
	if (xh.range_count == 0)
		return ring_bad(f, CVMBUS_RING_FAULT_XFER_RANGE_COUNT, 0);
	if (sizeof(xh) + (uint64_t)xh.range_count * sizeof(struct cvmbus_ring_xfer_range) > hdr_len)
		return ring_bad(f, CVMBUS_RING_FAULT_XFER_RANGES, xh.range_count);
	pkt->range_count = xh.range_count;
	pkt->xfer_set_id = xh.set_id;
	pkt->ranges = hdr + sizeof(xh);
	pkt->ranges_len = xh.range_count * (uint32_t)sizeof(struct cvmbus_ring_xfer_range);
	return true;
}

/* ---- reading ranges out of a parsed copy ------------------------------ */

int cvmbus_ring_packet_gpa_range(const struct cvmbus_ring_packet *pkt, uint32_t *cursor,
				 struct cvmbus_ring_gpa_view *out)
{
	struct cvmbus_ring_gpa_range_header rh;
	uint64_t pages, need;

	if (!pkt || !cursor || !out || pkt->type != CVMBUS_RING_PKT_GPA_DIRECT || !pkt->ranges)
		return -EINVAL;
	if (*cursor == pkt->ranges_len)
		return 0;
	/* Already validated when the packet was parsed; checked again because
	 * the cursor comes from our caller, not from that parse. */
	if (*cursor > pkt->ranges_len || pkt->ranges_len - *cursor < sizeof(rh))
		return -EINVAL;
	memcpy(&rh, pkt->ranges + *cursor, sizeof(rh));
	pages = ring_gpa_pages(rh.byte_offset, rh.byte_count);
	need = sizeof(rh) + pages * 8u;
	if (need > pkt->ranges_len - *cursor)
		return -EINVAL;
	out->byte_count = rh.byte_count;
	out->byte_offset = rh.byte_offset;
	out->pfn_count = (uint32_t)pages;
	out->pfn_bytes = pkt->ranges + *cursor + sizeof(rh);
	*cursor += (uint32_t)need;
	return 1;
}

uint64_t cvmbus_ring_gpa_view_pfn(const struct cvmbus_ring_gpa_view *v, uint32_t i)
{
	uint64_t pfn;

	if (!v || i >= v->pfn_count)
		return 0;
	memcpy(&pfn, v->pfn_bytes + (size_t)i * 8u, sizeof(pfn));
	return pfn;
}

int cvmbus_ring_packet_xfer_range(const struct cvmbus_ring_packet *pkt, uint32_t i,
				  struct cvmbus_ring_xfer_range *out)
{
	if (!pkt || !out || pkt->type != CVMBUS_RING_PKT_XFER_PAGES || !pkt->ranges ||
	    i >= pkt->range_count)
		return -EINVAL;
	memcpy(out, pkt->ranges + (size_t)i * sizeof(*out), sizeof(*out));
	return 0;
}

/* ---- writing ---------------------------------------------------------- */

static int ring_iov_total(const struct cvmbus_ring_iov *iov, size_t n, uint64_t *total)
{
	uint64_t sum = 0;
	size_t i;

	if (n && !iov)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (iov[i].len && !iov[i].base)
			return -EINVAL;
		if (iov[i].len > CVMBUS_RING_MAX_PACKET_LEN)
			return -EMSGSIZE;
		sum += iov[i].len;
		if (sum > CVMBUS_RING_MAX_PACKET_LEN)
			return -EMSGSIZE;
	}
	*total = sum;
	return 0;
}

static void ring_put_iov(struct ring_tx *tx, const struct cvmbus_ring_iov *iov, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ring_tx_put(tx, iov[i].base, iov[i].len);
}

/* Bytes of the type header (between descriptor and payload) for pkt, after
 * checking that its ranges are what the reader will accept: we never send
 * what we would refuse. */
static int ring_outpkt_header_len(const struct cvmbus_ring_outpkt *p, uint64_t *len)
{
	uint64_t n;
	uint32_t i;

	switch (p->type) {
	case CVMBUS_RING_PKT_INBAND:
	case CVMBUS_RING_PKT_COMPLETION:
		if (p->gpa_count || p->xfer_count)
			return -EINVAL;
		*len = 0;
		return 0;
	case CVMBUS_RING_PKT_GPA_DIRECT:
		if (p->gpa_count == 0 || !p->gpa || p->xfer_count)
			return -EINVAL;
		n = sizeof(struct cvmbus_ring_gpa_direct_header);
		for (i = 0; i < p->gpa_count; i++) {
			const struct cvmbus_ring_gpa_range *g = &p->gpa[i];

			if (g->byte_count == 0 || g->byte_offset >= CVMBUS_RING_PAGE_SIZE ||
			    g->pfn_count != ring_gpa_pages(g->byte_offset, g->byte_count) ||
			    !g->pfns)
				return -EINVAL;
			n += sizeof(struct cvmbus_ring_gpa_range_header) + (uint64_t)g->pfn_count * 8u;
			if (n > CVMBUS_RING_MAX_PACKET_LEN)
				return -EMSGSIZE;
		}
		*len = n;
		return 0;
	case CVMBUS_RING_PKT_XFER_PAGES:
		if (p->xfer_count == 0 || !p->xfer || p->gpa_count)
			return -EINVAL;
		n = sizeof(struct cvmbus_ring_xfer_header) +
		    (uint64_t)p->xfer_count * sizeof(struct cvmbus_ring_xfer_range);
		if (n > CVMBUS_RING_MAX_PACKET_LEN)
			return -EMSGSIZE;
		*len = n;
		return 0;
	}
	return -EINVAL;
}

int cvmbus_ring_send(struct cvmbus_ring *r, const struct cvmbus_ring_outpkt *p, bool *signal,
		     uint32_t *needed)
{
	struct cvmbus_ring_desc d;
	struct ring_tx tx;
	uint64_t hdr_len, payload_len, off, body;
	uint32_t i;
	int rc;

	if (signal)
		*signal = false;
	rc = ring_usable(r, CVMBUS_RING_WRITER, CVMBUS_RING_WRITER);
	if (rc)
		return rc;
	if (!p || (p->flags & ~(uint16_t)CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED))
		return -EINVAL;
	rc = ring_outpkt_header_len(p, &hdr_len);
	if (rc)
		return rc;
	rc = ring_iov_total(p->payload, p->payload_count, &payload_len);
	if (rc)
		return rc;
	off = CVMBUS_RING_DESC_SIZE + hdr_len; /* a multiple of 8 by construction */
	body = off + payload_len;
	if (ring_round8(body) > CVMBUS_RING_MAX_PACKET_LEN) {
		if (needed)
			*needed = (uint32_t)(ring_round8(body) + CVMBUS_RING_TRAILER_SIZE);
		return -EMSGSIZE;
	}

	d.type = (uint16_t)p->type;
	d.offset8 = (uint16_t)(off / 8u);
	d.len8 = (uint16_t)(ring_round8(body) / 8u);
	d.flags = p->flags;
	d.trans_id = p->trans_id;

	/* No type header: descriptor and payload in one gathered copy. */
	if (p->type == CVMBUS_RING_PKT_INBAND || p->type == CVMBUS_RING_PKT_COMPLETION)
		return ring_tx_gather(r, &d, p->payload, p->payload_count, (uint32_t)payload_len,
				      signal, needed);

	rc = ring_tx_begin(r, body, &tx, needed);
	if (rc)
		return rc;
	ring_tx_put(&tx, &d, sizeof(d));
	if (p->type == CVMBUS_RING_PKT_GPA_DIRECT) {
		struct cvmbus_ring_gpa_direct_header gh = { .reserved = 0,
							    .range_count = p->gpa_count };

		ring_tx_put(&tx, &gh, sizeof(gh));
		for (i = 0; i < p->gpa_count; i++) {
			struct cvmbus_ring_gpa_range_header rh = {
				.byte_count = p->gpa[i].byte_count,
				.byte_offset = p->gpa[i].byte_offset,
			};

			ring_tx_put(&tx, &rh, sizeof(rh));
			ring_tx_put(&tx, p->gpa[i].pfns, (size_t)p->gpa[i].pfn_count * 8u);
		}
	} else if (p->type == CVMBUS_RING_PKT_XFER_PAGES) {
		struct cvmbus_ring_xfer_header xh = { .set_id = p->xfer_set_id,
						      .reserved = 0,
						      .range_count = p->xfer_count };

		ring_tx_put(&tx, &xh, sizeof(xh));
		ring_tx_put(&tx, p->xfer, (size_t)p->xfer_count * sizeof(*p->xfer));
	}
	ring_put_iov(&tx, p->payload, p->payload_count);
	return ring_tx_commit(&tx, signal);
}

/* The common case, without the general path's outpkt, iov walk and type
 * switch: the same argument checks in the same order (so the same errors),
 * the descriptor built here, and one gathered copy into the ring. */
int cvmbus_ring_send_inband(struct cvmbus_ring *r, uint16_t flags, uint64_t trans_id,
			    const void *data, size_t len, bool *signal, uint32_t *needed)
{
	struct cvmbus_ring_iov iov = { .base = data, .len = len };
	struct cvmbus_ring_desc d;
	uint64_t padded;
	int rc;

	if (signal)
		*signal = false;
	rc = ring_usable(r, CVMBUS_RING_WRITER, CVMBUS_RING_WRITER);
	if (RING_UNLIKELY(rc))
		return rc;
	if (RING_UNLIKELY(flags & ~(uint16_t)CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED))
		return -EINVAL;
	if (RING_UNLIKELY(len && !data))
		return -EINVAL;
	if (RING_UNLIKELY(len > CVMBUS_RING_MAX_PACKET_LEN))
		return -EMSGSIZE;
	padded = ring_round8(CVMBUS_RING_DESC_SIZE + (uint64_t)len);
	if (RING_UNLIKELY(padded > CVMBUS_RING_MAX_PACKET_LEN)) {
		if (needed)
			*needed = (uint32_t)(padded + CVMBUS_RING_TRAILER_SIZE);
		return -EMSGSIZE;
	}
	d.type = CVMBUS_RING_PKT_INBAND;
	d.offset8 = CVMBUS_RING_DESC_SIZE / 8u;
	d.len8 = (uint16_t)(padded / 8u);
	d.flags = flags;
	d.trans_id = trans_id;
	return ring_tx_gather(r, &d, &iov, len ? 1 : 0, (uint32_t)len, signal, needed);
}

int cvmbus_ring_write(struct cvmbus_ring *r, const struct cvmbus_ring_iov *iov, size_t iovcnt,
		      bool *signal, uint32_t *needed)
{
	struct cvmbus_ring_fault_info f = { 0 };
	struct cvmbus_ring_desc d;
	struct ring_tx tx;
	uint8_t *dp = (uint8_t *)&d;
	uint64_t total;
	size_t i, got = 0;
	int rc;

	if (signal)
		*signal = false;
	rc = ring_usable(r, CVMBUS_RING_WRITER, CVMBUS_RING_WRITER);
	if (rc)
		return rc;
	rc = ring_iov_total(iov, iovcnt, &total);
	if (rc)
		return rc;
	if (total < CVMBUS_RING_DESC_SIZE)
		return -EINVAL;
	/* The descriptor may be split across the caller's pieces. */
	for (i = 0; i < iovcnt && got < sizeof(d); i++) {
		size_t take = iov[i].len < sizeof(d) - got ? iov[i].len : sizeof(d) - got;

		memcpy(dp + got, iov[i].base, take);
		got += take;
	}
	if ((uint64_t)d.len8 * 8u != ring_round8(total))
		return -EINVAL;
	/* The reader's own descriptor rules (the ring is empty as far as the
	 * length checks go: avail = the whole ring less the reserved 8). */
	if (!ring_desc_check(&d, r->view.size - CVMBUS_RING_TRAILER_SIZE, r->view.size, &f))
		return f.fault == CVMBUS_RING_FAULT_TOO_BIG ? -EMSGSIZE : -EINVAL;

	rc = ring_tx_begin(r, total, &tx, needed);
	if (rc)
		return rc;
	ring_put_iov(&tx, iov, iovcnt);
	return ring_tx_commit(&tx, signal);
}
