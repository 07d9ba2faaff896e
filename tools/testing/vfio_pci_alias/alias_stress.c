// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency: for a bounded time, threads SET aliases of every BAR of
 * ivshmem, read region info of every alias index, mmap/touch/munmap alias
 * mappings, read() through aliases, and turn memory decoding off and on and
 * reset the device (zapping live mappings), all at once. Every index
 * returned must be consistent (a BAR always gets the same alias index and
 * an alias index always describes the same BAR); faults while memory is off
 * must be SIGBUS, nothing else. The harness around it scans dmesg for
 * lockdep, RCU and atomic-sleep splats.
 *
 * And the memory-type switch against read()/write() and uncached mappings:
 * threads read edu's id register through the device fd, by the BAR and by
 * its alias, and map the BAR itself uncached, while others map and unmap a
 * write-combining alias of the same BAR, which switches core's kernel
 * mapping of it to write-combining and back. Every read must return the id
 * (never a fault, never an error) and every uncached mapping must really be
 * uncached (its page-table entry, checked now and then): a switch may be
 * refused (EBUSY) while a read or an uncached mapping is in the way, but
 * must never happen under one.
 *
 * VPA_STRESS_SECONDS (default 10) bounds each run.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>
#include <linux/pci_regs.h>

#include "kselftest_harness.h"
#include "vpa_lib.h"
#include "vpa_pgtable.h"

#define NBARS 6

static struct vpa_dev dev;
static atomic_int stop;
static atomic_int errors;
static _Atomic int alias_of_bar[NBARS];	/* first index seen, -1 unknown */
static _Atomic int bar_of_alias[64];	/* -1 unknown */
static atomic_long counts[7];
static __thread sigjmp_buf bus_jmp;

#define FAILF(...) do { fprintf(stderr, "# " __VA_ARGS__); errors++; } while (0)

static void on_sigbus(int sig)
{
	siglongjmp(bus_jmp, 1);
}

/* Records @value in @slot once; later values must be the same. */
static void expect_stable(_Atomic int *slot, int value, const char *what, int key)
{
	int old = -1;

	if (!atomic_compare_exchange_strong(slot, &old, value) && old != value)
		FAILF("%s %d: %d then %d\n", what, key, old, value);
}

static void *setter(void *arg)
{
	while (!stop) {
		for (int bar = 0; bar < NBARS; bar++) {
			int a = vpa_alias(dev.fd, bar, VFIO_ALIAS_ATTR_WC);

			if (a >= 0) {
				expect_stable(&alias_of_bar[bar], a, "BAR", bar);
				if (a < 64)
					expect_stable(&bar_of_alias[a], bar, "alias", a);
			} else if (a != -EINVAL && a != -EOPNOTSUPP) {
				FAILF("SET BAR %d: %d\n", bar, a);
			}
			counts[0]++;
		}
	}
	return NULL;
}

static void *info_reader(void *arg)
{
	char buf[512];

	while (!stop) {
		for (int i = VFIO_PCI_NUM_REGIONS; i < VFIO_PCI_NUM_REGIONS + NBARS; i++) {
			struct vfio_region_info_cap_alias *cap;
			int ret = vpa_region_info(dev.fd, i, buf, sizeof(buf));

			if (ret == -EINVAL)
				continue;	/* not created yet */
			if (ret) {
				FAILF("REGION_INFO %d: %d\n", i, ret);
				continue;
			}
			cap = (void *)vpa_find_cap(buf, VFIO_REGION_INFO_CAP_ALIAS);
			if (!cap) {
				FAILF("alias %d without capability\n", i);
				continue;
			}
			expect_stable(&bar_of_alias[i], cap->aliased_index, "alias", i);
			counts[1]++;
		}
	}
	return NULL;
}

static void *mapper(void *arg)
{
	struct sigaction sa = { .sa_handler = on_sigbus };

	sigaction(SIGBUS, &sa, NULL);
	while (!stop) {
		int a = alias_of_bar[2];
		volatile uint32_t *p;

		if (a < 0)
			continue;
		p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_SHARED, dev.fd, (uint64_t)a << 40);
		if (p == MAP_FAILED) {
			/*
			 * EBUSY is documented: taking the BAR to WC waits for no
			 * read()/write() of it (rw_reader) and never blocks.
			 */
			if (errno == EBUSY)
				counts[6]++;
			else
				FAILF("mmap alias %d: %d\n", a, errno);
			continue;
		}
		if (sigsetjmp(bus_jmp, 1)) {
			counts[3]++;	/* memory decode was off: SIGBUS, fine */
		} else {
			for (int i = 0; i < (1 << 16) / 4; i += 1024)
				p[i] = i;
			counts[2]++;
		}
		munmap((void *)p, 1 << 16);
	}
	return NULL;
}

