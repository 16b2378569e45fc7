//! `authz scenario`: run scenario corpora and print case → expected → got.

use crate::answer::Answer;
use crate::engine::Engine;
use crate::Finished;
use anyhow::Context as _;
use authz::scenario::{Expect, Scenario};
use clap::Args;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

const SCENARIO_HELP: &str = "A corpus is a JSON file like policies/scenarios/*.json: `description`, `now`, `keys` to \
mint (`{\"kid\": \"k1\", \"alg\": \"RS256\"}`), a `config` in which \"$jwk:<kid>\" stands for that key's public JWK, \
and `cases` of a request (`method`, `path`, `headers`, `token` to mint, `authorization`, `source_ip`) with \
`expect`: `status`, and optionally a `reason` substring and the exact `upstream` identity headers. Keys and \
tokens are minted afresh on every run. The exit status is 1 if any case is not as expected.";

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
    if let Some(upstream) = &expect.upstream {
        let sent = if got.status == 200 { got.headers.clone() } else { BTreeMap::new() };
        if &sent != upstream {
            problems.push(format!("upstream headers {sent:?} instead of {upstream:?}"));
        }
    }
    problems
}

fn run_file(path: &Path, wasm: Option<&Path>, out: &mut impl Write) -> anyhow::Result<usize> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let scenario = Scenario::load(&text).with_context(|| format!("`{}`", path.display()))?;
    let mut engine =
        Engine::load(&scenario.config_bytes(), wasm).with_context(|| format!("`{}`: config", path.display()))?;
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

/// Runs the command.
pub fn run(args: &ScenarioArgs) -> anyhow::Result<Finished> {
    let mut out = std::io::stdout().lock();
    let mut failed = 0;
    for path in &args.files {
        failed += run_file(path, args.wasm.as_deref(), &mut out)?;
    }
    Ok(if failed == 0 { Finished::Clean } else { Finished::WithProblems })
}
