/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the ring layer (src/ring, include/cvmbus/ring.h):
 * the input becomes a ring image, control page values and data area, that
 * a hostile peer left in shared memory, and one of our endpoints attaches
 * to it.
 *
 * Reader mode: an INSPECT endpoint walks the image with the peek iterator
 * (and must write nothing), then a READER attaches and receives every
 * packet until the ring is empty or corrupt, parsing the GPA-direct and
 * transfer-page ranges of each. Both must see the same packets and end the
 * same way. Optionally a test hook plays a peer that rewrites the ring
 * between the reader's copies (double fetch): the descriptor in the private
 * copy must still be the one that was validated.
 *
 * Writer mode: a WRITER attaches to the image (a hostile read_index among
 * others) and sends packets of every kind built from the input; it must
 * never touch the bytes between read_index and its own start, and what it
 * wrote must be read back by a READER exactly as framed by hand below,
 * unless the "peer" moved read_index meanwhile.
 *
 * In both modes a CORRUPT endpoint must stay CORRUPT: after the first
 * -EPROTO, every later call fails with -EPROTO and the fault does not change.
 *
 * Input layout (little-endian):
 *   [0]      data pages - 1 (low 4 bits: 1..16 pages, 4..64 KiB)
 *   [1]      flags FZ_RING_*
 *   [2..21]  write_index, read_index, interrupt_mask, pending_send_sz,
 *            feature_bits (indices reduced to an aligned in-range value
 *            unless FZ_RING_RAW_INDEX)
 *   [22]     small receive buffer size / 8 (with FZ_RING_SMALL_BUF)
 *   [23]     script length L
 *   [24..]   L bytes of script: hook actions (reader) or operations (writer)
 *   rest     the data area, laid down from read_index on, wrapping
 */
#include <errno.h>

#include <cvmbus/ring.h>

#include "fuzz_util.h"

#define FZ_RING_DOUBLE    0x01u /* data area "double mapped" (emulated by a mirror) */
#define FZ_RING_RAW_INDEX 0x02u /* indices as given, not reduced */
#define FZ_RING_SMALL_BUF 0x04u /* try a small receive buffer first */
#define FZ_RING_BATCH     0x08u /* commit every 4 packets, not after each */
#define FZ_RING_HOOK      0x10u /* a peer rewrites the ring during receives */
#define FZ_RING_WRITER    0x20u /* writer mode */
#define FZ_RING_BEGIN_END 0x40u /* reader drains inside begin_read/end_read */
#define FZ_RING_READ_CALL 0x80u /* reader uses cvmbus_ring_read (recv + commit) */

#define FZ_RING_MAX_PAGES 16u
#define FZ_SCRATCH_SIZE   (70u * 1024u) /* > the largest ring: room for oversize payloads */

/* The ring's memory. With double mapping the data area is allocated twice
 * over and the second half kept equal to the first, which is what a real
 * double mapping guarantees; separate allocations of the exact sizes let
 * ASan catch any access past either. */
struct fz_img {
	uint8_t *ctl;
	uint8_t *data;
	uint32_t size;
	bool dbl;
};

static void fz_img_set(struct fz_img *img, uint32_t off, uint8_t b)
{
	off %= img->size;
	img->data[off] = b;
	if (img->dbl)
		img->data[img->size + off] = b;
}

/* Lays n bytes down from offset off on, wrapping, in both halves. */
static void fz_img_write(struct fz_img *img, uint32_t off, const uint8_t *src, size_t n)
{
	size_t first;

	off %= img->size;
	if (n > img->size)
		n = img->size;
	first = img->size - off < n ? img->size - off : n;
	memcpy(img->data + off, src, first);
	memcpy(img->data, src + first, n - first);
	if (img->dbl)
		memcpy(img->data + img->size, img->data, img->size);
}

static uint8_t fz_img_get(const struct fz_img *img, uint32_t off)
{
	return img->data[off % img->size];
}

static void fz_ctl_put(struct fz_img *img, size_t off, uint32_t v)
{
	memcpy(img->ctl + off, &v, sizeof(v));
}

static uint32_t fz_ctl_get(const struct fz_img *img, size_t off)
{
	uint32_t v;

	memcpy(&v, img->ctl + off, sizeof(v));
	return v;
}

#define FZ_CTL_WRITE_INDEX  0u
#define FZ_CTL_READ_INDEX   4u
#define FZ_CTL_INT_MASK     8u
#define FZ_CTL_PENDING_SEND 12u
#define FZ_CTL_FEATURES     64u

static struct cvmbus_ring_mem fz_img_mem(const struct fz_img *img)
{
	struct cvmbus_ring_mem mem = {
		.control = img->ctl,
		.data = img->data,
		.data_size = img->size,
		.double_mapped = img->dbl,
	};

	return mem;
}

static uint32_t fz_dist(uint32_t from, uint32_t to, uint32_t size)
{
	return to >= from ? to - from : size - from + to;
}

static uint32_t fz_round8(uint32_t n)
{
	return (n + 7u) & ~7u;
}

/* ---- the terminal CORRUPT state -------------------------------------- */

/* Every operation of either role must now answer -EPROTO, change nothing
 * in shared memory, and leave the fault as it was. */
