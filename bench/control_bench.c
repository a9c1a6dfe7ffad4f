/* SPDX-License-Identifier: MIT */
/*
 * bench/control: how the VMBus control plane scales with the number of
 * channels. It sits above every party and below nothing: the real platform
 * model (src/hw), a host server glue (src/server) offering N devices, and
 * the real guest (src/client), all on the native executor, without the VM
 * layer (whose 4 MiB of guest RAM cannot hold 2047 rings). For each N it
 * builds a fresh stack, then times with CLOCK_MONOTONIC three phases:
 *   connect  cvmbus_guest_connect: InitiateContact .. AllOffersDelivered,
 *            so N OfferChannel messages;
 *   open     every channel in turn (2 + 2 pages of ring, the smallest the
 *            guest accepts): GPADL, OpenChannel, OpenResult;
 *   close    every channel in turn: CloseChannel, GPADL teardown.
 * and prints each phase's total, its time per channel, the per-channel
 * ratio against N = 64, the control messages per channel (the guest
 * client's rx/tx counters and the platform's trace events), and, for open
 * and close, the mean of the first and of the last 64 channels of the
 * sequence, which shows a cost growing within one run (a scan over what is
 * already open) even when the totals are noisy.
 *
 * The devices are a VSP whose open and close do nothing, so only the
 * control plane is measured (no receive thread per channel).
 *
 * Usage: control_bench [--reps R] [--iso none|snp] [N ...]
 *   no N: isolation none at 1, 64, 512, 2047, then SNP (no paravisor, so
 *   every ring's visibility change is a hypercall) at 64 and 2047. Each
 *   configuration is built and measured R times (default 5) and every
 *   figure printed is the median of its R values: the machine is shared,
 *   and one descheduling of a 4 ms phase would otherwise decide a ratio.
 *   Exit status 0 when every run succeeded.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cvmbus/client.h>
#include <cvmbus/exec.h>
#include <cvmbus/guest.h>
#include <cvmbus/log.h>
#include <cvmbus/platform.h>
#include <cvmbus/server.h>
#include <cvmbus/server_glue.h>
#include <cvmbus/trace.h>

#define BENCH_MAX_CHANNELS 2047u
#define BENCH_RING_BYTES   8192u /* control page + one data page, each way */
#define BENCH_EDGE         64u   /* channels averaged at each end of a phase */
#define BENCH_REF_N        64u   /* the per-channel ratio is against this N */
/* 2047 rings of 16 KiB are 32 MiB; the rest is headroom for the client's
 * other pages (SynIC pages, the GPADL allocator's slack). */
#define BENCH_VTL0_BYTES   (96ull << 20)
#define SEC                1000000000ull
#define BENCH_MAX_REPS     31u
#define BENCH_DEFAULT_REPS 5u

/* {c0417b3e-5d2a-4f6e-8b19-2a7d0e4c9f53}: a class used only here. */
static const struct cvmbus_guid bench_if_id = {
	0xc0417b3eu, 0x5d2au, 0x4f6eu, { 0x8b, 0x19, 0x2a, 0x7d, 0x0e, 0x4c, 0x9f, 0x53 }
};

enum phase {
	PH_CONNECT = 0,
	PH_OPEN,
	PH_CLOSE,
	PH_COUNT,
};

static const char *const phase_name[PH_COUNT] = { "connect", "open", "close" };

struct phase_result {
	uint64_t ns;
	uint64_t rx, tx;          /* guest client: messages taken, posts made */
	uint64_t trace;           /* platform trace events */
	uint64_t first_ns, last_ns; /* mean of the first / last BENCH_EDGE channels */
	bool has_edges;
};

