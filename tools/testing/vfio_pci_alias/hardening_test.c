// SPDX-License-Identifier: GPL-2.0
/*
 * Hardening: requests that change under the driver, power management, and
 * the edges of read()/write().
 *
 * - VFIO_DEVICE_IOEVENTFD is read from user memory by the driver (to find
 *   the region) and again by core (to act on it). A request whose offset
 *   changes in between must not give an ioeventfd on a write-combining BAR
 *   (one keeps a pointer into a kernel mapping that is not core's, and that
 *   goes away when the BAR returns to uncached). Made deterministic with
 *   userfaultfd: the request straddles two pages, and page A (argsz, flags,
 *   offset) is zapped while the first read faults on page B (data, fd), so
 *   that the second read faults on A again and gets another offset: the
 *   config region's first, ivshmem's BAR 2 the second time, while BAR 2 is
 *   write-combining (a mapped WC alias, or the wc_bars policy). Also the
 *   same with a thread flipping the offset, and removal of an ioeventfd of
 *   an uncached BAR;
 * - runtime PM: read()/write() of a BAR in low power wake the device as under
 *   vfio-pci, whatever is mapped (nothing, a WC window, the BAR uncached, a
 *   whole-BAR WC alias), and signal the wakeup eventfd of
 *   LOW_POWER_ENTRY_WITH_WAKEUP;
 * - read()/write() of 0 bytes return 0 at any offset of a BAR, windowed or
 *   not, and of an alias, as core returns for 0 bytes.
 *
 * Areas of ivshmem's BAR 2 written here: [56M, 60M), away from the patterns
 * other tests leave for the host to check.
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "vpa_lib.h"

#define SZ_4K		4096UL
#define SZ_64K		(64UL << 10)
#define SZ_1M		(1UL << 20)
#define WC		VFIO_ALIAS_ATTR_WC
#define REGION(i)	((uint64_t)(i) << 40)
#define BAR0		REGION(VFIO_PCI_BAR0_REGION_INDEX)
#define BAR2		REGION(VFIO_PCI_BAR2_REGION_INDEX)
#define CONFIG		REGION(VFIO_PCI_CONFIG_REGION_INDEX)

/* Where in BAR 2 the ioeventfd tests aim (and keep a sentinel). */
#define IOE_OFF		(56 * SZ_1M)
#define IOE_DATA	0xbad0feedU
#define SENTINEL	0x5a5a0001U
/* The window of the zero-length tests, and ivshmem's low-power words. */
#define WIN_OFF		(57 * SZ_1M)

/* igb: STATUS, in BAR 0; the window of the low-power tests, away from it. */
#define IGB_STATUS	0x8
#define IGB_WIN_OFF	0x10000

static void *map(int fd, size_t len, uint64_t off)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}

/* Size of region @index of the device @fd, 0 on error. */
static uint64_t region_size(int fd, uint32_t index)
{
	char buf[512];

	if (vpa_region_info(fd, index, buf, sizeof(buf)))
		return 0;
	return ((struct vfio_region_info *)buf)->size;
}

static uint32_t region_flags(int fd, uint32_t index)
{
	char buf[512];

	if (vpa_region_info(fd, index, buf, sizeof(buf)))
		return 0;
	return ((struct vfio_region_info *)buf)->flags;
}

static int rd32(int fd, uint64_t off, uint32_t *v)
{
	return pread(fd, v, 4, off) == 4 ? 0 : -1;
}

static int wr32(int fd, uint64_t off, uint32_t v)
{
	return pwrite(fd, &v, 4, off) == 4 ? 0 : -1;
}

