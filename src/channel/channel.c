/* SPDX-License-Identifier: MIT */
/*
 * The device-facing channel (include/cvmbus/channel.h): blocking send and
 * receive over the two rings of a channel, the peer signalled exactly when
 * the ring's Linux-faithful decision says so, and external memory reached
 * through the endpoint's own ops. Sits between src/ring (which never blocks
 * and never signals) and the device protocols in src/dev.
 *
 * Wake-ups. A peer's signal is one bit per channel, so it cannot say "data"
 * or "space": cvmbus_channel_notify() rings both the receiver's doorbell
 * and the sender's, and each re-checks its ring. Doorbells latch, so a
 * signal that lands between "ring looked empty" and "wait" is not lost:
 *   receiver: every received packet is committed (read_index published)
 *             before the next emptiness check, so a writer that adds a
 *             packet after that check sees read_index == its old write
 *             index and signals (ring.c's write-side decision);
 *   sender:   on a full ring it publishes pending_send_sz and re-checks
 *             the free space after a full barrier
 *             (cvmbus_ring_set_pending_send's *ready) before waiting, so a
 *             reader that frees space after the check sees the request and
 *             signals (ring.c's read-side decision).
 *
 * Readers that take turns (cvmbus_channel_poll and friends). The ring has
 * one reader at a time, but for a device that asks, "the reader" is
 * whichever thread holds ch->reader: its receive thread, the vCPU that
 * signalled it (an inline pass), or a caller draining its own completion.
 * Nobody waits for that lock: a thread that finds it held sets read_wanted
 * and leaves, and the holder, after unlocking, looks at read_wanted and
 * takes the lock again if it was set:
 *   asker:  read_wanted = 1; fence [RW1]; trylock fails
 *   holder: unlock; fence [RW2]; read_wanted == 1 -> trylock, drain again
 * [RW1] pairs with [RW2] (the store-buffer pattern): either the asker's
 * trylock sees the lock free, or the holder's load sees the request. A
 * holder's pass also masks the ring's interrupt while it drains and, on
 * unmasking, looks again (cvmbus_ring_end_read's *readable), so a packet
 * written under the mask is drained by the pass that set it; whatever a
 * pass leaves (its budget, or a device that cannot take more now) goes to
 * the receive thread's doorbell, so no packet waits for a signal that the
 * mask suppressed.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/channel.h>

/* ---- setup ---------------------------------------------------------------- */

int cvmbus_channel_init(struct cvmbus_channel *ch, const struct cvmbus_channel_config *cfg)
{
	int rc;

	if (!ch || !cfg || !cfg->exec || !cfg->ops || !cfg->ops->signal)
		return -EINVAL;
	memset(ch, 0, sizeof(*ch));
	ch->rxbuf_len = cfg->max_packet ? cfg->max_packet : CVMBUS_CHANNEL_DEFAULT_MAX_PACKET;
	/* The ring copies into this buffer with 8-byte granularity. */
	ch->rxbuf_len = (ch->rxbuf_len + 7u) & ~(size_t)7u;
	ch->rxbuf = aligned_alloc(8, ch->rxbuf_len);
	if (!ch->rxbuf)
		return -ENOMEM;

	rc = cvmbus_ring_channel_init(&ch->rings, cfg->endpoint, cfg->mode, &cfg->upstream,
				      &cfg->downstream);
	if (rc < 0 && rc != -EPROTO)
		goto fail;

	ch->ops = cfg->ops;
	ch->ctx = cfg->ctx;
	ch->exec = cfg->exec;
	cvmbus_mutex_init(&ch->send_lock, cfg->exec, "channel-send");
	cvmbus_mutex_init(&ch->stats_lock, cfg->exec, "channel-stats");
	cvmbus_doorbell_init(&ch->wake_rx, cfg->exec, "channel-rx");
	cvmbus_doorbell_init(&ch->wake_tx, cfg->exec, "channel-tx");
	cvmbus_mutex_init(&ch->reader, cfg->exec, "channel-reader");
	cvmbus_mutex_init(&ch->inline_lock, cfg->exec, "channel-inline");
	/* An ATTACH that found a corrupt ring leaves a channel that only
	 * reports the fault: every call fails with -EPROTO. */
	return rc;

fail:
	free(ch->rxbuf);
	ch->rxbuf = NULL;
	return rc;
}

