/* SPDX-License-Identifier: MIT */
/*
 * A loopback storage rig for the device tests (tests/dev): partition memory
 * of an SNP guest, a channel pair over real rings, a VSP over a temporary
 * disk file on the host endpoint and a VSC on the guest endpoint. The host
 * endpoint's memory ops are what decide the data path:
 *   HARNESS_HOST          the host view: shared pages by their aliases only;
 *   HARNESS_CONFIDENTIAL  the paravisor view: the whole partition.
 * Each op counts its calls and bytes, so a test can prove which view the VSP
 * actually went through. No control plane is involved: the VSC is told the
 * offer's "confidential external memory" flag directly.
 */
#ifndef TESTS_DEV_STORAGE_HARNESS_H
#define TESTS_DEV_STORAGE_HARNESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cvmbus/channel.h>
#include <cvmbus/memory.h>
#include <cvmbus/storage.h>

enum harness_path {
	HARNESS_CONFIDENTIAL = 1,
	HARNESS_HOST = 2,
};

struct harness_config {
	enum harness_path path;
	/* The executor to run on (the caller's, e.g. a deterministic one
	 * inside its run); NULL: a native one, created and destroyed here. */
	struct cvmbus_exec *exec;
	uint64_t ram_pages;      /* VTL0; 0 = 2048 (8 MiB) */
	uint64_t disk_bytes;     /* 0 = 8 MiB */
	uint64_t bounce_pages;   /* host path; 0 = 128 */
	unsigned vsp_workers;    /* 0 = 4 */
	uint32_t vsp_inline_max; /* the storvsp's inline_max; 0 = its default */
	uint16_t vsp_max_version;
	uint32_t max_transfer;   /* disk's; 0 = default */
	uint64_t vsc_timeout_ns; /* 0 = 10 s */
	bool no_bounce;          /* host path: a guest that forgets to bounce */
	bool no_vsp;             /* the test plays the VSP itself */
	bool no_vsc;             /* the test plays the VSC itself */
	bool no_connect;         /* create the VSC but leave the handshake to the test */
	/* The VSP's endpoint can hold guest memory (mem_hold), so READs into
	 * one run of pages go straight into it; without, every byte is
	 * copied through the VSP's buffer. */
	bool hold;
	/* Wrap the file backend (e.g. to gate I/O); called with the file's
	 * blk, returns the one the disk uses. */
	struct cvmbus_blk *(*wrap_blk)(struct cvmbus_blk *file, void *arg);
	/* Release what wrap_blk built: called by harness_fini once the VSP is
	 * gone and while the executor still exists. May be NULL. */
	void (*unwrap_blk)(void *arg);
	void *wrap_arg;
};

struct harness_view_counts {
	_Atomic uint64_t reads, writes, read_bytes, write_bytes, faults;
	_Atomic uint64_t holds, hold_bytes, releases;
};

struct harness {
	struct harness_config cfg;
	struct cvmbus_exec *exec;
	struct cvmbus_mem *mem;
	struct cvmbus_mem_host_view *hv;
	struct cvmbus_channel_pair pair;
	struct cvmbus_channel_ops guest_mem_ops;
	struct cvmbus_channel_ops host_mem_ops;
	struct harness_view_counts host_view;      /* host-view accesses by the VSP */
	struct harness_view_counts paravisor_view; /* paravisor-view accesses by the VSP */
	char disk_path[64];
	struct cvmbus_blk *file;
	struct cvmbus_scsi_disk disk;
	struct cvmbus_bounce_pool *bounce;
	struct cvmbus_storvsp *vsp;
	struct cvmbus_storvsc *vsc;
};

/* Build everything (and connect, unless told not to). Asserts on failure. */
void harness_init(struct harness *h, const struct harness_config *cfg);
void harness_fini(struct harness *h);

/* A rescind and a re-offer of the same device, as the server glue does
 * them: the guest's end of the channel closes (what is outstanding
 * fails), the VSC and the VSP on it go, then a new channel (fresh rings)
 * is made, a new VSP serves it over the same disk and a new VSC connects.
 * Guest memory, the bounce pool and the disk stay. */
void harness_reoffer(struct harness *h);

/* npages of private VTL0 memory for buffers. */
uint64_t harness_alloc(struct harness *h, uint64_t npages);
void harness_fill_random(struct harness *h, uint64_t gpa, size_t len, uint64_t seed);
/* 1 if needle occurs in [hay, hay+len). */
bool harness_find(const uint8_t *hay, size_t len, const uint8_t *needle, size_t nlen);
/* Scan everything the host can see: every page visible in the host view,
 * the whole shared memfd (pread), and the ring memfd. True if found. */
bool harness_host_sees(struct harness *h, const uint8_t *needle, size_t nlen);

#endif
