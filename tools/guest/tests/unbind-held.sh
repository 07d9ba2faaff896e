#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Unbinding while a user holds the device open must wait for the user (vfio
# asks through the request path, then blocks), on vfio-pci and on
# vfio-pci-alias alike. rmmod while a user holds the device is refused
# (the open device holds a reference on the driver's module), for vfio_pci
# and vfio_pci_alias alike, and works once the user is gone.
# Sub-results: unbind-held/<driver>, rmmod-held/<module>.

. /vpa/lib.sh

HOLD=4
HOLD_OUT=/tmp/hold.out

# start_holder: open edu in the background for $HOLD s (pid in $pid) and
# wait until it has the device open.
start_holder() {
	# The background shell truncates the file only once it runs: remove
	# it first, or the last holder's "held" could be read.
	rm -f "$HOLD_OUT"
	"$VPA_DIR/bin/hold_device" "$EDU_BDF" "$HOLD" >"$HOLD_OUT" 2>&1 &
	pid=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		grep -q held "$HOLD_OUT" 2>/dev/null && return 0
		sleep 0.2
	done
	cat "$HOLD_OUT"
	kill "$pid"
	fail "holder did not open"
}

# held_op DRIVER OP...: bind edu to DRIVER, hold it open for $HOLD s in the
# background, run OP, and check that OP took about that long (it waited)
# and that the holder exited cleanly.
held_op() {
	local drv=$1 t0 t1
	shift
	bind_to "$EDU_BDF" "$drv" || return 1
	start_holder || return 1
	t0=$(date +%s)
	"$@" || { wait "$pid"; fail "$* failed"; return 1; }
	t1=$(date +%s)
	wait "$pid" || { fail "holder exited with an error"; return 1; }
	info "$* with the device held took $((t1 - t0))s (held ${HOLD}s)"
	[ $((t1 - t0)) -ge $((HOLD - 2)) ] || { fail "$* did not wait for the user"; return 1; }
	[ -z "$(driver_of "$EDU_BDF")" ] || { fail "$EDU_BDF still bound"; return 1; }
	release "$EDU_BDF"
}

# rmmod_held DRIVER: with edu bound to DRIVER and held open, rmmod of the
# driver's module is refused and leaves everything in place; after the user
# is gone it succeeds.
rmmod_held() {
	local drv=$1 mod
	mod=$(echo "$drv" | tr - _)
	bind_to "$EDU_BDF" "$drv" || return 1
	start_holder || return 1
	if rmmod "$mod" 2>/dev/null; then
		wait "$pid"
		fail "rmmod $mod succeeded while the device was open"
		return 1
	fi
	is_loaded "$mod" && [ "$(driver_of "$EDU_BDF")" = "$drv" ] ||
		{ wait "$pid"; fail "refused rmmod $mod changed something"; return 1; }
	wait "$pid" || { fail "holder exited with an error"; return 1; }
	rmmod "$mod" || { fail "rmmod $mod after the user left"; return 1; }
	release "$EDU_BDF" || return 1
	# Back to the starting point for the next case.
	if [ "$mod" = vfio_pci ]; then mod vfio_pci; else load_alias; fi
}

main() {
	local rc=0 drv
	load_vfio_stack "$VPA_MODE" && load_alias || return 1
	for drv in vfio-pci "$ALIAS_DRIVER"; do
		if held_op "$drv" unbind "$EDU_BDF"; then
			report ok "unbind-held/$drv"
		else
			report not-ok "unbind-held/$drv"; rc=1
		fi
	done
	for drv in vfio-pci "$ALIAS_DRIVER"; do
		if rmmod_held "$drv"; then
			report ok "rmmod-held/$drv"
		else
			report not-ok "rmmod-held/$drv"; rc=1
		fi
	done
	return $rc
}

main
