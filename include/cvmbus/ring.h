/* SPDX-License-Identifier: MIT */
/*
 * The Hyper-V VMBus ring buffer over caller-provided memory (layer src/ring,
 * just above the wire formats and below everything that moves channel data).
 * One ring is a 4 KiB control page followed by a data area; a channel has two
 * rings in one region, the guest's send ring first. This header gives the
 * byte layout of the control page and of packets, one endpoint's view of a
 * ring (writer, reader, or read-only inspector), packet writers that gather
 * from caller buffers, a hardened reader that copies every packet into
 * caller memory before parsing it, and the signalling decisions (signal the
 * peer or not) that the Linux guest makes, returned as booleans so that the
 * caller signals, batches or records them. Nothing here blocks, allocates,
 * or signals anyone.
 *
 * Trust: the peer endpoint is hostile. Every index and byte read from the
 * shared ring is copied, validated, then used; any violation puts the ring
 * into the terminal CORRUPT state with a reason (cvmbus_ring_fault_get()).
 *
 * Errors are negative errno values:
 *   -EINVAL   bad argument, or an operation the endpoint's role does not allow
 *   -EAGAIN   write: not enough free space now (*needed says how much);
 *             read: the ring is empty
 *   -EMSGSIZE the packet can never fit in this ring (or in len8)
 *   -ENOBUFS  read: the caller's buffer is smaller than the packet
 *             (pkt->len says how much is needed; nothing was consumed)
 *   -ENOENT   iterator: no more packets
 *   -EPROTO   the ring is CORRUPT (the peer broke the protocol); terminal:
 *             every later call on this endpoint returns -EPROTO too
 *   -ENOMEM, -errno from mmap/ftruncate: mapping helpers only
 *
 * Concurrency: one thread at a time per endpoint object. The writer and the
 * reader of one ring are separate objects and may run on different threads
 * or in different processes. See docs/RING.md.
 */
#ifndef CVMBUS_RING_H
#define CVMBUS_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- Sizes ------------------------------------------------------------ */

#define CVMBUS_RING_PAGE_SIZE    4096u /* Hyper-V page, whatever the host's */
#define CVMBUS_RING_CONTROL_SIZE 4096u /* the control page; data follows */
#define CVMBUS_RING_DESC_SIZE    16u   /* struct cvmbus_ring_desc */
#define CVMBUS_RING_TRAILER_SIZE 8u    /* (u64)start offset << 32 after each packet */
/* The smallest packet that can be in a ring: a bare descriptor plus trailer. */
#define CVMBUS_RING_MIN_PACKET   (CVMBUS_RING_DESC_SIZE + CVMBUS_RING_TRAILER_SIZE)
/* len8 is a u16 counting 8-byte units: the largest packet body. */
#define CVMBUS_RING_MAX_PACKET_LEN (0xffffu * 8u)
/* Data areas are whole pages, at most 1 GiB: indices stay far from u32 wrap
 * and differences of two indices always fit in an int64_t. */
#define CVMBUS_RING_MAX_DATA_SIZE (1u << 30)
#define CVMBUS_RING_CACHELINE    64u

/* ---- The control page (struct hv_ring_buffer in Linux, VMRCB in Windows) */

/* feature_bits: the writer supports pending_send_sz (signal me when free
 * space reaches pending_send_sz). Set by the writer on its own ring. */
#define CVMBUS_RING_FEATURE_PENDING_SEND_SZ 0x1u

/* Every word the peer may touch is _Atomic so that both endpoints access it
 * with C11 atomics; the reserved bytes are never read or written after
 * CVMBUS_RING_FORMAT. Offsets are the ABI and are pinned below. */
struct cvmbus_ring_control {
	_Atomic uint32_t write_index;     /* @0: byte offset into data, writer-owned */
	_Atomic uint32_t read_index;      /* @4: byte offset into data, reader-owned */
	_Atomic uint32_t interrupt_mask;  /* @8: reader: 1 = do not signal me */
	_Atomic uint32_t pending_send_sz; /* @12: writer: signal me at this much free */
	uint32_t reserved1[12];           /* @16 */
	_Atomic uint32_t feature_bits;    /* @64: writer's CVMBUS_RING_FEATURE_* */
	uint8_t reserved2[CVMBUS_RING_CONTROL_SIZE - 68];
};

