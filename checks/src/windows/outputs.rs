//! Reading the Windows probes' JSON: the shapes Windows PowerShell 5.1's `ConvertTo-Json` really
//! prints, turned into typed values, with every surprise turned into an [`Unevaluable`].
//!
//! Three quirks of Windows PowerShell 5.1 are handled once, here, instead of in every check:
//! a pipeline of one object serializes as a bare object and a pipeline of none as nothing
//! (`rows`, [`List`]); an array that PowerShell wrapped in a `PSObject` serializes as
//! `{"value":[...],"Count":n}` ([`List`]); and a `DateTime` serializes as `"\/Date(ms)\/"`,
//! or as `{"value":"\/Date(ms)\/","DisplayHint":2,"DateTime":"..."}` when it carries
//! PowerShell's extended properties ([`JsonDate`]).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::evidence::{Evidence, Unevaluable};

/// The probe's output as one JSON document of type `T` (probes that print one object).
///
/// # Errors
/// When the probe failed (see [`Evidence::stdout`]), printed nothing, or printed something that
/// is not that JSON shape.
pub(crate) fn document<T: DeserializeOwned>(ev: &Evidence, id: &str) -> Result<T, Unevaluable> {
    let out = ev.stdout(id)?;
    let text = clean(&out);
    if text.is_empty() {
        return Err(Unevaluable::new(format!("probe `{id}` printed nothing")));
    }
    serde_json::from_str(text).map_err(|e| not_json(id, text, &e))
}

/// The rows of a probe that pipes objects into `ConvertTo-Json`: nothing printed is no row, a
/// bare object is one row, an array is several.
///
/// # Errors
/// As [`document`], except that empty output is valid.
pub(crate) fn rows<T: DeserializeOwned>(ev: &Evidence, id: &str) -> Result<Vec<T>, Unevaluable> {
    let out = ev.stdout(id)?;
    let text = clean(&out);
    if text.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str::<List<T>>(text)
        .map(|l| l.0)
        .map_err(|e| not_json(id, text, &e))
}

/// Output as it arrives over WinRM: maybe a UTF-8 byte-order mark, always a trailing CRLF.
fn clean(s: &str) -> &str {
    s.trim_start_matches('\u{feff}').trim()
}

fn not_json(id: &str, text: &str, e: &serde_json::Error) -> Unevaluable {
    let mut snippet: String = text.chars().take(80).collect();
    if snippet.len() < text.len() {
        snippet.push_str("...");
    }
    Unevaluable::new(format!(
        "probe `{id}` printed something that is not the expected JSON ({e}): {snippet}"
    ))
}

/// A JSON list as Windows PowerShell 5.1 writes one: `null` (no element), a bare value (one
/// element), an array, or an array wrapped as `{"value":[...],"Count":n}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = match Value::deserialize(d)? {
            Value::Null => Vec::new(),
            Value::Array(a) => a,
            Value::Object(mut m)
                if m.len() == 2
                    && m.contains_key("Count")
                    && m.get("value").is_some_and(Value::is_array) =>
            {
                match m.remove("value") {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                }
            }
            one => vec![one],
        };
        items
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(D::Error::custom))
            .collect::<Result<Vec<T>, D::Error>>()
            .map(Self)
    }
}

/// A `DateTime` from Windows PowerShell 5.1's `ConvertTo-Json`, as UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonDate(pub DateTime<Utc>);

impl<'de> Deserialize<'de> for JsonDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let text = match &v {
            Value::String(s) => s.as_str(),
            Value::Object(m) => m.get("value").and_then(Value::as_str).unwrap_or(""),
            _ => "",
        };
        parse_date(text)
            .map(Self)
            .ok_or_else(|| D::Error::custom(format!("not a PowerShell date: {v}")))
    }
}

/// `/Date(1573776000000)/` (what `"\/Date(...)\/"` decodes to; milliseconds since the epoch,
/// optionally followed by an offset that does not change the instant), or ISO 8601 text.
fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    if let Some(inner) = s.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
        let end = inner
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && c == '-')))
            .map_or(inner.len(), |(i, _)| i);
        let ms: i64 = inner[..end].parse().ok()?;
        return DateTime::from_timestamp_millis(ms);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// `os-info`: the operating system and the host name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct OsInfo {
    /// Win32_OperatingSystem.Caption, e.g. `Microsoft Windows Server 2019 Datacenter`.
    #[serde(rename = "Caption")]
    pub caption: String,
    /// Win32_OperatingSystem.Version, e.g. `10.0.17763`.
    #[serde(rename = "Version")]
    pub version: String,
    /// Win32_OperatingSystem.BuildNumber, e.g. `17763`.
    #[serde(rename = "BuildNumber")]
    pub build_number: String,
    /// Win32_OperatingSystem.OSArchitecture, e.g. `64-bit` (localized on localized Windows).
    #[serde(rename = "OSArchitecture")]
    pub os_architecture: String,
    /// Win32_OperatingSystem.CSName: the NetBIOS computer name.
    #[serde(rename = "CSName")]
    pub cs_name: String,
    /// The DNS host name, as `hostname` prints it.
    #[serde(rename = "Hostname")]
    pub hostname: String,
}

/// The `os-info` probe of a target, parsed (also what the report header's facts come from).
///
/// # Errors
/// When the probe failed or printed something else than the `os-info` object.
pub fn os_info(ev: &Evidence) -> Result<OsInfo, Unevaluable> {
    document(ev, "os-info")
}

