//! No SSH key may be left in the image for anyone but the connecting user: a key left by the
//! image builder opens every VM made from the image to whoever holds the private half.

use crate::evidence::Evidence;
use crate::linux::accounts::login_user;
use crate::linux::deprovision::{PACKER_AZURE_KEY_COMMENT, RUN_IT, removes_account};
use crate::meta::{Meta, Os, Severity};
use crate::phase::Phase;
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// Only the connecting user has `authorized_keys` (cloud-init's root stub excepted).
#[derive(Debug)]
pub struct NoLeftoverAuthorizedKeys;

static META: Meta = Meta {
    id: "no-leftover-authorized-keys",
    title: "No leftover authorized_keys",
    test_id: None,
    test_case_name: None,
    description: "No authorized_keys for root or any user except the connecting user, other than \
                  cloud-init's `Please login as the user` stub.",
    rationale: "Marketplace policy: no back doors; test keys must be removed. Microsoft's LISA \
                test verify_no_pre_exist_users fails when any account but the one it logged in \
                with has ~/.ssh/authorized_keys, unless the file only holds the harmless key \
                cloud-init writes for root with `disable_root` (a forced command that prints \
                `Please login as the user \"...\" rather than the user \"root\".` and exits). \
                vmcert reads authorized_keys and authorized_keys2 of every account in /etc/passwd. \
                Like LISA, accounts whose /etc/passwd line says nologin are listed but not failed: \
                sshd refuses them a session, so their keys open no shell. The connecting user's \
                own keys come from this test deployment and are never counted. Stricter than LISA \
                by design where LISA's implementation misses the same defect: LISA reads only \
                authorized_keys (sshd also reads authorized_keys2) and passes a file as soon as \
                it contains cloud-init's stub, even with a real key beside it; vmcert fails both, \
                because either key opens a shell on every VM made from the image. In the build \
                phase (`--phase build`, inside the build VM before deprovisioning) the logged-in \
                user is the build user, and its keys (Packer's Azure builders put a temporary key \
                commented `packer Azure Deployment<time>` there) are a Warning: `waagent \
                -deprovision+user` deletes that account with its home. Root is never deleted, so \
                root's keys fail in the build phase even when the build logs in as root.",
    remediation: "Delete the files (`sudo rm /root/.ssh/authorized_keys \
                  /home/NAME/.ssh/authorized_keys`) or run `sudo waagent -deprovision+user` \
                  before capturing the image; keys for the admin user are injected at deployment.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &[],
};

const REQUIRED: &str =
    "no authorized_keys except the connecting user's (cloud-init root stub allowed)";

