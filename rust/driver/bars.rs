// SPDX-License-Identifier: GPL-2.0

//! The memory type of each BAR while the device is open.
//!
//! x86 PAT keeps one memory type per physical range, and `vmf_insert_pfn()`
//! maps with the type already tracked for the range, whatever the VMA asks
//! for. vfio_pci_core maps every BAR uncached in the kernel at open, so a
//! write-combining user mapping needs the kernel mapping to be
//! write-combining too, and no uncached user mapping of the BAR at the same
//! time. Each BAR is therefore in one of these modes:
//!
//! - uncached (the default, as in vfio-pci): mmap() of the BAR's own region
//!   is allowed; a write-combining alias mapping switches the mode if no
//!   uncached mapping, ioeventfd or read/write is in the way, else `EBUSY`;
//! - write-combining ([`BarFlag::Wc`]): the BAR is taken from core
//!   ([`BarWrite::take`]) and mapped write-combining in a one-chunk
//!   [`ChunkedMap`] of ours, which serves its read/write; alias mappings are
//!   allowed, mmap() of the BAR's own region and new ioeventfds on it fail
//!   with `EBUSY`. When the last write-combining mapping goes the BAR
//!   returns to uncached;
//! - windowed ([`BarFlag::Windowed`], [`super::windows`]): windows of the BAR
//!   are mapped through their aliases, and the BAR is mapped in chunks of
//!   both types.
//!
//! A BAR of the device's write-combining policy ([`super::policy`]) is
//! write-combining from open to close ([`BarFlag::Policy`]): mmap() of its
//! own region maps it write-combining too, and it never returns to uncached
//! while the device is open.
//!
//! Core's mapping of a BAR is therefore only there while the BAR is
//! uncached: in every other mode core refuses whatever it is asked to do
//! with the BAR (see [`BarMaps`]). Our read/write of a BAR, and core's, run
//! inside the BAR's gate ([`Bars::enter`], [`Bars::enter_all`]): no lock, no
//! shared cache line written. A mode switch holds the gate as its writer,
//! which succeeds only while nobody is inside, and is refused (`EBUSY`)
//! otherwise: it never waits, as it runs under the mmap lock. A return to
//! uncached that finds somebody inside is left to the last one out
//! ([`BarAccess`]). Uncached mappings are counted without the lock too
//! ([`Bars::map`]), against the same gate.

use super::{
    alias::Span,
    alias_cache::{AliasCache, DMABUF_WINDOWS, SLOTS},
    chunked_map::ChunkedMap,
    policy::BarSet,
};
use crate::staging::vfio::{self, BarMaps, BarRead, BarWrite, CoreDevice, NUM_BARS};
use kernel::{
    bits::bit_u32,
    impl_flags, new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Full, Relaxed},
        Mutex,
    },
    uaccess::UserPtr,
};

impl_flags!(
    /// A BAR's state, kept in its gate ([`BarMaps::state`]).
    #[derive(Clone, Copy, Default, PartialEq, Eq)]
    pub(super) struct BarState(u32);

    /// One bit of [`BarState`].
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(super) enum BarFlag {
        /// The BAR is write-combining as a whole, mapped by a one-chunk
        /// [`ChunkedMap`] in place of core's mapping.
        Wc = bit_u32(0),
        /// The BAR is write-combining by policy (device open).
        Policy = bit_u32(1),
        /// The BAR is to return to uncached (or to a new layout of its
        /// windows), which the last reader inside its gate does.
        Restore = bit_u32(2),
        /// Core's mapping of the BAR is taken and a [`ChunkedMap`] of its
        /// windows maps it instead.
        Windowed = bit_u32(3),
    }
);

impl BarState {
    /// The state of the raw value `bits`, as [`BarMaps`] keeps it.
    pub(super) fn from_raw(bits: u32) -> Self {
        Self(bits)
    }
}

/// What [`Bars::users`] guards: the users of the BARs that only change under
/// the lock (uncached mappings are counted without it, in [`Bars::uc_maps`]).
pub(super) struct Users {
    /// Per BAR, VMAs mapping it write-combining (an alias, or the policy).
    pub(super) wc_maps: [usize; NUM_BARS],
    /// The device's write-combining policy; kept across opens.
    pub(super) policy: BarSet,
    /// BARs outside the prefetchable default that were already logged.
    logged: BarSet,
    /// The device is open (between [`Bars::open`] and [`Bars::reset`]).
    pub(super) open: bool,
    /// Per slot, VMAs mapping its window as a window (not as part of a
    /// write-combining BAR); for a DMABUF slot, 1 while the DMABUF has a
    /// write-combining mapping.
    pub(super) win_maps: [usize; SLOTS],
    /// DMABUF slots taken by a write-combining DMABUF.
    pub(super) dmabuf_slots: [bool; DMABUF_WINDOWS],
}

