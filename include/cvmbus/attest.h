/* SPDX-License-Identifier: MIT */
/*
 * A measured paravisor (layer src/hw, beside the platform model; it uses
 * nothing above the wire definitions). Three pieces, one file each:
 *
 *   attest_image.c   the canonical description of a paravisor image (build
 *                    identity, the VSPs it offers, its policy) and the
 *                    SHA-384 launch measurement of it, as the hardware's
 *                    security processor would take it while loading;
 *   attest_report.c  the simulated security processor: a platform that is
 *                    launched once with an image, keeps the measurement in
 *                    a register nothing can write afterwards, and signs
 *                    attestation reports (ECDSA P-384) with its own key;
 *   attest_verify.c  the relying party: parse a report as hostile bytes and
 *                    verify it against a public key, a list of expected
 *                    measurements, a nonce, an isolation type and a policy,
 *                    refusing with one precise reason.
 *
 * Today a guest learns that a paravisor exists from a CPUID leaf that the
 * paravisor itself answers. With this, the guest (or a remote verifier it
 * talks to) can ask the platform for a signed statement of exactly which
 * paravisor was launched before trusting it with Confidential VMBus. What is
 * modelled and what real SNP/TDX do differently: docs/ATTESTATION.md.
 *
 * Errors are negative errno values: -EINVAL (bad argument or image; err
 * says why where there is an err buffer), -ENOBUFS (buffer too small; the
 * needed length is stored), -EALREADY (the platform was launched already),
 * -ENODATA (the platform has not been launched: no measurement yet),
 * -EACCES (the report was refused; the result says why), -ENOMEM, -EIO (the
 * crypto library failed).
 */
#ifndef CVMBUS_ATTEST_H
#define CVMBUS_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmbus/hv.h>
#include <cvmbus/wire.h>

/* ---- sizes ----------------------------------------------------------- */

#define CVMBUS_ATTEST_DIGEST_SIZE       48u  /* SHA-384 */
#define CVMBUS_ATTEST_BUILD_DIGEST_SIZE 32u  /* the image builder's own hash */
#define CVMBUS_ATTEST_REPORT_DATA_SIZE  64u  /* guest nonce, as SNP REPORT_DATA */
#define CVMBUS_ATTEST_CHIP_ID_SIZE      64u  /* as SNP CHIP_ID */
#define CVMBUS_ATTEST_SIG_COMPONENT     48u  /* one of r, s for P-384 */
#define CVMBUS_ATTEST_REPORT_SIZE       0x160u /* 352 bytes, version 1 */
#define CVMBUS_ATTEST_REPORT_SIGNED_SIZE 0x100u /* bytes 0x000-0x0FF are signed */
#define CVMBUS_ATTEST_REPORT_VERSION    1u
/* Report signature algorithm 1: ECDSA P-384 over SHA-384 (SNP uses the same
 * number for the same algorithm). */
#define CVMBUS_ATTEST_SIG_ECDSA_P384_SHA384 1u

/* Limits of a paravisor image. Strings are printable ASCII, no NUL inside;
 * the arrays keep one byte for the terminator. */
#define CVMBUS_PARAVISOR_NAME_MAX    63u
#define CVMBUS_PARAVISOR_VERSION_MAX 31u
#define CVMBUS_PARAVISOR_VSP_NAME_MAX 31u
#define CVMBUS_PARAVISOR_MAX_VSPS    64u
/* Format of the canonical description (docs/ATTESTATION.md, byte by byte). */
#define CVMBUS_PARAVISOR_DESCR_MAGIC   "CVPVIMG\0" /* 8 bytes */
#define CVMBUS_PARAVISOR_DESCR_VERSION 1u
#define CVMBUS_PARAVISOR_DESCR_HEADER  16u
/* The largest description the limits above allow; it fits one 4 KiB page. */
#define CVMBUS_PARAVISOR_DESCR_MAX                                             \
	(CVMBUS_PARAVISOR_DESCR_HEADER + 1u + CVMBUS_PARAVISOR_NAME_MAX + 1u +      \
	 CVMBUS_PARAVISOR_VERSION_MAX + CVMBUS_ATTEST_BUILD_DIGEST_SIZE + 16u + 2u + \
	 CVMBUS_PARAVISOR_MAX_VSPS * (16u + 2u + 1u + CVMBUS_PARAVISOR_VSP_NAME_MAX))
/* Where the model loads the description in the paravisor's launch image;
 * it enters the measurement as the page's GPA, as SNP's PAGE_INFO.GPA. */
#define CVMBUS_PARAVISOR_DESCR_GPA 0xFFE00000ull

