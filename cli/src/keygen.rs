//! `authz keygen`: a development signing key as a private JWK, and its public half in a JWKS.

use crate::Finished;
use anyhow::{bail, Context as _};
use authz::token::JwsAlg;
use authz_testkit::mint::DevKey;
use clap::builder::{PossibleValuesParser, TypedValueParser as _};
use clap::Args;
use serde_json::Value;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Algorithms a development key can be made for; every one the authorizer verifies.
const ALG_NAMES: [&str; 8] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "EdDSA"];

const KEYGEN_HELP: &str = "Writes DIR/<kid>.key.json (the private JWK, mode 0600) and DIR/jwks.json. An existing \
jwks.json keeps its other keys, so running keygen again with a new kid prepares a key rotation. Prints the two \
paths. RSA keys are 2048 bits, as Cognito's.";

/// Generate a development signing key and its JWKS.
#[derive(Debug, Args)]
#[command(after_help = KEYGEN_HELP)]
pub struct KeygenArgs {
    /// The key id (`kid`) written in the JWK and in every token signed with it.
    #[arg(long, default_value = "dev")]
    kid: String,
    /// The signing algorithm.
    #[arg(long, default_value = "RS256", value_parser = alg_parser())]
    alg: JwsAlg,
    /// The directory to write to (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Replace an existing private key file of the same kid.
    #[arg(long)]
    force: bool,
}

fn alg_parser() -> impl clap::builder::TypedValueParser<Value = JwsAlg> {
    PossibleValuesParser::new(ALG_NAMES).try_map(|name| JwsAlg::parse_name(&name).ok_or("unsupported algorithm"))
}

/// A kid is also a file name: keep it to characters that are safe in both, and never a path.
fn validate_kid(kid: &str) -> anyhow::Result<()> {
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"-_.+=".contains(&b);
    if kid.is_empty() || kid.len() > 128 || kid.starts_with('.') || !kid.bytes().all(safe) {
        bail!("--kid `{kid}`: use 1 to 128 of A-Z a-z 0-9 - _ . + = (not starting with `.`)");
    }
    Ok(())
}

fn generate(kid: &str, alg: JwsAlg) -> anyhow::Result<DevKey> {
    let key = match alg {
        JwsAlg::Es256 => DevKey::generate_es256(kid),
        JwsAlg::EdDsa => DevKey::generate_ed25519(kid),
        rsa => DevKey::generate_rsa_with(kid, 2048, rsa),
    };
    Ok(key?)
}

/// Writes the private key readable by its owner only, refusing to replace one unless asked.
fn write_private(path: &Path, jwk: &Value, force: bool) -> anyhow::Result<()> {
    if force && path.exists() {
        std::fs::remove_file(path).with_context(|| format!("cannot replace `{}`", path.display()))?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::AlreadyExists => {
            anyhow::anyhow!("`{}` already exists (pass --force to replace it)", path.display())
        }
        _ => anyhow::Error::new(err).context(format!("cannot create `{}`", path.display())),
    })?;
    let text = serde_json::to_string_pretty(jwk)?;
    writeln!(file, "{text}").with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(())
}

/// The JWKS with `public` added, replacing any key of the same kid; an unreadable existing file is an error
/// rather than something to overwrite.
fn merged_jwks(path: &Path, public: Value, kid: &str) -> anyhow::Result<Value> {
    let mut keys = match std::fs::read(path) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(err) => return Err(anyhow::Error::new(err).context(format!("cannot read `{}`", path.display()))),
        Ok(bytes) => {
            let existing: Value =
                serde_json::from_slice(&bytes).with_context(|| format!("`{}` is not JSON", path.display()))?;
            match existing.get("keys").and_then(Value::as_array) {
                Some(keys) => keys.clone(),
                None => bail!("`{}` is not a JWKS (no `keys` list)", path.display()),
            }
        }
    };
    keys.retain(|key| key.get("kid").and_then(Value::as_str) != Some(kid));
    keys.push(public);
    Ok(serde_json::json!({ "keys": keys }))
}

/// Replaces `path` in one step, so that a reader never sees half a file.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp-{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, text).with_context(|| format!("cannot write `{}`", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write `{}`", path.display()))
}

/// Runs the command.
pub fn run(args: &KeygenArgs) -> anyhow::Result<Finished> {
    validate_kid(&args.kid)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create `{}`", args.out.display()))?;
    let jwks_path = args.out.join("jwks.json");
    let key_path = args.out.join(format!("{}.key.json", args.kid));
    let key = generate(&args.kid, args.alg)?;
    // Read before anything is written, so that a broken jwks.json leaves no orphan private key behind.
    let jwks = merged_jwks(&jwks_path, key.public_jwk(), &args.kid)?;
    write_private(&key_path, &key.private_jwk(), args.force)?;
    write_atomically(&jwks_path, &format!("{}\n", serde_json::to_string_pretty(&jwks)?))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}\n{}", key_path.display(), jwks_path.display()).context("cannot write to stdout")?;
    Ok(Finished::Clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_are_never_paths() {
        for kid in ["dev", "k1", "2024-01.rsa", "abc+/="] {
            assert_eq!(validate_kid(kid).is_ok(), !kid.contains('/'), "{kid}");
        }
        for kid in ["", ".", "..", "../x", "a/b", "a b", "é"] {
            assert!(validate_kid(kid).is_err(), "{kid}");
        }
    }

    #[test]
    fn every_listed_alg_is_supported() {
        for name in ALG_NAMES {
            assert!(JwsAlg::parse_name(name).is_some(), "{name}");
        }
    }
}
