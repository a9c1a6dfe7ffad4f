/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of partition memory (src/hw/memory*.c): that the host view
 * really has no mapping of private pages (checked against the kernel's own
 * view of our address space, not only our accessors), that the guest view
 * cannot reach VTL2, that transitions zero pages and move data between
 * guest and host, that aliases, batching and the exposure account come out
 * as the hand-computed values say, and that concurrent transitions of
 * disjoint pages do not disturb readers.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <cvmbus/memory.h>

#define PG 4096u

static struct cvmbus_mem *mk(enum hv_isolation_type iso, uint64_t vtl0_pages,
			     uint64_t vtl2_pages, unsigned int bits)
{
	struct cvmbus_mem_config cfg = {
		.isolation = iso,
		.vtl0_bytes = vtl0_pages * PG,
		.vtl2_bytes = vtl2_pages * PG,
		.shared_gpa_bits = bits,
	};
	struct cvmbus_mem *mem = NULL;

	assert_int_equal(cvmbus_mem_create(&cfg, &mem), 0);
	assert_non_null(mem);
	return mem;
}

static void fill(uint8_t *buf, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 7);
}

static bool all_zero(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

/* The kernel's record of the mapping that holds `addr`: its permission
 * string and its backing path ("" for anonymous). */
static bool maps_lookup(const void *addr, char perms[5], char *path, size_t path_len)
{
	uintptr_t a = (uintptr_t)addr;
	char line[512];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, off, inode;
		char p[5] = "", dev[16] = "";
		int used = 0;

		if (sscanf(line, "%lx-%lx %4s %lx %15s %lu %n", &lo, &hi, p, &off, dev, &inode,
			   &used) < 6)
			continue;
		if (a < lo || a >= hi)
			continue;
		memcpy(perms, p, 5);
		snprintf(path, path_len, "%s", used ? line + used : "");
		path[strcspn(path, "\n")] = '\0';
		found = true;
		break;
	}
	fclose(f);
	return found;
}

/* Can the kernel read these bytes on our behalf? Both probes fail with
 * EFAULT, instead of a SIGSEGV, when nothing readable is mapped there. */
static int probe_vm_readv(const void *addr)
{
	uint8_t buf[16];
	struct iovec local = {buf, sizeof(buf)};
	struct iovec remote = {(void *)addr, sizeof(buf)};

	if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) < 0)
		return -errno;
	return 0;
}

static int probe_pipe(const void *addr)
{
	int fds[2];
	int rc = 0;

	assert_int_equal(pipe(fds), 0);
	if (write(fds[1], addr, 16) < 0)
		rc = -errno;
	close(fds[0]);
	close(fds[1]);
	return rc;
}

static void assert_unbacked(const void *addr)
{
	char perms[5], path[256];

	assert_true(maps_lookup(addr, perms, path, sizeof(path)));
	assert_string_equal(perms, "---p");
	assert_string_equal(path, "");
	assert_int_equal(probe_vm_readv(addr), -EFAULT);
	assert_int_equal(probe_pipe(addr), -EFAULT);
}

/* ---- configuration ------------------------------------------------------ */

static void test_config_validation(void **state)
{
	struct cvmbus_mem_config cfg = {.isolation = HV_ISOLATION_TYPE_SNP, .vtl0_bytes = 16 * PG};
	struct cvmbus_mem *mem = NULL;
	(void)state;

	cfg.vtl0_bytes = 0;
	assert_int_equal(cvmbus_mem_create(&cfg, &mem), -EINVAL);
	cfg.vtl0_bytes = 16 * PG + 1;
	assert_int_equal(cvmbus_mem_create(&cfg, &mem), -EINVAL);
	cfg.vtl0_bytes = 16 * PG;
	cfg.vtl2_bytes = 100;
	assert_int_equal(cvmbus_mem_create(&cfg, &mem), -EINVAL);
	cfg.vtl2_bytes = 0;
	/* 64 KiB of partition does not fit below a 2^15 boundary. */
	cfg.shared_gpa_bits = 15;
	assert_int_equal(cvmbus_mem_create(&cfg, &mem), -EINVAL);
	cfg.shared_gpa_bits = 0;
	cfg.isolation = (enum hv_isolation_type)7;
	assert_int_equal(cvmbus_mem_create(&cfg, &mem), -EINVAL);
	assert_null(mem);

	/* Defaults: vTOM at bit 46, TDX shared bit 47. */
	cfg.isolation = HV_ISOLATION_TYPE_SNP;
	assert_int_equal(cvmbus_mem_create(&cfg, &mem), 0);
	assert_true(cvmbus_mem_shared_gpa_boundary(mem) == 0x400000000000ull);
	cvmbus_mem_destroy(mem);
	cfg.isolation = HV_ISOLATION_TYPE_TDX;
	assert_int_equal(cvmbus_mem_create(&cfg, &mem), 0);
	assert_true(cvmbus_mem_shared_gpa_boundary(mem) == 0x800000000000ull);
	cvmbus_mem_destroy(mem);
}

/* ---- the host cannot reach private pages ------------------------------- */

static void test_host_cannot_reach_private(void **state)
{
	struct cvmbus_mem *mem = mk(HV_ISOLATION_TYPE_SNP, 16, 0, 46);
	struct cvmbus_mem_host_view *hv = cvmbus_mem_host(mem);
	uint8_t secret[PG], buf[PG];
	struct cvmbus_mem_stats st;
	uint64_t faults, last;
	uint8_t *hbase = cvmbus_mem_host_view_base(hv);
	char perms[5], path[256];
	void *p;
	(void)state;

	fill(secret, sizeof(secret), 0x5a);
	assert_int_equal(cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, 3 * PG, secret, PG), 0);
	/* Page 5 shared so that the window holds both kinds of mapping. */
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, 5 * PG, 1, "ring"), 0);

	/* The accessor refuses, counts, and remembers the address. */
	assert_int_equal(cvmbus_mem_host_read(hv, 0x400000003000ull, buf, 16), -EFAULT);
	cvmbus_mem_host_view_faults(hv, &faults, &last);
	assert_int_equal(faults, 1);
	assert_true(last == 0x400000003000ull);
	/* The private alias (no shared bit) is refused too. */
	assert_int_equal(cvmbus_mem_host_read(hv, 0x3000, buf, 16), -EFAULT);
	assert_int_equal(cvmbus_mem_host_write(hv, 0x400000003000ull, buf, 16), -EFAULT);
	assert_int_equal(cvmbus_mem_host_ptr(hv, 0x400000003000ull, 1, &p), -EFAULT);
	/* A range that starts in the shared page and runs into private page 6. */
	assert_int_equal(cvmbus_mem_host_read(hv, 0x400000005ff0ull, buf, 32), -EFAULT);
	cvmbus_mem_get_stats(mem, &st);
	assert_int_equal(st.host_faults, 5);
	assert_true(st.host_last_fault == 0x400000005ff0ull);

	/* And the OS agrees: no backing at all where page 3 would be. */
	assert_unbacked(hbase + 3 * PG);
	/* The shared page is the shared memfd and nothing else. */
	assert_true(maps_lookup(hbase + 5 * PG, perms, path, sizeof(path)));
	assert_string_equal(perms, "rw-s");
	assert_non_null(strstr(path, "memfd:cvmbus-shared"));
	assert_int_equal(probe_vm_readv(hbase + 5 * PG), 0);

	/* The shared memfd holds nothing of the secret: whoever has the fd
	 * (a host process) reads zeros there. */
	assert_int_equal(pread(cvmbus_mem_shared_fd(mem), buf, PG, 3 * PG), (ssize_t)PG);
	assert_true(all_zero(buf, PG));
	/* While the guest still sees its secret. */
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, 3 * PG, buf, PG), 0);
	assert_memory_equal(buf, secret, PG);
	cvmbus_mem_destroy(mem);
}

