# gort — Makefile.  Targets:
#   all (default)   build/libgort.a, build/libgort.so, build/gort.pc
#   test            install deps, build, run every Criterion test (and the
#                   examples and the leak-scenario runner)
#   retest          the Criterion suite once more, as test runs it (its
#                   environment), with nothing rebuilt: after make test
#                   (CI repeats it to catch flakes; TEST_ARGS= to filter)
#   leaks           install deps, build and run the leak-scenario runner
#                   (examples/leaks/leaks.c; LEAKS_ARGS="-v 1 3" for the
#                   full reports of scenarios 1 and 3)
#   bench           install deps, build, run the benchmark suite vs Go and
#                   report: table, plots in build/bench/plots/, and on a
#                   full run docs/benchmarks.md (BENCH=<regex> PROCS="1 2"
#                   RUNS=<n> SCALE_PROCS= QUICK=1 JSON=1|<file> DOCS=0|1
#                   PLOTS=0; see bench/README.md)
#   bench-quick     the same, as a smoke run (make bench QUICK=1)
#   install / uninstall   PREFIX=/usr/local DESTDIR=
#   lint            clang-tidy and cppcheck over the sources
#   check-all       the checker matrix: gcc, clang, ASan+UBSan, TSan,
#                   Valgrind, lint, a 60 s soak, the fuzz corpora
#   soak, fuzz      see their sections below
#   valgrind        the examples under memcheck (no error, no leak)
#   clean
# Variants: SANITIZE=address|thread|undefined|address,undefined, CC=clang,
# WERROR=0 to keep warnings as warnings.  Each variant builds in its own
# folder under build/.

CC       ?= cc
SANITIZE ?=
WERROR   ?= 1
PREFIX   ?= /usr/local
LIBDIR   ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR  ?= $(PREFIX)/share

CCNAME := $(notdir $(firstword $(CC)))
ifeq ($(SANITIZE)$(filter-out cc gcc,$(CCNAME)),)
BUILD ?= build
else
BUILD ?= build/$(CCNAME)$(if $(SANITIZE),-$(subst $(comma),-,$(SANITIZE)))
endif
comma := ,

# The soname carries major.minor while the major version is 0 (0.x
# releases make no ABI promise to each other), the major alone from 1.0.
VERSION := 0.1.0
VERSION_MAJOR := $(word 1,$(subst ., ,$(VERSION)))
VERSION_MINOR := $(word 2,$(subst ., ,$(VERSION)))
SOVERSION := $(if $(filter 0,$(VERSION_MAJOR)),$(VERSION_MAJOR).$(VERSION_MINOR),$(VERSION_MAJOR))

