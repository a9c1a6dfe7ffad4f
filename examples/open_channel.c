/* SPDX-License-Identifier: MIT */
/*
 * An example program over libcvmbus's public API, built against an
 * installed copy with pkg-config (examples/Makefile): boot the default
 * confidential VM (SNP, a paravisor offering Confidential VMBus), open the
 * first echo channel the guest is offered (the paravisor's own device, so
 * a confidential ring), send one packet through it and check the echo, then
 * print what the run's report says about that channel. Exit 0 when the
 * echo came back intact.
 *
 *   cc open_channel.c $(pkg-config --cflags --libs cvmbus) -o open_channel
 */
#include <stdio.h>
#include <string.h>

#include <cvmbus/echo.h>
#include <cvmbus/guest.h>
#include <cvmbus/log.h>
#include <cvmbus/vm.h>
#include <cvmbus/wire.h>

struct result {
	uint32_t relid;
	int status;
	size_t reply_len;
};

/* Runs on the VM's main thread once the guest is connected: everything a
 * guest driver does, through the guest's blocking API. */
static int open_and_echo(struct cvmbus_vm *vm, void *arg)
{
	static const struct cvmbus_guid echo = CVMBUS_ECHO_INTERFACE_ID_INIT;
	static const char msg[] = "hello over Confidential VMBus";
	struct cvmbus_guest_open_params op = {
		.send_bytes = 4 * 4096, /* each ring: control page + 3 data pages */
		.recv_bytes = 4 * 4096,
	};
	struct cvmbus_guest *g = cvmbus_vm_guest(vm);
	struct result *res = arg;
	struct cvmbus_guest_offer offer;
	struct cvmbus_channel *ch;
	struct cvmbus_echo_vsc vsc;
	char reply[64];
	int rc;

	rc = cvmbus_guest_find_offer(g, &echo, &offer);
	if (rc)
		return rc;
	res->relid = offer.relid;
	rc = cvmbus_guest_open(g, offer.relid, &op, &ch);
	if (rc)
		return rc;
	cvmbus_echo_vsc_init(&vsc, ch);
	rc = cvmbus_echo_call(&vsc, msg, sizeof(msg), reply, sizeof(reply), &res->reply_len,
			      1000000000ull /* 1 s */);
	/* The device answers with the payload, padded to 8 bytes. */
	if (!rc && (res->reply_len < sizeof(msg) || memcmp(reply, msg, sizeof(msg))))
		rc = -1;
	res->status = rc;
	/* The snapshot records the channel (flags, ring pages) while open. */
	(void)cvmbus_vm_snapshot(vm);
	if (cvmbus_guest_close(g, offer.relid) && !rc)
		rc = -1;
	return rc;
}

int main(void)
{
	struct cvmbus_vm_config cfg;
	struct result res = { 0 };
	const struct cvmbus_vm_report *r;
	struct cvmbus_vm *vm;
	char err[160], ver[16], flags[96];
	int rc;

	/* The parties log their progress at info level; warnings are enough
	 * here. */
	cvmbus_log_set_level(CVMBUS_LOG_WARN);
	cvmbus_vm_config_default(&cfg);
	rc = cvmbus_vm_create(&cfg, &vm, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "open_channel: %s\n", err);
		return 1;
	}
	rc = cvmbus_vm_run(vm, open_and_echo, &res);
	r = cvmbus_vm_report(vm);
	cvmbus_wire_version_format(r->version, ver, sizeof(ver));
	printf("vm: %s\nconnected: VMBus %s, %s\n", r->config_text, ver,
	       r->confidential ? "confidential" : "not confidential");
	for (size_t i = 0; i < r->channel_count; i++) {
		const struct cvmbus_vm_channel *c = &r->channels[i];

		if (c->relid != res.relid)
			continue;
		cvmbus_wire_offer_flags_format(c->offer_flags, flags, sizeof(flags));
		printf("channel: relid %u, %s's %s device, flags %s, ring %u pages %s\n", c->relid,
		       c->owner == CVMBUS_MEM_PARTY_PARAVISOR ? "the paravisor" : "the host",
		       c->device, flags, c->ring_pages, c->ring_private ? "private" : "host-visible");
	}
	printf("echo: %s (%zu bytes back)\n", res.status ? "FAILED" : "ok", res.reply_len);
	if (rc)
		fprintf(stderr, "open_channel: run failed (%d): %s\n", rc, r->error);
	cvmbus_vm_destroy(vm);
	return rc || res.status ? 1 : 0;
}
