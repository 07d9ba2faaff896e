// SPDX-License-Identifier: GPL-2.0

//! An RCU-protected, append-only table with a mutex-guarded writer.
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)
//!
//! Readers (ioctl, mmap and fault paths) look entries up under the RCU read
//! lock without taking the mutex: they only ever *copy* an entry out, inside a
//! read-side critical section that does nothing else, and do any sleeping work
//! (copying to userspace, building capabilities, setting up a mapping) after
//! leaving it. The API enforces this: there is no way to hold a reference to an
//! entry beyond the critical section, and the closures run inside it receive
//! plain `&T` of a `Copy` type.
//!
//! A writer takes the mutex, builds a larger vector with the new entry,
//! publishes it with `rcu_assign_pointer()`, drops the mutex and frees the old
//! vector only after `synchronize_rcu()`. Entries never move to another index,
//! so an index handed out stays valid until [`RcuTable::clear`].

use crate::staging::bindings;
use core::{cell::UnsafeCell, ptr};
use kernel::{
    ffi::c_void,
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Acquire, Atomic, Release},
        rcu, Mutex,
    },
};

/// One published version of the table.
struct Snapshot<T> {
    items: KVec<T>,
}

/// An RCU-protected vector of up to `capacity` entries.
///
/// # Invariants
///
/// - `current` is null (the table is empty) or points to a `Snapshot<T>` made
///   by `KBox::into_raw`, published with `rcu_assign_pointer()`.
/// - `current` is only changed with `writer` held, and a replaced snapshot is
///   freed only after an RCU grace period, so a pointer read inside a read-side
///   critical section stays valid until that section ends.
/// - The published snapshot never holds more than `capacity` entries, and an
///   entry's index never changes until [`RcuTable::clear`].
/// - `len` is the number of entries of the published snapshot: written with
///   `writer` held, after the snapshot is published.
#[pin_data(PinnedDrop)]
pub(crate) struct RcuTable<T: Copy + Send + Sync> {
    #[pin]
    writer: Mutex<()>,
    current: UnsafeCell<*mut Snapshot<T>>,
    /// For readers that only need the count: no RCU read section.
    len: Atomic<usize>,
    capacity: usize,
}

// SAFETY: `current` is only written under `writer` and read under RCU; the
// entries are `Send + Sync` and only copied out.
unsafe impl<T: Copy + Send + Sync> Send for RcuTable<T> {}
// SAFETY: As for `Send`.
unsafe impl<T: Copy + Send + Sync> Sync for RcuTable<T> {}

/// Where [`RcuTable::insert_unique`] put an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// A new entry at this index.
    New(usize),
    /// An equal entry already existed at this index; nothing changed.
    Existing(usize),
}

impl Inserted {
    /// The index of the entry.
    pub(crate) fn index(self) -> usize {
        match self {
            Self::New(i) | Self::Existing(i) => i,
        }
    }
}

impl<T: Copy + Send + Sync> RcuTable<T> {
    /// Creates an empty table that holds at most `capacity` entries.
    pub(crate) fn new(capacity: usize) -> impl PinInit<Self> {
        pin_init!(Self {
            writer <- new_mutex!(()),
            current: UnsafeCell::new(ptr::null_mut()),
            len: Atomic::new(0),
            capacity,
        })
    }

    /// The RCU-protected pointer slot, as the C helpers take it.
    fn slot(&self) -> *mut *mut c_void {
        self.current.get().cast()
    }

    /// Reads the published snapshot inside an RCU read-side critical section.
    fn read<'a>(&'a self, _rcu: &'a rcu::Guard) -> &'a [T] {
        // SAFETY: The guard proves we are in a read-side critical section (and
        // `rcu_dereference()` checks it under PROVE_RCU); by the type
        // invariants the snapshot stays valid until the section ends.
        let snap = unsafe { bindings::vpa_rcu_dereference(self.slot()) }.cast::<Snapshot<T>>();
        if snap.is_null() {
            &[]
        } else {
            // SAFETY: See above; snapshots are never mutated once published.
            unsafe { &(*snap).items }
        }
    }

    /// Runs `f` on the entries inside an RCU read-side critical section.
    ///
    /// `f` must not sleep; it should only compute a small `Copy` result.
    pub(crate) fn with_entries<R>(&self, f: impl FnOnce(&[T]) -> R) -> R {
        let guard = rcu::read_lock();
        f(self.read(&guard))
    }

    /// Returns a copy of entry `index`, if there is one.
    pub(crate) fn get(&self, index: usize) -> Option<T> {
        self.with_entries(|items| items.get(index).copied())
    }

    /// Returns the number of entries, without entering an RCU read
    /// section. Entries below it can be looked up ([`Self::get`]) until the
    /// next [`Self::clear`].
    pub(crate) fn len(&self) -> usize {
        self.len.load(Acquire)
    }