static void test_host_view_holds_only_shared_fd(void **state)
{
	struct cvmbus_mem *mem = mk(HV_ISOLATION_TYPE_SNP, 8, 0, 46);
	struct cvmbus_mem_host_view *own = cvmbus_mem_host(mem), *other = NULL;
	struct stat a, b;
	char link[64], target[256];
	int fds[4] = {-1, -1, -1, -1};
	uint8_t data[64], buf[64];
	uint64_t pfn = 2;
	ssize_t n;
	int plain;
	(void)state;

	assert_int_equal(cvmbus_mem_host_view_fds(own, fds, 4), 1);
	assert_int_equal(fstat(fds[0], &a), 0);
	assert_int_equal(fstat(cvmbus_mem_shared_fd(mem), &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fds[0]);
	n = readlink(link, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_non_null(strstr(target, "memfd:cvmbus-shared"));

	/* A second host view from the shared fd alone (what a host process
	 * would build), told which pages are visible, reads the guest's data. */
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, 2 * PG, 1, "ring"), 0);
	fill(data, sizeof(data), 0x11);
	assert_int_equal(cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, 2 * PG + 8, data, 64), 0);
	assert_int_equal(cvmbus_mem_host_view_open(cvmbus_mem_shared_fd(mem),
						   cvmbus_mem_shared_gpa_boundary(mem), &other),
			 0);
	assert_int_equal(cvmbus_mem_host_read(other, 0x400000002008ull, buf, 64), -EFAULT);
	assert_int_equal(cvmbus_mem_host_view_apply(other, &pfn, 1, true), 0);
	assert_int_equal(cvmbus_mem_host_read(other, 0x400000002008ull, buf, 64), 0);
	assert_memory_equal(buf, data, 64);
	assert_int_equal(cvmbus_mem_host_read(other, 0x400000001000ull, buf, 8), -EFAULT);
	pfn = 8; /* beyond the memfd */
	assert_int_equal(cvmbus_mem_host_view_apply(other, &pfn, 1, true), -EINVAL);
	cvmbus_mem_host_view_close(other);

	/* A memfd whose size is not sealed is refused: its owner could shrink
	 * it under the host's mappings. */
	plain = memfd_create("unsealed", MFD_CLOEXEC);
	assert_true(plain >= 0);
	assert_int_equal(ftruncate(plain, 8 * PG), 0);
	assert_int_equal(cvmbus_mem_host_view_open(plain, 0, &other), -EINVAL);
	close(plain);
	cvmbus_mem_destroy(mem);
}

/* ---- the guest cannot reach VTL2 ---------------------------------------- */

static void test_guest_cannot_reach_vtl2(void **state)
{
	struct cvmbus_mem *mem = mk(HV_ISOLATION_TYPE_SNP, 16, 8, 46);
	uint8_t pv[256], buf[256];
	struct cvmbus_mem_stats st;
	uint64_t base, bytes;
	uint8_t *gview = cvmbus_mem_view_base(mem, CVMBUS_MEM_VIEW_GUEST);
	void *p;
	(void)state;

	assert_int_equal(cvmbus_mem_region(mem, CVMBUS_MEM_REGION_VTL2, &base, &bytes), 0);
	assert_true(base == 16 * PG && bytes == 8 * PG);
	fill(pv, sizeof(pv), 0x77);
	assert_int_equal(cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_PARAVISOR, base + PG, pv, 256), 0);

	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, base + PG, buf, 256), -EFAULT);
	assert_int_equal(cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, base + PG, buf, 1), -EFAULT);
	assert_int_equal(cvmbus_mem_ptr(mem, CVMBUS_MEM_VIEW_GUEST, base, 1, &p), -EFAULT);
	/* Straddling the VTL0/VTL2 border is reaching VTL2 as well. */
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, base - 8, buf, 16), -EFAULT);
	cvmbus_mem_get_stats(mem, &st);
	assert_int_equal(st.vtl_faults, 4);
	assert_true(st.vtl_last_fault == base - 8);
	/* Beyond the partition is a fault but not a VTL2 reach. */
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, 64 * PG, buf, 1), -EFAULT);
	cvmbus_mem_get_stats(mem, &st);
	assert_int_equal(st.vtl_faults, 4);

	/* The OS agrees: the guest window has nothing behind VTL2. */
	assert_unbacked(gview + base);
	assert_unbacked(gview + base + 7 * PG);

	/* The paravisor sees both VTL2 and the guest's RAM. */
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_PARAVISOR, base + PG, buf, 256), 0);
	assert_memory_equal(buf, pv, 256);
	assert_int_equal(cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, 0, pv, 256), 0);
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_PARAVISOR, 0, buf, 256), 0);
	assert_memory_equal(buf, pv, 256);

	/* VTL2 visibility is not the guest's to change; the paravisor's it is. */
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, base, 1, "ring"),
			 -EPERM);
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_HOST, 0, 1, "ring"), -EPERM);
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_HYPERVISOR, 0, 1, "ring"),
			 -EPERM);
	assert_int_equal(
		cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_PARAVISOR, base, 1, "synic-message"), 0);
	assert_int_equal(cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_PARAVISOR, base, pv, 16), 0);
	assert_int_equal(cvmbus_mem_host_read(cvmbus_mem_host(mem), base | (1ull << 46), buf, 16), 0);
	assert_memory_equal(buf, pv, 16);
	/* Shared or not, VTL2 stays out of the guest view. */
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, base, buf, 16), -EFAULT);
	assert_unbacked(gview + base);
	cvmbus_mem_destroy(mem);
}

