/* SPDX-License-Identifier: MIT */
/*
 * The network VSP (include/cvmbus/net.h), layer src/dev: the device side of
 * a netvsc channel, written once against the channel API so that the same
 * code is the host's device or the paravisor's; which view of guest memory
 * it uses is the channel's memory ops' business, never this file's.
 *
 * One thread ("netvsp") serves the channel: NVSP requests (version, NDIS
 * version and config, the receive and send buffer GPADLs), RNDIS messages
 * from the guest (in a send-buffer section or in GPA-direct ranges), and the
 * guest's completions of the receive sections we indicated. Frames to the
 * guest come from any thread through cvmbus_netvsp_send_frame(): a section
 * allocator hands out receive-buffer sections, a section is written, then
 * named by a transfer-page packet, and comes back only with the guest's
 * completion. A few sections are reserved for control answers so that a
 * guest slow to return frames cannot starve its own QUERY.
 *
 * Trust: the guest is hostile. Every NVSP message is decoded by nvsp.c,
 * every RNDIS message parsed by rndis.c from a private copy; a bad one is
 * refused (a failure status in its completion), counted, logged at a
 * limited rate, and the channel goes on. Only a ring violation ends the
 * channel (the channel layer closes it; this thread then stops, FAILED).
 *
 * Offloads (cfg.offloads, with tx_frame_off): the capabilities OID is
 * answered, OID_TCP_OFFLOAD_PARAMETERS taken all or nothing, and every
 * PACKET's checksum/LSO info checked against its frame by rndis.c before
 * the frame goes to the backend with its GSO/checksum state; info the
 * guest was not granted is refused like any other hostile input.
 *
 * Deadlock freedom with an honest guest: the VSP never has more packets
 * outstanding toward the guest than fit in half the outbound ring (the
 * section count is capped by it), so its own completions always find room.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/log.h>
#include <cvmbus/net.h>

/* Transaction ids of our transfer-page packets: a tag, the buffer's
 * generation (a completion for a buffer since revoked is stale), the
 * section index. */
#define VSP_XFER_TAG 0x4e56000000000000ull /* "NV" */
#define VSP_TAG_MASK 0xffff000000000000ull

/* Ring space one indicated section can take: descriptor 16, transfer
 * header 8, one range 8, the NVSP message 40, the trailer 8. */
#define VSP_XFER_PKT_BYTES 80u

#define SEC_NS 1000000000ull

struct cvmbus_netvsp {
	struct cvmbus_netvsp_config cfg;
	struct cvmbus_exec *exec;
	struct cvmbus_channel *ch;
	struct cvmbus_thread *thread;

	/* Protects everything below except the fields marked "loop only",
	 * which only the VSP's thread touches. */
	struct cvmbus_mutex lock;
	struct cvmbus_cond cond; /* sections freed, buffers gone, state changes */
	enum cvmbus_netvsp_state state;
	enum cvmbus_netvsp_rndis_state rndis;
	bool stopping;
	uint32_t version;
	uint32_t ndis_version;
	uint32_t guest_mtu;
	uint32_t filter;
	bool link_up;
	/* CVMBUS_NET_OFFLOAD_* the guest enabled through
	 * OID_TCP_OFFLOAD_PARAMETERS, within what cfg.offloads offers. */
	uint32_t offloads;

	/* The receive buffer (guest memory we write frames into). */
	bool rx_attached;
	uint16_t rx_id;
	uint16_t rx_gen;
	struct cvmbus_net_gbuf rx;
	uint32_t rx_section_size;
	uint32_t rx_sections;      /* data + control */
	uint32_t rx_data_sections; /* [0, this) data, the rest control */
	uint8_t *rx_busy;          /* per section: out at the guest */
	uint32_t *rx_free_data, rx_free_data_n;
	uint32_t *rx_free_ctl, rx_free_ctl_n;
	uint32_t rx_writers;       /* threads writing sections right now */

	/* The send buffer (guest memory we read frames from): loop only. */
	bool tx_attached;
	uint16_t tx_id;
	struct cvmbus_net_gbuf tx;
	uint32_t tx_section_size;
	uint32_t tx_sections;

	uint8_t *scratch; /* loop only: the private copy of guest RNDIS bytes */
	size_t scratch_len;

	struct cvmbus_netvsp_stats stats;
};

static uint32_t max_frame(const struct cvmbus_netvsp *vsp)
{
	return vsp->cfg.mtu + CVMBUS_NET_ETH_HLEN;
}

/* A section must hold one RNDIS PACKET header, some per-packet info and
 * the largest frame. */
static uint32_t min_section(uint32_t mtu)
{
	return CVMBUS_RNDIS_PACKET_HEADER_SIZE + 64u + mtu + CVMBUS_NET_ETH_HLEN;
}

static uint32_t round_up(uint32_t v, uint32_t a)
{
	return (v + a - 1) / a * a;
}

/* ---- setup ------------------------------------------------------------------ */

int cvmbus_netvsp_create(struct cvmbus_exec *exec, const struct cvmbus_netvsp_config *cfg,
			 struct cvmbus_netvsp **out)
{
	struct cvmbus_netvsp *vsp;
	uint32_t need;

	if (!exec || !cfg || !cfg->ch || !out)
		return -EINVAL;
	vsp = calloc(1, sizeof(*vsp));
	if (!vsp)
		return -ENOMEM;
	vsp->cfg = *cfg;
	if (!vsp->cfg.mtu)
		vsp->cfg.mtu = CVMBUS_NET_DEFAULT_MTU;
	if (!vsp->cfg.link_speed)
		vsp->cfg.link_speed = 100000000u; /* 10 Gbit/s in 100 bit/s units */
	if (!vsp->cfg.send_timeout_ns)
		vsp->cfg.send_timeout_ns = SEC_NS;
	need = min_section(vsp->cfg.mtu);
	if (!vsp->cfg.recv_section_size)
		vsp->cfg.recv_section_size = need > CVMBUS_NETVSP_RECV_SECTION_SIZE
						     ? round_up(need, 64)
						     : CVMBUS_NETVSP_RECV_SECTION_SIZE;
	if (!vsp->cfg.send_section_size)
		vsp->cfg.send_section_size = need > CVMBUS_NETVSP_SEND_SECTION_SIZE
						     ? round_up(need, 64)
						     : CVMBUS_NETVSP_SEND_SECTION_SIZE;
	/* Offloads go out through tx_frame_off only. */
	if (!vsp->cfg.tx_frame_off)
		vsp->cfg.offloads = 0;
	vsp->cfg.offloads &= CVMBUS_NET_OFFLOAD_ALL;
	if (vsp->cfg.mtu < 68 || vsp->cfg.mtu > CVMBUS_NET_MAX_MTU ||
	    vsp->cfg.recv_section_size < need || vsp->cfg.send_section_size < need ||
	    vsp->cfg.recv_section_size > (1u << 20) || vsp->cfg.send_section_size > (1u << 20)) {
		free(vsp);
		return -EINVAL;
	}
	/* Room for one section plus a page of GPA-direct data (Linux may
	 * put the RNDIS header in a section and the rest in pages); with
	 * LSO offered, for a 64 KiB frame in GPA-direct ranges as well. */
	vsp->scratch_len = vsp->cfg.send_section_size + CVMBUS_RING_PAGE_SIZE;
	if (vsp->cfg.offloads)
		vsp->scratch_len += CVMBUS_NET_GSO_MAX_FRAME + CVMBUS_RNDIS_PACKET_HEADER_MAX;
	vsp->scratch = malloc(vsp->scratch_len);
	if (!vsp->scratch) {
		free(vsp);
		return -ENOMEM;
	}
	vsp->exec = exec;
	vsp->ch = cfg->ch;
	vsp->link_up = !cfg->link_down;
	cvmbus_mutex_init(&vsp->lock, exec, "netvsp");
	cvmbus_cond_init(&vsp->cond, exec, "netvsp");
	*out = vsp;
	return 0;
}

