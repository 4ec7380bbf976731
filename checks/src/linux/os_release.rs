//! `/etc/os-release` as os-release(5) defines it: `KEY=value` lines, values optionally quoted.
//!
//! Several checks need the distribution's identity (`ID`, `ID_LIKE`, `VERSION_ID`) and the
//! human name (`PRETTY_NAME`) the self-test API printed, so the parsing lives here once.

use std::collections::BTreeMap;

/// The fields of one os-release file.
#[derive(Debug, Clone, Default)]
pub struct OsRelease {
    fields: BTreeMap<String, String>,
}

impl OsRelease {
    /// Parses os-release text. Lines that are not assignments (comments, blanks) are skipped, as
    /// os-release(5) asks readers to do.
    pub fn parse(text: &str) -> Self {
        let mut fields = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, raw)) = line.split_once('=') else {
                continue;
            };
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            fields.insert(key.to_string(), unquote(raw.trim()));
        }
        Self { fields }
    }

    /// The value of `key`, if present and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `ID`, lower-cased; os-release(5) defaults it to `linux`.
    pub fn id(&self) -> String {
        self.get("ID").unwrap_or("linux").to_ascii_lowercase()
    }

    /// The words of `ID_LIKE`, lower-cased.
    pub fn id_like(&self) -> Vec<String> {
        self.get("ID_LIKE")
            .map(|v| v.split_whitespace().map(str::to_ascii_lowercase).collect())
            .unwrap_or_default()
    }

    /// `VERSION_ID` (e.g. `18.04`, `7`, `12`); absent on rolling releases and Debian testing.
    pub fn version_id(&self) -> Option<&str> {
        self.get("VERSION_ID")
    }

    /// `PRETTY_NAME`; os-release(5) defaults it to `Linux`.
    pub fn pretty_name(&self) -> &str {
        self.get("PRETTY_NAME").unwrap_or("Linux")
    }
}

/// Removes one level of shell quoting as os-release(5) defines it: `"..."` in which a backslash
/// escapes only `"`, `\\`, `$` and a backtick (any other backslash stays), `'...'` literally.
fn unquote(raw: &str) -> String {
    if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('\\', Some(&n @ ('"' | '\\' | '$' | '`'))) => {
                    out.push(n);
                    chars.next();
                }
                _ => out.push(c),
            }
        }
        out
    } else if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
        inner.to_string()
    } else {
        raw.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_and_unquoted_values() {
        let os = OsRelease::parse(
            "NAME=\"CentOS Linux\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n\n# c\nVERSION_CODENAME=bookworm\nX='a \"b\"'\nY=\"say \\\"hi\\\"\"\n",
        );
        assert_eq!(os.id(), "centos");
        assert_eq!(os.id_like(), vec!["rhel", "fedora"]);
        assert_eq!(os.version_id(), Some("7"));
        assert_eq!(os.get("VERSION_CODENAME"), Some("bookworm"));
        assert_eq!(os.get("X"), Some("a \"b\""));
        assert_eq!(os.get("Y"), Some("say \"hi\""));
        assert_eq!(os.pretty_name(), "Linux");
    }

    #[test]
    fn only_the_four_shell_escapes_unescape() {
        let os = OsRelease::parse("A=\"x \\\"y\\\" \\$z \\q\"\nB='q r'\nC=plain\nbad line\n");
        assert_eq!(os.get("A"), Some("x \"y\" $z \\q"));
        assert_eq!(os.get("B"), Some("q r"));
        assert_eq!(os.get("C"), Some("plain"));
        assert_eq!(os.get("bad line"), None);
    }
}
