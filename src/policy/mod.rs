//! execute-api IAM policies: documents per Cognito group, app client and user, evaluated like API Gateway.

mod document;
mod pattern;

pub use document::{Document, Effect, PolicyError, Statement, Version};
pub use pattern::{wildcard_match, ArnPattern};

use crate::request::ApiTarget;
use serde_json::Value;
use std::collections::BTreeMap;

/// The action every execute-api request is evaluated for.
pub const INVOKE: &str = "execute-api:Invoke";

/// Whose documents a statement came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Group,
    Client,
    User,
}

impl SourceKind {
    /// The configuration key the documents sit under.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Group => "groups",
            Self::Client => "clients",
            Self::User => "users",
        }
    }
}

/// Names one statement for explanations: `groups.admins[0].Statement[2]` plus its Sid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    pub source: SourceKind,
    pub name: String,
    pub document: usize,
    pub statement: usize,
    pub sid: Option<String>,
    pub effect: Effect,
}

impl std::fmt::Display for StatementRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}[{}].Statement[{}]", self.source.as_str(), self.name, self.document, self.statement)?;
        if let Some(sid) = &self.sid {
            write!(f, " ({sid})")?;
        }
        Ok(())
    }
}

/// The three outcomes of IAM evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyDecision {
    Allow,
    ExplicitDeny,
    ImplicitDeny,
}

/// A decision and the statements that made it (the matching Denies, or else the matching Allows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: PolicyDecision,
    pub statements: Vec<StatementRef>,
}

/// Who is asking: the parts of a verified token that select documents.
#[derive(Debug, Clone, Copy)]
pub struct Principal<'a> {
    pub groups: &'a [String],
    pub client_id: Option<&'a str>,
    pub username: Option<&'a str>,
}

/// Every configured document, compiled.
#[derive(Debug, Default)]
pub struct PolicyStore {
    groups: BTreeMap<String, Vec<Document>>,
    clients: BTreeMap<String, Vec<Document>>,
    users: BTreeMap<String, Vec<Document>>,
}

/// The `policies` section as configured: name → document or list of documents.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicies {
    #[serde(default)]
    pub groups: BTreeMap<String, Value>,
    #[serde(default)]
    pub clients: BTreeMap<String, Value>,
    #[serde(default)]
    pub users: BTreeMap<String, Value>,
}

fn compile_section(
    raw: &BTreeMap<String, Value>,
    api: &ApiTarget,
    path: &str,
) -> Result<BTreeMap<String, Vec<Document>>, PolicyError> {
    raw.iter()
        .map(|(name, value)| Ok((name.clone(), Document::parse_many(value, api, &format!("{path}.{name}"))?)))
        .collect()
}

impl PolicyStore {
    /// Compiles the `policies` section found at `path`.
    pub fn compile(raw: &RawPolicies, api: &ApiTarget, path: &str) -> Result<Self, PolicyError> {
        Ok(Self {
            groups: compile_section(&raw.groups, api, &format!("{path}.groups"))?,
            clients: compile_section(&raw.clients, api, &format!("{path}.clients"))?,
            users: compile_section(&raw.users, api, &format!("{path}.users"))?,
        })
    }

