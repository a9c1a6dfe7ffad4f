/* SPDX-License-Identifier: MIT */
/*
 * The network VSC (include/cvmbus/net.h), layer src/dev: the guest's netvsc
 * driver over the channel API. It negotiates NVSP, gives the device a
 * receive and a send buffer as device GPADLs (host-visible, or private on a
 * channel with confidential external memory: the channel's ops decide, this
 * file only asks), brings RNDIS up (MAC, MTU, link, speed, packet filter),
 * sends frames through send-buffer sections and receives them from
 * transfer-page indications into the receive buffer.
 *
 * One thread ("netvsc") reads the channel: completions (of our NVSP
 * requests and of our RNDIS packets, which frees their send sections),
 * transfer-page packets (frames and RNDIS answers from the device) and
 * device notifications. Callers of the public functions wait on the
 * condition variable for what that thread finds.
 *
 * Offloads (cfg.offloads): after the link queries, the capabilities are
 * asked and what we want of them SET; frames with the guest kernel's GSO /
 * partial-checksum state go as one PACKET with LSOv2 or checksum info, a
 * PACKET larger than a section in a big slot (a run of sections named by
 * GPA-direct ranges), a checksum nothing granted covers completed here.
 *
 * Trust: the device is hostile (it may be the untrusted host). Transfer
 * ranges are checked against the receive buffer and the section layout the
 * device announced (each range inside one section), each range is copied
 * out of the buffer before it is parsed, every RNDIS offset is checked by
 * rndis.c, completions are matched against what we have outstanding. A bad
 * packet is counted, logged at a limited rate and still completed (so the
 * device can reuse the section); the channel goes on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/log.h>
#include <cvmbus/net.h>

#define VSC_TX_TAG   0x5458000000000000ull /* "TX": RNDIS packets, | section */
#define VSC_NVSP_TAG 0x4e43000000000000ull /* "NC": NVSP requests, | sequence */
#define VSC_TAG_MASK 0xffff000000000000ull

/* Ring space of one RNDIS packet we send, at most: descriptor 16, GPA
 * header 8, one range 8 with up to 4 pages 32, NVSP 40, trailer 8. */
#define VSC_TX_PKT_BYTES 112u
#define VSC_RQ_MAX       512u /* the longest RNDIS answer we accept */
#define SEC_NS 1000000000ull

struct cvmbus_netvsc {
	struct cvmbus_netvsc_config cfg;
	struct cvmbus_exec *exec;
	struct cvmbus_channel *ch;
	struct cvmbus_thread *thread;

	struct cvmbus_mutex ctl_lock; /* one control exchange at a time */
	struct cvmbus_mutex lock;     /* everything below */
	struct cvmbus_cond cond;
	enum cvmbus_netvsc_state state;
	bool stopping;
	bool thread_done;
	uint32_t version;

	/* The NVSP request in flight. */
	uint64_t nv_seq, nv_tid;
	bool nv_waiting, nv_done;
	int nv_rc;
	struct cvmbus_nvsp_msg nv_resp;

	/* The RNDIS request in flight. */
	uint32_t rq_next_id;
	bool rq_waiting, rq_done;
	uint32_t rq_id, rq_type;
	uint8_t rq_resp[VSC_RQ_MAX];
	uint32_t rq_len;

	/* Receive buffer: sections as the device announced them. */
	struct cvmbus_gpadl_info rx_info;
	bool rx_gpadl;
	bool rx_ready;
	struct cvmbus_net_gbuf rx;
	struct cvmbus_nvsp_recv_section rx_sec;
	uint8_t *rxcopy; /* thread only: one section, privately */

	/* Send buffer and its section allocator. */
	struct cvmbus_gpadl_info tx_info;
	bool tx_gpadl;
	bool tx_ready;
	struct cvmbus_net_gbuf tx;
	uint32_t tx_section_size, tx_sections;
	uint8_t *tx_busy;           /* per section: 1 a single, 2 a big slot's first */
	uint32_t *tx_free, tx_free_n;
	/* Big slots for LSO frames: runs of tx_big_span sections after the
	 * singles, sent as GPA-direct ranges over their pages (one section
	 * cannot hold 64 KiB). Each counts as tx_big_span packets against the
	 * ring budget below, more than its ring packet takes. */
	uint32_t tx_big_span;
	uint32_t *tx_big_free, tx_big_free_n;

	/* Offloads the device granted (CVMBUS_NET_OFFLOAD_*). */
	uint32_t offloads;

	uint8_t mac[CVMBUS_NET_ETH_ALEN];
	uint32_t mtu;
	uint32_t link_speed;
	bool link_up;
	uint32_t filter;

	struct cvmbus_netvsc_stats stats;
};

static uint32_t min_section(uint32_t mtu)
{
	return CVMBUS_RNDIS_PACKET_HEADER_SIZE + mtu + CVMBUS_NET_ETH_HLEN;
}

int cvmbus_netvsc_create(struct cvmbus_exec *exec, const struct cvmbus_netvsc_config *cfg,
			 struct cvmbus_netvsc **out)
{
	struct cvmbus_netvsc *vsc;

	if (!exec || !cfg || !cfg->ch || !out)
		return -EINVAL;
	vsc = calloc(1, sizeof(*vsc));
	if (!vsc)
		return -ENOMEM;
	vsc->cfg = *cfg;
	if (!vsc->cfg.recv_buf_bytes)
		vsc->cfg.recv_buf_bytes = CVMBUS_NETVSC_DEFAULT_BUF;
	if (!vsc->cfg.send_buf_bytes)
		vsc->cfg.send_buf_bytes = CVMBUS_NETVSC_DEFAULT_BUF;
	if (!vsc->cfg.mtu)
		vsc->cfg.mtu = CVMBUS_NET_DEFAULT_MTU;
	if (!vsc->cfg.packet_filter)
		vsc->cfg.packet_filter = CVMBUS_RNDIS_FILTER_DIRECTED |
					 CVMBUS_RNDIS_FILTER_MULTICAST |
					 CVMBUS_RNDIS_FILTER_BROADCAST;
	if (!vsc->cfg.max_version)
		vsc->cfg.max_version = CVMBUS_NVSP_VERSION_61;
	if (!vsc->cfg.timeout_ns)
		vsc->cfg.timeout_ns = 5 * SEC_NS;
	if (vsc->cfg.mtu < 68 || vsc->cfg.mtu > CVMBUS_NET_MAX_MTU ||
	    vsc->cfg.recv_buf_bytes > (1u << 30) || vsc->cfg.send_buf_bytes > (1u << 30)) {
		free(vsc);
		return -EINVAL;
	}
	vsc->exec = exec;
	vsc->ch = cfg->ch;
	vsc->mtu = vsc->cfg.mtu;
	vsc->rq_next_id = 1;
	cvmbus_mutex_init(&vsc->ctl_lock, exec, "netvsc-ctl");
	cvmbus_mutex_init(&vsc->lock, exec, "netvsc");
	cvmbus_cond_init(&vsc->cond, exec, "netvsc");
	*out = vsc;
	return 0;
}

/* ---- send sections ------------------------------------------------------------ */

