/* SPDX-License-Identifier: MIT */
/*
 * End-to-end tests of the network devices (src/dev/netvsc.c against
 * src/dev/netvsp.c) over a loopback channel pair with real SNP partition
 * memory: the NVSP and RNDIS handshakes, the configured MAC / MTU / link
 * seen through RNDIS queries, 10,000 frames of random sizes each way at
 * the same time, compared byte for byte and in order, with far more frames
 * than receive sections (so sections are recycled); once with host-visible
 * buffers read by the host through its shared-only view (the exposure
 * account shows the GPADL pages, reason "gpadl"), once with private
 * buffers read by the device through the paravisor's view (nothing made
 * host-visible), once over GPA-direct packets. Then the hostile cases: a
 * guest and a host that send every malformed thing in the brief, each
 * refused and counted, and good frames still flow after them; and a ring
 * violation that ends the device's channel cleanly. Offloads: the
 * capability query and the parameters negotiated, a 3000-byte TCP segment
 * with LSOv2 info in a big send slot arriving whole with its GSO state, a
 * partial checksum carried as checksum info, one the driver completes
 * itself (not granted), the device's "checksum good" on receive, and the
 * device refusing info it did not grant (a raw SET turned LSO off behind
 * the driver's back; an injected packet with a hostile MSS), channel
 * intact after each.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cvmbus/channel.h>
#include <cvmbus/log.h>
#include <cvmbus/memory.h>
#include <cvmbus/net.h>

#include "tcp4_header.h"

#define SEC 1000000000ull
#define RECV_BUF (64u * 1024u)  /* 37 sections of 1728 */
#define SEND_BUF (128u * 1024u) /* 21 sections of 6144 */
#define RING (64u * 1024u)

static const uint8_t vsp_mac[6] = { 0x00, 0x15, 0x5d, 0x12, 0x34, 0x56 };
static const uint8_t frame60[60] = { 0x00, 0x15, 0x5d, 0x12, 0x34, 0x56, 1, 2, 3 };

/* ---- frames: a deterministic stream per direction ---------------------- */

struct stream {
	uint64_t seed;
	bool to_guest; /* frames carry the guest's MAC, or the filter drops them */
	_Atomic uint64_t received;
	_Atomic uint64_t bad;
	uint64_t bytes;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* Frame i of a stream: 60..1514 bytes, contents from the seed. */
static size_t make_frame(const struct stream *s, uint64_t i, uint8_t *f)
{
	uint64_t r = mix(s->seed ^ (i * 0x9e3779b97f4a7c15ull));
	size_t len = 60 + (size_t)(r % 1455);

	for (size_t j = 0; j < len; j += 8) {
		uint64_t w = mix(r + j);

		memcpy(f + j, &w, len - j < 8 ? len - j : 8);
	}
	if (s->to_guest)
		memcpy(f, vsp_mac, 6);
	/* The index in the frame too: a swap of two equal-length frames
	 * would otherwise compare equal by chance only. */
	memcpy(f + 6, &i, sizeof(i));
	return len;
}

static void stream_check(void *ctx, const void *frame, size_t len)
{
	struct stream *s = ctx;
	uint64_t i = atomic_load(&s->received);
	uint8_t want[1514];
	size_t n = make_frame(s, i, want);

	if (n != len || memcmp(want, frame, len) != 0)
		atomic_fetch_add(&s->bad, 1);
	s->bytes += len;
	atomic_fetch_add(&s->received, 1);
}

/* ---- the rig: partition, pair, VSP, VSC ------------------------------- */

struct rig {
	struct cvmbus_mem *mem;
	struct cvmbus_exec *exec;
	struct cvmbus_channel_pair pair;
	struct cvmbus_channel_ops guest_ops, host_ops;
	struct cvmbus_netvsp *vsp;
	struct cvmbus_netvsc *vsc;
	struct stream to_host, to_guest;
	_Atomic int link_events;
	bool private_bufs;
	/* Offload tests: the last frame each side handed on, with its state. */
	struct capture *cap_host, *cap_guest;
};

struct capture {
	_Atomic uint64_t n;
	struct cvmbus_net_offload off;
	size_t len;
	uint8_t frame[CVMBUS_NET_GSO_MAX_FRAME];
};

static void capture_frame(void *ctx, const struct cvmbus_net_offload *off, const void *frame,
			  size_t len)
{
	struct capture *c = ctx;

	c->off = *off;
	c->len = len;
	memcpy(c->frame, frame, len);
	atomic_fetch_add_explicit(&c->n, 1, memory_order_release);
}

static int guest_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	struct rig *r = ctx;

	return cvmbus_mem_read(r->mem, CVMBUS_MEM_VIEW_GUEST, gpa, dst, len);
}

static int guest_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct rig *r = ctx;

	return cvmbus_mem_write(r->mem, CVMBUS_MEM_VIEW_GUEST, gpa, src, len);
}

/* The host reaches guest memory only through its shared-only view, by the
 * shared alias of each GPA, as the untrusted host would. */
static int host_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	struct rig *r = ctx;

	return cvmbus_mem_host_read(cvmbus_mem_host(r->mem), cvmbus_mem_gpa_to_alias(r->mem, gpa),
				    dst, len);
}

static int host_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct rig *r = ctx;

	return cvmbus_mem_host_write(cvmbus_mem_host(r->mem),
				     cvmbus_mem_gpa_to_alias(r->mem, gpa), src, len);
}

/* A paravisor VSP reads the guest's private pages through its own view. */
static int pv_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	struct rig *r = ctx;

	return cvmbus_mem_read(r->mem, CVMBUS_MEM_VIEW_PARAVISOR, gpa, dst, len);
}

static int pv_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct rig *r = ctx;

	return cvmbus_mem_write(r->mem, CVMBUS_MEM_VIEW_PARAVISOR, gpa, src, len);
}

static void on_link(void *ctx, bool up)
{
	struct rig *r = ctx;

	(void)up;
	atomic_fetch_add(&r->link_events, 1);
}

struct rig_opts {
	bool private_bufs;
	bool gpa_direct;
	bool link_down;
	uint32_t mtu;
	uint32_t vsp_offloads, vsc_offloads; /* with captures instead of streams */
	uint32_t send_buf;                   /* 0: SEND_BUF */
	struct cvmbus_exec *exec; /* NULL: a native executor of the rig's own */
};

static void rig_up(struct rig *r, const struct rig_opts *o, bool connect)
{
	struct cvmbus_mem_config mc = {
		.isolation = HV_ISOLATION_TYPE_SNP,
		.vtl0_bytes = 8u << 20,
		.vtl2_bytes = 1u << 20,
	};
	struct cvmbus_channel_pair_config pc = {
		.upstream_bytes = RING,
		.downstream_bytes = RING,
	};
	struct cvmbus_netvsp_config vc = { .mtu = o->mtu, .link_down = o->link_down };
	struct cvmbus_netvsc_config cc = {
		.recv_buf_bytes = RECV_BUF,
		.send_buf_bytes = o->send_buf ? o->send_buf : SEND_BUF,
		.gpa_direct = o->gpa_direct,
	};
	static struct capture cap_host, cap_guest;

	memset(r, 0, sizeof(*r));
	r->private_bufs = o->private_bufs;
	r->to_host.seed = 0x1111;
	r->to_guest.seed = 0x2222;
	r->to_guest.to_guest = true;
	assert_int_equal(cvmbus_mem_create(&mc, &r->mem), 0);
	if (o->exec)
		r->exec = o->exec;
	else
		assert_int_equal(cvmbus_exec_native_create(&r->exec), 0);
	r->guest_ops = (struct cvmbus_channel_ops){ .mem_read = guest_read,
						    .mem_write = guest_write };
	if (o->private_bufs)
		r->host_ops = (struct cvmbus_channel_ops){ .mem_read = pv_read,
							   .mem_write = pv_write };
	else
		r->host_ops = (struct cvmbus_channel_ops){ .mem_read = host_read,
							   .mem_write = host_write };
	pc.exec = r->exec;
	pc.guest_mem_ops = &r->guest_ops;
	pc.guest_mem_ctx = r;
	pc.host_mem_ops = &r->host_ops;
	pc.host_mem_ctx = r;
	pc.mem = r->mem;
	pc.gpadl_private = o->private_bufs;
	assert_int_equal(cvmbus_channel_pair_create(&r->pair, &pc), 0);

	vc.ch = &r->pair.host;
	memcpy(vc.mac, vsp_mac, 6);
	vc.tx_frame = stream_check;
	vc.tx_ctx = &r->to_host;
	if (o->vsp_offloads) {
		memset(&cap_host, 0, sizeof(cap_host));
		r->cap_host = &cap_host;
		vc.offloads = o->vsp_offloads;
		vc.tx_frame_off = capture_frame;
		vc.tx_ctx = &cap_host;
	}
	assert_int_equal(cvmbus_netvsp_create(r->exec, &vc, &r->vsp), 0);
	if (connect && !o->exec)
		assert_int_equal(cvmbus_netvsp_start(r->vsp), 0);

	cc.ch = &r->pair.guest;
	cc.rx_frame = stream_check;
	cc.rx_ctx = &r->to_guest;
	cc.link_changed = on_link;
	cc.link_ctx = r;
	if (o->vsc_offloads) {
		memset(&cap_guest, 0, sizeof(cap_guest));
		r->cap_guest = &cap_guest;
		cc.offloads = o->vsc_offloads;
		if (o->vsp_offloads) {
			cc.rx_frame_off = capture_frame;
			cc.rx_ctx = &cap_guest;
		}
	}
	assert_int_equal(cvmbus_netvsc_create(r->exec, &cc, &r->vsc), 0);
	if (connect && !o->exec)
		assert_int_equal(cvmbus_netvsc_connect(r->vsc), 0);
}

