// SPDX-License-Identifier: GPL-2.0

//! Core's `memory_lock`: faults of BAR mappings take it for reading, and
//! whatever changes what a fault may map takes it for writing.
//!
//! C header: [`include/linux/vfio_pci_core.h`](srctree/include/linux/vfio_pci_core.h)
//!
//! Why here: the lock is a field of core's device, and 7.3's kernel crate
//! has no `rw_semaphore` type to wrap one that C owns.

use super::{index_to_offset, CoreDevice};
use crate::staging::{
    bindings,
    mm::pfnmap::{Fault, VmFault, VM_FAULT_FALLBACK, VM_FAULT_SIGBUS},
};
use core::ptr;
use kernel::{
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
};

impl CoreDevice {
    /// Inserts the `1 << order` pages at page `page` of `bar` for the fault
    /// `vmf` with `vfio_pci_vmf_insert_pfn()` under `memory_lock`, which
    /// fails with SIGBUS while the device's memory decoding is off or it is
    /// in low power. Pages not all within the BAR (rounded up to a page) get
    /// `VM_FAULT_SIGBUS` (`VM_FAULT_FALLBACK` for a huge fault), and a huge
    /// fault whose PFN range is not aligned to its order `VM_FAULT_FALLBACK`,
    /// as core's `is_aligned_for_order()` gives it.
    ///
    /// `refuse` runs first, under the same lock: a `vm_fault_t` it returns
    /// is returned instead. It sees what [`Self::with_memory_locked`] changed
    /// as a whole, never half of it.
    #[inline]
    pub(crate) fn insert_bar_pfn(
        &self,
        vmf: &Fault,
        bar: usize,
        page: u64,
        order: u32,
        refuse: impl FnOnce() -> Option<VmFault>,
    ) -> VmFault {
        let pages = self.bar_len(bar).div_ceil(PAGE_SIZE as u64);
        if page.checked_add(1 << order).is_none_or(|end| end > pages) {
            return if order > 0 {
                VM_FAULT_FALLBACK
            } else {
                VM_FAULT_SIGBUS
            };
        }
        let pfn = (self.bar_start(bar) >> PAGE_SHIFT) + page;
        self.insert_pfn(pfn, order, vmf, refuse)
    }

    /// Inserts `1 << order` pages of device memory at `pfn` for `vmf` under
    /// `memory_lock`, after `refuse`; `VM_FAULT_FALLBACK` if `pfn` is not
    /// aligned to the order. The callers made `pfn` from a BAR's resource.
    #[inline]
    pub(super) fn insert_pfn(
        &self,
        pfn: u64,
        order: u32,
        vmf: &Fault,
        refuse: impl FnOnce() -> Option<VmFault>,
    ) -> VmFault {
        if pfn & ((1 << order) - 1) != 0 {
            return VM_FAULT_FALLBACK;
        }
        let _locked = self.memory_read_lock();
        refuse().unwrap_or_else(|| {
            // SAFETY: `memory_lock` is held for read, as required; `vmf` is
            // the fault being handled; `pfn` is device memory of the BAR.
            unsafe {
                bindings::vfio_pci_vmf_insert_pfn(self.as_raw(), vmf.as_raw(), pfn as usize, order)
            }
        })
    }

    fn memory_lock(&self) -> *mut bindings::rw_semaphore {
        // SAFETY: Valid by the type invariant; no reference is created.
        unsafe { &raw mut (*self.as_raw()).memory_lock }
    }

