// SPDX-License-Identifier: GPL-2.0
/*
 * soak_churn: one user of a device bound to vfio-pci-alias doing a bit of
 * everything at random, for `make soak` (tools/guest/tests/soak.sh), until
 * its time is up, it is killed, or the device is taken away.
 *
 *   soak_churn --bdf BDF --seconds N [--procs P] [--stats FILE]
 *              [--ready FILE] [--fail [--fail-group]] [--release PERCENT]
 *   soak_churn --sum FILE...
 *
 * The process opens BDF (retrying for a few seconds: another user may hold
 * its group), registers an eventfd for the device request (what vfio sends
 * when the device is to be unbound or removed), forks P children that share
 * the device fd, and then it and its children loop over, at random:
 *
 *   - SET of a write-combining alias of a BAR, and of windows of it (a grid
 *     of offsets and sizes, so the table fills now and then: ENOSPC);
 *   - mmap() of a BAR, an alias or a window, whole or a part of it; munmap()
 *     of one, or of a page in its middle (a split VMA); touching mapped
 *     pages, reads, and on ivshmem's BAR 2 (RAM on the host) writes, with
 *     SIGBUS (memory off, a mapped window's page through the BAR) caught;
 *   - pread()/pwrite() of regions through the fd (writes only to ivshmem's
 *     BAR 2 and what aliases it);
 *   - VFIO_DEVICE_RESET, and memory decoding off and on again through
 *     PCI_COMMAND in the config region, with the mappings in place;
 *   - GET_INFO and GET_REGION_INFO; an ioeventfd on ivshmem's BAR 2 set and
 *     deleted; fork() of a process that touches the inherited mappings;
 *   - the parent now and then SIGKILLs a child, which holds mappings, and
 *     starts another one.
 *
 * On a device request the parent lets go (kills its children, unmaps,
 * closes, exits 0) with probability --release (default 50 percent) and
 * otherwise carries on, to be asked again. Children die with the parent
 * (some through PR_SET_PDEATHSIG, the others when they see it gone), so a
 * SIGKILL of the parent releases the device with mappings in place.
 *
 * --fail writes 1 to /proc/self/make-it-fail (children inherit it): with
 * failslab's task-filter, its slab allocations are the ones failed. It is
 * written once the container and group are set up, before the device fd is
 * asked for (the driver's open_device), and a process without it, the
 * anchor, keeps the group and container open until every process of the
 * run is gone: their setup and release, vfio's and the IOMMU's, are not
 * failed (see start_anchor()). --fail-group fails them too: make-it-fail
 * first, no anchor. Errors are counted, not judged (the harness tests
 * judge semantics): under failslab any call may fail with ENOMEM. What is counted goes to FILE
 * (--stats; a shared mapping, so a SIGKILL loses nothing), which
 * `--sum FILE...` adds up, one "name count" line per counter. --ready FILE
 * is created once the device is open and something is mapped. A SIGSEGV
 * (every access is to a page the table says is mapped) prints the table
 * and /proc/self/maps around the address before the process dies of it.
 *
 * Exit status: 0 time up or released, 3 the device could not be opened,
 * 1 a usage or set-up error.
 */
#include <getopt.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "vpa_lib.h"

#define SZ_4K		4096UL
#define SZ_2M		(2UL << 20)
#define NBARS		6
#define MAXMAPS		8
#define MAXPROCS	8
#define REGION_OFF(i)	((uint64_t)(i) << 40)

