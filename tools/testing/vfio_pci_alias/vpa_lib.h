/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace helpers for the vfio-pci-alias tests: the devices to test (BDF
 * arguments or the environment), open a device bound to vfio-pci-alias
 * through its group (IOMMU or no-IOMMU mode), and wrap the ALIAS_REGION
 * feature and region info.
 */
#ifndef VPA_LIB_H
#define VPA_LIB_H

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_alias.h>

#include "importer/vpa_importer.h"

struct vpa_dev {
	int container;
	int group;
	int fd;
};

/*
 * The feature number the loaded driver implements (see the uapi header):
 * vfio_pci_alias's, or the drop-in vfio_pci's.
 */
static inline unsigned int vpa_feature_number(void)
{
	unsigned int nr = VFIO_DEVICE_FEATURE_ALIAS_REGION;
	FILE *f = fopen("/sys/module/vfio_pci_alias/parameters/alias_region_feature", "r");

	if (!f)
		f = fopen("/sys/module/vfio_pci/parameters/alias_region_feature", "r");

	if (f) {
		if (fscanf(f, "%u", &nr) != 1)
			nr = VFIO_DEVICE_FEATURE_ALIAS_REGION;
		fclose(f);
	}
	return nr;
}

/*
 * VFIO_GROUP_GET_DEVICE_FD on @group for @bdf, with " vf_token=@token"
 * appended when @token (a UUID string) is not NULL, as vfio_pci_core
 * wants for the VF of a PF bound to a vfio-pci driver, or for that PF
 * while its VFs are in use. Returns the device fd or -errno.
 */
static inline int vpa_group_device_fd(int group, const char *bdf, const char *token)
{
	char name[128];
	int fd;

	if (token)
		snprintf(name, sizeof(name), "%s vf_token=%s", bdf, token);
	else
		snprintf(name, sizeof(name), "%s", bdf);
	fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, name);
	return fd < 0 ? -errno : fd;
}

/*
 * The last component of the sysfs symlink @link of PCI device @bdf
 * ("driver", "iommu_group", "physfn"...) into @buf; 0 or -errno.
 */
static inline int vpa_dev_link(const char *bdf, const char *link, char *buf, size_t size)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, link);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = 0;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) >= size)
		return -ENAMETOOLONG;
	memcpy(buf, base, strlen(base) + 1);
	return 0;
}

/*
 * The container and group of @bdf set up in @d (viable, in the container,
 * with the IOMMU type of the group's mode), @d->fd -1; 0 or -errno, with
 * nothing left open.
 */
static inline int vpa_group_attach(const char *bdf, struct vpa_dev *d)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[PATH_MAX + 32], g[64];
	int noiommu, ret;

	d->container = d->group = d->fd = -1;
	ret = vpa_dev_link(bdf, "iommu_group", g, sizeof(g));
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "/dev/vfio/noiommu-%s", g);
	noiommu = access(path, F_OK) == 0;
	if (!noiommu)
		snprintf(path, sizeof(path), "/dev/vfio/%s", g);
	errno = 0;
	d->container = open("/dev/vfio/vfio", O_RDWR);
	d->group = open(path, O_RDWR);
	if (d->container < 0 || d->group < 0 ||
	    ioctl(d->group, VFIO_GROUP_GET_STATUS, &status) ||
	    !(status.flags & VFIO_GROUP_FLAGS_VIABLE) ||
	    ioctl(d->group, VFIO_GROUP_SET_CONTAINER, &d->container) ||
	    ioctl(d->container, VFIO_SET_IOMMU, noiommu ? VFIO_NOIOMMU_IOMMU : VFIO_TYPE1v2_IOMMU)) {
		ret = errno ? -errno : -ENODEV;
		if (d->group >= 0)
			close(d->group);
		if (d->container >= 0)
			close(d->container);
		d->container = d->group = -1;
		return ret;
	}
	return 0;
}

/*
 * Opens @bdf through its vfio group, presenting VF token @token (a UUID
 * string, or NULL for none); returns 0 or -errno.
 */
static inline int vpa_open_token(const char *bdf, const char *token, struct vpa_dev *d)
{
	int ret = vpa_group_attach(bdf, d);

	if (ret)
		return ret;
	d->fd = vpa_group_device_fd(d->group, bdf, token);
	if (d->fd < 0) {
		ret = d->fd;
		d->fd = -1;
		close(d->group);
		close(d->container);
		d->container = d->group = -1;
		return ret;
	}
	return 0;
}

