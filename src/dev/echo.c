/* SPDX-License-Identifier: MIT */
/*
 * The echo device (include/cvmbus/echo.h; layer src/dev, over the channel
 * API only): a VSP that answers in-band requests with their own payload and
 * GPA-direct requests with a hash of the memory they name, plus the guest's
 * helper that sends both. It exists to prove the plumbing: that a packet
 * went through a real ring in the right memory, that the right SynIC
 * carried the signal, and which guest memory the device's server could
 * reach (the hash, or -EFAULT).
 *
 * Everything the guest wrote is hostile: packets reach us as the channel's
 * validated private copy, GPA ranges are read through the channel's memory
 * operations (the server's view decides what is reachable), and the amount
 * read per request is bounded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/echo.h>
#include <cvmbus/log.h>

#define ECHO_DEFAULT_POLL_NS   100000000ull /* 100 ms */
#define ECHO_DEFAULT_MAX_GPA   (1ull << 20)
#define ECHO_CHUNK             4096u

struct cvmbus_echo {
	struct cvmbus_echo_config cfg;
	struct cvmbus_mutex lock; /* stats */
	struct cvmbus_echo_stats stats;
};

/* One open channel's receive loop. */
struct echo_chan {
	struct cvmbus_echo *e;
	struct cvmbus_vsp_channel *vc;
	struct cvmbus_thread *thread;
	uint8_t chunk[ECHO_CHUNK];
	char name[CVMBUS_THREAD_NAME_MAX];
};

int cvmbus_echo_create(const struct cvmbus_echo_config *cfg, struct cvmbus_echo **out)
{
	struct cvmbus_echo *e;

	if (!cfg || !cfg->exec || !out)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cfg = *cfg;
	if (!e->cfg.poll_ns)
		e->cfg.poll_ns = ECHO_DEFAULT_POLL_NS;
	if (!e->cfg.max_gpa_bytes)
		e->cfg.max_gpa_bytes = ECHO_DEFAULT_MAX_GPA;
	cvmbus_mutex_init(&e->lock, cfg->exec, "echo-stats");
	*out = e;
	return 0;
}

void cvmbus_echo_destroy(struct cvmbus_echo *e)
{
	if (!e)
		return;
	cvmbus_mutex_destroy(&e->lock);
	free(e);
}

void cvmbus_echo_get_stats(struct cvmbus_echo *e, struct cvmbus_echo_stats *out)
{
	cvmbus_mutex_lock(&e->lock);
	*out = e->stats;
	cvmbus_mutex_unlock(&e->lock);
}

void cvmbus_echo_offer_params(struct cvmbus_offer_params *p, uint32_t instance,
			      bool confidential_external_memory)
{
	const struct cvmbus_guid id = CVMBUS_ECHO_INTERFACE_ID_INIT;

	memset(p, 0, sizeof(*p));
	p->interface_id = id;
	p->instance_id.data1 = instance;
	p->instance_id.data2 = 0xec40;
	p->instance_id.data3 = 0x4000;
	p->instance_id.data4[0] = 0x80;
	p->offer_order = CVMBUS_OFFER_ORDER_NONE;
	if (confidential_external_memory)
		p->flags = CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY;
}

/* ---- the device ---------------------------------------------------------- */

/* Hash every range of a GPA-direct packet, page-sized chunk by chunk, as
 * the device's server lets it read them. */
static void echo_hash(struct echo_chan *ec, const struct cvmbus_ring_packet *pkt,
		      struct cvmbus_echo_hash_reply *out)
{
	struct cvmbus_channel *ch = ec->vc->channel;
	struct cvmbus_ring_gpa_view range;
	uint64_t h = CVMBUS_ECHO_FNV_OFFSET;
	uint32_t cursor = 0;
	int more;

	memset(out, 0, sizeof(*out));
	while ((more = cvmbus_ring_packet_gpa_range(pkt, &cursor, &range)) == 1) {
		if (out->bytes + range.byte_count > ec->e->cfg.max_gpa_bytes) {
			out->status = -E2BIG;
			break;
		}
		for (uint32_t off = 0; off < range.byte_count;) {
			uint32_t n = range.byte_count - off;
			int rc;

			if (n > ECHO_CHUNK)
				n = ECHO_CHUNK;
			rc = cvmbus_channel_gpa_read(ch, &range, off, ec->chunk, n);
			if (rc < 0) {
				out->status = rc;
				break;
			}
			h = cvmbus_echo_fnv1a(h, ec->chunk, n);
			off += n;
			out->bytes += n;
		}
		if (out->status)
			break;
		out->ranges++;
	}
	if (more < 0 && !out->status)
		out->status = more;
	out->fnv1a = out->status ? 0 : h;
}

