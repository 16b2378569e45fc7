//! The envoy.yaml of one harness run: a listener on 127.0.0.1 with the wasm filter (or, for comparison, Envoy's
//! own `jwt_authn`, or nothing) in front of the echo upstream, optionally a second one serving TLS, otherwise the
//! same; admin on 127.0.0.1. Ports are 0 (the kernel picks free ones; the harness reads them back from
//! admin), so concurrent runs never race for a port.
//!
//! How Envoy finds the client is [`ClientAddress`]: by default an edge (`use_remote_address: true`, no trusted
//! hops), where the downstream address the filter sees is the TCP peer, 127.0.0.1. For a loopback peer Envoy
//! appends its own non-loopback local address to `x-forwarded-for`, not the peer's.

use std::net::SocketAddr;
use std::path::Path;

/// The listener clients talk to.
pub const LISTENER: &str = "authz";
/// What starts each access log line the harness reads (on Envoy's stderr, beside its own log): then the method and
/// the filter's decision record, or `-` when the filter decided nothing.
pub const ACCESS_LOG_MARKER: &str = "authz-e2e-access ";
/// The TLS listener, when there is one.
pub const LISTENER_TLS: &str = "authz_tls";

/// A certificate and its private key, PEM, for [`LISTENER_TLS`].
#[derive(Debug, Clone, Copy)]
pub struct TlsListener<'a> {
    pub certificate_pem: &'a str,
    pub private_key_pem: &'a str,
}

/// The connection manager's settings that decide the downstream address (Envoy's "trusted client address"), which
/// the filter reads as `source.address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress {
    /// `true`: the TCP peer is the nearest hop, and Envoy appends to `x-forwarded-for`. `false`: Envoy takes the
    /// client from `x-forwarded-for` alone and appends nothing.
    pub use_remote_address: bool,
    /// Envoy's `xff_num_trusted_hops`.
    pub xff_num_trusted_hops: u8,
}

impl Default for ClientAddress {
    /// An edge: the downstream address is the TCP peer.
    fn default() -> Self {
        Self { use_remote_address: true, xff_num_trusted_hops: 0 }
    }
}

/// YAML 1.2 double-quoted scalars accept JSON string syntax, so JSON encoding quotes any text safely.
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// The HTTP filter in front of the router.
#[derive(Debug, Clone, Copy)]
pub enum AuthFilter<'a> {
    /// The authorizer: the module (`dist/authz.wasm`) and its plugin configuration (the authorizer's JSON).
    Wasm { module: &'a Path, configuration: &'a str },
    /// Envoy's native JWT filter requiring, on every path, a token from `issuer` (`Authorization: Bearer`) signed by
    /// a key of `jwks` (JSON, inline), with its cache of verified tokens on (100 tokens, its default size).
    JwtAuthn { issuer: &'a str, jwks: &'a str },
    /// The native stack doing this filter's job: `jwt_authn` as above that also puts the token's claims in dynamic
    /// metadata (`jwt_payload`) and six of them in request headers (`claim_to_headers`), followed by `rbac`, the
    /// YAML of one or more `envoy.filters.http.rbac` entries at the `http_filters` indentation that read them.
    JwtAuthnRbac { issuer: &'a str, jwks: &'a str, rbac: &'a str },
    /// None: the router alone.
    None,
}

/// What varies between harness runs.
#[derive(Debug, Clone)]
pub struct Bootstrap<'a> {
    /// The filter in front of the router.
    pub filter: AuthFilter<'a>,
    /// The echo upstream.
    pub upstream: SocketAddr,
    /// How Envoy finds the client.
    pub client_address: ClientAddress,
    /// A second listener that serves TLS.
    pub tls: Option<TlsListener<'a>>,
    /// Envoy talks HTTP/2 to the upstream (`http2_protocol_options`), which carries request trailers.
    pub upstream_http2: bool,
    /// HTTP/1.1 trailers are kept (`http_protocol_options.enable_trailers`, downstream and to an HTTP/1.1
    /// upstream); Envoy drops them otherwise.
    pub http1_trailers: bool,
    /// The route answers `200 ok` itself (`direct_response`) instead of going to the upstream: the benchmark
    /// measures Envoy and its filters alone, with no upstream competing for the machine.
    pub direct_response: bool,
    /// One access log line per request on stderr ([`ACCESS_LOG_MARKER`], the method, the decision record): how the
    /// harness reads what the filter decided. Off for benchmarks.
    pub access_log: bool,
    /// More clusters by name, each one plain-HTTP endpoint (what the filter calls: a JWKS server, an identity
    /// provider).
    pub extra_clusters: &'a [(&'a str, SocketAddr)],
}

