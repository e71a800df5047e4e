//! The HTTP client every command that talks to a receiver uses (`emit`, `gate wait --server`,
//! the demo's agents, the benchmarks): plain `http://` or `https://` through rustls.
//!
//! TLS is rustls with the *ring* provider, so building shipdeck needs no OpenSSL (nor a C
//! toolchain beyond what SQLite needs). The server's certificate is checked against the
//! system's trusted roots (`rustls-native-certs`; the Mozilla roots of `webpki-roots` when the
//! system has none), or only against the CA bundle given with `--ca-cert`. A certificate that
//! does not verify is refused with rustls' reason: there is no option to skip the check and no
//! fallback to plain HTTP.

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a client could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// `--ca-cert` names a file that is missing, unreadable or holds no PEM certificate.
    #[error("--ca-cert \"{path}\" is not a PEM file of CA certificates: {reason}")]
    CaCert { path: PathBuf, reason: String },
    /// The URL is neither `http://` nor `https://`.
    #[error("\"{0}\" is not an http:// or https:// URL")]
    Scheme(String),
    #[error("cannot set up the HTTP client: {0}")]
    Build(#[from] reqwest::Error),
}

/// Whether `url` is one a client can talk to (`http://` or `https://`).
pub fn check_url(url: &str) -> Result<(), ClientError> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Ok(())
    } else {
        Err(ClientError::Scheme(url.to_owned()))
    }
}

/// A client builder for receivers: TLS through rustls, trusting `ca_cert` (a PEM bundle) when
/// given, else the system's roots.
pub fn builder(ca_cert: Option<&Path>) -> Result<reqwest::ClientBuilder, ClientError> {
    let roots = match ca_cert {
        Some(path) => roots_from_pem(path)?,
        None => system_roots(),
    };
    // Also the process default, so no reqwest client of this process is left without one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::CaCert { path: PathBuf::new(), reason: e.to_string() })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(reqwest::Client::builder().tls_backend_preconfigured(tls))
}

/// [`builder`], built.
pub fn client(ca_cert: Option<&Path>) -> Result<reqwest::Client, ClientError> {
    Ok(builder(ca_cert)?.build()?)
}

/// The CA certificates of a PEM file; an error when it has none or is not PEM.
fn roots_from_pem(path: &Path) -> Result<RootCertStore, ClientError> {
    let bad = |reason: String| ClientError::CaCert { path: path.to_owned(), reason };
    let text = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&text).collect::<Result<_, _>>().map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no \"BEGIN CERTIFICATE\" block in it".into()));
    }
    let mut roots = RootCertStore::empty();
    for (n, cert) in certs.into_iter().enumerate() {
        roots.add(cert).map_err(|e| bad(format!("certificate {}: {e}", n + 1)))?;
    }
    Ok(roots)
}

/// The system's trusted roots, or the Mozilla roots when the system offers none.
fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    roots
}

/// The reason a request failed in the TLS handshake (a certificate that does not verify, a
/// server that does not speak TLS), or `None` when it failed otherwise.
#[must_use]
pub fn tls_failure(err: &reqwest::Error) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // rustls' errors reach reqwest wrapped in io::Errors, whose `source` skips the
        // wrapped error itself: look inside.
        cause = match e.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// What a failed request to `server` means for the user: the TLS reason when the handshake
/// failed, "nothing listens" when the connection was refused, else the error.
#[must_use]
pub fn describe(server: &str, err: &reqwest::Error) -> String {
    if let Some(reason) = tls_failure(err) {
        format!("TLS with {server} failed: {reason}")
    } else if err.is_connect() {
        format!("nothing listens at {server} (is `shipdeck serve` running there?)")
    } else {
        format!("cannot reach {server}: {err}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_are_accepted() {
        assert!(check_url("http://127.0.0.1:7480").is_ok());
        assert!(check_url("HTTPS://deploy-host").is_ok());
        let e = check_url("ftp://deploy-host").expect_err("ftp is refused").to_string();
        assert!(e.contains("\"ftp://deploy-host\""), "{e}");
    }

    #[test]
    fn a_ca_cert_that_is_not_pem_is_refused_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.txt");
        std::fs::write(&path, "just some words\n").expect("writes");
        let e = builder(Some(&path)).expect_err("not PEM").to_string();
        assert!(e.contains(&format!("\"{}\"", path.display())) && e.contains("no \"BEGIN CERTIFICATE\""), "{e}");
        let missing = dir.path().join("missing.pem");
        let e = builder(Some(&missing)).expect_err("missing").to_string();
        assert!(e.contains("missing.pem"), "{e}");
    }
}
