# darknet-saliency: builds darknet (Debian's source package, or DARKNET_SRC=/path) with the
# extension inside, runs the Check suites, the demo and the benchmarks.
# `make` builds ./darknet; `make test` builds and runs every test; `make demo` runs the main job.

# ---- toggles ---------------------------------------------------------------------------------
OPENCV   ?= 1          # darknet's image path through Debian's libopencv-dev
BLAS     ?= 1          # darknet's gemm through OpenBLAS (patch 0011); 0 = darknet's naive loops
OPENMP   ?= $(BLAS)  # darknet's and the extension's OpenMP loops (patches 0050-0055); on with BLAS=1
OPENBLAS ?= $(if $(filter 1,$(strip $(OPENMP))),openmp,pthread)  # Debian's OpenBLAS variant: openmp shares OpenMP's threads
DEBUG    ?= 0          # -O0 -g for darknet and the tests
SANITIZE ?= 0          # address + undefined sanitizers for darknet, the extension and the tests
FORK     ?= pjreddie   # which fork and patch series: pjreddie or alexeyab (patches/$(FORK)/series)
DARKNET_SRC ?=         # a darknet checkout to use instead of the fork's source (Debian's package, AB's archive)

OPENCV := $(strip $(OPENCV))
BLAS := $(strip $(BLAS))
OPENMP := $(strip $(OPENMP))
OPENBLAS := $(strip $(OPENBLAS))
DEBUG := $(strip $(DEBUG))
SANITIZE := $(strip $(SANITIZE))
FORK := $(strip $(FORK))
DARKNET_SRC := $(strip $(DARKNET_SRC))

# FORK=alexeyab without DARKNET_SRC: AlexeyAB's darknet at commit 59596d78, the pruned archive
# beside this clone (../shared/forks/, its README), checked against this checksum before unpacking.
AB_ARCHIVE ?= $(abspath ../shared/forks/darknet-alexeyab-59596d78.tar.xz)
AB_SHA256  := 4486abf40788d2c8f168aa4bb248493fd234df9d0013525a9ad85e3c37ea10cc
# where the unpatched source comes from: a checkout, Debian's package (pjreddie) or AB's archive
UPKIND := $(if $(DARKNET_SRC),local,$(if $(filter alexeyab,$(FORK)),alexeyab,debian))
FETCHARGS = $(UP) "$(DARKNET_SRC)" $(if $(filter alexeyab,$(UPKIND)),"$(AB_ARCHIVE)" $(AB_SHA256))

