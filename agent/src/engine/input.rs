//! Reading the user's input files (answers, waivers, check packs) with a size bound: they are
//! trusted, but a mistake such as `--answers /dev/zero` or a multi-gigabyte file given by error
//! must be a clear error, not a run that reads until memory runs out.

use std::io::Read as _;
use std::path::Path;

/// Largest input file read (an answers file or a check pack is a few kilobytes; a pack of
/// 100,000 checks is about 10 MiB).
pub(crate) const MAX_INPUT: u64 = 64 * 1024 * 1024;

/// The UTF-8 text of `path`, at most [`MAX_INPUT`] bytes.
///
/// # Errors
/// The file cannot be read, is larger than [`MAX_INPUT`] (or endless), or is not UTF-8.
pub(crate) fn read_text(path: &Path) -> anyhow::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT {
        anyhow::bail!("more than {} MiB: not an input file", MAX_INPUT >> 20);
    }
    Ok(String::from_utf8(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_file_is_an_error_not_an_exhausted_memory() {
        let err = read_text(Path::new("/dev/zero")).unwrap_err().to_string();
        assert_eq!(err, "more than 64 MiB: not an input file");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.toml");
        std::fs::write(&p, "x = 1\n").unwrap();
        assert_eq!(read_text(&p).unwrap(), "x = 1\n");
    }
}
