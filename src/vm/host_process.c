/* SPDX-License-Identifier: MIT */
/*
 * The host party in its own process (src/vm; docs/PROCESSES.md). Two ends:
 *
 *   the VM's end   (vm_hostproc_start/stop, called by host.c when the
 *                  configuration says processes): spawn the host program
 *                  with one control socket as fd 3, serve the host link
 *                  (src/hw/hostlink.c) on a second socket whose other end
 *                  travels over the control socket, describe the host's
 *                  devices, wait for READY; at the end STOP, STOPPED, reap.
 *   the host's end (cvmbus_host_process_main, the whole of cvmbus-host):
 *                  attach a platform to the link (src/hw/hostlink_remote.c),
 *                  run the host's server glue, its echo device and the
 *                  devices described, until STOP or until the VM is gone.
 *
 * Why a spawned program and not fork(): a forked child would inherit every
 * mapping of the partition, private memory included. An exec'd program
 * starts with nothing, closes every fd but the control socket before it
 * does anything else, and can only ever hold what comes over that socket:
 * the link socket, the shared memfd (in the link's HELLO), its own
 * eventfds, and the fds of its devices (an image it opens itself, a TAP).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cvmbus/hostlink.h>
#include <cvmbus/log.h>
#include <cvmbus/vm_disk.h>
#include <cvmbus/vm_nic.h>

#include "vm/vm_internal.h"

#define HP_MAGIC        0x48505243u /* "CRPH" */
#define HP_CTL_FD       3
#define HP_READY_NS     (20ull * 1000000000ull)
#define HP_STOP_NS      (20ull * 1000000000ull)

extern char **environ;

enum hp_type {
	HP_SETUP = 1,
	HP_DEVICE = 2,
	HP_READY = 3,
	HP_STOP = 4,
	HP_STOPPED = 5,
};

struct hp_setup {
	uint32_t type;
	uint32_t magic;
	uint32_t relay_inbound; /* 0: no paravisor */
	uint32_t ndev;
	int32_t log_level;
	uint32_t reserved;
};

struct hp_device {
	uint32_t type;
	uint32_t kind; /* enum cvmbus_vm_remote_kind */
	struct cvmbus_offer_params offer;
	uint32_t len;
	uint32_t reserved;
	uint8_t params[CVMBUS_VM_REMOTE_PARAMS_MAX];
};

struct hp_ready {
	uint32_t type;
	int32_t rc;
	char error[160];
};

struct hp_stop {
	uint32_t type;
	uint32_t reserved;
};

/* ==== the host's end ============================================================ */

/* One device the host's process built from its description. */
struct hp_dev {
	enum cvmbus_vm_remote_kind kind;
	const struct cvmbus_vsp_ops *ops;
	void *ctx;
};

struct hp_host {
	struct cvmbus_exec *exec;
	int ctl;
	int link;
	struct hp_setup setup;
	struct cvmbus_platform *p;
	struct cvmbus_server_glue *glue;
	struct cvmbus_echo *echo;
	struct hp_dev devs[CVMBUS_VM_MAX_DEVICES];
	size_t ndev;
	char error[160];
};

static void hp_dev_destroy(struct hp_dev *d)
{
	if (d->kind == CVMBUS_VM_REMOTE_DISK)
		cvmbus_vm_disk_destroy(d->ctx);
	else if (d->kind == CVMBUS_VM_REMOTE_NIC)
		cvmbus_vm_nic_remote_destroy(d->ctx);
	memset(d, 0, sizeof(*d));
}

static int hp_build(struct hp_host *h, const struct hp_device *m, int fd)
{
	struct hp_dev *d = &h->devs[h->ndev];
	uint32_t relid;
	int rc;

	if (h->ndev >= CVMBUS_VM_MAX_DEVICES || m->len > sizeof(m->params))
		return -EINVAL;
	switch (m->kind) {
	case CVMBUS_VM_REMOTE_DISK:
		rc = cvmbus_vm_disk_remote_build(h->exec, m->params, m->len, &d->ctx);
		d->ops = cvmbus_vm_disk_vsp_ops();
		break;
	case CVMBUS_VM_REMOTE_NIC:
		/* The NIC's link socket: its builder asks the VM for its wire
		 * over it (and keeps a dup). */
		rc = cvmbus_vm_nic_remote_build(h->exec, m->params, m->len, fd, &d->ctx, &d->ops);
		break;
	default:
		rc = -EOPNOTSUPP;
		break;
	}
	if (rc)
		return rc;
	d->kind = (enum cvmbus_vm_remote_kind)m->kind;
	h->ndev++;
	return cvmbus_server_glue_add_device(h->glue, &m->offer, d->ops, d->ctx, &relid);
}