_Static_assert(sizeof(_Atomic uint32_t) == 4, "atomic u32 must be a plain u32 in memory");
_Static_assert(offsetof(struct cvmbus_ring_control, write_index) == 0, "write_index");
_Static_assert(offsetof(struct cvmbus_ring_control, read_index) == 4, "read_index");
_Static_assert(offsetof(struct cvmbus_ring_control, interrupt_mask) == 8, "interrupt_mask");
_Static_assert(offsetof(struct cvmbus_ring_control, pending_send_sz) == 12, "pending_send_sz");
_Static_assert(offsetof(struct cvmbus_ring_control, reserved1) == 16, "reserved1");
_Static_assert(offsetof(struct cvmbus_ring_control, feature_bits) == 64, "feature_bits");
_Static_assert(sizeof(struct cvmbus_ring_control) == CVMBUS_RING_CONTROL_SIZE, "control page");

/* Plain values of the control words, as read once each (for dumps). */
struct cvmbus_ring_control_values {
	uint32_t write_index;
	uint32_t read_index;
	uint32_t interrupt_mask;
	uint32_t pending_send_sz;
	uint32_t feature_bits;
};

/* ---- Packets (struct vmpacket_descriptor and friends) ----------------- */

/* Packet types this ring writes and accepts (VM_PKT_* in Linux). Others exist
 * in the protocol's history but no current peer sends them on a channel; the
 * reader refuses them. */
enum cvmbus_ring_pkt_type {
	CVMBUS_RING_PKT_INBAND = 0x6,     /* VM_PKT_DATA_INBAND */
	CVMBUS_RING_PKT_XFER_PAGES = 0x7, /* VM_PKT_DATA_USING_XFER_PAGES */
	CVMBUS_RING_PKT_GPA_DIRECT = 0x9, /* VM_PKT_DATA_USING_GPA_DIRECT */
	CVMBUS_RING_PKT_COMPLETION = 0xb, /* VM_PKT_COMP */
};

#define CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED 0x1u /* the only defined flag */

/* Every packet starts with this; the body is len8 * 8 bytes in all
 * (descriptor, type header, payload, padding), the payload starts at
 * offset8 * 8, and the 8-byte trailer follows the body. */
struct cvmbus_ring_desc {
	uint16_t type;     /* @0: enum cvmbus_ring_pkt_type */
	uint16_t offset8;  /* @2: payload offset / 8, >= 2 */
	uint16_t len8;     /* @4: body length / 8, >= offset8 */
	uint16_t flags;    /* @6: CVMBUS_RING_PKT_FLAG_* */
	uint64_t trans_id; /* @8: echoed in the completion */
};
_Static_assert(sizeof(struct cvmbus_ring_desc) == CVMBUS_RING_DESC_SIZE, "desc");
_Static_assert(offsetof(struct cvmbus_ring_desc, offset8) == 2, "offset8");
_Static_assert(offsetof(struct cvmbus_ring_desc, len8) == 4, "len8");
_Static_assert(offsetof(struct cvmbus_ring_desc, flags) == 6, "flags");
_Static_assert(offsetof(struct cvmbus_ring_desc, trans_id) == 8, "trans_id");

/* GPA direct: after the descriptor, this header, then range_count ranges,
 * each {byte_count, byte_offset} followed by as many u64 PFNs as the range
 * spans pages: ceil((byte_offset + byte_count) / 4096). */
struct cvmbus_ring_gpa_direct_header {
	uint32_t reserved;    /* @16 in the packet: peers leave garbage here */
	uint32_t range_count; /* @20 */
};
struct cvmbus_ring_gpa_range_header {
	uint32_t byte_count;  /* > 0 */
	uint32_t byte_offset; /* < 4096: offset into the first page */
};
_Static_assert(sizeof(struct cvmbus_ring_gpa_direct_header) == 8, "gpa direct header");
_Static_assert(offsetof(struct cvmbus_ring_gpa_direct_header, range_count) == 4, "range_count");
_Static_assert(sizeof(struct cvmbus_ring_gpa_range_header) == 8, "gpa range header");
_Static_assert(offsetof(struct cvmbus_ring_gpa_range_header, byte_offset) == 4, "byte_offset");

