// SPDX-License-Identifier: GPL-2.0
/*
 * vpa_bench: the cost of the VFIO device-fd paths (read/write of a BAR and
 * of config space, region and device info, mmap faults, the ALIAS_REGION
 * SET) on whichever driver edu and ivshmem are bound to, for tools/bench.sh.
 *
 *   vpa_bench --driver NAME --round N [--calls 4000] [BDF...]
 *
 * edu and ivshmem as BDF arguments or in VPA_EDU_BDF and VPA_IVSHMEM_BDF
 * (vpa_lib.h).
 *
 * NAME and N only label the output: one line per operation on stdout,
 *
 *   VPA-BENCH: round=N driver=NAME op=OP ns=NS[ faults=F]
 *
 * NS is the mean time of one operation (CLOCK_MONOTONIC, after a warm-up),
 * F the minor faults per iteration; "ns=-" for alias-set where the driver
 * has no ALIAS_REGION feature. The operations, in the order they run:
 *
 *   pread         pread() of 4 bytes of edu's BAR0 (its ID register)
 *   pwrite        pwrite() of 4 bytes of edu's BAR0 (its liveness register)
 *   config-pread  pread() of 4 bytes of edu's config space
 *   region-info   VFIO_DEVICE_GET_REGION_INFO of BAR0
 *   get-info      VFIO_DEVICE_GET_INFO
 *   mmap-fault    mmap() a page of edu's BAR0, one read (the fault), munmap()
 *                 (calls/10 iterations)
 *   fault-64m     mmap() ivshmem's 64 MiB BAR2 at a 2 MiB-aligned address,
 *                 read a byte of every 4 KiB page, munmap() (20 iterations)
 *   pread-4t      4 threads each doing CALLS preads of the ID register on
 *                 the same fd at once; wall time / (4 * CALLS)
 *   alias-set     ALIAS_REGION SET of the existing WC alias of edu's BAR0
 *                 (runs late: the alias it creates stays until close); a
 *                 failure if NAME is vfio-pci-alias and PROBE says no
 *   get-info-aliased  VFIO_DEVICE_GET_INFO with that alias in place (it is
 *                 counted in num_regions); on vfio-pci, which has no alias,
 *                 the same call as get-info
 *   pread-alias   pread() of the ID register through that alias; on
 *                 vfio-pci, through BAR0 (what its users do instead)
 *
 * Exit status 0 if every operation ran, 1 if one failed ("FAIL: ..." on
 * stderr), 2 for bad arguments.
 */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "vpa_lib.h"

#define SZ_2M		(2UL << 20)
#define PAGE		4096UL
#define WARMUP		100
#define NTHREADS	4
#define FAULT64_ITERS	20
#define EDU_ID		0x00	/* edu register: 0x010000ed */
#define EDU_LIVENESS	0x04	/* edu register: returns ~value written */

struct bench {
	const char *driver;
	int round;
	long calls;
	struct vpa_dev edu;
	struct vpa_dev ivshmem;
	uint64_t bar0;		/* offset of edu's BAR0 on its fd */
	uint64_t config;	/* offset of edu's config space */
	uint64_t bar2;		/* offset of ivshmem's BAR2 */
	size_t bar2_size;
	char alias_buf[sizeof(struct vfio_device_feature) +
		       sizeof(struct vfio_device_feature_alias_region)] __attribute__((aligned(8)));
	uint32_t feature;	/* ALIAS_REGION's number */
	uint32_t alias_index;
};

static int failed;

#define FAIL(...) do {						\
	fprintf(stderr, "FAIL: " __VA_ARGS__);			\
	fputc('\n', stderr);					\
	failed = 1;						\
} while (0)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static void report(struct bench *b, const char *op, double ns, double faults)
{
	printf("VPA-BENCH: round=%d driver=%s op=%s ", b->round, b->driver, op);
	if (ns < 0)
		printf("ns=-");
	else
		printf("ns=%.1f", ns);
	if (faults >= 0)
		printf(" faults=%.1f", faults);
	printf("\n");
	fflush(stdout);
}

