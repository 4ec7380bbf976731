//! The commands wing: one file per subcommand. This is the only code that knows clap, prints to
//! stdout or picks an exit code; it turns flags into plain configurations for the engine
//! (`crate::engine`) and the targets (`crate::target`), and their results into output.

pub(crate) mod ask;
pub(crate) mod checks;
pub(crate) mod cli;
pub(crate) mod completions;
pub(crate) mod connect;
pub(crate) mod fleet;
pub(crate) mod questionnaire;
pub(crate) mod report;
pub(crate) mod rules;
pub(crate) mod run;
pub(crate) mod sas;
pub(crate) mod vhd;
