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
 * And windows (window_test.c has their semantics) on ivshmem's BAR 2, in
 * [40M, 48M) where no other test's pattern lies: threads and forked
 * processes SET overlapping and disjoint windows, read their region info,
 * map them, store and check words through them and unmap them, map the BAR
 * itself uncached and read it (SIGBUS on the pages of a mapped window is
 * fine), read() and write() through the windows and the BAR, and turn
 * memory decoding off and on and reset, all at once. Each writer owns one
 * word of every page and reads back what it stored; every word read any
 * way must be one of its owner's. EBUSY for a window's mmap() (a read() in
 * flight), SIGBUS and EIO while memory is off are the only errors allowed.
 * Afterwards the BAR's PAT entries are one UC- range again, and after
 * close what they were before open.
 *
 * And DMABUFs (concurrent_dmabufs): export, P2P importers (vpa_importer.ko),
 * WC, mmap, revoke, memory decoding and the device's last close from
 * several processes at once.
 *
 * VPA_STRESS_SECONDS (default 10) bounds each run; the windows' runs twice
 * as long (at most 90 s).
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
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
	VPA_NEED(VPA_IVSHMEM);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IVSHMEM), &dev));
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
/*
 * Set by a WC mapper when no switch succeeded for EDU_STARVED_NS, cleared by
 * the next switch: the readers then pause after each read, and the uncached
 * mapper skips its slow page-table check (its mapping refuses every switch
 * meanwhile) and pauses too, so that a switch finds the BAR idle however
 * slow this kernel is (KASAN) and the race still runs every time.
 */
static atomic_int edu_make_way;
static _Atomic uint64_t edu_last_switch;	/* vpa_now_ns() */
#define EDU_STARVED_NS	(200 * 1000000ULL)
/* How long the others pause while edu_make_way is set. */
static const struct timespec edu_way = { 0, 1000 * 1000 };

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
		if (edu_make_way)
			nanosleep(&edu_way, NULL);
		else if (++n % 64 == 0)
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
			if (errno == EBUSY) {
				edu_busy++;
				if (vpa_now_ns() - edu_last_switch > EDU_STARVED_NS)
					edu_make_way = 1;
			} else {
				FAILF("mmap alias %d: %d\n", edu_alias, errno);
			}
			continue;
		}
		edu_last_switch = vpa_now_ns();
		edu_make_way = 0;
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
		if (++edu_uc_maps % 4 == 1 && !edu_make_way) {
			bits = pte_cache_bits((void *)p, NULL);
			if (bits != PTE_UCM && bits != -2)
				FAILF("BAR0 mapping has cache bits %d, not UC-\n", bits);
			edu_uc_checked++;
		}
		munmap((void *)p, page);
		if (edu_make_way)
			nanosleep(&edu_way, NULL);
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
	edu_make_way = 0;
	edu_last_switch = vpa_now_ns();
	errors = 0;
	VPA_NEED(VPA_EDU);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_EDU), &edu));
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

#define SZ_4K		4096UL
#define SZ_1M		(1UL << 20)
#define BAR2		((uint64_t)VFIO_PCI_BAR2_REGION_INDEX << 40)
#define WS_OFF		(40 * SZ_1M)	/* the windows' area of BAR 2 */
#define WS_LEN		(8 * SZ_1M)
#define WS_WORDS	(SZ_4K / 4)	/* per page */
#define WS_SLOTS	8		/* writer k owns word 2k of each page */
#define WS_PAT_MAX	16

/* Offsets in the area: overlapping, disjoint, 2 MiB aligned or not. */
static const struct { uint64_t off, size; } ws_win[] = {
	{ 0, 2 * SZ_1M },		/* PMD faults where the address allows */
	{ SZ_1M, 2 * SZ_1M },		/* overlaps the first and the third */
	{ 2 * SZ_1M, 2 * SZ_1M },
	{ 4 * SZ_1M + SZ_4K, 16 * SZ_4K },
	{ 6 * SZ_1M, SZ_1M },
};
#define WS_NWIN ((int)(sizeof(ws_win) / sizeof(ws_win[0])))

/* Shared (MAP_SHARED) by the threads and the forked processes. */
struct ws_state {
	atomic_int stop;
	atomic_int errors;
	atomic_int index[WS_NWIN];	/* alias index of each window, -1 until SET */
	atomic_long sets, infos, maps, map_busy, win_bus, uc_maps, uc_reads, uc_bus,
		    uc_checked, rw, rw_eio, zaps;
};

