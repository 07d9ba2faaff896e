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
//! - write-combining: the kernel mapping is `ioremap_wc()`, alias mappings
//!   are allowed, mmap() of the BAR's own region and new ioeventfds on it
//!   fail with `EBUSY`. When the last write-combining mapping goes the BAR
//!   returns to uncached.
//!
//! A BAR of the device's write-combining policy ([`super::policy`]) is
//! write-combining from open to close: its kernel mapping is switched at
//! open, mmap() of its own region maps it write-combining too, and it never
//! returns to uncached while the device is open.
//!
//! Core reads `barmap` without our lock in read/write and keeps pointers into
//! it for ioeventfds. read/write and ioeventfd setup therefore pass the BAR's
//! gate ([`crate::gate`]) around core's access ([`Bars::enter`]): no lock,
//! no shared cache line written. A mode switch closes the gate first, which
//! succeeds only while nobody is inside, and is refused (`EBUSY`) otherwise:
//! it never waits, as it runs under the mmap lock. A return to uncached that
//! finds somebody inside is left to the last one out ([`BarIo`]). Uncached
//! mappings are counted without the lock too ([`Bars::uc_maps`]), against
//! the same gate. See Documentation/vfio-pci-alias.rst.

use super::policy::{self, BarSet};
use crate::{
    gate::{Gates, Inside},
    vfio::{CoreDevice, NUM_BARS},
};
use core::fmt;
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
#[derive(Default)]
struct Modes {
    bars: [Bar; NUM_BARS],
    /// The device's write-combining policy; kept across opens.
    policy: BarSet,
    /// BARs outside the prefetchable default that were already logged.
    logged: BarSet,
    /// The device is open (between [`Bars::open`] and [`Bars::reset`]).
    open: bool,
}

/// State bit (the value of the BAR's gate): core's kernel mapping of the BAR
/// is write-combining.
const WC: u32 = 1 << 0;
/// State bit: the BAR is write-combining by policy (device open).
const POLICY: u32 = 1 << 1;
/// State bit: the BAR is to return to uncached, which the last reader inside
/// its gate does.
const RESTORE: u32 = 1 << 2;

/// Memory type and users of every BAR of a device.
///
/// # Invariants
///
/// For each BAR, its state is the value of its gate in `gates`:
/// - it is only written with `modes` held;
/// - its [`WC`] bit is set iff core's `barmap` entry is an `ioremap_wc()`
///   mapping made by [`Bars::map`] or [`Bars::open`], and only changes while
///   the BAR's gate is closed or the device has no user (open, close);
/// - `uc_maps` above zero, outside a [`Bars::map`] that backs out again,
///   implies no [`WC`]; while open, every BAR of the policy
///   has [`WC`] and [`POLICY`].
#[pin_data]
pub(crate) struct Bars {
    /// Readers of core's kernel mappings, one gate per BAR, whose value is
    /// the BAR's state ([`WC`], [`POLICY`], [`RESTORE`]).
    gates: Gates<NUM_BARS>,
    /// Per BAR, VMAs mapping it uncached (its own region index), counted
    /// without the lock: a switch to write-combining closes the BAR's gate
    /// before it reads the count, and a new mapping counts itself before it
    /// checks the gate ([`Gates::open_value`]).
    uc_maps: [Atomic<usize>; NUM_BARS],
    #[pin]
    modes: Mutex<Modes>,
}

/// A read/write (or ioeventfd setup) using core's kernel mapping of a BAR,
/// whose memory type cannot change until this is dropped.
pub(crate) struct BarIo<'a> {
    bars: &'a Bars,
    core: &'a CoreDevice,
    bar: usize,
    inside: Option<Inside<'a, NUM_BARS>>,
}

impl BarIo<'_> {
    /// Whether the kernel mapping is write-combining.
    pub(crate) fn wc(&self) -> bool {
        self.inside.as_ref().is_some_and(|i| i.value() & WC != 0)
    }
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
    /// write-combining. On error the caller resets and disables the device.
    pub(crate) fn open(&self, core: &CoreDevice) -> Result {
        let mut m = self.modes.lock();
        for bar in m.policy.iter() {
            // SAFETY: The device is being opened: it has no user yet, so no
            // read/write, ioeventfd or mapping uses core's mapping.
            unsafe { core.remap_bar(bar, true) }?;
            self.set_state(&mut m, bar, WC | POLICY);
        }
        m.open = true;
        Ok(())
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

    /// As [`Self::enter`], for a user that needs an uncached mapping (an
    /// ioeventfd, which keeps a pointer into it): `EBUSY` while the BAR is
    /// write-combining.
    pub(crate) fn enter_uncached<'a>(
        &'a self,
        core: &'a CoreDevice,
        bar: usize,
    ) -> Result<BarIo<'a>> {
        let io = self.enter(core, bar)?;
        if !io.wc() {
            return Ok(io);
        }
        // Maybe only waiting for its last reader to take it back: this one.
        drop(io);
        let io = self.enter(core, bar)?;
        if io.wc() {
            return Err(EBUSY);
        }
        Ok(io)
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
        let state = self.state(bar);
        if state & WC == 0 {
            let _closed = self.gates.try_close(bar).ok_or(EBUSY)?;
            // With the gate closed no uncached mapping or ioeventfd can be
            // made, so these counts stay.
            if self.uc_maps[bar].load(Relaxed) > 0 || core.ioeventfds() > 0 {
                return Err(EBUSY);
            }
            // SAFETY: No user mapping (uncached ones are counted, and new ones
            // back out while the gate is closed; write-combining ones take
            // our lock), read/write or ioeventfd (the gate is closed with
            // nobody inside, and ioeventfds are counted) uses the mapping.
            unsafe { core.remap_bar(bar, true) }?;
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
        if let Err(e) = unsafe { core.remap_bar(bar, false) } {
            // Core's mapping is an error pointer now; read/write fail as
            // after a failed map at open. The mode is uncached.
            dev_warn!(
                core.device(),
                "BAR {bar}: cannot map uncached again: {e:?}\n"
            );
        }
        self.set_state(m, bar, 0);
    }

    /// Forgets all users: the device was closed (core unmapped the BARs)
    /// or failed to open. The policy stays.
    pub(crate) fn reset(&self) {
        let mut m = self.modes.lock();
        m.bars = Default::default();
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
            let ty = match (m.open, self.state(bar) & WC != 0) {
                (false, _) => "-",
                (true, true) => "wc",
                (true, false) => "uc",
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
        Ok(())
    }
}
