/* SPDX-License-Identifier: MIT */
/*
 * Tests of the guest's VMBus glue (src/client/guest*.c) on the real platform
 * model, against a scripted server written here: a message port on
 * connection id 4 whose handler answers with hand-built little-endian bytes
 * (VersionResponse, OfferChannel, AllOffersDelivered, GpadlCreated,
 * OpenResult, GpadlTorndown, UnloadResponse) through cvmbus_synic_post() on
 * the SynIC its owner would use, attaches a "host" channel endpoint to the
 * ring pages at OpenChannel (through the paravisor's view for a
 * confidential ring, the host's window otherwise) and registers the event
 * port of the channel. Each scenario runs as one executor run (native, or
 * deterministic for the seed sweep); checks inside it record the first
 * failure with its line, and the cmocka test asserts there was none.
 *
 * What is checked, per configuration: which pages the SynICs use and their
 * state (private / shared, with reasons), each register write's path in the
 * trace, the proxy bit, how InitiateContact arrived (path, trusted, bytes),
 * detection, the interrupt handler (event flags wake the right channel;
 * messages in both pages are consumed and EOM goes where it must; back-
 * pressure when the queue is full), an open channel end to end with a
 * packet each way, rescind and release, unload, and the teardown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/channel.h>
#include <cvmbus/exec.h>
#include <cvmbus/guest.h>
#include <cvmbus/log.h>
#include <cvmbus/memory.h>
#include <cvmbus/platform.h>
#include <cvmbus/trace.h>

#define MS    1000000ull
#define PAGE  4096u
#define RELID 5u
#define CONN  0x2005u /* the offer's signal connection id */
#define V60   0x00060000u
#define SRV_MAX_REC 64u

/* ---- bytes, by hand ------------------------------------------------------- */

static uint16_t rd16(const uint8_t *b, size_t off)
{
	return (uint16_t)(b[off] | b[off + 1] << 8);
}

