//! The server's token signing keys: Ed25519 (JWS `EdDSA`), created at first start and kept in the
//! database, so that every node sharing it signs and verifies with the same keys.

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
    encoding: EncodingKey,
    decoding: DecodingKey,
}

pub struct KeySet {
    keys: Vec<KeyEntry>,
}

impl KeySet {
    /// Loads the keys, creating the first one if the database has none.
    pub async fn load_or_create(store: &dyn Store) -> anyhow::Result<KeySet> {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| anyhow::anyhow!("could not generate a signing key"))?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|_| anyhow::anyhow!("generated signing key is not valid"))?;
        let candidate = SigningKey {
            kid: uuid::Uuid::new_v4().simple().to_string(),
            algorithm: "EdDSA".into(),
            private_key: pkcs8.as_ref().to_vec(),
            public_key: pair.public_key().as_ref().to_vec(),
            created_at: store::timestamp(chrono::Utc::now()),
        };
        let stored = store.ensure_signing_key(candidate).await?;
        let keys = stored
            .into_iter()
            .map(|k| {
                let x = URL_SAFE_NO_PAD.encode(&k.public_key);
                Ok(KeyEntry {
                    decoding: DecodingKey::from_ed_components(&x)?,
                    encoding: EncodingKey::from_ed_der(&k.private_key),
                    kid: k.kid,
                    x,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(!keys.is_empty(), "the database holds no signing key");
        Ok(KeySet { keys })
    }

    pub fn sign<T: serde::Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        let key = self.keys.last().expect("at least one key");
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &key.encoding)?)
    }

    pub fn decoding_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.iter().find(|k| k.kid == kid).map(|k| &k.decoding)
    }

    pub fn entries(&self) -> &[KeyEntry] {
        &self.keys
    }
}
