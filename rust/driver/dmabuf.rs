// SPDX-License-Identifier: GPL-2.0

//! DMABUFs of BAR ranges that client processes can mmap(): export
//! (`VFIO_DEVICE_FEATURE_DMA_BUF`, which we serve in place of core), the
//! permanent revoke and the memory attribute of each DMABUF.
//!
//! Each DMABUF holds the device ([`DmaBuf::dev`]) and sits in the device's
//! list from export until its release or the device's last close, which
//! revokes every DMABUF still listed. The VMAs of a DMABUF are in the device
//! file's page mapping at the DMABUF's own offsets, which core's zaps of all
//! BARs cover; their memory type is owned as the windows' is
//! ([`super::dmabuf_map`]).
//!
//! Locks, outermost first: a DMABUF's `maps`, the BARs' users lock
//! ([`super::bars`]), core's `memory_lock`; the device's list lock is only
//! ever held alone, and no DMABUF reference is dropped under it (a drop may
//! release the DMABUF, whose release takes it).

use super::{dmabuf_map, importers, windows::DmaBufWindow, AliasDevice, Device};
use crate::staging::{
    dma_buf::{dma_buf_ops, DmaBufMmap, DmaBufRef, Exported, Exporter},
    uapi::{self, DmaBufRequest, DmaRange, MemattrRequest, RevokeRequest},
    vfio::{self, DeviceBuf, DeviceRef, NUM_BARS},
};
use kernel::{
    alloc::flags::__GFP_NOWARN,
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        atomic::{Atomic, Full, Relaxed},
        Arc, Mutex,
    },
    uaccess::{UserPtr, UserSlice},
};

/// One range of a DMABUF: `len` bytes at `bar_off` of the BAR.
#[derive(Clone, Copy)]
pub(super) struct Range {
    pub(super) bar_off: u64,
    pub(super) len: u64,
}

/// The write-combining mappings of a DMABUF, and what they hold of the BAR.
pub(super) struct Maps {
    /// VMAs of the DMABUF that are write-combining.
    pub(super) wc: usize,
    /// While `wc > 0`, these windows.
    pub(super) windows: KVec<DmaBufWindow>,
    /// The holds of every VMA (these, and the uncached ones of
    /// [`DmaBuf::nc`]) were given up by a revoke: VMAs that remain hold
    /// nothing.
    pub(super) released: bool,
}

/// In [`DmaBuf::nc`]: the uncached VMAs' holds were given up by a revoke.
pub(super) const NC_RELEASED: usize = 1 << (usize::BITS - 1);

/// The exporter's data of a DMABUF of ours.
#[pin_data]
pub(crate) struct DmaBuf {
    pub(super) dev: DeviceRef<AliasDevice>,
    pub(super) bar: usize,
    /// In DMABUF order: offset 0 is the first byte of the first range.
    pub(super) ranges: KVec<Range>,
    /// Revoked for good. Written with core's `memory_lock` held for writing
    /// and `maps` held: faults (under `memory_lock`) and write-combining
    /// mmap()s (under `maps`) see it; an uncached mmap() that does not is
    /// told by [`NC_RELEASED`], and its VMA faults see it.
    pub(super) revoked: Atomic<bool>,
    /// `VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_*` of later mmap()s.
    pub(super) memattr: Atomic<u32>,
    /// Uncached VMAs of the DMABUF, each holding an uncached mapping of the
    /// BAR ([`super::bars::Bars::map`]) as the BAR region's VMAs do,
    /// counted without a lock (a VMA takes its hold, then counts itself),
    /// and [`NC_RELEASED`] once a revoke gave their holds back.
    pub(super) nc: Atomic<usize>,
    #[pin]
    pub(super) maps: Mutex<Maps>,
}

impl DeviceBuf<AliasDevice> for DmaBuf {
    fn device(&self) -> &DeviceRef<AliasDevice> {
        &self.dev
    }
}

impl Exporter for DmaBuf {
    dma_buf_ops!(DmaBuf);

    fn mmap(buf: &Exported<Self>, vma: &DmaBufMmap<'_, Self>) -> Result {
        dmabuf_map::mmap(buf, vma)
    }

    fn release(buf: &Exported<Self>) {
        let dev = &buf.dev;
        let removed = {
            let mut list = dev.dmabufs.lock();
            list.iter()
                .position(|b| core::ptr::eq(&**b, buf))
                .and_then(|i| list.remove(i).ok())
        };
        // Not the last reference (dma-buf core's is), and dropped unlocked.
        drop(removed);
    }
}

