//! Reading a report zip back: its entries, its `results.json`, and the check of every file
//! against `manifest.json` that `vmcert report verify` prints. A file that cannot be opened as a
//! zip is unreadable (an error); an entry that cannot be decompressed, a hash or size that
//! differs, a missing or extra file are problems of an intact-looking archive, i.e. tampering or
//! corruption.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::Path;

use anyhow::{Context as _, bail};

use super::manifest::{self, Manifest};
use super::model::{self, RunReport};

/// Entries larger than this are not read (a report is a few megabytes; this bounds zip bombs).
const MAX_ENTRY: u64 = 512 * 1024 * 1024;

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

/// One entry of the zip.
pub(crate) struct Entry {
    /// Path inside the zip.
    pub name: String,
    /// The content, or why it could not be read.
    pub content: Result<Vec<u8>, String>,
}

/// A report zip read into memory.
pub(crate) struct ReportZip {
    /// Entries in archive order.
    pub entries: Vec<Entry>,
}

impl ReportZip {
    /// Reads every entry of the zip at `path`.
    ///
    /// # Errors
    /// The file cannot be opened or is not a zip archive.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
            .with_context(|| format!("{} is not a readable zip archive", path.display()))?;
        let mut entries = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            let mut f = match archive.by_index(i) {
                Ok(f) => f,
                Err(e) => {
                    entries.push(Entry {
                        name: format!("#{i}"),
                        content: Err(e.to_string()),
                    });
                    continue;
                }
            };
            let name = f.name().to_owned();
            let content = if f.size() > MAX_ENTRY {
                Err(format!(
                    "{} bytes, more than a report file can be",
                    f.size()
                ))
            } else {
                let mut buf = Vec::with_capacity(usize::try_from(f.size()).unwrap_or(0));
                // Reading to the end checks the CRC-32 of the entry.
                match f.by_ref().take(MAX_ENTRY + 1).read_to_end(&mut buf) {
                    Ok(_) => Ok(buf),
                    Err(e) => Err(e.to_string()),
                }
            };
            entries.push(Entry { name, content });
        }
        Ok(Self { entries })
    }

    /// The content of entry `name`, if present and readable.
    pub(crate) fn get(&self, name: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.content.as_deref().ok())
    }

    /// The parsed `results.json`.
    ///
    /// # Errors
    /// Missing, unreadable, not JSON of the v1 model, or another schema.
    pub(crate) fn results(&self) -> anyhow::Result<RunReport> {
        let Some(bytes) = self.get("results.json") else {
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

/// Every way the zip differs from its manifest, one line each; empty when it verifies.
pub(crate) fn verify(zip: &ReportZip) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for e in &zip.entries {
        if !seen.insert(e.name.as_str()) {
            problems.push(format!("{}: appears more than once in the zip", e.name));
        }
        if let Err(why) = &e.content {
            problems.push(format!("{}: cannot be read back (corrupt): {why}", e.name));
        }
    }
    let listed = match zip
        .get(manifest::PATH)
        .map(serde_json::from_slice::<Manifest>)
    {
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
        if content.len() as u64 != expected.size {
            problems.push(format!(
                "{}: {} bytes, the manifest says {}",
                e.name,
                content.len(),
                expected.size
            ));
        } else if manifest::sha256_hex(content) != expected.sha256 {
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
                    content: Ok(c.clone()),
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
