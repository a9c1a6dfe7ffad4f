/* SPDX-License-Identifier: MIT */
/*
 * The network adapter of a whole VM (include/cvmbus/vm_nic.h; src/vm, the
 * top layer): the netvsp device of src/dev served as a VSP of the VM's host
 * or paravisor (struct cvmbus_vsp_ops: it starts when the guest opens the
 * channel and stops when it closes), the guest's netvsc driver over the
 * channel the guest opened, and a backend on each side: a TAP in a named
 * network namespace read by a poll(2) loop of ours, or a pair of callbacks
 * for tests. Nothing here knows which path it is on: the owner picks the
 * server that offers the device, and the server's memory rules decide
 * whether the buffers are host-visible.
 *
 * Locking: `lock` guards the pointers to the running device and driver and
 * the statistics kept when they stop. Backend callbacks (the device's
 * tx_frame, the driver's rx_frame) run on their receive threads and never
 * take it: they only count, with atomics, and write to the backend.
 */
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cvmbus/log.h>
#include <cvmbus/vm_nic.h>

#include "vm/vm_internal.h"

#define NIC_DEFAULT_INSTANCE 0x0c0ffee1u
#define NIC_DEFAULT_HOST_IF  "cvmbus-h0"
#define NIC_DEFAULT_GUEST_IF "cvmbus-g0"
#define NIC_NETNS_MAX        128u
/* The largest frame a reader takes: a jumbo MTU plus header, with room to
 * spare so that a longer frame is seen (and refused) rather than cut. */
#define NIC_FRAME_MAX (CVMBUS_NET_MAX_MTU + CVMBUS_NET_ETH_HLEN + 64u)
#define NIC_SEC         1000000000ull
#define NIC_POLL_NS     (50ull * 1000000ull)
/* The probe frame: IEEE 802 local experimental ethertype 1. */
#define NIC_PROBE_ETHERTYPE 0x88b5u

/* One side's wire counters; single writers mostly, but a test's send call
 * and a reader may count at once, and readers of the stats come from
 * anywhere. */
struct nic_counters {
	_Atomic uint64_t in_frames, in_bytes, in_dropped;
	_Atomic uint64_t out_frames, out_bytes, out_errors;
};

/* A TAP reader: our own loop rather than net_tap's, because the device's
 * reader must stop with the channel's close while the interface (and the
 * addresses the user gave it) stays until the NIC is destroyed. */
struct nic_reader {
	int fd;      /* the TAP's, non-blocking */
	int stop_fd; /* eventfd: wakes the loop out of poll */
	_Atomic bool stop;
	int (*deliver)(void *dev, const void *frame, size_t len, uint64_t timeout_ns);
	void *dev;
	uint64_t wait_ns;
	struct nic_counters *cnt;
	struct cvmbus_thread *thread;
};

struct nic_side {
	struct cvmbus_net_tap *tap; /* NULL: callback backend */
	cvmbus_net_frame_fn *rx;
	void *rx_ctx;
	char netns[NIC_NETNS_MAX];
	struct nic_reader reader;
	struct nic_counters cnt;
};

/* The guest channel's GPADL ops, when the guest's channel has none of its
 * own (see nic_shim_install). */
struct nic_shim {
	bool installed;
	/* Teardowns asked for while the channel is open are only noted: the
	 * server keeps a GPADL a device has looked up until the channel
	 * closes, so the guest waits for the close first (as Linux's netvsc
	 * tears its buffers down after vmbus_close). */
	bool defer;
	struct cvmbus_channel *ch;
	const struct cvmbus_channel_ops *orig_ops;
	void *orig_ctx;
	struct cvmbus_channel_ops ops;
	struct cvmbus_guest *g;
	struct cvmbus_mem *mem;
	uint32_t relid;
	struct nic_shim_gpadl {
		bool used;
		uint32_t id;
		uint64_t *pfns;
	} gpadls[2];
};

enum nic_guest_state {
	NIC_GUEST_IDLE = 0, /* not started (or stopped) */
	NIC_GUEST_STARTING,
	NIC_GUEST_RUNNING,
};

struct cvmbus_vm_nic {
	struct cvmbus_vm_nic_config cfg;
	struct cvmbus_exec *exec;
	struct cvmbus_offer_params offer;
	struct cvmbus_vsp_ops ops;
	struct nic_side host, guest;
	struct cvmbus_mutex lock;
	/* Guarded by lock. */
	bool device_busy;              /* a channel is being served (or opening) */
	struct cvmbus_netvsp *vsp;     /* the device, while it serves */
	struct cvmbus_netvsc *vsc;     /* the driver, while the guest side runs */
	struct cvmbus_netvsp_stats vsp_last;
	struct cvmbus_netvsc_stats vsc_last;
	struct cvmbus_netvsc_info info;
	bool device_opened, connected, gpadl_shim;
	int connect_status;
	uint32_t relid;
	/* The guest side: written by the workload thread only. */
	enum nic_guest_state guest_state;
	struct cvmbus_vm *vm;
	struct cvmbus_guest *g;
	struct cvmbus_channel *ch;
	struct nic_shim shim;
};

static const struct cvmbus_guid nic_class = CVMBUS_VM_NIC_INTERFACE_ID_INIT;

const char *cvmbus_vm_nic_path_name(enum cvmbus_vm_owner owner)
{
	return owner == CVMBUS_VM_OWNER_PARAVISOR ? "confidential" : "host";
}

/* ---- the backends' output: the device's wire, the guest's stack ----------- */