/* The counters, in the order of the stats file. */
#define COUNTERS(C)							\
	C(processes) C(anchor) C(open_ok) C(open_busy) C(open_nomem)	\
	C(open_err)							\
	C(req_irq_ok) C(req_irq_err) C(requests) C(released)		\
	C(ignored_requests) C(alias_ok) C(alias_nospc) C(alias_err)	\
	C(window_ok) C(window_nospc) C(window_err) C(map_ok)		\
	C(map_busy) C(map_nomem) C(map_err) C(unmap) C(split)		\
	C(touch) C(touch_sigbus) C(store) C(rw_ok) C(rw_eio) C(rw_err)	\
	C(reset_ok) C(reset_err) C(mem_toggle) C(mem_err) C(info_ok)	\
	C(info_err) C(ioeventfd_ok) C(ioeventfd_busy) C(ioeventfd_err)	\
	C(fork_ok) C(fork_err) C(child_kill) C(child_spawn)		\
	C(child_spawn_err) C(child_crash) C(child_exit_err)		\
	C(time_up)

#define C_ENUM(n) CNT_##n,
#define C_NAME(n) #n,
enum { COUNTERS(C_ENUM) NCOUNTERS };
static const char *const counter_names[] = { COUNTERS(C_NAME) };

#define STATS_MAGIC	0x4b414f53u	/* "SOAK" in memory */

struct stats {
	uint32_t magic;
	uint32_t ncounters;
	_Atomic uint64_t c[NCOUNTERS];
};

static struct stats *st;
#define COUNT(n) atomic_fetch_add_explicit(&st->c[CNT_##n], 1, memory_order_relaxed)

struct region {
	uint64_t size;
	uint64_t offset;	/* for mmap() and pread()/pwrite() */
	int mmap;
	int writable;		/* ivshmem's BAR 2 or an alias of it */
};

struct mapping {
	volatile uint32_t *addr;
	size_t len;
	long hole;		/* page unmapped in the middle, -1 if none */
	int writable;
};

static struct vpa_dev dev;
static int is_ivshmem;
static int can_reset;
static uint32_t bar_probe[NBARS];	/* PROBE flags of each BAR */
static uint64_t bar_size[NBARS];
static struct mapping maps[MAXMAPS];
static uint64_t rnd;
static sigjmp_buf bus_jmp;
static struct timespec deadline;
static pid_t parent;
static int is_parent;

static uint64_t next_rand(void)
{
	/* xorshift64 */
	rnd ^= rnd << 13;
	rnd ^= rnd >> 7;
	rnd ^= rnd << 17;
	return rnd;
}

static unsigned int pick(unsigned int n)
{
	return n ? next_rand() % n : 0;
}

static void seed(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	rnd = (uint64_t)t.tv_nsec * 2654435761u ^ (uint64_t)getpid() << 32 ^ t.tv_sec;
	if (!rnd)
		rnd = 1;
}

static int time_up(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline.tv_sec ||
	       (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec);
}

static void on_sigbus(int sig)
{
	(void)sig;
	siglongjmp(bus_jmp, 1);
}

/*
 * SIGSEGV should not happen: every access is to a page of a mapping in the
 * table. Says where it hit, what the table and /proc/self/maps hold around
 * the address, and dies of it (the parent counts it as a crash).
 */
static void on_sigsegv(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	char line[256];
	FILE *f;

	(void)uc;
	fprintf(stderr, "soak_churn: pid %d: SIGSEGV at %#lx, si_code %d (%s)\n", getpid(),
		(unsigned long)a, si->si_code,
		si->si_code == SEGV_MAPERR ? "no mapping" :
		si->si_code == SEGV_ACCERR ? "access" : "other");
	for (int i = 0; i < MAXMAPS; i++)
		if (maps[i].addr)
			fprintf(stderr, "soak_churn:   table %d: %p-%p hole %ld%s\n", i,
				(void *)maps[i].addr, (void *)((char *)maps[i].addr + maps[i].len),
				maps[i].hole, maps[i].writable ? " writable" : "");
	f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && hi + SZ_2M > a && lo < a + SZ_2M)
			fprintf(stderr, "soak_churn:   maps: %s", line);
	}
	if (f)
		fclose(f);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void sleep_us(long us)
{
	struct timespec t = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&t, NULL);
}

static int make_it_fail(void)
{
	int fd = open("/proc/self/make-it-fail", O_WRONLY);
	int ok;

	if (fd < 0)
		return -errno;
	ok = write(fd, "1", 1) == 1;
	close(fd);
	return ok ? 0 : -EIO;
}