static void *rw_reader(void *arg)
{
	uint32_t v;

	while (!stop) {
		int a = alias_of_bar[2];

		if (a < 0)
			continue;
		/* -EIO while memory decode is off is core's answer. */
		if (pread(dev.fd, &v, 4, ((uint64_t)a << 40) + 64) != 4 && errno != EIO)
			FAILF("pread alias %d: %d\n", a, errno);
		counts[4]++;
	}
	return NULL;
}

static void *disturber(void *arg)
{
	uint64_t cfg = (uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40;
	struct timespec ms = { 0, 2 * 1000 * 1000 };
	uint16_t cmd;

	while (!stop) {
		if (pread(dev.fd, &cmd, 2, cfg + PCI_COMMAND) != 2) {
			FAILF("config read: %d\n", errno);
			break;
		}
		cmd &= ~PCI_COMMAND_MEMORY;
		pwrite(dev.fd, &cmd, 2, cfg + PCI_COMMAND);
		nanosleep(&ms, NULL);
		cmd |= PCI_COMMAND_MEMORY;
		pwrite(dev.fd, &cmd, 2, cfg + PCI_COMMAND);
		/* Zaps too where the device can be reset. */
		ioctl(dev.fd, VFIO_DEVICE_RESET);
		nanosleep(&ms, NULL);
		counts[5]++;
	}
	return NULL;
}

TEST(concurrent_set_info_mmap_rw_zap)
{
	void *(*fns[])(void *) = {
		setter, setter, info_reader, info_reader, mapper, mapper, rw_reader, disturber,
	};
	pthread_t t[sizeof(fns) / sizeof(fns[0])];
	const char *env = getenv("VPA_STRESS_SECONDS");
	int secs = env ? atoi(env) : 10;
	unsigned int i;

	for (i = 0; i < NBARS; i++)
		alias_of_bar[i] = -1;
	for (i = 0; i < 64; i++)
		bar_of_alias[i] = -1;
	ASSERT_EQ(0, vpa_open(vpa_env_bdf("VPA_IVSHMEM_BDF"), &dev));
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, fns[i], NULL));
	sleep(secs);
	stop = 1;
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		pthread_join(t[i], NULL);
	TH_LOG("%ld SET, %ld REGION_INFO, %ld maps (%ld EBUSY), %ld SIGBUS, %ld reads, %ld zaps",
	       counts[0], counts[1], counts[2], counts[6], counts[3], counts[4], counts[5]);
	ASSERT_EQ(0, errors);
	/* Each kind of work really ran. */
	for (i = 0; i < 6; i++)
		if (i != 3)
			ASSERT_GT(counts[i], 0) TH_LOG("worker %u never ran", i);
	/* The table is bounded: ivshmem has two mmap-capable BARs. */
	ASSERT_EQ(VFIO_PCI_NUM_REGIONS + 2, vpa_num_regions(dev.fd));
	vpa_close(&dev);
}

/* edu's identification register: 0xRRrr00ed (major, minor revision). */
#define EDU_ID_MASK	0xffff
#define EDU_ID		0x00ed

static struct vpa_dev edu;
static int edu_alias = -1;
static uint32_t edu_id;
static atomic_long edu_reads, edu_maps, edu_busy, edu_uc_maps, edu_uc_busy, edu_uc_checked;

/* pread of the id register through region @index of edu's fd. */
static int edu_read_id(uint32_t index, uint32_t *v)
{
	return pread(edu.fd, v, 4, (uint64_t)index << 40) == 4 ? 0 : -errno;
}

