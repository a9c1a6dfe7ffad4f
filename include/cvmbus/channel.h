/* SPDX-License-Identifier: MIT */
/*
 * The device-facing VMBus channel: what a VSC (guest driver) and a VSP
 * (device on the host or in the paravisor) are written against. It joins the
 * two rings of one channel (src/ring) with the two things a ring cannot do by
 * itself: signal the peer, and reach the memory that GPA-direct ranges name.
 * Both are callbacks supplied by whoever set the channel up (the guest
 * client's glue, the server's glue, or the loopback pair below), so device
 * code never knows whether its peer is the host or the paravisor, which
 * SynIC carries its interrupts, or which view of memory it reads through.
 *
 * Layer: above src/ring and src/exec, below src/server, src/client and
 * src/dev. Blocking waits go through the executor, so device code runs under
 * the deterministic executor unchanged.
 *
 * Errors are negative errno values: -EAGAIN (nothing to read, no room, with
 * a zero timeout), -ETIMEDOUT, -ESHUTDOWN (the channel was closed), -EPROTO
 * (the peer corrupted a ring: terminal), -EMSGSIZE, -EFAULT (external memory
 * not reachable through this endpoint's view), -EINVAL.
 */
#ifndef CVMBUS_CHANNEL_H
#define CVMBUS_CHANNEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmbus/exec.h>
#include <cvmbus/ring.h>

/* Doorbell bits of a channel endpoint. A peer's signal cannot say whether it
 * means "data" or "space" (Hyper-V has one event flag per channel), so a
 * notification rings both and the waiter re-checks its ring. */
#define CVMBUS_CHANNEL_WAKE_DATA  0x1u
#define CVMBUS_CHANNEL_WAKE_SPACE 0x2u
#define CVMBUS_CHANNEL_WAKE_CLOSE 0x4u
#define CVMBUS_CHANNEL_WAKE_KICK  0x8u

/* The default private copy buffer for inbound packets, as Linux's
 * VMBUS_DEFAULT_MAX_PKT_SIZE; devices with bigger packets ask for more. */
#define CVMBUS_CHANNEL_DEFAULT_MAX_PACKET 4096u

/* A GPADL set up on a channel for a device buffer (netvsc's send and
 * receive buffers, for instance). pfns stays valid until the teardown. */
struct cvmbus_gpadl_info {
	uint32_t id;
	uint64_t gpa;   /* guest side: where the buffer is (contiguous) */
	uint64_t bytes;
	const uint64_t *pfns;
	uint32_t pfn_count;
	bool shared;    /* made host-visible (no confidential external memory) */
};

struct cvmbus_channel_ops {
	/* Tell the peer that this endpoint wrote packets or freed space: an
	 * HvSignalEvent on the channel's connection id, or setting the
	 * channel's bit in the peer's event flags. Called with no channel lock
	 * held, at most once per batch. */
	void (*signal)(void *ctx);
	/* Copy from / to the memory a GPA names, with this endpoint's rights
	 * (the guest's view, the paravisor's, or the host's shared-only view).
	 * -EFAULT if any byte is not reachable. NULL: this endpoint cannot
	 * reach external memory. */
	int (*mem_read)(void *ctx, uint64_t gpa, void *dst, size_t len);
	int (*mem_write)(void *ctx, uint64_t gpa, const void *src, size_t len);
	/* Hold [gpa, gpa+len) with the same rights and give a pointer to it,
	 * valid and kept in its visibility until mem_release: for a device
	 * that reads from its backend straight into guest memory, as a DMA
	 * would, instead of through a private buffer and a copy. NULL: copy. */
	int (*mem_hold)(void *ctx, uint64_t gpa, size_t len, void **ptr);
	void (*mem_release)(void *ctx, uint64_t gpa, size_t len);
	/* Guest side: a GPADL over `bytes` of new guest memory, private iff the
	 * channel has confidential external memory, host-visible otherwise (the
	 * client's rule). NULL: unsupported (-EOPNOTSUPP). */
	int (*gpadl_create)(void *ctx, uint64_t bytes, struct cvmbus_gpadl_info *out);
	int (*gpadl_teardown)(void *ctx, uint32_t id);
	/* Device side: the pages of a GPADL the guest created on this channel,
	 * by the id the guest sent in its device protocol (hostile: unknown ids
	 * fail with -ENOENT). */
	int (*gpadl_lookup)(void *ctx, uint32_t id, struct cvmbus_gpadl_info *out);
};