static void nic_out(struct nic_side *s, const void *frame, size_t len)
{
	int rc = 0;

	if (s->tap)
		rc = cvmbus_net_tap_write(s->tap, frame, len);
	else if (s->rx)
		s->rx(s->rx_ctx, frame, len);
	if (rc) {
		atomic_fetch_add_explicit(&s->cnt.out_errors, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&s->cnt.out_frames, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->cnt.out_bytes, len, memory_order_relaxed);
}

static void nic_host_out(void *ctx, const void *frame, size_t len)
{
	nic_out(&((struct cvmbus_vm_nic *)ctx)->host, frame, len);
}

static void nic_guest_out(void *ctx, const void *frame, size_t len)
{
	nic_out(&((struct cvmbus_vm_nic *)ctx)->guest, frame, len);
}

static void nic_count_in(struct nic_counters *c, size_t len, int rc)
{
	atomic_fetch_add_explicit(&c->in_frames, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->in_bytes, len, memory_order_relaxed);
	if (rc)
		atomic_fetch_add_explicit(&c->in_dropped, 1, memory_order_relaxed);
}

static int nic_to_vsp(void *dev, const void *frame, size_t len, uint64_t timeout_ns)
{
	return cvmbus_netvsp_send_frame(dev, frame, len, timeout_ns);
}

static int nic_to_vsc(void *dev, const void *frame, size_t len, uint64_t timeout_ns)
{
	return cvmbus_netvsc_send_frame(dev, frame, len, timeout_ns);
}

/* ---- TAP readers ----------------------------------------------------------- */

static int nic_reader_loop(void *arg)
{
	struct nic_reader *r = arg;
	uint8_t *buf = malloc(NIC_FRAME_MAX);

	if (!buf)
		return -ENOMEM;
	while (!atomic_load_explicit(&r->stop, memory_order_acquire)) {
		struct pollfd p[2] = {
			{ .fd = r->fd, .events = POLLIN },
			{ .fd = r->stop_fd, .events = POLLIN },
		};
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			break;
		/* Drain what is there (the fd is non-blocking), but look at
		 * the stop flag between frames: a flood must not keep the
		 * loop from ever seeing it. */
		while (!atomic_load_explicit(&r->stop, memory_order_relaxed) &&
		       (n = read(r->fd, buf, NIC_FRAME_MAX)) > 0)
			nic_count_in(r->cnt, (size_t)n, r->deliver(r->dev, buf, (size_t)n, r->wait_ns));
	}
	free(buf);
	return 0;
}

static int nic_reader_start(struct nic_reader *r, struct cvmbus_exec *exec, const char *name,
			    int fd, int (*deliver)(void *, const void *, size_t, uint64_t),
			    void *dev, uint64_t wait_ns, struct nic_counters *cnt)
{
	uint64_t v;
	int rc;

	r->fd = fd;
	r->deliver = deliver;
	r->dev = dev;
	r->wait_ns = wait_ns;
	r->cnt = cnt;
	atomic_store(&r->stop, false);
	/* A stop left over from the side's last run would end this one at
	 * once: drain the eventfd first. */
	while (read(r->stop_fd, &v, sizeof(v)) > 0) {
	}
	rc = cvmbus_thread_spawn(exec, &r->thread, name, nic_reader_loop, r);
	if (rc)
		r->thread = NULL;
	return rc;
}

/* Ask the loop to stop; the join comes later, once whatever it may be
 * blocked in (a wait for a section) was woken by its device's stop. */
static void nic_reader_signal(struct nic_reader *r)
{
	uint64_t one = 1;

	if (!r->thread)
		return;
	atomic_store_explicit(&r->stop, true, memory_order_release);
	if (write(r->stop_fd, &one, sizeof(one)) < 0) {
		/* Fails only on counter overflow: it is signalled already. */
	}
}

static void nic_reader_join(struct nic_reader *r)
{
	if (!r->thread)
		return;
	(void)cvmbus_thread_join(r->thread, NULL);
	r->thread = NULL;
}

/* ---- the device (a VSP of the host or of the paravisor) -------------------- */

static int nic_vsp_open(void *ctx, struct cvmbus_vsp_channel *vc)
{
	struct cvmbus_vm_nic *nic = ctx;
	struct cvmbus_netvsp_config vcfg;
	struct cvmbus_netvsp *vsp = NULL;
	int rc;

	/* Runs on a server thread with the server's lock held: nothing here
	 * calls back into the server. One channel at a time: the offer is
	 * one device. */
	cvmbus_mutex_lock(&nic->lock);
	rc = nic->device_busy ? -EBUSY : 0;
	nic->device_busy = true;
	cvmbus_mutex_unlock(&nic->lock);
	if (rc)
		return rc;

	memset(&vcfg, 0, sizeof(vcfg));
	vcfg.ch = vc->channel;
	memcpy(vcfg.mac, nic->cfg.mac, sizeof(vcfg.mac));
	vcfg.mtu = nic->cfg.mtu;
	vcfg.tx_frame = nic_host_out;
	vcfg.tx_ctx = nic;
	rc = cvmbus_netvsp_create(nic->exec, &vcfg, &vsp);
	if (rc)
		goto fail;
	rc = cvmbus_netvsp_start(vsp);
	if (rc)
		goto fail_vsp;
	if (nic->host.tap) {
		rc = nic_reader_start(&nic->host.reader, nic->exec, "nic-host-tap",
				      cvmbus_net_tap_fd(nic->host.tap), nic_to_vsp, vsp,
				      nic->cfg.wait_ns, &nic->host.cnt);
		if (rc)
			goto fail_vsp;
	}
	cvmbus_mutex_lock(&nic->lock);
	nic->vsp = vsp;
	nic->device_opened = true;
	cvmbus_mutex_unlock(&nic->lock);
	vc->device_data = vsp;
	cvmbus_log_info("nic: device serving relid %u (%s server)", vc->relid,
			vc->role == CVMBUS_SERVER_ROLE_PARAVISOR ? "paravisor" : "host");
	return 0;

fail_vsp:
	cvmbus_netvsp_destroy(vsp);
fail:
	cvmbus_mutex_lock(&nic->lock);
	nic->device_busy = false;
	cvmbus_mutex_unlock(&nic->lock);
	cvmbus_log_warn("nic: device open failed (%d)", rc);
	return rc;
}

static void nic_vsp_close(void *ctx, struct cvmbus_vsp_channel *vc)
{
	struct cvmbus_vm_nic *nic = ctx;
	struct cvmbus_netvsp *vsp = vc->device_data;

	if (!vsp)
		return;
	/* The reader may wait for a receive section inside the device: stop
	 * the device first (every waiter returns), then join the reader. */
	nic_reader_signal(&nic->host.reader);
	cvmbus_netvsp_stop(vsp);
	nic_reader_join(&nic->host.reader);
	cvmbus_mutex_lock(&nic->lock);
	cvmbus_netvsp_get_stats(vsp, &nic->vsp_last);
	nic->vsp = NULL;
	nic->device_busy = false;
	cvmbus_mutex_unlock(&nic->lock);
	cvmbus_netvsp_destroy(vsp);
	vc->device_data = NULL;
}

/* ---- the guest channel's GPADL ops ---------------------------------------- */

/*
 * netvsc asks its channel for the buffer GPADLs (cvmbus_channel_gpadl_create),
 * but the guest's channel objects (src/client/guest_channel.c) have no GPADL
 * ops: the guest offers them as cvmbus_guest_gpadl_create instead. Until the
 * channel carries them itself, the NIC lays these ops over the channel's for
 * the driver's lifetime: signal and memory go to the guest's own ops
 * unchanged, GPADLs to the guest's API. They are installed before the driver
 * exists and removed after it is destroyed, when nobody else calls the
 * channel's ops (the guest's interrupt path only rings its doorbells).
 */
static void nic_shim_signal(void *ctx)
{
	struct nic_shim *s = ctx;

	s->orig_ops->signal(s->orig_ctx);
}

static int nic_shim_read(void *ctx, uint64_t gpa, void *dst, size_t len)
{
	struct nic_shim *s = ctx;

	return s->orig_ops->mem_read ? s->orig_ops->mem_read(s->orig_ctx, gpa, dst, len) : -EFAULT;
}

static int nic_shim_write(void *ctx, uint64_t gpa, const void *src, size_t len)
{
	struct nic_shim *s = ctx;

	return s->orig_ops->mem_write ? s->orig_ops->mem_write(s->orig_ctx, gpa, src, len)
				      : -EFAULT;
}

static int nic_shim_gpadl_create(void *ctx, uint64_t bytes, struct cvmbus_gpadl_info *out)
{
	struct nic_shim *s = ctx;
	struct nic_shim_gpadl *slot = NULL;
	struct cvmbus_mem_exposure_page ep;
	uint64_t gpa, npages;
	uint32_t id;
	int rc;

	if (!bytes || bytes % CVMBUS_MEM_PAGE_SIZE)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(s->gpadls) / sizeof(s->gpadls[0]); i++)
		if (!s->gpadls[i].used) {
			slot = &s->gpadls[i];
			break;
		}
	if (!slot)
		return -ENOSPC;
	npages = bytes / CVMBUS_MEM_PAGE_SIZE;
	slot->pfns = calloc(npages, sizeof(*slot->pfns));
	if (!slot->pfns)
		return -ENOMEM;
	rc = cvmbus_guest_gpadl_create(s->g, s->relid, bytes, &id, &gpa);
	if (rc) {
		free(slot->pfns);
		slot->pfns = NULL;
		return rc;
	}
	/* The guest allocates a buffer as one contiguous run. */
	for (uint64_t i = 0; i < npages; i++)
		slot->pfns[i] = gpa / CVMBUS_MEM_PAGE_SIZE + i;
	slot->used = true;
	slot->id = id;
	memset(out, 0, sizeof(*out));
	out->id = id;
	out->gpa = gpa;
	out->bytes = bytes;
	out->pfns = slot->pfns;
	out->pfn_count = (uint32_t)npages;
	/* What the guest actually did with the pages, from the exposure
	 * account, rather than what we expect of its rule. */
	out->shared = cvmbus_mem_exposure_page(s->mem, gpa, &ep) == 0 && ep.visible_now;
	return 0;
}

