/* SPDX-License-Identifier: MIT */
/*
 * A VM's disk (layer src/vm, on top of the storage stack of storage.h and
 * the whole VM of vm.h): the device, the guest's driver instance over it,
 * and a service that lets threads outside the VM's executor do I/O on it.
 * Three parts, all in src/vm/disk.c:
 *
 *   the device   a storvsp over a file backend, wrapped as a VSP for the
 *                server glue (struct cvmbus_vsp_ops) and offered either by
 *                the host ("host" path: the guest's data crosses host-
 *                visible bounce pages) or by the paravisor ("confidential"
 *                path: confidential ring and confidential external memory,
 *                the guest's private pages are read and written in place);
 *   the guest    finds the disk's offer, opens its channel and runs a
 *                storvsc on it, with a bounce pool unless the offer carries
 *                confidential external memory (0x4);
 *   the service  boots a VM with the disk on a background thread and serves
 *                pread/pwrite/flush/trim to any thread (nbdkit's, a test's),
 *                which drives the guest's storvsc itself, several requests
 *                in flight at once. It is what the nbdkit plugin
 *                (plugins/nbdkit) and `cvmbus disk` run. docs/DISK.md.
 *
 * Errors are negative errno values:
 *   -EINVAL     bad argument or configuration (err says why)
 *   -ENOTSUP    the service on the deterministic executor (its threads
 *               cannot be woken by threads outside the run), or a cell that
 *               cannot exist (vm.h)
 *   -ENOENT     the image does not exist and no size was given; the guest
 *               was offered no disk
 *   -EPERM      the confidential path, but the offer the guest received has
 *               no confidential external memory (the connection is not
 *               confidential): refused rather than silently bounced
 *   -ENOMEM     out of memory, or of guest RAM for buffers and bounce pool
 *   -EIO        the device failed a request, or the service is broken (a
 *               request timed out or the channel closed: every later one
 *               fails at once)
 *   -ESHUTDOWN  the service is stopping
 *   -EROFS      a write or trim on a read-only disk
 *   and whatever the layers below return (storage.h, guest.h, vm.h).
 */
#ifndef CVMBUS_VM_DISK_H
#define CVMBUS_VM_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmbus/exec.h>
#include <cvmbus/server_glue.h>
#include <cvmbus/storage.h>
#include <cvmbus/vm.h>

/* Hyper-V synthetic SCSI's device class, ba6163d9-04a1-4d29-b605-72e2ffb1dc7f
 * (the GUID Linux's storvsc binds to). */
#define CVMBUS_VM_DISK_INTERFACE_ID_INIT                                          \
	{                                                                          \
		0xba6163d9u, 0x04a1u, 0x4d29u,                                     \
		{ 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc, 0x7f }                 \
	}
/* The first 32 bits of a disk's instance GUID unless configured
 * ("d15c" for disk); the rest is fixed, see cvmbus_vm_disk_offer_params. */
#define CVMBUS_VM_DISK_DEFAULT_INSTANCE 0xd15c0001u

enum cvmbus_vm_disk_path {
	/* The paravisor offers the disk with confidential external memory:
	 * its VSP reads and writes the guest's private buffers through the
	 * paravisor view. Needs a paravisor and a confidential connection. */
	CVMBUS_VM_DISK_PATH_CONFIDENTIAL = 0,
	/* The host offers it (relayed by the paravisor if there is one): the
	 * guest copies every byte through bounce pages the host can read. */
	CVMBUS_VM_DISK_PATH_HOST = 1,
};

/* "confidential", "host". */
const char *cvmbus_vm_disk_path_name(enum cvmbus_vm_disk_path path);
/* 0, or -EINVAL for anything but those two names. */
int cvmbus_vm_disk_path_parse(const char *s, enum cvmbus_vm_disk_path *out);

/* ==== The device ============================================================= */

struct cvmbus_vm_disk;

struct cvmbus_vm_disk_config {
	struct cvmbus_exec *exec; /* the VM's (cvmbus_vm_exec): the VSP's threads */
	const char *image;        /* a file; its size is rounded down to 512 */
	/* > 0: create the image sparse with this size (a multiple of 512) if
	 * it does not exist. An existing image is never resized. */
	uint64_t create_bytes;
	bool read_only;
	enum cvmbus_vm_disk_path path;
	uint32_t instance;         /* 0: CVMBUS_VM_DISK_DEFAULT_INSTANCE */
	unsigned int vsp_workers;  /* the VSP's backend threads; 0: 4 */
	unsigned int vsp_queue_depth; /* requests the VSP holds; 0: 256 */
};