struct cvmbus_channel_stats {
	uint64_t packets_sent, bytes_sent;
	uint64_t packets_received, bytes_received;
	uint64_t signals_sent;  /* ops->signal calls */
	uint64_t notifications; /* cvmbus_channel_notify calls (peer signals) */
	uint64_t send_waits;    /* sends that had to wait for space */
	uint64_t ext_bytes_read, ext_bytes_written; /* through GPA ranges */
};

/* A device's handler of one inbound packet, for the readers below
 * (cvmbus_channel_poll and cvmbus_channel_serve): *pkt is the channel's
 * private copy, valid during the call. Return true to end the pass after
 * this packet (the device cannot take more now); the channel then hands
 * what is left to the receive thread. */
typedef bool (*cvmbus_channel_packet_fn)(void *ctx, const struct cvmbus_ring_packet *pkt);
/* A device's inline pass (cvmbus_channel_set_inline). */
typedef void (*cvmbus_channel_pass_fn)(void *ctx);

struct cvmbus_channel {
	struct cvmbus_ring_channel rings;
	const struct cvmbus_channel_ops *ops;
	void *ctx;
	struct cvmbus_exec *exec;
	/* Senders serialise on the outbound ring; the inbound ring has one
	 * reader by contract (the channel's receive loop). */
	struct cvmbus_mutex send_lock;
	struct cvmbus_mutex stats_lock;
	/* Two doorbells, not one: a sender waiting for space and the receiver
	 * waiting for data must each be woken, and a doorbell wakes one. */
	struct cvmbus_doorbell wake_rx;
	struct cvmbus_doorbell wake_tx;
	uint8_t *rxbuf; /* private copy of the packet last received */
	size_t rxbuf_len;
	_Atomic bool closed;
	/* The inbound ring's one reader at a time, for devices that read
	 * through cvmbus_channel_poll/serve: whoever holds `reader` owns the
	 * ring's read side, interrupt_mask and rxbuf. read_wanted: somebody
	 * found it held; the holder looks again after letting go. */
	struct cvmbus_mutex reader;
	_Atomic bool read_wanted;
	/* The device's inline pass and the lock that keeps it alive while it
	 * runs (cvmbus_channel_set_inline waits on it). */
	struct cvmbus_mutex inline_lock;
	cvmbus_channel_pass_fn inline_fn;
	void *inline_ctx;
	struct cvmbus_channel_stats stats;
};

struct cvmbus_channel_config {
	struct cvmbus_exec *exec;
	enum cvmbus_ring_endpoint endpoint; /* GUEST writes upstream, HOST downstream */
	enum cvmbus_ring_init_mode mode;    /* FORMAT: the side that owns the memory */
	struct cvmbus_ring_mem upstream;
	struct cvmbus_ring_mem downstream;
	const struct cvmbus_channel_ops *ops;
	void *ctx;
	size_t max_packet; /* 0: CVMBUS_CHANNEL_DEFAULT_MAX_PACKET */
};

/* 0, -EINVAL, -ENOMEM, or -EPROTO (ATTACH found a corrupt ring). */
int cvmbus_channel_init(struct cvmbus_channel *ch, const struct cvmbus_channel_config *cfg);
/* No sender or receiver may still be inside the channel. */
void cvmbus_channel_destroy(struct cvmbus_channel *ch);

/* The peer signalled this endpoint: wake whoever waits for data or space.
 * The glue calls this from the interrupt path (an event flag found set). */
void cvmbus_channel_notify(struct cvmbus_channel *ch);
/* Wake a sender or receiver blocked in this channel without closing it:
 * the wait returns -EINTR (once per kick), so a device loop can notice a
 * stop request or a deadline of its own without polling. */
void cvmbus_channel_kick(struct cvmbus_channel *ch);
/* Stop: every present and future wait returns -ESHUTDOWN. Idempotent. */
void cvmbus_channel_close(struct cvmbus_channel *ch);
bool cvmbus_channel_is_closed(struct cvmbus_channel *ch);

/* Write one packet, waiting up to timeout_ns for room (0: don't wait; the
 * request to be woken is made through pending_send_sz, as Linux does). The
 * peer is signalled iff the ring's decision says so. */
int cvmbus_channel_send(struct cvmbus_channel *ch, const struct cvmbus_ring_outpkt *pkt,
			uint64_t timeout_ns);
int cvmbus_channel_send_inband(struct cvmbus_channel *ch, uint16_t flags, uint64_t trans_id,
			       const void *data, size_t len, uint64_t timeout_ns);
/* A completion packet (type 0xb) for the request trans_id. */
int cvmbus_channel_send_completion(struct cvmbus_channel *ch, uint64_t trans_id,
				   const void *data, size_t len, uint64_t timeout_ns);