static int nic_shim_gpadl_teardown(void *ctx, uint32_t id)
{
	struct nic_shim *s = ctx;

	for (size_t i = 0; i < sizeof(s->gpadls) / sizeof(s->gpadls[0]); i++) {
		struct nic_shim_gpadl *slot = &s->gpadls[i];
		int rc;

		if (!slot->used || slot->id != id)
			continue;
		if (s->defer)
			return 0;
		rc = cvmbus_guest_gpadl_teardown(s->g, s->relid, id);
		free(slot->pfns);
		memset(slot, 0, sizeof(*slot));
		return rc;
	}
	return -ENOENT;
}

/* Returns whether the shim was needed. */
static bool nic_shim_install(struct nic_shim *s, struct cvmbus_channel *ch,
			     struct cvmbus_guest *g, struct cvmbus_mem *mem, uint32_t relid)
{
	memset(s, 0, sizeof(*s));
	if (ch->ops && ch->ops->gpadl_create)
		return false;
	s->ch = ch;
	s->orig_ops = ch->ops;
	s->orig_ctx = ch->ctx;
	s->g = g;
	s->mem = mem;
	s->relid = relid;
	s->ops.signal = nic_shim_signal;
	s->ops.mem_read = nic_shim_read;
	s->ops.mem_write = nic_shim_write;
	s->ops.gpadl_create = nic_shim_gpadl_create;
	s->ops.gpadl_teardown = nic_shim_gpadl_teardown;
	ch->ops = &s->ops;
	ch->ctx = s;
	s->installed = true;
	return true;
}