/* ---- sending to the guest ------------------------------------------------------ */

static int vsp_complete(struct cvmbus_netvsp *vsp, uint64_t tid, const struct cvmbus_nvsp_msg *m)
{
	int rc = cvmbus_channel_send_completion(vsp->ch, tid, m, sizeof(*m),
						vsp->cfg.send_timeout_ns);

	if (rc < 0) {
		cvmbus_mutex_lock(&vsp->lock);
		vsp->stats.send_errors++;
		cvmbus_mutex_unlock(&vsp->lock);
	}
	return rc;
}

/* Answer a request the guest asked a completion for with just a status in
 * the type its answer carries. */
static void vsp_reply_status(struct cvmbus_netvsp *vsp, const struct cvmbus_ring_packet *pkt,
			     uint32_t req_type, uint32_t status)
{
	struct cvmbus_nvsp_msg m;

	if (!(pkt->flags & CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED))
		return;
	cvmbus_nvsp_msg_init(&m, cvmbus_nvsp_response_type(req_type));
	m.u.status.status = status;
	(void)vsp_complete(vsp, pkt->trans_id, &m);
}

/* Give a section back (lock held). */
static void section_put(struct cvmbus_netvsp *vsp, uint32_t idx)
{
	vsp->rx_busy[idx] = 0;
	if (idx < vsp->rx_data_sections)
		vsp->rx_free_data[vsp->rx_free_data_n++] = idx;
	else
		vsp->rx_free_ctl[vsp->rx_free_ctl_n++] = idx;
	cvmbus_cond_broadcast(&vsp->cond);
}

/* A section of the receive buffer, taken by the caller (lock held). */
struct vsp_section {
	uint32_t idx;
	uint16_t gen;
	uint16_t set_id;
	uint32_t offset;
};

static void section_take(struct cvmbus_netvsp *vsp, uint32_t idx, struct vsp_section *s)
{
	vsp->rx_busy[idx] = 1;
	vsp->rx_writers++;
	s->idx = idx;
	s->gen = vsp->rx_gen;
	s->set_id = vsp->rx_id;
	s->offset = idx * vsp->rx_section_size;
}

/* Write an RNDIS message (hdr, then body) into a taken section, then name
 * it in a transfer-page packet. The section goes back on failure. */
static int section_indicate(struct cvmbus_netvsp *vsp, const struct vsp_section *s,
			    const void *hdr, size_t hdr_len, const void *body, size_t body_len,
			    uint32_t channel_type)
{
	struct cvmbus_nvsp_msg m;
	struct cvmbus_ring_xfer_range range;
	struct cvmbus_ring_iov iov = { .base = &m, .len = sizeof(m) };
	struct cvmbus_ring_outpkt pkt = {
		.type = CVMBUS_RING_PKT_XFER_PAGES,
		.flags = CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED,
		.trans_id = VSP_XFER_TAG | (uint64_t)s->gen << 32 | s->idx,
		.xfer_set_id = s->set_id,
		.xfer = &range,
		.xfer_count = 1,
		.payload = &iov,
		.payload_count = 1,
	};
	int rc;

	/* The buffer cannot go away while rx_writers counts us. */
	rc = cvmbus_net_gbuf_write(vsp->ch, &vsp->rx, s->offset, hdr, hdr_len);
	if (rc == 0 && body_len)
		rc = cvmbus_net_gbuf_write(vsp->ch, &vsp->rx, s->offset + (uint32_t)hdr_len, body,
					   body_len);
	cvmbus_mutex_lock(&vsp->lock);
	if (--vsp->rx_writers == 0)
		cvmbus_cond_broadcast(&vsp->cond);
	cvmbus_mutex_unlock(&vsp->lock);

	if (rc == 0) {
		cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RNDIS_PKT);
		m.u.rndis.channel_type = channel_type;
		m.u.rndis.section_index = CVMBUS_NVSP_NO_SECTION;
		m.u.rndis.section_size = 0;
		range.byte_count = (uint32_t)(hdr_len + body_len);
		range.byte_offset = s->offset;
		/* The section's bytes are written before the packet is
		 * published: the ring's release store orders them. */
		rc = cvmbus_channel_send(vsp->ch, &pkt, vsp->cfg.send_timeout_ns);
	}
	if (rc < 0) {
		cvmbus_mutex_lock(&vsp->lock);
		vsp->stats.send_errors++;
		if (vsp->rx_attached && vsp->rx_gen == s->gen && vsp->rx_busy[s->idx])
			section_put(vsp, s->idx);
		cvmbus_mutex_unlock(&vsp->lock);
	}
	return rc;
}

/* An RNDIS control message to the guest, in a reserved section. Never
 * waits for one: the thread that answers is the thread that must read the
 * completions that free them. */
static int vsp_send_control(struct cvmbus_netvsp *vsp, const void *msg, size_t len)
{
	struct vsp_section s;

	cvmbus_mutex_lock(&vsp->lock);
	if (!vsp->rx_attached || !vsp->rx_free_ctl_n || len > vsp->rx_section_size) {
		vsp->stats.responses_dropped++;
		cvmbus_mutex_unlock(&vsp->lock);
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsp: no receive section for a control answer");
		return -ENOBUFS;
	}
	section_take(vsp, vsp->rx_free_ctl[--vsp->rx_free_ctl_n], &s);
	cvmbus_mutex_unlock(&vsp->lock);
	return section_indicate(vsp, &s, msg, len, NULL, 0, CVMBUS_NVSP_CHANNEL_CONTROL);
}

int cvmbus_netvsp_send_frame(struct cvmbus_netvsp *vsp, const void *frame, size_t len,
			     uint64_t timeout_ns)
{
	static const struct cvmbus_net_offload plain;

	return cvmbus_netvsp_send_frame_off(vsp, &plain, frame, len, timeout_ns);
}

