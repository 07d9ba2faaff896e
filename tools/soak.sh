#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make soak`: the KASAN + kmemleak kernel under every kind of churn at once
# for DURATION seconds, in one QEMU boot. Not part of `make check`.
#
#   1. set-up and the cached kasan test kernel, unless KDIR= names a build
#      (which must have KASAN, kmemleak and failslab);
#   2. the module, the guest programs of tools/testing/vfio_pci_alias
#      (alias_stress, window_test, hold_device, soak_churn...) and a test
#      image with them;
#   3. one QEMU boot (IOMMU mode), suite "soak" (tools/guest/tests/soak.sh):
#      in rounds of ROUND seconds, the concurrency tests in loops, churning
#      users (soak_churn: aliases, windows, mappings, SIGBUS, resets and
#      memory toggles, forks) under failslab, SIGKILL of them, remove and
#      rescan and unbind and bind of devices in use, rmmod attempts; between
#      rounds everything killed, vfio_pci_alias unloaded and loaded again;
#   4. a header line (date, host, QEMU, kernel, module, duration), the counts
#      of what was done, and qemu.sh's results: the soak's own checks, the
#      dmesg scan (no splat) and kmemleak (no leak).
#
# Environment: DURATION (seconds, default 3600), ROUND (seconds per round,
# default 150), STRESS (alias_stress's VPA_STRESS_SECONDS, default 5),
# FAILSLAB (failslab probability in percent, default 1), FAILSLAB_GROUP
# (1: also fail soak_churn's container and group setup and release, see
# below; default 0), SOAK_MARGIN
# (seconds QEMU gets beyond DURATION for boot and teardown, default 900),
# SOAK_KERNEL_ARGS (more guest kernel arguments, default "acpi=noirq", see
# below), KDIR, VPA_OUT (default out/ in the repository): the console log in
# soak.log, qemu.sh's results in soak.results, the counts in soak.counts,
# build logs.
#
# Exit status 0 only if every result is ok: the guest reported "ok - soak"
# and qemu.sh found no splat in dmesg and no kmemleak report.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# Always the KASAN + kmemleak kernel.
export VARIANT=kasan
. "$here/lib.sh"

OUT=${VPA_OUT:-$repo/out}
DURATION=${DURATION:-3600}
ROUND=${ROUND:-150}
STRESS=${STRESS:-5}
FAILSLAB=${FAILSLAB:-1}
# Under failslab, the release of a group's DMA ownership can get ENOMEM in
# the IOMMU's attach to the default domain, which must not fail: the IOMMU
# core WARNs (__iommu_group_set_domain_nofail(), from vfio's group release,
# vfio_group_detach_container()). That is not the driver's path: soak_churn
# sets up its group before it turns failslab on and leaves the group's
# last close to a process without it, unless FAILSLAB_GROUP=1.
FAILSLAB_GROUP=${FAILSLAB_GROUP:-0}
MARGIN=${SOAK_MARGIN:-900}
# PCI INTx routing without ACPI's _PRT. Under failslab, ACPICA's reference
# count update of _PRT's package (acpi_ut_update_object_reference) can fail
# half-way with AE_NO_MEMORY ("Could not update object reference count")
# and a later _PRT evaluation then reads a freed Acpi-Operand object (KASAN
# slab-use-after-free in acpi_ns_get_attached_object). vfio-pci's open and
# close evaluate _PRT through pci_enable_device()/pci_disable_device(), so
# every soak would stop on that kernel bug, which is not the driver's.
# SOAK_KERNEL_ARGS= (empty) keeps ACPI IRQ routing, to see it.
KERNEL_ARGS=${SOAK_KERNEL_ARGS-acpi=noirq}
case $DURATION$ROUND$STRESS$FAILSLAB$FAILSLAB_GROUP$MARGIN in
''|*[!0-9]*) die "DURATION, ROUND, STRESS, FAILSLAB, FAILSLAB_GROUP and SOAK_MARGIN must be numbers" ;;
esac
[ "$DURATION" -gt 0 ] && [ "$ROUND" -gt 0 ] || die "DURATION and ROUND must be positive"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# The kernel must be the kind the soak is for.
check_kernel() {
	local opt missing=0
	for opt in CONFIG_KASAN CONFIG_DEBUG_KMEMLEAK CONFIG_FAULT_INJECTION CONFIG_FAILSLAB \
		   CONFIG_FAULT_INJECTION_DEBUG_FS; do
		grep -qx "$opt=y" "$KDIR/.config" || { log "$KDIR: $opt is not set"; missing=1; }
	done
	[ $missing = 0 ] || die "make soak needs the KASAN + kmemleak kernel with failslab"
}

main() {
	local start=$SECONDS rc=0 timeout
	use_test_kernel
	check_kernel
	log "kernel $KDIR; building the module and the guest programs"
	# The guest programs in $OUT/soak-bin, the image initramfs-soak.cpio.gz.
	test_image soak

	# QEMU's bound: the soak, boot and the last teardown, kmemleak's scan and
	# the dmesg dump. /init stops the script well before its watchdog.
	timeout=$((DURATION + MARGIN))
	log "soaking for ${DURATION}s (QEMU timeout ${timeout}s, log $OUT/soak.log)"
	# A big kernel log: an hour of churn must not push a splat out of it.
	boot_image soak "$timeout" \
		"log_buf_len=16M${KERNEL_ARGS:+ $KERNEL_ARGS} vpa.duration=$DURATION vpa.round=$ROUND vpa.stress=$STRESS vpa.failslab=$FAILSLAB vpa.failslab_group=$FAILSLAB_GROUP vpa.timeout=$((timeout - 400))" ||
		rc=$?
	tr -d '\r' <"$OUT/soak.log" | sed -n 's/^VPA-SOAK: //p' >"$OUT/soak.counts" || true

	run_header soak "${DURATION}s in rounds of ${ROUND}s," \
		"failslab ${FAILSLAB}%$([ "$FAILSLAB_GROUP" = 0 ] || echo ' with groups')${KERNEL_ARGS:+, $KERNEL_ARGS}"
	echo
	sed 's/^/  /' "$OUT/soak.counts"
	echo
	# What failed, with the soak's own complaints.
	tr -d '\r' <"$OUT/soak.log" | grep -a '^FAIL: ' >&2 || true
	cat "$OUT/soak.results"
	log "total $(( SECONDS - start ))s"
	grep -qx 'ok - soak' "$OUT/soak.results" || { log "the guest did not report ok - soak"; rc=1; }
	if [ "$rc" = 0 ]; then
		echo "soak: PASS"
	else
		echo "soak: FAIL (see $OUT/soak.log and $OUT/soak.results)"
	fi
	return "$rc"
}

main "$@"