void cvmbus_channel_destroy(struct cvmbus_channel *ch)
{
	if (!ch || !ch->rxbuf)
		return;
	cvmbus_mutex_destroy(&ch->inline_lock);
	cvmbus_mutex_destroy(&ch->reader);
	cvmbus_doorbell_destroy(&ch->wake_tx);
	cvmbus_doorbell_destroy(&ch->wake_rx);
	cvmbus_mutex_destroy(&ch->stats_lock);
	cvmbus_mutex_destroy(&ch->send_lock);
	free(ch->rxbuf);
	ch->rxbuf = NULL;
}

void cvmbus_channel_notify(struct cvmbus_channel *ch)
{
	cvmbus_mutex_lock(&ch->stats_lock);
	ch->stats.notifications++;
	cvmbus_mutex_unlock(&ch->stats_lock);
	cvmbus_doorbell_ring(&ch->wake_rx, CVMBUS_CHANNEL_WAKE_DATA);
	cvmbus_doorbell_ring(&ch->wake_tx, CVMBUS_CHANNEL_WAKE_SPACE);
}

void cvmbus_channel_kick(struct cvmbus_channel *ch)
{
	cvmbus_doorbell_ring(&ch->wake_rx, CVMBUS_CHANNEL_WAKE_KICK);
	cvmbus_doorbell_ring(&ch->wake_tx, CVMBUS_CHANNEL_WAKE_KICK);
}

void cvmbus_channel_close(struct cvmbus_channel *ch)
{
	atomic_store(&ch->closed, true);
	cvmbus_doorbell_ring(&ch->wake_rx, CVMBUS_CHANNEL_WAKE_CLOSE);
	cvmbus_doorbell_ring(&ch->wake_tx, CVMBUS_CHANNEL_WAKE_CLOSE);
}

bool cvmbus_channel_is_closed(struct cvmbus_channel *ch)
{
	return atomic_load(&ch->closed);
}

void cvmbus_channel_get_stats(struct cvmbus_channel *ch, struct cvmbus_channel_stats *out)
{
	cvmbus_mutex_lock(&ch->stats_lock);
	*out = ch->stats;
	cvmbus_mutex_unlock(&ch->stats_lock);
}

/* Time left until an absolute executor deadline (0 once it has passed). */
static uint64_t remaining(struct cvmbus_channel *ch, uint64_t deadline)
{
	uint64_t now;

	if (deadline == CVMBUS_EXEC_FOREVER)
		return CVMBUS_EXEC_FOREVER;
	now = cvmbus_exec_now_ns(ch->exec);
	return deadline > now ? deadline - now : 0;
}

/* ---- send ----------------------------------------------------------------- */