static void fz_check_terminal(struct cvmbus_ring *r, const struct fz_img *img)
{
	struct cvmbus_ring_fault_info f0, f1;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring_iter it = { 0, 0 };
	uint8_t buf[64], before[128];
	uint32_t u = 0;
	bool b = false;

	FZ_CHECK(cvmbus_ring_state(r) == CVMBUS_RING_STATE_CORRUPT);
	cvmbus_ring_fault_get(r, &f0);
	FZ_CHECK(f0.fault > CVMBUS_RING_FAULT_NONE && f0.fault < CVMBUS_RING_FAULT_COUNT_);
	FZ_CHECK(cvmbus_ring_fault_str(f0.fault) != NULL);
	memcpy(before, img->ctl, sizeof(before));

	FZ_CHECK(cvmbus_ring_recv(r, buf, sizeof(buf), &pkt) == -EPROTO);
	FZ_CHECK(cvmbus_ring_read(r, buf, sizeof(buf), &pkt, &b) == -EPROTO);
	FZ_CHECK(cvmbus_ring_commit(r, &b) == -EPROTO);
	FZ_CHECK(cvmbus_ring_begin_read(r) == -EPROTO);
	FZ_CHECK(cvmbus_ring_end_read(r, &u) == -EPROTO);
	FZ_CHECK(cvmbus_ring_readable(r, &u) == -EPROTO);
	FZ_CHECK(cvmbus_ring_iter_begin(r, &it) == -EPROTO);
	FZ_CHECK(cvmbus_ring_iter_next(r, &it, buf, sizeof(buf), &pkt) == -EPROTO);
	FZ_CHECK(cvmbus_ring_send_inband(r, 0, 1, buf, 8, &b, &u) == -EPROTO);
	FZ_CHECK(cvmbus_ring_set_pending_send(r, 64, &b) == -EPROTO);
	FZ_CHECK(cvmbus_ring_writable(r, &u) == -EPROTO);

	FZ_CHECK(cvmbus_ring_state(r) == CVMBUS_RING_STATE_CORRUPT);
	cvmbus_ring_fault_get(r, &f1);
	FZ_CHECK(memcmp(&f0, &f1, sizeof(f0)) == 0);
	FZ_CHECK(memcmp(before, img->ctl, sizeof(before)) == 0);
}

/* ---- checking one received packet ------------------------------------ */

static bool fz_type_known(uint16_t t)
{
	return t == CVMBUS_RING_PKT_INBAND || t == CVMBUS_RING_PKT_XFER_PAGES ||
	       t == CVMBUS_RING_PKT_GPA_DIRECT || t == CVMBUS_RING_PKT_COMPLETION;
}

/* What the header promises about a packet the ring accepted, read back
 * from the private copy with offsets written here by hand, and every range
 * accessor driven to its end (and past it). */
static void fz_check_packet(const struct cvmbus_ring_packet *pkt, const uint8_t *buf,
			    uint32_t pos, uint32_t size)
{
	uint16_t type, offset8, len8, flags;
	uint64_t trans_id;
	uint32_t off;

	memcpy(&type, buf + 0, 2);
	memcpy(&offset8, buf + 2, 2);
	memcpy(&len8, buf + 4, 2);
	memcpy(&flags, buf + 6, 2);
	memcpy(&trans_id, buf + 8, 8);
	off = (uint32_t)offset8 * 8u;

	FZ_CHECK(pkt->bytes == buf);
	FZ_CHECK(pkt->ring_offset == pos);
	FZ_CHECK(pkt->len == (uint32_t)len8 * 8u);
	FZ_CHECK(pkt->total == pkt->len + CVMBUS_RING_TRAILER_SIZE);
	/* Free space stays above what was written, so total <= size - 8. */
	FZ_CHECK(pkt->total <= size - 8u);
	FZ_CHECK(offset8 >= 2 && len8 >= offset8);
	FZ_CHECK(pkt->type == type && pkt->flags == flags && pkt->trans_id == trans_id);
	FZ_CHECK(fz_type_known(type));
	FZ_CHECK((flags & ~CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED) == 0);
	FZ_CHECK(pkt->header == buf + CVMBUS_RING_DESC_SIZE);
	FZ_CHECK(pkt->header_len == off - CVMBUS_RING_DESC_SIZE);
	FZ_CHECK(pkt->payload == buf + off);
	FZ_CHECK(pkt->payload_len == pkt->len - off);

	if (type == CVMBUS_RING_PKT_GPA_DIRECT) {
		struct cvmbus_ring_gpa_view v;
		uint32_t cursor = 0, count = 0, bogus;
		int rc;

		FZ_CHECK(pkt->ranges == pkt->header + 8);
		FZ_CHECK(pkt->ranges + pkt->ranges_len <= pkt->payload);
		while ((rc = cvmbus_ring_packet_gpa_range(pkt, &cursor, &v)) == 1) {
			uint64_t pages = ((uint64_t)v.byte_offset + v.byte_count + 4095u) / 4096u;
			uint32_t i;

			count++;
			FZ_CHECK(count <= pkt->range_count);
			FZ_CHECK(v.byte_count > 0 && v.byte_offset < 4096u);
			FZ_CHECK(v.pfn_count == pages);
			FZ_CHECK(v.pfn_bytes + (size_t)v.pfn_count * 8u <= pkt->ranges + pkt->ranges_len);
			for (i = 0; i < v.pfn_count; i++)
				(void)cvmbus_ring_gpa_view_pfn(&v, i);
			FZ_CHECK(cvmbus_ring_gpa_view_pfn(&v, v.pfn_count) == 0);
		}
		FZ_CHECK(rc == 0);
		FZ_CHECK(count == pkt->range_count);
		FZ_CHECK(cursor == pkt->ranges_len);
		/* A caller's bad cursor must be refused or land on a range
		 * that still lies inside the validated bytes, never crash. */
		bogus = pkt->ranges_len + 8u;
		FZ_CHECK(cvmbus_ring_packet_gpa_range(pkt, &bogus, &v) == -EINVAL);
		bogus = 4;
		rc = cvmbus_ring_packet_gpa_range(pkt, &bogus, &v);
		FZ_CHECK(rc == -EINVAL || rc == 0 || rc == 1);
		if (rc == 1)
			FZ_CHECK(v.pfn_bytes + (size_t)v.pfn_count * 8u <=
				 pkt->ranges + pkt->ranges_len);
	} else if (type == CVMBUS_RING_PKT_XFER_PAGES) {
		struct cvmbus_ring_xfer_range xr;
		uint16_t set_id;
		uint32_t i;

		memcpy(&set_id, buf + 16, 2);
		FZ_CHECK(pkt->xfer_set_id == set_id);
		FZ_CHECK(pkt->ranges == pkt->header + 8);
		FZ_CHECK(pkt->range_count > 0);
		FZ_CHECK(pkt->ranges_len == pkt->range_count * 8u);
		FZ_CHECK(pkt->ranges + pkt->ranges_len <= pkt->payload);
		for (i = 0; i < pkt->range_count; i++)
			FZ_CHECK(cvmbus_ring_packet_xfer_range(pkt, i, &xr) == 0);
		FZ_CHECK(cvmbus_ring_packet_xfer_range(pkt, pkt->range_count, &xr) == -EINVAL);
	} else {
		struct cvmbus_ring_gpa_view v;
		struct cvmbus_ring_xfer_range xr;
		uint32_t cursor = 0;

		FZ_CHECK(pkt->range_count == 0 && pkt->ranges == NULL && pkt->ranges_len == 0);
		FZ_CHECK(cvmbus_ring_packet_gpa_range(pkt, &cursor, &v) == -EINVAL);
		FZ_CHECK(cvmbus_ring_packet_xfer_range(pkt, 0, &xr) == -EINVAL);
	}
}

