// Keys and Cognito-shaped tokens made here with node:crypto, independently of the Rust minting the corpora use:
// the package must accept what a second implementation signs.
import { createSign, generateKeyPairSync, randomUUID } from "node:crypto";

export const ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EdgeTest";
export const CLIENT = "edge-client";

const b64url = (data) => Buffer.from(data).toString("base64url");

/** An RS256 key pair as Cognito publishes it: the public JWK with `kid`, `alg` and `use`. */
export function rsaKey(kid = "edge-k1") {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" };
  return { kid, privateKey, jwk };
}

/** A signed compact JWS over `claims`. */
export function sign(key, claims, header = {}) {
  const input = `${b64url(JSON.stringify({ kid: key.kid, alg: "RS256", ...header }))}.${b64url(JSON.stringify(claims))}`;
  const signature = createSign("sha256").update(input).sign(key.privateKey);
  return `${input}.${b64url(signature)}`;
}

/** The claims of a Cognito access token issued at `now` for an hour. */
export function accessClaims({ now, username = "alice", groups = [], scope = "aws.cognito.signin.user.admin", ...rest }) {
  const claims = {
    sub: `sub-${username}`,
    iss: ISSUER,
    client_id: CLIENT,
    token_use: "access",
    scope,
    auth_time: now,
    iat: now,
    exp: now + 3600,
    jti: randomUUID(),
    username,
    ...rest,
  };
  if (groups.length > 0) claims["cognito:groups"] = groups;
  return claims;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** A configuration for `key`: petstore-like routes and policies, with overrides merged over the top level. */
export function config(key, overrides = {}) {
  return {
    api: { region: "us-east-1", account_id: "123456789012", api_id: "edgeapi001", stage: "prod" },
    issuers: [{ issuer: ISSUER, jwks: { keys: [key.jwk] }, token_use: ["access"], client_ids: [CLIENT] }],
    routes: [
      { method: "GET", path: "/health", auth: "none" },
      { method: "ANY", path: "/pets/{proxy+}" },
      { method: "ANY", path: "/admin/{proxy+}" },
      { method: "GET", path: "/tls-only" },
      { method: "GET", path: "/office" },
    ],
    policies: {
      groups: {
        staff: {
          Version: "2012-10-17",
          Statement: [
            { Sid: "Pets", Effect: "Allow", Action: "execute-api:Invoke", Resource: "execute-api:/prod/*/pets/*" },
            { Sid: "NoAdmin", Effect: "Deny", Action: "execute-api:Invoke", Resource: "execute-api:/prod/*/admin/*" },
            {
              Sid: "TlsOnly",
              Effect: "Allow",
              Action: "execute-api:Invoke",
              Resource: "execute-api:/prod/GET/tls-only",
              Condition: { Bool: { "aws:SecureTransport": "true" } },
            },
            {
              Sid: "Office",
              Effect: "Allow",
              Action: "execute-api:Invoke",
              Resource: "execute-api:/prod/GET/office",
              Condition: { IpAddress: { "aws:SourceIp": "203.0.113.0/24" } },
            },
          ],
        },
      },
    },
    ...overrides,
  };
}