int cvmbus_channel_send(struct cvmbus_channel *ch, const struct cvmbus_ring_outpkt *pkt,
			uint64_t timeout_ns)
{
	uint64_t deadline = cvmbus_exec_deadline(ch->exec, timeout_ns);
	bool signal = false, waited = false, ready;
	uint64_t fired = 0;
	uint32_t needed = 0;
	size_t bytes = 0;
	int rc;

	for (size_t i = 0; i < pkt->payload_count; i++)
		bytes += pkt->payload[i].len;

	cvmbus_mutex_lock(&ch->send_lock);
	for (;;) {
		if (cvmbus_channel_is_closed(ch)) {
			rc = -ESHUTDOWN;
			break;
		}
		rc = cvmbus_ring_send(&ch->rings.out, pkt, &signal, &needed);
		if (rc != -EAGAIN)
			break;
		if (timeout_ns == 0)
			break;
		/* Ask the reader to signal once more than `needed` is free,
		 * then look again: space freed before the request was
		 * visible would otherwise never be signalled. */
		rc = cvmbus_ring_set_pending_send(&ch->rings.out, needed, &ready);
		if (rc < 0) {
			rc = rc == -EINVAL ? -EMSGSIZE : rc;
			break;
		}
		if (!waited) {
			waited = true;
			cvmbus_mutex_lock(&ch->stats_lock);
			ch->stats.send_waits++;
			cvmbus_mutex_unlock(&ch->stats_lock);
		}
		if (ready)
			continue;
		rc = cvmbus_doorbell_wait(&ch->wake_tx,
					  CVMBUS_CHANNEL_WAKE_SPACE | CVMBUS_CHANNEL_WAKE_CLOSE |
						  CVMBUS_CHANNEL_WAKE_KICK,
					  remaining(ch, deadline), &fired);
		if (rc < 0)
			break;
		if (fired & CVMBUS_CHANNEL_WAKE_KICK) {
			rc = -EINTR;
			break;
		}
	}
	if (waited)
		(void)cvmbus_ring_set_pending_send(&ch->rings.out, 0, &ready);
	if (rc == -EPROTO)
		cvmbus_channel_close(ch);
	if (rc == 0) {
		cvmbus_mutex_lock(&ch->stats_lock);
		ch->stats.packets_sent++;
		ch->stats.bytes_sent += bytes;
		if (signal)
			ch->stats.signals_sent++;
		cvmbus_mutex_unlock(&ch->stats_lock);
	}
	cvmbus_mutex_unlock(&ch->send_lock);

	/* Signal outside the lock: the signal path may take the peer's locks
	 * (a loopback peer's doorbell, the platform's port table). */
	if (rc == 0 && signal)
		ch->ops->signal(ch->ctx);
	return rc;
}

int cvmbus_channel_send_inband(struct cvmbus_channel *ch, uint16_t flags, uint64_t trans_id,
			       const void *data, size_t len, uint64_t timeout_ns)
{
	struct cvmbus_ring_iov iov = { .base = data, .len = len };
	struct cvmbus_ring_outpkt pkt = {
		.type = CVMBUS_RING_PKT_INBAND,
		.flags = flags,
		.trans_id = trans_id,
		.payload = &iov,
		.payload_count = 1,
	};

	return cvmbus_channel_send(ch, &pkt, timeout_ns);
}

int cvmbus_channel_send_completion(struct cvmbus_channel *ch, uint64_t trans_id,
				   const void *data, size_t len, uint64_t timeout_ns)
{
	struct cvmbus_ring_iov iov = { .base = data, .len = len };
	struct cvmbus_ring_outpkt pkt = {
		.type = CVMBUS_RING_PKT_COMPLETION,
		.trans_id = trans_id,
		.payload = &iov,
		.payload_count = 1,
	};

	return cvmbus_channel_send(ch, &pkt, timeout_ns);
}

/* ---- receive -------------------------------------------------------------- */

/* Both receive loops' wait, once they found nothing to read: 0 (look
 * again: data, a close, or a spurious wake-up), -EAGAIN (timeout_ns 0: no
 * wait at all), -EINTR (kicked), or the doorbell's -ETIMEDOUT. */
static int wait_rx(struct cvmbus_channel *ch, uint64_t timeout_ns, uint64_t deadline)
{
	uint64_t fired = 0;
	int rc;

	if (timeout_ns == 0)
		return -EAGAIN;
	rc = cvmbus_doorbell_wait(&ch->wake_rx,
				  CVMBUS_CHANNEL_WAKE_DATA | CVMBUS_CHANNEL_WAKE_CLOSE |
					  CVMBUS_CHANNEL_WAKE_KICK,
				  remaining(ch, deadline), &fired);
	if (rc < 0)
		return rc;
	return fired & CVMBUS_CHANNEL_WAKE_KICK ? -EINTR : 0;
}

