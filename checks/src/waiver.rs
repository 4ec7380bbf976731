//! Waivers: accepted exceptions for a check, with a justification and an expiry date.
//!
//! A publisher who has agreed an exception with Microsoft (or accepts a finding for a documented
//! reason) lists it in a TOML file passed with `--waivers`:
//!
//! ```toml
//! [[waiver]]
//! check = "bash-history-cleared"
//! justification = "History is cleared by the image pipeline after the test run"
//! expires = "2026-12-31"
//! ```
//!
//! A valid waiver does not change the check's status (the report still says Fail), but the run is
//! certified and exits 0 as if the check had passed. A waiver stops counting the day after its
//! `expires` date; an expired waiver is ignored and the run says so. Parsing is pure (text in,
//! waivers or a `file:line: problem` error out) so the agent can refuse a bad file before it
//! connects to anything.

use std::collections::HashMap;
use std::ops::Range;

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

use crate::verdict::Status;

/// One accepted exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    /// Id of the waived check.
    pub check: String,
    /// Why the exception is accepted (never empty).
    pub justification: String,
    /// Last day the waiver counts.
    pub expires: NaiveDate,
    /// File the waiver comes from.
    pub file: String,
    /// Line of its `check = ...` key.
    pub line: usize,
}

impl Waiver {
    /// True when `today` is after the expiry date.
    #[must_use]
    pub fn is_expired(&self, today: NaiveDate) -> bool {
        today > self.expires
    }

    /// `expires` as `YYYY-MM-DD`.
    #[must_use]
    pub fn expires_text(&self) -> String {
        self.expires.format("%Y-%m-%d").to_string()
    }
}

/// A waivers file that could not be used; displays as `file:line: problem` on one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct WaiverError {
    /// The file name given to [`parse`].
    pub file: String,
    /// 1-based line of the problem.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    waiver: Vec<EntryToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryToml {
    check: Spanned<String>,
    justification: Spanned<String>,
    expires: Spanned<toml::Value>,
}

/// 1-based line of a byte offset of `text`. For many lookups in one text, [`Lines`].
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    Lines::new(text).of(offset)
}

/// The line starts of one text, found once, so that looking up the line of every entry of a
/// large file costs a binary search each instead of a count from the start (which made a file
/// of 20,000 waivers or 30,000 pack checks take seconds to minutes). The fleet inventory uses it too.
pub struct Lines {
    newlines: Vec<usize>,
}

impl Lines {
    /// Indexes `text`.
    #[must_use]
    pub fn new(text: &str) -> Self {
        Self {
            newlines: text
                .bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        }
    }

    /// 1-based line of byte `offset`.
    #[must_use]
    pub fn of(&self, offset: usize) -> usize {
        self.newlines.partition_point(|&n| n < offset) + 1
    }
}

/// A TOML error as `(line, one-line message)`.
pub(crate) fn toml_error(text: &str, err: &toml::de::Error) -> (usize, String) {
    let line = err
        .span()
        .map_or(1, |s: Range<usize>| line_of(text, s.start));
    let message = err
        .message()
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    // toml says nothing about some mistakes (a lone carriage return): never an empty problem.
    if message.trim().is_empty() {
        return (line, "invalid TOML".to_string());
    }
    (line, message)
}

/// Parses a waivers file. `file` names it in errors.
///
/// # Errors
/// When the text is not TOML, has keys other than `check`, `justification` and `expires`, a
/// date is not `YYYY-MM-DD`, a justification is empty or a check is waived twice.
pub fn parse(file: &str, text: &str) -> Result<Vec<Waiver>, WaiverError> {
    let err = |line: usize, message: String| WaiverError {
        file: file.to_string(),
        line,
        message,
    };
    let doc: FileToml = toml::from_str(text).map_err(|e| {
        let (line, message) = toml_error(text, &e);
        err(line, message)
    })?;
    let mut out: Vec<Waiver> = Vec::with_capacity(doc.waiver.len());
    let lines = Lines::new(text);
    let line_of = |_: &str, offset: usize| lines.of(offset);
    // The line of each waived check, to name the first one of a duplicate.
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for entry in doc.waiver {
        let line = line_of(text, entry.check.span().start);
        let check = entry.check.into_inner();
        if check.trim().is_empty() {
            return Err(err(line, "`check` is empty".to_string()));
        }
        if let Some(first) = first_line.get(&check) {
            return Err(err(
                line,
                format!("check `{check}` is already waived on line {first}"),
            ));
        }
        first_line.insert(check.clone(), line);
        let jline = line_of(text, entry.justification.span().start);
        let justification = entry.justification.into_inner();
        if justification.trim().is_empty() {
            return Err(err(
                jline,
                format!("the waiver of `{check}` has an empty justification"),
            ));
        }
        let eline = line_of(text, entry.expires.span().start);
        let expires = match entry.expires.get_ref() {
            // Exactly YYYY-MM-DD: chrono alone also takes `2026-1-5`, which reads as a typo.
            toml::Value::String(s)
                if s.len() == 10
                    && s.bytes().enumerate().all(|(i, b)| {
                        if i == 4 || i == 7 {
                            b == b'-'
                        } else {
                            b.is_ascii_digit()
                        }
                    }) =>
            {
                NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
            }
            toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
                dt.date.and_then(|d| {
                    NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                })
            }
            _ => None,
        }
        .ok_or_else(|| {
            err(
                eline,
                format!("`expires` of `{check}` must be a date written YYYY-MM-DD"),
            )
        })?;
        out.push(Waiver {
            check,
            justification,
            expires,
            file: file.to_string(),
            line,
        });
    }
    Ok(out)
}