/* Opens @bdf through its vfio group; returns 0 or -errno. */
static inline int vpa_open(const char *bdf, struct vpa_dev *d)
{
	return vpa_open_token(bdf, NULL, d);
}

static inline void vpa_close(struct vpa_dev *d)
{
	close(d->fd);
	close(d->group);
	close(d->container);
}

/*
 * VFIO_DEVICE_FEATURE for ALIAS_REGION with @flags (PROBE/SET/GET) and a
 * payload of @argsz bytes from @req (may be NULL for 0). Returns 0 or -errno.
 */
static inline int vpa_feature(int fd, uint32_t flags,
			      struct vfio_device_feature_alias_region *req,
			      size_t argsz)
{
	char buf[sizeof(struct vfio_device_feature) + 64] = { 0 };
	struct vfio_device_feature *f = (void *)buf;

	if (argsz > 64)
		return -E2BIG;
	f->argsz = sizeof(*f) + argsz;
	f->flags = flags | vpa_feature_number();
	if (req)
		memcpy(f->data, req, argsz < sizeof(*req) ? argsz : sizeof(*req));
	if (ioctl(fd, VFIO_DEVICE_FEATURE, f))
		return -errno;
	if (req)
		memcpy(req, f->data, argsz < sizeof(*req) ? argsz : sizeof(*req));
	return 0;
}

static inline int vpa_hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parses the UUID string @s ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx") into
 * its 16 bytes in string order, the layout the kernel's uuid_parse() gives
 * a vf_token= and compares VFIO_DEVICE_FEATURE_PCI_VF_TOKEN's payload with.
 */
static inline int vpa_uuid_parse(const char *s, uint8_t out[16])
{
	unsigned int i;
	int hi, lo;

	if (strlen(s) != 36)
		return -EINVAL;
	for (i = 0; i < 16; i++) {
		/* Dashes after bytes 4, 6, 8 and 10. */
		if ((i == 4 || i == 6 || i == 8 || i == 10) && *s++ != '-')
			return -EINVAL;
		hi = vpa_hexdigit(s[0]);
		lo = vpa_hexdigit(s[1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = hi << 4 | lo;
		s += 2;
	}
	return 0;
}

/*
 * VFIO_DEVICE_FEATURE_PCI_VF_TOKEN: @flags (SET, PROBE...) with the UUID
 * @uuid (string; NULL for no payload). Returns 0 or -errno.
 */
static inline int vpa_vf_token(int fd, uint32_t flags, const char *uuid)
{
	char buf[sizeof(struct vfio_device_feature) + 16] = { 0 };
	struct vfio_device_feature *f = (void *)buf;

	f->argsz = sizeof(*f) + (uuid ? 16 : 0);
	f->flags = flags | VFIO_DEVICE_FEATURE_PCI_VF_TOKEN;
	if (uuid && vpa_uuid_parse(uuid, f->data))
		return -EINVAL;
	if (ioctl(fd, VFIO_DEVICE_FEATURE, f))
		return -errno;
	return 0;
}

/* Creates (or finds) an alias of @index with @attrs; returns its index or -errno. */
static inline int vpa_alias(int fd, uint32_t index, uint32_t attrs)
{
	struct vfio_device_feature_alias_region req = {
		.flags = attrs, .index = index,
	};
	int ret = vpa_feature(fd, VFIO_DEVICE_FEATURE_SET, &req, sizeof(req));

	return ret ? ret : (int)req.alias_index;
}

/*
 * Creates (or finds) an alias with @attrs of the window [@offset,
 * @offset + @size) of @index; returns its index or -errno.
 */
static inline int vpa_window(int fd, uint32_t index, uint32_t attrs,
			     uint64_t offset, uint64_t size)
{
	struct vfio_device_feature_alias_region req = {
		.flags = attrs | VFIO_ALIAS_REGION_WINDOW, .index = index,
		.offset = offset, .size = size,
	};
	int ret = vpa_feature(fd, VFIO_DEVICE_FEATURE_SET, &req, sizeof(req));

	return ret ? ret : (int)req.alias_index;
}

/*
 * The flags PROBE of SET reports for region @index (the attributes it may
 * have, VFIO_ALIAS_REGION_WINDOW if windows of it may too), or -errno.
 */
static inline int64_t vpa_probe(int fd, uint32_t index)
{
	struct vfio_device_feature_alias_region req = { .index = index };
	int ret = vpa_feature(fd, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET,
			      &req, sizeof(req));

	return ret ? ret : (int64_t)req.flags;
}

/* Number of regions VFIO_DEVICE_GET_INFO reports, or -errno. */
static inline int vpa_num_regions(int fd)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	if (ioctl(fd, VFIO_DEVICE_GET_INFO, &info))
		return -errno;
	return info.num_regions;
}

/*
 * VFIO_DEVICE_GET_REGION_INFO with room for capabilities: fills @buf (at
 * least 512 bytes). Returns 0 or -errno.
 */
static inline int vpa_region_info(int fd, uint32_t index, void *buf, size_t size)
{
	struct vfio_region_info *info = buf;

	memset(buf, 0, size);
	info->argsz = size;
	info->index = index;
	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, info))
		return -errno;
	return 0;
}

