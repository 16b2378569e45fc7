//! `authz import apigateway`: a REST API export (`aws apigateway get-export --export-type oas30|swagger
//! --parameters extensions='authorizers'`) as a configuration: every method a route, in an order under which the
//! first matching route is the resource API Gateway would pick; each Cognito user pool an issuer.

use super::{document, report};
use crate::Finished;
use anyhow::{anyhow, bail, Context as _};
use clap::Args;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

const APIGATEWAY_HELP: &str = "EXPORT is what API Gateway exports for a REST API stage, with its authorizers:
  aws apigateway get-export --rest-api-id ID --stage-name STAGE --export-type oas30 \\
      --parameters extensions='authorizers' --accepts application/yaml export.yaml
(or --export-type swagger, or JSON, or extensions='apigateway', which includes the authorizers).

What it becomes:
  each path and method          a route; `x-amazon-apigateway-any-method` is ANY; {name} and {proxy+} are kept
  method without `security`     public (`auth: none`)
  Cognito authorizer, scopes    an access token holding one of the scopes (`token_use: [access]`)
  Cognito authorizer, none      an ID token (`token_use: [id]`), as API Gateway's Cognito authorizer decides
  IAM, Lambda authorizer,       reported on stderr; the route still needs a valid token from the pools, never
  API key                       left open (an API key next to a Cognito authorizer is reported and not checked)
  a method a resource lacks     `auth: undeclared` where a more general resource would take the path: 403
                                Missing Authentication Token, as API Gateway answers
  providerARNs                  issuers https://cognito-idp.REGION.amazonaws.com/POOL, keys from --jwks or --remote-jwks
  the authorizer's header       `token_source` when it is not Authorization

The API's region, id and stage come from the export (`servers` or `host` and `basePath`) unless given; the account \
id is never in an export. Each user pool's keys come from --jwks POOL=FILE, the pool's public JWKS, published at \
https://cognito-idp.REGION.amazonaws.com/POOL/.well-known/jwks.json, or the filter fetches them itself through the \
Envoy cluster --remote-jwks names. Without --client-id, every app client of a \
pool is accepted (`client_ids: null`), as API Gateway's authorizer accepts them. The configuration is loaded as the \
filter loads it before it is printed; anything it cannot say as API Gateway does stops the import with an error.";

/// Turn an API Gateway REST API export into a configuration.
#[derive(Debug, Args)]
#[command(after_help = APIGATEWAY_HELP)]
pub struct ApigatewayArgs {
    /// The export: OpenAPI 3.0 or Swagger 2.0, JSON or YAML, with the `x-amazon-apigateway-*` extensions.
    #[arg(value_name = "EXPORT")]
    export: PathBuf,
    /// The AWS account that owns the API (12 digits): method ARNs name it, and exports do not.
    #[arg(long, value_name = "ID")]
    account_id: String,
    /// The API's region (default: from the export's host name).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// The API id (default: from the export's host name).
    #[arg(long, value_name = "ID")]
    api_id: Option<String>,
    /// The stage (default: the export's base path).
    #[arg(long, value_name = "STAGE")]
    stage: Option<String>,
    /// A user pool's public keys: POOL=FILE, the JSON served at
    /// https://cognito-idp.REGION.amazonaws.com/POOL/.well-known/jwks.json. Needed for every pool.
    #[arg(long = "jwks", value_name = "POOL=FILE")]
    jwks: Vec<String>,
    /// Instead of --jwks: the Envoy cluster (TLS to cognito-idp.REGION.amazonaws.com) through which the filter
    /// fetches every pool's keys itself (`remote_jwks`, refreshed hourly, fetched again for a new `kid`).
    #[arg(long = "remote-jwks", value_name = "CLUSTER", conflicts_with = "jwks")]
    remote_jwks: Option<String>,
    /// An accepted app client of a pool: POOL=CLIENT, repeatable. Without any for a pool, every client of it
    /// is accepted, as in API Gateway.
    #[arg(long = "client-id", value_name = "POOL=CLIENT")]
    client_ids: Vec<String>,
    /// A `policies` section to include (for example what `authz import dynamodb` printed).
    #[arg(long, value_name = "FILE")]
    policies: Option<PathBuf>,
}

