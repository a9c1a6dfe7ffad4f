/* SPDX-License-Identifier: MIT */
/*
 * The storage VSC (include/cvmbus/storage.h, layer src/dev): the guest's
 * driver for Hyper-V synthetic SCSI, written against the channel API like
 * Linux's storvsc. It does the handshake, then sends SCSI commands whose data
 * is a buffer in the guest's own memory (a GPA range, usually private).
 *
 * Two data paths, chosen by the offer's "confidential external memory" flag
 * that the caller passes in:
 *   confidential  the VSP runs in the paravisor and can read private memory:
 *                 the buffer's own PFNs go in the GPA-direct range. No copy,
 *                 no page ever becomes host-visible.
 *   host          the VSP runs on the host, which reaches only shared pages:
 *                 the data is copied through the bounce pool (bounce.c) and
 *                 the pool pages' shared aliases are sent.
 *
 * Requests. A tag table holds every outstanding request; the transaction id
 * is (generation << 32 | tag), so a completion for a tag that was reused, or
 * for a request already ended by its timeout, matches nothing and is dropped
 * and counted. One reader at a time owns the inbound ring (the channel's
 * reader lock): the receive thread, or a caller that drains it around its
 * own send (the completion may be written on its own thread, by a VTL2
 * pass of the paravisor's storvsp) or before it sleeps. The reader matches
 * completions, checks them (vstor.c: a response may not claim more data or
 * sense than its request had room for), copies bounced read data back, and
 * wakes the waiter, after dropping the table's lock (the only lock the
 * waiter then needs). The receive thread ends requests whose deadline passed
 * (-ETIMEDOUT) and, when the channel closes or the VSC stops, every request
 * still outstanding (-ESHUTDOWN): no request is ever left without an answer.
 *
 * Callers. submit and wait may run on any thread the executor's primitives
 * allow (under the native executor, any thread: the disk service calls them
 * from nbdkit's). Each takes the table's lock once on the hot path; the
 * receive thread takes it once per completion and, for expiry, only once
 * the earliest deadline has passed: on two CPUs a contended lock is a
 * context switch.
 *
 * Trust. Completions are the device's and hostile: each is decoded once into
 * a private packet; a bad one fails only its own request, the channel and
 * the other requests go on.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/log.h>
#include <cvmbus/storage.h>

#define VSC_PAGE                CVMBUS_RING_PAGE_SIZE
#define VSC_DEFAULT_OUTSTANDING 128u
#define VSC_DEFAULT_TIMEOUT_NS  (30ull * 1000 * 1000 * 1000)
#define VSC_DEFAULT_POLL_NS     (20ull * 1000 * 1000)
/* The largest transfer this VSC sends, whatever the device offers: it
 * bounds the PFN list of one packet (257 entries, 2 KiB). */
#define VSC_MAX_TRANSFER        (1024u * 1024u)
#define VSC_MAX_PFNS            (VSC_MAX_TRANSFER / VSC_PAGE + 1)
/* Windows' storvsc asks for 60 s per SRB; Linux copies it. */
#define VSC_SRB_TIMEOUT_S       60u
#define VSC_SP_UNTAGGED         0xffu
#define VSC_SRB_SIMPLE_TAG      0x20u
/* Completions a caller drains for everybody before it goes on (it came
 * for its own; the rest it hands to the receive thread). */
#define VSC_CALLER_BUDGET       32u
/* Packets per round of the receive thread (then it looks at deadlines). */
#define VSC_RX_BUDGET           64u

enum vsc_slot_state {
	VSC_SLOT_FREE = 0,
	VSC_SLOT_PENDING,    /* sent (or being sent), no answer yet */
	VSC_SLOT_COMPLETING, /* the receive thread is copying its data back */
	VSC_SLOT_DONE,       /* res is final; the waiter takes it */
};

struct vsc_slot {
	enum vsc_slot_state state;
	/* Taken and not yet released by wait: a copy of "state != FREE" that
	 * wait can check without the lock (a wait on a free slot is a
	 * caller's mistake, refused rather than hung). */
	_Atomic bool taken;
	uint32_t gen;
	uint16_t version;      /* the layout the request was sent in */
	uint64_t deadline;
	struct cvmbus_vstor_packet req;
	struct cvmbus_vstor_packet resp; /* handshake answers */
	struct cvmbus_storvsc_cmd cmd;
	bool bounced;
	struct cvmbus_bounce_buf bounce;
	struct cvmbus_storvsc_result res;
	/* With vsc->lock: the slot's state left PENDING/COMPLETING. One
	 * condition on the table's own lock, not a completion with a lock of
	 * its own: the waiter wakes to one lock, and the receive thread
	 * signals after dropping it (docs/BENCHMARKS.md, "Storage"). */
	struct cvmbus_cond done;
};

struct cvmbus_storvsc {
	struct cvmbus_exec *exec;
	struct cvmbus_channel *ch;
	struct cvmbus_mem *mem;
	struct cvmbus_bounce_pool *bounce;
	bool confidential;
	bool no_bounce;
	uint32_t nslots;
	uint64_t timeout_ns;
	uint64_t poll_ns;
	uint16_t max_version;
	uint64_t ram_base, ram_bytes; /* VTL0: where caller buffers may be */

	struct cvmbus_mutex lock; /* everything below */
	enum cvmbus_storvsc_state state;
	uint16_t version;
	uint32_t max_transfer;
	struct vsc_slot *slots;
	uint32_t *free_stack;
	uint32_t nfree;
	uint32_t tags_in_use; /* taken and not yet released by wait */
	/* The earliest deadline of a pending request (or later: expiry
	 * recomputes it). Written under the lock, read without it by the
	 * receive loop, which takes the lock only once it has passed. */
	_Atomic uint64_t next_expiry;
	struct cvmbus_storvsc_stats stats;

	_Atomic bool stopping;
	bool stopped;
	struct cvmbus_thread *rx_thread;
};

