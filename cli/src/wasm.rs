//! The built filter inside the wasmtime host from `authz-host`: each request goes in with the properties Envoy
//! would give it, and what the client or the upstream would see comes out as the same [`Answer`] the core gives.

use crate::answer::{decision_name, Answer};
use anyhow::{bail, Context as _};
use authz::decision::DecisionRecord;
use authz::{Authorizer, HttpRequest};
use authz_host::{FilterHost, HttpOutcome, LogLevel, LogLine, Plugin};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

/// Envoy's `source.address` carries a port; the filter ignores it.
const SOURCE_PORT: u16 = 53346;
/// What Envoy reports for a TLS 1.3 downstream connection.
const TLS_VERSION: &[u8] = b"TLSv1.3";

/// A filter module started with one configuration.
pub struct WasmEngine {
    plugin: Plugin,
    /// The configured identity header names, which are what an allowed request gains upstream.
    identity_headers: Vec<String>,
}

/// The filter's error lines since `from`, to explain a refusal or a failure.
fn errors_since(logs: &[LogLine], from: usize) -> String {
    let lines: Vec<&str> =
        logs.iter().skip(from).filter(|line| line.level >= LogLevel::Warn).map(|line| line.message.as_str()).collect();
    if lines.is_empty() {
        "nothing logged".to_owned()
    } else {
        lines.join("; ")
    }
}

/// `config` with every decision recorded (`decision_record: "all"`): the CLI reads each answer from the filter's
/// decision record, whatever the configuration asks of Envoy. Only that member changes; the document was read
/// strictly (duplicate names refused) before it gets here.
pub fn recording_every_decision(config: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut document: serde_json::Value = serde_json::from_slice(config).context("the configuration is not JSON")?;
    let members = document.as_object_mut().context("the configuration is not a JSON object")?;
    members.insert("decision_record".to_owned(), serde_json::Value::from("all"));
    Ok(serde_json::to_vec(&document)?)
}

impl WasmEngine {
    /// Loads the module at `path` and configures it with `config`, which `authorizer` was compiled from.
    pub fn load(path: &Path, config: &[u8], authorizer: &Authorizer) -> anyhow::Result<Self> {
        let wasm = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let host = FilterHost::load(&wasm).with_context(|| format!("`{}` does not load", path.display()))?;
        let config = recording_every_decision(config)?;
        let (plugin, configured) =
            host.start(b"", &config).with_context(|| format!("`{}` failed to start", path.display()))?;
        if !configured {
            bail!("`{}` refused the configuration: {}", path.display(), errors_since(plugin.logs(), 0));
        }
        let mut identity_headers: Vec<String> =
            authorizer.identity_header_names().iter().map(|name| (*name).to_owned()).collect();
        identity_headers.extend(authorizer.config().identity_headers().claims.iter().map(|claim| claim.header.clone()));
        Ok(Self { plugin, identity_headers })
    }

    /// Runs one request, already shaped as Envoy delivers it (pseudo-headers included), through the filter at
    /// unix time `now`.
    pub fn decide(&mut self, request: &HttpRequest, now: u64) -> anyhow::Result<Answer> {
        let nanos = now.checked_mul(1_000_000_000).context("`now` is too far in the future for the host clock")?;
        self.plugin.set_time_nanos(nanos);
        // No address at all is what the core is given natively; an empty property reads as none in the filter.
        let source = request.source_ip.map(|ip| SocketAddr::new(ip, SOURCE_PORT).to_string()).unwrap_or_default();
        self.plugin.set_property(&["source", "address"], source.as_bytes());
        // Envoy has `connection.tls_version` on TLS connections only; the filter reads an empty one as plain.
        let tls_version: &[u8] = if request.secure_transport == Some(false) { b"" } else { TLS_VERSION };
        self.plugin.set_property(&["connection", "tls_version"], tls_version);
        let logged = self.plugin.logs().len();
        let outcome = self.plugin.http_request(&request.headers).context("the filter failed")?;
        // The decision as the filter recorded it for access logs: its own status and reason, also where the host
        // turned the reply into something else (a gRPC client gets HTTP 200 with `grpc-status`).
        let record = self
            .plugin
            .filter_state(authz::decision::DECISION_PROPERTY)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .and_then(DecisionRecord::parse);
        let record = match record {
            Some(record) => record,
            None => bail!("the filter recorded no decision ({})", errors_since(self.plugin.logs(), logged)),
        };
        match outcome {
            HttpOutcome::Continue { request_headers, .. } if record.status == 200 => {
                Ok(self.allowed(request, &request_headers, record))
            }
            HttpOutcome::Continue { .. } => {
                bail!("the filter let the request through but recorded {} ({})", record.status, record.reason)
            }
            HttpOutcome::LocalResponse { headers, .. } => {
                let headers = headers
                    .into_iter()
                    // Envoy adds `content-length` to every local reply; it is not part of the filter's answer.
                    .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
                    .collect();
                let decision = decision_name(record.status);
                Ok(Answer {
                    status: record.status,
                    decision,
                    code: record.code,
                    reason: record.reason,
                    headers,
                    rewrite_path: None,
                })
            }
            HttpOutcome::Paused { .. } => {
                bail!("the filter paused the request without answering it ({})", record.reason)
            }
            HttpOutcome::Reset => bail!("the filter reset the stream ({})", record.reason),
        }
    }

    fn allowed(&self, request: &HttpRequest, upstream: &[(String, String)], record: DecisionRecord) -> Answer {
        let mut headers = BTreeMap::new();
        for name in &self.identity_headers {
            let values: Vec<&str> = upstream
                .iter()
                .filter(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
                .collect();
            // More than one value would be a filter that kept a client's copy: show it rather than hide it.
            if !values.is_empty() {
                headers.insert(name.clone(), values.join(", "));
            }
        }
        let path = upstream.iter().find(|(key, _)| key == ":path").map(|(_, value)| value.as_str());
        let rewrite_path = path.filter(|path| *path != request.path).map(str::to_owned);
        Answer {
            status: 200,
            decision: decision_name(200),
            code: record.code,
            reason: record.reason,
            headers,
            rewrite_path,
        }
    }
}
