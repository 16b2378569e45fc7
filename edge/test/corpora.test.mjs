// Parity: every scenario corpus through the native core and the proxy-wasm filter (both via `authz scenario
// --export`), the Node package and the Lambda@Edge handler; all four must give the corpus's answer and the same
// status, decision, identity headers and rewritten path. (The Worker in real workerd: workerd.test.mjs.)
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { eventFor, deployLambda, values } from "./support/cloudfront.mjs";
import { againstExpectation, corpusFiles, essentials, exportCorpora, sameReason } from "./support/corpora.mjs";
import { AUTHZ_CLI, NODE_PACKAGE, nodePackage } from "./support/paths.mjs";

const corpora = exportCorpora();
const { Authorizer } = nodePackage();

test("the export covers every corpus and enough cases", () => {
  assert.equal(corpora.length, corpusFiles().length);
  const cases = corpora.reduce((total, corpus) => total + corpus.cases.length, 0);
  assert.ok(cases >= 200, `only ${cases} cases`);
});

for (const corpus of corpora) {
  describe(corpus.file.replace(/^.*\//, "policies/scenarios/"), () => {
    test("native core, filter and Node package agree with the corpus and with each other", () => {
      const authz = new Authorizer(corpus.config);
      const failures = [];
      for (const { name, request, expect, answers } of corpus.cases) {
        const node = authz.authorize(request);
        const engines = { native: answers.native, filter: answers.filter, node };
        for (const [engine, answer] of Object.entries(engines)) {
          for (const problem of againstExpectation(expect, answer)) failures.push(`${name}: ${engine}: ${problem}`);
        }
        for (const engine of ["filter", "node"]) {
          try {
            assert.deepEqual(essentials(engines[engine]), essentials(answers.native));
          } catch {
            failures.push(`${name}: ${engine} ${JSON.stringify(essentials(engines[engine]))} but native ${JSON.stringify(essentials(answers.native))}`);
          }
        }
        if (!sameReason(node.reason, answers.native.reason)) failures.push(`${name}: node reason \`${node.reason}\`, native \`${answers.native.reason}\``);
        // What the Node package adds for hosts to apply themselves.
        if (node.status === 200) {
          if (node.body !== null) failures.push(`${name}: a body on allow`);
        } else if (node.body === null || node.removeHeaders.length > 0 || node.rewritePath !== null) {
          failures.push(`${name}: a denial with ${JSON.stringify(node)}`);
        }
      }
      assert.deepEqual(failures, []);
    });

    describe("Lambda@Edge viewer-request handler", () => {
      let handler;
      const realNow = Date.now;
      before(() => {
        handler = deployLambda(corpus.config).handler;
        // The handler reads the clock; the corpus was minted for its own time.
        Date.now = () => corpus.now * 1000;
      });
      after(() => {
        Date.now = realNow;
      });

      test("every case decided as natively, applied in CloudFront's shape", async () => {
        const failures = [];
        for (const { name, request, answers } of corpus.cases) {
          const native = answers.native;
          const result = await handler(eventFor(request));
          if (native.status !== 200) {
            const wanted = {
              status: String(native.status),
              headers: Object.fromEntries(Object.entries(native.headers).map(([k, v]) => [k, [{ key: k, value: v }]])),
            };
            if (result.status !== wanted.status || JSON.stringify(result.headers) !== JSON.stringify(wanted.headers)) {
              failures.push(`${name}: answered ${JSON.stringify(result).slice(0, 300)} instead of ${native.status}`);
            } else if (typeof result.body !== "string" || result.body.length === 0 || !result.statusDescription) {
              failures.push(`${name}: reply without body or description`);
            }
            continue;
          }
          if (result.status !== undefined || result.uri === undefined) {
            failures.push(`${name}: not forwarded: ${JSON.stringify(result).slice(0, 300)}`);
            continue;
          }
          const target = native.rewrite_path ?? request.path;
          const sent = result.uri + (result.querystring ? `?${result.querystring}` : "");
          if (sent !== target) failures.push(`${name}: forwarded \`${sent}\` instead of \`${target}\``);
          // The package's own answer names the client copies to remove (it equals the native one, tested above).
          const removed = new Authorizer(corpus.config).authorize(request).removeHeaders;
          for (const header of removed) {
            if (!Object.hasOwn(native.headers, header) && result.headers[header] !== undefined) {
              failures.push(`${name}: forwarded the client's \`${header}\``);
            }
          }
          for (const [header, entries] of Object.entries(result.headers)) {
            if (Object.hasOwn(native.headers, header) && (entries.length !== 1 || entries[0].value !== native.headers[header])) {
              failures.push(`${name}: ${header} = ${JSON.stringify(entries)}`);
            }
          }
          for (const [header, value] of Object.entries(native.headers)) {
            if (values(result.headers, header.toLowerCase())[0] !== value) failures.push(`${name}: ${header} not set`);
          }
        }
        assert.deepEqual(failures, []);
      });
    });
  });
}

test("`authz scenario --node` runs every corpus through the package, as users can", () => {
  const out = execFileSync(AUTHZ_CLI, ["scenario", "--node", NODE_PACKAGE, ...corpusFiles()], { encoding: "utf8" });
  const summaries = out.split("\n").filter((line) => / cases, \d+ failed$/.test(line));
  assert.equal(summaries.length, corpusFiles().length, out);
  for (const line of summaries) assert.match(line, / 0 failed$/);
});

test("`authz check --node` answers every corpus request as `authz check` does", () => {
  const failures = [];
  for (const corpus of corpora) {
    const config = join(mkdtempSync(join(tmpdir(), "authz-check-node-")), "config.json");
    writeFileSync(config, corpus.config);
    // The check input of each case: the JS API's request in the CLI's field names.
    const input = corpus.cases
      .map(({ request }) => JSON.stringify({ method: request.method, path: request.path, headers: request.headers, source_ip: request.sourceIp, secure_transport: request.secureTransport, now: request.now }))
      .join("\n");
    const run = (extra) => execFileSync(AUTHZ_CLI, ["check", "--config", config, ...extra], { input, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }).trim().split("\n");
    const native = run([]);
    const node = run(["--node", NODE_PACKAGE]);
    assert.equal(node.length, corpus.cases.length);
    corpus.cases.forEach(({ name }, index) => {
      const [a, b] = [JSON.parse(native[index]), JSON.parse(node[index])];
      if (JSON.stringify(essentials(a)) !== JSON.stringify(essentials(b)) || !sameReason(a.reason, b.reason)) {
        failures.push(`${name}: native ${native[index].slice(0, 200)} but node ${node[index].slice(0, 200)}`);
      }
    });
  }
  assert.deepEqual(failures, []);
});