static void rig_down(struct rig *r)
{
	/* The guest says goodbye and closes, the device goes away, and only
	 * then are the GPADLs torn down (the device no longer holds them). */
	cvmbus_netvsc_stop(r->vsc);
	cvmbus_netvsp_stop(r->vsp);
	cvmbus_netvsc_destroy(r->vsc);
	cvmbus_netvsp_destroy(r->vsp);
	cvmbus_channel_pair_destroy(&r->pair);
	cvmbus_exec_destroy(r->exec);
	cvmbus_mem_destroy(r->mem);
}

/* Under the deterministic executor the devices run inside one run; the
 * run's main thread may not use cmocka (its failures jump to the test's
 * own thread), so it reports the first failing step instead. */
struct det_ctx {
	struct rig *r;
	uint64_t count;
	int step, rc;
};

static int det_pump(void *arg);

static int det_main(void *arg)
{
	struct det_ctx *d = arg;
	struct rig *r = d->r;
	struct cvmbus_thread *th;
	uint8_t f[1514];
	int ret = 0;

#define DET_STEP(n, expr)                  \
	do {                               \
		d->step = (n);             \
		d->rc = (expr);            \
		if (d->rc < 0)             \
			goto out;          \
	} while (0)
	DET_STEP(1, cvmbus_netvsp_start(r->vsp));
	DET_STEP(2, cvmbus_netvsc_connect(r->vsc));
	DET_STEP(3, cvmbus_thread_spawn(r->exec, &th, "to-guest", det_pump, d));
	for (uint64_t i = 0; i < d->count; i++) {
		size_t n = make_frame(&r->to_host, i, f);

		DET_STEP(4, cvmbus_netvsc_send_frame(r->vsc, f, n, 10 * SEC));
	}
	DET_STEP(5, cvmbus_thread_join(th, &ret));
	DET_STEP(6, ret);
	/* Virtual time passes only when everyone waits: the frames still
	 * in flight arrive before this sleep ends. */
	for (int i = 0; i < 1000 && (atomic_load(&r->to_host.received) < d->count ||
				     atomic_load(&r->to_guest.received) < d->count); i++)
		cvmbus_exec_sleep_ns(r->exec, 1000 * 1000);
	d->step = 0;
out:
#undef DET_STEP
	cvmbus_netvsc_stop(r->vsc);
	cvmbus_netvsp_stop(r->vsp);
	return 0;
}

