//! The token cache: what `connect` got, kept in the user's configuration folder with mode 0600.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedConnection {
    /// The service's base address.
    pub url: String,
    /// The tenant's id or domain as given at sign-in.
    pub tenant: String,
    pub username: Option<String>,
    pub access_token: String,
    /// Unix time at which the access token expires.
    pub expires_at: i64,
}

/// `MSCOMMERCE_CONFIG_DIR`, or the platform's configuration folder (`~/.config/mscommerce`).
pub fn config_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("MSCOMMERCE_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    dirs::config_dir()
        .map(|d| d.join("mscommerce"))
        .context("cannot find a configuration folder; set MSCOMMERCE_CONFIG_DIR")
}

fn cache_path() -> anyhow::Result<PathBuf> {
    Ok(config_dir()?.join("connection.json"))
}

pub fn load() -> anyhow::Result<Option<CachedConnection>> {
    let path = cache_path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(serde_json::from_str(&text).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

pub fn save(conn: &CachedConnection) -> anyhow::Result<PathBuf> {
    let path = cache_path()?;
    let dir = path.parent().expect("the cache file has a folder");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Write a private temporary file and rename it, so the cache is never half written nor readable
    // by others, even for a moment.
    let tmp = dir.join(".connection.json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(serde_json::to_string_pretty(conn)?.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Forgets the cached tokens; answers whether there were any.
pub fn clear() -> anyhow::Result<bool> {
    let path = cache_path()?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}
