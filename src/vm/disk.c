/* SPDX-License-Identifier: MIT */
/*
 * A VM's disk (src/vm, above the storage stack of src/dev and the VM of
 * vm.c; API include/cvmbus/vm_disk.h, docs/DISK.md). Three parts:
 *
 *   the device   the file backend and a storvsp, handed to the server glue
 *                as a VSP: the glue's open gives it a channel whose memory
 *                ops are its role's view (host view on the host, paravisor
 *                view in the paravisor), so the same storvsp serves either
 *                path without knowing which;
 *   the guest    finds the offer, opens the channel, creates the storvsc
 *                with confidential external memory as the offer says, and a
 *                bounce pool when it does not;
 *   the service  runs the VM on its own pthread and lets foreign threads
 *                (nbdkit's) do I/O: each drives the guest's storvsc itself,
 *                through guest buffers from a pool; only what needs a run
 *                thread (snapshot, scan) goes through a queue.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cvmbus/guest.h>
#include <cvmbus/log.h>
#include <cvmbus/platform.h>
#include <cvmbus/vm_disk.h>
#include <cvmbus/wire.h>

#define DISK_SECTOR       CVMBUS_SCSI_SECTOR
#define DISK_PAGE         CVMBUS_MEM_PAGE_SIZE
#define DISK_SEC_NS       1000000000ull
#define DISK_DEF_RING     (64u * 1024u)
#define DISK_DEF_BOUNCE   256u
#define DISK_DEF_TIMEOUT  (10ull * DISK_SEC_NS)
#define DISK_DEF_WORKERS  4u
#define DISK_MAX_WORKERS  64u
#define DISK_DEF_DEPTH    4u
#define DISK_MAX_DEPTH    32u
#define DISK_DEF_CHUNK    (128u * 1024u)
#define DISK_DEF_BOOT     (30ull * DISK_SEC_NS)
/* UNMAP takes at most 2^22 blocks per descriptor (scsi.c's limit, VPD
 * 0xB0): trims go in 1 GiB pieces, well inside it. */
#define DISK_TRIM_UNIT    (1ull << 30)

const char *cvmbus_vm_disk_path_name(enum cvmbus_vm_disk_path path)
{
	return path == CVMBUS_VM_DISK_PATH_HOST ? "host" : "confidential";
}

int cvmbus_vm_disk_path_parse(const char *s, enum cvmbus_vm_disk_path *out)
{
	if (!s || !out)
		return -EINVAL;
	if (!strcmp(s, "confidential"))
		*out = CVMBUS_VM_DISK_PATH_CONFIDENTIAL;
	else if (!strcmp(s, "host"))
		*out = CVMBUS_VM_DISK_PATH_HOST;
	else
		return -EINVAL;
	return 0;
}

/* ==== the device =============================================================== */

struct cvmbus_vm_disk {
	struct cvmbus_vm_disk_config cfg;
	char *image;
	struct cvmbus_blk *blk;
	struct cvmbus_scsi_disk scsi;
	struct cvmbus_mutex lock; /* guards vsp and the counters */
	/* The VSP of the open channel. One channel per device (no
	 * sub-channels), so one at a time. */
	struct cvmbus_storvsp *vsp;
	uint64_t opens, closes, vsp_stops;
	struct cvmbus_storvsp_stats done; /* of the VSPs already freed */
	/* What a host's process needs to open this disk (attach, host path). */
	struct cvmbus_vm_disk_remote remote;
};

int cvmbus_vm_disk_create(const struct cvmbus_vm_disk_config *cfg, struct cvmbus_vm_disk **out)
{
	struct cvmbus_blk_file_config fc;
	struct cvmbus_vm_disk *d;
	struct stat st;
	int rc;

	if (!cfg || !out || !cfg->exec || !cfg->image || !*cfg->image ||
	    cfg->create_bytes % DISK_SECTOR ||
	    (cfg->path != CVMBUS_VM_DISK_PATH_CONFIDENTIAL && cfg->path != CVMBUS_VM_DISK_PATH_HOST))
		return -EINVAL;
	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cfg = *cfg;
	d->image = strdup(cfg->image);
	if (!d->image) {
		rc = -ENOMEM;
		goto fail;
	}
	d->cfg.image = d->image;
	if (!d->cfg.instance)
		d->cfg.instance = CVMBUS_VM_DISK_DEFAULT_INSTANCE;

	memset(&fc, 0, sizeof(fc));
	fc.path = d->image;
	fc.read_only = cfg->read_only;
	/* The backend's create_bytes also resizes an existing file: pass it
	 * only when there is no file, so an image is never truncated. */
	if (stat(d->image, &st) < 0) {
		if (errno != ENOENT || !cfg->create_bytes) {
			rc = errno == ENOENT ? -ENOENT : -errno;
			goto fail;
		}
		if (cfg->read_only) {
			rc = -EINVAL; /* a new, empty, read-only disk is a mistake */
			goto fail;
		}
		fc.create_bytes = cfg->create_bytes;
	}
	rc = cvmbus_blk_file_open(&fc, &d->blk);
	if (rc)
		goto fail;
	if (!d->blk->sectors) {
		rc = -EINVAL; /* smaller than one sector: nothing to serve */
		goto fail_blk;
	}
	d->scsi.blk = d->blk;
	d->scsi.id = 0x6000d15c00000000ull | d->cfg.instance;
	/* The caching mode page says "write cache on", so a guest's flush
	 * (SYNCHRONIZE CACHE) reaches fdatasync: what NBD flush promises. */
	d->scsi.write_cache = true;
	cvmbus_mutex_init(&d->lock, cfg->exec, "vm-disk");
	*out = d;
	return 0;

fail_blk:
	cvmbus_blk_close(d->blk);
fail:
	free(d->image);
	free(d);
	return rc;
}

void cvmbus_vm_disk_destroy(struct cvmbus_vm_disk *disk)
{
	if (!disk)
		return;
	/* A run that ended stopped the glue, which closed the channel through
	 * vsp_close: nothing can be left. Destroying one anyway is safe. */
	cvmbus_storvsp_destroy(disk->vsp);
	cvmbus_mutex_destroy(&disk->lock);
	cvmbus_blk_close(disk->blk);
	free(disk->image);
	free(disk);
}

void cvmbus_vm_disk_offer_params(const struct cvmbus_vm_disk *disk,
				 struct cvmbus_offer_params *out)
{
	const struct cvmbus_guid scsi = CVMBUS_VM_DISK_INTERFACE_ID_INIT;

	memset(out, 0, sizeof(*out));
	out->interface_id = scsi;
	out->instance_id.data1 = disk->cfg.instance;
	out->instance_id.data2 = 0xd15c;
	out->instance_id.data3 = 0x4000;
	out->instance_id.data4[0] = 0x80;
	out->offer_order = CVMBUS_OFFER_ORDER_NONE;
	/* Only the paravisor's device may claim to reach private memory; the
	 * host's could not, and the host's server would strip it anyway. */
	if (disk->cfg.path == CVMBUS_VM_DISK_PATH_CONFIDENTIAL)
		out->flags = CVMBUS_OFFER_CONFIDENTIAL_EXTERNAL_MEMORY;
}

static void disk_add_stats(struct cvmbus_storvsp_stats *acc, const struct cvmbus_storvsp_stats *s)
{
	acc->packets += s->packets;
	acc->srbs += s->srbs;
	acc->completions += s->completions;
	acc->refused += s->refused;
	acc->dropped += s->dropped;
	acc->abandoned += s->abandoned;
	acc->gpa_faults += s->gpa_faults;
	acc->send_errors += s->send_errors;
	acc->bytes_read += s->bytes_read;
	acc->bytes_written += s->bytes_written;
	if (s->max_in_flight > acc->max_in_flight)
		acc->max_in_flight = s->max_in_flight;
}

