// SPDX-License-Identifier: GPL-2.0

//! A per-CPU reader/writer gate: readers pass without writing shared memory,
//! and a writer gets in only while no reader is inside, without ever waiting
//! for one (a try-lock).
//!
//! C header: [`include/linux/percpu.h`](srctree/include/linux/percpu.h)
//!
//! Why here: 7.3's kernel crate has no per-CPU counters and no
//! `percpu_rw_semaphore`; the latter would also make the writer wait.
//!
//! [`PercpuRw`] has `N` slots. A reader entering slot `i` counts itself in this
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
//! [`PercpuRw::read`], [`ReadGuard::drop`] and [`PercpuRw::try_write`]; the
//! counting ones are in the C helpers, next to the increment):
//!
//! - every `left` the writer counts belongs to a reader whose `entered` it
//!   counts too: the reader increments `entered` before `left` (barrier B),
//!   the writer reads `left` before `entered` (barrier C);
//! - a reader whose `entered` the writer does not count sees the closed mark:
//!   the reader increments `entered` then reads the mark (barrier A), the
//!   writer sets the mark then reads `entered` (the full barrier of the
//!   successful `cmpxchg()` that sets it); with both barriers, at least one
//!   of the two sees the other.
//!
//! So the counted entries are at least the counted exits, and equal only if
//! every counted reader has left; the uncounted ones never got in.
//!
//! Each gate also holds a small value (a few bits the user defines, such as
//! the memory type of what the gate keeps), in the same word as the mark:
//! [`PercpuRw::open_value`] reads both in one step, and [`ReadGuard::leave`]
//! returns the value as of leaving. A reader makes two calls into C, each
//! a per-CPU increment between its barriers and one read of the gate's word;
//! the word is the only shared memory it touches, and it only reads it.

use crate::staging::bindings;
use core::{
    mem::ManuallyDrop,
    ptr::{self, NonNull},
};
use kernel::{
    ffi::c_ulong,
    prelude::*,
    sync::{
        atomic::{Atomic, Full, Relaxed, Release},
        barrier::{self, smp_mb},
    },
};

/// The closed mark in a gate's word; the other bits are its value.
const CLOSED: u32 = 1 << 31;

/// The bits a gate's value may use.
const VALUE_BITS: u32 = !CLOSED;

/// `N` gates sharing one per-CPU allocation.
///
/// # Invariants
///
/// `counters` is a per-CPU allocation of `2 * N` counters per CPU, made by
/// `vpa_alloc_percpu_counters()` and owned by this value: `entered[i]` at
/// index `i`, `left[i]` at index `N + i`. The [`CLOSED`] bit of `words[i]`
/// is set only by a [`WriteGuard`] of gate `i`, and cleared only when it drops.
pub(crate) struct PercpuRw<const N: usize> {
    counters: NonNull<c_ulong>,
    /// Per gate: [`CLOSED`] and the value.
    words: [Atomic<u32>; N],
}

// SAFETY: The counters are per-CPU memory only changed by atomic increments
// and read with `READ_ONCE()`; the words are atomics.
unsafe impl<const N: usize> Send for PercpuRw<N> {}
// SAFETY: As for `Send`.
unsafe impl<const N: usize> Sync for PercpuRw<N> {}

/// A reader inside one gate; leaves on drop (or with [`ReadGuard::leave`]).
pub(crate) struct ReadGuard<'a, const N: usize> {
    gates: &'a PercpuRw<N>,
    slot: usize,
}

/// One gate closed, with nobody inside; opens again on drop.
pub(crate) struct WriteGuard<'a, const N: usize> {
    gates: &'a PercpuRw<N>,
    slot: usize,
}

impl<const N: usize> PercpuRw<N> {
    /// `N` open gates, each of value 0.
    pub(crate) fn new() -> Result<Self> {
        let n = u32::try_from(2 * N).map_err(|_| EINVAL)?;
        // SAFETY: No precondition.
        let counters = unsafe { bindings::vpa_alloc_percpu_counters(n) };
        // INVARIANT: An allocation of `2 * N` counters per CPU, owned here;
        // no gate is closed.
        Ok(Self {
            counters: NonNull::new(counters).ok_or(ENOMEM)?,
            words: [const { Atomic::new(0) }; N],
        })
    }

