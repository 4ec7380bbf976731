//! TestID 48 `Bash History`: shell history left in the image leaks whatever was typed while it
//! was built (passwords on command lines, internal host names, tokens).

use crate::evidence::Evidence;
use crate::linux::accounts::login_user;
use crate::linux::deprovision::{ROOT_BASH_HISTORY, RUN_IT, removes_account};
use crate::meta::{Meta, Os, Severity};
use crate::phase::Phase;
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// Shell history files of root and every login-shell account are empty (or small, by profile).
#[derive(Debug)]
pub struct BashHistoryCleared;

static META: Meta = Meta {
    id: "bash-history-cleared",
    title: "Shell history cleared",
    test_id: Some("48"),
    test_case_name: Some("Bash History"),
    description: "Bash history files should be cleared before creating the VM image.",
    rationale: "The toolkit failed an image whose bash history was larger than 1 KB (certification \
                FAQ); LISA (verify_bash_history_is_empty, priority 1) and Microsoft's older image \
                BVTs require every history file to be empty. vmcert looks where LISA looks: under \
                the home of root and of every /etc/passwd account whose shell ends in `sh`, \
                recursively, at every file named `.*sh_history` (bash, sh, zsh, ksh, mksh, ash) or \
                `.history` (csh, tcsh). Like LISA, the connecting user's own files are listed but \
                do not fail the check: that account and its history come from the test deployment \
                (the login session writes them), not from the image. vmcert knows the connecting \
                user from $SUDO_USER under sudo, else the session's login name, else the current \
                user (root when it logs in as root). Only paths and sizes leave the VM, never \
                contents. The size limit comes from the profile (`history_max_bytes`). In the \
                build phase (`--phase build`, inside the build VM before deprovisioning) the \
                logged-in user is the build user: its history, and /root/.bash_history, are a \
                Warning, because `waagent -deprovision+user` deletes /root/.bash_history and the \
                build user with its home; root's other history files (root is never the deleted \
                account) and other accounts' history still fail.",
    remediation: "Before capturing the image, empty the history of every account, root included \
                  (`cat /dev/null > ~/.bash_history && history -c`), or delete the files, and end \
                  the session without writing history again (`export HISTSIZE=0`, or run \
                  `waagent -deprovision+user` last).",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &["history_max_bytes"],
};

const PROBE: ProbeId = "history-files";

impl Check for BashHistoryCleared {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &[PROBE, "login-user"]
    }

    fn required(&self, ev: &Evidence) -> String {
        ev.thresholds().history_max_bytes.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// One history file the probe found.
#[derive(Debug, PartialEq, Eq)]
struct HistoryFile<'a> {
    user: &'a str,
    path: &'a str,
    bytes: u64,
}

/// Parses the probe's `user<TAB>path<TAB>bytes` lines; a path listed twice (two accounts sharing
/// a home) is kept once.
fn parse(out: &str) -> Result<Vec<HistoryFile<'_>>, Unevaluable> {
    let mut files: Vec<HistoryFile<'_>> = Vec::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split('\t');
        let (Some(user), Some(path), Some(size), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(Unevaluable::new(format!(
                "unexpected line from the history probe: `{line}`"
            )));
        };
        let bytes = size.trim().parse::<u64>().map_err(|_| {
            Unevaluable::new(format!(
                "could not read the size of {path} (wc printed `{}`)",
                size.trim()
            ))
        })?;
        if !files.iter().any(|f| f.path == path) {
            files.push(HistoryFile { user, path, bytes });
        }
    }
    Ok(files)
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let max = ev.thresholds().history_max_bytes;
    let required = max.to_string();
    let out = ev.stdout(PROBE)?;
    let files = parse(&out)?;
    let me = login_user(ev)?;
    if files.is_empty() {
        return Ok(Verdict::new(
            Status::Pass,
            "No file Exist",
            required,
            "No shell history file exists under the home of root or of any login-shell account.",
        ));
    }
    let actual = files
        .iter()
        .map(|f| format!("{} ({} bytes)", f.path, f.bytes))
        .collect::<Vec<_>>()
        .join(", ");
    let limit = if max == 0 {
        "empty".to_string()
    } else {
        format!("at most {max} bytes")
    };
    let build = ev.phase == Phase::Build;
    let big = |f: &&HistoryFile<'_>| f.bytes > max;
    // Final phase: the connecting user's files come from this test session. Build phase: the
    // connecting user is the build user, whose history deprovisioning deletes with the account
    // (never root's), as it deletes /root/.bash_history.
    let exempt = |f: &HistoryFile<'_>| {
        if build {
            removes_account(f.user, &me) || f.path == ROOT_BASH_HISTORY
        } else {
            f.user == me
        }
    };
    let listed = |f: &&HistoryFile<'_>| format!("{} ({} bytes)", f.path, f.bytes);
    let own: Vec<String> = files
        .iter()
        .filter(big)
        .filter(|f| !build && exempt(f))
        .map(|f| listed(&f))
        .collect();
    let removed: Vec<String> = files
        .iter()
        .filter(big)
        .filter(|f| build && exempt(f))
        .map(|f| listed(&f))
        .collect();
    let own_note = if own.is_empty() {
        String::new()
    } else {
        format!(
            " The connecting user {me}'s own history ({}) is not counted: it comes from this test \
             session; make sure the image is captured without it.",
            own.join(", ")
        )
    };
    let removed_note = if removed.is_empty() {
        String::new()
    } else {
        let user = if me == "root" {
            String::new()
        } else {
            format!(" and the build user {me} with its home")
        };
        format!(
            " Deprovisioning will remove {} (`waagent -deprovision+user` deletes \
             {ROOT_BASH_HISTORY}{user}).",
            removed.join(", ")
        )
    };
    let too_big: Vec<String> = files
        .iter()
        .filter(big)
        .filter(|f| !exempt(f))
        .map(|f| format!("{} of {} ({} bytes)", f.path, f.user, f.bytes))
        .collect();
    if too_big.is_empty() {
        if !removed.is_empty() {
            let message = format!(
                "Only history that deprovisioning removes is left; the other accounts' files are \
                 {limit} as required.{removed_note} {RUN_IT}"
            );
            return Ok(Verdict::new(Status::Warning, actual, required, message));
        }
        let message = format!(
            "{} shell history file(s) found; all of other accounts are {limit} as required.{own_note}",
            files.len()
        );
        return Ok(Verdict::new(Status::Pass, actual, required, message));
    }
    let kept = if build {
        " (deprovisioning does not remove these)"
    } else {
        ""
    };
    let message = format!(
        "Shell history must be {limit}, but {} file(s) are larger{kept}: {}. Empty or delete them \
         before capturing the image; they may hold passwords or commands typed while building it.\
         {own_note}{removed_note}",
        too_big.len(),
        too_big.join(", ")
    );
    Ok(Verdict::new(Status::Fail, actual, required, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_homes_are_counted_once() {
        let files =
            parse("root\t/root/.bash_history\t12\ntoor\t/root/.bash_history\t12\n").unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].user, "root");
    }

    #[test]
    fn unreadable_size_is_unevaluable() {
        let err = parse("azureuser\t/home/azureuser/.bash_history\t\n").unwrap_err();
        assert!(err.0.contains("/home/azureuser/.bash_history"), "{}", err.0);
    }
}
