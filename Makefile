# Build, test and lint the lifecycle. Each target is one or two commands; see README.md.
CARGO ?= cargo
WINDOWS_CHECK_CRATES := -p cnb-os -p cnb-api -p cnb-formats

.PHONY: all build build-dev build-linux build-linux-x86-64 build-linux-arm64 build-windows \
	build-windows-x86-64 build-windows-arm64 package package-linux package-windows package-linux-x86-64 \
	package-linux-arm64 package-windows-x86-64 package-windows-arm64 build-image build-image-linux-amd64 \
	build-image-linux-arm64 publish release-check bench demo demo-multiarch upstream-fixtures e2e e2e-platforms test fuzz faults chaos lint fmt fmt-check \
	clippy check-windows check-deps check-tests launcher-size setup clean

all: build-dev

## build-dev: debug build of every crate and phase binary (what developers iterate on)
build-dev:
	$(CARGO) build --workspace --all-targets

PHASES := analyzer detector restorer builder extender exporter creator rebaser launcher
# PROFILE=ci builds the cross targets quickly (checked and run in CI, not shipped).
PROFILE ?= release
PROFILE_DIR := $(if $(filter dev,$(PROFILE)),debug,$(PROFILE))
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
RELEASE_TOOL := target/debug/cnb-release
IMAGE := lifecycle.local/lifecycle
# A registry to reach over plain HTTP when publishing (a loopback one), or -.
INSECURE ?= -

# $(call cross,<rust target>,<os>,<arch>,<exe suffix>,<cargo build command>): every phase in out/<os>/<arch>/
# (built with the commit, which `-version` prints after the version as upstream does)
define cross
	LIFECYCLE_SCM_COMMIT=$(COMMIT) $(5) --profile $(PROFILE) --target $(1) $(addprefix -p ,$(PHASES))
	rm -rf out/$(2)/$(3) && mkdir -p out/$(2)/$(3)
	cp $(addsuffix $(4),$(addprefix target/$(1)/$(PROFILE_DIR)/,$(PHASES))) out/$(2)/$(3)/
endef

## build: static binaries of every phase for linux and windows, x86-64 and arm64, in out/<os>/<arch>/
build: build-linux build-windows

## build-linux-x86-64, build-linux-arm64, build-linux: static (musl) binaries in out/linux/<arch>/
build-linux-x86-64:
	$(call cross,x86_64-unknown-linux-musl,linux,x86-64,,$(CARGO) build)

build-linux-arm64:
	$(call cross,aarch64-unknown-linux-musl,linux,arm64,,$(CARGO) build)

build-linux: build-linux-x86-64 build-linux-arm64

## build-windows-x86-64 (mingw), build-windows-arm64 (zig, via cargo-zigbuild), build-windows: out/windows/<arch>/*.exe
build-windows-x86-64:
	$(call cross,x86_64-pc-windows-gnu,windows,x86-64,.exe,$(CARGO) build)

build-windows-arm64:
	$(call cross,aarch64-pc-windows-gnullvm,windows,arm64,.exe,$(CARGO) zigbuild)

build-windows: build-windows-x86-64 build-windows-arm64

$(RELEASE_TOOL): FORCE
	$(CARGO) build -q -p cnb-release
FORCE:

# $(call package,<os>,<arch>): out/lifecycle-v<version>+<os>.<arch>.tgz from out/<os>/<arch>/
define package
	$(RELEASE_TOOL) package out/$(1)/$(2) out/lifecycle-v$(VERSION)+$(1).$(2).tgz
	@echo "out/lifecycle-v$(VERSION)+$(1).$(2).tgz"
endef

## package-<os>-<arch>, package-linux, package-windows, package: .tgz with lifecycle/<binaries> and lifecycle.toml
package-linux-x86-64: build-linux-x86-64 $(RELEASE_TOOL)
	$(call package,linux,x86-64)
package-linux-arm64: build-linux-arm64 $(RELEASE_TOOL)
	$(call package,linux,arm64)