/* ---- reader mode ----------------------------------------------------- */

/* Packets as one endpoint saw (or sent) them, to compare with another:
 * where each starts in the ring and its bytes, kept back to back in store.
 * Packets in one pass over a ring are disjoint pieces of it, so their
 * bytes never add up to more than the data size. */
struct fz_seen {
	uint32_t offset;
	uint32_t len;
	uint32_t at; /* in store */
};

struct fz_log {
	struct fz_seen *seen;
	uint8_t *store;
	uint32_t count, cap;
	uint32_t used, store_cap;
};

static bool fz_log_add(struct fz_log *log, uint32_t offset, const uint8_t *bytes, uint32_t len)
{
	if (log->count == log->cap || len > log->store_cap - log->used)
		return false;
	log->seen[log->count].offset = offset;
	log->seen[log->count].len = len;
	log->seen[log->count].at = log->used;
	memcpy(log->store + log->used, bytes, len);
	log->used += len;
	log->count++;
	return true;
}

/* Packet i of the log is exactly this one. */
static void fz_log_match(const struct fz_log *log, uint32_t i, const struct cvmbus_ring_packet *pkt)
{
	FZ_CHECK(i < log->count);
	FZ_CHECK(log->seen[i].offset == pkt->ring_offset);
	FZ_CHECK(log->seen[i].len == pkt->len);
	FZ_CHECK(memcmp(log->store + log->seen[i].at, pkt->bytes, pkt->len) == 0);
}

static bool fz_log_init(struct fz_log *log, uint32_t size)
{
	log->cap = size / CVMBUS_RING_MIN_PACKET + 1u;
	log->store_cap = size;
	log->seen = calloc(log->cap, sizeof(*log->seen));
	log->store = malloc(size);
	return log->seen && log->store;
}

static void fz_log_free(struct fz_log *log)
{
	free(log->seen);
	free(log->store);
}

struct fz_walk {
	int init_rc;
	int end_rc; /* -ENOENT / -EAGAIN (empty) or -EPROTO */
	struct cvmbus_ring_fault_info fault;
	struct fz_log log;
};

/* The peer of the double-fetch game: at each hook point, remember the
 * descriptor the reader has just copied, then apply the next 5-byte action
 * of the script. */
struct fz_peer {
	struct fz_img *img;
	struct fz_in script;
	uint8_t desc[CVMBUS_RING_DESC_SIZE];
	uint32_t desc_offset;
	bool have_desc;
};

static void fz_peer_hook(void *arg, enum cvmbus_ring_hook_point at, uint32_t ring_offset)
{
	struct fz_peer *peer = arg;
	struct fz_img *img = peer->img;
	uint8_t kind;
	uint32_t v, i;

	if (at == CVMBUS_RING_HOOK_DESC_COPIED) {
		for (i = 0; i < CVMBUS_RING_DESC_SIZE; i++)
			peer->desc[i] = fz_img_get(img, ring_offset + i);
		peer->desc_offset = ring_offset;
		peer->have_desc = true;
	}
	if (peer->script.n == 0)
		return;
	kind = fz_u8(&peer->script);
	v = fz_u32(&peer->script);
	switch (kind % 4u) {
	case 0: /* rewrite a byte near the packet being read */
		fz_img_set(img, ring_offset + (v >> 8), (uint8_t)v);
		break;
	case 1: /* publish any write index at all */
		fz_ctl_put(img, FZ_CTL_WRITE_INDEX, v);
		break;
	case 2: /* publish a plausible one */
		fz_ctl_put(img, FZ_CTL_WRITE_INDEX, (v % img->size) & ~7u);
		break;
	default: /* scribble on the reader's own index */
		fz_ctl_put(img, FZ_CTL_READ_INDEX, v);
		break;
	}
}

