// SPDX-License-Identifier: GPL-2.0

//! Where a region index of a device points.
//!
//! Indices count as vfio-pci's: the fixed regions (BARs, ROM, config, VGA),
//! then the device regions core registered at open, then the aliases of
//! this open, in the order SET returned them.

use super::Device;
use crate::staging::vfio;

/// Where a region index points.
pub(super) enum Region {
    /// A BAR: core or we serve it, and we keep its memory type.
    Bar(usize),
    /// One of our aliases, at this position of the table.
    Alias(usize),
    /// Anything else core serves (ROM, config, VGA, device regions).
    Core,
}

/// Index of the first alias: after the fixed regions and those core
/// registered for the device at open.
pub(super) fn alias_base(dev: &Device) -> u32 {
    vfio::NUM_REGIONS + dev.core().dev_regions()
}

/// Where region `index` of `dev` points.
#[inline]
pub(super) fn classify(dev: &Device, index: u64) -> Region {
    let base = u64::from(alias_base(dev));
    if index < vfio::NUM_BARS as u64 {
        Region::Bar(index as usize)
    } else if index >= base && index - base < dev.aliases.len() as u64 {
        Region::Alias((index - base) as usize)
    } else {
        Region::Core
    }
}
