//! `make demo`: mints a development key, configures the petstore scenario with it, starts real Envoy with the
//! built filter, sends a scripted set of requests one at a time and prints what was decided and why (the reason
//! is the one the filter logged in Envoy), then stops Envoy.

use anyhow::{anyhow, Context as _, Result};
use authz::Authorizer;
use authz_e2e::{Harness, Request};
use authz_testkit::mint::{CognitoClaims, DevKey};
use serde_json::Value;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

const ISSUER_KID: &str = "demo-1";
const CLIENT: &str = "app-client-1";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("demo: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The token a scripted request carries.
enum Token {
    None,
    Access { user: &'static str, groups: &'static [&'static str], scopes: Option<&'static [&'static str]> },
    Id { user: &'static str, groups: &'static [&'static str] },
    Expired { user: &'static str, groups: &'static [&'static str] },
}

/// One scripted request.
struct Step {
    what: &'static str,
    method: &'static str,
    path: &'static str,
    token: Token,
    /// Extra headers, as a client would send them.
    headers: &'static [(&'static str, &'static str)],
}

const VET: &[&str] = &["pet-veterinarian"];

fn script() -> Vec<Step> {
    let step = |what, method, path, token| Step { what, method, path, token, headers: &[] };
    vec![
        step("public health check, no token", "GET", "/health", Token::None),
        step(
            "vet reads a pet",
            "GET",
            "/petstore/v1/pets/a1b2",
            Token::Access { user: "alice", groups: VET, scopes: None },
        ),
        Step {
            what: "vet sends forged identity headers",
            headers: &[("x-authz-groups", "admins"), ("x_authz_sub", "root")],
            ..step("", "POST", "/petstore/v1/pets", Token::Access { user: "alice", groups: VET, scopes: None })
        },
        step("no token", "GET", "/petstore/v1/pets", Token::None),
        step(
            "wrong group",
            "GET",
            "/petstore/v1/pets",
            Token::Access { user: "bob", groups: &["cat-groomer"], scopes: None },
        ),
        step(
            "wrong scope",
            "GET",
            "/products",
            Token::Access { user: "bob", groups: &["product-readers"], scopes: Some(&["product-api/delete_product"]) },
        ),
        step(
            "right scope",
            "GET",
            "/products",
            Token::Access { user: "bob", groups: &["product-readers"], scopes: Some(&["product-api/read_product"]) },
        ),
        step("expired token", "GET", "/petstore/v1/pets", Token::Expired { user: "alice", groups: VET }),
        step(
            "explicit deny (suspended vet)",
            "GET",
            "/petstore/v1/pets",
            Token::Access { user: "mallory", groups: &["pet-veterinarian", "suspended"], scopes: None },
        ),
        step("ID token on a scoped route", "GET", "/products", Token::Id { user: "bob", groups: &["product-readers"] }),
        step(
            "path trick: dot segments",
            "GET",
            "/petstore/v1/../v2/pets",
            Token::Access { user: "alice", groups: VET, scopes: None },
        ),
        step(
            "path trick: encoded slash",
            "GET",
            "/petstore/v1%2F..%2Fv2/pets",
            Token::Access { user: "alice", groups: VET, scopes: None },
        ),
        step(
            "undeclared route (trailing slash)",
            "DELETE",
            "/products/42/",
            Token::Access { user: "bob", groups: &["product-readers"], scopes: Some(&["openid"]) },
        ),
    ]
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn write_private(path: &Path, contents: &str) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    file.write_all(contents.as_bytes()).with_context(|| format!("cannot write `{}`", path.display()))
}

/// The petstore scenario's configuration with the demo key as the pool's only key.
fn configuration(key: &DevKey) -> Result<Value> {
    let path = workspace().join("policies/scenarios/petstore.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let corpus: Value = serde_json::from_str(&text).with_context(|| format!("`{}` is not JSON", path.display()))?;
    let mut config = corpus.get("config").cloned().ok_or_else(|| anyhow!("`{}` has no `config`", path.display()))?;
    let jwks = config
        .pointer_mut("/issuers/0/jwks")
        .ok_or_else(|| anyhow!("`{}` has no `config.issuers[0].jwks`", path.display()))?;
    *jwks = key.jwks();
    Ok(config)
}

fn mint(key: &DevKey, issuer: &str, token: &Token, now: u64) -> Option<String> {
    let claims = match *token {
        Token::None => return None,
        Token::Access { user, groups, scopes } => {
            let claims = CognitoClaims::access(issuer, CLIENT, user, now).groups(groups);
            match scopes {
                Some(scopes) => claims.scopes(scopes),
                None => claims,
            }
        }
        Token::Id { user, groups } => CognitoClaims::id(issuer, CLIENT, user, now).groups(groups),
        Token::Expired { user, groups } => CognitoClaims::access(issuer, CLIENT, user, now)
            .groups(groups)
            .valid(now.saturating_sub(7200), now.saturating_sub(3600)),
    };
    Some(key.sign(&claims.to_json()))
}

fn run() -> Result<()> {
    let cache = workspace().join(".cache/demo");
    std::fs::create_dir_all(&cache).with_context(|| format!("cannot create `{}`", cache.display()))?;
    let key = DevKey::generate_rsa(ISSUER_KID).context("cannot mint the development key")?;
    write_private(&cache.join("dev-key.jwk"), &key.private_jwk().to_string())?;
    write_private(&cache.join("jwks.json"), &key.jwks().to_string())?;
    let config = configuration(&key)?;
    let config_text = config.to_string();
    write_private(&cache.join("config.json"), &serde_json::to_string_pretty(&config)?)?;
    let issuer = config.pointer("/issuers/0/issuer").and_then(Value::as_str).unwrap_or_default().to_owned();
    // The native core decides the same requests, for the rare line the filter's log does not yield.
    let native =
        Authorizer::from_json(config_text.as_bytes()).map_err(|err| anyhow!("configuration refused: {err}"))?;

    println!(
        "Minted development key `{ISSUER_KID}` (RS256): .cache/demo/dev-key.jwk (private), .cache/demo/jwks.json;"
    );
    println!("the petstore scenario's configuration with that key: .cache/demo/config.json.");
    let began = Instant::now();
    let harness = Harness::start(&config_text)?;
    println!(
        "Envoy is running dist/authz.wasm on http://{} (admin http://{}); ready in {:.1?}.\n",
        harness.listener(),
        harness.envoy().admin(),
        began.elapsed()
    );

    let rows = run_script(&harness, &key, &issuer, &native)?;
    print_table(&rows);

    let counters = harness.envoy().stats("wasmcustom")?;
    let counters: Vec<String> = counters.iter().map(|(name, value)| format!("{name} {value}")).collect();
    println!("\nEnvoy /stats: {}", counters.join(", "));
    drop(harness);
    println!("Envoy stopped. examples/envoy.yaml shows how to run the filter in your own Envoy.");
    Ok(())
}

struct Row {
    what: &'static str,
    request: String,
    status: u16,
    reason: String,
    upstream: Option<String>,
}

fn run_script(harness: &Harness, key: &DevKey, issuer: &str, native: &Authorizer) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for step in script() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let mut request = Request::new(step.method, step.path);
        for (name, value) in step.headers {
            request = request.header(name, value);
        }
        if let Some(token) = mint(key, issuer, &step.token, now) {
            request = request.header("authorization", &format!("Bearer {token}"));
        }
        let exchange = harness.send(&request).with_context(|| format!("`{}`", step.what))?;
        let reason = match exchange.decision {
            Some(decision) => decision.reason,
            None => {
                let http = authz::HttpRequest {
                    method: request.method.clone(),
                    path: request.target.clone(),
                    headers: request.headers.clone(),
                    source_ip: None,
                    secure_transport: None,
                };
                format!("{} (native core's reason: Envoy logged none)", native.authorize(&http, now).reason)
            }
        };
        let upstream = exchange.upstream.map(|echoed| {
            let identity: Vec<String> = echoed
                .headers
                .iter()
                .filter(|(name, _)| name.starts_with("x-authz-"))
                .map(|(name, value)| format!("{name}: {value}"))
                .collect();
            match identity.is_empty() {
                true => format!("upstream got {} {} (no identity headers)", echoed.method, echoed.target),
                false => format!("upstream got {} {} with {}", echoed.method, echoed.target, identity.join(", ")),
            }
        });
        let sent: Vec<String> = step.headers.iter().map(|(name, value)| format!("{name}: {value}")).collect();
        let request = match sent.is_empty() {
            true => format!("{} {}", step.method, step.path),
            false => format!("{} {} ({})", step.method, step.path, sent.join(", ")),
        };
        rows.push(Row { what: step.what, request, status: exchange.response.status, reason, upstream });
    }
    Ok(rows)
}

fn print_table(rows: &[Row]) {
    let what = rows.iter().map(|row| row.what.len()).max().unwrap_or(0);
    let request = rows.iter().map(|row| row.request.len()).max().unwrap_or(0);
    println!("{:<what$}  {:<request$}  status  reason (logged by the filter in Envoy)", "case", "request");
    println!("{}", "-".repeat(what + request + 50));
    for row in rows {
        println!("{:<what$}  {:<request$}  {:>6}  {}", row.what, row.request, row.status, row.reason);
        if let Some(upstream) = &row.upstream {
            println!("{:<what$}  {:<request$}  {:>6}  {upstream}", "", "", "↳");
        }
    }
}
