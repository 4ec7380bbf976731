//! `vmcert fleet`: certify many targets at once from an inventory file. Each target is turned
//! into the same options `vmcert run` takes and goes through the very same [`Plan`] (inputs
//! checked, connect, one probe script, report zip), so a fleet run of one target and `vmcert run`
//! cannot drift apart. Every target's inputs are checked before anything connects: a bad
//! inventory costs nothing and exits 2 with `file:line`.
//!
//! Targets run concurrently, at most `--jobs` at a time: each run is blocking ssh2 work on a
//! tokio blocking thread. The soft open-file limit is raised as far as that needs (up to the hard
//! limit; when even that is too low, fewer run at once, and the fleet says so). A target that cannot be reached or hangs holds only its own slot, for
//! at most its connect timeout plus its probe script's deadline. The questionnaire never
//! prompts: answers come from the answers file, and missing answers refuse the fleet unless the
//! inventory says `allow_unanswered = true` (then they are recorded as unanswered, a Warning).
//!
//! Ctrl-C: the first stops queued targets from starting and waits for the running ones (their
//! reports are written as usual); a second stops waiting. The summary is written either way, says
//! `interrupted`, gives every target that did not complete a row saying why, and the exit code is
//! 2 (could not complete).
//!
//! Output: one zip per target in `--out-dir`, `fleet-summary.json` and `fleet-summary.html`
//! there (status, counts, exit code, report path or the cause of failure per target, never a
//! secret), a live multi-line display on a terminal (plain lines otherwise), and the exit code
//! over all targets: the worst of theirs (a target that could not complete counts as 2).

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use tokio::signal::unix::{SignalKind, signal};
use toml::Spanned;
use vmcert_checks::Profile;

use crate::EXIT_ERROR;
use crate::cmd::cli::{FleetArgs, Format};
use crate::cmd::run;
use crate::engine::config::RunConfig;
use crate::engine::plan::{Plan, Watch};
use crate::engine::questionnaire::AskMode;
use crate::report::model::{RunReport, Summary};
use crate::report::render::terminal_safe;
use crate::target::options::TargetOptions;
use crate::target::script::ProbeResult;

const HTML_TEMPLATE: &str = include_str!("../../../report-templates/fleet-summary.html.hbs");

/// Schema name of `fleet-summary.json`.
const SCHEMA: &str = "vmcert.fleet/v1";

/// Settings a `[[target]]` takes, and `[defaults]` gives to every target that does not set them.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    name: Option<Spanned<String>>,
    target: Option<Spanned<String>>,
    identity: Option<PathBuf>,
    password_env: Option<String>,
    passphrase_env: Option<String>,
    sudo_password_env: Option<String>,
    known_hosts: Option<PathBuf>,
    host_key: Option<String>,
    accept_new_host_key: Option<bool>,
    connect_timeout: Option<u64>,
    answers: Option<PathBuf>,
    allow_unanswered: Option<bool>,
    profile: Option<Profile>,
    checks: Option<Vec<String>>,
    skip: Option<Vec<String>>,
    check_packs: Option<Vec<PathBuf>>,
    waivers: Option<PathBuf>,
    timeout: Option<u64>,
    update_search_timeout: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inventory {
    #[serde(default)]
    defaults: Settings,
    #[serde(default, rename = "target")]
    targets: Vec<Spanned<Settings>>,
}

/// One target of the inventory as `vmcert run` options, and where it was declared.
#[derive(Debug)]
pub(crate) struct Entry {
    name: String,
    config: RunConfig,
    line: usize,
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |t| t.matches('\n').count() + 1)
}

