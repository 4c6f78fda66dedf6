//! The export file: a whole ledger — every entry with its original bytes, every blob, every
//! signed checkpoint — in one file, in ledger order, so that it can be imported (and checked)
//! in one streaming pass with bounded memory. The format is specified in
//! `docs/export-format.md`:
//!
//! ```text
//! "KIROKU-EXPORT\n" then records: type (1 byte) · length (u32, big-endian) · body
//!   H  header     JSON {"format": 1, "origin", "verifier_key", "tree_size", "software"}
//!   B  blob       SHA-256 (32 bytes) · content          (just before each entry that names it)
//!   E  entry      index (u64, big-endian) · entry bytes
//!   C  checkpoint JSON {"size", "root" (base64), "note", "created_at"}  (just after entry size−1)
//!   T  trailer    JSON {"entries", "checkpoints", "blobs", "sha256"}    (hash of all bytes before it)
//! ```

use crate::db::StoredCheckpoint;
use crate::replay::{self, CheckedPage, DbPages, Page, RawEntry, Signed, Sink, Source, Work};
use crate::{Result, Store, StoreError};
use kiroku_ledger::{Hash, Verifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The file's first bytes.
pub const MAGIC: &[u8] = b"KIROKU-EXPORT\n";
/// The format version this program writes and reads.
pub const FORMAT: u64 = 1;
/// The largest record body (a blob of up to 1 GiB and its hash).
const RECORD_BYTES_MAX: u32 = (1 << 30) + 64;

/// The header record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Format version.
    pub format: u64,
    /// The ledger's origin.
    pub origin: String,
    /// Its verifier key.
    pub verifier_key: String,
    /// The size of the last checkpoint in the file.
    pub tree_size: u64,
    /// The program that wrote the file.
    pub software: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointRecord {
    size: u64,
    root: String,
    note: String,
    created_at: String,
}

/// The trailer record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trailer {
    /// Entry records.
    pub entries: u64,
    /// Checkpoint records.
    pub checkpoints: u64,
    /// Blob records.
    pub blobs: u64,
    /// SHA-256 (hex) of every byte before the trailer record.
    pub sha256: String,
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { what, path, source }
}

fn bad(what: impl Into<String>) -> StoreError {
    StoreError::Refused(format!("the export file is not valid: {}", what.into()))
}

/// Writes records, hashing every byte.
struct RecordWriter {
    out: BufWriter<std::fs::File>,
    hasher: Sha256,
    path: PathBuf,
    trailer: Trailer,
}

impl RecordWriter {
    fn bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        self.out
            .write_all(bytes)
            .map_err(io("cannot write", &self.path))
    }

    fn record(&mut self, kind: u8, parts: &[&[u8]]) -> Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let len = u32::try_from(len)
            .ok()
            .filter(|l| *l <= RECORD_BYTES_MAX)
            .ok_or_else(|| StoreError::Limit(format!("a record of {len} bytes")))?;
        self.bytes(&[kind])?;
        self.bytes(&len.to_be_bytes())?;
        for part in parts {
            self.bytes(part)?;
        }
        Ok(())
    }

    fn json(&mut self, kind: u8, value: &impl Serialize) -> Result<()> {
        let body = serde_json::to_vec(value)
            .map_err(|_| StoreError::Internal("a record cannot be written as JSON".into()))?;
        self.record(kind, &[&body])
    }
}

struct ExportSink {
    writer: RecordWriter,
}