/* Adds @n to the eventfd @efd, as a guest's doorbell write would. */
static int kick(int efd, uint64_t n)
{
	return write(efd, &n, 8) == 8 ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* VFIO_DEVICE_IOEVENTFD read twice                                        */
/* ---------------------------------------------------------------------- */

/*
 * The request is 32 bytes: argsz, flags and offset (16 bytes) at the end of
 * page A, data and fd (16 bytes) at the start of page B.
 */
#define REQ_IN_A	16

struct uffd_race {
	int uffd;
	char *area;		/* pages A and B, registered MISSING */
	size_t page;
	uint64_t first_off;	/* offset the first fault on A supplies */
	uint64_t later_off;	/* offset every later fault on A supplies */
	uint64_t data;
	int efd;
	volatile int stop;
	/* What the fault thread saw and did. */
	int nfaults;
	char seq[8];
	int a_faults;
	int zapped;
	int errors;
};

/* The bytes of page A (@which 0) or B (1) for @r with @off in page A. */
static void fill_page(struct uffd_race *r, int which, uint64_t off, char *page)
{
	struct vfio_device_ioeventfd req = {
		.argsz = sizeof(req),
		.flags = VFIO_DEVICE_IOEVENTFD_32,
		.offset = off,
		.data = r->data,
		.fd = r->efd,
	};

	memset(page, 0, r->page);
	if (which == 0)
		memcpy(page + r->page - REQ_IN_A, &req, REQ_IN_A);
	else
		memcpy(page, (char *)&req + REQ_IN_A, sizeof(req) - REQ_IN_A);
}

static int uffd_copy(struct uffd_race *r, char *dst, char *src)
{
	struct uffdio_copy c = {
		.dst = (uintptr_t)dst,
		.src = (uintptr_t)src,
		.len = r->page,
	};

	while (ioctl(r->uffd, UFFDIO_COPY, &c)) {
		if (errno == EAGAIN)
			continue;
		/* Already there: nothing to resolve. */
		return errno == EEXIST ? 0 : -1;
	}
	return 0;
}

/*
 * Resolves the faults on pages A and B: A gets first_off the first time and
 * later_off every time after; the first fault on B zaps A before filling B,
 * so the next read of A faults again.
 */
static void *fault_thread(void *arg)
{
	struct uffd_race *r = arg;
	struct pollfd pfd = { .fd = r->uffd, .events = POLLIN };
	char *src = malloc(r->page);
	struct uffd_msg msg;
	char *page;
	int which;

	if (!src) {
		r->errors++;
		return NULL;
	}
	while (!r->stop) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if (read(r->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT) {
			r->errors++;
			continue;
		}
		page = (char *)(uintptr_t)(msg.arg.pagefault.address & ~(uint64_t)(r->page - 1));
		which = page == r->area ? 0 : page == r->area + r->page ? 1 : -1;
		if (r->nfaults < (int)sizeof(r->seq) - 1)
			r->seq[r->nfaults] = which == 0 ? 'A' : which == 1 ? 'B' : '?';
		r->nfaults++;
		if (which < 0) {
			r->errors++;
			continue;
		}
		if (which == 0) {
			fill_page(r, 0, r->a_faults++ ? r->later_off : r->first_off, src);
		} else {
			if (!r->zapped && madvise(r->area, r->page, MADV_DONTNEED))
				r->errors++;
			r->zapped = 1;
			fill_page(r, 1, 0, src);
		}
		if (uffd_copy(r, page, src))
			r->errors++;
	}
	free(src);
	return NULL;
}

/*
 * VFIO_DEVICE_IOEVENTFD on @fd with the request straddling the uffd pages
 * of @r; returns the ioctl's result (0 or -errno). The fault sequence is
 * left in @r.
 */
static int uffd_ioeventfd(struct __test_metadata *_metadata, int fd, struct uffd_race *r)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	pthread_t t;
	int ret;

	r->page = sysconf(_SC_PAGESIZE);
	/* No UFFD_USER_MODE_ONLY: the faults to catch are the kernel's. */
	r->uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (r->uffd < 0)
		TH_LOG("userfaultfd: %s (the test kernel has CONFIG_USERFAULTFD)", strerror(errno));
	if (r->uffd < 0)
		return -ENOSYS;
	if (ioctl(r->uffd, UFFDIO_API, &api)) {
		TH_LOG("UFFDIO_API: %s", strerror(errno));
		close(r->uffd);
		return -ENOSYS;
	}
	r->area = mmap(NULL, 2 * r->page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->area == MAP_FAILED) {
		close(r->uffd);
		return -ENOMEM;
	}
	reg.range.start = (uintptr_t)r->area;
	reg.range.len = 2 * r->page;
	if (ioctl(r->uffd, UFFDIO_REGISTER, &reg)) {
		TH_LOG("UFFDIO_REGISTER: %s", strerror(errno));
		munmap(r->area, 2 * r->page);
		close(r->uffd);
		return -ENOSYS;
	}
	if (pthread_create(&t, NULL, fault_thread, r)) {
		munmap(r->area, 2 * r->page);
		close(r->uffd);
		return -EAGAIN;
	}
	/* Nothing touches the area before the kernel does. */
	ret = ioctl(fd, VFIO_DEVICE_IOEVENTFD, r->area + r->page - REQ_IN_A) ? -errno : 0;
	r->stop = 1;
	pthread_join(t, NULL);
	munmap(r->area, 2 * r->page);
	close(r->uffd);
	return ret;
}

/*
 * ivshmem with BAR 2 write-combining: by a mapped whole-BAR WC alias, or by
 * the wc_bars policy. A sentinel sits at IOE_OFF of BAR 2, where an
 * ioeventfd of the tests would write IOE_DATA (or its loop counter) if one
 * existed.
 */
FIXTURE(ioe) {
	struct vpa_dev d;
	int open;
	int efd;
	void *alias;		/* the WC alias mapping, NULL if none */
};

FIXTURE_VARIANT(ioe) {
	int policy;
};