static int det_pump(void *arg)
{
	struct det_ctx *d = arg;
	uint8_t f[1514];

	for (uint64_t i = 0; i < d->count; i++) {
		size_t n = make_frame(&d->r->to_guest, i, f);
		int rc = cvmbus_netvsp_send_frame(d->r->vsp, f, n, 10 * SEC);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The pair's GPADL of a given size (the VSC's receive or send buffer). */
static const struct cvmbus_gpadl_info *rig_gpadl(struct rig *r, uint64_t bytes)
{
	for (size_t i = 0; i < CVMBUS_CHANNEL_PAIR_GPADLS; i++)
		if (r->pair.gpadls[i].used && r->pair.gpadls[i].info.bytes == bytes)
			return &r->pair.gpadls[i].info;
	fail_msg("no gpadl of %llu bytes", (unsigned long long)bytes);
	return NULL;
}

/* Poll (bounded) until cond(ctx) holds. */
static bool eventually(bool (*cond)(void *), void *ctx, struct cvmbus_exec *exec)
{
	for (int i = 0; i < 2000; i++) {
		if (cond(ctx))
			return true;
		cvmbus_exec_sleep_ns(exec, 5 * 1000 * 1000);
	}
	return cond(ctx);
}

/* ---- handshake and RNDIS queries ----------------------------------------- */

static bool link_events_2(void *ctx)
{
	return atomic_load(&((struct rig *)ctx)->link_events) >= 2;
}

static void test_handshake_and_queries(void **state)
{
	struct rig_opts o = { 0 };
	struct cvmbus_netvsc_info info;
	struct rig r;
	uint8_t val[16];
	size_t len;
	uint32_t v, status = 0;

	(void)state;
	rig_up(&r, &o, true);
	assert_int_equal(cvmbus_netvsc_state(r.vsc), CVMBUS_NETVSC_READY);
	cvmbus_netvsc_get_info(r.vsc, &info);
	assert_int_equal(info.nvsp_version, CVMBUS_NVSP_VERSION_61);
	assert_memory_equal(info.mac, vsp_mac, 6);
	assert_int_equal(info.mtu, 1500);
	assert_true(info.link_up);
	assert_int_equal(info.link_speed, 100000000);
	assert_int_equal(info.recv_section_size, 1728);
	assert_int_equal(info.recv_sections, RECV_BUF / 1728);
	assert_int_equal(info.send_section_size, 6144);
	assert_int_equal(info.send_sections, SEND_BUF / 6144);
	assert_true(info.recv_buf_shared);
	assert_int_equal(cvmbus_netvsp_version(r.vsp), CVMBUS_NVSP_VERSION_61);
	assert_int_equal(cvmbus_netvsp_rndis_state(r.vsp), CVMBUS_NETVSP_RNDIS_INITIALIZED);
	assert_int_equal(cvmbus_netvsp_packet_filter(r.vsp), info.packet_filter);
	assert_int_equal(cvmbus_netvsp_recv_sections(r.vsp), RECV_BUF / 1728);

	/* Queries a user can make: the total size, and what is refused. */
	len = sizeof(val);
	assert_int_equal(cvmbus_netvsc_query(r.vsc, CVMBUS_OID_GEN_MAXIMUM_TOTAL_SIZE, val, &len,
					     &status), 0);
	assert_int_equal(len, 4);
	memcpy(&v, val, 4);
	assert_int_equal(v, 1514);
	len = sizeof(val);
	assert_int_equal(cvmbus_netvsc_query(r.vsc, CVMBUS_OID_802_3_CURRENT_ADDRESS, val, &len,
					     NULL), 0);
	assert_memory_equal(val, vsp_mac, 6);
	len = sizeof(val);
	assert_int_equal(cvmbus_netvsc_query(r.vsc, 0x00020101 /* OID_GEN_XMIT_OK */, val, &len,
					     &status), -EIO);
	assert_int_equal(status, CVMBUS_RNDIS_STATUS_NOT_SUPPORTED);
	v = 1;
	assert_int_equal(cvmbus_netvsc_set(r.vsc, CVMBUS_OID_GEN_LINK_SPEED, &v, 4, &status), -EIO);
	assert_int_equal(status, CVMBUS_RNDIS_STATUS_NOT_SUPPORTED);
	/* A packet filter of the wrong length is invalid data. */
	assert_int_equal(cvmbus_netvsc_set(r.vsc, CVMBUS_OID_GEN_CURRENT_PACKET_FILTER, &v, 2,
					   &status), -EIO);
	assert_int_equal(status, CVMBUS_RNDIS_STATUS_INVALID_DATA);

	/* Link down, then up: each an RNDIS status indication the VSC sees. */
	assert_int_equal(cvmbus_netvsp_set_link(r.vsp, false), 0);
	assert_int_equal(cvmbus_netvsp_set_link(r.vsp, true), 0);
	assert_true(eventually(link_events_2, &r, r.exec));
	cvmbus_netvsc_get_info(r.vsc, &info);
	assert_true(info.link_up);
	len = sizeof(val);
	assert_int_equal(cvmbus_netvsc_query(r.vsc, CVMBUS_OID_GEN_MEDIA_CONNECT_STATUS, val, &len,
					     NULL), 0);
	memcpy(&v, val, 4);
	assert_int_equal(v, CVMBUS_RNDIS_MEDIA_CONNECTED);
	rig_down(&r);
}

static void test_configured_mtu_link_down(void **state)
{
	struct rig_opts o = { .mtu = 1400, .link_down = true };
	struct cvmbus_netvsc_info info;
	struct rig r;
	uint8_t f[1500] = { 0 };

	(void)state;
	rig_up(&r, &o, true);
	cvmbus_netvsc_get_info(r.vsc, &info);
	assert_int_equal(info.mtu, 1400);
	assert_false(info.link_up);
	/* Frames are held to the negotiated MTU on both sides. */
	assert_int_equal(cvmbus_netvsc_send_frame(r.vsc, f, 1415, SEC), -EMSGSIZE);
	assert_int_equal(cvmbus_netvsc_send_frame(r.vsc, f, 13, SEC), -EMSGSIZE);
	assert_int_equal(cvmbus_netvsp_send_frame(r.vsp, f, 1415, SEC), -EMSGSIZE);
	rig_down(&r);
}

/* ---- 10,000 frames each way -------------------------------------------------- */

struct pump {
	struct rig *r;
	uint64_t count;
	int rc;
};

static int to_guest_pump(void *arg)
{
	struct pump *p = arg;
	uint8_t f[1514];

	for (uint64_t i = 0; i < p->count; i++) {
		size_t n = make_frame(&p->r->to_guest, i, f);

		/* Waits for a section: the guest returns them. */
		p->rc = cvmbus_netvsp_send_frame(p->r->vsp, f, n, 10 * SEC);
		if (p->rc < 0)
			return p->rc;
	}
	return 0;
}

struct until {
	struct rig *r;
	uint64_t n;
};

static bool all_arrived(void *ctx)
{
	struct until *u = ctx;

	return atomic_load(&u->r->to_host.received) >= u->n &&
	       atomic_load(&u->r->to_guest.received) >= u->n;
}

static void traffic(const struct rig_opts *o, uint64_t count)
{
	struct cvmbus_netvsp_stats vs;
	struct cvmbus_netvsc_stats cs;
	struct cvmbus_netvsc_info info;
	struct cvmbus_channel_stats hs;
	struct cvmbus_mem_exposure_totals t;
	struct cvmbus_thread *th;
	struct pump p;
	struct until u;
	struct rig r;
	uint8_t f[1514], probe[16];
	int ret = -1;

	rig_up(&r, o, true);
	cvmbus_netvsc_get_info(r.vsc, &info);

	/* Where the buffers are, and who could see them. */
	if (o->private_bufs) {
		const struct cvmbus_gpadl_info *g = rig_gpadl(&r, RECV_BUF);

		assert_false(info.recv_buf_shared);
		assert_false(info.send_buf_shared);
		assert_int_equal(cvmbus_mem_exposure_by_reason(r.mem, "gpadl", &t), -ENOENT);
		assert_int_equal(cvmbus_mem_page_state(r.mem, g->gpa), CVMBUS_MEM_PAGE_PRIVATE);
		/* The untrusted host cannot read them at all. */
		assert_int_equal(cvmbus_mem_host_read(cvmbus_mem_host(r.mem),
						      cvmbus_mem_gpa_to_alias(r.mem, g->gpa), probe,
						      sizeof(probe)), -EFAULT);
	} else {
		assert_true(info.recv_buf_shared);
		assert_int_equal(cvmbus_mem_exposure_by_reason(r.mem, "gpadl", &t), 0);
		assert_int_equal(t.pages_now, (RECV_BUF + SEND_BUF) / 4096);
	}

	p = (struct pump){ .r = &r, .count = count };
	assert_int_equal(cvmbus_thread_spawn(r.exec, &th, "to-guest", to_guest_pump, &p), 0);
	for (uint64_t i = 0; i < count; i++) {
		size_t n = make_frame(&r.to_host, i, f);

		assert_int_equal(cvmbus_netvsc_send_frame(r.vsc, f, n, 10 * SEC), 0);
	}
	assert_int_equal(cvmbus_thread_join(th, &ret), 0);
	assert_int_equal(ret, 0);
	u = (struct until){ .r = &r, .n = count };
	assert_true(eventually(all_arrived, &u, r.exec));

	assert_int_equal(atomic_load(&r.to_host.received), count);
	assert_int_equal(atomic_load(&r.to_guest.received), count);
	assert_int_equal(atomic_load(&r.to_host.bad), 0);
	assert_int_equal(atomic_load(&r.to_guest.bad), 0);

	cvmbus_netvsp_get_stats(r.vsp, &vs);
	cvmbus_netvsc_get_stats(r.vsc, &cs);
	assert_int_equal(vs.rx_frames, count);
	assert_int_equal(vs.tx_frames, count);
	assert_int_equal(vs.tx_bytes, r.to_host.bytes);
	assert_int_equal(cs.rx_bytes, r.to_guest.bytes);
	/* Far more frames than sections: every section came back many
	 * times (control answers and the link indications included). */
	assert_true(count > info.recv_sections * 10);
	assert_true(vs.sections_recycled >= count);
	assert_int_equal(vs.rx_no_section + vs.rx_not_ready + vs.rx_filtered, 0);
	assert_int_equal(vs.bad_nvsp + vs.bad_rndis + vs.bad_section + vs.bad_frame, 0);
	assert_int_equal(vs.unknown_completions + cs.unknown_completions, 0);
	assert_int_equal(cs.bad_xfer + cs.bad_nvsp + cs.bad_rndis, 0);
	if (o->gpa_direct) {
		assert_true(vs.tx_gpa_direct >= count);
		assert_int_equal(cs.tx_send_buffer_bytes, 0);
		/* What the VSC sent by pages is what the VSP read by pages. */
		assert_int_equal(cs.tx_gpa_direct_bytes, vs.tx_gpa_bytes);
		assert_true(vs.tx_gpa_bytes > r.to_host.bytes);
	} else {
		assert_int_equal(vs.tx_gpa_direct, 0);
		assert_true(cs.tx_send_buffer_bytes >
			    r.to_host.bytes + count * CVMBUS_RNDIS_PACKET_HEADER_SIZE);
	}
	/* The device read and wrote guest memory only through its ops. */
	cvmbus_channel_get_stats(&r.pair.host, &hs);
	assert_true(hs.ext_bytes_written >= r.to_guest.bytes);
	assert_true(hs.ext_bytes_read >= r.to_host.bytes);
	printf("# %s: %llu frames each way, %llu + %llu bytes, %u receive sections recycled "
	       "%llu times\n",
	       o->private_bufs ? "private buffers, paravisor view"
			       : (o->gpa_direct ? "gpa-direct" : "host-visible buffers, host view"),
	       (unsigned long long)count, (unsigned long long)r.to_host.bytes,
	       (unsigned long long)r.to_guest.bytes, info.recv_sections,
	       (unsigned long long)vs.sections_recycled);
	rig_down(&r);
}

static void test_traffic_host_visible(void **state)
{
	struct rig_opts o = { 0 };

	(void)state;
	traffic(&o, 10000);
}

static void test_traffic_private_paravisor(void **state)
{
	struct rig_opts o = { .private_bufs = true };

	(void)state;
	traffic(&o, 10000);
}

static void test_traffic_gpa_direct(void **state)
{
	struct rig_opts o = { .gpa_direct = true };

	(void)state;
	traffic(&o, 2000);
}

struct want_vsc {
	struct rig *r;
	struct cvmbus_netvsc_stats s;
	uint64_t vsp_unknown;
};

static bool vsc_reached(void *ctx)
{
	struct want_vsc *w = ctx;
	struct cvmbus_netvsc_stats s;
	struct cvmbus_netvsp_stats v;

	cvmbus_netvsc_get_stats(w->r->vsc, &s);
	cvmbus_netvsp_get_stats(w->r->vsp, &v);
	return s.bad_xfer >= w->s.bad_xfer && s.bad_rndis >= w->s.bad_rndis &&
	       s.bad_nvsp >= w->s.bad_nvsp && s.unknown_completions >= w->s.unknown_completions &&
	       s.unexpected >= w->s.unexpected && v.unknown_completions >= w->vsp_unknown;
}

/* A seed sweep: each seed is one interleaving of the guest's sender, the
 * device's sender and both channel threads; a lost wake-up shows up as a
 * reported deadlock, not a hang. Frames are checked as in the native runs. */
static void test_deterministic_seeds(void **state)
{
	uint64_t first = cvmbus_exec_seed_from_env(1), seeds = getenv("CVMBUS_EXEC_SEED") ? 1 : 4;

	(void)state;
	for (uint64_t seed = first; seed < first + seeds; seed++) {
		struct cvmbus_exec_det_opts eo = { .seed = seed };
		struct rig_opts o = { .private_bufs = seed % 2 == 0 };
		struct det_ctx d;
		struct rig r;
		int rc;

		assert_int_equal(cvmbus_exec_det_create(&o.exec, &eo), 0);
		rig_up(&r, &o, true);
		d = (struct det_ctx){ .r = &r, .count = 300 };
		rc = cvmbus_exec_run(r.exec, det_main, &d, NULL);
		if (rc != 0 || d.step != 0)
			fail_msg("seed %llu: run %d, step %d failed with %d\n%s",
				 (unsigned long long)seed, rc, d.step, d.rc,
				 cvmbus_exec_det_report(r.exec));
		assert_int_equal(atomic_load(&r.to_host.received), d.count);
		assert_int_equal(atomic_load(&r.to_guest.received), d.count);
		assert_int_equal(atomic_load(&r.to_host.bad) + atomic_load(&r.to_guest.bad), 0);
		cvmbus_netvsc_destroy(r.vsc);
		cvmbus_netvsp_destroy(r.vsp);
		cvmbus_channel_pair_destroy(&r.pair);
		cvmbus_exec_destroy(r.exec);
		cvmbus_mem_destroy(r.mem);
	}
}

/* ---- hostile guest -------------------------------------------------------------- */

struct want_vsp {
	struct rig *r;
	struct cvmbus_netvsp_stats s;
};

static bool vsp_reached(void *ctx)
{
	struct want_vsp *w = ctx;
	struct cvmbus_netvsp_stats s;

	cvmbus_netvsp_get_stats(w->r->vsp, &s);
	return s.bad_nvsp >= w->s.bad_nvsp && s.bad_rndis >= w->s.bad_rndis &&
	       s.bad_section >= w->s.bad_section && s.bad_frame >= w->s.bad_frame &&
	       s.bad_gpadl >= w->s.bad_gpadl && s.refused >= w->s.refused &&
	       s.unknown_completions >= w->s.unknown_completions;
}

static void guest_inject(struct rig *r, const struct cvmbus_nvsp_msg *m, size_t len)
{
	assert_int_equal(cvmbus_channel_send_inband(&r->pair.guest,
						    CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED,
						    0xbad0000000000000ull, m, len, SEC), 0);
}

/* An RNDIS message written straight into send section idx, then named. */
static void guest_inject_section(struct rig *r, uint32_t idx, const void *msg, uint32_t len,
				 uint32_t channel)
{
	const struct cvmbus_gpadl_info *g = rig_gpadl(r, SEND_BUF);
	struct cvmbus_nvsp_msg m;

	assert_int_equal(cvmbus_mem_write(r->mem, CVMBUS_MEM_VIEW_GUEST, g->gpa + idx * 6144ull,
					  msg, len), 0);
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RNDIS_PKT);
	m.u.rndis.channel_type = channel;
	m.u.rndis.section_index = idx;
	m.u.rndis.section_size = len;
	guest_inject(r, &m, sizeof(m));
}

