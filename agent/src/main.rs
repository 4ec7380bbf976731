//! `vmcert`: the certification agent binary. Parses the command line, sets up logging on stderr,
//! dispatches to the subcommand modules and turns their outcome into the exit codes of the
//! interface contract: 0 no Fail/Error, 1 a Fail, 2 could not complete (usage, bad input,
//! connection or auth failure, a check in Error). Errors print as one line on stderr.

mod checks_cmd;
mod cli;
// `vmcert run` (wired by the runner) is the caller of `questionnaire::{load_answers, complete}`
// and `report::write::write_zip`; until it is, they are used only by their tests.
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "called by `vmcert run`, wired separately")
)]
mod questionnaire;
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "called by `vmcert run`, wired separately")
)]
mod report;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

/// Exit status when the command could not complete.
pub(crate) const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(err) => {
            // `{:#}` prints the whole context chain on one line.
            eprintln!("vmcert: error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Checks(c) => checks_cmd::run(&c),
        Command::Questionnaire(c) => questionnaire::run(&c),
        Command::Report(c) => report::cmd::run(&c),
        Command::Run(_) => {
            anyhow::bail!("this subcommand is not built yet")
        }
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