/* ---- slots -------------------------------------------------------------------- */

/* Take a free tag (lock held). internal: handshake packets, allowed before
 * READY. */
static int vsc_take_slot(struct cvmbus_storvsc *vsc, bool internal, uint32_t *tag)
{
	struct vsc_slot *s;

	if (vsc->state == CVMBUS_STORVSC_DEAD)
		return -ESHUTDOWN;
	if (!internal && vsc->state != CVMBUS_STORVSC_READY)
		return -ENODEV;
	if (vsc->nfree == 0)
		return -ENOSPC;
	*tag = vsc->free_stack[--vsc->nfree];
	s = &vsc->slots[*tag];
	s->gen++;
	if (s->gen == 0) /* trans_id 0 never names a request */
		s->gen = 1;
	s->state = VSC_SLOT_PENDING;
	s->bounced = false;
	memset(&s->res, 0, sizeof(s->res));
	memset(&s->resp, 0, sizeof(s->resp));
	s->deadline = cvmbus_exec_deadline(vsc->exec, vsc->timeout_ns);
	if (s->deadline < atomic_load_explicit(&vsc->next_expiry, memory_order_relaxed))
		atomic_store_explicit(&vsc->next_expiry, s->deadline, memory_order_relaxed);
	atomic_store_explicit(&s->taken, true, memory_order_relaxed);
	vsc->tags_in_use++;
	if (vsc->tags_in_use > vsc->stats.max_outstanding)
		vsc->stats.max_outstanding = vsc->tags_in_use;
	return 0;
}

static void vsc_put_slot(struct cvmbus_storvsc *vsc, uint32_t tag)
{
	vsc->slots[tag].state = VSC_SLOT_FREE;
	atomic_store_explicit(&vsc->slots[tag].taken, false, memory_order_relaxed);
	vsc->free_stack[vsc->nfree++] = tag;
	vsc->tags_in_use--;
}

static uint64_t vsc_trans_id(const struct cvmbus_storvsc *vsc, uint32_t tag)
{
	return ((uint64_t)vsc->slots[tag].gen << 32) | tag;
}

/* End a PENDING request with an error (lock held): its bounce pages go back
 * now; a completion arriving later finds the slot not PENDING (or with a new
 * generation) and is dropped. */
static void vsc_fail_slot(struct cvmbus_storvsc *vsc, struct vsc_slot *s, int err)
{
	s->res.error = err;
	s->state = VSC_SLOT_DONE;
	vsc->stats.failed++;
	if (s->bounced) {
		cvmbus_bounce_free(vsc->bounce, &s->bounce);
		s->bounced = false;
	}
	cvmbus_cond_broadcast(&s->done);
}

/* ---- the receive thread ---------------------------------------------------------- */

static void vsc_complete(struct cvmbus_storvsc *vsc, const struct cvmbus_ring_packet *pkt)
{
	uint32_t tag = (uint32_t)pkt->trans_id, gen = (uint32_t)(pkt->trans_id >> 32);
	struct cvmbus_vstor_packet resp;
	struct vsc_slot *s;
	uint32_t tx;
	int rc;

	cvmbus_mutex_lock(&vsc->lock);
	if (tag >= vsc->nslots || vsc->slots[tag].state != VSC_SLOT_PENDING ||
	    vsc->slots[tag].gen != gen) {
		vsc->stats.unknown_completions++;
		cvmbus_mutex_unlock(&vsc->lock);
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "storvsc: completion %#llx matches no request",
			      (unsigned long long)pkt->trans_id);
		return;
	}
	s = &vsc->slots[tag];
	/* One decode into private memory; every check below reads resp. */
	rc = cvmbus_vstor_decode(pkt->payload, pkt->payload_len, s->version, &resp);
	if (rc == 0)
		rc = cvmbus_vstor_check_completion(&s->req, &resp, pkt->payload_len, s->version);
	if (rc < 0) {
		vsc->stats.bad_completions++;
		vsc_fail_slot(vsc, s, -EPROTO);
		cvmbus_mutex_unlock(&vsc->lock);
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "storvsc: bad completion for tag %u refused", tag);
		return;
	}
	s->resp = resp;
	s->res.nt_status = resp.status;
	if (s->req.operation == CVMBUS_VSTOR_OP_EXECUTE_SRB) {
		s->res.srb_status = resp.srb.srb_status;
		s->res.scsi_status = resp.srb.scsi_status;
		s->res.transfer_length = resp.srb.data_transfer_length;
		s->res.sense_len = resp.srb.sense_info_length;
		memcpy(s->res.sense, resp.srb.sense_data, s->res.sense_len);
	}
	tx = s->res.transfer_length;
	/* Data the device returned into bounce pages is copied back only for
	 * a successful read: an error's pages may hold anything. */
	if (s->bounced && s->cmd.dir == CVMBUS_SCSI_DIR_IN && tx &&
	    CVMBUS_SRB_STATUS_CODE(s->res.srb_status) == CVMBUS_SRB_STATUS_SUCCESS) {
		struct cvmbus_bounce_buf b = s->bounce;
		uint64_t dst = s->cmd.gpa;

		/* The copy runs without the lock (submitters go on); the
		 * COMPLETING state keeps expiry and shutdown off this slot. */
		s->state = VSC_SLOT_COMPLETING;
		cvmbus_mutex_unlock(&vsc->lock);
		rc = cvmbus_bounce_from_device(vsc->bounce, &b, dst, tx);
		cvmbus_mutex_lock(&vsc->lock);
		if (rc < 0)
			s->res.error = rc;
	}
	if (s->bounced) {
		cvmbus_bounce_free(vsc->bounce, &s->bounce);
		s->bounced = false;
	}
	if (s->res.error == 0 &&
	    CVMBUS_SRB_STATUS_CODE(s->res.srb_status) == CVMBUS_SRB_STATUS_SUCCESS) {
		if (s->cmd.dir == CVMBUS_SCSI_DIR_IN)
			vsc->stats.bytes_read += tx;
		else if (s->cmd.dir == CVMBUS_SCSI_DIR_OUT)
			vsc->stats.bytes_written += tx;
	}
	if (s->res.error)
		vsc->stats.failed++;
	vsc->stats.completed++;
	s->state = VSC_SLOT_DONE;
	cvmbus_mutex_unlock(&vsc->lock);
	/* After the unlock, so that the waiter does not wake into a held
	 * lock. The slot may be free (or taken again) by now: a signal to
	 * its next owner is only a spurious wake-up, which re-checks. */
	cvmbus_cond_signal(&s->done);
}

