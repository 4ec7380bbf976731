//! `vmcert report show|verify|diff`: reading finished reports without unzipping them. `show`
//! prints the summary and the checks that need attention, `verify` checks every file against the
//! manifest (exit 0 intact, 1 tampered, 2 unreadable), `diff` compares two runs check by check.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use serde::Serialize;
use vmcert_checks::Status;

use crate::cmd::cli::{Format, ReportCommand};
use crate::report::model::{CheckResult, Outcome, QuestionResult, RunReport};
use crate::report::read::{ReportZip, verify};
use crate::report::render::{
    answer_text, md_escape, outcome_reason, scope_text, terminal_safe, visible,
};
use crate::report::sign;

/// Runs a `report` subcommand.
pub(crate) fn run(cmd: &ReportCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ReportCommand::Upload {
            report,
            container_sas_url,
            deadline,
        } => crate::upload::run(
            report,
            &crate::sas::url_arg(container_sas_url)?,
            std::time::Duration::from_secs(*deadline),
        ),
        // Everything printed below comes from report files: no escape sequence reaches the
        // terminal (a name could otherwise rewrite the screen to say "valid").
        ReportCommand::Show { report, format } => {
            let (text, code) = show(report, *format)?;
            print!("{}", terminal_safe(&text));
            Ok(ExitCode::from(code))
        }
        ReportCommand::Verify { report, public_key } => {
            let trusted = public_key
                .as_deref()
                .map(sign::public_key_from_file)
                .transpose()?;
            let (text, code) = verify_text(report, trusted.as_ref())?;
            print!("{}", terminal_safe(&text));
            Ok(ExitCode::from(code))
        }
        ReportCommand::Sign { report, key } => sign_report(report, key),
        ReportCommand::Diff {
            old,
            new,
            format,
            exit_code,
        } => {
            let (text, worse) = diff(old, new, *format)?;
            print!("{}", terminal_safe(&text));
            Ok(ExitCode::from(u8::from(*exit_code && worse)))
        }
    }
}

/// `report verify`: what was checked and found, in words that claim no more than that, and the
/// exit status (0 consistent, 1 a problem found).
pub(crate) fn verify_text(
    path: &Path,
    trusted: Option<&ed25519_dalek::VerifyingKey>,
) -> anyhow::Result<(String, u8)> {
    let zip = ReportZip::open(path)?;
    let manifest_problems = verify(&zip);
    let mut o = String::new();
    let shown = path.display();
    let content_problems = match zip.results() {
        Ok(r) => crate::report::consistency::problems(&zip, &r),
        Err(e) => vec![format!("{e:#}")],
    };
    if manifest_problems.is_empty() {
        let _ = writeln!(
            o,
            "manifest consistent: the {} other files of {shown} match the sizes and SHA-256 in manifest.json",
            zip.entries.len().saturating_sub(1)
        );
    } else {
        let _ = writeln!(o, "MANIFEST MISMATCH: {shown} does not match its manifest");
        for p in &manifest_problems {
            let _ = writeln!(o, "  {}", one_line(p));
        }
    }
    if content_problems.is_empty() {
        let _ = writeln!(
            o,
            "contents consistent: the summary agrees with checks[], selftest.json is the self-test API's response"
        );
    } else {
        let _ = writeln!(o, "CONTENTS INCONSISTENT: the report contradicts itself");
        for p in &content_problems {
            let _ = writeln!(o, "  {}", one_line(p));
        }
    }
    let signature = sign::check(
        zip.get(sign::PATH)?,
        zip.get(crate::report::manifest::PATH)?,
        trusted,
    );
    let signature_ok = match &signature {
        sign::Verdict::Unsigned => {
            let _ = writeln!(
                o,
                "not signed: this shows the files were not damaged or carelessly edited, not who wrote them (anyone can rewrite a manifest)"
            );
            trusted.is_none()
        }
        sign::Verdict::Valid { fingerprint } if trusted.is_some() => {
            let _ = writeln!(
                o,
                "signed by key {fingerprint}, the key given: manifest.json and so every file it lists are as that key's holder signed them"
            );
            true
        }
        sign::Verdict::Valid { fingerprint } => {
            let _ = writeln!(
                o,
                "signed by key {fingerprint} (the key in the report; pass --public-key to check it is one you trust)"
            );
            true
        }
        sign::Verdict::Invalid(why) => {
            let _ = writeln!(o, "BAD SIGNATURE: {}", one_line(why));
            false
        }
    };
    if trusted.is_some() && signature == sign::Verdict::Unsigned {
        let _ = writeln!(
            o,
            "MISSING SIGNATURE: --public-key asks for a signed report"
        );
    }
    let code =
        u8::from(!(manifest_problems.is_empty() && content_problems.is_empty() && signature_ok));
    Ok((o, code))
}

