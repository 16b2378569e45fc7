//! `authz scenario`: run scenario corpora and print case → expected → got.

use crate::answer::Answer;
use crate::engine::{Engine, Kind};
use crate::node::js_request;
use crate::Finished;
use anyhow::Context as _;
use authz_testkit::scenario::{Expect, Scenario};
use clap::Args;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

const SCENARIO_HELP: &str = "A corpus is a JSON file like policies/scenarios/*.json: `description`, `now`, `keys` to \
mint (`{\"kid\": \"k1\", \"alg\": \"RS256\"}`), a `config` in which \"$jwk:<kid>\" stands for that key's public JWK, \
and `cases` of a request (`method`, `path`, `headers`, `token` to mint, `authorization`, `source_ip`) with \
`expect`: `status`, and optionally a `reason` substring and the exact `upstream` identity headers. Keys and \
tokens are minted afresh on every run. The exit status is 1 if any case is not as expected.

With --export, each corpus becomes one JSON line instead of a table, for other hosts to run: `file`, \
`description`, `now`, `config` (the configuration text with the minted keys), and `cases`, each with `name`, \
`request` (the JS API's `authorize` input, headers as [name, value] pairs), `expect`, and `answers` from the \
native core and from each engine given (`filter` for --wasm, `node` for --node). --now T mints the tokens for \
unix time T instead of the corpus's own, for hosts that read the real clock.";

/// Run scenario corpora and report every mismatch.
#[derive(Debug, Args)]
#[command(after_help = SCENARIO_HELP)]
pub struct ScenarioArgs {
    /// Corpus files (policies/scenarios/*.json).
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
    /// Run the cases through this proxy-wasm module inside the wasmtime host instead of the built-in core.
    #[arg(long, value_name = "FILE")]
    wasm: Option<PathBuf>,
    /// Run the cases through this wasm-bindgen Node package (dist/edge/nodejs) with `node`.
    #[arg(long, value_name = "DIR")]
    node: Option<PathBuf>,
    /// Print every corpus as one JSON line of concrete requests and answers instead of the table.
    #[arg(long)]
    export: bool,
    /// Mint keys and tokens for this unix time instead of the corpus's `now`.
    #[arg(long, value_name = "SECONDS")]
    now: Option<u64>,
}

/// Why an answer is not the expected one; empty when it is.
pub fn mismatches(expect: &Expect, got: &Answer) -> Vec<String> {
    let mut problems = Vec::new();
    if got.status != expect.status {
        problems.push(format!("status {} instead of {}", got.status, expect.status));
    }
    if let Some(reason) = &expect.reason {
        if !got.reason.contains(reason.as_str()) {
            problems.push(format!("reason does not contain `{reason}`"));
        }
    }
    if let Some(code) = expect.code.as_ref().filter(|code| **code != got.code) {
        problems.push(format!("code `{}` instead of `{code}`", got.code));
    }
    if let Some(upstream) = &expect.upstream {
        let sent = if got.status == 200 { got.headers.clone() } else { BTreeMap::new() };
        if &sent != upstream {
            problems.push(format!("upstream headers {sent:?} instead of {upstream:?}"));
        }
    }
    problems
}

fn load(path: &Path, now: Option<u64>) -> anyhow::Result<Scenario> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    Scenario::load_at(&text, now).with_context(|| format!("`{}`", path.display()))
}

fn run_file(path: &Path, kind: Kind<'_>, now: Option<u64>, out: &mut impl Write) -> anyhow::Result<usize> {
    let scenario = load(path, now)?;
    let mut engine =
        Engine::load(&scenario.config_bytes(), kind).with_context(|| format!("`{}`: config", path.display()))?;
    writeln!(out, "{}: {}", path.display(), scenario.description)?;
    writeln!(out, "  {:<4}  {:>6}  {:>3}  case", "", "expect", "got")?;
    let mut failed = 0;
    for case in &scenario.cases {
        let got = engine.decide(&case.request, scenario.now).with_context(|| format!("case `{}`", case.name))?;
        let problems = mismatches(&case.expect, &got);
        let mark = if problems.is_empty() { "ok" } else { "FAIL" };
        writeln!(out, "  {mark:<4}  {:>6}  {:>3}  {}", case.expect.status, got.status, case.name)?;
        if !problems.is_empty() {
            failed += 1;
            for problem in problems {
                writeln!(out, "                     {problem}")?;
            }
            writeln!(out, "                     reason: {}", got.reason)?;
        }
    }
    writeln!(out, "  {} cases, {} failed", scenario.cases.len(), failed)?;
    Ok(failed)
}

fn expect_json(expect: &Expect) -> Value {
    let mut value = serde_json::Map::new();
    value.insert("status".into(), json!(expect.status));
    if let Some(reason) = &expect.reason {
        value.insert("reason".into(), json!(reason));
    }
    if let Some(code) = &expect.code {
        value.insert("code".into(), json!(code));
    }
    if let Some(upstream) = &expect.upstream {
        value.insert("upstream".into(), json!(upstream));
    }
    Value::Object(value)
}

/// One corpus as one JSON line: its configuration, and each case's request with the answers of every engine.
/// Returns how many cases some engine answered otherwise than the corpus expects.
fn export_file(path: &Path, args: &ScenarioArgs, out: &mut impl Write) -> anyhow::Result<usize> {
    let scenario = load(path, args.now)?;
    let config = scenario.config_bytes();
    let context = |engine: &str| format!("`{}`: config ({engine})", path.display());
    let mut engines = vec![("native", Engine::load(&config, Kind::Native).with_context(|| context("native"))?)];
    if let Some(wasm) = &args.wasm {
        engines.push(("filter", Engine::load(&config, Kind::Wasm(wasm)).with_context(|| context("filter"))?));
    }
    if let Some(node) = &args.node {
        engines.push(("node", Engine::load(&config, Kind::Node(node)).with_context(|| context("node"))?));
    }
    let mut cases = Vec::new();
    let mut failed = 0;
    for case in &scenario.cases {
        let mut answers = serde_json::Map::new();
        let mut as_expected = true;
        for (name, engine) in &mut engines {
            let got =
                engine.decide(&case.request, scenario.now).with_context(|| format!("case `{}` ({name})", case.name))?;
            as_expected &= mismatches(&case.expect, &got).is_empty();
            answers.insert((*name).to_owned(), serde_json::to_value(&got)?);
        }
        failed += usize::from(!as_expected);
        cases.push(json!({"name": case.name, "request": js_request(&case.request, scenario.now),
                          "expect": expect_json(&case.expect), "answers": answers}));
    }
    let text = String::from_utf8(config).context("the configuration is not UTF-8")?;
    let line = json!({"file": path.display().to_string(), "description": scenario.description, "now": scenario.now,
                      "config": text, "cases": cases});
    writeln!(out, "{line}")?;
    Ok(failed)
}

/// Runs the command.
pub fn run(args: &ScenarioArgs) -> anyhow::Result<Finished> {
    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    for path in &args.files {
        failed += if args.export {
            export_file(path, args, &mut out)?
        } else {
            let kind = Kind::from_options(args.wasm.as_deref(), args.node.as_deref())?;
            run_file(path, kind, args.now, &mut out)?
        };
    }
    Ok(if failed == 0 { Finished::Clean } else { Finished::WithProblems })
}
