// SPDX-License-Identifier: GPL-2.0

//! The core device: the `struct vfio_pci_core_device` `vfio_pci_core` keeps
//! for one PCI function, and the core functions a variant driver calls.
//!
//! C header: [`include/linux/vfio_pci_core.h`](srctree/include/linux/vfio_pci_core.h)
//!
//! What it says about its regions is in [`super::pci_bars`], the hand-over
//! of BAR mappings in [`super::bar_maps`], `memory_lock` in
//! [`super::memory_lock`], device info in [`super::info`].

use super::{InfoCaps, RegionInfo, NUM_BARS};
use crate::staging::bindings;
use core::ptr;
use kernel::{
    device,
    error::to_result,
    ffi::{c_int, c_ulong},
    mm::virt::VmaNew,
    prelude::*,
    types::Opaque,
    uaccess::UserPtr,
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
    pub(super) fn vfio(&self) -> *mut bindings::vfio_device {
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

    /// `vfio_pci_core_ioctl()`. `VFIO_DEVICE_IOEVENTFD` must go through
    /// [`BarMaps::ioeventfd`](super::BarMaps::ioeventfd), which keeps every
    /// BAR's kernel mapping as it is while core looks: `EINVAL` here.
    pub(crate) fn ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
        if cmd == crate::staging::uapi::VFIO_DEVICE_IOEVENTFD {
            return Err(EINVAL);
        }
        self.raw_ioctl(cmd, arg)
    }

    /// `vfio_pci_core_ioctl()`, whatever the command.
    pub(super) fn raw_ioctl(&self, cmd: u32, arg: usize) -> Result<isize> {
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

    /// `vfio_pci_core_read()` (or `_write()`) of a region other than a BAR:
    /// core dereferences a BAR's kernel mapping, so a BAR's read/write goes
    /// through [`BarRead::core_rw`](super::BarRead::core_rw) (`EINVAL` here).
    pub(crate) fn rw(
        &self,
        buf: UserPtr,
        count: usize,
        pos: &mut i64,
        write: bool,
    ) -> Result<isize> {
        if super::offset_to_index(*pos as u64) < NUM_BARS as u64 {
            return Err(EINVAL);
        }
        self.raw_rw(buf, count, pos, write)
    }

    /// `vfio_pci_core_read()` or `vfio_pci_core_write()`, at any offset.
    pub(super) fn raw_rw(
        &self,
        buf: UserPtr,
        count: usize,
        pos: &mut i64,
        write: bool,
    ) -> Result<isize> {
        // SAFETY: `self.vfio()` is valid by the type invariant; `buf` is a
        // user pointer and `pos` a valid `loff_t`.
        errno_or(unsafe {
            if write {
                bindings::vfio_pci_core_write(self.vfio(), buf.as_const_ptr().cast(), count, pos)
            } else {
                bindings::vfio_pci_core_read(self.vfio(), buf.as_mut_ptr().cast(), count, pos)
            }
        })
    }

    /// `vfio_pci_core_mmap()` of a region other than a BAR, which the driver
    /// maps itself (`EINVAL`).
    pub(crate) fn mmap(&self, vma: &VmaNew) -> Result {
        // SAFETY: The VMA is valid; `vm_pgoff` is stable during mmap().
        let pgoff = unsafe { (*vma.as_ptr()).vm_pgoff } as u64;
        if pgoff >> (super::OFFSET_SHIFT - bindings::PAGE_SHIFT) < NUM_BARS as u64 {
            return Err(EINVAL);
        }
        // SAFETY: `self.vfio()` is valid by the type invariant, `vma` is the
        // VMA being set up by the `mmap` call core is serving.
        to_result(unsafe { bindings::vfio_pci_core_mmap(self.vfio(), vma.as_ptr()) })
    }
}

impl CoreDevice {
    /// The config-space offset of the power management control register
    /// (PMCSR), if the function has the PM capability.
    pub(crate) fn pm_ctrl_offset(&self) -> Option<u64> {
        // SAFETY: `pdev` is valid as in `device()`; `pm_cap` is set at
        // enumeration and constant while a driver is bound.
        let cap = unsafe { (*(*self.as_raw()).pdev).pm_cap };
        (cap != 0).then(|| u64::from(cap) + u64::from(bindings::PCI_PM_CTRL))
    }

    /// Number of ioeventfds the user has registered.
    pub(crate) fn ioeventfds(&self) -> i32 {
        // SAFETY: Valid by the type invariant. A racy read: callers exclude
        // new ioeventfds by other means.
        unsafe { ptr::read_volatile(&raw const (*self.as_raw()).ioeventfds_nr) }
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