/* ---- transitions -------------------------------------------------------- */

static void test_transition_zeroes_and_shares(void **state)
{
	struct cvmbus_mem *mem = mk(HV_ISOLATION_TYPE_SNP, 16, 0, 46);
	struct cvmbus_mem_host_view *hv = cvmbus_mem_host(mem);
	const uint64_t gpa = 4 * PG, alias = 0x400000004000ull;
	uint8_t pat[PG], buf[PG];
	uint8_t *gview = cvmbus_mem_view_base(mem, CVMBUS_MEM_VIEW_GUEST);
	char perms[5], path[256];
	(void)state;

	fill(pat, PG, 0xa5);
	assert_int_equal(cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, gpa, pat, PG), 0);
	assert_int_equal(cvmbus_mem_page_state(mem, gpa), CVMBUS_MEM_PAGE_PRIVATE);
	assert_true(maps_lookup(gview + gpa, perms, path, sizeof(path)));
	assert_non_null(strstr(path, "memfd:cvmbus-private"));

	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, gpa, 1, "ring"), 0);
	assert_int_equal(cvmbus_mem_page_state(mem, gpa), CVMBUS_MEM_PAGE_SHARED);
	/* Contents do not survive: zeros in every view. */
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, gpa, buf, PG), 0);
	assert_true(all_zero(buf, PG));
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_PARAVISOR, gpa, buf, PG), 0);
	assert_true(all_zero(buf, PG));
	memset(buf, 0xee, PG);
	assert_int_equal(cvmbus_mem_host_read(hv, alias, buf, PG), 0);
	assert_true(all_zero(buf, PG));
	/* The guest view now maps the shared memfd. */
	assert_true(maps_lookup(gview + gpa, perms, path, sizeof(path)));
	assert_string_equal(perms, "rw-s");
	assert_non_null(strstr(path, "memfd:cvmbus-shared"));

	/* Guest -> host. */
	assert_int_equal(cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, gpa + 100, "guest->host", 11),
			 0);
	assert_int_equal(cvmbus_mem_host_read(hv, alias + 100, buf, 11), 0);
	assert_memory_equal(buf, "guest->host", 11);
	/* Host -> guest, through a host pointer this time. */
	{
		void *hp;

		assert_int_equal(cvmbus_mem_host_ptr(hv, alias + 200, 11, &hp), 0);
		memcpy(hp, "host->guest", 11);
	}
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, gpa + 200, buf, 11), 0);
	assert_memory_equal(buf, "host->guest", 11);
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_PARAVISOR, gpa + 200, buf, 11), 0);
	assert_memory_equal(buf, "host->guest", 11);

	/* Back to private: zeros again, and the host is out. */
	assert_int_equal(cvmbus_mem_make_private(mem, CVMBUS_MEM_PARTY_GUEST, gpa, 1), 0);
	assert_int_equal(cvmbus_mem_page_state(mem, gpa), CVMBUS_MEM_PAGE_PRIVATE);
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, gpa, buf, PG), 0);
	assert_true(all_zero(buf, PG));
	assert_int_equal(cvmbus_mem_host_read(hv, alias, buf, 1), -EFAULT);
	assert_unbacked((uint8_t *)cvmbus_mem_host_view_base(hv) + gpa);
	/* The bytes the two wrote are gone from the shared memfd too. */
	assert_int_equal(pread(cvmbus_mem_shared_fd(mem), buf, PG, (off_t)gpa), (ssize_t)PG);
	assert_true(all_zero(buf, PG));
	/* A new private secret does not leak into the shared memfd. */
	assert_int_equal(cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, gpa, pat, PG), 0);
	assert_int_equal(pread(cvmbus_mem_shared_fd(mem), buf, PG, (off_t)gpa), (ssize_t)PG);
	assert_true(all_zero(buf, PG));
	cvmbus_mem_destroy(mem);
}

/* ---- holds ---------------------------------------------------------------- */

struct unshare {
	struct cvmbus_mem *mem;
	uint64_t gpa;
	_Atomic int started, done;
	int rc;
};

static void *unshare_main(void *arg)
{
	struct unshare *u = arg;

	atomic_store(&u->started, 1);
	u->rc = cvmbus_mem_make_private(u->mem, CVMBUS_MEM_PARTY_GUEST, u->gpa, 1);
	atomic_store(&u->done, 1);
	return NULL;
}

/* A device holding a page (a pread into it, say) keeps its mapping and
 * its visibility until it lets go: the guest's transition to private
 * waits, as it waits for a copy in progress, and only then is the host
 * out. If the transition did not wait, it would end during the 20 ms
 * below and the held pointer would point at a page no longer mapped. */
static void test_hold_defers_transition(void **state)
{
	struct cvmbus_mem *mem = mk(HV_ISOLATION_TYPE_SNP, 16, 2, 46);
	struct cvmbus_mem_host_view *hv = cvmbus_mem_host(mem);
	const uint64_t gpa = 3 * PG, alias = 0x400000003000ull;
	struct unshare u = { .mem = mem, .gpa = gpa };
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	uint8_t *gview = cvmbus_mem_view_base(mem, CVMBUS_MEM_VIEW_GUEST);
	uint8_t buf[8];
	pthread_t t;
	void *p;
	(void)state;

	/* Guest and paravisor views: the page's own address, VTL2 refused
	 * to the guest, nothing to hold refused. */
	assert_int_equal(cvmbus_mem_hold(mem, CVMBUS_MEM_VIEW_GUEST, gpa, PG, &p), 0);
	assert_ptr_equal(p, gview + gpa);
	cvmbus_mem_release(mem, gpa, PG);
	assert_int_equal(cvmbus_mem_hold(mem, CVMBUS_MEM_VIEW_GUEST, 16 * PG, PG, &p), -EFAULT);
	assert_int_equal(cvmbus_mem_hold(mem, CVMBUS_MEM_VIEW_PARAVISOR, 16 * PG, PG, &p), 0);
	cvmbus_mem_release(mem, 16 * PG, PG);
	assert_int_equal(cvmbus_mem_hold(mem, CVMBUS_MEM_VIEW_GUEST, gpa, 0, &p), -EINVAL);

	/* The host: a private page cannot be held, a shared one can. */
	assert_int_equal(cvmbus_mem_host_hold(hv, alias, PG, &p), -EFAULT);
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, gpa, 1, "bounce"), 0);
	assert_int_equal(cvmbus_mem_host_hold(hv, alias + 8, 8, &p), 0);

	assert_int_equal(pthread_create(&t, NULL, unshare_main, &u), 0);
	while (!atomic_load(&u.started))
		sched_yield();
	nanosleep(&ts, NULL);
	assert_false(atomic_load(&u.done));
	/* The transition has begun: a new access faults (mid-transition),
	 * but the held pointer still maps the shared page. */
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_PARAVISOR, gpa + 8, buf, 8), -EFAULT);
	memcpy(p, "dma-data", 8);
	assert_int_equal(pread(cvmbus_mem_shared_fd(mem), buf, 8, (off_t)(gpa + 8)), 8);
	assert_memory_equal(buf, "dma-data", 8);

	cvmbus_mem_host_release(hv, alias + 8, 8);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(u.rc, 0);
	assert_int_equal(cvmbus_mem_page_state(mem, gpa), CVMBUS_MEM_PAGE_PRIVATE);
	assert_int_equal(cvmbus_mem_host_hold(hv, alias, 8, &p), -EFAULT);
	/* The transition zeroed the page after the release. */
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, gpa + 8, buf, 8), 0);
	assert_true(all_zero(buf, 8));
	cvmbus_mem_destroy(mem);
}