int cvmbus_channel_recv(struct cvmbus_channel *ch, struct cvmbus_ring_packet *pkt,
			uint64_t timeout_ns)
{
	uint64_t deadline = cvmbus_exec_deadline(ch->exec, timeout_ns);
	bool signal = false;
	int rc;

	for (;;) {
		if (cvmbus_channel_is_closed(ch))
			return -ESHUTDOWN;
		rc = cvmbus_ring_recv(&ch->rings.in, ch->rxbuf, ch->rxbuf_len, pkt);
		if (rc == 0)
			break;
		if (rc == -ENOBUFS) {
			/* Bigger than any packet this device defines: the
			 * peer broke the device protocol. */
			cvmbus_channel_close(ch);
			return -EMSGSIZE;
		}
		if (rc != -EAGAIN) {
			cvmbus_channel_close(ch);
			return rc;
		}
		rc = wait_rx(ch, timeout_ns, deadline);
		if (rc < 0)
			return rc;
	}

	/* Publish the read position now, one packet at a time: the next
	 * emptiness check relies on the writer seeing it (see the top). */
	rc = cvmbus_ring_commit(&ch->rings.in, &signal);
	if (rc < 0) {
		cvmbus_channel_close(ch);
		return rc;
	}
	cvmbus_mutex_lock(&ch->stats_lock);
	ch->stats.packets_received++;
	ch->stats.bytes_received += pkt->len;
	if (signal)
		ch->stats.signals_sent++;
	cvmbus_mutex_unlock(&ch->stats_lock);
	if (signal)
		ch->ops->signal(ch->ctx);
	return 0;
}

/* ---- readers that take turns ---------------------------------------------- */

/* Drain with the reader lock held and the ring masked: up to *left packets
 * through fn, then unmask and look again, as Linux's hv_end_read asks.
 * *more: packets may be left that this pass will not handle (budget, or fn
 * asked to stop); *signal: a commit said the writer waits for the space. */
static int reader_drain(struct cvmbus_channel *ch, cvmbus_channel_packet_fn fn, void *ctx,
			unsigned *left, unsigned *handled, bool *signal, bool *more)
{
	struct cvmbus_ring_packet pkt;
	uint32_t readable = 0;
	bool stop = false, sig;
	int rc;

	for (;;) {
		while (*left && !stop) {
			if (cvmbus_channel_is_closed(ch))
				return -ESHUTDOWN;
			/* The same hardened copy-then-validate as recv. */
			rc = cvmbus_ring_recv(&ch->rings.in, ch->rxbuf, ch->rxbuf_len, &pkt);
			if (rc == -EAGAIN)
				break;
			if (rc == -ENOBUFS)
				return -EMSGSIZE;
			if (rc < 0)
				return rc;
			/* One packet at a time, as recv: the emptiness
			 * checks rely on the writer seeing read_index. */
			sig = false;
			rc = cvmbus_ring_commit(&ch->rings.in, &sig);
			if (rc < 0)
				return rc;
			*signal = *signal || sig;
			cvmbus_mutex_lock(&ch->stats_lock);
			ch->stats.packets_received++;
			ch->stats.bytes_received += pkt.len;
			cvmbus_mutex_unlock(&ch->stats_lock);
			stop = fn(ctx, &pkt);
			(*left)--;
			(*handled)++;
		}
		/* Unmask, full barrier, look again: anything written while
		 * the mask was set did not signal, so it is ours. */
		rc = cvmbus_ring_end_read(&ch->rings.in, &readable);
		if (rc < 0)
			return rc;
		if (!readable)
			return 0;
		if (stop || !*left) {
			*more = true;
			return 0;
		}
		rc = cvmbus_ring_begin_read(&ch->rings.in);
		if (rc < 0)
			return rc;
	}
}

/* Let go of the reader and take it again while somebody asked for it in
 * the meantime (see the top). The holder masked the ring on entry. */
