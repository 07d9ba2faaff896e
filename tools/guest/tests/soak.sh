#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make soak (tools/soak.sh): everything at once, for a long time, on the
# KASAN + kmemleak kernel. In rounds; in each round these loops run
# together, each in a session of its own:
#
#   harness  alias_stress's concurrent cases and window_test's cases of
#            forks, zaps and huge faults, in turns, on edu, igb and ivshmem
#            (a case failing because the device was taken away or held
#            is counted, not a failure of the soak);
#   churn1,  soak_churn (tools/testing/vfio_pci_alias/soak_churn.c) on a
#   churn2   device picked at random, for a random time: aliases, windows,
#            mappings, SIGBUS, reset and memory decoding toggles with the
#            mappings in place, forks, SIGKILL of its own children. A
#            device's group opens once at a time, so the churn loops keep
#            off each other's device and off the two devices of the
#            harness's next program until it has run, then have all three
#            for 5 to 15 s;
#   killer   SIGKILL of a churn process (the parent, with mappings, its
#            children dying with it), now and then of a harness program;
#   remover  "echo 1 > remove" of a device, mostly while a soak_churn holds
#            it open with mappings (vfio asks it to let go; it does so or
#            not at random), then a rescan and the rebind through
#            driver_override;
#   binder   unbind and bind of a device, mostly while held; now and then
#            rmmod of vfio_pci_alias (refused while a device is open) and
#            insmod if it went.
#
# Only the soak_churn processes write /proc/self/make-it-fail, and failslab
# (task-filter, GFP_KERNEL included) fails their slab allocations with a
# small probability; the shells, the harness and the kernel's other work
# are not failed. soak_churn sets it once its container and group are set
# up and leaves the group's last close to an anchor process without it
# (the IOMMU core WARNs when the domain attach it must not fail gets
# ENOMEM there); vpa.failslab_group=1 fails those too. "times" starts at a
# large count rather than -1 so that what is left of it gives the number
# of failures injected.
#
# Between rounds everything is killed (SIGKILL of every process of the
# loops' sessions), the bus rescanned, vfio_pci_alias unloaded (which must
# work: no user is left) and loaded again, and the devices bound again.
# After the last round: failslab disarmed, each device bound, opened and
# released, the module unloaded.
#
# Prints the counts of what was done ("VPA-SOAK: NAME COUNT" lines, which
# tools/soak.sh shows). Fails on what the soak itself can see: a process
# that cannot be killed within 300 s (a hang), a module that will not
# unload or a device that does not come back or will not bind or open, a
# churn process that died of a signal other than SIGKILL, a kernel log that
# wrapped (the dmesg scan would miss lines) or a kmemleak that turned itself
# off. Splats and leaks are judged by tools/qemu.sh from the dmesg and
# kmemleak dumps of /init.
#
# Kernel command line: vpa.duration=SECS (3600), vpa.round=SECS (150),
# vpa.stress=SECS (VPA_STRESS_SECONDS of alias_stress, 5), vpa.failslab=PCT
# (failslab's probability, 1), vpa.failslab_group=1 (soak_churn
# --fail-group).

. /vpa/lib.sh

SELF=/vpa/tests/soak.sh
BIN=$VPA_DIR/bin
FAILSLAB=/sys/kernel/debug/failslab
FAILSLAB_TIMES=1000000000
# How long the processes of a round get to die once killed.
STUCK_LIMIT=300

now() { cut -d. -f1 /proc/uptime; }

# One event of this loop: a line in its own file, counted at the end, and
# in the kernel log, where it dates what the kernel says around it.
ev() {
	echo "$*" >>"$S/ev.$ROLE"
	note "$*"
}

# A line in the kernel log only.
note() { echo "vpa: soak $ROLE: $*" >/dev/kmsg; }

