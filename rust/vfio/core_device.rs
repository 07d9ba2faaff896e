// SPDX-License-Identifier: GPL-2.0

//! The core device: the `struct vfio_pci_core_device` `vfio_pci_core` keeps
//! for one PCI function, and the core functions a variant driver calls.

use super::{InfoCaps, RegionInfo, NUM_BARS};
use crate::{bindings, uapi::DeviceInfo, vma::Fault};
use core::ptr;
use kernel::{
    device,
    error::to_result,
    ffi::{c_int, c_ulong},
    mm::virt::VmaNew,
    prelude::*,
    transmute::AsBytes,
    types::Opaque,
    uaccess::{UserPtr, UserSlice},
};

/// A `struct vfio_pci_core_device`: the state `vfio_pci_core` keeps for one
/// PCI function.
///
/// # Invariants
///
/// The wrapped structure was initialised by `vfio_pci_core_init_dev()` and is
/// not yet released by `vfio_pci_core_release_dev()`.
#[repr(transparent)]
pub(crate) struct CoreDevice(Opaque<bindings::vfio_pci_core_device>);

// SAFETY: `vfio_pci_core` serialises access to its state with its own locks;
// the methods below only call functions that are safe to call from any thread.
unsafe impl Send for CoreDevice {}
// SAFETY: See `Send`.
unsafe impl Sync for CoreDevice {}

impl CoreDevice {
    /// Returns the raw `struct vfio_pci_core_device`.
    pub(crate) fn as_raw(&self) -> *mut bindings::vfio_pci_core_device {
        self.0.get()
    }

    /// Returns the embedded `struct vfio_device`.
    fn vfio(&self) -> *mut bindings::vfio_device {
        // SAFETY: `self.as_raw()` is valid by the type invariant; no reference
        // is created.
        unsafe { &raw mut (*self.as_raw()).vdev }
    }

    /// Returns the PCI function's `struct device`.
    pub(crate) fn device(&self) -> &device::Device {
        // SAFETY: `pdev` was set by `vfio_pci_core_init_dev()` and the PCI
        // device outlives its vfio device, which holds a reference on it.
        unsafe { device::Device::from_raw(&raw mut (*(*self.as_raw()).pdev).dev) }
    }

    /// `vfio_pci_core_enable()`: enable the device for a new user.
    pub(crate) fn enable(&self) -> Result {
        // SAFETY: `self.as_raw()` is valid by the type invariant.
        to_result(unsafe { bindings::vfio_pci_core_enable(self.as_raw()) })
    }

    /// `vfio_pci_core_finish_enable()`: complete [`Self::enable`].
    pub(crate) fn finish_enable(&self) {
        // SAFETY: `self.as_raw()` is valid by the type invariant.
        unsafe { bindings::vfio_pci_core_finish_enable(self.as_raw()) }
    }

    /// `vfio_pci_core_disable()`: undo [`Self::enable`] when the open fails
    /// before [`Self::finish_enable`].
    pub(crate) fn disable(&self) {
        // SAFETY: `self.as_raw()` is valid by the type invariant.
        unsafe { bindings::vfio_pci_core_disable(self.as_raw()) }
    }

    /// `vfio_pci_core_close_device()`: the last user is gone.
    pub(crate) fn close(&self) {
        // SAFETY: `self.vfio()` is valid by the type invariant.
        unsafe { bindings::vfio_pci_core_close_device(self.vfio()) }
    }

