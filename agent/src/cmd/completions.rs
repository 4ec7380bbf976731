//! `vmcert completions SHELL` and `vmcert man`: shell completion scripts and the man page,
//! generated from the one clap definition of the command line (`cmd::cli`), so they never
//! disagree with `--help`. Both print to stdout for the user (or a package) to install.

use std::process::ExitCode;

use clap::CommandFactory as _;

use crate::cmd::cli::Cli;

/// Prints the completion script for `shell`.
pub(crate) fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "vmcert", &mut out);
    emit(&out)
}

/// Writes `bytes` to stdout; a reader that stopped early (`| head`) is not an error.
fn emit(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// Prints the man page vmcert(1) in roff, with a section per subcommand.
pub(crate) fn man() -> anyhow::Result<ExitCode> {
    emit(&man_page()?)
}

fn man_page() -> std::io::Result<Vec<u8>> {
    let cmd = Cli::command();
    let mut out = Vec::new();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("vmcert {}", sub.get_name());
        let sub_man = clap_mangen::Man::new(sub.clone());
        out.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
        sub_man.render_synopsis_section(&mut out)?;
        sub_man.render_description_section(&mut out)?;
        sub_man.render_options_section(&mut out)?;
        sub_man.render_extra_section(&mut out)?;
    }
    man.render_version_section(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_has_a_section_per_subcommand_with_its_examples() {
        let page = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(
            page.starts_with(".ie") && page.contains(".TH vmcert 1"),
            "{page}"
        );
        for section in [
            "VMCERT RUN",
            "VMCERT FLEET",
            "VMCERT REPORT",
            "VMCERT COMPLETIONS",
        ] {
            assert!(page.contains(&format!(".SH \"{section}\"")), "{section}");
        }
        assert!(page.contains("fail\\-on"), "the run options are in");
        assert!(
            !page.contains("VMCERT PROBES"),
            "hidden commands stay hidden"
        );
    }

    #[test]
    fn every_shell_gets_a_script_naming_the_subcommands() {
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
            clap_complete::Shell::PowerShell,
        ] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "vmcert", &mut out);
            let text = String::from_utf8(out).unwrap();
            for sub in ["run", "fleet", "report", "completions"] {
                assert!(text.contains(sub), "{shell}: no {sub}");
            }
            assert!(text.contains("fail-on"), "{shell}: no --fail-on");
        }
    }
}
