/* SPDX-License-Identifier: MIT */
/*
 * Ring mechanics (layer src/ring): one endpoint of a Hyper-V ring buffer
 * over memory the caller maps. It owns everything that touches the shared
 * control page and data area: set-up and attach, index validation, copies
 * in and out (in one piece over a double-mapped data area, in two pieces
 * around the end otherwise), publication of indices with C11 atomics, and
 * the signalling decisions of the Linux guest (hv_signal_on_write,
 * hv_pkt_iter_close, hv_begin_read/hv_end_read), which it returns instead
 * of acting on. Packet framing and validation of a copied packet live in
 * ring_packet.c (the per-packet checks inline in ring_internal.h).
 *
 * Speed. Every packet goes through here, so the common path is written to
 * be short without dropping a check: the copies that do not cross the end
 * of a ring mapped once are inline (copying a descriptor or a trailer is
 * a move or two), a packet without a type header is written with one gathered copy
 * (ring_tx_gather), the reader fills the caller's packet struct instead of
 * clearing it first, and every failure path is cold and out of line.
 * bench/ring_bench.c --callgrind counts the instructions per packet.
 *
 * Threat model. The peer endpoint (host, paravisor or another process) can
 * write any byte of the control page and the data area at any time,
 * including while we copy. So: a peer index is loaded once per decision,
 * validated (< data size, 8-aligned) and only then used or cached; our own
 * index is never re-read from shared memory after init; a packet's
 * descriptor is copied once into private memory and every later decision
 * uses that copy; the rest of the packet is copied into the caller's
 * buffer before any of it is parsed. A violation makes the endpoint
 * CORRUPT for good: a peer that breaks the protocol once is not trusted to
 * resynchronise, and returning the same -EPROTO forever keeps callers from
 * looping on a poisoned ring.
 *
 * Barriers. Each one below names its pair; the letters are used in the code.
 *
 *   [A] writer: store-release write_index after the packet bytes.
 *       Pairs with [B]: the reader that sees the new index sees the bytes.
 *   [B] reader: load-acquire write_index before copying packet bytes.
 *       Pairs with [A].
 *   [C] reader: store-release read_index after copying packets out.
 *       Pairs with [D]: the writer does not overwrite bytes still being read.
 *   [D] writer: load-acquire read_index before writing into freed space.
 *       Pairs with [C].
 *   [E] writer: full fence between publishing write_index ([A]) and loading
 *       interrupt_mask and read_index for the signal decision. Pairs with
 *       [F] and [G] (store-then-load on both sides: at least one side sees
 *       the other's store, so a sleeping reader is always signalled).
 *   [F] reader end_read: full fence between storing interrupt_mask = 0 and
 *       re-loading write_index. Pairs with [E]: a writer that saw the mask
 *       set and stayed silent published before the reader's re-check.
 *   [G] reader commit: full fence between publishing read_index ([C]) and
 *       loading pending_send_sz. Pairs with [H] (and [E] for the next
 *       load of write_index).
 *   [H] writer set_pending_send: full fence between storing
 *       pending_send_sz and re-loading read_index. Pairs with [G]: either
 *       the reader sees the request and signals, or the writer sees the
 *       freed space and does not wait.
 *   [I] reader begin_read: full fence after storing interrupt_mask = 1.
 *       Not needed for correctness (a writer that misses the mask only
 *       signals once too often); it keeps Linux's order so the peer sees
 *       the mask before the drain starts. Pairs with [E].
 *
 * After each copy out of shared memory there is also a compiler-only
 * barrier (ring_copy_done): without it the compiler may legally re-load a
 * field from the shared source instead of from our copy (it assumes no one
 * else writes), which would re-open the double fetch the copy closes.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "ring/ring_internal.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the VMBus ring is little-endian and cvmbus stores it natively"
#endif

/* ---- small helpers ---------------------------------------------------- */

/* Bytes from `from` forward to `to` in a ring of `size` bytes. */
static inline uint32_t ring_dist(uint32_t from, uint32_t to, uint32_t size)
{
	return to >= from ? to - from : size - from + to;
}

static inline uint32_t ring_advance(uint32_t pos, uint32_t n, uint32_t size)
{
	uint64_t p = (uint64_t)pos + n;

	return (uint32_t)(p >= size ? p - size : p);
}

static inline void ring_copy_done(void)
{
	atomic_signal_fence(memory_order_seq_cst);
}

/* Failure paths are cold: keeping them out of line keeps the per-packet
 * code short and straight. */
