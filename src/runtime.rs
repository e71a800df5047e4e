//! The tokio runtime of the commands that need one (the receiver, the dashboard, the demo).

/// A multi-threaded runtime with IO and timers.
pub fn build() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()
}
