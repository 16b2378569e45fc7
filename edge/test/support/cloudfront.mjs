// CloudFront viewer-request events in the documented shape, and the Lambda@Edge handler of dist/edge/lambda-edge
// loaded from a copy of that folder with a given config.json, as a user zips and deploys it.
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LAMBDA_EDGE, need } from "./paths.mjs";

const require = createRequire(import.meta.url);

/** A copy of the handler folder with `config` (text, or an object to serialise; `undefined`: no file). */
export function deployLambda(config) {
  const dir = mkdtempSync(join(tmpdir(), "authz-lambda-edge-"));
  cpSync(need(LAMBDA_EDGE, "make edge"), dir, { recursive: true });
  if (config !== undefined) {
    writeFileSync(join(dir, "config.json"), typeof config === "string" ? config : JSON.stringify(config));
  }
  // Each copy is its own module, so each test gets a fresh container.
  const handler = require(join(dir, "index.js")).handler;
  return { dir, handler };
}

/** A viewer-request event: headers as CloudFront writes them, lower-case keys → [{key, value}], repeats kept. */
export function viewerRequest({ method = "GET", uri = "/", querystring = "", headers = [], clientIp = "203.0.113.178" }) {
  const map = {};
  for (const [name, value] of headers) {
    (map[name.toLowerCase()] ??= []).push({ key: name, value });
  }
  return {
    Records: [
      {
        cf: {
          config: {
            distributionDomainName: "d111111abcdef8.cloudfront.net",
            distributionId: "EDFDVBD6EXAMPLE",
            eventType: "viewer-request",
            requestId: "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
          },
          request: { clientIp, headers: map, method, querystring, uri },
        },
      },
    ],
  };
}

/** The corpus request (the JS API's input) as a viewer-request event. */
export function eventFor(request) {
  const at = request.path.indexOf("?");
  return viewerRequest({
    method: request.method,
    uri: at < 0 ? request.path : request.path.slice(0, at),
    querystring: at < 0 ? "" : request.path.slice(at + 1),
    headers: request.headers,
    clientIp: request.sourceIp,
  });
}

/** Header values by lower-case name from CloudFront's shape. */
export function values(headers, name) {
  return (headers[name] ?? []).map((entry) => entry.value);
}