struct run {
	/* Inputs. */
	enum hv_isolation_type iso;
	unsigned int n;
	/* The stack (owned by run_main while it runs). */
	struct cvmbus_exec *exec;
	struct cvmbus_platform *p;
	struct cvmbus_server_glue *host;
	struct cvmbus_guest *g;
	uint32_t *relids;
	uint64_t *lat;            /* per-channel latency of the current phase */
	/* Outputs. */
	struct phase_result ph[PH_COUNT];
	uint64_t opens, closes;   /* the glue's counters at the end */
	char why[160];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

/* The server and the guest log refusals and timeouts; a bench wants only
 * its table, and a failure is reported through run.why anyway. */
static void quiet_log(void *ctx, enum cvmbus_log_level level, const char *msg)
{
	(void)ctx;
	(void)level;
	(void)msg;
}

/* ---- the control-plane-only device ------------------------------------------ */

static int null_open(void *ctx, struct cvmbus_vsp_channel *vc)
{
	(void)ctx;
	(void)vc;
	return 0;
}

static void null_close(void *ctx, struct cvmbus_vsp_channel *vc)
{
	(void)ctx;
	(void)vc;
}

static const struct cvmbus_vsp_ops null_ops = {
	.open = null_open,
	.close = null_close,
};

/* ---- counters around a phase ---------------------------------------------------- */

struct snap {
	uint64_t rx, tx, trace;
};

static int take_snap(struct run *r, struct snap *s)
{
	struct cvmbus_client_stats cs;
	int rc = cvmbus_guest_client_stats(r->g, &cs);

	if (rc)
		return rc;
	s->rx = cs.rx_messages;
	s->tx = cs.tx_posts;
	s->trace = cvmbus_trace_count(cvmbus_platform_trace(r->p));
	return 0;
}

static void end_phase(struct run *r, enum phase ph, uint64_t ns, const struct snap *a,
		      const struct snap *b, bool edges)
{
	struct phase_result *pr = &r->ph[ph];
	unsigned int k = r->n < BENCH_EDGE ? r->n : BENCH_EDGE;

	pr->ns = ns;
	pr->rx = b->rx - a->rx;
	pr->tx = b->tx - a->tx;
	pr->trace = b->trace - a->trace;
	pr->has_edges = edges;
	if (edges) {
		uint64_t f = 0, l = 0;

		for (unsigned int i = 0; i < k; i++) {
			f += r->lat[i];
			l += r->lat[r->n - k + i];
		}
		pr->first_ns = f / k;
		pr->last_ns = l / k;
	}
}

/* ---- one run: build, measure, tear down --------------------------------------------- */

static int fail(struct run *r, const char *what, int rc)
{
	if (!r->why[0])
		snprintf(r->why, sizeof(r->why), "%s failed (%d)", what, rc);
	return rc ? rc : -EIO;
}

static int stack_up(struct run *r)
{
	struct cvmbus_platform_config pc = {
		.exec = r->exec,
		.arch = CVMBUS_ARCH_X86_64,
		.isolation = r->iso,
		.paravisor = false,
		.vcpus = 1,
		.vtl0_bytes = BENCH_VTL0_BYTES,
		/* The offers of RequestOffers go out in one burst: let the
		 * SynIC hold all of them rather than measure the glue's 1 ms
		 * retry of held replies. */
		.sint_queue_depth = CVMBUS_PLATFORM_MAX_QUEUE,
	};
	struct cvmbus_server_glue_config hc;
	struct cvmbus_guest_config gc;
	char err[128] = "";
	int rc;

	rc = cvmbus_platform_create(&pc, &r->p, err, sizeof(err));
	if (rc) {
		snprintf(r->why, sizeof(r->why), "platform: %s (%d)", err, rc);
		return rc;
	}
	cvmbus_server_glue_config_init(&hc, r->p, CVMBUS_SERVER_ROLE_HOST);
	hc.server.relid_min = 1;
	hc.server.relid_max = BENCH_MAX_CHANNELS;
	/* Same reason as the SynIC depth: nothing held may be lost. */
	hc.out_queue_depth = r->n + 64u;
	rc = cvmbus_server_glue_create(&hc, &r->host);
	if (rc)
		return fail(r, "glue create", rc);
	for (unsigned int i = 0; i < r->n; i++) {
		struct cvmbus_offer_params op;

		memset(&op, 0, sizeof(op));
		op.interface_id = bench_if_id;
		/* A distinct instance per device: the server refuses a second
		 * live offer of the same interface, instance and index. */
		op.instance_id = bench_if_id;
		op.instance_id.data1 = i + 1;
		op.offer_order = CVMBUS_OFFER_ORDER_NONE;
		rc = cvmbus_server_glue_add_device(r->host, &op, &null_ops, NULL, &r->relids[i]);
		if (rc)
			return fail(r, "add device", rc);
	}
	rc = cvmbus_server_glue_start(r->host);
	if (rc)
		return fail(r, "glue start", rc);

	memset(&gc, 0, sizeof(gc));
	gc.platform = r->p;
	gc.detect = CVMBUS_CLIENT_DETECT_CPUID;
	/* 2047 offers through one vCPU on a shared machine: give the
	 * client's waits room so a slow run is measured, not failed. */
	gc.offers_timeout_ns = 60 * SEC;
	gc.reply_timeout_ns = 20 * SEC;
	rc = cvmbus_guest_create(&gc, &r->g);
	if (rc)
		return fail(r, "guest create", rc);
	rc = cvmbus_guest_start(r->g);
	if (rc)
		return fail(r, "guest start", rc);
	return 0;
}

static void stack_down(struct run *r)
{
	struct cvmbus_server_glue_stats gs;

	if (r->host) {
		cvmbus_server_glue_get_stats(r->host, &gs);
		r->opens = gs.opens;
		r->closes = gs.closes;
	}
	/* As tests/paravisor does: stop each party (joining its threads),
	 * then free the glue before the guest, because a glue still pins the
	 * pages of the GPADLs it holds and the guest's destroy makes its pages
	 * private again. */
	if (r->g)
		cvmbus_guest_stop(r->g);
	if (r->host)
		cvmbus_server_glue_stop(r->host);
	cvmbus_server_glue_destroy(r->host);
	cvmbus_guest_destroy(r->g);
	if (r->p)
		cvmbus_platform_destroy(r->p);
	r->host = NULL;
	r->g = NULL;
	r->p = NULL;
}

static int measure(struct run *r)
{
	struct cvmbus_guest_open_params op = {
		.send_bytes = BENCH_RING_BYTES,
		.recv_bytes = BENCH_RING_BYTES,
		.target_vp = 0,
	};
	struct cvmbus_guest_offer *offers = NULL;
	struct snap a, b;
	size_t count = 0;
	uint64_t t0, t1;
	int rc;

	/* Connect, up to AllOffersDelivered. */
	rc = take_snap(r, &a);
	if (rc)
		return fail(r, "client stats", rc);
	t0 = mono_ns();
	rc = cvmbus_guest_connect(r->g);
	t1 = mono_ns();
	if (rc)
		return fail(r, "connect", rc);
	rc = take_snap(r, &b);
	if (rc)
		return fail(r, "client stats", rc);
	end_phase(r, PH_CONNECT, t1 - t0, &a, &b, false);

	/* Every offer must have arrived, each relid the glue handed out. */
	offers = calloc(r->n + 1u, sizeof(*offers));
	if (!offers)
		return fail(r, "calloc", -ENOMEM);
	rc = cvmbus_guest_offers(r->g, offers, r->n + 1u, &count);
	free(offers);
	if (rc)
		return fail(r, "offers", rc);
	if (count != r->n) {
		snprintf(r->why, sizeof(r->why), "%zu offers delivered, %u expected", count,
			 r->n);
		return -EPROTO;
	}

	/* Open each in turn. */
	rc = take_snap(r, &a);
	if (rc)
		return fail(r, "client stats", rc);
	t0 = mono_ns();
	for (unsigned int i = 0; i < r->n; i++) {
		struct cvmbus_channel *ch = NULL;
		uint64_t s = mono_ns();

		rc = cvmbus_guest_open(r->g, r->relids[i], &op, &ch);
		if (rc)
			return fail(r, "open", rc);
		r->lat[i] = mono_ns() - s;
	}
	t1 = mono_ns();
	rc = take_snap(r, &b);
	if (rc)
		return fail(r, "client stats", rc);
	end_phase(r, PH_OPEN, t1 - t0, &a, &b, true);

	/* Close each in turn, in the same order. */
	rc = take_snap(r, &a);
	if (rc)
		return fail(r, "client stats", rc);
	t0 = mono_ns();
	for (unsigned int i = 0; i < r->n; i++) {
		uint64_t s = mono_ns();

		rc = cvmbus_guest_close(r->g, r->relids[i]);
		if (rc)
			return fail(r, "close", rc);
		r->lat[i] = mono_ns() - s;
	}
	t1 = mono_ns();
	rc = take_snap(r, &b);
	if (rc)
		return fail(r, "client stats", rc);
	end_phase(r, PH_CLOSE, t1 - t0, &a, &b, true);
	return 0;
}

static int run_main(void *arg)
{
	struct run *r = arg;
	int rc = stack_up(r);

	if (!rc)
		rc = measure(r);
	stack_down(r);
	return rc;
}

static int run_one(struct run *r)
{
	int ret = 0;
	int rc;

	r->relids = calloc(r->n, sizeof(*r->relids));
	r->lat = calloc(r->n, sizeof(*r->lat));
	if (!r->relids || !r->lat) {
		rc = -ENOMEM;
		goto out;
	}
	rc = cvmbus_exec_native_create(&r->exec);
	if (rc)
		goto out;
	rc = cvmbus_exec_run(r->exec, run_main, r, &ret);
	if (!rc)
		rc = ret;
out:
	cvmbus_exec_destroy(r->exec);
	r->exec = NULL;
	free(r->relids);
	free(r->lat);
	r->relids = NULL;
	r->lat = NULL;
	return rc;
}

/* ---- the table -------------------------------------------------------------------- */

static void print_header(void)
{
	printf("%-4s %5s %-7s %10s %10s %7s %6s %6s %7s %10s %10s\n", "iso", "N", "phase",
	       "total_ms", "us/chan", "x@64", "rx/ch", "tx/ch", "trc/ch", "first64us",
	       "last64us");
}

static void print_run(const struct run *r, const struct run *ref)
{
	for (int ph = 0; ph < PH_COUNT; ph++) {
		const struct phase_result *pr = &r->ph[ph];
		double per = (double)pr->ns / 1e3 / r->n;
		char ratio[16] = "-";
		char first[16] = "-", last[16] = "-";

		if (ref) {
			double rper = (double)ref->ph[ph].ns / 1e3 / ref->n;

			snprintf(ratio, sizeof(ratio), "%.2f", rper > 0 ? per / rper : 0.0);
		}
		if (pr->has_edges) {
			snprintf(first, sizeof(first), "%.1f", (double)pr->first_ns / 1e3);
			snprintf(last, sizeof(last), "%.1f", (double)pr->last_ns / 1e3);
		}
		printf("%-4s %5u %-7s %10.2f %10.1f %7s %6.2f %6.2f %7.1f %10s %10s\n",
		       cvmbus_isolation_name(r->iso), r->n, phase_name[ph],
		       (double)pr->ns / 1e6, per, ratio, (double)pr->rx / r->n,
		       (double)pr->tx / r->n, (double)pr->trace / r->n, first, last);
	}
	fflush(stdout);
}

/* ---- main -------------------------------------------------------------------------- */

struct plan {
	enum hv_isolation_type iso;
	unsigned int n;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median_of(uint64_t *v, unsigned int k)
{
	qsort(v, k, sizeof(*v), cmp_u64);
	return v[k / 2];
}

/* Each figure of out becomes the median of that figure over reps[0..k). */
static void take_medians(struct run *out, const struct run *reps, unsigned int k)
{
	uint64_t v[BENCH_MAX_REPS];

	for (int ph = 0; ph < PH_COUNT; ph++) {
		struct phase_result *o = &out->ph[ph];

#define MEDIAN_FIELD(f)                                                           \
	do {                                                                      \
		for (unsigned int i = 0; i < k; i++)                              \
			v[i] = reps[i].ph[ph].f;                                  \
		o->f = median_of(v, k);                                           \
	} while (0)
		MEDIAN_FIELD(ns);
		MEDIAN_FIELD(rx);
		MEDIAN_FIELD(tx);
		MEDIAN_FIELD(trace);
		MEDIAN_FIELD(first_ns);
		MEDIAN_FIELD(last_ns);
#undef MEDIAN_FIELD
		o->has_edges = reps[0].ph[ph].has_edges;
	}
}

static int parse_args(int argc, char **argv, struct plan *plan, size_t cap, size_t *count,
		      unsigned int *reps)
{
	enum hv_isolation_type iso = HV_ISOLATION_TYPE_NONE;
	bool iso_given = false;
	size_t k = 0;

	for (int i = 1; i < argc; i++) {
		char *end = NULL;
		unsigned long v;

		if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
			v = strtoul(argv[++i], &end, 10);
			if (!end || *end || v < 1 || v > BENCH_MAX_REPS)
				return -EINVAL;
			*reps = (unsigned int)v;
			continue;
		}
		if (strcmp(argv[i], "--iso") == 0 && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "none") == 0)
				iso = HV_ISOLATION_TYPE_NONE;
			else if (strcmp(argv[i], "snp") == 0)
				iso = HV_ISOLATION_TYPE_SNP;
			else
				return -EINVAL;
			iso_given = true;
			continue;
		}
		v = strtoul(argv[i], &end, 10);
		if (!end || *end || v < 1 || v > BENCH_MAX_CHANNELS || k == cap)
			return -EINVAL;
		plan[k].iso = iso;
		plan[k].n = (unsigned int)v;
		k++;
	}
	if (k == 0) {
		static const unsigned int ns[] = { 1, BENCH_REF_N, 512, BENCH_MAX_CHANNELS };

		for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
			plan[k++] = (struct plan){ iso, ns[i] };
		if (!iso_given) {
			plan[k++] = (struct plan){ HV_ISOLATION_TYPE_SNP, BENCH_REF_N };
			plan[k++] = (struct plan){ HV_ISOLATION_TYPE_SNP, BENCH_MAX_CHANNELS };
		}
	}
	*count = k;
	return 0;
}

