/* SPDX-License-Identifier: MIT */
/*
 * The host process's seccomp filter (src/vm; docs/PROCESSES.md). Once the
 * host has everything it will ever open (the link, the shared memfd, its
 * devices' files and TAPs), it needs only to move bytes over what it holds,
 * make threads and memory, and wait. The filter allows exactly that; any
 * other system call fails with EPERM. So a host compromised through the
 * data path cannot open files, make sockets, ptrace the partition's
 * process, or exec anything.
 *
 * Why EPERM rather than killing: a call that a library makes on a path
 * the tests never took (a locale lookup, a timer) should fail like a
 * permission problem, which the code already handles, rather than take
 * the host down. The set below is what strace showed the host making in
 * every test of process mode (echo, disk, NIC), plus what the executor
 * waits with.
 *
 * Not installed in sanitizer builds: ASan, LSan and TSan make calls of
 * their own at any time (LSan's leak check ptraces the process at exit).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cvmbus/log.h>

#include "vm/vm_internal.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define HP_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#define HP_SANITIZED 1
#endif
#endif

#if defined(__x86_64__)
#define HP_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define HP_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

bool vm_host_seccomp_supported(void)
{
#if defined(HP_SANITIZED) || !defined(HP_AUDIT_ARCH)
	return false;
#else
	const char *env = getenv("CVMBUS_HOST_SECCOMP");

	return !env || strcmp(env, "0");
#endif
}

#if !defined(HP_SANITIZED) && defined(HP_AUDIT_ARCH)
static const int hp_allowed[] = {
	/* Bytes over what the host holds. */
	SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_pwrite64,
	SYS_preadv, SYS_pwritev, SYS_sendmsg, SYS_recvmsg, SYS_sendto, SYS_recvfrom,
	SYS_shutdown, SYS_close, SYS_dup, SYS_dup3, SYS_fcntl, SYS_ioctl, SYS_lseek,
	SYS_fstat, SYS_newfstatat, SYS_fsync, SYS_fdatasync, SYS_fallocate,
	/* Waiting: the executor's locks, conditions and timers, doorbells. */
	SYS_futex, SYS_ppoll, SYS_pselect6, SYS_epoll_pwait, SYS_epoll_ctl,
	SYS_epoll_create1, SYS_eventfd2, SYS_nanosleep, SYS_clock_nanosleep,
	SYS_clock_gettime, SYS_clock_getres, SYS_gettimeofday, SYS_sched_yield,
	/* Threads and memory. */
	SYS_clone, SYS_clone3, SYS_set_robust_list, SYS_get_robust_list, SYS_rseq,
	SYS_set_tid_address, SYS_exit, SYS_exit_group, SYS_gettid, SYS_getpid,
	SYS_tgkill, SYS_rt_sigprocmask, SYS_rt_sigaction, SYS_rt_sigreturn,
	SYS_sigaltstack, SYS_mmap, SYS_munmap, SYS_mprotect, SYS_madvise, SYS_mremap,
	SYS_brk, SYS_prctl, SYS_prlimit64, SYS_getrandom, SYS_sched_getaffinity,
	SYS_membarrier, SYS_restart_syscall,
#ifdef SYS_poll
	SYS_poll,
#endif
#ifdef SYS_epoll_wait
	SYS_epoll_wait,
#endif
#ifdef SYS_select
	SYS_select,
#endif
#ifdef SYS_arch_prctl
	SYS_arch_prctl,
#endif
#ifdef SYS_epoll_pwait2
	SYS_epoll_pwait2,
#endif
};
#endif

bool cvmbus_vm_host_seccomp(void)
{
	return vm_host_seccomp_supported();
}

int vm_host_seccomp_install(void)
{
#if defined(HP_SANITIZED) || !defined(HP_AUDIT_ARCH)
	return -EOPNOTSUPP;
#else
	enum { N = sizeof(hp_allowed) / sizeof(hp_allowed[0]) };
	struct sock_filter f[4 + N + 2];
	struct sock_fprog prog = { .filter = f };
	unsigned int k = 0;

	/* Another architecture's numbers mean other calls: refuse them all. */
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, HP_AUDIT_ARCH, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	/* One comparison per allowed call: a match jumps to ALLOW, which
	 * sits right after the list and the EPERM that ends it. */
	for (unsigned int i = 0; i < N; i++)
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
						      (unsigned int)hp_allowed[i],
						      (unsigned char)(N - i), 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
					      SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)k;
	_Static_assert(N < 255, "a BPF jump offset is one byte");

	/* Required to install a filter without CAP_SYS_ADMIN, and right
	 * anyway: nothing the host runs may gain privileges. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	/* TSYNC: every thread of the host already runs (the link's, the
	 * glue's, the devices'); a filter on this one alone would leave them
	 * free. */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog))
		return -errno;
	/* Check that it holds: opening a file is the first thing a host
	 * taken over would try. (So every process-mode test that gets its
	 * host to READY has also seen the filter refuse.) */
	{
		int fd = openat(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd >= 0 || errno != EPERM) {
			if (fd >= 0)
				close(fd);
			return -ENOTRECOVERABLE;
		}
	}
	return 0;
#endif
}
