//! Content-addressed media: a file's key is the SHA-256 of its bytes,
//! `ab/cd/abcd…(64 hex).png`, so the same screenshot stored twice is one
//! object, a key never changes meaning, and a key can be checked before it
//! touches a path (the web route serving files parses it with
//! [`MediaKey::parse`]).
//!
//! Backends (through `object_store`): a local directory (default; writes
//! go to a temporary file that is renamed into place, so a reader never
//! sees half a file) or an S3-compatible bucket (a single PUT, atomic on
//! the server). A put first asks whether the key exists and skips the
//! upload when it does; a concurrent duplicate put writes the same bytes.

use std::{fmt, sync::Arc};

use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions, PutPayload, aws::AmazonS3Builder,
    local::LocalFileSystem, path::Path as StorePath,
};
use sha2::{Digest, Sha256};

use super::settings::MediaStoreConfig;

/// What a stored file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// A full screenshot.
    Png,
    /// A thumbnail.
    Jpeg,
}

impl MediaKind {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            MediaKind::Png => "png",
            MediaKind::Jpeg => "jpg",
        }
    }

    /// The `Content-Type` to serve it with.
    pub fn content_type(self) -> &'static str {
        match self {
            MediaKind::Png => "image/png",
            MediaKind::Jpeg => "image/jpeg",
        }
    }

    fn from_extension(ext: &str) -> Option<Self> {
        match ext {
            "png" => Some(MediaKind::Png),
            "jpg" => Some(MediaKind::Jpeg),
            _ => None,
        }
    }
}

/// A valid media key: `ab/cd/<64 hex>.<png|jpg>`, relative to the store's
/// root (and prefix).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaKey {
    sha256: String,
    kind: MediaKind,
}

impl MediaKey {
    /// The key of `bytes` stored as `kind`.
    pub fn of(bytes: &[u8], kind: MediaKind) -> Self {
        Self {
            sha256: hex::encode(Sha256::digest(bytes)),
            kind,
        }
    }

    /// Parse a key from outside (a URL path): anything but the exact shape
    /// (lower-case hex, matching shard folders, a known extension) is
    /// refused, so a key can never name another file.
    pub fn parse(key: &str) -> Result<Self, StoreError> {
        let invalid = || StoreError::InvalidKey(key.chars().take(120).collect());
        let mut parts = key.split('/');
        let (Some(a), Some(b), Some(file), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let (hash, ext) = file.rsplit_once('.').ok_or_else(invalid)?;
        let kind = MediaKind::from_extension(ext).ok_or_else(invalid)?;
        let hex_lower = |s: &str| {
            s.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        };
        if hash.len() != 64 || !hex_lower(hash) || a != &hash[..2] || b != &hash[2..4] {
            return Err(invalid());
        }
        Ok(Self {
            sha256: hash.to_owned(),
            kind,
        })
    }

    /// The SHA-256 of the content, hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// PNG or JPEG.
    pub fn kind(&self) -> MediaKind {
        self.kind
    }
}

impl fmt::Display for MediaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}.{}",
            &self.sha256[..2],
            &self.sha256[2..4],
            self.sha256,
            self.kind.extension()
        )
    }
}

/// A stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its key (stable, relative).
    pub key: MediaKey,
    /// Its size.
    pub bytes: u64,
    /// False when the key already existed and nothing was written.
    pub created: bool,
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Not a media key.
    #[error("`{0}` is not a media key (ab/cd/<sha256>.png|jpg)")]
    InvalidKey(String),
    /// No file under that key.
    #[error("no media stored under {0}")]
    NotFound(String),
    /// The backend could not be set up from its configuration.
    #[error("the media store is misconfigured: {0}")]
    Config(String),
    /// The backend failed (I/O, network, permissions).
    #[error("the media store failed on {key}: {source}")]
    Backend {
        /// The key involved.
        key: String,
        /// What the backend said.
        #[source]
        source: object_store::Error,
    },
}

