/* SPDX-License-Identifier: MIT */
/*
 * The connection half of the guest VMBus client (src/client): version
 * negotiation as Linux's vmbus_connect()/vmbus_negotiate_version(), the
 * offers request, and unload. Linux walks its version list in a loop that
 * blocks on each answer; here each step is a state (CONTACTING with the
 * version in flight) and the loop advances on VersionResponse, on a failed
 * post, or on the deadline.
 */
#include <errno.h>
#include <string.h>

#include "client/client_internal.h"
#include "cvmbus/log.h"

/* Linux's vmbus_versions[], newest first. 2.4 (Windows 8) is the oldest a
 * current Linux guest still speaks: per-relid event flags start there. */
static const uint32_t client_versions[] = {
	CVMBUS_VERSION_6_0, CVMBUS_VERSION_5_3, CVMBUS_VERSION_5_2,
	CVMBUS_VERSION_5_1, CVMBUS_VERSION_5_0, CVMBUS_VERSION_4_1,
	CVMBUS_VERSION_4_0, CVMBUS_VERSION_3_0, CVMBUS_VERSION_2_4,
};
#define CLIENT_NVERSIONS (sizeof(client_versions) / sizeof(client_versions[0]))

static void client_version_text(uint32_t v, char buf[16])
{
	cvmbus_wire_version_format(v, buf, 16);
}

/* ---- Pages named in InitiateContact --------------------------------------- */

/*
 * One interrupt page (only used below 5.0, and only ever read by us: it
 * stays private) and two monitor pages, which Linux always decrypts: the
 * host writes the parent-to-child page and reads the child-to-parent one.
 * Kept across connect attempts and unloads, freed at destroy.
 */
static int client_alloc_pages(struct cvmbus_client *cli)
{
	uint64_t gpa;
	int rc;

	if (cli->pages_ready || cli->cfg.no_monitor_pages)
		return 0; /* without pages, InitiateContact names none (zeros) */
	rc = cvmbus_mem_alloc(cli->mem, CVMBUS_MEM_REGION_VTL0, 3, &gpa);
	if (rc < 0)
		return rc;
	rc = cvmbus_mem_make_shared(cli->mem, CVMBUS_MEM_PARTY_GUEST, gpa + HV_PAGE_SIZE, 2,
				    "vmbus-monitor");
	if (rc < 0) {
		/* As Linux after a failed decryption: the state of the monitor
		 * pages is unknown, so they never go back to the allocator. The
		 * interrupt page was never touched. */
		cli->stats.pages_leaked += 2;
		goto free_int_page;
	}
	/* Contents do not survive a visibility change; zero all three anyway
	 * so that the private interrupt page does not carry old data. */
	rc = client_mem_zero(cli, gpa, 3);
	if (rc < 0)
		goto release_monitor;
	cli->int_page = gpa;
	cli->monitor[0] = gpa + HV_PAGE_SIZE;
	cli->monitor[1] = gpa + 2 * HV_PAGE_SIZE;
	cli->monitor_shared = true;
	cli->pages_ready = true;
	return 0;

release_monitor:
	client_mem_release(cli, gpa + HV_PAGE_SIZE, 2, true);
free_int_page:
	client_mem_release(cli, gpa, 1, false);
	return rc;
}

void client_free_pages(struct cvmbus_client *cli)
{
	if (!cli->pages_ready)
		return;
	client_mem_release(cli, cli->int_page, 1, false);
	client_mem_release(cli, cli->monitor[0], 2, cli->monitor_shared);
	cli->pages_ready = false;
}

/* ---- Negotiation ----------------------------------------------------------- */

static void client_connect_failed(struct cvmbus_client *cli, int err)
{
	char v[16];

	client_version_text(cli->req_version, v);
	cvmbus_log_warn("client: unable to connect (last version tried %s): error %d", v, err);
	cli->state = CVMBUS_CLIENT_FAILED;
	cli->version = 0;
	cli->features = 0;
	cli->conn_deadline = CLIENT_NEVER;
	cli->contact_posted = false;
	client_outbox_clear(cli);
	client_emit_simple(cli, CVMBUS_CLIENT_EV_CONNECT_FAILED, err, 0, 0);
}

