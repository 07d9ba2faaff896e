// SPDX-License-Identifier: GPL-2.0
/*
 * vpa_bench: the cost of the VFIO device-fd paths (read/write of a BAR and
 * of config space, region and device info, mmap faults, DMABUF mmap faults,
 * the ALIAS_REGION SET) under two drivers at once, for tools/bench.sh.
 *
 *   vpa_bench --run N [--calls 2000] [--batches 10] EDU,IVSHMEM EDU,IVSHMEM
 *
 * Each argument names one edu and one ivshmem bound to the same driver; the
 * two pairs are bound to different drivers (the kernel's vfio-pci and
 * vfio-pci-alias), so one process holds both. Every operation runs in
 * BATCHES batches of CALLS calls, and each batch times it on both pairs, one
 * right after the other, the first pair first in even batches and the second
 * first in odd ones: slow drift of the machine (TCG, the host's other load)
 * falls on both drivers alike, and the per-batch ratio cancels it.
 *
 * One line per operation, pair and batch on stdout,
 *
 *   VPA-BENCH: round=R driver=NAME op=OP ns=NS[ faults=F]
 *
 * R is (N - 1) * BATCHES + batch + 1, the key tools/bench_table.py pairs
 * the two drivers by; NAME the driver bound to the pair (sysfs; with
 * "-twin" appended for the second pair if both have the same); NS the mean
 * time of one operation (CLOCK_MONOTONIC, after a warm-up), F the minor
 * faults per iteration; "ns=-" where the driver has no such operation
 * (alias-set on vfio-pci). The operations, in the order they run:
 *
 *   pread         pread() of 4 bytes of edu's BAR0 (its ID register)
 *   pwrite        pwrite() of 4 bytes of edu's BAR0 (its liveness register)
 *   config-pread  pread() of 4 bytes of edu's config space
 *   region-info   VFIO_DEVICE_GET_REGION_INFO of BAR0
 *   get-info      VFIO_DEVICE_GET_INFO
 *   mmap-fault    mmap() a page of edu's BAR0, one read (the fault), munmap()
 *                 (CALLS/10 per batch)
 *   fault-64m     mmap() ivshmem's 64 MiB BAR2 at a 2 MiB-aligned address,
 *                 read a byte of every 4 KiB page, munmap() (4 per batch)
 *   dmabuf-mmap-fault  as mmap-fault, through a one-page DMABUF of edu's
 *                 BAR0 (VFIO_DEVICE_FEATURE_DMA_BUF); on vfio-pci, whose
 *                 DMABUFs cannot be mapped, through BAR0 as mmap-fault:
 *                 what its users do instead
 *   dmabuf-fault-64m  as fault-64m, through a DMABUF of all of ivshmem's
 *                 BAR2; on vfio-pci through BAR2
 *   pread-4t      4 threads each doing CALLS/4 preads of the ID register on
 *                 the same fd at once; wall time / CALLS
 *   alias-set     ALIAS_REGION SET of the existing WC alias of edu's BAR0
 *                 (the alias it creates stays until close); a failure if
 *                 NAME is vfio-pci-alias and PROBE says no
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
#define NTHREADS	4
#define FAULT64_ITERS	4
#define EDU_ID		0x00	/* edu register: 0x010000ed */
#define EDU_LIVENESS	0x04	/* edu register: returns ~value written */
#define ALIAS_DRIVER	"vfio-pci-alias"

/* One edu and one ivshmem, bound to the same driver. */
struct pair {
	char driver[64 + sizeof("-twin")];
	const char *edu_bdf;
	const char *ivshmem_bdf;
	struct vpa_dev edu;
	struct vpa_dev ivshmem;
	uint64_t bar0;		/* offset of edu's BAR0 on its fd */
	uint64_t config;	/* offset of edu's config space */
	uint64_t bar2;		/* offset of ivshmem's BAR2 */
	size_t bar2_size;
	bool is_alias;		/* bound to vfio-pci-alias */
	int edu_dmabuf;		/* DMABUF of edu's BAR0 page 0, or -1 */
	int ivshmem_dmabuf;	/* DMABUF of ivshmem's BAR2, or -1 */
	char alias_buf[sizeof(struct vfio_device_feature) +
		       sizeof(struct vfio_device_feature_alias_region)] __attribute__((aligned(8)));
	uint32_t feature;	/* ALIAS_REGION's number */
	uint32_t alias_index;	/* 0: none */
};

struct bench {
	int run;
	int batches;
	long calls;
	struct pair pair[2];
};