static __attribute__((noinline, cold)) int ring_fail(struct cvmbus_ring *r,
						     enum cvmbus_ring_fault fault,
						     uint32_t value, uint32_t ring_offset)
{
	r->local.state = CVMBUS_RING_STATE_CORRUPT;
	r->local.fault.fault = fault;
	r->local.fault.value = value;
	r->local.fault.ring_offset = ring_offset;
	return -EPROTO;
}

int ring_unusable(const struct cvmbus_ring *r)
{
	if (!r)
		return -EINVAL;
	if (r->local.state == CVMBUS_RING_STATE_CORRUPT)
		return -EPROTO;
	return -EINVAL; /* not initialised, or the wrong role for this call */
}

/* The peer's (or an image's) index: out of range or unaligned means the
 * peer is broken or hostile, and nothing computed from it can be trusted. */
static __attribute__((noinline, cold)) int ring_bad_index(struct cvmbus_ring *r, uint32_t idx,
							  bool is_write_index)
{
	if (idx >= r->view.size)
		return ring_fail(r, is_write_index ? CVMBUS_RING_FAULT_WRITE_INDEX_RANGE
						   : CVMBUS_RING_FAULT_READ_INDEX_RANGE,
				 idx, r->local.index);
	return ring_fail(r, is_write_index ? CVMBUS_RING_FAULT_WRITE_INDEX_ALIGN
					   : CVMBUS_RING_FAULT_READ_INDEX_ALIGN,
			 idx, r->local.index);
}

RING_INLINE int ring_check_index(struct cvmbus_ring *r, uint32_t idx, bool is_write_index)
{
	if (RING_UNLIKELY(idx >= r->view.size || (idx & 7u)))
		return ring_bad_index(r, idx, is_write_index);
	return 0;
}

/* Reader side: load the writer's index once ([B]), validate, cache. */
RING_INLINE int ring_load_write_index(struct cvmbus_ring *r, uint32_t *out)
{
	uint32_t w = atomic_load_explicit(&r->view.ctl->write_index, memory_order_acquire); /* [B] */
	int rc = ring_check_index(r, w, true);

	if (RING_UNLIKELY(rc))
		return rc;
	r->local.peer_index = w;
	*out = w;
	return 0;
}

/* Writer side: load the reader's index once ([D]), validate, cache. */
RING_INLINE int ring_load_read_index(struct cvmbus_ring *r, uint32_t *out)
{
	uint32_t rd = atomic_load_explicit(&r->view.ctl->read_index, memory_order_acquire); /* [D] */
	int rc = ring_check_index(r, rd, false);

	if (RING_UNLIKELY(rc))
		return rc;
	r->local.peer_index = rd;
	*out = rd;
	return 0;
}

/* Copies. len <= data size always (packets are bounded by the ring), so with
 * a double mapping one memcpy reaches at most into the alias. The common
 * case (double-mapped, or not crossing the end) is inline so that a copy
 * of a constant size (descriptor, trailer) becomes a couple of moves; the
 * two-piece copy around the end stays out of line. */
static __attribute__((noinline)) void ring_copy_in_split(const struct cvmbus_ring *r,
							 uint32_t pos, const void *src,
							 size_t len)
{
	size_t first = r->view.size - pos;

	memcpy(r->view.data + pos, src, first);
	memcpy(r->view.data, (const uint8_t *)src + first, len - first);
}

RING_INLINE void ring_copy_in(const struct cvmbus_ring *r, uint32_t pos, const void *src,
			      size_t len)
{
	if (RING_LIKELY(r->view.double_mapped || pos + len <= r->view.size))
		memcpy(r->view.data + pos, src, len);
	else
		ring_copy_in_split(r, pos, src, len);
}

static __attribute__((noinline)) void ring_copy_out_split(const struct cvmbus_ring *r,
							  uint32_t pos, void *dst, size_t len)
{
	size_t first = r->view.size - pos;

	memcpy(dst, r->view.data + pos, first);
	memcpy((uint8_t *)dst + first, r->view.data, len - first);
}

RING_INLINE void ring_copy_out(const struct cvmbus_ring *r, uint32_t pos, void *dst, size_t len)
{
	if (RING_LIKELY(r->view.double_mapped || pos + len <= r->view.size))
		memcpy(dst, r->view.data + pos, len);
	else
		ring_copy_out_split(r, pos, dst, len);
}

/* ---- set-up ----------------------------------------------------------- */

