//! The filter in real Envoy in front of the echo upstream: one call to start, one call per request.

use crate::bootstrap::{Bootstrap, ClientAddress, TlsListener, LISTENER, LISTENER_TLS};
use crate::echo::{EchoServer, Echoed};
use crate::envoy::{dist_wasm, locate_envoy, Envoy, Launch};
use crate::error::{Error, Result};
use crate::http::{self, Request, Response};
use crate::tls::TestCertificate;
use authz::decision::DecisionRecord;
use std::net::SocketAddr;
use std::time::Duration;

/// How long to wait for the request's access log line once the response is in (Envoy writes it when the stream
/// ends, and flushes every 10 ms in the harness).
const ACCESS_LOG_TIMEOUT: Duration = Duration::from_secs(2);

/// Envoy running `dist/authz.wasm` with one plugin configuration, and the upstream behind it.
pub struct Harness {
    // Envoy first: it is stopped before the upstream it talks to.
    envoy: Envoy,
    listener: SocketAddr,
    /// The TLS listener and the certificate it serves, when asked for.
    tls: Option<(SocketAddr, TestCertificate)>,
    _upstream: EchoServer,
}

/// How to start a [`Harness`].
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Worker threads, each running its own wasm VM (and so its own `on_configure`); connections are spread over
    /// them.
    pub workers: u8,
    /// How Envoy finds the client it reports to the filter as `source.address`.
    pub client_address: ClientAddress,
    /// Whether to serve TLS too (a second listener, with a certificate made for the run), for
    /// [`Harness::send_tls`].
    pub tls: bool,
    /// Whether Envoy talks HTTP/2 to the upstream (which then reports request trailers).
    pub upstream_http2: bool,
    /// Whether Envoy keeps HTTP/1.1 trailers (downstream, and to an HTTP/1.1 upstream).
    pub http1_trailers: bool,
}

impl Default for Options {
    /// One worker, at an edge, plain HTTP only.
    fn default() -> Self {
        Self {
            workers: 1,
            client_address: ClientAddress::default(),
            tls: false,
            upstream_http2: false,
            http1_trailers: false,
        }
    }
}

/// One request's round trip.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub response: Response,
    /// What the upstream received, when the request got there.
    pub upstream: Option<Echoed>,
    /// The filter's decision record for the request, from the access log; `None` when the filter decided nothing.
    pub decision: Option<DecisionRecord>,
    /// The method the access log line names; `None` when no line arrived.
    pub logged_method: Option<String>,
}

impl Harness {
    /// Starts the echo upstream and Envoy (one worker, at an edge) with the filter configured by
    /// `plugin_configuration`.
    pub fn start(plugin_configuration: &str) -> Result<Self> {
        Self::start_with(plugin_configuration, &Options::default())
    }

    /// Like [`Harness::start`], with `options`.
    pub fn start_with(plugin_configuration: &str, options: &Options) -> Result<Self> {
        Self::start_with_clusters(plugin_configuration, options, &[])
    }

    /// Like [`Harness::start_with`], with more clusters the filter may call (`proxy_http_call`), by name.
    pub fn start_with_clusters(
        plugin_configuration: &str,
        options: &Options,
        clusters: &[(&str, SocketAddr)],
    ) -> Result<Self> {
        let binary = locate_envoy()?;
        let wasm = dist_wasm()?;
        let upstream = EchoServer::start()?;
        let certificate = if options.tls { Some(TestCertificate::generate()?) } else { None };
        let mut bootstrap = Bootstrap::new(&wasm, plugin_configuration, upstream.addr());
        bootstrap.client_address = options.client_address;
        bootstrap.extra_clusters = clusters;
        bootstrap.upstream_http2 = options.upstream_http2;
        bootstrap.http1_trailers = options.http1_trailers;
        bootstrap.tls = certificate.as_ref().map(|certificate| TlsListener {
            certificate_pem: certificate.certificate_pem(),
            private_key_pem: certificate.private_key_pem(),
        });
        let envoy = Envoy::start(&Launch {
            binary: &binary,
            yaml: &bootstrap.render(),
            concurrency: options.workers,
            quiet: false,
        })?;
        let find = |name: &str| {
            envoy.listener(name).ok_or_else(|| Error::Http {
                what: format!("admin lists no listener `{name}`: {:?}", envoy.listeners()),
            })
        };
        let listener = find(LISTENER)?;
        let tls = match certificate {
            Some(certificate) => Some((find(LISTENER_TLS)?, certificate)),
            None => None,
        };
        Ok(Self { envoy, listener, tls, _upstream: upstream })
    }

    /// The Envoy process.
    pub fn envoy(&self) -> &Envoy {
        &self.envoy
    }

    /// The listener clients talk to.
    pub fn listener(&self) -> SocketAddr {
        self.listener
    }

    /// Sends one request through Envoy and collects the response, what the upstream saw, and the decision record.
    /// Requests must be sent one at a time for the decision to be this request's.
    pub fn send(&self, request: &Request) -> Result<Exchange> {
        self.exchange(|| http::send(self.listener, request))
    }

    /// Like [`Harness::send`], over HTTP/2 (prior knowledge), with the request's body and trailers.
    pub fn send_h2(&self, request: &Request) -> Result<Exchange> {
        self.exchange(|| crate::http2::send(self.listener, request))
    }

    /// Like [`Harness::send`], over TLS to the TLS listener (started with [`Options::tls`]).
    pub fn send_tls(&self, request: &Request) -> Result<Exchange> {
        let (listener, certificate) = self
            .tls
            .as_ref()
            .ok_or_else(|| Error::Tls { what: "the harness was started without `Options::tls`".into() })?;
        self.exchange(|| certificate.send(*listener, request))
    }

    fn exchange(&self, send: impl FnOnce() -> Result<Response>) -> Result<Exchange> {
        let mark = self.envoy.log_mark();
        let response = send()?;
        let upstream = match response.header("x-echo") {
            Some(echo) => Some(
                Echoed::from_header(echo)
                    .ok_or_else(|| Error::Http { what: format!("the upstream's answer is not an echo: {echo}") })?,
            ),
            None => None,
        };
        let logged = self.envoy.access_logged_since(mark, ACCESS_LOG_TIMEOUT);
        let logged_method = logged.as_ref().map(|logged| logged.method.clone());
        Ok(Exchange { response, upstream, decision: logged.and_then(|logged| logged.record), logged_method })
    }
}
