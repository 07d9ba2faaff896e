// SPDX-License-Identifier: GPL-2.0

// The modules and the module type of the crate, shared by its two roots
// (rust/vfio_pci_alias.rs, rust/vfio_pci.rs) through `include!`: each root
// adds its `module!` and the driver name, nothing else differs.
//
// The safe abstractions over the C side are in [`staging`] (every `unsafe`
// of the crate); the driver's policy, in [`driver`], uses only them.

mod driver;
mod staging;

use kernel::prelude::*;

/// The module: owns the registration of the PCI driver.
#[pin_data]
struct VfioPciModule {
    #[pin]
    driver: staging::pci::driver::Registration<driver::AliasDevice>,
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
                driver <- staging::pci::driver::Registration::new(
                    module,
                    <Self as kernel::ModuleMetadata>::NAME,
                ),
            }))
        })
    }
}