static void ring_format_control(struct cvmbus_ring_control *ctl)
{
	/* No peer is attached yet (that is FORMAT's contract), so plain stores
	 * to the reserved bytes race with nobody. */
	atomic_store_explicit(&ctl->write_index, 0, memory_order_relaxed);
	atomic_store_explicit(&ctl->read_index, 0, memory_order_relaxed);
	atomic_store_explicit(&ctl->interrupt_mask, 0, memory_order_relaxed);
	atomic_store_explicit(&ctl->pending_send_sz, 0, memory_order_relaxed);
	atomic_store_explicit(&ctl->feature_bits, 0, memory_order_relaxed);
	memset(ctl->reserved1, 0, sizeof(ctl->reserved1));
	memset(ctl->reserved2, 0, sizeof(ctl->reserved2));
}

int cvmbus_ring_init(struct cvmbus_ring *r, enum cvmbus_ring_role role,
		     enum cvmbus_ring_init_mode mode, const struct cvmbus_ring_mem *mem)
{
	struct cvmbus_ring_control *ctl;
	uint32_t w, rd;
	int rc;

	if (!r)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	if (!mem || !mem->control || !mem->data)
		return -EINVAL;
	if (((uintptr_t)mem->control & 7u) || ((uintptr_t)mem->data & 7u))
		return -EINVAL;
	if (mem->data_size < CVMBUS_RING_PAGE_SIZE || mem->data_size % CVMBUS_RING_PAGE_SIZE ||
	    mem->data_size > CVMBUS_RING_MAX_DATA_SIZE)
		return -EINVAL;
	if (role != CVMBUS_RING_WRITER && role != CVMBUS_RING_READER && role != CVMBUS_RING_INSPECT)
		return -EINVAL;
	if (mode != CVMBUS_RING_FORMAT && mode != CVMBUS_RING_ATTACH)
		return -EINVAL;
	if (role == CVMBUS_RING_INSPECT && mode == CVMBUS_RING_FORMAT)
		return -EINVAL; /* an inspector never writes */

	ctl = mem->control;
	r->view.ctl = ctl;
	r->view.data = mem->data;
	r->view.size = mem->data_size;
	r->view.role = role;
	r->view.double_mapped = mem->double_mapped;
	r->local.state = CVMBUS_RING_STATE_READY;

	if (mode == CVMBUS_RING_FORMAT) {
		ring_format_control(ctl);
		/* The writer advertises pending-send support on its own ring
		 * (as QEMU, mu_msvm and FreeBSD do); the reader's initial
		 * interrupt_mask is 0, as Linux leaves it: signal me. */
		if (role == CVMBUS_RING_WRITER)
			atomic_store_explicit(&ctl->feature_bits, CVMBUS_RING_FEATURE_PENDING_SEND_SZ,
					      memory_order_relaxed);
		return 0;
	}

	/* ATTACH: both indices are whatever the image or the peer left; take
	 * each once and refuse a ring whose indices cannot be right. */
	w = atomic_load_explicit(&ctl->write_index, memory_order_acquire);  /* [B] */
	rd = atomic_load_explicit(&ctl->read_index, memory_order_acquire);  /* [D] */
	rc = ring_check_index(r, w, true);
	if (rc)
		return rc;
	rc = ring_check_index(r, rd, false);
	if (rc)
		return rc;

	switch (role) {
	case CVMBUS_RING_WRITER:
		r->local.index = w;
		r->local.peer_index = rd;
		/* A previous writer's wait request means nothing to us. */
		atomic_store_explicit(&ctl->pending_send_sz, 0, memory_order_relaxed);
		atomic_fetch_or_explicit(&ctl->feature_bits, CVMBUS_RING_FEATURE_PENDING_SEND_SZ,
					 memory_order_relaxed);
		break;
	case CVMBUS_RING_READER:
		r->local.index = rd;
		r->local.published = rd;
		r->local.peer_index = w;
		atomic_store_explicit(&ctl->interrupt_mask, 0, memory_order_relaxed);
		break;
	case CVMBUS_RING_INSPECT:
		r->local.index = rd;
		r->local.published = rd;
		r->local.peer_index = w;
		break;
	}
	return 0;
}

enum cvmbus_ring_state cvmbus_ring_state(const struct cvmbus_ring *r)
{
	return r ? r->local.state : CVMBUS_RING_STATE_UNINIT;
}

void cvmbus_ring_fault_get(const struct cvmbus_ring *r, struct cvmbus_ring_fault_info *info)
{
	if (!info)
		return;
	if (!r || r->local.state != CVMBUS_RING_STATE_CORRUPT) {
		memset(info, 0, sizeof(*info));
		return;
	}
	*info = r->local.fault;
}

