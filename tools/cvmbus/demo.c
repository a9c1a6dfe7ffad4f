/* SPDX-License-Identifier: MIT */
/*
 * `cvmbus demo` (what `make demo` runs): the ring layer at work, end to end,
 * in a few seconds. It builds one ring in a memfd with its data area mapped
 * twice, runs a writer and a reader thread that push a million packets of
 * the fixed pattern (docs/RING_IMAGE.md) through it and check every byte,
 * and reports how many signals crossed between them: each thread blocks on
 * an eventfd when the ring is full or empty, and is woken only when the
 * ring layer says the peer must be signalled (the Linux guest's rules,
 * returned by cvmbus_ring_send/commit), so the count shows how far those
 * rules batch wakeups. Then it writes a few packets of every kind into a
 * ring image file and shows it with the same code as `cvmbus ring dump`.
 * Tool layer: uses only the public ring API.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cvmbus/ring.h>

#include "commands.h"
#include "ring_image.h"
#include "ring_pattern.h"

#define DEMO_DEFAULT_COUNT     1000000u
#define DEMO_DEFAULT_SIZE      64u
#define DEMO_DEFAULT_RING      (256u * 1024u)
/* The reader publishes read_index after this many packets (and whenever
 * the ring runs empty): fewer stores to the shared line and fewer full
 * fences in commit, while the writer still sees space freed promptly. */
#define DEMO_COMMIT_BATCH      16u
#define DEMO_IMAGE_DATA_SIZE   8192u

struct demo_writer_stats {
	uint64_t packets;
	uint64_t signals;    /* writer -> reader: ring went from empty to non-empty */
	uint64_t full_waits; /* blocked on the eventfd because the ring was full */
};

struct demo_reader_stats {
	uint64_t packets;
	uint64_t payload_bytes;
	uint64_t ring_bytes;
	uint64_t signals;     /* reader -> writer: freed the space it waits for */
	uint64_t empty_waits; /* blocked on the eventfd because the ring was empty */
};

/* Everything the two threads share. The ring endpoints are two separate
 * objects (the ring layer keeps their mutable state on separate cache
 * lines); each is touched by its own thread only. */
struct demo {
	struct cvmbus_ring writer;
	struct cvmbus_ring reader;
	int data_efd;  /* writer -> reader doorbell */
	int space_efd; /* reader -> writer doorbell */
	uint64_t count;
	uint32_t size;
	atomic_bool stop; /* set by the thread that fails, so the other gives up */
	atomic_flag error_claimed;
	char error[256];
	struct demo_writer_stats ws;
	struct demo_reader_stats rs;
};