    /// The word of gate `slot` (`< N`) as C sees it.
    #[inline]
    fn word_ptr(&self, slot: usize) -> *mut u32 {
        // `Atomic<u32>` has the layout of `u32` (it is transparent over it);
        // `Atomic::as_ptr()` would be the same pointer, but is not inlined.
        ptr::from_ref(&self.words[slot]).cast::<u32>().cast_mut()
    }

    /// The word of gate `slot`, read once (`None` if there is no such gate).
    #[inline]
    fn word(&self, slot: usize) -> Option<u32> {
        if slot >= N {
            return None;
        }
        // SAFETY: A `READ_ONCE()` of the word: a valid, aligned `u32` whose
        // writers use atomic operations, so the access is marked (no data
        // race under the LKMM). It saves the two calls of `Atomic::load()`
        // on the region info and mmap paths.
        Some(unsafe { ptr::read_volatile(self.word_ptr(slot)) })
    }

    /// Counts a reader in at `slot`, a full barrier (A), then reads the
    /// gate's word with acquire semantics.
    #[inline]
    fn count_entry(&self, slot: usize) -> u32 {
        // SAFETY: By the type invariants `counters` is a live per-CPU
        // allocation of `2 * N` counters; callers check `slot < N`. The word
        // is a valid `u32` for the call.
        unsafe {
            bindings::vpa_percpu_inc_mb_load_acquire(
                self.counters.as_ptr(),
                slot as u32,
                self.word_ptr(slot),
            )
        }
    }

    /// A full barrier (B), counts a reader out at `slot`, a full barrier,
    /// then reads the gate's word.
    #[inline]
    fn count_exit(&self, slot: usize) -> u32 {
        // SAFETY: As in `count_entry`, for counter `N + slot < 2 * N`.
        unsafe {
            bindings::vpa_mb_percpu_inc_mb_load(
                self.counters.as_ptr(),
                (N + slot) as u32,
                self.word_ptr(slot),
            )
        }
    }

    fn sum(&self, i: usize) -> c_ulong {
        // SAFETY: As in `count_entry`; callers check `i < 2 * N`.
        unsafe { bindings::vpa_percpu_sum(self.counters.as_ptr(), i as u32) }
    }

    /// Enters gate `slot`, unless it is closed (or there is no such gate).
    #[inline]
    pub(crate) fn read(&self, slot: usize) -> Option<ReadGuard<'_, N>> {
        if slot >= N {
            return None;
        }
        // Acquire: what the writer did while closed is visible inside.
        let word = self.count_entry(slot);
        let inside = ReadGuard { gates: self, slot };
        if word & CLOSED != 0 {
            // Leaves again (it never touched what the gate keeps).
            return None;
        }
        Some(inside)
    }

    /// Closes gate `slot` if nobody is inside it and no other writer has it
    /// closed; never waits.
    pub(crate) fn try_write(&self, slot: usize) -> Option<WriteGuard<'_, N>> {
        if slot >= N {
            return None;
        }
        let mut word = self.words[slot].load(Relaxed);
        loop {
            if word & CLOSED != 0 {
                return None;
            }
            // A full barrier: the mark is visible before the counters are
            // read.
            match self.words[slot].cmpxchg(word, word | CLOSED, Full) {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        let closed = WriteGuard { gates: self, slot };
        let left = self.sum(N + slot);
        // Barrier C: exits are read before entries.
        smp_mb(barrier::Full);
        let entered = self.sum(slot);
        (entered == left).then_some(closed)
    }

    /// The value of gate `slot` (0 if there is no such gate).
    #[inline]
    pub(crate) fn value(&self, slot: usize) -> u32 {
        self.word(slot).map_or(0, |word| word & VALUE_BITS)
    }

    /// The value of gate `slot` if it is open right now, with one read of its
    /// word. For a user that keeps its own count (not the gate's) and must
    /// not race a writer: it counts itself with a fully ordered atomic, then
    /// asks this, and backs out if the gate is closed. The writer closes the
    /// gate, then reads that count.
    #[inline]
    pub(crate) fn open_value(&self, slot: usize) -> Option<u32> {
        let word = self.word(slot)?;
        (word & CLOSED == 0).then_some(word & VALUE_BITS)
    }

    /// Sets the value of gate `slot` to `value` (in [`VALUE_BITS`]). Readers
    /// that enter after the gate opens next see it; to keep readers that are
    /// inside from seeing it change, set it while holding the gate closed.
    pub(crate) fn set_value(&self, slot: usize, value: u32) {
        let Some(w) = self.words.get(slot) else {
            return;
        };
        let mut word = w.load(Relaxed);
        // Keeps the mark, which a writer may be setting now.
        while let Err(now) = w.cmpxchg(word, (word & CLOSED) | (value & VALUE_BITS), Release) {
            word = now;
        }
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

impl<const N: usize> Drop for PercpuRw<N> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants we own the allocation; nothing can
        // be inside a gate any more (`ReadGuard` borrows `self`).
        unsafe { bindings::vpa_free_percpu_counters(self.counters.as_ptr()) };
    }
}

