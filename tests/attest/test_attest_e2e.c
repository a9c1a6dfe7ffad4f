/* SPDX-License-Identifier: MIT */
/*
 * The measured paravisor end to end (src/hw/attest_path.c, the platform's
 * launch of the paravisor image, and the guest glue's attestation policy in
 * src/client/guest.c), on the real platform model and the real guest, with
 * a scripted VMBus server written here as bytes (port 4 answering
 * InitiateContact, RequestOffers and Unload, as tests/guest/test_guest.c
 * does). What is proved:
 *
 *   launch     the platform measures the image it is given (or the default
 *              one) at create; a second launch changes nothing; the key;
 *   path       a report request works only over the paravisor trap, writes
 *              a verifiable report into a private guest page and nowhere the
 *              host can read; GHCB and tdcall requests are refused (-EPERM);
 *              shared, VTL2 and outside pages are refused;
 *   policy     a pinned measurement that matches gives the confidential
 *              connection; another paravisor's (one VSP more) under REQUIRE
 *              fails connect with -EACCES before any InitiateContact; under
 *              FALLBACK connects over the hypervisor path with a warning; a
 *              foreign key is refused as such;
 *   host       a host thread scribbling over every host-visible page while
 *              the guest attests changes no outcome, and never sees the
 *              nonce or the report;
 *   det        the same seed gives the same trace, attestation included.
 *
 * Each scenario runs as one executor run; CHECK records the first failure
 * with its line and the cmocka test asserts there was none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/attest.h>
#include <cvmbus/exec.h>
#include <cvmbus/guest.h>
#include <cvmbus/log.h>
#include <cvmbus/memory.h>
#include <cvmbus/platform.h>
#include <cvmbus/trace.h>

#include "attest/attest_test.h"

#define MS      1000000ull
#define PAGE    4096u
#define V60     0x00060000u
#define MAX_REC 32u
#define RELID   5u

/* ---- bytes, by hand ----------------------------------------------------------- */

