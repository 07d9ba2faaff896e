/* SPDX-License-Identifier: GPL-2.0 */
/*
 * How a user mapping of a BAR is really cached, from what the kernel shows
 * (x86): the cache bits of the page-table entry that maps an address in
 * this process (/sys/kernel/debug/page_tables/current_kernel, from
 * CONFIG_PTDUMP_DEBUGFS) and the PAT memtype recorded for the BAR's
 * physical range (/sys/kernel/debug/x86/pat_memtype_list). Also the test
 * pattern generator whose output the host compares with ivshmem's backing
 * file (tools/ivshmem_check.py). pat_ranges() lists the memtype entries of
 * a physical range, for the tests of windows, which split a BAR's.
 *
 * Shared by the tests here and tools/dpdk/vpa_dpdk.c; plain libc only.
 */
#ifndef VPA_PGTABLE_H
#define VPA_PGTABLE_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PTDUMP "/sys/kernel/debug/page_tables/current_kernel"
#define PATLIST "/sys/kernel/debug/x86/pat_memtype_list"

#define PTE_WC	1	/* PWT, PAT index 1: write-combining */
#define PTE_UCM	2	/* PCD, PAT index 2: uncached-minus */

/*
 * Physical start and size of BAR @bar of @dev from sysfs (both 0 if absent).
 */
static inline void bar_resource(const char *dev, int bar, uint64_t *phys, uint64_t *size)
{
	char path[PATH_MAX];
	unsigned long long start = 0, end = 0, flags;
	FILE *f;
	int i;

	*phys = *size = 0;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", dev);
	f = fopen(path, "r");
	if (!f)
		return;
	for (i = 0; i <= bar; i++)
		if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) != 3)
			start = end = 0;
	fclose(f);
	*phys = start;
	*size = end > start ? end - start + 1 : 0;
}

/* Physical start of BAR @bar of @dev from sysfs. */
static inline uint64_t bar_phys(const char *dev, int bar)
{
	uint64_t phys, size;

	bar_resource(dev, bar, &phys, &size);
	return phys;
}

/* Size of BAR @bar of @dev from sysfs (0 if absent). */
static inline uint64_t bar_size(const char *dev, int bar)
{
	uint64_t phys, size;

	bar_resource(dev, bar, &phys, &size);
	return size;
}

/*
 * Cache flags of the page-table entry mapping @addr in this process:
 * "PWT"/"PCD" presence as bits 1/2, 0 for neither, -1 if not mapped.
 * @level receives the entry's level ("pte", "pmd", "pud").
 */
static inline int pte_cache_bits(void *addr, char *level)
{
	unsigned long a = (unsigned long)addr, s, e;
	char line[256];
	int ret = -1;
	FILE *f = fopen(PTDUMP, "r");

	if (!f)
		return -2;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "0x%lx-0x%lx", &s, &e) != 2 || a < s || a >= e)
			continue;
		/* Unmapped ranges are listed without a level's flags. */
		if (!strstr(line, "USR"))
			break;
		ret = (strstr(line, " PWT ") ? 1 : 0) | (strstr(line, " PCD ") ? 2 : 0);
		if (level)
			sscanf(strrchr(line, ' ') + 1, "%7s", level);
		break;
	}
	fclose(f);
	return ret;
}

/* The PAT memtype recorded for physical address @phys, or "". */
static inline void pat_type(uint64_t phys, char *out, size_t len)
{
	unsigned long long s, e;
	char line[256], type[64];
	FILE *f = fopen(PATLIST, "r");

	snprintf(out, len, "%s", "");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "PAT: [mem 0x%llx-0x%llx] %63s", &s, &e, type) == 3 &&
		    phys >= s && phys < e) {
			snprintf(out, len, "%s", type);
			break;
		}
	}
	fclose(f);
}

/* One entry of the PAT memtype list: physical [start, end) and its type. */
struct pat_range {
	uint64_t start;
	uint64_t end;
	char type[24];
};

/*
 * The PAT memtype entries that overlap physical [@lo, @hi), in the list's
 * order (by start): the first @max of them into @out. Returns how many there
 * are (possibly more than @max), or -1 if the list cannot be read.
 */
static inline int pat_ranges(uint64_t lo, uint64_t hi, struct pat_range *out, int max)
{
	unsigned long long s, e;
	char line[256], type[24];
	int n = 0;
	FILE *f = fopen(PATLIST, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "PAT: [mem 0x%llx-0x%llx] %23s", &s, &e, type) != 3 ||
		    e <= lo || s >= hi)
			continue;
		if (n < max) {
			out[n].start = s;
			out[n].end = e;
			memcpy(out[n].type, type, sizeof(type));
		}
		n++;
	}
	fclose(f);
	return n;
}

/*
 * What appeared between two pat_ranges() answers: removes from @now (@n
 * entries) one equal entry for each of @base's @nb (at most 64), keeping
 * the order of the rest, which it moves to the front. Returns how many are
 * left.
 */
static inline int pat_ranges_new(struct pat_range *now, int n,
				 const struct pat_range *base, int nb)
{
	char used[64] = { 0 };
	int i, j, k = 0;

	if (nb > (int)sizeof(used))
		nb = sizeof(used);
	for (i = 0; i < n; i++) {
		for (j = 0; j < nb; j++)
			if (!used[j] && now[i].start == base[j].start &&
			    now[i].end == base[j].end && !strcmp(now[i].type, base[j].type))
				break;
		if (j < nb)
			used[j] = 1;
		else
			now[k++] = now[i];
	}
	return k;
}

/* The generator the host's check (tools/ivshmem_check.py) reproduces. */
static inline uint32_t xorshift32(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

#endif /* VPA_PGTABLE_H */
