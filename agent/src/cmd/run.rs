//! `vmcert run`: the command-line side of a certification run. It turns the flags into the
//! engine's [`RunConfig`], lets the [`Plan`] read and check every input and run the probes once
//! through the target's transport, shows the progress on stderr, then, at a terminal, shows the
//! check results and asks the questions the answers file left open (`crate::cmd::ask`), and
//! writes the report, prints the summary, uploads the zip when asked, and picks the exit status:
//! 0 (no Fail, no Error), 1 (a Fail) or 2 (an Error, or the run could not complete).

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use vmcert_checks::{Phase, Status};

use crate::cmd::cli::{Format, RunArgs};
use crate::engine::config::RunConfig;
use crate::engine::plan::{Plan, Watch};
use crate::engine::questionnaire::AskMode;
use crate::report::ReportBundle;
use crate::report::ci::{Ci, annotations};
use crate::report::model::{CheckResult, RunReport, TargetInfo};
use crate::report::write::Copies;
use crate::target::script::ProbeResult;

/// Runs `vmcert run`.
pub(crate) fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(url) = &args.upload {
        crate::upload::container_url(&crate::sas::url_arg(url).context("--upload")?)
            .context("--upload")?;
    }
    let plan = Plan::prepare(&config(args))?;
    // From here on Ctrl-C keeps what finished (see `interrupt`), during the probes and during
    // the questionnaire alike.
    crate::interrupt::watch().context("cannot watch for Ctrl-C")?;
    let checked = plan.check(&RunWatch::default())?;
    let mut shown = false;
    // After a stop at a question, the terminal is given back once more when `run` returns,
    // whichever way (see `ask::give_back_the_terminal`).
    let mut _give_back = None;
    let (answers, stopped) = match plan.questionnaire() {
        Some(session) if !crate::interrupt::requested() => {
            // The results first, on the terminal the questions are asked on.
            let heading = heading(
                plan.name(),
                checked.target(),
                plan.profile().as_str(),
                plan.phase(),
            );
            eprint!(
                "{}",
                crate::report::render::terminal_safe(&checks_text(
                    &heading,
                    checked.checks(),
                    checked.interrupted()
                ))
            );
            shown = true;
            let asked = crate::cmd::ask::ask(session, checked.checks());
            if let Some(e) = &asked.error {
                eprintln!("vmcert: {e}; the remaining questions stay unanswered");
            }
            _give_back = asked.interrupted.then_some(crate::cmd::ask::GiveBack);
            let stopped = asked.interrupted.then(|| {
                format!(
                    "{} during the questionnaire (the checks had all run)",
                    crate::interrupt::CAUSE
                )
            });
            (asked.answers, stopped)
        }
        _ => (plan.answers().clone(), None),
    };
    let done = checked.finish(&answers, stopped);
    // The report's path only when it was written (a full disk must not print a `Report:` line).
    let report = done.written.is_ok().then_some(done.out.as_path());
    let text = match args.format {
        Format::Json => summary_json(&done.bundle.results, report, done.code)?,
        Format::Md => format!(
            "{}\n{}\n",
            crate::report::render::markdown(
                &done.bundle,
                &crate::report::logs::log_paths(&done.bundle.results.checks),
            )?,
            report.map_or_else(
                || "Report zip: not written (the error follows)".to_string(),
                |p| format!("Report zip: `{}`", p.display())
            )
        ),
        // The check lines are not repeated when they are on the same terminal above the
        // questionnaire.
        Format::Table if shown && std::io::stdout().is_terminal() => {
            tail_text(&done.bundle.results, report)
        }
        Format::Table => summary_text(&done.bundle.results, report),
    };
    // The summary holds the target's own strings (os-release, hostname): no escape sequence.
    print!("{}", crate::report::render::terminal_safe(&text));
    done.written?;
    let ci = &args.ci;
    crate::report::write::write_copies(
        &done.bundle,
        Copies {
            junit: ci.junit.as_deref(),
            sarif: ci.sarif.as_deref(),
            html: ci.html.as_deref(),
            md: ci.md.as_deref(),
        },
    )?;
    ci_commands(&done.bundle, args.format == Format::Json)?;
    if let Some(url) = &args.upload {
        // The zip is complete on disk before the upload starts; a failed upload leaves it there.
        let url = crate::sas::url_arg(url).context("--upload")?;
        let outcome = crate::upload::upload_report(
            &done.out,
            &url,
            std::time::Duration::from_secs(crate::upload::DEFAULT_DEADLINE),
        )
        .with_context(|| {
            format!(
                "the report is kept at {} but could not be uploaded",
                done.out.display()
            )
        })?;
        eprintln!("{}", crate::sas::redact(&outcome.to_string()));
    }
    Ok(ExitCode::from(done.code))
}

