/* SPDX-License-Identifier: MIT */
/*
 * The measured paravisor inside the platform model (src/hw, between the
 * attestation core of attest_*.c and the guest glue above): a platform with
 * a paravisor owns a simulated security processor, launches the paravisor's
 * image into it while the platform is created (before partition memory, the
 * SynICs or any vCPU exist, so nothing that runs can change the register),
 * and answers the guest's report request over the one path the host cannot
 * see: the paravisor trap. The request travels in the guest's PRIVATE trap
 * input page, the paravisor copies it out through its own view once, the
 * security processor signs, and the paravisor writes the report into a
 * PRIVATE guest page the guest named and the answer into the trap output
 * page. A request over GHCB, tdcall or any host-handled path is refused:
 * the host owns that exit and could drop, read or swap what it carries.
 * Layouts and trace events: docs/ATTESTATION.md, "Wiring it in".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cvmbus/log.h>

#include "hw/platform_internal.h"

#define PAGE HV_PAGE_SIZE
#define REQ_SIZE sizeof(struct cvmbus_attest_request_wire)
#define RSP_SIZE sizeof(struct cvmbus_attest_response_wire)

/* Little-endian, whatever the build: the request is wire bytes. */
static uint32_t ld32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t ld64(const uint8_t *b)
{
	return (uint64_t)ld32(b) | (uint64_t)ld32(b + 4) << 32;
}

