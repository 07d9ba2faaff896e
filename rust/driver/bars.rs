// SPDX-License-Identifier: GPL-2.0

//! The memory type of each BAR while the device is open.
//!
//! x86 PAT keeps one memory type per physical range, and `vmf_insert_pfn()`
//! maps with the type already tracked for the range, whatever the VMA asks
//! for. vfio_pci_core maps every BAR uncached in the kernel (`barmap`) at
//! open, so a write-combining user mapping needs that kernel mapping to be
//! write-combining too, and no uncached user mapping of the BAR at the same
//! time. Each BAR is therefore in one of two modes:
//!
//! - uncached (the default, as in vfio-pci): mmap() of the BAR's own region
//!   is allowed; a write-combining alias mapping switches the mode if no
//!   uncached mapping, ioeventfd or read/write is in the way, else `EBUSY`;
//! - write-combining: core's kernel mapping is taken away
//!   ([`CoreDevice::take_barmap`]) and the BAR is mapped `ioremap_wc()` in a
//!   one-chunk [`Layout`] of ours, which serves its read/write; alias
//!   mappings are allowed, mmap() of the BAR's own region and new ioeventfds
//!   on it fail with `EBUSY`. When the last write-combining mapping goes the
//!   BAR returns to uncached.
//!
//! A BAR of the device's write-combining policy ([`super::policy`]) is
//! write-combining from open to close: its kernel mapping is switched at
//! open, mmap() of its own region maps it write-combining too, and it never
//! returns to uncached while the device is open.
//!
//! Core's `barmap` entry of a BAR therefore holds a mapping only while the
//! BAR is uncached; in every other mode it holds an error pointer, so that
//! whatever core is asked to do with the BAR (an ioeventfd, which keeps a
//! pointer into the mapping, read/write, dma-buf export) it refuses, however
//! the request reached it. Core reads `barmap` without our lock in read/write
//! and ioeventfd setup, which therefore run inside the BAR's gate
//! ([`crate::gate`], [`Bars::enter`], [`Bars::enter_all`]): no lock, no
//! shared cache line written. A mode switch closes the gate first, which
//! succeeds only while nobody is inside, and is refused (`EBUSY`) otherwise:
//! it never waits, as it runs under the mmap lock. A return to uncached that
//! finds somebody inside is left to the last one out ([`BarIo`]). Uncached
//! mappings are counted without the lock too ([`Bars::uc_maps`]), against
//! the same gate.
//!
//! A third mode serves windows ([`super::windows`]): while a window of the
//! BAR is mapped through its alias, core's mapping is removed and the BAR is
//! mapped in chunks, write-combining over the mapped windows and uncached
//! elsewhere ([`Layout`]); read/write of the BAR are served from the chunks,
//! inside the same gate. mmap() of the BAR's own region stays allowed, and
//! whole-BAR write-combining mappings and new ioeventfds get `EBUSY`. Layout
//! changes happen with the gate closed and core's `memory_lock` held for
//! writing, so that no fault sees half of one. See
//! Documentation/vfio-pci-alias.rst.

use super::{
    alias::MAX_ALIASES,
    policy::{self, BarSet},
    windows::{Layout, Slot, Slots, Target},
};
use crate::{
    gate::{Gates, Inside},
    vfio::{CoreDevice, NUM_BARS},
};
use core::{cell::UnsafeCell, fmt};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Full, Relaxed},
        Mutex,
    },
};

/// Mapping users of one BAR that only change under the lock (uncached
/// mappings are counted without it, in [`Bars::uc_maps`]).
#[derive(Default, Clone, Copy)]
struct Bar {
    /// VMAs mapping the BAR write-combining (an alias, or the policy).
    wc_maps: usize,
}

/// What [`Bars::modes`] guards.
struct Modes {
    bars: [Bar; NUM_BARS],
    /// The device's write-combining policy; kept across opens.
    policy: BarSet,
    /// BARs outside the prefetchable default that were already logged.
    logged: BarSet,
    /// The device is open (between [`Bars::open`] and [`Bars::reset`]).
    open: bool,
    /// Per alias slot, VMAs mapping its window as a window (not as part of
    /// a write-combining BAR).
    win_maps: [usize; MAX_ALIASES],
}

