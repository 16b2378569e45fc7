//! Cognito as an emulator no one here wrote sees it (PyPI `moto[server]`, pinned in `e2e/tests/moto/requirements.txt`,
//! in a virtual environment the test makes under `~/.cache/authz-tools`): a user pool, an app client with a secret,
//! a resource server, a group and users are made through the Cognito API (boto3), users sign in with
//! `InitiateAuth` `USER_PASSWORD_AUTH` and `SECRET_HASH`, and the filter, configured with `remote_jwks` pointing
//! at the emulator's `/{pool}/.well-known/jwks.json`, decides their tokens in real Envoy and in the wasmtime host.
//! With `password_auth` pointed at the same emulator, Basic clients are exchanged by the filter itself (its own
//! `InitiateAuth` call with `SECRET_HASH`) and decided in both hosts: allowed with the token's identity and no
//! `Authorization` upstream, a wrong password or an unknown user `401 password_refused`, a group no policy allows 403.
//!
//! Emulator quirks, worked around or noted: moto signs every pool's tokens with one fixed key (`kid: "dummy"`),
//! so "another pool's token" is refused by its `iss`, not its key; access tokens from `USER_PASSWORD_AUTH` carry
//! only the `aws.cognito.signin.user.admin` scope (as Cognito's do); moto needs region and any credentials set.
//! For passwords (moto 5.2.5, checked by hand): moto does not check `SECRET_HASH` (a wrong or missing one signs in),
//! so this test shows the filter's call is accepted, not that its hash is right: the hash is held to Python's `hmac`
//! in `src/token/password.rs`; moto does not enforce `ExplicitAuthFlows` (a client without
//! `ALLOW_USER_PASSWORD_AUTH` signs in), so Cognito's `InvalidParameterException` for a client without the flow
//! (answered 503) cannot be shown here; the flow is enabled anyway, as Cognito needs; moto answers an unknown user
//! `UserNotFoundException` where Cognito, with `PreventUserExistenceErrors` on (the default for new clients),
//! answers `NotAuthorizedException`: the filter refuses both as `password_refused`; moto serves every service on
//! one port and picks the service of an unsigned request from `x-amz-target`, so the call's `:authority` stays
//! Cognito's own host name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use authz_e2e::{Harness, Options, Request};
use serde_json::{json, Value};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A virtual environment with the pinned requirements, made once and reused (see [`authz_testkit::python`]).
fn python_env(requirements: &Path) -> PathBuf {
    authz_testkit::python::python_env(requirements).unwrap_or_else(|err| panic!("{err}"))
}

/// `moto_server` on 127.0.0.1, stopped when dropped.
struct Moto {
    child: Child,
    addr: SocketAddr,
}

