# darknet-saliency: builds darknet (Debian's source package, or DARKNET_SRC=/path) with the
# extension inside, runs the Check suites, the demo and the benchmarks.
# `make` builds ./darknet; `make test` builds and runs every test; `make demo` runs the main job.

# ---- toggles ---------------------------------------------------------------------------------
OPENCV   ?= 1          # darknet's image path through Debian's libopencv-dev
BLAS     ?= 1          # darknet's gemm through OpenBLAS (patch 0011); 0 = darknet's naive loops
OPENMP   ?= 0
DEBUG    ?= 0          # -O0 -g for darknet and the tests
SANITIZE ?= 0          # address + undefined sanitizers for the tests
FORK     ?= pjreddie   # which patch series: patches/$(FORK)/series
DARKNET_SRC ?=         # a darknet checkout to use instead of Debian's source package

OPENCV := $(strip $(OPENCV))
BLAS := $(strip $(BLAS))
OPENMP := $(strip $(OPENMP))
DEBUG := $(strip $(DEBUG))
SANITIZE := $(strip $(SANITIZE))
FORK := $(strip $(FORK))
DARKNET_SRC := $(strip $(DARKNET_SRC))

BUILD := build
UP    := $(BUILD)/upstream
DK    := $(BUILD)/darknet
SRCID := $(FORK):$(if $(DARKNET_SRC),$(abspath $(DARKNET_SRC)),debian)
DKFLAGS := OPENCV=$(OPENCV) OPENMP=$(OPENMP) DEBUG=$(DEBUG) BLAS=$(BLAS)

# A different source or fork than the tree was made from: unpack and patch again.
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
	echo "$(SRCID)" > $(DK)/.srcid
	touch $@

# darknet itself (darknet's Makefile, incremental), copied to ./darknet (by the default BUILD=build).
darknet: setup $(DK)/.patched
	$(MAKE) -C $(DK) $(DKFLAGS) -j2 --no-print-directory obj backup results darknet libdarknet.a
	@if [ "$(BUILD)" = build ] && ! cmp -s $(DK)/darknet darknet; then cp $(DK)/darknet darknet.tmp && mv -f darknet.tmp darknet; fi

# ---- tests -----------------------------------------------------------------------------------
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(patsubst tests/%.c,$(BUILD)/tests/%.o,$(TEST_SRC))
TCFLAGS  := -Wall -Wno-unknown-pragmas -std=gnu11 -I$(DK)/include -I$(DK)/src -Isrc -Idarknet-patch/src \
            $(shell pkg-config --cflags check 2>/dev/null)
TLIBS    := $(DK)/libdarknet.a $(shell pkg-config --libs check 2>/dev/null) \
            $(if $(filter 1,$(OPENCV)),$(shell pkg-config --libs opencv4 2>/dev/null) -lstdc++) \
            $(if $(filter 1,$(BLAS)),-lopenblas) $(if $(filter 1,$(OPENMP)),-fopenmp) -lm -pthread
ifeq ($(DEBUG),1)
TCFLAGS += -O0 -g
else
TCFLAGS += -O2 -g
endif
ifeq ($(SANITIZE),1)
TCFLAGS += -fsanitize=address,undefined
TLIBS   += -fsanitize=address,undefined
endif

# The suite list: every `Suite *make_<name>_suite(void)` defined in tests/check_*.c.
$(BUILD)/tests/suites.h: $(filter-out tests/check_main.c,$(wildcard tests/check_*.c))
	@mkdir -p $(dir $@)
	@{ sed -n 's/^Suite \*make_\([a-z0-9_]*\)_suite(void).*/Suite *make_\1_suite(void);/p' $^; \
	   printf '#define ALL_SUITES'; sed -n 's/^Suite \*make_\([a-z0-9_]*\)_suite(void).*/ SUITE(\1)/p' $^ | tr -d '\n'; echo; } > $@

$(BUILD)/tests/%.o: tests/%.c $(wildcard tests/*.h src/*.h darknet-patch/src/*.h) $(DK)/.patched $(BUILD)/tests/suites.h
	@mkdir -p $(dir $@)
	$(CC) $(TCFLAGS) -I$(BUILD)/tests -c $< -o $@

$(BUILD)/check_all: darknet $(TEST_OBJ)
	$(CC) $(TEST_OBJ) -o $@ $(TLIBS)

# Every Check suite (tests/check_<module>.c); CK_RUN_SUITE=name picks one, CK_FORK=no to debug.
test: $(BUILD)/check_all
	DARKNET=$(DK)/darknet $(BUILD)/check_all

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
	$(CC) $(TCFLAGS) $< -o $@ $(TLIBS)
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
