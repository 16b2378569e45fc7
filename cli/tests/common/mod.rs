//! Running the built `authz` binary, and scratch directories for its files.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// What one run of the binary gave.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Stdout as JSON values, one per line.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON: {line}: {err}")))
            .collect()
    }

    /// Fails with everything the run printed unless it exited with `code`.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(self.code, Some(code), "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }
}

/// Runs `authz args...` with `stdin` as its input.
pub fn authz(args: &[&str], stdin: impl AsRef<[u8]>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authz"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start authz");
    let mut input = child.stdin.take().unwrap();
    let text = stdin.as_ref().to_vec();
    // Written from a thread so that a large input cannot deadlock against a full stdout pipe.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&text);
    });
    let Output { status, stdout, stderr } = child.wait_with_output().expect("wait for authz");
    writer.join().unwrap();
    Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// A fresh, empty directory, never shared: the tests of one binary run in parallel threads of one process, and
/// two of them preparing the same corpus once wrote each other's freshly minted keys into one directory (a token
/// then failed its signature against the other test's key, now and then).
pub fn scratch(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let serial = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("authz-cli")
        .join(format!("{name}-{}-{serial}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `path` as a `&str` argument.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `dist/authz.wasm`, built by `make wasm`; missing, the test fails rather than passing without having run the
/// filter.
pub fn filter_wasm() -> PathBuf {
    let wasm = workspace().join("dist/authz.wasm");
    assert!(wasm.is_file(), "{} is missing: run make wasm", wasm.display());
    wasm
}

/// A hint for a disagreement between the filter and the core: the module may predate the core's sources. Not a
/// failure by itself, since many of those sources (tests, minting) never reach the module.
pub fn staleness_hint(wasm: &Path) -> String {
    let built = std::fs::metadata(wasm).and_then(|meta| meta.modified()).unwrap();
    let mut newest = None;
    newest_source(&workspace().join("src"), &mut newest);
    match newest {
        Some((modified, path)) if modified > built => {
            format!(" ({} is older than {}: run make wasm)", wasm.display(), path.display())
        }
        _ => String::new(),
    }
}

fn newest_source(dir: &Path, newest: &mut Option<(std::time::SystemTime, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            newest_source(&path, newest);
        } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
            let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
            if newest.as_ref().is_none_or(|(time, _)| modified > *time) {
                *newest = Some((modified, path));
            }
        }
    }
}

/// Runs `authz args...` with its stdout closed before it writes anything.
pub fn authz_without_stdout(args: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_authz"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start authz");
    drop(child.stdout.take());
    let Output { status, stderr, .. } = child.wait_with_output().expect("wait for authz");
    Run { code: status.code(), stdout: String::new(), stderr: String::from_utf8(stderr).expect("stderr is UTF-8") }
}

/// The `python` of a virtual environment with the pins of `requirements` (see [`authz_testkit::python`]).
pub fn python_env(requirements: &Path) -> PathBuf {
    authz_testkit::python::python_env(requirements).unwrap_or_else(|err| panic!("{err}")).join("bin/python")
}
