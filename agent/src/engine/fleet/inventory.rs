//! The fleet inventory (`vmcert fleet --inventory FILE`): a TOML file of `[[target]]` tables and
//! the `[defaults]` they inherit, turned into one [`RunConfig`] per target, the very options
//! `vmcert run` takes. Paths are relative to the file; every error names `file:line`, and a bad
//! inventory is refused before anything connects.

use std::path::{Path, PathBuf};

use anyhow::bail;
use serde::Deserialize;
use toml::Spanned;
use vmcert_checks::Profile;

use crate::engine::config::RunConfig;
use crate::engine::questionnaire::AskMode;
use crate::target::options::TargetOptions;

/// Settings a `[[target]]` takes, and `[defaults]` gives to every target that does not set them.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    name: Option<Spanned<String>>,
    target: Option<Spanned<String>>,
    identity: Option<PathBuf>,
    password_env: Option<String>,
    passphrase_env: Option<String>,
    sudo_password_env: Option<String>,
    known_hosts: Option<PathBuf>,
    host_key: Option<String>,
    accept_new_host_key: Option<bool>,
    connect_timeout: Option<u64>,
    answers: Option<PathBuf>,
    allow_unanswered: Option<bool>,
    profile: Option<Profile>,
    checks: Option<Vec<String>>,
    skip: Option<Vec<String>>,
    check_packs: Option<Vec<PathBuf>>,
    waivers: Option<PathBuf>,
    timeout: Option<u64>,
    update_search_timeout: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inventory {
    #[serde(default)]
    defaults: Settings,
    #[serde(default, rename = "target")]
    targets: Vec<Spanned<Settings>>,
}

/// One target of the inventory as `vmcert run` options, and where it was declared.
#[derive(Debug)]
pub(crate) struct Entry {
    pub name: String,
    pub config: RunConfig,
    /// 1-based line of its `[[target]]` header.
    pub line: usize,
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |t| t.matches('\n').count() + 1)
}

