//! One target's run from start to finish: every input read and checked first (check packs,
//! waivers, check ids, the report path, the answers file, the target's locator and secrets), so
//! bad input costs nothing and is one line; then connect, gather the probes once
//! ([`crate::engine::runner`]) and evaluate ([`Plan::check`], which disconnects), and write the
//! report zip with the questionnaire's answers ([`Checked::finish`]). Between the two,
//! `vmcert run` asks the questions the answers file left open, with the results on screen;
//! `vmcert fleet` executes one plan per target in one go ([`Plan::execute`]), each watched
//! through a [`Watch`].
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
use crate::engine::runner::{self, FailOn, Gathered, RunLog};
use crate::report::ReportBundle;
use crate::report::model::{self, CheckResult, RunInfo, RunReport, TargetInfo, Tool};
use crate::report::sign::ReportSigner;
use crate::report::write::write_zip_signed;
use crate::target::open::{Connected, TargetSpec, open};
use crate::target::script::ProbeResult;

/// One target's run with every input read and checked (check packs, waivers, check ids, the
/// report path, the answers file, the target's URL and secrets); nothing is connected yet.
/// `vmcert run` executes one, `vmcert fleet` one per target.
pub(crate) struct Plan {
    spec: Box<dyn TargetSpec>,
    name: String,
    out: PathBuf,
    profile: Profile,
    phase: Phase,
    timeout: u64,
    update_search_timeout: u64,
    output_budget: u64,
    packs: Vec<PackCheck>,
    waivers: Vec<Waiver>,
    only: Vec<String>,
    skip: Vec<String>,
    answers: questionnaire::Answers,
    ask: questionnaire::AskMode,
    save_answers: Option<PathBuf>,
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
    /// Reads and checks everything `config` names. Prompts (for a password) only when the
    /// configuration allows it and stdin is a terminal; the questionnaire comes after the checks
    /// ([`Plan::questionnaire`]).
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
        if !(1 << 20..=crate::engine::budget::MAX_OUTPUT_BUDGET).contains(&args.output_budget) {
            bail!(
                "--output-budget must be between 1 and {} MiB",
                crate::engine::budget::MAX_OUTPUT_BUDGET >> 20
            );
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
        questionnaire::check_complete(&answers, os, args.ask)?;
        Ok(Self {
            spec,
            name,
            out,
            profile: args.profile,
            phase: args.phase,
            timeout: args.timeout,
            update_search_timeout: args.update_search_timeout,
            output_budget: args.output_budget,
            packs,
            waivers,
            only: args.only.clone(),
            skip: args.skip.clone(),
            answers,
            ask: args.ask,
            save_answers: args.save_answers.clone(),
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

    /// The threshold profile.
    pub(crate) fn profile(&self) -> Profile {
        self.profile
    }

    /// The phase: the build VM or a VM deployed from the finished image.
    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// The answers of the answers file (none without one).
    pub(crate) fn answers(&self) -> &questionnaire::Answers {
        &self.answers
    }

    /// The questions to ask once the checks have run, when the run asks them at all (at a
    /// terminal, and a required one is unanswered).
    pub(crate) fn questionnaire(&self) -> Option<questionnaire::Session> {
        questionnaire::session(
            &self.answers,
            self.spec.os(),
            self.ask,
            self.save_answers.as_deref(),
        )
    }

    /// Connects, runs the probes once, evaluates the checks and writes the report zip with the
    /// answers file's answers: [`Plan::check`] then [`Checked::finish`].
    ///
    /// # Errors
    /// As [`Plan::check`].
    pub(crate) fn execute(&self, watch: &dyn Watch) -> anyhow::Result<Done> {
        Ok(self.check(watch)?.finish(&self.answers, None))
    }

    /// Connects, runs the probes once, evaluates the checks and disconnects; the report is
    /// written by [`Checked::finish`].
    ///
    /// # Errors
    /// The target could not be reached or logged in to (no report then), or `--record` could not
    /// be written.
    pub(crate) fn check(&self, watch: &dyn Watch) -> anyhow::Result<Checked<'_>> {
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
            self.output_budget,
            self.phase,
            &mut log,
            &mut |r, done, total| watch.probe(r, done, total),
        );
        watch.gathered();
        let checks = runner::evaluate(&selected, &gathered, &self.waivers, today, &mut log);
        target.facts = match os {
            Os::Windows => runner::windows_facts(&gathered.evidence, &mut log),
            Os::Linux => runner::linux_facts(&gathered.evidence, &mut log),
        };
        // Disconnects (SSH) before the questionnaire and the report: nothing else goes to the
        // target, and no connection is held open while someone answers.
        drop(transport);

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
        Ok(Checked {
            plan: self,
            started,
            target,
            gathered,
            checks,
            log,
        })
    }
}

/// A run whose checks have been evaluated and whose report is still to be written (the
/// questionnaire may be asked meanwhile).
pub(crate) struct Checked<'a> {
    plan: &'a Plan,
    started: DateTime<Utc>,
    target: TargetInfo,
    gathered: Gathered,
    checks: Vec<CheckResult>,
    log: RunLog,
}

