//! `authz policy`: policy documents evaluated against a resource, an action and condition keys, one JSON line
//! each; natively, or with `--wasm` as a real request through the built filter.

use crate::input::json_message;
use crate::{json_lines, Finished};
use anyhow::{bail, Context as _};
use authz::policy::{evaluate_standalone, Evaluation, INVOKE};
use authz_host::{FilterHost, HttpOutcome, LogLevel, LogLine};
use authz_testkit::mint::DevKey;
use authz_testkit::via_request::{FilterAnswer, FilterCase};
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;

const POLICY_HELP: &str = r#"Input, one JSON object per line (blank lines are skipped):
  {"policy": {"Version": "2012-10-17", "Statement": [...]},
   "resource": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/GET/pets/1",
   "action": "execute-api:Invoke",
   "context": {"aws:SourceIp": "192.0.2.1", "claim:cognito:groups": ["a", "b"]}}
  `policy` is a document or a list of documents; `execute-api:/...` resources in it name the API of
  `resource`. `action` defaults to execute-api:Invoke. `context` (optional) gives condition keys, each a
  string or a list; keys absent from it are absent.

Output, one JSON object per input line:
  {"decision": "allow", "statements": ["policy[0].Statement[1] (Sid)"], "errors": []}
  `decision` is allow, explicit_deny or implicit_deny; `statements` are the deciding statements (the Denies
  that matched, or else the Allows); a deny also has `why`. A line that cannot be decided has
  "decision": null and its `errors`: the policy's errors with their paths, or what is wrong with the line.

With --wasm, each line becomes a request through the filter: a configuration for the API in `resource`
with the policy under one user (or the app client, when the context names no user), a token minted for
the run carrying the context's claim:* keys, the method and path from `resource`, aws:SourceIp as the
downstream address, aws:CurrentTime or aws:EpochTime as the clock, aws:UserAgent and aws:Referer as
headers, aws:SecureTransport as the connection's TLS. A line that no request can express (another
action, a resource that is not a method ARN, a key the policy reads that a request would carry
differently) gets an error saying so, not a decision.

Exit status: 0 when every line was decided, 1 when some line has errors, 2 when the command could not
run."#;

/// Evaluate policy documents against resources and condition keys read as JSON lines from stdin.
#[derive(Debug, Args)]
#[command(after_help = POLICY_HELP)]
pub struct PolicyArgs {
    /// Decide each line as a request through this proxy-wasm module (e.g. dist/authz.wasm) inside the
    /// wasmtime host instead of the evaluator built into this command.
    #[arg(long, value_name = "FILE")]
    wasm: Option<PathBuf>,
}

/// One input line as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicyLine {
    policy: Option<Value>,
    resource: String,
    action: Option<String>,
    #[serde(default)]
    context: Value,
}

/// One case to decide.
#[derive(Debug)]
struct PolicyLine {
    policy: Value,
    resource: String,
    action: String,
    context: Value,
}

fn parse_line(line: &str) -> Result<PolicyLine, String> {
    crate::input::unique_names(line)?;
    let raw: RawPolicyLine = serde_json::from_str(line).map_err(|err| json_message(&err))?;
    let policy = raw.policy.ok_or("`policy` is required: a document or a list of documents")?;
    let action = raw.action.unwrap_or_else(|| INVOKE.to_owned());
    Ok(PolicyLine { policy, resource: raw.resource, action, context: raw.context })
}

/// What one line printed.
#[derive(Debug, Serialize)]
struct PolicyAnswer {
    decision: Option<&'static str>,
    statements: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<String>,
    errors: Vec<String>,
}

impl PolicyAnswer {
    fn errors(errors: Vec<String>) -> Self {
        Self { decision: None, statements: Vec::new(), why: None, errors }
    }

    fn native(evaluation: &Evaluation) -> Self {
        Self {
            decision: Some(evaluation.decision.as_str()),
            statements: evaluation.statements.iter().map(ToString::to_string).collect(),
            why: evaluation.why().map(|why| why.to_string()),
            errors: Vec::new(),
        }
    }

    fn filter(answer: FilterAnswer) -> Self {
        Self {
            decision: Some(answer.decision.as_str()),
            statements: answer.statements.iter().map(ToString::to_string).collect(),
            why: answer.why,
            errors: Vec::new(),
        }
    }
}

/// The filter's warning and error lines, to explain a refusal it did not word as one.
fn problems(logs: &[LogLine]) -> String {
    let lines: Vec<&str> =
        logs.iter().filter(|line| line.level >= LogLevel::Warn).map(|line| line.message.as_str()).collect();
    if lines.is_empty() {
        "nothing logged".to_owned()
    } else {
        lines.join("; ")
    }
}

/// Who decides: the evaluator built into this command, or the built filter with a key minted for this run.
enum Evaluator {
    Native,
    Filter { host: Box<FilterHost>, key: Box<DevKey>, wasm: PathBuf },
}

impl Evaluator {
    fn load(wasm: Option<&PathBuf>) -> anyhow::Result<Self> {
        let Some(path) = wasm else { return Ok(Self::Native) };
        let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let host = FilterHost::load(&bytes).with_context(|| format!("`{}` does not load", path.display()))?;
        let key = DevKey::generate_rsa("policy-case").context("cannot mint the run's signing key")?;
        Ok(Self::Filter { host: Box::new(host), key: Box::new(key), wasm: path.clone() })
    }