SRCS := $(wildcard runtime/*.c runtime/sync/*.c runtime/debug/*.c recover/*.c channel/*.c context/*.c)
OBJS := $(SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(wildcard test/*.c)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wpointer-arith -Wvla
ifeq ($(WERROR),1)
WARN += -Werror
endif
SANFLAGS := $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-sanitize-recover=all,)
OPT ?= -O2
CFLAGS_ALL := -std=c11 $(OPT) -g -fno-omit-frame-pointer -D_GNU_SOURCE -Iinclude $(WARN) $(SANFLAGS) $(CFLAGS)
# The library itself is built with -O3 (pingpong: 103 ns a round trip at
# -O2, 94 at -O3); LIB_OPT=-O0 for a debugging build of it.
LIB_OPT ?= -O3
LIB_CFLAGS := $(CFLAGS_ALL) $(LIB_OPT) -fPIC -fvisibility=hidden
ifneq ($(wildcard /usr/include/valgrind/valgrind.h),)
LIB_CFLAGS += -DGORT_HAVE_VALGRIND
endif
LIBS := -lboost_context -lpthread -lm
# libdw (elfutils) symbolises panic backtraces: names of static functions,
# file:line from debug info.  Optional: without it, dladdr.
HAVE_LIBDW := $(shell pkg-config --exists libdw 2>/dev/null && echo 1)
ifeq ($(HAVE_LIBDW),1)
LIB_CFLAGS += -DGORT_HAVE_LIBDW
LIBS += $(shell pkg-config --libs libdw)
endif
CRITERION_CFLAGS = $(shell pkg-config --cflags criterion 2>/dev/null)
CRITERION_LIBS = $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)

.PHONY: all deps test retest leaks bench bench-quick install uninstall clean lint check-exports check-header run-examples valgrind \
	check-api check-gdb check-consumers
all: $(BUILD)/libgort.a $(BUILD)/libgort.so $(BUILD)/gort.pc

deps:
	@sh scripts/deps.sh

$(BUILD)/obj/%.o: %.c $(wildcard include/*.h include/gort/*.h runtime/*.h runtime/sync/*.h runtime/debug/*.h recover/*.h channel/*.h context/*.h) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c $< -o $@

$(BUILD)/libgort.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libgort.so: $(OBJS)
	$(CC) -shared $(SANFLAGS) -Wl,-soname,libgort.so.$(SOVERSION) -o $@.$(VERSION) $^ $(LIBS) $(LDFLAGS)
	ln -sf libgort.so.$(VERSION) $(BUILD)/libgort.so.$(SOVERSION)
	ln -sf libgort.so.$(VERSION) $@

# gort.pc and the CMake package files name the install paths: `make
# install` writes them again with its own PREFIX/LIBDIR/INCLUDEDIR, so the
# copies in $(BUILD) are for reading only.
SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' \
	-e 's|@VERSION@|$(VERSION)|g' -e 's|@VERSION_MAJOR@|$(VERSION_MAJOR)|g' \
	-e 's|@VERSION_MINOR@|$(VERSION_MINOR)|g' -e 's|@SOVERSION@|$(SOVERSION)|g' -e 's|@LIBS_PRIVATE@|$(LIBS)|g'
# The CMake package names its directories relative to its own (relocatable).
cmake_rel = $(shell realpath -m --relative-to=$(LIBDIR)/cmake/gort $(1))
$(BUILD)/gort.pc: gort.pc.in Makefile
	@mkdir -p $(BUILD)
	$(SUBST) $< > $@

# ---- tests ----
# Criterion cannot run under ThreadSanitizer (boxfort: "Could not initialize
# inheritable arena"), so a TSan build compiles the tests against the
# stand-in criterion/criterion.h of test/runner and links its runner.c.
ifneq ($(findstring thread,$(SANITIZE)),)
TEST_RUNNER := test/runner/runner.c
TEST_INC := -Itest/runner
TEST_CFLAGS :=
TEST_LIBS :=
else
TEST_RUNNER :=
TEST_INC :=
TEST_CFLAGS = $(CRITERION_CFLAGS)
TEST_LIBS = $(CRITERION_LIBS)
endif
$(BUILD)/gort_test: $(TEST_SRCS) $(TEST_RUNNER) $(wildcard test/*.h $(if $(TEST_RUNNER),test/runner/criterion/*.h)) $(BUILD)/libgort.a
	$(CC) $(TEST_INC) $(CFLAGS_ALL) $(TEST_CFLAGS) -o $@ $(TEST_SRCS) $(TEST_RUNNER) $(BUILD)/libgort.a $(TEST_LIBS) $(LIBS) $(LDFLAGS)

check-exports: $(BUILD)/libgort.so
	@bad=$$(nm -D --defined-only $(BUILD)/libgort.so | awk '$$2 ~ /[TDBRW]/ {print $$3}' | grep -v '^gort_[a-z]' | grep -v '^_' || true); \
	if [ -n "$$bad" ]; then echo "internal symbols exported from libgort.so:"; echo "$$bad"; exit 1; fi; \
	echo "exports: only gort_* symbols"

# The public header must compile as C11 (every build does) and as C++17
# (checked here when a C++ compiler is present).
check-header:
	@if command -v $(CXX) >/dev/null 2>&1; then \
		echo '#include <gort.h>' | $(CXX) -std=c++17 -Wall -Wextra -Werror -x c++ -fsyntax-only -Iinclude - && \
		echo "header: compiles as C++17"; \
	else echo "header: no C++ compiler, C++17 check skipped"; fi

# test/test_examples.c runs the built examples from GORT_EXAMPLES_DIR.
# Sanitizer runs scale the big tests down (GORT_TEST_SCALE divides counts)
# and ignore Criterion's own allocations in LeakSanitizer's report.
TEST_ENV := GORT_EXAMPLES_DIR=$(abspath $(BUILD))/examples GORT_LEAKS_BIN=$(abspath $(BUILD))/leaks \
	GORT_GDB_TARGET=$(abspath $(BUILD))/gdb_target GORT_GDB_SCRIPT=$(abspath runtime/debug/gort-gdb.py) \
	GORT_SRC_DIR=$(abspath .)
ifneq ($(SANITIZE),)
TEST_ENV += GORT_TEST_SCALE=$${GORT_TEST_SCALE:-10} LSAN_OPTIONS=suppressions=$(abspath test/lsan.supp) \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
endif

EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
$(BUILD)/examples/%: examples/%.c $(wildcard examples/*.h) include/gort.h $(wildcard include/gort/*.h) $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libgort.a $(LIBS) $(LDFLAGS)

# Every example must exit 0 except panic_parent* and deadlock_abort*, which
# must die by SIGABRT, and *_exit1, which must exit with status 1 (their
# stdout and stderr kept in their .out).
run-examples: $(EXAMPLES)
	@for e in $(EXAMPLES); do case $${e##*/} in \
	panic_parent*|deadlock_abort*) (ulimit -c 0; $(TEST_ENV) $$e; exit $$?) > $$e.out 2>&1; rc=$$?; \
		[ $$rc -eq 134 ] || { echo "example $$e should die by SIGABRT, not status $$rc"; exit 1; } ;; \
	*_exit1) $(TEST_ENV) $$e > $$e.out 2>&1; rc=$$?; \
		[ $$rc -eq 1 ] || { cat $$e.out; echo "example $$e should exit with status 1, not $$rc"; exit 1; } ;; \
	*) $(TEST_ENV) $$e > $$e.out 2>&1 || { cat $$e.out; echo "example $$e failed"; exit 1; } ;; \
	esac; done; \
	echo "examples: $(words $(EXAMPLES)) built and ran"