static void tx_put_locked(struct cvmbus_netvsc *vsc, uint32_t idx)
{
	if (vsc->tx_busy[idx] == 2)
		vsc->tx_big_free[vsc->tx_big_free_n++] = idx;
	else
		vsc->tx_free[vsc->tx_free_n++] = idx;
	vsc->tx_busy[idx] = 0;
	cvmbus_cond_broadcast(&vsc->cond);
}

/* A checksum the driver completes itself: two bytes at `at` in the body. */
struct vsc_fix {
	bool set;
	uint32_t at;
	uint16_t value; /* as stored */
};

/* Copy an RNDIS message (hdr, then body) into a free send section (or a
 * big slot, for more than a section) and tell the device, by section index
 * or (gpa_direct, and always for a big slot) by the pages. */
static int vsc_send_rndis(struct cvmbus_netvsc *vsc, const void *hdr, uint32_t hdr_len,
			  const void *body, uint32_t body_len, uint32_t channel_type,
			  uint64_t timeout_ns, const struct vsc_fix *fix)
{
	uint64_t deadline = cvmbus_exec_deadline(vsc->exec, timeout_ns);
	uint32_t idx, off, total = hdr_len + body_len;
	struct cvmbus_nvsp_msg m;
	bool waited = false, big = false, direct;
	int rc;

	cvmbus_mutex_lock(&vsc->lock);
	for (;;) {
		if (vsc->stopping || vsc->thread_done || vsc->state >= CVMBUS_NETVSC_STOPPED) {
			cvmbus_mutex_unlock(&vsc->lock);
			return -ESHUTDOWN;
		}
		if (!vsc->tx_ready) {
			cvmbus_mutex_unlock(&vsc->lock);
			return -ENOTCONN;
		}
		big = total > vsc->tx_section_size;
		if (big && (!vsc->tx_big_span ||
			    total > (uint64_t)vsc->tx_big_span * vsc->tx_section_size)) {
			cvmbus_mutex_unlock(&vsc->lock);
			return -EMSGSIZE;
		}
		if (big ? vsc->tx_big_free_n != 0 : vsc->tx_free_n != 0)
			break;
		if (!waited) {
			waited = true;
			vsc->stats.tx_waits++;
		}
		if (timeout_ns == 0) {
			cvmbus_mutex_unlock(&vsc->lock);
			return -EAGAIN;
		}
		if (cvmbus_cond_wait_until(&vsc->cond, &vsc->lock, deadline) == -ETIMEDOUT) {
			cvmbus_mutex_unlock(&vsc->lock);
			return -ETIMEDOUT;
		}
	}
	if (big) {
		idx = vsc->tx_big_free[--vsc->tx_big_free_n];
		vsc->tx_busy[idx] = 2;
	} else {
		idx = vsc->tx_free[--vsc->tx_free_n];
		vsc->tx_busy[idx] = 1;
	}
	cvmbus_mutex_unlock(&vsc->lock);

	/* The send buffer lives until destroy, after the thread is gone. */
	off = idx * vsc->tx_section_size;
	rc = cvmbus_net_gbuf_write(vsc->ch, &vsc->tx, off, hdr, hdr_len);
	if (rc == 0 && body_len)
		rc = cvmbus_net_gbuf_write(vsc->ch, &vsc->tx, off + hdr_len, body, body_len);
	if (rc == 0 && fix && fix->set)
		rc = cvmbus_net_gbuf_write(vsc->ch, &vsc->tx, off + hdr_len + fix->at, &fix->value,
					   sizeof(fix->value));
	if (rc < 0)
		goto fail;

	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RNDIS_PKT);
	m.u.rndis.channel_type = channel_type;
	direct = vsc->cfg.gpa_direct || big;
	if (!direct) {
		m.u.rndis.section_index = idx;
		m.u.rndis.section_size = total;
		rc = cvmbus_channel_send_inband(vsc->ch, CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED,
						VSC_TX_TAG | idx, &m, sizeof(m), timeout_ns);
	} else {
		/* The same bytes, named by their guest pages: the device
		 * reads them through its own view of our memory. */
		uint32_t first = off / CVMBUS_RING_PAGE_SIZE;
		uint32_t in_page = off % CVMBUS_RING_PAGE_SIZE;
		struct cvmbus_ring_gpa_range range = {
			.byte_count = total,
			.byte_offset = in_page,
			.pfns = &vsc->tx.pfns[first],
			.pfn_count = (in_page + total + CVMBUS_RING_PAGE_SIZE - 1) /
				     CVMBUS_RING_PAGE_SIZE,
		};
		struct cvmbus_ring_iov iov = { .base = &m, .len = sizeof(m) };
		struct cvmbus_ring_outpkt pkt = {
			.type = CVMBUS_RING_PKT_GPA_DIRECT,
			.flags = CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED,
			.trans_id = VSC_TX_TAG | idx,
			.gpa = &range,
			.gpa_count = 1,
			.payload = &iov,
			.payload_count = 1,
		};

		m.u.rndis.section_index = CVMBUS_NVSP_NO_SECTION;
		m.u.rndis.section_size = 0;
		rc = cvmbus_channel_send(vsc->ch, &pkt, timeout_ns);
	}
	if (rc < 0)
		goto fail;
	cvmbus_mutex_lock(&vsc->lock);
	if (direct)
		vsc->stats.tx_gpa_direct_bytes += total;
	else
		vsc->stats.tx_send_buffer_bytes += total;
	if (big)
		vsc->stats.tx_big++;
	cvmbus_mutex_unlock(&vsc->lock);
	return 0;

fail:
	cvmbus_mutex_lock(&vsc->lock);
	tx_put_locked(vsc, idx);
	cvmbus_mutex_unlock(&vsc->lock);
	return rc;
}

int cvmbus_netvsc_send_frame(struct cvmbus_netvsc *vsc, const void *frame, size_t len,
			     uint64_t timeout_ns)
{
	static const struct cvmbus_net_offload plain;

	return cvmbus_netvsc_send_frame_off(vsc, &plain, frame, len, timeout_ns);
}

int cvmbus_netvsc_send_frame_off(struct cvmbus_netvsc *vsc, const struct cvmbus_net_offload *off,
				 const void *frame, size_t len, uint64_t timeout_ns)
{
	uint8_t hdr[CVMBUS_RNDIS_PACKET_HEADER_MAX];
	struct vsc_fix fix = { 0 };
	bool ready, have_csum, have_lso, gso = off->gso_type != CVMBUS_NET_GSO_NONE;
	uint32_t granted, csum, lso;
	int rc, hlen;

	cvmbus_mutex_lock(&vsc->lock);
	ready = vsc->state == CVMBUS_NETVSC_READY;
	granted = vsc->offloads;
	if (ready && (len < CVMBUS_NET_MIN_FRAME ||
		      len > (gso ? CVMBUS_NET_GSO_MAX_FRAME : vsc->mtu + CVMBUS_NET_ETH_HLEN))) {
		cvmbus_mutex_unlock(&vsc->lock);
		return -EMSGSIZE;
	}
	cvmbus_mutex_unlock(&vsc->lock);
	if (!ready)
		return -ENOTCONN;
	rc = cvmbus_net_offload_to_rndis(off, frame, len, granted, &have_csum, &csum, &have_lso,
					 &lso);
	if (rc == -EOPNOTSUPP) {
		/* A checksum nobody takes: ours to complete, in the copy. */
		uint16_t v;

		rc = cvmbus_net_csum_fixup(off, frame, len, &v);
		fix.set = rc == 0;
		fix.at = (uint32_t)off->csum_start + off->csum_offset;
		fix.value = v;
	}
	if (rc < 0) {
		/* A GSO frame the device cannot take (not granted): the TAP
		 * only makes them after a grant, so this is a stale one. */
		cvmbus_mutex_lock(&vsc->lock);
		vsc->stats.tx_offload_dropped++;
		cvmbus_mutex_unlock(&vsc->lock);
		return rc;
	}
	hlen = cvmbus_rndis_build_packet_header_ppi(hdr, sizeof(hdr), (uint32_t)len, have_csum,
						    csum, have_lso, lso);
	rc = vsc_send_rndis(vsc, hdr, (uint32_t)hlen, frame, (uint32_t)len,
			    CVMBUS_NVSP_CHANNEL_DATA, timeout_ns, &fix);
	if (rc == 0) {
		cvmbus_mutex_lock(&vsc->lock);
		vsc->stats.tx_frames++;
		vsc->stats.tx_bytes += len;
		if (have_lso)
			vsc->stats.tx_lso++;
		else if (have_csum)
			vsc->stats.tx_csum++;
		else if (fix.set)
			vsc->stats.tx_csum_sw++;
		cvmbus_mutex_unlock(&vsc->lock);
	}
	return rc;
}

