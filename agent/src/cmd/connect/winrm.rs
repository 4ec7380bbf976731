//! `vmcert connect` for Windows targets ("Test Connection"): connects and authenticates exactly
//! as a run does (one shell, TLS and credentials checked), then runs the catalogue's `os-info`
//! and `current-user` probes through the same one-script framing to learn the OS (caption,
//! version, build, architecture, host name), the PowerShell version, the account, and whether it
//! is an elevated administrator, which the probes marked as needing one require. A member of
//! Administrators whose WinRM logon got a UAC-filtered token (a local account other than the
//! built-in Administrator, without LocalAccountTokenFilterPolicy = 1) is told apart from a plain
//! account, with the fix, before a run is wasted. Exits 0 only when a run could gather every
//! probe; otherwise it prints what it learned, then one error line saying what is missing.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use vmcert_checks::windows::outputs::{account, os_info};
use vmcert_checks::{Evidence, Os, Profile, probe};

use super::report::{ConnectReport, OsFacts, TargetInfo};
use crate::cmd::cli::ConnectArgs;
use crate::target::script::{DEFAULT_OUTPUT_CAP, ProbeResult, ProbeSpec};
use crate::target::winrm::{WinrmSetup, WinrmTransport};
use crate::target::{ProbeSink, Transport as _};

/// The catalogue probes `connect` runs: the report header's fact probe and the account probe.
const PROBES: [&str; 2] = ["os-info", "current-user"];

/// Seconds each connect probe may take.
const PROBE_TIMEOUT_SECS: u64 = 60;

/// The parts of the probe script's `start` frame that `connect` shows.
#[derive(Debug, Deserialize)]
struct StartFrame {
    ps: String,
}

/// OS facts of a Windows target.
#[derive(Debug, Serialize)]
pub(super) struct WindowsOs {
    caption: String,
    version: String,
    build: String,
    architecture: String,
    hostname: String,
}

/// The account `connect` logged in with.
#[derive(Debug, Serialize)]
pub(super) struct AccountFacts {
    name: String,
    administrator: bool,
    /// A member of Administrators whose WinRM token UAC filtered.
    filtered: bool,
    /// What the token can do, with the fix when it is filtered.
    token: String,
    powershell: Option<String>,
}

#[derive(Default)]
struct Collect {
    results: Vec<ProbeResult>,
    notes: Vec<String>,
}

impl ProbeSink for Collect {
    fn result(&mut self, result: ProbeResult) {
        self.results.push(result);
    }
    fn note(&mut self, line: String) {
        tracing::info!("{line}");
        self.notes.push(line);
    }
}

/// Evidence of the probes that reported (the same rules as a run: a broken probe is unevaluable).
fn evidence(results: &[ProbeResult]) -> Evidence {
    let mut ev = Evidence::new(Profile::Current);
    for r in results {
        ev.insert(r.id.clone(), r.output.clone());
    }
    ev
}

/// Connects over WinRM as a run would, then runs the connect probes.
///
/// # Errors
/// The connection could not be made. What keeps a run from gathering every probe is in the
/// report's `problems`.
pub(super) fn connect(args: &ConnectArgs) -> anyhow::Result<ConnectReport> {
    let setup = WinrmSetup::from_options(&args.target.options())?;
    let mut transport = WinrmTransport::connect(&setup)?;
    let probes = PROBES
        .iter()
        .map(|id| {
            let p = probe::find(Os::Windows, id)
                .with_context(|| format!("probe `{id}` is not in the catalogue"))?;
            Ok(ProbeSpec {
                id: p.id.to_string(),
                command: p.command.to_string(),
                needs_root: p.needs_root,
                timeout_secs: PROBE_TIMEOUT_SECS,
                output_cap: DEFAULT_OUTPUT_CAP,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut sink = Collect::default();
    let ran = transport.run_probes(&probes, &mut sink);
    let ev = evidence(&sink.results);
    let os = os_info(&ev).map_err(|e| e.to_string());
    let account = account(&ev).map_err(|e| e.to_string());
    let powershell = sink
        .notes
        .iter()
        .find_map(|n| n.strip_prefix("probe script started: "))
        .and_then(|h| serde_json::from_str::<StartFrame>(h).ok())
        .map(|s| s.ps);
    let t = transport.target();
    let mut problems: Vec<String> = Vec::new();
    if let Err(e) = &ran {
        problems.push(e.to_string());
    }
    let report = ConnectReport {
        target: TargetInfo {
            transport: t.scheme.as_str(),
            url: t.to_string(),
            user: t.user.clone(),
            host: t.host.clone(),
            port: t.port,
            address: None,
            auth: Some(setup.auth().as_str().to_string()),
        },
        server: None,
        setup_ms: transport.connect_ms(),
        host_key: None,
        auth: None,
        sudo: None,
        os: match os {
            Ok(o) => Some(OsFacts::Windows(WindowsOs {
                caption: o.caption,
                version: o.version,
                build: o.build_number,
                architecture: o.os_architecture,
                hostname: o.hostname,
            })),
            Err(e) => {
                problems.push(e);
                None
            }
        },
        account: match account {
            Ok(a) => {
                if !a.is_administrator {
                    problems.push(format!("the account's token is {}", a.token()));
                }
                Some(AccountFacts {
                    token: a.token(),
                    filtered: a.administrators_deny_only && !a.is_administrator,
                    name: a.name,
                    administrator: a.is_administrator,
                    powershell,
                })
            }
            Err(e) => {
                problems.push(e);
                None
            }
        },
        ready: false,
        problems: Vec::new(),
    };
    Ok(ConnectReport {
        ready: problems.is_empty(),
        problems,
        ..report
    })
}

/// The WinRM report's lines, in the order a reader checks them.
pub(super) fn rows(r: &ConnectReport, os: Option<&WindowsOs>) -> Vec<(&'static str, String)> {
    let mut rows: Vec<(&str, String)> = vec![
        ("Target", r.target.url.clone()),
        ("Authentication", r.target.auth.clone().unwrap_or_default()),
        ("Connected in", format!("{} ms", r.setup_ms)),
    ];
    if let Some(os) = os {
        rows.push(("OS", os.caption.clone()));
        rows.push(("Version", format!("{} (build {})", os.version, os.build)));
        rows.push(("Architecture", os.architecture.clone()));
        rows.push(("Computer name", os.hostname.clone()));
    }
    if let Some(a) = &r.account {
        rows.push(("Account", a.name.clone()));
        rows.push((
            "Administrator",
            if a.administrator {
                "yes".to_string()
            } else if a.filtered {
                "no (UAC-filtered token)".to_string()
            } else {
                "no".to_string()
            },
        ));
        if let Some(ps) = &a.powershell {
            rows.push(("PowerShell", ps.clone()));
        }
    }
    rows.push((
        "Ready for a run",
        if r.ready { "yes" } else { "no" }.to_string(),
    ));
    rows
}