int cvmbus_netvsp_send_frame_off(struct cvmbus_netvsp *vsp, const struct cvmbus_net_offload *off,
				 const void *frame, size_t len, uint64_t timeout_ns)
{
	uint64_t deadline = cvmbus_exec_deadline(vsp->exec, timeout_ns);
	uint8_t hdr[CVMBUS_RNDIS_PACKET_HEADER_MAX];
	struct vsp_section s;
	bool csum_ok = false;
	int rc, hlen;

	if (len < CVMBUS_NET_MIN_FRAME || len > max_frame(vsp))
		return -EMSGSIZE;
	cvmbus_mutex_lock(&vsp->lock);
	for (;;) {
		if (vsp->stopping || vsp->state >= CVMBUS_NETVSP_STOPPED) {
			rc = -ESHUTDOWN;
			goto out_unlock;
		}
		if (!vsp->rx_attached || vsp->rndis != CVMBUS_NETVSP_RNDIS_INITIALIZED ||
		    !vsp->filter) {
			vsp->stats.rx_not_ready++;
			rc = -ENOTCONN;
			goto out_unlock;
		}
		if (!cvmbus_net_filter_accepts(vsp->filter, vsp->cfg.mac, frame, len)) {
			vsp->stats.rx_filtered++;
			rc = 0;
			goto out_unlock;
		}
		if (vsp->rx_free_data_n)
			break;
		if (timeout_ns == 0) {
			vsp->stats.rx_no_section++;
			rc = -EAGAIN;
			goto out_unlock;
		}
		if (cvmbus_cond_wait_until(&vsp->cond, &vsp->lock, deadline) == -ETIMEDOUT) {
			vsp->stats.rx_no_section++;
			rc = -ETIMEDOUT;
			goto out_unlock;
		}
	}
	section_take(vsp, vsp->rx_free_data[--vsp->rx_free_data_n], &s);
	/* The backend vouched for the checksum: tell a guest that asked,
	 * as Hyper-V's "checksum succeeded", so its stack does not sum
	 * again. Only then: a frame with a partial checksum (NEEDS_CSUM)
	 * is not correct on the wire, and a guest told it was would pass
	 * it on wrong if it forwards. None comes today (the host TAP is
	 * opened without TUN_F_CSUM); one that did would go unmarked and
	 * the guest would check, and drop, it. */
	csum_ok = (vsp->offloads & CVMBUS_NET_OFFLOAD_RXCSUM) &&
		  (off->flags & CVMBUS_NET_OFF_CSUM_VALID) &&
		  !(off->flags & CVMBUS_NET_OFF_NEEDS_CSUM);
	cvmbus_mutex_unlock(&vsp->lock);

	hlen = cvmbus_rndis_build_packet_header_ppi(
		hdr, sizeof(hdr), (uint32_t)len, csum_ok,
		CVMBUS_RNDIS_CSUM_RX_TCP_OK | CVMBUS_RNDIS_CSUM_RX_UDP_OK | CVMBUS_RNDIS_CSUM_RX_IP_OK,
		false, 0);
	rc = section_indicate(vsp, &s, hdr, (size_t)hlen, frame, len, CVMBUS_NVSP_CHANNEL_DATA);
	cvmbus_mutex_lock(&vsp->lock);
	if (rc == 0) {
		vsp->stats.rx_frames++;
		vsp->stats.rx_bytes += len;
		if (csum_ok)
			vsp->stats.rx_csum_marked++;
	}
out_unlock:
	cvmbus_mutex_unlock(&vsp->lock);
	return rc;
}

void cvmbus_netvsp_frame_in(void *vsp, const void *frame, size_t len)
{
	/* A NIC whose guest does not return buffers drops; so do we, after
	 * a short wait. The drop is counted in the stats. */
	(void)cvmbus_netvsp_send_frame(vsp, frame, len, SEC_NS / 10);
}

static int vsp_indicate_link(struct cvmbus_netvsp *vsp, bool up)
{
	uint8_t msg[64];
	int len = cvmbus_rndis_build_indicate(msg, sizeof(msg),
					      up ? CVMBUS_RNDIS_STATUS_MEDIA_CONNECT
						 : CVMBUS_RNDIS_STATUS_MEDIA_DISCONNECT,
					      NULL, 0);
	int rc = vsp_send_control(vsp, msg, (size_t)len);

	if (rc == 0) {
		cvmbus_mutex_lock(&vsp->lock);
		vsp->stats.link_indications++;
		cvmbus_mutex_unlock(&vsp->lock);
	}
	return rc;
}

int cvmbus_netvsp_set_link(struct cvmbus_netvsp *vsp, bool up)
{
	bool tell;

	cvmbus_mutex_lock(&vsp->lock);
	vsp->link_up = up;
	tell = vsp->rx_attached && vsp->rndis == CVMBUS_NETVSP_RNDIS_INITIALIZED;
	cvmbus_mutex_unlock(&vsp->lock);
	return tell ? vsp_indicate_link(vsp, up) : 0;
}

/* ---- buffers ------------------------------------------------------------------- */

/* Forget the receive buffer; waits out writers in flight (lock held). */
static void rx_detach_locked(struct cvmbus_netvsp *vsp)
{
	vsp->rx_attached = false;
	while (vsp->rx_writers)
		cvmbus_cond_wait(&vsp->cond, &vsp->lock);
	cvmbus_net_gbuf_fini(&vsp->rx);
	free(vsp->rx_busy);
	free(vsp->rx_free_data);
	free(vsp->rx_free_ctl);
	vsp->rx_busy = NULL;
	vsp->rx_free_data = vsp->rx_free_ctl = NULL;
	vsp->rx_free_data_n = vsp->rx_free_ctl_n = 0;
	vsp->rx_sections = vsp->rx_data_sections = 0;
	cvmbus_cond_broadcast(&vsp->cond);
}

static void vsp_attach_rx(struct cvmbus_netvsp *vsp, const struct cvmbus_ring_packet *pkt,
			  const struct cvmbus_nvsp_msg *req)
{
	struct cvmbus_nvsp_msg m;
	struct cvmbus_gpadl_info info;
	struct cvmbus_net_gbuf buf;
	uint32_t size = vsp->cfg.recv_section_size, n, cap, i;
	uint8_t *busy = NULL;
	uint32_t *fd = NULL, *fc = NULL;
	int rc;

	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RECV_BUF_COMPLETE);
	m.u.recv_buf_complete.status = CVMBUS_NVSP_STATUS_FAILURE;
	if (vsp->rx_attached) {
		/* One receive buffer per channel; revoke first. */
		vsp->stats.bad_nvsp++;
		goto reply;
	}
	rc = cvmbus_channel_gpadl_lookup(vsp->ch, req->u.buf.gpadl, &info);
	if (rc == 0)
		rc = cvmbus_net_gbuf_init(&buf, &info);
	if (rc < 0) {
		vsp->stats.bad_gpadl++;
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsp: unusable receive buffer gpadl %#x: %d",
			      req->u.buf.gpadl, rc);
		goto reply;
	}
	n = buf.bytes / size;
	/* Never more indications in flight than half the ring holds. */
	cap = cvmbus_ring_data_size(&vsp->ch->rings.out) / 2 / VSP_XFER_PKT_BYTES;
	if (n > cap)
		n = cap;
	if (n < CVMBUS_NETVSP_CONTROL_SECTIONS + 1) {
		vsp->stats.bad_gpadl++;
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsp: receive buffer too small (%u bytes)",
			      buf.bytes);
		cvmbus_net_gbuf_fini(&buf);
		goto reply;
	}
	busy = calloc(n, 1);
	fd = calloc(n, sizeof(*fd));
	fc = calloc(CVMBUS_NETVSP_CONTROL_SECTIONS, sizeof(*fc));
	if (!busy || !fd || !fc) {
		free(busy);
		free(fd);
		free(fc);
		cvmbus_net_gbuf_fini(&buf);
		goto reply;
	}
	cvmbus_mutex_lock(&vsp->lock);
	vsp->rx = buf;
	vsp->rx_id = req->u.buf.id;
	vsp->rx_gen++;
	vsp->rx_section_size = size;
	vsp->rx_sections = n;
	vsp->rx_data_sections = n - CVMBUS_NETVSP_CONTROL_SECTIONS;
	vsp->rx_busy = busy;
	vsp->rx_free_data = fd;
	vsp->rx_free_ctl = fc;
	/* Pushed high to low so that sections go out in ascending order. */
	vsp->rx_free_data_n = 0;
	for (i = vsp->rx_data_sections; i-- > 0;)
		fd[vsp->rx_free_data_n++] = i;
	vsp->rx_free_ctl_n = 0;
	for (i = n; i-- > vsp->rx_data_sections;)
		fc[vsp->rx_free_ctl_n++] = i;
	vsp->rx_attached = true;
	cvmbus_cond_broadcast(&vsp->cond);
	cvmbus_mutex_unlock(&vsp->lock);

	m.u.recv_buf_complete.status = CVMBUS_NVSP_STATUS_SUCCESS;
	m.u.recv_buf_complete.num_sections = 1;
	m.u.recv_buf_complete.section.offset = 0;
	m.u.recv_buf_complete.section.sub_alloc_size = size;
	m.u.recv_buf_complete.section.num_sub_allocs = n;
	m.u.recv_buf_complete.section.end_offset = n * size;