void cvmbus_netvsc_frame_in(void *vsc, const void *frame, size_t len)
{
	(void)cvmbus_netvsc_send_frame(vsc, frame, len, SEC_NS / 10);
}

/* ---- control exchanges ------------------------------------------------------- */

/* Wait (lock held) until *done, the deadline, or the thread's end. */
static int vsc_wait_locked(struct cvmbus_netvsc *vsc, const bool *done, uint64_t deadline)
{
	while (!*done) {
		if (vsc->thread_done || vsc->stopping)
			return -ESHUTDOWN;
		if (cvmbus_cond_wait_until(&vsc->cond, &vsc->lock, deadline) == -ETIMEDOUT)
			return *done ? 0 : -ETIMEDOUT;
	}
	return 0;
}

/* One NVSP request answered by a completion of type `want`. */
static int vsc_nvsp_request(struct cvmbus_netvsc *vsc, const struct cvmbus_nvsp_msg *req,
			    uint32_t want, struct cvmbus_nvsp_msg *resp)
{
	uint64_t deadline = cvmbus_exec_deadline(vsc->exec, vsc->cfg.timeout_ns);
	uint64_t tid;
	int rc;

	cvmbus_mutex_lock(&vsc->lock);
	tid = VSC_NVSP_TAG | (++vsc->nv_seq & 0xffffffffffffull);
	vsc->nv_tid = tid;
	vsc->nv_waiting = true;
	vsc->nv_done = false;
	cvmbus_mutex_unlock(&vsc->lock);

	rc = cvmbus_channel_send_inband(vsc->ch, CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED, tid,
					req, sizeof(*req), vsc->cfg.timeout_ns);
	cvmbus_mutex_lock(&vsc->lock);
	if (rc == 0)
		rc = vsc_wait_locked(vsc, &vsc->nv_done, deadline);
	if (rc == 0) {
		rc = vsc->nv_rc;
		*resp = vsc->nv_resp;
	}
	vsc->nv_waiting = false;
	cvmbus_mutex_unlock(&vsc->lock);
	if (rc == 0 && resp->type != want)
		rc = -EPROTO;
	return rc;
}

static int vsc_nvsp_post(struct cvmbus_netvsc *vsc, const struct cvmbus_nvsp_msg *m)
{
	return cvmbus_channel_send_inband(vsc->ch, 0, 0, m, sizeof(*m), vsc->cfg.timeout_ns);
}

/* One RNDIS request whose answer has type `want` (and our req_id, except
 * RESET's, which has none); the answer is parsed again from our copy. */
static int vsc_rndis_request(struct cvmbus_netvsc *vsc, const uint8_t *msg, uint32_t len,
			     uint32_t req_id, uint32_t want, uint8_t *copy,
			     struct cvmbus_rndis_msg *ans)
{
	uint64_t deadline = cvmbus_exec_deadline(vsc->exec, vsc->cfg.timeout_ns);
	uint32_t alen = 0;
	int rc;

	cvmbus_mutex_lock(&vsc->lock);
	vsc->rq_waiting = true;
	vsc->rq_done = false;
	vsc->rq_id = req_id;
	vsc->rq_type = want;
	cvmbus_mutex_unlock(&vsc->lock);

	rc = vsc_send_rndis(vsc, msg, len, NULL, 0, CVMBUS_NVSP_CHANNEL_CONTROL,
			    vsc->cfg.timeout_ns, NULL);
	cvmbus_mutex_lock(&vsc->lock);
	if (rc == 0)
		rc = vsc_wait_locked(vsc, &vsc->rq_done, deadline);
	if (rc == 0) {
		alen = vsc->rq_len;
		memcpy(copy, vsc->rq_resp, alen);
	}
	vsc->rq_waiting = false;
	cvmbus_mutex_unlock(&vsc->lock);
	if (rc == 0)
		rc = cvmbus_rndis_parse(copy, alen, ans);
	return rc;
}

static uint32_t vsc_next_id(struct cvmbus_netvsc *vsc)
{
	uint32_t id;

	cvmbus_mutex_lock(&vsc->lock);
	id = vsc->rq_next_id++;
	if (vsc->rq_next_id == 0)
		vsc->rq_next_id = 1;
	cvmbus_mutex_unlock(&vsc->lock);
	return id;
}

static int vsc_query_locked(struct cvmbus_netvsc *vsc, uint32_t oid, void *buf, size_t *len,
			    uint32_t *status)
{
	uint8_t msg[64], copy[VSC_RQ_MAX];
	struct cvmbus_rndis_msg ans;
	uint32_t id = vsc_next_id(vsc);
	int n = cvmbus_rndis_build_query(msg, sizeof(msg), id, oid, NULL, 0), rc;

	rc = vsc_rndis_request(vsc, msg, (uint32_t)n, id, CVMBUS_RNDIS_MSG_QUERY_CMPLT, copy, &ans);
	if (rc < 0)
		return rc;
	if (status)
		*status = ans.status;
	if (ans.status != CVMBUS_RNDIS_STATUS_SUCCESS)
		return -EIO;
	if (ans.info_len > *len)
		return -EMSGSIZE;
	memcpy(buf, ans.info, ans.info_len);
	*len = ans.info_len;
	return 0;
}

int cvmbus_netvsc_query(struct cvmbus_netvsc *vsc, uint32_t oid, void *buf, size_t *len,
			uint32_t *status)
{
	int rc;

	cvmbus_mutex_lock(&vsc->ctl_lock);
	rc = vsc_query_locked(vsc, oid, buf, len, status);
	cvmbus_mutex_unlock(&vsc->ctl_lock);
	return rc;
}