/// Memory type and users of every BAR of a device.
///
/// # Invariants
///
/// For each BAR, its state is in `maps` ([`BarMaps::state`]):
/// - it is only written with `users` held;
/// - its [`BarFlag::Wc`] and [`BarFlag::Windowed`] bits only change while
///   the BAR's gate is held as its writer, and are never both set;
/// - with either, the BAR is taken from core and `maps` holds its
///   [`ChunkedMap`]; without, it is core's;
/// - `uc_maps` above zero, outside a [`Bars::map`] that backs out again,
///   implies no [`BarFlag::Wc`]; while open, every BAR of the policy whose
///   mapping core could make has [`BarFlag::Wc`] and [`BarFlag::Policy`];
/// - [`BarFlag::Wc`] is not set while a window of the BAR is mapped as a
///   window (`win_maps`), active or not.
#[pin_data]
pub(crate) struct Bars {
    /// Per BAR, its kernel mapping (core's or ours), its gate and its state.
    pub(super) maps: BarMaps<ChunkedMap>,
    /// Per BAR, VMAs mapping it uncached (its own region index), counted
    /// without the lock: a switch to write-combining holds the BAR's gate
    /// before it reads the count, and a new mapping counts itself before it
    /// checks the gate ([`BarMaps::open_state`]).
    pub(super) uc_maps: [Atomic<usize>; NUM_BARS],
    /// Per alias, its span and window state.
    cache: AliasCache,
    /// The largest size of a DMABUF the device exported in this open: their
    /// VMAs are at the device file's offsets below it
    /// ([`Self::zap_uncached`]). Raised before a DMABUF's fd exists.
    dmabuf_extent: Atomic<u64>,
    #[pin]
    pub(super) users: Mutex<Users>,
}

/// A read/write (or ioeventfd setup) using a BAR's kernel mapping, whose
/// memory type cannot change until this is dropped.
pub(crate) struct BarAccess<'a> {
    bars: &'a Bars,
    core: &'a CoreDevice,
    bar: usize,
    read: Option<BarRead<'a, ChunkedMap>>,
}

impl BarAccess<'_> {
    /// `read()` (or `write()`) of `count` bytes at the file offset `pos` of
    /// the BAR's region: through our mapping if the BAR is write-combining or
    /// windowed, waking the device first as core does; else by core.
    #[inline]
    pub(crate) fn rw(&self, buf: UserPtr, count: usize, pos: u64, write: bool) -> Result<isize> {
        let read = self.read.as_ref().ok_or(EINVAL)?;
        match read.map() {
            Some(map) => {
                let _awake = self.core.runtime_get()?;
                map.rw(self.core, buf, count, vfio::offset_in_region(pos), write)
            }
            None => read.core_rw(self.core, buf, count, &mut (pos as i64), write),
        }
    }
}

impl Drop for BarAccess<'_> {
    #[inline]
    fn drop(&mut self) {
        // The state after leaving: either `Bars::restore` saw this reader
        // gone, or this reader sees its request.
        let after = self.read.take().map_or(0, |r| r.leave());
        if BarState::from_raw(after).contains(BarFlag::Restore) {
            self.bars.restore_for_reader(self.core, self.bar);
        }
    }
}

/// Every BAR's gate entered ([`Bars::enter_all`]).
pub(crate) struct AllBars<'a> {
    /// Left, in BAR order, when dropped.
    all: [Option<BarAccess<'a>>; NUM_BARS],
}

impl AllBars<'_> {
    /// `VFIO_DEVICE_IOEVENTFD` at user address `arg`, by core.
    pub(crate) fn ioeventfd(&self, arg: usize) -> Result<isize> {
        let first = self.all[0].as_ref().ok_or(EINVAL)?;
        let readers = self
            .all
            .each_ref()
            .map(|a| a.as_ref().and_then(|a| a.read.as_ref()));
        first.bars.maps.ioeventfd(first.core, readers, arg)
    }
}

