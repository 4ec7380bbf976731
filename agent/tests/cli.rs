//! The command line as data: every file under `tests/cmd/` is a transcript of `vmcert`
//! invocations (`$ vmcert ...`) with their exact stdout, stderr (`? N` for a non-zero exit), run by
//! trycmd. They pin `--help` of every subcommand, the usage errors, and every `--format` of the
//! listing commands, so a change to the interface shows up as a diff here. After an intended
//! change, `TRYCMD=overwrite cargo test -p vmcert --test cli` rewrites them; read the diff.

#[test]
fn cli_transcripts() {
    trycmd::TestCases::new().case("tests/cmd/*.md");
}
