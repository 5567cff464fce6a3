//! etcd's integrity check of a snapshot, in Rust: a snapshot is the bbolt database followed by
//! the SHA-256 of the database's bytes (the database is whole pages, so the file size is 32
//! more than a multiple of 512 — how etcd itself tells a snapshot from a copied database).
//! The hash is computed while the bytes stream in, keeping only the last 32 bytes aside.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::BackupError;

/// What the trailer says about a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    /// The trailer matches; `sha256` is the hash of the whole file (for records).
    Intact { size: u64, sha256: String },
    /// The trailer does not match the contents.
    Mismatch { size: u64 },
    /// The size says there is no trailer (a copied database, or a truncated file).
    NoHash { size: u64 },
}

/// Hashes a snapshot as it streams: the body for etcd's check, the whole file for records.
pub struct SnapshotHasher {
    body: Sha256,
    whole: Sha256,
    tail: Vec<u8>,
    size: u64,
}

impl Default for SnapshotHasher {
    fn default() -> Self {
        SnapshotHasher {
            body: Sha256::new(),
            whole: Sha256::new(),
            tail: Vec::with_capacity(64),
            size: 0,
        }
    }
}

const HASH_LEN: usize = 32;

impl SnapshotHasher {
    pub fn update(&mut self, chunk: &[u8]) {
        self.whole.update(chunk);
        self.size += chunk.len() as u64;
        if chunk.len() >= HASH_LEN {
            // Everything held back so far is body now; the chunk's last 32 bytes are held back.
            self.body.update(&self.tail);
            let (body, tail) = chunk.split_at(chunk.len() - HASH_LEN);
            self.body.update(body);
            self.tail.clear();
            self.tail.extend_from_slice(tail);
        } else {
            self.tail.extend_from_slice(chunk);
            if self.tail.len() > HASH_LEN {
                let spill = self.tail.len() - HASH_LEN;
                self.body.update(&self.tail[..spill]);
                self.tail.drain(..spill);
            }
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn finish(self) -> Integrity {
        let size = self.size;
        if size < HASH_LEN as u64 || size % 512 != HASH_LEN as u64 {
            return Integrity::NoHash { size };
        }
        if self.body.finalize().as_slice() == self.tail.as_slice() {
            Integrity::Intact {
                size,
                sha256: hex(&self.whole.finalize()),
            }
        } else {
            Integrity::Mismatch { size }
        }
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a snapshot file on disk (read in blocks, never whole).
pub fn check_file(path: &Path) -> Result<Integrity, BackupError> {
    let mut file = std::fs::File::open(path).map_err(BackupError::io("open", path))?;
    let mut hasher = SnapshotHasher::default();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(BackupError::io("read", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher.finish())
}

/// Turns a verdict into the error a command reports, unless the hash check is skipped.
pub(crate) fn require_intact(
    path: &Path,
    integrity: &Integrity,
    skip_hash_check: bool,
) -> Result<(), BackupError> {
    match integrity {
        Integrity::Intact { .. } => Ok(()),
        Integrity::NoHash { .. } if skip_hash_check => Ok(()),
        Integrity::NoHash { .. } => Err(BackupError::NoHash {
            path: path.to_path_buf(),
        }),
        Integrity::Mismatch { size } => Err(BackupError::Corrupt {
            path: path.to_path_buf(),
            detail: format!(
                "its SHA-256 trailer does not match the {} bytes before it",
                size - HASH_LEN as u64
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up "snapshot": `pages` pages of a pattern, then their SHA-256.
    fn snapshot(pages: usize) -> Vec<u8> {
        let body: Vec<u8> = (0..pages * 4096).map(|i| (i % 251) as u8).collect();
        let mut file = body.clone();
        file.extend_from_slice(&Sha256::digest(&body));
        file
    }

    fn verdict_in_chunks(data: &[u8], chunk: usize) -> Integrity {
        let mut hasher = SnapshotHasher::default();
        for piece in data.chunks(chunk) {
            hasher.update(piece);
        }
        hasher.finish()
    }

    #[test]
    fn an_intact_snapshot_passes_whatever_the_chunk_sizes() {
        let data = snapshot(5);
        let whole = hex(&Sha256::digest(&data));
        for chunk in [1, 7, 31, 32, 33, 4096, 65536, data.len()] {
            assert_eq!(
                verdict_in_chunks(&data, chunk),
                Integrity::Intact {
                    size: data.len() as u64,
                    sha256: whole.clone()
                },
                "chunk size {chunk}"
            );
        }
    }

    #[test]
    fn one_flipped_byte_anywhere_is_a_mismatch() {
        let data = snapshot(3);
        for at in [0, 4095, data.len() - 33, data.len() - 32, data.len() - 1] {
            let mut bad = data.clone();
            bad[at] ^= 0x01;
            assert_eq!(
                verdict_in_chunks(&bad, 1000),
                Integrity::Mismatch {
                    size: data.len() as u64
                },
                "byte {at}"
            );
        }
    }

    #[test]
    fn a_truncated_snapshot_or_a_bare_database_has_no_hash() {
        let data = snapshot(2);
        assert_eq!(
            verdict_in_chunks(&data[..data.len() - 1], 100),
            Integrity::NoHash {
                size: data.len() as u64 - 1
            }
        );
        assert_eq!(
            verdict_in_chunks(&data[..8192], 100),
            Integrity::NoHash { size: 8192 }
        );
        assert_eq!(verdict_in_chunks(&[], 1), Integrity::NoHash { size: 0 });
    }

    #[test]
    fn skipping_the_check_accepts_a_bare_database_but_never_a_mismatch() {
        let path = Path::new("x.snapshot");
        assert!(require_intact(path, &Integrity::NoHash { size: 8192 }, true).is_ok());
        assert!(matches!(
            require_intact(path, &Integrity::NoHash { size: 8192 }, false),
            Err(BackupError::NoHash { .. })
        ));
        assert!(matches!(
            require_intact(path, &Integrity::Mismatch { size: 8224 }, true),
            Err(BackupError::Corrupt { .. })
        ));
    }
}