reply:
	if (pkt->flags & CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED)
		(void)vsp_complete(vsp, pkt->trans_id, &m);
}

static void vsp_attach_tx(struct cvmbus_netvsp *vsp, const struct cvmbus_ring_packet *pkt,
			  const struct cvmbus_nvsp_msg *req)
{
	struct cvmbus_nvsp_msg m;
	struct cvmbus_gpadl_info info;
	struct cvmbus_net_gbuf buf;
	uint32_t size = vsp->cfg.send_section_size;
	int rc;

	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_SEND_BUF_COMPLETE);
	m.u.send_buf_complete.status = CVMBUS_NVSP_STATUS_FAILURE;
	if (vsp->tx_attached) {
		vsp->stats.bad_nvsp++;
		goto reply;
	}
	rc = cvmbus_channel_gpadl_lookup(vsp->ch, req->u.buf.gpadl, &info);
	if (rc == 0)
		rc = cvmbus_net_gbuf_init(&buf, &info);
	if (rc < 0) {
		vsp->stats.bad_gpadl++;
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsp: unusable send buffer gpadl %#x: %d",
			      req->u.buf.gpadl, rc);
		goto reply;
	}
	if (buf.bytes < size) {
		vsp->stats.bad_gpadl++;
		cvmbus_net_gbuf_fini(&buf);
		goto reply;
	}
	vsp->tx = buf;
	vsp->tx_id = req->u.buf.id;
	vsp->tx_section_size = size;
	vsp->tx_sections = buf.bytes / size;
	vsp->tx_attached = true;
	m.u.send_buf_complete.status = CVMBUS_NVSP_STATUS_SUCCESS;
	m.u.send_buf_complete.section_size = size;
reply:
	if (pkt->flags & CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED)
		(void)vsp_complete(vsp, pkt->trans_id, &m);
}

static void tx_detach(struct cvmbus_netvsp *vsp)
{
	cvmbus_net_gbuf_fini(&vsp->tx);
	vsp->tx_attached = false;
	vsp->tx_sections = 0;
}

/* ---- RNDIS from the guest ----------------------------------------------------- */

/* What this device offers, as NDIS_OFFLOAD (revision 3): transmit
 * checksums of TCP and UDP (with options) and LSOv2 for the families in
 * cfg.offloads, up to the largest IP datagram, at least two segments;
 * nothing else (no IP header checksum, no IPv6 extension headers). */
static void vsp_offload_caps(struct cvmbus_netvsp *vsp, uint8_t *val, uint32_t *len)
{
	struct cvmbus_ndis_offload o;
	uint32_t f = vsp->cfg.offloads;
	uint32_t l4 = CVMBUS_NDIS_CSUM_CAP_TCP | CVMBUS_NDIS_CSUM_CAP_TCPOPT |
		      CVMBUS_NDIS_CSUM_CAP_UDP;

	memset(&o, 0, sizeof(o));
	o.header.type = CVMBUS_NDIS_OBJECT_TYPE_OFFLOAD;
	o.header.revision = 3;
	o.header.size = sizeof(o);
	if (f & CVMBUS_NET_OFFLOAD_CSUM4) {
		o.csum[0] = CVMBUS_NDIS_ENCAP_8023;
		o.csum[1] = l4;
	}
	if (f & CVMBUS_NET_OFFLOAD_RXCSUM) {
		o.csum[2] = CVMBUS_NDIS_ENCAP_8023;
		o.csum[3] = l4;
		o.csum[6] = CVMBUS_NDIS_ENCAP_8023;
		o.csum[7] = l4;
	}
	if (f & CVMBUS_NET_OFFLOAD_CSUM6) {
		o.csum[4] = CVMBUS_NDIS_ENCAP_8023;
		o.csum[5] = l4;
	}
	if (f & CVMBUS_NET_OFFLOAD_LSO4) {
		o.lsov2[0] = CVMBUS_NDIS_ENCAP_8023;
		o.lsov2[1] = 65535u;
		o.lsov2[2] = 2;
	}
	if (f & CVMBUS_NET_OFFLOAD_LSO6) {
		o.lsov2[3] = CVMBUS_NDIS_ENCAP_8023;
		o.lsov2[4] = 65535u;
		o.lsov2[5] = 2;
		o.lsov2[6] = CVMBUS_NDIS_LSOV2_CAP_TCP6OPT;
	}
	memcpy(val, &o, sizeof(o));
	*len = sizeof(o);
}

/* OID_TCP_OFFLOAD_PARAMETERS: each field changes one offload (0 keeps
 * it); a value outside the field's set, or an offload this device does
 * not offer, refuses the whole request and changes nothing. */