uint32_t cvmbus_ring_data_size(const struct cvmbus_ring *r)
{
	return r ? r->view.size : 0;
}

bool cvmbus_ring_is_double_mapped(const struct cvmbus_ring *r)
{
	return r && r->view.double_mapped;
}

void cvmbus_ring_control_snapshot(const struct cvmbus_ring *r,
				  struct cvmbus_ring_control_values *v)
{
	const struct cvmbus_ring_control *ctl;

	if (!v)
		return;
	memset(v, 0, sizeof(*v));
	if (!r || !r->view.ctl)
		return;
	ctl = r->view.ctl;
	v->write_index = atomic_load_explicit(&ctl->write_index, memory_order_relaxed);
	v->read_index = atomic_load_explicit(&ctl->read_index, memory_order_relaxed);
	v->interrupt_mask = atomic_load_explicit(&ctl->interrupt_mask, memory_order_relaxed);
	v->pending_send_sz = atomic_load_explicit(&ctl->pending_send_sz, memory_order_relaxed);
	v->feature_bits = atomic_load_explicit(&ctl->feature_bits, memory_order_relaxed);
}

void cvmbus_ring_set_test_hook(struct cvmbus_ring *r, cvmbus_ring_hook_fn *fn, void *arg)
{
	if (!r)
		return;
	r->view.hook = fn;
	r->view.hook_arg = arg;
}

/* ---- writing ---------------------------------------------------------- */

/* Is there room for a packet taking `total` bytes at w? Free space must
 * stay strictly greater than what we write, so full != empty. The cached
 * read index is a validated value the reader published: space it freed
 * stays free, so if it already shows room we need not touch the shared
 * line. Otherwise load it once, fresh ([D]). 0, -EAGAIN or -EPROTO. */
RING_INLINE int ring_tx_reserve(struct cvmbus_ring *r, uint32_t w, uint32_t total)
{
	uint32_t rd;
	int rc;

	if (RING_LIKELY(r->view.size - ring_dist(r->local.peer_index, w, r->view.size) > total))
		return 0;
	rc = ring_load_read_index(r, &rd); /* [D] */
	if (RING_UNLIKELY(rc))
		return rc;
	if (r->view.size - ring_dist(rd, w, r->view.size) <= total)
		return -EAGAIN;
	return 0;
}

/* The packet from start to end (exclusive) is in the ring: publish it and
 * make hv_signal_on_write's decision. *signal is written only on success;
 * callers clear it first. */
RING_INLINE int ring_tx_publish(struct cvmbus_ring *r, uint32_t start, uint32_t end,
				bool *signal)
{
	struct cvmbus_ring_control *ctl = r->view.ctl;
	uint32_t mask, rd;
	bool sig = false;
	int rc;

	atomic_store_explicit(&ctl->write_index, end, memory_order_release); /* [A] */
	r->local.index = end;

	/* hv_signal_on_write: after a full barrier, signal only if the reader
	 * is not masked and had consumed everything before this packet. Both
	 * words are loaded afresh, in Linux's order: no cached value can stand
	 * in for them (the reader may have reached `start`, or masked, since
	 * we last looked), and the decision must be Linux's exactly. */
	atomic_thread_fence(memory_order_seq_cst); /* [E] */
	/* Acquire so the read_index load below is not satisfied before the
	 * mask load (Linux's virt_rmb between the two). */
	mask = atomic_load_explicit(&ctl->interrupt_mask, memory_order_acquire);
	if (mask == 0) {
		rc = ring_load_read_index(r, &rd);
		if (RING_UNLIKELY(rc))
			return rc;
		sig = rd == start;
	}
	if (signal)
		*signal = sig;
	return 0;
}

int ring_tx_begin(struct cvmbus_ring *r, uint64_t body_len, struct ring_tx *tx,
		  uint32_t *needed)
{
	uint64_t padded = ring_round8(body_len);
	uint64_t total = padded + CVMBUS_RING_TRAILER_SIZE;
	uint32_t w;
	int rc = ring_usable(r, CVMBUS_RING_WRITER, CVMBUS_RING_WRITER);

	if (rc)
		return rc;
	if (needed)
		*needed = total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
	/* Free space must stay strictly greater than what we write, so a
	 * packet larger than size - 8 can never go in: full != empty. */
	if (body_len < CVMBUS_RING_DESC_SIZE || padded > CVMBUS_RING_MAX_PACKET_LEN ||
	    total > (uint64_t)r->view.size - CVMBUS_RING_TRAILER_SIZE)
		return body_len < CVMBUS_RING_DESC_SIZE ? -EINVAL : -EMSGSIZE;

	w = r->local.index;
	rc = ring_tx_reserve(r, w, (uint32_t)total);
	if (rc)
		return rc;
	tx->r = r;
	tx->start = w;
	tx->pos = w;
	tx->padded = (uint32_t)padded;
	tx->written = 0;
	return 0;
}

