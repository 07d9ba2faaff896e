// SPDX-License-Identifier: GPL-2.0

//! The uAPI of `include/uapi/linux/vfio_pci_alias.h` and of the parts of
//! `include/uapi/linux/vfio.h` the driver uses: constants, ioctl numbers,
//! and structures as values that can be copied from and to userspace (cf.
//! the kernel's `uapi` crate, which does not cover these headers).
//!
//! C headers: [`include/uapi/linux/vfio.h`](srctree/include/uapi/linux/vfio.h),
//! `include/uapi/linux/vfio_pci_alias.h` (this project's)
//!
//! The constants and layouts come from the generated bindings of the
//! headers themselves, so the C and Rust sides cannot drift.

use crate::staging::bindings;
use kernel::{
    ioctl::_IO,
    transmute::{AsBytes, FromBytes},
};

pub(crate) use bindings::{
    VFIO_ALIAS_ATTR_ALL, VFIO_ALIAS_ATTR_WC, VFIO_ALIAS_MAX_ALIASES, VFIO_ALIAS_REGION_MINSZ,
    VFIO_ALIAS_REGION_WINDOW, VFIO_DEVICE_FEATURE_ALIAS_REGION, VFIO_DEVICE_FEATURE_DMA_BUF,
    VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR, VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE,
    VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
    VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP, VFIO_DEVICE_FEATURE_LOW_POWER_EXIT,
    VFIO_DEVICE_FEATURE_MASK, VFIO_DEVICE_FEATURE_PROBE, VFIO_DEVICE_FEATURE_SET,
    VFIO_PCI_CONFIG_REGION_INDEX, VFIO_REGION_INFO_FLAG_ALIAS, VFIO_REGION_INFO_FLAG_MMAP,
    VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WC, VFIO_REGION_INFO_FLAG_WRITE,
};

/// `VFIO_DEVICE_GET_INFO`.
pub(crate) const VFIO_DEVICE_GET_INFO: u32 =
    _IO(bindings::VFIO_TYPE as u32, bindings::VFIO_BASE + 7);
/// `VFIO_DEVICE_RESET`.
pub(crate) const VFIO_DEVICE_RESET: u32 = _IO(bindings::VFIO_TYPE as u32, bindings::VFIO_BASE + 11);
/// `VFIO_DEVICE_IOEVENTFD`.
pub(crate) const VFIO_DEVICE_IOEVENTFD: u32 =
    _IO(bindings::VFIO_TYPE as u32, bindings::VFIO_BASE + 16);

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

/// `VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_NC`: uncached.
pub(crate) const MEMATTR_NC: u32 =
    bindings::vfio_device_dma_buf_memattr_VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_NC;
/// `VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_WC`: write-combining.
pub(crate) const MEMATTR_WC: u32 =
    bindings::vfio_device_dma_buf_memattr_VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_WC;

/// The fixed part of `struct vfio_device_feature_dma_buf` of
/// `<linux/vfio.h>`; the ranges follow it.
#[repr(C)]
#[derive(Default)]
pub(crate) struct DmaBufRequest {
    pub(crate) region_index: u32,
    pub(crate) open_flags: u32,
    pub(crate) flags: u32,
    pub(crate) nr_ranges: u32,
}

// SAFETY: Four `u32`: integers only, no padding, every bit pattern valid.
unsafe impl FromBytes for DmaBufRequest {}

/// `struct vfio_region_dma_range` of `<linux/vfio.h>`: `length` bytes at
/// `offset` of the BAR.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct DmaRange {
    pub(crate) offset: u64,
    pub(crate) length: u64,
}

// SAFETY: Two `u64`: integers only, no padding, every bit pattern valid.
unsafe impl FromBytes for DmaRange {}

/// `struct vfio_device_feature_dma_buf_revoke`.
#[repr(transparent)]
#[derive(Default)]
pub(crate) struct RevokeRequest(pub(crate) bindings::vfio_device_feature_dma_buf_revoke);

// SAFETY: One `i32`: every bit pattern valid, no padding.
unsafe impl FromBytes for RevokeRequest {}

/// `struct vfio_device_feature_dma_buf_memattr`.
#[repr(transparent)]
#[derive(Default)]
pub(crate) struct MemattrRequest(pub(crate) bindings::vfio_device_feature_dma_buf_memattr);

// SAFETY: An `i32` and a `u32`: integers only, no padding.
unsafe impl FromBytes for MemattrRequest {}
// SAFETY: As above.
unsafe impl AsBytes for MemattrRequest {}

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
const _: () = assert!(core::mem::size_of::<DmaBufRequest>() == 16);
const _: () = assert!(
    core::mem::size_of::<DmaBufRequest>()
        == core::mem::size_of::<bindings::vfio_device_feature_dma_buf>()
);
const _: () = assert!(
    core::mem::size_of::<DmaRange>() == core::mem::size_of::<bindings::vfio_region_dma_range>()
);
const _: () = assert!(core::mem::size_of::<RevokeRequest>() == 4);
const _: () = assert!(core::mem::size_of::<MemattrRequest>() == 8);
// The numbers of <linux/vfio.h>.
const _: () = assert!(VFIO_DEVICE_GET_INFO == 0x3b6b);
const _: () = assert!(VFIO_DEVICE_IOEVENTFD == 0x3b74);
