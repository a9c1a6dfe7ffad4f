/* SPDX-License-Identifier: MIT */
/*
 * The storage VSP (include/cvmbus/storage.h, layer src/dev): the device side
 * of Hyper-V synthetic SCSI over one channel endpoint. It is written once,
 * against the channel API only: the same code is the host's device (its
 * channel's memory ops are the host view, which reaches shared pages by
 * their aliases and nothing else) and the paravisor's (the paravisor view,
 * which reaches the guest's private pages). It never learns which.
 *
 * Threads. One reader at a time owns the inbound ring: the receive thread,
 * or (paravisor only) the guest vCPU that signalled, which on real hardware
 * has just switched into VTL2 and runs this code itself before it returns
 * to VTL0 (vsp_vtl_pass; the channel's reader lock decides who reads, a
 * pass never waits for the guest). The reader decodes each packet, answers
 * the handshake and anything that needs no I/O at once, and puts each
 * EXECUTE_SRB into a request table and a FIFO. A pool of worker threads takes requests from the FIFO, moves data
 * between guest memory and a private buffer with cvmbus_channel_gpa_read/
 * write, runs the SCSI emulation (pread/pwrite on the file backend) and
 * sends the completion. Completions therefore go out in whatever order the
 * I/O finishes; the guest matches them by transaction id. Small transfers
 * (inline_max) skip the hand-over: the receive thread runs them itself,
 * since waking a worker costs more than copying a few pages; a VTL2 pass
 * runs reads and writes of any size itself. A READ whose buffer is one run
 * of guest pages goes from the backend straight into it, held through the
 * channel for the call (cvmbus_channel_gpa_hold), as a controller's DMA
 * would: no private buffer, no second copy. When the
 * table is full the receive thread stops reading, the guest's ring fills,
 * and the guest waits in send: back-pressure without dropping anything.
 *
 * Trust. Everything in a packet is the guest's: it is decoded once into a
 * private copy (vstor.c), its lengths checked against the packet's GPA range
 * and our limits before any memory is touched, and each data byte is read
 * once into the private buffer before the backend sees it (a direct READ
 * only stores into the guest's buffer, never reads it). A request that
 * fails a check is answered with an error status; nothing the guest sends
 * stops the VSP (only a corrupt ring, which the channel makes terminal).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/log.h>
#include <cvmbus/storage.h>

#define VSP_DEFAULT_WORKERS     4u
#define VSP_DEFAULT_QUEUE_DEPTH 256u
#define VSP_DEFAULT_POLL_NS     (20ull * 1000 * 1000)
#define VSP_DEFAULT_SEND_NS     (5ull * 1000 * 1000 * 1000)
#define VSP_PAGE                CVMBUS_RING_PAGE_SIZE
#define VSP_DEFAULT_INLINE_MAX  (16u * 1024u)
/* Packets one pass on the guest's signalling vCPU handles at most before
 * it returns to VTL0 and leaves the rest to the receive thread: the vCPU
 * is the guest's, so VTL2 keeps it for a bounded time. */
#define VSP_VTL_PASS_BUDGET     32u
/* Packets per round of the receive thread (it then looks at its stop flag
 * and at a completion a pass left it). */
#define VSP_RX_BUDGET           64u

enum vsp_req_state {
	VSP_REQ_FREE = 0,
	VSP_REQ_QUEUED,  /* in the FIFO */
	VSP_REQ_RUNNING, /* a worker has it */
};

/* One EXECUTE_SRB in flight: the decoded packet and the part of its GPA
 * range the transfer uses, copied out of the receive buffer (which the
 * next receive overwrites). */
struct vsp_req {
	enum vsp_req_state state;
	uint64_t trans_id;
	uint32_t resp_size;
	uint16_t version;
	struct cvmbus_vstor_packet pkt;
	uint32_t byte_offset;
	uint32_t pfn_count;
	uint64_t *pfns; /* room for max_pfns */
};

struct vsp_worker {
	struct cvmbus_storvsp *vsp;
	struct cvmbus_thread *thread;
	uint8_t *buf; /* max_transfer bytes: the private copy of the data */
};

struct cvmbus_storvsp {
	struct cvmbus_exec *exec;
	struct cvmbus_channel *ch;
	const struct cvmbus_scsi_disk *disk;
	unsigned nworkers;
	unsigned depth;
	uint16_t max_version;
	uint32_t max_transfer;
	uint32_t max_pfns;
	uint64_t poll_ns;
	uint64_t send_ns;
	uint32_t inline_max;

	struct cvmbus_mutex lock;    /* everything below */
	struct cvmbus_cond work;     /* FIFO not empty, or stopping */
	struct cvmbus_cond slot_freed;
	enum cvmbus_storvsp_state state;
	enum cvmbus_storvsp_proto proto;
	uint16_t version;
	struct vsp_req *reqs;
	uint32_t *free_stack;
	uint32_t nfree;
	uint32_t *fifo; /* circular, depth entries */
	uint32_t fifo_head, fifo_len;
	uint32_t in_flight;
	struct cvmbus_storvsp_stats stats;

	struct cvmbus_thread *rx_thread;
	struct vsp_worker *workers;
	/* The reader's request and buffer, for SRBs it runs itself
	 * (vsp_run_inline). The reader is whoever holds the channel's reader
	 * lock: the receive thread, or a guest vCPU in a VTL2 pass; so are
	 * `stalled` and rx_nowait below, which only the reader touches. */
	struct vsp_req rx_req;
	uint8_t *rx_buf;
	bool stalled; /* a pass stashed a completion: end the pass */
	/* A completion that a VTL2 pass could not send without waiting (the
	 * guest's ring was full). The pass may not wait for the guest: it
	 * runs on the guest's vCPU, maybe the one that would drain that ring.
	 * The receive thread sends it; no pass starts while it is here. With
	 * lock. */
	struct {
		bool used;
		uint64_t trans_id;
		uint32_t resp_size;
		struct cvmbus_vstor_packet resp;
	} stash;
};

/* ---- setup ------------------------------------------------------------------ */