/// Reads the inventory at `path`: targets as `run` options, paths relative to the file's
/// directory, reports in `out_dir`.
pub(crate) fn parse_inventory(
    path: &Path,
    text: &str,
    out_dir: &Path,
) -> anyhow::Result<Vec<Entry>> {
    let file = path.display();
    let inv: Inventory = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        anyhow::anyhow!("{file}:{line}: {}", e.message().trim_end())
    })?;
    for (key, v) in [
        ("name", &inv.defaults.name),
        ("target", &inv.defaults.target),
    ] {
        if let Some(v) = v {
            bail!(
                "{file}:{}: `{key}` belongs in a [[target]], not in [defaults]",
                line_of(text, v.span().start)
            );
        }
    }
    if inv.targets.is_empty() {
        bail!("{file}: no [[target]] in the inventory");
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let rel = |p: &Option<PathBuf>| p.as_ref().map(|p| base.join(p));
    let mut entries: Vec<Entry> = Vec::new();
    for t in &inv.targets {
        let line = line_of(text, t.span().start);
        let (t, d) = (t.get_ref(), &inv.defaults);
        let Some(name) = &t.name else {
            bail!("{file}:{line}: this [[target]] has no `name`");
        };
        let name_line = line_of(text, name.span().start);
        let name = name.get_ref().clone();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            bail!(
                "{file}:{name_line}: target name `{name}`: use letters, digits, `.`, `-`, `_` (it names the report zip)"
            );
        }
        if let Some(first) = entries.iter().find(|e| e.name == name) {
            bail!(
                "{file}:{name_line}: target name `{name}` is already used at line {}",
                first.line
            );
        }
        let Some(url) = &t.target else {
            bail!("{file}:{line}: target `{name}` has no `target` URL");
        };
        macro_rules! pick {
            ($f:ident) => {
                t.$f.clone().or_else(|| d.$f.clone())
            };
        }
        let target = TargetOptions {
            identity: rel(&pick!(identity)),
            passphrase_env: pick!(passphrase_env),
            password_env: pick!(password_env),
            sudo_password_env: pick!(sudo_password_env),
            known_hosts: rel(&pick!(known_hosts)),
            host_key: pick!(host_key),
            accept_new_host_key: pick!(accept_new_host_key).unwrap_or(false),
            connect_timeout: pick!(connect_timeout)
                .unwrap_or(TargetOptions::DEFAULT_CONNECT_TIMEOUT),
            no_prompt: true,
            ..TargetOptions::new(crate::target::image::relative_to(base, url.get_ref()))
        };
        let config = RunConfig {
            answers: rel(&pick!(answers)),
            out: Some(out_dir.join(format!("{name}.zip"))),
            name: Some(name.clone()),
            profile: pick!(profile).unwrap_or_default(),
            only: pick!(checks).unwrap_or_default(),
            skip: pick!(skip).unwrap_or_default(),
            check_packs: pick!(check_packs)
                .unwrap_or_default()
                .iter()
                .map(|p| base.join(p))
                .collect(),
            waivers: rel(&pick!(waivers)),
            timeout: pick!(timeout).unwrap_or(RunConfig::DEFAULT_TIMEOUT),
            update_search_timeout: pick!(update_search_timeout)
                .unwrap_or(crate::engine::runner::UPDATE_SEARCH_TIMEOUT),
            ask: if pick!(allow_unanswered).unwrap_or(false) {
                AskMode::AllowUnanswered
            } else {
                AskMode::RequireAll
            },
            ..RunConfig::new(target)
        };
        entries.push(Entry { name, config, line });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Vec<Entry>> {
        parse_inventory(Path::new("/inv/fleet.toml"), text, Path::new("/out"))
    }

    #[test]
    fn defaults_apply_and_targets_override_them() {
        let entries = parse(
            "[defaults]\nidentity = \"keys/id\"\npassword_env = \"PW\"\ntimeout = 30\n\
             allow_unanswered = true\nskip = [\"a\"]\n\n\
             [[target]]\nname = \"web1\"\ntarget = \"ssh://u@h1\"\n\n\
             [[target]]\nname = \"web2\"\ntarget = \"ssh://u@h2:2222\"\ntimeout = 5\n\
             update_search_timeout = 900\nprofile = \"toolkit\"\ncheck_packs = [\"packs\"]\n",
        )
        .unwrap();
        assert_eq!(entries.len(), 2);
        let (a, b) = (&entries[0].config, &entries[1].config);
        assert_eq!(entries[0].line, 8);
        assert_eq!(a.target.identity, Some(PathBuf::from("/inv/keys/id")));
        assert_eq!(a.target.password_env.as_deref(), Some("PW"));
        assert!(a.target.no_prompt && a.ask == AskMode::AllowUnanswered);
        assert_eq!(a.target.connect_timeout, 15);
        assert_eq!((a.timeout, b.timeout), (30, 5));
        assert_eq!(
            (a.update_search_timeout, b.update_search_timeout),
            (600, 900)
        );
        assert_eq!(a.out, Some(PathBuf::from("/out/web1.zip")));
        assert_eq!(b.profile, Profile::Toolkit);
        assert_eq!(b.check_packs, [PathBuf::from("/inv/packs")]);
        assert_eq!(b.skip, ["a"]);
    }

    #[test]
    fn bad_inventories_name_the_line() {
        let cases = [
            (
                "[[target]]\nname = \"a\"\ntarget = \"ssh://u@h\"\npasword_env = \"X\"\n",
                "/inv/fleet.toml:4: unknown field `pasword_env`",
            ),
            (
                "[defaults]\nname = \"x\"\n[[target]]\nname = \"a\"\ntarget = \"ssh://u@h\"\n",
                "/inv/fleet.toml:2: `name` belongs in a [[target]], not in [defaults]",
            ),
            (
                "[[target]]\nname = \"a\"\ntarget = \"ssh://u@h\"\n[[target]]\nname = \"a\"\ntarget = \"ssh://u@h2\"\n",
                "/inv/fleet.toml:5: target name `a` is already used at line 1",
            ),
            (
                "[[target]]\nname = \"a b\"\ntarget = \"ssh://u@h\"\n",
                "/inv/fleet.toml:2: target name `a b`",
            ),
            (
                "\n[[target]]\nname = \"a\"\n",
                "/inv/fleet.toml:2: target `a` has no `target` URL",
            ),
            (
                "[[target]]\nname = \"a\"\ntarget = \"ssh://u@h\"\ntimeout = \"5\"\n",
                "/inv/fleet.toml:4: invalid type",
            ),
            ("[defaults]\n", "/inv/fleet.toml: no [[target]]"),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
    }
}
