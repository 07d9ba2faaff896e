// SPDX-License-Identifier: GPL-2.0

//! The vfio-pci-alias driver logic, on top of the abstractions in [`vfio`].

use crate::vfio;
use kernel::prelude::*;

/// Per-device state of a device bound to vfio-pci-alias.
#[pin_data]
pub(crate) struct AliasDevice {}

#[vtable]
impl vfio::Driver for AliasDevice {
    const NAME: &'static CStr = c"vfio-pci-alias";

    fn new(_core: &vfio::CoreDevice) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {})
    }
}
