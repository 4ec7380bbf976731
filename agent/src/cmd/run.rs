//! `vmcert run`: the command-line side of a certification run. Every input is read and checked
//! before anything runs (check packs, waivers, check ids, the report path, the answers file and
//! the questionnaire), so bad input costs nothing and exits 2 with one line; then the probes run
//! once through the transport ([`crate::engine::runner`]), the report zip is written and the summary
//! printed, and the exit status says 0 (no Fail, no Error), 1 (a Fail) or 2 (an Error, or the run
//! could not complete).
//!
//! The target flags become a [`TargetSpec`] first (URL parsed, secrets read, nothing connected);
//! it is connected only after every input passed, and a failed connection exits 2 without a
//! report, while any run that connected writes one.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Local, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use vmcert_checks::pack::{self, PackCheck};
use vmcert_checks::waiver::{self, Waiver};
use vmcert_checks::{Check as _, Os, Profile, Status, fixture};

use crate::cmd::cli::{Format, RunArgs, TargetArgs};
use crate::cmd::questionnaire::{self, AskMode};
use crate::engine::runner::{self, RunLog};
use crate::report::model::{self, QuestionResult, RunInfo, RunReport, Summary, TargetInfo, Tool};
use crate::report::{ReportBundle, write_zip};
use crate::target::Transport;
use crate::target::local::LocalTransport;
use crate::target::script::ProbeResult;
use crate::target::ssh::transport::SshTransport;
use crate::target::ssh::{MethodList, SshSession, SshSetup};
use crate::target::winrm::{self, WinrmSetup, WinrmTransport};

/// Where a run goes, as the target flags say; nothing is connected yet.
enum TargetSpec {
    /// `--local`: this machine.
    Local,
    /// `--target ssh://...`: URL parsed, host key policy and credentials ready.
    Ssh(Box<SshSetup>),
    /// `--target winrm(s)://...`: a Windows VM; URL parsed, password read.
    Winrm(Box<WinrmSetup>),
}

/// A connected target: its transport and what the report says about it.
struct Connected {
    transport: Box<dyn Transport>,
    /// `target` of results.json, without the facts (they come from the probes).
    info: TargetInfo,
    /// Lines for the run log: how the target was reached (never a secret).
    log: Vec<String>,
}

impl TargetSpec {
    /// Reads the target flags: parses the URL and fetches the secrets (environment, stdin or a
    /// prompt) without connecting.
    fn from_args(args: &TargetArgs) -> anyhow::Result<Self> {
        match args.target.as_deref() {
            None => Ok(Self::Local),
            Some(url) if url.starts_with("ssh://") => {
                Ok(Self::Ssh(Box::new(SshSetup::from_args(url, args)?)))
            }
            Some(url) if winrm::is_winrm_url(url) => {
                Ok(Self::Winrm(Box::new(WinrmSetup::from_args(url, args)?)))
            }
            Some(url) => bail!(
                "--target {url}: expected ssh://USER@HOST[:PORT], winrm://USER@HOST[:PORT] or winrms://USER@HOST[:PORT]"
            ),
        }
    }

    /// The OS the target runs, known from the transport before connecting.
    fn os(&self) -> Os {
        match self {
            Self::Local | Self::Ssh(_) => Os::Linux,
            Self::Winrm(_) => Os::Windows,
        }
    }

    /// The host, for the default run name.
    fn host(&self) -> String {
        match self {
            Self::Local => local_hostname(),
            Self::Ssh(setup) => setup.target.host.clone(),
            Self::Winrm(setup) => setup.target.host.trim_matches(['[', ']']).to_string(),
        }
    }

    /// How the run was asked for, for the `source` of a `--record`ed fixture case.
    fn record_source(&self) -> String {
        match self {
            Self::Local => format!("vmcert run --local on {}", local_hostname()),
            Self::Ssh(setup) => format!("vmcert run --target {}", setup.target),
            Self::Winrm(setup) => format!("vmcert run --target {}", setup.target),
        }
    }

    /// `this machine (local)` or the URL, for the run log.
    fn describe(&self) -> String {
        match self {
            Self::Local => "this machine (local)".to_string(),
            Self::Ssh(setup) => setup.target.to_string(),
            Self::Winrm(setup) => setup.target.to_string(),
        }
    }