static int failed;

#define FAIL(...) do {						\
	fprintf(stderr, "FAIL: " __VA_ARGS__);			\
	fputc('\n', stderr);					\
	failed = 1;						\
} while (0)

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static void report(const struct bench *b, const struct pair *p, int batch, const char *op,
		   double ns, double faults)
{
	printf("VPA-BENCH: round=%d driver=%s op=%s ", (b->run - 1) * b->batches + batch + 1,
	       p->driver, op);
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

/* One iteration of an operation on a pair: 0, or -1 with errno set. */
typedef int (*op_fn)(struct pair *p);

/*
 * Runs @fn @warmup times, then @iters times under the clock; the mean ns
 * per iteration into @ns and the minor faults per iteration into @faults.
 */
static int timed(struct pair *p, const char *op, op_fn fn, long iters, long warmup,
		 double *ns, double *faults)
{
	uint64_t t0, t1;
	long i, f0;

	for (i = 0; i < warmup; i++) {
		if (fn(p)) {
			FAIL("%s on %s (warm-up %ld): %s", op, p->driver, i, strerror(errno));
			return -1;
		}
	}
	f0 = minflt();
	t0 = vpa_now_ns();
	for (i = 0; i < iters; i++) {
		if (fn(p)) {
			FAIL("%s on %s (call %ld): %s", op, p->driver, i, strerror(errno));
			return -1;
		}
	}
	t1 = vpa_now_ns();
	*ns = (double)(t1 - t0) / iters;
	if (faults)
		*faults = (double)(minflt() - f0) / iters;
	return 0;
}

/*
 * @op in every batch on both pairs, in alternating order; @warmup calls
 * before each timed run. Pairs for which @skip says so report "ns=-".
 */
static int bench_op(struct bench *b, const char *op, op_fn fn, long iters, long warmup,
		    bool with_faults, bool (*skip)(const struct pair *p))
{
	double ns, faults = -1;
	int batch, k;

	for (batch = 0; batch < b->batches; batch++) {
		for (k = 0; k < 2; k++) {
			struct pair *p = &b->pair[(batch + k) % 2];

			if (skip && skip(p)) {
				report(b, p, batch, op, -1, -1);
				continue;
			}
			if (timed(p, op, fn, iters, warmup, &ns, with_faults ? &faults : NULL))
				return -1;
			report(b, p, batch, op, ns, faults);
		}
	}
	return 0;
}

static int do_pread(struct pair *p)
{
	uint32_t v;

	return pread(p->edu.fd, &v, 4, p->bar0 + EDU_ID) == 4 ? 0 : -1;
}

static int do_pwrite(struct pair *p)
{
	uint32_t v = 0x5a5a5a5a;

	return pwrite(p->edu.fd, &v, 4, p->bar0 + EDU_LIVENESS) == 4 ? 0 : -1;
}

static int do_config_pread(struct pair *p)
{
	uint32_t v;

	return pread(p->edu.fd, &v, 4, p->config) == 4 ? 0 : -1;
}

static int do_region_info(struct pair *p)
{
	struct vfio_region_info info = { .argsz = sizeof(info), .index = 0 };

	return ioctl(p->edu.fd, VFIO_DEVICE_GET_REGION_INFO, &info);
}

static int do_get_info(struct pair *p)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	return ioctl(p->edu.fd, VFIO_DEVICE_GET_INFO, &info);
}

/* The alias, once prepare_alias() made it; BAR0 without one. */
static int do_pread_alias(struct pair *p)
{
	uint64_t at = p->alias_index ? (uint64_t)p->alias_index << 40 : p->bar0;
	uint32_t v;

	return pread(p->edu.fd, &v, 4, at + EDU_ID) == 4 ? 0 : -1;
}

/* mmap() a page of @fd at @offset, read edu's ID register, munmap(). */
static int map_edu_page(int fd, uint64_t offset)
{
	volatile uint32_t *m;
	uint32_t v;

	m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
	if (m == MAP_FAILED)
		return -1;
	v = m[EDU_ID / 4];
	munmap((void *)m, PAGE);
	if ((v & 0xffff) != 0x00ed) {
		errno = EIO;
		return -1;
	}
	return 0;
}

static int do_mmap_fault(struct pair *p)
{
	return map_edu_page(p->edu.fd, p->bar0);
}

static int do_dmabuf_mmap_fault(struct pair *p)
{
	if (p->edu_dmabuf < 0)
		return do_mmap_fault(p);
	return map_edu_page(p->edu_dmabuf, 0);
}

