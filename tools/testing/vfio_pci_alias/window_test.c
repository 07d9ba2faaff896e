// SPDX-License-Identifier: GPL-2.0
/*
 * Windows: write-combining aliases of a part of a BAR
 * (VFIO_ALIAS_REGION_WINDOW), on ivshmem's 64 MiB BAR 2 unless said
 * otherwise:
 *
 * - uAPI: PROBE reports the window flag beside WC; every bad window (not
 *   page aligned, empty, past the BAR, argsz too short for it...) fails with
 *   EINVAL and changes nothing, and a request of the first version (24
 *   bytes, no flag) still works; a window of the whole BAR is the whole-BAR
 *   alias, the same window the same alias, another window another one; the
 *   65th alias gets ENOSPC; region info and the alias capability (version
 *   2) describe the window; igb's MSI-X BAR has no WC window;
 * - mmap() and read()/write() of a window alias reach the window's pages of
 *   the BAR, and nothing past the window;
 * - page tables and PAT: while a window is mapped its pages are
 *   write-combining, and the rest of the BAR stays uncached and can be
 *   mapped through the BAR's own region at the same time; such a mapping
 *   gets SIGBUS on the window's pages (what it had mapped of them is zapped
 *   when the window is mapped) and maps them uncached again once the
 *   window's last mapping is gone, VMA splits and fork()ed copies counted.
 *   /sys/kernel/debug/x86/pat_memtype_list shows the BAR split in three
 *   (UC-, WC, UC-), then whole and UC- again, and after close as before open;
 * - data: patterns stored through the window, through an uncached mapping
 *   beside it and by write() read back the same every way, and by the host
 *   from ivshmem's backing file ("VPA-HOSTCHECK: ...");
 * - an ioeventfd on the BAR and a mapping of the whole-BAR WC alias are
 *   refused (EBUSY) while a window is mapped, and a window while an
 *   ioeventfd exists; a window of a BAR mapped WC as a whole is part of it;
 * - memory decode off and VFIO_DEVICE_RESET zap the window's and the
 *   uncached mappings, which fault back in with their own types; a 2 MiB
 *   aligned window faults in PMD entries.
 *
 * Areas of BAR 2. The host checks the patterns after the whole suite, so no
 * test writes where another's pattern lies (wc_test's is at [1M, 2M),
 * policy_test's at [8M, 9M); alias_stress writes [0, 64K) and [40M, 48M)):
 * [12M, 16M) scratch of the uAPI tests, [16M, 24M) the zap, fault and fork
 * tests, [31M, 34.5M) and [36M, 36M + 64K) the patterns checked by the host.
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/pci_regs.h>

#include "kselftest_harness.h"
#include "vpa_lib.h"
#include "vpa_pgtable.h"

#define SZ_4K		4096UL
#define SZ_64K		(64UL << 10)
#define SZ_1M		(1UL << 20)
#define SZ_2M		(2UL << 20)
#define BAR2		((uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40)
#define WC		VFIO_ALIAS_ATTR_WC
#define PAT_MAX		16

/* The window of the page-table and data tests: 2 MiB in the middle of BAR 2. */
#define WIN_OFF		(32 * SZ_1M)
#define WIN_SIZE	SZ_2M
#define SCRATCH_OFF	(12 * SZ_1M)
#define ZAP_OFF		(16 * SZ_1M)
#define FORK_OFF	(20 * SZ_1M)
#define RW_OFF		(36 * SZ_1M)
#define RW_SIZE		SZ_64K

/* The word @bytes into the mapping @p. */
#define AT(p, bytes)	((volatile uint32_t *)((char *)(p) + (bytes)))

static void *map(int fd, size_t len, uint64_t off)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}

/* @len bytes of the stream tools/ivshmem_check.py reproduces from @seed. */
static uint32_t *pattern(uint32_t seed, size_t len)
{
	uint32_t *p = malloc(len), s = seed;
	size_t i;

	for (i = 0; p && i < len / 4; i++)
		p[i] = xorshift32(&s);
	return p;
}

/* Index of the first of @n words at @p that is not @want's, or @n. */
static size_t first_diff(const volatile uint32_t *p, const uint32_t *want, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != want[i])
			break;
	return i;
}

/*
 * Faults to touch every page of a mapping of @len at @off at a 2 MiB
 * aligned address (-1 if it cannot be mapped). The cache bits and level of
 * the entry mapping its first page go to @bits and @level.
 */
static long touch_all(int fd, uint64_t off, size_t len, int *bits, char *level)
{
	volatile char *p = vpa_map_aligned(fd, len, off);
	long before, after;
	size_t i;

	if (p == MAP_FAILED)
		return -1;
	before = vpa_minflt();
	for (i = 0; i < len; i += SZ_4K)
		(void)p[i];
	after = vpa_minflt();
	*bits = pte_cache_bits((void *)p, level);
	munmap((void *)p, len);
	return after - before;
}

#define NEED_DEBUGFS() do {						\
	if (access(PTDUMP, R_OK) || access(PATLIST, R_OK))		\
		SKIP(return, "no " PTDUMP " or " PATLIST		\
		     " (CONFIG_PTDUMP_DEBUGFS, debugfs, PAT)");		\
} while (0)

FIXTURE(ivshmem) {
	struct vpa_dev d;
	int open;
	int base;		/* num_regions without aliases: the first alias index */
	uint64_t len;		/* BAR 2's size */
	uint64_t phys;		/* and physical start */
	struct pat_range pat0[PAT_MAX];	/* BAR 2's PAT entries before open */
	int npat0;		/* -1 without the list */
};

FIXTURE_SETUP(ivshmem)
{
	char buf[512];

	VPA_NEED(VPA_IVSHMEM);
	self->phys = bar_phys(vpa_bdf(VPA_IVSHMEM), 2);
	self->len = bar_size(vpa_bdf(VPA_IVSHMEM), 2);
	ASSERT_NE(0, self->phys);
	ASSERT_GE(self->len, 64UL << 20);
	self->npat0 = pat_ranges(self->phys, self->phys + self->len, self->pat0, PAT_MAX);
	ASSERT_GE(PAT_MAX, self->npat0);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IVSHMEM), &self->d));
	self->open = 1;
	self->base = vpa_num_regions(self->d.fd);
	ASSERT_EQ(VFIO_PCI_NUM_REGIONS, self->base);
	ASSERT_EQ(0, vpa_region_info(self->d.fd, 2, buf, sizeof(buf)));
	ASSERT_EQ(self->len, ((struct vfio_region_info *)buf)->size);
}

FIXTURE_TEARDOWN(ivshmem)
{
	if (self->open)
		vpa_close(&self->d);
}

/* The expected PAT entries of BAR 2 of @self, none of them mapped. */
static int pat_whole(FIXTURE_DATA(ivshmem) *self, struct pat_range *want)
{
	want[0] = (struct pat_range){ self->phys, self->phys + self->len, "uncached-minus" };
	return 1;
}