/* Launch policy word of the platform (reported, not measured: in SNP terms
 * the guest policy given to LAUNCH_START). Only DEBUG has a meaning here; the
 * other bits are carried and compared as given. */
#define CVMBUS_ATTEST_POLICY_DEBUG 0x1ull /* a debugger may read private memory */

/* ---- the paravisor image --------------------------------------------- */

/* One VSP the paravisor offers over Confidential VMBus. */
struct cvmbus_paravisor_vsp {
	char name[CVMBUS_PARAVISOR_VSP_NAME_MAX + 1]; /* 1..31 printable ASCII */
	struct cvmbus_guid interface_id;               /* the offer's if_type */
	uint16_t offer_flags;                          /* CVMBUS_OFFER_* */
};

struct cvmbus_paravisor_policy {
	bool offers_confidential_vmbus; /* CPUID 0x40000082 EAX bit 3 will say so */
	bool allows_fallback;           /* guest may use the host-visible path */
	uint32_t min_vmbus_version;     /* CVMBUS_MAKE_VERSION; 0 = no minimum */
	uint64_t word;                  /* further policy bits, measured as given */
};

/* Everything that identifies a paravisor build. A plain value: the VSPs may
 * be in any order, the description sorts them. */
struct cvmbus_paravisor_image {
	char name[CVMBUS_PARAVISOR_NAME_MAX + 1];       /* 1..63 printable ASCII */
	char version[CVMBUS_PARAVISOR_VERSION_MAX + 1]; /* 1..31 printable ASCII */
	uint8_t build_digest[CVMBUS_ATTEST_BUILD_DIGEST_SIZE];
	struct cvmbus_paravisor_policy policy;
	size_t vsp_count; /* 0..CVMBUS_PARAVISOR_MAX_VSPS */
	struct cvmbus_paravisor_vsp vsps[CVMBUS_PARAVISOR_MAX_VSPS];
};

/* 0, or -EINVAL and a short lowercase reason in err (may be NULL): bad
 * strings, too many VSPs, or two VSPs with the same interface id and name. */
int cvmbus_paravisor_image_check(const struct cvmbus_paravisor_image *img, char *err,
				 size_t errlen);
/* The canonical description: *len is set to its length; -ENOBUFS if cap is
 * smaller (buf may then be NULL). At most CVMBUS_PARAVISOR_DESCR_MAX bytes.
 * The same image with its VSPs in any order gives the same bytes. */
int cvmbus_paravisor_image_describe(const struct cvmbus_paravisor_image *img, uint8_t *buf,
				    size_t cap, size_t *len);
/* The launch measurement of the image, computed offline exactly as
 * cvmbus_attest_platform_launch() computes it. */
int cvmbus_paravisor_image_measure(const struct cvmbus_paravisor_image *img,
				   uint8_t out[CVMBUS_ATTEST_DIGEST_SIZE]);
/* The same, from a description already in canonical form (it is not
 * re-validated: the platform measures whatever bytes it is given). */
int cvmbus_paravisor_descr_measure(const uint8_t *descr, size_t len,
				   uint8_t out[CVMBUS_ATTEST_DIGEST_SIZE]);

/* ---- the attestation report (wire layout, version 1) ------------------ */

/*
 * Little-endian integers; r and s big-endian, each left-padded to 48 bytes.
 * Bytes 0x000-0x0FF are what the signature covers. reserved fields are zero.
 */
struct cvmbus_attest_report_wire {
	uint32_t version;     /* @0x000: CVMBUS_ATTEST_REPORT_VERSION */
	uint32_t isolation;   /* @0x004: enum hv_isolation_type */
	uint64_t policy;      /* @0x008: launch policy word */
	uint32_t sig_algo;    /* @0x010: CVMBUS_ATTEST_SIG_* */
	uint32_t reserved0;   /* @0x014 */
	uint8_t measurement[CVMBUS_ATTEST_DIGEST_SIZE];    /* @0x018 */
	uint8_t report_data[CVMBUS_ATTEST_REPORT_DATA_SIZE]; /* @0x048: guest nonce */
	uint8_t chip_id[CVMBUS_ATTEST_CHIP_ID_SIZE];       /* @0x088 */
	uint8_t signing_key_digest[CVMBUS_ATTEST_DIGEST_SIZE]; /* @0x0C8: SHA-384 of the
							      * key's DER SubjectPublicKeyInfo */
	uint8_t reserved1[8];                              /* @0x0F8 */
	uint8_t sig_r[CVMBUS_ATTEST_SIG_COMPONENT];        /* @0x100 */
	uint8_t sig_s[CVMBUS_ATTEST_SIG_COMPONENT];        /* @0x130 */
};
_Static_assert(sizeof(struct cvmbus_attest_report_wire) == CVMBUS_ATTEST_REPORT_SIZE,
	       "attest report");
