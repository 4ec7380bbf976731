//! Passwords and passphrases held in memory. They are the one kind of value that must never reach
//! a log, an error message, a report or a remote command line, so they live in a type that has no
//! `Display`, prints as `<redacted>` under `Debug`, and wipes its buffer when dropped.

use std::fmt;

use zeroize::Zeroizing;

/// A secret string: a login or sudo password, or a key passphrase.
#[derive(Clone)]
pub(crate) struct Secret(Zeroizing<String>);

impl Secret {
    /// Takes ownership of `value`; the buffer is zeroed when the secret is dropped.
    pub(crate) fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret's text, for handing to libssh2 or writing to a channel's stdin. Never format it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2-Very-Secret".to_owned());
        let shown = format!("{s:?} {:?}", Some(s.clone()));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(s.expose(), "hunter2-Very-Secret");
    }
}