/* Transfer pages: after the descriptor, this header, then range_count
 * ranges of {byte_count, byte_offset} into the transfer page set. */
struct cvmbus_ring_xfer_header {
	uint16_t set_id;      /* @16 in the packet */
	uint16_t reserved;    /* @18 */
	uint32_t range_count; /* @20 */
};
struct cvmbus_ring_xfer_range {
	uint32_t byte_count;
	uint32_t byte_offset;
};
_Static_assert(sizeof(struct cvmbus_ring_xfer_header) == 8, "xfer header");
_Static_assert(offsetof(struct cvmbus_ring_xfer_header, reserved) == 2, "xfer reserved");
_Static_assert(offsetof(struct cvmbus_ring_xfer_header, range_count) == 4, "xfer range_count");
_Static_assert(sizeof(struct cvmbus_ring_xfer_range) == 8, "xfer range");
_Static_assert(offsetof(struct cvmbus_ring_xfer_range, byte_offset) == 4, "xfer byte_offset");

/* ---- Faults: why a ring became CORRUPT -------------------------------- */

enum cvmbus_ring_fault {
	CVMBUS_RING_FAULT_NONE = 0,
	CVMBUS_RING_FAULT_WRITE_INDEX_RANGE, /* write index >= data size */
	CVMBUS_RING_FAULT_WRITE_INDEX_ALIGN, /* write index not 8-aligned */
	CVMBUS_RING_FAULT_READ_INDEX_RANGE,  /* read index >= data size */
	CVMBUS_RING_FAULT_READ_INDEX_ALIGN,  /* read index not 8-aligned */
	CVMBUS_RING_FAULT_SHORT_DATA,        /* 0 < readable < one minimal packet */
	CVMBUS_RING_FAULT_OFFSET8,           /* offset8 < 2 */
	CVMBUS_RING_FAULT_LEN8,              /* len8 < offset8 */
	CVMBUS_RING_FAULT_TOO_BIG,           /* packet cannot fit in the ring at all */
	CVMBUS_RING_FAULT_TRUNCATED,         /* packet longer than the readable bytes */
	CVMBUS_RING_FAULT_TYPE,              /* unknown packet type */
	CVMBUS_RING_FAULT_FLAGS,             /* unknown packet flags */
	CVMBUS_RING_FAULT_GPA_HEADER,        /* GPA direct header past offset8 */
	CVMBUS_RING_FAULT_GPA_RANGE_COUNT,   /* GPA direct range_count == 0 */
	CVMBUS_RING_FAULT_GPA_RANGES,        /* GPA ranges overflow the header */
	CVMBUS_RING_FAULT_GPA_RANGE_EMPTY,   /* a GPA range with byte_count 0 */
	CVMBUS_RING_FAULT_GPA_RANGE_OFFSET,  /* a GPA range with byte_offset >= 4096 */
	CVMBUS_RING_FAULT_XFER_HEADER,       /* transfer page header past offset8 */
	CVMBUS_RING_FAULT_XFER_RANGE_COUNT,  /* transfer page range_count == 0 */
	CVMBUS_RING_FAULT_XFER_RANGES,       /* transfer ranges overflow the header */
	CVMBUS_RING_FAULT_COUNT_
};

struct cvmbus_ring_fault_info {
	enum cvmbus_ring_fault fault;
	uint32_t value;       /* the offending value (index, type, len8 ...) */
	uint32_t ring_offset; /* where in the data area the bad packet starts */
};

/* A short lowercase sentence for a fault; never NULL. */
const char *cvmbus_ring_fault_str(enum cvmbus_ring_fault fault);

/* ---- One endpoint's view of one ring ---------------------------------- */

enum cvmbus_ring_role {
	CVMBUS_RING_WRITER = 1, /* produces packets, owns write_index, pending_send_sz, feature_bits */
	CVMBUS_RING_READER,     /* consumes packets, owns read_index and interrupt_mask */
	CVMBUS_RING_INSPECT,    /* reads a ring image, writes nothing (memory may be read-only) */
};