static void vsc_handle(struct cvmbus_storvsc *vsc, const struct cvmbus_ring_packet *pkt)
{
	struct cvmbus_vstor_packet vp;

	if (pkt->type == CVMBUS_RING_PKT_COMPLETION) {
		vsc_complete(vsc, pkt);
		return;
	}
	/* In-band from the VSP: ENUMERATE_BUS / REMOVE_DEVICE ask for a
	 * rescan (Linux queues host_scan_work). This VSC has one LUN and
	 * only counts them; anything else is dropped. */
	cvmbus_mutex_lock(&vsc->lock);
	if (pkt->type == CVMBUS_RING_PKT_INBAND &&
	    cvmbus_vstor_decode(pkt->payload, pkt->payload_len, vsc->version, &vp) == 0 &&
	    (vp.operation == CVMBUS_VSTOR_OP_ENUMERATE_BUS ||
	     vp.operation == CVMBUS_VSTOR_OP_REMOVE_DEVICE))
		vsc->stats.unsolicited++;
	else
		vsc->stats.unknown_completions++;
	cvmbus_mutex_unlock(&vsc->lock);
}

/* End every PENDING request whose deadline passed (lock held) and work out
 * when to look next. */
static void vsc_expire(struct cvmbus_storvsc *vsc)
{
	uint64_t now = cvmbus_exec_now_ns(vsc->exec);
	uint64_t next = CVMBUS_EXEC_FOREVER;

	if (now < atomic_load_explicit(&vsc->next_expiry, memory_order_relaxed))
		return;
	for (uint32_t i = 0; i < vsc->nslots; i++) {
		struct vsc_slot *s = &vsc->slots[i];

		if (s->state != VSC_SLOT_PENDING)
			continue;
		if (s->deadline <= now) {
			vsc->stats.timeouts++;
			vsc_fail_slot(vsc, s, -ETIMEDOUT);
			CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "storvsc: request %u timed out", i);
		} else if (s->deadline < next) {
			next = s->deadline;
		}
	}
	atomic_store_explicit(&vsc->next_expiry, next, memory_order_relaxed);
}

static void vsc_fail_all(struct cvmbus_storvsc *vsc, int err)
{
	cvmbus_mutex_lock(&vsc->lock);
	vsc->state = CVMBUS_STORVSC_DEAD;
	for (uint32_t i = 0; i < vsc->nslots; i++)
		if (vsc->slots[i].state == VSC_SLOT_PENDING)
			vsc_fail_slot(vsc, &vsc->slots[i], err);
	cvmbus_mutex_unlock(&vsc->lock);
}

/* Every reader of the inbound ring (the receive thread, or a caller
 * draining before it sleeps) hands packets here. */
static bool vsc_packet(void *arg, const struct cvmbus_ring_packet *pkt)
{
	vsc_handle(arg, pkt);
	return false;
}

static int vsc_rx_main(void *arg)
{
	struct cvmbus_storvsc *vsc = arg;
	int rc, err = -ESHUTDOWN;

	while (!atomic_load(&vsc->stopping)) {
		uint64_t wait = vsc->poll_ns, now, next;

		next = atomic_load_explicit(&vsc->next_expiry, memory_order_relaxed);
		now = cvmbus_exec_now_ns(vsc->exec);
		if (next != CVMBUS_EXEC_FOREVER)
			wait = next > now ? (next - now < wait ? next - now : wait) : 0;
		rc = cvmbus_channel_serve(vsc->ch, vsc_packet, vsc, VSC_RX_BUDGET, wait ? wait : 1);
		if (rc < 0 && rc != -ETIMEDOUT && rc != -EAGAIN && rc != -EINTR) {
			/* Closed (-ESHUTDOWN) or broken by the peer (-EPROTO,
			 * -EMSGSIZE): every request still out ends now. */
			err = rc == -ESHUTDOWN ? -ESHUTDOWN : -EPROTO;
			cvmbus_log_info("storvsc: channel ended (%d)", rc);
			break;
		}
		/* Most rounds end here without the lock: nothing is due. */
		if (cvmbus_exec_now_ns(vsc->exec) >=
		    atomic_load_explicit(&vsc->next_expiry, memory_order_relaxed)) {
			cvmbus_mutex_lock(&vsc->lock);
			vsc_expire(vsc);
			cvmbus_mutex_unlock(&vsc->lock);
		}
	}
	vsc_fail_all(vsc, err);
	return 0;
}

/* ---- setup ------------------------------------------------------------------------ */

