//! Store-level tests: documents per group, client and user; errors with paths; warnings; both evaluators.

#![allow(clippy::unwrap_used)]
use super::*;
use serde_json::{json, Value};

fn api() -> ApiTarget {
    ApiTarget {
        partition: crate::request::Partition::Aws,
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        api_id: "a1b2c3d4e5".into(),
        stage: "dev".into(),
    }
}

fn store(policies: Value) -> Result<PolicyStore, PolicyError> {
    let raw: RawPolicies = serde_json::from_value(policies).unwrap();
    PolicyStore::compile(&raw, &api(), "policies")
}

const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/petstore/v1/pets";

fn principal(groups: &[String]) -> Principal<'_> {
    Principal { groups, client_id: Some("app"), username: Some("alice") }
}

/// Both evaluators, asserted equal.
fn evaluate(store: &PolicyStore, principal: &Principal<'_>, arn: &str, ctx: &dyn ConditionContext) -> Evaluation {
    let compiled = store.evaluate(principal, INVOKE, arn, ctx);
    assert_eq!(compiled, store.evaluate_linear(principal, INVOKE, arn, ctx), "{arn}");
    compiled
}

#[test]
fn allow_deny_and_implicit_deny() {
    let store = store(json!({"groups": {
        "vets": {"Version": "2012-10-17", "Statement": [{"Sid": "PetStore-API", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:*/*/*/petstore/v1/*"}]},
        "banned": {"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "EXECUTE-API:*", "Resource": "*"}}
    }}))
    .unwrap();
    let vets = ["vets".to_owned()];
    let allowed = evaluate(&store, &principal(&vets), ARN, &NoContext);
    assert_eq!(allowed.decision, PolicyDecision::Allow);
    assert_eq!(allowed.statements[0].to_string(), "groups.vets[0].Statement[0] (PetStore-API)");
    let both = ["vets".to_owned(), "banned".to_owned()];
    let denied = evaluate(&store, &principal(&both), ARN, &NoContext);
    assert_eq!(denied.decision, PolicyDecision::ExplicitDeny);
    assert_eq!(denied.statements[0].name, "banned");
    let other = evaluate(&store, &principal(&vets), &ARN.replace("v1", "v2"), &NoContext);
    assert_eq!(other.decision, PolicyDecision::ImplicitDeny);
    assert_eq!(other.why(), Some(DenyWhy::NoAllow));
    let nobody = evaluate(&store, &principal(&[]), ARN, &NoContext);
    assert_eq!(nobody.decision, PolicyDecision::ImplicitDeny);
    assert_eq!(nobody.why(), Some(DenyWhy::NoDocuments));
    assert!(store.warnings().is_empty(), "{:?}", store.warnings());
}

#[test]
fn clients_users_not_action_not_resource_and_shorthand() {
    let store = store(json!({
        "clients": {"app": [{"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "execute-api:/dev/GET/*"}]}]},
        "users": {"alice": {"Statement": [{"Effect": "Deny", "Action": "*", "NotResource": "execute-api:/*/GET/petstore/*"}]}}
    }))
    .unwrap();
    let evaluation = evaluate(&store, &principal(&[]), ARN, &NoContext);
    assert_eq!(evaluation.decision, PolicyDecision::Allow);
    let post = evaluate(&store, &principal(&[]), &ARN.replace("GET/petstore", "POST/x"), &NoContext);
    assert_eq!(post.decision, PolicyDecision::ExplicitDeny);
    let other_api = evaluate(&store, &principal(&[]), &ARN.replace("a1b2c3d4e5", "zzzzzzzzzz"), &NoContext);
    assert_eq!(other_api.decision, PolicyDecision::ExplicitDeny);
}

#[test]
fn conditions_explain_an_implicit_deny() {
    let store = store(json!({"groups": {"office": {"Version": "2012-10-17", "Statement": [
        {"Sid": "Office", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}]}}}))
    .unwrap();
    let office = ["office".to_owned()];
    let inside = MapContext::new().with("aws:SourceIp", "192.0.2.10");
    assert_eq!(evaluate(&store, &principal(&office), ARN, &inside).decision, PolicyDecision::Allow);
    let outside = MapContext::new().with("aws:SourceIp", "198.51.100.1");
    let denied = evaluate(&store, &principal(&office), ARN, &outside);
    assert_eq!(denied.decision, PolicyDecision::ImplicitDeny);
    assert_eq!(
        denied.why().unwrap().to_string(),
        "conditions not met: groups.office[0].Statement[0] (Office): Condition.IpAddress.aws:SourceIp does not hold"
    );
    let absent = evaluate(&store, &principal(&office), ARN, &NoContext);
    assert!(absent.why().unwrap().to_string().ends_with("does not hold, key absent"));
}

#[test]
fn errors_name_the_path() {
    let cases = [
        (json!({"groups": {"admins": {"Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]}}}),
         "policies.groups.admins.Statement[0].Effect: must be exactly `Allow` or `Deny`"),
        (json!({"groups": {"admins": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:x"}]}}}),
         "policies.groups.admins.Statement[0].Resource: `arn:aws:x` is not `*` or an ARN (`arn:partition:service:region:account:resource`)"),
        (json!({"users": {"a": [{"Statement": []}, {"Statement": {"Effect": "Allow", "Action": "*"}}]}}),
         "policies.users.a[1].Statement: one of `Resource` or `NotResource` is required"),
        (json!({"groups": {"g": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": ["*", 3], "Resource": "*"}}}}),
         "policies.groups.g.Statement.Action[1]: expected a string"),
        (json!({"groups": {"g": {"Statment": []}}}), "policies.groups.g.Statment: unknown policy element"),
        (json!({"groups": {"g": {"Version": "2012-10-18", "Statement": []}}}), "policies.groups.g.Version: must be `2012-10-17` or `2008-10-17`"),
        (json!({"groups": {"g": {"Statement": {"Effect": "Allow", "Action": "Invoke", "Resource": "*"}}}}),
         "policies.groups.g.Statement.Action: `Invoke` is not `*` or `service:action`"),
        (json!({"groups": {"admins": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"IpAdress": {"aws:SourceIp": "192.0.2.0/24"}}}]}}}),
         "policies.groups.admins.Statement[2].Condition.IpAdress: unknown operator"),
        (json!({"groups": {"g": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:execute-api:${aws:username}:*:*"}}}}),
         "policies.groups.g.Statement.Resource: policy variables are allowed only in the resource part of an ARN (after the fifth colon)"),
        (json!({"groups": {"g": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "execute-api:${x}", "Resource": "*"}}}}),
         "policies.groups.g.Statement.Action: policy variables are not allowed in actions"),
    ];
    for (policies, expected) in cases {
        assert_eq!(store(policies).unwrap_err().to_string(), expected);
    }
}

#[test]
fn warnings_for_statements_that_never_match() {
    let store = store(json!({"groups": {"g": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ["arn:aws:execute-api:*:*:*/dev/ANY/*", "arn:aws:execute-api:eu-west-1:*:*", "arn:aws:s3:::bucket/*", "execute-api:/prod/GET/*"]},
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-1", "claim:cognito:groups": "a"}}},
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/users/${aws:userid}"},
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/get/*"}
    ]}}}))
    .unwrap();
    let warnings: Vec<String> = store.warnings().iter().map(ToString::to_string).collect();
    let expected = [
        "policies.groups.g.Statement[0].Action: does not apply to `execute-api:Invoke`",
        "policies.groups.g.Statement[1].Resource[0]: `arn:aws:execute-api:*:*:*/dev/ANY/*`: its method segment `ANY` is not a verb",
        "policies.groups.g.Statement[1].Resource[1]: `arn:aws:execute-api:eu-west-1:*:*` never matches a request to this API: its region never matches `us-east-1`",
        "policies.groups.g.Statement[1].Resource[2]: `arn:aws:s3:::bucket/*` never matches a request to this API: its service never matches `execute-api`",
        "policies.groups.g.Statement[1].Resource[3]: `arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/*` never matches a request to this API: its resource part never starts `a1b2c3d4e5/dev/`",
        "policies.groups.g.Statement[2].Condition.StringEquals.aws:SourceVpc: `aws:SourceVpc` is never present in this authorizer's requests (see docs/condition-keys.md): the condition is always false",
        "policies.groups.g.Statement[2].Condition.StringEquals.claim:cognito:groups: `claim:cognito:groups` is multi-valued",
        "policies.groups.g.Statement[3].Resource: variable `${aws:userid}` is never set",
        "policies.groups.g.Statement[4].Resource: `arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/get/*` never matches a request to this API: no method fits",
    ];
    assert_eq!(warnings.len(), expected.len(), "{warnings:#?}");
    for (warning, expected) in warnings.iter().zip(expected) {
        assert!(warning.starts_with(expected), "{warning}\nwanted: {expected}");
    }
}

/// The keys a real request offers: the request (source address through trusted hops, TLS, User-Agent, time)
/// and the verified token (username, groups, scopes, custom claims), through the whole authorizer.
#[test]
fn request_and_token_keys_reach_conditions_and_variables() {
    use crate::{Authorizer, HttpRequest};
    use authz_testkit::mint::{CognitoClaims, DevKey};
    let key = DevKey::generate_ed25519("k1").unwrap();
    let issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test";
    let config = json!({
        "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
        "issuers": [{"issuer": issuer, "jwks": {"keys": [key.public_jwk()]}, "token_use": ["access"], "client_ids": ["app"]}],
        "source_ip": {"xff_num_trusted_hops": 1},
        "policies": {"groups": {"staff": {"Version": "2012-10-17", "Statement": [
            {"Sid": "Office", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/office/*",
             "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}},
            {"Sid": "Own", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/users/${aws:username}/*"},
            {"Sid": "Writers", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/POST/*",
             "Condition": {"ForAnyValue:StringEquals": {"claim:scope": "pets/write"}, "ForAnyValue:StringLike": {"claim:cognito:groups": "staff*"}}},
            {"Sid": "Tenant", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/tenants/${claim:custom:tenant}"},
            {"Sid": "NoBots", "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*", "Condition": {"StringLike": {"aws:UserAgent": "*bot*"}}},
            {"Sid": "TlsOnly", "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {"Sid": "Closed", "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/users/*/closed",
             "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2025-01-01T00:00:00Z"}, "NumericGreaterThan": {"aws:EpochTime": 1_700_000_000}}}
        ]}}}
    });
    let authorizer = Authorizer::from_json(config.to_string().as_bytes()).unwrap();
    assert!(authorizer.config().warnings().is_empty(), "{:?}", authorizer.config().warnings());
    let now = 1_763_800_000;
    let mut claims = CognitoClaims::access(issuer, "app", "alice", now)
        .groups(&["staff"])
        .scopes(&["openid", "pets/write"])
        .valid(now - 10, now + 3600)
        .to_json();
    claims.as_object_mut().unwrap().insert("custom:tenant".into(), json!("acme"));
    let token = key.sign(&claims);
    let decide = |method: &str, path: &str, headers: &[(&str, &str)], secure: bool| {
        let mut all = vec![("authorization".to_owned(), format!("Bearer {token}"))];
        all.extend(headers.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())));
        let request = HttpRequest {
            method: method.into(),
            path: path.into(),
            headers: all,
            source_ip: Some("10.0.0.1".parse().unwrap()),
            secure_transport: Some(secure),
        };
        let decision = authorizer.authorize(&request, now);
        (decision.status(), decision.reason.to_string())
    };
    /// Method, path, extra headers, TLS, expected status, a piece of the logged reason.
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], bool, u16, &'a str);
    let cases: [Case<'_>; 11] = [
        ("GET", "/office/a", &[("x-forwarded-for", "198.51.100.1, 203.0.113.9")], true, 200, "(Office)"),
        (
            "GET",
            "/office/a",
            &[("x-forwarded-for", "203.0.113.9, 198.51.100.1")],
            true,
            403,
            "Condition.IpAddress.aws:SourceIp does not hold",
        ),
        ("GET", "/office/a", &[], true, 403, "does not hold, key absent"),
        ("GET", "/users/alice/profile", &[], true, 200, "(Own)"),
        ("GET", "/users/bob/profile", &[], true, 403, "no Allow statement matches"),
        ("POST", "/pets", &[], true, 200, "(Writers)"),
        ("GET", "/tenants/acme", &[], true, 200, "(Tenant)"),
        ("GET", "/tenants/other", &[], true, 403, "no statement allows"),
        (
            "GET",
            "/users/alice/profile",
            &[("User-Agent", "Mozilla/5.0"), ("user-agent", "Googlebot/2.1")],
            true,
            403,
            "(NoBots)",
        ),
        ("GET", "/users/alice/profile", &[], false, 403, "(TlsOnly)"),
        ("GET", "/users/alice/closed", &[], true, 403, "(Closed)"),
    ];
    for (method, path, headers, secure, status, reason) in cases {
        let (actual, why) = decide(method, path, headers, secure);
        assert_eq!(actual, status, "{method} {path}: {why}");
        assert!(why.contains(reason), "{method} {path}: `{why}` lacks `{reason}`");
    }
}

