//! Named connections: what `connect` got, one file per profile in the user's configuration folder,
//! with mode 0600.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedConnection {
    /// The service's base address.
    pub url: String,
    /// The authorization server's base address (the service itself unless --authority).
    #[serde(default)]
    pub authority: Option<String>,
    /// The tenant's id or domain as given at sign-in.
    pub tenant: String,
    pub username: Option<String>,
    /// The client the tokens were issued to.
    #[serde(default)]
    pub client_id: Option<String>,
    pub access_token: String,
    /// Unix time at which the access token expires.
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl CachedConnection {
    pub fn authority(&self) -> &str {
        self.authority.as_deref().unwrap_or(&self.url)
    }
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

/// A profile name is a file name: letters, digits, '-' and '_'.
pub fn check_profile(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    anyhow::ensure!(
        ok,
        "'{name}' is not a profile name: use letters, digits, '-' and '_'"
    );
    Ok(())
}

pub fn profile_path(profile: &str) -> anyhow::Result<PathBuf> {
    check_profile(profile)?;
    Ok(config_dir()?
        .join("profiles")
        .join(format!("{profile}.json")))
}

pub fn load(profile: &str) -> anyhow::Result<Option<CachedConnection>> {
    let path = profile_path(profile)?;
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(serde_json::from_str(&text).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

pub fn save(profile: &str, conn: &CachedConnection) -> anyhow::Result<PathBuf> {
    let path = profile_path(profile)?;
    let dir = path.parent().expect("the cache file has a folder");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Write a private temporary file and rename it, so the cache is never half written nor readable
    // by others, even for a moment.
    let tmp = dir.join(format!(".{profile}.json.tmp"));
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

/// Forgets a profile; answers whether there was one.
pub fn clear(profile: &str) -> anyhow::Result<bool> {
    let path = profile_path(profile)?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
}