FIXTURE_VARIANT_ADD(ioe, wc_alias) {
	.policy = 0,
};

FIXTURE_VARIANT_ADD(ioe, wc_policy) {
	.policy = 1,
};

FIXTURE_SETUP(ioe)
{
	int ret;

	VPA_NEED(VPA_IVSHMEM);
	self->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ASSERT_LE(0, self->efd);
	if (variant->policy)
		ASSERT_EQ(0, vpa_set_wc_bars(vpa_bdf(VPA_IVSHMEM), "2"));
	ret = vpa_open(vpa_bdf(VPA_IVSHMEM), &self->d);
	/* A failed setup gets no teardown: take the policy back here. */
	if (ret && variant->policy)
		vpa_set_wc_bars(vpa_bdf(VPA_IVSHMEM), "none");
	ASSERT_EQ(0, ret);
	self->open = 1;
}

/*
 * Makes BAR 2 write-combining (the policy did already) and puts the
 * sentinel in place; in the test, so that the teardown runs after it.
 */
static void ioe_prepare(struct __test_metadata *_metadata, FIXTURE_DATA(ioe) *self,
			const FIXTURE_VARIANT(ioe) *variant)
{
	uint32_t v;
	int a;

	ASSERT_LT(IOE_OFF + SZ_1M, region_size(self->d.fd, 2));
	ASSERT_EQ(0, wr32(self->d.fd, BAR2 + IOE_OFF, SENTINEL));
	if (variant->policy) {
		ASSERT_TRUE(region_flags(self->d.fd, 2) & VFIO_REGION_INFO_FLAG_WC);
	} else {
		a = vpa_alias(self->d.fd, 2, WC);
		ASSERT_GE(a, 0);
		self->alias = map(self->d.fd, SZ_4K, REGION(a) + IOE_OFF);
		ASSERT_NE(MAP_FAILED, self->alias);
		/* Touched: the mapping is live, BAR 2 write-combining. */
		ASSERT_EQ(0, vpa_read_sigbus(self->alias, &v));
		ASSERT_EQ(SENTINEL, v);
	}
	/* BAR 2 is write-combining now: asked directly, no ioeventfd on it. */
	ASSERT_EQ(-EBUSY, vpa_ioeventfd(self->d.fd, BAR2 + IOE_OFF, IOE_DATA, self->efd));
}

FIXTURE_TEARDOWN(ioe)
{
	if (self->alias && self->alias != MAP_FAILED)
		munmap(self->alias, SZ_4K);
	if (self->open)
		vpa_close(&self->d);
	if (variant->policy)
		vpa_set_wc_bars(vpa_bdf(VPA_IVSHMEM), "none");
	close(self->efd);
}

/*
 * After a raced request: no ioeventfd writes into BAR 2 when the eventfd is
 * signalled, while BAR 2 is still write-combining and, for the alias, after
 * the alias is unmapped (an ioeventfd would then point into a mapping that
 * is gone); none can be removed; the device still works.
 */
static void check_no_ioeventfd(struct __test_metadata *_metadata, FIXTURE_DATA(ioe) *self,
			       const uint32_t *datas, int n)
{
	uint32_t v;
	int i, ret;

	ASSERT_EQ(0, kick(self->efd, 1));
	usleep(200 * 1000);
	ASSERT_EQ(0, rd32(self->d.fd, BAR2 + IOE_OFF, &v));
	ASSERT_EQ(SENTINEL, v) TH_LOG("an ioeventfd wrote %#x into write-combining BAR 2", v);
	for (i = 0; i < n; i++) {
		ret = vpa_ioeventfd(self->d.fd, BAR2 + IOE_OFF, datas[i], -1);
		ASSERT_NE(0, ret) TH_LOG("removed an ioeventfd (data %#x) on WC BAR 2", datas[i]);
	}
	if (self->alias) {
		/* BAR 2 uncached again: core answers, and must find none. */
		ASSERT_EQ(0, munmap(self->alias, SZ_4K));
		self->alias = NULL;
		for (i = 0; i < n; i++) {
			ret = vpa_ioeventfd(self->d.fd, BAR2 + IOE_OFF, datas[i], -1);
			ASSERT_EQ(-ENODEV, ret)
				TH_LOG("removal of data %#x: %s", datas[i], strerror(-ret));
		}
		ASSERT_EQ(0, kick(self->efd, 1));
		usleep(200 * 1000);
	}
	/* The device still works, and nothing wrote to it. */
	ASSERT_EQ(0, rd32(self->d.fd, BAR2 + IOE_OFF, &v));
	ASSERT_EQ(SENTINEL, v);
	ASSERT_EQ(0, wr32(self->d.fd, BAR2 + IOE_OFF + 4, ~SENTINEL));
	ASSERT_EQ(0, rd32(self->d.fd, BAR2 + IOE_OFF + 4, &v));
	ASSERT_EQ(~SENTINEL, v);
}

