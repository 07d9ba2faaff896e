#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the test kernel + initramfs in QEMU (TCG), run one guest suite and
# judge the result.
#
#   tools/qemu.sh --kernel BZIMAGE --initrd CPIO.GZ --suite NAME
#                 --mode iommu|noiommu --log FILE [--timeout SECS]
#                 [--prefix STR] [--append ARGS] [--twins] [--verbose]
#
#   --timeout SECS  hard bound on the QEMU run (default 600); QEMU is killed
#                   on expiry. The guest gets vpa.deadline=SECS-30 so its
#                   watchdog can still dump dmesg before that.
#   --prefix STR    prepended to every result name (e.g. "iommu/").
#   --append ARGS   extra kernel command line.
#   --twins         a second edu (0000:00:07.0) and a second ivshmem-plain
#                   (0000:00:08.0, its own 64M file), for make bench: one
#                   device of each kind per driver in the same guest.
#   --verbose       keep kernel messages on the console (vpa.verbose=1).
#
# Devices (BDFs also in tools/guest/lib.sh): edu 0000:00:04.0, igb
# 0000:00:05.0 (user-mode netdev), ivshmem-plain 0000:00:06.0 backed by a
# 64M shared file in a temporary run directory next to the log.
#
# stdout: one line per result, "ok - NAME" or "not ok - NAME" (a "# SKIP"
# or "# reason" suffix may follow): every VPA-TEST line of the guest; tests
# that started but never reported ("# did not finish") and suite entries
# that never started ("# not run"); then "guest-done" (VPA-DONE seen),
# "dmesg-scan" (no kernel warnings, see SCAN_PATTERNS; the offending lines
# go to stderr tagged with the test during which they were logged) and,
# when the kernel has kmemleak, "kmemleak" (no leak during the tests).
# Diagnostics and timings go to stderr. The raw console log is kept in
# FILE. Exit status: 0 if all results are ok; 3 if some are not because
# QEMU itself died of a signal (an emulator crash, its messages on stderr);
# 1 for any other failure, 2 for bad arguments.

set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# Kernel log lines that fail the dmesg scan (extended regexps). The debug
# kernel prints lockdep's banner at boot, so lockdep is matched by its
# report headers only.
SCAN_PATTERNS=(
	'WARNING:'			# WARN_ON, lockdep and RCU splats
	'BUG:'				# BUG:, KASAN, sleeping in atomic, lockups
	'INFO: '			# lockdep (older headers), hung tasks, RCU stalls
	'suspicious RCU usage'
	'KASAN'
	'UBSAN'
	'sleeping function called from invalid context'
	'possible (circular|recursive) locking'
	'inconsistent lock state'
	'turning off the locking correctness validator'
	'DEBUG_LOCKS_WARN_ON'
	'Call Trace'
	'cut here'
	'Oops'
	'general protection fault'
	'kernel BUG at'
	'Kernel panic'
	'refcount_t: '
	'list_(add|del) corruption'
	'^ *not ok [0-9]'		# a failed KUnit case at boot
)

usage() {
	sed -n '/^#   tools\/qemu.sh/,/^#   --verbose/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

parse_args() {
	KERNEL= INITRD= SUITE= MODE= LOG= TIMEOUT=600 PREFIX= APPEND= VERBOSE=0 TWINS=0
	while [ $# -gt 0 ]; do
		case $1 in
		--kernel) KERNEL=$2; shift ;;
		--initrd) INITRD=$2; shift ;;
		--suite) SUITE=$2; shift ;;
		--mode) MODE=$2; shift ;;
		--log) LOG=$2; shift ;;
		--timeout) TIMEOUT=$2; shift ;;
		--prefix) PREFIX=$2; shift ;;
		--append) APPEND=$2; shift ;;
		--twins) TWINS=1 ;;
		--verbose) VERBOSE=1 ;;
		-h|--help) usage ;;
		*) echo "unknown argument: $1" >&2; usage ;;
		esac
		shift
	done
	[ -n "$KERNEL" ] && [ -n "$INITRD" ] && [ -n "$SUITE" ] && [ -n "$LOG" ] || usage
	[ -r "$KERNEL" ] || die "no kernel $KERNEL"
	[ -r "$INITRD" ] || die "no initramfs $INITRD"
	case $MODE in iommu|noiommu) ;; *) die "--mode must be iommu or noiommu" ;; esac
	case $TIMEOUT in ''|*[!0-9]*) die "--timeout must be a number of seconds" ;; esac
}