/* ... and with the window [@off, @off + @size) mapped, in the middle. */
static int pat_split(FIXTURE_DATA(ivshmem) *self, uint64_t off, uint64_t size,
		     struct pat_range *want)
{
	uint64_t bar = self->phys;

	want[0] = (struct pat_range){ bar, bar + off, "uncached-minus" };
	want[1] = (struct pat_range){ bar + off, bar + off + size, "write-combining" };
	want[2] = (struct pat_range){ bar + off + size, bar + self->len, "uncached-minus" };
	return 3;
}

/*
 * Checks that the PAT entries of BAR 2 are those it had before open plus
 * exactly @want (@n, by start); @when names the moment in the log.
 */
static void check_pat(struct __test_metadata *_metadata, FIXTURE_DATA(ivshmem) *self,
		      const struct pat_range *want, int n, const char *when)
{
	struct pat_range now[PAT_MAX];
	int i, total, added;

	total = pat_ranges(self->phys, self->phys + self->len, now, PAT_MAX);
	ASSERT_LE(0, total);
	ASSERT_GE(PAT_MAX, total);
	added = pat_ranges_new(now, total, self->pat0, self->npat0);
	for (i = 0; i < added; i++)
		TH_LOG("%s: PAT [BAR + %#llx, BAR + %#llx) %s", when,
		       (unsigned long long)(now[i].start - self->phys),
		       (unsigned long long)(now[i].end - self->phys), now[i].type);
	/* Nothing of before open gone, exactly @want added. */
	ASSERT_EQ(self->npat0 + n, total) TH_LOG("%s: %d PAT entries, %d before open",
						 when, total, self->npat0);
	ASSERT_EQ(n, added);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(want[i].start, now[i].start) TH_LOG("%s: entry %d", when, i);
		ASSERT_EQ(want[i].end, now[i].end) TH_LOG("%s: entry %d", when, i);
		ASSERT_STREQ(want[i].type, now[i].type) TH_LOG("%s: entry %d", when, i);
	}
}

TEST_F(ivshmem, probe_reports_windows)
{
	struct vfio_device_feature_alias_region req = { .index = 2 };

	ASSERT_EQ(0, vpa_feature(self->d.fd, VFIO_DEVICE_FEATURE_PROBE |
				 VFIO_DEVICE_FEATURE_SET, &req, sizeof(req)));
	ASSERT_EQ(WC | VFIO_ALIAS_REGION_WINDOW, req.flags);
	/* The same for a binary of the first version. */
	memset(&req, 0, sizeof(req));
	req.index = 2;
	ASSERT_EQ(0, vpa_feature(self->d.fd, VFIO_DEVICE_FEATURE_PROBE |
				 VFIO_DEVICE_FEATURE_SET, &req, VFIO_ALIAS_REGION_MINSZ));
	ASSERT_EQ(WC | VFIO_ALIAS_REGION_WINDOW, req.flags);
	/* PROBE creates nothing. */
	ASSERT_EQ(self->base, vpa_num_regions(self->d.fd));
}

TEST_F(ivshmem, bad_windows_fail_and_change_nothing)
{
	const uint32_t ww = WC | VFIO_ALIAS_REGION_WINDOW, set = VFIO_DEVICE_FEATURE_SET;
	const uint64_t len = self->len;
	const size_t sz = sizeof(struct vfio_device_feature_alias_region);
	int whole = vpa_alias(self->d.fd, 2, WC);
/* A request of flags @f for a window [@o, @o + @s) of region @i. */
#define REQ(f, i, o, s) { .flags = (f), .index = (i), .offset = (o), .size = (s) }
	struct {
		const char *what;
		struct vfio_device_feature_alias_region req;
		size_t argsz;
		uint32_t flags;
	} cases[] = {
		{ "offset not page aligned", REQ(ww, 2, 2048, SZ_4K), sz, set },
		{ "size not page aligned", REQ(ww, 2, SZ_4K, SZ_4K + 2048), sz, set },
		{ "size below a page", REQ(ww, 2, 0, 2048), sz, set },
		{ "empty", REQ(ww, 2, SZ_4K, 0), sz, set },
		{ "past the end", REQ(ww, 2, len - SZ_4K, 2 * SZ_4K), sz, set },
		{ "at the end", REQ(ww, 2, len, SZ_4K), sz, set },
		{ "beyond the end", REQ(ww, 2, 2 * len, SZ_4K), sz, set },
		{ "offset + size wraps", REQ(ww, 2, -SZ_4K, 2 * SZ_4K), sz, set },
		{ "size wraps", REQ(ww, 2, 2 * SZ_4K, -SZ_4K), sz, set },
		{ "argsz of the first version", REQ(ww, 2, 0, SZ_4K), VFIO_ALIAS_REGION_MINSZ, set },
		{ "argsz without size", REQ(ww, 2, 0, SZ_4K), 32, set },
		{ "argsz one byte short", REQ(ww, 2, 0, SZ_4K), sz - 1, set },
		{ "window without attribute", REQ(VFIO_ALIAS_REGION_WINDOW, 2, 0, SZ_4K), sz, set },
		{ "unknown flag bit", REQ(ww | 1u << 30, 2, 0, SZ_4K), sz, set },
		{ "reserved1", { .flags = ww, .index = 2, .__reserved1 = 1, .size = SZ_4K }, sz, set },
		{ "reserved2", { .flags = ww, .index = 2, .__reserved2 = 1, .size = SZ_4K }, sz, set },
		{ "alias_index set", { .flags = ww, .index = 2, .alias_index = 3, .size = SZ_4K }, sz, set },
		{ "window of the config region",
		  REQ(ww, VFIO_PCI_CONFIG_REGION_INDEX, 0, SZ_4K), sz, set },
		{ "window of an empty BAR", REQ(ww, 4, 0, SZ_4K), sz, set },
		{ "window of an alias", REQ(ww, whole, 0, SZ_4K), sz, set },
		{ "index out of range", REQ(ww, 1000, 0, SZ_4K), sz, set },
		/* BAR 0: 256 bytes of registers, one page rounded up. */
		{ "past BAR 0's page", REQ(ww, 0, 0, 2 * SZ_4K), sz, set },
		{ "after BAR 0's page", REQ(ww, 0, SZ_4K, SZ_4K), sz, set },
		{ "GET", REQ(ww, 2, 0, SZ_4K), sz, VFIO_DEVICE_FEATURE_GET },
		{ "GET|SET", REQ(ww, 2, 0, SZ_4K), sz, VFIO_DEVICE_FEATURE_GET | set },
	};
#undef REQ
	unsigned int i;
	int w;

	/* An alias and a window exist, to check that nothing changes around them. */
	ASSERT_EQ(self->base, whole);
	w = vpa_window(self->d.fd, 2, WC, SCRATCH_OFF, SZ_64K);
	ASSERT_EQ(self->base + 1, w);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EXPECT_EQ(-EINVAL, vpa_feature(self->d.fd, cases[i].flags,
					       &cases[i].req, cases[i].argsz))
			TH_LOG("%s", cases[i].what);
		EXPECT_EQ(self->base + 2, vpa_num_regions(self->d.fd))
			TH_LOG("%s changed num_regions", cases[i].what);
	}
	ASSERT_EQ(whole, vpa_alias(self->d.fd, 2, WC));
	ASSERT_EQ(w, vpa_window(self->d.fd, 2, WC, SCRATCH_OFF, SZ_64K));
	/* The last page of the BAR is a window like any other. */
	ASSERT_EQ(self->base + 2, vpa_window(self->d.fd, 2, WC, len - SZ_4K, SZ_4K));
}