/// `report sign`: refuses a report that does not match its manifest, then rewrites the zip with
/// `manifest.sig` (replacing an earlier one), atomically.
fn sign_report(path: &Path, key: &Path) -> anyhow::Result<ExitCode> {
    let signer = sign::ReportSigner::from_file(key)?;
    let zip = ReportZip::open(path)?;
    let problems = verify(&zip);
    if !problems.is_empty() {
        println!(
            "NOT SIGNED: {} does not match its manifest; signing it would vouch for changed files",
            path.display()
        );
        for p in &problems {
            println!("  {}", one_line(p));
        }
        return Ok(ExitCode::from(1));
    }
    let manifest = zip
        .get(crate::report::manifest::PATH)?
        .context("the report has no readable manifest.json")?;
    let mut sig = serde_json::to_vec_pretty(&signer.sign(manifest)?)?;
    sig.push(b'\n');
    crate::report::write::rewrite_with(path, sign::PATH, &sig)?;
    println!(
        "signed {} with key {}: manifest.sig signs manifest.json, which lists every other file",
        path.display(),
        signer.fingerprint()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct ShowJson<'a> {
    report: String,
    integrity: Integrity,
    outcome: Outcome,
    /// Why the outcome is not `certified` (absent when it is).
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome_reason: Option<String>,
    scope: &'a crate::report::model::Scope,
    run: &'a crate::report::model::RunInfo,
    target: &'a crate::report::model::TargetInfo,
    summary: &'a crate::report::model::Summary,
    /// Checks in Fail, Error or Warning, in report order.
    findings: Vec<&'a CheckResult>,
    /// Questionnaire entries in Warning.
    questionnaire_warnings: Vec<&'a QuestionResult>,
}

#[derive(Serialize)]
struct Integrity {
    valid: bool,
    problems: Vec<String>,
}

fn needs_attention(s: Status) -> bool {
    matches!(s, Status::Fail | Status::Error | Status::Warning)
}

/// `report show`'s exit status: 0 certified, 1 failed, 2 incomplete or a pre-check (not a
/// certification), and 2 when the report does not match its manifest (its outcome cannot be
/// trusted).
fn show_code(outcome: Outcome, intact: bool) -> u8 {
    match (intact, outcome) {
        (false, _) => 2,
        (true, Outcome::Certified) => 0,
        (true, Outcome::Failed) => 1,
        (true, Outcome::Incomplete | Outcome::PreCheck) => 2,
    }
}

pub(crate) fn show(path: &Path, format: Format) -> anyhow::Result<(String, u8)> {
    let zip = ReportZip::open(path)?;
    let r = zip.results()?;
    let problems = verify(&zip);
    let code = show_code(r.summary.outcome, problems.is_empty());
    if format == Format::Md {
        let Some(md) = zip.get("report.md")? else {
            bail!("the report has no readable report.md")
        };
        return Ok((String::from_utf8_lossy(md).into_owned(), code));
    }
    let findings: Vec<&CheckResult> = r
        .checks
        .iter()
        .filter(|c| needs_attention(c.status))
        .collect();
    let qwarn: Vec<&QuestionResult> = r
        .questionnaire
        .iter()
        .filter(|q| q.status == Status::Warning)
        .collect();
    if format == Format::Json {
        let v = ShowJson {
            report: path.display().to_string(),
            integrity: Integrity {
                valid: problems.is_empty(),
                problems,
            },
            outcome: r.summary.outcome,
            outcome_reason: outcome_reason(&r),
            scope: &r.scope,
            run: &r.run,
            target: &r.target,
            summary: &r.summary,
            findings,
            questionnaire_warnings: qwarn,
        };
        return Ok((serde_json::to_string_pretty(&v)? + "\n", code));
    }
    let mut o = String::new();
    let integrity = if problems.is_empty() {
        match sign::check(
            zip.get(sign::PATH)?,
            zip.get(crate::report::manifest::PATH)?,
            None,
        ) {
            sign::Verdict::Unsigned => "manifest consistent, not signed".to_owned(),
            sign::Verdict::Valid { fingerprint } => {
                format!("manifest consistent, signed by key {fingerprint}")
            }
            sign::Verdict::Invalid(_) => {
                "manifest consistent, BAD SIGNATURE (see `vmcert report verify`)".to_owned()
            }
        }
    } else {
        format!(
            "MANIFEST MISMATCH ({} problem(s); see `vmcert report verify`)",
            problems.len()
        )
    };
    let _ = writeln!(o, "Report    {} ({integrity})", path.display());
    header(&mut o, &r);
    let s = &r.summary;
    let _ = writeln!(
        o,
        "Result    {}; {} questionnaire warning(s)",
        s.line(),
        s.questionnaire_warnings
    );
    if let Some(why) = outcome_reason(&r) {
        let _ = writeln!(o, "          not certified: {}", one_line(&why));
    }
    let _ = writeln!(o, "Scope     {}", one_line(&scope_text(&r)));
    if !findings.is_empty() {
        o.push('\n');
    }
    for c in &findings {
        let waived = c
            .waived
            .as_ref()
            .map(|w| format!(" (waived until {})", w.expires))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "{:<8} {}  {}{waived}",
            c.status.as_str(),
            one_line(&c.id),
            one_line(&c.title)
        );
        if !c.actual.is_empty() {
            let _ = writeln!(o, "         found:    {}", one_line(&c.actual));
        }
        if !c.required.is_empty() {
            let _ = writeln!(o, "         required: {}", one_line(&c.required));
        }
        let _ = writeln!(o, "         {}", one_line(&c.message));
    }
    if !qwarn.is_empty() {
        let _ = writeln!(o, "\nQuestionnaire warnings");
        for q in &qwarn {
            let answer = q.answer.as_ref().map_or_else(
                || "unanswered".to_owned(),
                |a| one_line(&answer_text(&q.id, a)),
            );
            let _ = writeln!(o, "  {:<6} {answer}: {}", q.id, q.message);
        }
    }
    Ok((o, code))
}