package-windows-x86-64: build-windows-x86-64 $(RELEASE_TOOL)
	$(call package,windows,x86-64)
package-windows-arm64: build-windows-arm64 $(RELEASE_TOOL)
	$(call package,windows,arm64)
package-linux: package-linux-x86-64 package-linux-arm64
package-windows: package-windows-x86-64 package-windows-arm64
package: package-linux package-windows

## build-image-linux-amd64, build-image-linux-arm64: lifecycle images as OCI layouts under out/images
##   (no Docker); build-image: both and one index over them. No windows image: no windows base image
##   can be had offline (see README).
build-image-linux-amd64: build-linux-x86-64 $(RELEASE_TOOL)
	$(RELEASE_TOOL) image out/linux/x86-64 linux/amd64 out/images $(IMAGE):$(VERSION)-linux-amd64
build-image-linux-arm64: build-linux-arm64 $(RELEASE_TOOL)
	$(RELEASE_TOOL) image out/linux/arm64 linux/arm64 out/images $(IMAGE):$(VERSION)-linux-arm64
build-image: build-image-linux-amd64 build-image-linux-arm64
	$(RELEASE_TOOL) index out/images $(IMAGE):$(VERSION) $(IMAGE):$(VERSION)-linux-amd64 $(IMAGE):$(VERSION)-linux-arm64

## publish: REGISTRY=host[:port]/repo pushes <commit>-linux-amd64, <commit>-linux-arm64 and <commit>
##   (the index); RELEASE=1 also <version>-linux-*, latest-linux-* and the <version> and latest indexes.
##   INSECURE=<host:port> for a plain-HTTP registry.
publish: build-image
	@test -n "$(REGISTRY)" || { echo "publish: set REGISTRY=host[:port]/repo" >&2; exit 2; }
	$(RELEASE_TOOL) publish out/images $(INSECURE) \
	  $(IMAGE):$(VERSION)-linux-amd64=$(REGISTRY):$(COMMIT)-linux-amd64 \
	  $(IMAGE):$(VERSION)-linux-arm64=$(REGISTRY):$(COMMIT)-linux-arm64 \
	  $(IMAGE):$(VERSION)=$(REGISTRY):$(COMMIT) \
	  $(if $(RELEASE),$(foreach t,$(VERSION) latest,$(IMAGE):$(VERSION)-linux-amd64=$(REGISTRY):$(t)-linux-amd64 \
	    $(IMAGE):$(VERSION)-linux-arm64=$(REGISTRY):$(t)-linux-arm64 $(IMAGE):$(VERSION)=$(REGISTRY):$(t)))

## release-check: CI's check of the release artifacts (PROFILE=ci builds, qemu, umoci, skopeo, a registry)
release-check:
	bash .ci/release-check

## bench: measurements (not a test) into docs/benchmarks.md; BENCH_MB sets the data size
bench:
	bash .ci/bench

## setup: install what the demo and the tests need on a fresh Debian machine (root)
setup:
	bash .ci/setup

## demo: the main job: build the sample app phase by phase into an OCI layout and run it
##       (DEMO_ARCH=arm64 for the arm64 child of the run image, run through qemu)
demo:
	bash .ci/demo

## e2e: the demo for both architectures; the five phases and the creator against a registry and
##      against a Docker daemon (with the launch cache and the rebaser); the platforms' own calls
e2e:
	DEMO_ARCH=amd64 bash .ci/demo
	DEMO_ARCH=arm64 bash .ci/demo
	bash .ci/e2e-registry
	bash .ci/e2e-daemon
	$(MAKE) e2e-platforms

## demo-multiarch: one app image index for amd64 and arm64 built at once, each in a chroot of its
##                 architecture's build image (arm64 through qemu-user), run, rebased, run again
demo-multiarch:
	bash .ci/demo-multiarch

