// SPDX-License-Identifier: GPL-2.0

//! The vfio-pci-alias driver: policy only, on the safe abstractions of
//! [`crate::staging`].
//!
//! What differs from vfio-pci: the ALIAS_REGION device feature
//! ([`alias`]), alias regions in GET_INFO, GET_REGION_INFO, read/write and
//! mmap ([`regions`], [`mmap`]), the per-BAR memory type that keeps x86 PAT
//! consistent while a BAR is mapped write-combining ([`bars`], [`windows`],
//! [`chunked_map`], [`alias_cache`]), write-combining by policy
//! ([`policy`], the `wc_bars` attribute) and a debugfs view ([`debugfs`]).
//! What it shares with vfio-pci: the denylist ([`denylist`]) and the module
//! parameters.

// Policy only: every `unsafe` of the crate is in `crate::staging`.
#![forbid(unsafe_code)]

mod alias;
mod alias_cache;
mod bars;
mod chunked_map;
mod debugfs;
pub(crate) mod denylist;
mod dmabuf;
mod dmabuf_map;
mod importers;
mod mmap;
pub(crate) mod policy;
mod regions;
mod windows;

use crate::staging::{
    sync::rcu_table::RcuTable,
    sysfs::{Attr, Page},
    uapi::{self, IoeventfdRequest},
    vfio::{self, InfoCaps, Mmap, RegionInfo},
};
use alias::Alias;
use bars::Bars;
use core::fmt::{self, Write};
use kernel::{
    debugfs::Dir,
    new_mutex, pci,
    prelude::*,
    sync::Mutex,
    uaccess::{UserPtr, UserSlice},
};
use regions::Region;

/// Per-device state of a device bound to vfio-pci-alias.
#[pin_data]
pub(crate) struct AliasDevice {
    /// The debugfs view, which holds a reference on the device: dropped at
    /// unbinding.
    #[pin]
    view: Mutex<Option<debugfs::Files>>,
    /// The aliases of this open of the device; emptied at the last close.
    #[pin]
    aliases: RcuTable<Alias>,
    /// Core's `VFIO_DEVICE_GET_INFO` of the device can carry capabilities
    /// (then core answers it, and the alias count is patched in).
    info_caps: bool,
    /// Where the MSI-X table is, as read at probe: the policy never puts
    /// that BAR write-combining, whatever config space reads later.
    msix: vfio::MsixTable,
    /// Memory type and users of each BAR.
    #[pin]
    bars: Bars,
    /// The DMABUFs exported in this open, until their release or the last
    /// close.
    #[pin]
    dmabufs: Mutex<KVec<dmabuf::Listed>>,
    /// When the DMABUFs' P2P importers may map.
    #[pin]
    importers: importers::Gate,
}

/// A vfio device of this driver.
type Device = vfio::Device<AliasDevice>;

impl AliasDevice {
    /// `VFIO_DEVICE_IOEVENTFD`. Core reads the request from user memory
    /// again, and acts on what it reads then, whatever we read: so our copy
    /// only decides answers that do not reach core, and core is called
    /// inside every BAR's gate ([`Bars::enter_all`]). No BAR changes
    /// mode meanwhile, and core finds a mapping to point an ioeventfd into
    /// only on a BAR that is uncached and core's; every other BAR has an
    /// error pointer there (`EBUSY`), for a new ioeventfd as for a removal,
    /// as none can exist there.
    fn ioeventfd(dev: &Device, arg: usize) -> Result<isize> {
        let size = core::mem::size_of::<IoeventfdRequest>();
        let req: IoeventfdRequest = UserSlice::new(UserPtr::from_addr(arg), size)
            .reader()
            .read()?;
        // Core would take an alias's index for a region of its own.
        if let Region::Alias(_) = regions::classify(dev, vfio::offset_to_index(req.0.offset)) {
            return Err(EINVAL);
        }
        dev.bars.enter_all(dev.core())?.ioeventfd(arg)
    }

