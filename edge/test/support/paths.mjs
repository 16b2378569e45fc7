// Where the built artefacts are, relative to this checkout. Every test needs `make edge` (and the corpus and bench
// runners `make wasm cli`) first; `make edge-test` does both.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const DIST = join(ROOT, "dist/edge");
export const NODE_PACKAGE = join(DIST, "nodejs");
export const CLOUDFLARE = join(DIST, "cloudflare");
export const LAMBDA_EDGE = join(DIST, "lambda-edge");
export const FILTER_WASM = join(ROOT, "dist/authz.wasm");
export const AUTHZ_CLI = join(ROOT, "target/release/authz");
export const SCENARIOS = join(ROOT, "policies/scenarios");

const require = createRequire(import.meta.url);

/** The workerd binary from npm's `workerd` package (edge/node_modules, `make edge-deps`). */
export function workerdBinary() {
  return require("workerd").default;
}

/** Fails with what to run when an artefact is missing, instead of a confusing error later. */
export function need(path, how) {
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`${how}\``);
  return path;
}

/** The Node package, required fresh from dist/edge/nodejs. */
export function nodePackage() {
  return require(need(NODE_PACKAGE, "make edge"));
}
