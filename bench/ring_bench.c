/* SPDX-License-Identifier: MIT */
/*
 * Ring throughput benchmark (bench/, run by `make bench`): one ring in
 * shared memory (a memfd, data area mapped twice), a writer thread and a
 * reader thread on two CPUs, packets of 64 B, 4 KiB and 64 KiB. It measures
 * in the same run, over the same memory and sizes:
 *   - cvmbus: cvmbus_ring_send_inband() against cvmbus_ring_read(), the
 *     hardened reader (copy out, validate, publish read_index per packet),
 *     and the same with read_index published once per batch;
 *   - DPDK 22.11 (librte-bus-vmbus23): rte_vmbus_chan_send() against
 *     rte_vmbus_chan_recv(), through a channel built as in the interop test;
 *   - single-thread memcpy of the same sizes from a buffer larger than the
 *     last-level cache (the limit a copying ring cannot beat), and from a
 *     cache-resident buffer for reference.
 * Both sides spin (with pause) when the ring is full or empty, so the
 * figures measure the ring, not thread wakeups. Every received packet's
 * sequence number is checked, so a broken ring cannot post a good figure.
 *
 * `ring_bench --single IMPL SIZE COUNT` runs one thread that writes and
 * reads back one packet at a time: deterministic work for
 * `valgrind --tool=callgrind` (instructions per packet), see
 * docs/BENCHMARKS.md. `ring_bench --callgrind [COUNT [SIZE]]` does the same
 * for cvmbus and then DPDK in one process (default 100000 packets of
 * 64 B), each in a loop function of its own (cg_loop_cvmbus,
 * cg_loop_dpdk) whose inclusive count callgrind_annotate reports.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cvmbus/ring.h>

#ifdef CVMBUS_BENCH_DPDK
#include "dpdk_vmbus_2211.h"
#endif

#define RING_DATA (1u << 20) /* 1 MiB data area: 16 packets of 64 KiB in flight */
#define RING_LEN  (CVMBUS_RING_CONTROL_SIZE + RING_DATA)
#define MAX_SIZE  (64u * 1024u)
#define DEFAULT_SECONDS 0.3
/* Each figure is the median of this many runs, interleaved across the
 * implementations so that a disturbance by another process is spread
 * evenly. Interference cuts both ways on a small shared machine: a
 * preempted reader lets the writer fill the ring and then drains it in a
 * burst, which can look faster. The median resists both. */
#define DEFAULT_REPS 5
#define MAX_REPS 25
#define SPINS_BEFORE_YIELD 4096u

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waiting on a full or empty ring: spin with pause, but give the CPU away
 * now and then, because on a small shared machine the peer thread may be
 * waiting for this very CPU. */
struct spinner {
	uint32_t n;
};

static inline void spin(struct spinner *s)
{
	if (++s->n % SPINS_BEFORE_YIELD == 0)
		sched_yield();
	else
		cpu_relax();
}

enum impl {
	IMPL_CVMBUS = 0,
	IMPL_CVMBUS_BATCH,
	IMPL_DPDK,
	IMPL_COUNT_
};

static const char *const impl_names[IMPL_COUNT_] = {
	"cvmbus",
	"cvmbus, batched commit",
	"DPDK 22.11",
};

/* One run: the ring, the two endpoints of whichever implementation, the
 * stop protocol (the main thread sets stop; the writer then publishes how
 * many packets it wrote; the reader reads exactly that many). */
struct bench {
	enum impl impl;
	uint32_t size;
	int cpu_writer, cpu_reader;
	struct cvmbus_ring_map map;
	_Alignas(128) struct cvmbus_ring w;
	_Alignas(128) struct cvmbus_ring r;
#ifdef CVMBUS_BENCH_DPDK
	/* The writer's and the reader's channel on lines of their own (DPDK's
	 * reader stores into its rxbr too): no false sharing handicaps DPDK. */
	_Alignas(128) struct dpdk2211_channel dw;
	_Alignas(128) struct dpdk2211_channel dr;
	_Alignas(128) uint8_t monitor[4096];
#endif
	_Alignas(128) atomic_bool stop;
	_Atomic uint64_t written_total; /* UINT64_MAX until the writer is done */
	atomic_int ready;
	uint64_t read_count;
	bool error;
	char error_msg[160];
};

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* Best effort: an affinity error only makes the figures noisier. */
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void start_together(struct bench *b)
{
	atomic_fetch_add(&b->ready, 1);
	while (atomic_load(&b->ready) < 2)
		cpu_relax();
}