impl Check for NoLeftoverAuthorizedKeys {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["authorized-keys", "login-user"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// One `== user path` section of the probe.
#[derive(Debug)]
struct KeyFile {
    user: String,
    /// The account's /etc/passwd line says nologin (`==!` header).
    nologin: bool,
    path: String,
    lines: Vec<String>,
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let me = login_user(ev)?;
    let build = ev.phase == Phase::Build;
    let files = parse_sections(&ev.stdout("authorized-keys")?)?;
    // Final phase: the connecting user's keys come from the test deployment. Build phase: the
    // connecting user is the build user, which deprovisioning deletes (never root).
    let exempt = |user: &str| {
        if build {
            removes_account(user, &me)
        } else {
            user == me
        }
    };
    let mine: Vec<&str> = files
        .iter()
        .filter(|f| exempt(&f.user))
        .map(|f| f.path.as_str())
        .collect();

    let mut leftovers = Vec::new();
    let mut removed = Vec::new();
    let mut stubs = Vec::new();
    let mut nologin = Vec::new();
    for f in &files {
        let keys: Vec<&str> = f
            .lines
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let real: Vec<String> = keys
            .iter()
            .filter(|k| !is_login_stub(k))
            .map(|k| key_label(k))
            .collect();
        if exempt(&f.user) || mine.contains(&f.path.as_str()) {
            if build && !real.is_empty() {
                removed.push(format!("{} for {}: {}", f.path, f.user, real.join(", ")));
            }
            continue;
        }
        if real.is_empty() {
            if !keys.is_empty() {
                stubs.push(format!("{} ({})", f.path, f.user));
            }
            continue;
        }
        if f.nologin {
            nologin.push(format!("{} for {}: {}", f.path, f.user, real.join(", ")));
            continue;
        }
        leftovers.push(format!("{} for {}: {}", f.path, f.user, real.join(", ")));
    }
    let stub_note = if stubs.is_empty() {
        String::new()
    } else {
        format!(
            " Only cloud-init's \"Please login as the user\" stub in: {}.",
            stubs.join(", ")
        )
    };
    let stub_note = if nologin.is_empty() {
        stub_note
    } else {
        format!(
            "{stub_note} Keys of nologin accounts (no shell; not counted, as in LISA): {}.",
            nologin.join("; ")
        )
    };
    let removed_note = if removed.is_empty() {
        String::new()
    } else {
        format!(
            " Deprovisioning will remove the build user {me}'s keys ({}): `waagent \
             -deprovision+user` deletes {me} with its home.",
            removed.join("; ")
        )
    };
    if !leftovers.is_empty() {
        let which = if build {
            "that deprovisioning does not remove".to_string()
        } else {
            format!("for accounts other than {me}")
        };
        return Ok(Verdict::new(
            Status::Fail,
            leftovers.join("; "),
            REQUIRED,
            format!(
                "SSH keys are left {which}: {}. Whoever holds the private keys can log in to \
                 every VM made from this image.{stub_note}{removed_note}",
                leftovers.join("; ")
            ),
        ));
    }
    if !removed.is_empty() {
        return Ok(Verdict::new(
            Status::Warning,
            removed.join("; "),
            REQUIRED,
            format!(
                "Only keys that deprovisioning removes are left.{removed_note}{stub_note} {RUN_IT}"
            ),
        ));
    }
    let who = if build {
        "No account has an SSH key that deprovisioning would leave.".to_string()
    } else {
        format!("No account but {me} has an SSH key.")
    };
    Ok(Verdict::new(
        Status::Pass,
        "none",
        REQUIRED,
        format!("{who}{stub_note}"),
    ))
}

fn parse_sections(text: &str) -> Result<Vec<KeyFile>, Unevaluable> {
    let mut files: Vec<KeyFile> = Vec::new();
    for line in text.lines() {
        let header = match line.strip_prefix("==! ") {
            Some(h) => Some((h, true)),
            None => line.strip_prefix("== ").map(|h| (h, false)),
        };
        if let Some((header, nologin)) = header {
            let Some((user, path)) = header.split_once(' ') else {
                return Err(Unevaluable::new(format!(
                    "unparsable authorized-keys header: {line}"
                )));
            };
            files.push(KeyFile {
                user: user.to_string(),
                nologin,
                path: path.to_string(),
                lines: Vec::new(),
            });
            continue;
        }
        match files.last_mut() {
            Some(f) => f.lines.push(line.to_string()),
            None if line.trim().is_empty() => {}
            None => {
                return Err(Unevaluable::new(
                    "authorized-keys output does not start with a `== user path` line",
                ));
            }
        }
    }
    Ok(files)
}

/// cloud-init's `disable_root` key: a forced command telling to log in as the default user.
fn is_login_stub(line: &str) -> bool {
    line.contains("command=\"") && line.contains("Please login as the user")
}

/// `type comment` of a key line (options skipped), for messages. Public keys are not secrets.
fn key_label(line: &str) -> String {
    let tokens = tokens(line);
    let Some(i) = tokens.iter().position(|t| is_key_type(t)) else {
        return "unrecognised line".to_string();
    };
    let comment = tokens.get(i + 2..).map(|c| c.join(" ")).unwrap_or_default();
    if comment.starts_with(PACKER_AZURE_KEY_COMMENT) {
        format!("{} key {comment} (Packer's temporary build key)", tokens[i])
    } else if comment.is_empty() {
        format!("{} key", tokens[i])
    } else {
        format!("{} key {comment}", tokens[i])
    }
}

fn is_key_type(t: &str) -> bool {
    t.starts_with("ssh-") || t.starts_with("ecdsa-sha2-") || t.starts_with("sk-")
}

/// Splits on whitespace outside double quotes (key options may contain quoted spaces).
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in line.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => {
                cur.push(c);
                escaped = true;
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // cloud-init's default disable_root_opts (cloudinit config schema), as written for root.
    const STUB: &str = r#"no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command="echo 'Please login as the user \"azureuser\" rather than the user \"root\".';echo;sleep 10;exit 142" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPcBs6RQx0NmNKS0ac/aJMGECMfpN+1Vyz43dZa7mbv4 azureuser@lab"#;

    #[test]
    fn the_cloud_init_stub_is_recognised() {
        assert!(is_login_stub(STUB));
        assert!(!is_login_stub("ssh-ed25519 AAAAC3Nza packer@buildhost"));
        // The words alone, without a forced command, are just a comment.
        assert!(!is_login_stub("ssh-rsa AAAAB3Nza Please login as the user"));
    }

    #[test]
    fn labels_skip_quoted_options() {
        assert_eq!(key_label(STUB), "ssh-ed25519 key azureuser@lab");
        assert_eq!(
            key_label(r#"from="10.0.0.1,10.0.0.2" ssh-rsa AAAAB3 build key"#),
            "ssh-rsa key build key"
        );
        assert_eq!(
            key_label("ssh-rsa AAAAB3 packer Azure Deployment2026-12-06T17:02:11Z"),
            "ssh-rsa key packer Azure Deployment2026-12-06T17:02:11Z (Packer's temporary build key)"
        );
        assert_eq!(
            key_label("ecdsa-sha2-nistp256 AAAAE2"),
            "ecdsa-sha2-nistp256 key"
        );
    }

    #[test]
    fn sections() {
        let f = parse_sections("== root /root/.ssh/authorized_keys\nssh-ed25519 AAAA x\n\n== u /home/u/.ssh/authorized_keys2\n").unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].lines, ["ssh-ed25519 AAAA x", ""]);
        assert!(parse_sections("ssh-ed25519 AAAA stray\n").is_err());
        let f =
            parse_sections("==! www-data /var/www/.ssh/authorized_keys\nssh-rsa AAAA w\n").unwrap();
        assert!(f[0].nologin);
        assert_eq!(f[0].user, "www-data");
    }
}
