// SPDX-License-Identifier: GPL-2.0
/*
 * Semantics of VFIO_DEVICE_FEATURE_ALIAS_REGION on a device bound to
 * vfio-pci-alias: PROBE, SET, dedup, every bad input with its errno (and
 * that it changed nothing), GET_INFO (as core answers it, plus the aliases),
 * GET_REGION_INFO of an alias, read/write through an alias, and the table's
 * lifetime.
 *
 * Devices (BDF arguments or the environment, vpa_lib.h): QEMU's edu (BAR0
 * only), igb (MSI-X table in BAR3) and ivshmem-plain.
 */
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "vpa_lib.h"

#define EDU_IDENT	0x00
#define EDU_LIVENESS	0x04
#define NR_FIXED	VFIO_PCI_NUM_REGIONS

FIXTURE(edu) {
	struct vpa_dev d;
	int base;	/* num_regions before any alias: first alias index */
};

FIXTURE_SETUP(edu)
{
	VPA_NEED(VPA_EDU);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_EDU), &self->d));
	self->base = vpa_num_regions(self->d.fd);
	ASSERT_EQ(NR_FIXED, self->base);
}

FIXTURE_TEARDOWN(edu)
{
	vpa_close(&self->d);
}

TEST(feature_number_is_published)
{
	ASSERT_EQ(VFIO_DEVICE_FEATURE_ALIAS_REGION, vpa_feature_number());
	/* Outside the range upstream allocates from (1..13 in 7.3). */
	ASSERT_GE(VFIO_DEVICE_FEATURE_ALIAS_REGION, 0x8000);
}

TEST_F(edu, probe_without_payload)
{
	ASSERT_EQ(0, vpa_feature(self->d.fd, VFIO_DEVICE_FEATURE_PROBE |
				 VFIO_DEVICE_FEATURE_SET, NULL, 0));
}

TEST_F(edu, probe_bar_reports_wc)
{
	struct vfio_device_feature_alias_region req = { .index = 0 };

	ASSERT_EQ(0, vpa_feature(self->d.fd, VFIO_DEVICE_FEATURE_PROBE |
				 VFIO_DEVICE_FEATURE_SET, &req, sizeof(req)));
	/* WC, and windows of the BAR may have it (window_test.c). */
	ASSERT_EQ(VFIO_ALIAS_ATTR_WC | VFIO_ALIAS_REGION_WINDOW, req.flags);
	/* PROBE creates nothing. */
	ASSERT_EQ(self->base, vpa_num_regions(self->d.fd));
}

TEST_F(edu, probe_rejects_what_cannot_be_aliased)
{
	uint32_t bad[] = {
		VFIO_PCI_BAR1_REGION_INDEX,	/* empty BAR */
		VFIO_PCI_ROM_REGION_INDEX,
		VFIO_PCI_CONFIG_REGION_INDEX,	/* not mmap-capable */
		NR_FIXED,			/* out of range */
		1000,
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vfio_device_feature_alias_region req = { .index = bad[i] };

		EXPECT_EQ(-EINVAL, vpa_feature(self->d.fd, VFIO_DEVICE_FEATURE_PROBE |
					       VFIO_DEVICE_FEATURE_SET, &req, sizeof(req)))
			TH_LOG("index %u", bad[i]);
	}
}

TEST_F(edu, set_creates_then_finds)
{
	int a = vpa_alias(self->d.fd, 0, VFIO_ALIAS_ATTR_WC);

	ASSERT_EQ(self->base, a);
	ASSERT_EQ(self->base + 1, vpa_num_regions(self->d.fd));
	/* The same request again returns the same index, adds nothing. */
	ASSERT_EQ(a, vpa_alias(self->d.fd, 0, VFIO_ALIAS_ATTR_WC));
	ASSERT_EQ(self->base + 1, vpa_num_regions(self->d.fd));
}

/*
 * GET_INFO with an alias is core's answer with the alias counted, whatever
 * argsz: the same flags and IRQs, EINVAL below the minimum size, nothing
 * written past argsz, cap_offset zeroed when argsz covers it.
 */