/*
 * @len bytes of @fd at @offset mapped at a 2 MiB-aligned address, as a user
 * that wants huge mappings places them (7.3's vfio has no get_unmapped_area
 * to do it): an anonymous reservation 2 MiB larger, the mapping over its
 * aligned part; a byte of every page read, then all unmapped.
 */
static int fault_aligned(int fd, uint64_t offset, size_t len)
{
	volatile char *m;
	char *resv, *at;
	size_t i;

	resv = mmap(NULL, len + SZ_2M, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (resv == MAP_FAILED)
		return -1;
	at = (char *)(((unsigned long)resv + SZ_2M - 1) & ~(SZ_2M - 1));
	m = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, offset);
	if (m == MAP_FAILED) {
		int err = errno;

		munmap(resv, len + SZ_2M);
		errno = err;
		return -1;
	}
	for (i = 0; i < len; i += PAGE)
		(void)m[i];
	munmap(resv, len + SZ_2M);
	return 0;
}

static int do_fault_64m(struct pair *p)
{
	return fault_aligned(p->ivshmem.fd, p->bar2, p->bar2_size);
}

static int do_dmabuf_fault_64m(struct pair *p)
{
	if (p->ivshmem_dmabuf < 0)
		return do_fault_64m(p);
	return fault_aligned(p->ivshmem_dmabuf, 0, p->bar2_size);
}

/* A DMABUF of [0, @len) of BAR @bar of @fd: its fd or -errno. */
static int export(int fd, uint32_t bar, uint64_t len)
{
	const uint64_t r[2] = { 0, len };

	return vpa_dmabuf_export(fd, bar, r, 1, O_RDWR | O_CLOEXEC);
}

/* The DMABUFs of the pairs bound to vfio-pci-alias; 0 or -1. */
static int prepare_dmabufs(struct bench *b)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct pair *p = &b->pair[i];

		if (!p->is_alias)
			continue;
		p->edu_dmabuf = export(p->edu.fd, VFIO_PCI_BAR0_REGION_INDEX, PAGE);
		if (p->edu_dmabuf < 0) {
			FAIL("DMABUF of edu's BAR0 on %s: %s", p->driver, strerror(-p->edu_dmabuf));
			return -1;
		}
		p->ivshmem_dmabuf = export(p->ivshmem.fd, VFIO_PCI_BAR2_REGION_INDEX,
					   p->bar2_size);
		if (p->ivshmem_dmabuf < 0) {
			FAIL("DMABUF of ivshmem's BAR2 on %s: %s", p->driver, strerror(-p->ivshmem_dmabuf));
			return -1;
		}
	}
	return 0;
}

static void close_dmabufs(struct bench *b)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (b->pair[i].edu_dmabuf >= 0)
			close(b->pair[i].edu_dmabuf);
		if (b->pair[i].ivshmem_dmabuf >= 0)
			close(b->pair[i].ivshmem_dmabuf);
		b->pair[i].edu_dmabuf = b->pair[i].ivshmem_dmabuf = -1;
	}
}

/* ALIAS_REGION SET of a WC alias of BAR0 from the prepared request. */
static int alias_set(struct pair *p, uint32_t flags)
{
	struct vfio_device_feature *f = (void *)p->alias_buf;
	struct vfio_device_feature_alias_region *req = (void *)f->data;

	f->flags = flags | p->feature;
	req->flags = VFIO_ALIAS_ATTR_WC;
	req->index = 0;
	req->alias_index = 0;
	return ioctl(p->edu.fd, VFIO_DEVICE_FEATURE, f);
}

static int do_alias_set(struct pair *p)
{
	struct vfio_device_feature *f = (void *)p->alias_buf;
	struct vfio_device_feature_alias_region *req = (void *)f->data;

	if (alias_set(p, VFIO_DEVICE_FEATURE_SET))
		return -1;
	if (req->alias_index != p->alias_index) {
		errno = EBADSLT;
		return -1;
	}
	return 0;
}

static bool no_alias(const struct pair *p)
{
	return !p->alias_index;
}

/*
 * The alias of each pair whose driver has the feature: the first SET makes
 * it, the timed ones find it. The request is built once: vpa_alias() reads
 * the feature number from sysfs on every call, which would cost more than
 * the ioctl. 0, or -1 if vfio-pci-alias has no WC alias.
 */
