//! `authz check`: requests as JSON lines on stdin, one decision per line on stdout.

use crate::answer::error_line;
use crate::engine::{Engine, Kind};
use crate::input::parse_check_line;
use crate::{clock_now, json_lines, Finished};
use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;

const CHECK_HELP: &str = r#"Input, one JSON object per line (blank lines are skipped):
  {"method": "GET", "path": "/pets/1?x=1", "headers": {"authorization": "Bearer ..."},
   "source_ip": "192.0.2.10", "now": 1763800000}
  `headers` may also be a list of [name, value] pairs, to repeat a name (`host` becomes `:authority`;
  other pseudo-headers come from `method` and `path`). `now` (unix seconds) defaults to the system clock.
  `source_ip` is the proxy's downstream peer (none when absent). `secure_transport` (default true) says
  whether the client connected over TLS. `headers`, `source_ip` and `secure_transport` are optional.

Output, one JSON object per input line:
  {"status": 200, "decision": "allow", "reason": "...", "headers": {...}}
  `decision` is allow, unauthorized, deny or bad_request; `headers` are the identity headers added upstream
  on allow, or the local response's headers otherwise; `rewrite_path` appears when the upstream receives a
  normalised path. A malformed line gives {"error": "line N: ..."}, the rest are still decided, and the exit
  status is 1."#;

/// Decide requests read as JSON lines from stdin.
#[derive(Debug, Args)]
#[command(after_help = CHECK_HELP)]
pub struct CheckArgs {
    /// The authorizer configuration (JSON), as given to the filter.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Run the requests through this proxy-wasm module (e.g. dist/authz.wasm) inside the wasmtime host
    /// instead of the core built into this command.
    #[arg(long, value_name = "FILE")]
    wasm: Option<PathBuf>,
    /// Run the requests through this wasm-bindgen Node package (dist/edge/nodejs) with `node`: what Workers and
    /// Lambda@Edge run.
    #[arg(long, value_name = "DIR")]
    node: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: &CheckArgs) -> anyhow::Result<Finished> {
    let config = std::fs::read(&args.config).with_context(|| format!("cannot read `{}`", args.config.display()))?;
    let kind = Kind::from_options(args.wasm.as_deref(), args.node.as_deref())?;
    let mut engine = Engine::load(&config, kind).with_context(|| format!("--config {}", args.config.display()))?;
    json_lines::answer_each(|number, line| match line.map_err(str::to_owned).and_then(parse_check_line) {
        Ok(parsed) => {
            let now = match parsed.now {
                Some(now) => now,
                None => clock_now()?,
            };
            let answer = engine.decide(&parsed.request, now).with_context(|| format!("line {number}"))?;
            Ok((answer.to_json_line(), false))
        }
        Err(message) => Ok((error_line(&format!("line {number}: {message}")), true)),
    })
}
