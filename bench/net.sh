#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/net.sh: TCP throughput through a VM's synthetic NIC against a plain
# forwarder, in one run, between the same two network namespaces.
#
#   forwarder     bench/tap_forward: TAP <-> TAP, one thread, poll(2)
#   host          cvmbus net --path host: guest TAP -> netvsc -> VMBus
#                 channel (host-visible ring and buffers) -> netvsp -> TAP
#   confidential  cvmbus net --path confidential: the paravisor's NIC, ring
#                 and buffers private to the confidential VM
#   host --processes  the host path with the host's netvsp in cvmbus-host,
#                 its own process (docs/PROCESSES.md)
#   ... --offload  host and confidential again with checksum and TCP
#                 segmentation offload (vnet_hdr TAPs, RNDIS checksum and
#                 LSOv2 info: 64 KiB segments cross as one packet). The
#                 forwarder never uses offloads: it is the plain baseline.
#
# Each is measured with iperf3 (server in the host namespace, client in the
# guest namespace, TCP, SECONDS long); the rows are interleaved REPS times
# and the median is printed, with each path's ratio to the forwarder.
#
#   usage: bench/net.sh [BUILD_DIR [SECONDS [REPS]]]     (root; iperf3)
#   make bench-net                                       (build/, 5 s, 3 reps)
#
# Addresses 10.251.0.1/24 (guest) and 10.251.0.2/24 (host) exist only inside
# the two namespaces this script makes (cvmbus-bn-g-PID, cvmbus-bn-h-PID)
# and deletes on exit; nothing in the caller's namespace is touched.
set -u

BUILD=${1:-build}
SECS=${2:-5}
REPS=${3:-1}
CVMBUS=$BUILD/tools/cvmbus/cvmbus
FWD=$BUILD/bench/tap_forward
G=cvmbus-bn-g-$$
H=cvmbus-bn-h-$$
GA=10.251.0.1
HA=10.251.0.2
TMP=$(mktemp -d /tmp/cvmbus-bench-net.XXXXXX)
BG=

die() { echo "bench/net.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (TAP devices and network namespaces)"
command -v iperf3 >/dev/null 2>&1 || die "needs iperf3 (apt-get install iperf3)"
command -v ip >/dev/null 2>&1 || die "needs ip(8) (apt-get install iproute2)"
[ -x "$CVMBUS" ] || die "no $CVMBUS: build first (cmake --build $BUILD)"
[ -x "$FWD" ] || die "no $FWD: build first (cmake --build $BUILD --target tap_forward)"

cleanup() {
	[ -n "$BG" ] && kill -TERM "$BG" 2>/dev/null && wait "$BG" 2>/dev/null
	ip netns del "$G" 2>/dev/null
	ip netns del "$H" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$G" || die "ip netns add failed"
ip netns add "$H" || die "ip netns add failed"

# Wait for the "ready" line of a background run (20 s at most).
wait_ready() {
	i=0
	while [ $i -lt 100 ]; do
		grep -q '^ready' "$1" 2>/dev/null && return 0
		kill -0 "$BG" 2>/dev/null || return 1
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# One measurement: start the middle box ($1: forwarder|host|confidential|
# host-processes, the host path with the host in cvmbus-host),
# run iperf3 through it, stop it; prints Mbit/s (receiver side) or "fail".
measure() {
	# A file of its own per run: a "ready" left by the previous run of
	# this row must never be taken for this one's.
	out=$TMP/$1.$r.out
	rm -f "$out"
	case $1 in
	forwarder)
		"$FWD" --ns-a "$G" --ns-b "$H" >"$out" 2>&1 &
		BG=$! ;;
	host-processes)
		"$CVMBUS" net --path host --processes --guest-ns "$G" --host-ns "$H" \
			--guest-addr $GA/24 --host-addr $HA/24 >"$out" 2>&1 &
		BG=$! ;;
	*-offload)
		"$CVMBUS" net --path "${1%-offload}" --offload --guest-ns "$G" --host-ns "$H" \
			--guest-addr $GA/24 --host-addr $HA/24 >"$out" 2>&1 &
		BG=$! ;;
	*)
		"$CVMBUS" net --path "$1" --guest-ns "$G" --host-ns "$H" \
			--guest-addr $GA/24 --host-addr $HA/24 >"$out" 2>&1 &
		BG=$! ;;
	esac
	if ! wait_ready "$out"; then
		echo fail
		cat "$out" >&2
		kill -TERM "$BG" 2>/dev/null; wait "$BG" 2>/dev/null; BG=
		return
	fi
	if [ "$1" = forwarder ]; then
		ip -n "$G" addr add $GA/24 dev cvmbus-g0 &&
			ip -n "$H" addr add $HA/24 dev cvmbus-h0 ||
			echo "bench/net.sh: ip addr add failed" >&2
	fi
	# The same warm-up for every row: the first ARP exchange and the
	# interfaces' carrier, before the clock starts.
	if ! ip netns exec "$G" ping -c 1 -W 1 $HA >/dev/null 2>&1 &&
	   ! ip netns exec "$G" ping -c 3 -W 1 $HA >/dev/null 2>&1; then
		{ echo "bench/net.sh: $1: no ping reply before iperf3"
		  ip -n "$G" addr; ip -n "$H" addr; cat "$out"; } >&2
	fi
	timeout $((SECS + 20)) ip netns exec "$H" iperf3 -s -1 -B $HA >/dev/null 2>&1 &
	srv=$!
	sleep 0.5
	timeout $((SECS + 15)) ip netns exec "$G" iperf3 -c $HA -t "$SECS" -f m \
		>"$TMP/$1.iperf" 2>&1
	kill -TERM "$BG" 2>/dev/null
	wait "$BG" 2>/dev/null
	BG=
	wait "$srv" 2>/dev/null
	v=$(awk '/receiver/ { print $(NF-2) }' "$TMP/$1.iperf")
	if [ -n "$v" ]; then
		echo "$v"
	else
		echo fail
		{ echo "bench/net.sh: $1: iperf3 failed:"; cat "$TMP/$1.iperf"; cat "$out"; } >&2
	fi
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "fail" }'; }

