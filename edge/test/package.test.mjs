// The JS API of the Node package (dist/edge/nodejs): construction, the request forms it takes, what it reads from
// each field, and refusals. Keys and tokens are made here with node:crypto, apart from the Rust minting.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { accessClaims, config, nowSeconds, rsaKey, sign } from "./support/mint.mjs";
import { DIST, ROOT, nodePackage } from "./support/paths.mjs";

const { Authorizer } = nodePackage();
const key = rsaKey();
const NOW = 1_763_800_000;
const staffToken = sign(key, accessClaims({ now: NOW, groups: ["staff"] }));
const authz = new Authorizer(JSON.stringify(config(key)));

function request(overrides = {}) {
  return { method: "GET", path: "/pets/1", headers: { host: "api.example.com", authorization: `Bearer ${staffToken}` }, now: NOW, ...overrides };
}

describe("new Authorizer(configJson)", () => {
  test("a bad field throws an Error naming its path, in the message and as `path`", () => {
    const bad = config(key);
    bad.issuers[0].jwks.keys[0] = { ...key.jwk, n: "AQAB" };
    assert.throws(() => new Authorizer(JSON.stringify(bad)), (err) => {
      assert.ok(err instanceof Error);
      assert.match(err.path, /^issuers\[0\]\.jwks\.keys\[0\]/);
      assert.ok(err.message.startsWith(`invalid configuration: ${err.path}: `), err.message);
      return true;
    });
    assert.throws(() => new Authorizer(JSON.stringify({ ...config(key), clock_skew: 5 })), /invalid configuration: .*clock_skew/);
    assert.throws(() => new Authorizer("{"), /^Error: invalid configuration: /);
  });

  test("only JSON text is a configuration", () => {
    for (const value of [config(key), undefined, null, 42, Buffer.from(JSON.stringify(config(key)))]) {
      assert.throws(() => new Authorizer(value), /^Error: the configuration must be JSON text, not /);
    }
  });

  test("warnings name statements that can never match", () => {
    const cfg = config(key);
    cfg.policies.groups.staff.Statement.push({ Effect: "Allow", Action: "execute-api:Invoke", Resource: "arn:aws:execute-api:eu-west-1:123456789012:edgeapi001/prod/GET/x" });
    const warnings = new Authorizer(JSON.stringify(cfg)).warnings();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /^policies\.groups\.staff\.Statement\[4\]\.Resource: .*region/);
    assert.deepEqual(authz.warnings(), []);
  });
});