static uint32_t rd32(const uint8_t *b, size_t off)
{
	return (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 |
	       (uint32_t)b[off + 3] << 24;
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

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* storvsc's class ba6163d9-04a1-4d29-b605-72e2ffb1dc7f as wire bytes. */
static const uint8_t class_scsi[16] = {
	0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d,
	0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f,
};

/* ---- the scenario ------------------------------------------------------------------ */

enum expect_kind {
	EXPECT_RIGHT = 0,      /* the launched image's measurement, listed second */
	EXPECT_OTHER_IMAGE,    /* the same image with one VSP more */
};

struct rec {
	uint32_t type;
	uint32_t len;
	uint8_t bytes[HV_MESSAGE_PAYLOAD_SIZE];
	bool trusted;
	enum cvmbus_path path;
};

struct scen;

/* The scripted server: the paravisor's VMBus server as bytes. It owns
 * connection id 4 and posts into the paravisor's SynIC; when the guest
 * falls back, the paravisor's SINT2 is proxied and the same posts reach the
 * guest through the hypervisor's SynIC. */
struct srv {
	struct scen *s;
	struct cvmbus_mutex lock;
	struct rec rec[MAX_REC];
	unsigned int nrec;
	bool port;
	char err[128];
};

/* The "host": scribbles over every page it can see and looks for secrets. */
struct host {
	struct scen *s;
	_Atomic bool stop;
	_Atomic uint64_t passes;
	_Atomic uint64_t pages_written;
	_Atomic uint64_t secret_hits;
	uint8_t secret[2][CVMBUS_ATTEST_REPORT_DATA_SIZE]; /* nonce, measurement */
	_Atomic bool have_secret;
	uint64_t rng;
};

struct scen {
	/* configuration */
	enum hv_isolation_type iso;
	enum cvmbus_guest_attest_policy policy;
	enum expect_kind expect;
	bool wrong_key;
	int (*body)(struct scen *s);
	/* run state */
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct cvmbus_guest *g;
	struct srv srv;
	struct host host;
	struct cvmbus_paravisor_image img;
	uint8_t measurement[CVMBUS_ATTEST_DIGEST_SIZE]; /* the launched one, offline */
	uint8_t pinned[2][CVMBUS_ATTEST_DIGEST_SIZE]; /* what the guest's owner pinned */
	char pem[1024];
	/* captured WARN lines */
	pthread_mutex_t log_lock;
	unsigned int warnings;
	char warning[512];
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

/* ---- scripted server ------------------------------------------------------------------ */

static void srv_fail(struct srv *v, const char *what)
{
	cvmbus_mutex_lock(&v->lock);
	if (!v->err[0])
		snprintf(v->err, sizeof(v->err), "server: %s", what);
	cvmbus_mutex_unlock(&v->lock);
}

static void srv_post(struct srv *v, uint32_t vp, const uint8_t *b, size_t len)
{
	if (cvmbus_synic_post(v->s->p, CVMBUS_SYNIC_PARAVISOR, vp, VMBUS_MESSAGE_SINT, HVMSG_VMBUS,
			      b, (uint32_t)len))
		srv_fail(v, "post to the guest failed");
}

static void srv_on_message(void *ctx, const struct cvmbus_port_message *m)
{
	struct srv *v = ctx;
	const uint8_t *b = m->payload;
	uint8_t out[HV_MESSAGE_PAYLOAD_SIZE];
	uint32_t type;

	if (m->size < 8 || m->size > HV_MESSAGE_PAYLOAD_SIZE) {
		srv_fail(v, "short or long message");
		return;
	}
	type = rd32(b, 0);
	cvmbus_mutex_lock(&v->lock);
	if (v->nrec < MAX_REC) {
		struct rec *r = &v->rec[v->nrec++];

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
	case 3: /* RequestOffers -> OfferChannel (196 bytes), AllOffersDelivered (4) */
		wr32(out, 0, 1);
		memcpy(out + 8, class_scsi, 16);
		out[24] = RELID; /* instance */
		wr16(out, 56, 0);
		wr32(out, 184, RELID);
		wr32(out, 192, 0x2005);
		srv_post(v, 0, out, 196);
		memset(out, 0, sizeof(out));
		wr32(out, 0, 4);
		srv_post(v, 0, out, 8);
		break;
	case 16: /* Unload -> UnloadResponse (17) */
		wr32(out, 0, 17);
		srv_post(v, 0, out, 8);
		break;
	default:
		break;
	}
}

static const struct rec *srv_find(struct srv *v, uint32_t type)
{
	const struct rec *r = NULL;

	cvmbus_mutex_lock(&v->lock);
	for (unsigned int i = 0; i < v->nrec; i++)
		if (v->rec[i].type == type)
			r = &v->rec[i];
	cvmbus_mutex_unlock(&v->lock);
	return r;
}

static unsigned int srv_count(struct srv *v)
{
	unsigned int n;

	cvmbus_mutex_lock(&v->lock);
	n = v->nrec;
	cvmbus_mutex_unlock(&v->lock);
	return n;
}

/* ---- trace helpers ------------------------------------------------------------------- */

/* The index of the first kept event of `kind` whose note starts with
 * `prefix` (and from `from` unless PARTY_NONE), at or after `start`;
 * SIZE_MAX if none. */
static size_t trace_find(struct scen *s, size_t start, enum cvmbus_trace_kind kind,
			 unsigned int from, const char *prefix)
{
	struct cvmbus_trace *t = cvmbus_platform_trace(s->p);

	for (size_t i = start; i < cvmbus_trace_buffer_count(t); i++) {
		const struct cvmbus_trace_event *ev = cvmbus_trace_buffer_at(t, i);

		if (ev->kind != kind || (from != CVMBUS_TRACE_PARTY_NONE && ev->from != from))
			continue;
		if (prefix && (!ev->note || strncmp(ev->note, prefix, strlen(prefix))))
			continue;
		return i;
	}
	return SIZE_MAX;
}

/* The first message the guest posted (a "msg" event with bytes, from the
 * guest); SIZE_MAX if it posted nothing. */
static size_t trace_first_post(struct scen *s)
{
	struct cvmbus_trace *t = cvmbus_platform_trace(s->p);

	for (size_t i = 0; i < cvmbus_trace_buffer_count(t); i++) {
		const struct cvmbus_trace_event *ev = cvmbus_trace_buffer_at(t, i);

		if (ev->kind == CVMBUS_TRACE_MSG && ev->from == CVMBUS_MEM_PARTY_GUEST && ev->bytes)
			return i;
	}
	return SIZE_MAX;
}

static bool json_has(const struct cvmbus_trace_event *ev, const char *needle)
{
	char line[CVMBUS_TRACE_LINE_MAX];

	cvmbus_trace_format(ev, line, sizeof(line));
	return strstr(line, needle) != NULL;
}

/* ---- the log ---------------------------------------------------------------------------- */

static void log_sink(void *ctx, enum cvmbus_log_level level, const char *msg)
{
	struct scen *s = ctx;

	if (level != CVMBUS_LOG_WARN || !strstr(msg, "attestation"))
		return;
	pthread_mutex_lock(&s->log_lock);
	if (!s->warnings++)
		snprintf(s->warning, sizeof(s->warning), "%s", msg);
	pthread_mutex_unlock(&s->log_lock);
}

/* ---- platform and guest ------------------------------------------------------------------- */

static void image_other(const struct cvmbus_paravisor_image *base,
			struct cvmbus_paravisor_image *out)
{
	const struct cvmbus_guid c = { 0x0badcafeu, 0x1111u, 0x2222u,
				       { 1, 2, 3, 4, 5, 6, 7, 8 } };

	*out = *base;
	strcpy(out->vsps[out->vsp_count].name, "extra");
	out->vsps[out->vsp_count].interface_id = c;
	out->vsps[out->vsp_count].offer_flags = 0x0002;
	out->vsp_count++;
}

static int make_platform(struct scen *s, enum hv_isolation_type iso, bool pv,
			 const struct cvmbus_paravisor_image *img, struct cvmbus_platform **out)
{
	struct cvmbus_platform_config pc;
	char err[160];

	memset(&pc, 0, sizeof(pc));
	pc.exec = s->exec;
	pc.arch = CVMBUS_ARCH_X86_64;
	pc.isolation = iso;
	pc.paravisor = pv;
	pc.confidential_vmbus = pv;
	pc.vtl0_bytes = 2u << 20;
	pc.vtl2_bytes = pv ? 256u << 10 : 0;
	pc.paravisor_image = img;
	if (cvmbus_platform_create(&pc, out, err, sizeof(err))) {
		snprintf(s->why, sizeof(s->why), "platform: %s", err);
		return -1;
	}
	return 0;
}

/* A second platform's key: a verifier holding it holds the wrong one. */
static int foreign_pem(struct scen *s, char *buf, size_t cap)
{
	struct cvmbus_attest_platform_config ac;
	struct cvmbus_attest_platform *ap;
	size_t len;
	int rc;

	memset(&ac, 0, sizeof(ac));
	ac.isolation = s->iso;
	if (cvmbus_attest_platform_create(&ac, &ap, NULL, 0))
		return -1;
	rc = cvmbus_attest_platform_public_key_pem(ap, buf, cap, &len);
	cvmbus_attest_platform_destroy(ap);
	return rc;
}

static int scen_main(void *arg)
{
	struct scen *s = arg;
	struct cvmbus_paravisor_image other;
	struct cvmbus_guest_config gc;
	struct cvmbus_port_config pc;
	size_t len;
	int rc = -1;

	att_reference_image(&s->img);
	if (cvmbus_paravisor_image_measure(&s->img, s->measurement)) {
		snprintf(s->why, sizeof(s->why), "measure");
		return -1;
	}
	if (make_platform(s, s->iso, true, &s->img, &s->p))
		return -1;
	cvmbus_trace_buffer_enable(cvmbus_platform_trace(s->p), 1u << 16);
	s->srv.s = s;
	s->host.s = s;
	cvmbus_mutex_init(&s->srv.lock, s->exec, "test-server");

	memset(&pc, 0, sizeof(pc));
	pc.connection_id = VMBUS_MESSAGE_CONNECTION_ID_4;
	pc.kind = CVMBUS_PORT_MESSAGE;
	pc.owner = CVMBUS_MEM_PARTY_PARAVISOR;
	pc.on_message = srv_on_message;
	pc.ctx = &s->srv;
	if (cvmbus_port_add(s->p, &pc)) {
		snprintf(s->why, sizeof(s->why), "port 4 refused");
		goto out_platform;
	}
	s->srv.port = true;

	/* What the guest's owner pinned: a decoy first, then the one. */
	image_other(&s->img, &other);
	if (cvmbus_paravisor_image_measure(&other, s->pinned[0]))
		goto out_platform;
	memcpy(s->pinned[1], s->pinned[0], sizeof(s->pinned[1]));
	if (s->expect == EXPECT_RIGHT)
		memcpy(s->pinned[1], s->measurement, sizeof(s->pinned[1]));
	if (s->wrong_key)
		rc = foreign_pem(s, s->pem, sizeof(s->pem));
	else
		rc = cvmbus_platform_attest_pubkey_pem(s->p, s->pem, sizeof(s->pem), &len);
	if (rc) {
		snprintf(s->why, sizeof(s->why), "public key (%d)", rc);
		rc = -1;
		goto out_platform;
	}

	memset(&gc, 0, sizeof(gc));
	gc.platform = s->p;
	gc.detect = CVMBUS_CLIENT_DETECT_CPUID;
	gc.attest_policy = s->policy;
	gc.expected_measurements = (const uint8_t (*)[CVMBUS_ATTEST_DIGEST_SIZE])s->pinned;
	gc.expected_count = 2;
	gc.attest_pubkey_pem = s->pem;
	rc = -1;
	if (cvmbus_guest_create(&gc, &s->g)) {
		snprintf(s->why, sizeof(s->why), "guest create failed");
		goto out_platform;
	}
	/* The guest copied the list and parsed the key: scribbling over the
	 * caller's copies now must not matter. */
	memset(s->pem, 'x', 64);
	rc = s->body(s);
	if (!rc && s->srv.err[0]) {
		snprintf(s->why, sizeof(s->why), "%s", s->srv.err);
		rc = -1;
	}
	(void)cvmbus_port_remove(s->p, VMBUS_MESSAGE_CONNECTION_ID_4);
	cvmbus_guest_destroy(s->g);
out_platform:
	s->trace_hash = cvmbus_trace_hash(cvmbus_platform_trace(s->p));
	cvmbus_platform_destroy(s->p);
	cvmbus_mutex_destroy(&s->srv.lock);
	return rc;
}

static void scen_init(struct scen *s, enum hv_isolation_type iso,
		      enum cvmbus_guest_attest_policy policy, enum expect_kind expect,
		      int (*body)(struct scen *))
{
	memset(s, 0, sizeof(*s));
	s->iso = iso;
	s->policy = policy;
	s->expect = expect;
	s->body = body;
	pthread_mutex_init(&s->log_lock, NULL);
}

static void run_native(struct scen *s)
{
	int ret = -1;

	cvmbus_log_set_sink(log_sink, s);
	assert_int_equal(cvmbus_exec_native_create(&s->exec), 0);
	assert_int_equal(cvmbus_exec_run(s->exec, scen_main, s, &ret), 0);
	cvmbus_exec_destroy(s->exec);
	cvmbus_log_set_sink(NULL, NULL);
	pthread_mutex_destroy(&s->log_lock);
	if (ret)
		fail_msg("%s", s->why);
}

/* ---- scenario bodies --------------------------------------------------------------------- */

/* (a) The measurement matches: attested, then confidential. */
static int body_match(struct scen *s)
{
	struct cvmbus_trace *t = cvmbus_platform_trace(s->p);
	struct cvmbus_guest_synic_report rep;
	struct cvmbus_guest_info info;
	const struct rec *r;
	size_t req, res, dec, post;
	char mhex[2 * CVMBUS_ATTEST_DIGEST_SIZE + 1], want[160];

	hex(s->measurement, sizeof(s->measurement), mhex);
	CHECK(cvmbus_guest_start(s->g) == 0);
	CHECK(cvmbus_guest_connect(s->g) == 0);

	cvmbus_guest_get_info(s->g, &info);
	CHECK(info.attestation.policy == s->policy);
	CHECK(info.attestation.decision == CVMBUS_GUEST_ATTEST_CONFIDENTIAL);
	CHECK(info.attestation.status == 0 && info.attestation.reason == CVMBUS_ATTEST_OK);
	CHECK(!strcmp(info.attestation.reason_text, "ok"));
	CHECK(info.attestation.measurement_known);
	CHECK(!memcmp(info.attestation.measurement, s->measurement, sizeof(s->measurement)));
	CHECK(!strcmp(info.attestation.measurement_hex, mhex));
	CHECK(info.attestation.measurement_index == 1);
	/* The page the report went to was guest RAM, and is private now. */
	CHECK(info.attestation.report_gpa < (2u << 20));
	if (s->iso != HV_ISOLATION_TYPE_NONE)
		CHECK(cvmbus_mem_page_state(cvmbus_platform_mem(s->p), info.attestation.report_gpa) ==
		      CVMBUS_MEM_PAGE_PRIVATE);

	/* Confidential: feature 0x10 asked and granted, over the trap. */
	CHECK(info.confidential && (info.features & 0x10));
	CHECK(info.post_path == CVMBUS_PATH_PARAVISOR_TRAP);
	r = srv_find(&s->srv, 14);
	CHECK(r && r->len == 40 && r->bytes[20] == 0x10);
	CHECK(r->path == CVMBUS_PATH_PARAVISOR_TRAP && r->trusted == (s->iso != HV_ISOLATION_TYPE_NONE));
	CHECK(cvmbus_guest_synic_report(s->g, 0, &rep) == 0);
	CHECK(rep.confidential && rep.paravisor.used && rep.paravisor.pages_private);

	/* The trace: request, report, decision, and only then the first
	 * message the guest posted. */
	req = trace_find(s, 0, CVMBUS_TRACE_HYPERCALL, CVMBUS_MEM_PARTY_GUEST, "attest request");
	res = trace_find(s, 0, CVMBUS_TRACE_HYPERCALL, CVMBUS_MEM_PARTY_PARAVISOR,
			 "attest report measurement=");
	dec = trace_find(s, 0, CVMBUS_TRACE_MSG, CVMBUS_MEM_PARTY_GUEST, "attest decision=");
	post = trace_first_post(s);
	CHECK(req != SIZE_MAX && res != SIZE_MAX && dec != SIZE_MAX && post != SIZE_MAX);
	CHECK(req < res && res < dec && dec < post);
	CHECK(json_has(cvmbus_trace_buffer_at(t, req), "\"code\":\"0x8011\""));
	CHECK(json_has(cvmbus_trace_buffer_at(t, req), "\"path\":\"paravisor-trap\""));
	CHECK(json_has(cvmbus_trace_buffer_at(t, req), "\"to\":\"paravisor\""));
	CHECK(cvmbus_trace_buffer_at(t, req)->trusted == (s->iso != HV_ISOLATION_TYPE_NONE));
	CHECK(strstr(cvmbus_trace_buffer_at(t, res)->note, mhex));
	snprintf(want, sizeof(want), "\"note\":\"attest decision=confidential status=0 reason=ok "
				     "measurement=%.32s",
		 mhex);
	CHECK(json_has(cvmbus_trace_buffer_at(t, dec), want));
	CHECK(json_has(cvmbus_trace_buffer_at(t, dec), "\"kind\":\"msg\""));
	CHECK(s->warnings == 0);

	CHECK(cvmbus_guest_unload(s->g) == 0);
	cvmbus_guest_stop(s->g);
	return 0;
out:
	return -1;
}

/* (b), (d) REQUIRE and not verified: no confidential connection, and in
 * fact nothing posted at all. */
static int body_refused(struct scen *s)
{
	const char *reason = s->wrong_key ? "signed by a different key" : "measurement not expected";
	struct cvmbus_guest_info info;
	size_t dec;
	char want[96];

	CHECK(cvmbus_guest_start(s->g) == 0);
	CHECK(cvmbus_guest_connect(s->g) == -EACCES);
	cvmbus_guest_get_info(s->g, &info);
	CHECK(info.state == CVMBUS_GUEST_STARTED);
	CHECK(info.attestation.decision == CVMBUS_GUEST_ATTEST_REFUSED);
	CHECK(info.attestation.status == -EACCES);
	CHECK(!strcmp(info.attestation.reason_text, reason));
	CHECK(info.attestation.reason ==
	      (s->wrong_key ? CVMBUS_ATTEST_WRONG_KEY : CVMBUS_ATTEST_MEASUREMENT_UNKNOWN));
	CHECK(info.attestation.detail[0]);
	/* Still parsed: the report names the paravisor that is there. */
	CHECK(info.attestation.measurement_known &&
	      !memcmp(info.attestation.measurement, s->measurement, sizeof(s->measurement)));
	CHECK(!info.confidential && info.version == 0);
	CHECK(info.detection.attempts == 0 && info.detection.winner == -1);
	/* No InitiateContact went anywhere: the server saw nothing, the
	 * guest traced no post. */
	CHECK(srv_count(&s->srv) == 0);
	CHECK(trace_first_post(s) == SIZE_MAX);
	dec = trace_find(s, 0, CVMBUS_TRACE_MSG, CVMBUS_MEM_PARTY_GUEST, "attest decision=refused");
	CHECK(dec != SIZE_MAX);
	snprintf(want, sizeof(want), "reason=%s", reason);
	CHECK(strstr(cvmbus_trace_buffer_at(cvmbus_platform_trace(s->p), dec)->note, want));
	/* A second connect attests again (fresh nonce) and refuses again. */
	CHECK(cvmbus_guest_connect(s->g) == -EACCES);
	CHECK(trace_find(s, dec + 1, CVMBUS_TRACE_MSG, CVMBUS_MEM_PARTY_GUEST,
			 "attest decision=refused") != SIZE_MAX);
	CHECK(srv_count(&s->srv) == 0);
	cvmbus_guest_stop(s->g);
	return 0;
out:
	return -1;
}

/* (c) FALLBACK and not verified: the host-visible path, loudly. */
static int body_fallback(struct scen *s)
{
	struct cvmbus_guest_synic_report rep;
	struct cvmbus_guest_info info;
	const struct rec *r;
	uint64_t sint2 = 0;

	CHECK(cvmbus_guest_start(s->g) == 0);
	CHECK(cvmbus_guest_connect(s->g) == 0);
	cvmbus_guest_get_info(s->g, &info);
	CHECK(info.attestation.decision == CVMBUS_GUEST_ATTEST_FELL_BACK);
	CHECK(info.attestation.status == -EACCES);
	CHECK(!strcmp(info.attestation.reason_text, "measurement not expected"));
	CHECK(!info.confidential && !(info.features & 0x10));
	CHECK(info.post_path == CVMBUS_PATH_GHCB && info.signal_path == CVMBUS_PATH_GHCB);
	CHECK(info.detection.attempts == 1 && info.detection.winner == 0);
	CHECK(!info.detection.attempt[0].attempt.confidential);
	CHECK(info.detection.attempt[0].attempt.path == CVMBUS_CLIENT_PATH_HYPERVISOR);
	/* InitiateContact: over the GHCB, not trusted, no 0x10; exactly one. */
	r = srv_find(&s->srv, 14);
	CHECK(r && r->path == CVMBUS_PATH_GHCB && !r->trusted && r->bytes[20] == 0);
	CHECK(srv_count(&s->srv) >= 2);
	CHECK(s->srv.rec[0].type == 14 && s->srv.rec[1].type == 3);
	/* The SynICs as for any non-confidential connection: the paravisor's
	 * SINT2 proxied to the hypervisor's, its pages unused. */
	CHECK(cvmbus_synic_peek(s->p, CVMBUS_SYNIC_PARAVISOR, 0, HV_X64_MSR_SINT0 + 2, &sint2) == 0);
	CHECK(sint2 & HV_SINT_PROXY);
	CHECK(cvmbus_guest_synic_report(s->g, 0, &rep) == 0);
	CHECK(!rep.confidential && !rep.paravisor.used && rep.hypervisor.used);
	/* Loud: one warning naming the reason. */
	CHECK(s->warnings == 1);
	CHECK(strstr(s->warning, "measurement not expected") && strstr(s->warning, "WARNING"));
	CHECK(trace_find(s, 0, CVMBUS_TRACE_MSG, CVMBUS_MEM_PARTY_GUEST,
			 "attest decision=fell-back status=-13 reason=measurement not expected") !=
	      SIZE_MAX);
	CHECK(cvmbus_guest_unload(s->g) == 0);
	cvmbus_guest_stop(s->g);
	return 0;
out:
	return -1;
}

/* ---- the tampering host ----------------------------------------------------------------- */

static uint64_t host_next(struct host *h)
{
	h->rng ^= h->rng << 13;
	h->rng ^= h->rng >> 7;
	h->rng ^= h->rng << 17;
	return h->rng;
}

/* Every host-visible page: look for the secrets, then fill it with noise.
 * Pages whose visibility changes under it just fault (as they would). */
static int host_thread(void *arg)
{
	struct host *h = arg;
	struct cvmbus_mem *mem = cvmbus_platform_mem(h->s->p);
	struct cvmbus_mem_host_view *hv = cvmbus_mem_host(mem);
	uint64_t bytes = cvmbus_mem_bytes(mem);
	uint8_t page[PAGE];

	h->rng = 0x9e3779b97f4a7c15ull;
	while (!atomic_load(&h->stop)) {
		for (uint64_t gpa = 0; gpa < bytes; gpa += PAGE) {
			uint64_t a = cvmbus_mem_gpa_to_alias(mem, gpa);

			if (!cvmbus_mem_host_view_visible(hv, gpa))
				continue;
			if (cvmbus_mem_host_read(hv, a, page, PAGE))
				continue;
			if (atomic_load(&h->have_secret))
				for (int k = 0; k < 2; k++)
					if (memmem(page, PAGE, h->secret[k], k ? 48 : 64))
						atomic_fetch_add(&h->secret_hits, 1);
			for (unsigned int i = 0; i < PAGE; i += 8) {
				uint64_t v = host_next(h);

				memcpy(page + i, &v, 8);
			}
			if (!cvmbus_mem_host_write(hv, a, page, PAGE))
				atomic_fetch_add(&h->pages_written, 1);
		}
		atomic_fetch_add(&h->passes, 1);
		cvmbus_exec_sleep_ns(h->s->exec, 20000);
	}
	/* The host calms down: the shared pages read as zeros again, so
	 * that what runs next starts from a quiet partition. */
	memset(page, 0, sizeof(page));
	for (uint64_t gpa = 0; gpa < bytes; gpa += PAGE)
		if (cvmbus_mem_host_view_visible(hv, gpa))
			(void)cvmbus_mem_host_write(hv, cvmbus_mem_gpa_to_alias(mem, gpa), page, PAGE);
	return 0;
}

/* (e) A host that scribbles over everything it can see while the guest
 * attests changes nothing: same verdict, same measurement, every time. */
static int body_tamper(struct scen *s)
{
	struct cvmbus_mem *mem = cvmbus_platform_mem(s->p);
	struct cvmbus_attest_pubkey *key = NULL;
	struct cvmbus_thread *th = NULL;
	struct cvmbus_guest_info info;
	uint8_t nonce[CVMBUS_ATTEST_REPORT_DATA_SIZE], report[CVMBUS_ATTEST_REPORT_SIZE];
	struct cvmbus_attest_result res;
	uint64_t gpa = 0, before;
	int rc = -1;

	CHECK(cvmbus_platform_attest(s->p) &&
	      cvmbus_attest_platform_pubkey(cvmbus_platform_attest(s->p), &key) == 0);
	CHECK(cvmbus_guest_start(s->g) == 0);
	CHECK(cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 1, &gpa) == 0);
	for (unsigned int i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)(0xa5 ^ i);
	memcpy(s->host.secret[0], nonce, sizeof(nonce));
	memcpy(s->host.secret[1], s->measurement, sizeof(s->measurement));
	atomic_store(&s->host.have_secret, true);
	CHECK(cvmbus_thread_spawn(s->exec, &th, "host-tamper", host_thread, &s->host) == 0);
	while (atomic_load(&s->host.passes) < 2)
		cvmbus_exec_sleep_ns(s->exec, 100000);
	before = atomic_load(&s->host.passes);

	for (int i = 0; i < 8; i++) {
		struct cvmbus_guest_attestation a;

		/* The guest's own check, its nonce unknown to the host. */
		CHECK(cvmbus_guest_attest(s->g, &a) == 0);
		CHECK(a.decision == CVMBUS_GUEST_ATTEST_CHECK_ONLY && a.measurement_index == 1);
		CHECK(!memcmp(a.measurement, s->measurement, sizeof(s->measurement)));
		/* A request whose nonce the host is looking for. */
		CHECK(cvmbus_attest_request(s->p, 0, CVMBUS_PATH_PARAVISOR_TRAP, nonce, gpa) == 0);
		CHECK(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, gpa, report, sizeof(report)) == 0);
		CHECK(cvmbus_attest_verify(report, sizeof(report), key,
					   (const uint8_t (*)[CVMBUS_ATTEST_DIGEST_SIZE])s->measurement,
					   1, nonce, &res) == 0);
		cvmbus_exec_sleep_ns(s->exec, 50000);
	}
	/* The host was really at it during all of this. */
	CHECK(atomic_load(&s->host.passes) > before);
	CHECK(atomic_load(&s->host.pages_written) > 0);
	atomic_store(&s->host.stop, true);
	CHECK(cvmbus_thread_join(th, NULL) == 0);
	th = NULL;
	/* ... and it never saw the nonce or the report. */
	CHECK(atomic_load(&s->host.secret_hits) == 0);

	/* The connect attests once more and goes confidential. */
	CHECK(cvmbus_guest_connect(s->g) == 0);
	cvmbus_guest_get_info(s->g, &info);
	CHECK(info.attestation.decision == CVMBUS_GUEST_ATTEST_CONFIDENTIAL && info.confidential);
	CHECK(cvmbus_guest_unload(s->g) == 0);
	cvmbus_guest_stop(s->g);
	rc = 0;
out:
	if (th) {
		atomic_store(&s->host.stop, true);
		(void)cvmbus_thread_join(th, NULL);
	}
	if (gpa)
		(void)cvmbus_mem_free(mem, gpa, 1);
	cvmbus_attest_pubkey_free(key);
	return rc;
}

/* ---- the request path alone -------------------------------------------------------------- */

/* (f) Over the trap only; into private guest RAM only. */
static int body_path(struct scen *s)
{
	struct cvmbus_mem *mem = cvmbus_platform_mem(s->p);
	struct cvmbus_trace *t = cvmbus_platform_trace(s->p);
	struct cvmbus_attest_pubkey *key = NULL;
	struct cvmbus_attest_expect ex;
	struct cvmbus_attest_result res;
	struct cvmbus_platform *tdx = NULL, *bare = NULL;
	uint8_t nonce[CVMBUS_ATTEST_REPORT_DATA_SIZE], report[CVMBUS_ATTEST_REPORT_SIZE];
	static const uint8_t zero[CVMBUS_ATTEST_REPORT_SIZE];
	uint64_t gpa = 0, shared = 0, tdx_gpa, vtl2, vtl2_bytes, word;
	size_t ev;
	int rc = -1;

	for (unsigned int i = 0; i < sizeof(nonce); i++)
		nonce[i] = (uint8_t)(i * 7 + 1);
	CHECK(cvmbus_attest_platform_pubkey(cvmbus_platform_attest(s->p), &key) == 0);
	CHECK(cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 1, &gpa) == 0);
	CHECK(cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, gpa, zero, sizeof(zero)) == 0);

	/* GHCB: refused before anything is written. */
	CHECK(cvmbus_attest_request(s->p, 0, CVMBUS_PATH_GHCB, nonce, gpa) == -EPERM);
	CHECK(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, gpa, report, sizeof(report)) == 0);
	CHECK(!memcmp(report, zero, sizeof(zero)));
	ev = trace_find(s, 0, CVMBUS_TRACE_HYPERCALL, CVMBUS_MEM_PARTY_GUEST,
			"attest request refused: host-visible path");
	CHECK(ev != SIZE_MAX);
	CHECK(cvmbus_trace_buffer_at(t, ev)->path == CVMBUS_PATH_GHCB);
	CHECK(!cvmbus_trace_buffer_at(t, ev)->trusted && cvmbus_trace_buffer_at(t, ev)->err == -EPERM);
	CHECK(json_has(cvmbus_trace_buffer_at(t, ev), "\"to\":\"hypervisor\""));
	/* Every other host-handled path likewise, and bad arguments. */
	CHECK(cvmbus_attest_request(s->p, 0, CVMBUS_PATH_HYPERCALL_PAGE, nonce, gpa) == -EPERM);
	CHECK(cvmbus_attest_request(s->p, 0, CVMBUS_PATH_NONE, nonce, gpa) == -EPERM);
	CHECK(cvmbus_attest_request(s->p, 1, CVMBUS_PATH_PARAVISOR_TRAP, nonce, gpa) == -EINVAL);
	CHECK(cvmbus_attest_request(s->p, 0, CVMBUS_PATH_PARAVISOR_TRAP, NULL, gpa) == -EINVAL);

	/* The trap: a report at gpa, verifiable, and out of the host's reach. */
	CHECK(cvmbus_attest_request(s->p, 0, CVMBUS_PATH_PARAVISOR_TRAP, nonce, gpa) == 0);
	CHECK(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, gpa, report, sizeof(report)) == 0);
	memset(&ex, 0, sizeof(ex));
	ex.measurements = (const uint8_t (*)[CVMBUS_ATTEST_DIGEST_SIZE])s->measurement;
	ex.measurement_count = 1;
	ex.nonce = nonce;
	ex.check_isolation = true;
	ex.isolation = HV_ISOLATION_TYPE_SNP;
	CHECK(cvmbus_attest_verify_ex(report, sizeof(report), key, &ex, &res) == 0);
	/* By hand from the layout: version 1 @0, isolation 2 (SNP) @4, the
	 * nonce at 0x48. */
	CHECK(rd32(report, 0) == 1 && rd32(report, 4) == 2);
	CHECK(!memcmp(report + 0x48, nonce, sizeof(nonce)));
	CHECK(!memcmp(report + 0x18, s->measurement, sizeof(s->measurement)));
	CHECK(cvmbus_mem_page_state(mem, gpa) == CVMBUS_MEM_PAGE_PRIVATE);
	CHECK(cvmbus_mem_host_read(cvmbus_mem_host(mem), cvmbus_mem_gpa_to_alias(mem, gpa), &word,
				   8) == -EFAULT);
	/* Unaligned is fine as long as it stays in guest RAM. */
	CHECK(cvmbus_attest_request(s->p, 0, CVMBUS_PATH_PARAVISOR_TRAP, nonce, gpa + 100) == 0);

	/* A host-visible page would hand the host the report: refused. */
	CHECK(cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 1, &shared) == 0);
	CHECK(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, shared, 1, "test") == 0);
	CHECK(cvmbus_attest_request(s->p, 0, CVMBUS_PATH_PARAVISOR_TRAP, nonce, shared) == -EPERM);
	CHECK(trace_find(s, 0, CVMBUS_TRACE_HYPERCALL, CVMBUS_MEM_PARTY_PARAVISOR,
			 "attest refused: report page is host-visible") != SIZE_MAX);
	/* The paravisor's own memory, the end of guest RAM, beyond it. */
	CHECK(cvmbus_mem_region(mem, CVMBUS_MEM_REGION_VTL2, &vtl2, &vtl2_bytes) == 0);
	CHECK(cvmbus_attest_request(s->p, 0, CVMBUS_PATH_PARAVISOR_TRAP, nonce, vtl2) == -EFAULT);
	CHECK(cvmbus_attest_request(s->p, 0, CVMBUS_PATH_PARAVISOR_TRAP, nonce,
				    (2u << 20) - 100) == -EFAULT);
	CHECK(cvmbus_attest_request(s->p, 0, CVMBUS_PATH_PARAVISOR_TRAP, nonce, 1ull << 40) ==
	      -EFAULT);

	/* TDX: tdcall is the host's exit as much as the GHCB is. */
	CHECK(make_platform(s, HV_ISOLATION_TYPE_TDX, true, NULL, &tdx) == 0);
	CHECK(cvmbus_mem_alloc(cvmbus_platform_mem(tdx), CVMBUS_MEM_REGION_VTL0, 1, &tdx_gpa) == 0);
	CHECK(cvmbus_attest_request(tdx, 0, CVMBUS_PATH_TDCALL, nonce, tdx_gpa) == -EPERM);
	CHECK(cvmbus_attest_request(tdx, 0, CVMBUS_PATH_PARAVISOR_TRAP, nonce, tdx_gpa) == 0);
	/* No paravisor: no trusted path to ask over. */
	CHECK(make_platform(s, HV_ISOLATION_TYPE_SNP, false, NULL, &bare) == 0);
	CHECK(cvmbus_attest_request(bare, 0, CVMBUS_PATH_PARAVISOR_TRAP, nonce, gpa) == -EOPNOTSUPP);
	CHECK(cvmbus_attest_request(bare, 0, CVMBUS_PATH_GHCB, nonce, gpa) == -EPERM);
	rc = 0;
