//! `report.html` and `report.md`: one view of the run (header, summary, every check with its
//! evidence, the questionnaire, the notes) rendered through the handlebars templates of
//! `report-templates/`, which are compiled into the binary so a report never depends on files
//! next to it. The view is computed here, so the templates hold no logic beyond loops and ifs.
//!
//! Probe output is shown lossily: invalid UTF-8 becomes U+FFFD and control characters other than
//! tab and newline become their Unicode "control picture" (ESC shows as `␛`); the raw bytes are in
//! `logs/<check-id>.log`. HTML escaping is handlebars' own; Markdown escaping is [`md_escape`].

use std::collections::BTreeMap;
use std::sync::OnceLock;

use anyhow::Context as _;
use handlebars::Handlebars;
use serde::Serialize;
use vmcert_checks::questionnaire;
use vmcert_checks::{Phase, Status};

use super::ReportBundle;
use super::model::{CheckResult, Outcome, QuestionResult, RunReport, SkipReason, Skipped, Waived};

const HTML_TEMPLATE: &str = include_str!("../../../report-templates/report.html.hbs");
const MD_TEMPLATE: &str = include_str!("../../../report-templates/report.md.hbs");

/// The two template registries, compiled once per process: compiling report.html.hbs costs
/// more CPU than rendering it (handlebars computes a line and column for every element), and a
/// fleet renders one report per target.
static HTML: OnceLock<Result<Handlebars<'static>, String>> = OnceLock::new();
static MD: OnceLock<Result<Handlebars<'static>, String>> = OnceLock::new();

fn compiled(
    cell: &'static OnceLock<Result<Handlebars<'static>, String>>,
    name: &str,
    template: &str,
    markdown: bool,
) -> anyhow::Result<&'static Handlebars<'static>> {
    cell.get_or_init(|| {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        if markdown {
            hb.register_escape_fn(md_escape);
        } else {
            hb.register_escape_fn(html_escape);
        }
        hb.register_template_string(name, template)
            .map_err(|e| format!("{name}.hbs: {e}"))?;
        Ok(hb)
    })
    .as_ref()
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Renders `report.html`.
pub(crate) fn html(bundle: &ReportBundle, log_paths: &[String]) -> anyhow::Result<String> {
    compiled(&HTML, "report.html", HTML_TEMPLATE, false)?
        .render("report.html", &View::of(bundle, log_paths, true))
        .context("rendering report.html")
}

/// Renders `report.md`.
pub(crate) fn markdown(bundle: &ReportBundle, log_paths: &[String]) -> anyhow::Result<String> {
    compiled(&MD, "report.md", MD_TEMPLATE, true)?
        .render("report.md", &View::of(bundle, log_paths, false))
        .context("rendering report.md")
}

/// Why the outcome is not `certified`, in a sentence; `None` when it is.
pub(crate) fn outcome_reason(r: &RunReport) -> Option<String> {
    let s = &r.summary;
    let left_out = r
        .scope
        .skipped
        .iter()
        .filter(|k| k.reason != SkipReason::Os)
        .count();
    match s.outcome {
        Outcome::Certified => None,
        Outcome::Failed => {
            let mut t = if s.waived_fail == s.fail {
                format!(
                    "{} check(s) failed; all are waived, which accepts them but does not certify the image",
                    s.fail
                )
            } else {
                format!("{} check(s) failed", s.fail - s.waived_fail)
            };
            if s.error > 0 {
                t.push_str(&format!(", and {} could not be evaluated (Error)", s.error));
            }
            Some(t)
        }
        Outcome::PreCheck if r.scope.phase == Phase::Build => Some(
            "a build-phase run (--phase build) of the build VM before deprovisioning: a pre-check, \
             never a certification; certify a VM deployed from the captured image"
                .to_owned(),
        ),
        Outcome::PreCheck => Some(
            "the disk image was read without booting it: a pre-check, never a certification"
                .to_owned(),
        ),
        Outcome::Incomplete => Some(if r.run.interrupted {
            "the run was interrupted".to_owned()
        } else if s.error > 0 {
            format!("{} check(s) could not be evaluated (Error)", s.error)
        } else if left_out > 0 {
            format!(
                "only part of the catalogue ran: {left_out} check(s) left out by --checks/--skip"
            )
        } else if r.scope.checks_run.is_empty() {
            "the report does not record which checks ran (written by an older vmcert)".to_owned()
        } else {
            "the run did not cover the whole catalogue".to_owned()
        }),
    }
}

/// The CSS class of an outcome banner.
const fn outcome_class(o: Outcome) -> &'static str {
    match o {
        Outcome::Certified => "pass",
        Outcome::Failed => "fail",
        Outcome::Incomplete | Outcome::PreCheck => "incomplete",
    }
}