/* The region @index as the device describes it now; 0 or -errno. */
static int region(uint32_t index, struct region *r)
{
	char buf[512];
	struct vfio_region_info *info = (void *)buf;
	struct vfio_region_info_cap_alias *cap;
	uint32_t bar = index;
	int ret = vpa_region_info(dev.fd, index, buf, sizeof(buf));

	if (ret)
		return ret;
	r->size = info->size;
	r->offset = info->offset;
	r->mmap = !!(info->flags & VFIO_REGION_INFO_FLAG_MMAP);
	if (index >= VFIO_PCI_NUM_REGIONS) {
		cap = (void *)vpa_find_cap(buf, VFIO_REGION_INFO_CAP_ALIAS);
		bar = cap ? cap->aliased_index : UINT32_MAX;
	}
	r->writable = is_ivshmem && bar == VFIO_PCI_BAR2_REGION_INDEX;
	return 0;
}

/* A random region index of the device: a BAR most of the time, else any. */
static int any_index(void)
{
	int n = vpa_num_regions(dev.fd);

	if (n <= 0)
		return -1;
	return pick(3) ? (int)pick(NBARS) : (int)pick(n);
}

static void op_alias(void)
{
	unsigned int bar = pick(NBARS);
	int ret;

	if (!(bar_probe[bar] & VFIO_ALIAS_ATTR_WC))
		return;
	ret = vpa_alias(dev.fd, bar, VFIO_ALIAS_ATTR_WC);
	if (ret >= 0)
		COUNT(alias_ok);
	else if (ret == -ENOSPC)
		COUNT(alias_nospc);
	else
		COUNT(alias_err);
}

static void op_window(void)
{
	static const unsigned long sizes[] = { SZ_4K, 2 * SZ_4K, 16 * SZ_4K, SZ_2M };
	unsigned int bar = pick(NBARS);
	uint64_t size, off, pages;
	int ret;

	if (!(bar_probe[bar] & VFIO_ALIAS_REGION_WINDOW) || bar_size[bar] < SZ_4K)
		return;
	size = sizes[pick(4)];
	pages = bar_size[bar] / SZ_4K;
	if (size > bar_size[bar])
		size = SZ_4K;
	/* Eight places in each eighth of the BAR: overlaps, dedup, a full table. */
	off = (pages / 8) * pick(8) * SZ_4K + pick(8) * SZ_4K;
	if (size == SZ_2M)
		off &= ~(SZ_2M - 1);
	if (off + size > bar_size[bar])
		off = bar_size[bar] - size;
	off &= ~(SZ_4K - 1);
	ret = vpa_window(dev.fd, bar, VFIO_ALIAS_ATTR_WC, off, size);
	if (ret >= 0)
		COUNT(window_ok);
	else if (ret == -ENOSPC)
		COUNT(window_nospc);
	else
		COUNT(window_err);
}

static struct mapping *free_slot(void)
{
	for (int i = 0; i < MAXMAPS; i++)
		if (!maps[i].addr)
			return &maps[i];
	return NULL;
}

static struct mapping *used_slot(void)
{
	unsigned int start = pick(MAXMAPS);

	for (unsigned int i = 0; i < MAXMAPS; i++) {
		struct mapping *m = &maps[(start + i) % MAXMAPS];

		if (m->addr)
			return m;
	}
	return NULL;
}

static void unmap(struct mapping *m)
{
	char *a = (char *)m->addr;

	if (m->hole < 0) {
		munmap(a, m->len);
	} else {
		/* Around the hole: a later mapping may sit in it. */
		munmap(a, m->hole * SZ_4K);
		munmap(a + (m->hole + 1) * SZ_4K, m->len - (m->hole + 1) * SZ_4K);
	}
	m->addr = NULL;
	COUNT(unmap);
}

