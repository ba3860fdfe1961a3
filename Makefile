# darknet-saliency: builds darknet (Debian's source package, or DARKNET_SRC=/path) with the
# extension inside, runs the Check suites, the demo and the benchmarks.
# `make` builds ./darknet; `make test` builds and runs every test; `make demo` runs the main job.

# ---- toggles ---------------------------------------------------------------------------------
OPENCV   ?= 1          # darknet's image path through Debian's libopencv-dev
BLAS     ?= 1          # darknet's gemm through OpenBLAS (patch 0011); 0 = darknet's naive loops
OPENMP   ?= 0
DEBUG    ?= 0          # -O0 -g for darknet and the tests
SANITIZE ?= 0          # address + undefined sanitizers for darknet, the extension and the tests
FORK     ?= pjreddie   # which patch series: patches/$(FORK)/series
DARKNET_SRC ?=         # a darknet checkout to use instead of Debian's source package

OPENCV := $(strip $(OPENCV))
BLAS := $(strip $(BLAS))
OPENMP := $(strip $(OPENMP))
DEBUG := $(strip $(DEBUG))
SANITIZE := $(strip $(SANITIZE))
FORK := $(strip $(FORK))
DARKNET_SRC := $(strip $(DARKNET_SRC))

# The build directory: build/ by default, build-asan/ with SANITIZE=1 (a sanitized darknet never
# shares objects with a plain one).
BUILD ?= $(if $(filter 1,$(SANITIZE)),build-asan,build)
UP    := $(BUILD)/upstream
DK    := $(BUILD)/darknet
SANFLAGS :=
ifeq ($(SANITIZE),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
# SALFLAGS (patch 0001) reach every darknet object and its links: the sanitizers.
DKFLAGS := OPENCV=$(OPENCV) OPENMP=$(OPENMP) DEBUG=$(DEBUG) BLAS=$(BLAS) SALFLAGS="$(SANFLAGS)"
# darknet's Makefile does not rebuild when its flags change: a tree is made for one source and one
# set of toggles, and is made again when either differs.
SRCID := $(FORK):$(if $(DARKNET_SRC),$(abspath $(DARKNET_SRC)),debian):$(DKFLAGS)

# A different source, fork or toggles than the tree was made from: unpack and patch again.
ifneq ($(shell cat $(DK)/.srcid 2>/dev/null),$(SRCID))
$(shell rm -f $(DK)/.patched)
endif

.PHONY: all setup darknet test demo bench clean distclean FORCE
all: darknet

# Debian packages (installed as root, named otherwise) and a deb-src entry.
setup:
	@DARKNET_SRC="$(DARKNET_SRC)" scripts/setup.sh

# The unpatched source: fetched once, kept in build/upstream.
$(UP)/.stamp-$(if $(DARKNET_SRC),local,debian):
	scripts/fetch-darknet.sh $(UP) "$(DARKNET_SRC)"
	touch $@

# The patched tree: a copy of the source with patches/$(FORK)/series applied and saliency/
# pointing at this repository (SALDIR of patch 0001).
$(DK)/.patched: $(UP)/.stamp-$(if $(DARKNET_SRC),local,debian) patches/$(FORK)/series $(wildcard patches/$(FORK)/*.patch)
	@[ "$(DARKNET_SRC)" = "" ] || scripts/fetch-darknet.sh $(UP) "$(DARKNET_SRC)"
	rm -rf $(DK)
	cp -a $(UP)/tree $(DK)
	@for p in $$(grep -v '^#' patches/$(FORK)/series); do \
	    echo "patch $$p"; \
	    patch -d $(DK) -p1 -s --no-backup-if-mismatch < patches/$(FORK)/$$p || { echo "patch $$p does not apply to $(SRCID)" >&2; exit 1; }; \
	done
	ln -s ../.. $(DK)/saliency
	echo '$(SRCID)' > $(DK)/.srcid
	touch $@

# darknet itself (darknet's Makefile, incremental), copied to ./darknet (by the default BUILD=build).
darknet: setup $(DK)/.patched
	$(MAKE) -C $(DK) $(DKFLAGS) -j2 --no-print-directory obj backup results darknet libdarknet.a
	@if [ "$(BUILD)" = build ] && ! cmp -s $(DK)/darknet darknet; then cp $(DK)/darknet darknet.tmp && mv -f darknet.tmp darknet; fi

# ---- tests -----------------------------------------------------------------------------------
# No flag of a package that `setup` installs is asked for when this file is read: the recipes ask
# scripts/pkg-flags.sh when they run, after `setup` (.ci/run checks this).
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(patsubst tests/%.c,$(BUILD)/tests/%.o,$(TEST_SRC))
SUITE_SRC := $(sort $(filter-out tests/check_main.c,$(wildcard tests/check_*.c)))
TCFLAGS  := -Wall -Wno-unknown-pragmas -std=gnu11 -I$(DK)/include -I$(DK)/src -Isrc -Idarknet-patch/src \
            $(if $(filter 1,$(DEBUG)),-O0 -g,-O2 -g) $(SANFLAGS)
TPKGS    := check $(if $(filter 1,$(OPENCV)),opencv4)
TLIBS    := $(DK)/libdarknet.a $(if $(filter 1,$(OPENCV)),-lstdc++) \
            $(if $(filter 1,$(BLAS)),-lopenblas) $(if $(filter 1,$(OPENMP)),-fopenmp) -lm -pthread $(SANFLAGS)

# The suite list: every `Suite *make_<name>_suite(void)` defined in tests/check_*.c. suites.files
# holds the list of files, rewritten when a file comes or goes, so a deleted suite leaves the list.
$(BUILD)/tests/suites.files: FORCE
	@mkdir -p $(dir $@)
	@echo '$(SUITE_SRC)' | cmp -s - $@ || echo '$(SUITE_SRC)' > $@
$(BUILD)/tests/suites.h: $(SUITE_SRC) $(BUILD)/tests/suites.files
	@{ sed -n 's/^Suite \*make_\([a-z0-9_]*\)_suite(void).*/Suite *make_\1_suite(void);/p' $(SUITE_SRC); \
	   printf '#define ALL_SUITES'; sed -n 's/^Suite \*make_\([a-z0-9_]*\)_suite(void).*/ SUITE(\1)/p' $(SUITE_SRC) | tr -d '\n'; echo; } > $@

$(BUILD)/tests/%.o: tests/%.c $(wildcard tests/*.h src/*.h darknet-patch/src/*.h) $(DK)/.patched $(BUILD)/tests/suites.h | setup
	@mkdir -p $(dir $@)
	f=$$(scripts/pkg-flags.sh --cflags check) && $(CC) $(TCFLAGS) $$f -I$(BUILD)/tests -c $< -o $@

$(BUILD)/check_all: darknet $(TEST_OBJ)
	f=$$(scripts/pkg-flags.sh --libs $(TPKGS)) && $(CC) $(TEST_OBJ) -o $@ $(TLIBS) $$f

# SANITIZE=1: a sanitizer report ends the process with status 86 (never darknet's 1 for bad input),
# in check_all's forked tests and in the ./darknet runs they make, so that test fails. LeakSanitizer
# skips only the darknet functions of tests/lsan.supp (each entry says why).
SANENV :=
ifeq ($(SANITIZE),1)
SANENV := ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:exitcode=86:detect_leaks=1 \
          UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=86 \
          LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0
endif

# Every Check suite (tests/check_<module>.c); CK_RUN_SUITE=name picks one, CK_FORK=no to debug.
test: $(BUILD)/check_all
	$(SANENV) DARKNET=$(DK)/darknet $(BUILD)/check_all

# ---- the main job ----------------------------------------------------------------------------
demo: darknet
	scripts/demo.sh

# ---- benchmarks (never part of `make test`) --------------------------------------------------
bench: darknet
	scripts/bench.sh

# ---- bench: training step --------------------------------------------------------------------
# The step-timing driver against this build's libdarknet.a; scripts/bench.sh builds it once with
# BLAS=1 and once with BLAS=0 (each in its own BUILD). Only the library is built: ./darknet stays.
$(BUILD)/bench_train: bench/bench_train.c setup $(DK)/.patched
	$(MAKE) -C $(DK) $(DKFLAGS) -j2 --no-print-directory obj libdarknet.a
	f=$$(scripts/pkg-flags.sh --libs $(if $(filter 1,$(OPENCV)),opencv4)) && $(CC) $(TCFLAGS) $< -o $@ $(TLIBS) $$f
# ---- end bench: training step ----------------------------------------------------------------

# ---- bench: regularizers
# Value+gradient throughput of every regularizer (bench/bench_reg.c), plain C without darknet;
# scripts/bench.sh runs $(BUILD)/bench_reg.
REG_BENCH_SRC := bench/bench_reg.c src/reg.c src/metrics.c src/ssim.c src/psnr_hvs.c
$(BUILD)/bench_reg: $(REG_BENCH_SRC) src/reg.h src/metrics.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=gnu11 -Wall -Isrc $(REG_BENCH_SRC) -o $@ -lm
# ---- end bench: regularizers

clean:
	rm -rf $(BUILD)/tests $(BUILD)/check_all darknet
	-$(MAKE) -C $(DK) clean >/dev/null 2>&1

distclean:
	rm -rf $(BUILD) results darknet