/* ---- aliases -------------------------------------------------------------- */

static void test_aliases(void **state)
{
	struct cvmbus_mem *snp = mk(HV_ISOLATION_TYPE_SNP, 16, 0, 46);
	struct cvmbus_mem *tdx51 = mk(HV_ISOLATION_TYPE_TDX, 16, 0, 51);
	struct cvmbus_mem *tdx47 = mk(HV_ISOLATION_TYPE_TDX, 16, 0, 47);
	struct cvmbus_mem *none = mk(HV_ISOLATION_TYPE_NONE, 16, 0, 0);
	uint64_t gpa = 0;
	(void)state;

	/* Hand-computed: 1 << 46 = 0x4000_0000_0000, 1 << 51 = 0x8_0000_0000_0000,
	 * 1 << 47 = 0x8000_0000_0000. */
	assert_true(cvmbus_mem_gpa_to_alias(snp, 0x1000) == 0x0000400000001000ull);
	assert_true(cvmbus_mem_gpa_to_alias(tdx51, 0x1000) == 0x0008000000001000ull);
	assert_true(cvmbus_mem_gpa_to_alias(tdx47, 0xf000) == 0x000080000000f000ull);
	assert_true(cvmbus_mem_gpa_to_alias(none, 0x1000) == 0x1000);
	assert_true(cvmbus_mem_shared_gpa_boundary(none) == 0);

	assert_int_equal(cvmbus_mem_alias_to_gpa(snp, 0x0000400000003010ull, &gpa), 0);
	assert_true(gpa == 0x3010);
	assert_int_equal(cvmbus_mem_alias_to_gpa(tdx51, 0x0008000000002000ull, &gpa), 0);
	assert_true(gpa == 0x2000);
	assert_int_equal(cvmbus_mem_alias_to_gpa(none, 0x5000, &gpa), 0);
	assert_true(gpa == 0x5000);
	/* No shared bit, or beyond the partition, or a stray high bit. */
	assert_int_equal(cvmbus_mem_alias_to_gpa(snp, 0x3000, &gpa), -EFAULT);
	assert_int_equal(cvmbus_mem_alias_to_gpa(snp, 0x0000400000010000ull, &gpa), -EFAULT);
	assert_int_equal(cvmbus_mem_alias_to_gpa(snp, 0x0000c00000001000ull, &gpa), -EFAULT);
	assert_int_equal(cvmbus_mem_alias_to_gpa(none, 0x10000, &gpa), -EFAULT);

	/* CPUID 0x4000000C EBX: SNP (2) | boundary active (bit 5) | 46 << 6
	 * = 0x2 | 0x20 | 0xb80 = 0xba2. */
	assert_true(cvmbus_mem_boundary_from_cpuid_ebx(0xba2) == 0x0000400000000000ull);
	/* TDX (3) | active | 51 << 6 (0xcc0) = 0xce3. */
	assert_true(cvmbus_mem_boundary_from_cpuid_ebx(0xce3) == 0x0008000000000000ull);
	/* Bits given but not active. */
	assert_true(cvmbus_mem_boundary_from_cpuid_ebx(0xb82) == 0);

	/* The TDX host addresses shared pages by the bit-51 alias. */
	assert_int_equal(cvmbus_mem_make_shared(tdx51, CVMBUS_MEM_PARTY_GUEST, 0x2000, 1, "ring"),
			 0);
	assert_int_equal(cvmbus_mem_write(tdx51, CVMBUS_MEM_VIEW_GUEST, 0x2000, "tdx", 3), 0);
	{
		char b[3];

		assert_int_equal(cvmbus_mem_host_read(cvmbus_mem_host(tdx51), 0x0008000000002000ull,
						      b, 3),
				 0);
		assert_memory_equal(b, "tdx", 3);
		assert_int_equal(cvmbus_mem_host_read(cvmbus_mem_host(tdx51), 0x2000, b, 3), -EFAULT);
	}
	cvmbus_mem_destroy(snp);
	cvmbus_mem_destroy(tdx51);
	cvmbus_mem_destroy(tdx47);
	cvmbus_mem_destroy(none);
}

/* ---- batching and the hypercall input --------------------------------------- */

struct recorder {
	struct cvmbus_mem_host_view *hv;
	unsigned int calls;
	uint32_t reps[8];
	uint8_t header[8][16];
	uint64_t first_pfn[8], last_pfn[8];
	unsigned int fail_on_call; /* 1-based; 0 = never */
	struct cvmbus_mem *mem;    /* for the reentrancy check */
	int reentrant_rc;
};

static uint16_t record_visibility(void *ctx,
				  const struct hv_input_modify_sparse_gpa_page_host_visibility *in,
				  uint32_t reps)
{
	struct recorder *r = ctx;
	unsigned int i = r->calls++;

	if (i < 8) {
		r->reps[i] = reps;
		memcpy(r->header[i], in, 16);
		r->first_pfn[i] = in->gpa_page_list[0];
		r->last_pfn[i] = in->gpa_page_list[reps - 1];
	}
	if (r->mem) {
		/* The partition lock is not held here: queries work, and a
		 * transition of a page already in flight is refused. */
		struct cvmbus_mem_exposure_totals t;

		cvmbus_mem_exposure_total(r->mem, &t);
		r->reentrant_rc = cvmbus_mem_make_shared(r->mem, CVMBUS_MEM_PARTY_GUEST,
							 in->gpa_page_list[0] * PG, 1, "ring");
	}
	if (r->fail_on_call && r->calls == r->fail_on_call)
		return HV_STATUS_ACCESS_DENIED;
	return cvmbus_mem_visibility_default(r->hv, in, reps);
}

