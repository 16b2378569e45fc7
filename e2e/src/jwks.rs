//! A JWKS server on 127.0.0.1 for the filter's `remote_jwks`: answers every request with the document (and status)
//! it is told, one request per connection, counts the requests, and stops when dropped.

use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The server; dropping it stops it.
pub struct JwksServer {
    addr: SocketAddr,
    answer: Arc<Mutex<(u16, Vec<u8>)>>,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl JwksServer {
    /// Binds a free port of 127.0.0.1 and answers `status` with `body`.
    pub fn start(status: u16, body: &[u8]) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(Error::io("bind the JWKS server"))?;
        listener.set_nonblocking(true).map_err(Error::io("set the JWKS server non-blocking"))?;
        let addr = listener.local_addr().map_err(Error::io("read the JWKS server address"))?;
        let server = Self {
            addr,
            answer: Arc::new(Mutex::new((status, body.to_vec()))),
            hits: Arc::default(),
            stop: Arc::default(),
        };
        let (answer, hits, stop) = (Arc::clone(&server.answer), Arc::clone(&server.hits), Arc::clone(&server.stop));
        std::thread::Builder::new()
            .name("jwks-server".into())
            .spawn(move || {
                // Polls, so that it notices `stop` without a connection arriving.
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            hits.fetch_add(1, Ordering::SeqCst);
                            let answer = answer.lock().map(|a| a.clone()).unwrap_or((500, Vec::new()));
                            let _ = serve(stream, &answer);
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
            .map_err(Error::io("start the JWKS server thread"))?;
        Ok(server)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers `status` with `body` from now on.
    pub fn set(&self, status: u16, body: &[u8]) {
        if let Ok(mut answer) = self.answer.lock() {
            *answer = (status, body.to_vec());
        }
    }

    /// Requests served so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(mut stream: TcpStream, (status, body): &(u16, Vec<u8>)) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    let reply = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(reply.as_bytes())?;
    stream.write_all(body)
}