int cvmbus_storvsc_create(const struct cvmbus_storvsc_config *cfg, struct cvmbus_storvsc **out)
{
	struct cvmbus_storvsc *vsc;
	int rc = -ENOMEM;

	if (!cfg || !cfg->exec || !cfg->channel || !cfg->mem || !out)
		return -EINVAL;
	/* A host channel needs somewhere host-visible to put the data. */
	if (!cfg->confidential_external_memory && !cfg->no_bounce && !cfg->bounce)
		return -EINVAL;
	vsc = calloc(1, sizeof(*vsc));
	if (!vsc)
		return -ENOMEM;
	vsc->exec = cfg->exec;
	vsc->ch = cfg->channel;
	vsc->mem = cfg->mem;
	vsc->bounce = cfg->bounce;
	vsc->confidential = cfg->confidential_external_memory;
	vsc->no_bounce = cfg->no_bounce;
	vsc->nslots = cfg->max_outstanding ? cfg->max_outstanding : VSC_DEFAULT_OUTSTANDING;
	vsc->timeout_ns = cfg->timeout_ns ? cfg->timeout_ns : VSC_DEFAULT_TIMEOUT_NS;
	vsc->poll_ns = cfg->poll_ns ? cfg->poll_ns : VSC_DEFAULT_POLL_NS;
	vsc->max_version = cfg->max_version ? cfg->max_version : CVMBUS_VSTOR_VERSION_WIN10;
	atomic_init(&vsc->next_expiry, CVMBUS_EXEC_FOREVER);
	vsc->state = CVMBUS_STORVSC_IDLE;
	rc = cvmbus_mem_region(cfg->mem, CVMBUS_MEM_REGION_VTL0, &vsc->ram_base, &vsc->ram_bytes);
	if (rc < 0)
		goto fail;
	rc = -ENOMEM;
	vsc->slots = calloc(vsc->nslots, sizeof(*vsc->slots));
	vsc->free_stack = calloc(vsc->nslots, sizeof(*vsc->free_stack));
	if (!vsc->slots || !vsc->free_stack)
		goto fail;
	cvmbus_mutex_init(&vsc->lock, cfg->exec, "storvsc");
	for (uint32_t i = vsc->nslots; i-- > 0;) {
		cvmbus_cond_init(&vsc->slots[i].done, cfg->exec, "storvsc-req");
		vsc->free_stack[vsc->nfree++] = i;
	}
	rc = cvmbus_thread_spawn(cfg->exec, &vsc->rx_thread, "storvsc-rx", vsc_rx_main, vsc);
	if (rc < 0)
		goto fail_sync;
	*out = vsc;
	return 0;

fail_sync:
	for (uint32_t i = 0; i < vsc->nslots; i++)
		cvmbus_cond_destroy(&vsc->slots[i].done);
	cvmbus_mutex_destroy(&vsc->lock);
fail:
	free(vsc->free_stack);
	free(vsc->slots);
	free(vsc);
	return rc;
}

void cvmbus_storvsc_stop(struct cvmbus_storvsc *vsc)
{
	if (!vsc || vsc->stopped)
		return;
	atomic_store(&vsc->stopping, true);
	(void)cvmbus_thread_join(vsc->rx_thread, NULL);
	vsc->rx_thread = NULL;
	vsc->stopped = true;
}

void cvmbus_storvsc_destroy(struct cvmbus_storvsc *vsc)
{
	if (!vsc)
		return;
	cvmbus_storvsc_stop(vsc);
	for (uint32_t i = 0; i < vsc->nslots; i++)
		cvmbus_cond_destroy(&vsc->slots[i].done);
	cvmbus_mutex_destroy(&vsc->lock);
	free(vsc->free_stack);
	free(vsc->slots);
	free(vsc);
}

enum cvmbus_storvsc_state cvmbus_storvsc_state(struct cvmbus_storvsc *vsc)
{
	enum cvmbus_storvsc_state st;

	cvmbus_mutex_lock(&vsc->lock);
	st = vsc->state;
	cvmbus_mutex_unlock(&vsc->lock);
	return st;
}

uint16_t cvmbus_storvsc_version(struct cvmbus_storvsc *vsc)
{
	uint16_t v;

	cvmbus_mutex_lock(&vsc->lock);
	v = vsc->version;
	cvmbus_mutex_unlock(&vsc->lock);
	return v;
}

uint32_t cvmbus_storvsc_max_transfer(struct cvmbus_storvsc *vsc)
{
	uint32_t v;

	cvmbus_mutex_lock(&vsc->lock);
	v = vsc->max_transfer;
	cvmbus_mutex_unlock(&vsc->lock);
	return v;
}

void cvmbus_storvsc_get_stats(struct cvmbus_storvsc *vsc, struct cvmbus_storvsc_stats *out)
{
	cvmbus_mutex_lock(&vsc->lock);
	*out = vsc->stats;
	cvmbus_mutex_unlock(&vsc->lock);
}

/* ---- sending ------------------------------------------------------------------------ */

static uint64_t vsc_remaining(struct cvmbus_storvsc *vsc, uint64_t deadline)
{
	uint64_t now = cvmbus_exec_now_ns(vsc->exec);

	if (deadline == CVMBUS_EXEC_FOREVER)
		return CVMBUS_EXEC_FOREVER;
	/* 0 would mean "don't wait" to the channel; an expired request gets
	 * one nanosecond and fails by timeout like any other. */
	return deadline > now ? deadline - now : 1;
}

/* Send slot `tag`'s packet (already in slots[tag].req), with one GPA range
 * if range != NULL. Called with vsc->lock held (the caller just filled the
 * slot: one lock round per request, not two); returns with it released.
 * On failure the slot is released here. */
