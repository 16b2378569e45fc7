//! `authz token`: a Cognito-shaped token signed with a key from `authz keygen`.

use crate::{clock_now, Finished};
use anyhow::{bail, Context as _};
use authz_testkit::mint::{CognitoClaims, DevKey};
use clap::{Args, ValueEnum};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;

/// The three token shapes Cognito issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenKind {
    /// A user's access token (`token_use: access`, `client_id`, `scope`, `username`).
    Access,
    /// A user's ID token (`token_use: id`, `aud`, `cognito:username`).
    Id,
    /// A machine-to-machine access token: no user, `sub` is the client id.
    #[value(name = "client_credentials")]
    ClientCredentials,
}

/// Mint a Cognito-shaped signed token.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The private JWK written by `authz keygen`.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The `iss` claim: the user pool URL, `https://cognito-idp.<region>.amazonaws.com/<pool id>`.
    #[arg(long, value_name = "URL")]
    issuer: String,
    /// The app client id (`client_id` of access tokens, `aud` of ID tokens).
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// Which token to mint.
    #[arg(long = "use", value_enum, default_value = "access")]
    token_use: TokenKind,
    /// The user (required for access and ID tokens; `sub` becomes `sub-<username>`).
    #[arg(long, value_name = "U")]
    username: Option<String>,
    /// `cognito:groups`, comma-separated.
    #[arg(long, value_name = "a,b")]
    groups: Option<String>,
    /// The `scope` claim, space-separated [default for access tokens: aws.cognito.signin.user.admin].
    #[arg(long, value_name = "\"x y\"")]
    scopes: Option<String>,
    /// Seconds from `iat` to `exp`.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    lifetime: u64,
    /// The issue time, unix seconds [default: the system clock].
    #[arg(long, value_name = "SECS")]
    now: Option<u64>,
}

fn read_key(path: &std::path::Path) -> anyhow::Result<DevKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let jwk: Value = serde_json::from_str(&text).with_context(|| format!("`{}` is not JSON", path.display()))?;
    if jwk.get("d").is_none() {
        bail!("`{}` is not a private key (no `d`); pass the <kid>.key.json that keygen wrote", path.display());
    }
    DevKey::from_private_jwk(&jwk).with_context(|| format!("`{}`", path.display()))
}

fn split_groups(text: &str) -> anyhow::Result<Vec<&str>> {
    let groups: Vec<&str> = text.split(',').map(str::trim).collect();
    if groups.iter().any(|group| group.is_empty()) {
        bail!("--groups `{text}`: empty group name");
    }
    Ok(groups)
}

/// The claims asked for, with every combination Cognito never issues refused.
fn claims(args: &TokenArgs, now: u64) -> anyhow::Result<CognitoClaims> {
    let scopes: Option<Vec<&str>> = args.scopes.as_deref().map(|text| text.split_whitespace().collect());
    let claims = match (args.token_use, args.username.as_deref()) {
        (TokenKind::ClientCredentials, Some(_)) => bail!("--username: client_credentials tokens have no user"),
        (TokenKind::ClientCredentials, None) => {
            CognitoClaims::client_credentials(&args.issuer, &args.client_id, scopes.as_deref().unwrap_or_default(), now)
        }
        (TokenKind::Access | TokenKind::Id, None) => bail!("--username is required for access and ID tokens"),
        (TokenKind::Id, Some(_)) if scopes.is_some() => bail!("--scopes: ID tokens carry no scopes"),
        (TokenKind::Id, Some(username)) => CognitoClaims::id(&args.issuer, &args.client_id, username, now),
        (TokenKind::Access, Some(username)) => {
            let claims = CognitoClaims::access(&args.issuer, &args.client_id, username, now);
            match &scopes {
                Some(scopes) => claims.scopes(scopes),
                None => claims,
            }
        }
    };
    let groups = match &args.groups {
        Some(text) => split_groups(text)?,
        None => Vec::new(),
    };
    if args.lifetime == 0 {
        bail!("--lifetime must be at least 1 second");
    }
    let expires = now.checked_add(args.lifetime).context("--now plus --lifetime is past the end of time")?;
    Ok(claims.groups(&groups).valid(now, expires))
}

/// Runs the command.
pub fn run(args: &TokenArgs) -> anyhow::Result<Finished> {
    let key = read_key(&args.key)?;
    let now = match args.now {
        Some(now) => now,
        None => clock_now()?,
    };
    let claims = claims(args, now)?;
    writeln!(std::io::stdout().lock(), "{}", key.sign(&claims.to_json())).context("cannot write to stdout")?;
    Ok(Finished::Clean)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: TokenArgs,
    }

    fn parse(extra: &[&str]) -> TokenArgs {
        let base = ["authz", "--key", "k.json", "--issuer", "https://issuer", "--client-id", "c1", "--now", "1000"];
        Wrapper::parse_from(base.iter().chain(extra)).args
    }

    #[test]
    fn access_tokens_carry_the_asked_claims() {
        let args = parse(&["--username", "alice", "--groups", "a, b", "--scopes", "x  y", "--lifetime", "60"]);
        let json = claims(&args, 1000).unwrap().to_json();
        assert_eq!(json["token_use"], "access");
        assert_eq!(json["username"], "alice");
        assert_eq!(json["client_id"], "c1");
        assert_eq!(json["scope"], "x y");
        assert_eq!(json["cognito:groups"], serde_json::json!(["a", "b"]));
        assert_eq!((json["iat"].as_u64(), json["exp"].as_u64()), (Some(1000), Some(1060)));
    }

    #[test]
    fn refuses_shapes_cognito_never_issues() {
        for extra in [
            &["--use", "access"][..],
            &["--use", "id", "--username", "a", "--scopes", "x"],
            &["--use", "client_credentials", "--username", "a"],
            &["--username", "a", "--groups", "a,,b"],
            &["--username", "a", "--lifetime", "0"],
        ] {
            assert!(claims(&parse(extra), 1000).is_err(), "{extra:?}");
        }
        let machine = parse(&["--use", "client_credentials", "--scopes", "api/read"]);
        let json = claims(&machine, 1000).unwrap().to_json();
        assert_eq!((json["sub"].as_str(), json["scope"].as_str()), (Some("c1"), Some("api/read")));
    }
}
