//! Policy documents: JSON → validated, compiled statements, every error named by its path in the configuration.

use super::condition::Condition;
use super::context::ConditionContext;
use super::error::{error, error_at, Path, PolicyError};
use super::pattern::{ArnFields, ArnPattern, Pattern};
use super::raw::{read_documents, Object, RawDocument, RawDocuments, RawStatement, RawStatements, Text, Texts};
use super::spelling;
use super::truth::Truth;
use super::INVOKE;
use crate::request::ApiTarget;
use serde_json::Value;

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

/// Values that may be written as one string or a list of strings, each passed to `parse` with its path.
fn strings<T>(
    value: &Texts<'_>,
    path: &Path<'_>,
    mut parse: impl FnMut(&str, &Path<'_>) -> Result<T, PolicyError>,
) -> Result<Vec<T>, PolicyError> {
    match value {
        Texts::One(one) => Ok(vec![parse(one, path)?]),
        Texts::List(items) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let item_path = Path::Index(path, index);
                match item {
                    Text::Text(text) => parse(text, &item_path),
                    Text::Other => Err(error_at(&item_path, "expected a string")),
                }
            })
            .collect(),
        Texts::List(_) => Err(error_at(path, "expected at least one value")),
        Texts::Other => Err(error_at(path, "expected a string or a list of strings")),
    }
}

