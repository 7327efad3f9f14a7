# Xeno top-level Makefile: thin wrappers around meson/ninja and the scripts.
#   make run     install deps, build Xeno and the default guest, boot it
#   make check   install deps, build everything, run every test
#   make bench   benchmarks against QEMU (bench/): boot/sha256/idle/memory, the CPU
#                suite, and as root migration and save/restore
#   make bench-cpu  the CPU suite alone (bench/cpu.sh)
#   make soak    long checks kept out of make check (tests/soak, as root)

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
GUEST_OUT  ?= $(BUILD)/guest
VMM        := $(BUILD)/src/vmm/xeno-vmm

# ThreadSanitizer: only xend and its unit tests, its libvirt server's
# included (tests/run.sh, "tsan").
TSAN_TARGETS := src/xend/xend tests/unit/xend/test_xend_api \
                tests/unit/xend/test_xend_reliability tests/unit/xend/test_xend_vmmctl \
                tests/unit/xend/test_xend_state tests/unit/xend/test_xend_reloc \
                tests/unit/libvirt/test_libvirt_rpc

.PHONY: all deps build guest run check unit asan tsan fuzz isa bench bench-cpu soak clean

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --wrap-mode=nodownload -Dguest_dir=$(abspath $(GUEST_OUT))

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --wrap-mode=nodownload -Db_sanitize=address,undefined -Db_lundef=false -Dguest_dir=$(abspath $(GUEST_OUT))

asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --wrap-mode=nodownload -Dfuzz=true -Db_lundef=false -Dguest_dir=$(abspath $(GUEST_OUT))

$(TSAN_BUILD)/build.ninja:
	meson setup $(TSAN_BUILD) --wrap-mode=nodownload -Db_sanitize=thread -Db_lundef=false -Dc_args=-Wno-tsan -Dguest_dir=$(abspath $(GUEST_OUT))

tsan: deps $(TSAN_BUILD)/build.ninja
	ninja -C $(TSAN_BUILD) $(TSAN_TARGETS)

fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)

guest: deps
	bash guest/build.sh $(GUEST_OUT)

isa: build
	bash tests/isa/build.sh $(BUILD)/isa

run: build guest
	$(VMM)

check: build asan tsan fuzz guest isa
	bash tests/run.sh

bench: build guest
	bash bench/run.sh
	bash bench/cpu.sh
	@if [ "$$(id -u)" = 0 ]; then bash bench/migrate.sh; \
	else echo "bench: skipping bench/migrate.sh (migration, save/restore): it needs root"; fi

bench-cpu: build guest
	bash bench/cpu.sh

soak: build guest
	@for t in tests/soak/*.sh; do echo "== $$t"; bash $$t || exit 1; done

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