/* Builds and enqueues the InitiateContact of vmbus_negotiate_version(). */
static int client_send_contact(struct cvmbus_client *cli, uint32_t version)
{
	struct cvmbus_wire_msg m;
	struct cvmbus_msg_initiate_contact *ic;
	uint32_t conn_id;
	uint32_t features = 0;

	/* cvmbus_wire_msg_init clears the whole message: Linux memsets it. */
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_INITIATE_CONTACT);
	ic = &m.u.initiate_contact;
	ic->version_requested = version;
	ic->target_vcpu = cli->cfg.target_vcpu;
	if (version >= CVMBUS_VERSION_5_0) {
		/* 5.0 on: say which SINT we listen on (still 2, for
		 * compatibility) and post on connection id 4. */
		ic->msg_sint = VMBUS_MESSAGE_SINT;
		ic->msg_vtl = cli->cfg.vtl;
		conn_id = VMBUS_MESSAGE_CONNECTION_ID_4;
	} else {
		ic->interrupt_page = cli->int_page;
		conn_id = VMBUS_MESSAGE_CONNECTION_ID;
	}
	if (version >= CVMBUS_VERSION_6_0) {
		/* The confidential channels flag only on a connection the caller
		 * established as confidential: it is what asks the paravisor
		 * for encrypted rings. */
		if (cli->confidential)
			features |= CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS;
		features |= cli->cfg.extra_features;
		ic->feature_flags = features;
	}
	/* The boundary is 0 outside vTOM, so ORing it in is always right:
	 * the host addresses the shared pages by their alias. */
	if (cli->pages_ready) {
		ic->parent_to_child_monitor_gpa = cli->monitor[0] | cli->cfg.shared_gpa_boundary;
		ic->child_to_parent_monitor_gpa = cli->monitor[1] | cli->cfg.shared_gpa_boundary;
	}

	cli->req_version = version;
	cli->req_features = features;
	cli->contact_posted = false;
	cli->conn_deadline = CLIENT_NEVER;
	cli->msg_conn_id = conn_id;
	cli->stats.versions_tried++;
	return client_send(cli, &m, conn_id, 0, version, true);
}

/* The next version of the list under max_version, or the end of it. */
static void client_try_next_version(struct cvmbus_client *cli)
{
	while (cli->version_index < CLIENT_NVERSIONS) {
		uint32_t v = client_versions[cli->version_index++];
		int rc;

		if (v > cli->cfg.max_version)
			continue;
		rc = client_send_contact(cli, v);
		if (rc < 0)
			client_connect_failed(cli, rc);
		return;
	}
	/* Linux: the whole list refused -> -EDOM. */
	client_connect_failed(cli, -EDOM);
}

int cvmbus_client_connect(struct cvmbus_client *cli, const struct cvmbus_client_transport *t,
			  bool confidential)
{
	int rc;

	if (!cli || !t || !t->post_message || (unsigned)t->path >= CVMBUS_CLIENT_PATH_COUNT)
		return -EINVAL;
	if (cli->state != CVMBUS_CLIENT_IDLE && cli->state != CVMBUS_CLIENT_FAILED &&
	    cli->state != CVMBUS_CLIENT_UNLOADED)
		return -EBUSY;
	rc = client_alloc_pages(cli);
	if (rc < 0)
		return rc;

	client_outbox_clear(cli);
	cli->transport = *t;
	cli->confidential = confidential;
	cli->version = 0;
	cli->features = 0;
	cli->version_index = 0;
	cli->offers = CVMBUS_CLIENT_OFFERS_NONE;
	cli->offers_posted = false;
	cli->offers_deadline = CLIENT_NEVER;
	cli->state = CVMBUS_CLIENT_CONTACTING;
	if (confidential)
		cvmbus_log_info("client: establishing a connection to the confidential vmbus");
	client_try_next_version(cli);
	client_run(cli);
	return 0;
}

