//! `vmcert`: the certification agent. [`main`] parses the command line, sets up logging on
//! stderr, dispatches to the subcommand modules and turns their outcome into the exit codes of the
//! interface contract: 0 no Fail/Error, 1 a Fail, 2 could not complete (usage, bad input,
//! connection or auth failure, a check in Error). Errors print as one line on stderr.
//!
//! It is a library only so that the coverage-guided fuzzer (`fuzz/`) can reach the parsers of
//! hostile input through [`fuzzing`]; the `vmcert` binary (`main.rs`) calls [`main`] and nothing
//! else. Everything else stays private to the crate.

mod blob;
mod cmd;
mod engine;
#[doc(hidden)]
pub mod fuzzing;
mod interrupt;
#[cfg(test)]
mod proptest_cases;
mod report;
mod sas;
mod target;
mod upload;
mod vhd;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cmd::cli::{Cli, Command, SasCommand, VhdCommand};

/// Exit status when the command could not complete.
pub(crate) const EXIT_ERROR: u8 = 2;

/// The `vmcert` command: its exit code once it is done.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Usage errors can echo arguments, and arguments can be SAS URLs.
        Err(e) => {
            let text = sas::redact(&e.render().to_string());
            if e.use_stderr() {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_ERROR));
        }
    };
    init_logging(cli.verbose);
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(err) => {
            // `{:#}` prints the whole context chain on one line; a SAS signature never shows.
            // Errors may quote a target (a sudo refusal, a server's message): no escape sequence.
            eprintln!(
                "vmcert: error: {}",
                report::render::terminal_safe(&sas::redact(&format!("{err:#}")))
            );
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Checks(c) => cmd::checks::run(&c),
        Command::Run(args) => cmd::run::run(&args),
        Command::Fleet(args) => cmd::fleet::run(&args),
        Command::Vhd(VhdCommand::Inspect {
            target,
            role,
            os,
            profile,
            format,
            deadline,
        }) => cmd::vhd::run(
            &sas::url_arg(&target)?,
            cmd::vhd::intent(role, os, profile),
            format,
            std::time::Duration::from_secs(deadline),
        ),
        Command::Vhd(VhdCommand::Rules { format }) => {
            cmd::rules::list(&vmcert_checks::vhd::rules::RULES, format)
        }
        Command::Sas(SasCommand::Check { url, format }) => {
            cmd::sas::run(&sas::url_arg(&url)?, format)
        }
        Command::Sas(SasCommand::Rules { format }) => {
            cmd::rules::list(&vmcert_checks::sas::rules::RULES, format)
        }
        Command::Connect(a) => cmd::connect::run(&a),
        Command::Questionnaire(c) => cmd::questionnaire::run(&c),
        Command::Report(c) => cmd::report::run(&c),
        Command::Completions { shell } => cmd::completions::completions(shell),
        Command::Man => cmd::completions::man(),
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
    // Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org): a log
    // piped to a file or a CI log keeps no escape sequences.
    use std::io::IsTerminal as _;
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .init();
}