static void *writer_main(void *arg)
{
	struct bench *b = arg;
	uint8_t *buf = aligned_alloc(64, MAX_SIZE);
	struct spinner sp = { 0 };
	uint64_t i = 0;

	pin(b->cpu_writer);
	if (!buf)
		abort();
	memset(buf, 0xa5, b->size);
	start_together(b);
	while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
		int rc;

		/* Only the sequence number changes: both implementations
		 * copy the same bytes, the benchmark does not fill them. */
		memcpy(buf, &i, sizeof(i));
		if (b->impl == IMPL_DPDK) {
#ifdef CVMBUS_BENCH_DPDK
			bool sig = false;

			rc = rte_vmbus_chan_send(dpdk2211_chan(&b->dw), CVMBUS_RING_PKT_INBAND, buf,
						 b->size, i, 0, &sig);
#else
			rc = -ENOSYS;
#endif
		} else {
			bool sig;

			rc = cvmbus_ring_send_inband(&b->w, 0, i, buf, b->size, &sig, NULL);
		}
		if (rc == -EAGAIN) {
			spin(&sp);
			continue;
		}
		if (rc) {
			snprintf(b->error_msg, sizeof(b->error_msg), "write %" PRIu64 ": %s", i,
				 strerror(-rc));
			b->error = true;
			break;
		}
		i++;
	}
	atomic_store_explicit(&b->written_total, i, memory_order_release);
	free(buf);
	return NULL;
}

static void *reader_main(void *arg)
{
	struct bench *b = arg;
	uint8_t *buf = aligned_alloc(64, MAX_SIZE + 64);
	struct cvmbus_ring_packet pkt;
	struct spinner sp = { 0 };
	uint64_t i = 0, seq;
	uint32_t uncommitted = 0, uncommitted_bytes = 0;
	int rc;

	pin(b->cpu_reader);
	if (!buf)
		abort();
	start_together(b);
	for (;;) {
		const uint8_t *payload = NULL;

		switch (b->impl) {
		case IMPL_CVMBUS:
			rc = cvmbus_ring_read(&b->r, buf, MAX_SIZE + 64, &pkt, NULL);
			payload = pkt.payload;
			break;
		case IMPL_CVMBUS_BATCH:
			rc = cvmbus_ring_recv(&b->r, buf, MAX_SIZE + 64, &pkt);
			payload = pkt.payload;
			/* Publish read_index every 16 packets, every eighth of
			 * the ring, or when the ring looks empty: fewer stores
			 * to the shared line and fewer full fences, as a
			 * NAPI-style poller does, without holding back so much
			 * space that the writer stalls (16 packets of 64 KiB
			 * would be the whole ring). */
			if (rc == 0) {
				uncommitted++;
				uncommitted_bytes += pkt.total;
			}
			if ((rc == 0 && (uncommitted == 16 || uncommitted_bytes >= RING_DATA / 8)) ||
			    (rc == -EAGAIN && uncommitted)) {
				uncommitted = 0;
				uncommitted_bytes = 0;
				if (cvmbus_ring_commit(&b->r, NULL))
					rc = -EPROTO;
			}
			break;
		case IMPL_DPDK:
		default: {
#ifdef CVMBUS_BENCH_DPDK
			uint32_t len = MAX_SIZE + 64;
			uint64_t xact;

			rc = rte_vmbus_chan_recv(dpdk2211_chan(&b->dr), buf, &len, &xact);
			payload = buf;
#else
			rc = -ENOSYS;
#endif
			break;
		}
		}
		if (rc == -EAGAIN) {
			uint64_t total = atomic_load_explicit(&b->written_total, memory_order_acquire);

			if (total != UINT64_MAX && i == total)
				break;
			spin(&sp);
			continue;
		}
		if (rc) {
			snprintf(b->error_msg, sizeof(b->error_msg), "read %" PRIu64 ": %s", i,
				 strerror(-rc));
			b->error = true;
			break;
		}
		memcpy(&seq, payload, sizeof(seq));
		if (seq != i) {
			snprintf(b->error_msg, sizeof(b->error_msg),
				 "read packet %" PRIu64 " carries %" PRIu64, i, seq);
			b->error = true;
			break;
		}
		i++;
	}
	b->read_count = i;
	free(buf);
	return NULL;
}

