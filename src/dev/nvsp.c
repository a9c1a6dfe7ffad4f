/* SPDX-License-Identifier: MIT */
/*
 * The NVSP wire format (include/cvmbus/net.h), layer src/dev: one table of
 * every message type the protocol has ever defined (size, directions, first
 * version), decoding driven by that table, and the field checks each side
 * applies to what its peer wrote. netvsp.c and netvsc.c decode every
 * message through here, so "what is a well-formed NVSP message" is answered
 * in one place. Also the device-buffer helper both sides use to reach a
 * GPADL by offset.
 *
 * Facts: Linux drivers/net/hyperv/hyperv_net.h, DPDK hn_nvs.h, OpenVMM
 * netvsp protocol.rs. Sizes count the type word: a message is "long enough"
 * when it holds every field its type defines, whatever padding follows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cvmbus/net.h>

#define G2H CVMBUS_NVSP_G2H
#define H2G CVMBUS_NVSP_H2G
#define BOTH (CVMBUS_NVSP_G2H | CVMBUS_NVSP_H2G)

struct nvsp_desc {
	uint32_t type;
	const char *name;
	uint32_t size;        /* bytes its fields need, type word included */
	uint32_t min_version; /* 0: valid before negotiation (INIT only) */
	unsigned dirs;
	uint32_t response;    /* the type its answer carries, 0: none */
};

/* The protocol, one row per message. Versions: 1 for the base set, 2 for
 * NDIS_CONFIG and chimney, 4 for SR-IOV, 5 for vRSS, 6.1 for PacketDirect
 * (version 6 kept version 5's message set, as OpenVMM notes). */