    /// Connects (and logs in); nothing to do for `--local`.
    fn connect(&self) -> anyhow::Result<Connected> {
        match self {
            Self::Local => Ok(Connected {
                transport: Box::new(LocalTransport::new()),
                info: TargetInfo {
                    transport: "local".to_string(),
                    host: "localhost".to_string(),
                    port: None,
                    user: std::env::var("USER")
                        .or_else(|_| std::env::var("LOGNAME"))
                        .ok(),
                    os: self.os(),
                    facts: Default::default(),
                },
                log: Vec::new(),
            }),
            Self::Ssh(setup) => {
                let session = SshSession::connect(setup, MethodList::OnRefusal)?;
                let t = session.target();
                let key = session.host_key();
                let log = vec![
                    format!(
                        "connected to {t} ({}, {}) in {} ms",
                        session.peer(),
                        session.server_banner(),
                        session.setup_time().as_millis()
                    ),
                    format!(
                        "host key {} {}: {}",
                        key.key.key_type,
                        key.key.fingerprint(),
                        key.trust
                    ),
                    format!("logged in with {}", session.auth().method),
                ];
                let info = TargetInfo {
                    transport: "ssh".to_string(),
                    host: t.host.clone(),
                    port: Some(t.port),
                    user: Some(t.user.clone()),
                    os: self.os(),
                    facts: Default::default(),
                };
                Ok(Connected {
                    transport: Box::new(SshTransport::new(session)),
                    info,
                    log,
                })
            }
            Self::Winrm(setup) => {
                let transport = WinrmTransport::connect(setup)?;
                let t = &setup.target;
                let log = vec![format!(
                    "connected to {t} in {} ms (one shell, one PowerShell)",
                    transport.connect_ms()
                )];
                let info = TargetInfo {
                    transport: transport.kind().to_string(),
                    host: t.host.clone(),
                    port: Some(t.port),
                    user: Some(t.user.clone()),
                    os: self.os(),
                    facts: Default::default(),
                };
                Ok(Connected {
                    transport: Box::new(transport),
                    info,
                    log,
                })
            }
        }
    }
}

/// Runs `vmcert run`.
pub(crate) fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let plan = Plan::prepare(args)?;
    // From here on Ctrl-C keeps what finished (see `interrupt`); the questionnaire is behind us.
    crate::interrupt::watch().context("cannot watch for Ctrl-C")?;
    let done = plan.execute(&RunWatch::default())?;
    let text = match args.format {
        Format::Json => summary_json(&done.bundle.results, &done.out, done.code)?,
        Format::Table | Format::Md => summary_text(&done.bundle.results, &done.out),
    };
    print!("{text}");
    done.written?;
    if let Some(url) = &args.upload {
        // The zip is complete on disk before the upload starts; a failed upload leaves it there.
        let url = crate::sas::url_arg(url).context("--upload")?;
        let outcome = crate::upload::upload_report(&done.out, &url).with_context(|| {
            format!(
                "the report is kept at {} but could not be uploaded",
                done.out.display()
            )
        })?;
        eprintln!("{}", crate::sas::redact(&outcome.to_string()));
    }
    Ok(ExitCode::from(done.code))
}