static int prepare_alias(struct bench *b)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct pair *p = &b->pair[i];
		struct vfio_device_feature *f = (void *)p->alias_buf;
		struct vfio_device_feature_alias_region *req = (void *)f->data;
		const char *why;

		memset(p->alias_buf, 0, sizeof(p->alias_buf));
		f->argsz = sizeof(p->alias_buf);
		p->feature = vpa_feature_number();
		errno = 0;
		if (alias_set(p, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET) ||
		    !(req->flags & VFIO_ALIAS_ATTR_WC)) {
			why = errno ? strerror(errno) : "no WC";
			if (p->is_alias) {
				FAIL("alias-set: %s has no WC ALIAS_REGION on BAR0 (%s)",
				     p->driver, why);
				return -1;
			}
			printf("# alias-set: no ALIAS_REGION on %s (%s)\n", p->driver, why);
			continue;
		}
		if (alias_set(p, VFIO_DEVICE_FEATURE_SET)) {
			FAIL("alias-set on %s: first SET: %s", p->driver, strerror(errno));
			return -1;
		}
		p->alias_index = req->alias_index;
	}
	return 0;
}

struct reader {
	struct pair *p;
	long calls;
	pthread_barrier_t *start;
	atomic_int *errors;
};

static void *reader_thread(void *arg)
{
	struct reader *r = arg;
	long i;

	for (i = 0; i < r->calls / 10; i++)
		if (do_pread(r->p))
			(*r->errors)++;
	pthread_barrier_wait(r->start);
	for (i = 0; i < r->calls; i++)
		if (do_pread(r->p))
			(*r->errors)++;
	return NULL;
}

/* Wall time per call of NTHREADS threads preading at once, or -1. */
static double pread_threads(struct pair *p, long calls)
{
	pthread_t t[NTHREADS];
	pthread_barrier_t start;
	atomic_int errors = 0;
	struct reader r = { p, calls / NTHREADS, &start, &errors };
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
	t0 = vpa_now_ns();
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	t1 = vpa_now_ns();
	pthread_barrier_destroy(&start);
	if (errors) {
		FAIL("pread-4t on %s: %d preads failed", p->driver, (int)errors);
		return -1;
	}
	return (double)(t1 - t0) / (NTHREADS * r.calls);
}

static int bench_pread_threads(struct bench *b)
{
	int batch, k;

	for (batch = 0; batch < b->batches; batch++) {
		for (k = 0; k < 2; k++) {
			struct pair *p = &b->pair[(batch + k) % 2];
			double ns = pread_threads(p, b->calls);

			if (ns < 0)
				return -1;
			report(b, p, batch, "pread-4t", ns, -1);
		}
	}
	return 0;
}

/* "EDU,IVSHMEM" into @p; false if it is not two BDFs. */
static bool parse_pair(char *arg, struct pair *p)
{
	char *comma = strchr(arg, ',');
	char bdf[16];

	if (!comma)
		return false;
	*comma = 0;
	p->edu_bdf = arg;
	p->ivshmem_bdf = comma + 1;
	return vpa_parse_bdf(p->edu_bdf, bdf) && vpa_parse_bdf(p->ivshmem_bdf, bdf);
}

static int setup_pair(struct pair *p)
{
	char other[64];
	uint32_t flags, id;
	int ret;

	p->edu_dmabuf = p->ivshmem_dmabuf = -1;
	if (vpa_dev_link(p->edu_bdf, "driver", p->driver, sizeof(p->driver) - strlen("-twin")) ||
	    vpa_dev_link(p->ivshmem_bdf, "driver", other, sizeof(other))) {
		FAIL("%s and %s must both be bound to a driver", p->edu_bdf, p->ivshmem_bdf);
		return -1;
	}
	if (strcmp(p->driver, other)) {
		FAIL("%s is bound to %s, %s to %s: one driver per pair",
		     p->edu_bdf, p->driver, p->ivshmem_bdf, other);
		return -1;
	}
	p->is_alias = !strcmp(p->driver, ALIAS_DRIVER);
	ret = vpa_open(p->edu_bdf, &p->edu);
	if (ret) {
		FAIL("open edu '%s': %s", p->edu_bdf, strerror(-ret));
		return -1;
	}
	ret = vpa_open(p->ivshmem_bdf, &p->ivshmem);
	if (ret) {
		FAIL("open ivshmem '%s': %s", p->ivshmem_bdf, strerror(-ret));
		return -1;
	}
	ret = region(p->edu.fd, VFIO_PCI_BAR0_REGION_INDEX, &p->bar0, NULL, NULL);
	if (!ret)
		ret = region(p->edu.fd, VFIO_PCI_CONFIG_REGION_INDEX, &p->config, NULL, NULL);
	if (!ret)
		ret = region(p->ivshmem.fd, VFIO_PCI_BAR2_REGION_INDEX, &p->bar2, &p->bar2_size,
			     &flags);
	if (ret) {
		FAIL("region info on %s: %s", p->driver, strerror(-ret));
		return -1;
	}
	if (!(flags & VFIO_REGION_INFO_FLAG_MMAP) || !p->bar2_size || p->bar2_size % SZ_2M) {
		FAIL("ivshmem BAR2 on %s: size %zu, flags %#x: not a mappable 2 MiB multiple",
		     p->driver, p->bar2_size, flags);
		return -1;
	}
	if (pread(p->edu.fd, &id, 4, p->bar0 + EDU_ID) != 4) {
		FAIL("pread edu ID register on %s: %s", p->driver, strerror(errno));
		return -1;
	}
	if ((id & 0xffff) != 0x00ed) {
		FAIL("edu ID register on %s reads %#x, not 0x....00ed", p->driver, id);
		return -1;
	}
	printf("# run: %s on edu %s, ivshmem %s (BAR2 %zu MiB)\n",
	       p->driver, p->edu_bdf, p->ivshmem_bdf, p->bar2_size >> 20);
	return 0;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s --run N [--calls N] [--batches N] EDU,IVSHMEM EDU,IVSHMEM\n"
		"  (each pair bound to one driver, the two pairs to different drivers)\n",
		prog);
	exit(2);
}

