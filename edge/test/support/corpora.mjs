// The scenario corpora (policies/scenarios/*.json) as concrete requests: `authz scenario --export` mints their
// keys and tokens (for the corpus's own time, or for `now`) and answers each case with the native core and the
// proxy-wasm filter in the wasmtime host. Edge hosts decide the same requests and are held to those answers.
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { AUTHZ_CLI, FILTER_WASM, SCENARIOS, need } from "./paths.mjs";

export function corpusFiles() {
  const files = readdirSync(SCENARIOS).filter((name) => name.endsWith(".json")).sort();
  if (files.length === 0) throw new Error(`no corpus in ${SCENARIOS}`);
  return files.map((name) => join(SCENARIOS, name));
}

/** Every corpus as `{file, description, now, config, cases: [{name, request, expect, answers: {native, filter}}]}`. */
export function exportCorpora({ now, files = corpusFiles() } = {}) {
  const args = ["scenario", "--export", "--wasm", need(FILTER_WASM, "make wasm")];
  if (now !== undefined) args.push("--now", String(now));
  const out = execFileSync(need(AUTHZ_CLI, "make cli"), [...args, ...files], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    // Exit status 1 (some engine not as the corpus expects) still prints every answer; the tests report which.
    stdio: ["ignore", "pipe", "inherit"],
  });
  return out
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

/** The part of an answer every host must agree on (the CLI's `check` fields less the wording of `reason`). */
export function essentials(answer) {
  return {
    status: answer.status,
    decision: answer.decision,
    headers: answer.headers,
    rewritePath: answer.rewritePath ?? answer.rewrite_path ?? null,
  };
}

/** Differences between an answer and the corpus's expectation, as readable lines. */
export function againstExpectation(expect, answer) {
  const problems = [];
  if (answer.status !== expect.status) problems.push(`status ${answer.status} instead of ${expect.status}`);
  if (expect.reason !== undefined && !answer.reason.includes(expect.reason)) {
    problems.push(`reason \`${answer.reason}\` does not contain \`${expect.reason}\``);
  }
  if (expect.code !== undefined && answer.code !== expect.code) {
    problems.push(`code \`${answer.code}\` instead of \`${expect.code}\``);
  }
  if (expect.upstream !== undefined) {
    const sent = answer.status === 200 ? answer.headers : {};
    if (JSON.stringify(sorted(sent)) !== JSON.stringify(sorted(expect.upstream))) {
      problems.push(`upstream headers ${JSON.stringify(sent)} instead of ${JSON.stringify(expect.upstream)}`);
    }
  }
  return problems;
}

export function sorted(object) {
  return Object.fromEntries(Object.entries(object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Reasons agree but for byte counts, which differ with the headers each host adds (as in e2e/tests/envoy.rs). */
export function sameReason(a, b) {
  const mask = (text) => text.replace(/\d+/g, "#");
  return a === b || (a.startsWith("request headers are ") && mask(a) === mask(b));
}