void ring_tx_put(struct ring_tx *tx, const void *src, size_t len)
{
	/* Callers sized the reservation from the same pieces they put; a
	 * mismatch is a bug in this layer, not peer input. The check stays in
	 * release builds so that such a bug can never write past the space
	 * reserved (into bytes the reader has not consumed). */
	assert(tx->written + len <= tx->padded);
	if (len == 0 || tx->written + len > tx->padded)
		return;
	ring_copy_in(tx->r, tx->pos, src, len);
	tx->pos = ring_advance(tx->pos, (uint32_t)len, tx->r->view.size);
	tx->written += (uint32_t)len;
}

int ring_tx_commit(struct ring_tx *tx, bool *signal)
{
	static const uint8_t zeros[8];
	struct cvmbus_ring *r = tx->r;
	uint64_t trailer = (uint64_t)tx->start << 32;

	if (signal)
		*signal = false;
	ring_tx_put(tx, zeros, tx->padded - tx->written);
	/* Past the padding, straight in: the trailer is not part of the body. */
	ring_copy_in(r, tx->pos, &trailer, sizeof(trailer));
	tx->pos = ring_advance(tx->pos, sizeof(trailer), r->view.size);
	return ring_tx_publish(r, tx->start, tx->pos, signal);
}

/* ring_tx_gather() for a packet that crosses the end of a ring mapped once:
 * the general path, piece by piece, each copy split where it must be. The
 * space is already reserved. */
static __attribute__((noinline)) int ring_tx_gather_split(struct cvmbus_ring *r,
							  const struct cvmbus_ring_desc *d,
							  const struct cvmbus_ring_iov *iov,
							  size_t n, uint32_t padded,
							  bool *signal)
{
	struct ring_tx tx = {
		.r = r, .start = r->local.index, .pos = r->local.index, .padded = padded,
	};
	size_t i;

	ring_tx_put(&tx, d, sizeof(*d));
	for (i = 0; i < n; i++)
		ring_tx_put(&tx, iov[i].base, iov[i].len);
	return ring_tx_commit(&tx, signal);
}

int ring_tx_gather(struct cvmbus_ring *r, const struct cvmbus_ring_desc *d,
		   const struct cvmbus_ring_iov *iov, size_t n, uint32_t payload_len,
		   bool *signal, uint32_t *needed)
{
	/* payload_len <= CVMBUS_RING_MAX_PACKET_LEN - 16 (the caller checked),
	 * so none of these can wrap a u32. */
	uint32_t body = CVMBUS_RING_DESC_SIZE + payload_len;
	uint32_t padded = (uint32_t)ring_round8(body);
	uint32_t total = padded + CVMBUS_RING_TRAILER_SIZE;
	uint32_t w = r->local.index, end, off;
	uint64_t trailer = (uint64_t)w << 32, zero = 0;
	uint8_t *p;
	size_t i;
	int rc;

	if (needed)
		*needed = total;
	if (RING_UNLIKELY(total > r->view.size - CVMBUS_RING_TRAILER_SIZE))
		return -EMSGSIZE; /* as ring_tx_begin: it can never fit */
	rc = ring_tx_reserve(r, w, total);
	if (RING_UNLIKELY(rc))
		return rc;
	if (RING_UNLIKELY(!r->view.double_mapped && (uint64_t)w + total > r->view.size))
		return ring_tx_gather_split(r, d, iov, n, padded, signal);

	/* The whole packet is one run of bytes at p (through the alias when
	 * double-mapped): descriptor, payload, padding and trailer go in with
	 * plain stores, none visible to the reader before [A]. The padding is
	 * zeroed first with one 8-byte store over the body's last unit, and
	 * the payload then overwrites its head; that unit lies after the
	 * descriptor (padded > body >= 17 means padded - 8 >= 16). */
	p = r->view.data + w;
	memcpy(p, d, sizeof(*d));
	if (padded != body)
		memcpy(p + padded - sizeof(zero), &zero, sizeof(zero));
	off = CVMBUS_RING_DESC_SIZE;
	for (i = 0; i < n; i++) {
		/* The pieces add up to payload_len (the caller's contract, as
		 * for ring_tx_put()); checked anyway, so that a bug in this
		 * layer can never write past the space reserved. */
		assert(iov[i].len <= body - off);
		if (iov[i].len == 0 || iov[i].len > body - off)
			continue;
		memcpy(p + off, iov[i].base, iov[i].len);
		off += (uint32_t)iov[i].len;
	}
	memcpy(p + padded, &trailer, sizeof(trailer));
	end = ring_advance(w, total, r->view.size);
	return ring_tx_publish(r, w, end, signal);
}