/* Offset and size of region @index of @fd; 0 or -errno. */
static int region(int fd, uint32_t index, uint64_t *offset, size_t *size, uint32_t *flags)
{
	struct vfio_region_info info;
	int ret = vpa_region_info(fd, index, &info, sizeof(info));

	if (ret)
		return ret;
	*offset = info.offset;
	if (size)
		*size = info.size;
	if (flags)
		*flags = info.flags;
	return 0;
}

/* One iteration of an operation: 0, or -1 with errno set. */
typedef int (*op_fn)(struct bench *b);

/*
 * Runs @fn @warmup times, then @iters times under the clock; the mean ns
 * per iteration into @ns and the minor faults per iteration into @faults.
 */
static int timed(struct bench *b, const char *op, op_fn fn, long iters, long warmup,
		 double *ns, double *faults)
{
	uint64_t t0, t1;
	long i, f0;

	for (i = 0; i < warmup; i++) {
		if (fn(b)) {
			FAIL("%s (warm-up %ld): %s", op, i, strerror(errno));
			return -1;
		}
	}
	f0 = minflt();
	t0 = now_ns();
	for (i = 0; i < iters; i++) {
		if (fn(b)) {
			FAIL("%s (call %ld): %s", op, i, strerror(errno));
			return -1;
		}
	}
	t1 = now_ns();
	*ns = (double)(t1 - t0) / iters;
	if (faults)
		*faults = (double)(minflt() - f0) / iters;
	return 0;
}

static int bench_op(struct bench *b, const char *op, op_fn fn, long iters, long warmup,
		    int with_faults)
{
	double ns, faults = -1;

	if (timed(b, op, fn, iters, warmup, &ns, with_faults ? &faults : NULL))
		return -1;
	report(b, op, ns, faults);
	return 0;
}

static int do_pread(struct bench *b)
{
	uint32_t v;

	return pread(b->edu.fd, &v, 4, b->bar0 + EDU_ID) == 4 ? 0 : -1;
}

static int do_pwrite(struct bench *b)
{
	uint32_t v = 0x5a5a5a5a;

	return pwrite(b->edu.fd, &v, 4, b->bar0 + EDU_LIVENESS) == 4 ? 0 : -1;
}

static int do_config_pread(struct bench *b)
{
	uint32_t v;

	return pread(b->edu.fd, &v, 4, b->config) == 4 ? 0 : -1;
}

static int do_region_info(struct bench *b)
{
	struct vfio_region_info info = { .argsz = sizeof(info), .index = 0 };

	return ioctl(b->edu.fd, VFIO_DEVICE_GET_REGION_INFO, &info);
}

static int do_get_info(struct bench *b)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	return ioctl(b->edu.fd, VFIO_DEVICE_GET_INFO, &info);
}

/* The alias, once bench_alias_set() made it; BAR0 without one. */
static int do_pread_alias(struct bench *b)
{
	uint64_t at = b->alias_index ? (uint64_t)b->alias_index << 40 : b->bar0;
	uint32_t v;

	return pread(b->edu.fd, &v, 4, at + EDU_ID) == 4 ? 0 : -1;
}

static int do_mmap_fault(struct bench *b)
{
	volatile uint32_t *p;
	uint32_t v;

	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, b->edu.fd, b->bar0);
	if (p == MAP_FAILED)
		return -1;
	v = p[EDU_ID / 4];
	munmap((void *)p, PAGE);
	if ((v & 0xffff) != 0x00ed) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/*
 * The BAR at a 2 MiB-aligned address, as a user that wants huge mappings
 * places it (7.3's vfio has no get_unmapped_area to do it): an anonymous
 * reservation 2 MiB larger, the BAR mapped over its aligned part.
 */
