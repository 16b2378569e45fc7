//! execute-api IAM policies: documents per Cognito group, app client and user, evaluated like API Gateway.
//!
//! Stages: [`document`] parses and validates JSON (errors name their path), [`condition`] and [`variable`]
//! compile the condition language, [`lint`] warns about statements that can never match, [`index`] narrows
//! each request to the statements that may match, [`explain`] says why. Resources and conditions evaluate to
//! three-valued [`Truth`]: what a request cannot decide makes a Deny apply and an Allow not. [`PolicyStore::evaluate`] is the
//! compiled evaluator the authorizer uses; [`PolicyStore::evaluate_linear`] checks every statement and is kept
//! as the reference for tests and benchmarks.

mod condition;
pub mod context;
mod document;
mod error;
mod explain;
mod index;
mod lint;
mod pattern;
mod raw;
mod reads;
mod scoped;
mod spelling;
mod standalone;
mod truth;
mod value;
mod variable;

#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;

pub use condition::{Condition, SetQualifier};
pub use context::{
    ConditionContext, KeyKind, KeyName, MapContext, NoContext, RawSourceIp, RequestContext, SourceIp, Values,
    CLAIM_PREFIX,
};
pub use document::{ActionMatch, Document, Effect, ResourceMatch, Statement, Version, MAX_RESOURCE_CHARS};
pub use error::{PolicyError, PolicyWarning};
pub use explain::{DenyWhy, Evaluation, PolicyDecision, SourceKind, StatementRef, Unmet, UnmetCondition};
pub use pattern::{wildcard_match, ArnPattern};
pub use scoped::ScopedPolicies;
pub use standalone::{api_of, evaluate_standalone, StandalonePolicy};
pub use truth::Truth;

use crate::request::ApiTarget;
use document::{Applies, PolicyRequest, Undecidable};
use index::StatementIndex;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, DefaultHasher};

/// The action every execute-api request is evaluated for.
pub const INVOKE: &str = "execute-api:Invoke";

/// Who is asking: the parts of a verified token that select documents.
#[derive(Debug, Clone, Copy)]
pub struct Principal<'a> {
    /// Each group once (a verified token's groups are).
    pub groups: &'a [String],
    pub client_id: Option<&'a str>,
    pub username: Option<&'a str>,
}

/// The documents of one group, client or user.
#[derive(Debug)]
pub(crate) struct Source {
    documents: Vec<Document>,
    /// `(document, statement)` of each statement id.
    locations: Vec<(usize, usize)>,
    /// Its number in its store's [`StatementIndex`].
    id: u32,
}

impl Source {
    pub(crate) fn new(documents: Vec<Document>, id: u32) -> Self {
        let locations = documents
            .iter()
            .enumerate()
            .flat_map(|(d, document)| (0..document.statements.len()).map(move |s| (d, s)))
            .collect();
        Self { documents, locations, id }
    }

    fn statement(&self, id: usize) -> Option<(usize, usize, &Statement)> {
        let &(document, statement) = self.locations.get(id)?;
        let found = self.documents.get(document)?.statements.get(statement)?;
        Some((document, statement, found))
    }

    /// Every statement, numbered as the index numbers them.
    fn statements(&self) -> Vec<&Statement> {
        self.documents.iter().flat_map(|document| document.statements.iter()).collect()
    }

    pub(crate) fn documents(&self) -> &[Document] {
        &self.documents
    }
}

/// Gathers matching statements across sources.
#[derive(Debug, Default)]
struct Collector {
    allows: Vec<StatementRef>,
    denies: Vec<StatementRef>,
    unmet: Vec<UnmetCondition>,
    documents: usize,
}

impl Collector {
    /// Deny applies unless ruled out (also when undecided); Allow only when it certainly applies.
    fn visit(&mut self, origin: (SourceKind, &str), source: &Source, id: usize, request: &PolicyRequest<'_>) {
        let Some((document, index, statement)) = source.statement(id) else { return };
        let applies = statement.evaluate(request);
        let reference = || StatementRef {
            issuer: None,
            source: origin.0,
            name: origin.1.to_owned(),
            document,
            statement: index,
            sid: statement.sid.clone(),
            effect: statement.effect,
        };
        let unmet = match (statement.effect, applies) {
            (_, Applies::No) | (Effect::Deny, Applies::ConditionFailed(_)) => return,
            (Effect::Deny, Applies::Yes | Applies::Undecided(_)) => return self.denies.push(reference()),
            (Effect::Allow, Applies::Yes) => return self.allows.push(reference()),
            (Effect::Allow, Applies::ConditionFailed(failed)) => {
                statement.conditions.get(failed).map(|condition| Unmet::Condition {
                    operator: condition.operator.clone(),
                    key: condition.key.as_str().to_owned(),
                    key_present: request.ctx.values(&condition.key).is_some(),
                })
            }
            (Effect::Allow, Applies::Undecided(Undecidable::Condition(undecided))) => {
                statement.conditions.get(undecided).map(|condition| Unmet::UndecidedCondition {
                    operator: condition.operator.clone(),
                    key: condition.key.as_str().to_owned(),
                })
            }
            (Effect::Allow, Applies::Undecided(Undecidable::Resource)) => {
                Some(Unmet::UndecidedResource { element: statement.resource.element() })
            }
        };
        if let Some(unmet) = unmet {
            self.unmet.push(UnmetCondition { statement: reference(), unmet });
        }
    }

