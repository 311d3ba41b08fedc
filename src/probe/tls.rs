//! The TLS side of https probes: a rustls client (ring provider) per probe, made on the probe's
//! first check, so a daemon without https probes never runs (or pages in) any of this.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::config::Trust;

/// The client for one probe's trust settings.
pub fn client_config(trust: &Trust) -> Result<Arc<ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = match trust {
        Trust::Default => builder
            .with_root_certificates(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
            .with_no_client_auth(),
        Trust::CaFile { certs, .. } => {
            let mut roots = RootCertStore::empty();
            for cert in certs {
                roots.add(cert.clone())?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::Unverified => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth(),
    };
    // Every check is a full handshake that verifies the certificate, as a new client would see
    // it: a resumed session would skip that (an expired or replaced certificate would go
    // unnoticed), and no session cache stays in memory.
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// The server name to verify and to send as SNI (rustls sends none for an IP address).
pub fn server_name(name: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(name)
        .map(|n| n.to_owned())
        .map_err(|_| format!("{name:?} is neither a DNS name nor an IP address"))
}

/// What to do about the certificate errors an operator of a local endpoint meets most, as a
/// suffix for the error. Matched on the text: webpki's error type is behind rustls' `Other`.
pub fn hint(error: &str) -> &'static str {
    if error.contains("CaUsedAsEndEntity") {
        " (the certificate is marked CA:TRUE, so it cannot be the server's own; reissue it with \
         basicConstraints CA:FALSE, or set tls_verify: false)"
    } else if error.contains("UnknownIssuer") {
        " (set ca_file to the issuer's certificate, or tls_verify: false)"
    } else {
        ""
    }
}

/// `tls_verify: false`: accepts any certificate chain for any name, but still checks that the
/// server signed the handshake with the key of the certificate it sent (so the connection is
/// at least what a self-signed endpoint offers: encrypted, not authenticated).
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