/// What the run covered, in a sentence: how many checks of the catalogue ran and which were
/// left out by `--checks`/`--skip`.
pub(crate) fn scope_text(r: &RunReport) -> String {
    let sc = &r.scope;
    if sc.checks_run.is_empty() {
        return "not recorded (report written by an older vmcert)".to_owned();
    }
    let left: Vec<&Skipped> = sc
        .skipped
        .iter()
        .filter(|k| k.reason != SkipReason::Os)
        .collect();
    let mut t = if sc.phase == Phase::Build {
        "build phase, before deprovisioning (what deprovisioning removes is a Warning): ".to_owned()
    } else {
        String::new()
    };
    t.push_str(&format!("{} check(s) ran", sc.checks_run.len()));
    if sc.full_catalogue {
        t.push_str(&format!(", the whole {} catalogue", r.target.os));
    } else {
        let by = |why: SkipReason| left.iter().filter(|k| k.reason == why).count();
        const SHOWN: usize = 5;
        let ids: Vec<&str> = left.iter().take(SHOWN).map(|k| k.id.as_str()).collect();
        let more = left.len().saturating_sub(SHOWN);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        t.push_str(&format!(
            "; {} {} catalogue check(s) left out ({} not in --checks, {} by --skip): {}{more}",
            left.len(),
            r.target.os,
            by(SkipReason::Checks),
            by(SkipReason::Skip),
            ids.join(", ")
        ));
    }
    if !sc.waived.is_empty() {
        t.push_str(&format!("; waived: {}", sc.waived.join(", ")));
    }
    t
}

/// The CSS class and label of a status.
pub(crate) const fn status_class(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Warning => "warning",
        Status::Fail => "fail",
        Status::NotApplicable => "na",
        Status::Error => "error",
    }
}

const fn status_label(s: Status) -> &'static str {
    match s {
        Status::NotApplicable => "Not applicable",
        other => other.as_str(),
    }
}

/// Bytes of each probe stream shown in `report.html`: the whole output is in the probe's log,
/// and a page holding megabytes per probe (escaped, so larger still) helps no reader and made a
/// report of large outputs several times their size (issue 17 item 10).
pub(crate) const HTML_SHOWN: usize = 64 * 1024;

/// Bytes of probe output shown in the whole of `report.html` (a probe is shown under every
/// check that reads it, and a run may have thousands of pack probes): past it, streams are
/// only named, so the page stays a few MiB whatever the run printed.
pub(crate) const HTML_TOTAL: usize = 4 * 1024 * 1024;

/// [`display_text`] of the first [`HTML_SHOWN`] bytes, or fewer if the page's `left` allows
/// fewer, saying how much more the probe's log (`path`) holds; `left` is charged.
fn shown_text(bytes: &[u8], left: &mut usize, path: &str) -> String {
    let shown = bytes.len().min(HTML_SHOWN).min(*left);
    *left -= shown;
    let mut t = display_text(&bytes[..shown]);
    if shown < bytes.len() {
        if shown > 0 {
            t.push('\n');
        }
        let more = if shown == 0 { "" } else { " more" };
        t.push_str(&format!(
            "[... {}{more} bytes: the whole output is in {path}]",
            bytes.len() - shown
        ));
    }
    t
}

/// Probe output as display text: lossy UTF-8, control characters (but tab, newline) as control
/// pictures.
pub(crate) fn display_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(visible)
        .collect()
}

/// Replaces a control character (but tab, newline, carriage return) by its control picture; C1
/// controls (U+0080 to U+009F, which some terminals obey like ESC sequences) and the
/// bidirectional overrides and isolates (which reorder what is shown) by U+FFFD.
pub(crate) fn visible(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
        '\u{7f}' => '\u{2421}',
        '\u{80}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}' => '\u{fffd}',
        _ => c,
    }
}