/* An old binary's request (24 bytes, no window flag) is the whole-BAR alias. */
TEST_F(ivshmem, first_version_requests_ignore_window_fields)
{
	struct vfio_device_feature_alias_region req = { .flags = WC, .index = 2 };
	char buf[512];
	struct vfio_region_info *info = (void *)buf;
	int whole;

	ASSERT_EQ(0, vpa_feature(self->d.fd, VFIO_DEVICE_FEATURE_SET, &req,
				 VFIO_ALIAS_REGION_MINSZ));
	whole = req.alias_index;
	ASSERT_EQ(self->base, whole);
	/* Without the flag, offset and size are not looked at. */
	req = (struct vfio_device_feature_alias_region){
		.flags = WC, .index = 2, .offset = 0x123, .size = 7,
	};
	ASSERT_EQ(0, vpa_feature(self->d.fd, VFIO_DEVICE_FEATURE_SET, &req, sizeof(req)));
	ASSERT_EQ(whole, req.alias_index);
	ASSERT_EQ(0, vpa_region_info(self->d.fd, whole, buf, sizeof(buf)));
	ASSERT_EQ(self->len, info->size);
	/* A window of the whole BAR, asked for after it, is that alias. */
	ASSERT_EQ(whole, vpa_window(self->d.fd, 2, WC, 0, self->len));
	ASSERT_EQ(self->base + 1, vpa_num_regions(self->d.fd));
}

TEST_F(ivshmem, windows_dedup)
{
	int whole, a, b, c;

	/* A window of the whole BAR, asked for first, is the whole-BAR alias. */
	whole = vpa_window(self->d.fd, 2, WC, 0, self->len);
	ASSERT_EQ(self->base, whole);
	ASSERT_EQ(whole, vpa_alias(self->d.fd, 2, WC));
	ASSERT_EQ(self->base + 1, vpa_num_regions(self->d.fd));
	/* Other windows are other aliases; overlapping ones with the same attributes too. */
	a = vpa_window(self->d.fd, 2, WC, 0, SZ_2M);
	b = vpa_window(self->d.fd, 2, WC, SZ_2M, SZ_2M);
	c = vpa_window(self->d.fd, 2, WC, 0, 2 * SZ_2M);
	ASSERT_GT(a, whole);
	ASSERT_GT(b, whole);
	ASSERT_GT(c, whole);
	ASSERT_NE(a, b);
	ASSERT_NE(a, c);
	ASSERT_NE(b, c);
	ASSERT_EQ(self->base + 4, vpa_num_regions(self->d.fd));
	/* The same window again is the same alias, adds nothing. */
	ASSERT_EQ(a, vpa_window(self->d.fd, 2, WC, 0, SZ_2M));
	ASSERT_EQ(b, vpa_window(self->d.fd, 2, WC, SZ_2M, SZ_2M));
	ASSERT_EQ(c, vpa_window(self->d.fd, 2, WC, 0, 2 * SZ_2M));
	ASSERT_EQ(whole, vpa_alias(self->d.fd, 2, WC));
	ASSERT_EQ(self->base + 4, vpa_num_regions(self->d.fd));
	/*
	 * BAR 0 (256 bytes, if it can be mapped): its page is the whole BAR
	 * rounded up, so a window of that page is the whole-BAR alias.
	 */
	whole = vpa_alias(self->d.fd, 0, WC);
	if (whole == -EINVAL) {
		TH_LOG("ivshmem's BAR 0 cannot be mapped here: no window of it");
		return;
	}
	ASSERT_EQ(self->base + 4, whole);
	ASSERT_EQ(whole, vpa_window(self->d.fd, 0, WC, 0, SZ_4K));
	ASSERT_EQ(self->base + 5, vpa_num_regions(self->d.fd));
}

TEST_F(ivshmem, table_holds_64_aliases)
{
	int idx[VFIO_ALIAS_MAX_ALIASES], i, j;
	struct vfio_region_info_cap_alias *cap;
	char buf[512];
	struct vfio_region_info *info = (void *)buf;

	for (i = 0; i < VFIO_ALIAS_MAX_ALIASES; i++) {
		idx[i] = vpa_window(self->d.fd, 2, WC, i * SZ_4K, SZ_4K);
		ASSERT_LE(self->base, idx[i]) TH_LOG("window %d: %d", i, idx[i]);
		ASSERT_GT(self->base + VFIO_ALIAS_MAX_ALIASES, idx[i]) TH_LOG("window %d", i);
		for (j = 0; j < i; j++)
			ASSERT_NE(idx[j], idx[i]) TH_LOG("windows %d and %d", j, i);
	}
	ASSERT_EQ(self->base + VFIO_ALIAS_MAX_ALIASES, vpa_num_regions(self->d.fd));
	/* Full: one more window, or the whole-BAR alias, has no room. */
	ASSERT_EQ(-ENOSPC, vpa_window(self->d.fd, 2, WC, VFIO_ALIAS_MAX_ALIASES * SZ_4K, SZ_4K));
	ASSERT_EQ(-ENOSPC, vpa_alias(self->d.fd, 2, WC));
	/* What exists is still found. */
	ASSERT_EQ(idx[0], vpa_window(self->d.fd, 2, WC, 0, SZ_4K));
	i = VFIO_ALIAS_MAX_ALIASES - 1;
	ASSERT_EQ(idx[i], vpa_window(self->d.fd, 2, WC, i * SZ_4K, SZ_4K));
	ASSERT_EQ(self->base + VFIO_ALIAS_MAX_ALIASES, vpa_num_regions(self->d.fd));
	/* The last one describes its window, and there is none past it. */
	ASSERT_EQ(0, vpa_region_info(self->d.fd, idx[i], buf, sizeof(buf)));
	ASSERT_EQ(SZ_4K, info->size);
	cap = (void *)vpa_find_cap(buf, VFIO_REGION_INFO_CAP_ALIAS);
	ASSERT_NE(NULL, cap);
	ASSERT_EQ(i * SZ_4K, cap->offset);
	ASSERT_EQ(-EINVAL, vpa_region_info(self->d.fd, self->base + VFIO_ALIAS_MAX_ALIASES,
					   buf, sizeof(buf)));
	/* Empty again at the next open. */
	vpa_close(&self->d);
	self->open = 0;
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IVSHMEM), &self->d));
	self->open = 1;
	ASSERT_EQ(self->base, vpa_num_regions(self->d.fd));
	ASSERT_EQ(self->base, vpa_alias(self->d.fd, 2, WC));
}