impl<const N: usize> ReadGuard<'_, N> {
    /// Leaves, and returns the gate's value read after leaving: ordered
    /// after the exit is counted by a full barrier, which pairs with the
    /// one of [`PercpuRw::try_write`] (either the writer sees this reader gone,
    /// or this reader sees what the writer set before closing).
    #[inline]
    pub(crate) fn leave(self) -> u32 {
        let this = ManuallyDrop::new(self);
        this.gates.count_exit(this.slot) & VALUE_BITS
    }
}

impl<const N: usize> Drop for ReadGuard<'_, N> {
    fn drop(&mut self) {
        // With barrier B: what the reader did inside happens before its exit
        // is counted.
        self.gates.count_exit(self.slot);
    }
}

impl<const N: usize> Drop for WriteGuard<'_, N> {
    fn drop(&mut self) {
        // Release: what the writer did while closed is visible to the
        // readers that see the gate open. By the type invariants only this
        // value set the bit, so subtracting it clears exactly that bit.
        self.gates.words[self.slot].fetch_sub(CLOSED, Release);
    }
}

#[cfg(not(vpa_drop_in))]
#[kunit_tests(vfio_pci_alias_percpu_rw)]
mod tests {
    use super::*;

    #[test]
    fn closes_only_when_empty() -> Result {
        let gates = PercpuRw::<2>::new()?;
        let a = gates.read(0).ok_or(EINVAL)?;
        let b = gates.read(0).ok_or(EINVAL)?;
        assert_eq!(gates.inside(0), 2);
        assert!(gates.try_write(0).is_none());
        // The other gate is independent.
        assert!(gates.try_write(1).is_some());
        drop(a);
        assert!(gates.try_write(0).is_none());
        drop(b);
        assert_eq!(gates.inside(0), 0);
        let closed = gates.try_write(0).ok_or(EINVAL)?;
        // WriteGuard: readers and other writers are refused.
        assert!(gates.read(0).is_none());
        assert!(gates.try_write(0).is_none());
        assert_eq!(gates.inside(0), 0);
        drop(closed);
        // Open again; a value set while closed is what readers see.
        let closed = gates.try_write(0).ok_or(EINVAL)?;
        gates.set_value(0, 5);
        drop(closed);
        assert_eq!(gates.value(0), 5);
        let c = gates.read(0).ok_or(EINVAL)?;
        assert!(gates.try_write(0).is_none());
        // A reader leaving sees a value set while it was inside.
        gates.set_value(0, 3);
        assert_eq!(c.leave(), 3);
        // What a user keeping its own count sees: the value while open,
        // nothing while closed.
        assert_eq!(gates.open_value(0), Some(3));
        let closed = gates.try_write(0).ok_or(EINVAL)?;
        assert_eq!(gates.open_value(0), None);
        drop(closed);
        assert_eq!(gates.open_value(0), Some(3));
        assert_eq!(gates.open_value(2), None);
        Ok(())
    }
}