static void *id_reader(void *arg)
{
	/* Half the readers go through the alias: the same BAR, the same gate. */
	uint32_t index = (uintptr_t)arg ? edu_alias : 0;
	struct timespec pause = { 0, 50 * 1000 };
	unsigned long n = 0;
	uint32_t v;
	int ret;

	while (!stop) {
		ret = edu_read_id(index, &v);
		if (ret)
			FAILF("pread region %u: %d\n", index, ret);
		else if (v != edu_id)
			FAILF("pread region %u: id %#x, not %#x\n", index, v, edu_id);
		edu_reads++;
		/* Now and then out of the way, so that switches get their turn. */
		if (++n % 64 == 0)
			nanosleep(&pause, NULL);
	}
	return NULL;
}

static void *wc_mapper(void *arg)
{
	long page = sysconf(_SC_PAGESIZE);

	while (!stop) {
		volatile uint32_t *p = mmap(NULL, page, PROT_READ, MAP_SHARED, edu.fd,
					    (uint64_t)edu_alias << 40);

		if (p == MAP_FAILED) {
			/* A read in flight: the switch is refused, not waited for. */
			if (errno == EBUSY)
				edu_busy++;
			else
				FAILF("mmap alias %d: %d\n", edu_alias, errno);
			continue;
		}
		if (p[0] != edu_id)
			FAILF("id through the WC alias: %#x, not %#x\n", p[0], edu_id);
		edu_maps++;
		munmap((void *)p, page);
	}
	return NULL;
}

/* Maps BAR0 itself (uncached) while the WC alias comes and goes. */
static void *uc_mapper(void *arg)
{
	long page = sysconf(_SC_PAGESIZE);
	struct timespec pause = { 0, 100 * 1000 };

	while (!stop) {
		volatile uint32_t *p = mmap(NULL, page, PROT_READ, MAP_SHARED, edu.fd,
					    (uint64_t)VFIO_PCI_BAR0_REGION_INDEX << 40);
		int bits;

		if (p == MAP_FAILED) {
			/* The BAR is write-combining for the alias right now. */
			if (errno == EBUSY)
				edu_uc_busy++;
			else
				FAILF("mmap BAR0: %d\n", errno);
			nanosleep(&pause, NULL);
			continue;
		}
		if (p[0] != edu_id)
			FAILF("id through BAR0: %#x, not %#x\n", p[0], edu_id);
		/* The page-table dump is slow: every 4th mapping. */
		if (++edu_uc_maps % 4 == 1) {
			bits = pte_cache_bits((void *)p, NULL);
			if (bits != PTE_UCM && bits != -2)
				FAILF("BAR0 mapping has cache bits %d, not UC-\n", bits);
			edu_uc_checked++;
		}
		munmap((void *)p, page);
	}
	return NULL;
}

TEST(reads_while_switching_wc)
{
	void *(*fns[])(void *) = { id_reader, id_reader, id_reader, id_reader,
				   wc_mapper, wc_mapper, uc_mapper };
	pthread_t t[sizeof(fns) / sizeof(fns[0])];
	const char *env = getenv("VPA_STRESS_SECONDS");
	int secs = env ? atoi(env) : 10;
	unsigned int i;

	stop = 0;
	errors = 0;
	ASSERT_EQ(0, vpa_open(vpa_env_bdf("VPA_EDU_BDF"), &edu));
	ASSERT_EQ(0, edu_read_id(VFIO_PCI_BAR0_REGION_INDEX, &edu_id));
	ASSERT_EQ(EDU_ID, edu_id & EDU_ID_MASK) TH_LOG("id %#x: not edu", edu_id);
	edu_alias = vpa_alias(edu.fd, VFIO_PCI_BAR0_REGION_INDEX, VFIO_ALIAS_ATTR_WC);
	ASSERT_GE(edu_alias, VFIO_PCI_NUM_REGIONS);
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, fns[i], (void *)(uintptr_t)(i & 1)));
	sleep(secs);
	stop = 1;
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		pthread_join(t[i], NULL);
	TH_LOG("%ld reads, %ld WC maps (switches), %ld EBUSY; %ld UC maps (%ld checked), %ld EBUSY",
	       edu_reads, edu_maps, edu_busy, edu_uc_maps, edu_uc_checked, edu_uc_busy);
	ASSERT_EQ(0, errors);
	ASSERT_GT(edu_reads, 0);
	/* The switch really ran against the readers and the uncached maps. */
	ASSERT_GT(edu_maps, 0);
	ASSERT_GT(edu_uc_maps, 0);
	vpa_close(&edu);
}

TEST_HARNESS_MAIN