/* Open (or create) the image; nothing runs until a run offers it.
 * 0, -EINVAL, -ENOENT, -ENOMEM, -errno of the file. */
int cvmbus_vm_disk_create(const struct cvmbus_vm_disk_config *cfg, struct cvmbus_vm_disk **out);
/* After every run that offered it has ended. Safe on NULL. */
void cvmbus_vm_disk_destroy(struct cvmbus_vm_disk *disk);

/* The offer: the SCSI class, the instance, and on the confidential path
 * CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY (the paravisor's server adds
 * the confidential ring flag itself). */
void cvmbus_vm_disk_offer_params(const struct cvmbus_vm_disk *disk,
				 struct cvmbus_offer_params *out);
/* The VSP adapter: open creates and starts a storvsp on the channel the
 * glue hands over (through that role's view of memory), close stops and
 * frees it. ctx is the struct cvmbus_vm_disk. */
const struct cvmbus_vsp_ops *cvmbus_vm_disk_vsp_ops(void);
/* What the host's process needs to open the same disk on its own (a VM
 * with cfg.processes): the host opens the image itself, as a real host
 * owns its disk files. */
struct cvmbus_vm_disk_remote {
	char image[1024];
	uint32_t read_only;
	uint32_t instance;
	uint32_t vsp_workers;
	uint32_t vsp_queue_depth;
};
/* In the host's process: the disk of a description (len bytes of a
 * struct cvmbus_vm_disk_remote), serving the host path with
 * cvmbus_vm_disk_vsp_ops(). 0, -EINVAL, or what cvmbus_vm_disk_create
 * returns. */
int cvmbus_vm_disk_remote_build(struct cvmbus_exec *exec, const void *params, size_t len,
				void **out);

/* cvmbus_vm_add_device with the owner the path implies (-EINVAL for the
 * confidential path on a VM without a paravisor). Before a run. */
int cvmbus_vm_disk_attach(struct cvmbus_vm *vm, struct cvmbus_vm_disk *disk);

uint64_t cvmbus_vm_disk_bytes(const struct cvmbus_vm_disk *disk);
enum cvmbus_vm_disk_path cvmbus_vm_disk_path(const struct cvmbus_vm_disk *disk);

/* Fault injection (tests, the plugin's debug key): stop the VSP serving
 * the open channel as a device that dies mid-I/O would. Requests inside it
 * are never answered, later ones are not read; the guest's requests end by
 * their timeout. 0, or -ENOTCONN if no channel is open. Any thread but the
 * VSP's own. */
int cvmbus_vm_disk_stop_vsp(struct cvmbus_vm_disk *disk);

struct cvmbus_vm_disk_stats {
	uint64_t opens, closes;  /* channels served */
	uint64_t vsp_stops;      /* cvmbus_vm_disk_stop_vsp calls that stopped one */
	bool open;               /* a channel is being served now */
	/* Summed over every VSP this device ran, the current one included
	 * (max_in_flight: the highest). */
	struct cvmbus_storvsp_stats vsp;
};
void cvmbus_vm_disk_get_stats(struct cvmbus_vm_disk *disk, struct cvmbus_vm_disk_stats *out);

/* ==== The guest's side ======================================================= */

struct cvmbus_vm_disk_guest;

struct cvmbus_vm_disk_guest_config {
	uint32_t instance;        /* which disk; 0: the first SCSI offer */
	uint32_t ring_bytes;      /* each direction, control page included; 0: 64 KiB */
	uint64_t bounce_pages;    /* pool when the offer has no 0x4; 0: 256 (1 MiB) */
	unsigned int max_outstanding; /* storvsc tags; 0: 128 */
	uint64_t timeout_ns;      /* per request; 0: 10 s */
	/* Refuse (-EPERM) an offer without confidential external memory
	 * instead of bouncing: what the confidential path promises. */
	bool require_confidential;
};

struct cvmbus_vm_disk_guest_info {
	uint32_t relid;
	uint16_t offer_flags;           /* as the guest received them */
	bool confidential_ring;         /* 0x2 */
	bool confidential_external;     /* 0x4: no bounce */
	uint64_t sectors;               /* READ CAPACITY(16) */
	uint32_t block_size;
	uint32_t max_transfer;          /* from QUERY_PROPERTIES */
	uint16_t vstor_version;
	uint64_t bounce_pages;          /* 0 on the confidential path */
};