static void op_map(void)
{
	struct mapping *m = free_slot();
	struct region r;
	uint64_t len, off = 0, pages;
	int index = any_index();
	void *p;

	if (!m) {
		unmap(used_slot());
		m = free_slot();
	}
	if (index < 0 || region(index, &r) || !r.mmap || r.size < SZ_4K)
		return;
	pages = r.size / SZ_4K;
	switch (pick(4)) {
	case 0:		/* all of it */
		len = pages * SZ_4K;
		break;
	case 1:		/* up to 2 MiB from a 2 MiB boundary */
		len = pages * SZ_4K < SZ_2M ? pages * SZ_4K : SZ_2M;
		off = (pick(pages) * SZ_4K) & ~(SZ_2M - 1);
		if (off + len > r.size)
			off = 0;
		break;
	default:	/* a few pages anywhere */
		len = (1 + pick(4)) * SZ_4K;
		if (len > pages * SZ_4K)
			len = pages * SZ_4K;
		off = pick(pages - len / SZ_4K + 1) * SZ_4K;
		break;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, dev.fd, r.offset + off);
	if (p == MAP_FAILED) {
		if (errno == EBUSY)
			COUNT(map_busy);
		else if (errno == ENOMEM)
			COUNT(map_nomem);
		else
			COUNT(map_err);
		return;
	}
	*m = (struct mapping){ p, len, -1, r.writable };
	COUNT(map_ok);
}

static void op_unmap(void)
{
	struct mapping *m = used_slot();
	long pages;

	if (!m)
		return;
	pages = m->len / SZ_4K;
	if (pages >= 3 && m->hole < 0 && pick(2)) {
		long hole = 1 + pick(pages - 2);

		if (!munmap((void *)((char *)m->addr + hole * SZ_4K), SZ_4K)) {
			m->hole = hole;
			COUNT(split);
		}
		return;
	}
	unmap(m);
}

/* Reads (and on writable mappings writes) a few words of pages of @m. */
static void touch(struct mapping *m)
{
	volatile uint32_t *w;
	long pages = m->len / SZ_4K, p;
	int i, n = 1 + pick(8);

	if (sigsetjmp(bus_jmp, 1)) {
		COUNT(touch_sigbus);
		return;
	}
	for (i = 0; i < n; i++) {
		p = pick(pages);
		if (p == m->hole)
			continue;
		w = m->addr + p * (SZ_4K / 4) + pick(SZ_4K / 4);
		if (m->writable && pick(2)) {
			*w = (uint32_t)next_rand();
			COUNT(store);
		} else {
			(void)*w;
		}
		COUNT(touch);
	}
	if (m->writable)
		__builtin_ia32_sfence();
}

static void op_touch(void)
{
	struct mapping *m = used_slot();

	if (m)
		touch(m);
}

static void op_rw(void)
{
	char buf[SZ_4K];
	struct region r;
	int index = any_index();
	uint64_t off;
	size_t len = 4 << pick(11);
	ssize_t ret;

	if (index < 0 || region(index, &r) || r.size < 4)
		return;
	if (len > r.size)
		len = 4;
	off = pick(r.size - len + 1) & ~3ULL;
	if (r.writable && pick(2)) {
		memset(buf, (int)pick(256), len);
		ret = pwrite(dev.fd, buf, len, r.offset + off);
	} else {
		ret = pread(dev.fd, buf, len, r.offset + off);
	}
	if (ret >= 0)
		COUNT(rw_ok);
	else if (errno == EIO)
		COUNT(rw_eio);
	else
		COUNT(rw_err);
}

static void op_reset(void)
{
	if (!can_reset)
		return;
	if (ioctl(dev.fd, VFIO_DEVICE_RESET))
		COUNT(reset_err);
	else
		COUNT(reset_ok);
}

