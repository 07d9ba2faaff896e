/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * The ioctls of vpa_importer.ko's /dev/vpa_importer: a dynamic P2P DMABUF
 * importer for tests. Each open of the device is one importer, of at most
 * one DMABUF.
 */
#ifndef VPA_IMPORTER_H
#define VPA_IMPORTER_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Attach to @fd as the PCI function @domain:@bus:@devfn (peer2peer). */
struct vpa_importer_attach {
	__s32 fd;
	__u32 domain;
	__u32 bus;
	__u32 devfn;
};

/* What the importer saw. */
struct vpa_importer_status {
	/* invalidate_mappings() calls that found a mapping (and dropped it). */
	__u64 unmapped_by_invalidate;
	/* A mapping is held now, of @mapped_len bytes in @nents entries. */
	__u32 mapped;
	__u32 nents;
	__u64 mapped_len;
};

#define VPA_IMPORTER_ATTACH	_IOW('V', 0xa0, struct vpa_importer_attach)
/* Map now, if not mapped (0 or -1 with errno: ENODEV while not mappable). */
#define VPA_IMPORTER_MAP	_IO('V', 0xa1)
#define VPA_IMPORTER_STATUS	_IOR('V', 0xa2, struct vpa_importer_status)

#endif
