//! The server's token signing keys: Ed25519 (JWS `EdDSA`), created at first start and kept in the
//! database, so that every node sharing it signs and verifies with the same keys. Rotation adds a
//! new key that signs from then on; the old one keeps verifying the tokens it signed.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use store::{SigningKey, Store};

pub struct KeyEntry {
    pub kid: String,
    /// The public key, base64url (the JWK `x`).
    pub x: String,
    pub created_at: String,
    encoding: EncodingKey,
    pub decoding: DecodingKey,
}

pub struct KeySet {
    keys: RwLock<Arc<Vec<KeyEntry>>>,
    last_reload: RwLock<Instant>,
}

fn new_key() -> anyhow::Result<SigningKey> {
    let rng = SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("could not generate a signing key"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| anyhow::anyhow!("generated signing key is not valid"))?;
    Ok(SigningKey {
        kid: uuid::Uuid::new_v4().simple().to_string(),
        algorithm: "EdDSA".into(),
        private_key: pkcs8.as_ref().to_vec(),
        public_key: pair.public_key().as_ref().to_vec(),
        created_at: store::timestamp(chrono::Utc::now()),
    })
}

fn entries(stored: Vec<SigningKey>) -> anyhow::Result<Vec<KeyEntry>> {
    anyhow::ensure!(!stored.is_empty(), "the database holds no signing key");
    stored
        .into_iter()
        .map(|k| {
            let x = URL_SAFE_NO_PAD.encode(&k.public_key);
            Ok(KeyEntry {
                decoding: DecodingKey::from_ed_components(&x)?,
                encoding: EncodingKey::from_ed_der(&k.private_key),
                kid: k.kid,
                created_at: k.created_at,
                x,
            })
        })
        .collect()
}

impl KeySet {
    /// Loads the keys, creating the first one if the database has none.
    pub async fn load_or_create(store: &dyn Store) -> anyhow::Result<KeySet> {
        let stored = store.ensure_signing_key(new_key()?).await?;
        Ok(KeySet {
            keys: RwLock::new(Arc::new(entries(stored)?)),
            last_reload: RwLock::new(Instant::now()),
        })
    }

    fn current(&self) -> Arc<Vec<KeyEntry>> {
        Arc::clone(&self.keys.read().expect("key lock"))
    }

    /// Re-reads the keys from the database (another node may have rotated them).
    pub async fn reload(&self, store: &dyn Store) -> anyhow::Result<()> {
        let fresh = entries(store.signing_keys().await?)?;
        *self.keys.write().expect("key lock") = Arc::new(fresh);
        *self.last_reload.write().expect("key lock") = Instant::now();
        Ok(())
    }

    /// Reloads when a token names a key we do not know, at most once every few seconds, so that a
    /// flood of forged `kid`s cannot turn into a flood of database reads.
    pub async fn reload_for_unknown_kid(&self, store: &dyn Store) {
        let due = self.last_reload.read().expect("key lock").elapsed() > Duration::from_secs(5);
        if due {
            if let Err(e) = self.reload(store).await {
                tracing::warn!(error = %e, "reloading signing keys failed");
            }
        }
    }

    /// Adds a new signing key; keys retired longer ago than `keep_retired_secs` are dropped.
    pub async fn rotate(&self, store: &dyn Store, keep_retired_secs: i64) -> anyhow::Result<()> {
        let now = chrono::Utc::now().timestamp();
        store
            .rotate_signing_key(new_key()?, now, now - keep_retired_secs)
            .await?;
        self.reload(store).await
    }

    pub fn sign<T: serde::Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        let keys = self.current();
        let key = keys.last().expect("at least one key");
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &key.encoding)?)
    }

    pub fn decoding_key(&self, kid: &str) -> Option<DecodingKey> {
        self.current()
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| k.decoding.clone())
    }

    /// The public keys, oldest first, for the JWKS document.
    pub fn public_keys(&self) -> Vec<(String, String, String)> {
        self.current()
            .iter()
            .map(|k| (k.kid.clone(), k.x.clone(), k.created_at.clone()))
            .collect()
    }
}
