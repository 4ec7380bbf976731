//! The `--target ssh://USER@HOST[:PORT]` address. Parsed by hand rather than with a URL library
//! because the accepted shape is tiny and every way of getting it wrong deserves its own one-line
//! explanation (a password in the URL, an IPv6 address without brackets, a path, a bad port).

use std::fmt;
use std::net::Ipv6Addr;

/// Default SSH port.
pub(crate) const DEFAULT_PORT: u16 = 22;

/// A parsed SSH target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SshTarget {
    /// Login user.
    pub(crate) user: String,
    /// Host name, IPv4 address or IPv6 address (without brackets).
    pub(crate) host: String,
    /// TCP port.
    pub(crate) port: u16,
}

impl SshTarget {
    /// Parses `ssh://USER@HOST[:PORT]`. The error text is meant to follow `--target URL: `.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let Some(rest) = url.strip_prefix("ssh://") else {
            return Err("expected ssh://USER@HOST[:PORT]".to_owned());
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(
                "a path, query or fragment is not allowed; expected ssh://USER@HOST[:PORT]"
                    .to_owned(),
            );
        }
        let Some((user, hostport)) = rest.split_once('@') else {
            return Err("the user is missing; expected ssh://USER@HOST[:PORT]".to_owned());
        };
        if user.contains(':') {
            return Err(
                "a password in the URL is not accepted; use --password-env VAR or --password-stdin"
                    .to_owned(),
            );
        }
        if user.is_empty() {
            return Err("the user is empty; expected ssh://USER@HOST[:PORT]".to_owned());
        }
        if hostport.contains('@') {
            return Err("more than one `@`; expected ssh://USER@HOST[:PORT]".to_owned());
        }
        if user.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the user contains whitespace or control characters".to_owned());
        }
        let (host, port) = split_host_port(hostport)?;
        Ok(Self {
            user: user.to_owned(),
            host,
            port,
        })
    }

    /// `host:port` for messages, with brackets around an IPv6 address.
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The name this host has in a known_hosts file, as OpenSSH writes it: the lower-cased host
    /// for port 22, `[host]:port` for any other port.
    pub(crate) fn known_hosts_name(&self) -> String {
        let host = self.host.to_ascii_lowercase();
        if self.port == DEFAULT_PORT {
            host
        } else {
            format!("[{host}]:{}", self.port)
        }
    }
}

impl fmt::Display for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ssh://{}@{}", self.user, self.authority())
    }
}