static const struct nvsp_desc nvsp_table[] = {
	{ CVMBUS_NVSP_INIT, "init", 12, 0, G2H, CVMBUS_NVSP_INIT_COMPLETE },
	{ CVMBUS_NVSP_INIT_COMPLETE, "init-complete", 16, 0, H2G, 0 },
	{ CVMBUS_NVSP_SEND_NDIS_VERSION, "send-ndis-version", 12, CVMBUS_NVSP_VERSION_1, G2H, 0 },
	{ CVMBUS_NVSP_SEND_RECV_BUF, "send-recv-buf", 10, CVMBUS_NVSP_VERSION_1, G2H,
	  CVMBUS_NVSP_SEND_RECV_BUF_COMPLETE },
	{ CVMBUS_NVSP_SEND_RECV_BUF_COMPLETE, "send-recv-buf-complete", 28, CVMBUS_NVSP_VERSION_1,
	  H2G, 0 },
	{ CVMBUS_NVSP_REVOKE_RECV_BUF, "revoke-recv-buf", 6, CVMBUS_NVSP_VERSION_1, G2H, 0 },
	{ CVMBUS_NVSP_SEND_SEND_BUF, "send-send-buf", 10, CVMBUS_NVSP_VERSION_1, G2H,
	  CVMBUS_NVSP_SEND_SEND_BUF_COMPLETE },
	{ CVMBUS_NVSP_SEND_SEND_BUF_COMPLETE, "send-send-buf-complete", 12, CVMBUS_NVSP_VERSION_1,
	  H2G, 0 },
	{ CVMBUS_NVSP_REVOKE_SEND_BUF, "revoke-send-buf", 6, CVMBUS_NVSP_VERSION_1, G2H, 0 },
	{ CVMBUS_NVSP_SEND_RNDIS_PKT, "send-rndis-pkt", 16, CVMBUS_NVSP_VERSION_1, BOTH,
	  CVMBUS_NVSP_SEND_RNDIS_PKT_COMPLETE },
	{ CVMBUS_NVSP_SEND_RNDIS_PKT_COMPLETE, "send-rndis-pkt-complete", 8, CVMBUS_NVSP_VERSION_1,
	  BOTH, 0 },
	/* Version 2: chimney offload and VMQ, which no current peer uses; they
	 * are known (so refused with a status) rather than unknown. */
	{ 109, "send-chimney-delegated-buf", 4, CVMBUS_NVSP_VERSION_2, G2H, 110 },
	{ 110, "send-chimney-delegated-buf-complete", 4, CVMBUS_NVSP_VERSION_2, H2G, 0 },
	{ 111, "revoke-chimney-delegated-buf", 4, CVMBUS_NVSP_VERSION_2, G2H, 0 },
	{ 112, "resume-chimney-rx-indication", 4, CVMBUS_NVSP_VERSION_2, BOTH, 0 },
	{ 113, "terminate-chimney", 4, CVMBUS_NVSP_VERSION_2, BOTH, 114 },
	{ 114, "terminate-chimney-complete", 4, CVMBUS_NVSP_VERSION_2, BOTH, 0 },
	{ 115, "indicate-chimney-event", 4, CVMBUS_NVSP_VERSION_2, H2G, 0 },
	{ 116, "send-chimney-pkt", 4, CVMBUS_NVSP_VERSION_2, BOTH, 117 },
	{ 117, "send-chimney-pkt-complete", 4, CVMBUS_NVSP_VERSION_2, BOTH, 0 },
	{ 118, "post-chimney-recv-req", 4, CVMBUS_NVSP_VERSION_2, G2H, 119 },
	{ 119, "post-chimney-recv-req-complete", 4, CVMBUS_NVSP_VERSION_2, H2G, 0 },
	{ 120, "alloc-rxbuf", 12, CVMBUS_NVSP_VERSION_2, G2H, 121 },
	{ 121, "alloc-rxbuf-complete", 4, CVMBUS_NVSP_VERSION_2, H2G, 0 },
	{ 122, "free-rxbuf", 12, CVMBUS_NVSP_VERSION_2, G2H, 0 },
	{ 123, "send-vmq-rndis-pkt", 4, CVMBUS_NVSP_VERSION_2, BOTH, 124 },
	{ 124, "send-vmq-rndis-pkt-complete", 4, CVMBUS_NVSP_VERSION_2, BOTH, 0 },
	{ CVMBUS_NVSP_SEND_NDIS_CONFIG, "send-ndis-config", 20, CVMBUS_NVSP_VERSION_2, G2H, 0 },
	{ CVMBUS_NVSP_ALLOC_CHIMNEY_HANDLE, "alloc-chimney-handle", 4, CVMBUS_NVSP_VERSION_2, G2H,
	  CVMBUS_NVSP_ALLOC_CHIMNEY_HANDLE_COMPLETE },
	{ CVMBUS_NVSP_ALLOC_CHIMNEY_HANDLE_COMPLETE, "alloc-chimney-handle-complete", 4,
	  CVMBUS_NVSP_VERSION_2, H2G, 0 },
	{ CVMBUS_NVSP_SEND_VF_ASSOCIATION, "send-vf-association", 12, CVMBUS_NVSP_VERSION_4, H2G,
	  0 },
	{ CVMBUS_NVSP_SWITCH_DATA_PATH, "switch-data-path", 8, CVMBUS_NVSP_VERSION_4, G2H,
	  CVMBUS_NVSP_SWITCH_DATA_PATH },
	{ CVMBUS_NVSP_UPLINK_CONNECT_STATE, "uplink-connect-state", 4, CVMBUS_NVSP_VERSION_4, H2G,
	  0 },
	{ CVMBUS_NVSP_OID_QUERY_EX, "oid-query-ex", 12, CVMBUS_NVSP_VERSION_5, G2H,
	  CVMBUS_NVSP_OID_QUERY_EX_COMPLETE },
	{ CVMBUS_NVSP_OID_QUERY_EX_COMPLETE, "oid-query-ex-complete", 12, CVMBUS_NVSP_VERSION_5,
	  H2G, 0 },
	{ CVMBUS_NVSP_SUBCHANNEL, "subchannel", 12, CVMBUS_NVSP_VERSION_5, BOTH,
	  CVMBUS_NVSP_SUBCHANNEL },
	{ CVMBUS_NVSP_SEND_INDIRECTION_TABLE, "send-indirection-table", 12, CVMBUS_NVSP_VERSION_5,
	  H2G, 0 },
	{ CVMBUS_NVSP_PD_API, "pd-api", 8, CVMBUS_NVSP_VERSION_61, BOTH, CVMBUS_NVSP_PD_API },
	{ CVMBUS_NVSP_PD_POST_BATCH, "pd-post-batch", 8, CVMBUS_NVSP_VERSION_61, BOTH, 0 },
};

