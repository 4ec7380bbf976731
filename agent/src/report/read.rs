//! Reading a report zip back: its entries, its `results.json`, and the check of every file
//! against `manifest.json` that `vmcert report verify` prints. A file that cannot be opened as a
//! zip is unreadable (an error); an entry that cannot be decompressed, a hash or size that
//! differs, a missing or extra file are problems of an intact-looking archive, i.e. tampering or
//! corruption.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};

use super::manifest::{self, Manifest};
use super::model::{self, RunReport};

/// Entries larger than this are not read: a report file is a few megabytes at most (the writer
/// keeps every file under this, see `write`), so more is a zip bomb or not a report.
pub(crate) const MAX_ENTRY: u64 = 512 * 1024 * 1024;

/// Most bytes read out of all entries together (the writer keeps whole reports under it).
pub(crate) const MAX_TOTAL: u64 = 1024 * 1024 * 1024;

/// Most entries in a report zip (a report has one per check log plus nine).
const MAX_ENTRIES: usize = 100_000;

/// Highest ratio of bytes read out to the size of the zip file: deflate cannot compress more
/// than about 1032:1, so more means entries sharing their compressed data (a zip bomb).
const MAX_RATIO: u64 = 1100;

/// The files every report has (logs/<check-id>.log vary with the checks).
pub(crate) const REQUIRED: &[&str] = &[
    "results.json",
    "selftest.json",
    "report.html",
    "report.md",
    "junit.xml",
    "questionnaire.json",
    "notes.txt",
    "logs/run.log",
    manifest::PATH,
];

/// Entries whose content is kept in memory (the rest are hashed as they are read).
const KEPT: &[&str] = &[
    "results.json",
    manifest::PATH,
    "report.md",
    "selftest.json",
    super::sign::PATH,
];

/// What was read out of one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Content {
    /// Bytes read.
    pub size: u64,
    /// Lower-case hex SHA-256.
    pub sha256: String,
    /// The bytes themselves, for the entries in [`KEPT`].
    pub bytes: Option<Vec<u8>>,
}

impl Content {
    /// The content of `bytes`, kept.
    #[cfg(test)]
    pub(crate) fn of(bytes: &[u8]) -> Self {
        Self {
            size: bytes.len() as u64,
            sha256: manifest::sha256_hex(bytes),
            bytes: Some(bytes.to_vec()),
        }
    }
}

/// One entry of the zip.
pub(crate) struct Entry {
    /// Path inside the zip.
    pub name: String,
    /// What it holds, or why it could not be read.
    pub content: Result<Content, String>,
    /// Why this entry can be no file of a report, whatever the manifest says: a path that
    /// climbs out (`..`), is absolute or holds a backslash or a control character, or a symlink.
    pub unsafe_kind: Option<&'static str>,
}

/// A report zip read through (directory entries, which `zip -r` adds, are skipped).
pub(crate) struct ReportZip {
    /// File entries in archive order.
    pub entries: Vec<Entry>,
}

/// Why entry `name` (with unix `mode`, if any) cannot be a report file.
fn unsafe_kind(name: &str, mode: Option<u32>) -> Option<&'static str> {
    const S_IFMT: u32 = 0o170_000;
    const S_IFLNK: u32 = 0o120_000;
    if mode.is_some_and(|m| m & S_IFMT == S_IFLNK) {
        Some("a symbolic link")
    } else if name.starts_with('/') || name.as_bytes().get(1) == Some(&b':') {
        Some("an absolute path")
    } else if name.contains('\\') {
        Some("a path with a backslash")
    } else if name.split('/').any(|c| c == ".." || c == ".") {
        Some("a path with a `..` or `.` component")
    } else if name.chars().any(char::is_control) {
        Some("a path with a control character")
    } else {
        None
    }
}