out:
	cvmbus_platform_destroy(bare);
	cvmbus_platform_destroy(tdx);
	if (shared) {
		(void)cvmbus_mem_make_private(mem, CVMBUS_MEM_PARTY_GUEST, shared, 1);
		(void)cvmbus_mem_free(mem, shared, 1);
	}
	if (gpa)
		(void)cvmbus_mem_free(mem, gpa, 1);
	cvmbus_attest_pubkey_free(key);
	return rc;
}

/* ---- launch ------------------------------------------------------------------------------- */

static int launch_main(void *arg)
{
	struct scen *s = arg;
	struct cvmbus_platform_config pc;
	struct cvmbus_paravisor_image img, def, bad;
	struct cvmbus_platform *p = NULL, *q = NULL;
	const struct cvmbus_paravisor_image *got;
	uint8_t m[48], m2[48], want[48];
	char pem[1024], err[160];
	char *key = NULL, *pub = NULL;
	size_t len, keylen, publen;
	int rc = -1;

	att_reference_image(&img);
	CHECK(cvmbus_paravisor_image_measure(&img, want) == 0);
	CHECK(make_platform(s, HV_ISOLATION_TYPE_SNP, true, &img, &p) == 0);
	/* The caller's image may change or go: the platform has its copy. */
	strcpy(img.name, "changed");
	got = cvmbus_platform_paravisor_image(p);
	CHECK(got && !strcmp(got->name, "pv") && got->vsp_count == 2);
	CHECK(cvmbus_platform_config(p)->paravisor_image == got);
	CHECK(cvmbus_platform_config(p)->attest_key_pem == NULL);
	CHECK(cvmbus_platform_attest_measurement(p, m) == 0 && !memcmp(m, want, 48));
	/* Launched once: a second launch changes nothing. */
	CHECK(cvmbus_attest_platform_launch(cvmbus_platform_attest(p), &img, NULL, 0) == -EALREADY);
	CHECK(cvmbus_attest_platform_measurement(cvmbus_platform_attest(p), m2) == 0);
	CHECK(!memcmp(m2, want, 48));
	CHECK(cvmbus_platform_attest_pubkey_pem(p, NULL, 0, &len) == -ENOBUFS && len > 100);
	CHECK(cvmbus_platform_attest_pubkey_pem(p, pem, sizeof(pem), &len) == 0);
	CHECK(!strncmp(pem, "-----BEGIN PUBLIC KEY-----", 26) && strlen(pem) == len);
	cvmbus_platform_destroy(p);
	p = NULL;

	/* No image: the default, derived from the configuration. */
	memset(&pc, 0, sizeof(pc));
	pc.exec = s->exec;
	pc.isolation = HV_ISOLATION_TYPE_SNP;
	pc.paravisor = true;
	pc.confidential_vmbus = true;
	cvmbus_platform_default_paravisor_image(&pc, &def);
	CHECK(!strcmp(def.name, "cvmbus-paravisor") && def.policy.offers_confidential_vmbus);
	CHECK(def.vsp_count == 0 && cvmbus_paravisor_image_check(&def, NULL, 0) == 0);
	CHECK(cvmbus_paravisor_image_measure(&def, want) == 0);
	CHECK(cvmbus_platform_create(&pc, &p, err, sizeof(err)) == 0);
	CHECK(cvmbus_platform_attest_measurement(p, m) == 0 && !memcmp(m, want, 48));
	got = cvmbus_platform_paravisor_image(p);
	CHECK(got && !strcmp(got->name, CVMBUS_PLATFORM_DEFAULT_PARAVISOR_NAME));
	/* Without Confidential VMBus the default measures differently. */
	pc.confidential_vmbus = false;
	cvmbus_platform_default_paravisor_image(&pc, &def);
	CHECK(cvmbus_paravisor_image_measure(&def, m2) == 0 && memcmp(m2, want, 48));
	CHECK(cvmbus_platform_create(&pc, &q, err, sizeof(err)) == 0);
	CHECK(cvmbus_platform_attest_measurement(q, m) == 0 && !memcmp(m, m2, 48));
	cvmbus_platform_destroy(q);
	q = NULL;

	/* The key, loaded from PEM: reports verify with its public half. */
	key = att_read_file(ATTEST_DATA_DIR "/platform-test-key.pem", &keylen);
	pub = att_read_file(ATTEST_DATA_DIR "/platform-test-key.pub.pem", &publen);
	pc.attest_key_pem = key;
	CHECK(cvmbus_platform_create(&pc, &q, err, sizeof(err)) == 0);
	{
		struct cvmbus_attest_pubkey *k = NULL;
		struct cvmbus_attest_result res;
		uint8_t nonce[64] = { 1, 2, 3 }, report[CVMBUS_ATTEST_REPORT_SIZE];
		uint64_t gpa;
		int vrc;

		CHECK(cvmbus_attest_pubkey_from_pem(pub, publen, &k, NULL, 0) == 0);
		CHECK(cvmbus_mem_alloc(cvmbus_platform_mem(q), CVMBUS_MEM_REGION_VTL0, 1, &gpa) == 0);
		vrc = cvmbus_attest_request(q, 0, CVMBUS_PATH_PARAVISOR_TRAP, nonce, gpa);
		if (!vrc)
			vrc = cvmbus_mem_read(cvmbus_platform_mem(q), CVMBUS_MEM_VIEW_GUEST, gpa, report,
					      sizeof(report));
		if (!vrc)
			vrc = cvmbus_attest_verify(report, sizeof(report), k,
						   (const uint8_t (*)[CVMBUS_ATTEST_DIGEST_SIZE])m2, 1,
						   nonce, &res);
		cvmbus_attest_pubkey_free(k);
		CHECK(vrc == 0);
	}
	cvmbus_platform_destroy(q);
	q = NULL;

	/* Configuration errors. */
	pc.attest_key_pem = "not a key";
	CHECK(cvmbus_platform_create(&pc, &q, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "platform key"));
	pc.attest_key_pem = NULL;
	att_reference_image(&img); /* offers confidential vmbus ... */
	pc.paravisor_image = &img; /* ... but this configuration does not */
	CHECK(cvmbus_platform_create(&pc, &q, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "confidential vmbus"));
	bad = img;
	bad.name[0] = '\0';
	pc.confidential_vmbus = true;
	pc.paravisor_image = &bad;
	CHECK(cvmbus_platform_create(&pc, &q, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "paravisor image"));
	pc.paravisor = false;
	pc.confidential_vmbus = false;
	pc.paravisor_image = &img;
	CHECK(cvmbus_platform_create(&pc, &q, err, sizeof(err)) == -EINVAL);
	CHECK(strstr(err, "needs a paravisor"));
	/* No paravisor at all: nothing to attest. */
	pc.paravisor_image = NULL;
	CHECK(cvmbus_platform_create(&pc, &q, err, sizeof(err)) == 0);
	CHECK(cvmbus_platform_attest(q) == NULL && cvmbus_platform_paravisor_image(q) == NULL);
	CHECK(cvmbus_platform_attest_measurement(q, m) == -EOPNOTSUPP);
	CHECK(cvmbus_platform_attest_pubkey_pem(q, pem, sizeof(pem), &len) == -EOPNOTSUPP);
	rc = 0;
out:
	free(key);
	free(pub);
	cvmbus_platform_destroy(q);
	cvmbus_platform_destroy(p);
	return rc;
}

