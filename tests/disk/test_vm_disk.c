/* SPDX-License-Identifier: MIT */
/*
 * The VM's disk (src/vm/disk.c, include/cvmbus/vm_disk.h) through its
 * public API, with real bytes in a real image file:
 *
 *   - the offer's bytes (class and instance GUIDs, flags) against values
 *     written here by hand from the Hyper-V SCSI class GUID;
 *   - the device's image handling (create sparse, never resize, refuse);
 *   - the service on both paths: data written from foreign threads lands
 *     in the image file byte for byte and reads back; unaligned I/O; trim;
 *     a secret written through it is nowhere the host can read on the
 *     confidential path and is found in the bounce pages on the host
 *     path; the exposure account shows exactly the pool under "bounce"
 *     there and no bounce reason at all on the confidential path;
 *   - a VSP that dies mid-I/O: every caller gets -EIO, later ones at once;
 *   - what the service refuses (deterministic executor, confidential
 *     without a paravisor or without a confidential connection);
 *   - the device and the guest's side under the deterministic executor.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <cvmbus/log.h>
#include <cvmbus/platform.h>
#include <cvmbus/vm.h>
#include <cvmbus/vm_disk.h>

#define SEC 1000000000ull
#define MIB (1024u * 1024u)

static char tmpdir[64];

static void image_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void fill_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* Read the image file directly: what the backend really holds. */
static void file_read(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void service_config(struct cvmbus_vm_disk_service_config *c, const char *image,
			   enum cvmbus_vm_disk_path path)
{
	memset(c, 0, sizeof(*c));
	cvmbus_vm_config_default(&c->vm); /* SNP + paravisor + Confidential VMBus, native */
	c->disk.image = image;
	c->disk.create_bytes = 8u * MIB;
	c->disk.path = path;
	c->workers = 8;
	c->chunk_bytes = 64u * 1024u;
	c->guest.timeout_ns = 10 * SEC;
}

static struct cvmbus_vm_disk_service *start(const struct cvmbus_vm_disk_service_config *c)
{
	struct cvmbus_vm_disk_service *svc = NULL;
	char err[200];
	int rc = cvmbus_vm_disk_service_start(c, &svc, err, sizeof(err));

	if (rc)
		print_error("start: %d %s\n", rc, err);
	assert_int_equal(rc, 0);
	assert_non_null(svc);
	return svc;
}

/* ---- names and the offer -------------------------------------------------------- */

static void test_path_names(void **state)
{
	enum cvmbus_vm_disk_path p;

	(void)state;
	assert_int_equal(cvmbus_vm_disk_path_parse("confidential", &p), 0);
	assert_int_equal(p, CVMBUS_VM_DISK_PATH_CONFIDENTIAL);
	assert_int_equal(cvmbus_vm_disk_path_parse("host", &p), 0);
	assert_int_equal(p, CVMBUS_VM_DISK_PATH_HOST);
	assert_int_equal(cvmbus_vm_disk_path_parse("Host", &p), -EINVAL);
	assert_int_equal(cvmbus_vm_disk_path_parse("", &p), -EINVAL);
	assert_string_equal(cvmbus_vm_disk_path_name(CVMBUS_VM_DISK_PATH_CONFIDENTIAL),
			    "confidential");
	assert_string_equal(cvmbus_vm_disk_path_name(CVMBUS_VM_DISK_PATH_HOST), "host");
	assert_string_equal(cvmbus_vm_disk_service_state_name(CVMBUS_VM_DISK_SERVICE_BROKEN),
			    "broken");
}

static void test_offer_params(void **state)
{
	/* ba6163d9-04a1-4d29-b605-72e2ffb1dc7f as a GUID lies in memory: the
	 * first three fields little-endian, the last eight bytes as written. */
	static const uint8_t scsi[16] = { 0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d,
					  0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f };
	/* d15c0001-d15c-4000-8000-000000000000 and 12345678-d15c-... */
	static const uint8_t inst_default[16] = { 0x01, 0x00, 0x5c, 0xd1, 0x5c, 0xd1, 0x00, 0x40,
						  0x80, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t inst_custom[16] = { 0x78, 0x56, 0x34, 0x12, 0x5c, 0xd1, 0x00, 0x40,
						 0x80, 0, 0, 0, 0, 0, 0, 0 };
	struct cvmbus_vm_disk_config dc;
	struct cvmbus_offer_params op;
	struct cvmbus_vm_disk *d;
	struct cvmbus_exec *exec;
	char img[96];

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	image_path(img, sizeof(img), "offer.img");
	memset(&dc, 0, sizeof(dc));
	dc.exec = exec;
	dc.image = img;
	dc.create_bytes = MIB;
	dc.path = CVMBUS_VM_DISK_PATH_CONFIDENTIAL;
	assert_int_equal(cvmbus_vm_disk_create(&dc, &d), 0);
	cvmbus_vm_disk_offer_params(d, &op);
	assert_memory_equal(&op.interface_id, scsi, 16);
	assert_memory_equal(&op.instance_id, inst_default, 16);
	assert_int_equal(op.flags, 0x0004); /* confidential external memory */
	assert_false(op.keep_flags);        /* the server adds the confidential ring */
	assert_int_equal(cvmbus_vm_disk_bytes(d), MIB);
	assert_int_equal(cvmbus_vm_disk_stop_vsp(d), -ENOTCONN);
	cvmbus_vm_disk_destroy(d);

	dc.path = CVMBUS_VM_DISK_PATH_HOST;
	dc.instance = 0x12345678u;
	assert_int_equal(cvmbus_vm_disk_create(&dc, &d), 0);
	cvmbus_vm_disk_offer_params(d, &op);
	assert_memory_equal(&op.interface_id, scsi, 16);
	assert_memory_equal(&op.instance_id, inst_custom, 16);
	assert_int_equal(op.flags, 0);
	cvmbus_vm_disk_destroy(d);
	unlink(img);
	cvmbus_exec_destroy(exec);
}

/* ---- the image ---------------------------------------------------------------------- */

static void test_image_create(void **state)
{
	struct cvmbus_vm_disk_config dc;
	struct cvmbus_vm_disk *d = NULL;
	struct cvmbus_exec *exec;
	struct stat st;
	char img[96];
	int fd;

	(void)state;
	assert_int_equal(cvmbus_exec_native_create(&exec), 0);
	image_path(img, sizeof(img), "create.img");
	unlink(img);
	memset(&dc, 0, sizeof(dc));
	dc.exec = exec;
	dc.image = img;
	dc.path = CVMBUS_VM_DISK_PATH_HOST;

	/* Missing, no size: refused, nothing created. */
	assert_int_equal(cvmbus_vm_disk_create(&dc, &d), -ENOENT);
	assert_int_equal(stat(img, &st), -1);
	/* Missing, read-only: an empty read-only disk is refused. */
	dc.create_bytes = 4u * MIB;
	dc.read_only = true;
	assert_int_equal(cvmbus_vm_disk_create(&dc, &d), -EINVAL);
	assert_int_equal(stat(img, &st), -1);
	dc.read_only = false;
	/* Not whole sectors. */
	dc.create_bytes = 4u * MIB + 100;
	assert_int_equal(cvmbus_vm_disk_create(&dc, &d), -EINVAL);

	/* Created, sparse, exactly that size. */
	dc.create_bytes = 4u * MIB;
	assert_int_equal(cvmbus_vm_disk_create(&dc, &d), 0);
	assert_int_equal(stat(img, &st), 0);
	assert_int_equal(st.st_size, 4 * MIB);
	assert_true((uint64_t)st.st_blocks * 512u < 4u * MIB);
	cvmbus_vm_disk_destroy(d);

	/* Existing: never resized, whatever size is asked for. */
	dc.create_bytes = 16u * MIB;
	assert_int_equal(cvmbus_vm_disk_create(&dc, &d), 0);
	assert_int_equal(cvmbus_vm_disk_bytes(d), 4u * MIB);
	cvmbus_vm_disk_destroy(d);
	assert_int_equal(stat(img, &st), 0);
	assert_int_equal(st.st_size, 4 * MIB);

	/* Smaller than a sector: nothing to serve. */
	fd = open(img, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
	dc.create_bytes = 0;
	assert_int_equal(cvmbus_vm_disk_create(&dc, &d), -EINVAL);
	unlink(img);
	cvmbus_exec_destroy(exec);
}

/* ---- the service ------------------------------------------------------------------------ */

/* Data from a foreign thread to the file and back, aligned and not, plus
 * flush and trim. Returns nothing; asserts. */
static void exercise_data(struct cvmbus_vm_disk_service *svc, const char *img)
{
	const size_t big = MIB + 3 * 4096; /* not a multiple of the 64 KiB chunk */
	uint8_t *w = malloc(big), *r = malloc(big), small[3000], shadow[3000];

	assert_non_null(w);
	assert_non_null(r);
	assert_int_equal(cvmbus_vm_disk_service_size(svc), 8u * MIB);

	fill_random(w, big);
	assert_int_equal(cvmbus_vm_disk_service_pwrite(svc, w, big, 4096), 0);
	memset(r, 0, big);
	assert_int_equal(cvmbus_vm_disk_service_pread(svc, r, big, 4096), 0);
	assert_memory_equal(r, w, big);
	assert_int_equal(cvmbus_vm_disk_service_flush(svc), 0);
	/* The bytes are in the image file, where they were written. */
	memset(r, 0, big);
	file_read(img, 4096, r, big);
	assert_memory_equal(r, w, big);

	/* Unaligned: 1000 bytes at 12345 inside what was just written. */
	file_read(img, 12000, shadow, sizeof(shadow));
	fill_random(small, 1000);
	memcpy(shadow + 345, small, 1000);
	assert_int_equal(cvmbus_vm_disk_service_pwrite(svc, small, 1000, 12345), 0);
	memset(small, 0, sizeof(small));
	assert_int_equal(cvmbus_vm_disk_service_pread(svc, small, sizeof(small), 12000), 0);
	assert_memory_equal(small, shadow, sizeof(shadow));
	/* A write inside one sector, and one byte at the end of the disk. */
	fill_random(small, 7);
	assert_int_equal(cvmbus_vm_disk_service_pwrite(svc, small, 7, 12800 + 3), 0);
	assert_int_equal(cvmbus_vm_disk_service_pwrite(svc, "z", 1, 8u * MIB - 1), 0);
	memset(shadow, 0, 8);
	assert_int_equal(cvmbus_vm_disk_service_pread(svc, shadow, 7, 12803), 0);
	assert_memory_equal(shadow, small, 7);
	assert_int_equal(cvmbus_vm_disk_service_pread(svc, shadow, 1, 8u * MIB - 1), 0);
	assert_int_equal(shadow[0], 'z');

	/* Outside the disk: refused before anything is queued. */
	assert_int_equal(cvmbus_vm_disk_service_pread(svc, shadow, 2, 8u * MIB - 1), -EINVAL);
	assert_int_equal(cvmbus_vm_disk_service_pwrite(svc, shadow, 1, 8u * MIB), -EINVAL);

	/* Trim [131072 - 300, 196608 + 300): the whole sectors inside it,
	 * [131072, 196608), read back as zeros; the partial sectors at its
	 * edges keep their data. (Disk offset X holds w[X - 4096].) */
	assert_int_equal(cvmbus_vm_disk_service_trim(svc, 65536 + 600, 131072 - 300), 0);
	assert_int_equal(cvmbus_vm_disk_service_pread(svc, r, 512 + 65536 + 512, 131072 - 512), 0);
	assert_memory_equal(r, w + 131072 - 512 - 4096, 512);
	for (size_t i = 512; i < 512 + 65536; i++)
		assert_int_equal(r[i], 0);
	assert_memory_equal(r + 512 + 65536, w + 196608 - 4096, 512);
	free(w);
	free(r);
}

/* A fresh random secret through the service, read back. */
static void write_secret(struct cvmbus_vm_disk_service *svc, uint8_t secret[32])
{
	uint8_t back[32];

	fill_random(secret, 32);
	assert_int_equal(cvmbus_vm_disk_service_pwrite(svc, secret, 32, 2u * MIB + 7), 0);
	assert_int_equal(cvmbus_vm_disk_service_pread(svc, back, 32, 2u * MIB + 7), 0);
	assert_memory_equal(back, secret, 32);
}

static const struct cvmbus_vm_reason *find_reason(const struct cvmbus_vm_report *r,
						  const char *name)
{
	for (size_t i = 0; i < r->reason_count; i++)
		if (!strcmp(r->reasons[i].reason, name) && r->reasons[i].pages_now)
			return &r->reasons[i];
	return NULL;
}

static const struct cvmbus_vm_channel *find_channel(const struct cvmbus_vm_report *r,
						    uint32_t relid)
{
	for (size_t i = 0; i < r->channel_count; i++)
		if (r->channels[i].relid == relid)
			return &r->channels[i];
	return NULL;
}

static void test_service_confidential(void **state)
{
	struct cvmbus_vm_disk_service_config c;
	struct cvmbus_vm_disk_service_stats st;
	struct cvmbus_vm_disk_service *svc;
	const struct cvmbus_vm_report *r;
	const struct cvmbus_vm_channel *ch;
	uint8_t secret[32];
	uint64_t view = 99, fd = 99;
	char img[96];

	(void)state;
	image_path(img, sizeof(img), "conf.img");
	unlink(img);
	service_config(&c, img, CVMBUS_VM_DISK_PATH_CONFIDENTIAL);
	svc = start(&c);
	exercise_data(svc, img);
	write_secret(svc, secret);

	/* Nothing the host can read holds it: not the host view of the
	 * visible pages, not the shared memfd. */
	assert_int_equal(cvmbus_vm_disk_service_scan(svc, secret, 32, &view, &fd), 0);
	assert_int_equal(view, 0);
	assert_int_equal(fd, 0);
	assert_int_equal(cvmbus_vm_disk_service_snapshot(svc), 0);
	r = cvmbus_vm_disk_service_report(svc);
	assert_null(find_reason(r, "bounce"));

	cvmbus_vm_disk_service_get_stats(svc, &st);
	assert_int_equal(st.state, CVMBUS_VM_DISK_SERVICE_READY);
	assert_true(st.guest.confidential_external);
	assert_true(st.guest.confidential_ring);
	assert_int_equal(st.guest.offer_flags, 0x0006);
	assert_int_equal(st.guest.bounce_pages, 0);
	assert_int_equal(st.bounce.pages, 0);
	/* Every byte went as the guest's own pages. */
	assert_true(st.vsc.direct_bytes >= st.bytes_read + st.bytes_written);
	assert_int_equal(st.disk.vsp.gpa_faults, 0);
	assert_int_equal(st.disk.opens, 1);
	assert_true(st.disk.open);
	assert_true(st.rmw >= 4);
	assert_int_equal(st.failed, 0); /* out-of-range ones are refused before queueing */
	assert_true(st.max_in_flight > 1); /* the 1 MiB request had several chunks out */
	ch = find_channel(r, st.guest.relid);
	assert_non_null(ch);
	assert_int_equal(ch->owner, CVMBUS_MEM_PARTY_PARAVISOR);
	assert_int_equal(ch->ring_pages_visible, 0);

	cvmbus_vm_disk_service_stop(svc);
	cvmbus_vm_disk_service_get_stats(svc, &st);
	assert_int_equal(st.state, CVMBUS_VM_DISK_SERVICE_STOPPED);
	assert_int_equal(st.error, 0);
	assert_int_equal(st.disk.closes, 1);
	assert_false(st.disk.open);
	assert_true(st.vsc.direct_bytes > 0); /* final stats survive the close */
	assert_int_equal(cvmbus_vm_disk_service_report(svc)->status, 0);
	/* Stopped: requests are refused, not hung. */
	assert_int_equal(cvmbus_vm_disk_service_pread(svc, secret, 32, 0), -ESHUTDOWN);
	cvmbus_vm_disk_service_destroy(svc);
	unlink(img);
}

static void host_path(bool paravisor)
{
	struct cvmbus_vm_disk_service_config c;
	struct cvmbus_vm_disk_service_stats st;
	struct cvmbus_vm_disk_service *svc;
	const struct cvmbus_vm_report *r;
	const struct cvmbus_vm_reason *bounce;
	const struct cvmbus_vm_channel *ch;
	uint8_t secret[32];
	uint64_t view = 0, fd = 0;
	char img[96];

	image_path(img, sizeof(img), paravisor ? "host.img" : "host-nopv.img");
	unlink(img);
	service_config(&c, img, CVMBUS_VM_DISK_PATH_HOST);
	if (!paravisor) {
		c.vm.paravisor = false;
		c.vm.confidential_vmbus = false;
	}
	c.guest.bounce_pages = 96; /* 384 KiB: fewer than the 8 x 64 KiB in flight */
	svc = start(&c);
	exercise_data(svc, img);
	write_secret(svc, secret);

	/* The last data through the pool is still in it: the host reads it
	 * in the bounce pages (host view) and in the shared memfd. */
	assert_int_equal(cvmbus_vm_disk_service_scan(svc, secret, 32, &view, &fd), 0);
	assert_true(view >= 1);
	assert_true(fd >= 1);
	assert_int_equal(cvmbus_vm_disk_service_snapshot(svc), 0);
	r = cvmbus_vm_disk_service_report(svc);
	bounce = find_reason(r, "bounce");
	assert_non_null(bounce);
	assert_int_equal(bounce->pages_now, 96); /* exactly the pool */
	assert_true(bounce->allowed);

	cvmbus_vm_disk_service_get_stats(svc, &st);
	assert_false(st.guest.confidential_external);
	assert_false(st.guest.confidential_ring);
	assert_int_equal(st.guest.offer_flags, 0);
	assert_int_equal(st.guest.bounce_pages, 96);
	assert_int_equal(st.bounce.pages, 96);
	assert_int_equal(st.vsc.direct_bytes, 0);
	/* Every byte crossed the pool (reads also carry the RMW heads). */
	assert_true(st.bounce.bytes_to_device >= st.bytes_written);
	assert_true(st.bounce.bytes_from_device >= st.bytes_read);
	assert_true(st.bounce.pages_peak <= 96);
	ch = find_channel(r, st.guest.relid);
	assert_non_null(ch);
	assert_int_equal(ch->owner, CVMBUS_MEM_PARTY_HOST);
	assert_int_equal(ch->ring_pages_visible, ch->ring_pages);
	cvmbus_vm_disk_service_destroy(svc);
	unlink(img);
}

static void test_service_host(void **state)
{
	(void)state;
	host_path(true); /* relayed by the paravisor */
}

static void test_service_host_no_paravisor(void **state)
{
	(void)state;
	host_path(false);
}

/* Several foreign threads writing unaligned pieces that share sectors: the
 * read-modify-writes must not lose each other's bytes. */
struct rmw_arg {
	struct cvmbus_vm_disk_service *svc;
	unsigned int id;
	int rc;
};

static void *rmw_thread(void *p)
{
	struct rmw_arg *a = p;

	for (unsigned int k = 0; k < 64 && !a->rc; k++) {
		/* Thread id owns bytes [k*64 + id*16, +16): four threads share
		 * every 64 bytes, so every sector is shared. */
		uint8_t b[16];

		memset(b, (int)(0x10 * (a->id + 1) + (k & 0xf)), sizeof(b));
		a->rc = cvmbus_vm_disk_service_pwrite(a->svc, b, sizeof(b),
						      65536 + (uint64_t)k * 64 + a->id * 16);
	}
	return NULL;
}

static void test_service_rmw_concurrent(void **state)
{
	struct cvmbus_vm_disk_service_config c;
	struct cvmbus_vm_disk_service *svc;
	struct rmw_arg args[4];
	pthread_t t[4];
	uint8_t back[64 * 64];
	char img[96];

	(void)state;
	image_path(img, sizeof(img), "rmw.img");
	unlink(img);
	service_config(&c, img, CVMBUS_VM_DISK_PATH_CONFIDENTIAL);
	svc = start(&c);
	for (unsigned int i = 0; i < 4; i++) {
		args[i] = (struct rmw_arg){ .svc = svc, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, rmw_thread, &args[i]), 0);
	}
	for (unsigned int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(args[i].rc, 0);
	}
	assert_int_equal(cvmbus_vm_disk_service_pread(svc, back, sizeof(back), 65536), 0);
	for (unsigned int k = 0; k < 64; k++)
		for (unsigned int id = 0; id < 4; id++)
			for (unsigned int j = 0; j < 16; j++)
				assert_int_equal(back[k * 64 + id * 16 + j],
						 (uint8_t)(0x10 * (id + 1) + (k & 0xf)));
	cvmbus_vm_disk_service_destroy(svc);
	unlink(img);
}

static void test_service_read_only(void **state)
{
	struct cvmbus_vm_disk_service_config c;
	struct cvmbus_vm_disk_service *svc;
	uint8_t b[512];
	char img[96];
	int fd;

	(void)state;
	image_path(img, sizeof(img), "ro.img");
	fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	memset(b, 0xa5, sizeof(b));
	for (int i = 0; i < 8; i++)
		assert_int_equal(write(fd, b, sizeof(b)), 512);
	close(fd);
	service_config(&c, img, CVMBUS_VM_DISK_PATH_HOST);
	c.disk.create_bytes = 0;
	c.disk.read_only = true;
	svc = start(&c);
	assert_true(cvmbus_vm_disk_service_read_only(svc));
	assert_int_equal(cvmbus_vm_disk_service_size(svc), 4096);
	memset(b, 0, sizeof(b));
	assert_int_equal(cvmbus_vm_disk_service_pread(svc, b, 512, 1024), 0);
	assert_int_equal(b[0], 0xa5);
	assert_int_equal(b[511], 0xa5);
	assert_int_equal(cvmbus_vm_disk_service_pwrite(svc, b, 512, 0), -EROFS);
	assert_int_equal(cvmbus_vm_disk_service_trim(svc, 512, 0), -EROFS);
	cvmbus_vm_disk_service_destroy(svc);
	unlink(img);
}

/* ---- faults -------------------------------------------------------------------------- */

struct fault_arg {
	struct cvmbus_vm_disk_service *svc;
	unsigned int id;
	int rc;
	unsigned int ok;
};

static void *fault_thread(void *p)
{
	struct fault_arg *a = p;
	uint8_t *buf = malloc(65536);

	assert_non_null(buf);
	memset(buf, (int)a->id, 65536);
	/* Bounded: the VSP dies before the 6th chunk, so far fewer than 200
	 * writes can succeed before every thread sees the error. */
	for (unsigned int k = 0; k < 200; k++) {
		a->rc = cvmbus_vm_disk_service_pwrite(a->svc, buf, 65536,
						      ((uint64_t)a->id * 32 + k % 32) * 65536);
		if (a->rc)
			break;
		a->ok++;
	}
	free(buf);
	return NULL;
}

static void test_service_fault(void **state)
{
	struct cvmbus_vm_disk_service_config c;
	struct cvmbus_vm_disk_service_stats st;
	struct cvmbus_vm_disk_service *svc;
	struct fault_arg args[4];
	pthread_t t[4];
	uint8_t b[4096];
	char img[96];

	(void)state;
	image_path(img, sizeof(img), "fault.img");
	unlink(img);
	service_config(&c, img, CVMBUS_VM_DISK_PATH_CONFIDENTIAL);
	c.workers = 4;
	c.depth = 1; /* 4 x 1 buffers: at most 4 chunks on the wire at the fault */
	c.fault_after = 6;
	c.guest.timeout_ns = 1 * SEC; /* how long a dead device takes to notice */
	svc = start(&c);
	for (unsigned int i = 0; i < 4; i++) {
		args[i] = (struct fault_arg){ .svc = svc, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, fault_thread, &args[i]), 0);
	}
	for (unsigned int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		/* Every writer ends on an I/O error, none hangs. */
		assert_int_equal(args[i].rc, -EIO);
	}
	cvmbus_vm_disk_service_get_stats(svc, &st);
	assert_int_equal(st.state, CVMBUS_VM_DISK_SERVICE_BROKEN);
	assert_int_equal(st.error, -ETIMEDOUT); /* what broke it: the dead device's silence */
	assert_int_equal(st.disk.vsp_stops, 1);
	assert_true(st.vsc.timeouts >= 1);
	/* The VSP stopped before the 6th chunk went out, and later chunks
	 * waited for the stop: only the first 5 can have succeeded (fewer if
	 * one of them was still on the wire). */
	assert_true(args[0].ok + args[1].ok + args[2].ok + args[3].ok <= 5);
	/* Later requests fail at once, reads and flushes alike. */
	assert_int_equal(cvmbus_vm_disk_service_pread(svc, b, sizeof(b), 0), -EIO);
	assert_int_equal(cvmbus_vm_disk_service_flush(svc), -EIO);
	/* Memory-only requests still work on a broken disk. */
	assert_int_equal(cvmbus_vm_disk_service_snapshot(svc), 0);
	cvmbus_vm_disk_service_stop(svc);
	cvmbus_vm_disk_service_get_stats(svc, &st);
	assert_int_equal(st.state, CVMBUS_VM_DISK_SERVICE_STOPPED);
	assert_int_equal(st.disk.closes, 1);
	cvmbus_vm_disk_service_destroy(svc);
	unlink(img);
}

/* ---- refusals -------------------------------------------------------------------------- */

static void test_service_refusals(void **state)
{
	struct cvmbus_vm_disk_service_config c;
	struct cvmbus_vm_disk_service *svc = NULL;
	char img[96], err[200];
	struct stat st;

	(void)state;
	image_path(img, sizeof(img), "refuse.img");
	unlink(img);

	service_config(&c, img, CVMBUS_VM_DISK_PATH_CONFIDENTIAL);
	c.vm.deterministic = true;
	assert_int_equal(cvmbus_vm_disk_service_start(&c, &svc, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "native"));
	assert_null(svc);

	service_config(&c, img, CVMBUS_VM_DISK_PATH_CONFIDENTIAL);
	c.vm.paravisor = false;
	c.vm.confidential_vmbus = false;
	assert_int_equal(cvmbus_vm_disk_service_start(&c, &svc, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "paravisor"));

	service_config(&c, img, CVMBUS_VM_DISK_PATH_CONFIDENTIAL);
	c.chunk_bytes = 5000;
	assert_int_equal(cvmbus_vm_disk_service_start(&c, &svc, err, sizeof(err)), -EINVAL);

	service_config(&c, img, CVMBUS_VM_DISK_PATH_HOST);
	c.disk.create_bytes = 0;
	assert_int_equal(cvmbus_vm_disk_service_start(&c, &svc, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "does not exist"));
	assert_int_equal(stat(img, &st), -1);

	/* A paravisor that does not offer Confidential VMBus: its disk offer
	 * reaches the guest without 0x4, and the confidential path refuses
	 * to bounce (it would show the data to the host). */
	service_config(&c, img, CVMBUS_VM_DISK_PATH_CONFIDENTIAL);
	c.vm.confidential_vmbus = false;
	assert_int_equal(cvmbus_vm_disk_service_start(&c, &svc, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "confidential external memory"));
	assert_null(svc);

	/* A 5.x guest: not confidential either. */
	service_config(&c, img, CVMBUS_VM_DISK_PATH_CONFIDENTIAL);
	c.vm.max_version = 0x00050003u;
	assert_int_equal(cvmbus_vm_disk_service_start(&c, &svc, err, sizeof(err)), -EPERM);
	unlink(img);
}

/* ---- the deterministic executor --------------------------------------------------------- */

struct det_ctx {
	int status;
	bool confidential;
};

static int det_workload(struct cvmbus_vm *vm, void *arg)
{
	struct det_ctx *ctx = arg;
	struct cvmbus_vm_disk_guest_config gc = { .timeout_ns = 5 * SEC };
	struct cvmbus_vm_disk_guest_info info;
	struct cvmbus_vm_disk_guest *g;
	struct cvmbus_mem *mem;
	uint8_t w[4096], r[4096];
	uint64_t gpa;
	int rc;

	rc = cvmbus_vm_disk_guest_open(vm, &gc, &g);
	if (rc)
		return rc;
	cvmbus_vm_disk_guest_get_info(g, &info);
	ctx->confidential = info.confidential_external;
	mem = cvmbus_vm_disk_guest_mem(g);
	rc = cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 1, &gpa);
	if (rc)
		goto out;
	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 7 + 3);
	rc = cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, gpa, w, sizeof(w));
	if (!rc)
		rc = cvmbus_storvsc_write(cvmbus_vm_disk_guest_vsc(g), 16, 8, gpa);
	if (!rc) {
		memset(r, 0, sizeof(r));
		rc = cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, gpa, r, sizeof(r));
	}
	if (!rc)
		rc = cvmbus_storvsc_read(cvmbus_vm_disk_guest_vsc(g), 16, 8, gpa);
	if (!rc)
		rc = cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, gpa, r, sizeof(r));
	if (!rc && memcmp(r, w, sizeof(w)))
		rc = -EILSEQ;
	if (!rc)
		rc = cvmbus_storvsc_flush(cvmbus_vm_disk_guest_vsc(g));
	(void)cvmbus_mem_free(mem, gpa, 1);