static void st32(uint8_t *b, uint32_t v)
{
	for (unsigned int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static void st64(uint8_t *b, uint64_t v)
{
	for (unsigned int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ---- launch ---------------------------------------------------------------------- */

void cvmbus_platform_default_paravisor_image(const struct cvmbus_platform_config *cfg,
					     struct cvmbus_paravisor_image *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof(*out));
	/* Both strings are compile-time constants shorter than their arrays. */
	memcpy(out->name, CVMBUS_PLATFORM_DEFAULT_PARAVISOR_NAME,
	       sizeof(CVMBUS_PLATFORM_DEFAULT_PARAVISOR_NAME));
	memcpy(out->version, CVMBUS_PLATFORM_DEFAULT_PARAVISOR_VERSION,
	       sizeof(CVMBUS_PLATFORM_DEFAULT_PARAVISOR_VERSION));
	/* The one fact of the configuration the paravisor states about
	 * itself (the CPUID bit it answers) is part of what is measured, so
	 * two defaults that would answer differently measure differently. */
	out->policy.offers_confidential_vmbus = cfg && cfg->confidential_vmbus;
}
_Static_assert(sizeof(CVMBUS_PLATFORM_DEFAULT_PARAVISOR_NAME) <= CVMBUS_PARAVISOR_NAME_MAX + 1,
	       "default paravisor name");
_Static_assert(sizeof(CVMBUS_PLATFORM_DEFAULT_PARAVISOR_VERSION) <=
		       CVMBUS_PARAVISOR_VERSION_MAX + 1,
	       "default paravisor version");

int hw_attest_setup(struct cvmbus_platform *p, char *why, size_t whylen)
{
	struct cvmbus_attest_platform_config ac;
	char err[128];
	int rc;

	if (!p->cfg.paravisor) {
		if (p->cfg.paravisor_image) {
			snprintf(why, whylen, "a paravisor image needs a paravisor");
			return -EINVAL;
		}
		p->cfg.attest_key_pem = NULL;
		p->cfg.attest_key_pem_len = 0;
		return 0;
	}
	/* Copied: the caller's image may go away, and the platform's copy is
	 * what it answers about (cvmbus_platform_paravisor_image). */
	if (p->cfg.paravisor_image)
		p->pv_image = *p->cfg.paravisor_image;
	else
		cvmbus_platform_default_paravisor_image(&p->cfg, &p->pv_image);
	p->cfg.paravisor_image = &p->pv_image;
	/* The CPUID bit is answered from the configuration; the measured
	 * image says the same thing. A paravisor that claims one thing in
	 * CPUID and was measured saying another is a configuration error, not
	 * something to smooth over. */
	if (p->pv_image.policy.offers_confidential_vmbus != p->cfg.confidential_vmbus) {
		snprintf(why, whylen, "paravisor image %s confidential vmbus, the configuration %s",
			 p->pv_image.policy.offers_confidential_vmbus ? "offers" : "does not offer",
			 p->cfg.confidential_vmbus ? "does" : "does not");
		return -EINVAL;
	}

	memset(&ac, 0, sizeof(ac));
	ac.isolation = p->cfg.isolation;
	ac.key_pem = p->cfg.attest_key_pem;
	ac.key_pem_len = p->cfg.attest_key_pem_len;
	if (ac.key_pem && !ac.key_pem_len)
		ac.key_pem_len = strlen(ac.key_pem);
	/* Read here and never again: the platform keeps no pointer to it. */
	p->cfg.attest_key_pem = NULL;
	p->cfg.attest_key_pem_len = 0;
	err[0] = '\0';
	rc = cvmbus_attest_platform_create(&ac, &p->attest, err, sizeof(err));
	if (rc) {
		snprintf(why, whylen, "platform key: %s", err[0] ? err : "cannot create");
		return rc;
	}
	err[0] = '\0';
	rc = cvmbus_attest_platform_launch(p->attest, &p->pv_image, err, sizeof(err));
	if (!rc)
		rc = cvmbus_attest_platform_measurement(p->attest, p->pv_measurement);
	if (rc) {
		snprintf(why, whylen, "paravisor image: %s", err[0] ? err : "launch failed");
		return rc;
	}
	return 0;
}

void hw_attest_teardown(struct cvmbus_platform *p)
{
	cvmbus_attest_platform_destroy(p->attest);
	p->attest = NULL;
}

/* ---- what a verifier may learn --------------------------------------------------- */

const struct cvmbus_paravisor_image *cvmbus_platform_paravisor_image(
	const struct cvmbus_platform *p)
{
	return p && p->attest ? &p->pv_image : NULL;
}

struct cvmbus_attest_platform *cvmbus_platform_attest(struct cvmbus_platform *p)
{
	return p ? p->attest : NULL;
}

int cvmbus_platform_attest_measurement(const struct cvmbus_platform *p,
				       uint8_t out[CVMBUS_ATTEST_DIGEST_SIZE])
{
	if (!p || !out)
		return -EINVAL;
	if (!p->attest)
		return -EOPNOTSUPP;
	memcpy(out, p->pv_measurement, CVMBUS_ATTEST_DIGEST_SIZE);
	return 0;
}

int cvmbus_platform_attest_pubkey_pem(const struct cvmbus_platform *p, char *buf, size_t cap,
				      size_t *len)
{
	if (!p || !len)
		return -EINVAL;
	if (!p->attest)
		return -EOPNOTSUPP;
	return cvmbus_attest_platform_public_key_pem(p->attest, buf, cap, len);
}

/* ---- the request ------------------------------------------------------------------- */

static void attest_trace(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_path path,
			 bool to_guest, uint16_t status, int err, const char *note)
{
	struct cvmbus_trace_event ev;

	cvmbus_trace_event_init(&ev, CVMBUS_TRACE_HYPERCALL);
	ev.vp = vp;
	/* The request goes to whoever handles the path's exit: the paravisor
	 * for a trap, the hypervisor (and so the host) for anything else. */
	if (to_guest) {
		ev.from = CVMBUS_MEM_PARTY_PARAVISOR;
		ev.to = CVMBUS_MEM_PARTY_GUEST;
	} else {
		ev.from = CVMBUS_MEM_PARTY_GUEST;
		ev.to = path == CVMBUS_PATH_PARAVISOR_TRAP ? CVMBUS_MEM_PARTY_PARAVISOR
							   : CVMBUS_MEM_PARTY_HYPERVISOR;
	}
	ev.path = path;
	ev.trusted = hw_path_trusted(p, path);
	ev.code = CVMBUS_ATTEST_TRACE_CODE;
	ev.status = status;
	ev.err = err;
	ev.note = note;
	cvmbus_trace_emit(p->trace, &ev);
}

/* Where the report may go: inside guest RAM (never VTL2: the guest must
 * not be able to make the paravisor write over its own memory), present,
 * and on an isolated partition private on every page it spans, so that the
 * report never lands where the host can read or replace it. 0, -EFAULT,
 * -EPERM; *why says which. */
static int attest_check_report_range(struct cvmbus_platform *p, uint64_t gpa, uint64_t len,
				     const char **why)
{
	uint64_t base, bytes;
	int rc;

	rc = cvmbus_mem_region(p->mem, CVMBUS_MEM_REGION_VTL0, &base, &bytes);
	if (rc)
		return rc;
	if (gpa < base || gpa - base > bytes || len > bytes - (gpa - base)) {
		*why = "report page outside guest ram";
		return -EFAULT;
	}
	for (uint64_t pg = gpa & ~(uint64_t)(PAGE - 1); pg < gpa + len; pg += PAGE) {
		int state = cvmbus_mem_page_state(p->mem, pg);

		if (state == CVMBUS_MEM_PAGE_NOT_PRESENT || state < 0) {
			*why = "report page mid-transition";
			return -EFAULT;
		}
		/* Under isolation NONE every page is host-visible by nature:
		 * there is no private memory to insist on. */
		if (hw_isolated(p) && state != CVMBUS_MEM_PAGE_PRIVATE) {
			*why = "report page is host-visible";
			return -EPERM;
		}
	}
	return 0;
}

/* The paravisor's half, on its own copy of the request: validate, have the
 * security processor sign, write the report through the paravisor's view.
 * Returns 0 or a negative errno; *why names a refusal. */
static int attest_serve(struct cvmbus_platform *p, const uint8_t req[REQ_SIZE], const char **why)
{
	uint8_t report[CVMBUS_ATTEST_REPORT_SIZE];
	uint32_t version = ld32(req), room = ld32(req + 4);
	uint64_t gpa = ld64(req + 8);
	int rc;

	if (version != CVMBUS_ATTEST_REQUEST_VERSION) {
		*why = "unknown request version";
		return -EINVAL;
	}
	if (room < CVMBUS_ATTEST_REPORT_SIZE) {
		*why = "report buffer too small";
		return -EINVAL;
	}
	rc = attest_check_report_range(p, gpa, CVMBUS_ATTEST_REPORT_SIZE, why);
	if (rc)
		return rc;
	rc = cvmbus_attest_get_report(p->attest, req + 16, report);
	if (rc) {
		*why = "security processor failed";
		return rc;
	}
	rc = cvmbus_mem_write(p->mem, CVMBUS_MEM_VIEW_PARAVISOR, gpa, report, sizeof(report));
	if (rc)
		*why = "report page not writable";
	return rc;
}

int cvmbus_attest_request(struct cvmbus_platform *p, uint32_t vp, enum cvmbus_path path,
			  const uint8_t nonce[CVMBUS_ATTEST_REPORT_DATA_SIZE], uint64_t report_gpa)
{
	uint8_t req[REQ_SIZE], copy[REQ_SIZE], rsp[RSP_SIZE];
	char note[2 * CVMBUS_ATTEST_DIGEST_SIZE + 64];
	const char *why = NULL;
	struct hw_carrier *c;
	uint32_t status;
	int rc;

	if (!p || !nonce || vp >= p->cfg.vcpus)
		return -EINVAL;
	if (path != CVMBUS_PATH_PARAVISOR_TRAP) {
		/* Not even sent: whatever it would carry, the host handles the
		 * exit and could answer with a report of its choosing. */
		attest_trace(p, vp, path, false, HV_STATUS_ACCESS_DENIED, -EPERM,
			     "attest request refused: host-visible path");
		return -EPERM;
	}
	if (!p->attest || !p->vcpu[vp].guest_trap.present) {
		attest_trace(p, vp, path, false, HV_STATUS_INVALID_HYPERCALL_CODE, -EOPNOTSUPP,
			     "attest request refused: no paravisor");
		return -EOPNOTSUPP;
	}
	if (atomic_load(&p->shutting_down))
		return -ESHUTDOWN;
	c = &p->vcpu[vp].guest_trap;

	snprintf(note, sizeof(note), "attest request report_gpa=0x%llx",
		 (unsigned long long)report_gpa);
	attest_trace(p, vp, path, false, HV_STATUS_SUCCESS, 0, note);

	/* The guest's half: the request into its private trap page. */
	memset(req, 0, sizeof(req));
	st32(req, CVMBUS_ATTEST_REQUEST_VERSION);
	st32(req + 4, CVMBUS_ATTEST_REPORT_SIZE);
	st64(req + 8, report_gpa);
	memcpy(req + 16, nonce, CVMBUS_ATTEST_REPORT_DATA_SIZE);

	/* One request at a time per vCPU, and none interleaved with another
	 * trapped hypercall using the same pages. */
	cvmbus_mutex_lock(&c->lock);
	rc = cvmbus_mem_write(p->mem, c->view, c->in_gpa, req, sizeof(req));
	if (rc) {
		why = "trap page not writable";
		goto out;
	}
	/* The paravisor intercepts: one copy through its own view, and every
	 * field below comes from that copy. */
	rc = cvmbus_mem_read(p->mem, CVMBUS_MEM_VIEW_PARAVISOR, c->in_gpa, copy, sizeof(copy));
	if (rc) {
		why = "trap page not readable";
		goto out;
	}
	rc = attest_serve(p, copy, &why);
	memset(rsp, 0, sizeof(rsp));
	status = rc < 0 ? (uint32_t)-rc : 0;
	st32(rsp, status);
	st32(rsp + 4, rc ? 0 : CVMBUS_ATTEST_REPORT_SIZE);
	rc = cvmbus_mem_write(p->mem, CVMBUS_MEM_VIEW_PARAVISOR, c->out_gpa, rsp, sizeof(rsp));
	if (rc) {
		why = "trap page not writable";
		goto out;
	}
	/* Back on the guest's side: the answer as its view shows it. */
	rc = cvmbus_mem_read(p->mem, c->view, c->out_gpa, rsp, sizeof(rsp));
	if (rc) {
		why = "trap page not readable";
		goto out;
	}
	status = ld32(rsp);
	rc = status ? -(int)status : 0;
	if (!rc && ld32(rsp + 4) != CVMBUS_ATTEST_REPORT_SIZE) {
		why = "short report";
		rc = -EIO;
	}
out:
	cvmbus_mutex_unlock(&c->lock);
	if (rc) {
		snprintf(note, sizeof(note), "attest refused: %s", why ? why : "error");
		attest_trace(p, vp, path, true,
			     rc == -EPERM ? HV_STATUS_ACCESS_DENIED : HV_STATUS_INVALID_PARAMETER,
			     rc, note);
		cvmbus_log_debug("platform: attestation request on vp %u refused: %s (%d)", vp,
				 why ? why : "error", rc);
		return rc;
	}
	/* The measurement is public (a verifier's list holds it); the nonce
	 * and the signature are not traced, so that a deterministic run still
	 * gives the same trace. */
	memcpy(note, "attest report measurement=", 26);
	to_hex(p->pv_measurement, CVMBUS_ATTEST_DIGEST_SIZE, note + 26);
	attest_trace(p, vp, path, true, HV_STATUS_SUCCESS, 0, note);
	return 0;
}
