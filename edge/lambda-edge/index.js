// The authorizer as a CloudFront Lambda@Edge viewer-request handler (Node): every request is decided by the same
// core as the Envoy filter, through the wasm-bindgen package beside this file. Denials are answered here with API
// Gateway's status, headers and body; allowed requests go on with the client's copies of identity headers
// removed, the identity headers set and the normalised `uri`.
//
// Lambda@Edge has no environment variables: the configuration is `config.json` in this folder, read and compiled
// once per container. Anything that goes wrong answers 500 and is logged: no request is forwarded undecided.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { Authorizer } = require("./authz.js");

const CONFIG_FILE = path.join(__dirname, "config.json");
const INTERNAL_ERROR_BODY = '{"message":"Internal server error"}';
const DESCRIPTIONS = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  414: "URI Too Long",
  500: "Internal Server Error",
};

// { authorizer } or { error }: a refused configuration stays refused for the container's life (the file cannot
// change under it), and every request then gets 500.
let loaded;

function load() {
  if (loaded === undefined) {
    try {
      const authorizer = new Authorizer(fs.readFileSync(CONFIG_FILE, "utf8"));
      for (const warning of authorizer.warnings()) console.warn(`authz: configuration warning: ${warning}`);
      loaded = { authorizer };
    } catch (err) {
      loaded = { error: err };
    }
  }
  if (loaded.error !== undefined) {
    console.error(`authz: configuration refused (${CONFIG_FILE}): ${loaded.error.message}`);
    return undefined;
  }
  return loaded.authorizer;
}

// CloudFront's header shape: lower-case name → [{ key, value }].
function cloudFrontHeaders(headers) {
  const shaped = {};
  for (const [name, value] of Object.entries(headers)) {
    shaped[name.toLowerCase()] = [{ key: name, value }];
  }
  return shaped;
}

function reply(status, headers, body) {
  return {
    status: String(status),
    statusDescription: DESCRIPTIONS[status] ?? "Error",
    headers: cloudFrontHeaders(headers),
    body,
  };
}

function internalError(why) {
  console.error(`authz: ${why}; request refused`);
  return reply(500, { "content-type": "application/json" }, INTERNAL_ERROR_BODY);
}

// Every header as [name, value] pairs, repeated ones kept. The map's own key is the name (CloudFront writes it in
// lower case; `key`, the viewer's spelling, is optional).
function headerPairs(headers) {
  const pairs = [];
  for (const [name, entries] of Object.entries(headers ?? {})) {
    if (!Array.isArray(entries)) throw new Error(`header \`${name}\` is not a list of {key, value}`);
    for (const entry of entries) {
      if (entry === null || typeof entry !== "object" || typeof entry.value !== "string") {
        throw new Error(`header \`${name}\` has an entry without a string value`);
      }
      pairs.push([name, entry.value]);
    }
  }
  return pairs;
}

// The viewer request event → the request CloudFront forwards, or the response it returns to the viewer.
exports.handler = async (event) => {
  const authorizer = load();
  if (authorizer === undefined) return internalError("no configuration loaded");
  let request;
  let answer;
  try {
    request = event.Records[0].cf.request;
    const query = request.querystring ? `?${request.querystring}` : "";
    answer = authorizer.authorize({
      method: request.method,
      path: request.uri + query,
      headers: headerPairs(request.headers),
      sourceIp: request.clientIp,
      // A viewer-request event does not say whether the viewer used TLS: `aws:SecureTransport` stays absent, so a
      // policy that requires it denies. Require HTTPS with the cache behaviour's viewer protocol policy instead.
    });
  } catch (err) {
    return internalError(`cannot decide the request: ${err.message}`);
  }
  if (answer.status !== 200) return reply(answer.status, answer.headers, answer.body);

  for (const name of answer.removeHeaders) delete request.headers[name.toLowerCase()];
  for (const [name, value] of Object.entries(answer.headers)) request.headers[name.toLowerCase()] = [{ key: name, value }];
  if (answer.rewritePath !== null) {
    const at = answer.rewritePath.indexOf("?");
    request.uri = at < 0 ? answer.rewritePath : answer.rewritePath.slice(0, at);
    request.querystring = at < 0 ? "" : answer.rewritePath.slice(at + 1);
  }
  return request;
};
