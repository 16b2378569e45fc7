//! A minimal HTTP/1.1 client and message parser over std's `TcpStream` (HTTP/2 is in `h2.rs`).
//!
//! The request target is written byte for byte: ordinary clients normalise paths (`/a/../b`, `%2F`), which
//! would hide exactly the spellings the filter has to judge. One request per connection (`connection: close`), or
//! many on one [`Connection`] (keep-alive, for benchmarks).

use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long one exchange may take before the harness gives up.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// One request to send.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// The request target, sent as is (`/pets/1?x=y`).
    pub target: String,
    /// Headers in order; repeated names are sent as repeated lines.
    pub headers: Vec<(String, String)>,
    /// The body (none by default).
    pub body: Vec<u8>,
    /// Trailer fields: over HTTP/1.1 the body is then sent chunked, with these after the last chunk.
    pub trailers: Vec<(String, String)>,
}

impl Request {
    /// A request with no headers.
    pub fn new(method: &str, target: &str) -> Self {
        Self { method: method.to_owned(), target: target.to_owned(), ..Self::default() }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a trailer field.
    pub fn trailer(mut self, name: &str, value: &str) -> Self {
        self.trailers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }

    fn to_bytes(&self) -> Vec<u8> {
        self.to_bytes_with("close")
    }

    /// The message, with `connection: {connection}`.
    fn to_bytes_with(&self, connection: &str) -> Vec<u8> {
        let mut text = format!("{} {} HTTP/1.1\r\nhost: authz.test\r\n", self.method, self.target);
        for (name, value) in &self.headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        if self.trailers.is_empty() {
            text.push_str(&format!("content-length: {}\r\nconnection: {connection}\r\n\r\n", self.body.len()));
            let mut bytes = text.into_bytes();
            bytes.extend_from_slice(&self.body);
            return bytes;
        }
        // RFC 9112 §7.1: the body in one chunk, the last chunk, then the trailer section.
        text.push_str(&format!("transfer-encoding: chunked\r\nconnection: {connection}\r\n\r\n"));
        let mut bytes = text.into_bytes();
        if !self.body.is_empty() {
            bytes.extend_from_slice(format!("{:x}\r\n", self.body.len()).as_bytes());
            bytes.extend_from_slice(&self.body);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"0\r\n");
        for (name, value) in &self.trailers {
            bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        bytes
    }
}

/// A response as received.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Trailer fields (names in lower case), when the response had any.
    pub trailers: Vec<(String, String)>,
}

impl Response {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` to `addr` and reads the whole response.
///
/// The response is read up to its announced end, not to EOF: after `connection: close` Envoy waits for the client
/// to close first (`delayed_close_timeout`, 1 s), so waiting for EOF would cost a second a request.
pub fn send(addr: SocketAddr, request: &Request) -> Result<Response> {
    let mut stream = connect(addr)?;
    exchange(&mut stream, addr, request)
}

/// A TCP connection to `addr` with the exchange timeouts set.
pub(crate) fn connect(addr: SocketAddr) -> Result<TcpStream> {
    let stream =
        TcpStream::connect_timeout(&addr, EXCHANGE_TIMEOUT).map_err(Error::io(format!("connect to {addr}")))?;
    stream.set_read_timeout(Some(EXCHANGE_TIMEOUT)).map_err(Error::io("set a read timeout"))?;
    stream.set_write_timeout(Some(EXCHANGE_TIMEOUT)).map_err(Error::io("set a write timeout"))?;
    Ok(stream)
}

/// Writes `request` on `stream` (plain or TLS) and reads one response.
pub(crate) fn exchange(stream: &mut (impl Read + Write), addr: SocketAddr, request: &Request) -> Result<Response> {
    stream.write_all(&request.to_bytes()).map_err(Error::io(format!("send to {addr}")))?;
    stream.flush().map_err(Error::io(format!("send to {addr}")))?;
    let mut bytes = Vec::new();
    read_response(stream, addr, request, &mut bytes)
}

/// Reads one response to `request` from `stream` into `bytes` (which may hold the start of it already) and
/// removes it from there.
fn read_response(stream: &mut impl Read, addr: SocketAddr, request: &Request, bytes: &mut Vec<u8>) -> Result<Response> {
    let head_request = request.method.eq_ignore_ascii_case("HEAD");
    let mut chunk = [0u8; 8192];
    loop {
        if let Some((response, length)) = complete_response(bytes, head_request)? {
            bytes.drain(..length.min(bytes.len()));
            return Ok(response);
        }
        let read = stream.read(&mut chunk).map_err(Error::io(format!("read from {addr}")))?;
        if read == 0 {
            let response = parse_response(bytes, head_request)?;
            bytes.clear();
            return Ok(response);
        }
        bytes.extend_from_slice(chunk.get(..read).unwrap_or_default());
    }
}

/// One HTTP/1.1 connection kept open from request to request (`connection: keep-alive`), as clients under load
/// use: what a request costs then excludes the TCP handshake.
pub struct Connection {
    stream: TcpStream,
    addr: SocketAddr,
    /// Bytes read past the last response (none, as long as the server answers one request at a time).
    buffer: Vec<u8>,
}

impl Connection {
    /// Connects to `addr`.
    pub fn open(addr: SocketAddr) -> Result<Self> {
        let stream = connect(addr)?;
        // Requests are small and sent whole: waiting to coalesce them would only add latency.
        stream.set_nodelay(true).map_err(Error::io("set TCP_NODELAY"))?;
        Ok(Self { stream, addr, buffer: Vec::new() })
    }

    /// Sends `request` and reads its response; the connection stays open unless the server closes it.
    pub fn send(&mut self, request: &Request) -> Result<Response> {
        let addr = self.addr;
        self.stream.write_all(&request.to_bytes_with("keep-alive")).map_err(Error::io(format!("send to {addr}")))?;
        read_response(&mut self.stream, addr, request, &mut self.buffer)
    }
}

/// The response in `bytes` and the bytes it takes, if it is whole by its own framing; `None` if more must be read
/// (or it ends at EOF).
fn complete_response(bytes: &[u8], head_request: bool) -> Result<Option<(Response, usize)>> {
    let Some(head) = parse_head(bytes)? else {
        return Ok(None);
    };
    let rest = bytes.get(head.body_at..).unwrap_or_default();
    let body_bytes = if head_request {
        Some(0)
    } else {
        match head.body_length_if_framed()? {
            Some(Some(len)) => (rest.len() >= len).then_some(len),
            Some(None) => decode_chunked(rest)?.map(|(_, consumed)| consumed),
            None => None,
        }
    };
    match body_bytes {
        Some(body_bytes) => Ok(Some((parse_response(bytes, head_request)?, head.body_at + body_bytes))),
        None => Ok(None),
    }
}

/// The start line and headers of a message, and where its body starts.
#[derive(Debug)]
pub(crate) struct Head {
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub body_at: usize,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// How the body ends: `Some(Some(len))`, `Some(None)` for chunked, `None` at EOF (no framing header).
    pub fn body_length_if_framed(&self) -> Result<Option<Option<usize>>> {
        if self.header("transfer-encoding").is_none() && self.header("content-length").is_none() {
            return Ok(None);
        }
        self.body_length().map(Some)
    }

    /// The body length the headers announce: `Some(len)`, or `None` for chunked; no header means none.
    pub fn body_length(&self) -> Result<Option<usize>> {
        if self.header("transfer-encoding").is_some_and(|te| te.eq_ignore_ascii_case("chunked")) {
            return Ok(None);
        }
        match self.header("content-length") {
            None => Ok(Some(0)),
            Some(len) => {
                len.trim().parse().map(Some).map_err(|_| Error::Http { what: format!("bad content-length `{len}`") })
            }
        }
    }
}

/// Parses a start line and headers, if `bytes` holds them whole.
pub(crate) fn parse_head(bytes: &[u8]) -> Result<Option<Head>> {
    let Some(end) = bytes.windows(4).position(|window| window == b"\r\n\r\n") else {
        return Ok(None);
    };
    let text = std::str::from_utf8(bytes.get(..end).unwrap_or_default())
        .map_err(|_| Error::Http { what: "message head is not UTF-8".into() })?;
    let mut lines = text.split("\r\n");
    let start = lines.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) =
            line.split_once(':').ok_or_else(|| Error::Http { what: format!("bad header line `{line}`") })?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Some(Head { start, headers, body_at: end + 4 }))
}

/// Decodes a chunked body: the body and the bytes it took, or `None` while incomplete (trailers are skipped).
pub(crate) fn decode_chunked(bytes: &[u8]) -> Result<Option<(Vec<u8>, usize)>> {
    Ok(decode_chunked_with_trailers(bytes)?.map(|chunked| (chunked.body, chunked.consumed)))
}

/// Header or trailer fields, names in lower case, in order.
pub(crate) type Fields = Vec<(String, String)>;

/// A whole chunked body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Chunked {
    pub body: Vec<u8>,
    /// The trailer section's fields, names in lower case.
    pub trailers: Vec<(String, String)>,
    /// The bytes the body and its trailer section took.
    pub consumed: usize,
}

/// Decodes a chunked body and its trailer section (RFC 9112 §7.1), or `None` while incomplete.
pub(crate) fn decode_chunked_with_trailers(bytes: &[u8]) -> Result<Option<Chunked>> {
    let mut body = Vec::new();
    let mut at = 0usize;
    loop {
        let rest = bytes.get(at..).unwrap_or_default();
        let Some(line_end) = rest.windows(2).position(|window| window == b"\r\n") else {
            return Ok(None);
        };
        let size_text = String::from_utf8_lossy(rest.get(..line_end).unwrap_or_default()).into_owned();
        let size_hex = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| Error::Http { what: format!("bad chunk size `{size_text}`") })?;
        let data_at = at + line_end + 2;
        if size == 0 {
            return trailer_section(bytes, data_at)
                .map(|section| section.map(|(trailers, consumed)| Chunked { body, trailers, consumed }));
        }
        // The chunk's data and its CRLF.
        let next = data_at
            .checked_add(size)
            .and_then(|end| end.checked_add(2))
            .ok_or_else(|| Error::Http { what: format!("chunk size `{size_text}` overflows") })?;
        let Some(chunk) = bytes.get(data_at..next - 2) else {
            return Ok(None);
        };
        if bytes.len() < next {
            return Ok(None);
        }
        body.extend_from_slice(chunk);
        at = next;
    }
}

/// The trailer fields from `at` up to and including the empty line that ends them, and where that section ends.
fn trailer_section(bytes: &[u8], mut at: usize) -> Result<Option<(Fields, usize)>> {
    let mut trailers = Vec::new();
    loop {
        let rest = bytes.get(at..).unwrap_or_default();
        let Some(line_end) = rest.windows(2).position(|window| window == b"\r\n") else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(rest.get(..line_end).unwrap_or_default()).into_owned();
        at += line_end + 2;
        if line.is_empty() {
            return Ok(Some((trailers, at)));
        }
        let (name, value) =
            line.split_once(':').ok_or_else(|| Error::Http { what: format!("bad trailer line `{line}`") })?;
        trailers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
}

fn parse_response(bytes: &[u8], head_request: bool) -> Result<Response> {
    let head = parse_head(bytes)?.ok_or_else(|| Error::Http {
        what: format!("incomplete response ({} bytes): {:?}", bytes.len(), String::from_utf8_lossy(bytes)),
    })?;
    let status = head
        .start
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| Error::Http { what: format!("bad status line `{}`", head.start) })?;
    let rest = bytes.get(head.body_at..).unwrap_or_default();
    let (body, trailers) = if head_request {
        (Vec::new(), Vec::new())
    } else {
        match head.body_length_if_framed()? {
            Some(Some(len)) => (rest.get(..len).unwrap_or(rest).to_vec(), Vec::new()),
            Some(None) => {
                let chunked = decode_chunked_with_trailers(rest)?
                    .ok_or_else(|| Error::Http { what: "truncated chunked body".into() })?;
                (chunked.body, chunked.trailers)
            }
            None => (rest.to_vec(), Vec::new()),
        }
    };
    Ok(Response { status, headers: head.headers, body, trailers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_response_with_content_length() {
        let response = parse_response(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\ncontent-length: 2\r\n\r\nokjunk",
            false,
        )
        .unwrap();
        assert_eq!(response.status, 401);
        assert_eq!(response.header("www-authenticate"), Some("Bearer"));
        assert_eq!(response.body, b"ok");
    }

    #[test]
    fn decodes_chunked_bodies() {
        let response = parse_response(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(response.text(), "abcde");
        assert_eq!(decode_chunked(b"3\r\nab").unwrap(), None);
        assert_eq!(decode_chunked(b"1\r\na\r\n0\r\n\r\nGET").unwrap(), Some((b"a".to_vec(), 11)));
    }

    #[test]
    fn decodes_trailer_sections() {
        let bytes = b"2\r\nab\r\n0\r\nX-Checksum: 1\r\nx-authz-sub:  root \r\n\r\nnext";
        let chunked = decode_chunked_with_trailers(bytes).unwrap().unwrap();
        assert_eq!(chunked.body, b"ab");
        assert_eq!(
            chunked.trailers,
            [("x-checksum".to_owned(), "1".to_owned()), ("x-authz-sub".to_owned(), "root".to_owned())]
        );
        assert_eq!(chunked.consumed, bytes.len() - 4);
        assert_eq!(decode_chunked_with_trailers(b"0\r\nx-a: 1\r\n").unwrap(), None);
        assert!(decode_chunked_with_trailers(b"0\r\nno colon\r\n\r\n").is_err());
    }

    #[test]
    fn sends_trailers_after_a_chunked_body() {
        let bytes = Request::new("POST", "/t").body(b"hello").trailer("x-authz-sub", "root").to_bytes();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("transfer-encoding: chunked\r\n"), "{text}");
        assert!(!text.contains("content-length"), "{text}");
        assert!(text.ends_with("\r\n\r\n5\r\nhello\r\n0\r\nx-authz-sub: root\r\n\r\n"), "{text}");
        let plain = String::from_utf8(Request::new("POST", "/t").body(b"hi").to_bytes()).unwrap();
        assert!(plain.contains("content-length: 2\r\n") && plain.ends_with("\r\n\r\nhi"), "{plain}");
    }

    #[test]
    fn knows_where_a_response_ends() {
        let two = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 204 No Content\r\n\r\n";
        let (response, length) = complete_response(two, false).unwrap().unwrap();
        assert_eq!((response.status, response.text().as_str(), length), (200, "ok", 40));
        assert_eq!(
            complete_response(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\no", false).unwrap().map(|(_, n)| n),
            None
        );
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\nnext";
        assert_eq!(complete_response(chunked, false).unwrap().map(|(_, n)| n), Some(chunked.len() - 4));
    }

    #[test]
    fn a_connection_keeps_alive_between_requests() {
        let server = crate::echo::EchoServer::start().unwrap();
        let mut connection = Connection::open(server.addr()).unwrap();
        for target in ["/one", "/two", "/three"] {
            let response = connection.send(&Request::new("GET", target)).unwrap();
            let echoed = crate::echo::Echoed::parse(&response.body).unwrap();
            assert_eq!(echoed.target, target);
            assert_eq!(echoed.header_values("connection"), ["keep-alive"]);
        }
    }

    #[test]
    fn keeps_the_target_as_written() {
        let bytes = Request::new("GET", "/a/../b%2F?q").header("X-A", "1").to_bytes();
        assert!(String::from_utf8(bytes).unwrap().starts_with("GET /a/../b%2F?q HTTP/1.1\r\n"));
    }
}