static int disk_vsp_open(void *ctx, struct cvmbus_vsp_channel *vc)
{
	struct cvmbus_vm_disk *d = ctx;
	struct cvmbus_storvsp_config c;
	struct cvmbus_storvsp *vsp;
	int rc;

	/* Runs on a glue thread under the glue's lock: the VSP is created and
	 * its threads started, nothing here calls back into the glue. */
	memset(&c, 0, sizeof(c));
	c.exec = d->cfg.exec;
	c.channel = vc->channel;
	c.disk = &d->scsi;
	c.workers = d->cfg.vsp_workers;
	c.queue_depth = d->cfg.vsp_queue_depth;
	/* stop() is noticed within poll_ns: short, so that a fault test or a
	 * shutdown does not wait a long tick for nothing. */
	c.poll_ns = 5000000ull;
	cvmbus_mutex_lock(&d->lock);
	if (d->vsp) {
		/* One channel per device: a second open is a confused glue. */
		cvmbus_mutex_unlock(&d->lock);
		return -EBUSY;
	}
	rc = cvmbus_storvsp_create(&c, &vsp);
	if (!rc) {
		rc = cvmbus_storvsp_start(vsp);
		if (rc)
			cvmbus_storvsp_destroy(vsp);
	}
	if (!rc) {
		d->vsp = vsp;
		d->opens++;
		vc->device_data = vsp;
	}
	cvmbus_mutex_unlock(&d->lock);
	return rc;
}

static void disk_vsp_close(void *ctx, struct cvmbus_vsp_channel *vc)
{
	struct cvmbus_vm_disk *d = ctx;
	struct cvmbus_storvsp *vsp = vc->device_data;
	struct cvmbus_storvsp_stats s;

	if (!vsp)
		return;
	/* The channel is closed already: stop joins the VSP's threads, whose
	 * waits on it have returned -ESHUTDOWN. Under the lock, so that a
	 * concurrent stop_vsp never sees a VSP being freed. */
	cvmbus_mutex_lock(&d->lock);
	cvmbus_storvsp_stop(vsp);
	cvmbus_storvsp_get_stats(vsp, &s);
	disk_add_stats(&d->done, &s);
	cvmbus_storvsp_destroy(vsp);
	if (d->vsp == vsp)
		d->vsp = NULL;
	d->closes++;
	cvmbus_mutex_unlock(&d->lock);
	vc->device_data = NULL;
}

static const struct cvmbus_vsp_ops disk_vsp_ops = {
	.open = disk_vsp_open,
	.close = disk_vsp_close,
};

const struct cvmbus_vsp_ops *cvmbus_vm_disk_vsp_ops(void)
{
	return &disk_vsp_ops;
}

int cvmbus_vm_disk_attach(struct cvmbus_vm *vm, struct cvmbus_vm_disk *disk)
{
	struct cvmbus_vm_device dev;

	if (!vm || !disk)
		return -EINVAL;
	memset(&dev, 0, sizeof(dev));
	dev.name = "disk";
	dev.owner = disk->cfg.path == CVMBUS_VM_DISK_PATH_CONFIDENTIAL ? CVMBUS_VM_OWNER_PARAVISOR
									: CVMBUS_VM_OWNER_HOST;
	cvmbus_vm_disk_offer_params(disk, &dev.offer);
	dev.ops = &disk_vsp_ops;
	dev.ctx = disk;
	/* The description is copied by cvmbus_vm_add_device's caller-owned
	 * contract: it lives in the disk, which outlives every run. */
	if (dev.owner == CVMBUS_VM_OWNER_HOST) {
		struct cvmbus_vm_disk_remote *rd = &disk->remote;

		memset(rd, 0, sizeof(*rd));
		if (strlen(disk->image) >= sizeof(rd->image))
			return -ENAMETOOLONG;
		memcpy(rd->image, disk->image, strlen(disk->image) + 1);
		rd->read_only = disk->cfg.read_only;
		rd->instance = disk->cfg.instance;
		rd->vsp_workers = disk->cfg.vsp_workers;
		rd->vsp_queue_depth = disk->cfg.vsp_queue_depth;
		dev.remote = CVMBUS_VM_REMOTE_DISK;
		dev.remote_params = rd;
		dev.remote_params_len = sizeof(*rd);
	}
	return cvmbus_vm_add_device(vm, &dev);
}

int cvmbus_vm_disk_remote_build(struct cvmbus_exec *exec, const void *params, size_t len,
				void **out)
{
	struct cvmbus_vm_disk_remote rd;
	struct cvmbus_vm_disk_config c;
	struct cvmbus_vm_disk *d;
	int rc;

	if (!exec || !params || !out || len != sizeof(rd))
		return -EINVAL;
	memcpy(&rd, params, sizeof(rd));
	if (!memchr(rd.image, '\0', sizeof(rd.image)) || !rd.image[0])
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	c.exec = exec;
	c.image = rd.image;
	c.read_only = rd.read_only != 0;
	c.path = CVMBUS_VM_DISK_PATH_HOST;
	c.instance = rd.instance;
	c.vsp_workers = rd.vsp_workers;
	c.vsp_queue_depth = rd.vsp_queue_depth;
	rc = cvmbus_vm_disk_create(&c, &d);
	if (!rc)
		*out = d;
	return rc;
}

uint64_t cvmbus_vm_disk_bytes(const struct cvmbus_vm_disk *disk)
{
	return disk->blk->sectors * DISK_SECTOR;
}

enum cvmbus_vm_disk_path cvmbus_vm_disk_path(const struct cvmbus_vm_disk *disk)
{
	return disk->cfg.path;
}

int cvmbus_vm_disk_stop_vsp(struct cvmbus_vm_disk *disk)
{
	int rc = -ENOTCONN;

	cvmbus_mutex_lock(&disk->lock);
	if (disk->vsp && cvmbus_storvsp_state(disk->vsp) == CVMBUS_STORVSP_RUNNING) {
		/* Joins the VSP's threads: what was queued is abandoned, what
		 * a worker had is finished but never answered. */
		cvmbus_storvsp_stop(disk->vsp);
		disk->vsp_stops++;
		rc = 0;
	}
	cvmbus_mutex_unlock(&disk->lock);
	return rc;
}

void cvmbus_vm_disk_get_stats(struct cvmbus_vm_disk *disk, struct cvmbus_vm_disk_stats *out)
{
	memset(out, 0, sizeof(*out));
	cvmbus_mutex_lock(&disk->lock);
	out->opens = disk->opens;
	out->closes = disk->closes;
	out->vsp_stops = disk->vsp_stops;
	out->vsp = disk->done;
	out->open = disk->vsp != NULL;
	if (disk->vsp) {
		struct cvmbus_storvsp_stats s;

		cvmbus_storvsp_get_stats(disk->vsp, &s);
		disk_add_stats(&out->vsp, &s);
	}
	cvmbus_mutex_unlock(&disk->lock);
}

/* ==== the guest's side ============================================================ */

struct cvmbus_vm_disk_guest {
	struct cvmbus_vm *vm;
	struct cvmbus_guest *guest;
	struct cvmbus_mem *mem;
	struct cvmbus_guest_offer offer;
	bool opened;
	struct cvmbus_bounce_pool *bounce;
	struct cvmbus_storvsc *vsc;
	uint64_t scratch_gpa; /* one private page: READ CAPACITY's answer */
	struct cvmbus_vm_disk_guest_info info;
};

