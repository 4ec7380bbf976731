//! TestID 1.1.5 `User account dependency`: the application must not need the built-in
//! administrator account, so the tool's session must not run as it either.

use serde::Deserialize;

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::windows::outputs;
use crate::{Check, Unevaluable};

/// The connected account is not the built-in Administrator (RID 500) and not named
/// administrator, admin or root.
#[derive(Debug)]
pub struct UserAccountDependency;

static META: Meta = Meta {
    id: "user-account-dependency",
    title: "Not logged in as the built-in administrator",
    test_id: Some("1.1.5"),
    test_case_name: Some("User account dependency"),
    description: "Application execution shouldn't be dependent on the administrator account.",
    rationale: "TestID 1.1.5 of Microsoft's certification test tool and self-test API \
                (research/cert-cases.md section 3.1: actual is the login name, required `Logged \
                in user should not be an administrator`); the Marketplace policy also forbids \
                depending on the names administrator, root and admin (S17). The tool's exact test \
                was not published: vmcert fails the built-in account (RID 500, which Azure renames \
                to the admin name given at deployment) and those three names. Membership of the \
                Administrators group is allowed; the probes need it.",
    remediation: "Create a separate local administrator for the certification run (and for the \
                  application) and connect as that account; make the application work without \
                  the built-in Administrator.",
    os: Os::Windows,
    severity: Severity::High,
    since: "0.1.0",
    inferred: true,
    outcomes: &[Status::Pass, Status::Fail, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "Logged in user should not be an administrator";

const RESERVED: [&str; 3] = ["administrator", "admin", "root"];

/// `current-user`.
#[derive(Debug, Deserialize)]
struct CurrentUser {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Sid")]
    sid: String,
    #[serde(rename = "IsAdministrator")]
    is_administrator: bool,
    /// A member of Administrators whose WinRM token UAC filtered (absent from older probes).
    #[serde(rename = "AdministratorsDenyOnly", default)]
    administrators_deny_only: bool,
}

impl Check for UserAccountDependency {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["current-user"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let user: CurrentUser = outputs::document(ev, "current-user")?;
    let login = user
        .name
        .rsplit_once('\\')
        .map_or(user.name.as_str(), |(_, n)| n);
    if login.is_empty() || !user.sid.starts_with("S-1-") {
        return Err(Unevaluable::new(format!(
            "current-user printed no usable account (Name `{}`, Sid `{}`)",
            user.name, user.sid
        )));
    }
    let rid500 = user.sid.starts_with("S-1-5-21-") && user.sid.ends_with("-500");
    let reserved = RESERVED.iter().any(|r| login.eq_ignore_ascii_case(r));
    let role = if user.is_administrator {
        "a member of Administrators"
    } else if user.administrators_deny_only {
        "a member of Administrators with a UAC-filtered token"
    } else {
        "not an administrator"
    };
    let (status, message) = if rid500 {
        (
            Status::Fail,
            format!(
                "{} ({}) is the built-in Administrator account (RID 500), whatever its name.",
                user.name, user.sid
            ),
        )
    } else if reserved {
        (
            Status::Fail,
            format!(
                "{} uses the reserved name `{login}`; nothing may depend on the names administrator, admin or root.",
                user.name
            ),
        )
    } else {
        (
            Status::Pass,
            format!(
                "{} ({}) is not the built-in Administrator ({role}).",
                user.name, user.sid
            ),
        )
    };
    Ok(Verdict::new(status, login, REQUIRED, message))
}