static void good_frames(struct rig *r, uint64_t from, uint64_t count)
{
	uint8_t f[1514];
	struct until u = { .r = r, .n = from + count };

	for (uint64_t i = from; i < from + count; i++) {
		size_t n = make_frame(&r->to_host, i, f);

		assert_int_equal(cvmbus_netvsc_send_frame(r->vsc, f, n, 5 * SEC), 0);
		n = make_frame(&r->to_guest, i, f);
		assert_int_equal(cvmbus_netvsp_send_frame(r->vsp, f, n, 5 * SEC), 0);
	}
	assert_true(eventually(all_arrived, &u, r->exec));
	assert_int_equal(atomic_load(&r->to_host.bad), 0);
	assert_int_equal(atomic_load(&r->to_guest.bad), 0);
}

/* Before any VSC: a raw guest gets each handshake mistake refused with a
 * status, and a real VSC can still negotiate on the channel afterwards. */
static void test_hostile_guest_handshake(void **state)
{
	struct rig_opts o = { 0 };
	struct cvmbus_nvsp_msg m, *c;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_netvsp_stats s;
	struct cvmbus_gpadl_info g;
	struct rig r;

	(void)state;
	rig_up(&r, &o, false);
	assert_int_equal(cvmbus_netvsp_start(r.vsp), 0);

	/* A receive buffer before INIT: refused. */
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RECV_BUF);
	m.u.buf.gpadl = 0xe1e10;
	guest_inject(&r, &m, sizeof(m));
	assert_int_equal(cvmbus_channel_recv(&r.pair.guest, &pkt, 5 * SEC), 0);
	assert_int_equal(pkt.type, CVMBUS_RING_PKT_COMPLETION);
	c = (struct cvmbus_nvsp_msg *)(uintptr_t)pkt.payload;
	assert_int_equal(c->type, CVMBUS_NVSP_SEND_RECV_BUF_COMPLETE);
	assert_int_equal(c->u.status.status, CVMBUS_NVSP_STATUS_FAILURE);

	/* A version nobody speaks. */
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_INIT);
	m.u.init.min_version = m.u.init.max_version = 0x70000;
	guest_inject(&r, &m, sizeof(m));
	assert_int_equal(cvmbus_channel_recv(&r.pair.guest, &pkt, 5 * SEC), 0);
	c = (struct cvmbus_nvsp_msg *)(uintptr_t)pkt.payload;
	assert_int_equal(c->type, CVMBUS_NVSP_INIT_COMPLETE);
	assert_int_equal(c->u.init_complete.status, CVMBUS_NVSP_STATUS_FAILURE);

	/* A good INIT, then a receive buffer GPADL that does not exist. */
	m.u.init.min_version = m.u.init.max_version = CVMBUS_NVSP_VERSION_5;
	guest_inject(&r, &m, sizeof(m));
	assert_int_equal(cvmbus_channel_recv(&r.pair.guest, &pkt, 5 * SEC), 0);
	c = (struct cvmbus_nvsp_msg *)(uintptr_t)pkt.payload;
	assert_int_equal(c->u.init_complete.status, CVMBUS_NVSP_STATUS_SUCCESS);
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RECV_BUF);
	m.u.buf.gpadl = 0x1234;
	m.u.buf.id = CVMBUS_NVSP_RECV_BUF_ID;
	guest_inject(&r, &m, sizeof(m));
	assert_int_equal(cvmbus_channel_recv(&r.pair.guest, &pkt, 5 * SEC), 0);
	c = (struct cvmbus_nvsp_msg *)(uintptr_t)pkt.payload;
	assert_int_equal(c->type, CVMBUS_NVSP_SEND_RECV_BUF_COMPLETE);
	assert_int_equal(c->u.recv_buf_complete.status, CVMBUS_NVSP_STATUS_FAILURE);

	/* A receive buffer too small for even the control sections. */
	assert_int_equal(cvmbus_channel_gpadl_create(&r.pair.guest, 4096, &g), 0);
	m.u.buf.gpadl = g.id;
	guest_inject(&r, &m, sizeof(m));
	assert_int_equal(cvmbus_channel_recv(&r.pair.guest, &pkt, 5 * SEC), 0);
	c = (struct cvmbus_nvsp_msg *)(uintptr_t)pkt.payload;
	assert_int_equal(c->u.recv_buf_complete.status, CVMBUS_NVSP_STATUS_FAILURE);
	assert_int_equal(cvmbus_channel_gpadl_teardown(&r.pair.guest, g.id), 0);

	cvmbus_netvsp_get_stats(r.vsp, &s);
	assert_int_equal(s.bad_nvsp, 1);
	assert_int_equal(s.bad_gpadl, 2);

	/* The real driver renegotiates on the same channel and works. */
	assert_int_equal(cvmbus_netvsc_connect(r.vsc), 0);
	good_frames(&r, 0, 50);
	rig_down(&r);
}

