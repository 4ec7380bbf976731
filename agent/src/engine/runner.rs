//! The engine of `vmcert run`, independent of how the target is reached: choose the checks, build
//! the union of their probes (plus the fact probes of the report header), run them once through a
//! [`Transport`], evaluate every check on the same evidence, and settle each result with the
//! waivers. Checks whose probes never arrived end in Error with the cause, never Pass or Fail.
//!
//! `crate::cmd::run` does the command-line side (inputs, progress, report); this module stays testable
//! with any transport.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::panic::{AssertUnwindSafe, catch_unwind};

use anyhow::{Context as _, bail};
use chrono::NaiveDate;
use vmcert_checks::pack::PackCheck;
use vmcert_checks::waiver::{self, Applied, Waiver};
use vmcert_checks::{Check, Evidence, Os, Phase, Profile, Status, Verdict, probe, registry};

use crate::engine::budget::OutputBudget;
use crate::report::ProbeLog;
use crate::report::model::{
    CheckResult, Outcome, QuestionResult, Scope, SkipReason, Skipped, Summary, Waived,
};
use crate::target::script::{DEFAULT_OUTPUT_CAP, ProbeResult, ProbeSpec};
use crate::target::{ProbeSink, Transport};

/// A check chosen for the run, and where it comes from.
pub(crate) struct Selected<'a> {
    /// The check.
    pub check: &'a dyn Check,
    /// `builtin`, or the check pack file.
    pub source: String,
}

/// The run's own log (`logs/run.log`): what was run, how long it took, what was decided and why.
/// Every line also goes to `tracing` (shown with `-v`). Never given secrets.
#[derive(Debug, Default)]
pub(crate) struct RunLog {
    text: String,
}

impl RunLog {
    /// Appends a time-stamped line.
    pub(crate) fn line(&mut self, msg: impl AsRef<str>) {
        let msg = msg.as_ref();
        tracing::info!("{msg}");
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
        let _ = writeln!(self.text, "{now} {msg}");
    }

    /// The log text.
    pub(crate) fn into_text(self) -> String {
        self.text
    }
}

/// The checks to run on an `os` target: built-in checks then pack checks for that OS, minus
/// `skip`, or only `only` when it is not empty.
///
/// # Errors
/// An id in `only` or `skip` that names no check for `os`.
pub(crate) fn select<'a>(
    os: Os,
    packs: &'a [PackCheck],
    only: &[String],
    skip: &[String],
) -> anyhow::Result<Vec<Selected<'a>>> {
    let mut all: Vec<Selected<'a>> = registry::for_os(os)
        .map(|c| Selected {
            check: c,
            source: "builtin".to_string(),
        })
        .collect();
    all.extend(
        packs
            .iter()
            .filter(|p| p.meta().os == os)
            .map(|p| Selected {
                check: p as &dyn Check,
                source: p.file().to_string(),
            }),
    );
    for id in only.iter().chain(skip) {
        if all.iter().any(|s| s.check.meta().id == id) {
            continue;
        }
        let elsewhere = registry::ALL
            .iter()
            .map(|c| c.meta())
            .chain(packs.iter().map(Check::meta))
            .find(|m| m.id == id);
        match elsewhere {
            Some(m) => bail!("check `{id}` is a {} check; this target runs {os}", m.os),
            None => bail!("unknown check id `{id}` (see `vmcert checks list --os {os}`)"),
        }
    }
    all.retain(|s| {
        let id = s.check.meta().id;
        (only.is_empty() || only.iter().any(|o| o == id)) && !skip.iter().any(|k| k == id)
    });
    Ok(all)
}

/// Refuses waivers naming a check that exists nowhere (built-in of any OS or pack check): a typo
/// would otherwise silently waive nothing.
///
/// # Errors
/// The first such waiver, as `file:line: problem`.
pub(crate) fn validate_waivers(waivers: &[Waiver], packs: &[PackCheck]) -> anyhow::Result<()> {
    for w in waivers {
        let known = registry::ALL.iter().any(|c| c.meta().id == w.check)
            || packs.iter().any(|p| p.meta().id == w.check);
        if !known {
            bail!(
                "{}:{}: waiver for unknown check id `{}`",
                w.file,
                w.line,
                w.check
            );
        }
    }
    Ok(())
}

/// Probes that take far longer than the rest on a real target, slowest first, started first so they overlap
/// with everything else instead of ending the run alone: measured on a lab VM (bench/), apt's
/// upgrade simulation and cloud-init's Python start take ~1.3 s each, waagent's ~0.8 s, every
/// other Linux probe under 0.11 s. Started last (their catalogue place), they made the run ~40 %
/// longer than with them first.
const SLOW_PROBES: &[&str] = &["pending-updates", "cloud-init", "waagent-version"];

