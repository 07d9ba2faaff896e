/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vfio-pci-alias: region aliases with extra mapping attributes.
 *
 * A device bound to the vfio-pci-alias variant driver accepts, besides the
 * whole vfio-pci uAPI, one more VFIO_DEVICE_FEATURE: ALIAS_REGION. It creates
 * an alias of an mmap-capable region (a BAR) that carries extra mapping
 * attributes, first write-combining (WC). The alias gets a region index of its
 * own; VFIO_DEVICE_GET_REGION_INFO on that index gives the offset to pass to
 * mmap() on the device fd. See Documentation/vfio-pci-alias.rst.
 *
 * This header is valid C for userspace and is also the only source of the
 * driver's definitions: the module's Rust bindings are generated from it.
 */
#ifndef _UAPI_LINUX_VFIO_PCI_ALIAS_H
#define _UAPI_LINUX_VFIO_PCI_ALIAS_H

#include <linux/types.h>
#include <linux/vfio.h>

/*
 * Feature number of ALIAS_REGION.
 *
 * Upstream allocates VFIO_DEVICE_FEATURE_* numbers sequentially from 0
 * (1..13 are taken as of Linux 7.3) within the 16-bit VFIO_DEVICE_FEATURE_MASK.
 * An out-of-tree driver must not take the next free number: upstream will
 * assign it to something else, and userspace would then talk to the wrong
 * feature. We take a number from the top half of the space, which sequential
 * allocation will not reach, and make it discoverable at run time: the driver
 * publishes the number it implements in the read-only module parameter
 * /sys/module/vfio_pci_alias/parameters/alias_region_feature. Userspace should
 * read it from there (falling back to this constant) and PROBE before use.
 */
#define VFIO_DEVICE_FEATURE_ALIAS_REGION	0xa11a

/*
 * Mapping attributes of an alias. The same bits are used in the request
 * (struct vfio_device_feature_alias_region.flags) and are reported back in
 * the alias capability (struct vfio_region_info_cap_alias.attrs).
 */
#define VFIO_ALIAS_ATTR_WC	(1 << 0)	/* mmap() is write-combining */
#define VFIO_ALIAS_ATTR_ALL	(VFIO_ALIAS_ATTR_WC)

/*
 * Request flag (not an attribute): the alias covers the window
 * [@offset, @offset + @size) of the region instead of all of it. A module
 * without windows rejects the flag with EINVAL, as any unknown bit. PROBE
 * reports it beside the attributes when the region can have windows.
 */
#define VFIO_ALIAS_REGION_WINDOW	(1U << 31)

/**
 * struct vfio_device_feature_alias_region - argument of ALIAS_REGION
 * @flags: SET: the VFIO_ALIAS_ATTR_* requested (at least one), plus
 *         VFIO_ALIAS_REGION_WINDOW for a window.
 *         PROBE: returns the attributes @index supports, plus
 *         VFIO_ALIAS_REGION_WINDOW if it can have windows.
 * @index: the region to alias: a BAR or another mmap-capable region, not an
 *         alias.
 * @alias_index: SET: returns the alias's region index. Must be zero on input.
 * @__reserved1: must be zero.
 * @__reserved2: must be zero.
 * @offset: with VFIO_ALIAS_REGION_WINDOW: start of the window in the region,
 *          page aligned. Ignored (and need not be passed) without it.
 * @size: with VFIO_ALIAS_REGION_WINDOW: size of the window, page aligned,
 *        not zero; the window must end within the region (rounded up to a
 *        page). A window of the whole region is the whole-region alias.
 *
 * Used with VFIO_DEVICE_FEATURE and VFIO_DEVICE_FEATURE_ALIAS_REGION:
 *
 * - VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET: fills @flags with the
 *   attributes @index can be aliased with. EINVAL if @index is out of range,
 *   is an alias, or cannot be mmap()ed (nothing to alias).
 * - VFIO_DEVICE_FEATURE_SET: creates the alias, or finds the existing alias
 *   with the same @index, window and attributes, and returns its index in
 *   @alias_index. Indices are stable while the device is open; the aliases
 *   are dropped when the last user closes the device.
 * - VFIO_DEVICE_FEATURE_GET: EINVAL, there is nothing to get.
 *
 * The region of a window alias is the window: its size is @size, offset 0
 * of the alias is @offset of the aliased region. While a write-combining
 * window is mmap()ed, its pages are write-combining for everyone: the rest of
 * the BAR stays uncached and can be mmap()ed through the BAR's own region at
 * the same time, but an access to a window page through such a mapping gets
 * SIGBUS (see Documentation/vfio-pci-alias.rst).
 *
 * argsz: at least up to @__reserved2 (24 bytes, the first version); with
 * VFIO_ALIAS_REGION_WINDOW at least up to @size (40 bytes). Only that much is
 * read and written back.
 *
 * Errors: EINVAL for argsz too short, an unknown flag bit, no attribute, a
 * non-zero reserved field or @alias_index, an @index out of range, an @index
 * that is an alias or not mmap-capable, a window that is empty, not page
 * aligned or beyond the region, or that overlaps a window of the same region
 * with other attributes; EOPNOTSUPP if the region supports mmap() but not the
 * requested attribute on this platform; ENOSPC when the device's alias table
 * is full (VFIO_ALIAS_MAX_ALIASES); EFAULT for a bad user pointer.
 */
