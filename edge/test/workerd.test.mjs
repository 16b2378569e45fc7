// The Worker (dist/edge/cloudflare) in real workerd on 127.0.0.1, before a local origin that echoes what reached
// it: allow, 401, 403, 400 and 414 over HTTP, spoofed identity headers stripped and the path rewritten as the
// origin sees them, the bindings, and every scenario corpus compared with the package's answer.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { againstExpectation, essentials, exportCorpora, sameReason } from "./support/corpora.mjs";
import { accessClaims, config, nowSeconds, rsaKey, sign } from "./support/mint.mjs";
import { nodePackage } from "./support/paths.mjs";
import { freePort, send, startOrigin, startWorkerd } from "./support/workerd.mjs";

const { Authorizer } = nodePackage();
const INTERNAL_ERROR_BODY = '{"message":"Internal server error"}';

describe("the Worker in workerd", () => {
  const key = rsaKey();
  const staff = () => sign(key, accessClaims({ now: nowSeconds(), groups: ["staff"] }));
  let origin;
  let workerd;
  const warned = config(key);
  warned.policies.groups.staff.Statement.push({ Effect: "Allow", Action: "execute-api:Invoke", Resource: "arn:aws:execute-api:eu-west-1:123456789012:edgeapi001/prod/GET/x" });

  before(async () => {
    origin = await startOrigin();
    const valid = JSON.stringify(config(key));
    workerd = await startWorkerd([
      { name: "main", config: valid, origin: origin.url },
      { name: "own", config: valid, origin: "" },
      { name: "prefixed", config: valid, origin: `${origin.url}/base/` },
      { name: "broken", config: JSON.stringify({ ...config(key), api: { ...config(key).api, account_id: "1" } }), origin: origin.url },
      { name: "warned", config: JSON.stringify(warned), origin: origin.url },
      { name: "unreachable", config: valid, origin: `http://127.0.0.1:${await freePort()}` },
      { name: "not-http", config: valid, origin: "ftp://127.0.0.1/" },
    ]);
  });
  after(async () => {
    await workerd?.stop();
    await origin?.close();
  });

  const host = ["host", "api.example.com"];
  const bearer = (token) => ["authorization", `Bearer ${token}`];
  const main = (request) => send(workerd.ports.main, request);

  /** Sends and requires that the origin was not reached. */
  async function refused(request, service = "main") {
    const before = origin.seen.length;
    const response = await send(workerd.ports[service], request);
    assert.equal(origin.seen.length, before, `${request.target} reached the origin`);
    assert.notEqual(response.headers["x-origin"], "echo");
    return response;
  }

  test("an allowed request reaches the origin with identity headers set, client copies gone, the path rewritten", async () => {
    const response = await main({
      method: "GET",
      target: "/pets/./1//photos/%70ic?size=large&next=%2Fadmin",
      headers: [host, bearer(staff()), ["x-authz-sub", "root"], ["X_Authz_Groups", "admins"], ["x-authz-username", "root"], ["x-trace", "t1"]],
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers["x-origin"], "echo");
    const seen = JSON.parse(response.body);
    assert.equal(seen.target, "/pets/1/photos/pic?size=large&next=%2Fadmin");
    const values = (name) => seen.headers.filter(([header]) => header === name).map(([, value]) => value);
    assert.deepEqual(values("x-authz-sub"), ["sub-alice"]);
    assert.deepEqual(values("x-authz-username"), ["alice"]);
    assert.deepEqual(values("x-authz-groups"), ["staff"]);
    assert.deepEqual(values("x-authz-client-id"), ["edge-client"]);
    assert.deepEqual(values("x_authz_groups"), []);
    assert.deepEqual(values("x-trace"), ["t1"]);
  });

  test("a body goes through with the method", async () => {
    const response = await main({ method: "POST", target: "/pets/1", headers: [host, bearer(staff()), ["content-type", "text/plain"]], body: "hello" });
    const seen = JSON.parse(response.body);
    assert.deepEqual([seen.method, seen.target, seen.body], ["POST", "/pets/1", "hello"]);
  });

  test("denials are answered by the Worker with API Gateway's status, body and headers", async () => {
    const cases = [
      [{ target: "/pets/1", headers: [host] }, 401, '{"message":"Unauthorized"}', 'Bearer realm="edgeapi001/prod"'],
      [{ target: "/pets/1", headers: [host, bearer("a.b.c")] }, 401, '{"message":"Unauthorized"}', 'Bearer realm="edgeapi001/prod", error="invalid_token"'],
      [{ target: "/admin/users", headers: [host, bearer(staff())] }, 403, '{"Message":"User is not authorized to access this resource with an explicit deny"}'],
      [{ target: "/office", headers: [host, bearer(staff())] }, 403, '{"Message":"User is not authorized to access this resource"}'],
      [{ target: "/nowhere", headers: [host, bearer(staff())] }, 403, '{"message":"Missing Authentication Token"}'],
      [{ target: "/pets/..%2Fadmin", headers: [host, bearer(staff())] }, 400, '{"message":"Bad Request"}'],
      [{ target: `/pets/${"a".repeat(1700)}`, headers: [host, bearer(staff())] }, 414, '{"message":"Request-URI Too Long"}'],
      [{ method: "PROPFIND", target: "/pets/1", headers: [host, bearer(staff())] }, 400, '{"message":"Bad Request"}'],
    ];
    for (const [request, status, body, challenge] of cases) {
      const response = await refused(request);
      assert.equal(response.status, status, request.target.slice(0, 40));
      assert.equal(response.body, body);
      assert.equal(response.headers["content-type"], "application/json");
      assert.equal(response.headers["www-authenticate"], challenge);
    }
  });

  test("CF-Connecting-IP is aws:SourceIp", async () => {
    const office = (ip) => main({ target: "/office", headers: [host, bearer(staff()), ...(ip ? [["cf-connecting-ip", ip]] : [])] });
    assert.equal((await office("203.0.113.9")).status, 200);
    assert.equal((await office("198.51.100.9")).status, 403);
    assert.equal((await office(undefined)).status, 403);
  });

  test("the URL's scheme is aws:SecureTransport", async () => {
    const tls = (proto) => main({ target: "/tls-only", headers: [host, bearer(staff()), ["x-forwarded-proto", proto]] });
    assert.equal((await tls("https")).status, 200);
    assert.equal((await tls("http")).status, 403);
  });

  test("without ORIGIN the request goes to its own URL; with a base path, below it", async () => {
    const own = await send(workerd.ports.own, { target: "/pets/a/../1", headers: [["host", origin.url.slice("http://".length)], bearer(staff())] });
    assert.equal(own.headers["x-origin"], "echo");
    assert.equal(JSON.parse(own.body).target, "/pets/1");
    const prefixed = await send(workerd.ports.prefixed, { target: "/pets/1?x=1", headers: [host, bearer(staff())] });
    assert.equal(JSON.parse(prefixed.body).target, "/base/pets/1?x=1");
  });

  test("a refused configuration answers 500 to every request and logs why", async () => {
    for (const target of ["/health", "/pets/1"]) {
      const response = await refused({ target, headers: [host, bearer(staff())] }, "broken");
      assert.equal(response.status, 500);
      assert.equal(response.body, INTERNAL_ERROR_BODY);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.match(workerd.stderr(), /configuration refused: invalid configuration: api\.account_id: /);
  });

  test("an origin that does not answer gets 502, one that is not an http(s) URL 500; public routes too", async () => {
    for (const [service, status] of [["unreachable", 502], ["not-http", 500]]) {
      const response = await refused({ target: "/health", headers: [host] }, service);
      assert.deepEqual([response.status, response.body], [status, INTERNAL_ERROR_BODY]);
    }
  });

  test("the configuration is compiled once per isolate: its warning is logged once", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await send(workerd.ports.warned, { target: "/pets/1", headers: [host, bearer(staff())] })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const warnings = workerd.stderr().split("\n").filter((line) => line.includes("configuration warning: policies.groups.staff.Statement[4]"));
    assert.equal(warnings.length, 1, workerd.stderr());
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Every corpus over HTTP. workerd reads the real clock, so the corpora are minted for a second a little ahead;
// cases whose answer depends on the exact second (expiry and skew boundaries) are sent in that second.

/**
 * The request as the Worker receives it: the URL parser's reading of origin + target (dot segments resolved, `\\`
 * read as `/`), and repeated headers joined with ", " as fetch's Headers does. `reshaped` says whether that
 * differs from what the client sent, so that the corpus's own expectation may not apply.
 */
function asDelivered(request, at) {
  const url = new URL(`http://localhost${request.path}`);
  const headers = [...new Headers(request.headers)];
  const names = request.headers.map(([name]) => name.toLowerCase());
  const reshaped = url.pathname + url.search !== request.path || new Set(names).size !== names.length;
  return { request: { ...request, path: url.pathname + url.search, headers, now: at }, reshaped };
}

function sendable(request) {
  const headers = [...request.headers];
  if (request.sourceIp !== undefined) headers.push(["cf-connecting-ip", request.sourceIp]);
  headers.push(["x-forwarded-proto", request.secureTransport === false ? "http" : "https"]);
  return { method: request.method, target: request.path, headers };
}

async function runCorpora(margin) {
  const mintedFor = nowSeconds() + margin;
  const corpora = exportCorpora({ now: mintedFor });
  const origin = await startOrigin();
  let workerd;
  try {
    workerd = await startWorkerd(corpora.map((corpus, i) => ({ name: `corpus${i}`, config: corpus.config, origin: origin.url })));
    const offsets = [-margin - 2, -2, -1, 1, 2, 3, 5, 10, 20, 40, 60, 90];
    const runs = corpora.map((corpus, index) => {
      const authz = new Authorizer(corpus.config);
      const onTime = (request) => {
        const at = (now) => authz.authorize(asDelivered(request, now).request).status;
        return offsets.some((offset) => at(mintedFor + offset) !== at(mintedFor));
      };
      return { corpus, index, authz, cases: corpus.cases.map((item) => ({ ...item, onTime: onTime(item.request) })) };
    });
    const failures = [];
    let reshaped = 0;
    let sent = 0;
    for (const phase of [false, true]) {
      if (phase) {
        if (nowSeconds() > mintedFor) return { missed: `the other cases took until ${nowSeconds()}, after ${mintedFor}` };
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, mintedFor * 1000 + 5 - Date.now())));
      }
      for (const { corpus, index, authz, cases } of runs) {
        for (const { name, request, expect, answers, onTime } of cases.filter((item) => item.onTime === phase)) {
          const label = `${corpus.file.replace(/^.*\//, "")}: ${name}`;
          const { request: delivered, reshaped: changed } = asDelivered(request, mintedFor);
          const wanted = authz.authorize(delivered);
          const before = origin.seen.length;
          const sentAt = nowSeconds();
          const response = await send(workerd.ports[`corpus${index}`], sendable(request));
          sent++;
          if (onTime && (sentAt !== mintedFor || nowSeconds() !== mintedFor)) return { missed: `\`${label}\` was not sent in second ${mintedFor}` };
          if (!changed) {
            for (const problem of againstExpectation(expect, wanted)) failures.push(`${label}: the package: ${problem}`);
            if (JSON.stringify(essentials(wanted)) !== JSON.stringify(essentials(answers.native))) failures.push(`${label}: the package and the native core disagree`);
            if (!sameReason(wanted.reason, answers.native.reason)) failures.push(`${label}: reason \`${wanted.reason}\` vs native \`${answers.native.reason}\``);
          } else {
            reshaped++;
          }
          const reached = origin.seen.length > before;
          if (wanted.status !== 200) {
            if (reached) failures.push(`${label}: a refused request reached the origin`);
            if (response.status !== wanted.status) failures.push(`${label}: status ${response.status} instead of ${wanted.status}`);
            const body = request.method === "HEAD" ? "" : wanted.body;
            if (response.body !== body) failures.push(`${label}: body ${response.body.slice(0, 100)} instead of ${body}`);
            if (response.headers["www-authenticate"] !== wanted.headers["www-authenticate"]) failures.push(`${label}: www-authenticate ${response.headers["www-authenticate"]}`);
            continue;
          }
          if (!reached || response.status !== 200) {
            failures.push(`${label}: status ${response.status} without reaching the origin: ${response.body.slice(0, 200)}`);
            continue;
          }
          const seen = origin.seen.at(-1);
          const target = wanted.rewritePath ?? delivered.path;
          if (seen.target !== target) failures.push(`${label}: the origin saw \`${seen.target}\` instead of \`${target}\``);
          for (const [header, value] of Object.entries(wanted.headers)) {
            const got = seen.headers.filter(([name]) => name === header).map(([, v]) => v);
            if (JSON.stringify(got) !== JSON.stringify([value])) failures.push(`${label}: the origin saw ${header} = ${JSON.stringify(got)}`);
          }
          for (const header of wanted.removeHeaders) {
            if (!Object.hasOwn(wanted.headers, header) && seen.headers.some(([name]) => name === header)) failures.push(`${label}: the origin saw the client's ${header}`);
          }
        }
      }
    }
    const onTimeCases = runs.reduce((total, run) => total + run.cases.filter((item) => item.onTime).length, 0);
    return { failures, sent, reshaped, onTimeCases, startup: workerd.startup };
  } finally {
    await workerd?.stop();
    await origin.close();
  }
}

test("every scenario corpus through the Worker in workerd", async (t) => {
  let result;
  for (const margin of [20, 40, 80]) {
    result = await runCorpora(margin);
    if (!result.missed) break;
    t.diagnostic(`missed the minted second (${result.missed}); again with a margin of ${margin * 2} s`);
  }
  assert.equal(result.missed, undefined, result.missed);
  t.diagnostic(`${result.sent} cases over HTTP (${result.onTimeCases} in their minted second; ${result.reshaped} reshaped by the URL parser or fetch's header join, checked against the package on what the Worker received); workerd ready in ${result.startup} ms`);
  assert.ok(result.sent >= 200, `only ${result.sent} cases`);
  assert.deepEqual(result.failures, []);
});
