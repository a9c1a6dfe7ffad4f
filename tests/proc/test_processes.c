/* SPDX-License-Identifier: MIT */
/*
 * The host in its own process, checked by the operating system rather than
 * by our own bookkeeping (issue: real isolation; docs/PROCESSES.md).
 *
 *   test_host_holds_no_private  /proc/PID/maps and /proc/PID/fd of the
 *                               running cvmbus-host: no mapping and no fd is
 *                               the private memfd (compared by inode), and
 *                               the shared memfd is there (so the check
 *                               looks at the right things); its seccomp
 *                               filter is on (unsanitized builds).
 *   test_canary_scan            a random 32-byte secret through the
 *                               confidential channel and another through the
 *                               relayed one, then every readable mapping of
 *                               the host process read through /proc/PID/mem:
 *                               zero copies of the first, at least one of the
 *                               second (the scan works).
 *   test_host_crash             SIGKILL the host while a thread keeps host-
 *                               path echoes in flight: that thread's request
 *                               ends with -ESHUTDOWN (the relay rescinded the
 *                               host's channels) inside its 5 s timeout, the
 *                               confidential channel goes on echoing; a
 *                               restarted host's channel comes back as a new
 *                               offer that the guest opens and uses; the run
 *                               ends cleanly.
 *   test_disk_crash_reopen      the same with disks: a host-path disk (its
 *                               storvsp in cvmbus-host) and a confidential
 *                               one (the paravisor's). SIGKILL while a thread
 *                               keeps host-disk writes in flight: that write
 *                               fails inside its 5 s timeout; the
 *                               confidential disk writes and reads on; the
 *                               restarted host re-offers the disk, the guest
 *                               reopens it, and reads back what it wrote
 *                               before the crash.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cvmbus/echo.h>
#include <cvmbus/guest.h>
#include <cvmbus/log.h>
#include <cvmbus/storage.h>
#include <cvmbus/vm.h>
#include <cvmbus/vm_disk.h>

#define SEC          1000000000ull
#define HOST_ECHO    0x0057e001u /* src/vm/vm_internal.h: the host's echo */
#define PARA_ECHO    0x0057e002u /* the paravisor's */
#define SECRET_BYTES 32u

static void vm_config(struct cvmbus_vm_config *cfg)
{
	cvmbus_vm_config_default(cfg); /* SNP, paravisor, Confidential VMBus */
	cfg->processes = true;
}

/* One run of that VM with a workload; the run's status. */
static int run_vm(cvmbus_vm_workload_fn fn, void *arg)
{
	struct cvmbus_vm_config cfg;
	struct cvmbus_vm *vm;
	int rc;

	vm_config(&cfg);
	assert_int_equal(cvmbus_vm_create(&cfg, &vm, NULL, 0), 0);
	rc = cvmbus_vm_run(vm, fn, arg);
	cvmbus_vm_destroy(vm);
	return rc;
}

/* Open the echo channel whose instance starts with `inst`. */
static struct cvmbus_channel *open_echo(struct cvmbus_guest *g, uint32_t inst, uint32_t *relid)
{
	struct cvmbus_guest_offer offers[16];
	struct cvmbus_guest_open_params op = {
		.send_bytes = 4 * 4096,
		.recv_bytes = 4 * 4096,
	};
	struct cvmbus_channel *ch = NULL;
	size_t n = 0;

	if (cvmbus_guest_offers(g, offers, 16, &n))
		return NULL;
	for (size_t i = 0; i < n && i < 16; i++) {
		if (offers[i].if_instance.data1 != inst || offers[i].rescinded)
			continue;
		if (cvmbus_guest_open(g, offers[i].relid, &op, &ch))
			return NULL;
		*relid = offers[i].relid;
		return ch;
	}
	return NULL;
}

static int echo_bytes(struct cvmbus_channel *ch, const uint8_t *msg, size_t len,
		      uint64_t timeout_ns)
{
	struct cvmbus_echo_vsc v;
	uint8_t reply[256];
	size_t rlen = 0;
	int rc;

	cvmbus_echo_vsc_init(&v, ch);
	rc = cvmbus_echo_call(&v, msg, len, reply, sizeof(reply), &rlen, timeout_ns);
	if (!rc && (rlen < len || memcmp(reply, msg, len)))
		rc = -EPROTO;
	explicit_bzero(reply, sizeof(reply));
	return rc;
}