_Static_assert(offsetof(struct cvmbus_attest_report_wire, isolation) == 0x004, "isolation");
_Static_assert(offsetof(struct cvmbus_attest_report_wire, policy) == 0x008, "policy");
_Static_assert(offsetof(struct cvmbus_attest_report_wire, sig_algo) == 0x010, "sig_algo");
_Static_assert(offsetof(struct cvmbus_attest_report_wire, reserved0) == 0x014, "reserved0");
_Static_assert(offsetof(struct cvmbus_attest_report_wire, measurement) == 0x018, "measurement");
_Static_assert(offsetof(struct cvmbus_attest_report_wire, report_data) == 0x048, "report_data");
_Static_assert(offsetof(struct cvmbus_attest_report_wire, chip_id) == 0x088, "chip_id");
_Static_assert(offsetof(struct cvmbus_attest_report_wire, signing_key_digest) == 0x0C8,
	       "signing_key_digest");
_Static_assert(offsetof(struct cvmbus_attest_report_wire, reserved1) == 0x0F8, "reserved1");
_Static_assert(offsetof(struct cvmbus_attest_report_wire, sig_r) ==
		       CVMBUS_ATTEST_REPORT_SIGNED_SIZE, "sig_r");
_Static_assert(offsetof(struct cvmbus_attest_report_wire, sig_s) == 0x130, "sig_s");

/* A report decoded into host order (what the parser hands back). */
struct cvmbus_attest_report {
	uint32_t version;
	enum hv_isolation_type isolation; /* may hold a value outside the enum */
	uint64_t policy;
	uint32_t sig_algo;
	uint8_t measurement[CVMBUS_ATTEST_DIGEST_SIZE];
	uint8_t report_data[CVMBUS_ATTEST_REPORT_DATA_SIZE];
	uint8_t chip_id[CVMBUS_ATTEST_CHIP_ID_SIZE];
	uint8_t signing_key_digest[CVMBUS_ATTEST_DIGEST_SIZE];
	uint8_t sig_r[CVMBUS_ATTEST_SIG_COMPONENT];
	uint8_t sig_s[CVMBUS_ATTEST_SIG_COMPONENT];
};

/* ---- the platform (the simulated security processor) ------------------ */

struct cvmbus_attest_platform_config {
	enum hv_isolation_type isolation; /* reported as is */
	uint64_t policy;                  /* launch policy word, reported */
	/* PEM of the platform's EC P-384 private key (PKCS#8 or "EC PRIVATE
	 * KEY"); NULL: a fresh key is generated for this platform instance. */
	const char *key_pem;
	size_t key_pem_len;
	/* All zero: SHA-512 of the public key's DER, so that two platforms
	 * differ. Otherwise reported as given. */
	uint8_t chip_id[CVMBUS_ATTEST_CHIP_ID_SIZE];
};

struct cvmbus_attest_platform;

/* -EINVAL (err says why: bad PEM, not EC P-384), -ENOMEM, -EIO. */
int cvmbus_attest_platform_create(const struct cvmbus_attest_platform_config *cfg,
				  struct cvmbus_attest_platform **out, char *err,
				  size_t errlen);
void cvmbus_attest_platform_destroy(struct cvmbus_attest_platform *p);

/* Launch: measure the image into the measurement register, once. A second
 * launch, also a concurrent one, fails with -EALREADY and changes nothing;
 * an invalid image fails with -EINVAL (err says why) and leaves the
 * platform unlaunched. There is no other way to write the register. */
int cvmbus_attest_platform_launch(struct cvmbus_attest_platform *p,
				  const struct cvmbus_paravisor_image *img, char *err,
				  size_t errlen);
/* The register's value: 0, or -ENODATA before launch. */
int cvmbus_attest_platform_measurement(const struct cvmbus_attest_platform *p,
				       uint8_t out[CVMBUS_ATTEST_DIGEST_SIZE]);
/* The public key as PEM (SubjectPublicKeyInfo), NUL-terminated; *len is its
 * length without the NUL. -ENOBUFS if cap < *len + 1 (buf may be NULL). */
int cvmbus_attest_platform_public_key_pem(const struct cvmbus_attest_platform *p, char *buf,
					  size_t cap, size_t *len);

/* The guest's request, as it runs inside the security processor: a signed
 * report binding the launch measurement to the guest's 64-byte nonce.
 * -ENODATA before launch, -EIO if signing failed. Safe to call from several
 * threads at once. */