static struct ws_state *ws;
static struct vpa_dev wdev;

#define WFAIL(...) do { fprintf(stderr, "# " __VA_ARGS__); ws->errors++; } while (0)

/* The word writer @slot stores in its turn @seq. */
static uint32_t ws_word(int slot, uint32_t seq)
{
	return (uint32_t)slot << 24 | (seq & 0xffffff);
}

/* The first slot of the page at @w whose word is not its owner's, or -1. */
static int ws_insane(const volatile uint32_t *w)
{
	for (int j = 0; j < WS_SLOTS; j++)
		if (w[2 * j] >> 24 != (uint32_t)j)
			return j;
	return -1;
}

static void ws_pause(long us)
{
	struct timespec t = { 0, us * 1000 };

	nanosleep(&t, NULL);
}

/* SET window @i; checks that it always gets the same index. */
static int ws_set(int i)
{
	int a = vpa_window(wdev.fd, 2, VFIO_ALIAS_ATTR_WC, WS_OFF + ws_win[i].off,
			   ws_win[i].size), old = -1;

	if (a < VFIO_PCI_NUM_REGIONS) {
		WFAIL("SET window %d: %d\n", i, a);
		return -1;
	}
	if (!atomic_compare_exchange_strong(&ws->index[i], &old, a) && old != a)
		WFAIL("window %d: alias %d, then %d\n", i, old, a);
	ws->sets++;
	return a;
}

static void *ws_setter(void *arg)
{
	while (!ws->stop) {
		for (int i = 0; i < WS_NWIN; i++)
			ws_set(i);
		/* Two vCPUs under TCG: leave them to the mappers now and then. */
		ws_pause(500);
	}
	return NULL;
}

static void *ws_info(void *arg)
{
	char buf[512];
	struct vfio_region_info *info = (void *)buf;

	while (!ws->stop) {
		for (int i = 0; i < WS_NWIN; i++) {
			struct vfio_region_info_cap_alias *cap;
			int a = ws->index[i], ret;

			if (a < 0) {
				sched_yield();
				continue;
			}
			ret = vpa_region_info(wdev.fd, a, buf, sizeof(buf));
			if (ret) {
				WFAIL("REGION_INFO of window %d (alias %d): %d\n", i, a, ret);
				continue;
			}
			cap = (void *)vpa_find_cap(buf, VFIO_REGION_INFO_CAP_ALIAS);
			if (info->size != ws_win[i].size || !cap || cap->header.version != 2 ||
			    cap->aliased_index != 2 || cap->offset != WS_OFF + ws_win[i].off ||
			    cap->size != ws_win[i].size)
				WFAIL("window %d (alias %d): region info does not describe it\n", i, a);
			ws->infos++;
		}
		ws_pause(500);
	}
	return NULL;
}

/*
 * Stores @want in the word of @slot of each of the @pages pages at @m, a
 * mapping of window @i, reads it back and checks the other words. Returns 1
 * if that raised SIGBUS (memory decode off), else 0.
 */
static int ws_store_check(volatile uint32_t *m, size_t pages, int slot, uint32_t want, int i)
{
	size_t p;
	int bad;

	if (sigsetjmp(bus_jmp, 1))
		return 1;
	for (p = 0; p < pages; p++)
		m[p * WS_WORDS + 2 * slot] = want;
	__builtin_ia32_sfence();
	for (p = 0; p < pages; p++) {
		if (m[p * WS_WORDS + 2 * slot] != want)
			WFAIL("window %d page %zu: %#x, stored %#x\n", i, p,
			      m[p * WS_WORDS + 2 * slot], want);
		bad = ws_insane(m + p * WS_WORDS);
		if (bad >= 0)
			WFAIL("window %d page %zu slot %d: %#x\n", i, p, bad,
			      m[p * WS_WORDS + 2 * bad]);
	}
	return 0;
}

/*
 * Maps the windows in turn (SET by itself), stores its word in every page
 * through the mapping and reads it back, checking the other words.
 */
