//! What `~/.ssh/config` says about a host, so `--target ssh://lab` works as `ssh lab` does: the
//! subset of ssh_config(5) a run needs, `Host` blocks (patterns with `*`, `?` and `!negation`)
//! with `HostName`, `User`, `Port` and `IdentityFile` (`~/` and `%h`, `%u`, `%%` expanded), the
//! first value obtained for each keyword winning as in OpenSSH. `Match` blocks and `Include` are
//! not followed (logged at debug level); every other keyword is ignored. Values given on the
//! command line win over the file.

use std::path::{Path, PathBuf};

/// The settings of one host alias.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct HostConfig {
    /// `HostName`: the real host to connect to.
    pub(crate) host_name: Option<String>,
    /// `User`.
    pub(crate) user: Option<String>,
    /// `Port`.
    pub(crate) port: Option<u16>,
    /// `IdentityFile`s, in file order, expanded.
    pub(crate) identity_files: Vec<PathBuf>,
}

/// Does `host` match the pattern list of a `Host` line (space separated; `!` negates)?
fn host_matches(patterns: &str, host: &str) -> bool {
    let mut matched = false;
    for p in patterns.split_whitespace() {
        if let Some(neg) = p.strip_prefix('!') {
            if glob(neg, host) {
                return false;
            }
        } else if glob(p, host) {
            matched = true;
        }
    }
    matched
}

/// `*` and `?` glob, case-insensitive as OpenSSH matches host names.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The settings `text` (an ssh_config file) gives `alias`; `home` expands `~/`.
pub(crate) fn lookup(text: &str, alias: &str, home: Option<&Path>) -> HostConfig {
    let mut c = HostConfig::default();
    // Before the first Host line, settings apply to every host.
    let mut active = true;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once(|ch: char| ch.is_whitespace() || ch == '=') {
            Some((k, v)) => (
                k,
                v.trim_start_matches(|ch: char| ch.is_whitespace() || ch == '=')
                    .trim(),
            ),
            None => (line, ""),
        };
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        match key.to_ascii_lowercase().as_str() {
            "host" => active = host_matches(value, alias),
            "match" => {
                tracing::debug!("~/.ssh/config: Match blocks are not followed");
                active = false;
            }
            "include" => tracing::debug!("~/.ssh/config: Include {value} is not followed"),
            "hostname" if active && c.host_name.is_none() => {
                c.host_name = Some(value.replace("%h", alias));
            }
            "user" if active && c.user.is_none() => c.user = Some(value.to_owned()),
            "port" if active && c.port.is_none() => c.port = value.parse().ok(),
            "identityfile" if active => {
                let v = value.replace("%h", alias).replace("%%", "%");
                let path = match (v.strip_prefix("~/"), home) {
                    (Some(rest), Some(h)) => h.join(rest),
                    _ => PathBuf::from(v),
                };
                c.identity_files.push(path);
            }
            _ => {}
        }
    }
    c
}

/// The private keys OpenSSH tries when none is configured, in its order.
pub(crate) const DEFAULT_KEYS: &[&str] = &["id_ed25519", "id_ecdsa", "id_rsa"];