impl DmaBuf {
    /// Gives up what the DMABUF's mappings hold of the BAR, for good.
    fn release_holds(&self, maps: &mut Maps) {
        if maps.released {
            return;
        }
        maps.released = true;
        let core = self.dev.core();
        let nc = self.nc.xchg(NC_RELEASED, Full);
        for _ in 0..nc & !NC_RELEASED {
            self.dev.bars.unmap(core, self.bar, false);
        }
        if maps.wc > 0 {
            self.dev
                .bars
                .unmap_dmabuf_windows(core, self.bar, &maps.windows);
            maps.windows.clear();
        }
    }

    /// Where page `page` of the DMABUF is: its range and its page in it.
    pub(super) fn locate(&self, page: u64) -> Option<(usize, u64)> {
        let mut first = 0u64;
        for (i, r) in self.ranges.iter().enumerate() {
            let pages = r.len / PAGE_SIZE as u64;
            if page < first + pages {
                return Some((i, page - first));
            }
            first += pages;
        }
        None
    }
}

/// Revokes `buf` for good: its mappings lose their PTEs and fault SIGBUS,
/// it cannot be mapped again, its BAR holds are given up, and its importers
/// are invalidated and waited for. `EBADFD` if it was revoked already.
fn revoke(buf: &Exported<DmaBuf>) -> Result {
    let dev = &buf.dev;
    {
        let mut maps = buf.maps.lock();
        if buf.revoked.load(Relaxed) {
            return Err(EBADFD);
        }
        dev.core().with_memory_locked(|locked| {
            buf.revoked.store(true, Relaxed);
            // Its VMAs are at offsets below its size (every other DMABUF's
            // and BAR 0's there fault back).
            locked.zap_offsets(0, buf.size() as u64);
        });
        buf.release_holds(&mut maps);
    }
    buf.revoke_importers();
    Ok(())
}

/// At the device's last close, before the BARs are released: every DMABUF
/// of this open is revoked and leaves the list.
pub(super) fn revoke_all(dev: &Device) {
    let list = core::mem::take(&mut *dev.dmabufs.lock());
    for buf in list.iter() {
        // Revoked already: nothing left to give up.
        let _ = revoke(buf);
    }
}

/// As `vfio_check_feature()`: `Ok(false)` for a PROBE (nothing to do),
/// `Ok(true)` to go on; `EINVAL` for an operation outside `ops`, for neither
/// GET nor SET, or for an argument shorter than `minsz`.
fn check_feature(flags: u32, argsz: usize, ops: u32, minsz: usize) -> Result<bool> {
    let get_set = uapi::VFIO_DEVICE_FEATURE_GET | uapi::VFIO_DEVICE_FEATURE_SET;
    if flags & get_set & !ops != 0 {
        return Err(EINVAL);
    }
    if flags & uapi::VFIO_DEVICE_FEATURE_PROBE != 0 {
        return Ok(false);
    }
    if flags & get_set == 0 || argsz < minsz {
        return Err(EINVAL);
    }
    Ok(true)
}

/// `VFIO_DEVICE_FEATURE_DMA_BUF`, GET: a new DMABUF of ranges of a BAR, as
/// core's `vfio_pci_core_feature_dma_buf()` makes one (same checks, same
/// errnos, in the same order), that can also be mmap()ed. The request is
/// read from user memory once. Returns the DMABUF's fd.
pub(super) fn export(dev: &Device, flags: u32, arg: UserPtr, argsz: usize) -> Result<i32> {
    let head = core::mem::size_of::<DmaBufRequest>();
    if !check_feature(flags, argsz, uapi::VFIO_DEVICE_FEATURE_GET, head)? {
        return Ok(0);
    }
    let req: DmaBufRequest = UserSlice::new(arg, head).reader().read()?;
    if req.nr_ranges == 0 || req.flags != 0 {
        return Err(EINVAL);
    }
    let bar = req.region_index as usize;
    let core = dev.core();
    // As core: the BAR's resources must be claimed (its kernel mapping,
    // core's or ours, exists).
    if bar >= NUM_BARS || dev.bars.bar_usable(core, bar).is_err() {
        return Err(ENODEV);
    }
    // As core, the ranges follow the header whatever `argsz` says.
    let n = req.nr_ranges as usize;
    let step = core::mem::size_of::<DmaRange>();
    let mut raw: KVec<DmaRange> = KVec::with_capacity(n, GFP_KERNEL | __GFP_NOWARN)?;
    let mut reader = UserSlice::new(arg.wrapping_byte_add(head), n * step).reader();
    for _ in 0..n {
        raw.push(reader.read()?, GFP_KERNEL)?;
    }
    let mut ranges = KVec::with_capacity(n, GFP_KERNEL | __GFP_NOWARN)?;
    let mut size: u64 = 0;
    let page = PAGE_SIZE as u64;
    for r in raw.iter() {
        if r.length == 0 || r.offset % page != 0 || r.length % page != 0 {
            return Err(EINVAL);
        }
        size = size.checked_add(r.length).ok_or(EINVAL)?;
        ranges.push(
            Range {
                bar_off: r.offset,
                len: r.length,
            },
            GFP_KERNEL,
        )?;
    }
    // DMA_IOVA_USE_SWIOTLB: importers would take it for a flag.
    if size & (1 << 63) != 0 || usize::try_from(size).is_err() {
        return Err(EINVAL);
    }
    let phys = core.dmabuf_phys(bar, &mut raw)?;
    let new = Exported::export(
        phys,
        req.open_flags,
        try_pin_init!(DmaBuf {
            dev: dev.get_ref(),
            bar,
            ranges,
            revoked: Atomic::new(false),
            memattr: Atomic::new(uapi::MEMATTR_NC),
            nc: Atomic::new(0),
            maps <- new_mutex!(Maps {
                wc: 0,
                windows: KVec::new(),
                released: false,
            }),
        }),
    )?;
    vfio::Device::share_mapping(&new);
    dev.bars.note_dmabuf(size);
    // On an error the DMABUF is released, unlocked.
    importers::add(dev, new.buf())?;
    dev_dbg!(
        core.device(),
        "DMABUF of BAR {} ({} ranges, {:#x} bytes)\n",
        bar,
        n,
        size
    );
    new.into_fd(req.open_flags)
}

