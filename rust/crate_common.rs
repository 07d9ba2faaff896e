// SPDX-License-Identifier: GPL-2.0

// The modules and the module type of the crate, shared by its two roots
// (rust/vfio_pci_alias.rs, rust/vfio_pci.rs) through `include!`: each root
// adds its `module!` and the driver name, nothing else differs.
//
// Thin safe abstractions over the C side ([`bindings`], [`vfio`], [`gate`], [`iomap`],
// [`pci_driver`], [`sysfs`], [`vma`], [`region_table`], [`uapi`]), and the
// driver policy in [`driver`], which uses only those abstractions.

mod bindings;
mod driver;
mod gate;
mod iomap;
mod pci_driver;
mod region_table;
mod sysfs;
mod uapi;
mod vfio;
mod vma;

use kernel::prelude::*;

/// The module: owns the registration of the PCI driver.
#[pin_data]
struct VfioPciModule {
    #[pin]
    driver: pci_driver::Registration<driver::AliasDevice>,
}

impl kernel::InPlaceModule for VfioPciModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        pin_init::pin_init_scope(move || {
            // A bad `wc` parameter refuses the load, with a message.
            driver::policy::module_default()?;
            if driver::denylist::disabled() {
                pr_warn!("device denylist disabled.\n");
            }
            Ok(try_pin_init!(Self {
                driver <- pci_driver::Registration::new(
                    module,
                    <Self as kernel::ModuleMetadata>::NAME,
                ),
            }))
        })
    }
}
