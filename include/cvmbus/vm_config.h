/* SPDX-License-Identifier: MIT */
/*
 * A whole run of a VM as one configuration file says it: the topology
 * (struct cvmbus_vm_config of include/cvmbus/vm.h), the devices beyond the
 * two echo devices (a disk, a NIC, each served by the host or by the
 * paravisor), the workload and the output files. This is the JSON
 * configuration of `cvmbus run --config FILE`, in the top layer of libcvmbus
 * (src/vm/config_json.c, with jansson, which never shows in this header).
 * docs/CONFIG.md is the schema, field by field, with the command-line option
 * that overrides each field.
 *
 * A configuration is built in layers, later ones winning: the embedded
 * default (cvmbus_vm_setup_default_json), then one file, then command-line
 * edits in the order given; cvmbus_vm_setup_builder_finish() validates the
 * result once and names the field of the first problem ("topology.vcpus:
 * 99 is not a number from 1 to 64", "devices[1].owner: 'guest' is not host
 * or paravisor", unknown keys refused).
 *
 * Errors are negative errno values: -EINVAL (a bad field, option or JSON
 * text: err says which and why), -ENOENT / -EACCES / -EISDIR ... (a
 * configuration file that cannot be read: err names it), -ENOMEM.
 */
#ifndef CVMBUS_VM_CONFIG_H
#define CVMBUS_VM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmbus/vm.h>

#define CVMBUS_VM_SETUP_PATH_MAX  512u /* image and output paths, NUL included */
#define CVMBUS_VM_SETUP_NETNS_MAX 64u  /* a namespace name or path, NUL included */
#define CVMBUS_VM_SETUP_ERR_MAX   256u /* room for any error text */

enum cvmbus_vm_device_type {
	CVMBUS_VM_DEVICE_DISK = 1, /* synthetic SCSI (VSTOR) over a file image */
	CVMBUS_VM_DEVICE_NIC = 2,  /* synthetic network (NVSP + RNDIS) */
};

enum cvmbus_vm_nic_backend {
	CVMBUS_VM_NIC_LOOPBACK = 0, /* the device answers the guest's frames itself */
	CVMBUS_VM_NIC_TAP = 1,      /* a TAP interface on each side, real traffic */
};

struct cvmbus_vm_disk_spec {
	/* "" : a temporary image, made for the run and removed after it. */
	char image[CVMBUS_VM_SETUP_PATH_MAX];
	/* Bytes, a multiple of 512 from 1 MiB to 1 TiB; the image is made (or
	 * resized) to it. 0: the existing image's own size. */
	uint64_t size;
	bool read_only;
};

struct cvmbus_vm_nic_spec {
	enum cvmbus_vm_nic_backend backend;
	/* TAP only: the network namespaces the guest's and the host's TAP
	 * interfaces are made in (names under /run/netns, as `ip netns add`
	 * makes, or absolute paths); "" : the caller's namespace. */
	char netns_guest[CVMBUS_VM_SETUP_NETNS_MAX];
	char netns_host[CVMBUS_VM_SETUP_NETNS_MAX];
	uint8_t mac[6];
	uint32_t mtu; /* 68..9000 */
};

struct cvmbus_vm_device_spec {
	enum cvmbus_vm_device_type type;
	enum cvmbus_vm_owner owner; /* who serves it: the host, or the paravisor */
	union {
		struct cvmbus_vm_disk_spec disk;
		struct cvmbus_vm_nic_spec nic;
	};
};

struct cvmbus_vm_setup {
	struct cvmbus_vm_config topology;
	size_t device_count;
	struct cvmbus_vm_device_spec devices[CVMBUS_VM_MAX_DEVICES];
	struct {
		unsigned int packets; /* per channel (echo) and per NIC, 1..100000 */
		uint32_t bytes;       /* of each packet, 1..1024 */
		uint64_t disk_bytes;  /* written and read back on each disk, 4 KiB multiple */
	} workload;
	struct {
		char report[CVMBUS_VM_SETUP_PATH_MAX]; /* HTML report; "" : none */
		char json[CVMBUS_VM_SETUP_PATH_MAX];   /* JSON report; "" : none, "-" : stdout */
	} outputs;
};

/* The embedded default, as `cvmbus config --print-default` prints it: SNP
 * with a paravisor offering Confidential VMBus, a confidential disk served
 * by the paravisor, a relayed NIC served by the host, 8 packets of 64
 * bytes, no output files. */
