//! A [`Decision`] as the JS API returns it: the CLI's `check` answer (status, decision, reason, headers,
//! rewritePath) plus what an edge host needs to apply it itself: the reply body and the headers to remove.

use crate::Decision;
use serde::Serialize;
use std::collections::BTreeMap;

/// What `authorize` returns, serialised with the JS API's field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EdgeAnswer {
    pub status: u16,
    /// `allow`, `unauthorized`, `deny` or `bad_request`, as the CLI prints it.
    pub decision: &'static str,
    /// The reason's stable code (`token_expired`, `explicit_deny`, ...), for metrics and logs.
    pub code: &'static str,
    /// For logs, never for clients.
    pub reason: String,
    /// On allow: the identity headers to set upstream. Otherwise: the reply's headers.
    pub headers: BTreeMap<String, String>,
    /// On a denial: API Gateway's body for the status. `null` on allow.
    pub body: Option<&'static str>,
    /// On allow: the normalised target (path and query) the upstream must get, when it differs from the one sent.
    pub rewrite_path: Option<String>,
    /// On allow: request headers to remove before forwarding (client copies of identity headers, in any
    /// spelling an upstream could read as one), lower case. Remove these, then set `headers`.
    pub remove_headers: Vec<String>,
}

impl EdgeAnswer {
    /// The decision as answered to JavaScript.
    pub fn from_decision(decision: &Decision) -> Self {
        let allowed = decision.is_allowed();
        let headers = decision.answer_headers().into_iter().collect();
        Self {
            status: decision.status(),
            decision: decision.outcome.as_str(),
            code: decision.code().as_str(),
            reason: decision.reason.to_string(),
            headers,
            body: decision.outcome.body(),
            rewrite_path: if allowed { decision.rewrite_path.clone() } else { None },
            remove_headers: if allowed { decision.remove_headers.clone() } else { Vec::new() },
        }
    }

    /// The answer as JSON text, for `JSON.parse` on the JS side: one string crosses the boundary, not one per field.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Outcome, Reason};
    use serde_json::json;

    #[test]
    fn an_allow_carries_what_the_host_must_apply() {
        let decision = Decision {
            outcome: Outcome::Allow,
            reason: Reason::PublicRoute { route: "/health".into() },
            remove_headers: vec!["x-authz-sub".into(), "x_authz_groups".into()],
            upstream_headers: vec![("x-authz-sub".into(), "sub-1".into())],
            rewrite_path: Some("/health?x=1".into()),
            challenge: None,
        };
        let answer =
            serde_json::from_str::<serde_json::Value>(&EdgeAnswer::from_decision(&decision).to_json().unwrap())
                .unwrap();
        assert_eq!(
            answer,
            json!({"status": 200, "decision": "allow", "code": "public_route", "reason": "public route `/health`",
                   "headers": {"x-authz-sub": "sub-1"}, "body": null, "rewritePath": "/health?x=1",
                   "removeHeaders": ["x-authz-sub", "x_authz_groups"]})
        );
    }

    #[test]
    fn a_denial_carries_api_gateways_reply() {
        let mut decision = Decision {
            outcome: Outcome::Unauthorized,
            reason: Reason::Authorization(crate::token::AuthorizationError::Missing),
            remove_headers: vec!["x-authz-sub".into()],
            upstream_headers: vec![("x-authz-sub".into(), "never".into())],
            rewrite_path: Some("/never".into()),
            challenge: Some("Bearer realm=\"a/dev\"".into()),
        };
        let answer = EdgeAnswer::from_decision(&decision);
        assert_eq!(
            (answer.status, answer.decision, answer.body),
            (401, "unauthorized", Some(crate::decision::UNAUTHORIZED_BODY))
        );
        assert_eq!(answer.code, "token_missing");
        assert_eq!(
            answer.headers,
            BTreeMap::from([
                ("content-type".to_owned(), "application/json".to_owned()),
                ("www-authenticate".to_owned(), "Bearer realm=\"a/dev\"".to_owned())
            ])
        );
        // Nothing meant for the upstream leaks into a denial, whatever the decision holds.
        assert!(answer.remove_headers.is_empty() && answer.rewrite_path.is_none());
        decision.outcome = Outcome::ExplicitDeny;
        decision.challenge = None;
        let answer = EdgeAnswer::from_decision(&decision);
        assert_eq!(
            (answer.status, answer.decision, answer.body),
            (403, "deny", Some(crate::decision::EXPLICIT_DENY_BODY))
        );
    }
}
