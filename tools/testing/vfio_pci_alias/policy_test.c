// SPDX-License-Identifier: GPL-2.0
/*
 * Write-combining by policy (the wc_bars attribute), on devices bound to
 * vfio-pci-alias (or the drop-in vfio-pci, with VPA_DEBUGFS=vfio_pci):
 *
 * - wc_bars reads "none" by default; every bad write (unknown or absent
 *   BAR, garbage, the MSI-X BAR, an I/O BAR, while the device is open)
 *   fails with its errno and changes nothing;
 * - a policy BAR is write-combining from open to close for programs that
 *   know nothing of ALIAS_REGION: region info says WC, mmap() of the BAR's
 *   own region has WC page-table entries and a WC PAT memtype, an alias is
 *   WC too, ioeventfds are refused, pread/pwrite agree with the mapping and
 *   the host reads the pattern back; the debugfs view shows it;
 * - without the policy the same mapping is uncached again;
 * - a non-prefetchable BAR may be set (edu's registers work through a WC
 *   mapping), and the driver says so once in the kernel log.
 */
#include <sys/mman.h>
#include <sys/eventfd.h>

#include "kselftest_harness.h"
#include "vpa_lib.h"
#include "vpa_pgtable.h"

/*
 * Reading the page tables back (vpa_pgtable.h) walks the kernel's ptdump,
 * which under KASAN on a loaded host takes longer than the harness's 30 s.
 * The bound only catches a hang.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 120

#define SZ_1M (1UL << 20)
/* Where the pattern goes in BAR 2: away from wc_test's (the host checks all at the end). */
#define PAT_OFF (8 * SZ_1M)

/* wc_bars of @bdf into @buf, "" if unreadable. */
static const char *wc_bars(const char *bdf, char *buf, size_t len)
{
	return vpa_dev_attr(bdf, "wc_bars", buf, len);
}

/* The BAR holding @bdf's MSI-X table, from its config space; -1 if none. */
static int msix_bar(const char *bdf)
{
	unsigned char cfg[256];
	int pos = vpa_pci_cap(bdf, PCI_CAP_ID_MSIX, 8, cfg);

	return pos ? cfg[pos + PCI_MSIX_TABLE] & PCI_MSIX_TABLE_BIR : -1;
}

/* The first I/O port BAR of @bdf, from sysfs; -1 if none. */
static int io_bar(const char *bdf)
{
	unsigned long long start, end, flags;
	char path[PATH_MAX];
	int bar, ret = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	f = fopen(path, "r");
	if (!f)
		return -1;
	for (bar = 0; bar < 6 && fscanf(f, "%llx %llx %llx", &start, &end, &flags) == 3; bar++)
		if (end > start && (flags & 0x100)) {	/* IORESOURCE_IO */
			ret = bar;
			break;
		}
	fclose(f);
	return ret;
}

/* The debugfs view's line for @bar of @bdf into @line, or "". */
static const char *view_line(const char *bdf, int bar, char *line, size_t len)
{
	const char *mod = getenv("VPA_DEBUGFS") ? getenv("VPA_DEBUGFS") : "vfio_pci_alias";
	char path[PATH_MAX], want[8];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/debug/%s/%s/bars", mod, bdf);
	snprintf(want, sizeof(want), "%d ", bar);
	line[0] = 0;
	f = fopen(path, "r");
	if (!f)
		return line;
	while (fgets(line, len, f))
		if (!strncmp(line, want, strlen(want)))
			break;
	if (strncmp(line, want, strlen(want)))
		line[0] = 0;
	fclose(f);
	return line;
}

static uint32_t region_flags(int fd, uint32_t index)
{
	char buf[512];

	if (vpa_region_info(fd, index, buf, sizeof(buf)))
		return 0;
	return ((struct vfio_region_info *)buf)->flags;
}

static void *map(int fd, size_t len, uint64_t off)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}

/* Number of kernel log lines containing @what. */
static int klog_count(const char *what)
{
	char cmd[256], out[32] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "dmesg | grep -c '%s'", what);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (!fgets(out, sizeof(out), p))
		out[0] = 0;
	pclose(p);
	return atoi(out);
}

TEST(wc_bars_is_none_by_default)
{
	const char *edu = vpa_bdf(VPA_EDU), *igb = vpa_bdf(VPA_IGB);
	const char *ivshmem = vpa_bdf(VPA_IVSHMEM);
	char buf[64];

	VPA_NEED(VPA_EDU, VPA_IGB, VPA_IVSHMEM);
	EXPECT_STREQ("none\n", wc_bars(edu, buf, sizeof(buf)));
	EXPECT_STREQ("none\n", wc_bars(igb, buf, sizeof(buf)));
	EXPECT_STREQ("none\n", wc_bars(ivshmem, buf, sizeof(buf)));
}