/*
 * First read of the request: the config region (core refuses ioeventfds
 * there: the driver lets it through to core). Second read, core's: BAR 2,
 * write-combining. The ioctl must fail (the fixed driver: EBUSY) and leave
 * no ioeventfd behind.
 */
TEST_F_TIMEOUT(ioe, request_read_twice_uffd, 120)
{
	struct uffd_race r = {
		.first_off = CONFIG + IOE_OFF,
		.later_off = BAR2 + IOE_OFF,
		.data = IOE_DATA,
		.efd = self->efd,
	};
	const uint32_t data = IOE_DATA;
	int ret;

	ioe_prepare(_metadata, self, variant);
	ret = uffd_ioeventfd(_metadata, self->d.fd, &r);
	ASSERT_NE(-ENOSYS, ret);
	TH_LOG("faults %s, ioctl: %s", r.seq, ret ? strerror(-ret) : "success");
	ASSERT_EQ(0, r.errors);
	/*
	 * A then B is every read of the request; a second read of A (core's,
	 * after the driver's) is the race, which must then come last. Any
	 * other sequence means the test did not run what it means to.
	 */
	ASSERT_TRUE(!strcmp(r.seq, "ABA") || !strcmp(r.seq, "AB"))
		TH_LOG("fault sequence %s", r.seq);
	ASSERT_NE(0, ret) TH_LOG("an ioeventfd was created on write-combining BAR 2");
	if (ret != -EBUSY)
		TH_LOG("failed with %s (the fixed driver says EBUSY)", strerror(-ret));
	check_no_ioeventfd(_metadata, self, &data, 1);
}

struct flipper {
	volatile uint64_t *offset;
	uint64_t a, b;
	int cpu;		/* to run on, -1 for any */
	volatile int stop;
	unsigned long flips;
};

/* Pins the calling thread to @cpu (if >= 0); 0 or an errno. */
static int pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *flip_thread(void *arg)
{
	struct flipper *f = arg;
	unsigned long n;

	pin(f->cpu);
	/* Each value as long as the other. */
	for (n = 0; !f->stop; n++)
		*f->offset = n & 1 ? f->b : f->a;
	f->flips = n;
	return NULL;
}

/* The first two CPUs this thread may run on, -1 where there are none. */
static void two_cpus(int *c0, int *c1)
{
	cpu_set_t set;
	int i;

	*c0 = *c1 = -1;
	if (sched_getaffinity(0, sizeof(set), &set))
		return;
	for (i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, &set))
			continue;
		if (*c0 < 0) {
			*c0 = i;
		} else {
			*c1 = i;
			return;
		}
	}
	*c0 = -1;
}

#define RACE_MIN_ROUNDS	3000
#define RACE_MAX_ROUNDS	30000
#define RACE_MAX_SECS	60

/*
 * The same race without userfaultfd: a thread flips the offset of a shared
 * request between the config region and BAR 2 while this one asks for
 * ioeventfds. Core refuses the config region (EINVAL), the driver or core a
 * write-combining BAR 2 (EBUSY): no request may succeed. The two threads run
 * on two CPUs; the requests go on until both answers were seen (under QEMU's
 * TCG the vCPUs take turns, so the offset seen changes only as often as the
 * turn does), at least RACE_MIN_ROUNDS of them.
 */
TEST_F_TIMEOUT(ioe, request_flipped_race, 300)
{
	static uint32_t datas[RACE_MAX_ROUNDS];
	struct vfio_device_ioeventfd req = {
		.argsz = sizeof(req),
		.flags = VFIO_DEVICE_IOEVENTFD_32,
		.offset = CONFIG + IOE_OFF,
		.fd = self->efd,
	};
	struct flipper f = {
		.offset = (volatile uint64_t *)&req.offset,
		.a = CONFIG + IOE_OFF,
		.b = BAR2 + IOE_OFF,
	};
	int i, ok = 0, einval = 0, ebusy = 0, other = 0, other_errno = 0, me;
	uint64_t until;
	pthread_t t;

	ioe_prepare(_metadata, self, variant);
	two_cpus(&me, &f.cpu);
	ASSERT_EQ(0, pin(me));
	ASSERT_EQ(0, pthread_create(&t, NULL, flip_thread, &f));
	until = vpa_now_ns() + RACE_MAX_SECS * 1000000000ULL;
	for (i = 0; i < RACE_MAX_ROUNDS; i++) {
		if (i >= RACE_MIN_ROUNDS && einval && ebusy)
			break;
		if (vpa_now_ns() > until)
			break;
		datas[i] = IOE_DATA + 1 + i;
		req.data = datas[i];
		if (!ioctl(self->d.fd, VFIO_DEVICE_IOEVENTFD, &req))
			ok++;
		else if (errno == EINVAL)
			einval++;
		else if (errno == EBUSY)
			ebusy++;
		else
			other++, other_errno = errno;
	}
	f.stop = 1;
	pthread_join(t, NULL);
	TH_LOG("%d rounds, %lu flips (CPUs %d, %d): %d created, %d EINVAL, %d EBUSY, %d other (last %s)",
	       i, f.flips, me, f.cpu, ok, einval, ebusy, other, strerror(other_errno));
	ASSERT_EQ(0, ok) TH_LOG("ioeventfds created on write-combining BAR 2");
	/* Both offsets were seen: the requests did race with the flips. */
	ASSERT_GT(einval, 0);
	ASSERT_GT(ebusy, 0);
	check_no_ioeventfd(_metadata, self, datas, i);
}