impl ReportZip {
    /// Reads every entry of the zip at `path`, within the caps on entry size, total size, entry
    /// count and compression ratio.
    ///
    /// # Errors
    /// The file cannot be opened, is not a zip archive, or is past a cap (a zip bomb).
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        Self::open_within(path, MAX_TOTAL)
    }

    /// [`Self::open`] with `max_total` in place of [`MAX_TOTAL`].
    fn open_within(path: &Path, max_total: u64) -> anyhow::Result<Self> {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let file_size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
            .with_context(|| format!("{} is not a readable zip archive", path.display()))?;
        if archive.len() > MAX_ENTRIES {
            bail!(
                "{} has {} entries, more than a report can have ({MAX_ENTRIES})",
                path.display(),
                archive.len()
            );
        }
        // The zip crate keeps one entry per name (the last); the central directory says how many
        // there really are.
        let names = central_directory_names(path)?;
        let budget = max_total.min(file_size.saturating_mul(MAX_RATIO).max(1024 * 1024));
        let mut total = 0u64;
        let mut entries = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            let f = match archive.by_index(i) {
                Ok(f) => f,
                Err(e) => {
                    entries.push(Entry {
                        name: format!("#{i}"),
                        content: Err(e.to_string()),
                        unsafe_kind: None,
                    });
                    continue;
                }
            };
            let name = f.name().to_owned();
            if f.is_dir() && f.size() == 0 {
                continue;
            }
            let unsafe_kind = unsafe_kind(&name, f.unix_mode());
            let keep = KEPT.contains(&name.as_str());
            let content = if f.size() > MAX_ENTRY {
                Err(format!(
                    "{} bytes, more than a report file can be",
                    f.size()
                ))
            } else {
                match read_entry(f, keep, MAX_ENTRY.min(budget - total)) {
                    Ok(c) => {
                        total += c.size;
                        Ok(c)
                    }
                    Err(ReadError::Corrupt(why)) => Err(why),
                    // A size that lied in the header, or past the budget: stop reading here.
                    Err(ReadError::OverLimit) => {
                        total = budget;
                        Err(String::new())
                    }
                }
            };
            if total >= budget {
                bail!(
                    "{} holds more than {} MiB once uncompressed ({}:1 at most for a {file_size}-byte file): not a report (a zip bomb?)",
                    path.display(),
                    budget / (1024 * 1024),
                    MAX_RATIO
                );
            }
            entries.push(Entry {
                name,
                content,
                unsafe_kind,
            });
        }
        let mut counted: BTreeMap<&str, usize> = BTreeMap::new();
        for n in &names {
            *counted.entry(n.as_str()).or_default() += 1;
        }
        let mut extra = Vec::new();
        for (name, n) in counted {
            for _ in 1..n {
                extra.push(Entry {
                    name: name.to_owned(),
                    content: Err(
                        "another entry of the same name, which zip tools resolve differently"
                            .to_owned(),
                    ),
                    unsafe_kind: None,
                });
            }
        }
        entries.extend(extra);
        Ok(Self { entries })
    }

    /// The entries named `name`.
    fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| e.name == name)
    }

    /// The content of the first entry named `name`, if readable and kept.
    fn first(&self, name: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.content.as_ref().ok()?.bytes.as_deref())
    }

    /// The content of entry `name`, if present once, readable and kept ([`KEPT`]).
    ///
    /// # Errors
    /// The name appears more than once: which copy a reader would take is the attacker's choice.
    pub(crate) fn get(&self, name: &str) -> anyhow::Result<Option<&[u8]>> {
        if self.named(name).count() > 1 {
            bail!("the report holds {name} more than once (tampered)");
        }
        Ok(self.first(name))
    }

    /// The parsed `results.json`.
    ///
    /// # Errors
    /// Missing, duplicated, unreadable, not JSON of the v1 model, or another schema.
    pub(crate) fn results(&self) -> anyhow::Result<RunReport> {
        let Some(bytes) = self.get("results.json")? else {
            bail!("the report has no readable results.json");
        };
        let value: serde_json::Value =
            serde_json::from_slice(bytes).context("results.json is not valid JSON")?;
        let schema = value
            .get("schema")
            .and_then(|s| s.as_str())
            .unwrap_or("none");
        if schema != model::SCHEMA {
            bail!(
                "results.json has schema `{schema}`; this vmcert reads `{}`",
                model::SCHEMA
            );
        }
        let legacy = value
            .get("summary")
            .is_some_and(|s| s.get("outcome").is_none());
        let mut r: RunReport = serde_json::from_value(value)
            .context("results.json does not match the vmcert.report/v1 model")?;
        if legacy {
            // Written before the outcome existed (and before the scope was recorded): a Fail is
            // still a Fail, anything else cannot be shown to cover the whole catalogue.
            r.summary.outcome = if r.summary.fail > 0 {
                model::Outcome::Failed
            } else {
                model::Outcome::Incomplete
            };
            r.summary.certified = false;
        }
        Ok(r)
    }
}

