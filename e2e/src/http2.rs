//! HTTP/2 without TLS (prior knowledge, RFC 9113 §3.3) for the harness: a client that sends a request with its
//! body and trailers and reads the whole response, trailers included; and the serving side the echo upstream
//! uses when Envoy talks HTTP/2 to it. The `h2` crate does the framing and HPACK; a current-thread tokio runtime
//! per connection drives it, so callers stay synchronous like the rest of the harness.

use crate::error::{Error, Result};
use crate::http::{Request, Response, EXCHANGE_TIMEOUT};
use bytes::Bytes;
use std::net::SocketAddr;

/// What a request carried, as the upstream received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Received {
    pub method: String,
    pub target: String,
    /// Header names in lower case, in order (no pseudo-headers).
    pub headers: Vec<(String, String)>,
    /// Trailer fields, names in lower case.
    pub trailers: Vec<(String, String)>,
}

/// A response to send: headers (besides `:status`, always 200) and body.
pub(crate) type Answer = (Vec<(String, String)>, Vec<u8>);

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(Error::io("start a tokio runtime"))
}

fn h2_error(what: &'static str) -> impl FnOnce(h2::Error) -> Error {
    move |err| Error::Http { what: format!("HTTP/2 {what}: {err}") }
}

fn pairs(map: &::http::HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect()
}

fn header_map(fields: &[(String, String)]) -> Result<::http::HeaderMap> {
    let mut map = ::http::HeaderMap::new();
    for (name, value) in fields {
        let bad = |what: &str| Error::Http { what: format!("{what} `{name}: {value}`") };
        let name = ::http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("bad field name in"))?;
        let value = ::http::HeaderValue::from_str(value).map_err(|_| bad("bad field value in"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// Sends `request` to `addr` over HTTP/2 and reads the whole response. The request's body and trailers are sent
/// as DATA and a final HEADERS frame; its target is the `:path`, `:authority` is `authz.test`.
pub fn send(addr: SocketAddr, request: &Request) -> Result<Response> {
    runtime()?.block_on(async {
        match tokio::time::timeout(EXCHANGE_TIMEOUT, exchange(addr, request)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Http { what: format!("no HTTP/2 response from {addr} within {EXCHANGE_TIMEOUT:?}") }),
        }
    })
}

async fn exchange(addr: SocketAddr, request: &Request) -> Result<Response> {
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(Error::io(format!("connect to {addr}")))?;
    let (client, connection) = h2::client::handshake(tcp).await.map_err(h2_error("handshake"))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.map_err(h2_error("connection"))?;
    let mut head = ::http::Request::builder()
        .method(request.method.as_str())
        .uri(format!("http://authz.test{}", request.target))
        .body(())
        .map_err(|err| Error::Http { what: format!("bad request `{} {}`: {err}", request.method, request.target) })?;
    *head.headers_mut() = header_map(&request.headers)?;
    let ends_with_headers = request.body.is_empty() && request.trailers.is_empty();
    let (response, mut stream) = client.send_request(head, ends_with_headers).map_err(h2_error("request"))?;
    if !request.body.is_empty() {
        stream
            .send_data(Bytes::from(request.body.clone()), request.trailers.is_empty())
            .map_err(h2_error("request body"))?;
    }
    if !request.trailers.is_empty() {
        stream.send_trailers(header_map(&request.trailers)?).map_err(h2_error("request trailers"))?;
    }
    let (parts, mut body) = response.await.map_err(h2_error("response"))?.into_parts();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(h2_error("response body"))?;
        let _ = body.flow_control().release_capacity(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    let trailers =
        body.trailers().await.map_err(h2_error("response trailers"))?.map(|map| pairs(&map)).unwrap_or_default();
    drop(client);
    driver.abort();
    Ok(Response { status: parts.status.as_u16(), headers: pairs(&parts.headers), body: bytes, trailers })
}

/// Serves one HTTP/2 connection until the peer closes it, answering each request with `answer` (status 200).
/// Requests are read whole (body and trailers) before they are answered.
pub(crate) fn serve(stream: std::net::TcpStream, answer: fn(&Received) -> Answer) {
    let Ok(runtime) = runtime() else { return };
    runtime.block_on(async move {
        if stream.set_nonblocking(true).is_err() {
            return;
        }
        let Ok(tcp) = tokio::net::TcpStream::from_std(stream) else { return };
        let Ok(mut connection) = h2::server::handshake(tcp).await else { return };
        while let Some(Ok((request, respond))) = connection.accept().await {
            tokio::spawn(async move {
                let _ = respond_to(request, respond, answer).await;
            });
        }
    });
}

async fn respond_to(
    request: ::http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    answer: fn(&Received) -> Answer,
) -> Result<()> {
    let (parts, mut body) = request.into_parts();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(h2_error("request body"))?;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let trailers =
        body.trailers().await.map_err(h2_error("request trailers"))?.map(|map| pairs(&map)).unwrap_or_default();
    let target = parts.uri.path_and_query().map(|target| target.as_str().to_owned()).unwrap_or_default();
    let received = Received { method: parts.method.to_string(), target, headers: pairs(&parts.headers), trailers };
    let (headers, reply) = answer(&received);
    let mut response = ::http::Response::builder()
        .status(200)
        .body(())
        .map_err(|err| Error::Http { what: format!("cannot build a response: {err}") })?;
    *response.headers_mut() = header_map(&headers)?;
    let mut sending = respond.send_response(response, reply.is_empty()).map_err(h2_error("response"))?;
    if !reply.is_empty() {
        sending.send_data(Bytes::from(reply), true).map_err(h2_error("response body"))?;
    }
    Ok(())
}
