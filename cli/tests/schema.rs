//! `policies/authz.schema.json` held to the loader by a real JSON Schema validator (Python's `jsonschema`, Draft
//! 2020-12, pinned in `cli/tests/schema/requirements.txt`, installed into a cached virtual environment):
//!
//! - every configuration the project ships (the examples' inline ones, every scenario corpus's, every policy of the
//!   policy corpus inside a configuration) that the loader accepts, the schema accepts: the schema never refuses a
//!   configuration the filter would load;
//! - a set of invalid configurations, one mistake each, is refused by both;
//! - what only the loader can see (key sizes, shadowed routes, reserved header names, partitions, paths) the schema
//!   accepts and the loader refuses: listed here so that the boundary is known, not guessed.
//!
//! `authz config schema` prints the same file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use authz_testkit::scenario::Scenario;
use common::{arg, authz, python_env, scratch, workspace};
use serde_json::{json, Value};

/// Prints, for each document of the list in argv[2], the schema's errors (none when valid).
const VALIDATOR: &str = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema)
answers = []
for document in json.load(open(sys.argv[2])):
    errors = sorted(validator.iter_errors(document), key=lambda error: list(error.absolute_path))
    answers.append(["/".join(map(str, error.absolute_path)) + ": " + error.message for error in errors][:3])
print(json.dumps(answers))
"#;