static int vsc_send_unlock(struct cvmbus_storvsc *vsc, uint32_t tag,
			   const struct cvmbus_ring_gpa_range *range)
{
	struct vsc_slot *s = &vsc->slots[tag];
	struct cvmbus_ring_iov iov;
	struct cvmbus_ring_outpkt out;
	uint64_t deadline;
	bool claimed;
	int rc;

	iov.base = &s->req;
	iov.len = cvmbus_vstor_packet_size(s->version);
	memset(&out, 0, sizeof(out));
	out.type = range ? CVMBUS_RING_PKT_GPA_DIRECT : CVMBUS_RING_PKT_INBAND;
	out.flags = CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED;
	out.trans_id = vsc_trans_id(vsc, tag);
	out.gpa = range;
	out.gpa_count = range ? 1 : 0;
	out.payload = &iov;
	out.payload_count = 1;
	deadline = s->deadline;
	vsc->stats.submitted++;
	cvmbus_mutex_unlock(&vsc->lock);

	/*
	 * The completion may be written before the send returns: on the
	 * confidential path the signal is a VTL switch, and the paravisor's
	 * storvsp runs the SRB on this very thread (the vCPU) before it
	 * comes back. So, if nobody is reading the inbound ring now, take it
	 * and mask its interrupt first (Linux's hv_begin_read: a reader is
	 * active, do not interrupt it): the completion then wakes no vCPU
	 * and no receive thread, and this thread drains it right after,
	 * unmasking and looking again before it lets go (hv_end_read). With
	 * the reader held the send may not wait (the peer may need this
	 * ring drained to make room): a full ring drops the reader first.
	 * s->req is not written again until the slot is free, so the ring
	 * may copy it without the lock while a reader reads it.
	 */
	claimed = cvmbus_channel_reader_try(vsc->ch) == 0;
	rc = cvmbus_channel_send(vsc->ch, &out, claimed ? 0 : vsc_remaining(vsc, deadline));
	if (claimed) {
		(void)cvmbus_channel_reader_end(vsc->ch, vsc_packet, vsc, VSC_CALLER_BUDGET);
		if (rc == -EAGAIN)
			rc = cvmbus_channel_send(vsc->ch, &out, vsc_remaining(vsc, deadline));
	}
	if (rc == 0)
		return 0;

	cvmbus_mutex_lock(&vsc->lock);
	/* A packet the ring published before it found the ring corrupt may
	 * have been answered: let the receive thread finish with it. */
	while (s->state == VSC_SLOT_COMPLETING)
		cvmbus_cond_wait(&s->done, &vsc->lock);
	if (s->state == VSC_SLOT_PENDING) {
		/* Never answered: nobody else will touch the tag. */
		vsc->stats.failed++;
		if (s->bounced) {
			cvmbus_bounce_free(vsc->bounce, &s->bounce);
			s->bounced = false;
		}
	}
	/* Else the receive thread already ended it (shutdown or expiry)
	 * while we were blocked in send; the caller gets rc either way. */
	vsc_put_slot(vsc, tag);
	cvmbus_mutex_unlock(&vsc->lock);
	return rc;
}

/* A handshake packet: send, wait, hand back the decoded answer. */
static int vsc_transact(struct cvmbus_storvsc *vsc, uint32_t op, const void *body,
			size_t body_len, struct cvmbus_vstor_packet *resp)
{
	struct vsc_slot *s;
	uint32_t tag;
	int rc;

	cvmbus_mutex_lock(&vsc->lock);
	rc = vsc_take_slot(vsc, true, &tag);
	if (rc == 0) {
		s = &vsc->slots[tag];
		memset(&s->req, 0, sizeof(s->req));
		s->req.operation = op;
		s->req.flags = CVMBUS_VSTOR_FLAG_REQUEST_COMPLETION;
		if (body)
			memcpy(s->req.buffer, body, body_len);
		s->version = vsc->version;
		memset(&s->cmd, 0, sizeof(s->cmd));
	}
	if (rc < 0) {
		cvmbus_mutex_unlock(&vsc->lock);
		return rc;
	}
	rc = vsc_send_unlock(vsc, tag, NULL);
	if (rc < 0)
		return rc;
	s = &vsc->slots[tag];
	cvmbus_mutex_lock(&vsc->lock);
	/* No timeout: the receive thread ends every request (see wait). */
	while (s->state != VSC_SLOT_DONE)
		cvmbus_cond_wait(&s->done, &vsc->lock);
	rc = s->res.error;
	*resp = s->resp;
	vsc_put_slot(vsc, tag);
	cvmbus_mutex_unlock(&vsc->lock);
	return rc;
}

int cvmbus_storvsc_connect(struct cvmbus_storvsc *vsc)
{
	static const uint16_t versions[] = {
		CVMBUS_VSTOR_VERSION_WIN10, CVMBUS_VSTOR_VERSION_WIN8_1, CVMBUS_VSTOR_VERSION_WIN8,
		CVMBUS_VSTOR_VERSION_WIN7,  CVMBUS_VSTOR_VERSION_WIN6,
	};
	struct cvmbus_vstor_packet resp;
	uint16_t chosen = 0;
	uint32_t max_transfer;
	int rc;

	if (!vsc)
		return -EINVAL;
	cvmbus_mutex_lock(&vsc->lock);
	if (vsc->state != CVMBUS_STORVSC_IDLE) {
		rc = vsc->state == CVMBUS_STORVSC_DEAD ? -ESHUTDOWN : -EBUSY;
		cvmbus_mutex_unlock(&vsc->lock);
		return rc;
	}
	cvmbus_mutex_unlock(&vsc->lock);

	rc = vsc_transact(vsc, CVMBUS_VSTOR_OP_BEGIN_INITIALIZATION, NULL, 0, &resp);
	if (rc < 0)
		goto out;
	if (resp.status != CVMBUS_VSTOR_STATUS_SUCCESS) {
		rc = -EIO;
		goto out;
	}
	/* Highest first, as Linux walks vmstor_protocols[]. */
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		struct cvmbus_vstor_version v = { .major_minor = versions[i] };

		if (versions[i] > vsc->max_version)
			continue;
		rc = vsc_transact(vsc, CVMBUS_VSTOR_OP_QUERY_PROTOCOL_VERSION, &v, sizeof(v),
				  &resp);
		if (rc < 0)
			goto out;
		if (resp.status == CVMBUS_VSTOR_STATUS_SUCCESS) {
			chosen = versions[i];
			break;
		}
	}
	if (!chosen) {
		rc = -EIO;
		goto out;
	}
	/* From here on packets are sent in the negotiated layout. */
	cvmbus_mutex_lock(&vsc->lock);
	vsc->version = chosen;
	cvmbus_mutex_unlock(&vsc->lock);

	rc = vsc_transact(vsc, CVMBUS_VSTOR_OP_QUERY_PROPERTIES, NULL, 0, &resp);
	if (rc < 0)
		goto out;
	if (resp.status != CVMBUS_VSTOR_STATUS_SUCCESS) {
		rc = -EIO;
		goto out;
	}
	/* The device's limit is hostile too: less than a page is no device
	 * we can use, more than our PFN list holds is cut to it. */
	max_transfer = resp.properties.max_transfer_bytes;
	if (max_transfer < VSC_PAGE) {
		rc = -EPROTO;
		goto out;
	}
	if (max_transfer > VSC_MAX_TRANSFER)
		max_transfer = VSC_MAX_TRANSFER;
	max_transfer -= max_transfer % CVMBUS_SCSI_SECTOR;

	rc = vsc_transact(vsc, CVMBUS_VSTOR_OP_END_INITIALIZATION, NULL, 0, &resp);
	if (rc < 0)
		goto out;
	if (resp.status != CVMBUS_VSTOR_STATUS_SUCCESS) {
		rc = -EIO;
		goto out;
	}
	cvmbus_mutex_lock(&vsc->lock);
	vsc->max_transfer = max_transfer;
	if (vsc->state == CVMBUS_STORVSC_IDLE)
		vsc->state = CVMBUS_STORVSC_READY;
	else
		rc = -ESHUTDOWN;
	cvmbus_mutex_unlock(&vsc->lock);
	return rc;

