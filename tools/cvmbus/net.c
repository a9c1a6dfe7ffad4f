/* SPDX-License-Identifier: MIT */
/*
 * `cvmbus net`: boot a VM whose guest has a synthetic NIC (include/cvmbus/
 * vm_nic.h) and wire it between two existing network namespaces: a TAP in
 * the "guest" namespace is the guest's interface (its driver, netvsc, sends
 * what the TAP reads and writes what it receives), a TAP in the "host"
 * namespace is the device's wire (netvsp, owned by the host or by the
 * paravisor). It runs until SIGINT / SIGTERM or --duration, then prints the
 * run's report (the tables of `cvmbus run`, exposure included) and the
 * NIC's packet and byte counters. Tool layer; docs/NET_CLI.md.
 *
 * It never creates, configures or deletes anything in the namespace it
 * runs in: the two TAPs are made inside the named namespaces, and the
 * addresses given are added there with ip(8).
 *
 * Exit codes (commands.h): 0 the NIC ran and the run ended cleanly; 1 the
 * run or the NIC failed (or a TAP could not be made: not root); 2 bad
 * command line, a namespace that does not exist, or a topology that cannot
 * carry this path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cvmbus/log.h>
#include <cvmbus/vm_nic.h>

#include "cli.h"
#include "commands.h"
#include "vm_render.h"

extern char **environ;

#define NET_WHO "cvmbus net"

struct net_opts {
	struct cvmbus_vm_config vm;
	struct cvmbus_vm_nic_config nic;
	const char *guest_addr, *host_addr;
	const char *json_path;
	uint64_t duration_ns;
	bool have_mac;
};

/* What the workload's callbacks need, on its thread. */
struct net_run {
	int sigfd;
	int signo;
	const struct net_opts *o;
};

static void net_usage(FILE *out)
{
	fprintf(out,
		"usage: cvmbus net --guest-ns NAME --host-ns NAME [--path confidential|host]\n"
		"                  [--duration SEC] [--guest-addr CIDR --host-addr CIDR]\n"
		"                  [--guest-if NAME] [--host-if NAME] [--mtu N] [--mac MAC]\n"
		"                  [--gpa-direct] [--offload] [--json FILE] [-v|-q]\n"
		"                  [topology options]\n"
		"\n"
		"Boot a VM with a synthetic NIC and connect it to two existing network\n"
		"namespaces: a TAP in --guest-ns is the guest's interface, a TAP in --host-ns\n"
		"the device's wire. Runs until SIGINT/SIGTERM or --duration seconds, then\n"
		"prints the run's tables (exposure included) and the NIC's counters.\n"
		"\n"
		"  --path confidential  the paravisor's NIC: buffers private on a Confidential\n"
		"                       VMBus connection (default)\n"
		"  --path host          the host's NIC (relayed behind a paravisor): buffers\n"
		"                       host-visible\n"
		"  --guest-addr CIDR    address for the guest's TAP (e.g. 10.251.0.1/24),\n"
		"  --host-addr CIDR     ... and for the host's, added inside the namespaces\n"
		"  --guest-if, --host-if  interface names (default cvmbus-g0, cvmbus-h0)\n"
		"  --mtu N              68..9000 (default 1500); --mac: the adapter's MAC\n"
		"  --gpa-direct         the guest sends frames as GPA-direct packets\n"
		"  --offload            checksum and TCP segmentation offload: TAPs with\n"
		"                       IFF_VNET_HDR, RNDIS checksum and LSOv2 info (64 KiB\n"
		"                       segments cross the channel as one packet)\n"
		"  --json FILE          also write the report, with a \"nic\" object, as JSON\n"
		"\n"
		"Needs root (TAP devices and namespaces). Make the namespaces first:\n"
		"  ip netns add g; ip netns add h\n"
		"\n%s",
		cvmbus_vm_options_help);
}

/* ---- option parsing ---------------------------------------------------------- */