int cvmbus_ring_set_pending_send(struct cvmbus_ring *r, uint32_t bytes, bool *ready)
{
	struct cvmbus_ring_control *ctl;
	uint32_t rounded, rd, free_bytes;
	int rc = ring_usable(r, CVMBUS_RING_WRITER, CVMBUS_RING_WRITER);

	if (rc)
		return rc;
	ctl = r->view.ctl;
	if (bytes == 0) {
		atomic_store_explicit(&ctl->pending_send_sz, 0, memory_order_relaxed);
		if (ready)
			*ready = true;
		return 0;
	}
	/* size - 8 is the largest total that can ever be free-and-more; a
	 * request above it would wait forever. */
	if (bytes > r->view.size - CVMBUS_RING_TRAILER_SIZE)
		return -EINVAL;
	rounded = (uint32_t)ring_round8(bytes);
	atomic_store_explicit(&ctl->pending_send_sz, rounded, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst); /* [H] */
	rc = ring_load_read_index(r, &rd);         /* [D] */
	if (rc)
		return rc;
	free_bytes = r->view.size - ring_dist(rd, r->local.index, r->view.size);
	if (ready)
		*ready = free_bytes > rounded;
	return 0;
}

int cvmbus_ring_writable(struct cvmbus_ring *r, uint32_t *free_bytes)
{
	uint32_t rd;
	int rc = ring_usable(r, CVMBUS_RING_WRITER, CVMBUS_RING_WRITER);

	if (rc)
		return rc;
	rc = ring_load_read_index(r, &rd);
	if (rc)
		return rc;
	if (free_bytes)
		*free_bytes = r->view.size - ring_dist(rd, r->local.index, r->view.size);
	return 0;
}

/* ---- reading ---------------------------------------------------------- */

/* A packet was refused: clear what the caller may look at, then go
 * CORRUPT. Cold and out of line; the good path never clears pkt. */
static __attribute__((noinline, cold)) int ring_fetch_fail(struct cvmbus_ring *r,
							   struct cvmbus_ring_packet *pkt,
							   enum cvmbus_ring_fault fault,
							   uint32_t value, uint32_t pos)
{
	memset(pkt, 0, sizeof(*pkt));
	return ring_fail(r, fault, value, pos);
}

/* Copy and validate the packet at pos, with avail bytes readable there
 * (avail > 0). The descriptor is read from shared memory exactly once, into
 * a local; the body after it exactly once, into buf; the trailer once.
 * On success every field of pkt is written (ring_body_parse() fills all
 * but the three set here), so it is not cleared first; on -ENOBUFS it says
 * only the sizes, on -EPROTO it is cleared. */
RING_INLINE int ring_fetch(struct cvmbus_ring *r, uint32_t pos, uint32_t avail, void *buf,
			   size_t buflen, struct cvmbus_ring_packet *pkt)
{
	struct cvmbus_ring_fault_info f;
	struct cvmbus_ring_desc d;
	uint64_t trailer;
	uint32_t len;

	if (RING_UNLIKELY(avail < CVMBUS_RING_MIN_PACKET))
		return ring_fetch_fail(r, pkt, CVMBUS_RING_FAULT_SHORT_DATA, avail, pos);

	ring_copy_out(r, pos, &d, sizeof(d));
	ring_copy_done();
	if (RING_UNLIKELY(r->view.hook != NULL))
		r->view.hook(r->view.hook_arg, CVMBUS_RING_HOOK_DESC_COPIED, pos);
	if (RING_UNLIKELY(!ring_desc_check(&d, avail, r->view.size, &f)))
		return ring_fetch_fail(r, pkt, f.fault, f.value, pos);

	len = (uint32_t)d.len8 * 8u;
	if (RING_UNLIKELY(!buf || buflen < len)) {
		memset(pkt, 0, sizeof(*pkt));
		pkt->len = len;
		pkt->total = len + CVMBUS_RING_TRAILER_SIZE;
		pkt->ring_offset = pos;
		return -ENOBUFS;
	}

	/* The checked local descriptor goes into the copy, the rest of the
	 * packet after it: the descriptor is never read from the ring twice. */
	memcpy(buf, &d, sizeof(d));
	ring_copy_out(r, ring_advance(pos, sizeof(d), r->view.size), (uint8_t *)buf + sizeof(d),
		      len - sizeof(d));
	ring_copy_out(r, ring_advance(pos, len, r->view.size), &trailer, sizeof(trailer));
	ring_copy_done();
	if (RING_UNLIKELY(r->view.hook != NULL))
		r->view.hook(r->view.hook_arg, CVMBUS_RING_HOOK_PACKET_COPIED, pos);

	pkt->ring_offset = pos;
	pkt->total = len + CVMBUS_RING_TRAILER_SIZE;
	if (RING_UNLIKELY(!ring_body_parse(buf, len, pkt, &f))) {
		/* As before this change: the fields the parse filled stay, the
		 * trailer of a refused packet is not reported. */
		pkt->trailer = 0;
		return ring_fail(r, f.fault, f.value, pos);
	}
	pkt->trailer = trailer;
	return 0;
}

