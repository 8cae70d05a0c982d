# SPDX-License-Identifier: GPL-2.0
# spanheap - top-level targets.  See README.md.
#   make              build spanheap.ko (+ bench and demo modules) against KDIR
#   make check        all test tiers; ends with "N passed, N failed, N skipped"
#   make check-user | check-vm | check-kcsan | check-stock | check-dkms  one tier
#   make install      spanheap.ko (modules_install), the udev rule and group,
#                     libspanheap (.so, .a, header, spanheap.pc), spanheapctl
#                     and its man page; DESTDIR, PREFIX (/usr/local); uninstall
#   make dkms-source  the module's sources to $(DKMS_SRC)/spanheap-<VERSION>
#   make fuzz         libFuzzer on the ioctl dispatcher, FUZZ_SECONDS (default 120)
#   make coverage     line/branch coverage of kmod/*.c under the userspace suites
#   make bench        userspace benchmarks against glibc, jemalloc, tcmalloc,
#                     mimalloc, Boehm GC and Go (medians of BENCH_ROUNDS (3)
#                     rounds; gc_live_tree_1m of TREE_ROUNDS (5))
#   make bench-alloc  only the malloc+free loops, RUNS (9) runs in a row
#   make bench-vm     in-kernel benchmarks (SLUB, xarray, maple tree peers)
#   make tcg-prof     guest kernel instructions per object of one ioctl
#                     benchmark (BENCH, default ioctl_alloc_fin), by function
#   make bench-report bench (and bench-vm with BENCH_VM=1), then build/bench/report.md
#                     with tables against peers and bars, and gnuplot plots
#   make demo         boot Debian's kernel in QEMU and show the module working
#   make shell        an interactive shell in that VM with the module loaded
#                     (KERNEL=test: on the debug test kernel instead)
#   FUZZ_SECONDS=N    how long the ioctl fuzzer runs in each VM tier (120)
SHELL	:= /bin/bash
REPO	:= $(CURDIR)
DEBIAN_KDIR := $(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64)))
KDIR	?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) $(DEBIAN_KDIR))
DEPS	:= $(REPO)/scripts/deps.sh
VM	:= $(REPO)/userspace-tests/vm

.PHONY: all modules check check-user fuzz fuzz-merge coverage check-vm check-kcsan check-stock check-dkms bench bench-alloc bench-vm tcg-prof bench-report demo shell clean uapi-tools \
	lib install uninstall dkms-source