struct vfio_device_feature_alias_region {
	__u32	flags;
	__u32	index;
	__u32	alias_index;
	__u32	__reserved1;
	__aligned_u64 __reserved2;
	/* Since windows; read only with VFIO_ALIAS_REGION_WINDOW. */
	__aligned_u64 offset;
	__aligned_u64 size;
};

/* argsz of the first version, without a window. */
#define VFIO_ALIAS_REGION_MINSZ		24

/* Bound of a device's alias table: SET of one more fails with ENOSPC. */
#define VFIO_ALIAS_MAX_ALIASES		64

/*
 * Region info flags of an alias, as returned by VFIO_DEVICE_GET_REGION_INFO.
 * Upstream allocates region flags from bit 0 up (0..3 are taken); these come
 * from the top so that they cannot collide. FLAG_WC is set only when the
 * mapping will really be write-combining.
 */
#define VFIO_REGION_INFO_FLAG_ALIAS	(1U << 31)	/* region is an alias */
#define VFIO_REGION_INFO_FLAG_WC	(1U << 30)	/* mmap() is WC */

/*
 * Region info capability of an alias: what it aliases and with which
 * attributes. Cap ids are allocated upstream from 1 up (1..5 are taken for
 * regions); this one is taken from the top, like the feature number.
 *
 * @aliased_index: region index the alias maps.
 * @attrs: VFIO_ALIAS_ATTR_* in effect for mmap() of the alias.
 * @reserved: zero.
 * @offset: (version 2) start of the alias in the aliased region: 0 for a
 *          whole-region alias, the window's offset for a window.
 * @size: (version 2) size of the alias: the region's size for a
 *        whole-region alias, the window's size for a window.
 *
 * Version 2. Version 1 ended at @reserved; later versions only append fields.
 */
#define VFIO_REGION_INFO_CAP_ALIAS	0xa11a

struct vfio_region_info_cap_alias {
	struct vfio_info_cap_header header;
	__u32	aliased_index;
	__u32	attrs;
	__aligned_u64 reserved;
	__aligned_u64 offset;
	__aligned_u64 size;
};

/*
 * mmap()able DMABUFs of BAR ranges, with revoke and a memory attribute.
 *
 * Every DMABUF the device exports with VFIO_DEVICE_FEATURE_DMA_BUF (flags 0,
 * as in Linux 7.3) can also be mmap()ed, MAP_SHARED, by whoever holds its fd:
 * offset 0 is the first byte of its first range, and its ranges follow each
 * other with no gap. A primary process that owns the device fd hands a
 * client only the DMABUF fd of some pages of a BAR. See
 * Documentation/vfio-pci-alias.rst, "Delegating BAR pages: DMABUFs".
 *
 * The identifiers are those of the posted series "vfio/pci: Support mmap()
 * of a VFIO DMABUF" (unmerged), so that a program written for it compiles
 * against this header unchanged; where a kernel header of that series is
 * already included, its definitions are used and these are left out. The
 * feature numbers are not the series' (13 and 14, contested upstream, and 13
 * is VFIO_DEVICE_FEATURE_ZPCI_ERROR in 7.3): they are taken as ALIAS_REGION's
 * is, from the top half of the space, and the driver publishes them in the
 * read-only module parameters dma_buf_revoke_feature and
 * dma_buf_memattr_feature. Read them from there and PROBE before use.
 *
 * Errnos of both features: EINVAL for an fd that is not a DMABUF, EBADF for
 * a closed fd number, ENODEV for a DMABUF of another device (or of an
 * earlier open of this one), EBADFD for a revoked DMABUF (revoke, and
 * MEMATTR SET), ENOENT for an unknown memattr, EOPNOTSUPP for WC on a BAR
 * that cannot be write-combining (the MSI-X BAR, or not x86 with PAT).
 */
#ifndef VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE

/*
 * VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE (SET): permanently revoke a DMABUF
 * this device exported. Every mapping of it, in every process, gets SIGBUS
 * at its next access; importers are invalidated and waited for; it can be
 * neither mapped nor attached again. Other DMABUFs and the device fd's own
 * mappings of the same pages are left alone.
 */
#define VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE	0xa11b

struct vfio_device_feature_dma_buf_revoke {
	__s32	dmabuf_fd;
};

/*
 * VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR (GET, SET): the memory attribute of
 * later mmap()s of a DMABUF; existing mappings keep theirs. The default is
 * NC (uncached, as a BAR region's mmap()). While a WC mapping of a DMABUF
 * exists its pages are write-combining for everyone (the windows' rules of
 * ALIAS_REGION): an uncached mapping of those pages gets SIGBUS.
 */
#define VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR	0xa11c

enum vfio_device_dma_buf_memattr {
	VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_NC = 0,
	VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_WC = 1,
};

struct vfio_device_feature_dma_buf_memattr {
	__s32	dmabuf_fd;
	__u32	memattr;
};

#endif /* VFIO_DEVICE_FEATURE_DMA_BUF_REVOKE */

#endif /* _UAPI_LINUX_VFIO_PCI_ALIAS_H */
