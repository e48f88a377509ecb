# Build, test and lint the lifecycle. Each target is one or two commands; see README.md.
CARGO ?= cargo
WINDOWS_CHECK_CRATES := -p cnb-os -p cnb-api -p cnb-formats

.PHONY: all build test lint fmt fmt-check clippy check-windows check-deps setup clean

all: build

## build: debug build of every crate and phase binary
build:
	$(CARGO) build --workspace --all-targets

## setup: install what the tests need on a fresh Debian machine (root)
setup:
	bash .ci/setup

## test: formatting, lints, the windows compile check, then every test (nextest)
test: fmt-check clippy check-windows check-deps
	$(CARGO) nextest run --workspace --no-fail-fast

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
