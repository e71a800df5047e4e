//! stub
pub fn bench(_db: Option<std::path::PathBuf>) -> anyhow::Result<()> {
    Ok(())
}
