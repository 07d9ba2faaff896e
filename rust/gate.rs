// SPDX-License-Identifier: GPL-2.0

//! Gates that readers pass without writing shared memory, and that a writer
//! closes only while nobody is inside, without ever waiting for a reader.
//!
//! [`Gates`] has `N` slots. A reader entering slot `i` counts itself in this
//! CPU's `entered[i]` and then checks that the slot is open; leaving, it
//! counts itself in `left[i]` of whatever CPU it runs on then. A writer marks
//! the slot closed, sums `left[i]` over all CPUs and then `entered[i]`:
//! equal sums mean nobody is inside, and a reader that comes later sees the
//! mark and backs out. Unequal sums mean somebody may be inside: the writer
//! opens the slot again and fails. This is SRCU's reader counting
//! (`srcu_readers_active_idx_check()`), with a try-lock for the writer instead
//! of a grace period, so a writer can run where it must not wait (under an
//! mm's `mmap_lock`, which the reader may need to copy to userspace).
//!
//! Why equal sums are exact (the barriers are the `smp_mb()`s of
//! [`Gates::enter`], [`Inside::drop`] and [`Gates::try_close`]):
//!
//! - every `left` the writer counts belongs to a reader whose `entered` it
//!   counts too: the reader increments `entered` before `left` (barrier B),
//!   the writer reads `left` before `entered` (barrier C);
//! - a reader whose `entered` the writer does not count sees the closed mark:
//!   the reader increments `entered` then reads the mark (barrier A), the
//!   writer sets the mark then reads `entered` (the full barrier of the
//!   exchange); with both barriers, at least one of the two sees the other.
//!
//! So the counted entries are at least the counted exits, and equal only if
//! every counted reader has left; the uncounted ones never got in.
//!
//! A reader's cost is two per-CPU increments and three barriers; the only
//! shared memory it touches is the mark, which it reads.

use crate::bindings;
use core::ptr::NonNull;
use kernel::{
    ffi::c_ulong,
    prelude::*,
    sync::{
        atomic::{Acquire, AtomicFlag, Full, Release},
        barrier::{self, smp_mb},
    },
};

/// `N` gates sharing one per-CPU allocation.
///
/// # Invariants
///
/// `counters` is a per-CPU allocation of `2 * N` counters per CPU, made by
/// `vpa_alloc_percpu_counters()` and owned by this value: `entered[i]` at
/// index `i`, `left[i]` at index `N + i`.
pub(crate) struct Gates<const N: usize> {
    counters: NonNull<c_ulong>,
    closed: [AtomicFlag; N],
}

// SAFETY: The counters are per-CPU memory only changed through
// `this_cpu_inc()` and read with `READ_ONCE()`; the marks are atomics.
unsafe impl<const N: usize> Send for Gates<N> {}
// SAFETY: As for `Send`.
unsafe impl<const N: usize> Sync for Gates<N> {}

/// A reader inside one gate; leaves on drop.
pub(crate) struct Inside<'a, const N: usize> {
    gates: &'a Gates<N>,
    slot: usize,
}

/// One gate closed, with nobody inside; opens again on drop.
pub(crate) struct Closed<'a, const N: usize> {
    gates: &'a Gates<N>,
    slot: usize,
}

impl<const N: usize> Gates<N> {
    /// `N` open gates.
    pub(crate) fn new() -> Result<Self> {
        let n = u32::try_from(2 * N).map_err(|_| EINVAL)?;
        // SAFETY: No precondition.
        let counters = unsafe { bindings::vpa_alloc_percpu_counters(n) };
        // INVARIANT: An allocation of `2 * N` counters per CPU, owned here.
        Ok(Self {
            counters: NonNull::new(counters).ok_or(ENOMEM)?,
            closed: [const { AtomicFlag::new(false) }; N],
        })
    }