extern const char cvmbus_vm_setup_default_json[];

/* The default, parsed (cannot fail: a test holds the text to that). */
void cvmbus_vm_setup_default(struct cvmbus_vm_setup *out);

struct cvmbus_vm_setup_builder;

/* A builder holding the embedded default. 0 or -ENOMEM. */
int cvmbus_vm_setup_builder_new(struct cvmbus_vm_setup_builder **out);
void cvmbus_vm_setup_builder_free(struct cvmbus_vm_setup_builder *b);

/* Lay a configuration file over what the builder holds: objects merge key
 * by key, a "devices" array replaces the list. Apply files before edits.
 * 0; -EINVAL for malformed JSON ("FILE:LINE:COLUMN: ...") or a document
 * that is not an object; the file's errno when it cannot be read. */
int cvmbus_vm_setup_builder_load(struct cvmbus_vm_setup_builder *b, const char *path,
				 char *err, size_t errlen);
/* The same for text in memory; name is what errors call it. */
int cvmbus_vm_setup_builder_load_text(struct cvmbus_vm_setup_builder *b, const char *text,
				      size_t len, const char *name, char *err, size_t errlen);

/*
 * Set one field by its path, as `--set PATH=VALUE` does: PATH is keys joined
 * by '.', with [N] for a device ("topology.vcpus", "devices[1].owner",
 * "devices[2]" appends a device, "devices" the whole list); VALUE is JSON
 * if it parses as JSON, else a string ("tdx", 4, null, true, {"type":"nic"}).
 * The value is checked by finish(). 0, or -EINVAL for a path that names no
 * place ("devices[7]" past the end) or a parent that is not an object.
 */
int cvmbus_vm_setup_builder_set(struct cvmbus_vm_setup_builder *b, const char *path,
				const char *value, char *err, size_t errlen);

/*
 * Apply one command-line option by its long name (without "--") and value
 * (NULL for flags): every topology option of cvmbus_vm_config_option (its
 * value checked at once, with the same message), and packets, bytes,
 * disk-bytes, report, json, no-devices, disk-image, disk-size, disk-owner,
 * nic-owner, nic-backend (these two groups act on the first device of that
 * type), set (VALUE is PATH=VALUE). Returns 1 if applied, 0 if `name` is not
 * one of these (the caller handles it), or -EINVAL with a message naming
 * the option.
 */
int cvmbus_vm_setup_builder_option(struct cvmbus_vm_setup_builder *b, const char *name,
				   const char *value, char *err, size_t errlen);
/* Does `name` take a value? -1: not an option of the builder. */
int cvmbus_vm_setup_option_has_arg(const char *name);

/* Validate everything and fill out: 0, or -EINVAL with the field's path
 * and the problem in err. A default device served by the paravisor moves
 * to the host when the topology has no paravisor (unless its owner was set
 * explicitly): the defaults follow the topology, a user's word does not. */
int cvmbus_vm_setup_builder_finish(struct cvmbus_vm_setup_builder *b,
				   struct cvmbus_vm_setup *out, char *err, size_t errlen);

/* The whole configuration as JSON text in the schema of docs/CONFIG.md
 * (every field, sizes as "16M" when exact), ending in a newline; malloc'd,
 * the caller frees it. NULL on -ENOMEM. */
char *cvmbus_vm_setup_to_json(const struct cvmbus_vm_setup *s);

/* The help text for the options of cvmbus_vm_setup_builder_option beyond
 * the topology's, for `cvmbus run --help` and `cvmbus config --help`. */
extern const char cvmbus_vm_setup_options_help[];

/* "disk", "nic"; "host", "paravisor"; "loopback", "tap". */
const char *cvmbus_vm_device_type_name(enum cvmbus_vm_device_type type);
const char *cvmbus_vm_owner_name(enum cvmbus_vm_owner owner);
const char *cvmbus_vm_nic_backend_name(enum cvmbus_vm_nic_backend backend);

/* "16M", "1G", "1536K", or plain bytes when no suffix is exact. */
int cvmbus_vm_size_format(uint64_t bytes, char *buf, size_t cap);
/* "16M", "16MiB", "1g", "4096", "0x1000": bytes. 0 or -EINVAL (overflow). */
int cvmbus_vm_size_parse(const char *text, uint64_t *out);

#endif /* CVMBUS_VM_CONFIG_H */
