//! Policy documents: JSON → validated statements, every error named by its path in the configuration.

use super::pattern::{wildcard_match, ArnPattern};
use crate::request::ApiTarget;
use serde_json::{Map, Value};

/// A policy document that could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PolicyError {
    /// Where in the configuration, e.g. `policies.groups.admins.Statement[2].Effect`.
    pub path: String,
    pub message: String,
}

fn error(path: &str, message: impl Into<String>) -> PolicyError {
    PolicyError { path: path.to_owned(), message: message.into() }
}

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// The policy language version, which decides whether `${...}` is a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2012_10_17,
    /// `2008-10-17`, or no `Version`: variables are literal text.
    V2008_10_17,
}

/// `Action` or `NotAction`: lower-cased patterns (action names are case-insensitive).
#[derive(Debug, Clone)]
pub struct ActionMatch {
    negated: bool,
    patterns: Vec<String>,
}

impl ActionMatch {
    /// Whether the statement's action part applies to `action`.
    pub fn applies(&self, action: &str) -> bool {
        let action = action.to_ascii_lowercase();
        let any = self.patterns.iter().any(|pattern| wildcard_match(pattern, &action));
        any != self.negated
    }
}

/// One resource pattern.
#[derive(Debug, Clone)]
enum ResourcePattern {
    Any,
    Arn(ArnPattern),
}

/// `Resource` or `NotResource`.
#[derive(Debug, Clone)]
pub struct ResourceMatch {
    negated: bool,
    patterns: Vec<ResourcePattern>,
}

impl ResourceMatch {
    /// Whether the statement's resource part applies to the method ARN.
    pub fn applies(&self, arn: &str) -> bool {
        let any = self.patterns.iter().any(|pattern| match pattern {
            ResourcePattern::Any => true,
            ResourcePattern::Arn(pattern) => pattern.matches(arn),
        });
        any != self.negated
    }
}

/// A validated statement.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub action: ActionMatch,
    pub resource: ResourceMatch,
}

/// A validated policy document.
#[derive(Debug, Clone)]
pub struct Document {
    pub version: Version,
    pub statements: Vec<Statement>,
}

/// Values that may be written as one string or a list of strings.
fn strings<'a>(value: &'a Value, path: &str) -> Result<Vec<&'a str>, PolicyError> {
    match value {
        Value::String(one) => Ok(vec![one.as_str()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(index, item)| item.as_str().ok_or_else(|| error(&format!("{path}[{index}]"), "expected a string")))
            .collect(),
        Value::Array(_) => Err(error(path, "expected at least one value")),
        _ => Err(error(path, "expected a string or a list of strings")),
    }
}

/// Exactly one of two mutually exclusive keys (`Action`/`NotAction`, `Resource`/`NotResource`).
fn one_of<'a>(
    statement: &'a Map<String, Value>,
    positive: &str,
    negative: &str,
    path: &str,
) -> Result<(bool, &'a Value, String), PolicyError> {
    match (statement.get(positive), statement.get(negative)) {
        (Some(value), None) => Ok((false, value, format!("{path}.{positive}"))),
        (None, Some(value)) => Ok((true, value, format!("{path}.{negative}"))),
        (Some(_), Some(_)) => Err(error(path, format!("`{positive}` and `{negative}` cannot both be present"))),
        (None, None) => Err(error(path, format!("one of `{positive}` or `{negative}` is required"))),
    }
}

fn parse_action(pattern: &str, path: &str) -> Result<String, PolicyError> {
    if pattern == "*" {
        return Ok(pattern.to_owned());
    }
    match pattern.split_once(':') {
        Some((service, action)) if !service.is_empty() && !action.is_empty() && !action.contains(':') => {
            Ok(pattern.to_ascii_lowercase())
        }
        _ => Err(error(path, format!("`{pattern}` is not `*` or `service:action`"))),
    }
}