/// The names in the zip's central directory, duplicates included.
///
/// # Errors
/// The file cannot be read, has no end-of-central-directory record, or is a ZIP64 archive (no
/// report is one).
fn central_directory_names(path: &Path) -> anyhow::Result<Vec<String>> {
    use std::io::{Seek as _, SeekFrom};
    let u16_at = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let len = file.metadata()?.len();
    let tail_len = len.min(22 + 65_535);
    file.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![0u8; usize::try_from(tail_len)?];
    file.read_exact(&mut tail)?;
    let Some(eocd) = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
    else {
        bail!("{} is not a readable zip archive", path.display());
    };
    let count = u16_at(&tail, eocd + 10);
    let size = u32_at(&tail, eocd + 12);
    let offset = u32_at(&tail, eocd + 16);
    if count == u16::MAX || size == u32::MAX || offset == u32::MAX {
        bail!("{} is a ZIP64 archive, which no report is", path.display());
    }
    if u64::from(offset) + u64::from(size) > len {
        bail!(
            "{} is not a readable zip archive (its directory is past its end)",
            path.display()
        );
    }
    file.seek(SeekFrom::Start(u64::from(offset)))?;
    let mut dir = vec![0u8; size as usize];
    file.read_exact(&mut dir)?;
    let mut names = Vec::with_capacity(usize::from(count));
    let mut i = 0usize;
    while i + 46 <= dir.len() && dir[i..i + 4] == [0x50, 0x4b, 0x01, 0x02] {
        let name_len = usize::from(u16_at(&dir, i + 28));
        let extra_len = usize::from(u16_at(&dir, i + 30));
        let comment_len = usize::from(u16_at(&dir, i + 32));
        let Some(name) = dir.get(i + 46..i + 46 + name_len) else {
            break;
        };
        names.push(String::from_utf8_lossy(name).into_owned());
        i += 46 + name_len + extra_len + comment_len;
    }
    Ok(names)
}

/// Why an entry could not be read.
enum ReadError {
    /// Decompression or CRC error.
    Corrupt(String),
    /// More bytes than allowed.
    OverLimit,
}

/// Reads one entry to its end (which checks its CRC-32), at most `limit` bytes, hashing it and
/// keeping it when `keep`.
fn read_entry(mut f: impl std::io::Read, keep: bool, limit: u64) -> Result<Content, ReadError> {
    let mut hasher = Sha256::new();
    let mut kept = keep.then(Vec::new);
    let mut size = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    let mut limited = f.by_ref().take(limit + 1);
    loop {
        let n = match limited.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadError::Corrupt(e.to_string())),
        };
        size += n as u64;
        if size > limit {
            return Err(ReadError::OverLimit);
        }
        hasher.update(&buf[..n]);
        if let Some(k) = &mut kept {
            k.extend_from_slice(&buf[..n]);
        }
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .fold(String::with_capacity(64), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        });
    Ok(Content {
        size,
        sha256,
        bytes: kept,
    })
}