static uint32_t vsp_set_offloads(struct cvmbus_netvsp *vsp, const struct cvmbus_rndis_msg *msg)
{
	struct cvmbus_ndis_offload_params p;
	uint32_t cur, want, offer = vsp->cfg.offloads;
	const struct {
		size_t at;       /* the field's offset */
		uint32_t tx, rx; /* what TX and RX enable */
		bool lso;
	} fields[] = {
		{ offsetof(struct cvmbus_ndis_offload_params, tcp4_csum), CVMBUS_NET_OFFLOAD_CSUM4,
		  CVMBUS_NET_OFFLOAD_RXCSUM, false },
		{ offsetof(struct cvmbus_ndis_offload_params, udp4_csum), CVMBUS_NET_OFFLOAD_CSUM4,
		  CVMBUS_NET_OFFLOAD_RXCSUM, false },
		{ offsetof(struct cvmbus_ndis_offload_params, tcp6_csum), CVMBUS_NET_OFFLOAD_CSUM6,
		  CVMBUS_NET_OFFLOAD_RXCSUM, false },
		{ offsetof(struct cvmbus_ndis_offload_params, udp6_csum), CVMBUS_NET_OFFLOAD_CSUM6,
		  CVMBUS_NET_OFFLOAD_RXCSUM, false },
		{ offsetof(struct cvmbus_ndis_offload_params, lso_v2_ip4), CVMBUS_NET_OFFLOAD_LSO4, 0,
		  true },
		{ offsetof(struct cvmbus_ndis_offload_params, lso_v2_ip6), CVMBUS_NET_OFFLOAD_LSO6, 0,
		  true },
	};

	if (!offer)
		return CVMBUS_RNDIS_STATUS_NOT_SUPPORTED;
	if (msg->info_len < CVMBUS_NDIS_OFFLOAD_PARAMS_MIN)
		return CVMBUS_RNDIS_STATUS_INVALID_DATA;
	memset(&p, 0, sizeof(p));
	memcpy(&p, msg->info, msg->info_len < sizeof(p) ? msg->info_len : sizeof(p));
	if (p.header.type != CVMBUS_NDIS_OBJECT_TYPE_DEFAULT)
		return CVMBUS_RNDIS_STATUS_INVALID_DATA;
	/* Things never offered may only be left alone or turned off. */
	if (p.ip4_csum > CVMBUS_NDIS_OFFLOAD_TX_RX_DISABLED || p.lso_v1 > 1 || p.ipsec_v1 > 1 ||
	    p.tcp_conn_ip4 > 1 || p.tcp_conn_ip6 > 1)
		return CVMBUS_RNDIS_STATUS_NOT_SUPPORTED;
	cvmbus_mutex_lock(&vsp->lock);
	cur = vsp->offloads;
	cvmbus_mutex_unlock(&vsp->lock);
	want = cur;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		uint8_t v = ((const uint8_t *)&p)[fields[i].at];
		uint32_t on;

		if (v == CVMBUS_NDIS_OFFLOAD_NO_CHANGE)
			continue;
		if (fields[i].lso) {
			if (v > CVMBUS_NDIS_OFFLOAD_LSOV2_ENABLED)
				return CVMBUS_RNDIS_STATUS_INVALID_DATA;
			on = v == CVMBUS_NDIS_OFFLOAD_LSOV2_ENABLED ? fields[i].tx : 0;
		} else {
			if (v > CVMBUS_NDIS_OFFLOAD_TX_RX_ENABLED)
				return CVMBUS_RNDIS_STATUS_INVALID_DATA;
			on = (v == CVMBUS_NDIS_OFFLOAD_TX_ENABLED ||
			      v == CVMBUS_NDIS_OFFLOAD_TX_RX_ENABLED ? fields[i].tx : 0) |
			     (v == CVMBUS_NDIS_OFFLOAD_RX_ENABLED ||
			      v == CVMBUS_NDIS_OFFLOAD_TX_RX_ENABLED ? fields[i].rx : 0);
		}
		if (on & ~offer)
			return CVMBUS_RNDIS_STATUS_NOT_SUPPORTED;
		want = (want & ~(fields[i].tx | fields[i].rx)) | on;
	}
	cvmbus_mutex_lock(&vsp->lock);
	vsp->offloads = want;
	cvmbus_mutex_unlock(&vsp->lock);
	return CVMBUS_RNDIS_STATUS_SUCCESS;
}

static uint32_t vsp_query(struct cvmbus_netvsp *vsp, uint32_t oid, uint8_t *val, uint32_t *len)
{
	uint32_t v;

	switch (oid) {
	case CVMBUS_OID_802_3_PERMANENT_ADDRESS:
	case CVMBUS_OID_802_3_CURRENT_ADDRESS:
		memcpy(val, vsp->cfg.mac, CVMBUS_NET_ETH_ALEN);
		*len = CVMBUS_NET_ETH_ALEN;
		return CVMBUS_RNDIS_STATUS_SUCCESS;
	case CVMBUS_OID_GEN_MAXIMUM_FRAME_SIZE:
		v = vsp->cfg.mtu;
		break;
	case CVMBUS_OID_GEN_MAXIMUM_TOTAL_SIZE:
		v = max_frame(vsp);
		break;
	case CVMBUS_OID_GEN_LINK_SPEED:
		v = vsp->cfg.link_speed;
		break;
	case CVMBUS_OID_GEN_MEDIA_CONNECT_STATUS:
		cvmbus_mutex_lock(&vsp->lock);
		v = vsp->link_up ? CVMBUS_RNDIS_MEDIA_CONNECTED : CVMBUS_RNDIS_MEDIA_DISCONNECTED;
		cvmbus_mutex_unlock(&vsp->lock);
		break;
	case CVMBUS_OID_GEN_CURRENT_PACKET_FILTER:
		cvmbus_mutex_lock(&vsp->lock);
		v = vsp->filter;
		cvmbus_mutex_unlock(&vsp->lock);
		break;
	case CVMBUS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES:
		if (!vsp->cfg.offloads)
			break; /* not supported, below */
		vsp_offload_caps(vsp, val, len);
		return CVMBUS_RNDIS_STATUS_SUCCESS;
	default:
		*len = 0;
		return CVMBUS_RNDIS_STATUS_NOT_SUPPORTED;
	}
	if (oid == CVMBUS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES) {
		*len = 0;
		return CVMBUS_RNDIS_STATUS_NOT_SUPPORTED;
	}
	memcpy(val, &v, sizeof(v));
	*len = sizeof(v);
	return CVMBUS_RNDIS_STATUS_SUCCESS;
}

static uint32_t vsp_set(struct cvmbus_netvsp *vsp, const struct cvmbus_rndis_msg *msg)
{
	uint32_t v;

	if (msg->oid == CVMBUS_OID_TCP_OFFLOAD_PARAMETERS)
		return vsp_set_offloads(vsp, msg);
	if (msg->oid != CVMBUS_OID_GEN_CURRENT_PACKET_FILTER)
		return CVMBUS_RNDIS_STATUS_NOT_SUPPORTED;
	if (msg->info_len != sizeof(v))
		return CVMBUS_RNDIS_STATUS_INVALID_DATA;
	memcpy(&v, msg->info, sizeof(v));
	cvmbus_mutex_lock(&vsp->lock);
	vsp->filter = v;
	cvmbus_mutex_unlock(&vsp->lock);
	return CVMBUS_RNDIS_STATUS_SUCCESS;
}

/* One control message; answers go through reserved receive sections.
 * Returns false for a message the guest may not send. */