/// What the waivers do to one check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied<'a> {
    /// No waiver names the check.
    None,
    /// A waiver names the check but its status needs none (Pass, NotApplicable).
    NotNeeded(&'a Waiver),
    /// A valid waiver covers the check's Warning, Fail or Error.
    Waived(&'a Waiver),
    /// The waiver expired before today and is ignored.
    Expired(&'a Waiver),
}

impl Applied<'_> {
    /// The sentence the run log and the check's message carry, if any.
    #[must_use]
    pub fn note(&self) -> Option<String> {
        match self {
            Self::None => None,
            Self::NotNeeded(w) => Some(format!(
                "Waiver from {}:{} not needed: the check did not fail.",
                w.file, w.line
            )),
            Self::Waived(w) => Some(format!(
                "Waived until {} ({}:{}): {}",
                w.expires_text(),
                w.file,
                w.line,
                w.justification
            )),
            Self::Expired(w) => Some(format!(
                "Waiver from {}:{} expired on {} and was not applied.",
                w.file,
                w.line,
                w.expires_text()
            )),
        }
    }
}

/// Applies the waivers to a check that ended with `status`, as of `today`.
#[must_use]
pub fn apply<'a>(
    waivers: &'a [Waiver],
    check: &str,
    status: Status,
    today: NaiveDate,
) -> Applied<'a> {
    let Some(w) = waivers.iter().find(|w| w.check == check) else {
        return Applied::None;
    };
    if w.is_expired(today) {
        Applied::Expired(w)
    } else if matches!(status, Status::Warning | Status::Fail | Status::Error) {
        Applied::Waived(w)
    } else {
        Applied::NotNeeded(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_index_gives_the_line_of_every_offset() {
        let text = "a\nbc\n\nd";
        let lines = Lines::new(text);
        for offset in 0..=text.len() + 2 {
            let counted = text.as_bytes()[..offset.min(text.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1;
            assert_eq!(lines.of(offset), counted, "offset {offset}");
        }
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const GOOD: &str = r#"# accepted exceptions
[[waiver]]
check = "bash-history-cleared"
justification = "cleared by the pipeline"
expires = "2026-12-31"

[[waiver]]
check = "openssl-version"
justification = "vendor build"
expires = 2025-01-31
"#;

    #[test]
    fn parses_string_and_toml_dates_with_lines() {
        let w = parse("w.toml", GOOD).unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].check, "bash-history-cleared");
        assert_eq!(w[0].expires, day("2026-12-31"));
        assert_eq!(w[0].line, 3);
        assert_eq!(w[1].expires, day("2025-01-31"));
        assert_eq!(w[1].line, 8);
        assert_eq!(w[1].file, "w.toml");
    }

    /// Found by the property tests (issue 17): toml gives no message for a lone carriage
    /// return, and the error said `w.toml:1: ` and nothing more.
    #[test]
    fn a_toml_error_without_a_message_still_says_what_is_wrong() {
        assert_eq!(
            parse("w.toml", "\r").unwrap_err().to_string(),
            "w.toml:1: invalid TOML"
        );
        assert_eq!(
            crate::pack::parse("p.toml", "\r").unwrap_err().to_string(),
            "p.toml:1: invalid TOML"
        );
    }

    #[test]
    fn empty_file_has_no_waivers() {
        assert!(parse("w.toml", "").unwrap().is_empty());
    }

    #[test]
    fn unknown_key_is_refused_with_its_line() {
        let text = "[[waiver]]\ncheck = \"a\"\njustification = \"j\"\nexpires = \"2026-01-01\"\nreason = \"x\"\n";
        let e = parse("w.toml", text).unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        assert!(
            e.to_string()
                .starts_with("w.toml:5: unknown field `reason`"),
            "{e}"
        );
        assert_eq!(e.to_string().lines().count(), 1);
    }

    #[test]
    fn unknown_top_level_key_is_refused() {
        let e = parse("w.toml", "[[waivers]]\ncheck = \"a\"\n").unwrap_err();
        assert_eq!(e.line, 1, "{e}");
        assert!(e.message.contains("unknown field `waivers`"), "{e}");
    }

    #[test]
    fn bad_date_and_missing_key_and_empty_justification() {
        let e = parse(
            "w.toml",
            "[[waiver]]\ncheck = \"a\"\njustification = \"j\"\nexpires = \"31/12/2026\"\n",
        )
        .unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (4, "`expires` of `a` must be a date written YYYY-MM-DD")
        );
        // Issue 17 item 14: chrono alone would read these as dates.
        for loose in [
            "2026-1-5",
            "2026-01-5",
            "+2026-01-05",
            " 2026-01-05",
            "2026-01-05 ",
        ] {
            let e = parse(
                "w.toml",
                &format!(
                    "[[waiver]]\ncheck = \"a\"\njustification = \"j\"\nexpires = \"{loose}\"\n"
                ),
            )
            .unwrap_err();
            assert_eq!(
                e.message, "`expires` of `a` must be a date written YYYY-MM-DD",
                "{loose}"
            );
        }
        let e = parse(
            "w.toml",
            "[[waiver]]\ncheck = \"a\"\nexpires = \"2026-01-01\"\n",
        )
        .unwrap_err();
        assert!(e.message.contains("missing field `justification`"), "{e}");
        let e = parse(
            "w.toml",
            "[[waiver]]\ncheck = \"a\"\njustification = \"  \"\nexpires = \"2026-01-01\"\n",
        )
        .unwrap_err();
        assert_eq!(
            (e.line, e.message.as_str()),
            (3, "the waiver of `a` has an empty justification")
        );
        let e = parse(
            "w.toml",
            "[[waiver]]\ncheck = \"a\"\njustification = \"j\"\nexpires = 2026-01-01T10:00:00\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 4);
    }

    #[test]
    fn duplicate_check_is_refused() {
        let text = "[[waiver]]\ncheck = \"a\"\njustification = \"j\"\nexpires = \"2026-01-01\"\n[[waiver]]\ncheck = \"a\"\njustification = \"k\"\nexpires = \"2026-01-01\"\n";
        let e = parse("w.toml", text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "w.toml:6: check `a` is already waived on line 2"
        );
    }

    #[test]
    fn not_toml_names_the_line() {
        let e = parse("w.toml", "[[waiver]]\ncheck = \n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert_eq!(e.to_string().lines().count(), 1);
    }

    #[test]
    fn apply_respects_status_and_expiry() {
        let w = parse("w.toml", GOOD).unwrap();
        let today = day("2025-06-01");
        assert_eq!(apply(&w, "nope", Status::Fail, today), Applied::None);
        assert_eq!(
            apply(&w, "bash-history-cleared", Status::Fail, today),
            Applied::Waived(&w[0])
        );
        assert_eq!(
            apply(&w, "bash-history-cleared", Status::Error, today),
            Applied::Waived(&w[0])
        );
        assert_eq!(
            apply(&w, "bash-history-cleared", Status::Pass, today),
            Applied::NotNeeded(&w[0])
        );
        assert_eq!(
            apply(&w, "openssl-version", Status::Fail, today),
            Applied::Expired(&w[1])
        );
        // The expiry day itself still counts.
        assert_eq!(
            apply(&w, "openssl-version", Status::Fail, day("2025-01-31")),
            Applied::Waived(&w[1])
        );
        assert_eq!(
            apply(&w, "openssl-version", Status::Fail, today)
                .note()
                .unwrap(),
            "Waiver from w.toml:8 expired on 2025-01-31 and was not applied."
        );
        assert_eq!(
            apply(&w, "bash-history-cleared", Status::Fail, today)
                .note()
                .unwrap(),
            "Waived until 2026-12-31 (w.toml:3): cleared by the pipeline"
        );
        assert_eq!(Applied::None.note(), None);
    }
}
