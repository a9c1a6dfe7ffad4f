/* SPDX-License-Identifier: MIT */
/*
 * storage_bench: where the time of a disk request goes inside cvmbus, with
 * no NBD in the way (bench/storage.sh measures the NBD export itself). For
 * each path (confidential, host) and each workload (4 KiB random reads and
 * 128 KiB sequential reads, 16 in flight), two layers:
 *
 *   storvsc   16 executor threads of the VM's run, each calling the guest's
 *             storvsc (cvmbus_storvsc_read) on its own private page(s):
 *             the VMBus stack alone (ring, signals, storvsp, file);
 *   service   16 plain pthreads calling cvmbus_vm_disk_service_pread: the
 *             same stack plus the service (its buffer pool, the copy
 *             between guest RAM and the caller's buffer), i.e. what
 *             nbdkit's threads pay (docs/DISK.md).
 *
 * The ratio between the two rows is what the service adds on top of the
 * storvsc. Bench layer (above libcvmbus);
 * docs/BENCHMARKS.md, "Storage".
 *
 *   usage: storage_bench [--seconds S] [--image FILE]
 *          (default 2 s per row; a 256 MiB image of random data in /tmp,
 *          removed at exit)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cvmbus/log.h>
#include <cvmbus/vm.h>
#include <cvmbus/vm_disk.h>

#define BENCH_THREADS 16u
#define BENCH_IMAGE   (256ull << 20)
#define BENCH_SMALL   4096u
#define BENCH_LARGE   (128u * 1024u)

struct bench {
	double seconds;
	const char *image;
	enum cvmbus_vm_disk_path path;
	uint32_t io;     /* bytes per request */
	bool random;
	/* results */
	_Atomic uint64_t ios;
	_Atomic int error;
	double elapsed;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64: each thread its own stream of offsets. */
static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Request k of thread t: random, or sequential in the thread's own slice. */
static uint64_t offset_of(const struct bench *b, unsigned int t, uint64_t k, uint64_t *x)
{
	uint64_t slots = BENCH_IMAGE / b->io;

	if (b->random)
		return next_rand(x) % slots * b->io;
	return (t * (slots / BENCH_THREADS) + k % (slots / BENCH_THREADS)) * b->io;
}

/* ---- storvsc from executor threads --------------------------------------------- */

struct vsc_worker {
	struct bench *b;
	struct cvmbus_vm_disk_guest *g;
	unsigned int id;
	uint64_t gpa;
	double end;
};

static int vsc_worker_main(void *arg)
{
	struct vsc_worker *w = arg;
	struct cvmbus_storvsc *vsc = cvmbus_vm_disk_guest_vsc(w->g);
	uint64_t x = 0x9e3779b97f4a7c15ull * (w->id + 1), k = 0;

	while (now_s() < w->end) {
		uint64_t off = offset_of(w->b, w->id, k++, &x);
		int rc = cvmbus_storvsc_read(vsc, off / 512, w->b->io / 512, w->gpa);

		if (rc) {
			atomic_store(&w->b->error, rc);
			break;
		}
		atomic_fetch_add(&w->b->ios, 1);
	}
	return 0;
}

static int vsc_workload(struct cvmbus_vm *vm, void *arg)
{
	struct bench *b = arg;
	struct cvmbus_vm_disk_guest *g;
	struct vsc_worker w[BENCH_THREADS];
	struct cvmbus_thread *t[BENCH_THREADS];
	struct cvmbus_mem *mem;
	unsigned int n;
	double t0;
	int rc;

	rc = cvmbus_vm_disk_guest_open(vm, NULL, &g);
	if (rc)
		return rc;
	mem = cvmbus_vm_disk_guest_mem(g);
	t0 = now_s();
	for (unsigned int i = 0; i < BENCH_THREADS; i++) {
		w[i] = (struct vsc_worker){ .b = b, .g = g, .id = i, .end = t0 + b->seconds };
		rc = cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, b->io / 4096, &w[i].gpa);
		if (rc)
			goto out; /* 16 x 128 KiB fit the guest's 4 MiB; nothing to free on exit */
	}
	for (n = 0; n < BENCH_THREADS; n++)
		if (cvmbus_thread_spawn(cvmbus_vm_exec(vm), &t[n], "bench", vsc_worker_main, &w[n])) {
			atomic_store(&b->error, -EAGAIN);
			break;
		}
	for (unsigned int i = 0; i < n; i++)
		(void)cvmbus_thread_join(t[i], NULL);
	b->elapsed = now_s() - t0;
	for (unsigned int i = 0; i < BENCH_THREADS; i++)
		(void)cvmbus_mem_free(mem, w[i].gpa, b->io / 4096);
out:
	cvmbus_vm_disk_guest_close(g);
	return rc;
}

static int run_storvsc(struct bench *b)
{
	struct cvmbus_vm_config vc;
	struct cvmbus_vm_disk_config dc;
	struct cvmbus_vm_disk *d;
	struct cvmbus_vm *vm;
	char err[160];
	int rc;

	cvmbus_vm_config_default(&vc);
	rc = cvmbus_vm_create(&vc, &vm, err, sizeof(err));
	if (rc)
		return rc;
	memset(&dc, 0, sizeof(dc));
	dc.exec = cvmbus_vm_exec(vm);
	dc.image = b->image;
	dc.path = b->path;
	rc = cvmbus_vm_disk_create(&dc, &d);
	if (!rc) {
		rc = cvmbus_vm_disk_attach(vm, d);
		if (!rc)
			rc = cvmbus_vm_run(vm, vsc_workload, b);
		cvmbus_vm_disk_destroy(d);
	}
	cvmbus_vm_destroy(vm);
	return rc ? rc : atomic_load(&b->error);
}

