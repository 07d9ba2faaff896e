// SPDX-License-Identifier: GPL-2.0

//! What a core device's PCI function and `vfio_pci_core` say about its
//! regions: BAR sizes and types, what core lets userspace mmap(), where the
//! MSI-X table is.
//!
//! C header: [`include/linux/pci.h`](srctree/include/linux/pci.h)
//!
//! The PCI function is reached as the kernel crate's [`pci::Device`], whose
//! resource and config-space accessors this uses. Hand-written only what 7.3's
//! `pci::Device` lacks: resource flags, and the MSI-X capability's offset.

use super::{CoreDevice, NUM_BARS};
use crate::staging::bindings;
use kernel::{device::Bound, io::Io, page::PAGE_SIZE, pci};

/// Where a device's MSI-X table is ([`CoreDevice::msix_table`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum MsixTable {
    /// The device has no MSI-X capability.
    None,
    /// In this BAR.
    Bar(usize),
    /// The device did not answer: any BAR may hold it.
    Unknown,
}

/// `PCI_MSIX_TABLE`: offset of the table's BIR and offset in the capability.
const MSIX_TABLE: usize = 4;
/// `PCI_MSIX_TABLE_BIR`.
const MSIX_TABLE_BIR: u32 = 0x7;

impl CoreDevice {
    pub(super) fn pdev(&self) -> *mut bindings::pci_dev {
        // SAFETY: Valid by the type invariant; `pdev` is set at init.
        unsafe { (*self.as_raw()).pdev }
    }

    /// The PCI function of the core device.
    pub(crate) fn pci(&self) -> &pci::Device<Bound> {
        // SAFETY: `pdev` is valid and outlives the core device, which holds a
        // reference on it; the function is bound to the variant driver for as
        // long as the core device exists (probe to remove). `pci::Device` is
        // a transparent wrapper of `struct pci_dev`.
        unsafe { &*self.pdev().cast::<pci::Device<Bound>>() }
    }

    /// Number of device-specific regions core registered at open, which come
    /// after the fixed ones.
    pub(crate) fn dev_regions(&self) -> u32 {
        // SAFETY: Valid by the type invariant; only changes during open.
        unsafe { (*self.as_raw()).num_regions as u32 }
    }

    /// Whether core lets userspace mmap() `bar`.
    pub(crate) fn bar_mmap_supported(&self, bar: usize) -> bool {
        // SAFETY: Valid by the type invariant; set at open.
        bar < NUM_BARS && unsafe { (*self.as_raw()).bar_mmap_supported[bar] }
    }

    /// `pci_resource_len()` of `bar`; 0 for a BAR out of range.
    pub(crate) fn bar_len(&self, bar: usize) -> u64 {
        self.pci().resource_len(bar as u32).unwrap_or(0)
    }

    /// `pci_resource_start()` of `bar`; 0 for a BAR out of range.
    pub(crate) fn bar_start(&self, bar: usize) -> u64 {
        self.pci().resource_start(bar as u32).unwrap_or(0)
    }

    /// `pci_resource_flags()` of `bar` (`IORESOURCE_*`).
    fn bar_flags(&self, bar: usize) -> u64 {
        if bar >= NUM_BARS {
            return 0;
        }
        // SAFETY: `pdev()` is valid; `bar` is a standard BAR.
        unsafe { bindings::vpa_bar_flags(self.pdev(), bar as i32) as u64 }
    }

    /// Whether `bar` is a prefetchable memory BAR.
    pub(crate) fn bar_prefetchable(&self, bar: usize) -> bool {
        self.bar_flags(bar) & u64::from(bindings::IORESOURCE_PREFETCH) != 0
    }

    /// Whether `bar` is a memory BAR that `vfio_pci_core_enable()` will let
    /// userspace mmap(): a non-empty memory resource, at least a page long
    /// or starting on a page boundary.
    pub(crate) fn bar_mmap_capable(&self, bar: usize) -> bool {
        if self.bar_flags(bar) & u64::from(bindings::IORESOURCE_MEM) == 0 {
            return false;
        }
        let (start, len) = (self.bar_start(bar), self.bar_len(bar));
        let page = PAGE_SIZE as u64;
        len != 0 && (len >= page || start % page == 0)
    }

    /// Where the MSI-X table is, read from config space. Read it once, while
    /// the device answers (at probe), and keep the answer: a device the user
    /// put in D3cold reads as all ones.
    pub(crate) fn msix_table(&self) -> MsixTable {
        // SAFETY: `pdev()` is valid; `msix_cap` is set at enumeration.
        let cap = usize::from(unsafe { (*self.pdev()).msix_cap });
        if cap == 0 {
            return MsixTable::None;
        }
        match self.pci().config_space().try_read32(cap + MSIX_TABLE) {
            Ok(table) if table != u32::MAX => MsixTable::Bar((table & MSIX_TABLE_BIR) as usize),
            _ => MsixTable::Unknown,
        }
    }

    /// The BAR holding the MSI-X table, if the device has MSI-X.
    pub(crate) fn msix_bar(&self) -> Option<usize> {
        // SAFETY: Valid by the type invariant; set at open.
        let bar = unsafe { (*self.as_raw()).msix_bar } as usize;
        (bar < NUM_BARS).then_some(bar)
    }
}