fn parse_resource(pattern: &str, api: &ApiTarget, version: Version, path: &str) -> Result<ResourcePattern, PolicyError> {
    if version == Version::V2012_10_17 && pattern.contains("${") {
        return Err(error(path, "policy variables are not supported yet"));
    }
    if pattern == "*" {
        return Ok(ResourcePattern::Any);
    }
    // API Gateway resource policies write `execute-api:/{stage}/{METHOD}/{path}` for "this API".
    let expanded;
    let pattern = match pattern.strip_prefix("execute-api:/") {
        Some(rest) => {
            expanded = format!("arn:aws:execute-api:{}:{}:{}/{}", api.region, api.account_id, api.api_id, rest);
            expanded.as_str()
        }
        None => pattern,
    };
    ArnPattern::parse(pattern)
        .map(ResourcePattern::Arn)
        .ok_or_else(|| error(path, format!("`{pattern}` is not `*` or an ARN (`arn:partition:service:region:account:resource`)")))
}

fn parse_statement(
    value: &Value,
    api: &ApiTarget,
    version: Version,
    path: &str,
) -> Result<Statement, PolicyError> {
    let statement = value.as_object().ok_or_else(|| error(path, "expected an object"))?;
    for key in statement.keys() {
        match key.as_str() {
            "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource" => {}
            "Condition" => return Err(error(&format!("{path}.Condition"), "conditions are not supported yet")),
            "Principal" | "NotPrincipal" => {
                return Err(error(&format!("{path}.{key}"), "an identity policy has no principal"))
            }
            other => return Err(error(&format!("{path}.{other}"), "unknown statement element")),
        }
    }
    let sid = match statement.get("Sid") {
        None => None,
        Some(Value::String(sid)) => Some(sid.clone()),
        Some(_) => return Err(error(&format!("{path}.Sid"), "expected a string")),
    };
    let effect = match statement.get("Effect") {
        Some(Value::String(effect)) if effect == "Allow" => Effect::Allow,
        Some(Value::String(effect)) if effect == "Deny" => Effect::Deny,
        Some(_) => return Err(error(&format!("{path}.Effect"), "must be exactly `Allow` or `Deny`")),
        None => return Err(error(path, "`Effect` is required")),
    };
    let (negated, actions, action_path) = one_of(statement, "Action", "NotAction", path)?;
    let patterns = strings(actions, &action_path)?
        .into_iter()
        .map(|pattern| parse_action(pattern, &action_path))
        .collect::<Result<_, _>>()?;
    let action = ActionMatch { negated, patterns };
    let (negated, resources, resource_path) = one_of(statement, "Resource", "NotResource", path)?;
    let patterns = strings(resources, &resource_path)?
        .into_iter()
        .map(|pattern| parse_resource(pattern, api, version, &resource_path))
        .collect::<Result<_, _>>()?;
    let resource = ResourceMatch { negated, patterns };
    Ok(Statement { sid, effect, action, resource })
}

impl Document {
    /// Validates one document found at `path`; `api` expands `execute-api:/...` shorthand resources.
    pub fn parse(value: &Value, api: &ApiTarget, path: &str) -> Result<Self, PolicyError> {
        let document = value.as_object().ok_or_else(|| error(path, "expected a policy document object"))?;
        for key in document.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(error(&format!("{path}.{key}"), "unknown policy element"));
            }
        }
        let version = match document.get("Version") {
            None => Version::V2008_10_17,
            Some(Value::String(version)) if version == "2012-10-17" => Version::V2012_10_17,
            Some(Value::String(version)) if version == "2008-10-17" => Version::V2008_10_17,
            Some(_) => return Err(error(&format!("{path}.Version"), "must be `2012-10-17` or `2008-10-17`")),
        };
        let statement_path = format!("{path}.Statement");
        let statements = match document.get("Statement") {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(index, item)| parse_statement(item, api, version, &format!("{statement_path}[{index}]")))
                .collect::<Result<_, _>>()?,
            Some(one @ Value::Object(_)) => vec![parse_statement(one, api, version, &statement_path)?],
            Some(_) => return Err(error(&statement_path, "expected a statement or a list of statements")),
            None => return Err(error(path, "`Statement` is required")),
        };
        Ok(Self { version, statements })
    }

    /// A document, or a list of documents, as written under a group, client or user.
    pub fn parse_many(value: &Value, api: &ApiTarget, path: &str) -> Result<Vec<Self>, PolicyError> {
        match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| Self::parse(item, api, &format!("{path}[{index}]")))
                .collect(),
            other => Ok(vec![Self::parse(other, api, path)?]),
        }
    }
}