    /// Takes `memory_lock` for reading, as core's fault handler does; held
    /// until the returned guard is dropped. May sleep.
    fn memory_read_lock(&self) -> MemoryReadLocked<'_> {
        // SAFETY: `memory_lock` is core's initialised rwsem; callers are in
        // process context (a fault) and hold none of the locks taken under
        // it.
        unsafe { bindings::down_read(self.memory_lock()) };
        MemoryReadLocked(self)
    }

    /// Runs `f` with `memory_lock` held for reading: nothing changes what a
    /// fault may map meanwhile ([`Self::memory_usable`] stays as it is). May
    /// sleep.
    pub(crate) fn with_memory_read_locked<R>(&self, f: impl FnOnce() -> R) -> R {
        let _locked = self.memory_read_lock();
        f()
    }

    /// Whether the BARs' memory is there, as core's fault handler decides:
    /// memory decoding on, the function in D0 to D2, and not in low power
    /// (`VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY`). Stable while `memory_lock`
    /// is held, by the caller or by core around a callback (`reset_done`).
    /// Only while the device is open: core's virtual config space, which
    /// holds the command register it goes by, exists from the open's enable
    /// to the last close's disable (`EINVAL` otherwise, never a read of it).
    pub(crate) fn memory_usable(&self) -> Result<bool> {
        let core = self.as_raw();
        // SAFETY: Valid by the type invariant; a read of a flag core writes
        // with `memory_lock` held for writing, and a call that only reads
        // the device's state.
        unsafe {
            if (*core).vconfig.is_null() {
                return Err(EINVAL);
            }
            Ok(!ptr::read_volatile(&raw const (*core).pm_runtime_engaged)
                && bindings::__vfio_pci_memory_enabled(core))
        }
    }

    /// Runs `f` with `memory_lock` held for writing: no fault of a BAR
    /// mapping ([`Self::insert_pfn`]) and no read/write of device memory by
    /// core runs meanwhile. May sleep.
    pub(crate) fn with_memory_locked<R>(&self, f: impl FnOnce(&MemoryLocked<'_>) -> R) -> R {
        // SAFETY: `memory_lock` is core's initialised rwsem; callers are in
        // process context and hold no lock that a holder of `memory_lock`
        // waits for (the order is mmap lock, then our locks, then
        // `memory_lock`).
        unsafe { bindings::down_write(self.memory_lock()) };
        let locked = MemoryLocked(self);
        f(&locked)
    }
}

/// `memory_lock` held for reading ([`CoreDevice::memory_read_lock`]);
/// released on drop.
struct MemoryReadLocked<'a>(&'a CoreDevice);

impl Drop for MemoryReadLocked<'_> {
    fn drop(&mut self) {
        // SAFETY: Taken for reading when `self` was made, released once.
        unsafe { bindings::up_read(self.0.memory_lock()) };
    }
}

/// `memory_lock` held for writing ([`CoreDevice::with_memory_locked`]), and
/// the proof of it that what needs the lock takes; released on drop.
pub(crate) struct MemoryLocked<'a>(&'a CoreDevice);

impl Drop for MemoryLocked<'_> {
    fn drop(&mut self) {
        // SAFETY: Taken for writing when `self` was made, released once.
        unsafe { bindings::up_write(self.0.memory_lock()) };
    }
}

impl MemoryLocked<'_> {
    /// Zaps user mappings of `len` bytes at `start` of `bar`'s region, of
    /// every VMA of the device file (a BAR region's own, and aliases, whose
    /// VMAs use the BAR region's offsets), as core zaps whole BARs.
    pub(crate) fn zap(&self, bar: usize, start: u64, len: u64) {
        self.zap_offsets(index_to_offset(bar as u32) + start, len);
    }

    /// Zaps user mappings of `len` bytes at offset `start` of the device
    /// file's page mapping, whatever file their VMAs are of: DMABUFs of the
    /// device share it ([`super::Device::share_mapping`]), at their own
    /// offsets, which are those of the first BAR regions.
    pub(crate) fn zap_offsets(&self, start: u64, len: u64) {
        let core = self.0.as_raw();
        // SAFETY: `inode` is set at registration and lives as long as the
        // device; `unmap_mapping_range()` may be called with `memory_lock`
        // held, as core's `vfio_pci_zap_bars()` does.
        unsafe {
            let mapping = (*(*core).vdev.inode).i_mapping;
            bindings::unmap_mapping_range(
                mapping,
                start as bindings::loff_t,
                len as bindings::loff_t,
                1,
            );
        }
    }
}