static void test_hostile_guest(void **state)
{
	struct rig_opts o = { 0 };
	struct cvmbus_nvsp_msg m;
	struct cvmbus_netvsc_stats cs0, cs;
	struct want_vsp w;
	struct rig r;
	uint8_t b[256];
	uint64_t injected = 0, alloc_gpa;
	int n;

	(void)state;
	rig_up(&r, &o, true);
	good_frames(&r, 0, 20);
	cvmbus_netvsc_get_stats(r.vsc, &cs0);
	memset(&w, 0, sizeof(w));
	w.r = &r;

	/* 1. A send section index past the buffer's 21. */
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RNDIS_PKT);
	m.u.rndis.section_index = SEND_BUF / 6144;
	m.u.rndis.section_size = 100;
	guest_inject(&r, &m, sizeof(m)), injected++;
	w.s.bad_section++;
	/* 2. A section size larger than a section. */
	m.u.rndis.section_index = 20;
	m.u.rndis.section_size = 6145;
	guest_inject(&r, &m, sizeof(m)), injected++;
	w.s.bad_section++;
	/* 3. An unknown channel type. */
	m.u.rndis.channel_type = 7;
	m.u.rndis.section_size = 100;
	guest_inject(&r, &m, sizeof(m)), injected++;
	w.s.bad_nvsp++;
	/* Each case in its own idle section: the device reads a section when
	 * it gets to the packet, so a section is not reused before that. */
	/* 4. An RNDIS packet whose data runs past its message. */
	n = cvmbus_rndis_build_packet_header(b, sizeof(b), 60);
	memset(b + n, 0x5a, 60);
	b[12] = 61; /* data_len 61 in a 104-byte message */
	guest_inject_section(&r, 20, b, 104, CVMBUS_NVSP_CHANNEL_DATA), injected++;
	w.s.bad_rndis++;
	/* 5. An RNDIS data offset far outside (wraps with the length). */
	n = cvmbus_rndis_build_packet(b, sizeof(b), frame60, 60);
	memset(b + 8, 0xff, 4);
	guest_inject_section(&r, 19, b, (uint32_t)n, CVMBUS_NVSP_CHANNEL_DATA), injected++;
	w.s.bad_rndis++;
	/* 6. An unknown RNDIS message type. */
	memset(b, 0, 32);
	b[0] = 0x99;
	b[4] = 32;
	guest_inject_section(&r, 18, b, 32, CVMBUS_NVSP_CHANNEL_CONTROL), injected++;
	w.s.bad_rndis++;
	/* 7. A frame shorter than an Ethernet header. */
	n = cvmbus_rndis_build_packet(b, sizeof(b), frame60, 10);
	guest_inject_section(&r, 17, b, (uint32_t)n, CVMBUS_NVSP_CHANNEL_DATA), injected++;
	w.s.bad_frame++;
	/* 8. A data packet sent as control. */
	n = cvmbus_rndis_build_packet(b, sizeof(b), frame60, 60);
	guest_inject_section(&r, 16, b, (uint32_t)n, CVMBUS_NVSP_CHANNEL_CONTROL), injected++;
	w.s.bad_rndis++;
	/* 9. A completion from the guest's side (the device's job). */
	n = cvmbus_rndis_build_set_cmplt(b, sizeof(b), 1, 0);
	guest_inject_section(&r, 15, b, (uint32_t)n, CVMBUS_NVSP_CHANNEL_CONTROL), injected++;
	w.s.bad_rndis++;
	/* 10. An unknown NVSP type, and 11. an RNDIS packet message cut to
	 * six bytes (the ring pads it to eight; it needs sixteen). */
	cvmbus_nvsp_msg_init(&m, 99);
	guest_inject(&r, &m, sizeof(m)), injected++;
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RNDIS_PKT);
	guest_inject(&r, &m, 6), injected++;
	w.s.bad_nvsp += 2;
	/* 12. Subchannels: known, not offered, refused with a status. */
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SUBCHANNEL);
	m.u.subchannel.op_or_status = 1;
	m.u.subchannel.count = 4;
	guest_inject(&r, &m, sizeof(m)), injected++;
	w.s.refused++;
	/* 13. A second receive buffer while one is attached. */
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RECV_BUF);
	m.u.buf.gpadl = rig_gpadl(&r, RECV_BUF)->id;
	guest_inject(&r, &m, sizeof(m)), injected++;
	w.s.bad_nvsp++;
	/* 14. A completion for a transaction the device never started. */
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RNDIS_PKT_COMPLETE);
	assert_int_equal(cvmbus_channel_send_completion(&r.pair.guest, 0x4e56000000000005ull, &m,
							sizeof(m), SEC), 0);
	assert_int_equal(cvmbus_channel_send_completion(&r.pair.guest, 42, &m, sizeof(m), SEC), 0);
	w.s.unknown_completions += 2;
	/* 15. A GPA-direct packet naming a private page the host cannot see. */
	assert_int_equal(cvmbus_mem_alloc(r.mem, CVMBUS_MEM_REGION_VTL0, 1, &alloc_gpa), 0);
	{
		uint64_t pfn = alloc_gpa / 4096;
		struct cvmbus_ring_gpa_range range = { .byte_count = 104, .byte_offset = 0,
						       .pfns = &pfn, .pfn_count = 1 };
		struct cvmbus_ring_iov iov = { .base = &m, .len = sizeof(m) };
		struct cvmbus_ring_outpkt pkt = {
			.type = CVMBUS_RING_PKT_GPA_DIRECT,
			.flags = CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED,
			.trans_id = 0xbad1,
			.gpa = &range,
			.gpa_count = 1,
			.payload = &iov,
			.payload_count = 1,
		};

		cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RNDIS_PKT);
		m.u.rndis.section_index = CVMBUS_NVSP_NO_SECTION;
		assert_int_equal(cvmbus_channel_send(&r.pair.guest, &pkt, SEC), 0);
		injected++;
		w.s.bad_section++;
	}
	/* 16. No section and no ranges: nowhere to read from. */
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RNDIS_PKT);
	m.u.rndis.section_index = CVMBUS_NVSP_NO_SECTION;
	guest_inject(&r, &m, sizeof(m)), injected++;
	w.s.bad_section++;

	if (!eventually(vsp_reached, &w, r.exec)) {
		struct cvmbus_netvsp_stats g;

		cvmbus_netvsp_get_stats(r.vsp, &g);
		fail_msg("vsp stats: nvsp %llu rndis %llu section %llu frame %llu refused %llu "
			 "unknown %llu",
			 (unsigned long long)g.bad_nvsp, (unsigned long long)g.bad_rndis,
			 (unsigned long long)g.bad_section, (unsigned long long)g.bad_frame,
			 (unsigned long long)g.refused, (unsigned long long)g.unknown_completions);
	}
	cvmbus_netvsp_get_stats(r.vsp, &w.s);
	assert_int_equal(w.s.bad_section, 4);
	assert_int_equal(w.s.bad_rndis, 5);
	assert_int_equal(w.s.bad_nvsp, 4);
	assert_int_equal(w.s.bad_frame, 1);
	assert_int_equal(w.s.refused, 1);
	assert_int_equal(w.s.unknown_completions, 2);
	assert_int_equal(w.s.tx_frames, 20); /* none of the above reached the backend */
	assert_int_equal(cvmbus_netvsp_state(r.vsp), CVMBUS_NETVSP_NEGOTIATED);

	/* Good frames still flow, both ways. */
	good_frames(&r, 20, 200);
	/* Every injected request was answered: the VSC saw each answer as a
	 * completion it never asked for. */
	{
		struct want_vsc wc = { .r = &r, .s = cs0 };

		wc.s.unknown_completions += injected;
		assert_true(eventually(vsc_reached, &wc, r.exec));
	}
	cvmbus_netvsc_get_stats(r.vsc, &cs);
	assert_int_equal(cs.unknown_completions - cs0.unknown_completions, injected);
	rig_down(&r);
}

/* ---- hostile host ---------------------------------------------------------------- */

static uint64_t host_tid = 0x7777000000000000ull;

static void host_xfer(struct rig *r, uint16_t set, uint32_t off, uint32_t count,
		      const struct cvmbus_nvsp_msg *m)
{
	struct cvmbus_ring_xfer_range range = { .byte_count = count, .byte_offset = off };
	struct cvmbus_ring_iov iov = { .base = m, .len = sizeof(*m) };
	struct cvmbus_ring_outpkt pkt = {
		.type = CVMBUS_RING_PKT_XFER_PAGES,
		.flags = CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED,
		.trans_id = host_tid++,
		.xfer_set_id = set,
		.xfer = &range,
		.xfer_count = 1,
		.payload = &iov,
		.payload_count = 1,
	};

	assert_int_equal(cvmbus_channel_send(&r->pair.host, &pkt, SEC), 0);
}

