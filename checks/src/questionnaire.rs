//! The questionnaire of checks.md: the questions the desktop tool asked on its two tabs (General
//! Assessment, Kernel Customization) and its closing notes screen, the TOML answers file, the
//! validation of answers, and the status each answer gives in the report.
//!
//! Pure: parsing takes the file's text, prompting and file reading live in the agent. Statuses
//! follow one table, in [`assess`]: a True answer passes, a False answer on General Assessment is a
//! Warning ("certification is likely to fail unless an exception is granted"), an unanswered
//! question is a Warning, and a question that does not apply (KC2 unless KC1 is `custom`) is
//! NotApplicable.
//!
//! The answers file (the format `vmcert questionnaire template` prints, see [`template`]):
//!
//! ```toml
//! [general]                 # General Assessment, both OSes (GA10: Windows only)
//! GA1 = true                # true | false
//! [kernel]                  # Kernel Customization, Linux only
//! KC1 = "custom"            # stock | azure-tuned | custom
//! KC2 = "6.1.55 with the Hyper-V patches of 6.6"
//! KC3 = "built-in"          # built-in | lis | backported
//! KC4 = "yes"               # yes | no | unknown
//! KC5 = "none"
//! [notes]
//! ssh_access = "azureuser with the key handed over in the offer's notes"   # Linux only
//! [notes.exceptions]        # check id = why an exception is sought
//! "bash-history-cleared" = "root's history is a deliberate fixture of the appliance"
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::meta::Os;
use crate::verdict::Status;

/// The message of a False answer on General Assessment.
pub const FALSE_MESSAGE: &str =
    "Answered False: certification is likely to fail unless an exception is granted.";

/// The message of an unanswered question.
pub const UNANSWERED_MESSAGE: &str = "Not answered; a reviewer will ask about it.";

/// A tab of the questionnaire (the desktop tool's screens).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Tab {
    /// True/False statements about how the image was prepared.
    #[serde(rename = "General Assessment")]
    GeneralAssessment,
    /// How the Linux kernel was built (Linux only).
    #[serde(rename = "Kernel Customization")]
    KernelCustomization,
    /// The closing notes screen.
    #[serde(rename = "Notes")]
    Notes,
}

impl Tab {
    /// The tab's title, as written in reports.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::GeneralAssessment => "General Assessment",
            Self::KernelCustomization => "Kernel Customization",
            Self::Notes => "Notes",
        }
    }

    /// The table of the answers file that holds this tab's answers.
    #[must_use]
    pub const fn section(self) -> &'static str {
        match self {
            Self::GeneralAssessment => "general",
            Self::KernelCustomization => "kernel",
            Self::Notes => "notes",
        }
    }
}

/// One allowed value of a choice question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// The value written in the answers file and in `questionnaire.json`.
    pub value: &'static str,
    /// What the value means, for the template, the prompt and the reports.
    pub label: &'static str,
    /// The status this answer gives.
    pub status: Status,
    /// Why, when the status is not Pass.
    pub message: &'static str,
}

/// What kind of answer a question takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// True or False (General Assessment). False is a Warning.
    Bool,
    /// One of a fixed list of values.
    Choice(&'static [Choice]),
    /// Free text (one non-empty string).
    Text,
    /// Explanations keyed by check id (the exceptions sought); never required.
    Exceptions,
}

/// One question of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question {
    /// Stable id: `GA1`..`GA12`, `KC1`..`KC5`, `NOTES-SSH`, `NOTES-EXCEPTIONS`.
    pub id: &'static str,
    /// The tab it is asked on.
    pub tab: Tab,
    /// `None` when asked for both OSes.
    pub os: Option<Os>,
    /// The key in the answers file's table for [`Question::tab`] (the id for GA and KC questions).
    pub key: &'static str,
    /// The answer it takes.
    pub kind: Kind,
    /// The question (our wording: Microsoft never published its own).
    pub text: &'static str,
}

impl Question {
    /// Whether the question is asked for images of `os`.
    #[must_use]
    pub fn is_for(&self, os: Os) -> bool {
        self.os.is_none_or(|o| o == os)
    }

    /// Whether the question must be answered for the questionnaire to be complete, given the
    /// other answers (KC2 only when KC1 is `custom`; the exceptions never).
    #[must_use]
    pub fn is_required(&self, answers: &Answers) -> bool {
        match self.kind {
            Kind::Exceptions => false,
            _ => self.applies(answers) == Some(true),
        }
    }