/// The union of the probes of `selected`, each once: the known slow probes ([`SLOW_PROBES`])
/// first, then fact probes, then the rest in first-use order.
///
/// # Errors
/// A check naming a probe that neither the catalogue nor the check itself defines (a bug the
/// registry tests guard against).
pub(crate) fn probe_specs(
    os: Os,
    selected: &[Selected<'_>],
    timeout_secs: u64,
) -> anyhow::Result<Vec<ProbeSpec>> {
    let mut seen = HashSet::new();
    let mut specs = Vec::new();
    let mut add = |p: &probe::Probe| {
        if seen.insert(p.id) {
            specs.push(ProbeSpec {
                id: p.id.to_string(),
                command: p.command.to_string(),
                needs_root: p.needs_root,
                timeout_secs,
                output_cap: DEFAULT_OUTPUT_CAP,
            });
        }
    };
    for id in probe::fact_probes(os) {
        add(probe::find(os, id)
            .with_context(|| format!("fact probe `{id}` is not in the catalogue"))?);
    }
    for s in selected {
        for id in s.check.probes() {
            let p = s
                .check
                .own_probes()
                .iter()
                .find(|p| p.id == *id)
                .or_else(|| probe::find(os, id))
                .with_context(|| {
                    format!(
                        "check `{}` needs probe `{id}`, which does not exist",
                        s.check.meta().id
                    )
                })?;
            add(p);
        }
    }
    // Slowest first; stable, so everything else keeps its order.
    specs.sort_by_key(|s| {
        SLOW_PROBES
            .iter()
            .position(|id| *id == s.id)
            .unwrap_or(SLOW_PROBES.len())
    });
    Ok(specs)
}

/// Default seconds of the Windows Update search (`--update-search-timeout`): the first online
/// scan of a fresh Marketplace VM often takes several minutes (research/windows-real.md).
pub(crate) const UPDATE_SEARCH_TIMEOUT: u64 = 600;

/// Seconds `Get-WindowsFeature` may take at least: a cold first run takes 5-30 s. It runs only
/// once the update search has ended (`vmcert_checks::windows::probes::RUNS_AFTER`), so the
/// search's hold on the servicing stack is not counted against it.
const WINDOWS_FEATURES_TIMEOUT: u64 = 180;

/// Gives the Windows probes that are slow on a fresh VM their own timeouts: the Windows Update
/// search `update_search` seconds, `Get-WindowsFeature` at least [`WINDOWS_FEATURES_TIMEOUT`];
/// every other probe keeps the per-probe timeout. Nothing changes for other systems.
pub(crate) fn long_timeouts(os: Os, specs: &mut [ProbeSpec], update_search: u64) {
    if os != Os::Windows {
        return;
    }
    for s in specs {
        match s.id.as_str() {
            "pending-updates" => s.timeout_secs = update_search,
            "windows-features" => s.timeout_secs = s.timeout_secs.max(WINDOWS_FEATURES_TIMEOUT),
            _ => {}
        }
    }
}

/// What the transport delivered.
#[derive(Debug)]
pub(crate) struct Gathered {
    /// Every probe that reported.
    pub evidence: Evidence,
    /// Command and start of every probe that reported.
    pub probe_logs: BTreeMap<String, ProbeLog>,
    /// Why the run stopped early, if it did.
    pub interrupted: Option<String>,
}

struct Collector<'a> {
    gathered: &'a mut Gathered,
    specs: &'a [ProbeSpec],
    log: &'a mut RunLog,
    progress: &'a mut dyn FnMut(&ProbeResult, usize, usize),
    budget: OutputBudget,
}

impl ProbeSink for Collector<'_> {
    fn result(&mut self, mut r: ProbeResult) {
        if let Some(cut) = self.budget.admit(&mut r.output) {
            self.log.line(format!(
                "probe {}: only {} of its {} bytes of output kept: the run's output budget of {} bytes is spent (--output-budget); the checks reading it are Error",
                r.id,
                cut.kept,
                cut.kept + cut.dropped,
                self.budget.limit()
            ));
        }
        let o = &r.output;
        let outcome = match (&o.error, o.timed_out, o.exit_code) {
            (Some(e), _, _) => format!("not run: {e}"),
            (None, true, _) => "killed at its timeout".to_string(),
            (None, false, Some(c)) => format!("exit {c}"),
            (None, false, None) => "no exit status".to_string(),
        };
        self.log.line(format!(
            "probe {}: {outcome}, {} ms, {} bytes stdout, {} bytes stderr{}",
            r.id,
            o.duration_ms,
            o.stdout.len(),
            o.stderr.len(),
            if o.truncated {
                ", output truncated at the cap"
            } else {
                ""
            }
        ));
        let ended = chrono::Utc::now();
        let started = ended
            - chrono::Duration::milliseconds(i64::try_from(o.duration_ms).unwrap_or(i64::MAX));
        if let Some(spec) = self.specs.iter().find(|s| s.id == r.id) {
            self.gathered.probe_logs.insert(
                r.id.clone(),
                ProbeLog {
                    command: spec.command.clone(),
                    started: Some(started.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                },
            );
        }
        let done = self.gathered.evidence.outputs.len() + 1;
        (self.progress)(&r, done, self.specs.len());
        self.gathered.evidence.insert(r.id, r.output);
    }

    fn note(&mut self, line: String) {
        self.log.line(line);
    }
}