static void test_batching_1200(void **state)
{
	struct cvmbus_mem *mem = mk(HV_ISOLATION_TYPE_SNP, 2048, 0, 46);
	struct recorder rec = {.hv = cvmbus_mem_host(mem)};
	/* Hand-written: partition id HV_PARTITION_ID_SELF (all ones), then
	 * host_visibility READ_WRITE = 3 as a little-endian u32, reserved 0. */
	static const uint8_t hdr_shared[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					       0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	static const uint8_t hdr_private[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
						0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	struct cvmbus_mem_stats st;
	(void)state;

	cvmbus_mem_set_visibility_handler(mem, record_visibility, &rec);
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, 0, 1200, "bounce"), 0);
	assert_int_equal(rec.calls, 3);
	assert_int_equal(rec.reps[0], 510);
	assert_int_equal(rec.reps[1], 510);
	assert_int_equal(rec.reps[2], 180);
	assert_memory_equal(rec.header[0], hdr_shared, 16);
	assert_memory_equal(rec.header[2], hdr_shared, 16);
	assert_int_equal(rec.first_pfn[0], 0);
	assert_int_equal(rec.last_pfn[0], 509);
	assert_int_equal(rec.first_pfn[1], 510);
	assert_int_equal(rec.first_pfn[2], 1020);
	assert_int_equal(rec.last_pfn[2], 1199);
	cvmbus_mem_get_stats(mem, &st);
	assert_int_equal(st.visibility_calls, 3);
	assert_int_equal(st.visibility_pages, 1200);
	assert_int_equal(st.pages_made_shared, 1200);
	assert_true(cvmbus_mem_host_view_visible(rec.hv, 1199 * PG));
	assert_false(cvmbus_mem_host_view_visible(rec.hv, 1200 * PG));

	/* Asking again for pages already shared is a retag: no calls. */
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, 0, 1200, "bounce"), 0);
	assert_int_equal(rec.calls, 3);

	assert_int_equal(cvmbus_mem_make_private(mem, CVMBUS_MEM_PARTY_GUEST, 0, 1200), 0);
	assert_int_equal(rec.calls, 6);
	assert_memory_equal(rec.header[3], hdr_private, 16);
	assert_int_equal(rec.reps[5], 180);
	assert_false(cvmbus_mem_host_view_visible(rec.hv, 0));
	cvmbus_mem_destroy(mem);
}

static void test_sparse_list(void **state)
{
	struct cvmbus_mem *mem = mk(HV_ISOLATION_TYPE_VBS, 32, 0, 0);
	struct recorder rec = {.hv = cvmbus_mem_host(mem)};
	const uint64_t gpas[3] = {9 * PG, 2 * PG, 5 * PG};
	const uint64_t dup[2] = {3 * PG, 3 * PG};
	const uint64_t odd[1] = {3 * PG + 8};
	(void)state;

	cvmbus_mem_set_visibility_handler(mem, record_visibility, &rec);
	assert_int_equal(cvmbus_mem_set_visibility(mem, CVMBUS_MEM_PARTY_GUEST, gpas, 3, true,
						   "gpadl"),
			 0);
	assert_int_equal(rec.calls, 1);
	assert_int_equal(rec.reps[0], 3);
	assert_int_equal(rec.first_pfn[0], 2); /* listed ascending */
	assert_int_equal(rec.last_pfn[0], 9);
	for (uint64_t p = 0; p < 12; p++)
		assert_int_equal(cvmbus_mem_page_state(mem, p * PG),
				 p == 2 || p == 5 || p == 9 ? CVMBUS_MEM_PAGE_SHARED
							   : CVMBUS_MEM_PAGE_PRIVATE);
	assert_int_equal(cvmbus_mem_set_visibility(mem, CVMBUS_MEM_PARTY_GUEST, dup, 2, true, NULL),
			 -EINVAL);
	assert_int_equal(cvmbus_mem_set_visibility(mem, CVMBUS_MEM_PARTY_GUEST, odd, 1, true, NULL),
			 -EINVAL);
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, 40 * PG, 1, NULL),
			 -EINVAL);
	assert_int_equal(rec.calls, 1);

	/* From inside the hook: a page in flight cannot be claimed again. */
	rec.mem = mem;
	rec.reentrant_rc = 1;
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, 20 * PG, 1, "ring"), 0);
	assert_int_equal(rec.reentrant_rc, -EBUSY);
	cvmbus_mem_destroy(mem);
}

static void test_visibility_failure(void **state)
{
	struct cvmbus_mem *mem = mk(HV_ISOLATION_TYPE_SNP, 1024, 0, 46);
	struct recorder rec = {.hv = cvmbus_mem_host(mem), .fail_on_call = 2};
	struct cvmbus_mem_stats st;
	struct cvmbus_mem_exposure_totals t;
	uint8_t pat[64], buf[64];
	(void)state;

	fill(pat, sizeof(pat), 0x3c);
	assert_int_equal(cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, 0, pat, 64), 0);
	assert_int_equal(cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, 550 * PG, pat, 64), 0);
	cvmbus_mem_set_visibility_handler(mem, record_visibility, &rec);
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, 0, 600, "ring"), -EIO);
	assert_int_equal(rec.calls, 2);
	/* The first batch went through: shared and zeroed. */
	assert_int_equal(cvmbus_mem_page_state(mem, 509 * PG), CVMBUS_MEM_PAGE_SHARED);
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, 0, buf, 64), 0);
	assert_true(all_zero(buf, 64));
	/* The refused batch is as it was, contents included. */
	assert_int_equal(cvmbus_mem_page_state(mem, 510 * PG), CVMBUS_MEM_PAGE_PRIVATE);
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, 550 * PG, buf, 64), 0);
	assert_memory_equal(buf, pat, 64);
	assert_false(cvmbus_mem_host_view_visible(rec.hv, 550 * PG));
	cvmbus_mem_get_stats(mem, &st);
	assert_int_equal(st.visibility_failures, 1);
	assert_int_equal(st.pages_made_shared, 510);
	assert_int_equal(cvmbus_mem_exposure_by_reason(mem, "ring", &t), 0);
	assert_int_equal(t.pages_now, 510);
	cvmbus_mem_destroy(mem);
}