    /// `Some(true)` when the question applies given the other answers, `Some(false)` when it does
    /// not, `None` when that depends on an unanswered question.
    fn applies(&self, answers: &Answers) -> Option<bool> {
        if self.id == "KC2" {
            return match answers.get("KC1") {
                Some(Answer::Choice(v)) => Some(v == "custom"),
                _ => None,
            };
        }
        Some(true)
    }

    /// The answer as a reader sees it: `True`/`False`, a choice with its label, or the text.
    #[must_use]
    pub fn display(&self, answer: &Answer) -> String {
        match (answer, self.kind) {
            (Answer::Bool(true), _) => "True".to_owned(),
            (Answer::Bool(false), _) => "False".to_owned(),
            (Answer::Choice(v), Kind::Choice(choices)) => {
                match choices.iter().find(|c| c.value == v) {
                    Some(c) => format!("{v} ({})", c.label),
                    None => v.clone(),
                }
            }
            (Answer::Choice(v) | Answer::Text(v), _) => v.clone(),
            (Answer::Exceptions(map), _) if map.is_empty() => "none".to_owned(),
            (Answer::Exceptions(map), _) => map
                .iter()
                .map(|(id, why)| format!("{id}: {why}"))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// Checks that `answer` has this question's kind and an allowed value.
    ///
    /// # Errors
    /// A message naming the question and the problem (wrong type, unknown choice, empty text,
    /// malformed check id).
    pub fn validate(&self, answer: &Answer) -> Result<(), String> {
        match (self.kind, answer) {
            (Kind::Bool, Answer::Bool(_)) => Ok(()),
            (Kind::Choice(choices), Answer::Choice(v)) => {
                if choices.iter().any(|c| c.value == v) {
                    Ok(())
                } else {
                    Err(format!(
                        "{}: `{v}` is not one of {}",
                        self.id,
                        choice_list(choices)
                    ))
                }
            }
            (Kind::Text, Answer::Text(t)) => {
                if t.contains("PRIVATE KEY-----") {
                    Err(format!(
                        "{}: the answer contains a private key; say how reviewers obtain it instead (reports are shared)",
                        self.id
                    ))
                } else if t.trim().is_empty() {
                    Err(format!(
                        "{}: the answer is empty (write `none`, or leave the question out to keep it unanswered)",
                        self.id
                    ))
                } else {
                    Ok(())
                }
            }
            (Kind::Exceptions, Answer::Exceptions(map)) => {
                for (id, why) in map {
                    if !is_check_id(id) {
                        return Err(format!(
                            "{}: `{id}` is not a check id (kebab-case, e.g. `bash-history-cleared`)",
                            self.id
                        ));
                    }
                    if why.trim().is_empty() {
                        return Err(format!("{}: the explanation for `{id}` is empty", self.id));
                    }
                }
                Ok(())
            }
            (kind, _) => Err(format!("{}: expected {}", self.id, kind_name(kind))),
        }
    }
}

fn choice_list(choices: &[Choice]) -> String {
    choices
        .iter()
        .map(|c| format!("\"{}\"", c.value))
        .collect::<Vec<_>>()
        .join(", ")
}

fn kind_name(kind: Kind) -> String {
    match kind {
        Kind::Bool => "true or false".to_owned(),
        Kind::Choice(choices) => format!("one of {}", choice_list(choices)),
        Kind::Text => "a string".to_owned(),
        Kind::Exceptions => "a table of check id = \"explanation\"".to_owned(),
    }
}

fn is_check_id(id: &str) -> bool {
    !id.is_empty()
        && id.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

const fn ga(id: &'static str, os: Option<Os>, text: &'static str) -> Question {
    Question {
        id,
        tab: Tab::GeneralAssessment,
        os,
        key: id,
        kind: Kind::Bool,
        text,
    }
}

const fn kc(id: &'static str, kind: Kind, text: &'static str) -> Question {
    Question {
        id,
        tab: Tab::KernelCustomization,
        os: Some(Os::Linux),
        key: id,
        kind,
        text,
    }
}

const fn pass(value: &'static str, label: &'static str) -> Choice {
    Choice {
        value,
        label,
        status: Status::Pass,
        message: "",
    }
}

/// Every question, in the order the reports and the prompt list them.
pub static QUESTIONS: &[Question] = &[
    ga(
        "GA1",
        None,
        "All current security patches for the OS are installed.",
    ),
    ga(
        "GA2",
        None,
        "The image follows its distribution's hardening guidance.",
    ),
    ga(
        "GA3",
        None,
        "Source and final image were scanned for malware.",
    ),
    ga(
        "GA4",
        None,
        "No default accounts, default passwords or back doors.",
    ),
    ga(
        "GA5",
        None,
        "Sensitive data removed (test keys, known_hosts, logs, certs, hosts entries).",
    ),
    ga(
        "GA6",
        None,
        "The image was generalized (`waagent -deprovision` / sysprep).",
    ),
    ga(
        "GA7",
        None,
        "Networking uses DHCP with no custom configuration and no dependency on IPv6.",
    ),
    ga(
        "GA8",
        None,
        "Firewall present but no rules unless the application needs them.",
    ),
    ga(
        "GA9",
        None,
        "The solution works on every VM size that fits its disk count.",
    ),
    ga(
        "GA10",
        Some(Os::Windows),
        "No configuration depends on drives other than C and D.",
    ),
    ga(
        "GA11",
        None,
        "The application does not require the built-in administrator/root account.",
    ),
    ga(
        "GA12",
        None,
        "Only the minimum number of data disks is included.",
    ),
    kc(
        "KC1",
        Kind::Choice(&[
            pass("stock", "distribution stock kernel"),
            pass("azure-tuned", "distribution Azure-tuned kernel"),
            pass("custom", "custom kernel (describe it in KC2)"),
        ]),
        "The kernel is a distribution stock kernel, a distribution Azure-tuned kernel, or a custom kernel.",
    ),
    kc(
        "KC2",
        Kind::Text,
        "If the kernel is custom: its base version and the patches applied.",
    ),
    kc(
        "KC3",
        Kind::Choice(&[
            pass("built-in", "built into the kernel"),
            pass("lis", "Linux Integration Services (LIS) package"),
            pass("backported", "backported into the kernel"),
        ]),
        "The Hyper-V drivers are built in, come from the LIS package, or are backported.",
    ),
    kc(
        "KC4",
        Kind::Choice(&[
            pass("yes", "the fixes are included"),
            Choice {
                value: "no",
                label: "the fixes are not included",
                status: Status::Warning,
                message: "Without the storvsc and ata_piix fixes the image may lose disks or hang on Azure's storage.",
            },
            Choice {
                value: "unknown",
                label: "not known",
                status: Status::Warning,
                message: "Not known: a reviewer will ask whether the storvsc and ata_piix fixes are included.",
            },
        ]),
        "The storvsc and ata_piix fixes are included in the kernel.",
    ),
    kc(
        "KC5",
        Kind::Text,
        "Edits made to the kernel boot line (`none` when there are none).",
    ),
    Question {
        id: "NOTES-SSH",
        tab: Tab::Notes,
        os: Some(Os::Linux),
        key: "ssh_access",
        kind: Kind::Text,
        text: "SSH access information for the Linux image: how reviewers log in (user, port, and how they obtain the key or password; never the secret itself).",
    },
    Question {
        id: "NOTES-EXCEPTIONS",
        tab: Tab::Notes,
        os: None,
        key: "exceptions",
        kind: Kind::Exceptions,
        text: "An explanation for each failed or warning check for which an exception is sought, keyed by check id.",
    },
];

/// The questions asked for images of `os`, in catalogue order.
pub fn for_os(os: Os) -> impl Iterator<Item = &'static Question> {
    QUESTIONS.iter().filter(move |q| q.is_for(os))
}

/// The question with this id.
#[must_use]
pub fn find(id: &str) -> Option<&'static Question> {
    QUESTIONS.iter().find(|q| q.id == id)
}

/// One answer. Serializes as the plain JSON value (`true`, `"stock"`, `{"check-id": "why"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// True/False.
    Bool(bool),
    /// A choice's value.
    Choice(String),
    /// Free text.
    Text(String),
    /// Explanations by check id.
    Exceptions(BTreeMap<String, String>),
}

