// SPDX-License-Identifier: GPL-2.0

//! vfio-pci-alias: a vfio-pci variant driver that lets userspace create
//! aliases of a device's regions with extra mapping attributes, and makes
//! chosen BARs write-combining by policy.
//!
//! This root builds `vfio_pci_alias.ko`, PCI driver `vfio-pci-alias`; the
//! crate is in `crate_common.rs`.

include!("crate_common.rs");

/// The PCI driver's and the vfio device ops' name.
const DRIVER_NAME: &CStr = c"vfio-pci-alias";

module! {
    type: VfioPciModule,
    name: "vfio_pci_alias",
    authors: ["vfio-pci-alias developers"],
    description: "vfio-pci variant driver with write-combining region aliases",
    license: "GPL",
}
