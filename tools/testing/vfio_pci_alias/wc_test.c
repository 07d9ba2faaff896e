// SPDX-License-Identifier: GPL-2.0
/*
 * Write-combining alias mappings, checked where it matters:
 *
 * - page tables: the PTEs of an alias mapping carry x86's WC encoding (PWT,
 *   not PCD) and those of the BAR's own mapping UC- (PCD), read from this
 *   process's page tables in /sys/kernel/debug/page_tables/current_kernel;
 *   /sys/kernel/debug/x86/pat_memtype_list agrees;
 * - data: a pattern stored through the WC alias of ivshmem's BAR2 and fenced
 *   reads back through the BAR, and is printed for the host to compare with
 *   the backing file ("VPA-HOSTCHECK: ...");
 * - zap: clearing PCI_COMMAND_MEMORY makes a live alias mapping SIGBUS, and
 *   VFIO_DEVICE_RESET zaps it; both fault back in WC afterwards;
 * - huge faults: touching every page of ivshmem's 64 MiB BAR2 costs no more
 *   faults through the alias than through the BAR.
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <linux/pci_regs.h>

#include "kselftest_harness.h"
#include "vpa_lib.h"
#include "vpa_pgtable.h"

#define SZ_2M (2UL << 20)

static void *map(int fd, size_t len, uint64_t off, void *at)
{
	return mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | (at ? MAP_FIXED : 0), fd, off);
}

FIXTURE(edu) {
	struct vpa_dev d;
	uint64_t alias_off;
	uint64_t phys;
};

FIXTURE_SETUP(edu)
{
	int a;

	VPA_NEED(VPA_EDU);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_EDU), &self->d));
	a = vpa_alias(self->d.fd, 0, VFIO_ALIAS_ATTR_WC);
	ASSERT_GE(a, 0);
	self->alias_off = (uint64_t)a << 40;
	self->phys = bar_phys(vpa_bdf(VPA_EDU), 0);
	ASSERT_NE(0, self->phys);
	if (access(PTDUMP, R_OK))
		SKIP(return, "no " PTDUMP " (CONFIG_PTDUMP_DEBUGFS, debugfs)");
}

FIXTURE_TEARDOWN(edu)
{
	vpa_close(&self->d);
}

/*
 * Maps one page of edu's BAR0 at @off, touches it and checks its PTE's cache
 * bits and the PAT memtype of the BAR against @want_bits and @want_pat.
 */
static void check_mapping(struct __test_metadata *_metadata, int fd, uint64_t off,
			  uint64_t phys, const char *what, int want_bits, const char *want_pat)
{
	volatile uint32_t *p = map(fd, 4096, off, NULL);
	char level[8] = "", pat[64];
	int bits;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0xed, p[0] & 0xff);
	bits = pte_cache_bits((void *)p, level);
	pat_type(phys, pat, sizeof(pat));
	TH_LOG("%s mapping: PTE %s%s (%s), PAT %s", what, bits & 1 ? "PWT " : "",
	       bits & 2 ? "PCD" : "", level, pat);
	ASSERT_EQ(want_bits, bits);
	ASSERT_STREQ(want_pat, pat);
	ASSERT_EQ(0, munmap((void *)p, 4096));
}

TEST_F(edu, page_tables_show_wc_for_alias_and_ucm_for_bar)
{
	char pat[64];

	/* The BAR's own region: uncached-minus, as with vfio-pci. */
	check_mapping(_metadata, self->d.fd, 0, self->phys, "BAR  ", PTE_UCM, "uncached-minus");
	/* The WC alias: the PTE must really be write-combining. */
	check_mapping(_metadata, self->d.fd, self->alias_off, self->phys, "alias",
		      PTE_WC, "write-combining");
	/* The last WC mapping gone, the BAR is uncached-minus again. */
	pat_type(self->phys, pat, sizeof(pat));
	ASSERT_STREQ("uncached-minus", pat);
}

TEST_F(edu, memory_disable_sigbus_then_wc_again)
{
	volatile uint32_t *p = map(self->d.fd, 4096, self->alias_off, NULL);
	uint32_t v;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, vpa_read_sigbus(p, &v));
	ASSERT_EQ(0xed, v & 0xff);
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)p, NULL));

	ASSERT_EQ(0, vpa_set_memory(self->d.fd, 0));
	/* Zapped by core, and refused while memory decode is off. */
	ASSERT_EQ(-1, pte_cache_bits((void *)p, NULL));
	ASSERT_EQ(1, vpa_read_sigbus(p, &v));

	ASSERT_EQ(0, vpa_set_memory(self->d.fd, 1));
	ASSERT_EQ(0, vpa_read_sigbus(p, &v));
	ASSERT_EQ(0xed, v & 0xff);
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)p, NULL));
	ASSERT_EQ(0, munmap((void *)p, 4096));
}