/// The answers given so far, by question id. Every stored answer is valid for its question.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    values: BTreeMap<&'static str, Answer>,
}

/// Why an answer could not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// No question has this id.
    #[error("unknown question id `{0}`")]
    UnknownQuestion(String),
    /// The question is not asked for this OS.
    #[error("{id} is asked only for {asked} images, not {os}")]
    OtherOs {
        /// Question id.
        id: &'static str,
        /// The OS it is asked for.
        asked: Os,
        /// The OS of the answers.
        os: Os,
    },
    /// Wrong type or value.
    #[error("{0}")]
    Invalid(String),
}

impl Answers {
    /// The answer to question `id`, if given.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&Answer> {
        self.values.get(id)
    }

    /// Stores the answer to question `id` for an image of `os`, after validating it.
    ///
    /// # Errors
    /// Unknown question, question of the other OS, or an invalid answer.
    pub fn set(&mut self, os: Os, id: &str, answer: Answer) -> Result<(), AnswerError> {
        let q = find(id).ok_or_else(|| AnswerError::UnknownQuestion(id.to_owned()))?;
        if let Some(asked) = q.os.filter(|&asked| asked != os) {
            return Err(AnswerError::OtherOs {
                id: q.id,
                asked,
                os,
            });
        }
        q.validate(&answer).map_err(AnswerError::Invalid)?;
        self.values.insert(q.id, answer);
        Ok(())
    }

    /// The exception explanations, by check id (empty when none was given).
    #[must_use]
    pub fn exceptions(&self) -> BTreeMap<String, String> {
        match self.values.get("NOTES-EXCEPTIONS") {
            Some(Answer::Exceptions(map)) => map.clone(),
            _ => BTreeMap::new(),
        }
    }

    /// Parses and validates an answers file for an image of `os`.
    ///
    /// The answers as an answers file ([`Answers::parse`] reads it back to the same answers):
    /// `[general]`, `[kernel]`, `[notes]` and `[notes.exceptions]`, questions in catalogue order.
    #[must_use]
    pub fn to_toml(&self) -> String {
        let mut doc = toml::Table::new();
        for q in QUESTIONS {
            let Some(answer) = self.values.get(q.id) else {
                continue;
            };
            let table = match q.tab {
                Tab::GeneralAssessment => "general",
                Tab::KernelCustomization => "kernel",
                Tab::Notes => "notes",
            };
            let value = match answer {
                Answer::Bool(b) => toml::Value::Boolean(*b),
                Answer::Choice(v) | Answer::Text(v) => toml::Value::String(v.clone()),
                Answer::Exceptions(map) => toml::Value::Table(
                    map.iter()
                        .map(|(k, v)| (k.clone(), toml::Value::String(v.clone())))
                        .collect(),
                ),
            };
            if let toml::Value::Table(t) = doc
                .entry(table)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            {
                t.insert(q.key.to_owned(), value);
            }
        }
        toml::to_string(&doc).unwrap_or_default()
    }

    /// # Errors
    /// The first problem, with its line and column: TOML syntax, unknown table or question id,
    /// a question of the other OS, a wrong type, an unknown choice, an empty text.
    pub fn parse(text: &str, os: Os) -> Result<Self, ParseError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| ParseError::from_toml(text, &e))?;
        let at = |span: std::ops::Range<usize>, message: String| {
            ParseError::at(text, span.start, message)
        };
        let mut entries: Vec<(Tab, Spanned<String>, Spanned<toml::Value>)> = Vec::new();
        entries.extend(
            raw.general
                .into_iter()
                .map(|(k, v)| (Tab::GeneralAssessment, k, v)),
        );
        entries.extend(
            raw.kernel
                .into_iter()
                .map(|(k, v)| (Tab::KernelCustomization, k, v)),
        );
        let mut exceptions = None;
        if let Some(notes) = raw.notes {
            if let Some(v) = notes.ssh_access {
                entries.push((
                    Tab::Notes,
                    Spanned::new(v.span(), "ssh_access".to_owned()),
                    v,
                ));
            }
            exceptions = notes.exceptions;
        }
        // Report the first problem in file order.
        entries.sort_by_key(|(_, k, _)| k.span().start);

        let mut answers = Self::default();
        for (tab, key, value) in entries {
            let q = QUESTIONS
                .iter()
                .find(|q| q.tab == tab && q.key == key.get_ref())
                .ok_or_else(|| at(key.span(), unknown_key(key.get_ref(), tab)))?;
            let span = value.span();
            let answer = to_answer(q, value.into_inner()).map_err(|m| at(span.clone(), m))?;
            answers
                .set(os, q.id, answer)
                .map_err(|e| at(span, e.to_string()))?;
        }
        let Some(exceptions) = exceptions else {
            return Ok(answers);
        };
        let span = exceptions.span();
        let mut map = BTreeMap::new();
        let mut items: Vec<_> = exceptions.into_inner().into_iter().collect();
        items.sort_by_key(|(k, _)| k.span().start);
        for (id, why) in items {
            if !is_check_id(id.get_ref()) {
                return Err(at(
                    id.span(),
                    format!(
                        "`{}` is not a check id (kebab-case, e.g. `bash-history-cleared`)",
                        id.get_ref()
                    ),
                ));
            }
            let why_span = why.span();
            let toml::Value::String(s) = why.into_inner() else {
                return Err(at(
                    why_span,
                    format!(
                        "the exception for `{}` must be a string (\"check-id\" = \"explanation\")",
                        id.get_ref()
                    ),
                ));
            };
            map.insert(id.into_inner(), s);
        }
        // An empty [notes.exceptions] table (as in the template) is no answer.
        if !map.is_empty() {
            answers
                .set(os, "NOTES-EXCEPTIONS", Answer::Exceptions(map))
                .map_err(|e| at(span, e.to_string()))?;
        }
        Ok(answers)
    }
}