impl Checked<'_> {
    /// Every check's result, in selection order.
    pub(crate) fn checks(&self) -> &[CheckResult] {
        &self.checks
    }

    /// The target as the report describes it.
    pub(crate) fn target(&self) -> &TargetInfo {
        &self.target
    }

    /// Why the probe run stopped early, if it did.
    pub(crate) fn interrupted(&self) -> Option<&str> {
        self.gathered.interrupted.as_deref()
    }

    /// Writes the report zip with `answers`. `stopped` says why the run was stopped after the
    /// checks (Ctrl-C during the questionnaire): the run is then marked interrupted with that
    /// reason, as one stopped during the probes is.
    pub(crate) fn finish(self, answers: &questionnaire::Answers, stopped: Option<String>) -> Done {
        let Self {
            plan,
            started,
            target,
            gathered,
            checks,
            mut log,
        } = self;
        let os = plan.spec.os();
        let (questions, notes) = questionnaire::results(answers, os);
        let unanswered = questions
            .iter()
            .filter(|q| q.answer.is_none() && q.status == vmcert_checks::Status::Warning)
            .count();
        log.line(format!(
            "questionnaire: {} question(s), {unanswered} required one(s) unanswered",
            questions.len()
        ));
        let interrupted_reason = gathered.interrupted.clone().or(stopped);
        if let Some(why) = interrupted_reason
            .as_deref()
            .filter(|_| gathered.interrupted.is_none())
        {
            log.line(format!("the run was stopped after the checks: {why}"));
        }
        let interrupted = interrupted_reason.is_some();
        let scope = runner::scope(os, &plan.skip, &checks, plan.phase);
        let summary =
            runner::summarize(&checks, &questions, &scope, &target.transport, interrupted);
        let code = runner::exit_code(&summary, interrupted, plan.fail_on);
        let finished = Utc::now();
        log.line(format!(
            "finished in {} ms: {}; exit {code}",
            (finished - started).num_milliseconds(),
            summary.line()
        ));
        let results = RunReport {
            schema: model::SCHEMA.to_string(),
            tool: Tool {
                name: "vmcert".to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            },
            run: RunInfo {
                id: uuid::Uuid::new_v4().to_string(),
                name: plan.name.clone(),
                started: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                finished: finished.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                profile: plan.profile.as_str().to_string(),
                interrupted,
                interrupted_reason,
            },
            target,
            scope,
            summary,
            checks,
            questionnaire: questions,
        };
        if let Some(s) = &plan.signer {
            log.line(format!("the report is signed with key {}", s.fingerprint()));
        }
        let bundle = ReportBundle {
            results,
            evidence: gathered.evidence,
            probe_logs: gathered.probe_logs,
            notes,
            run_log: log.into_text(),
        };
        let written = write_zip_signed(&plan.out, &bundle, plan.signer.as_ref()).map_err(|e| {
            e.context(format!(
                "the run finished but the report could not be written to {}",
                plan.out.display()
            ))
        });
        Done {
            bundle,
            code,
            out: plan.out.clone(),
            written,
        }
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
