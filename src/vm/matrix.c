/* SPDX-License-Identifier: MIT */
/*
 * The validation matrix (src/vm): the cover letter's {TrustedLaunch,
 * OpenHCL} x {SNP, TDX, no isolation, no paravisor} x {VMBus 5.0, 6.0} x
 * {arm64, x86_64}, as cells {no paravisor, paravisor} x {none, VBS, SNP,
 * TDX} x {max 5.0, 6.0} x {x86_64, arm64}; each runs the default workload
 * and its report is checked against coco.rst's list of host-visible pages
 * and the rules of Confidential VMBus. Cells that cannot exist (SNP or TDX
 * on arm64) are reported as n/a with the reason. docs/MATRIX.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/wire.h>

#include "vm/vm_internal.h"

static const enum hv_isolation_type isolations[] = {
	HV_ISOLATION_TYPE_NONE, HV_ISOLATION_TYPE_VBS, HV_ISOLATION_TYPE_SNP,
	HV_ISOLATION_TYPE_TDX,
};
static const uint32_t versions[] = { CVMBUS_VERSION_5_0, CVMBUS_VERSION_6_0 };
static const enum cvmbus_arch arches[] = { CVMBUS_ARCH_X86_64, CVMBUS_ARCH_ARM64 };

size_t cvmbus_vm_matrix_cells(struct cvmbus_vm_cell *out, size_t cap)
{
	size_t n = 0;

	for (int pv = 0; pv < 2; pv++)
		for (size_t i = 0; i < 4; i++)
			for (size_t v = 0; v < 2; v++)
				for (size_t a = 0; a < 2; a++) {
					if (out && n < cap) {
						out[n].paravisor = pv;
						out[n].isolation = isolations[i];
						out[n].max_version = versions[v];
						out[n].arch = arches[a];
					}
					n++;
				}
	return n;
}

int cvmbus_vm_cell_name(const struct cvmbus_vm_cell *c, char *buf, size_t cap)
{
	char ver[16];

	cvmbus_wire_version_format(c->max_version, ver, sizeof(ver));
	return snprintf(buf, cap, "%s/%s/%s/%s", c->paravisor ? "paravisor" : "no-paravisor",
			cvmbus_isolation_name(c->isolation), ver, cvmbus_arch_name(c->arch));
}

int cvmbus_vm_cell_parse(const char *name, struct cvmbus_vm_cell *out)
{
	struct cvmbus_vm_cell cells[CVMBUS_VM_MATRIX_CELLS];
	size_t n = cvmbus_vm_matrix_cells(cells, CVMBUS_VM_MATRIX_CELLS);
	char buf[64];

	if (!name)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		cvmbus_vm_cell_name(&cells[i], buf, sizeof(buf));
		if (!strcmp(buf, name)) {
			*out = cells[i];
			return 0;
		}
	}
	return -EINVAL;
}

bool cvmbus_vm_cell_match(const struct cvmbus_vm_cell *c, const char *filter)
{
	char name[64], f[128];
	char *save = NULL, *tok;

	if (!filter || !*filter)
		return true;
	cvmbus_vm_cell_name(c, name, sizeof(name));
	if (!strcmp(name, filter))
		return true;
	snprintf(f, sizeof(f), "%s", filter);
	for (tok = strtok_r(f, ",/", &save); tok; tok = strtok_r(NULL, ",/", &save)) {
		char comp[64];
		char *csave = NULL, *ctok;
		bool found = false;

		snprintf(comp, sizeof(comp), "%s", name);
		for (ctok = strtok_r(comp, "/", &csave); ctok && !found;
		     ctok = strtok_r(NULL, "/", &csave))
			found = !strcmp(ctok, tok);
		if (!found)
			return false;
	}
	return true;
}

void cvmbus_vm_cell_config(const struct cvmbus_vm_cell *c, bool deterministic, uint64_t seed,
			   struct cvmbus_vm_config *out)
{
	cvmbus_vm_config_default(out);
	out->paravisor = c->paravisor;
	out->isolation = c->isolation;
	out->max_version = c->max_version;
	out->arch = c->arch;
	/* Offered on hardware isolation only, as OpenHCL sets the CPUID bit
	 * ("when the VM is hardware-isolated"): VBS isolates memory with the
	 * hypervisor's help, and Confidential VMBus exists to take the
	 * hypervisor out of the trust base (docs/MATRIX.md). */
	out->confidential_vmbus = c->paravisor && (c->isolation == HV_ISOLATION_TYPE_SNP ||
						   c->isolation == HV_ISOLATION_TYPE_TDX);
	out->deterministic = deterministic;
	out->seed = seed;
}

/* ---- checks ------------------------------------------------------------------ */

static void fail(struct cvmbus_vm_cell_result *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct cvmbus_vm_cell_result *out, const char *fmt, ...)
{
	va_list ap;

	out->pass = false;
	if (out->failure_count >= CVMBUS_VM_MAX_FAILURES)
		return;
	va_start(ap, fmt);
	vsnprintf(out->failures[out->failure_count], sizeof(out->failures[0]), fmt, ap);
	va_end(ap);
	out->failure_count++;
}

/* The InitiateContact that won: the last one the guest posted for the
 * negotiated version (detection may have tried others before). */
static const struct cvmbus_vm_contact *winning_contact(const struct cvmbus_vm_report *r)
{
	for (size_t i = r->contact_count; i > 0; i--)
		if (r->contacts[i - 1].version == r->version)
			return &r->contacts[i - 1];
	return NULL;
}

