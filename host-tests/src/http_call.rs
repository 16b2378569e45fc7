//! `proxy_http_call` over real HTTP/1.1 to loopback: the clusters a test names ([`crate::FilterHost::set_cluster`])
//! map to `127.0.0.1` addresses, and a call to one of them is made for real after the callback that started it,
//! its answer delivered with `proxy_on_http_call_response` as Envoy delivers it (the response headers as map 6, the
//! body as buffer 4; a failed call with no headers and no body).
//!
//! Simplified: one request per connection (`connection: close`), plain HTTP only (a cluster's TLS is Envoy's
//! business, not the filter's), answers read whole; the call's timeout bounds connecting, writing and reading.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::headers::HeaderMap;

/// Cluster name → loopback address, shared by every VM of one host.
#[derive(Default)]
pub(crate) struct Clusters(Mutex<HashMap<Vec<u8>, SocketAddr>>);

impl Clusters {
    pub(crate) fn set(&self, name: &str, addr: SocketAddr) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(name.as_bytes().to_vec(), addr);
    }

    /// `None` when no cluster was ever named (calls are then recorded and never answered, as before); `Some(None)`
    /// for an unknown cluster, which Envoy refuses with `BAD_ARGUMENT`.
    pub(crate) fn resolve(&self, name: &[u8]) -> Option<Option<SocketAddr>> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.is_empty() {
            return None;
        }
        Some(map.get(name).copied())
    }
}

/// A call the guest started, to be made after its callback.
#[derive(Debug, Clone)]
pub(crate) struct PendingCall {
    pub(crate) token: u32,
    /// The root context the answer goes to (Envoy's `root_context()` of the caller).
    pub(crate) root: u32,
    pub(crate) addr: SocketAddr,
    pub(crate) headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
    pub(crate) timeout: Duration,
}

/// An answer as the guest reads it during `proxy_on_http_call_response`.
#[derive(Debug, Clone, Default)]
pub(crate) struct CallResponse {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// Makes the call; a connection failure, a timeout or an unreadable answer is an answer with no headers, as Envoy
/// reports a failed call.
pub(crate) fn perform(call: &PendingCall) -> CallResponse {
    request(call).unwrap_or_default()
}

fn request(call: &PendingCall) -> Option<CallResponse> {
    let deadline = Instant::now() + call.timeout;
    let mut stream = TcpStream::connect_timeout(&call.addr, call.timeout).ok()?;
    let get = |name: &[u8]| call.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let mut head = Vec::new();
    head.extend_from_slice(&get(b":method"));
    head.push(b' ');
    head.extend_from_slice(&get(b":path"));
    head.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    head.extend_from_slice(&get(b":authority"));
    head.extend_from_slice(b"\r\n");
    for (name, value) in &call.headers {
        if !name.starts_with(b":") && name != b"host" && name != b"connection" && name != b"content-length" {
            head.extend_from_slice(name);
            head.extend_from_slice(b": ");
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        }
    }
    head.extend_from_slice(format!("content-length: {}\r\nconnection: close\r\n\r\n", call.body.len()).as_bytes());
    stream.set_write_timeout(Some(call.timeout)).ok()?;
    stream.write_all(&head).ok()?;
    stream.write_all(&call.body).ok()?;
    let mut answer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        stream.set_read_timeout(Some(left.max(Duration::from_millis(1)))).ok()?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(chunk.get(..n)?),
            Err(_) => return None,
        }
    }
    parse(&answer)
}

/// An HTTP/1.1 answer read to the end of the connection: status, headers, and the body (de-chunked).
fn parse(answer: &[u8]) -> Option<CallResponse> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(answer.get(..end)?).ok()?;
    let mut body = answer.get(end + 4..)?.to_vec();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.to_owned();
    let mut headers = HeaderMap::default();
    headers.add(b":status", status.as_bytes());
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "transfer-encoding" && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
        if name == "content-length" {
            length = value.parse::<usize>().ok();
        }
        headers.add(name.as_bytes(), value.as_bytes());
    }
    if chunked {
        body = dechunk(&body)?;
    } else if let Some(length) = length {
        body.truncate(length);
    }
    Some(CallResponse { headers, body })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(data.get(..line_end)?).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = data.get(line_end + 2..)?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn answers_are_read_with_length_or_chunks() {
        let plain = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").unwrap();
        assert_eq!((plain.headers.get(b":status"), plain.body.as_slice()), (Some(&b"200"[..]), &b"{}"[..]));
        let chunked =
            parse(b"HTTP/1.1 503 No\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!((chunked.headers.get(b":status"), chunked.body.as_slice()), (Some(&b"503"[..]), &b"abcde"[..]));
        assert!(parse(b"HTTP/1.1 200 OK\r\n").is_none());
    }

    #[test]
    fn a_refused_connection_is_an_answer_without_headers() {
        // A port nothing listens on: bind one, note it, close it.
        let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let call = PendingCall {
            token: 1,
            root: 1,
            addr,
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_millis(200),
        };
        let answer = perform(&call);
        assert!(answer.headers.len() == 0 && answer.body.is_empty());
    }
}