/* The disk's offer: the instance asked for, or the first SCSI offer. */
static int disk_find_offer(struct cvmbus_guest *g, uint32_t instance,
			   struct cvmbus_guest_offer *out)
{
	const struct cvmbus_guid scsi = CVMBUS_VM_DISK_INTERFACE_ID_INIT;
	struct cvmbus_guest_offer offers[CVMBUS_VM_MAX_CHANNELS * 2];
	size_t n = 0;
	int rc;

	if (!instance)
		return cvmbus_guest_find_offer(g, &scsi, out);
	rc = cvmbus_guest_offers(g, offers, sizeof(offers) / sizeof(offers[0]), &n);
	if (rc)
		return rc;
	if (n > sizeof(offers) / sizeof(offers[0]))
		n = sizeof(offers) / sizeof(offers[0]);
	for (size_t i = 0; i < n; i++) {
		if (offers[i].rescinded || memcmp(&offers[i].if_type, &scsi, sizeof(scsi)) ||
		    offers[i].if_instance.data1 != instance)
			continue;
		*out = offers[i];
		return 0;
	}
	return -ENOENT;
}

int cvmbus_vm_disk_guest_open(struct cvmbus_vm *vm, const struct cvmbus_vm_disk_guest_config *cfg,
			      struct cvmbus_vm_disk_guest **out)
{
	struct cvmbus_vm_disk_guest_config c = { 0 };
	struct cvmbus_guest_open_params op;
	struct cvmbus_storvsc_config sc;
	struct cvmbus_vm_disk_guest *g;
	struct cvmbus_platform *p;
	struct cvmbus_channel *ch = NULL;
	int rc;

	if (!vm || !out)
		return -EINVAL;
	*out = NULL;
	if (cfg)
		c = *cfg;
	if (!c.ring_bytes)
		c.ring_bytes = DISK_DEF_RING;
	if (!c.bounce_pages)
		c.bounce_pages = DISK_DEF_BOUNCE;
	if (!c.timeout_ns)
		c.timeout_ns = DISK_DEF_TIMEOUT;
	if (c.ring_bytes % DISK_PAGE || c.ring_bytes < 2 * DISK_PAGE)
		return -EINVAL;
	p = cvmbus_vm_platform(vm);
	if (!p || !cvmbus_vm_guest(vm))
		return -EINVAL; /* not during a run */
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->vm = vm;
	g->guest = cvmbus_vm_guest(vm);
	g->mem = cvmbus_platform_mem(p);

	rc = disk_find_offer(g->guest, c.instance, &g->offer);
	if (rc)
		goto fail;
	g->info.relid = g->offer.relid;
	g->info.offer_flags = g->offer.flags;
	g->info.confidential_ring = g->offer.confidential_ring;
	g->info.confidential_external = g->offer.confidential_external;
	if (c.require_confidential && !g->offer.confidential_external) {
		rc = -EPERM;
		goto fail;
	}

	memset(&op, 0, sizeof(op));
	op.send_bytes = c.ring_bytes;
	op.recv_bytes = c.ring_bytes;
	rc = cvmbus_guest_open(g->guest, g->offer.relid, &op, &ch);
	if (rc)
		goto fail;
	g->opened = true;

	/* The offer decides, as Linux's storvsc does with the channel's
	 * co_external_memory: with 0x4 the device reads private pages, so
	 * the buffers' own PFNs go out and nothing is made shared; without
	 * it every byte crosses pages the host can read. */
	if (!g->offer.confidential_external) {
		struct cvmbus_bounce_pool_config bc = {
			.exec = cvmbus_vm_exec(vm),
			.mem = g->mem,
			.pages = c.bounce_pages,
		};

		rc = cvmbus_bounce_pool_create(&bc, &g->bounce);
		if (rc)
			goto fail;
		g->info.bounce_pages = c.bounce_pages;
	}
	rc = cvmbus_mem_alloc(g->mem, CVMBUS_MEM_REGION_VTL0, 1, &g->scratch_gpa);
	if (rc) {
		g->scratch_gpa = 0;
		goto fail;
	}

	memset(&sc, 0, sizeof(sc));
	sc.exec = cvmbus_vm_exec(vm);
	sc.channel = ch;
	sc.mem = g->mem;
	sc.confidential_external_memory = g->offer.confidential_external;
	sc.bounce = g->bounce;
	sc.max_outstanding = c.max_outstanding;
	sc.timeout_ns = c.timeout_ns;
	sc.poll_ns = 5000000ull;
	rc = cvmbus_storvsc_create(&sc, &g->vsc);
	if (rc)
		goto fail;
	rc = cvmbus_storvsc_connect(g->vsc);
	if (rc)
		goto fail;
	rc = cvmbus_storvsc_read_capacity(g->vsc, g->scratch_gpa, &g->info.sectors,
					  &g->info.block_size);
	if (rc)
		goto fail;
	if (g->info.block_size != DISK_SECTOR || !g->info.sectors) {
		rc = -EPROTO; /* this driver speaks 512-byte blocks only */
		goto fail;
	}
	g->info.max_transfer = cvmbus_storvsc_max_transfer(g->vsc);
	g->info.vstor_version = cvmbus_storvsc_version(g->vsc);
	*out = g;
	return 0;

fail:
	cvmbus_vm_disk_guest_close(g);
	return rc;
}

void cvmbus_vm_disk_guest_close(struct cvmbus_vm_disk_guest *g)
{
	if (!g)
		return;
	/* The storvsc first (every request ends, its receive thread leaves
	 * the channel), then the channel, then the pool: its pages are made
	 * private again only once no device can be reading them. */
	cvmbus_storvsc_stop(g->vsc);
	if (g->opened) {
		int rc = cvmbus_guest_close(g->guest, g->offer.relid);

		if (rc)
			cvmbus_log_warn("vm disk: close of relid %u failed (%d)", g->offer.relid,
					rc);
	}
	cvmbus_storvsc_destroy(g->vsc);
	cvmbus_bounce_pool_destroy(g->bounce);
	if (g->scratch_gpa)
		(void)cvmbus_mem_free(g->mem, g->scratch_gpa, 1);
	free(g);
}

struct cvmbus_storvsc *cvmbus_vm_disk_guest_vsc(struct cvmbus_vm_disk_guest *g)
{
	return g->vsc;
}

struct cvmbus_bounce_pool *cvmbus_vm_disk_guest_bounce(struct cvmbus_vm_disk_guest *g)
{
	return g->bounce;
}

struct cvmbus_mem *cvmbus_vm_disk_guest_mem(struct cvmbus_vm_disk_guest *g)
{
	return g->mem;
}

void cvmbus_vm_disk_guest_get_info(const struct cvmbus_vm_disk_guest *g,
				   struct cvmbus_vm_disk_guest_info *out)
{
	*out = g->info;
}

/* ==== the service =================================================================== */

/*
 * Data requests (read, write, flush, trim) run on the caller's own thread:
 * it takes guest buffers from a pool, submits its chunks into the storvsc,
 * waits for their completions and copies the data. Nothing is handed to
 * another thread on the guest's side, so a request costs one wake-up there
 * (the storvsc's receive thread waking the caller) instead of three (the
 * caller waking a worker, the receive thread waking the worker, the worker
 * waking the caller): on two CPUs each costs more than a 4 KiB read
 * (docs/BENCHMARKS.md, "Storage"). Under the native executor the storvsc's
 * blocking calls are plain mutexes and condition variables, and guest
 * memory is reached by copies: any thread may make them (docs/DISK.md).
 *
 * What needs a run thread (cvmbus_vm_snapshot, cvmbus_vm_scan) still goes
 * through a queue to one executor thread, the control worker.
 */