/// What the native stack's `jwt_authn` adds to its provider: the payload in dynamic metadata for RBAC, and the six
/// claims this filter sends upstream as headers.
const CLAIMS_OUT: &str = r#"                payload_in_metadata: jwt_payload
                claim_to_headers:
                - {header_name: x-authz-sub, claim_name: sub}
                - {header_name: x-authz-username, claim_name: username}
                - {header_name: x-authz-groups, claim_name: "cognito:groups"}
                - {header_name: x-authz-client-id, claim_name: client_id}
                - {header_name: x-authz-issuer, claim_name: iss}
                - {header_name: x-authz-token-use, claim_name: token_use}
"#;

/// Envoy's `jwt_authn` requiring a token of `issuer` signed by a key of `jwks` on every path, with `provider_extra`
/// (YAML lines at the provider's indentation) in its provider and `then` (`http_filters` entries) after it.
fn jwt_authn(issuer: &str, jwks: &str, provider_extra: &str, then: &str) -> String {
    format!(
        r#"        - name: envoy.filters.http.jwt_authn
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
            providers:
              pool:
                issuer: {issuer}
                local_jwks: {{inline_string: {jwks}}}
                # The upstream receives the same headers as behind the other filters.
                forward: true
                jwt_cache_config: {{jwt_cache_size: 100}}
{provider_extra}            rules:
            - match: {{prefix: "/"}}
              requires: {{provider_name: pool}}
{then}"#,
        issuer = quoted(issuer),
        jwks = quoted(jwks),
    )
}

impl<'a> Bootstrap<'a> {
    /// The filter with `plugin_configuration` in front of `upstream`, at an edge, plain HTTP only.
    pub fn new(wasm: &'a Path, plugin_configuration: &'a str, upstream: SocketAddr) -> Self {
        Self::with_filter(AuthFilter::Wasm { module: wasm, configuration: plugin_configuration }, upstream)
    }

    /// `filter` in front of `upstream`, at an edge, plain HTTP only.
    pub fn with_filter(filter: AuthFilter<'a>, upstream: SocketAddr) -> Self {
        Self {
            filter,
            upstream,
            client_address: ClientAddress::default(),
            tls: None,
            upstream_http2: false,
            http1_trailers: false,
            direct_response: false,
            access_log: true,
            extra_clusters: &[],
        }
    }
}

