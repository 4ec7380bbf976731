//! The rules a VHD's SAS URL must meet before it is handed to Partner Center, as pure functions of
//! the parsed URL and the current time.
//!
//! Sources (research/cert-cases.md §6): Read + List only (`sp=rl`), no Write/Delete; `st` and `se`
//! present as full date-times (`2017-11-06T00:00:00Z`; shortened forms are refused); start 15
//! minutes before now (2015 guide); expiry at least 3 weeks away (2018+ guidance), with anything
//! between 7 business days (2015) and 3 weeks a Warning; the URL contains `?` and the blob name
//! with `.vhd`, without white space or special characters such as `%` or `"`; HTTPS; a signature.

use crate::Status;
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Utc, Weekday};

use super::url::SasUrl;
use crate::vhd::rules::{RuleMeta, RuleResult};

/// Every rule, in output order: the registry that `vmcert sas rules` lists and [`evaluate`]
/// follows.
pub static RULES: [RuleMeta; 8] = [
    RuleMeta {
        id: "sas-has-query",
        title: "The URL carries a SAS token",
        description: "The URL has a query (the SAS token after `?`).",
        remediation: "Generate a SAS for the VHD (or its container) and paste the whole URL, token included.",
    },
    RuleMeta {
        id: "sas-permissions",
        title: "The SAS grants read and list",
        description: "The permissions `sp` are exactly read and list, as Partner Center asks.",
        remediation: "Generate the SAS with Read and List permissions only.",
    },
    RuleMeta {
        id: "sas-no-write-delete",
        title: "The SAS grants no write or delete",
        description: "The permissions grant nothing that adds, writes, deletes, moves or changes ownership or permissions.",
        remediation: "Generate a new SAS with Read and List only, and revoke the write-capable one.",
    },
    RuleMeta {
        id: "sas-start",
        title: "The SAS is valid from before now",
        description: "The start `st` is a full date-time at least 15 minutes before now, so clock skew cannot make it not yet valid.",
        remediation: "Set the start a day before now.",
    },
    RuleMeta {
        id: "sas-expiry",
        title: "The SAS stays valid long enough",
        description: "The expiry `se` is a full date-time at least 3 weeks after now (below 7 business days: Fail; below 3 weeks: Warning).",
        remediation: "Set the expiry at least 3 weeks ahead (Microsoft recommends a month or more).",
    },
    RuleMeta {
        id: "sas-blob-name",
        title: "The blob name is a plain .vhd name",
        description: "The blob name ends in `.vhd` and has no spaces or special characters.",
        remediation: "Rename the blob: letters, digits, `-`, `_`, `.`, ending in `.vhd`.",
    },
    RuleMeta {
        id: "sas-scheme",
        title: "The URL is HTTPS",
        description: "The URL uses HTTPS, so the token never crosses the network in the clear.",
        remediation: "Use the `https://` URL Azure gives.",
    },
    RuleMeta {
        id: "sas-signature",
        title: "The SAS is signed",
        description: "The token has a signature `sig` (its value is never printed).",
        remediation: "Copy the whole URL; the signature is the `sig` parameter.",
    },
];

/// How long before now the SAS must already be valid.
const START_MARGIN_MINUTES: i64 = 15;
/// Expiry below this many business days fails.
const EXPIRY_FAIL_BUSINESS_DAYS: u32 = 7;
/// Expiry below this many days warns.
const EXPIRY_WARN_DAYS: i64 = 21;

/// Permission letters that write or delete (`a`dd, `c`reate, `w`rite, `d`elete, delete version
/// `x`, permanent delete `y`, `m`ove, `o`wnership, `p`ermissions).
const WRITE_DELETE: &[char] = &['a', 'c', 'w', 'd', 'x', 'y', 'm', 'o', 'p'];

fn rule(id: &'static str, status: Status, message: impl Into<String>) -> RuleResult {
    RuleResult {
        id,
        status,
        message: message.into(),
    }
}