impl Sink for ExportSink {
    fn page(&mut self, page: CheckedPage) -> Result<()> {
        let mut checkpoints = page.checkpoints.iter().peekable();
        for checked in &page.entries {
            if let Some((hash, content)) = &checked.blob {
                self.writer.record(b'B', &[&hash.0, content])?;
                self.writer.trailer.blobs += 1;
            }
            self.writer
                .record(b'E', &[&checked.idx.to_be_bytes(), &checked.body])?;
            self.writer.trailer.entries += 1;
            while let Some((c, _)) = checkpoints.next_if(|(c, _)| c.size <= checked.idx + 1) {
                self.writer.json(
                    b'C',
                    &CheckpointRecord {
                        size: c.size,
                        root: base64_encode(&c.root),
                        note: c.note.clone(),
                        created_at: c.created_at.clone(),
                    },
                )?;
                self.writer.trailer.checkpoints += 1;
            }
        }
        Ok(())
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exported {
    /// The file's trailer (counts and hash).
    pub trailer: Trailer,
    /// The size of the last checkpoint exported.
    pub tree_size: u64,
}

/// Writes the whole ledger, up to its latest checkpoint, to `out` — checking every leaf, root
/// and signature on the way, so that a damaged ledger is not exported as if it were sound. The
/// file appears only when complete: it is written beside `out`, synced, and renamed.
pub fn export(
    store: &Store,
    origin: &str,
    verifier: &Verifier,
    out: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Exported> {
    if out.exists() {
        return Err(StoreError::Refused(format!(
            "{} already exists; export will not overwrite it",
            out.display()
        )));
    }
    let partial = out.with_extension("partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    // The whole ledger is patients' data: readable by its owner alone.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(&partial)
        .map_err(io("cannot create", &partial))?;
    let result = (|| -> Result<Exported> {
        let tree_size = store
            .reader()?
            .db()
            .latest_checkpoint()?
            .map_or(0, |c| c.size);
        let mut writer = RecordWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            path: partial.clone(),
            trailer: Trailer {
                entries: 0,
                checkpoints: 0,
                blobs: 0,
                sha256: String::new(),
            },
        };
        writer.bytes(MAGIC)?;
        writer.json(
            b'H',
            &Header {
                format: FORMAT,
                origin: origin.into(),
                verifier_key: verifier.to_text(),
                tree_size,
                software: format!("kiroku {}", env!("CARGO_PKG_VERSION")),
            },
        )?;
        let mut sink = ExportSink { writer };
        let source = Box::new(DbPages::new(store.connect_scan()?, tree_size));
        let open = || store.connect_scan().map(Some);
        let replayed = replay::run(
            store.registry(),
            source,
            &open,
            Work::Keep,
            Some(Signed { origin, verifier }),
            &mut sink,
            &mut |done| progress(done, tree_size),
        )?;
        if let Some(p) = replayed.problem {
            return Err(StoreError::Corrupt(format!(
                "{} (run kiroku verify); nothing was exported",
                p.what
            )));
        }
        if replayed.entries != tree_size || replayed.last_checkpoint != tree_size {
            return Err(StoreError::Corrupt(format!(
                "the ledger ends at entry {} but is signed to size {tree_size} (run kiroku verify); nothing was exported",
                replayed.entries
            )));
        }
        let mut writer = sink.writer;
        let digest = std::mem::take(&mut writer.hasher).finalize();
        writer.trailer.sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
        let trailer = writer.trailer.clone();
        writer.json(b'T', &trailer)?;
        let file = writer.out.into_inner().map_err(|e| StoreError::Io {
            what: "cannot write",
            path: partial.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io("cannot sync", &partial))?;
        Ok(Exported { trailer, tree_size })
    })();
    match result {
        Ok(exported) => {
            std::fs::rename(&partial, out).map_err(io("cannot rename", &partial))?;
            Ok(exported)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Reads an export file as a replay source: pages of entries with their blobs and checkpoints,
/// checking the framing and, at the end, the trailer's counts and hash.
pub(crate) struct FileSource {
    input: BufReader<std::fs::File>,
    path: PathBuf,
    hasher: Sha256,
    /// A record read ahead (type, body).
    ahead: Option<(u8, Vec<u8>)>,
    counts: (u64, u64, u64),
    /// The trailer, once read and checked.
    pub(crate) trailer: Option<Trailer>,
    page_entries: u64,
}

impl FileSource {
    /// Opens a file and reads its header.
    pub(crate) fn open(path: &Path, page_entries: u64) -> Result<(FileSource, Header)> {
        let file = std::fs::File::open(path).map_err(io("cannot open", path))?;
        let mut source = FileSource {
            input: BufReader::with_capacity(1 << 20, file),
            path: path.to_path_buf(),
            hasher: Sha256::new(),
            ahead: None,
            counts: (0, 0, 0),
            trailer: None,
            page_entries,
        };
        let mut magic = vec![0u8; MAGIC.len()];
        source.read_exact(&mut magic)?;
        if magic != MAGIC {
            return Err(bad("it does not start with KIROKU-EXPORT"));
        }
        let (kind, body) = source
            .next_record()?
            .ok_or_else(|| bad("it has no header"))?;
        if kind != b'H' {
            return Err(bad("the first record is not the header"));
        }
        let header: Header =
            serde_json::from_slice(&body).map_err(|_| bad("the header is not valid"))?;
        if header.format != FORMAT {
            return Err(bad(format!(
                "format {} is not one this program reads ({FORMAT})",
                header.format
            )));
        }
        Ok((source, header))
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.input.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                bad("it ends in the middle (truncated)")
            } else {
                StoreError::Io {
                    what: "cannot read",
                    path: self.path.clone(),
                    source: e,
                }
            }
        })?;
        self.hasher.update(&*buf);
        Ok(())
    }

    /// The next record, or `None` after the trailer.
    fn next_record(&mut self) -> Result<Option<(u8, Vec<u8>)>> {
        if let Some(record) = self.ahead.take() {
            return Ok(Some(record));
        }
        if self.trailer.is_some() {
            return Ok(None);
        }
        let before = self.hasher.clone();
        let mut head = [0u8; 5];
        self.read_exact(&mut head)?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
        if len > RECORD_BYTES_MAX {
            return Err(bad(format!("a record claims {len} bytes")));
        }
        let mut body = vec![0u8; len as usize];
        self.read_exact(&mut body)?;
        if head[0] == b'T' {
            let trailer: Trailer =
                serde_json::from_slice(&body).map_err(|_| bad("the trailer is not valid"))?;
            let digest: String = before
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let counts = (trailer.entries, trailer.checkpoints, trailer.blobs);
            if trailer.sha256 != digest || counts != self.counts {
                return Err(bad(
                    "its trailer does not match its content (the file was altered or cut)",
                ));
            }
            let mut rest = [0u8; 1];
            if self
                .input
                .read(&mut rest)
                .map_err(io("cannot read", &self.path))?
                != 0
            {
                return Err(bad("bytes follow the trailer"));
            }
            self.trailer = Some(trailer);
            return Ok(None);
        }
        Ok(Some((head[0], body)))
    }
}

impl Source for FileSource {
    fn next_page(&mut self) -> Result<Option<Page>> {
        let mut page = Page::default();
        loop {
            let full = page.entries.len() as u64 >= self.page_entries;
            let Some((kind, body)) = self.next_record()? else {
                break;
            };
            match kind {
                b'E' if full => {
                    self.ahead = Some((kind, body));
                    break;
                }
                b'B' if full => {
                    self.ahead = Some((kind, body));
                    break;
                }
                b'E' => {
                    if body.len() < 8 {
                        return Err(bad("an entry record is too short"));
                    }
                    let (index, bytes) = body.split_at(8);
                    let mut idx = [0u8; 8];
                    idx.copy_from_slice(index);
                    page.entries.push(RawEntry {
                        idx: u64::from_be_bytes(idx),
                        stored_leaf: None,
                        body: bytes.to_vec(),
                    });
                    self.counts.0 += 1;
                }
                b'B' => {
                    if body.len() < 32 {
                        return Err(bad("a blob record is too short"));
                    }
                    let (hash, content) = body.split_at(32);
                    let hash = Hash::from_slice(hash).ok_or_else(|| bad("a blob hash"))?;
                    page.blobs.insert(hash, content.to_vec());
                    self.counts.2 += 1;
                }
                b'C' => {
                    let record: CheckpointRecord = serde_json::from_slice(&body)
                        .map_err(|_| bad("a checkpoint record is not valid"))?;
                    page.checkpoints.push(StoredCheckpoint {
                        size: record.size,
                        root: base64_decode(&record.root)
                            .ok_or_else(|| bad("a checkpoint root is not base64"))?,
                        note: record.note,
                        created_at: record.created_at,
                    });
                    self.counts.1 += 1;
                }
                other => {
                    return Err(bad(format!("a record of unknown type {other:#04x}")));
                }
            }
        }
        if page.entries.is_empty() && page.checkpoints.is_empty() {
            if self.trailer.is_none() {
                return Err(bad("it has no trailer (truncated)"));
            }
            return Ok(None);
        }
        Ok(Some(page))
    }
}