static uint32_t vsp_max_transfer(const struct cvmbus_scsi_disk *disk)
{
	return disk->max_transfer_bytes ? disk->max_transfer_bytes
					: CVMBUS_SCSI_DEFAULT_MAX_TRANSFER;
}

int cvmbus_storvsp_create(const struct cvmbus_storvsp_config *cfg, struct cvmbus_storvsp **out)
{
	struct cvmbus_storvsp *vsp;
	int rc = -ENOMEM;

	if (!cfg || !cfg->exec || !cfg->channel || !cfg->disk || !cfg->disk->blk || !out)
		return -EINVAL;
	if (vsp_max_transfer(cfg->disk) % CVMBUS_SCSI_SECTOR)
		return -EINVAL;
	vsp = calloc(1, sizeof(*vsp));
	if (!vsp)
		return -ENOMEM;
	vsp->exec = cfg->exec;
	vsp->ch = cfg->channel;
	vsp->disk = cfg->disk;
	vsp->nworkers = cfg->workers ? cfg->workers : VSP_DEFAULT_WORKERS;
	vsp->depth = cfg->queue_depth ? cfg->queue_depth : VSP_DEFAULT_QUEUE_DEPTH;
	vsp->max_version = cfg->max_version ? cfg->max_version : CVMBUS_VSTOR_VERSION_WIN10;
	vsp->max_transfer = vsp_max_transfer(cfg->disk);
	/* A transfer of max_transfer bytes starting anywhere in a page. */
	vsp->max_pfns = vsp->max_transfer / VSP_PAGE + 2;
	vsp->poll_ns = cfg->poll_ns ? cfg->poll_ns : VSP_DEFAULT_POLL_NS;
	vsp->send_ns = cfg->send_timeout_ns ? cfg->send_timeout_ns : VSP_DEFAULT_SEND_NS;
	vsp->inline_max = cfg->inline_max == CVMBUS_STORVSP_INLINE_NONE ? 0
			  : cfg->inline_max			       ? cfg->inline_max
								       : VSP_DEFAULT_INLINE_MAX;

	vsp->reqs = calloc(vsp->depth, sizeof(*vsp->reqs));
	vsp->free_stack = calloc(vsp->depth, sizeof(*vsp->free_stack));
	vsp->fifo = calloc(vsp->depth, sizeof(*vsp->fifo));
	vsp->workers = calloc(vsp->nworkers, sizeof(*vsp->workers));
	if (!vsp->reqs || !vsp->free_stack || !vsp->fifo || !vsp->workers)
		goto fail;
	for (unsigned i = 0; i < vsp->depth; i++) {
		vsp->reqs[i].pfns = calloc(vsp->max_pfns, sizeof(uint64_t));
		if (!vsp->reqs[i].pfns)
			goto fail;
	}
	vsp->rx_req.pfns = calloc(vsp->max_pfns, sizeof(uint64_t));
	vsp->rx_buf = aligned_alloc(VSP_PAGE, vsp->max_transfer);
	if (!vsp->rx_req.pfns || !vsp->rx_buf)
		goto fail;
	for (unsigned i = 0; i < vsp->nworkers; i++) {
		vsp->workers[i].vsp = vsp;
		vsp->workers[i].buf = aligned_alloc(VSP_PAGE, vsp->max_transfer);
		if (!vsp->workers[i].buf)
			goto fail;
	}
	cvmbus_mutex_init(&vsp->lock, cfg->exec, "storvsp");
	cvmbus_cond_init(&vsp->work, cfg->exec, "storvsp-work");
	cvmbus_cond_init(&vsp->slot_freed, cfg->exec, "storvsp-slot");
	vsp->state = CVMBUS_STORVSP_STOPPED;
	vsp->proto = CVMBUS_STORVSP_PROTO_BEGIN;
	*out = vsp;
	return 0;

fail:
	if (vsp->workers)
		for (unsigned i = 0; i < vsp->nworkers; i++)
			free(vsp->workers[i].buf);
	if (vsp->reqs)
		for (unsigned i = 0; i < vsp->depth; i++)
			free(vsp->reqs[i].pfns);
	free(vsp->rx_buf);
	free(vsp->rx_req.pfns);
	free(vsp->workers);
	free(vsp->fifo);
	free(vsp->free_stack);
	free(vsp->reqs);
	free(vsp);
	return rc;
}

/* ---- sending ------------------------------------------------------------------ */

/* Send a completion of resp_size bytes of *resp. The size mirrors the
 * request's (clamped to one packet), as OpenVMM does: a Windows guest
 * expects exactly its own packet size back, and Linux at least its own. */
static void vsp_send(struct cvmbus_storvsp *vsp, uint64_t trans_id,
		     const struct cvmbus_vstor_packet *resp, uint32_t resp_size, bool nowait)
{
	int rc = cvmbus_channel_send_completion(vsp->ch, trans_id, resp, resp_size,
						nowait ? 0 : vsp->send_ns);

	cvmbus_mutex_lock(&vsp->lock);
	if (nowait && rc == -EAGAIN) {
		/* A pass (the caller holds the reader, and no pass starts
		 * with the stash in use): the receive thread sends it. */
		vsp->stash.used = true;
		vsp->stash.trans_id = trans_id;
		vsp->stash.resp_size = resp_size;
		vsp->stash.resp = *resp;
		vsp->stalled = true;
		cvmbus_mutex_unlock(&vsp->lock);
		return;
	}
	if (rc == 0)
		vsp->stats.completions++;
	else
		vsp->stats.send_errors++;
	cvmbus_mutex_unlock(&vsp->lock);
	if (rc < 0)
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "storvsp: completion not sent: %d", rc);
}

/* Answer a non-SRB request (or refuse any request) with a status and an
 * optional body. */
static void vsp_answer(struct cvmbus_storvsp *vsp, uint64_t trans_id, uint32_t resp_size,
		       uint32_t status, const void *body, size_t body_len, bool nowait)
{
	struct cvmbus_vstor_packet resp;

	memset(&resp, 0, sizeof(resp));
	resp.operation = CVMBUS_VSTOR_OP_COMPLETE_IO;
	resp.status = status;
	if (body)
		memcpy(resp.buffer, body, body_len);
	vsp_send(vsp, trans_id, &resp, resp_size, nowait);
}

