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

/// What was read off the disk, as (name, value) lines: the same for the text and the Markdown.
fn facts(i: &Inspection) -> Vec<(&'static str, String)> {
    let mut format = i.format.as_str().to_string();
    if let Some(c) = &i.creator {
        let _ = write!(format, ", created by {c}");
    }
    if let Some(t) = i.footer.as_ref().and_then(|f| f.timestamp_utc.as_deref()) {
        let _ = write!(format, " at {t}");
    }
    let mut facts = vec![("format", format)];
    facts.push((
        "virtual size",
        match i.virtual_size {
            Some(v) if rules::size(v).ends_with("bytes)") => rules::size(v),
            Some(v) => format!("{} ({v} bytes)", rules::size(v)),
            None => "unknown".to_owned(),
        },
    ));
    facts.push(("length", format!("{} bytes", i.file_size)));
    if let Some(t) = &i.partition_table {
        facts.push((
            "partitions",
            match t.first_start() {
                Some(s) => format!("{}, first at sector {s}", t.scheme()),
                None if *t == Table::None => "no partition table".to_owned(),
                None => format!("{}, no partitions", t.scheme()),
            },
        ));
    }
    if let Some(b) = &i.blob_type {
        facts.push(("blob type", b.clone()));
    }
    facts
}

fn reads(i: &Inspection) -> String {
    format!("{} read{}", i.reads, if i.reads == 1 { "" } else { "s" })
}

fn human(i: &Inspection) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    writeln!(out, "{}", i.path)?;
    for (name, value) in facts(i) {
        writeln!(out, "  {name:<13} {value}")?;
    }
    write_rules(&mut out, &i.rules)?;
    writeln!(
        out,
        "{} ({})",
        if i.acceptable {
            "acceptable"
        } else {
            "NOT acceptable"
        },
        reads(i)
    )?;
    Ok(out)
}

/// The Markdown of `--format md`: the path as a heading, the facts as a list, the verdict and
/// a table of the rules, every value escaped so that it stays in its cell.
fn markdown(i: &Inspection) -> String {
    let mut facts = facts(i);
    facts.push(("reads", i.reads.to_string()));
    results_markdown(&i.path, &facts, &i.rules, i.acceptable)
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
        OutputFormat::Md => markdown(&inspection),
        OutputFormat::Table => human(&inspection)?,
    };
    print!("{}", redact(&text));
    Ok(exit_code(&inspection.rules))
}