/// `ssh://[USER@]ALIAS[:PORT]` resolved through `config`: the real host name, the user and port
/// from the file where the URL has none. A bracketed IPv6 host is returned unchanged.
pub(crate) fn resolve_url(url: &str, config: &HostConfig) -> String {
    let Some(rest) = url.strip_prefix("ssh://") else {
        return url.to_owned();
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (user, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    if hostport.starts_with('[') || hostport.matches(':').count() > 1 {
        return url.to_owned();
    }
    let (host, port) = match hostport.split_once(':') {
        Some((h, p)) => (h, Some(p.to_owned())),
        None => (hostport, None),
    };
    let host = config.host_name.as_deref().unwrap_or(host);
    let Some(user) = user.map(str::to_owned).or_else(|| config.user.clone()) else {
        return url.to_owned();
    };
    match port.or_else(|| config.port.map(|p| p.to_string())) {
        Some(p) => format!("ssh://{user}@{host}:{p}"),
        None => format!("ssh://{user}@{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
# a comment
Host lab
    HostName 10.0.0.5
    User azureuser
    Port 2222
    IdentityFile ~/.ssh/lab_ed25519

Host *.example.com !bad.example.com
  User=ops
  IdentityFile \"~/keys/%h\"

Match host x
  User nobody

Host *
  User fallback
  Port 22
";

    #[test]
    fn host_blocks_first_value_wins_and_patterns() {
        let home = Path::new("/home/me");
        let lab = lookup(CONFIG, "lab", Some(home));
        assert_eq!(
            lab,
            HostConfig {
                host_name: Some("10.0.0.5".into()),
                user: Some("azureuser".into()),
                port: Some(2222),
                identity_files: vec![PathBuf::from("/home/me/.ssh/lab_ed25519")],
            }
        );
        let web = lookup(CONFIG, "WEB.example.com", Some(home));
        assert_eq!(web.user.as_deref(), Some("ops"));
        assert_eq!(web.port, Some(22));
        assert_eq!(
            web.identity_files,
            [PathBuf::from("/home/me/keys/WEB.example.com")]
        );
        let bad = lookup(CONFIG, "bad.example.com", Some(home));
        assert_eq!(
            bad.user.as_deref(),
            Some("fallback"),
            "negated, then Host *"
        );
        assert_eq!(lookup(CONFIG, "x", None).user.as_deref(), Some("fallback"));
    }

    #[test]
    fn urls_take_what_the_file_gives_and_the_url_wins() {
        let lab = lookup(CONFIG, "lab", None);
        assert_eq!(
            resolve_url("ssh://lab", &lab),
            "ssh://azureuser@10.0.0.5:2222"
        );
        assert_eq!(resolve_url("ssh://me@lab:22", &lab), "ssh://me@10.0.0.5:22");
        let none = HostConfig::default();
        assert_eq!(
            resolve_url("ssh://lab", &none),
            "ssh://lab",
            "no user: unchanged"
        );
        assert_eq!(resolve_url("ssh://u@[::1]:22", &lab), "ssh://u@[::1]:22");
    }

    #[test]
    fn globs() {
        assert!(glob("*.example.com", "a.example.com"));
        assert!(glob("web?", "web1"));
        assert!(!glob("web?", "web12"));
        assert!(glob("*", ""));
        assert!(!glob("a*b", "ac"));
    }
}

/// Property tests (proptest, on stable; `fuzz/run.sh` runs them longer) of the ssh_config
/// reader: any text is read without a panic, `Host` patterns match as a regex of them does
/// (case-insensitively), a generated `Host` block gives its settings to its alias only, and a
/// resolved URL is an `ssh://` URL whenever a user is known.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    /// The glob as a regex: `*` any run, `?` one character, the rest literal, any case.
    fn reference(pat: &str, s: &str) -> bool {
        let re: String = pat
            .chars()
            .map(|c| match c {
                '*' => ".*".to_string(),
                '?' => ".".to_string(),
                c => regex::escape(&c.to_string()),
            })
            .collect();
        regex::Regex::new(&format!("(?si)^{re}$"))
            .unwrap()
            .is_match(s)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            crate::proptest_cases::cases(128)
        ))]

        #[test]
        fn any_config_is_read_without_panic(text in ".{0,300}", alias in ".{0,20}", url in ".{0,40}") {
            let c = lookup(&text, &alias, Some(Path::new("/home/u")));
            let _ = resolve_url(&url, &c);
        }

        #[test]
        fn globs_match_as_the_reference_does(pat in "[aAb.*?é]{0,10}", s in "[aAb.é]{0,10}") {
            prop_assert_eq!(glob(&pat, &s), reference(&pat, &s), "{:?} ~ {:?}", pat, s);
        }

        #[test]
        fn a_host_block_gives_its_settings_to_its_alias(
            alias in "[a-z][a-z0-9-]{0,10}",
            host in "[a-z0-9.]{1,20}",
            user in "[a-z_][a-z0-9_-]{0,10}",
            port in 1..=65535u16,
            sep in prop_oneof![Just(" "), Just("="), Just(" = "), Just("\t")],
        ) {
            let text = format!(
                "Host {alias}\n  HostName{sep}{host}\n  User{sep}\"{user}\"\n  Port{sep}{port}\n  \
                 IdentityFile{sep}~/.ssh/%h\nHost *\n  User{sep}other\n"
            );
            let c = lookup(&text, &alias, Some(Path::new("/home/u")));
            prop_assert_eq!(c.host_name.as_deref(), Some(host.as_str()));
            prop_assert_eq!(c.user.as_deref(), Some(user.as_str()));
            prop_assert_eq!(c.port, Some(port));
            prop_assert_eq!(c.identity_files.clone(), vec![PathBuf::from(format!("/home/u/.ssh/{alias}"))]);
            prop_assert_eq!(
                resolve_url(&format!("ssh://{alias}"), &c),
                format!("ssh://{user}@{host}:{port}")
            );
            let other = lookup(&text, &format!("{alias}x"), None);
            prop_assert_eq!(other.user.as_deref(), Some("other"));
            prop_assert_eq!(other.host_name, None);
        }
    }
}