/* Refuse an SRB without executing it: SRB status, NT status, no data. */
static void vsp_refuse_srb(struct cvmbus_storvsp *vsp, uint64_t trans_id, uint32_t resp_size,
			   const struct cvmbus_vstor_srb *req, uint8_t srb_status,
			   uint16_t version, bool nowait)
{
	struct cvmbus_vstor_packet resp;

	memset(&resp, 0, sizeof(resp));
	resp.operation = CVMBUS_VSTOR_OP_COMPLETE_IO;
	resp.status = srb_status == CVMBUS_SRB_STATUS_INVALID_REQUEST
			      ? CVMBUS_VSTOR_STATUS_INVALID_PARAMETER
			      : cvmbus_vstor_status_from_srb(srb_status);
	resp.srb.length = (uint16_t)cvmbus_vstor_srb_size(version);
	resp.srb.srb_status = srb_status;
	resp.srb.path_id = req->path_id;
	resp.srb.target_id = req->target_id;
	resp.srb.lun = req->lun;
	resp.srb.cdb_length = req->cdb_length;
	resp.srb.data_in = req->data_in;
	cvmbus_mutex_lock(&vsp->lock);
	vsp->stats.refused++;
	cvmbus_mutex_unlock(&vsp->lock);
	vsp_send(vsp, trans_id, &resp, resp_size, nowait);
}

/* ---- the workers ------------------------------------------------------------ */

static uint8_t vsp_srb_status(const struct cvmbus_scsi_result *res)
{
	if (res->status == CVMBUS_SCSI_STATUS_GOOD)
		return CVMBUS_SRB_STATUS_SUCCESS;
	return res->sense_len ? (CVMBUS_SRB_STATUS_ERROR | CVMBUS_SRB_STATUS_AUTOSENSE_VALID)
			      : CVMBUS_SRB_STATUS_ERROR;
}

static bool vsp_reads_disk(const struct cvmbus_vstor_srb *srb)
{
	return srb->cdb[0] == CVMBUS_SCSI_READ_6 || srb->cdb[0] == CVMBUS_SCSI_READ_10 ||
	       srb->cdb[0] == CVMBUS_SCSI_READ_16;
}

/* Run one SRB into *resp. The data range is the request's private copy,
 * or for a READ into one run of guest pages, the guest's buffer itself. */
static void vsp_execute(struct cvmbus_storvsp *vsp, struct vsp_req *req, uint8_t *buf,
			struct cvmbus_vstor_packet *resp)
{
	const struct cvmbus_vstor_srb *srb = &req->pkt.srb;
	uint32_t len = srb->data_transfer_length;
	struct cvmbus_ring_gpa_view view = {
		.byte_count = len,
		.byte_offset = req->byte_offset,
		.pfn_count = req->pfn_count,
		.pfn_bytes = (const uint8_t *)req->pfns,
	};
	struct cvmbus_scsi_cmd cmd = {
		.cdb = srb->cdb,
		.cdb_len = srb->cdb_length,
		.lun = srb->lun,
		.data = buf,
		.data_len = len,
	};
	struct cvmbus_scsi_result res;
	uint8_t sense_len, srb_status = CVMBUS_SRB_STATUS_ERROR;
	bool fault = false;
	void *held = NULL;

	memset(resp, 0, sizeof(*resp));
	memset(&res, 0, sizeof(res));
	cmd.dir = srb->data_in == CVMBUS_VSTOR_DATA_OUT  ? CVMBUS_SCSI_DIR_OUT
		  : srb->data_in == CVMBUS_VSTOR_DATA_IN ? CVMBUS_SCSI_DIR_IN
							 : CVMBUS_SCSI_DIR_NONE;

	/* Only LUNs of path 0, target 0 exist (one disk per controller). */
	if (srb->path_id != 0 || srb->target_id != 0) {
		srb_status = CVMBUS_SRB_STATUS_INVALID_LUN;
		res.status = CVMBUS_SCSI_STATUS_CHECK_CONDITION;
		goto answer;
	}
	/* Data out: one read of the guest's bytes into private memory, before
	 * the backend sees any of them. Through the channel's view: on the
	 * host path a private page is simply not there (-EFAULT). */
	if (cmd.dir == CVMBUS_SCSI_DIR_OUT && len &&
	    cvmbus_channel_gpa_read(vsp->ch, &view, 0, buf, len) < 0) {
		fault = true;
		goto answer;
	}
	/* Data in from the disk: a READ whose buffer is one run of guest
	 * pages is read by the backend straight into it, held for the call
	 * (a DMA, as a real controller's: no private copy, no second memcpy
	 * of up to max_transfer bytes). The checks are the copy's, done by
	 * the hold; any other range, or an endpoint that cannot hold, takes
	 * the copy below. Only READs: what they store is exactly the disk's
	 * bytes, and a failed one ends in an error status whatever it left. */
	if (cmd.dir == CVMBUS_SCSI_DIR_IN && len && vsp_reads_disk(srb) &&
	    cvmbus_channel_gpa_hold(vsp->ch, &view, len, &held) == 0)
		cmd.data = held;
	(void)cvmbus_scsi_execute(vsp->disk, &cmd, &res);
	if (held) {
		cvmbus_channel_gpa_release(vsp->ch, &view, len,
					   res.status == CVMBUS_SCSI_STATUS_GOOD ? res.tx : 0);
	} else if (cmd.dir == CVMBUS_SCSI_DIR_IN && res.status == CVMBUS_SCSI_STATUS_GOOD &&
		   res.tx && cvmbus_channel_gpa_write(vsp->ch, &view, 0, buf, res.tx) < 0) {
		/* Data in through the private buffer: only the first res.tx
		 * bytes go back to the guest, and the emulation wrote every
		 * one of them, so nothing of an earlier request's buffer can
		 * leak to this guest. */
		fault = true;
	}

answer:
	if (fault) {
		/* The guest named memory this VSP cannot reach: an SRB error
		 * with no sense and nothing transferred. */
		memset(&res, 0, sizeof(res));
		srb_status = CVMBUS_SRB_STATUS_ERROR;
		cvmbus_mutex_lock(&vsp->lock);
		vsp->stats.gpa_faults++;
		cvmbus_mutex_unlock(&vsp->lock);
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "storvsp: guest buffer not reachable");
	} else if (srb->path_id == 0 && srb->target_id == 0) {
		srb_status = vsp_srb_status(&res);
		cvmbus_mutex_lock(&vsp->lock);
		if (cmd.dir == CVMBUS_SCSI_DIR_IN)
			vsp->stats.bytes_read += res.tx;
		if (held)
			vsp->stats.bytes_read_direct += res.tx;
		else if (cmd.dir == CVMBUS_SCSI_DIR_OUT)
			vsp->stats.bytes_written += res.tx;
		cvmbus_mutex_unlock(&vsp->lock);
	}

	/* Sense goes back only as far as the guest made room for. */
	sense_len = res.sense_len < srb->sense_info_length ? res.sense_len : srb->sense_info_length;
	if (!sense_len)
		srb_status &= (uint8_t)~CVMBUS_SRB_STATUS_AUTOSENSE_VALID;
	resp->operation = CVMBUS_VSTOR_OP_COMPLETE_IO;
	resp->status = cvmbus_vstor_status_from_srb(srb_status);
	resp->srb.length = (uint16_t)cvmbus_vstor_srb_size(req->version);
	resp->srb.srb_status = srb_status;
	resp->srb.scsi_status = res.status;
	resp->srb.port_number = srb->port_number;
	resp->srb.path_id = srb->path_id;
	resp->srb.target_id = srb->target_id;
	resp->srb.lun = srb->lun;
	resp->srb.cdb_length = srb->cdb_length;
	resp->srb.sense_info_length = sense_len;
	resp->srb.data_in = srb->data_in;
	resp->srb.data_transfer_length = res.tx;
	memcpy(resp->srb.sense_data, res.sense, sense_len);
}