static void op_memory(void)
{
	if (vpa_set_memory(dev.fd, 0)) {
		COUNT(mem_err);
		return;
	}
	/* The mappings in place meanwhile get SIGBUS. */
	if (pick(2)) {
		struct mapping *m = used_slot();

		if (m)
			touch(m);
	} else {
		sleep_us(pick(20000));
	}
	if (vpa_set_memory(dev.fd, 1))
		COUNT(mem_err);
	else
		COUNT(mem_toggle);
}

static void op_info(void)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct region r;
	int index = any_index();

	if (ioctl(dev.fd, VFIO_DEVICE_GET_INFO, &info) || index < 0 || region(index, &r))
		COUNT(info_err);
	else
		COUNT(info_ok);
}

static void op_ioeventfd(void)
{
	uint64_t off = REGION_OFF(VFIO_PCI_BAR2_REGION_INDEX) + pick(16) * SZ_4K;
	uint32_t data = (uint32_t)next_rand();
	int efd, ret;

	if (!is_ivshmem)
		return;
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0) {
		COUNT(ioeventfd_err);
		return;
	}
	/* Refused (EBUSY) while a window of the BAR is mapped. */
	ret = vpa_ioeventfd(dev.fd, off, data, efd);
	if (!ret) {
		COUNT(ioeventfd_ok);
		if (pick(4))
			sleep_us(pick(5000));
		/* Left in place when this fails or the process dies: close drops it. */
		vpa_ioeventfd(dev.fd, off, data, -1);
	} else if (ret == -EBUSY) {
		COUNT(ioeventfd_busy);
	} else {
		COUNT(ioeventfd_err);
	}
	close(efd);
}

static void op_fork(void)
{
	struct mapping *m;
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		COUNT(fork_err);
		return;
	}
	if (!pid) {
		/* The copies of the mappings, touched, then gone with the process. */
		m = used_slot();
		if (m)
			touch(m);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) &&
	    WTERMSIG(status) != SIGKILL) {
		COUNT(child_crash);
		fprintf(stderr, "soak_churn: forked process %d died of signal %d\n",
			pid, WTERMSIG(status));
	}
	COUNT(fork_ok);
}

static int parent_gone(void)
{
	return !is_parent && getppid() != parent;
}

static void one_op(void)
{
	/* Weights: the cheap and the mapping ops most. */
	unsigned int r = pick(100);

	if (r < 5)
		op_alias();
	else if (r < 13)
		op_window();
	else if (r < 28)
		op_map();
	else if (r < 36)
		op_unmap();
	else if (r < 61)
		op_touch();
	else if (r < 71)
		op_rw();
	else if (r < 74)
		op_reset();
	else if (r < 78)
		op_memory();
	else if (r < 92)
		op_info();
	else if (r < 96)
		op_ioeventfd();
	else
		op_fork();
}

static _Noreturn void child_main(void)
{
	is_parent = 0;
	seed();
	/* Half die with the parent at once, half notice it gone. */
	if (pick(2))
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	while (!time_up() && !parent_gone())
		one_op();
	_exit(0);
}

static pid_t kids[MAXPROCS];
static int nkids;

static void spawn(int i)
{
	fflush(stdout);
	kids[i] = fork();
	if (kids[i] < 0) {
		kids[i] = 0;
		COUNT(child_spawn_err);
		return;
	}
	if (!kids[i])
		child_main();
	COUNT(child_spawn);
}

/* Reaps dead children, counts how they died, starts new ones. */
static void tend_children(int respawn)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < nkids; i++) {
			if (kids[i] != pid)
				continue;
			kids[i] = 0;
			if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL) {
				COUNT(child_crash);
				fprintf(stderr, "soak_churn: child %d died of signal %d\n",
					pid, WTERMSIG(status));
			} else if (WIFEXITED(status) && WEXITSTATUS(status)) {
				COUNT(child_exit_err);
			}
		}
	}
	for (int i = 0; respawn && i < nkids; i++)
		if (!kids[i])
			spawn(i);
}

static void kill_one_child(void)
{
	int i = pick(nkids);

	if (!nkids || !kids[i])
		return;
	kill(kids[i], SIGKILL);
	COUNT(child_kill);
}