impl Default for Modes {
    fn default() -> Self {
        Self {
            bars: Default::default(),
            policy: BarSet::default(),
            logged: BarSet::default(),
            open: false,
            win_maps: [0; MAX_ALIASES],
        }
    }
}

/// State bit (the value of the BAR's gate): the BAR is write-combining as a
/// whole, mapped by a one-chunk [`Layout`] in place of core's mapping.
const WC: u32 = 1 << 0;
/// State bit: the BAR is write-combining by policy (device open).
const POLICY: u32 = 1 << 1;
/// State bit: the BAR is to return to uncached, which the last reader inside
/// its gate does.
const RESTORE: u32 = 1 << 2;
/// State bit: core's kernel mapping of the BAR is removed and the BAR's
/// [`Layout`] maps it instead (windows are active).
const WINDOWED: u32 = 1 << 3;

/// A BAR's [`Layout`] while it is [`WC`] or [`WINDOWED`], read inside its
/// gate.
///
/// # Invariants
///
/// Only replaced with [`Bars::modes`] held and the BAR's gate closed with
/// nobody inside, or while the device has no user; it is `Some` iff the
/// BAR's state has [`WC`] or [`WINDOWED`].
struct LayoutCell(UnsafeCell<Option<Layout>>);

// SAFETY: Replaced only under the rule above, which excludes readers; the
// layout itself is `Send + Sync`.
unsafe impl Sync for LayoutCell {}
// SAFETY: As above.
unsafe impl Send for LayoutCell {}

/// Memory type and users of every BAR of a device.
///
/// # Invariants
///
/// For each BAR, its state is the value of its gate in `gates`:
/// - it is only written with `modes` held;
/// - its [`WC`] and [`WINDOWED`] bits only change while the BAR's gate is
///   closed or the device has no user (open, close), and are never both set;
/// - with either, core's `barmap` entry was taken from core
///   ([`CoreDevice::take_barmap`]: an error pointer, the region held for us)
///   and `layouts` holds the BAR's only kernel mappings; without, `barmap`
///   is core's: a live uncached mapping, or the error core or a failed
///   [`CoreDevice::restore_barmap`] left, whose region is released;
/// - an ioeventfd exists only on a BAR with neither bit: core creates one
///   only on a live `barmap` entry, ioeventfd setup runs inside every BAR's
///   gate ([`Bars::enter_all`]), and a switch away from uncached closes the
///   gate, then finds no ioeventfd;
/// - `uc_maps` above zero, outside a [`Bars::map`] that backs out again,
///   implies no [`WC`]; while open, every BAR of the policy whose `barmap`
///   core could make has [`WC`] and [`POLICY`];
/// - [`WC`] is not set while a window of the BAR is mapped as a window
///   (`win_maps`), active or not.
#[pin_data]
pub(crate) struct Bars {
    /// Readers of the BARs' kernel mappings, one gate per BAR, whose value is
    /// the BAR's state ([`WC`], [`POLICY`], [`RESTORE`], [`WINDOWED`]).
    gates: Gates<NUM_BARS>,
    /// Per BAR, VMAs mapping it uncached (its own region index), counted
    /// without the lock: a switch to write-combining closes the BAR's gate
    /// before it reads the count, and a new mapping counts itself before it
    /// checks the gate ([`Gates::open_value`]).
    uc_maps: [Atomic<usize>; NUM_BARS],
    /// Per BAR, its chunked kernel mappings while [`WINDOWED`].
    layouts: [LayoutCell; NUM_BARS],
    /// Per alias, its target and window state ([`Slots`]).
    slots: Slots,
    #[pin]
    modes: Mutex<Modes>,
}

/// A read/write (or ioeventfd setup) using a BAR's kernel mappings, whose
/// memory type cannot change until this is dropped.
pub(crate) struct BarIo<'a> {
    bars: &'a Bars,
    core: &'a CoreDevice,
    bar: usize,
    inside: Option<Inside<'a, NUM_BARS>>,
}

