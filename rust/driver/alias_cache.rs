// SPDX-License-Identifier: GPL-2.0

//! What read()/write() and faults need of each alias without a lock: the
//! span it maps, and whether its window is active.
//!
//! x86 PAT keeps a memory type per physical range, so distinct pages of one
//! BAR may have distinct types as long as no mapping, the kernel's included,
//! covers a page with another one. While a window is *active* (mapped
//! through its alias, see [`super::windows`]):
//!
//! - the kernel maps the BAR in chunks ([`super::chunked_map::ChunkedMap`]):
//!   write-combining over the union of the active windows, uncached over
//!   the rest. Core's whole-BAR mapping is taken away, and read()/write() of
//!   the BAR are served from the chunks;
//! - user mappings fault in with the type those chunks reserved: the
//!   window's alias VMAs are write-combining, VMAs of the BAR's own region
//!   uncached; a fault of the latter on a page of an active window is
//!   refused ([`AliasCache::hit`]), and activation zaps such PTEs first.
//!
//! See Documentation/vfio-pci-alias.rst.

use super::alias::{Span, MAX_ALIASES};

/// Window slots for the ranges of write-combining DMABUFs
/// ([`super::dmabuf`]), after the aliases' slots: mmap() of a
/// write-combining DMABUF with more ranges than are free fails with
/// `ENOSPC`.
pub(crate) const DMABUF_WINDOWS: usize = 64;
/// Every slot: aliases first, then DMABUF ranges.
pub(crate) const SLOTS: usize = MAX_ALIASES + DMABUF_WINDOWS;
use crate::staging::vfio::{MemoryLocked, NUM_BARS};
use kernel::{
    prelude::*,
    sync::atomic::{Acquire, Atomic, Relaxed, Release},
};

/// Flag of [`CachedAlias::region`]: the alias is a window.
const WINDOW: u32 = 1 << 31;

/// What [`AliasCache`] keeps of one alias.
pub(crate) struct CachedAlias {
    /// Position in the table.
    index: usize,
    /// Region index plus one, with [`WINDOW`] for a window; 0 until SET
    /// returned the alias. Published after `start` and `size` (release).
    region: Atomic<u32>,
    start: Atomic<u64>,
    size: Atomic<u64>,
    /// The window's pages are write-combining in its BAR's
    /// [`ChunkedMap`](super::chunked_map::ChunkedMap), and faults of
    /// uncached VMAs on them are refused. Only changes with core's
    /// `memory_lock` held for writing; read with it held.
    active: Atomic<u32>,
}

impl CachedAlias {
    fn new(index: usize) -> Self {
        Self {
            index,
            region: Atomic::new(0),
            start: Atomic::new(0),
            size: Atomic::new(0),
            active: Atomic::new(0),
        }
    }

    /// Position of the alias in the table.
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// One atomic read for a whole-region alias (read()/write() of aliases
    /// take this path), three for a window.
    #[inline]
    fn span(&self) -> Option<Span> {
        let word = self.region.load(Acquire);
        let index = (word & !WINDOW).checked_sub(1)?;
        if word & WINDOW == 0 {
            return Some(Span {
                index,
                start: 0,
                size: 0,
            });
        }
        Some(Span {
            index,
            start: self.start.load(Relaxed),
            size: self.size.load(Relaxed),
        })
    }

    /// Whether the window is in its BAR's layout ([`Self::active`]).
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Relaxed) != 0
    }
}

/// Per alias, what read()/write() and faults need without a lock: the
/// region and window it maps, and whether the window is active.
///
/// Entry `i` is empty until SET returned alias `i`, then holds its span,
/// until the aliases are cleared. A reader that finds it empty asks the
/// alias table.
pub(crate) struct AliasCache {
    slots: [CachedAlias; SLOTS],
    /// Per BAR, the number of active entries ([`CachedAlias::active`]),
    /// under the same rule: uncached faults of a BAR without active windows
    /// look no further.
    active: [Atomic<u32>; NUM_BARS],
}

impl AliasCache {
    pub(crate) fn new() -> Self {
        Self {
            slots: core::array::from_fn(CachedAlias::new),
            active: [const { Atomic::new(0) }; NUM_BARS],
        }
    }

    /// CachedAlias `i`.
    pub(crate) fn slot(&self, i: usize) -> Option<&CachedAlias> {
        self.slots.get(i)
    }