static bool vsp_control(struct cvmbus_netvsp *vsp, const struct cvmbus_rndis_msg *msg)
{
	uint8_t out[256], val[sizeof(struct cvmbus_ndis_offload)];
	uint32_t vlen = 0, status;
	bool initialized;
	int len = 0;

	cvmbus_mutex_lock(&vsp->lock);
	vsp->stats.control_msgs++;
	initialized = vsp->rndis == CVMBUS_NETVSP_RNDIS_INITIALIZED;
	cvmbus_mutex_unlock(&vsp->lock);

	switch (msg->type) {
	case CVMBUS_RNDIS_MSG_INITIALIZE: {
		struct cvmbus_rndis_init_cmplt c = {
			.req_id = msg->req_id,
			.status = CVMBUS_RNDIS_STATUS_SUCCESS,
			.major = CVMBUS_RNDIS_MAJOR_VERSION,
			.minor = CVMBUS_RNDIS_MINOR_VERSION,
			.dev_flags = CVMBUS_RNDIS_DF_CONNECTIONLESS,
			.medium = CVMBUS_RNDIS_MEDIUM_802_3,
			/* One message per section: this VSP does not batch. */
			.max_pkt_per_msg = 1,
			.max_xfer = vsp->cfg.send_section_size,
			.align_shift = 3,
		};

		if (msg->u.init.major != CVMBUS_RNDIS_MAJOR_VERSION)
			c.status = CVMBUS_RNDIS_STATUS_NOT_SUPPORTED;
		else {
			cvmbus_mutex_lock(&vsp->lock);
			vsp->rndis = CVMBUS_NETVSP_RNDIS_INITIALIZED;
			/* A new RNDIS session starts with no offloads. */
			vsp->offloads = 0;
			cvmbus_mutex_unlock(&vsp->lock);
		}
		len = cvmbus_rndis_build_init_cmplt(out, sizeof(out), &c);
		break;
	}
	case CVMBUS_RNDIS_MSG_QUERY:
		status = initialized ? vsp_query(vsp, msg->oid, val, &vlen)
				     : CVMBUS_RNDIS_STATUS_FAILURE;
		len = cvmbus_rndis_build_query_cmplt(out, sizeof(out), msg->req_id, status, val,
						     status == CVMBUS_RNDIS_STATUS_SUCCESS ? vlen : 0);
		break;
	case CVMBUS_RNDIS_MSG_SET:
		status = initialized ? vsp_set(vsp, msg) : CVMBUS_RNDIS_STATUS_FAILURE;
		len = cvmbus_rndis_build_set_cmplt(out, sizeof(out), msg->req_id, status);
		break;
	case CVMBUS_RNDIS_MSG_KEEPALIVE:
		len = cvmbus_rndis_build_keepalive_cmplt(out, sizeof(out), msg->req_id,
							 initialized ? CVMBUS_RNDIS_STATUS_SUCCESS
								     : CVMBUS_RNDIS_STATUS_FAILURE);
		break;
	case CVMBUS_RNDIS_MSG_RESET:
		len = cvmbus_rndis_build_reset_cmplt(out, sizeof(out), CVMBUS_RNDIS_STATUS_SUCCESS, 0);
		break;
	case CVMBUS_RNDIS_MSG_HALT:
		/* No answer: the guest stops using the device. */
		cvmbus_mutex_lock(&vsp->lock);
		vsp->rndis = CVMBUS_NETVSP_RNDIS_HALTED;
		vsp->filter = 0;
		vsp->offloads = 0;
		cvmbus_mutex_unlock(&vsp->lock);
		return true;
	default:
		/* Completions and status indications travel the other way. */
		return false;
	}
	if (len > 0)
		(void)vsp_send_control(vsp, out, (size_t)len);
	return true;
}

/* One PACKET from the guest, parsed from the private copy at scratch +
 * at: its offload info checked against the frame (fixed up in place),
 * then the frame to the backend. An NVSP status. */
static uint32_t vsp_data(struct cvmbus_netvsp *vsp, const struct cvmbus_rndis_msg *msg)
{
	struct cvmbus_net_offload off;
	uint32_t csum = 0, lso = 0, allowed;
	bool ready, have_csum = false, have_lso = false;
	uint8_t *frame;
	int rc = 0, rc2;

	cvmbus_mutex_lock(&vsp->lock);
	ready = vsp->rndis == CVMBUS_NETVSP_RNDIS_INITIALIZED;
	allowed = vsp->offloads;
	cvmbus_mutex_unlock(&vsp->lock);
	if (!ready) {
		cvmbus_mutex_lock(&vsp->lock);
		vsp->stats.bad_rndis++;
		cvmbus_mutex_unlock(&vsp->lock);
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsp: a frame before rndis initialize");
		return CVMBUS_NVSP_STATUS_INVALID_RNDIS_PKT;
	}
	/* The parser's pointer is into our own scratch copy: writable. */
	frame = vsp->scratch + (msg->data - vsp->scratch);
	if (msg->ppi_len) {
		rc = cvmbus_rndis_ppi_get(msg, CVMBUS_RNDIS_PPI_CHECKSUM, &csum);
		have_csum = rc == 0;
		rc2 = cvmbus_rndis_ppi_get(msg, CVMBUS_RNDIS_PPI_LSO, &lso);
		have_lso = rc2 == 0;
		rc = rc == -ENOENT ? 0 : rc;
		if (rc == 0 && rc2 != -ENOENT)
			rc = rc2;
	}
	if (rc == 0)
		rc = cvmbus_net_offload_from_rndis(frame, msg->data_len, vsp->cfg.mtu, allowed,
						   have_csum, csum, have_lso, lso, &off);
	cvmbus_mutex_lock(&vsp->lock);
	if (rc == -EMSGSIZE) {
		vsp->stats.bad_frame++;
	} else if (rc < 0) {
		vsp->stats.bad_offload++;
	} else {
		vsp->stats.tx_frames++;
		vsp->stats.tx_bytes += msg->data_len;
		if (off.gso_type != CVMBUS_NET_GSO_NONE)
			vsp->stats.tx_lso++;
		else if (off.flags & CVMBUS_NET_OFF_NEEDS_CSUM)
			vsp->stats.tx_csum++;
	}
	cvmbus_mutex_unlock(&vsp->lock);
	if (rc < 0) {
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN,
			      "netvsp: refused frame (len %u, csum %#x, lso %#x): %d",
			      msg->data_len, csum, lso, rc);
		return CVMBUS_NVSP_STATUS_INVALID_RNDIS_PKT;
	}
	if (vsp->cfg.tx_frame_off)
		vsp->cfg.tx_frame_off(vsp->cfg.tx_ctx, &off, frame, msg->data_len);
	else if (vsp->cfg.tx_frame)
		vsp->cfg.tx_frame(vsp->cfg.tx_ctx, frame, msg->data_len);
	return CVMBUS_NVSP_STATUS_SUCCESS;
}

/* Every RNDIS message in the private copy, in order. Returns the NVSP
 * status of the whole packet. */
static uint32_t vsp_rndis_messages(struct cvmbus_netvsp *vsp, uint32_t channel_type,
				   uint32_t total)
{
	uint32_t off = 0;

	while (off < total) {
		struct cvmbus_rndis_msg msg;
		bool ok, data;
		int rc = cvmbus_rndis_parse(vsp->scratch + off, total - off, &msg);

		if (rc < 0) {
			cvmbus_mutex_lock(&vsp->lock);
			vsp->stats.bad_rndis++;
			cvmbus_mutex_unlock(&vsp->lock);
			CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsp: refused rndis %s (len %u): %d",
				      cvmbus_rndis_type_name(msg.type), msg.len, rc);
			return CVMBUS_NVSP_STATUS_INVALID_RNDIS_PKT;
		}
		data = msg.type == CVMBUS_RNDIS_MSG_PACKET;
		/* The NVSP channel type must say what the message is. */
		if (data != (channel_type == CVMBUS_NVSP_CHANNEL_DATA)) {
			ok = false;
		} else if (data) {
			uint32_t st = vsp_data(vsp, &msg);

			if (st != CVMBUS_NVSP_STATUS_SUCCESS)
				return st;
			ok = true;
		} else {
			ok = vsp_control(vsp, &msg);
		}
		if (!ok) {
			cvmbus_mutex_lock(&vsp->lock);
			vsp->stats.bad_rndis++;
			cvmbus_mutex_unlock(&vsp->lock);
			CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsp: unexpected rndis %s",
				      cvmbus_rndis_type_name(msg.type));
			return CVMBUS_NVSP_STATUS_INVALID_RNDIS_PKT;
		}
		off += msg.len;
	}
	return CVMBUS_NVSP_STATUS_SUCCESS;
}

/* SEND_RNDIS_PKT: copy the RNDIS bytes out of the send section and/or the
 * GPA-direct ranges into private memory, then handle them. */
