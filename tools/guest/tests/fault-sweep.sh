#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# tools/testing/vfio_pci_alias/fault_sweep.c on edu, igb and ivshmem bound
# to vfio-pci-alias: every operation a user can reach (first open with a
# wc_bars policy, ALIAS SET, mmap and first fault of a WC alias, of a window
# and of an uncached mapping next to one, munmap of one of two windows,
# pread/pwrite of a windowed BAR, the wc_bars store, bind, a VF's probe,
# sriov_numvfs, the drop-in's init_module with wc= and ids=), with its 1st,
# 2nd, ... allocation failed through fail-nth, and each call of the
# driver's mapping wrappers failed through fail_function. One sub-result
# per sweep ("fault_sweep/fault.nth_open"...); the "SWEEP" lines give the
# injection points each reached.
#
# As run-harness.sh, but the program's output goes to the console as it
# comes: a sweep that brings the kernel down still shows how far it got.

. /vpa/lib.sh

main() {
	local rc=0 out=/tmp/fault_sweep.out
	bind_all_alias || return 1
	{
		VPA_DROPIN_KO=$DROPIN_MODULE "$VPA_DIR/bin/fault_sweep" $TEST_BDFS 2>&1
		echo $? >/tmp/fault_sweep.rc
	} | tee "$out"
	[ "$(cat /tmp/fault_sweep.rc)" = 0 ] || rc=1
	harness_results fault_sweep "$out" || rc=1
	release_all_alias || rc=1
	return $rc
}

main
