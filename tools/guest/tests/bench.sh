#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark of make bench (tools/bench.sh): tools/testing/vfio_pci_alias/
# vpa_bench on edu and ivshmem bound to the kernel's vfio-pci and to
# vfio-pci-alias, in rounds, the two drivers taking turns in the same boot:
# odd rounds run vfio-pci first, even rounds vfio-pci-alias first. Each run
# prints its "VPA-BENCH: round=N driver=NAME op=OP ns=..." lines to the
# console, where tools/bench_table.py finds them.
#
# Kernel command line: vpa.rounds=N (default 5), vpa.calls=N (default 4000,
# vpa_bench's --calls).
#
# Exit status 0 if every run of vpa_bench passed.

. /vpa/lib.sh

# run_one DRIVER ROUND CALLS: bind both devices, run vpa_bench, release them.
run_one() {
	local drv=$1 round=$2 calls=$3 rc=0 bdf
	for bdf in $EDU_BDF $IVSHMEM_BDF; do
		bind_to "$bdf" "$drv" || rc=1
	done
	if [ $rc = 0 ]; then
		VPA_EDU_BDF=$EDU_BDF VPA_IVSHMEM_BDF=$IVSHMEM_BDF \
			"$VPA_DIR/bin/vpa_bench" --driver "$drv" --round "$round" \
			--calls "$calls" 2>&1 || { fail "vpa_bench on $drv, round $round"; rc=1; }
	fi
	for bdf in $EDU_BDF $IVSHMEM_BDF; do
		release "$bdf" || rc=1
	done
	return $rc
}

main() {
	local rounds calls round drv order rc=0
	rounds=$(cmdline rounds 5)
	calls=$(cmdline calls 4000)
	case $rounds$calls in *[!0-9]*) fail "vpa.rounds=$rounds vpa.calls=$calls"; return 1 ;; esac
	load_vfio_stack "$VPA_MODE" && load_alias || return 1
	info "bench: $rounds rounds of $calls calls, mode $VPA_MODE"
	round=1
	while [ "$round" -le "$rounds" ]; do
		if [ $((round % 2)) = 1 ]; then order="vfio-pci $ALIAS_DRIVER"
		else order="$ALIAS_DRIVER vfio-pci"; fi
		for drv in $order; do
			run_one "$drv" "$round" "$calls" || rc=1
		done
		round=$((round + 1))
	done
	unload_alias || rc=1
	return $rc
}

main