out:
	cvmbus_vm_disk_guest_close(g);
	ctx->status = rc;
	return rc;
}

static void det_run(enum cvmbus_vm_disk_path path, uint64_t seed)
{
	struct cvmbus_vm_config vc;
	struct cvmbus_vm_disk_config dc;
	struct cvmbus_vm_disk *d;
	struct cvmbus_vm *vm;
	struct det_ctx ctx = { .status = -1 };
	char img[96], err[160];
	uint8_t b[4096];
	int rc;

	image_path(img, sizeof(img), "det.img");
	unlink(img);
	cvmbus_vm_config_default(&vc);
	vc.deterministic = true;
	vc.seed = seed;
	assert_int_equal(cvmbus_vm_create(&vc, &vm, err, sizeof(err)), 0);
	memset(&dc, 0, sizeof(dc));
	dc.exec = cvmbus_vm_exec(vm);
	dc.image = img;
	dc.create_bytes = MIB;
	dc.path = path;
	assert_int_equal(cvmbus_vm_disk_create(&dc, &d), 0);
	assert_int_equal(cvmbus_vm_disk_attach(vm, d), 0);
	rc = cvmbus_vm_run(vm, det_workload, &ctx);
	if (rc)
		print_error("det run (seed %llu): %d %s\n", (unsigned long long)seed, rc,
			    cvmbus_vm_report(vm)->error);
	assert_int_equal(rc, 0);
	assert_int_equal(ctx.status, 0);
	assert_int_equal(ctx.confidential, path == CVMBUS_VM_DISK_PATH_CONFIDENTIAL);
	cvmbus_vm_disk_destroy(d);
	cvmbus_vm_destroy(vm);
	file_read(img, 16 * 512, b, sizeof(b));
	for (size_t i = 0; i < sizeof(b); i++)
		assert_int_equal(b[i], (uint8_t)(i * 7 + 3));
	unlink(img);
}