enum svc_op {
	SVC_READ = 0,
	SVC_WRITE,
	SVC_FLUSH,
	SVC_TRIM,
	SVC_SNAPSHOT, /* control: on the control worker */
	SVC_SCAN,
};

/* The most chunks one caller keeps on the wire at once: a request larger
 * than this many chunks goes in rounds. */
#define SVC_BATCH     16u
#define SVC_MAX_BUFS  (DISK_MAX_WORKERS * DISK_MAX_DEPTH)

/* One control request, on the caller's stack; the control worker runs it
 * and signals cond. Under svc->lock but for the SCAN results, which only
 * the worker writes before it sets finished. */
struct svc_req {
	enum svc_op op;
	int error;
	bool finished;
	struct cvmbus_cond cond;
	struct svc_req *link;
	/* SCAN */
	const void *needle;
	size_t needle_len;
	uint64_t view_hits, fd_hits;
};

/* One chunk of a data request, on the caller's stack. */
struct svc_chunk {
	uint64_t gpa;   /* a pool buffer: chunk_bytes of private guest RAM */
	uint64_t off;   /* on the disk */
	uint64_t len;
	uint8_t *data;  /* the caller's bytes for this chunk (READ/WRITE) */
	uint32_t tag;   /* storvsc's, while submitted */
	bool submitted; /* a READ/WRITE on the wire: wait for tag */
	int rc;
};

struct cvmbus_vm_disk_service {
	struct cvmbus_vm_disk_service_config cfg;
	struct cvmbus_vm *vm;
	struct cvmbus_vm_disk *disk;
	pthread_t runner;
	bool runner_started, runner_joined;
	struct cvmbus_mutex lock;      /* guards everything below */
	struct cvmbus_cond work;       /* the control worker: a request, or stop */
	struct cvmbus_cond state_cond; /* state changes, stop requests, active == 0 */
	struct cvmbus_cond buf_cond;   /* a buffer came back, or broken/stopping */
	enum cvmbus_vm_disk_service_state state;
	int error;
	char why[200];
	bool stop_requested;
	struct svc_req *head, *tail;   /* control requests */
	/* Callers inside the storvsc: the workload closes the guest's disk
	 * only once they are all out. */
	unsigned int active;
	unsigned int in_flight;        /* buffers taken */
	unsigned int buf_waiters;
	uint64_t data_chunks;          /* counted, for fault_after */
	bool fault_stopped;            /* the hook has stopped the VSP */
	struct cvmbus_vm_disk_service_stats st; /* the counters part */
	struct cvmbus_vm_disk_guest *guest; /* while serving */
	bool final_valid;
	struct cvmbus_storvsc_stats vsc_final;
	struct cvmbus_bounce_stats bounce_final;
	/* Service constants once READY (set under the lock before the state
	 * says so; callers read them after seeing READY under it). */
	uint64_t size;
	struct cvmbus_mem *mem;
	struct cvmbus_storvsc *vsc;
	unsigned int nbufs;
	uint64_t bufs[SVC_MAX_BUFS];      /* every buffer, for the unwind */
	uint64_t free_bufs[SVC_MAX_BUFS]; /* a stack of the free ones */
	unsigned int nfree;
	struct cvmbus_thread *worker;
	/* One unaligned write at a time: its read-modify-write touches bytes
	 * outside the caller's range, which another unaligned write to the
	 * same sector must not interleave with. */
	struct cvmbus_mutex rmw_lock;
};