/* Give the channel its own ops back (before the guest closes and frees
 * it); the GPADLs stay until nic_shim_release. */
static void nic_shim_remove(struct nic_shim *s)
{
	if (!s->installed)
		return;
	s->ch->ops = s->orig_ops;
	s->ch->ctx = s->orig_ctx;
	s->ch = NULL;
	s->installed = false;
}

/* After the channel's close: the teardowns the driver asked for (and any
 * it never reached, having failed half-way), so the guest's RAM comes
 * back. */
static void nic_shim_release(struct nic_shim *s)
{
	s->defer = false;
	for (size_t i = 0; i < sizeof(s->gpadls) / sizeof(s->gpadls[0]); i++)
		if (s->gpadls[i].used) {
			int rc = nic_shim_gpadl_teardown(s, s->gpadls[i].id);

			if (rc)
				cvmbus_log_warn("nic: teardown of gpadl %#x failed (%d)",
						s->gpadls[i].id, rc);
		}
}

/* ---- create / destroy -------------------------------------------------------- */

static int nic_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int nic_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* A namespace named as `ip netns` names it must exist under /run/netns (an
 * absolute path is taken as given). */
static int nic_check_netns(const char *ns, char *err, size_t errlen)
{
	char path[NIC_NETNS_MAX + 16];
	struct stat st, self;

	if (!ns[0] || strlen(ns) >= NIC_NETNS_MAX || (ns[0] != '/' && strchr(ns, '/')))
		return nic_fail(err, errlen, -EINVAL, "bad namespace name '%s'", ns);
	if (ns[0] == '/')
		snprintf(path, sizeof(path), "%s", ns);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
	if (stat(path, &st) != 0)
		return nic_fail(err, errlen, -ENOENT,
				"network namespace '%s' does not exist (make it with 'ip netns add')",
				ns);
	/* A name that is bound to our own namespace would put the NIC's
	 * interfaces (and the addresses a caller gives them) into the
	 * namespace the caller lives in, usually the root one: refused. */
	if (stat("/proc/self/ns/net", &self) == 0 && self.st_dev == st.st_dev &&
	    self.st_ino == st.st_ino)
		return nic_fail(err, errlen, -EINVAL,
				"namespace '%s' is this process's own namespace: use a separate one",
				ns);
	return 0;
}

static int nic_open_tap(struct nic_side *s, const char *ifname, uint32_t mtu, char *err,
			size_t errlen)
{
	struct cvmbus_net_tap_config tc = {
		.ifname = ifname,
		.netns = s->netns,
		.mtu = mtu,
		.up = true,
	};
	int rc;

	if (strlen(ifname) >= IFNAMSIZ)
		return nic_fail(err, errlen, -EINVAL, "interface name '%s' is too long", ifname);
	rc = cvmbus_net_tap_open(&tc, &s->tap);
	if (rc == -EPERM || rc == -EACCES)
		return nic_fail(err, errlen, -EPERM,
				"cannot make tap '%s': CAP_NET_ADMIN needed (run as root)", ifname);
	if (rc == -EBUSY || rc == -EEXIST)
		return nic_fail(err, errlen, rc, "interface '%s' is in use in its namespace",
				ifname);
	if (rc)
		return nic_fail(err, errlen, rc, "cannot make tap '%s' in namespace '%s' (%d)",
				ifname, s->netns, rc);
	s->reader.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->reader.stop_fd < 0)
		return nic_fail(err, errlen, -errno, "cannot make an eventfd");
	return 0;
}

static int nic_check_config(const struct cvmbus_vm_nic_config *c, char *err, size_t errlen)
{
	if (c->owner != CVMBUS_VM_OWNER_HOST && c->owner != CVMBUS_VM_OWNER_PARAVISOR)
		return nic_fail(err, errlen, -EINVAL, "unknown owner");
	if (c->mtu && (c->mtu < 68 || c->mtu > CVMBUS_NET_MAX_MTU))
		return nic_fail(err, errlen, -EINVAL, "mtu must be 68..9000");
	if (c->ring_bytes && (c->ring_bytes % CVMBUS_MEM_PAGE_SIZE ||
			      c->ring_bytes < 2 * CVMBUS_MEM_PAGE_SIZE))
		return nic_fail(err, errlen, -EINVAL,
				"ring size must be a multiple of 4096, at least 8192");
	if ((c->recv_buf_bytes && c->recv_buf_bytes % CVMBUS_MEM_PAGE_SIZE) ||
	    (c->send_buf_bytes && c->send_buf_bytes % CVMBUS_MEM_PAGE_SIZE))
		return nic_fail(err, errlen, -EINVAL, "buffer sizes must be multiples of 4096");
	if (!c->host_netns && !c->host_rx)
		return nic_fail(err, errlen, -EINVAL, "the host side needs a namespace or a callback");
	if (!c->guest_netns && !c->guest_rx)
		return nic_fail(err, errlen, -EINVAL,
				"the guest side needs a namespace or a callback");
	if (c->mac[0] & 1)
		return nic_fail(err, errlen, -EINVAL, "the mac must be a unicast address");
	return 0;
}