    /// Decides one line. An error means the filter itself failed (a trap), not that the line has errors.
    fn decide(&self, line: &PolicyLine) -> anyhow::Result<PolicyAnswer> {
        match self {
            Self::Native => Ok(match evaluate_standalone(&line.policy, &line.resource, &line.action, &line.context) {
                Ok(evaluation) => PolicyAnswer::native(&evaluation),
                Err(err) => PolicyAnswer::errors(vec![err.to_string()]),
            }),
            Self::Filter { host, key, wasm } => {
                through_filter(host, key, line).with_context(|| format!("`{}`", wasm.display()))
            }
        }
    }
}

/// One line as a request through a fresh VM of the filter, configured for that line alone.
fn through_filter(host: &FilterHost, key: &DevKey, line: &PolicyLine) -> anyhow::Result<PolicyAnswer> {
    let case = match FilterCase::new(&line.policy, &line.resource, &line.action, &line.context, key) {
        Ok(case) => case,
        Err(err) => return Ok(PolicyAnswer::errors(vec![err.to_string()])),
    };
    let config = crate::wasm::recording_every_decision(&case.config)?;
    let (mut plugin, configured) = host.start(b"", &config).context("the filter failed to start")?;
    if !configured {
        let mut errors: Vec<String> = plugin.logs().iter().filter_map(|line| case.refusal(&line.message)).collect();
        if errors.is_empty() {
            errors.push(format!("the filter refused the configuration: {}", problems(plugin.logs())));
        }
        return Ok(PolicyAnswer::errors(errors));
    }
    plugin.set_time_nanos(case.clock_nanos());
    for (path, value) in &case.properties {
        plugin.set_property(path, value);
    }
    let (status, body) = match plugin.http_request(&case.headers).context("the filter failed")? {
        HttpOutcome::Continue { .. } => (200, Vec::new()),
        HttpOutcome::LocalResponse { status, body, .. } => {
            (u16::try_from(status).with_context(|| format!("the filter answered status {status}"))?, body)
        }
        HttpOutcome::Paused { .. } => bail!("the filter paused the request without answering it"),
        HttpOutcome::Reset => bail!("the filter reset the stream"),
    };
    // What the filter decided, from its decision record (the one structured channel), never from a log line.
    let record = plugin
        .filter_state(authz::decision::DECISION_PROPERTY)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .and_then(authz::decision::DecisionRecord::parse)
        .filter(|record| record.status == status);
    Ok(match case.answer(status, &body, record.as_ref().map(|record| record.reason.as_str())) {
        Ok(answer) => PolicyAnswer::filter(answer),
        Err(err) => PolicyAnswer::errors(vec![err]),
    })
}

/// Runs the command.
pub fn run(args: &PolicyArgs) -> anyhow::Result<Finished> {
    let evaluator = Evaluator::load(args.wasm.as_ref())?;
    json_lines::answer_each(|number, line| {
        let answer = match line.map_err(str::to_owned).and_then(parse_line) {
            Ok(parsed) => evaluator.decide(&parsed).with_context(|| format!("line {number}"))?,
            Err(message) => PolicyAnswer::errors(vec![format!("line {number}: {message}")]),
        };
        let output = serde_json::to_string(&answer).context("cannot render the answer")?;
        Ok((output, !answer.errors.is_empty()))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_the_documented_line() {
        let line = r#"{"policy": {"Statement": []}, "resource": "arn:aws:execute-api:r:1:a/s/GET/x",
            "context": {"aws:SourceIp": "192.0.2.1", "claim:cognito:groups": ["a", "b"]}}"#;
        let parsed = parse_line(line).unwrap();
        assert_eq!(parsed.action, INVOKE);
        assert_eq!(parsed.context["claim:cognito:groups"], serde_json::json!(["a", "b"]));
        assert!(parse_line(r#"{"resource": "x"}"#).unwrap_err().contains("`policy` is required"));
        assert!(parse_line(r#"{"policy": {}}"#).unwrap_err().contains("missing field `resource`"));
        assert!(parse_line(r#"{"policy": {}, "resource": "x", "extra": 1}"#).is_err());
    }

    #[test]
    fn native_answers_name_statements_with_their_sid() {
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "A", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "*", "Resource": "execute-api:/dev/DELETE/*"}]});
        let line = |resource: &str| PolicyLine {
            policy: policy.clone(),
            resource: resource.to_owned(),
            action: INVOKE.to_owned(),
            context: Value::Null,
        };
        let allowed = Evaluator::Native.decide(&line("arn:aws:execute-api:r:1:a/dev/GET/x")).unwrap();
        assert_eq!(
            (allowed.decision, allowed.statements.as_slice()),
            (Some("allow"), &["policy[0].Statement[0] (A)".to_owned()][..])
        );
        let denied = Evaluator::Native.decide(&line("arn:aws:execute-api:r:1:a/dev/DELETE/x")).unwrap();
        assert_eq!(denied.decision, Some("explicit_deny"));
        assert_eq!(denied.why.as_deref(), Some("denied by policy[0].Statement[1]"));
    }
}