    /// Deny overrides Allow overrides the implicit deny.
    fn finish(self) -> Evaluation {
        let Self { allows, denies, unmet, documents } = self;
        match (denies.is_empty(), allows.is_empty()) {
            (false, _) => {
                Evaluation { decision: PolicyDecision::ExplicitDeny, statements: denies, unmet: Vec::new(), documents }
            }
            (true, false) => {
                Evaluation { decision: PolicyDecision::Allow, statements: allows, unmet: Vec::new(), documents }
            }
            (true, true) => {
                Evaluation { decision: PolicyDecision::ImplicitDeny, statements: Vec::new(), unmet, documents }
            }
        }
    }
}

/// How statements are found: through the sources' index, or by checking every one.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Strategy<'i> {
    Indexed(&'i StatementIndex),
    Linear,
}

/// Evaluates `action` on `arn` against `sources`, in order.
pub(crate) fn evaluate_sources<'s>(
    sources: impl Iterator<Item = (SourceKind, &'s str, &'s Source)>,
    action: &str,
    arn: &str,
    ctx: &dyn ConditionContext,
    strategy: Strategy<'_>,
) -> Evaluation {
    let fields = pattern::split_arn(arn);
    let request = PolicyRequest { action, arn: fields, ctx };
    let mut collector = Collector::default();
    // Found once for every source: the index's anchors in this request.
    let mut anchors = Vec::new();
    if let Strategy::Indexed(index) = strategy {
        index.anchors_in(fields.map(|fields| fields.resource), &mut anchors);
    }
    let mut candidates = Vec::new();
    for (kind, name, source) in sources {
        collector.documents += source.documents.len();
        match strategy {
            Strategy::Linear => {
                for id in 0..source.locations.len() {
                    collector.visit((kind, name), source, id, &request);
                }
            }
            Strategy::Indexed(index) => {
                index.candidates(source.id, &anchors, &mut candidates);
                for &id in &candidates {
                    collector.visit((kind, name), source, id, &request);
                }
            }
        }
    }
    collector.finish()
}

/// Every configured document of one `policies` section, compiled.
#[derive(Debug)]
pub struct PolicyStore {
    /// The issuer whose principals these documents are for (`issuers[i].policies`); `None` for the shared section.
    issuer: Option<usize>,
    groups: Sources,
    clients: Sources,
    users: Sources,
    /// Every source's statements, numbered groups first, then clients, then users (each in name order).
    index: StatementIndex,
    warnings: Vec<PolicyWarning>,
}

/// The `policies` section as configured: name → document or list of documents, each kept as its JSON text.
///
/// Each document is read into a `Value` only while it is compiled, one at a time: read whole, a configuration of
/// thousands of documents held every one as a tree of maps and strings at once, many times its own size, and in
/// wasm that peak stays as the VM's memory.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicies {
    #[serde(default)]
    pub groups: BTreeMap<String, Box<RawValue>>,
    #[serde(default)]
    pub clients: BTreeMap<String, Box<RawValue>>,
    #[serde(default)]
    pub users: BTreeMap<String, Box<RawValue>>,
    /// In the shared (top-level) section: `true` says its names apply to the principals of every issuer. Required
    /// when several issuers are configured, since group and user names are only unique within one user pool.
    pub all_issuers: Option<bool>,
}

/// The sources of one section by name. Hashed, not ordered: a caller in a thousand groups looks each one up, and
/// in a search tree each lookup compared names a dozen times. Ids keep the configuration's order.
type Sources = HashMap<String, Source, BuildHasherDefault<DefaultHasher>>;