fn header(o: &mut String, r: &RunReport) {
    let t = &r.target;
    let user = t.user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
    let port = t.port.map(|p| format!(":{p}")).unwrap_or_default();
    let distro = t
        .facts
        .get("OSDistro")
        .or_else(|| t.facts.get("OSName"))
        .map(|d| format!(", {d}"))
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "Run       {} ({}), profile {}, {} phase, {} .. {}",
        r.run.name, r.run.id, r.run.profile, r.scope.phase, r.run.started, r.run.finished
    );
    if r.run.interrupted {
        let _ = writeln!(
            o,
            "          INTERRUPTED: {}",
            r.run
                .interrupted_reason
                .as_deref()
                .unwrap_or("reason not recorded")
        );
    }
    let _ = writeln!(
        o,
        "Target    {}://{user}{}{port} ({}{distro})",
        t.transport, t.host, t.os
    );
}

/// A value on one terminal line, with control characters (escape sequences in probe output)
/// shown as control pictures rather than sent to the terminal.
fn one_line(s: &str) -> String {
    s.replace('\n', " | ").chars().map(visible).collect()
}

#[derive(Serialize)]
struct DiffJson {
    old: Side,
    new: Side,
    /// Checks in both reports whose status changed.
    changed: Vec<Change>,
    /// Checks only in the new report.
    added: Vec<Only>,
    /// Checks only in the old report.
    removed: Vec<Only>,
    /// Checks in both with the same status.
    unchanged: usize,
    /// Questionnaire entries whose status or answer changed.
    questionnaire: Vec<QuestionChange>,
    /// A check got worse: a changed check's status ranks worse (Pass and NotApplicable, then
    /// Warning, then Error, then Fail), or an added check is in Fail or Error.
    worse: bool,
}

