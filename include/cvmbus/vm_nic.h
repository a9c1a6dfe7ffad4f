/* SPDX-License-Identifier: MIT */
/*
 * The network adapter of a whole VM (src/vm/nic.c, top layer, over
 * include/cvmbus/vm.h and the network devices of include/cvmbus/net.h):
 * a synthetic NIC offered to the guest of a cvmbus_vm, with its device
 * (netvsp) on one side and the guest's driver (netvsc) on the other, each
 * wired to a backend: a TAP interface in a network namespace, or, for
 * tests, a pair of frame callbacks.
 *
 * Two paths, named by who owns the device:
 *
 *   host          CVMBUS_VM_OWNER_HOST: the host's VMBus server offers the
 *                 NIC (relayed to the guest by the paravisor when there is
 *                 one). Its ring and the netvsc send and receive buffers
 *                 are host-visible: the exposure account shows the buffers
 *                 as "vmbus-buffer" pages (coco.rst's "netvsc buffers").
 *   confidential  CVMBUS_VM_OWNER_PARAVISOR: the paravisor's own server
 *                 offers it, with confidential external memory. On a
 *                 Confidential VMBus connection the ring and both buffers
 *                 stay private; the device reads them through the
 *                 paravisor's view and the host sees none of them.
 *
 * The device's backend, on either path, is a TAP in the "host" namespace.
 * For the host path that is the host's virtual switch port. For the
 * confidential path it stands for the physical NIC the paravisor drives
 * (OpenHCL's netvsp forwards to an assigned NIC, not to the host's
 * switch): frames leave the confidential VM on a wire either way; what
 * changes is which memory carries them inside the partition.
 * docs/NET_CLI.md says more.
 *
 * Threads: the device starts with its channel (vsp open, on a server
 * thread) and stops with its close; the guest side starts and stops on a
 * workload thread of the run (cvmbus_vm_nic_guest_start/stop, or the ready
 * workload cvmbus_vm_nic_workload). A TAP backend adds one reader thread
 * per side that blocks in poll(2), so it needs the native executor.
 * A host-path NIC of a VM with cfg.processes has its device in the host's
 * process (see "process mode" below) and one more thread here, from
 * create to destroy, that answers it and carries a callback wire.
 *
 * Errors are negative errno values: -EINVAL (bad configuration: err says
 * why; a TAP backend under the deterministic executor; a paravisor NIC on
 * a VM without one), -ENOENT (a namespace that does not exist, no NIC
 * offer in the guest), -EPERM (no CAP_NET_ADMIN for the TAP), -EBUSY
 * (already started; an interface name in use), -ENOTCONN (no device or
 * driver running now), -EPROTO (the device reported a MAC no interface
 * can have), -ENOMEM, and what cvmbus_vm_add_device, cvmbus_guest_open,
 * cvmbus_netvsc_connect and cvmbus_net_tap_open return; in process mode
 * also -errno from socketpair(2), eventfd(2) and pthread_create(3).
 */
#ifndef CVMBUS_VM_NIC_H
#define CVMBUS_VM_NIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmbus/net.h>
#include <cvmbus/vm.h>
#include <cvmbus/wire.h>

/* The synthetic network adapter's offer class, HV_NIC_GUID in Linux's
 * include/linux/hyperv.h: {f8615163-df3e-46c5-913f-f2d2f965ed0e}. */
#define CVMBUS_VM_NIC_INTERFACE_ID_INIT                                                    \
	{                                                                                  \
		0xf8615163u, 0xdf3eu, 0x46c5u,                                             \
		{ 0x91u, 0x3fu, 0xf2u, 0xd2u, 0xf9u, 0x65u, 0xedu, 0x0eu }                 \
	}

/* Defaults. The guest of a VM has 4 MiB of RAM: 1 MiB of receive buffer
 * (606 sections of 1728 bytes), 512 KiB of send buffer (85 sections of
 * 6144) and two 128 KiB rings leave room for everything else it
 * allocates. */