/* ---- exposure account ----------------------------------------------------- */

static void test_exposure_account(void **state)
{
	struct cvmbus_mem *mem = mk(HV_ISOLATION_TYPE_SNP, 16, 4, 46);
	struct cvmbus_mem_exposure_totals t;
	struct cvmbus_mem_exposure_page pe;
	struct cvmbus_mem_exposure_range r;
	struct cvmbus_mem_exposure_iter it;
	const uint64_t vtl2 = 16 * PG;
	(void)state;

	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, 0, 4, "ring"), 0);
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, 10 * PG, 2, "bounce"),
			 0);
	assert_int_equal(
		cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_PARAVISOR, vtl2, 1, "synic-message"), 0);
	assert_int_equal(cvmbus_mem_make_private(mem, CVMBUS_MEM_PARTY_GUEST, 2 * PG, 2), 0);

	assert_int_equal(cvmbus_mem_exposure_by_reason(mem, "ring", &t), 0);
	assert_int_equal(t.pages_now, 2);
	assert_int_equal(t.pages_ever, 4);
	assert_int_equal(t.bytes_now, 8192);
	assert_int_equal(t.bytes_ever, 16384);
	assert_int_equal(t.transitions, 4);
	assert_int_equal(cvmbus_mem_exposure_by_reason(mem, "bounce", &t), 0);
	assert_int_equal(t.pages_now, 2);
	assert_int_equal(t.pages_ever, 2);
	assert_int_equal(cvmbus_mem_exposure_by_reason(mem, "synic-message", &t), 0);
	assert_int_equal(t.pages_now, 1);
	assert_int_equal(cvmbus_mem_exposure_by_reason(mem, "monitor", &t), -ENOENT);
	assert_int_equal(cvmbus_mem_exposure_by_party(mem, CVMBUS_MEM_PARTY_GUEST, &t), 0);
	assert_int_equal(t.pages_now, 4);
	assert_int_equal(t.pages_ever, 6);
	assert_int_equal(cvmbus_mem_exposure_by_party(mem, CVMBUS_MEM_PARTY_PARAVISOR, &t), 0);
	assert_int_equal(t.pages_now, 1);
	assert_int_equal(t.pages_ever, 1);
	assert_int_equal(cvmbus_mem_exposure_by_party(mem, CVMBUS_MEM_PARTY_HOST, &t), 0);
	assert_int_equal(t.pages_ever, 0);
	cvmbus_mem_exposure_total(mem, &t);
	assert_int_equal(t.pages_now, 5);
	assert_int_equal(t.pages_ever, 7);
	assert_int_equal(t.transitions, 7);

	assert_int_equal(cvmbus_mem_exposure_page(mem, 2 * PG, &pe), 0);
	assert_false(pe.visible_now);
	assert_true(pe.visible_ever);
	assert_int_equal(pe.party, CVMBUS_MEM_PARTY_GUEST);
	assert_string_equal(pe.reason, "ring");
	assert_int_equal(cvmbus_mem_exposure_page(mem, 5 * PG, &pe), 0);
	assert_false(pe.visible_ever);
	assert_null(pe.reason);

	/* Ranges visible now. */
	cvmbus_mem_exposure_iter_init(&it, CVMBUS_MEM_EXPOSURE_NOW);
	assert_int_equal(cvmbus_mem_exposure_next(mem, &it, &r), 1);
	assert_true(r.gpa == 0 && r.bytes == 2 * PG && r.visible_now);
	assert_string_equal(r.reason, "ring");
	assert_int_equal(cvmbus_mem_exposure_next(mem, &it, &r), 1);
	assert_true(r.gpa == 10 * PG && r.bytes == 2 * PG);
	assert_string_equal(r.reason, "bounce");
	assert_int_equal(cvmbus_mem_exposure_next(mem, &it, &r), 1);
	assert_true(r.gpa == vtl2 && r.bytes == PG);
	assert_int_equal(r.party, CVMBUS_MEM_PARTY_PARAVISOR);
	assert_string_equal(r.reason, "synic-message");
	assert_int_equal(cvmbus_mem_exposure_next(mem, &it, &r), 0);

	/* Ranges ever visible: the "ring" run splits at what is visible now. */
	cvmbus_mem_exposure_iter_init(&it, CVMBUS_MEM_EXPOSURE_EVER);
	assert_int_equal(cvmbus_mem_exposure_next(mem, &it, &r), 1);
	assert_true(r.gpa == 0 && r.bytes == 2 * PG && r.visible_now);
	assert_int_equal(cvmbus_mem_exposure_next(mem, &it, &r), 1);
	assert_true(r.gpa == 2 * PG && r.bytes == 2 * PG && !r.visible_now);
	assert_string_equal(r.reason, "ring");
	assert_int_equal(cvmbus_mem_exposure_next(mem, &it, &r), 1);
	assert_true(r.gpa == 10 * PG);
	assert_int_equal(cvmbus_mem_exposure_next(mem, &it, &r), 1);
	assert_true(r.gpa == vtl2);
	assert_int_equal(cvmbus_mem_exposure_next(mem, &it, &r), 0);

	/* Re-exposing page 2 for another reason: "ring" ever stays 4. */
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, 2 * PG, 1, "gpadl"), 0);
	assert_int_equal(cvmbus_mem_exposure_by_reason(mem, "ring", &t), 0);
	assert_int_equal(t.pages_ever, 4);
	assert_int_equal(t.pages_now, 2);
	assert_int_equal(cvmbus_mem_exposure_by_reason(mem, "gpadl", &t), 0);
	assert_int_equal(t.pages_now, 1);
	assert_int_equal(t.pages_ever, 1);
	cvmbus_mem_exposure_total(mem, &t);
	assert_int_equal(t.pages_now, 6);
	assert_int_equal(t.pages_ever, 7);
	/* Retagging a shared page moves it between reasons without a call. */
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, 0, 1, "monitor"), 0);
	assert_int_equal(cvmbus_mem_exposure_by_reason(mem, "ring", &t), 0);
	assert_int_equal(t.pages_now, 1);
	assert_int_equal(cvmbus_mem_exposure_by_reason(mem, "monitor", &t), 0);
	assert_int_equal(t.pages_now, 1);
	assert_int_equal(t.transitions, 0);

	/* Bad tags. */
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, 6 * PG, 1, "a b"),
			 -EINVAL);
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, 6 * PG, 1,
						"a-tag-that-is-far-too-long"),
			 -EINVAL);
	assert_string_equal(cvmbus_mem_party_name(CVMBUS_MEM_PARTY_PARAVISOR), "paravisor");
	cvmbus_mem_destroy(mem);
}

