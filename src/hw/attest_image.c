/* SPDX-License-Identifier: MIT */
/*
 * The paravisor image as the platform measures it (src/hw, attestation):
 * validation of a cvmbus_paravisor_image, its canonical byte description,
 * and the SHA-384 launch measurement of that description. The description
 * is the one thing that both the platform (at launch) and a verifier
 * (offline, from a configuration file) compute, so it must be a pure
 * function of the image's meaning: fixed field order, explicit lengths,
 * little-endian integers, and the VSPs sorted, so that listing them in
 * another order cannot change the measurement. The layout is written out
 * byte by byte in docs/ATTESTATION.md.
 *
 * The measurement mirrors the SNP launch digest: every 4 KiB page the
 * security processor loads extends the digest as
 *   digest' = SHA-384(digest || SHA-384(page) || page metadata)
 * with the metadata laid out as SNP's PAGE_INFO. Here the description is
 * the only thing loaded (the build digest stands for the code pages).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw/attest_internal.h"

#define DESCR_PAGE 4096u
/* SNP PAGE_INFO: 48-byte current digest, 48-byte contents digest, then
 * length (u16, = 0x70), page type (u8), IMI page (u8), VMPL3/2/1
 * permissions (u8 each), reserved (u8), GPA (u64). */
#define PAGE_INFO_SIZE  0x70u
#define PAGE_TYPE_NORMAL 1u
#define POLICY_FLAG_CONFIDENTIAL_VMBUS 0x1u
#define POLICY_FLAG_ALLOWS_FALLBACK    0x2u

/* The header promises that every valid image describes into one page. */
_Static_assert(CVMBUS_PARAVISOR_DESCR_MAX <= DESCR_PAGE, "description fits a page");
_Static_assert(sizeof(CVMBUS_PARAVISOR_DESCR_MAGIC) == 9, "magic is 8 bytes + NUL");

void attest_set_err(char *err, size_t errlen, const char *msg)
{
	if (!err || errlen == 0)
		return;
	size_t n = strlen(msg);
	if (n >= errlen)
		n = errlen - 1;
	memcpy(err, msg, n);
	err[n] = '\0';
}

int attest_sha384(const void *const *parts, const size_t *lens, size_t n,
		  uint8_t out[CVMBUS_ATTEST_DIGEST_SIZE])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int outlen = 0;
	int rc = -EIO;

	if (!ctx)
		return -ENOMEM;
	if (EVP_DigestInit_ex(ctx, EVP_sha384(), NULL) != 1)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (EVP_DigestUpdate(ctx, parts[i], lens[i]) != 1)
			goto out;
	if (EVP_DigestFinal_ex(ctx, out, &outlen) != 1 ||
	    outlen != CVMBUS_ATTEST_DIGEST_SIZE)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* ---- validation ------------------------------------------------------ */

/* A string field: NUL-terminated inside its array, 1..max bytes, printable
 * ASCII only, so that what a person reads in a config is what is measured
 * (no control bytes, no encodings that print alike). */