/* The inode of our own memfd named `name` ("cvmbus-private"), 0 if none. */
static ino_t own_memfd_inode(const char *name)
{
	char want[64], path[320], link[256];
	struct dirent *de;
	ino_t ino = 0;
	DIR *d = opendir("/proc/self/fd");

	snprintf(want, sizeof(want), "/memfd:%s", name);
	while (d && (de = readdir(d))) {
		struct stat st;
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strncmp(link, want, strlen(want)) && stat(path, &st) == 0) {
			ino = st.st_ino;
			break;
		}
	}
	if (d)
		closedir(d);
	return ino;
}

/* ---- test_host_holds_no_private -------------------------------------------------- */

struct maps_result {
	int status;
	int seccomp; /* /proc/PID/status "Seccomp:" (2: filter) */
	ino_t private_ino;
	unsigned int maps_private, maps_shared, fds_private, fds_shared, fds_total;
};

static int maps_workload(struct cvmbus_vm *vm, void *arg)
{
	struct maps_result *r = arg;
	pid_t pid = cvmbus_vm_host_pid(vm);
	char path[64], line[512], link[256];
	struct dirent *de;
	uint32_t relid;
	FILE *f;
	DIR *d;

	/* A host-path channel open, so the host has rings mapped right now. */
	if (pid <= 0 || !open_echo(cvmbus_vm_guest(vm), HOST_ECHO, &relid))
		return r->status = -ENOENT;
	r->private_ino = own_memfd_inode("cvmbus-private");
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	r->seccomp = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Seccomp: %d", &r->seccomp) == 1)
			break;
	if (f)
		fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return r->status = -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long ino = 0;
		char dev[32];

		/* start-end perms offset dev inode path */
		if (sscanf(line, "%*s %*s %*s %31s %llu", dev, &ino) != 2)
			continue;
		if (strstr(line, "cvmbus-private") || (r->private_ino && ino == r->private_ino))
			r->maps_private++;
		if (strstr(line, "memfd:cvmbus-shared"))
			r->maps_shared++;
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return r->status = -errno;
	while ((de = readdir(d))) {
		char fdpath[400];
		struct stat st;
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		r->fds_total++;
		if (strstr(link, "cvmbus-private") ||
		    (stat(fdpath, &st) == 0 && r->private_ino && st.st_ino == r->private_ino))
			r->fds_private++;
		if (strstr(link, "memfd:cvmbus-shared"))
			r->fds_shared++;
	}
	closedir(d);
	r->status = cvmbus_guest_close(cvmbus_vm_guest(vm), relid);
	return r->status;
}

static void test_host_holds_no_private(void **state)
{
	struct maps_result r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(run_vm(maps_workload, &r), 0);
	assert_int_equal(r.status, 0);
	print_message("host process: %u fds (%u shared memfd, %u private), %u shared-memfd "
		      "mappings, %u private\n", r.fds_total, r.fds_shared, r.fds_private,
		      r.maps_shared, r.maps_private);
	/* The partition has its private memfd (what we compare against)... */
	assert_true(r.private_ino != 0);
	/* ...the host has none of it, in no mapping and no fd... */
	assert_int_equal(r.maps_private, 0);
	assert_int_equal(r.fds_private, 0);
	/* ...and does have the shared memfd: one fd (its view's dup) and the
	 * pages mapped now (rings, SynIC pages), so the check saw memfds. */
	assert_int_equal(r.fds_shared, 1);
	assert_true(r.maps_shared >= 1);
	/* stdin/out/err, the control socket, the link, the view's memfd, the
	 * epoll and its wake eventfd, one doorbell per event port: nothing
	 * that grows with the partition. */
	assert_true(r.fds_total < 32);
	/* And it runs under its system-call filter (mode 2) when this build
	 * installs one. */
	print_message("host process: seccomp mode %d\n", r.seccomp);
	assert_int_equal(r.seccomp, cvmbus_vm_host_seccomp() ? 2 : 0);
}

/* ---- test_canary_scan -------------------------------------------------------------- */

