//! Holds `tests/lab/scenarios/expected.toml` to the real checks: a VM of every scenario runs
//! `vmcert run --local` (copied in with scp, run over ssh with the scenario's sudo), and each
//! Linux check must end exactly in the status the file expects. When a check or a scenario
//! changes, this test says which statuses moved.

use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::lab::{LabVm, Sudo, expected, require_command};
use crate::util::vmcert_bin;

/// ssh/scp options: strict host key checking against the VM's known_hosts line, the ed25519 key.
fn opts(vm: &LabVm, known_hosts: &Path) -> Vec<String> {
    [
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([
        format!("UserKnownHostsFile={}", known_hosts.display()),
        "-i".to_owned(),
        vm.key_ed25519.display().to_string(),
    ])
    .collect()
}

fn run(cmd: &mut Command, stdin: &str) -> std::process::Output {
    use std::io::Write as _;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A check's id, status and message.
type Outcome = (String, String, String);

/// Strings planted as secrets by the scenarios (see rhel-family-defects.sh).
const PLANTED_SECRETS: [&str; 4] = [
    "lab-secret-ksh",
    "lab-secret-sub",
    "Zm9vYmFy",
    "token=abc123",
];

/// Statuses of `vmcert run --local` inside a fresh VM of `scenario`, by check id, each with its
/// message (for the failure output).
fn statuses_inside(scenario: &str, dir: &Path) -> Vec<Outcome> {
    let vm = LabVm::start(scenario);
    let known_hosts = dir.join(format!("{scenario}.known_hosts"));
    std::fs::write(&known_hosts, vm.known_hosts_line()).unwrap();
    let o = opts(&vm, &known_hosts);
    let remote = format!("{}@{}", vm.user, vm.host);

    let out = run(
        Command::new("scp")
            .args(&o)
            .arg(vmcert_bin())
            .arg(format!("{remote}:/tmp/vmcert")),
        "",
    );
    assert!(out.status.success(), "{scenario}: scp vmcert: {out:?}");

    // The password (if sudo needs it) goes over stdin, never into the command line.
    let (sudo, stdin) = match vm.sudo {
        Sudo::Password => (
            "sudo -S -p '' ",
            format!("{}\n", vm.password.clone().unwrap()),
        ),
        Sudo::NoPasswd => ("sudo -n ", String::new()),
        Sudo::None => ("", String::new()),
    };
    let zip = "/home/azureuser/report.zip";
    // --timeout 300: every scenario runs at once beside the other e2e tests. Under that load
    // defects-services' security-updates-pending twice ended in Error (never when run alone);
    // pending-updates rebuilding apt's caches past the default 60 s is the likely cause.
    let cmd = format!(
        "{sudo}/tmp/vmcert run --local --non-interactive --allow-unanswered --timeout 300 --out {zip} \
         >/tmp/run.log 2>&1; test -s {zip} || {{ cat /tmp/run.log; exit 1; }}"
    );
    let out = run(Command::new("ssh").args(&o).arg(&remote).arg(cmd), &stdin);
    assert!(
        out.status.success(),
        "{scenario}: vmcert run --local: {out:?}"
    );

    let local_zip = dir.join(format!("{scenario}.zip"));
    let out = run(
        Command::new("scp")
            .args(&o)
            .arg(format!("{remote}:{zip}"))
            .arg(&local_zip),
        "",
    );
    assert!(
        out.status.success(),
        "{scenario}: scp the report back: {out:?}"
    );
    drop(vm);

    let mut archive = zip::ZipArchive::new(std::fs::File::open(&local_zip).unwrap()).unwrap();
    // Secrets the scenarios plant where probes look (rhel-family-defects: shell histories, a
    // package mirror URL with credentials and a token) never reach any file of the report.
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let content = String::from_utf8_lossy(&bytes);
        for secret in PLANTED_SECRETS {
            assert!(
                !content.contains(secret),
                "{scenario}: planted secret {secret:?} is in the report's {}",
                entry.name()
            );
        }
    }
    let mut text = String::new();
    archive
        .by_name("results.json")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    results["checks"]
        .as_array()
        .expect("checks[]")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
                c["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn lab_scenarios_end_in_the_expected_statuses_under_vmcert_run_local() {
    for cmd in ["ssh", "scp"] {
        require_command(cmd);
    }
    let exp = expected();
    let dir = tempfile::tempdir().unwrap();
    let got: Vec<(String, Vec<Outcome>)> = std::thread::scope(|s| {
        let handles: Vec<_> = exp
            .scenarios
            .keys()
            .map(|name| {
                let dir = dir.path();
                s.spawn(move || (name.clone(), statuses_inside(name, dir)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut moved = Vec::new();
    for (scenario, statuses) in &got {
        let want = &exp.scenarios[scenario];
        for (id, status, message) in statuses {
            match want.get(id) {
                Some(w) if w.as_str() == status => {}
                Some(w) => moved.push(format!(
                    "{scenario}: {id} is {status}, expected {w} ({message})"
                )),
                None => moved.push(format!(
                    "{scenario}: {id} ({status}) is not in expected.toml"
                )),
            }
        }
        for id in want.keys() {
            if !statuses.iter().any(|(i, _, _)| i == id) {
                moved.push(format!("{scenario}: {id} was not reported"));
            }
        }
    }
    assert!(
        moved.is_empty(),
        "statuses differ from tests/lab/scenarios/expected.toml:\n{}",
        moved.join("\n")
    );
}
