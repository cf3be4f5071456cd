# crash-guard: build every policy module, replay the crash scenarios, test.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

POLICIES := $(sort $(notdir $(wildcard policies/*)))
TARGET := wasm32-wasip1
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
HARNESS := $(TARGET_DIR)/debug/harness
WASM_OPT_FEATURES := --strip-debug --enable-bulk-memory --enable-sign-ext \
	--enable-nontrapping-float-to-int --enable-mutable-globals --enable-multivalue
## Policy modules are optimised by wasm-opt for speed (-Oz ran 1.8-3.0% more instructions
## per evaluation than -O3, for 0.5% less size); the browser playground for size.
## --low-memory-unused: Rust's stack sits below its data, and no pointer arithmetic wraps
## into the low 1 KiB, so constant offsets fold into loads and stores (0.6-0.7% smaller).
WASM_OPT_POLICY := -O3 --low-memory-unused $(WASM_OPT_FEATURES)
WASM_OPT_PLAYGROUND := -Oz $(WASM_OPT_FEATURES)
REGISTRY ?= ghcr.io/crash-guard
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)

.PHONY: artifacthub all policies replay test unit e2e-tests check-fixtures soak fmt fmt-check lint annotate push clean harness bench bench-against hub-reference fuzz playground playground-test

## Default: every policy module into dist/<rule>.wasm, and its annotated twin dist/<rule>.annotated.wasm.
all: annotate

## Each module is built for speed (opt-level 3) and for size
## (release, opt-level s). dist/ gets the first build that stays within SIZE_BUDGET
## bytes (400 KiB) after wasm-opt: release-inline (release-fast with LLVM's inlining
## threshold raised from 225 to 300: 4-6.5% fewer instructions per evaluation, 7-10%
## larger), release-fast, release-balanced (crates at opt-level 3, the cross-crate LTO
## pass at s), release. Builds after the first are made only for modules that need them.
## A policy module over the budget in every profile fails the build (a warning without
## wasm-opt). The bundle is always the release build, and carries every rule.
SIZE_BUDGET := 409600
INLINE_RUSTFLAGS := -C llvm-args=-inline-threshold=300
policies:
	rustup target list --installed | grep -qx $(TARGET) || rustup target add $(TARGET)
	RUSTFLAGS="$${RUSTFLAGS:-} $(INLINE_RUSTFLAGS)" \
	  cargo build --profile release-inline --target $(TARGET) $(addprefix -p ,$(POLICIES))
	mkdir -p dist
	for p in $(POLICIES) crash-guard; do \
	  pkg="$$p"; file="$${p//-/_}.wasm"; \
	  profiles="release-inline release-fast release-balanced release"; \
	  [ "$$p" = crash-guard ] && pkg=crash-guard-bundle && file=crash_guard_bundle.wasm && profiles=release; \
	  for profile in $$profiles; do \
	    src="$(TARGET_DIR)/$(TARGET)/$$profile/$$file"; \
	    [ "$$profile" = release-inline ] || cargo build --profile "$$profile" --target $(TARGET) -p "$$pkg"; \
	    if command -v wasm-opt >/dev/null; then wasm-opt $(WASM_OPT_POLICY) "$$src" -o "dist/$$p.wasm"; \
	    else cp "$$src" "dist/$$p.wasm"; fi; \
	    size=$$(stat -c %s dist/$$p.wasm); \
	    [ "$$size" -le $(SIZE_BUDGET) ] && break; \
	  done; \
	  echo "dist/$$p.wasm: $$size bytes ($$profile)"; \
	  if [ "$$p" != crash-guard ] && [ "$$size" -gt $(SIZE_BUDGET) ]; then \
	    if command -v wasm-opt >/dev/null; then \
	      echo "error: dist/$$p.wasm is over the $(SIZE_BUDGET)-byte budget in every profile ($$size bytes at $$profile): read fewer fields or shorten its texts (README, Performance)" >&2; \
	      exit 1; \
	    fi; \
	    echo "warning: dist/$$p.wasm is $$size bytes, over the $(SIZE_BUDGET)-byte budget; install binaryen (wasm-opt) to shrink it" >&2; \
	  fi; \
	done

## --all-targets unifies the dev-dependencies' features (rstest, cel) into this build, as
## `cargo test --workspace` does, so the tests reuse it instead of compiling wasmtime again.
harness:
	cargo build -p harness --all-targets

## The main job: build the modules, then replay every crash scenario against them.
replay: policies harness
	$(HARNESS) replay

## Fixture cases, with kwctl when it is installed and with the harness otherwise.
e2e-tests: annotate
	@if command -v kwctl >/dev/null; then \
	  echo "kwctl found: replaying with kwctl"; \
	  $(HARNESS) replay --engine kwctl; \
	else \
	  echo "kwctl not installed: replaying with the harness (wasmtime + waPC)"; \
	  $(HARNESS) replay; \
	fi
	$(CHECK_FIXTURES)

## `harness check` on e2e-tests/check: the eight crash manifests refused, the clean chart accepted.
## --workspace here and for the parity test: the features of `make unit`'s build, so nothing recompiles.
CHECK_FIXTURES := cargo test --workspace --test check -- --nocapture
check-fixtures: policies harness
	$(CHECK_FIXTURES)

## Every module fed mutations of its fixture cases on a warm instance (harness soak).
soak: policies harness
	$(HARNESS) soak

## Module size, compile, instantiate and latency per fixture, against native; writes BENCHMARKS.md.
## The harness is built optimised (profile bench-host), as policy-server is.
bench: policies hub-reference
	cargo build --profile bench-host -p harness
	$(TARGET_DIR)/bench-host/harness bench --out BENCHMARKS.md

## An earlier commit's modules (REV=<commit>, built by its own Makefile) timed beside today's
## in one bench run on today's fixtures, with a before → after table (scripts/bench-against.py).
ifneq ($(filter bench-against,$(MAKECMDGOALS)),)
ifndef REV
$(error usage: make bench-against REV=<commit>)
endif
endif
bench-against: policies hub-reference
	cargo build --profile bench-host -p harness
	scripts/bench-against.py $(REV)

## A policy written the hub's way (bench/hub-reference, its own workspace, built as the hub
## builds: cargo's release profile, no wasm-opt): the bench times it beside ours.
hub-reference:
	rustup target list --installed | grep -qx $(TARGET) || rustup target add $(TARGET)
	cargo build --locked --release --target $(TARGET) --manifest-path bench/hub-reference/Cargo.toml \
	  --target-dir $(abspath $(TARGET_DIR))/hub-reference
	mkdir -p dist/reference
	cp $(abspath $(TARGET_DIR))/hub-reference/$(TARGET)/release/hub_reference.wasm dist/reference/hub-reference.wasm

## Coverage-guided fuzzing of every rule natively (not part of CI). FUZZ_SECONDS per rule.
FUZZ_SECONDS ?= 60
fuzz:
	$(MAKE) -C fuzz run FUZZ_SECONDS=$(FUZZ_SECONDS)

unit:
	cargo test --workspace

fmt:
	cargo fmt --all

fmt-check:
	cargo fmt --all -- --check

lint:
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target $(TARGET) $(addprefix -p ,$(POLICIES)) -p crash-guard-bundle -- -D warnings

## Everything CI runs.
test: fmt-check lint annotate unit e2e-tests soak playground-test

## The browser playground (wasm32-unknown-unknown + wasm-bindgen) into dist/playground/.
PLAYGROUND_DIR := dist/playground
PLAYGROUND_WASM := $(TARGET_DIR)/wasm32-unknown-unknown/release/playground.wasm
WASM_BINDGEN_VERSION := $(shell sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' Cargo.toml)
## Outside target/, so a clean clone (CI) reuses the installed version.
TOOLS ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/crash-guard/tools
WASM_BINDGEN := $(TOOLS)/bin/wasm-bindgen
SESSIONS := $(TARGET_DIR)/playground-sessions

playground:
	rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	$(WASM_BINDGEN) --version 2>/dev/null | grep -qx 'wasm-bindgen $(WASM_BINDGEN_VERSION)' || { \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --locked --root $(TOOLS) --target-dir $(TOOLS)/build \
	  && rm -rf $(TOOLS)/build; }
	cargo build --release --target wasm32-unknown-unknown -p playground
	rm -rf $(PLAYGROUND_DIR) && mkdir -p $(PLAYGROUND_DIR)
	$(WASM_BINDGEN) --target web --no-typescript --out-dir $(PLAYGROUND_DIR) $(PLAYGROUND_WASM)
	if command -v wasm-opt >/dev/null; then \
	  wasm-opt $(WASM_OPT_PLAYGROUND) --enable-reference-types $(PLAYGROUND_DIR)/playground_bg.wasm -o $(PLAYGROUND_DIR)/playground_bg.wasm; fi
	cp -r playground/web/. playground/examples $(PLAYGROUND_DIR)/
	@echo "$(PLAYGROUND_DIR): wasm $$(stat -c %s $(PLAYGROUND_DIR)/playground_bg.wasm) bytes, JS $$(cat $(PLAYGROUND_DIR)/*.js | wc -c) bytes"

## Parity of the playground with the modules' requests and lookups, then the page in headless Chromium.
playground-test: playground policies harness
	rm -rf $(SESSIONS) && $(HARNESS) replay --sessions $(SESSIONS) > /dev/null || true
	PLAYGROUND_SESSIONS=$(abspath $(SESSIONS)) cargo test --workspace --test parity -- --nocapture
	cd playground/browser-test && npm ci --no-audit --no-fund --loglevel=error
	node playground/browser-test/test.mjs $(PLAYGROUND_DIR)

## Modules with their metadata embedded (the io.kubewarden.metadata section kwctl annotate writes).
annotate: policies harness
	for p in $(POLICIES); do \
	  $(HARNESS) annotate dist/$$p.wasm --metadata policies/$$p/metadata.yml \
	    --usage policies/$$p/README.md -o dist/$$p.annotated.wasm; \
	done
	$(HARNESS) annotate dist/crash-guard.wasm --metadata metadata.yml --usage README.md -o dist/crash-guard.annotated.wasm

## Regenerates every artifacthub-pkg.yml from metadata.yml and questions-ui.yml.
artifacthub: harness
	$(HARNESS) artifacthub --write $(addprefix policies/,$(POLICIES)) .

push: annotate
	@command -v kwctl >/dev/null || { echo "kwctl is not installed: cannot push (the annotated modules are in dist/)"; exit 1; }
	for p in $(POLICIES) crash-guard; do \
	  kwctl push dist/$$p.annotated.wasm registry://$(REGISTRY)/$$p:v$(VERSION); \
	done

clean:
	cargo clean
	rm -rf dist
