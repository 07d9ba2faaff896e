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
//! it for ioeventfds, so the mapping is only replaced while neither is in
//! flight ([`BarModes::begin_io`]); see Documentation/vfio-pci-alias.rst.

use super::policy::{self, BarSet};
use crate::vfio::{CoreDevice, NUM_BARS};
use core::fmt;
use kernel::prelude::*;

/// Users of one BAR.
#[derive(Default, Clone, Copy)]
struct Bar {
    /// VMAs mapping the BAR uncached (its own region index).
    uc_maps: usize,
    /// VMAs mapping the BAR write-combining (an alias).
    wc_maps: usize,
    /// read/write/ioeventfd calls into core using `barmap[bar]` right now.
    in_flight: usize,
    /// The kernel mapping is write-combining.
    wc: bool,
}

/// Memory type and users of every BAR of a device.
///
/// # Invariants
///
/// For each BAR: `wc` is true iff core's `barmap` entry is an `ioremap_wc()`
/// mapping made by [`BarModes::map_wc`] or [`BarModes::open`];
/// `uc_maps > 0` implies `!wc`; while `open`, every BAR of `policy` is `wc`.
#[derive(Default)]
pub(crate) struct BarModes {
    bars: [Bar; NUM_BARS],
    /// The device's write-combining policy; kept across opens.
    policy: BarSet,
    /// BARs outside the prefetchable default that were already logged.
    logged: BarSet,
    /// The device is open (between [`Self::open`] and [`Self::reset`]).
    open: bool,
}

impl BarModes {
    /// No user, `policy` as the write-combining policy.
    pub(crate) fn new(policy: BarSet) -> Self {
        Self {
            policy,
            ..Self::default()
        }
    }

    /// The write-combining policy.
    pub(crate) fn policy(&self) -> BarSet {
        self.policy
    }

    /// Sets the write-combining policy: `EBUSY` while the device is open.
    pub(crate) fn set_policy(&mut self, core: &CoreDevice, set: BarSet) -> Result {
        if self.open {
            return Err(EBUSY);
        }
        for bar in set.iter() {
            if !policy::prefetchable(core, bar) && !self.logged.contains(bar) {
                self.logged = self.logged.with(bar);
                dev_info!(
                    core.device(),
                    "BAR {bar} is not prefetchable but set write-combining: reads may be speculative or merged\n"
                );
            }
        }
        self.policy = set;
        Ok(())
    }

    /// Whether `bar` is write-combining by policy (and the device open).
    pub(crate) fn is_policy_wc(&self, bar: usize) -> bool {
        self.open && self.policy.contains(bar)
    }

    /// The device was enabled for a new user: the policy's BARs become
    /// write-combining. On error the caller disables the device again.
    pub(crate) fn open(&mut self, core: &CoreDevice) -> Result {
        for bar in self.policy.iter() {
            // SAFETY: The device is being opened: it has no user yet, so no
            // read/write, ioeventfd or mapping uses core's mapping.
            unsafe { core.remap_bar(bar, true) }?;
            self.bars[bar].wc = true;
        }
        self.open = true;
        Ok(())
    }

    /// A new mapping of `bar`, write-combining if `wc` ([`Self::map_wc`]),
    /// else uncached ([`Self::map_uc`]).
    pub(crate) fn map(&mut self, core: &CoreDevice, bar: usize, wc: bool) -> Result {
        if wc {
            self.map_wc(core, bar)
        } else {
            self.map_uc(bar)
        }
    }

    /// A mapping of `bar` made by [`Self::map`] with `wc` went away.
    pub(crate) fn unmap(&mut self, core: &CoreDevice, bar: usize, wc: bool) {
        if wc {
            self.unmap_wc(core, bar);
        } else {
            self.unmap_uc(bar);
        }
    }

    /// A new uncached mapping of `bar`. `EBUSY` while the BAR is
    /// write-combining.
    fn map_uc(&mut self, bar: usize) -> Result {
        let b = &mut self.bars[bar];
        if b.wc {
            return Err(EBUSY);
        }
        b.uc_maps += 1;
        Ok(())
    }

    /// An uncached mapping of `bar` went away.
    fn unmap_uc(&mut self, bar: usize) {
        let b = &mut self.bars[bar];
        b.uc_maps = b.uc_maps.saturating_sub(1);
    }