    /// `read()` or `write()` of `count` bytes at `*pos`. An alias offset is
    /// turned into the same offset of the aliased BAR (or window of it).
    ///
    /// A BAR's access runs inside its gate, so that the BAR's kernel
    /// mappings cannot change under it ([`Bars::enter`]): core's, by core,
    /// or ours (write-combining, or windowed).
    #[inline]
    fn rw(dev: &Device, buf: UserPtr, count: usize, pos: &mut i64, write: bool) -> Result<isize> {
        // As core: nothing to do is done, whatever the offset.
        if count == 0 {
            return Ok(0);
        }
        let offset = *pos as u64;
        let (bar, at, count) = match regions::classify(dev, vfio::offset_to_index(offset)) {
            Region::Core if write && importers::write_may_take_memory(dev, offset, count) => {
                return importers::pause_around(dev, || dev.core().rw(buf, count, pos, write));
            }
            Region::Core => return dev.core().rw(buf, count, pos, write),
            Region::Bar(bar) => (bar, offset, count),
            Region::Alias(i) => {
                let t = alias::span(dev, i)?;
                let mut x = vfio::offset_in_region(offset);
                let mut count = count;
                if t.is_window() {
                    // As core for a BAR: nothing at or past the end.
                    if x >= t.size {
                        return Err(EINVAL);
                    }
                    count = count.min((t.size - x) as usize);
                    x += t.start;
                }
                (t.index as usize, vfio::index_to_offset(t.index) | x, count)
            }
        };
        let done = dev.bars.enter(dev.core(), bar)?.rw(buf, count, at, write)?;
        *pos += done as i64;
        Ok(done)
    }
}

#[vtable]
impl vfio::Driver for AliasDevice {
    const NAME: &'static CStr = crate::DRIVER_NAME;