/* An ioeventfd of an uncached BAR comes and goes (fd -1 removes it). */
TEST(ioeventfd_removal_on_uncached_bars)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	struct vpa_dev d;
	uint32_t v;

	VPA_NEED(VPA_EDU, VPA_IVSHMEM);
	ASSERT_LE(0, efd);
	/* edu BAR 0, the liveness register. */
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_EDU), &d));
	ASSERT_EQ(0, vpa_ioeventfd(d.fd, BAR0 + 0x4, 0x1234, efd));
	ASSERT_EQ(-EEXIST, vpa_ioeventfd(d.fd, BAR0 + 0x4, 0x1234, efd));
	ASSERT_EQ(0, vpa_ioeventfd(d.fd, BAR0 + 0x4, 0x1234, -1));
	ASSERT_EQ(-ENODEV, vpa_ioeventfd(d.fd, BAR0 + 0x4, 0x1234, -1));
	vpa_close(&d);

	/* ivshmem BAR 2 with nothing mapped write-combining. */
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IVSHMEM), &d));
	ASSERT_FALSE(region_flags(d.fd, 2) & VFIO_REGION_INFO_FLAG_WC);
	ASSERT_EQ(0, wr32(d.fd, BAR2 + IOE_OFF + 8, SENTINEL));
	ASSERT_EQ(0, vpa_ioeventfd(d.fd, BAR2 + IOE_OFF + 8, IOE_DATA, efd));
	/* It works: the eventfd writes the data. */
	ASSERT_EQ(0, kick(efd, 1));
	usleep(200 * 1000);
	ASSERT_EQ(0, rd32(d.fd, BAR2 + IOE_OFF + 8, &v));
	ASSERT_EQ(IOE_DATA, v);
	ASSERT_EQ(0, vpa_ioeventfd(d.fd, BAR2 + IOE_OFF + 8, IOE_DATA, -1));
	ASSERT_EQ(-ENODEV, vpa_ioeventfd(d.fd, BAR2 + IOE_OFF + 8, IOE_DATA, -1));
	/* Gone: it writes no more. */
	ASSERT_EQ(0, wr32(d.fd, BAR2 + IOE_OFF + 8, SENTINEL));
	ASSERT_EQ(0, kick(efd, 1));
	usleep(200 * 1000);
	ASSERT_EQ(0, rd32(d.fd, BAR2 + IOE_OFF + 8, &v));
	ASSERT_EQ(SENTINEL, v);
	vpa_close(&d);
	close(efd);
}

/* ---------------------------------------------------------------------- */
/* Runtime PM                                                              */
/* ---------------------------------------------------------------------- */

/* VFIO_DEVICE_FEATURE @feature with @flags and payload @data of @len bytes. */
static int feature(int fd, uint32_t flags, uint32_t feature, const void *data, size_t len)
{
	char buf[sizeof(struct vfio_device_feature) + 16] = { 0 };
	struct vfio_device_feature *f = (void *)buf;

	if (len > 16)
		return -E2BIG;
	f->argsz = sizeof(*f) + len;
	f->flags = flags | feature;
	if (len)
		memcpy(f->data, data, len);
	return ioctl(fd, VFIO_DEVICE_FEATURE, f) ? -errno : 0;
}

/* LOW_POWER_ENTRY, or with @efd >= 0 LOW_POWER_ENTRY_WITH_WAKEUP. */
static int low_power_entry(int fd, int efd)
{
	struct vfio_device_low_power_entry_with_wakeup w = { .wakeup_eventfd = efd };

	if (efd < 0)
		return feature(fd, VFIO_DEVICE_FEATURE_SET, VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY,
			       NULL, 0);
	return feature(fd, VFIO_DEVICE_FEATURE_SET,
		       VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP, &w, sizeof(w));
}

static int low_power_exit(int fd)
{
	return feature(fd, VFIO_DEVICE_FEATURE_SET, VFIO_DEVICE_FEATURE_LOW_POWER_EXIT, NULL, 0);
}