TEST_F(ivshmem, window_region_info_and_capability)
{
	char buf[512];
	struct vfio_region_info *info = (void *)buf;
	struct vfio_region_info_cap_alias *cap;
	int w, whole;

	w = vpa_window(self->d.fd, 2, WC, WIN_OFF, WIN_SIZE);
	ASSERT_EQ(self->base, w);
	whole = vpa_alias(self->d.fd, 2, WC);
	ASSERT_EQ(self->base + 1, whole);

	vpa_assert_wc_alias(_metadata, self->d.fd, w, 2, WIN_OFF, WIN_SIZE);

	/* The whole-BAR alias: version 2 too, offset 0 and the BAR's size. */
	ASSERT_EQ(0, vpa_region_info(self->d.fd, whole, buf, sizeof(buf)));
	ASSERT_EQ(self->len, info->size);
	ASSERT_EQ((uint64_t)whole << 40, info->offset);
	cap = (void *)vpa_find_cap(buf, VFIO_REGION_INFO_CAP_ALIAS);
	ASSERT_NE(NULL, cap);
	ASSERT_EQ(2, cap->header.version);
	ASSERT_EQ(2, cap->aliased_index);
	ASSERT_EQ(0, cap->offset);
	ASSERT_EQ(self->len, cap->size);

	/* The BAR itself is unchanged. */
	ASSERT_EQ(0, vpa_region_info(self->d.fd, 2, buf, sizeof(buf)));
	ASSERT_EQ(self->len, info->size);
	ASSERT_EQ(0, info->flags & (VFIO_REGION_INFO_FLAG_ALIAS | VFIO_REGION_INFO_FLAG_WC));
	ASSERT_EQ(NULL, vpa_find_cap(buf, VFIO_REGION_INFO_CAP_ALIAS));
}

#define MARK(i)	(0x3a000000u | (i))

TEST_F(ivshmem, window_mmap_maps_its_own_pages)
{
	const uint64_t woff = SCRATCH_OFF + SZ_64K, wsize = 16 * SZ_4K;
	volatile uint32_t *p, *q;
	uint64_t aoff;
	uint32_t v;
	int i, w;

	w = vpa_window(self->d.fd, 2, WC, woff, wsize);
	ASSERT_GE(w, self->base);
	aoff = (uint64_t)w << 40;
	/* A mark in each page of the window and in the pages either side of it. */
	for (i = -1; i <= 16; i++) {
		v = MARK(i & 0xff);
		ASSERT_EQ(4, pwrite(self->d.fd, &v, 4, BAR2 + woff + i * (int64_t)SZ_4K));
	}
	p = map(self->d.fd, wsize, aoff);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < 16; i++)
		ASSERT_EQ(MARK(i), *AT(p, i * SZ_4K)) TH_LOG("page %d", i);
	/* Offset x of the alias is the window's page x, from anywhere in it. */
	q = map(self->d.fd, 3 * SZ_4K, aoff + 2 * SZ_4K);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_EQ(MARK(2), *AT(q, 0));
	ASSERT_EQ(MARK(4), *AT(q, 2 * SZ_4K));
	/* A store through the window reaches that page of the BAR. */
	*AT(q, SZ_4K + 8) = 0x5717c4ed;
	__builtin_ia32_sfence();
	ASSERT_EQ(4, pread(self->d.fd, &v, 4, BAR2 + woff + 3 * SZ_4K + 8));
	ASSERT_EQ(0x5717c4ed, v);
	ASSERT_EQ(0x5717c4ed, *AT(p, 3 * SZ_4K + 8));
	/* Nothing past the window: not the page after it, not a private mapping. */
	ASSERT_EQ(MAP_FAILED, map(self->d.fd, 2 * SZ_4K, aoff + wsize - SZ_4K));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(MAP_FAILED, map(self->d.fd, SZ_4K, aoff + wsize));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(MAP_FAILED, map(self->d.fd, wsize + SZ_4K, aoff));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(MAP_FAILED, mmap(NULL, SZ_4K, PROT_READ, MAP_PRIVATE, self->d.fd, aoff));
	ASSERT_EQ(0, munmap((void *)q, 3 * SZ_4K));
	ASSERT_EQ(0, munmap((void *)p, wsize));
	/* The pages either side are untouched. */
	ASSERT_EQ(4, pread(self->d.fd, &v, 4, BAR2 + woff - SZ_4K));
	ASSERT_EQ(MARK(0xff), v);
	ASSERT_EQ(4, pread(self->d.fd, &v, 4, BAR2 + woff + wsize));
	ASSERT_EQ(MARK(16), v);
}

TEST_F(ivshmem, window_read_write_translate_and_clip)
{
	const uint32_t seed = 0x3a1d0004;
	uint32_t *src = pattern(seed, RW_SIZE), *buf = malloc(RW_SIZE);
	const size_t last = RW_SIZE / 4 - 1;
	uint32_t v, after, two[2];
	uint64_t aoff;
	int w;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, buf);
	w = vpa_window(self->d.fd, 2, WC, RW_OFF, RW_SIZE);
	ASSERT_GE(w, self->base);
	aoff = (uint64_t)w << 40;
	ASSERT_EQ(4, pread(self->d.fd, &after, 4, BAR2 + RW_OFF + RW_SIZE));

	/* Offset x of the alias is offset RW_OFF + x of the BAR, both ways. */
	ASSERT_EQ(RW_SIZE, pwrite(self->d.fd, src, RW_SIZE, aoff));
	ASSERT_EQ(RW_SIZE, pread(self->d.fd, buf, RW_SIZE, BAR2 + RW_OFF));
	ASSERT_EQ(RW_SIZE / 4, first_diff(buf, src, RW_SIZE / 4));
	ASSERT_EQ(4, pread(self->d.fd, &v, 4, aoff + SZ_4K + 8));
	ASSERT_EQ(src[1026], v);

	/* Clipped at the window's end, both ways. */
	two[0] = two[1] = 0;
	ASSERT_EQ(4, pread(self->d.fd, two, 8, aoff + RW_SIZE - 4));
	ASSERT_EQ(src[last], two[0]);
	two[0] = src[last];
	two[1] = ~after;
	ASSERT_EQ(4, pwrite(self->d.fd, two, 8, aoff + RW_SIZE - 4));
	ASSERT_EQ(4, pread(self->d.fd, &v, 4, BAR2 + RW_OFF + RW_SIZE));
	ASSERT_EQ(after, v);

	/* At and past the window's end. */
	ASSERT_EQ(-1, pread(self->d.fd, &v, 4, aoff + RW_SIZE));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, pread(self->d.fd, &v, 4, aoff + SZ_1M));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, pwrite(self->d.fd, &v, 4, aoff + RW_SIZE));
	ASSERT_EQ(EINVAL, errno);
	free(src);
	free(buf);
	printf("VPA-HOSTCHECK: ivshmem %lu %lu %u\n", RW_OFF, RW_SIZE, seed);
}