    /// Returns the index and a copy of the first entry matching `pred`.
    // Only the KUnit tests use it so far, which the drop-in build leaves out.
    #[cfg_attr(vpa_drop_in, allow(dead_code))]
    pub(crate) fn find(&self, pred: impl Fn(&T) -> bool) -> Option<(usize, T)> {
        self.with_entries(|items| items.iter().position(&pred).map(|i| (i, items[i])))
    }

    /// Appends `item` unless an equal entry exists, in which case that
    /// entry's index is returned. Fails with `ENOSPC` when the table
    /// is full and `ENOMEM` when the new vector cannot be allocated; on failure
    /// nothing changes.
    ///
    /// Sleeps: takes the writer mutex and waits for an RCU grace period.
    #[cfg_attr(vpa_drop_in, allow(dead_code))]
    pub(crate) fn insert_unique(&self, item: T) -> Result<Inserted>
    where
        T: PartialEq,
    {
        self.insert_unique_unless(item, |_| false)
    }

    /// As [`Self::insert_unique`], but fails with `EINVAL` (and changes
    /// nothing) if `conflicts` holds for an entry that is not equal to
    /// `item`, checked under the writer mutex with the insertion.
    pub(crate) fn insert_unique_unless(
        &self,
        item: T,
        conflicts: impl Fn(&T) -> bool,
    ) -> Result<Inserted>
    where
        T: PartialEq,
    {
        let guard = self.writer.lock();
        // SAFETY: `writer` is held (by `guard`), so `current` cannot change.
        let old =
            unsafe { bindings::vpa_rcu_dereference_protected(self.slot()) }.cast::<Snapshot<T>>();
        let items: &[T] = if old.is_null() {
            &[]
        } else {
            // SAFETY: With `writer` held the published snapshot cannot be
            // freed.
            unsafe { &(*old).items }
        };
        if let Some(i) = items.iter().position(|e| *e == item) {
            return Ok(Inserted::Existing(i));
        }
        if items.iter().any(&conflicts) {
            return Err(EINVAL);
        }
        if items.len() >= self.capacity {
            return Err(ENOSPC);
        }
        let mut grown = KVec::with_capacity(items.len() + 1, GFP_KERNEL)?;
        grown.extend_from_slice(items, GFP_KERNEL)?;
        grown.push(item, GFP_KERNEL)?;
        let index = items.len();
        let new = KBox::into_raw(KBox::new(Snapshot { items: grown }, GFP_KERNEL)?);
        // SAFETY: `writer` is held; `new` is a valid snapshot that readers may
        // see as soon as it is assigned.
        unsafe { bindings::vpa_rcu_assign_pointer(self.slot(), new.cast()) };
        // INVARIANT: Published first, so a reader that sees the count finds
        // the entries.
        self.len.store(index + 1, Release);
        drop(guard);
        Self::retire(old);
        Ok(Inserted::New(index))
    }

    /// Empties the table. Indices handed out before are invalid afterwards.
    ///
    /// Sleeps: takes the writer mutex and waits for an RCU grace period.
    pub(crate) fn clear(&self) {
        let guard = self.writer.lock();
        // SAFETY: `writer` is held.
        let old = unsafe { bindings::vpa_rcu_dereference_protected(self.slot()) };
        // SAFETY: `writer` is held; null is the empty table.
        unsafe { bindings::vpa_rcu_assign_pointer(self.slot(), ptr::null_mut()) };
        // INVARIANT: The published snapshot is empty.
        self.len.store(0, Release);
        drop(guard);
        Self::retire(old.cast());
    }

    /// Frees a snapshot that is no longer published, after a grace period.
    fn retire(old: *mut Snapshot<T>) {
        if old.is_null() {
            return;
        }
        rcu::synchronize_rcu();
        // SAFETY: `old` came from `KBox::into_raw`, is no longer published, and
        // every reader that could have seen it has left its critical section.
        drop(unsafe { KBox::from_raw(old) });
    }
}

#[pinned_drop]
impl<T: Copy + Send + Sync> PinnedDrop for RcuTable<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: No reader or writer can exist any more: this is the last
        // reference to the table.
        let old = unsafe { *self.current.get() };
        if !old.is_null() {
            // SAFETY: By the type invariants `old` came from `KBox::into_raw`.
            drop(unsafe { KBox::from_raw(old) });
        }
    }
}

#[cfg(not(vpa_drop_in))]
#[kunit_tests(vfio_pci_alias_rcu_table)]
mod tests {
    use super::*;
    use kernel::{
        sync::{
            atomic::{Atomic, Relaxed},
            Arc, Completion,
        },
        workqueue,
    };