int cvmbus_vm_nic_create(struct cvmbus_vm *vm, const struct cvmbus_vm_nic_config *cfg,
			 struct cvmbus_vm_nic **out, char *err, size_t errlen)
{
	static const uint8_t default_mac[CVMBUS_NET_ETH_ALEN] = CVMBUS_VM_NIC_DEFAULT_MAC;
	static const uint8_t zero_mac[CVMBUS_NET_ETH_ALEN] = { 0 };
	struct cvmbus_vm_device dev;
	struct cvmbus_vm_nic *nic;
	bool tap = cfg && (cfg->host_netns || cfg->guest_netns);
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!vm || !cfg || !out)
		return -EINVAL;
	*out = NULL;
	rc = nic_check_config(cfg, err, errlen);
	if (rc)
		return rc;
	if (cfg->owner == CVMBUS_VM_OWNER_PARAVISOR && !vm->cfg.paravisor)
		return nic_fail(err, errlen, -EINVAL,
				"the confidential path (the paravisor's nic) needs a paravisor");
	if (tap && cvmbus_exec_kind(cvmbus_vm_exec(vm)) != CVMBUS_EXEC_NATIVE)
		return nic_fail(err, errlen, -EINVAL,
				"a tap backend needs the native executor (its reader blocks in poll)");
	if (cfg->host_netns && cfg->guest_netns && !strcmp(cfg->host_netns, cfg->guest_netns))
		return nic_fail(err, errlen, -EINVAL,
				"the guest and host namespaces must differ (both are '%s')",
				cfg->host_netns);
	if (cfg->host_netns && (rc = nic_check_netns(cfg->host_netns, err, errlen)))
		return rc;
	if (cfg->guest_netns && (rc = nic_check_netns(cfg->guest_netns, err, errlen)))
		return rc;

	nic = calloc(1, sizeof(*nic));
	if (!nic)
		return -ENOMEM;
	nic->cfg = *cfg;
	nic->host.reader.stop_fd = -1;
	nic->guest.reader.stop_fd = -1;
	if (!memcmp(nic->cfg.mac, zero_mac, sizeof(zero_mac)))
		memcpy(nic->cfg.mac, default_mac, sizeof(default_mac));
	if (!nic->cfg.mtu)
		nic->cfg.mtu = CVMBUS_NET_DEFAULT_MTU;
	if (!nic->cfg.instance)
		nic->cfg.instance = NIC_DEFAULT_INSTANCE;
	if (!nic->cfg.ring_bytes)
		nic->cfg.ring_bytes = CVMBUS_VM_NIC_DEFAULT_RING;
	if (!nic->cfg.recv_buf_bytes)
		nic->cfg.recv_buf_bytes = CVMBUS_VM_NIC_DEFAULT_RECV_BUF;
	if (!nic->cfg.send_buf_bytes)
		nic->cfg.send_buf_bytes = CVMBUS_VM_NIC_DEFAULT_SEND_BUF;
	if (!nic->cfg.wait_ns)
		nic->cfg.wait_ns = CVMBUS_VM_NIC_DEFAULT_WAIT_NS;
	/* The strings are the caller's: keep our own copies. */
	nic->cfg.host_netns = nic->cfg.guest_netns = NULL;
	nic->cfg.host_ifname = nic->cfg.guest_ifname = NULL;
	nic->exec = cvmbus_vm_exec(vm);
	cvmbus_mutex_init(&nic->lock, nic->exec, "vm-nic");
	nic->host.rx = cfg->host_rx;
	nic->host.rx_ctx = cfg->host_rx_ctx;
	nic->guest.rx = cfg->guest_rx;
	nic->guest.rx_ctx = cfg->guest_rx_ctx;

	if (cfg->host_netns) {
		snprintf(nic->host.netns, sizeof(nic->host.netns), "%s", cfg->host_netns);
		rc = nic_open_tap(&nic->host, cfg->host_ifname ? cfg->host_ifname : NIC_DEFAULT_HOST_IF,
				  nic->cfg.mtu, err, errlen);
		if (rc)
			goto fail;
	}
	if (cfg->guest_netns) {
		snprintf(nic->guest.netns, sizeof(nic->guest.netns), "%s", cfg->guest_netns);
		rc = nic_open_tap(&nic->guest,
				  cfg->guest_ifname ? cfg->guest_ifname : NIC_DEFAULT_GUEST_IF,
				  nic->cfg.mtu, err, errlen);
		if (rc)
			goto fail;
	}

	memset(&nic->offer, 0, sizeof(nic->offer));
	nic->offer.interface_id = nic_class;
	nic->offer.instance_id.data1 = nic->cfg.instance;
	nic->offer.instance_id.data2 = 0x4e49; /* "NI" */
	nic->offer.instance_id.data3 = 0x4300; /* "C" */
	nic->offer.instance_id.data4[0] = 0x80;
	nic->offer.offer_order = CVMBUS_OFFER_ORDER_NONE;
	/* The paravisor's NIC can reach private memory (its device reads
	 * through the paravisor's view), so it asks for confidential external
	 * memory: on a confidential connection the buffers then stay private.
	 * The host's never can. */
	if (cfg->owner == CVMBUS_VM_OWNER_PARAVISOR)
		nic->offer.flags = CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY;
	nic->ops.open = nic_vsp_open;
	nic->ops.close = nic_vsp_close;
	nic->ops.max_packet = 0;

	memset(&dev, 0, sizeof(dev));
	dev.name = "nic";
	dev.owner = cfg->owner;
	dev.offer = nic->offer;
	dev.ops = &nic->ops;
	dev.ctx = nic;
	rc = cvmbus_vm_add_device(vm, &dev);
	if (rc) {
		(void)nic_fail(err, errlen, rc, "the vm refused the device (%d)", rc);
		goto fail;
	}
	*out = nic;
	return 0;

