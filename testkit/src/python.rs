//! Python tools the tests drive (moto, boto3, a JSON Schema validator), each in a virtual environment made once
//! under the tools cache and reused while its pins stay the same.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A virtual environment with the pins of `requirements` (a pip requirements file), made once under the tools
/// cache (`AUTHZ_TOOLS_DIR`, or `~/.cache/authz-tools` as the Makefile's other tools) and reused while the pins
/// stay the same; `.complete` is written last, so a half-made one (a run stopped during the install) is made
/// again. Returns the environment's directory (`bin/python` and the packages' scripts are under it).
pub fn python_env(requirements: &Path) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string(requirements).map_err(|err| format!("{}: {err}", requirements.display()))?;
    let pins: Vec<&str> = text.lines().filter(|line| !line.starts_with('#') && !line.trim().is_empty()).collect();
    let name = format!("python-{}", pins.join("-").replace(['[', ']', '=', '.', ','], "_"));
    let tools = match std::env::var_os("AUTHZ_TOOLS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").ok_or("HOME is not set")?).join(".cache/authz-tools"),
    };
    let env = tools.join(name);
    if env.join("bin/python").is_file() && env.join(".complete").is_file() {
        return Ok(env);
    }
    // Removing what is not there fails, and is what we want.
    let _ = std::fs::remove_dir_all(&env);
    std::fs::create_dir_all(&tools).map_err(|err| format!("{}: {err}", tools.display()))?;
    let run = |command: &mut Command| {
        let output = command.output().map_err(|err| format!("cannot run {command:?}: {err}"))?;
        if output.status.success() {
            return Ok(());
        }
        let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        Err(format!("{command:?} failed:\n{said}"))
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(&env))?;
    let pip = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input", "--only-binary=:all:"];
    run(Command::new(env.join("bin/python")).args(pip).arg("-r").arg(requirements))?;
    std::fs::write(env.join(".complete"), &text).map_err(|err| format!("{}: {err}", env.display()))?;
    Ok(env)
}