/// One user pool a Cognito authorizer trusts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Pool {
    id: String,
    region: String,
}

impl Pool {
    /// `arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL`.
    fn parse(arn: &str) -> anyhow::Result<Self> {
        let fields: Vec<&str> = arn.split(':').collect();
        let [scheme, partition, service, region, account, resource] = fields.as_slice() else {
            bail!("`{arn}` is not a user pool ARN (arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL)");
        };
        if *scheme != "arn" || *service != "cognito-idp" || account.is_empty() {
            bail!("`{arn}` is not a user pool ARN (arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL)");
        }
        if *partition != "aws" {
            bail!("`{arn}`: only user pools in the `aws` partition are imported; write this issuer by hand");
        }
        let id = resource.strip_prefix("userpool/").unwrap_or_default();
        let well_formed = id.split_once('_').is_some_and(|(pool_region, rest)| {
            pool_region == *region && !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        if !well_formed {
            bail!("`{arn}`: `{resource}` is not `userpool/{region}_ID`");
        }
        Ok(Self { id: id.to_owned(), region: (*region).to_owned() })
    }

    fn issuer(&self) -> String {
        format!("https://cognito-idp.{}.amazonaws.com/{}", self.region, self.id)
    }
}

/// A security scheme as this authorizer can or cannot reproduce it.
#[derive(Debug, Clone)]
enum Scheme {
    /// A `cognito_user_pools` authorizer.
    Cognito { pools: Vec<Pool>, header: String, validation: Option<String> },
    /// Anything else, described for the report.
    Other(String),
}

/// What one method asks of its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Auth {
    Public,
    Cognito {
        scheme: String,
        scopes: Vec<String>,
    },
    /// Secured by something this authorizer cannot check: a valid token is required instead.
    Unreproducible,
}

/// One method of one resource.
#[derive(Debug)]
struct Method {
    method: String,
    auth: Auth,
}

/// A path template's segments as API Gateway ranks them when it picks a resource: a literal before `{name}`
/// before `{name+}`.
fn ranks(path: &str) -> Vec<u8> {
    path.split('/')
        .filter(|segment| !segment.is_empty())
        .map(|segment| match segment.strip_prefix('{').and_then(|rest| rest.strip_suffix('}')) {
            Some(name) if name.ends_with('+') => 2,
            Some(_) => 1,
            None => 0,
        })
        .collect()
}

/// Whether some request path matches both templates.
fn overlap(a: &str, b: &str) -> bool {
    fn walk(a: &[&str], b: &[&str]) -> bool {
        let greedy = |segment: &str| segment.starts_with('{') && segment.ends_with("+}");
        let param = |segment: &str| segment.starts_with('{') && segment.ends_with('}');
        match (a.split_first(), b.split_first()) {
            (None, None) => true,
            (Some((first, _)), Some(_)) if greedy(first) => true,
            (Some(_), Some((first, _))) if greedy(first) => true,
            (Some((x, a_rest)), Some((y, b_rest))) => (param(x) || param(y) || x == y) && walk(a_rest, b_rest),
            _ => false,
        }
    }
    let split =
        |path: &str| path.split('/').filter(|segment| !segment.is_empty()).map(str::to_owned).collect::<Vec<_>>();
    let (a, b) = (split(a), split(b));
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let b: Vec<&str> = b.iter().map(String::as_str).collect();
    walk(&a, &b)
}

/// The OpenAPI method keys API Gateway exports, in the order routes list them; `ANY` last, since a resource's own
/// methods come before its ANY method.
const METHOD_KEYS: [(&str, &str); 8] = [
    ("get", "GET"),
    ("head", "HEAD"),
    ("post", "POST"),
    ("put", "PUT"),
    ("patch", "PATCH"),
    ("delete", "DELETE"),
    ("options", "OPTIONS"),
    ("x-amazon-apigateway-any-method", "ANY"),
];

/// Runs the command.
pub fn run(args: &ApigatewayArgs) -> anyhow::Result<Finished> {
    let export = document::read(&args.export)?;
    let config = import(&export, args)?;
    let text = serde_json::to_string_pretty(&config)?;
    let loaded = authz::Config::from_json(text.as_bytes())
        .map_err(|err| anyhow!("the imported configuration does not load, nothing printed: {err}"))?;
    for warning in loaded.warnings() {
        report(&format!("warning: {warning}"));
    }
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(Finished::Clean)
}

/// The configuration for `export`.
fn import(export: &Value, args: &ApigatewayArgs) -> anyhow::Result<Value> {
    let oas3 = match (export.get("openapi").and_then(Value::as_str), export.get("swagger").and_then(Value::as_str)) {
        (Some(version), None) if version.starts_with("3.") => true,
        (None, Some("2.0")) => false,
        _ => bail!("not an OpenAPI 3.0 or Swagger 2.0 document (no `openapi: 3.x` or `swagger: \"2.0\"`)"),
    };
    let schemes_path = if oas3 { "components.securitySchemes" } else { "securityDefinitions" };
    let raw_schemes =
        if oas3 { export.pointer("/components/securitySchemes") } else { export.get("securityDefinitions") };
    let mut schemes = BTreeMap::new();
    for (name, value) in raw_schemes.and_then(Value::as_object).into_iter().flatten() {
        let path = document::member(schemes_path, name);
        schemes.insert(name.clone(), scheme(value).with_context(|| path)?);
    }

    let Some(paths) = export.get("paths").and_then(Value::as_object) else { bail!("the export has no `paths`") };
    let mut resources: Vec<(String, Vec<Method>)> = Vec::new();
    for (path, item) in paths {
        let at = document::member("paths", path);
        let Some(item) = item.as_object() else { bail!("{at}: not an object") };
        let mut methods = Vec::new();
        for key in item.keys() {
            let known = METHOD_KEYS.iter().any(|(name, _)| name == key)
                || matches!(key.as_str(), "parameters" | "summary" | "description" | "servers")
                || (key.starts_with("x-") && key != "x-amazon-apigateway-any-method");
            if !known {
                bail!("{}: `{key}` is not a method API Gateway exports", at);
            }
        }
        for (key, method) in METHOD_KEYS {
            let Some(operation) = item.get(key) else { continue };
            let op_at = document::member(&at, key);
            let auth = method_auth(export, operation, &schemes, &op_at).with_context(|| op_at.clone())?;
            methods.push(Method { method: method.to_owned(), auth });
        }
        if !methods.is_empty() {
            resources.push((path.clone(), methods));
        }
    }
    if resources.is_empty() {
        bail!("the export declares no method");
    }
    // Most specific first: under first-match routing, the first route to take a path is then the resource API
    // Gateway picks for it. Resources of equal rank never share a path.
    resources.sort_by_key(|(path, _)| ranks(path));

    let cognito = used_cognito(&resources, &schemes)?;
    let api = api(export, oas3, args)?;
    let mut routes = Vec::new();
    for (index, (path, methods)) in resources.iter().enumerate() {
        for method in methods {
            routes.push(route(&method.method, path, &method.auth));
        }
        let has_any = methods.iter().any(|method| method.method == "ANY");
        let general = resources.iter().skip(index + 1).any(|(later, _)| overlap(path, later));
        if !has_any && general {
            routes.push(json!({"method": "ANY", "path": path, "auth": "undeclared"}));
        }
    }

    let mut config = Map::new();
    config.insert("api".into(), api);
    config.insert("routes".into(), Value::Array(routes));
    let Some(UsedCognito { pools, header, validation }) = cognito else {
        bail!("no method uses a Cognito user pool authorizer: there is no user pool to trust");
    };
    config.insert("issuers".into(), Value::Array(issuers(&pools, validation.as_deref(), args)?));
    if !header.eq_ignore_ascii_case("authorization") {
        config.insert("token_source".into(), json!({"header": header.to_ascii_lowercase()}));
    }
    if let Some(path) = &args.policies {
        let policies = document::read(path)?;
        if !policies.is_object() {
            bail!("`{}` is not a `policies` section (a JSON object)", path.display());
        }
        config.insert("policies".into(), policies);
    }
    Ok(Value::Object(config))
}

/// A security scheme: a Cognito authorizer, or something else.
fn scheme(value: &Value) -> anyhow::Result<Scheme> {
    let lower = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_ascii_lowercase);
    let authtype = lower(value.get("x-amazon-apigateway-authtype"));
    let authorizer = value.get("x-amazon-apigateway-authorizer");
    let authorizer_type = lower(authorizer.and_then(|authorizer| authorizer.get("type")));
    if authorizer_type.as_deref() == Some("cognito_user_pools") || authtype.as_deref() == Some("cognito_user_pools") {
        let arns = authorizer
            .and_then(|authorizer| authorizer.get("providerARNs"))
            .and_then(Value::as_array)
            .filter(|arns| !arns.is_empty())
            .ok_or_else(|| {
                anyhow!("x-amazon-apigateway-authorizer.providerARNs: a Cognito authorizer lists its user pools")
            })?;
        let mut pools = arns
            .iter()
            .map(|arn| arn.as_str().ok_or_else(|| anyhow!("providerARNs: not a string")).and_then(Pool::parse))
            .collect::<anyhow::Result<Vec<_>>>()?;
        pools.sort();
        pools.dedup();
        // The header: the scheme's `name` (`in: header`), or the authorizer's identity source; both must agree.
        let named = match (value.get("in").and_then(Value::as_str), value.get("name").and_then(Value::as_str)) {
            (Some("header"), Some(name)) => Some(name.to_owned()),
            (None, None) => None,
            _ => bail!("a Cognito authorizer reads a header (`in: header`, `name: HEADER`)"),
        };
        let source = match authorizer.and_then(|authorizer| authorizer.get("identitySource")).and_then(Value::as_str) {
            None => None,
            Some(source) => Some(
                source
                    .strip_prefix("method.request.header.")
                    .filter(|name| !name.is_empty() && !name.contains([',', ' ']))
                    .ok_or_else(|| anyhow!("identitySource `{source}`: a Cognito authorizer reads one header"))?
                    .to_owned(),
            ),
        };
        let header = match (named, source) {
            (Some(a), Some(b)) if !a.eq_ignore_ascii_case(&b) => {
                bail!("`name` `{a}` and identitySource header `{b}` disagree")
            }
            (Some(name), _) | (None, Some(name)) => name,
            (None, None) => "Authorization".to_owned(),
        };
        let validation = authorizer
            .and_then(|authorizer| authorizer.get("identityValidationExpression"))
            .and_then(Value::as_str)
            .filter(|expression| !expression.is_empty())
            .map(str::to_owned);
        return Ok(Scheme::Cognito { pools, header, validation });
    }
    let kind = value.get("type").and_then(Value::as_str).unwrap_or_default();
    let name = value.get("name").and_then(Value::as_str).unwrap_or_default();
    let what = match (authtype.as_deref(), authorizer_type.as_deref()) {
        (Some("awssigv4"), _) => "IAM authorization (SigV4)".to_owned(),
        (_, Some(lambda @ ("token" | "request"))) => {
            format!("a Lambda authorizer ({} type)", lambda.to_ascii_uppercase())
        }
        (Some("custom"), _) => "a Lambda authorizer".to_owned(),
        _ if kind == "apiKey" && name.eq_ignore_ascii_case("x-api-key") => "an API key".to_owned(),
        _ => format!("a `{kind}` security scheme"),
    };
    Ok(Scheme::Other(what))
}