#define CVMBUS_VM_NIC_DEFAULT_RING     (128u * 1024u)
#define CVMBUS_VM_NIC_DEFAULT_RECV_BUF (1024u * 1024u)
#define CVMBUS_VM_NIC_DEFAULT_SEND_BUF (512u * 1024u)
/* How long a frame from a backend waits for a free section before it is
 * dropped (a full NIC drops, as a wire would). */
#define CVMBUS_VM_NIC_DEFAULT_WAIT_NS (100ull * 1000000ull)
/* The default MAC of the guest's adapter: Hyper-V's OUI 00:15:5d. */
#define CVMBUS_VM_NIC_DEFAULT_MAC { 0x00u, 0x15u, 0x5du, 0xc8u, 0x00u, 0x01u }

struct cvmbus_vm_nic_config {
	/* HOST: the "host" path; PARAVISOR: the "confidential" path (the VM
	 * must have a paravisor). */
	enum cvmbus_vm_owner owner;
	/* TAP backends: the interfaces are created inside these namespaces
	 * (names under /run/netns, as `ip netns add` makes them; they must
	 * exist and differ), brought up, with the MTU below. NULL: use the
	 * callback of that side instead. */
	const char *host_netns;
	const char *guest_netns;
	const char *host_ifname;  /* NULL: "cvmbus-h0" */
	const char *guest_ifname; /* NULL: "cvmbus-g0" */
	/* Callback backends, for tests: frames the device puts on its wire
	 * (host side), frames the guest's driver received (guest side). Called
	 * on the device's / driver's receive thread (in process mode, host_rx
	 * on the NIC's link thread, a plain pthread). Inject the other way with
	 * cvmbus_vm_nic_host_send / cvmbus_vm_nic_guest_send. */
	cvmbus_net_frame_fn *host_rx;
	void *host_rx_ctx;
	cvmbus_net_frame_fn *guest_rx;
	void *guest_rx_ctx;
	/* The adapter: the MAC the device reports (all zero:
	 * CVMBUS_VM_NIC_DEFAULT_MAC), the MTU (0: 1500), the offer's instance
	 * (its first 32 bits; 0: 0x0c0ffee1). */
	uint8_t mac[CVMBUS_NET_ETH_ALEN];
	uint32_t mtu;
	uint32_t instance;
	/* The guest side: ring bytes each way (control page included,
	 * multiple of 4096; 0: default), buffer sizes (0: defaults), and
	 * GPA-direct sends instead of send-buffer sections. */
	uint32_t ring_bytes;
	uint32_t recv_buf_bytes;
	uint32_t send_buf_bytes;
	bool gpa_direct;
	/* A frame from a backend waits this long for a section (0:
	 * CVMBUS_VM_NIC_DEFAULT_WAIT_NS). */
	uint64_t wait_ns;
	/* Checksum and segmentation offloads (docs/NETWORK.md): both TAPs
	 * IFF_VNET_HDR, the driver asks the device for checksum and LSOv2
	 * offloads and sets the guest TAP's TUNSETOFFLOAD to what was
	 * granted. Only with TAP backends (a callback side ignores it). */
	bool offload;
};

struct cvmbus_vm_nic;

/*
 * Check the configuration, open the TAPs (up, MTU set; the guest's gets
 * its MAC once the driver reports it) and add the device to vm
 * (cvmbus_vm_add_device: it is offered at every run of vm). Its lock
 * belongs to vm's executor: destroy the NIC after vm's last run and
 * before cvmbus_vm_destroy (vm has no way to forget a device, so it must
 * not run again after that). 0, or -EINVAL / -ENOENT with a
 * message in err, -EPERM, -ENOMEM, -errno from the TAP, or
 * cvmbus_vm_add_device's error.
 */
int cvmbus_vm_nic_create(struct cvmbus_vm *vm, const struct cvmbus_vm_nic_config *cfg,
			 struct cvmbus_vm_nic **out, char *err, size_t errlen);