/* Receive one packet, waiting up to timeout_ns for one to arrive. The packet
 * is copied and validated into the channel's private buffer: *pkt points
 * there and stays valid until the next receive. Read space is published
 * (and the writer signalled if it waits for it) before returning. A packet
 * larger than max_packet is a protocol error of the peer: -EMSGSIZE, and
 * the channel is closed. */
int cvmbus_channel_recv(struct cvmbus_channel *ch, struct cvmbus_ring_packet *pkt,
			uint64_t timeout_ns);

/* ---- readers that hand packets to a handler ------------------------------
 *
 * cvmbus_channel_recv is for a device whose one receive thread reads the
 * ring. A device that reads through the calls below may have its packets
 * handled on other threads as well (the signalling vCPU's thread, or a
 * caller that looks for its own completion before it sleeps): they take
 * turns through the channel's reader lock, never two at once, and the two
 * kinds of reading are never mixed on one channel.
 *
 * A pass masks the ring's interrupt (interrupt_mask = 1, Linux's
 * hv_begin_read) while it drains, unmasks it and looks again before it
 * lets go (hv_end_read), so that a packet written while the mask was set
 * is handled by the pass and not left unsignalled. */

/* Drain up to `budget` packets through fn, if nobody else is reading now.
 * Returns how many were handled (0: the ring was empty), -EBUSY (another
 * reader holds the ring; it looks again before letting go, so nothing is
 * lost), or what cvmbus_channel_recv would return for a closed or broken
 * channel (-ESHUTDOWN, -EPROTO, -EMSGSIZE; the channel is then closed).
 * Never waits for the ring. What budget or fn left in the ring is handed to
 * the receive thread (its doorbell). Read space is signalled to the writer
 * after the reader lock is let go. */
int cvmbus_channel_poll(struct cvmbus_channel *ch, cvmbus_channel_packet_fn fn, void *ctx,
			unsigned budget);
/* The receive thread's loop step: poll, and wait up to timeout_ns for the
 * peer's signal while the ring is empty (or another reader has it).
 * Returns the number handled (> 0), -EAGAIN (timeout_ns == 0) or
 * -ETIMEDOUT (nothing came), -EINTR (cvmbus_channel_kick or
 * cvmbus_channel_kick_reader), or the errors of cvmbus_channel_poll. */
int cvmbus_channel_serve(struct cvmbus_channel *ch, cvmbus_channel_packet_fn fn, void *ctx,
			 unsigned budget, uint64_t timeout_ns);
/* Take the reader now (0) or -EBUSY, and mask the inbound interrupt: for a
 * caller that is about to make its peer write (a request whose completion
 * it will look for at once). End with cvmbus_channel_reader_end, which
 * drains like poll and lets go. Hold it only across calls that never wait
 * for the peer (a send with timeout 0): the peer may need this ring
 * drained to go on. */
int cvmbus_channel_reader_try(struct cvmbus_channel *ch);
int cvmbus_channel_reader_end(struct cvmbus_channel *ch, cvmbus_channel_packet_fn fn, void *ctx,
			      unsigned budget);
/* Wake the receive thread: to look at the ring (as a peer's signal does),
 * or to return -EINTR from cvmbus_channel_serve/recv (a device that has
 * work of its own for it); senders are not disturbed. */
void cvmbus_channel_wake_reader(struct cvmbus_channel *ch);
void cvmbus_channel_kick_reader(struct cvmbus_channel *ch);

/* The device's inline pass: what the glue runs on the signaller's thread
 * when the peer's signal is, on real hardware, a switch of the signalling
 * vCPU into the device's VTL (cvmbus_channel_notify_inline). fn must not
 * wait for the peer. NULL unregisters, after any pass still running has
 * returned. */
void cvmbus_channel_set_inline(struct cvmbus_channel *ch, cvmbus_channel_pass_fn fn, void *ctx);
/* The peer signalled from a vCPU that now runs this endpoint's code: wake
 * senders waiting for space, then run the device's inline pass here; with
 * no pass registered, or another running, wake the receive thread instead
 * (cvmbus_channel_notify's behaviour). */
void cvmbus_channel_notify_inline(struct cvmbus_channel *ch);

/* Copy `len` bytes at byte `offset` of a received GPA range out of (into)
 * the memory it names, through this endpoint's ops. The range's page list
 * is walked page by page: each PFN is a separate guest page, contiguous or
 * not. -EINVAL if offset + len passes byte_count, -EFAULT as ops say. */