/* The peek iterator over the untouched image. It must not write a byte. */
static void fz_inspect(struct fz_img *img, uint8_t *big, struct fz_walk *w)
{
	size_t data_len = (size_t)img->size * (img->dbl ? 2u : 1u);
	struct cvmbus_ring_mem mem = fz_img_mem(img);
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring_iter it;
	struct cvmbus_ring r;
	uint8_t *ctl_copy = malloc(CVMBUS_RING_CONTROL_SIZE);
	uint8_t *data_copy = malloc(data_len);
	uint32_t pos;
	int rc;

	FZ_CHECK(ctl_copy && data_copy);
	memcpy(ctl_copy, img->ctl, CVMBUS_RING_CONTROL_SIZE);
	memcpy(data_copy, img->data, data_len);

	w->init_rc = cvmbus_ring_init(&r, CVMBUS_RING_INSPECT, CVMBUS_RING_ATTACH, &mem);
	FZ_CHECK(w->init_rc == 0 || w->init_rc == -EPROTO);
	if (w->init_rc == 0) {
		struct cvmbus_ring_control_values cv;
		uint32_t readable;

		/* An inspector may not consume. */
		FZ_CHECK(cvmbus_ring_recv(&r, big, img->size, &pkt) == -EINVAL);
		/* The snapshot is each word once, as found. */
		cvmbus_ring_control_snapshot(&r, &cv);
		FZ_CHECK(cv.write_index == fz_ctl_get(img, FZ_CTL_WRITE_INDEX) &&
			 cv.read_index == fz_ctl_get(img, FZ_CTL_READ_INDEX) &&
			 cv.pending_send_sz == fz_ctl_get(img, FZ_CTL_PENDING_SEND) &&
			 cv.feature_bits == fz_ctl_get(img, FZ_CTL_FEATURES));
		FZ_CHECK(cvmbus_ring_readable(&r, &readable) == 0);
		FZ_CHECK(readable == fz_dist(cv.read_index, cv.write_index, img->size));
		rc = cvmbus_ring_iter_begin(&r, &it);
		FZ_CHECK(rc == 0); /* same indices attach already accepted */
		pos = fz_ctl_get(img, FZ_CTL_READ_INDEX);
		for (;;) {
			rc = cvmbus_ring_iter_next(&r, &it, big, img->size, &pkt);
			if (rc != 0)
				break;
			fz_check_packet(&pkt, big, pos, img->size);
			pos = (pos + pkt.total) % img->size;
			FZ_CHECK(fz_log_add(&w->log, pkt.ring_offset, pkt.bytes, pkt.len));
		}
		FZ_CHECK(rc == -ENOENT || rc == -EPROTO);
		w->end_rc = rc;
	} else {
		w->end_rc = -EPROTO;
	}
	if (w->end_rc == -EPROTO) {
		cvmbus_ring_fault_get(&r, &w->fault);
		fz_check_terminal(&r, img);
	}
	FZ_CHECK(memcmp(ctl_copy, img->ctl, CVMBUS_RING_CONTROL_SIZE) == 0);
	FZ_CHECK(memcmp(data_copy, img->data, data_len) == 0);
	free(ctl_copy);
	free(data_copy);
}

