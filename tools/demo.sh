#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: from nothing to the driver at work. Sets up the toolchain and
# QEMU, builds (or reuses) the test kernel and the module, boots QEMU with
# QEMU's edu device, binds it to vfio-pci-alias through driver_override and
# runs samples/vfio_pci_alias/alias_wc on it, then shows the WC page-table
# entry of the alias next to the BAR's uncached one.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
. "$here/lib.sh"

out=${VPA_OUT:-$repo/out}
mkdir -p "$out/demo-bin"
if [ -z "${KDIR:-}" ]; then
	bash "$here/setup.sh"
	bash "$here/kernel.sh" >/dev/null
	KDIR=$(bash "$here/kernel.sh" --print-dir)
fi
KSRC=$(cd "$KDIR/source" && pwd)
make -C "$repo" KDIR="$KDIR" modules >"$out/demo-build.log" 2>&1 ||
	{ tail -n 30 "$out/demo-build.log"; die "module build failed"; }
bash "$here/selftests.sh" "$CACHE/guest-bin/upstream" >/dev/null 2>&1 || true
hdr=$CACHE/headers/$(cat "$CACHE/src/linux-source-7.3.version")/include
[ -d "$hdr" ] || die "no uapi headers in $hdr (tools/selftests.sh installs them)"
make -s -C "$repo/samples/vfio_pci_alias" KHDR="$hdr" OUT="$out/demo-bin"
make -s -C "$repo/tools/testing/vfio_pci_alias" KSRC="$KSRC" \
	KHDR_INCLUDES="-isystem $hdr" OUTPUT="$out/demo-bin"
VPA_GUEST_BIN=$out/demo-bin bash "$here/initramfs.sh" "$KDIR" "$out/demo.cpio.gz"

rc=0
bash "$here/qemu.sh" --kernel "$KDIR/arch/x86/boot/bzImage" --initrd "$out/demo.cpio.gz" \
	--suite demo --mode iommu --log "$out/demo.log" --timeout 300 >"$out/demo.results" || rc=$?
echo
tr -d '\r' <"$out/demo.log" | sed -n 's/^VPA-DEMO: //p'
echo
cat "$out/demo.results"
exit $rc