static int hp_ready(struct hp_host *h, int rc)
{
	struct hp_ready r;

	memset(&r, 0, sizeof(r));
	r.type = HP_READY;
	r.rc = rc;
	snprintf(r.error, sizeof(r.error), "%s", h->error);
	return cvmbus_seqpacket_send(h->ctl, &r, sizeof(r), -1);
}

static int hp_boot(struct hp_host *h)
{
	struct cvmbus_server_glue_config gc;
	struct cvmbus_echo_config ec = { .exec = h->exec };
	struct cvmbus_offer_params op;
	struct hp_device *m;
	uint32_t relid;
	int rc;

	rc = cvmbus_platform_attach(h->exec, h->link, &h->p, h->error, sizeof(h->error));
	h->link = -1; /* the platform owns it, even on failure */
	if (rc)
		return rc;
	cvmbus_server_glue_config_init(&gc, h->p, CVMBUS_SERVER_ROLE_HOST);
	if (h->setup.relay_inbound)
		gc.relay_inbound_connection_id = h->setup.relay_inbound;
	rc = cvmbus_server_glue_create(&gc, &h->glue);
	if (!rc)
		rc = cvmbus_echo_create(&ec, &h->echo);
	if (rc) {
		snprintf(h->error, sizeof(h->error), "host server (%d)", rc);
		return rc;
	}
	/* The same device, in the same place, as the in-process host's
	 * (host.c), so that a matrix cell reads the same either way. */
	cvmbus_echo_offer_params(&op, VM_HOST_ECHO_INSTANCE, false);
	rc = cvmbus_server_glue_add_device(h->glue, &op, cvmbus_echo_vsp_ops(), h->echo, &relid);
	if (rc) {
		snprintf(h->error, sizeof(h->error), "host echo device (%d)", rc);
		return rc;
	}
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->setup.ndev; i++) {
		int fd = -1;
		ssize_t n = cvmbus_seqpacket_recv(h->ctl, m, sizeof(*m), &fd);

		rc = n == (ssize_t)sizeof(*m) && m->type == HP_DEVICE ? hp_build(h, m, fd) : -EPROTO;
		if (fd >= 0)
			close(fd); /* a builder that keeps it made its own dup */
		if (rc) {
			snprintf(h->error, sizeof(h->error), "host device %u (kind %u): %d", i,
				 n > 0 ? m->kind : 0, rc);
			break;
		}
	}
	free(m);
	if (!rc)
		rc = cvmbus_server_glue_start(h->glue);
	return rc;
}

static int hp_main(void *arg)
{
	struct hp_host *h = arg;
	struct hp_stop st;
	int fd = -1, rc;
	ssize_t n;

	n = cvmbus_seqpacket_recv(h->ctl, &h->setup, sizeof(h->setup), &fd);
	if (n != (ssize_t)sizeof(h->setup) || h->setup.type != HP_SETUP ||
	    h->setup.magic != HP_MAGIC || fd < 0 || h->setup.ndev > CVMBUS_VM_MAX_DEVICES) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	h->link = fd;
	cvmbus_log_set_level((enum cvmbus_log_level)h->setup.log_level);
	rc = hp_boot(h);
	/* Everything the host will ever open is open: from here on it only
	 * moves bytes over what it holds. */
	if (!rc && vm_host_seccomp_supported()) {
		rc = vm_host_seccomp_install();
		if (rc)
			snprintf(h->error, sizeof(h->error), "seccomp filter (%d)", rc);
	}
	if (hp_ready(h, rc) || rc)
		goto out;
	/* Serve until told to stop, or until the VM is gone (EOF). */
	n = cvmbus_seqpacket_recv(h->ctl, &st, sizeof(st), &fd);
	if (fd >= 0)
		close(fd);
	rc = 0;
out:
	if (h->glue)
		cvmbus_server_glue_stop(h->glue);
	cvmbus_server_glue_destroy(h->glue);
	cvmbus_echo_destroy(h->echo);
	for (size_t i = 0; i < h->ndev; i++)
		hp_dev_destroy(&h->devs[i]);
	cvmbus_platform_destroy(h->p);
	if (h->link >= 0)
		close(h->link);
	st.type = HP_STOPPED;
	st.reserved = 0;
	(void)cvmbus_seqpacket_send(h->ctl, &st, sizeof(st), -1);
	return rc;
}

