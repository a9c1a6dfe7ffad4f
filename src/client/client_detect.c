/* SPDX-License-Identifier: MIT */
/*
 * Confidential VMBus detection for the guest VMBus client (src/client): the
 * two strategies of the Linux series as a small pure helper the glue
 * iterates around cvmbus_client_connect(). The merged series (v6 on) reads
 * one CPUID bit and makes one attempt; v4 and the seed's documentation probe
 * the paravisor with a confidential attempt and fall back to the hypervisor
 * SynIC when it fails. Neither touches hardware here: the glue reads CPUID
 * and owns both transports.
 */
#include <string.h>

#include "client/client_internal.h"

void cvmbus_client_detect_init(struct cvmbus_client_detect *d,
			       enum cvmbus_client_detect_strategy strategy,
			       const struct cvmbus_client_platform *platform)
{
	if (!d)
		return;
	memset(d, 0, sizeof(*d));
	d->strategy = strategy;
	if (platform)
		d->platform = *platform;
}

/* v4's condition for trying the paravisor first: a paravisor that can keep
 * memory from the host, i.e. hardware isolation. VBS has no encrypted
 * memory, so there is nothing to be confidential about. */
static bool client_probe_paravisor(const struct cvmbus_client_platform *p)
{
	return p->paravisor_present &&
	       (p->isolation == HV_ISOLATION_TYPE_SNP || p->isolation == HV_ISOLATION_TYPE_TDX);
}

int cvmbus_client_detect_next(struct cvmbus_client_detect *d, struct cvmbus_client_attempt *out)
{
	unsigned int n;

	if (!d || !out)
		return 0;
	n = d->next;
	if (d->strategy == CVMBUS_CLIENT_DETECT_CPUID) {
		if (n > 0)
			return 0; /* no fallback since v6 */
		/* Linux takes the bit as is: the paravisor (or the Windows
		 * stack) answers this leaf, not the hypervisor. */
		out->confidential = d->platform.confidential_vmbus_available;
		out->path = out->confidential ? CVMBUS_CLIENT_PATH_PARAVISOR
					      : CVMBUS_CLIENT_PATH_HYPERVISOR;
	} else {
		bool probe = client_probe_paravisor(&d->platform);

		if (n > (probe ? 1u : 0u))
			return 0;
		if (probe && n == 0) {
			out->path = CVMBUS_CLIENT_PATH_PARAVISOR;
			out->confidential = true;
		} else {
			/* The fallback: the hypervisor SynIC through GHCB or
			 * tdcall, host-visible memory for everything. */
			out->path = CVMBUS_CLIENT_PATH_HYPERVISOR;
			out->confidential = false;
		}
	}
	d->next = n + 1;
	return 1;
}

void cvmbus_client_platform_from_cpuid(struct cvmbus_client_platform *p,
				       const struct hv_cpuid_result *isolation_config,
				       const struct hv_cpuid_result *virt_stack_properties)
{
	if (!p)
		return;
	memset(p, 0, sizeof(*p));
	if (isolation_config) {
		p->paravisor_present = isolation_config->eax & HV_PARAVISOR_PRESENT;
		p->isolation = (enum hv_isolation_type)(isolation_config->ebx &
							HV_ISOLATION_TYPE_MASK);
	}
	if (virt_stack_properties)
		p->confidential_vmbus_available =
			virt_stack_properties->eax & HV_VS_PROPERTIES_EAX_CONFIDENTIAL_VMBUS_AVAILABLE;
}