/// Reads the inventory at `path`: targets as `run` options, paths relative to the file's
/// directory, reports in `out_dir`.
pub(crate) fn parse_inventory(
    path: &Path,
    text: &str,
    out_dir: &Path,
) -> anyhow::Result<Vec<Entry>> {
    let file = path.display();
    let inv: Inventory = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        anyhow::anyhow!("{file}:{line}: {}", e.message().trim_end())
    })?;
    for (key, v) in [
        ("name", &inv.defaults.name),
        ("target", &inv.defaults.target),
    ] {
        if let Some(v) = v {
            bail!(
                "{file}:{}: `{key}` belongs in a [[target]], not in [defaults]",
                line_of(text, v.span().start)
            );
        }
    }
    if inv.targets.is_empty() {
        bail!("{file}: no [[target]] in the inventory");
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let rel = |p: &Option<PathBuf>| p.as_ref().map(|p| base.join(p));
    let mut entries: Vec<Entry> = Vec::new();
    for t in &inv.targets {
        let line = line_of(text, t.span().start);
        let (t, d) = (t.get_ref(), &inv.defaults);
        let Some(name) = &t.name else {
            bail!("{file}:{line}: this [[target]] has no `name`");
        };
        let name_line = line_of(text, name.span().start);
        let name = name.get_ref().clone();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            bail!(
                "{file}:{name_line}: target name `{name}`: use letters, digits, `.`, `-`, `_` (it names the report zip)"
            );
        }
        if let Some(first) = entries.iter().find(|e| e.name == name) {
            bail!(
                "{file}:{name_line}: target name `{name}` is already used at line {}",
                first.line
            );
        }
        let Some(url) = &t.target else {
            bail!("{file}:{line}: target `{name}` has no `target` URL");
        };
        macro_rules! pick {
            ($f:ident) => {
                t.$f.clone().or_else(|| d.$f.clone())
            };
        }
        let target = TargetOptions {
            identity: rel(&pick!(identity)),
            passphrase_env: pick!(passphrase_env),
            password_env: pick!(password_env),
            sudo_password_env: pick!(sudo_password_env),
            known_hosts: rel(&pick!(known_hosts)),
            host_key: pick!(host_key),
            accept_new_host_key: pick!(accept_new_host_key).unwrap_or(false),
            connect_timeout: pick!(connect_timeout)
                .unwrap_or(TargetOptions::DEFAULT_CONNECT_TIMEOUT),
            no_prompt: true,
            ..TargetOptions::new(crate::target::image::relative_to(base, url.get_ref()))
        };
        let config = RunConfig {
            answers: rel(&pick!(answers)),
            out: Some(out_dir.join(format!("{name}.zip"))),
            name: Some(name.clone()),
            profile: pick!(profile).unwrap_or_default(),
            only: pick!(checks).unwrap_or_default(),
            skip: pick!(skip).unwrap_or_default(),
            check_packs: pick!(check_packs)
                .unwrap_or_default()
                .iter()
                .map(|p| base.join(p))
                .collect(),
            waivers: rel(&pick!(waivers)),
            timeout: pick!(timeout).unwrap_or(RunConfig::DEFAULT_TIMEOUT),
            update_search_timeout: pick!(update_search_timeout)
                .unwrap_or(crate::engine::runner::UPDATE_SEARCH_TIMEOUT),
            ask: if pick!(allow_unanswered).unwrap_or(false) {
                AskMode::AllowUnanswered
            } else {
                AskMode::RequireAll
            },
            ..RunConfig::new(target)
        };
        entries.push(Entry { name, config, line });
    }
    Ok(entries)
}

/// One target's line of the fleet summary.
#[derive(Debug, Clone, Serialize)]
struct TargetRow {
    name: String,
    /// The URL (user and host; never a secret).
    target: String,
    /// `completed` (a report was written) or `failed` (with `error`).
    status: &'static str,
    exit_code: u8,
    summary: Option<Summary>,
    /// Why the probes stopped early, when they did.
    interrupted: Option<String>,
    report: Option<String>,
    /// The report's path relative to the fleet summary (its file name: both are in --out-dir),
    /// for fleet-summary.html's links.
    report_href: Option<String>,
    /// The report's outcome (certified, failed, incomplete, pre-check), `none` without a report.
    outcome: &'static str,
    error: Option<String>,
    duration_ms: u64,
    /// The target's results, for the fleet's --junit and --sarif.
    #[serde(skip)]
    results: Option<Box<RunReport>>,
}