static bool text_ok(const char *s, size_t array_size)
{
	size_t n = strnlen(s, array_size);

	if (n == 0 || n == array_size)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

static void guid_bytes(const struct cvmbus_guid *g, uint8_t out[16])
{
	attest_put_le32(out, g->data1);
	attest_put_le16(out + 4, g->data2);
	attest_put_le16(out + 6, g->data3);
	memcpy(out + 8, g->data4, 8);
}

/* The canonical order: interface id as wire bytes, then name. A total
 * order on valid images, since (id, name) pairs are unique. */
static int vsp_cmp(const void *a, const void *b)
{
	const struct cvmbus_paravisor_vsp *x = *(const struct cvmbus_paravisor_vsp *const *)a;
	const struct cvmbus_paravisor_vsp *y = *(const struct cvmbus_paravisor_vsp *const *)b;
	uint8_t gx[16], gy[16];
	int c;

	guid_bytes(&x->interface_id, gx);
	guid_bytes(&y->interface_id, gy);
	c = memcmp(gx, gy, sizeof(gx));
	if (c)
		return c;
	c = strcmp(x->name, y->name);
	if (c)
		return c;
	return (int)x->offer_flags - (int)y->offer_flags;
}

/* Sorts pointers, not the caller's image, which is const. */
static void vsp_sort(const struct cvmbus_paravisor_image *img,
		     const struct cvmbus_paravisor_vsp **order)
{
	for (size_t i = 0; i < img->vsp_count; i++)
		order[i] = &img->vsps[i];
	qsort(order, img->vsp_count, sizeof(order[0]), vsp_cmp);
}

int cvmbus_paravisor_image_check(const struct cvmbus_paravisor_image *img, char *err,
				 size_t errlen)
{
	const struct cvmbus_paravisor_vsp *order[CVMBUS_PARAVISOR_MAX_VSPS];

	if (!img) {
		attest_set_err(err, errlen, "no image");
		return -EINVAL;
	}
	if (!text_ok(img->name, sizeof(img->name))) {
		attest_set_err(err, errlen, "name must be 1-63 printable ascii characters");
		return -EINVAL;
	}
	if (!text_ok(img->version, sizeof(img->version))) {
		attest_set_err(err, errlen, "version must be 1-31 printable ascii characters");
		return -EINVAL;
	}
	if (img->vsp_count > CVMBUS_PARAVISOR_MAX_VSPS) {
		attest_set_err(err, errlen, "too many vsps (at most 64)");
		return -EINVAL;
	}
	for (size_t i = 0; i < img->vsp_count; i++) {
		if (!text_ok(img->vsps[i].name, sizeof(img->vsps[i].name))) {
			attest_set_err(err, errlen,
				       "vsp name must be 1-31 printable ascii characters");
			return -EINVAL;
		}
	}
	/* Duplicates would make "the same image" ambiguous (which of two
	 * identical entries is meant?) and usually are a config mistake. */
	vsp_sort(img, order);
	for (size_t i = 1; i < img->vsp_count; i++) {
		if (!memcmp(&order[i - 1]->interface_id, &order[i]->interface_id,
			    sizeof(struct cvmbus_guid)) &&
		    !strcmp(order[i - 1]->name, order[i]->name)) {
			attest_set_err(err, errlen, "two vsps with the same interface id and name");
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- the canonical description ------------------------------------- */

static size_t descr_length(const struct cvmbus_paravisor_image *img)
{
	size_t n = CVMBUS_PARAVISOR_DESCR_HEADER;

	n += 1 + strlen(img->name) + 1 + strlen(img->version);
	n += CVMBUS_ATTEST_BUILD_DIGEST_SIZE + 4 + 4 + 8 + 2;
	for (size_t i = 0; i < img->vsp_count; i++)
		n += 16 + 2 + 1 + strlen(img->vsps[i].name);
	return n;
}

static uint8_t *put_text(uint8_t *p, const char *s)
{
	size_t n = strlen(s); /* <= 63, checked */

	*p++ = (uint8_t)n;
	memcpy(p, s, n);
	return p + n;
}

int cvmbus_paravisor_image_describe(const struct cvmbus_paravisor_image *img, uint8_t *buf,
				    size_t cap, size_t *len)
{
	const struct cvmbus_paravisor_vsp *order[CVMBUS_PARAVISOR_MAX_VSPS];
	uint32_t flags = 0;
	size_t need;
	uint8_t *p;
	int rc;

	if (!len)
		return -EINVAL;
	rc = cvmbus_paravisor_image_check(img, NULL, 0);
	if (rc)
		return rc;
	need = descr_length(img);
	*len = need;
	if (!buf || cap < need)
		return -ENOBUFS;

	p = buf;
	memcpy(p, CVMBUS_PARAVISOR_DESCR_MAGIC, 8);
	attest_put_le16(p + 8, CVMBUS_PARAVISOR_DESCR_VERSION);
	attest_put_le16(p + 10, CVMBUS_PARAVISOR_DESCR_HEADER);
	attest_put_le32(p + 12, (uint32_t)need);
	p += CVMBUS_PARAVISOR_DESCR_HEADER;

	p = put_text(p, img->name);
	p = put_text(p, img->version);
	memcpy(p, img->build_digest, CVMBUS_ATTEST_BUILD_DIGEST_SIZE);
	p += CVMBUS_ATTEST_BUILD_DIGEST_SIZE;

	if (img->policy.offers_confidential_vmbus)
		flags |= POLICY_FLAG_CONFIDENTIAL_VMBUS;
	if (img->policy.allows_fallback)
		flags |= POLICY_FLAG_ALLOWS_FALLBACK;
	attest_put_le32(p, flags);
	attest_put_le32(p + 4, img->policy.min_vmbus_version);
	attest_put_le64(p + 8, img->policy.word);
	p += 16;

	attest_put_le16(p, (uint16_t)img->vsp_count);
	p += 2;
	vsp_sort(img, order);
	for (size_t i = 0; i < img->vsp_count; i++) {
		guid_bytes(&order[i]->interface_id, p);
		attest_put_le16(p + 16, order[i]->offer_flags);
		p = put_text(p + 18, order[i]->name);
	}
	/* descr_length() and the writer above must agree to the byte. */
	if ((size_t)(p - buf) != need)
		abort();
	return 0;
}

/* ---- the launch measurement ----------------------------------------- */

/* One SNP-style extend: ld = SHA-384(PAGE_INFO(ld, SHA-384(page), gpa)). */
static int extend_page(uint8_t ld[CVMBUS_ATTEST_DIGEST_SIZE], const uint8_t page[DESCR_PAGE],
		       uint64_t gpa)
{
	uint8_t info[PAGE_INFO_SIZE] = { 0 };
	const void *parts[1];
	size_t lens[1];
	int rc;

	memcpy(info, ld, CVMBUS_ATTEST_DIGEST_SIZE);
	parts[0] = page;
	lens[0] = DESCR_PAGE;
	rc = attest_sha384(parts, lens, 1, info + 48);
	if (rc)
		return rc;
	attest_put_le16(info + 96, PAGE_INFO_SIZE);
	info[98] = PAGE_TYPE_NORMAL;
	/* 99 IMI page, 100-102 VMPL permissions, 103 reserved: all zero, as
	 * for an ordinary page loaded by the launching VMM. */
	attest_put_le64(info + 104, gpa);
	parts[0] = info;
	lens[0] = sizeof(info);
	return attest_sha384(parts, lens, 1, ld);
}

int cvmbus_paravisor_descr_measure(const uint8_t *descr, size_t len,
				   uint8_t out[CVMBUS_ATTEST_DIGEST_SIZE])
{
	uint8_t ld[CVMBUS_ATTEST_DIGEST_SIZE] = { 0 }; /* SNP starts from zero */
	uint8_t *page;
	size_t off = 0;
	int rc = 0;

	if (!descr || len == 0 || !out)
		return -EINVAL;
	/* The loader copies whole pages; the tail of the last one is zero. The
	 * description carries its own length, so the padding is unambiguous. */
	page = malloc(DESCR_PAGE);
	if (!page)
		return -ENOMEM;
	for (uint64_t k = 0; off < len; k++) {
		size_t n = len - off < DESCR_PAGE ? len - off : DESCR_PAGE;

		memset(page, 0, DESCR_PAGE);
		memcpy(page, descr + off, n);
		rc = extend_page(ld, page, CVMBUS_PARAVISOR_DESCR_GPA + k * DESCR_PAGE);
		if (rc)
			goto out;
		off += n;
	}
	memcpy(out, ld, sizeof(ld));
out:
	free(page);
	return rc;
}

int cvmbus_paravisor_image_measure(const struct cvmbus_paravisor_image *img,
				   uint8_t out[CVMBUS_ATTEST_DIGEST_SIZE])
{
	uint8_t descr[CVMBUS_PARAVISOR_DESCR_MAX];
	size_t len = 0;
	int rc;

	if (!out)
		return -EINVAL;
	rc = cvmbus_paravisor_image_describe(img, descr, sizeof(descr), &len);
	if (rc)
		return rc;
	return cvmbus_paravisor_descr_measure(descr, len, out);
}
