//! `Defaults targetpw` makes sudo ask for root's password; Azure locks root's password and gives
//! the admin user sudo with its own, so such an image leaves its admin without sudo.

use crate::evidence::{ABSENT, Evidence};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// No active `Defaults targetpw` in /etc/sudoers or /etc/sudoers.d.
#[derive(Debug)]
pub struct SudoersNoTargetpw;

static META: Meta = Meta {
    id: "sudoers-no-targetpw",
    title: "sudo does not ask for the target's password",
    test_id: None,
    test_case_name: None,
    description: "No active `Defaults targetpw` in /etc/sudoers or /etc/sudoers.d.",
    rationale: "With `targetpw`, sudo prompts for the password of the target user (root) instead \
                of the caller's; on Azure root's password is deleted, so the provisioned admin \
                could not use sudo. Microsoft's LISA test verify_default_targetpw fails on an \
                uncommented `Defaults targetpw` (regex `^Defaults\\s+targetpw`). vmcert parses the \
                sudoers syntax instead: comments, `\\` continuations, `targetpw` inside a \
                parameter list (`Defaults env_reset, targetpw`) and `!targetpw`; it also reads \
                /etc/sudoers.d, skipping the files sudo skips (names containing `.` or ending in \
                `~`). A Defaults entry bound to users, hosts, run-as users or commands \
                (`Defaults:alice targetpw`) is a Warning: LISA does not flag it, but it still \
                hits the provisioned admin if the binding matches. Stricter than LISA by design: \
                LISA reads /etc/sudoers alone and matches only `Defaults` directly followed by \
                `targetpw`, so `Defaults env_reset,targetpw`, an indented line or the same line in \
                /etc/sudoers.d pass there, although sudo applies every one of them and the admin \
                is locked out just the same; vmcert fails them and names the file and line.",
    remediation: "Remove the `Defaults targetpw` line (`sudo visudo`, or `sudo visudo -f \
                  /etc/sudoers.d/FILE`), or comment it out.",
    os: Os::Linux,
    severity: Severity::High,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "no active Defaults targetpw";

impl Check for SudoersNoTargetpw {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["sudoers"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// An active `targetpw` setting.
#[derive(Debug, PartialEq, Eq)]
struct Found {
    file: String,
    line: usize,
    text: String,
    /// The binding (`:alice`, `@host`, `>root`, `!cmd`), empty for a global Defaults.
    binding: String,
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let Some(text) = ev.stdout_unless("sudoers", ABSENT)? else {
        return Ok(Verdict::new(
            Status::Pass,
            "no sudoers files",
            REQUIRED,
            "Neither /etc/sudoers nor /etc/sudoers.d exists: sudo is not configured.",
        ));
    };
    let files = split_files(&text)?;
    // sudo reads /etc/sudoers.d only through an includedir line of /etc/sudoers.
    let reads_dir = files.iter().any(|(f, lines)| {
        f == "/etc/sudoers"
            && lines.iter().any(|l| {
                let l = l.trim();
                l.starts_with("@includedir /etc/sudoers.d")
                    || l.starts_with("#includedir /etc/sudoers.d")
            })
    });
    let mut global = Vec::new();
    let mut scoped = Vec::new();
    let mut skipped = Vec::new();
    for (file, lines) in &files {
        let found = targetpw_settings(file, lines);
        if ignored_by_sudo(file) || (!reads_dir && file.starts_with("/etc/sudoers.d/")) {
            skipped.extend(found.into_iter().map(|f| format!("{}:{}", f.file, f.line)));
            continue;
        }
        for f in found {
            if f.binding.is_empty() {
                global.push(f);
            } else {
                scoped.push(f);
            }
        }
    }
    let list = |v: &[Found]| {
        v.iter()
            .map(|f| format!("{}:{}: {}", f.file, f.line, f.text))
            .collect::<Vec<_>>()
    };
    let mut notes = String::new();
    if !skipped.is_empty() {
        notes.push_str(&format!(
            " targetpw in files sudo does not read (name contains `.` or ends in `~`, or no \
             includedir for /etc/sudoers.d): {}.",
            skipped.join(", ")
        ));
    }
    if !global.is_empty() {
        let mut message = format!(
            "sudo asks for the target user's password: {}. Azure deletes root's password, so the \
             admin user could not use sudo.",
            list(&global).join("; ")
        );
        if !scoped.is_empty() {
            message.push_str(&format!(
                " Also bound to some users/hosts/commands: {}.",
                list(&scoped).join("; ")
            ));
        }
        message.push_str(&notes);
        return Ok(Verdict::new(
            Status::Fail,
            list(&global).join("; "),
            REQUIRED,
            message,
        ));
    }
    if !scoped.is_empty() {
        let message = format!(
            "targetpw is set for some users, hosts, run-as users or commands only: {}. It \
             affects the provisioned admin if the binding matches it.{notes}",
            list(&scoped).join("; ")
        );
        return Ok(Verdict::new(
            Status::Warning,
            list(&scoped).join("; "),
            REQUIRED,
            message,
        ));
    }
    let names: Vec<&str> = files.iter().map(|(f, _)| f.as_str()).collect();
    Ok(Verdict::new(
        Status::Pass,
        "targetpw not set",
        REQUIRED,
        format!(
            "No active `Defaults targetpw` in {}.{notes}",
            names.join(", ")
        ),
    ))
}

/// Groups `grep -H ''` lines (`file:line`) by file, keeping file order.
fn split_files(text: &str) -> Result<Vec<(String, Vec<String>)>, Unevaluable> {
    let mut files: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        let Some((file, content)) = line.split_once(':') else {
            return Err(Unevaluable::new(format!("unparsable sudoers line: {line}")));
        };
        match files.last_mut() {
            Some((f, lines)) if f == file => lines.push(content.to_string()),
            _ => files.push((file.to_string(), vec![content.to_string()])),
        }
    }
    Ok(files)
}

/// sudo's `@includedir` skips files whose name ends in `~` or contains a `.`.
fn ignored_by_sudo(file: &str) -> bool {
    let Some(name) = file.strip_prefix("/etc/sudoers.d/") else {
        return false;
    };
    name.ends_with('~') || name.contains('.')
}

/// Every active `targetpw` (not `!targetpw`) in the Defaults entries of one file.
fn targetpw_settings(file: &str, lines: &[String]) -> Vec<Found> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let first = i;
        let mut logical = String::new();
        loop {
            let l = &lines[i];
            i += 1;
            match l.strip_suffix('\\') {
                Some(cont) if i < lines.len() => {
                    logical.push_str(cont);
                    logical.push(' ');
                }
                _ => {
                    logical.push_str(l);
                    break;
                }
            }
        }
        let entry = strip_comment(&logical);
        let Some((binding, params)) = defaults_entry(entry) else {
            continue;
        };
        if split_params(params).iter().any(|p| p == "targetpw") {
            out.push(Found {
                file: file.to_string(),
                line: first + 1,
                text: entry.trim().to_string(),
                binding,
            });
        }
    }
    out
}

