//! The fleet inventory (`vmcert fleet --inventory FILE`): a TOML file of `[[target]]` tables and
//! the `[defaults]` they inherit, turned into one [`RunConfig`] per target, the very options
//! `vmcert run` takes. Paths are relative to the file; every error names `file:line`, and a bad
//! inventory is refused before anything connects.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::bail;
use serde::Deserialize;
use toml::Spanned;
use vmcert_checks::waiver::Lines;
use vmcert_checks::{Phase, Profile};

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
    phase: Option<Phase>,
    checks: Option<Vec<String>>,
    skip: Option<Vec<String>>,
    check_packs: Option<Vec<PathBuf>>,
    waivers: Option<PathBuf>,
    timeout: Option<u64>,
    update_search_timeout: Option<u64>,
    /// MiB, as `run --output-budget`.
    output_budget: Option<u64>,
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

/// Reads the inventory at `path`: targets as `run` options, paths relative to the file's
/// directory, reports in `out_dir`.
pub(crate) fn parse_inventory(
    path: &Path,
    text: &str,
    out_dir: &Path,
) -> anyhow::Result<Vec<Entry>> {
    let file = path.display();
    let lines = Lines::new(text);
    let line_of = |offset: usize| lines.of(offset);
    let inv: Inventory = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(s.start));
        // toml says nothing about some mistakes (a lone carriage return): never an empty problem.
        let message = match e.message().trim_end() {
            "" => "invalid TOML",
            m => m,
        };
        anyhow::anyhow!("{file}:{line}: {message}")
    })?;
    for (key, v) in [
        ("name", &inv.defaults.name),
        ("target", &inv.defaults.target),
    ] {
        if let Some(v) = v {
            bail!(
                "{file}:{}: `{key}` belongs in a [[target]], not in [defaults]",
                line_of(v.span().start)
            );
        }
    }
    if inv.targets.is_empty() {
        bail!("{file}: no [[target]] in the inventory");
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let rel = |p: &Option<PathBuf>| p.as_ref().map(|p| base.join(p));
    let mut entries: Vec<Entry> = Vec::new();
    // Name -> line of the target that took it: one lookup per target, not a scan of the others.
    let mut taken: HashMap<String, usize> = HashMap::new();
    for t in &inv.targets {
        let line = line_of(t.span().start);
        let (t, d) = (t.get_ref(), &inv.defaults);
        let Some(name) = &t.name else {
            bail!("{file}:{line}: this [[target]] has no `name`");
        };
        let name_line = line_of(name.span().start);
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
        if let Some(first) = taken.insert(name.clone(), line) {
            bail!("{file}:{name_line}: target name `{name}` is already used at line {first}");
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
            phase: pick!(phase).unwrap_or_default(),
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
            output_budget: pick!(output_budget)
                .map_or(crate::engine::budget::DEFAULT_OUTPUT_BUDGET, |mib| {
                    mib.saturating_mul(1 << 20)
                }),
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
             update_search_timeout = 900\nprofile = \"toolkit\"\ncheck_packs = [\"packs\"]\n\
             output_budget = 8\n\
             phase = \"build\"\n",
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
            (a.output_budget, b.output_budget),
            (crate::engine::budget::DEFAULT_OUTPUT_BUDGET, 8 << 20)
        );
        assert_eq!(
            (a.update_search_timeout, b.update_search_timeout),
            (600, 900)
        );
        assert_eq!(a.out, Some(PathBuf::from("/out/web1.zip")));
        assert_eq!(b.profile, Profile::Toolkit);
        assert_eq!((a.phase, b.phase), (Phase::Final, Phase::Build));
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
            // Found by the property tests (issue 17): toml gives no message for a lone carriage
            // return, and the error said nothing after the line.
            ("\r", "/inv/fleet.toml:1: invalid TOML"),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
    }
}