describe("authorize(request)", () => {
  test("an allow: identity headers, client copies to remove, the normalised target", () => {
    const answer = authz.authorize(request({ path: "/pets/./1//x?q=%2F", headers: { authorization: `Bearer ${staffToken}`, "X-Authz-Sub": "root", x_authz_groups: "admins" } }));
    assert.deepEqual(answer, {
      status: 200,
      decision: "allow",
      code: "allowed",
      reason: "`sub-alice` allowed by groups.staff[0].Statement[0] (Pets)",
      headers: {
        "x-authz-client-id": "edge-client",
        "x-authz-groups": "staff",
        "x-authz-issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EdgeTest",
        "x-authz-scopes": "aws.cognito.signin.user.admin",
        "x-authz-sub": "sub-alice",
        "x-authz-username": "alice",
      },
      body: null,
      rewritePath: "/pets/1/x?q=%2F",
      removeHeaders: ["x-authz-sub", "x_authz_groups"],
    });
    assert.equal(authz.authorize(request()).rewritePath, null);
  });

  test("denials carry API Gateway's status, body and headers", () => {
    const cases = [
      [{ headers: {} }, 401, "unauthorized", '{"message":"Unauthorized"}', 'Bearer realm="edgeapi001/prod"'],
      [{ path: "/admin/x" }, 403, "deny", '{"Message":"User is not authorized to access this resource with an explicit deny"}'],
      [{ path: "/pets" }, 403, "deny", '{"message":"Missing Authentication Token"}'],
      [{ path: "/pets/%2e%2e%2fadmin" }, 400, "bad_request", '{"message":"Bad Request"}'],
      [{ path: `/pets/${"a".repeat(1600)}` }, 414, "bad_request", '{"message":"Request-URI Too Long"}'],
      [{ method: "TRACE" }, 400, "bad_request", '{"message":"Bad Request"}'],
    ];
    for (const [overrides, status, decision, body, challenge] of cases) {
      const answer = authz.authorize(request(overrides));
      assert.deepEqual(
        { status: answer.status, decision: answer.decision, body: answer.body, rewritePath: answer.rewritePath, removeHeaders: answer.removeHeaders },
        { status, decision, body, rewritePath: null, removeHeaders: [] },
        JSON.stringify(overrides).slice(0, 80),
      );
      const headers = { "content-type": "application/json", ...(challenge ? { "www-authenticate": challenge } : {}) };
      assert.deepEqual(answer.headers, headers);
    }
  });

  test("headers as an object, lists, pairs, a Map or a Headers decide alike", () => {
    const forms = [
      { Authorization: `Bearer ${staffToken}`, "x-authz-sub": "root" },
      { authorization: [`Bearer ${staffToken}`], "X-AUTHZ-SUB": ["root"] },
      [["authorization", `Bearer ${staffToken}`], ["x-authz-sub", "root"]],
      new Map([["authorization", `Bearer ${staffToken}`], ["x-authz-sub", "root"]]),
      new Headers({ authorization: `Bearer ${staffToken}`, "x-authz-sub": "root" }),
    ];
    const answers = forms.map((headers) => authz.authorize(request({ headers })));
    for (const answer of answers) {
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.headers, answers[0].headers);
      assert.equal(answer.removeHeaders.length, 1);
      assert.equal(answer.removeHeaders[0], "x-authz-sub");
    }
  });

  test("a repeated header stays repeated: two authorization headers are refused", () => {
    for (const headers of [{ authorization: [`Bearer ${staffToken}`, `Bearer ${staffToken}`] }, [["authorization", `Bearer ${staffToken}`], ["Authorization", `Bearer ${staffToken}`]]]) {
      const answer = authz.authorize(request({ headers }));
      assert.equal(answer.status, 401);
      assert.equal(answer.reason, "more than one authorization header");
    }
  });

  test("without `now` the clock decides", () => {
    const now = nowSeconds();
    const fresh = sign(key, accessClaims({ now, groups: ["staff"] }));
    const stale = sign(key, accessClaims({ now: now - 7200, groups: ["staff"] }));
    const at = (token, extra = {}) => authz.authorize({ method: "GET", path: "/pets/1", headers: { authorization: `Bearer ${token}` }, ...extra });
    assert.equal(at(fresh).status, 200);
    assert.equal(at(stale).status, 401);
    assert.match(at(stale).reason, /expired/);
    assert.equal(at(stale, { now: now - 7000 }).status, 200);
    assert.equal(at(fresh, { now: null }).status, 200);
  });

  test("sourceIp is aws:SourceIp; absent, no address matches", () => {
    const office = (sourceIp) => authz.authorize(request({ path: "/office", ...(sourceIp === undefined ? {} : { sourceIp }) })).status;
    assert.equal(office("203.0.113.9"), 200);
    assert.equal(office("198.51.100.9"), 403);
    assert.equal(office(undefined), 403);
    assert.equal(office(null), 403);
  });

  test("secureTransport is aws:SecureTransport; absent, a policy that requires TLS denies", () => {
    const tls = (secureTransport) => authz.authorize(request({ path: "/tls-only", ...(secureTransport === undefined ? {} : { secureTransport }) })).status;
    assert.equal(tls(true), 200);
    assert.equal(tls(false), 403);
    assert.equal(tls(undefined), 403);
  });

  test("max_header_bytes counts the pseudo-headers Envoy would deliver, with host as :authority", () => {
    const small = new Authorizer(JSON.stringify(config(key, { request: { max_header_bytes: 1024 } })));
    // :method GET (10) + :path /pets/1 (12) + :authority h (11) + :scheme https (12) + x and its value.
    const pseudo = 10 + 12 + 11 + 12;
    const at = (length) => small.authorize({ method: "GET", path: "/pets/1", headers: { host: "h", x: "a".repeat(length) }, secureTransport: true, now: NOW });
    const limit = 1024 - pseudo - 1;
    assert.equal(at(limit).status, 401);
    assert.equal(at(limit + 1).status, 400);
    assert.equal(at(limit + 1).reason, "request headers are 1025 bytes, over the limit of 1024");
  });

  test("malformed input throws an Error naming the field, and the authorizer goes on", () => {
    const refusals = [
      [undefined, /the request must be an object, not undefined/],
      ["GET /", /the request must be an object, not string/],
      [[], /the request must be an object, not array/],
      [{ path: "/" }, /method must be a string, not undefined/],
      [{ method: "GET", path: 1 }, /path must be a string, not number/],
      [{ method: "GET", path: "/", sourceIP: "203.0.113.9" }, /unknown request field `sourceIP`/],
      [{ method: "GET", path: "/", headers: "authorization: x" }, /headers must be an object or a list of \[name, value\] pairs, not string/],
      [{ method: "GET", path: "/", headers: { a: 1 } }, /headers\["a"\] must be a string or a list of strings, not number/],
      [{ method: "GET", path: "/", headers: { a: ["x", null] } }, /headers\["a"\] items must be a string, not null/],
      [{ method: "GET", path: "/", headers: [["a", "1", "2"]] }, /headers\[0\] must be a \[name, value\] pair of strings/],
      [{ method: "GET", path: "/", headers: [["a", "1"], "b"] }, /headers\[1\] must be a \[name, value\] pair of strings/],
      [{ method: "GET", path: "/", headers: { ":path": "/admin" } }, /header `:path`: pseudo-headers come from/],
      [{ method: "GET", path: "/", headers: { "a b": "1" } }, /header name `a b` is not an HTTP token/],
      [{ method: "GET", path: "/", headers: { a: "1\r\nx-authz-sub: root" } }, /header `a`: value contains NUL, CR or LF/],
      [{ method: "GET", path: "/", sourceIp: "203.0.113.9:443" }, /sourceIp `203.0.113.9:443` is not an IP address/],
      [{ method: "GET", path: "/", sourceIp: 1 }, /sourceIp must be a string, not number/],
      [{ method: "GET", path: "/", secureTransport: "true" }, /secureTransport must be a boolean, not string/],
      [{ method: "GET", path: "/", now: 1.5 }, /now must be whole unix seconds/],
      [{ method: "GET", path: "/", now: -1 }, /now must be whole unix seconds/],
      [{ method: "GET", path: "/", now: Number.MAX_VALUE }, /now must be whole unix seconds/],
      [{ method: "GET", path: "/", now: "1763800000" }, /now must be a number of unix seconds, not string/],
    ];
    for (const [input, message] of refusals) {
      assert.throws(() => authz.authorize(input), (err) => err instanceof Error && !(err instanceof WebAssembly.RuntimeError) && message.test(err.message), JSON.stringify(input));
    }
    const throwing = { method: "GET", path: "/", get headers() { throw new TypeError("getter failed"); } };
    assert.throws(() => authz.authorize(throwing), /getter failed/);
    assert.equal(authz.authorize(request()).status, 200);
  });
});

test("the web package (ES module, initSync) decides as the Node package does", async () => {
  const web = await import(join(DIST, "web/authz.js"));
  web.initSync({ module: new WebAssembly.Module(readFileSync(join(DIST, "web/authz_bg.wasm"))) });
  const webAuthz = new web.Authorizer(JSON.stringify(config(key)));
  for (const overrides of [{}, { path: "/admin/1" }, { headers: {} }, { path: "/pets/a/../1" }]) {
    assert.deepEqual(webAuthz.authorize(request(overrides)), authz.authorize(request(overrides)));
  }
});

test("the TypeScript declarations type a correct use and reject wrong ones", () => {
  const tsc = join(ROOT, "edge/node_modules/typescript/bin/tsc");
  const run = () => execFileSync(process.execPath, [tsc, "--noEmit", "--strict", "--target", "es2022", "--lib", "es2022,esnext.disposable", "--module", "nodenext", "--moduleResolution", "nodenext", join(ROOT, "edge/test/types/usage.ts")], { encoding: "utf8" });
  assert.doesNotThrow(run, (err) => err.stdout);
});