fn unknown_key(key: &str, tab: Tab) -> String {
    let known: Vec<&str> = QUESTIONS
        .iter()
        .filter(|q| q.tab == tab && q.kind != Kind::Exceptions)
        .map(|q| q.key)
        .collect();
    format!(
        "unknown question id `{key}` in [{}] (known: {})",
        tab.section(),
        known.join(", ")
    )
}

/// Turns a TOML value into the answer kind the question takes, so type errors name the question.
fn to_answer(q: &Question, value: toml::Value) -> Result<Answer, String> {
    match (q.kind, value) {
        (Kind::Bool, toml::Value::Boolean(b)) => Ok(Answer::Bool(b)),
        (Kind::Choice(_), toml::Value::String(s)) => Ok(Answer::Choice(s)),
        (Kind::Text, toml::Value::String(s)) => Ok(Answer::Text(s)),
        (kind, other) => Err(format!(
            "{}: expected {}, found {}",
            q.id,
            kind_name(kind),
            other.type_str()
        )),
    }
}

type RawTable = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    general: RawTable,
    #[serde(default)]
    kernel: RawTable,
    #[serde(default)]
    notes: Option<RawNotes>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotes {
    #[serde(default)]
    ssh_access: Option<Spanned<toml::Value>>,
    #[serde(default)]
    exceptions: Option<Spanned<RawTable>>,
}

