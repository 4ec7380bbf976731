//! Kernel command lines: the running one (`/proc/cmdline`) and the one GRUB will generate next
//! (`GRUB_CMDLINE_LINUX*` in /etc/default/grub and /etc/default/grub.d/*.cfg).
//!
//! Two checks read them (required boot parameters, forbidden GRUB parameters), so tokenising and
//! the small shell evaluation GRUB's configuration needs live here once.

use std::collections::BTreeMap;

/// Parameters the kernel itself parses: the whitespace-separated words of /proc/cmdline before a
/// lone `--` (everything after it is handed to init). Double quotes group words
/// (`dyndbg="file x +p"`) and are removed, as the kernel's `next_arg` does.
pub(crate) fn kernel_params(cmdline: &str) -> Vec<String> {
    let mut params = Vec::new();
    for word in shell_words(cmdline) {
        if word == "--" {
            break;
        }
        params.push(word);
    }
    params
}

/// Splits on blanks outside double quotes and drops the quotes.
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// The `KEY` and value of a `key=value` parameter (`console=ttyS0,115200n8` gives
/// `("console", "ttyS0,115200n8")`); a bare word gives an empty value.
pub(crate) fn split_param(param: &str) -> (&str, &str) {
    param.split_once('=').unwrap_or((param, ""))
}

/// The variables GRUB's configuration files set, evaluated as `grub-mkconfig` sources them:
/// /etc/default/grub first, then each /etc/default/grub.d/*.cfg in name order.
#[derive(Debug, Clone, Default)]
pub(crate) struct GrubDefaults {
    vars: BTreeMap<String, String>,
    /// Where each variable was last set (`/etc/default/grub` or a drop-in path).
    origin: BTreeMap<String, String>,
}

impl GrubDefaults {
    /// Applies the assignments of one sourced file. Only plain `NAME=value` lines (optionally
    /// `export NAME=value`) are understood; `$NAME` / `${NAME}` are expanded outside single
    /// quotes, backquoted commands are kept as written. Conditionals are not interpreted: an
    /// assignment inside `if ... fi` counts as made, which is what GRUB does in practice for the
    /// distribution files vmcert has seen.
    pub(crate) fn source(&mut self, origin: &str, text: &str) {
        for line in text.lines() {
            let line = line.trim();
            let line = line.strip_prefix("export ").map_or(line, str::trim_start);
            if line.starts_with('#') {
                continue;
            }
            let Some((name, raw)) = line.split_once('=') else {
                continue;
            };
            if name.is_empty()
                || name.starts_with(|c: char| c.is_ascii_digit())
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                continue;
            }
            let value = self.shell_value(raw);
            self.vars.insert(name.to_string(), value);
            self.origin.insert(name.to_string(), origin.to_string());
        }
    }

    /// The value of a variable, if set.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The file that last set `name`.
    pub(crate) fn origin(&self, name: &str) -> Option<&str> {
        self.origin.get(name).map(String::as_str)
    }

    /// Every variable whose name starts with `prefix`, in name order.
    pub(crate) fn with_prefix<'s>(
        &'s self,
        prefix: &'s str,
    ) -> impl Iterator<Item = (&'s str, &'s str)> {
        self.vars
            .iter()
            .filter(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The parameters of a normal boot entry: `GRUB_CMDLINE_LINUX` then
    /// `GRUB_CMDLINE_LINUX_DEFAULT`, as grub.d/10_linux joins them.
    pub(crate) fn linux_params(&self) -> Vec<String> {
        let mut params = Vec::new();
        for name in ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"] {
            if let Some(v) = self.get(name) {
                params.extend(kernel_params(v));
            }
        }
        params
    }

    /// Evaluates the right-hand side of an assignment (one shell word, possibly built from
    /// several quoted parts); stops at the first unquoted blank or `;`, like the shell.
    fn shell_value(&self, raw: &str) -> String {
        let mut out = String::new();
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\'' => {
                    for c in chars.by_ref() {
                        if c == '\'' {
                            break;
                        }
                        out.push(c);
                    }
                }
                '"' => {
                    let mut inner = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '"' => break,
                            '\\' => {
                                if let Some(n) = chars.next() {
                                    if !matches!(n, '"' | '\\' | '$' | '`') {
                                        inner.push('\\');
                                    }
                                    inner.push(n);
                                }
                            }
                            c => inner.push(c),
                        }
                    }
                    out.push_str(&self.expand(&inner));
                }
                '`' => {
                    out.push('`');
                    for c in chars.by_ref() {
                        out.push(c);
                        if c == '`' {
                            break;
                        }
                    }
                }
                c if c.is_whitespace() || c == ';' => break,
                '\\' => {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                }
                '$' => {
                    let mut word = String::from("$");
                    while let Some(&n) = chars.peek() {
                        if n.is_whitespace() || n == ';' || n == '"' || n == '\'' {
                            break;
                        }
                        word.push(n);
                        chars.next();
                        if n == '}' {
                            break;
                        }
                    }
                    out.push_str(&self.expand(&word));
                }
                c => out.push(c),
            }
        }
        out
    }

    /// Expands `$NAME` and `${NAME}` (unset: empty) in text from a double-quoted string.
    fn expand(&self, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
                match braced.split_once('}') {
                    Some((n, t)) => (n, t),
                    None => ("", after),
                }
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..])
            };
            if name.is_empty() {
                out.push('$');
                rest = after;
            } else {
                out.push_str(self.get(name).unwrap_or(""));
                rest = tail;
            }
        }
        out.push_str(rest);
        out
    }
}