# A random element of the arguments.
any() {
	shift $((RANDOM % $#))
	echo "$1"
}

stopping() { [ -e "$S/stop" ] || [ "$(now)" -ge "$END" ]; }

# nap SECS: sleep, a second at a time, unless the round ends.
nap() {
	local i=0
	while [ "$i" -lt "$1" ] && ! stopping; do
		sleep 1
		i=$((i + 1))
	done
}

# Binds every test device that is present and has no driver (after a
# rescan, a mid-round rmmod...) to vfio-pci-alias.
rebind_all() {
	local bdf
	is_loaded "$ALIAS_MODNAME" || return 0
	for bdf in $TEST_BDFS; do
		[ -e "$PCI/devices/$bdf" ] || continue
		[ -z "$(driver_of "$bdf")" ] || continue
		if bind_to "$bdf" "$ALIAS_DRIVER" >/dev/null 2>&1; then
			ev "rebind ok"
		else
			ev "rebind failed"
		fi
	done
}

# start_holder BDF NAME: a soak_churn holding BDF open with mappings for a
# while, in the background (pid in $holder); returns once it holds the
# device, or 1 if it could not open it.
start_holder() {
	local bdf=$1 name=$2 i=0
	HOLDERS=$((HOLDERS + 1))
	rm -f "$S/ready.$name"
	"$BIN/soak_churn" --bdf "$bdf" --seconds $((5 + RANDOM % 20)) --procs 1 $FAIL_ARGS \
		--stats "$S/stats.$name.$RN.$HOLDERS" --ready "$S/ready.$name" \
		>>"$S/out.$name" 2>&1 &
	holder=$!
	echo "$holder" >"$S/victim.$name"
	while [ ! -e "$S/ready.$name" ] && kill -0 "$holder" 2>/dev/null && [ $i -lt 20 ]; do
		sleep 0.5
		i=$((i + 1))
	done
	[ -e "$S/ready.$name" ]
}

end_holder() {
	local rc
	[ -n "$holder" ] || return 0
	wait "$holder"
	rc=$?
	crashed "$rc"
	rm -f "$S/victim.$1"
	holder=
}

# crashed STATUS: a soak_churn's exit status of a signal other than
# SIGKILL is a crash, counted with those its children had.
crashed() {
	[ "$1" -gt 128 ] && [ "$1" != 137 ] || return 0
	echo "soak_churn: the $ROLE loop's soak_churn died of signal $(($1 - 128))" >>"$S/out.$ROLE"
}

# Tallies a harness program's TAP output ($1 program, $2 output file).
tally_harness() {
	local prog=$1 out=$2 verdict name
	sed -n -e 's/^ok [0-9]* \([^ ]*\) # SKIP.*/skip \1/p' \
	       -e 's/^ok [0-9]* \([^ ]*\).*/ok \1/p' \
	       -e 's/^not ok [0-9]* \([^ ]*\).*/not-ok \1/p' "$out" |
	while read -r verdict name; do
		echo "harness $prog/$name $verdict" >>"$S/ev.$ROLE"
	done
}

# The devices a churn loop is on ($S/using.<loop>), one per line.
churned() { cat "$S"/using.* 2>/dev/null; }

loop_harness() {
	# Odd rounds start with alias_stress, even ones with window_test.
	local n=$((RN - 1)) i prog devs bdf rc out=$S/out.harness
	while ! stopping; do
		n=$((n + 1))
		if [ $((n % 2)) = 1 ]; then
			devs="$EDU_BDF $IVSHMEM_BDF"
			set -- alias_stress -t concurrent_set_info_mmap_rw_zap \
				-t reads_while_switching_wc -t concurrent_windows
		else
			devs="$IVSHMEM_BDF $IGB_BDF"
			set -- window_test -t splits_and_forks_keep_window_mapped \
				-t memory_off_zaps_window_and_bar -t huge_faults_through_window \
				-t zaps_window_and_bar
		fi
		prog=$1
		shift
		# The group of a device opens once at a time: the churn loops keep
		# off these devices from now on, and the runs they have on them end
		# (in under 25 s). The remover and the binder do not wait.
		echo "$devs" >"$S/harness-wants"
		i=0
		while [ $i -lt 30 ] && ! stopping; do
			for bdf in $devs; do
				churned | grep -qx "$bdf" && break
				bdf=
			done
			[ -n "$bdf" ] || break
			sleep 1
			i=$((i + 1))
		done
		stopping && break
		note "$prog starts"
		# A session of its own: the killer can take it, test children and all.
		VPA_STRESS_SECONDS=$STRESS VPA_EDU_BDF=$EDU_BDF VPA_IGB_BDF=$IGB_BDF \
			VPA_IVSHMEM_BDF=$IVSHMEM_BDF setsid "$BIN/$prog" "$@" >"$out" 2>&1 &
		echo $! >>"$S/sessions"
		echo $! >"$S/victim.harness"
		wait $!
		rc=$?
		rm -f "$S/victim.harness"
		ev "harness $prog runs"
		[ $rc -lt 128 ] || ev "harness $prog killed"
		tally_harness "$prog" "$out"
		# The last failing output of each program, for the report.
		grep -q '^not ok' "$out" && cp "$out" "$S/last-failure.$prog"
		# Then the devices are the churn's for a while.
		rm -f "$S/harness-wants"
		nap $((5 + RANDOM % 10))
	done
}

# A test device that neither the harness wants now nor the other churn
# loop is on, at random; none if there is no such device.
free_device() {
	local bdf free=
	for bdf in $TEST_BDFS; do
		grep -qw "$bdf" "$S/harness-wants" 2>/dev/null && continue
		cat "$S"/using.* 2>/dev/null | grep -qx "$bdf" && continue
		free="$free $bdf"
	done
	[ -z "$free" ] || any $free
}

loop_churn() {
	local n=0 bdf secs rc
	while ! stopping; do
		bdf=$(free_device)
		[ -n "$bdf" ] || { sleep 1; continue; }
		echo "$bdf" >"$S/using.$ROLE"
		note "churn on $bdf"
		n=$((n + 1))
		secs=$((3 + RANDOM % 20))
		"$BIN/soak_churn" --bdf "$bdf" --seconds "$secs" --procs $((1 + RANDOM % 3)) \
			$FAIL_ARGS --stats "$S/stats.$ROLE.$RN.$n" >>"$S/out.$ROLE" 2>&1 &
		echo $! >"$S/victim.$ROLE"
		wait $!
		rc=$?
		rm -f "$S/victim.$ROLE" "$S/using.$ROLE"
		case $rc in
		0) ev "churn ended" ;;
		3) ev "churn could not open" ;;
		137) ev "churn killed" ;;
		*) ev "churn exit $rc"; crashed "$rc" ;;
		esac
		sleep 0.$((RANDOM % 10))
	done
}

