#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The benchmark of make bench (tools/bench.sh): tools/testing/vfio_pci_alias/
# vpa_bench on two pairs of edu and ivshmem (tools/qemu.sh --twins), one
# pair bound to the kernel's vfio-pci and the other to vfio-pci-alias, both
# held by one vpa_bench process that alternates between them per batch. Odd
# runs bind the first pair (04.0, 06.0) to vfio-pci, even runs the second
# (07.0, 08.0), so that neither slot stays with one driver. Each run prints
# its "VPA-BENCH: round=N driver=NAME op=OP ns=..." lines to the console,
# where tools/bench_table.py finds them.
#
# Kernel command line: vpa.rounds=N runs (default 2), vpa.batches=N per run
# (default 120), vpa.calls=N per batch (default 1250), vpa.aa=1 for an A/A
# calibration run (both pairs on vfio-pci).
#
# Exit status 0 if every run of vpa_bench passed.

. /vpa/lib.sh

# The twins tools/qemu.sh --twins adds.
EDU2_BDF=0000:00:07.0
IVSHMEM2_BDF=0000:00:08.0

# run_one RUN DRIVER1 DRIVER2 BATCHES CALLS: the first pair bound to
# DRIVER1, the second to DRIVER2, vpa_bench, all released.
run_one() {
	local run=$1 drv1=$2 drv2=$3 batches=$4 calls=$5 rc=0 bdf
	for bdf in $EDU_BDF $IVSHMEM_BDF; do
		bind_to "$bdf" "$drv1" || rc=1
	done
	for bdf in $EDU2_BDF $IVSHMEM2_BDF; do
		bind_to "$bdf" "$drv2" || rc=1
	done
	if [ $rc = 0 ]; then
		"$VPA_DIR/bin/vpa_bench" --run "$run" --batches "$batches" --calls "$calls" \
			"$EDU_BDF,$IVSHMEM_BDF" "$EDU2_BDF,$IVSHMEM2_BDF" 2>&1 ||
			{ fail "vpa_bench, run $run ($drv1 / $drv2)"; rc=1; }
	fi
	for bdf in $EDU_BDF $IVSHMEM_BDF $EDU2_BDF $IVSHMEM2_BDF; do
		release "$bdf" || rc=1
	done
	return $rc
}

main() {
	local rounds batches calls aa run test rc=0
	rounds=$(cmdline rounds 2)
	batches=$(cmdline batches 120)
	calls=$(cmdline calls 1250)
	aa=$(cmdline aa 0)
	case $rounds$batches$calls$aa in
	*[!0-9]*) fail "vpa.rounds=$rounds vpa.batches=$batches vpa.calls=$calls vpa.aa=$aa"; return 1 ;;
	esac
	for bdf in $EDU2_BDF $IVSHMEM2_BDF; do
		[ -e "$PCI/devices/$bdf" ] || { fail "no twin $bdf: boot with tools/qemu.sh --twins"; return 1; }
	done
	load_vfio_stack "$VPA_MODE" && load_alias || return 1
	test=$ALIAS_DRIVER
	[ "$aa" = 0 ] || test=vfio-pci
	info "bench: $rounds runs of $batches batches of $calls calls, vfio-pci / $test, mode $VPA_MODE"
	run=1
	while [ "$run" -le "$rounds" ]; do
		if [ $((run % 2)) = 1 ]; then
			run_one "$run" vfio-pci "$test" "$batches" "$calls" || rc=1
		else
			run_one "$run" "$test" vfio-pci "$batches" "$calls" || rc=1
		fi
		run=$((run + 1))
	done
	unload_alias || rc=1
	return $rc
}

main
