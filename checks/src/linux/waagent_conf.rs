//! `/etc/waagent.conf` read the way the Azure Linux Agent reads it, so a check never disagrees
//! with the agent about a setting.
//!
//! The agent's `ConfigurationProvider.load` (azurelinuxagent/common/conf.py) takes every line that
//! does not start with `#` and contains `=`, splits at the first `=`, strips the key, cuts the
//! value at the first `#` and strips quotes and blanks; a later line wins; the value `None` means
//! unset. `get_switch` then treats `y`/`n` (any case) as on/off and anything else as the built-in
//! default. Several checks (agent version, auto-update, host-key regeneration, resource disk)
//! read the same file through this module.

/// One active `key=value` line of waagent.conf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Setting<'a> {
    /// The value as the agent sees it (comment cut, quotes and blanks stripped).
    pub(crate) value: &'a str,
    /// The whole line, trimmed, for reports.
    pub(crate) line: &'a str,
}

/// A switch value as the agent's `get_switch` interprets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switch {
    /// `y` (any case).
    On,
    /// `n` (any case).
    Off,
    /// Absent, or a value other than y/n: the agent uses its built-in default.
    Default,
}

/// The text of /etc/waagent.conf.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WaagentConf<'a> {
    text: &'a str,
}

impl<'a> WaagentConf<'a> {
    /// Wraps the file's text.
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text }
    }

    /// The line that sets `key`, as the agent resolves it (the last active one).
    pub(crate) fn get(&self, key: &str) -> Option<Setting<'a>> {
        let mut found = None;
        for line in self.text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            if k.trim() != key {
                continue;
            }
            let value = v.split('#').next().unwrap_or("");
            let value = value.trim_matches(|c| c == '"' || c == ' ').trim();
            // The agent stores the value `None` as "not set".
            found = (value != "None").then(|| Setting {
                value,
                line: line.trim(),
            });
        }
        found
    }

    /// The last commented-out line that would set `key` (`# AutoUpdate.Enabled=y`), for reports.
    pub(crate) fn commented(&self, key: &str) -> Option<&'a str> {
        self.text
            .lines()
            .rev()
            .find(|l| {
                let t = l.trim_start();
                t.starts_with('#')
                    && t.trim_start_matches('#')
                        .split_once('=')
                        .is_some_and(|(k, _)| k.trim() == key)
            })
            .map(str::trim)
    }

    /// `key` as a switch.
    pub(crate) fn switch(&self, key: &str) -> Switch {
        match self.get(key).map(|s| s.value.to_ascii_lowercase()) {
            Some(v) if v == "y" => Switch::On,
            Some(v) if v == "n" => Switch::Off,
            _ => Switch::Default,
        }
    }
}

/// Key of the deprecated setting that lets the agent update itself (default `y`).
pub(crate) const AUTO_UPDATE: &str = "AutoUpdate.Enabled";

/// Key of the setting that, when present as y/n, overrides [`AUTO_UPDATE`] (agents 2.10+).
pub(crate) const UPDATE_TO_LATEST: &str = "AutoUpdate.UpdateToLatestVersion";

/// Whether the agent updates itself, as its `get_auto_update_to_latest_version` decides:
/// `AutoUpdate.UpdateToLatestVersion` when it is y or n, else `AutoUpdate.Enabled` when it is y
/// or n, else on. `conf` is `None` when /etc/waagent.conf does not exist (the defaults apply).
pub(crate) fn auto_update_enabled(conf: Option<&WaagentConf<'_>>) -> bool {
    let Some(c) = conf else {
        return true;
    };
    match c.switch(UPDATE_TO_LATEST) {
        Switch::On => true,
        Switch::Off => false,
        Switch::Default => c.switch(AUTO_UPDATE) != Switch::Off,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_active_line_wins_and_comments_are_cut() {
        let conf = WaagentConf::new(
            "# AutoUpdate.Enabled=y\nAutoUpdate.Enabled=y\n  AutoUpdate.Enabled = \"n\" # off for now\n",
        );
        let s = conf.get(AUTO_UPDATE).unwrap();
        assert_eq!(s.value, "n");
        assert_eq!(s.line, "AutoUpdate.Enabled = \"n\" # off for now");
        assert_eq!(conf.switch(AUTO_UPDATE), Switch::Off);
        assert!(!auto_update_enabled(Some(&conf)));
    }

    #[test]
    fn commented_line_is_not_a_setting() {
        // The self-test API's sample: a commented line, so the agent's default (y) applies.
        let conf = WaagentConf::new("# AutoUpdate.Enabled=y\n");
        assert_eq!(conf.get(AUTO_UPDATE), None);
        assert_eq!(conf.commented(AUTO_UPDATE), Some("# AutoUpdate.Enabled=y"));
        assert_eq!(conf.switch(AUTO_UPDATE), Switch::Default);
        assert!(auto_update_enabled(Some(&conf)));
        assert!(auto_update_enabled(None));
    }

    #[test]
    fn indented_comment_is_a_different_key() {
        // The agent only skips lines whose first character is `#`; ` # Key=n` has key `# Key`.
        let conf = WaagentConf::new(" # AutoUpdate.Enabled=n\n");
        assert_eq!(conf.get(AUTO_UPDATE), None);
        assert_eq!(conf.commented(AUTO_UPDATE), Some("# AutoUpdate.Enabled=n"));
    }

    #[test]
    fn update_to_latest_overrides_enabled() {
        let on = "AutoUpdate.Enabled=n\nAutoUpdate.UpdateToLatestVersion=y\n";
        assert!(auto_update_enabled(Some(&WaagentConf::new(on))));
        let off = "AutoUpdate.Enabled=y\nAutoUpdate.UpdateToLatestVersion=n\n";
        assert!(!auto_update_enabled(Some(&WaagentConf::new(off))));
        // Not y/n: the agent falls back to AutoUpdate.Enabled.
        let odd = "AutoUpdate.Enabled=n\nAutoUpdate.UpdateToLatestVersion=yes\n";
        assert!(!auto_update_enabled(Some(&WaagentConf::new(odd))));
        // `None` is "not set".
        let none = "AutoUpdate.Enabled=None\n";
        assert_eq!(WaagentConf::new(none).get(AUTO_UPDATE), None);
        assert!(auto_update_enabled(Some(&WaagentConf::new(none))));
        // An inline comment is cut at `#`: this line reads as n.
        assert!(!auto_update_enabled(Some(&WaagentConf::new(
            "AutoUpdate.Enabled=n # pinned\n"
        ))));
    }

    #[test]
    fn other_values_fall_back_to_the_default() {
        let conf = WaagentConf::new("AutoUpdate.Enabled=yes\n");
        assert_eq!(conf.switch(AUTO_UPDATE), Switch::Default);
        assert_eq!(
            WaagentConf::new("AutoUpdate.Enabled=Y").switch(AUTO_UPDATE),
            Switch::On
        );
    }
}
