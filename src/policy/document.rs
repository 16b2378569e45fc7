//! Policy documents: JSON → validated, compiled statements, every error named by its path in the configuration.

use super::condition::Condition;
use super::context::ConditionContext;
use super::error::{error, PolicyError};
use super::pattern::{ArnFields, ArnPattern, Pattern};
use super::truth::Truth;
use super::spelling;
use super::INVOKE;
use crate::request::ApiTarget;
use serde_json::{Map, Value};

/// API Gateway's limit on one `Resource` value.
pub const MAX_RESOURCE_CHARS: usize = 512;

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    /// `Allow` or `Deny`, as written in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "Allow",
            Self::Deny => "Deny",
        }
    }
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
    pub(crate) negated: bool,
    patterns: Vec<Pattern>,
    /// Whether the action part applies to `execute-api:Invoke`, decided at load.
    pub(crate) invoke: bool,
}

impl ActionMatch {
    fn new(negated: bool, patterns: Vec<Pattern>) -> Self {
        let invoke_lower = INVOKE.to_ascii_lowercase();
        let any = patterns.iter().any(|pattern| pattern.matches_plain(&invoke_lower));
        Self { negated, patterns, invoke: any != negated }
    }

    /// Whether the statement's action part applies to `action`.
    pub fn applies(&self, action: &str) -> bool {
        if action.eq_ignore_ascii_case(INVOKE) {
            return self.invoke;
        }
        let action = action.to_ascii_lowercase();
        let any = self.patterns.iter().any(|pattern| pattern.matches_plain(&action));
        any != self.negated
    }
}

/// One resource pattern.
#[derive(Debug, Clone)]
pub(crate) enum ResourcePattern {
    Any,
    Arn(Box<ArnPattern>),
}

/// `Resource` or `NotResource`.
#[derive(Debug, Clone)]
pub struct ResourceMatch {
    pub(crate) negated: bool,
    /// Each pattern with its text as written (after shorthand expansion).
    pub(crate) patterns: Vec<(ResourcePattern, String)>,
}

impl ResourceMatch {
    /// Whether the statement's resource part applies to the (split) request ARN; undecided when a policy variable
    /// in it cannot be decided, for `NotResource` as for `Resource`.
    pub(crate) fn applies(&self, arn: Option<&ArnFields<'_>>, ctx: &dyn ConditionContext) -> Truth {
        let any = Truth::any(self.patterns.iter().map(|(pattern, _)| match (pattern, arn) {
            (ResourcePattern::Any, _) => Truth::True,
            (ResourcePattern::Arn(pattern), Some(arn)) => pattern.matches_fields(arn, ctx),
            (ResourcePattern::Arn(_), None) => Truth::False,
        }));
        if self.negated {
            !any
        } else {
            any
        }
    }

    /// The element's name as written.
    pub(crate) fn element(&self) -> &'static str {
        if self.negated {
            "NotResource"
        } else {
            "Resource"
        }
    }
}

/// A validated statement.
#[derive(Debug, Clone)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub action: ActionMatch,
    pub resource: ResourceMatch,
    /// Every condition of the block; all must hold.
    pub conditions: Vec<Condition>,
}

/// One request as statements see it, split once.
pub(crate) struct PolicyRequest<'a> {
    pub action: &'a str,
    pub arn: Option<ArnFields<'a>>,
    pub ctx: &'a dyn ConditionContext,
}

/// How a statement relates to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applies {
    No,
    Yes,
    /// Action and resource match, but condition `n` (in block order) does not hold.
    ConditionFailed(usize),
    /// Nothing rules the statement out, but a part of it cannot be decided for this request (a list where one
    /// value is needed, a claim that cannot be read): a Deny statement applies, an Allow statement does not.
    Undecided(Undecidable),
}

/// The first part of a statement that could not be decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Undecidable {
    /// A policy variable in `Resource` or `NotResource`.
    Resource,
    /// Condition `n`, in block order.
    Condition(usize),
}

impl Statement {
    /// Whether the statement applies: action part, resource part, then every condition (Kleene AND: a false part
    /// rules the statement out even when another cannot be decided).
    pub(crate) fn evaluate(&self, request: &PolicyRequest<'_>) -> Applies {
        if !self.action.applies(request.action) {
            return Applies::No;
        }
        let mut undecided = match self.resource.applies(request.arn.as_ref(), request.ctx) {
            Truth::False => return Applies::No,
            Truth::True => None,
            Truth::Undecided => Some(Undecidable::Resource),
        };
        for (index, condition) in self.conditions.iter().enumerate() {
            match condition.evaluate(request.ctx) {
                Truth::False => return Applies::ConditionFailed(index),
                Truth::Undecided => undecided = undecided.or(Some(Undecidable::Condition(index))),
                Truth::True => {}
            }
        }
        undecided.map_or(Applies::Yes, Applies::Undecided)
    }
}

