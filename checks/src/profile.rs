//! Threshold profiles: the values that changed over the years, as one data table.
//!
//! `current` holds today's values (LISA, Partner Center); `toolkit` those of the last desktop tool
//! and self-test API (2020). Checks read [`Thresholds`] from the evidence; they never branch on the
//! profile name, so adding a profile is adding a row.

use serde::{Deserialize, Serialize};

use crate::verdict::Status;

/// A named set of thresholds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Today's values (default).
    #[default]
    Current,
    /// The values of the last desktop tool / self-test API (2020).
    Toolkit,
}

impl Profile {
    /// Every profile, in table order.
    pub const ALL: [Self; 2] = [Self::Current, Self::Toolkit];

    /// The name used on the command line.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Toolkit => "toolkit",
        }
    }

    /// This profile's thresholds.
    #[must_use]
    pub fn thresholds(self) -> &'static Thresholds {
        match self {
            Self::Current => &PROFILES[0],
            Self::Toolkit => &PROFILES[1],
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "current" => Ok(Self::Current),
            "toolkit" => Ok(Self::Toolkit),
            other => Err(format!(
                "unknown profile `{other}` (expected current or toolkit)"
            )),
        }
    }
}

/// The knobs of checks.md's profile table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Thresholds {
    /// Minimum Azure Linux Agent version for a Pass.
    pub agent_min: &'static str,
    /// With auto-update on, an agent older than `agent_min` passes (LISA: it updates itself).
    pub agent_auto_update_waives_min: bool,
    /// Largest allowed shell history file, in bytes (0: must be empty).
    pub history_max_bytes: u64,
    /// Lowest OpenSSL version that passes.
    pub openssl_min: &'static str,
    /// Older OpenSSL release series that also pass (`1.1.1` matches `1.1.1w`).
    pub openssl_series_allowed: &'static [&'static str],
    /// Python below this version fails (`None`: never fails on version).
    pub python_fail_below: Option<&'static str>,
    /// Python below this version (and not failing) gives Warning.
    pub python_warn_below: &'static str,
    /// Inclusive range of ClientAliveInterval values that are not a Fail.
    pub client_alive_range: (u32, u32),
    /// Status of an aarch64/arm64 image.
    pub arm64_status: Status,
    /// Windows OS disk sizes (GiB, inclusive) outside which the check fails.
    pub windows_os_disk_gib: (u64, u64),
    /// Windows OS disk sizes (GiB, inclusive) outside which the check warns (inside the fail range).
    pub windows_os_disk_warn_gib: Option<(u64, u64)>,
    /// Linux OS disk sizes (GiB, inclusive) outside which `vhd inspect` fails.
    pub linux_os_disk_gib: (u64, u64),
    /// Linux OS disk sizes (GiB, inclusive) outside which `vhd inspect` warns (inside the fail range).
    pub linux_os_disk_warn_gib: Option<(u64, u64)>,
}

/// The profile table, in [`Profile::ALL`] order.
pub static PROFILES: [Thresholds; 2] = [
    // current
    Thresholds {
        agent_min: "2.2.53.1",
        agent_auto_update_waives_min: true,
        history_max_bytes: 0,
        openssl_min: "3.0.0",
        openssl_series_allowed: &["1.1.1", "1.0.2"],
        // LISA runs verify_python_version at priority 5 (not gating): below 3.9 only warns.
        python_fail_below: None,
        python_warn_below: "3.10",
        client_alive_range: (1, 235),
        arm64_status: Status::Pass,
        windows_os_disk_gib: (30, 1023),
        windows_os_disk_warn_gib: Some((30, 250)),
        // FAQ 2021 "recommended VHD size" 1-1023 GB, issues page 2020 30-1023 GB: below 30 warns.
        linux_os_disk_gib: (1, 1023),
        linux_os_disk_warn_gib: Some((30, 1023)),
    },
    // toolkit
    Thresholds {
        agent_min: "2.2.41",
        agent_auto_update_waives_min: false,
        history_max_bytes: 1024,
        openssl_min: "0.9.8",
        openssl_series_allowed: &[],
        python_fail_below: None,
        python_warn_below: "2.6",
        client_alive_range: (30, 235),
        arm64_status: Status::Warning,
        windows_os_disk_gib: (127, 128),
        windows_os_disk_warn_gib: None,
        // 2015 "not < 30 GB, > 50 GB case by case", 2018 "30-50 GB"; 1023 GB platform maximum.
        linux_os_disk_gib: (30, 1023),
        linux_os_disk_warn_gib: Some((30, 50)),
    },
];

impl Thresholds {
    /// Every knob as `(name, value)` text, for `vmcert checks show` and the docs.
    #[must_use]
    pub fn knobs(&self) -> Vec<(&'static str, String)> {
        let range = |(a, b): (u64, u64)| format!("{a}..={b}");
        vec![
            ("agent_min", self.agent_min.to_string()),
            (
                "agent_auto_update_waives_min",
                self.agent_auto_update_waives_min.to_string(),
            ),
            ("history_max_bytes", self.history_max_bytes.to_string()),
            ("openssl_min", self.openssl_min.to_string()),
            (
                "openssl_series_allowed",
                self.openssl_series_allowed.join(", "),
            ),
            (
                "python_fail_below",
                self.python_fail_below.unwrap_or("-").to_string(),
            ),
            ("python_warn_below", self.python_warn_below.to_string()),
            (
                "client_alive_range",
                format!(
                    "{}..={}",
                    self.client_alive_range.0, self.client_alive_range.1
                ),
            ),
            ("arm64_status", self.arm64_status.to_string()),
            ("windows_os_disk_gib", range(self.windows_os_disk_gib)),
            (
                "windows_os_disk_warn_gib",
                self.windows_os_disk_warn_gib
                    .map_or_else(|| "-".to_string(), range),
            ),
            ("linux_os_disk_gib", range(self.linux_os_disk_gib)),
            (
                "linux_os_disk_warn_gib",
                self.linux_os_disk_warn_gib
                    .map_or_else(|| "-".to_string(), range),
            ),
        ]
    }

    /// The value of one knob by name.
    #[must_use]
    pub fn knob(&self, name: &str) -> Option<String> {
        self.knobs()
            .into_iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_order_matches_profiles() {
        assert_eq!(Profile::Current.thresholds().history_max_bytes, 0);
        assert_eq!(Profile::Toolkit.thresholds().history_max_bytes, 1024);
    }

    #[test]
    fn knob_lookup() {
        assert_eq!(
            Profile::Toolkit.thresholds().knob("agent_min").as_deref(),
            Some("2.2.41")
        );
        assert_eq!(Profile::Current.thresholds().knob("nope"), None);
    }
}