/// How bad a status is, for `worse`: Pass = NotApplicable < Warning < Error < Fail.
const fn badness(s: Status) -> u8 {
    match s {
        Status::Pass | Status::NotApplicable => 0,
        Status::Warning => 1,
        Status::Error => 2,
        Status::Fail => 3,
    }
}

#[derive(Serialize)]
struct Side {
    report: String,
    name: String,
    started: String,
    os: String,
    outcome: Outcome,
}

#[derive(Serialize)]
struct Change {
    id: String,
    title: String,
    old: Status,
    new: Status,
    old_actual: String,
    new_actual: String,
}

#[derive(Serialize)]
struct Only {
    id: String,
    title: String,
    status: Status,
}

#[derive(Serialize)]
struct QuestionChange {
    id: String,
    old: Status,
    new: Status,
    old_answer: Option<serde_json::Value>,
    new_answer: Option<serde_json::Value>,
}

fn side(path: &Path, r: &RunReport) -> Side {
    Side {
        report: path.display().to_string(),
        name: r.run.name.clone(),
        started: r.run.started.clone(),
        os: r.target.os.to_string(),
        outcome: r.summary.outcome,
    }
}

fn compare(old_path: &Path, old: &RunReport, new_path: &Path, new: &RunReport) -> DiffJson {
    let old_checks: BTreeMap<&str, &CheckResult> =
        old.checks.iter().map(|c| (c.id.as_str(), c)).collect();
    let new_ids: BTreeMap<&str, &CheckResult> =
        new.checks.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut d = DiffJson {
        old: side(old_path, old),
        new: side(new_path, new),
        changed: Vec::new(),
        added: Vec::new(),
        removed: Vec::new(),
        unchanged: 0,
        questionnaire: Vec::new(),
        worse: false,
    };
    let only = |c: &CheckResult| Only {
        id: c.id.clone(),
        title: c.title.clone(),
        status: c.status,
    };
    for c in &new.checks {
        match old_checks.get(c.id.as_str()) {
            None => d.added.push(only(c)),
            Some(o) if o.status == c.status => d.unchanged += 1,
            Some(o) => d.changed.push(Change {
                id: c.id.clone(),
                title: c.title.clone(),
                old: o.status,
                new: c.status,
                old_actual: o.actual.clone(),
                new_actual: c.actual.clone(),
            }),
        }
    }
    d.worse = d.changed.iter().any(|c| badness(c.new) > badness(c.old))
        || d.added
            .iter()
            .any(|c| matches!(c.status, Status::Fail | Status::Error));
    d.removed = old
        .checks
        .iter()
        .filter(|c| !new_ids.contains_key(c.id.as_str()))
        .map(only)
        .collect();
    let old_q: BTreeMap<&str, &QuestionResult> = old
        .questionnaire
        .iter()
        .map(|q| (q.id.as_str(), q))
        .collect();
    for q in &new.questionnaire {
        if let Some(o) = old_q.get(q.id.as_str())
            && (o.status != q.status || o.answer != q.answer)
        {
            d.questionnaire.push(QuestionChange {
                id: q.id.clone(),
                old: o.status,
                new: q.status,
                old_answer: o.answer.clone(),
                new_answer: q.answer.clone(),
            });
        }
    }
    d
}

/// The diff in `format`, and whether a check got worse.
fn diff(old_path: &Path, new_path: &Path, format: Format) -> anyhow::Result<(String, bool)> {
    let old = ReportZip::open(old_path)?.results()?;
    let new = ReportZip::open(new_path)?.results()?;
    let d = compare(old_path, &old, new_path, &new);
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&d)? + "\n",
        Format::Md => diff_md(&d),
        Format::Table => diff_text(&d),
    };
    Ok((text, d.worse))
}