/* Newest first: a VSC tries them in this order, as Linux does. */
static const uint32_t nvsp_versions[] = {
	CVMBUS_NVSP_VERSION_61, CVMBUS_NVSP_VERSION_6, CVMBUS_NVSP_VERSION_5,
	CVMBUS_NVSP_VERSION_4,  CVMBUS_NVSP_VERSION_2,
};

static const struct nvsp_desc *nvsp_find(uint32_t type)
{
	for (size_t i = 0; i < sizeof(nvsp_table) / sizeof(nvsp_table[0]); i++)
		if (nvsp_table[i].type == type)
			return &nvsp_table[i];
	return NULL;
}

const uint32_t *cvmbus_nvsp_versions(size_t *count)
{
	*count = sizeof(nvsp_versions) / sizeof(nvsp_versions[0]);
	return nvsp_versions;
}

bool cvmbus_nvsp_version_supported(uint32_t version)
{
	for (size_t i = 0; i < sizeof(nvsp_versions) / sizeof(nvsp_versions[0]); i++)
		if (nvsp_versions[i] == version)
			return true;
	return false;
}

uint32_t cvmbus_nvsp_pick_version(uint32_t min, uint32_t max)
{
	for (size_t i = 0; i < sizeof(nvsp_versions) / sizeof(nvsp_versions[0]); i++)
		if (nvsp_versions[i] >= min && nvsp_versions[i] <= max)
			return nvsp_versions[i];
	return 0;
}

uint32_t cvmbus_nvsp_min_size(uint32_t type)
{
	const struct nvsp_desc *d = nvsp_find(type);

	return d ? d->size : 0;
}

const char *cvmbus_nvsp_type_name(uint32_t type)
{
	const struct nvsp_desc *d = nvsp_find(type);

	return d ? d->name : "unknown";
}

unsigned cvmbus_nvsp_type_dirs(uint32_t type)
{
	const struct nvsp_desc *d = nvsp_find(type);

	return d ? d->dirs : 0;
}

uint32_t cvmbus_nvsp_type_min_version(uint32_t type)
{
	const struct nvsp_desc *d = nvsp_find(type);

	return d ? d->min_version : 0;
}

uint32_t cvmbus_nvsp_response_type(uint32_t type)
{
	const struct nvsp_desc *d = nvsp_find(type);

	return d && d->response ? d->response : type;
}

void cvmbus_nvsp_msg_init(struct cvmbus_nvsp_msg *m, uint32_t type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
}

int cvmbus_nvsp_decode(const void *buf, size_t len, uint32_t version, enum cvmbus_nvsp_dir dir,
		       struct cvmbus_nvsp_msg *out)
{
	const struct nvsp_desc *d;

	memset(out, 0, sizeof(*out));
	if (len < sizeof(uint32_t))
		return -EMSGSIZE;
	/* One copy of the bytes the peer wrote; everything below looks only
	 * at the copy. */
	memcpy(out, buf, len < sizeof(*out) ? len : sizeof(*out));
	d = nvsp_find(out->type);
	if (!d)
		return -ENOMSG;
	if (len < d->size)
		return -EMSGSIZE;
	if (!(d->dirs & (unsigned)dir))
		return -EPROTO;
	/* Before negotiation only INIT and its answer make sense; after it,
	 * a message newer than the agreed version is a protocol error. */
	if (version == 0 ? d->min_version != 0 : d->min_version > version)
		return -EPROTO;
	return 0;
}

int cvmbus_nvsp_check_recv_buf_complete(const struct cvmbus_nvsp_msg *m, uint64_t buf_bytes,
					uint32_t min_section,
					struct cvmbus_nvsp_recv_section *out)
{
	const struct cvmbus_nvsp_recv_section *s = &m->u.recv_buf_complete.section;
	uint64_t end;

	if (m->type != CVMBUS_NVSP_SEND_RECV_BUF_COMPLETE)
		return -EPROTO;
	if (m->u.recv_buf_complete.status != CVMBUS_NVSP_STATUS_SUCCESS)
		return -EIO;
	/* Linux accepts exactly one section at offset 0; so do we. */
	if (m->u.recv_buf_complete.num_sections != 1 || s->offset != 0)
		return -EPROTO;
	/* A zero-byte section holds no RNDIS header, and the VSC divides by
	 * the section size: refused even if the caller's minimum is 0. */
	if (s->sub_alloc_size == 0 || s->sub_alloc_size < min_section || s->num_sub_allocs == 0)
		return -EPROTO;
	end = (uint64_t)s->offset + (uint64_t)s->sub_alloc_size * s->num_sub_allocs;
	if (end > buf_bytes || s->end_offset != end)
		return -EPROTO;
	*out = *s;
	return 0;
}