static void test_hostile_host(void **state)
{
	struct rig_opts o = { 0 };
	struct cvmbus_nvsp_msg m;
	struct cvmbus_netvsc_stats cs;
	struct cvmbus_netvsp_stats vs0;
	struct want_vsc w;
	struct rig r;
	const struct cvmbus_gpadl_info *g;
	uint8_t b[256];
	const uint32_t sec = 1728, spare = 5 * 1728; /* data sections not in use */
	uint64_t xfers = 0;
	int n;

	(void)state;
	rig_up(&r, &o, true);
	good_frames(&r, 0, 20);
	cvmbus_netvsp_get_stats(r.vsp, &vs0);
	g = rig_gpadl(&r, RECV_BUF);
	memset(&w, 0, sizeof(w));
	w.r = &r;
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RNDIS_PKT);
	m.u.rndis.section_index = CVMBUS_NVSP_NO_SECTION;

	/* 1. A transfer page set that is not the receive buffer. */
	host_xfer(&r, 0x1234, spare, 104, &m), xfers++;
	w.s.bad_xfer++;
	/* 2. A range past the end of the receive buffer. */
	host_xfer(&r, CVMBUS_NVSP_RECV_BUF_ID, RECV_BUF - 8, 104, &m), xfers++;
	w.s.bad_xfer++;
	/* 3. A range that straddles two sections. */
	host_xfer(&r, CVMBUS_NVSP_RECV_BUF_ID, sec - 10, 104, &m), xfers++;
	w.s.bad_xfer++;
	/* 4. A range too short for an RNDIS header. */
	host_xfer(&r, CVMBUS_NVSP_RECV_BUF_ID, spare, 4, &m), xfers++;
	w.s.bad_xfer++;
	/* 5. A range offset that wraps 32 bits with its count. */
	host_xfer(&r, CVMBUS_NVSP_RECV_BUF_ID, 0xffffff00u, 0x200, &m), xfers++;
	w.s.bad_xfer++;
	/* 6. A good range over a malformed RNDIS packet (data past the
	 * message), written by the host into the shared section. */
	n = cvmbus_rndis_build_packet(b, sizeof(b), frame60, 60);
	b[12] = 200;
	assert_int_equal(host_write(&r, g->gpa + (spare + 0 * sec), b, (size_t)n), 0);
	host_xfer(&r, CVMBUS_NVSP_RECV_BUF_ID, (spare + 0 * sec), (uint32_t)n, &m), xfers++;
	w.s.bad_rndis++;
	/* 7. An RNDIS message longer than the range that carries it. */
	n = cvmbus_rndis_build_packet(b, sizeof(b), frame60, 60);
	assert_int_equal(host_write(&r, g->gpa + (spare + 1 * sec), b, (size_t)n), 0);
	host_xfer(&r, CVMBUS_NVSP_RECV_BUF_ID, (spare + 1 * sec), (uint32_t)n - 1, &m), xfers++;
	w.s.bad_rndis++;
	/* 8. A request the device may not send (INITIALIZE). */
	n = cvmbus_rndis_build_init(b, sizeof(b), 1, 4096);
	assert_int_equal(host_write(&r, g->gpa + (spare + 2 * sec), b, (size_t)n), 0);
	host_xfer(&r, CVMBUS_NVSP_RECV_BUF_ID, (spare + 2 * sec), (uint32_t)n, &m), xfers++;
	w.s.bad_rndis++;
	/* 9. An answer to a query nobody asked. */
	n = cvmbus_rndis_build_query_cmplt(b, sizeof(b), 0x4242, 0, "abcd", 4);
	assert_int_equal(host_write(&r, g->gpa + (spare + 3 * sec), b, (size_t)n), 0);
	host_xfer(&r, CVMBUS_NVSP_RECV_BUF_ID, (spare + 3 * sec), (uint32_t)n, &m), xfers++;
	w.s.unknown_completions++;
	/* 10. Transfer pages whose NVSP message is not an RNDIS packet. */
	{
		struct cvmbus_nvsp_msg bad;

		cvmbus_nvsp_msg_init(&bad, CVMBUS_NVSP_INIT_COMPLETE);
		host_xfer(&r, CVMBUS_NVSP_RECV_BUF_ID, spare, 104, &bad), xfers++;
		w.s.bad_nvsp++;
	}
	/* 11. A completion for nothing the VSC sent. */
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RNDIS_PKT_COMPLETE);
	assert_int_equal(cvmbus_channel_send_completion(&r.pair.host, 0x5458000000000013ull, &m,
							sizeof(m), SEC), 0);
	assert_int_equal(cvmbus_channel_send_completion(&r.pair.host, 99, &m, sizeof(m), SEC), 0);
	w.s.unknown_completions += 2;
	/* 12. A VF offer (ignored) and an unknown inband message. */
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_VF_ASSOCIATION);
	assert_int_equal(cvmbus_channel_send_inband(&r.pair.host, 0, 1, &m, sizeof(m), SEC), 0);
	w.s.unexpected++;
	cvmbus_nvsp_msg_init(&m, 99);
	assert_int_equal(cvmbus_channel_send_inband(&r.pair.host, 0, 1, &m, sizeof(m), SEC), 0);
	w.s.bad_nvsp++;

	/* Every transfer-page packet was completed anyway: the VSP sees
	 * those completions as ids it never used. */
	w.vsp_unknown = vs0.unknown_completions + xfers;
	assert_true(eventually(vsc_reached, &w, r.exec));
	cvmbus_netvsc_get_stats(r.vsc, &cs);
	assert_int_equal(cs.bad_xfer, 5);
	assert_int_equal(cs.bad_rndis, 3);
	assert_int_equal(cs.bad_nvsp, 2);
	assert_int_equal(cs.unknown_completions, 3);
	assert_int_equal(cs.unexpected, 1);
	assert_int_equal(cs.rx_frames, 20);
	assert_int_equal(cvmbus_netvsc_state(r.vsc), CVMBUS_NETVSC_READY);

	good_frames(&r, 20, 200);
	rig_down(&r);
}

/* ---- a ring violation ends the channel cleanly ------------------------------- */

static bool vsp_failed(void *ctx)
{
	return cvmbus_netvsp_state(ctx) == CVMBUS_NETVSP_FAILED;
}

static void test_ring_violation_closes(void **state)
{
	struct rig_opts o = { 0 };
	static uint8_t big[5000];
	uint8_t f[60] = { 0 };
	struct rig r;

	(void)state;
	rig_up(&r, &o, true);
	good_frames(&r, 0, 10);
	/* Bigger than any packet the device takes: the channel layer calls
	 * it a protocol violation and closes the device's endpoint. */
	assert_int_equal(cvmbus_channel_send_inband(&r.pair.guest, 0, 1, big, sizeof(big), SEC), 0);
	assert_true(eventually(vsp_failed, r.vsp, r.exec));
	memcpy(f, vsp_mac, 6);
	assert_int_equal(cvmbus_netvsp_send_frame(r.vsp, f, sizeof(f), SEC), -ESHUTDOWN);
	rig_down(&r);
}

/* ---- offloads ------------------------------------------------------------- */

#define OFF_SEND_BUF (512u * 1024u) /* 85 sections: 3 big slots of 11 */

struct cap_wait {
	struct capture *c;
	uint64_t n;
};

static bool cap_reached(void *ctx)
{
	struct cap_wait *w = ctx;

	return atomic_load_explicit(&w->c->n, memory_order_acquire) >= w->n;
}

struct vsp_bad_wait {
	struct cvmbus_netvsp *vsp;
	uint64_t bad_offload;
};

static bool vsp_bad_offload(void *ctx)
{
	struct vsp_bad_wait *w = ctx;
	struct cvmbus_netvsp_stats s;

	cvmbus_netvsp_get_stats(w->vsp, &s);
	return s.bad_offload >= w->bad_offload;
}

/* Ethernet (to the device's MAC) + IPv4 10.0.0.1 -> 10.0.0.2 + TCP, with
 * total length, header checksum and pseudo-header sum as a Linux guest
 * has them, worked out by hand: for 3000 payload bytes total length 0be0,
 * header checksum 1b15, pseudo-header sum 1fd5 (test_rndis.c shows the
 * sums); for 9000, 2350, 03a5 (4500 + 2350 + 0001 + 4000 + 4006 + 0a00 +
 * 0001 + 0a00 + 0002 = fc5a) and 3745 (1409 + 233c); for 100, total
 * length 008c, header checksum 2669 (4500 + 008c + 0001 + 4000 + 4006 +
 * 0a00 + 0001 + 0a00 + 0002 = d996), pseudo-header sum 1481 (1409 +
 * 0078). The device rewrites none of them. */
