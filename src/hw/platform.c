/* SPDX-License-Identifier: MIT */
/*
 * The platform object (src/hw): builds one simulated partition from a
 * configuration, in dependency order, and takes it down in reverse. Partition
 * memory comes first, with the isolation type and shared-GPA boundary the
 * configuration resolves to and the hypervisor's visibility hypercall as its
 * hook (so every visibility change is traced); then the SynICs (the
 * paravisor's only with a paravisor, which also supplies the hypervisor's
 * pages), the port table, each vCPU's hypercall carrier pages, and last the
 * vCPU threads, so nothing can interrupt a half-built platform. With a
 * paravisor, its image is measured into the security processor before all
 * of that (attest_path.c), so nothing that runs later can change it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/log.h>

#include "hw/platform_internal.h"

int cvmbus_platform_create(const struct cvmbus_platform_config *cfg,
			   struct cvmbus_platform **out, char *err, size_t errlen)
{
	struct cvmbus_mem_config mc;
	struct cvmbus_platform *p;
	char why[128];
	int rc;

	if (!out)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	rc = hw_config_resolve(cfg, &p->cfg, &p->boundary_bits, why, sizeof(why));
	if (rc) {
		cvmbus_log_error("platform: %s", why);
		if (err && errlen)
			snprintf(err, errlen, "%s", why);
		free(p);
		return rc;
	}
	p->exec = p->cfg.exec;
	atomic_init(&p->shutting_down, false);
	cvmbus_mutex_init(&p->isr_lock, p->exec, "platform-isr");
	cvmbus_mutex_init(&p->vis_lock, p->exec, "platform-visibility");
	cvmbus_mutex_init(&p->link_lock, p->exec, "platform-hostlink");
	cvmbus_mutex_init(&p->reg_lock, p->exec, "platform-regs");
	hw_ports_init(p);

	if (p->cfg.trace) {
		p->trace = p->cfg.trace;
	} else {
		rc = cvmbus_trace_create(p->exec, &p->trace);
		if (rc)
			goto fail;
		p->own_trace = true;
	}

	/* The paravisor is measured first, before the partition it will run
	 * in exists: whatever happens later, the register holds what was
	 * launched. A bad image or key is a configuration error. */
	rc = hw_attest_setup(p, why, sizeof(why));
	if (rc) {
		if (rc != -EINVAL)
			snprintf(why, sizeof(why), "security processor: error %d", rc);
		goto fail_msg;
	}

	p->vcpu = calloc(p->cfg.vcpus, sizeof(*p->vcpu));
	if (!p->vcpu) {
		rc = -ENOMEM;
		goto fail;
	}

	memset(&mc, 0, sizeof(mc));
	mc.isolation = p->cfg.isolation;
	mc.vtl0_bytes = p->cfg.vtl0_bytes;
	mc.vtl2_bytes = p->cfg.vtl2_bytes;
	mc.shared_gpa_bits = p->boundary_bits;
	/* Every visibility hypercall reaches our hypervisor model, which
	 * applies it to the host's window and traces it. */
	mc.visibility_fn = hw_visibility_hook;
	mc.visibility_ctx = p;
	rc = cvmbus_mem_create(&mc, &p->mem);
	if (rc) {
		snprintf(why, sizeof(why), "partition memory: error %d", rc);
		goto fail_msg;
	}
	p->host = cvmbus_mem_host(p->mem);
	p->boundary = cvmbus_mem_shared_gpa_boundary(p->mem);

	rc = hw_synic_create(p, CVMBUS_SYNIC_HYPERVISOR, &p->hyp);
	if (rc)
		goto fail;
	if (p->cfg.paravisor) {
		rc = hw_synic_create(p, CVMBUS_SYNIC_PARAVISOR, &p->para);
		if (rc)
			goto fail;
		rc = hw_synic_supply_pages(p->hyp);
		if (rc) {
			snprintf(why, sizeof(why), "hypervisor synic pages: error %d", rc);
			goto fail_msg;
		}
	}
	rc = hw_regpath_setup(p);
	if (rc) {
		snprintf(why, sizeof(why), "hypercall pages: error %d", rc);
		goto fail_msg;
	}
	rc = hw_vcpus_start(p);
	if (rc) {
		snprintf(why, sizeof(why), "vcpu threads: error %d", rc);
		goto fail_msg;
	}
	*out = p;
	return 0;

fail_msg:
	cvmbus_log_error("platform: %s", why);
	if (err && errlen)
		snprintf(err, errlen, "%s", why);
fail:
	cvmbus_platform_destroy(p);
	return rc;
}

void cvmbus_platform_destroy(struct cvmbus_platform *p)
{
	if (!p)
		return;
	if (p->remote) {
		hw_remote_destroy(p);
		return;
	}
	atomic_store(&p->shutting_down, true);
	/* Senders first (ports and their threads), then the vCPUs that take
	 * interrupts, then what they all used. */
	hw_ports_fini(p);
	hw_vcpus_stop(p);
	hw_regpath_teardown(p);
	hw_synic_destroy(p->para);
	hw_synic_destroy(p->hyp);
	cvmbus_mem_destroy(p->mem);
	hw_attest_teardown(p);
	free(p->vcpu);
	if (p->own_trace)
		cvmbus_trace_destroy(p->trace);
	cvmbus_mutex_destroy(&p->reg_lock);
	cvmbus_mutex_destroy(&p->vis_lock);
	cvmbus_mutex_destroy(&p->link_lock);
	cvmbus_mutex_destroy(&p->isr_lock);
	free(p);
}

struct cvmbus_mem *cvmbus_platform_mem(struct cvmbus_platform *p)
{
	return p ? p->mem : NULL;
}

struct cvmbus_trace *cvmbus_platform_trace(struct cvmbus_platform *p)
{
	return p ? p->trace : NULL;
}

struct cvmbus_exec *cvmbus_platform_exec(struct cvmbus_platform *p)
{
	return p ? p->exec : NULL;
}

const struct cvmbus_platform_config *cvmbus_platform_config(const struct cvmbus_platform *p)
{
	return p ? &p->cfg : NULL;
}

unsigned int cvmbus_platform_vcpus(const struct cvmbus_platform *p)
{
	return p ? p->cfg.vcpus : 0;
}
