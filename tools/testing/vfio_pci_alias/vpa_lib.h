/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Userspace helpers for the vfio-pci-alias tests and sample: open a device
 * bound to vfio-pci-alias through its group (IOMMU or no-IOMMU mode), and
 * wrap the ALIAS_REGION feature and region info.
 */
#ifndef VPA_LIB_H
#define VPA_LIB_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_alias.h>

struct vpa_dev {
	int container;
	int group;
	int fd;
};

/* The BDF in environment variable @var (VPA_EDU_BDF...), "" if unset. */
static inline const char *vpa_env_bdf(const char *var)
{
	const char *v = getenv(var);

	return v ? v : "";
}

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

static sigjmp_buf vpa_bus_jmp __attribute__((unused));

static inline void vpa_on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(vpa_bus_jmp, 1);
}

/* Reads the 32-bit word @p into @val; returns 1 if that raised SIGBUS. */
static inline int vpa_read_sigbus(volatile uint32_t *p, uint32_t *val)
{
	struct sigaction sa = { .sa_handler = vpa_on_sigbus }, old;
	int bus = 0;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(vpa_bus_jmp, 1))
		bus = 1;
	else
		*val = *p;
	sigaction(SIGBUS, &old, NULL);
	return bus;
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

/* Writes @text to /sys/bus/pci/devices/@bdf/wc_bars; 0 or -errno. */
static inline int vpa_set_wc_bars(const char *bdf, const char *text)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/wc_bars", bdf);
	return vpa_sysfs_write(path, text);
}

#endif /* VPA_LIB_H */