/// Runs `specs` once through `transport`, keeping at most `output_budget` bytes of probe output
/// in all (see [`crate::engine::budget`]). `progress` sees each probe as it arrives with the
/// number done so far and the total.
pub(crate) fn gather(
    transport: &mut dyn Transport,
    specs: &[ProbeSpec],
    profile: Profile,
    output_budget: u64,
    phase: Phase,
    log: &mut RunLog,
    progress: &mut dyn FnMut(&ProbeResult, usize, usize),
) -> Gathered {
    let mut gathered = Gathered {
        evidence: Evidence::new(profile).in_phase(phase),
        probe_logs: BTreeMap::new(),
        interrupted: None,
    };
    log.line(format!(
        "running {} probe(s) through the {} transport: {}",
        specs.len(),
        transport.kind(),
        specs
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let result = {
        let mut sink = Collector {
            gathered: &mut gathered,
            specs,
            log,
            progress,
            budget: OutputBudget::new(output_budget),
        };
        let result = transport.run_probes(specs, &mut sink);
        sink.log.line(format!(
            "probe output kept: {} bytes of the run's budget of {}",
            sink.budget.used(),
            sink.budget.limit()
        ));
        result
    };
    if let Err(e) = result {
        let reason = e.to_string();
        log.line(format!("the run did not complete: {reason}"));
        gathered.interrupted = Some(reason);
    }
    let missing: Vec<&str> = specs
        .iter()
        .map(|s| s.id.as_str())
        .filter(|id| !gathered.evidence.outputs.contains_key(*id))
        .collect();
    if !missing.is_empty() {
        log.line(format!("probes that never arrived: {}", missing.join(", ")));
    }
    gathered
}

/// Evaluates every selected check on the gathered evidence and applies the waivers as of
/// `today`, in selection order.
pub(crate) fn evaluate(
    selected: &[Selected<'_>],
    gathered: &Gathered,
    waivers: &[Waiver],
    today: NaiveDate,
    log: &mut RunLog,
) -> Vec<CheckResult> {
    let ev = &gathered.evidence;
    let cause = gathered
        .interrupted
        .as_deref()
        .unwrap_or("the transport finished without delivering it");
    selected
        .iter()
        .map(|s| {
            let c = s.check;
            let m = c.meta();
            let missing: Vec<&str> = c
                .probes()
                .iter()
                .copied()
                .filter(|p| !ev.outputs.contains_key(*p))
                .collect();
            let mut verdict = if let Some(first) = missing.first() {
                Verdict::error(format!("probe `{first}` never arrived: {cause}"))
            } else if let Some(v) = crate::target::image::offline_verdict(c.probes(), ev) {
                v
            } else {
                catch_unwind(AssertUnwindSafe(|| c.evaluate(ev))).unwrap_or_else(|_| {
                    Verdict::error(
                        "the check's evaluation panicked (a bug in vmcert; please report it)",
                    )
                })
            };
            let applied = waiver::apply(waivers, m.id, verdict.status, today);
            if let Some(note) = applied.note() {
                log.line(format!("check {}: {note}", m.id));
            }
            let waived = match applied {
                Applied::Waived(w) => Some(Waived {
                    justification: w.justification.clone(),
                    expires: w.expires_text(),
                }),
                Applied::Expired(_) => {
                    if let Some(note) = applied.note() {
                        verdict.message = format!("{} {note}", verdict.message).trim().to_string();
                    }
                    None
                }
                Applied::None | Applied::NotNeeded(_) => None,
            };
            log.line(format!(
                "check {}: {}{} ({})",
                m.id,
                verdict.status,
                if waived.is_some() { " (waived)" } else { "" },
                verdict.message
            ));
            CheckResult {
                id: m.id.to_string(),
                title: m.title.to_string(),
                test_id: m.test_id.map(str::to_string),
                test_case_name: m.test_case_name.map(str::to_string),
                status: verdict.status,
                actual: verdict.actual,
                required: verdict.required,
                message: verdict.message,
                remediation: m.remediation.to_string(),
                severity: m.severity,
                duration_ms: c
                    .probes()
                    .iter()
                    .filter_map(|p| ev.outputs.get(*p))
                    .map(|o| o.duration_ms)
                    .sum(),
                probes: c.probes().iter().map(|p| (*p).to_string()).collect(),
                waived,
                source: s.source.clone(),
                description: m.description.to_string(),
            }
        })
        .collect()
}

/// What the run covered: the checks that ran, the catalogue checks left out (by `--checks`,
/// `--skip` or because they are for the other OS), the checks a waiver covers, and the phase.
pub(crate) fn scope(os: Os, skip: &[String], results: &[CheckResult], phase: Phase) -> Scope {
    let ran = |id: &str| results.iter().any(|r| r.id == id);
    let skipped: Vec<Skipped> = registry::ALL
        .iter()
        .map(|c| c.meta())
        .filter(|m| m.os != os || !ran(m.id))
        .map(|m| Skipped {
            id: m.id.to_string(),
            reason: if m.os != os {
                SkipReason::Os
            } else if skip.iter().any(|k| k == m.id) {
                SkipReason::Skip
            } else {
                SkipReason::Checks
            },
        })
        .collect();
    Scope {
        checks_run: results.iter().map(|r| r.id.clone()).collect(),
        full_catalogue: !skipped.iter().any(|s| s.reason != SkipReason::Os),
        skipped,
        waived: results
            .iter()
            .filter(|r| r.waived.is_some())
            .map(|r| r.id.clone())
            .collect(),
        phase,
    }
}

/// Counts per status and the run's one conclusion ([`Outcome`]):
/// - `failed` when any check failed, waived or not (a waiver accepts a Fail, it does not turn it
///   into a Pass; the waiver is shown next to it);
/// - else `pre-check` when the target is a disk image read without booting it, or the run is of
///   the build VM before deprovisioning (`--phase build`);
/// - else `incomplete` when a check is in Error (waived or not), the run was interrupted, or not
///   every catalogue check of the target's OS ran;
/// - else `certified`.
pub(crate) fn summarize(
    results: &[CheckResult],
    questionnaire: &[QuestionResult],
    scope: &Scope,
    transport: &str,
    interrupted: bool,
) -> Summary {
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    let waived = |s: Status| {
        results
            .iter()
            .filter(|r| r.status == s && r.waived.is_some())
            .count()
    };
    let (fail, error) = (count(Status::Fail), count(Status::Error));
    let outcome = if fail > 0 {
        Outcome::Failed
    } else if transport == "image" || scope.phase == Phase::Build {
        Outcome::PreCheck
    } else if error > 0 || interrupted || !scope.full_catalogue {
        Outcome::Incomplete
    } else {
        Outcome::Certified
    };
    Summary {
        pass: count(Status::Pass),
        warning: count(Status::Warning),
        fail,
        not_applicable: count(Status::NotApplicable),
        error,
        waived: waived(Status::Fail) + waived(Status::Error),
        waived_fail: waived(Status::Fail),
        waived_error: waived(Status::Error),
        waived_warning: waived(Status::Warning),
        questionnaire_warnings: questionnaire
            .iter()
            .filter(|q| q.status == Status::Warning)
            .count(),
        outcome,
        certified: outcome == Outcome::Certified,
    }
}

/// The lowest status that makes `run` and `fleet` exit non-zero (`--fail-on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) enum FailOn {
    /// A Warning, a Fail or an Error.
    Warning,
    /// A Fail or an Error: the default.
    #[default]
    Fail,
    /// An Error only.
    Error,
}

impl FailOn {
    /// Every level, strictest first.
    pub(crate) const ALL: [Self; 3] = [Self::Warning, Self::Fail, Self::Error];

    /// The name on the command line and in the inventory.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Fail => "fail",
            Self::Error => "error",
        }
    }

    /// What the level does to the exit status, for `--help`.
    pub(crate) const fn help(self) -> &'static str {
        match self {
            Self::Warning => {
                "A Warning, a Fail or an Error (exit 1 for a Warning or Fail, 2 for an Error)"
            }
            Self::Fail => "A Fail or an Error (exit 1 for a Fail, 2 for an Error): the default",
            Self::Error => "An Error only (exit 2); Fails and Warnings exit 0",
        }
    }
}

