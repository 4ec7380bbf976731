//! One target's run from start to finish: every input read and checked first (check packs,
//! waivers, check ids, the report path, the answers and the questionnaire, the target's locator
//! and secrets), so bad input costs nothing and is one line; then connect, gather the probes once
//! ([`crate::engine::runner`]), evaluate, and write the report zip. `vmcert run` executes one
//! plan, `vmcert fleet` one per target, each watching it through a [`Watch`].
//!
//! A failed connection ends the plan without a report; any run that connected writes one, and a
//! report that could not be written is returned beside the finished result, never instead of it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use chrono::{DateTime, Local, Utc};
use vmcert_checks::pack::{self, PackCheck};
use vmcert_checks::waiver::{self, Waiver};
use vmcert_checks::{Check as _, Os, Phase, Profile, fixture};

use crate::engine::config::RunConfig;
use crate::engine::questionnaire;
use crate::engine::runner::{self, FailOn, RunLog};
use crate::report::ReportBundle;
use crate::report::model::{self, QuestionResult, RunInfo, RunReport, Tool};
use crate::report::sign::ReportSigner;
use crate::report::write::write_zip_signed;
use crate::target::open::{Connected, TargetSpec, open};
use crate::target::script::ProbeResult;

/// One target's run with every input read and checked (check packs, waivers, check ids, the
/// report path, the questionnaire, the target's URL and secrets); nothing is connected yet.
/// `vmcert run` executes one, `vmcert fleet` one per target.
pub(crate) struct Plan {
    spec: Box<dyn TargetSpec>,
    name: String,
    out: PathBuf,
    profile: Profile,
    phase: Phase,
    timeout: u64,
    update_search_timeout: u64,
    packs: Vec<PackCheck>,
    waivers: Vec<Waiver>,
    only: Vec<String>,
    skip: Vec<String>,
    questions: Vec<QuestionResult>,
    notes: String,
    record: Option<PathBuf>,
    fail_on: FailOn,
    signer: Option<ReportSigner>,
    launched: DateTime<Local>,
}

/// What an executed [`Plan`] left: the report, the exit code, and whether the zip was written.
pub(crate) struct Done {
    /// Everything the zip holds.
    pub bundle: ReportBundle,
    /// 0, 1 or 2 as the interface contract says.
    pub code: u8,
    /// Where the zip was written.
    pub out: PathBuf,
    /// The error writing the zip, with context saying the run itself finished.
    pub written: anyhow::Result<()>,
}

/// Sees one target's run as it goes (the live progress display of `run` and `fleet`).
pub(crate) trait Watch {
    /// The connection is being made.
    fn connecting(&self, target: &str);
    /// Connected: `probes` probes are about to run through `transport`.
    fn running(&self, probes: usize, transport: &str);
    /// A probe finished; `done` of `total` have.
    fn probe(&self, r: &ProbeResult, done: usize, total: usize);
    /// The probes are all in (or the run stopped).
    fn gathered(&self);
}

