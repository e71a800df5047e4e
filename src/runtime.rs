//! The tokio runtime of the commands that need one (the receiver, the dashboard, the demo).

/// A multi-threaded runtime with IO and timers. HTTP clients made on it find TLS ready.
pub fn build() -> std::io::Result<tokio::runtime::Runtime> {
    install_tls();
    tokio::runtime::Builder::new_multi_thread().enable_all().build()
}

/// Makes rustls' ring provider the process's default, which HTTP clients (reqwest is built
/// without a provider of its own) need before they are built. Installing it again is harmless.
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
