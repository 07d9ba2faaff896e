// SPDX-License-Identifier: GPL-2.0

//! The kernel mapping of a BAR the driver took from core: chunks of
//! different memory types that cover the BAR exactly once, write-combining
//! over the given windows (the whole BAR, for a write-combining BAR) and
//! uncached elsewhere; and read()/write() of the BAR through them.

use super::alias::Span;
use crate::staging::{
    io::remap::IoMap,
    vfio::{self, CoreDevice},
};
use kernel::{prelude::*, uaccess::UserPtr};

/// One kernel mapping of a windowed BAR, at `start` of the BAR.
struct Chunk {
    start: u64,
    map: IoMap,
}

/// The kernel mappings of a BAR with active windows: chunks in BAR order
/// that cover it exactly once, write-combining over the windows, uncached
/// elsewhere.
pub(crate) struct ChunkedMap {
    chunks: KVec<Chunk>,
}

impl ChunkedMap {
    /// Maps `bar` of `core` in chunks around `windows` (sorted, merged,
    /// within the BAR). No other kernel mapping of the BAR may exist, or
    /// PAT would give the chunks that mapping's type.
    pub(crate) fn new(core: &CoreDevice, bar: usize, windows: &[Span]) -> Result<Self> {
        let len = core.bar_len(bar);
        let phys = core.bar_start(bar);
        let mut chunks = KVec::new();
        let mut at = 0u64;
        let mut add = |start: u64, end: u64, wc: bool| -> Result {
            let end = end.min(len);
            if start < end {
                let map = IoMap::new(phys + start, (end - start) as usize, wc)?;
                chunks.push(Chunk { start, map }, GFP_KERNEL)?;
            }
            Ok(())
        };
        for w in windows {
            add(at, w.start, false)?;
            add(w.start, w.end(), true)?;
            at = w.end();
        }
        add(at, len, false)?;
        Ok(Self { chunks })
    }

    /// `read()` (or `write()`) of `count` bytes at `pos` of the BAR, as
    /// core's `vfio_pci_bar_rw()` does it over its whole-BAR mapping, chunk by
    /// chunk. A write through a write-combining chunk is flushed before this
    /// returns, so that write() stays as ordered as under vfio-pci.
    ///
    /// Windowed BARs never hold the MSI-X table (such a BAR cannot be
    /// write-combining), so no range is excluded.
    pub(crate) fn rw(
        &self,
        core: &CoreDevice,
        buf: UserPtr,
        count: usize,
        pos: u64,
        write: bool,
    ) -> Result<isize> {
        let end = self
            .chunks
            .last()
            .map_or(0, |c| c.start + c.map.len() as u64);
        if pos >= end {
            return Err(EINVAL);
        }
        let count = count.min((end - pos) as usize);
        let mut done = 0usize;
        let mut fence = false;
        for c in self.chunks.iter() {
            let c_end = c.start + c.map.len() as u64;
            let at = pos + done as u64;
            if done == count {
                break;
            }
            if at >= c_end {
                continue;
            }
            let n = (count - done).min((c_end - at) as usize);
            let user = buf.wrapping_byte_add(done);
            let r = core.io_rw(&c.map, user, at - c.start, n, write);
            fence |= write && c.map.wc();
            match r {
                Ok(n) => done += n as usize,
                // As core: an error, even after part of the data.
                Err(e) => {
                    if fence {
                        vfio::wmb();
                    }
                    return Err(e);
                }
            }
        }
        if fence {
            vfio::wmb();
        }
        Ok(done as isize)
    }

    /// Ranges and types of the chunks, for debugfs.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = (u64, u64, bool)> + '_ {
        self.chunks
            .iter()
            .map(|c| (c.start, c.start + c.map.len() as u64, c.map.wc()))
    }
}