struct canary_result {
	int status;
	uint64_t hits_confidential, hits_relayed;
	uint64_t regions, bytes, skipped;
};

/* Count copies of needle in every readable mapping of pid. */
static int scan_process(pid_t pid, const uint8_t *needle, size_t len, uint64_t *hits,
			uint64_t *regions, uint64_t *bytes, uint64_t *skipped)
{
	char path[64], line[512];
	uint8_t *buf = malloc(1u << 20);
	FILE *maps;
	int mem;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	mem = open(path, O_RDONLY);
	if (!buf || !maps || mem < 0) {
		int rc = -errno;

		free(buf);
		if (maps)
			fclose(maps);
		if (mem >= 0)
			close(mem);
		return rc ? rc : -ENOMEM;
	}
	*hits = 0;
	while (fgets(line, sizeof(line), maps)) {
		unsigned long long start, end;
		char perms[8];

		if (sscanf(line, "%llx-%llx %7s", &start, &end, perms) != 3 || perms[0] != 'r')
			continue;
		/* A sanitizer's shadow is a reservation of terabytes, not
		 * memory: reading it would take hours and find zeros. Nothing
		 * else a process has comes near 64 GiB. */
		if (end - start > (64ull << 30)) {
			(*skipped)++;
			continue;
		}
		(*regions)++;
		/* Chunks overlap by len-1 bytes so no copy straddles unseen. */
		for (unsigned long long off = start; off < end;) {
			size_t want = end - off < (1u << 20) ? (size_t)(end - off) : (1u << 20);
			ssize_t n = pread(mem, buf, want, (off_t)off);

			if (n <= 0)
				break; /* [vvar] and friends cannot be read */
			*bytes += (uint64_t)n;
			for (ssize_t i = 0; i + (ssize_t)len <= n; i++)
				if (buf[i] == needle[0] && !memcmp(buf + i, needle, len))
					(*hits)++;
			if ((size_t)n < want || off + (unsigned long long)n >= end)
				break;
			off += (unsigned long long)n - (len - 1);
		}
	}
	fclose(maps);
	close(mem);
	free(buf);
	return 0;
}

static int canary_workload(struct cvmbus_vm *vm, void *arg)
{
	struct canary_result *r = arg;
	struct cvmbus_guest *g = cvmbus_vm_guest(vm);
	uint8_t secret_conf[SECRET_BYTES], secret_relayed[SECRET_BYTES];
	struct cvmbus_channel *conf, *relayed;
	uint32_t conf_relid = 0, relayed_relid = 0;
	uint64_t scratch = 0;
	pid_t pid = cvmbus_vm_host_pid(vm);

	conf = open_echo(g, PARA_ECHO, &conf_relid);
	relayed = open_echo(g, HOST_ECHO, &relayed_relid);
	if (pid <= 0 || !conf || !relayed)
		return r->status = -ENOENT;
	if (getrandom(secret_conf, sizeof(secret_conf), 0) != (ssize_t)sizeof(secret_conf) ||
	    getrandom(secret_relayed, sizeof(secret_relayed), 0) != (ssize_t)sizeof(secret_relayed))
		return r->status = -EIO;
	/* Through each channel's data, and back: the bytes were in its ring
	 * both ways and in its device's buffers. */
	r->status = echo_bytes(conf, secret_conf, sizeof(secret_conf), 5 * SEC);
	if (!r->status)
		r->status = echo_bytes(relayed, secret_relayed, sizeof(secret_relayed), 5 * SEC);
	/* While both channels are open, the whole host process. */
	if (!r->status)
		r->status = scan_process(pid, secret_conf, sizeof(secret_conf), &r->hits_confidential,
					 &r->regions, &r->bytes, &r->skipped);
	if (!r->status)
		r->status = scan_process(pid, secret_relayed, sizeof(secret_relayed),
					 &r->hits_relayed, &scratch, &scratch, &scratch);
	explicit_bzero(secret_conf, sizeof(secret_conf));
	explicit_bzero(secret_relayed, sizeof(secret_relayed));
	if (!r->status)
		r->status = cvmbus_guest_close(g, conf_relid);
	if (!r->status)
		r->status = cvmbus_guest_close(g, relayed_relid);
	return r->status;
}

