// SPDX-License-Identifier: GPL-2.0

//! Windows: write-combining page ranges of a BAR whose other pages stay
//! uncached at the same time.
//!
//! While a window of a BAR is mapped through its alias, the BAR is taken
//! from core and mapped in chunks ([`ChunkedMap`]), write-combining over the
//! mapped windows and uncached elsewhere; read/write of the BAR are served
//! from the chunks, inside the BAR's gate. mmap() of the BAR's own region
//! stays allowed, and whole-BAR write-combining mappings and new ioeventfds
//! get `EBUSY`. Layout changes happen with the gate held and core's
//! `memory_lock` held for writing, so that no fault sees half of one. See
//! [`super::alias_cache`] for what faults check, and
//! Documentation/vfio-pci-alias.rst.

use super::{
    alias::{Span, MAX_ALIASES},
    alias_cache::{CachedAlias, DMABUF_WINDOWS},
    bars::{BarFlag, Bars, Users},
    chunked_map::ChunkedMap,
};
use crate::staging::vfio::{BarWrite, CoreDevice, MemoryLocked};
use kernel::{alloc::kvec::PushError, prelude::*};

/// A window a write-combining DMABUF holds in its BAR's layout: DMABUF slot
/// `slot`, mapped as a window (`window`) or as part of a BAR that is
/// write-combining as a whole.
#[derive(Clone, Copy)]
pub(crate) struct DmaBufWindow {
    slot: usize,
    window: bool,
}

impl Bars {
    /// Zaps the PTEs that could map `span` of `bar` with another memory type
    /// than its window's: those of the BAR's region and its aliases at the
    /// window's offsets, and every DMABUF mapping of the device (their
    /// offsets are pages of their DMABUF, not of the BAR; the others fault
    /// back).
    fn zap_uncached(&self, locked: &MemoryLocked<'_>, bar: usize, span: Span) {
        locked.zap(bar, span.start, span.size);
        let extent = self.dmabuf_extent();
        if extent > 0 {
            locked.zap_offsets(0, extent);
        }
    }

    /// Whether a window of `bar` is mapped as a window, active or not (one
    /// whose layout failed keeps uncached PTEs until a relayout activates it).
    pub(super) fn windows_mapped(&self, m: &Users, bar: usize) -> bool {
        self.cache()
            .of_bar(bar)
            .any(|(s, _)| m.win_maps[s.index()] > 0)
    }

    /// A new mapping of alias `slot`'s window of `bar` (write-combining).
    ///
    /// On a BAR that is write-combining as a whole (a whole-BAR alias is
    /// mapped, or the policy) the window is simply part of it: counted as
    /// such, `Ok(false)`. Otherwise the window is counted as one
    /// (`Ok(true)`), and if it was not active, made so: its pages lose their
    /// uncached PTEs and become write-combining in a new [`ChunkedMap`]. That
    /// needs the gate: `EBUSY` if a read/write is inside, or, coming from
    /// core's mapping, an ioeventfd exists.
    pub(crate) fn map_window(
        &self,
        core: &CoreDevice,
        slot: &CachedAlias,
        bar: usize,
    ) -> Result<bool> {
        let mut m = self.users.lock();
        self.map_window_locked(&mut m, core, slot, bar)
    }

    /// [`Self::map_window`] with the lock held.
    fn map_window_locked(
        &self,
        m: &mut Users,
        core: &CoreDevice,
        slot: &CachedAlias,
        bar: usize,
    ) -> Result<bool> {
        let state = self.state(bar);
        if state.contains(BarFlag::Wc) {
            m.wc_maps[bar] += 1;
            self.set_state(m, bar, state & !BarFlag::Restore);
            return Ok(false);
        }
        let i = slot.index();
        if m.win_maps[i] > 0 || slot.is_active() {
            // Mapped, or still in the layout (a return that is waiting for
            // a reader, which will find nothing to do).
            m.win_maps[i] += 1;
            return Ok(true);
        }
        let mut w = self.maps.try_write(bar).ok_or(EBUSY)?;
        // An ioeventfd keeps a pointer into core's mapping.
        if !state.contains(BarFlag::Windowed) && core.ioeventfds() > 0 {
            return Err(EBUSY);
        }
        m.win_maps[i] = 1;
        if let Err(e) = self.relayout(m, &mut w, core, bar) {
            m.win_maps[i] = 0;
            let _ = self.relayout(m, &mut w, core, bar);
            return Err(e);
        }
        Ok(true)
    }