/// `fleet-summary.json`.
#[derive(Debug, Serialize)]
struct FleetSummary {
    schema: &'static str,
    tool_version: &'static str,
    started: String,
    finished: String,
    jobs: usize,
    /// Ctrl-C stopped the fleet early (rows of targets it kept from running say so).
    interrupted: bool,
    exit_code: u8,
    completed: usize,
    failed: usize,
    targets: Vec<TargetRow>,
}

/// Runs `vmcert fleet`.
pub(crate) fn run(args: &FleetArgs) -> anyhow::Result<ExitCode> {
    if args.jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let text = std::fs::read_to_string(&args.inventory)
        .with_context(|| format!("--inventory {}", args.inventory.display()))?;
    let out_dir = args.out_dir.clone().unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("--out-dir {}: cannot create it", out_dir.display()))?;
    let mut entries = parse_inventory(&args.inventory, &text, &out_dir)?;
    for e in &mut entries {
        e.config.fail_on = args.fail_on;
    }
    let mut plans = Vec::with_capacity(entries.len());
    for e in &entries {
        let plan = Plan::prepare(&e.config).with_context(|| {
            format!(
                "{}:{}: target `{}`",
                args.inventory.display(),
                e.line,
                e.name
            )
        })?;
        plans.push(plan);
    }

    let started = chrono::Utc::now();
    let display = Display::new(plans.len());
    let jobs = jobs_within_open_file_limit(args.jobs.min(plans.len()).max(1), &display);
    let FleetRows { rows, interrupted } = run_all(plans, jobs, &display)?;
    display.done();
    let finished = chrono::Utc::now();
    let exit_code = rows.iter().map(|r| r.exit_code).max().unwrap_or(0);
    let failed = rows.iter().filter(|r| r.status == "failed").count();
    let summary = FleetSummary {
        schema: SCHEMA,
        tool_version: env!("CARGO_PKG_VERSION"),
        started: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        finished: finished.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        jobs,
        interrupted,
        exit_code,
        completed: rows.len() - failed,
        failed,
        targets: rows,
    };
    let json = serde_json::to_string_pretty(&summary)? + "\n";
    match args.format {
        Format::Json => print!("{}", terminal_safe(&json)),
        Format::Md => print!("{}", terminal_safe(&markdown(&summary))),
        Format::Table => print!("{}", terminal_safe(&table(&summary, &out_dir))),
    }
    let reports: Vec<&RunReport> = summary
        .targets
        .iter()
        .filter_map(|r| r.results.as_deref())
        .collect();
    if let Some(p) = &args.junit {
        std::fs::write(p, crate::report::junit::render_many(&reports))
            .with_context(|| format!("--junit {}: cannot write it", p.display()))?;
    }
    if let Some(p) = &args.sarif {
        let log = crate::report::write::pretty_json(&crate::report::sarif::log(&reports))?;
        std::fs::write(p, log)
            .with_context(|| format!("--sarif {}: cannot write it", p.display()))?;
    }
    for system in crate::report::ci::Ci::detect(|k| std::env::var(k).ok()) {
        for r in &reports {
            let lines = crate::report::ci::annotations(system, r);
            if args.format == Format::Json {
                eprint!("{lines}");
            } else {
                print!("{lines}");
            }
        }
    }
    let json_path = out_dir.join("fleet-summary.json");
    std::fs::write(&json_path, &json)
        .with_context(|| format!("cannot write {}", json_path.display()))?;
    let html_path = out_dir.join("fleet-summary.html");
    std::fs::write(&html_path, html(&summary)?)
        .with_context(|| format!("cannot write {}", html_path.display()))?;
    Ok(ExitCode::from(exit_code))
}

/// Open files the fleet keeps besides its targets (stdio, the runtime, the display).
const FILES_BASE: u64 = 64;
/// Open files one running target holds at most: its socket and the socket's poll handle, the
/// report being written, a key or known_hosts file being read. (Measured: 54 for 20 targets.)
const FILES_PER_TARGET: u64 = 4;