static void echo_packet(struct echo_chan *ec, const struct cvmbus_ring_packet *pkt)
{
	struct cvmbus_echo *e = ec->e;
	struct cvmbus_channel *ch = ec->vc->channel;
	bool reply = pkt->flags & CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED;
	struct cvmbus_echo_hash_reply hr;
	int rc = 0;

	cvmbus_mutex_lock(&e->lock);
	e->stats.packets++;
	e->stats.bytes += pkt->len;
	cvmbus_mutex_unlock(&e->lock);

	if (pkt->type == CVMBUS_RING_PKT_INBAND && reply) {
		/* The payload is the channel's private copy; it stays valid
		 * until the next receive, which this thread makes. */
		rc = cvmbus_channel_send_completion(ch, pkt->trans_id, pkt->payload,
						    pkt->payload_len, CVMBUS_EXEC_FOREVER);
		cvmbus_mutex_lock(&e->lock);
		if (rc == 0)
			e->stats.echoes++;
		cvmbus_mutex_unlock(&e->lock);
	} else if (pkt->type == CVMBUS_RING_PKT_GPA_DIRECT) {
		echo_hash(ec, pkt, &hr);
		cvmbus_mutex_lock(&e->lock);
		e->stats.gpa_requests++;
		e->stats.gpa_bytes += hr.bytes;
		if (hr.status)
			e->stats.faults++;
		cvmbus_mutex_unlock(&e->lock);
		if (reply)
			rc = cvmbus_channel_send_completion(ch, pkt->trans_id, &hr, sizeof(hr),
							    CVMBUS_EXEC_FOREVER);
	} else {
		cvmbus_mutex_lock(&e->lock);
		e->stats.ignored++;
		cvmbus_mutex_unlock(&e->lock);
	}
	if (rc < 0 && rc != -ESHUTDOWN) {
		cvmbus_mutex_lock(&e->lock);
		e->stats.send_errors++;
		cvmbus_mutex_unlock(&e->lock);
	}
}

static int echo_loop(void *arg)
{
	struct echo_chan *ec = arg;
	struct cvmbus_ring_packet pkt;

	for (;;) {
		int rc = cvmbus_channel_recv(ec->vc->channel, &pkt, ec->e->cfg.poll_ns);

		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			continue;
		if (rc < 0) {
			/* -ESHUTDOWN is the close; anything else (a corrupt
			 * ring, an oversized packet) closed the channel. */
			if (rc != -ESHUTDOWN)
				CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "echo: relid %u: receive failed (%d)",
					      ec->vc->relid, rc);
			return rc == -ESHUTDOWN ? 0 : rc;
		}
		echo_packet(ec, &pkt);
	}
}

static int echo_open(void *ctx, struct cvmbus_vsp_channel *vc)
{
	struct cvmbus_echo *e = ctx;
	struct echo_chan *ec;
	int rc;

	ec = calloc(1, sizeof(*ec));
	if (!ec)
		return -ENOMEM;
	ec->e = e;
	ec->vc = vc;
	snprintf(ec->name, sizeof(ec->name), "echo-%u", vc->relid);
	rc = cvmbus_thread_spawn(e->cfg.exec, &ec->thread, ec->name, echo_loop, ec);
	if (rc) {
		free(ec);
		return rc;
	}
	vc->device_data = ec;
	cvmbus_mutex_lock(&e->lock);
	e->stats.opens++;
	e->stats.channels_open++;
	cvmbus_mutex_unlock(&e->lock);
	return 0;
}

static void echo_close(void *ctx, struct cvmbus_vsp_channel *vc)
{
	struct cvmbus_echo *e = ctx;
	struct echo_chan *ec = vc->device_data;

	if (!ec)
		return;
	/* The glue closed the channel already; closing again is harmless
	 * and makes this safe for callers that did not. */
	cvmbus_channel_close(vc->channel);
	cvmbus_thread_join(ec->thread, NULL);
	free(ec);
	vc->device_data = NULL;
	cvmbus_mutex_lock(&e->lock);
	e->stats.closes++;
	e->stats.channels_open--;
	cvmbus_mutex_unlock(&e->lock);
}