/* Every operation in order; 0 or -1 at the first that failed. */
static int run(struct bench *b)
{
	long calls = b->calls, warm = calls / 20;

	if (bench_op(b, "pread", do_pread, calls, warm, false, NULL) ||
	    bench_op(b, "pwrite", do_pwrite, calls, warm, false, NULL) ||
	    bench_op(b, "config-pread", do_config_pread, calls, warm, false, NULL) ||
	    bench_op(b, "region-info", do_region_info, calls, warm, false, NULL) ||
	    bench_op(b, "get-info", do_get_info, calls, warm, false, NULL) ||
	    bench_op(b, "mmap-fault", do_mmap_fault, calls / 10, warm / 10, false, NULL) ||
	    bench_op(b, "fault-64m", do_fault_64m, FAULT64_ITERS, 1, true, NULL))
		return -1;
	if (prepare_dmabufs(b) ||
	    bench_op(b, "dmabuf-mmap-fault", do_dmabuf_mmap_fault, calls / 10, warm / 10,
		     false, NULL) ||
	    bench_op(b, "dmabuf-fault-64m", do_dmabuf_fault_64m, FAULT64_ITERS, 1, true, NULL))
		return -1;
	close_dmabufs(b);
	if (bench_pread_threads(b) || prepare_alias(b) ||
	    bench_op(b, "alias-set", do_alias_set, calls, warm, false, no_alias) ||
	    bench_op(b, "get-info-aliased", do_get_info, calls, warm, false, NULL) ||
	    bench_op(b, "pread-alias", do_pread_alias, calls, warm, false, NULL))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "run", required_argument, NULL, 'r' },
		{ "calls", required_argument, NULL, 'c' },
		{ "batches", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct bench b = { .run = 0, .batches = 10, .calls = 2000 };
	int c, i;

	while ((c = getopt_long(argc, argv, "r:c:b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			b.run = atoi(optarg);
			break;
		case 'c':
			b.calls = atol(optarg);
			break;
		case 'b':
			b.batches = atoi(optarg);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (b.run < 1 || b.calls < 100 || b.batches < 1 || argc - optind != 2 ||
	    !parse_pair(argv[optind], &b.pair[0]) || !parse_pair(argv[optind + 1], &b.pair[1]))
		usage(argv[0]);
	for (i = 0; i < 2; i++)
		if (setup_pair(&b.pair[i]))
			return 1;
	if (!strcmp(b.pair[0].driver, b.pair[1].driver)) {
		/* An A/A run: the second pair's lines need a name of their own. */
		printf("# both pairs on %s: an A/A run, the second as %s-twin\n",
		       b.pair[0].driver, b.pair[1].driver);
		strcat(b.pair[1].driver, "-twin");
	}
	printf("# run %d: %d batches of %ld calls\n", b.run, b.batches, b.calls);

	if (run(&b))
		failed = 1;
	close_dmabufs(&b);
	for (i = 0; i < 2; i++) {
		vpa_close(&b.pair[i].ivshmem);
		vpa_close(&b.pair[i].edu);
	}
	return failed;
}