TEST_F(edu, get_info_counts_aliases_like_core)
{
	struct vfio_device_info before = { .argsz = sizeof(before) }, info;
	uint32_t minsz = offsetof(struct vfio_device_info, cap_offset);
	uint32_t sizes[] = { minsz, minsz + 4, sizeof(info), sizeof(info) + 8 };
	char buf[sizeof(info) + 8];

	ASSERT_EQ(0, ioctl(self->d.fd, VFIO_DEVICE_GET_INFO, &before));
	ASSERT_EQ(self->base, vpa_alias(self->d.fd, 0, VFIO_ALIAS_ATTR_WC));
	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(buf, 0x5a, sizeof(buf));
		memcpy(buf, &sizes[i], sizeof(sizes[i]));
		ASSERT_EQ(0, ioctl(self->d.fd, VFIO_DEVICE_GET_INFO, buf)) TH_LOG("argsz %u", sizes[i]);
		memcpy(&info, buf, sizeof(info));
		EXPECT_EQ(sizes[i], info.argsz);
		EXPECT_EQ(before.flags, info.flags);
		EXPECT_EQ(before.num_regions + 1, info.num_regions);
		EXPECT_EQ(before.num_irqs, info.num_irqs);
		/* Written up to argsz (at most the structure), not beyond. */
		for (uint32_t at = minsz; at < sizeof(buf); at++) {
			if (at < sizes[i] && at < sizeof(info))
				continue;
			ASSERT_EQ(0x5a, (unsigned char)buf[at])
				TH_LOG("byte %u, argsz %u", at, sizes[i]);
		}
		if (sizes[i] >= minsz + 4) {
			EXPECT_EQ(0, info.cap_offset);
		}
	}
	info.argsz = minsz - 1;
	ASSERT_EQ(-1, ioctl(self->d.fd, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, ioctl(self->d.fd, VFIO_DEVICE_GET_INFO, (void *)8));
	ASSERT_EQ(EFAULT, errno);
}

TEST_F(edu, bad_requests_fail_and_change_nothing)
{
	struct {
		const char *what;
		struct vfio_device_feature_alias_region req;
		size_t argsz;
		uint32_t flags;
		int err;
	} cases[] = {
		{ "unknown attribute", { .flags = 1u << 7 }, 24, VFIO_DEVICE_FEATURE_SET, -EINVAL },
		{ "no attribute", { .flags = 0 }, 24, VFIO_DEVICE_FEATURE_SET, -EINVAL },
		{ "reserved1", { .flags = 1, .__reserved1 = 1 }, 24, VFIO_DEVICE_FEATURE_SET, -EINVAL },
		{ "reserved2", { .flags = 1, .__reserved2 = 1 }, 24, VFIO_DEVICE_FEATURE_SET, -EINVAL },
		{ "alias_index set", { .flags = 1, .alias_index = 3 }, 24, VFIO_DEVICE_FEATURE_SET, -EINVAL },
		{ "short argsz", { .flags = 1 }, 16, VFIO_DEVICE_FEATURE_SET, -EINVAL },
		{ "argsz one short of the first version", { .flags = 1 }, 23, VFIO_DEVICE_FEATURE_SET, -EINVAL },
		{ "unknown flag bit", { .flags = 1 | 1u << 30 }, 40, VFIO_DEVICE_FEATURE_SET, -EINVAL },
		{ "index out of range", { .flags = 1, .index = 64 }, 24, VFIO_DEVICE_FEATURE_SET, -EINVAL },
		{ "non-mmap region", { .flags = 1, .index = VFIO_PCI_CONFIG_REGION_INDEX }, 24, VFIO_DEVICE_FEATURE_SET, -EINVAL },
		{ "empty BAR", { .flags = 1, .index = 2 }, 24, VFIO_DEVICE_FEATURE_SET, -EINVAL },
		{ "GET", { .flags = 1 }, 24, VFIO_DEVICE_FEATURE_GET, -EINVAL },
		{ "GET|SET", { .flags = 1 }, 24, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET, -EINVAL },
	};
	unsigned int i;
	int a;

	/* An existing alias, to check that nothing changes around it. */
	a = vpa_alias(self->d.fd, 0, VFIO_ALIAS_ATTR_WC);
	ASSERT_EQ(self->base, a);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EXPECT_EQ(cases[i].err, vpa_feature(self->d.fd, cases[i].flags,
						    &cases[i].req, cases[i].argsz))
			TH_LOG("%s", cases[i].what);
		EXPECT_EQ(self->base + 1, vpa_num_regions(self->d.fd))
			TH_LOG("%s changed num_regions", cases[i].what);
	}
	/* Aliasing an alias. */
	ASSERT_EQ(-EINVAL, vpa_alias(self->d.fd, a, VFIO_ALIAS_ATTR_WC));
	ASSERT_EQ(self->base + 1, vpa_num_regions(self->d.fd));
	ASSERT_EQ(a, vpa_alias(self->d.fd, 0, VFIO_ALIAS_ATTR_WC));
}