# Userspace side of /dev/spanheap, static (the QEMU guests are busybox only):
# selftests and fuzzer run in both VM tiers, spanheapctl drives the demo.
# The test programs print TAP through the kselftest framework:
# userspace-tests/uapi/kselftest/ holds kselftest_harness.h (selftest.c)
# and kselftest.h (the others), copied unchanged from Linux 6.1.
FUZZ_SECONDS ?= 120
UAPI_SRC := $(REPO)/userspace-tests/uapi
UAPI_CC := $(CC) -O2 -g -Wall -Wextra -static -pthread -I$(REPO)/uapi -I$(UAPI_SRC)
LIBSPANHEAP := $(UAPI_SRC)/libspanheap.c $(UAPI_SRC)/libspanheap_dev.c
UAPI_DEPS := $(wildcard $(UAPI_SRC)/*.h $(UAPI_SRC)/kselftest/*.h $(UAPI_SRC)/*.c) \
	     $(REPO)/uapi/linux/spanheap.h

all: modules

modules:
	@[ -n "$(KDIR)" ] || $(DEPS) stock
	$(MAKE) -C $(or $(KDIR),$(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64)))) M=$(REPO) modules

check-user:
	@$(DEPS) user kunit
	$(MAKE) -C userspace-tests check

# The coverage-guided ioctl fuzzers (userspace-tests/fuzz/): FUZZ_SECONDS
# of libFuzzer under ASan+UBSan and, beside it, threaded under TSan;
# fuzz-merge folds what they found into the repository's corpus.
fuzz fuzz-merge:
	@$(DEPS) user
	$(MAKE) -C userspace-tests $@ FUZZ_SECONDS=$(FUZZ_SECONDS)

# Line and branch coverage of kmod/*.c under the userspace KUnit suites
# (build/coverage/, HTML in build/coverage/html/); COVERAGE_EXTRA_RUNS adds
# more programs to the run (see userspace-tests/Makefile).
coverage:
	@$(DEPS) user
	$(MAKE) -C userspace-tests coverage

# Guest programs beside the selftests, one source each in userspace-tests/uapi/:
# faultinj.c (fail-nth over every call), stallcopy.c (userfaultfd-stalled
# copies), memcg.c (cgroup v2 memory.max).
GUEST_TESTS := faultinj stallcopy memcg
GUEST_TEST_BINS := $(patsubst %,build/vm-selftests/spanheap_%,$(GUEST_TESTS))

# The 64-bit programs need only the `demo` packages (static glibc from
# build-essential's libc6-dev); the 32-bit selftest needs gcc-multilib (`user`).
SHELL_TOOLS := build/vm-bin/spanheapctl build/vm-selftests/spanheap_selftest \
	       build/vm-selftests/spanheap_fuzz $(GUEST_TEST_BINS)

uapi-tools: $(SHELL_TOOLS) build/vm-selftests/spanheap_selftest32

$(GUEST_TEST_BINS): build/vm-selftests/spanheap_%: $(UAPI_SRC)/%.c $(UAPI_DEPS)
	@$(DEPS) demo
	@mkdir -p $(@D)
	$(UAPI_CC) -o $@ $< $(LIBSPANHEAP)

build/vm-selftests/spanheap_selftest: $(UAPI_DEPS)
	@$(DEPS) demo
	@mkdir -p $(@D)
	$(UAPI_CC) -o $@ $(UAPI_SRC)/selftest.c $(LIBSPANHEAP)

# The same selftests as a 32-bit program: the compat_ioctl path.
build/vm-selftests/spanheap_selftest32: $(UAPI_DEPS)
	@$(DEPS) user
	@mkdir -p $(@D)
	$(UAPI_CC) -m32 -o $@ $(UAPI_SRC)/selftest.c $(LIBSPANHEAP)

build/vm-selftests/spanheap_fuzz: $(UAPI_DEPS) FORCE
	@$(DEPS) demo
	@mkdir -p $(@D)
	$(UAPI_CC) -DFUZZ_SECONDS=$(FUZZ_SECONDS) -o $@ $(UAPI_SRC)/fuzz.c $(LIBSPANHEAP)

build/vm-bin/spanheapctl: $(UAPI_DEPS)
	@$(DEPS) demo
	@mkdir -p $(@D)
	$(UAPI_CC) -o $@ $(UAPI_SRC)/spanheapctl.c $(LIBSPANHEAP)

# bench-vm's guest program: the ioctl path (ioctl_bench.c).
build/vm-bin/spanheap_ioctl_bench: $(UAPI_DEPS)
	@$(DEPS) demo
	@mkdir -p $(@D)
	$(UAPI_CC) -o $@ $(UAPI_SRC)/ioctl_bench.c $(UAPI_SRC)/ioctl_loops.c $(LIBSPANHEAP)

FORCE:

check-vm: uapi-tools
	@$(DEPS) vm kunit
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(VM)/check-vm.sh $(REPO)

check-stock: uapi-tools
	@$(DEPS) stock kunit
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(VM)/check-stock.sh $(REPO)

# DKMS against Debian's linux-headers-amd64 into build/dkms/ (not the
# host's /var/lib/dkms), make install into a DESTDIR and programs built
# against it with pkg-config, then Debian's kernel with the DKMS-built
# module, the udev rule applied by mdev, a non-root member of the group.
check-dkms:
	@$(DEPS) dkms kunit
	$(VM)/check-dkms.sh $(REPO)

# The KCSAN kernel (testkernel-kcsan.config): KUnit suites, then the fuzzer
# with 4 threads on each of 2 files for FUZZ_SECONDS.
check-kcsan: uapi-tools
	@$(DEPS) vm kunit
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(VM)/check-kcsan.sh $(REPO)

# Every tier runs even if an earlier one fails; the last line sums them.
check:
	@$(REPO)/userspace-tests/run-tiers.sh $(REPO) user vm kcsan stock dkms

bench:
	@$(DEPS) user
	$(MAKE) -C userspace-tests bench
	$(REPO)/userspace-tests/bench/run.sh $(REPO)

# The alloc_free_32 bars hold per run: RUNS runs in a row, one line each.
RUNS ?= 9
bench-alloc:
	@$(DEPS) user
	$(MAKE) -C userspace-tests bench
	$(REPO)/userspace-tests/bench/run.sh $(REPO) --only alloc_free $(RUNS)

bench-vm:
	@$(DEPS) stock
	@$(MAKE) --no-print-directory build/vm-bin/spanheap_ioctl_bench >/dev/null
	$(VM)/bench-vm.sh $(REPO)

BENCH ?= ioctl_alloc_fin
tcg-prof:
	@$(DEPS) stock
	$(VM)/tcg-prof/tcg-prof.sh $(REPO) $(BENCH)

# bench-report: make bench (BENCH_VM=1: and bench-vm; not VM=1, VM is the
# vm/ directory above), their stdout kept in build/bench/{bench,bench-vm}.log,
# then report.py writes report.md and plots/ beside them.  `report.py LOG`
# alone redoes it from saved logs.
BENCH_OUT := $(REPO)/build/bench
bench-report:
	@$(DEPS) user $(if $(BENCH_VM),stock)
	@mkdir -p $(BENCH_OUT)
	@set -o pipefail; \
	start=$$(date -u '+%Y-%m-%d %H:%M UTC'); load=$$(cut -d' ' -f1-3 /proc/loadavg); \
	$(MAKE) --no-print-directory bench | tee $(BENCH_OUT)/bench.log && \
	$(if $(BENCH_VM),$(MAKE) --no-print-directory bench-vm | tee $(BENCH_OUT)/bench-vm.log &&) \
	$(REPO)/userspace-tests/bench/report.py -o $(BENCH_OUT) --date "$$start" --load "$$load" \
		$(if $(BENCH_VM),--vm $(BENCH_OUT)/bench-vm.log) $(BENCH_OUT)/bench.log

# demo and shell install the `demo` packages only (no Go, Boehm, multilib).
demo:
	@$(DEPS) demo
	@$(MAKE) --no-print-directory build/vm-bin/spanheapctl >/dev/null
	$(VM)/demo.sh $(REPO)

# KERNEL=stock (default) or test (the debug kernel of check-vm).
KERNEL ?= stock
shell:
	@$(DEPS) demo
	@$(MAKE) --no-print-directory $(SHELL_TOOLS) FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@$(VM)/shell.sh $(REPO) $(KERNEL)

# ---- make install / uninstall (Documentation/spanheap/install.rst) ----
# Userspace under PREFIX; the module through the kernel's modules_install
# (INSTALL_MOD_PATH=DESTDIR, INSTALL_MOD_DIR), then depmod; the udev rule in
# UDEVRULESDIR (udev does not read PREFIX/lib/udev).  Without DESTDIR it
# also creates group spanheap and runs depmod, ldconfig and udevadm.
VERSION	:= $(strip $(file <$(REPO)/VERSION))
PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
LIBDIR	?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR	?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
UDEVRULESDIR ?= /etc/udev/rules.d
INSTALL_MOD_DIR ?= extra
DKMS_SRC ?= /usr/src
INSTALL	?= install
# KDIR, or Debian's headers once deps.sh has installed them (as for modules);
# KVER the release modules_install uses (Debian's kernel.release is upstream's).
# Newest by version (make's $(sort) is lexical: 6.1.0-9 after 6.1.0-56).
INST_KDIR = $(or $(KDIR),$(shell ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1))
KVER	= $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' $(INST_KDIR)/include/generated/utsrelease.h)
# soname libspanheap.so.<VERSION's major> (0): a new major when the ABI breaks.
SO_NAME	:= libspanheap.so.$(firstword $(subst ., ,$(VERSION)))
SO_REAL	:= libspanheap.so.$(VERSION)
LIB_OBJS := build/lib/libspanheap.o build/lib/libspanheap_dev.o
LIB_CC	:= $(CC) -O2 -g -Wall -Wextra -fPIC -I$(REPO)/uapi -I$(UAPI_SRC)
LIB_OUT	:= build/lib/libspanheap.a build/lib/$(SO_REAL) build/lib/spanheapctl \
	   build/lib/spanheap.pc

lib: $(LIB_OUT)

build/lib/%.o: $(UAPI_SRC)/%.c $(UAPI_SRC)/libspanheap.h $(REPO)/uapi/linux/spanheap.h
	@mkdir -p $(@D)
	$(LIB_CC) -c -o $@ $<

build/lib/libspanheap.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

build/lib/$(SO_REAL): $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,$(SO_NAME) -o $@ $^

# spanheapctl links libspanheap statically (glibc dynamically): the library
# is a few KB, and the tool then runs from a DESTDIR or before ldconfig.
build/lib/spanheapctl: $(UAPI_SRC)/spanheapctl.c build/lib/libspanheap.a
	$(CC) -O2 -g -Wall -Wextra -I$(REPO)/uapi -I$(UAPI_SRC) -o $@ $< build/lib/libspanheap.a

# Rewritten when PREFIX or a directory changes (compared, so no relink).
build/lib/spanheap.pc: $(UAPI_SRC)/spanheap.pc.in $(REPO)/VERSION FORCE
	@mkdir -p $(@D)
	@sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	     -e 's|@VERSION@|$(VERSION)|' $< >$@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

# Debian's headers hold neither the distribution's signing key nor
# System.map: modules_install would try to sign (and fail, loudly) and skip
# depmod with a warning; depmod runs below instead.
MODINST_QUIET := CONFIG_MODULE_SIG_ALL= cmd_depmod=true

install: $(LIB_OUT)
	@[ -n "$(KDIR)" ] || $(DEPS) stock
	$(MAKE) -C $(INST_KDIR) M=$(REPO) SPANHEAP_CORE_ONLY=1 modules
	$(MAKE) -C $(INST_KDIR) M=$(REPO) SPANHEAP_CORE_ONLY=1 INSTALL_MOD_PATH=$(DESTDIR) \
		INSTALL_MOD_DIR=$(INSTALL_MOD_DIR) $(MODINST_QUIET) modules_install
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(INCLUDEDIR)/spanheap/linux $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UDEVRULESDIR)
	$(INSTALL) -m 0755 build/lib/spanheapctl $(DESTDIR)$(BINDIR)/spanheapctl
	$(INSTALL) -m 0644 $(UAPI_SRC)/spanheapctl.1 $(DESTDIR)$(MANDIR)/man1/spanheapctl.1
	$(INSTALL) -m 0644 build/lib/libspanheap.a $(DESTDIR)$(LIBDIR)/libspanheap.a
	$(INSTALL) -m 0755 build/lib/$(SO_REAL) $(DESTDIR)$(LIBDIR)/$(SO_REAL)
	ln -sf $(SO_REAL) $(DESTDIR)$(LIBDIR)/$(SO_NAME)
	ln -sf $(SO_NAME) $(DESTDIR)$(LIBDIR)/libspanheap.so
	$(INSTALL) -m 0644 build/lib/spanheap.pc $(DESTDIR)$(PKGCONFIGDIR)/spanheap.pc
	$(INSTALL) -m 0644 $(UAPI_SRC)/libspanheap.h $(DESTDIR)$(INCLUDEDIR)/spanheap/libspanheap.h
	$(INSTALL) -m 0644 $(REPO)/uapi/linux/spanheap.h $(DESTDIR)$(INCLUDEDIR)/spanheap/linux/spanheap.h
	$(INSTALL) -m 0644 $(REPO)/udev/60-spanheap.rules $(DESTDIR)$(UDEVRULESDIR)/60-spanheap.rules
ifeq ($(DESTDIR),)
	getent group spanheap >/dev/null || groupadd -r spanheap
	depmod -a $(KVER)
	-ldconfig
	-if command -v udevadm >/dev/null && [ -d /run/udev ]; then \
		udevadm control --reload && udevadm trigger --subsystem-match=misc --sysname-match=spanheap; fi
endif

# Leaves group spanheap (it may have members); the directories too, when
# something else is in them.
uninstall:
	@[ -n "$(KVER)" ] || { echo "uninstall: no kernel release (no headers in KDIR=$(INST_KDIR)): spanheap.ko would stay" >&2; exit 1; }
	rm -f $(DESTDIR)/lib/modules/$(KVER)/$(INSTALL_MOD_DIR)/spanheap.ko
	rm -f $(DESTDIR)$(BINDIR)/spanheapctl $(DESTDIR)$(MANDIR)/man1/spanheapctl.1
	rm -f $(DESTDIR)$(LIBDIR)/libspanheap.a $(DESTDIR)$(LIBDIR)/libspanheap.so \
	      $(DESTDIR)$(LIBDIR)/$(SO_NAME) $(DESTDIR)$(LIBDIR)/$(SO_REAL)
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/spanheap.pc $(DESTDIR)$(UDEVRULESDIR)/60-spanheap.rules
	rm -rf $(DESTDIR)$(INCLUDEDIR)/spanheap
ifeq ($(DESTDIR),)
	depmod -a $(KVER)
	-ldconfig
endif

# The module's sources (no build products) for `dkms add`, in
# $(DESTDIR)$(DKMS_SRC)/spanheap-$(VERSION); then `dkms install spanheap/$(VERSION)`.
DKMS_FILES := dkms.conf VERSION Kbuild kmod uapi $(notdir $(wildcard $(REPO)/include))
dkms-source:
	rm -rf $(DESTDIR)$(DKMS_SRC)/spanheap-$(VERSION)
	$(INSTALL) -d $(DESTDIR)$(DKMS_SRC)/spanheap-$(VERSION)
	tar -C $(REPO) -c --exclude='*.o' --exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c' \
		--exclude='.*.cmd' --exclude='*.a' --exclude='*.gcda' --exclude='*.gcno' \
		--exclude='__pycache__' --exclude='modules.order' $(DKMS_FILES) | \
		tar -C $(DESTDIR)$(DKMS_SRC)/spanheap-$(VERSION) -x

clean:
	rm -rf build
	@if [ -n "$(KDIR)" ]; then $(MAKE) -C $(KDIR) M=$(REPO) clean; fi
