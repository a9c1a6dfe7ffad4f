/* SPDX-License-Identifier: MIT */
/*
 * One client's connection to the VMBus server (src/server): version and
 * feature negotiation (InitiateContact -> VersionResponse), ModifyConnection,
 * and the way down (Unload, a new InitiateContact on a live connection, a VM
 * reset), which first has the devices close the client's channels and drop
 * its GPADLs and only then answers. Transitions:
 *
 *   DISCONNECTED --InitiateContact ok--> NEGOTIATED --RequestOffers--> CONNECTED
 *   NEGOTIATED|CONNECTED --Unload / InitiateContact / reset--> DISCONNECTING
 *   DISCONNECTING --last channel closed, last GPADL gone--> DISCONNECTED
 *       then: UnloadResponse (unload), negotiate again (InitiateContact), or
 *       nothing (reset)
 *
 * Facts from OpenVMM channels.rs (check_version_supported, send_version_
 * response, request_disconnect) and the Linux guest (vmbus_negotiate_version).
 */
#include <errno.h>
#include <string.h>

#include "server/server_internal.h"

/* VMBus control messages use SINT 2 unless a 5.0+ client names another. */
#define SRV_VMBUS_SINT 2u

void srv_connection_of(const struct srv_client *cl, struct cvmbus_server_connection *out)
{
	if (srv_client_negotiated(cl) || cl->state == CVMBUS_SERVER_CONN_DISCONNECTING) {
		*out = cl->conn;
	} else {
		memset(out, 0, sizeof(*out));
	}
	out->client = cl->key;
	out->state = cl->state;
	out->target = cl->target;
}

static void srv_notify_connection(struct cvmbus_server *srv, const struct srv_client *cl)
{
	struct cvmbus_server_connection c;

	if (!srv->n.connection_changed)
		return;
	srv_connection_of(cl, &c);
	srv->n.connection_changed(srv->n.ctx, &c);
}

/* 2.4 .. max_version, and only versions the protocol defines: a client that
 * asks for 5.4 must fall back like one that asks for 7.0. */
static bool srv_version_supported(const struct cvmbus_server *srv, uint32_t version)
{
	return version >= CVMBUS_VERSION_2_4 && version <= srv->cfg.max_version &&
	       cvmbus_wire_version_known(version);
}

/* What this server grants at 6.0. Confidential channels are a promise that
 * the ring never leaves private memory, which only a paravisor can keep and
 * only to a client whose contact did not pass through the host. */
static uint32_t srv_grantable(const struct cvmbus_server *srv, bool trusted)
{
	uint32_t f = srv->cfg.features & CVMBUS_SERVER_IMPLEMENTED_FEATURES;

	if (!trusted || srv->cfg.role != CVMBUS_SERVER_ROLE_PARAVISOR)
		f &= ~CVMBUS_FEATURE_CONFIDENTIAL_CHANNELS;
	return f;
}

/* VersionResponse (16 bytes) or, for an accepted 6.0 request, VersionResponse2
 * (20 bytes, supported_features). VersionResponse3 (server-specified monitor
 * pages) is never sent: that feature is never granted. */
static void srv_send_version_response(struct cvmbus_server *srv, const struct srv_client *cl,
				      bool supported, uint8_t conn_state, uint32_t version,
				      uint32_t features)
{
	struct cvmbus_wire_msg m;
	struct cvmbus_msg_version_response2 *r;

	if (supported && version >= CVMBUS_VERSION_6_0)
		cvmbus_wire_msg_init(&m, CVMBUS_WIRE_VERSION_RESPONSE2);
	else
		cvmbus_wire_msg_init(&m, CVMBUS_WIRE_VERSION_RESPONSE);
	r = &m.u.version_response2;
	if (supported) {
		r->version_supported = 1;
		r->connection_state = conn_state;
		/* From 5.0 the field carries the connection id every later
		 * message must be posted to; before, OpenVMM echoes the version. */
		r->msg_conn_id = version >= CVMBUS_VERSION_5_0 ? srv->cfg.message_connection_id
							       : version;
		if (version >= CVMBUS_VERSION_6_0)
			r->supported_features = features;
	}
	srv_send(srv, cl, &m);
}

