//! TLS for the harness: a self-signed certificate made for one run (rcgen), and a client that trusts exactly that
//! certificate (rustls with ring), so that requests reach Envoy's TLS listener with no files and no system roots.

use crate::error::{Error, Result};
use crate::http::{self, Request, Response};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::net::SocketAddr;
use std::sync::Arc;

/// The name the certificate is for, and the one the client asks for.
pub const SERVER_NAME: &str = "localhost";

fn tls_error(what: &str) -> impl FnOnce(String) -> Error + '_ {
    move |detail| Error::Tls { what: format!("{what}: {detail}") }
}

/// A certificate and its private key, PEM, for Envoy; and a client configuration that trusts only it.
pub struct TestCertificate {
    certificate_pem: String,
    private_key_pem: String,
    client: Arc<ClientConfig>,
}

impl std::fmt::Debug for TestCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCertificate").field("certificate_pem", &self.certificate_pem).finish_non_exhaustive()
    }
}

impl TestCertificate {
    /// A new ECDSA P-256 key and a self-signed certificate for `localhost` and 127.0.0.1.
    pub fn generate() -> Result<Self> {
        let names = vec![SERVER_NAME.to_owned(), "127.0.0.1".to_owned()];
        let certified = rcgen::generate_simple_self_signed(names)
            .map_err(|err| tls_error("make a certificate")(err.to_string()))?;
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::clone(certified.cert.der()))
            .map_err(|err| tls_error("trust the certificate")(err.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| tls_error("configure the client")(err.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            certificate_pem: certified.cert.pem(),
            private_key_pem: certified.signing_key.serialize_pem(),
            client: Arc::new(client),
        })
    }

    /// The certificate, PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The private key, PEM (PKCS#8).
    pub fn private_key_pem(&self) -> &str {
        &self.private_key_pem
    }

    /// Sends `request` to `addr` over TLS (verifying the server holds this certificate) and reads the response.
    pub fn send(&self, addr: SocketAddr, request: &Request) -> Result<Response> {
        let name = ServerName::try_from(SERVER_NAME).map_err(|err| tls_error("server name")(err.to_string()))?;
        let connection = ClientConnection::new(Arc::clone(&self.client), name)
            .map_err(|err| tls_error("start a TLS session")(err.to_string()))?;
        let tcp = http::connect(addr)?;
        let mut stream = StreamOwned::new(connection, tcp);
        http::exchange(&mut stream, addr, request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makes_a_pem_certificate_and_key() {
        let certificate = TestCertificate::generate().unwrap();
        assert!(certificate.certificate_pem().starts_with("-----BEGIN CERTIFICATE-----\n"), "{certificate:?}");
        assert!(certificate.private_key_pem().starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(!format!("{certificate:?}").contains("PRIVATE KEY"), "Debug must not print the key");
    }
}