/// A problem in an answers file, with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong, in one line.
    pub message: String,
}

impl ParseError {
    fn at(text: &str, offset: usize, message: String) -> Self {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Self {
            line,
            column,
            message,
        }
    }

    fn from_toml(text: &str, e: &toml::de::Error) -> Self {
        let message = e
            .message()
            .lines()
            .next()
            .unwrap_or("invalid TOML")
            .trim()
            .to_owned();
        Self::at(text, e.span().map_or(0, |s| s.start), message)
    }
}

/// What the report says about one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    /// The question.
    pub question: &'static Question,
    /// The answer, `None` when unanswered.
    pub answer: Option<Answer>,
    /// Pass, Warning (False, a worrying choice, or unanswered) or NotApplicable.
    pub status: Status,
    /// Why the status is not Pass; empty for Pass.
    pub message: String,
}

/// The status of every question asked for `os`, in catalogue order.
#[must_use]
pub fn assess(answers: &Answers, os: Os) -> Vec<Assessment> {
    for_os(os)
        .map(|q| {
            let answer = answers.get(q.id).cloned();
            let (status, message) = status_of(q, answer.as_ref(), answers);
            Assessment {
                question: q,
                answer,
                status,
                message,
            }
        })
        .collect()
}

fn status_of(q: &Question, answer: Option<&Answer>, answers: &Answers) -> (Status, String) {
    match q.applies(answers) {
        Some(false) => {
            return (
                Status::NotApplicable,
                format!("{} applies only when KC1 is `custom`.", q.id),
            );
        }
        None if answer.is_none() => {
            return (
                Status::NotApplicable,
                format!(
                    "{} applies only when KC1 is `custom`; KC1 is unanswered.",
                    q.id
                ),
            );
        }
        _ => {}
    }
    match (answer, q.kind) {
        (None, Kind::Exceptions) => (Status::NotApplicable, "No exception is sought.".to_owned()),
        (None, _) => (Status::Warning, UNANSWERED_MESSAGE.to_owned()),
        (Some(Answer::Bool(false)), _) => (Status::Warning, FALSE_MESSAGE.to_owned()),
        (Some(Answer::Choice(v)), Kind::Choice(choices)) => choices
            .iter()
            .find(|c| c.value == v)
            .map_or((Status::Pass, String::new()), |c| {
                (c.status, c.message.to_owned())
            }),
        (Some(Answer::Exceptions(map)), _) if map.is_empty() => {
            (Status::NotApplicable, "No exception is sought.".to_owned())
        }
        (Some(_), _) => (Status::Pass, String::new()),
    }
}