int cvmbus_nvsp_check_send_buf_complete(const struct cvmbus_nvsp_msg *m, uint64_t buf_bytes,
					uint32_t min_section, uint32_t *section_size,
					uint32_t *count)
{
	uint32_t size = m->u.send_buf_complete.section_size;

	if (m->type != CVMBUS_NVSP_SEND_SEND_BUF_COMPLETE)
		return -EPROTO;
	if (m->u.send_buf_complete.status != CVMBUS_NVSP_STATUS_SUCCESS)
		return -EIO;
	/* size 0 would divide by zero below (a caller may pass min_section 0). */
	if (size == 0 || size < min_section || size > buf_bytes)
		return -EPROTO;
	*section_size = size;
	*count = (uint32_t)(buf_bytes / size);
	return 0;
}

int cvmbus_nvsp_check_rndis_pkt(const struct cvmbus_nvsp_msg *m, uint32_t section_count,
				uint32_t section_size)
{
	const struct cvmbus_nvsp_rndis_pkt *r = &m->u.rndis;

	if (m->type != CVMBUS_NVSP_SEND_RNDIS_PKT)
		return -EPROTO;
	if (r->channel_type != CVMBUS_NVSP_CHANNEL_DATA &&
	    r->channel_type != CVMBUS_NVSP_CHANNEL_CONTROL)
		return -EINVAL;
	if (r->section_index == CVMBUS_NVSP_NO_SECTION)
		return 0;
	if (r->section_index >= section_count)
		return -ERANGE;
	if (r->section_size == 0 || r->section_size > section_size)
		return -EMSGSIZE;
	return 0;
}

/* ---- device buffers ------------------------------------------------------ */

int cvmbus_net_gbuf_init(struct cvmbus_net_gbuf *b, const struct cvmbus_gpadl_info *info)
{
	uint64_t pages;

	memset(b, 0, sizeof(*b));
	if (!info->bytes || info->bytes > (1ull << 30) || !info->pfns)
		return -EINVAL;
	pages = (info->bytes + CVMBUS_RING_PAGE_SIZE - 1) / CVMBUS_RING_PAGE_SIZE;
	if (info->pfn_count != pages)
		return -EINVAL;
	b->pfns = malloc(pages * sizeof(*b->pfns));
	if (!b->pfns)
		return -ENOMEM;
	memcpy(b->pfns, info->pfns, pages * sizeof(*b->pfns));
	b->gpadl = info->id;
	b->bytes = (uint32_t)info->bytes;
	b->pfn_count = (uint32_t)pages;
	return 0;
}

void cvmbus_net_gbuf_fini(struct cvmbus_net_gbuf *b)
{
	free(b->pfns);
	memset(b, 0, sizeof(*b));
}

/* The whole buffer as one GPA range, so the channel's page-by-page walk
 * (and its byte accounting) does the copying. */
static void gbuf_view(const struct cvmbus_net_gbuf *b, struct cvmbus_ring_gpa_view *v)
{
	v->byte_count = b->bytes;
	v->byte_offset = 0;
	v->pfn_count = b->pfn_count;
	v->pfn_bytes = (const uint8_t *)b->pfns;
}

int cvmbus_net_gbuf_read(struct cvmbus_channel *ch, const struct cvmbus_net_gbuf *b,
			 uint32_t offset, void *dst, size_t len)
{
	struct cvmbus_ring_gpa_view v;

	if (!b->pfns || len > b->bytes || offset > b->bytes - len)
		return -ERANGE;
	gbuf_view(b, &v);
	return cvmbus_channel_gpa_read(ch, &v, offset, dst, len);
}

int cvmbus_net_gbuf_write(struct cvmbus_channel *ch, const struct cvmbus_net_gbuf *b,
			  uint32_t offset, const void *src, size_t len)
{
	struct cvmbus_ring_gpa_view v;

	if (!b->pfns || len > b->bytes || offset > b->bytes - len)
		return -ERANGE;
	gbuf_view(b, &v);
	return cvmbus_channel_gpa_write(ch, &v, offset, src, len);
}
