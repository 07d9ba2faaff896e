// SPDX-License-Identifier: GPL-2.0

//! The ALIAS_REGION device feature and the region info of an alias.
//!
//! Semantics and errnos are those of `include/uapi/linux/vfio_pci_alias.h`.

use super::{
    regions::{self, Region},
    Device,
};
use crate::staging::{
    sync::rcu_table::Inserted,
    uapi::{self, AliasRequest, CapAlias},
    vfio::{self, InfoCaps, RegionInfo},
};
use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    transmute::AsBytes,
    uaccess::{UserPtr, UserSlice},
};

/// The part of a region an alias covers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Span {
    /// The aliased region's index.
    pub(crate) index: u32,
    /// Start of the window in the region; 0 for a whole-region alias.
    pub(crate) start: u64,
    /// Size of the window; 0 for a whole-region alias.
    pub(crate) size: u64,
}

impl Span {
    /// Whether this is a window, not the whole region.
    pub(crate) fn is_window(&self) -> bool {
        self.size != 0
    }

    /// End of the window (exclusive).
    pub(crate) fn end(&self) -> u64 {
        self.start + self.size
    }

    /// Whether two windows of one region share a page.
    pub(crate) fn overlaps(&self, other: &Self) -> bool {
        self.index == other.index && self.start < other.end() && other.start < self.end()
    }
}

/// An alias: the region (or window of it) it maps and its
/// `VFIO_ALIAS_ATTR_*`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Alias {
    pub(super) span: Span,
    pub(super) attrs: u32,
}

impl Alias {
    /// Whether `self` and `other` are windows sharing a page with different
    /// attributes, which PAT could not give their pages at once.
    fn conflicts(&self, other: &Self) -> bool {
        self.attrs != other.attrs
            && self.span.is_window()
            && other.span.is_window()
            && self.span.overlaps(&other.span)
    }
}

/// Attributes this driver implements.
const ATTRS: u32 = uapi::VFIO_ALIAS_ATTR_ALL;

/// Largest alias table, as documented in the uAPI header: SET of one more
/// fails with `ENOSPC`. Windows make the number of possible aliases
/// unbounded; 64 is more than a userspace driver uses (a few windows per
/// BAR) and bounds the per-slot state of [`super::alias_cache::AliasCache`].
pub(crate) const MAX_ALIASES: usize = uapi::VFIO_ALIAS_MAX_ALIASES as usize;

/// Sizes of the uAPI argument: the first version and the one with a window.
const MINSZ: usize = uapi::VFIO_ALIAS_REGION_MINSZ as usize;
const WINDOW_SIZE: usize = core::mem::size_of::<AliasRequest>();

/// Attributes `index` can be aliased with, or `EINVAL` if it cannot be
/// aliased at all (out of range, an alias, not an mmap-capable BAR).
fn supported_attrs(dev: &Device, index: u32) -> Result<u32> {
    let bar = match regions::classify(dev, u64::from(index)) {
        Region::Bar(bar) if dev.core().bar_mmap_supported(bar) => bar,
        _ => return Err(EINVAL),
    };
    // The PCI core maps the MSI-X table uncached for as long as MSI-X is on,
    // so that BAR can never be write-combining under PAT's rule.
    let wc = vfio::wc_supported() && dev.core().msix_bar() != Some(bar);
    Ok(if wc { uapi::VFIO_ALIAS_ATTR_WC } else { 0 })
}

/// The span of a request for `index` with a window of `size` bytes at
/// `offset`: page aligned, not empty, within the BAR rounded up to a page
/// (`EINVAL` otherwise). A window of the whole BAR is the whole BAR.
fn window(dev: &Device, index: u32, offset: u64, size: u64) -> Result<Span> {
    let page = PAGE_SIZE as u64;
    let len = dev.core().bar_len(index as usize).div_ceil(page) * page;
    if size == 0 || offset % page != 0 || size % page != 0 {
        return Err(EINVAL);
    }
    if offset.checked_add(size).is_none_or(|end| end > len) {
        return Err(EINVAL);
    }
    let (start, size) = if size == len { (0, 0) } else { (offset, size) };
    Ok(Span { index, start, size })
}