# Kills every live process of session $1.
kill_session() {
	local p pid comm state ppid pgrp sid rest
	for p in /proc/[0-9]*; do
		read -r pid comm state ppid pgrp sid rest 2>/dev/null <"$p/stat" || continue
		[ "$sid" = "$1" ] && [ "$state" != Z ] && kill -KILL "$pid" 2>/dev/null
	done
	return 0
}

# Clears failslab for the process group of $1 (a churn process and its
# forks), which is about to be killed: its exit may close the device's
# group last, and the IOMMU core's release of DMA ownership WARNs when its
# must-not-fail attach to the default domain gets an injected ENOMEM (a
# kernel bug outside the driver, see Documentation/vfio-pci-alias.rst).
calm() {
	local p pid comm state ppid pgid pgrp rest
	read -r pid comm state ppid pgid rest 2>/dev/null <"/proc/$1/stat" || return 0
	for p in /proc/[0-9]*; do
		read -r pid comm state ppid pgrp rest 2>/dev/null <"$p/stat" || continue
		[ "$pgrp" = "$pgid" ] && echo 0 >"$p/make-it-fail" 2>/dev/null
	done
	return 0
}

loop_killer() {
	local v pid
	while ! stopping; do
		nap $((2 + RANDOM % 7))
		stopping && break
		# The harness rarely: it should get to finish most runs.
		if [ $((RANDOM % 12)) = 0 ]; then
			v=harness
		else
			v=$(any churn1 churn2 remover binder)
		fi
		pid=$(cat "$S/victim.$v" 2>/dev/null) || { ev "kill nothing to kill"; continue; }
		if [ "$v" = harness ]; then
			kill_session "$pid"
			ev "kill harness"
		elif calm "$pid" && kill -KILL "$pid" 2>/dev/null; then
			ev "kill churn holding a device"
		fi
	done
}