/// What `jobs` targets at once need of the open-file limit (`soft`, `hard`; `None` is
/// unlimited): the soft limit to set (`None`: it is enough already) and how many targets fit.
fn open_file_plan(jobs: usize, soft: Option<u64>, hard: Option<u64>) -> (Option<u64>, usize) {
    let need = FILES_BASE + FILES_PER_TARGET * jobs as u64;
    if soft.is_none_or(|s| s >= need) {
        return (None, jobs);
    }
    match hard {
        Some(h) if h < need => {
            let fit = h.saturating_sub(FILES_BASE) / FILES_PER_TARGET;
            (Some(h), usize::try_from(fit).unwrap_or(jobs).clamp(1, jobs))
        }
        _ => (Some(need), jobs),
    }
}

/// Raises this process's soft open-file limit (`ulimit -n`, often 1024) as far as `jobs` targets
/// at once need, up to the hard limit; when even that is too low, runs fewer at once and says so,
/// instead of letting targets fail with "Too many open files". Returns the jobs to run.
fn jobs_within_open_file_limit(jobs: usize, display: &Display) -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let now = getrlimit(Resource::Nofile);
    let mut limit = now.current;
    if let Some(soft) = open_file_plan(jobs, now.current, now.maximum).0 {
        let raised = Rlimit {
            current: Some(soft),
            maximum: now.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                tracing::debug!("open-file limit raised to {soft}");
                limit = Some(soft);
            }
            Err(e) => tracing::debug!("cannot raise the open-file limit to {soft}: {e}"),
        }
    }
    let fit = open_file_plan(jobs, limit, limit).1;
    if let (Some(limit), true) = (limit, fit < jobs) {
        display.note(&format!(
            "--jobs {jobs} needs about {} open files, but this process may open only {limit} \
             (ulimit -n): running at most {fit} targets at a time",
            FILES_BASE + FILES_PER_TARGET * jobs as u64,
        ));
    }
    fit
}

/// What [`run_all`] gives back: a row per target, in plan order, and whether Ctrl-C cut it short.
struct FleetRows {
    rows: Vec<TargetRow>,
    interrupted: bool,
}

/// Runs every plan, at most `jobs` at a time, each on a blocking thread; rows in plan order.
///
/// Ctrl-C once: no queued target starts any more (each gets a row saying so); running targets
/// finish and write their reports. Ctrl-C again: the fleet stops waiting; the targets still
/// running get a row saying so (their blocking work ends with the process). Either way the
/// caller writes the summary of what finished, and every finished report is already on disk.
fn run_all(plans: Vec<Plan>, jobs: usize, display: &Display) -> anyhow::Result<FleetRows> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(jobs)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let names: Vec<(String, String)> = plans
        .iter()
        .map(|p| (p.name().to_string(), p.describe()))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let started: Arc<[AtomicBool]> = names.iter().map(|_| AtomicBool::new(false)).collect();
    let result = runtime.block_on(async {
        let slots = Arc::new(tokio::sync::Semaphore::new(jobs));
        let mut set = tokio::task::JoinSet::new();
        for (i, plan) in plans.into_iter().enumerate() {
            let slots = Arc::clone(&slots);
            let stop = Arc::clone(&stop);
            let started = Arc::clone(&started);
            let watch = display.target(plan.name());
            set.spawn(async move {
                let permit = slots.acquire_owned().await;
                if stop.load(Ordering::SeqCst) {
                    let row = unfinished(plan.name(), &plan.describe(), NOT_STARTED);
                    watch.end(&row);
                    return (i, Ok(row));
                }
                started[i].store(true, Ordering::SeqCst);
                let row = tokio::task::spawn_blocking(move || {
                    let row = run_one(&plan, &watch);
                    watch.end(&row);
                    drop(permit);
                    row
                })
                .await;
                (i, row)
            });
        }
        let mut rows: Vec<Option<TargetRow>> = (0..names.len()).map(|_| None).collect();
        let mut interrupts = 0;
        // SIGTERM (a service manager, `timeout`, `kill`) is Ctrl-C: the summary is still written.
        let mut sigint = signal(SignalKind::interrupt()).context("cannot watch for Ctrl-C")?;
        let mut sigterm = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
        loop {
            let signalled = tokio::select! {
                joined = set.join_next() => {
                    let Some(joined) = joined else { break };
                    let (i, row) = joined.context("a fleet task was lost")?;
                    rows[i] = Some(row.context("a target's run panicked")?);
                    false
                }
                _ = sigint.recv(), if interrupts < 2 => true,
                _ = sigterm.recv(), if interrupts < 2 => true,
            };
            if signalled {
                interrupts += 1;
                stop.store(true, Ordering::SeqCst);
                if interrupts == 1 {
                    display.note(
                        "interrupted: no new target starts; waiting for the running ones \
                                  (Ctrl-C again to stop waiting)",
                    );
                } else {
                    display.note("interrupted again: not waiting for the running targets");
                    break;
                }
            }
        }
        let rows = rows
            .into_iter()
            .zip(&names)
            .enumerate()
            .map(|(i, (row, (name, target)))| {
                row.unwrap_or_else(|| {
                    let why = if started[i].load(Ordering::SeqCst) {
                        STILL_RUNNING
                    } else {
                        NOT_STARTED
                    };
                    unfinished(name, target, why)
                })
            })
            .collect();
        anyhow::Ok(FleetRows {
            rows,
            interrupted: stop.load(Ordering::SeqCst),
        })
    });
    // Targets still running after a second Ctrl-C are not waited for; reports being written are
    // (a report is never left half-written), and no new one starts.
    runtime.shutdown_background();
    crate::interrupt::close();
    result
}

