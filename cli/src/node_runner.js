// Run by `authz --node PACKAGE` as `node -e <this> PACKAGE`: the configuration comes first, as one JSON string on
// one line; then each line is an `authorize` request and gets one line back: the answer, or {"error": message}.
"use strict";
const readline = require("node:readline");
const { Authorizer } = require(require("node:path").resolve(process.argv[1]));

let authorizer;
const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  let reply;
  try {
    const input = JSON.parse(line);
    if (authorizer === undefined) {
      authorizer = new Authorizer(input);
      reply = { loaded: true };
    } else {
      reply = authorizer.authorize(input);
    }
  } catch (err) {
    reply = { error: String(err && err.message ? err.message : err) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
});