static int vsp_worker_main(void *arg)
{
	struct vsp_worker *w = arg;
	struct cvmbus_storvsp *vsp = w->vsp;
	struct cvmbus_vstor_packet resp;

	for (;;) {
		struct vsp_req *req;
		uint32_t idx;
		bool drop;

		cvmbus_mutex_lock(&vsp->lock);
		while (vsp->fifo_len == 0 && vsp->state == CVMBUS_STORVSP_RUNNING)
			cvmbus_cond_wait(&vsp->work, &vsp->lock);
		if (vsp->state != CVMBUS_STORVSP_RUNNING) {
			cvmbus_mutex_unlock(&vsp->lock);
			return 0;
		}
		idx = vsp->fifo[vsp->fifo_head];
		vsp->fifo_head = (vsp->fifo_head + 1) % vsp->depth;
		vsp->fifo_len--;
		req = &vsp->reqs[idx];
		req->state = VSP_REQ_RUNNING;
		cvmbus_mutex_unlock(&vsp->lock);

		vsp_execute(vsp, req, w->buf, &resp);

		/* A stop that began while the I/O ran wins: the request is
		 * abandoned, as if the device had died under it. */
		cvmbus_mutex_lock(&vsp->lock);
		drop = vsp->state != CVMBUS_STORVSP_RUNNING;
		if (drop)
			vsp->stats.abandoned++;
		cvmbus_mutex_unlock(&vsp->lock);
		if (!drop)
			vsp_send(vsp, req->trans_id, &resp, req->resp_size, false);

		cvmbus_mutex_lock(&vsp->lock);
		req->state = VSP_REQ_FREE;
		vsp->free_stack[vsp->nfree++] = idx;
		vsp->in_flight--;
		cvmbus_mutex_unlock(&vsp->lock);
		cvmbus_cond_signal(&vsp->slot_freed);
	}
}

/* ---- the receive thread -------------------------------------------------------- */

/* Copy what a request needs out of the receive buffer (which the next
 * receive overwrites) into req. */
static void vsp_fill_req(struct vsp_req *req, uint64_t trans_id, uint32_t resp_size,
			 uint16_t version, const struct cvmbus_vstor_packet *pkt,
			 const struct cvmbus_ring_gpa_view *range)
{
	uint32_t len = pkt->srb.data_transfer_length;

	req->trans_id = trans_id;
	req->resp_size = resp_size;
	req->version = version;
	req->pkt = *pkt;
	req->byte_offset = 0;
	req->pfn_count = 0;
	if (len) {
		/* Only the pages the transfer touches; check_srb made sure
		 * the range holds len bytes, and len <= max_transfer bounds
		 * the count by max_pfns. */
		uint64_t span = (uint64_t)range->byte_offset + len;

		req->byte_offset = range->byte_offset;
		req->pfn_count = (uint32_t)((span + VSP_PAGE - 1) / VSP_PAGE);
		for (uint32_t i = 0; i < req->pfn_count; i++)
			req->pfns[i] = cvmbus_ring_gpa_view_pfn(range, i);
	}
}

/* Run an SRB that passed its checks on the reader's thread itself. */
static void vsp_run_inline(struct cvmbus_storvsp *vsp, uint64_t trans_id, uint32_t resp_size,
			   const struct cvmbus_vstor_packet *pkt,
			   const struct cvmbus_ring_gpa_view *range, bool nowait)
{
	struct vsp_req *req = &vsp->rx_req;
	struct cvmbus_vstor_packet resp;
	uint16_t version;
	bool drop;

	cvmbus_mutex_lock(&vsp->lock);
	version = vsp->version;
	vsp->in_flight++;
	if (vsp->in_flight > vsp->stats.max_in_flight)
		vsp->stats.max_in_flight = vsp->in_flight;
	vsp->stats.srbs++;
	cvmbus_mutex_unlock(&vsp->lock);

	/* rx_req is the reader's alone: filled without the lock. */
	vsp_fill_req(req, trans_id, resp_size, version, pkt, range);
	vsp_execute(vsp, req, vsp->rx_buf, &resp);

	cvmbus_mutex_lock(&vsp->lock);
	drop = vsp->state != CVMBUS_STORVSP_RUNNING;
	if (drop)
		vsp->stats.abandoned++;
	vsp->in_flight--;
	cvmbus_mutex_unlock(&vsp->lock);
	if (!drop)
		vsp_send(vsp, req->trans_id, &resp, req->resp_size, nowait);
}