loop_remover() {
	local bdf held t0 rc
	holder=
	while ! stopping; do
		nap $((3 + RANDOM % 10))
		stopping && break
		bdf=$(any $TEST_BDFS)
		if [ ! -e "$PCI/devices/$bdf" ]; then
			echo 1 >"$PCI/rescan"
			rebind_all
			continue
		fi
		held=idle
		if [ $((RANDOM % 4)) != 0 ] && [ "$(driver_of "$bdf")" = "$ALIAS_DRIVER" ]; then
			start_holder "$bdf" remover && held=held
		fi
		t0=$(now)
		note "removing $bdf ($held)"
		if echo 1 >"$PCI/devices/$bdf/remove"; then
			ev "remove $held"
		else
			ev "remove failed"
		fi
		[ $(($(now) - t0)) -lt 60 ] || ev "remove waited over 60s"
		end_holder remover
		sleep $((RANDOM % 3))
		if echo 1 >"$PCI/rescan"; then ev "rescan"; else ev "rescan failed"; fi
		rebind_all
	done
}

loop_binder() {
	local bdf held
	holder=
	while ! stopping; do
		nap $((2 + RANDOM % 7))
		stopping && break
		if [ $((RANDOM % 6)) = 0 ]; then
			if rmmod "$ALIAS_MODNAME" 2>/dev/null; then
				ev "rmmod mid-round"
				# The devices' driver_override brings them back at load.
				if insmod "$VPA_MODULE"; then ev "insmod"; else ev "insmod failed"; fi
				rebind_all
			else
				ev "rmmod refused"
			fi
			continue
		fi
		bdf=$(any $TEST_BDFS)
		[ -e "$PCI/devices/$bdf" ] || continue
		if [ "$(driver_of "$bdf")" != "$ALIAS_DRIVER" ]; then
			rebind_all
			continue
		fi
		held=idle
		if [ $((RANDOM % 3)) != 0 ]; then
			start_holder "$bdf" binder && held=held
		fi
		note "unbinding $bdf ($held)"
		if echo "$bdf" >"$PCI/drivers/$ALIAS_DRIVER/unbind" 2>/dev/null; then
			ev "unbind $held"
		else
			ev "unbind failed"
		fi
		end_holder binder
		# driver_override is still vfio-pci-alias.
		echo "$bdf" >"$PCI/drivers_probe" 2>/dev/null
		if [ "$(driver_of "$bdf")" = "$ALIAS_DRIVER" ]; then
			ev "bind ok"
		else
			ev "bind failed"
		fi
	done
}