/// Where screenshots and thumbnails live.
#[derive(Clone)]
pub struct MediaStore {
    backend: Arc<dyn ObjectStore>,
    prefix: String,
    /// S3 takes a `Content-Type`; the local backend takes no attributes.
    content_types: bool,
    description: String,
}

impl fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaStore")
            .field("at", &self.description)
            .finish()
    }
}

impl MediaStore {
    /// The backend the configuration names.
    pub fn from_config(config: &MediaStoreConfig) -> Result<Self, StoreError> {
        match config {
            MediaStoreConfig::Local { dir } => Self::local(dir),
            MediaStoreConfig::S3 {
                bucket,
                region,
                endpoint,
                prefix,
                allow_http,
                path_style,
            } => {
                if bucket.trim().is_empty() {
                    return Err(StoreError::Config("the S3 bucket name is empty".to_owned()));
                }
                let mut builder = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .with_region(region)
                    .with_allow_http(*allow_http)
                    .with_virtual_hosted_style_request(!path_style);
                if let Some(endpoint) = endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                let backend = builder.build().map_err(|e| StoreError::Config(e.to_string()))?;
                Ok(Self {
                    backend: Arc::new(backend),
                    prefix: normalise_prefix(prefix)?,
                    content_types: true,
                    description: format!(
                        "s3://{bucket}/{prefix} ({})",
                        endpoint.as_deref().unwrap_or("AWS")
                    ),
                })
            }
        }
    }

    /// Files under `dir` (created when missing).
    pub fn local(dir: &std::path::Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Config(format!("cannot create {}: {e}", dir.display())))?;
        let backend = LocalFileSystem::new_with_prefix(dir).map_err(|e| StoreError::Config(e.to_string()))?;
        Ok(Self {
            backend: Arc::new(backend),
            prefix: String::new(),
            content_types: false,
            description: dir.display().to_string(),
        })
    }

    /// The backend path of `key`.
    pub fn location(&self, key: &MediaKey) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Store `bytes`; idempotent (the same bytes give the same key and are
    /// written once).
    pub async fn put(&self, bytes: &[u8], kind: MediaKind) -> Result<Stored, StoreError> {
        let key = MediaKey::of(bytes, kind);
        let location = StorePath::from(self.location(&key));
        let size = bytes.len() as u64;
        match self.backend.head(&location).await {
            Ok(meta) if meta.size == size => {
                return Ok(Stored {
                    key,
                    bytes: size,
                    created: false,
                });
            }
            // Missing, or a truncated object from elsewhere: write it.
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(source) => {
                return Err(StoreError::Backend {
                    key: key.to_string(),
                    source,
                });
            }
        }
        let mut options = PutOptions::default();
        if self.content_types {
            let mut attributes = Attributes::new();
            attributes.insert(Attribute::ContentType, kind.content_type().into());
            attributes.insert(
                Attribute::CacheControl,
                "public, max-age=31536000, immutable".into(),
            );
            options.attributes = attributes;
        }
        self.backend
            .put_opts(&location, PutPayload::from(bytes.to_vec()), options)
            .await
            .map_err(|source| StoreError::Backend {
                key: key.to_string(),
                source,
            })?;
        Ok(Stored {
            key,
            bytes: size,
            created: true,
        })
    }

    /// The bytes under `key`.
    pub async fn get(&self, key: &MediaKey) -> Result<Vec<u8>, StoreError> {
        let location = StorePath::from(self.location(key));
        let result = match self.backend.get(&location).await {
            Ok(result) => result,
            Err(object_store::Error::NotFound { .. }) => return Err(StoreError::NotFound(key.to_string())),
            Err(source) => {
                return Err(StoreError::Backend {
                    key: key.to_string(),
                    source,
                });
            }
        };
        let bytes = result.bytes().await.map_err(|source| StoreError::Backend {
            key: key.to_string(),
            source,
        })?;
        Ok(bytes.to_vec())
    }
}