    const ATTRS: &'static [Attr<Device>] = &[Attr {
        name: c"wc_bars",
        show: Self::show_wc_bars,
        store: Some(Self::store_wc_bars),
    }];

    fn new(core: &vfio::CoreDevice) -> impl PinInit<Self, Error> {
        let msix = core.msix_table();
        // The module's default; the module refused to load with a bad one.
        let policy = policy::module_default()
            .and_then(|spec| policy::resolve(core, msix, spec, false))
            .unwrap_or_default();
        try_pin_init!(Self {
            view <- new_mutex!(None),
            aliases <- RcuTable::new(alias::MAX_ALIASES),
            info_caps: core.info_caps_possible(),
            msix,
            bars <- Bars::new(core, policy),
            dmabufs <- new_mutex!(KVec::new()),
            importers <- importers::Gate::new(),
        })
    }

    fn may_bind(pdev: &pci::Device) -> Result {
        denylist::check(pdev)
    }

    fn bound(dev: &Device, debugfs: &Dir) {
        Self::show_in(dev, debugfs);
    }

    fn unbinding(dev: &Device) {
        Self::hide(dev);
    }

    fn reset_prepare(dev: &Device) {
        importers::reset_prepare(dev);
    }

    fn reset_done(dev: &Device) {
        importers::reset_done(dev);
    }

    fn open_device(dev: &Device) -> Result {
        dev.core().enable()?;
        // The policy's BARs are write-combining from here to close.
        if let Err(e) = dev.bars.open(dev.core()) {
            dev.bars.reset();
            dev.core().disable();
            return Err(e);
        }
        dev.core().finish_enable();
        Ok(())
    }

    fn close_device(dev: &Device) {
        // DMABUFs live for one open of the device, and give their BAR holds
        // back first.
        dmabuf::revoke_all(dev);
        // Core's close unmaps and releases what its own mapping covers.
        dev.bars.close(dev.core());
        dev.core().close();
        // Aliases live for one open of the device, like core's own regions.
        dev.aliases.clear();
        dev.bars.cache().clear();
        dev.bars.reset();
    }

    #[inline]
    fn ioctl(dev: &Device, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            // Core's answer, with the aliases counted.
            uapi::VFIO_DEVICE_GET_INFO => {
                let regions = regions::alias_base(dev) + dev.aliases.len() as u32;
                dev.core().device_info(arg, regions, dev.info_caps)
            }
            uapi::VFIO_DEVICE_IOEVENTFD => Self::ioeventfd(dev, arg),
            // The reset itself pauses and resumes the importers
            // (`reset_done`); the memory may also be back without one (the
            // function was in D3hot).
            uapi::VFIO_DEVICE_RESET => importers::settle_after(dev, || dev.core().ioctl(cmd, arg)),
            _ => dev.core().ioctl(cmd, arg),
        }
    }

    #[inline]
    fn region_info(dev: &Device, info: &mut RegionInfo, caps: &mut InfoCaps) -> Result {
        match regions::classify(dev, u64::from(info.index)) {
            Region::Alias(i) => alias::region_info(dev, i, info, caps),
            Region::Bar(bar) => {
                dev.core().region_info(info, caps)?;
                if dev.bars.is_policy_wc(bar) {
                    info.flags |= uapi::VFIO_REGION_INFO_FLAG_WC;
                }
                Ok(())
            }
            Region::Core => dev.core().region_info(info, caps),
        }
    }

    fn device_feature(dev: &Device, flags: u32, arg: UserPtr, argsz: usize) -> Result<i32> {
        match flags & uapi::VFIO_DEVICE_FEATURE_MASK {
            uapi::VFIO_DEVICE_FEATURE_ALIAS_REGION => alias::feature(dev, flags, arg, argsz)?,
            // Ours in place of core's: the DMABUFs can be mmap()ed.
            uapi::VFIO_DEVICE_FEATURE_DMA_BUF => return dmabuf::export(dev, flags, arg, argsz),
            uapi::VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE => {
                dmabuf::revoke_feature(dev, flags, arg, argsz)?
            }
            uapi::VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR => {
                dmabuf::memattr_feature(dev, flags, arg, argsz)?
            }
            uapi::VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY
            | uapi::VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP => {
                importers::pause_around(dev, || dev.core().device_feature(flags, arg, argsz))?
            }
            uapi::VFIO_DEVICE_FEATURE_LOW_POWER_EXIT => {
                importers::settle_after(dev, || dev.core().device_feature(flags, arg, argsz))?
            }
            _ => dev.core().device_feature(flags, arg, argsz)?,
        }
        Ok(0)
    }

    #[inline]
    fn read(dev: &Device, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize> {
        Self::rw(dev, buf, count, pos, false)
    }

    #[inline]
    fn write(dev: &Device, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize> {
        Self::rw(dev, buf, count, pos, true)
    }

    fn mmap(dev: &Device, vma: &Mmap<'_, Self>) -> Result {
        match regions::classify(dev, vma.index()) {
            Region::Bar(bar) => mmap::bar(dev, bar, vma),
            Region::Alias(i) => mmap::alias(dev, i, dev.aliases.get(i).ok_or(EINVAL)?, vma),
            Region::Core => vma.core_mmap(),
        }
    }
}

impl AliasDevice {
    /// `wc_bars`: the write-combining policy, as it is written.
    fn show_wc_bars(dev: &Device, page: &mut Page<'_>) -> fmt::Result {
        writeln!(page, "{}", dev.bars.policy())
    }

    /// `wc_bars`: sets the write-combining policy, for the next open. Every
    /// BAR must be able to be write-combining (`EINVAL`); `EBUSY` while the
    /// device is open. Nothing changes on an error.
    fn store_wc_bars(dev: &Device, input: &[u8]) -> Result {
        let spec = policy::Spec::parse(input)?;
        let set = policy::resolve(dev.core(), dev.msix, spec, true)?;
        dev.bars.set_policy(dev.core(), set)
    }
}
