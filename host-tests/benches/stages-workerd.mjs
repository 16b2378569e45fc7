// The stages module (dist/bench/stages.wasm, src/stages.rs) in workerd (edge/node_modules, `npm ci` in edge/):
// a V8 of Envoy 1.40's generation (Node 20's, in stages-v8.mjs, is three years older and compiles the RSA loops
// differently). workerd stops its clocks while a request runs, so each figure is wall time seen by this client: a
// request running a stage `BENCH_ITERATIONS` times minus one running it once, per iteration, best of rounds,
// modules interleaved. Inputs as for stages-v8.mjs (target/bench/, written by the request benchmark).
//   node host-tests/benches/stages-workerd.mjs [stages.wasm ...]
// BENCH_ROUNDS (default 9), BENCH_STAGES (default "6,7": a new token's verification, the RS256 check alone).
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200);
const STAGES = (process.env.BENCH_STAGES ?? "6,7").split(",").map(Number);
const paths = process.argv.length > 2 ? process.argv.slice(2) : [join(ROOT, "dist/bench/stages.wasm")];

const port = await new Promise((resolve) => {
  const server = net.createServer().listen(0, "127.0.0.1", () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});
const dir = mkdtempSync(join(tmpdir(), "authz-stages-workerd-"));
copyFileSync(join(ROOT, "target/bench/stages-config.json"), join(dir, "config.bin"));
copyFileSync(join(ROOT, "target/bench/stages-map.bin"), join(dir, "map.bin"));
paths.forEach((path, index) => copyFileSync(path, join(dir, `m${index}.wasm`)));
const names = paths.map((_, index) => `m${index}`);
writeFileSync(
  join(dir, "worker.mjs"),
  `${names.map((name) => `import ${name} from "./${name}.wasm";`).join("\n")}
import config from "./config.bin";
import map from "./map.bin";
function instantiate(module) {
  const { exports } = new WebAssembly.Instance(module, {});
  const place = (buffer) => {
    const bytes = new Uint8Array(buffer);
    const at = exports.stages_alloc(bytes.length);
    new Uint8Array(exports.memory.buffer, at, bytes.length).set(bytes);
    return [at, bytes.length];
  };
  const [c, cl] = place(config), [m, ml] = place(map);
  if (exports.stages_setup(c, cl, m, ml, 1750000000n) !== 0) throw new Error("the stages module refused its setup");
  return exports;
}
let instances;
export default {
  async fetch(request) {
    instances ??= [${names.join(", ")}].map(instantiate);
    const q = new URL(request.url).searchParams;
    return new Response(String(instances[Number(q.get("m"))].stages_run(Number(q.get("stage")), Number(q.get("n")))));
  },
};
`,
);
writeFileSync(
  join(dir, "config.capnp"),
  `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .w) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);
const w :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
${names.map((name) => `    (name = "${name}.wasm", wasm = embed "${name}.wasm"),`).join("\n")}
    (name = "config.bin", data = embed "config.bin"),
    (name = "map.bin", data = embed "map.bin"),
  ],
  compatibilityDate = "2025-01-01",
);
`,
);
const workerd = spawn(join(ROOT, "edge/node_modules/.bin/workerd"), ["serve", join(dir, "config.capnp")], { stdio: "inherit" });
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (query) =>
  new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: `/?${query}`, agent }, (response) => {
        let body = "";
        response.on("data", (chunk) => (body += chunk));
        response.on("end", () => (response.statusCode === 200 && body !== "0" ? resolve(body) : reject(new Error(`${query}: ${response.statusCode} ${body}`))));
      })
      .on("error", reject);
  });
try {
  for (let attempt = 0; ; attempt++) {
    try {
      await get("m=0&stage=7&n=1");
      break;
    } catch (error) {
      if (attempt > 100) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  for (const [m] of paths.entries()) for (const stage of STAGES) await get(`m=${m}&stage=${stage}&n=${ITERATIONS * 3}`); // tier up
  const best = new Map();
  for (let round = 0; round < ROUNDS; round++) {
    for (const stage of STAGES) {
      for (const [m] of paths.entries()) {
        const t0 = process.hrtime.bigint();
        await get(`m=${m}&stage=${stage}&n=${ITERATIONS}`);
        const t1 = process.hrtime.bigint();
        await get(`m=${m}&stage=${stage}&n=1`);
        const t2 = process.hrtime.bigint();
        const us = (Number(t1 - t0) - Number(t2 - t1)) / 1000 / (ITERATIONS - 1);
        best.set(`${stage}/${m}`, Math.min(best.get(`${stage}/${m}`) ?? Infinity, us));
      }
    }
  }
  console.log(`workerd (edge/node_modules), best of ${ROUNDS} rounds, wall µs per iteration`);
  for (const [index, path] of paths.entries()) console.log(`  [${index}] ${path}`);
  for (const stage of STAGES) {
    console.log(`stage ${stage}`.padEnd(10) + paths.map((_, m) => best.get(`${stage}/${m}`).toFixed(2).padStart(10)).join(""));
  }
} finally {
  workerd.kill();
  rmSync(dir, { recursive: true, force: true });
}