/// Every way the zip differs from its manifest, one line each; empty when it verifies.
pub(crate) fn verify(zip: &ReportZip) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for e in &zip.entries {
        if !seen.insert(e.name.as_str()) {
            problems.push(format!("{}: appears more than once in the zip", e.name));
        }
        if let Some(kind) = e.unsafe_kind {
            problems.push(format!("{}: {kind}, which no report holds", e.name));
        }
        if let Err(why) = &e.content {
            problems.push(format!("{}: cannot be read back (corrupt): {why}", e.name));
        }
    }
    let manifest_bytes = zip.first(manifest::PATH);
    let listed = match manifest_bytes.map(serde_json::from_slice::<Manifest>) {
        None => BTreeMap::new(),
        Some(Err(e)) => {
            problems.push(format!("{}: not a valid manifest: {e}", manifest::PATH));
            BTreeMap::new()
        }
        Some(Ok(m)) if m.schema != manifest::SCHEMA || m.algorithm != "sha256" => {
            problems.push(format!(
                "{}: unknown schema `{}` / algorithm `{}`",
                manifest::PATH,
                m.schema,
                m.algorithm
            ));
            BTreeMap::new()
        }
        Some(Ok(m)) => {
            let listed: BTreeMap<String, manifest::Entry> =
                m.files.into_iter().map(|f| (f.path.clone(), f)).collect();
            compare(zip, &listed, &mut problems);
            for path in listed.keys() {
                if !seen.contains(path.as_str()) {
                    problems.push(format!(
                        "{path}: listed in the manifest but missing (removed)"
                    ));
                }
            }
            listed
        }
    };
    for required in REQUIRED {
        if !seen.contains(required) && !listed.contains_key(*required) {
            problems.push(format!("{required}: missing (every report has it)"));
        }
    }
    problems
}