TEST(bad_writes_change_nothing)
{
	const char *edu = vpa_bdf(VPA_EDU), *igb = vpa_bdf(VPA_IGB);
	const char *ivshmem = vpa_bdf(VPA_IVSHMEM);
	const char *bad[] = { "6", "9", "x", "2x", "-1", "0x2", "2,7", "+2", "2;4", "prefetchable,2" };
	char buf[64];
	struct vpa_dev d;
	unsigned int i;
	int bar;

	VPA_NEED(VPA_EDU, VPA_IGB, VPA_IVSHMEM);
	ASSERT_EQ(0, vpa_set_wc_bars(ivshmem, "2\n"));
	ASSERT_STREQ("2\n", wc_bars(ivshmem, buf, sizeof(buf)));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, vpa_set_wc_bars(ivshmem, bad[i])) TH_LOG("'%s'", bad[i]);
		ASSERT_STREQ("2\n", wc_bars(ivshmem, buf, sizeof(buf)));
	}
	/* An absent BAR (edu has BAR 0 only). */
	EXPECT_EQ(-EINVAL, vpa_set_wc_bars(edu, "1"));
	EXPECT_STREQ("none\n", wc_bars(edu, buf, sizeof(buf)));
	/* igb: the MSI-X table's BAR and the I/O BAR. */
	bar = msix_bar(igb);
	ASSERT_GE(bar, 0);
	snprintf(buf, sizeof(buf), "0,%d", bar);
	EXPECT_EQ(-EINVAL, vpa_set_wc_bars(igb, buf)) TH_LOG("MSI-X BAR %d", bar);
	bar = io_bar(igb);
	ASSERT_GE(bar, 0);
	snprintf(buf, sizeof(buf), "%d", bar);
	EXPECT_EQ(-EINVAL, vpa_set_wc_bars(igb, buf)) TH_LOG("I/O BAR %d", bar);
	EXPECT_STREQ("none\n", wc_bars(igb, buf, sizeof(buf)));
	/* Not while the device is open. */
	ASSERT_EQ(0, vpa_open(ivshmem, &d));
	EXPECT_EQ(-EBUSY, vpa_set_wc_bars(ivshmem, "none"));
	EXPECT_EQ(-EBUSY, vpa_set_wc_bars(ivshmem, "2"));
	vpa_close(&d);
	EXPECT_STREQ("2\n", wc_bars(ivshmem, buf, sizeof(buf)));
	/* The keywords and the empty write. */
	ASSERT_EQ(0, vpa_set_wc_bars(ivshmem, "none"));
	EXPECT_STREQ("none\n", wc_bars(ivshmem, buf, sizeof(buf)));
	ASSERT_EQ(0, vpa_set_wc_bars(ivshmem, "prefetchable\n"));
	EXPECT_STREQ("2\n", wc_bars(ivshmem, buf, sizeof(buf)));
	ASSERT_EQ(0, vpa_set_wc_bars(ivshmem, "\n"));
	EXPECT_STREQ("none\n", wc_bars(ivshmem, buf, sizeof(buf)));
	/* igb has no prefetchable BAR: nothing, and no error. */
	ASSERT_EQ(0, vpa_set_wc_bars(igb, "prefetchable"));
	EXPECT_STREQ("none\n", wc_bars(igb, buf, sizeof(buf)));
}