static int vsc_set_locked(struct cvmbus_netvsc *vsc, uint32_t oid, const void *buf, size_t len,
			  uint32_t *status)
{
	uint8_t msg[128], copy[VSC_RQ_MAX];
	struct cvmbus_rndis_msg ans;
	uint32_t id = vsc_next_id(vsc);
	int n, rc;

	_Static_assert(CVMBUS_RNDIS_HEADER_SIZE + sizeof(struct cvmbus_rndis_oid_req) +
				   sizeof(struct cvmbus_ndis_offload_params) <=
			       sizeof(msg),
		       "set room");

	n = cvmbus_rndis_build_set(msg, sizeof(msg), id, oid, buf, (uint32_t)len);
	if (n < 0)
		return -EMSGSIZE;
	rc = vsc_rndis_request(vsc, msg, (uint32_t)n, id, CVMBUS_RNDIS_MSG_SET_CMPLT, copy, &ans);
	if (rc < 0)
		return rc;
	if (status)
		*status = ans.status;
	return ans.status == CVMBUS_RNDIS_STATUS_SUCCESS ? 0 : -EIO;
}

int cvmbus_netvsc_set(struct cvmbus_netvsc *vsc, uint32_t oid, const void *buf, size_t len,
		      uint32_t *status)
{
	int rc;

	cvmbus_mutex_lock(&vsc->ctl_lock);
	rc = vsc_set_locked(vsc, oid, buf, len, status);
	if (rc == 0 && oid == CVMBUS_OID_GEN_CURRENT_PACKET_FILTER && len == sizeof(uint32_t)) {
		cvmbus_mutex_lock(&vsc->lock);
		memcpy(&vsc->filter, buf, sizeof(uint32_t));
		cvmbus_mutex_unlock(&vsc->lock);
	}
	cvmbus_mutex_unlock(&vsc->ctl_lock);
	return rc;
}

/* ---- the receive thread ------------------------------------------------------- */

static void vsc_on_completion(struct cvmbus_netvsc *vsc, const struct cvmbus_ring_packet *pkt)
{
	uint64_t tid = pkt->trans_id;
	struct cvmbus_nvsp_msg m;
	uint32_t version, idx = (uint32_t)tid;
	bool known = false;
	int rc;

	cvmbus_mutex_lock(&vsc->lock);
	version = vsc->version;
	rc = cvmbus_nvsp_decode(pkt->payload, pkt->payload_len, version, CVMBUS_NVSP_H2G, &m);
	if ((tid & VSC_TAG_MASK) == VSC_TX_TAG) {
		if (vsc->tx_ready && idx < vsc->tx_sections && vsc->tx_busy[idx]) {
			known = true;
			tx_put_locked(vsc, idx);
			if (rc < 0 || m.type != CVMBUS_NVSP_SEND_RNDIS_PKT_COMPLETE)
				vsc->stats.bad_nvsp++;
			else if (m.u.rndis_complete.status != CVMBUS_NVSP_STATUS_SUCCESS)
				vsc->stats.tx_failed++;
		}
	} else if (vsc->nv_waiting && !vsc->nv_done && tid == vsc->nv_tid) {
		known = true;
		vsc->nv_rc = rc;
		vsc->nv_resp = m;
		vsc->nv_done = true;
		if (rc < 0)
			vsc->stats.bad_nvsp++;
		cvmbus_cond_broadcast(&vsc->cond);
	}
	if (!known)
		vsc->stats.unknown_completions++;
	cvmbus_mutex_unlock(&vsc->lock);
	if (!known)
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsc: completion for unknown id %#llx",
			      (unsigned long long)tid);
}

/* An RNDIS message the device indicated, from our private copy. */
static void vsc_on_rndis(struct cvmbus_netvsc *vsc, const struct cvmbus_rndis_msg *msg,
			 uint32_t max_data)
{
	bool up;

	switch (msg->type) {
	case CVMBUS_RNDIS_MSG_PACKET: {
		struct cvmbus_net_offload off = { 0 };
		uint32_t ci;

		if (msg->data_len < CVMBUS_NET_MIN_FRAME || msg->data_len > max_data) {
			cvmbus_mutex_lock(&vsc->lock);
			vsc->stats.bad_rndis++;
			cvmbus_mutex_unlock(&vsc->lock);
			return;
		}
		/* The device's word that the checksum is good, taken only if
		 * we asked for it and it names no failure; a bad element is
		 * no word at all (the frame itself is still good to pass). */
		if (msg->ppi_len && cvmbus_rndis_ppi_get(msg, CVMBUS_RNDIS_PPI_CHECKSUM, &ci) == 0 &&
		    (ci & (CVMBUS_RNDIS_CSUM_RX_TCP_OK | CVMBUS_RNDIS_CSUM_RX_UDP_OK)) &&
		    !(ci & (CVMBUS_RNDIS_CSUM_RX_TCP_FAILED | CVMBUS_RNDIS_CSUM_RX_UDP_FAILED |
			    CVMBUS_RNDIS_CSUM_RX_IP_FAILED)))
			off.flags = CVMBUS_NET_OFF_CSUM_VALID;
		cvmbus_mutex_lock(&vsc->lock);
		if (!(vsc->offloads & CVMBUS_NET_OFFLOAD_RXCSUM))
			off.flags = 0;
		vsc->stats.rx_frames++;
		vsc->stats.rx_bytes += msg->data_len;
		if (off.flags)
			vsc->stats.rx_csum_valid++;
		cvmbus_mutex_unlock(&vsc->lock);
		if (vsc->cfg.rx_frame_off)
			vsc->cfg.rx_frame_off(vsc->cfg.rx_ctx, &off, msg->data, msg->data_len);
		else if (vsc->cfg.rx_frame)
			vsc->cfg.rx_frame(vsc->cfg.rx_ctx, msg->data, msg->data_len);
		return;
	}
	case CVMBUS_RNDIS_MSG_INITIALIZE_CMPLT:
	case CVMBUS_RNDIS_MSG_QUERY_CMPLT:
	case CVMBUS_RNDIS_MSG_SET_CMPLT:
	case CVMBUS_RNDIS_MSG_KEEPALIVE_CMPLT:
	case CVMBUS_RNDIS_MSG_RESET_CMPLT:
		cvmbus_mutex_lock(&vsc->lock);
		if (vsc->rq_waiting && !vsc->rq_done && msg->type == vsc->rq_type &&
		    (msg->type == CVMBUS_RNDIS_MSG_RESET_CMPLT || msg->req_id == vsc->rq_id) &&
		    msg->len <= VSC_RQ_MAX) {
			/* msg->len bytes are in rxcopy: the parser checked. */
			vsc->rq_len = msg->len;
			memcpy(vsc->rq_resp, vsc->rxcopy, msg->len);
			vsc->rq_done = true;
			cvmbus_cond_broadcast(&vsc->cond);
		} else {
			vsc->stats.unknown_completions++;
		}
		cvmbus_mutex_unlock(&vsc->lock);
		return;
	case CVMBUS_RNDIS_MSG_INDICATE_STATUS:
		if (msg->status != CVMBUS_RNDIS_STATUS_MEDIA_CONNECT &&
		    msg->status != CVMBUS_RNDIS_STATUS_MEDIA_DISCONNECT) {
			/* Speed and network changes: nothing to do here. */
			cvmbus_mutex_lock(&vsc->lock);
			vsc->stats.unexpected++;
			cvmbus_mutex_unlock(&vsc->lock);
			return;
		}
		up = msg->status == CVMBUS_RNDIS_STATUS_MEDIA_CONNECT;
		cvmbus_mutex_lock(&vsc->lock);
		vsc->link_up = up;
		vsc->stats.link_changes++;
		cvmbus_mutex_unlock(&vsc->lock);
		if (vsc->cfg.link_changed)
			vsc->cfg.link_changed(vsc->cfg.link_ctx, up);
		return;
	default:
		/* Requests travel guest to device only. */
		cvmbus_mutex_lock(&vsc->lock);
		vsc->stats.bad_rndis++;
		cvmbus_mutex_unlock(&vsc->lock);
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsc: unexpected rndis %s from the device",
			      cvmbus_rndis_type_name(msg->type));
		return;
	}
}