/// A store for an API in `region`, whose partition follows from it.
fn store_in(region: &str, policies: Value) -> Result<PolicyStore, PolicyError> {
    let partition = crate::request::Partition::of_region(region).unwrap();
    let api = ApiTarget { partition, region: region.into(), ..api() };
    let raw: RawPolicies = serde_json::from_value(policies).unwrap();
    PolicyStore::compile(&raw, &api, "policies")
}

/// In China and GovCloud regions the method ARN, the `execute-api:/` shorthand and every policy ARN are in the
/// region's partition; a literal other partition is refused at load (it could never match, so a Deny written
/// with it would never apply), a wildcard partition is fine.
#[test]
fn partitions_follow_the_region_and_a_foreign_partition_is_refused() {
    let cn_arn = "arn:aws-cn:execute-api:cn-north-1:123456789012:a1b2c3d4e5/dev/GET/petstore/v1/pets";
    let store = store_in("cn-north-1", json!({"users": {"alice": {"Version": "2012-10-17", "Statement": [
        {"Sid": "Shorthand", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/*"},
        {"Sid": "NoV1", "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "arn:aws-cn:execute-api:*:*:*/*/*/petstore/v1/*"},
        {"Sid": "AnyPartition", "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "arn:*:execute-api:*:*:*/*/*/admin"},
        {"Sid": "Arn", "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*", "Condition": {"ArnLike": {"claim:custom:role": "arn:aws-cn:iam::*:role/blocked"}}}
    ]}}}))
    .unwrap();
    assert!(store.warnings().is_empty(), "{:?}", store.warnings());
    let denied = evaluate(&store, &principal(&[]), cn_arn, &NoContext);
    assert_eq!(denied.statements[0].sid.as_deref(), Some("NoV1"));
    let v2 = cn_arn.replace("v1", "v2");
    assert_eq!(evaluate(&store, &principal(&[]), &v2, &NoContext).statements[0].sid.as_deref(), Some("Shorthand"));
    let admin = cn_arn.replace("petstore/v1/pets", "admin");
    assert_eq!(
        evaluate(&store, &principal(&[]), &admin, &NoContext).statements[0].sid.as_deref(),
        Some("AnyPartition")
    );
    let role = MapContext::new().with("claim:custom:role", "arn:aws-cn:iam::123456789012:role/blocked");
    assert_eq!(evaluate(&store, &principal(&[]), &v2, &role).statements[0].sid.as_deref(), Some("Arn"));
    // The commercial spelling of the same ARN is another resource.
    let commercial = v2.replace("arn:aws-cn:", "arn:aws:");
    assert_eq!(evaluate(&store, &principal(&[]), &commercial, &NoContext).decision, PolicyDecision::ImplicitDeny);

    let gov = store_in(
        "us-gov-west-1",
        json!({"groups": {"g": {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "execute-api:/*"}}}}),
    )
    .unwrap();
    let gov_arn = "arn:aws-us-gov:execute-api:us-gov-west-1:123456789012:a1b2c3d4e5/dev/GET/x";
    assert_eq!(evaluate(&gov, &principal(&["g".to_owned()]), gov_arn, &NoContext).decision, PolicyDecision::Allow);

    let refused = |region: &str, statement: Value| {
        store_in(region, json!({"groups": {"g": {"Version": "2012-10-17", "Statement": statement}}}))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        refused("cn-north-1", json!({"Effect": "Deny", "Action": "*", "Resource": "arn:aws:execute-api:*:*:*/*/*/admin"})),
        "policies.groups.g.Statement.Resource: `arn:aws:execute-api:*:*:*/*/*/admin` names partition `aws`, but this API is in \
         `aws-cn`: it could never match (write `aws-cn`, or `*` for any partition)"
    );
    assert!(refused("us-east-1", json!([{"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "*", "NotResource": ["execute-api:/*", "arn:aws-us-gov:execute-api:*:*:*/*"]}]))
        .starts_with("policies.groups.g.Statement[1].NotResource[1]: `arn:aws-us-gov:execute-api:*:*:*/*` names partition `aws-us-gov`"));
    assert!(refused("us-gov-east-1", json!({"Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"ArnNotLike": {"claim:custom:role": ["arn:aws-us-gov:iam::*:role/x", "arn:aws:iam::*:role/x"]}}}))
        .starts_with("policies.groups.g.Statement.Condition.ArnNotLike.claim:custom:role[1]: `arn:aws:iam::*:role/x` names partition `aws`"));
    // Partitions are case-sensitive like the rest of the ARN.
    assert!(refused("us-east-1", json!({"Effect": "Deny", "Action": "*", "Resource": "arn:AWS:execute-api:*:*:*/*"}))
        .contains("names partition `AWS`"));
    // A wildcard that cannot match the API's partition loads, with a warning.
    let warned = store_in("cn-north-1", json!({"groups": {"g": {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "arn:aws-us-*:execute-api:*:*:*/*"}}}})).unwrap();
    assert!(
        warned.warnings()[0].to_string().contains("its partition never matches `aws-cn`"),
        "{:?}",
        warned.warnings()
    );
}

/// A region in a partition this authorizer does not know (the ISO and sovereign clouds) is refused at load,
/// with its path, rather than given `arn:aws` method ARNs.
#[test]
fn regions_of_unknown_partitions_are_refused() {
    for region in ["us-iso-east-1", "us-isob-east-1", "eusc-de-east-1", "local"] {
        let config = json!({
            "api": {"region": region, "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
            "issuers": [{"issuer": "https://issuer.example", "jwks": {"keys": [authz_testkit::mint::DevKey::generate_ed25519("k").unwrap().public_jwk()]},
                         "token_use": ["access"], "client_ids": null}]
        });
        let err = crate::Config::from_json(config.to_string().as_bytes()).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("api.region: `{region}` is in no partition this authorizer knows (aws, aws-cn, aws-us-gov)")
        );
    }
}

/// Decides `method path` for a token with `claims` merged over a minted access token (`"$remove"` removes one),
/// under `policies` for the token's group `g`, with one route per `(method, path, scopes)`.
fn decide_with_claims(policies: Value, routes: Value, method: &str, path: &str, claims: Value) -> (u16, String) {
    use crate::{Authorizer, HttpRequest};
    use authz_testkit::mint::{CognitoClaims, DevKey};
    let key = DevKey::generate_ed25519("k1").unwrap();
    let issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test";
    let config = json!({
        "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
        "issuers": [{"issuer": issuer, "jwks": {"keys": [key.public_jwk()]}, "token_use": ["access"], "client_ids": ["app"]}],
        "routes": routes,
        "policies": {"groups": {"g": policies}}
    });
    let authorizer = Authorizer::from_json(config.to_string().as_bytes()).unwrap();
    let now = 1_763_800_000;
    let mut token =
        CognitoClaims::access(issuer, "app", "alice", now).groups(&["g"]).valid(now - 10, now + 3600).to_json();
    for (name, value) in claims.as_object().unwrap() {
        match value {
            Value::String(remove) if remove == "$remove" => token.as_object_mut().unwrap().remove(name),
            value => token.as_object_mut().unwrap().insert(name.clone(), value.clone()),
        };
    }
    let request = HttpRequest {
        method: method.into(),
        path: path.into(),
        headers: vec![("authorization".to_owned(), format!("Bearer {}", key.sign(&token)))],
        source_ip: None,
        secure_transport: Some(true),
    };
    let decision = authorizer.authorize(&request, now);
    (decision.status(), decision.reason.to_string())
}

/// RFC 6749 §3.3: scope tokens are separated by U+0020. The route check and `claim:scope` read the claim through
/// one function, so no token can fail a route's scope yet satisfy a policy on the same scope (or the reverse):
/// a `scope` holding other whitespace is refused as a whole.
#[test]
fn one_scope_word_for_routes_and_policies() {
    let policies = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Admins", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/*/admin",
         "Condition": {"ForAnyValue:StringEquals": {"claim:scope": "api/admin"}}},
        {"Sid": "Read", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/scoped"}]});
    let routes =
        json!([{"method": "GET", "path": "/scoped", "scopes": ["api/read"]}, {"method": "ANY", "path": "/{proxy+}"}]);
    let decide = |path: &str, scope: &str| {
        decide_with_claims(policies.clone(), routes.clone(), "GET", path, json!({"scope": scope}))
    };
    assert_eq!(decide("/scoped", "api/read").0, 200);
    assert_eq!(decide("/scoped", "openid  api/read ").0, 200);
    assert_eq!(decide("/admin", "openid api/admin").0, 200);
    for scope in ["api/read\tapi/admin", "api/read\u{3000}api/admin", "openid\u{a0}api/read", "api/read\napi/admin"] {
        for path in ["/scoped", "/admin"] {
            let (status, reason) = decide(path, scope);
            assert_eq!(status, 401, "{path} {}: {reason}", scope.escape_debug());
            assert!(reason.contains("scope"), "{reason}");
        }
    }
}

/// Issue 13 items 4 and 6 through the whole authorizer: a list never skips a Deny written with a plain operator,
/// and a claim that cannot be read whole (objects, `null`, nested lists, two claims answering one key) neither
/// satisfies an Allow nor skips a Deny.
#[test]
fn lists_and_unreadable_claims_fail_closed() {
    let policies = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Pets", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/*/pets*"},
        {"Sid": "Readers", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/reports",
         "Condition": {"ForAllValues:StringEquals": {"claim:custom:roles": ["reader"]}, "Null": {"claim:custom:roles": "false"}}},
        {"Sid": "Scoped", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/scoped",
         "Condition": {"ForAnyValue:StringEquals": {"claim:scope": "x/read"}}},
        {"Sid": "AcmeOnly", "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/*/pets*",
         "Condition": {"StringNotEquals": {"claim:custom:tenant": "acme"}}},
        {"Sid": "Blocked", "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*",
         "Condition": {"ForAnyValue:StringEquals": {"claim:custom:flags": "blocked"}}}]});
    let routes = json!([{"method": "ANY", "path": "/{proxy+}"}]);
    let decide = |path: &str, claims: Value| decide_with_claims(policies.clone(), routes.clone(), "GET", path, claims);
    let cases: [(&str, Value, u16, &str); 17] = [
        ("/pets", json!({"custom:tenant": "acme"}), 200, "(Pets)"),
        ("/pets", json!({"custom:tenant": "evil"}), 403, "(AcmeOnly)"),
        // The issue's example: the same tenant as a list.
        ("/pets", json!({"custom:tenant": ["evil"]}), 403, "(AcmeOnly)"),
        ("/pets", json!({"custom:tenant": ["acme", "evil"]}), 403, "(AcmeOnly)"),
        ("/pets", json!({"custom:tenant": ["acme"]}), 200, "(Pets)"),
        ("/pets", json!({"custom:tenant": {"name": "acme"}}), 403, "(AcmeOnly)"),
        ("/pets", json!({"custom:tenant": "acme", "custom:TENANT": "evil"}), 403, "(AcmeOnly)"),
        ("/reports", json!({"custom:roles": ["reader"]}), 200, "(Readers)"),
        (
            "/reports",
            json!({"custom:roles": ["reader", {"admin": true}]}),
            403,
            "Condition.ForAllValues:StringEquals.claim:custom:roles cannot be decided",
        ),
        ("/reports", json!({"custom:roles": ["reader", null]}), 403, "cannot be decided"),
        ("/reports", json!({"custom:roles": ["reader", ["admin"]]}), 403, "cannot be decided"),
        ("/reports", json!({"custom:roles": null}), 403, "cannot be decided"),
        ("/reports", json!({"custom:tenant": "acme", "custom:flags": ["ok", ["blocked"]]}), 403, "(Blocked)"),
        ("/reports", json!({"custom:roles": ["reader"], "custom:flags": ["ok"]}), 200, "(Readers)"),
        ("/scoped", json!({"scope": "x/read"}), 200, "(Scoped)"),
        // A second claim spelling `scope` cannot add a scope the route check never saw.
        ("/scoped", json!({"scope": "openid", "Scope": "x/read"}), 403, "cannot be decided"),
        ("/scoped", json!({"scope": "$remove", "SCOPE": "x/read"}), 403, "cannot be decided"),
    ];
    for (path, claims, status, reason) in cases {
        let (actual, why) = decide(path, claims.clone());
        assert_eq!(actual, status, "{path} {claims}: {why}");
        assert!(why.contains(reason), "{path} {claims}: `{why}` lacks `{reason}`");
    }
}

/// A variable naming a multi-valued key is undecided wherever the key holds a list, default or not: loading says so.
#[test]
fn a_multi_valued_variable_is_linted_even_with_a_default() {
    let store = store(json!({"groups": {"g": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/g/${claim:cognito:groups, 'none'}"},
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*", "Condition": {"StringEquals": {"aws:username": "${claim:scope}"}}},
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/u/${claim:custom:x, 'y'}"}
    ]}}}))
    .unwrap();
    let warnings: Vec<String> = store.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(warnings[0].starts_with("policies.groups.g.Statement[0].Resource: variable `${claim:cognito:groups}` names a multi-valued key, which never substitutes (nor does its default)"), "{}", warnings[0]);
    assert!(warnings[1].starts_with("policies.groups.g.Statement[1].Condition.StringEquals.aws:username: variable `${claim:scope}` names a multi-valued key"), "{}", warnings[1]);
}

/// F3: a literal verb after a `*` in the api id or stage is not anchored (`*` crosses `/`), so an Allow's
/// Resource (or a Deny's NotResource) also takes other methods on paths holding the verb. IAM matches so; the
/// warning says how to anchor it.
#[test]
fn a_verb_after_a_wildcard_stage_is_warned_about() {
    let store = store(json!({"groups": {"g": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ["execute-api:/*/GET/pets/*", "arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status",
            "execute-api:/dev/GET/pets/*", "arn:aws:execute-api:*:*:*/*/*/pets/*", "arn:aws:execute-api:*:*:a1b2c3d4e5/dev/POST/*"]},
        {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "execute-api:/*/DELETE/*"},
        {"Effect": "Deny", "Action": "execute-api:Invoke", "NotResource": "arn:aws:execute-api:*:*:*/*/GET/*"},
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:*/dev/PUT"},
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/*/POST/*"}
    ]}}}))
    .unwrap();
    let warnings: Vec<String> = store.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(warnings, [
        "policies.groups.g.Statement[0].Resource[0]: `arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/*/GET/pets/*`: the `*` before `GET` can stand \
         for several segments, so this also matches other methods on paths holding `/GET/` (`POST /x/GET/...`); write the stage literally, as in \
         `execute-api:/dev/GET/pets/*`",
        "policies.groups.g.Statement[0].Resource[1]: `arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status`: the `*` before `GET` can stand for several \
         segments, so this also matches other methods on paths holding `/GET/` (`POST /x/GET/...`); write the stage literally, as in \
         `execute-api:/dev/GET/petstore/v2/status`",
        "policies.groups.g.Statement[2].NotResource: `arn:aws:execute-api:*:*:*/*/GET/*`: the `*` before `GET` can stand for several segments, so this also \
         matches other methods on paths holding `/GET/` (`POST /x/GET/...`); write the stage literally, as in `execute-api:/dev/GET/*`",
        "policies.groups.g.Statement[3].Resource: `arn:aws:execute-api:*:*:*/dev/PUT`: the `*` before `PUT` can stand for several segments, so this also \
         matches other methods on paths holding `/PUT/` (`POST /x/PUT/...`); write the stage literally, as in `execute-api:/dev/PUT/*`",
        "policies.groups.g.Statement[4].Resource: `arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/*/POST/*`: the `*` before `POST` can stand for \
         several segments, so this also matches other methods on paths holding `/POST/` (`DELETE /x/POST/...`); write the stage literally, as in \
         `execute-api:/dev/POST/*`",
    ]);
    // What it warns about: IAM's `*` takes the stage, the verb and a path prefix (matching is unchanged).
    let g = ["g".to_owned()];
    let arn = |rest: &str| format!("arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/{rest}");
    assert_eq!(
        evaluate(&store, &principal(&g), &arn("dev/POST/x/GET/pets/1"), &NoContext).decision,
        PolicyDecision::Allow
    );
    // The anchored spelling does not.
    let anchored = self::store(json!({"groups": {"g": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/pets/*"}]}}}))
    .unwrap();
    assert!(anchored.warnings().is_empty());
    assert_eq!(
        evaluate(&anchored, &principal(&g), &arn("dev/POST/x/GET/pets/1"), &NoContext).decision,
        PolicyDecision::ImplicitDeny
    );
    assert_eq!(evaluate(&anchored, &principal(&g), &arn("dev/GET/pets/1"), &NoContext).decision, PolicyDecision::Allow);
}

/// FG3: `ForAllValues:` holds when its key is absent, so an Allow with it and nothing else on the key applies
/// to every token without the key, a misspelt claim included.
#[test]
fn for_all_values_in_an_allow_needs_a_guard() {
    let store = store(json!({"groups": {"g": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/*",
         "Condition": {"ForAllValues:StringEquals": {"claim:cognito:group": ["admins"]}}},
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/*",
         "Condition": {"ForAllValues:StringLikeIfExists": {"claim:custom:roles": "read*"}, "Null": {"claim:custom:roles": "true"}}},
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/*",
         "Condition": {"ForAllValues:StringEquals": {"claim:teams": "a"}}},
        // Guarded three ways; a Deny needs no guard (absent: it applies).
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/*",
         "Condition": {"ForAllValues:StringEquals": {"claim:cognito:groups": "a"}, "Null": {"CLAIM:Cognito:Groups": "false"}}},
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/*",
         "Condition": {"ForAllValues:StringEquals": {"claim:cognito:groups": "a"}, "ForAnyValue:StringEquals": {"claim:cognito:groups": "a"}}},
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/*",
         "Condition": {"ForAllValues:StringEquals": {"claim:custom:x": "a"}, "StringLike": {"claim:custom:x": "*"}}},
        {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/*",
         "Condition": {"ForAllValues:StringNotEquals": {"claim:cognito:groups": "a"}}}
    ]}}}))
    .unwrap();
    let warnings: Vec<String> = store.warnings().iter().map(ToString::to_string).collect();
    let message = |key: &str, note: &str| {
        format!("`ForAllValues:` holds when `{key}` is absent or empty, so this Allow applies to every token without it{note}; add `\"Null\": {{\"{key}\": \"false\"}}` to the block")
    };
    assert_eq!(
        warnings,
        [
            format!(
                "policies.groups.g.Statement[0].Condition.ForAllValues:StringEquals.claim:cognito:group: {}",
                message("claim:cognito:group", " (`cognito:group` is no claim Cognito writes; `cognito:groups` is)")
            ),
            format!(
                "policies.groups.g.Statement[1].Condition.ForAllValues:StringLikeIfExists.claim:custom:roles: {}",
                message("claim:custom:roles", "")
            ),
            format!(
                "policies.groups.g.Statement[2].Condition.ForAllValues:StringEquals.claim:teams: {}",
                message(
                    "claim:teams",
                    " (`teams` is no claim Cognito writes: only a pre-token-generation trigger can add it)"
                )
            ),
        ]
    );
    // What it warns about: a token without the claim gets the Allow.
    let g = ["g".to_owned()];
    let only_first = self::store(json!({"groups": {"g": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "execute-api:Invoke",
        "Resource": "execute-api:/dev/*", "Condition": {"ForAllValues:StringEquals": {"claim:cognito:group": ["admins"]}}}}}})).unwrap();
    let readers = MapContext::new().with_list("claim:cognito:groups", &["readers"]);
    assert_eq!(evaluate(&only_first, &principal(&g), ARN, &readers).decision, PolicyDecision::Allow);
}

/// The `?` wildcard where a query was meant, and a standalone document gets the warnings that need no API.
#[test]
fn query_shaped_resources_and_standalone_warnings() {
    let store = store(json!({"groups": {"g": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": ["execute-api:/dev/GET/pets/x4?y=1", "execute-api:/dev/GET/pets/?/a=b"]}]}}}))
    .unwrap();
    let warnings: Vec<String> = store.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(warnings, ["policies.groups.g.Statement[0].Resource[0]: `arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/pets/x4?y=1`: \
        `?` is a one-character wildcard here, not a query: a method ARN never holds the query string"]);
    let standalone = StandalonePolicy::compile(
        &json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:*/*/GET/*",
         "Condition": {"ForAllValues:StringEquals": {"claim:cognito:groups": "a"}}}]}),
        &api(),
    )
    .unwrap();
    let warnings: Vec<String> = standalone.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings[0]
            .starts_with("policy.Statement[0].Resource: `arn:aws:execute-api:*:*:*/*/GET/*`: the `*` before `GET`"),
        "{}",
        warnings[0]
    );
    assert!(warnings[0].ends_with("as in `execute-api:/STAGE/GET/*`"), "{}", warnings[0]);
    assert!(
        warnings[1].starts_with(
            "policy.Statement[0].Condition.ForAllValues:StringEquals.claim:cognito:groups: `ForAllValues:` holds when"
        ),
        "{}",
        warnings[1]
    );
}

/// FG2 and F2 through the store: a resource spelled as no request is refuses the configuration with its path,
/// and a user name holding `/` reaches nobody's subtree.
#[test]
fn misspelt_resources_are_refused_and_variables_stay_in_their_segment() {
    let refused = |resource: &str| {
        store(json!({"groups": {"g": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"},
            {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": ["execute-api:/dev/*/admin", resource]}]}}}))
        .unwrap_err()
        .to_string()
    };
    assert_eq!(refused("execute-api:/dev/GET/pets/%24metadata"),
        "policies.groups.g.Statement[1].Resource[1]: `arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/pets/%24metadata` can never match a \
         request: requests spell `a1b2c3d4e5/dev/GET/pets/%24metadata` as `a1b2c3d4e5/dev/GET/pets/$metadata`");
    assert!(refused("execute-api:/*/GET/pets//x2").ends_with("requests spell `/GET/pets//x2` as `/GET/pets/x2`"));
    assert!(refused("execute-api:/*/GET/pets/caf\u{e9}").contains("is never in a request's path"));

    let store = store(json!({"groups": {"customers": {"Version": "2012-10-17", "Statement": [
        {"Sid": "OwnData", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/*/GET/users/${aws:username}/*"},
        {"Sid": "NoSecrets", "Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/users/${aws:username}/secret"}]}}}))
    .unwrap();
    let customers = ["customers".to_owned()];
    let arn = |path: &str| format!("arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/{path}");
    let as_user = |user: &str, path: &str| {
        evaluate(&store, &principal(&customers), &arn(path), &MapContext::new().with("aws:username", user))
    };
    assert_eq!(as_user("bob", "users/bob/docs/1").decision, PolicyDecision::Allow);
    let bob_docs = as_user("bob/docs", "users/bob/docs/1");
    assert_eq!(bob_docs.decision, PolicyDecision::ImplicitDeny);
    assert!(
        bob_docs.why().unwrap().to_string().contains("(OwnData): Resource cannot be decided"),
        "{:?}",
        bob_docs.why()
    );
    // The Deny written for the user applies to them, whatever their name holds.
    assert_eq!(as_user("jos\u{e9}", "users/jos%C3%A9/secret").decision, PolicyDecision::ExplicitDeny);
    assert_eq!(as_user("..", "users/x/secret").decision, PolicyDecision::ExplicitDeny);
    assert_eq!(as_user("bob/docs", "pets/1").decision, PolicyDecision::ImplicitDeny);
}

/// Documents are read from their text in document order, but judged as a whole: the errors and their order do not
/// depend on the order the elements are written in.
#[test]
fn documents_read_from_text_are_judged_whatever_the_order_of_their_elements() {
    let from_text = |text: &str| {
        let raw: RawPolicies = serde_json::from_str(text).unwrap();
        PolicyStore::compile(&raw, &api(), "policies").map(|_| ()).unwrap_err()
    };
    // `Version` after `Statement` still decides whether `${...}` is a variable.
    let err = from_text(
        r#"{"groups": {"g": {"Statement": [{"Effect": "Allow", "Action": "execute-api:${aws:username}", "Resource": "*"}], "Version": "2012-10-17"}}}"#,
    );
    assert_eq!(
        (err.path.as_str(), err.message.as_str()),
        ("policies.groups.g.Statement[0].Action", "policy variables are not allowed in actions")
    );
    // Of several names that are no element, the first in byte order, before any element's value is judged.
    let err = from_text(
        r#"{"groups": {"g": {"Version": "2012-10-17", "Statement": {"Zeta": 1, "Effect": "Maybe", "Principal": "*", "Alpha": 2}}}}"#,
    );
    assert_eq!(
        (err.path.as_str(), err.message.as_str()),
        ("policies.groups.g.Statement.Alpha", "unknown statement element")
    );
    let err =
        from_text(r#"{"groups": {"g": {"Version": "2012-10-17", "Statement": {"Resource": "*", "Principal": "*"}}}}"#);
    assert_eq!(err.path, "policies.groups.g.Statement.Principal");
    let err = from_text(r#"{"groups": {"g": [{"Statement": [], "b": 1, "a": 2}]}}"#);
    assert_eq!((err.path.as_str(), err.message.as_str()), ("policies.groups.g[0].a", "unknown policy element"));
    // A `RawPolicies` read without the configuration's check for duplicate names still refuses them.
    let err = from_text(
        r#"{"groups": {"g": {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", "Effect": "Allow"}]}}}"#,
    );
    assert_eq!(
        (err.path.as_str(), err.message.as_str()),
        ("policies.groups.g.Statement[0]", "duplicate member name `Effect`")
    );
    let err = from_text(r#"{"groups": {"g": {"Version": "2012-10-17", "Version": "2008-10-17", "Statement": []}}}"#);
    assert_eq!((err.path.as_str(), err.message.as_str()), ("policies.groups.g", "duplicate member name `Version`"));
    // Elements of the wrong type, in whatever shape, are named with their path.
    for (statement, path, message) in [
        (
            r#"{"Effect": ["Allow"], "Action": "*", "Resource": "*"}"#,
            "policies.groups.g.Statement.Effect",
            "must be exactly `Allow` or `Deny`",
        ),
        (
            r#"{"Effect": "Allow", "Action": {"a": [1]}, "Resource": "*"}"#,
            "policies.groups.g.Statement.Action",
            "expected a string or a list of strings",
        ),
        (
            r#"{"Effect": "Allow", "Action": ["*", null], "Resource": "*"}"#,
            "policies.groups.g.Statement.Action[1]",
            "expected a string",
        ),
        (
            r#"{"Effect": "Allow", "Action": "*", "Resource": []}"#,
            "policies.groups.g.Statement.Resource",
            "expected at least one value",
        ),
        (
            r#"{"Sid": 1, "Effect": "Allow", "Action": "*", "Resource": "*"}"#,
            "policies.groups.g.Statement.Sid",
            "expected a string",
        ),
    ] {
        let err = from_text(&format!(r#"{{"groups": {{"g": {{"Statement": {statement}}}}}}}"#));
        assert_eq!((err.path.as_str(), err.message.as_str()), (path, message), "{statement}");
    }
    let err =
        from_text(r#"{"groups": {"g": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, "x"]}}}"#);
    assert_eq!((err.path.as_str(), err.message.as_str()), ("policies.groups.g.Statement[1]", "expected an object"));
    let err = from_text(r#"{"groups": {"g": [1]}}"#);
    assert_eq!(
        (err.path.as_str(), err.message.as_str()),
        ("policies.groups.g[0]", "expected a policy document object")
    );
}