F=; HO=; C=; HP=; HX=; CX=
r=0
while [ $r -lt "$REPS" ]; do
	F="$F $(measure forwarder)"
	HO="$HO $(measure host)"
	C="$C $(measure confidential)"
	HP="$HP $(measure host-processes)"
	HX="$HX $(measure host-offload)"
	CX="$CX $(measure confidential-offload)"
	r=$((r + 1))
done
fm=$(echo "$F" | tr ' ' '\n' | grep -v fail | median)
hm=$(echo "$HO" | tr ' ' '\n' | grep -v fail | median)
cm=$(echo "$C" | tr ' ' '\n' | grep -v fail | median)
pm=$(echo "$HP" | tr ' ' '\n' | grep -v fail | median)
hxm=$(echo "$HX" | tr ' ' '\n' | grep -v fail | median)
cxm=$(echo "$CX" | tr ' ' '\n' | grep -v fail | median)

echo "iperf3 TCP, ${SECS} s, median of $REPS (Mbit/s per run:)"
printf '%-40s %10s %10s   %s\n' "middle box" "Gbit/s" "vs fwd" "runs (Mbit/s)"
row() {
	if [ "$2" = fail ]; then
		printf '%-40s %10s %10s   %s\n' "$1" fail - "$3"
		return
	fi
	ratio=-
	[ "$fm" != fail ] && ratio=$(awk -v a="$2" -v b="$fm" 'BEGIN { printf "%.2fx", a / b }')
	printf '%-40s %10s %10s   %s\n' "$1" "$(awk -v a="$2" 'BEGIN { printf "%.2f", a / 1000 }')" \
		"$ratio" "$3"
}
row "tap_forward (baseline)" "$fm" "$F"
row "cvmbus net --path host" "$hm" "$HO"
row "cvmbus net --path confidential" "$cm" "$C"
row "cvmbus net --path host --processes" "$pm" "$HP"
row "cvmbus net --path host --offload" "$hxm" "$HX"
row "cvmbus net --path confidential --offload" "$cxm" "$CX"
