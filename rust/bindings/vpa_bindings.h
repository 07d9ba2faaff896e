/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Headers for which tools/bindgen.sh generates the module's own bindings.
 * Types the kernel crate's bindings already have are reused from there.
 */
#include <linux/dma-buf.h>
#include <linux/dma-buf-mapping.h>
#include <linux/dma-resv.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>
#include <uapi/linux/vfio_pci_alias.h>
#include "../helpers/helpers.h"