/* ---- guest configuration -------------------------------------------------------------------- */

static int config_main(void *arg)
{
	struct scen *s = arg;
	struct cvmbus_guest_config gc;
	struct cvmbus_guest_attestation a;
	struct cvmbus_guest *g = NULL;
	uint8_t m[1][CVMBUS_ATTEST_DIGEST_SIZE];
	char pem[1024];
	size_t len;
	int rc = -1;

	CHECK(make_platform(s, HV_ISOLATION_TYPE_SNP, true, NULL, &s->p) == 0);
	CHECK(cvmbus_platform_attest_pubkey_pem(s->p, pem, sizeof(pem), &len) == 0);
	CHECK(cvmbus_platform_attest_measurement(s->p, m[0]) == 0);
	memset(&gc, 0, sizeof(gc));
	gc.platform = s->p;
	/* A policy needs both a key and a list. */
	gc.attest_policy = CVMBUS_GUEST_ATTEST_REQUIRE;
	CHECK(cvmbus_guest_create(&gc, &g) == -EINVAL);
	gc.attest_pubkey_pem = pem;
	CHECK(cvmbus_guest_create(&gc, &g) == -EINVAL);
	gc.expected_measurements = (const uint8_t (*)[CVMBUS_ATTEST_DIGEST_SIZE])m;
	gc.expected_count = 1;
	gc.attest_pubkey_pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
	CHECK(cvmbus_guest_create(&gc, &g) == -EINVAL);
	gc.attest_pubkey_pem = pem;
	gc.attest_policy = (enum cvmbus_guest_attest_policy)7;
	CHECK(cvmbus_guest_create(&gc, &g) == -EINVAL);
	/* NONE with a key and a list: no attestation at connect, but the
	 * check alone works once started. */
	gc.attest_policy = CVMBUS_GUEST_ATTEST_NONE;
	CHECK(cvmbus_guest_create(&gc, &g) == 0);
	CHECK(cvmbus_guest_attest(g, &a) == -EBUSY);
	CHECK(cvmbus_guest_start(g) == 0);
	CHECK(cvmbus_guest_attest(g, &a) == 0 && a.decision == CVMBUS_GUEST_ATTEST_CHECK_ONLY);
	CHECK(!strcmp(cvmbus_guest_attest_policy_name(CVMBUS_GUEST_ATTEST_FALLBACK), "fallback"));
	CHECK(!strcmp(cvmbus_guest_attest_decision_name(CVMBUS_GUEST_ATTEST_FELL_BACK),
		      "fell-back"));
	cvmbus_guest_stop(g);
	CHECK(cvmbus_guest_attest(g, &a) == -EBUSY);
	rc = 0;
out:
	cvmbus_guest_destroy(g);
	cvmbus_platform_destroy(s->p);
	return rc;
}

