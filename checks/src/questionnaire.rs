//! The questionnaire of checks.md: questions, answers files, and the statuses answers give.