static void demo_fail(struct demo *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The first failure wins the message; both doorbells ring so that a thread
 * blocked on either wakes up, sees stop and leaves. */
static void demo_fail(struct demo *d, const char *fmt, ...)
{
	va_list ap;

	if (!atomic_flag_test_and_set(&d->error_claimed)) {
		va_start(ap, fmt);
		vsnprintf(d->error, sizeof(d->error), fmt, ap);
		va_end(ap);
	}
	atomic_store(&d->stop, true);
	eventfd_write(d->data_efd, 1);
	eventfd_write(d->space_efd, 1);
}

static bool demo_wait(struct demo *d, int efd)
{
	eventfd_t v;

	while (eventfd_read(efd, &v) != 0) {
		if (errno != EINTR) {
			demo_fail(d, "eventfd read: %s", strerror(errno));
			return false;
		}
	}
	return !atomic_load(&d->stop);
}

static void *demo_writer(void *arg)
{
	struct demo *d = arg;
	uint8_t *buf = malloc(d->size);
	bool sig, ready, pending = false;
	uint32_t needed;
	int rc;

	if (!buf) {
		demo_fail(d, "out of memory");
		return NULL;
	}
	for (uint64_t i = 0; i < d->count && !atomic_load(&d->stop); i++) {
		ring_pattern_fill(buf, d->size, i);
		for (;;) {
			rc = cvmbus_ring_send_inband(&d->writer, 0, i, buf, d->size, &sig, &needed);
			if (rc != -EAGAIN)
				break;
			/* Full: ask to be signalled when the packet fits. The
			 * ring re-checks after publishing the request, so a
			 * reader that freed space just before is not missed. */
			rc = cvmbus_ring_set_pending_send(&d->writer, needed, &ready);
			if (rc)
				break;
			pending = true;
			if (ready)
				continue;
			d->ws.full_waits++;
			if (!demo_wait(d, d->space_efd))
				goto out;
		}
		if (rc) {
			demo_fail(d, "writer: packet %" PRIu64 ": %s", i, strerror(-rc));
			goto out;
		}
		if (pending) {
			cvmbus_ring_set_pending_send(&d->writer, 0, NULL);
			pending = false;
		}
		if (sig) {
			d->ws.signals++;
			eventfd_write(d->data_efd, 1);
		}
		d->ws.packets++;
	}
out:
	free(buf);
	return NULL;
}

static bool demo_verify(struct demo *d, const struct cvmbus_ring_packet *pkt, uint64_t i)
{
	uint32_t want = (d->size + 7u) & ~7u;
	size_t m;

	if (pkt->type != CVMBUS_RING_PKT_INBAND || pkt->payload_len != want) {
		demo_fail(d, "reader: packet %" PRIu64 ": type 0x%x, %" PRIu32
			  " payload bytes; expected inband, %" PRIu32, i, pkt->type,
			  pkt->payload_len, want);
		return false;
	}
	m = ring_pattern_check(pkt->payload, d->size, i);
	if (m < d->size) {
		demo_fail(d, "reader: packet %" PRIu64 ": payload byte %zu is 0x%02x, expected 0x%02x",
			  i, m, pkt->payload[m], ring_pattern_byte(i, m));
		return false;
	}
	return true;
}

/* Commit what was read and ring the writer's doorbell if the ring layer
 * says the writer waits for this space. */
static bool demo_commit(struct demo *d)
{
	bool sig;
	int rc = cvmbus_ring_commit(&d->reader, &sig);

	if (rc) {
		demo_fail(d, "reader: commit: %s", strerror(-rc));
		return false;
	}
	if (sig) {
		d->rs.signals++;
		eventfd_write(d->space_efd, 1);
	}
	return true;
}

static void *demo_reader(void *arg)
{
	struct demo *d = arg;
	struct cvmbus_ring_packet pkt;
	size_t buflen = d->size + 64u; /* descriptor + padding, 8-aligned by malloc */
	uint8_t *buf = malloc(buflen);
	uint32_t uncommitted = 0, readable;
	int rc;

	if (!buf) {
		demo_fail(d, "out of memory");
		return NULL;
	}
	/* Draining: tell the writer not to signal (interrupt_mask = 1). */
	if ((rc = cvmbus_ring_begin_read(&d->reader)) != 0)
		goto fail;
	while (d->rs.packets < d->count && !atomic_load(&d->stop)) {
		rc = cvmbus_ring_recv(&d->reader, buf, buflen, &pkt);
		if (rc == 0) {
			if (!demo_verify(d, &pkt, d->rs.packets))
				goto out;
			d->rs.packets++;
			d->rs.payload_bytes += d->size;
			d->rs.ring_bytes += pkt.total;
			if (++uncommitted == DEMO_COMMIT_BATCH) {
				uncommitted = 0;
				if (!demo_commit(d))
					goto out;
			}
			continue;
		}
		if (rc != -EAGAIN)
			goto fail;
		/* Empty. Publish everything read (the writer signals only
		 * when it sees an empty ring, i.e. our read_index), unmask,
		 * and look once more: a packet that arrived while masked
		 * came without a signal, so sleeping now would lose it. */
		uncommitted = 0;
		if (!demo_commit(d))
			goto out;
		if ((rc = cvmbus_ring_end_read(&d->reader, &readable)) != 0)
			goto fail;
		if (readable == 0) {
			d->rs.empty_waits++;
			if (!demo_wait(d, d->data_efd))
				goto out;
		}
		if ((rc = cvmbus_ring_begin_read(&d->reader)) != 0)
			goto fail;
	}
	if (demo_commit(d))
		cvmbus_ring_end_read(&d->reader, NULL);
	goto out;
fail:
	demo_fail(d, "reader: packet %" PRIu64 ": %s", d->rs.packets, strerror(-rc));
out:
	free(buf);
	return NULL;
}

static double demo_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double per(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

/* Part 1: two threads, one ring in a memfd. */
static int demo_threads(uint64_t count, uint32_t size, uint32_t ring_size)
{
	struct demo *d;
	struct cvmbus_ring_map map;
	pthread_t wt, rt;
	double t0, t1;
	int fd = -1, rc, ex = CVMBUS_EXIT_FAILURE;
	bool mapped = false, double_mapped = true;
	size_t len = (size_t)CVMBUS_RING_CONTROL_SIZE + ring_size;

	d = calloc(1, sizeof(*d));
	if (!d) {
		fprintf(stderr, "cvmbus demo: out of memory\n");
		return CVMBUS_EXIT_FAILURE;
	}
	d->data_efd = d->space_efd = -1;
	d->count = count;
	d->size = size;
	atomic_flag_clear(&d->error_claimed);

	fd = memfd_create("cvmbus-demo-ring", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)len) != 0) {
		fprintf(stderr, "cvmbus demo: memfd: %s\n", strerror(errno));
		goto out;
	}
	rc = cvmbus_ring_map_fd(&map, fd, 0, len, CVMBUS_RING_MAP_DOUBLE);
	if (rc == -EINVAL) {
		/* Host pages larger than 4 KiB: no double mapping, the ring
		 * copies wrapping packets in two pieces instead. */
		double_mapped = false;
		rc = cvmbus_ring_map_fd(&map, fd, 0, len, 0);
	}
	if (rc) {
		fprintf(stderr, "cvmbus demo: cannot map the ring: %s\n", strerror(-rc));
		goto out;
	}
	mapped = true;
	if ((rc = cvmbus_ring_init(&d->writer, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &map.mem)) ||
	    (rc = cvmbus_ring_init(&d->reader, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &map.mem))) {
		fprintf(stderr, "cvmbus demo: ring init: %s\n", strerror(-rc));
		goto out;
	}
	d->data_efd = eventfd(0, EFD_CLOEXEC);
	d->space_efd = eventfd(0, EFD_CLOEXEC);
	if (d->data_efd < 0 || d->space_efd < 0) {
		fprintf(stderr, "cvmbus demo: eventfd: %s\n", strerror(errno));
		goto out;
	}

	printf("cvmbus demo: %" PRIu64 " packets of %" PRIu32 " bytes through a %" PRIu32
	       " KiB ring (memfd, data area %s), one writer thread, one reader thread\n",
	       count, size, ring_size / 1024, double_mapped ? "mapped twice" : "mapped once");
	t0 = demo_now();
	if ((rc = pthread_create(&rt, NULL, demo_reader, d)) != 0) {
		fprintf(stderr, "cvmbus demo: pthread_create: %s\n", strerror(rc));
		goto out;
	}
	if ((rc = pthread_create(&wt, NULL, demo_writer, d)) != 0) {
		fprintf(stderr, "cvmbus demo: pthread_create: %s\n", strerror(rc));
		demo_fail(d, "cannot start the writer");
		pthread_join(rt, NULL);
		goto out;
	}
	pthread_join(wt, NULL);
	pthread_join(rt, NULL);
	t1 = demo_now();

	if (atomic_load(&d->stop)) {
		fprintf(stderr, "cvmbus demo: %s\n", d->error);
		goto out;
	}
	printf("  verified   %" PRIu64 " packets, %" PRIu64 " payload bytes, every byte checked\n"
	       "             (%" PRIu64 " bytes of ring traffic with descriptors, padding, trailers)\n",
	       d->rs.packets, d->rs.payload_bytes, d->rs.ring_bytes);
	printf("  elapsed    %.3f s: %.2f M packets/s, %.3f GB/s of payload\n", t1 - t0,
	       per(d->rs.packets, 1) / (t1 - t0) / 1e6,
	       per(d->rs.payload_bytes, 1) / (t1 - t0) / 1e9);
	printf("  signals    writer -> reader %" PRIu64 " (one per %.0f packets),"
	       " reader -> writer %" PRIu64 "\n",
	       d->ws.signals, per(d->rs.packets, d->ws.signals), d->rs.signals);
	printf("             %" PRIu64 " signals for %" PRIu64 " packets: the writer signals only"
	       " when the ring goes\n"
	       "             from empty to non-empty and the reader is not draining; the reader\n"
	       "             only when it frees the space a blocked writer asked for\n",
	       d->ws.signals + d->rs.signals, d->rs.packets);
	printf("  waits      writer blocked on a full ring %" PRIu64 " times,"
	       " reader on an empty ring %" PRIu64 " times\n",
	       d->ws.full_waits, d->rs.empty_waits);
	ex = CVMBUS_EXIT_OK;
out:
	if (d->data_efd >= 0)
		close(d->data_efd);
	if (d->space_efd >= 0)
		close(d->space_efd);
	if (mapped)
		cvmbus_ring_unmap(&map);
	if (fd >= 0)
		close(fd);
	free(d);
	return ex;
}