static void fz_reader(struct fz_img *img, unsigned flags, size_t small_len, struct fz_in script,
		      uint8_t *big, const struct fz_walk *ref)
{
	struct cvmbus_ring_mem mem = fz_img_mem(img);
	struct fz_peer peer = { .img = img, .script = script };
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring r;
	uint8_t *small = small_len ? malloc(small_len) : NULL;
	bool hook = (flags & FZ_RING_HOOK) != 0, sig;
	uint32_t pos, count = 0, iter, limit, readable;
	int rc;

	FZ_CHECK(small || small_len == 0);
	rc = cvmbus_ring_init(&r, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &mem);
	FZ_CHECK(rc == 0 || rc == -EPROTO);
	if (ref)
		FZ_CHECK(rc == ref->init_rc);
	if (rc < 0) {
		fz_check_terminal(&r, img);
		if (ref) {
			struct cvmbus_ring_fault_info f;

			/* Both roles refuse the same index for the same reason. */
			cvmbus_ring_fault_get(&r, &f);
			FZ_CHECK(f.fault == ref->fault.fault && f.value == ref->fault.value);
		}
		goto out;
	}
	/* Attach keeps the indices and clears interrupt_mask ("signal me"). */
	FZ_CHECK(fz_ctl_get(img, FZ_CTL_INT_MASK) == 0);
	pos = fz_ctl_get(img, FZ_CTL_READ_INDEX);
	if (hook)
		cvmbus_ring_set_test_hook(&r, fz_peer_hook, &peer);
	if (flags & FZ_RING_BEGIN_END)
		FZ_CHECK(cvmbus_ring_begin_read(&r) == 0);

	/* Each packet takes at least 24 bytes of a ring that never holds
	 * more than size - 8: an unchanging image ends within this many. A
	 * hooked peer may keep publishing, so only a bound on work applies. */
	limit = img->size / CVMBUS_RING_MIN_PACKET + 2u;
	for (iter = 0; iter < limit; iter++) {
		/* The bytes readable are what lies between us and the write
		 * index (a hooked peer may have broken that index). */
		rc = cvmbus_ring_readable(&r, &readable);
		if (rc == -EPROTO) {
			FZ_CHECK(hook);
			break;
		}
		FZ_CHECK(rc == 0);
		if (!hook)
			FZ_CHECK(readable == fz_dist(pos, fz_ctl_get(img, FZ_CTL_WRITE_INDEX), img->size));
		rc = -ENOBUFS;
		if (flags & FZ_RING_SMALL_BUF) {
			peer.have_desc = false;
			rc = cvmbus_ring_recv(&r, small, small_len, &pkt);
			if (rc == 0) {
				fz_check_packet(&pkt, small, pos, img->size);
			} else if (rc == -ENOBUFS) {
				/* Nothing consumed; the size needed is reported. */
				FZ_CHECK(pkt.len > small_len && pkt.ring_offset == pos);
				FZ_CHECK(pkt.total == pkt.len + CVMBUS_RING_TRAILER_SIZE);
			}
		}
		if (rc == -ENOBUFS) {
			peer.have_desc = false;
			/* read = recv + commit, publishing as it goes. */
			if (flags & FZ_RING_READ_CALL)
				rc = cvmbus_ring_read(&r, big, img->size, &pkt, &sig);
			else
				rc = cvmbus_ring_recv(&r, big, img->size, &pkt);
			FZ_CHECK(rc != -ENOBUFS); /* size bytes hold any packet */
			if (rc == 0)
				fz_check_packet(&pkt, big, pos, img->size);
		}
		if (rc == -EAGAIN) {
			if (!hook)
				FZ_CHECK(pos == fz_ctl_get(img, FZ_CTL_WRITE_INDEX));
			if (flags & FZ_RING_BEGIN_END) {
				int erc = cvmbus_ring_end_read(&r, &readable);

				if (erc == -EPROTO) {
					rc = erc;
					break;
				}
				FZ_CHECK(erc == 0);
				if (readable) {
					FZ_CHECK(hook); /* only a live peer adds data */
					FZ_CHECK(cvmbus_ring_begin_read(&r) == 0);
					continue;
				}
			}
			break;
		}
		if (rc == -EPROTO)
			break;
		FZ_CHECK(rc == 0);
		if (hook) {
			/* Whatever the peer did after the copy, the private
			 * descriptor is the one that was copied and checked. */
			FZ_CHECK(peer.have_desc && peer.desc_offset == pos);
			FZ_CHECK(memcmp(pkt.bytes, peer.desc, sizeof(peer.desc)) == 0);
		}
		if (ref)
			fz_log_match(&ref->log, count, &pkt);
		count++;
		pos = (pos + pkt.total) % img->size;
		if (!(flags & FZ_RING_BATCH) || count % 4u == 0) {
			rc = cvmbus_ring_commit(&r, &sig);
			if (rc == -EPROTO)
				break;
			FZ_CHECK(rc == 0);
			FZ_CHECK(fz_ctl_get(img, FZ_CTL_READ_INDEX) == pos);
		}
	}
	if (iter == limit) {
		FZ_CHECK(hook); /* an unchanging image cannot hold more packets */
		goto out;
	}
	if (rc == -EPROTO) {
		fz_check_terminal(&r, img);
		if (ref) {
			struct cvmbus_ring_fault_info f;

			cvmbus_ring_fault_get(&r, &f);
			FZ_CHECK(ref->end_rc == -EPROTO && count == ref->log.count);
			FZ_CHECK(f.fault == ref->fault.fault && f.value == ref->fault.value &&
				 f.ring_offset == ref->fault.ring_offset);
		}
	} else {
		FZ_CHECK(rc == -EAGAIN);
		if (ref)
			FZ_CHECK(ref->end_rc == -ENOENT && count == ref->log.count);
		rc = cvmbus_ring_commit(&r, &sig);
		FZ_CHECK(rc == 0 || (hook && rc == -EPROTO));
		if (rc == 0)
			FZ_CHECK(fz_ctl_get(img, FZ_CTL_READ_INDEX) == pos);
	}
out:
	free(small);
}

/* ---- writer mode ----------------------------------------------------- */

struct fz_frame {
	uint8_t *buf; /* FZ_SCRATCH_SIZE + 4096 */
	uint32_t len;
};

static void fz_frame_desc(struct fz_frame *f, uint16_t type, uint32_t hdr_len,
			  uint32_t payload_len, uint16_t flags, uint64_t trans_id)
{
	uint16_t offset8 = (uint16_t)((16u + hdr_len) / 8u);
	uint16_t len8 = (uint16_t)(fz_round8(16u + hdr_len + payload_len) / 8u);

	memset(f->buf, 0, (size_t)len8 * 8u);
	memcpy(f->buf + 0, &type, 2);
	memcpy(f->buf + 2, &offset8, 2);
	memcpy(f->buf + 4, &len8, 2);
	memcpy(f->buf + 6, &flags, 2);
	memcpy(f->buf + 8, &trans_id, 8);
	f->len = (uint32_t)len8 * 8u;
}

/* A double mapping emulated by a mirror: a write that runs past the end of
 * the first half lands in the second one, as on a real double mapping, and
 * must then be carried over to the front (the MMU would have). Before the
 * write, fz_pre_send keeps the x front bytes it may touch after wrapping
 * (prev); the halves were equal then and the writer writes each byte once,
 * so there, whichever half differs from prev holds the new value. The rest
 * of the packet was written in the first half and is mirrored. */
static void fz_img_fold(struct fz_img *img, const uint8_t *prev, uint32_t start, uint32_t total)
{
	uint32_t end = start + total, x, j;

	if (!img->dbl)
		return;
	x = end > img->size ? end - img->size : 0;
	for (j = 0; j < x; j++) {
		uint8_t *lo = &img->data[j], *hi = &img->data[img->size + j];

		if (*lo == *hi)
			continue;
		if (*hi != prev[j])
			*lo = *hi;
		else
			*hi = *lo;
	}
	memcpy(img->data + img->size + start, img->data + start, (end < img->size ? end : img->size) - start);
}

struct fz_writer {
	struct fz_img *img;
	struct cvmbus_ring r;
	const uint8_t *pattern;
	uint8_t *prev;    /* double mapping: front bytes before this send */
	struct fz_frame frame;
	struct fz_log sent; /* framed by hand: descriptor, header, payload, padding */
	bool lost;        /* a sent packet did not fit the log: no read-back */
	uint32_t rd;      /* read_index as the peer left it */
	bool tampered;    /* the peer moved read_index: no read-back */
	bool corrupt;
};