out:
	cvmbus_mutex_lock(&vsc->lock);
	if (vsc->state == CVMBUS_STORVSC_IDLE)
		vsc->state = CVMBUS_STORVSC_FAILED;
	cvmbus_mutex_unlock(&vsc->lock);
	return rc;
}

/* Whether a request of len bytes may go now (lock held): 0, -ESHUTDOWN (the
 * channel is gone), -ENODEV (not ready yet), -EMSGSIZE (over the device's
 * limit). */
static int vsc_can_submit(const struct cvmbus_storvsc *vsc, uint32_t len)
{
	int rc = vsc->state == CVMBUS_STORVSC_READY ? 0
		 : vsc->state == CVMBUS_STORVSC_DEAD ? -ESHUTDOWN
						     : -ENODEV;

	return !rc && len > vsc->max_transfer ? -EMSGSIZE : rc;
}

/* ---- I/O ---------------------------------------------------------------------------- */

int cvmbus_storvsc_submit(struct cvmbus_storvsc *vsc, const struct cvmbus_storvsc_cmd *cmd,
			  uint32_t *tag)
{
	uint64_t pfns[VSC_MAX_PFNS];
	struct cvmbus_ring_gpa_range range;
	struct cvmbus_bounce_buf bounce = { 0, 0 };
	bool bounced = false, direct = false;
	uint32_t t;
	struct vsc_slot *s;
	uint16_t version;
	int rc;

	if (!vsc || !cmd || !tag || cmd->cdb_len == 0 || cmd->cdb_len > CVMBUS_VSTOR_MAX_CDB)
		return -EINVAL;
	if ((cmd->dir == CVMBUS_SCSI_DIR_NONE) != (cmd->len == 0))
		return -EINVAL;
	if (cmd->len && (cmd->gpa < vsc->ram_base || cmd->gpa - vsc->ram_base > vsc->ram_bytes ||
			 cmd->len > vsc->ram_bytes - (cmd->gpa - vsc->ram_base)))
		return -EFAULT;

	memset(&range, 0, sizeof(range));
	if (cmd->len) {
		range.byte_count = cmd->len;
		range.pfns = pfns;
	}
	if (cmd->len && (vsc->confidential || vsc->no_bounce)) {
		/* The buffer's own pages: the paravisor reads them through
		 * its view (or, no_bounce on a host channel, the host fails
		 * to). */
		uint64_t first = cmd->gpa / VSC_PAGE;

		if (cmd->len > VSC_MAX_TRANSFER)
			return -EMSGSIZE; /* more than pfns holds; max_transfer says less */
		range.byte_offset = (uint32_t)(cmd->gpa % VSC_PAGE);
		range.pfn_count =
			(uint32_t)((range.byte_offset + cmd->len + VSC_PAGE - 1) / VSC_PAGE);
		for (uint32_t i = 0; i < range.pfn_count; i++)
			pfns[i] = first + i;
		direct = true;
	} else if (cmd->len) {
		/* The pool may make us wait for pages: look at the state and
		 * the limit first, so that a request the device would refuse
		 * takes none. */
		cvmbus_mutex_lock(&vsc->lock);
		rc = vsc_can_submit(vsc, cmd->len);
		cvmbus_mutex_unlock(&vsc->lock);
		if (rc < 0)
			return rc;
		rc = cvmbus_bounce_alloc(vsc->bounce, cmd->len, vsc->timeout_ns, &bounce);
		if (rc < 0)
			return rc;
		bounced = true;
		if (cmd->dir == CVMBUS_SCSI_DIR_OUT) {
			rc = cvmbus_bounce_to_device(vsc->bounce, &bounce, cmd->gpa, cmd->len);
			if (rc < 0) {
				cvmbus_bounce_free(vsc->bounce, &bounce);
				return rc;
			}
		}
		range.byte_offset = 0;
		range.pfn_count = (uint32_t)bounce.pages;
		for (uint32_t i = 0; i < range.pfn_count; i++)
			pfns[i] = cvmbus_bounce_alias_pfn(vsc->bounce, &bounce, i);
	}

	/* One lock round: the state, the limit, a tag, the packet; the send
	 * drops it. */
	cvmbus_mutex_lock(&vsc->lock);
	rc = vsc_can_submit(vsc, cmd->len);
	if (!rc)
		rc = vsc_take_slot(vsc, false, &t);
	if (rc < 0) {
		cvmbus_mutex_unlock(&vsc->lock);
		if (bounced)
			cvmbus_bounce_free(vsc->bounce, &bounce);
		return rc;
	}
	version = vsc->version;
	s = &vsc->slots[t];
	s->version = version;
	s->cmd = *cmd;
	s->bounced = bounced;
	s->bounce = bounce;
	if (direct)
		vsc->stats.direct_bytes += cmd->len;
	memset(&s->req, 0, sizeof(s->req));
	s->req.operation = CVMBUS_VSTOR_OP_EXECUTE_SRB;
	s->req.flags = CVMBUS_VSTOR_FLAG_REQUEST_COMPLETION;
	s->req.srb.length = (uint16_t)cvmbus_vstor_srb_size(version);
	s->req.srb.lun = cmd->lun;
	s->req.srb.cdb_length = cmd->cdb_len;
	s->req.srb.sense_info_length = (uint8_t)cvmbus_vstor_sense_size(version);
	s->req.srb.data_in = cmd->dir == CVMBUS_SCSI_DIR_OUT  ? CVMBUS_VSTOR_DATA_OUT
			     : cmd->dir == CVMBUS_SCSI_DIR_IN ? CVMBUS_VSTOR_DATA_IN
							      : CVMBUS_VSTOR_DATA_UNKNOWN;
	s->req.srb.data_transfer_length = cmd->len;
	memcpy(s->req.srb.cdb, cmd->cdb, cmd->cdb_len);
	if (version >= CVMBUS_VSTOR_VERSION_WIN8) {
		/* The win8 extension, filled as Linux's storvsc_queuecommand. */
		s->req.srb.time_out_value = VSC_SRB_TIMEOUT_S;
		s->req.srb.srb_flags = CVMBUS_SRB_FLAGS_DISABLE_SYNCH_TRANSFER |
				       CVMBUS_SRB_FLAGS_QUEUE_ACTION_ENABLE |
				       CVMBUS_SRB_FLAGS_NO_QUEUE_FREEZE;
		if (cmd->dir == CVMBUS_SCSI_DIR_OUT)
			s->req.srb.srb_flags |= CVMBUS_SRB_FLAGS_DATA_OUT;
		else if (cmd->dir == CVMBUS_SCSI_DIR_IN)
			s->req.srb.srb_flags |= CVMBUS_SRB_FLAGS_DATA_IN;
		s->req.srb.queue_tag = VSC_SP_UNTAGGED;
		s->req.srb.queue_action = VSC_SRB_SIMPLE_TAG;
	}

	rc = vsc_send_unlock(vsc, t, cmd->len ? &range : NULL);
	if (rc < 0)
		return rc;
	*tag = t;
	return 0;
}