TEST_F(edu, alias_region_info)
{
	char bar_buf[512], buf[512];
	struct vfio_region_info *bar = (void *)bar_buf;
	int a = vpa_alias(self->d.fd, 0, VFIO_ALIAS_ATTR_WC);

	ASSERT_GE(a, 0);
	ASSERT_EQ(0, vpa_region_info(self->d.fd, 0, bar_buf, sizeof(bar_buf)));
	/* Version 2 of the capability: the part of the BAR aliased, all of it. */
	vpa_assert_wc_alias(_metadata, self->d.fd, a, 0, 0, bar->size);
	/* The BAR itself is no alias. */
	ASSERT_EQ(0, bar->flags & (VFIO_REGION_INFO_FLAG_ALIAS | VFIO_REGION_INFO_FLAG_WC));
	ASSERT_EQ(NULL, vpa_find_cap(bar_buf, VFIO_REGION_INFO_CAP_ALIAS));
	/* Past the last alias. */
	ASSERT_EQ(-EINVAL, vpa_region_info(self->d.fd, a + 1, buf, sizeof(buf)));
}

TEST_F(edu, read_write_through_alias)
{
	uint64_t off = (uint64_t)vpa_alias(self->d.fd, 0, VFIO_ALIAS_ATTR_WC) << 40;
	uint32_t id_bar, id_alias, v = 0x12345678, got;

	ASSERT_EQ(4, pread(self->d.fd, &id_bar, 4, EDU_IDENT));
	ASSERT_EQ(4, pread(self->d.fd, &id_alias, 4, off + EDU_IDENT));
	ASSERT_EQ(id_bar, id_alias);
	ASSERT_EQ(0xed, id_alias & 0xff);
	ASSERT_EQ(4, pwrite(self->d.fd, &v, 4, off + EDU_LIVENESS));
	ASSERT_EQ(4, pread(self->d.fd, &got, 4, EDU_LIVENESS));
	ASSERT_EQ(~v, got);
	/* Past the end of the aliased BAR, as for the BAR. */
	ASSERT_EQ(-1, pread(self->d.fd, &got, 4, off + (1 << 20)));
}

TEST_F(edu, aliases_are_dropped_at_last_close)
{
	char buf[512];
	int a = vpa_alias(self->d.fd, 0, VFIO_ALIAS_ATTR_WC);

	ASSERT_EQ(self->base, a);
	vpa_close(&self->d);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_EDU), &self->d));
	ASSERT_EQ(self->base, vpa_num_regions(self->d.fd));
	ASSERT_EQ(-EINVAL, vpa_region_info(self->d.fd, a, buf, sizeof(buf)));
	/* And the index comes back the same when recreated. */
	ASSERT_EQ(a, vpa_alias(self->d.fd, 0, VFIO_ALIAS_ATTR_WC));
}

TEST_F(edu, alias_mmap_liveness)
{
	char buf[512];
	struct vfio_region_info *info = (void *)buf;
	int a = vpa_alias(self->d.fd, 0, VFIO_ALIAS_ATTR_WC);
	volatile uint32_t *regs;
	uint32_t v = 0xa5a5f00d;

	ASSERT_EQ(0, vpa_region_info(self->d.fd, a, buf, sizeof(buf)));
	regs = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, self->d.fd, info->offset);
	ASSERT_NE(MAP_FAILED, regs);
	ASSERT_EQ(0xed, regs[EDU_IDENT / 4] & 0xff);
	regs[EDU_LIVENESS / 4] = v;
	__sync_synchronize();
	ASSERT_EQ(~v, regs[EDU_LIVENESS / 4]);
	/* Private mappings and mappings past the BAR fail as for the BAR. */
	ASSERT_EQ(MAP_FAILED, mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, self->d.fd, info->offset));
	ASSERT_EQ(MAP_FAILED, mmap(NULL, 8192, PROT_READ, MAP_SHARED, self->d.fd,
				   info->offset + info->size - 4096));
	ASSERT_EQ(0, munmap((void *)regs, 4096));
}