static int srv_negotiate(struct cvmbus_server *srv, struct srv_client *cl,
			 const struct srv_contact *c)
{
	char want[16], max[16];
	uint32_t features;

	cl->target = c->target;
	if (!srv_version_supported(srv, c->version)) {
		/* version_supported = 0: the client tries its next older one. */
		srv_send_version_response(srv, cl, false, 0, 0, 0);
		cvmbus_wire_version_format(c->version, want, sizeof(want));
		cvmbus_wire_version_format(srv->cfg.max_version, max, sizeof(max));
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_UNSUPPORTED_VERSION,
				  "initiate_contact", "asked %s, max %s", want, max);
	}
	features = c->version >= CVMBUS_VERSION_6_0 ? c->features & srv_grantable(srv, c->trusted)
						    : 0;
	/* Both monitor pages or neither (OpenVMM): a half-described pair is a
	 * client bug, reported as a failed connection at the chosen version. */
	if ((c->p2c_monitor == 0) != (c->c2p_monitor == 0)) {
		srv_send_version_response(srv, cl, true, CVMBUS_CONNECTION_FAILED_UNKNOWN_FAILURE,
					  c->version, features);
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_BAD_CONTACT, "initiate_contact",
				  "only one monitor page");
	}

	memset(&cl->conn, 0, sizeof(cl->conn));
	cl->conn.client = cl->key;
	cl->conn.version = c->version;
	cl->conn.features = features;
	cl->conn.trusted = c->trusted;
	cl->conn.message_connection_id = c->version >= CVMBUS_VERSION_5_0
						 ? srv->cfg.message_connection_id
						 : VMBUS_MESSAGE_CONNECTION_ID;
	cl->conn.contact_connection_id = c->connection_id;
	cl->conn.interrupt_page = c->interrupt_page;
	cl->conn.parent_to_child_monitor_gpa = c->p2c_monitor;
	cl->conn.child_to_parent_monitor_gpa = c->c2p_monitor;
	cl->conn.client_id = c->client_id;
	cl->state = CVMBUS_SERVER_CONN_NEGOTIATED;
	cl->next = SRV_NEXT_NONE;
	if (c->trusted && !cl->counted_trusted) {
		cl->counted_trusted = true;
		srv->trusted_clients++;
	}
	/* The glue registers the message connection id before the client can
	 * learn it from the response. */
	srv_notify_connection(srv, cl);
	srv_send_version_response(srv, cl, true, CVMBUS_CONNECTION_SUCCESSFUL, c->version,
				  features);
	return 0;
}

int srv_handle_initiate_contact(struct cvmbus_server *srv, uint32_t key,
				const struct cvmbus_wire_msg *m,
				const struct cvmbus_server_msg_info *info)
{
	const struct cvmbus_msg_initiate_contact *ic = &m->u.initiate_contact;
	struct srv_contact c;
	struct srv_client *cl;

	memset(&c, 0, sizeof(c));
	c.version = ic->version_requested;
	/* Which fields mean something depends on the version asked for (Linux
	 * vmbus_negotiate_version, OpenVMM handle_initiate_contact): the target
	 * VP from 3.0 (before, messages went to VP 0), SINT from 5.0, VTL from
	 * 5.1, feature flags from 6.0; before 5.0 the same bytes are the
	 * interrupt page. */
	c.target.vp = c.version >= CVMBUS_VERSION_3_0 ? ic->target_vcpu : 0;
	c.target.sint = c.version >= CVMBUS_VERSION_5_0 ? ic->msg_sint : SRV_VMBUS_SINT;
	c.target.vtl = c.version >= CVMBUS_VERSION_5_1 ? ic->msg_vtl : 0;
	c.features = c.version >= CVMBUS_VERSION_6_0 ? ic->feature_flags : 0;
	c.interrupt_page = c.version < CVMBUS_VERSION_5_0 ? ic->interrupt_page : 0;
	c.p2c_monitor = ic->parent_to_child_monitor_gpa;
	c.c2p_monitor = ic->child_to_parent_monitor_gpa;
	c.connection_id = info->connection_id;
	c.trusted = info->trusted;

	/* A reply to a SINT that does not exist cannot be delivered; there is
	 * nobody to answer, so drop it. */
	if (c.target.sint >= HV_SYNIC_SINT_COUNT)
		return srv_reject(srv, key, CVMBUS_SERVER_REJ_BAD_CONTACT, "initiate_contact",
				  "sint %u", c.target.sint);
	/* The client_id feature promises the 56-byte layout; the decoder
	 * matches layouts by size only, so the promise is checked here. */
	if (c.features & CVMBUS_FEATURE_CLIENT_ID) {
		if (m->variant != CVMBUS_WIRE_INITIATE_CONTACT_CLIENT_ID)
			return srv_reject(srv, key, CVMBUS_SERVER_REJ_BAD_CONTACT,
					  "initiate_contact", "client_id without a client id");
		c.client_id = m->u.initiate_contact_client_id.client_id;
	}

	cl = srv_client_get(srv, key);
	if (!cl)
		return srv_reject(srv, key, CVMBUS_SERVER_REJ_TOO_MANY_CLIENTS, "initiate_contact",
				  "%u slots", srv->cfg.max_clients);

	switch (cl->state) {
	case CVMBUS_SERVER_CONN_DISCONNECTED:
		return srv_negotiate(srv, cl, &c);
	case CVMBUS_SERVER_CONN_DISCONNECTING:
		/* The newest request wins (also over a pending UnloadResponse). */
		cl->pending = c;
		cl->next = SRV_NEXT_RECONNECT;
		return 0;
	case CVMBUS_SERVER_CONN_NEGOTIATED:
	case CVMBUS_SERVER_CONN_CONNECTED:
		/* A client that reconnects (kexec, a crashed driver) has
		 * forgotten its channels: drop everything, then negotiate. */
		cl->pending = c;
		return srv_disconnect(srv, cl, SRV_NEXT_RECONNECT);
	}
	return 0;
}