enum cvmbus_ring_init_mode {
	/* Zero the control page, then set this role's fields: the endpoint that
	 * allocates the ring memory does this once, before the peer attaches. */
	CVMBUS_RING_FORMAT = 1,
	/* Take the control page as it is, validate both indices and continue
	 * from them; a WRITER sets feature_bits and clears pending_send_sz, a
	 * READER clears interrupt_mask, an INSPECT endpoint writes nothing. */
	CVMBUS_RING_ATTACH,
};

enum cvmbus_ring_state {
	CVMBUS_RING_STATE_UNINIT = 0,
	CVMBUS_RING_STATE_READY,
	CVMBUS_RING_STATE_CORRUPT, /* terminal */
};

/* The memory of one ring. data_size is the data area only (ring size minus
 * the control page). With double_mapped, data[data_size .. 2*data_size)
 * must alias data[0 .. data_size) (see cvmbus_ring_map_fd()); the ring then
 * copies every packet in one piece. It is never guessed: it is what the
 * caller says here. */
struct cvmbus_ring_mem {
	void *control;      /* 4096 bytes, 8-aligned */
	void *data;         /* data_size bytes (twice if double_mapped), 8-aligned */
	uint32_t data_size; /* multiple of 4096, 4096 .. CVMBUS_RING_MAX_DATA_SIZE */
	bool double_mapped;
};

/* Test-only hook: called after a packet has been copied out of the ring
 * and before it is parsed, so a test can play a peer that rewrites shared
 * bytes at the worst moment (double-fetch). */
enum cvmbus_ring_hook_point {
	CVMBUS_RING_HOOK_DESC_COPIED = 1, /* the 16-byte descriptor is in private memory */
	CVMBUS_RING_HOOK_PACKET_COPIED,   /* the whole packet is in private memory */
};
typedef void cvmbus_ring_hook_fn(void *arg, enum cvmbus_ring_hook_point at,
				 uint32_t ring_offset);

/* One endpoint of one ring. Treat the fields as private: use the functions.
 * The read-mostly description of the ring (view) fills the first 64 bytes
 * and this endpoint's mutable state (local) the next 64, by explicit
 * padding rather than alignas, so that callers may calloc() structures that
 * embed rings. Two endpoint objects side by side (the writer and the reader
 * of one ring on two threads, or the out and in rings of a channel) keep
 * their local states 128 bytes apart, hence on different cache lines
 * whatever the base alignment; producer and consumer never false-share. */
struct cvmbus_ring_view {
	struct cvmbus_ring_control *ctl;
	uint8_t *data;
	uint32_t size;
	enum cvmbus_ring_role role;
	bool double_mapped;
	cvmbus_ring_hook_fn *hook;
	void *hook_arg;
};
struct cvmbus_ring_local {
	enum cvmbus_ring_state state;
	struct cvmbus_ring_fault_info fault;
	uint32_t index;      /* WRITER: next write offset; READER: private read offset */
	uint32_t published;  /* READER: the read_index last stored to shared memory */
	uint32_t peer_index; /* the peer's index as last loaded and validated */
};
struct cvmbus_ring {
	struct cvmbus_ring_view view;   /* set by init, then only read */
	uint8_t pad_view_[CVMBUS_RING_CACHELINE - sizeof(struct cvmbus_ring_view)];
	struct cvmbus_ring_local local; /* this endpoint's own mutable state */
	uint8_t pad_local_[CVMBUS_RING_CACHELINE - sizeof(struct cvmbus_ring_local)];
};
_Static_assert(sizeof(struct cvmbus_ring_view) <= CVMBUS_RING_CACHELINE, "view fits a line");
_Static_assert(sizeof(struct cvmbus_ring_local) <= CVMBUS_RING_CACHELINE, "local fits a line");
_Static_assert(offsetof(struct cvmbus_ring, local) == CVMBUS_RING_CACHELINE,
	       "local state starts one cache line in");
_Static_assert(sizeof(struct cvmbus_ring) == 2 * CVMBUS_RING_CACHELINE,
	       "two lines per endpoint keep neighbours' local states apart");

/* Set up an endpoint over mem (which the caller keeps mapped for the
 * endpoint's lifetime). Returns 0, -EINVAL (bad arguments: sizes, alignment,
 * FORMAT with INSPECT) or -EPROTO (ATTACH found a bad index: the endpoint is
 * initialised but CORRUPT and cvmbus_ring_fault_get() says why). */
