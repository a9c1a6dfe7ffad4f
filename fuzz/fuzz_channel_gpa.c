/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the data-plane set-up a server's glue and a guest do
 * with numbers the peer chose (layers src/ring and src/channel): splitting
 * a channel's ring GPADL at the OpenChannel's downstream page offset
 * (cvmbus_ring_split), attaching or formatting both rings over hostile
 * control pages (cvmbus_channel_init -> cvmbus_ring_channel_init), receiving
 * the peer's packets (cvmbus_channel_recv), and walking the GPA ranges of
 * a GPA-direct packet into external memory (cvmbus_ring_packet_gpa_range,
 * cvmbus_channel_gpa_read/write), as storvsp and netvsp do with a guest's
 * data buffers. The region is an exact-size heap block, so one byte outside
 * it is an ASan report.
 *
 * Input:
 *   byte 0   region pages: 2 + byte % 31;
 *   u32      the downstream page offset, raw;
 *   byte     bit 0 host endpoint (else guest), bit 1 ATTACH (else FORMAT),
 *            bit 2 region misaligned by 4 bytes, bit 3 region length not a
 *            page multiple (8 bytes short), bit 4 external memory fails
 *            after the first chunk of each walk;
 *   72 bytes the head of the upstream control page (write_index @0,
 *            read_index @4, interrupt_mask @8, pending_send_sz @12,
 *            feature_bits @64), 72 bytes the downstream one; with FORMAT
 *            the inbound ring's write_index is stored again after the
 *            format (the peer writes after we formatted);
 *   u16 n, n bytes  the peer's packets, at the start of the inbound data;
 *   byte k, then k walks of {u32 offset, u16 length, byte bit 0 write}.
 *
 * Checked: the split succeeds exactly when an independent model says
 * (whole pages, both rings at least a control and a data page and at most
 * 1 GiB of data, 8-byte alignment), writes nothing, and on success lays the
 * rings out back to back inside the region; init succeeds with FORMAT, and
 * with ATTACH fails with -EPROTO exactly when an index is out of range or
 * unaligned; every received packet lies in the private buffer; each GPA
 * range of a packet is walked page by page exactly as the range describes
 * (every access is at pfn[i] * 4096 + in-page offset for the page the
 * byte falls in, never crossing a page, never past byte_count), a walk
 * past byte_count is refused before any access, and a failing access ends
 * the walk with its error; a hold of a range's first bytes (storvsp's
 * direct READ) is granted exactly when they are one run of consecutive
 * PFNs, at the right address, and released once.
 */
#include <errno.h>

#include <cvmbus/channel.h>
#include <cvmbus/exec.h>

#include "fuzz_util.h"

#define FZ_PAGE CVMBUS_RING_PAGE_SIZE
#define FZ_HEAD 72u
#define FZ_MAX_PACKETS 4u
#define FZ_MAX_RANGES 8u
#define FZ_MAX_WALKS 8u

struct fz_walk {
	uint32_t offset;
	uint16_t len;
	bool write;
};

/* One walk in progress: what the next external access must be. */
struct fz_gpa {
	const struct cvmbus_ring_gpa_view *view;
	uint64_t pos;  /* byte position in the range (byte_offset included) */
	uint64_t end;  /* byte_offset + byte_count */
	size_t got;
	unsigned calls;
	bool active;
	bool fail_after_first;
	unsigned signals;
	/* A hold in progress: what the channel asked for. */
	uint64_t hold_gpa;
	size_t hold_len;
	unsigned holds, releases;
};

static uint32_t fz_le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t fz_view_pfn(const struct cvmbus_ring_gpa_view *v, uint64_t i)
{
	uint64_t pfn = 0;

	for (unsigned b = 0; b < 8; b++)
		pfn |= (uint64_t)v->pfn_bytes[i * 8u + b] << (8u * b);
	return pfn;
}

/* The access the walk must make next: inside the range, within one page,
 * at that page's PFN. */
static int fz_access(struct fz_gpa *g, uint64_t gpa, size_t len)
{
	uint64_t page = g->pos / FZ_PAGE, in_page = g->pos % FZ_PAGE;

	FZ_CHECK(g->active);
	FZ_CHECK(len > 0 && len <= FZ_PAGE - in_page);
	FZ_CHECK(g->pos + len <= g->end);
	FZ_CHECK(page < g->view->pfn_count);
	FZ_CHECK(gpa == fz_view_pfn(g->view, page) * FZ_PAGE + in_page);
	g->calls++;
	if (g->fail_after_first && g->calls > 1)
		return -EFAULT;
	g->pos += len;
	g->got += len;
	return 0;
}