static void ws_mapper(int slot)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	uint32_t seq = 0;
	unsigned int n = slot;

	sigaction(SIGBUS, &sa, NULL);
	while (!ws->stop) {
		int i = n++ % WS_NWIN, a = ws_set(i);
		volatile uint32_t *m;

		if (a < 0)
			continue;
		m = mmap(NULL, ws_win[i].size, PROT_READ | PROT_WRITE, MAP_SHARED, wdev.fd,
			 (uint64_t)a << 40);
		if (m == MAP_FAILED) {
			/* A read() of the BAR in flight: refused, not waited for. */
			if (errno == EBUSY)
				ws->map_busy++;
			else
				WFAIL("mmap window %d (alias %d): %d\n", i, a, errno);
			ws_pause(100);
			continue;
		}
		if (ws_store_check(m, ws_win[i].size / SZ_4K, slot, ws_word(slot, ++seq), i))
			ws->win_bus++;
		else
			ws->maps++;
		munmap((void *)m, ws_win[i].size);
	}
}

static void *ws_mapper_thread(void *arg)
{
	ws_mapper((uintptr_t)arg);
	return NULL;
}

/*
 * Checks the words of page @p at @w of an uncached mapping of the area;
 * returns 1 if that raised SIGBUS (the page of a mapped window, or memory
 * decode off), else 0.
 */
static int ws_read_page(const volatile uint32_t *w, size_t p)
{
	int bad;

	if (sigsetjmp(bus_jmp, 1))
		return 1;
	bad = ws_insane(w);
	if (bad >= 0)
		WFAIL("BAR page %zu slot %d: %#x\n", p, bad, w[2 * bad]);
	return 0;
}

/*
 * Maps the whole area through the BAR's own region (uncached) and reads a
 * stride of its pages: SIGBUS in a mapped window or with memory off.
 */
static void ws_uc(void)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	unsigned int n = 0;

	sigaction(SIGBUS, &sa, NULL);
	while (!ws->stop) {
		volatile uint32_t *m = mmap(NULL, WS_LEN, PROT_READ, MAP_SHARED, wdev.fd,
					    BAR2 + WS_OFF);
		size_t p, good = SIZE_MAX;
		int bits;

		if (m == MAP_FAILED) {
			/* Windows leave the rest of the BAR to uncached mappings. */
			WFAIL("mmap BAR 2: %d\n", errno);
			ws_pause(1000);
			continue;
		}
		n++;
		for (p = n % 61; p < WS_LEN / SZ_4K; p += 61) {
			if (ws_read_page(m + p * WS_WORDS, p)) {
				ws->uc_bus++;
			} else {
				good = p;
				ws->uc_reads++;
			}
		}
		/*
		 * Now and then (the dump is slow), the entry of a page just read:
		 * UC-, or gone if zapped since, never write-combining.
		 */
		if (n % 8 == 1 && good != SIZE_MAX) {
			bits = pte_cache_bits((void *)(m + good * WS_WORDS), NULL);
			if (bits != PTE_UCM && bits != -1 && bits != -2)
				WFAIL("BAR page %zu mapped with cache bits %d, not UC-\n", good, bits);
			ws->uc_checked++;
		}
		ws->uc_maps++;
		munmap((void *)m, WS_LEN);
	}
}

static void *ws_uc_thread(void *arg)
{
	ws_uc();
	return NULL;
}

/*
 * write() of its word through a window, read() of it through the BAR; a
 * page read() through the window; a read() clipped at the window's end.
 */
static void *ws_rw(void *arg)
{
	const int slot = (uintptr_t)arg;
	uint32_t seq = 0, v, got, page[WS_WORDS], two[2];
	unsigned int n = 0;

	while (!ws->stop) {
		int i = n++ % WS_NWIN, a = ws->index[i], bad;
		uint64_t aoff = (uint64_t)a << 40, size = ws_win[i].size;
		uint64_t p = (n * 13) % (size / SZ_4K), off = p * SZ_4K + 8 * slot;
		ssize_t r;

		if (a < 0) {
			sched_yield();
			continue;
		}
		/* Now and then out of the way, so that windows get mapped. */
		if (n % 16 == 0)
			ws_pause(100);
		ws->rw++;
		v = ws_word(slot, ++seq);
		if (pwrite(wdev.fd, &v, 4, aoff + off) != 4) {
			if (errno == EIO)
				ws->rw_eio++;
			else
				WFAIL("pwrite window %d (alias %d): %d\n", i, a, errno);
			continue;
		}
		if (pread(wdev.fd, &got, 4, BAR2 + WS_OFF + ws_win[i].off + off) != 4) {
			if (errno == EIO)
				ws->rw_eio++;
			else
				WFAIL("pread BAR 2: %d\n", errno);
			continue;
		}
		if (got != v)
			WFAIL("window %d page %" PRIu64 ": wrote %#x, the BAR has %#x\n", i, p, v, got);
		r = pread(wdev.fd, page, SZ_4K, aoff + p * SZ_4K);
		if (r == (ssize_t)SZ_4K) {
			bad = ws_insane(page);
			if (bad >= 0)
				WFAIL("read() of window %d page %" PRIu64 " slot %d: %#x\n",
				      i, p, bad, page[2 * bad]);
		} else if (r >= 0 || errno != EIO) {
			WFAIL("pread window %d (alias %d): %zd (%d)\n", i, a, r, errno);
		}
		r = pread(wdev.fd, two, 8, aoff + size - 4);
		if (r != 4 && !(r < 0 && errno == EIO))
			WFAIL("pread of 8 at the end of window %d: %zd (%d)\n", i, r, errno);
	}
	return NULL;
}