/* Finds capability @id in a region info reply, or NULL. */
static inline struct vfio_info_cap_header *vpa_find_cap(void *buf, uint16_t id)
{
	struct vfio_region_info *info = buf;
	uint32_t off;

	if (!(info->flags & VFIO_REGION_INFO_FLAG_CAPS))
		return NULL;
	for (off = info->cap_offset; off && off < info->argsz;) {
		struct vfio_info_cap_header *h = (void *)((char *)buf + off);

		if (h->id == id)
			return h;
		off = h->next;
	}
	return NULL;
}

#ifdef __KSELFTEST_HARNESS_H
/*
 * In a test (kselftest_harness.h): region @index of the device @fd is a
 * write-combining alias of [@offset, @offset + @size) of region @aliased,
 * by its region info and its alias capability (version 2).
 */
static inline void vpa_assert_wc_alias(struct __test_metadata *_metadata, int fd,
				       uint32_t index, uint32_t aliased,
				       uint64_t offset, uint64_t size)
{
	char buf[512];
	struct vfio_region_info *info = (void *)buf;
	struct vfio_region_info_cap_alias *cap;

	ASSERT_EQ(0, vpa_region_info(fd, index, buf, sizeof(buf)));
	ASSERT_EQ(index, info->index);
	ASSERT_EQ(size, info->size);
	ASSERT_EQ((uint64_t)index << 40, info->offset);
	ASSERT_EQ(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
		  VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS |
		  VFIO_REGION_INFO_FLAG_ALIAS | VFIO_REGION_INFO_FLAG_WC, info->flags);
	cap = (void *)vpa_find_cap(buf, VFIO_REGION_INFO_CAP_ALIAS);
	ASSERT_NE(NULL, cap);
	ASSERT_EQ(2, cap->header.version);
	ASSERT_EQ(aliased, cap->aliased_index);
	ASSERT_EQ(VFIO_ALIAS_ATTR_WC, cap->attrs);
	ASSERT_EQ(0, cap->reserved);
	ASSERT_EQ(offset, cap->offset);
	ASSERT_EQ(size, cap->size);
}
#endif

static sigjmp_buf vpa_bus_jmp __attribute__((unused));

static inline void vpa_on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(vpa_bus_jmp, 1);
}

/*
 * Reads the 32-bit word @p into @val, or stores @val to it if @write;
 * returns 1 if that raised SIGBUS.
 */
static inline int vpa_access_sigbus(volatile uint32_t *p, uint32_t *val, bool write)
{
	struct sigaction sa = { .sa_handler = vpa_on_sigbus }, old;
	int bus = 0;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(vpa_bus_jmp, 1))
		bus = 1;
	else if (write)
		*p = *val;
	else
		*val = *p;
	sigaction(SIGBUS, &old, NULL);
	return bus;
}

/* Reads the 32-bit word @p into @val; returns 1 if that raised SIGBUS. */
static inline int vpa_read_sigbus(volatile uint32_t *p, uint32_t *val)
{
	return vpa_access_sigbus(p, val, false);
}

