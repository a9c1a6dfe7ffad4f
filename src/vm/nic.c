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
 * With cfg.offload both TAPs are IFF_VNET_HDR: the readers take the
 * kernel's virtio_net_hdr with each frame and the writers put one back,
 * the driver asks for offloads and the guest TAP's TUNSETOFFLOAD follows
 * the grant (a host TAP handed to cvmbus-host says itself, by TUNGETIFF).
 *
 * Locking: `lock` guards the pointers to the running device and driver and
 * the statistics kept when they stop. Backend callbacks (the device's
 * tx_frame, the driver's rx_frame) run on their receive threads and never
 * take it: they only count, with atomics, and write to the backend.
 *
 * With the host party in its own process (the VM's cfg.processes) a
 * host-path NIC is two objects of this file (enum nic_role): in the VM's
 * process the guest side and the backends' ends (role PARENT), in
 * cvmbus-host the device (role REMOTE, made by cvmbus_vm_nic_remote_build)
 * with the host side's wire: the host TAP's fd itself, or a socket whose
 * other end the PARENT reads for host_rx and writes for host_send. The two
 * talk over the NIC's link socket (vm_nic.h says what goes on it); the
 * PARENT's thread answers the link and carries the callback wire. `rx_lock`
 * serializes the link's reads, so that a get_stats after the run sees the
 * device's final STATUS whichever thread took it off the socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include <cvmbus/hostlink.h>
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
/* ... and from a TAP with offloads, where a GSO frame may be 64 KiB. */
#define NIC_GSO_FRAME_MAX (CVMBUS_NET_GSO_MAX_FRAME + 64u)
#define NIC_SEC         1000000000ull
#define NIC_POLL_NS     (50ull * 1000000ull)
/* The probe frame: IEEE 802 local experimental ethertype 1. */
#define NIC_PROBE_ETHERTYPE 0x88b5u
/* The link (process mode): how long a new host process waits for its
 * wire, how long a device's frame waits for room on a socket wire before
 * it is dropped (short: it waits on the device's receive thread), and the
 * socket buffer asked for on a socket wire (a burst of frames fits). */
#define NIC_LINK_MAGIC      0x4b4e4c43u /* "CLNK" */
#define NIC_ATTACH_WAIT_NS  (5ull * NIC_SEC)
#define NIC_WIRE_OUT_WAIT_NS (20ull * 1000000ull)
#define NIC_WIRE_SNDBUF     (4 * 1024 * 1024)

/* ---- the link's messages (vm_nic.h; one datagram each) -------------------- */

enum nic_link_type {
	NIC_LINK_HELLO = 1,  /* host -> VM: give me the wire */
	NIC_LINK_ATTACH = 2, /* VM -> host: the wire, as the datagram's fd */
	NIC_LINK_STATUS = 3, /* host -> VM: the device opened or closed */
};

enum nic_wire_kind {
	NIC_WIRE_TAP = 1,    /* a TAP device's fd */
	NIC_WIRE_SOCKET = 2, /* a SOCK_SEQPACKET end: one datagram, one frame */
};

struct nic_link_hello {
	uint32_t type;
	uint32_t magic;
};

struct nic_link_attach {
	uint32_t type;
	uint32_t wire; /* enum nic_wire_kind */
};

/* The wire counters travel as the public struct cvmbus_vm_nic_wire (six
 * u64: the same layout in both processes of one build). */

struct nic_link_status {
	uint32_t type;
	uint32_t serving; /* 1: opened (sent before the device answers); 0: closed */
	struct cvmbus_vm_nic_wire wire;        /* the device's backend, this process's life */
	struct cvmbus_netvsp_stats vsp;   /* zero at open; the final ones at close */
};

/* Both ends are one build, but a field added to the device's statistics
 * changes the message: say so here rather than at run time. */
_Static_assert(sizeof(struct nic_link_hello) == 8, "hello size");
_Static_assert(sizeof(struct nic_link_attach) == 8, "attach size");
_Static_assert(sizeof(struct cvmbus_vm_nic_wire) == 48, "wire counters size");
_Static_assert(sizeof(struct cvmbus_netvsp_stats) == 26 * 8, "netvsp stats size");
_Static_assert(offsetof(struct nic_link_status, wire) == 8, "status wire offset");
_Static_assert(offsetof(struct nic_link_status, vsp) == 56, "status vsp offset");
_Static_assert(sizeof(struct nic_link_status) == 264, "status size");

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
	bool vnet; /* the fd is IFF_VNET_HDR: a struct cvmbus_net_offload first */
	int (*deliver)(void *dev, const struct cvmbus_net_offload *off, const void *frame,
		       size_t len, uint64_t timeout_ns);
	void *dev;
	uint64_t wait_ns;
	struct nic_counters *cnt;
	struct cvmbus_thread *thread;
};

struct nic_side {
	struct cvmbus_net_tap *tap; /* NULL: callback backend */
	/* REMOTE's host side: the wire it was given (TAP or socket; owned);
	 * -1 elsewhere. */
	int wire;
	bool wire_is_socket;
	/* The TAP (or TAP wire) is IFF_VNET_HDR (cfg.offload): frames cross
	 * it with their offload state. */
	bool vnet;
	cvmbus_net_frame_fn *rx;
	void *rx_ctx;
	char netns[NIC_NETNS_MAX];
	struct nic_reader reader;
	struct nic_counters cnt;
};

/* Which object of a NIC this is (see the top of the file). */
enum nic_role {
	NIC_ROLE_LOCAL = 0, /* the whole NIC, in one process */
	NIC_ROLE_PARENT,    /* process mode, the VM's end: no device here */
	NIC_ROLE_REMOTE,    /* process mode, in cvmbus-host: the device only */
};

/* The PARENT's end of the link and of a callback wire, and what the
 * host's device last reported. */
struct nic_proc {
	int link[2];            /* [0] ours, [1] the host's (remote_fd) */
	int wire[2];            /* callback backend: [0] ours, [1] the host's */
	int stop_fd;            /* eventfd: ends the thread */
	pthread_t thread;
	bool thread_started;
	struct cvmbus_mutex rx_lock;
	bool rx_lock_ready;
	/* Guarded by rx_lock. */
	bool serving;           /* the device said it opened, not yet closed */
	bool opened_ever;
	struct cvmbus_netvsp_stats vsp;
	struct cvmbus_vm_nic_wire wire_last; /* of the current host process */
	struct cvmbus_vm_nic_wire wire_base; /* of the host processes before it */
	uint64_t hellos, bad_msgs;
	/* host_send's refusals before the wire (not serving, wire full). */
	_Atomic uint64_t local_in, local_in_bytes, local_dropped;
};

enum nic_guest_state {
	NIC_GUEST_IDLE = 0, /* not started (or stopped) */
	NIC_GUEST_STARTING,
	NIC_GUEST_RUNNING,
};

struct cvmbus_vm_nic {
	struct cvmbus_vm_nic_config cfg;
	enum nic_role role;
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
	bool device_opened, connected;
	int connect_status;
	uint32_t relid;
	/* The guest side: written by the workload thread only. */
	enum nic_guest_state guest_state;
	struct cvmbus_vm *vm;
	struct cvmbus_guest *g;
	struct cvmbus_channel *ch;
	/* Process mode. PARENT: proc and the description it hands the host;
	 * REMOTE: its dup of the link (-1 otherwise). */
	struct nic_proc proc;
	struct cvmbus_vm_nic_remote remote;
	int link;
	struct cvmbus_vm *home; /* the VM it was made for (NULL: REMOTE) */
};

static const struct cvmbus_guid nic_class = CVMBUS_VM_NIC_INTERFACE_ID_INIT;

const char *cvmbus_vm_nic_path_name(enum cvmbus_vm_owner owner)
{
	return owner == CVMBUS_VM_OWNER_PARAVISOR ? "confidential" : "host";
}

/* ---- the backends' output: the device's wire, the guest's stack ----------- */

/* One frame onto a socket wire (one datagram), waiting up to wait_ns for
 * room: the peer reads it on its own thread, so a burst may briefly fill
 * the socket. MSG_NOSIGNAL: a peer that is gone is an error, not a
 * SIGPIPE. 0, -EMSGSIZE, -ETIMEDOUT (full for wait_ns; -EAGAIN for 0),
 * -ECONNRESET, -errno. */
static int nic_sock_send(struct cvmbus_exec *exec, int fd, const void *frame, size_t len,
			 uint64_t wait_ns)
{
	uint64_t deadline = cvmbus_exec_deadline(exec, wait_ns);

	for (;;) {
		ssize_t n = send(fd, frame, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		uint64_t now, ms;
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (n == (ssize_t)len)
			return 0;
		if (n >= 0)
			return -EIO; /* a datagram goes whole or not at all */
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (!wait_ns)
			return -EAGAIN;
		now = cvmbus_exec_now_ns(exec);
		if (now >= deadline)
			return -ETIMEDOUT;
		/* Round up to a millisecond, so a short remainder still waits;
		 * at most a second per poll, so a huge wait cannot overflow. */
		ms = (deadline - now + 999999ull) / 1000000ull;
		(void)poll(&p, 1, ms > 1000u ? 1000 : (int)ms);
	}
}

static void nic_out(struct nic_side *s, struct cvmbus_exec *exec,
		    const struct cvmbus_net_offload *off, const void *frame, size_t len)
{
	int rc = 0;

	if (s->tap) {
		rc = cvmbus_net_tap_write_off(s->tap, off, frame, len);
	} else if (s->wire >= 0 && s->vnet) {
		/* A vnet TAP the host process was given: header, then frame. */
		struct iovec iov[2] = { { (void *)off, sizeof(*off) }, { (void *)frame, len } };
		ssize_t n = writev(s->wire, iov, 2);

		rc = n == (ssize_t)(len + sizeof(*off)) ? 0 : n < 0 ? -errno : -EIO;
	} else if (off->flags & CVMBUS_NET_OFF_NEEDS_CSUM || off->gso_type) {
		/* Offloads are only granted over a vnet TAP: never here. */
		rc = -EOPNOTSUPP;
	} else if (s->wire >= 0 && s->wire_is_socket) {
		rc = nic_sock_send(exec, s->wire, frame, len, NIC_WIRE_OUT_WAIT_NS);
	} else if (s->wire >= 0) {
		/* A TAP the host process was given: a full queue drops the
		 * frame, as a wire would (net_tap.c does the same). */
		ssize_t n = write(s->wire, frame, len);

		rc = n == (ssize_t)len ? 0 : n < 0 ? -errno : -EIO;
	} else if (s->rx)
		s->rx(s->rx_ctx, frame, len);
	if (rc) {
		atomic_fetch_add_explicit(&s->cnt.out_errors, 1, memory_order_relaxed);
		return;
	}
	atomic_fetch_add_explicit(&s->cnt.out_frames, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->cnt.out_bytes, len, memory_order_relaxed);
}

static const struct cvmbus_net_offload nic_plain;

static void nic_host_out(void *ctx, const void *frame, size_t len)
{
	struct cvmbus_vm_nic *nic = ctx;

	nic_out(&nic->host, nic->exec, &nic_plain, frame, len);
}

static void nic_host_out_off(void *ctx, const struct cvmbus_net_offload *off, const void *frame,
			     size_t len)
{
	struct cvmbus_vm_nic *nic = ctx;

	nic_out(&nic->host, nic->exec, off, frame, len);
}

static void nic_guest_out(void *ctx, const void *frame, size_t len)
{
	struct cvmbus_vm_nic *nic = ctx;

	nic_out(&nic->guest, nic->exec, &nic_plain, frame, len);
}

static void nic_guest_out_off(void *ctx, const struct cvmbus_net_offload *off, const void *frame,
			      size_t len)
{
	struct cvmbus_vm_nic *nic = ctx;

	nic_out(&nic->guest, nic->exec, off, frame, len);
}

static void nic_count_in(struct nic_counters *c, size_t len, int rc)
{
	atomic_fetch_add_explicit(&c->in_frames, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->in_bytes, len, memory_order_relaxed);
	if (rc)
		atomic_fetch_add_explicit(&c->in_dropped, 1, memory_order_relaxed);
}

static int nic_to_vsp(void *dev, const struct cvmbus_net_offload *off, const void *frame,
		      size_t len, uint64_t timeout_ns)
{
	return cvmbus_netvsp_send_frame_off(dev, off, frame, len, timeout_ns);
}

static int nic_to_vsc(void *dev, const struct cvmbus_net_offload *off, const void *frame,
		      size_t len, uint64_t timeout_ns)
{
	return cvmbus_netvsc_send_frame_off(dev, off, frame, len, timeout_ns);
}

/* ---- TAP readers ----------------------------------------------------------- */

static int nic_reader_loop(void *arg)
{
	struct nic_reader *r = arg;
	size_t cap = r->vnet ? NIC_GSO_FRAME_MAX : NIC_FRAME_MAX;
	uint8_t *buf = malloc(cap);
	struct cvmbus_net_offload off;
	struct iovec iov[2] = { { &off, sizeof(off) }, { buf, cap } };

	if (!buf)
		return -ENOMEM;
	memset(&off, 0, sizeof(off));
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
		       (n = r->vnet ? readv(r->fd, iov, 2) : read(r->fd, buf, cap)) > 0) {
			if (r->vnet) {
				/* The kernel's header, then the frame. */
				if ((size_t)n < sizeof(off))
					continue;
				n -= (ssize_t)sizeof(off);
			}
			nic_count_in(r->cnt, (size_t)n,
				     r->deliver(r->dev, &off, buf, (size_t)n, r->wait_ns));
		}
	}
	free(buf);
	return 0;
}