    /// The first write-combining mapping of a DMABUF with the ranges `spans`
    /// of `bar`: each range becomes a window in a DMABUF slot of its own,
    /// mapped as [`Self::map_window`] maps an alias's. `ENOSPC` if too few
    /// slots are free; on any error nothing is left taken.
    pub(crate) fn map_dmabuf_windows(
        &self,
        core: &CoreDevice,
        bar: usize,
        spans: &[Span],
    ) -> Result<KVec<DmaBufWindow>> {
        let mut m = self.users.lock();
        let cache = self.cache();
        let mut got: KVec<DmaBufWindow> = KVec::with_capacity(spans.len(), GFP_KERNEL)?;
        for span in spans {
            // A slot nobody holds whose window has left the layout (a
            // deferred return may still have it active).
            let free = (0..DMABUF_WINDOWS).find(|&d| {
                !m.dmabuf_slots[d]
                    && cache
                        .slot(MAX_ALIASES + d)
                        .is_some_and(|s| !s.is_active() && m.win_maps[s.index()] == 0)
            });
            let Some(d) = free else {
                self.unmap_dmabuf_locked(&mut m, core, bar, &got);
                return Err(ENOSPC);
            };
            m.dmabuf_slots[d] = true;
            cache.set(MAX_ALIASES + d, *span);
            let mapped = match cache.slot(MAX_ALIASES + d) {
                Some(slot) => self.map_window_locked(&mut m, core, slot, bar),
                None => Err(EINVAL),
            };
            let failed = match mapped {
                // `got` has room for every span.
                Ok(window) => match got.push_within_capacity(DmaBufWindow { slot: d, window }) {
                    Ok(()) => None,
                    Err(PushError(w)) => {
                        // Given back now, the others below.
                        self.unmap_dmabuf_locked(&mut m, core, bar, &[w]);
                        Some(ENOMEM)
                    }
                },
                Err(e) => {
                    m.dmabuf_slots[d] = false;
                    Some(e)
                }
            };
            if let Some(e) = failed {
                self.unmap_dmabuf_locked(&mut m, core, bar, &got);
                return Err(e);
            }
        }
        Ok(got)
    }

    /// The last write-combining mapping of a DMABUF went (or it was
    /// revoked): its windows leave `bar`'s layout and their slots are free.
    pub(crate) fn unmap_dmabuf_windows(&self, core: &CoreDevice, bar: usize, got: &[DmaBufWindow]) {
        let mut m = self.users.lock();
        self.unmap_dmabuf_locked(&mut m, core, bar, got);
    }

    fn unmap_dmabuf_locked(
        &self,
        m: &mut Users,
        core: &CoreDevice,
        bar: usize,
        got: &[DmaBufWindow],
    ) {
        for w in got {
            m.dmabuf_slots[w.slot] = false;
            if w.window {
                let i = MAX_ALIASES + w.slot;
                m.win_maps[i] = m.win_maps[i].saturating_sub(1);
            } else {
                m.wc_maps[bar] = m.wc_maps[bar].saturating_sub(1);
            }
        }
        self.restore(m, core, bar);
    }

    /// Another VMA shares a mapping of `slot`'s window (fork, split).
    pub(crate) fn dup_window(&self, slot: &CachedAlias) {
        self.users.lock().win_maps[slot.index()] += 1;
    }

    /// A mapping of `slot`'s window of `bar` made by [`Self::map_window`] as
    /// a window went away; the last one takes the window out of the layout.
    pub(crate) fn unmap_window(&self, core: &CoreDevice, slot: &CachedAlias, bar: usize) {
        let mut m = self.users.lock();
        let i = slot.index();
        m.win_maps[i] = m.win_maps[i].saturating_sub(1);
        if m.win_maps[i] == 0 {
            self.restore(&mut m, core, bar);
        }
    }