static uint32_t vsp_rndis_pkt(struct cvmbus_netvsp *vsp, const struct cvmbus_ring_packet *pkt,
			      const struct cvmbus_nvsp_msg *m)
{
	uint32_t total = 0, idx = m->u.rndis.section_index;
	int rc;

	rc = cvmbus_nvsp_check_rndis_pkt(m, vsp->tx_attached ? vsp->tx_sections : 0,
					 vsp->tx_section_size);
	if (rc < 0) {
		cvmbus_mutex_lock(&vsp->lock);
		if (rc == -EINVAL)
			vsp->stats.bad_nvsp++;
		else
			vsp->stats.bad_section++;
		cvmbus_mutex_unlock(&vsp->lock);
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN,
			      "netvsp: refused rndis packet (channel %u section %u size %u): %d",
			      m->u.rndis.channel_type, idx, m->u.rndis.section_size, rc);
		return CVMBUS_NVSP_STATUS_FAILURE;
	}
	if (idx != CVMBUS_NVSP_NO_SECTION) {
		total = m->u.rndis.section_size;
		rc = cvmbus_net_gbuf_read(vsp->ch, &vsp->tx, idx * vsp->tx_section_size,
					  vsp->scratch, total);
		if (rc < 0)
			goto fault;
		cvmbus_mutex_lock(&vsp->lock);
		vsp->stats.tx_send_buffer++;
		cvmbus_mutex_unlock(&vsp->lock);
	}
	if (pkt->type == CVMBUS_RING_PKT_GPA_DIRECT) {
		struct cvmbus_ring_gpa_view v;
		uint32_t cursor = 0, start = total;

		while (cvmbus_ring_packet_gpa_range(pkt, &cursor, &v) == 1) {
			if (v.byte_count > vsp->scratch_len - total) {
				rc = -EMSGSIZE;
				goto fault;
			}
			rc = cvmbus_channel_gpa_read(vsp->ch, &v, 0, vsp->scratch + total,
						     v.byte_count);
			if (rc < 0)
				goto fault;
			total += v.byte_count;
		}
		cvmbus_mutex_lock(&vsp->lock);
		vsp->stats.tx_gpa_direct++;
		vsp->stats.tx_gpa_bytes += total - start;
		cvmbus_mutex_unlock(&vsp->lock);
	}
	if (total == 0) {
		/* No section and no ranges: nowhere to read the message. */
		rc = -ENODATA;
		goto fault;
	}
	return vsp_rndis_messages(vsp, m->u.rndis.channel_type, total);

fault:
	cvmbus_mutex_lock(&vsp->lock);
	vsp->stats.bad_section++;
	cvmbus_mutex_unlock(&vsp->lock);
	CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsp: cannot read rndis packet: %d", rc);
	return CVMBUS_NVSP_STATUS_FAILURE;
}

/* ---- the channel loop ----------------------------------------------------------- */

static void vsp_on_completion(struct cvmbus_netvsp *vsp, const struct cvmbus_ring_packet *pkt)
{
	uint64_t tid = pkt->trans_id;
	uint32_t idx = (uint32_t)tid;
	uint16_t gen = (uint16_t)(tid >> 32);
	struct cvmbus_nvsp_msg m;
	bool known;

	cvmbus_mutex_lock(&vsp->lock);
	known = (tid & VSP_TAG_MASK) == VSP_XFER_TAG && vsp->rx_attached && gen == vsp->rx_gen &&
		idx < vsp->rx_sections && vsp->rx_busy[idx];
	if (known) {
		section_put(vsp, idx);
		vsp->stats.sections_recycled++;
		/* The section is the guest's to give back whatever it says;
		 * a completion that is not RNDIS_PKT_COMPLETE is still noted. */
		if (cvmbus_nvsp_decode(pkt->payload, pkt->payload_len, vsp->version,
				       CVMBUS_NVSP_G2H, &m) < 0 ||
		    m.type != CVMBUS_NVSP_SEND_RNDIS_PKT_COMPLETE)
			vsp->stats.bad_nvsp++;
	} else {
		vsp->stats.unknown_completions++;
	}
	cvmbus_mutex_unlock(&vsp->lock);
	if (!known)
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsp: completion for unknown id %#llx",
			      (unsigned long long)tid);
}

static void vsp_on_request(struct cvmbus_netvsp *vsp, const struct cvmbus_ring_packet *pkt)
{
	struct cvmbus_nvsp_msg m, r;
	uint32_t status, v;
	int rc;

	rc = cvmbus_nvsp_decode(pkt->payload, pkt->payload_len, vsp->version, CVMBUS_NVSP_G2H,
				&m);
	if (rc == 0 && pkt->type == CVMBUS_RING_PKT_GPA_DIRECT &&
	    m.type != CVMBUS_NVSP_SEND_RNDIS_PKT)
		rc = -EPROTO; /* only RNDIS packets name guest pages */
	if (rc < 0) {
		cvmbus_mutex_lock(&vsp->lock);
		vsp->stats.bad_nvsp++;
		cvmbus_mutex_unlock(&vsp->lock);
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsp: refused nvsp %s (%u, %u bytes): %d",
			      cvmbus_nvsp_type_name(m.type), m.type, pkt->payload_len, rc);
		if (pkt->payload_len >= sizeof(uint32_t))
			vsp_reply_status(vsp, pkt, m.type, CVMBUS_NVSP_STATUS_FAILURE);
		return;
	}

	switch (m.type) {
	case CVMBUS_NVSP_INIT:
		cvmbus_nvsp_msg_init(&r, CVMBUS_NVSP_INIT_COMPLETE);
		v = cvmbus_nvsp_pick_version(m.u.init.min_version, m.u.init.max_version);
		/* Renegotiating under attached buffers would change the
		 * meaning of what is in flight: refused. */
		if (v && !vsp->rx_attached && !vsp->tx_attached) {
			cvmbus_mutex_lock(&vsp->lock);
			vsp->version = v;
			vsp->state = CVMBUS_NETVSP_NEGOTIATED;
			cvmbus_mutex_unlock(&vsp->lock);
			r.u.init_complete.negotiated_version = v;
			r.u.init_complete.status = CVMBUS_NVSP_STATUS_SUCCESS;
		} else {
			r.u.init_complete.negotiated_version = CVMBUS_NVSP_VERSION_1;
			r.u.init_complete.status = CVMBUS_NVSP_STATUS_FAILURE;
		}
		if (pkt->flags & CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED)
			(void)vsp_complete(vsp, pkt->trans_id, &r);
		return;
	case CVMBUS_NVSP_SEND_NDIS_VERSION:
		vsp->ndis_version = m.u.ndis_version.major << 16 | (m.u.ndis_version.minor & 0xffff);
		vsp_reply_status(vsp, pkt, m.type, CVMBUS_NVSP_STATUS_SUCCESS);
		return;
	case CVMBUS_NVSP_SEND_NDIS_CONFIG:
		/* Informational: the guest's frame size. Frames are still
		 * checked against our own MTU. */
		vsp->guest_mtu = m.u.ndis_config.mtu;
		vsp_reply_status(vsp, pkt, m.type, CVMBUS_NVSP_STATUS_SUCCESS);
		return;
	case CVMBUS_NVSP_SEND_RECV_BUF:
		vsp_attach_rx(vsp, pkt, &m);
		return;
	case CVMBUS_NVSP_SEND_SEND_BUF:
		vsp_attach_tx(vsp, pkt, &m);
		return;
	case CVMBUS_NVSP_REVOKE_RECV_BUF:
		cvmbus_mutex_lock(&vsp->lock);
		if (vsp->rx_attached && m.u.revoke.id == vsp->rx_id)
			rx_detach_locked(vsp);
		else
			vsp->stats.bad_nvsp++;
		cvmbus_mutex_unlock(&vsp->lock);
		vsp_reply_status(vsp, pkt, m.type, CVMBUS_NVSP_STATUS_SUCCESS);
		return;
	case CVMBUS_NVSP_REVOKE_SEND_BUF:
		if (vsp->tx_attached && m.u.revoke.id == vsp->tx_id) {
			tx_detach(vsp);
		} else {
			cvmbus_mutex_lock(&vsp->lock);
			vsp->stats.bad_nvsp++;
			cvmbus_mutex_unlock(&vsp->lock);
		}
		vsp_reply_status(vsp, pkt, m.type, CVMBUS_NVSP_STATUS_SUCCESS);
		return;
	case CVMBUS_NVSP_SEND_RNDIS_PKT:
		status = vsp_rndis_pkt(vsp, pkt, &m);
		vsp_reply_status(vsp, pkt, m.type, status);
		return;
	default:
		/* Subchannels, data-path switching, OID_QUERY_EX, chimney,
		 * PacketDirect and completions sent as requests: known to
		 * the table, not offered by this VSP. */
		cvmbus_mutex_lock(&vsp->lock);
		vsp->stats.refused++;
		cvmbus_mutex_unlock(&vsp->lock);
		CVMBUS_LOG_RL(CVMBUS_LOG_INFO, "netvsp: refused unsupported nvsp %s",
			      cvmbus_nvsp_type_name(m.type));
		vsp_reply_status(vsp, pkt, m.type, CVMBUS_NVSP_STATUS_FAILURE);
		return;
	}
}

