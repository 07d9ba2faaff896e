// SPDX-License-Identifier: GPL-2.0

//! The vfio-pci-alias driver logic, on top of the abstractions in
//! [`crate::vfio`], [`crate::vma`] and [`crate::region_table`].
//!
//! What differs from vfio-pci: the ALIAS_REGION device feature
//! ([`alias`]), alias regions in GET_INFO, GET_REGION_INFO, read/write and
//! mmap, the per-BAR memory type that keeps x86 PAT consistent while a
//! BAR is mapped write-combining ([`bars`], [`mapping`]), write-combining
//! by policy ([`policy`], the `wc_bars` attribute) and a debugfs view
//! ([`view`]). What it shares with vfio-pci: the denylist ([`denylist`]) and
//! the module parameters.

mod alias;
mod bars;
pub(crate) mod denylist;
mod mapping;
pub(crate) mod policy;
mod view;
mod windows;

use crate::{
    bindings,
    region_table::RegionTable,
    sysfs::{Attr, Page},
    uapi::IoeventfdRequest,
    vfio::{self, InfoCaps, RegionInfo},
};
use alias::Alias;
use bars::Bars;
use core::fmt::{self, Write};
use kernel::{
    debugfs::Dir,
    device,
    mm::virt::VmaNew,
    new_mutex,
    prelude::*,
    sync::Mutex,
    uaccess::{UserPtr, UserSlice},
};

/// Per-device state of a device bound to vfio-pci-alias.
#[pin_data]
pub(crate) struct AliasDevice {
    /// The debugfs view; first, so that it goes before what it shows.
    #[pin]
    view: Mutex<Option<view::Files>>,
    /// The aliases of this open of the device; emptied at the last close.
    #[pin]
    aliases: RegionTable<Alias>,
    /// Core's `VFIO_DEVICE_GET_INFO` of the device can carry capabilities
    /// (then core answers it, and the alias count is patched in).
    info_caps: bool,
    /// Where the MSI-X table is, as read at probe: the policy never puts
    /// that BAR write-combining, whatever config space reads later.
    msix: vfio::MsixTable,
    /// Memory type and users of each BAR.
    #[pin]
    bars: Bars,
}

/// A vfio device of this driver.
type Device = vfio::Device<AliasDevice>;

/// Where a region index points.
enum Region {
    /// A BAR: `vfio_pci_core` serves it, we keep its memory type.
    Bar(usize),
    /// One of our aliases, at this position of the table.
    Alias(usize),
    /// Anything else core serves (ROM, config, VGA, device regions).
    Core,
}

impl AliasDevice {
    /// Index of the first alias: after the fixed regions and those core
    /// registered for the device at open.
    fn alias_base(dev: &Device) -> u32 {
        vfio::NUM_REGIONS + dev.core().dev_regions()
    }

    #[inline]
    fn classify(dev: &Device, index: u64) -> Region {
        let base = u64::from(Self::alias_base(dev));
        if index < vfio::NUM_BARS as u64 {
            Region::Bar(index as usize)
        } else if index >= base && index - base < dev.aliases.len() as u64 {
            Region::Alias((index - base) as usize)
        } else {
            Region::Core
        }
    }

    /// `VFIO_DEVICE_IOEVENTFD`. Core reads the request from user memory
    /// again, and acts on what it reads then, whatever we read: so our copy
    /// only decides answers that do not reach core, and core is called
    /// inside every BAR's gate ([`bars::Bars::enter_all`]). No BAR changes
    /// mode meanwhile, and core finds a mapping to point an ioeventfd into
    /// only on a BAR that is uncached and core's; every other BAR has an
    /// error pointer there (`EBUSY`), for a new ioeventfd as for a removal,
    /// as none can exist there.
    fn ioeventfd(dev: &Device, cmd: u32, arg: usize) -> Result<isize> {
        let size = core::mem::size_of::<IoeventfdRequest>();
        let req: IoeventfdRequest = UserSlice::new(UserPtr::from_addr(arg), size)
            .reader()
            .read()?;
        // Core would take an alias's index for a region of its own.
        if let Region::Alias(_) = Self::classify(dev, vfio::offset_to_index(req.0.offset)) {
            return Err(EINVAL);
        }
        let _all = dev.bars.enter_all(dev.core())?;
        dev.core().ioctl(cmd, arg)
    }

