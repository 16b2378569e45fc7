// The stages module (dist/bench/stages.wasm, src/stages.rs) in Node's V8, the engine family Envoy runs the filter
// in: each stage's time per iteration, best of rounds, after a warm-up (Node compiles with Liftoff first, then
// TurboFan; `node --no-liftoff` compiles with TurboFan only, as Envoy does). Its inputs (configuration and header
// map) are the ones `cargo bench -p authz-host --bench request` wrote to target/bench/ last.
//   node host-tests/benches/stages-v8.mjs [stages.wasm ...]     (several modules: interleaved, same rounds)
// Process CPU time, not wall time; BENCH_ROUNDS (default 7), BENCH_STAGES (comma-separated stage numbers).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const NOW = 1_750_000_000n; // host-tests/benches/workload/mod.rs
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const NAMES = [
  "header map decoding",
  "method, path, ARN, route",
  "token cache hit (tail hash, comparison)",
  "policy evaluation",
  "whole decision, cached token",
  "decision + record (reason as JSON)",
  "new token: parse, signature, claims",
  "RS256 signature alone",
  "new token, unknown kid (issuer + key lookup)",
];
const STAGES = (process.env.BENCH_STAGES ?? NAMES.map((_, i) => i).join(",")).split(",").map(Number);
const config = readFileSync(join(ROOT, "target/bench/stages-config.json"));
const map = readFileSync(join(ROOT, "target/bench/stages-map.bin"));
const paths = process.argv.length > 2 ? process.argv.slice(2) : [join(ROOT, "dist/bench/stages.wasm")];

function instantiate(path) {
  const module = new WebAssembly.Module(readFileSync(path));
  const { exports } = new WebAssembly.Instance(module, {});
  const place = (bytes) => {
    const at = exports.stages_alloc(bytes.length);
    new Uint8Array(exports.memory.buffer, at, bytes.length).set(bytes);
    return at;
  };
  const status = exports.stages_setup(place(config), config.length, place(map), map.length, NOW);
  if (status !== 0) throw new Error(`${path}: the stages module refused its setup (${status})`);
  return exports;
}

const cpu = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000; // ns
};
const iterationsOf = (stage) => (stage === 6 || stage === 7 ? 200 : 20_000);

const modules = paths.map((path) => ({ path, exports: instantiate(path), best: new Map() }));
for (const { exports } of modules) {
  for (const stage of STAGES) {
    if (exports.stages_run(stage, 1) === 0) throw new Error(`stage ${stage} failed`);
    exports.stages_run(stage, iterationsOf(stage) * 5); // warm-up: tier up to TurboFan
  }
}
for (let round = 0; round < ROUNDS; round++) {
  for (const stage of STAGES) {
    for (const entry of modules) {
      const iterations = iterationsOf(stage);
      const began = cpu();
      entry.exports.stages_run(stage, iterations);
      const ns = (cpu() - began) / iterations;
      entry.best.set(stage, Math.min(entry.best.get(stage) ?? Infinity, ns));
    }
  }
}
console.log(`V8 ${process.versions.v8} (node ${process.version}, flags: ${process.execArgv.join(" ") || "none"}), best of ${ROUNDS} rounds, µs`);
for (const [index, { path }] of modules.entries()) console.log(`  [${index}] ${path}`);
console.log(`${"stage".padEnd(46)}${modules.map((_, i) => `[${i}]`.padStart(10)).join("")}`);
for (const stage of STAGES) {
  const cells = modules.map(({ best }) => (best.get(stage) / 1000).toFixed(3).padStart(10)).join("");
  console.log(`${NAMES[stage].padEnd(46)}${cells}`);
}
