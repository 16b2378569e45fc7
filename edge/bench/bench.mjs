// make bench-edge: the per-request cost of the edge packages, each next to a baseline measured in the same run,
// interleaved round by round, best of rounds, after a warm-up (V8 compiles each function on its first calls).
// The request is the seed scenario's "vet reads petstore v1" (petstore.json), as in benches/authorize.rs, with its
// token verified once and then found in the verified-token cache, as deployed.
//   Node:    authorize() against an empty function; the Lambda@Edge handler against an empty handler; and
//            authorize() on first sight (cache off), for scale.
//   workerd: the Worker over HTTP against a Worker that forwards to the same origin without deciding anything.
// Timings on a shared machine move between runs: compare within one run. Nothing here asserts a speed.
import { readFileSync, statSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { deployLambda, eventFor } from "../test/support/cloudfront.mjs";
import { exportCorpora } from "../test/support/corpora.mjs";
import { nowSeconds } from "../test/support/mint.mjs";
import { DIST, SCENARIOS, nodePackage } from "../test/support/paths.mjs";
import { startOrigin, startWorkerd } from "../test/support/workerd.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const HTTP_CALLS = Number(process.env.BENCH_HTTP_CALLS ?? 500);
const CASE = "vet reads petstore v1";

const [corpus] = exportCorpora({ now: nowSeconds(), files: [join(SCENARIOS, "petstore.json")] });
const item = corpus.cases.find((entry) => entry.name === CASE);
if (!item || item.answers.native.status !== 200) throw new Error(`no allowed case \`${CASE}\``);
const { now, ...live } = item.request; // the real clock decides in the hosts below

/** Interleaved rounds of each variant; returns the best mean per call (ns) of each. */
async function rounds(variants, callsPerRound) {
  const best = Object.fromEntries(Object.keys(variants).map((name) => [name, Infinity]));
  for (const run of Object.values(variants)) for (let i = 0; i < callsPerRound; i++) await run(); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, run] of Object.entries(variants)) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < callsPerRound; i++) await run();
      const perCall = Number(process.hrtime.bigint() - start) / callsPerRound;
      best[name] = Math.min(best[name], perCall);
    }
  }
  return best;
}

const us = (ns) => `${(ns / 1000).toFixed(2).padStart(9)} µs`;
function report(title, best, baseline) {
  console.log(title);
  for (const [name, ns] of Object.entries(best)) {
    const over = name === baseline ? "   (baseline)" : `   +${(ns - best[baseline]) / 1000 >= 0 ? "" : "-"}${Math.abs((ns - best[baseline]) / 1000).toFixed(2)} µs over the baseline, ×${(ns / best[baseline]).toFixed(1)}`;
    console.log(`  ${name.padEnd(44)} ${us(ns)}${over}`);
  }
}

// --- Node ---------------------------------------------------------------------------------------------------
const { Authorizer } = nodePackage();
const cached = new Authorizer(corpus.config);
const uncached = new Authorizer(JSON.stringify({ ...JSON.parse(corpus.config), token_cache_size: 0 }));
for (const authz of [cached, uncached]) {
  const answer = authz.authorize(live);
  if (answer.status !== 200) throw new Error(`the package answered ${answer.status}: ${answer.reason}`);
}
let sink;
const node = await rounds(
  {
    "empty function": () => {
      sink = { status: 200, live };
    },
    "authorize(), repeated token": () => {
      sink = cached.authorize(live);
    },
  },
  20_000,
);
report(`Node ${process.version}, dist/edge/nodejs, "${CASE}", best of ${ROUNDS} rounds:`, node, "empty function");
const firstSight = await rounds({ "authorize(), first-sight token (cache off)": () => { sink = uncached.authorize(live); } }, 300);
console.log(`  ${"authorize(), first-sight token (cache off)".padEnd(44)} ${us(firstSight["authorize(), first-sight token (cache off)"])}`);

const { handler } = deployLambda(corpus.config);
const empty = async (event) => event.Records[0].cf.request;
const lambda = await rounds(
  {
    "empty viewer-request handler": () => empty(eventFor(live)),
    "dist/edge/lambda-edge handler": async () => {
      sink = await handler(eventFor(live));
      if (sink.status !== undefined) throw new Error(`the handler answered ${sink.status}`);
    },
  },
  10_000,
);
report(`Lambda@Edge handler in Node (event built per call in both), best of ${ROUNDS} rounds:`, lambda, "empty viewer-request handler");

// --- workerd ------------------------------------------------------------------------------------------------
const FORWARD_ONLY = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.ORIGIN + url.pathname + url.search, { method: request.method, headers: request.headers, redirect: "manual" });
  },
};
`;
// To split the Worker's cost: the decision alone (made once or ten times per request, then forwarded as the
// baseline does, its answer unused), so that (×10 − ×1) / 9 is one authorize() call inside workerd.
const DECIDE_ONLY = (times) => `import { initSync, Authorizer } from "./authz.js";
import wasm from "./authz_bg.wasm";
initSync({ module: wasm });
let authz;
export default {
  async fetch(request, env) {
    authz ??= new Authorizer(env.AUTHZ_CONFIG);
    const url = new URL(request.url);
    for (let i = 0; i < ${times}; i++) {
      const answer = authz.authorize({ method: request.method, path: url.pathname + url.search, headers: request.headers,
        sourceIp: request.headers.get("cf-connecting-ip"), secureTransport: url.protocol === "https:" });
      if (answer.status !== 200) return new Response(answer.body, { status: answer.status });
    }
    return fetch(env.ORIGIN + url.pathname + url.search, { method: request.method, headers: request.headers, redirect: "manual" });
  },
};
`;
const origin = await startOrigin();
const workerd = await startWorkerd([
  { name: "authz", config: corpus.config, origin: origin.url },
  { name: "forward-only", config: corpus.config, origin: origin.url, module: FORWARD_ONLY },
  { name: "decide-once", config: corpus.config, origin: origin.url, module: DECIDE_ONLY(1) },
  { name: "decide-ten", config: corpus.config, origin: origin.url, module: DECIDE_ONLY(10) },
]);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (port) =>
  new Promise((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port, path: live.path, headers: live.headers.flat(), setHost: false, agent }, (response) => {
      response.resume();
      response.on("end", () => (response.statusCode === 200 ? resolve() : reject(new Error(`status ${response.statusCode}`))));
    });
    request.on("error", reject);
    request.end();
  });
try {
  const served = await rounds(
    {
      "Worker forwarding without authz": () => get(workerd.ports["forward-only"]),
      "dist/edge/cloudflare Worker": () => get(workerd.ports.authz),
      "decides once, forwards as the baseline": () => get(workerd.ports["decide-once"]),
      "decides ten times, forwards as the baseline": () => get(workerd.ports["decide-ten"]),
    },
    HTTP_CALLS,
  );
  report(`workerd over HTTP on 127.0.0.1 (one connection, sequential), best of ${ROUNDS} rounds:`, served, "Worker forwarding without authz");
  const perCall = (served["decides ten times, forwards as the baseline"] - served["decides once, forwards as the baseline"]) / 9;
  console.log(`  ${"one authorize() call inside workerd".padEnd(44)} ${us(perCall)}   ((×10 − ×1) / 9)`);
} finally {
  agent.destroy();
  await workerd.stop();
  await origin.close();
}
const wasm = statSync(join(DIST, "web/authz_bg.wasm")).size;
console.log(`dist/edge/*/authz_bg.wasm: ${wasm} bytes (${gzipSync(readFileSync(join(DIST, "web/authz_bg.wasm")), { level: 9 }).length} gzipped)`);