/* A transfer-page packet: check every range against the receive buffer
 * and the announced sections, copy it out, parse, dispatch; complete the
 * packet in any case so that the device gets its section back. */
static void vsc_on_xfer(struct cvmbus_netvsc *vsc, const struct cvmbus_ring_packet *pkt)
{
	struct cvmbus_nvsp_recv_section sec;
	struct cvmbus_nvsp_msg m, c;
	uint32_t status = CVMBUS_NVSP_STATUS_SUCCESS, version;
	bool ready;
	int rc;

	cvmbus_mutex_lock(&vsc->lock);
	version = vsc->version;
	ready = vsc->rx_ready;
	sec = vsc->rx_sec;
	cvmbus_mutex_unlock(&vsc->lock);

	rc = cvmbus_nvsp_decode(pkt->payload, pkt->payload_len, version, CVMBUS_NVSP_H2G, &m);
	if (rc < 0 || m.type != CVMBUS_NVSP_SEND_RNDIS_PKT ||
	    (m.u.rndis.channel_type != CVMBUS_NVSP_CHANNEL_DATA &&
	     m.u.rndis.channel_type != CVMBUS_NVSP_CHANNEL_CONTROL)) {
		cvmbus_mutex_lock(&vsc->lock);
		vsc->stats.bad_nvsp++;
		cvmbus_mutex_unlock(&vsc->lock);
		status = CVMBUS_NVSP_STATUS_FAILURE;
		goto complete;
	}
	if (!ready || pkt->xfer_set_id != CVMBUS_NVSP_RECV_BUF_ID) {
		cvmbus_mutex_lock(&vsc->lock);
		vsc->stats.bad_xfer++;
		cvmbus_mutex_unlock(&vsc->lock);
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsc: transfer pages of unknown set %u",
			      pkt->xfer_set_id);
		status = CVMBUS_NVSP_STATUS_FAILURE;
		goto complete;
	}
	for (uint32_t i = 0; i < pkt->range_count; i++) {
		struct cvmbus_ring_xfer_range r;
		struct cvmbus_rndis_msg msg;
		uint64_t start, end;

		if (cvmbus_ring_packet_xfer_range(pkt, i, &r) < 0)
			break;
		start = r.byte_offset;
		end = start + r.byte_count;
		/* Inside the announced sections, inside one section, and
		 * long enough to hold an RNDIS header. */
		if (r.byte_count < CVMBUS_RNDIS_HEADER_SIZE || start < sec.offset ||
		    end > sec.end_offset || end > vsc->rx.bytes ||
		    (start - sec.offset) / sec.sub_alloc_size !=
			    (end - 1 - sec.offset) / sec.sub_alloc_size) {
			cvmbus_mutex_lock(&vsc->lock);
			vsc->stats.bad_xfer++;
			cvmbus_mutex_unlock(&vsc->lock);
			CVMBUS_LOG_RL(CVMBUS_LOG_WARN,
				      "netvsc: transfer range %u+%u outside the sections",
				      r.byte_offset, r.byte_count);
			status = CVMBUS_NVSP_STATUS_FAILURE;
			continue;
		}
		rc = cvmbus_net_gbuf_read(vsc->ch, &vsc->rx, r.byte_offset, vsc->rxcopy,
					  r.byte_count);
		if (rc == 0)
			rc = cvmbus_rndis_parse(vsc->rxcopy, r.byte_count, &msg);
		if (rc < 0) {
			cvmbus_mutex_lock(&vsc->lock);
			vsc->stats.bad_rndis++;
			cvmbus_mutex_unlock(&vsc->lock);
			CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsc: refused rndis from the device: %d",
				      rc);
			status = CVMBUS_NVSP_STATUS_INVALID_RNDIS_PKT;
			continue;
		}
		vsc_on_rndis(vsc, &msg, sec.sub_alloc_size);
	}

complete:
	cvmbus_nvsp_msg_init(&c, CVMBUS_NVSP_SEND_RNDIS_PKT_COMPLETE);
	c.u.rndis_complete.status = status;
	rc = cvmbus_channel_send_completion(vsc->ch, pkt->trans_id, &c, sizeof(c),
					    vsc->cfg.timeout_ns);
	cvmbus_mutex_lock(&vsc->lock);
	if (rc == 0)
		vsc->stats.rx_completions++;
	cvmbus_mutex_unlock(&vsc->lock);
}

static void vsc_on_inband(struct cvmbus_netvsc *vsc, const struct cvmbus_ring_packet *pkt)
{
	struct cvmbus_nvsp_msg m;
	uint32_t version;
	int rc;

	cvmbus_mutex_lock(&vsc->lock);
	version = vsc->version;
	cvmbus_mutex_unlock(&vsc->lock);
	rc = cvmbus_nvsp_decode(pkt->payload, pkt->payload_len, version, CVMBUS_NVSP_H2G, &m);
	cvmbus_mutex_lock(&vsc->lock);
	/* VF association and send indirection tables are offers this VSC
	 * does not take up; anything else inband is out of place. */
	if (rc == 0 && (m.type == CVMBUS_NVSP_SEND_VF_ASSOCIATION ||
			m.type == CVMBUS_NVSP_SEND_INDIRECTION_TABLE))
		vsc->stats.unexpected++;
	else
		vsc->stats.bad_nvsp++;
	cvmbus_mutex_unlock(&vsc->lock);
}

static int vsc_thread(void *arg)
{
	struct cvmbus_netvsc *vsc = arg;
	struct cvmbus_ring_packet pkt;
	int rc;

	for (;;) {
		rc = cvmbus_channel_recv(vsc->ch, &pkt, CVMBUS_EXEC_FOREVER);
		if (rc < 0)
			break;
		switch (pkt.type) {
		case CVMBUS_RING_PKT_COMPLETION:
			vsc_on_completion(vsc, &pkt);
			break;
		case CVMBUS_RING_PKT_XFER_PAGES:
			vsc_on_xfer(vsc, &pkt);
			break;
		case CVMBUS_RING_PKT_INBAND:
			vsc_on_inband(vsc, &pkt);
			break;
		default:
			cvmbus_mutex_lock(&vsc->lock);
			vsc->stats.bad_nvsp++;
			cvmbus_mutex_unlock(&vsc->lock);
			break;
		}
	}
	cvmbus_mutex_lock(&vsc->lock);
	vsc->thread_done = true;
	if (rc != -ESHUTDOWN || !vsc->stopping)
		vsc->state = rc == -ESHUTDOWN ? CVMBUS_NETVSC_STOPPED : CVMBUS_NETVSC_FAILED;
	cvmbus_cond_broadcast(&vsc->cond);
	cvmbus_mutex_unlock(&vsc->lock);
	if (rc != -ESHUTDOWN)
		cvmbus_log_warn("netvsc: channel failed: %d", rc);
	return rc == -ESHUTDOWN ? 0 : rc;
}