/* Queue an SRB that passed its checks. Waits for a free slot (back-pressure)
 * unless nowait; 0, -ESHUTDOWN if the VSP is stopping, -EBUSY (nowait, the
 * table is full). */
static int vsp_enqueue(struct cvmbus_storvsp *vsp, uint64_t trans_id, uint32_t resp_size,
		       const struct cvmbus_vstor_packet *pkt,
		       const struct cvmbus_ring_gpa_view *range, bool nowait)
{
	struct vsp_req *req;
	uint32_t idx;

	cvmbus_mutex_lock(&vsp->lock);
	while (!nowait && vsp->nfree == 0 && vsp->state == CVMBUS_STORVSP_RUNNING)
		cvmbus_cond_wait(&vsp->slot_freed, &vsp->lock);
	if (vsp->state != CVMBUS_STORVSP_RUNNING) {
		cvmbus_mutex_unlock(&vsp->lock);
		return -ESHUTDOWN;
	}
	if (vsp->nfree == 0) {
		cvmbus_mutex_unlock(&vsp->lock);
		return -EBUSY;
	}
	idx = vsp->free_stack[--vsp->nfree];
	req = &vsp->reqs[idx];
	vsp_fill_req(req, trans_id, resp_size, vsp->version, pkt, range);
	req->state = VSP_REQ_QUEUED;
	vsp->fifo[(vsp->fifo_head + vsp->fifo_len) % vsp->depth] = idx;
	vsp->fifo_len++;
	vsp->in_flight++;
	if (vsp->in_flight > vsp->stats.max_in_flight)
		vsp->stats.max_in_flight = vsp->in_flight;
	vsp->stats.srbs++;
	cvmbus_mutex_unlock(&vsp->lock);
	cvmbus_cond_signal(&vsp->work);
	return 0;
}

/* Does this SRB run on the reader's thread? On the receive thread: a
 * small transfer from the page cache costs less than waking a worker for
 * it (each hand-over is two context switches, which on a loaded machine
 * cost more than copying a few pages); a large one would keep the one
 * receive thread from the next packets while a worker on another CPU could
 * copy it. In a VTL2 pass (`pass`): any size, because there are as many
 * passes as vCPUs signalling, so large copies spread over the CPUs as the
 * workers' would, without the two hand-overs (128 KiB reads over NBD:
 * 16.3k -> 17.2k IOPS, docs/BENCHMARKS.md). Flushes and unmaps may wait
 * for the disk itself: always a worker; and INLINE_NONE means none. */
static bool vsp_inline(const struct cvmbus_storvsp *vsp, const struct cvmbus_vstor_srb *srb,
		       bool pass)
{
	switch (srb->cdb[0]) {
	case CVMBUS_SCSI_SYNCHRONIZE_CACHE_10:
	case CVMBUS_SCSI_SYNCHRONIZE_CACHE_16:
	case CVMBUS_SCSI_UNMAP:
		return false;
	default:
		return vsp->inline_max &&
		       (pass || srb->data_transfer_length <= vsp->inline_max);
	}
}

static void vsp_handle_srb(struct cvmbus_storvsp *vsp, const struct cvmbus_ring_packet *pkt,
			   const struct cvmbus_vstor_packet *vp, uint32_t resp_size, bool nowait)
{
	struct cvmbus_ring_gpa_view first, range;
	enum cvmbus_vstor_srb_check why;
	uint32_t cursor = 0, count = 0;
	int rc;

	memset(&first, 0, sizeof(first));
	if (pkt->type == CVMBUS_RING_PKT_GPA_DIRECT) {
		while ((rc = cvmbus_ring_packet_gpa_range(pkt, &cursor, &range)) == 1) {
			if (count == 0)
				first = range;
			count++;
		}
		/* The ring validated the ranges when it copied the packet; a
		 * walk that still fails is treated as no usable range. */
		if (rc < 0)
			count = 0;
	}
	why = cvmbus_vstor_check_srb(&vp->srb, vsp->max_transfer, count, first.byte_count);
	if (why != CVMBUS_VSTOR_SRB_OK) {
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "storvsp: srb refused: %s",
			      cvmbus_vstor_srb_check_name(why));
		vsp_refuse_srb(vsp, pkt->trans_id, resp_size, &vp->srb,
			       CVMBUS_SRB_STATUS_INVALID_REQUEST, vsp->version, nowait);
		return;
	}
	/* A pass that finds the table full runs the SRB itself rather than
	 * wait for a worker on the guest's vCPU. */
	if (vsp_inline(vsp, &vp->srb, nowait) ||
	    vsp_enqueue(vsp, pkt->trans_id, resp_size, vp, &first, nowait) == -EBUSY)
		vsp_run_inline(vsp, pkt->trans_id, resp_size, vp, &first, nowait);
}

static void vsp_set_proto(struct cvmbus_storvsp *vsp, enum cvmbus_storvsp_proto p, uint16_t v)
{
	cvmbus_mutex_lock(&vsp->lock);
	vsp->proto = p;
	if (v)
		vsp->version = v;
	cvmbus_mutex_unlock(&vsp->lock);
}

/* One packet from the guest, by the reader. nowait: a VTL2 pass on the
 * guest's vCPU, which may not wait for the guest (nor for a worker). */