impl BarIo<'_> {
    /// The BAR's own mappings, if it is write-combining or has active
    /// windows: then read/write go through them instead of core.
    #[inline]
    pub(crate) fn layout(&self) -> Option<&Layout> {
        let inside = self.inside.as_ref()?;
        if inside.value() & (WC | WINDOWED) == 0 {
            return None;
        }
        // SAFETY: We are inside the BAR's gate, entered while it was open
        // with WC or WINDOWED (acquire): the layout is only replaced with the
        // gate closed and nobody inside, so it stays while `self` lives.
        unsafe { (*self.bars.layouts[self.bar].0.get()).as_ref() }
    }
}

/// Every BAR's gate entered ([`Bars::enter_all`]).
pub(crate) struct AllBars<'a> {
    /// Left, in BAR order, when dropped.
    _inside: [Option<BarIo<'a>>; NUM_BARS],
}

impl Drop for BarIo<'_> {
    #[inline]
    fn drop(&mut self) {
        // The state after leaving: either `Bars::restore` saw this reader
        // gone, or this reader sees its request ([`Inside::leave`]).
        let after = self.inside.take().map_or(0, |i| i.leave());
        if after & RESTORE != 0 {
            self.bars.restore_for_reader(self.core, self.bar);
        }
    }
}

impl Bars {
    /// No user, `policy` as the write-combining policy.
    pub(crate) fn new(policy: BarSet) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            gates: Gates::new()?,
            uc_maps: [const { Atomic::new(0) }; NUM_BARS],
            layouts: [const { LayoutCell(UnsafeCell::new(None)) }; NUM_BARS],
            slots: Slots::new(),
            modes <- new_mutex!(Modes {
                policy,
                ..Modes::default()
            }),
        })
    }

    #[inline]
    fn state(&self, bar: usize) -> u32 {
        self.gates.value(bar)
    }

    /// Every alias's target and window state.
    #[inline]
    pub(crate) fn slots(&self) -> &Slots {
        &self.slots
    }

    /// Sets the state of `bar`; `_modes` proves the lock is held.
    fn set_state(&self, _modes: &mut Modes, bar: usize, state: u32) {
        self.gates.set_value(bar, state);
    }

    /// The write-combining policy.
    pub(crate) fn policy(&self) -> BarSet {
        self.modes.lock().policy
    }

    /// Sets the write-combining policy: `EBUSY` while the device is open.
    pub(crate) fn set_policy(&self, core: &CoreDevice, set: BarSet) -> Result {
        let mut m = self.modes.lock();
        if m.open {
            return Err(EBUSY);
        }
        for bar in set.iter() {
            if !policy::prefetchable(core, bar) && !m.logged.contains(bar) {
                m.logged = m.logged.with(bar);
                dev_info!(
                    core.device(),
                    "BAR {bar} is not prefetchable but set write-combining: reads may be speculative or merged\n"
                );
            }
        }
        m.policy = set;
        Ok(())
    }

    /// Whether `bar` is write-combining by policy (and the device open).
    /// Takes no lock.
    #[inline]
    pub(crate) fn is_policy_wc(&self, bar: usize) -> bool {
        self.state(bar) & POLICY != 0
    }

    /// The device was enabled for a new user: the policy's BARs become
    /// write-combining. A BAR core could not map at open stays as core left
    /// it, as vfio-pci opens with it. On error every BAR is core's again
    /// (or released, see [`Self::close`]); the caller resets and disables
    /// the device.
    pub(crate) fn open(&self, core: &CoreDevice) -> Result {
        let mut m = self.modes.lock();
        for bar in m.policy.iter() {
            if let Err(e) = core.barmap_status(bar) {
                dev_dbg!(
                    core.device(),
                    "wc_bars: BAR {bar} stays as core left it at open: {e:?}\n"
                );
                continue;
            }
            // SAFETY: The device is being opened: it has no user yet, so no
            // read/write, ioeventfd or mapping uses the BAR's mappings.
            if let Err(e) = unsafe { self.switch_to_wc(&mut m, core, bar) } {
                self.release_all(&mut m, core);
                return Err(e);
            }
            self.set_state(&mut m, bar, WC | POLICY);
        }
        m.open = true;
        Ok(())
    }

    /// Maps `bar` write-combining as a whole, in place of core's uncached
    /// mapping, which is removed first (PAT allows one memory type per
    /// range). If the new mapping cannot be made, core's comes back (or the
    /// BAR ends as after core's own failed map at open); the BAR is
    /// uncached either way, and the error is returned.
    ///
    /// # Safety
    ///
    /// The BAR's gate is closed with nobody inside (or the device has no
    /// user); no ioeventfd, uncached user mapping or mapped window uses the
    /// BAR.
    unsafe fn switch_to_wc(&self, _m: &mut Modes, core: &CoreDevice, bar: usize) -> Result {
        let len = core.bar_len(bar);
        // SAFETY: By the safety requirements.
        unsafe { core.take_barmap(bar) }?;
        let whole = [Target {
            index: bar as u32,
            start: 0,
            size: len,
        }];
        match Layout::new(core, bar, &whole) {
            Ok(layout) => {
                // SAFETY: We hold `modes` and the gate is closed with nobody
                // inside (`LayoutCell`'s invariant).
                unsafe { *self.layouts[bar].0.get() = Some(layout) };
                Ok(())
            }
            Err(e) => {
                // SAFETY: Taken above; `Layout::new` dropped what it mapped.
                let _ = unsafe { core.restore_barmap(bar) };
                Err(e)
            }
        }
    }

    /// Gives a write-combining `bar` back to core, uncached.
    ///
    /// # Safety
    ///
    /// As for [`Self::switch_to_wc`], and no write-combining user mapping of
    /// the BAR is left.
    unsafe fn switch_to_uc(&self, _m: &mut Modes, core: &CoreDevice, bar: usize) {
        // SAFETY: As for `switch_to_wc`; we hold `modes`.
        drop(unsafe { (*self.layouts[bar].0.get()).take() });
        // SAFETY: The BAR was taken when it became write-combining, and its
        // mapping is gone.
        if let Err(e) = unsafe { core.restore_barmap(bar) } {
            // Core's mapping is an error pointer now; read/write fail as
            // after a failed map at open.
            dev_warn!(
                core.device(),
                "BAR {bar}: cannot map uncached again: {e:?}\n"
            );
        }
    }

    /// Whether a window of `bar` is mapped as a window, active or not (one
    /// whose layout failed keeps uncached PTEs until a relayout activates it).
    fn windows_mapped(&self, m: &Modes, bar: usize) -> bool {
        self.slots
            .of_bar(bar)
            .any(|(s, _)| m.win_maps[s.index()] > 0)
    }

    /// Enters `bar`'s gate for a call into core that uses its kernel
    /// mapping: the mapping stays as it is until the returned value is
    /// dropped. Takes no lock unless a mode switch is under way.
    #[inline]
    pub(crate) fn enter<'a>(&'a self, core: &'a CoreDevice, bar: usize) -> Result<BarIo<'a>> {
        let inside = match self.gates.enter(bar) {
            Some(inside) => inside,
            None => self.enter_after_switch(bar)?,
        };
        Ok(BarIo {
            bars: self,
            core,
            bar,
            inside: Some(inside),
        })
    }

    /// [`Self::enter`] when the gate was closed: a switch holds it closed
    /// under the lock, so once we have the lock, it is open again.
    #[cold]
    #[inline(never)]
    fn enter_after_switch(&self, bar: usize) -> Result<Inside<'_, NUM_BARS>> {
        let _modes = self.modes.lock();
        self.gates.enter(bar).ok_or(EINVAL)
    }

    /// The last reader out of `bar`'s gate found a return to uncached due.
    #[cold]
    #[inline(never)]
    fn restore_for_reader(&self, core: &CoreDevice, bar: usize) {
        let mut modes = self.modes.lock();
        self.restore(&mut modes, core, bar);
    }

    /// Enters the gate of every BAR, for a call into core that may use any
    /// BAR's `barmap` entry, whichever core picks: an ioeventfd request, which
    /// core reads from user memory itself. Until the returned value is
    /// dropped no BAR changes mode, so core sees a live mapping only on an
    /// uncached BAR and refuses the others.
    pub(crate) fn enter_all<'a>(&'a self, core: &'a CoreDevice) -> Result<AllBars<'a>> {
        let mut inside = [const { None }; NUM_BARS];
        for (bar, io) in inside.iter_mut().enumerate() {
            *io = Some(self.enter(core, bar)?);
        }
        Ok(AllBars { _inside: inside })
    }

    /// A new mapping of `bar`, write-combining if `wc`, else uncached.
    ///
    /// Uncached: `EBUSY` while the BAR is write-combining. Write-combining:
    /// switches the BAR's kernel mapping to write-combining first if needed,
    /// `EBUSY` if an uncached mapping, an ioeventfd or a read/write is in
    /// the way.
    pub(crate) fn map(&self, core: &CoreDevice, bar: usize, wc: bool) -> Result {
        if !wc {
            return self.map_uc(core, bar);
        }
        let mut m = self.modes.lock();
        if self.state(bar) & (WINDOWED | RESTORE) == WINDOWED | RESTORE {
            self.restore(&mut m, core, bar);
        }
        let state = self.state(bar);
        // Windows are mapped: the BAR cannot be write-combining as a whole.
        if state & WINDOWED != 0 || self.windows_mapped(&m, bar) {
            return Err(EBUSY);
        }
        if state & WC == 0 {
            let _closed = self.gates.try_close(bar).ok_or(EBUSY)?;
            // With the gate closed no uncached mapping or ioeventfd can be
            // made, so these counts stay.
            if self.uc_maps[bar].load(Relaxed) > 0 || core.ioeventfds() > 0 {
                return Err(EBUSY);
            }
            // SAFETY: No user mapping (uncached ones are counted, and new ones
            // back out while the gate is closed; write-combining ones take
            // our lock; windows are counted), read/write or ioeventfd (the
            // gate is closed with nobody inside, and ioeventfds are counted)
            // uses the BAR's mapping.
            unsafe { self.switch_to_wc(&mut m, core, bar) }?;
            // Before the gate opens again.
            self.set_state(&mut m, bar, state | WC);
        }
        self.set_state(&mut m, bar, (state | WC) & !RESTORE);
        m.bars[bar].wc_maps += 1;
        Ok(())
    }

    /// A new uncached mapping of `bar`: `EBUSY` while the BAR is
    /// write-combining. Takes no lock unless a switch is under way or due.
    fn map_uc(&self, core: &CoreDevice, bar: usize) -> Result {
        // Fully ordered: counted before the gate is checked (a switch closes
        // the gate, then reads the count).
        self.uc_maps[bar].fetch_add(1, Full);
        if self
            .gates
            .open_value(bar)
            .is_some_and(|state| state & (WC | RESTORE) == 0)
        {
            return Ok(());
        }
        self.uc_maps[bar].fetch_sub(1, Relaxed);
        self.map_uc_locked(core, bar)
    }

    /// [`Self::map_uc`] when its gate was closed or the BAR not uncached: the
    /// lock waits for a switch to finish, and a return to uncached that is
    /// due is done first.
    #[cold]
    fn map_uc_locked(&self, core: &CoreDevice, bar: usize) -> Result {
        let mut m = self.modes.lock();
        if self.state(bar) & RESTORE != 0 {
            self.restore(&mut m, core, bar);
        }
        if self.state(bar) & WC != 0 {
            return Err(EBUSY);
        }
        // No switch can start while we hold the lock.
        self.uc_maps[bar].fetch_add(1, Relaxed);
        Ok(())
    }

    /// A mapping of `bar` made by [`Self::map`] with `wc` went away; the
    /// last write-combining one takes the BAR back to uncached.
    pub(crate) fn unmap(&self, core: &CoreDevice, bar: usize, wc: bool) {
        if !wc {
            self.uc_maps[bar].fetch_sub(1, Relaxed);
            return;
        }
        let mut m = self.modes.lock();
        let b = &mut m.bars[bar];
        b.wc_maps = b.wc_maps.saturating_sub(1);
        self.restore(&mut m, core, bar);
    }

    /// Another VMA shares a mapping of `bar` (fork, split).
    pub(crate) fn dup(&self, bar: usize, wc: bool) {
        if !wc {
            // The original keeps the count above zero: no switch can happen.
            self.uc_maps[bar].fetch_add(1, Relaxed);
            return;
        }
        self.modes.lock().bars[bar].wc_maps += 1;
    }

    /// Takes `bar` back to uncached once nothing needs write-combining. If
    /// a read/write is inside the BAR's gate, the last one out does it.
    fn restore(&self, m: &mut Modes, core: &CoreDevice, bar: usize) {
        let state = self.state(bar);
        if state & WINDOWED != 0 {
            self.settle_windows(m, core, bar);
            return;
        }
        if state & WC == 0 || state & POLICY != 0 || m.bars[bar].wc_maps > 0 {
            self.set_state(m, bar, state & !RESTORE);
            return;
        }
        // Visible before the gate's closing barrier (see `BarIo::drop`).
        self.set_state(m, bar, state | RESTORE);
        let Some(_closed) = self.gates.try_close(bar) else {
            return;
        };
        // SAFETY: No write-combining mapping, read/write (the gate is closed
        // with nobody inside) or ioeventfd (none can be created while
        // write-combining) is left, and new ones take our lock or the gate
        // first.
        unsafe { self.switch_to_uc(m, core, bar) };
        self.set_state(m, bar, 0);
    }

    /// A new mapping of alias `slot`'s window of `bar` (write-combining).
    ///
    /// On a BAR that is write-combining as a whole (a whole-BAR alias is
    /// mapped, or the policy) the window is simply part of it: counted as
    /// such, `Ok(false)`. Otherwise the window is counted as one
    /// (`Ok(true)`), and if it was not active, made so: its pages lose their
    /// uncached PTEs and become write-combining in a new [`Layout`]. That
    /// needs the gate: `EBUSY` if a read/write is inside, or, coming from
    /// core's mapping, an ioeventfd exists.
    pub(crate) fn map_window(&self, core: &CoreDevice, slot: &Slot, bar: usize) -> Result<bool> {
        let mut m = self.modes.lock();
        let state = self.state(bar);
        if state & WC != 0 {
            m.bars[bar].wc_maps += 1;
            self.set_state(&mut m, bar, state & !RESTORE);
            return Ok(false);
        }
        let i = slot.index();
        if m.win_maps[i] > 0 || slot.is_active() {
            // Mapped, or still in the layout (a return that is waiting for
            // a reader, which will find nothing to do).
            m.win_maps[i] += 1;
            return Ok(true);
        }
        let _closed = self.gates.try_close(bar).ok_or(EBUSY)?;
        // An ioeventfd keeps a pointer into core's mapping.
        if state & WINDOWED == 0 && core.ioeventfds() > 0 {
            return Err(EBUSY);
        }
        m.win_maps[i] = 1;
        // SAFETY: The gate is closed with nobody inside: no read/write or
        // ioeventfd setup uses the BAR's kernel mappings; ioeventfds do not
        // exist (checked above) or cannot (WINDOWED); user mappings are
        // dealt with by the zap and the fault check.
        if let Err(e) = unsafe { self.relayout(&mut m, core, bar) } {
            m.win_maps[i] = 0;
            // SAFETY: As above; the gate is still closed.
            let _ = unsafe { self.relayout(&mut m, core, bar) };
            return Err(e);
        }
        Ok(true)
    }

    /// Another VMA shares a mapping of `slot`'s window (fork, split).
    pub(crate) fn dup_window(&self, slot: &Slot) {
        self.modes.lock().win_maps[slot.index()] += 1;
    }

    /// A mapping of `slot`'s window of `bar` made by [`Self::map_window`] as
    /// a window went away; the last one takes the window out of the layout.
    pub(crate) fn unmap_window(&self, core: &CoreDevice, slot: &Slot, bar: usize) {
        let mut m = self.modes.lock();
        let i = slot.index();
        m.win_maps[i] = m.win_maps[i].saturating_sub(1);
        if m.win_maps[i] == 0 {
            self.restore(&mut m, core, bar);
        }
    }

    /// Brings `bar`'s layout in line with its mapped windows, or leaves that
    /// to the last reader inside its gate.
    fn settle_windows(&self, m: &mut Modes, core: &CoreDevice, bar: usize) {
        let state = self.state(bar);
        let stale = self
            .slots
            .of_bar(bar)
            .any(|(s, _)| s.is_active() != (m.win_maps[s.index()] > 0));
        if !stale {
            self.set_state(m, bar, state & !RESTORE);
            return;
        }
        // Visible before the gate's closing barrier (see `BarIo::drop`).
        self.set_state(m, bar, state | RESTORE);
        let Some(_closed) = self.gates.try_close(bar) else {
            return;
        };
        // SAFETY: The gate is closed with nobody inside; ioeventfds cannot
        // exist while WINDOWED.
        if let Err(e) = unsafe { self.relayout(m, core, bar) } {
            dev_warn!(
                core.device(),
                "BAR {bar}: cannot map windows again: {e:?}\n"
            );
        }
    }

    /// Maps `bar` in the kernel for its mapped windows (`win_maps`): in a
    /// [`Layout`] if there are any, else whole and uncached by core, as at
    /// open. Under `memory_lock` (no fault in between): windows that become
    /// active get their uncached PTEs zapped first, and windows that leave
    /// become inactive only once their write-combining mapping is gone.
    ///
    /// If the new layout cannot be made, the BAR goes back to core's
    /// mapping with no window active, and every PTE of a window is zapped
    /// (its VMAs then fault in with core's uncached type). If core's mapping
    /// cannot be made again either, the BAR ends as after core's own failed
    /// map at open ([`CoreDevice::restore_barmap`]), and every later call
    /// fails at once with that errno, changing nothing: a BAR without a
    /// layout is only laid out from a live mapping of core's.
    ///
    /// # Safety
    ///
    /// The BAR's gate is closed with nobody inside (or the device has no
    /// user), and no ioeventfd uses core's mapping of the BAR.
    unsafe fn relayout(&self, m: &mut Modes, core: &CoreDevice, bar: usize) -> Result {
        // A failure to list the windows fails the layout like a failed map:
        // an early return would leave windows active that nothing maps.
        let wanted = self.slots.union(bar, |s| m.win_maps[s.index()] > 0);
        let state = self.state(bar);
        let cell = self.layouts[bar].0.get();
        // SAFETY: We hold `modes` (`LayoutCell`'s invariant).
        if unsafe { (*cell).is_none() } {
            core.barmap_status(bar)?;
        }
        let ret = core.with_memory_locked(|locked| {
            for (slot, t) in self.slots.of_bar(bar) {
                if m.win_maps[slot.index()] > 0 && !slot.is_active() {
                    self.slots.set_active(locked, slot, true);
                    locked.zap(bar, t.start, t.size);
                }
            }
            // PAT gives a new mapping the type of any mapping of the same
            // pages that exists: the old ones go first.
            // SAFETY: By the safety requirements nothing uses the layout or
            // core's mapping; we hold `modes` (`LayoutCell`'s invariant).
            let old = unsafe { (*cell).take() };
            if old.is_none() {
                // SAFETY: As above; core's mapping is live (checked above,
                // and only we change it).
                let _ = unsafe { core.take_barmap(bar) };
            }
            drop(old);
            let built = wanted.and_then(|wanted| match wanted.is_empty() {
                true => Ok(None),
                false => Layout::new(core, bar, &wanted).map(Some),
            });
            let (new, failed) = match built {
                Ok(layout) => (layout, None),
                Err(e) => {
                    // Back to core's uncached mapping: no write-combining PTE
                    // may stay.
                    for (slot, t) in self.slots.of_bar(bar) {
                        if slot.is_active() {
                            locked.zap(bar, t.start, t.size);
                        }
                    }
                    (None, Some(e))
                }
            };
            let ret = match new {
                Some(layout) => {
                    // SAFETY: As above.
                    unsafe { *cell = Some(layout) };
                    Ok(())
                }
                // SAFETY: As above; core's mapping was taken above.
                None => unsafe { core.restore_barmap(bar) },
            };
            // Out of the layout only now that its mapping is gone.
            for (slot, _) in self.slots.of_bar(bar) {
                if slot.is_active() && (failed.is_some() || m.win_maps[slot.index()] == 0) {
                    self.slots.set_active(locked, slot, false);
                }
            }
            failed.map_or(ret, Err)
        });
        // SAFETY: As above.
        let windowed = unsafe { (*cell).is_some() };
        let state = if windowed {
            state | WINDOWED
        } else {
            state & !WINDOWED
        };
        self.set_state(m, bar, state & !RESTORE);
        ret
    }

    /// Whether mmap() may map `bar`, as core checks it: core's kernel
    /// mapping must exist (the region could be requested and mapped at
    /// open), or the BAR's layout in its place.
    pub(crate) fn bar_usable(&self, core: &CoreDevice, bar: usize) -> Result {
        if self.state(bar) & (WC | WINDOWED) != 0 || core.barmap_status(bar).is_ok() {
            return Ok(());
        }
        // Maybe between core's mapping and a layout: wait for the switch.
        let _m = self.modes.lock();
        if self.state(bar) & (WC | WINDOWED) != 0 {
            return Ok(());
        }
        core.barmap_status(bar)
    }

    /// Before core's close: a BAR mapped by a layout of ours (write-combining,
    /// or a return from windows left over) drops it and releases the BAR's
    /// region, as core's close does for the BARs it maps.
    pub(crate) fn close(&self, core: &CoreDevice) {
        let mut m = self.modes.lock();
        self.release_all(&mut m, core);
    }

    /// [`Self::close`] with the lock held; also undoes a failed open.
    fn release_all(&self, m: &mut Modes, core: &CoreDevice) {
        m.win_maps = [0; MAX_ALIASES];
        for bar in 0..NUM_BARS {
            let state = self.state(bar);
            if state & (WC | WINDOWED) == 0 {
                continue;
            }
            // SAFETY: The device has no user left (or none yet): nothing uses
            // the layout; we hold `modes`.
            drop(unsafe { (*self.layouts[bar].0.get()).take() });
            // SAFETY: A BAR with a layout was taken from core; its mappings
            // are gone with the layout.
            unsafe { core.release_barmap(bar) };
            self.set_state(m, bar, state & !(WC | WINDOWED | RESTORE));
        }
    }

    /// Forgets all users: the device was closed (core unmapped the BARs)
    /// or failed to open. The policy stays.
    pub(crate) fn reset(&self) {
        let mut m = self.modes.lock();
        m.bars = Default::default();
        m.win_maps = [0; MAX_ALIASES];
        m.open = false;
        for bar in 0..NUM_BARS {
            self.set_state(&mut m, bar, 0);
            self.uc_maps[bar].store(0, Relaxed);
        }
    }

    /// The state of every BAR of `core`, for debugfs: one line per
    /// implemented BAR.
    pub(crate) fn show(&self, core: &CoreDevice, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.modes.lock();
        writeln!(f, "open: {}", if m.open { "yes" } else { "no" })?;
        writeln!(f, "wc_bars: {}", m.policy)?;
        writeln!(f, "bar  kind  type  policy  uc_maps  wc_maps  in_flight")?;
        for (bar, b) in m.bars.iter().enumerate() {
            if core.bar_len(bar) == 0 {
                continue;
            }
            let kind = if !core.bar_mmap_capable(bar) {
                "other"
            } else if policy::prefetchable(core, bar) {
                "pref"
            } else {
                "mem"
            };
            // The kernel mapping's type; none while the device is closed.
            let state = self.state(bar);
            let ty = match (m.open, state & WC != 0, state & WINDOWED != 0) {
                (false, _, _) => "-",
                (true, true, _) => "wc",
                (true, false, true) => "win",
                (true, false, false) => "uc",
            };
            let pol = if m.policy.contains(bar) { "wc" } else { "-" };
            writeln!(
                f,
                "{bar:<4} {kind:<5} {ty:<5} {pol:<7} {:<8} {:<8} {}",
                self.uc_maps[bar].load(Relaxed),
                b.wc_maps,
                self.gates.inside(bar)
            )?;
        }
        for (bar, cell) in self.layouts.iter().enumerate() {
            // SAFETY: `modes` is held: the layout cannot be replaced.
            let Some(layout) = (unsafe { (*cell.0.get()).as_ref() }) else {
                continue;
            };
            write!(f, "bar {bar} layout:")?;
            for (start, end, wc) in layout.chunks() {
                let ty = if wc { "wc" } else { "uc" };
                write!(f, " {start:#x}-{end:#x} {ty}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