/* ---- the handshake ------------------------------------------------------------- */

static int vsc_negotiate(struct cvmbus_netvsc *vsc)
{
	struct cvmbus_nvsp_msg m, r;
	const uint32_t *versions;
	size_t n;
	int rc;

	versions = cvmbus_nvsp_versions(&n);
	for (size_t i = 0; i < n; i++) {
		if (versions[i] > vsc->cfg.max_version)
			continue;
		/* One version per try, newest first, as Linux does. */
		cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_INIT);
		m.u.init.min_version = versions[i];
		m.u.init.max_version = versions[i];
		rc = vsc_nvsp_request(vsc, &m, CVMBUS_NVSP_INIT_COMPLETE, &r);
		if (rc < 0)
			return rc;
		if (r.u.init_complete.status == CVMBUS_NVSP_STATUS_SUCCESS) {
			cvmbus_mutex_lock(&vsc->lock);
			vsc->version = versions[i];
			cvmbus_mutex_unlock(&vsc->lock);
			break;
		}
	}
	if (!vsc->version)
		return -EIO;

	if (vsc->version >= CVMBUS_NVSP_VERSION_2) {
		cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_NDIS_CONFIG);
		m.u.ndis_config.mtu = vsc->cfg.mtu + CVMBUS_NET_ETH_HLEN;
		rc = vsc_nvsp_post(vsc, &m);
		if (rc < 0)
			return rc;
	}
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_NDIS_VERSION);
	m.u.ndis_version.major = CVMBUS_NDIS_VERSION_6_30 >> 16;
	m.u.ndis_version.minor = vsc->version <= CVMBUS_NVSP_VERSION_4
					 ? CVMBUS_NDIS_VERSION_6_1 & 0xffff
					 : CVMBUS_NDIS_VERSION_6_30 & 0xffff;
	return vsc_nvsp_post(vsc, &m);
}

static int vsc_setup_rx(struct cvmbus_netvsc *vsc)
{
	struct cvmbus_nvsp_msg m, r;
	struct cvmbus_nvsp_recv_section sec;
	uint8_t *copy;
	int rc;

	rc = cvmbus_channel_gpadl_create(vsc->ch, vsc->cfg.recv_buf_bytes, &vsc->rx_info);
	if (rc < 0)
		return rc;
	vsc->rx_gpadl = true;
	rc = cvmbus_net_gbuf_init(&vsc->rx, &vsc->rx_info);
	if (rc < 0)
		return rc;
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RECV_BUF);
	m.u.buf.gpadl = vsc->rx_info.id;
	m.u.buf.id = CVMBUS_NVSP_RECV_BUF_ID;
	rc = vsc_nvsp_request(vsc, &m, CVMBUS_NVSP_SEND_RECV_BUF_COMPLETE, &r);
	if (rc < 0)
		return rc;
	rc = cvmbus_nvsp_check_recv_buf_complete(&r, vsc->rx.bytes,
						 CVMBUS_RNDIS_PACKET_HEADER_SIZE, &sec);
	if (rc < 0) {
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsc: device refused the receive buffer: %d", rc);
		return rc;
	}
	copy = malloc(sec.sub_alloc_size);
	if (!copy)
		return -ENOMEM;
	cvmbus_mutex_lock(&vsc->lock);
	vsc->rxcopy = copy;
	vsc->rx_sec = sec;
	vsc->rx_ready = true;
	cvmbus_mutex_unlock(&vsc->lock);
	return 0;
}

static int vsc_setup_tx(struct cvmbus_netvsc *vsc)
{
	struct cvmbus_nvsp_msg m, r;
	uint32_t size, count, usable, cap, span = 0, nbig = 0;
	uint8_t *busy;
	uint32_t *fr, *big;
	int rc;

	rc = cvmbus_channel_gpadl_create(vsc->ch, vsc->cfg.send_buf_bytes, &vsc->tx_info);
	if (rc < 0)
		return rc;
	vsc->tx_gpadl = true;
	rc = cvmbus_net_gbuf_init(&vsc->tx, &vsc->tx_info);
	if (rc < 0)
		return rc;
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_SEND_BUF);
	m.u.buf.gpadl = vsc->tx_info.id;
	m.u.buf.id = CVMBUS_NVSP_SEND_BUF_ID;
	rc = vsc_nvsp_request(vsc, &m, CVMBUS_NVSP_SEND_SEND_BUF_COMPLETE, &r);
	if (rc < 0)
		return rc;
	rc = cvmbus_nvsp_check_send_buf_complete(&r, vsc->tx.bytes, min_section(vsc->cfg.mtu),
						 &size, &count);
	if (rc < 0) {
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "netvsc: device refused the send buffer: %d", rc);
		return rc;
	}
	/* Never more packets outstanding than half our outbound ring holds,
	 * so the device's thread never waits on us for ring space. */
	cap = cvmbus_ring_data_size(&vsc->ch->rings.out) / 2 / VSC_TX_PKT_BYTES;
	usable = count < cap ? count : cap;
	if (!usable)
		return -ENOSPC;
	/* LSO wanted: up to half the usable sections become big slots, each
	 * a run long enough for the largest GSO frame with its header. */
	if (vsc->cfg.offloads & (CVMBUS_NET_OFFLOAD_LSO4 | CVMBUS_NET_OFFLOAD_LSO6)) {
		span = (CVMBUS_NET_GSO_MAX_FRAME + CVMBUS_RNDIS_PACKET_HEADER_MAX + size - 1) / size;
		nbig = usable / 2 / span;
	}
	busy = calloc(count, 1);
	fr = calloc(usable, sizeof(*fr));
	big = calloc(nbig ? nbig : 1, sizeof(*big));
	if (!busy || !fr || !big) {
		free(busy);
		free(fr);
		free(big);
		return -ENOMEM;
	}
	cvmbus_mutex_lock(&vsc->lock);
	vsc->tx_section_size = size;
	vsc->tx_sections = count;
	vsc->tx_busy = busy;
	vsc->tx_free = fr;
	vsc->tx_free_n = 0;
	vsc->tx_big_free = big;
	vsc->tx_big_free_n = 0;
	vsc->tx_big_span = nbig ? span : 0;
	/* Singles first, the big slots after them. */
	for (uint32_t i = usable - nbig * span; i-- > 0;)
		fr[vsc->tx_free_n++] = i;
	for (uint32_t i = nbig; i-- > 0;)
		big[vsc->tx_big_free_n++] = usable - nbig * span + i * span;
	vsc->tx_ready = true;
	cvmbus_mutex_unlock(&vsc->lock);
	return 0;
}

/* Offloads, as Linux's rndis_filter does them: ask what the device can,
 * enable what we want of that. Any refusal leaves them all off: a device
 * without offloads is a device, not an error. The answer is the device's:
 * only its header and the fields we read are believed, and only bits we
 * asked for come out of it. */
