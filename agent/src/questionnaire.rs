//! Placeholder, replaced on merge by the report branch (which implements the questionnaire:
//! answers files, interactive prompts and the statuses answers give). Only the signatures the
//! runner calls are here, so the runner branch compiles on its own.

use std::path::Path;

use vmcert_checks::Os;

use crate::report::model::QuestionResult;

/// Questionnaire answers read from an answers file.
#[derive(Debug, Default)]
pub(crate) struct Answers;

/// How questions without an answer are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AskMode {
    /// Ask them on the terminal.
    Prompt,
    /// Refuse the run, listing them.
    RequireAll,
    /// Record them as unanswered (Warning).
    AllowUnanswered,
}

/// Reads the answers file, if any.
pub(crate) fn load_answers(path: Option<&Path>, os: Os) -> anyhow::Result<Answers> {
    let _ = (path, os);
    Ok(Answers)
}

/// Every question with its answer and status, and the closing notes.
pub(crate) fn complete(
    answers: Answers,
    os: Os,
    mode: AskMode,
) -> anyhow::Result<(Vec<QuestionResult>, String)> {
    let _ = (answers, os, mode);
    Ok((Vec::new(), String::new()))
}