/// Applies every rule, in [`RULES`] order, as of `now`.
pub fn evaluate(u: &SasUrl, now: DateTime<Utc>) -> Vec<RuleResult> {
    let sp = u.param("sp");
    vec![
        has_query(u),
        permissions(sp.as_deref()),
        no_write_delete(sp.as_deref()),
        start(u.param("st").as_deref(), now),
        expiry(u.param("se").as_deref(), now),
        blob_name(u),
        scheme(u),
        signature(u),
    ]
}

fn has_query(u: &SasUrl) -> RuleResult {
    if u.has_query() {
        rule(
            "sas-has-query",
            Status::Pass,
            "the URL carries a query (the SAS token after '?')",
        )
    } else {
        rule(
            "sas-has-query",
            Status::Fail,
            "the URL has no '?' query: append the SAS token (`?sv=...&sig=...`) to the blob URL",
        )
    }
}

fn permissions(sp: Option<&str>) -> RuleResult {
    const ID: &str = "sas-permissions";
    let Some(sp) = sp else {
        return rule(
            ID,
            Status::Fail,
            "no `sp` (permissions) parameter; generate the SAS with Read and List (`sp=rl`)",
        );
    };
    let mut letters: Vec<char> = sp.chars().collect();
    letters.sort_unstable();
    letters.dedup();
    if letters == ['l', 'r'] {
        rule(ID, Status::Pass, format!("sp={sp}: Read and List"))
    } else {
        rule(
            ID,
            Status::Fail,
            format!("sp={sp}: Partner Center needs exactly Read and List (`sp=rl`)"),
        )
    }
}

fn no_write_delete(sp: Option<&str>) -> RuleResult {
    const ID: &str = "sas-no-write-delete";
    let Some(sp) = sp else {
        return rule(ID, Status::NotApplicable, "no `sp` (permissions) parameter");
    };
    let bad: String = sp.chars().filter(|c| WRITE_DELETE.contains(c)).collect();
    if bad.is_empty() {
        rule(
            ID,
            Status::Pass,
            format!("sp={sp} grants no write or delete"),
        )
    } else {
        rule(
            ID,
            Status::Fail,
            format!(
                "sp={sp} grants write/delete permissions `{bad}`: anyone holding the URL could change or delete the VHD"
            ),
        )
    }
}

/// Parses a full UTC date-time `YYYY-MM-DDThh:mm:ss[.fraction]Z`; `Err` says what is wrong.
pub fn full_datetime(v: &str) -> Result<DateTime<Utc>, String> {
    let b = v.as_bytes();
    let shape_ok = b.len() >= 20
        && b.iter().take(19).enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
        && b[b.len() - 1] == b'Z'
        && (b.len() == 20
            || (b[19] == b'.'
                && b.len() > 21
                && b[20..b.len() - 1].iter().all(u8::is_ascii_digit)));
    if !shape_ok {
        return Err(format!(
            "`{v}` is not a full UTC date-time like 2030-01-31T00:00:00Z (shortened forms are refused)"
        ));
    }
    NaiveDateTime::parse_from_str(&v[..19], "%Y-%m-%dT%H:%M:%S")
        .map(|t| t.and_utc())
        .map_err(|e| format!("`{v}` is not a valid date-time: {e}"))
}

/// `now` plus `n` business days (Monday to Friday; public holidays are not known).
pub fn add_business_days(now: DateTime<Utc>, n: u32) -> DateTime<Utc> {
    let mut t = now;
    let mut left = n;
    while left > 0 {
        t += Duration::days(1);
        if !matches!(t.weekday(), Weekday::Sat | Weekday::Sun) {
            left -= 1;
        }
    }
    t
}

fn human(d: Duration) -> String {
    let mins = d.num_minutes().abs();
    if mins < 120 {
        format!("{mins} minutes")
    } else if mins < 48 * 60 {
        format!("{} hours", mins / 60)
    } else {
        format!("{} days", mins / (24 * 60))
    }
}