static int fz_mem_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	struct fz_gpa *g = ctx;
	int rc = fz_access(g, gpa, len);

	if (rc == 0)
		memset(dst, 0xA5, len); /* the whole chunk: ASan checks dst */
	return rc;
}

static int fz_mem_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct fz_gpa *g = ctx;
	const uint8_t *s = src;
	int rc = fz_access(g, gpa, len);

	/* Reads the whole chunk of the caller's buffer. */
	if (rc == 0)
		FZ_CHECK(s[0] == 0x3C && s[len - 1] == 0x3C);
	return rc;
}

static uint8_t fz_held[8];

static int fz_mem_hold(void *ctx, uint64_t gpa, size_t len, void **ptr)
{
	struct fz_gpa *g = ctx;

	g->hold_gpa = gpa;
	g->hold_len = len;
	g->holds++;
	*ptr = fz_held;
	return 0;
}

static void fz_mem_release(void *ctx, uint64_t gpa, size_t len)
{
	struct fz_gpa *g = ctx;

	/* Only what was held, once. */
	FZ_CHECK(g->holds == g->releases + 1);
	FZ_CHECK(gpa == g->hold_gpa && len == g->hold_len);
	g->releases++;
}

static void fz_signal(void *ctx)
{
	((struct fz_gpa *)ctx)->signals++;
}

static const struct cvmbus_channel_ops fz_ops = {
	.signal = fz_signal,
	.mem_read = fz_mem_read,
	.mem_write = fz_mem_write,
	.mem_hold = fz_mem_hold,
	.mem_release = fz_mem_release,
};

/* ---- The split --------------------------------------------------------------- */

static bool fz_ring_len_ok(uint64_t len)
{
	return len >= 2u * FZ_PAGE && len % FZ_PAGE == 0 && len - FZ_PAGE <= (1u << 30);
}

static bool fz_split_model(uintptr_t base, size_t len, uint32_t offset)
{
	uint64_t up = (uint64_t)offset * FZ_PAGE;

	if (base % 8u || len % FZ_PAGE || up >= len)
		return false;
	return fz_ring_len_ok(up) && fz_ring_len_ok(len - up);
}

static void fz_check_layout(uint8_t *base, size_t len, uint32_t offset,
			    const struct cvmbus_ring_mem *up, const struct cvmbus_ring_mem *down)
{
	size_t up_len = (size_t)offset * FZ_PAGE;

	FZ_CHECK((uint8_t *)up->control == base);
	FZ_CHECK((uint8_t *)up->data == base + FZ_PAGE);
	FZ_CHECK(up->data_size == up_len - FZ_PAGE && !up->double_mapped);
	FZ_CHECK((uint8_t *)down->control == base + up_len);
	FZ_CHECK((uint8_t *)down->data == base + up_len + FZ_PAGE);
	FZ_CHECK(down->data_size == len - up_len - FZ_PAGE && !down->double_mapped);
	/* Back to back, inside the region, nothing shared. */
	FZ_CHECK((uint8_t *)up->data + up->data_size == (uint8_t *)down->control);
	FZ_CHECK((uint8_t *)down->data + down->data_size == base + len);
}

static bool fz_index_ok(uint32_t idx, uint32_t size)
{
	return idx < size && idx % 8u == 0;
}

/* ---- GPA walks --------------------------------------------------------------- */

static void fz_walk_one(struct cvmbus_channel *ch, struct fz_gpa *g,
			const struct cvmbus_ring_gpa_view *v, const struct fz_walk *w)
{
	uint8_t *buf = malloc(w->len ? w->len : 1);
	bool fits = w->len <= v->byte_count && w->offset <= v->byte_count - w->len;
	int rc;

	FZ_CHECK(buf != NULL);
	memset(buf, 0x3C, w->len);
	g->view = v;
	g->pos = (uint64_t)v->byte_offset + w->offset;
	g->end = (uint64_t)v->byte_offset + v->byte_count;
	g->got = 0;
	g->calls = 0;
	g->active = true;
	if (w->write)
		rc = cvmbus_channel_gpa_write(ch, v, w->offset, buf, w->len);
	else
		rc = cvmbus_channel_gpa_read(ch, v, w->offset, buf, w->len);
	g->active = false;
	if (!fits) {
		/* Refused before touching anything. */
		FZ_CHECK(rc == -EINVAL && g->calls == 0);
	} else if (rc == 0) {
		FZ_CHECK(g->got == w->len);
		if (!w->write && w->len)
			FZ_CHECK(buf[0] == 0xA5 && buf[w->len - 1] == 0xA5);
	} else {
		/* A validated range has a PFN for every byte it covers, so the
		 * only way to fail is -EFAULT: our failing access, or a PFN
		 * whose address does not fit in 64 bits, where the walk stopped
		 * (g->pos advanced over every access that succeeded). */
		uint64_t page = g->pos / FZ_PAGE;

		FZ_CHECK(rc == -EFAULT);
		FZ_CHECK((g->fail_after_first && g->calls >= 2) ||
			 (page < v->pfn_count && fz_view_pfn(v, page) > (UINT64_MAX >> 12)));
	}
	free(buf);
}