int cvmbus_host_process_main(int ctl_fd)
{
	struct hp_host h;
	int rc, ret = 0;

	/* Nothing of the parent's but the control socket: whatever else was
	 * open without O_CLOEXEC (a test's files, a TAP) is not the host's. */
	if (ctl_fd != HP_CTL_FD) {
		if (dup2(ctl_fd, HP_CTL_FD) < 0)
			return 2;
		ctl_fd = HP_CTL_FD;
	}
	for (int fd = HP_CTL_FD + 1; fd < 1024; fd++)
		(void)close(fd);
	/* A host outlives no VM: if the VM's process dies, so do we, even if
	 * a thread of ours is stuck somewhere that would not notice the
	 * control socket's EOF. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	memset(&h, 0, sizeof(h));
	h.ctl = ctl_fd;
	h.link = -1;
	rc = cvmbus_exec_native_create(&h.exec);
	if (rc)
		return 2;
	rc = cvmbus_exec_run(h.exec, hp_main, &h, &ret);
	cvmbus_exec_destroy(h.exec);
	close(ctl_fd);
	return rc || ret ? 1 : 0;
}

/* ==== the VM's end =============================================================== */

static const char *hp_binary(const struct cvmbus_vm *vm)
{
	const char *env = getenv("CVMBUS_HOST_BINARY");

	if (vm->cfg.host_binary && *vm->cfg.host_binary)
		return vm->cfg.host_binary;
	if (env && *env)
		return env;
#ifdef CVMBUS_HOST_BUILD_PATH
	if (access(CVMBUS_HOST_BUILD_PATH, X_OK) == 0)
		return CVMBUS_HOST_BUILD_PATH;
#endif
	return CVMBUS_HOST_INSTALL_PATH;
}

/* Wait up to timeout_ns for one datagram on the control socket. */
static ssize_t hp_recv_timeout(int ctl, void *buf, size_t cap, uint64_t timeout_ns)
{
	struct timeval tv = {
		.tv_sec = (time_t)(timeout_ns / 1000000000ull),
		.tv_usec = (suseconds_t)(timeout_ns % 1000000000ull / 1000ull),
	};
	int fd = -1;
	ssize_t n;

	if (setsockopt(ctl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	n = cvmbus_seqpacket_recv(ctl, buf, cap, &fd);
	if (fd >= 0)
		close(fd);
	return n == -EAGAIN || n == -EWOULDBLOCK ? -ETIMEDOUT : n;
}

/* What became of the host's process, in words, without reaping it (the
 * reaping stays with vm_hostproc_stop): "exited with status 1", "killed by
 * signal 6", or "still running" if it has not finished dying within ~200 ms.
 * A lost link or a missing READY is only worth reporting with this. */
static const char *hp_fate(pid_t pid, char *buf, size_t len)
{
	siginfo_t si;

	snprintf(buf, len, "still running");
	if (pid <= 0)
		return buf;
	for (int i = 0; i < 20; i++) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
			break;
		if (si.si_pid == pid) {
			if (si.si_code == CLD_EXITED)
				snprintf(buf, len, "exited with status %d", si.si_status);
			else
				snprintf(buf, len, "killed by signal %d (%s)", si.si_status,
					 strsignal(si.si_status));
			break;
		}
		usleep(10000);
	}
	return buf;
}

static void hp_lost(void *ctx, int why)
{
	struct cvmbus_vm *vm = ctx;
	char fate[64];

	atomic_store(&vm->host.lost, true);
	/* A host we told to stop hangs up as it exits: no news. */
	if (atomic_load(&vm->host.stopping))
		cvmbus_log_debug("vm: the host process hung up after STOP (%d)", why);
	else
		cvmbus_log_warn("vm: the host process is gone (%d): %s", why,
				hp_fate(vm->host.pid, fate, sizeof(fate)));
	/* The paravisor's relay turns a lost host into rescinds of every
	 * relayed channel, so the guest's requests on them fail instead of
	 * waiting for a host that will never answer. */
	if (vm->para.pv)
		cvmbus_paravisor_host_lost(vm->para.pv);
}

static int hp_send_devices(struct cvmbus_vm *vm, int ctl)
{
	struct hp_device *m = malloc(sizeof(*m));
	int rc = 0;

	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < vm->device_count && !rc; i++) {
		const struct cvmbus_vm_device *d = &vm->devices[i];

		if (d->owner != CVMBUS_VM_OWNER_HOST)
			continue;
		memset(m, 0, sizeof(*m));
		m->type = HP_DEVICE;
		m->kind = (uint32_t)d->remote;
		m->offer = d->offer;
		m->len = (uint32_t)d->remote_params_len;
		if (d->remote_params_len)
			memcpy(m->params, d->remote_params, d->remote_params_len);
		rc = cvmbus_seqpacket_send(ctl, m, sizeof(*m), d->remote_has_fd ? d->remote_fd : -1);
	}
	free(m);
	return rc;
}

int vm_hostproc_start(struct cvmbus_vm *vm)
{
	struct vm_host *h = &vm->host;
	struct cvmbus_hostlink_config lc = { .on_lost = hp_lost, .ctx = vm };
	posix_spawn_file_actions_t fa;
	struct hp_setup setup;
	char **envp = NULL;
	size_t nenv = 0;
	struct hp_ready ready;
	char *argv[] = { (char *)"cvmbus-host", NULL };
	int ctl[2] = { -1, -1 }, link[2] = { -1, -1 };
	uint32_t ndev = 0;
	const char *bin = hp_binary(vm);
	ssize_t n;
	int rc;

	atomic_store(&h->stopping, false);
	for (size_t i = 0; i < vm->device_count; i++) {
		if (vm->devices[i].owner != CVMBUS_VM_OWNER_HOST)
			continue;
		if (vm->devices[i].remote == CVMBUS_VM_REMOTE_NONE ||
		    vm->devices[i].remote_params_len > CVMBUS_VM_REMOTE_PARAMS_MAX) {
			vm_fail(vm, -EOPNOTSUPP, "host device %s cannot run in the host's process",
				vm->devices[i].name ? vm->devices[i].name : "?");
			return -EOPNOTSUPP;
		}
		ndev++;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, link) < 0) {
		rc = -errno;
		vm_fail(vm, rc, "host process: socketpair (%d)", rc);
		goto fail;
	}
	/* The child gets its control socket as fd 3 (dup2 clears CLOEXEC
	 * there); every other fd of ours is CLOEXEC or closed by the child
	 * before it reads anything. */
	/* Our environment, less LD_PRELOAD: what was preloaded into this
	 * process (a sanitizer runtime for an uninstrumented nbdkit, say)
	 * is not the host program's, which carries its own. */
	while (environ && environ[nenv])
		nenv++;
	envp = calloc(nenv + 1, sizeof(*envp));
	if (!envp) {
		rc = -ENOMEM;
		goto fail;
	}
	nenv = 0;
	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11))
			envp[nenv++] = *e;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, ctl[1], HP_CTL_FD);
	rc = -posix_spawn(&h->pid, bin, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	close(ctl[1]);
	ctl[1] = -1;
	if (rc) {
		h->pid = 0;
		vm_fail(vm, rc, "host process: cannot run %s (%d)", bin, rc);
		goto fail;
	}
	h->ctl = ctl[0];
	ctl[0] = -1;

	memset(&setup, 0, sizeof(setup));
	setup.type = HP_SETUP;
	setup.magic = HP_MAGIC;
	setup.relay_inbound = vm->cfg.paravisor ? CVMBUS_RELAY_INBOUND_CONNECTION_ID : 0;
	setup.ndev = ndev;
	setup.log_level = (int32_t)cvmbus_log_get_level();
	/* The link first: its HELLO (with the shared memfd) is waiting on the
	 * socket by the time the host reads SETUP and attaches. */
	rc = cvmbus_hostlink_serve(vm->p, link[0], &lc, &h->link);
	link[0] = -1;
	if (!rc)
		rc = cvmbus_seqpacket_send(h->ctl, &setup, sizeof(setup), link[1]);
	close(link[1]);
	link[1] = -1;
	if (!rc)
		rc = hp_send_devices(vm, h->ctl);
	if (rc) {
		vm_fail(vm, rc, "host process: setup (%d)", rc);
		return rc;
	}
	n = hp_recv_timeout(h->ctl, &ready, sizeof(ready), HP_READY_NS);
	if (n != (ssize_t)sizeof(ready) || ready.type != HP_READY) {
		char fate[64];

		rc = n < 0 ? (int)n : -EPROTO;
		vm_fail(vm, rc, "host process: no READY (%d): %s", rc,
			hp_fate(h->pid, fate, sizeof(fate)));
		return rc;
	}
	if (ready.rc) {
		ready.error[sizeof(ready.error) - 1] = '\0';
		vm_fail(vm, ready.rc, "host process: %s (%d)", ready.error, ready.rc);
		return ready.rc;
	}
	return 0;

fail:
	for (int i = 0; i < 2; i++) {
		if (ctl[i] >= 0)
			close(ctl[i]);
		if (link[i] >= 0)
			close(link[i]);
	}
	return rc;
}

