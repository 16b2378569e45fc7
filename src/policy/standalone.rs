//! One document (or a list) evaluated on its own, against a resource, an action and a context given as data:
//! what the `authz policy` command, the corpus and the hosts' corpus runners call.

use super::context::{ConditionContext, MapContext};
use super::document::Document;
use super::error::{error, PolicyError, PolicyWarning};
use super::explain::{Evaluation, SourceKind};
use super::index::StatementIndex;
use super::pattern::split_arn;
use super::{evaluate_sources, lint, Source, Strategy};
use crate::request::{ApiTarget, Partition};
use serde_json::Value;

/// The path standalone documents are reported under (`policy.Statement[0]`, `policy[1].Statement[0]`).
const PATH: &str = "policy";

/// A compiled standalone document or list of documents.
#[derive(Debug)]
pub struct StandalonePolicy {
    source: Source,
    index: StatementIndex,
    warnings: Vec<PolicyWarning>,
}

/// The API a method ARN addresses (`execute-api:/...` shorthand expands to it, and policy ARNs must name its
/// partition). A resource that is no ARN gives empty fields in the `aws` partition: nothing can match it anyway.
/// An ARN in a partition this authorizer does not know is refused, as a configuration in such a region is.
pub fn api_of(resource: &str) -> Result<ApiTarget, PolicyError> {
    let fields = split_arn(resource);
    let partition = match fields {
        None => Partition::Aws,
        Some(fields) => Partition::parse(fields.partition).ok_or_else(|| {
            error(
                "resource",
                format!("`{}` is not a partition this authorizer knows (aws, aws-cn, aws-us-gov)", fields.partition),
            )
        })?,
    };
    let mut parts = fields.map(|fields| fields.resource).unwrap_or_default().split('/');
    Ok(ApiTarget {
        partition,
        region: fields.map(|fields| fields.region.to_owned()).unwrap_or_default(),
        account_id: fields.map(|fields| fields.account.to_owned()).unwrap_or_default(),
        api_id: parts.next().unwrap_or_default().to_owned(),
        stage: parts.next().unwrap_or_default().to_owned(),
    })
}

impl StandalonePolicy {
    /// Compiles `policy` (a document or a list of documents); `api` expands `execute-api:/...` resources.
    pub fn compile(policy: &Value, api: &ApiTarget) -> Result<Self, PolicyError> {
        let documents = Document::parse_many(policy, api, PATH)?;
        let mut warnings = Vec::new();
        lint::lint(&Document::locate(&documents, PATH, policy.is_array()), None, &mut warnings);
        let source = Source::new(documents, 0);
        let index = StatementIndex::build(&[source.statements()]);
        Ok(Self { source, index, warnings })
    }

    /// Statements that can never match an execute-api request.
    pub fn warnings(&self) -> &[PolicyWarning] {
        &self.warnings
    }

    /// The documents, as compiled.
    pub fn documents(&self) -> &[Document] {
        self.source.documents()
    }

    /// Evaluates `action` on `resource` with the condition keys of `ctx` (compiled evaluator).
    pub fn evaluate(&self, resource: &str, action: &str, ctx: &dyn ConditionContext) -> Evaluation {
        let sources = std::iter::once((SourceKind::Policy, "", &self.source));
        evaluate_sources(sources, action, resource, ctx, Strategy::Indexed(&self.index))
    }

    /// The same, checking every statement.
    pub fn evaluate_linear(&self, resource: &str, action: &str, ctx: &dyn ConditionContext) -> Evaluation {
        let sources = std::iter::once((SourceKind::Policy, "", &self.source));
        evaluate_sources(sources, action, resource, ctx, Strategy::Linear)
    }
}

/// Evaluates `policy` (a document or a list) for `action` on `resource` with `context`
/// (`{"aws:SourceIp": "192.0.2.1", "claim:cognito:groups": ["a", "b"]}`; `null` for none). `execute-api:/...`
/// resources expand to the API of `resource`.
pub fn evaluate_standalone(
    policy: &Value,
    resource: &str,
    action: &str,
    context: &Value,
) -> Result<Evaluation, PolicyError> {
    let ctx = MapContext::from_json(context, "context")?;
    let compiled = StandalonePolicy::compile(policy, &api_of(resource)?)?;
    Ok(compiled.evaluate(resource, action, &ctx))
}