int cvmbus_ring_init(struct cvmbus_ring *r, enum cvmbus_ring_role role,
		     enum cvmbus_ring_init_mode mode, const struct cvmbus_ring_mem *mem);

enum cvmbus_ring_state cvmbus_ring_state(const struct cvmbus_ring *r);
/* The fault that made the ring CORRUPT (fault NONE while it is not). */
void cvmbus_ring_fault_get(const struct cvmbus_ring *r, struct cvmbus_ring_fault_info *info);
uint32_t cvmbus_ring_data_size(const struct cvmbus_ring *r);
bool cvmbus_ring_is_double_mapped(const struct cvmbus_ring *r);
/* Each control word loaded once, for display; never validated, never used
 * for a decision. */
void cvmbus_ring_control_snapshot(const struct cvmbus_ring *r,
				  struct cvmbus_ring_control_values *v);
void cvmbus_ring_set_test_hook(struct cvmbus_ring *r, cvmbus_ring_hook_fn *fn, void *arg);

/* ---- Writing ---------------------------------------------------------- */

struct cvmbus_ring_iov {
	const void *base;
	size_t len;
};

/* A GPA range to send: pfn_count must equal the pages the range spans,
 * ceil((byte_offset + byte_count) / 4096). */
struct cvmbus_ring_gpa_range {
	uint32_t byte_count;  /* > 0 */
	uint32_t byte_offset; /* < 4096 */
	const uint64_t *pfns;
	uint32_t pfn_count;
};

/* A packet to send. The ring builds the descriptor (offset8 after the type
 * header, len8 from the padded total) and the type header, then gathers
 * the payload from the caller's buffers straight into the ring. */
struct cvmbus_ring_outpkt {
	enum cvmbus_ring_pkt_type type;
	uint16_t flags;     /* CVMBUS_RING_PKT_FLAG_* */
	uint64_t trans_id;
	/* CVMBUS_RING_PKT_GPA_DIRECT: at least one range. */
	const struct cvmbus_ring_gpa_range *gpa;
	uint32_t gpa_count;
	/* CVMBUS_RING_PKT_XFER_PAGES: at least one range. */
	uint16_t xfer_set_id;
	const struct cvmbus_ring_xfer_range *xfer;
	uint32_t xfer_count;
	/* The payload, any length (the ring pads it to 8 with zeros). */
	const struct cvmbus_ring_iov *payload;
	size_t payload_count;
};

/* Write one packet, never blocking. On success *signal says whether the
 * reader must be signalled (the Linux rule: interrupt_mask was 0 and the
 * ring was empty before this packet, both read after a full barrier); OR it
 * across a batch and signal once. On -EAGAIN *needed is the ring space the
 * packet takes (body + trailer): retry when more than that is free, or set
 * it as pending_send_sz and wait. signal and needed may be NULL.
 * Returns 0, -EAGAIN, -EMSGSIZE, -EINVAL, -EPROTO (if the read index loaded
 * for the signalling decision is bad the packet is already published, the
 * ring is nevertheless CORRUPT from then on). */
int cvmbus_ring_send(struct cvmbus_ring *r, const struct cvmbus_ring_outpkt *pkt,
		     bool *signal, uint32_t *needed);

/* The common case: one in-band packet from one buffer. */
int cvmbus_ring_send_inband(struct cvmbus_ring *r, uint16_t flags, uint64_t trans_id,
			    const void *data, size_t len, bool *signal, uint32_t *needed);

/* Write a packet the caller framed itself (descriptor first, in iov[0..]).
 * round_up(total, 8) must equal len8 * 8, and the descriptor must pass the
 * reader's checks; the ring adds padding and the trailer. For peers that
 * build packets their own way (interop tests, relays). Same results as
 * cvmbus_ring_send(). */
int cvmbus_ring_write(struct cvmbus_ring *r, const struct cvmbus_ring_iov *iov,
		      size_t iovcnt, bool *signal, uint32_t *needed);