int client_on_version_response(struct cvmbus_client *cli, const struct cvmbus_wire_msg *m)
{
	const struct cvmbus_msg_version_response *r = &m->u.version_response;
	uint32_t v = cli->req_version;
	char text[16];

	/* Only an answer to an InitiateContact that really went out counts:
	 * anything else is a host talking out of turn. */
	if (cli->state != CVMBUS_CLIENT_CONTACTING || !cli->contact_posted)
		return client_drop(cli, CVMBUS_MSG_VERSION_RESPONSE, CVMBUS_CLIENT_DROP_UNEXPECTED,
				   0, -EPROTO);
	client_version_text(v, text);
	if (!r->version_supported) {
		/* Linux: -ECONNREFUSED for this version, then the next one. */
		cvmbus_log_info("client: host refused version %s", text);
		client_try_next_version(cli);
		return 0;
	}

	cli->version = v;
	/* A 6.0 host that says what it grants narrows what we asked for; one
	 * that answers with the 16-byte layout (as Linux reads it) is taken to
	 * grant it all, as Linux does. */
	if (m->variant == CVMBUS_WIRE_VERSION_RESPONSE2 ||
	    m->variant == CVMBUS_WIRE_VERSION_RESPONSE3)
		cli->features = cli->req_features & m->u.version_response2.supported_features;
	else
		cli->features = cli->req_features;
	/* From 5.0 on the host names the connection id of every later message;
	 * it is a 24-bit field in HvPostMessage, as Linux's union truncates. */
	if (v >= CVMBUS_VERSION_5_0)
		cli->msg_conn_id = r->msg_conn_id & HV_CONNECTION_ID_MASK;
	else
		cli->msg_conn_id = VMBUS_MESSAGE_CONNECTION_ID;
	cli->conn_deadline = CLIENT_NEVER;

	if (cli->cfg.isolated && v < CVMBUS_VERSION_5_2) {
		/* An isolated guest needs 5.2's semantics; a host that only
		 * accepts less is either old or downgrading us. Linux returns
		 * -EINVAL without an Unload (its version is not yet recorded,
		 * so vmbus_initiate_unload() returns early). */
		cvmbus_log_error("client: version %s from a host serving an isolated guest "
				 "(need >= 5.2)", text);
		client_connect_failed(cli, -EINVAL);
		return 0;
	}
	cli->state = CVMBUS_CLIENT_CONNECTED;
	cvmbus_log_info("client: vmbus version %s%s", text,
			cli->confidential ? " (confidential)" : "");
	{
		struct cvmbus_client_event ev = {
			.type = CVMBUS_CLIENT_EV_CONNECTED,
			.version = v,
			.features = cli->features,
		};

		client_emit(cli, &ev);
	}
	return 0;
}

/* ---- Offers ------------------------------------------------------------------ */

int cvmbus_client_request_offers(struct cvmbus_client *cli)
{
	struct cvmbus_wire_msg m;
	int rc;

	if (!cli)
		return -EINVAL;
	if (cli->state != CVMBUS_CLIENT_CONNECTED)
		return -ENOTCONN;
	if (cli->offers == CVMBUS_CLIENT_OFFERS_REQUESTED ||
	    cli->offers == CVMBUS_CLIENT_OFFERS_DELIVERED)
		return -EALREADY;
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_REQUEST_OFFERS);
	rc = client_send(cli, &m, cli->msg_conn_id, 0, 0, true);
	if (rc < 0)
		return rc;
	cli->offers = CVMBUS_CLIENT_OFFERS_REQUESTED;
	cli->offers_posted = false;
	cli->offers_deadline = CLIENT_NEVER;
	client_run(cli);
	return 0;
}

int client_on_all_offers(struct cvmbus_client *cli)
{
	if (cli->offers != CVMBUS_CLIENT_OFFERS_REQUESTED || !cli->offers_posted)
		return client_drop(cli, CVMBUS_MSG_ALL_OFFERS_DELIVERED,
				   CVMBUS_CLIENT_DROP_UNEXPECTED, 0, -EPROTO);
	cli->offers = CVMBUS_CLIENT_OFFERS_DELIVERED;
	cli->offers_deadline = CLIENT_NEVER;
	client_emit_simple(cli, CVMBUS_CLIENT_EV_ALL_OFFERS, 0, 0, 0);
	return 0;
}

/* ---- Unload -------------------------------------------------------------------- */

/*
 * The end of an unload. With the host's response, it has let go of every
 * GPADL: their pages are made private and freed. Without it (timeout, post
 * failure, or a version without Unload), the host may still hold them: the
 * pages stay out of the allocator, as Linux leaks what it cannot account.
 */
static void client_unload_finish(struct cvmbus_client *cli, int status, bool reclaim)
{
	client_outbox_clear(cli);
	client_gpadl_forget_all(cli, reclaim);
	client_chan_forget_all(cli);
	cli->state = CVMBUS_CLIENT_UNLOADED;
	cli->version = 0;
	cli->features = 0;
	cli->offers = CVMBUS_CLIENT_OFFERS_NONE;
	cli->offers_deadline = CLIENT_NEVER;
	cli->conn_deadline = CLIENT_NEVER;
	client_emit_simple(cli, CVMBUS_CLIENT_EV_UNLOADED, status, 0, 0);
}

