#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run our kselftest-harness programs (tools/testing/vfio_pci_alias, static in
# /vpa/bin) against edu, igb and ivshmem bound to vfio-pci-alias, in the
# current mode. Each harness test case becomes a sub-result
# "VPA-TEST: ok <program>/<case>".
#
#   run-harness.sh PROGRAM [ARGS...]   (from a test script in tests/)
#
# The devices go to PROGRAM as BDF arguments after ARGS, as a kernel
# developer runs it by hand (Documentation/vfio-pci-alias.rst, "Testing");
# tests/dropin-test.sh runs policy_test with them in the environment.

. /vpa/lib.sh

prog=$1
shift

main() {
	local bdf rc=0 out=/tmp/$prog.out
	load_vfio_stack "$VPA_MODE" && load_alias || return 1
	for bdf in $TEST_BDFS; do
		bind_to "$bdf" "$ALIAS_DRIVER" || return 1
	done
	"$VPA_DIR/bin/$prog" "$@" $TEST_BDFS >"$out" 2>&1 || rc=1
	cat "$out"
	# kselftest TAP: "ok N fixture.case" / "not ok N fixture.case # reason".
	sed -n -e "s/^ok [0-9]* \([^ #]*\).*/VPA-TEST: ok $prog\/\1/p" \
	       -e "s/^not ok [0-9]* \([^ #]*\).*/VPA-TEST: not ok $prog\/\1/p" "$out"
	grep -q '^ok [0-9]' "$out" || { fail "$prog ran no test"; rc=1; }
	for bdf in $TEST_BDFS; do
		release "$bdf" || rc=1
	done
	unload_alias || rc=1
	return $rc
}

main