const char *cvmbus_vm_disk_service_state_name(enum cvmbus_vm_disk_service_state s)
{
	static const char *const names[] = { "starting", "ready", "broken",
					     "stopping", "stopped", "failed" };

	return (unsigned int)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static void svc_finish_locked(struct svc_req *r)
{
	r->finished = true;
	/* The caller frees r (its stack) as soon as it sees finished, which
	 * it can only do once we drop svc->lock: signal under it. */
	cvmbus_cond_signal(&r->cond);
}

/* Fail every control request not yet taken, with rc. Under svc->lock. */
static void svc_fail_queue_locked(struct cvmbus_vm_disk_service *svc, int rc)
{
	struct svc_req *r = svc->head;

	svc->head = svc->tail = NULL;
	while (r) {
		struct svc_req *next = r->link;

		r->link = NULL;
		r->error = rc;
		svc_finish_locked(r);
		r = next;
	}
}

/* A transport failure: the device stopped answering or the channel went
 * away. Later requests would only wait for their own timeouts. */
static bool svc_fatal(int rc)
{
	return rc == -ETIMEDOUT || rc == -ESHUTDOWN || rc == -EPROTO || rc == -ENODEV;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

static void svc_set_state_locked(struct cvmbus_vm_disk_service *svc,
				 enum cvmbus_vm_disk_service_state s, int error, const char *why)
{
	svc->state = s;
	if (error && !svc->error) {
		svc->error = error;
		snprintf(svc->why, sizeof(svc->why), "%s", why);
	}
	cvmbus_cond_broadcast(&svc->state_cond);
}


/* The test hook (cfg.fault_after): the device dies before the Nth data
 * chunk goes out, so that it and every later one are outstanding on a
 * dead device. The stop comes before the submit, and later chunks wait
 * for it, because a VTL2 pass may run a chunk to completion inside its
 * own submit: stopping after the Nth submit would let other callers'
 * chunks complete in between, as many as the scheduler allows. So
 * exactly the first N - 1 can succeed. */
static void svc_fault_hook(struct cvmbus_vm_disk_service *svc)
{
	uint64_t n;

	cvmbus_mutex_lock(&svc->lock);
	n = ++svc->data_chunks;
	while (n > svc->cfg.fault_after && !svc->fault_stopped)
		cvmbus_cond_wait(&svc->state_cond, &svc->lock);
	cvmbus_mutex_unlock(&svc->lock);
	if (n != svc->cfg.fault_after)
		return;
	cvmbus_log_warn("vm disk: fault injection: stopping the vsp before chunk %llu",
			(unsigned long long)n);
	(void)cvmbus_vm_disk_stop_vsp(svc->disk);
	cvmbus_mutex_lock(&svc->lock);
	svc->fault_stopped = true;
	cvmbus_mutex_unlock(&svc->lock);
	cvmbus_cond_broadcast(&svc->state_cond);
}
/* Start one chunk on the caller's thread: a READ(16) / WRITE(16) is
 * submitted (the write's data copied into the chunk's buffer first) and
 * left on the wire; a flush or an unmap runs to completion here. Sets
 * c->submitted or c->rc. */
static void svc_chunk_start(struct cvmbus_vm_disk_service *svc, enum svc_op op,
			    struct svc_chunk *c)
{
	struct cvmbus_storvsc_cmd cmd;
	bool write = op == SVC_WRITE;
	int rc;

	c->submitted = false;
	c->rc = 0;
	if (op == SVC_FLUSH) {
		c->rc = cvmbus_storvsc_flush(svc->vsc);
		return;
	}
	if (op == SVC_TRIM) {
		/* The parameter list goes through the chunk's own buffer. */
		c->rc = cvmbus_storvsc_unmap(svc->vsc, c->off / DISK_SECTOR,
					     (uint32_t)(c->len / DISK_SECTOR), c->gpa);
		return;
	}
	if (write) {
		/* The guest fills its own private buffer; on the host path the
		 * storvsc copies it into bounce pages, on the confidential one
		 * the paravisor reads it where it is. */
		rc = cvmbus_mem_write(svc->mem, CVMBUS_MEM_VIEW_GUEST, c->gpa, c->data, c->len);
		if (rc) {
			c->rc = rc;
			return;
		}
	}
	if (svc->cfg.fault_after)
		svc_fault_hook(svc);
	memset(&cmd, 0, sizeof(cmd));
	cmd.cdb[0] = write ? CVMBUS_SCSI_WRITE_16 : CVMBUS_SCSI_READ_16;
	put_be64(cmd.cdb + 2, c->off / DISK_SECTOR);
	put_be32(cmd.cdb + 10, (uint32_t)(c->len / DISK_SECTOR));
	cmd.cdb_len = 16;
	cmd.dir = write ? CVMBUS_SCSI_DIR_OUT : CVMBUS_SCSI_DIR_IN;
	cmd.gpa = c->gpa;
	cmd.len = (uint32_t)c->len;
	rc = cvmbus_storvsc_submit(svc->vsc, &cmd, &c->tag);
	if (rc) {
		c->rc = rc;
		return;
	}
	c->submitted = true;
}

/* Wait for a submitted chunk; a read's data goes to the caller's buffer. */
static int svc_chunk_end(struct cvmbus_vm_disk_service *svc, enum svc_op op,
			 struct svc_chunk *c)
{
	struct cvmbus_storvsc_result res;
	int rc;

	rc = cvmbus_storvsc_wait(svc->vsc, c->tag, &res);
	if (rc)
		return rc;
	rc = cvmbus_storvsc_result_errno(&res);
	if (rc)
		return rc;
	/* A device that moved less than asked answered wrongly, not "less
	 * data": NBD has no short reads. */
	if (res.transfer_length != c->len)
		return -EIO;
	if (op == SVC_READ)
		rc = cvmbus_mem_read(svc->mem, CVMBUS_MEM_VIEW_GUEST, c->gpa, c->data, c->len);
	return rc;
}

/* Take between 1 and want buffers (under svc->lock): waits for the first
 * only, so that a caller never sleeps holding buffers (two callers each
 * waiting for the other's would never wake). 0, or -EIO (broken) /
 * -ESHUTDOWN (stopping) with nothing taken. */
static int svc_take_bufs_locked(struct cvmbus_vm_disk_service *svc, unsigned int want,
				struct svc_chunk *chunks, unsigned int *got)
{
	*got = 0;
	for (;;) {
		if (svc->state != CVMBUS_VM_DISK_SERVICE_READY)
			return svc->state == CVMBUS_VM_DISK_SERVICE_BROKEN ? -EIO : -ESHUTDOWN;
		if (svc->nfree)
			break;
		svc->buf_waiters++;
		cvmbus_cond_wait(&svc->buf_cond, &svc->lock);
		svc->buf_waiters--;
	}
	while (*got < want && svc->nfree)
		chunks[(*got)++].gpa = svc->free_bufs[--svc->nfree];
	svc->in_flight += *got;
	if (svc->in_flight > svc->st.max_in_flight)
		svc->st.max_in_flight = svc->in_flight;
	return 0;
}

/* Give n buffers back and account their chunks (under svc->lock); the
 * first transport failure marks the service broken. Returns the first
 * chunk error. */
static int svc_put_bufs_locked(struct cvmbus_vm_disk_service *svc, struct svc_chunk *chunks,
			       unsigned int n)
{
	int first = 0;

	for (unsigned int i = 0; i < n; i++) {
		int rc = chunks[i].rc;

		svc->free_bufs[svc->nfree++] = chunks[i].gpa;
		if (!rc)
			continue;
		if (!first)
			first = rc;
		if (svc_fatal(rc) && svc->state == CVMBUS_VM_DISK_SERVICE_READY) {
			svc->state = CVMBUS_VM_DISK_SERVICE_BROKEN;
			svc->error = rc;
			snprintf(svc->why, sizeof(svc->why), "disk request failed (%d): broken",
				 rc);
			cvmbus_log_warn("vm disk: a request failed (%d): failing every later one",
					rc);
			cvmbus_cond_broadcast(&svc->state_cond);
			/* Callers waiting for a buffer fail now. */
			cvmbus_cond_broadcast(&svc->buf_cond);
		}
	}
	svc->in_flight -= n;
	if (svc->buf_waiters)
		cvmbus_cond_broadcast(&svc->buf_cond);
	return first;
}

/* A data request (sector-aligned), on the caller's thread. The service's
 * lock is taken twice per round of chunks (take the buffers; give them
 * back and, after the last round, account the request), not once per
 * step: sixteen callers share it. */
static int svc_io(struct cvmbus_vm_disk_service *svc, enum svc_op op, uint8_t *buf, uint64_t len,
		  uint64_t offset)
{
	struct svc_chunk chunks[SVC_BATCH];
	uint64_t unit = op == SVC_TRIM ? DISK_TRIM_UNIT : svc->cfg.chunk_bytes;
	uint64_t nchunks = op == SVC_FLUSH ? 1 : (len + unit - 1) / unit, next = 0;
	unsigned int n = 0;
	int rc;

	cvmbus_mutex_lock(&svc->lock);
	svc->st.requests++;
	if (svc->state != CVMBUS_VM_DISK_SERVICE_READY) {
		/* A broken device is not asked again: each try would cost a
		 * full timeout. */
		rc = svc->state == CVMBUS_VM_DISK_SERVICE_BROKEN ? -EIO : -ESHUTDOWN;
		svc->st.failed++;
		cvmbus_mutex_unlock(&svc->lock);
		return rc;
	}
	svc->active++;
	for (;;) {
		/* Under the lock here: take the next round's buffers. */
		unsigned int want = nchunks - next < SVC_BATCH ? (unsigned int)(nchunks - next)
							       : SVC_BATCH;

		rc = svc_take_bufs_locked(svc, want, chunks, &n);
		if (rc)
			break;
		svc->st.chunks += n;
		cvmbus_mutex_unlock(&svc->lock);

		for (unsigned int i = 0; i < n; i++) {
			struct svc_chunk *c = &chunks[i];
			uint64_t at = (next + i) * unit;

			c->off = offset + at;
			c->len = len - at < unit ? len - at : unit;
			c->data = buf ? buf + at : NULL;
			svc_chunk_start(svc, op, c);
		}
		/* Every submitted chunk is waited for, even after an error:
		 * its buffer may not go back while the device may write it. */
		for (unsigned int i = 0; i < n; i++)
			if (chunks[i].submitted)
				chunks[i].rc = svc_chunk_end(svc, op, &chunks[i]);

		cvmbus_mutex_lock(&svc->lock);
		rc = svc_put_bufs_locked(svc, chunks, n);
		next += n;
		if (rc || next == nchunks)
			break;
	}
	/* Still under the lock: account the request and leave. */
	if (rc)
		svc->st.failed++;
	else if (op == SVC_READ)
		svc->st.bytes_read += len;
	else if (op == SVC_WRITE)
		svc->st.bytes_written += len;
	if (--svc->active == 0 && svc->stop_requested)
		cvmbus_cond_broadcast(&svc->state_cond);
	cvmbus_mutex_unlock(&svc->lock);
	/* What the caller sees of a dead device is an I/O error (nbdkit hands
	 * the errno to the client); the cause stays in the stats. */
	if (rc && rc != -EIO && rc != -ESHUTDOWN && rc != -ENOMEM)
		rc = -EIO;
	return rc;
}

/* The control worker: snapshot and scan, which need a run thread. */
static int svc_worker_main(void *arg)
{
	struct cvmbus_vm_disk_service *svc = arg;

	cvmbus_mutex_lock(&svc->lock);
	for (;;) {
		struct svc_req *r;
		int rc;

		while (!svc->head && !svc->stop_requested)
			cvmbus_cond_wait(&svc->work, &svc->lock);
		r = svc->head;
		if (!r)
			break; /* stopping: stop failed whatever was queued */
		svc->head = r->link;
		if (!svc->head)
			svc->tail = NULL;
		r->link = NULL;
		cvmbus_mutex_unlock(&svc->lock);
		if (r->op == SVC_SNAPSHOT)
			rc = cvmbus_vm_snapshot(svc->vm);
		else
			rc = cvmbus_vm_scan(svc->vm, r->needle, r->needle_len, &r->view_hits,
					    &r->fd_hits);
		cvmbus_mutex_lock(&svc->lock);
		r->error = rc;
		svc_finish_locked(r);
	}
	cvmbus_mutex_unlock(&svc->lock);
	return 0;
}

static void svc_capture_final(struct cvmbus_vm_disk_service *svc)
{
	struct cvmbus_bounce_pool *bp = cvmbus_vm_disk_guest_bounce(svc->guest);

	cvmbus_storvsc_get_stats(cvmbus_vm_disk_guest_vsc(svc->guest), &svc->vsc_final);
	memset(&svc->bounce_final, 0, sizeof(svc->bounce_final));
	if (bp)
		cvmbus_bounce_get_stats(bp, &svc->bounce_final);
	svc->final_valid = true;
}

/* The VM's workload: on the run's main thread (an executor thread). */
static int svc_workload(struct cvmbus_vm *vm, void *arg)
{
	struct cvmbus_vm_disk_service *svc = arg;
	struct cvmbus_vm_disk_guest *g = NULL;
	struct cvmbus_vm_disk_guest_info info;
	uint64_t pages = svc->cfg.chunk_bytes / DISK_PAGE;
	bool spawned = false;
	char why[200];
	int rc;

	rc = cvmbus_vm_disk_guest_open(vm, &svc->cfg.guest, &g);
	if (rc) {
		snprintf(why, sizeof(why),
			 rc == -ENOENT  ? "the guest was offered no disk (%d)"
			 : rc == -EPERM ? "the disk's offer has no confidential external memory: "
					  "the connection is not confidential (%d)"
					: "the guest could not open its disk (%d)",
			 rc);
		goto fail;
	}
	cvmbus_vm_disk_guest_get_info(g, &info);
	if (svc->cfg.chunk_bytes > info.max_transfer) {
		rc = -EINVAL;
		snprintf(why, sizeof(why), "chunk %u bytes is above the device's %u-byte transfers",
			 svc->cfg.chunk_bytes, info.max_transfer);
		goto fail_bufs; /* nothing allocated yet: this only closes g */
	}
	svc->mem = cvmbus_vm_disk_guest_mem(g);
	/* Each buffer is its own private guest RAM (never shared: on the host
	 * path the storvsc bounces out of it). */
	svc->nbufs = svc->cfg.workers * svc->cfg.depth;
	for (unsigned int i = 0; i < svc->nbufs; i++) {
		rc = cvmbus_mem_alloc(svc->mem, CVMBUS_MEM_REGION_VTL0, pages, &svc->bufs[i]);
		if (rc) {
			svc->bufs[i] = 0;
			snprintf(why, sizeof(why),
				 "no guest RAM for %u buffers of %u bytes (%d): fewer "
				 "workers, less depth or a smaller chunk",
				 svc->nbufs, svc->cfg.chunk_bytes, rc);
			goto fail_bufs;
		}
		svc->free_bufs[i] = svc->bufs[i];
	}
	rc = cvmbus_thread_spawn(cvmbus_vm_exec(vm), &svc->worker, "disk-control",
				 svc_worker_main, svc);
	if (rc) {
		snprintf(why, sizeof(why), "cannot start the disk's control worker (%d)", rc);
		goto fail_bufs;
	}
	spawned = true;

	cvmbus_mutex_lock(&svc->lock);
	svc->guest = g;
	svc->vsc = cvmbus_vm_disk_guest_vsc(g);
	svc->nfree = svc->nbufs;
	svc->size = info.sectors * DISK_SECTOR;
	svc->st.guest = info;
	if (!svc->stop_requested)
		svc_set_state_locked(svc, CVMBUS_VM_DISK_SERVICE_READY, 0, NULL);
	/* Serve until stopped, then until the last caller has left the
	 * storvsc (each is bounded by its requests' timeouts). */
	while (!svc->stop_requested || svc->active)
		cvmbus_cond_wait(&svc->state_cond, &svc->lock);
	cvmbus_mutex_unlock(&svc->lock);
	rc = 0;

fail_bufs:
	if (spawned) {
		/* The worker leaves once stop_requested is set and the queue
		 * is empty (stop failed what was queued). */
		cvmbus_mutex_lock(&svc->lock);
		svc->stop_requested = true;
		cvmbus_cond_broadcast(&svc->work);
		cvmbus_mutex_unlock(&svc->lock);
		(void)cvmbus_thread_join(svc->worker, NULL);
		svc->worker = NULL;
	}
	for (unsigned int i = 0; i < svc->nbufs; i++) {
		if (svc->bufs[i])
			(void)cvmbus_mem_free(svc->mem, svc->bufs[i], pages);
		svc->bufs[i] = 0;
	}
	cvmbus_mutex_lock(&svc->lock);
	svc->nfree = 0;
	if (svc->guest)
		svc_capture_final(svc);
	svc->guest = NULL;
	svc->vsc = NULL;
	cvmbus_mutex_unlock(&svc->lock);
	cvmbus_vm_disk_guest_close(g);
	if (!rc)
		return 0;
fail:
	cvmbus_mutex_lock(&svc->lock);
	svc_set_state_locked(svc, CVMBUS_VM_DISK_SERVICE_FAILED, rc, why);
	cvmbus_mutex_unlock(&svc->lock);
	return rc;
}
static void *svc_runner(void *arg)
{
	struct cvmbus_vm_disk_service *svc = arg;
	const struct cvmbus_vm_report *r;
	int rc;

	rc = cvmbus_vm_run(svc->vm, svc_workload, svc);
	r = cvmbus_vm_report(svc->vm);
	cvmbus_mutex_lock(&svc->lock);
	if (svc->state == CVMBUS_VM_DISK_SERVICE_STARTING ||
	    svc->state == CVMBUS_VM_DISK_SERVICE_FAILED) {
		char why[200];

		snprintf(why, sizeof(why), "vm: %s", r->error[0] ? r->error : "run failed");
		svc_set_state_locked(svc, CVMBUS_VM_DISK_SERVICE_FAILED, rc ? rc : -EIO, why);
	} else {
		if (rc && !svc->error) {
			svc->error = rc;
			snprintf(svc->why, sizeof(svc->why), "vm: %s", r->error);
		}
		svc_set_state_locked(svc, CVMBUS_VM_DISK_SERVICE_STOPPED, 0, NULL);
	}
	cvmbus_mutex_unlock(&svc->lock);
	return NULL;
}

static void svc_free(struct cvmbus_vm_disk_service *svc)
{
	/* The run is over (the disk outlived it); the disk's lock is bound
	 * to the VM's executor, so the disk goes first. */
	cvmbus_vm_disk_destroy(svc->disk);
	cvmbus_vm_destroy(svc->vm);
	free(svc);
}

static void svc_join(struct cvmbus_vm_disk_service *svc)
{
	if (svc->runner_started && !svc->runner_joined) {
		pthread_join(svc->runner, NULL);
		svc->runner_joined = true;
	}
}

int cvmbus_vm_disk_service_start(const struct cvmbus_vm_disk_service_config *cfg,
				 struct cvmbus_vm_disk_service **out, char *err, size_t errlen)
{
	struct cvmbus_vm_disk_service *svc;
	struct cvmbus_vm_disk_config dc;
	uint64_t deadline;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!cfg || !out)
		return -EINVAL;
	*out = NULL;
	if (cfg->vm.deterministic) {
		/* Foreign threads cannot wake a det run's threads (one runs at
		 * a time, chosen by the seed): the queue needs real threads. */
		if (err && errlen)
			snprintf(err, errlen, "the disk service needs the native executor "
					      "(a seed selects the deterministic one)");
		return -ENOTSUP;
	}
	if (cfg->disk.path == CVMBUS_VM_DISK_PATH_CONFIDENTIAL && !cfg->vm.paravisor) {
		if (err && errlen)
			snprintf(err, errlen, "the confidential path needs a paravisor "
					      "(use the host path without one)");
		return -EINVAL;
	}
	svc = calloc(1, sizeof(*svc));
	if (!svc)
		return -ENOMEM;
	svc->cfg = *cfg;
	if (!svc->cfg.workers)
		svc->cfg.workers = DISK_DEF_WORKERS;
	if (!svc->cfg.depth)
		svc->cfg.depth = DISK_DEF_DEPTH;
	if (!svc->cfg.chunk_bytes)
		svc->cfg.chunk_bytes = DISK_DEF_CHUNK;
	if (!svc->cfg.boot_timeout_ns)
		svc->cfg.boot_timeout_ns = DISK_DEF_BOOT;
	if (svc->cfg.workers > DISK_MAX_WORKERS || svc->cfg.depth > DISK_MAX_DEPTH ||
	    svc->cfg.chunk_bytes % DISK_PAGE) {
		if (err && errlen)
			snprintf(err, errlen,
				 "workers must be 1..%u, depth 1..%u and the chunk a multiple of %u",
				 DISK_MAX_WORKERS, DISK_MAX_DEPTH, DISK_PAGE);
		free(svc);
		return -EINVAL;
	}
	/* The path promises what the guest will accept: the confidential one
	 * refuses to fall back to bouncing. */
	if (svc->cfg.disk.path == CVMBUS_VM_DISK_PATH_CONFIDENTIAL)
		svc->cfg.guest.require_confidential = true;
	svc->st.workers = svc->cfg.workers;
	svc->st.depth = svc->cfg.depth;
	svc->st.chunk_bytes = svc->cfg.chunk_bytes;

	rc = cvmbus_vm_create(&svc->cfg.vm, &svc->vm, err, errlen);
	if (rc) {
		free(svc);
		return rc;
	}
	/* An export runs for hours and nobody compares its trace: without the
	 * hash, a ring signal (a hypercall event per request, each way) is
	 * counted, not formatted under the trace's one lock (docs/TRACE.md). */
	cvmbus_trace_set_hash(cvmbus_vm_trace(svc->vm), false);
	dc = svc->cfg.disk;
	dc.exec = cvmbus_vm_exec(svc->vm);
	rc = cvmbus_vm_disk_create(&dc, &svc->disk);
	if (rc) {
		if (err && errlen)
			snprintf(err, errlen,
				 rc == -ENOENT ? "image %s does not exist (give a size to create it)"
					       : "cannot open image %s: %s",
				 cfg->disk.image ? cfg->disk.image : "(none)", strerror(-rc));
		goto fail;
	}
	svc->cfg.disk = dc;
	svc->cfg.disk.image = NULL; /* the caller's string: the device keeps its copy */
	rc = cvmbus_vm_disk_attach(svc->vm, svc->disk);
	if (rc) {
		if (err && errlen)
			snprintf(err, errlen, "cannot add the disk to the vm (%d)", rc);
		goto fail;
	}
	cvmbus_mutex_init(&svc->lock, cvmbus_vm_exec(svc->vm), "disk-service");
	cvmbus_mutex_init(&svc->rmw_lock, cvmbus_vm_exec(svc->vm), "disk-rmw");
	cvmbus_cond_init(&svc->work, cvmbus_vm_exec(svc->vm), "disk-work");
	cvmbus_cond_init(&svc->state_cond, cvmbus_vm_exec(svc->vm), "disk-state");
	cvmbus_cond_init(&svc->buf_cond, cvmbus_vm_exec(svc->vm), "disk-buffers");
	svc->state = CVMBUS_VM_DISK_SERVICE_STARTING;

	rc = -pthread_create(&svc->runner, NULL, svc_runner, svc);
	if (rc) {
		if (err && errlen)
			snprintf(err, errlen, "cannot start the vm thread (%d)", rc);
		goto fail_sync;
	}
	svc->runner_started = true;

	deadline = cvmbus_exec_deadline(cvmbus_vm_exec(svc->vm), svc->cfg.boot_timeout_ns);
	cvmbus_mutex_lock(&svc->lock);
	while (svc->state == CVMBUS_VM_DISK_SERVICE_STARTING) {
		if (cvmbus_cond_wait_until(&svc->state_cond, &svc->lock, deadline) == -ETIMEDOUT &&
		    svc->state == CVMBUS_VM_DISK_SERVICE_STARTING) {
			/* The workload sees this before it would serve, and
			 * every step of the boot is bounded: the join ends. */
			svc->stop_requested = true;
			svc_set_state_locked(svc, CVMBUS_VM_DISK_SERVICE_FAILED, -ETIMEDOUT,
					     "the disk was not ready in time");
			break;
		}
	}
	rc = svc->state == CVMBUS_VM_DISK_SERVICE_READY ? 0 : svc->error ? svc->error : -EIO;
	if (rc && err && errlen)
		snprintf(err, errlen, "%s", svc->why);
	cvmbus_mutex_unlock(&svc->lock);
	if (rc) {
		cvmbus_mutex_lock(&svc->lock);
		svc->stop_requested = true;
		cvmbus_cond_broadcast(&svc->state_cond);
		cvmbus_mutex_unlock(&svc->lock);
		svc_join(svc);
		goto fail_sync;
	}
	*out = svc;
	return 0;

fail_sync:
	cvmbus_cond_destroy(&svc->buf_cond);
	cvmbus_cond_destroy(&svc->state_cond);
	cvmbus_cond_destroy(&svc->work);
	cvmbus_mutex_destroy(&svc->rmw_lock);
	cvmbus_mutex_destroy(&svc->lock);
fail:
	svc_free(svc);
	return rc;
}

uint64_t cvmbus_vm_disk_service_size(const struct cvmbus_vm_disk_service *svc)
{
	return svc->size;
}

bool cvmbus_vm_disk_service_read_only(const struct cvmbus_vm_disk_service *svc)
{
	return svc->cfg.disk.read_only;
}

struct cvmbus_vm_disk *cvmbus_vm_disk_service_disk(struct cvmbus_vm_disk_service *svc)
{
	return svc->disk;
}

/* Queue a control request to the control worker and wait for it. */
static int svc_control(struct cvmbus_vm_disk_service *svc, struct svc_req *r)
{
	int rc;

	cvmbus_cond_init(&r->cond, cvmbus_vm_exec(svc->vm), "disk-request");
	cvmbus_mutex_lock(&svc->lock);
	/* They only read memory: a broken device does not stop them. */
	if ((svc->state != CVMBUS_VM_DISK_SERVICE_READY &&
	     svc->state != CVMBUS_VM_DISK_SERVICE_BROKEN) ||
	    svc->stop_requested) {
		cvmbus_mutex_unlock(&svc->lock);
		cvmbus_cond_destroy(&r->cond);
		return -ESHUTDOWN;
	}
	if (svc->tail)
		svc->tail->link = r;
	else
		svc->head = r;
	svc->tail = r;
	cvmbus_cond_signal(&svc->work);
	/* r is on our stack: we may not leave before the worker (or stop,
	 * which fails the queue) is done with it. */
	while (!r->finished)
		cvmbus_cond_wait(&r->cond, &svc->lock);
	rc = r->error;
	cvmbus_mutex_unlock(&svc->lock);
	cvmbus_cond_destroy(&r->cond);
	return rc;
}

static bool svc_in_range(const struct cvmbus_vm_disk_service *svc, uint64_t len, uint64_t off)
{
	return off <= svc->size && len <= svc->size - off;
}

int cvmbus_vm_disk_service_pread(struct cvmbus_vm_disk_service *svc, void *buf, size_t len,
				 uint64_t offset)
{
	uint64_t a_off, a_end;
	uint8_t *tmp;
	int rc;

	if (!svc || (!buf && len) || !svc_in_range(svc, len, offset))
		return -EINVAL;
	if (!len)
		return 0;
	if (offset % DISK_SECTOR == 0 && len % DISK_SECTOR == 0)
		return svc_io(svc, SVC_READ, buf, len, offset);
	/* Unaligned: read the covering sectors and copy the middle out. The
	 * size is whole sectors, so the covering range stays inside. */
	a_off = offset - offset % DISK_SECTOR;
	a_end = (offset + len + DISK_SECTOR - 1) / DISK_SECTOR * DISK_SECTOR;
	tmp = malloc(a_end - a_off);
	if (!tmp)
		return -ENOMEM;
	rc = svc_io(svc, SVC_READ, tmp, a_end - a_off, a_off);
	if (!rc)
		memcpy(buf, tmp + (offset - a_off), len);
	free(tmp);
	return rc;
}

int cvmbus_vm_disk_service_pwrite(struct cvmbus_vm_disk_service *svc, const void *buf,
				  size_t len, uint64_t offset)
{
	uint64_t a_off, a_end, end;
	uint8_t *tmp;
	int rc = 0;

	if (!svc || (!buf && len) || !svc_in_range(svc, len, offset))
		return -EINVAL;
	if (svc->cfg.disk.read_only)
		return -EROFS;
	if (!len)
		return 0;
	/* Workers only read a write's source: the cast drops a const that
	 * the request struct cannot carry for both directions. */
	if (offset % DISK_SECTOR == 0 && len % DISK_SECTOR == 0)
		return svc_io(svc, SVC_WRITE, (uint8_t *)(uintptr_t)buf, len, offset);

	end = offset + len;
	a_off = offset - offset % DISK_SECTOR;
	a_end = (end + DISK_SECTOR - 1) / DISK_SECTOR * DISK_SECTOR;
	tmp = malloc(a_end - a_off);
	if (!tmp)
		return -ENOMEM;
	cvmbus_mutex_lock(&svc->rmw_lock);
	if (offset % DISK_SECTOR)
		rc = svc_io(svc, SVC_READ, tmp, DISK_SECTOR, a_off);
	/* The tail sector, unless it is the head one just read. */
	if (!rc && end % DISK_SECTOR && (a_end - DISK_SECTOR != a_off || offset % DISK_SECTOR == 0))
		rc = svc_io(svc, SVC_READ, tmp + (a_end - DISK_SECTOR - a_off), DISK_SECTOR,
			    a_end - DISK_SECTOR);
	if (!rc) {
		memcpy(tmp + (offset - a_off), buf, len);
		rc = svc_io(svc, SVC_WRITE, tmp, a_end - a_off, a_off);
	}
	cvmbus_mutex_unlock(&svc->rmw_lock);
	cvmbus_mutex_lock(&svc->lock);
	svc->st.rmw++;
	cvmbus_mutex_unlock(&svc->lock);
	free(tmp);
	return rc;
}

int cvmbus_vm_disk_service_flush(struct cvmbus_vm_disk_service *svc)
{
	if (!svc)
		return -EINVAL;
	return svc_io(svc, SVC_FLUSH, NULL, 0, 0);
}

int cvmbus_vm_disk_service_trim(struct cvmbus_vm_disk_service *svc, uint64_t len,
				uint64_t offset)
{
	uint64_t a_off, a_end;

	if (!svc || !svc_in_range(svc, len, offset))
		return -EINVAL;
	if (svc->cfg.disk.read_only)
		return -EROFS;
	a_off = (offset + DISK_SECTOR - 1) / DISK_SECTOR * DISK_SECTOR;
	a_end = (offset + len) / DISK_SECTOR * DISK_SECTOR;
	if (a_end <= a_off)
		return 0;
	return svc_io(svc, SVC_TRIM, NULL, a_end - a_off, a_off);
}

int cvmbus_vm_disk_service_snapshot(struct cvmbus_vm_disk_service *svc)
{
	struct svc_req r;

	if (!svc)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.op = SVC_SNAPSHOT;
	return svc_control(svc, &r);
}

int cvmbus_vm_disk_service_scan(struct cvmbus_vm_disk_service *svc, const void *needle,
				size_t len, uint64_t *view_hits, uint64_t *fd_hits)
{
	struct svc_req r;
	int rc;

	if (!svc || !needle || !len)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.op = SVC_SCAN;
	r.needle = needle;
	r.needle_len = len;
	rc = svc_control(svc, &r);
	if (!rc) {
		if (view_hits)
			*view_hits = r.view_hits;
		if (fd_hits)
			*fd_hits = r.fd_hits;
	}
	return rc;
}

void cvmbus_vm_disk_service_get_stats(struct cvmbus_vm_disk_service *svc,
				      struct cvmbus_vm_disk_service_stats *out)
{
	memset(out, 0, sizeof(*out));
	cvmbus_mutex_lock(&svc->lock);
	*out = svc->st;
	out->state = svc->state;
	out->error = svc->error;
	if (svc->guest) {
		struct cvmbus_bounce_pool *bp = cvmbus_vm_disk_guest_bounce(svc->guest);

		/* Live: the workload clears svc->guest under this lock
		 * before it closes the storvsc. */
		cvmbus_storvsc_get_stats(cvmbus_vm_disk_guest_vsc(svc->guest), &out->vsc);
		if (bp)
			cvmbus_bounce_get_stats(bp, &out->bounce);
	} else if (svc->final_valid) {
		out->vsc = svc->vsc_final;
		out->bounce = svc->bounce_final;
	}
	cvmbus_mutex_unlock(&svc->lock);
	cvmbus_vm_disk_get_stats(svc->disk, &out->disk);
}

const struct cvmbus_vm_report *cvmbus_vm_disk_service_report(struct cvmbus_vm_disk_service *svc)
{
	return cvmbus_vm_report(svc->vm);
}

void cvmbus_vm_disk_service_stop(struct cvmbus_vm_disk_service *svc)
{
	if (!svc)
		return;
	cvmbus_mutex_lock(&svc->lock);
	if (!svc->stop_requested) {
		svc->stop_requested = true;
		if (svc->state == CVMBUS_VM_DISK_SERVICE_READY ||
		    svc->state == CVMBUS_VM_DISK_SERVICE_BROKEN)
			svc->state = CVMBUS_VM_DISK_SERVICE_STOPPING;
		svc_fail_queue_locked(svc, -ESHUTDOWN);
		cvmbus_cond_broadcast(&svc->work);
		cvmbus_cond_broadcast(&svc->state_cond);
		cvmbus_cond_broadcast(&svc->buf_cond);
	}
	cvmbus_mutex_unlock(&svc->lock);
	svc_join(svc);
}

void cvmbus_vm_disk_service_destroy(struct cvmbus_vm_disk_service *svc)
{
	if (!svc)
		return;
	cvmbus_vm_disk_service_stop(svc);
	cvmbus_cond_destroy(&svc->buf_cond);
	cvmbus_cond_destroy(&svc->state_cond);
	cvmbus_cond_destroy(&svc->work);
	cvmbus_mutex_destroy(&svc->rmw_lock);
	cvmbus_mutex_destroy(&svc->lock);
	svc_free(svc);
}