# The build directory: build/ by default, build-asan/ with SANITIZE=1 (a sanitized darknet never
# shares objects with a plain one).
BUILD ?= $(if $(filter 1,$(SANITIZE)),build-asan,build)
UP    := $(BUILD)/upstream$(if $(filter alexeyab,$(UPKIND)),-alexeyab)
DK    := $(BUILD)/darknet
comma := ,
SANFLAGS :=
ifeq ($(SANITIZE),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
# OpenBLAS=openmp: Debian's libopenblas0-openmp (scripts/setup.sh installs it), linked by its path
# (Debian's default libopenblas.so.0 stays the pthread variant): its gemm threads are OpenMP's own
# threads, so darknet's OpenMP loops and the gemm share one pool instead of two pools of busy-waiting
# threads on the same cores (docs/build.md, Threads). pthread: the system's -lopenblas.
OPENBLAS_DIR := /usr/lib/$(shell $(CC) -print-multiarch)/openblas-openmp
BLASLIBS := $(if $(filter openmp,$(OPENBLAS)),-L$(OPENBLAS_DIR) -Wl$(comma)-rpath$(comma)$(OPENBLAS_DIR) -l:libopenblas.so.0 -fopenmp,-lopenblas)
# SALFLAGS (patch 0001) reach every darknet object and its links: the sanitizers.
DKFLAGS := OPENCV=$(OPENCV) OPENMP=$(OPENMP) DEBUG=$(DEBUG) BLAS=$(BLAS) SALFLAGS="$(SANFLAGS)" BLASLIBS="$(BLASLIBS)"
# darknet's Makefile does not rebuild when its flags change: a tree is made for one source and one
# set of toggles, and is made again when either differs.
SRCID := $(FORK):$(if $(DARKNET_SRC),$(abspath $(DARKNET_SRC)),$(subst alexeyab,$(notdir $(AB_ARCHIVE)),$(UPKIND))):$(DKFLAGS)

# A different source, fork or toggles than the tree was made from: unpack and patch again.
ifneq ($(shell cat $(DK)/.srcid 2>/dev/null),$(SRCID))
$(shell rm -f $(DK)/.patched)
endif

.PHONY: all setup darknet test demo science bench clean distclean FORCE
all: darknet

# Debian packages (installed as root, named otherwise) and a deb-src entry.
setup:
	@DARKNET_SRC="$(filter-out debian,$(UPKIND))" scripts/setup.sh

# The unpatched source: fetched once, kept in build/upstream (AB's archive: build/upstream-alexeyab).
$(UP)/.stamp-$(UPKIND):
	scripts/fetch-darknet.sh $(FETCHARGS)
	touch $@

# The patched tree: a copy of the source with patches/$(FORK)/series applied and saliency/
# pointing at this repository (SALDIR of patch 0001).
$(DK)/.patched: $(UP)/.stamp-$(UPKIND) patches/$(FORK)/series $(wildcard patches/$(FORK)/*.patch)
	@[ "$(DARKNET_SRC)" = "" ] || scripts/fetch-darknet.sh $(FETCHARGS)
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
# AlexeyAB's fork: its adapter (DK_FORK_AB, darknet-patch/src/dk.h) and stb's header; its
# http_stream.cpp is always built, so the C++ library is always linked.
FORKFLAGS := $(if $(filter alexeyab,$(FORK)),-DDK_FORK_AB -I$(DK)/3rdparty/stb/include)
TCFLAGS  := -Wall -Wno-unknown-pragmas -std=gnu11 -I$(DK)/include -I$(DK)/src -Isrc -Idarknet-patch/src \
            $(if $(filter 1,$(DEBUG)),-O0 -g,-O2 -g) $(if $(filter 1,$(OPENMP)),-fopenmp) $(SANFLAGS) $(FORKFLAGS)
TPKGS    := check $(if $(filter 1,$(OPENCV)),opencv4)
TLIBS    := $(DK)/libdarknet.a $(if $(or $(filter 1,$(OPENCV)),$(filter alexeyab,$(FORK))),-lstdc++) \
            $(if $(filter 1,$(BLAS)),$(BLASLIBS)) $(if $(filter 1,$(OPENMP)),-fopenmp) -lm -pthread $(SANFLAGS)

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
# OpenMP's threads sleep while they wait (unless OMP_WAIT_POLICY says otherwise): the suites share
# the cores with each other, where a spinning thread takes the core its partner needs (docs/build.md,
# Threads; check_wait runs darknet with the variables unset).
test: $(BUILD)/check_all
	$(SANENV) OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive} DARKNET=$(DK)/darknet $(BUILD)/check_all

# The model zoo suite steps the classifier cfgs of the darknet tree being built.
$(BUILD)/tests/check_zoo.o: TCFLAGS += -DZOO_CFG_DIR='"$(abspath $(DK))/cfg"'
$(BUILD)/tests/check_detect.o: TCFLAGS += -DZOO_CFG_DIR='"$(abspath $(DK))/cfg"'
# The cfgs suite compares cfg/resnet*-224.cfg with the darknet tree's own cfg/resnet*.cfg.
$(BUILD)/tests/check_cfgs.o: TCFLAGS += -DCFGS_DARKNET_DIR='"$(abspath $(DK))/cfg"'

# ---- fuzz: libFuzzer harnesses (tests/fuzz/, its README says what each one feeds) ----------
# `make fuzz`: each harness tests/fuzz/fuzz_<name>.c built with Debian's clang and
# -fsanitize=fuzzer,address,undefined against a darknet + extension built with clang and
# -fsanitize=fuzzer-no-link,address,undefined in $(FUZZ_BUILD)/ (a tree of its own), then run for
# FUZZ_SECONDS on the committed seeds tests/fuzz/corpus/<name>/ (new inputs go to
# $(FUZZ_BUILD)/corpus/<name>/, crash reproducers to $(FUZZ_BUILD)/crashes/<name>/, the log to
# $(FUZZ_BUILD)/fuzz-<name>.log). FUZZ="idx image" picks harnesses. One fuzzer at a time.
# `make test` replays the committed corpus: the same harness sources with the normal compiler and
# tests/fuzz/replay.c as main ($(BUILD)/fuzz/replay_<name>, sanitized under SANITIZE=1), run by
# tests/check_fuzz.c.
FUZZ_NAMES   := $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ         ?= $(FUZZ_NAMES)
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_CXX     ?= clang++
FUZZ_BUILD   ?= build-fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all -fno-omit-frame-pointer -g
FUZZ_DKFLAGS := OPENCV=$(OPENCV) OPENMP=0 DEBUG=0 BLAS=$(BLAS) CC=$(FUZZ_CC) CPP="$(FUZZ_CXX) -std=c++11" \
                SALFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)"
FUZZ_OPTS    ?= -rss_limit_mb=2048 -timeout=10 -close_fd_mask=3 -print_final_stats=1
FUZZ_INC     := -Itests/fuzz -Isrc -Idarknet-patch/src -I$(FUZZ_BUILD)/darknet/include -I$(FUZZ_BUILD)/darknet/src
FUZZ_LIBS    := $(FUZZ_BUILD)/darknet/libdarknet.a $(if $(filter 1,$(OPENCV)),-lstdc++) \
                $(if $(filter 1,$(BLAS)),-lopenblas) -lm -pthread
FUZZ_REPLAY  := $(patsubst %,$(BUILD)/fuzz/replay_%,$(FUZZ_NAMES))
.PHONY: fuzz fuzz-build fuzz-replay

# The instrumented tree and the harnesses (clang and its libFuzzer runtime installed when missing).
fuzz-build:
	@scripts/setup.sh clang libclang-rt-14-dev
	$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) 'DKFLAGS=$(FUZZ_DKFLAGS)' darknet
	$(MAKE) --no-print-directory $(patsubst %,$(FUZZ_BUILD)/fuzz/fuzz_%,$(FUZZ))

$(FUZZ_BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_BUILD)/darknet/libdarknet.a
	@mkdir -p $(dir $@)
	f=$$(scripts/pkg-flags.sh --libs $(if $(filter 1,$(OPENCV)),opencv4)) && \
	    $(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -O1 -std=gnu11 -Wall $(FUZZ_INC) $< -o $@ $(FUZZ_LIBS) $$f

# Runs each harness for FUZZ_SECONDS; stops at the first crash, hang or sanitizer report.
fuzz: fuzz-build
	@for n in $(FUZZ); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$n $(FUZZ_BUILD)/crashes/$$n; \
	    d=; [ -f tests/fuzz/$$n.dict ] && d=-dict=tests/fuzz/$$n.dict; \
	    echo "fuzz $$n: $(FUZZ_SECONDS) s (log $(FUZZ_BUILD)/fuzz-$$n.log)"; \
	    $(FUZZ_BUILD)/fuzz/fuzz_$$n $(FUZZ_OPTS) $$d -max_total_time=$(FUZZ_SECONDS) \
	        -artifact_prefix=$(FUZZ_BUILD)/crashes/$$n/ $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n \
	        > $(FUZZ_BUILD)/fuzz-$$n.log 2>&1; rc=$$?; \
	    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|peak_rss_mb)' $(FUZZ_BUILD)/fuzz-$$n.log; \
	    if [ $$rc != 0 ]; then tail -n 40 $(FUZZ_BUILD)/fuzz-$$n.log; \
	        echo "fuzz $$n: a finding (exit $$rc), reproducer in $(FUZZ_BUILD)/crashes/$$n/" >&2; exit 1; fi; \
	done

# The committed corpus through the instrumented harnesses (clang's ASan+UBSan, which catch what
# gcc's do not, e.g. float-cast-overflow): seconds.
fuzz-replay: fuzz-build
	@for n in $(FUZZ); do \
	    $(FUZZ_BUILD)/fuzz/fuzz_$$n -runs=0 -close_fd_mask=3 tests/fuzz/corpus/$$n > $(FUZZ_BUILD)/replay-$$n.log 2>&1 || \
	        { tail -n 40 $(FUZZ_BUILD)/replay-$$n.log; echo "fuzz-replay $$n: a finding" >&2; exit 1; }; \
	    echo "$$n: $$(grep -E '^#[0-9]+[[:space:]]+INITED' $(FUZZ_BUILD)/replay-$$n.log)"; \
	done

# The replay binaries of `make test` (part of check_all; tests/check_fuzz.c runs them).
$(BUILD)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz_util.h darknet
	@mkdir -p $(dir $@)
	f=$$(scripts/pkg-flags.sh --libs $(if $(filter 1,$(OPENCV)),opencv4)) && \
	    $(CC) $(TCFLAGS) -Itests/fuzz $< tests/fuzz/replay.c -o $@ $(TLIBS) $$f
$(BUILD)/check_all: $(FUZZ_REPLAY)
$(BUILD)/tests/check_fuzz.o: TCFLAGS += -DFUZZ_REPLAY_DIR='"$(abspath $(BUILD))/fuzz"' \
                                        -DFUZZ_CORPUS_DIR='"$(abspath tests/fuzz/corpus)"' -DFUZZ_NAMES='"$(FUZZ_NAMES)"'
# ---- end fuzz --------------------------------------------------------------------------------

# ---- the main job ----------------------------------------------------------------------------
demo: darknet
	scripts/demo.sh

# The Pareto frontier of the regularizers on Fashion-MNIST: results/science/pareto.{csv,png}
# (scripts/science.sh says what it runs; about 25 minutes on 2 cores).
science: darknet
	scripts/science.sh

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

# ---- bench: methods
# Integrated gradients (K = 32) and SmoothGrad (N = 25) per image, batched vs one call per image
# (bench/bench_methods.c, against this build's libdarknet.a; not run by scripts/bench.sh):
#   make build/bench_methods && build/bench_methods cfg/resnet18-64.cfg [-size 224] [-batch B]
$(BUILD)/bench_methods: bench/bench_methods.c setup $(DK)/.patched
	$(MAKE) -C $(DK) $(DKFLAGS) -j2 --no-print-directory obj libdarknet.a
	f=$$(scripts/pkg-flags.sh --libs $(if $(filter 1,$(OPENCV)),opencv4)) && $(CC) $(TCFLAGS) $< -o $@ $(TLIBS) $$f
# ---- end bench: methods

clean:
	rm -rf $(BUILD)/tests $(BUILD)/check_all darknet
	-$(MAKE) -C $(DK) clean >/dev/null 2>&1

distclean:
	rm -rf $(BUILD) results darknet