static void vsp_handle(struct cvmbus_storvsp *vsp, const struct cvmbus_ring_packet *pkt,
		       bool nowait)
{
	struct cvmbus_vstor_packet vp;
	enum cvmbus_storvsp_proto proto;
	uint32_t resp_size;
	uint16_t version;
	bool ours;

	cvmbus_mutex_lock(&vsp->lock);
	vsp->stats.packets++;
	proto = vsp->proto;
	version = vsp->version;
	cvmbus_mutex_unlock(&vsp->lock);

	/* Completions (we never ask the guest for one) and requests that want
	 * no answer are dropped: with no transaction to answer, there is no
	 * one to tell. */
	if (pkt->type == CVMBUS_RING_PKT_COMPLETION ||
	    !(pkt->flags & CVMBUS_RING_PKT_FLAG_COMPLETION_REQUESTED)) {
		cvmbus_mutex_lock(&vsp->lock);
		vsp->stats.dropped++;
		cvmbus_mutex_unlock(&vsp->lock);
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "storvsp: packet type %u flags %#x dropped",
			      pkt->type, pkt->flags);
		return;
	}
	resp_size = pkt->payload_len;
	if (resp_size > CVMBUS_VSTOR_PACKET_SIZE)
		resp_size = CVMBUS_VSTOR_PACKET_SIZE;
	if (resp_size < CVMBUS_VSTOR_HEADER_SIZE)
		resp_size = CVMBUS_VSTOR_HEADER_SIZE;

	if (pkt->type == CVMBUS_RING_PKT_XFER_PAGES ||
	    cvmbus_vstor_decode(pkt->payload, pkt->payload_len, version, &vp) < 0) {
		vsp_answer(vsp, pkt->trans_id, resp_size, CVMBUS_VSTOR_STATUS_INVALID_PARAMETER,
			   NULL, 0, nowait);
		cvmbus_mutex_lock(&vsp->lock);
		vsp->stats.refused++;
		cvmbus_mutex_unlock(&vsp->lock);
		return;
	}

	/* Operations a guest never sends, in any state. */
	switch (vp.operation) {
	case CVMBUS_VSTOR_OP_BEGIN_INITIALIZATION:
	case CVMBUS_VSTOR_OP_END_INITIALIZATION:
	case CVMBUS_VSTOR_OP_QUERY_PROTOCOL_VERSION:
	case CVMBUS_VSTOR_OP_QUERY_PROPERTIES:
	case CVMBUS_VSTOR_OP_EXECUTE_SRB:
	case CVMBUS_VSTOR_OP_RESET_LUN:
	case CVMBUS_VSTOR_OP_RESET_ADAPTER:
	case CVMBUS_VSTOR_OP_RESET_BUS:
	case CVMBUS_VSTOR_OP_CREATE_SUB_CHANNELS:
		ours = true;
		break;
	default: /* COMPLETE_IO, REMOVE_DEVICE, ENUMERATE_BUS, FCHBA_DATA, ... */
		ours = false;
		break;
	}
	if (!ours) {
		CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "storvsp: operation %u (%s) refused", vp.operation,
			      cvmbus_vstor_op_name(vp.operation));
		vsp_answer(vsp, pkt->trans_id, resp_size,
			   CVMBUS_VSTOR_STATUS_INVALID_DEVICE_REQUEST, NULL, 0, nowait);
		cvmbus_mutex_lock(&vsp->lock);
		vsp->stats.refused++;
		cvmbus_mutex_unlock(&vsp->lock);
		return;
	}

	/* The handshake, one step per state (OpenVMM's InitState); a packet
	 * out of order is answered INVALID_DEVICE_STATE and changes nothing. */
	switch (proto) {
	case CVMBUS_STORVSP_PROTO_BEGIN:
		if (vp.operation != CVMBUS_VSTOR_OP_BEGIN_INITIALIZATION)
			break;
		vsp_set_proto(vsp, CVMBUS_STORVSP_PROTO_VERSION, 0);
		vsp_answer(vsp, pkt->trans_id, resp_size, CVMBUS_VSTOR_STATUS_SUCCESS, NULL, 0, nowait);
		return;
	case CVMBUS_STORVSP_PROTO_VERSION:
		if (vp.operation != CVMBUS_VSTOR_OP_QUERY_PROTOCOL_VERSION)
			break;
		version = vp.version.major_minor;
		vp.version.revision = 0;
		if (!cvmbus_vstor_version_known(version) || version > vsp->max_version) {
			/* The guest tries the next lower version. */
			vsp_answer(vsp, pkt->trans_id, resp_size,
				   CVMBUS_VSTOR_STATUS_REVISION_MISMATCH, &vp.version,
				   sizeof(vp.version), nowait);
			return;
		}
		vsp_set_proto(vsp, CVMBUS_STORVSP_PROTO_PROPERTIES, version);
		vsp_answer(vsp, pkt->trans_id, resp_size, CVMBUS_VSTOR_STATUS_SUCCESS, &vp.version,
			   sizeof(vp.version), nowait);
		return;
	case CVMBUS_STORVSP_PROTO_PROPERTIES: {
		struct cvmbus_vstor_properties props;

		if (vp.operation != CVMBUS_VSTOR_OP_QUERY_PROPERTIES)
			break;
		/* One channel, no sub-channels: max_channel_count 0 and no
		 * multi-channel flag, so the guest never asks for more. */
		memset(&props, 0, sizeof(props));
		props.max_transfer_bytes = vsp->max_transfer;
		vsp_set_proto(vsp, CVMBUS_STORVSP_PROTO_END, 0);
		vsp_answer(vsp, pkt->trans_id, resp_size, CVMBUS_VSTOR_STATUS_SUCCESS, &props,
			   sizeof(props), nowait);
		return;
	}
	case CVMBUS_STORVSP_PROTO_END:
		if (vp.operation == CVMBUS_VSTOR_OP_CREATE_SUB_CHANNELS) {
			vsp_answer(vsp, pkt->trans_id, resp_size,
				   CVMBUS_VSTOR_STATUS_INVALID_PARAMETER, NULL, 0, nowait);
			return;
		}
		if (vp.operation != CVMBUS_VSTOR_OP_END_INITIALIZATION)
			break;
		vsp_set_proto(vsp, CVMBUS_STORVSP_PROTO_READY, 0);
		vsp_answer(vsp, pkt->trans_id, resp_size, CVMBUS_VSTOR_STATUS_SUCCESS, NULL, 0, nowait);
		return;
	case CVMBUS_STORVSP_PROTO_READY:
		switch (vp.operation) {
		case CVMBUS_VSTOR_OP_EXECUTE_SRB:
			vsp_handle_srb(vsp, pkt, &vp, resp_size, nowait);
			return;
		case CVMBUS_VSTOR_OP_RESET_LUN:
		case CVMBUS_VSTOR_OP_RESET_ADAPTER:
		case CVMBUS_VSTOR_OP_RESET_BUS:
			/* Every request is completed by its worker anyway;
			 * a reset has always been a no-op on Hyper-V too. */
			vsp_answer(vsp, pkt->trans_id, resp_size, CVMBUS_VSTOR_STATUS_SUCCESS,
				   NULL, 0, nowait);
			return;
		case CVMBUS_VSTOR_OP_CREATE_SUB_CHANNELS:
			vsp_answer(vsp, pkt->trans_id, resp_size,
				   CVMBUS_VSTOR_STATUS_INVALID_PARAMETER, NULL, 0, nowait);
			return;
		default:
			break;
		}
		break;
	}
	CVMBUS_LOG_RL(CVMBUS_LOG_WARN, "storvsp: %s out of order",
		      cvmbus_vstor_op_name(vp.operation));
	vsp_answer(vsp, pkt->trans_id, resp_size, CVMBUS_VSTOR_STATUS_INVALID_DEVICE_STATE, NULL,
		   0, nowait);
	cvmbus_mutex_lock(&vsp->lock);
	vsp->stats.refused++;
	cvmbus_mutex_unlock(&vsp->lock);
}

