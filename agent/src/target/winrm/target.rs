//! The `--target winrms://USER@HOST[:PORT]` (HTTPS, port 5986) and `winrm://USER@HOST[:PORT]`
//! (HTTP, port 5985) addresses. Parsed by hand: the accepted shape is tiny, and each way of
//! getting it wrong (a password in the URL, a path, a bad port, an IPv6 address without
//! brackets) deserves its own one-line explanation. The user may be `NAME`, `DOMAIN\NAME` or
//! `NAME@DOMAIN` (the last `@` separates the host); `%5C` and `%40` are accepted for `\` and `@`.

use std::fmt;
use std::net::Ipv6Addr;

/// HTTP or HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `winrm://`: HTTP, default port 5985.
    Http,
    /// `winrms://`: HTTPS, default port 5986.
    Https,
}

impl Scheme {
    /// The URL scheme, which is also the report's `target.transport`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Http => "winrm",
            Self::Https => "winrms",
        }
    }
}

/// A parsed WinRM target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WinrmTarget {
    /// HTTP or HTTPS.
    pub(crate) scheme: Scheme,
    /// Login name as given (`NAME`, `DOMAIN\NAME` or `NAME@DOMAIN`).
    pub(crate) user: String,
    /// Host name, IPv4 address, or IPv6 address in brackets.
    pub(crate) host: String,
    /// TCP port.
    pub(crate) port: u16,
}

const SHAPE: &str = "expected winrms://USER@HOST[:PORT] (HTTPS) or winrm://USER@HOST[:PORT] (HTTP)";

/// True when `url` names a WinRM target (so the caller dispatches to this transport).
pub(crate) fn is_winrm_url(url: &str) -> bool {
    url.starts_with("winrm://") || url.starts_with("winrms://")
}

impl WinrmTarget {
    /// Parses a target URL. The error text is meant to follow `--target URL: `.
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let (scheme, rest) = if let Some(r) = url.strip_prefix("winrms://") {
            (Scheme::Https, r)
        } else if let Some(r) = url.strip_prefix("winrm://") {
            (Scheme::Http, r)
        } else {
            return Err(SHAPE.to_string());
        };
        let rest = rest
            .strip_suffix("/wsman")
            .or_else(|| rest.strip_suffix('/'))
            .unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(format!("a path, query or fragment is not allowed; {SHAPE}"));
        }
        let Some((user, hostport)) = rest.rsplit_once('@') else {
            return Err(format!("the user is missing; {SHAPE}"));
        };
        if user.contains(':') {
            return Err(
                "a password in the URL is not accepted; use --password-env VAR or --password-stdin"
                    .to_string(),
            );
        }
        let user = user
            .replace("%5C", "\\")
            .replace("%5c", "\\")
            .replace("%40", "@");
        if user.is_empty() || user.starts_with('\\') || user.ends_with('\\') {
            return Err(format!("the user is empty; {SHAPE}"));
        }
        if user.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the user contains whitespace or control characters".to_string());
        }
        let default = match scheme {
            Scheme::Http => 5985,
            Scheme::Https => 5986,
        };
        let (host, port) = split_host_port(hostport, default)?;
        Ok(Self {
            scheme,
            user,
            host,
            port,
        })
    }

    /// `(domain, name)` for NTLM: `DOMAIN\NAME` splits; `NAME` and `NAME@DOMAIN` (a UPN, which
    /// NTLM takes as the user name) have an empty domain.
    pub(crate) fn domain_and_name(&self) -> (&str, &str) {
        self.user.split_once('\\').unwrap_or(("", &self.user))
    }
}

impl fmt::Display for WinrmTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}@{}:{}",
            self.scheme.as_str(),
            self.user,
            self.host,
            self.port
        )
    }
}

