// SPDX-License-Identifier: GPL-2.0

//! The uAPI values a variant driver fills in: region info and its
//! capability chain.

use crate::bindings;
use core::ops::{Deref, DerefMut};
use kernel::{error::to_result, prelude::*};

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