static int net_parse_u64(const char *what, const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max) {
		fprintf(stderr, NET_WHO ": %s: '%s' is not a number up to %" PRIu64 "\n", what, s,
			max);
		return -1;
	}
	*out = v;
	return 0;
}

static int net_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6 || strlen(s) != 17) {
		fprintf(stderr, NET_WHO ": --mac: '%s' is not xx:xx:xx:xx:xx:xx\n", s);
		return -1;
	}
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	if (mac[0] & 1) {
		fprintf(stderr, NET_WHO ": --mac: '%s' is a multicast address\n", s);
		return -1;
	}
	return 0;
}

/* ADDRESS/PREFIX, IPv4 or IPv6: checked here so that ip(8) never gets a
 * string we did not understand. */
static int net_check_cidr(const char *what, const char *s)
{
	char addr[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	const char *slash = strchr(s, '/');
	uint64_t prefix;
	size_t n;
	int af;

	if (!slash || (n = (size_t)(slash - s)) == 0 || n >= sizeof(addr))
		goto bad;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, bin) == 1)
		af = AF_INET;
	else if (inet_pton(AF_INET6, addr, bin) == 1)
		af = AF_INET6;
	else
		goto bad;
	if (net_parse_u64(what, slash + 1, af == AF_INET ? 32 : 128, &prefix))
		return -1;
	return 0;
bad:
	fprintf(stderr, NET_WHO ": %s: '%s' is not ADDRESS/PREFIX\n", what, s);
	return -1;
}

static int net_parse(int argc, char **argv, struct net_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t n;
		int t;

		/* Verbosity flags: taken by cmd_net before parsing. */
		if (!strcmp(a, "--verbose") || !strcmp(a, "-v") || !strcmp(a, "-vv") ||
		    !strcmp(a, "--quiet") || !strcmp(a, "-q"))
			continue;
		if (!strcmp(a, "--gpa-direct")) {
			o->nic.gpa_direct = true;
			continue;
		}
		if (!strcmp(a, "--offload")) {
			o->nic.offload = true;
			continue;
		}
		t = tool_vm_option(argc, argv, &i, &o->vm, NET_WHO);
		if (t < 0)
			return -1;
		if (t > 0)
			continue;
		if (strncmp(a, "--", 2) || !strcmp(a, "--help")) {
			fprintf(stderr, NET_WHO ": unknown argument '%s' (see 'cvmbus net --help')\n",
				a);
			return -1;
		}
		if (!v) {
			fprintf(stderr, NET_WHO ": %s needs a value (see 'cvmbus net --help')\n", a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--guest-ns")) {
			o->nic.guest_netns = v;
		} else if (!strcmp(a, "--host-ns")) {
			o->nic.host_netns = v;
		} else if (!strcmp(a, "--guest-if")) {
			o->nic.guest_ifname = v;
		} else if (!strcmp(a, "--host-if")) {
			o->nic.host_ifname = v;
		} else if (!strcmp(a, "--guest-addr")) {
			if (net_check_cidr(a, v))
				return -1;
			o->guest_addr = v;
		} else if (!strcmp(a, "--host-addr")) {
			if (net_check_cidr(a, v))
				return -1;
			o->host_addr = v;
		} else if (!strcmp(a, "--path")) {
			if (!strcmp(v, "confidential")) {
				o->nic.owner = CVMBUS_VM_OWNER_PARAVISOR;
			} else if (!strcmp(v, "host")) {
				o->nic.owner = CVMBUS_VM_OWNER_HOST;
			} else {
				fprintf(stderr, NET_WHO ": --path: '%s' is not confidential|host\n", v);
				return -1;
			}
		} else if (!strcmp(a, "--duration")) {
			if (net_parse_u64(a, v, 86400u * 365u, &n))
				return -1;
			o->duration_ns = n * 1000000000ull;
		} else if (!strcmp(a, "--mtu")) {
			if (net_parse_u64(a, v, CVMBUS_NET_MAX_MTU, &n) || n < 68) {
				fprintf(stderr, NET_WHO ": --mtu must be 68..%u\n", CVMBUS_NET_MAX_MTU);
				return -1;
			}
			o->nic.mtu = (uint32_t)n;
		} else if (!strcmp(a, "--mac")) {
			if (net_parse_mac(v, o->nic.mac))
				return -1;
			o->have_mac = true;
		} else if (!strcmp(a, "--json")) {
			o->json_path = v;
		} else {
			fprintf(stderr, NET_WHO ": unknown option '%s' (see 'cvmbus net --help')\n", a);
			return -1;
		}
	}
	if (!o->nic.guest_netns || !o->nic.host_netns) {
		fprintf(stderr, NET_WHO ": --guest-ns and --host-ns are required "
				"(existing namespaces: 'ip netns add NAME')\n");
		return -1;
	}
	if (o->vm.deterministic) {
		fprintf(stderr, NET_WHO ": --seed: the TAP readers block in poll(2) and need the "
				"native executor; drop --seed\n");
		return -1;
	}
	if (o->nic.owner == CVMBUS_VM_OWNER_PARAVISOR && !o->vm.paravisor) {
		fprintf(stderr, NET_WHO ": --path confidential is the paravisor's NIC: it needs "
				"--paravisor (or use --path host)\n");
		return -1;
	}
	return 0;
}