/* Stores @v to the 32-bit word @p; returns 1 if that raised SIGBUS. */
static inline int vpa_write_sigbus(volatile uint32_t *p, uint32_t v)
{
	return vpa_access_sigbus(p, &v, true);
}


/*
 * Maps @len bytes of @fd at @off (MAP_SHARED, read-write) at a 2 MiB
 * aligned address, where huge (PMD) faults are possible: an anonymous
 * reservation 2 MiB larger, the mapping over its aligned part, the rest
 * of the reservation unmapped. MAP_FAILED (errno set) on failure.
 */
static inline void *vpa_map_aligned(int fd, size_t len, uint64_t off)
{
	const size_t sz_2m = 2UL << 20;
	char *resv, *at;
	void *p;
	int err;

	resv = mmap(NULL, len + sz_2m, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (resv == MAP_FAILED)
		return MAP_FAILED;
	at = (char *)(((uintptr_t)resv + sz_2m - 1) & ~(sz_2m - 1));
	p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, off);
	if (p == MAP_FAILED) {
		err = errno;
		munmap(resv, len + sz_2m);
		errno = err;
		return MAP_FAILED;
	}
	if (at > resv)
		munmap(resv, at - resv);
	if (at + len < resv + len + sz_2m)
		munmap(at + len, resv + len + sz_2m - (at + len));
	return p;
}

/*
 * VFIO_DEVICE_FEATURE @nr of the device @fd with @flags and @len bytes of
 * @data, which gets the answer back: 0 (or the fd a feature returns) or
 * -errno.
 */
static inline int vpa_dev_feature(int fd, unsigned int nr, uint32_t flags, void *data,
				  size_t len)
{
	char buf[sizeof(struct vfio_device_feature) + 256] __attribute__((aligned(8))) = { 0 };
	struct vfio_device_feature *f = (void *)buf;
	int ret;

	if (len > 256)
		return -E2BIG;
	f->argsz = sizeof(*f) + len;
	f->flags = flags | nr;
	if (len)
		memcpy(f->data, data, len);
	ret = ioctl(fd, VFIO_DEVICE_FEATURE, f);
	if (ret < 0)
		return -errno;
	if (len)
		memcpy(data, f->data, len);
	return ret;
}

/*
 * A DMABUF of the @n ranges (offset, length pairs in @ranges, at most 8) of
 * BAR @bar of the device @fd (VFIO_DEVICE_FEATURE_DMA_BUF), its file opened
 * with @open_flags: its fd or -errno.
 */
static inline int vpa_dmabuf_export(int fd, uint32_t bar, const uint64_t *ranges, uint32_t n,
				    uint32_t open_flags)
{
	char buf[sizeof(struct vfio_device_feature_dma_buf) +
		 8 * sizeof(struct vfio_region_dma_range)] __attribute__((aligned(8))) = { 0 };
	struct vfio_device_feature_dma_buf *req = (void *)buf;
	uint32_t i;

	if (n > 8)
		return -E2BIG;
	req->region_index = bar;
	req->open_flags = open_flags;
	req->nr_ranges = n;
	for (i = 0; i < n; i++) {
		req->dma_ranges[i].offset = ranges[2 * i];
		req->dma_ranges[i].length = ranges[2 * i + 1];
	}
	return vpa_dev_feature(fd, VFIO_DEVICE_FEATURE_DMA_BUF, VFIO_DEVICE_FEATURE_GET, req,
			       sizeof(*req) + n * sizeof(struct vfio_region_dma_range));
}

/*
 * The test P2P importer (vpa_importer.ko, which the test scripts load)
 * attached to the DMABUF @buf as the PCI function @bdf: its fd, or -errno.
 */
