// The authorizer as a Cloudflare Worker (ES module): every request is decided by the same core as the Envoy
// filter, through the wasm-bindgen package beside this file. Denials are answered here with API Gateway's status,
// headers and body; allowed requests go on to the origin with the client's copies of identity headers removed,
// the identity headers set and the normalised path.
//
// Bindings: AUTHZ_CONFIG (required) the configuration as JSON text (a JSON object binding is accepted too);
// ORIGIN (optional) the base URL to forward to, e.g. "https://origin.example.com" or "https://origin.example.com/api";
// without it the request goes to its own URL, as a Worker on a route in front of an origin does.
// Anything that goes wrong answers 500 and is logged: no request is forwarded undecided.

import { initSync, Authorizer } from "./authz.js";
import wasm from "./authz_bg.wasm";

initSync({ module: wasm });

const INTERNAL_ERROR_BODY = '{"message":"Internal server error"}';

// One compiled configuration per isolate, rebuilt only if the binding's text changes.
let compiled = { text: undefined, authorizer: undefined, error: undefined };

function configText(binding) {
  if (typeof binding === "string") return binding;
  if (binding !== null && typeof binding === "object") return JSON.stringify(binding);
  return undefined;
}

function authorizerFor(env) {
  const text = configText(env.AUTHZ_CONFIG);
  if (compiled.text !== text || (compiled.authorizer === undefined && compiled.error === undefined)) {
    compiled = { text, authorizer: undefined, error: undefined };
    try {
      if (text === undefined) throw new Error("the AUTHZ_CONFIG binding is missing");
      compiled.authorizer = new Authorizer(text);
      for (const warning of compiled.authorizer.warnings()) console.warn(`authz: configuration warning: ${warning}`);
    } catch (err) {
      compiled.error = err;
    }
  }
  if (compiled.error !== undefined) {
    // Logged on every request, so that a refused configuration cannot go unseen in the logs.
    console.error(`authz: configuration refused: ${compiled.error.message}`);
    return undefined;
  }
  return compiled.authorizer;
}

function internalError(why, status = 500) {
  console.error(`authz: ${why}; request refused`);
  return new Response(INTERNAL_ERROR_BODY, { status, headers: { "content-type": "application/json" } });
}

// "https://o.example/api/" → "https://o.example/api": the target (which starts with "/") is appended as text, never
// resolved against it, so no target can change the origin's host.
function originBase(origin) {
  const url = new URL(origin);
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error(`ORIGIN \`${origin}\` is not an http(s) URL`);
  if (url.search || url.hash || url.username || url.password) throw new Error(`ORIGIN \`${origin}\` must be a plain base URL`);
  return url.origin + url.pathname.replace(/\/+$/, "");
}

export default {
  async fetch(request, env) {
    const authorizer = authorizerFor(env);
    if (authorizer === undefined) return internalError("no configuration loaded");
    let answer;
    let url;
    try {
      url = new URL(request.url);
      answer = authorizer.authorize({
        method: request.method,
        path: url.pathname + url.search,
        headers: request.headers,
        // Cloudflare sets CF-Connecting-IP to the client's address (and overwrites a client's own).
        sourceIp: request.headers.get("cf-connecting-ip"),
        secureTransport: url.protocol === "https:",
      });
    } catch (err) {
      return internalError(`cannot decide the request: ${err.message}`);
    }
    if (answer.status !== 200) {
      return new Response(answer.body, { status: answer.status, headers: answer.headers });
    }
    let upstream;
    try {
      const headers = new Headers(request.headers);
      for (const name of answer.removeHeaders) headers.delete(name);
      for (const [name, value] of Object.entries(answer.headers)) headers.set(name, value);
      const base = env.ORIGIN ? originBase(env.ORIGIN) : url.origin;
      const target = answer.rewritePath ?? url.pathname + url.search;
      upstream = new Request(base + target, { method: request.method, headers, body: request.body, redirect: "manual" });
    } catch (err) {
      return internalError(`cannot build the upstream request: ${err.message}`);
    }
    try {
      return await fetch(upstream);
    } catch (err) {
      // As API Gateway answers an integration it cannot reach.
      return internalError(`the origin did not answer: ${err.message}`, 502);
    }
  },
};
