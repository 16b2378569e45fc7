// The Lambda@Edge viewer-request handler (dist/edge/lambda-edge) on events in the documented shape: repeated
// headers, a query string, a missing authorization, and the failures that must answer rather than forward.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, mock, test } from "node:test";
import { deployLambda, values, viewerRequest } from "./support/cloudfront.mjs";
import { accessClaims, config, nowSeconds, rsaKey, sign } from "./support/mint.mjs";

const key = rsaKey();
const staff = () => sign(key, accessClaims({ now: nowSeconds(), groups: ["staff"] }));
const bearer = (token) => ["Authorization", `Bearer ${token}`];
const HOST = ["Host", "d111111abcdef8.cloudfront.net"];

describe("allowed requests go on in CloudFront's shape", () => {
  const { handler } = deployLambda(config(key));

  test("identity headers set, client copies removed, repeated headers kept, uri normalised, query kept", async () => {
    const event = viewerRequest({
      uri: "/pets/./1//photos",
      querystring: "size=large&next=%2Fadmin",
      headers: [HOST, bearer(staff()), ["X-Trace", "a"], ["X-Trace", "b"], ["X-Authz-Sub", "root"], ["x_authz_groups", "admins"]],
    });
    const forwarded = await handler(event);
    assert.equal(forwarded.status, undefined, JSON.stringify(forwarded));
    assert.equal(forwarded.uri, "/pets/1/photos");
    assert.equal(forwarded.querystring, "size=large&next=%2Fadmin");
    assert.deepEqual(forwarded.headers["x-authz-sub"], [{ key: "x-authz-sub", value: "sub-alice" }]);
    assert.deepEqual(values(forwarded.headers, "x-authz-groups"), ["staff"]);
    assert.deepEqual(values(forwarded.headers, "x-authz-username"), ["alice"]);
    assert.equal(forwarded.headers.x_authz_groups, undefined);
    assert.deepEqual(forwarded.headers["x-trace"], [{ key: "X-Trace", value: "a" }, { key: "X-Trace", value: "b" }]);
    assert.deepEqual(forwarded.headers.host, [{ key: "Host", value: "d111111abcdef8.cloudfront.net" }]);
    assert.equal(forwarded.clientIp, "203.0.113.178");
  });

  test("a target that needs no rewriting is left as sent", async () => {
    const forwarded = await handler(viewerRequest({ uri: "/pets/1", querystring: "a=1", headers: [HOST, bearer(staff())] }));
    assert.equal(forwarded.uri, "/pets/1");
    assert.equal(forwarded.querystring, "a=1");
  });

  test("clientIp is aws:SourceIp", async () => {
    const at = async (clientIp) => (await handler(viewerRequest({ uri: "/office", clientIp, headers: [HOST, bearer(staff())] }))).status;
    assert.equal(await at("203.0.113.9"), undefined);
    assert.equal(await at("198.51.100.9"), "403");
  });
});

describe("denials are answered with API Gateway's status, headers and body", () => {
  const { handler } = deployLambda(config(key));

  test("no authorization header: 401 with the Bearer challenge", async () => {
    const reply = await handler(viewerRequest({ uri: "/pets/1", headers: [HOST] }));
    assert.deepEqual(reply, {
      status: "401",
      statusDescription: "Unauthorized",
      headers: {
        "content-type": [{ key: "content-type", value: "application/json" }],
        "www-authenticate": [{ key: "www-authenticate", value: 'Bearer realm="edgeapi001/prod"' }],
      },
      body: '{"message":"Unauthorized"}',
    });
  });

  test("two authorization headers: 401", async () => {
    const reply = await handler(viewerRequest({ uri: "/pets/1", headers: [HOST, bearer(staff()), bearer(staff())] }));
    assert.equal(reply.status, "401");
  });

  test("an explicit deny, an undeclared route, a bad path, a long ARN", async () => {
    const cases = [
      ["/admin/users", "", "403", "Forbidden", '{"Message":"User is not authorized to access this resource with an explicit deny"}'],
      ["/elsewhere", "", "403", "Forbidden", '{"message":"Missing Authentication Token"}'],
      ["/pets/..%2fadmin", "", "400", "Bad Request", '{"message":"Bad Request"}'],
      [`/pets/${"a".repeat(1700)}`, "", "414", "URI Too Long", '{"message":"Request-URI Too Long"}'],
    ];
    for (const [uri, querystring, status, statusDescription, body] of cases) {
      const reply = await handler(viewerRequest({ uri, querystring, headers: [HOST, bearer(staff())] }));
      assert.deepEqual(reply, { status, statusDescription, headers: { "content-type": [{ key: "content-type", value: "application/json" }] }, body }, uri.slice(0, 40));
    }
  });

  test("a viewer-request event does not say TLS: a policy that requires aws:SecureTransport denies", async () => {
    assert.equal((await handler(viewerRequest({ uri: "/tls-only", headers: [HOST, bearer(staff())] }))).status, "403");
  });
});

describe("failures answer 500 and forward nothing", () => {
  const internal = { status: "500", statusDescription: "Internal Server Error", headers: { "content-type": [{ key: "content-type", value: "application/json" }] }, body: '{"message":"Internal server error"}' };

  test("config.json is read once per container", async () => {
    const { dir, handler } = deployLambda(config(key));
    const event = () => viewerRequest({ uri: "/pets/1", headers: [HOST, bearer(staff())] });
    assert.equal((await handler(event())).uri, "/pets/1");
    writeFileSync(join(dir, "config.json"), "not json");
    assert.equal((await handler(event())).uri, "/pets/1");
  });

  test("a missing or invalid config.json: 500 on every request, the reason logged with its path", async (t) => {
    const logged = t.mock.method(console, "error", () => {});
    const bad = config(key);
    bad.api.account_id = "1";
    for (const configuration of [undefined, bad]) {
      const { handler } = deployLambda(configuration);
      for (let i = 0; i < 2; i++) assert.deepEqual(await handler(viewerRequest({ uri: "/health", headers: [HOST] })), internal);
    }
    const lines = logged.mock.calls.map((call) => call.arguments.join(" "));
    assert.ok(lines.some((line) => /configuration refused .*config\.json.*ENOENT/.test(line)), lines.join("\n"));
    assert.ok(lines.some((line) => /configuration refused .*: invalid configuration: api\.account_id: /.test(line)), lines.join("\n"));
  });

  test("an event the handler cannot read", async (t) => {
    t.mock.method(console, "error", () => {});
    const { handler } = deployLambda(config(key));
    const broken = viewerRequest({ uri: "/health", headers: [HOST] });
    broken.Records[0].cf.request.headers.authorization = { key: "Authorization", value: "Bearer x" };
    assert.deepEqual(await handler(broken), internal);
    assert.deepEqual(await handler({ Records: [] }), internal);
    const control = viewerRequest({ uri: "/health", headers: [HOST, ["Authorization", "Bearer\u0000x"]] });
    assert.deepEqual(await handler(control), internal);
  });
});

mock.reset();
