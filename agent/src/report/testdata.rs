//! A fixed report bundle for the report writer's tests and snapshots: one Linux target with a
//! check of every status, a waiver, a user-defined check, an unanswered question and probe output
//! that is not UTF-8. The probe outputs in `testdata/` were recorded by running the catalogue's
//! commands in a copy of the lab's Debian 12 root (`chroot`), with defects planted: a user whose
//! home directory name is Latin-1 (`/home/j\xfcrgen`), non-empty history files, `ClientAliveInterval
//! 120`, and `shadow-status` run as `nobody` (permission denied). Times and ids are fixed.

use std::collections::BTreeMap;

use vmcert_checks::questionnaire::Answers;
use vmcert_checks::{Evidence, Os, ProbeOutput, Profile, Severity, Status, probe};

use super::model::{
    CheckResult, RunInfo, RunReport, Scope, SkipReason, Skipped, TargetInfo, Tool, Waived,
};
use super::{ProbeLog, ReportBundle};

const ANSWERS: &str = r#"
[general]
GA1 = true
GA3 = true
GA4 = true
GA5 = true
GA6 = true
GA7 = true
GA8 = true
GA9 = true
GA11 = true
GA12 = false

[kernel]
KC1 = "stock"
KC3 = "built-in"
KC4 = "yes"
KC5 = "none"

[notes]
ssh_access = "User azureuser on port 22; the private key is attached to the offer's technical notes."

[notes.exceptions]
"bash-history-cleared" = "The histories are removed by the deprovisioning step of our pipeline, after this run."
"#;