    #[test]
    fn grows_and_looks_up() -> Result {
        let t = KBox::pin_init(RcuTable::<u32>::new(4), GFP_KERNEL)?;
        assert_eq!(t.len(), 0);
        assert_eq!(t.get(0), None);
        for (i, v) in [10u32, 20, 30].into_iter().enumerate() {
            assert_eq!(t.insert_unique(v)?, Inserted::New(i));
        }
        assert_eq!(t.len(), 3);
        assert_eq!(t.get(1), Some(20));
        assert_eq!(t.get(3), None);
        assert_eq!(t.find(|v| *v == 30), Some((2, 30)));
        Ok(())
    }

    #[test]
    fn deduplicates() -> Result {
        let t = KBox::pin_init(RcuTable::<u32>::new(4), GFP_KERNEL)?;
        assert_eq!(t.insert_unique(7)?, Inserted::New(0));
        assert_eq!(t.insert_unique(8)?, Inserted::New(1));
        assert_eq!(t.insert_unique(7)?, Inserted::Existing(0));
        assert_eq!(t.len(), 2);
        Ok(())
    }

    #[test]
    fn refuses_conflicts() -> Result {
        let t = KBox::pin_init(RcuTable::<u32>::new(4), GFP_KERNEL)?;
        t.insert_unique(10)?;
        // Odd entries conflict with 11; an equal entry is found first.
        assert_eq!(t.insert_unique_unless(11, |e| e % 2 == 0), Err(EINVAL));
        assert_eq!(t.insert_unique_unless(10, |_| true)?, Inserted::Existing(0));
        assert_eq!(
            t.insert_unique_unless(12, |e| e % 2 == 1)?,
            Inserted::New(1)
        );
        assert_eq!(t.len(), 2);
        Ok(())
    }

    #[test]
    fn bounded() -> Result {
        let t = KBox::pin_init(RcuTable::<u32>::new(2), GFP_KERNEL)?;
        t.insert_unique(1)?;
        t.insert_unique(2)?;
        assert_eq!(t.insert_unique(3), Err(ENOSPC));
        // A duplicate is still found when full.
        assert_eq!(t.insert_unique(2)?, Inserted::Existing(1));
        assert_eq!(t.len(), 2);
        Ok(())
    }

    #[test]
    fn clears() -> Result {
        let t = KBox::pin_init(RcuTable::<u32>::new(4), GFP_KERNEL)?;
        t.insert_unique(1)?;
        t.insert_unique(2)?;
        t.clear();
        assert_eq!(t.len(), 0);
        assert_eq!(t.get(0), None);
        assert_eq!(t.insert_unique(2)?, Inserted::New(0));
        Ok(())
    }

    /// A reader on the system workqueue checks, while the test thread keeps
    /// growing and clearing the table, that every snapshot it sees is
    /// consistent: entry `i` always holds `i * 3`, and lengths stay in bound.
    #[test]
    fn concurrent_reader_and_writer() -> Result {
        const CAP: usize = 16;
        const ROUNDS: usize = 8;

        #[pin_data]
        struct Shared {
            #[pin]
            table: RcuTable<u32>,
            stop: Atomic<i32>,
            bad: Atomic<i32>,
            reads: Atomic<i32>,
            #[pin]
            done: Completion,
        }

        let shared = Arc::pin_init(
            pin_init!(Shared {
                table <- RcuTable::new(CAP),
                stop: Atomic::new(0),
                bad: Atomic::new(0),
                reads: Atomic::new(0),
                done <- Completion::new(),
            }),
            GFP_KERNEL,
        )?;

        let reader = shared.clone();
        workqueue::system().try_spawn(GFP_KERNEL, move || {
            while reader.stop.load(Relaxed) == 0 {
                let ok = reader.table.with_entries(|items| {
                    items.len() <= CAP
                        && items.iter().enumerate().all(|(i, v)| *v as usize == i * 3)
                });
                if !ok {
                    reader.bad.store(1, Relaxed);
                }
                reader.reads.store(reader.reads.load(Relaxed) + 1, Relaxed);
                // SAFETY: Process context, no lock held.
                unsafe { bindings::vpa_cond_resched() };
            }
            reader.done.complete_all();
        })?;

        for _ in 0..ROUNDS {
            for i in 0..CAP {
                let r = shared.table.insert_unique((i * 3) as u32)?;
                assert_eq!(r.index(), i);
            }
            assert_eq!(shared.table.insert_unique(0)?, Inserted::Existing(0));
            shared.table.clear();
        }
        shared.stop.store(1, Relaxed);
        shared.done.wait_for_completion();
        assert_eq!(shared.bad.load(Relaxed), 0);
        assert!(shared.reads.load(Relaxed) > 0);
        Ok(())
    }
}
