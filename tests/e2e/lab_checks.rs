//! Every Linux check end to end over SSH: a lab VM of each scenario of
//! `tests/lab/scenarios/expected.toml` is certified with `vmcert run --target ssh://...` from
//! this machine, and each check must end in exactly the status the file expects. The scenarios
//! log in differently, so every way in is exercised with the full catalogue: password (sudo
//! through `sudo -S` with it), ed25519/RSA PEM/ECDSA keys with `--sudo-password-env`, an
//! encrypted key with its passphrase, a key-only login with NOPASSWD sudo (`sudo -n`), and a
//! user sudo refuses (root probes in Error, the rest evaluated).

use crate::lab::{LabVm, expected};
use crate::ssh_run::{Finished, SshRun, check};

/// Logs in to `vm` the way this scenario exercises; returns how, for messages.
fn login(run: &mut SshRun, vm: &LabVm, scenario: &str) -> &'static str {
    let password = vm.password.as_deref();
    match (scenario, password) {
        ("defects-accounts", Some(pw)) => {
            run.key(&vm.key_rsa_pem).sudo_password(pw);
            "RSA PEM key, --sudo-password-env"
        }
        ("defects-agent", Some(pw)) => {
            run.encrypted_key(&vm.key_ed25519_encrypted, &vm.passphrase)
                .sudo_password(pw);
            "encrypted ed25519 key with --passphrase-env, --sudo-password-env"
        }
        ("defects-ssh", Some(pw)) => {
            run.key(&vm.key_ecdsa).sudo_password(pw);
            "ECDSA key, --sudo-password-env"
        }
        (_, Some(pw)) => {
            run.password(pw);
            "password (also for sudo)"
        }
        (_, None) => {
            run.key(&vm.key_ed25519);
            "ed25519 key, no sudo password"
        }
    }
}

/// Certifies a fresh VM of `scenario` over SSH.
fn certify(scenario: &str) -> (String, &'static str, Finished) {
    let vm = LabVm::start(scenario);
    let mut run = SshRun::new(&vm);
    let how = login(&mut run, &vm, scenario);
    // Every scenario's VM runs the whole catalogue at once on a shared machine: a probe as slow as
    // `apt-get -s upgrade` must not hit the default 60 s timeout and turn a status into Error.
    run.arg("--timeout").arg("300");
    // Fourteen scenarios start and log in at once: under a load average of 30 one run once ended
    // without a report (its output was not kept); a login slower than the default 15 s connect
    // timeout is the likeliest cause, so allow 60 s.
    run.arg("--connect-timeout").arg("60");
    let done = run.run();
    (vm.name.clone(), how, done)
}

#[test]
fn lab_checks_every_linux_check_over_ssh_ends_as_expected_toml_says() {
    let exp = expected();
    let runs: Vec<(String, (String, &str, Finished))> = std::thread::scope(|s| {
        let handles: Vec<_> = exp
            .scenarios
            .keys()
            .map(|name| s.spawn(move || (name.clone(), certify(name))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a scenario thread panicked"))
            .collect()
    });
    let mut wrong = Vec::new();
    for (scenario, (vm, how, done)) in &runs {
        let want = &exp.scenarios[scenario];
        // Every scenario has checks in Error (no OS disk in a namespace VM): exit 2.
        if done.code() != Some(2) {
            wrong.push(format!(
                "{scenario} ({how}): exit {:?}, expected 2\n{}",
                done.code(),
                done.show()
            ));
            continue;
        }
        let r = done.results();
        assert_eq!(r["target"]["transport"], "ssh", "{scenario}");
        assert_eq!(r["target"]["facts"]["Hostname"], vm.as_str(), "{scenario}");
        if r["run"]["interrupted"] != false {
            wrong.push(format!(
                "{scenario} ({how}): the run was interrupted: {}",
                r["run"]["interrupted_reason"]
            ));
        }
        let got = r["checks"].as_array().expect("checks[]");
        for (id, status) in want {
            if !got.iter().any(|c| c["id"] == id.as_str()) {
                wrong.push(format!("{scenario} ({how}): {id} was not reported"));
                continue;
            }
            let c = check(&r, id);
            if c["status"] != status.as_str() {
                wrong.push(format!(
                    "{scenario} ({how}): {id}: expected {status}, got {}: {}",
                    c["status"].as_str().unwrap_or("?"),
                    c["message"].as_str().unwrap_or("")
                ));
            }
        }
        for c in got {
            let id = c["id"].as_str().unwrap_or("?");
            if !want.contains_key(id) {
                wrong.push(format!("{scenario}: {id} is not in expected.toml"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "over SSH, statuses differ from tests/lab/scenarios/expected.toml:\n{}",
        wrong.join("\n")
    );
}