/* Fresh control page for each run: every implementation starts from an
 * empty ring with the pending-send feature advertised, so DPDK's reader
 * and cvmbus's commit pay the same full barrier per read. */
static int bench_prepare(struct bench *b)
{
	int rc;

	memset(b->map.mem.control, 0, CVMBUS_RING_CONTROL_SIZE);
	if (b->impl != IMPL_DPDK) {
		rc = cvmbus_ring_init(&b->w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &b->map.mem);
		if (!rc)
			rc = cvmbus_ring_init(&b->r, CVMBUS_RING_READER, CVMBUS_RING_ATTACH,
					      &b->map.mem);
		return rc;
	}
#ifdef CVMBUS_BENCH_DPDK
	((struct cvmbus_ring_control *)b->map.mem.control)->feature_bits =
		CVMBUS_RING_FEATURE_PENDING_SEND_SZ;
	memset(b->monitor, 0, sizeof(b->monitor));
	dpdk2211_channel_init(&b->dw, b->map.mem.control, NULL, RING_DATA, b->monitor, 1);
	dpdk2211_channel_init(&b->dr, NULL, b->map.mem.control, RING_DATA, b->monitor, 1);
	return 0;
#else
	return -ENOSYS;
#endif
}

struct result {
	double pps;
	double gbps;
	bool ok;
};

static struct result bench_run(struct bench *b, double seconds)
{
	struct result res = { 0 };
	pthread_t wt, rt;
	double t0, t1;

	if (bench_prepare(b)) {
		fprintf(stderr, "ring_bench: cannot set up %s\n", impl_names[b->impl]);
		return res;
	}
	atomic_store(&b->stop, false);
	atomic_store(&b->written_total, UINT64_MAX);
	atomic_store(&b->ready, 0);
	b->error = false;
	b->read_count = 0;
	if (pthread_create(&rt, NULL, reader_main, b) || pthread_create(&wt, NULL, writer_main, b)) {
		fprintf(stderr, "ring_bench: pthread_create failed\n");
		exit(1);
	}
	while (atomic_load(&b->ready) < 2)
		sched_yield();
	t0 = now_s();
	while (now_s() - t0 < seconds) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	atomic_store(&b->stop, true);
	pthread_join(wt, NULL);
	pthread_join(rt, NULL);
	t1 = now_s();
	if (b->error) {
		fprintf(stderr, "ring_bench: %s %u B: %s\n", impl_names[b->impl], b->size,
			b->error_msg);
		return res;
	}
	res.pps = (double)b->read_count / (t1 - t0);
	res.gbps = res.pps * b->size / 1e9;
	res.ok = true;
	return res;
}

/* memcpy of `size`-byte chunks from consecutive places in src (len bytes)
 * to one destination, as a reader copying packets out would. */