static int do_fault_64m(struct bench *b)
{
	size_t len = b->bar2_size, i;
	volatile char *p;
	char *resv, *at;

	resv = mmap(NULL, len + SZ_2M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (resv == MAP_FAILED)
		return -1;
	at = (char *)(((unsigned long)resv + SZ_2M - 1) & ~(SZ_2M - 1));
	p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, b->ivshmem.fd, b->bar2);
	if (p == MAP_FAILED) {
		munmap(resv, len + SZ_2M);
		return -1;
	}
	for (i = 0; i < len; i += PAGE)
		(void)p[i];
	munmap(resv, len + SZ_2M);
	return 0;
}

/* ALIAS_REGION SET of a WC alias of BAR0 from the prepared request. */
static int alias_set(struct bench *b, uint32_t flags)
{
	struct vfio_device_feature *f = (void *)b->alias_buf;
	struct vfio_device_feature_alias_region *req = (void *)f->data;

	f->flags = flags | b->feature;
	req->flags = VFIO_ALIAS_ATTR_WC;
	req->index = 0;
	req->alias_index = 0;
	return ioctl(b->edu.fd, VFIO_DEVICE_FEATURE, f);
}

static int do_alias_set(struct bench *b)
{
	struct vfio_device_feature *f = (void *)b->alias_buf;
	struct vfio_device_feature_alias_region *req = (void *)f->data;

	if (alias_set(b, VFIO_DEVICE_FEATURE_SET))
		return -1;
	if (req->alias_index != b->alias_index) {
		errno = EBADSLT;
		return -1;
	}
	return 0;
}

/*
 * The feature request is built once: vpa_alias() reads the feature number
 * from sysfs on every call, which would cost more than the ioctl.
 */
static void bench_alias_set(struct bench *b)
{
	struct vfio_device_feature *f = (void *)b->alias_buf;
	struct vfio_device_feature_alias_region *req = (void *)f->data;
	int want = !strcmp(b->driver, "vfio-pci-alias");

	memset(b->alias_buf, 0, sizeof(b->alias_buf));
	f->argsz = sizeof(b->alias_buf);
	b->feature = vpa_feature_number();
	errno = 0;
	if (alias_set(b, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET) ||
	    !(req->flags & VFIO_ALIAS_ATTR_WC)) {
		const char *why = errno ? strerror(errno) : "no WC";

		if (want) {
			FAIL("alias-set: %s has no WC ALIAS_REGION on BAR0 (%s)", b->driver, why);
		} else {
			printf("# alias-set: no ALIAS_REGION on %s (%s)\n", b->driver, why);
			report(b, "alias-set", -1, -1);
		}
		return;
	}
	if (alias_set(b, VFIO_DEVICE_FEATURE_SET)) {
		FAIL("alias-set: first SET: %s", strerror(errno));
		return;
	}
	b->alias_index = req->alias_index;
	bench_op(b, "alias-set", do_alias_set, b->calls, WARMUP, 0);
}

struct reader {
	struct bench *b;
	pthread_barrier_t *start;
	atomic_int *errors;
};

static void *reader_thread(void *arg)
{
	struct reader *r = arg;
	long i;

	for (i = 0; i < WARMUP; i++)
		if (do_pread(r->b))
			(*r->errors)++;
	pthread_barrier_wait(r->start);
	for (i = 0; i < r->b->calls; i++)
		if (do_pread(r->b))
			(*r->errors)++;
	return NULL;
}

static void bench_pread_threads(struct bench *b)
{
	pthread_t t[NTHREADS];
	pthread_barrier_t start;
	atomic_int errors = 0;
	struct reader r = { b, &start, &errors };
	uint64_t t0, t1;
	int i, n;

	pthread_barrier_init(&start, NULL, NTHREADS + 1);
	for (n = 0; n < NTHREADS; n++) {
		if (pthread_create(&t[n], NULL, reader_thread, &r)) {
			FAIL("pread-4t: pthread_create");
			/* The barrier never opens; give up without waiting. */
			exit(1);
		}
	}
	pthread_barrier_wait(&start);
	t0 = now_ns();
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	t1 = now_ns();
	pthread_barrier_destroy(&start);
	if (errors)
		FAIL("pread-4t: %d preads failed", (int)errors);
	else
		report(b, "pread-4t", (double)(t1 - t0) / (NTHREADS * b->calls), -1);
}