const NOT_STARTED: &str = "not started: the fleet was interrupted (Ctrl-C)";
const STILL_RUNNING: &str = "still running when the fleet was stopped (Ctrl-C twice): no report";

/// The row of a target that did not complete because of Ctrl-C.
fn unfinished(name: &str, target: &str, why: &str) -> TargetRow {
    TargetRow {
        name: name.to_string(),
        target: target.to_string(),
        status: "failed",
        exit_code: EXIT_ERROR,
        summary: None,
        interrupted: None,
        report: None,
        report_href: None,
        outcome: "none",
        error: Some(why.to_string()),
        duration_ms: 0,
        results: None,
    }
}

/// One target through the same path as `vmcert run`.
fn run_one(plan: &Plan, watch: &TargetWatch) -> TargetRow {
    let t = Instant::now();
    let mut row = TargetRow {
        name: plan.name().to_string(),
        target: plan.describe(),
        status: "failed",
        exit_code: EXIT_ERROR,
        summary: None,
        interrupted: None,
        report: None,
        report_href: None,
        outcome: "none",
        error: None,
        duration_ms: 0,
        results: None,
    };
    match plan.execute(watch) {
        Ok(done) => {
            row.summary = Some(done.bundle.results.summary.clone());
            row.interrupted = done.bundle.results.run.interrupted_reason.clone();
            row.outcome = done.bundle.results.summary.outcome.as_str();
            match done.written {
                Ok(()) => {
                    row.status = "completed";
                    row.exit_code = done.code;
                    row.report = Some(done.out.display().to_string());
                    row.report_href = done
                        .out
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned());
                    row.results = Some(Box::new(done.bundle.results));
                }
                Err(e) => row.error = Some(crate::sas::redact(&format!("{e:#}"))),
            }
        }
        Err(e) => row.error = Some(crate::sas::redact(&format!("{e:#}"))),
    }
    row.duration_ms = u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX);
    row
}

/// The fleet's live display on stderr: one bar per target on a terminal, plain lines otherwise.
struct Display {
    multi: Option<MultiProgress>,
    width: usize,
}

impl Display {
    fn new(targets: usize) -> Self {
        let multi = std::io::stderr().is_terminal().then(MultiProgress::new);
        if multi.is_none() {
            eprintln!("vmcert: fleet of {targets} target(s)");
        }
        Self { multi, width: 0 }
    }