static void stop_children(void)
{
	int status;

	for (int i = 0; i < nkids; i++)
		if (kids[i]) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], &status, 0);
			kids[i] = 0;
		}
}

static int register_request(void)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (efd < 0)
		return -1;
	if (vpa_set_req_eventfd(dev.fd, efd)) {
		close(efd);
		return -1;
	}
	return efd;
}

/*
 * A process without make-it-fail that holds the group and container fds
 * until every process of this run is gone (each holds the write end of a
 * pipe it reads), so that the group's last close, the release of its DMA
 * ownership to the IOMMU's default domain, is never failed: that is vfio's
 * and the IOMMU's, not the driver's, and the IOMMU core WARNs when the
 * attach it must not fail gets ENOMEM. The device fd is not held: its last
 * close, the driver's close_device, stays under failslab.
 */
static void start_anchor(void)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p))
		return;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return;
	}
	if (!pid) {
		prctl(PR_SET_NAME, "soak_anchor");
		close(p[1]);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		close(dev.group);
		close(dev.container);
		_exit(0);
	}
	close(p[0]);
	/* p[1] stays open here and in every process forked from here. */
	COUNT(anchor);
}

/*
 * Opens @bdf into @dev, retrying for about 3 s each step: another user may
 * hold the group, an allocation may fail. With @fail, make-it-fail is set
 * before the device fd is asked for, and the group is left to an anchor
 * (start_anchor()); with @fail_group too, it is set before the group is
 * opened and there is no anchor.
 */
static int open_device(const char *bdf, int fail, int fail_group)
{
	int ret, tries;

	if (fail && fail_group && make_it_fail())
		return -ENOSYS;
	for (tries = 0; tries < 30; tries++) {
		ret = vpa_group_attach(bdf, &dev);
		if (!ret)
			break;
		if (ret == -EBUSY)
			COUNT(open_busy);
		else if (ret == -ENOMEM)
			COUNT(open_nomem);
		else
			COUNT(open_err);
		if (time_up())
			return ret;
		sleep_us(100000);
	}
	if (ret)
		return ret;
	if (fail && !fail_group) {
		start_anchor();
		if (make_it_fail())
			return -ENOSYS;
	}
	for (tries = 0; tries < 30; tries++) {
		ret = vpa_group_device_fd(dev.group, bdf, NULL);
		if (ret >= 0) {
			dev.fd = ret;
			COUNT(open_ok);
			return 0;
		}
		if (ret == -ENOMEM)
			COUNT(open_nomem);
		else
			COUNT(open_err);
		if (time_up())
			break;
		sleep_us(100000);
	}
	return ret;
}

static void probe_device(void)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	uint16_t id[2] = { 0, 0 };
	struct region r;

	if (pread(dev.fd, id, 4, REGION_OFF(VFIO_PCI_CONFIG_REGION_INDEX)) == 4)
		is_ivshmem = id[0] == 0x1af4 && id[1] == 0x1110;
	if (!ioctl(dev.fd, VFIO_DEVICE_GET_INFO, &info))
		can_reset = !!(info.flags & VFIO_DEVICE_FLAGS_RESET);
	for (int bar = 0; bar < NBARS; bar++) {
		struct vfio_device_feature_alias_region req = { .index = bar };

		if (!region(bar, &r))
			bar_size[bar] = r.size;
		if (!vpa_feature(dev.fd, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET,
				 &req, sizeof(req)))
			bar_probe[bar] = req.flags;
	}
}

static struct stats *stats_map(const char *path)
{
	struct stats *s;
	int fd = -1;

	if (path) {
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd < 0 || ftruncate(fd, sizeof(*s))) {
			fprintf(stderr, "soak_churn: %s: %s\n", path, strerror(errno));
			return NULL;
		}
		s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
	} else {
		s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			 -1, 0);
	}
	if (s == MAP_FAILED)
		return NULL;
	s->magic = STATS_MAGIC;
	s->ncounters = NCOUNTERS;
	return s;
}

