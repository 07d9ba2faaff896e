// SPDX-License-Identifier: GPL-2.0

//! The structures of `include/uapi/linux/vfio_pci_alias.h` as values that
//! can be copied from and to userspace.
//!
//! The layouts come from the generated bindings of the header itself, so
//! the C and Rust sides cannot drift.

use crate::bindings;
use kernel::transmute::{AsBytes, FromBytes};

/// `struct vfio_device_feature_alias_region`.
#[repr(transparent)]
#[derive(Default)]
pub(crate) struct AliasRequest(pub(crate) bindings::vfio_device_feature_alias_region);

// SAFETY: The uAPI structure has only integer fields (four `u32` and three
// aligned `u64`): every bit pattern is valid and there is no padding.
unsafe impl FromBytes for AliasRequest {}
// SAFETY: As above.
unsafe impl AsBytes for AliasRequest {}

/// `struct vfio_region_info_cap_alias`, version 2.
#[repr(transparent)]
pub(crate) struct CapAlias(pub(crate) bindings::vfio_region_info_cap_alias);

// SAFETY: A header of two `u16` and a `u32`, two `u32` and three aligned
// `u64`: integers only, no padding.
unsafe impl AsBytes for CapAlias {}

impl CapAlias {
    /// The capability for an alias of `size` bytes at `offset` of
    /// `aliased_index`, with `attrs`.
    pub(crate) fn new(aliased_index: u32, attrs: u32, offset: u64, size: u64) -> Self {
        let mut cap = bindings::vfio_region_info_cap_alias::default();
        cap.header.id = bindings::VFIO_REGION_INFO_CAP_ALIAS as u16;
        cap.header.version = 2;
        cap.aliased_index = aliased_index;
        cap.attrs = attrs;
        cap.offset = offset;
        cap.size = size;
        Self(cap)
    }
}

/// `struct vfio_device_ioeventfd` of `<linux/vfio.h>`, read to find the
/// region an ioeventfd is for.
#[repr(transparent)]
pub(crate) struct IoeventfdRequest(pub(crate) bindings::vfio_device_ioeventfd);

// SAFETY: Two `u32`, two `u64`, an `i32` and a `u32`: integers only, no
// padding, every bit pattern valid.
unsafe impl FromBytes for IoeventfdRequest {}

/// `struct vfio_device_info` of `<linux/vfio.h>`.
#[repr(transparent)]
#[derive(Default)]
pub(crate) struct DeviceInfo(pub(crate) bindings::vfio_device_info);

// SAFETY: Six `u32`: integers only, no padding, every bit pattern valid.
unsafe impl FromBytes for DeviceInfo {}
// SAFETY: As above.
unsafe impl AsBytes for DeviceInfo {}

// The sizes userspace sees.
const _: () = assert!(core::mem::size_of::<AliasRequest>() == 40);
const _: () = assert!(bindings::VFIO_ALIAS_REGION_MINSZ == 24);
const _: () = assert!(core::mem::size_of::<CapAlias>() == 40);
const _: () = assert!(core::mem::size_of::<IoeventfdRequest>() == 32);
const _: () = assert!(core::mem::size_of::<DeviceInfo>() == 24);