/* cvmbus_ring_recv() for an endpoint already known to be a READY reader. */
RING_INLINE int ring_recv_ready(struct cvmbus_ring *r, void *buf, size_t buflen,
				struct cvmbus_ring_packet *pkt)
{
	uint32_t pos = r->local.index, w, avail;
	int rc;

	/* A legitimate writer moves write_index only to packet boundaries,
	 * so the cached (validated) value bounds whole packets: reuse it and
	 * load afresh only when it shows nothing left. */
	avail = ring_dist(pos, r->local.peer_index, r->view.size);
	if (avail == 0) {
		rc = ring_load_write_index(r, &w); /* [B] */
		if (RING_UNLIKELY(rc))
			return rc;
		avail = ring_dist(pos, w, r->view.size);
		if (avail == 0)
			return -EAGAIN;
	}
	rc = ring_fetch(r, pos, avail, buf, buflen, pkt);
	if (RING_UNLIKELY(rc))
		return rc;
	r->local.index = ring_advance(pos, pkt->total, r->view.size);
	return 0;
}

int cvmbus_ring_recv(struct cvmbus_ring *r, void *buf, size_t buflen,
		     struct cvmbus_ring_packet *pkt)
{
	int rc = ring_usable(r, CVMBUS_RING_READER, CVMBUS_RING_READER);

	if (rc)
		return rc;
	if (!pkt)
		return -EINVAL;
	return ring_recv_ready(r, buf, buflen, pkt);
}

/* The rest of hv_pkt_iter_close once a writer is waiting (pending != 0):
 * rare, so out of line. write_index is loaded afresh rather than taken
 * from the cache: the free space that decides is the space now. (A cached
 * value could only ever prove "still not enough", and only for an honest
 * writer; the load is cheap here, since the writer is stalled and we have
 * just written the line, so we keep Linux's computation as it is.) */
static __attribute__((noinline)) int ring_commit_pending(struct cvmbus_ring *r, uint32_t start,
							 uint32_t now, uint32_t pending,
							 bool *signal)
{
	uint32_t w, free_now, bytes_read;
	int rc = ring_load_write_index(r, &w);

	if (rc)
		return rc;
	free_now = r->view.size - ring_dist(now, w, r->view.size);
	bytes_read = ring_dist(start, now, r->view.size);
	/* Signal only on the transition from "not enough" (free <= pending:
	 * a writer needs free > its packet) to "enough". u32 arithmetic as in
	 * Linux; for a well-formed ring free_now > bytes_read always. */
	if (free_now - bytes_read > pending)
		return 0; /* it had enough before: the writer was not waiting */
	if (free_now <= pending)
		return 0; /* still not enough */
	if (signal)
		*signal = true;
	return 0;
}

/* cvmbus_ring_commit() for a READY reader; *signal already cleared. */
RING_INLINE int ring_commit_ready(struct cvmbus_ring *r, bool *signal)
{
	struct cvmbus_ring_control *ctl = r->view.ctl;
	uint32_t start = r->local.published, now = r->local.index, pending;

	if (now == start)
		return 0; /* nothing read: Linux would find no transition either */

	atomic_store_explicit(&ctl->read_index, now, memory_order_release); /* [C] */
	r->local.published = now;

	/* hv_pkt_iter_close. A writer without the feature polls instead.
	 * feature_bits sits on the control page's second line, which nobody
	 * writes after set-up, so this load does not contend. */
	if (!(atomic_load_explicit(&ctl->feature_bits, memory_order_relaxed) &
	      CVMBUS_RING_FEATURE_PENDING_SEND_SZ))
		return 0;
	atomic_thread_fence(memory_order_seq_cst); /* [G] */
	/* Acquire: the write_index load in ring_commit_pending must follow. */
	pending = atomic_load_explicit(&ctl->pending_send_sz, memory_order_acquire);
	if (RING_LIKELY(pending == 0))
		return 0;
	return ring_commit_pending(r, start, now, pending, signal);
}

