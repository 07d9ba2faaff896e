// SPDX-License-Identifier: GPL-2.0

//! Windows: write-combining page ranges of a BAR whose other pages stay
//! uncached at the same time.
//!
//! x86 PAT keeps a memory type per physical range, so distinct pages of one
//! BAR may have distinct types as long as no mapping, the kernel's included,
//! covers a page with another one. While a window is *active* (mapped
//! through its alias, see [`super::bars`]):
//!
//! - the kernel maps the BAR in chunks ([`Layout`]): write-combining over the
//!   union of the active windows, uncached over the rest. Core's whole-BAR
//!   `barmap` is removed, and read()/write() of the BAR are served from the
//!   chunks ([`Layout::rw`]);
//! - user mappings fault in with the type those chunks reserved: the
//!   window's alias VMAs are write-combining, VMAs of the BAR's own region
//!   uncached; a fault of the latter on a page of an active window is
//!   refused ([`Slots::hit`]), and activation zaps such PTEs first.
//!
//! [`Slots`] holds what faults and read()/write() need of each alias
//! without a lock. See Documentation/vfio-pci-alias.rst.

use super::alias::MAX_ALIASES;
use crate::{
    iomap::IoMap,
    vfio::{self, CoreDevice},
};
use kernel::{
    prelude::*,
    sync::atomic::{Acquire, Atomic, Relaxed, Release},
    uaccess::UserPtr,
};

/// The part of a region an alias covers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Target {
    /// The aliased region's index.
    pub(crate) index: u32,
    /// Start of the window in the region; 0 for a whole-region alias.
    pub(crate) start: u64,
    /// Size of the window; 0 for a whole-region alias.
    pub(crate) size: u64,
}

impl Target {
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

/// Flag of [`Slot::target`]: the alias is a window.
const WINDOW: u32 = 1 << 31;

/// What [`Slots`] keeps of one alias.
pub(crate) struct Slot {
    /// Position in the table.
    index: usize,
    /// Region index plus one, with [`WINDOW`] for a window; 0 until SET
    /// returned the alias. Published after `start` and `size` (release).
    target: Atomic<u32>,
    start: Atomic<u64>,
    size: Atomic<u64>,
    /// The window's pages are write-combining in its BAR's [`Layout`], and
    /// faults of uncached VMAs on them are refused. Only changes with core's
    /// `memory_lock` held for writing; read with it held.
    active: Atomic<u32>,
    /// The device, for the VMA operations of the window's mappings
    /// (`*const super::Device`); stored before the first is installed.
    owner: Atomic<usize>,
}

impl Slot {
    fn new(index: usize) -> Self {
        Self {
            index,
            target: Atomic::new(0),
            start: Atomic::new(0),
            size: Atomic::new(0),
            active: Atomic::new(0),
            owner: Atomic::new(0),
        }
    }

    /// Position of the alias in the table.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// One atomic read for a whole-region alias (read()/write() of aliases
    /// take this path), three for a window.
    #[inline]
    fn target(&self) -> Option<Target> {
        let word = self.target.load(Acquire);
        let index = (word & !WINDOW).checked_sub(1)?;
        if word & WINDOW == 0 {
            return Some(Target {
                index,
                start: 0,
                size: 0,
            });
        }
        Some(Target {
            index,
            start: self.start.load(Relaxed),
            size: self.size.load(Relaxed),
        })
    }

    /// Whether the window is in its BAR's layout ([`Self::active`]).
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Relaxed) != 0
    }

    /// Records the device whose VMAs will point here.
    pub(crate) fn set_owner(&self, owner: usize) {
        self.owner.store(owner, Relaxed);
    }

    /// The device stored by [`Self::set_owner`].
    pub(crate) fn owner(&self) -> usize {
        self.owner.load(Relaxed)
    }
}

/// Per alias, what read()/write() and faults need without a lock: the
/// region and window it maps, and whether the window is active.
///
/// Slot `i` is empty until SET returned alias `i`, then holds its target,
/// until the aliases are cleared. A reader that finds it empty asks the
/// alias table.
pub(crate) struct Slots {
    slots: [Slot; MAX_ALIASES],
    /// Per BAR, the number of active slots ([`Slot::active`]), under the
    /// same rule: uncached faults of a BAR without active windows look no
    /// further.
    active: [Atomic<u32>; vfio::NUM_BARS],
}

impl Slots {
    pub(crate) fn new() -> Self {
        Self {
            slots: core::array::from_fn(Slot::new),
            active: [const { Atomic::new(0) }; vfio::NUM_BARS],
        }
    }

