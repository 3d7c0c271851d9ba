//! The pseudonymisation key: generation, storage with owner-only permissions, loading.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The environment variable that may hold the key as 64 hex digits, for schedulers that
/// inject secrets through the environment.
pub const KEY_ENV: &str = "BORDERFLOW_KEY";

/// Key length in bytes.
const KEY_LEN: usize = 32;

/// Why a key could not be made, stored or loaded. Messages name the file, never the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No key file at the path.
    #[error("key file {path} does not exist; create one with `borderflow keygen {path}`")]
    Missing {
        /// The key file.
        path: String,
    },
    /// The key path is a directory or another non-file.
    #[error(
        "key file {path} is not a file (a directory?); name the file `borderflow keygen` wrote"
    )]
    NotAFile {
        /// The path.
        path: String,
    },
    /// The key file is readable or writable by group or others.
    #[error(
        "key file {path} is accessible to group or others (mode {mode:03o}); run `chmod 600 {path}`"
    )]
    Permissions {
        /// The key file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// The file or variable does not hold a 32-byte key.
    #[error("{source_name} does not hold a 32-byte key (expected 32 raw bytes or 64 hex digits)")]
    Malformed {
        /// The key file or variable, as named in the message.
        source_name: String,
    },
    /// `keygen` would overwrite an existing file.
    #[error(
        "key file {path} already exists; refusing to overwrite a key (pseudonyms made with it would become unlinkable)"
    )]
    Exists {
        /// The key file.
        path: String,
    },
    /// The variable named for the key is not set.
    #[error("environment variable {var} is not set; set it to 64 hex digits or use a key file")]
    EnvMissing {
        /// The variable.
        var: String,
    },
    /// An I/O error on the key file.
    #[error("key file {}: {source}", path.display())]
    Io {
        /// The key file.
        path: std::path::PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The operating system's random source failed.
    #[error("cannot draw a key from the operating system's random source: {0}")]
    Random(String),
}

/// A short public identifier of a key: the first 8 bytes of SHA-256 over a domain tag and the
/// key, in hex. Recorded in the presence store and manifests so that runs with different keys
/// never mix pseudonyms; it reveals nothing usable about the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyFingerprint([u8; 8]);

impl fmt::Display for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyFingerprint({self})")
    }
}

/// The secret 32-byte pseudonymisation key. Zeroized on drop; never printed.
pub struct PseudonymKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PseudonymKey(fingerprint {})", self.fingerprint())
    }
}

impl PseudonymKey {
    /// Draws a fresh key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(bytes.as_mut()).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self { bytes })
    }

    /// A key from known bytes (tests and synthetic worlds only; real keys come from
    /// [`generate`](Self::generate)).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self {
            bytes: Zeroizing::new(bytes),
        }
    }

    /// Writes the key as 32 raw bytes to a new file with mode 0600. Refuses to overwrite.
    pub fn write_new(&self, path: &Path) -> Result<(), KeyError> {
        use std::os::unix::fs::OpenOptionsExt;
        let name = path.display().to_string();
        let io = |source: std::io::Error| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    KeyError::Exists { path: name.clone() }
                } else {
                    io(e)
                }
            })?;
        let written = file
            .write_all(self.bytes.as_ref())
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            drop(file);
            let _ = fs::remove_file(path);
            return Err(io(e));
        }
        Ok(())
    }

    /// Reads a key file, refusing one that group or others can access.
    pub fn load_file(path: &Path) -> Result<Self, KeyError> {
        use std::os::unix::fs::PermissionsExt;
        let name = path.display().to_string();
        let meta = fs::metadata(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                KeyError::Missing { path: name.clone() }
            } else {
                KeyError::Io {
                    path: path.to_path_buf(),
                    source: e,
                }
            }
        })?;
        if !meta.is_file() {
            return Err(KeyError::NotAFile { path: name });
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions { path: name, mode });
        }
        let content = Zeroizing::new(fs::read(path).map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?);
        Self::decode(&content).ok_or(KeyError::Malformed {
            source_name: format!("key file {name}"),
        })
    }

    /// Reads the key from an environment variable holding 64 hex digits.
    pub fn load_env(var: &str) -> Result<Self, KeyError> {
        let value = Zeroizing::new(std::env::var(var).map_err(|_| KeyError::EnvMissing {
            var: var.to_string(),
        })?);
        Self::decode(value.as_bytes()).ok_or(KeyError::Malformed {
            source_name: format!("environment variable {var}"),
        })
    }

    /// 32 raw bytes, or 64 hex digits with optional surrounding whitespace.
    fn decode(content: &[u8]) -> Option<Self> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        if content.len() == KEY_LEN {
            bytes.copy_from_slice(content);
            return Some(Self { bytes });
        }
        let text = std::str::from_utf8(content).ok()?.trim();
        hex::decode_to_slice(text, bytes.as_mut()).ok()?;
        Some(Self { bytes })
    }

    /// The key's public fingerprint.
    pub fn fingerprint(&self) -> KeyFingerprint {
        let mut h = Sha256::new();
        h.update(b"borderflow/key-fingerprint/v1/");
        h.update(self.bytes.as_ref());
        let digest = h.finalize();
        let mut fp = [0u8; 8];
        fp.copy_from_slice(&digest[..8]);
        KeyFingerprint(fp)
    }

    pub(crate) fn secret(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl borderflow_core::FailureKind for KeyError {
    /// The key is part of a run's configuration: missing, exposed, malformed or not set.
    fn failure(&self) -> borderflow_core::Failure {
        use borderflow_core::Failure;
        match self {
            KeyError::Random(_) => Failure::Internal,
            _ => Failure::Config,
        }
    }
}