static void fz_pre_send(struct fz_writer *w, uint32_t w_before, uint32_t needed)
{
	struct fz_img *img = w->img;
	uint32_t end = w_before + needed;

	if (img->dbl && end > img->size && needed < img->size)
		memcpy(w->prev, img->data, end - img->size);
}

/* Checks the outcome of one send whose packet takes `needed` bytes and
 * whose hand-framed image is in w->frame. */
static void fz_sent_result(struct fz_writer *w, int rc, uint32_t needed, uint32_t got_needed,
			   uint32_t w_before)
{
	struct fz_img *img = w->img;
	uint32_t free_now;

	FZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EMSGSIZE || rc == -EPROTO);
	if (rc == -EPROTO) {
		w->corrupt = true;
		return;
	}
	if (rc == -EMSGSIZE) {
		FZ_CHECK(needed > img->size - 8u || needed - 8u > CVMBUS_RING_MAX_PACKET_LEN);
		return;
	}
	FZ_CHECK(got_needed == needed);
	free_now = img->size - fz_dist(fz_ctl_get(img, FZ_CTL_READ_INDEX), w_before, img->size);
	if (rc == -EAGAIN) {
		if (!w->tampered)
			FZ_CHECK(free_now <= needed);
		FZ_CHECK(fz_ctl_get(img, FZ_CTL_WRITE_INDEX) == w_before);
		return;
	}
	if (!w->tampered)
		FZ_CHECK(free_now > needed);
	FZ_CHECK(fz_ctl_get(img, FZ_CTL_WRITE_INDEX) == (w_before + needed) % img->size);
	fz_img_fold(img, w->prev, w_before, needed);
	if (!fz_log_add(&w->sent, w_before, w->frame.buf, w->frame.len))
		w->lost = true;
}