/* ---- tests ------------------------------------------------------------------------------------ */

static void run_fn(struct scen *s, cvmbus_thread_fn fn)
{
	int ret = -1;

	assert_int_equal(cvmbus_exec_native_create(&s->exec), 0);
	assert_int_equal(cvmbus_exec_run(s->exec, fn, s, &ret), 0);
	cvmbus_exec_destroy(s->exec);
	pthread_mutex_destroy(&s->log_lock);
	if (ret)
		fail_msg("%s", s->why);
}

static void test_launch(void **state)
{
	struct scen s;

	(void)state;
	scen_init(&s, HV_ISOLATION_TYPE_SNP, CVMBUS_GUEST_ATTEST_NONE, EXPECT_RIGHT, NULL);
	run_fn(&s, launch_main);
}

static void test_guest_config(void **state)
{
	struct scen s;

	(void)state;
	scen_init(&s, HV_ISOLATION_TYPE_SNP, CVMBUS_GUEST_ATTEST_NONE, EXPECT_RIGHT, NULL);
	run_fn(&s, config_main);
}

static void test_request_path(void **state)
{
	struct scen s;

	(void)state;
	scen_init(&s, HV_ISOLATION_TYPE_SNP, CVMBUS_GUEST_ATTEST_NONE, EXPECT_RIGHT, body_path);
	run_native(&s);
}