static bool vsp_running(struct cvmbus_storvsp *vsp)
{
	bool r;

	cvmbus_mutex_lock(&vsp->lock);
	r = vsp->state == CVMBUS_STORVSP_RUNNING;
	cvmbus_mutex_unlock(&vsp->lock);
	return r;
}

/* The receive thread's packets: it may wait (for a slot, for room). A
 * stop ends the pass: what is still in the ring stays there for the next
 * start, as it did when the loop took one packet per round. */
static bool vsp_rx_packet(void *arg, const struct cvmbus_ring_packet *pkt)
{
	struct cvmbus_storvsp *vsp = arg;

	vsp_handle(vsp, pkt, false);
	return !vsp_running(vsp);
}

/* A pass's packets: nothing waits; a completion that would have to is
 * stashed, and the pass ends there. */
static bool vsp_pass_packet(void *arg, const struct cvmbus_ring_packet *pkt)
{
	struct cvmbus_storvsp *vsp = arg;

	vsp_handle(vsp, pkt, true);
	return vsp->stalled || !vsp_running(vsp);
}

/* Send what a pass stashed, waiting for room as any completion does. */
static void vsp_flush_stash(struct cvmbus_storvsp *vsp)
{
	struct cvmbus_vstor_packet resp;
	uint64_t trans_id;
	uint32_t size;

	cvmbus_mutex_lock(&vsp->lock);
	if (!vsp->stash.used) {
		cvmbus_mutex_unlock(&vsp->lock);
		return;
	}
	resp = vsp->stash.resp;
	trans_id = vsp->stash.trans_id;
	size = vsp->stash.resp_size;
	cvmbus_mutex_unlock(&vsp->lock);
	vsp_send(vsp, trans_id, &resp, size, false);
	/* Emptied only once sent, so that no pass starts before (passes
	 * look at `used`): completions keep their one-slot bound. */
	cvmbus_mutex_lock(&vsp->lock);
	vsp->stash.used = false;
	cvmbus_mutex_unlock(&vsp->lock);
}

/*
 * The VTL2 pass (cvmbus_channel_set_inline): the guest's vCPU that
 * signalled this channel, switched into the paravisor, reads the ring
 * itself as OpenHCL's VTL2 would on that processor: the same
 * vsp_handle, the same copy-then-validate of each packet, SRBs of any
 * size run here (flushes and unmaps go to the workers). It never waits
 * for the guest: not for room in the guest's ring (stash), not for a slot
 * (runs the SRB itself). Mutual exclusion with the receive thread is the
 * channel's reader lock; a pass that finds it held leaves the packets to
 * its holder.
 */
static void vsp_vtl_pass(void *arg)
{
	struct cvmbus_storvsp *vsp = arg;
	bool go;

	cvmbus_mutex_lock(&vsp->lock);
	go = vsp->state == CVMBUS_STORVSP_RUNNING && !vsp->stash.used;
	cvmbus_mutex_unlock(&vsp->lock);
	if (!go) {
		/* Today's path: the receive thread looks (or, stopping,
		 * nobody does, as when a VSP dies). */
		cvmbus_channel_wake_reader(vsp->ch);
		return;
	}
	/* vsp->stalled is the reader's: it is set inside this poll (under
	 * the reader lock) and read here, on the same thread, after it. */
	vsp->stalled = false;
	(void)cvmbus_channel_poll(vsp->ch, vsp_pass_packet, vsp, VSP_VTL_PASS_BUDGET);
	if (vsp->stalled) {
		vsp->stalled = false;
		cvmbus_channel_kick_reader(vsp->ch);
	}
}

static int vsp_rx_main(void *arg)
{
	struct cvmbus_storvsp *vsp = arg;
	int rc;

	while (vsp_running(vsp)) {
		vsp_flush_stash(vsp);
		rc = cvmbus_channel_serve(vsp->ch, vsp_rx_packet, vsp, VSP_RX_BUDGET, vsp->poll_ns);
		if (rc >= 0 || rc == -ETIMEDOUT || rc == -EAGAIN || rc == -EINTR)
			continue;
		/* Closed or corrupt: the channel is terminal and so is this
		 * loop; workers finish what they hold. */
		cvmbus_log_info("storvsp: channel ended (%d)", rc);
		return rc;
	}
	return 0;
}

/* ---- start / stop ---------------------------------------------------------------- */

