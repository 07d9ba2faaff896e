// SPDX-License-Identifier: GPL-2.0

//! A read-only view of each bound device in debugfs,
//! `<debugfs>/<module>/<device>/bars`: per BAR its kernel mapping's memory
//! type, its policy and its users, so that an administrator can see that
//! write-combining is in effect without reading PAT's memtype list.

use super::{AliasDevice, Device};
use core::fmt;
use kernel::{
    debugfs::{Dir, File, Writer},
    prelude::*,
};

/// The device a view file shows.
///
/// # Invariants
///
/// Points to a live device: [`Files`] are dropped before the device goes.
struct Shown(*const Device);

// SAFETY: Only used to take `&Device`, which is `Sync`.
unsafe impl Send for Shown {}
// SAFETY: As above.
unsafe impl Sync for Shown {}

impl Writer for Shown {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: By the type invariant the device is alive.
        let dev = unsafe { &*self.0 };
        dev.bars.show(dev.core(), f)
    }
}

/// The debugfs entries of one device; removed when dropped.
pub(super) struct Files {
    // Field order is drop order: the file before its directory.
    _bars: Pin<KBox<File<Shown>>>,
    _dir: Dir,
}

impl Files {
    /// Creates `<root>/<device>/bars` for `dev`. Failures only cost the view.
    pub(super) fn new(dev: &Device, root: &Dir) -> Option<Self> {
        let dir = root.subdir(dev.core().device().name());
        let bars = KBox::pin_init(dir.read_only_file(c"bars", Shown(dev)), GFP_KERNEL).ok()?;
        Some(Self {
            _bars: bars,
            _dir: dir,
        })
    }
}

impl AliasDevice {
    /// Shows `dev` in debugfs under `root`.
    pub(super) fn show_in(dev: &Device, root: &Dir) {
        *dev.view.lock() = Files::new(dev, root);
    }

    /// Removes `dev`'s view, waiting for readers.
    pub(super) fn hide(dev: &Device) {
        let files = dev.view.lock().take();
        drop(files);
    }
}