impl Plan {
    /// Reads and checks everything `config` names. Prompts (questionnaire, password) only when
    /// the configuration allows it and stdin is a terminal.
    ///
    /// # Errors
    /// Bad input of any kind, as one line.
    pub(crate) fn prepare(config: &RunConfig) -> anyhow::Result<Self> {
        let args = config;
        let spec = open(&config.target)?;
        if args.timeout == 0 {
            bail!("--timeout must be at least 1 second");
        }
        if args.update_search_timeout == 0 {
            bail!("--update-search-timeout must be at least 1 second");
        }
        for (flag, secs) in [
            ("--timeout", args.timeout),
            ("--update-search-timeout", args.update_search_timeout),
        ] {
            if secs > crate::target::script::MAX_TIMEOUT {
                bail!(
                    "{flag} must be at most {} seconds (a day)",
                    crate::target::script::MAX_TIMEOUT
                );
            }
        }
        let os = spec.os();
        if args.phase == Phase::Build && spec.is_disk_image() {
            bail!(
                "--phase build is for a run inside the build VM before deprovisioning; a disk \
                 image is already captured (leave --phase at final)"
            );
        }
        let launched = Local::now();
        let packs = load_packs(&args.check_packs)?;
        let waivers = load_waivers(args.waivers.as_deref())?;
        runner::validate_waivers(&waivers, &packs)?;
        let selected = runner::select(os, &packs, &args.only, &args.skip)?;
        if selected.is_empty() {
            bail!("no check is left to run after --checks/--skip");
        }
        drop(selected);
        let name = args.name.clone().unwrap_or_else(|| spec.host());
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| default_out(&name, launched));
        check_writable(&out)?;
        if let Some(dir) = &args.record {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("--record {}: cannot create the directory", dir.display())
            })?;
        }
        let signer = args
            .sign_key
            .as_deref()
            .map(ReportSigner::from_file)
            .transpose()
            .context("--sign-key")?;
        let answers = questionnaire::load_answers(args.answers.as_deref(), os)?;
        let (questions, notes) =
            questionnaire::complete(answers, os, args.ask, args.save_answers.as_deref())?;
        Ok(Self {
            spec,
            name,
            out,
            profile: args.profile,
            phase: args.phase,
            timeout: args.timeout,
            update_search_timeout: args.update_search_timeout,
            packs,
            waivers,
            only: args.only.clone(),
            skip: args.skip.clone(),
            questions,
            notes,
            record: args.record.clone(),
            fail_on: args.fail_on,
            signer,
            launched,
        })
    }

    /// The run's name (the report's `run.name`).
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The target, for display: `this machine (local)` or the URL (never a secret).
    pub(crate) fn describe(&self) -> String {
        self.spec.describe()
    }

    /// Connects, runs the probes once, evaluates the checks and writes the report zip.
    ///
    /// # Errors
    /// The target could not be reached or logged in to (no report then), or `--record` could not
    /// be written. A report that could not be written is in [`Done::written`] instead, so the
    /// finished result is still shown.
    pub(crate) fn execute(&self, watch: &dyn Watch) -> anyhow::Result<Done> {
        let os = self.spec.os();
        let profile = self.profile;
        let name = self.name.clone();
        let selected = runner::select(os, &self.packs, &self.only, &self.skip)?;
        let mut specs = runner::probe_specs(os, &selected, self.timeout)?;
        runner::long_timeouts(os, &mut specs, self.update_search_timeout);
        watch.connecting(&self.spec.describe());
        let Connected {
            mut transport,
            info: mut target,
            log: connect_log,
        } = self.spec.connect()?;

        let mut log = RunLog::default();
        let started = Utc::now();
        let today = self.launched.date_naive();
        log.line(format!(
            "vmcert {} run `{name}` on {}, {os}, profile {profile}, phase {}, per-probe timeout {} s",
            env!("CARGO_PKG_VERSION"),
            self.spec.describe(),
            self.phase,
            self.timeout
        ));
        for line in connect_log {
            log.line(line);
        }
        for p in &self.packs {
            log.line(format!(
                "check pack {}:{}: check {} ({})",
                p.file(),
                p.line(),
                p.meta().id,
                p.meta().os
            ));
        }
        for w in &self.waivers {
            let state = if w.is_expired(today) {
                "expired, not applied"
            } else {
                "valid"
            };
            log.line(format!(
                "waiver {}:{} for {} until {}: {state}",
                w.file,
                w.line,
                w.check,
                w.expires_text()
            ));
        }
        log.line(format!(
            "checks: {}",
            selected
                .iter()
                .map(|s| s.check.meta().id)
                .collect::<Vec<_>>()
                .join(", ")
        ));

        watch.running(specs.len(), transport.kind());
        let gathered = runner::gather(
            transport.as_mut(),
            &specs,
            profile,
            self.phase,
            &mut log,
            &mut |r, done, total| watch.probe(r, done, total),
        );
        watch.gathered();
        let checks = runner::evaluate(&selected, &gathered, &self.waivers, today, &mut log);
        let interrupted = gathered.interrupted.is_some();
        let scope = runner::scope(os, &self.skip, &checks, self.phase);
        let summary = runner::summarize(
            &checks,
            &self.questions,
            &scope,
            &target.transport,
            interrupted,
        );
        let code = runner::exit_code(&summary, interrupted, self.fail_on);
        target.facts = match os {
            Os::Windows => runner::windows_facts(&gathered.evidence, &mut log),
            Os::Linux => runner::linux_facts(&gathered.evidence, &mut log),
        };
        // Disconnects (SSH) before the report is written: nothing else goes to the target.
        drop(transport);
        let finished = Utc::now();
        log.line(format!(
            "finished in {} ms: {}; exit {code}",
            (finished - started).num_milliseconds(),
            summary.line()
        ));

        if let Some(dir) = &self.record {
            // Only what the chosen checks read: a fixture case holds no probe that its check
            // does not use (the report's fact probes are left out unless a check reads them).
            let asked: HashSet<&str> = selected
                .iter()
                .flat_map(|s| s.check.probes().iter().copied())
                .collect();
            record(
                dir,
                &gathered.evidence.restricted_to(|id| asked.contains(id)),
                &format!("{} at {}", self.spec.record_source(), started.to_rfc3339()),
            )?;
            log.line(format!("raw evidence recorded in {}", dir.display()));
        }

        let results = RunReport {
            schema: model::SCHEMA.to_string(),
            tool: Tool {
                name: "vmcert".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            run: RunInfo {
                id: uuid::Uuid::new_v4().to_string(),
                name,
                started: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                finished: finished.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                profile: profile.as_str().to_string(),
                interrupted: gathered.interrupted.is_some(),
                interrupted_reason: gathered.interrupted.clone(),
            },
            target,
            scope,
            summary,
            checks,
            questionnaire: self.questions.clone(),
        };
        if let Some(s) = &self.signer {
            log.line(format!("the report is signed with key {}", s.fingerprint()));
        }
        let bundle = ReportBundle {
            results,
            evidence: gathered.evidence,
            probe_logs: gathered.probe_logs,
            notes: self.notes.clone(),
            run_log: log.into_text(),
        };
        let written = write_zip_signed(&self.out, &bundle, self.signer.as_ref()).map_err(|e| {
            e.context(format!(
                "the run finished but the report could not be written to {}",
                self.out.display()
            ))
        });
        Ok(Done {
            bundle,
            code,
            out: self.out.clone(),
            written,
        })
    }
}