/// A validated policy document.
#[derive(Debug, Clone)]
pub struct Document {
    pub version: Version,
    pub statements: Vec<Statement>,
    /// Whether `Statement` was written as a list (paths then carry an index).
    pub(crate) listed: bool,
}

/// Values that may be written as one string or a list of strings, with the path of each.
fn strings<'a>(value: &'a Value, path: &str) -> Result<Vec<(&'a str, String)>, PolicyError> {
    match value {
        Value::String(one) => Ok(vec![(one.as_str(), path.to_owned())]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let item_path = format!("{path}[{index}]");
                item.as_str().map(|text| (text, item_path.clone())).ok_or_else(|| error(&item_path, "expected a string"))
            })
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

fn parse_action(pattern: &str, version: Version, path: &str) -> Result<Pattern, PolicyError> {
    if version == Version::V2012_10_17 && pattern.contains("${") {
        return Err(error(path, "policy variables are not allowed in actions"));
    }
    if pattern == "*" {
        return Ok(Pattern::wildcards("*"));
    }
    match pattern.split_once(':') {
        Some((service, action)) if !service.is_empty() && !action.is_empty() && !action.contains(':') => {
            Ok(Pattern::wildcards(&pattern.to_ascii_lowercase()))
        }
        _ => Err(error(path, format!("`{pattern}` is not `*` or `service:action`"))),
    }
}

fn parse_resource(pattern: &str, api: &ApiTarget, version: Version, path: &str) -> Result<(ResourcePattern, String), PolicyError> {
    if pattern.chars().count() > MAX_RESOURCE_CHARS {
        return Err(error(path, format!("longer than API Gateway's {MAX_RESOURCE_CHARS} characters")));
    }
    if pattern == "*" {
        return Ok((ResourcePattern::Any, pattern.to_owned()));
    }
    // API Gateway resource policies write `execute-api:/{stage}/{METHOD}/{path}` for "this API".
    let expanded = match pattern.strip_prefix("execute-api:/") {
        Some(rest) => format!("{}/{rest}", api.arn_prefix()),
        None => pattern.to_owned(),
    };
    let arn = ArnPattern::parse_with(&expanded, version == Version::V2012_10_17)
        .map_err(|message| error(path, message))?
        .ok_or_else(|| {
            error(path, format!("`{expanded}` is not `*` or an ARN (`arn:partition:service:region:account:resource`)"))
        })?
        .for_resource();
    arn.check_partition(api.partition).map_err(|message| error(path, format!("`{expanded}` {message}")))?;
    // Spelled as no request is, it could never match: a Deny written with it would never apply.
    if let Some(why) = spelling::misspelled(&arn) {
        return Err(error(path, format!("`{expanded}` can never match a request: {why}")));
    }
    if arn.variables_outside_resource() {
        return Err(error(path, "policy variables are allowed only in the resource part of an ARN (after the fifth colon)"));
    }
    Ok((ResourcePattern::Arn(Box::new(arn)), expanded))
}

fn parse_statement(value: &Value, api: &ApiTarget, version: Version, path: &str) -> Result<Statement, PolicyError> {
    let statement = value.as_object().ok_or_else(|| error(path, "expected an object"))?;
    for key in statement.keys() {
        match key.as_str() {
            "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource" | "Condition" => {}
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
        .map(|(pattern, item_path)| parse_action(pattern, version, &item_path))
        .collect::<Result<_, _>>()?;
    let action = ActionMatch::new(negated, patterns);
    let (negated, resources, resource_path) = one_of(statement, "Resource", "NotResource", path)?;
    let patterns = strings(resources, &resource_path)?
        .into_iter()
        .map(|(pattern, item_path)| parse_resource(pattern, api, version, &item_path))
        .collect::<Result<_, _>>()?;
    let resource = ResourceMatch { negated, patterns };
    let conditions = match statement.get("Condition") {
        None => Vec::new(),
        Some(block) => Condition::parse_block(block, version, api.partition, &format!("{path}.Condition"))?,
    };
    Ok(Statement { sid, effect, action, resource, conditions })
}

/// Statements with the path each was found at.
pub(crate) type Located<'a> = Vec<(&'a Statement, String)>;

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
        if let Some(id) = document.get("Id") {
            if !id.is_string() {
                return Err(error(&format!("{path}.Id"), "expected a string"));
            }
        }
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
        let listed = matches!(document.get("Statement"), Some(Value::Array(_)));
        Ok(Self { version, statements, listed })
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

    /// Each statement with its path, given the path of a document or list of documents written at `path`.
    pub(crate) fn locate<'a>(documents: &'a [Self], path: &str, listed: bool) -> Located<'a> {
        let mut located = Vec::new();
        for (index, document) in documents.iter().enumerate() {
            let document_path = if listed { format!("{path}[{index}]") } else { path.to_owned() };
            for (statement_index, statement) in document.statements.iter().enumerate() {
                let statement_path = if !document.listed {
                    format!("{document_path}.Statement")
                } else {
                    format!("{document_path}.Statement[{statement_index}]")
                };
                located.push((statement, statement_path));
            }
        }
        located
    }
}