/*
 * The window's entries are WC (PMD entries: window and address are 2 MiB
 * aligned) while the BAR's own region maps the rest UC- at the same time;
 * the BAR's mapping gets SIGBUS on the window's pages, whose entries it had
 * were zapped when the window was mapped, and maps them UC- again after.
 * The PAT list follows, and is back to what it was after close.
 */
TEST_F_TIMEOUT(ivshmem, window_wc_rest_uc_and_pat_split, 120)
{
	const size_t uc_len = WIN_SIZE + 2 * SZ_2M;
	struct pat_range want[3];
	volatile uint32_t *uc, *win, *late;
	char level[8] = "";
	uint32_t v;
	int w, n;

	NEED_DEBUGFS();
	w = vpa_window(self->d.fd, 2, WC, WIN_OFF, WIN_SIZE);
	ASSERT_GE(w, self->base);
	/* Not mapped yet: core's mapping of the BAR only. */
	n = pat_whole(self, want);
	check_pat(_metadata, self, want, n, "open");

	/* The BAR around the window and the window, mapped uncached first. */
	uc = vpa_map_aligned(self->d.fd, uc_len, BAR2 + WIN_OFF - SZ_2M);
	ASSERT_NE(MAP_FAILED, uc);
	ASSERT_EQ(0, vpa_read_sigbus(AT(uc, SZ_2M), &v));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)AT(uc, SZ_2M), NULL));
	ASSERT_EQ(0, vpa_read_sigbus(AT(uc, SZ_2M + WIN_SIZE - SZ_4K), &v));

	win = vpa_map_aligned(self->d.fd, WIN_SIZE, (uint64_t)w << 40);
	ASSERT_NE(MAP_FAILED, win);
	/* Mapping the window zapped what the BAR's mapping had of it. */
	ASSERT_EQ(-1, pte_cache_bits((void *)AT(uc, SZ_2M), NULL));
	ASSERT_EQ(-1, pte_cache_bits((void *)AT(uc, SZ_2M + WIN_SIZE - SZ_4K), NULL));
	ASSERT_EQ(0, vpa_read_sigbus(win, &v));
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)win, level));
	TH_LOG("window mapping: PTE PWT (%s)", level);
	ASSERT_STREQ("pmd", level);
	ASSERT_EQ(0, vpa_read_sigbus(AT(win, WIN_SIZE - SZ_4K), &v));
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)AT(win, WIN_SIZE - SZ_4K), NULL));
	n = pat_split(self, WIN_OFF, WIN_SIZE, want);
	check_pat(_metadata, self, want, n, "window mapped");

	/* Through the BAR's region: SIGBUS in the window, UC- around it. */
	ASSERT_EQ(1, vpa_read_sigbus(AT(uc, SZ_2M), &v));
	ASSERT_EQ(1, vpa_read_sigbus(AT(uc, SZ_2M + SZ_1M), &v));
	ASSERT_EQ(1, vpa_read_sigbus(AT(uc, SZ_2M + WIN_SIZE - SZ_4K), &v));
	ASSERT_EQ(0, vpa_read_sigbus(uc, &v));
	ASSERT_EQ(0, vpa_read_sigbus(AT(uc, SZ_2M - SZ_4K), &v));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)AT(uc, SZ_2M - SZ_4K), level));
	TH_LOG("BAR mapping below the window: PTE PCD (%s)", level);
	ASSERT_EQ(0, vpa_read_sigbus(AT(uc, SZ_2M + WIN_SIZE), &v));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)AT(uc, SZ_2M + WIN_SIZE), level));
	TH_LOG("BAR mapping above the window: PTE PCD (%s)", level);
	/* A mapping of the BAR made now: the same. */
	late = map(self->d.fd, 2 * SZ_4K, BAR2 + WIN_OFF - SZ_4K);
	ASSERT_NE(MAP_FAILED, late);
	ASSERT_EQ(0, vpa_read_sigbus(late, &v));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)late, NULL));
	ASSERT_EQ(1, vpa_read_sigbus(AT(late, SZ_4K), &v));

	/* The window's last mapping gone, its pages are the BAR's again. */
	ASSERT_EQ(0, munmap((void *)win, WIN_SIZE));
	n = pat_whole(self, want);
	check_pat(_metadata, self, want, n, "window unmapped");
	ASSERT_EQ(0, vpa_read_sigbus(AT(late, SZ_4K), &v));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)AT(late, SZ_4K), NULL));
	ASSERT_EQ(0, vpa_read_sigbus(AT(uc, SZ_2M), &v));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)AT(uc, SZ_2M), level));
	TH_LOG("BAR mapping of the window's pages after: PTE PCD (%s)", level);
	ASSERT_EQ(0, munmap((void *)late, 2 * SZ_4K));
	ASSERT_EQ(0, munmap((void *)uc, uc_len));

	/* Closed: the PAT list is what it was before open. */
	vpa_close(&self->d);
	self->open = 0;
	check_pat(_metadata, self, want, 0, "closed");
}

/*
 * Patterns stored through the window, through an uncached mapping just below
 * it and by write() just above it, at the same time: every way of reading
 * gives the same data, before and after the window is unmapped, and the
 * host finds them in ivshmem's backing file.
 */