static int sum(int argc, char **argv)
{
	uint64_t total[NCOUNTERS] = { 0 };
	struct stats s;
	int i, files = 0;

	for (i = 0; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY);

		if (fd < 0)
			continue;
		if (read(fd, &s, sizeof(s)) == sizeof(s) && s.magic == STATS_MAGIC &&
		    s.ncounters == NCOUNTERS) {
			for (int c = 0; c < NCOUNTERS; c++)
				total[c] += s.c[c];
			files++;
		}
		close(fd);
	}
	printf("files %d\n", files);
	for (i = 0; i < NCOUNTERS; i++)
		if (total[i])
			printf("%s %llu\n", counter_names[i], (unsigned long long)total[i]);
	return 0;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s --bdf BDF --seconds N [--procs P] [--stats FILE] [--ready FILE]\n"
		"          [--fail [--fail-group]] [--release PERCENT]\n"
		"       %s --sum FILE...\n", prog, prog);
	exit(1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bdf", required_argument, NULL, 'b' },
		{ "seconds", required_argument, NULL, 's' },
		{ "procs", required_argument, NULL, 'p' },
		{ "stats", required_argument, NULL, 'S' },
		{ "ready", required_argument, NULL, 'r' },
		{ "fail", no_argument, NULL, 'f' },
		{ "fail-group", no_argument, NULL, 'g' },
		{ "release", required_argument, NULL, 'R' },
		{ "sum", no_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	const char *bdf = NULL, *stats_path = NULL, *ready = NULL;
	struct sigaction sa = { .sa_handler = on_sigbus };
	struct sigaction segv = { .sa_sigaction = on_sigsegv, .sa_flags = SA_SIGINFO };
	int seconds = -1, procs = 2, fail = 0, fail_group = 0, release = 50, opt, req, ret;
	uint64_t ev;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'b': bdf = optarg; break;
		case 's': seconds = atoi(optarg); break;
		case 'p': procs = atoi(optarg); break;
		case 'S': stats_path = optarg; break;
		case 'r': ready = optarg; break;
		case 'f': fail = 1; break;
		case 'g': fail_group = 1; break;
		case 'R': release = atoi(optarg); break;
		case 'u': return sum(argc - optind, argv + optind);
		default: usage(argv[0]);
		}
	}
	if (!bdf || seconds < 0 || procs < 0 || procs > MAXPROCS)
		usage(argv[0]);
	st = stats_map(stats_path);
	if (!st)
		return 1;
	COUNT(processes);
	seed();
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += seconds;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &segv, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = open_device(bdf, fail, fail_group);
	if (ret == -ENOSYS) {
		fprintf(stderr, "soak_churn: no /proc/self/make-it-fail (CONFIG_FAULT_INJECTION)\n");
		return 1;
	}
	if (ret)
		return 3;
	probe_device();
	req = register_request();
	if (req >= 0)
		COUNT(req_irq_ok);
	else
		COUNT(req_irq_err);
	for (int i = 0; i < 4; i++)
		op_map();
	if (ready)
		close(open(ready, O_WRONLY | O_CREAT, 0644));

	is_parent = 1;
	parent = getpid();
	nkids = procs;
	for (int i = 0; i < nkids; i++)
		spawn(i);
	while (!time_up()) {
		if (req >= 0 && read(req, &ev, sizeof(ev)) == sizeof(ev)) {
			COUNT(requests);
			if ((int)pick(100) < release) {
				COUNT(released);
				break;
			}
			COUNT(ignored_requests);
		}
		tend_children(1);
		if (!pick(50))
			kill_one_child();
		one_op();
	}
	if (time_up())
		COUNT(time_up);
	stop_children();
	for (int i = 0; i < MAXMAPS; i++)
		if (maps[i].addr)
			unmap(&maps[i]);
	if (req >= 0)
		close(req);
	vpa_close(&dev);
	return 0;
}