## upstream-fixtures: upstream's image-extension acceptance fixtures (detector, extender) replayed
##                    with our binaries; UPSTREAM_LIFECYCLE=<a checkout of buildpacks/lifecycle>
##                    (not in CI: it has no copy of upstream, and none is kept here)
upstream-fixtures:
	bash .ci/upstream-fixtures $(UPSTREAM_LIFECYCLE)

## e2e-platforms: pack, kpack and Tekton calling the phases exactly as their source does
##                (PLATFORMS="pack kpack tekton" picks some; see docs/platforms.md)
e2e-platforms:
	bash .ci/e2e-platforms

## launcher-size: the static launcher stays under its 2 MiB budget
launcher-size:
	$(CARGO) build -q --release -p launcher --target x86_64-unknown-linux-musl
	@size=$$(stat -c %s target/x86_64-unknown-linux-musl/release/launcher); \
	  echo "launcher: $$size bytes (budget 2097152)"; test $$size -le 2097152

## test: formatting, lints, the windows compile check, dependency rules, the no-skip test lint,
##       every test (nextest, ignored ones included: CI runs as root; the kill loops' short pass,
##       CNB_CHAOS_RUNS=5 per case), the launcher's size budget, make e2e (demos, registry,
##       daemon, platform flows), the release check and the multi-arch demo
test: fmt-check clippy check-windows check-deps check-tests
	$(CARGO) nextest run --workspace --no-fail-fast --run-ignored all
	$(MAKE) launcher-size e2e release-check demo-multiarch

## fuzz: the hostile-input property tests (tests/it/hostile.rs of each crate that reads outside
##       input) with FUZZ_CASES cases each, every crate stopped after FUZZ_TIME seconds (a stop
##       by the clock passes; a failing case does not). CI's nextest run is the short pass.
FUZZ_CASES ?= 20000
FUZZ_TIME ?= 300
FUZZ_CRATES := cnb-formats cnb-image cnb-archive cnb-platform
fuzz:
	$(CARGO) test --no-run $(addprefix -p ,$(FUZZ_CRATES)) --test it
	for c in $(FUZZ_CRATES); do \
		CNB_FUZZ_CASES=$(FUZZ_CASES) timeout $(FUZZ_TIME) $(CARGO) test -q -p $$c --test it hostile; \
		rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 124 ] || exit $$rc; \
	done

## faults: the registry fault tests for CNB_FAULT_ROUNDS (20) seeds each, with the figures of
##         docs/reliability.md (faults per request kind); CNB_FAULT_SEED=<n> replays a seed
faults:
	bash .ci/faults

## chaos: the long kill loops (CHAOS_RUNS kills per phase and case, 50 by default; SIGTERM and
##        SIGINT a fifth of that): exporter (layout + cache dir, registry + cache image, daemon +
##        launch cache), restorer, rebaser; one summary line per case (see docs/reliability.md).
##        CNB_CHAOS_SEED=<n> replays a run.
CHAOS_RUNS ?= 50
CHAOS_PHASES := exporter restorer rebaser
chaos:
	mkdir -p out
	$(CARGO) build -q $(addprefix -p ,$(CHAOS_PHASES))
	CNB_CHAOS_RUNS=$(CHAOS_RUNS) $(CARGO) nextest run $(addprefix -p ,$(CHAOS_PHASES)) --run-ignored all \
		--no-capture -E 'test(/chaos(_daemon)?::|full_disk::|hostile::/)' >out/chaos.log 2>&1; rc=$$?; \
		grep -E '^chaos |(PASS|FAIL) \[|Summary' out/chaos.log; exit $$rc

## lint: formatting and clippy only
lint: fmt-check clippy

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## check-windows: the OS layer and the file formats compile for windows
check-windows:
	$(CARGO) check $(WINDOWS_CHECK_CRATES) --target x86_64-pc-windows-gnu

## check-tests: no test can pass without reaching its assertions (no early return, no skip)
check-tests:
	python3 .ci/check-tests

## check-deps: the dependency rules of docs/architecture.md
check-deps:
	bash .ci/check-deps

clean:
	$(CARGO) clean
	rm -rf out