TEST(reset_zaps_alias_then_wc_again)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	volatile uint32_t *p;
	struct vpa_dev d;
	uint32_t v;
	int a;

	VPA_NEED(VPA_IGB);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IGB), &d));
	ASSERT_EQ(0, ioctl(d.fd, VFIO_DEVICE_GET_INFO, &info));
	if (!(info.flags & VFIO_DEVICE_FLAGS_RESET))
		SKIP(goto out, "igb cannot be reset here");
	a = vpa_alias(d.fd, 0, VFIO_ALIAS_ATTR_WC);
	ASSERT_GE(a, 0);
	p = map(d.fd, 4096, (uint64_t)a << 40, NULL);
	ASSERT_NE(MAP_FAILED, p);
	/* igb STATUS (0x8): any read works; the point is the mapping. */
	ASSERT_EQ(0, vpa_read_sigbus(p + 2, &v));
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)p, NULL));
	ASSERT_EQ(0, ioctl(d.fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(-1, pte_cache_bits((void *)p, NULL));
	ASSERT_EQ(0, vpa_read_sigbus(p + 2, &v));
	ASSERT_EQ(PTE_WC, pte_cache_bits((void *)p, NULL));
	ASSERT_EQ(0, munmap((void *)p, 4096));
out:
	vpa_close(&d);
}

FIXTURE(ivshmem) {
	struct vpa_dev d;
	uint64_t alias_off;
	size_t len;
};

FIXTURE_SETUP(ivshmem)
{
	char buf[512];
	struct vfio_region_info *info = (void *)buf;
	int a;

	VPA_NEED(VPA_IVSHMEM);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IVSHMEM), &self->d));
	ASSERT_EQ(0, vpa_region_info(self->d.fd, 2, buf, sizeof(buf)));
	self->len = info->size;
	ASSERT_GE(self->len, 64UL << 20);
	a = vpa_alias(self->d.fd, 2, VFIO_ALIAS_ATTR_WC);
	ASSERT_GE(a, 0);
	self->alias_off = (uint64_t)a << 40;
}

FIXTURE_TEARDOWN(ivshmem)
{
	vpa_close(&self->d);
}

TEST_F(ivshmem, pattern_through_wc_alias_reaches_memory)
{
	const size_t off = 1 << 20, len = 1 << 20;
	const uint32_t seed = 0x5eed1234;
	uint32_t s = seed, *src, got;
	volatile uint32_t *bar;
	uint32_t *alias;
	size_t i;

	src = malloc(len);
	ASSERT_NE(NULL, src);
	for (i = 0; i < len / 4; i++)
		src[i] = xorshift32(&s);

	alias = map(self->d.fd, len, self->alias_off + off, NULL);
	ASSERT_NE(MAP_FAILED, alias);
	memcpy(alias, src, len);
	__builtin_ia32_sfence();
	ASSERT_EQ(PTE_WC, pte_cache_bits(alias, NULL));
	ASSERT_EQ(0, munmap(alias, len));

	/* Back through the BAR itself (uncached) ... */
	bar = map(self->d.fd, len, (2ULL << 40) + off, NULL);
	ASSERT_NE(MAP_FAILED, bar);
	for (i = 0; i < len / 4; i++) {
		got = bar[i];
		if (got != src[i])
			break;
	}
	ASSERT_EQ(len / 4, i) TH_LOG("word %zu: %#x != %#x", i, got, src[i]);
	ASSERT_EQ(0, munmap((void *)bar, len));
	free(src);
	/* ... and by the host from the backing file. */
	printf("VPA-HOSTCHECK: ivshmem %zu %zu %u\n", off, len, seed);
}

/* Faults to touch every page of a 2M-aligned mapping of @len at @off. */
static long touch_all(int fd, uint64_t off, size_t len)
{
	char *resv, *at;
	volatile char *p;
	long before, after;
	size_t i;

	resv = mmap(NULL, len + SZ_2M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (resv == MAP_FAILED)
		return -1;
	at = (char *)(((unsigned long)resv + SZ_2M - 1) & ~(SZ_2M - 1));
	p = map(fd, len, off, at);
	if (p == MAP_FAILED) {
		munmap(resv, len + SZ_2M);
		return -1;
	}
	before = vpa_minflt();
	for (i = 0; i < len; i += 4096)
		(void)p[i];
	after = vpa_minflt();
	munmap(resv, len + SZ_2M);
	return after - before;
}

TEST_F(ivshmem, huge_faults_through_alias)
{
	long bar, alias;

	bar = touch_all(self->d.fd, 2ULL << 40, self->len);
	alias = touch_all(self->d.fd, self->alias_off, self->len);
	TH_LOG("faults touching %zu MiB: BAR %ld, WC alias %ld", self->len >> 20, bar, alias);
	printf("# faults touching %zu MiB: BAR %ld, WC alias %ld\n", self->len >> 20, bar, alias);
	ASSERT_GT(bar, 0);
	ASSERT_GT(alias, 0);
	ASSERT_LE(alias, bar);
	/* Not one fault per page: huge entries were used. */
	ASSERT_LT(alias, (long)(self->len / 4096 / 8));
}

VPA_HARNESS_MAIN