impl std::fmt::Display for FailOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FailOn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown level `{s}` (expected warning, fail or error)"))
    }
}

/// The exit status, read off the summary: 2 when the run was interrupted; else 2 for an
/// unwaived Error, 1 for an unwaived Fail (or, with `--fail-on warning`, an unwaived Warning),
/// as far as `fail_on` counts them; else 0. Waivers change the exit status, not the outcome.
pub(crate) fn exit_code(summary: &Summary, interrupted: bool, fail_on: FailOn) -> u8 {
    let open_error = summary.error - summary.waived_error.min(summary.error);
    let open_fail = summary.fail - summary.waived_fail.min(summary.fail);
    let open_warning = summary.warning - summary.waived_warning.min(summary.warning);
    if interrupted || open_error > 0 {
        2
    } else if (fail_on <= FailOn::Fail && open_fail > 0)
        || (fail_on == FailOn::Warning && open_warning > 0)
    {
        1
    } else {
        0
    }
}

/// `KEY=value` pairs of an os-release file, values unquoted as the shell would.
fn os_release(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = if let Some(inner) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            let mut s = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match (c, chars.clone().next()) {
                    ('\\', Some(n @ ('"' | '\\' | '$' | '`'))) => {
                        s.push(n);
                        chars.next();
                    }
                    _ => s.push(c),
                }
            }
            s
        } else if let Some(inner) = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            inner.to_string()
        } else {
            v.to_string()
        };
        out.insert(k.trim().to_string(), v);
    }
    out
}

