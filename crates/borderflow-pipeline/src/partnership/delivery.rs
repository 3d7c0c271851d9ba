//! An export as it is delivered to the statistics office: a directory, or one archive file
//! (`.tar`, `.tar.gz` or `.tgz`) holding the same three files — what secure file transfer
//! between organisations usually carries.
//!
//! An archive is read in memory and never unpacked to disk: only the three files of an export
//! are taken from it (at its root or in one folder), each a regular file of bounded size, so a
//! crafted archive can write nothing and name no path outside it. Anything else in it is
//! refused, as is a file given twice.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use borderflow_core::WithPath;

use super::PartnershipError;

/// The export's document, in its directory.
pub const EXPORT_FILE: &str = "export.json";
/// SHA-256 (hex) of [`EXPORT_FILE`]'s bytes, beside it: a copy cut or edited in transit is
/// refused.
pub const EXPORT_DIGEST_FILE: &str = "export.sha256";
/// The release's public manifest, copied beside the export.
pub const RELEASE_MANIFEST_FILE: &str = "release-manifest.json";

/// The largest file an export archive may hold: an export of the full code lists is a few
/// MiB; anything far larger is not one.
pub const MAX_EXPORT_FILE_BYTES: u64 = 256 << 20;

/// How an export is packed, from its path's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packing {
    /// A directory of the three files.
    Directory,
    /// A tar archive.
    Tar,
    /// A gzip-compressed tar archive.
    TarGz,
}

impl Packing {
    /// The packing a path names: `.tar.gz` and `.tgz` are gzip tar archives, `.tar` a tar
    /// archive, anything else a directory.
    pub fn of(path: &Path) -> Packing {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Packing::TarGz
        } else if name.ends_with(".tar") {
            Packing::Tar
        } else {
            Packing::Directory
        }
    }
}

/// The three files of one export, read from wherever it was delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFiles {
    /// Where it was read from (a directory or an archive).
    pub source: PathBuf,
    /// `export.json`.
    pub export: Vec<u8>,
    /// `export.sha256`, as written.
    pub digest: String,
    /// `release-manifest.json`.
    pub manifest: Vec<u8>,
}

fn refused(source: &Path, message: String) -> PartnershipError {
    PartnershipError::Export {
        export: source.display().to_string(),
        message,
    }
}

impl ExportFiles {
    /// Reads the export at `path`: a directory, or an archive ([`Packing::of`]).
    pub fn read(path: &Path) -> Result<ExportFiles, PartnershipError> {
        match Packing::of(path) {
            Packing::Directory => {
                let read = |name: &str| {
                    let p = path.join(name);
                    std::fs::read(&p).with_path(&p)
                };
                Ok(ExportFiles {
                    source: path.to_path_buf(),
                    export: read(EXPORT_FILE)?,
                    digest: String::from_utf8_lossy(&read(EXPORT_DIGEST_FILE)?).into_owned(),
                    manifest: read(RELEASE_MANIFEST_FILE)?,
                })
            }
            Packing::Tar => {
                let f = std::fs::File::open(path).with_path(path)?;
                Self::from_tar(path, f)
            }
            Packing::TarGz => {
                let f = std::fs::File::open(path).with_path(path)?;
                Self::from_tar(path, flate2::read::GzDecoder::new(f))
            }
        }
    }