/// Splits the `grep -H ''` output of /etc/default/grub.d/*.cfg into (path, text) per file, in
/// the order grep printed them (the glob's name order, which is the order GRUB sources them).
pub(crate) fn grub_dropins(grep_output: &str) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Vec::new();
    for line in grep_output.lines() {
        let Some((path, text)) = line.split_once(".cfg:") else {
            continue;
        };
        let path = format!("{path}.cfg");
        match files.last_mut() {
            Some((p, body)) if *p == path => {
                body.push_str(text);
                body.push('\n');
            }
            _ => files.push((path, format!("{text}\n"))),
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_stop_at_double_dash_and_unquote() {
        let p = kernel_params(
            "BOOT_IMAGE=/vmlinuz ro console=ttyS0,115200n8 dyndbg=\"file a.c +p\" quiet -- --init-arg\n",
        );
        assert_eq!(
            p,
            vec![
                "BOOT_IMAGE=/vmlinuz",
                "ro",
                "console=ttyS0,115200n8",
                "dyndbg=file a.c +p",
                "quiet"
            ]
        );
        assert_eq!(
            split_param("console=ttyS0,115200n8"),
            ("console", "ttyS0,115200n8")
        );
        assert_eq!(split_param("quiet"), ("quiet", ""));
    }

    #[test]
    fn grub_files_are_sourced_in_order_with_expansion() {
        let mut g = GrubDefaults::default();
        g.source(
            "/etc/default/grub",
            "GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n#GRUB_CMDLINE_LINUX=\"console=ttyS9\"\n",
        );
        g.source(
            "/etc/default/grub.d/50-cloudimg-settings.cfg",
            "GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT console=tty1 console=ttyS0\"\nexport GRUB_CMDLINE_LINUX=${GRUB_CMDLINE_LINUX}'rootdelay=300'\n",
        );
        assert_eq!(
            g.get("GRUB_CMDLINE_LINUX_DEFAULT"),
            Some("quiet console=tty1 console=ttyS0")
        );
        assert_eq!(g.get("GRUB_CMDLINE_LINUX"), Some("rootdelay=300"));
        assert_eq!(
            g.origin("GRUB_CMDLINE_LINUX"),
            Some("/etc/default/grub.d/50-cloudimg-settings.cfg")
        );
        assert_eq!(
            g.get("GRUB_DISTRIBUTOR"),
            Some("`lsb_release -i -s 2> /dev/null || echo Debian`")
        );
        assert_eq!(
            g.linux_params(),
            vec!["rootdelay=300", "quiet", "console=tty1", "console=ttyS0"]
        );
    }

    #[test]
    fn dropins_split_per_file() {
        let files = grub_dropins(
            "/etc/default/grub.d/10-a.cfg:A=1\n/etc/default/grub.d/10-a.cfg:B=2\n/etc/default/grub.d/20-b.cfg:# c\n",
        );
        assert_eq!(
            files,
            vec![
                (
                    "/etc/default/grub.d/10-a.cfg".to_string(),
                    "A=1\nB=2\n".to_string()
                ),
                (
                    "/etc/default/grub.d/20-b.cfg".to_string(),
                    "# c\n".to_string()
                ),
            ]
        );
    }
}
