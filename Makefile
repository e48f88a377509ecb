# Build, test and lint the lifecycle. Each target is one or two commands; see README.md.
CARGO ?= cargo
WINDOWS_CHECK_CRATES := -p cnb-os -p cnb-api -p cnb-formats

.PHONY: all build build-linux build-linux-x86-64 build-linux-arm64 demo e2e test lint fmt fmt-check clippy check-windows check-deps launcher-size setup clean

all: build

## build: debug build of every crate and phase binary
build:
	$(CARGO) build --workspace --all-targets

PHASES := analyzer detector restorer builder exporter creator rebaser launcher

# $(call cross,<rust target>,<os>,<arch>): static release binaries of every phase in out/<os>/<arch>/
define cross
	$(CARGO) build --release --target $(1) $(addprefix -p ,$(PHASES))
	mkdir -p out/$(2)/$(3)
	cp $(addprefix target/$(1)/release/,$(PHASES)) out/$(2)/$(3)/
endef

## build-linux-x86-64, build-linux-arm64, build-linux: static (musl) binaries in out/linux/<arch>/
build-linux-x86-64:
	$(call cross,x86_64-unknown-linux-musl,linux,x86-64)

build-linux-arm64:
	$(call cross,aarch64-unknown-linux-musl,linux,arm64)

build-linux: build-linux-x86-64 build-linux-arm64

## setup: install what the demo and the tests need on a fresh Debian machine (root)
setup:
	bash .ci/setup

## demo: the main job: build the sample app phase by phase into an OCI layout and run it
##       (DEMO_ARCH=arm64 for the arm64 child of the run image, run through qemu)
demo:
	bash .ci/demo

## e2e: the demo for both architectures; the five phases and the creator against a registry and
##      against a Docker daemon (with the launch cache and the rebaser)
e2e:
	DEMO_ARCH=amd64 bash .ci/demo
	DEMO_ARCH=arm64 bash .ci/demo
	bash .ci/e2e-registry
	bash .ci/e2e-daemon

## launcher-size: the static launcher stays under its 2 MiB budget
launcher-size:
	$(CARGO) build -q --release -p launcher --target x86_64-unknown-linux-musl
	@size=$$(stat -c %s target/x86_64-unknown-linux-musl/release/launcher); \
	  echo "launcher: $$size bytes (budget 2097152)"; test $$size -le 2097152

## test: formatting, lints, the windows compile check, dependency rules, every test (nextest),
##       the launcher's size budget and the end-to-end demo on both architectures
test: fmt-check clippy check-windows check-deps
	$(CARGO) nextest run --workspace --no-fail-fast
	$(MAKE) launcher-size e2e

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

## check-deps: the dependency rules of docs/architecture.md
check-deps:
	bash .ci/check-deps

clean:
	$(CARGO) clean
	rm -rf out