/* The first line of sysfs attribute @attr of @bdf into @buf ("" if none). */
static const char *dev_attr(const char *bdf, const char *attr, char *buf, size_t len)
{
	vpa_dev_attr(bdf, attr, buf, len);
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

/*
 * Waits up to 10 s for @bdf to be runtime suspended, in a D3 state where
 * its BARs do not decode (so that a read nobody woke it for fails).
 */
static int wait_suspended(const char *bdf)
{
	char buf[64];
	int i;

	for (i = 0; i < 1000; i++) {
		if (!strcmp(dev_attr(bdf, "power/runtime_status", buf, sizeof(buf)), "suspended"))
			break;
		usleep(10 * 1000);
	}
	if (i == 1000)
		return 0;
	/* power_state: D3hot (or D3cold) while suspended. */
	dev_attr(bdf, "power_state", buf, sizeof(buf));
	return !buf[0] || !strncmp(buf, "D3", 2);
}

/* Whether @efd is signalled within @ms; reads (clears) it if so. */
static int signalled(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t n;

	if (poll(&p, 1, ms) != 1 || !(p.revents & POLLIN))
		return 0;
	return read(efd, &n, 8) == 8 && n > 0;
}

/* Whether @bdf's config space has capability @id (standard list). */
static int has_cap(const char *bdf, int id)
{
	unsigned char cfg[256];

	return vpa_pci_cap(bdf, id, 2, cfg) != 0;
}

/*
 * In low power, a read of @rd (which read @want before) and a write of
 * @wval to @wr of the device @fd (@bdf): without wakeup they work and the
 * device goes back to low power after each; with wakeup each of them works
 * and signals the eventfd.
 */
static void low_power_rw(struct __test_metadata *_metadata, int fd, const char *bdf,
			 uint64_t rd, uint32_t want, uint64_t wr, uint32_t wval)
{
	char state[64];
	uint32_t v;
	int efd, i;

	ASSERT_EQ(0, low_power_entry(fd, -1));
	ASSERT_TRUE(wait_suspended(bdf)) TH_LOG("not suspended in D3 after LOW_POWER_ENTRY: %s, %s",
					  dev_attr(bdf, "power/runtime_status", state, 32),
					  dev_attr(bdf, "power_state", state + 32, 32));
	v = ~want;
	ASSERT_EQ(4, pread(fd, &v, 4, rd)) TH_LOG("read in low power: %s", strerror(errno));
	ASSERT_EQ(want, v);
	/* Still in low power: suspended again after the read. */
	ASSERT_TRUE(wait_suspended(bdf));
	ASSERT_EQ(4, pwrite(fd, &wval, 4, wr)) TH_LOG("write in low power: %s", strerror(errno));
	ASSERT_TRUE(wait_suspended(bdf));
	ASSERT_EQ(0, low_power_exit(fd));

	/* With wakeup: woken by a read, then by a write. */
	for (i = 0; i < 2; i++) {
		efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ASSERT_LE(0, efd);
		ASSERT_EQ(0, low_power_entry(fd, efd));
		ASSERT_TRUE(wait_suspended(bdf));
		/* Nothing woke it yet (sysfs reads do not). */
		ASSERT_FALSE(signalled(efd, 0));
		if (!i) {
			v = ~want;
			ASSERT_EQ(4, pread(fd, &v, 4, rd))
				TH_LOG("read in low power (wakeup): %s", strerror(errno));
			ASSERT_EQ(want, v);
		} else {
			ASSERT_EQ(4, pwrite(fd, &wval, 4, wr))
				TH_LOG("write in low power (wakeup): %s", strerror(errno));
		}
		ASSERT_TRUE(signalled(efd, 5000)) TH_LOG("wakeup eventfd not signalled by the %s",
							 i ? "write" : "read");
		ASSERT_EQ(0, low_power_exit(fd));
		close(efd);
	}
	/* Awake: as before. */
	ASSERT_EQ(4, pread(fd, &v, 4, rd));
	ASSERT_EQ(want, v);
}

/* igb: STATUS read in low power, STATUS written back with what it reads. */
FIXTURE(igb_pm) {
	struct vpa_dev d;
	uint32_t status;
};

FIXTURE_SETUP(igb_pm)
{
	VPA_NEED(VPA_IGB);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IGB), &self->d));
	ASSERT_TRUE(has_cap(vpa_bdf(VPA_IGB), PCI_CAP_ID_PM));
	ASSERT_EQ(0x20000, region_size(self->d.fd, 0));
	/* Not a skip: the test kernel has CONFIG_PM, and vfio-pci these features. */
	ASSERT_EQ(0, feature(self->d.fd, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET,
			     VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, NULL, 0));
	ASSERT_EQ(0, feature(self->d.fd, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET,
			     VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP, NULL, 0));
	ASSERT_EQ(0, feature(self->d.fd, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET,
			     VFIO_DEVICE_FEATURE_LOW_POWER_EXIT, NULL, 0));
	ASSERT_EQ(0, rd32(self->d.fd, BAR0 + IGB_STATUS, &self->status));
	ASSERT_NE(0xffffffff, self->status);
}

