/* SPDX-License-Identifier: MIT */
/*
 * bench/process: what the process boundary costs. The same VM (SNP, a
 * paravisor with Confidential VMBus, the host's echo relayed) boots with
 * the host in the VM's process (the baseline, "one process") and in its
 * own (cvmbus-host, --processes), and times, with CLOCK_MONOTONIC:
 *   boot     cvmbus_vm_run up to the workload: platform, host (spawned and
 *            attached over the link, in process mode), paravisor, relay
 *            contact and offers, guest connect;
 *   host rt  round trips of 64-byte echoes on the relayed channel, one at a
 *            time: each is a doorbell to the host (eventfd, in process
 *            mode) and a signal back (a datagram to the hypervisor model);
 *   conf rt  the same on the paravisor's confidential channel, which never
 *            leaves the VM's process in either mode: the control.
 * Each mode is run R times (default 5, alternating); the figures are
 * medians.
 *
 * Usage: process_bench [--reps R] [--echoes N]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cvmbus/echo.h>
#include <cvmbus/guest.h>
#include <cvmbus/log.h>
#include <cvmbus/vm.h>

#define SEC        1000000000ull
#define HOST_ECHO  0x0057e001u
#define PARA_ECHO  0x0057e002u
#define MAX_REPS   31u

struct sample {
	double boot_ms;
	double host_us, conf_us; /* per round trip */
	int rc;
};

struct job {
	unsigned int echoes;
	uint64_t t0;
	struct sample *s;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static int open_echo(struct cvmbus_guest *g, uint32_t inst, struct cvmbus_channel **ch,
		     uint32_t *relid)
{
	struct cvmbus_guest_offer offers[16];
	struct cvmbus_guest_open_params op = { .send_bytes = 16 * 4096, .recv_bytes = 16 * 4096 };
	size_t n = 0;
	int rc = cvmbus_guest_offers(g, offers, 16, &n);

	for (size_t i = 0; !rc && i < n && i < 16; i++)
		if (offers[i].if_instance.data1 == inst && !offers[i].rescinded) {
			*relid = offers[i].relid;
			return cvmbus_guest_open(g, offers[i].relid, &op, ch);
		}
	return rc ? rc : -ENOENT;
}

/* Mean microseconds per echo over n echoes, or a negative errno. */
static double time_echoes(struct cvmbus_channel *ch, unsigned int n, int *rc)
{
	struct cvmbus_echo_vsc v;
	uint8_t msg[64], reply[128];
	size_t rlen;
	uint64_t t;

	memset(msg, 0x42, sizeof(msg));
	cvmbus_echo_vsc_init(&v, ch);
	/* Warm up: the first packets pay for page faults and wake-ups. */
	for (unsigned int i = 0; i < 32 && !*rc; i++)
		*rc = cvmbus_echo_call(&v, msg, sizeof(msg), reply, sizeof(reply), &rlen, 5 * SEC);
	t = now_ns();
	for (unsigned int i = 0; i < n && !*rc; i++)
		*rc = cvmbus_echo_call(&v, msg, sizeof(msg), reply, sizeof(reply), &rlen, 5 * SEC);
	return (double)(now_ns() - t) / 1e3 / n;
}

static int workload(struct cvmbus_vm *vm, void *arg)
{
	struct job *j = arg;
	struct cvmbus_guest *g = cvmbus_vm_guest(vm);
	struct cvmbus_channel *host = NULL, *conf = NULL;
	uint32_t hrelid = 0, crelid = 0;
	int rc = 0;

	j->s->boot_ms = (double)(now_ns() - j->t0) / 1e6;
	rc = open_echo(g, HOST_ECHO, &host, &hrelid);
	if (!rc)
		rc = open_echo(g, PARA_ECHO, &conf, &crelid);
	if (!rc)
		j->s->host_us = time_echoes(host, j->echoes, &rc);
	if (!rc)
		j->s->conf_us = time_echoes(conf, j->echoes, &rc);
	if (host)
		cvmbus_guest_close(g, hrelid);
	if (conf)
		cvmbus_guest_close(g, crelid);
	return j->s->rc = rc;
}

static int run_one(bool processes, unsigned int echoes, struct sample *s)
{
	struct cvmbus_vm_config cfg;
	struct cvmbus_vm *vm;
	struct job j = { .echoes = echoes, .s = s };
	int rc;

	cvmbus_vm_config_default(&cfg);
	cfg.processes = processes;
	rc = cvmbus_vm_create(&cfg, &vm, NULL, 0);
	if (rc)
		return rc;
	j.t0 = now_ns();
	rc = cvmbus_vm_run(vm, workload, &j);
	cvmbus_vm_destroy(vm);
	return rc ? rc : s->rc;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	unsigned int reps = 5, echoes = 2000;
	struct sample s[2][MAX_REPS];
	double col[MAX_REPS], m[2][3];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = (unsigned int)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--echoes") && i + 1 < argc)
			echoes = (unsigned int)strtoul(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: process_bench [--reps R] [--echoes N]\n");
			return 2;
		}
	}
	if (!reps || reps > MAX_REPS || !echoes) {
		fprintf(stderr, "process_bench: --reps 1..31, --echoes > 0\n");
		return 2;
	}
	cvmbus_log_set_level(CVMBUS_LOG_ERROR);
	memset(s, 0, sizeof(s));
	/* Alternate the modes so that a noisy spell hurts both alike. */
	for (unsigned int r = 0; r < reps; r++)
		for (int mode = 0; mode < 2; mode++) {
			int rc = run_one(mode == 1, echoes, &s[mode][r]);

			if (rc) {
				fprintf(stderr, "process_bench: %s run %u failed (%d)\n",
					mode ? "processes" : "one process", r, rc);
				return 1;
			}
		}
	for (int mode = 0; mode < 2; mode++) {
		for (unsigned int r = 0; r < reps; r++)
			col[r] = s[mode][r].boot_ms;
		m[mode][0] = median(col, reps);
		for (unsigned int r = 0; r < reps; r++)
			col[r] = s[mode][r].host_us;
		m[mode][1] = median(col, reps);
		for (unsigned int r = 0; r < reps; r++)
			col[r] = s[mode][r].conf_us;
		m[mode][2] = median(col, reps);
	}
	printf("process_bench: %u reps, %u echoes of 64 bytes each (medians)\n", reps, echoes);
	printf("%-26s %12s %16s %16s\n", "mode", "boot (ms)", "host rt (us)", "conf rt (us)");
	for (int mode = 0; mode < 2; mode++)
		printf("%-26s %12.2f %16.2f %16.2f\n",
		       mode ? "processes (cvmbus-host)" : "one process (baseline)", m[mode][0],
		       m[mode][1], m[mode][2]);
	printf("%-26s %11.2fx %15.2fx %15.2fx\n", "processes / baseline", m[1][0] / m[0][0],
	       m[1][1] / m[0][1], m[1][2] / m[0][2]);
	return 0;
}
