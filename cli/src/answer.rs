//! One answer, whichever engine gave it, rendered the same way: what `authz check` prints and what
//! `authz scenario` compares.

use authz::Decision;
use serde::Serialize;
use std::collections::BTreeMap;

/// The status, its short name, the logged reason and the headers that go with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Answer {
    pub status: u16,
    /// `allow`, `unauthorized`, `deny`, `bad_request` (or `error` when a filter answers 500).
    pub decision: &'static str,
    /// The reason's stable code (`token_expired`, `explicit_deny`, ...).
    pub code: String,
    pub reason: String,
    /// On allow: the identity headers set upstream; otherwise the local response's headers.
    pub headers: BTreeMap<String, String>,
    /// On allow: the normalised request target the upstream receives, when it differs from the one sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrite_path: Option<String>,
}

/// The short name of a status, for engines that only see the status (the filter).
pub fn decision_name(status: u16) -> &'static str {
    match status {
        200 => "allow",
        401 => "unauthorized",
        403 => "deny",
        400 | 414 => "bad_request",
        503 => "unavailable",
        _ => "error",
    }
}

impl Answer {
    /// The core's decision as printed.
    pub fn from_decision(decision: &Decision) -> Self {
        let headers = decision.answer_headers().into_iter().collect();
        Self {
            status: decision.status(),
            decision: decision.outcome.as_str(),
            code: decision.code().as_str().to_owned(),
            reason: decision.reason.to_string(),
            headers,
            rewrite_path: decision.rewrite_path.clone(),
        }
    }

    /// One JSON line.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|err| error_line(&format!("cannot render the answer: {err}")))
    }
}

/// `{"error": "..."}` as one JSON line.
pub fn error_line(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_agree_with_the_core() {
        use authz::Outcome;
        for outcome in [
            Outcome::Allow,
            Outcome::Unauthorized,
            Outcome::Forbidden,
            Outcome::ExplicitDeny,
            Outcome::BadRequest,
            Outcome::UriTooLong,
            Outcome::NoRoute,
            Outcome::Unavailable,
        ] {
            assert_eq!(decision_name(outcome.status()), outcome.as_str());
        }
        assert_eq!(decision_name(500), "error");
    }
}