static size_t tcp4_frame(uint8_t *f, size_t payload)
{
	tcp4_header(f);
	for (size_t i = 0; i < payload; i++)
		f[54 + i] = (uint8_t)(i * 7);
	if (payload == 3000) {
		f[16] = 0x0b, f[17] = 0xe0, f[24] = 0x1b, f[25] = 0x15, f[50] = 0x1f, f[51] = 0xd5;
	} else if (payload == 9000) {
		f[16] = 0x23, f[17] = 0x50, f[24] = 0x03, f[25] = 0xa5, f[50] = 0x37, f[51] = 0x45;
	} else if (payload == 100) {
		f[16] = 0x00, f[17] = 0x8c, f[24] = 0x26, f[25] = 0x69, f[50] = 0x14, f[51] = 0x81;
	}
	return 54 + payload;
}

static void test_offload(void **state)
{
	const uint32_t mine = CVMBUS_NET_OFFLOAD_CSUM4 | CVMBUS_NET_OFFLOAD_LSO4 |
			      CVMBUS_NET_OFFLOAD_RXCSUM;
	/* IPv6 UDP ::1 -> ::2, 4 payload bytes, the pseudo-header sum (1 + 2
	 * + 000c + 0011 = 0020) in the checksum field. The driver completes
	 * it (IPv6 checksums are not asked for): 0001 + 0002 + 000c + 0020 +
	 * 0102 + 0304 = 0435, complement fbca. */
	static const uint8_t udp6[66] = {
		0x00, 0x15, 0x5d, 0x12, 0x34, 0x56, 0x00, 0x15, 0x5d, 0x00, 0x00, 0x01, 0x86, 0xdd,
		0x60, 0, 0, 0, 0x00, 0x0c, 0x11, 0x40,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
		0x00, 0x01, 0x00, 0x02, 0x00, 0x0c, 0x00, 0x20, 0x01, 0x02, 0x03, 0x04,
	};
	static uint8_t f[10000];
	struct rig_opts o = { .vsp_offloads = CVMBUS_NET_OFFLOAD_ALL, .vsc_offloads = mine,
			      .send_buf = OFF_SEND_BUF };
	struct cvmbus_net_offload off = { 0 };
	struct cvmbus_netvsc_info info;
	struct cvmbus_netvsc_stats cs;
	struct cvmbus_netvsp_stats vs;
	struct cap_wait wh, wg;
	struct rig r;
	size_t n;

	(void)state;
	for (int pass = 0; pass < 2; pass++) {
		o.private_bufs = pass == 1;
		rig_up(&r, &o, true);
		wh = (struct cap_wait){ .c = r.cap_host };
		wg = (struct cap_wait){ .c = r.cap_guest };
		/* Granted: what the driver asked, within what the device has. */
		cvmbus_netvsc_get_info(r.vsc, &info);
		assert_int_equal(info.offloads, mine);
		assert_int_equal(cvmbus_netvsp_offloads(r.vsp), mine);

		/* A 9054-byte TCP segment: more than a section (6144), so
		 * one RNDIS packet in a big slot. */
		n = tcp4_frame(f, 9000);
		off = (struct cvmbus_net_offload){ .flags = CVMBUS_NET_OFF_NEEDS_CSUM,
						   .gso_type = CVMBUS_NET_GSO_TCPV4, .hdr_len = 54,
						   .gso_size = 1448, .csum_start = 34,
						   .csum_offset = 16 };
		assert_int_equal(cvmbus_netvsc_send_frame_off(r.vsc, &off, f, n, 5 * SEC), 0);
		wh.n = 1;
		assert_true(eventually(cap_reached, &wh, r.exec));
		assert_int_equal(r.cap_host->len, n);
		assert_memory_equal(r.cap_host->frame, f, n);
		assert_memory_equal(&r.cap_host->off, &off, sizeof(off));

		/* A partial TCP checksum: checksum info, the same state out. */
		n = tcp4_frame(f, 100);
		off = (struct cvmbus_net_offload){ .flags = CVMBUS_NET_OFF_NEEDS_CSUM,
						   .csum_start = 34, .csum_offset = 16 };
		assert_int_equal(cvmbus_netvsc_send_frame_off(r.vsc, &off, f, n, 5 * SEC), 0);
		wh.n = 2;
		assert_true(eventually(cap_reached, &wh, r.exec));
		assert_int_equal(r.cap_host->len, n);
		assert_memory_equal(r.cap_host->frame, f, n);
		assert_memory_equal(&r.cap_host->off, &off, sizeof(off));

		/* IPv6 was not asked for: the driver sums, the frame arrives
		 * complete. */
		off = (struct cvmbus_net_offload){ .flags = CVMBUS_NET_OFF_NEEDS_CSUM,
						   .csum_start = 54, .csum_offset = 6 };
		assert_int_equal(cvmbus_netvsc_send_frame_off(r.vsc, &off, udp6, sizeof(udp6),
							      5 * SEC), 0);
		wh.n = 3;
		assert_true(eventually(cap_reached, &wh, r.exec));
		assert_int_equal(r.cap_host->len, sizeof(udp6));
		assert_int_equal(r.cap_host->off.flags, 0);
		assert_memory_equal(r.cap_host->frame, udp6, 60);
		assert_int_equal(r.cap_host->frame[60], 0xfb);
		assert_int_equal(r.cap_host->frame[61], 0xca);
		assert_memory_equal(r.cap_host->frame + 62, udp6 + 62, 4);
		/* ... and an IPv6 GSO frame is not the driver's to send. */
		off.gso_type = CVMBUS_NET_GSO_TCPV6;
		off.gso_size = 1000;
		assert_int_equal(cvmbus_netvsc_send_frame_off(r.vsc, &off, udp6, sizeof(udp6), SEC),
				 -EINVAL);

		/* Receive: the backend's "checksum good" reaches the guest. */
		memset(f, 0, 60);
		memcpy(f, vsp_mac, 6);
		off = (struct cvmbus_net_offload){ .flags = CVMBUS_NET_OFF_CSUM_VALID };
		assert_int_equal(cvmbus_netvsp_send_frame_off(r.vsp, &off, f, 60, 5 * SEC), 0);
		wg.n = 1;
		assert_true(eventually(cap_reached, &wg, r.exec));
		assert_int_equal(r.cap_guest->off.flags, CVMBUS_NET_OFF_CSUM_VALID);
		off.flags = 0;
		assert_int_equal(cvmbus_netvsp_send_frame_off(r.vsp, &off, f, 60, 5 * SEC), 0);
		wg.n = 2;
		assert_true(eventually(cap_reached, &wg, r.exec));
		assert_int_equal(r.cap_guest->off.flags, 0);
		assert_memory_equal(r.cap_guest->frame, f, 60);

		cvmbus_netvsc_get_stats(r.vsc, &cs);
		assert_int_equal(cs.tx_lso, 1);
		assert_int_equal(cs.tx_big, 1);
		assert_int_equal(cs.tx_csum, 1);
		assert_int_equal(cs.tx_csum_sw, 1);
		assert_int_equal(cs.tx_offload_dropped, 1);
		assert_int_equal(cs.rx_csum_valid, 1);
		cvmbus_netvsp_get_stats(r.vsp, &vs);
		assert_int_equal(vs.tx_lso, 1);
		assert_int_equal(vs.tx_csum, 1);
		assert_int_equal(vs.rx_csum_marked, 1);
		assert_int_equal(vs.bad_offload, 0);
		rig_down(&r);
	}
}

/* The device enforces its grant, whatever the driver believes, and takes
 * only well-formed offload parameters. */