static int reader_run(struct cvmbus_channel *ch, cvmbus_channel_packet_fn fn, void *ctx,
		      unsigned budget)
{
	unsigned handled = 0;
	bool signal = false, more = false;
	int rc;

	for (;;) {
		atomic_store(&ch->read_wanted, false);
		rc = reader_drain(ch, fn, ctx, &budget, &handled, &signal, &more);
		cvmbus_mutex_unlock(&ch->reader);
		if (rc < 0) {
			cvmbus_channel_close(ch);
			break;
		}
		if (more) {
			/* The receive thread takes the rest, as if the peer
			 * had signalled it. */
			cvmbus_channel_wake_reader(ch);
			break;
		}
		atomic_thread_fence(memory_order_seq_cst); /* [RW2] */
		if (!atomic_load(&ch->read_wanted))
			break;
		if (!budget) {
			/* Asked for, but this pass is spent: the asker
			 * may be the receive thread, now asleep. */
			cvmbus_channel_wake_reader(ch);
			break;
		}
		if (cvmbus_mutex_trylock(&ch->reader) != 0)
			break; /* the new holder looks for itself */
		rc = cvmbus_ring_begin_read(&ch->rings.in);
		if (rc < 0) {
			cvmbus_mutex_unlock(&ch->reader);
			cvmbus_channel_close(ch);
			break;
		}
	}
	if (signal) {
		/* After the unlock: the peer's code may run on this thread
		 * (an inline pass of its own) and must not find us holding
		 * our ring. */
		cvmbus_mutex_lock(&ch->stats_lock);
		ch->stats.signals_sent++;
		cvmbus_mutex_unlock(&ch->stats_lock);
		ch->ops->signal(ch->ctx);
	}
	return rc < 0 ? rc : (int)handled;
}

int cvmbus_channel_reader_try(struct cvmbus_channel *ch)
{
	int rc;

	if (cvmbus_channel_is_closed(ch))
		return -ESHUTDOWN;
	atomic_store(&ch->read_wanted, true);
	atomic_thread_fence(memory_order_seq_cst); /* [RW1] */
	if (cvmbus_mutex_trylock(&ch->reader) != 0)
		return -EBUSY;
	rc = cvmbus_ring_begin_read(&ch->rings.in);
	if (rc < 0) {
		cvmbus_mutex_unlock(&ch->reader);
		cvmbus_channel_close(ch);
		return rc;
	}
	return 0;
}

int cvmbus_channel_reader_end(struct cvmbus_channel *ch, cvmbus_channel_packet_fn fn, void *ctx,
			      unsigned budget)
{
	return reader_run(ch, fn, ctx, budget);
}

int cvmbus_channel_poll(struct cvmbus_channel *ch, cvmbus_channel_packet_fn fn, void *ctx,
			unsigned budget)
{
	int rc = cvmbus_channel_reader_try(ch);

	if (rc < 0)
		return rc;
	return reader_run(ch, fn, ctx, budget);
}

int cvmbus_channel_serve(struct cvmbus_channel *ch, cvmbus_channel_packet_fn fn, void *ctx,
			 unsigned budget, uint64_t timeout_ns)
{
	uint64_t deadline = cvmbus_exec_deadline(ch->exec, timeout_ns);
	int rc;

	for (;;) {
		rc = cvmbus_channel_poll(ch, fn, ctx, budget);
		if (rc > 0 || (rc < 0 && rc != -EBUSY))
			return rc;
		/* Empty, with the mask off and looked at again (a later
		 * packet signals), or another reader's (it looks again
		 * before letting go): the doorbell latches either way. */
		rc = wait_rx(ch, timeout_ns, deadline);
		if (rc < 0)
			return rc;
	}
}

void cvmbus_channel_wake_reader(struct cvmbus_channel *ch)
{
	cvmbus_doorbell_ring(&ch->wake_rx, CVMBUS_CHANNEL_WAKE_DATA);
}

void cvmbus_channel_kick_reader(struct cvmbus_channel *ch)
{
	cvmbus_doorbell_ring(&ch->wake_rx, CVMBUS_CHANNEL_WAKE_KICK);
}