/// The schema's errors for each document, by a real validator.
fn schema_errors(documents: &[Value]) -> Vec<Vec<String>> {
    // One environment for the tests of this binary, which run in parallel: made by the first, awaited by the others.
    static PYTHON: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    let python = PYTHON.get_or_init(|| python_env(&workspace().join("cli/tests/schema/requirements.txt")));
    let dir = scratch("schema");
    let list = dir.join("documents.json");
    std::fs::write(&list, Value::from(documents.to_vec()).to_string()).unwrap();
    let output = std::process::Command::new(python)
        .args(["-c", VALIDATOR])
        .arg(workspace().join("policies/authz.schema.json"))
        .arg(&list)
        .output()
        .unwrap();
    assert!(output.status.success(), "the validator failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

fn loads(document: &Value) -> Result<(), String> {
    authz::Config::from_json(document.to_string().as_bytes()).map(drop).map_err(|err| err.to_string())
}

/// The configurations the project ships, by name.
fn shipped() -> Vec<(String, Value)> {
    let mut documents = Vec::new();
    for path in authz_testkit::scenario::json_files(&workspace().join("policies/scenarios")).unwrap() {
        let scenario = Scenario::load(&std::fs::read_to_string(&path).unwrap()).unwrap();
        documents.push((path.display().to_string(), scenario.config));
    }
    let manifest = |file: &str, pointer: &str| {
        let text = std::fs::read_to_string(workspace().join("examples").join(file)).unwrap();
        let document: Value = yaml_serde::from_str(&text).unwrap();
        (format!("examples/{file}"), document.pointer(pointer).unwrap().clone())
    };
    documents.push(manifest("istio-wasmplugin.yaml", "/spec/pluginConfig"));
    documents.push(manifest("envoy-gateway.yaml", "/spec/wasm/0/config"));
    let envoy = std::fs::read_to_string(workspace().join("examples/envoy.yaml")).unwrap();
    let envoy: Value = yaml_serde::from_str(&envoy).unwrap();
    let value = envoy
        .pointer("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters/0/typed_config/config/configuration/value")
        .and_then(Value::as_str)
        .unwrap();
    documents.push(("examples/envoy.yaml".into(), serde_json::from_str(value).unwrap()));
    documents
}

/// A configuration to put mistakes into: the petstore corpus's, its keys minted once per run.
fn base() -> Value {
    static BASE: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    BASE.get_or_init(|| {
        let text = std::fs::read_to_string(workspace().join("policies/scenarios/petstore.json")).unwrap();
        Scenario::load(&text).unwrap().config
    })
    .clone()
}

/// `base` with the member at `pointer` set to `value` (`null`: removed).
fn with(pointer: &str, value: Value) -> Value {
    let mut document = base();
    let (parent, member) = pointer.rsplit_once('/').unwrap();
    let target = document.pointer_mut(parent).unwrap_or_else(|| panic!("no {parent}"));
    match (target, member.parse::<usize>()) {
        (Value::Array(items), Ok(index)) if value.is_null() => drop(items.remove(index)),
        (Value::Array(items), Ok(index)) if index == items.len() => items.push(value),
        (Value::Array(items), Ok(index)) => items[index] = value,
        (Value::Object(members), _) if value.is_null() => drop(members.remove(member)),
        (Value::Object(members), _) => drop(members.insert(member.to_owned(), value)),
        (other, _) => panic!("{pointer}: not a container: {other}"),
    }
    document
}

fn statement(members: Value) -> Value {
    let mut statement =
        json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/*"});
    statement.as_object_mut().unwrap().extend(members.as_object().unwrap().clone());
    with("/policies/groups/g", json!({"Version": "2012-10-17", "Statement": [statement]}))
}

/// One mistake each, which both the schema and the loader must refuse.
fn refused_by_both() -> Vec<(&'static str, Value)> {
    let drop = Value::Null;
    let jwk = |members: Value| {
        let mut key = base()["issuers"][0]["jwks"]["keys"][0].clone();
        for (name, value) in members.as_object().unwrap() {
            if value.is_null() {
                key.as_object_mut().unwrap().remove(name);
            } else {
                key[name] = value.clone();
            }
        }
        with("/issuers/0/jwks/keys/0", key)
    };
    vec![
        ("an unknown member", with("/extra", json!(1))),
        ("no api", with("/api", drop.clone())),
        ("a short account id", with("/api/account_id", json!("12345"))),
        ("no issuer", with("/issuers", json!([]))),
        ("no client_ids", with("/issuers/0/client_ids", drop.clone())),
        ("an empty client list", with("/issuers/0/client_ids", json!([]))),
        (
            "an issuer with a trailing slash",
            with("/issuers/0/issuer", json!("https://cognito-idp.us-east-1.amazonaws.com/x/")),
        ),
        ("an http issuer", with("/issuers/0/issuer", json!("http://cognito-idp.us-east-1.amazonaws.com/x"))),
        ("no keys", with("/issuers/0/jwks/keys", json!([]))),
        ("neither jwks nor remote_jwks", with("/issuers/0/jwks", drop.clone())),
        ("remote_jwks without a uri", with("/issuers/0/remote_jwks", json!({"cluster": "idp"}))),
        (
            "remote_jwks without a path",
            with("/issuers/0/remote_jwks", json!({"cluster": "idp", "uri": "https://idp.example"})),
        ),
        (
            "remote_jwks with a query",
            with("/issuers/0/remote_jwks", json!({"cluster": "idp", "uri": "https://i/p?a=1"})),
        ),
        (
            "remote_jwks refreshed every second",
            with("/issuers/0/remote_jwks", json!({"cluster": "c", "uri": "https://i/p", "refresh_seconds": 1})),
        ),
        (
            "remote_jwks without a timeout",
            with("/issuers/0/remote_jwks", json!({"cluster": "c", "uri": "https://i/p", "timeout_ms": 0})),
        ),
        (
            "a remote_jwks member",
            with("/issuers/0/remote_jwks", json!({"cluster": "c", "uri": "https://i/p", "url": "x"})),
        ),
        ("a cluster with a space", with("/issuers/0/remote_jwks", json!({"cluster": "a b", "uri": "https://i/p"}))),
        (
            "password_auth without a client id",
            with("/password_auth", json!({"cluster": "idp", "authority": "idp.example"})),
        ),
        (
            "password_auth with a path in its authority",
            with("/password_auth", json!({"cluster": "idp", "authority": "idp.example/x", "client_id": "app"})),
        ),
        (
            "password_auth with a dashed client id",
            with("/password_auth", json!({"cluster": "idp", "authority": "idp.example", "client_id": "a-b"})),
        ),
        (
            "password_auth with an empty secret",
            with(
                "/password_auth",
                json!({"cluster": "idp", "authority": "i", "client_id": "app", "client_secret": ""}),
            ),
        ),
        (
            "password_auth cached for a day",
            with(
                "/password_auth",
                json!({"cluster": "idp", "authority": "i", "client_id": "app", "cache_seconds": 86400}),
            ),
        ),
        (
            "password_auth cached for no time",
            with("/password_auth", json!({"cluster": "idp", "authority": "i", "client_id": "app", "cache_seconds": 0})),
        ),
        (
            "a password_auth member",
            with("/password_auth", json!({"cluster": "idp", "authority": "i", "client_id": "app", "password": "x"})),
        ),
        ("a key without alg", jwk(json!({"alg": null}))),
        ("a symmetric alg", jwk(json!({"alg": "HS256"}))),
        ("an RSA key bound to ES256", jwk(json!({"alg": "ES256"}))),
        ("an RSA key without n", jwk(json!({"n": null}))),
        ("an encryption key", jwk(json!({"use": "enc"}))),
        ("key_ops without verify", jwk(json!({"key_ops": ["sign"]}))),
        ("a private member", jwk(json!({"d": "AQAB"}))),
        ("a refresh token_use", with("/issuers/0/token_use", json!(["refresh"]))),
        ("an empty token_use", with("/issuers/0/token_use", json!([]))),
        ("an empty route list", with("/routes", json!([]))),
        ("a method API Gateway does not route", with("/routes/1/method", json!("FETCH"))),
        ("an unknown auth", with("/routes/0/auth", json!("open"))),
        ("a public route with scopes", with("/routes/0/scopes", json!(["s"]))),
        ("a scope with a space", with("/routes/1/scopes", json!(["a b"]))),
        ("an empty scope list", with("/routes/1/scopes", json!([]))),
        ("a relative route path", with("/routes/1/path", json!("products"))),
        ("too much clock skew", with("/clock_skew_seconds", json!(301))),
        ("a negative cache size", with("/token_cache_size", json!(-1))),
        ("a huge cache", with("/token_cache_size", json!(70_000))),
        ("a tiny token limit", with("/max_token_bytes", json!(100))),
        ("a tiny header limit", with("/request", json!({"max_header_bytes": 10}))),
        ("KEEP_UNCHANGED", with("/request", json!({"path_with_escaped_slashes_action": "KEEP_UNCHANGED"}))),
        ("a string for a boolean", with("/request", json!({"normalize_path": "false"}))),
        ("an empty token source", with("/token_source", json!({}))),
        ("two token sources", with("/token_source", json!({"header": "x-a", "cookie": "b"}))),
        ("a cookie name with =", with("/token_source", json!({"cookie": "a=b"}))),
        ("an unknown forward_token", with("/forward_token", json!("always"))),
        ("an unknown log level", with("/decision_log", json!({"deny": "loud"}))),
        ("a decision_log member", with("/decision_log", json!({"refuse": "info"}))),
        ("an unknown decision_record", with("/decision_record", json!("denials"))),
        ("a decision_record flag", with("/decision_record", json!(false))),
        ("an upper-case identity header", with("/identity_headers", json!({"sub": "X-Sub"}))),
        ("too many trusted hops", with("/source_ip", json!({"xff_num_trusted_hops": 17}))),
        ("all_issuers in an issuer's policies", with("/issuers/0/policies", json!({"all_issuers": true}))),
        ("an unknown policies member", with("/policies/roles", json!({}))),
        ("a principal", statement(json!({"Principal": "*"}))),
        ("a lower-case effect", statement(json!({"Effect": "allow"}))),
        ("Action and NotAction", statement(json!({"NotAction": "execute-api:Invoke"}))),
        ("no action", with("/policies/groups/g", json!({"Statement": {"Effect": "Allow", "Resource": "*"}}))),
        ("an empty action list", statement(json!({"Action": []}))),
        ("an unknown operator", statement(json!({"Condition": {"StringMatches": {"aws:UserAgent": "x"}}}))),
        ("Null with IfExists", statement(json!({"Condition": {"NullIfExists": {"aws:UserAgent": "true"}}}))),
        ("an operator without keys", statement(json!({"Condition": {"StringEquals": {}}}))),
        (
            "a condition value that is an object",
            statement(json!({"Condition": {"StringEquals": {"aws:UserAgent": {"a": 1}}}})),
        ),
        ("an unknown version", with("/policies/groups/g", json!({"Version": "2012-10-18", "Statement": []}))),
        ("no Statement", with("/policies/groups/g", json!({"Version": "2012-10-17"}))),
    ]
}

/// Mistakes only the loader can see; the schema, which checks shape, accepts them.
fn refused_by_the_loader_only() -> Vec<(&'static str, Value)> {
    let mut two_pools = base();
    let mut second = two_pools["issuers"][0].clone();
    second["issuer"] = json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Second");
    two_pools["issuers"].as_array_mut().unwrap().push(second);
    vec![
        ("an RSA modulus under 2048 bits", with("/issuers/0/jwks/keys/0/n", json!("AQAB"))),
        ("a route an earlier one shadows", with("/routes/4", json!({"method": "GET", "path": "/petstore/x"}))),
        ("a route path with a dot segment", with("/routes/1/path", json!("/a/../products"))),
        ("a reserved identity header", with("/identity_headers", json!({"sub": "cookie"}))),
        ("a resource in another partition", statement(json!({"Resource": "arn:aws-cn:execute-api:*:*:*/dev/GET/*"}))),
        ("shared policies over two pools without all_issuers", two_pools),
        ("a scoped route that takes ID tokens only", with("/routes/1/token_use", json!(["id"]))),
    ]
}

#[test]
fn the_schema_accepts_every_configuration_the_project_ships() {
    let documents = shipped();
    assert!(documents.len() >= 10, "{}", documents.len());
    for (name, document) in &documents {
        loads(document).unwrap_or_else(|err| panic!("{name}: the loader refuses it: {err}"));
    }
    let values: Vec<Value> = documents.iter().map(|(_, document)| document.clone()).collect();
    let errors = schema_errors(&values);
    let refused: Vec<String> = documents
        .iter()
        .zip(&errors)
        .filter(|(_, errors)| !errors.is_empty())
        .map(|((name, _), errors)| format!("{name}: {errors:?}"))
        .collect();
    assert!(refused.is_empty(), "the schema refuses what the loader loads:\n{}", refused.join("\n"));
}

/// Every policy of the policy corpus, inside a configuration: where the loader accepts it, so does the schema.
#[test]
fn the_schema_never_refuses_a_policy_the_loader_accepts() {
    let mut documents = Vec::new();
    for path in authz_testkit::scenario::json_files(&workspace().join("policies/policy-corpus")).unwrap() {
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for case in file["cases"].as_array().unwrap() {
            let name = format!("{}: {}", path.display(), case["name"]);
            documents.push((name, with("/policies", json!({"users": {"u": case["policy"].clone()}}))));
        }
    }
    let values: Vec<Value> = documents.iter().map(|(_, document)| document.clone()).collect();
    let errors = schema_errors(&values);
    let (mut accepted, mut wrong) = (0, Vec::new());
    for ((name, document), errors) in documents.iter().zip(&errors) {
        if loads(document).is_ok() {
            accepted += 1;
            if !errors.is_empty() {
                wrong.push(format!("{name}: {errors:?}"));
            }
        }
    }
    assert!(accepted >= 50, "only {accepted} corpus policies load");
    assert!(wrong.is_empty(), "the schema refuses policies the loader loads:\n{}", wrong.join("\n"));
}

#[test]
fn schema_and_loader_refuse_the_same_mistakes() {
    let both = refused_by_both();
    let only = refused_by_the_loader_only();
    let values: Vec<Value> = both.iter().chain(&only).map(|(_, document)| document.clone()).collect();
    let errors = schema_errors(&values);
    let mut wrong = Vec::new();
    for ((name, document), errors) in both.iter().zip(&errors) {
        if loads(document).is_ok() {
            wrong.push(format!("{name}: the loader accepts it"));
        }
        if errors.is_empty() {
            wrong.push(format!("{name}: the schema accepts it"));
        }
    }
    for ((name, document), errors) in only.iter().zip(&errors[both.len()..]) {
        if loads(document).is_ok() {
            wrong.push(format!("{name}: the loader accepts it"));
        }
        if !errors.is_empty() {
            wrong.push(format!("{name}: the schema refuses it ({errors:?}); move it to the mistakes both refuse"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Keys fetched by the filter, beside pushed keys or instead of them: both load and both pass the schema.
#[test]
fn remote_jwks_beside_or_instead_of_pushed_keys_passes_both() {
    let remote = json!({"cluster": "cognito_jwks", "uri": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example/.well-known/jwks.json",
                        "refresh_seconds": 3600, "timeout_ms": 2000});
    let beside = with("/issuers/0/remote_jwks", remote.clone());
    let mut instead = beside.clone();
    instead["issuers"][0].as_object_mut().unwrap().remove("jwks");
    let documents = [beside, instead];
    for document in &documents {
        loads(document).unwrap();
    }
    assert_eq!(schema_errors(&documents), vec![Vec::<String>::new(); 2]);
}

/// Username/password clients: a full `password_auth` loads and passes the schema.
#[test]
fn password_auth_passes_both() {
    let documents = [with(
        "/password_auth",
        json!({"cluster": "cognito_idp", "authority": "cognito-idp.us-east-1.amazonaws.com", "client_id": "7example0client",
               "client_secret": "s3cr3t", "cache_seconds": 300, "timeout_ms": 2000}),
    )];
    for document in &documents {
        loads(document).unwrap();
    }
    assert_eq!(schema_errors(&documents), vec![Vec::<String>::new(); 1]);
}

#[test]
fn authz_config_schema_prints_the_schema() {
    let run = authz(&["config", "schema"], "").expect_code(0);
    assert_eq!(run.stdout, std::fs::read_to_string(workspace().join("policies/authz.schema.json")).unwrap());
    let schema: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

/// `authz config validate` lists every error of every file, and exits 1 when any is refused.
#[test]
fn validate_lists_every_error_of_every_file() {
    let dir = scratch("validate-all");
    let good = dir.join("good.json");
    std::fs::write(&good, base().to_string()).unwrap();
    let mut bad = with("/api/account_id", json!("12"));
    bad["clock_skew_seconds"] = json!(900);
    bad["routes"][1]["method"] = json!("FETCH");
    let bad_file = dir.join("bad.json");
    std::fs::write(&bad_file, bad.to_string()).unwrap();
    let run = authz(&["config", "validate", arg(&good), arg(&bad_file)], "").expect_code(1);
    let errors: Vec<&str> = run.stdout.lines().filter(|line| line.starts_with("error: ")).collect();
    assert_eq!(errors.len(), 3, "{}", run.stdout);
    assert!(errors[0].starts_with("error: api.account_id: "), "{}", run.stdout);
    assert!(errors[1].starts_with("error: clock_skew_seconds: "), "{}", run.stdout);
    assert!(errors[2].starts_with("error: routes[1].method: "), "{}", run.stdout);
    assert!(run.stdout.contains(&format!("{}: valid\n", good.display())), "{}", run.stdout);
    assert!(run.stdout.ends_with(&format!("{}: refused\n", bad_file.display())), "{}", run.stdout);
    authz(&["config", "validate", arg(&good), arg(&dir.join("missing.json"))], "").expect_code(2);
}