# session_pids [all]: every live process of the sessions in $S/sessions,
# one per line; soak_churn's anchors (which hold a group until the rest of
# their run is gone) only with "all". A process counts while any of its
# threads is not a zombie (a thread group whose leader has exited can have
# a thread still in the kernel).
session_pids() {
	local sids p t pid comm state ppid pgrp sid rest
	sids=" $(tr '\n' ' ' <"$S/sessions") "
	for p in /proc/[0-9]*; do
		for t in "$p"/task/*; do
			read -r pid comm state ppid pgrp sid rest 2>/dev/null <"$t/stat" || continue
			[ "$state" != Z ] || continue
			[ "${1:-}" = all ] || [ "$comm" != "(soak_anchor)" ] || continue
			case $sids in *" $sid "*) echo "${p#/proc/}"; break ;; esac
		done
	done
}

# Ends a round: SIGKILL for every process of it, again until none is left;
# the anchors last, which end by themselves once the rest is gone.
teardown_round() {
	local t0 left pid alone=
	touch "$S/stop"
	t0=$(now)
	while :; do
		left=$(session_pids)
		if [ -z "$left" ]; then
			[ -n "$alone" ] || alone=$(now)
			left=$(session_pids all)
			[ -n "$left" ] || break
		fi
		if [ -n "$alone" ] && [ $(($(now) - alone)) -lt 20 ]; then
			sleep 1
			continue
		fi
		if [ $(($(now) - t0)) -ge $STUCK_LIMIT ]; then
			fail "processes left ${STUCK_LIMIT}s after SIGKILL:"
			for pid in $left; do
				show_threads "/proc/$pid/task/*"
			done
			return 1
		fi
		for pid in $left; do kill -KILL "$pid" 2>/dev/null; done
		sleep 1
	done
	wait
	rm -f "$S/stop" "$S/harness-wants" "$S"/victim.* "$S"/ready.* "$S"/using.*
	: >"$S/sessions"
	echo "$(($(now) - t0))" >>"$S/teardown-times"
}

# show_threads GLOB: state, wait channel and kernel stack of the threads
# /proc/PID/task/TID matching GLOB that are not zombies.
show_threads() {
	local t state
	for t in $1; do
		state=$(cut -d' ' -f3 "$t/stat" 2>/dev/null)
		[ -n "$state" ] && [ "$state" != Z ] || continue
		echo "# thread ${t#/proc/}: $(cat "$t/comm" 2>/dev/null) state $state" \
			"wchan $(cat "$t/wchan" 2>/dev/null)"
		sed 's/^/#     /' "$t/stack" 2>/dev/null
	done
}

# Who still uses the devices, when nothing of the soak is left: each
# device's enable count and the driver's debugfs view of its BARs, and any
# process with a vfio fd or mapping.
show_users() {
	local bdf p f
	for bdf in $TEST_BDFS; do
		echo "# $bdf: driver '$(driver_of "$bdf")'," \
			"enable $(cat "$PCI/devices/$bdf/enable" 2>/dev/null)"
	done
	for f in $(find /sys/kernel/debug/vfio-pci-alias /sys/kernel/debug/vfio_pci_alias \
			-name bars 2>/dev/null); do
		echo "# $f:"
		sed 's/^/#   /' "$f"
	done
	for p in /proc/[0-9]*/task/*; do
		if ls -l "$p/fd" 2>/dev/null | grep -q vfio || grep -q vfio "$p/maps" 2>/dev/null; then
			echo "# ${p#/proc/} ($(cat "$p/comm" 2>/dev/null)) has vfio fds or mappings"
		fi
	done
	# Threads in the kernel for good (D), wherever they are.
	for p in /proc/[0-9]*/task/*; do
		[ "$(cut -d' ' -f3 "$p/stat" 2>/dev/null)" = D ] && show_threads "$p"
	done
	# Whether each device opens again (EBUSY: its group is still open).
	for bdf in $TEST_BDFS; do
		[ "$(driver_of "$bdf")" = "$ALIAS_DRIVER" ] || continue
		echo "# $bdf opens: $("$BIN/hold_device" "$bdf" 0 2>&1 | tr '\n' ' ')"
	done
}

# Between rounds, and at the end: the devices back, the module unloaded
# (nothing holds it now) and, unless $1 is "last", loaded again with the
# devices bound. A module that will not unload is a failure, with the
# users shown; the soak goes on with it loaded.
reset_stack() {
	local bdf rc=0
	ROLE=main
	echo 1 >"$PCI/rescan" || { fail "rescan"; rc=1; }
	for bdf in $TEST_BDFS; do
		[ -e "$PCI/devices/$bdf" ] || { fail "$bdf did not come back"; rc=1; }
	done
	if is_loaded "$ALIAS_MODNAME"; then
		if rmmod "$ALIAS_MODNAME"; then
			ev "rmmod between rounds"
		else
			fail "rmmod $ALIAS_MODNAME with no user left" \
				"($(grep "^$ALIAS_MODNAME " /proc/modules))"
			ev "rmmod between rounds refused"
			show_users
			rc=1
		fi
	fi
	[ "$1" != last ] || return $rc
	if ! is_loaded "$ALIAS_MODNAME"; then
		insmod "$VPA_MODULE" || { fail "insmod $VPA_MODULE"; return 1; }
		ev "insmod between rounds"
	fi
	for bdf in $TEST_BDFS; do
		bind_to "$bdf" "$ALIAS_DRIVER" >/dev/null || rc=1
	done
	return $rc
}

arm_failslab() {
	echo Y >"$FAILSLAB/task-filter" &&
	echo N >"$FAILSLAB/ignore-gfp-wait" &&
	echo N >"$FAILSLAB/cache-filter" &&
	echo 0 >"$FAILSLAB/verbose" &&
	echo 0 >"$FAILSLAB/space" &&
	echo 1 >"$FAILSLAB/interval" &&
	echo "$FAILSLAB_TIMES" >"$FAILSLAB/times" &&
	echo "$1" >"$FAILSLAB/probability"
}

# Each device opens and closes, unloaded at the end: the state after a soak.
final_check() {
	local bdf rc=0
	for bdf in $TEST_BDFS; do
		bind_to "$bdf" "$ALIAS_DRIVER" >/dev/null || { rc=1; continue; }
		"$BIN/hold_device" "$bdf" 0 >/dev/null || { fail "cannot open $bdf after the soak"; rc=1; }
		release "$bdf" || rc=1
	done
	unload_alias || { show_users; rc=1; }
	return $rc
}

summary() {
	local rounds=$1 secs=$2 injected=$3 k v
	echo "VPA-SOAK: rounds $rounds"
	echo "VPA-SOAK: seconds $secs"
	echo "VPA-SOAK: failslab-injected $injected"
	[ ! -s "$S/teardown-times" ] ||
		echo "VPA-SOAK: teardown-max-seconds $(sort -n "$S/teardown-times" | tail -n 1)"
	cat "$S"/ev.* 2>/dev/null | sort | uniq -c |
		while read -r v k; do echo "VPA-SOAK: $k $v"; done
	"$BIN/soak_churn" --sum "$S"/stats.* 2>/dev/null |
		while read -r k v; do echo "VPA-SOAK: churn $k $v"; done
}

# What the soak can see of the kernel log itself; qemu.sh scans its text.
kernel_log_check() {
	local rc=0
	dmesg | head -n 1 | grep -q 'Linux version' ||
		{ fail "the kernel log wrapped: its first lines are gone (log_buf_len=?)"; rc=1; }
	if [ -e /sys/kernel/debug/kmemleak ] && dmesg | grep -q 'kmemleak: .*disabled'; then
		fail "kmemleak turned itself off"
		dmesg | grep 'kmemleak' | tail -n 5
		rc=1
	fi
	return $rc
}

# Shows, with "VPA-" taken out so that qemu.sh does not read it as ours,
# the last lines of a file.
show() {
	tail -n "$2" "$1" | sed -e 's/VPA-/vpa-/g' -e 's/^/#   /'
}

main() {
	local t0 final round=0 rc=0 stuck=0 unload=0 injected=0 f crashes
	DURATION=$(cmdline duration 3600)
	ROUND=$(cmdline round 150)
	STRESS=$(cmdline stress 5)
	PROB=$(cmdline failslab 1)
	case $DURATION$ROUND$STRESS$PROB in *[!0-9]*) fail "bad vpa.duration/round/stress/failslab"; return 1 ;; esac
	FAIL_ARGS=--fail
	[ "$(cmdline failslab_group 0)" = 0 ] || FAIL_ARGS="--fail --fail-group"
	S=/tmp/soak
	rm -rf "$S"
	mkdir -p "$S"
	: >"$S/sessions"
	export S STRESS FAIL_ARGS
	ROLE=main

	[ -e "$FAILSLAB/probability" ] ||
		{ fail "no $FAILSLAB (CONFIG_FAILSLAB, CONFIG_FAULT_INJECTION_DEBUG_FS)"; return 1; }
	[ -e /proc/self/make-it-fail ] || { fail "no /proc/self/make-it-fail"; return 1; }
	[ -e /sys/kernel/debug/kmemleak ] || info "no kmemleak in this kernel"
	load_vfio_stack "$VPA_MODE" && load_alias || return 1
	for f in $TEST_BDFS; do
		bind_to "$f" "$ALIAS_DRIVER" || return 1
	done
	arm_failslab "$PROB" || { fail "arming failslab"; return 1; }
	info "soak: ${DURATION}s in rounds of ${ROUND}s, failslab ${PROB}% for soak_churn" \
		"($FAIL_ARGS), VPA_STRESS_SECONDS=$STRESS, mode $VPA_MODE"

	t0=$(now)
	final=$((t0 + DURATION))
	while [ "$(now)" -lt "$final" ]; do
		round=$((round + 1))
		END=$(($(now) + ROUND))
		[ "$END" -le "$final" ] || END=$final
		RN=$round
		export END RN
		info "round $round: until uptime ${END}s"
		for f in harness churn1 churn2 killer remover binder; do
			setsid sh "$SELF" --loop "$f" </dev/null 2>>"$S/err.$f" &
			echo $! >>"$S/sessions"
		done
		while [ "$(now)" -lt "$END" ]; do sleep 5; done
		teardown_round || { stuck=1; break; }
		if [ "$(now)" -lt "$final" ]; then
			reset_stack || unload=1
		fi
	done
	injected=$((FAILSLAB_TIMES - $(cat "$FAILSLAB/times")))
	echo 0 >"$FAILSLAB/probability"
	if [ $stuck = 0 ]; then
		reset_stack last || unload=1
		# Still loaded if it would not unload.
		load_alias && final_check || unload=1
	fi
	if [ $stuck = 0 ]; then report ok soak/teardown; else report not-ok soak/teardown; rc=1; fi
	if [ $unload = 0 ]; then report ok soak/reload; else report not-ok soak/reload; rc=1; fi

	summary "$round" $(($(now) - t0)) "$injected"
	for f in "$S"/err.*; do
		# The shells' own complaints ("Killed" for a job SIGKILLed is normal).
		grep -v '^Killed$' "$f" | grep -q . || continue
		info "stderr of the ${f##*.} loop:"
		grep -v '^Killed$' "$f" | tail -n 10 | sed -e 's/VPA-/vpa-/g' -e 's/^/#   /'
	done
	for f in "$S"/last-failure.*; do
		[ -e "$f" ] || continue
		info "last failing run of ${f##*.} (under churn; counted, not judged):"
		show "$f" 15
	done
	crashes=$(cat "$S"/out.* 2>/dev/null | grep -c 'died of signal')
	if [ "$crashes" != 0 ]; then
		fail "$crashes churn process(es) died of a signal other than SIGKILL:"
		cat "$S"/out.* | grep 'died of signal' | sort | uniq -c | head -n 10
		# What the first ones saw (soak_churn's SIGSEGV handler).
		cat "$S"/out.* | grep '^soak_churn: ' | grep -v 'died of signal' | head -n 60 |
			sed -e 's/VPA-/vpa-/g' -e 's/^/# /'
		report not-ok soak/churn-signals
		rc=1
	else
		report ok soak/churn-signals
	fi
	if kernel_log_check; then report ok soak/kernel-log; else report not-ok soak/kernel-log; rc=1; fi
	# kmemleak reports objects at least 5 s old: give the last ones time.
	sleep 6
	return $rc
}

if [ "${1:-}" = --loop ]; then
	ROLE=$2
	case $2 in
	churn*) loop_churn ;;
	*) "loop_$2" ;;
	esac
	exit 0
fi
main
