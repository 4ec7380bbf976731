//! `vmcert vhd inspect`: reads a VHD (a local file, or a blob through its SAS URL with ranged
//! reads) with [`crate::vhd::inspect`], prints what it found and the verdict of every VHD rule,
//! and exits 0 (acceptable), 1 (a rule violated) or 2 (could not read). Nothing printed carries a
//! SAS signature.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use vmcert_checks::vhd::partition::Table;
use vmcert_checks::vhd::rules::{self, Intent, Role};
use vmcert_checks::{Os, Profile};

use crate::cmd::cli::{Format as OutputFormat, OsArg, RoleArg};
use crate::cmd::rules::{exit_code, results_markdown, write_rules};
use crate::sas::{SasUrl, redact};
use crate::vhd::source::{Blob, LocalFile, Source};
use crate::vhd::{Inspection, inspect};

fn human(i: &Inspection) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    writeln!(out, "{}", i.path)?;
    let mut format = i.format.as_str().to_string();
    if let Some(c) = &i.creator {
        write!(format, ", created by {c}")?;
    }
    if let Some(t) = i.footer.as_ref().and_then(|f| f.timestamp_utc.as_deref()) {
        write!(format, " at {t}")?;
    }
    writeln!(out, "  format        {format}")?;
    match i.virtual_size {
        Some(v) if rules::size(v).ends_with("bytes)") => {
            writeln!(out, "  virtual size  {}", rules::size(v))?
        }
        Some(v) => writeln!(out, "  virtual size  {} ({v} bytes)", rules::size(v))?,
        None => writeln!(out, "  virtual size  unknown")?,
    }
    writeln!(out, "  length        {} bytes", i.file_size)?;
    if let Some(t) = &i.partition_table {
        match t.first_start() {
            Some(s) => writeln!(out, "  partitions    {}, first at sector {s}", t.scheme())?,
            None if *t == Table::None => writeln!(out, "  partitions    no partition table")?,
            None => writeln!(out, "  partitions    {}, no partitions", t.scheme())?,
        }
    }
    if let Some(b) = &i.blob_type {
        writeln!(out, "  blob type     {b}")?;
    }
    write_rules(&mut out, &i.rules)?;
    writeln!(
        out,
        "{} ({} read{})",
        if i.acceptable {
            "acceptable"
        } else {
            "NOT acceptable"
        },
        i.reads,
        if i.reads == 1 { "" } else { "s" }
    )?;
    Ok(out)
}

/// The rules' intent from the command line: `--os` without `--role` means an OS disk.
pub(crate) fn intent(role: Option<RoleArg>, os: Option<OsArg>, profile: Profile) -> Intent {
    let role = match role {
        Some(RoleArg::Os) => Some(Role::Os),
        Some(RoleArg::Data) => Some(Role::Data),
        None => os.map(|_| Role::Os),
    };
    Intent {
        role,
        os: os.map(Os::from),
        profile,
    }
}

/// Default of `vhd inspect --deadline`, in seconds: a few ranged reads take seconds even on a
/// slow link; each request also has its own 60 s timeout.
pub(crate) const DEFAULT_DEADLINE: u64 = 120;

/// Runs `vmcert vhd inspect`; the whole inspection (opening included) must end within
/// `deadline`, else it is an error (exit 2).
pub(crate) fn run(
    target: &str,
    intent: Intent,
    format: OutputFormat,
    deadline: Duration,
) -> anyhow::Result<ExitCode> {
    let target = target.to_owned();
    let started = std::time::Instant::now();
    let inspection = crate::blob::within(deadline, "vhd inspect", "--deadline", move || {
        let is_url = target.starts_with("https://") || target.starts_with("http://");
        let mut src: Box<dyn Source> = if is_url {
            Box::new(Blob::open(SasUrl::parse(&target)?)?)
        } else {
            Box::new(LocalFile::open(Path::new(&target))?)
        };
        inspect(src.as_mut(), intent)
    })?;
    tracing::info!(
        "inspected {} in {:?} with {} reads",
        inspection.path,
        started.elapsed(),
        inspection.reads
    );
    let text = match format {
        OutputFormat::Json => serde_json::to_string_pretty(&inspection)? + "\n",
        OutputFormat::Md => {
            let i = &inspection;
            let mut facts = vec![("format", i.format.as_str().to_string())];
            if let Some(c) = &i.creator {
                facts.push(("created by", c.clone()));
            }
            facts.push((
                "virtual size",
                i.virtual_size
                    .map_or_else(|| "unknown".to_owned(), rules::size),
            ));
            facts.push(("length", format!("{} bytes", i.file_size)));
            results_markdown(&i.path, &facts, &i.rules, i.acceptable)
        }
        OutputFormat::Table => human(&inspection)?,
    };
    print!("{}", redact(&text));
    Ok(exit_code(&inspection.rules))
}
