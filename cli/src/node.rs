//! The Node package (`dist/edge/nodejs`, `make edge`) run by `node` in a child process: the same core built with
//! wasm-bindgen, given each request through its JS API, so that a corpus can be checked against what Node,
//! Workers and Lambda@Edge will run.

use crate::answer::{decision_name, Answer};
use anyhow::{bail, Context as _};
use authz::HttpRequest;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

const RUNNER: &str = include_str!("node_runner.js");

/// What the JS API returns (`AuthorizeAnswer` in the package's authz.d.ts).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct JsAnswer {
    status: u16,
    decision: String,
    code: String,
    reason: String,
    headers: BTreeMap<String, String>,
    body: Option<String>,
    rewrite_path: Option<String>,
    remove_headers: Vec<String>,
}

/// `node` running the package with one configuration.
pub struct NodeEngine {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// A request as the JS API takes it: the corpus's request as a client sends it through a proxy, which always
/// has a `host` (Envoy's `:authority`; the filter and the native core get `localhost` without one, see delivery.rs).
pub fn js_request(request: &HttpRequest, now: u64) -> Value {
    let mut headers: Vec<(String, String)> = request.headers.clone();
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        headers.insert(0, ("host".to_owned(), "localhost".to_owned()));
    }
    let mut line = serde_json::Map::new();
    line.insert("method".into(), json!(request.method));
    line.insert("path".into(), json!(request.path));
    line.insert("headers".into(), json!(headers));
    if let Some(ip) = request.source_ip {
        line.insert("sourceIp".into(), json!(ip.to_string()));
    }
    if let Some(secure) = request.secure_transport {
        line.insert("secureTransport".into(), json!(secure));
    }
    line.insert("now".into(), json!(now));
    Value::Object(line)
}

impl NodeEngine {
    /// Starts `node` on the package folder (or its `authz.js`) and loads `config` into it.
    pub fn load(package: &Path, config: &[u8]) -> anyhow::Result<Self> {
        if !package.exists() {
            bail!("`{}` does not exist (`make edge` builds dist/edge/nodejs)", package.display());
        }
        let mut child = Command::new(std::env::var_os("NODE").unwrap_or_else(|| "node".into()))
            .arg("-e")
            .arg(RUNNER)
            .arg(package)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start `node` (set NODE to its path)")?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            bail!("`node` started without pipes");
        };
        let mut engine = Self { child, stdin, stdout: BufReader::new(stdout) };
        let text = String::from_utf8(config.to_vec()).context("the configuration is not UTF-8")?;
        let reply = engine.exchange(&Value::String(text))?;
        if reply.get("loaded") != Some(&Value::Bool(true)) {
            bail!("`{}` refused the configuration: {}", package.display(), reply.get("error").unwrap_or(&reply));
        }
        Ok(engine)
    }

    fn exchange(&mut self, line: &Value) -> anyhow::Result<Value> {
        writeln!(self.stdin, "{line}").context("`node` is gone")?;
        self.stdin.flush().context("`node` is gone")?;
        let mut reply = String::new();
        if self.stdout.read_line(&mut reply).context("cannot read from `node`")? == 0 {
            bail!("`node` exited (status {:?})", self.child.try_wait().ok().flatten());
        }
        serde_json::from_str(&reply).with_context(|| format!("`node` answered `{}`", reply.trim_end()))
    }

    /// Decides one request (as the corpus or `check` input gives it, without pseudo-headers) at unix time `now`.
    pub fn decide(&mut self, request: &HttpRequest, now: u64) -> anyhow::Result<Answer> {
        let reply = self.exchange(&js_request(request, now))?;
        if let Some(error) = reply.get("error") {
            bail!("the package threw: {error}");
        }
        let answer: JsAnswer =
            serde_json::from_value(reply).context("the package's answer is not an AuthorizeAnswer")?;
        let decision = decision_name(answer.status);
        if answer.decision != decision {
            bail!("the package answered status {} with decision `{}`", answer.status, answer.decision);
        }
        if (answer.status == 200) != answer.body.is_none()
            || (answer.status != 200 && !answer.remove_headers.is_empty())
        {
            bail!("the package's answer mixes allow and denial: {answer:?}");
        }
        Ok(Answer {
            status: answer.status,
            decision,
            code: answer.code,
            reason: answer.reason,
            headers: answer.headers,
            rewrite_path: answer.rewrite_path,
        })
    }
}

impl Drop for NodeEngine {
    fn drop(&mut self) {
        // Our own child, by its handle: closing stdin ends the runner; kill in case it hangs.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