/*
 * During a run, on an executor thread (the workload or a thread it
 * spawned): find the offer, open the channel, make the bounce pool if the
 * offer has no confidential external memory, create and connect the
 * storvsc and read the capacity. 0, -ENOENT (no disk offered), -EPERM
 * (require_confidential), -ENOMEM, or the guest's / storvsc's error.
 */
int cvmbus_vm_disk_guest_open(struct cvmbus_vm *vm, const struct cvmbus_vm_disk_guest_config *cfg,
			      struct cvmbus_vm_disk_guest **out);
/* Stop the storvsc (outstanding requests end -ESHUTDOWN), close the
 * channel, free the pool. Executor thread, during the run. Safe on NULL. */
void cvmbus_vm_disk_guest_close(struct cvmbus_vm_disk_guest *g);
struct cvmbus_storvsc *cvmbus_vm_disk_guest_vsc(struct cvmbus_vm_disk_guest *g);
struct cvmbus_bounce_pool *cvmbus_vm_disk_guest_bounce(struct cvmbus_vm_disk_guest *g);
struct cvmbus_mem *cvmbus_vm_disk_guest_mem(struct cvmbus_vm_disk_guest *g);
void cvmbus_vm_disk_guest_get_info(const struct cvmbus_vm_disk_guest *g,
				   struct cvmbus_vm_disk_guest_info *out);

/* ==== The service: the disk, served to threads outside the VM =============== */

/*
 * Threads. The service's own pthread runs cvmbus_vm_run(); its workload
 * opens the guest's disk, allocates workers x depth buffers of private
 * guest RAM (chunk_bytes each; 16 by default) and starts one control
 * thread. A caller (any thread that is not one of the VM's) runs its own
 * request: it takes buffers from the pool (up to 16 chunks at once, so a
 * large request is several chunks on the wire), submits them into the
 * guest's storvsc, waits for their completions and copies the data; so the
 * number of chunks in flight is at most the number of buffers. Only
 * snapshot and scan, which need a run thread, are queued to the control
 * thread. The storvsc's locks and waits are the executor's mutexes and
 * condition variables, and guest memory is reached by copies: under the
 * NATIVE executor they are plain pthread objects that keep no per-thread
 * state, so foreign threads may use them (the deterministic executor's may
 * not, hence -ENOTSUP there). Doing the request on the caller's thread
 * saves two thread hand-overs per request (docs/BENCHMARKS.md, "Storage").
 *
 * Every wait is bounded: a chunk ends by its completion, its storvsc
 * timeout, or the channel's close. A timeout or a close marks the service
 * BROKEN: callers waiting for a buffer and later requests fail with -EIO
 * at once (chunks already on the wire end by their own timeouts), so a dead
 * device costs each caller at most one timeout.
 */
struct cvmbus_vm_disk_service;

struct cvmbus_vm_disk_service_config {
	struct cvmbus_vm_config vm;            /* the topology; must be native */
	struct cvmbus_vm_disk_config disk;     /* exec is the service VM's: ignored */
	struct cvmbus_vm_disk_guest_config guest;
	/* workers x depth guest buffers: the most chunks in flight at once
	 * (the names are those of the earlier worker threads). */
	unsigned int workers;    /* 0: 4 */
	unsigned int depth;      /* 0: 4 */
	uint32_t chunk_bytes;    /* guest buffer per chunk, multiple of 4096; 0: 128 KiB */
	/* Test hook: stop the VSP (cvmbus_vm_disk_stop_vsp) just before the
	 * Nth data chunk is submitted (later chunks wait for the stop), so
	 * that exactly the first N - 1 can succeed. 0: off. */
	uint64_t fault_after;
	uint64_t boot_timeout_ns; /* start waits this long for the disk; 0: 30 s */
};

enum cvmbus_vm_disk_service_state {
	CVMBUS_VM_DISK_SERVICE_STARTING = 0,
	CVMBUS_VM_DISK_SERVICE_READY,    /* serving */
	CVMBUS_VM_DISK_SERVICE_BROKEN,   /* a request timed out or the channel closed */
	CVMBUS_VM_DISK_SERVICE_STOPPING,
	CVMBUS_VM_DISK_SERVICE_STOPPED,  /* the run ended: the report is final */
	CVMBUS_VM_DISK_SERVICE_FAILED,   /* the run ended before the disk was ready */
};
const char *cvmbus_vm_disk_service_state_name(enum cvmbus_vm_disk_service_state s);