/* One 4-byte operation of the writer script: kind, a, u16 n. */
static void fz_writer_op(struct fz_writer *w, uint32_t opno, uint8_t kind, uint8_t a,
			 uint16_t n)
{
	struct fz_img *img = w->img;
	uint32_t w_before = fz_ctl_get(img, FZ_CTL_WRITE_INDEX);
	uint16_t flags = a & CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED;
	uint64_t trans_id = 0x7472616e73000000ull | opno;
	const uint8_t *payload = w->pattern + (opno % 64u);
	uint32_t plen = n % 2048u, needed, got = 0, i, hdr;
	bool sig;
	int rc;

	switch (kind % 8u) {
	case 0: /* in-band */
	case 1: { /* completion */
		uint16_t type = kind % 8u ? CVMBUS_RING_PKT_COMPLETION : CVMBUS_RING_PKT_INBAND;
		struct cvmbus_ring_iov iov = { payload, plen };
		struct cvmbus_ring_outpkt p = { .type = type, .flags = flags, .trans_id = trans_id,
						.payload = &iov, .payload_count = plen ? 1 : 0 };

		fz_frame_desc(&w->frame, type, 0, plen, flags, trans_id);
		memcpy(w->frame.buf + 16, payload, plen);
		needed = w->frame.len + 8u;
		fz_pre_send(w, w_before, needed);
		rc = cvmbus_ring_send(&w->r, &p, &sig, &got);
		fz_sent_result(w, rc, needed, got, w_before);
		return;
	}
	case 2: { /* GPA direct */
		struct cvmbus_ring_gpa_range g[3];
		uint64_t pfns[3][8];
		uint32_t nr = 1u + a % 3u, at;
		struct cvmbus_ring_iov iov = { payload, plen % 256u };
		struct cvmbus_ring_outpkt p = { .type = CVMBUS_RING_PKT_GPA_DIRECT,
						.flags = flags, .trans_id = trans_id,
						.payload = &iov, .payload_count = 1 };

		hdr = 8;
		for (i = 0; i < nr; i++) {
			uint32_t k;

			g[i].byte_offset = (n * 7u + i * 100u) % 4096u;
			g[i].byte_count = 1u + (n * 13u + i) % 20000u;
			g[i].pfn_count = (g[i].byte_offset + g[i].byte_count + 4095u) / 4096u;
			for (k = 0; k < g[i].pfn_count; k++)
				pfns[i][k] = 0x100000ull * (i + 1) + k + opno;
			g[i].pfns = pfns[i];
			hdr += 8u + g[i].pfn_count * 8u;
		}
		p.gpa = g;
		p.gpa_count = nr;
		fz_frame_desc(&w->frame, CVMBUS_RING_PKT_GPA_DIRECT, hdr, (uint32_t)iov.len, flags,
			      trans_id);
		memcpy(w->frame.buf + 20, &nr, 4); /* reserved @16 stays 0 */
		at = 24;
		for (i = 0; i < nr; i++) {
			memcpy(w->frame.buf + at, &g[i].byte_count, 4);
			memcpy(w->frame.buf + at + 4, &g[i].byte_offset, 4);
			memcpy(w->frame.buf + at + 8, pfns[i], g[i].pfn_count * 8u);
			at += 8u + g[i].pfn_count * 8u;
		}
		memcpy(w->frame.buf + at, payload, iov.len);
		needed = w->frame.len + 8u;
		fz_pre_send(w, w_before, needed);
		rc = cvmbus_ring_send(&w->r, &p, &sig, &got);
		fz_sent_result(w, rc, needed, got, w_before);
		return;
	}
	case 3: { /* transfer pages */
		struct cvmbus_ring_xfer_range xr[8];
		uint32_t nr = 1u + a % 8u;
		uint16_t set_id = (uint16_t)(n ^ 0x5a5au);
		struct cvmbus_ring_iov iov = { payload, plen % 512u };
		struct cvmbus_ring_outpkt p = { .type = CVMBUS_RING_PKT_XFER_PAGES,
						.flags = flags, .trans_id = trans_id,
						.xfer_set_id = set_id, .xfer = xr,
						.xfer_count = nr, .payload = &iov,
						.payload_count = 1 };

		for (i = 0; i < nr; i++) {
			xr[i].byte_count = n + i;
			xr[i].byte_offset = i * 4096u + a;
		}
		hdr = 8u + nr * 8u;
		fz_frame_desc(&w->frame, CVMBUS_RING_PKT_XFER_PAGES, hdr, (uint32_t)iov.len, flags,
			      trans_id);
		memcpy(w->frame.buf + 16, &set_id, 2);
		memcpy(w->frame.buf + 20, &nr, 4);
		memcpy(w->frame.buf + 24, xr, nr * 8u);
		memcpy(w->frame.buf + 16 + hdr, payload, iov.len);
		needed = w->frame.len + 8u;
		fz_pre_send(w, w_before, needed);
		rc = cvmbus_ring_send(&w->r, &p, &sig, &got);
		fz_sent_result(w, rc, needed, got, w_before);
		return;
	}
	case 4: { /* a packet framed by the caller, descriptor split across iovs */
		uint32_t extra = 8u * (a % 3u); /* opaque header bytes */
		uint32_t body = 16u + extra + plen;
		uint32_t cut = a % 24u;
		struct cvmbus_ring_iov iov[2];

		if (cut > body)
			cut = body;
		fz_frame_desc(&w->frame, CVMBUS_RING_PKT_INBAND, extra, plen, flags, trans_id);
		memcpy(w->frame.buf + 16 + extra, payload, plen);
		iov[0].base = w->frame.buf;
		iov[0].len = cut;
		iov[1].base = w->frame.buf + cut;
		iov[1].len = body - cut;
		needed = w->frame.len + 8u;
		fz_pre_send(w, w_before, needed);
		rc = cvmbus_ring_write(&w->r, iov, 2, &sig, &got);
		fz_sent_result(w, rc, needed, got, w_before);
		return;
	}
	case 5: { /* wait request and free-space query */
		bool ready;
		uint32_t free_bytes;

		rc = cvmbus_ring_set_pending_send(&w->r, n, &ready);
		FZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EPROTO);
		if (rc == -EINVAL)
			FZ_CHECK(n > img->size - 8u);
		if (rc == 0)
			FZ_CHECK(fz_ctl_get(img, FZ_CTL_PENDING_SEND) == fz_round8(n));
		if (rc == -EPROTO) {
			w->corrupt = true;
			return;
		}
		rc = cvmbus_ring_writable(&w->r, &free_bytes);
		FZ_CHECK(rc == 0 || rc == -EPROTO);
		if (rc == -EPROTO) {
			w->corrupt = true;
			return;
		}
		FZ_CHECK(free_bytes == img->size - fz_dist(fz_ctl_get(img, FZ_CTL_READ_INDEX),
							   w_before, img->size));
		return;
	}
	case 6: { /* the peer moves read_index, sanely or not */
		uint32_t v = (uint32_t)n | (uint32_t)n << 16;

		fz_ctl_put(img, FZ_CTL_READ_INDEX, (a & 1u) ? v : (n * 8u) % img->size);
		w->tampered = true;
		return;
	}
	default: { /* an in-band packet that may not fit this ring at all */
		uint32_t big = (uint32_t)n * 8u;

		if (big > FZ_SCRATCH_SIZE)
			big = FZ_SCRATCH_SIZE;
		needed = fz_round8(16u + big) + 8u;
		w->frame.len = 0;
		if (needed - 8u <= FZ_SCRATCH_SIZE) {
			fz_frame_desc(&w->frame, CVMBUS_RING_PKT_INBAND, 0, big, flags, trans_id);
			memcpy(w->frame.buf + 16, w->pattern, big);
		}
		fz_pre_send(w, w_before, needed);
		rc = cvmbus_ring_send_inband(&w->r, flags, trans_id, w->pattern, big, &sig, &got);
		fz_sent_result(w, rc, needed, got, w_before);
		return;
	}
	}
}

/* Reads back what an untampered writer sent, starting where it began. */
static void fz_read_back(struct fz_writer *w, uint32_t w0, uint8_t *big)
{
	struct fz_img *img = w->img;
	struct cvmbus_ring_mem mem;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring r;
	uint64_t trailer;
	uint32_t i;
	int rc;

	/* The reader has consumed the old contents. */
	fz_ctl_put(img, FZ_CTL_READ_INDEX, w0);
	mem = fz_img_mem(img);
	FZ_CHECK(cvmbus_ring_init(&r, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &mem) == 0);
	for (i = 0; i < w->sent.count; i++) {
		rc = cvmbus_ring_recv(&r, big, img->size, &pkt);
		FZ_CHECK(rc == 0);
		fz_check_packet(&pkt, big, w->sent.seen[i].offset, img->size);
		fz_log_match(&w->sent, i, &pkt);
		trailer = (uint64_t)w->sent.seen[i].offset << 32;
		FZ_CHECK(pkt.trailer == trailer);
	}
	FZ_CHECK(cvmbus_ring_recv(&r, big, img->size, &pkt) == -EAGAIN);
	FZ_CHECK(cvmbus_ring_state(&r) == CVMBUS_RING_STATE_READY);
}