/* Closes the TAPs (the interfaces go). Not during a run; before the VM's
 * destroy. NULL: no-op. */
void cvmbus_vm_nic_destroy(struct cvmbus_vm_nic *nic);

/* The interfaces' names ("" for a callback backend). */
const char *cvmbus_vm_nic_host_ifname(const struct cvmbus_vm_nic *nic);
const char *cvmbus_vm_nic_guest_ifname(const struct cvmbus_vm_nic *nic);

/*
 * The guest side, from a workload thread of a run: find the NIC's offer
 * (class and instance), open the channel, create the driver, connect
 * (NVSP, buffers, RNDIS), give the guest's TAP the MAC the driver
 * reports, and start the guest's reader. The report's channel entry is
 * named "nic". 0, -ENOENT (not offered), -EBUSY (already started), or the
 * failing step's error (the side is left stopped).
 */
int cvmbus_vm_nic_guest_start(struct cvmbus_vm_nic *nic, struct cvmbus_vm *vm);
/* Reader, driver (HALT, revokes), channel (the device stops with its
 * close), then the buffer GPADLs' teardown: the server keeps a GPADL the
 * device has looked up until the channel is closed. Idempotent. */
void cvmbus_vm_nic_guest_stop(struct cvmbus_vm_nic *nic);

/* Inject one frame into a callback backend, during a run: as if the host
 * side's wire (host_send) or the guest's stack (guest_send) produced it.
 * Waits up to timeout_ns for a free section. 0, -ENOTCONN (that side is
 * not running), -EINVAL (that side has a TAP), or the device's or driver's
 * error (-EAGAIN, -ETIMEDOUT, -EMSGSIZE, -ESHUTDOWN). In process mode
 * host_send waits up to timeout_ns for room on the socket wire instead
 * (-ETIMEDOUT, -EAGAIN for 0); 0 means the frame is on the wire, and a
 * section the device then lacks drops it in the host's process (counted
 * in host.in_dropped, as of its next report). */
int cvmbus_vm_nic_host_send(struct cvmbus_vm_nic *nic, const void *frame, size_t len,
			    uint64_t timeout_ns);
int cvmbus_vm_nic_guest_send(struct cvmbus_vm_nic *nic, const void *frame, size_t len,
			     uint64_t timeout_ns);

/* A backend's traffic. "in": frames a reader took from the wire (or a
 * send call injected) and handed on; "dropped": of those, refused (no
 * section in time, device not ready). "out": frames written to the
 * backend. */
struct cvmbus_vm_nic_wire {
	uint64_t in_frames, in_bytes, in_dropped;
	uint64_t out_frames, out_bytes, out_errors;
};

struct cvmbus_vm_nic_stats {
	enum cvmbus_vm_owner owner;
	uint32_t relid;          /* the guest's relid of the NIC (0: never found) */
	bool device_opened;      /* the device has served a channel (any run) */
	bool connected;          /* the guest's driver finished its handshake */
	int connect_status;      /* cvmbus_netvsc_connect's (or the open's) */
	struct cvmbus_netvsc_info info;  /* what the driver learned */
	/* The device: live, or at its close. In process mode: as the host's
	 * process last reported it (zeros at its open, final at its close). */
	struct cvmbus_netvsp_stats vsp;
	struct cvmbus_netvsc_stats vsc;  /* the driver: live, or at its stop */
	/* The device's backend (process mode: the host process's counts,
	 * summed over runs, plus host_send's refusals here). */
	struct cvmbus_vm_nic_wire host;
	struct cvmbus_vm_nic_wire guest; /* the guest's backend */
};

/* Any time but from a backend callback. */
void cvmbus_vm_nic_get_stats(struct cvmbus_vm_nic *nic, struct cvmbus_vm_nic_stats *out);