    /// The documents that apply to `principal`, with where each came from.
    fn documents<'a>(
        &'a self,
        principal: &'a Principal<'a>,
    ) -> impl Iterator<Item = (SourceKind, &'a str, &'a [Document])> + 'a {
        let groups = principal
            .groups
            .iter()
            .filter_map(|group| self.groups.get_key_value(group.as_str()))
            .map(|(name, docs)| (SourceKind::Group, name.as_str(), docs.as_slice()));
        let client = principal
            .client_id
            .and_then(|client| self.clients.get_key_value(client))
            .map(|(name, docs)| (SourceKind::Client, name.as_str(), docs.as_slice()));
        let user = principal
            .username
            .and_then(|user| self.users.get_key_value(user))
            .map(|(name, docs)| (SourceKind::User, name.as_str(), docs.as_slice()));
        groups.chain(client).chain(user)
    }

    /// Evaluates `action` on resource `arn` for `principal`: any matching Deny wins, then any Allow, else deny.
    pub fn evaluate(&self, principal: &Principal<'_>, action: &str, arn: &str) -> Evaluation {
        let mut allows = Vec::new();
        let mut denies = Vec::new();
        for (source, name, documents) in self.documents(principal) {
            for (document_index, document) in documents.iter().enumerate() {
                for (statement_index, statement) in document.statements.iter().enumerate() {
                    if !(statement.action.applies(action) && statement.resource.applies(arn)) {
                        continue;
                    }
                    let reference = StatementRef {
                        source,
                        name: name.to_owned(),
                        document: document_index,
                        statement: statement_index,
                        sid: statement.sid.clone(),
                        effect: statement.effect,
                    };
                    match statement.effect {
                        Effect::Deny => denies.push(reference),
                        Effect::Allow => allows.push(reference),
                    }
                }
            }
        }
        match (denies.is_empty(), allows.is_empty()) {
            (false, _) => Evaluation { decision: PolicyDecision::ExplicitDeny, statements: denies },
            (true, false) => Evaluation { decision: PolicyDecision::Allow, statements: allows },
            (true, true) => Evaluation { decision: PolicyDecision::ImplicitDeny, statements: Vec::new() },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn api() -> ApiTarget {
        ApiTarget {
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

    #[test]
    fn allow_deny_and_implicit_deny() {
        let store = store(json!({"groups": {
            "vets": {"Version": "2012-10-17", "Statement": [{"Sid": "PetStore-API", "Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:*/*/*/petstore/v1/*"}]},
            "banned": {"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "EXECUTE-API:*", "Resource": "*"}}
        }}))
        .unwrap();
        let vets = ["vets".to_owned()];
        let allowed = store.evaluate(&principal(&vets), INVOKE, ARN);
        assert_eq!(allowed.decision, PolicyDecision::Allow);
        assert_eq!(allowed.statements[0].to_string(), "groups.vets[0].Statement[0] (PetStore-API)");
        let both = ["vets".to_owned(), "banned".to_owned()];
        let denied = store.evaluate(&principal(&both), INVOKE, ARN);
        assert_eq!(denied.decision, PolicyDecision::ExplicitDeny);
        assert_eq!(denied.statements[0].name, "banned");
        let other = store.evaluate(&principal(&vets), INVOKE, &ARN.replace("v1", "v2"));
        assert_eq!(other.decision, PolicyDecision::ImplicitDeny);
        let nobody = store.evaluate(&principal(&[]), INVOKE, ARN);
        assert_eq!(nobody.decision, PolicyDecision::ImplicitDeny);
    }

    #[test]
    fn clients_users_not_action_not_resource_and_shorthand() {
        let store = store(json!({
            "clients": {"app": [{"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "execute-api:/dev/GET/*"}]}]},
            "users": {"alice": {"Statement": [{"Effect": "Deny", "Action": "*", "NotResource": "execute-api:/*/GET/petstore/*"}]}}
        }))
        .unwrap();
        let evaluation = store.evaluate(&principal(&[]), INVOKE, ARN);
        assert_eq!(evaluation.decision, PolicyDecision::Allow);
        let post = store.evaluate(&principal(&[]), INVOKE, &ARN.replace("GET/petstore", "POST/x"));
        assert_eq!(post.decision, PolicyDecision::ExplicitDeny);
        let other_api = store.evaluate(&principal(&[]), INVOKE, &ARN.replace("a1b2c3d4e5", "zzzzzzzzzz"));
        assert_eq!(other_api.decision, PolicyDecision::ExplicitDeny);
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
        ];
        for (policies, expected) in cases {
            assert_eq!(store(policies).unwrap_err().to_string(), expected);
        }
    }
}