int srv_disconnect(struct cvmbus_server *srv, struct srv_client *cl, enum srv_next_action next)
{
	if (cl->state == CVMBUS_SERVER_CONN_DISCONNECTED)
		return 0;
	cl->next = next;
	if (cl->state == CVMBUS_SERVER_CONN_DISCONNECTING)
		return 0;
	cl->state = CVMBUS_SERVER_CONN_DISCONNECTING;
	for (uint32_t r = srv->cfg.relid_min; r <= srv->cfg.relid_max; r++) {
		struct srv_channel *ch = srv->chan[r];

		if (ch && ch->offer_state[cl->index] != CVMBUS_SERVER_OFFER_NONE)
			srv_release_channel(srv, cl, ch);
	}
	return srv_check_disconnected(srv, cl);
}

int srv_check_disconnected(struct cvmbus_server *srv, struct srv_client *cl)
{
	enum srv_next_action next;
	struct cvmbus_wire_msg m;
	struct srv_contact c;

	if (cl->state != CVMBUS_SERVER_CONN_DISCONNECTING || cl->ngpadls != 0 || cl->nowned != 0)
		return 0;

	next = cl->next;
	cl->next = SRV_NEXT_NONE;
	if (cl->counted_trusted) {
		cl->counted_trusted = false;
		srv->trusted_clients--;
	}
	cl->state = CVMBUS_SERVER_CONN_DISCONNECTED;
	memset(&cl->conn, 0, sizeof(cl->conn));
	srv_notify_connection(srv, cl);

	switch (next) {
	case SRV_NEXT_UNLOAD:
		if (srv->n.unload_complete)
			srv->n.unload_complete(srv->n.ctx, cl->key);
		cvmbus_wire_msg_init(&m, CVMBUS_WIRE_UNLOAD_RESPONSE);
		srv_send(srv, cl, &m);
		return 0;
	case SRV_NEXT_RECONNECT:
		c = cl->pending;
		return srv_negotiate(srv, cl, &c);
	case SRV_NEXT_NONE:
		break;
	}
	return 0;
}

int srv_handle_unload(struct cvmbus_server *srv, struct srv_client *cl)
{
	return srv_disconnect(srv, cl, SRV_NEXT_UNLOAD);
}

int srv_handle_modify_connection(struct cvmbus_server *srv, struct srv_client *cl,
				 const struct cvmbus_wire_msg *m)
{
	const struct cvmbus_msg_modify_connection *mc = &m->u.modify_connection;
	struct cvmbus_wire_msg r;

	cvmbus_wire_msg_init(&r, CVMBUS_WIRE_MODIFY_CONNECTION_RESPONSE);
	if ((mc->parent_to_child_monitor_gpa == 0) != (mc->child_to_parent_monitor_gpa == 0)) {
		r.u.modify_connection_response.connection_state =
			CVMBUS_CONNECTION_FAILED_UNKNOWN_FAILURE;
		srv_send(srv, cl, &r);
		return srv_reject(srv, cl->key, CVMBUS_SERVER_REJ_BAD_CONTACT, "modify_connection",
				  "only one monitor page");
	}
	cl->conn.parent_to_child_monitor_gpa = mc->parent_to_child_monitor_gpa;
	cl->conn.child_to_parent_monitor_gpa = mc->child_to_parent_monitor_gpa;
	srv_notify_connection(srv, cl);
	r.u.modify_connection_response.connection_state = CVMBUS_CONNECTION_SUCCESSFUL;
	srv_send(srv, cl, &r);
	return 0;
}

void srv_reset(struct cvmbus_server *srv)
{
	for (unsigned i = 0; i < srv->cfg.max_clients; i++) {
		struct srv_client *cl = &srv->clients[i];

		if (cl->used)
			(void)srv_disconnect(srv, cl, SRV_NEXT_NONE);
	}
}