/* Boot and wait until the guest's disk is ready. 0; -EINVAL, -ENOTSUP,
 * -ENOENT, -EPERM, -ENOMEM, -ETIMEDOUT (boot_timeout_ns), or the run's
 * error, with a one-line reason in err. Nothing is left running on error. */
int cvmbus_vm_disk_service_start(const struct cvmbus_vm_disk_service_config *cfg,
				 struct cvmbus_vm_disk_service **out, char *err, size_t errlen);
/* The disk's size in bytes (READ CAPACITY, as the guest sees it). */
uint64_t cvmbus_vm_disk_service_size(const struct cvmbus_vm_disk_service *svc);
bool cvmbus_vm_disk_service_read_only(const struct cvmbus_vm_disk_service *svc);

/* I/O at any byte offset and length inside the disk (unaligned heads and
 * tails are read-modify-written, one such write at a time). Any thread but
 * the VM's own. 0, -EINVAL (outside the disk), -EROFS, -EIO, -ESHUTDOWN,
 * -ENOMEM. */
int cvmbus_vm_disk_service_pread(struct cvmbus_vm_disk_service *svc, void *buf, size_t len,
				 uint64_t offset);
int cvmbus_vm_disk_service_pwrite(struct cvmbus_vm_disk_service *svc, const void *buf,
				  size_t len, uint64_t offset);
int cvmbus_vm_disk_service_flush(struct cvmbus_vm_disk_service *svc);
/* UNMAP of the whole sectors inside [offset, offset + len) (a hint: the
 * partial sectors at the edges are left alone). */
int cvmbus_vm_disk_service_trim(struct cvmbus_vm_disk_service *svc, uint64_t len,
				uint64_t offset);

/* On the control thread (an executor thread), while serving:
 * cvmbus_vm_snapshot (the report's channels and exposure), and
 * cvmbus_vm_scan for needle. */
int cvmbus_vm_disk_service_snapshot(struct cvmbus_vm_disk_service *svc);
int cvmbus_vm_disk_service_scan(struct cvmbus_vm_disk_service *svc, const void *needle,
				size_t len, uint64_t *view_hits, uint64_t *fd_hits);

struct cvmbus_vm_disk_service_stats {
	enum cvmbus_vm_disk_service_state state;
	int error;                   /* what broke or failed it; 0 */
	uint64_t requests;           /* data, flush and trim requests queued */
	uint64_t failed;             /* of those, ended with an error */
	uint64_t chunks;             /* storvsc commands sent */
	uint64_t rmw;                /* unaligned writes read-modify-written */
	uint64_t bytes_read, bytes_written;
	unsigned int max_in_flight;  /* chunks being worked at once, the peak */
	unsigned int workers, depth;
	uint32_t chunk_bytes;
	struct cvmbus_vm_disk_guest_info guest;
	struct cvmbus_storvsc_stats vsc;    /* live while serving, final after stop */
	struct cvmbus_bounce_stats bounce;  /* zeros on the confidential path */
	struct cvmbus_vm_disk_stats disk;   /* the device (VSP) side */
};
void cvmbus_vm_disk_service_get_stats(struct cvmbus_vm_disk_service *svc,
				      struct cvmbus_vm_disk_service_stats *out);
/* The VM's report: complete after stop; during the run, as of the last
 * cvmbus_vm_disk_service_snapshot. */
const struct cvmbus_vm_report *cvmbus_vm_disk_service_report(struct cvmbus_vm_disk_service *svc);
/* The device, for fault injection and its stats. */
struct cvmbus_vm_disk *cvmbus_vm_disk_service_disk(struct cvmbus_vm_disk_service *svc);

/* Fail what is queued (-ESHUTDOWN), let callers finish their chunks,
 * close the guest's disk, end the run, join. Idempotent. Not from a VM
 * thread. */
void cvmbus_vm_disk_service_stop(struct cvmbus_vm_disk_service *svc);
/* stop, then free everything. Safe on NULL. */
void cvmbus_vm_disk_service_destroy(struct cvmbus_vm_disk_service *svc);

#endif /* CVMBUS_VM_DISK_H */