TEST_F_TIMEOUT(ivshmem, patterns_agree_every_way, 120)
{
	const uint32_t seed_win = 0x3a1d0001, seed_uc = 0x3a1d0002, seed_wr = 0x3a1d0003;
	const size_t uc_len = SZ_1M, wr_len = SZ_1M / 2;
	const uint64_t uc_off = WIN_OFF - uc_len, wr_off = WIN_OFF + WIN_SIZE;
	uint32_t *src_win = pattern(seed_win, WIN_SIZE), *src_uc = pattern(seed_uc, uc_len);
	uint32_t *src_wr = pattern(seed_wr, wr_len), *buf = malloc(WIN_SIZE);
	volatile uint32_t *win, *uc, *wr, *bar;
	uint64_t aoff;
	uint32_t v;
	size_t i;
	int w;

	ASSERT_NE(NULL, src_win);
	ASSERT_NE(NULL, src_uc);
	ASSERT_NE(NULL, src_wr);
	ASSERT_NE(NULL, buf);
	w = vpa_window(self->d.fd, 2, WC, WIN_OFF, WIN_SIZE);
	ASSERT_GE(w, self->base);
	aoff = (uint64_t)w << 40;

	win = vpa_map_aligned(self->d.fd, WIN_SIZE, aoff);
	ASSERT_NE(MAP_FAILED, win);
	memcpy((void *)win, src_win, WIN_SIZE);
	__builtin_ia32_sfence();
	if (!access(PTDUMP, R_OK))
		ASSERT_EQ(PTE_WC, pte_cache_bits((void *)win, NULL));
	ASSERT_EQ(WIN_SIZE / 4, first_diff(win, src_win, WIN_SIZE / 4));
	/* read() of the BAR and of the window while the window is mapped. */
	ASSERT_EQ(WIN_SIZE, pread(self->d.fd, buf, WIN_SIZE, BAR2 + WIN_OFF));
	i = first_diff(buf, src_win, WIN_SIZE / 4);
	ASSERT_EQ(WIN_SIZE / 4, i) TH_LOG("BAR read(), word %zu", i);
	memset(buf, 0, WIN_SIZE);
	ASSERT_EQ(WIN_SIZE, pread(self->d.fd, buf, WIN_SIZE, aoff));
	i = first_diff(buf, src_win, WIN_SIZE / 4);
	ASSERT_EQ(WIN_SIZE / 4, i) TH_LOG("window read(), word %zu", i);

	/* The BAR just below the window, mapped uncached at the same time. */
	uc = map(self->d.fd, uc_len, BAR2 + uc_off);
	ASSERT_NE(MAP_FAILED, uc);
	for (i = 0; i < uc_len / 4; i++)
		uc[i] = src_uc[i];
	if (!access(PTDUMP, R_OK))
		ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)uc, NULL));
	ASSERT_EQ(uc_len, pread(self->d.fd, buf, uc_len, BAR2 + uc_off));
	i = first_diff(buf, src_uc, uc_len / 4);
	ASSERT_EQ(uc_len / 4, i) TH_LOG("read() below the window, word %zu", i);

	/* write() just above the window, read through an uncached mapping. */
	ASSERT_EQ(wr_len, pwrite(self->d.fd, src_wr, wr_len, BAR2 + wr_off));
	wr = map(self->d.fd, wr_len, BAR2 + wr_off);
	ASSERT_NE(MAP_FAILED, wr);
	i = first_diff(wr, src_wr, wr_len / 4);
	ASSERT_EQ(wr_len / 4, i) TH_LOG("mapping above the window, word %zu", i);

	/* write() into the window through the BAR's region shows in the window. */
	v = ~src_win[4096];
	ASSERT_EQ(4, pwrite(self->d.fd, &v, 4, BAR2 + WIN_OFF + 4096 * 4));
	ASSERT_EQ(v, win[4096]);
	ASSERT_EQ(4, pwrite(self->d.fd, &src_win[4096], 4, BAR2 + WIN_OFF + 4096 * 4));
	ASSERT_EQ(src_win[4096], win[4096]);

	/* The window gone, its pages map uncached and read the same. */
	ASSERT_EQ(0, munmap((void *)win, WIN_SIZE));
	bar = map(self->d.fd, WIN_SIZE, BAR2 + WIN_OFF);
	ASSERT_NE(MAP_FAILED, bar);
	i = first_diff(bar, src_win, WIN_SIZE / 4);
	ASSERT_EQ(WIN_SIZE / 4, i) TH_LOG("BAR mapping of the window, word %zu", i);
	if (!access(PTDUMP, R_OK))
		ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)bar, NULL));
	memset(buf, 0, WIN_SIZE);
	ASSERT_EQ(WIN_SIZE, pread(self->d.fd, buf, WIN_SIZE, BAR2 + WIN_OFF));
	ASSERT_EQ(WIN_SIZE / 4, first_diff(buf, src_win, WIN_SIZE / 4));
	ASSERT_EQ(0, munmap((void *)bar, WIN_SIZE));
	ASSERT_EQ(0, munmap((void *)uc, uc_len));
	ASSERT_EQ(0, munmap((void *)wr, wr_len));
	free(src_win);
	free(src_uc);
	free(src_wr);
	free(buf);
	printf("VPA-HOSTCHECK: ivshmem %lu %lu %u\n", WIN_OFF, WIN_SIZE, seed_win);
	printf("VPA-HOSTCHECK: ivshmem %lu %zu %u\n", uc_off, uc_len, seed_uc);
	printf("VPA-HOSTCHECK: ivshmem %lu %zu %u\n", wr_off, wr_len, seed_wr);
}

/*
 * The window stays mapped while any mapping of it is left: the two halves of
 * a split VMA, a fork()ed child's copy after the parent's are gone.
 */
TEST_F_TIMEOUT(ivshmem, splits_and_forks_keep_window_mapped, 120)
{
	struct pat_range want[3];
	volatile uint32_t *win, *bar;
	int w, n, pfd[2], status;
	uint32_t v;
	pid_t pid;
	char c;

	NEED_DEBUGFS();
	w = vpa_window(self->d.fd, 2, WC, FORK_OFF, SZ_2M);
	ASSERT_GE(w, self->base);
	win = map(self->d.fd, SZ_2M, (uint64_t)w << 40);
	ASSERT_NE(MAP_FAILED, win);
	ASSERT_EQ(0, vpa_read_sigbus(win, &v));
	bar = map(self->d.fd, SZ_4K, BAR2 + FORK_OFF);
	ASSERT_NE(MAP_FAILED, bar);
	ASSERT_EQ(1, vpa_read_sigbus(bar, &v));

	/* A hole in the middle: two VMAs, still mapped. */
	ASSERT_EQ(0, munmap((void *)AT(win, SZ_1M), SZ_4K));
	n = pat_split(self, FORK_OFF, SZ_2M, want);
	check_pat(_metadata, self, want, n, "split");
	ASSERT_EQ(0, vpa_read_sigbus(AT(win, SZ_1M + SZ_4K), &v));
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)AT(win, SZ_1M + SZ_4K), NULL));

	ASSERT_EQ(0, pipe(pfd));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* The child: once the parent is done, its copy still works, WC. */
		close(pfd[1]);
		if (read(pfd[0], &c, 1) < 0)
			_exit(2);
		if (vpa_read_sigbus(win, &v) || vpa_read_sigbus(AT(win, SZ_2M - SZ_4K), &v))
			_exit(3);
		_exit(pte_cache_bits((void *)win, NULL) == PTE_WC ? 0 : 4);
	}
	close(pfd[0]);
	ASSERT_EQ(0, munmap((void *)win, SZ_1M));
	ASSERT_EQ(0, munmap((void *)AT(win, SZ_1M + SZ_4K), SZ_1M - SZ_4K));
	/* The parent has no mapping of the window left, the child has. */
	check_pat(_metadata, self, want, n, "child's copy");
	ASSERT_EQ(1, vpa_read_sigbus(bar, &v));
	close(pfd[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("child failed at step %d", WEXITSTATUS(status));

	/* The child gone with the last mapping: the BAR's again. */
	n = pat_whole(self, want);
	check_pat(_metadata, self, want, n, "child gone");
	ASSERT_EQ(0, vpa_read_sigbus(bar, &v));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)bar, NULL));
	ASSERT_EQ(0, munmap((void *)bar, SZ_4K));
}

/*
 * An ioeventfd keeps core's kernel mapping of the BAR, which mapping a
 * window replaces: neither while the other exists. A window mapped, the
 * whole-BAR WC alias cannot be; the BAR's own region can.
 */
