// SPDX-License-Identifier: GPL-2.0
/*
 * alias_wc: create a write-combining alias of a BAR of a device bound to
 * vfio-pci-alias, print its region info and use it.
 *
 *   alias_wc /dev/vfio/devices/vfioN [BAR]
 *
 * The device is opened through its vfio cdev and bound to iommufd, the
 * modern path (the tests also cover the legacy group path). Steps:
 *
 *   1. read the ALIAS_REGION feature number the driver publishes;
 *   2. PROBE the BAR: which attributes can an alias of it have?
 *   3. SET: create (or find) the WC alias; its index comes back;
 *   4. GET_REGION_INFO on the alias: offset, size, flags, capabilities;
 *   5. mmap() the alias at that offset and store through it.
 *
 * Build: cc -static -I<uapi headers> -I<repo>/include/uapi -o alias_wc alias_wc.c
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_alias.h>

#define PARAM "/sys/module/vfio_pci_alias/parameters/alias_region_feature"

static int die(const char *what)
{
	fprintf(stderr, "alias_wc: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Opens the vfio cdev and attaches it to a fresh IOAS of a new iommufd. */
static int open_cdev(const char *path)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	int fd = open(path, O_RDWR), iommufd = open("/dev/iommu", O_RDWR);

	if (fd < 0 || iommufd < 0)
		die("open");
	bind.iommufd = iommufd;
	if (ioctl(fd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		die("VFIO_DEVICE_BIND_IOMMUFD");
	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &ioas))
		die("IOMMU_IOAS_ALLOC");
	attach.pt_id = ioas.out_ioas_id;
	if (ioctl(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		die("VFIO_DEVICE_ATTACH_IOMMUFD_PT");
	return fd;
}

static unsigned int feature_number(void)
{
	unsigned int nr = VFIO_DEVICE_FEATURE_ALIAS_REGION;
	FILE *f = fopen(PARAM, "r");

	if (!f || fscanf(f, "%u", &nr) != 1)
		fprintf(stderr, "alias_wc: no %s, assuming %#x\n", PARAM, nr);
	if (f)
		fclose(f);
	return nr;
}

/* VFIO_DEVICE_FEATURE with the ALIAS_REGION payload. */
static int alias_feature(int fd, uint32_t flags, struct vfio_device_feature_alias_region *req)
{
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_alias_region req;
	} f = {
		.hdr = { .argsz = sizeof(f), .flags = flags | feature_number() },
		.req = *req,
	};
	int ret = ioctl(fd, VFIO_DEVICE_FEATURE, &f);

	*req = f.req;
	return ret;
}

/* Prints region @index with its capabilities; returns its mmap offset. */
static uint64_t print_region(int fd, uint32_t index)
{
	char buf[512] = { 0 };
	struct vfio_region_info *info = (void *)buf;
	uint32_t off;

	info->argsz = sizeof(buf);
	info->index = index;
	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, info))
		die("VFIO_DEVICE_GET_REGION_INFO");
	printf("region %u: offset %#" PRIx64 " size %#" PRIx64 " flags %#x%s%s%s%s%s%s\n",
	       index, (uint64_t)info->offset, (uint64_t)info->size, info->flags,
	       info->flags & VFIO_REGION_INFO_FLAG_READ ? " READ" : "",
	       info->flags & VFIO_REGION_INFO_FLAG_WRITE ? " WRITE" : "",
	       info->flags & VFIO_REGION_INFO_FLAG_MMAP ? " MMAP" : "",
	       info->flags & VFIO_REGION_INFO_FLAG_CAPS ? " CAPS" : "",
	       info->flags & VFIO_REGION_INFO_FLAG_ALIAS ? " ALIAS" : "",
	       info->flags & VFIO_REGION_INFO_FLAG_WC ? " WC" : "");
	off = info->flags & VFIO_REGION_INFO_FLAG_CAPS ? info->cap_offset : 0;
	while (off && off < sizeof(buf)) {
		struct vfio_info_cap_header *h = (void *)(buf + off);

		if (h->id == VFIO_REGION_INFO_CAP_ALIAS) {
			struct vfio_region_info_cap_alias *a = (void *)h;

			printf("  capability ALIAS v%u: aliases region %u, attributes %#x%s\n",
			       h->version, a->aliased_index, a->attrs,
			       a->attrs & VFIO_ALIAS_ATTR_WC ? " (WC)" : "");
		} else {
			printf("  capability id %u v%u\n", h->id, h->version);
		}
		off = h->next;
	}
	return info->offset;
}

int main(int argc, char **argv)
{
	struct vfio_device_feature_alias_region req = { 0 };
	uint32_t bar = argc > 2 ? strtoul(argv[2], NULL, 0) : 0;
	volatile uint32_t *p;
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: %s /dev/vfio/devices/vfioN [BAR]\n", argv[0]);
		return 2;
	}
	fd = open_cdev(argv[1]);
	printf("ALIAS_REGION is device feature %#x\n", feature_number());

	req.index = bar;
	if (alias_feature(fd, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET, &req))
		die("PROBE");
	printf("BAR %u can be aliased with attributes %#x%s\n", bar, req.flags,
	       req.flags & VFIO_ALIAS_ATTR_WC ? " (WC)" : "");
	if (!(req.flags & VFIO_ALIAS_ATTR_WC))
		return 1;

	memset(&req, 0, sizeof(req));
	req.index = bar;
	req.flags = VFIO_ALIAS_ATTR_WC;
	if (alias_feature(fd, VFIO_DEVICE_FEATURE_SET, &req))
		die("SET");
	printf("WC alias of BAR %u is region %u\n", bar, req.alias_index);
	print_region(fd, bar);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 print_region(fd, req.alias_index));
	if (p == MAP_FAILED)
		die("mmap of the alias");
	printf("first word of BAR %u through the WC mapping: %#x\n", bar, p[0]);
	munmap((void *)p, 4096);
	close(fd);
	return 0;
}
