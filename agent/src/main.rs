//! `vmcert`: the certification agent binary. Parses the command line, sets up logging on stderr,
//! dispatches to the subcommand modules and turns their outcome into the exit codes of the
//! interface contract: 0 no Fail/Error, 1 a Fail, 2 could not complete (usage, bad input,
//! connection or auth failure, a check in Error). Errors print as one line on stderr.

mod checks_cmd;
mod cli;
mod probe_script;
mod questionnaire;
mod report;
mod run_cmd;
mod runner;
mod secret;
mod transport;

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
        Command::Run(args) => run_cmd::run(&args),
        Command::Connect(args) => match args.target.target.as_deref() {
            Some(url) if transport::winrm::is_winrm_url(url) => {
                transport::winrm::connect::run(&args, url)
            }
            _ => anyhow::bail!("connect: this build reaches winrm:// and winrms:// targets only"),
        },
        Command::Questionnaire(_) | Command::Report(_) => {
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