fail:
	cvmbus_vm_nic_destroy(nic);
	return rc;
}

static void nic_side_close(struct nic_side *s)
{
	cvmbus_net_tap_close(s->tap);
	s->tap = NULL;
	if (s->reader.stop_fd >= 0)
		close(s->reader.stop_fd);
	s->reader.stop_fd = -1;
}

void cvmbus_vm_nic_destroy(struct cvmbus_vm_nic *nic)
{
	if (!nic)
		return;
	nic_side_close(&nic->host);
	nic_side_close(&nic->guest);
	cvmbus_mutex_destroy(&nic->lock);
	free(nic);
}

const char *cvmbus_vm_nic_host_ifname(const struct cvmbus_vm_nic *nic)
{
	return nic->host.tap ? cvmbus_net_tap_name(nic->host.tap) : "";
}

const char *cvmbus_vm_nic_guest_ifname(const struct cvmbus_vm_nic *nic)
{
	return nic->guest.tap ? cvmbus_net_tap_name(nic->guest.tap) : "";
}

/* ---- the guest side ------------------------------------------------------------- */

/* The TAP is the guest's interface: it carries the MAC its adapter
 * reports, as a guest's netvsc interface does, or the device's packet
 * filter drops what is addressed to it. tun accepts SIOCSIFHWADDR on its
 * own fd, so no switch into the namespace is needed. */
static int nic_set_guest_mac(struct nic_side *s, const uint8_t mac[CVMBUS_NET_ETH_ALEN])
{
	struct ifreq ifr;

	if (!s->tap)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", cvmbus_net_tap_name(s->tap));
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, CVMBUS_NET_ETH_ALEN);
	if (ioctl(cvmbus_net_tap_fd(s->tap), SIOCSIFHWADDR, &ifr) < 0)
		return -errno;
	return 0;
}

static int nic_find_offer(struct cvmbus_vm_nic *nic, struct cvmbus_guest *g, uint32_t *relid)
{
	struct cvmbus_guest_offer offers[CVMBUS_VM_MAX_CHANNELS * 2];
	size_t n = 0;
	int rc;

	rc = cvmbus_guest_offers(g, offers, sizeof(offers) / sizeof(offers[0]), &n);
	if (rc)
		return rc;
	if (n > sizeof(offers) / sizeof(offers[0]))
		n = sizeof(offers) / sizeof(offers[0]);
	/* Class and instance: a VM may one day have two NICs, and the relay
	 * keeps the host's instance GUIDs as they were. */
	for (size_t i = 0; i < n; i++)
		if (!offers[i].rescinded &&
		    !memcmp(&offers[i].if_type, &nic_class, sizeof(nic_class)) &&
		    !memcmp(&offers[i].if_instance, &nic->offer.instance_id,
			    sizeof(nic->offer.instance_id))) {
			*relid = offers[i].relid;
			return 0;
		}
	return -ENOENT;
}

/* Everything but the guest's reader (the workload starts it after its
 * probe); see cvmbus_vm_nic_guest_start. */
static int nic_guest_up(struct cvmbus_vm_nic *nic, struct cvmbus_vm *vm)
{
	struct cvmbus_guest_open_params op;
	struct cvmbus_netvsc_config cc;
	struct cvmbus_netvsc *vsc = NULL;
	struct cvmbus_vm_channel *c;
	struct cvmbus_netvsc_info info;
	struct cvmbus_guest *g;
	struct cvmbus_channel *ch = NULL;
	uint32_t relid = 0;
	bool shim;
	int rc;

	if (!nic || !vm)
		return -EINVAL;
	g = cvmbus_vm_guest(vm);
	if (!g)
		return -EINVAL;
	if (nic->guest_state != NIC_GUEST_IDLE)
		return -EBUSY;
	nic->guest_state = NIC_GUEST_STARTING;

	rc = nic_find_offer(nic, g, &relid);
	if (rc) {
		vm_fail(vm, rc, "nic: no offer of the network adapter (%d)", rc);
		goto fail;
	}
	memset(&op, 0, sizeof(op));
	op.send_bytes = nic->cfg.ring_bytes;
	op.recv_bytes = nic->cfg.ring_bytes;
	rc = cvmbus_guest_open(g, relid, &op, &ch);
	c = vm_report_channel(vm, relid);
	if (c) {
		c->device = "nic";
		c->opened = rc == 0;
		c->open_status = rc;
	}
	if (rc) {
		vm_fail(vm, rc, "nic: open of relid %u failed (%d)", relid, rc);
		goto fail;
	}
	shim = nic_shim_install(&nic->shim, ch, g, cvmbus_platform_mem(cvmbus_vm_platform(vm)),
				relid);

	memset(&cc, 0, sizeof(cc));
	cc.ch = ch;
	cc.recv_buf_bytes = nic->cfg.recv_buf_bytes;
	cc.send_buf_bytes = nic->cfg.send_buf_bytes;
	cc.mtu = nic->cfg.mtu;
	cc.gpa_direct = nic->cfg.gpa_direct;
	cc.rx_frame = nic_guest_out;
	cc.rx_ctx = nic;
	rc = cvmbus_netvsc_create(nic->exec, &cc, &vsc);
	if (rc)
		goto fail_close;
	rc = cvmbus_netvsc_connect(vsc);
	if (rc) {
		vm_fail(vm, rc, "nic: the driver's handshake failed (%d)", rc);
		goto fail_vsc;
	}
	cvmbus_netvsc_get_info(vsc, &info);
	/* The MAC is the device's word (the host's, on the host path): an
	 * all-zero or group address is no interface's, and is refused here
	 * rather than handed to the kernel. */
	if ((info.mac[0] & 1) || !(info.mac[0] | info.mac[1] | info.mac[2] | info.mac[3] |
				   info.mac[4] | info.mac[5])) {
		rc = -EPROTO;
		vm_fail(vm, rc, "nic: the device reported an unusable mac");
		goto fail_vsc;
	}
	rc = nic_set_guest_mac(&nic->guest, info.mac);
	if (rc) {
		vm_fail(vm, rc, "nic: cannot give the guest's tap its mac (%d)", rc);
		goto fail_vsc;
	}
	nic->vm = vm;
	nic->g = g;
	nic->ch = ch;
	cvmbus_mutex_lock(&nic->lock);
	nic->vsc = vsc;
	nic->info = info;
	nic->relid = relid;
	nic->connected = true;
	nic->connect_status = 0;
	nic->gpadl_shim = shim;
	cvmbus_mutex_unlock(&nic->lock);
	nic->guest_state = NIC_GUEST_RUNNING;
	return 0;

fail_vsc:
	nic->shim.defer = true;
	cvmbus_netvsc_destroy(vsc);
fail_close:
	nic_shim_remove(&nic->shim);
	(void)cvmbus_guest_close(g, relid);
	nic_shim_release(&nic->shim);
fail:
	cvmbus_mutex_lock(&nic->lock);
	nic->relid = relid;
	nic->connected = false;
	nic->connect_status = rc;
	cvmbus_mutex_unlock(&nic->lock);
	nic->guest_state = NIC_GUEST_IDLE;
	return rc;
}