fn start(st: Option<&str>, now: DateTime<Utc>) -> RuleResult {
    const ID: &str = "sas-start";
    let Some(st) = st else {
        return rule(
            ID,
            Status::Fail,
            "no `st` (start) parameter; set the start 15 minutes (better: a day) before now",
        );
    };
    let t = match full_datetime(st) {
        Ok(t) => t,
        Err(e) => return rule(ID, Status::Fail, format!("st: {e}")),
    };
    if t > now {
        rule(
            ID,
            Status::Fail,
            format!(
                "st={st} is {} in the future: the SAS is not valid yet",
                human(t - now)
            ),
        )
    } else if now - t < Duration::minutes(START_MARGIN_MINUTES) {
        rule(
            ID,
            Status::Fail,
            format!(
                "st={st} is only {} before now; set it at least 15 minutes (better: a day) before now to absorb clock skew",
                human(now - t)
            ),
        )
    } else {
        rule(
            ID,
            Status::Pass,
            format!("st={st} ({} ago)", human(now - t)),
        )
    }
}

fn expiry(se: Option<&str>, now: DateTime<Utc>) -> RuleResult {
    const ID: &str = "sas-expiry";
    let Some(se) = se else {
        return rule(
            ID,
            Status::Fail,
            "no `se` (expiry) parameter; set the expiry at least 3 weeks from now",
        );
    };
    let t = match full_datetime(se) {
        Ok(t) => t,
        Err(e) => return rule(ID, Status::Fail, format!("se: {e}")),
    };
    if t <= now {
        return rule(
            ID,
            Status::Fail,
            format!("se={se}: the SAS expired {} ago", human(now - t)),
        );
    }
    let left = human(t - now);
    let business = add_business_days(now, EXPIRY_FAIL_BUSINESS_DAYS);
    if t < business {
        rule(
            ID,
            Status::Fail,
            format!(
                "se={se} is {left} away, before {} (7 business days from now); set it at least 3 weeks from now",
                business.format("%Y-%m-%dT%H:%MZ")
            ),
        )
    } else if t - now < Duration::days(EXPIRY_WARN_DAYS) {
        rule(
            ID,
            Status::Warning,
            format!(
                "se={se} is {left} away: more than 7 business days but less than the 3 weeks asked since 2018"
            ),
        )
    } else {
        rule(
            ID,
            Status::Pass,
            format!("se={se} is {left} away (>= 3 weeks)"),
        )
    }
}

fn blob_name(u: &SasUrl) -> RuleResult {
    const ID: &str = "sas-blob-name";
    let (Some(name), Some(raw)) = (&u.blob, &u.blob_raw) else {
        return rule(
            ID,
            Status::Fail,
            "the URL names no blob: put the VHD name before the '?' (`.../CONTAINER/NAME.vhd?SAS`)",
        );
    };
    let special: String = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')))
        .collect();
    if !special.is_empty() || raw.contains('%') {
        let mut shown: Vec<String> = special.chars().map(|c| format!("{c:?}")).collect();
        shown.dedup();
        if raw.contains('%') && !special.contains('%') {
            shown.push("percent-encoding".into());
        }
        return rule(
            ID,
            Status::Fail,
            format!(
                "blob name `{name}` contains white space or special characters ({}); rename it to letters, digits, '-', '_' and '.'",
                shown.join(", ")
            ),
        );
    }
    if !name.to_ascii_lowercase().ends_with(".vhd") {
        return rule(
            ID,
            Status::Fail,
            format!("blob name `{name}` does not end in .vhd"),
        );
    }
    rule(ID, Status::Pass, format!("blob name `{name}`"))
}

fn scheme(u: &SasUrl) -> RuleResult {
    if u.scheme() == "https" {
        rule("sas-scheme", Status::Pass, "https")
    } else {
        rule(
            "sas-scheme",
            Status::Fail,
            format!(
                "scheme `{}`: Partner Center downloads over https; use the https URL",
                u.scheme()
            ),
        )
    }
}