/// Under GitHub Actions or Azure Pipelines: the findings as the CI's annotations (on stdout, or
/// stderr when stdout carries JSON), and under GitHub the report's Markdown appended to the job
/// summary (`$GITHUB_STEP_SUMMARY`).
pub(crate) fn ci_commands(bundle: &ReportBundle, json_on_stdout: bool) -> anyhow::Result<()> {
    let env = |k: &str| std::env::var(k).ok();
    for system in Ci::detect(env) {
        let lines = annotations(system, &bundle.results);
        if json_on_stdout {
            eprint!("{lines}");
        } else {
            print!("{lines}");
        }
        if system == Ci::Github
            && let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty())
        {
            let md = crate::report::render::markdown(
                bundle,
                &crate::report::logs::log_paths(&bundle.results.checks),
            )?;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .with_context(|| {
                    format!(
                        "cannot append to $GITHUB_STEP_SUMMARY ({})",
                        Path::new(&path).display()
                    )
                })?;
            std::io::Write::write_all(&mut f, format!("{md}\n").as_bytes())
                .context("cannot append to $GITHUB_STEP_SUMMARY")?;
        }
    }
    Ok(())
}

/// The run `args` ask for, as the engine's plain configuration.
fn config(args: &RunArgs) -> RunConfig {
    let mut target = args.target.options();
    target.no_prompt |= args.non_interactive;
    let ask = if std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
        && !args.non_interactive
    {
        AskMode::Prompt
    } else if args.allow_unanswered {
        AskMode::AllowUnanswered
    } else {
        AskMode::RequireAll
    };
    RunConfig {
        target,
        name: args.name.clone(),
        out: args.out.clone(),
        profile: args.profile,
        phase: args.phase,
        only: args.checks.clone(),
        skip: args.skip.clone(),
        check_packs: args.check_pack.clone(),
        waivers: args.waivers.clone(),
        answers: args.answers.clone(),
        ask,
        timeout: args.timeout,
        update_search_timeout: args.update_search_timeout,
        output_budget: args.output_budget << 20,
        record: args.record.clone(),
        fail_on: args.fail_on,
        sign_key: args.sign_key.clone(),
        save_answers: args.save_answers.clone(),
    }
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

/// The first line of the summary: the run, the target, its OS, the profile and the phase.
fn heading(name: &str, target: &TargetInfo, profile: &str, phase: Phase) -> String {
    format!(
        "vmcert run `{name}` on {} ({}, profile {profile}, {phase} phase)",
        target.host, target.os
    )
}

/// The heading and one line per check (and why the probe run stopped, when it did).
fn checks_text(heading: &str, checks: &[CheckResult], interrupted: Option<&str>) -> String {
    let mut t = String::new();
    let w = checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    let _ = writeln!(t, "{heading}");
    for c in checks {
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
    if let Some(why) = interrupted {
        let _ = writeln!(t, "Run interrupted: {why}");
    }
    t
}

fn summary_text(r: &RunReport, out: Option<&Path>) -> String {
    let heading = heading(&r.run.name, &r.target, &r.run.profile, r.scope.phase);
    checks_text(&heading, &r.checks, None) + &tail_text(r, out)
}

/// The summary after the check lines: why the run stopped early, the questionnaire's warnings,
/// the counts, why not certified, and the report's path.
fn tail_text(r: &RunReport, out: Option<&Path>) -> String {
    let mut t = String::new();
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
    let _ = writeln!(t, "Summary: {}", r.summary.line());
    if let Some(why) = crate::report::render::outcome_reason(r) {
        let _ = writeln!(t, "Not certified: {why}");
    }
    match out {
        Some(out) => {
            let _ = writeln!(t, "Report: {}", out.display());
        }
        None => {
            let _ = writeln!(t, "Report: not written (the error follows)");
        }
    }
    t
}

fn summary_json(r: &RunReport, out: Option<&Path>, code: u8) -> anyhow::Result<String> {
    let checks: Vec<serde_json::Value> = r
        .checks
        .iter()
        .map(
            |c| serde_json::json!({ "id": c.id, "status": c.status, "waived": c.waived.is_some() }),
        )
        .collect();
    let v = serde_json::json!({
        "report": out.map(|o| o.display().to_string()),
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
    use clap::Parser as _;

    fn target_spec(args: &[&str]) -> anyhow::Result<Box<dyn crate::target::open::TargetSpec>> {
        let cli = crate::cmd::cli::Cli::try_parse_from(
            ["vmcert", "run"].iter().chain(args).collect::<Vec<_>>(),
        )?;
        match cli.command {
            crate::cmd::cli::Command::Run(run) => crate::target::open::open(&config(&run).target),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn targets_are_read_without_connecting() {
        let local = target_spec(&["--local"]).expect("local");
        assert_eq!(local.describe(), "this machine (local)");
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

    /// Issue 17 item 14: when the report could not be written (a full disk), the summary says
    /// so instead of naming a file that does not exist.
    #[test]
    fn the_summary_names_the_report_only_when_it_was_written() {
        let r = crate::report::testdata::bundle().results;
        let written = summary_text(&r, Some(Path::new("r.zip")));
        assert!(written.ends_with("Report: r.zip\n"), "{written}");
        let lost = summary_text(&r, None);
        assert!(
            lost.ends_with("Report: not written (the error follows)\n"),
            "{lost}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&summary_json(&r, None, 2).unwrap()).unwrap();
        assert!(json["report"].is_null());
    }
}