static uint32_t rd32(const uint8_t *b, size_t off)
{
	return (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 |
	       (uint32_t)b[off + 3] << 24;
}

static uint64_t rd64(const uint8_t *b, size_t off)
{
	return (uint64_t)rd32(b, off) | (uint64_t)rd32(b, off + 4) << 32;
}

static void wr16(uint8_t *b, size_t off, uint16_t v)
{
	b[off] = (uint8_t)v;
	b[off + 1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *b, size_t off, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

/* storvsc's class, ba6163d9-04a1-4d29-b605-72e2ffb1dc7f, as Windows lays a
 * GUID out (data1-3 little-endian). */
static const uint8_t class_scsi[16] = {
	0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d,
	0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f,
};
/* Another class for the offers the handler tests inject. */
static const uint8_t class_other[16] = {
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
	0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00,
};

/* OfferChannel (196 bytes): type 1 @0, if_type @8, if_instance @24, flags
 * @56, child_relid @184, connection_id @192. */
static size_t msg_offer(uint8_t *b, const uint8_t *cls, uint32_t relid, uint16_t flags,
			uint32_t conn)
{
	memset(b, 0, 196);
	wr32(b, 0, 1);
	memcpy(b + 8, cls, 16);
	b[24] = (uint8_t)relid; /* instance: differs per relid */
	b[25] = 0x5a;
	wr16(b, 56, flags);
	wr32(b, 184, relid);
	wr32(b, 192, conn);
	return 196;
}

/* ---- the scenario record and its checks -------------------------------------- */

struct scen;

struct srv_rec {
	uint32_t type;
	uint32_t len;
	uint8_t bytes[HV_MESSAGE_PAYLOAD_SIZE];
	bool trusted;
	enum cvmbus_path path;
};

/* The scripted server: what a VMBus server (host or paravisor) answers,
 * written as bytes. */
struct srv {
	struct scen *s;
	struct cvmbus_mutex lock;
	struct srv_rec rec[SRV_MAX_REC];
	unsigned int nrec;
	bool msg_port;
	bool event_port;
	struct {
		uint32_t handle;
		uint64_t gpa;
		uint32_t pages;
	} gpadls[8];
	unsigned int ngpadl;
	uint32_t gpadl; /* the ring's, from OpenChannel */
	uint64_t ring_gpa;
	uint32_t ring_pages;
	uint32_t target_vp;
	_Atomic bool host_up;
	struct cvmbus_channel host;
	struct cvmbus_channel_ops host_ops;
	_Atomic uint64_t guest_signals;
	_Atomic int signal_path;
	_Atomic bool signal_trusted;
	char err[160]; /* the handler's first failure */
};

struct scen {
	/* configuration */
	enum cvmbus_arch arch;
	enum hv_isolation_type iso;
	bool pv;
	bool cvmbus; /* the paravisor offers Confidential VMBus (CPUID bit) */
	unsigned int vcpus;
	enum cvmbus_client_detect_strategy detect;
	enum cvmbus_mem_party owner;  /* who owns connection id 4 */
	enum cvmbus_synic_kind synic; /* where the server posts and signals */
	uint16_t offer_flags;
	bool late_port;               /* the port appears at attempt 1 only */
	unsigned int queue_depth;
	uint32_t target_vp;
	bool do_stall;                /* back-pressure check */
	bool do_rescind;              /* rescind + release instead of close */
	/* expectations */
	bool exp_conf;
	enum cvmbus_path exp_hyp_reg; /* hypervisor register path */
	enum cvmbus_path exp_post;    /* InitiateContact path */
	enum cvmbus_path exp_signal;
	bool exp_trusted;
	/* run state */
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct cvmbus_guest *g;
	struct srv srv;
	struct cvmbus_completion unblock;
	_Atomic bool blocking;
	_Atomic unsigned int rescinds;
	/* results */
	char why[256];
	uint64_t trace_hash;
};

#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			if (!s->why[0])                                                   \
				snprintf(s->why, sizeof(s->why), "line %d: %s", __LINE__, #c); \
			goto out;                                                         \
		}                                                                         \
	} while (0)

/* Poll until cond holds, sleeping on the executor clock (virtual under det). */
#define WAIT_FOR(cond)                                                       \
	do {                                                                 \
		for (int w_ = 0; w_ < 3000 && !(cond); w_++)                 \
			cvmbus_exec_sleep_ns(s->exec, MS);                   \
		CHECK(cond);                                                 \
	} while (0)

static uint32_t reg_num(const struct scen *s, uint32_t msr)
{
	if (s->arch != CVMBUS_ARCH_ARM64)
		return msr;
	switch (msr) {
	case HV_X64_MSR_SCONTROL:
		return HV_REGISTER_SCONTROL;
	case HV_X64_MSR_SIMP:
		return HV_REGISTER_SIMP;
	case HV_X64_MSR_SIEFP:
		return HV_REGISTER_SIEFP;
	case HV_X64_MSR_EOM:
		return HV_REGISTER_EOM;
	default:
		return HV_REGISTER_SINT0 + (msr - HV_X64_MSR_SINT0);
	}
}

/* Guest register writes of vCPU 0 in the trace: to `synic`, register
 * `msr`; the path and value of the last one (CVMBUS_PATH_COUNT if none). */
static size_t guest_reg_writes(const struct scen *s, enum cvmbus_synic_kind synic, uint32_t msr,
			       enum cvmbus_path *path, uint64_t *value)
{
	struct cvmbus_trace *t = cvmbus_platform_trace(s->p);
	uint32_t reg = reg_num(s, msr);
	size_t n = 0;

	if (path)
		*path = CVMBUS_PATH_COUNT;
	for (size_t i = 0; i < cvmbus_trace_buffer_count(t); i++) {
		const struct cvmbus_trace_event *ev = cvmbus_trace_buffer_at(t, i);

		if (ev->kind != CVMBUS_TRACE_REG || !ev->write || ev->err || ev->vp != 0 ||
		    ev->from != CVMBUS_MEM_PARTY_GUEST || ev->synic != synic || ev->reg != reg)
			continue;
		n++;
		if (path)
			*path = ev->path;
		if (value)
			*value = ev->value;
	}
	return n;
}

static size_t trace_count(const struct scen *s, enum cvmbus_trace_kind kind,
			  enum cvmbus_synic_kind synic, int path, const char *note)
{
	struct cvmbus_trace *t = cvmbus_platform_trace(s->p);
	size_t n = 0;

	for (size_t i = 0; i < cvmbus_trace_buffer_count(t); i++) {
		const struct cvmbus_trace_event *ev = cvmbus_trace_buffer_at(t, i);

		if (ev->kind != kind || (synic != CVMBUS_SYNIC_NONE && ev->synic != synic) ||
		    (path >= 0 && (int)ev->path != path) ||
		    (note && (!ev->note || strcmp(ev->note, note))))
			continue;
		n++;
	}
	return n;
}

/* The last record of a message type (NULL if none). */
static const struct srv_rec *srv_find(struct srv *v, uint32_t type, unsigned int *index)
{
	const struct srv_rec *r = NULL;

	cvmbus_mutex_lock(&v->lock);
	for (unsigned int i = 0; i < v->nrec; i++)
		if (v->rec[i].type == type) {
			r = &v->rec[i];
			if (index)
				*index = i;
		}
	cvmbus_mutex_unlock(&v->lock);
	return r;
}

static size_t n_offers(struct cvmbus_guest *g)
{
	size_t n = 0;

	(void)cvmbus_guest_offers(g, NULL, 0, &n);
	return n;
}

/* ---- the scripted server --------------------------------------------------------- */

static void srv_fail(struct srv *v, const char *what)
{
	cvmbus_mutex_lock(&v->lock);
	if (!v->err[0])
		snprintf(v->err, sizeof(v->err), "server: %s", what);
	cvmbus_mutex_unlock(&v->lock);
}

static void srv_post(struct srv *v, uint32_t vp, const uint8_t *b, size_t len)
{
	if (cvmbus_synic_post(v->s->p, v->s->synic, vp, VMBUS_MESSAGE_SINT, HVMSG_VMBUS, b,
			      (uint32_t)len))
		srv_fail(v, "post to the guest failed");
}

static void srv_host_signal(void *ctx)
{
	struct srv *v = ctx;

	(void)cvmbus_synic_signal(v->s->p, v->s->synic, v->target_vp, VMBUS_MESSAGE_SINT, RELID);
}

static void srv_on_event(void *ctx, const struct cvmbus_port_event *ev)
{
	struct srv *v = ctx;

	atomic_fetch_add(&v->guest_signals, 1);
	atomic_store(&v->signal_path, (int)ev->path);
	atomic_store(&v->signal_trusted, ev->trusted);
	if (atomic_load(&v->host_up))
		cvmbus_channel_notify(&v->host);
}

/* OpenChannel: attach the host endpoint to the ring the GPADL described,
 * through the view the owner of a channel of this kind would use. */
static int srv_attach(struct srv *v, uint32_t downstream_off)
{
	struct scen *s = v->s;
	struct cvmbus_mem *mem = cvmbus_platform_mem(s->p);
	size_t len = (size_t)v->ring_pages * PAGE;
	struct cvmbus_channel_config cfg;
	struct cvmbus_port_config pc;
	void *region;
	int rc;

	if (s->offer_flags & 0x2)
		rc = cvmbus_mem_ptr(mem, CVMBUS_MEM_VIEW_PARAVISOR, v->ring_gpa, len, &region);
	else
		rc = cvmbus_mem_host_ptr(cvmbus_mem_host(mem), cvmbus_mem_gpa_to_alias(mem, v->ring_gpa),
					 len, &region);
	if (rc)
		return rc;
	memset(&cfg, 0, sizeof(cfg));
	rc = cvmbus_ring_split(region, len, downstream_off, &cfg.upstream, &cfg.downstream);
	if (rc)
		return rc;
	v->host_ops.signal = srv_host_signal;
	cfg.exec = s->exec;
	cfg.endpoint = CVMBUS_RING_ENDPOINT_HOST;
	cfg.mode = CVMBUS_RING_ATTACH; /* the guest formatted it */
	cfg.ops = &v->host_ops;
	cfg.ctx = v;
	rc = cvmbus_channel_init(&v->host, &cfg);
	if (rc)
		return rc;
	atomic_store(&v->host_up, true);
	memset(&pc, 0, sizeof(pc));
	pc.connection_id = CONN;
	pc.kind = CVMBUS_PORT_EVENT;
	pc.owner = s->owner;
	pc.on_event = srv_on_event;
	pc.ctx = v;
	rc = cvmbus_port_add(s->p, &pc);
	if (!rc)
		v->event_port = true;
	return rc;
}

static void srv_detach(struct srv *v)
{
	if (v->event_port) {
		(void)cvmbus_port_remove(v->s->p, CONN);
		v->event_port = false;
	}
	if (atomic_exchange(&v->host_up, false))
		cvmbus_channel_destroy(&v->host);
}

static void srv_on_message(void *ctx, const struct cvmbus_port_message *m)
{
	struct srv *v = ctx;
	struct scen *s = v->s;
	const uint8_t *b = m->payload;
	uint8_t out[HV_MESSAGE_PAYLOAD_SIZE];
	uint32_t type;

	if (m->size < 8 || m->size > HV_MESSAGE_PAYLOAD_SIZE) {
		srv_fail(v, "short or long message");
		return;
	}
	type = rd32(b, 0);
	cvmbus_mutex_lock(&v->lock);
	if (v->nrec < SRV_MAX_REC) {
		struct srv_rec *r = &v->rec[v->nrec++];

		r->type = type;
		r->len = m->size;
		memcpy(r->bytes, b, m->size);
		r->trusted = m->trusted;
		r->path = m->path;
	}
	cvmbus_mutex_unlock(&v->lock);

	memset(out, 0, sizeof(out));
	switch (type) {
	case 14: /* InitiateContact -> VersionResponse: 15 @0, supported @8, conn id @12 */
		wr32(out, 0, 15);
		out[8] = rd32(b, 8) == V60;
		wr32(out, 12, VMBUS_MESSAGE_CONNECTION_ID_4);
		srv_post(v, rd32(b, 12), out, 16);
		break;
	case 3: /* RequestOffers -> one offer, then AllOffersDelivered (4) */
		srv_post(v, 0, out, msg_offer(out, class_scsi, RELID, s->offer_flags, CONN));
		memset(out, 0, sizeof(out));
		wr32(out, 0, 4);
		srv_post(v, 0, out, 8);
		break;
	case 8: { /* GpadlHeader: relid @8, gpadl @12, rangecount @18, range @20 */
		uint32_t bytes = rd32(b, 20), pages = bytes / PAGE;

		if (rd16(b, 18) != 1 || rd32(b, 24) != 0 || !pages || bytes % PAGE ||
		    28u + 8u * pages > m->size) {
			srv_fail(v, "gpadl header not as scripted");
			break;
		}
		for (uint32_t i = 1; i < pages; i++)
			if (rd64(b, 28 + 8 * i) != rd64(b, 28) + i)
				srv_fail(v, "gpadl pages not contiguous");
		if (v->ngpadl == 8) {
			srv_fail(v, "too many gpadls");
			break;
		}
		v->gpadls[v->ngpadl].handle = rd32(b, 12);
		v->gpadls[v->ngpadl].gpa = rd64(b, 28) * PAGE;
		v->gpadls[v->ngpadl].pages = pages;
		v->ngpadl++;
		wr32(out, 0, 10); /* GpadlCreated: relid, gpadl, status 0 */
		wr32(out, 8, rd32(b, 8));
		wr32(out, 12, rd32(b, 12));
		srv_post(v, 0, out, 20);
		break;
	}
	case 5: /* OpenChannel: relid @8, openid @12, gpadl @16, target_vp @20, offset @24 */
		v->target_vp = rd32(b, 20);
		v->gpadl = rd32(b, 16);
		v->ring_pages = 0;
		for (unsigned int i = 0; i < v->ngpadl; i++)
			if (v->gpadls[i].handle == v->gpadl) {
				v->ring_gpa = v->gpadls[i].gpa;
				v->ring_pages = v->gpadls[i].pages;
			}
		if (!v->ring_pages || srv_attach(v, rd32(b, 24)))
			srv_fail(v, "cannot attach the host endpoint");
		wr32(out, 0, 6); /* OpenResult: relid, openid, status 0 */
		wr32(out, 8, rd32(b, 8));
		wr32(out, 12, rd32(b, 12));
		srv_post(v, 0, out, 20);
		break;
	case 7: /* CloseChannel: the host lets go of the ring */
		srv_detach(v);
		break;
	case 11: /* GpadlTeardown -> GpadlTorndown (12): gpadl @8 */
		wr32(out, 0, 12);
		wr32(out, 8, rd32(b, 12));
		srv_post(v, 0, out, 12);
		break;
	case 16: /* Unload -> UnloadResponse (17) */
		wr32(out, 0, 17);
		srv_post(v, 0, out, 8);
		break;
	default: /* RelIdReleased and friends: recorded only */
		break;
	}
}

static int srv_register(struct scen *s)
{
	struct cvmbus_port_config pc;
	int rc;

	memset(&pc, 0, sizeof(pc));
	pc.connection_id = VMBUS_MESSAGE_CONNECTION_ID_4;
	pc.kind = CVMBUS_PORT_MESSAGE;
	pc.owner = s->owner;
	pc.on_message = srv_on_message;
	pc.ctx = &s->srv;
	rc = cvmbus_port_add(s->p, &pc);
	if (!rc)
		s->srv.msg_port = true;
	return rc;
}

/* ---- guest callbacks ------------------------------------------------------------------ */

static void scen_attempt(void *ctx, unsigned int index, const struct cvmbus_client_attempt *a)
{
	struct scen *s = ctx;

	(void)a;
	/* PROBE: the paravisor had no server (the first attempt gets
	 * INVALID_CONNECTION_ID); one shows up for the fallback. */
	if (s->late_port && index == 1 && !s->srv.msg_port)
		(void)srv_register(s);
}

static void scen_event(void *ctx, const struct cvmbus_client_event *ev)
{
	struct scen *s = ctx;

	if (ev->type == CVMBUS_CLIENT_EV_RESCIND)
		atomic_fetch_add(&s->rescinds, 1);
	/* Back-pressure test: hold the control thread inside the callback, so
	 * that nobody drains the handler's queue. */
	if (ev->type == CVMBUS_CLIENT_EV_OFFER && ev->relid == 20 && atomic_load(&s->blocking))
		(void)cvmbus_completion_wait(&s->unblock, CVMBUS_EXEC_FOREVER);
}

/* ---- scenario steps ----------------------------------------------------------------- */

static int check_synic_setup(struct scen *s)
{
	struct cvmbus_mem *mem = cvmbus_platform_mem(s->p);
	uint64_t boundary = cvmbus_mem_shared_gpa_boundary(mem);
	struct cvmbus_guest_synic_report rep;
	struct cvmbus_mem_exposure_page ep;
	enum cvmbus_path path;
	uint64_t v, val = 0, gpa;
	uint64_t sint = 0xF3u | (s->arch == CVMBUS_ARCH_X86_64 ? HV_SINT_AUTO_EOI : 0);

	CHECK(cvmbus_guest_synic_report(s->g, 0, &rep) == 0);
	CHECK(rep.confidential == s->exp_conf);

	if (s->pv) {
		/* SINT2 on the paravisor, by direct MSR: proxy only when the
		 * connection is not confidential. */
		CHECK(cvmbus_synic_peek(s->p, CVMBUS_SYNIC_PARAVISOR, 0, HV_X64_MSR_SINT0 + 2, &v) == 0);
		CHECK(v == (sint | (s->exp_conf ? 0 : HV_SINT_PROXY)));
		CHECK(guest_reg_writes(s, CVMBUS_SYNIC_PARAVISOR, HV_X64_MSR_SINT0 + 2, &path, &val) >= 1);
		CHECK(path == CVMBUS_PATH_PARAVISOR_TRAP && val == v);
	}
	if (s->exp_conf) {
		/* The paravisor's pages: guest RAM that stayed private. */
		CHECK(cvmbus_synic_peek(s->p, CVMBUS_SYNIC_PARAVISOR, 0, HV_X64_MSR_SIMP, &v) == 0);
		CHECK(v & HV_SYNIC_PAGE_ENABLE);
		gpa = v & HV_SYNIC_PAGE_BASE_MASK;
		CHECK(cvmbus_mem_page_state(mem, gpa) == CVMBUS_MEM_PAGE_PRIVATE);
		CHECK(gpa == rep.paravisor.simp_gpa && rep.paravisor.pages_private);
		CHECK(cvmbus_synic_peek(s->p, CVMBUS_SYNIC_PARAVISOR, 0, HV_X64_MSR_SIEFP, &v) == 0);
		CHECK(v & HV_SYNIC_PAGE_ENABLE);
		CHECK(cvmbus_mem_page_state(mem, v & HV_SYNIC_PAGE_BASE_MASK) == CVMBUS_MEM_PAGE_PRIVATE);
		/* The host cannot read them. */
		CHECK(cvmbus_mem_host_read(cvmbus_mem_host(mem), cvmbus_mem_gpa_to_alias(mem, gpa), &val,
					   8) == -EFAULT);
		CHECK(guest_reg_writes(s, CVMBUS_SYNIC_PARAVISOR, HV_X64_MSR_SIMP, &path, NULL) == 1);
		CHECK(path == CVMBUS_PATH_PARAVISOR_TRAP);
		CHECK(guest_reg_writes(s, CVMBUS_SYNIC_PARAVISOR, HV_X64_MSR_SIEFP, &path, NULL) == 1);
		CHECK(path == CVMBUS_PATH_PARAVISOR_TRAP);
		CHECK(guest_reg_writes(s, CVMBUS_SYNIC_PARAVISOR, HV_X64_MSR_SCONTROL, &path, NULL) == 1);
		CHECK(path == CVMBUS_PATH_PARAVISOR_TRAP);
		/* Linux leaves the hypervisor's SCONTROL alone then. */
		CHECK(guest_reg_writes(s, CVMBUS_SYNIC_HYPERVISOR, HV_X64_MSR_SCONTROL, NULL, NULL) == 0);
	} else {
		if (s->pv) {
			CHECK(!rep.paravisor.used);
			CHECK(cvmbus_synic_peek(s->p, CVMBUS_SYNIC_PARAVISOR, 0, HV_X64_MSR_SIMP, &v) == 0);
			CHECK(!(v & HV_SYNIC_PAGE_ENABLE));
		}
		CHECK(guest_reg_writes(s, CVMBUS_SYNIC_HYPERVISOR, HV_X64_MSR_SCONTROL, &path, NULL) >= 1);
		CHECK(path == s->exp_hyp_reg);
		CHECK(cvmbus_synic_peek(s->p, CVMBUS_SYNIC_HYPERVISOR, 0, HV_X64_MSR_SCONTROL, &v) == 0);
		CHECK(v == HV_SCONTROL_ENABLE);
	}

	/* The hypervisor's SINT2, over the hypervisor's path. */
	CHECK(cvmbus_synic_peek(s->p, CVMBUS_SYNIC_HYPERVISOR, 0, HV_X64_MSR_SINT0 + 2, &v) == 0);
	CHECK(v == sint);
	CHECK(guest_reg_writes(s, CVMBUS_SYNIC_HYPERVISOR, HV_X64_MSR_SINT0 + 2, &path, &val) >= 1);
	CHECK(path == s->exp_hyp_reg && val == sint);

	/* The hypervisor's pages: host-visible; supplied with a paravisor,
	 * the guest's own (with reasons) without. */
	CHECK(cvmbus_synic_peek(s->p, CVMBUS_SYNIC_HYPERVISOR, 0, HV_X64_MSR_SIMP, &v) == 0);
	CHECK(v & HV_SYNIC_PAGE_ENABLE);
	gpa = (v & HV_SYNIC_PAGE_BASE_MASK) & ~boundary;
	CHECK(gpa == rep.hypervisor.simp_gpa && !rep.hypervisor.pages_private);
	CHECK(rep.hypervisor.pages_supplied == s->pv);
	if (s->iso != HV_ISOLATION_TYPE_NONE) {
		CHECK(cvmbus_mem_page_state(mem, gpa) == CVMBUS_MEM_PAGE_SHARED);
		CHECK(cvmbus_mem_exposure_page(mem, gpa, &ep) == 0 && ep.visible_now);
		CHECK(cvmbus_mem_page_state(mem, rep.hypervisor.siefp_gpa) == CVMBUS_MEM_PAGE_SHARED);
	}
	if (!s->pv) {
		CHECK(guest_reg_writes(s, CVMBUS_SYNIC_HYPERVISOR, HV_X64_MSR_SIMP, &path, &val) == 1);
		CHECK(path == s->exp_hyp_reg && val == (gpa | HV_SYNIC_PAGE_ENABLE));
		if (s->iso != HV_ISOLATION_TYPE_NONE) {
			CHECK(ep.party == CVMBUS_MEM_PARTY_GUEST && !strcmp(ep.reason, "synic-message"));
			CHECK(cvmbus_mem_exposure_page(mem, rep.hypervisor.siefp_gpa, &ep) == 0);
			CHECK(ep.party == CVMBUS_MEM_PARTY_GUEST && !strcmp(ep.reason, "synic-event"));
		}
	}
	return 0;
out:
	return -1;
}

/* InitiateContact as the server got it. Expected bytes by hand: type 14,
 * version 6.0, target_vcpu 0, msg_sint 2, msg_vtl 0, feature flags. */
static int check_connected(struct scen *s)
{
	uint8_t expect[24] = {
		0x0e, 0, 0, 0, 0, 0, 0, 0, /* header */
		0x00, 0x00, 0x06, 0x00,    /* 6.0 */
		0, 0, 0, 0,                /* target_vcpu */
		0x02, 0x00, 0x00, 0x00,    /* msg_sint, msg_vtl, reserved */
		0, 0, 0, 0,                /* feature_flags */
	};
	uint64_t boundary = cvmbus_mem_shared_gpa_boundary(cvmbus_platform_mem(s->p));
	struct cvmbus_guest_offer o;
	struct cvmbus_guest_info info;
	const struct srv_rec *r;

	if (s->exp_conf)
		expect[20] = 0x10; /* CONFIDENTIAL_CHANNELS */
	r = srv_find(&s->srv, 14, NULL);
	CHECK(r && r->len == 40);
	CHECK(!memcmp(r->bytes, expect, sizeof(expect)));
	CHECK(r->path == s->exp_post && r->trusted == s->exp_trusted);
	/* Monitor pages carry the shared-GPA boundary (vTOM). */
	CHECK((rd64(r->bytes, 24) & boundary) == boundary && (rd64(r->bytes, 32) & boundary) == boundary);

	cvmbus_guest_get_info(s->g, &info);
	CHECK(info.state == CVMBUS_GUEST_CONNECTED);
	CHECK(info.version == V60);
	CHECK(info.confidential == s->exp_conf);
	CHECK((info.features & 0x10) == (s->exp_conf ? 0x10u : 0u));
	CHECK(info.post_path == s->exp_post && info.signal_path == s->exp_signal);
	CHECK(info.detection.winner >= 0);
	CHECK(info.detection.winner == (int)info.detection.attempts - 1);
	CHECK(info.detection.attempt[info.detection.winner].post_path == s->exp_post);
	CHECK(info.shared_gpa_boundary == boundary);
	/* The guest's own record of the control plane: InitiateContact out on
	 * its path, VersionResponse in. */
	CHECK(trace_count(s, CVMBUS_TRACE_MSG, CVMBUS_SYNIC_NONE, (int)s->exp_post, NULL) >= 2);
	CHECK(trace_count(s, CVMBUS_TRACE_MSG, CVMBUS_SYNIC_HYPERVISOR, -1, NULL) +
	      trace_count(s, CVMBUS_TRACE_MSG, CVMBUS_SYNIC_PARAVISOR, -1, NULL) >= 3);

	CHECK(n_offers(s->g) == 1);
	CHECK(cvmbus_guest_find_offer(s->g, (const struct cvmbus_guid *)class_scsi, &o) == 0);
	CHECK(o.relid == RELID && o.connection_id == CONN && o.flags == s->offer_flags);
	CHECK(o.confidential_ring == ((s->offer_flags & 0x2) != 0) && !o.rescinded && !o.open);
	CHECK(cvmbus_guest_find_offer(s->g, (const struct cvmbus_guid *)class_other, &o) == -ENOENT);
	return 0;
out:
	return -1;
}

/* Runs on vCPU 0: while it runs, the vCPU takes no interrupt, so two
 * messages per SynIC pile up (the second one pending) before the handler
 * sees any. */
static void post_four(void *arg)
{
	struct scen *s = arg;
	uint8_t b[HV_MESSAGE_PAYLOAD_SIZE];
	enum cvmbus_synic_kind second = s->exp_conf ? CVMBUS_SYNIC_PARAVISOR : s->synic;

	for (uint32_t relid = 10; relid < 14; relid++) {
		enum cvmbus_synic_kind k = relid < 12 ? CVMBUS_SYNIC_HYPERVISOR : second;

		if (!s->exp_conf && relid >= 12)
			break; /* one SynIC carries everything: two are enough */
		(void)cvmbus_synic_post(s->p, k, 0, VMBUS_MESSAGE_SINT, HVMSG_VMBUS, b,
					(uint32_t)msg_offer(b, class_other, relid, 0, 0x2000 + relid));
	}
}

static void noop(void *arg)
{
	(void)arg;
}

static int check_isr_messages(struct scen *s)
{
	struct cvmbus_guest_stats a, b;
	size_t before = n_offers(s->g), want = s->exp_conf ? 4 : 2;
	enum cvmbus_path eom = s->exp_conf ? CVMBUS_PATH_PARAVISOR_TRAP : s->exp_hyp_reg;

	cvmbus_guest_get_stats(s->g, &a);
	CHECK(cvmbus_vcpu_call(s->p, 0, post_four, s) == 0);
	WAIT_FOR(n_offers(s->g) == before + want);
	cvmbus_guest_get_stats(s->g, &b);
	if (s->exp_conf) {
		CHECK(b.messages[CVMBUS_CLIENT_PATH_HYPERVISOR] - a.messages[CVMBUS_CLIENT_PATH_HYPERVISOR] == 2);
		CHECK(b.messages[CVMBUS_CLIENT_PATH_PARAVISOR] - a.messages[CVMBUS_CLIENT_PATH_PARAVISOR] == 2);
		/* One EOM per page (its first message had a second behind it),
		 * both to the paravisor, also the one for the hypervisor's page;
		 * the paravisor passed that one on. */
		CHECK(b.eoms[CVMBUS_PATH_PARAVISOR_TRAP] - a.eoms[CVMBUS_PATH_PARAVISOR_TRAP] == 2);
		CHECK(b.eoms[s->exp_hyp_reg] == a.eoms[s->exp_hyp_reg]);
		CHECK(trace_count(s, CVMBUS_TRACE_EOM, CVMBUS_SYNIC_HYPERVISOR,
				  CVMBUS_PATH_PARAVISOR_TRAP, "forwarded by paravisor") >= 1);
	} else {
		CHECK(b.messages[CVMBUS_CLIENT_PATH_HYPERVISOR] - a.messages[CVMBUS_CLIENT_PATH_HYPERVISOR] == 2);
		CHECK(b.messages[CVMBUS_CLIENT_PATH_PARAVISOR] == 0);
		CHECK(b.eoms[eom] - a.eoms[eom] == 1);
		CHECK(b.eoms[CVMBUS_PATH_PARAVISOR_TRAP] == 0);
		CHECK(trace_count(s, CVMBUS_TRACE_EOM, CVMBUS_SYNIC_HYPERVISOR, (int)eom, "redeliver") >= 1);
	}
	CHECK(b.eom_failures == 0);
	/* arm64: no auto-EOI, the handler ends its interrupts itself. */
	if (s->arch == CVMBUS_ARCH_ARM64)
		CHECK(trace_count(s, CVMBUS_TRACE_EOI, CVMBUS_SYNIC_NONE, -1, NULL) >= 2);
	else
		CHECK(trace_count(s, CVMBUS_TRACE_EOI, CVMBUS_SYNIC_NONE, -1, NULL) == 0);
	CHECK(trace_count(s, CVMBUS_TRACE_EOM, s->exp_conf ? CVMBUS_SYNIC_PARAVISOR
							   : CVMBUS_SYNIC_HYPERVISOR,
			  (int)eom, NULL) >= 1);
	for (uint32_t relid = 10; relid < 10 + want; relid++) {
		struct cvmbus_guest_channel_report cr;

		CHECK(cvmbus_guest_channel_report(s->g, relid, &cr) == 0 && cr.connection_id == 0x2000 + relid);
	}

	/* An event flag with no channel behind it: counted, nothing else. */
	CHECK(cvmbus_synic_signal(s->p, s->synic, 0, VMBUS_MESSAGE_SINT, 77) == 1);
	CHECK(cvmbus_vcpu_call(s->p, 0, noop, NULL) == 0);
	cvmbus_guest_get_stats(s->g, &a);
	CHECK(a.unknown_relid_events == 1);
	return 0;
out:
	return -1;
}

/* Back-pressure: a queue of one, the control thread held in a callback;
 * the handler must leave messages in their slots (not lose them), and the
 * control thread must fetch them once it runs again. */
static int check_stall(struct scen *s)
{
	uint8_t b[HV_MESSAGE_PAYLOAD_SIZE];
	struct cvmbus_guest_stats st;
	size_t before = n_offers(s->g);

	atomic_store(&s->blocking, true);
	for (uint32_t relid = 20; relid < 24; relid++)
		CHECK(cvmbus_synic_post(s->p, s->synic, 0, VMBUS_MESSAGE_SINT, HVMSG_VMBUS, b,
					(uint32_t)msg_offer(b, class_other, relid, 0, 0x3000)) == 0);
	cvmbus_guest_get_stats(s->g, &st);
	WAIT_FOR((cvmbus_guest_get_stats(s->g, &st), st.queue_stalls >= 1));
	atomic_store(&s->blocking, false);
	cvmbus_completion_complete(&s->unblock);
	WAIT_FOR(n_offers(s->g) == before + 4);
	cvmbus_guest_get_stats(s->g, &st);
	CHECK(st.rescans >= 1);
	return 0;
out:
	atomic_store(&s->blocking, false);
	cvmbus_completion_complete(&s->unblock);
	return -1;
}

/* A device buffer GPADL, and DMA as a host does it: bytes written through
 * the buffer's shared alias, a GPA-direct packet naming that alias, the
 * guest reading the range through its own view (boundary stripped). */
static int check_buffer(struct scen *s, struct cvmbus_channel *ch)
{
	struct cvmbus_mem *mem = cvmbus_platform_mem(s->p);
	struct cvmbus_mem_exposure_page ep;
	struct cvmbus_ring_gpa_range range;
	struct cvmbus_ring_gpa_view gv;
	struct cvmbus_ring_outpkt out;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_ring_iov iov = { "hdr!", 4 };
	const struct srv_rec *r;
	uint32_t handle, cursor = 0;
	uint64_t gpa, pfn;
	char got[4];

	CHECK(cvmbus_guest_gpadl_create(s->g, RELID, 2 * PAGE, &handle, &gpa) == 0);
	CHECK(handle == 0xE1E11u); /* the ring had 0xE1E10 */
	r = srv_find(&s->srv, 8, NULL);
	CHECK(r && rd32(r->bytes, 8) == RELID && rd32(r->bytes, 12) == handle);
	CHECK(rd32(r->bytes, 20) == 2 * PAGE && rd64(r->bytes, 28) == gpa / PAGE);
	if (s->iso != HV_ISOLATION_TYPE_NONE) {
		/* No confidential external memory (0x4) in these offers. */
		CHECK(cvmbus_mem_page_state(mem, gpa) == CVMBUS_MEM_PAGE_SHARED);
		CHECK(cvmbus_mem_exposure_page(mem, gpa, &ep) == 0);
		CHECK(ep.party == CVMBUS_MEM_PARTY_GUEST && !strcmp(ep.reason, "vmbus-buffer"));
	}
	CHECK(cvmbus_mem_host_write(cvmbus_mem_host(mem), cvmbus_mem_gpa_to_alias(mem, gpa + 8),
				    "DMA!", 4) == 0);
	pfn = cvmbus_mem_gpa_to_alias(mem, gpa) / PAGE;
	range.byte_count = 4;
	range.byte_offset = 8;
	range.pfns = &pfn;
	range.pfn_count = 1;
	memset(&out, 0, sizeof(out));
	out.type = CVMBUS_RING_PKT_GPA_DIRECT;
	out.trans_id = 0x2222;
	out.gpa = &range;
	out.gpa_count = 1;
	out.payload = &iov;
	out.payload_count = 1;
	CHECK(cvmbus_channel_send(&s->srv.host, &out, 2000 * MS) == 0);
	CHECK(cvmbus_channel_recv(ch, &pkt, 2000 * MS) == 0);
	CHECK(pkt.type == CVMBUS_RING_PKT_GPA_DIRECT && pkt.trans_id == 0x2222);
	CHECK(cvmbus_ring_packet_gpa_range(&pkt, &cursor, &gv) == 1);
	CHECK(cvmbus_channel_gpa_read(ch, &gv, 0, got, 4) == 0 && !memcmp(got, "DMA!", 4));
	CHECK(cvmbus_guest_gpadl_teardown(s->g, RELID, handle) == 0);
	CHECK(srv_find(&s->srv, 11, NULL));
	if (s->iso != HV_ISOLATION_TYPE_NONE)
		CHECK(cvmbus_mem_page_state(mem, gpa) == CVMBUS_MEM_PAGE_PRIVATE);
	CHECK(cvmbus_guest_gpadl_teardown(s->g, RELID, handle) == -ENOENT);
	return 0;
out:
	return -1;
}

static int check_channel(struct scen *s)
{
	static const char ping[] = "ping from the guest";
	struct cvmbus_mem *mem = cvmbus_platform_mem(s->p);
	struct cvmbus_guest_open_params op;
	struct cvmbus_guest_channel_report cr;
	struct cvmbus_guest_offer o;
	struct cvmbus_ring_packet pkt;
	struct cvmbus_channel *ch = NULL;
	struct cvmbus_guest_info info;
	const struct srv_rec *r;
	enum cvmbus_client_path src;
	bool conf_ring = (s->offer_flags & 0x2) != 0;
	uint64_t word;

	memset(&op, 0, sizeof(op));
	op.send_bytes = 4 * PAGE;
	op.recv_bytes = 4 * PAGE;
	op.user_data = "ud";
	op.user_data_len = 2;
	op.target_vp = s->target_vp;
	CHECK(cvmbus_guest_open(s->g, RELID, &op, &ch) == 0 && ch);
	CHECK(!s->srv.err[0]);

	CHECK(cvmbus_guest_channel_report(s->g, RELID, &cr) == 0);
	CHECK(cr.open && cr.send_bytes == 4 * PAGE && cr.recv_bytes == 4 * PAGE);
	CHECK(cr.signal_path == s->exp_signal && cr.target_vp == s->target_vp);
	CHECK(cr.ring_gpa == s->srv.ring_gpa && s->srv.ring_pages == 8);
	if (s->iso != HV_ISOLATION_TYPE_NONE) {
		int want = conf_ring ? CVMBUS_MEM_PAGE_PRIVATE : CVMBUS_MEM_PAGE_SHARED;

		CHECK(cr.ring_private == conf_ring);
		CHECK(cvmbus_mem_page_state(mem, cr.ring_gpa) == want);
		CHECK(cvmbus_mem_page_state(mem, cr.ring_gpa + 7 * PAGE) == want);
		if (conf_ring)
			CHECK(cvmbus_mem_host_read(cvmbus_mem_host(mem),
						   cvmbus_mem_gpa_to_alias(mem, cr.ring_gpa), &word,
						   8) == -EFAULT);
	}
	/* OpenChannel as sent: relid, openid = relid, the ring GPADL (the
	 * first handle, 0xE1E10), target_vp, downstream offset 4 pages. */
	r = srv_find(&s->srv, 5, NULL);
	CHECK(r && r->len >= 148);
	CHECK(rd32(r->bytes, 8) == RELID && rd32(r->bytes, 12) == RELID);
	CHECK(rd32(r->bytes, 16) == 0xE1E10u && rd32(r->bytes, 20) == s->target_vp);
	CHECK(rd32(r->bytes, 24) == 4 && r->bytes[28] == 'u' && r->bytes[29] == 'd');
	CHECK(r->path == s->exp_post && r->trusted == s->exp_trusted);

	/* A packet each way. */
	CHECK(cvmbus_channel_send_inband(ch, CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED, 0x1111, ping,
					 sizeof(ping), 2000 * MS) == 0);
	CHECK(cvmbus_channel_recv(&s->srv.host, &pkt, 2000 * MS) == 0);
	CHECK(pkt.type == CVMBUS_RING_PKT_INBAND && pkt.trans_id == 0x1111);
	CHECK(pkt.payload_len >= sizeof(ping) && !memcmp(pkt.payload, ping, sizeof(ping)));
	CHECK(cvmbus_channel_send_completion(&s->srv.host, 0x1111, "pong", 4, 2000 * MS) == 0);
	CHECK(cvmbus_channel_recv(ch, &pkt, 2000 * MS) == 0);
	CHECK(pkt.type == CVMBUS_RING_PKT_COMPLETION && pkt.trans_id == 0x1111);
	CHECK(!memcmp(pkt.payload, "pong", 4));

	/* Interrupts raised so far are taken before a call on that vCPU. */
	CHECK(cvmbus_vcpu_call(s->p, s->target_vp, noop, NULL) == 0);
	/* Its interrupts came from the SynIC the server signals (the
	 * hypervisor's when the paravisor's SINT is proxied); its signals
	 * went out on the connection's path. */
	src = s->synic == CVMBUS_SYNIC_PARAVISOR && s->exp_conf ? CVMBUS_CLIENT_PATH_PARAVISOR
								: CVMBUS_CLIENT_PATH_HYPERVISOR;
	CHECK(cvmbus_guest_channel_report(s->g, RELID, &cr) == 0);
	CHECK(cr.events[src] >= 1 && cr.events[1 - src] == 0);
	CHECK(cr.signals >= 1 && cr.signal_failures == 0);
	CHECK(atomic_load(&s->srv.guest_signals) >= 1);
	CHECK(atomic_load(&s->srv.signal_path) == (int)s->exp_signal);
	CHECK(atomic_load(&s->srv.signal_trusted) == s->exp_trusted);
	CHECK(check_buffer(s, ch) == 0);

	if (s->do_rescind) {
		uint8_t b[12] = { 2, 0, 0, 0, 0, 0, 0, 0, RELID, 0, 0, 0 };
		unsigned int ic, it, ir;

		CHECK(cvmbus_synic_post(s->p, s->synic, 0, VMBUS_MESSAGE_SINT, HVMSG_VMBUS, b, 12) == 0);
		WAIT_FOR(atomic_load(&s->rescinds) == 1);
		/* The driver's waits end: the channel is closed. */
		CHECK(cvmbus_channel_recv(ch, &pkt, 0) == -ESHUTDOWN);
		CHECK(cvmbus_guest_find_offer(s->g, (const struct cvmbus_guid *)class_scsi, &o) == -ENOENT);
		CHECK(cvmbus_guest_release(s->g, RELID) == 0);
		/* RelIdReleased is posted, not answered: the port may lag. */
		WAIT_FOR(srv_find(&s->srv, 13, NULL));
		CHECK(srv_find(&s->srv, 7, &ic) && srv_find(&s->srv, 11, &it) &&
		      srv_find(&s->srv, 13, &ir));
		CHECK(ic < it && it < ir);
		CHECK(cvmbus_guest_channel_report(s->g, RELID, &cr) == -ENOENT);
	} else {
		CHECK(cvmbus_guest_close(s->g, RELID) == 0);
		CHECK(srv_find(&s->srv, 7, NULL) && srv_find(&s->srv, 11, NULL));
		CHECK(cvmbus_guest_channel_report(s->g, RELID, &cr) == 0 && !cr.open);
	}
	CHECK(!atomic_load(&s->srv.host_up));
	if (s->iso != HV_ISOLATION_TYPE_NONE)
		CHECK(cvmbus_mem_page_state(mem, s->srv.ring_gpa) == CVMBUS_MEM_PAGE_PRIVATE);
	cvmbus_guest_get_info(s->g, &info);
	for (unsigned int i = 0; i < info.exposure_count; i++)
		CHECK(strcmp(info.exposure[i].reason, "vmbus-ring"));
	CHECK(!s->srv.err[0]);
	return 0;
out:
	return -1;
}

static int check_after_stop(struct scen *s, const struct cvmbus_guest_synic_report *before)
{
	struct cvmbus_mem *mem = cvmbus_platform_mem(s->p);
	struct cvmbus_guest_stats st;
	struct cvmbus_guest_info info;
	struct cvmbus_client_stats cs;
	uint64_t v;

	CHECK(cvmbus_guest_state(s->g) == CVMBUS_GUEST_STOPPED);
	CHECK(cvmbus_synic_peek(s->p, CVMBUS_SYNIC_HYPERVISOR, 0, HV_X64_MSR_SINT0 + 2, &v) == 0);
	CHECK(v & HV_SINT_MASKED);
	if (s->pv) {
		CHECK(cvmbus_synic_peek(s->p, CVMBUS_SYNIC_PARAVISOR, 0, HV_X64_MSR_SINT0 + 2, &v) == 0);
		CHECK(v & HV_SINT_MASKED);
		CHECK(cvmbus_synic_peek(s->p, CVMBUS_SYNIC_PARAVISOR, 0, HV_X64_MSR_SIMP, &v) == 0);
		CHECK(!(v & HV_SYNIC_PAGE_ENABLE));
	} else {
		CHECK(cvmbus_synic_peek(s->p, CVMBUS_SYNIC_HYPERVISOR, 0, HV_X64_MSR_SIMP, &v) == 0);
		CHECK(v == 0);
		if (s->iso != HV_ISOLATION_TYPE_NONE)
			CHECK(cvmbus_mem_page_state(mem, before->hypervisor.simp_gpa) ==
			      CVMBUS_MEM_PAGE_PRIVATE);
	}
	cvmbus_guest_get_stats(s->g, &st);
	CHECK(st.eom_failures == 0 && st.pages_leaked == 0);
	if (!s->late_port)
		CHECK(st.post_failures == 0);
	cvmbus_guest_get_info(s->g, &info);
	for (unsigned int i = 0; i < info.exposure_count; i++)
		CHECK(strcmp(info.exposure[i].reason, "synic-message") &&
		      strcmp(info.exposure[i].reason, "synic-event"));
	CHECK(cvmbus_guest_client_stats(s->g, &cs) == 0);
	CHECK(cs.offers_refused == 0 && cs.rx_dropped == 0);
	return 0;
out:
	return -1;
}

/* The whole life of a guest in one configuration. */
static int body_full(struct scen *s)
{
	struct cvmbus_guest_synic_report rep;
	struct cvmbus_guest_info info;

	CHECK(cvmbus_guest_start(s->g) == 0);
	CHECK(cvmbus_guest_start(s->g) == -EBUSY);
	if (!s->late_port)
		CHECK(check_synic_setup(s) == 0);
	CHECK(cvmbus_guest_connect(s->g) == 0);
	CHECK(cvmbus_guest_connect(s->g) == -EALREADY);
	if (s->late_port) {
		/* Set up again for the fallback: what is checked is the end. */
		cvmbus_guest_get_info(s->g, &info);
		CHECK(info.detection.attempts == 2 && info.detection.winner == 1);
		CHECK(info.detection.attempt[0].attempt.confidential);
		CHECK(info.detection.attempt[0].attempt.path == CVMBUS_CLIENT_PATH_PARAVISOR);
		CHECK(info.detection.attempt[0].post_path == CVMBUS_PATH_PARAVISOR_TRAP);
		CHECK(info.detection.attempt[0].status == -EDOM);
		CHECK(!info.detection.attempt[1].attempt.confidential);
		CHECK(info.detection.attempt[1].status == 0);
		/* The probe went out on the trap and found no port. */
		CHECK(trace_count(s, CVMBUS_TRACE_HYPERCALL, CVMBUS_SYNIC_NONE,
				  CVMBUS_PATH_PARAVISOR_TRAP, "no port") >= 1);
		CHECK(check_synic_setup(s) == 0);
	}
	CHECK(check_connected(s) == 0);
	CHECK(check_isr_messages(s) == 0);
	if (s->do_stall)
		CHECK(check_stall(s) == 0);
	CHECK(check_channel(s) == 0);
	CHECK(cvmbus_guest_unload(s->g) == 0);
	CHECK(cvmbus_guest_state(s->g) == CVMBUS_GUEST_UNLOADED);
	CHECK(n_offers(s->g) == 0);
	CHECK(srv_find(&s->srv, 16, NULL));
	CHECK(cvmbus_guest_synic_report(s->g, 0, &rep) == 0);
	cvmbus_guest_stop(s->g);
	CHECK(check_after_stop(s, &rep) == 0);
	return 0;
out:
	return -1;
}

/* ---- running a scenario ------------------------------------------------------------ */

static int scen_main(void *arg)
{
	struct scen *s = arg;
	struct cvmbus_platform_config pc;
	struct cvmbus_guest_config gc;
	char err[128];
	int rc = -1;

	memset(&pc, 0, sizeof(pc));
	pc.exec = s->exec;
	pc.arch = s->arch;
	pc.isolation = s->iso;
	pc.paravisor = s->pv;
	pc.confidential_vmbus = s->cvmbus;
	pc.vcpus = s->vcpus ? s->vcpus : 1;
	pc.vtl0_bytes = 2u << 20;
	pc.vtl2_bytes = s->pv ? 256u << 10 : 0;
	if (cvmbus_platform_create(&pc, &s->p, err, sizeof(err))) {
		snprintf(s->why, sizeof(s->why), "platform: %s", err);
		return -1;
	}
	cvmbus_trace_buffer_enable(cvmbus_platform_trace(s->p), 1u << 16);
	s->srv.s = s;
	cvmbus_mutex_init(&s->srv.lock, s->exec, "test-server");
	cvmbus_completion_init(&s->unblock, s->exec, "test-unblock");
	if (!s->late_port && srv_register(s)) {
		snprintf(s->why, sizeof(s->why), "port 4 refused");
		goto out_platform;
	}

	memset(&gc, 0, sizeof(gc));
	gc.platform = s->p;
	gc.detect = s->detect;
	gc.msg_queue_depth = s->queue_depth;
	gc.on_attempt = scen_attempt;
	gc.attempt_ctx = s;
	gc.on_event = scen_event;
	gc.event_ctx = s;
	if (cvmbus_guest_create(&gc, &s->g)) {
		snprintf(s->why, sizeof(s->why), "guest create failed");
		goto out_platform;
	}
	rc = body_full(s);
	if (!rc && s->srv.err[0]) {
		snprintf(s->why, sizeof(s->why), "%s", s->srv.err);
		rc = -1;
	}
	/* The server's port first (a handler may still run), then the guest. */
	if (s->srv.msg_port)
		(void)cvmbus_port_remove(s->p, VMBUS_MESSAGE_CONNECTION_ID_4);
	cvmbus_guest_destroy(s->g);
	srv_detach(&s->srv);
out_platform:
	s->trace_hash = cvmbus_trace_hash(cvmbus_platform_trace(s->p));
	cvmbus_platform_destroy(s->p);
	cvmbus_completion_destroy(&s->unblock);
	cvmbus_mutex_destroy(&s->srv.lock);
	return rc;
}

static void run_native(struct scen *s)
{
	int ret = -1;

	assert_int_equal(cvmbus_exec_native_create(&s->exec), 0);
	assert_int_equal(cvmbus_exec_run(s->exec, scen_main, s, &ret), 0);
	cvmbus_exec_destroy(s->exec);
	if (ret)
		fail_msg("%s", s->why);
}

/* ---- configurations ----------------------------------------------------------------- */

static void conf_snp(struct scen *s)
{
	memset(s, 0, sizeof(*s));
	s->arch = CVMBUS_ARCH_X86_64;
	s->iso = HV_ISOLATION_TYPE_SNP;
	s->pv = true;
	s->cvmbus = true;
	s->detect = CVMBUS_CLIENT_DETECT_CPUID;
	s->owner = CVMBUS_MEM_PARTY_PARAVISOR;
	s->synic = CVMBUS_SYNIC_PARAVISOR;
	s->offer_flags = 0x2; /* the paravisor's channel: confidential ring */
	s->exp_conf = true;
	s->exp_hyp_reg = CVMBUS_PATH_GHCB;
	s->exp_post = CVMBUS_PATH_PARAVISOR_TRAP;
	s->exp_signal = CVMBUS_PATH_PARAVISOR_TRAP;
	s->exp_trusted = true;
}

static void test_confidential_snp(void **state)
{
	struct scen s;

	(void)state;
	conf_snp(&s);
	run_native(&s);
}

/* A paravisor without Confidential VMBus: the paravisor's server still
 * owns id 4, its SINT2 is proxied to the hypervisor's SynIC, and
 * everything travels the host-visible way. */
static void conf_nonconf(struct scen *s, enum hv_isolation_type iso, enum cvmbus_path hyp)
{
	memset(s, 0, sizeof(*s));
	s->arch = CVMBUS_ARCH_X86_64;
	s->iso = iso;
	s->pv = true;
	s->detect = CVMBUS_CLIENT_DETECT_CPUID;
	s->owner = CVMBUS_MEM_PARTY_PARAVISOR;
	s->synic = CVMBUS_SYNIC_PARAVISOR;
	s->exp_hyp_reg = hyp;
	s->exp_post = hyp;
	s->exp_signal = hyp;
}

static void test_nonconfidential_paravisor_snp(void **state)
{
	struct scen s;

	(void)state;
	conf_nonconf(&s, HV_ISOLATION_TYPE_SNP, CVMBUS_PATH_GHCB);
	run_native(&s);
}

static void test_nonconfidential_paravisor_tdx(void **state)
{
	struct scen s;

	(void)state;
	conf_nonconf(&s, HV_ISOLATION_TYPE_TDX, CVMBUS_PATH_TDCALL);
	s.do_rescind = true;
	run_native(&s);
}

/* SNP without a paravisor: the host's server, the guest's own SynIC pages
 * made host-visible, two vCPUs (the channel interrupts vCPU 1), and a
 * message queue of one to force back-pressure. */
static void test_snp_no_paravisor(void **state)
{
	struct scen s;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.arch = CVMBUS_ARCH_X86_64;
	s.iso = HV_ISOLATION_TYPE_SNP;
	s.vcpus = 2;
	s.target_vp = 1;
	s.queue_depth = 1;
	s.do_stall = true;
	s.detect = CVMBUS_CLIENT_DETECT_CPUID;
	s.owner = CVMBUS_MEM_PARTY_HOST;
	s.synic = CVMBUS_SYNIC_HYPERVISOR;
	s.exp_hyp_reg = CVMBUS_PATH_GHCB;
	s.exp_post = CVMBUS_PATH_GHCB;
	s.exp_signal = CVMBUS_PATH_GHCB;
	run_native(&s);
}

/* arm64 without isolation: registers by HvCallSet/GetVpRegisters over
 * hvc, no auto-EOI (the handler ends each interrupt). */
static void test_arm64_none(void **state)
{
	struct scen s;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.arch = CVMBUS_ARCH_ARM64;
	s.iso = HV_ISOLATION_TYPE_NONE;
	s.detect = CVMBUS_CLIENT_DETECT_CPUID;
	s.owner = CVMBUS_MEM_PARTY_HOST;
	s.synic = CVMBUS_SYNIC_HYPERVISOR;
	s.exp_hyp_reg = CVMBUS_PATH_HVC;
	s.exp_post = CVMBUS_PATH_HVC;
	s.exp_signal = CVMBUS_PATH_HVC;
	run_native(&s);
}

/* v4's probe: confidential over the paravisor first (nobody owns id 4
 * then: INVALID_CONNECTION_ID), then the hypervisor SynIC through the GHCB,
 * where a host server answers. */
static void test_probe_fallback(void **state)
{
	struct scen s;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.arch = CVMBUS_ARCH_X86_64;
	s.iso = HV_ISOLATION_TYPE_SNP;
	s.pv = true;
	s.detect = CVMBUS_CLIENT_DETECT_PROBE;
	s.late_port = true;
	s.owner = CVMBUS_MEM_PARTY_HOST;
	s.synic = CVMBUS_SYNIC_HYPERVISOR;
	s.exp_hyp_reg = CVMBUS_PATH_GHCB;
	s.exp_post = CVMBUS_PATH_GHCB;
	s.exp_signal = CVMBUS_PATH_GHCB;
	run_native(&s);
}

/* The confidential scenario under the deterministic executor, 20 seeds:
 * each run must end with every thread exited; one seed twice gives the
 * same platform trace. */
static void test_det_confidential_seeds(void **state)
{
	uint64_t first_hash = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= 21; seed++) {
		struct cvmbus_exec_det_opts o = { .seed = seed == 21 ? 1 : seed };
		struct scen s;
		int ret = -1, rc;

		conf_snp(&s);
		assert_int_equal(cvmbus_exec_det_create(&s.exec, &o), 0);
		rc = cvmbus_exec_run(s.exec, scen_main, &s, &ret);
		if (rc)
			fail_msg("seed %llu: run failed (%d): %s", (unsigned long long)seed, rc,
				 cvmbus_exec_det_report(s.exec));
		/* A real run: thousands of schedule points, not a stub. */
		assert_true(cvmbus_exec_det_steps(s.exec) > 1000);
		if (getenv("CVMBUS_TEST_VERBOSE"))
			printf("seed %llu: %llu steps, trace %016llx\n", (unsigned long long)seed,
			       (unsigned long long)cvmbus_exec_det_steps(s.exec),
			       (unsigned long long)s.trace_hash);
		cvmbus_exec_destroy(s.exec);
		if (ret)
			fail_msg("seed %llu: %s", (unsigned long long)seed, s.why);
		if (seed == 1)
			first_hash = s.trace_hash;
		if (seed == 21)
			assert_true(s.trace_hash == first_hash);
	}
}

/* ---- API misuse ------------------------------------------------------------------------ */

static int misuse_main(void *arg)
{
	struct scen *s = arg;
	struct cvmbus_platform_config pc = { .exec = s->exec, .vcpus = 2 };
	struct cvmbus_guest_config gc;
	struct cvmbus_guest_open_params op = { .send_bytes = 8192, .recv_bytes = 8192 };
	struct cvmbus_channel *ch;
	struct cvmbus_guest *g = NULL;
	uint32_t h;
	uint64_t gpa;

	CHECK(cvmbus_platform_create(&pc, &s->p, NULL, 0) == 0);
	memset(&gc, 0, sizeof(gc));
	CHECK(cvmbus_guest_create(&gc, &g) == -EINVAL); /* no platform */
	gc.platform = s->p;
	gc.msg_vp = 2;
	CHECK(cvmbus_guest_create(&gc, &g) == -EINVAL); /* no such vCPU */
	gc.msg_vp = 0;
	gc.sint_vector = 5;
	CHECK(cvmbus_guest_create(&gc, &g) == -EINVAL); /* an exception vector */
	gc.sint_vector = 0;
	gc.max_version = 0x00070000;
	CHECK(cvmbus_guest_create(&gc, &g) == -EINVAL);
	gc.max_version = 0;
	CHECK(cvmbus_guest_create(&gc, &g) == 0);
	/* Nothing runs before start. */
	CHECK(cvmbus_guest_connect(g) == -EBUSY);
	CHECK(cvmbus_guest_unload(g) == -ENOTCONN);
	CHECK(cvmbus_guest_open(g, RELID, &op, &ch) == -ESHUTDOWN);
	CHECK(cvmbus_guest_open(g, 0, &op, &ch) == -EINVAL);
	CHECK(cvmbus_guest_open(g, 2048, &op, &ch) == -EINVAL);
	CHECK(cvmbus_guest_start(g) == 0);
	/* Started, not connected: the client refuses. */
	CHECK(cvmbus_guest_open(g, RELID, &op, &ch) == -ENOTCONN);
	CHECK(cvmbus_guest_gpadl_create(g, RELID, 8192, &h, &gpa) == -ENOTCONN);
	CHECK(cvmbus_guest_close(g, RELID) == -ENOTCONN);
	CHECK(cvmbus_guest_unload(g) == -ENOTCONN);
	/* Nobody owns id 4 (nor 1): every version fails at once. */
	CHECK(cvmbus_guest_connect(g) == -EDOM);
	cvmbus_guest_stop(g);
	CHECK(cvmbus_guest_open(g, RELID, &op, &ch) == -ESHUTDOWN);
	cvmbus_guest_stop(g); /* idempotent */
	cvmbus_guest_destroy(g);
	cvmbus_platform_destroy(s->p);
	return 0;
out:
	cvmbus_guest_destroy(g);
	cvmbus_platform_destroy(s->p);
	return -1;
}

static void test_misuse(void **state)
{
	struct scen s;
	int ret = -1;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(cvmbus_exec_native_create(&s.exec), 0);
	assert_int_equal(cvmbus_exec_run(s.exec, misuse_main, &s, &ret), 0);
	cvmbus_exec_destroy(s.exec);
	if (ret)
		fail_msg("%s", s.why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_confidential_snp),
		cmocka_unit_test(test_nonconfidential_paravisor_snp),
		cmocka_unit_test(test_nonconfidential_paravisor_tdx),
		cmocka_unit_test(test_snp_no_paravisor),
		cmocka_unit_test(test_arm64_none),
		cmocka_unit_test(test_probe_fallback),
		cmocka_unit_test(test_det_confidential_seeds),
	};

	cvmbus_log_set_level(CVMBUS_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