FIXTURE_TEARDOWN(igb_pm)
{
	vpa_close(&self->d);
}

TEST_F_TIMEOUT(igb_pm, nothing_mapped, 120)
{
	low_power_rw(_metadata, self->d.fd, vpa_bdf(VPA_IGB), BAR0 + IGB_STATUS, self->status,
		     BAR0 + IGB_STATUS, self->status);
}

/*
 * A WC window of BAR 0 mapped away from STATUS: the driver serves the BAR's
 * read/write itself; it must wake the device as core does.
 */
TEST_F_TIMEOUT(igb_pm, wc_window_mapped, 120)
{
	volatile uint32_t *win;
	uint32_t v;
	int w;

	w = vpa_window(self->d.fd, 0, WC, IGB_WIN_OFF, SZ_4K);
	ASSERT_GE(w, 0);
	win = map(self->d.fd, SZ_4K, REGION(w));
	ASSERT_NE(MAP_FAILED, win);
	ASSERT_EQ(0, vpa_read_sigbus(win, &v));
	low_power_rw(_metadata, self->d.fd, vpa_bdf(VPA_IGB), BAR0 + IGB_STATUS, self->status,
		     BAR0 + IGB_STATUS, self->status);
	/* Through the window's alias too. */
	ASSERT_EQ(0, low_power_entry(self->d.fd, -1));
	ASSERT_TRUE(wait_suspended(vpa_bdf(VPA_IGB)));
	ASSERT_EQ(4, pread(self->d.fd, &v, 4, REGION(w))) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, low_power_exit(self->d.fd));
	/* Zapped on entry, it faults back in. */
	ASSERT_EQ(0, vpa_read_sigbus(win, &v));
	ASSERT_EQ(0, munmap((void *)win, SZ_4K));
}

TEST_F_TIMEOUT(igb_pm, bar_mapped_uncached, 120)
{
	volatile uint32_t *bar = map(self->d.fd, SZ_4K, BAR0);
	uint32_t v;

	ASSERT_NE(MAP_FAILED, bar);
	ASSERT_EQ(0, vpa_read_sigbus(bar + IGB_STATUS / 4, &v));
	ASSERT_EQ(self->status, v);
	low_power_rw(_metadata, self->d.fd, vpa_bdf(VPA_IGB), BAR0 + IGB_STATUS, self->status,
		     BAR0 + IGB_STATUS, self->status);
	ASSERT_EQ(0, vpa_read_sigbus(bar + IGB_STATUS / 4, &v));
	ASSERT_EQ(self->status, v);
	ASSERT_EQ(0, munmap((void *)bar, SZ_4K));
}