static void test_offload_hostile_guest(void **state)
{
	struct rig_opts o = { .vsp_offloads = CVMBUS_NET_OFFLOAD_ALL,
			      .vsc_offloads = CVMBUS_NET_OFFLOAD_ALL, .send_buf = OFF_SEND_BUF };
	const struct cvmbus_net_offload lso = { .flags = CVMBUS_NET_OFF_NEEDS_CSUM,
						.gso_type = CVMBUS_NET_GSO_TCPV4, .hdr_len = 54,
						.gso_size = 1448, .csum_start = 34,
						.csum_offset = 16 };
	struct cvmbus_ndis_offload_params p;
	struct cvmbus_netvsc_info info;
	struct cvmbus_netvsc_stats cs;
	const struct cvmbus_gpadl_info *g;
	struct cvmbus_nvsp_msg m;
	struct vsp_bad_wait wb;
	struct cap_wait wh;
	static uint8_t f[4000], pkt[300];
	uint32_t status = 0;
	size_t n;
	int hl;
	struct rig r;

	(void)state;
	rig_up(&r, &o, true);
	wh = (struct cap_wait){ .c = r.cap_host };
	wb = (struct vsp_bad_wait){ .vsp = r.vsp };
	cvmbus_netvsc_get_info(r.vsc, &info);
	assert_int_equal(info.offloads, CVMBUS_NET_OFFLOAD_ALL);

	/* Malformed parameters: each refused, nothing changes. */
	memset(&p, 0, sizeof(p));
	p.header.type = CVMBUS_NDIS_OBJECT_TYPE_DEFAULT;
	assert_int_equal(cvmbus_netvsc_set(r.vsc, CVMBUS_OID_TCP_OFFLOAD_PARAMETERS, &p, 12,
					   &status), -EIO);
	assert_int_equal(status, CVMBUS_RNDIS_STATUS_INVALID_DATA);
	p.header.type = 0x81;
	assert_int_equal(cvmbus_netvsc_set(r.vsc, CVMBUS_OID_TCP_OFFLOAD_PARAMETERS, &p, sizeof(p),
					   &status), -EIO);
	assert_int_equal(status, CVMBUS_RNDIS_STATUS_INVALID_DATA);
	p.header.type = CVMBUS_NDIS_OBJECT_TYPE_DEFAULT;
	p.lso_v1 = CVMBUS_NDIS_OFFLOAD_LSOV2_ENABLED; /* never offered */
	assert_int_equal(cvmbus_netvsc_set(r.vsc, CVMBUS_OID_TCP_OFFLOAD_PARAMETERS, &p, sizeof(p),
					   &status), -EIO);
	assert_int_equal(status, CVMBUS_RNDIS_STATUS_NOT_SUPPORTED);
	p.lso_v1 = 0;
	p.udp6_csum = 9;
	p.lso_v2_ip4 = CVMBUS_NDIS_OFFLOAD_LSOV2_DISABLED; /* not applied: the whole set fails */
	assert_int_equal(cvmbus_netvsc_set(r.vsc, CVMBUS_OID_TCP_OFFLOAD_PARAMETERS, &p, sizeof(p),
					   &status), -EIO);
	assert_int_equal(status, CVMBUS_RNDIS_STATUS_INVALID_DATA);
	assert_int_equal(cvmbus_netvsp_offloads(r.vsp), CVMBUS_NET_OFFLOAD_ALL);

	/* LSO for IPv4 turned off behind the driver's back: its next LSO
	 * frame is refused by the device (counted, a failed completion),
	 * and the channel goes on. */
	p.udp6_csum = 0;
	assert_int_equal(cvmbus_netvsc_set(r.vsc, CVMBUS_OID_TCP_OFFLOAD_PARAMETERS, &p, sizeof(p),
					   &status), 0);
	assert_int_equal(cvmbus_netvsp_offloads(r.vsp),
			 CVMBUS_NET_OFFLOAD_ALL & ~CVMBUS_NET_OFFLOAD_LSO4);
	n = tcp4_frame(f, 3000);
	assert_int_equal(cvmbus_netvsc_send_frame_off(r.vsc, &lso, f, n, 5 * SEC), 0);
	wb.bad_offload = 1;
	assert_true(eventually(vsp_bad_offload, &wb, r.exec));
	p.lso_v2_ip4 = CVMBUS_NDIS_OFFLOAD_LSOV2_ENABLED;
	assert_int_equal(cvmbus_netvsc_set(r.vsc, CVMBUS_OID_TCP_OFFLOAD_PARAMETERS, &p, sizeof(p),
					   &status), 0);
	assert_int_equal(cvmbus_netvsc_send_frame_off(r.vsc, &lso, f, n, 5 * SEC), 0);
	wh.n = 1;
	assert_true(eventually(cap_reached, &wh, r.exec));
	assert_memory_equal(r.cap_host->frame, f, n);

	/* A packet written straight into a free single section (the last
	 * of the 52: 85 minus 3 big slots of 11) with an MSS of 1. */
	n = tcp4_frame(f, 100);
	hl = cvmbus_rndis_build_packet_header_ppi(pkt, sizeof(pkt), (uint32_t)n, false, 0, true,
						  CVMBUS_RNDIS_LSO_V2 | (34u << 20) | 1u);
	assert_int_equal(hl, 60);
	memcpy(pkt + hl, f, n);
	g = rig_gpadl(&r, OFF_SEND_BUF);
	assert_int_equal(cvmbus_mem_write(r.mem, CVMBUS_MEM_VIEW_GUEST, g->gpa + 51 * 6144ull, pkt,
					  (size_t)hl + n), 0);
	cvmbus_nvsp_msg_init(&m, CVMBUS_NVSP_SEND_RNDIS_PKT);
	m.u.rndis.channel_type = CVMBUS_NVSP_CHANNEL_DATA;
	m.u.rndis.section_index = 51;
	m.u.rndis.section_size = (uint32_t)((size_t)hl + n);
	guest_inject(&r, &m, sizeof(m));
	wb.bad_offload = 2;
	assert_true(eventually(vsp_bad_offload, &wb, r.exec));
	/* Good frames still flow. */
	n = tcp4_frame(f, 3000);
	assert_int_equal(cvmbus_netvsc_send_frame_off(r.vsc, &lso, f, n, 5 * SEC), 0);
	wh.n = 2;
	assert_true(eventually(cap_reached, &wh, r.exec));
	cvmbus_netvsc_get_stats(r.vsc, &cs);
	assert_int_equal(cs.tx_failed, 1);
	rig_down(&r);
}

/* Offloads need both ends: either one without them, and none are used. */
static void test_offload_one_sided(void **state)
{
	struct rig_opts o = { .vsc_offloads = CVMBUS_NET_OFFLOAD_ALL, .send_buf = OFF_SEND_BUF };
	const struct cvmbus_net_offload lso = { .flags = CVMBUS_NET_OFF_NEEDS_CSUM,
						.gso_type = CVMBUS_NET_GSO_TCPV4, .hdr_len = 54,
						.gso_size = 1448, .csum_start = 34,
						.csum_offset = 16 };
	struct cvmbus_netvsc_info info;
	static uint8_t f[4000], val[200];
	size_t len = sizeof(val);
	uint32_t status = 0;
	struct rig r;

	(void)state;
	/* A device without offloads: the query is not supported, plain
	 * traffic as before. */
	rig_up(&r, &o, true);
	cvmbus_netvsc_get_info(r.vsc, &info);
	assert_int_equal(info.offloads, 0);
	assert_int_equal(cvmbus_netvsc_query(r.vsc, CVMBUS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, val,
					     &len, &status), -EIO);
	assert_int_equal(status, CVMBUS_RNDIS_STATUS_NOT_SUPPORTED);
	good_frames(&r, 0, 20);
	assert_int_equal(cvmbus_netvsc_send_frame_off(r.vsc, &lso, f, tcp4_frame(f, 3000), SEC),
			 -EINVAL);
	rig_down(&r);

	/* A driver that asks for none: the device grants none. */
	o.vsc_offloads = 0;
	o.vsp_offloads = CVMBUS_NET_OFFLOAD_ALL;
	rig_up(&r, &o, true);
	cvmbus_netvsc_get_info(r.vsc, &info);
	assert_int_equal(info.offloads, 0);
	assert_int_equal(cvmbus_netvsp_offloads(r.vsp), 0);
	/* The capabilities are there for the asking, all 156 bytes. */
	len = sizeof(val);
	assert_int_equal(cvmbus_netvsc_query(r.vsc, CVMBUS_OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, val,
					     &len, &status), 0);
	assert_int_equal(len, 156);
	assert_int_equal(val[0], CVMBUS_NDIS_OBJECT_TYPE_OFFLOAD);
	assert_int_equal(val[1], 3);
	assert_int_equal(cvmbus_netvsc_send_frame_off(r.vsc, &lso, f, tcp4_frame(f, 3000), SEC),
			 -EINVAL);
	rig_down(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_queries),
		cmocka_unit_test(test_configured_mtu_link_down),
		cmocka_unit_test(test_traffic_host_visible),
		cmocka_unit_test(test_traffic_private_paravisor),
		cmocka_unit_test(test_traffic_gpa_direct),
		cmocka_unit_test(test_deterministic_seeds),
		cmocka_unit_test(test_hostile_guest_handshake),
		cmocka_unit_test(test_hostile_guest),
		cmocka_unit_test(test_hostile_host),
		cmocka_unit_test(test_ring_violation_closes),
		cmocka_unit_test(test_offload),
		cmocka_unit_test(test_offload_hostile_guest),
		cmocka_unit_test(test_offload_one_sided),
	};

	/* The hostile tests provoke rate-limited warnings by design. */
	cvmbus_log_set_level(CVMBUS_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