/// The line without its comment. `#include`/`#includedir` are directives, and `#` inside
/// quotes or glued to a word (`#1000` as a uid) is not a comment.
fn strip_comment(line: &str) -> &str {
    let trimmed = line.trim_start();
    if trimmed.starts_with("#include") {
        return "";
    }
    let mut quoted = false;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '#' if !quoted && prev_space => {
                let next_digit = line[i + 1..].starts_with(|d: char| d.is_ascii_digit());
                if !next_digit {
                    return &line[..i];
                }
            }
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// `Defaults[binding] params` split into the binding (`:alice`, empty when global) and the
/// parameter list.
fn defaults_entry(line: &str) -> Option<(String, &str)> {
    let rest = line.trim_start().strip_prefix("Defaults")?;
    match rest.chars().next() {
        Some(c @ (':' | '@' | '>' | '!')) => {
            // The binding list runs to the first blank not following a comma.
            let body = &rest[c.len_utf8()..];
            let mut end = body.len();
            let mut after_comma = false;
            for (i, ch) in body.char_indices() {
                if ch.is_whitespace() && !after_comma {
                    end = i;
                    break;
                }
                if ch == ',' {
                    after_comma = true;
                } else if !ch.is_whitespace() {
                    after_comma = false;
                }
            }
            Some((format!("{c}{}", body[..end].trim()), &body[end..]))
        }
        Some(c) if c.is_whitespace() => Some((String::new(), rest)),
        _ => None,
    }
}

/// Comma-separated parameters, commas inside quotes kept.
fn split_params(params: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in params.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => out.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    out.push(cur.trim().to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(lines: &[&str]) -> Vec<(usize, String)> {
        let lines: Vec<String> = lines.iter().map(ToString::to_string).collect();
        targetpw_settings("/etc/sudoers", &lines)
            .into_iter()
            .map(|f| (f.line, f.binding))
            .collect()
    }

    #[test]
    fn global_scoped_commented_and_negated() {
        assert_eq!(found(&["Defaults targetpw"]), [(1, String::new())]);
        assert_eq!(found(&["Defaults\ttargetpw"]), [(1, String::new())]);
        assert_eq!(
            found(&["Defaults:alice targetpw"]),
            [(1, ":alice".to_string())]
        );
        assert_eq!(
            found(&["Defaults:%sudo, bob targetpw"]),
            [(1, ":%sudo, bob".to_string())]
        );
        assert_eq!(
            found(&["Defaults>root targetpw", "Defaults!/usr/bin/su targetpw"]).len(),
            2
        );
        assert_eq!(found(&["#Defaults targetpw", "  # Defaults targetpw"]), []);
        assert_eq!(
            found(&["Defaults !targetpw", "Defaults env_reset,!targetpw"]),
            []
        );
        assert_eq!(
            found(&[
                "Defaults targetpwx",
                "Defaults rootpw",
                "DefaultsX targetpw"
            ]),
            []
        );
    }

    #[test]
    fn lists_continuations_and_trailing_comments() {
        assert_eq!(
            found(&["Defaults env_reset, targetpw"]),
            [(1, String::new())]
        );
        assert_eq!(
            found(&["Defaults env_reset,\\", "  targetpw"]),
            [(1, String::new())]
        );
        assert_eq!(found(&["Defaults env_reset # targetpw later"]), []);
        assert_eq!(found(&["Defaults passprompt=\"pw, targetpw\""]), []);
        assert_eq!(
            found(&["", "Defaults targetpw # ask root"]),
            [(2, String::new())]
        );
    }

    #[test]
    fn includedir_skips_dotted_files() {
        assert!(ignored_by_sudo("/etc/sudoers.d/targetpw.dpkg-old"));
        assert!(ignored_by_sudo("/etc/sudoers.d/90-cloud~"));
        assert!(!ignored_by_sudo("/etc/sudoers.d/90-cloud-init-users"));
        assert!(!ignored_by_sudo("/etc/sudoers"));
    }
}
