#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: the cost of the VFIO device-fd paths under the kernel's
# vfio-pci and under vfio-pci-alias. Not part of `make check`.
#
#   1. set-up and the cached test kernel, unless KDIR= names a build;
#   2. the module, vpa_bench (tools/testing/vfio_pci_alias) and a test
#      image with it;
#   3. one QEMU boot (IOMMU mode), suite "bench" (tools/guest/tests/bench.sh):
#      ROUNDS rounds, each running vpa_bench on edu and ivshmem bound to
#      vfio-pci and then to vfio-pci-alias, or the other way round in even
#      rounds;
#   4. a header line (date, host, QEMU, rounds, calls) and a Markdown table
#      (tools/bench_table.py) on stdout: per op, each driver's median time
#      over the rounds and the per-round ratio vfio-pci-alias / vfio-pci
#      (median, min-max).
#
# Environment: KDIR, VARIANT (debug|kasan), ROUNDS (default 9), CALLS
# (vpa_bench --calls, default 10000; fewer give noisier ratios), VPA_OUT
# (default out/ in the repository): the console log in bench.log, its
# VPA-BENCH lines in bench.raw, qemu.sh's results in bench.results, build
# logs.
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
ROUNDS=${ROUNDS:-9}
CALLS=${CALLS:-10000}
case $ROUNDS$CALLS in ''|*[!0-9]*) die "ROUNDS=$ROUNDS and CALLS=$CALLS must be numbers" ;; esac
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# build LOG COMMAND...: a quiet build step; its output in $OUT/LOG.
build() {
	local log=$OUT/$1
	shift
	"$@" >"$log" 2>&1 || { tail -n 30 "$log" >&2; die "failed: $* (see $log)"; }
}

# Our guest programs into their own directory under OUT, not the cache's
# guest-bin/ that `make check` fills; the uapi headers come from the cache
# (tools/selftests.sh installs them, as for make check and make demo).
guest_programs() {
	local bin=$OUT/bench-bin hdr
	hdr=$CACHE/headers/$(cat "$CACHE/src/linux-source-7.3.version")/include
	[ -d "$hdr" ] || bash "$here/selftests.sh" "$CACHE/guest-bin/upstream"
	[ -d "$hdr" ] || die "no uapi headers in $hdr"
	rm -rf "$bin"
	mkdir -p "$bin"
	make -C "$repo/tools/testing/vfio_pci_alias" KSRC="$KSRC" \
		KHDR_INCLUDES="-isystem $hdr" OUTPUT="$bin"
}

# The commit the module was built from, "+changes" if its sources differ.
module_rev() {
	local rev
	rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null) || { echo '?'; return; }
	[ -z "$(git -C "$repo" status --porcelain -- rust include Kbuild)" ] || rev+="+changes"
	echo "$rev"
}

header() {
	local cpu qemu
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
	qemu=$(qemu-system-x86_64 --version | sed -n 's/^QEMU emulator version \([^ ]*\).*/\1/p')
	echo "vfio-pci-alias bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m)," \
		"host CPU ${cpu:-unknown} ($(nproc) threads), QEMU ${qemu:-?} (TCG)," \
		"kernel $(cat "$KDIR/include/config/kernel.release") ($VARIANT)," \
		"module $(module_rev)," \
		"$ROUNDS rounds, $CALLS calls"
}

main() {
	local start=$SECONDS rc=0
	if [ -z "${KDIR:-}" ]; then
		bash "$here/setup.sh"
		bash "$here/kernel.sh" >/dev/null
		KDIR=$(bash "$here/kernel.sh" --print-dir)
	fi
	KSRC=$(cd "$KDIR/source" && pwd)
	export KDIR KSRC
	log "kernel $KDIR; building the module and vpa_bench"
	build bench-build.log make -C "$repo" KDIR="$KDIR" modules
	build bench-guest-programs.log guest_programs
	build bench-initramfs.log env VPA_GUEST_BIN="$OUT/bench-bin" \
		bash "$here/initramfs.sh" "$KDIR" "$OUT/initramfs-bench.cpio.gz"

	log "running $ROUNDS rounds of $CALLS calls in QEMU (log $OUT/bench.log)"
	bash "$here/qemu.sh" --kernel "$KDIR/arch/x86/boot/bzImage" \
		--initrd "$OUT/initramfs-bench.cpio.gz" --suite bench --mode iommu \
		--log "$OUT/bench.log" --timeout 1800 \
		--append "vpa.rounds=$ROUNDS vpa.calls=$CALLS" >"$OUT/bench.results" || rc=$?
	tr -d '\r' <"$OUT/bench.log" | grep -a '^VPA-BENCH: ' >"$OUT/bench.raw" || true
	# Whatever failed, with vpa_bench's own complaints.
	tr -d '\r' <"$OUT/bench.log" | grep -a '^FAIL: ' >&2 || true
	grep -v '^ok - ' "$OUT/bench.results" | sed 's/^/# /' >&2 || true

	header
	echo
	python3 "$here/bench_table.py" "$OUT/bench.raw" || rc=1
	log "total $(( SECONDS - start ))s"
	grep -qx 'ok - bench' "$OUT/bench.results" || { log "the guest did not report ok - bench"; rc=1; }
	[ "$rc" = 0 ] || log "FAILED: see $OUT/bench.log and $OUT/bench.results"
	return "$rc"
}

main "$@"