    fn target(&self, name: &str) -> TargetWatch {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(0));
            let template = format!("{{spinner}} {{prefix:{}}} {{pos}}/{{len}} {{wide_msg}}", {
                self.width.max(name.len())
            });
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style);
            }
            bar.set_prefix(name.to_string());
            bar.set_message("queued");
            bar.enable_steady_tick(Duration::from_millis(150));
            bar
        });
        TargetWatch {
            name: name.to_string(),
            bar,
        }
    }

    fn done(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }

    /// A fleet-wide message, above the bars on a terminal.
    fn note(&self, msg: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(format!("vmcert: {msg}"));
            }
            None => eprintln!("vmcert: {msg}"),
        }
    }
}

/// One target's part of the display.
struct TargetWatch {
    name: String,
    bar: Option<ProgressBar>,
}

impl TargetWatch {
    fn say(&self, msg: String) {
        match &self.bar {
            Some(bar) => bar.set_message(terminal_safe(&msg)),
            None => eprintln!("vmcert: {}: {}", self.name, terminal_safe(&msg)),
        }
    }

    fn end(&self, row: &TargetRow) {
        let msg = match (&row.summary, &row.error) {
            (_, Some(e)) => format!("error: {e}"),
            (Some(s), None) => format!("exit {}: {}", row.exit_code, s.line()),
            (None, None) => format!("exit {}", row.exit_code),
        };
        match &self.bar {
            Some(bar) => bar.finish_with_message(terminal_safe(&msg)),
            None => eprintln!("vmcert: {}: {}", self.name, terminal_safe(&msg)),
        }
    }
}

impl Watch for TargetWatch {
    fn connecting(&self, target: &str) {
        self.say(format!("connecting to {target}"));
    }

    fn running(&self, probes: usize, transport: &str) {
        if let Some(bar) = &self.bar {
            bar.set_length(probes as u64);
        }
        self.say(format!("running {probes} probes ({transport})"));
    }

    fn probe(&self, r: &ProbeResult, done: usize, _total: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
            bar.set_message(format!("{} ({})", r.id, run::probe_outcome(r)));
        }
    }

    fn gathered(&self) {
        self.say("writing the report".to_string());
    }
}

/// `fleet --format md`: one table row per target, values escaped for Markdown.
fn markdown(s: &FleetSummary) -> String {
    use crate::report::render::md_escape;
    let mut t = format!(
        "## vmcert fleet: {} target(s)\n\n| target | outcome | exit | result | report or cause |\n|---|---|---|---|---|\n",
        s.targets.len()
    );
    for r in &s.targets {
        let result = r.summary.as_ref().map(Summary::line).unwrap_or_default();
        let detail = match (&r.error, &r.report) {
            (Some(e), _) => e.clone(),
            (None, Some(p)) => p.clone(),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} |",
            md_escape(&r.name),
            r.outcome,
            r.exit_code,
            md_escape(&result),
            md_escape(&detail)
        );
    }
    let _ = writeln!(
        t,
        "\nCompleted {}, failed {}; exit {}.",
        s.completed, s.failed, s.exit_code
    );
    t
}

fn table(s: &FleetSummary, out_dir: &Path) -> String {
    let mut t = String::new();
    let w = s.targets.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let _ = writeln!(t, "vmcert fleet: {} target(s)", s.targets.len());
    for r in &s.targets {
        let detail = match (&r.error, &r.summary) {
            (Some(e), _) => format!("error: {e}"),
            (None, Some(sum)) => sum.line(),
            (None, None) => String::new(),
        };
        let _ = writeln!(t, "  exit {}  {:<w$}  {detail}", r.exit_code, r.name);
    }
    let _ = writeln!(
        t,
        "Completed {}, failed {}; exit {}",
        s.completed, s.failed, s.exit_code
    );
    let _ = writeln!(
        t,
        "Summary: {}",
        out_dir.join("fleet-summary.html").display()
    );
    t
}