static const struct cvmbus_vsp_ops echo_ops = {
	.open = echo_open,
	.close = echo_close,
	.max_packet = 0,
};

const struct cvmbus_vsp_ops *cvmbus_echo_vsp_ops(void)
{
	return &echo_ops;
}

/* ---- the guest side ------------------------------------------------------ */

void cvmbus_echo_vsc_init(struct cvmbus_echo_vsc *v, struct cvmbus_channel *ch)
{
	memset(v, 0, sizeof(*v));
	v->ch = ch;
}

static uint64_t time_left(struct cvmbus_channel *ch, uint64_t deadline)
{
	uint64_t now;

	if (deadline == CVMBUS_EXEC_FOREVER)
		return CVMBUS_EXEC_FOREVER;
	now = cvmbus_exec_now_ns(ch->exec);
	return deadline > now ? deadline - now : 0;
}

/* Receive until the completion of trans_id arrives; anything else is a
 * leftover of an earlier (timed-out) call and is skipped. */
static int await_completion(struct cvmbus_echo_vsc *v, uint64_t trans_id, uint64_t deadline,
			    struct cvmbus_ring_packet *pkt)
{
	for (;;) {
		uint64_t left = time_left(v->ch, deadline);
		int rc;

		if (!left)
			return -ETIMEDOUT;
		rc = cvmbus_channel_recv(v->ch, pkt, left);
		if (rc == -EAGAIN)
			return -ETIMEDOUT;
		if (rc < 0)
			return rc;
		if (pkt->type == CVMBUS_RING_PKT_COMPLETION && pkt->trans_id == trans_id)
			return 0;
		v->stale++;
	}
}

int cvmbus_echo_call(struct cvmbus_echo_vsc *v, const void *data, size_t len, void *reply,
		     size_t cap, size_t *reply_len, uint64_t timeout_ns)
{
	struct cvmbus_ring_packet pkt;
	uint64_t deadline, id;
	int rc;

	if (!v || !v->ch || !data || !len || (cap && !reply))
		return -EINVAL;
	deadline = cvmbus_exec_deadline(v->ch->exec, timeout_ns);
	id = ++v->next_id;
	rc = cvmbus_channel_send_inband(v->ch, CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED, id, data,
					len, time_left(v->ch, deadline));
	if (rc)
		return rc == -EAGAIN ? -ETIMEDOUT : rc;
	rc = await_completion(v, id, deadline, &pkt);
	if (rc)
		return rc;
	if (pkt.payload_len < len)
		return -EPROTO;
	if (reply_len)
		*reply_len = pkt.payload_len;
	if (cap)
		memcpy(reply, pkt.payload, pkt.payload_len < cap ? pkt.payload_len : cap);
	return 0;
}

int cvmbus_echo_gpa_hash(struct cvmbus_echo_vsc *v, const struct cvmbus_ring_gpa_range *ranges,
			 uint32_t count, struct cvmbus_echo_hash_reply *out, uint64_t timeout_ns)
{
	struct cvmbus_ring_outpkt op;
	struct cvmbus_ring_packet pkt;
	uint64_t deadline, id;
	int rc;

	if (!v || !v->ch || !ranges || !count || !out)
		return -EINVAL;
	deadline = cvmbus_exec_deadline(v->ch->exec, timeout_ns);
	id = ++v->next_id;
	memset(&op, 0, sizeof(op));
	op.type = CVMBUS_RING_PKT_GPA_DIRECT;
	op.flags = CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED;
	op.trans_id = id;
	op.gpa = ranges;
	op.gpa_count = count;
	rc = cvmbus_channel_send(v->ch, &op, time_left(v->ch, deadline));
	if (rc)
		return rc == -EAGAIN ? -ETIMEDOUT : rc;
	rc = await_completion(v, id, deadline, &pkt);
	if (rc)
		return rc;
	if (pkt.payload_len < sizeof(*out))
		return -EPROTO;
	/* pkt.payload is the channel's private copy: read it once. */
	memcpy(out, pkt.payload, sizeof(*out));
	return 0;
}