    /// A new write-combining mapping of `bar`, switching the BAR's kernel
    /// mapping to write-combining first if needed. `EBUSY` if an uncached
    /// mapping, an ioeventfd or a read/write is in the way.
    fn map_wc(&mut self, core: &CoreDevice, bar: usize) -> Result {
        let b = &mut self.bars[bar];
        if !b.wc {
            if b.uc_maps > 0 || b.in_flight > 0 || core.ioeventfds() > 0 {
                return Err(EBUSY);
            }
            // SAFETY: No user mapping, read/write or ioeventfd uses the
            // mapping (checked above under our lock, which every new user
            // takes first).
            unsafe { core.remap_bar(bar, true) }?;
            b.wc = true;
        }
        b.wc_maps += 1;
        Ok(())
    }

    /// A write-combining mapping of `bar` went away; the last one takes the
    /// BAR back to uncached.
    fn unmap_wc(&mut self, core: &CoreDevice, bar: usize) {
        let b = &mut self.bars[bar];
        b.wc_maps = b.wc_maps.saturating_sub(1);
        self.restore(core, bar);
    }

    /// Another VMA shares a mapping of `bar` (fork, split).
    pub(crate) fn dup(&mut self, bar: usize, wc: bool) {
        let b = &mut self.bars[bar];
        if wc {
            b.wc_maps += 1;
        } else {
            b.uc_maps += 1;
        }
    }

    /// Core is about to use the kernel mapping of `bar` (read/write, or
    /// creating an ioeventfd if `!allow_wc`, which fails with `EBUSY` while
    /// the BAR is write-combining). Returns whether the mapping is
    /// write-combining. Pair with [`Self::end_io`].
    pub(crate) fn begin_io(&mut self, bar: usize, allow_wc: bool) -> Result<bool> {
        let b = &mut self.bars[bar];
        if b.wc && !allow_wc {
            return Err(EBUSY);
        }
        b.in_flight += 1;
        Ok(b.wc)
    }

    /// Ends [`Self::begin_io`].
    pub(crate) fn end_io(&mut self, core: &CoreDevice, bar: usize) {
        let b = &mut self.bars[bar];
        b.in_flight = b.in_flight.saturating_sub(1);
        self.restore(core, bar);
    }

    /// Takes `bar` back to uncached once nothing needs write-combining.
    fn restore(&mut self, core: &CoreDevice, bar: usize) {
        let policy = self.is_policy_wc(bar);
        let b = &mut self.bars[bar];
        if !b.wc || b.wc_maps > 0 || b.in_flight > 0 || policy {
            return;
        }
        // SAFETY: No write-combining mapping, read/write or ioeventfd is
        // left (ioeventfds cannot be created while `wc`), and new ones take
        // our lock first.
        match unsafe { core.remap_bar(bar, false) } {
            Ok(()) => b.wc = false,
            // Core's mapping is an error pointer now; read/write fail as
            // after a failed map at open. The mode stays uncached.
            Err(e) => {
                b.wc = false;
                dev_warn!(
                    core.device(),
                    "BAR {bar}: cannot map uncached again: {e:?}\n"
                );
            }
        }
    }

    /// Forgets all users: the device was closed (core unmapped the BARs).
    /// The policy stays.
    pub(crate) fn reset(&mut self) {
        self.bars = Default::default();
        self.open = false;
    }

    /// The state of every BAR of `core`, for debugfs: one line per
    /// implemented BAR.
    pub(crate) fn show(&self, core: &CoreDevice, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "open: {}", if self.open { "yes" } else { "no" })?;
        writeln!(f, "wc_bars: {}", self.policy)?;
        writeln!(f, "bar  kind  type  policy  uc_maps  wc_maps  in_flight")?;
        for (bar, b) in self.bars.iter().enumerate() {
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
            let ty = match (self.open, b.wc) {
                (false, _) => "-",
                (true, true) => "wc",
                (true, false) => "uc",
            };
            let pol = if self.policy.contains(bar) { "wc" } else { "-" };
            writeln!(
                f,
                "{bar:<4} {kind:<5} {ty:<5} {pol:<7} {:<8} {:<8} {}",
                b.uc_maps, b.wc_maps, b.in_flight
            )?;
        }
        Ok(())
    }
}