fn compare(
    zip: &ReportZip,
    listed: &BTreeMap<String, manifest::Entry>,
    problems: &mut Vec<String>,
) {
    for e in &zip.entries {
        // The manifest cannot list itself, nor the signature made over it (checked by
        // `report::sign`).
        if e.name == manifest::PATH || e.name == super::sign::PATH {
            continue;
        }
        let Some(expected) = listed.get(&e.name) else {
            problems.push(format!("{}: not listed in the manifest (added)", e.name));
            continue;
        };
        let Ok(content) = &e.content else { continue };
        if content.size != expected.size {
            problems.push(format!(
                "{}: {} bytes, the manifest says {}",
                e.name, content.size, expected.size
            ));
        } else if content.sha256 != expected.sha256 {
            problems.push(format!(
                "{}: SHA-256 differs from the manifest (modified)",
                e.name
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::bundle;
    use crate::report::write::files;

    fn zip_of(files: &[(String, Vec<u8>)]) -> ReportZip {
        ReportZip {
            entries: files
                .iter()
                .map(|(n, c)| Entry {
                    name: n.clone(),
                    content: Ok(Content::of(c)),
                    unsafe_kind: unsafe_kind(n, None),
                })
                .collect(),
        }
    }

    fn good() -> Vec<(String, Vec<u8>)> {
        files(&bundle())
            .unwrap()
            .into_iter()
            .map(|f| (f.path, f.content))
            .collect()
    }

    #[test]
    fn intact_report_verifies_and_its_results_parse() {
        let z = zip_of(&good());
        assert_eq!(verify(&z), Vec::<String>::new());
        assert_eq!(z.results().unwrap().checks.len(), 6);
    }

    #[test]
    fn each_kind_of_tampering_is_named() {
        let mut f = good();
        f.iter_mut()
            .find(|(n, _)| n == "notes.txt")
            .unwrap()
            .1
            .push(b'!');
        let html = f.iter_mut().find(|(n, _)| n == "report.html").unwrap();
        html.1[20] ^= 1;
        f.retain(|(n, _)| n != "logs/run.log");
        f.push(("extra.txt".to_owned(), b"x".to_vec()));
        let problems = verify(&zip_of(&f));
        assert_eq!(
            problems,
            [
                "report.html: SHA-256 differs from the manifest (modified)",
                &format!(
                    "notes.txt: {} bytes, the manifest says {}",
                    bundle().notes.len() + 1,
                    bundle().notes.len()
                ),
                "extra.txt: not listed in the manifest (added)",
                "logs/run.log: listed in the manifest but missing (removed)",
            ]
        );
    }

    #[test]
    fn missing_or_broken_manifest_is_a_problem() {
        let mut f = good();
        f.retain(|(n, _)| n != "manifest.json");
        assert_eq!(
            verify(&zip_of(&f)),
            ["manifest.json: missing (every report has it)"]
        );
        f.push(("manifest.json".to_owned(), b"{".to_vec()));
        assert!(verify(&zip_of(&f))[0].starts_with("manifest.json: not a valid manifest"));
    }

    /// Writes a zip of `entries` (name, content, unix mode) into `dir`.
    fn write_zip(dir: &Path, entries: &[(&str, &[u8], u32)]) -> std::path::PathBuf {
        use std::io::Write as _;
        let path = dir.join("r.zip");
        let mut z = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        for (name, content, mode) in entries {
            let o = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(*mode);
            if name.ends_with('/') {
                z.add_directory(*name, o).unwrap();
            } else if mode & 0o170_000 == 0o120_000 {
                z.add_symlink(*name, std::str::from_utf8(content).unwrap(), o)
                    .unwrap();
            } else {
                z.start_file(*name, o).unwrap();
                z.write_all(content).unwrap();
            }
        }
        z.finish().unwrap();
        path
    }

    /// The good report's files with `extra` added, every one listed in the manifest.
    fn listed_with(extra: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        let mut f = good();
        f.retain(|(n, _)| n != manifest::PATH);
        f.extend(extra.iter().map(|(n, c)| ((*n).to_owned(), c.to_vec())));
        let m = Manifest::of(f.iter().map(|(n, c)| (n.as_str(), c.as_slice())));
        f.push((manifest::PATH.to_owned(), serde_json::to_vec(&m).unwrap()));
        f
    }

    fn problems_of(
        dir: &Path,
        files: &[(String, Vec<u8>)],
        special: &[(&str, &[u8], u32)],
    ) -> Vec<String> {
        let mut entries: Vec<(&str, &[u8], u32)> = files
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_slice(), 0o100_644))
            .collect();
        entries.extend_from_slice(special);
        verify(&ReportZip::open(&write_zip(dir, &entries)).unwrap())
    }

    /// Issue 17 item 11: entries no report holds are problems even when the manifest lists them.
    #[test]
    fn traversal_absolute_and_symlink_entries_fail_even_when_listed() {
        let dir = tempfile::tempdir().unwrap();
        for (name, want) in [
            (
                "../evil.txt",
                "../evil.txt: a path with a `..` or `.` component, which no report holds",
            ),
            (
                "logs/../../evil.txt",
                "logs/../../evil.txt: a path with a `..` or `.` component, which no report holds",
            ),
            (
                "/etc/evil.txt",
                "/etc/evil.txt: an absolute path, which no report holds",
            ),
            (
                "C:/evil.txt",
                "C:/evil.txt: an absolute path, which no report holds",
            ),
            (
                "logs\\evil.txt",
                "logs\\evil.txt: a path with a backslash, which no report holds",
            ),
            (
                "logs/\u{1b}[2Jevil.txt",
                "logs/\u{1b}[2Jevil.txt: a path with a control character, which no report holds",
            ),
        ] {
            let files = listed_with(&[(name, b"x")]);
            assert_eq!(problems_of(dir.path(), &files, &[]), [want], "{name}");
        }
        let files = listed_with(&[("logs/link.log", b"/etc/passwd")]);
        let mut plain = files.clone();
        plain.retain(|(n, _)| n != "logs/link.log");
        assert_eq!(
            problems_of(
                dir.path(),
                &plain,
                &[("logs/link.log", b"/etc/passwd", 0o120_777)]
            ),
            ["logs/link.log: a symbolic link, which no report holds"]
        );
    }

    /// Issue 17 item 11: a second `results.json` (readers disagree on which one counts).
    #[test]
    fn a_duplicate_entry_fails_verify_and_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let files = good();
        let mut entries: Vec<(&str, &[u8], u32)> = files
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_slice(), 0o100_644))
            .collect();
        let forged = br#"{"schema": "vmcert.report/v1"}"#;
        // Writers refuse a second name: write another of the same length, then rename it in the
        // local header and the central directory.
        entries.push(("results.jsoX", forged, 0o100_644));
        let path = write_zip(dir.path(), &entries);
        let mut bytes = std::fs::read(&path).unwrap();
        let mut renamed = 0;
        for i in 0..bytes.len() - 12 {
            if &bytes[i..i + 12] == b"results.jsoX" {
                bytes[i + 11] = b'n';
                renamed += 1;
            }
        }
        assert_eq!(renamed, 2);
        std::fs::write(&path, bytes).unwrap();
        let z = ReportZip::open(&path).unwrap();
        assert!(
            verify(&z).contains(&"results.json: appears more than once in the zip".to_owned()),
            "{:?}",
            verify(&z)
        );
        assert_eq!(
            z.results().unwrap_err().to_string(),
            "the report holds results.json more than once (tampered)"
        );
    }

    /// `zip -r` of an unpacked report adds directory entries: they are no files, so it verifies.
    #[test]
    fn directory_entries_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let files = good();
        assert_eq!(
            problems_of(dir.path(), &files, &[("logs/", b"", 0o040_755)]),
            Vec::<String>::new()
        );
    }

    /// Issue 17 item 4: many entries within the per-entry cap but past the total, and entries
    /// whose header lies about their size, stop the reading with a clear error.
    #[test]
    fn zip_bombs_are_refused_by_total_and_ratio() {
        let dir = tempfile::tempdir().unwrap();
        let zeros = vec![0u8; 4 * 1024 * 1024];
        let names: Vec<String> = (0..24).map(|i| format!("logs/{i}.log")).collect();
        let entries: Vec<(&str, &[u8], u32)> = names
            .iter()
            .map(|n| (n.as_str(), zeros.as_slice(), 0o100_644))
            .collect();
        let path = write_zip(dir.path(), &entries);
        let err = ReportZip::open_within(&path, 64 * 1024 * 1024)
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("holds more than 64 MiB once uncompressed"),
            "{err}"
        );
        // The ratio: 96 MiB of zeros is ~100 KiB of deflate, under 1100:1, so the budget is the
        // file's size times 1100; the same entries at 1 MiB each pass.
        let small = vec![0u8; 1024 * 1024];
        let entries: Vec<(&str, &[u8], u32)> = names[..4]
            .iter()
            .map(|n| (n.as_str(), small.as_slice(), 0o100_644))
            .collect();
        let path = write_zip(dir.path(), &entries);
        assert_eq!(ReportZip::open(&path).unwrap().entries.len(), 4);
    }

    #[test]
    fn other_schema_is_refused() {
        let mut f = good();
        let r = f.iter_mut().find(|(n, _)| n == "results.json").unwrap();
        r.1 = br#"{"schema": "vmcert.report/v9"}"#.to_vec();
        let err = zip_of(&f).results().unwrap_err().to_string();
        assert_eq!(
            err,
            "results.json has schema `vmcert.report/v9`; this vmcert reads `vmcert.report/v1`"
        );
    }
}

/// Property tests of the reader (proptest, on stable; `fuzz/run.sh` runs them longer): a report
/// zip with any bytes flipped, cut or appended, or no zip at all, is read or refused, never a
/// panic.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    fn golden() -> Vec<u8> {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/fixtures/report.zip"),
        )
        .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            crate::proptest_cases::cases(64)
        ))]

        #[test]
        fn mutated_reports_never_panic(
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..16),
            cut in any::<prop::sample::Index>(),
            cut_it in any::<bool>(),
            tail in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut z = golden();
            for (i, b) in &flips {
                let i = i.index(z.len());
                z[i] ^= *b;
            }
            if cut_it {
                z.truncate(cut.index(z.len() + 1));
            }
            z.extend_from_slice(&tail);
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("r.zip");
            std::fs::write(&path, &z).unwrap();
            if let Ok(r) = ReportZip::open(&path) {
                let _ = verify(&r);
                let _ = r.results();
            }
        }
    }
}