TEST_F(edu, bar_and_wc_alias_exclude_each_other)
{
	uint64_t off = (uint64_t)vpa_alias(self->d.fd, 0, VFIO_ALIAS_ATTR_WC) << 40;
	void *bar, *alias;

	bar = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->d.fd, 0);
	ASSERT_NE(MAP_FAILED, bar);
	alias = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->d.fd, off);
	ASSERT_EQ(MAP_FAILED, alias);
	ASSERT_EQ(EBUSY, errno);
	ASSERT_EQ(0, munmap(bar, 4096));

	alias = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->d.fd, off);
	ASSERT_NE(MAP_FAILED, alias);
	bar = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->d.fd, 0);
	ASSERT_EQ(MAP_FAILED, bar);
	ASSERT_EQ(EBUSY, errno);
	/* read() of the BAR still works while it is write-combining. */
	{
		uint32_t id;

		ASSERT_EQ(4, pread(self->d.fd, &id, 4, EDU_IDENT));
		ASSERT_EQ(0xed, id & 0xff);
	}
	ASSERT_EQ(0, munmap(alias, 4096));
	/* The last WC mapping gone, the BAR maps uncached again. */
	bar = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->d.fd, 0);
	ASSERT_NE(MAP_FAILED, bar);
	ASSERT_EQ(0, munmap(bar, 4096));
}

/*
 * An ioeventfd keeps core's kernel mapping of the BAR: while one exists a
 * WC alias cannot be mapped, and while a WC alias is mapped none can be
 * created. Aliases take no ioeventfd of their own.
 */
TEST_F(edu, ioeventfd_and_wc_alias_exclude_each_other)
{
	uint64_t off = (uint64_t)vpa_alias(self->d.fd, 0, VFIO_ALIAS_ATTR_WC) << 40;
	int efd = eventfd(0, EFD_CLOEXEC);
	void *alias;

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, vpa_ioeventfd(self->d.fd, EDU_LIVENESS, 1, efd));
	alias = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->d.fd, off);
	ASSERT_EQ(MAP_FAILED, alias);
	ASSERT_EQ(EBUSY, errno);
	ASSERT_EQ(-EINVAL, vpa_ioeventfd(self->d.fd, off + EDU_LIVENESS, 2, efd));
	ASSERT_EQ(0, vpa_ioeventfd(self->d.fd, EDU_LIVENESS, 1, -1));

	alias = mmap(NULL, 4096, PROT_READ, MAP_SHARED, self->d.fd, off);
	ASSERT_NE(MAP_FAILED, alias);
	ASSERT_EQ(-EBUSY, vpa_ioeventfd(self->d.fd, EDU_LIVENESS, 1, efd));
	ASSERT_EQ(0, munmap(alias, 4096));

	/* The BAR back to uncached, ioeventfds work again. */
	ASSERT_EQ(0, vpa_ioeventfd(self->d.fd, EDU_LIVENESS, 1, efd));
	ASSERT_EQ(0, vpa_ioeventfd(self->d.fd, EDU_LIVENESS, 1, -1));
	close(efd);
}

TEST(msix_bar_cannot_be_wc)
{
	struct vpa_dev d;

	VPA_NEED(VPA_IGB);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IGB), &d));
	/* igb: MSI-X table in BAR3; the PCI core maps it uncached. */
	ASSERT_EQ(0, vpa_probe(d.fd, 3));
	ASSERT_EQ(-EOPNOTSUPP, vpa_alias(d.fd, 3, VFIO_ALIAS_ATTR_WC));
	/* BAR0 of the same device is fine. */
	ASSERT_EQ(VFIO_PCI_NUM_REGIONS, vpa_alias(d.fd, 0, VFIO_ALIAS_ATTR_WC));
	vpa_close(&d);
}

TEST(every_bar_dedups_within_bound)
{
	struct vpa_dev d;
	int i, seen = 0, first[6];

	VPA_NEED(VPA_IVSHMEM);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IVSHMEM), &d));
	for (i = 0; i < 6; i++) {
		first[i] = vpa_alias(d.fd, i, VFIO_ALIAS_ATTR_WC);
		if (first[i] >= 0)
			seen++;
		else
			ASSERT_EQ(-EINVAL, first[i]);
	}
	ASSERT_GE(seen, 1);
	for (i = 0; i < 6; i++)
		ASSERT_EQ(first[i], vpa_alias(d.fd, i, VFIO_ALIAS_ATTR_WC));
	ASSERT_EQ(VFIO_PCI_NUM_REGIONS + seen, vpa_num_regions(d.fd));
	vpa_close(&d);
}

VPA_HARNESS_MAIN