static void *ws_disturber(void *arg)
{
	uint64_t cfg = (uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40;
	uint16_t cmd;

	while (!ws->stop) {
		if (pread(wdev.fd, &cmd, 2, cfg + PCI_COMMAND) != 2) {
			WFAIL("config read: %d\n", errno);
			break;
		}
		cmd &= ~PCI_COMMAND_MEMORY;
		pwrite(wdev.fd, &cmd, 2, cfg + PCI_COMMAND);
		ws_pause(2000);
		cmd |= PCI_COMMAND_MEMORY;
		pwrite(wdev.fd, &cmd, 2, cfg + PCI_COMMAND);
		/* Zaps too where the device can be reset. */
		ioctl(wdev.fd, VFIO_DEVICE_RESET);
		/* Long enough on for the others to get work done. */
		ws_pause(50 * 1000);
		ws->zaps++;
	}
	return NULL;
}

FIXTURE(windows) {
	uint64_t phys, len;
	struct pat_range pat0[WS_PAT_MAX];	/* BAR 2's PAT entries before open */
	int npat0;				/* -1 without the list */
	int open;
};

FIXTURE_SETUP(windows)
{
	const char *bdf = vpa_bdf(VPA_IVSHMEM);

	VPA_NEED(VPA_IVSHMEM);
	ws = mmap(NULL, sizeof(*ws), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ws);
	for (int i = 0; i < WS_NWIN; i++)
		ws->index[i] = -1;
	self->phys = bar_phys(bdf, 2);
	self->len = bar_size(bdf, 2);
	ASSERT_NE(0, self->phys);
	ASSERT_LE(WS_OFF + WS_LEN, self->len);
	self->npat0 = pat_ranges(self->phys, self->phys + self->len, self->pat0, WS_PAT_MAX);
	ASSERT_GE(WS_PAT_MAX, self->npat0);
	ASSERT_EQ(0, vpa_open(bdf, &wdev));
	self->open = 1;
}

FIXTURE_TEARDOWN(windows)
{
	if (self->open)
		vpa_close(&wdev);
}

/*
 * BAR 2's PAT entries: those before open plus exactly @n of @want; -1 if
 * they cannot be read, else 0 if so.
 */
static int ws_pat_is(FIXTURE_DATA(windows) *self, const struct pat_range *want, int n)
{
	struct pat_range now[WS_PAT_MAX];
	int i, total, added;

	if (self->npat0 < 0)
		return -1;
	total = pat_ranges(self->phys, self->phys + self->len, now, WS_PAT_MAX);
	if (total < 0 || total > WS_PAT_MAX)
		return 1;
	added = pat_ranges_new(now, total, self->pat0, self->npat0);
	for (i = 0; i < added; i++)
		fprintf(stderr, "# PAT [BAR + %#" PRIx64 ", BAR + %#" PRIx64 ") %s\n",
			now[i].start - self->phys, now[i].end - self->phys, now[i].type);
	if (total != self->npat0 + n || added != n)
		return 1;
	for (i = 0; i < n; i++)
		if (now[i].start != want[i].start || now[i].end != want[i].end ||
		    strcmp(now[i].type, want[i].type))
			return 1;
	return 0;
}

TEST_F_TIMEOUT(windows, concurrent_windows, 150)
{
	void *(*fns[])(void *) = { ws_setter, ws_info, ws_mapper_thread, ws_mapper_thread,
				   ws_uc_thread, ws_rw, ws_disturber };
	/* Slots: mapper threads 0 and 1, mapper processes 2 and 3, ws_rw 4. */
	uintptr_t args[] = { 0, 0, 0, 1, 0, 4, 0 };
	pthread_t t[sizeof(fns) / sizeof(fns[0])];
	const char *env = getenv("VPA_STRESS_SECONDS");
	int secs = 2 * (env ? atoi(env) : 10), status, ret;
	struct pat_range whole = { self->phys, self->phys + self->len, "uncached-minus" };
	pid_t kids[3];
	uint32_t *buf;
	unsigned int i;
	size_t p;

	if (secs > 90)
		secs = 90;
	/* Every page: each writer's word in its slot, with turn 0. */
	buf = calloc(1, WS_LEN);
	ASSERT_NE(NULL, buf);
	for (p = 0; p < WS_LEN / SZ_4K; p++)
		for (i = 0; i < WS_SLOTS; i++)
			buf[p * WS_WORDS + 2 * i] = ws_word(i, 0);
	ASSERT_EQ(WS_LEN, pwrite(wdev.fd, buf, WS_LEN, BAR2 + WS_OFF));

	/* The processes first: no thread of ours may hold a lock at fork(). */
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < 3; i++) {
		kids[i] = fork();
		ASSERT_LE(0, kids[i]);
		if (!kids[i]) {
			if (i < 2)
				ws_mapper(2 + i);
			else
				ws_uc();
			_exit(0);
		}
	}
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, fns[i], (void *)args[i]));
	sleep(secs);
	ws->stop = 1;
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(kids[i], waitpid(kids[i], &status, 0));
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			WFAIL("process %u: status %#x\n", i, status);
	}
	TH_LOG("%ld SET, %ld REGION_INFO; %ld window maps (%ld EBUSY, %ld SIGBUS); "
	       "%ld UC maps, %ld page reads (%ld SIGBUS), %ld PTEs checked; "
	       "%ld read/write rounds (%ld EIO); %ld zaps",
	       ws->sets, ws->infos, ws->maps, ws->map_busy, ws->win_bus, ws->uc_maps,
	       ws->uc_reads, ws->uc_bus, ws->uc_checked, ws->rw, ws->rw_eio, ws->zaps);
	ASSERT_EQ(0, ws->errors);
	/* Each kind of work really ran. */
	ASSERT_GT(ws->sets, 0);
	ASSERT_GT(ws->infos, 0);
	ASSERT_GT(ws->maps, 0);
	ASSERT_GT(ws->uc_maps, 0);
	ASSERT_GT(ws->rw, 0);
	ASSERT_GT(ws->zaps, 0);
	/* One alias per window, no other. */
	for (i = 0; i < WS_NWIN; i++)
		for (unsigned int j = 0; j < i; j++)
			ASSERT_NE(ws->index[i], ws->index[j]);
	ASSERT_EQ(VFIO_PCI_NUM_REGIONS + WS_NWIN, vpa_num_regions(wdev.fd));

	/* Every word of the area is still its owner's. */
	ASSERT_EQ(WS_LEN, pread(wdev.fd, buf, WS_LEN, BAR2 + WS_OFF));
	for (p = 0; p < WS_LEN / SZ_4K; p++) {
		ret = ws_insane(buf + p * WS_WORDS);
		ASSERT_EQ(-1, ret) TH_LOG("page %zu slot %d: %#x", p, ret,
					  buf[p * WS_WORDS + 2 * ret]);
	}
	free(buf);

	/* Nothing mapped: core's one UC- mapping; after close, as before open. */
	ret = ws_pat_is(self, &whole, 1);
	if (ret >= 0)
		ASSERT_EQ(0, ret) TH_LOG("PAT entries of BAR 2 with nothing mapped");
	vpa_close(&wdev);
	self->open = 0;
	ret = ws_pat_is(self, NULL, 0);
	if (ret >= 0)
		ASSERT_EQ(0, ret) TH_LOG("PAT entries of BAR 2 after close");
}

