//! Account evidence shared by the credential checks: who vmcert logged in as (the `login-user`
//! probe) and the class of every /etc/shadow password field (the `shadow-status` probe, which
//! reduces each field to `empty`, `locked` or `hash` on the target so no hash ever leaves it).

use crate::Unevaluable;
use crate::evidence::Evidence;

/// What an account's /etc/shadow password field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Password {
    /// Empty field: no password needed where PAM allows it.
    Empty,
    /// Starts with `!` or `*` (or is `x`): no password login.
    Locked,
    /// A password hash.
    Hash,
}

/// The connecting account (the probe prints `SUDO_USER` under sudo).
pub(crate) fn login_user(ev: &Evidence) -> Result<String, Unevaluable> {
    let out = ev.stdout("login-user")?;
    let user = out.trim();
    if user.is_empty() || user.contains(char::is_whitespace) {
        return Err(Unevaluable::new(format!("unparsable login user: {out:?}")));
    }
    Ok(user.to_string())
}

/// `name:class` lines of the `shadow-status` probe, in file order.
pub(crate) fn shadow_status(ev: &Evidence) -> Result<Vec<(String, Password)>, Unevaluable> {
    let text = ev.stdout("shadow-status")?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let class = match line.rsplit_once(':') {
            Some((name, "empty")) if !name.is_empty() => (name, Password::Empty),
            Some((name, "locked")) if !name.is_empty() => (name, Password::Locked),
            Some((name, "hash")) if !name.is_empty() => (name, Password::Hash),
            // Never quote the line: a broken probe could have printed a hash.
            _ => {
                return Err(Unevaluable::new(
                    "unparsable shadow-status line (expected name:class)",
                ));
            }
        };
        out.push((class.0.to_string(), class.1));
    }
    if out.is_empty() {
        return Err(Unevaluable::new("shadow-status listed no account"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::ProbeOutput;

    #[test]
    fn classes_are_read_and_bad_lines_are_not_echoed() {
        let mut ev = Evidence::default();
        ev.insert(
            "shadow-status",
            ProbeOutput::exited(0, "root:locked\nazureuser:hash\nbuild:empty\n"),
        );
        assert_eq!(
            shadow_status(&ev).unwrap(),
            [
                ("root".to_string(), Password::Locked),
                ("azureuser".to_string(), Password::Hash),
                ("build".to_string(), Password::Empty)
            ]
        );
        let secret = "root:$6$salt$hashhashhash";
        ev.insert("shadow-status", ProbeOutput::exited(0, secret));
        let err = shadow_status(&ev).unwrap_err().0;
        assert!(!err.contains("$6$"), "{err}");
    }
}