/// One target's run with every input read and checked (check packs, waivers, check ids, the
/// report path, the questionnaire, the target's URL and secrets); nothing is connected yet.
/// `vmcert run` executes one, `vmcert fleet` one per target.
pub(crate) struct Plan {
    spec: TargetSpec,
    name: String,
    out: PathBuf,
    profile: Profile,
    timeout: u64,
    packs: Vec<PackCheck>,
    waivers: Vec<Waiver>,
    only: Vec<String>,
    skip: Vec<String>,
    questions: Vec<QuestionResult>,
    notes: String,
    record: Option<PathBuf>,
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
    /// Reads and checks everything `args` names. Prompts (questionnaire, password) only when
    /// stdin is a terminal and `--non-interactive` is not given.
    ///
    /// # Errors
    /// Bad input of any kind, as one line.
    pub(crate) fn prepare(args: &RunArgs) -> anyhow::Result<Self> {
        let mut target_args = args.target.clone();
        target_args.no_prompt |= args.non_interactive;
        let spec = TargetSpec::from_args(&target_args)?;
        if let Some(url) = &args.upload {
            crate::upload::container_url(&crate::sas::url_arg(url).context("--upload")?)
                .context("--upload")?;
        }
        if args.timeout == 0 {
            bail!("--timeout must be at least 1 second");
        }
        let os = spec.os();
        let launched = Local::now();
        let packs = load_packs(&args.check_pack)?;
        let waivers = load_waivers(args.waivers.as_deref())?;
        runner::validate_waivers(&waivers, &packs)?;
        let selected = runner::select(os, &packs, &args.checks, &args.skip)?;
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
        let answers = questionnaire::load_answers(args.answers.as_deref(), os)?;
        let mode = if std::io::stdin().is_terminal() && !args.non_interactive {
            AskMode::Prompt
        } else if args.allow_unanswered {
            AskMode::AllowUnanswered
        } else {
            AskMode::RequireAll
        };
        let (questions, notes) = questionnaire::complete(answers, os, mode)?;
        Ok(Self {
            spec,
            name,
            out,
            profile: Profile::from(args.profile),
            timeout: args.timeout,
            packs,
            waivers,
            only: args.checks.clone(),
            skip: args.skip.clone(),
            questions,
            notes,
            record: args.record.clone(),
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
        let specs = runner::probe_specs(os, &selected, self.timeout)?;
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
            "vmcert {} run `{name}` on {}, {os}, profile {profile}, per-probe timeout {} s",
            env!("CARGO_PKG_VERSION"),
            self.spec.describe(),
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
            &mut log,
            &mut |r, done, total| watch.probe(r, done, total),
        );
        watch.gathered();
        let checks = runner::evaluate(&selected, &gathered, &self.waivers, today, &mut log);
        let summary = runner::summarize(&checks, &self.questions);
        let code = runner::exit_code(&checks, gathered.interrupted.is_some());
        target.facts = match os {
            Os::Windows => runner::windows_facts(&gathered.evidence, &mut log),
            Os::Linux => runner::linux_facts(&gathered.evidence, &mut log),
        };
        // Disconnects (SSH) before the report is written: nothing else goes to the target.
        drop(transport);
        let finished = Utc::now();
        log.line(format!(
            "finished in {} ms: {} pass, {} warning, {} fail, {} not applicable, {} error ({} waived); exit {code}",
            (finished - started).num_milliseconds(),
            summary.pass,
            summary.warning,
            summary.fail,
            summary.not_applicable,
            summary.error,
            summary.waived
        ));

        if let Some(dir) = &self.record {
            record(
                dir,
                &gathered.evidence,
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
            summary,
            checks,
            questionnaire: self.questions.clone(),
        };
        let bundle = ReportBundle {
            results,
            evidence: gathered.evidence,
            probe_logs: gathered.probe_logs,
            notes: self.notes.clone(),
            run_log: log.into_text(),
        };
        let written = write_zip(&self.out, &bundle).map_err(|e| {
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
            let text = std::fs::read_to_string(&file)
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
        std::fs::read_to_string(path).with_context(|| format!("--waivers {}", path.display()))?;
    Ok(waiver::parse(&path.display().to_string(), &text)?)
}

/// This machine's host name, as the kernel knows it.
fn local_hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
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

/// `vmcert run`'s live progress on stderr: a spinner on a terminal, one plain line per probe
/// otherwise.
#[derive(Default)]
struct RunWatch {
    bar: OnceLock<ProgressBar>,
}

impl Watch for RunWatch {
    fn connecting(&self, _target: &str) {}

    fn running(&self, total: usize, transport: &str) {
        if !std::io::stderr().is_terminal() {
            eprintln!("vmcert: running {total} probes ({transport})");
            return;
        }
        let bar = ProgressBar::new(total as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} probes {pos}/{len} {elapsed} {wide_msg}")
        {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        let _ = self.bar.set(bar);
    }

    fn probe(&self, r: &ProbeResult, done: usize, total: usize) {
        let what = probe_outcome(r);
        match self.bar.get() {
            Some(bar) => {
                bar.set_position(done as u64);
                bar.set_message(format!("{} ({what})", r.id));
            }
            None => eprintln!(
                "vmcert: [{done}/{total}] {} ({what}, {} ms)",
                r.id, r.output.duration_ms
            ),
        }
    }

    fn gathered(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}

/// A probe's outcome in a few words, for progress displays.
pub(crate) fn probe_outcome(r: &ProbeResult) -> String {
    let o = &r.output;
    match (&o.error, o.timed_out, o.exit_code) {
        (Some(_), _, _) => "not run".to_string(),
        (None, true, _) => "timed out".to_string(),
        (None, false, Some(c)) => format!("exit {c}"),
        (None, false, None) => "no exit status".to_string(),
    }
}

pub(crate) fn summary_line(s: &Summary) -> String {
    format!(
        "{} pass, {} warning, {} fail, {} not applicable, {} error ({} waived); certified: {}",
        s.pass,
        s.warning,
        s.fail,
        s.not_applicable,
        s.error,
        s.waived,
        if s.certified { "yes" } else { "no" }
    )
}

fn summary_text(r: &RunReport, out: &Path) -> String {
    let mut t = String::new();
    let w = r.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    let _ = writeln!(
        t,
        "vmcert run `{}` on {} ({}, profile {})",
        r.run.name, r.target.host, r.target.os, r.run.profile
    );
    for c in &r.checks {
        let status = match c.status {
            Status::NotApplicable => "N/A",
            s => s.as_str(),
        };
        let waived = if c.waived.is_some() { " (waived)" } else { "" };
        let detail = if c.status == Status::Pass || c.message.is_empty() {
            &c.actual
        } else {
            &c.message
        };
        let _ = writeln!(t, "  {status:<8} {:<w$}  {detail}{waived}", c.id);
    }
    if let Some(why) = &r.run.interrupted_reason {
        let _ = writeln!(t, "Run interrupted: {why}");
    }
    if r.summary.questionnaire_warnings > 0 {
        let _ = writeln!(
            t,
            "Questionnaire: {} warning(s)",
            r.summary.questionnaire_warnings
        );
    }
    let _ = writeln!(t, "Summary: {}", summary_line(&r.summary));
    let _ = writeln!(t, "Report: {}", out.display());
    t
}

fn summary_json(r: &RunReport, out: &Path, code: u8) -> anyhow::Result<String> {
    let checks: Vec<serde_json::Value> = r
        .checks
        .iter()
        .map(
            |c| serde_json::json!({ "id": c.id, "status": c.status, "waived": c.waived.is_some() }),
        )
        .collect();
    let v = serde_json::json!({
        "report": out.display().to_string(),
        "run_id": r.run.id,
        "interrupted": r.run.interrupted_reason,
        "exit_code": code,
        "summary": r.summary,
        "checks": checks,
    });
    Ok(serde_json::to_string_pretty(&v)? + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use clap::Parser as _;

    fn target_spec(args: &[&str]) -> anyhow::Result<TargetSpec> {
        let cli = crate::cmd::cli::Cli::try_parse_from(
            ["vmcert", "run"].iter().chain(args).collect::<Vec<_>>(),
        )?;
        match cli.command {
            crate::cmd::cli::Command::Run(run) => TargetSpec::from_args(&run.target),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn targets_are_read_without_connecting() {
        assert!(matches!(target_spec(&["--local"]), Ok(TargetSpec::Local)));
        for (args, want) in [
            (
                vec!["--target", "ftp://u@h"],
                "--target ftp://u@h: expected ssh://USER@HOST[:PORT], winrm://",
            ),
            (
                vec!["--target", "winrms://u@h"],
                "no password given and no terminal to ask on",
            ),
            (
                vec!["--target", "ssh://u:Secret-1@h"],
                "--target ssh://u:<redacted>@h: a password in the URL is not accepted",
            ),
        ] {
            let e = target_spec(&args).err().expect("refused");
            assert!(e.to_string().starts_with(want), "{e}");
        }
    }

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