/// `""` or `a/b/` (no leading slash, no `..`, ends with `/`).
fn normalise_prefix(prefix: &str) -> Result<String, StoreError> {
    let trimmed = prefix.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(StoreError::Config(format!(
            "the S3 prefix `{prefix}` is not a plain folder path"
        )));
    }
    Ok(format!("{trimmed}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sharded_sha256_with_an_extension_and_parse_back() {
        let key = MediaKey::of(b"hello", MediaKind::Png);
        let text = key.to_string();
        assert_eq!(
            text,
            "2c/f2/2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824.png"
        );
        assert_eq!(MediaKey::parse(&text).unwrap(), key);
        assert_eq!(
            MediaKey::of(b"hello", MediaKind::Jpeg)
                .to_string()
                .rsplit_once('.')
                .unwrap()
                .1,
            "jpg"
        );
    }

    #[test]
    fn anything_but_a_media_key_is_refused() {
        let good = MediaKey::of(b"x", MediaKind::Png).to_string();
        for bad in [
            "../../etc/passwd",
            "2c/f2/../../x.png",
            &good.replace(".png", ".exe"),
            &good.to_uppercase(),
            &format!("/{good}"),
            &format!("zz/{}", &good[3..]),
            &good[..good.len() - 8],
            "",
        ] {
            assert!(
                matches!(MediaKey::parse(bad), Err(StoreError::InvalidKey(_))),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn the_local_store_writes_once_and_reads_back() {
        // Arrange
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::local(&dir.path().join("media")).unwrap();

        // Act
        let first = store.put(b"png bytes", MediaKind::Png).await.unwrap();
        let again = store.put(b"png bytes", MediaKind::Png).await.unwrap();

        // Assert
        assert!(first.created);
        assert!(!again.created);
        assert_eq!(first.key, again.key);
        let path = dir.path().join("media").join(first.key.to_string());
        assert_eq!(std::fs::read(&path).unwrap(), b"png bytes");
        assert_eq!(store.get(&first.key).await.unwrap(), b"png bytes");
        // No temporary files are left beside it.
        let siblings: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(siblings.len(), 1);
        let missing = MediaKey::of(b"never stored", MediaKind::Jpeg);
        assert!(matches!(store.get(&missing).await, Err(StoreError::NotFound(_))));
    }

    #[tokio::test]
    async fn concurrent_puts_of_the_same_bytes_leave_one_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = MediaStore::local(dir.path()).unwrap();
        let bytes = vec![7u8; 2 * 1024 * 1024];
        let puts = (0..8).map(|_| store.put(&bytes, MediaKind::Png));
        let results = futures::future::join_all(puts).await;
        let keys: std::collections::HashSet<_> = results.into_iter().map(|r| r.unwrap().key).collect();
        assert_eq!(keys.len(), 1);
        let key = keys.into_iter().next().unwrap();
        assert_eq!(store.get(&key).await.unwrap(), bytes);
    }

    #[test]
    fn the_s3_backend_is_built_from_its_configuration() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config: MediaStoreConfig = serde_json::from_value(serde_json::json!({
            "kind": "s3", "bucket": "shots", "endpoint": "http://127.0.0.1:9000",
            "allow_http": true, "prefix": "/screenshots/",
        }))
        .unwrap();
        let store = MediaStore::from_config(&config).unwrap();
        let key = MediaKey::of(b"x", MediaKind::Png);
        assert_eq!(store.location(&key), format!("screenshots/{key}"));
        assert!(format!("{store:?}").contains("s3://shots/"));

        for (bad, needle) in [
            (
                serde_json::json!({"kind": "s3", "bucket": " "}),
                "bucket name is empty",
            ),
            (
                serde_json::json!({"kind": "s3", "bucket": "b", "prefix": "a/../b"}),
                "not a plain folder",
            ),
        ] {
            let config: MediaStoreConfig = serde_json::from_value(bad).unwrap();
            let error = MediaStore::from_config(&config).unwrap_err();
            assert!(error.to_string().contains(needle), "{error}");
        }
    }
}