void cvmbus_channel_set_inline(struct cvmbus_channel *ch, cvmbus_channel_pass_fn fn, void *ctx)
{
	/* Blocking on purpose: once this returns with fn NULL, no pass is
	 * left running in the device that is about to go away. */
	cvmbus_mutex_lock(&ch->inline_lock);
	ch->inline_fn = fn;
	ch->inline_ctx = ctx;
	cvmbus_mutex_unlock(&ch->inline_lock);
}

void cvmbus_channel_notify_inline(struct cvmbus_channel *ch)
{
	cvmbus_mutex_lock(&ch->stats_lock);
	ch->stats.notifications++;
	cvmbus_mutex_unlock(&ch->stats_lock);
	cvmbus_doorbell_ring(&ch->wake_tx, CVMBUS_CHANNEL_WAKE_SPACE);
	/* One pass at a time per channel: a second vCPU that signals while
	 * a pass runs falls back to the receive thread's wake-up (a pass
	 * may already be past its last look at the ring). */
	if (cvmbus_mutex_trylock(&ch->inline_lock) == 0) {
		if (ch->inline_fn) {
			ch->inline_fn(ch->inline_ctx);
			cvmbus_mutex_unlock(&ch->inline_lock);
			return;
		}
		cvmbus_mutex_unlock(&ch->inline_lock);
	}
	cvmbus_channel_wake_reader(ch);
}

/* ---- external memory ------------------------------------------------------ */

typedef int (*gpa_chunk_fn)(struct cvmbus_channel *ch, uint64_t gpa, void *buf, size_t len);

static int chunk_read(struct cvmbus_channel *ch, uint64_t gpa, void *buf, size_t len)
{
	return ch->ops->mem_read(ch->ctx, gpa, buf, len);
}

static int chunk_write(struct cvmbus_channel *ch, uint64_t gpa, void *buf, size_t len)
{
	return ch->ops->mem_write(ch->ctx, gpa, buf, len);
}

/* Walk [offset, offset + len) of a GPA range page by page: the PFNs of a
 * range are independent guest pages, so a copy never assumes two of them
 * are adjacent in any view. */
static int gpa_walk(struct cvmbus_channel *ch, const struct cvmbus_ring_gpa_view *range,
		    uint32_t offset, uint8_t *buf, size_t len, gpa_chunk_fn fn)
{
	uint64_t pos;

	if (len > range->byte_count || offset > range->byte_count - len)
		return -EINVAL;
	pos = (uint64_t)range->byte_offset + offset;
	while (len) {
		uint64_t page = pos / CVMBUS_RING_PAGE_SIZE;
		uint64_t in_page = pos % CVMBUS_RING_PAGE_SIZE;
		size_t n = CVMBUS_RING_PAGE_SIZE - in_page;
		uint64_t pfn;
		int rc;

		if (page >= range->pfn_count)
			return -EINVAL;
		if (n > len)
			n = len;
		pfn = cvmbus_ring_gpa_view_pfn(range, (uint32_t)page);
		if (pfn > (UINT64_MAX >> 12))
			return -EFAULT;
		rc = fn(ch, pfn * CVMBUS_RING_PAGE_SIZE + in_page, buf, n);
		if (rc < 0)
			return rc;
		buf += n;
		pos += n;
		len -= n;
	}
	return 0;
}

int cvmbus_channel_gpa_read(struct cvmbus_channel *ch, const struct cvmbus_ring_gpa_view *range,
			    uint32_t offset, void *dst, size_t len)
{
	int rc;

	if (!ch->ops->mem_read)
		return -EFAULT;
	rc = gpa_walk(ch, range, offset, dst, len, chunk_read);
	if (rc == 0) {
		cvmbus_mutex_lock(&ch->stats_lock);
		ch->stats.ext_bytes_read += len;
		cvmbus_mutex_unlock(&ch->stats_lock);
	}
	return rc;
}