static void test_canary_scan(void **state)
{
	struct canary_result r;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(run_vm(canary_workload, &r), 0);
	assert_int_equal(r.status, 0);
	print_message("host process: %llu readable regions, %llu bytes read, %llu reservations "
		      "over 64 GiB skipped; secret copies: confidential %llu, relayed %llu\n",
		      (unsigned long long)r.regions, (unsigned long long)r.bytes,
		      (unsigned long long)r.skipped, (unsigned long long)r.hits_confidential,
		      (unsigned long long)r.hits_relayed);
	/* The scan read the host process (its heap, stacks, the shared
	 * window's mapped pages)... */
	assert_true(r.regions > 10);
	assert_true(r.bytes > (1u << 20));
	/* ...found the relayed channel's secret (ring, device buffers)... */
	assert_true(r.hits_relayed >= 1);
	/* ...and not one copy of the confidential channel's. */
	assert_int_equal(r.hits_confidential, 0);
}

/* ---- test_host_crash ------------------------------------------------------------------ */

struct crash_loop {
	struct cvmbus_channel *ch;
	_Atomic unsigned int done_calls;
	_Atomic int last_rc;
};

static int host_loop(void *arg)
{
	struct crash_loop *l = arg;
	uint8_t msg[64];

	for (unsigned int i = 0;; i++) {
		int rc;

		memset(msg, (int)(i & 0xff), sizeof(msg));
		/* 5 s: a request may not outlive the host by more than that. */
		rc = echo_bytes(l->ch, msg, sizeof(msg), 5 * SEC);
		if (rc) {
			atomic_store(&l->last_rc, rc);
			return 0;
		}
		atomic_fetch_add(&l->done_calls, 1);
	}
}

struct crash_result {
	int status;
	int host_rc;
	unsigned int host_calls_before;
	unsigned int conf_after;
	bool lost;
	bool host_offer_rescinded;
	int restart_rc;
	uint32_t old_relid, new_relid;
	int new_echo_rc;
};

static int crash_workload(struct cvmbus_vm *vm, void *arg)
{
	struct crash_result *r = arg;
	struct cvmbus_guest *g = cvmbus_vm_guest(vm);
	struct cvmbus_guest_offer offers[16];
	struct crash_loop loop = { 0 };
	struct cvmbus_thread *t = NULL;
	struct cvmbus_channel *conf;
	uint32_t conf_relid = 0, host_relid = 0;
	pid_t pid = cvmbus_vm_host_pid(vm);
	size_t n = 0;

	conf = open_echo(g, PARA_ECHO, &conf_relid);
	loop.ch = open_echo(g, HOST_ECHO, &host_relid);
	if (pid <= 0 || !conf || !loop.ch)
		return r->status = -ENOENT;
	r->status = cvmbus_thread_spawn(cvmbus_vm_exec(vm), &t, "host-io", host_loop, &loop);
	if (r->status)
		return r->status;
	/* Mid-I/O: the loop has done some round trips and is in the next. */
	while (atomic_load(&loop.done_calls) < 50 && !atomic_load(&loop.last_rc))
		cvmbus_exec_sleep_ns(cvmbus_vm_exec(vm), 1000000ull);
	r->host_calls_before = atomic_load(&loop.done_calls);
	kill(pid, SIGKILL);
	cvmbus_thread_join(t, NULL);
	r->host_rc = atomic_load(&loop.last_rc);
	/* The paravisor's own channel does not care. */
	for (unsigned int i = 0; i < 200; i++) {
		uint8_t msg[48];

		memset(msg, (int)(0xa0 + i % 16), sizeof(msg));
		if (echo_bytes(conf, msg, sizeof(msg), 5 * SEC))
			break;
		r->conf_after++;
	}
	r->lost = cvmbus_vm_host_lost(vm);
	if (!cvmbus_guest_offers(g, offers, 16, &n))
		for (size_t i = 0; i < n && i < 16; i++)
			if (offers[i].relid == host_relid)
				r->host_offer_rescinded = offers[i].rescinded;
	/* The rescinded channel: closing it is the guest's own business now. */
	(void)cvmbus_guest_close(g, host_relid);

	/* A new host: the relay contacts it, the guest gets its channel as a
	 * new offer and opens it. */
	r->restart_rc = cvmbus_vm_host_restart(vm);
	r->old_relid = host_relid;
	if (!r->restart_rc) {
		struct cvmbus_channel *again = NULL;
		uint8_t msg[40];

		/* The relay has re-offered; the offer reaches the guest on its
		 * own message path, a moment later. */
		for (unsigned int i = 0; i < 5000 && !again; i++) {
			again = open_echo(g, HOST_ECHO, &r->new_relid);
			if (!again)
				cvmbus_exec_sleep_ns(cvmbus_vm_exec(vm), 1000000ull);
		}

		memset(msg, 0x5c, sizeof(msg));
		r->new_echo_rc = again ? echo_bytes(again, msg, sizeof(msg), 5 * SEC) : -ENOENT;
		if (again)
			(void)cvmbus_guest_close(g, r->new_relid);
	}
	r->status = cvmbus_guest_close(g, conf_relid);
	return r->status;
}