/// `text` made safe for a terminal: every character [`visible`] would replace, and carriage
/// returns too (which would let a line be overwritten), are replaced; newlines and tabs stay.
/// Everything vmcert prints that comes from a target or a report file goes through this.
pub(crate) fn terminal_safe(text: &str) -> String {
    text.chars()
        .map(|c| if c == '\r' { '\u{240d}' } else { visible(c) })
        .collect()
}

/// HTML escaping for `report.html`: handlebars' own, after [`visible`] (an escape sequence in a
/// report must not reach a terminal through `cat report.html` either).
fn html_escape(s: &str) -> String {
    handlebars::html_escape(&s.chars().map(visible).collect::<String>())
}

/// Markdown escaping for text in paragraphs, list items and table cells: backslash before the
/// characters Markdown (GFM) gives a meaning, `<br>` for line breaks so a value stays in its cell.
pub(crate) fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '#' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => out.push_str("<br>"),
            c => out.push(visible(c)),
        }
    }
    out
}

#[derive(Serialize)]
struct View<'a> {
    html: bool,
    name: &'a str,
    run_id: &'a str,
    tool: String,
    profile: &'a str,
    /// `final` or `build`.
    phase: &'static str,
    started: &'a str,
    finished: &'a str,
    interrupted: Option<String>,
    target: String,
    os: &'a str,
    facts: Vec<Fact<'a>>,
    outcome: &'static str,
    outcome_label: &'static str,
    outcome_text: String,
    scope: String,
    counts: Vec<Count>,
    waived: usize,
    questionnaire_warnings: usize,
    checks: Vec<CheckView<'a>>,
    attention: Vec<CheckView<'a>>,
    /// Nothing needs attention: no Fail, Error or Warning, no questionnaire warning (the
    /// printed report is then one page).
    clean: bool,
    tabs: Vec<TabView<'a>>,
    notes: String,
    /// A code fence longer than any backtick run in the notes (Markdown).
    notes_fence: String,
}

/// A Markdown code fence that `text` cannot close: one backtick more than its longest run, at
/// least three.
fn fence(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

#[derive(Serialize)]
struct Fact<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct Count {
    label: &'static str,
    class: &'static str,
    n: usize,
}

#[derive(Serialize, Clone)]
struct CheckView<'a> {
    id: &'a str,
    anchor: String,
    title: &'a str,
    test: String,
    status: &'static str,
    class: &'static str,
    actual: String,
    required: &'a str,
    message: &'a str,
    remediation: &'a str,
    description: &'a str,
    severity: &'static str,
    source: &'a str,
    duration_ms: u64,
    waived: Option<&'a Waived>,
    log_path: &'a str,
    open: bool,
    probe_count: usize,
    probes: Vec<ProbeView<'a>>,
}

#[derive(Serialize, Clone)]
struct ProbeView<'a> {
    id: &'a str,
    command: String,
    started: String,
    duration_ms: u64,
    exit: String,
    exit_ok: bool,
    problem: Option<String>,
    stdout: String,
    stderr: String,
    stdout_bytes: usize,
    stderr_bytes: usize,
    lossy: bool,
}

#[derive(Serialize)]
struct TabView<'a> {
    name: &'a str,
    questions: Vec<QuestionView<'a>>,
}

/// The questions grouped by tab, in questionnaire order.
fn tabs(questions: &[QuestionResult]) -> Vec<TabView<'_>> {
    let mut tabs: Vec<TabView<'_>> = Vec::new();
    for q in questions {
        match tabs.last_mut() {
            Some(t) if t.name == q.tab => t.questions.push(QuestionView::of(q)),
            _ => tabs.push(TabView {
                name: &q.tab,
                questions: vec![QuestionView::of(q)],
            }),
        }
    }
    tabs
}

#[derive(Serialize)]
struct QuestionView<'a> {
    id: &'a str,
    tab: &'a str,
    question: &'a str,
    answer: String,
    answered: bool,
    status: &'static str,
    class: &'static str,
    message: &'a str,
}