int cvmbus_channel_gpa_write(struct cvmbus_channel *ch, const struct cvmbus_ring_gpa_view *range,
			     uint32_t offset, const void *src, size_t len)
{
	int rc;

	if (!ch->ops->mem_write)
		return -EFAULT;
	/* The walk is shared with reads; a write never modifies src. */
	rc = gpa_walk(ch, range, offset, (uint8_t *)(uintptr_t)src, len, chunk_write);
	if (rc == 0) {
		cvmbus_mutex_lock(&ch->stats_lock);
		ch->stats.ext_bytes_written += len;
		cvmbus_mutex_unlock(&ch->stats_lock);
	}
	return rc;
}

/* The GPA of the first `len` bytes of a range if they lie in one run of
 * consecutive pages; false otherwise (the page list is the guest's, so
 * nothing says two entries are adjacent until each is checked). */
static bool gpa_run(const struct cvmbus_ring_gpa_view *range, size_t len, uint64_t *gpa)
{
	uint64_t last, pfn0;

	if (!len || len > range->byte_count || !range->pfn_count)
		return false;
	last = ((uint64_t)range->byte_offset + len - 1) / CVMBUS_RING_PAGE_SIZE;
	if (last >= range->pfn_count)
		return false;
	pfn0 = cvmbus_ring_gpa_view_pfn(range, 0);
	if (pfn0 > (UINT64_MAX >> 12) - last)
		return false;
	for (uint32_t i = 1; i <= last; i++)
		if (cvmbus_ring_gpa_view_pfn(range, i) != pfn0 + i)
			return false;
	*gpa = pfn0 * CVMBUS_RING_PAGE_SIZE + range->byte_offset;
	return true;
}

int cvmbus_channel_gpa_hold(struct cvmbus_channel *ch, const struct cvmbus_ring_gpa_view *range,
			    size_t len, void **out)
{
	uint64_t gpa;

	if (!ch || !range || !out || !len || len > range->byte_count)
		return -EINVAL;
	if (!ch->ops->mem_hold || !ch->ops->mem_release || !gpa_run(range, len, &gpa))
		return -EOPNOTSUPP;
	return ch->ops->mem_hold(ch->ctx, gpa, len, out);
}

void cvmbus_channel_gpa_release(struct cvmbus_channel *ch,
				const struct cvmbus_ring_gpa_view *range, size_t len,
				size_t written)
{
	uint64_t gpa;

	/* Only after a hold of the same range and length, which checked that
	 * it is one run: its address is the first PFN's, no walk again. */
	if (!ch || !range || !len || !range->pfn_count || !ch->ops->mem_release)
		return;
	gpa = cvmbus_ring_gpa_view_pfn(range, 0) * CVMBUS_RING_PAGE_SIZE + range->byte_offset;
	ch->ops->mem_release(ch->ctx, gpa, len);
	if (written) {
		cvmbus_mutex_lock(&ch->stats_lock);
		ch->stats.ext_bytes_written += written;
		cvmbus_mutex_unlock(&ch->stats_lock);
	}
}

/* ---- device-buffer GPADLs ------------------------------------------------- */

int cvmbus_channel_gpadl_create(struct cvmbus_channel *ch, uint64_t bytes,
				struct cvmbus_gpadl_info *out)
{
	if (!ch->ops->gpadl_create)
		return -EOPNOTSUPP;
	return ch->ops->gpadl_create(ch->ctx, bytes, out);
}

int cvmbus_channel_gpadl_teardown(struct cvmbus_channel *ch, uint32_t id)
{
	if (!ch->ops->gpadl_teardown)
		return -EOPNOTSUPP;
	return ch->ops->gpadl_teardown(ch->ctx, id);
}

int cvmbus_channel_gpadl_lookup(struct cvmbus_channel *ch, uint32_t id,
				struct cvmbus_gpadl_info *out)
{
	if (!ch->ops->gpadl_lookup)
		return -EOPNOTSUPP;
	return ch->ops->gpadl_lookup(ch->ctx, id, out);
}