    /// What alias `i` maps, if SET already returned it.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<Span> {
        self.slots.get(i)?.span()
    }

    /// Records alias `i`'s span, before SET returns its index.
    pub(crate) fn set(&self, i: usize, span: Span) {
        if let Some(slot) = self.slots.get(i) {
            slot.start.store(span.start, Relaxed);
            slot.size.store(span.size, Relaxed);
            let window = if span.is_window() { WINDOW } else { 0 };
            slot.region.store((span.index + 1) | window, Release);
        }
    }

    /// Forgets every alias (with the table, at the last close, when no
    /// window is active any more: nothing reads the window state).
    pub(crate) fn clear(&self) {
        for slot in &self.slots {
            slot.region.store(0, Relaxed);
            slot.active.store(0, Relaxed);
        }
        for count in &self.active {
            count.store(0, Relaxed);
        }
    }

    /// The windows of `bar` that `wanted` selects, sorted by start, with
    /// overlapping or adjacent ones merged.
    pub(crate) fn union(
        &self,
        bar: usize,
        wanted: impl Fn(&CachedAlias) -> bool,
    ) -> Result<KVec<Span>> {
        let mut spans = KVec::new();
        for slot in self.slots.iter().filter(|s| wanted(s)) {
            if let Some(t) = slot
                .span()
                .filter(|t| t.index as usize == bar && t.is_window())
            {
                spans.push(t, GFP_KERNEL)?;
            }
        }
        spans.sort_unstable_by_key(|t| t.start);
        let mut merged: KVec<Span> = KVec::with_capacity(spans.len(), GFP_KERNEL)?;
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
    pub(crate) fn set_active(&self, _locked: &MemoryLocked<'_>, slot: &CachedAlias, on: bool) {
        let Some(bar) = slot.span().map(|t| t.index as usize) else {
            return;
        };
        if slot.is_active() == on || bar >= NUM_BARS {
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
        let probe = Span {
            index: bar as u32,
            start,
            size: end - start,
        };
        self.slots.iter().any(|s| {
            s.is_active()
                && s.span()
                    .is_some_and(|t| t.is_window() && t.overlaps(&probe))
        })
    }

    /// AliasCache of `bar` that are windows, for the caller to walk.
    pub(crate) fn of_bar(&self, bar: usize) -> impl Iterator<Item = (&CachedAlias, Span)> {
        self.slots.iter().filter_map(move |s| {
            s.span()
                .filter(|t| t.index as usize == bar && t.is_window())
                .map(|t| (s, t))
        })
    }
}

#[cfg(not(vpa_drop_in))]
#[kunit_tests(vfio_pci_alias_alias_cache)]
mod tests {
    use super::*;
    use crate::driver::alias::Span;

    fn span(index: u32, start: u64, size: u64) -> Span {
        Span { index, start, size }
    }

    #[test]
    fn overlaps_only_within_one_region() {
        let a = span(2, 0x1000, 0x2000);
        assert!(a.overlaps(&span(2, 0x2000, 0x1000)));
        assert!(a.overlaps(&span(2, 0, 0x2000)));
        // Adjacent is not overlapping.
        assert!(!a.overlaps(&span(2, 0x3000, 0x1000)));
        assert!(!a.overlaps(&span(2, 0, 0x1000)));
        assert!(!a.overlaps(&span(0, 0x1000, 0x2000)));
    }

    #[test]
    fn union_sorts_and_merges() -> Result {
        let slots = AliasCache::new();
        slots.set(0, span(2, 0x8000, 0x1000));
        slots.set(1, span(2, 0x1000, 0x2000));
        slots.set(2, span(2, 0x2000, 0x2000)); // overlaps slot 1
        slots.set(3, span(2, 0x4000, 0x1000)); // adjacent to slot 2
        slots.set(4, span(0, 0x1000, 0x1000)); // another BAR
        slots.set(5, span(2, 0, 0)); // the whole BAR: not a window
        let all = slots.union(2, |_| true)?;
        assert_eq!(
            &all[..],
            &[span(2, 0x1000, 0x4000), span(2, 0x8000, 0x1000)]
        );
        let some = slots.union(2, |s| s.index() != 2)?;
        assert_eq!(
            &some[..],
            &[
                span(2, 0x1000, 0x2000),
                span(2, 0x4000, 0x1000),
                span(2, 0x8000, 0x1000)
            ]
        );
        assert!(slots.union(3, |_| true)?.is_empty());
        slots.clear();
        assert!(slots.union(2, |_| true)?.is_empty());
        assert_eq!(slots.get(0), None);
        Ok(())
    }
}