fn split_host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = if let Some(inner) = s.strip_prefix('[') {
        let Some((v6, after)) = inner.split_once(']') else {
            return Err("unclosed `[` in the host".to_owned());
        };
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err(format!("`{v6}` is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => match p.strip_prefix(':') {
                Some(p) => Some(p),
                None => return Err(format!("unexpected `{p}` after `]`")),
            },
        };
        (v6.to_owned(), port)
    } else {
        match s.matches(':').count() {
            0 => (s.to_owned(), None),
            1 => {
                let (h, p) = s.split_once(':').unwrap_or((s, ""));
                (h.to_owned(), Some(p))
            }
            _ => {
                return Err(format!(
                    "an IPv6 address needs brackets: ssh://USER@[{s}] or ssh://USER@[ADDR]:PORT"
                ));
            }
        }
    };
    if host.is_empty() {
        return Err("the host is empty; expected ssh://USER@HOST[:PORT]".to_owned());
    }
    if !host.contains(':')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(format!("`{host}` is not a valid host name"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.chars().all(|c| c.is_ascii_digit()) => n,
            _ => return Err(format!("`{p}` is not a port number (1-65535)")),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(url: &str) -> SshTarget {
        SshTarget::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn parses_user_host_and_default_port() {
        let t = ok("ssh://azureuser@10.0.0.5");
        assert_eq!(
            (t.user.as_str(), t.host.as_str(), t.port),
            ("azureuser", "10.0.0.5", 22)
        );
        assert_eq!(t.known_hosts_name(), "10.0.0.5");
        assert_eq!(t.to_string(), "ssh://azureuser@10.0.0.5:22");
    }

    #[test]
    fn parses_port_and_names() {
        let t = ok("ssh://probe@VM-1.Example.com:2222/");
        assert_eq!((t.host.as_str(), t.port), ("VM-1.Example.com", 2222));
        assert_eq!(t.known_hosts_name(), "[vm-1.example.com]:2222");
    }

    #[test]
    fn parses_bracketed_ipv6() {
        let t = ok("ssh://root@[::1]:2200");
        assert_eq!((t.host.as_str(), t.port), ("::1", 2200));
        assert_eq!(t.authority(), "[::1]:2200");
        assert_eq!(t.known_hosts_name(), "[::1]:2200");
        let t = ok("ssh://root@[fe80::1]");
        assert_eq!((t.host.as_str(), t.port), ("fe80::1", 22));
        assert_eq!(t.known_hosts_name(), "fe80::1");
    }

    #[test]
    fn rejects_bad_urls_with_a_reason() {
        for (url, want) in [
            ("azureuser@host", "expected ssh://"),
            ("winrm://u@h", "expected ssh://"),
            ("ssh://host", "user is missing"),
            ("ssh://@host", "user is empty"),
            ("ssh://u:secret@host", "password in the URL"),
            ("ssh://u@", "host is empty"),
            ("ssh://u@h:0", "not a port number"),
            ("ssh://u@h:70000", "not a port number"),
            ("ssh://u@h:+22", "not a port number"),
            ("ssh://u@h:", "not a port number"),
            ("ssh://u@::1", "needs brackets"),
            ("ssh://u@[::1", "unclosed"),
            ("ssh://u@[nothex]:22", "not an IPv6 address"),
            ("ssh://u@[::1]x", "unexpected `x`"),
            ("ssh://u@h/path", "path"),
            ("ssh://u@h b", "not a valid host name"),
            ("ssh://u@a@h", "more than one"),
        ] {
            let err = SshTarget::parse(url).expect_err(url);
            assert!(err.contains(want), "{url}: {err}");
            assert!(!err.contains("secret"), "{url}: {err}");
        }
    }
}

/// Property tests (proptest, on stable; `fuzz/run.sh` runs them longer) of the `ssh://` parser:
/// any text is parsed or refused with a reason, never a panic, and every target written back
/// (`Display`) parses to itself.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    fn cases() -> u32 {
        crate::proptest_cases::cases(128)
    }

    fn host() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Za-z0-9]([A-Za-z0-9_-]{0,10}[A-Za-z0-9])?(\\.[a-z0-9-]{1,8}){0,3}",
            any::<std::net::Ipv4Addr>().prop_map(|a| a.to_string()),
            any::<Ipv6Addr>().prop_map(|a| a.to_string()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        #[test]
        fn any_text_is_parsed_or_refused(
            url in prop_oneof![".{0,80}", "ssh://[a-z:@\\[\\]/?#%0-9. -]{0,40}"],
        ) {
            match SshTarget::parse(&url) {
                Ok(t) => {
                    prop_assert!(!t.user.is_empty() && !t.host.is_empty() && t.port > 0);
                    prop_assert_eq!(SshTarget::parse(&t.to_string()), Ok(t));
                }
                Err(e) => prop_assert!(!e.trim().is_empty()),
            }
        }

        #[test]
        fn targets_round_trip(
            user in "[^\\s\\p{Cc}:@/?#]{1,16}",
            host in host(),
            port in 1..=65535u16,
            slash in any::<bool>(),
        ) {
            let t = SshTarget { user, host, port };
            let text = format!("{t}{}", if slash { "/" } else { "" });
            prop_assert_eq!(SshTarget::parse(&text), Ok(t.clone()), "{}", text);
            let name = t.known_hosts_name();
            if port == DEFAULT_PORT {
                prop_assert_eq!(name, t.host.to_ascii_lowercase());
            } else {
                prop_assert_eq!(name, format!("[{}]:{port}", t.host.to_ascii_lowercase()));
            }
        }
    }
}
