# SPDX-License-Identifier: GPL-2.0
# spanheap - top-level targets.  See README.md.
#   make              build spanheap.ko (+ bench and demo modules) against KDIR
#   make check        all test tiers; ends with "N passed, N failed, N skipped"
#   make check-user | check-vm | check-stock     one tier
#   make bench        userspace benchmarks against glibc, Boehm GC and Go
#   make bench-vm     in-kernel benchmark against SLUB on Debian's kernel
#   make demo         boot Debian's kernel in QEMU and show the module working
SHELL	:= /bin/bash
REPO	:= $(CURDIR)
DEBIAN_KDIR := $(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64)))
KDIR	?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) $(DEBIAN_KDIR))
DEPS	:= $(REPO)/scripts/deps.sh
VM	:= $(REPO)/userspace-tests/vm

.PHONY: all modules check check-user check-vm check-stock bench bench-vm demo clean

all: modules

modules:
	@[ -n "$(KDIR)" ] || $(DEPS) stock
	$(MAKE) -C $(or $(KDIR),$(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64)))) M=$(REPO) modules

check-user:
	@$(DEPS) user
	$(MAKE) -C userspace-tests check

check-vm:
	@$(DEPS) vm
	$(VM)/check-vm.sh $(REPO)

check-stock:
	@$(DEPS) stock
	$(VM)/check-stock.sh $(REPO)

# Every tier runs even if an earlier one fails; the last line sums them.
check:
	@$(REPO)/userspace-tests/run-tiers.sh $(REPO) user vm stock

bench:
	@$(DEPS) user
	$(MAKE) -C userspace-tests bench
	$(REPO)/userspace-tests/bench/run.sh $(REPO)

bench-vm:
	@$(DEPS) stock
	$(VM)/bench-vm.sh $(REPO)

demo:
	@$(DEPS) stock
	$(VM)/demo.sh $(REPO)

clean:
	rm -rf build
	@if [ -n "$(KDIR)" ]; then $(MAKE) -C $(KDIR) M=$(REPO) clean; fi
