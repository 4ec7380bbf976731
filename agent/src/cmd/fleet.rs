//! `vmcert fleet`: certify many targets at once from an inventory file. Each target is turned
//! into the same options `vmcert run` takes and goes through the very same `Plan` (inputs
//! checked, connect, one probe script, report zip), so a fleet run of one target and `vmcert run`
//! cannot drift apart. Every target's inputs are checked before anything connects: a bad
//! inventory costs nothing and exits 2 with `file:line`.
//!
//! The inventory is `crate::engine::fleet::inventory`, the scheduling (`--jobs`, the open-file
//! limit, Ctrl-C) `crate::engine::fleet`, the summary's model and renderers
//! `crate::report::fleet`. This file reads the flags, shows the live display, prints and writes
//! the summary and picks the exit code. The questionnaire never prompts: answers come from the
//! answers file, and missing answers refuse the fleet unless the inventory says
//! `allow_unanswered = true` (then they are recorded as unanswered, a Warning).
//!
//! Ctrl-C: the first stops queued targets from starting and waits for the running ones (their
//! reports are written as usual); a second stops waiting. The summary is written either way, says
//! `interrupted`, gives every target that did not complete a row saying why, and the exit code is
//! 2 (could not complete).
//!
//! Output: one zip per target in `--out-dir`, `fleet-summary.json` and `fleet-summary.html`
//! there, a live multi-line display on a terminal (plain lines otherwise), and the exit code
//! over all targets: the worst of theirs (a target that could not complete counts as 2).

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::cmd::cli::{FleetArgs, Format};
use crate::cmd::run;
use crate::engine::fleet::inventory::parse_inventory;
use crate::engine::fleet::{
    FleetDisplay, FleetRows, TargetWatch, jobs_within_open_file_limit, run_all,
};
use crate::engine::plan::{Plan, Watch};
use crate::report::fleet::{FleetSummary, SCHEMA, TargetRow, html, markdown};
use crate::report::model::RunReport;
use crate::report::render::terminal_safe;
use crate::target::script::ProbeResult;

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

    fn done(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}

impl FleetDisplay for Display {
    type Target = BarWatch;

    fn target(&self, name: &str) -> BarWatch {
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
        BarWatch {
            name: name.to_string(),
            bar,
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
struct BarWatch {
    name: String,
    bar: Option<ProgressBar>,
}

impl BarWatch {
    fn say(&self, msg: String) {
        match &self.bar {
            Some(bar) => bar.set_message(terminal_safe(&msg)),
            None => eprintln!("vmcert: {}: {}", self.name, terminal_safe(&msg)),
        }
    }
}

impl Watch for BarWatch {
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

impl TargetWatch for BarWatch {
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
