//! Policy documents by user pool: group, user and client names are only unique within one Cognito user pool, so
//! each issuer's principals get the documents written for that issuer (`issuers[i].policies`), plus those of the
//! shared section when it says it applies to every issuer.

use super::{ConditionContext, Evaluation, KeyKind, PolicyDecision, PolicyStore, PolicyWarning, Principal};
use std::collections::BTreeMap;

/// Every `policies` section of a configuration, compiled.
#[derive(Debug, Default)]
pub struct ScopedPolicies {
    /// The top-level section: for the principals of every issuer.
    shared: Option<PolicyStore>,
    /// Each issuer's own section, by the exact `iss` value.
    by_issuer: BTreeMap<String, PolicyStore>,
    warnings: Vec<PolicyWarning>,
}

impl ScopedPolicies {
    /// Gathers the compiled sections; `by_issuer` pairs each issuer with its section.
    pub fn new(mut shared: Option<PolicyStore>, mut by_issuer: Vec<(String, PolicyStore)>) -> Self {
        let mut warnings: Vec<PolicyWarning> = shared.iter_mut().flat_map(PolicyStore::take_warnings).collect();
        warnings.extend(by_issuer.iter_mut().flat_map(|(_, store)| store.take_warnings()));
        Self { shared, by_issuer: by_issuer.into_iter().collect(), warnings }
    }

    /// Whether any statement of any section can read a key of `kind` ([`PolicyStore::reads`]).
    pub fn reads(&self, kind: KeyKind) -> bool {
        self.shared.iter().chain(self.by_issuer.values()).any(|store| store.reads(kind))
    }

    /// Statements that load but can never match, from every section.
    pub fn warnings(&self) -> &[PolicyWarning] {
        &self.warnings
    }

    /// The warnings, moved out (a host that has logged them need not keep them).
    pub fn take_warnings(&mut self) -> Vec<PolicyWarning> {
        std::mem::take(&mut self.warnings)
    }

    /// Evaluates `action` on `arn` for a principal of issuer `issuer`: the shared documents and the issuer's own,
    /// as one set (any Deny wins, then any Allow, else the implicit deny). A principal with no section is
    /// implicitly denied.
    pub fn evaluate(
        &self,
        issuer: &str,
        principal: &Principal<'_>,
        action: &str,
        arn: &str,
        ctx: &dyn ConditionContext,
    ) -> Evaluation {
        let shared = self.shared.as_ref().map(|store| store.evaluate(principal, action, arn, ctx));
        let own = self.by_issuer.get(issuer).map(|store| store.evaluate(principal, action, arn, ctx));
        match (shared, own) {
            (Some(shared), Some(own)) => shared.merge(own),
            (Some(one), None) | (None, Some(one)) => one,
            (None, None) => Evaluation {
                decision: PolicyDecision::ImplicitDeny,
                statements: Vec::new(),
                unmet: Vec::new(),
                documents: 0,
            },
        }
    }
}