static int nic_guest_reader_start(struct cvmbus_vm_nic *nic)
{
	if (!nic->guest.tap)
		return 0;
	return nic_reader_start(&nic->guest.reader, nic->exec, "nic-guest-tap",
				cvmbus_net_tap_fd(nic->guest.tap), nic_to_vsc, nic->vsc,
				nic->cfg.wait_ns, &nic->guest.cnt);
}

int cvmbus_vm_nic_guest_start(struct cvmbus_vm_nic *nic, struct cvmbus_vm *vm)
{
	int rc = nic_guest_up(nic, vm);

	if (rc)
		return rc;
	rc = nic_guest_reader_start(nic);
	if (rc) {
		vm_fail(vm, rc, "nic: cannot start the guest's reader (%d)", rc);
		cvmbus_vm_nic_guest_stop(nic);
	}
	return rc;
}

void cvmbus_vm_nic_guest_stop(struct cvmbus_vm_nic *nic)
{
	struct cvmbus_netvsc *vsc;
	struct cvmbus_vm_channel *c;
	int rc;

	if (!nic || nic->guest_state != NIC_GUEST_RUNNING)
		return;
	vsc = nic->vsc;
	/* The reader may wait for a send section inside the driver: the
	 * driver's stop wakes it, then it can be joined. */
	nic_reader_signal(&nic->guest.reader);
	cvmbus_netvsc_stop(vsc);
	nic_reader_join(&nic->guest.reader);
	cvmbus_mutex_lock(&nic->lock);
	cvmbus_netvsc_get_stats(vsc, &nic->vsc_last);
	nic->vsc = NULL;
	cvmbus_mutex_unlock(&nic->lock);
	/* The destroy asks for the buffers' teardown while its channel still
	 * exists; the shim holds the requests until the channel is closed
	 * (nic_shim.defer says why), then sends them. */
	nic->shim.defer = true;
	cvmbus_netvsc_destroy(vsc);
	nic_shim_remove(&nic->shim);
	rc = cvmbus_guest_close(nic->g, nic->relid);
	c = vm_report_channel(nic->vm, nic->relid);
	if (c)
		c->close_status = rc;
	nic_shim_release(&nic->shim);
	nic->ch = NULL;
	nic->guest_state = NIC_GUEST_IDLE;
}

/* ---- frames from a callback backend ------------------------------------------ */

int cvmbus_vm_nic_host_send(struct cvmbus_vm_nic *nic, const void *frame, size_t len,
			    uint64_t timeout_ns)
{
	int rc;

	if (!nic || !frame)
		return -EINVAL;
	if (nic->host.tap)
		return -EINVAL;
	/* Under the lock, so the device cannot be destroyed meanwhile; its
	 * close stops it before taking the lock, which ends any wait here. */
	cvmbus_mutex_lock(&nic->lock);
	rc = nic->vsp ? cvmbus_netvsp_send_frame(nic->vsp, frame, len, timeout_ns) : -ENOTCONN;
	cvmbus_mutex_unlock(&nic->lock);
	nic_count_in(&nic->host.cnt, len, rc);
	return rc;
}

int cvmbus_vm_nic_guest_send(struct cvmbus_vm_nic *nic, const void *frame, size_t len,
			     uint64_t timeout_ns)
{
	int rc;

	if (!nic || !frame)
		return -EINVAL;
	if (nic->guest.tap)
		return -EINVAL;
	cvmbus_mutex_lock(&nic->lock);
	rc = nic->vsc ? cvmbus_netvsc_send_frame(nic->vsc, frame, len, timeout_ns) : -ENOTCONN;
	cvmbus_mutex_unlock(&nic->lock);
	nic_count_in(&nic->guest.cnt, len, rc);
	return rc;
}

/* ---- statistics ------------------------------------------------------------------ */

