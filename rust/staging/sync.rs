// SPDX-License-Identifier: GPL-2.0

//! Synchronisation primitives (cf. `kernel::sync`).
//!
//! C headers: [`include/linux/percpu.h`](srctree/include/linux/percpu.h),
//! [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)

pub(crate) mod percpu_rw;
pub(crate) mod rcu_table;
