//! `authz config validate`: load a configuration exactly as the filter would and say what it means.

use crate::Finished;
use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::io::Write as _;
use std::path::PathBuf;

const VALIDATE_HELP: &str = "Loads each FILE with the same code the filter runs (duplicate member names, unknown \
fields, keys, routes, policies: everything), then prints one line per finding:
  error: PATH: MESSAGE      the configuration is refused (exit status 1)
  warning: PATH: MESSAGE    it loads, but something in it can never do what it seems to say
  note: PATH: MESSAGE       it loads; a consequence worth knowing (for example, no catch-all route)
and finally `FILE: valid` or `FILE: refused`. Every error is listed: each section, issuer, route and policy \
section is checked whatever the others hold. What stops at the first error: the JSON itself (syntax, duplicate \
names, unknown fields, types), a policy section (its first bad document), and the routes, which are read only \
when the request section and every issuer are valid. Exit status 2 when a FILE cannot be read.";

/// The configuration's JSON Schema (2020-12), the one in policies/ (checked against the loader by cli/tests/schema.rs).
pub const SCHEMA: &str = include_str!("../../policies/authz.schema.json");

/// Configuration tools.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check configurations as the filter loads them.
    #[command(after_help = VALIDATE_HELP)]
    Validate(ValidateArgs),
    /// Print the configuration's JSON Schema (2020-12), for editors and CI.
    Schema,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// Authorizer configurations (JSON).
    #[arg(value_name = "FILE", required = true)]
    files: Vec<PathBuf>,
}

/// Runs the command.
pub fn run(args: &ConfigArgs) -> anyhow::Result<Finished> {
    match &args.command {
        ConfigCommand::Validate(args) => validate(args),
        ConfigCommand::Schema => {
            std::io::stdout().lock().write_all(SCHEMA.as_bytes())?;
            Ok(Finished::Clean)
        }
    }
}

fn validate(args: &ValidateArgs) -> anyhow::Result<Finished> {
    // Every file is read first: one that cannot be read means the command could not run (exit status 2).
    let mut contents = Vec::with_capacity(args.files.len());
    for file in &args.files {
        contents.push(std::fs::read(file).with_context(|| format!("cannot read `{}`", file.display()))?);
    }
    let mut out = std::io::stdout().lock();
    let mut finished = Finished::Clean;
    for (file, bytes) in args.files.iter().zip(&contents) {
        let name = file.display();
        match authz::Config::from_json_all(bytes) {
            Ok(config) => {
                for warning in config.warnings() {
                    writeln!(out, "warning: {warning}")?;
                }
                for note in config.notes() {
                    writeln!(out, "note: {note}")?;
                }
                writeln!(out, "{name}: valid")?;
            }
            Err(errors) => {
                for err in errors {
                    writeln!(out, "error: {err}")?;
                }
                writeln!(out, "{name}: refused")?;
                finished = Finished::WithProblems;
            }
        }
    }
    Ok(finished)
}