    /// Brings `bar`'s layout in line with its mapped windows, or leaves that
    /// to the last reader inside its gate.
    pub(super) fn settle_windows(&self, m: &mut Users, core: &CoreDevice, bar: usize) {
        let state = self.state(bar);
        let stale = self
            .cache()
            .of_bar(bar)
            .any(|(s, _)| s.is_active() != (m.win_maps[s.index()] > 0));
        if !stale {
            self.set_state(m, bar, state & !BarFlag::Restore);
            return;
        }
        // Visible before the gate's writer barrier (see `BarAccess::drop`).
        self.set_state(m, bar, state | BarFlag::Restore);
        let Some(mut w) = self.maps.try_write(bar) else {
            return;
        };
        if let Err(e) = self.relayout(m, &mut w, core, bar) {
            dev_warn!(
                core.device(),
                "BAR {bar}: cannot map windows again: {e:?}\n"
            );
        }
    }

    /// Maps `bar` in the kernel for its mapped windows (`win_maps`): in a
    /// [`ChunkedMap`] if there are any, else whole and uncached by core, as
    /// at open. Under `memory_lock` (no fault in between): windows that
    /// become active get their uncached PTEs zapped first, and windows that
    /// leave become inactive only once their write-combining mapping is gone.
    ///
    /// If the new layout cannot be made, the BAR goes back to core's
    /// mapping with no window active, and every PTE of a window is zapped
    /// (its VMAs then fault in with core's uncached type). If core's mapping
    /// cannot be made again either, the BAR ends as after core's own failed
    /// map at open ([`BarWrite::give_back`]), and every later call fails at
    /// once with that errno, changing nothing: a BAR is only laid out from a
    /// live mapping of core's or of ours.
    ///
    /// The caller holds the BAR's gate (`w`) and has checked that no
    /// ioeventfd uses core's mapping of the BAR.
    fn relayout(
        &self,
        m: &mut Users,
        w: &mut BarWrite<'_, ChunkedMap>,
        core: &CoreDevice,
        bar: usize,
    ) -> Result {
        let cache = self.cache();
        // A failure to list the windows fails the layout like a failed map:
        // an early return would leave windows active that nothing maps.
        let wanted = cache.union(bar, |s| m.win_maps[s.index()] > 0);
        let state = self.state(bar);
        if !w.is_taken() {
            core.barmap_status(bar)?;
        }
        let ret = core.with_memory_locked(|locked| {
            for (slot, span) in cache.of_bar(bar) {
                if m.win_maps[slot.index()] > 0 && !slot.is_active() {
                    cache.set_active(locked, slot, true);
                    self.zap_uncached(locked, bar, span);
                }
            }
            // PAT gives a new mapping the type of any mapping of the same
            // pages that exists: the old one goes first.
            w.drop_map();
            let built = w.take(core).and(wanted).and_then(|wanted| {
                if wanted.is_empty() {
                    Ok(None)
                } else {
                    ChunkedMap::new(core, bar, &wanted).map(Some)
                }
            });
            let (new, failed) = match built {
                Ok(map) => (map, None),
                Err(e) => {
                    // Back to core's uncached mapping: no write-combining PTE
                    // may stay.
                    for (slot, span) in cache.of_bar(bar) {
                        if slot.is_active() {
                            self.zap_uncached(locked, bar, span);
                        }
                    }
                    (None, Some(e))
                }
            };
            let ret = match new {
                Some(map) => w.set_map(map),
                None => w.give_back(core),
            };
            // Out of the layout only now that its mapping is gone.
            for (slot, _) in cache.of_bar(bar) {
                if slot.is_active() && (failed.is_some() || m.win_maps[slot.index()] == 0) {
                    cache.set_active(locked, slot, false);
                }
            }
            failed.map_or(ret, Err)
        });
        let state = if w.map().is_some() {
            state | BarFlag::Windowed
        } else {
            state & !BarFlag::Windowed
        };
        self.set_state(m, bar, state & !BarFlag::Restore);
        ret
    }
}