fn html(s: &FleetSummary) -> anyhow::Result<String> {
    let mut hb = handlebars::Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_template_string("fleet", HTML_TEMPLATE)
        .context("fleet summary template")?;
    hb.render("fleet", s)
        .context("rendering fleet-summary.html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_file_limit_is_raised_to_what_the_jobs_need_or_the_jobs_fit_the_hard_limit() {
        // 300 targets need 64 + 4 * 300 = 1264 open files.
        assert_eq!(open_file_plan(300, Some(4096), Some(4096)), (None, 300));
        assert_eq!(open_file_plan(300, None, None), (None, 300));
        assert_eq!(
            open_file_plan(300, Some(1024), Some(4096)),
            (Some(1264), 300)
        );
        assert_eq!(open_file_plan(300, Some(1024), None), (Some(1264), 300));
        assert_eq!(
            open_file_plan(300, Some(1024), Some(1024)),
            (Some(1024), 240)
        );
        assert_eq!(
            open_file_plan(300, Some(256), Some(1024)),
            (Some(1024), 240)
        );
        // Always at least one target at a time.
        assert_eq!(open_file_plan(5, Some(10), Some(10)), (Some(10), 1));
    }

    fn parse(text: &str) -> anyhow::Result<Vec<Entry>> {
        parse_inventory(Path::new("/inv/fleet.toml"), text, Path::new("/out"))
    }

    #[test]
    fn defaults_apply_and_targets_override_them() {
        let entries = parse(
            "[defaults]\nidentity = \"keys/id\"\npassword_env = \"PW\"\ntimeout = 30\n\
             allow_unanswered = true\nskip = [\"a\"]\n\n\
             [[target]]\nname = \"web1\"\ntarget = \"ssh://u@h1\"\n\n\
             [[target]]\nname = \"web2\"\ntarget = \"ssh://u@h2:2222\"\ntimeout = 5\n\
             update_search_timeout = 900\nprofile = \"toolkit\"\ncheck_packs = [\"packs\"]\n",
        )
        .unwrap();
        assert_eq!(entries.len(), 2);
        let (a, b) = (&entries[0].config, &entries[1].config);
        assert_eq!(entries[0].line, 8);
        assert_eq!(a.target.identity, Some(PathBuf::from("/inv/keys/id")));
        assert_eq!(a.target.password_env.as_deref(), Some("PW"));
        assert!(a.target.no_prompt && a.ask == AskMode::AllowUnanswered);
        assert_eq!(a.target.connect_timeout, 15);
        assert_eq!((a.timeout, b.timeout), (30, 5));
        assert_eq!(
            (a.update_search_timeout, b.update_search_timeout),
            (600, 900)
        );
        assert_eq!(a.out, Some(PathBuf::from("/out/web1.zip")));
        assert_eq!(b.profile, Profile::Toolkit);
        assert_eq!(b.check_packs, [PathBuf::from("/inv/packs")]);
        assert_eq!(b.skip, ["a"]);
    }

    #[test]
    fn bad_inventories_name_the_line() {
        let cases = [
            (
                "[[target]]\nname = \"a\"\ntarget = \"ssh://u@h\"\npasword_env = \"X\"\n",
                "/inv/fleet.toml:4: unknown field `pasword_env`",
            ),
            (
                "[defaults]\nname = \"x\"\n[[target]]\nname = \"a\"\ntarget = \"ssh://u@h\"\n",
                "/inv/fleet.toml:2: `name` belongs in a [[target]], not in [defaults]",
            ),
            (
                "[[target]]\nname = \"a\"\ntarget = \"ssh://u@h\"\n[[target]]\nname = \"a\"\ntarget = \"ssh://u@h2\"\n",
                "/inv/fleet.toml:5: target name `a` is already used at line 1",
            ),
            (
                "[[target]]\nname = \"a b\"\ntarget = \"ssh://u@h\"\n",
                "/inv/fleet.toml:2: target name `a b`",
            ),
            (
                "\n[[target]]\nname = \"a\"\n",
                "/inv/fleet.toml:2: target `a` has no `target` URL",
            ),
            (
                "[[target]]\nname = \"a\"\ntarget = \"ssh://u@h\"\ntimeout = \"5\"\n",
                "/inv/fleet.toml:4: invalid type",
            ),
            ("[defaults]\n", "/inv/fleet.toml: no [[target]]"),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
    }
}