static void test_host_crash(void **state)
{
	struct crash_result r;
	int rc;

	(void)state;
	memset(&r, 0, sizeof(r));
	rc = run_vm(crash_workload, &r);
	assert_int_equal(r.status, 0);
	print_message("host killed after %u host-path echoes; in-flight request: %d; "
		      "confidential echoes after: %u\n", r.host_calls_before, r.host_rc,
		      r.conf_after);
	assert_true(r.host_calls_before >= 50);
	/* The outstanding request failed because the channel went away, not
	 * because its 5 s ran out. */
	assert_int_equal(r.host_rc, -ESHUTDOWN);
	assert_true(r.lost);
	assert_true(r.host_offer_rescinded);
	assert_int_equal(r.conf_after, 200);
	/* Restarted: a new offer that works (its relid may be the old one
	 * again: the old was released, and relids are reused as Linux does). */
	assert_int_equal(r.restart_rc, 0);
	assert_true(r.new_relid != 0);
	assert_int_equal(r.new_echo_rc, 0);
	/* And the run ends cleanly with the new host. */
	assert_int_equal(rc, 0);
}

/* ---- test_disk_crash_reopen ------------------------------------------------------------ */

#define HOST_DISK 0x00d15c11u
#define CONF_DISK 0x00d15c22u
#define DISK_MIB  4u

struct disk_loop {
	struct cvmbus_storvsc *vsc;
	uint64_t gpa; /* one 4 KiB guest buffer */
	_Atomic unsigned int done_calls;
	_Atomic int last_rc;
};

static int disk_loop_main(void *arg)
{
	struct disk_loop *l = arg;

	for (unsigned int i = 0;; i++) {
		/* 8 sectors somewhere past the first 64 KiB, which hold the
		 * pattern the reopen reads back. */
		int rc = cvmbus_storvsc_write(l->vsc, 128 + (i % 512) * 8, 8, l->gpa);

		if (rc) {
			atomic_store(&l->last_rc, rc);
			return 0;
		}
		atomic_fetch_add(&l->done_calls, 1);
	}
}

/* Write 4 KiB of pattern `seed` at lba through g, read it back, compare. */
static int disk_roundtrip(struct cvmbus_vm_disk_guest *g, uint64_t gpa, uint64_t lba,
			  unsigned int seed)
{
	struct cvmbus_mem *mem = cvmbus_vm_disk_guest_mem(g);
	uint8_t w[4096], r[4096];
	int rc;

	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 13u + seed * 7u + 1u);
	rc = cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, gpa, w, sizeof(w));
	if (!rc)
		rc = cvmbus_storvsc_write(cvmbus_vm_disk_guest_vsc(g), lba, 8, gpa);
	memset(r, 0, sizeof(r));
	if (!rc)
		rc = cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, gpa, r, sizeof(r));
	if (!rc)
		rc = cvmbus_storvsc_read(cvmbus_vm_disk_guest_vsc(g), lba, 8, gpa);
	if (!rc)
		rc = cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, gpa, r, sizeof(r));
	return rc ? rc : memcmp(r, w, sizeof(w)) ? -EILSEQ : 0;
}