static int vsp_thread(void *arg)
{
	struct cvmbus_netvsp *vsp = arg;
	struct cvmbus_ring_packet pkt;
	int rc;

	for (;;) {
		rc = cvmbus_channel_recv(vsp->ch, &pkt, CVMBUS_EXEC_FOREVER);
		if (rc < 0)
			break;
		switch (pkt.type) {
		case CVMBUS_RING_PKT_COMPLETION:
			vsp_on_completion(vsp, &pkt);
			break;
		case CVMBUS_RING_PKT_INBAND:
		case CVMBUS_RING_PKT_GPA_DIRECT:
			vsp_on_request(vsp, &pkt);
			break;
		default:
			/* Transfer pages name the device's buffers: a guest
			 * never sends them. */
			cvmbus_mutex_lock(&vsp->lock);
			vsp->stats.bad_nvsp++;
			cvmbus_mutex_unlock(&vsp->lock);
			vsp_reply_status(vsp, &pkt, 0, CVMBUS_NVSP_STATUS_FAILURE);
			break;
		}
	}

	cvmbus_mutex_lock(&vsp->lock);
	/* -ESHUTDOWN: someone closed the endpoint (stop, or a rescind);
	 * anything else is the peer breaking the ring. */
	vsp->state = rc == -ESHUTDOWN && vsp->state != CVMBUS_NETVSP_FAILED
			     ? CVMBUS_NETVSP_STOPPED
			     : CVMBUS_NETVSP_FAILED;
	cvmbus_cond_broadcast(&vsp->cond);
	cvmbus_mutex_unlock(&vsp->lock);
	if (rc != -ESHUTDOWN)
		cvmbus_log_warn("netvsp: channel failed: %d", rc);
	return rc == -ESHUTDOWN ? 0 : rc;
}

int cvmbus_netvsp_start(struct cvmbus_netvsp *vsp)
{
	if (vsp->thread)
		return -EINVAL;
	return cvmbus_thread_spawn(vsp->exec, &vsp->thread, "netvsp", vsp_thread, vsp);
}

void cvmbus_netvsp_stop(struct cvmbus_netvsp *vsp)
{
	cvmbus_mutex_lock(&vsp->lock);
	vsp->stopping = true;
	cvmbus_cond_broadcast(&vsp->cond);
	cvmbus_mutex_unlock(&vsp->lock);
	cvmbus_channel_close(vsp->ch);
	if (vsp->thread) {
		(void)cvmbus_thread_join(vsp->thread, NULL);
		vsp->thread = NULL;
	}
	cvmbus_mutex_lock(&vsp->lock);
	if (vsp->state != CVMBUS_NETVSP_FAILED)
		vsp->state = CVMBUS_NETVSP_STOPPED;
	cvmbus_mutex_unlock(&vsp->lock);
}

void cvmbus_netvsp_destroy(struct cvmbus_netvsp *vsp)
{
	if (!vsp)
		return;
	cvmbus_netvsp_stop(vsp);
	cvmbus_mutex_lock(&vsp->lock);
	if (vsp->rx_attached)
		rx_detach_locked(vsp);
	cvmbus_mutex_unlock(&vsp->lock);
	if (vsp->tx_attached)
		tx_detach(vsp);
	cvmbus_cond_destroy(&vsp->cond);
	cvmbus_mutex_destroy(&vsp->lock);
	free(vsp->scratch);
	free(vsp);
}

/* ---- state ---------------------------------------------------------------------- */

enum cvmbus_netvsp_state cvmbus_netvsp_state(struct cvmbus_netvsp *vsp)
{
	enum cvmbus_netvsp_state s;

	cvmbus_mutex_lock(&vsp->lock);
	s = vsp->state;
	cvmbus_mutex_unlock(&vsp->lock);
	return s;
}

enum cvmbus_netvsp_rndis_state cvmbus_netvsp_rndis_state(struct cvmbus_netvsp *vsp)
{
	enum cvmbus_netvsp_rndis_state s;

	cvmbus_mutex_lock(&vsp->lock);
	s = vsp->rndis;
	cvmbus_mutex_unlock(&vsp->lock);
	return s;
}

uint32_t cvmbus_netvsp_version(struct cvmbus_netvsp *vsp)
{
	uint32_t v;

	cvmbus_mutex_lock(&vsp->lock);
	v = vsp->version;
	cvmbus_mutex_unlock(&vsp->lock);
	return v;
}

uint32_t cvmbus_netvsp_packet_filter(struct cvmbus_netvsp *vsp)
{
	uint32_t v;

	cvmbus_mutex_lock(&vsp->lock);
	v = vsp->filter;
	cvmbus_mutex_unlock(&vsp->lock);
	return v;
}

uint32_t cvmbus_netvsp_recv_sections(struct cvmbus_netvsp *vsp)
{
	uint32_t v;

	cvmbus_mutex_lock(&vsp->lock);
	v = vsp->rx_attached ? vsp->rx_sections : 0;
	cvmbus_mutex_unlock(&vsp->lock);
	return v;
}

void cvmbus_netvsp_get_stats(struct cvmbus_netvsp *vsp, struct cvmbus_netvsp_stats *out)
{
	cvmbus_mutex_lock(&vsp->lock);
	*out = vsp->stats;
	cvmbus_mutex_unlock(&vsp->lock);
}

uint32_t cvmbus_netvsp_offloads(struct cvmbus_netvsp *vsp)
{
	uint32_t v;

	cvmbus_mutex_lock(&vsp->lock);
	v = vsp->offloads;
	cvmbus_mutex_unlock(&vsp->lock);
	return v;
}