impl<'a> View<'a> {
    fn of(bundle: &'a ReportBundle, log_paths: &'a [String], html: bool) -> Self {
        let r = &bundle.results;
        let t = &r.target;
        let mut target = format!("{}://", t.transport);
        if let Some(u) = &t.user {
            target.push_str(u);
            target.push('@');
        }
        target.push_str(&t.host);
        if let Some(p) = t.port {
            target.push_str(&format!(":{p}"));
        }
        if t.transport == "local" {
            target = format!("local ({})", t.host);
        }
        let n = |s: Status| r.checks.iter().filter(|c| c.status == s).count();
        let counts = Status::ALL
            .iter()
            .map(|&s| Count {
                label: status_label(s),
                class: status_class(s),
                n: n(s),
            })
            .collect();
        let outcome = r.summary.outcome;
        let outcome_text = outcome_reason(r).unwrap_or_else(|| {
            format!(
                "the whole {} catalogue ran with no Fail and no Error",
                r.target.os
            )
        });
        let probe_paths = super::logs::probe_paths(bundle);
        let mut left = HTML_TOTAL;
        let checks: Vec<CheckView<'a>> = r
            .checks
            .iter()
            .zip(log_paths)
            .map(|(c, log)| CheckView::of(bundle, c, log, &probe_paths, &mut left))
            .collect();
        // What a reviewer must look at, worst first: Fail, Error, Warning; waived ones after the
        // open ones of their status; catalogue order otherwise (the sort is stable).
        let mut attention: Vec<CheckView<'a>> = checks
            .iter()
            .filter(|c| matches!(c.class, "fail" | "error" | "warning"))
            .cloned()
            .collect();
        attention.sort_by_key(|c| {
            let rank = match c.class {
                "fail" => 0,
                "error" => 1,
                _ => 2,
            };
            (rank, c.waived.is_some())
        });
        Self {
            html,
            name: &r.run.name,
            run_id: &r.run.id,
            tool: format!("{} {}", r.tool.name, r.tool.version),
            profile: &r.run.profile,
            phase: r.scope.phase.as_str(),
            started: &r.run.started,
            finished: &r.run.finished,
            interrupted: r.run.interrupted.then(|| {
                r.run
                    .interrupted_reason
                    .clone()
                    .unwrap_or_else(|| "reason not recorded".to_owned())
            }),
            target,
            os: t.os.as_str(),
            facts: t
                .facts
                .iter()
                .map(|(name, value)| Fact { name, value })
                .collect(),
            outcome: outcome_class(outcome),
            outcome_label: outcome.label(),
            outcome_text,
            scope: scope_text(r),
            counts,
            waived: r.checks.iter().filter(|c| c.waived.is_some()).count(),
            questionnaire_warnings: r
                .questionnaire
                .iter()
                .filter(|q| q.status == Status::Warning)
                .count(),
            checks,
            clean: attention.is_empty()
                && !r.questionnaire.iter().any(|q| q.status == Status::Warning),
            attention,
            tabs: tabs(&r.questionnaire),
            notes: bundle.notes.trim_end().chars().map(visible).collect(),
            notes_fence: fence(&bundle.notes),
        }
    }
}

impl<'a> CheckView<'a> {
    fn of(
        bundle: &'a ReportBundle,
        c: &'a CheckResult,
        log: &'a str,
        probe_paths: &BTreeMap<String, String>,
        left: &mut usize,
    ) -> Self {
        let test = match (&c.test_id, &c.test_case_name) {
            (Some(id), Some(name)) => format!("{id} {name}"),
            (Some(id), None) => id.clone(),
            (None, Some(name)) => name.clone(),
            (None, None) => String::new(),
        };
        Self {
            id: &c.id,
            anchor: format!("check-{}", anchor_safe(&c.id)),
            title: &c.title,
            test,
            status: status_label(c.status),
            class: status_class(c.status),
            actual: c.actual.chars().map(visible).collect(),
            required: &c.required,
            message: &c.message,
            remediation: &c.remediation,
            description: &c.description,
            severity: match c.severity {
                vmcert_checks::Severity::High => "high",
                vmcert_checks::Severity::Medium => "medium",
                vmcert_checks::Severity::Low => "low",
            },
            source: &c.source,
            duration_ms: c.duration_ms,
            waived: c.waived.as_ref(),
            log_path: log,
            open: !matches!(c.status, Status::Pass | Status::NotApplicable),
            probe_count: c.probes.len(),
            probes: c
                .probes
                .iter()
                .map(|id| {
                    let path = probe_paths.get(id).map_or("its probe log", String::as_str);
                    ProbeView::of(bundle, id, path, left)
                })
                .collect(),
        }
    }
}