/* Read 4 KiB at lba and compare with pattern `seed`. */
static int disk_check(struct cvmbus_vm_disk_guest *g, uint64_t gpa, uint64_t lba,
		      unsigned int seed)
{
	struct cvmbus_mem *mem = cvmbus_vm_disk_guest_mem(g);
	uint8_t r[4096];
	int rc = cvmbus_storvsc_read(cvmbus_vm_disk_guest_vsc(g), lba, 8, gpa);

	if (!rc)
		rc = cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, gpa, r, sizeof(r));
	for (size_t i = 0; !rc && i < sizeof(r); i++)
		if (r[i] != (uint8_t)(i * 13u + seed * 7u + 1u))
			rc = -EILSEQ;
	return rc;
}

struct disk_crash_result {
	int status;
	int before_host, before_conf;
	unsigned int host_calls_before;
	int host_rc;
	unsigned int conf_after;
	int restart_rc, reopen_rc, readback_rc, again_rc;
	bool host_confidential, conf_confidential;
};

static int disk_crash_workload(struct cvmbus_vm *vm, void *arg)
{
	struct disk_crash_result *r = arg;
	struct cvmbus_vm_disk_guest_config hc = { .instance = HOST_DISK, .timeout_ns = 5 * SEC };
	struct cvmbus_vm_disk_guest_config cc = { .instance = CONF_DISK, .timeout_ns = 5 * SEC,
						  .require_confidential = true };
	struct cvmbus_vm_disk_guest_info info;
	struct cvmbus_vm_disk_guest *host = NULL, *conf = NULL;
	struct disk_loop loop = { 0 };
	struct cvmbus_thread *t = NULL;
	uint64_t hgpa = 0, cgpa = 0;
	pid_t pid = cvmbus_vm_host_pid(vm);

	r->status = cvmbus_vm_disk_guest_open(vm, &hc, &host);
	if (!r->status)
		r->status = cvmbus_vm_disk_guest_open(vm, &cc, &conf);
	if (r->status || pid <= 0)
		goto out;
	cvmbus_vm_disk_guest_get_info(host, &info);
	r->host_confidential = info.confidential_external;
	cvmbus_vm_disk_guest_get_info(conf, &info);
	r->conf_confidential = info.confidential_external;
	r->status = cvmbus_mem_alloc(cvmbus_vm_disk_guest_mem(host), CVMBUS_MEM_REGION_VTL0, 2,
				     &hgpa);
	if (!r->status)
		r->status = cvmbus_mem_alloc(cvmbus_vm_disk_guest_mem(conf), CVMBUS_MEM_REGION_VTL0, 1,
					     &cgpa);
	if (r->status)
		goto out;
	/* What the reopened disk must still hold. */
	r->before_host = disk_roundtrip(host, hgpa, 16, 1);
	r->before_conf = disk_roundtrip(conf, cgpa, 16, 2);

	loop.vsc = cvmbus_vm_disk_guest_vsc(host);
	loop.gpa = hgpa + 4096;
	r->status = cvmbus_thread_spawn(cvmbus_vm_exec(vm), &t, "host-disk-io", disk_loop_main,
					&loop);
	if (r->status)
		goto out;
	while (atomic_load(&loop.done_calls) < 50 && !atomic_load(&loop.last_rc))
		cvmbus_exec_sleep_ns(cvmbus_vm_exec(vm), 1000000ull);
	r->host_calls_before = atomic_load(&loop.done_calls);
	kill(pid, SIGKILL);
	cvmbus_thread_join(t, NULL);
	r->host_rc = atomic_load(&loop.last_rc);
	for (unsigned int i = 0; i < 50; i++) {
		if (disk_roundtrip(conf, cgpa, 64 + i * 8, 100 + i))
			break;
		r->conf_after++;
	}
	cvmbus_vm_disk_guest_close(host);
	host = NULL;

	/* A new host: the disk comes back as a new offer; reopen and read
	 * what was written before the crash. */
	r->restart_rc = cvmbus_vm_host_restart(vm);
	r->reopen_rc = -ENOENT;
	for (unsigned int i = 0; !r->restart_rc && i < 5000 && r->reopen_rc; i++) {
		r->reopen_rc = cvmbus_vm_disk_guest_open(vm, &hc, &host);
		if (r->reopen_rc)
			cvmbus_exec_sleep_ns(cvmbus_vm_exec(vm), 1000000ull);
	}
	if (!r->reopen_rc) {
		r->readback_rc = disk_check(host, hgpa, 16, 1);
		r->again_rc = disk_roundtrip(host, hgpa, 32, 3);
	}
out:
	cvmbus_vm_disk_guest_close(host);
	cvmbus_vm_disk_guest_close(conf);
	return r->status;
}

