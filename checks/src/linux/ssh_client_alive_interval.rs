//! TestID 46 `Client Alive Interval`: sshd must probe idle clients (Azure's load balancers drop
//! idle flows), with the value Microsoft recommends, written where the portal reads it.

use crate::evidence::{ABSENT, Evidence};
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::{Check, Unevaluable};

/// sshd's `ClientAliveInterval` is 180 (or inside the profile's range), set in
/// /etc/ssh/sshd_config.
#[derive(Debug)]
pub struct SshClientAliveInterval;

static META: Meta = Meta {
    id: "ssh-client-alive-interval",
    title: "SSH ClientAliveInterval",
    test_id: Some("46"),
    test_case_name: Some("Client Alive Interval"),
    description: "It is recommended to set ClientAliveInterval to 180. On the application need, it \
                  can be set between 30 to 235. \nIf you are enabling the SSH for your end users \
                  this value must be set as explained.",
    rationale: "The self-test required `ClientAliveInterval 180` and reported other values between \
                30 and 235 as a Warning; Microsoft's LISA test (verify_client_active_interval) \
                fails unless 0 < value < 236. The value in force is read from `sshd -T`; the \
                literal line of /etc/ssh/sshd_config is read too, because the Partner Center \
                probe reads that file and a value set only in /etc/ssh/sshd_config.d/ (as cloud \
                images do) has been reported as missing. 180 in force and in the main file: \
                Pass. Another value inside the profile's range, or 180 set elsewhere than the \
                main file: Warning. 0 (sshd's default, probing off), no sshd, or outside the \
                range: Fail.",
    remediation: "Put `ClientAliveInterval 180` in /etc/ssh/sshd_config, before any `Match` block, \
                  remove other ClientAliveInterval lines from /etc/ssh/sshd_config.d/*.conf (the \
                  first value sshd reads wins), and check with `sudo sshd -T | grep \
                  clientaliveinterval`.",
    os: Os::Linux,
    severity: Severity::Medium,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Fail, Status::Error],
    knobs: &["client_alive_range"],
};

const REQUIRED: &str = "ClientAliveInterval 180";
const RECOMMENDED: u64 = 180;
const MAIN: &str = "/etc/ssh/sshd_config";

impl Check for SshClientAliveInterval {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["sshd-effective", "sshd-config", "sshd-config-d"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

/// One `ClientAliveInterval` line of a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Setting {
    file: String,
    line: usize,
    /// The value in seconds; `None` when sshd's time format does not parse.
    seconds: Option<u64>,
    raw: String,
    /// Inside a `Match` block: applies to some connections only.
    in_match: bool,
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let Some(effective) = ev.stdout_unless("sshd-effective", ABSENT)? else {
        return Ok(Verdict::new(
            Status::Fail,
            "no sshd",
            REQUIRED,
            "No OpenSSH server (sshd) was found; Azure Linux images must ship an SSH server \
             configured with ClientAliveInterval 180.",
        ));
    };
    let value = effective_value(&effective)?;
    let main = match ev.stdout_unless("sshd-config", ABSENT)? {
        Some(text) => settings(MAIN, &text),
        None => Vec::new(),
    };
    let dropins = dropin_settings(&ev.stdout("sshd-config-d")?)?;

    let (lo, hi) = ev.thresholds().client_alive_range;
    let (lo, hi) = (u64::from(lo), u64::from(hi));
    let main_global = main.iter().find(|s| !s.in_match);
    let dropin_global = dropins.iter().find(|s| !s.in_match);

    let (mut status, mut message) = if value == 0 {
        (
            Status::Fail,
            "sshd runs with ClientAliveInterval 0: it never probes idle clients.".to_string(),
        )
    } else if !(lo..=hi).contains(&value) {
        (
            Status::Fail,
            format!(
                "sshd runs with ClientAliveInterval {value}, outside the accepted {lo}-{hi} seconds."
            ),
        )
    } else if value == RECOMMENDED {
        (
            Status::Pass,
            format!("sshd runs with ClientAliveInterval {value}."),
        )
    } else {
        (
            Status::Warning,
            format!(
                "sshd runs with ClientAliveInterval {value}: accepted ({lo}-{hi}), but 180 is the \
                 recommended value."
            ),
        )
    };

    let literal = main_global.and_then(|s| s.seconds);
    match (main_global, dropin_global) {
        (None, Some(d)) => {
            message.push_str(&format!(
                " {MAIN} has no ClientAliveInterval line; the value is set in {} (line {}: `{}`), \
                 which the Partner Center probe does not read.",
                d.file, d.line, d.raw
            ));
            status = status.max(Status::Warning);
        }
        (None, None) if value == 0 => {
            message.push_str(&format!(" {MAIN} sets none, so sshd's default 0 applies."));
        }
        (None, None) => {
            message.push_str(&format!(
                " {MAIN} has no ClientAliveInterval line, which the Partner Center probe reads."
            ));
            status = status.max(Status::Warning);
        }
        (Some(m), _) if m.seconds != Some(value) => {
            let from = dropin_global.map_or_else(
                || "another included file is read first".to_string(),
                |d| {
                    format!(
                        "{} (line {}: `{}`) is included before it and the first value wins",
                        d.file, d.line, d.raw
                    )
                },
            );
            message.push_str(&format!(
                " {MAIN} line {} says `{}`, but {from}.",
                m.line, m.raw
            ));
            status = status.max(Status::Warning);
        }
        (Some(m), _) => message.push_str(&format!(" It is set in {MAIN} line {}.", m.line)),
    }
    for s in main.iter().chain(&dropins).filter(|s| s.in_match) {
        message.push_str(&format!(
            " A Match block sets `{}` for some connections ({} line {}).",
            s.raw, s.file, s.line
        ));
    }

    let literal_text = match (main_global, literal) {
        (Some(_), Some(v)) => v.to_string(),
        (Some(m), None) => format!("`{}`", m.raw),
        (None, _) => "not set".to_string(),
    };
    let actual = format!("sshd -T: {value}; {MAIN}: {literal_text}");
    Ok(Verdict::new(status, actual, REQUIRED, message))
}

/// `clientaliveinterval N` of `sshd -T`.
fn effective_value(text: &str) -> Result<u64, Unevaluable> {
    let line = text
        .lines()
        .find(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("clientaliveinterval"))
        })
        .ok_or_else(|| Unevaluable::new("`sshd -T` printed no clientaliveinterval line"))?;
    line.split_whitespace()
        .nth(1)
        .and_then(convtime)
        .ok_or_else(|| Unevaluable::new(format!("unparsable `sshd -T` line: {line}")))
}