int cvmbus_storvsc_wait(struct cvmbus_storvsc *vsc, uint32_t tag,
			struct cvmbus_storvsc_result *res)
{
	struct vsc_slot *s;
	int rc;

	if (!vsc || !res || tag >= vsc->nslots)
		return -EINVAL;
	s = &vsc->slots[tag];
	if (!atomic_load_explicit(&s->taken, memory_order_relaxed))
		return -EINVAL;
	/* No timeout here: the receive thread ends every request by its
	 * deadline or at shutdown, so this wait is bounded by them. */
	cvmbus_mutex_lock(&vsc->lock);
	if (s->state != VSC_SLOT_DONE) {
		/* Before sleeping, drain the ring if nobody is: the answer
		 * may be there already, written while another reader had
		 * the interrupt masked. -EBUSY: that reader looks again
		 * before it lets go and wakes us. */
		cvmbus_mutex_unlock(&vsc->lock);
		(void)cvmbus_channel_poll(vsc->ch, vsc_packet, vsc, VSC_CALLER_BUDGET);
		cvmbus_mutex_lock(&vsc->lock);
	}
	while (s->state != VSC_SLOT_DONE)
		cvmbus_cond_wait(&s->done, &vsc->lock);
	*res = s->res;
	rc = res->error;
	vsc_put_slot(vsc, tag);
	cvmbus_mutex_unlock(&vsc->lock);
	return rc;
}

int cvmbus_storvsc_execute(struct cvmbus_storvsc *vsc, const struct cvmbus_storvsc_cmd *cmd,
			   struct cvmbus_storvsc_result *res)
{
	uint32_t tag;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = cvmbus_storvsc_submit(vsc, cmd, &tag);
	if (rc < 0) {
		res->error = rc;
		return rc;
	}
	return cvmbus_storvsc_wait(vsc, tag, res);
}

int cvmbus_storvsc_result_errno(const struct cvmbus_storvsc_result *res)
{
	if (res->error)
		return res->error;
	if (CVMBUS_SRB_STATUS_CODE(res->srb_status) != CVMBUS_SRB_STATUS_SUCCESS ||
	    res->scsi_status != CVMBUS_SCSI_STATUS_GOOD)
		return -EIO;
	return 0;
}

/* ---- conveniences --------------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* Execute and insist on a full transfer of `len` bytes. */
static int vsc_exec_full(struct cvmbus_storvsc *vsc, const struct cvmbus_storvsc_cmd *cmd,
			 struct cvmbus_storvsc_result *res)
{
	int rc = cvmbus_storvsc_execute(vsc, cmd, res);

	if (rc < 0)
		return rc;
	rc = cvmbus_storvsc_result_errno(res);
	if (rc == 0 && res->transfer_length != cmd->len)
		rc = -EIO; /* a short read or write is an error to a block device */
	return rc;
}

static int vsc_rw(struct cvmbus_storvsc *vsc, bool write, uint64_t lba, uint32_t sectors,
		  uint64_t gpa)
{
	struct cvmbus_storvsc_cmd cmd;
	struct cvmbus_storvsc_result res;
	uint64_t bytes = (uint64_t)sectors * CVMBUS_SCSI_SECTOR;

	if (sectors == 0 || bytes > UINT32_MAX)
		return -EINVAL;
	memset(&cmd, 0, sizeof(cmd));
	/* READ/WRITE(16): any LBA, any count; the device takes both forms. */
	cmd.cdb[0] = write ? CVMBUS_SCSI_WRITE_16 : CVMBUS_SCSI_READ_16;
	put_be64(cmd.cdb + 2, lba);
	put_be32(cmd.cdb + 10, sectors);
	cmd.cdb_len = 16;
	cmd.dir = write ? CVMBUS_SCSI_DIR_OUT : CVMBUS_SCSI_DIR_IN;
	cmd.gpa = gpa;
	cmd.len = (uint32_t)bytes;
	return vsc_exec_full(vsc, &cmd, &res);
}