/* ---- the service from foreign threads ---------------------------------------------- */

struct svc_thread {
	struct bench *b;
	struct cvmbus_vm_disk_service *svc;
	unsigned int id;
	double end;
};

static void *svc_thread_main(void *arg)
{
	struct svc_thread *s = arg;
	uint64_t x = 0x9e3779b97f4a7c15ull * (s->id + 1), k = 0;
	uint8_t *buf = malloc(s->b->io);

	while (buf && now_s() < s->end) {
		int rc = cvmbus_vm_disk_service_pread(s->svc, buf, s->b->io,
						      offset_of(s->b, s->id, k++, &x));

		if (rc) {
			atomic_store(&s->b->error, rc);
			break;
		}
		atomic_fetch_add(&s->b->ios, 1);
	}
	free(buf);
	return NULL;
}

static int run_service(struct bench *b)
{
	struct cvmbus_vm_disk_service_config c;
	struct cvmbus_vm_disk_service *svc;
	struct svc_thread s[BENCH_THREADS];
	pthread_t t[BENCH_THREADS];
	char err[200];
	double t0;
	int rc;

	memset(&c, 0, sizeof(c));
	cvmbus_vm_config_default(&c.vm);
	c.disk.image = b->image;
	c.disk.path = b->path;
	/* The defaults: 4 workers x 4 chunks = 16 in flight, as the threads. */
	rc = cvmbus_vm_disk_service_start(&c, &svc, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "storage_bench: %s\n", err);
		return rc;
	}
	t0 = now_s();
	for (unsigned int i = 0; i < BENCH_THREADS; i++) {
		s[i] = (struct svc_thread){ .b = b, .svc = svc, .id = i, .end = t0 + b->seconds };
		pthread_create(&t[i], NULL, svc_thread_main, &s[i]);
	}
	for (unsigned int i = 0; i < BENCH_THREADS; i++)
		pthread_join(t[i], NULL);
	b->elapsed = now_s() - t0;
	cvmbus_vm_disk_service_destroy(svc);
	return atomic_load(&b->error);
}

static int make_image(const char *path)
{
	uint8_t *buf = malloc(1 << 20);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600), rc = 0;

	if (fd < 0 || !buf) {
		free(buf);
		return -errno;
	}
	for (uint64_t off = 0; off < BENCH_IMAGE && !rc; off += 1 << 20) {
		if (getrandom(buf, 1 << 20, 0) != 1 << 20 || write(fd, buf, 1 << 20) != 1 << 20)
			rc = -EIO;
	}
	close(fd);
	free(buf);
	return rc;
}

int main(int argc, char **argv)
{
	char tmp[] = "/tmp/cvmbus-storage-bench-XXXXXX";
	const char *image = NULL;
	double seconds = 2;
	bool own = false;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--image") && i + 1 < argc) {
			image = argv[++i];
		} else {
			fprintf(stderr, "usage: storage_bench [--seconds S] [--image FILE]\n");
			return 2;
		}
	}
	if (seconds <= 0)
		seconds = 2;
	cvmbus_log_set_level(CVMBUS_LOG_WARN);
	if (!image) {
		int fd = mkstemp(tmp);

		if (fd < 0 || (close(fd), make_image(tmp))) {
			fprintf(stderr, "storage_bench: cannot make %s\n", tmp);
			return 1;
		}
		image = tmp;
		own = true;
	}
	printf("storage_bench: %u in flight, %.0f s per row, image %s\n", BENCH_THREADS, seconds,
	       image);
	printf("%-13s %-28s %12s %12s\n", "path", "workload / layer", "IOPS", "MiB/s");
	for (int p = 0; p < 2 && !rc; p++) {
		for (int wl = 0; wl < 2 && !rc; wl++) {
			double iops[2];

			for (int layer = 0; layer < 2 && !rc; layer++) {
				struct bench b = {
					.seconds = seconds,
					.image = image,
					.path = p ? CVMBUS_VM_DISK_PATH_HOST
						  : CVMBUS_VM_DISK_PATH_CONFIDENTIAL,
					.io = wl ? BENCH_LARGE : BENCH_SMALL,
					.random = !wl,
				};

				rc = layer ? run_service(&b) : run_storvsc(&b);
				if (rc) {
					fprintf(stderr, "storage_bench: failed (%d)\n", rc);
					break;
				}
				iops[layer] = (double)atomic_load(&b.ios) / b.elapsed;
				printf("%-13s %-28s %12.0f %12.1f\n",
				       cvmbus_vm_disk_path_name(b.path),
				       layer ? (wl ? "128k seq read / service"
						   : "4k rand read / service")
					     : (wl ? "128k seq read / storvsc"
						   : "4k rand read / storvsc"),
				       iops[layer], iops[layer] * b.io / (1 << 20));
			}
			if (!rc)
				printf("%-13s %-28s %11.2fx\n", "", "  service / storvsc",
				       iops[1] / iops[0]);
		}
	}
	if (own)
		unlink(tmp);
	return rc ? 1 : 0;
}
