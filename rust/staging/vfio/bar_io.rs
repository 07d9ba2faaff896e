// SPDX-License-Identifier: GPL-2.0

//! Read/write of BAR memory the driver maps itself, as core serves it:
//! core's access helper, and the runtime-PM reference core takes around it.
//!
//! C header: [`include/linux/vfio_pci_core.h`](srctree/include/linux/vfio_pci_core.h)

use super::CoreDevice;
use crate::staging::{bindings, io::remap::IoMap};
use kernel::{ffi::c_int, prelude::*, uaccess::UserPtr};

impl CoreDevice {
    /// `vfio_pci_core_do_io_rw()`: `count` bytes between the user buffer
    /// `buf` and `map` at offset `off` of it, with core's access sizes (up to
    /// 8 bytes) and `EIO` while the device's memory decoding is off. `EINVAL`
    /// unless the range is within `map`.
    pub(crate) fn io_rw(
        &self,
        map: &IoMap,
        buf: UserPtr,
        off: u64,
        count: usize,
        write: bool,
    ) -> Result<isize> {
        let end = off.checked_add(count as u64).ok_or(EINVAL)?;
        if end > map.len() as u64 {
            return Err(EINVAL);
        }
        // SAFETY: Valid by the type invariant; `map` is a live kernel mapping
        // of device memory that covers the range (checked above) and stays
        // while borrowed; `buf` is only used through the user copy helpers.
        let ret = unsafe {
            bindings::vfio_pci_core_do_io_rw(
                self.as_raw(),
                true,
                map.as_ptr(),
                buf.as_mut_ptr().cast(),
                off as bindings::loff_t,
                count,
                0,
                0,
                write,
                bindings::vfio_pci_io_width_VFIO_PCI_IO_WIDTH_8,
            )
        };
        if ret < 0 {
            Err(Error::from_errno(ret as c_int))
        } else {
            Ok(ret)
        }
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

/// A runtime-PM reference on the device ([`CoreDevice::runtime_get`]).
pub(crate) struct RuntimeActive<'a>(&'a CoreDevice);

impl Drop for RuntimeActive<'_> {
    fn drop(&mut self) {
        // SAFETY: Taken by `runtime_get`, dropped once.
        unsafe { bindings::vpa_pm_runtime_put(self.0.pdev()) };
    }
}