/// The questions asked for `os` that must be answered and are not, in catalogue order.
#[must_use]
pub fn unanswered(answers: &Answers, os: Os) -> Vec<&'static Question> {
    for_os(os)
        .filter(|q| q.is_required(answers) && answers.get(q.id).is_none())
        .collect()
}

/// The text of `notes.txt`: the SSH access information (Linux) and the exceptions sought.
#[must_use]
pub fn notes_text(answers: &Answers, os: Os) -> String {
    let mut out = String::new();
    if os == Os::Linux {
        out.push_str("SSH access\n==========\n");
        match answers.get("NOTES-SSH") {
            Some(Answer::Text(t)) => out.push_str(t.trim_end()),
            _ => out.push_str("(not given)"),
        }
        out.push_str("\n\n");
    }
    out.push_str("Exceptions sought\n=================\n");
    let exceptions = answers.exceptions();
    if exceptions.is_empty() {
        out.push_str("(none)\n");
    }
    for (id, why) in exceptions {
        let _ = writeln!(out, "{id}: {}", why.trim_end());
    }
    out
}

/// An answers file for `os` with every question as a comment and its answer line commented out:
/// valid as printed (everything unanswered), and valid with any answer line uncommented.
#[must_use]
pub fn template(os: Os) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "# vmcert questionnaire answers for a {os_name} image.\n\
         #\n\
         # Pass this file to `vmcert run --answers FILE`. Each question below is a comment followed by\n\
         # its answer line, commented out. To answer, remove the leading \"# \" of the answer line and\n\
         # set the value. A question left commented out is unanswered: `vmcert run` asks it on a\n\
         # terminal, and otherwise stops with the list of unanswered ids unless --allow-unanswered is\n\
         # given (then it is recorded as unanswered, a Warning in the report).\n\
         #\n\
         # Format (TOML, answers are case-sensitive):\n\
         #   [general]           General Assessment: GA1 = true | false\n{kernel_line}\
         #   [notes]             closing notes{ssh_line}\n\
         #   [notes.exceptions]  \"check-id\" = \"why an exception is sought for this failed or warning check\"\n\
         # Text may span lines with TOML's triple quotes: KC2 = \"\"\"...\"\"\".\n\
         # A False answer on General Assessment is a Warning in the report: certification is likely\n\
         # to fail unless an exception is granted.\n",
        os_name = if os == Os::Linux { "Linux" } else { "Windows" },
        kernel_line = if os == Os::Linux {
            "#   [kernel]            Kernel Customization: KC1, KC3, KC4 = a listed choice; KC2, KC5 = text\n"
        } else {
            ""
        },
        ssh_line = if os == Os::Linux {
            ": ssh_access = \"how reviewers log in\""
        } else {
            ""
        },
    );
    let mut tab = None;
    for q in for_os(os) {
        if tab != Some(q.tab) {
            tab = Some(q.tab);
            let _ = write!(out, "\n[{}]\n# {}\n", q.tab.section(), q.tab.as_str());
        }
        match q.kind {
            Kind::Exceptions => {
                let example = if os == Os::Linux {
                    "bash-history-cleared"
                } else {
                    "only-c-and-d-drives"
                };
                let _ = write!(
                    out,
                    "\n[notes.exceptions]\n# {id}: {text}\n# One line per check, e.g.:\n# \"{example}\" = \"why the exception is sought\"\n",
                    id = q.id,
                    text = q.text,
                );
            }
            kind => {
                let _ = write!(out, "\n# {}: {}\n", q.id, q.text);
                let placeholder = match kind {
                    Kind::Bool => "true".to_owned(),
                    Kind::Choice(choices) => {
                        for c in choices {
                            let _ = writeln!(
                                out,
                                "#   \"{}\"{:pad$} {}",
                                c.value,
                                "",
                                c.label,
                                pad = 12 - c.value.len().min(12)
                            );
                        }
                        format!("\"{}\"", choices.first().map_or("", |c| c.value))
                    }
                    Kind::Text => format!("\"{}\"", text_placeholder(q.id)),
                    Kind::Exceptions => String::new(),
                };
                let _ = writeln!(out, "# {} = {placeholder}", q.key);
            }
        }
    }
    out
}