static int nic_reader_start(struct nic_reader *r, struct cvmbus_exec *exec, const char *name,
			    int fd, bool vnet,
			    int (*deliver)(void *, const struct cvmbus_net_offload *, const void *,
					   size_t, uint64_t),
			    void *dev, uint64_t wait_ns, struct nic_counters *cnt)
{
	uint64_t v;
	int rc;

	r->fd = fd;
	r->vnet = vnet;
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

/* One side's counters as the statistics (and the host's STATUS) give them. */
static void nic_wire(const struct nic_counters *c, struct cvmbus_vm_nic_wire *w)
{
	w->in_frames = atomic_load(&c->in_frames);
	w->in_bytes = atomic_load(&c->in_bytes);
	w->in_dropped = atomic_load(&c->in_dropped);
	w->out_frames = atomic_load(&c->out_frames);
	w->out_bytes = atomic_load(&c->out_bytes);
	w->out_errors = atomic_load(&c->out_errors);
}

/* ---- process mode: the host's end's reports --------------------------------- */


/* REMOTE: tell the VM's end the device opened (vsp NULL) or closed (its
 * final counters). A VM that is gone cannot read it: logged, nothing
 * else. */
static void nic_remote_status(struct cvmbus_vm_nic *nic, bool serving,
			      const struct cvmbus_netvsp_stats *vsp)
{
	struct nic_link_status st;
	int rc;

	memset(&st, 0, sizeof(st));
	st.type = NIC_LINK_STATUS;
	st.serving = serving ? 1u : 0u;
	nic_wire(&nic->host.cnt, &st.wire);
	if (vsp)
		st.vsp = *vsp;
	rc = cvmbus_seqpacket_send(nic->link, &st, sizeof(st), -1);
	if (rc)
		cvmbus_log_warn("nic: status to the vm failed (%d)", rc);
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

	/* The VM's end first (process mode), while the device cannot have
	 * answered the guest yet: whoever asks after the guest's handshake
	 * finds "serving" already on the link. */
	if (nic->role == NIC_ROLE_REMOTE)
		nic_remote_status(nic, true, NULL);

	memset(&vcfg, 0, sizeof(vcfg));
	vcfg.ch = vc->channel;
	memcpy(vcfg.mac, nic->cfg.mac, sizeof(vcfg.mac));
	vcfg.mtu = nic->cfg.mtu;
	vcfg.tx_frame = nic_host_out;
	vcfg.tx_ctx = nic;
	/* Offloads only where the host's wire can carry their state: a
	 * vnet TAP takes GSO frames and partial checksums as they are. */
	if (nic->host.vnet) {
		vcfg.offloads = CVMBUS_NET_OFFLOAD_ALL;
		vcfg.tx_frame_off = nic_host_out_off;
	}
	rc = cvmbus_netvsp_create(nic->exec, &vcfg, &vsp);
	if (rc)
		goto fail;
	rc = cvmbus_netvsp_start(vsp);
	if (rc)
		goto fail_vsp;
	if (nic->host.tap || nic->host.wire >= 0) {
		rc = nic_reader_start(&nic->host.reader, nic->exec, "nic-host-tap",
				      nic->host.tap ? cvmbus_net_tap_fd(nic->host.tap)
						    : nic->host.wire,
				      nic->host.vnet, nic_to_vsp, vsp, nic->cfg.wait_ns, &nic->host.cnt);
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
	if (nic->role == NIC_ROLE_REMOTE)
		nic_remote_status(nic, false, NULL);
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
	/* The final counters, before the VM's end asks after the run: the
	 * host process says STOPPED only after every close. */
	if (nic->role == NIC_ROLE_REMOTE)
		nic_remote_status(nic, false, &nic->vsp_last);
	cvmbus_netvsp_destroy(vsp);
	vc->device_data = NULL;
}

/* ---- process mode: the VM's end of the link (PARENT) -------------------------- */

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

static void nic_wire_add(struct cvmbus_vm_nic_wire *a, const struct cvmbus_vm_nic_wire *b)
{
	a->in_frames += b->in_frames;
	a->in_bytes += b->in_bytes;
	a->in_dropped += b->in_dropped;
	a->out_frames += b->out_frames;
	a->out_bytes += b->out_bytes;
	a->out_errors += b->out_errors;
}

/* A new host process: its counters start again (the last one's are kept
 * in the base, so the NIC's wire counts every run, as in one process), and
 * it gets the wire. Under rx_lock. */
static void nic_proc_hello_locked(struct cvmbus_vm_nic *nic)
{
	struct nic_proc *pr = &nic->proc;
	struct nic_link_attach at = { .type = NIC_LINK_ATTACH };
	int fd, rc;

	pr->hellos++;
	nic_wire_add(&pr->wire_base, &pr->wire_last);
	memset(&pr->wire_last, 0, sizeof(pr->wire_last));
	pr->serving = false;
	if (nic->host.tap) {
		at.wire = NIC_WIRE_TAP;
		fd = cvmbus_net_tap_fd(nic->host.tap);
	} else {
		at.wire = NIC_WIRE_SOCKET;
		fd = pr->wire[1];
	}
	rc = cvmbus_seqpacket_send(pr->link[0], &at, sizeof(at), fd);
	if (rc)
		cvmbus_log_warn("nic: cannot give the host its wire (%d)", rc);
}

/* Take every datagram the host left on the link, without waiting. Each is
 * the host's, so each is copied whole, then checked (type and exact size)
 * before use. Under rx_lock. */
static void nic_proc_drain_locked(struct cvmbus_vm_nic *nic)
{
	struct nic_proc *pr = &nic->proc;
	union {
		struct nic_link_hello hello;
		struct nic_link_status status;
		uint8_t raw[512];
	} m;

	for (;;) {
		uint32_t type;
		int fd = -1;
		ssize_t n = cvmbus_seqpacket_recv(pr->link[0], &m, sizeof(m), &fd);

		if (fd >= 0) {
			/* The host never sends an fd: not ours to keep. */
			close(fd);
			pr->bad_msgs++;
		}
		if (n == -EPROTO) {
			pr->bad_msgs++;
			continue;
		}
		if (n <= 0)
			break; /* -EAGAIN: nothing more now */
		if ((size_t)n < sizeof(type)) {
			pr->bad_msgs++;
			continue;
		}
		memcpy(&type, &m, sizeof(type));
		if (type == NIC_LINK_HELLO && n == (ssize_t)sizeof(m.hello) &&
		    m.hello.magic == NIC_LINK_MAGIC) {
			nic_proc_hello_locked(nic);
		} else if (type == NIC_LINK_STATUS && n == (ssize_t)sizeof(m.status)) {
			pr->serving = m.status.serving != 0;
			if (pr->serving)
				pr->opened_ever = true;
			else
				pr->vsp = m.status.vsp;
			pr->wire_last = m.status.wire;
		} else {
			pr->bad_msgs++;
		}
	}
}

static void nic_proc_drain(struct cvmbus_vm_nic *nic)
{
	cvmbus_mutex_lock(&nic->proc.rx_lock);
	nic_proc_drain_locked(nic);
	cvmbus_mutex_unlock(&nic->proc.rx_lock);
}

/* Frames the host's device put on a socket wire, to host_rx. The host
 * chose their lengths: one shorter than a header or longer than the MTU
 * allows is dropped here (MSG_TRUNC gives the length it really had). */
static void nic_proc_wire_in(struct cvmbus_vm_nic *nic, uint8_t *buf)
{
	struct nic_proc *pr = &nic->proc;
	size_t max = nic->cfg.mtu + CVMBUS_NET_ETH_HLEN;
	ssize_t n;

	while ((n = recv(pr->wire[0], buf, NIC_FRAME_MAX, MSG_DONTWAIT | MSG_TRUNC)) >= 0) {
		if (n < (ssize_t)CVMBUS_NET_ETH_HLEN || (size_t)n > max) {
			atomic_fetch_add_explicit(&nic->host.cnt.out_errors, 1,
						  memory_order_relaxed);
			continue;
		}
		if (nic->host.rx)
			nic->host.rx(nic->host.rx_ctx, buf, (size_t)n);
	}
}

/*
 * The PARENT's thread, from create to destroy: answers the link and carries
 * a callback wire's frames to host_rx. A plain pthread, not an executor's:
 * a run ends only when every executor thread has, and this one must
 * outlive runs, since each run's host process says HELLO while the VM is
 * still starting (in vm_hostproc_start, before any workload could answer).
 * Process mode is native only, where the NIC's locks are pthread ones and
 * any thread may take them.
 */
static void *nic_proc_loop(void *arg)
{
	struct cvmbus_vm_nic *nic = arg;
	struct nic_proc *pr = &nic->proc;
	uint8_t *buf = malloc(NIC_FRAME_MAX);

	if (!buf)
		return NULL;
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = pr->link[0], .events = POLLIN },
			{ .fd = pr->stop_fd, .events = POLLIN },
			{ .fd = pr->wire[0], .events = POLLIN }, /* -1: ignored */
		};

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		/* Both sockets' other ends stay open here (the VM keeps them
		 * for the next run): an error is no peer's doing, and would
		 * only spin. */
		if ((p[0].revents | p[2].revents) & (POLLERR | POLLNVAL))
			break;
		if (p[0].revents & POLLIN)
			nic_proc_drain(nic);
		if (p[2].revents & POLLIN)
			nic_proc_wire_in(nic, buf);
	}
	free(buf);
	return NULL;
}

