//! The filter in real Envoy in front of the echo upstream: one call to start, one call per request.

use crate::bootstrap::{Bootstrap, LISTENER, LISTENER_XFF_PEER};
use crate::echo::{EchoServer, Echoed};
use crate::envoy::{dist_wasm, locate_envoy, Envoy, Launch, LoggedDecision};
use crate::error::{Error, Result};
use crate::http::{self, Request, Response};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How long to wait for the filter's log line once the response is in (it is written before the response).
const DECISION_LOG_TIMEOUT: Duration = Duration::from_secs(2);

/// Envoy running `dist/authz.wasm` with one plugin configuration, and the upstream behind it.
pub struct Harness {
    // Envoy first: it is stopped before the upstream it talks to.
    envoy: Envoy,
    listener: SocketAddr,
    xff_peer_listener: SocketAddr,
    _upstream: EchoServer,
}

/// One request's round trip.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub response: Response,
    /// What the upstream received, when the request got there.
    pub upstream: Option<Echoed>,
    /// What the filter logged for the request.
    pub decision: Option<LoggedDecision>,
}

impl Harness {
    /// Starts the echo upstream and Envoy (one worker) with the filter configured by `plugin_configuration`.
    pub fn start(plugin_configuration: &str) -> Result<Self> {
        Self::start_with_workers(plugin_configuration, 1)
    }

    /// Like [`Harness::start`] with `workers` worker threads, each running its own wasm VM (and so its own
    /// `on_configure`); connections are spread over them.
    pub fn start_with_workers(plugin_configuration: &str, workers: u8) -> Result<Self> {
        let binary = locate_envoy()?;
        let wasm = dist_wasm()?;
        let upstream = EchoServer::start()?;
        let yaml = Bootstrap { wasm: &wasm, plugin_configuration, upstream: upstream.addr() }.render();
        let envoy = Envoy::start(&Launch { binary: &binary, yaml: &yaml, concurrency: workers })?;
        let find = |name: &str| {
            envoy
                .listener(name)
                .ok_or_else(|| Error::Http { what: format!("admin lists no listener `{name}`: {:?}", envoy.listeners()) })
        };
        let listener = find(LISTENER)?;
        let xff_peer_listener = find(LISTENER_XFF_PEER)?;
        Ok(Self { envoy, listener, xff_peer_listener, _upstream: upstream })
    }

    /// The Envoy process.
    pub fn envoy(&self) -> &Envoy {
        &self.envoy
    }

    /// The listener clients talk to.
    pub fn listener(&self) -> SocketAddr {
        self.listener
    }

    /// Sends one request through Envoy and collects the response, what the upstream saw, and the logged decision.
    /// Requests must be sent one at a time for the decision to be this request's.
    pub fn send(&self, request: &Request) -> Result<Exchange> {
        self.exchange(self.listener, request)
    }

    /// Like [`Harness::send`], with the filter seeing what an edge Envoy shows it for a downstream peer at
    /// `source`: that address as the downstream address, and appended to `x-forwarded-for`.
    pub fn send_from(&self, source: IpAddr, request: &Request) -> Result<Exchange> {
        let request = request.clone().header("x-forwarded-for", &source.to_string());
        self.exchange(self.xff_peer_listener, &request)
    }

    fn exchange(&self, listener: SocketAddr, request: &Request) -> Result<Exchange> {
        let mark = self.envoy.log_mark();
        let response = http::send(listener, request)?;
        let upstream = match response.header("x-echo") {
            Some(echo) => Some(Echoed::from_header(echo).ok_or_else(|| Error::Http {
                what: format!("the upstream's answer is not an echo: {echo}"),
            })?),
            None => None,
        };
        let decision = self.envoy.decision_since(mark, DECISION_LOG_TIMEOUT);
        Ok(Exchange { response, upstream, decision })
    }
}