/* ---- no isolation ----------------------------------------------------------- */

static void test_no_isolation(void **state)
{
	struct cvmbus_mem *mem = mk(HV_ISOLATION_TYPE_NONE, 8, 2, 0);
	struct cvmbus_mem_host_view *hv = cvmbus_mem_host(mem);
	struct cvmbus_mem_exposure_page pe;
	struct cvmbus_mem_stats st;
	uint8_t buf[8];
	(void)state;

	/* Every page is visible at its own GPA, VTL2 included: no CoCo. */
	assert_int_equal(cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, PG, "plain", 5), 0);
	assert_int_equal(cvmbus_mem_host_read(hv, PG, buf, 5), 0);
	assert_memory_equal(buf, "plain", 5);
	assert_int_equal(cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_PARAVISOR, 9 * PG, "vtl2", 4), 0);
	assert_int_equal(cvmbus_mem_host_read(hv, 9 * PG, buf, 4), 0);
	assert_memory_equal(buf, "vtl2", 4);
	/* VTL protection does not depend on isolation. */
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, 9 * PG, buf, 4), -EFAULT);

	assert_int_equal(cvmbus_mem_exposure_page(mem, PG, &pe), 0);
	assert_true(pe.visible_now);
	assert_int_equal(pe.party, CVMBUS_MEM_PARTY_HYPERVISOR);
	assert_string_equal(pe.reason, CVMBUS_MEM_REASON_NO_ISOLATION);

	/* "Sharing" is a retag: no hypercall, contents kept. */
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, PG, 1, "ring"), 0);
	assert_int_equal(cvmbus_mem_exposure_page(mem, PG, &pe), 0);
	assert_int_equal(pe.party, CVMBUS_MEM_PARTY_GUEST);
	assert_string_equal(pe.reason, "ring");
	assert_int_equal(cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, PG, buf, 5), 0);
	assert_memory_equal(buf, "plain", 5);
	/* "Private" does not hide anything either. */
	assert_int_equal(cvmbus_mem_make_private(mem, CVMBUS_MEM_PARTY_GUEST, PG, 1), 0);
	assert_int_equal(cvmbus_mem_host_read(hv, PG, buf, 5), 0);
	assert_memory_equal(buf, "plain", 5);
	assert_int_equal(cvmbus_mem_exposure_page(mem, PG, &pe), 0);
	assert_true(pe.visible_now);
	assert_string_equal(pe.reason, CVMBUS_MEM_REASON_NO_ISOLATION);
	cvmbus_mem_get_stats(mem, &st);
	assert_int_equal(st.visibility_calls, 0);
	cvmbus_mem_destroy(mem);
}

/* ---- allocator ---------------------------------------------------------------- */

static void test_allocator(void **state)
{
	struct cvmbus_mem *mem = mk(HV_ISOLATION_TYPE_SNP, 16, 8, 46);
	uint64_t a, b, c, v;
	(void)state;

	assert_int_equal(cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 3, &a), 0);
	assert_true(a == 0);
	assert_int_equal(cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 2, &b), 0);
	assert_true(b == 3 * PG);
	assert_int_equal(cvmbus_mem_free(mem, a, 3), 0);
	assert_int_equal(cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 2, &c), 0);
	assert_true(c == 0); /* first fit */
	assert_int_equal(cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 12, &c), -ENOMEM);
	assert_int_equal(cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL0, 11, &c), 0);
	assert_true(c == 5 * PG);
	/* Page 2 (a's tail) was freed with a and not reused. */
	assert_int_equal(cvmbus_mem_free(mem, 2 * PG, 1), -EINVAL);
	assert_int_equal(cvmbus_mem_free(mem, 3 * PG, 1), 0); /* part of b: fine */
	assert_int_equal(cvmbus_mem_free(mem, 3 * PG, 1), -EINVAL);
	assert_int_equal(cvmbus_mem_free(mem, PG + 1, 1), -EINVAL);

	assert_int_equal(cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL2, 8, &v), 0);
	assert_true(v == 16 * PG);
	assert_int_equal(cvmbus_mem_alloc(mem, CVMBUS_MEM_REGION_VTL2, 1, &v), -ENOMEM);
	/* A run across the VTL0/VTL2 border was never one allocation. */
	assert_int_equal(cvmbus_mem_free(mem, 15 * PG, 2), -EINVAL);
	assert_int_equal(cvmbus_mem_free(mem, 16 * PG, 8), 0);
	cvmbus_mem_destroy(mem);
}

/* ---- concurrency ---------------------------------------------------------------- */

#define CC_PAGES  64u
#define CC_ITERS  40
#define CC_STABLE 32u /* pages 32..47: shared, never transitioned */

struct cc {
	struct cvmbus_mem *mem;
	_Atomic int writers_done;
	_Atomic int errors;
	_Atomic long reads;
};

struct cc_writer {
	struct cc *cc;
	unsigned int parity; /* even or odd pages of 0..31: interleaved sets */
};

static void *cc_writer(void *arg)
{
	struct cc_writer *w = arg;
	struct cvmbus_mem *mem = w->cc->mem;
	struct cvmbus_mem_host_view *hv = cvmbus_mem_host(mem);
	uint64_t gpas[16];
	uint8_t mark[32], buf[32];

	for (unsigned int i = 0; i < 16; i++)
		gpas[i] = (2 * i + w->parity) * PG;
	for (int it = 0; it < CC_ITERS; it++) {
		memset(mark, 0x40 + (it & 0x1f) + (int)w->parity, sizeof(mark));
		if (cvmbus_mem_set_visibility(mem, CVMBUS_MEM_PARTY_GUEST, gpas, 16, true, "ring"))
			w->cc->errors++;
		for (unsigned int i = 0; i < 16; i++) {
			if (cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, gpas[i], buf, 32) ||
			    !all_zero(buf, 32))
				w->cc->errors++;
			if (cvmbus_mem_write(mem, CVMBUS_MEM_VIEW_GUEST, gpas[i], mark, 32))
				w->cc->errors++;
			if (cvmbus_mem_host_read(hv, gpas[i] | (1ull << 46), buf, 32) ||
			    memcmp(buf, mark, 32))
				w->cc->errors++;
		}
		if (cvmbus_mem_set_visibility(mem, CVMBUS_MEM_PARTY_GUEST, gpas, 16, false, NULL))
			w->cc->errors++;
		for (unsigned int i = 0; i < 16; i++)
			if (cvmbus_mem_read(mem, CVMBUS_MEM_VIEW_GUEST, gpas[i], buf, 32) ||
			    !all_zero(buf, 32))
				w->cc->errors++;
	}
	w->cc->writers_done++;
	return NULL;
}