/* A hold of the first len bytes: granted exactly when they lie in one
 * run of consecutive PFNs whose addresses fit in 64 bits, at the first
 * PFN's address plus byte_offset; refused otherwise without asking the
 * ops. The release hands back the same range. */
static void fz_hold_one(struct cvmbus_channel *ch, struct fz_gpa *g,
			const struct cvmbus_ring_gpa_view *v, size_t len)
{
	bool run = len > 0 && len <= v->byte_count;
	uint64_t last = 0, pfn0 = 0;
	unsigned before = g->holds;
	void *ptr = NULL;
	int rc;

	if (run) {
		last = ((uint64_t)v->byte_offset + len - 1) / FZ_PAGE;
		pfn0 = fz_view_pfn(v, 0);
		run = pfn0 <= (UINT64_MAX >> 12) - last;
		for (uint64_t i = 1; run && i <= last; i++)
			run = fz_view_pfn(v, i) == pfn0 + i;
	}
	rc = cvmbus_channel_gpa_hold(ch, v, len, &ptr);
	if (!len || len > v->byte_count) {
		FZ_CHECK(rc == -EINVAL && g->holds == before);
		return;
	}
	if (!run) {
		FZ_CHECK(rc == -EOPNOTSUPP && g->holds == before);
		return;
	}
	FZ_CHECK(rc == 0 && ptr == fz_held && g->holds == before + 1);
	FZ_CHECK(g->hold_gpa == pfn0 * FZ_PAGE + v->byte_offset && g->hold_len == len);
	cvmbus_channel_gpa_release(ch, v, len, 0);
	FZ_CHECK(g->releases == g->holds);
}

