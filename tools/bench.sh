#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: the cost of the VFIO device-fd paths under the kernel's
# vfio-pci and under vfio-pci-alias. Not part of `make check`.
#
#   1. set-up and the cached test kernel, unless KDIR= names a build;
#   2. the module, vpa_bench (tools/testing/vfio_pci_alias) and a test
#      image with it;
#   3. one QEMU boot (IOMMU mode) with two edu and two ivshmem devices
#      (tools/qemu.sh --twins), suite "bench" (tools/guest/tests/bench.sh):
#      ROUNDS runs of vpa_bench, each holding one edu and ivshmem pair
#      bound to vfio-pci and the other bound to vfio-pci-alias (the pairs
#      swap drivers between runs), and timing every op in BATCHES batches
#      of CALLS calls that alternate between the two drivers;
#   4. a header line (date, host, QEMU, runs, batches, calls) and a
#      Markdown table (tools/bench_table.py) on stdout: per op, each
#      driver's median time over the batches and the per-batch ratio
#      vfio-pci-alias / vfio-pci (median, interquartile range, min-max).
#
# Environment: KDIR, VARIANT (debug|kasan), ROUNDS (default 2), BATCHES
# (default 120), CALLS (per batch, default 1250), AA=1 for an A/A
# calibration run (vfio-pci on both pairs: the table then compares the
# second pair, "vfio-pci-twin", with the first), VPA_OUT (default out/ in
# the repository): the console log in bench.log, its VPA-BENCH lines in
# bench.raw, qemu.sh's results in bench.results, build logs.
#
# Exit status 0 only if the guest reported "ok - bench" and qemu.sh passed
# (that includes its dmesg scan: a kernel warning fails the run).
#
# The numbers are those of a TCG guest on a debug kernel (lockdep, RCU
# checks): good for comparing the two drivers with each other, not for
# absolute costs on hardware.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
. "$here/lib.sh"

OUT=${VPA_OUT:-$repo/out}
ROUNDS=${ROUNDS:-2}
BATCHES=${BATCHES:-120}
CALLS=${CALLS:-1250}
AA=${AA:-0}
case $ROUNDS$BATCHES$CALLS$AA in
''|*[!0-9]*) die "ROUNDS=$ROUNDS, BATCHES=$BATCHES, CALLS=$CALLS and AA=$AA must be numbers" ;;
esac
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

main() {
	local start=$SECONDS rc=0
	use_test_kernel
	log "kernel $KDIR; building the module and vpa_bench"
	# The guest programs in $OUT/bench-bin, the image initramfs-bench.cpio.gz.
	test_image bench

	log "running $ROUNDS runs of $BATCHES batches of $CALLS calls in QEMU (log $OUT/bench.log)"
	boot_image bench 2400 "vpa.rounds=$ROUNDS vpa.batches=$BATCHES vpa.calls=$CALLS vpa.aa=$AA" \
		--twins || rc=$?
	tr -d '\r' <"$OUT/bench.log" | grep -a '^VPA-BENCH: ' >"$OUT/bench.raw" || true
	# Whatever failed, with vpa_bench's own complaints.
	tr -d '\r' <"$OUT/bench.log" | grep -a '^FAIL: ' >&2 || true
	grep -v '^ok - ' "$OUT/bench.results" | sed 's/^/# /' >&2 || true

	local test=vfio-pci-alias details="$ROUNDS runs of $BATCHES batches of $CALLS calls"
	[ "$AA" = 0 ] || { test=vfio-pci-twin; details+=", A/A (vfio-pci on both pairs)"; }
	run_header bench "$details"
	echo
	python3 "$here/bench_table.py" --test "$test" "$OUT/bench.raw" || rc=1
	log "total $(( SECONDS - start ))s"
	grep -qx 'ok - bench' "$OUT/bench.results" || { log "the guest did not report ok - bench"; rc=1; }
	[ "$rc" = 0 ] || log "FAILED: see $OUT/bench.log and $OUT/bench.results"
	return "$rc"
}

main "$@"