    /// Slot `i`.
    pub(crate) fn slot(&self, i: usize) -> Option<&Slot> {
        self.slots.get(i)
    }

    /// What alias `i` maps, if SET already returned it.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<Target> {
        self.slots.get(i)?.target()
    }

    /// Records alias `i`'s target, before SET returns its index.
    pub(crate) fn set(&self, i: usize, target: Target) {
        if let Some(slot) = self.slots.get(i) {
            slot.start.store(target.start, Relaxed);
            slot.size.store(target.size, Relaxed);
            let window = if target.is_window() { WINDOW } else { 0 };
            slot.target.store((target.index + 1) | window, Release);
        }
    }

    /// Forgets every alias (with the table, at the last close, when no
    /// window is active any more: nothing reads the window state).
    pub(crate) fn clear(&self) {
        for slot in &self.slots {
            slot.target.store(0, Relaxed);
            slot.active.store(0, Relaxed);
        }
        for count in &self.active {
            count.store(0, Relaxed);
        }
    }

    /// The windows of `bar` that `wanted` selects, sorted by start, with
    /// overlapping or adjacent ones merged.
    pub(crate) fn union(&self, bar: usize, wanted: impl Fn(&Slot) -> bool) -> Result<KVec<Target>> {
        let mut spans = KVec::new();
        for slot in self.slots.iter().filter(|s| wanted(s)) {
            if let Some(t) = slot
                .target()
                .filter(|t| t.index as usize == bar && t.is_window())
            {
                spans.push(t, GFP_KERNEL)?;
            }
        }
        spans.sort_unstable_by_key(|t| t.start);
        let mut merged: KVec<Target> = KVec::with_capacity(spans.len(), GFP_KERNEL)?;
        for t in spans.iter() {
            match merged.last_mut() {
                Some(last) if t.start <= last.end() => {
                    last.size = last.size.max(t.end() - last.start);
                }
                _ => merged.push(*t, GFP_KERNEL)?,
            }
        }
        Ok(merged)
    }

    /// Marks `slot` active or not, with the per-BAR count; `_locked` proves
    /// `memory_lock` is held for writing.
    pub(crate) fn set_active(&self, _locked: &vfio::MemoryLocked<'_>, slot: &Slot, on: bool) {
        let Some(bar) = slot.target().map(|t| t.index as usize) else {
            return;
        };
        if slot.is_active() == on || bar >= vfio::NUM_BARS {
            return;
        }
        slot.active.store(u32::from(on), Relaxed);
        let count = &self.active[bar];
        if on {
            count.store(count.load(Relaxed) + 1, Relaxed);
        } else {
            count.store(count.load(Relaxed).saturating_sub(1), Relaxed);
        }
    }

    /// Whether bytes `[start, end)` of `bar` touch an active window. Called
    /// with core's `memory_lock` held (for reading, in a fault).
    #[inline]
    pub(crate) fn hit(&self, bar: usize, start: u64, end: u64) -> bool {
        if self.active[bar].load(Relaxed) == 0 {
            return false;
        }
        self.hit_slow(bar, start, end)
    }

    #[cold]
    fn hit_slow(&self, bar: usize, start: u64, end: u64) -> bool {
        let probe = Target {
            index: bar as u32,
            start,
            size: end - start,
        };
        self.slots.iter().any(|s| {
            s.is_active()
                && s.target()
                    .is_some_and(|t| t.is_window() && t.overlaps(&probe))
        })
    }

    /// Slots of `bar` that are windows, for the caller to walk.
    pub(crate) fn of_bar(&self, bar: usize) -> impl Iterator<Item = (&Slot, Target)> {
        self.slots.iter().filter_map(move |s| {
            s.target()
                .filter(|t| t.index as usize == bar && t.is_window())
                .map(|t| (s, t))
        })
    }
}

/// One kernel mapping of a windowed BAR, at `start` of the BAR.
struct Chunk {
    start: u64,
    map: IoMap,
}

/// The kernel mappings of a BAR with active windows: chunks in BAR order
/// that cover it exactly once, write-combining over the windows, uncached
/// elsewhere.
pub(crate) struct Layout {
    chunks: KVec<Chunk>,
}