TEST_F(ivshmem, window_excludes_ioeventfd_and_whole_alias)
{
	int whole, w, efd = eventfd(0, EFD_CLOEXEC);
	volatile uint32_t *win, *p;
	uint64_t waoff, aoff;

	ASSERT_LE(0, efd);
	whole = vpa_alias(self->d.fd, 2, WC);
	ASSERT_GE(whole, self->base);
	aoff = (uint64_t)whole << 40;
	w = vpa_window(self->d.fd, 2, WC, WIN_OFF, WIN_SIZE);
	ASSERT_GE(w, self->base);
	waoff = (uint64_t)w << 40;

	/* Nothing mapped: an ioeventfd comes and goes. */
	ASSERT_EQ(0, vpa_ioeventfd(self->d.fd, BAR2 + SCRATCH_OFF, 1, efd));
	ASSERT_EQ(MAP_FAILED, map(self->d.fd, SZ_4K, waoff));
	ASSERT_EQ(EBUSY, errno);
	ASSERT_EQ(0, vpa_ioeventfd(self->d.fd, BAR2 + SCRATCH_OFF, 1, -1));

	win = map(self->d.fd, WIN_SIZE, waoff);
	ASSERT_NE(MAP_FAILED, win);
	(void)win[0];
	/* Outside the window and in it. */
	ASSERT_EQ(-EBUSY, vpa_ioeventfd(self->d.fd, BAR2 + SCRATCH_OFF, 1, efd));
	ASSERT_EQ(-EBUSY, vpa_ioeventfd(self->d.fd, BAR2 + WIN_OFF, 1, efd));
	ASSERT_EQ(MAP_FAILED, map(self->d.fd, SZ_4K, aoff));
	ASSERT_EQ(EBUSY, errno);
	ASSERT_EQ(MAP_FAILED, map(self->d.fd, SZ_4K, aoff + WIN_OFF));
	ASSERT_EQ(EBUSY, errno);
	/* The rest of the BAR maps (uncached) beside the window. */
	p = map(self->d.fd, SZ_4K, BAR2 + SCRATCH_OFF);
	ASSERT_NE(MAP_FAILED, p);
	(void)p[0];
	ASSERT_EQ(0, munmap((void *)p, SZ_4K));
	ASSERT_EQ(0, munmap((void *)win, WIN_SIZE));

	/* The window gone, both work again. */
	ASSERT_EQ(0, vpa_ioeventfd(self->d.fd, BAR2 + SCRATCH_OFF, 1, efd));
	ASSERT_EQ(0, vpa_ioeventfd(self->d.fd, BAR2 + SCRATCH_OFF, 1, -1));
	p = map(self->d.fd, SZ_4K, aoff);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap((void *)p, SZ_4K));
	close(efd);
}

/*
 * A window of a BAR that is write-combining as a whole (its whole-BAR alias
 * is mapped) is part of it: it maps, and keeps the BAR write-combining as a
 * whole (the BAR's own region refused) until it is gone too.
 */
TEST_F_TIMEOUT(ivshmem, window_of_wc_bar_is_part_of_it, 120)
{
	struct pat_range want[1] = { { self->phys, self->phys + self->len, "write-combining" } };
	volatile uint32_t *all, *win, *p;
	int whole, w, n;
	uint32_t v;

	NEED_DEBUGFS();
	whole = vpa_alias(self->d.fd, 2, WC);
	ASSERT_GE(whole, self->base);
	w = vpa_window(self->d.fd, 2, WC, WIN_OFF, WIN_SIZE);
	ASSERT_GE(w, self->base);
	all = map(self->d.fd, SZ_4K, (uint64_t)whole << 40);
	ASSERT_NE(MAP_FAILED, all);
	(void)all[0];
	win = map(self->d.fd, WIN_SIZE, (uint64_t)w << 40);
	ASSERT_NE(MAP_FAILED, win);
	ASSERT_EQ(0, vpa_read_sigbus(win, &v));
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)win, NULL));
	check_pat(_metadata, self, want, 1, "whole alias and window");

	/* The whole-BAR alias gone, the window keeps the BAR WC as a whole. */
	ASSERT_EQ(0, munmap((void *)all, SZ_4K));
	check_pat(_metadata, self, want, 1, "window");
	ASSERT_EQ(MAP_FAILED, map(self->d.fd, SZ_4K, BAR2));
	ASSERT_EQ(EBUSY, errno);
	ASSERT_EQ(0, vpa_read_sigbus(AT(win, SZ_4K), &v));
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)AT(win, SZ_4K), NULL));

	/* Both gone: uncached as a whole. */
	ASSERT_EQ(0, munmap((void *)win, WIN_SIZE));
	n = pat_whole(self, want);
	check_pat(_metadata, self, want, n, "unmapped");
	p = map(self->d.fd, SZ_4K, BAR2 + WIN_OFF);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, vpa_read_sigbus(p, &v));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)p, NULL));
	ASSERT_EQ(0, munmap((void *)p, SZ_4K));
}

/*
 * Memory decode off zaps the window's mapping and the BAR's: SIGBUS, and
 * read()/write() fail with EIO in the window and out of it. Back on, both
 * fault in again with their own types and the data is still there.
 */
TEST_F_TIMEOUT(ivshmem, memory_off_zaps_window_and_bar, 120)
{
	const uint64_t woff = ZAP_OFF + SZ_2M;
	const uint32_t m_win = 0x3a1dbeef, m_uc = 0x3a1dcafe;
	volatile uint32_t *uc, *win;
	char lw[8] = "", lu[8] = "";
	uint64_t aoff;
	uint32_t v;
	int w;

	NEED_DEBUGFS();
	w = vpa_window(self->d.fd, 2, WC, woff, SZ_2M);
	ASSERT_GE(w, self->base);
	aoff = (uint64_t)w << 40;
	uc = vpa_map_aligned(self->d.fd, SZ_2M, BAR2 + ZAP_OFF);
	ASSERT_NE(MAP_FAILED, uc);
	win = vpa_map_aligned(self->d.fd, SZ_2M, aoff);
	ASSERT_NE(MAP_FAILED, win);
	win[0] = m_win;
	__builtin_ia32_sfence();
	uc[0] = m_uc;
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)win, lw));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)uc, lu));
	TH_LOG("before: window PTE PWT (%s), BAR PTE PCD (%s)", lw, lu);

	ASSERT_EQ(0, vpa_set_memory(self->d.fd, 0));
	/* EXPECT from here: memory must be turned on again whatever happens. */
	EXPECT_EQ(-1, pte_cache_bits((void *)win, NULL));
	EXPECT_EQ(-1, pte_cache_bits((void *)uc, NULL));
	EXPECT_EQ(1, vpa_read_sigbus(win, &v));
	EXPECT_EQ(1, vpa_read_sigbus(uc, &v));
	EXPECT_EQ(-1, pread(self->d.fd, &v, 4, BAR2 + woff));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, pread(self->d.fd, &v, 4, BAR2 + ZAP_OFF));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, pread(self->d.fd, &v, 4, aoff));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, pwrite(self->d.fd, &v, 4, BAR2 + woff + 4));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, pwrite(self->d.fd, &v, 4, BAR2 + ZAP_OFF + 4));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, pwrite(self->d.fd, &v, 4, aoff + 4));
	EXPECT_EQ(EIO, errno);
	ASSERT_EQ(0, vpa_set_memory(self->d.fd, 1));

	ASSERT_EQ(0, vpa_read_sigbus(win, &v));
	ASSERT_EQ(m_win, v);
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)win, lw));
	ASSERT_EQ(0, vpa_read_sigbus(uc, &v));
	ASSERT_EQ(m_uc, v);
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)uc, lu));
	TH_LOG("after: window PTE PWT (%s), BAR PTE PCD (%s)", lw, lu);
	ASSERT_EQ(4, pread(self->d.fd, &v, 4, BAR2 + woff));
	ASSERT_EQ(m_win, v);
	ASSERT_EQ(4, pread(self->d.fd, &v, 4, BAR2 + ZAP_OFF));
	ASSERT_EQ(m_uc, v);
	ASSERT_EQ(0, munmap((void *)win, SZ_2M));
	ASSERT_EQ(0, munmap((void *)uc, SZ_2M));
}

