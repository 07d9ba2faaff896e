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
	local rc=0 out=/tmp/$prog.out
	bind_all_alias || return 1
	"$VPA_DIR/bin/$prog" "$@" $TEST_BDFS >"$out" 2>&1 || rc=1
	cat "$out"
	harness_results "$prog" "$out" || rc=1
	release_all_alias || rc=1
	return $rc
}

main "$@"
