//! `authz config validate`: load a configuration exactly as the filter would and say what it means.

use crate::Finished;
use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::io::Write as _;
use std::path::PathBuf;

const VALIDATE_HELP: &str = "Loads FILE with the same code the filter runs (duplicate member names, unknown fields, \
keys, routes, policies: everything), then prints one line per finding:
  error: PATH: MESSAGE      the configuration is refused (exit status 1)
  warning: PATH: MESSAGE    it loads, but something in it can never do what it seems to say
  note: PATH: MESSAGE       it loads; a consequence worth knowing (for example, no catch-all route)
and finally `FILE: valid` or `FILE: refused`. Exit status 2 when FILE cannot be read.";

/// Configuration tools.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check a configuration as the filter loads it.
    #[command(after_help = VALIDATE_HELP)]
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// The authorizer configuration (JSON).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// Runs the command.
pub fn run(args: &ConfigArgs) -> anyhow::Result<Finished> {
    match &args.command {
        ConfigCommand::Validate(args) => validate(args),
    }
}

fn validate(args: &ValidateArgs) -> anyhow::Result<Finished> {
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read `{}`", args.file.display()))?;
    let mut out = std::io::stdout().lock();
    let name = args.file.display();
    match authz::Config::from_json(&bytes) {
        Ok(config) => {
            for warning in config.warnings() {
                writeln!(out, "warning: {warning}")?;
            }
            for note in config.notes() {
                writeln!(out, "note: {note}")?;
            }
            writeln!(out, "{name}: valid")?;
            Ok(Finished::Clean)
        }
        Err(err) => {
            writeln!(out, "error: {err}")?;
            writeln!(out, "{name}: refused")?;
            Ok(Finished::WithProblems)
        }
    }
}