/// `VFIO_DEVICE_FEATURE` for ALIAS_REGION: PROBE and SET.
pub(super) fn feature(dev: &Device, flags: u32, arg: UserPtr, argsz: usize) -> Result {
    let get = flags & uapi::VFIO_DEVICE_FEATURE_GET != 0;
    let set = flags & uapi::VFIO_DEVICE_FEATURE_SET != 0;
    let probe = flags & uapi::VFIO_DEVICE_FEATURE_PROBE != 0;
    // As vfio_check_feature(): GET is not supported; without PROBE, SET is
    // required.
    if get || (!probe && !set) {
        return Err(EINVAL);
    }
    // A PROBE without payload only asks whether the feature exists.
    if probe && argsz == 0 {
        return Ok(());
    }
    if argsz < MINSZ {
        return Err(EINVAL);
    }
    let mut req = AliasRequest(Default::default());
    let mut reader = UserSlice::new(arg, argsz.min(WINDOW_SIZE)).reader();
    reader.read_slice(&mut req.as_bytes_mut()[..MINSZ])?;
    let r = &mut req.0;
    // The window fields exist only with the flag (a request of the first
    // version may end before them).
    let windowed = r.flags & uapi::VFIO_ALIAS_REGION_WINDOW != 0;
    let len = if windowed { WINDOW_SIZE } else { MINSZ };
    if windowed {
        if argsz < WINDOW_SIZE {
            return Err(EINVAL);
        }
        reader.read_slice(&mut req.as_bytes_mut()[MINSZ..])?;
    }
    let r = &mut req.0;
    if r.__reserved1 != 0 || r.__reserved2 != 0 || r.alias_index != 0 {
        return Err(EINVAL);
    }
    let supported = supported_attrs(dev, r.index)?;
    if probe {
        // Windows need write-combining to be worth anything.
        r.flags = supported;
        if supported & uapi::VFIO_ALIAS_ATTR_WC != 0 {
            r.flags |= uapi::VFIO_ALIAS_REGION_WINDOW;
        }
    } else {
        let attrs = r.flags & !uapi::VFIO_ALIAS_REGION_WINDOW;
        if attrs == 0 || attrs & !ATTRS != 0 {
            return Err(EINVAL);
        }
        if attrs & !supported != 0 {
            return Err(EOPNOTSUPP);
        }
        let span = if windowed {
            window(dev, r.index, r.offset, r.size)?
        } else {
            Span {
                index: r.index,
                start: 0,
                size: 0,
            }
        };
        let alias = Alias { span, attrs };
        let at = dev
            .aliases
            .insert_unique_unless(alias, |a| a.conflicts(&alias))?;
        dev.bars.cache().set(at.index(), span);
        if let Inserted::New(i) = at {
            dev_dbg!(
                dev.core().device(),
                "alias {} of region {} ({:#x}+{:#x}) with attributes {:#x}\n",
                i,
                r.index,
                span.start,
                span.size,
                attrs
            );
        }
        r.alias_index = regions::alias_base(dev) + at.index() as u32;
    }
    UserSlice::new(arg, len)
        .writer()
        .write_slice(&req.as_bytes()[..len])
}

/// The span of alias `i`: lock-free once SET returned it, else from the
/// table.
#[inline]
pub(super) fn span(dev: &Device, i: usize) -> Result<Span> {
    match dev.bars.cache().get(i) {
        Some(span) => Ok(span),
        None => Ok(dev.aliases.get(i).ok_or(EINVAL)?.span),
    }
}

/// `VFIO_DEVICE_GET_REGION_INFO` of alias `i`: the aliased region's
/// READ/WRITE/MMAP flags and capabilities, its size (a window's: the
/// window's), with the alias's own offset, the ALIAS and attribute flags and
/// the alias capability.
///
/// Core reports no sparse-mmap areas for a BAR (its only BAR capability,
/// MSIX_MAPPABLE, is on the BAR holding the MSI-X table, which cannot be
/// aliased: it cannot be write-combining), so a window has none to clip.
pub(super) fn region_info(
    dev: &Device,
    i: usize,
    info: &mut RegionInfo,
    caps: &mut InfoCaps,
) -> Result {
    // Copy the entry out under RCU; everything below may sleep.
    let alias = dev.aliases.get(i).ok_or(EINVAL)?;
    let t = alias.span;
    let index = info.index;
    info.index = t.index;
    let ret = dev.core().region_info(info, caps);
    info.index = index;
    ret?;
    info.offset = vfio::index_to_offset(index);
    if t.is_window() {
        info.size = t.size;
    }
    info.flags &= uapi::VFIO_REGION_INFO_FLAG_READ
        | uapi::VFIO_REGION_INFO_FLAG_WRITE
        | uapi::VFIO_REGION_INFO_FLAG_MMAP;
    info.flags |= uapi::VFIO_REGION_INFO_FLAG_ALIAS;
    // SET only accepts attributes the mapping will really have.
    if alias.attrs & uapi::VFIO_ALIAS_ATTR_WC != 0 {
        info.flags |= uapi::VFIO_REGION_INFO_FLAG_WC;
    }
    caps.add(&CapAlias::new(t.index, alias.attrs, t.start, info.size))
}