fn diff_text(d: &DiffJson) -> String {
    let mut o = String::new();
    for (label, s) in [("Old", &d.old), ("New", &d.new)] {
        let _ = writeln!(
            o,
            "{label}  {} ({}, {}, {}): {}",
            s.report,
            s.name,
            s.os,
            s.started,
            s.outcome.label()
        );
    }
    if d.old.os != d.new.os {
        let _ = writeln!(o, "note: the reports are for different operating systems");
    }
    if d.changed.is_empty()
        && d.added.is_empty()
        && d.removed.is_empty()
        && d.questionnaire.is_empty()
    {
        let _ = writeln!(
            o,
            "\nNo differences: {} check(s) with the same status.",
            d.unchanged
        );
        return o;
    }
    if !d.changed.is_empty() {
        let _ = writeln!(o, "\nChanged");
        for c in &d.changed {
            let _ = writeln!(o, "  {:<34} {} -> {}", c.id, c.old, c.new);
        }
    }
    for (title, list) in [("Added", &d.added), ("Removed", &d.removed)] {
        if !list.is_empty() {
            let _ = writeln!(o, "\n{title}");
            for c in list {
                let _ = writeln!(o, "  {:<34} {}", c.id, c.status);
            }
        }
    }
    if !d.questionnaire.is_empty() {
        let _ = writeln!(o, "\nQuestionnaire");
        for q in &d.questionnaire {
            let text = |a: &Option<serde_json::Value>| {
                a.as_ref().map_or_else(
                    || "unanswered".to_owned(),
                    |v| one_line(&answer_text(&q.id, v)),
                )
            };
            let _ = writeln!(
                o,
                "  {:<6} {} ({}) -> {} ({})",
                q.id,
                q.old,
                text(&q.old_answer),
                q.new,
                text(&q.new_answer)
            );
        }
    }
    let _ = writeln!(o, "\nUnchanged: {} check(s)", d.unchanged);
    if d.worse {
        let _ = writeln!(o, "A check got worse.");
    }
    o
}