/// What the route of a method secured by something this authorizer cannot check asks instead.
const INSTEAD: &str = "its route requires a valid token of the user pools instead";

/// What a method asks of its caller: its `security` (or the document's), at most one Cognito authorizer; whatever
/// else it names is reported.
fn method_auth(
    export: &Value,
    operation: &Value,
    schemes: &BTreeMap<String, Scheme>,
    at: &str,
) -> anyhow::Result<Auth> {
    let security = operation.get("security").or_else(|| export.get("security"));
    let requirements = match security {
        None => &[][..],
        Some(Value::Array(requirements)) => requirements.as_slice(),
        Some(_) => bail!("`security` is not a list"),
    };
    // The IAM flag API Gateway also writes on methods (`x-amazon-apigateway-auth: {type: AWS_IAM}`).
    let flagged = operation
        .pointer("/x-amazon-apigateway-auth/type")
        .and_then(Value::as_str)
        .filter(|kind| !kind.eq_ignore_ascii_case("none"))
        .map(|kind| format!("`x-amazon-apigateway-auth` {kind}"));
    if requirements.is_empty() {
        return match flagged {
            None => Ok(Auth::Public),
            Some(what) => {
                report(&format!("{at}: secured by {what}, which this authorizer cannot check: {INSTEAD}"));
                Ok(Auth::Unreproducible)
            }
        };
    }
    // API Gateway writes each of a method's requirements as its own object (`[{"api_key": []}, {"cognito":
    // ["scope"]}]`), and means all of them, not any one as OpenAPI would: read them together, which is also
    // the stricter reading.
    let mut cognito = None;
    let mut others: Vec<String> = flagged.into_iter().collect();
    for (index, requirement) in requirements.iter().enumerate() {
        let requirement = requirement.as_object().ok_or_else(|| anyhow!("security[{index}]: not an object"))?;
        for (name, scopes) in requirement {
            let scopes = scopes
                .as_array()
                .and_then(|scopes| {
                    scopes.iter().map(|scope| scope.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>()
                })
                .ok_or_else(|| anyhow!("security[{index}].{name}: not a list of scopes"))?;
            match schemes.get(name) {
                None => bail!("security[{index}]: `{name}` is not a defined security scheme"),
                Some(Scheme::Cognito { .. }) if cognito.is_some() => {
                    bail!("security: two Cognito authorizers on one method")
                }
                Some(Scheme::Cognito { .. }) => cognito = Some(Auth::Cognito { scheme: name.clone(), scopes }),
                Some(Scheme::Other(what)) => others.push(format!("{what} (`{name}`)")),
            }
        }
    }
    match cognito {
        Some(auth) => {
            for other in &others {
                report(&format!("{at}: also requires {other}, which this authorizer does not check"));
            }
            Ok(auth)
        }
        None => {
            report(&format!(
                "{at}: secured by {}, which this authorizer cannot check: {INSTEAD}",
                others.join(" and ")
            ));
            Ok(Auth::Unreproducible)
        }
    }
}

/// What the Cognito authorizers of an API's methods share.
struct UsedCognito {
    pools: Vec<Pool>,
    header: String,
    validation: Option<String>,
}

/// The pools, token header and validation expression of the Cognito authorizers the methods use: one set of
/// each, since a configuration trusts its issuers on every route and reads the token from one place.
fn used_cognito(
    resources: &[(String, Vec<Method>)],
    schemes: &BTreeMap<String, Scheme>,
) -> anyhow::Result<Option<UsedCognito>> {
    let mut used: Option<(String, Vec<Pool>, String, Option<String>)> = None;
    for method in resources.iter().flat_map(|(_, methods)| methods) {
        let Auth::Cognito { scheme: name, .. } = &method.auth else { continue };
        let Some(Scheme::Cognito { pools, header, validation }) = schemes.get(name) else { continue };
        match &used {
            None => used = Some((name.clone(), pools.clone(), header.clone(), validation.clone())),
            Some((first, first_pools, first_header, first_validation)) => {
                if first_pools != pools {
                    bail!(
                        "authorizers `{first}` and `{name}` trust different user pools: this configuration trusts its \
                         issuers on every route, so a token of one pool would pass the other's methods; import the \
                         two parts separately"
                    );
                }
                if !first_header.eq_ignore_ascii_case(header) {
                    bail!("authorizers `{first}` and `{name}` read the token from different headers (`{first_header}`, `{header}`)");
                }
                if first_validation != validation {
                    report(&format!("authorizers `{first}` and `{name}` differ in identityValidationExpression: --client-id applies to both"));
                }
            }
        }
    }
    Ok(used.map(|(_, pools, header, validation)| UsedCognito { pools, header, validation }))
}

/// `api` from the flags, or the export's `servers` (OpenAPI 3) or `host` and `basePath` (Swagger 2).
fn api(export: &Value, oas3: bool, args: &ApigatewayArgs) -> anyhow::Result<Value> {
    let (host, base) = if oas3 {
        let server = export.pointer("/servers/0");
        let mut url =
            server.and_then(|server| server.get("url")).and_then(Value::as_str).unwrap_or_default().to_owned();
        // `https://{id}.execute-api.{region}.amazonaws.com/{basePath}` with `variables.basePath.default: /dev`.
        for (name, variable) in
            server.and_then(|server| server.get("variables")).and_then(Value::as_object).into_iter().flatten()
        {
            if let Some(default) = variable.get("default").and_then(Value::as_str) {
                url = url.replace(&format!("{{{name}}}"), default.trim_start_matches('/'));
            }
        }
        let rest = url.strip_prefix("https://").unwrap_or(&url);
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        (host.to_owned(), path.to_owned())
    } else {
        let host = export.get("host").and_then(Value::as_str).unwrap_or_default().to_owned();
        (host, export.get("basePath").and_then(Value::as_str).unwrap_or_default().to_owned())
    };
    // `{apiId}.execute-api.{region}.amazonaws.com`; a custom domain says neither.
    let labels: Vec<&str> = host.split('.').collect();
    let (exported_id, exported_region) = match labels.as_slice() {
        [id, "execute-api", region, "amazonaws", "com", ..] => (Some((*id).to_owned()), Some((*region).to_owned())),
        _ => (None, None),
    };
    let stage = base.trim_matches('/');
    let exported_stage = (!stage.is_empty() && !stage.contains('/')).then(|| stage.to_owned());
    let pick = |flag: &Option<String>, exported: Option<String>, what: &str, option: &str| -> anyhow::Result<String> {
        match (flag, exported) {
            (Some(given), Some(exported)) if *given != exported => {
                report(&format!("{option} `{given}` replaces the export's {what} `{exported}`"));
                Ok(given.clone())
            }
            (Some(given), _) => Ok(given.clone()),
            (None, Some(exported)) => Ok(exported),
            (None, None) => bail!("the export does not say the API's {what}: give {option}"),
        }
    };
    Ok(json!({
        "region": pick(&args.region, exported_region, "region", "--region")?,
        "account_id": args.account_id,
        "api_id": pick(&args.api_id, exported_id, "id", "--api-id")?,
        "stage": pick(&args.stage, exported_stage, "stage", "--stage")?,
    }))
}

/// One route as the configuration writes it.
fn route(method: &str, path: &str, auth: &Auth) -> Value {
    match auth {
        Auth::Public => json!({"method": method, "path": path, "auth": "none"}),
        Auth::Cognito { scopes, .. } if scopes.is_empty() => {
            json!({"method": method, "path": path, "token_use": ["id"]})
        }
        Auth::Cognito { scopes, .. } => {
            json!({"method": method, "path": path, "scopes": scopes, "token_use": ["access"]})
        }
        Auth::Unreproducible => json!({"method": method, "path": path}),
    }
}

/// Splits `POOL=VALUE` arguments by pool, refusing pools the export does not use.
fn by_pool<'a>(values: &'a [String], pools: &[Pool], option: &str) -> anyhow::Result<BTreeMap<&'a str, Vec<&'a str>>> {
    let mut found: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for value in values {
        let (pool, item) = value
            .split_once('=')
            .filter(|(pool, item)| !pool.is_empty() && !item.is_empty())
            .ok_or_else(|| anyhow!("{option} `{value}` is not POOL=VALUE"))?;
        if !pools.iter().any(|known| known.id == pool) {
            let known: Vec<&str> = pools.iter().map(|pool| pool.id.as_str()).collect();
            bail!(
                "{option} `{value}`: the export's authorizers trust no user pool `{pool}` (they trust {})",
                known.join(", ")
            );
        }
        found.entry(pool).or_default().push(item);
    }
    Ok(found)
}