impl Bars {
    /// No user, `policy` as the write-combining policy.
    pub(crate) fn new<'a>(core: &'a CoreDevice, policy: BarSet) -> impl PinInit<Self, Error> + 'a {
        try_pin_init!(Self {
            maps: BarMaps::new::<super::AliasDevice>(core)?,
            uc_maps: [const { Atomic::new(0) }; NUM_BARS],
            cache: AliasCache::new(),
            dmabuf_extent: Atomic::new(0),
            users <- new_mutex!(Users {
                wc_maps: [0; NUM_BARS],
                policy,
                logged: BarSet::default(),
                open: false,
                win_maps: [0; SLOTS],
                dmabuf_slots: [false; DMABUF_WINDOWS],
            }),
        })
    }

    /// The state of `bar`.
    #[inline]
    pub(super) fn state(&self, bar: usize) -> BarState {
        BarState(self.maps.state(bar))
    }

    /// Sets the state of `bar`; `_users` proves the lock is held.
    pub(super) fn set_state(&self, _users: &mut Users, bar: usize, state: BarState) {
        self.maps.set_state(bar, state.into());
    }

    /// Every alias's span and window state.
    #[inline]
    pub(crate) fn cache(&self) -> &AliasCache {
        &self.cache
    }

    /// Records a DMABUF of `size` bytes (see `dmabuf_extent`), before its
    /// fd exists.
    pub(crate) fn note_dmabuf(&self, size: u64) {
        let mut old = self.dmabuf_extent.load(Relaxed);
        while old < size {
            match self.dmabuf_extent.cmpxchg(old, size, Full) {
                Ok(_) => break,
                Err(now) => old = now,
            }
        }
    }

    /// See `dmabuf_extent`.
    pub(super) fn dmabuf_extent(&self) -> u64 {
        self.dmabuf_extent.load(Relaxed)
    }

    /// The write-combining policy.
    pub(crate) fn policy(&self) -> BarSet {
        self.users.lock().policy
    }

    /// Sets the write-combining policy: `EBUSY` while the device is open.
    pub(crate) fn set_policy(&self, core: &CoreDevice, set: BarSet) -> Result {
        let mut m = self.users.lock();
        if m.open {
            return Err(EBUSY);
        }
        for bar in set.iter() {
            if !core.bar_prefetchable(bar) && !m.logged.contains(bar) {
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
        self.state(bar).contains(BarFlag::Policy)
    }

    /// The device was enabled for a new user: the policy's BARs become
    /// write-combining. A BAR core could not map at open stays as core left
    /// it, as vfio-pci opens with it. On error every BAR is core's again
    /// (or released, see [`Self::close`]); the caller resets and disables
    /// the device.
    pub(crate) fn open(&self, core: &CoreDevice) -> Result {
        let mut m = self.users.lock();
        for bar in m.policy.iter() {
            if let Err(e) = core.barmap_status(bar) {
                dev_dbg!(
                    core.device(),
                    "wc_bars: BAR {bar} stays as core left it at open: {e:?}\n"
                );
                continue;
            }
            // The device has no user yet: nobody is inside the gate.
            let switched = match self.maps.try_write(bar) {
                Some(mut w) => Self::switch_to_wc(&mut w, core, bar),
                None => Err(EBUSY),
            };
            if let Err(e) = switched {
                self.release_all(&mut m, core);
                return Err(e);
            }
            self.set_state(&mut m, bar, BarFlag::Wc | BarFlag::Policy);
        }
        m.open = true;
        Ok(())
    }

    /// Maps `bar` write-combining as a whole, in place of core's uncached
    /// mapping, which is removed first (PAT allows one memory type per
    /// range). If the new mapping cannot be made, core's comes back (or the
    /// BAR ends as after core's own failed map at open); the BAR is
    /// uncached either way, and the error is returned. The caller has
    /// checked that no uncached user mapping or mapped window uses the BAR.
    fn switch_to_wc(w: &mut BarWrite<'_, ChunkedMap>, core: &CoreDevice, bar: usize) -> Result {
        w.take(core)?;
        let whole = [Span {
            index: bar as u32,
            start: 0,
            size: core.bar_len(bar),
        }];
        match ChunkedMap::new(core, bar, &whole) {
            Ok(map) => w.set_map(map),
            Err(e) => {
                // `ChunkedMap::new` dropped what it mapped.
                let _ = w.give_back(core);
                Err(e)
            }
        }
    }

    /// Gives a write-combining `bar` back to core, uncached. The caller has
    /// checked that no write-combining user mapping of the BAR is left.
    fn switch_to_uc(w: &mut BarWrite<'_, ChunkedMap>, core: &CoreDevice, bar: usize) {
        if let Err(e) = w.give_back(core) {
            // Core's mapping is an error pointer now; read/write fail as
            // after a failed map at open.
            dev_warn!(
                core.device(),
                "BAR {bar}: cannot map uncached again: {e:?}\n"
            );
        }
    }

    /// Enters `bar`'s gate for a read/write of its kernel mapping: the
    /// mapping stays as it is until the returned value is dropped. Takes no
    /// lock unless a mode switch is under way.
    #[inline]
    pub(crate) fn enter<'a>(&'a self, core: &'a CoreDevice, bar: usize) -> Result<BarAccess<'a>> {
        let read = match self.maps.read(bar) {
            Some(read) => read,
            None => self.enter_after_switch(bar)?,
        };
        Ok(BarAccess {
            bars: self,
            core,
            bar,
            read: Some(read),
        })
    }

    /// [`Self::enter`] when the gate was held by a writer: a switch holds it
    /// under the lock, so once we have the lock, it is open again.
    #[cold]
    #[inline(never)]
    fn enter_after_switch(&self, bar: usize) -> Result<BarRead<'_, ChunkedMap>> {
        let _users = self.users.lock();
        self.maps.read(bar).ok_or(EINVAL)
    }

    /// The last reader out of `bar`'s gate found a return to uncached due.
    #[cold]
    #[inline(never)]
    fn restore_for_reader(&self, core: &CoreDevice, bar: usize) {
        let mut users = self.users.lock();
        self.restore(&mut users, core, bar);
    }

    /// Enters the gate of every BAR, for a call into core that may use any
    /// BAR's mapping, whichever core picks: an ioeventfd request, which core
    /// reads from user memory itself. Until the returned value is dropped no
    /// BAR changes mode, so core sees a mapping only on an uncached BAR and
    /// refuses the others.
    pub(crate) fn enter_all<'a>(&'a self, core: &'a CoreDevice) -> Result<AllBars<'a>> {
        let mut all = [const { None }; NUM_BARS];
        for (bar, access) in all.iter_mut().enumerate() {
            *access = Some(self.enter(core, bar)?);
        }
        Ok(AllBars { all })
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
        let mut m = self.users.lock();
        if self
            .state(bar)
            .contains_all(BarFlag::Windowed | BarFlag::Restore)
        {
            self.restore(&mut m, core, bar);
        }
        let state = self.state(bar);
        // Windows are mapped: the BAR cannot be write-combining as a whole.
        if state.contains(BarFlag::Windowed) || self.windows_mapped(&m, bar) {
            return Err(EBUSY);
        }
        if !state.contains(BarFlag::Wc) {
            let mut w = self.maps.try_write(bar).ok_or(EBUSY)?;
            // With the gate held no uncached mapping or ioeventfd can be
            // made, so these counts stay.
            if self.uc_maps[bar].load(Relaxed) > 0 || core.ioeventfds() > 0 {
                return Err(EBUSY);
            }
            Self::switch_to_wc(&mut w, core, bar)?;
            // Before the gate opens again.
            self.set_state(&mut m, bar, state | BarFlag::Wc);
        }
        self.set_state(&mut m, bar, (state | BarFlag::Wc) & !BarFlag::Restore);
        m.wc_maps[bar] += 1;
        Ok(())
    }

    /// A new uncached mapping of `bar`: `EBUSY` while the BAR is
    /// write-combining. Takes no lock unless a switch is under way or due.
    fn map_uc(&self, core: &CoreDevice, bar: usize) -> Result {
        // Fully ordered: counted before the gate is checked (a switch takes
        // the gate, then reads the count).
        self.uc_maps[bar].fetch_add(1, Full);
        if self
            .maps
            .open_state(bar)
            .is_some_and(|s| !BarState(s).contains_any(BarFlag::Wc | BarFlag::Restore))
        {
            return Ok(());
        }
        self.uc_maps[bar].fetch_sub(1, Relaxed);
        self.map_uc_locked(core, bar)
    }

    /// [`Self::map_uc`] when its gate was held or the BAR not uncached: the
    /// lock waits for a switch to finish, and a return to uncached that is
    /// due is done first.
    #[cold]
    fn map_uc_locked(&self, core: &CoreDevice, bar: usize) -> Result {
        let mut m = self.users.lock();
        if self.state(bar).contains(BarFlag::Restore) {
            self.restore(&mut m, core, bar);
        }
        if self.state(bar).contains(BarFlag::Wc) {
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
        let mut m = self.users.lock();
        m.wc_maps[bar] = m.wc_maps[bar].saturating_sub(1);
        self.restore(&mut m, core, bar);
    }

    /// Another VMA shares a mapping of `bar` (fork, split).
    pub(crate) fn dup(&self, bar: usize, wc: bool) {
        if !wc {
            // The original keeps the count above zero: no switch can happen.
            self.uc_maps[bar].fetch_add(1, Relaxed);
            return;
        }
        self.users.lock().wc_maps[bar] += 1;
    }

    /// Takes `bar` back to uncached once nothing needs write-combining, or
    /// brings its windows' layout up to date. If a read/write is inside the
    /// BAR's gate, the last one out does it.
    pub(super) fn restore(&self, m: &mut Users, core: &CoreDevice, bar: usize) {
        let state = self.state(bar);
        if state.contains(BarFlag::Windowed) {
            self.settle_windows(m, core, bar);
            return;
        }
        if !state.contains(BarFlag::Wc) || state.contains(BarFlag::Policy) || m.wc_maps[bar] > 0 {
            self.set_state(m, bar, state & !BarFlag::Restore);
            return;
        }
        // Visible before the gate's writer barrier (see `BarAccess::drop`).
        self.set_state(m, bar, state | BarFlag::Restore);
        let Some(mut w) = self.maps.try_write(bar) else {
            return;
        };
        // No write-combining mapping or read/write (we hold the gate) is
        // left, and new ones take our lock or the gate first.
        Self::switch_to_uc(&mut w, core, bar);
        self.set_state(m, bar, BarState::default());
    }

    /// Whether mmap() may map `bar`, as core checks it: core's kernel
    /// mapping must exist (the region could be requested and mapped at
    /// open), or ours in its place.
    pub(crate) fn bar_usable(&self, core: &CoreDevice, bar: usize) -> Result {
        let ours = BarFlag::Wc | BarFlag::Windowed;
        if self.state(bar).contains_any(ours) || core.barmap_status(bar).is_ok() {
            return Ok(());
        }
        // Maybe between core's mapping and ours: wait for the switch.
        let _m = self.users.lock();
        if self.state(bar).contains_any(ours) {
            return Ok(());
        }
        core.barmap_status(bar)
    }

    /// Before core's close: a BAR mapped by us (write-combining, or a return
    /// from windows left over) drops our mapping and releases the BAR's
    /// region, as core's close does for the BARs it maps.
    pub(crate) fn close(&self, core: &CoreDevice) {
        let mut m = self.users.lock();
        self.release_all(&mut m, core);
    }

    /// [`Self::close`] with the lock held; also undoes a failed open.
    fn release_all(&self, m: &mut Users, core: &CoreDevice) {
        m.win_maps = [0; SLOTS];
        for bar in 0..NUM_BARS {
            let state = self.state(bar);
            if !state.contains_any(BarFlag::Wc | BarFlag::Windowed) {
                continue;
            }
            // The device has no user left (or none yet): nobody is inside.
            let Some(mut w) = self.maps.try_write(bar) else {
                dev_warn!(core.device(), "BAR {bar}: in use at close\n");
                continue;
            };
            if let Err(e) = w.release(core) {
                dev_warn!(core.device(), "BAR {bar}: cannot release: {e:?}\n");
            }
            let ours = BarFlag::Wc | BarFlag::Windowed | BarFlag::Restore;
            self.set_state(m, bar, state & !ours);
        }
    }

    /// Forgets all users: the device was closed (core unmapped the BARs)
    /// or failed to open. The policy stays.
    pub(crate) fn reset(&self) {
        let mut m = self.users.lock();
        m.wc_maps = [0; NUM_BARS];
        m.win_maps = [0; SLOTS];
        m.dmabuf_slots = [false; DMABUF_WINDOWS];
        m.open = false;
        self.dmabuf_extent.store(0, Relaxed);
        for bar in 0..NUM_BARS {
            self.set_state(&mut m, bar, BarState::default());
            self.uc_maps[bar].store(0, Relaxed);
        }
    }
}