static void test_match_confidential_snp(void **state)
{
	struct scen s;

	(void)state;
	scen_init(&s, HV_ISOLATION_TYPE_SNP, CVMBUS_GUEST_ATTEST_REQUIRE, EXPECT_RIGHT, body_match);
	run_native(&s);
}

static void test_match_confidential_tdx(void **state)
{
	struct scen s;

	(void)state;
	scen_init(&s, HV_ISOLATION_TYPE_TDX, CVMBUS_GUEST_ATTEST_FALLBACK, EXPECT_RIGHT, body_match);
	run_native(&s);
}

static void test_other_image_require(void **state)
{
	struct scen s;

	(void)state;
	scen_init(&s, HV_ISOLATION_TYPE_SNP, CVMBUS_GUEST_ATTEST_REQUIRE, EXPECT_OTHER_IMAGE,
		  body_refused);
	run_native(&s);
}

static void test_other_image_fallback(void **state)
{
	struct scen s;

	(void)state;
	scen_init(&s, HV_ISOLATION_TYPE_SNP, CVMBUS_GUEST_ATTEST_FALLBACK, EXPECT_OTHER_IMAGE,
		  body_fallback);
	run_native(&s);
}

static void test_wrong_key(void **state)
{
	struct scen s;

	(void)state;
	scen_init(&s, HV_ISOLATION_TYPE_SNP, CVMBUS_GUEST_ATTEST_REQUIRE, EXPECT_RIGHT, body_refused);
	s.wrong_key = true;
	run_native(&s);
}

