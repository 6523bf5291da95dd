//! The rustls client configuration: bundled web roots, the scenario's extra CA, or (on request)
//! no verification at all.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{self, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_rustls::TlsConnector;

use crate::plan::TlsPlan;

use super::EngineError;

/// Builds the connector shared by every https connection of one engine thread.
pub(crate) fn connector(tls: &TlsPlan) -> Result<TlsConnector, EngineError> {
    let provider = Arc::new(crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| EngineError::Tls(e.to_string()))?;
    let mut config = if tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(tls.ca_pem.as_deref())?)
            .with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

fn roots(ca_pem: Option<&str>) -> Result<RootCertStore, EngineError> {
    let mut store = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = ca_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| EngineError::Tls(format!("tls.ca_file: {e}")))?;
            store
                .add(cert)
                .map_err(|e| EngineError::Tls(format!("tls.ca_file: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(EngineError::Tls(
                "tls.ca_file holds no PEM certificate".to_string(),
            ));
        }
    }
    Ok(store)
}

/// A handshake failure in words, with what to do for the usual certificate problems (rustls's
/// own text names enum variants such as `CaUsedAsEndEntity`).
pub(crate) fn failure_words(e: &std::io::Error) -> String {
    let text = e.to_string();
    let hint = if text.contains("CaUsedAsEndEntity") {
        "the server presents a CA certificate (CA:TRUE) as its own certificate; give the CA that          signed the server's certificate as `tls.ca_file` (not a CA:TRUE leaf), or set          `tls.insecure: true` for a test target"
    } else if text.contains("UnknownIssuer") {
        "the server's certificate is signed by a CA that is not trusted: give that CA as          `tls.ca_file`, or set `tls.insecure: true` for a test target"
    } else if text.contains("NotValidForName") {
        "the server's certificate is not valid for the host in the URL: use the name it was          issued for"
    } else if text.contains("Expired") {
        "the server's certificate has expired"
    } else if text.contains("NotValidYet") {
        "the server's certificate is not valid yet (check the clocks)"
    } else {
        return text;
    };
    format!("certificate refused: {hint}")
}

/// `tls.insecure: true`. DANGER: any certificate is accepted, so anyone on the path can pose as the
/// target and read the traffic (credentials included). It exists for test environments with
/// self-signed certificates whose CA is not at hand; `tls.ca_file` is the safe way. Handshake
/// signatures are still checked, so the session at least belongs to the certificate presented.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
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
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_ca_is_an_error_not_a_panic() {
        let plan = TlsPlan {
            ca_pem: Some("not a certificate".to_string()),
            insecure: false,
        };
        assert!(matches!(connector(&plan), Err(EngineError::Tls(_))));
    }

    #[test]
    fn default_and_insecure_configs_build() {
        assert!(connector(&TlsPlan::default()).is_ok());
        let insecure = TlsPlan {
            ca_pem: None,
            insecure: true,
        };
        assert!(connector(&insecure).is_ok());
    }
}