/*
 * DMABUFs from several processes at once, on [60M, 64M) of ivshmem's BAR 2:
 * each process gets its own device fd from the shared group (the device is
 * open while any has one), exports DMABUFs of random ranges, makes some WC,
 * maps them, stores and checks its own word of each page, revokes them,
 * turns memory decoding off and on, and closes its device fd now and then,
 * so that the device's last close (which revokes every DMABUF) races with
 * the others' exports, mappings and revokes. A process keeps a mapping of a
 * DMABUF across its own close. Allowed: SIGBUS on a revoked or zapped
 * mapping, EBUSY and ENOSPC from the mmap() of a WC DMABUF (another
 * mapping's read/write in the gate, no free window slot), ENODEV for a
 * DMABUF of an earlier open, EBADFD for one revoked already. PAT of BAR 2 is
 * as before open at the end.
 */
#define DS_OFF		(60 * SZ_1M)
#define DS_PAGES	1024
#define DS_PROCS	4

static uint32_t ds_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static unsigned int ds_param(const char *name)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "/sys/module/vfio_pci_alias/parameters/%s", name);
	if (vpa_sysfs_read(path, buf, sizeof(buf))) {
		snprintf(path, sizeof(path), "/sys/module/vfio_pci/parameters/%s", name);
		if (vpa_sysfs_read(path, buf, sizeof(buf)))
			return 0;
	}
	return strtoul(buf, NULL, 0);
}