/// The DMABUF of `fd` if this device exported it in this open: `EBADF`,
/// `EINVAL` (not a DMABUF), `ENODEV` (another exporter's or device's, or of
/// an earlier open).
fn lookup(dev: &Device, fd: i32) -> Result<DmaBufRef<DmaBuf>> {
    let buf = Exported::<DmaBuf>::from_fd(fd)?;
    let listed = dev
        .dmabufs
        .lock()
        .iter()
        .any(|b| core::ptr::eq(&**b, &*buf));
    // `buf` is dropped (maybe released) with the list unlocked.
    if !listed {
        return Err(ENODEV);
    }
    Ok(buf)
}

/// `VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE`, SET (and PROBE).
pub(super) fn revoke_feature(dev: &Device, flags: u32, arg: UserPtr, argsz: usize) -> Result {
    let size = core::mem::size_of::<RevokeRequest>();
    if !check_feature(flags, argsz, uapi::VFIO_DEVICE_FEATURE_SET, size)? {
        return Ok(());
    }
    let req: RevokeRequest = UserSlice::new(arg, size).reader().read()?;
    let buf = lookup(dev, req.0.dmabuf_fd)?;
    revoke(&buf)
}

/// Whether `bar` can be write-combining: not without PAT, and never the
/// MSI-X BAR (the PCI core maps its table uncached).
fn wc_possible(dev: &Device, bar: usize) -> bool {
    vfio::wc_supported() && dev.core().msix_bar() != Some(bar)
}

/// `VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR`, GET and SET (and PROBE). SET
/// applies to later mmap()s: `ENOENT` for an unknown attribute,
/// `EOPNOTSUPP` for WC where it cannot be, `EBADFD` once revoked.
pub(super) fn memattr_feature(dev: &Device, flags: u32, arg: UserPtr, argsz: usize) -> Result {
    let size = core::mem::size_of::<MemattrRequest>();
    let ops = uapi::VFIO_DEVICE_FEATURE_GET | uapi::VFIO_DEVICE_FEATURE_SET;
    if !check_feature(flags, argsz, ops, size)? {
        return Ok(());
    }
    let mut req: MemattrRequest = UserSlice::new(arg, size).reader().read()?;
    let buf = lookup(dev, req.0.dmabuf_fd)?;
    if flags & uapi::VFIO_DEVICE_FEATURE_GET != 0 {
        req.0.memattr = buf.memattr.load(Relaxed);
        return UserSlice::new(arg, size).writer().write(&req);
    }
    let attr = req.0.memattr;
    match attr {
        uapi::MEMATTR_NC => {}
        uapi::MEMATTR_WC if wc_possible(dev, buf.bar) => {}
        uapi::MEMATTR_WC => return Err(EOPNOTSUPP),
        _ => return Err(ENOENT),
    }
    // Under `maps`, against a revoke.
    let _maps = buf.maps.lock();
    if buf.revoked.load(Relaxed) {
        return Err(EBADFD);
    }
    buf.memattr.store(attr, Relaxed);
    Ok(())
}

/// A DMABUF list entry.
pub(super) type Listed = Arc<Exported<DmaBuf>>;
