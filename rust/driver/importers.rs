// SPDX-License-Identifier: GPL-2.0

//! When the P2P importers of the device's DMABUFs may map: only while the
//! BARs' memory is there, as core's `vfio_pci_dma_buf_move()` decides for
//! its own DMABUFs, which it calls for core's list only.
//!
//! Core takes the memory away (decoding off, D3hot, low power, a reset)
//! inside calls we pass on, with `memory_lock` held, which we cannot take
//! around them. So the importers are paused before such a call and resumed
//! after it if the memory is back:
//!
//! - a config-space write that reaches the command register or PMCSR, by
//!   offset alone (core reads the user's bytes itself; a write that changes
//!   nothing pauses and resumes for nothing), and low power entry, through
//!   [`pause_around`];
//! - every reset of the function, an FLR or a bus reset, through the PCI
//!   core's `reset_prepare` and `reset_done` ([`reset_prepare`],
//!   [`reset_done`]): also a hot reset started through another device of
//!   the set, and the FLR of a config write;
//! - after `VFIO_DEVICE_RESET` and low power exit, which may bring the
//!   memory back without a reset, through [`settle_after`].
//!
//! The gate counts the pausing calls in flight and whether a reset runs:
//! importers resume only when neither is left and the memory is usable, so
//! a call that brings the memory back cannot resume importers under one
//! that is about to take it away.
//!
//! Locks: core's `memory_lock` (held by core around its resets), then the
//! gate, then a DMABUF's reservation lock; the device's list lock is taken
//! alone, inside the gate.

use super::{dmabuf::Listed, Device};
use crate::staging::{pci::PCI_COMMAND, uapi, vfio};
use kernel::{new_mutex, prelude::*, sync::Mutex};

/// What keeps the importers paused, besides the memory being gone.
#[derive(Default)]
struct State {
    /// Calls that may take the memory away, in flight ([`pause_around`]).
    pausing: u32,
    /// Between `reset_prepare` and `reset_done`.
    resetting: bool,
}

/// The importers' gate of one device.
#[pin_data]
pub(super) struct Gate {
    #[pin]
    state: Mutex<State>,
}

impl Gate {
    pub(super) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            state <- new_mutex!(State::default()),
        })
    }
}

/// Whether a write of `count` bytes at the device file's `offset` reaches
/// the command register or PMCSR of config space, where core may turn
/// decoding off or put the function in D3hot. The offset alone decides.
pub(super) fn write_may_take_memory(dev: &Device, offset: u64, count: usize) -> bool {
    if vfio::offset_to_index(offset) != u64::from(uapi::VFIO_PCI_CONFIG_REGION_INDEX) {
        return false;
    }
    let start = vfio::offset_in_region(offset);
    let end = start.saturating_add(count as u64);
    // Both registers are 16 bits wide.
    let reaches = |reg: u64| start < reg + 2 && reg < end;
    reaches(PCI_COMMAND) || dev.core().pm_ctrl_offset().is_some_and(reaches)
}

/// Runs `f` on every DMABUF listed now, none skipped, without the list
/// lock held while `f` runs (it may sleep, and dropping a DMABUF reference
/// may release it, which takes the lock). Called with the gate held, so
/// nothing is added meanwhile; a release only removes an entry. Walking
/// from the end, a removal moves entries only down onto indices still to
/// come: an entry may be seen twice, never missed.
fn for_each_listed(dev: &Device, f: impl Fn(&Listed)) {
    let mut i = dev.dmabufs.lock().len();
    while i > 0 {
        i -= 1;
        let buf = dev.dmabufs.lock().get(i).cloned();
        if let Some(buf) = buf {
            f(&buf);
        }
    }
}

/// Whether nothing holds the importers paused and the memory is there.
/// `reset_done` also runs for the resets of open and close, when the device
/// is not open (and no DMABUF listed): core cannot tell then, and they stay.
fn may_resume(dev: &Device, state: &State) -> bool {
    state.pausing == 0 && !state.resetting && dev.core().memory_usable() == Ok(true)
}

/// Resumes every DMABUF's importers if nothing holds them paused and the
/// memory is there. Called with the gate held, and with `memory_lock` held
/// (by us, or by core around `reset_done`).
fn resume_if_usable(dev: &Device, state: &State) {
    if may_resume(dev, state) {
        for_each_listed(dev, |buf| buf.resume_importers());
    }
}

/// Runs `f`, a call that may take the memory away, with the importers
/// paused; resumes them afterwards if the memory is there.
pub(super) fn pause_around<R>(dev: &Device, f: impl FnOnce() -> R) -> R {
    {
        let mut state = dev.importers.state.lock();
        state.pausing += 1;
        for_each_listed(dev, |buf| buf.pause_importers());
    }
    settle_after(dev, || {
        let r = f();
        dev.importers.state.lock().pausing -= 1;
        r
    })
}

/// Runs `f`, a call that may bring the memory back; then resumes the
/// importers if nothing holds them paused.
pub(super) fn settle_after<R>(dev: &Device, f: impl FnOnce() -> R) -> R {
    let r = f();
    dev.core().with_memory_read_locked(|| {
        let state = dev.importers.state.lock();
        resume_if_usable(dev, &state);
    });
    r
}

/// A newly exported DMABUF, whose importers start paused: lists it, and
/// lets them map if the device's importers may now. `ENOMEM` if it cannot
/// be listed (the caller releases it).
pub(super) fn add(dev: &Device, buf: &Listed) -> Result {
    dev.core().with_memory_read_locked(|| {
        let state = dev.importers.state.lock();
        dev.dmabufs
            .lock()
            .push(buf.clone(), GFP_KERNEL)
            .map_err(|_| ENOMEM)?;
        if may_resume(dev, &state) {
            buf.resume_importers();
        }
        Ok(())
    })
}

/// `reset_prepare`: the function is about to be reset.
pub(super) fn reset_prepare(dev: &Device) {
    let mut state = dev.importers.state.lock();
    state.resetting = true;
    for_each_listed(dev, |buf| buf.pause_importers());
}

/// `reset_done`: the function was reset and its config space restored.
pub(super) fn reset_done(dev: &Device) {
    let mut state = dev.importers.state.lock();
    state.resetting = false;
    resume_if_usable(dev, &state);
}
