// Compiled by package.test.mjs with `tsc --strict`: a correct use of the shipped declarations, and wrong ones that
// must be refused (an unused @ts-expect-error is itself an error, so declarations of `any` would fail this file).
import { Authorizer, type AuthorizeAnswer, type AuthorizeRequest } from "../../../dist/edge/nodejs/authz.js";

const authz: Authorizer = new Authorizer('{"api": {}}');
const request: AuthorizeRequest = {
  method: "GET",
  path: "/pets/1?x=1",
  headers: [["authorization", "Bearer t"]],
  sourceIp: "203.0.113.9",
  secureTransport: true,
  now: 1763800000,
};
const answer: AuthorizeAnswer = authz.authorize(request);
const status: number = answer.status;
const decision: "allow" | "unauthorized" | "deny" | "bad_request" = answer.decision;
const body: string | null = answer.body;
const rewrite: string | null = answer.rewritePath;
const remove: string[] = answer.removeHeaders;
const headers: Record<string, string> = answer.headers;
authz.authorize({ method: "GET", path: "/", headers: { a: ["1", "2"], b: "3" } });
authz.authorize({ method: "GET", path: "/", headers: new Map([["a", "1"]]) });
const warnings: string[] = authz.warnings();

// @ts-expect-error: the configuration is JSON text
new Authorizer({ api: {} });
// @ts-expect-error: path is required
authz.authorize({ method: "GET" });
// @ts-expect-error: sourceIp is a string
authz.authorize({ method: "GET", path: "/", sourceIp: 1 });
// @ts-expect-error: no such field
authz.authorize({ method: "GET", path: "/", sourceIP: "203.0.113.9" });
// @ts-expect-error: the status is a number
const wrong: string = answer.status;

export { body, decision, headers, remove, rewrite, status, warnings, wrong };