int cvmbus_storvsc_read(struct cvmbus_storvsc *vsc, uint64_t lba, uint32_t sectors,
			uint64_t gpa)
{
	return vsc_rw(vsc, false, lba, sectors, gpa);
}

int cvmbus_storvsc_write(struct cvmbus_storvsc *vsc, uint64_t lba, uint32_t sectors,
			 uint64_t gpa)
{
	return vsc_rw(vsc, true, lba, sectors, gpa);
}

int cvmbus_storvsc_flush(struct cvmbus_storvsc *vsc)
{
	struct cvmbus_storvsc_cmd cmd;
	struct cvmbus_storvsc_result res;

	memset(&cmd, 0, sizeof(cmd));
	cmd.cdb[0] = CVMBUS_SCSI_SYNCHRONIZE_CACHE_10;
	cmd.cdb_len = 10;
	cmd.dir = CVMBUS_SCSI_DIR_NONE;
	return vsc_exec_full(vsc, &cmd, &res);
}

int cvmbus_storvsc_test_unit_ready(struct cvmbus_storvsc *vsc)
{
	struct cvmbus_storvsc_cmd cmd;
	struct cvmbus_storvsc_result res;

	memset(&cmd, 0, sizeof(cmd));
	cmd.cdb[0] = CVMBUS_SCSI_TEST_UNIT_READY;
	cmd.cdb_len = 6;
	cmd.dir = CVMBUS_SCSI_DIR_NONE;
	return vsc_exec_full(vsc, &cmd, &res);
}

int cvmbus_storvsc_unmap(struct cvmbus_storvsc *vsc, uint64_t lba, uint32_t sectors,
			 uint64_t scratch_gpa)
{
	struct cvmbus_storvsc_cmd cmd;
	struct cvmbus_storvsc_result res;
	uint8_t list[24];
	int rc;

	/* The parameter list: header (unmap data length 22, block descriptor
	 * data length 16), then one descriptor. */
	memset(list, 0, sizeof(list));
	list[1] = 22;
	list[3] = 16;
	put_be64(list + 8, lba);
	put_be32(list + 16, sectors);
	rc = cvmbus_mem_write(vsc->mem, CVMBUS_MEM_VIEW_GUEST, scratch_gpa, list, sizeof(list));
	if (rc < 0)
		return rc;
	memset(&cmd, 0, sizeof(cmd));
	cmd.cdb[0] = CVMBUS_SCSI_UNMAP;
	cmd.cdb[8] = sizeof(list);
	cmd.cdb_len = 10;
	cmd.dir = CVMBUS_SCSI_DIR_OUT;
	cmd.gpa = scratch_gpa;
	cmd.len = sizeof(list);
	rc = cvmbus_storvsc_execute(vsc, &cmd, &res);
	return rc < 0 ? rc : cvmbus_storvsc_result_errno(&res);
}

int cvmbus_storvsc_read_capacity(struct cvmbus_storvsc *vsc, uint64_t scratch_gpa,
				 uint64_t *sectors, uint32_t *block_size)
{
	struct cvmbus_storvsc_cmd cmd;
	struct cvmbus_storvsc_result res;
	uint8_t data[32];
	uint64_t last = 0;
	uint32_t bs = 0;
	int rc;

	memset(&cmd, 0, sizeof(cmd));
	cmd.cdb[0] = CVMBUS_SCSI_SERVICE_ACTION_IN_16;
	cmd.cdb[1] = CVMBUS_SCSI_SAI_READ_CAPACITY_16;
	put_be32(cmd.cdb + 10, sizeof(data));
	cmd.cdb_len = 16;
	cmd.dir = CVMBUS_SCSI_DIR_IN;
	cmd.gpa = scratch_gpa;
	cmd.len = sizeof(data);
	rc = vsc_exec_full(vsc, &cmd, &res);
	if (rc < 0)
		return rc;
	rc = cvmbus_mem_read(vsc->mem, CVMBUS_MEM_VIEW_GUEST, scratch_gpa, data, sizeof(data));
	if (rc < 0)
		return rc;
	for (int i = 0; i < 8; i++)
		last = (last << 8) | data[i];
	for (int i = 8; i < 12; i++)
		bs = (bs << 8) | data[i];
	if (last == UINT64_MAX)
		return -EPROTO;
	*sectors = last + 1;
	*block_size = bs;
	return 0;
}

int cvmbus_storvsc_inquiry(struct cvmbus_storvsc *vsc, bool evpd, uint8_t page, uint64_t gpa,
			   uint32_t len, uint32_t *got)
{
	struct cvmbus_storvsc_cmd cmd;
	struct cvmbus_storvsc_result res;
	int rc;

	if (len == 0 || len > 0xffff)
		return -EINVAL;
	memset(&cmd, 0, sizeof(cmd));
	cmd.cdb[0] = CVMBUS_SCSI_INQUIRY;
	cmd.cdb[1] = evpd ? 0x01 : 0x00;
	cmd.cdb[2] = page;
	cmd.cdb[3] = (uint8_t)(len >> 8);
	cmd.cdb[4] = (uint8_t)len;
	cmd.cdb_len = 6;
	cmd.dir = CVMBUS_SCSI_DIR_IN;
	cmd.gpa = gpa;
	cmd.len = len;
	rc = cvmbus_storvsc_execute(vsc, &cmd, &res);
	if (rc < 0)
		return rc;
	rc = cvmbus_storvsc_result_errno(&res);
	if (rc == 0 && got)
		*got = res.transfer_length;
	return rc;
}