int cvmbus_ring_commit(struct cvmbus_ring *r, bool *signal)
{
	int rc = ring_usable(r, CVMBUS_RING_READER, CVMBUS_RING_READER);

	if (signal)
		*signal = false;
	if (rc)
		return rc;
	return ring_commit_ready(r, signal);
}

int cvmbus_ring_read(struct cvmbus_ring *r, void *buf, size_t buflen,
		     struct cvmbus_ring_packet *pkt, bool *signal)
{
	int rc = ring_usable(r, CVMBUS_RING_READER, CVMBUS_RING_READER);

	if (signal)
		*signal = false;
	if (RING_UNLIKELY(rc))
		return rc;
	if (RING_UNLIKELY(!pkt))
		return -EINVAL;
	/* recv then commit, as the two public calls would do, with the
	 * endpoint checked once: a successful recv leaves it READY. */
	rc = ring_recv_ready(r, buf, buflen, pkt);
	if (rc)
		return rc;
	return ring_commit_ready(r, signal);
}

int cvmbus_ring_begin_read(struct cvmbus_ring *r)
{
	int rc = ring_usable(r, CVMBUS_RING_READER, CVMBUS_RING_READER);

	if (rc)
		return rc;
	atomic_store_explicit(&r->view.ctl->interrupt_mask, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst); /* [I] */
	return 0;
}

int cvmbus_ring_end_read(struct cvmbus_ring *r, uint32_t *readable)
{
	uint32_t w;
	int rc = ring_usable(r, CVMBUS_RING_READER, CVMBUS_RING_READER);

	if (readable)
		*readable = 0;
	if (rc)
		return rc;
	atomic_store_explicit(&r->view.ctl->interrupt_mask, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst); /* [F] */
	rc = ring_load_write_index(r, &w);           /* [B] */
	if (rc)
		return rc;
	if (readable)
		*readable = ring_dist(r->local.index, w, r->view.size);
	return 0;
}

int cvmbus_ring_readable(struct cvmbus_ring *r, uint32_t *bytes)
{
	uint32_t w;
	int rc = ring_usable(r, CVMBUS_RING_READER, CVMBUS_RING_INSPECT);

	if (rc)
		return rc;
	rc = ring_load_write_index(r, &w);
	if (rc)
		return rc;
	if (bytes)
		*bytes = ring_dist(r->local.index, w, r->view.size);
	return 0;
}

int cvmbus_ring_iter_begin(struct cvmbus_ring *r, struct cvmbus_ring_iter *it)
{
	uint32_t w, rd;
	int rc = ring_usable(r, CVMBUS_RING_READER, CVMBUS_RING_INSPECT);

	if (rc)
		return rc;
	if (!it)
		return -EINVAL;
	if (r->view.role == CVMBUS_RING_INSPECT) {
		/* An image's read_index is as untrusted as its write_index. */
		rd = atomic_load_explicit(&r->view.ctl->read_index, memory_order_acquire);
		rc = ring_check_index(r, rd, false);
		if (rc)
			return rc;
		r->local.index = rd;
	}
	rc = ring_load_write_index(r, &w);
	if (rc)
		return rc;
	it->pos = r->local.index;
	it->end = w;
	return 0;
}

int cvmbus_ring_iter_next(struct cvmbus_ring *r, struct cvmbus_ring_iter *it, void *buf,
			  size_t buflen, struct cvmbus_ring_packet *pkt)
{
	uint32_t avail;
	int rc = ring_usable(r, CVMBUS_RING_READER, CVMBUS_RING_INSPECT);

	if (rc)
		return rc;
	if (!it || !pkt || it->pos >= r->view.size || it->end >= r->view.size)
		return -EINVAL;
	avail = ring_dist(it->pos, it->end, r->view.size);
	if (avail == 0)
		return -ENOENT;
	rc = ring_fetch(r, it->pos, avail, buf, buflen, pkt);
	if (rc)
		return rc;
	it->pos = ring_advance(it->pos, pkt->total, r->view.size);
	return 0;
}