fn text_placeholder(id: &str) -> &'static str {
    match id {
        "KC2" => "base version, and the patches applied",
        "KC5" => "none",
        _ => "user azureuser on port 22; the key is attached to the offer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Answers, ParseError> {
        Answers::parse(text, Os::Linux)
    }

    #[test]
    fn catalogue_ids_are_unique_and_keys_unique_per_tab() {
        let mut ids = std::collections::HashSet::new();
        let mut keys = std::collections::HashSet::new();
        for q in QUESTIONS {
            assert!(ids.insert(q.id), "duplicate id {}", q.id);
            assert!(keys.insert((q.tab, q.key)), "duplicate key {}", q.key);
            assert!(!q.text.is_empty());
        }
        assert_eq!(
            for_os(Os::Linux)
                .filter(|q| q.tab == Tab::GeneralAssessment)
                .count(),
            11
        );
        assert_eq!(
            for_os(Os::Windows)
                .filter(|q| q.tab == Tab::GeneralAssessment)
                .count(),
            12
        );
        assert_eq!(
            for_os(Os::Windows)
                .filter(|q| q.tab == Tab::KernelCustomization)
                .count(),
            0
        );
    }

    #[test]
    fn parses_every_kind() {
        let a = parse(
            "[general]\nGA1 = true\nGA2 = false\n[kernel]\nKC1 = \"custom\"\nKC2 = \"6.1 + hv fixes\"\n\
             [notes]\nssh_access = \"azureuser, key in the offer\"\n[notes.exceptions]\n\"bash-history-cleared\" = \"kept on purpose\"\n",
        )
        .unwrap();
        assert_eq!(a.get("GA1"), Some(&Answer::Bool(true)));
        assert_eq!(a.get("KC1"), Some(&Answer::Choice("custom".into())));
        assert_eq!(a.get("KC2"), Some(&Answer::Text("6.1 + hv fixes".into())));
        assert_eq!(
            a.exceptions()
                .get("bash-history-cleared")
                .map(String::as_str),
            Some("kept on purpose")
        );
    }

    #[test]
    fn errors_name_line_column_and_problem() {
        let e = parse("[general]\nGA1 = true\nGA13 = true\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 1));
        assert!(
            e.message
                .starts_with("unknown question id `GA13` in [general]"),
            "{e}"
        );

        let e = parse("[general]\nGA1 = \"yes\"\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2, column 7: GA1: expected true or false, found string"
        );

        let e = parse("[kernel]\nKC1 = \"vanilla\"\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2, column 7: KC1: `vanilla` is not one of \"stock\", \"azure-tuned\", \"custom\""
        );

        let e =
            parse("[notes]\nssh_access = \"-----BEGIN OPENSSH PRIVATE KEY-----\\nb3Blbn...\"\n")
                .unwrap_err();
        assert!(e.message.contains("contains a private key"), "{e}");

        let e = parse("[kernel]\nKC5 = \"  \"\n").unwrap_err();
        assert!(e.message.contains("empty"), "{e}");

        let e = parse("[genral]\nGA1 = true\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("unknown field `genral`"), "{e}");

        let e = parse("[general\n").unwrap_err();
        assert_eq!(e.line, 1);

        let e = parse("[notes.exceptions]\n\"Bash History\" = \"x\"\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("not a check id"), "{e}");
    }

    #[test]
    fn questions_of_the_other_os_are_refused() {
        let e = parse("[general]\nGA10 = true\n").unwrap_err();
        assert_eq!(
            e.message,
            "GA10 is asked only for windows images, not linux"
        );
        let e = Answers::parse("[kernel]\nKC1 = \"stock\"\n", Os::Windows).unwrap_err();
        assert!(
            e.message.contains("KC1 is asked only for linux images"),
            "{e}"
        );
        let e = Answers::parse("[notes]\nssh_access = \"x\"\n", Os::Windows).unwrap_err();
        assert!(
            e.message
                .contains("NOTES-SSH is asked only for linux images"),
            "{e}"
        );
    }

    fn status(answers: &Answers, id: &str) -> (Status, String) {
        let a = assess(answers, Os::Linux)
            .into_iter()
            .find(|a| a.question.id == id)
            .unwrap();
        (a.status, a.message)
    }

    #[test]
    fn statuses_follow_the_answers() {
        let a = parse(
            "[general]\nGA1 = true\nGA2 = false\n[kernel]\nKC1 = \"stock\"\nKC4 = \"unknown\"\n",
        )
        .unwrap();
        assert_eq!(status(&a, "GA1").0, Status::Pass);
        assert_eq!(
            status(&a, "GA2"),
            (Status::Warning, FALSE_MESSAGE.to_owned())
        );
        assert_eq!(
            status(&a, "GA3"),
            (Status::Warning, UNANSWERED_MESSAGE.to_owned())
        );
        assert_eq!(status(&a, "KC2").0, Status::NotApplicable);
        assert_eq!(status(&a, "KC4").0, Status::Warning);
        assert_eq!(status(&a, "NOTES-EXCEPTIONS").0, Status::NotApplicable);

        let custom = parse("[kernel]\nKC1 = \"custom\"\n").unwrap();
        assert_eq!(
            status(&custom, "KC2"),
            (Status::Warning, UNANSWERED_MESSAGE.to_owned())
        );
        // KC2 is required only once KC1 says the kernel is custom.
        assert!(unanswered(&a, Os::Linux).iter().all(|q| q.id != "KC2"));
        assert!(unanswered(&custom, Os::Linux).iter().any(|q| q.id == "KC2"));
        // The exceptions are never required.
        assert!(
            unanswered(&Answers::default(), Os::Windows)
                .iter()
                .all(|q| q.id != "NOTES-EXCEPTIONS")
        );
    }

    #[test]
    fn template_parses_as_printed_and_with_every_answer_uncommented() {
        for os in [Os::Linux, Os::Windows] {
            let t = template(os);
            let empty = Answers::parse(&t, os).unwrap();
            assert_eq!(empty, Answers::default());
            for q in for_os(os) {
                assert!(
                    t.contains(q.text),
                    "{os}: template lacks the text of {}",
                    q.id
                );
            }

            let filled: String = t
                .lines()
                .map(|l| {
                    let body = l.strip_prefix("# ").unwrap_or(l);
                    let is_answer = for_os(os).any(|q| body.starts_with(&format!("{} = ", q.key)))
                        || body.starts_with('"');
                    if is_answer { body } else { l }
                })
                .collect::<Vec<_>>()
                .join("\n");
            let answers =
                Answers::parse(&filled, os).unwrap_or_else(|e| panic!("{os}: {e}\n{filled}"));
            for q in for_os(os) {
                assert!(
                    answers.get(q.id).is_some(),
                    "{os}: {} not answered by the template",
                    q.id
                );
            }
            assert!(unanswered(&answers, os).is_empty());
        }
    }

    #[test]
    fn notes_text_lists_ssh_access_and_exceptions() {
        let a = parse("[notes]\nssh_access = \"azureuser\"\n[notes.exceptions]\n\"python-version\" = \"3.11 backport\"\n").unwrap();
        assert_eq!(
            notes_text(&a, Os::Linux),
            "SSH access\n==========\nazureuser\n\nExceptions sought\n=================\npython-version: 3.11 backport\n"
        );
        assert_eq!(
            notes_text(&Answers::default(), Os::Windows),
            "Exceptions sought\n=================\n(none)\n"
        );
    }

    #[test]
    fn answers_serialize_as_plain_json_values() {
        let mut m = BTreeMap::new();
        m.insert("a-b".to_owned(), "c".to_owned());
        assert_eq!(
            serde_json::to_string(&Answer::Bool(false)).unwrap(),
            "false"
        );
        assert_eq!(
            serde_json::to_string(&Answer::Choice("lis".into())).unwrap(),
            "\"lis\""
        );
        assert_eq!(
            serde_json::to_string(&Answer::Exceptions(m)).unwrap(),
            "{\"a-b\":\"c\"}"
        );
    }
}

#[cfg(test)]
mod to_toml_tests {
    use super::*;

    #[test]
    fn answers_written_as_a_file_read_back_the_same() {
        let text = "[general]\nGA1 = true\nGA12 = false\n\n[kernel]\nKC1 = \"custom\"\nKC2 = \"6.1 \\\"patched\\\"\\nline two\"\n\n[notes]\nssh_access = \"azureuser, port 22\"\n\n[notes.exceptions]\n\"bash-history-cleared\" = \"cleared later\"\n";
        let answers = Answers::parse(text, Os::Linux).unwrap();
        let written = answers.to_toml();
        assert_eq!(
            Answers::parse(&written, Os::Linux).unwrap(),
            answers,
            "{written}"
        );
        assert_eq!(Answers::default().to_toml(), "");
    }
}