static void vsc_offloads_up(struct cvmbus_netvsc *vsc)
{
	uint8_t val[sizeof(struct cvmbus_ndis_offload)];
	struct cvmbus_ndis_offload caps;
	struct cvmbus_ndis_offload_params p;
	uint32_t want = vsc->cfg.offloads, can = 0;
	size_t len = sizeof(val);
	const uint32_t l4 = CVMBUS_NDIS_CSUM_CAP_TCP | CVMBUS_NDIS_CSUM_CAP_UDP;
	int rc;

	rc = vsc_query_locked(vsc, CVMBUS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, val, &len, NULL);
	if (rc < 0 || len < CVMBUS_NDIS_OFFLOAD_SIZE_6_0)
		return;
	memset(&caps, 0, sizeof(caps));
	memcpy(&caps, val, len);
	if (caps.header.type != CVMBUS_NDIS_OBJECT_TYPE_OFFLOAD || caps.header.revision < 1)
		return;
	if ((caps.csum[0] & CVMBUS_NDIS_ENCAP_8023) && (caps.csum[1] & l4) == l4)
		can |= CVMBUS_NET_OFFLOAD_CSUM4;
	if ((caps.csum[4] & CVMBUS_NDIS_ENCAP_8023) && (caps.csum[5] & l4) == l4)
		can |= CVMBUS_NET_OFFLOAD_CSUM6;
	if ((caps.csum[2] & CVMBUS_NDIS_ENCAP_8023) && (caps.csum[3] & l4) == l4)
		can |= CVMBUS_NET_OFFLOAD_RXCSUM;
	/* LSO only up to a full 64 KiB, and only with our big slots. */
	if ((caps.lsov2[0] & CVMBUS_NDIS_ENCAP_8023) && caps.lsov2[1] >= 65535u &&
	    caps.lsov2[2] <= 2 && vsc->tx_big_span && (can & CVMBUS_NET_OFFLOAD_CSUM4))
		can |= CVMBUS_NET_OFFLOAD_LSO4;
	if ((caps.lsov2[3] & CVMBUS_NDIS_ENCAP_8023) && caps.lsov2[4] >= 65535u &&
	    caps.lsov2[5] <= 2 && vsc->tx_big_span && (can & CVMBUS_NET_OFFLOAD_CSUM6))
		can |= CVMBUS_NET_OFFLOAD_LSO6;
	want &= can;
	if (!want)
		return;
	memset(&p, 0, sizeof(p));
	p.header.type = CVMBUS_NDIS_OBJECT_TYPE_DEFAULT;
	p.header.revision = 3;
	p.header.size = sizeof(p);
	if (want & (CVMBUS_NET_OFFLOAD_CSUM4 | CVMBUS_NET_OFFLOAD_RXCSUM)) {
		uint8_t v = (want & CVMBUS_NET_OFFLOAD_CSUM4)
				    ? ((want & CVMBUS_NET_OFFLOAD_RXCSUM) ? CVMBUS_NDIS_OFFLOAD_TX_RX_ENABLED
									 : CVMBUS_NDIS_OFFLOAD_TX_ENABLED)
				    : CVMBUS_NDIS_OFFLOAD_RX_ENABLED;

		p.tcp4_csum = p.udp4_csum = v;
	}
	if (want & (CVMBUS_NET_OFFLOAD_CSUM6 | CVMBUS_NET_OFFLOAD_RXCSUM)) {
		uint8_t v = (want & CVMBUS_NET_OFFLOAD_CSUM6)
				    ? ((want & CVMBUS_NET_OFFLOAD_RXCSUM) ? CVMBUS_NDIS_OFFLOAD_TX_RX_ENABLED
									 : CVMBUS_NDIS_OFFLOAD_TX_ENABLED)
				    : CVMBUS_NDIS_OFFLOAD_RX_ENABLED;

		p.tcp6_csum = p.udp6_csum = v;
	}
	p.lso_v2_ip4 = (want & CVMBUS_NET_OFFLOAD_LSO4) ? CVMBUS_NDIS_OFFLOAD_LSOV2_ENABLED
							 : CVMBUS_NDIS_OFFLOAD_LSOV2_DISABLED;
	p.lso_v2_ip6 = (want & CVMBUS_NET_OFFLOAD_LSO6) ? CVMBUS_NDIS_OFFLOAD_LSOV2_ENABLED
							 : CVMBUS_NDIS_OFFLOAD_LSOV2_DISABLED;
	rc = vsc_set_locked(vsc, CVMBUS_OID_TCP_OFFLOAD_PARAMETERS, &p, sizeof(p), NULL);
	if (rc < 0)
		return;
	cvmbus_mutex_lock(&vsc->lock);
	vsc->offloads = want;
	cvmbus_mutex_unlock(&vsc->lock);
}

static int vsc_rndis_up(struct cvmbus_netvsc *vsc)
{
	uint8_t msg[64], copy[VSC_RQ_MAX], val[16];
	struct cvmbus_rndis_msg ans;
	uint32_t id = vsc_next_id(vsc), v, filter = vsc->cfg.packet_filter;
	size_t len;
	int n, rc;

	n = cvmbus_rndis_build_init(msg, sizeof(msg), id, vsc->tx_section_size);
	rc = vsc_rndis_request(vsc, msg, (uint32_t)n, id, CVMBUS_RNDIS_MSG_INITIALIZE_CMPLT, copy,
			       &ans);
	if (rc < 0)
		return rc;
	if (ans.status != CVMBUS_RNDIS_STATUS_SUCCESS)
		return -EIO;
	if (ans.u.init_cmplt.medium != CVMBUS_RNDIS_MEDIUM_802_3)
		return -EPROTO;

	len = sizeof(val);
	rc = vsc_query_locked(vsc, CVMBUS_OID_802_3_PERMANENT_ADDRESS, val, &len, NULL);
	if (rc < 0)
		return rc;
	if (len != CVMBUS_NET_ETH_ALEN)
		return -EPROTO;
	cvmbus_mutex_lock(&vsc->lock);
	memcpy(vsc->mac, val, CVMBUS_NET_ETH_ALEN);
	cvmbus_mutex_unlock(&vsc->lock);

	len = sizeof(val);
	rc = vsc_query_locked(vsc, CVMBUS_OID_GEN_MAXIMUM_FRAME_SIZE, val, &len, NULL);
	if (rc < 0)
		return rc;
	memcpy(&v, val, sizeof(v));
	/* The device's MTU, if smaller than ours, and never one our
	 * sections cannot carry; a nonsense value is the device's fault. */
	if (len != sizeof(v) || v < 68)
		return -EPROTO;
	cvmbus_mutex_lock(&vsc->lock);
	if (v < vsc->mtu)
		vsc->mtu = v;
	cvmbus_mutex_unlock(&vsc->lock);

	len = sizeof(val);
	rc = vsc_query_locked(vsc, CVMBUS_OID_GEN_MEDIA_CONNECT_STATUS, val, &len, NULL);
	if (rc < 0)
		return rc;
	if (len != sizeof(v))
		return -EPROTO;
	memcpy(&v, val, sizeof(v));
	cvmbus_mutex_lock(&vsc->lock);
	vsc->link_up = v == CVMBUS_RNDIS_MEDIA_CONNECTED;
	cvmbus_mutex_unlock(&vsc->lock);

	len = sizeof(val);
	rc = vsc_query_locked(vsc, CVMBUS_OID_GEN_LINK_SPEED, val, &len, NULL);
	if (rc == 0 && len == sizeof(v)) {
		memcpy(&v, val, sizeof(v));
		cvmbus_mutex_lock(&vsc->lock);
		vsc->link_speed = v;
		cvmbus_mutex_unlock(&vsc->lock);
	}

	if (vsc->cfg.offloads)
		vsc_offloads_up(vsc);

	rc = vsc_set_locked(vsc, CVMBUS_OID_GEN_CURRENT_PACKET_FILTER, &filter, sizeof(filter),
			    NULL);
	if (rc < 0)
		return rc;
	cvmbus_mutex_lock(&vsc->lock);
	vsc->filter = filter;
	cvmbus_mutex_unlock(&vsc->lock);
	return 0;
}

