//! The server's own TLS (`serve --tls-cert FILE --tls-key FILE`), so people and agents reach it
//! over https with no proxy in front.
//!
//! rustls with the *ring* provider, as the clients use. The certificate chain and key are read
//! at start (a file that is missing or not PEM stops the server, naming it) and again on
//! SIGHUP: a renewed certificate is served to new connections without a restart, and one that
//! does not load is logged while the old one stays in use.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Where the server's certificate chain and key are.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why the certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("--tls-cert \"{path}\" is not a PEM certificate chain: {reason}")]
    Cert { path: PathBuf, reason: String },
    #[error("--tls-key \"{path}\" is not a PEM private key: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("the certificate of \"{cert}\" and the key of \"{key}\" do not make a TLS configuration: {reason}")]
    Config { cert: PathBuf, key: PathBuf, reason: String },
}

fn load(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let cert_error = |reason: String| TlsError::Cert { path: files.cert.clone(), reason };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| cert_error(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| cert_error(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_error("no \"BEGIN CERTIFICATE\" block in it".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| TlsError::Key { path: files.key.clone(), reason: e.to_string() })?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|e| TlsError::Config { cert: files.cert.clone(), key: files.key.clone(), reason: e.to_string() })?;
    Ok(Arc::new(config))
}

/// The configuration new connections are accepted with; replaced on reload.
#[derive(Clone)]
pub struct Tls {
    files: TlsFiles,
    current: Arc<RwLock<Arc<rustls::ServerConfig>>>,
}

impl Tls {
    /// Loads `files`.
    ///
    /// # Errors
    /// The file that is missing, not PEM, or whose key does not match the certificate.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let config = load(&files)?;
        Ok(Self { files, current: Arc::new(RwLock::new(config)) })
    }

    /// An acceptor for the next connection.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let config = self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        tokio_rustls::TlsAcceptor::from(config)
    }

    /// Loads the files again; on an error the configuration in use stays.
    ///
    /// # Errors
    /// Why the files did not load.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = load(&self.files)?;
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = config;
        Ok(())
    }

    /// The certificate file, for what the server says about itself.
    #[must_use]
    pub fn cert_path(&self) -> &Path {
        &self.files.cert
    }
}

/// Reloads `tls` on every SIGHUP until the process ends.
pub fn reload_on_hangup(tls: Tls) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else { return };
        while hangups.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!(cert = %tls.cert_path().display(), "reloaded the TLS certificate"),
                Err(e) => tracing::error!(error = %e, "the TLS certificate did not reload; the old one stays in use"),
            }
        }
    });
}