/* Stores @v in word @slot of each of @pages pages at @m and reads it back. */
static int ds_store_check(volatile uint32_t *m, size_t pages, int slot, uint32_t v)
{
	struct sigaction sa = { .sa_handler = on_sigbus }, old;
	volatile size_t p = 0;
	int ret = 0;

	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(bus_jmp, 1)) {
		ret = 1;
	} else {
		for (p = 0; p < pages; p++) {
			m[p * SZ_4K / 4 + slot] = v;
			__sync_synchronize();
			if (m[p * SZ_4K / 4 + slot] != v) {
				ret = -1;
				break;
			}
		}
	}
	sigaction(SIGBUS, &old, NULL);
	return ret;
}

/* One process's loop; its exit status is the number of errors it saw. */
static int ds_worker(int group, const char *bdf, int slot, int secs)
{
	unsigned int rnr = ds_param("dma_buf_revoke_feature");
	unsigned int mnr = ds_param("dma_buf_memattr_feature");
	uint32_t seed = 0x9e3779b9u * (slot + 1);
	volatile uint32_t *kept = NULL;
	size_t kept_len = 0;
	time_t end = time(NULL) + secs;
	int fd = -1, bad = 0, ops = 0;

	if (!rnr || !mnr)
		return 1;
	while (time(NULL) < end) {
		struct vfio_device_feature_dma_buf_memattr attr;
		struct vfio_device_feature_dma_buf_revoke rev;
		uint32_t r = ds_rand(&seed), n = 1 + (r & 1), i;
		uint64_t ranges[4], size = 0;
		volatile uint32_t *m;
		int dmabuf, ret, wc, imp = -1;

		if (fd < 0) {
			fd = vpa_group_device_fd(group, bdf, NULL);
			if (fd < 0) {
				fprintf(stderr, "# worker %d: GET_DEVICE_FD: %s\n", slot,
					strerror(-fd));
				return bad + 1;
			}
		}
		for (i = 0; i < n; i++) {
			uint32_t first = ds_rand(&seed) % DS_PAGES;
			uint32_t pages = 1 + ds_rand(&seed) % 16;

			if (first + pages > DS_PAGES)
				pages = DS_PAGES - first;
			ranges[2 * i] = DS_OFF + (uint64_t)first * SZ_4K;
			ranges[2 * i + 1] = (uint64_t)pages * SZ_4K;
			size += (uint64_t)pages * SZ_4K;
		}
		dmabuf = vpa_dmabuf_export(fd, 2, ranges, n, O_RDWR | O_CLOEXEC);
		if (dmabuf < 0) {
			fprintf(stderr, "# worker %d: export: %s\n", slot, strerror(-dmabuf));
			bad++;
			continue;
		}
		wc = (r >> 1) & 1;
		if (wc) {
			attr.dmabuf_fd = dmabuf;
			attr.memattr = VFIO_DEVICE_FEATURE_DMA_BUF_MEMATTR_WC;
			ret = vpa_dev_feature(fd, mnr, VFIO_DEVICE_FEATURE_SET, &attr, sizeof(attr));
			if (ret && ret != -EBADFD) {
				fprintf(stderr, "# worker %d: MEMATTR: %s\n", slot, strerror(-ret));
				bad++;
			}
		}
		m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, dmabuf, 0);
		if (m == MAP_FAILED) {
			if (errno != EBUSY && errno != ENOSPC && errno != ENODEV) {
				fprintf(stderr, "# worker %d: mmap (%s): %s\n", slot,
					wc ? "WC" : "NC", strerror(errno));
				bad++;
			}
		} else {
			if (ds_store_check(m, size / SZ_4K, slot, ds_rand(&seed)) < 0) {
				fprintf(stderr, "# worker %d: a word does not read back\n", slot);
				bad++;
			}
			if (!kept && ((r >> 2) & 3) == 0) {
				kept = m;
				kept_len = size;
			} else {
				munmap((void *)m, size);
			}
		}
		/*
		 * Half the rounds, a P2P importer maps the DMABUF and keeps it
		 * across the event below: ENODEV while another worker has
		 * decoding off, or once the DMABUF is revoked.
		 */
		if ((r >> 10) & 1) {
			imp = vpa_importer_attach(bdf, dmabuf);
			ret = imp < 0 ? imp : vpa_importer_map(imp);
			if (ret && ret != -ENODEV) {
				fprintf(stderr, "# worker %d: importer: %s\n", slot, strerror(-ret));
				bad++;
			}
		}
		switch ((r >> 4) & 7) {
		case 0:
		case 1:
		case 2:
			rev.dmabuf_fd = dmabuf;
			ret = vpa_dev_feature(fd, rnr, VFIO_DEVICE_FEATURE_SET, &rev, sizeof(rev));
			if (ret && ret != -EBADFD && ret != -ENODEV) {
				fprintf(stderr, "# worker %d: revoke: %s\n", slot, strerror(-ret));
				bad++;
			}
			break;
		case 3:
			if (vpa_set_memory(fd, 0) || vpa_set_memory(fd, 1)) {
				fprintf(stderr, "# worker %d: memory decoding: %s\n", slot,
					strerror(errno));
				bad++;
			}
			break;
		case 4:
			/* The last close among us revokes the DMABUFs of the open. */
			close(fd);
			fd = -1;
			break;
		default:
			break;
		}
		if (kept && ((r >> 7) & 7) == 0) {
			/* SIGBUS if revoked or zapped meanwhile. */
			if (ds_store_check(kept, kept_len / SZ_4K, slot, ds_rand(&seed)) < 0) {
				fprintf(stderr, "# worker %d: a kept word does not read back\n",
					slot);
				bad++;
			}
			munmap((void *)kept, kept_len);
			kept = NULL;
		}
		if (imp >= 0) {
			ret = vpa_importer_map(imp);
			if (ret && ret != -ENODEV) {
				fprintf(stderr, "# worker %d: importer map: %s\n", slot,
					strerror(-ret));
				bad++;
			}
			close(imp);
		}
		close(dmabuf);
		ops++;
	}
	if (kept)
		munmap((void *)kept, kept_len);
	if (fd >= 0)
		close(fd);
	fprintf(stderr, "# worker %d: %d rounds\n", slot, ops);
	return bad > 100 ? 100 : bad;
}

