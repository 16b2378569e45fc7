//! `authz import`: configurations from what API Gateway users already have: a REST API export with its Cognito
//! authorizers, and a DynamoDB table of policies per group, app client or user.

mod apigateway;
mod document;
mod dynamodb;

use crate::Finished;
use clap::{Args, Subcommand};

/// Build configuration from an API Gateway export or a DynamoDB policy table.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    command: ImportCommand,
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Print a configuration for a REST API export (OpenAPI 3.0 or Swagger 2.0, JSON or YAML).
    Apigateway(apigateway::ApigatewayArgs),
    /// Print a `policies` section for the output of `aws dynamodb scan`.
    Dynamodb(dynamodb::DynamodbArgs),
}

/// Runs the command.
pub fn run(args: &ImportArgs) -> anyhow::Result<Finished> {
    match &args.command {
        ImportCommand::Apigateway(args) => apigateway::run(args),
        ImportCommand::Dynamodb(args) => dynamodb::run(args),
    }
}

/// Tells the user something on stderr (a problem with stderr itself is no reason to fail).
fn report(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "authz import: {line}");
}