static int setup(struct bench *b)
{
	static const enum vpa_role roles[] = { VPA_EDU, VPA_IVSHMEM };
	const char *edu = vpa_bdf(VPA_EDU), *ivshmem = vpa_bdf(VPA_IVSHMEM);
	uint32_t flags, id;
	char why[160];
	int ret;

	if (vpa_missing(roles, 2, why, sizeof(why))) {
		FAIL("%s", why);
		return -1;
	}
	ret = vpa_open(edu, &b->edu);
	if (ret) {
		FAIL("open edu '%s': %s", edu, strerror(-ret));
		return -1;
	}
	ret = vpa_open(ivshmem, &b->ivshmem);
	if (ret) {
		FAIL("open ivshmem '%s': %s", ivshmem, strerror(-ret));
		return -1;
	}
	ret = region(b->edu.fd, VFIO_PCI_BAR0_REGION_INDEX, &b->bar0, NULL, NULL);
	if (!ret)
		ret = region(b->edu.fd, VFIO_PCI_CONFIG_REGION_INDEX, &b->config, NULL, NULL);
	if (!ret)
		ret = region(b->ivshmem.fd, VFIO_PCI_BAR2_REGION_INDEX, &b->bar2, &b->bar2_size,
			     &flags);
	if (ret) {
		FAIL("region info: %s", strerror(-ret));
		return -1;
	}
	if (!(flags & VFIO_REGION_INFO_FLAG_MMAP) || !b->bar2_size ||
	    b->bar2_size % SZ_2M) {
		FAIL("ivshmem BAR2: size %zu, flags %#x: not a mappable 2 MiB multiple",
		     b->bar2_size, flags);
		return -1;
	}
	if (pread(b->edu.fd, &id, 4, b->bar0 + EDU_ID) != 4) {
		FAIL("pread edu ID register: %s", strerror(errno));
		return -1;
	}
	if ((id & 0xffff) != 0x00ed) {
		FAIL("edu ID register reads %#x, not 0x....00ed", id);
		return -1;
	}
	printf("# %s round %d: %ld calls, edu ID %#x, ivshmem BAR2 %zu MiB\n",
	       b->driver, b->round, b->calls, id, b->bar2_size >> 20);
	return 0;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s --driver NAME --round N [--calls N] [BDF...]\n", prog);
	vpa_bdf_usage();
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "driver", required_argument, NULL, 'd' },
		{ "round", required_argument, NULL, 'r' },
		{ "calls", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct bench b = { .round = -1, .calls = 4000 };
	int c;

	vpa_take_bdfs(&argc, argv);
	while ((c = getopt_long(argc, argv, "d:r:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			b.driver = optarg;
			break;
		case 'r':
			b.round = atoi(optarg);
			break;
		case 'c':
			b.calls = atol(optarg);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (!b.driver || b.round < 0 || b.calls < 10 || optind != argc)
		usage(argv[0]);
	if (setup(&b))
		return 1;

	bench_op(&b, "pread", do_pread, b.calls, WARMUP, 0);
	bench_op(&b, "pwrite", do_pwrite, b.calls, WARMUP, 0);
	bench_op(&b, "config-pread", do_config_pread, b.calls, WARMUP, 0);
	bench_op(&b, "region-info", do_region_info, b.calls, WARMUP, 0);
	bench_op(&b, "get-info", do_get_info, b.calls, WARMUP, 0);
	bench_op(&b, "mmap-fault", do_mmap_fault, b.calls / 10, WARMUP / 10, 0);
	bench_op(&b, "fault-64m", do_fault_64m, FAULT64_ITERS, 2, 1);
	bench_pread_threads(&b);
	bench_alias_set(&b);
	bench_op(&b, "get-info-aliased", do_get_info, b.calls, WARMUP, 0);
	bench_op(&b, "pread-alias", do_pread_alias, b.calls, WARMUP, 0);

	vpa_close(&b.ivshmem);
	vpa_close(&b.edu);
	return failed;
}