impl Moto {
    fn start(env: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(env.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start on {addr}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, addr }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Makes pools, clients, a group and users through the Cognito API, signs them in, and prints what the test needs.
const SETUP: &str = r#"
import base64, hashlib, hmac, json, sys, boto3
idp = boto3.client("cognito-idp", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
def pool(name):
    pool_id = idp.create_user_pool(PoolName=name)["UserPool"]["Id"]
    idp.create_resource_server(UserPoolId=pool_id, Identifier="pets", Name="pets",
                               Scopes=[{"ScopeName": "read", "ScopeDescription": "read pets"}])
    return pool_id
def client(pool_id, name):
    made = idp.create_user_pool_client(UserPoolId=pool_id, ClientName=name, GenerateSecret=True,
                                       ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    return made["UserPoolClient"]["ClientId"], made["UserPoolClient"]["ClientSecret"]
def user(pool_id, name, password, groups=()):
    idp.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=password, Permanent=True)
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=name, GroupName=group)
def sign_in(client_id, secret, name, password):
    digest = hmac.new(secret.encode(), (name + client_id).encode(), hashlib.sha256).digest()
    result = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": name, "PASSWORD": password, "SECRET_HASH": base64.b64encode(digest).decode()})["AuthenticationResult"]
    return {"access": result["AccessToken"], "id": result["IdToken"]}
main = pool("main")
other = pool("other")
app, app_secret = client(main, "app")
second, second_secret = client(main, "second")
other_app, other_secret = client(other, "app")
idp.create_group(UserPoolId=main, GroupName="vets")
idp.create_group(UserPoolId=main, GroupName="clerks")
user(main, "alice", "Passw0rd!alice", ["vets"])
user(main, "bob", "Passw0rd!bob")
user(main, "dave", "Passw0rd!dave", ["clerks"])
user(other, "carol", "Passw0rd!carol")
print(json.dumps({
    "pool": main, "client": app, "secret": app_secret,
    "alice": sign_in(app, app_secret, "alice", "Passw0rd!alice"),
    "bob": sign_in(app, app_secret, "bob", "Passw0rd!bob"),
    "alice_second_client": sign_in(second, second_secret, "alice", "Passw0rd!alice"),
    "carol_other_pool": sign_in(other_app, other_secret, "carol", "Passw0rd!carol"),
}))
"#;

/// The filter's configuration: keys fetched from moto (`cognito_jwks`) and, for Basic clients, passwords exchanged
/// with moto's `InitiateAuth` (`cognito_idp`, a second cluster to the same address, as a deployment may have).
fn config(moto: SocketAddr, pool: &str, client: &str, secret: &str) -> String {
    json!({
        "api": {"region": "us-east-1", "account_id": "123456789012", "api_id": "a1b2c3d4e5", "stage": "dev"},
        "issuers": [{
            "issuer": format!("https://cognito-idp.us-east-1.amazonaws.com/{pool}"),
            "remote_jwks": {"cluster": "cognito_jwks", "uri": format!("http://{moto}/{pool}/.well-known/jwks.json"), "timeout_ms": 2000},
            "token_use": ["access"],
            "client_ids": [client]
        }],
        "password_auth": {"cluster": "cognito_idp", "authority": "cognito-idp.us-east-1.amazonaws.com",
                          "client_id": client, "client_secret": secret, "timeout_ms": 2000},
        "policies": {"groups": {"vets": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/pets/*"
        }]}}}
    })
    .to_string()
}

/// (what, token, path, status): who asks for what, and the answer the filter must give.
fn cases(setup: &Value) -> Vec<(&'static str, String, &'static str, u32)> {
    let token = |who: &str, kind: &str| setup[who][kind].as_str().unwrap().to_owned();
    vec![
        ("a group member where the group's policy allows", token("alice", "access"), "/pets/1", 200),
        ("a group member elsewhere", token("alice", "access"), "/admin", 403),
        ("a user in no group", token("bob", "access"), "/pets/1", 403),
        ("an ID token where access tokens are taken", token("alice", "id"), "/pets/1", 401),
        ("a token of another app client", token("alice_second_client", "access"), "/pets/1", 401),
        ("a token of another pool", token("carol_other_pool", "access"), "/pets/1", 401),
    ]
}

/// (what, username, password, status, code): Basic clients whose passwords the filter exchanges with moto.
const PASSWORD_CASES: [(&str, &str, &str, u32, &str); 4] = [
    ("a group member where the group's policy allows", "alice", "Passw0rd!alice", 200, "allowed"),
    ("a wrong password", "alice", "not-her-password", 401, "password_refused"),
    ("a user moto does not know", "mallory", "Passw0rd!mallory", 401, "password_refused"),
    ("a member of a group no policy allows", "dave", "Passw0rd!dave", 403, "implicit_deny"),
];

fn basic(username: &str, password: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")))
}

/// What an allowed Basic client's request must look like upstream: the identity of the token moto issued, and no
/// `Authorization` (it holds the password).
fn check_upstream(context: &str, headers: &[(String, String)], username: &str) {
    assert!(headers.iter().all(|(name, _)| !name.eq_ignore_ascii_case("authorization")), "{context}: {headers:?}");
    assert!(
        headers.iter().any(|(name, value)| name.eq_ignore_ascii_case("x-authz-username") && value == username),
        "{context}: {headers:?}"
    );
    assert!(
        headers.iter().any(|(name, value)| name.eq_ignore_ascii_case("x-authz-groups") && value.contains("vets")),
        "{context}: {headers:?}"
    );
}

#[test]
fn cognito_emulator_tokens_with_keys_the_filter_fetches_in_envoy_and_in_wasmtime() {
    let env = python_env(&workspace().join("e2e/tests/moto/requirements.txt"));
    let moto = Moto::start(&env);
    let output =
        Command::new(env.join("bin/python")).args(["-c", SETUP, &format!("http://{}", moto.addr)]).output().unwrap();
    assert!(output.status.success(), "the Cognito setup failed: {}", String::from_utf8_lossy(&output.stderr));
    let setup: Value = serde_json::from_slice(&output.stdout).unwrap();
    let text = |name: &str| setup[name].as_str().unwrap().to_owned();
    let config = config(moto.addr, &text("pool"), &text("client"), &text("secret"));
    let cases = cases(&setup);

    // Real Envoy, two workers: the first request already has the emulator's keys (it waits for the fetch).
    let harness = Harness::start_with_clusters(
        &config,
        &Options { workers: 2, ..Options::default() },
        &[("cognito_jwks", moto.addr), ("cognito_idp", moto.addr)],
    )
    .unwrap();
    for (what, token, path, status) in &cases {
        let exchange =
            harness.send(&Request::new("GET", path).header("authorization", &format!("Bearer {token}"))).unwrap();
        assert_eq!(u32::from(exchange.response.status), *status, "Envoy, {what}: {:?}", exchange.decision);
    }
    // Basic clients, once the keys are in (an exchange before them is the fresh VM's case, at the end).
    for (what, username, password, status, code) in PASSWORD_CASES {
        let request = Request::new("GET", "/pets/1").header("authorization", &basic(username, password));
        let exchange = harness.send(&request).unwrap();
        let decision = exchange.decision.as_ref().unwrap_or_else(|| panic!("Envoy, Basic, {what}: no decision"));
        assert_eq!(
            (u32::from(exchange.response.status), decision.code.as_str()),
            (status, code),
            "Envoy, Basic, {what}: {decision:?}"
        );
        if status == 401 {
            // Basic offered beside Bearer in one field (RFC 9110 §11.6.1).
            let challenge = exchange.response.header("www-authenticate").unwrap_or_default();
            assert!(challenge.starts_with("Basic realm=") && challenge.contains(", Bearer realm="), "{challenge}");
        }
        if status == 200 {
            let upstream = exchange.upstream.as_ref().unwrap();
            check_upstream(&format!("Envoy, Basic, {what}"), &upstream.headers, username);
        }
    }
    let stats = harness.envoy().stats("wasmcustom.authz.jwks_fetch").unwrap();
    assert_eq!(stats.get("wasmcustom.authz.jwks_fetch_success"), Some(&1), "{stats:?}");

    // The wasmtime host, its proxy_http_call made to the same emulator.
    let host = authz_host::FilterHost::load(&std::fs::read(workspace().join("dist/authz.wasm")).unwrap()).unwrap();
    host.set_cluster("cognito_jwks", moto.addr);
    host.set_cluster("cognito_idp", moto.addr);
    let (mut plugin, configured) = host.start(b"", config.as_bytes()).unwrap();
    assert!(configured);
    for (index, (what, token, path, status)) in cases.iter().enumerate() {
        let headers = [
            (":method", "GET"),
            (":path", *path),
            (":authority", "api"),
            (":scheme", "https"),
            ("authorization", &format!("Bearer {token}")),
        ];
        let outcome = match plugin.start_request(&headers).unwrap() {
            authz_host::Started::Done(outcome) => {
                assert!(index > 0, "the first request should wait for the first fetch");
                outcome
            }
            authz_host::Started::Waiting(id) => {
                assert!(plugin.tick().unwrap());
                plugin.outcome(id).unwrap()
            }
        };
        let got = match outcome {
            authz_host::HttpOutcome::Continue { .. } => 200,
            authz_host::HttpOutcome::LocalResponse { status, .. } => status,
            other => panic!("{what}: {other:?}"),
        };
        assert_eq!(got, *status, "wasmtime, {what}");
    }
    for (what, username, password, status, code) in PASSWORD_CASES {
        let authorization = basic(username, password);
        let headers = [
            (":method", "GET"),
            (":path", "/pets/1"),
            (":authority", "api"),
            (":scheme", "https"),
            ("authorization", &authorization),
        ];
        let outcome = match plugin.start_request(&headers).unwrap() {
            authz_host::Started::Done(outcome) => outcome,
            authz_host::Started::Waiting(id) => panic!("wasmtime, Basic, {what}: request {id} still waits"),
        };
        match outcome {
            authz_host::HttpOutcome::Continue { request_headers, .. } => {
                assert_eq!(status, 200, "wasmtime, Basic, {what}: allowed");
                check_upstream(&format!("wasmtime, Basic, {what}"), &request_headers, username);
            }
            authz_host::HttpOutcome::LocalResponse { status: got, details, .. } => {
                assert_eq!(
                    (got, details.as_str()),
                    (status, format!("authz_{code}").as_str()),
                    "wasmtime, Basic, {what}"
                );
            }
            other => panic!("wasmtime, Basic, {what}: {other:?}"),
        }
    }

    // A fresh host (a VM on the same one would find the keys its first VM shared) whose first request is a Basic
    // client's: the exchange ends before the first key fetch, so the request waits for the fetch (as a bearer token
    // with an unknown `kid` does) and is decided when it ends.
    let host = authz_host::FilterHost::load(&std::fs::read(workspace().join("dist/authz.wasm")).unwrap()).unwrap();
    host.set_cluster("cognito_jwks", moto.addr);
    host.set_cluster("cognito_idp", moto.addr);
    let (mut fresh, configured) = host.start(b"", config.as_bytes()).unwrap();
    assert!(configured);
    let authorization = basic("alice", "Passw0rd!alice");
    let headers = [
        (":method", "GET"),
        (":path", "/pets/1"),
        (":authority", "api"),
        (":scheme", "https"),
        ("authorization", &authorization),
    ];
    let authz_host::Started::Waiting(id) = fresh.start_request(&headers).unwrap() else {
        panic!("wasmtime, Basic before the keys: decided before them");
    };
    assert!(fresh.tick().unwrap());
    match fresh.outcome(id).unwrap() {
        authz_host::HttpOutcome::Continue { request_headers, .. } => {
            check_upstream("wasmtime, Basic before the keys", &request_headers, "alice")
        }
        other => panic!("wasmtime, Basic before the keys: {other:?}"),
    }
}