TEST(policy_bar_is_wc_in_every_mapping)
{
	const char *ivshmem = vpa_bdf(VPA_IVSHMEM);
	const uint64_t bar2 = (uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40;
	const uint32_t seed = 0x9011c7;
	struct vfio_device_ioeventfd ioe = { .argsz = sizeof(ioe) };
	char pat[64], line[128], level[8];
	uint32_t s = seed, w, *p, *a;
	struct vpa_dev d;
	size_t i;
	uint64_t phys;
	int alias;

	VPA_NEED(VPA_IVSHMEM);
	if (access(PTDUMP, R_OK))
		SKIP(return, "no " PTDUMP);
	phys = bar_phys(ivshmem, 2);
	ASSERT_NE(0, phys);
	ASSERT_EQ(0, vpa_set_wc_bars(ivshmem, "2"));
	ASSERT_EQ(0, vpa_open(ivshmem, &d));

	EXPECT_TRUE(region_flags(d.fd, 2) & VFIO_REGION_INFO_FLAG_WC);
	EXPECT_FALSE(region_flags(d.fd, 0) & VFIO_REGION_INFO_FLAG_WC);

	/* mmap() of the BAR's own region, as DPDK does it. */
	p = map(d.fd, SZ_1M, bar2 + PAT_OFF);
	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < SZ_1M / 4; i++)
		p[i] = xorshift32(&s);
	__builtin_ia32_sfence();
	EXPECT_EQ(PTE_WC, pte_cache_bits(p, level));
	pat_type(phys, pat, sizeof(pat));
	TH_LOG("BAR mapping: PTE level %s, PAT %s", level, pat);
	EXPECT_STREQ("write-combining", pat);

	/*
	 * read()/write() through the fd agree with the mapping: the first word
	 * of each of the first 66 pages, against the stream written above.
	 */
	s = seed;
	for (i = 0; i <= 65 * 1024; i++) {
		uint32_t want = xorshift32(&s);

		if (i % 1024)
			continue;
		ASSERT_EQ(4, pread(d.fd, &w, 4, bar2 + PAT_OFF + i * 4));
		ASSERT_EQ(want, w) TH_LOG("word %zu", i);
	}
	w = 0xfeedc0de;
	ASSERT_EQ(4, pwrite(d.fd, &w, 4, bar2 + PAT_OFF + 4 * SZ_1M));
	a = map(d.fd, 4096, bar2 + PAT_OFF + 4 * SZ_1M);
	ASSERT_NE(MAP_FAILED, a);
	EXPECT_EQ(0xfeedc0de, a[0]);
	ASSERT_EQ(0, munmap(a, 4096));

	/* An alias of a policy BAR is write-combining too. */
	alias = vpa_alias(d.fd, 2, VFIO_ALIAS_ATTR_WC);
	ASSERT_GE(alias, 0);
	EXPECT_TRUE(region_flags(d.fd, alias) & VFIO_REGION_INFO_FLAG_WC);
	a = map(d.fd, 4096, ((uint64_t)alias << 40) + PAT_OFF);
	ASSERT_NE(MAP_FAILED, a);
	EXPECT_EQ(p[0], a[0]);
	EXPECT_EQ(PTE_WC, pte_cache_bits(a, NULL));

	/* The view shows it: BAR 2, write-combining, by policy, two mappings. */
	view_line(ivshmem, 2, line, sizeof(line));
	TH_LOG("debugfs: %s", line);
	EXPECT_EQ(0, strncmp(line, "2    pref  wc    wc      0        2", 35));

	/* No ioeventfd on a write-combining BAR. */
	ioe.flags = VFIO_DEVICE_IOEVENTFD_32;
	ioe.offset = bar2;
	ioe.fd = eventfd(0, 0);
	ASSERT_GE(ioe.fd, 0);
	EXPECT_EQ(-1, ioctl(d.fd, VFIO_DEVICE_IOEVENTFD, &ioe));
	EXPECT_EQ(EBUSY, errno);
	close(ioe.fd);

	ASSERT_EQ(0, munmap(a, 4096));
	ASSERT_EQ(0, munmap(p, SZ_1M));
	vpa_close(&d);
	printf("VPA-HOSTCHECK: ivshmem %lu %lu %u\n", PAT_OFF, SZ_1M, seed);

	/* Without the policy, the same mapping is uncached again. */
	ASSERT_EQ(0, vpa_set_wc_bars(ivshmem, "none"));
	ASSERT_EQ(0, vpa_open(ivshmem, &d));
	EXPECT_FALSE(region_flags(d.fd, 2) & VFIO_REGION_INFO_FLAG_WC);
	p = map(d.fd, 4096, bar2);
	ASSERT_NE(MAP_FAILED, p);
	w = p[0];
	EXPECT_EQ(PTE_UCM, pte_cache_bits(p, NULL));
	pat_type(phys, pat, sizeof(pat));
	EXPECT_STREQ("uncached-minus", pat);
	ASSERT_EQ(0, munmap(p, 4096));
	vpa_close(&d);
}

TEST(nonprefetchable_bar_by_policy)
{
	const char *edu = vpa_bdf(VPA_EDU);
	const char *msg = "BAR 0 is not prefetchable but set write-combining";
	volatile uint32_t *p;
	struct vpa_dev d;
	int once;

	VPA_NEED(VPA_EDU);
	if (access(PTDUMP, R_OK))
		SKIP(return, "no " PTDUMP);
	ASSERT_EQ(0, vpa_set_wc_bars(edu, "0"));
	once = klog_count(msg);
	EXPECT_GE(once, 1);
	ASSERT_EQ(0, vpa_set_wc_bars(edu, "none"));
	ASSERT_EQ(0, vpa_set_wc_bars(edu, "0"));
	/* Said once per binding of the device. */
	EXPECT_EQ(once, klog_count(msg));
	ASSERT_EQ(0, vpa_open(edu, &d));
	p = map(d.fd, 4096, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0xed, p[0] & 0xff);
	EXPECT_EQ(PTE_WC, pte_cache_bits((void *)p, NULL));
	ASSERT_EQ(0, munmap((void *)p, 4096));
	vpa_close(&d);
	ASSERT_EQ(0, vpa_set_wc_bars(edu, "none"));
}

VPA_HARNESS_MAIN