void cvmbus_vm_check(const struct cvmbus_vm_report *r, struct cvmbus_vm_cell_result *out)
{
	const struct cvmbus_vm_config *cfg = &r->config;
	/* Linux refuses a version below 5.2 on an isolated partition
	 * (vmbus_negotiate_version): such a cell must fail to connect. */
	bool refuse = cfg->isolation != HV_ISOLATION_TYPE_NONE &&
		      cfg->max_version < CVMBUS_VERSION_5_2;
	bool want_conf = cfg->paravisor && cfg->confidential_vmbus &&
			 cfg->max_version >= CVMBUS_VERSION_6_0;
	const struct cvmbus_vm_contact *ic;

	out->pass = true;
	out->failure_count = 0;
	if (r->exec_status)
		fail(out, "executor: run failed (%d)", r->exec_status);
	if (refuse) {
		if (r->connected)
			fail(out, "an isolated guest accepted version %#x, below 5.2", r->version);
		else if (r->connect_status != -EINVAL)
			fail(out, "connect failed with %d, not the version refusal (-EINVAL)",
			     r->connect_status);
	} else if (r->status) {
		fail(out, "%s (%d)", r->error[0] ? r->error : "run failed", r->status);
	}

	/* Every host-visible page must be one coco.rst names, and allowed in
	 * this configuration. */
	for (size_t i = 0; i < r->reason_count; i++) {
		const struct cvmbus_vm_reason *rs = &r->reasons[i];

		if (rs->pages_now && !rs->allowed)
			fail(out, "host sees %llu page(s) '%s' (%s, by %s): not allowed here",
			     (unsigned long long)rs->pages_now, rs->reason,
			     cvmbus_vm_coco_name(rs->category), cvmbus_mem_party_name(rs->party));
	}
	if (r->ranges_dropped)
		fail(out, "%zu visible ranges not recorded", r->ranges_dropped);

	if (r->connected) {
		if (!r->steady)
			fail(out, "no steady-state snapshot was taken");
		/* A confidential connection (control plane on the paravisor's
		 * SynIC) may exist without feature 0x10: below 6.0, or when a
		 * probing guest reaches a paravisor that does not offer it. But
		 * when the paravisor offers it at 6.0, the guest must take it. */
		if (want_conf &&
		    (!r->confidential || !(r->features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS)))
			fail(out, "the paravisor offers Confidential VMBus at 6.0 but the "
				  "connection is not confidential");
		ic = winning_contact(r);
		if (!ic)
			fail(out, "no InitiateContact for the negotiated version in the trace");
		else if (r->confidential &&
			 (ic->path != CVMBUS_PATH_PARAVISOR_TRAP || !ic->trusted))
			fail(out, "confidential connection contacted over %s (trusted %d)",
			     cvmbus_path_name(ic->path), ic->trusted);
		if (!r->channel_count)
			fail(out, "no channel was offered");
	}

	for (size_t i = 0; i < r->channel_count; i++) {
		const struct cvmbus_vm_channel *c = &r->channels[i];

		if ((c->confidential_ring || c->confidential_external) &&
		    !(r->features & CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS))
			fail(out, "relid %u: confidential flags without feature 0x10", c->relid);
		if (!c->opened)
			continue;
		if (c->confidential_ring && (c->ring_pages_visible || !c->ring_private))
			fail(out, "relid %u: %llu page(s) of a confidential ring are host-visible",
			     c->relid, (unsigned long long)c->ring_pages_visible);
		if (!c->secret_sent)
			continue;
		if (c->confidential_ring && (c->secret_hits_view || c->secret_hits_fd))
			fail(out, "relid %u: the host can read the secret (%llu in view, %llu in fd)",
			     c->relid, (unsigned long long)c->secret_hits_view,
			     (unsigned long long)c->secret_hits_fd);
		/* A ring in host-visible memory holds the secret: a scan that
		 * does not find it there cannot be trusted to find it anywhere. */
		if (!c->confidential_ring && !c->secret_hits_view)
			fail(out, "relid %u: scan missed the secret in a host-visible ring", c->relid);
	}
}

int cvmbus_vm_run_cell(const struct cvmbus_vm_cell *c, bool deterministic, uint64_t seed,
		       const struct cvmbus_vm_workload *wl, struct cvmbus_vm_cell_result *out)
{
	return cvmbus_vm_run_cell_ex(c, deterministic, seed, false, wl, out);
}

int cvmbus_vm_run_cell_ex(const struct cvmbus_vm_cell *c, bool deterministic, uint64_t seed,
			  bool processes, const struct cvmbus_vm_workload *wl,
			  struct cvmbus_vm_cell_result *out)
{
	struct cvmbus_vm_config cfg;
	struct cvmbus_vm *vm = NULL;
	char err[160] = "";
	int rc;

	memset(out, 0, sizeof(*out));
	out->cell = *c;
	cvmbus_vm_cell_name(c, out->name, sizeof(out->name));
	cvmbus_vm_cell_config(c, deterministic, seed, &cfg);
	cfg.processes = processes;
	out->report.config = cfg;
	cvmbus_vm_config_format(&cfg, out->report.config_text, sizeof(out->report.config_text));
	rc = cvmbus_vm_config_check(&cfg, err, sizeof(err));
	if (rc == -ENOTSUP) {
		out->applicable = false;
		out->pass = true;
		snprintf(out->na_reason, sizeof(out->na_reason), "%s", err);
		return 0;
	}
	out->applicable = true;
	rc = cvmbus_vm_create(&cfg, &vm, err, sizeof(err));
	if (rc) {
		if (rc == -ENOMEM)
			return rc;
		fail(out, "configuration: %s (%d)", err, rc);
		return 0;
	}
	(void)cvmbus_vm_run(vm, cvmbus_vm_default_workload, (void *)wl);
	out->report = *cvmbus_vm_report(vm);
	cvmbus_vm_destroy(vm);
	cvmbus_vm_check(&out->report, out);
	return 0;
}