/// The report-header facts of a Linux target from the fact probes; a fact whose probe did not
/// work is left out (and logged).
pub(crate) fn linux_facts(ev: &Evidence, log: &mut RunLog) -> BTreeMap<String, String> {
    let mut facts = BTreeMap::new();
    let mut one_line =
        |probe: &str, fact: &str, facts: &mut BTreeMap<String, String>| match ev.stdout(probe) {
            Ok(s) if !s.trim().is_empty() => {
                facts.insert(fact.to_string(), s.trim().to_string());
            }
            Ok(_) => log.line(format!("fact {fact}: probe `{probe}` printed nothing")),
            Err(e) => log.line(format!("fact {fact}: {e}")),
        };
    one_line("uname-r", "KernelVersion", &mut facts);
    one_line("proc-version", "KernelFullVersion", &mut facts);
    one_line("uname-n", "Hostname", &mut facts);
    one_line("uname-m", "Architecture", &mut facts);
    match ev.stdout("os-release") {
        Ok(text) => {
            let rel = os_release(&text);
            if let Some(name) = rel.get("NAME") {
                let os_name = rel
                    .get("VERSION_ID")
                    .map_or_else(|| name.clone(), |v| format!("{name} {v}"));
                facts.insert("OSName".into(), os_name);
            }
            if let Some(pretty) = rel.get("PRETTY_NAME") {
                facts.insert("OSDistro".into(), pretty.clone());
            }
            if let Some(v) = rel.get("VERSION_ID") {
                facts.insert("OSVersion".into(), v.clone());
            }
        }
        Err(e) => log.line(format!("facts OSName, OSDistro, OSVersion: {e}")),
    }
    facts
}