int cvmbus_storvsp_start(struct cvmbus_storvsp *vsp)
{
	unsigned started = 0;
	int rc;

	if (!vsp)
		return -EINVAL;
	cvmbus_mutex_lock(&vsp->lock);
	if (vsp->state != CVMBUS_STORVSP_STOPPED) {
		cvmbus_mutex_unlock(&vsp->lock);
		return -EBUSY;
	}
	/* A fresh table: whatever a previous stop abandoned is forgotten. */
	vsp->nfree = 0;
	for (unsigned i = vsp->depth; i-- > 0;) {
		vsp->reqs[i].state = VSP_REQ_FREE;
		vsp->free_stack[vsp->nfree++] = i;
	}
	vsp->fifo_head = 0;
	vsp->fifo_len = 0;
	vsp->in_flight = 0;
	vsp->stash.used = false;
	vsp->state = CVMBUS_STORVSP_RUNNING;
	cvmbus_mutex_unlock(&vsp->lock);

	for (; started < vsp->nworkers; started++) {
		rc = cvmbus_thread_spawn(vsp->exec, &vsp->workers[started].thread, "storvsp-io",
					 vsp_worker_main, &vsp->workers[started]);
		if (rc < 0)
			goto fail;
	}
	rc = cvmbus_thread_spawn(vsp->exec, &vsp->rx_thread, "storvsp-rx", vsp_rx_main, vsp);
	if (rc < 0)
		goto fail;
	/* From now on a guest vCPU's signal may run vsp_vtl_pass (if the
	 * channel's glue models the VTL switch; otherwise nothing calls it). */
	cvmbus_channel_set_inline(vsp->ch, vsp_vtl_pass, vsp);
	return 0;

fail:
	cvmbus_mutex_lock(&vsp->lock);
	vsp->state = CVMBUS_STORVSP_STOPPING;
	cvmbus_mutex_unlock(&vsp->lock);
	cvmbus_cond_broadcast(&vsp->work);
	while (started-- > 0) {
		(void)cvmbus_thread_join(vsp->workers[started].thread, NULL);
		vsp->workers[started].thread = NULL;
	}
	cvmbus_mutex_lock(&vsp->lock);
	vsp->state = CVMBUS_STORVSP_STOPPED;
	cvmbus_mutex_unlock(&vsp->lock);
	return rc;
}

void cvmbus_storvsp_stop(struct cvmbus_storvsp *vsp)
{
	if (!vsp)
		return;
	cvmbus_mutex_lock(&vsp->lock);
	if (vsp->state != CVMBUS_STORVSP_RUNNING) {
		cvmbus_mutex_unlock(&vsp->lock);
		return;
	}
	vsp->state = CVMBUS_STORVSP_STOPPING;
	cvmbus_mutex_unlock(&vsp->lock);
	/* No pass starts from here on, and one still running on a guest
	 * vCPU has returned when this does (its SRB finished, its completion
	 * dropped as a worker's would be). */
	cvmbus_channel_set_inline(vsp->ch, NULL, NULL);
	cvmbus_mutex_lock(&vsp->lock);
	/* Requests still in the FIFO are never started. */
	vsp->stats.abandoned += vsp->fifo_len;
	vsp->fifo_len = 0;
	cvmbus_mutex_unlock(&vsp->lock);
	cvmbus_cond_broadcast(&vsp->work);
	cvmbus_cond_broadcast(&vsp->slot_freed);

	/* The receive thread notices within one poll interval; a worker in
	 * the middle of an I/O finishes it and then drops the completion. */
	(void)cvmbus_thread_join(vsp->rx_thread, NULL);
	vsp->rx_thread = NULL;
	for (unsigned i = 0; i < vsp->nworkers; i++) {
		(void)cvmbus_thread_join(vsp->workers[i].thread, NULL);
		vsp->workers[i].thread = NULL;
	}
	cvmbus_mutex_lock(&vsp->lock);
	vsp->state = CVMBUS_STORVSP_STOPPED;
	cvmbus_mutex_unlock(&vsp->lock);
}

void cvmbus_storvsp_destroy(struct cvmbus_storvsp *vsp)
{
	if (!vsp)
		return;
	cvmbus_storvsp_stop(vsp);
	cvmbus_cond_destroy(&vsp->slot_freed);
	cvmbus_cond_destroy(&vsp->work);
	cvmbus_mutex_destroy(&vsp->lock);
	for (unsigned i = 0; i < vsp->nworkers; i++)
		free(vsp->workers[i].buf);
	for (unsigned i = 0; i < vsp->depth; i++)
		free(vsp->reqs[i].pfns);
	free(vsp->rx_buf);
	free(vsp->rx_req.pfns);
	free(vsp->workers);
	free(vsp->fifo);
	free(vsp->free_stack);
	free(vsp->reqs);
	free(vsp);
}

enum cvmbus_storvsp_state cvmbus_storvsp_state(struct cvmbus_storvsp *vsp)
{
	enum cvmbus_storvsp_state st;

	cvmbus_mutex_lock(&vsp->lock);
	st = vsp->state;
	cvmbus_mutex_unlock(&vsp->lock);
	return st;
}

enum cvmbus_storvsp_proto cvmbus_storvsp_proto(struct cvmbus_storvsp *vsp)
{
	enum cvmbus_storvsp_proto p;

	cvmbus_mutex_lock(&vsp->lock);
	p = vsp->proto;
	cvmbus_mutex_unlock(&vsp->lock);
	return p;
}

uint16_t cvmbus_storvsp_version(struct cvmbus_storvsp *vsp)
{
	uint16_t v;

	cvmbus_mutex_lock(&vsp->lock);
	v = vsp->proto >= CVMBUS_STORVSP_PROTO_PROPERTIES ? vsp->version : 0;
	cvmbus_mutex_unlock(&vsp->lock);
	return v;
}

void cvmbus_storvsp_get_stats(struct cvmbus_storvsp *vsp, struct cvmbus_storvsp_stats *out)
{
	cvmbus_mutex_lock(&vsp->lock);
	*out = vsp->stats;
	cvmbus_mutex_unlock(&vsp->lock);
}