int cvmbus_netvsc_connect(struct cvmbus_netvsc *vsc)
{
	int rc;

	cvmbus_mutex_lock(&vsc->lock);
	if (vsc->state != CVMBUS_NETVSC_IDLE) {
		cvmbus_mutex_unlock(&vsc->lock);
		return -EINVAL;
	}
	vsc->state = CVMBUS_NETVSC_CONNECTING;
	cvmbus_mutex_unlock(&vsc->lock);

	rc = cvmbus_thread_spawn(vsc->exec, &vsc->thread, "netvsc", vsc_thread, vsc);
	if (rc < 0)
		goto fail;
	cvmbus_mutex_lock(&vsc->ctl_lock);
	rc = vsc_negotiate(vsc);
	if (rc == 0)
		rc = vsc_setup_rx(vsc);
	if (rc == 0)
		rc = vsc_setup_tx(vsc);
	if (rc == 0)
		rc = vsc_rndis_up(vsc);
	cvmbus_mutex_unlock(&vsc->ctl_lock);
	if (rc < 0)
		goto fail;
	cvmbus_mutex_lock(&vsc->lock);
	if (vsc->state == CVMBUS_NETVSC_CONNECTING)
		vsc->state = CVMBUS_NETVSC_READY;
	else
		rc = -ESHUTDOWN;
	cvmbus_mutex_unlock(&vsc->lock);
	return rc;

fail:
	cvmbus_log_warn("netvsc: handshake failed: %d", rc);
	cvmbus_mutex_lock(&vsc->lock);
	vsc->state = CVMBUS_NETVSC_FAILED;
	cvmbus_mutex_unlock(&vsc->lock);
	return rc;
}

/* ---- teardown ---------------------------------------------------------------- */

void cvmbus_netvsc_stop(struct cvmbus_netvsc *vsc)
{
	struct cvmbus_nvsp_msg m;
	uint8_t msg[16];
	bool ready;
	int n;

	cvmbus_mutex_lock(&vsc->lock);
	ready = vsc->state == CVMBUS_NETVSC_READY && !vsc->thread_done;
	cvmbus_mutex_unlock(&vsc->lock);
	if (ready) {
		/* Orderly goodbye, as Linux's rndis_filter_halt_device and
		 * netvsc_revoke_*_buf: best effort, nothing waits for it. */
		n = cvmbus_rndis_build_halt(msg, sizeof(msg), vsc_next_id(vsc));
		(void)vsc_send_rndis(vsc, msg, (uint32_t)n, NULL, 0, CVMBUS_NVSP_CHANNEL_CONTROL,
				     SEC_NS / 10, NULL);
		cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_REVOKE_RECV_BUF);
		m.u.revoke.id = CVMBUS_NVSP_RECV_BUF_ID;
		(void)cvmbus_channel_send_inband(vsc->ch, 0, 0, &m, sizeof(m), SEC_NS / 10);
		cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_REVOKE_SEND_BUF);
		m.u.revoke.id = CVMBUS_NVSP_SEND_BUF_ID;
		(void)cvmbus_channel_send_inband(vsc->ch, 0, 0, &m, sizeof(m), SEC_NS / 10);
	}
	cvmbus_mutex_lock(&vsc->lock);
	vsc->stopping = true;
	cvmbus_cond_broadcast(&vsc->cond);
	cvmbus_mutex_unlock(&vsc->lock);
	cvmbus_channel_close(vsc->ch);
	if (vsc->thread) {
		(void)cvmbus_thread_join(vsc->thread, NULL);
		vsc->thread = NULL;
	}
	cvmbus_mutex_lock(&vsc->lock);
	if (vsc->state != CVMBUS_NETVSC_FAILED)
		vsc->state = CVMBUS_NETVSC_STOPPED;
	vsc->rx_ready = vsc->tx_ready = false;
	cvmbus_mutex_unlock(&vsc->lock);
}

void cvmbus_netvsc_destroy(struct cvmbus_netvsc *vsc)
{
	if (!vsc)
		return;
	cvmbus_netvsc_stop(vsc);
	cvmbus_net_gbuf_fini(&vsc->rx);
	cvmbus_net_gbuf_fini(&vsc->tx);
	/* The pages become private again (or simply go back) with the
	 * teardown: the channel's ops own that decision too. */
	if (vsc->rx_gpadl)
		(void)cvmbus_channel_gpadl_teardown(vsc->ch, vsc->rx_info.id);
	if (vsc->tx_gpadl)
		(void)cvmbus_channel_gpadl_teardown(vsc->ch, vsc->tx_info.id);
	free(vsc->rxcopy);
	free(vsc->tx_busy);
	free(vsc->tx_free);
	free(vsc->tx_big_free);
	cvmbus_cond_destroy(&vsc->cond);
	cvmbus_mutex_destroy(&vsc->lock);
	cvmbus_mutex_destroy(&vsc->ctl_lock);
	free(vsc);
}

/* ---- state ---------------------------------------------------------------------- */

enum cvmbus_netvsc_state cvmbus_netvsc_state(struct cvmbus_netvsc *vsc)
{
	enum cvmbus_netvsc_state s;

	cvmbus_mutex_lock(&vsc->lock);
	s = vsc->state;
	cvmbus_mutex_unlock(&vsc->lock);
	return s;
}

void cvmbus_netvsc_get_info(struct cvmbus_netvsc *vsc, struct cvmbus_netvsc_info *out)
{
	memset(out, 0, sizeof(*out));
	cvmbus_mutex_lock(&vsc->lock);
	out->nvsp_version = vsc->version;
	memcpy(out->mac, vsc->mac, sizeof(out->mac));
	out->mtu = vsc->mtu;
	out->link_speed = vsc->link_speed;
	out->link_up = vsc->link_up;
	out->packet_filter = vsc->filter;
	out->recv_sections = vsc->rx_sec.num_sub_allocs;
	out->recv_section_size = vsc->rx_sec.sub_alloc_size;
	out->send_sections = vsc->tx_sections;
	out->send_section_size = vsc->tx_section_size;
	out->offloads = vsc->offloads;
	out->recv_buf_shared = vsc->rx_gpadl && vsc->rx_info.shared;
	out->send_buf_shared = vsc->tx_gpadl && vsc->tx_info.shared;
	cvmbus_mutex_unlock(&vsc->lock);
}

void cvmbus_netvsc_get_stats(struct cvmbus_netvsc *vsc, struct cvmbus_netvsc_stats *out)
{
	cvmbus_mutex_lock(&vsc->lock);
	*out = vsc->stats;
	cvmbus_mutex_unlock(&vsc->lock);
}