# Fills QEMU_ARGS for the mode; SHM is the ivshmem backing file (SHM.twin
# the second one's).
qemu_args() {
	# A log buffer that holds a whole suite's messages: the dmesg scan reads
	# what /init dumps at the end, and the default 128 KiB wraps under the
	# splats a fault sweep reaches in the kernel's own code.
	local cmdline="console=ttyS0 panic=-1 log_buf_len=16M vpa.suite=$SUITE vpa.mode=$MODE"
	[ "$TIMEOUT" -le 60 ] || cmdline+=" vpa.deadline=$((TIMEOUT - 30))"
	[ "$VERBOSE" = 0 ] || cmdline+=" vpa.verbose=1"
	# Two vCPUs, run round-robin by one TCG thread: multi-threaded TCG
	# (the default) has a race between one vCPU changing the memory map
	# (a BAR enabled, disabled or moved) and another vCPU's TLB, which
	# QEMU 10.0 turns into "iotlb_to_section: Assertion ... failed" and
	# an abort, seen here under the VFIO tests' device churn.
	QEMU_ARGS=(-machine q35 -accel tcg,thread=single -cpu max -smp 2 -m 2G
		-nodefaults -nographic -no-reboot -serial stdio -monitor none)
	if [ "$MODE" = iommu ]; then
		cmdline+=" intel_iommu=on"
		QEMU_ARGS+=(-device intel-iommu,intremap=on,caching-mode=on)
	else
		cmdline+=" intel_iommu=off"
	fi
	QEMU_ARGS+=(-kernel "$KERNEL" -initrd "$INITRD" -append "$cmdline${APPEND:+ $APPEND}"
		-device edu,addr=04.0
		-netdev user,id=n0 -device igb,netdev=n0,addr=05.0
		-object "memory-backend-file,id=shm0,share=on,mem-path=$SHM,size=64M"
		-device ivshmem-plain,memdev=shm0,addr=06.0
		-device pcie-root-port,id=rp0,chassis=1,addr=09.0
		-device pci-testdev,bus=rp0,addr=00.0)
	[ "$TWINS" = 0 ] || QEMU_ARGS+=(-device edu,addr=07.0
		-object "memory-backend-file,id=shm1,share=on,mem-path=$SHM.twin,size=64M"
		-device ivshmem-plain,memdev=shm1,addr=08.0)
}

# Seconds a guest gets to reach userspace. Under TCG a boot has been seen to
# hang before the clocksource switch (QEMU spinning, the console silent
# after "e820: register RAM buffer resource"); such a guest is booted once
# more. A guest whose init has started is never booted again.
BOOT_LIMIT=${VPA_BOOT_LIMIT:-300}

# Runs QEMU under a hard time bound; sets QEMU_RC and WALL.
run_qemu() {
	local t0 try pid waited stuck
	for try in 1 2; do
		t0=$(date +%s)
		log "booting: suite $SUITE, mode $MODE, timeout ${TIMEOUT}s, log $LOG"
		set +e
		timeout --kill-after=10 "$TIMEOUT" qemu-system-x86_64 "${QEMU_ARGS[@]}" \
			</dev/null >"$LOG" 2>&1 &
		pid=$!
		waited=0
		stuck=0
		while kill -0 "$pid" 2>/dev/null && ! grep -aq '^VPA-INFO: userspace up' "$LOG"; do
			if [ "$waited" -ge "$BOOT_LIMIT" ]; then
				stuck=1
				kill "$pid"
				break
			fi
			sleep 2
			waited=$((waited + 2))
		done
		wait "$pid"
		QEMU_RC=$?
		set -e
		# Killed by us: a timeout like any other.
		[ "$stuck" = 0 ] || QEMU_RC=124
		[ "$stuck" = 1 ] && [ "$try" = 1 ] || break
		log "no userspace after ${BOOT_LIMIT}s (early boot hang); last console lines:"
		tail -n 3 "$LOG" | tr -d '\r' | sed 's/^/    /' >&2
		log "booting again"
	done
	WALL=$(( $(date +%s) - t0 ))
	case $QEMU_RC in
	0) ;;
	124|137) log "timeout: QEMU killed after ${TIMEOUT}s" ;;
	*) log "QEMU exited with status $QEMU_RC"; qemu_messages ;;
	esac
}

# QEMU's own complaints (assertions, aborts, errors), which share the log
# with the guest console, and the last lines of that console: what the CI
# output needs when QEMU itself dies.
qemu_messages() {
	local msgs
	msgs=$(grep -a -E '^(qemu-system-[a-z0-9_]+|qemu|\*\*|ERROR:|GLib)|[Aa]ssertion|[Aa]bort' "$LOG" |
		grep -av '^VPA-' | tail -n 20 || true)
	if [ -n "$msgs" ]; then
		log "QEMU said:"
		printf '%s\n' "$msgs" | sed 's/^/    /' >&2
	fi
	log "last console lines:"
	tail -n 15 "$LOG" | tr -d '\r' | sed 's/^/    /' >&2
}

