#!/bin/sh
# SPDX-License-Identifier: MIT
#
# bench/storage.sh: fio through the NBD export of a VM's disk against
# nbdkit's own file plugin on the same image, in one run.
#
#   file          nbdkit's file plugin: pread/pwrite on the image (baseline)
#   confidential  the cvmbus plugin, path=confidential: guest storvsc ->
#                 confidential ring -> the paravisor's storvsp -> the image
#   host          the cvmbus plugin, path=host: guest storvsc -> bounce
#                 pages -> relayed host channel -> the host's storvsp
#
# Two fio jobs each (ioengine=nbd, one connection, queue depth 16, reads of
# an image filled with random data): 4 KiB random reads and 128 KiB
# sequential reads, SECONDS each. The rows are interleaved REPS times and
# the median is printed with its ratio to the file plugin. Then
# storage_bench (in-process: the guest's storvsc alone, and the disk
# service nbdkit's threads go through) if it was built.
#
#   usage: bench/storage.sh [BUILD_DIR [SECONDS [REPS]]]   (nbdkit, fio)
#   make bench-storage                                     (build/, 8 s, 1)
set -u

BUILD=${1:-build}
SECS=${2:-8}
REPS=${3:-1}
PLUGIN=$BUILD/plugins/nbdkit/nbdkit-cvmbus-plugin.so
SB=$BUILD/bench/storage_bench
TMP=$(mktemp -d /tmp/cvmbus-bench-storage.XXXXXX)
IMG=$TMP/disk.img
SIZE_MB=256

die() { echo "bench/storage.sh: $*" >&2; rm -rf "$TMP"; exit 1; }

command -v nbdkit >/dev/null 2>&1 || die "needs nbdkit (apt-get install nbdkit)"
command -v fio >/dev/null 2>&1 || die "needs fio (apt-get install fio)"
fio --enghelp 2>/dev/null | grep -qw nbd || die "this fio has no nbd engine"
[ -f "$PLUGIN" ] || die "no $PLUGIN: build it (cmake --build $BUILD; needs nbdkit-plugin-dev)"
trap 'rm -rf "$TMP"' EXIT INT TERM

# Random data, so that nothing reads a hole: every byte comes off the file.
dd if=/dev/urandom of="$IMG" bs=1M count=$SIZE_MB status=none || die "cannot write $IMG"

job() { # name rw bs
	cat > "$TMP/$1.fio" <<EOF
[global]
ioengine=nbd
uri=\${URI}
rw=$2
bs=$3
iodepth=16
runtime=$SECS
time_based=1
[$1]
EOF
}
job rand4k randread 4k
job seq128k read 128k

# One measurement: prints "IOPS KiB/s" (fio terse v3: read bw at 7, iops at 8).
measure() { # mode jobname
	case $1 in
	file) set -- "$2" file "$IMG" ;;
	confidential) set -- "$2" "$PLUGIN" image="$IMG" path=confidential ;;
	host) set -- "$2" "$PLUGIN" image="$IMG" path=host ;;
	esac
	j=$1
	shift
	nbdkit -U - "$@" --run "URI=\$uri fio --output-format=terse $TMP/$j.fio" 2>/dev/null |
		awk -F';' 'NF > 10 { print $8, $7 }'
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print 0 }'; }

echo "bench/storage.sh: fio ioengine=nbd, iodepth 16, ${SECS} s per run, $REPS round(s);"
echo "image $SIZE_MB MiB of random data; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq 1 "$REPS"); do
	for j in rand4k seq128k; do
		for m in file confidential host; do
			# "IOPS KiB/s": split into the two fields on purpose.
			# shellcheck disable=SC2046
			set -- $(measure $m $j)
			echo "$j $m ${1:-0} ${2:-0}" >> "$TMP/results"
		done
	done
done

printf '\n%-10s %-28s %10s %10s %9s\n' job export IOPS MiB/s "vs file"
for j in rand4k seq128k; do
	base=
	for m in file confidential host; do
		iops=$(awk -v j=$j -v m=$m '$1 == j && $2 == m { print $3 }' "$TMP/results" | median)
		kib=$(awk -v j=$j -v m=$m '$1 == j && $2 == m { print $4 }' "$TMP/results" | median)
		[ -z "$base" ] && base=$iops
		case $m in
		file) label="nbdkit file (baseline)" ;;
		*) label="cvmbus path=$m" ;;
		esac
		awk -v j=$j -v l="$label" -v i="$iops" -v k="$kib" -v b="$base" 'BEGIN {
			printf "%-10s %-28s %10d %10.0f %8.2fx\n", j, l, i, k / 1024, b ? i / b : 0 }'
	done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ -x "$SB" ]; then
	echo
	"$SB" --seconds 2 --image "$IMG"
fi