impl Layout {
    /// Maps `bar` of `core` in chunks around `windows` (sorted, merged,
    /// within the BAR). No other kernel mapping of the BAR may exist, or
    /// PAT would give the chunks that mapping's type.
    pub(crate) fn new(core: &CoreDevice, bar: usize, windows: &[Target]) -> Result<Self> {
        let len = core.bar_len(bar);
        let phys = core.bar_start(bar);
        let mut chunks = KVec::new();
        let mut at = 0u64;
        let mut add = |start: u64, end: u64, wc: bool| -> Result {
            let end = end.min(len);
            if start < end {
                let map = IoMap::new(phys + start, (end - start) as usize, wc)?;
                chunks.push(Chunk { start, map }, GFP_KERNEL)?;
            }
            Ok(())
        };
        for w in windows {
            add(at, w.start, false)?;
            add(w.start, w.end(), true)?;
            at = w.end();
        }
        add(at, len, false)?;
        Ok(Self { chunks })
    }

    /// `read()` (or `write()`) of `count` bytes at `pos` of the BAR, as
    /// core's `vfio_pci_bar_rw()` does it over its whole-BAR mapping, chunk by
    /// chunk. A write through a write-combining chunk is flushed before this
    /// returns, so that write() stays as ordered as under vfio-pci.
    ///
    /// Windowed BARs never hold the MSI-X table (such a BAR cannot be
    /// write-combining), so no range is excluded.
    pub(crate) fn rw(
        &self,
        core: &CoreDevice,
        buf: UserPtr,
        count: usize,
        pos: u64,
        write: bool,
    ) -> Result<isize> {
        let end = self
            .chunks
            .last()
            .map_or(0, |c| c.start + c.map.len() as u64);
        if pos >= end {
            return Err(EINVAL);
        }
        let count = count.min((end - pos) as usize);
        let mut done = 0usize;
        let mut fence = false;
        for c in self.chunks.iter() {
            let c_end = c.start + c.map.len() as u64;
            let at = pos + done as u64;
            if done == count {
                break;
            }
            if at >= c_end {
                continue;
            }
            let n = (count - done).min((c_end - at) as usize);
            let user = buf.wrapping_byte_add(done);
            // SAFETY: The chunk's mapping covers `[c.start, c_end)` of the
            // BAR and lives as long as `self`, which the caller holds for
            // the call (inside the BAR's gate).
            let r = unsafe { core.io_rw(c.map.as_ptr(), user, at - c.start, n, write) };
            fence |= write && c.map.wc();
            match r {
                Ok(n) => done += n as usize,
                // As core: an error, even after part of the data.
                Err(e) => {
                    if fence {
                        vfio::wmb();
                    }
                    return Err(e);
                }
            }
        }
        if fence {
            vfio::wmb();
        }
        Ok(done as isize)
    }

    /// Ranges and types of the chunks, for debugfs.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = (u64, u64, bool)> + '_ {
        self.chunks
            .iter()
            .map(|c| (c.start, c.start + c.map.len() as u64, c.map.wc()))
    }
}

#[cfg(not(vpa_drop_in))]
#[kunit_tests(vfio_pci_alias_windows)]
mod tests {
    use super::*;

    fn window(index: u32, start: u64, size: u64) -> Target {
        Target { index, start, size }
    }

    #[test]
    fn overlaps_only_within_one_region() {
        let a = window(2, 0x1000, 0x2000);
        assert!(a.overlaps(&window(2, 0x2000, 0x1000)));
        assert!(a.overlaps(&window(2, 0, 0x2000)));
        // Adjacent is not overlapping.
        assert!(!a.overlaps(&window(2, 0x3000, 0x1000)));
        assert!(!a.overlaps(&window(2, 0, 0x1000)));
        assert!(!a.overlaps(&window(0, 0x1000, 0x2000)));
    }

    #[test]
    fn union_sorts_and_merges() -> Result {
        let slots = Slots::new();
        slots.set(0, window(2, 0x8000, 0x1000));
        slots.set(1, window(2, 0x1000, 0x2000));
        slots.set(2, window(2, 0x2000, 0x2000)); // overlaps slot 1
        slots.set(3, window(2, 0x4000, 0x1000)); // adjacent to slot 2
        slots.set(4, window(0, 0x1000, 0x1000)); // another BAR
        slots.set(5, window(2, 0, 0)); // the whole BAR: not a window
        let all = slots.union(2, |_| true)?;
        assert_eq!(
            &all[..],
            &[window(2, 0x1000, 0x4000), window(2, 0x8000, 0x1000)]
        );
        let some = slots.union(2, |s| s.index() != 2)?;
        assert_eq!(
            &some[..],
            &[
                window(2, 0x1000, 0x2000),
                window(2, 0x4000, 0x1000),
                window(2, 0x8000, 0x1000)
            ]
        );
        assert!(slots.union(3, |_| true)?.is_empty());
        slots.clear();
        assert!(slots.union(2, |_| true)?.is_empty());
        assert_eq!(slots.get(0), None);
        Ok(())
    }
}