# Result lines (and the number of failures in FAILS).
FAILS=0
result() { # result ok|not-ok NAME [COMMENT]
	local c=${3:+ # $3}
	if [ "$1" = ok ]; then echo "ok - $PREFIX$2$c"
	else echo "not ok - $PREFIX$2$c"; FAILS=$((FAILS + 1)); fi
}

# Suite entries as the guest names them (script name without .sh).
suite_tests() {
	local f=$here/guest/suites/$SUITE
	[ -e "$f" ] || return 0
	awk '$1 !~ /^#/ && NF { sub(/\.sh$/, "", $1); print $1 }' "$f"
}

report_tests() {
	local clean=$1 line verdict name rest seen=" "
	while IFS= read -r line; do
		line=${line#*VPA-TEST: }
		case $line in
		"ok "*) verdict=ok; rest=${line#ok } ;;
		"not ok "*) verdict=not-ok; rest=${line#not ok } ;;
		*) continue ;;
		esac
		name=${rest%% # *}
		if [ "$name" = "$rest" ]; then result "$verdict" "$name"
		else result "$verdict" "$name" "${rest#* # }"; fi
		seen+="$name "
	done < <(grep -a 'VPA-TEST: ' "$clean" || true)
	# Started ("VPA-INFO: running NAME") but never judged: hang or crash.
	for name in $(sed -n 's/^VPA-INFO: running \([^ ]*\) .*/\1/p' "$clean"); do
		case $seen in *" $name "*) ;; *) result not-ok "$name" "did not finish"; seen+="$name " ;; esac
	done
	for name in $(suite_tests); do
		case $seen in *" $name "*) ;; *) result not-ok "$name" "not run" ;; esac
	done
	[ "$seen" != " " ] || result not-ok "suite-$SUITE" "no test reported"
}

# "VPA-HOSTCHECK: ivshmem OFFSET LENGTH SEED": the guest wrote a pattern
# into ivshmem's BAR; check it in the backing file, byte for byte.
host_checks() {
	local clean=$1 what off len seed n=0
	while read -r what off len seed; do
		n=$((n + 1))
		if [ "$what" = ivshmem ] && python3 "$here/ivshmem_check.py" "$SHM" "$off" "$len" "$seed"; then
			result ok "hostcheck/ivshmem-$n"
		else
			result not-ok "hostcheck/ivshmem-$n"
		fi
	done < <(sed -n 's/^.*VPA-HOSTCHECK: //p' "$clean")
}

# The kernel log the guest dumped (or, without one, the whole console).
dmesg_text() {
	local clean=$1
	if grep -aq '^VPA-DMESG-BEGIN' "$clean"; then
		awk '/^VPA-DMESG-BEGIN/ { on = 1; next } /^VPA-DMESG-END/ { on = 0 } on' "$clean"
	else
		cat "$clean"
	fi
}

# Matching kernel log lines, each prefixed with "[test] ": the test whose
# "vpa: begin NAME" marker (written by /init to /dev/kmsg) precedes it, or
# on the raw console "VPA-INFO: running NAME". Our own lines never match.
scan_hits() {
	local re=$1
	awk -v re="$re" '
		BEGIN { t = "boot" }
		/^VPA-INFO: running / { t = $3 }
		/^VPA-/ { next }
		/^vpa: begin / { t = $3 }
		/^vpa: end / { t = "after " $3 }
		$0 ~ re { print "[" t "] " $0 }'
}

# A suite file may name splats of the kernel's own that its tests reach on
# purpose, one "# known-kernel-splat: REGEX" line each (an extended regexp
# for the splat's WARNING:/BUG: line): a warning of code that is not ours,
# reached only by injected failures, with its analysis next to it. Each
# such splat, from its "cut here" line to its "end trace" line, is dropped
# from the scan and counted on stderr; anything else in the log, and a
# splat without an end (a panic), is scanned as always.
#
# "# known-kernel-report: REGEX" names a report the kernel prints by design
# for what a suite does, with a stack dump but no "cut here" (warn_alloc()'s
# "vmalloc error: ... allocation failed" for a failure a fault sweep
# injected): from the line matching REGEX to the "</TASK>" that ends its
# stack, it is dropped and counted the same way.
known_splats() {
	sed -n "s/^# known-kernel-$1: //p" "$here/guest/suites/$SUITE" 2>/dev/null |
		paste -sd'|'
}