int cvmbus_attest_get_report(struct cvmbus_attest_platform *p,
			     const uint8_t nonce[CVMBUS_ATTEST_REPORT_DATA_SIZE],
			     uint8_t out[CVMBUS_ATTEST_REPORT_SIZE]);

/* ---- verification (the relying party) --------------------------------- */

/* Why a report was refused. The checks run in this order and the first
 * failure is the reason: size and version, structure (algorithm, reserved
 * bytes), key identity, signature, then the contents (measurement, nonce,
 * isolation, policy). */
enum cvmbus_attest_reason {
	CVMBUS_ATTEST_OK = 0,
	CVMBUS_ATTEST_TRUNCATED,             /* fewer bytes than the layout */
	CVMBUS_ATTEST_OVERSIZED,             /* bytes after the layout */
	CVMBUS_ATTEST_UNSUPPORTED_VERSION,   /* version field is not 1 */
	CVMBUS_ATTEST_UNSUPPORTED_ALGORITHM, /* sig_algo is not ECDSA P-384 */
	CVMBUS_ATTEST_MALFORMED,             /* reserved bytes not zero */
	CVMBUS_ATTEST_WRONG_KEY,             /* signed by another key */
	CVMBUS_ATTEST_BAD_SIGNATURE,         /* the signature does not verify */
	CVMBUS_ATTEST_MEASUREMENT_UNKNOWN,   /* not in the expected list */
	CVMBUS_ATTEST_NONCE_MISMATCH,        /* stale or foreign report data */
	CVMBUS_ATTEST_ISOLATION_MISMATCH,
	CVMBUS_ATTEST_POLICY_MISMATCH,
	CVMBUS_ATTEST_INTERNAL,              /* the crypto library failed */
	CVMBUS_ATTEST_REASON_COUNT
};

struct cvmbus_attest_result {
	enum cvmbus_attest_reason reason;
	char detail[160];                   /* one line, lowercase */
	bool parsed;                        /* `report` holds the decoded fields */
	struct cvmbus_attest_report report; /* trust it only when reason is OK */
	size_t measurement_index;           /* which expected one matched */
};

/* What the relying party expects. The measurement list must not be empty. */
struct cvmbus_attest_expect {
	const uint8_t (*measurements)[CVMBUS_ATTEST_DIGEST_SIZE];
	size_t measurement_count;
	const uint8_t *nonce;  /* 64 bytes; NULL: report data not checked */
	bool check_isolation;
	enum hv_isolation_type isolation;
	/* Refused unless (report.policy & policy_mask) == policy_value. */
	uint64_t policy_mask;
	uint64_t policy_value;
};

/* A verifier's public key: EC P-384 only. */
struct cvmbus_attest_pubkey;

/* Parses a PEM public key (SubjectPublicKeyInfo) of at most 64 KiB.
 * -EINVAL and err ("not a pem public key", "not an ec p-384 key", ...). */
int cvmbus_attest_pubkey_from_pem(const void *pem, size_t len,
				  struct cvmbus_attest_pubkey **out, char *err,
				  size_t errlen);
/* The platform's public key as a verifier object (for tests and tools). */
int cvmbus_attest_platform_pubkey(const struct cvmbus_attest_platform *p,
				  struct cvmbus_attest_pubkey **out);
void cvmbus_attest_pubkey_free(struct cvmbus_attest_pubkey *key);

/* Decode without verifying anything but the layout (size, version,
 * algorithm, reserved bytes). The bytes are copied first and never read
 * again. 0, or -EACCES with the reason in res (res->parsed says whether
 * res->report was filled). */
int cvmbus_attest_report_parse(const void *bytes, size_t len,
			       struct cvmbus_attest_result *res);

/* The full check. 0 when every check passed; -EACCES when the report is
 * refused (res->reason, res->detail); -EINVAL on bad arguments (no
 * expected measurement); -EIO/-ENOMEM when the crypto library failed
 * (reason INTERNAL). res is always filled. */
int cvmbus_attest_verify_ex(const void *bytes, size_t len,
			    const struct cvmbus_attest_pubkey *key,
			    const struct cvmbus_attest_expect *expect,
			    struct cvmbus_attest_result *res);
/* The common case: measurements and a nonce (NULL: unchecked), no isolation
 * or policy check. */
int cvmbus_attest_verify(const void *bytes, size_t len, const struct cvmbus_attest_pubkey *key,
			 const uint8_t (*measurements)[CVMBUS_ATTEST_DIGEST_SIZE],
			 size_t measurement_count, const uint8_t *nonce,
			 struct cvmbus_attest_result *res);

/* "ok", "report truncated", ... (never NULL). */
const char *cvmbus_attest_reason_str(enum cvmbus_attest_reason reason);

#endif /* CVMBUS_ATTEST_H */
