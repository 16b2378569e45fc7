//! The policy scenario corpus (`policies/policy-corpus/*.json`): documents, requests and the decisions API
//! Gateway gives them. Every host runs the same files: the native tests here through [`run_file`]; `authz policy`
//! through [`authz::policy::evaluate_standalone`], and with `--wasm`, like the wasmtime host tests, as real requests
//! through the built filter ([`crate::via_request`]).

use authz::policy::{api_of, MapContext, StandalonePolicy, INVOKE};
use serde::Deserialize;
use serde_json::Value;

/// One corpus file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusFile {
    pub description: String,
    pub cases: Vec<CorpusCase>,
}

/// A document (or list) and requests against it, or a document that must be refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusCase {
    pub name: String,
    /// Where the rule is documented (AWS guide and section).
    #[serde(default)]
    pub source: Option<String>,
    pub policy: Value,
    /// The load error expected instead of a decision, exactly (`policy.Statement[0].Effect: ...`).
    #[serde(default)]
    pub error: Option<String>,
    /// Load warnings expected, each a substring of one warning.
    #[serde(default)]
    pub warnings: Vec<String>,
    #[serde(default)]
    pub requests: Vec<CorpusRequest>,
}

/// One request and its expected answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusRequest {
    pub resource: String,
    /// Default `execute-api:Invoke`.
    #[serde(default)]
    pub action: Option<String>,
    /// Condition keys: `{"aws:SourceIp": "192.0.2.1", "claim:cognito:groups": ["a"]}`.
    #[serde(default)]
    pub context: Value,
    pub expect: CorpusExpect,
}

/// The expected evaluation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusExpect {
    /// `allow`, `explicit_deny` or `implicit_deny`.
    pub decision: String,
    /// The deciding statements' locations, exactly and in order (`policy[0].Statement[1]`).
    #[serde(default)]
    pub statements: Option<Vec<String>>,
    /// A substring of the explanation of a deny.
    #[serde(default)]
    pub why: Option<String>,
}

/// What running a corpus found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorpusReport {
    /// Requests and error cases checked.
    pub checked: usize,
    /// One line per mismatch.
    pub failures: Vec<String>,
}

/// Runs one case with both evaluators; returns how many checks ran and one line per mismatch.
pub fn run_case(case: &CorpusCase) -> (usize, Vec<String>) {
    let mut failures = Vec::new();
    let api = case.requests.first().map_or_else(|| api_of(""), |request| api_of(&request.resource));
    let compiled = api.clone().and_then(|api| StandalonePolicy::compile(&case.policy, &api));
    let compiled = match (compiled, &case.error) {
        (Err(err), Some(expected)) if &err.to_string() == expected => return (1, failures),
        (Err(err), expected) => {
            failures.push(format!("{}: load error `{err}`, expected {expected:?}", case.name));
            return (1, failures);
        }
        (Ok(_), Some(expected)) => {
            failures.push(format!("{}: loaded, expected error `{expected}`", case.name));
            return (1, failures);
        }
        (Ok(compiled), None) => compiled,
    };
    for expected in &case.warnings {
        if !compiled.warnings().iter().any(|warning| warning.to_string().contains(expected.as_str())) {
            failures.push(format!("{}: no warning containing `{expected}` in {:?}", case.name, compiled.warnings()));
        }
    }
    for (index, request) in case.requests.iter().enumerate() {
        let label = format!("{} / request {index} ({})", case.name, request.resource);
        let ctx = match MapContext::from_json(&request.context, "context") {
            Ok(ctx) => ctx,
            Err(err) => {
                failures.push(format!("{label}: {err}"));
                continue;
            }
        };
        let action = request.action.as_deref().unwrap_or(INVOKE);
        // A different api per request would expand shorthand differently: recompile when it changes.
        let recompiled;
        let policy = if api_of(&request.resource) == api {
            &compiled
        } else {
            match api_of(&request.resource).and_then(|api| StandalonePolicy::compile(&case.policy, &api)) {
                Ok(policy) => {
                    recompiled = policy;
                    &recompiled
                }
                Err(err) => {
                    failures.push(format!("{label}: {err}"));
                    continue;
                }
            }
        };
        let evaluation = policy.evaluate(&request.resource, action, &ctx);
        let linear = policy.evaluate_linear(&request.resource, action, &ctx);
        if evaluation != linear {
            failures.push(format!("{label}: compiled {evaluation:?} differs from linear {linear:?}"));
        }
        if evaluation.decision.as_str() != request.expect.decision {
            failures.push(format!(
                "{label}: {} ({:?}), expected {}",
                evaluation.decision.as_str(),
                evaluation.why(),
                request.expect.decision
            ));
        }
        if let Some(statements) = &request.expect.statements {
            let actual: Vec<String> = evaluation.statements.iter().map(|statement| statement.location()).collect();
            if &actual != statements {
                failures.push(format!("{label}: statements {actual:?}, expected {statements:?}"));
            }
        }
        if let Some(why) = &request.expect.why {
            let actual = evaluation.why().map(|why| why.to_string()).unwrap_or_default();
            if !actual.contains(why.as_str()) {
                failures.push(format!("{label}: explanation `{actual}` lacks `{why}`"));
            }
        }
    }
    (case.requests.len().max(1), failures)
}

/// Runs a whole corpus file.
pub fn run_file(text: &str) -> Result<CorpusReport, serde_json::Error> {
    let file: CorpusFile = serde_json::from_str(text)?;
    let mut report = CorpusReport::default();
    for case in &file.cases {
        let (checked, failures) = run_case(case);
        report.checked += checked;
        report.failures.extend(failures);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    /// Every file in `policies/policy-corpus/` through the native evaluators.
    #[test]
    fn every_policy_corpus_passes_natively() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/policy-corpus");
        let mut checked = 0;
        let mut failures = Vec::new();
        for path in crate::scenario::json_files(&dir).unwrap() {
            let report = run_file(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            checked += report.checked;
            failures.extend(report.failures.into_iter().map(|f| format!("{}: {f}", path.display())));
        }
        assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
        assert!(checked >= 100, "only {checked} checks ran");
    }
}