fn out(exit: i32, stdout: &[u8], stderr: &[u8], duration_ms: u64) -> ProbeOutput {
    ProbeOutput {
        stdout: stdout.to_vec(),
        stderr: stderr.to_vec(),
        exit_code: Some(exit),
        duration_ms,
        ..ProbeOutput::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn check(
    id: &str,
    title: &str,
    test: Option<(&str, &str)>,
    status: Status,
    actual: &str,
    required: &str,
    message: &str,
    remediation: &str,
    probes: &[&str],
    duration_ms: u64,
) -> CheckResult {
    CheckResult {
        id: id.to_owned(),
        title: title.to_owned(),
        test_id: test.map(|t| t.0.to_owned()),
        test_case_name: test.map(|t| t.1.to_owned()),
        status,
        actual: actual.to_owned(),
        required: required.to_owned(),
        message: message.to_owned(),
        remediation: remediation.to_owned(),
        severity: Severity::High,
        duration_ms,
        probes: probes.iter().map(|p| (*p).to_owned()).collect(),
        waived: None,
        source: "builtin".to_owned(),
        description: String::new(),
    }
}

/// The fixed bundle.
pub(crate) fn bundle() -> ReportBundle {
    let mut evidence = Evidence::new(Profile::Current);
    evidence.insert(
        "os-release",
        out(0, include_bytes!("testdata/os-release.stdout"), b"", 2),
    );
    evidence.insert(
        "uname-m",
        out(0, include_bytes!("testdata/uname-m.stdout"), b"", 1),
    );
    evidence.insert(
        "history-files",
        out(0, include_bytes!("testdata/history-files.stdout"), b"", 9),
    );
    evidence.insert(
        "waagent-version",
        out(
            0,
            include_bytes!("testdata/waagent-version.stdout"),
            b"",
            412,
        ),
    );
    evidence.insert(
        "sshd-effective",
        out(0, include_bytes!("testdata/sshd-effective.stdout"), b"", 31),
    );
    evidence.insert(
        "sshd-config",
        out(0, include_bytes!("testdata/sshd-config.stdout"), b"", 1),
    );
    evidence.insert(
        "shadow-status",
        out(2, b"", include_bytes!("testdata/shadow-status.stderr"), 3),
    );
    evidence.insert(
        "acme-motd",
        out(0, include_bytes!("testdata/acme-motd.stdout"), b"", 1),
    );

    let mut probe_logs = BTreeMap::new();
    for (i, id) in evidence.outputs.keys().enumerate() {
        let command = probe::find(Os::Linux, id).map_or("cat /etc/motd", |p| p.command);
        probe_logs.insert(
            id.clone(),
            ProbeLog {
                command: command.to_owned(),
                started: Some(format!("2026-11-21T10:15:01.{:03}Z", i * 50)),
            },
        );
    }

    let mut arch = check(
        "os-architecture",
        "64-bit operating system",
        Some(("49", "OS Architecture")),
        Status::Pass,
        "x86_64",
        "x86_64,amd64",
        "x86_64 is a 64-bit architecture.",
        "Build the image from a 64-bit (x86_64, or aarch64 for Arm64 VM sizes) distribution.",
        &["uname-m"],
        1,
    );
    arch.description = "Only 64-bit operating system should be supported.".to_owned();
    let mut history = check(
        "bash-history-cleared",
        "Shell history cleared",
        Some(("48", "Bash History")),
        Status::Fail,
        "/root/.bash_history (13 bytes), /home/j\u{fffd}rgen/.bash_history (63 bytes)",
        "0",
        "2 shell history files are not empty.",
        "Empty every history file before capturing the image: `cat /dev/null > ~/.bash_history && history -c` for root and every user.",
        &["history-files"],
        9,
    );
    history.description =
        "Bash history files should be cleared before creating the VM image.".to_owned();
    let agent = check(
        "linux-agent-version",
        "Azure Linux Agent version",
        Some(("39", "Linux Agent Version")),
        Status::Pass,
        "2.7.3.0",
        "2.2.53.1",
        "WALinuxAgent 2.7.3.0 is at least 2.2.53.1.",
        "Install the distribution's current walinuxagent package.",
        &["waagent-version"],
        412,
    );
    let mut alive = check(
        "ssh-client-alive-interval",
        "SSH ClientAliveInterval",
        Some(("46", "Client Alive Interval")),
        Status::Warning,
        "ClientAliveInterval 120",
        "ClientAliveInterval 180",
        "ClientAliveInterval is 120: inside 1..=235 but not the recommended 180.",
        "Set `ClientAliveInterval 180` in /etc/ssh/sshd_config.",
        &["sshd-effective", "sshd-config"],
        32,
    );
    alive.severity = Severity::Medium;
    alive.waived = Some(Waived {
        justification: "120 s matches our load balancer's idle timeout & was agreed with the reviewer <ticket 4711>."
            .to_owned(),
        expires: "2027-06-30".to_owned(),
    });
    let root = check(
        "root-password-locked",
        "Root password locked",
        None,
        Status::Error,
        "",
        "root's password field starts with ! or *",
        "probe `shadow-status` exited with status 2: awk: cannot open /etc/shadow (Permission denied)",
        "Lock the root password: `passwd -l root`.",
        &["shadow-status"],
        3,
    );
    let mut motd = check(
        "acme-motd-branded",
        "Login banner names ACME",
        None,
        Status::NotApplicable,
        "",
        "",
        "Applies to Ubuntu images only.",
        "Install acme-motd.",
        &["acme-motd"],
        1,
    );
    motd.severity = Severity::Low;
    motd.source = "packs/acme.toml".to_owned();

    let answers = Answers::parse(ANSWERS, Os::Linux).expect("the fixed answers are valid");
    let (questionnaire, notes) = crate::engine::questionnaire::results(&answers, Os::Linux);
    let facts = [
        ("Architecture", "x86_64"),
        ("Hostname", "debian-img-01"),
        (
            "KernelFullVersion",
            "Linux version 6.18.44-fc-v669 (builder@sandboxing) (gcc (GCC) 15.3.0, GNU ld (GNU Binutils) 2.46) #1 SMP PREEMPT_DYNAMIC @0",
        ),
        ("KernelVersion", "6.18.44-fc-v669"),
        ("OSDistro", "Debian GNU/Linux 12 (bookworm)"),
        ("OSName", "Debian GNU/Linux"),
        ("OSVersion", "12"),
    ];
    let checks = vec![arch, history, agent, alive, root, motd];
    // A fixed scope (not read off the registry), so the snapshots do not move with the catalogue.
    let scope = Scope {
        checks_run: checks.iter().map(|c| c.id.clone()).collect(),
        skipped: ["linux-agent-enabled", "openssl-version", "python-version"]
            .iter()
            .map(|id| Skipped {
                id: (*id).to_owned(),
                reason: if *id == "python-version" {
                    SkipReason::Skip
                } else {
                    SkipReason::Checks
                },
            })
            .chain(std::iter::once(Skipped {
                id: "windows-defender-enabled".to_owned(),
                reason: SkipReason::Os,
            }))
            .collect(),
        waived: vec!["ssh-client-alive-interval".to_owned()],
        full_catalogue: false,
        phase: vmcert_checks::Phase::Final,
    };
    let summary = crate::engine::runner::summarize(&checks, &questionnaire, &scope, "ssh", false);
    let results = RunReport {
        schema: super::model::SCHEMA.to_owned(),
        tool: Tool {
            name: "vmcert".to_owned(),
            version: "0.1.0".to_owned(),
        },
        run: RunInfo {
            id: "5b0f6a1e-8c1d-4f57-9a43-2f1d3c8e9b70".to_owned(),
            name: "debian-img-01".to_owned(),
            started: "2026-11-21T10:15:00Z".to_owned(),
            finished: "2026-11-21T10:15:04Z".to_owned(),
            profile: "current".to_owned(),
            interrupted: false,
            interrupted_reason: None,
        },
        target: TargetInfo {
            transport: "ssh".to_owned(),
            host: "10.0.0.5".to_owned(),
            port: Some(22),
            user: Some("azureuser".to_owned()),
            os: Os::Linux,
            facts: facts
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        },
        scope,
        summary,
        checks,
        questionnaire,
    };
    ReportBundle {
        results,
        evidence,
        probe_logs,
        notes,
        run_log: "2026-11-21T10:15:00Z  INFO connecting to ssh://azureuser@10.0.0.5:22\n\
                  2026-11-21T10:15:01Z  INFO connected; host key SHA256:3HhM2cU5Tq1bqRj0ZfVY0tqkJ9dwc3nq5yqQ6n8bQ1U; sudo: password\n\
                  2026-11-21T10:15:01Z  INFO running 8 probes for 6 checks\n\
                  2026-11-21T10:15:04Z  INFO probes done in 2.9 s\n"
            .to_owned(),
    }
}
