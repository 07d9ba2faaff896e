// SPDX-License-Identifier: GPL-2.0

//! The uAPI values a variant driver fills in: region info and its
//! capability chain.
//!
//! C header: [`include/uapi/linux/vfio.h`](srctree/include/uapi/linux/vfio.h)

use super::CoreDevice;
use crate::staging::{bindings, uapi::DeviceInfo};
use core::ops::{Deref, DerefMut};
use kernel::{
    error::to_result,
    prelude::*,
    transmute::AsBytes,
    uaccess::{UserPtr, UserSlice},
};

/// The `struct vfio_region_info` a `VFIO_DEVICE_GET_REGION_INFO` fills.
#[repr(transparent)]
pub(crate) struct RegionInfo(bindings::vfio_region_info);

impl RegionInfo {
    pub(super) fn as_raw(&mut self) -> *mut bindings::vfio_region_info {
        &raw mut self.0
    }
}

impl Deref for RegionInfo {
    type Target = bindings::vfio_region_info;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for RegionInfo {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// The capability chain (`struct vfio_info_cap`) of a region info reply.
#[repr(transparent)]
pub(crate) struct InfoCaps(bindings::vfio_info_cap);

impl InfoCaps {
    pub(super) fn as_raw(&mut self) -> *mut bindings::vfio_info_cap {
        &raw mut self.0
    }

    /// Appends `cap` to the chain with `vfio_info_add_capability()`.
    ///
    /// `cap` must start with a `struct vfio_info_cap_header`.
    pub(crate) fn add<C: kernel::transmute::AsBytes>(&mut self, cap: &C) -> Result {
        let bytes = cap.as_bytes();
        if bytes.len() < core::mem::size_of::<bindings::vfio_info_cap_header>() {
            return Err(EINVAL);
        }
        // SAFETY: `self` is a valid chain; `bytes` is readable for its length
        // and starts with a header, which the function reads and copies.
        to_result(unsafe {
            bindings::vfio_info_add_capability(
                self.as_raw(),
                bytes.as_ptr().cast_mut().cast(),
                bytes.len(),
            )
        })
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
    fn device_info_without_caps(&self, arg: usize, num_regions: u32) -> Result<isize> {
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

    /// `VFIO_DEVICE_GET_INFO` at user address `arg`, answered with
    /// `num_regions` regions, one user copy each way as core's answer. With
    /// core's own count core answers alone. With another count and no
    /// capability possible (`caps` false, see [`Self::info_caps_possible`])
    /// the answer is made here; else core answers and its `num_regions`
    /// (always written: it is within the minimum size) is written again.
    pub(crate) fn device_info(&self, arg: usize, num_regions: u32, caps: bool) -> Result<isize> {
        let cmd = crate::staging::uapi::VFIO_DEVICE_GET_INFO;
        if num_regions == super::NUM_REGIONS + self.dev_regions() {
            return self.ioctl(cmd, arg);
        }
        if !caps {
            return self.device_info_without_caps(arg, num_regions);
        }
        let ret = self.ioctl(cmd, arg)?;
        let field = arg + core::mem::offset_of!(bindings::vfio_device_info, num_regions);
        UserSlice::new(UserPtr::from_addr(field), 4)
            .writer()
            .write(&num_regions)?;
        Ok(ret)
    }
}
