// SPDX-License-Identifier: GPL-2.0

//! DMABUFs of a device's BARs: the ranges core validates and resolves, the
//! page mapping their VMAs share with the device file, and their faults.
//!
//! C header: [`include/linux/vfio_pci_core.h`](srctree/include/linux/vfio_pci_core.h)
//!
//! Why here: the DMABUF exporter of 7.3's core is private to it (its list,
//! its revoke, its `dma_buf_ops`, without mmap); a variant driver that
//! exports its own needs core's range resolution and the device's inode.

use super::{CoreDevice, Device, DeviceRef, Driver};
use crate::staging::{
    bindings,
    dma_buf::{Exported, Exporter, NewDmaBuf, PhysRanges},
    mm::pfnmap::{Fault, VmFault, VM_FAULT_FALLBACK, VM_FAULT_SIGBUS},
    uapi::DmaRange,
};
use kernel::{
    error::to_result,
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
};

impl CoreDevice {
    /// The physical ranges of `ranges` of `bar`, as core's
    /// `vfio_pci_core_get_dmabuf_phys()` resolves them: `EINVAL` for a range
    /// that is empty or past the BAR's end, `EOVERFLOW` where an address
    /// overflows, `EINVAL` if the BAR has no P2P provider. The caller has
    /// checked `bar` and that `ranges` is not empty.
    pub(crate) fn dmabuf_phys(&self, bar: usize, ranges: &mut [DmaRange]) -> Result<PhysRanges> {
        if ranges.is_empty() || bar >= super::NUM_BARS {
            return Err(EINVAL);
        }
        let mut vec = KVec::with_capacity(ranges.len(), GFP_KERNEL)?;
        for _ in 0..ranges.len() {
            vec.push(bindings::phys_vec::default(), GFP_KERNEL)?;
        }
        let mut provider = core::ptr::null_mut();
        // SAFETY: The device is live; `vec` and `ranges` have `ranges.len()`
        // elements of the C layouts (`DmaRange` is `vfio_region_dma_range`,
        // asserted in `uapi`).
        to_result(unsafe {
            bindings::vfio_pci_core_get_dmabuf_phys(
                self.as_raw(),
                &mut provider,
                bar as u32,
                vec.as_mut_ptr(),
                ranges.as_mut_ptr().cast(),
                ranges.len(),
            )
        })?;
        // SAFETY: Core returned the BAR's provider (devres-managed: valid
        // while the driver is bound) and filled every range of the BAR.
        Ok(unsafe { PhysRanges::new(provider, vec) })
    }

    /// Inserts the `1 << order` pages at page `page` of range `range` of
    /// `phys` for the fault `vmf` with `vfio_pci_vmf_insert_pfn()` under
    /// `memory_lock`, as [`Self::insert_bar_pfn`] does for a BAR: pages not
    /// all in the range get `VM_FAULT_SIGBUS` (`VM_FAULT_FALLBACK` for a huge
    /// fault), and a PFN range not aligned to its order `VM_FAULT_FALLBACK`.
    /// `refuse` runs first, under the lock.
    pub(crate) fn insert_range_pfn(
        &self,
        vmf: &Fault,
        phys: &PhysRanges,
        range: usize,
        page: u64,
        order: u32,
        refuse: impl FnOnce() -> Option<VmFault>,
    ) -> VmFault {
        let Some((paddr, len)) = phys.iter().nth(range) else {
            return VM_FAULT_SIGBUS;
        };
        let pages = len / PAGE_SIZE as u64;
        if page.checked_add(1 << order).is_none_or(|end| end > pages) {
            return if order > 0 {
                VM_FAULT_FALLBACK
            } else {
                VM_FAULT_SIGBUS
            };
        }
        self.insert_pfn((paddr >> PAGE_SHIFT) + page, order, vmf, refuse)
    }
}

/// Exporter data that holds a reference on the device it exports from.
pub(crate) trait DeviceBuf<T: Driver> {
    /// The device, held for as long as the data lives.
    fn device(&self) -> &DeviceRef<T>;
}

impl<T: Driver> Device<T> {
    /// Makes `buf`'s file share the page mapping of the device's file. A
    /// VMA of the DMABUF keeps the offset mmap() was given, a page of the
    /// DMABUF: in the device file's mapping that is an offset of its first
    /// BAR regions, so core's zaps of all BARs (reset, memory decoding off,
    /// low power, hot reset) reach it, and the driver's own zaps reach it
    /// with [`MemoryLocked::zap_offsets`](super::MemoryLocked::zap_offsets).
    pub(crate) fn share_mapping<E: Exporter + DeviceBuf<T>>(buf: &NewDmaBuf<E>) {
        let exported: &Exported<E> = buf.buf();
        let dev = exported.device();
        // SAFETY: `inode` is set at registration and lives until the device
        // is freed, which the data's device reference prevents for as long
        // as the DMABUF (so any of its VMAs, which hold its file) exists.
        unsafe {
            let mapping = (*(*dev.core().vfio()).inode).i_mapping;
            buf.share_mapping(mapping);
        }
    }
}