/// Exactly one of two mutually exclusive keys (`Action`/`NotAction`, `Resource`/`NotResource`): whether it is
/// the negative one, its value and its name.
fn one_of<'a, 'de>(
    positive: (&'static str, &'a Option<Texts<'de>>),
    negative: (&'static str, &'a Option<Texts<'de>>),
    path: &Path<'_>,
) -> Result<(bool, &'a Texts<'de>, &'static str), PolicyError> {
    match (positive, negative) {
        ((name, Some(value)), (_, None)) => Ok((false, value, name)),
        ((_, None), (name, Some(value))) => Ok((true, value, name)),
        ((positive, Some(_)), (negative, Some(_))) => {
            Err(error_at(path, format!("`{positive}` and `{negative}` cannot both be present")))
        }
        ((positive, None), (negative, None)) => {
            Err(error_at(path, format!("one of `{positive}` or `{negative}` is required")))
        }
    }
}

fn parse_action(pattern: &str, version: Version, path: &Path<'_>) -> Result<Pattern, PolicyError> {
    if version == Version::V2012_10_17 && pattern.contains("${") {
        return Err(error_at(path, "policy variables are not allowed in actions"));
    }
    if pattern == "*" {
        return Ok(Pattern::wildcards("*"));
    }
    match pattern.split_once(':') {
        Some((service, action)) if !service.is_empty() && !action.is_empty() && !action.contains(':') => {
            Ok(Pattern::wildcards(&pattern.to_ascii_lowercase()))
        }
        _ => Err(error_at(path, format!("`{pattern}` is not `*` or `service:action`"))),
    }
}

fn parse_resource(
    pattern: &str,
    api: &ApiTarget,
    version: Version,
    path: &Path<'_>,
) -> Result<(ResourcePattern, String), PolicyError> {
    if pattern.chars().count() > MAX_RESOURCE_CHARS {
        return Err(error_at(path, format!("longer than API Gateway's {MAX_RESOURCE_CHARS} characters")));
    }
    if pattern == "*" {
        return Ok((ResourcePattern::Any, pattern.to_owned()));
    }
    // API Gateway resource policies write `execute-api:/{stage}/{METHOD}/{path}` for "this API".
    let expanded = match pattern.strip_prefix("execute-api:/") {
        Some(rest) => {
            // `ApiTarget::arn_prefix` and `rest`, without a formatting pass per resource.
            let fields = [
                "arn:",
                api.partition.as_str(),
                ":execute-api:",
                &api.region,
                ":",
                &api.account_id,
                ":",
                &api.api_id,
                "/",
                rest,
            ];
            let mut expanded = String::with_capacity(fields.iter().map(|field| field.len()).sum());
            fields.into_iter().for_each(|field| expanded.push_str(field));
            expanded
        }
        None => pattern.to_owned(),
    };
    let arn = ArnPattern::parse_with(&expanded, version == Version::V2012_10_17)
        .map_err(|message| error_at(path, message))?
        .ok_or_else(|| {
            error_at(
                path,
                format!("`{expanded}` is not `*` or an ARN (`arn:partition:service:region:account:resource`)"),
            )
        })?
        .for_resource();
    arn.check_partition(api.partition).map_err(|message| error_at(path, format!("`{expanded}` {message}")))?;
    // Spelled as no request is, it could never match: a Deny written with it would never apply.
    if let Some(why) = spelling::misspelled(&arn) {
        return Err(error_at(path, format!("`{expanded}` can never match a request: {why}")));
    }
    if arn.variables_outside_resource() {
        return Err(error_at(
            path,
            "policy variables are allowed only in the resource part of an ARN (after the fifth colon)",
        ));
    }
    Ok((ResourcePattern::Arn(Box::new(arn)), expanded))
}

fn parse_statement(
    statement: &RawStatement<'_>,
    api: &ApiTarget,
    version: Version,
    path: &Path<'_>,
) -> Result<Statement, PolicyError> {
    if let Some(name) = statement.duplicate {
        return Err(error_at(path, format!("duplicate member name `{name}`")));
    }
    if let Some(name) = &statement.refused {
        let message = match &**name {
            "Principal" | "NotPrincipal" => "an identity policy has no principal",
            _ => "unknown statement element",
        };
        return Err(error_at(&Path::Key(path, name), message));
    }
    let sid = match &statement.sid {
        None => None,
        Some(Text::Text(sid)) => Some(sid.as_ref().to_owned()),
        Some(Text::Other) => return Err(error_at(&Path::Key(path, "Sid"), "expected a string")),
    };
    let effect = match &statement.effect {
        Some(Text::Text(effect)) if effect == "Allow" => Effect::Allow,
        Some(Text::Text(effect)) if effect == "Deny" => Effect::Deny,
        Some(_) => return Err(error_at(&Path::Key(path, "Effect"), "must be exactly `Allow` or `Deny`")),
        None => return Err(error_at(path, "`Effect` is required")),
    };
    let (negated, actions, element) =
        one_of(("Action", &statement.action), ("NotAction", &statement.not_action), path)?;
    let patterns =
        strings(actions, &Path::Key(path, element), |pattern, item_path| parse_action(pattern, version, item_path))?;
    let action = ActionMatch::new(negated, patterns);
    let (negated, resources, element) =
        one_of(("Resource", &statement.resource), ("NotResource", &statement.not_resource), path)?;
    let patterns = strings(resources, &Path::Key(path, element), |pattern, item_path| {
        parse_resource(pattern, api, version, item_path)
    })?;
    let resource = ResourceMatch { negated, patterns };
    let conditions = match &statement.condition {
        None => Vec::new(),
        Some(block) => Condition::parse_block_at(block, version, api.partition, &Path::Key(path, "Condition"))?,
    };
    Ok(Statement { sid, effect, action, resource, conditions })
}

/// Statements with the path each was found at.
pub(crate) type Located<'a> = Vec<(&'a Statement, StatementPath<'a>)>;

/// Where a statement was found (`policies.groups.admins[1].Statement[2]`), written out only for a warning.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StatementPath<'a> {
    /// The path of the document, or of the list of documents.
    base: &'a str,
    /// The document's position, when a list of documents was written.
    document: Option<usize>,
    /// The statement's position, when `Statement` was written as a list.
    statement: Option<usize>,
}

impl std::fmt::Display for StatementPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.base)?;
        if let Some(document) = self.document {
            write!(f, "[{document}]")?;
        }
        f.write_str(".Statement")?;
        match self.statement {
            Some(statement) => write!(f, "[{statement}]"),
            None => Ok(()),
        }
    }
}