drop_known_splats() { # drop_known_splats SPLAT-REGEX REPORT-REGEX (stdin: the kernel log)
	awk -v known="$1" -v report="$2" -v suite="$SUITE" '
		function flush() { for (i = 1; i <= n; i++) print buf[i]; n = 0 }
		reporting { if ($0 ~ /<\/TASK>/) reporting = 0; next }
		report != "" && !inside && $0 ~ report { reports++; reporting = 1; next }
		/cut here/ { flush(); inside = 1 }
		inside { buf[++n] = $0; if (known != "" && $0 ~ known) hit = 1 }
		!inside { print }
		inside && /---\[ end trace/ {
			if (hit) { dropped++; n = 0 } else flush()
			inside = 0; hit = 0
		}
		END {
			flush()
			if (dropped || reports)
				printf "[vfio-pci-alias] %s: %d known kernel splat(s), %d known report(s) dropped from the scan (see the suite file)\n", suite, dropped, reports > "/dev/stderr"
		}'
}

scan_dmesg() {
	local clean=$1 re hits known reports
	re=$(IFS='|'; echo "${SCAN_PATTERNS[*]}")
	known=$(known_splats splat)
	reports=$(known_splats report)
	if [ -n "$known$reports" ]; then
		hits=$(dmesg_text "$clean" | drop_known_splats "$known" "$reports" | scan_hits "$re")
	else
		hits=$(dmesg_text "$clean" | scan_hits "$re")
	fi
	if [ -z "$hits" ]; then
		result ok dmesg-scan
	else
		log "dmesg scan found $(echo "$hits" | wc -l) line(s); first ones:"
		echo "$hits" | head -n 20 | sed 's/^/    /' >&2
		result not-ok dmesg-scan
	fi
}

scan_kmemleak() {
	local clean=$1 leaks
	grep -aq '^VPA-KMEMLEAK-BEGIN' "$clean" || return 0
	leaks=$(awk '/^VPA-KMEMLEAK-BEGIN/ { on = 1; next } /^VPA-KMEMLEAK-END/ { on = 0 } on' \
		"$clean" | grep -ac 'unreferenced object' || true)
	if [ "$leaks" = 0 ]; then result ok kmemleak
	else log "kmemleak: $leaks unreferenced object(s), see $LOG"; result not-ok kmemleak; fi
}

report_timing() {
	local clean=$1 up
	up=$(sed -n 's/^VPA-INFO: userspace up at \([0-9.]*\)s.*/\1/p' "$clean" | head -n1)
	log "timing: QEMU wall ${WALL}s, guest userspace at ${up:-?}s uptime"
	grep -a '^VPA-INFO: .* exited .* after' "$clean" | sed 's/^VPA-INFO: /    /' >&2 || true
	# What the DPDK program measured: port counters, mappings' PTE and PAT.
	grep -a '^VPA-DPDK: ' "$clean" | sed 's/^/    /' >&2 || true
}

main() {
	parse_args "$@"
	mkdir -p "$(dirname "$LOG")"
	LOG=$(cd "$(dirname "$LOG")" && pwd)/$(basename "$LOG")
	local clean
	RUN=$(mktemp -d "$LOG.run.XXXXXX")
	trap 'rm -rf "$RUN"' EXIT
	SHM=$RUN/ivshmem.shm
	qemu_args
	run_qemu
	clean=$RUN/console.txt
	tr -d '\r' <"$LOG" >"$clean"

	report_tests "$clean"
	host_checks "$clean"
	if grep -aq '^VPA-DONE' "$clean"; then
		result ok guest-done
	elif [ "$QEMU_RC" = 124 ] || [ "$QEMU_RC" = 137 ]; then
		result not-ok guest-done "timeout after ${TIMEOUT}s"
	elif grep -aq '^VPA-WATCHDOG' "$clean"; then
		result not-ok guest-done "guest watchdog fired"
	else
		result not-ok guest-done "no VPA-DONE (panic or crash?)"
	fi
	scan_dmesg "$clean"
	scan_kmemleak "$clean"
	report_timing "$clean"
	[ "$FAILS" = 0 ] && return 0
	# QEMU itself died of a signal (not our timeout): the emulator crashed,
	# the guest gave no verdict on what it had not finished.
	case $QEMU_RC in 124|137) return 1 ;; esac
	[ "$QEMU_RC" -gt 128 ] && return 3
	return 1
}

main "$@"