static void fz_packets(struct cvmbus_channel *ch, struct fz_gpa *g, const struct fz_walk *walks,
		       unsigned nwalks)
{
	for (unsigned n = 0; n < FZ_MAX_PACKETS; n++) {
		struct cvmbus_ring_packet pkt;
		uint32_t cursor = 0;
		int rc = cvmbus_channel_recv(ch, &pkt, 0);

		FZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EPROTO || rc == -EMSGSIZE ||
			 rc == -ESHUTDOWN);
		if (rc < 0)
			return;
		/* The packet is a private copy inside the channel's buffer. */
		FZ_CHECK(pkt.bytes == ch->rxbuf && pkt.len <= ch->rxbuf_len);
		FZ_CHECK(pkt.payload >= pkt.bytes && pkt.payload_len <= pkt.len &&
			 (size_t)(pkt.payload - pkt.bytes) + pkt.payload_len <= pkt.len);
		if (pkt.type != CVMBUS_RING_PKT_GPA_DIRECT)
			continue;
		FZ_CHECK(pkt.ranges >= pkt.bytes &&
			 (size_t)(pkt.ranges - pkt.bytes) + pkt.ranges_len <= pkt.len);
		for (unsigned r = 0; r < FZ_MAX_RANGES; r++) {
			struct cvmbus_ring_gpa_view v;

			rc = cvmbus_ring_packet_gpa_range(&pkt, &cursor, &v);
			FZ_CHECK(rc == 0 || rc == 1);
			if (rc == 0)
				break;
			/* A validated range: non-empty, starting in its first
			 * page, with exactly the PFNs it spans, in the copy. */
			FZ_CHECK(v.byte_count > 0 && v.byte_offset < FZ_PAGE);
			FZ_CHECK(v.pfn_count ==
				 ((uint64_t)v.byte_offset + v.byte_count + FZ_PAGE - 1) / FZ_PAGE);
			FZ_CHECK(v.pfn_bytes >= pkt.ranges &&
				 (size_t)(v.pfn_bytes - pkt.ranges) + 8u * (size_t)v.pfn_count <=
					 pkt.ranges_len);
			for (unsigned i = 0; i < nwalks; i++) {
				fz_walk_one(ch, g, &v, &walks[i]);
				fz_hold_one(ch, g, &v, walks[i].len);
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = fz_in_make(data, size);
	uint32_t npages = 2u + fz_u8(&in) % 31u;
	uint32_t offset = fz_u32(&in);
	uint8_t fl = fz_u8(&in);
	bool host = fl & 1u, attach = fl & 2u;
	uint8_t head_up[FZ_HEAD], head_down[FZ_HEAD];
	struct fz_walk walks[FZ_MAX_WALKS];
	struct cvmbus_ring_mem up, down, *inbound;
	struct cvmbus_channel_config cfg;
	struct cvmbus_channel ch;
	struct cvmbus_exec *exec = NULL;
	struct fz_gpa g;
	uint8_t *block, *region, *copy;
	size_t len = (size_t)npages * FZ_PAGE - ((fl & 8u) ? 8u : 0u);
	size_t misalign = (fl & 4u) ? 4u : 0u;
	unsigned nwalks;
	uint16_t plen;
	int rc, want;

	fz_take(&in, head_up, sizeof(head_up));
	fz_take(&in, head_down, sizeof(head_down));
	plen = fz_u16(&in);

	/* The region: exact size, page contents zero but for the heads. */
	block = malloc(len + misalign);
	copy = malloc(len);
	FZ_CHECK(block != NULL && copy != NULL);
	region = block + misalign;
	memset(region, 0, len);
	memcpy(region, head_up, sizeof(head_up));
	if ((uint64_t)offset * FZ_PAGE + FZ_HEAD <= len)
		memcpy(region + (size_t)offset * FZ_PAGE, head_down, sizeof(head_down));
	memcpy(copy, region, len);

	rc = cvmbus_ring_split(region, len, offset, &up, &down);
	want = fz_split_model((uintptr_t)region, len, offset) ? 0 : -EINVAL;
	FZ_CHECK(rc == want);
	FZ_CHECK(memcmp(copy, region, len) == 0);
	if (rc < 0)
		goto out;
	fz_check_layout(region, len, offset, &up, &down);

	/* The peer's packets at the start of the inbound ring's data. */
	inbound = host ? &up : &down;
	{
		size_t n = plen < inbound->data_size ? plen : inbound->data_size;

		fz_take(&in, inbound->data, n);
	}
	nwalks = fz_u8(&in) % (FZ_MAX_WALKS + 1u);
	for (unsigned i = 0; i < nwalks; i++) {
		walks[i].offset = fz_u32(&in);
		walks[i].len = fz_u16(&in);
		walks[i].write = fz_u8(&in) & 1u;
	}

	FZ_CHECK(cvmbus_exec_native_create(&exec) == 0);
	memset(&g, 0, sizeof(g));
	g.fail_after_first = (fl & 0x10u) != 0;
	memset(&cfg, 0, sizeof(cfg));
	cfg.exec = exec;
	cfg.endpoint = host ? CVMBUS_RING_ENDPOINT_HOST : CVMBUS_RING_ENDPOINT_GUEST;
	cfg.mode = attach ? CVMBUS_RING_ATTACH : CVMBUS_RING_FORMAT;
	cfg.upstream = up;
	cfg.downstream = down;
	cfg.ops = &fz_ops;
	cfg.ctx = &g;
	rc = cvmbus_channel_init(&ch, &cfg);
	if (!attach) {
		want = 0;
	} else {
		bool ok = fz_index_ok(fz_le32(head_up), up.data_size) &&
			  fz_index_ok(fz_le32(head_up + 4), up.data_size) &&
			  fz_index_ok(fz_le32(head_down), down.data_size) &&
			  fz_index_ok(fz_le32(head_down + 4), down.data_size);

		want = ok ? 0 : -EPROTO;
	}
	FZ_CHECK(rc == want);
	if (!attach) {
		/* Formatted: both rings empty. Then the peer publishes what it
		 * wrote into the inbound ring. */
		FZ_CHECK(fz_le32(up.control) == 0 && fz_le32((uint8_t *)up.control + 4) == 0);
		FZ_CHECK(fz_le32(down.control) == 0 && fz_le32((uint8_t *)down.control + 4) == 0);
		memcpy(inbound->control, host ? head_up : head_down, 4);
	}
	fz_packets(&ch, &g, walks, nwalks);
	/* And one packet the other way, over a read index the peer chose. */
	rc = cvmbus_channel_send_inband(&ch, 0, 7, walks, sizeof(walks[0]) * nwalks, 0);
	FZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EPROTO || rc == -ESHUTDOWN ||
		 rc == -EMSGSIZE);
	cvmbus_channel_destroy(&ch);
	cvmbus_exec_destroy(exec);
out:
	free(copy);
	free(block);
	return 0;
}