impl Document {
    /// Validates one document found at `path`; `api` expands `execute-api:/...` shorthand resources.
    fn parse(raw: &Object<RawDocument<'_>>, api: &ApiTarget, path: &str) -> Result<Self, PolicyError> {
        let Object::Object(document) = raw else { return Err(error(path, "expected a policy document object")) };
        if let Some(name) = document.duplicate {
            return Err(error(path, format!("duplicate member name `{name}`")));
        }
        if let Some(name) = &document.refused {
            return Err(error(&format!("{path}.{name}"), "unknown policy element"));
        }
        let version = match &document.version {
            None => Version::V2008_10_17,
            Some(Text::Text(version)) if version == "2012-10-17" => Version::V2012_10_17,
            Some(Text::Text(version)) if version == "2008-10-17" => Version::V2008_10_17,
            Some(_) => return Err(error(&format!("{path}.Version"), "must be `2012-10-17` or `2008-10-17`")),
        };
        if let Some(Text::Other) = document.id {
            return Err(error(&format!("{path}.Id"), "expected a string"));
        }
        let root = Path::Root(path);
        let statement_path = Path::Key(&root, "Statement");
        let (statements, listed) = match &document.statement {
            Some(RawStatements::List(items)) => {
                let mut statements = Vec::with_capacity(items.len());
                for (index, item) in items.iter().enumerate() {
                    let item_path = Path::Index(&statement_path, index);
                    let Object::Object(item) = item else { return Err(error_at(&item_path, "expected an object")) };
                    statements.push(parse_statement(item, api, version, &item_path)?);
                }
                (statements, true)
            }
            Some(RawStatements::One(one)) => (vec![parse_statement(one, api, version, &statement_path)?], false),
            Some(RawStatements::Other) => {
                return Err(error_at(&statement_path, "expected a statement or a list of statements"))
            }
            None => return Err(error(path, "`Statement` is required")),
        };
        Ok(Self { version, statements, listed })
    }

    /// A document, or a list of documents, as written under a group, client or user (a `Value`: the CLI's and
    /// the tests' policies).
    pub fn parse_many(value: &Value, api: &ApiTarget, path: &str) -> Result<Vec<Self>, PolicyError> {
        let raw = read_documents(value).map_err(|err| error(path, err.to_string()))?;
        Self::parse_raw(&raw, api, path)
    }

    /// A document, or a list of documents, read straight from its JSON text; and whether it was a list.
    pub(crate) fn parse_many_json(text: &str, api: &ApiTarget, path: &str) -> Result<(Vec<Self>, bool), PolicyError> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let raw =
            read_documents(&mut deserializer).and_then(|raw| deserializer.end().map(|()| raw)).map_err(|err| {
                let (at, message) = crate::json::describe_within(path, text.as_bytes(), &err);
                error(&at, message)
            })?;
        let listed = matches!(raw, RawDocuments::List(_));
        Ok((Self::parse_raw(&raw, api, path)?, listed))
    }

    fn parse_raw(raw: &RawDocuments<'_>, api: &ApiTarget, path: &str) -> Result<Vec<Self>, PolicyError> {
        match raw {
            RawDocuments::List(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| Self::parse(item, api, &format!("{path}[{index}]")))
                .collect(),
            RawDocuments::One(one) => Ok(vec![Self::parse(one, api, path)?]),
        }
    }

    /// Each statement with its path, given the path of a document or list of documents written at `path`.
    pub(crate) fn locate<'a>(documents: &'a [Self], path: &'a str, listed: bool) -> Located<'a> {
        let mut located = Vec::new();
        for (index, document) in documents.iter().enumerate() {
            for (statement_index, statement) in document.statements.iter().enumerate() {
                let at = StatementPath {
                    base: path,
                    document: listed.then_some(index),
                    statement: document.listed.then_some(statement_index),
                };
                located.push((statement, at));
            }
        }
        located
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::request::Partition;

    /// The shorthand is expanded piece by piece; it must read as `ApiTarget::arn_prefix` says.
    #[test]
    fn shorthand_resources_expand_to_the_api_arn_prefix() {
        for (partition, region) in [(Partition::Aws, "us-east-1"), (Partition::AwsCn, "cn-north-1")] {
            let api = ApiTarget {
                partition,
                region: region.into(),
                account_id: "123456789012".into(),
                api_id: "a1b2c3d4e5".into(),
                stage: "dev".into(),
            };
            let (_, expanded) =
                parse_resource("execute-api:/dev/GET/pets/*", &api, Version::V2012_10_17, &Path::Root("r")).unwrap();
            assert_eq!(expanded, format!("{}/dev/GET/pets/*", api.arn_prefix()));
        }
    }
}