int main(int argc, char **argv)
{
	struct plan plan[32];
	/* Static: one result (the medians) per plan entry, with the N = 64
	 * entry of each isolation kept as the reference of its ratios; and
	 * the repetitions of the entry being measured. */
	static struct run runs[32];
	static struct run reps[BENCH_MAX_REPS];
	unsigned int nreps = BENCH_DEFAULT_REPS;
	size_t count = 0;
	int failures = 0;
	uint64_t start = mono_ns();

	if (parse_args(argc, argv, plan, 32, &count, &nreps)) {
		fprintf(stderr, "usage: %s [--reps R (1..%u)] [--iso none|snp] [N (1..%u) ...]\n",
			argv[0], BENCH_MAX_REPS, BENCH_MAX_CHANNELS);
		return 2;
	}
	cvmbus_log_set_sink(quiet_log, NULL);
	printf("control_bench: rings %u+%u bytes, 1 vCPU, native executor, host glue "
	       "(no paravisor), null device; medians of %u runs\n",
	       BENCH_RING_BYTES, BENCH_RING_BYTES, nreps);
	print_header();
	for (size_t i = 0; i < count; i++) {
		struct run *r = &runs[i];
		const struct run *ref = NULL;
		bool ok = true;

		r->iso = plan[i].iso;
		r->n = plan[i].n;
		for (unsigned int k = 0; k < nreps && ok; k++) {
			struct run *q = &reps[k];
			int rc;

			memset(q, 0, sizeof(*q));
			q->iso = r->iso;
			q->n = r->n;
			rc = run_one(q);
			if (rc) {
				fprintf(stderr, "%s N=%u: %s\n", cvmbus_isolation_name(q->iso),
					q->n, q->why[0] ? q->why : strerror(-rc));
				ok = false;
			} else if (q->opens != q->n || q->closes != q->n) {
				fprintf(stderr,
					"%s N=%u: the host opened %" PRIu64 " and closed %" PRIu64
					" channels\n",
					cvmbus_isolation_name(q->iso), q->n, q->opens, q->closes);
				ok = false;
			}
		}
		if (!ok) {
			snprintf(r->why, sizeof(r->why), "failed");
			failures++;
			continue;
		}
		take_medians(r, reps, nreps);
		for (size_t j = 0; j < i; j++)
			if (runs[j].iso == r->iso && runs[j].n == BENCH_REF_N && !runs[j].why[0])
				ref = &runs[j];
		if (r->n == BENCH_REF_N)
			ref = r;
		print_run(r, ref);
	}
	printf("wall %.1f s\n", (double)(mono_ns() - start) / 1e9);
	return failures ? 1 : 0;
}