/* BAR 0 write-combining as a whole (a mapped whole-BAR WC alias). */
TEST_F_TIMEOUT(igb_pm, whole_wc_alias_mapped, 120)
{
	volatile uint32_t *alias;
	uint32_t v;
	int a;

	a = vpa_alias(self->d.fd, 0, WC);
	ASSERT_GE(a, 0);
	alias = map(self->d.fd, SZ_4K, REGION(a));
	ASSERT_NE(MAP_FAILED, alias);
	ASSERT_EQ(0, vpa_read_sigbus(alias + IGB_STATUS / 4, &v));
	ASSERT_EQ(self->status, v);
	ASSERT_TRUE(region_flags(self->d.fd, a) & VFIO_REGION_INFO_FLAG_WC);
	low_power_rw(_metadata, self->d.fd, vpa_bdf(VPA_IGB), BAR0 + IGB_STATUS, self->status,
		     BAR0 + IGB_STATUS, self->status);
	/* The alias's own offsets, read in low power. */
	ASSERT_EQ(0, low_power_entry(self->d.fd, -1));
	ASSERT_TRUE(wait_suspended(vpa_bdf(VPA_IGB)));
	ASSERT_EQ(4, pread(self->d.fd, &v, 4, REGION(a) + IGB_STATUS)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(self->status, v);
	ASSERT_EQ(0, low_power_exit(self->d.fd));
	ASSERT_EQ(0, vpa_read_sigbus(alias + IGB_STATUS / 4, &v));
	ASSERT_EQ(self->status, v);
	ASSERT_EQ(0, munmap((void *)alias, SZ_4K));
}

/* ---------------------------------------------------------------------- */
/* Zero-length read()/write()                                              */
/* ---------------------------------------------------------------------- */

/* 0-byte pread and pwrite at @off of @fd both return 0. */
static void zero_rw(struct __test_metadata *_metadata, int fd, uint64_t off, const char *what)
{
	uint32_t v = 0;

	errno = 0;
	EXPECT_EQ(0, pread(fd, &v, 0, off)) TH_LOG("pread 0 bytes at %s: %s", what, strerror(errno));
	errno = 0;
	EXPECT_EQ(0, pwrite(fd, &v, 0, off)) TH_LOG("pwrite 0 bytes at %s: %s", what, strerror(errno));
}

/* A BAR with a mapped WC window, and the window's alias (mapped or not). */
TEST(zero_length_windowed_bar_and_window)
{
	volatile uint32_t *win;
	struct vpa_dev d;
	uint64_t len, aoff;
	uint32_t v;
	int w;

	VPA_NEED(VPA_IVSHMEM);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IVSHMEM), &d));
	len = region_size(d.fd, 2);
	ASSERT_LT(WIN_OFF + SZ_64K, len);
	w = vpa_window(d.fd, 2, WC, WIN_OFF, SZ_64K);
	ASSERT_GE(w, 0);
	aoff = REGION(w);

	/* The window's alias, not mapped yet. */
	zero_rw(_metadata, d.fd, aoff, "alias start (unmapped)");
	zero_rw(_metadata, d.fd, aoff + SZ_64K, "alias end (unmapped)");
	zero_rw(_metadata, d.fd, aoff + SZ_1M, "past alias end (unmapped)");

	win = map(d.fd, SZ_64K, aoff);
	ASSERT_NE(MAP_FAILED, win);
	ASSERT_EQ(0, vpa_read_sigbus(win, &v));
	/* BAR 2 is windowed now. */
	zero_rw(_metadata, d.fd, BAR2, "BAR start");
	zero_rw(_metadata, d.fd, BAR2 + WIN_OFF, "window start in the BAR");
	zero_rw(_metadata, d.fd, BAR2 + len - 4, "BAR's last word");
	zero_rw(_metadata, d.fd, BAR2 + len, "BAR end");
	zero_rw(_metadata, d.fd, BAR2 + len + SZ_4K, "past BAR end");
	zero_rw(_metadata, d.fd, BAR2 + REGION(1) - 1, "last offset of the BAR's region");
	zero_rw(_metadata, d.fd, aoff, "alias start");
	zero_rw(_metadata, d.fd, aoff + SZ_64K, "alias end");
	zero_rw(_metadata, d.fd, aoff + SZ_1M, "past alias end");
	/* 4 bytes at the end are refused, as by core. */
	ASSERT_EQ(-1, pread(d.fd, &v, 4, BAR2 + len));
	ASSERT_EQ(EINVAL, errno);
	ASSERT_EQ(-1, pread(d.fd, &v, 4, aoff + SZ_64K));
	ASSERT_EQ(EINVAL, errno);
	/* And 4 bytes inside still work. */
	ASSERT_EQ(4, pread(d.fd, &v, 4, aoff));
	ASSERT_EQ(4, pread(d.fd, &v, 4, BAR2 + len - 4));
	ASSERT_EQ(0, munmap((void *)win, SZ_64K));
	vpa_close(&d);
}

/* BARs that are not windowed, and a whole-BAR alias: core's answer, 0. */
TEST(zero_length_plain_bars)
{
	struct vpa_dev d;
	uint64_t len;
	uint32_t v;
	int a;

	VPA_NEED(VPA_EDU, VPA_IVSHMEM);
	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_EDU), &d));
	len = region_size(d.fd, 0);
	ASSERT_NE(0, len);
	zero_rw(_metadata, d.fd, BAR0, "edu BAR start");
	zero_rw(_metadata, d.fd, BAR0 + len, "edu BAR end");
	zero_rw(_metadata, d.fd, BAR0 + len + SZ_4K, "past edu BAR end");
	a = vpa_alias(d.fd, 0, WC);
	ASSERT_GE(a, 0);
	zero_rw(_metadata, d.fd, REGION(a), "edu alias start");
	zero_rw(_metadata, d.fd, REGION(a) + len, "edu alias end");
	ASSERT_EQ(-1, pread(d.fd, &v, 4, BAR0 + len));
	ASSERT_EQ(EINVAL, errno);
	vpa_close(&d);

	ASSERT_EQ(0, vpa_open(vpa_bdf(VPA_IVSHMEM), &d));
	len = region_size(d.fd, 2);
	ASSERT_NE(0, len);
	zero_rw(_metadata, d.fd, BAR2, "ivshmem BAR 2 start");
	zero_rw(_metadata, d.fd, BAR2 + len, "ivshmem BAR 2 end");
	zero_rw(_metadata, d.fd, BAR2 + len + SZ_1M, "past ivshmem BAR 2 end");
	vpa_close(&d);
}

VPA_HARNESS_MAIN
