// SPDX-License-Identifier: GPL-2.0

//! The drop-in build of vfio-pci-alias: module `vfio_pci`, PCI driver
//! `vfio-pci`, so that programs which only accept a device bound to a driver
//! of that name (DPDK, SPDK, dpdk-devbind.py, driverctl) use it unmodified.
//! It is vfio-pci, with the same parameters and denylist, plus everything of
//! vfio-pci-alias. The crate is in `crate_common.rs`.

include!("crate_common.rs");

/// The PCI driver's and the vfio device ops' name.
const DRIVER_NAME: &CStr = c"vfio-pci";

module! {
    type: VfioPciModule,
    name: "vfio_pci",
    authors: ["vfio-pci-alias developers"],
    description: "VFIO PCI - User Level meta-driver (vfio-pci-alias drop-in build)",
    license: "GPL",
}