fn compile_section(
    raw: &BTreeMap<String, Box<RawValue>>,
    api: &ApiTarget,
    path: &str,
    next_id: &mut u32,
    warnings: &mut Vec<PolicyWarning>,
) -> Result<Sources, PolicyError> {
    let mut section = Sources::with_capacity_and_hasher(raw.len(), BuildHasherDefault::default());
    for (name, text) in raw {
        let name_path = format!("{path}.{name}");
        // The text was read as JSON already, so reading it fails only past serde_json's nesting limit.
        let (documents, listed) = Document::parse_many_json(text.get(), api, &name_path)?;
        lint::lint(&Document::locate(&documents, &name_path, listed), Some(api), warnings);
        section.insert(name.clone(), Source::new(documents, *next_id));
        *next_id += 1;
    }
    Ok(section)
}

impl PolicyStore {
    /// Compiles the `policies` section found at `path`.
    pub fn compile(raw: &RawPolicies, api: &ApiTarget, path: &str) -> Result<Self, PolicyError> {
        Self::compile_for(raw, api, path, None)
    }

    /// Compiles a `policies` section for the principals of issuer `issuer` only (`None`: the shared section).
    pub fn compile_for(
        raw: &RawPolicies,
        api: &ApiTarget,
        path: &str,
        issuer: Option<usize>,
    ) -> Result<Self, PolicyError> {
        let mut warnings = Vec::new();
        let mut next_id = 0;
        let groups = compile_section(&raw.groups, api, &format!("{path}.groups"), &mut next_id, &mut warnings)?;
        let clients = compile_section(&raw.clients, api, &format!("{path}.clients"), &mut next_id, &mut warnings)?;
        let users = compile_section(&raw.users, api, &format!("{path}.users"), &mut next_id, &mut warnings)?;
        let mut sources: Vec<&Source> = groups.values().chain(clients.values()).chain(users.values()).collect();
        sources.sort_unstable_by_key(|source| source.id);
        let statements: Vec<Vec<&Statement>> = sources.into_iter().map(Source::statements).collect();
        let index = StatementIndex::build(&statements);
        drop(statements);
        Ok(Self { issuer, groups, clients, users, index, warnings })
    }

    /// Hands the warnings over (to [`ScopedPolicies`], which reports every section's): a configuration that warns
    /// about every statement should not hold each warning twice.
    pub(crate) fn take_warnings(&mut self) -> Vec<PolicyWarning> {
        std::mem::take(&mut self.warnings)
    }

    /// Statements that load but can never match an execute-api request, for adapters to log.
    pub fn warnings(&self) -> &[PolicyWarning] {
        &self.warnings
    }

    /// The sources that apply to `principal`: its groups (in token order; a verified token lists each group
    /// once), client, then user. One map lookup per group.
    fn sources<'a>(
        &'a self,
        principal: &'a Principal<'a>,
    ) -> impl Iterator<Item = (SourceKind, &'a str, &'a Source)> + 'a {
        let groups = principal
            .groups
            .iter()
            .filter_map(|group| self.groups.get_key_value(group.as_str()))
            .map(|(name, source)| (SourceKind::Group, name.as_str(), source));
        let client = principal
            .client_id
            .and_then(|client| self.clients.get_key_value(client))
            .map(|(name, source)| (SourceKind::Client, name.as_str(), source));
        let user = principal
            .username
            .and_then(|user| self.users.get_key_value(user))
            .map(|(name, source)| (SourceKind::User, name.as_str(), source));
        groups.chain(client).chain(user)
    }

    /// Evaluates `action` on resource `arn` for `principal` with the request's condition keys: any applicable
    /// Deny wins, then any Allow, else an implicit deny. Only indexed candidates are checked.
    pub fn evaluate(
        &self,
        principal: &Principal<'_>,
        action: &str,
        arn: &str,
        ctx: &dyn ConditionContext,
    ) -> Evaluation {
        self.scoped(evaluate_sources(self.sources(principal), action, arn, ctx, Strategy::Indexed(&self.index)))
    }

    /// Marks the statements of an evaluation as this store's.
    fn scoped(&self, mut evaluation: Evaluation) -> Evaluation {
        if self.issuer.is_some() {
            let statements =
                evaluation.statements.iter_mut().chain(evaluation.unmet.iter_mut().map(|unmet| &mut unmet.statement));
            for statement in statements {
                statement.issuer = self.issuer;
            }
        }
        evaluation
    }

    /// The same decision as [`Self::evaluate`], checking every statement (the reference for tests and benches).
    pub fn evaluate_linear(
        &self,
        principal: &Principal<'_>,
        action: &str,
        arn: &str,
        ctx: &dyn ConditionContext,
    ) -> Evaluation {
        self.scoped(evaluate_sources(self.sources(principal), action, arn, ctx, Strategy::Linear))
    }
}