fn signature(u: &SasUrl) -> RuleResult {
    if u.param("sig").is_some_and(|s| !s.is_empty()) {
        rule(
            "sas-signature",
            Status::Pass,
            "a signature (`sig`) is present (not shown)",
        )
    } else {
        rule(
            "sas-signature",
            Status::Fail,
            "no `sig` (signature) parameter: the URL is not a SAS URL; copy the whole SAS URL",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A Tuesday.
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 17, 12, 0, 0)
            .single()
            .expect("valid")
    }

    fn iso(t: DateTime<Utc>) -> String {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    fn url(name: &str, query: &str) -> SasUrl {
        SasUrl::parse(&format!(
            "https://acct.blob.core.windows.net/vhds/{name}?{query}"
        ))
        .expect("parses")
    }

    fn good_query() -> String {
        format!(
            "sv=2022-11-02&sr=c&sp=rl&st={}&se={}&sig=abc%2Bdef%3D",
            iso(now() - Duration::days(1)),
            iso(now() + Duration::days(30))
        )
    }

    #[test]
    fn the_sas_rule_registry_is_sound() {
        crate::vhd::rules::tests::registry_is_sound(&RULES, "sas-");
    }

    fn status(u: &SasUrl, id: &str) -> Status {
        let r = evaluate(u, now());
        assert_eq!(
            r.iter().map(|r| r.id).collect::<Vec<_>>(),
            RULES.map(|m| m.id)
        );
        r.into_iter()
            .find(|r| r.id == id)
            .map(|r| r.status)
            .unwrap_or_else(|| panic!("{id}"))
    }

    #[test]
    fn a_good_sas_passes_everything() {
        let u = url("os-disk_1.vhd", &good_query());
        let r = evaluate(&u, now());
        assert!(r.iter().all(|r| r.status == Status::Pass), "{r:#?}");
        assert!(
            r.iter().all(|r| !r.message.contains("abc")),
            "the signature never shows"
        );
    }

    #[test]
    fn no_query() {
        let u = SasUrl::parse("https://acct.blob.core.windows.net/vhds/os.vhd").unwrap();
        for id in [
            "sas-has-query",
            "sas-permissions",
            "sas-start",
            "sas-expiry",
            "sas-signature",
        ] {
            assert_eq!(status(&u, id), Status::Fail, "{id}");
        }
        assert_eq!(status(&u, "sas-no-write-delete"), Status::NotApplicable);
        assert_eq!(status(&u, "sas-blob-name"), Status::Pass);
    }

    #[test]
    fn permissions_must_be_exactly_read_and_list() {
        let q = |sp: &str| {
            url(
                "os.vhd",
                &good_query().replace("sp=rl", &format!("sp={sp}")),
            )
        };
        assert_eq!(status(&q("rl"), "sas-permissions"), Status::Pass);
        assert_eq!(status(&q("lr"), "sas-permissions"), Status::Pass);
        assert_eq!(status(&q("r"), "sas-permissions"), Status::Fail);
        assert_eq!(status(&q("racwdl"), "sas-permissions"), Status::Fail);
        assert_eq!(status(&q("rl"), "sas-no-write-delete"), Status::Pass);
        assert_eq!(status(&q("rwl"), "sas-no-write-delete"), Status::Fail);
        assert_eq!(status(&q("rdl"), "sas-no-write-delete"), Status::Fail);
        assert_eq!(status(&q("cw"), "sas-no-write-delete"), Status::Fail);
        let r = evaluate(&q("racwdl"), now());
        assert!(r[2].message.contains("`acwd`"), "{}", r[2].message);
    }

    #[test]
    fn start_rules() {
        let with_st = |st: &str| {
            url(
                "os.vhd",
                &good_query().replace(&iso(now() - Duration::days(1)), st),
            )
        };
        assert_eq!(
            status(&with_st(&iso(now() - Duration::minutes(15))), "sas-start"),
            Status::Pass
        );
        assert_eq!(
            status(&with_st(&iso(now() - Duration::minutes(14))), "sas-start"),
            Status::Fail
        );
        assert_eq!(
            status(&with_st(&iso(now() + Duration::hours(1))), "sas-start"),
            Status::Fail
        );
        assert_eq!(status(&with_st("2026-11-16"), "sas-start"), Status::Fail);
        assert_eq!(
            status(&with_st("2026-11-16T00:00Z"), "sas-start"),
            Status::Fail
        );
        assert_eq!(
            status(&with_st("2026-11-16T00:00:00.1234567Z"), "sas-start"),
            Status::Pass
        );
        let no_st = url(
            "os.vhd",
            &good_query().replace(&format!("st={}&", iso(now() - Duration::days(1))), ""),
        );
        assert_eq!(status(&no_st, "sas-start"), Status::Fail);
    }

    #[test]
    fn expiry_rules() {
        let with_se = |se: String| {
            url(
                "os.vhd",
                &good_query().replace(&iso(now() + Duration::days(30)), &se),
            )
        };
        assert_eq!(
            status(&with_se(iso(now() + Duration::days(21))), "sas-expiry"),
            Status::Pass
        );
        assert_eq!(
            status(&with_se(iso(now() + Duration::days(20))), "sas-expiry"),
            Status::Warning
        );
        // Tuesday + 7 business days = Thursday of the following week (9 calendar days).
        assert_eq!(
            status(&with_se(iso(now() + Duration::days(9))), "sas-expiry"),
            Status::Warning
        );
        assert_eq!(
            status(&with_se(iso(now() + Duration::days(8))), "sas-expiry"),
            Status::Fail
        );
        assert_eq!(
            status(&with_se(iso(now() - Duration::hours(1))), "sas-expiry"),
            Status::Fail
        );
        assert_eq!(
            status(&with_se("2030-01-01".into()), "sas-expiry"),
            Status::Fail
        );
        assert_eq!(
            status(&with_se("2030-01-01T00:00:00+01:00".into()), "sas-expiry"),
            Status::Fail
        );
        let r = evaluate(&with_se(iso(now() - Duration::hours(3))), now());
        assert!(
            r[4].message.contains("expired 3 hours ago"),
            "{}",
            r[4].message
        );
    }

    #[test]
    fn business_days_skip_weekends() {
        let friday = Utc
            .with_ymd_and_hms(2026, 11, 20, 9, 0, 0)
            .single()
            .expect("valid");
        assert_eq!(add_business_days(friday, 1).weekday(), Weekday::Mon);
        assert_eq!(add_business_days(friday, 7), friday + Duration::days(11));
        assert_eq!(add_business_days(now(), 7), now() + Duration::days(9));
    }

    #[test]
    fn blob_names() {
        let q = good_query();
        assert_eq!(status(&url("os.vhd", &q), "sas-blob-name"), Status::Pass);
        assert_eq!(
            status(&url("dir/OS.VHD", &q), "sas-blob-name"),
            Status::Pass
        );
        assert_eq!(status(&url("os.vhdx", &q), "sas-blob-name"), Status::Fail);
        assert_eq!(
            status(&url("os%20disk.vhd", &q), "sas-blob-name"),
            Status::Fail
        );
        assert_eq!(status(&url("os%25.vhd", &q), "sas-blob-name"), Status::Fail);
        assert_eq!(status(&url("os%22.vhd", &q), "sas-blob-name"), Status::Fail);
        let container =
            SasUrl::parse(&format!("https://acct.blob.core.windows.net/vhds?{q}")).unwrap();
        assert_eq!(status(&container, "sas-blob-name"), Status::Fail);
        let r = evaluate(&url("os%20disk.vhd", &q), now());
        assert!(r[5].message.contains("' '"), "{}", r[5].message);
    }

    #[test]
    fn scheme_and_signature() {
        let http = SasUrl::parse(&format!(
            "http://127.0.0.1:10000/devstoreaccount1/vhds/os.vhd?{}",
            good_query()
        ))
        .unwrap();
        assert_eq!(status(&http, "sas-scheme"), Status::Fail);
        let nosig = url("os.vhd", &good_query().replace("&sig=abc%2Bdef%3D", ""));
        assert_eq!(status(&nosig, "sas-signature"), Status::Fail);
        let empty = url("os.vhd", &good_query().replace("sig=abc%2Bdef%3D", "sig="));
        assert_eq!(status(&empty, "sas-signature"), Status::Fail);
    }
}
