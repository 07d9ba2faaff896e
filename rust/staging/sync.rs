// SPDX-License-Identifier: GPL-2.0

//! Synchronisation primitives (cf. `kernel::sync`).

pub(crate) mod percpu_rw;
pub(crate) mod rcu_table;