static void *cc_reader(void *arg)
{
	struct cc *cc = arg;
	struct cvmbus_mem_host_view *hv = cvmbus_mem_host(cc->mem);
	uint8_t buf[64];
	unsigned int n = 0;

	while (cc->writers_done < 2) {
		uint64_t stable = (CC_STABLE + n % 16) * PG;
		uint64_t moving = (n % 32) * PG;
		int rc;

		/* Stable pages always read back what the host wrote. */
		if (cvmbus_mem_read(cc->mem, CVMBUS_MEM_VIEW_GUEST, stable, buf, 64) ||
		    buf[0] != (uint8_t)(CC_STABLE + n % 16) || buf[63] != buf[0])
			cc->errors++;
		if (cvmbus_mem_host_read(hv, stable | (1ull << 46), buf, 64) ||
		    buf[0] != (uint8_t)(CC_STABLE + n % 16))
			cc->errors++;
		/* Pages in flight: either a clean fault or a clean read. */
		rc = cvmbus_mem_read(cc->mem, CVMBUS_MEM_VIEW_PARAVISOR, moving, buf, 64);
		if (rc && rc != -EFAULT)
			cc->errors++;
		rc = cvmbus_mem_host_read(hv, moving | (1ull << 46), buf, 64);
		if (rc && rc != -EFAULT)
			cc->errors++;
		cc->reads++;
		n++;
	}
	return NULL;
}

static void test_concurrent_transitions(void **state)
{
	struct cc cc = {.mem = mk(HV_ISOLATION_TYPE_SNP, CC_PAGES, 0, 46)};
	struct cc_writer w[2] = {{&cc, 0}, {&cc, 1}};
	pthread_t tw[2], tr;
	struct cvmbus_mem_stats st;
	uint8_t page[PG];
	(void)state;

	assert_int_equal(cvmbus_mem_make_shared(cc.mem, CVMBUS_MEM_PARTY_GUEST, CC_STABLE * PG, 16,
						"ring"),
			 0);
	for (unsigned int p = CC_STABLE; p < CC_STABLE + 16; p++) {
		memset(page, (int)p, PG);
		assert_int_equal(cvmbus_mem_host_write(cvmbus_mem_host(cc.mem), (p * PG) | (1ull << 46),
						       page, PG),
				 0);
	}
	assert_int_equal(pthread_create(&tr, NULL, cc_reader, &cc), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&tw[i], NULL, cc_writer, &w[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(tw[i], NULL);
	pthread_join(tr, NULL);
	assert_int_equal(cc.errors, 0);
	assert_true(cc.reads > 0);
	cvmbus_mem_get_stats(cc.mem, &st);
	/* How much the reader overlapped the writers (information only: the
	 * scheduler decides, so no assertion on it). */
	print_message("reader: %ld rounds, %llu host faults on pages in flight\n",
		      (long)cc.reads, (unsigned long long)st.host_faults);
	assert_int_equal(st.pages_made_shared, 16 + 2 * CC_ITERS * 16);
	assert_int_equal(st.pages_made_private, 2 * CC_ITERS * 16);
	for (unsigned int p = 0; p < 32; p++)
		assert_int_equal(cvmbus_mem_page_state(cc.mem, p * PG), CVMBUS_MEM_PAGE_PRIVATE);
	cvmbus_mem_destroy(cc.mem);
}

/* A page a server has mapped cannot change visibility under it. */
static void test_pinned_pages_refuse_transitions(void **state)
{
	struct cvmbus_mem_config cfg = {
		.isolation = HV_ISOLATION_TYPE_SNP,
		.vtl0_bytes = 64 * 4096,
	};
	struct cvmbus_mem *mem;

	(void)state;
	assert_int_equal(cvmbus_mem_create(&cfg, &mem), 0);
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, 0x4000, 2, "ring"), 0);
	assert_int_equal(cvmbus_mem_pin(mem, 0x4000, 2), 0);
	assert_int_equal(cvmbus_mem_pin(mem, 0x5000, 1), 0); /* pins count */
	/* Taking a pinned page back fails and changes nothing, the other
	 * page in the request included. */
	assert_int_equal(cvmbus_mem_make_private(mem, CVMBUS_MEM_PARTY_GUEST, 0x4000, 2), -EBUSY);
	assert_int_equal(cvmbus_mem_page_state(mem, 0x4000), CVMBUS_MEM_PAGE_SHARED);
	assert_int_equal(cvmbus_mem_page_state(mem, 0x5000), CVMBUS_MEM_PAGE_SHARED);
	/* Already in the target state: a retag, allowed. */
	assert_int_equal(cvmbus_mem_make_shared(mem, CVMBUS_MEM_PARTY_GUEST, 0x4000, 1, "gpadl"), 0);
	assert_int_equal(cvmbus_mem_unpin(mem, 0x4000, 2), 0);
	assert_int_equal(cvmbus_mem_make_private(mem, CVMBUS_MEM_PARTY_GUEST, 0x4000, 2), -EBUSY);
	assert_int_equal(cvmbus_mem_unpin(mem, 0x5000, 1), 0);
	assert_int_equal(cvmbus_mem_make_private(mem, CVMBUS_MEM_PARTY_GUEST, 0x4000, 2), 0);
	/* Unbalanced unpins and ranges outside the partition are refused. */
	assert_int_equal(cvmbus_mem_unpin(mem, 0x4000, 1), -EINVAL);
	assert_int_equal(cvmbus_mem_pin(mem, 63 * 4096, 2), -EINVAL);
	assert_int_equal(cvmbus_mem_pin(mem, 0x4001, 1), -EINVAL);
	cvmbus_mem_destroy(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pinned_pages_refuse_transitions),
		cmocka_unit_test(test_config_validation),
		cmocka_unit_test(test_host_cannot_reach_private),
		cmocka_unit_test(test_host_view_holds_only_shared_fd),
		cmocka_unit_test(test_guest_cannot_reach_vtl2),
		cmocka_unit_test(test_transition_zeroes_and_shares),
		cmocka_unit_test(test_hold_defers_transition),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_batching_1200),
		cmocka_unit_test(test_sparse_list),
		cmocka_unit_test(test_visibility_failure),
		cmocka_unit_test(test_exposure_account),
		cmocka_unit_test(test_no_isolation),
		cmocka_unit_test(test_allocator),
		cmocka_unit_test(test_concurrent_transitions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