    fn from_tar(source: &Path, r: impl Read) -> Result<ExportFiles, PartnershipError> {
        let bad = |m: String| refused(source, m);
        let unreadable = |e: std::io::Error| bad(format!("not a readable tar archive: {e}"));
        let mut archive = tar::Archive::new(r);
        let (mut export, mut digest, mut manifest) = (None, None, None);
        for entry in archive.entries().map_err(unreadable)? {
            let mut entry = entry.map_err(unreadable)?;
            let kind = entry.header().entry_type();
            let path = entry.path().map_err(unreadable)?.into_owned();
            if kind.is_dir() {
                continue;
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let slot = match name.as_str() {
                EXPORT_FILE => &mut export,
                EXPORT_DIGEST_FILE => &mut digest,
                RELEASE_MANIFEST_FILE => &mut manifest,
                _ => {
                    return Err(bad(format!(
                        "holds {}, which is not part of an export ({EXPORT_FILE}, {EXPORT_DIGEST_FILE}, {RELEASE_MANIFEST_FILE})",
                        path.display()
                    )));
                }
            };
            if !kind.is_file() || path.components().count() > 2 {
                return Err(bad(format!(
                    "{}: not a regular file at the archive's root or in one folder",
                    path.display()
                )));
            }
            if slot.is_some() {
                return Err(bad(format!("holds {name} twice")));
            }
            let size = entry.header().size().map_err(unreadable)?;
            if size > MAX_EXPORT_FILE_BYTES {
                return Err(bad(format!(
                    "{name} is {size} bytes, more than an export holds"
                )));
            }
            let mut bytes = Vec::with_capacity(size as usize);
            entry
                .by_ref()
                .take(MAX_EXPORT_FILE_BYTES)
                .read_to_end(&mut bytes)
                .map_err(unreadable)?;
            *slot = Some(bytes);
        }
        let take = |slot: Option<Vec<u8>>, name: &str| {
            slot.ok_or_else(|| bad(format!("holds no {name}: not a complete export")))
        };
        Ok(ExportFiles {
            source: source.to_path_buf(),
            export: take(export, EXPORT_FILE)?,
            digest: String::from_utf8_lossy(&take(digest, EXPORT_DIGEST_FILE)?).into_owned(),
            manifest: take(manifest, RELEASE_MANIFEST_FILE)?,
        })
    }

    /// Writes the export to `out` as its path's name asks ([`Packing::of`]): a directory of
    /// the three files (the manifest first, the digest last), or one archive written whole
    /// under a temporary name and renamed into place.
    pub fn write(&self, out: &Path) -> Result<(), PartnershipError> {
        let files: [(&str, &[u8]); 3] = [
            (RELEASE_MANIFEST_FILE, &self.manifest),
            (EXPORT_FILE, &self.export),
            (EXPORT_DIGEST_FILE, self.digest.as_bytes()),
        ];
        let packing = Packing::of(out);
        if packing == Packing::Directory {
            std::fs::create_dir_all(out).with_path(out)?;
            for (name, bytes) in files {
                borderflow_core::write_file_atomic(&out.join(name), bytes)?;
            }
            return Ok(());
        }
        let mut tar = tar::Builder::new(Vec::new());
        let mtime = chrono::Utc::now().timestamp().max(0) as u64;
        for (name, bytes) in files {
            let mut h = tar::Header::new_ustar();
            h.set_size(bytes.len() as u64);
            h.set_mode(0o640);
            h.set_mtime(mtime);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            tar.append_data(&mut h, name, bytes).with_path(out)?;
        }
        let archive = tar.into_inner().with_path(out)?;
        let bytes = match packing {
            Packing::TarGz => {
                let mut gz =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                gz.write_all(&archive).with_path(out)?;
                gz.finish().with_path(out)?
            }
            _ => archive,
        };
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_path(parent)?;
        }
        borderflow_core::write_file_atomic(out, &bytes)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> ExportFiles {
        ExportFiles {
            source: PathBuf::new(),
            export: b"{\"format\": \"x\"}".to_vec(),
            digest: "abc\n".into(),
            manifest: b"{}".to_vec(),
        }
    }

    #[test]
    fn an_export_reads_back_the_same_from_a_directory_a_tar_and_a_tar_gz() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["op-a", "op-a.tar", "op-a.tar.gz", "op-a.TGZ"] {
            let path = dir.path().join(name);
            files().write(&path).unwrap();
            let back = ExportFiles::read(&path).unwrap();
            assert_eq!(
                (back.export, back.digest, back.manifest),
                (files().export, files().digest, files().manifest),
                "{name}"
            );
        }
        assert_eq!(Packing::of(Path::new("x/op-a.tgz")), Packing::TarGz);
        assert_eq!(Packing::of(Path::new("x/2025")), Packing::Directory);
    }

    /// One entry of a test archive: its path (written raw), bytes and type.
    type Entry<'a> = (&'a str, &'a [u8], tar::EntryType);

    /// Builds a tar archive of `entries`.
    fn tar_of(entries: &[Entry<'_>]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, bytes, kind) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_entry_type(*kind);
            h.set_mode(0o644);
            // Raw bytes, so that a hostile path (`../x`) reaches the reader as written.
            h.as_gnu_mut().unwrap().name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            b.append(&h, *bytes).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn an_archive_with_anything_but_an_export_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let regular = tar::EntryType::Regular;
        let cases: [(&[Entry<'_>], &str); 5] = [
            (
                &[
                    ("export.json", b"{}", regular),
                    ("export.sha256", b"x", regular),
                ],
                "holds no release-manifest.json",
            ),
            (
                &[("../../etc/cron.d/x", b"x", regular)],
                "is not part of an export",
            ),
            (
                &[("a/b/export.json", b"{}", regular)],
                "not a regular file at the archive's root or in one folder",
            ),
            (
                &[("export.json", b"", tar::EntryType::Symlink)],
                "not a regular file",
            ),
            (
                &[
                    ("export.json", b"{}", regular),
                    ("x/export.json", b"{}", regular),
                ],
                "holds export.json twice",
            ),
        ];
        for (i, (entries, want)) in cases.iter().enumerate() {
            let path = dir.path().join(format!("case-{i}.tar"));
            std::fs::write(&path, tar_of(entries)).unwrap();
            let err = ExportFiles::read(&path).unwrap_err().to_string();
            assert!(err.contains(want), "case {i}: {err}");
            assert!(err.contains(&format!("case-{i}.tar")), "case {i}: {err}");
        }
        let path = dir.path().join("cut.tar.gz");
        std::fs::write(&path, b"\x1f\x8b\x08\x00 not gzip").unwrap();
        let err = ExportFiles::read(&path).unwrap_err().to_string();
        assert!(err.contains("not a readable tar archive"), "{err}");
        // Nothing was unpacked beside the archives.
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .all(|n| n.ends_with(".tar") || n.ends_with(".gz")),
            "{names:?}"
        );
    }
}
