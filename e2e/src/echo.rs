//! The upstream behind Envoy: answers every request with the request it received, as JSON, so tests see exactly
//! what reached the upstream (identity headers, rewritten path). The JSON is the body and, hex-encoded, the
//! `x-echo` header, which survives where a body cannot (HEAD). Listens on 127.0.0.1 only.

use crate::error::{Error, Result};
use crate::http::{decode_chunked, parse_head, Head};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// An idle upstream connection is closed after this long (Envoy reconnects as needed).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A running echo server; stops on drop.
pub struct EchoServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What the upstream received, decoded from an echo response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echoed {
    pub method: String,
    pub target: String,
    /// Header names in lower case, in order.
    pub headers: Vec<(String, String)>,
}

impl Echoed {
    /// Reads the `x-echo` header of an echo response; `None` if it is not one.
    pub fn from_header(value: &str) -> Option<Self> {
        Self::parse(&from_hex(value)?)
    }

    /// Reads an echo body; `None` if it is not one.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        let headers = value
            .get("headers")?
            .as_array()?
            .iter()
            .map(|pair| Some((pair.get(0)?.as_str()?.to_owned(), pair.get(1)?.as_str()?.to_owned())))
            .collect::<Option<Vec<_>>>()?;
        Some(Self { method: text("method")?, target: text("target")?, headers })
    }

    /// Every value of header `name` (lower case).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).collect()
    }
}

impl EchoServer {
    /// Binds 127.0.0.1 on a free port and serves until dropped.
    pub fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(Error::io("bind the echo upstream"))?;
        let addr = listener.local_addr().map_err(Error::io("read the echo upstream address"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("echo-upstream".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        // Each connection is served until the peer closes it; Envoy keeps upstream connections
                        // alive, so a thread each keeps one slow connection from holding up the others.
                        let _ = std::thread::Builder::new().name("echo-connection".into()).spawn(move || serve(stream));
                    }
                }
            })
            .map_err(Error::io("start the echo upstream thread"))?;
        Ok(Self { addr, stop, thread: Some(thread) })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves requests on one connection until it closes or fails.
fn serve(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match next_request(&buffer) {
            Ok(Some((head, consumed))) => {
                buffer.drain(..consumed.min(buffer.len()));
                let response = echo_response(&head);
                if stream.write_all(&response).is_err() || head.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close")) {
                    return;
                }
                continue;
            }
            Ok(None) => {}
            Err(_) => {
                let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                return;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(read) => buffer.extend_from_slice(chunk.get(..read).unwrap_or_default()),
        }
    }
}

/// A whole request at the front of `buffer`, and how many bytes it took.
fn next_request(buffer: &[u8]) -> Result<Option<(Head, usize)>> {
    let Some(head) = parse_head(buffer)? else {
        return Ok(None);
    };
    let rest = buffer.get(head.body_at..).unwrap_or_default();
    let body_len = match head.body_length()? {
        Some(len) if rest.len() >= len => len,
        Some(_) => return Ok(None),
        None => match decode_chunked(rest)? {
            Some((_, consumed)) => consumed,
            None => return Ok(None),
        },
    };
    let consumed = head.body_at + body_len;
    Ok(Some((head, consumed)))
}

fn echo_response(head: &Head) -> Vec<u8> {
    let mut parts = head.start.split(' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let headers: Vec<Value> = head.headers.iter().map(|(name, value)| json!([name, value])).collect();
    let echo = json!({"method": method, "target": target, "headers": headers}).to_string();
    let body = if method.eq_ignore_ascii_case("HEAD") { "" } else { echo.as_str() };
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-echo: {}\r\ncontent-length: {}\r\n\r\n{body}",
        to_hex(echo.as_bytes()),
        echo.len()
    )
    .into_bytes()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).ok().and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{send, Request};

    #[test]
    fn echoes_method_target_and_headers() {
        let server = EchoServer::start().unwrap();
        let response = send(server.addr(), &Request::new("DELETE", "/a/../b?x=1").header("X-Authz-Sub", "me")).unwrap();
        assert_eq!(response.status, 200);
        let echoed = Echoed::parse(&response.body).unwrap();
        assert_eq!(Echoed::from_header(response.header("x-echo").unwrap()), Some(echoed.clone()));
        assert_eq!(echoed.method, "DELETE");
        assert_eq!(echoed.target, "/a/../b?x=1");
        assert_eq!(echoed.header_values("x-authz-sub"), ["me"]);
    }

    #[test]
    fn head_requests_are_echoed_in_the_header() {
        let server = EchoServer::start().unwrap();
        let response = send(server.addr(), &Request::new("HEAD", "/h")).unwrap();
        assert!(response.body.is_empty());
        assert_eq!(Echoed::from_header(response.header("x-echo").unwrap()).unwrap().target, "/h");
    }
}