static double bench_memcpy(const uint8_t *src, size_t len, uint32_t size, double seconds)
{
	uint8_t *dst = aligned_alloc(64, MAX_SIZE);
	uint64_t bytes = 0;
	double t0 = now_s(), t;
	size_t off = 0;

	if (!dst)
		abort();
	do {
		for (int k = 0; k < 256; k++) {
			memcpy(dst, src + off, size);
			/* Keep the compiler from dropping the copies. */
			__asm__ __volatile__("" : : "r"(dst) : "memory");
			off += size;
			if (off + size > len)
				off = 0;
		}
		bytes += 256u * size;
		t = now_s() - t0;
	} while (t < seconds);
	free(dst);
	return (double)bytes / t / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v (n >= 1) and returns its median. */
static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static size_t llc_bytes(void)
{
	long v = sysconf(_SC_LEVEL3_CACHE_SIZE);

	if (v <= 0)
		v = sysconf(_SC_LEVEL2_CACHE_SIZE);
	return v > 0 ? (size_t)v : (size_t)32 << 20;
}

static bool dpdk_available(char *why, size_t len)
{
#ifdef CVMBUS_BENCH_DPDK
	char ver[64];

	if (!dpdk2211_check_version(ver, sizeof(ver))) {
		snprintf(why, len, "librte-bus-vmbus23 is '%s', not 22.11.*", ver);
		return false;
	}
	if (sysconf(_SC_PAGESIZE) != 4096) {
		snprintf(why, len, "host page size is not 4096");
		return false;
	}
	return true;
#else
	snprintf(why, len, "not built (librte_bus_vmbus.so.23 missing at configure time)");
	return false;
#endif
}

/* struct bench holds 128-byte aligned members: calloc does not promise that. */
static struct bench *bench_alloc(void)
{
	size_t len = (sizeof(struct bench) + 127u) & ~(size_t)127u;
	struct bench *b = aligned_alloc(128, len);

	if (b)
		memset(b, 0, len);
	return b;
}

static int map_ring(struct bench *b)
{
	int fd = memfd_create("ring-bench", MFD_CLOEXEC);
	int rc;

	if (fd < 0 || ftruncate(fd, RING_LEN) != 0) {
		perror("ring_bench: memfd");
		return -1;
	}
	rc = cvmbus_ring_map_fd(&b->map, fd, 0, RING_LEN, CVMBUS_RING_MAP_DOUBLE);
	if (rc == -EINVAL)
		rc = cvmbus_ring_map_fd(&b->map, fd, 0, RING_LEN, 0);
	close(fd);
	if (rc) {
		fprintf(stderr, "ring_bench: map: %s\n", strerror(-rc));
		return -1;
	}
	return 0;
}

/* One thread, write one packet then read it back, count times: no
 * spinning, no second CPU, so instruction counts are repeatable. Each
 * implementation's loop is a function of its own, never inlined, so that
 * `callgrind_annotate --inclusive=yes` gives the cost of exactly that
 * loop (write + read back + the loop itself) by name. */
static __attribute__((noinline)) int cg_loop_cvmbus(struct bench *b, uint8_t *in, uint8_t *out,
						     uint32_t size, uint64_t count)
{
	struct cvmbus_ring_packet pkt;
	int rc = 0;

	for (uint64_t i = 0; i < count && rc == 0; i++) {
		memcpy(in, &i, sizeof(i));
		rc = cvmbus_ring_send_inband(&b->w, 0, i, in, size, NULL, NULL);
		if (!rc)
			rc = cvmbus_ring_read(&b->r, out, MAX_SIZE + 64, &pkt, NULL);
		if (!rc && (pkt.payload_len < sizeof(i) || memcmp(pkt.payload, &i, sizeof(i))))
			rc = -EBADMSG;
	}
	return rc;
}

static __attribute__((noinline)) int cg_loop_dpdk(struct bench *b, uint8_t *in, uint8_t *out,
						   uint32_t size, uint64_t count)
{
	int rc = -ENOSYS;

#ifdef CVMBUS_BENCH_DPDK
	rc = 0;
	for (uint64_t i = 0; i < count && rc == 0; i++) {
		bool sig = false;
		uint32_t len = MAX_SIZE + 64;
		uint64_t xact;

		memcpy(in, &i, sizeof(i));
		rc = rte_vmbus_chan_send(dpdk2211_chan(&b->dw), CVMBUS_RING_PKT_INBAND, in, size, i,
					 0, &sig);
		if (!rc)
			rc = rte_vmbus_chan_recv(dpdk2211_chan(&b->dr), out, &len, &xact);
		/* DPDK's recv copies the payload only: same check as above. */
		if (!rc && (len < sizeof(i) || memcmp(out, &i, sizeof(i))))
			rc = -EBADMSG;
	}
#else
	(void)b, (void)in, (void)out, (void)size, (void)count;
#endif
	return rc;
}

static int single_thread(enum impl impl, uint32_t size, uint64_t count)
{
	struct bench *b = bench_alloc();
	uint8_t *in = aligned_alloc(64, MAX_SIZE), *out = aligned_alloc(64, MAX_SIZE + 64);
	int rc;

	if (!b || !in || !out || map_ring(b))
		return 1;
	if (size > MAX_SIZE || size < sizeof(uint64_t)) {
		fprintf(stderr, "ring_bench: size must be 8 .. %u\n", MAX_SIZE);
		return 2;
	}
	memset(in, 0xa5, size);
	b->impl = impl;
	b->size = size;
	if (bench_prepare(b)) {
		fprintf(stderr, "ring_bench: cannot set up %s\n", impl_names[impl]);
		return 1;
	}
	if (impl == IMPL_DPDK)
		rc = cg_loop_dpdk(b, in, out, size, count);
	else
		rc = cg_loop_cvmbus(b, in, out, size, count);
	printf("%s: %" PRIu64 " packets of %u bytes written and read back, rc %d\n",
	       impl_names[impl], count, size, rc);
	cvmbus_ring_unmap(&b->map);
	free(b);
	free(in);
	free(out);
	return rc ? 1 : 0;
}

/* --callgrind: both implementations, one after the other, in one process. */
static int callgrind_mode(uint32_t size, uint64_t count)
{
	char why[128] = "";
	int rc = single_thread(IMPL_CVMBUS, size, count);

	if (rc)
		return rc;
	if (!dpdk_available(why, sizeof(why))) {
		printf("DPDK: skipped: %s\n", why);
		return 0;
	}
	return single_thread(IMPL_DPDK, size, count);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: ring_bench [--seconds S] [--reps N] [--no-pin]\n"
		"       ring_bench --single cvmbus|dpdk SIZE COUNT   (for callgrind)\n"
		"       ring_bench --callgrind [COUNT [SIZE]]  (both, 100000 packets of 64 B)\n");
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 64, 4096, 64 * 1024 };
	double seconds = DEFAULT_SECONDS;
	int reps = DEFAULT_REPS;
	bool do_pin = true, have_dpdk;
	char why[128] = "";
	struct bench *b;
	size_t src_len, hot_len = RING_DATA;
	uint8_t *src;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--single") && i + 3 < argc)
			return single_thread(!strcmp(argv[i + 1], "dpdk") ? IMPL_DPDK : IMPL_CVMBUS,
					     (uint32_t)strtoul(argv[i + 2], NULL, 0),
					     strtoull(argv[i + 3], NULL, 0));
		if (!strcmp(argv[i], "--callgrind"))
			return callgrind_mode(i + 2 < argc ? (uint32_t)strtoul(argv[i + 2], NULL, 0)
							   : 64u,
					      i + 1 < argc ? strtoull(argv[i + 1], NULL, 0)
							   : 100000u);
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = strtod(argv[++i], NULL);
			if (!(seconds > 0.0 && seconds < 600.0)) {
				usage();
				return 2;
			}
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = atoi(argv[++i]);
			if (reps < 1 || reps > MAX_REPS) {
				usage();
				return 2;
			}
		} else if (!strcmp(argv[i], "--no-pin")) {
			do_pin = false;
		} else {
			usage();
			return 2;
		}
	}

	b = bench_alloc();
	if (!b || map_ring(b))
		return 1;
	b->cpu_writer = do_pin && ncpu >= 2 ? 0 : -1;
	b->cpu_reader = do_pin && ncpu >= 2 ? 1 : -1;
	have_dpdk = dpdk_available(why, sizeof(why));

	/* Twice the last-level cache, at least 64 MiB, at most 1 GiB: a
	 * copy that streams from DRAM. */
	src_len = 2 * llc_bytes();
	if (src_len < ((size_t)64 << 20))
		src_len = (size_t)64 << 20;
	if (src_len > ((size_t)1 << 30))
		src_len = (size_t)1 << 30;
	src = mmap(NULL, src_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		   -1, 0);
	if (src == MAP_FAILED) {
		perror("ring_bench: mmap");
		return 1;
	}
	memset(src, 0x5a, src_len);

	printf("ring_bench: one ring of %u KiB data (memfd, data area %s), writer and reader "
	       "threads %s, spin-waiting; %d runs of %.1f s each, interleaved\n",
	       RING_DATA / 1024, b->map.mem.double_mapped ? "mapped twice" : "mapped once",
	       b->cpu_writer >= 0 ? "pinned to CPUs 0 and 1" : "not pinned", reps, seconds);
	printf("memcpy: single thread, %zu MiB source (last-level cache %zu MiB), and a %zu KiB "
	       "cache-resident source\n", src_len >> 20, llc_bytes() >> 20, hot_len >> 10);
	if (!have_dpdk)
		printf("DPDK: skipped: %s\n", why);
	printf("\nmedian and best of the runs; ratios are of medians, memcpy is the from-DRAM line\n");
	printf("%-9s %-24s %12s %9s %9s %9s %10s\n", "size", "implementation", "packets/s", "GB/s",
	       "best", "vs DPDK", "vs memcpy");

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		/* Every run's GB/s; the table shows the median (robust to a
		 * run another process disturbed, either way) and the best. */
		double runs[IMPL_COUNT_][MAX_REPS] = { { 0 } }, mc_runs[MAX_REPS], hot_runs[MAX_REPS];
		double med[IMPL_COUNT_] = { 0 }, best[IMPL_COUNT_] = { 0 }, mc, mc_hot;
		char label[16];

		if (sizes[s] >= 1024)
			snprintf(label, sizeof(label), "%u KiB", sizes[s] / 1024);
		else
			snprintf(label, sizeof(label), "%u B", sizes[s]);
		for (int rep = 0; rep < reps; rep++) {
			mc_runs[rep] = bench_memcpy(src, src_len, sizes[s], seconds / 2);
			hot_runs[rep] = bench_memcpy(src, hot_len, sizes[s], seconds / 2);
			for (int im = 0; im < IMPL_COUNT_; im++) {
				struct result one;

				if (im == IMPL_DPDK && !have_dpdk)
					continue;
				b->impl = (enum impl)im;
				b->size = sizes[s];
				one = bench_run(b, seconds);
				if (!one.ok)
					return 1;
				runs[im][rep] = one.gbps;
			}
		}
		mc = median(mc_runs, reps);
		mc_hot = median(hot_runs, reps);
		for (int im = 0; im < IMPL_COUNT_; im++) {
			if (im == IMPL_DPDK && !have_dpdk)
				continue;
			med[im] = median(runs[im], reps);
			best[im] = runs[im][reps - 1]; /* median() sorted them */
		}
		for (int im = 0; im < IMPL_COUNT_; im++) {
			if (im == IMPL_DPDK && !have_dpdk)
				continue;
			printf("%-9s %-24s %10.2f M %9.3f %9.3f", label, impl_names[im],
			       med[im] * 1e9 / sizes[s] / 1e6, med[im], best[im]);
			if (im != IMPL_DPDK && have_dpdk)
				printf(" %8.2fx", med[im] / med[IMPL_DPDK]);
			else
				printf(" %9s", "");
			printf(" %9.2fx\n", med[im] / mc);
		}
		printf("%-9s %-24s %12s %9.3f\n", label, "memcpy (from DRAM)", "", mc);
		printf("%-9s %-24s %12s %9.3f\n", label, "memcpy (cache-resident)", "", mc_hot);
		fflush(stdout);
	}
	munmap(src, src_len);
	cvmbus_ring_unmap(&b->map);
	free(b);
	return 0;
}