/// Property tests (proptest, on stable; `fuzz/run.sh` runs them longer) of the inventory reader:
/// any text is read or refused with one `file:line: problem` line (or `file: no [[target]]`),
/// never a panic; a generated inventory reads back as its targets, each at its line.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    fn cases() -> u32 {
        crate::proptest_cases::cases(32)
    }

    const FILE: &str = "/inv/fleet.toml";

    fn parse(text: &str) -> anyhow::Result<Vec<Entry>> {
        parse_inventory(Path::new(FILE), text, Path::new("/out"))
    }

    fn lit(s: &str) -> String {
        toml::Value::String(s.to_string()).to_string()
    }

    fn tomlish() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("name"),
            Just("target"),
            Just("timeout"),
            Just("identity"),
            Just("checks"),
            Just("profile"),
            Just("x"),
        ];
        let value = prop_oneof![
            Just("\"a\"".to_string()),
            Just("\"ssh://u@h\"".to_string()),
            Just("5".to_string()),
            Just("-1".to_string()),
            Just("18446744073709551616".to_string()),
            Just("[\"a\"]".to_string()),
            Just("\"toolkit\"".to_string()),
            Just("[".to_string()),
            Just("\"".to_string()),
            ".{0,12}".prop_map(|s| lit(&s)),
        ];
        let line = prop_oneof![
            (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
            Just("[[target]]".to_string()),
            Just("[defaults]".to_string()),
            ".{0,30}",
        ];
        prop::collection::vec(line, 0..20).prop_map(|l| l.join("\n"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        #[test]
        fn any_text_is_read_or_refused_with_file_and_line(
            text in prop_oneof![tomlish(), ".{0,200}"],
        ) {
            if let Err(e) = parse(&text) {
                let e = e.to_string();
                let rest = e.strip_prefix(&format!("{FILE}:"));
                prop_assert!(rest.is_some(), "{}", e);
                let rest = rest.unwrap_or_default();
                if rest != " no [[target]] in the inventory" {
                    let (line, message) = rest.split_once(": ").unwrap_or(("", ""));
                    let line: usize = line.parse().map_err(|_| TestCaseError::fail(e.clone()))?;
                    prop_assert!((1..=text.lines().count() + 1).contains(&line), "{}", e);
                    prop_assert!(!message.trim().is_empty(), "{:?}", e);
                }
            }
        }

        #[test]
        fn generated_inventories_read_back(
            targets in prop::collection::btree_map(
                "[A-Za-z0-9._-]{1,12}",
                ("[a-z]{1,8}", "[a-z0-9.]{1,12}", prop::option::of(1..100_000u64)),
                1..8,
            ),
            timeout in prop::option::of(1..100_000u64),
        ) {
            let mut text = String::new();
            if let Some(t) = timeout {
                text.push_str(&format!("[defaults]\ntimeout = {t}\n"));
            }
            let mut lines = Vec::new();
            for (name, (user, host, own)) in &targets {
                text.push_str("\n[[target]]\n");
                lines.push(text.lines().count());
                text.push_str(&format!("name = {}\ntarget = {}\n", lit(name), lit(&format!("ssh://{user}@{host}"))));
                if let Some(o) = own {
                    text.push_str(&format!("timeout = {o}\n"));
                }
            }
            let entries = parse(&text).map_err(|e| TestCaseError::fail(format!("{e:#}\n{text}")))?;
            prop_assert_eq!(entries.len(), targets.len());
            for ((e, (name, (user, host, own))), line) in entries.iter().zip(&targets).zip(&lines) {
                prop_assert_eq!(&e.name, name);
                prop_assert_eq!(e.line, *line);
                prop_assert_eq!(&e.config.target.locator, &format!("ssh://{user}@{host}"));
                prop_assert_eq!(e.config.out.clone(), Some(PathBuf::from(format!("/out/{name}.zip"))));
                prop_assert_eq!(
                    e.config.timeout,
                    own.or(timeout).unwrap_or(RunConfig::DEFAULT_TIMEOUT)
                );
            }
        }
    }
}