/// `current-user`: the account the WinRM session runs as, and what its token can do.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Account {
    /// `HOST\name` or `DOMAIN\name`.
    #[serde(rename = "Name")]
    pub name: String,
    /// The token holds the Administrators role: an elevated administrator.
    #[serde(rename = "IsAdministrator")]
    pub is_administrator: bool,
    /// Administrators is in the token only as a deny-only SID: a member of Administrators
    /// whose network logon got a UAC-filtered token (absent from older probes).
    #[serde(rename = "AdministratorsDenyOnly", default)]
    pub administrators_deny_only: bool,
    /// The built-in Administrator (RID 500), which UAC's remote restrictions never filter.
    #[serde(rename = "BuiltinAdministrator", default)]
    pub builtin_administrator: bool,
}

impl Account {
    /// What the token can do, in one line: the report's `AdminToken` fact and `connect`'s
    /// verdict. A filtered token says how to fix it.
    #[must_use]
    pub fn token(&self) -> String {
        if self.is_administrator {
            "elevated administrator".to_string()
        } else if self.administrators_deny_only {
            format!(
                "UAC-filtered: {} is a member of Administrators, but its WinRM logon got a filtered \
                 (not elevated) token, so the checks that need an administrator are Error. Fix: \
                 set HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System \
                 LocalAccountTokenFilterPolicy (DWORD) to 1 on the test VM, or connect as the \
                 built-in Administrator (the account Azure creates at deployment; \
                 user-account-dependency then fails, as it does for that account)",
                self.name
            )
        } else {
            format!(
                "not an administrator: {} is not a member of Administrators, so the checks that \
                 need one are Error",
                self.name
            )
        }
    }
}

/// The `current-user` probe of a target, parsed.
///
/// # Errors
/// When the probe failed or printed something else than the `current-user` object.
pub fn account(ev: &Evidence) -> Result<Account, Unevaluable> {
    document(ev, "current-user")
}

/// A Win32_Service row (`azure-agent-services`, `sql-services`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Service {
    /// Service name.
    #[serde(rename = "Name")]
    pub(crate) name: String,
    /// `Running`, `Stopped`, ...
    #[serde(rename = "State")]
    pub(crate) state: String,
    /// `Auto`, `Manual`, `Disabled`.
    #[serde(rename = "StartMode", default)]
    pub(crate) start_mode: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::ProbeOutput;

    fn ev(stdout: &str) -> Evidence {
        let mut ev = Evidence::default();
        ev.insert("x", ProbeOutput::exited(0, stdout));
        ev
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Row {
        #[serde(rename = "Name")]
        name: String,
    }

    #[test]
    fn rows_accept_nothing_one_object_an_array_and_the_wrapped_array() {
        let names = |s: &str| -> Vec<String> {
            rows::<Row>(&ev(s), "x")
                .unwrap()
                .into_iter()
                .map(|r| r.name)
                .collect()
        };
        assert!(names("\r\n").is_empty());
        assert_eq!(names("{\"Name\":\"RdAgent\"}\r\n"), ["RdAgent"]);
        assert_eq!(
            names("\u{feff}[{\"Name\":\"a\"},{\"Name\":\"b\"}]\r\n"),
            ["a", "b"]
        );
        assert_eq!(
            names("{\"value\":[{\"Name\":\"a\"},{\"Name\":\"b\"}],\"Count\":2}"),
            ["a", "b"]
        );
        // An object that merely has a Count property is one row, not a wrapped array.
        assert_eq!(names("{\"Name\":\"c\",\"Count\":2}"), ["c"]);
    }

    #[test]
    fn unparsable_output_is_unevaluable_and_quoted() {
        let e = rows::<Row>(&ev("Name  State\r\n----  -----\r\n"), "x").unwrap_err();
        assert!(e.0.starts_with("probe `x` printed something that is not the expected JSON"));
        assert!(e.0.ends_with(": Name  State\r\n----  -----"), "{}", e.0);
        let e = document::<Row>(&ev(""), "x").unwrap_err();
        assert_eq!(e.0, "probe `x` printed nothing");
        let e = document::<Row>(&ev("{\"Nom\":\"a\"}"), "x").unwrap_err();
        assert!(e.0.contains("missing field `Name`"), "{}", e.0);
    }

    #[test]
    fn dates_in_the_three_shapes() {
        #[derive(Deserialize)]
        struct D {
            d: JsonDate,
        }
        let day = |s: &str| {
            serde_json::from_str::<D>(s)
                .unwrap()
                .d
                .0
                .format("%Y-%m-%d %H:%M")
                .to_string()
        };
        assert_eq!(
            day(r#"{"d":"\/Date(1573776000000)\/"}"#),
            "2019-11-15 00:00"
        );
        assert_eq!(
            day(
                r#"{"d":{"value":"\/Date(1573776000000)\/","DisplayHint":2,"DateTime":"Friday, November 15, 2019 12:00:00 AM"}}"#
            ),
            "2019-11-15 00:00"
        );
        assert_eq!(
            day(r#"{"d":"2019-11-15T00:00:00+01:00"}"#),
            "2019-11-14 23:00"
        );
        assert!(serde_json::from_str::<D>(r#"{"d":"yesterday"}"#).is_err());
        assert!(serde_json::from_str::<D>(r#"{"d":12}"#).is_err());
    }
}
