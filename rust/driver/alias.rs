// SPDX-License-Identifier: GPL-2.0

//! The ALIAS_REGION device feature and the region info of an alias.
//!
//! Semantics and errnos are those of `include/uapi/linux/vfio_pci_alias.h`.

use super::{AliasDevice, Device, Region};
use crate::{
    bindings,
    region_table::Inserted,
    uapi::{AliasRequest, CapAlias},
    vfio::{self, InfoCaps, RegionInfo},
};
use kernel::{
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
    uaccess::UserPtr,
    uaccess::UserSlice,
};

/// An alias: the region it maps and its `VFIO_ALIAS_ATTR_*`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Alias {
    pub(super) target: u32,
    pub(super) attrs: u32,
}

/// Attributes this driver implements.
const ATTRS: u32 = bindings::VFIO_ALIAS_ATTR_ALL;

/// Largest alias table: only BARs can be aliased and aliases are
/// deduplicated by (BAR, attributes), so one entry per BAR and non-empty
/// attribute set.
pub(super) const MAX_ALIASES: usize = vfio::NUM_BARS * ((1 << ATTRS.count_ones()) - 1);

/// The region each alias maps, for read() and write(), which need nothing
/// else of it: an atomic read instead of an RCU read section of the table.
///
/// Slot `i` is 0 until SET returned alias `i`, then its target plus one,
/// until the aliases are cleared. A reader that finds 0 asks the table.
pub(super) struct Targets([Atomic<u32>; MAX_ALIASES]);

impl Targets {
    pub(super) const fn new() -> Self {
        Self([const { Atomic::new(0) }; MAX_ALIASES])
    }

    /// The region alias `i` maps, if SET already returned it.
    pub(super) fn get(&self, i: usize) -> Option<u32> {
        self.0.get(i)?.load(Relaxed).checked_sub(1)
    }

    fn set(&self, i: usize, target: u32) {
        if let Some(slot) = self.0.get(i) {
            slot.store(target + 1, Relaxed);
        }
    }

    /// Forgets every alias (with the table, at the last close).
    pub(super) fn clear(&self) {
        for slot in &self.0 {
            slot.store(0, Relaxed);
        }
    }
}

/// Size of the uAPI argument.
const REQUEST_SIZE: usize = core::mem::size_of::<AliasRequest>();

/// Attributes `index` can be aliased with, or `EINVAL` if it cannot be
/// aliased at all (out of range, an alias, not an mmap-capable BAR).
fn supported_attrs(dev: &Device, index: u32) -> Result<u32> {
    let bar = match AliasDevice::classify(dev, u64::from(index)) {
        Region::Bar(bar) if dev.core().bar_mmap_supported(bar) => bar,
        _ => return Err(EINVAL),
    };
    // The PCI core maps the MSI-X table uncached for as long as MSI-X is on,
    // so that BAR can never be write-combining under PAT's rule.
    let wc = vfio::wc_supported() && dev.core().msix_bar() != Some(bar);
    Ok(if wc { bindings::VFIO_ALIAS_ATTR_WC } else { 0 })
}

/// `VFIO_DEVICE_FEATURE` for ALIAS_REGION: PROBE and SET.
pub(super) fn feature(dev: &Device, flags: u32, arg: UserPtr, argsz: usize) -> Result {
    let get = flags & bindings::VFIO_DEVICE_FEATURE_GET != 0;
    let set = flags & bindings::VFIO_DEVICE_FEATURE_SET != 0;
    let probe = flags & bindings::VFIO_DEVICE_FEATURE_PROBE != 0;
    // As vfio_check_feature(): GET is not supported; without PROBE, SET is
    // required.
    if get || (!probe && !set) {
        return Err(EINVAL);
    }
    // A PROBE without payload only asks whether the feature exists.
    if probe && argsz == 0 {
        return Ok(());
    }
    if argsz < REQUEST_SIZE {
        return Err(EINVAL);
    }
    let (mut reader, mut writer) = UserSlice::new(arg, REQUEST_SIZE).reader_writer();
    let AliasRequest(mut req) = reader.read()?;
    if req.__reserved1 != 0 || req.__reserved2 != 0 || req.alias_index != 0 {
        return Err(EINVAL);
    }
    let supported = supported_attrs(dev, req.index)?;
    if probe {
        req.flags = supported;
    } else {
        if req.flags == 0 || req.flags & !ATTRS != 0 {
            return Err(EINVAL);
        }
        if req.flags & !supported != 0 {
            return Err(EOPNOTSUPP);
        }
        let alias = Alias {
            target: req.index,
            attrs: req.flags,
        };
        let at = dev.aliases.insert_unique(alias)?;
        dev.targets.set(at.index(), req.index);
        if let Inserted::New(i) = at {
            dev_dbg!(
                dev.core().device(),
                "alias {} of region {} with attributes {:#x}\n",
                i,
                req.index,
                req.flags
            );
        }
        req.alias_index = AliasDevice::alias_base(dev) + at.index() as u32;
    }
    writer.write(&AliasRequest(req))
}

/// `VFIO_DEVICE_GET_REGION_INFO` of alias `i`: the aliased region's size,
/// READ/WRITE/MMAP flags and capabilities (its sparse-mmap areas among
/// them), with the alias's own offset, the ALIAS and attribute flags and the
/// alias capability.
pub(super) fn region_info(
    dev: &Device,
    i: usize,
    info: &mut RegionInfo,
    caps: &mut InfoCaps,
) -> Result {
    // Copy the entry out under RCU; everything below may sleep.
    let alias = dev.aliases.get(i).ok_or(EINVAL)?;
    let index = info.index;
    info.index = alias.target;
    let ret = dev.core().region_info(info, caps);
    info.index = index;
    ret?;
    info.offset = vfio::index_to_offset(index);
    info.flags &= bindings::VFIO_REGION_INFO_FLAG_READ
        | bindings::VFIO_REGION_INFO_FLAG_WRITE
        | bindings::VFIO_REGION_INFO_FLAG_MMAP;
    info.flags |= bindings::VFIO_REGION_INFO_FLAG_ALIAS;
    // SET only accepts attributes the mapping will really have.
    if alias.attrs & bindings::VFIO_ALIAS_ATTR_WC != 0 {
        info.flags |= bindings::VFIO_REGION_INFO_FLAG_WC;
    }
    caps.add(&CapAlias::new(alias.target, alias.attrs))
}