static void test_disk_crash_reopen(void **state)
{
	struct cvmbus_vm_disk_config dc;
	struct cvmbus_vm_disk *hd, *cd;
	struct cvmbus_vm_config cfg;
	struct disk_crash_result r;
	struct cvmbus_vm *vm;
	char himg[] = "/tmp/cvmbus-proc-host-XXXXXX", cimg[] = "/tmp/cvmbus-proc-conf-XXXXXX";
	int fd, rc;

	(void)state;
	memset(&r, 0, sizeof(r));
	/* Empty images of DISK_MIB: mkstemp makes the names, the disk the
	 * size (an existing file is never resized, so drop them first). */
	fd = mkstemp(himg);
	assert_true(fd >= 0);
	close(fd);
	unlink(himg);
	fd = mkstemp(cimg);
	assert_true(fd >= 0);
	close(fd);
	unlink(cimg);
	vm_config(&cfg);
	assert_int_equal(cvmbus_vm_create(&cfg, &vm, NULL, 0), 0);
	memset(&dc, 0, sizeof(dc));
	dc.exec = cvmbus_vm_exec(vm);
	dc.create_bytes = DISK_MIB << 20;
	dc.image = himg;
	dc.path = CVMBUS_VM_DISK_PATH_HOST;
	dc.instance = HOST_DISK;
	assert_int_equal(cvmbus_vm_disk_create(&dc, &hd), 0);
	assert_int_equal(cvmbus_vm_disk_attach(vm, hd), 0);
	dc.image = cimg;
	dc.path = CVMBUS_VM_DISK_PATH_CONFIDENTIAL;
	dc.instance = CONF_DISK;
	assert_int_equal(cvmbus_vm_disk_create(&dc, &cd), 0);
	assert_int_equal(cvmbus_vm_disk_attach(vm, cd), 0);
	rc = cvmbus_vm_run(vm, disk_crash_workload, &r);
	if (rc)
		print_message("run: %d %s\n", rc, cvmbus_vm_report(vm)->error);
	/* The disks live on the VM's executor: before it. */
	cvmbus_vm_disk_destroy(hd);
	cvmbus_vm_disk_destroy(cd);
	cvmbus_vm_destroy(vm);
	unlink(himg);
	unlink(cimg);
	print_message("host disk: killed after %u writes; in-flight write: %d; confidential "
		      "round trips after: %u; reopened: %d, read back: %d\n", r.host_calls_before,
		      r.host_rc, r.conf_after, r.reopen_rc, r.readback_rc);
	assert_int_equal(r.status, 0);
	assert_false(r.host_confidential); /* bounced through host-visible pages */
	assert_true(r.conf_confidential);  /* straight from private memory */
	assert_int_equal(r.before_host, 0);
	assert_int_equal(r.before_conf, 0);
	assert_true(r.host_calls_before >= 50);
	/* The write in flight failed (no data went silently missing)... */
	assert_true(r.host_rc < 0);
	assert_int_not_equal(r.host_rc, -ETIMEDOUT);
	/* ...the confidential disk did not notice... */
	assert_int_equal(r.conf_after, 50);
	/* ...and the disk came back with its data. */
	assert_int_equal(r.restart_rc, 0);
	assert_int_equal(r.reopen_rc, 0);
	assert_int_equal(r.readback_rc, 0);
	assert_int_equal(r.again_rc, 0);
	assert_int_equal(rc, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_holds_no_private),
		cmocka_unit_test(test_canary_scan),
		cmocka_unit_test(test_host_crash),
		cmocka_unit_test(test_disk_crash_reopen),
	};

	cvmbus_log_set_level(getenv("CVMBUS_TEST_VERBOSE") ? CVMBUS_LOG_DEBUG : CVMBUS_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