static inline int vpa_importer_attach(const char *bdf, int buf)
{
	struct vpa_importer_attach a = { .fd = buf };
	unsigned int dom, bus, dev, fn;
	int imp, e;

	if (sscanf(bdf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4)
		return -EINVAL;
	a.domain = dom;
	a.bus = bus;
	a.devfn = dev << 3 | fn;
	imp = open("/dev/vpa_importer", O_RDWR | O_CLOEXEC);
	if (imp < 0)
		return -errno;
	if (ioctl(imp, VPA_IMPORTER_ATTACH, &a)) {
		e = errno;
		close(imp);
		return -e;
	}
	return imp;
}

/* The importer maps now: 0 or -errno. */
static inline int vpa_importer_map(int imp)
{
	return ioctl(imp, VPA_IMPORTER_MAP) ? -errno : 0;
}

static inline struct vpa_importer_status vpa_importer_status(int imp)
{
	struct vpa_importer_status st;

	memset(&st, 0xff, sizeof(st));
	if (ioctl(imp, VPA_IMPORTER_STATUS, &st))
		st.mapped = ~0u;
	return st;
}

/* Gives the device @fd the eventfd @efd for its device requests; 0 or -errno. */
static inline int vpa_set_req_eventfd(int fd, int efd)
{
	char buf[sizeof(struct vfio_irq_set) + sizeof(int)] __attribute__((aligned(8)));
	struct vfio_irq_set *irq = (void *)buf;

	irq->argsz = sizeof(buf);
	irq->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	irq->index = VFIO_PCI_REQ_IRQ_INDEX;
	irq->start = 0;
	irq->count = 1;
	memcpy(irq->data, &efd, sizeof(int));
	return ioctl(fd, VFIO_DEVICE_SET_IRQS, irq) ? -errno : 0;
}

/* Turns memory decoding of the device @fd on or off (PCI_COMMAND). */
static inline int vpa_set_memory(int fd, int on)
{
	uint64_t cfg = (uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40;
	uint16_t cmd;

	if (pread(fd, &cmd, 2, cfg + PCI_COMMAND) != 2)
		return -1;
	cmd = on ? cmd | PCI_COMMAND_MEMORY : cmd & ~PCI_COMMAND_MEMORY;
	return pwrite(fd, &cmd, 2, cfg + PCI_COMMAND) == 2 ? 0 : -1;
}

/* VFIO_DEVICE_IOEVENTFD of a 32-bit write of @data at @off; @efd -1 deletes. */
static inline int vpa_ioeventfd(int fd, uint64_t off, uint32_t data, int efd)
{
	struct vfio_device_ioeventfd req = {
		.argsz = sizeof(req),
		.flags = VFIO_DEVICE_IOEVENTFD_32,
		.offset = off,
		.data = data,
		.fd = efd,
	};

	return ioctl(fd, VFIO_DEVICE_IOEVENTFD, &req) ? -errno : 0;
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t vpa_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* This process's minor fault count (field 10 of /proc/self/stat), or -1. */
static inline long vpa_minflt(void)
{
	char buf[1024], *p;
	long v = -1;
	int i;
	FILE *f = fopen("/proc/self/stat", "r");

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f)) {
		p = strrchr(buf, ')');
		/* p points at the end of field 2. */
		for (i = 2; p && i < 10; i++)
			p = strchr(p + 1, ' ');
		if (p)
			v = strtol(p + 1, NULL, 10);
	}
	fclose(f);
	return v;
}

/* Writes @val to @path in one write(); 0 or -errno (the write's own errno). */
static inline int vpa_sysfs_write(const char *path, const char *val)
{
	int fd, ret = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Reads @path into @buf without the trailing newline; 0 or -errno. */
static inline int vpa_sysfs_read(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	buf[0] = 0;
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/*
 * The first line of the sysfs attribute @attr ("wc_bars", "power_state"...)
 * of PCI device @bdf into @buf, its newline kept; "" if unreadable.
 */
static inline const char *vpa_dev_attr(const char *bdf, const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, attr);
	buf[0] = 0;
	f = fopen(path, "r");
	if (f) {
		if (!fgets(buf, len, f))
			buf[0] = 0;
		fclose(f);
	}
	return buf;
}

/*
 * The offset of capability @id in the standard capability list of PCI
 * device @bdf, 0 if it has none; its first 256 bytes of config space go to
 * @cfg (zeroes past what could be read). The walk stops at a capability of
 * which fewer than @len bytes could be read (2 for its header only).
 */
static inline int vpa_pci_cap(const char *bdf, int id, int len, unsigned char cfg[256])
{
	char path[PATH_MAX];
	int fd, n, pos, guard = 48;

	memset(cfg, 0, 256);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, cfg, 256);
	close(fd);
	if (n < 64 || !(cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST))
		return 0;
	for (pos = cfg[PCI_CAPABILITY_LIST] & ~3; pos && pos + len <= n && guard--;
	     pos = cfg[pos + PCI_CAP_LIST_NEXT] & ~3)
		if (cfg[pos] == id)
			return pos;
	return 0;
}

/*
 * The test devices. Each program takes them as BDF arguments after its
 * options, as the upstream VFIO selftests do, and gives each the role its
 * vendor and device IDs name: QEMU's edu, igb and ivshmem-plain. Without
 * such arguments they come from the environment, one variable per role.
 * A test that needs a role no device has is skipped (VPA_NEED).
 */
enum vpa_role { VPA_EDU, VPA_IGB, VPA_IVSHMEM, VPA_NR_ROLES };

struct vpa_role_info {
	const char *name;
	const char *env;
	unsigned int vendor, device;
};

static inline const struct vpa_role_info *vpa_role_info(enum vpa_role role)
{
	static const struct vpa_role_info roles[VPA_NR_ROLES] = {
		[VPA_EDU] = { "edu", "VPA_EDU_BDF", 0x1234, 0x11e8 },
		[VPA_IGB] = { "igb", "VPA_IGB_BDF", 0x8086, 0x10c9 },
		[VPA_IVSHMEM] = { "ivshmem", "VPA_IVSHMEM_BDF", 0x1af4, 0x1110 },
	};

	return &roles[role];
}

static struct {
	bool taken;		/* vpa_take_bdfs() ran */
	bool from_args;		/* ... and found BDF arguments */
	char bdf[VPA_NR_ROLES][16];
} vpa_devices;

/*
 * Whether @s is a PCI address, DDDD:BB:DD.F or (domain 0) BB:DD.F; if so
 * its DDDD:BB:DD.F form, as sysfs names the device, goes to @out.
 */
static inline bool vpa_parse_bdf(const char *s, char out[16])
{
	unsigned int dom = 0, bus, dev, fn;
	int n = -1;

	if (!s || !isxdigit((unsigned char)s[0]))
		return false;
	if (sscanf(s, "%4x:%2x:%2x.%1x%n", &dom, &bus, &dev, &fn, &n) != 4 || s[n]) {
		dom = 0;
		n = -1;
		if (sscanf(s, "%2x:%2x.%1x%n", &bus, &dev, &fn, &n) != 3 || s[n])
			return false;
	}
	if (dev > 0x1f || fn > 7)
		return false;
	snprintf(out, 16, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return true;
}

/* What the programs take for devices, after their own usage line. */
static inline void vpa_bdf_usage(void)
{
	enum vpa_role r;

	fprintf(stderr, "The devices, bound to vfio-pci-alias: PCI addresses (DDDD:BB:DD.F) after\n"
		"the options, or without any, from the environment:\n");
	for (r = 0; r < VPA_NR_ROLES; r++)
		fprintf(stderr, "  %-8s %04x:%04x  %s\n", vpa_role_info(r)->name,
			vpa_role_info(r)->vendor, vpa_role_info(r)->device, vpa_role_info(r)->env);
}

/* The role of the PCI device @bdf, by its IDs; exits if there is none. */
static inline enum vpa_role vpa_role_of(const char *prog, const char *bdf)
{
	char path[PATH_MAX], ven[16], dev[16];
	unsigned int v, d;
	enum vpa_role r;
	int ret;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", bdf);
	ret = vpa_sysfs_read(path, ven, sizeof(ven));
	if (!ret) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", bdf);
		ret = vpa_sysfs_read(path, dev, sizeof(dev));
	}
	if (ret) {
		fprintf(stderr, "%s: %s: no such PCI device (%s: %s)\n", prog, bdf, path,
			strerror(-ret));
		exit(1);
	}
	v = strtoul(ven, NULL, 16);
	d = strtoul(dev, NULL, 16);
	for (r = 0; r < VPA_NR_ROLES; r++)
		if (vpa_role_info(r)->vendor == v && vpa_role_info(r)->device == d)
			return r;
	fprintf(stderr, "%s: %s is %04x:%04x, not one of the test devices\n", prog, bdf, v, d);
	vpa_bdf_usage();
	exit(1);
}

/*
 * Takes the trailing BDF arguments off @argv (so that what is left is the
 * program's own options, kselftest_harness.h's for a test), each as the
 * device of its role; without any, the roles' environment variables. A BDF
 * that is no PCI device or no test device, two of one role, or a variable
 * that is no PCI address end the program with status 1 (KSFT_FAIL).
 * @argc NULL: the environment only.
 */
static inline void vpa_take_bdfs(int *argc, char **argv)
{
	const char *prog = argv ? argv[0] : "vpa";
	int first = argc ? *argc : 0, i;
	enum vpa_role r;
	char bdf[16];

	while (first > 1 && vpa_parse_bdf(argv[first - 1], bdf))
		first--;
	for (i = first; argc && i < *argc; i++) {
		vpa_parse_bdf(argv[i], bdf);
		r = vpa_role_of(prog, bdf);
		if (*vpa_devices.bdf[r]) {
			fprintf(stderr, "%s: %s and %s are both %s devices\n", prog,
				vpa_devices.bdf[r], bdf, vpa_role_info(r)->name);
			exit(1);
		}
		strcpy(vpa_devices.bdf[r], bdf);
		vpa_devices.from_args = true;
	}
	for (r = 0; r < VPA_NR_ROLES && !vpa_devices.from_args; r++) {
		const char *v = getenv(vpa_role_info(r)->env);

		if (!v || !*v)
			continue;
		if (!vpa_parse_bdf(v, vpa_devices.bdf[r])) {
			fprintf(stderr, "%s: %s='%s' is not a PCI address\n", prog,
				vpa_role_info(r)->env, v);
			vpa_bdf_usage();
			exit(1);
		}
	}
	for (i = 1; argc && i < first; i++)
		if (!strcmp(argv[i], "-h"))
			vpa_bdf_usage();
	vpa_devices.taken = true;
	if (!argc)
		return;
	*argc = first;
	argv[first] = NULL;
	fprintf(stderr, "# devices (%s):", vpa_devices.from_args ? "arguments" : "environment");
	for (r = 0; r < VPA_NR_ROLES; r++)
		fprintf(stderr, " %s %s", vpa_role_info(r)->name,
			*vpa_devices.bdf[r] ? vpa_devices.bdf[r] : "-");
	fprintf(stderr, "\n");
}

/* The BDF of the device of @role, "" if there is none. */
static inline const char *vpa_bdf(enum vpa_role role)
{
	if (!vpa_devices.taken)
		vpa_take_bdfs(NULL, NULL);
	return vpa_devices.bdf[role];
}

/*
 * Why one of the @n roles @roles has no device, into @why; false if all
 * have one.
 */
static inline bool vpa_missing(const enum vpa_role *roles, size_t n, char *why, size_t size)
{
	const struct vpa_role_info *info;
	size_t i;

	for (i = 0; i < n; i++) {
		if (*vpa_bdf(roles[i]))
			continue;
		info = vpa_role_info(roles[i]);
		if (vpa_devices.from_args)
			snprintf(why, size, "no %s device (%04x:%04x) among the BDF arguments",
				 info->name, info->vendor, info->device);
		else
			snprintf(why, size,
				 "no %s device (%04x:%04x): give its BDF as an argument or in %s",
				 info->name, info->vendor, info->device, info->env);
		return true;
	}
	return false;
}

/*
 * In a test or a fixture's setup (kselftest_harness.h): skips the test,
 * saying why, unless each role named has a device.
 */
#define VPA_NEED(...) do {							\
	const enum vpa_role __vpa_roles[] = { __VA_ARGS__ };			\
	char __vpa_why[160];							\
										\
	if (vpa_missing(__vpa_roles, ARRAY_SIZE(__vpa_roles), __vpa_why, sizeof(__vpa_why))) \
		SKIP(return, "%s", __vpa_why);					\
} while (0)

/* TEST_HARNESS_MAIN, the devices taken off the command line first. */
#define VPA_HARNESS_MAIN							\
	int main(int argc, char **argv)						\
	{									\
		vpa_take_bdfs(&argc, argv);					\
		return test_harness_run(argc, argv);				\
	}

/* Writes @text to /sys/bus/pci/devices/@bdf/wc_bars; 0 or -errno. */
static inline int vpa_set_wc_bars(const char *bdf, const char *text)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/wc_bars", bdf);
	return vpa_sysfs_write(path, text);
}

#endif /* VPA_LIB_H */