/// The `ClientAliveInterval` lines of one sshd_config file, in order. Keywords are
/// case-insensitive, `Keyword=value` and `Keyword = value` are accepted like sshd does, comments
/// start with `#`, and everything after a `Match` line belongs to that block.
fn settings(file: &str, text: &str) -> Vec<Setting> {
    let mut out = Vec::new();
    let mut in_match = false;
    for (i, raw_line) in text.lines().enumerate() {
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let split = line
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(line.len());
        let (keyword, rest) = line.split_at(split);
        let rest = rest.trim_start();
        let rest = rest.strip_prefix('=').unwrap_or(rest).trim_start();
        if keyword.eq_ignore_ascii_case("match") {
            in_match = true;
            continue;
        }
        if !keyword.eq_ignore_ascii_case("clientaliveinterval") {
            continue;
        }
        let arg = rest
            .split_whitespace()
            .next()
            .filter(|a| !a.starts_with('#'))
            .unwrap_or("");
        let arg = arg.trim_matches('"');
        out.push(Setting {
            file: file.to_string(),
            line: i + 1,
            seconds: convtime(arg),
            raw: line.to_string(),
            in_match,
        });
    }
    out
}

/// Settings of the drop-ins, from `grep -H ''` lines (`file:line`), file by file.
fn dropin_settings(text: &str) -> Result<Vec<Setting>, Unevaluable> {
    let mut files: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let Some((file, content)) = line.split_once(':') else {
            return Err(Unevaluable::new(format!(
                "unparsable sshd_config.d line: {line}"
            )));
        };
        match files.last_mut() {
            Some((f, body)) if f == file => {
                body.push_str(content);
                body.push('\n');
            }
            _ => files.push((file.to_string(), format!("{content}\n"))),
        }
    }
    Ok(files
        .iter()
        .flat_map(|(f, body)| settings(f, body))
        .collect())
}

/// sshd's time format: seconds, or a sequence of numbers with `s`, `m`, `h`, `d`, `w` units
/// (`3m`, `1h30m`).
pub fn convtime(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        let n: u64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        number.clear();
    }
    if !number.is_empty() {
        total = total.checked_add(number.parse().ok()?)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(Option<u64>, bool)> {
        settings(MAIN, text)
            .into_iter()
            .map(|s| (s.seconds, s.in_match))
            .collect()
    }

    #[test]
    fn keyword_is_case_insensitive_and_comments_are_skipped() {
        assert_eq!(
            values("#ClientAliveInterval 0\nclientaliveinterval 120\n"),
            [(Some(120), false)]
        );
        assert_eq!(
            values("  CLIENTALIVEINTERVAL\t180 # recommended\n"),
            [(Some(180), false)]
        );
        assert_eq!(
            values("ClientAliveInterval=180\nClientAliveInterval = 3m\n"),
            [(Some(180), false), (Some(180), false)]
        );
        assert_eq!(
            values("ClientAliveInterval \"180\"\n"),
            [(Some(180), false)]
        );
        assert_eq!(
            values("ClientAliveIntervalX 1\nClientAliveCountMax 3\n"),
            []
        );
        assert_eq!(values("ClientAliveInterval soon\n"), [(None, false)]);
    }

    #[test]
    fn match_blocks_are_scoped() {
        let text = "ClientAliveInterval 180\nMatch User packer\n\tClientAliveInterval 0\n";
        assert_eq!(values(text), [(Some(180), false), (Some(0), true)]);
    }

    #[test]
    fn time_format() {
        assert_eq!(convtime("180"), Some(180));
        assert_eq!(convtime("1h30m"), Some(5400));
        assert_eq!(convtime("2W"), Some(1_209_600));
        assert_eq!(convtime("10x"), None);
        assert_eq!(convtime(""), None);
    }

    #[test]
    fn dropins_are_grouped_by_file() {
        let text = "/etc/ssh/sshd_config.d/50-cloudimg-settings.conf:ClientAliveInterval 120\n\
                    /etc/ssh/sshd_config.d/60-x.conf:Match Address 10.0.0.0/8\n\
                    /etc/ssh/sshd_config.d/70-y.conf:ClientAliveInterval 60\n";
        let s = dropin_settings(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].file.as_str(), s[0].seconds),
            (
                "/etc/ssh/sshd_config.d/50-cloudimg-settings.conf",
                Some(120)
            )
        );
        assert!(
            !s[1].in_match,
            "a Match in one drop-in does not scope the next file"
        );
    }
}