fn anchor_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl<'a> ProbeView<'a> {
    fn of(bundle: &'a ReportBundle, id: &'a str, path: &str, left: &mut usize) -> Self {
        let log = bundle.probe_logs.get(id);
        let out = bundle.evidence.outputs.get(id);
        let problem = match out {
            None => Some("not collected".to_owned()),
            Some(o) => {
                let mut p = Vec::new();
                if o.timed_out {
                    p.push("timed out".to_owned());
                }
                if o.truncated {
                    p.push("output truncated".to_owned());
                }
                if let Some(e) = &o.error {
                    p.push(e.clone());
                }
                (!p.is_empty()).then(|| p.join("; "))
            }
        };
        let lossy = out.is_some_and(|o| {
            std::str::from_utf8(&o.stdout).is_err() || std::str::from_utf8(&o.stderr).is_err()
        });
        Self {
            id,
            command: log.map_or_else(|| "unknown".to_owned(), |l| l.command.clone()),
            started: log
                .and_then(|l| l.started.clone())
                .unwrap_or_else(|| "unknown".to_owned()),
            duration_ms: out.map_or(0, |o| o.duration_ms),
            exit_ok: out.and_then(|o| o.exit_code) == Some(0),
            exit: out
                .and_then(|o| o.exit_code)
                .map_or_else(|| "none".to_owned(), |c| c.to_string()),
            problem,
            stdout: out
                .map(|o| shown_text(&o.stdout, left, path))
                .unwrap_or_default(),
            stderr: out
                .map(|o| shown_text(&o.stderr, left, path))
                .unwrap_or_default(),
            stdout_bytes: out.map_or(0, |o| o.stdout.len()),
            stderr_bytes: out.map_or(0, |o| o.stderr.len()),
            lossy,
        }
    }
}

impl<'a> QuestionView<'a> {
    fn of(q: &'a QuestionResult) -> Self {
        Self {
            id: &q.id,
            tab: &q.tab,
            question: &q.question,
            answer: q
                .answer
                .as_ref()
                .map_or_else(|| "unanswered".to_owned(), |a| answer_text(&q.id, a)),
            answered: q.answer.is_some(),
            status: status_label(q.status),
            class: status_class(q.status),
            message: &q.message,
        }
    }
}