impl Bootstrap<'_> {
    /// The envoy.yaml text: listener, cluster and admin all static.
    pub fn render(&self) -> String {
        format!(
            "# Rendered by authz-e2e for one run (see examples/envoy.yaml for a deployable configuration).\n\
             {HEAD}static_resources:\n  listeners:\n{listener}{cluster}",
            listener = indent(&self.listeners(), 2),
            cluster = self.cluster(),
        )
    }

    /// An envoy.yaml whose listener comes from the file `lds` (filesystem LDS, reloaded when the file is replaced
    /// by a rename), as an xDS server would push it; write [`Bootstrap::lds_resources`] there first.
    pub fn render_with_lds(&self, lds: &Path) -> String {
        format!(
            "# Rendered by authz-e2e for one run: the listener comes from LDS.\n\
             {HEAD}dynamic_resources:\n  lds_config:\n    path_config_source: {{path: {lds}}}\nstatic_resources:\n{cluster}",
            lds = quoted(&lds.to_string_lossy()),
            cluster = self.cluster(),
        )
    }

    /// The LDS file's contents: the one listener, as a discovery resource.
    pub fn lds_resources(&self) -> String {
        let mut resources = String::from("resources:\n");
        for line in self.listeners().lines() {
            // Only the listeners themselves start at column 0.
            match line.strip_prefix("- name: ") {
                Some(name) => resources.push_str(&format!(
                    "- \"@type\": type.googleapis.com/envoy.config.listener.v3.Listener\n  name: {name}\n"
                )),
                None => resources.push_str(&format!("{line}\n")),
            }
        }
        resources
    }

    fn listeners(&self) -> String {
        let mut listeners = self.listener(LISTENER, None);
        if let Some(tls) = &self.tls {
            listeners.push_str(&self.listener(LISTENER_TLS, Some(tls)));
        }
        listeners
    }

    fn listener(&self, name: &str, tls: Option<&TlsListener<'_>>) -> String {
        // Inline PEM: no files to write or clean up. Admin's config dump redacts the key.
        let transport_socket = match tls {
            Some(tls) => format!(
                "transport_socket: {{name: envoy.transport_sockets.tls, typed_config: {{\"@type\": \
                 type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext, common_tls_context: \
                 {{tls_certificates: [{{certificate_chain: {{inline_string: {}}}, private_key: {{inline_string: {}}}}}]}}}}}}\n    ",
                quoted(tls.certificate_pem),
                quoted(tls.private_key_pem)
            ),
            None => String::new(),
        };
        format!(
            r#"- name: {name}
  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
  filter_chains:
  - {transport_socket}filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: authz_e2e
        # The filter, not Envoy, must judge every spelling of a path: Envoy passes them through untouched.
        normalize_path: false
        merge_slashes: false
        path_with_escaped_slashes_action: KEEP_UNCHANGED
        use_remote_address: {use_remote_address}
        xff_num_trusted_hops: {xff_num_trusted_hops}
        http_protocol_options: {{enable_trailers: {http1_trailers}}}
{access_log}        route_config:
          virtual_hosts:
          - name: echo
            domains: ["*"]
            routes:
            - match: {{prefix: "/"}}
              {action}
        http_filters:
{filter}        - name: envoy.filters.http.router
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"#,
            filter = self.http_filter(),
            action = if self.direct_response {
                r#"direct_response: {status: 200, body: {inline_string: "ok"}}"#
            } else {
                "route: {cluster: echo, timeout: 10s}"
            },
            access_log = self.access_log(),
            use_remote_address = self.client_address.use_remote_address,
            xff_num_trusted_hops = self.client_address.xff_num_trusted_hops,
            http1_trailers = self.http1_trailers,
        )
    }

    /// The connection manager's access log, at the indentation of the listener template.
    fn access_log(&self) -> String {
        if !self.access_log {
            return String::new();
        }
        let format = format!("{ACCESS_LOG_MARKER}%REQ(:METHOD)% %FILTER_STATE(wasm.authz.decision:PLAIN)%\n");
        format!(
            r#"        access_log:
        - name: envoy.access_loggers.file
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
            path: /dev/stderr
            log_format: {{text_format_source: {{inline_string: {format}}}}}
"#,
            format = quoted(&format)
        )
    }

    /// The filter's entry in `http_filters`, at the indentation of the listener template.
    fn http_filter(&self) -> String {
        match self.filter {
            AuthFilter::Wasm { module, configuration } => format!(
                r#"        - name: envoy.filters.http.wasm
          typed_config:
            "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
            config:
              name: authz
              root_id: authz
              fail_open: false
              configuration:
                "@type": type.googleapis.com/google.protobuf.StringValue
                value: {configuration}
              vm_config:
                vm_id: authz
                runtime: envoy.wasm.runtime.v8
                code:
                  local:
                    filename: {wasm}
"#,
                configuration = quoted(configuration),
                wasm = quoted(&module.to_string_lossy()),
            ),
            AuthFilter::JwtAuthn { issuer, jwks } => jwt_authn(issuer, jwks, "", ""),
            AuthFilter::JwtAuthnRbac { issuer, jwks, rbac } => jwt_authn(issuer, jwks, CLAIMS_OUT, rbac),
            AuthFilter::None => String::new(),
        }
    }

    fn cluster(&self) -> String {
        let protocol = if self.upstream_http2 {
            "http2_protocol_options: {}".to_owned()
        } else {
            format!("http_protocol_options: {{enable_trailers: {}}}", self.http1_trailers)
        };
        format!(
            r#"  clusters:
  - name: echo
    type: STATIC
    connect_timeout: 2s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{{protocol}}}
    load_assignment:
      cluster_name: echo
      endpoints:
      - lb_endpoints:
        - endpoint:
            address: {{socket_address: {{address: {ip}, port_value: {port}}}}}
"#,
            ip = self.upstream.ip(),
            port = self.upstream.port(),
        ) + &self.extra_clusters.iter().map(|(name, addr)| extra_cluster(name, *addr)).collect::<String>()
    }
}

