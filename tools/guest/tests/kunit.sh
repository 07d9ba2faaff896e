#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The module's KUnit suites run when it is loaded; report each case from the
# KTAP the kernel printed as kunit/<suite>/<case>.

. /vpa/lib.sh

SUITES="vfio_pci_alias_rcu_table vfio_pci_alias_denylist vfio_pci_alias_percpu_rw vfio_pci_alias_alias_cache vfio_pci_alias_policy"

main() {
	local rc=0 n
	load_vfio_stack "$VPA_MODE" || return 1
	is_loaded "$ALIAS_MODNAME" && unload_alias
	n=$(dmesg | wc -l)
	load_alias || return 1
	dmesg | tail -n +$((n + 1)) >/tmp/kunit.txt
	for SUITE in $SUITES; do
		# Case lines are indented inside the suite's subtest.
		sed -n "/# Subtest: $SUITE/,/^ok [0-9]* $SUITE\|^not ok [0-9]* $SUITE/p" /tmp/kunit.txt >/tmp/kunit.suite
		grep -q "^ok [0-9]* $SUITE" /tmp/kunit.suite || rc=1
		sed -n -e "s/^ \{4\}ok [0-9]* \([a-z_]*\).*/VPA-TEST: ok kunit\/$SUITE\/\1/p" \
		       -e "s/^ \{4\}not ok [0-9]* \([a-z_]*\).*/VPA-TEST: not ok kunit\/$SUITE\/\1/p" /tmp/kunit.suite
		grep -q '^ \{4\}ok ' /tmp/kunit.suite || { fail "no KUnit case of $SUITE ran"; rc=1; }
	done
	unload_alias || rc=1
	return $rc
}

main