/* Part 2: a small image with one packet of each kind, one already
 * consumed, so that the dump shows a read_index that is not 0. */
static int demo_image(const char *path)
{
	static const char who[] = "cvmbus demo";
	struct ring_image img;
	struct cvmbus_ring w, r;
	struct cvmbus_ring_packet pkt;
	uint8_t p0[24], p1[40], p2[16], p3[8], p4[8];
	uint64_t buf[64];
	static const uint64_t pfns_a[] = { 0x12345, 0x12346 };
	static const uint64_t pfns_b[] = { 0x20000 };
	const struct cvmbus_ring_gpa_range gpa[] = {
		{ .byte_count = 6000, .byte_offset = 100, .pfns = pfns_a, .pfn_count = 2 },
		{ .byte_count = 512, .byte_offset = 0, .pfns = pfns_b, .pfn_count = 1 },
	};
	const struct cvmbus_ring_xfer_range xfer[] = {
		{ .byte_count = 1514, .byte_offset = 0 },
		{ .byte_count = 60, .byte_offset = 2048 },
	};
	struct cvmbus_ring_iov iov;
	struct cvmbus_ring_outpkt op;
	int ex, rc;

	ex = ring_image_create(&img, path, DEMO_IMAGE_DATA_SIZE, stderr, who);
	if (ex)
		return ex;
	if ((rc = cvmbus_ring_init(&w, CVMBUS_RING_WRITER, CVMBUS_RING_FORMAT, &img.map.mem)) ||
	    (rc = cvmbus_ring_init(&r, CVMBUS_RING_READER, CVMBUS_RING_ATTACH, &img.map.mem)))
		goto fail;

	ring_pattern_fill(p0, sizeof(p0), 0);
	ring_pattern_fill(p1, sizeof(p1), 1);
	ring_pattern_fill(p2, sizeof(p2), 2);
	ring_pattern_fill(p3, sizeof(p3), 3);
	ring_pattern_fill(p4, sizeof(p4), 4);
	if ((rc = cvmbus_ring_send_inband(&w, 0, 0, p0, sizeof(p0), NULL, NULL)) ||
	    (rc = cvmbus_ring_send_inband(&w, CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED, 0x1001, p1,
					  sizeof(p1), NULL, NULL)))
		goto fail;

	memset(&op, 0, sizeof(op));
	iov = (struct cvmbus_ring_iov){ .base = p2, .len = sizeof(p2) };
	op.type = CVMBUS_RING_PKT_GPA_DIRECT;
	op.flags = CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED;
	op.trans_id = 0x1002;
	op.gpa = gpa;
	op.gpa_count = 2;
	op.payload = &iov;
	op.payload_count = 1;
	if ((rc = cvmbus_ring_send(&w, &op, NULL, NULL)))
		goto fail;

	memset(&op, 0, sizeof(op));
	iov = (struct cvmbus_ring_iov){ .base = p3, .len = sizeof(p3) };
	op.type = CVMBUS_RING_PKT_XFER_PAGES;
	op.trans_id = 0x1003;
	op.xfer_set_id = 7;
	op.xfer = xfer;
	op.xfer_count = 2;
	op.payload = &iov;
	op.payload_count = 1;
	if ((rc = cvmbus_ring_send(&w, &op, NULL, NULL)))
		goto fail;

	memset(&op, 0, sizeof(op));
	iov = (struct cvmbus_ring_iov){ .base = p4, .len = sizeof(p4) };
	op.type = CVMBUS_RING_PKT_COMPLETION;
	op.trans_id = 0x1001;
	op.payload = &iov;
	op.payload_count = 1;
	if ((rc = cvmbus_ring_send(&w, &op, NULL, NULL)))
		goto fail;

	/* Consume packet 0, so the dump starts at packet 1. */
	if ((rc = cvmbus_ring_read(&r, buf, sizeof(buf), &pkt, NULL)))
		goto fail;
	ring_image_close(&img);

	printf("\nring image %s: 5 packets written, the first one read\n", path);
	printf("$ cvmbus ring dump %s\n", path);
	fflush(stdout);
	return ring_image_dump(path, false, stdout, stderr);
fail:
	fprintf(stderr, "%s: %s: building the example image: %s\n", who, path, strerror(-rc));
	ring_image_close(&img);
	return CVMBUS_EXIT_FAILURE;
}