int cvmbus_client_unload(struct cvmbus_client *cli)
{
	struct cvmbus_wire_msg m;
	int rc;

	if (!cli)
		return -EINVAL;
	if (cli->state != CVMBUS_CLIENT_CONNECTED)
		return -ENOTCONN;
	if (cli->version < CVMBUS_VERSION_3_0) {
		/* vmbus_initiate_unload(): nothing to send before 3.0. */
		client_unload_finish(cli, 0, false);
		return 0;
	}
	cvmbus_wire_msg_init(&m, CVMBUS_WIRE_UNLOAD);
	rc = client_send(cli, &m, cli->msg_conn_id, 0, 0, true);
	if (rc < 0)
		return rc;
	cli->state = CVMBUS_CLIENT_UNLOADING;
	cli->unload_posted = false;
	cli->conn_deadline = CLIENT_NEVER;
	client_run(cli);
	return 0;
}

int client_on_unload_response(struct cvmbus_client *cli)
{
	if (cli->state != CVMBUS_CLIENT_UNLOADING || !cli->unload_posted)
		return client_drop(cli, CVMBUS_MSG_UNLOAD_RESPONSE, CVMBUS_CLIENT_DROP_UNEXPECTED,
				   0, -EPROTO);
	client_unload_finish(cli, 0, true);
	return 0;
}

/* ---- Outbox outcomes and deadlines ---------------------------------------- */

void client_conn_posted(struct cvmbus_client *cli, const struct client_out *o)
{
	switch (o->msgtype) {
	case CVMBUS_MSG_INITIATE_CONTACT:
		/* The wait for the answer starts when the message is out, so
		 * that post retries do not eat into it. */
		if (cli->state == CVMBUS_CLIENT_CONTACTING && o->tag == cli->req_version) {
			cli->contact_posted = true;
			cli->conn_deadline = client_deadline(cli, cli->cfg.contact_timeout_ns);
		}
		break;
	case CVMBUS_MSG_REQUEST_OFFERS:
		if (cli->offers == CVMBUS_CLIENT_OFFERS_REQUESTED) {
			cli->offers_posted = true;
			cli->offers_deadline = client_deadline(cli, cli->cfg.offers_timeout_ns);
		}
		break;
	case CVMBUS_MSG_UNLOAD:
		if (cli->state == CVMBUS_CLIENT_UNLOADING) {
			cli->unload_posted = true;
			cli->conn_deadline = client_deadline(cli, cli->cfg.reply_timeout_ns);
		}
		break;
	default:
		break;
	}
}

void client_conn_post_failed(struct cvmbus_client *cli, const struct client_out *o, int err)
{
	char text[16];

	switch (o->msgtype) {
	case CVMBUS_MSG_INITIATE_CONTACT:
		if (cli->state != CVMBUS_CLIENT_CONTACTING || o->tag != cli->req_version)
			break;
		/* vmbus_connect() moves on after any failure but a timeout;
		 * INVALID_CONNECTION_ID on id 4 is how an old host says no. */
		client_version_text(o->tag, text);
		cvmbus_log_info("client: initiate contact for %s not delivered (%d)", text, err);
		client_try_next_version(cli);
		break;
	case CVMBUS_MSG_REQUEST_OFFERS:
		if (cli->offers == CVMBUS_CLIENT_OFFERS_REQUESTED) {
			cli->offers = CVMBUS_CLIENT_OFFERS_FAILED;
			client_emit_simple(cli, CVMBUS_CLIENT_EV_ALL_OFFERS, err, 0, 0);
		}
		break;
	case CVMBUS_MSG_UNLOAD:
		if (cli->state == CVMBUS_CLIENT_UNLOADING)
			client_unload_finish(cli, err, false);
		break;
	default:
		break;
	}
}

void client_conn_expire(struct cvmbus_client *cli)
{
	if (cli->state == CVMBUS_CLIENT_CONTACTING && cli->now >= cli->conn_deadline) {
		/* Linux aborts the whole negotiation on -ETIMEDOUT rather than
		 * trying an older version: a silent host is not an old host. */
		cli->stats.timeouts++;
		client_connect_failed(cli, -ETIMEDOUT);
	} else if (cli->state == CVMBUS_CLIENT_UNLOADING && cli->now >= cli->conn_deadline) {
		cli->stats.timeouts++;
		client_unload_finish(cli, -ETIMEDOUT, false);
	}
	if (cli->offers == CVMBUS_CLIENT_OFFERS_REQUESTED && cli->now >= cli->offers_deadline) {
		cli->stats.timeouts++;
		cli->offers = CVMBUS_CLIENT_OFFERS_FAILED;
		cli->offers_deadline = CLIENT_NEVER;
		client_emit_simple(cli, CVMBUS_CLIENT_EV_ALL_OFFERS, -ETIMEDOUT, 0, 0);
	}
}