void vm_hostproc_stop(struct cvmbus_vm *vm)
{
	struct vm_host *h = &vm->host;
	struct hp_stop st = { .type = HP_STOP };
	uint64_t waited = 0;
	int status;

	atomic_store(&h->stopping, true);
	if (h->ctl >= 0 && !atomic_load(&h->lost) &&
	    !cvmbus_seqpacket_send(h->ctl, &st, sizeof(st), -1))
		(void)hp_recv_timeout(h->ctl, &st, sizeof(st), HP_STOP_NS);
	/* The link goes after the host has let go of its ports (or died). */
	cvmbus_hostlink_close(h->link);
	h->link = NULL;
	if (h->ctl >= 0)
		close(h->ctl);
	h->ctl = -1;
	if (h->pid > 0) {
		bool killed = false;

		/* It exits right after STOPPED; one that does not is killed
		 * rather than waited for forever. */
		status = 0;
		while (waitpid(h->pid, &status, WNOHANG) == 0) {
			if (waited >= 5000) {
				kill(h->pid, SIGKILL);
				(void)waitpid(h->pid, &status, 0);
				killed = true;
				break;
			}
			usleep(1000);
			waited++;
		}
		/* A host that crashed (a sanitizer's abort, say) says so here,
		 * where its stderr (inherited) is next to this line. */
		if (killed)
			cvmbus_log_warn("vm: the host process did not stop: killed");
		else if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status)))
			cvmbus_log_warn("vm: the host process ended badly: %s %d",
					WIFSIGNALED(status) ? "signal" : "exit status",
					WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	}
	h->pid = 0;
}

pid_t cvmbus_vm_host_pid(struct cvmbus_vm *vm)
{
	return vm && vm->running ? vm->host.pid : 0;
}

bool cvmbus_vm_host_lost(struct cvmbus_vm *vm)
{
	return vm && atomic_load(&vm->host.lost);
}

int cvmbus_vm_host_restart(struct cvmbus_vm *vm)
{
	int rc;

	if (!vm || !vm->running || !vm->cfg.processes || !vm->para.pv)
		return -EINVAL;
	if (!atomic_load(&vm->host.lost))
		return -EBUSY;
	/* The old one: reaped, its link closed (it is dead: no STOP). */
	vm_hostproc_stop(vm);
	atomic_store(&vm->host.lost, false);
	rc = vm_hostproc_start(vm);
	if (rc)
		return rc;
	rc = cvmbus_paravisor_host_restarted(vm->para.pv);
	if (!rc)
		vm->host.restarts++;
	return rc;
}