test: deps
	@$(MAKE) --no-print-directory all $(BUILD)/gort_test $(BUILD)/leaks
	@$(MAKE) --no-print-directory check-exports check-header run-examples check-api check-gdb check-consumers
	$(TEST_ENV) $(BUILD)/gort_test $(TEST_ARGS)

retest:
	@test -x $(BUILD)/gort_test || { echo "retest: run make test first"; exit 1; }
	$(TEST_ENV) $(BUILD)/gort_test $(TEST_ARGS)

# Every example under Valgrind's memcheck: no error, no leak (definite,
# indirect or possible; "still reachable" blocks come from system libraries'
# load-time constructors, e.g. libdw's debuginfod client).  Stacks are
# registered with Valgrind when its headers are present.
# (panic_parent* and deadlock_abort* abort and *_exit1 exits 1 by design:
# not run here)
valgrind: $(EXAMPLES)
	@for e in $(EXAMPLES); do case $${e##*/} in panic_parent*|deadlock_abort*|*_exit1) continue ;; esac; \
		valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=9 $$e > $$e.vg.out 2>&1 \
			|| { cat $$e.vg.out; echo "valgrind: $$e failed"; exit 1; }; done; \
	echo "valgrind: $(words $(EXAMPLES)) examples clean"

# ---- the leak-scenario runner (docs/leaks.md) ----
# Each scenario broken and fixed under gort_leakcheck; exits 1 unless every
# broken version leaks and every fix is clean (test/test_leaks.c runs it
# too, from GORT_LEAKS_BIN).
$(BUILD)/leaks: examples/leaks/leaks.c include/gort.h $(wildcard include/gort/*.h) $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libgort.a $(LIBS) $(LDFLAGS)

leaks: deps
	@$(MAKE) --no-print-directory $(BUILD)/leaks
	$(TEST_ENV) $(BUILD)/leaks $(LEAKS_ARGS)

# ---- benchmarks ----
$(BUILD)/bench/gort_bench: bench/gort_bench.c include/gort.h $(wildcard include/gort/*.h) $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libgort.a $(LIBS) $(LDFLAGS)

# The same benchmark against a library built without debug information
# (counters, sites, wait records): the *-nodebug rows, which price them.
$(BUILD)/nodebug/libgort.a: $(SRCS) $(wildcard include/*.h include/gort/*.h runtime/*.h runtime/*/*.h recover/*.h channel/*.h context/*.h) Makefile
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/nodebug CFLAGS='$(CFLAGS) -DGORT_NO_DEBUG_INFO' $(BUILD)/nodebug/libgort.a

$(BUILD)/bench/gort_nodebug_bench: bench/gort_bench.c include/gort.h $(wildcard include/gort/*.h) $(BUILD)/nodebug/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -DGORT_BENCH_SUFFIX='"-nodebug"' -o $@ $< $(BUILD)/nodebug/libgort.a $(LIBS) $(LDFLAGS)

$(BUILD)/bench/go_bench: $(wildcard bench/go/*.go bench/go/go.mod)
	@mkdir -p $(dir $@)
	cd bench/go && GOCACHE=$(abspath $(BUILD))/gocache GOPATH=$(abspath $(BUILD))/gopath \
		GOPROXY=off GOFLAGS=-mod=mod GO111MODULE=on go build -buildvcs=false -o $(abspath $@) .

# make bench: every workload at procs 1 and 2 (steal, skynet and chanmpmc
# also at procs 1..nproc for the scaling plot), gort beside Go; the report
# on stdout and in $(BUILD)/bench/ (summary.txt, raw.txt, plots/), and the
# generated part of docs/benchmarks.md (with docs/plots/) after a full
# default run.  The variables are bench/run.sh's, passed only when set:
#   BENCH=<regex> PROCS="1 2" RUNS=<n> SCALE_PROCS="1 2 4" IMPLS="gort go"
#   LOOPS=<n> BENCH_TIMEOUT=<s> QUICK=1 (a smoke run, under a minute)
#   JSON=1 ($(BUILD)/bench/bench.json) or JSON=<file>; DOCS=1 (regenerate
#   the docs whatever was run) or DOCS=0 (never); PLOTS=0 (no gnuplot)
BENCH_VARS := BENCH PROCS RUNS SCALE_PROCS IMPLS LOOPS BENCH_TIMEOUT QUICK QUICK_SCALE JSON DOCS PLOTS
bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/bench/gort_bench $(BUILD)/bench/gort_nodebug_bench $(BUILD)/bench/go_bench
	$(foreach v,$(BENCH_VARS),$(if $(filter-out undefined default,$(origin $(v))),$(v)='$($(v))')) \
		CC='$(CC)' sh bench/run.sh $(BUILD)/bench

bench-quick:
	@$(MAKE) --no-print-directory bench QUICK=1

# ---- API reference (docs/api.md) ----
# docs/api.md is generated from the comments of include/gort.h and the
# headers it includes by scripts/apidoc.sh (POSIX sh and awk).  api-docs
# regenerates it; check-api fails, naming each, when a public function or
# user-facing macro lacks a complete comment (a description, Returns:,
# Blocks:, Context: for blocking calls, Threads:) or when docs/api.md is
# stale.  test/test_api.c (GORT_SRC_DIR in TEST_ENV) proves the check
# fails on a planted undocumented declaration.
.PHONY: api-docs
api-docs:
	@sh scripts/apidoc.sh

check-api:
	@sh scripts/apidoc.sh --check

# ---- gdb extension ----
# runtime/debug/gort-gdb.py (docs/gdb.md): `info coroutines` and
# `coroutine N bt`.  test/test_gdb.c debugs $(BUILD)/gdb_target with it,
# live and from a core file (GORT_GDB_TARGET, GORT_GDB_SCRIPT in
# TEST_ENV), as part of gort_test, which therefore needs the target built.
# check-gdb builds it; run on its own (`make check-gdb`) it also runs those
# tests, while `make test` leaves them to its full gort_test run.
$(BUILD)/gdb_target: test/gdb/gdb_target.c include/gort.h $(wildcard include/gort/*.h) $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libgort.a $(LIBS) $(LDFLAGS)

$(BUILD)/gort_test: | $(BUILD)/gdb_target

check-gdb: $(BUILD)/gdb_target
ifeq ($(MAKELEVEL),0)
	@$(MAKE) --no-print-directory $(BUILD)/gort_test
	$(TEST_ENV) $(BUILD)/gort_test --filter 'gdb/*'
else
	@echo "check-gdb: $(BUILD)/gdb_target built (gort_test runs the gdb/* tests)"
endif

# ---- consumers of the installed library ----
# make install into $(BUILD)/consumers/prefix, then build and run programs
# against that copy (test/consumers/run.sh: pkg-config shared and static,
# C++17, CMake).  Sanitizer builds skip it: a consumer would need their
# runtimes, and what it checks is how the library is packaged.
CONSUMER_PREFIX = $(abspath $(BUILD))/consumers/prefix
check-consumers: all
ifeq ($(SANITIZE),)
	@rm -rf $(CONSUMER_PREFIX)
	@$(MAKE) --no-print-directory -s install PREFIX=$(CONSUMER_PREFIX) DESTDIR= LIBDIR=$(CONSUMER_PREFIX)/lib \
		INCLUDEDIR=$(CONSUMER_PREFIX)/include DATADIR=$(CONSUMER_PREFIX)/share >/dev/null
	@CC='$(CC)' sh test/consumers/run.sh $(CONSUMER_PREFIX) $(abspath $(BUILD))/consumers/work
else
	@echo "consumers: skipped in a SANITIZE build"
endif

# ---- fuzzing (issue 9) ----
# libFuzzer targets (clang; libFuzzer comes with libclang-rt-14-dev):
#   test/fuzz/fuzz_chan.c    programs of channel/select/close/cancel ops
#                            over a few coroutines, checked against a
#                            sequential model of Go's semantics
#   test/fuzz/fuzz_config.c  the GORT_* parser against a reference parser
# The library is built again, instrumented (-fsanitize=fuzzer-no-link,
# address,undefined), in $(FUZZ_BUILD) by the SANITIZE variant machinery;
# the targets link it with -fsanitize=fuzzer,address,undefined.
#   fuzz          each target for FUZZ_SECONDS (60) over its seed corpus
#                 (test/fuzz/corpus/<target>/, read only) and
#                 $(FUZZ_BUILD)/fuzz/corpus/<target>/, where new inputs
#                 are kept; fails if a target finds anything, naming the
#                 crash file ($(FUZZ_BUILD)/fuzz/artifacts/<target>/).
#                 FUZZ_TARGETS="chan config", FUZZ_ARGS= more libFuzzer
#                 flags; the full log is $(FUZZ_BUILD)/fuzz/<target>.log
#   fuzz-regress  each target once over its seed corpus (-runs=0): seconds
.PHONY: fuzz fuzz-regress fuzz-build
FUZZ_CC ?= clang
FUZZ_BUILD := build/clang-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= chan config
FUZZ_ARGS ?=
FUZZ_BINS := $(patsubst %,$(FUZZ_BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_CFLAGS := -std=c11 $(OPT) -g -fno-omit-frame-pointer -D_GNU_SOURCE -Iinclude $(WARN) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_ENV := ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

$(FUZZ_BUILD)/fuzz/fuzz_%: test/fuzz/fuzz_%.c $(FUZZ_BUILD)/libgort.a include/gort.h $(wildcard include/gort/*.h runtime/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_BUILD)/libgort.a $(LIBS) $(LDFLAGS)

fuzz-build:
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz: $(FUZZ_CC) not found (apt-get install clang libclang-rt-14-dev)"; exit 1; }
	@$(MAKE) --no-print-directory CC=$(FUZZ_CC) SANITIZE=fuzzer-no-link,address,undefined BUILD=$(FUZZ_BUILD) \
		$(FUZZ_BUILD)/libgort.a
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

fuzz: fuzz-build
	@fail=0; for t in $(FUZZ_TARGETS); do \
		d=$(FUZZ_BUILD)/fuzz; mkdir -p $$d/corpus/$$t $$d/artifacts/$$t; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s (log: $$d/$$t.log)"; \
		if $(FUZZ_ENV) $$d/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=30 -print_final_stats=1 \
			-artifact_prefix=$$d/artifacts/$$t/ $(FUZZ_ARGS) $$d/corpus/$$t test/fuzz/corpus/$$t \
			> $$d/$$t.log 2>&1; then \
			grep -E '^#[0-9]+[[:space:]]+DONE' $$d/$$t.log | tail -1; \
			grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' $$d/$$t.log \
				| tr -s ' \n' '  '; echo "corpus: $$(ls $$d/corpus/$$t | wc -l) files in $$d/corpus/$$t"; \
		else \
			fail=1; tail -60 $$d/$$t.log; \
			echo "fuzz: $$t FOUND A PROBLEM; input: $$(sed -n 's/.*Test unit written to \(.*\)/\1/p' $$d/$$t.log)"; \
		fi; \
	done; exit $$fail

fuzz-regress: fuzz-build
	@for t in $(FUZZ_TARGETS); do \
		$(FUZZ_ENV) $(FUZZ_BUILD)/fuzz/fuzz_$$t -runs=0 test/fuzz/corpus/$$t > $(FUZZ_BUILD)/fuzz/$$t-regress.log 2>&1 \
			|| { tail -60 $(FUZZ_BUILD)/fuzz/$$t-regress.log; echo "fuzz-regress: $$t failed"; exit 1; }; \
		echo "fuzz-regress: $$t: $$(ls test/fuzz/corpus/$$t | wc -l) seeds pass"; \
	done

# ---- soak (issue 9) ----
# test/soak/ (design comment at the top of soak.c): a randomised workload
# run in rounds, with invariants, a leak check and RSS checked after each;
# not part of `make test`.  `make soak` runs $(BUILD)/soak once per value
# of SOAK_PROCS (GORT_PROCS=1, 2, 8), splitting SOAK_SECONDS (60: 20 s
# each) evenly between them; every run goes on even if one fails, and the
# target fails if any did.  SOAK_SEED=<n> replays a run's operations (the
# seed is printed at its start and with every failure); the program's
# other knobs are environment variables (SOAK_SLICE_MS, SOAK_ROUNDS,
# SOAK_FROM_ROUND, SOAK_VERBOSE=1, ...: see soak.c).  Works in the
# SANITIZE builds (TEST_ENV's sanitizer options).
SOAK_SECONDS ?= 60
SOAK_PROCS ?= 1 2 8
SOAK_SRCS := $(wildcard test/soak/*.c)
$(BUILD)/soak: $(SOAK_SRCS) $(wildcard test/soak/*.h) include/gort.h $(wildcard include/gort/*.h) $(BUILD)/libgort.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $(SOAK_SRCS) $(BUILD)/libgort.a $(LIBS) $(LDFLAGS)

.PHONY: soak
soak: deps
	@$(MAKE) --no-print-directory $(BUILD)/soak
	@per=$$(( $(SOAK_SECONDS) / $(words $(SOAK_PROCS)) )); [ $$per -ge 1 ] || per=1; fail=0; \
	for p in $(SOAK_PROCS); do \
		echo "soak: GORT_PROCS=$$p SOAK_SECONDS=$$per $(BUILD)/soak"; \
		$(TEST_ENV) GORT_PROCS=$$p SOAK_SECONDS=$$per $(if $(SOAK_SEED),SOAK_SEED=$(SOAK_SEED)) \
			$(BUILD)/soak || { echo "soak: FAILED at GORT_PROCS=$$p"; fail=1; }; \
	done; exit $$fail

# ---- install ----
# PREFIX=/usr/local (LIBDIR, INCLUDEDIR, DATADIR below it unless given),
# DESTDIR for staging.  The gdb extension goes to gdb's auto-load tree
# under DATADIR, named after the shared library (gdb loads it with the
# library when DATADIR/gdb/auto-load is on its scripts-directory: it is for
# PREFIX=/usr), and to DATADIR/gort/gort-gdb.py for `source` (docs/gdb.md).
GDB_AUTOLOAD_DIR = $(DATADIR)/gdb/auto-load$(LIBDIR)
install: all
	install -d $(DESTDIR)$(INCLUDEDIR)/gort $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(LIBDIR)/cmake/gort \
		$(DESTDIR)$(DATADIR)/gort $(DESTDIR)$(GDB_AUTOLOAD_DIR)
	install -m 644 include/gort.h $(DESTDIR)$(INCLUDEDIR)/gort.h
	install -m 644 include/gort/*.h $(DESTDIR)$(INCLUDEDIR)/gort/
	install -m 644 $(BUILD)/libgort.a $(DESTDIR)$(LIBDIR)/libgort.a
	install -m 755 $(BUILD)/libgort.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgort.so.$(VERSION)
	ln -sf libgort.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgort.so.$(SOVERSION)
	ln -sf libgort.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libgort.so
	$(SUBST) gort.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/gort.pc
	$(SUBST) -e 's|@CMAKE_TO_LIBDIR@|$(call cmake_rel,$(LIBDIR))|g' \
		-e 's|@CMAKE_TO_INCLUDEDIR@|$(call cmake_rel,$(INCLUDEDIR))|g' \
		gort-config.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/gort/gort-config.cmake
	$(SUBST) gort-config-version.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/gort/gort-config-version.cmake
	install -m 644 runtime/debug/gort-gdb.py $(DESTDIR)$(DATADIR)/gort/gort-gdb.py
	install -m 644 runtime/debug/gort-gdb.py $(DESTDIR)$(GDB_AUTOLOAD_DIR)/libgort.so.$(VERSION)-gdb.py

uninstall:
	rm -rf $(DESTDIR)$(INCLUDEDIR)/gort $(DESTDIR)$(LIBDIR)/cmake/gort $(DESTDIR)$(DATADIR)/gort
	rm -f $(DESTDIR)$(INCLUDEDIR)/gort.h $(DESTDIR)$(LIBDIR)/libgort.a \
		$(DESTDIR)$(LIBDIR)/libgort.so $(DESTDIR)$(LIBDIR)/libgort.so.$(SOVERSION) \
		$(DESTDIR)$(LIBDIR)/libgort.so.$(VERSION) $(DESTDIR)$(LIBDIR)/pkgconfig/gort.pc \
		$(DESTDIR)$(GDB_AUTOLOAD_DIR)/libgort.so.$(VERSION)-gdb.py

# clang-tidy reads .clang-tidy, cppcheck .cppcheck-suppressions (both
# checked in); every finding fails.
lint:
	clang-tidy --quiet $(SRCS) -- -std=c11 -D_GNU_SOURCE -Iinclude
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppressions-list=.cppcheck-suppressions -D__x86_64__ -D_GNU_SOURCE \
		"-D_Noreturn=__attribute__((noreturn))" -Iinclude $(SRCS)

# ---- the checker matrix (issue 9) ----
# check-all: every test under gcc and clang, under ASan+UBSan and TSan;
# the examples and the core suites under Valgrind's memcheck (stacks
# registered); clang-tidy and cppcheck; a 60-second soak; the fuzz
# targets over their seed corpora.  About 30 minutes on 2 cores; .ci/run
# runs it.  VALGRIND_SUITES: the Criterion suites run under memcheck
# (Criterion's workers are traced as children).
VALGRIND_SUITES ?= coro chan context
.PHONY: check-all valgrind-core
valgrind-core: $(BUILD)/gort_test
	@for s in $(VALGRIND_SUITES); do \
		echo "valgrind-core: $$s/*"; \
		$(TEST_ENV) GORT_TEST_SCALE=20 valgrind -q --trace-children=yes --error-exitcode=9 \
			$(BUILD)/gort_test --filter "$$s/*" -j1 > $(BUILD)/valgrind-$$s.log 2>&1 \
			|| { tail -60 $(BUILD)/valgrind-$$s.log; echo "valgrind-core: $$s failed"; exit 1; }; \
		tail -1 $(BUILD)/valgrind-$$s.log; \
		! grep -q "^==[0-9]*== " $(BUILD)/valgrind-$$s.log \
			|| { grep -A20 "^==[0-9]*== " $(BUILD)/valgrind-$$s.log | head -60; \
			     echo "valgrind-core: memcheck reported errors in $$s"; exit 1; }; \
	done

check-all:
	@sh scripts/deps.sh --checkers
	$(MAKE) --no-print-directory test
	$(MAKE) --no-print-directory test CC=clang
	$(MAKE) --no-print-directory test SANITIZE=address,undefined
	$(MAKE) --no-print-directory test SANITIZE=thread
	$(MAKE) --no-print-directory valgrind valgrind-core
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory soak SOAK_SECONDS=60
	$(MAKE) --no-print-directory fuzz-regress
	@echo "check-all: passed"

clean:
	rm -rf build

-include $(OBJS:.o=.d)