TEST_F_TIMEOUT(windows, concurrent_dmabufs, 150)
{
	const char *env = getenv("VPA_STRESS_SECONDS");
	int secs = env ? atoi(env) : 10, status, i, bad = 0;
	pid_t kids[DS_PROCS];

	if (!ds_param("dma_buf_revoke_feature"))
		SKIP(return, "no dma_buf_revoke_feature parameter");
	ASSERT_LE(DS_OFF + DS_PAGES * SZ_4K, self->len);
	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < DS_PROCS; i++) {
		kids[i] = fork();
		ASSERT_LE(0, kids[i]);
		if (!kids[i])
			_exit(ds_worker(wdev.group, vpa_bdf(VPA_IVSHMEM), i, secs));
	}
	/* The workers' device fds alone keep the device open. */
	vpa_close(&wdev);
	self->open = 0;
	for (i = 0; i < DS_PROCS; i++) {
		ASSERT_EQ(kids[i], waitpid(kids[i], &status, 0));
		ASSERT_TRUE(WIFEXITED(status)) TH_LOG("worker %d: status %#x", i, status);
		bad += WEXITSTATUS(status);
	}
	ASSERT_EQ(0, bad);
	/* Every DMABUF revoked at the last close: PAT as before open. */
	ASSERT_GE(0, ws_pat_is(self, NULL, 0)) TH_LOG("PAT entries of BAR 2 after close");
}

VPA_HARNESS_MAIN
