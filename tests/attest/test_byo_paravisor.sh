#!/usr/bin/env bash
# Bring your own paravisor, as a user would: measure a paravisor description
# offline, launch exactly that paravisor and pin its measurement (Confidential
# VMBus), then pin it against the platform's default paravisor (refused, exit
# 1, and the report says why).
set -u
cvmbus=$1
image=$2
fail() { echo "FAIL: $*"; exit 1; }

m=$("$cvmbus" attest measure "$image" | awk '{print $NF}' | tail -1)
[[ $m =~ ^[0-9a-f]{96}$ ]] || fail "attest measure printed '$m'"

out=$("$cvmbus" run --paravisor-image "$image" --attest require --expect "$m") \
	|| fail "run with the pinned custom paravisor exited $?"
grep -q "paravisor measured *$m" <<<"$out" || fail "the launched measurement is not the offline one"
grep -q "attestation *confidential: ok" <<<"$out" || fail "attestation did not pass"
grep -q "confidential *yes" <<<"$out" || fail "the connection is not confidential"

out=$("$cvmbus" run --attest require --expect "$m" 2>/dev/null)
rc=$?
[ "$rc" -eq 1 ] || fail "default paravisor pinned to another image exited $rc, not 1"
grep -q "attestation *refused: measurement not expected" <<<"$out" || fail "no refusal reason"
grep -q "confidential *no" <<<"$out" || fail "a refused paravisor still gave a confidential connection"

"$cvmbus" run --paravisor-image /nonexistent.json >/dev/null 2>&1
[ $? -eq 1 ] || fail "a missing image file did not fail with exit 1"
echo '{"format": 1, "name": 5}' > "${TMPDIR:-/tmp}/cvmbus-bad-image.$$.json"
"$cvmbus" run --paravisor-image "${TMPDIR:-/tmp}/cvmbus-bad-image.$$.json" >/dev/null 2>&1
rc=$?
rm -f "${TMPDIR:-/tmp}/cvmbus-bad-image.$$.json"
[ $rc -eq 2 ] || fail "a malformed image description did not fail with exit 2 ($rc)"
echo "byo-paravisor: 1 passed, 0 failed"
