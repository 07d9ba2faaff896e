// SPDX-License-Identifier: GPL-2.0

//! vfio-pci-alias: a vfio-pci variant driver that lets userspace create
//! aliases of a device's regions with extra mapping attributes.
//!
//! The crate is split in two: thin safe abstractions over the C side
//! ([`bindings`], [`vfio`], [`pci_driver`], [`vma`], [`region_table`],
//! [`uapi`]) and the driver logic in
//! [`driver`], which uses only those abstractions.

mod bindings;
mod driver;
mod pci_driver;
mod region_table;
mod uapi;
mod vfio;
mod vma;

use kernel::prelude::*;

module! {
    type: VfioPciAliasModule,
    name: "vfio_pci_alias",
    authors: ["vfio-pci-alias developers"],
    description: "vfio-pci variant driver with write-combining region aliases",
    license: "GPL",
}

/// The module: owns the registration of the `vfio-pci-alias` PCI driver.
#[pin_data]
struct VfioPciAliasModule {
    #[pin]
    driver: pci_driver::Registration<driver::AliasDevice>,
}

impl kernel::InPlaceModule for VfioPciAliasModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        pr_info!("loading\n");
        try_pin_init!(Self {
            driver <- pci_driver::Registration::new(module),
        })
    }
}
