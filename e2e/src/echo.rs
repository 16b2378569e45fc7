//! The upstream behind Envoy: answers every request with the request it received, as JSON, so tests see exactly
//! what reached the upstream (identity headers, rewritten path, trailers). The JSON is the body and, hex-encoded,
//! the `x-echo` header, which survives where a body cannot (HEAD). It speaks HTTP/1.1 and, on connections that
//! open with the HTTP/2 preface, HTTP/2 (a cluster with `http2_protocol_options`). Listens on 127.0.0.1 only.

use crate::error::{Error, Result};
use crate::http::{decode_chunked_with_trailers, parse_head, Fields, Head};
use crate::http2::{self, Answer, Received};
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
    /// Trailer fields received after the body, names in lower case.
    pub trailers: Vec<(String, String)>,
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
        let fields = |name: &str| {
            value
                .get(name)?
                .as_array()?
                .iter()
                .map(|pair| Some((pair.get(0)?.as_str()?.to_owned(), pair.get(1)?.as_str()?.to_owned())))
                .collect::<Option<Vec<_>>>()
        };
        Some(Self {
            method: text("method")?,
            target: text("target")?,
            headers: fields("headers")?,
            trailers: fields("trailers")?,
        })
    }

    /// Every value of header `name` (lower case).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).collect()
    }

    /// Every value of trailer field `name` (lower case).
    pub fn trailer_values(&self, name: &str) -> Vec<&str> {
        self.trailers.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str()).collect()
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

/// How much of a connection's opening is looked at: every HTTP/2 connection starts with `PRI * HTTP/2.0`
/// (RFC 9113 §3.4), and no HTTP/1.1 request line the harness sends starts with `PRI `.
const OPENING: usize = 16;

/// Serves requests on one connection, in the protocol it opens with, until it closes or fails.
fn serve(stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let mut start = [0u8; OPENING];
    let peeked = stream.peek(&mut start).unwrap_or(0);
    if start.get(..peeked).is_some_and(|opening| opening.starts_with(b"PRI ")) {
        http2::serve(stream, answer);
    } else {
        serve_http1(stream);
    }
}

/// Serves HTTP/1.1 requests on one connection until it closes or fails.
fn serve_http1(mut stream: TcpStream) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match next_request(&buffer) {
            Ok(Some((head, trailers, consumed))) => {
                buffer.drain(..consumed.min(buffer.len()));
                let response = echo_response(&head, trailers);
                if stream.write_all(&response).is_err()
                    || head.header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"))
                {
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

/// A whole request at the front of `buffer`, its trailers, and how many bytes it took.
fn next_request(buffer: &[u8]) -> Result<Option<(Head, Fields, usize)>> {
    let Some(head) = parse_head(buffer)? else {
        return Ok(None);
    };
    let rest = buffer.get(head.body_at..).unwrap_or_default();
    let (body_len, trailers) = match head.body_length()? {
        Some(len) if rest.len() >= len => (len, Vec::new()),
        Some(_) => return Ok(None),
        None => match decode_chunked_with_trailers(rest)? {
            Some(chunked) => (chunked.consumed, chunked.trailers),
            None => return Ok(None),
        },
    };
    let consumed = head.body_at + body_len;
    Ok(Some((head, trailers, consumed)))
}

fn echo_response(head: &Head, trailers: Fields) -> Vec<u8> {
    let mut parts = head.start.split(' ');
    let received = Received {
        method: parts.next().unwrap_or_default().to_owned(),
        target: parts.next().unwrap_or_default().to_owned(),
        headers: head.headers.clone(),
        trailers,
    };
    let (headers, body) = answer(&received);
    let mut response = String::from("HTTP/1.1 200 OK\r\n");
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    // HEAD gets the length the body would have had (RFC 9110 §9.3.2).
    let length = if received.method.eq_ignore_ascii_case("HEAD") { echo_json(&received).len() } else { body.len() };
    response.push_str(&format!("content-length: {length}\r\n\r\n"));
    let mut bytes = response.into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

fn echo_json(received: &Received) -> String {
    let fields =
        |pairs: &[(String, String)]| -> Vec<Value> { pairs.iter().map(|(name, value)| json!([name, value])).collect() };
    json!({
        "method": received.method,
        "target": received.target,
        "headers": fields(&received.headers),
        "trailers": fields(&received.trailers),
    })
    .to_string()
}

/// The echo of a request in either protocol: its JSON as the body (none for HEAD) and, hex-encoded, as `x-echo`.
fn answer(received: &Received) -> Answer {
    let echo = echo_json(received);
    let headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("x-echo".to_owned(), to_hex(echo.as_bytes())),
    ];
    let body = if received.method.eq_ignore_ascii_case("HEAD") { Vec::new() } else { echo.into_bytes() };
    (headers, body)
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
    fn echoes_trailers_over_http1_and_http2() {
        let server = EchoServer::start().unwrap();
        let request = Request::new("POST", "/t?x=1")
            .header("x-a", "1")
            .body(b"data")
            .trailer("x-authz-sub", "root")
            .trailer("x-sum", "9");
        for response in [send(server.addr(), &request).unwrap(), crate::http2::send(server.addr(), &request).unwrap()] {
            assert_eq!(response.status, 200);
            let echoed = Echoed::parse(&response.body).unwrap();
            assert_eq!(Echoed::from_header(response.header("x-echo").unwrap()), Some(echoed.clone()));
            assert_eq!((echoed.method.as_str(), echoed.target.as_str()), ("POST", "/t?x=1"));
            assert_eq!(echoed.header_values("x-a"), ["1"]);
            assert_eq!(
                echoed.trailers,
                [("x-authz-sub".to_owned(), "root".to_owned()), ("x-sum".to_owned(), "9".to_owned())]
            );
        }
        let plain = send(server.addr(), &Request::new("GET", "/")).unwrap();
        assert!(Echoed::parse(&plain.body).unwrap().trailers.is_empty());
    }

    #[test]
    fn head_requests_are_echoed_in_the_header() {
        let server = EchoServer::start().unwrap();
        let response = send(server.addr(), &Request::new("HEAD", "/h")).unwrap();
        assert!(response.body.is_empty());
        assert_eq!(Echoed::from_header(response.header("x-echo").unwrap()).unwrap().target, "/h");
    }
}