    /// `read()` or `write()` of `count` bytes at `*pos`. An alias offset is
    /// turned into the same offset of the aliased BAR (or window of it).
    ///
    /// A BAR's access runs inside its gate, so that the BAR's kernel
    /// mappings cannot change under it ([`Bars::enter`]): core's, by core,
    /// or the BAR's own layout (write-combining, or windowed), by us. What
    /// we serve ourselves wakes the device first, as core's read/write do.
    #[inline]
    fn rw(dev: &Device, buf: UserPtr, count: usize, pos: &mut i64, write: bool) -> Result<isize> {
        // As core: nothing to do is done, whatever the offset.
        if count == 0 {
            return Ok(0);
        }
        let core = dev.core();
        let core_rw = |count: usize, at: &mut i64| {
            if write {
                core.write(buf, count, at)
            } else {
                core.read(buf, count, at)
            }
        };
        let offset = *pos as u64;
        let (bar, at, count) = match Self::classify(dev, vfio::offset_to_index(offset)) {
            Region::Core => return core_rw(count, pos),
            Region::Bar(bar) => (bar, offset, count),
            Region::Alias(i) => {
                let t = alias::target(dev, dev.bars.slots(), i)?;
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
        let io = dev.bars.enter(core, bar)?;
        let done = match io.layout() {
            Some(layout) => {
                let _awake = core.runtime_get()?;
                layout.rw(core, buf, count, vfio::offset_in_region(at), write)?
            }
            None => core_rw(count, &mut (at as i64))?,
        };
        drop(io);
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
            aliases <- RegionTable::new(alias::MAX_ALIASES),
            info_caps: core.info_caps_possible(),
            msix,
            bars <- Bars::new(policy),
        })
    }

    fn may_bind(dev: &device::Device, vendor: u16, device: u16) -> Result {
        denylist::check(dev, vendor, device)
    }

    fn bound(dev: &Device, debugfs: &Dir) {
        Self::show_in(dev, debugfs);
    }

    fn unbinding(dev: &Device) {
        Self::hide(dev);
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
        // Core's close unmaps and releases what its own mapping covers.
        dev.bars.close(dev.core());
        dev.core().close();
        // Aliases live for one open of the device, like core's own regions.
        dev.aliases.clear();
        dev.bars.slots().clear();
        dev.bars.reset();
    }

    #[inline]
    fn ioctl(dev: &Device, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            bindings::VPA_VFIO_DEVICE_GET_INFO => {
                let aliases = dev.aliases.len() as u32;
                // With aliases and no capability to report, the same answer
                // as core's with the aliases counted, at core's cost.
                if aliases > 0 && !dev.info_caps {
                    return dev
                        .core()
                        .device_info_without_caps(arg, Self::alias_base(dev) + aliases);
                }
                let ret = dev.core().ioctl(cmd, arg)?;
                // Core wrote `num_regions` (always: it is within the minimum
                // size) as its own regions, which end where aliases begin.
                // With aliases, one more user write; without, none.
                if aliases > 0 {
                    let field =
                        arg + core::mem::offset_of!(bindings::vfio_device_info, num_regions);
                    UserSlice::new(UserPtr::from_addr(field), 4)
                        .writer()
                        .write(&(Self::alias_base(dev) + aliases))?;
                }
                Ok(ret)
            }
            bindings::VPA_VFIO_DEVICE_IOEVENTFD => Self::ioeventfd(dev, cmd, arg),
            _ => dev.core().ioctl(cmd, arg),
        }
    }

    #[inline]
    fn region_info(dev: &Device, info: &mut RegionInfo, caps: &mut InfoCaps) -> Result {
        match Self::classify(dev, u64::from(info.index)) {
            Region::Alias(i) => alias::region_info(dev, i, info, caps),
            Region::Bar(bar) => {
                dev.core().region_info(info, caps)?;
                if dev.bars.is_policy_wc(bar) {
                    info.flags |= bindings::VFIO_REGION_INFO_FLAG_WC;
                }
                Ok(())
            }
            Region::Core => dev.core().region_info(info, caps),
        }
    }

    fn device_feature(dev: &Device, flags: u32, arg: UserPtr, argsz: usize) -> Result {
        if flags & bindings::VFIO_DEVICE_FEATURE_MASK == bindings::VFIO_DEVICE_FEATURE_ALIAS_REGION
        {
            alias::feature(dev, flags, arg, argsz)
        } else {
            dev.core().device_feature(flags, arg, argsz)
        }
    }

    #[inline]
    fn read(dev: &Device, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize> {
        Self::rw(dev, buf, count, pos, false)
    }

    #[inline]
    fn write(dev: &Device, buf: UserPtr, count: usize, pos: &mut i64) -> Result<isize> {
        Self::rw(dev, buf, count, pos, true)
    }

    fn mmap(dev: &Device, vma: &VmaNew) -> Result {
        let index = crate::vma::pgoff(vma) as u64 >> (vfio::OFFSET_SHIFT - bindings::PAGE_SHIFT);
        match Self::classify(dev, index) {
            Region::Bar(bar) => mapping::mmap_bar(dev, bar, vma),
            Region::Alias(i) => mapping::mmap_alias(dev, i, vma),
            Region::Core => dev.core().mmap(vma),
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