static void nic_wire(const struct nic_counters *c, struct cvmbus_vm_nic_wire *w)
{
	w->in_frames = atomic_load(&c->in_frames);
	w->in_bytes = atomic_load(&c->in_bytes);
	w->in_dropped = atomic_load(&c->in_dropped);
	w->out_frames = atomic_load(&c->out_frames);
	w->out_bytes = atomic_load(&c->out_bytes);
	w->out_errors = atomic_load(&c->out_errors);
}

void cvmbus_vm_nic_get_stats(struct cvmbus_vm_nic *nic, struct cvmbus_vm_nic_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!nic)
		return;
	out->owner = nic->cfg.owner;
	cvmbus_mutex_lock(&nic->lock);
	out->relid = nic->relid;
	out->device_opened = nic->device_opened;
	out->connected = nic->connected;
	out->connect_status = nic->connect_status;
	out->gpadl_shim = nic->gpadl_shim;
	out->info = nic->info;
	if (nic->vsp)
		cvmbus_netvsp_get_stats(nic->vsp, &out->vsp);
	else
		out->vsp = nic->vsp_last;
	if (nic->vsc)
		cvmbus_netvsc_get_stats(nic->vsc, &out->vsc);
	else
		out->vsc = nic->vsc_last;
	cvmbus_mutex_unlock(&nic->lock);
	nic_wire(&nic->host.cnt, &out->host);
	nic_wire(&nic->guest.cnt, &out->guest);
}

/* ---- the workload ------------------------------------------------------------------ */

/* 32 bytes nobody else writes into partition memory: from the kernel on a
 * native run, from the seed on a deterministic one, so a seed replays. */
static void nic_probe_secret(struct cvmbus_vm *vm, uint8_t out[CVMBUS_VM_SECRET_BYTES])
{
	uint64_t x;

	if (cvmbus_exec_kind(cvmbus_vm_exec(vm)) == CVMBUS_EXEC_NATIVE &&
	    getrandom(out, CVMBUS_VM_SECRET_BYTES, 0) == (ssize_t)CVMBUS_VM_SECRET_BYTES)
		return;
	x = vm->cfg.seed ^ 0x6e1c5ec2e7ull;
	for (unsigned int i = 0; i < CVMBUS_VM_SECRET_BYTES; i++) {
		/* xorshift64: enough to make bytes that occur nowhere else. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[i] = (uint8_t)(x >> 24);
	}
}

/* One broadcast frame carrying the secret, sent by the guest's driver. */
static int nic_send_probe(struct cvmbus_vm_nic *nic, struct cvmbus_vm *vm)
{
	uint8_t frame[CVMBUS_NET_ETH_HLEN + CVMBUS_VM_SECRET_BYTES + 18];
	uint8_t secret[CVMBUS_VM_SECRET_BYTES];
	int rc;

	memset(frame, 0, sizeof(frame));
	memset(frame, 0xff, CVMBUS_NET_ETH_ALEN);
	memcpy(frame + CVMBUS_NET_ETH_ALEN, nic->info.mac, CVMBUS_NET_ETH_ALEN);
	frame[12] = (uint8_t)(NIC_PROBE_ETHERTYPE >> 8);
	frame[13] = (uint8_t)(NIC_PROBE_ETHERTYPE & 0xff);
	nic_probe_secret(vm, secret);
	memcpy(frame + CVMBUS_NET_ETH_HLEN, secret, sizeof(secret));
	cvmbus_mutex_lock(&nic->lock);
	rc = nic->vsc ? cvmbus_netvsc_send_frame(nic->vsc, frame, sizeof(frame), NIC_SEC)
		      : -ENOTCONN;
	cvmbus_mutex_unlock(&nic->lock);
	if (rc == 0)
		rc = cvmbus_vm_set_secret(vm, nic->relid, secret, sizeof(secret));
	explicit_bzero(secret, sizeof(secret));
	explicit_bzero(frame, sizeof(frame));
	return rc;
}

int cvmbus_vm_nic_workload(struct cvmbus_vm *vm, void *arg)
{
	const struct cvmbus_vm_nic_workload *wl = arg;
	struct cvmbus_vm_nic *nic;
	uint64_t deadline;
	int rc;

	if (!vm || !wl || !wl->nic)
		return -EINVAL;
	nic = wl->nic;
	/* The probe goes before the guest's stack can send anything: its
	 * reader starts only after the snapshot, so no other frame reuses
	 * the probe's send section before the scan looks for it. */
	rc = nic_guest_up(nic, vm);
	if (rc)
		return rc;
	rc = nic_send_probe(nic, vm);
	if (rc)
		vm_fail(vm, rc, "nic: the probe frame did not go out (%d)", rc);
	if (!rc) {
		rc = cvmbus_vm_snapshot(vm);
		if (rc)
			vm_fail(vm, rc, "nic: snapshot failed (%d)", rc);
	}
	if (!rc) {
		rc = nic_guest_reader_start(nic);
		if (rc)
			vm_fail(vm, rc, "nic: cannot start the guest's reader (%d)", rc);
	}
	if (!rc && wl->ready)
		wl->ready(wl->ready_ctx, nic);
	deadline = wl->duration_ns ? cvmbus_exec_deadline(nic->exec, wl->duration_ns)
				   : CVMBUS_EXEC_FOREVER;
	while (!rc) {
		uint64_t now = cvmbus_exec_now_ns(nic->exec);

		if (wl->should_stop && wl->should_stop(wl->stop_ctx))
			break;
		if (now >= deadline)
			break;
		cvmbus_exec_sleep_ns(nic->exec, deadline - now < NIC_POLL_NS ? deadline - now
									: NIC_POLL_NS);
	}
	cvmbus_vm_nic_guest_stop(nic);
	return rc;
}