/*
 * Touching 8 MiB through a window whose offset and mapping address are 2 MiB
 * aligned takes PMD entries (faults as through the BAR, not one a page);
 * mapped from its second page, the window's pfns and addresses disagree
 * and it takes a fault per page, still WC.
 */
TEST_F_TIMEOUT(ivshmem, huge_faults_through_window, 120)
{
	const uint64_t woff = ZAP_OFF, wsize = 8 * SZ_1M;
	const long pages = wsize / SZ_4K;
	char lb[8] = "", lw[8] = "", lu[8] = "";
	int bb, bw, bu, w;
	long bar, win, unaligned;

	if (access(PTDUMP, R_OK))
		SKIP(return, "no " PTDUMP);
	w = vpa_window(self->d.fd, 2, WC, woff, wsize);
	ASSERT_GE(w, self->base);
	bar = touch_all(self->d.fd, BAR2 + woff, wsize, &bb, lb);
	win = touch_all(self->d.fd, (uint64_t)w << 40, wsize, &bw, lw);
	unaligned = touch_all(self->d.fd, ((uint64_t)w << 40) + SZ_4K, wsize - SZ_4K, &bu, lu);
	TH_LOG("faults touching %lu MiB: BAR %ld (%s), WC window %ld (%s), unaligned %ld (%s)",
	       wsize >> 20, bar, lb, win, lw, unaligned, lu);
	printf("# faults touching %lu MiB: BAR %ld, WC window %ld, window from its second page %ld\n",
	       wsize >> 20, bar, win, unaligned);
	ASSERT_GT(bar, 0);
	ASSERT_GT(win, 0);
	ASSERT_EQ(PTE_UCM, bb);
	ASSERT_EQ(PTE_WC, bw);
	ASSERT_STREQ("pmd", lw);
	/* Not one fault per page: huge entries were used. */
	ASSERT_LT(win, pages / 8);
	ASSERT_EQ(PTE_WC, bu);
	ASSERT_STREQ("pte", lu);
	ASSERT_GT(unaligned, win);
}

/*
 * VFIO_DEVICE_RESET zaps the window's mapping and the BAR's; both fault
 * back in with their own types. ivshmem if it can be reset here, else a
 * one-page window of igb's BAR 0 (its PBA register) beside the page of
 * STATUS; either may be left out.
 */
/* No state of its own: for the timeout (a reset is slow under KASAN). */
FIXTURE(reset) {};
FIXTURE_SETUP(reset) {}
FIXTURE_TEARDOWN(reset) {}

TEST_F_TIMEOUT(reset, zaps_window_and_bar, 180)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct {
		const char *bdf;
		uint32_t bar;
		uint64_t uc_off, win_off, win_size, uc_word;
	} devs[] = {
		{ vpa_bdf(VPA_IVSHMEM), 2, ZAP_OFF, ZAP_OFF + SZ_2M, SZ_2M, 0 },
		{ vpa_bdf(VPA_IGB), 0, 0, SZ_4K, SZ_4K, 8 },
	}, *t = NULL;
	volatile uint32_t *uc, *win;
	struct vpa_dev d;
	unsigned int i;
	uint32_t v;
	int w;

	if (access(PTDUMP, R_OK))
		SKIP(return, "no " PTDUMP);
	for (i = 0; i < sizeof(devs) / sizeof(devs[0]) && !t; i++) {
		if (!*devs[i].bdf)
			continue;
		ASSERT_EQ(0, vpa_open(devs[i].bdf, &d));
		ASSERT_EQ(0, ioctl(d.fd, VFIO_DEVICE_GET_INFO, &info));
		if (info.flags & VFIO_DEVICE_FLAGS_RESET)
			t = &devs[i];
		else
			vpa_close(&d);
	}
	if (!t)
		SKIP(return, "no ivshmem or igb device that can be reset here");
	TH_LOG("resetting %s", t->bdf);

	w = vpa_window(d.fd, t->bar, WC, t->win_off, t->win_size);
	ASSERT_EQ(VFIO_PCI_NUM_REGIONS, w);
	uc = map(d.fd, SZ_4K, ((uint64_t)t->bar << 40) + t->uc_off);
	ASSERT_NE(MAP_FAILED, uc);
	win = map(d.fd, t->win_size, (uint64_t)w << 40);
	ASSERT_NE(MAP_FAILED, win);
	ASSERT_EQ(0, vpa_read_sigbus(win, &v));
	ASSERT_EQ(0, vpa_read_sigbus(AT(uc, t->uc_word), &v));
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)win, NULL));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)uc, NULL));

	ASSERT_EQ(0, ioctl(d.fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(-1, pte_cache_bits((void *)win, NULL));
	ASSERT_EQ(-1, pte_cache_bits((void *)uc, NULL));
	ASSERT_EQ(0, vpa_read_sigbus(win, &v));
	ASSERT_EQ(0, vpa_read_sigbus(AT(uc, t->uc_word), &v));
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)win, NULL));
	ASSERT_EQ(PTE_UCM, pte_cache_bits((void *)uc, NULL));
	ASSERT_EQ(0, munmap((void *)win, t->win_size));
	ASSERT_EQ(0, munmap((void *)uc, SZ_4K));
	vpa_close(&d);
}

TEST(msix_bar_has_no_wc_window)
{
	struct vpa_dev d;

	VPA_NEED(VPA_IGB);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IGB), &d));
	/*
	 * igb: MSI-X table in BAR3, which the PCI core maps uncached. No
	 * attribute, so no windows either.
	 */
	ASSERT_EQ(0, vpa_probe(d.fd, 3));
	ASSERT_EQ(-EOPNOTSUPP, vpa_window(d.fd, 3, WC, 0, SZ_4K));
	/* BAR0 of the same device can have windows. */
	ASSERT_EQ(WC | VFIO_ALIAS_REGION_WINDOW, vpa_probe(d.fd, 0));
	ASSERT_EQ(VFIO_PCI_NUM_REGIONS, vpa_window(d.fd, 0, WC, SZ_4K, SZ_4K));
	ASSERT_EQ(VFIO_PCI_NUM_REGIONS + 1, vpa_num_regions(d.fd));
	vpa_close(&d);
}

VPA_HARNESS_MAIN