/*
 * A workload that brings the NIC up and keeps it up: guest_start; one
 * probe frame of 32 random bytes (ethertype 0x88b5, the IEEE's local
 * experimental type, to the broadcast address) sent by the guest's driver
 * and registered as the channel's secret, so the snapshot that follows
 * scans host-visible memory for it; then `ready`; then wait until
 * should_stop() says so (polled every 50 ms) or duration_ns passed (0:
 * no limit); then guest_stop. The frame goes out before the guest's
 * reader starts, so nothing overwrites its send section before the scan.
 */
struct cvmbus_vm_nic_workload {
	struct cvmbus_vm_nic *nic;
	uint64_t duration_ns;
	bool (*should_stop)(void *ctx);
	void *stop_ctx;
	/* On the workload thread, after the snapshot. May be NULL. */
	void (*ready)(void *ctx, struct cvmbus_vm_nic *nic);
	void *ready_ctx;
};
/* arg: struct cvmbus_vm_nic_workload. 0 or the first failure. */
int cvmbus_vm_nic_workload(struct cvmbus_vm *vm, void *arg);

/* "host", "confidential". */
const char *cvmbus_vm_nic_path_name(enum cvmbus_vm_owner owner);

/*
 * The host path with the host party in its own process (cfg.processes of
 * the VM; docs/PROCESSES.md). The device runs in cvmbus-host; what the VM
 * hands it is this description (the device's remote_params) and one
 * socket, the NIC's "link" (its remote_fd; SOCK_SEQPACKET). Over the link:
 *
 *   host -> VM  HELLO   a new host process built the device and asks for
 *                       its wire;
 *   VM -> host  ATTACH  the wire, as the one fd of the datagram: the host
 *                       TAP's fd (a TAP backend: the host process reads
 *                       and writes the interface itself), or one end of a
 *                       second SOCK_SEQPACKET pair whose other end this
 *                       process keeps (a callback backend: one datagram is
 *                       one frame, each way; host_rx and host_send work on
 *                       that end);
 *   host -> VM  STATUS  at each device open (before the device answers the
 *                       guest) and close (with its final counters): the
 *                       device's statistics and its wire's, which
 *                       cvmbus_vm_nic_get_stats reports on this side.
 *
 * The wire is asked for rather than sent with the description because a
 * NIC outlives runs: each run's host process gets the same link and asks
 * again. Everything on the link is from the host, a hostile party: sizes
 * and types are checked, the counters are only ever shown.
 */
struct cvmbus_vm_nic_remote {
	uint8_t mac[CVMBUS_NET_ETH_ALEN];
	uint8_t reserved0[2];
	uint32_t mtu;
	uint32_t instance; /* the offer's, for logs (the offer itself travels apart) */
	uint64_t wait_ns;  /* a frame from the wire waits this long for a section */
};
_Static_assert(sizeof(struct cvmbus_vm_nic_remote) == 24, "nic remote size");
_Static_assert(offsetof(struct cvmbus_vm_nic_remote, mtu) == 8, "nic remote mtu");
_Static_assert(offsetof(struct cvmbus_vm_nic_remote, wait_ns) == 16, "nic remote wait");

/* In the host's process: the device of a description (len bytes of a
 * struct cvmbus_vm_nic_remote) over the link fd (dup'ed: the caller closes
 * its own copy). Says HELLO and waits (up to 5 s) for the wire. *ops are
 * the device's VSP ops, *ctx their context. 0, -EINVAL (a bad
 * description), -ETIMEDOUT (no wire), -EPROTO (a bad answer), -ENOMEM,
 * -errno. */
int cvmbus_vm_nic_remote_build(struct cvmbus_exec *exec, const void *params, size_t len,
			       int fd, void **ctx, const struct cvmbus_vsp_ops **ops);
/* After the server let go of the device (every channel closed). NULL:
 * no-op. */
void cvmbus_vm_nic_remote_destroy(void *ctx);

#endif /* CVMBUS_VM_NIC_H */