/* A writer that got -EAGAIN asks to be signalled when more than `bytes` is
 * free (rounded up to 8; 0 clears the request). After a full barrier it
 * looks at the read index again: *ready = true means enough space is
 * already free, so retry now instead of waiting. -EINVAL if bytes > data
 * size - 8 (such a packet never fits). Clear it (bytes = 0) once the write
 * went through. */
int cvmbus_ring_set_pending_send(struct cvmbus_ring *r, uint32_t bytes, bool *ready);

/* Free bytes in the ring now; a packet taking `needed` fits iff free > needed. */
int cvmbus_ring_writable(struct cvmbus_ring *r, uint32_t *free_bytes);

/* ---- Reading ---------------------------------------------------------- */

/* A packet as copied into the caller's buffer. Every pointer points into
 * that private copy; nothing here refers to shared memory. */
struct cvmbus_ring_packet {
	uint16_t type;
	uint16_t flags;
	uint64_t trans_id;
	uint32_t ring_offset; /* where the descriptor starts in the data area */
	uint32_t len;         /* len8 * 8: bytes copied into the buffer */
	uint32_t total;       /* len + trailer: ring space the packet occupies */
	uint64_t trailer;     /* as found in the ring; informational only */
	const uint8_t *bytes; /* the copy, len bytes, descriptor first */
	const uint8_t *header;   /* type header: bytes + 16 */
	uint32_t header_len;     /* offset8 * 8 - 16 */
	const uint8_t *payload;  /* bytes + offset8 * 8 */
	uint32_t payload_len;    /* (len8 - offset8) * 8, the sender's padding included */
	/* GPA direct and transfer pages: the validated ranges in the copy. */
	uint32_t range_count;
	uint16_t xfer_set_id;
	const uint8_t *ranges;
	uint32_t ranges_len;
};

/* Copy the next packet into buf (any alignment, at least the packet's
 * len8 * 8 bytes), validate it, and advance this endpoint's private read
 * position. Does not publish read_index: call cvmbus_ring_commit() after one packet or
 * a batch. Returns 0, -EAGAIN (empty), -ENOBUFS (pkt->len and pkt->total
 * say what is needed; nothing consumed), -EINVAL, -EPROTO. */
int cvmbus_ring_recv(struct cvmbus_ring *r, void *buf, size_t buflen,
		     struct cvmbus_ring_packet *pkt);

/* Publish the private read position as read_index, then decide as Linux's
 * hv_pkt_iter_close does whether the writer waits for this space: signal
 * iff the writer set CVMBUS_RING_FEATURE_PENDING_SEND_SZ, pending_send_sz is
 * non-zero, free space before these reads was <= pending_send_sz and is now
 * > pending_send_sz. Returns 0 or -EPROTO. */
int cvmbus_ring_commit(struct cvmbus_ring *r, bool *signal);

/* recv + commit: the non-blocking "try read" of one packet. */
int cvmbus_ring_read(struct cvmbus_ring *r, void *buf, size_t buflen,
		     struct cvmbus_ring_packet *pkt, bool *signal);

/* Batched reading: begin sets interrupt_mask = 1 (the writer stops
 * signalling); drain with recv/read; end clears it, issues a full barrier
 * and returns in *readable the bytes that arrived meanwhile: if non-zero,
 * drain again instead of waiting, or a wakeup is lost. A reader that sleeps
 * must pass through end_read (or begin/end) before it sleeps. */
int cvmbus_ring_begin_read(struct cvmbus_ring *r);
int cvmbus_ring_end_read(struct cvmbus_ring *r, uint32_t *readable);

/* Bytes readable after the private read position (write index loaded once). */
int cvmbus_ring_readable(struct cvmbus_ring *r, uint32_t *bytes);

/* Peek iterator: walks the packets from the read position (INSPECT: the
 * read_index in the image; READER: the private read position) up to the
 * write index loaded once by begin, without consuming anything. Each packet
 * is copied and validated as by cvmbus_ring_recv(). next returns 0, -ENOENT
 * at the end, -ENOBUFS, -EPROTO (the ring is then CORRUPT, with the fault of
 * the packet that broke it). */
struct cvmbus_ring_iter {
	uint32_t pos;
	uint32_t end;
};
int cvmbus_ring_iter_begin(struct cvmbus_ring *r, struct cvmbus_ring_iter *it);
int cvmbus_ring_iter_next(struct cvmbus_ring *r, struct cvmbus_ring_iter *it, void *buf,
			  size_t buflen, struct cvmbus_ring_packet *pkt);