/// The issuers: each pool with its keys (required) and accepted clients.
fn issuers(pools: &[Pool], validation: Option<&str>, args: &ApigatewayArgs) -> anyhow::Result<Vec<Value>> {
    let jwks = by_pool(&args.jwks, pools, "--jwks")?;
    let clients = by_pool(&args.client_ids, pools, "--client-id")?;
    let mut issuers = Vec::new();
    for pool in pools {
        let keys = match (&args.remote_jwks, jwks.get(pool.id.as_str()).map(Vec::as_slice)) {
            (Some(cluster), _) => {
                let uri = format!("{}/.well-known/jwks.json", pool.issuer());
                ("remote_jwks", json!({"cluster": cluster, "uri": uri}))
            }
            (None, Some([file])) => {
                let keys = document::read(std::path::Path::new(file))?;
                if !keys.get("keys").is_some_and(Value::is_array) {
                    bail!("`{file}` is not a JWKS (`{{\"keys\": [...]}}`)");
                }
                ("jwks", keys)
            }
            (None, Some(_)) => bail!("--jwks names user pool `{}` more than once", pool.id),
            (None, None) => bail!(
                "no keys for user pool `{}`: pass --remote-jwks CLUSTER for the filter to fetch them, or save \
                 {}/.well-known/jwks.json and pass --jwks {}=FILE",
                pool.id,
                pool.issuer(),
                pool.id
            ),
        };
        let client_ids = match clients.get(pool.id.as_str()) {
            Some(ids) => json!(ids),
            None => {
                if let Some(expression) = validation {
                    bail!(
                        "the authorizer's identityValidationExpression `{expression}` narrows the app clients, and this \
                         authorizer does not evaluate it: list the accepted clients with --client-id {}=CLIENT",
                        pool.id
                    );
                }
                report(&format!(
                    "user pool `{}`: tokens of every app client are accepted, as API Gateway's authorizer accepts them \
                     (`client_ids: null`); narrow with --client-id {}=CLIENT",
                    pool.id, pool.id
                ));
                Value::Null
            }
        };
        if validation.is_some() && clients.contains_key(pool.id.as_str()) {
            report(&format!("user pool `{}`: --client-id replaces the identityValidationExpression", pool.id));
        }
        let (field, keys) = keys;
        let mut issuer = serde_json::Map::new();
        issuer.insert("issuer".into(), json!(pool.issuer()));
        issuer.insert(field.into(), keys);
        issuer.insert("token_use".into(), json!(["access", "id"]));
        issuer.insert("client_ids".into(), client_ids);
        issuers.push(Value::Object(issuer));
    }
    Ok(issuers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_rank_literal_before_parameter_before_greedy() {
        let mut paths =
            vec!["/{proxy+}", "/pets/{id}", "/pets/{id}/{rest+}", "/pets", "/pets/mine", "/{x}/b", "/a/{p+}", "/"];
        paths.sort_by_key(|path| ranks(path));
        assert_eq!(
            paths,
            vec!["/", "/pets", "/pets/mine", "/pets/{id}", "/pets/{id}/{rest+}", "/a/{p+}", "/{x}/b", "/{proxy+}"]
        );
    }

    #[test]
    fn overlap_is_some_path_matched_by_both() {
        assert!(overlap("/pets/{id}", "/{proxy+}"));
        assert!(overlap("/pets/mine", "/pets/{id}"));
        assert!(overlap("/a/{p+}", "/{x}/b"));
        assert!(!overlap("/", "/{proxy+}"));
        assert!(!overlap("/pets", "/pets/{id}"));
        assert!(!overlap("/pets/mine", "/orders/{id}"));
        assert!(!overlap("/a/b/c", "/{x}/b"));
    }

    #[test]
    fn user_pool_arns_become_issuers() {
        let pool = Pool::parse("arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbC123")
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(pool.issuer(), "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123");
        for bad in [
            "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/us-east-1_AbC123",
            "arn:aws-cn:cognito-idp:cn-north-1:123456789012:userpool/cn-north-1_AbC123",
            "arn:aws:iam::123456789012:role/x",
            "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_",
            "eu-west-1_AbC123",
        ] {
            assert!(Pool::parse(bad).is_err(), "{bad}");
        }
    }
}