static void test_tampering_host(void **state)
{
	struct scen s;

	(void)state;
	scen_init(&s, HV_ISOLATION_TYPE_SNP, CVMBUS_GUEST_ATTEST_REQUIRE, EXPECT_RIGHT, body_tamper);
	run_native(&s);
}

/* The matching scenario under the deterministic executor: it completes,
 * and one seed twice gives one trace, attestation events included (the
 * nonce and the signature stay out of the trace). */
static void test_det_same_trace(void **state)
{
	uint64_t hash[2];

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct cvmbus_exec_det_opts o = { .seed = 7 };
		struct scen s;
		int ret = -1, rc;

		scen_init(&s, HV_ISOLATION_TYPE_SNP, CVMBUS_GUEST_ATTEST_REQUIRE, EXPECT_RIGHT,
			  body_match);
		assert_int_equal(cvmbus_exec_det_create(&s.exec, &o), 0);
		cvmbus_log_set_sink(log_sink, &s);
		rc = cvmbus_exec_run(s.exec, scen_main, &s, &ret);
		cvmbus_log_set_sink(NULL, NULL);
		if (rc)
			fail_msg("run failed (%d): %s", rc, cvmbus_exec_det_report(s.exec));
		cvmbus_exec_destroy(s.exec);
		pthread_mutex_destroy(&s.log_lock);
		if (ret)
			fail_msg("%s", s.why);
		hash[i] = s.trace_hash;
	}
	assert_true(hash[0] == hash[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_launch),
		cmocka_unit_test(test_guest_config),
		cmocka_unit_test(test_request_path),
		cmocka_unit_test(test_match_confidential_snp),
		cmocka_unit_test(test_match_confidential_tdx),
		cmocka_unit_test(test_other_image_require),
		cmocka_unit_test(test_other_image_fallback),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_tampering_host),
		cmocka_unit_test(test_det_same_trace),
	};

	cvmbus_log_set_level(CVMBUS_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