/// An answer as a reader sees it (True/False, a choice with its meaning, the text, or one
/// `check-id: explanation` per line).
pub(crate) fn answer_text(id: &str, answer: &serde_json::Value) -> String {
    use serde_json::Value;
    match answer {
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::String(s) => match questionnaire::find(id) {
            Some(q) => q.display(&questionnaire::Answer::Choice(s.clone())),
            None => s.clone(),
        },
        Value::Object(map) if map.is_empty() => "none".to_owned(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::logs::log_paths;
    use crate::report::testdata::bundle;

    fn html_of(b: &ReportBundle) -> String {
        html(b, &log_paths(&b.results.checks)).unwrap()
    }

    /// A report with nothing to attend to: every Linux catalogue check passed, every answer
    /// without warning.
    fn clean_bundle() -> ReportBundle {
        let mut b = bundle();
        let template = b.results.checks[0].clone();
        b.results.checks = vmcert_checks::registry::for_os(vmcert_checks::Os::Linux)
            .map(|c| {
                let m = c.meta();
                CheckResult {
                    id: m.id.to_owned(),
                    title: m.title.to_owned(),
                    test_id: m.test_id.map(str::to_owned),
                    test_case_name: m.test_case_name.map(str::to_owned),
                    status: Status::Pass,
                    actual: "as required".to_owned(),
                    required: "as the rule says".to_owned(),
                    message: String::new(),
                    remediation: m.remediation.to_owned(),
                    description: m.description.to_owned(),
                    probes: Vec::new(),
                    ..template.clone()
                }
            })
            .collect();
        for q in &mut b.results.questionnaire {
            q.status = Status::Pass;
            q.message.clear();
        }
        let scope = crate::engine::runner::scope(
            vmcert_checks::Os::Linux,
            &[],
            &b.results.checks,
            Phase::Final,
        );
        b.results.summary = crate::engine::runner::summarize(
            &b.results.checks,
            &b.results.questionnaire,
            &scope,
            "ssh",
            false,
        );
        b.results.scope = scope;
        b
    }

    /// Runs headless Chromium (Debian's `chromium`, a test prerequisite) on `url` with a fresh
    /// profile and no network services.
    fn chromium(profile: &std::path::Path, args: &[&str], url: &str) -> std::process::Output {
        let out = std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(args)
            .arg(url)
            .output()
            .expect("chromium runs (tests/lab/install-prereqs.sh installs it)");
        assert!(
            out.status.success(),
            "chromium {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Pages of a PDF Chromium wrote: its `/Type /Page` objects (not `/Pages`).
    fn pdf_pages(pdf: &[u8]) -> usize {
        let needle = b"/Type /Page";
        pdf.windows(needle.len() + 1)
            .filter(|w| w.starts_with(needle) && w[needle.len()] != b's')
            .count()
    }

    /// Reads the rendered layout: a script appended to a copy of the page measures it and
    /// writes the result into the DOM, which `--dump-dom` prints.
    const LAYOUT_SCRIPT: &str = r#"<script>(() => {
const y = e => e ? Math.round(e.getBoundingClientRect().top + window.scrollY) : -1;
const h2 = [...document.querySelectorAll('h2')]
  .filter(h => h.offsetParent !== null)
  .map(h => [h.firstChild.textContent.trim(), y(h)]);
const wide = [...document.querySelectorAll('col, td, th')]
  .filter(e => parseFloat(getComputedStyle(e).borderLeftWidth) > 1)
  .map(e => e.tagName + '.' + e.className);
const attention = [...document.querySelectorAll('tr.attention')].map(r => [
  r.querySelector('.badge').textContent.trim(),
  (r.querySelector('.fix') || {textContent: ''}).textContent.trim().length > 0,
]);
const layout = { h2, banner: y(document.querySelector('.outcome')),
  banner_text: document.querySelector('.outcome').textContent.trim(), wide, attention };
document.body.setAttribute('data-layout', JSON.stringify(layout));
})();</script></body>"#;

    #[test]
    fn html_layout_and_print_in_headless_chromium() {
        let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/test-artifacts/report-html");
        std::fs::create_dir_all(&artifacts).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let mut pages = Vec::new();
        for (name, b) in [("findings", bundle()), ("clean", clean_bundle())] {
            let page = html_of(&b);
            let file = tmp.path().join(format!("{name}.html"));
            std::fs::write(&file, page.replace("</body>", LAYOUT_SCRIPT)).unwrap();
            let url = format!("file://{}", file.display());
            let dom = chromium(
                &tmp.path().join(format!("p-{name}-dom")),
                &["--dump-dom"],
                &url,
            );
            let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
            let start = dom.find("data-layout=\"").expect("the layout script ran") + 13;
            let end = start + dom[start..].find('"').unwrap();
            let json = dom[start..end]
                .replace("&quot;", "\"")
                .replace("&amp;", "&");
            let layout: serde_json::Value = serde_json::from_str(&json).unwrap();
            // No grey stripe: no cell or column has a wide left border.
            assert_eq!(layout["wide"], serde_json::json!([]), "{name}: {layout}");
            // The verdict first, then what needs attention, every check, then the facts.
            let h2: Vec<(String, i64)> = layout["h2"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| (h[0].as_str().unwrap().to_owned(), h[1].as_i64().unwrap()))
                .collect();
            let at = |t: &str| {
                h2.iter()
                    .find(|h| h.0 == t)
                    .unwrap_or_else(|| panic!("{t}: {h2:?}"))
                    .1
            };
            assert!(
                layout["banner"].as_i64().unwrap() < at("Needs attention"),
                "{layout}"
            );
            assert!(at("Needs attention") < at("All checks"), "{h2:?}");
            assert!(at("All checks") < at("Run facts"), "{h2:?}");
            assert!(at("Run facts") < at("Check details"), "{h2:?}");
            if name == "findings" {
                // Worst first, each with what to do inline; the banner counts the Error too.
                assert_eq!(
                    layout["attention"],
                    serde_json::json!([["Fail", true], ["Error", true], ["Warning", true]]),
                    "{layout}"
                );
                let banner = layout["banner_text"].as_str().unwrap();
                assert!(banner.starts_with("FAILED"), "{banner}");
                assert!(
                    banner.contains("1 could not be evaluated (Error)"),
                    "{banner}"
                );
            } else {
                assert_eq!(layout["attention"], serde_json::json!([]), "{layout}");
                assert!(
                    layout["banner_text"]
                        .as_str()
                        .unwrap()
                        .starts_with("CERTIFIED")
                );
            }
            let shot = artifacts.join(format!("{name}.png"));
            chromium(
                &tmp.path().join(format!("p-{name}-png")),
                &[
                    "--hide-scrollbars",
                    "--window-size=1280,2000",
                    &format!("--screenshot={}", shot.display()),
                ],
                &format!(
                    "file://{}",
                    tmp.path().join(format!("{name}.html")).display()
                ),
            );
            assert!(std::fs::read(&shot).unwrap().starts_with(b"\x89PNG"));
            let pdf = artifacts.join(format!("{name}.pdf"));
            chromium(
                &tmp.path().join(format!("p-{name}-pdf")),
                &[
                    "--no-pdf-header-footer",
                    &format!("--print-to-pdf={}", pdf.display()),
                ],
                &url,
            );
            pages.push((name, pdf_pages(&std::fs::read(&pdf).unwrap())));
        }
        // Printed: a clean report on one page; findings with collapsed evidence on a few (the
        // old stylesheet printed every probe's output: 13 pages for these 6 checks).
        assert_eq!(pages[1], ("clean", 1), "{pages:?}");
        assert!((2..=5).contains(&pages[0].1), "{pages:?}");
    }

    #[test]
    fn markdown_snapshot() {
        let b = bundle();
        insta::assert_snapshot!(markdown(&b, &log_paths(&b.results.checks)).unwrap());
    }

    #[test]
    fn md_escape_keeps_values_in_their_cell() {
        assert_eq!(
            md_escape("a|b\nc_d *e* <x> \u{1b}[0m"),
            "a\\|b<br>c\\_d \\*e\\* \\<x\\> \u{241b}\\[0m"
        );
    }

    #[test]
    fn notes_fence_outlasts_backticks_in_the_notes() {
        assert_eq!(fence("plain"), "```");
        assert_eq!(fence("a ```` b ` c"), "`````");
    }

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(
            display_text(b"\x1b[31mred\x1b[0m\tok\n\xff"),
            "\u{241b}[31mred\u{241b}[0m\tok\n\u{fffd}"
        );
    }

    /// Every element opened is closed, in order (void elements excepted), so a browser builds the
    /// tree the template meant; and nothing is loaded from anywhere.
    #[test]
    fn html_is_balanced_and_self_contained() {
        let mut b = bundle();
        // Hostile output must stay text.
        b.results.checks[0].actual =
            "</td></pre><script>alert(1)</script><img src=x onerror=alert(2)>".to_owned();
        b.evidence.outputs.get_mut("uname-m").unwrap().stdout =
            b"</pre><a href=\"https://evil.example/\">x</a>".to_vec();
        let html = html_of(&b);
        assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..40]);
        assert!(
            !html.contains("<script"),
            "no script element, injected or not"
        );
        assert!(!html.contains("<img"), "no image");
        assert!(
            html.contains("&lt;/td&gt;&lt;/pre&gt;&lt;script&gt;"),
            "escaped"
        );

        let tag = regex::Regex::new(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>").unwrap();
        let void = ["meta", "br", "hr", "img", "input", "link", "wbr", "col"];
        let mut stack: Vec<String> = Vec::new();
        let body = html.trim_start_matches("<!DOCTYPE html>");
        for cap in tag.captures_iter(body) {
            let name = cap[2].to_ascii_lowercase();
            let attrs = &cap[3];
            for attr in ["src=", "href=", "action=", "srcset=", "data="] {
                if let Some(pos) = attrs.find(attr) {
                    let value = &attrs[pos + attr.len()..];
                    assert!(
                        value.starts_with("\"#") || value.starts_with("\"logs/"),
                        "external reference in <{name}{attrs}>"
                    );
                }
            }
            if void.contains(&name.as_str()) {
                continue;
            }
            if &cap[1] == "/" {
                let open = stack.pop();
                assert_eq!(open.as_deref(), Some(name.as_str()), "mismatched </{name}>");
            } else {
                stack.push(name);
            }
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        // CSS loads nothing either.
        for needle in ["@import", "url(", "http://", "https://"] {
            assert!(
                !HTML_TEMPLATE.contains(needle),
                "template contains {needle}"
            );
        }
    }

    #[test]
    fn html_shows_every_check_with_its_evidence() {
        let b = bundle();
        let html = html_of(&b);
        for c in &b.results.checks {
            assert!(html.contains(&format!("id=\"check-{}\"", c.id)), "{}", c.id);
        }
        assert!(
            html.contains("awk: cannot open /etc/shadow (Permission denied)"),
            "stderr shown"
        );
        assert!(html.contains("j\u{fffd}rgen"), "lossy stdout shown");
        assert!(html.contains("GA12"), "questionnaire shown");
        assert!(html.contains("User azureuser on port 22"), "notes shown");
        assert!(html.contains("2027-06-30"), "waiver shown");
    }

    /// Issue 17 item 5: no escape sequence from a target survives into report.html or a terminal.
    #[test]
    fn escape_sequences_never_reach_html_or_a_terminal() {
        let mut b = bundle();
        b.results.checks[0].message = "\u{1b}]0;owned\u{7}\u{9b}2J\u{202e}x".to_owned();
        b.results
            .target
            .facts
            .insert("OSName".to_owned(), "\u{1b}[31mDebian".to_owned());
        let html = html(&b, &log_paths(&b.results.checks)).unwrap();
        for bad in ['\u{1b}', '\u{9b}', '\u{7}', '\u{202e}'] {
            assert!(!html.contains(bad), "{bad:?} in report.html");
        }
        assert!(html.contains("\u{241b}]0;owned"));
        assert_eq!(
            terminal_safe("a\u{1b}[2K\rvalid\u{9b}\u{202e}\n\tb"),
            "a\u{241b}[2K\u{240d}valid\u{fffd}\u{fffd}\n\tb"
        );
    }

    /// Issue 17 item 10: report.html shows the start of a large output, not all of it escaped.
    #[test]
    fn html_shows_at_most_the_start_of_a_large_output() {
        let mut b = bundle();
        let big = "<&>".repeat(1_000_000);
        b.evidence.outputs.get_mut("uname-m").unwrap().stdout = big.into_bytes();
        let html = html(&b, &log_paths(&b.results.checks)).unwrap();
        assert!(html.len() < 1_000_000, "{} bytes", html.len());
        assert!(html.contains("2934464 more bytes: the whole output is in probes/uname-m.log"));
    }

    /// Issue 17 item 10: the page shows at most [`HTML_TOTAL`] bytes of output in all, whatever
    /// the number of large outputs; the rest are named.
    #[test]
    fn html_shows_at_most_a_total_of_output() {
        let mut b = bundle();
        for o in b.evidence.outputs.values_mut() {
            o.stdout = vec![b'x'; 3 * HTML_SHOWN];
            o.stderr = vec![b'y'; 3 * HTML_SHOWN];
        }
        let probe_reads: usize = b.results.checks.iter().map(|c| c.probes.len()).sum();
        // Enough reads of large outputs to spend the total many times over.
        let mut c = b.results.checks[0].clone();
        c.probes = b.evidence.outputs.keys().cloned().collect();
        for i in 0..(HTML_TOTAL / HTML_SHOWN) {
            let mut more = c.clone();
            more.id = format!("many-{i}");
            b.results.checks.push(more);
        }
        assert!(probe_reads > 0);
        let html = html(&b, &log_paths(&b.results.checks)).unwrap();
        assert!(
            html.len() < HTML_TOTAL + 2 * 1024 * 1024,
            "{} bytes",
            html.len()
        );
        assert!(html.contains(&format!(
            "[... {} bytes: the whole output is in probes/",
            3 * HTML_SHOWN
        )));
    }
}
