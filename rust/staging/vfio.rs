// SPDX-License-Identifier: GPL-2.0

//! Safe abstractions for a vfio-pci variant driver built on `vfio_pci_core`.
//!
//! C headers: [`include/linux/vfio.h`](srctree/include/linux/vfio.h),
//! [`include/linux/vfio_pci_core.h`](srctree/include/linux/vfio_pci_core.h).
//!
//! A variant driver implements [`Driver`] for its per-device state. The state
//! is embedded in the allocation of the `struct vfio_pci_core_device`, as
//! `vfio_alloc_device()` does for C variant drivers, and reached through
//! [`Device`]. Every `vfio_device_ops` entry of vfio-pci exists; those the
//! driver does not implement go straight to the `vfio_pci_core` function, so
//! behaviour equals vfio-pci's unless a method overrides it.
//!
//! Layout: [`core_device`] wraps `vfio_pci_core`'s device and its entry
//! points, [`pci_bars`] what it says about its regions, [`bar_maps`] the
//! hand-over of BAR kernel mappings between core and the driver, [`bar_io`]
//! read/write through the driver's mappings, [`memory_lock`] core's lock of
//! BAR faults, [`info`] the uAPI values a driver fills in, [`driver`] the
//! trait and the `vfio_device_ops` glue, [`mmap`] the VMAs of a device's
//! file, [`device_ref`] a counted reference on a device, [`dma_buf`]
//! DMABUFs of its BARs, [`registration`] probe and remove.

mod bar_io;
mod bar_maps;
mod core_device;
mod device_ref;
mod dma_buf;
mod driver;
mod info;
mod memory_lock;
mod mmap;
mod pci_bars;
mod registration;

pub(crate) use bar_maps::{BarMaps, BarRead, BarWrite};
pub(crate) use core_device::CoreDevice;
pub(crate) use device_ref::DeviceRef;
pub(crate) use dma_buf::DeviceBuf;
pub(crate) use driver::{Device, Driver, Ops};
pub(crate) use info::{InfoCaps, RegionInfo};
pub(crate) use memory_lock::MemoryLocked;
pub(crate) use mmap::Mmap;
pub(crate) use pci_bars::MsixTable;
pub(crate) use registration::Registration;

use crate::staging::bindings;

/// Number of standard BARs, and the first region index after them.
pub(crate) const NUM_BARS: usize = bindings::PCI_STD_NUM_BARS as usize;
/// Number of fixed vfio-pci regions (BARs, ROM, config, VGA).
pub(crate) const NUM_REGIONS: u32 = bindings::VFIO_PCI_NUM_REGIONS;
/// Region offsets: `index << OFFSET_SHIFT | offset within the region`.
pub(crate) const OFFSET_SHIFT: u32 = bindings::VFIO_PCI_OFFSET_SHIFT;

/// Whether this platform maps BARs write-combining the way this crate's
/// design needs (x86 with PAT; see Documentation/vfio-pci-alias.rst).
pub(crate) fn wc_supported() -> bool {
    // SAFETY: A query without requirements.
    unsafe { bindings::vpa_wc_supported() }
}

/// Orders writes made through a write-combining mapping before anything
/// that follows (`wmb()`: `sfence` on x86).
pub(crate) fn wmb() {
    kernel::sync::barrier::mb(kernel::sync::barrier::Write);
}

/// Returns the file offset of region `index`.
pub(crate) const fn index_to_offset(index: u32) -> u64 {
    (index as u64) << OFFSET_SHIFT
}

/// Returns the region index a file offset falls in.
pub(crate) const fn offset_to_index(offset: u64) -> u64 {
    offset >> OFFSET_SHIFT
}

/// Returns the offset within its region of a file offset.
pub(crate) const fn offset_in_region(offset: u64) -> u64 {
    offset & ((1u64 << OFFSET_SHIFT) - 1)
}