/* host_send in process mode: onto the socket wire, if the host's device
 * said it serves. The device's own refusals (no section in time) happen
 * in the host's process and come back in its counters. */
static int nic_proc_host_send(struct cvmbus_vm_nic *nic, const void *frame, size_t len,
			      uint64_t timeout_ns)
{
	struct nic_proc *pr = &nic->proc;
	bool serving;
	int rc;

	if (len < CVMBUS_NET_ETH_HLEN || len > nic->cfg.mtu + CVMBUS_NET_ETH_HLEN) {
		rc = -EMSGSIZE;
	} else {
		cvmbus_mutex_lock(&pr->rx_lock);
		nic_proc_drain_locked(nic);
		serving = pr->serving;
		cvmbus_mutex_unlock(&pr->rx_lock);
		rc = serving && !cvmbus_vm_host_lost(nic->home)
			     ? nic_sock_send(nic->exec, pr->wire[0], frame, len, timeout_ns)
			     : -ENOTCONN;
	}
	if (rc) {
		atomic_fetch_add_explicit(&pr->local_in, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&pr->local_in_bytes, len, memory_order_relaxed);
		atomic_fetch_add_explicit(&pr->local_dropped, 1, memory_order_relaxed);
	}
	return rc;
}

/* Make the link (and a callback backend's wire), describe the device,
 * start the thread. */