fn split_host_port(hostport: &str, default: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
        let Some((addr, after)) = inner.split_once(']') else {
            return Err("an IPv6 address needs its closing `]`".to_string());
        };
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err(format!("`{addr}` is not an IPv6 address"));
        }
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(format!("unexpected `{after}` after the IPv6 address")),
        };
        (format!("[{addr}]"), port)
    } else {
        if hostport.matches(':').count() > 1 {
            return Err("an IPv6 address must be written in brackets: [ADDR]:PORT".to_string());
        }
        match hostport.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("the host is empty; {SHAPE}"));
    }
    if !host.starts_with('[')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(format!("`{host}` is not a host name or IP address"));
    }
    let port = match port {
        None => default,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("`{p}` is not a port (1-65535)")),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(url: &str) -> WinrmTarget {
        WinrmTarget::parse(url).unwrap()
    }

    #[test]
    fn schemes_ports_and_users() {
        let a = t("winrms://azureuser@vm1.example.com");
        assert_eq!(
            (a.scheme, a.user.as_str(), a.host.as_str(), a.port),
            (Scheme::Https, "azureuser", "vm1.example.com", 5986)
        );
        let b = t("winrm://CORP\\admin@10.0.0.5:15985/wsman");
        assert_eq!((b.scheme, b.port), (Scheme::Http, 15985));
        assert_eq!(b.domain_and_name(), ("CORP", "admin"));
        let c = t("winrms://admin@corp.example.com@[::1]:443");
        assert_eq!(
            (c.user.as_str(), c.host.as_str(), c.port),
            ("admin@corp.example.com", "[::1]", 443)
        );
        assert_eq!(c.domain_and_name(), ("", "admin@corp.example.com"));
        assert_eq!(t("winrm://CORP%5Cu@h").user, "CORP\\u");
        assert_eq!(
            t("winrms://u@h:1").to_string(),
            "winrms://u@h:1",
            "Display never adds anything secret"
        );
        assert!(is_winrm_url("winrms://u@h") && !is_winrm_url("ssh://u@h"));
    }

    #[test]
    fn mistakes_get_one_line_reasons() {
        let e = |url: &str| WinrmTarget::parse(url).unwrap_err();
        assert!(e("ssh://u@h").starts_with("expected winrms://"));
        assert!(e("winrms://u:pw@h").contains("password in the URL"));
        assert!(!e("winrms://u:pw@h").contains("pw"));
        assert!(e("winrms://h").contains("user is missing"));
        assert!(e("winrms://u@h/x").contains("path"));
        assert!(e("winrms://u@h:0").contains("not a port"));
        assert!(e("winrms://u@h:99999").contains("not a port"));
        assert!(e("winrms://u@::1").contains("brackets"));
        assert!(e("winrms://u@[::1").contains("closing"));
        assert!(e("winrms://u@[zz]").contains("not an IPv6"));
        assert!(e("winrms://u@").contains("host is empty"));
        assert!(e("winrms://u@h st").contains("not a host name"));
        assert!(e("winrms://a b@h").contains("whitespace"));
    }
}

/// Property tests (proptest, on stable; `fuzz/run.sh` runs them longer) of the `winrm://` and
/// `winrms://` parser: any text is parsed or refused with a reason, never a panic, and every
/// target written back (`Display`, with or without `/wsman`) parses to itself.
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
            any::<Ipv6Addr>().prop_map(|a| format!("[{a}]")),
        ]
    }

    fn user() -> impl Strategy<Value = String> {
        let name = "[^\\s\\p{Cc}:@/?#%\\\\]{1,12}";
        prop_oneof![
            name.prop_map(|n| n.to_string()),
            (name, name).prop_map(|(d, n)| format!("{d}\\{n}")),
            (name, name).prop_map(|(n, d)| format!("{n}@{d}")),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        #[test]
        fn any_text_is_parsed_or_refused(
            url in prop_oneof![".{0,80}", "winrms?://[a-z:@\\[\\]/?#%0-9.\\\\ -]{0,40}"],
        ) {
            match WinrmTarget::parse(&url) {
                Ok(t) => {
                    prop_assert!(!t.user.is_empty() && !t.host.is_empty() && t.port > 0);
                    prop_assert_eq!(WinrmTarget::parse(&t.to_string()), Ok(t));
                }
                Err(e) => prop_assert!(!e.trim().is_empty()),
            }
        }

        #[test]
        fn targets_round_trip(
        https in any::<bool>(),
            user in user(),
            host in host(),
            port in 1..=65535u16,
            suffix in prop_oneof![Just(""), Just("/"), Just("/wsman")],
        ) {
            let scheme = if https { Scheme::Https } else { Scheme::Http };
            let t = WinrmTarget { scheme, user, host, port };
            let text = format!("{t}{suffix}");
            prop_assert_eq!(WinrmTarget::parse(&text), Ok(t.clone()), "{}", text);
            let (domain, name) = t.domain_and_name();
            prop_assert!(!name.is_empty());
            prop_assert!(!domain.contains('\\') || name.contains('\\'));
        }
    }
}