/// A cluster of one plain-HTTP/1.1 endpoint, for the filter's own calls.
fn extra_cluster(name: &str, addr: SocketAddr) -> String {
    format!(
        r#"  - name: {name}
    type: STATIC
    connect_timeout: 2s
    load_assignment:
      cluster_name: {name}
      endpoints:
      - lb_endpoints:
        - endpoint:
            address: {{socket_address: {{address: {ip}, port_value: {port}}}}}
"#,
        name = quoted(name),
        ip = addr.ip(),
        port = addr.port(),
    )
}

/// Node and admin, shared by both shapes.
const HEAD: &str = "node: {id: authz-e2e, cluster: authz-e2e}
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: 0}}
";

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines().map(|line| if line.is_empty() { "\n".to_owned() } else { format!("{pad}{line}\n") }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_the_configuration_as_one_scalar() {
        let yaml =
            Bootstrap::new(Path::new("/x/authz.wasm"), r#"{"a": "b\"c", "d": [1]}"#, "127.0.0.1:8081".parse().unwrap())
                .render();
        assert!(yaml.contains(r#"value: "{\"a\": \"b\\\"c\", \"d\": [1]}""#), "{yaml}");
        assert!(yaml.contains(r#"filename: "/x/authz.wasm""#));
        assert!(yaml.contains("address: 127.0.0.1, port_value: 8081"));
        assert!(yaml.contains("\n  listeners:\n  - name: authz\n    address:"), "{yaml}");
        assert_eq!(yaml.matches("use_remote_address: true\n").count(), 1, "{yaml}");
        assert_eq!(yaml.matches("xff_num_trusted_hops: 0\n").count(), 1, "{yaml}");
        assert!(!yaml.contains("transport_socket"), "{yaml}");
    }

    #[test]
    fn renders_the_comparison_filters() {
        let upstream = "127.0.0.1:8081".parse().unwrap();
        let jwt = Bootstrap::with_filter(
            AuthFilter::JwtAuthn { issuer: "https://issuer", jwks: r#"{"keys": []}"# },
            upstream,
        )
        .render();
        assert!(jwt.contains("- name: envoy.filters.http.jwt_authn\n"), "{jwt}");
        assert!(jwt.contains("issuer: \"https://issuer\"\n"), "{jwt}");
        assert!(jwt.contains(r#"local_jwks: {inline_string: "{\"keys\": []}"}"#), "{jwt}");
        assert!(!jwt.contains("envoy.filters.http.wasm"), "{jwt}");
        let rbac = "        - name: envoy.filters.http.rbac\n";
        let native = Bootstrap::with_filter(
            AuthFilter::JwtAuthnRbac { issuer: "https://issuer", jwks: r#"{"keys": []}"#, rbac },
            upstream,
        )
        .render();
        assert!(native.contains("payload_in_metadata: jwt_payload\n"), "{native}");
        assert_eq!(native.matches("{header_name: x-authz-").count(), 6, "{native}");
        let order = ["envoy.filters.http.jwt_authn", "envoy.filters.http.rbac", "envoy.filters.http.router"]
            .map(|name| native.find(name).unwrap_or(usize::MAX));
        assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "{native}");
        let bare = Bootstrap::with_filter(AuthFilter::None, upstream).render();
        assert!(bare.contains("\n          http_filters:\n          - name: envoy.filters.http.router\n"), "{bare}");
        assert!(!bare.contains("jwt_authn") && !bare.contains("envoy.filters.http.wasm"), "{bare}");
    }

    #[test]
    fn a_tls_listener_carries_the_certificate_inline() {
        let mut bootstrap = Bootstrap::new(Path::new("/x/authz.wasm"), "{}", "127.0.0.1:8081".parse().unwrap());
        bootstrap.tls =
            Some(TlsListener { certificate_pem: "-----CERT-----\nAA==\n", private_key_pem: "-----KEY-----\nBB==\n" });
        let yaml = bootstrap.render();
        assert!(yaml.contains("\n  - name: authz\n    address:"), "{yaml}");
        assert!(yaml.contains("\n  - name: authz_tls\n    address:"), "{yaml}");
        assert_eq!(yaml.matches("envoy.filters.http.wasm").count(), 2, "{yaml}");
        assert_eq!(yaml.matches("transport_socket: {name: envoy.transport_sockets.tls").count(), 1, "{yaml}");
        assert!(yaml.contains(r#"certificate_chain: {inline_string: "-----CERT-----\nAA==\n"}"#), "{yaml}");
        assert!(yaml.contains(r#"private_key: {inline_string: "-----KEY-----\nBB==\n"}"#), "{yaml}");
        assert!(yaml.contains("\n    - transport_socket: {"), "{yaml}");
        assert!(yaml.contains("}\n      filters:\n"), "{yaml}");
    }

    #[test]
    fn the_route_can_answer_itself() {
        let mut bootstrap = Bootstrap::with_filter(AuthFilter::None, "127.0.0.1:8081".parse().unwrap());
        assert!(bootstrap.render().contains("route: {cluster: echo, timeout: 10s}"));
        bootstrap.direct_response = true;
        let yaml = bootstrap.render();
        assert!(yaml.contains(r#"direct_response: {status: 200, body: {inline_string: "ok"}}"#), "{yaml}");
        assert!(!yaml.contains("route: {cluster: echo"), "{yaml}");
    }

    #[test]
    fn renders_how_envoy_finds_the_client() {
        let mut bootstrap = Bootstrap::new(Path::new("/x/authz.wasm"), "{}", "127.0.0.1:8081".parse().unwrap());
        bootstrap.client_address = ClientAddress { use_remote_address: false, xff_num_trusted_hops: 2 };
        let yaml = bootstrap.render();
        assert!(yaml.contains("\n          use_remote_address: false\n          xff_num_trusted_hops: 2\n"), "{yaml}");
    }

    #[test]
    fn renders_the_protocol_to_the_upstream_and_trailers() {
        let mut bootstrap = Bootstrap::new(Path::new("/x/authz.wasm"), "{}", "127.0.0.1:8081".parse().unwrap());
        let yaml = bootstrap.render();
        assert!(yaml.contains("explicit_http_config: {http_protocol_options: {enable_trailers: false}}\n"), "{yaml}");
        assert!(yaml.contains("\n          http_protocol_options: {enable_trailers: false}\n"), "{yaml}");
        bootstrap.http1_trailers = true;
        let yaml = bootstrap.render();
        assert!(yaml.contains("explicit_http_config: {http_protocol_options: {enable_trailers: true}}\n"), "{yaml}");
        assert!(yaml.contains("\n          http_protocol_options: {enable_trailers: true}\n"), "{yaml}");
        bootstrap.upstream_http2 = true;
        let yaml = bootstrap.render();
        assert!(yaml.contains("explicit_http_config: {http2_protocol_options: {}}\n"), "{yaml}");
    }

    #[test]
    fn the_lds_shape_moves_the_listener_into_a_resource() {
        let bootstrap = Bootstrap::new(Path::new("/x/authz.wasm"), "{}", "127.0.0.1:8081".parse().unwrap());
        let yaml = bootstrap.render_with_lds(Path::new("/tmp/lds.yaml"));
        assert!(yaml.contains("path_config_source: {path: \"/tmp/lds.yaml\"}"), "{yaml}");
        assert!(!yaml.contains("listeners:"), "{yaml}");
        let lds = bootstrap.lds_resources();
        assert!(
            lds.starts_with(
                "resources:\n- \"@type\": type.googleapis.com/envoy.config.listener.v3.Listener\n  name: authz\n"
            ),
            "{lds}"
        );
        assert_eq!(lds.matches("\"@type\": type.googleapis.com/envoy.config.listener.v3.Listener").count(), 1, "{lds}");
    }
}