int cvmbus_channel_gpa_read(struct cvmbus_channel *ch, const struct cvmbus_ring_gpa_view *range,
			    uint32_t offset, void *dst, size_t len);
int cvmbus_channel_gpa_write(struct cvmbus_channel *ch, const struct cvmbus_ring_gpa_view *range,
			     uint32_t offset, const void *src, size_t len);

/* Hold the first `len` bytes of a received GPA range for a direct access
 * (ops->mem_hold): *out points at them until cvmbus_channel_gpa_release().
 * Only a range whose pages are consecutive guest pages (one run, as a
 * guest's contiguous buffer gives) can be held: -EOPNOTSUPP for any other
 * and for an endpoint without mem_hold, and the caller copies instead.
 * -EINVAL if len passes byte_count, -EFAULT as the ops say. Hold briefly:
 * a visibility change of those pages waits for the release. */
int cvmbus_channel_gpa_hold(struct cvmbus_channel *ch, const struct cvmbus_ring_gpa_view *range,
			    size_t len, void **out);
/* Let a held range go (only after a successful hold of the same range and
 * len); `written` bytes (from its start) were stored
 * through the pointer and count as external bytes written. */
void cvmbus_channel_gpa_release(struct cvmbus_channel *ch,
				const struct cvmbus_ring_gpa_view *range, size_t len,
				size_t written);

void cvmbus_channel_get_stats(struct cvmbus_channel *ch, struct cvmbus_channel_stats *out);

/* Device-buffer GPADLs through the channel's ops (-EOPNOTSUPP without). */
int cvmbus_channel_gpadl_create(struct cvmbus_channel *ch, uint64_t bytes,
				struct cvmbus_gpadl_info *out);
int cvmbus_channel_gpadl_teardown(struct cvmbus_channel *ch, uint32_t id);
int cvmbus_channel_gpadl_lookup(struct cvmbus_channel *ch, uint32_t id,
				struct cvmbus_gpadl_info *out);

/* ---- loopback pair ------------------------------------------------------ */

/* Both endpoints of one channel in this process, over one ring region in a
 * memfd, each endpoint with its own double mapping of it (as the guest and
 * the host map the same GPADL pages separately). Each endpoint's signal
 * notifies the other. For device tests and benchmarks without a control
 * plane; the external-memory ops are the caller's (e.g. partition memory
 * views). */
#define CVMBUS_CHANNEL_PAIR_GPADLS 8

struct cvmbus_mem;

struct cvmbus_channel_pair {
	struct cvmbus_channel guest;
	struct cvmbus_channel host;
	int fd;
	struct cvmbus_ring_channel_map guest_map;
	struct cvmbus_ring_channel_map host_map;
	struct cvmbus_channel_ops guest_ops;
	struct cvmbus_channel_ops host_ops;
	void *guest_mem_ctx;
	void *host_mem_ctx;
	const struct cvmbus_channel_ops *guest_mem_ops;
	const struct cvmbus_channel_ops *host_mem_ops;
	/* Device-buffer GPADLs of the pair, allocated from `mem`. */
	struct cvmbus_mem *mem;
	bool gpadl_private;
	struct cvmbus_mutex gpadl_lock;
	struct cvmbus_channel_pair_gpadl {
		struct cvmbus_gpadl_info info;
		uint64_t *pfns;
		bool used;
	} gpadls[CVMBUS_CHANNEL_PAIR_GPADLS];
	uint32_t next_gpadl;
};

struct cvmbus_channel_pair_config {
	struct cvmbus_exec *exec;
	uint32_t upstream_bytes;   /* ring size incl. control page, multiple of 4096 */
	uint32_t downstream_bytes; /* likewise */
	size_t max_packet;
	/* External memory access for each side (mem_read/mem_write used;
	 * signal ignored). May be NULL. */
	const struct cvmbus_channel_ops *guest_mem_ops;
	void *guest_mem_ctx;
	const struct cvmbus_channel_ops *host_mem_ops;
	void *host_mem_ctx;
	/* Optional: partition memory for device-buffer GPADLs (guest VTL0 RAM),
	 * made host-visible (reason "gpadl") unless gpadl_private, which
	 * models a channel with confidential external memory. */
	struct cvmbus_mem *mem;
	bool gpadl_private;
};

int cvmbus_channel_pair_create(struct cvmbus_channel_pair *p,
			       const struct cvmbus_channel_pair_config *cfg);
void cvmbus_channel_pair_destroy(struct cvmbus_channel_pair *p);

#endif /* CVMBUS_CHANNEL_H */