    /// `vfio_pci_core_ioctl()`.
    pub(crate) fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        // SAFETY: `self.vfio()` is valid by the type invariant; `arg` is
        // the user's argument, which core validates as any ioctl does.
        let ret = unsafe { bindings::vfio_pci_core_ioctl(self.vfio(), cmd, arg as c_ulong) };
        errno_or(ret as isize)
    }

    /// `vfio_pci_ioctl_get_region_info()`: fill `info` and `caps` for
    /// `info.index`.
    pub(crate) fn region_info(&self, info: &mut RegionInfo, caps: &mut InfoCaps) -> Result {
        // SAFETY: `self.vfio()` is valid by the type invariant; `info` and
        // `caps` are valid for writes as their types guarantee.
        to_result(unsafe {
            bindings::vfio_pci_ioctl_get_region_info(self.vfio(), info.as_raw(), caps.as_raw())
        })
    }

    /// `vfio_pci_core_ioctl_feature()`.
    pub(crate) fn device_feature(&self, flags: u32, arg: UserPtr, argsz: usize) -> Result {
        // SAFETY: `self.vfio()` is valid by the type invariant; `arg` is a
        // user pointer, which core only uses through `copy_{from,to}_user`.
        to_result(unsafe {
            bindings::vfio_pci_core_ioctl_feature(self.vfio(), flags, arg.as_mut_ptr(), argsz)
        })
    }

    /// `vfio_pci_core_read()`.
    pub(crate) fn read(&self, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize> {
        // SAFETY: `self.vfio()` is valid by the type invariant; `buf` is a
        // user pointer and `pos` a valid `loff_t`.
        errno_or(unsafe {
            bindings::vfio_pci_core_read(self.vfio(), buf.as_mut_ptr().cast(), count, pos)
        })
    }

    /// `vfio_pci_core_write()`.
    pub(crate) fn write(&self, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize> {
        // SAFETY: As in `read`.
        errno_or(unsafe {
            bindings::vfio_pci_core_write(self.vfio(), buf.as_const_ptr().cast(), count, pos)
        })
    }

    /// `vfio_pci_core_mmap()`.
    pub(crate) fn mmap(&self, vma: &VmaNew) -> Result {
        // SAFETY: `self.vfio()` is valid by the type invariant, `vma` is the
        // VMA being set up by the `mmap` call core is serving.
        to_result(unsafe { bindings::vfio_pci_core_mmap(self.vfio(), vma.as_ptr()) })
    }
}

impl CoreDevice {
    /// Whether core's `VFIO_DEVICE_GET_INFO` of this device can carry
    /// capabilities (zPCI, AtomicOps completer). Reads config space.
    pub(crate) fn info_caps_possible(&self) -> bool {
        // SAFETY: Valid by the type invariant.
        unsafe { bindings::vpa_device_info_caps_possible(self.as_raw()) }
    }

    /// Core's `VFIO_DEVICE_GET_INFO` for a device whose answer carries no
    /// capability ([`Self::info_caps_possible`] is false), with
    /// `num_regions` in place of core's count: the same checks, the same
    /// fields and the same user copies (the minimum size in, up to the whole
    /// structure out).
    pub(crate) fn device_info_without_caps(&self, arg: usize, num_regions: u32) -> Result<isize> {
        let size = core::mem::size_of::<DeviceInfo>();
        // Core's `minsz`: up to `num_irqs`, four `u32`.
        let minsz = core::mem::offset_of!(bindings::vfio_device_info, cap_offset);
        let (mut r, mut w) = UserSlice::new(UserPtr::from_addr(arg), size).reader_writer();
        let head: [u32; 4] = r.read()?;
        let mut info = DeviceInfo::default();
        info.0.argsz = head[0];
        if (info.0.argsz as usize) < minsz {
            return Err(EINVAL);
        }
        let out = size.min(info.0.argsz as usize);
        info.0.flags = bindings::VFIO_DEVICE_FLAGS_PCI;
        // SAFETY: Valid by the type invariant.
        if unsafe { bindings::vpa_reset_works(self.as_raw()) } {
            info.0.flags |= bindings::VFIO_DEVICE_FLAGS_RESET;
        }
        info.0.num_regions = num_regions;
        info.0.num_irqs = bindings::VFIO_PCI_NUM_IRQS;
        w.write_slice(&info.as_bytes()[..out])?;
        Ok(0)
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

    fn pdev(&self) -> *mut bindings::pci_dev {
        // SAFETY: Valid by the type invariant; `pdev` is set at init.
        unsafe { (*self.as_raw()).pdev }
    }

    /// `pci_resource_len()` of `bar`.
    pub(crate) fn bar_len(&self, bar: usize) -> u64 {
        // SAFETY: `pdev()` is valid; `bar` is a standard BAR.
        unsafe { bindings::vpa_bar_len(self.pdev(), bar as c_int) }
    }

    /// `pci_resource_start()` of `bar`.
    pub(crate) fn bar_start(&self, bar: usize) -> u64 {
        // SAFETY: `pdev()` is valid; `bar` is a standard BAR.
        unsafe { bindings::vpa_bar_start(self.pdev(), bar as c_int) }
    }

    /// Whether `bar` is a memory BAR that `vfio_pci_core_enable()` will let
    /// userspace mmap(): a non-empty memory resource, at least a page long
    /// or starting on a page boundary.
    pub(crate) fn bar_mmap_capable(&self, bar: usize) -> bool {
        if bar >= NUM_BARS || self.bar_flags(bar) & u64::from(bindings::IORESOURCE_MEM) == 0 {
            return false;
        }
        let (start, len) = (self.bar_start(bar), self.bar_len(bar));
        let page = bindings::PAGE_SIZE as u64;
        len != 0 && (len >= page || start % page == 0)
    }

    /// `pci_resource_flags()` of `bar` (`IORESOURCE_*`).
    pub(crate) fn bar_flags(&self, bar: usize) -> u64 {
        // SAFETY: `pdev()` is valid; `bar` is a standard BAR.
        unsafe { bindings::vpa_bar_flags(self.pdev(), bar as c_int) as u64 }
    }

    /// Where the MSI-X table is, read from config space. Read it once, while
    /// the device answers (at probe), and keep the answer: a device the user
    /// put in D3cold reads as all ones.
    pub(crate) fn msix_table(&self) -> MsixTable {
        // SAFETY: `pdev()` is valid; config reads are allowed while bound.
        match unsafe { bindings::vpa_msix_table_bar(self.pdev()) } {
            -1 => MsixTable::None,
            bar @ 0..=5 => MsixTable::Bar(bar as usize),
            _ => MsixTable::Unknown,
        }
    }

    /// The BAR holding the MSI-X table, if the device has MSI-X.
    pub(crate) fn msix_bar(&self) -> Option<usize> {
        // SAFETY: Valid by the type invariant; set at open.
        let bar = unsafe { (*self.as_raw()).msix_bar } as usize;
        (bar < NUM_BARS).then_some(bar)
    }

    /// Number of ioeventfds the user has registered.
    pub(crate) fn ioeventfds(&self) -> i32 {
        // SAFETY: Valid by the type invariant. A racy read: callers exclude
        // new ioeventfds by other means.
        unsafe { ptr::read_volatile(&raw const (*self.as_raw()).ioeventfds_nr) }
    }

    /// Inserts `pfn` for the fault `vmf` with `vfio_pci_vmf_insert_pfn()`
    /// under `memory_lock`, which fails with SIGBUS while the device's memory
    /// decoding is off or it is in low power.
    ///
    /// `refuse` runs first, under the same lock: a `vm_fault_t` it returns
    /// is returned instead. It sees what [`Self::with_memory_locked`] changed
    /// as a whole, never half of it.
    #[inline]
    pub(crate) fn insert_pfn(
        &self,
        vmf: &Fault,
        pfn: u64,
        order: u32,
        refuse: impl FnOnce() -> Option<u32>,
    ) -> u32 {
        let _locked = self.memory_read_lock();
        refuse().unwrap_or_else(|| {
            // SAFETY: `memory_lock` is held for read, as required; `vmf` is
            // the fault being handled.
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

    /// `vfio_pci_core_do_io_rw()`: `count` bytes between the user buffer
    /// `buf` and the kernel mapping `io` of BAR memory at offset `off` of
    /// `io`, with core's access sizes (up to 8 bytes) and `EIO` while the
    /// device's memory decoding is off.
    ///
    /// # Safety
    ///
    /// `io` must be a live kernel mapping of device memory of at least
    /// `off + count` bytes, which stays mapped during the call.
    pub(crate) unsafe fn io_rw(
        &self,
        io: *mut core::ffi::c_void,
        buf: UserPtr,
        off: u64,
        count: usize,
        write: bool,
    ) -> Result<isize> {
        // SAFETY: Valid by the type invariant; `io` by the safety
        // requirements; `buf` is only used through the user copy helpers.
        errno_or(unsafe {
            bindings::vfio_pci_core_do_io_rw(
                self.as_raw(),
                true,
                io,
                buf.as_mut_ptr().cast(),
                off as bindings::loff_t,
                count,
                0,
                0,
                write,
                bindings::vfio_pci_io_width_VFIO_PCI_IO_WIDTH_8,
            )
        })
    }

    /// Whether core's kernel mapping of `bar` is usable, as core's mmap()
    /// checks it: `Err` with the errno core stored instead of a mapping.
    pub(crate) fn barmap_status(&self, bar: usize) -> Result {
        // SAFETY: Valid by the type invariant; only changes at open, close
        // and through this type's `unsafe` methods.
        let map = unsafe { (*self.as_raw()).barmap[bar] };
        match Self::map_error(map) {
            Some(e) => Err(e),
            None if map.is_null() => Err(ENODEV),
            None => Ok(()),
        }
    }

    /// The errno of an error pointer.
    fn map_error(map: *mut core::ffi::c_void) -> Option<Error> {
        let err = map as isize;
        (err < 0 && err >= -(bindings::MAX_ERRNO as isize)).then(|| Error::from_errno(err as c_int))
    }

    /// Takes `bar`'s kernel mapping away from core: unmaps core's uncached
    /// mapping and leaves an `EBUSY` error pointer in its place, so that
    /// whatever core reads there (read/write, ioeventfd setup, dma-buf
    /// export, mmap) it refuses with `EBUSY`, without a warning. The BAR's
    /// region stays requested: the caller now holds it, with whatever
    /// kernel mappings of the BAR it makes, until [`Self::restore_barmap`].
    ///
    /// Only a live mapping can be taken: `Err` with the errno core stored
    /// (a soft failure at open, or a failed [`Self::restore_barmap`]),
    /// and nothing changes.
    ///
    /// # Safety
    ///
    /// Nothing may use `barmap[bar]` during the call or hold on to its value
    /// after it: no read/write of the BAR in flight through core, no
    /// ioeventfd on the BAR, no user mapping of it. The caller serves the
    /// BAR's read/write itself until [`Self::restore_barmap`].
    pub(crate) unsafe fn take_barmap(&self, bar: usize) -> Result {
        self.barmap_status(bar)?;
        let core = self.as_raw();
        // SAFETY: Valid by the type invariant; exclusive use by the safety
        // requirements.
        let old = unsafe { (*core).barmap[bar] };
        // SAFETY: `old` is live (checked above): core's `pci_iomap()` at open
        // or ours in `restore_barmap`, which `pci_iounmap()` undoes.
        unsafe { bindings::pci_iounmap(self.pdev(), old) };
        // SAFETY: Exclusive use by the safety requirements.
        unsafe { (*core).barmap[bar] = EBUSY.to_ptr() };
        Ok(())
    }

    /// Gives `bar` back to core after [`Self::take_barmap`]: maps it
    /// uncached, as core maps it at open. If that fails the BAR's region is
    /// released and core keeps an `ENOMEM` error pointer, exactly as after
    /// core's own failed map at open: core's close then releases nothing,
    /// and [`Self::take_barmap`] refuses the BAR from then on.
    ///
    /// # Safety
    ///
    /// As for [`Self::take_barmap`]; `bar` was taken by it and not restored
    /// since, and no kernel mapping the caller made of the BAR is left.
    pub(crate) unsafe fn restore_barmap(&self, bar: usize) -> Result {
        let core = self.as_raw();
        // Through our wrapper, which fault injection can fail.
        // SAFETY: As core maps it at open.
        let map = unsafe { bindings::vpa_pci_iomap(self.pdev(), bar as c_int) };
        if map.is_null() {
            // SAFETY: Core requested the region at open and `take_barmap`
            // kept it, for us; core's close releases it only for a mapped
            // BAR.
            unsafe { bindings::pci_release_selected_regions(self.pdev(), 1 << bar) };
            // SAFETY: Exclusive use by the safety requirements.
            unsafe { (*core).barmap[bar] = ENOMEM.to_ptr() };
            return Err(ENOMEM);
        }
        // SAFETY: Exclusive use by the safety requirements.
        unsafe { (*core).barmap[bar] = map };
        Ok(())
    }

    /// Releases the region of a BAR taken by [`Self::take_barmap`] whose
    /// device is closing (or failed to open), as core's close does for the
    /// BARs it mapped; core keeps an `ENODEV` error pointer, which its close
    /// skips.
    ///
    /// # Safety
    ///
    /// As for [`Self::restore_barmap`].
    pub(crate) unsafe fn release_barmap(&self, bar: usize) {
        // SAFETY: The region was requested by core at open and kept for us
        // by `take_barmap`.
        unsafe { bindings::pci_release_selected_regions(self.pdev(), 1 << bar) };
        // SAFETY: Exclusive use by the safety requirements.
        unsafe { (*self.as_raw()).barmap[bar] = ENODEV.to_ptr() };
    }

    /// Wakes the device for an access of its memory, as core's
    /// `vfio_pci_rw()` does around every read/write it serves: the device
    /// stays awake until the returned value is dropped. `EIO` if it cannot
    /// be woken.
    pub(crate) fn runtime_get(&self) -> Result<RuntimeActive<'_>> {
        // SAFETY: `pdev()` is valid; process context.
        let ret = unsafe { bindings::vpa_pm_runtime_resume_and_get(self.pdev()) };
        if ret != 0 {
            dev_dbg!(self.device(), "runtime resume failed {ret}\n");
            return Err(EIO);
        }
        Ok(RuntimeActive(self))
    }
}

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

/// A runtime-PM reference on the device ([`CoreDevice::runtime_get`]).
pub(crate) struct RuntimeActive<'a>(&'a CoreDevice);

impl Drop for RuntimeActive<'_> {
    fn drop(&mut self) {
        // SAFETY: Taken by `runtime_get`, dropped once.
        unsafe { bindings::vpa_pm_runtime_put(self.0.pdev()) };
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
        let core = self.0.as_raw();
        let at = super::index_to_offset(bar as u32) + start;
        // SAFETY: `inode` is set at registration and lives as long as the
        // device; `unmap_mapping_range()` may be called with `memory_lock`
        // held, as core's `vfio_pci_zap_bars()` does.
        unsafe {
            let mapping = (*(*core).vdev.inode).i_mapping;
            bindings::unmap_mapping_range(
                mapping,
                at as bindings::loff_t,
                len as bindings::loff_t,
                1,
            );
        }
    }
}

/// Converts a `ssize_t`-style return value into a [`Result`].
fn errno_or(ret: isize) -> Result<isize> {
    if ret < 0 {
        // The value is a negative errno, which fits in `c_int`.
        Err(Error::from_errno(ret as c_int))
    } else {
        Ok(ret)
    }
}