/// The diff as Markdown (for a pull request or a review comment): the two reports, then one table
/// per kind of difference; every value escaped for its table cell.
fn diff_md(d: &DiffJson) -> String {
    let e = |s: &str| md_escape(&one_line(s));
    let mut o = String::from(
        "# Report diff\n\n| | report | name | OS | started | outcome |\n|---|---|---|---|---|---|\n",
    );
    for (label, s) in [("Old", &d.old), ("New", &d.new)] {
        let _ = writeln!(
            o,
            "| {label} | {} | {} | {} | {} | {} |",
            e(&s.report),
            e(&s.name),
            e(&s.os),
            e(&s.started),
            s.outcome.label()
        );
    }
    if d.old.os != d.new.os {
        o.push_str("\nThe reports are for different operating systems.\n");
    }
    if !d.changed.is_empty() {
        let _ = writeln!(
            o,
            "\n## Changed ({})\n\n| check | title | old | new | old actual | new actual |\n|---|---|---|---|---|---|",
            d.changed.len()
        );
        for c in &d.changed {
            let _ = writeln!(
                o,
                "| `{}` | {} | {} | {} | {} | {} |",
                c.id,
                e(&c.title),
                c.old,
                c.new,
                e(&c.old_actual),
                e(&c.new_actual)
            );
        }
    }
    for (title, list) in [("Added", &d.added), ("Removed", &d.removed)] {
        if !list.is_empty() {
            let _ = writeln!(
                o,
                "\n## {title} ({})\n\n| check | title | status |\n|---|---|---|",
                list.len()
            );
            for c in list {
                let _ = writeln!(o, "| `{}` | {} | {} |", c.id, e(&c.title), c.status);
            }
        }
    }
    if !d.questionnaire.is_empty() {
        let _ = writeln!(
            o,
            "\n## Questionnaire ({})\n\n| question | old | new |\n|---|---|---|",
            d.questionnaire.len()
        );
        for q in &d.questionnaire {
            let text = |a: &Option<serde_json::Value>| {
                a.as_ref()
                    .map_or_else(|| "unanswered".to_owned(), |v| e(&answer_text(&q.id, v)))
            };
            let _ = writeln!(
                o,
                "| {} | {} ({}) | {} ({}) |",
                q.id,
                q.old,
                text(&q.old_answer),
                q.new,
                text(&q.new_answer)
            );
        }
    }
    let _ = writeln!(o, "\nUnchanged: {} check(s).", d.unchanged);
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testdata::bundle;
    use crate::report::write::write_zip;

    #[test]
    fn show_lists_findings_and_integrity() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.zip");
        write_zip(&p, &bundle()).unwrap();
        let (text, code) = show(&p, Format::Table).unwrap();
        assert_eq!(code, 1, "a failed report exits 1");
        assert!(text.contains("(manifest consistent, not signed)"), "{text}");
        assert!(
            text.contains("Result    FAILED: 2 pass, 1 warning, 1 fail, 1 not applicable, 1 error"),
            "{text}"
        );
        assert!(
            text.contains(
                "          not certified: 1 check(s) failed, and 1 could not be evaluated (Error)\n"
            ),
            "{text}"
        );
        assert!(text.contains("Scope     6 check(s) ran; "), "{text}");
        assert!(
            text.contains("Fail     bash-history-cleared  Shell history cleared"),
            "{text}"
        );
        assert!(text.contains("Warning  ssh-client-alive-interval  SSH ClientAliveInterval (waived until 2027-06-30)"), "{text}");
        assert!(
            !text.contains("os-architecture"),
            "passing checks are not listed:\n{text}"
        );
        assert!(text.contains("GA12   False: Answered False"), "{text}");
        let json: serde_json::Value =
            serde_json::from_str(&show(&p, Format::Json).unwrap().0).unwrap();
        assert_eq!(json["integrity"]["valid"], true);
        assert_eq!(json["outcome"], "failed");
        assert_eq!(json["scope"]["full_catalogue"], false);
        assert_eq!(json["findings"].as_array().unwrap().len(), 3);
        assert!(
            show(&p, Format::Md)
                .unwrap()
                .0
                .starts_with("# vmcert certification report")
        );
    }

    #[test]
    fn terminal_output_cannot_carry_escape_sequences() {
        assert_eq!(one_line("a\u{1b}[31m\nb"), "a\u{241b}[31m | b");
    }

    #[test]
    fn diff_reports_changes_additions_and_removals() {
        let old = bundle().results;
        let mut new = old.clone();
        new.checks[1].status = Status::Pass; // bash-history-cleared fixed
        new.checks.retain(|c| c.id != "acme-motd-branded");
        let mut added = new.checks[0].clone();
        added.id = "omi-not-vulnerable".to_owned();
        new.checks.push(added);
        new.questionnaire
            .iter_mut()
            .find(|q| q.id == "GA12")
            .unwrap()
            .status = Status::Pass;
        let d = compare(Path::new("old.zip"), &old, Path::new("new.zip"), &new);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(
            (d.changed[0].id.as_str(), d.changed[0].old, d.changed[0].new),
            ("bash-history-cleared", Status::Fail, Status::Pass)
        );
        assert_eq!(d.added[0].id, "omi-not-vulnerable");
        assert_eq!(d.removed[0].id, "acme-motd-branded");
        assert_eq!(d.unchanged, 4);
        assert_eq!(d.questionnaire[0].id, "GA12");
        assert!(
            !d.worse,
            "a fixed check and a passing added one are not worse"
        );
        insta::assert_snapshot!(diff_md(&d));
        new.checks[0].status = Status::Warning; // os-architecture regressed
        assert!(compare(Path::new("o"), &old, Path::new("n"), &new).worse);
        new.checks[0].status = Status::Pass;
        new.checks.last_mut().unwrap().status = Status::Error;
        assert!(compare(Path::new("o"), &old, Path::new("n"), &new).worse);
    }

    #[test]
    fn show_exit_codes_follow_the_outcome() {
        assert_eq!(show_code(Outcome::Certified, true), 0);
        assert_eq!(show_code(Outcome::Failed, true), 1);
        assert_eq!(show_code(Outcome::Incomplete, true), 2);
        assert_eq!(show_code(Outcome::PreCheck, true), 2);
        assert_eq!(show_code(Outcome::Certified, false), 2);
    }
}
