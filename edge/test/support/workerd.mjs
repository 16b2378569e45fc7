// Real workerd (npm `workerd`) serving the built Worker (dist/edge/cloudflare) on 127.0.0.1, in front of a local
// origin that echoes what reached it, and a raw HTTP client. Everything binds to 127.0.0.1 and is stopped by the
// tests that started it.
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLOUDFLARE, need, workerdBinary } from "./paths.mjs";

/** A free TCP port on 127.0.0.1 (closed again at once, for workerd to bind). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The origin: answers every request 200 with what it received, and keeps a log of them. */
export async function startOrigin() {
  const seen = [];
  const server = http.createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const pairs = [];
      for (let i = 0; i < request.rawHeaders.length; i += 2) pairs.push([request.rawHeaders[i].toLowerCase(), request.rawHeaders[i + 1]]);
      const record = { method: request.method, target: request.url, headers: pairs, body: Buffer.concat(chunks).toString() };
      seen.push(record);
      response.writeHead(200, { "content-type": "application/json", "x-origin": "echo" });
      response.end(JSON.stringify(record));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, seen, close: () => new Promise((resolve) => server.close(resolve)) };
}

const capnpText = (text) => JSON.stringify(text);

/**
 * Starts workerd with one socket per service. `services` is `[{name, config (text), origin (string or ""),
 * module?}]`: each is the Worker as built (or, with `module`, that source as its main module instead) with its
 * own bindings, in its own isolate. Resolves to `{ports: {name: port}, startup, stderr(), stop()}` once every
 * socket accepts connections.
 */
export async function startWorkerd(services) {
  const dir = mkdtempSync(join(tmpdir(), "authz-workerd-"));
  // `embed` paths are read relative to the config file: the Worker's files go beside it.
  for (const file of ["worker.mjs", "authz.js", "authz_bg.wasm"]) copyFileSync(need(join(CLOUDFLARE, file), "make edge"), join(dir, file));
  const ports = {};
  for (const service of services) ports[service.name] = await freePort();
  const workers = services.map((service, index) => {
    writeFileSync(join(dir, `config-${index}.json`), service.config);
    let main = "worker.mjs";
    if (service.module !== undefined) {
      main = `main-${index}.mjs`;
      writeFileSync(join(dir, main), service.module);
    }
    return `const worker${index} :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed ${capnpText(main)}),
    (name = "authz.js", esModule = embed "authz.js"),
    (name = "authz_bg.wasm", wasm = embed "authz_bg.wasm"),
  ],
  bindings = [
    (name = "AUTHZ_CONFIG", text = embed "config-${index}.json"),
    (name = "ORIGIN", text = ${capnpText(service.origin)}),
  ],
  compatibilityDate = "2026-11-01",
  globalOutbound = "internet",
);`;
  });
  const capnp = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
${services.map((service, index) => `    (name = ${capnpText(service.name)}, worker = .worker${index}),`).join("\n")}
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [
${services
  .map(
    (service) =>
      `    (name = ${capnpText(`s-${service.name}`)}, address = "127.0.0.1:${ports[service.name]}", service = ${capnpText(service.name)},
      http = (forwardedProtoHeader = "x-forwarded-proto")),`,
  )
  .join("\n")}
  ],
);

${workers.join("\n\n")}
`;
  writeFileSync(join(dir, "config.capnp"), capnp);
  const child = spawn(workerdBinary(), ["serve", join(dir, "config.capnp"), "--verbose"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stdout.on("data", (chunk) => (stderr += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const stop = async () => {
    // Our own child, by its handle.
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const started = Date.now();
  try {
    for (const port of Object.values(ports)) {
      while (!(await answers(port))) {
        if (child.exitCode !== null) throw new Error(`workerd exited (${child.exitCode}):\n${stderr}`);
        if (Date.now() - started > 30_000) throw new Error(`workerd did not listen on ${port} within 30 s:\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { ports, startup: Date.now() - started, stderr: () => stderr, stop };
}

function answers(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

/**
 * Sends one request exactly as given (target and header pairs untouched, no Host added) and resolves to
 * `{status, headers (lower-case name → value), body}`.
 */
export function send(port, { method = "GET", target, headers = [], body }) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: "127.0.0.1", port, method, path: target, headers: headers.flat(), setHost: false, agent: false },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks).toString() }));
        response.on("error", reject);
      },
    );
    request.setTimeout(20_000, () => request.destroy(new Error(`no answer to ${method} ${target.slice(0, 80)}`)));
    request.on("error", reject);
    request.end(body);
  });
}