    fn inc(&self, i: usize) {
        // SAFETY: By the type invariants `counters` is a live per-CPU
        // allocation of `2 * N` counters; callers check `i < 2 * N`.
        unsafe { bindings::vpa_this_cpu_inc(self.counters.as_ptr(), i as u32) };
    }

    fn sum(&self, i: usize) -> c_ulong {
        // SAFETY: As in `inc`.
        unsafe { bindings::vpa_percpu_sum(self.counters.as_ptr(), i as u32) }
    }

    /// Enters gate `slot`, unless it is closed (or there is no such gate).
    pub(crate) fn enter(&self, slot: usize) -> Option<Inside<'_, N>> {
        if slot >= N {
            return None;
        }
        self.inc(slot);
        // Barrier A: the entry is visible before the mark is read.
        smp_mb(barrier::Full);
        let inside = Inside { gates: self, slot };
        // Acquire: what the writer did while closed is visible inside.
        if self.closed[slot].load(Acquire) {
            // Leaves again (it never touched what the gate keeps).
            return None;
        }
        Some(inside)
    }

    /// Closes gate `slot` if nobody is inside it and no other writer has it
    /// closed; never waits.
    pub(crate) fn try_close(&self, slot: usize) -> Option<Closed<'_, N>> {
        if slot >= N {
            return None;
        }
        // A full barrier: the mark is visible before the counters are read.
        if self.closed[slot].xchg(true, Full) {
            return None;
        }
        let closed = Closed { gates: self, slot };
        let left = self.sum(N + slot);
        // Barrier C: exits are read before entries.
        smp_mb(barrier::Full);
        let entered = self.sum(slot);
        (entered == left).then_some(closed)
    }

    /// How many readers are inside gate `slot` right now (a snapshot, for
    /// diagnostics).
    pub(crate) fn inside(&self, slot: usize) -> usize {
        if slot >= N {
            return 0;
        }
        let left = self.sum(N + slot);
        smp_mb(barrier::Full);
        self.sum(slot).wrapping_sub(left)
    }
}

impl<const N: usize> Drop for Gates<N> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we own the allocation; nothing can
        // be inside a gate any more (`Inside` borrows `self`).
        unsafe { bindings::vpa_free_percpu_counters(self.counters.as_ptr()) };
    }
}

impl<const N: usize> Drop for Inside<'_, N> {
    fn drop(&mut self) {
        // Barrier B: what the reader did inside happens before its exit is
        // counted.
        smp_mb(barrier::Full);
        self.gates.inc(N + self.slot);
    }
}

impl<const N: usize> Drop for Closed<'_, N> {
    fn drop(&mut self) {
        // Release: what the writer did while closed is visible to the
        // readers that see the gate open.
        self.gates.closed[self.slot].store(false, Release);
    }
}

#[cfg(not(vpa_drop_in))]
#[kunit_tests(vfio_pci_alias_gate)]
mod tests {
    use super::*;

    #[test]
    fn closes_only_when_empty() -> Result {
        let gates = Gates::<2>::new()?;
        let a = gates.enter(0).ok_or(EINVAL)?;
        let b = gates.enter(0).ok_or(EINVAL)?;
        assert_eq!(gates.inside(0), 2);
        assert!(gates.try_close(0).is_none());
        // The other gate is independent.
        assert!(gates.try_close(1).is_some());
        drop(a);
        assert!(gates.try_close(0).is_none());
        drop(b);
        assert_eq!(gates.inside(0), 0);
        let closed = gates.try_close(0).ok_or(EINVAL)?;
        // Closed: readers and other writers are refused.
        assert!(gates.enter(0).is_none());
        assert!(gates.try_close(0).is_none());
        assert_eq!(gates.inside(0), 0);
        drop(closed);
        // Open again.
        let c = gates.enter(0).ok_or(EINVAL)?;
        assert!(gates.try_close(0).is_none());
        drop(c);
        assert!(gates.try_close(0).is_some());
        Ok(())
    }
}