/// Reads every `--check-pack` (a file, or each `*.toml` of a directory, in name order).
fn load_packs(paths: &[PathBuf]) -> anyhow::Result<Vec<PackCheck>> {
    let mut files: Vec<(String, String)> = Vec::new();
    for path in paths {
        let meta =
            std::fs::metadata(path).with_context(|| format!("--check-pack {}", path.display()))?;
        let mut members = if meta.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("--check-pack {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
                .collect();
            v.sort();
            if v.is_empty() {
                bail!(
                    "--check-pack {}: the directory holds no .toml file",
                    path.display()
                );
            }
            v
        } else {
            vec![path.clone()]
        };
        for file in members.drain(..) {
            let text = super::input::read_text(&file)
                .with_context(|| format!("--check-pack {}", file.display()))?;
            files.push((file.display().to_string(), text));
        }
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    Ok(pack::parse_all(&refs)?)
}

fn load_waivers(path: Option<&Path>) -> anyhow::Result<Vec<Waiver>> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let text =
        super::input::read_text(path).with_context(|| format!("--waivers {}", path.display()))?;
    Ok(waiver::parse(&path.display().to_string(), &text)?)
}

/// `<name>_<yyyyMMdd-HHmmss>.zip`, with characters unsafe in a file name replaced by `_`.
fn default_out(name: &str, at: DateTime<Local>) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    PathBuf::from(format!("{safe}_{}.zip", at.format("%Y%m%d-%H%M%S")))
}

/// Fails unless the report can be written at `out`, so a long run never ends without its report.
fn check_writable(out: &Path) -> anyhow::Result<()> {
    let shown = out.display();
    if out.is_dir() {
        bail!("cannot write the report to {shown}: it is a directory");
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        bail!(
            "cannot write the report to {shown}: directory {} does not exist",
            parent.display()
        );
    }
    tempfile::Builder::new()
        .prefix(".vmcert-write-test")
        .tempfile_in(parent)
        .with_context(|| format!("cannot write the report to {shown}"))?;
    if out.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .open(out)
            .with_context(|| format!("cannot write the report to {shown}"))?;
    }
    Ok(())
}

/// Writes the raw evidence as a fixture case (`case.toml` plus `<probe>.stdout`/`.stderr`).
fn record(dir: &Path, ev: &vmcert_checks::Evidence, source: &str) -> anyhow::Result<()> {
    let (case, files) = fixture::to_files(ev, source);
    let toml = toml::to_string(&case).context("serializing case.toml")?;
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(dir.join(name), bytes)
            .with_context(|| format!("--record: cannot write {}", dir.join(name).display()))
    };
    write("case.toml", toml.as_bytes())?;
    for (name, bytes) in files {
        write(&name, &bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn default_out_name_is_name_and_local_time() {
        let at = Local.with_ymd_and_hms(2026, 11, 21, 10, 15, 0).unwrap();
        assert_eq!(
            default_out("myimage", at),
            PathBuf::from("myimage_20261121-101500.zip")
        );
        assert_eq!(
            default_out("a b/c", at),
            PathBuf::from("a_b_c_20261121-101500.zip")
        );
    }

    #[test]
    fn unwritable_report_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_writable(dir.path()).unwrap_err();
        assert!(e.to_string().ends_with("it is a directory"), "{e}");
        let e = check_writable(&dir.path().join("no/such/r.zip")).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let e = check_writable(Path::new("/proc/r.zip")).unwrap_err();
        assert!(
            format!("{e:#}").starts_with("cannot write the report to /proc/r.zip: "),
            "{e:#}"
        );
        check_writable(&dir.path().join("r.zip")).unwrap();
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "the write test left a file"
        );
    }

    #[test]
    fn packs_load_from_files_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let one = "[[check]]\nid = \"one\"\ntitle = \"t\"\nos = \"linux\"\ncommand = \"true\"\n";
        std::fs::write(dir.path().join("b.toml"), one.replace("one", "two")).unwrap();
        std::fs::write(dir.path().join("a.toml"), one).unwrap();
        std::fs::write(dir.path().join("README.md"), "not a pack").unwrap();
        let packs = load_packs(&[dir.path().to_path_buf()]).unwrap();
        let ids: Vec<&str> = packs.iter().map(|p| p.meta().id).collect();
        assert_eq!(ids, ["one", "two"]);
        let e = load_packs(&[dir.path().to_path_buf(), dir.path().join("a.toml")]).unwrap_err();
        let a = dir.path().join("a.toml");
        assert_eq!(
            e.to_string(),
            format!(
                "{}:2: check id `one` is already defined at {}:2",
                a.display(),
                a.display()
            )
        );
        let empty = tempfile::tempdir().unwrap();
        let e = load_packs(&[empty.path().to_path_buf()]).unwrap_err();
        assert!(
            e.to_string().ends_with("the directory holds no .toml file"),
            "{e}"
        );
    }
}
