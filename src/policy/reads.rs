//! Which condition keys a compiled configuration can ever read, so that a host looks up only the request facts
//! some statement can use (the downstream address, TLS) and skips the rest on every request.

use super::context::{KeyKind, KeyName};
use super::document::{ResourcePattern, Statement};
use super::PolicyStore;

impl Statement {
    /// Every key the statement names: as a policy variable in any field of a resource pattern (`Resource` or
    /// `NotResource`), then as a condition key or a policy variable in a condition value. Actions take no
    /// variables. A key named twice is given twice.
    pub fn keys_read(&self) -> impl Iterator<Item = &KeyName> {
        let resources = self.resource.patterns.iter().filter_map(|(pattern, _)| match pattern {
            ResourcePattern::Arn(arn) => Some(arn),
            ResourcePattern::Any => None,
        });
        let in_resources = resources.flat_map(|arn| arn.variables().map(|variable| &variable.key));
        let in_conditions = self.conditions.iter().flat_map(|condition| {
            std::iter::once(&condition.key).chain(condition.variables().into_iter().map(|variable| &variable.key))
        });
        in_resources.chain(in_conditions)
    }
}

/// Whether `statement` names a key of `kind`, in any place [`Statement::keys_read`] looks.
fn statement_reads(statement: &Statement, kind: KeyKind) -> bool {
    statement.keys_read().any(|key| key.kind() == kind)
}

impl PolicyStore {
    /// Whether any statement of this section can read a key of `kind`.
    pub fn reads(&self, kind: KeyKind) -> bool {
        [&self.groups, &self.clients, &self.users]
            .into_iter()
            .flat_map(|section| section.values())
            .flat_map(|source| source.documents())
            .flat_map(|document| &document.statements)
            .any(|statement| statement_reads(statement, kind))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::policy::RawPolicies;
    use crate::request::ApiTarget;
    use serde_json::json;

    fn store(statement: serde_json::Value) -> PolicyStore {
        let raw: RawPolicies =
            serde_json::from_value(json!({"users": {"u": {"Version": "2012-10-17", "Statement": [statement]}}}))
                .unwrap();
        let api = ApiTarget {
            partition: crate::request::Partition::Aws,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            api_id: "a".into(),
            stage: "dev".into(),
        };
        PolicyStore::compile(&raw, &api, "policies").unwrap()
    }

    #[test]
    fn finds_keys_in_conditions_variables_and_resources() {
        let allow = |extra: serde_json::Value| {
            let mut statement =
                json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "execute-api:/dev/GET/*"});
            for (key, value) in extra.as_object().unwrap() {
                statement[key] = value.clone();
            }
            store(statement)
        };
        let plain = allow(json!({}));
        assert!(!plain.reads(KeyKind::SourceIp) && !plain.reads(KeyKind::SecureTransport));
        let ip = allow(json!({"Condition": {"NotIpAddress": {"AWS:SourceIP": "10.0.0.0/8"}}}));
        assert!(ip.reads(KeyKind::SourceIp) && !ip.reads(KeyKind::SecureTransport));
        let tls = allow(json!({"Condition": {"Bool": {"aws:SecureTransport": "true"}}}));
        assert!(tls.reads(KeyKind::SecureTransport) && !tls.reads(KeyKind::SourceIp));
        let null = allow(json!({"Condition": {"Null": {"aws:SourceIp": "true"}}}));
        assert!(null.reads(KeyKind::SourceIp));
        let in_value = allow(json!({"Condition": {"StringEquals": {"claim:custom:ip": "${aws:SourceIp}"}}}));
        assert!(in_value.reads(KeyKind::SourceIp));
        let in_resource = allow(json!({"Resource": "execute-api:/dev/GET/${aws:SourceIp}/*"}));
        assert!(in_resource.reads(KeyKind::SourceIp));
        let not_resource = store(
            json!({"Effect": "Deny", "Action": "*", "NotResource": "execute-api:/dev/GET/${aws:SecureTransport}"}),
        );
        assert!(not_resource.reads(KeyKind::SecureTransport));
    }
}
