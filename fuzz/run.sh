#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the libFuzzer targets of a CVMBUS_FUZZ build (`make fuzz` builds it
# in build-fuzz and calls this): each target for SECONDS, one after the
# other, starting from a copy of its seed corpus (fuzz/corpus/TARGET) in a
# work directory under the build, so the repository is never modified.
# Prints per target the executions, exec/s and coverage (libFuzzer's final
# cov: and ft:), and exits non-zero if any target crashed, keeping the
# crash file's path in the output. To keep a crash as a regression test:
# minimise it (TARGET -minimize_crash=1 -runs=10000 CRASH) and save it as
# fuzz/regressions/TARGET/NAME (see docs/SECURITY.md).
#
# usage: fuzz/run.sh SECONDS [TARGET...]     (default: every target)
# env:   BUILD_FUZZ   the fuzz build directory (default build-fuzz)
#        FUZZ_KEEP=1  keep the work corpus of earlier runs instead of
#                     starting again from the seeds
#        FUZZ_ARGS    extra libFuzzer flags (e.g. -use_value_profile=1)
set -u

if [ $# -lt 1 ]; then
	echo "usage: $0 SECONDS [TARGET...]" >&2
	exit 2
fi
secs=$1
shift
case $secs in
'' | *[!0-9]*) echo "$0: SECONDS must be a whole number" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_FUZZ:-build-fuzz}
case $build in
/*) ;;
*) build=$root/$build ;;
esac

# The target list is fuzz/targets.cmake's, so a new target needs no edit here.
if [ $# -eq 0 ]; then
	set -- $(sed -n 's/^ *"\(fuzz_[A-Za-z0-9_]*\):.*/\1/p' "$root/fuzz/targets.cmake")
fi

status=0
summary=""
for t in "$@"; do
	bin=$build/fuzz/$t
	if [ ! -x "$bin" ]; then
		echo "$t: $bin not built (cmake --build $build --target cvmbus_fuzz)" >&2
		status=1
		summary="$summary$t: NOT BUILT
"
		continue
	fi
	work=$build/fuzz-work/$t
	if [ "${FUZZ_KEEP:-0}" != 1 ]; then
		rm -rf "$work"
	fi
	mkdir -p "$work/corpus" "$work/artifacts"
	if [ -d "$root/fuzz/corpus/$t" ]; then
		cp "$root/fuzz/corpus/$t"/* "$work/corpus/" 2>/dev/null
	fi
	log=$work/fuzz.log
	echo "== $t: ${secs}s, corpus $work/corpus, log $log"
	# -timeout: one input taking 10 s is a hang (a bug); -rss_limit_mb keeps
	# a leak from taking the machine; -print_final_stats gives the figures.
	# shellcheck disable=SC2086
	"$bin" "$work/corpus" -max_total_time="$secs" -print_final_stats=1 \
		-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/" \
		${FUZZ_ARGS:-} >"$log" 2>&1
	rc=$?

	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1)
	cov=$(printf '%s\n' "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(printf '%s\n' "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(printf '%s\n' "$last" | sed -n 's/.*corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p')
	line="$t: execs ${execs:-?} exec/s ${rate:-?} cov ${cov:-?} ft ${ft:-?} corpus ${corp:-?}"
	if [ $rc -ne 0 ]; then
		status=1
		crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		line="$line CRASH (exit $rc) ${crash:-see $log}"
		echo "-- $t failed; end of its log:"
		tail -n 60 "$log"
	fi
	echo "$line"
	summary="$summary$line
"
done

echo "== fuzz summary (${secs}s per target)"
printf '%s' "$summary"
exit $status