/* GPA ranges of a received GPA-direct packet, in order: *cursor starts at
 * 0; returns 1 with *out filled, 0 after the last range. pfns of the view
 * are read with cvmbus_ring_gpa_view_pfn() (the copy may be unaligned). */
struct cvmbus_ring_gpa_view {
	uint32_t byte_count;
	uint32_t byte_offset;
	uint32_t pfn_count;
	const uint8_t *pfn_bytes;
};
int cvmbus_ring_packet_gpa_range(const struct cvmbus_ring_packet *pkt, uint32_t *cursor,
				 struct cvmbus_ring_gpa_view *out);
uint64_t cvmbus_ring_gpa_view_pfn(const struct cvmbus_ring_gpa_view *v, uint32_t i);
/* Transfer-page range i (< pkt->range_count) of a received packet. */
int cvmbus_ring_packet_xfer_range(const struct cvmbus_ring_packet *pkt, uint32_t i,
				  struct cvmbus_ring_xfer_range *out);

/* ---- Channels: two rings in one region -------------------------------- */

/* A channel's ring region (one GPADL in VMBus) holds the upstream ring
 * (guest sends, host receives) at page 0 and the downstream ring (host
 * sends, guest receives) at downstream_page_offset, the value OpenChannel
 * carries. Each ring needs its control page and at least one data page. */
int cvmbus_ring_split(void *region, size_t region_len, uint32_t downstream_page_offset,
		      struct cvmbus_ring_mem *upstream, struct cvmbus_ring_mem *downstream);

enum cvmbus_ring_endpoint {
	CVMBUS_RING_ENDPOINT_GUEST = 1, /* writes upstream, reads downstream */
	CVMBUS_RING_ENDPOINT_HOST,      /* writes downstream, reads upstream */
};

/* out: the ring this endpoint writes; in: the ring it reads. */
struct cvmbus_ring_channel {
	struct cvmbus_ring out;
	struct cvmbus_ring in;
};

/* Init both endpoint objects of one side of a channel. With FORMAT both
 * control pages are zeroed first (the side that owns the memory, normally
 * the guest, does this once). Returns as cvmbus_ring_init(). */
int cvmbus_ring_channel_init(struct cvmbus_ring_channel *ch, enum cvmbus_ring_endpoint ep,
			     enum cvmbus_ring_init_mode mode,
			     const struct cvmbus_ring_mem *upstream,
			     const struct cvmbus_ring_mem *downstream);

/* ---- Mapping a ring from a file descriptor ---------------------------- */

#define CVMBUS_RING_MAP_DOUBLE   0x1u /* map the data pages twice, back to back */
#define CVMBUS_RING_MAP_READONLY 0x2u /* PROT_READ only (for INSPECT) */

/* One ring mapped from fd at offset (page-aligned); ring_len includes the
 * control page. With CVMBUS_RING_MAP_DOUBLE the address space is reserved
 * first and the data pages are mapped a second time right after the first
 * mapping with MAP_FIXED, so mem.double_mapped is true and copies never
 * wrap. Needs a 4 KiB host page size for the double mapping (-EINVAL
 * otherwise). Returns 0 or negative errno; unmap with cvmbus_ring_unmap(). */
struct cvmbus_ring_map {
	void *base;
	size_t len;
	struct cvmbus_ring_mem mem;
};
int cvmbus_ring_map_fd(struct cvmbus_ring_map *m, int fd, off_t offset, size_t ring_len,
		       unsigned flags);
void cvmbus_ring_unmap(struct cvmbus_ring_map *m);

/* Both rings of a channel region [offset, offset + region_len) of fd. */
struct cvmbus_ring_channel_map {
	struct cvmbus_ring_map upstream;
	struct cvmbus_ring_map downstream;
};
int cvmbus_ring_channel_map_fd(struct cvmbus_ring_channel_map *m, int fd, off_t offset,
			       size_t region_len, uint32_t downstream_page_offset,
			       unsigned flags);
void cvmbus_ring_channel_unmap(struct cvmbus_ring_channel_map *m);

#endif