/* ---- helpers ------------------------------------------------------------------------ */

/* ip -n NS addr add CIDR dev IF, without a shell, with the signals this
 * process blocks unblocked again for the child. */
static int net_add_addr(const char *ns, const char *ifname, const char *cidr)
{
	char *argv[] = { "ip", "-n", (char *)ns, "addr", "add", (char *)cidr, "dev",
			 (char *)ifname, NULL };
	posix_spawnattr_t attr;
	sigset_t none;
	pid_t pid;
	int rc, status;

	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	rc = posix_spawnp(&pid, "ip", NULL, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	if (rc) {
		fprintf(stderr, NET_WHO ": cannot run ip(8): %s (install iproute2)\n", strerror(rc));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, NET_WHO ": ip -n %s addr add %s dev %s failed\n", ns, cidr, ifname);
		return -1;
	}
	return 0;
}

static bool net_should_stop(void *ctx)
{
	struct net_run *r = ctx;
	struct signalfd_siginfo si;
	struct pollfd p = { .fd = r->sigfd, .events = POLLIN };

	if (r->signo)
		return true;
	if (poll(&p, 1, 0) == 1 && read(r->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		r->signo = (int)si.ssi_signo;
	return r->signo != 0;
}

static void net_mac_text(const uint8_t *m, char *buf, size_t cap)
{
	snprintf(buf, cap, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void net_ready(void *ctx, struct cvmbus_vm_nic *nic)
{
	struct net_run *r = ctx;
	struct cvmbus_vm_nic_stats st;
	char mac[24];

	cvmbus_vm_nic_get_stats(nic, &st);
	net_mac_text(st.info.mac, mac, sizeof(mac));
	/* One line, flushed: scripts and tests wait for it. */
	printf("ready: %s path, relid %u, guest %s (%s) in '%s' <-> host %s in '%s'\n",
	       cvmbus_vm_nic_path_name(st.owner), st.relid, cvmbus_vm_nic_guest_ifname(nic), mac,
	       r->o->nic.guest_netns, cvmbus_vm_nic_host_ifname(nic), r->o->nic.host_netns);
	fflush(stdout);
}

/* ---- output ------------------------------------------------------------------------- */

static void net_row(struct tool_table *t, const char *what, uint64_t frames, uint64_t bytes,
		    uint64_t lost)
{
	char f[24], b[24], l[24];

	snprintf(f, sizeof(f), "%" PRIu64, frames);
	snprintf(b, sizeof(b), "%" PRIu64, bytes);
	snprintf(l, sizeof(l), "%" PRIu64, lost);
	tool_table_row(t, what, f, b, l);
}

static void net_print(const struct cvmbus_vm_nic_stats *s, struct cvmbus_vm_nic *nic, FILE *out)
{
	struct tool_table *t = tool_table_new(4, "stage", "frames", "bytes", "dropped/errors");
	char mac[24], ver[16];

	net_mac_text(s->info.mac, mac, sizeof(mac));
	fprintf(out, "\nnic: %s path, relid %u, %s, nvsp %s, mac %s, mtu %u\n",
		cvmbus_vm_nic_path_name(s->owner), s->relid,
		s->connected ? "connected" : "not connected",
		tool_version(s->info.nvsp_version, ver, sizeof(ver)), mac, s->info.mtu);
	if (s->connected)
		fprintf(out, "  receive buffer %u x %u bytes (%s), send buffer %u x %u bytes (%s)\n",
			s->info.recv_sections, s->info.recv_section_size,
			s->info.recv_buf_shared ? "host-visible" : "private", s->info.send_sections,
			s->info.send_section_size,
			s->info.send_buf_shared ? "host-visible" : "private");
	else
		fprintf(out, "  connect status %d\n", s->connect_status);
	if (s->connected && s->info.offloads)
		fprintf(out, "  offloads %#x: %llu lso, %llu checksum frames sent; device: %llu lso, "
			     "%llu checksum, %llu refused\n",
			s->info.offloads, (unsigned long long)s->vsc.tx_lso,
			(unsigned long long)s->vsc.tx_csum, (unsigned long long)s->vsp.tx_lso,
			(unsigned long long)s->vsp.tx_csum, (unsigned long long)s->vsp.bad_offload);
	if (!t)
		return;
	net_row(t, "guest tap -> driver", s->guest.in_frames, s->guest.in_bytes,
		s->guest.in_dropped);
	net_row(t, "driver -> device", s->vsc.tx_frames, s->vsc.tx_bytes, s->vsc.tx_failed);
	net_row(t, "device -> host tap", s->host.out_frames, s->host.out_bytes,
		s->host.out_errors);
	net_row(t, "host tap -> device", s->host.in_frames, s->host.in_bytes, s->host.in_dropped);
	net_row(t, "device -> driver", s->vsp.rx_frames, s->vsp.rx_bytes,
		s->vsp.rx_no_section + s->vsp.rx_not_ready);
	net_row(t, "driver -> guest tap", s->guest.out_frames, s->guest.out_bytes,
		s->guest.out_errors);
	fprintf(out, "  %s <-> %s\n", cvmbus_vm_nic_guest_ifname(nic), cvmbus_vm_nic_host_ifname(nic));
	tool_table_print(t, out, "  ");
	tool_table_free(t);
	fprintf(out, "  device: %" PRIu64 " filtered by the guest's packet filter, %" PRIu64
		     " control messages, %" PRIu64 " refused (bad nvsp/rndis/section/frame)\n",
		s->vsp.rx_filtered, s->vsp.control_msgs,
		s->vsp.bad_nvsp + s->vsp.bad_rndis + s->vsp.bad_section + s->vsp.bad_frame +
			s->vsp.bad_gpadl);
}

static json_t *net_wire_json(const struct cvmbus_vm_nic_wire *w)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "in_frames", (json_int_t)w->in_frames,
			 "in_bytes", (json_int_t)w->in_bytes, "in_dropped",
			 (json_int_t)w->in_dropped, "out_frames", (json_int_t)w->out_frames,
			 "out_bytes", (json_int_t)w->out_bytes, "out_errors",
			 (json_int_t)w->out_errors);
}

static json_t *net_json(const struct cvmbus_vm_nic_stats *s, struct cvmbus_vm_nic *nic)
{
	char mac[24];
	json_t *j, *off;

	net_mac_text(s->info.mac, mac, sizeof(mac));
	j = json_pack(
		"{s:s,s:I,s:b,s:i,s:s,s:I,s:I,s:s,s:s,"
		"s:{s:I,s:I,s:b},s:{s:I,s:I,s:b},"
		"s:{s:I,s:I,s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I,s:I,s:I},s:o,s:o}",
		"path", cvmbus_vm_nic_path_name(s->owner), "relid", (json_int_t)s->relid,
		"connected", s->connected, "connect_status", s->connect_status, "mac", mac, "mtu", (json_int_t)s->info.mtu, "nvsp_version",
		(json_int_t)s->info.nvsp_version, "guest_if", cvmbus_vm_nic_guest_ifname(nic),
		"host_if", cvmbus_vm_nic_host_ifname(nic),
		"recv_buffer", "sections", (json_int_t)s->info.recv_sections, "section_size",
		(json_int_t)s->info.recv_section_size, "host_visible", s->info.recv_buf_shared,
		"send_buffer", "sections", (json_int_t)s->info.send_sections, "section_size",
		(json_int_t)s->info.send_section_size, "host_visible", s->info.send_buf_shared,
		"device", "rx_frames", (json_int_t)s->vsp.rx_frames, "rx_bytes",
		(json_int_t)s->vsp.rx_bytes, "rx_no_section", (json_int_t)s->vsp.rx_no_section,
		"tx_frames", (json_int_t)s->vsp.tx_frames, "tx_bytes", (json_int_t)s->vsp.tx_bytes,
		"refused",
		(json_int_t)(s->vsp.bad_nvsp + s->vsp.bad_rndis + s->vsp.bad_section +
			     s->vsp.bad_frame + s->vsp.bad_gpadl + s->vsp.bad_offload),
		"driver", "tx_frames", (json_int_t)s->vsc.tx_frames, "tx_bytes",
		(json_int_t)s->vsc.tx_bytes, "rx_frames", (json_int_t)s->vsc.rx_frames, "rx_bytes",
		(json_int_t)s->vsc.rx_bytes, "refused",
		(json_int_t)(s->vsc.bad_xfer + s->vsc.bad_nvsp + s->vsc.bad_rndis),
		"guest_wire", net_wire_json(&s->guest), "host_wire", net_wire_json(&s->host));
	/* The offloads granted (CVMBUS_NET_OFFLOAD_* bits) and what used them. */
	off = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "granted",
			(json_int_t)s->info.offloads, "driver_lso", (json_int_t)s->vsc.tx_lso,
			"driver_csum", (json_int_t)s->vsc.tx_csum, "driver_csum_sw",
			(json_int_t)s->vsc.tx_csum_sw, "driver_rx_csum_valid",
			(json_int_t)s->vsc.rx_csum_valid, "device_lso", (json_int_t)s->vsp.tx_lso,
			"device_csum", (json_int_t)s->vsp.tx_csum, "device_refused",
			(json_int_t)s->vsp.bad_offload);
	if (j && (!off || json_object_set_new(j, "offload", off))) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

static int net_write_json(const char *path, const struct cvmbus_vm_report *r,
			  const struct cvmbus_vm_nic_stats *s, struct cvmbus_vm_nic *nic)
{
	json_t *j = tool_vm_report_json(r);
	json_t *n = net_json(s, nic);
	int rc = -1;

	if (j && n && !json_object_set_new(j, "nic", n)) {
		n = NULL;
		if (!strcmp(path, "-")) {
			rc = json_dumpf(j, stdout, JSON_INDENT(2));
			fputc('\n', stdout);
		} else {
			rc = json_dump_file(j, path, JSON_INDENT(2));
		}
	}
	json_decref(n);
	json_decref(j);
	return rc;
}

/* ---- the command ---------------------------------------------------------------------- */

int cmd_net(int argc, char **argv)
{
	struct net_opts o;
	struct net_run run = { .sigfd = -1 };
	struct cvmbus_vm_nic_workload wl;
	struct cvmbus_vm_nic_stats st;
	struct cvmbus_vm *vm = NULL;
	struct cvmbus_vm_nic *nic = NULL;
	sigset_t mask;
	char err[200];
	int rc, ret = CVMBUS_EXIT_FAILURE;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			net_usage(stdout);
			return CVMBUS_EXIT_OK;
		}
	memset(&o, 0, sizeof(o));
	cvmbus_vm_config_default(&o.vm);
	o.nic.owner = CVMBUS_VM_OWNER_PARAVISOR;
	/* A -v or -q after `net` counts as one before it; by default the
	 * parties' progress lines stay quiet and warnings show. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v"))
			tool_set_verbosity(1);
		else if (!strcmp(argv[i], "-vv"))
			tool_set_verbosity(2);
		else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q"))
			tool_set_verbosity(-1);
	}
	tool_apply_verbosity(CVMBUS_LOG_WARN);
	if (net_parse(argc, argv, &o))
		return CVMBUS_EXIT_USAGE;
	if (geteuid() != 0)
		fprintf(stderr, NET_WHO ": warning: not root: making the TAPs will likely fail\n");

	/* SIGINT and SIGTERM end the run in order (the NIC's teardown, the
	 * VM's unload): block them in every thread, which inherit this mask,
	 * and let the workload read them from a signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0) {
		fprintf(stderr, NET_WHO ": cannot block signals\n");
		return CVMBUS_EXIT_FAILURE;
	}
	run.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	run.o = &o;
	if (run.sigfd < 0) {
		fprintf(stderr, NET_WHO ": signalfd: %s\n", strerror(errno));
		goto out;
	}

	rc = cvmbus_vm_create(&o.vm, &vm, err, sizeof(err));
	if (rc) {
		fprintf(stderr, NET_WHO ": %s\n", err);
		ret = rc == -ENOMEM ? CVMBUS_EXIT_FAILURE : CVMBUS_EXIT_USAGE;
		goto out;
	}
	/* A forwarding NIC runs until stopped and nobody compares its trace:
	 * without the hash, each ring signal is counted, not formatted under
	 * the trace's lock (docs/TRACE.md). */
	cvmbus_trace_set_hash(cvmbus_vm_trace(vm), false);
	rc = cvmbus_vm_nic_create(vm, &o.nic, &nic, err, sizeof(err));
	if (rc) {
		fprintf(stderr, NET_WHO ": %s\n", err[0] ? err : strerror(-rc));
		ret = rc == -EINVAL || rc == -ENOENT ? CVMBUS_EXIT_USAGE : CVMBUS_EXIT_FAILURE;
		goto out;
	}
	if ((o.guest_addr &&
	     net_add_addr(o.nic.guest_netns, cvmbus_vm_nic_guest_ifname(nic), o.guest_addr)) ||
	    (o.host_addr &&
	     net_add_addr(o.nic.host_netns, cvmbus_vm_nic_host_ifname(nic), o.host_addr)))
		goto out;

	memset(&wl, 0, sizeof(wl));
	wl.nic = nic;
	wl.duration_ns = o.duration_ns;
	wl.should_stop = net_should_stop;
	wl.stop_ctx = &run;
	wl.ready = net_ready;
	wl.ready_ctx = &run;
	rc = cvmbus_vm_run(vm, cvmbus_vm_nic_workload, &wl);

	cvmbus_vm_nic_get_stats(nic, &st);
	if (!o.json_path || strcmp(o.json_path, "-")) {
		tool_vm_print_report(cvmbus_vm_report(vm), stdout);
		net_print(&st, nic, stdout);
		if (run.signo)
			printf("stopped by %s\n", run.signo == SIGINT ? "SIGINT" : "SIGTERM");
	}
	ret = rc || !st.connected ? CVMBUS_EXIT_FAILURE : CVMBUS_EXIT_OK;
	if (o.json_path && net_write_json(o.json_path, cvmbus_vm_report(vm), &st, nic)) {
		fprintf(stderr, NET_WHO ": cannot write %s\n", o.json_path);
		ret = CVMBUS_EXIT_FAILURE;
	}

out:
	/* The NIC first: its lock belongs to the VM's executor. */
	cvmbus_vm_nic_destroy(nic);
	cvmbus_vm_destroy(vm);
	if (run.sigfd >= 0)
		close(run.sigfd);
	/* The mask stays: a second SIGINT arriving now would otherwise kill
	 * the process before it could return its exit code. */
	return ret;
}
