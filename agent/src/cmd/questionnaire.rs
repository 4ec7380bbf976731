//! `vmcert questionnaire template`: prints every question of the questionnaire for one OS as a
//! commented answers file to fill in. Reading and asking the answers during a run is the engine's
//! (`crate::engine::questionnaire`).

use std::process::ExitCode;

use vmcert_checks::{Os, questionnaire};

use crate::cmd::cli::QuestionnaireCommand;

/// Runs a `questionnaire` subcommand.
pub(crate) fn run(cmd: &QuestionnaireCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        QuestionnaireCommand::Template { os } => {
            print!("{}", questionnaire::template(Os::from(*os)))
        }
    }
    Ok(ExitCode::SUCCESS)
}