static const char demo_usage_text[] =
	"usage: cvmbus demo [--count N] [--size S] [--ring-size BYTES] [--image PATH]\n"
	"\n"
	"Push N packets (default 1000000) of S bytes (default 64) of the fixed pattern\n"
	"through one ring in a memfd with a writer and a reader thread, verify every\n"
	"byte, and report the rate and the signals exchanged. Then write one packet of\n"
	"each kind into a ring image file (default /tmp/cvmbus-demo-XXXXXX.ring, kept)\n"
	"and show it as `cvmbus ring dump` does.\n"
	"\n"
	"  --count N          packets to push\n"
	"  --size S           payload bytes per packet, 8 to 65536\n"
	"  --ring-size BYTES  data area of the ring (multiple of 4096, default 262144)\n"
	"  --image PATH       where to write the example ring image\n";

static bool demo_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end)
		return false;
	*out = v;
	return true;
}

int cmd_demo(int argc, char **argv)
{
	uint64_t count = DEMO_DEFAULT_COUNT, size = DEMO_DEFAULT_SIZE, ring = DEMO_DEFAULT_RING;
	const char *image = NULL;
	char tmpl[] = "/tmp/cvmbus-demo-XXXXXX.ring";
	int ex;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t *dst = NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(demo_usage_text, stdout);
			return CVMBUS_EXIT_OK;
		}
		if (!strcmp(a, "--count"))
			dst = &count;
		else if (!strcmp(a, "--size"))
			dst = &size;
		else if (!strcmp(a, "--ring-size"))
			dst = &ring;
		else if (!strcmp(a, "--image")) {
			if (!v) {
				fprintf(stderr, "cvmbus demo: --image needs a value\n");
				return CVMBUS_EXIT_USAGE;
			}
			image = v;
			i++;
			continue;
		} else {
			fprintf(stderr, "cvmbus demo: unknown option '%s'\n", a);
			fputs(demo_usage_text, stderr);
			return CVMBUS_EXIT_USAGE;
		}
		if (!demo_parse_u64(v, dst)) {
			fprintf(stderr, "cvmbus demo: %s needs a non-negative integer\n", a);
			return CVMBUS_EXIT_USAGE;
		}
		i++;
	}
	if (size < RING_PATTERN_MIN_SIZE || size > 65536) {
		fprintf(stderr, "cvmbus demo: --size must be from 8 to 65536\n");
		return CVMBUS_EXIT_USAGE;
	}
	if (ring < CVMBUS_RING_PAGE_SIZE || ring % CVMBUS_RING_PAGE_SIZE ||
	    ring > CVMBUS_RING_MAX_DATA_SIZE) {
		fprintf(stderr, "cvmbus demo: --ring-size must be a multiple of 4096 up to 1 GiB\n");
		return CVMBUS_EXIT_USAGE;
	}
	/* The packet (descriptor + padded payload + trailer) must leave the
	 * ring with more than 8 bytes free, or it can never be written. */
	if (CVMBUS_RING_DESC_SIZE + ((size + 7u) & ~7ull) + CVMBUS_RING_TRAILER_SIZE >
	    ring - CVMBUS_RING_TRAILER_SIZE) {
		fprintf(stderr, "cvmbus demo: a %" PRIu64 "-byte packet does not fit a %" PRIu64
			"-byte ring\n", size, ring);
		return CVMBUS_EXIT_USAGE;
	}

	ex = demo_threads(count, (uint32_t)size, (uint32_t)ring);
	if (ex)
		return ex;
	if (!image) {
		int fd = mkstemps(tmpl, 5);

		if (fd < 0) {
			fprintf(stderr, "cvmbus demo: %s: %s\n", tmpl, strerror(errno));
			return CVMBUS_EXIT_FAILURE;
		}
		close(fd);
		image = tmpl;
	}
	return demo_image(image);
}
