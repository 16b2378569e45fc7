//! The `authz` command: decide requests with the core or the built filter, mint development keys and tokens,
//! and run scenario corpora.

mod answer;
mod check;
mod config;
mod delivery;
mod engine;
mod import;
mod input;
mod json_lines;
mod keygen;
mod node;
mod policy;
mod scenario;
mod token;
mod wasm;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

const MAIN_HELP: &str = "A local trial:
  authz keygen --kid k1 --out keys
  # put keys/jwks.json under issuers[0].jwks in config.json
  TOKEN=$(authz token --key keys/k1.key.json --issuer https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example \\
      --client-id app-client-1 --username alice --groups pet-veterinarian)
  echo '{\"method\": \"GET\", \"path\": \"/petstore/v1/pets\", \"headers\": {\"authorization\": \"Bearer '$TOKEN'\"}}' \\
      | authz check --config config.json    # with --wasm dist/authz.wasm: the built filter decides

Exit status: 0 when everything was as asked, 1 when some input line was malformed or some answer was not the \
expected one, 2 when the command could not run (bad arguments, unreadable or invalid files, a failed filter).";

/// Amazon Cognito token and execute-api policy authorizer: local checks, keys, tokens and corpora.
#[derive(Debug, Parser)]
#[command(name = "authz", version, propagate_version = true, after_help = MAIN_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Check(check::CheckArgs),
    Config(config::ConfigArgs),
    Import(import::ImportArgs),
    Keygen(keygen::KeygenArgs),
    Token(token::TokenArgs),
    Scenario(scenario::ScenarioArgs),
    Policy(policy::PolicyArgs),
}

/// How a command ended when nothing went wrong with the command itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finished {
    /// Everything was as asked.
    Clean,
    /// The command ran to the end but some input was malformed or some answer was not the expected one.
    WithProblems,
}

/// Unix seconds from the system clock, for commands whose `now` was not given.
pub fn clock_now() -> anyhow::Result<u64> {
    let elapsed =
        SystemTime::now().duration_since(UNIX_EPOCH).map_err(|_| anyhow::anyhow!("the system clock is before 1970"))?;
    Ok(elapsed.as_secs())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Config(args) => config::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Keygen(args) => keygen::run(&args),
        Command::Token(args) => token::run(&args),
        Command::Scenario(args) => scenario::run(&args),
        Command::Policy(args) => policy::run(&args),
    };
    match result {
        Ok(Finished::Clean) => ExitCode::SUCCESS,
        Ok(Finished::WithProblems) => ExitCode::from(1),
        Err(err) => {
            // Not eprintln!, which panics when stderr is gone.
            let _ = writeln!(std::io::stderr(), "authz: error: {err:#}");
            ExitCode::from(2)
        }
    }
}