/// The report-header facts of a Windows target from its fact probe (`os-info`): OSName
/// (Caption), OSVersion (Version), OSBuild, Architecture, Hostname. Left out (and logged) when
/// the probe did not work.
pub(crate) fn windows_facts(ev: &Evidence, log: &mut RunLog) -> BTreeMap<String, String> {
    let mut facts = BTreeMap::new();
    match vmcert_checks::windows::outputs::os_info(ev) {
        Ok(os) => {
            for (k, v) in [
                ("OSName", os.caption),
                ("OSVersion", os.version),
                ("OSBuild", os.build_number),
                ("Architecture", os.os_architecture),
                ("Hostname", os.hostname),
            ] {
                if !v.trim().is_empty() {
                    facts.insert(k.to_string(), v.trim().to_string());
                }
            }
        }
        Err(e) => log.line(format!("facts OSName, OSVersion, OSBuild, Hostname: {e}")),
    }
    match vmcert_checks::windows::outputs::account(ev) {
        Ok(a) => {
            let token = a.token();
            if !a.is_administrator {
                log.line(format!("WARNING: account {token}"));
            }
            facts.insert("AdminToken".to_string(), token);
        }
        Err(e) => log.line(format!("fact AdminToken: {e}")),
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmcert_checks::ProbeOutput;

    // `/etc/os-release` of the Debian 12 lab root, and `/proc/version` and `uname -r` of the
    // machine the lab runs on.
    const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL=\"https://www.debian.org/\"\nSUPPORT_URL=\"https://www.debian.org/support\"\nBUG_REPORT_URL=\"https://bugs.debian.org/\"\n";
    const PROC_VERSION: &str = "Linux version 6.18.44-fc-v669 (builder@sandboxing) (gcc (GCC) 15.3.0, GNU ld (GNU Binutils) 2.46) #1 SMP PREEMPT_DYNAMIC @0\n";

    fn facts_outputs() -> BTreeMap<String, ProbeOutput> {
        [
            ("os-release", OS_RELEASE),
            ("uname-r", "6.18.44-fc-v669\n"),
            ("uname-m", "x86_64\n"),
            ("uname-n", "vm\n"),
            ("proc-version", PROC_VERSION),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), ProbeOutput::exited(0, v)))
        .collect()
    }

    fn pack() -> Vec<PackCheck> {
        vmcert_checks::pack::parse(
            "site.toml",
            "[[check]]\nid = \"always-true\"\ntitle = \"t\"\nos = \"linux\"\ncommand = \"true\"\n\n[[check]]\nid = \"win-thing\"\ntitle = \"t\"\nos = \"windows\"\ncommand = \"Get-Date\"\n",
        )
        .unwrap()
    }

    fn ids<'a>(s: &'a [Selected<'a>]) -> Vec<&'a str> {
        s.iter().map(|s| s.check.meta().id).collect()
    }

    #[test]
    fn selection_by_os_only_and_skip() {
        let packs = pack();
        let builtin: Vec<&str> = vmcert_checks::registry::for_os(Os::Linux)
            .map(|c| c.meta().id)
            .collect();
        let all = select(Os::Linux, &packs, &[], &[]).unwrap();
        // Built-in checks in registry order, then the pack's Linux check; never the Windows one.
        assert_eq!(ids(&all)[..builtin.len()], builtin[..]);
        assert_eq!(ids(&all)[builtin.len()..], ["always-true"]);
        assert_eq!(all[builtin.len()].source, "site.toml");
        assert_eq!(
            ids(&select(Os::Linux, &packs, &["always-true".into()], &[]).unwrap()),
            ["always-true"]
        );
        assert_eq!(
            ids(&select(Os::Linux, &packs, &[], &["always-true".into()]).unwrap()),
            builtin
        );
        let e = select(Os::Linux, &packs, &["nope".into()], &[])
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "unknown check id `nope` (see `vmcert checks list --os linux`)"
        );
        let e = select(Os::Linux, &packs, &[], &["win-thing".into()])
            .err()
            .unwrap();
        assert_eq!(
            e.to_string(),
            "check `win-thing` is a windows check; this target runs linux"
        );
    }

    #[test]
    fn probe_union_puts_facts_first_and_dedups() {
        let packs = pack();
        let only = ["os-architecture".to_string(), "always-true".to_string()];
        let sel = select(Os::Linux, &packs, &only, &[]).unwrap();
        let specs = probe_specs(Os::Linux, &sel, 7).unwrap();
        let ids: Vec<&str> = specs.iter().map(|s| s.id.as_str()).collect();
        // uname-m is a fact probe and os-architecture's probe: listed once.
        assert_eq!(
            ids,
            [
                "os-release",
                "uname-r",
                "uname-m",
                "uname-n",
                "proc-version",
                "pack-always-true"
            ]
        );
        assert!(specs.iter().all(|s| s.timeout_secs == 7));
        assert_eq!(specs[5].command, "true");
    }

    #[test]
    fn slow_probes_start_first_and_exist_in_the_catalogue() {
        let sel = select(Os::Linux, &[], &[], &[]).unwrap();
        let specs = probe_specs(Os::Linux, &sel, 60).unwrap();
        let ids: Vec<&str> = specs.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids[..SLOW_PROBES.len()], *SLOW_PROBES, "{ids:?}");
        assert_eq!(ids[SLOW_PROBES.len()], "os-release");
    }

    #[test]
    fn the_windows_update_search_starts_first_with_its_own_timeout() {
        let sel = select(Os::Windows, &[], &[], &[]).unwrap();
        let mut specs = probe_specs(Os::Windows, &sel, 60).unwrap();
        long_timeouts(Os::Windows, &mut specs, 900);
        assert_eq!(specs[0].id, "pending-updates", "started first");
        let t = |id: &str| specs.iter().find(|s| s.id == id).unwrap().timeout_secs;
        assert_eq!(t("pending-updates"), 900);
        assert_eq!(t("windows-features"), WINDOWS_FEATURES_TIMEOUT);
        assert_eq!(t("os-info"), 60);
        let sel = select(Os::Linux, &[], &[], &[]).unwrap();
        let mut linux = probe_specs(Os::Linux, &sel, 60).unwrap();
        long_timeouts(Os::Linux, &mut linux, 900);
        assert!(
            linux.iter().all(|s| s.timeout_secs == 60),
            "Linux keeps its timeouts"
        );
    }

    #[test]
    fn lost_connection_marks_unfinished_checks_error_with_the_cause() {
        // A real local run whose pack probe SIGKILLs the script's main shell after a second (see
        // transport::local's tests): the fact probes arrive, the pack probe never does.
        let packs = vmcert_checks::pack::parse(
            "p.toml",
            r#"[[check]]
id = "cuts-the-line"
title = "t"
os = "linux"
command = 'sleep 1; t=$(dirname "$0"); kill -KILL $(ps -o ppid= -p $(ps -o ppid= -p $PPID)); case $t in */vmcert.*) rm -rf "$t" ;; esac'
"#,
        )
        .unwrap();
        let only = ["os-architecture".to_string(), "cuts-the-line".to_string()];
        let sel = select(Os::Linux, &packs, &only, &[]).unwrap();
        let specs = probe_specs(Os::Linux, &sel, 30).unwrap();
        let mut log = RunLog::default();
        let mut seen = Vec::new();
        let mut t = crate::target::local::LocalTransport::new();
        let g = gather(
            &mut t,
            &specs,
            Profile::Current,
            crate::engine::budget::DEFAULT_OUTPUT_BUDGET,
            Phase::Final,
            &mut log,
            &mut |r, n, total| seen.push((r.id.clone(), n, total)),
        );
        let reason = g.interrupted.clone().unwrap();
        assert!(
            reason.starts_with("the probe script ended early"),
            "{reason}"
        );
        assert_eq!(seen.len(), 5, "{seen:?}");
        assert_eq!(seen.last().map(|s| (s.1, s.2)), Some((5, 6)));
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let results = evaluate(&sel, &g, &[], today, &mut log);
        assert_eq!(results[0].id, "os-architecture");
        assert_ne!(results[0].status, Status::Error, "{}", results[0].message);
        assert_eq!(results[1].status, Status::Error);
        assert_eq!(
            results[1].message,
            format!("probe `pack-cuts-the-line` never arrived: {reason}")
        );
        assert_eq!(code(&results, true, FailOn::Fail), 2);
        let text = log.into_text();
        assert!(
            text.contains("probes that never arrived: pack-cuts-the-line"),
            "{text}"
        );
        assert!(
            text.contains("the run did not complete: the probe script ended early"),
            "{text}"
        );
        assert!(text.contains("probe uname-m: exit 0, "), "{text}");
    }

    fn result(id: &str, status: Status, waived: bool) -> CheckResult {
        CheckResult {
            id: id.into(),
            title: String::new(),
            test_id: None,
            test_case_name: None,
            status,
            actual: String::new(),
            required: String::new(),
            message: String::new(),
            remediation: String::new(),
            severity: vmcert_checks::Severity::High,
            duration_ms: 0,
            probes: vec![],
            waived: waived.then(|| Waived {
                justification: "j".into(),
                expires: "2030-01-01".into(),
            }),
            source: "builtin".into(),
            description: String::new(),
        }
    }

    /// The exit status of `results` as `run` computes it: through the summary.
    fn code(results: &[CheckResult], interrupted: bool, fail_on: FailOn) -> u8 {
        let scope = Scope::default();
        let s = summarize(results, &[], &scope, "ssh", interrupted);
        exit_code(&s, interrupted, fail_on)
    }

    #[test]
    fn exit_codes_follow_unwaived_statuses_and_fail_on() {
        let pass = result("a", Status::Pass, false);
        let warn = result("b", Status::Warning, false);
        let fail = result("c", Status::Fail, false);
        let waived_fail = result("d", Status::Fail, true);
        let error = result("e", Status::Error, false);
        let waived_error = result("f", Status::Error, true);
        let waived_warn = result("g", Status::Warning, true);
        let f = FailOn::Fail;
        assert_eq!(code(&[pass.clone(), warn.clone()], false, f), 0);
        assert_eq!(code(&[pass.clone(), warn.clone()], true, f), 2);
        assert_eq!(code(&[pass.clone(), fail.clone()], false, f), 1);
        assert_eq!(code(&[fail.clone(), error.clone()], false, f), 2);
        assert_eq!(code(&[waived_fail.clone(), waived_error], false, f), 0);
        let w = FailOn::Warning;
        assert_eq!(code(&[pass.clone(), warn.clone()], false, w), 1);
        assert_eq!(code(&[pass.clone(), waived_warn], false, w), 0);
        assert_eq!(code(&[warn.clone(), error.clone()], false, w), 2);
        let e = FailOn::Error;
        assert_eq!(code(&[warn, fail.clone()], false, e), 0);
        assert_eq!(code(&[fail, error], false, e), 2);
        assert_eq!(code(&[pass], true, e), 2);
    }

    #[test]
    fn outcome_is_certified_only_for_a_full_clean_run() {
        let full = |results: &[CheckResult]| scope(Os::Linux, &[], results, Phase::Final);
        let linux: Vec<CheckResult> = registry::for_os(Os::Linux)
            .map(|c| result(c.meta().id, Status::Pass, false))
            .collect();
        let s = summarize(&linux, &[], &full(&linux), "ssh", false);
        assert_eq!((s.outcome, s.certified), (Outcome::Certified, true));
        assert!(
            full(&linux)
                .skipped
                .iter()
                .all(|k| k.reason == SkipReason::Os)
        );
        // Interrupted, or in the image's pre-check: never certified.
        let s = summarize(&linux, &[], &full(&linux), "ssh", true);
        assert_eq!((s.outcome, s.certified), (Outcome::Incomplete, false));
        let s = summarize(&linux, &[], &full(&linux), "image", false);
        assert_eq!((s.outcome, s.certified), (Outcome::PreCheck, false));
        // A clean full run of the build VM (--phase build) is a pre-check too; a Fail fails it.
        let build = scope(Os::Linux, &[], &linux, Phase::Build);
        assert_eq!(build.phase, Phase::Build);
        let s = summarize(&linux, &[], &build, "local", false);
        assert_eq!((s.outcome, s.certified), (Outcome::PreCheck, false));
        let mut failing = linux.clone();
        failing[0] = result(&linux[0].id, Status::Fail, false);
        let s = summarize(&failing, &[], &build, "local", false);
        assert_eq!(s.outcome, Outcome::Failed);
        // A waived Fail is a Fail; a waived Error leaves the run incomplete.
        let mut waived = linux.clone();
        waived[0] = result(&linux[0].id, Status::Fail, true);
        let s = summarize(&waived, &[], &full(&waived), "ssh", false);
        assert_eq!(
            (s.outcome, s.waived_fail, s.waived),
            (Outcome::Failed, 1, 1)
        );
        assert_eq!(exit_code(&s, false, FailOn::Fail), 0);
        waived[0] = result(&linux[0].id, Status::Error, true);
        let s = summarize(&waived, &[], &full(&waived), "ssh", false);
        assert_eq!(s.outcome, Outcome::Incomplete);
        // Part of the catalogue: incomplete, and the scope says which were left out and why.
        let part = &linux[..1];
        let skip = vec![linux[1].id.clone()];
        let sc = scope(Os::Linux, &skip, part, Phase::Final);
        assert!(!sc.full_catalogue);
        assert_eq!(sc.checks_run, [linux[0].id.clone()]);
        let reason = |id: &str| sc.skipped.iter().find(|k| k.id == id).map(|k| k.reason);
        assert_eq!(reason(&linux[1].id), Some(SkipReason::Skip));
        assert_eq!(reason(&linux[2].id), Some(SkipReason::Checks));
        assert_eq!(reason(&linux[0].id), None);
        let s = summarize(part, &[], &sc, "local", false);
        assert_eq!((s.outcome, s.certified), (Outcome::Incomplete, false));
    }

    #[test]
    fn waivers_apply_and_expired_ones_say_so() {
        let packs = vmcert_checks::pack::parse(
            "p.toml",
            "[[check]]\nid = \"must-fail\"\ntitle = \"t\"\nos = \"linux\"\ncommand = \"false\"\n\n[[check]]\nid = \"also-fails\"\ntitle = \"t\"\nos = \"linux\"\ncommand = \"false\"\n",
        )
        .unwrap();
        let waivers = waiver::parse(
            "w.toml",
            "[[waiver]]\ncheck = \"must-fail\"\njustification = \"known\"\nexpires = \"2026-06-30\"\n\n[[waiver]]\ncheck = \"also-fails\"\njustification = \"old\"\nexpires = \"2025-01-01\"\n",
        )
        .unwrap();
        validate_waivers(&waivers, &packs).unwrap();
        let sel = select(
            Os::Linux,
            &packs,
            &["must-fail".into(), "also-fails".into()],
            &[],
        )
        .unwrap();
        let mut g = Gathered {
            evidence: Evidence::default(),
            probe_logs: BTreeMap::new(),
            interrupted: None,
        };
        g.evidence
            .insert("pack-must-fail", ProbeOutput::exited(1, ""));
        g.evidence
            .insert("pack-also-fails", ProbeOutput::exited(1, ""));
        let mut log = RunLog::default();
        let results = evaluate(
            &sel,
            &g,
            &waivers,
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            &mut log,
        );
        assert_eq!(results[0].status, Status::Fail);
        assert_eq!(results[0].waived.as_ref().unwrap().expires, "2026-06-30");
        assert_eq!(results[1].waived, None);
        assert!(
            results[1]
                .message
                .ends_with("Waiver from w.toml:7 expired on 2025-01-01 and was not applied."),
            "{}",
            results[1].message
        );
        assert_eq!(code(&results, false, FailOn::Fail), 1);
        assert!(
            log.into_text()
                .contains("check also-fails: Waiver from w.toml:7 expired on 2025-01-01")
        );
    }

    #[test]
    fn waivers_for_unknown_checks_are_refused() {
        let waivers = waiver::parse(
            "w.toml",
            "\n[[waiver]]\ncheck = \"typo\"\njustification = \"j\"\nexpires = \"2030-01-01\"\n",
        )
        .unwrap();
        let e = validate_waivers(&waivers, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "w.toml:3: waiver for unknown check id `typo`"
        );
    }

    #[test]
    fn facts_from_the_fact_probes() {
        let mut ev = Evidence::default();
        for (k, v) in facts_outputs() {
            ev.insert(k, v);
        }
        let facts = linux_facts(&ev, &mut RunLog::default());
        assert_eq!(facts["OSName"], "Debian GNU/Linux 12");
        assert_eq!(facts["OSDistro"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(facts["OSVersion"], "12");
        assert_eq!(facts["KernelVersion"], "6.18.44-fc-v669");
        assert_eq!(facts["KernelFullVersion"], PROC_VERSION.trim());
        assert_eq!(facts["Hostname"], "vm");
        assert_eq!(facts["Architecture"], "x86_64");
        let mut broken = Evidence::default();
        broken.insert(
            "uname-r",
            ProbeOutput {
                timed_out: true,
                ..ProbeOutput::default()
            },
        );
        let mut log = RunLog::default();
        assert!(linux_facts(&broken, &mut log).is_empty());
        assert!(
            log.into_text()
                .contains("fact KernelVersion: probe `uname-r` timed out")
        );
    }

    #[test]
    fn os_release_unquoting() {
        let r = os_release("# c\nA=\"x \\\"y\\\" \\$z\"\nB='q r'\nC=plain\nbad line\n");
        assert_eq!(r["A"], "x \"y\" $z");
        assert_eq!(r["B"], "q r");
        assert_eq!(r["C"], "plain");
        assert_eq!(r.len(), 3);
    }
}