static int nic_proc_setup(struct cvmbus_vm_nic *nic, char *err, size_t errlen)
{
	struct nic_proc *pr = &nic->proc;
	int sz = NIC_WIRE_SNDBUF, rc;

	if (cvmbus_exec_kind(nic->exec) != CVMBUS_EXEC_NATIVE)
		return nic_fail(err, errlen, -EINVAL, "the host's process needs the native executor");
	/* Non-blocking both ends: the host's reader drains a wire until
	 * EAGAIN, and nobody here may block on a host that stopped reading. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pr->link) < 0)
		return nic_fail(err, errlen, -errno, "cannot make the nic's link socket");
	if (!nic->host.tap) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
			       pr->wire) < 0)
			return nic_fail(err, errlen, -errno, "cannot make the nic's wire socket");
		/* Room for a burst (capped by net.core.wmem_max): what does
		 * not fit waits, then drops. */
		(void)setsockopt(pr->wire[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		(void)setsockopt(pr->wire[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	pr->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pr->stop_fd < 0)
		return nic_fail(err, errlen, -errno, "cannot make an eventfd");
	cvmbus_mutex_init(&pr->rx_lock, nic->exec, "vm-nic-link");
	pr->rx_lock_ready = true;

	memset(&nic->remote, 0, sizeof(nic->remote));
	memcpy(nic->remote.mac, nic->cfg.mac, sizeof(nic->remote.mac));
	nic->remote.mtu = nic->cfg.mtu;
	nic->remote.instance = nic->cfg.instance;
	nic->remote.wait_ns = nic->cfg.wait_ns;
	nic->role = NIC_ROLE_PARENT;
	rc = -pthread_create(&pr->thread, NULL, nic_proc_loop, nic);
	if (rc)
		return nic_fail(err, errlen, rc, "cannot start the nic's link thread (%d)", rc);
	pthread_setname_np(pr->thread, "nic-link");
	pr->thread_started = true;
	return 0;
}

static void nic_proc_close(struct nic_proc *pr)
{
	uint64_t one = 1;

	if (pr->thread_started) {
		if (write(pr->stop_fd, &one, sizeof(one)) < 0) {
			/* Fails only on counter overflow: it is signalled. */
		}
		(void)pthread_join(pr->thread, NULL);
		pr->thread_started = false;
	}
	for (int i = 0; i < 2; i++) {
		if (pr->link[i] >= 0)
			close(pr->link[i]);
		if (pr->wire[i] >= 0)
			close(pr->wire[i]);
		pr->link[i] = pr->wire[i] = -1;
	}
	if (pr->stop_fd >= 0)
		close(pr->stop_fd);
	pr->stop_fd = -1;
	if (pr->rx_lock_ready)
		cvmbus_mutex_destroy(&pr->rx_lock);
	pr->rx_lock_ready = false;
}

/* ---- create / destroy -------------------------------------------------------- */

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

static int nic_open_tap(struct nic_side *s, const char *ifname, uint32_t mtu, bool vnet,
			char *err, size_t errlen)
{
	struct cvmbus_net_tap_config tc = {
		.ifname = ifname,
		.netns = s->netns,
		.mtu = mtu,
		.up = true,
		.vnet_hdr = vnet,
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
	s->vnet = vnet;
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

/* Zeroed, with every fd -1, so that destroy can unwind any half-made NIC. */
static struct cvmbus_vm_nic *nic_alloc(void)
{
	struct cvmbus_vm_nic *nic = calloc(1, sizeof(*nic));

	if (!nic)
		return NULL;
	nic->host.reader.stop_fd = nic->guest.reader.stop_fd = -1;
	nic->host.wire = nic->guest.wire = -1;
	nic->proc.link[0] = nic->proc.link[1] = -1;
	nic->proc.wire[0] = nic->proc.wire[1] = -1;
	nic->proc.stop_fd = -1;
	nic->link = -1;
	return nic;
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

	nic = nic_alloc();
	if (!nic)
		return -ENOMEM;
	nic->cfg = *cfg;
	nic->home = vm;
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
				  nic->cfg.mtu, cfg->offload, err, errlen);
		if (rc)
			goto fail;
	}
	if (cfg->guest_netns) {
		snprintf(nic->guest.netns, sizeof(nic->guest.netns), "%s", cfg->guest_netns);
		rc = nic_open_tap(&nic->guest,
				  cfg->guest_ifname ? cfg->guest_ifname : NIC_DEFAULT_GUEST_IF,
				  nic->cfg.mtu, cfg->offload, err, errlen);
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
	/* The host's device in the host's process: it gets the description
	 * and the link (the VM copies dev; the description lives in the NIC,
	 * which outlives every run). The paravisor's NIC stays here, with the
	 * paravisor. */
	if (cfg->owner == CVMBUS_VM_OWNER_HOST && vm->cfg.processes) {
		rc = nic_proc_setup(nic, err, errlen);
		if (rc)
			goto fail;
		dev.remote = CVMBUS_VM_REMOTE_NIC;
		dev.remote_params = &nic->remote;
		dev.remote_params_len = sizeof(nic->remote);
		dev.remote_has_fd = true;
		dev.remote_fd = nic->proc.link[1];
	}
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
	if (s->wire >= 0)
		close(s->wire);
	s->wire = -1;
	if (s->reader.stop_fd >= 0)
		close(s->reader.stop_fd);
	s->reader.stop_fd = -1;
}

void cvmbus_vm_nic_destroy(struct cvmbus_vm_nic *nic)
{
	if (!nic)
		return;
	/* The link's thread first: it may be handing the host TAP's fd over
	 * as the TAP goes. */
	nic_proc_close(&nic->proc);
	nic_side_close(&nic->host);
	nic_side_close(&nic->guest);
	if (nic->link >= 0)
		close(nic->link);
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
	memset(&cc, 0, sizeof(cc));
	cc.ch = ch;
	cc.recv_buf_bytes = nic->cfg.recv_buf_bytes;
	cc.send_buf_bytes = nic->cfg.send_buf_bytes;
	cc.mtu = nic->cfg.mtu;
	cc.gpa_direct = nic->cfg.gpa_direct;
	cc.rx_frame = nic_guest_out;
	cc.rx_ctx = nic;
	if (nic->guest.vnet) {
		cc.offloads = CVMBUS_NET_OFFLOAD_ALL;
		cc.rx_frame_off = nic_guest_out_off;
	}
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
	/* What the device granted is what the guest's kernel may leave to
	 * us: partial checksums, 64 KiB TCP segments. Nothing granted: it
	 * completes every frame, as a plain TAP's. */
	if (nic->guest.tap && nic->guest.vnet) {
		rc = cvmbus_net_tap_set_offload(nic->guest.tap, info.offloads);
		if (rc) {
			vm_fail(vm, rc, "nic: cannot set the guest tap's offloads (%d)", rc);
			goto fail_vsc;
		}
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
	cvmbus_mutex_unlock(&nic->lock);
	nic->guest_state = NIC_GUEST_RUNNING;
	return 0;

fail_vsc:
	cvmbus_netvsc_destroy(vsc);
fail_close:
	/* The driver's buffers go with the close (the guest tears them down
	 * after CloseChannel). */
	(void)cvmbus_guest_close(g, relid);
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
				cvmbus_net_tap_fd(nic->guest.tap), nic->guest.vnet, nic_to_vsc, nic->vsc,
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
	/* The destroy lets go of the buffers while the channel still exists;
	 * the guest tears them down after the close (guest_channel.c). */
	cvmbus_netvsc_destroy(vsc);
	rc = cvmbus_guest_close(nic->g, nic->relid);
	c = vm_report_channel(nic->vm, nic->relid);
	if (c)
		c->close_status = rc;
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
	if (nic->role == NIC_ROLE_PARENT)
		return nic_proc_host_send(nic, frame, len, timeout_ns);
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
	if (nic->role == NIC_ROLE_PARENT) {
		struct nic_proc *pr = &nic->proc;
		struct cvmbus_vm_nic_wire w;

		/* The device is the host process's: what it last reported. */
		cvmbus_mutex_lock(&pr->rx_lock);
		nic_proc_drain_locked(nic);
		out->device_opened = pr->opened_ever;
		out->vsp = pr->vsp;
		w = pr->wire_base;
		nic_wire_add(&w, &pr->wire_last);
		cvmbus_mutex_unlock(&pr->rx_lock);
		out->host.in_frames = w.in_frames + atomic_load(&pr->local_in);
		out->host.in_bytes = w.in_bytes + atomic_load(&pr->local_in_bytes);
		out->host.in_dropped = w.in_dropped + atomic_load(&pr->local_dropped);
		out->host.out_frames = w.out_frames;
		out->host.out_bytes = w.out_bytes;
		/* ... and the frames refused on their way to host_rx. */
		out->host.out_errors = w.out_errors + atomic_load(&nic->host.cnt.out_errors);
	}
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

/* ---- process mode: the host's end (REMOTE, in cvmbus-host) ---------------------------- */

/* Wait for the VM's ATTACH on the link and take its wire. Only ATTACH ever
 * comes this way (one may be left over from a host process that died
 * before reading it: it names the same wire). */
static int nic_remote_wait_attach(struct cvmbus_vm_nic *nic, uint32_t *kind, int *wire)
{
	uint64_t deadline = cvmbus_exec_deadline(nic->exec, NIC_ATTACH_WAIT_NS);
	struct nic_link_attach at;
	struct stat st;
	int fd = -1;
	ssize_t n;

	for (;;) {
		struct pollfd p = { .fd = nic->link, .events = POLLIN };
		uint64_t now = cvmbus_exec_now_ns(nic->exec);

		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)((deadline - now + 999999ull) / 1000000ull)) < 0 &&
		    errno != EINTR)
			return -errno;
		n = cvmbus_seqpacket_recv(nic->link, &at, sizeof(at), &fd);
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			continue;
		break;
	}
	if (n <= 0) {
		if (fd >= 0)
			close(fd);
		return n == 0 ? -ECONNRESET : (int)n;
	}
	/* The kind must match what the fd is: a TAP is a character device,
	 * a socket wire a socket. */
	if (n != (ssize_t)sizeof(at) || at.type != NIC_LINK_ATTACH || fd < 0 || fstat(fd, &st) ||
	    !((at.wire == NIC_WIRE_TAP && S_ISCHR(st.st_mode)) ||
	      (at.wire == NIC_WIRE_SOCKET && S_ISSOCK(st.st_mode)))) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	*kind = at.wire;
	*wire = fd;
	return 0;
}

int cvmbus_vm_nic_remote_build(struct cvmbus_exec *exec, const void *params, size_t len,
			       int fd, void **ctx, const struct cvmbus_vsp_ops **ops)
{
	const struct nic_link_hello hello = { .type = NIC_LINK_HELLO, .magic = NIC_LINK_MAGIC };
	struct cvmbus_vm_nic_remote r;
	struct cvmbus_vm_nic *nic;
	uint32_t kind = 0;
	int wire = -1, fl, rc;

	if (!exec || !params || len != sizeof(r) || fd < 0 || !ctx || !ops)
		return -EINVAL;
	memcpy(&r, params, sizeof(r));
	if (r.mtu < 68 || r.mtu > CVMBUS_NET_MAX_MTU || (r.mac[0] & 1) || !r.wait_ns ||
	    r.wait_ns > 60ull * NIC_SEC)
		return -EINVAL;
	nic = nic_alloc();
	if (!nic)
		return -ENOMEM;
	nic->role = NIC_ROLE_REMOTE;
	nic->exec = exec;
	cvmbus_mutex_init(&nic->lock, exec, "vm-nic");
	nic->cfg.owner = CVMBUS_VM_OWNER_HOST;
	memcpy(nic->cfg.mac, r.mac, sizeof(nic->cfg.mac));
	nic->cfg.mtu = r.mtu;
	nic->cfg.instance = r.instance;
	nic->cfg.wait_ns = r.wait_ns;
	nic->ops.open = nic_vsp_open;
	nic->ops.close = nic_vsp_close;

	/* Our own copy: the caller closes its one when we return. */
	nic->link = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (nic->link < 0) {
		rc = -errno;
		goto fail;
	}
	nic->host.reader.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (nic->host.reader.stop_fd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = cvmbus_seqpacket_send(nic->link, &hello, sizeof(hello), -1);
	if (!rc)
		rc = nic_remote_wait_attach(nic, &kind, &wire);
	if (rc)
		goto fail;
	nic->host.wire = wire;
	nic->host.wire_is_socket = kind == NIC_WIRE_SOCKET;
	/* A TAP wire says itself whether it carries a header (the VM made
	 * it with cfg.offload): the same open file, the same flags. */
	if (kind == NIC_WIRE_TAP) {
		struct ifreq ifr;

		memset(&ifr, 0, sizeof(ifr));
		if (ioctl(wire, TUNGETIFF, &ifr) < 0) {
			rc = -errno;
			goto fail;
		}
		nic->host.vnet = (ifr.ifr_flags & IFF_VNET_HDR) != 0;
	}
	/* The reader drains the wire until EAGAIN. (A TAP's flags are the
	 * VM's too, the same open file: it has them set already.) */
	fl = fcntl(wire, F_GETFL);
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(wire, F_SETFL, fl | O_NONBLOCK) < 0)) {
		rc = -errno;
		goto fail;
	}
	cvmbus_log_info("nic: host device %#x over a %s wire", r.instance,
			kind == NIC_WIRE_TAP ? "tap" : "socket");
	*ctx = nic;
	*ops = &nic->ops;
	return 0;

fail:
	cvmbus_vm_nic_destroy(nic);
	return rc;
}

void cvmbus_vm_nic_remote_destroy(void *ctx)
{
	cvmbus_vm_nic_destroy(ctx);
}