static void test_guest_det(void **state)
{
	(void)state;
	det_run(CVMBUS_VM_DISK_PATH_CONFIDENTIAL, 1);
	det_run(CVMBUS_VM_DISK_PATH_HOST, 2);
}

/* A paravisor disk on a VM without a paravisor: refused at attach. */
static void test_attach_refused(void **state)
{
	struct cvmbus_vm_config vc;
	struct cvmbus_vm_disk_config dc;
	struct cvmbus_vm_disk *d;
	struct cvmbus_vm *vm;
	char img[96], err[160];

	(void)state;
	image_path(img, sizeof(img), "attach.img");
	cvmbus_vm_config_default(&vc);
	vc.paravisor = false;
	vc.confidential_vmbus = false;
	assert_int_equal(cvmbus_vm_create(&vc, &vm, err, sizeof(err)), 0);
	memset(&dc, 0, sizeof(dc));
	dc.exec = cvmbus_vm_exec(vm);
	dc.image = img;
	dc.create_bytes = MIB;
	dc.path = CVMBUS_VM_DISK_PATH_CONFIDENTIAL;
	assert_int_equal(cvmbus_vm_disk_create(&dc, &d), 0);
	assert_int_equal(cvmbus_vm_disk_attach(vm, d), -EINVAL);
	cvmbus_vm_disk_destroy(d);
	cvmbus_vm_destroy(vm);
	unlink(img);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cvmbus-disk-test-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	/* Progress lines of every boot would drown the test's output. */
	cvmbus_log_set_level(CVMBUS_LOG_WARN);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	return rmdir(tmpdir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_names),
		cmocka_unit_test(test_offer_params),
		cmocka_unit_test(test_image_create),
		cmocka_unit_test(test_attach_refused),
		cmocka_unit_test(test_service_confidential),
		cmocka_unit_test(test_service_host),
		cmocka_unit_test(test_service_host_no_paravisor),
		cmocka_unit_test(test_service_rmw_concurrent),
		cmocka_unit_test(test_service_read_only),
		cmocka_unit_test(test_service_fault),
		cmocka_unit_test(test_service_refusals),
		cmocka_unit_test(test_guest_det),
	};

	return cmocka_run_group_tests_name("vm disk", tests, group_setup, group_teardown);
}