static void fz_writer(struct fz_img *img, struct fz_in script, uint8_t *big)
{
	struct cvmbus_ring_mem mem = fz_img_mem(img);
	size_t data_len = (size_t)img->size * (img->dbl ? 2u : 1u);
	struct fz_writer w = { .img = img };
	uint8_t *pattern = malloc(FZ_SCRATCH_SIZE + 64u);
	uint8_t *before = malloc(data_len);
	uint32_t w0, rd0, opno = 0, i, unread, first;
	size_t have;
	int rc;

	w.frame.buf = malloc(FZ_SCRATCH_SIZE + 4096u);
	w.prev = malloc(img->size);
	FZ_CHECK(pattern && before && w.frame.buf && w.prev && fz_log_init(&w.sent, img->size));
	/* A payload pattern that differs at every offset within 251 bytes, so
	 * a misplaced byte shows; built by doubling rather than byte by byte
	 * because the harness's own loops are coverage-instrumented too. */
	for (i = 0; i < 251u; i++)
		pattern[i] = (uint8_t)(i * 131u + 7u);
	for (have = 251u; have < FZ_SCRATCH_SIZE + 64u; have *= 2u)
		memcpy(pattern + have, pattern,
		       have < FZ_SCRATCH_SIZE + 64u - have ? have : FZ_SCRATCH_SIZE + 64u - have);
	w.pattern = pattern;
	memcpy(before, img->data, data_len);

	rc = cvmbus_ring_init(&w.r, CVMBUS_RING_WRITER, CVMBUS_RING_ATTACH, &mem);
	FZ_CHECK(rc == 0 || rc == -EPROTO);
	if (rc < 0) {
		fz_check_terminal(&w.r, img);
		goto out;
	}
	/* Attach drops any old wait request and advertises pending_send_sz. */
	FZ_CHECK(fz_ctl_get(img, FZ_CTL_PENDING_SEND) == 0);
	FZ_CHECK(fz_ctl_get(img, FZ_CTL_FEATURES) & CVMBUS_RING_FEATURE_PENDING_SEND_SZ);
	w0 = fz_ctl_get(img, FZ_CTL_WRITE_INDEX);
	rd0 = fz_ctl_get(img, FZ_CTL_READ_INDEX);
	while (script.n > 0 && !w.corrupt) {
		uint8_t kind = fz_u8(&script);
		uint8_t a = fz_u8(&script);
		uint16_t n = fz_u16(&script);

		fz_writer_op(&w, opno++, kind, a, n);
	}
	if (w.corrupt) {
		FZ_CHECK(w.tampered); /* only a bad read_index can break a writer */
		fz_check_terminal(&w.r, img);
		goto out;
	}
	if (w.tampered)
		goto out;
	/* The bytes the reader has not consumed yet are not ours to touch. */
	unread = fz_dist(rd0, w0, img->size);
	first = img->size - rd0 < unread ? img->size - rd0 : unread;
	FZ_CHECK(memcmp(img->data + rd0, before + rd0, first) == 0);
	FZ_CHECK(memcmp(img->data, before, unread - first) == 0);
	if (!w.lost)
		fz_read_back(&w, w0, big);
out:
	fz_log_free(&w.sent);
	free(w.prev);
	free(w.frame.buf);
	free(before);
	free(pattern);
}

/* ---- entry ----------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = fz_in_make(data, size);
	uint32_t pages = (fz_u8(&in) & 0x0fu) + 1u;
	unsigned flags = fz_u8(&in);
	uint32_t wi = fz_u32(&in), ri = fz_u32(&in), mask = fz_u32(&in);
	uint32_t pending = fz_u32(&in), features = fz_u32(&in);
	size_t small_len = (size_t)fz_u8(&in) * 8u;
	struct fz_in script = fz_split(&in, fz_u8(&in));
	struct fz_img img = { .size = pages * CVMBUS_RING_PAGE_SIZE,
			      .dbl = (flags & FZ_RING_DOUBLE) != 0 };
	struct fz_walk ref = { 0 };
	uint8_t *big;
	uint32_t start;

	img.ctl = aligned_alloc(CVMBUS_RING_PAGE_SIZE, CVMBUS_RING_CONTROL_SIZE);
	img.data = aligned_alloc(CVMBUS_RING_PAGE_SIZE, (size_t)img.size * (img.dbl ? 2u : 1u));
	big = malloc(img.size);
	FZ_CHECK(img.ctl && img.data && big);
	/* Not zero: stale bytes in the reserved words must not matter. */
	memset(img.ctl, 0x5c, CVMBUS_RING_CONTROL_SIZE);
	memset(img.data, 0, (size_t)img.size * (img.dbl ? 2u : 1u));

	if (!(flags & FZ_RING_RAW_INDEX)) {
		wi = (wi % img.size) & ~7u;
		ri = (ri % img.size) & ~7u;
	}
	fz_ctl_put(&img, FZ_CTL_WRITE_INDEX, wi);
	fz_ctl_put(&img, FZ_CTL_READ_INDEX, ri);
	fz_ctl_put(&img, FZ_CTL_INT_MASK, mask);
	fz_ctl_put(&img, FZ_CTL_PENDING_SEND, pending);
	fz_ctl_put(&img, FZ_CTL_FEATURES, features);
	/* The packets of the input start where the reader starts reading. */
	start = (ri % img.size) & ~7u;
	fz_img_write(&img, start, in.p, in.n);

	if (flags & FZ_RING_WRITER) {
		fz_writer(&img, script, big);
	} else if (flags & FZ_RING_HOOK) {
		fz_reader(&img, flags, small_len, script, big, NULL);
	} else {
		FZ_CHECK(fz_log_init(&ref.log, img.size));
		fz_inspect(&img, big, &ref);
		fz_reader(&img, flags, small_len, script, big, &ref);
		fz_log_free(&ref.log);
	}
	free(big);
	free(img.data);
	free(img.ctl);
	return 0;
}
