//! Property tests (proptest, on stable) of every check's parser of target output, with the target
//! as the adversary (issue 17): whatever a probe prints, with whatever exit status, a check never
//! panics, an Error says what was required and any other verdict says what was found; garbage
//! never passes a check whose rule needs positive evidence; and the recorded fixtures, mutated or
//! handed to another check, are evaluated without a panic. `cargo test` runs a few dozen cases
//! per property; `fuzz/run.sh` runs them longer (VMCERT_PROPTEST_CASES).
#![allow(
    clippy::unwrap_used,
    reason = "test harness: a panic is the failure report"
)]

mod props {
    use std::collections::BTreeMap;
    use std::fs;
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    use proptest::prelude::*;
    use vmcert_checks::fixture::{CaseFile, evidence_from};
    use vmcert_checks::{
        Check, Evidence, Os, Phase, ProbeOutput, Profile, Status, Verdict, registry,
    };

    /// Checks whose probe lists findings (history files, rule files, firewall rules, installed
    /// roles, SQL services): a blank listing means none was found, and may pass.
    const BLANK_IS_NONE: &[(Os, &str)] = &[
        (Os::Linux, "bash-history-cleared"),
        (Os::Linux, "no-leftover-authorized-keys"),
        (Os::Linux, "udev-persistent-net-rules-removed"),
        (Os::Linux, "firewall-no-rules"),
        (Os::Windows, "failover-clustering-disabled"),
        (Os::Windows, "ipv6-not-required"),
        (Os::Windows, "dhcp-server-disabled"),
        (Os::Windows, "hyper-v-disabled"),
        (Os::Windows, "remote-access-disabled"),
        (Os::Windows, "rights-management-disabled"),
        (Os::Windows, "deployment-services-disabled"),
        (Os::Windows, "isns-disabled"),
        (Os::Windows, "multipath-io-disabled"),
        (Os::Windows, "nlb-disabled"),
        (Os::Windows, "pnrp-disabled"),
        (Os::Windows, "snmp-disabled"),
        (Os::Windows, "wins-disabled"),
        (Os::Windows, "wireless-lan-disabled"),
        (Os::Windows, "sql-server-not-self-installed"),
    ];

    /// Checks that scan a text for something forbidden (a boot parameter, an error in the boot
    /// log, leftover cloud-init state, `Defaults targetpw`) or for a setting whose default is
    /// the required one (waagent's auto-update): any text without a finding passes.
    const TEXT_WITHOUT_FINDING: &[(Os, &str)] = &[
        (Os::Linux, "agent-auto-update"),
        (Os::Linux, "sudoers-no-targetpw"),
        (Os::Linux, "grub-no-forbidden-params"),
        (Os::Linux, "cloud-init-clean"),
        (Os::Linux, "boot-log-clean"),
    ];

    fn listed(list: &[(Os, &str)], c: &dyn Check) -> bool {
        let m = c.meta();
        list.iter().any(|(os, id)| *os == m.os && *id == m.id)
    }

    /// Output that shows nothing: whitespace, or an empty JSON list.
    fn blank(out: &[u8]) -> bool {
        let text = String::from_utf8_lossy(out);
        matches!(
            text.trim_start_matches('\u{feff}').trim(),
            "" | "null" | "[]"
        )
    }

    /// Whether a check may pass on these outputs of its probes (exit 0) without any of them
    /// being real output: only a check that scans text for a finding, or a check whose probe
    /// lists findings when the listing is blank. Every other rule needs positive evidence (a
    /// version, a setting, a driver, a service) and gives Error, or a Fail or Warning saying
    /// what was found.
    fn may_pass_on_garbage<'a>(c: &dyn Check, mut outs: impl Iterator<Item = &'a [u8]>) -> bool {
        listed(TEXT_WITHOUT_FINDING, c) || (listed(BLANK_IS_NONE, c) && outs.any(blank))
    }

    fn cases() -> u32 {
        std::env::var("VMCERT_PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(24)
    }

    /// What a hostile or broken target prints: bytes, text lines, JSON of the wrong shape, or
    /// words the real outputs use, in any order.
    fn garbage() -> impl Strategy<Value = Vec<u8>> {
        let word = prop_oneof![
            Just("=".to_string()),
            Just(":".to_string()),
            Just("#".to_string()),
            Just("\"".to_string()),
            Just("{".to_string()),
            Just("}".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("null".to_string()),
            Just("Name".to_string()),
            Just("Value".to_string()),
            Just("/dev/sda".to_string()),
            Just("-1".to_string()),
            Just("18446744073709551616".to_string()),
            Just("9999999999999999999999".to_string()),
            Just("1..2".to_string()),
            Just(".5.1".to_string()),
            Just("99999999999999999999999.1.1".to_string()),
            Just("\u{feff}".to_string()),
            Just("\r".to_string()),
            "[a-z]{1,8}",
            "[0-9]{1,6}",
        ];
        let line = prop::collection::vec(word, 0..8).prop_map(|w| w.join(" "));
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            prop::collection::vec(line, 0..12).prop_map(|ls| ls.join("\n").into_bytes()),
            ".{0,200}".prop_map(String::into_bytes),
            prop_oneof![
                Just("null"),
                Just("{}"),
                Just("[]"),
                Just("[{}]"),
                Just("[null]"),
                Just("0"),
                Just("\"\""),
                Just("true"),
                Just("{\"value\":null,\"Count\":1}"),
                Just("{\"value\":[{}],\"Count\":1}"),
                Just("[[],[]]"),
            ]
            .prop_map(|s| s.as_bytes().to_vec()),
        ]
    }

    /// Any way a probe can end: any exit status, timed out, truncated, not run.
    fn output() -> impl Strategy<Value = ProbeOutput> {
        (
            garbage(),
            garbage(),
            prop_oneof![
                4 => Just(Some(0)),
                1 => Just(Some(127)),
                1 => Just(Some(1)),
                1 => Just(None),
                1 => any::<i32>().prop_map(Some),
            ],
            any::<(bool, bool, bool)>(),
        )
            .prop_map(
                |(stdout, stderr, exit_code, (timed_out, truncated, error))| ProbeOutput {
                    stdout,
                    stderr,
                    exit_code,
                    duration_ms: 1,
                    truncated: truncated && exit_code.is_some(),
                    timed_out: timed_out && exit_code.is_none(),
                    error: (error && exit_code.is_none()).then(|| "connection lost".to_string()),
                },
            )
    }

    /// The run's profile and phase: evidence of any of them.
    fn run() -> impl Strategy<Value = (Profile, Phase)> {
        (
            prop_oneof![Just(Profile::Current), Just(Profile::Toolkit)],
            prop::sample::select(Phase::ALL.to_vec()),
        )
    }

    fn evidence((profile, phase): (Profile, Phase)) -> Evidence {
        let mut ev = Evidence::new(profile);
        ev.phase = phase;
        ev
    }

    /// The invariants every verdict keeps, whatever the evidence.
    fn sound(c: &dyn Check, v: &Verdict) -> Result<(), TestCaseError> {
        let id = c.meta().id;
        prop_assert!(
            c.meta().outcomes.contains(&v.status),
            "{}: {} is not among its outcomes ({})",
            id,
            v.status,
            v.message
        );
        if v.status == Status::Error {
            prop_assert!(
                !v.required.trim().is_empty(),
                "{}: Error without required",
                id
            );
            prop_assert!(
                !v.message.trim().is_empty(),
                "{}: Error without a reason",
                id
            );
        } else {
            prop_assert!(
                !v.actual.trim().is_empty(),
                "{}: {} without what was found ({})",
                id,
                v.status,
                v.message
            );
        }
        Ok(())
    }

    /// One recorded fixture case: its check and its evidence.
    struct Fixture {
        check: &'static dyn Check,
        ev: Evidence,
    }

    fn fixtures() -> &'static [Fixture] {
        static ALL: OnceLock<Vec<Fixture>> = OnceLock::new();
        ALL.get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
            let mut out = Vec::new();
            for (os, sub) in [(Os::Linux, "linux"), (Os::Windows, "windows")] {
                for check_dir in dirs(&root.join(sub)) {
                    let name = check_dir
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    let check = registry::by_id(os, &name).unwrap();
                    for case in dirs(&check_dir) {
                        let file: CaseFile =
                            toml::from_str(&fs::read_to_string(case.join("case.toml")).unwrap())
                                .unwrap();
                        let mut files = BTreeMap::new();
                        for e in fs::read_dir(&case).unwrap() {
                            let p = e.unwrap().path();
                            let n = p.file_name().unwrap().to_string_lossy().into_owned();
                            if n.ends_with(".stdout") || n.ends_with(".stderr") {
                                files.insert(n, fs::read(&p).unwrap());
                            }
                        }
                        out.push(Fixture {
                            check,
                            ev: evidence_from(&file, &files),
                        });
                    }
                }
            }
            assert!(out.len() > 100, "only {} fixture cases found", out.len());
            out
        })
    }

    fn dirs(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        v.sort();
        v
    }

    /// A change to recorded output: bytes flipped, the output cut, lines repeated, dropped or
    /// swapped, text spliced in.
    #[derive(Debug, Clone)]
    enum Mutation {
        Flip(prop::sample::Index, u8),
        Cut(prop::sample::Index),
        RepeatLine(prop::sample::Index),
        DropLine(prop::sample::Index),
        SwapLines(prop::sample::Index, prop::sample::Index),
        Insert(prop::sample::Index, Vec<u8>),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            (any::<prop::sample::Index>(), 1..=255u8).prop_map(|(i, b)| Mutation::Flip(i, b)),
            any::<prop::sample::Index>().prop_map(Mutation::Cut),
            any::<prop::sample::Index>().prop_map(Mutation::RepeatLine),
            any::<prop::sample::Index>().prop_map(Mutation::DropLine),
            any::<(prop::sample::Index, prop::sample::Index)>()
                .prop_map(|(a, b)| Mutation::SwapLines(a, b)),
            (any::<prop::sample::Index>(), garbage()).prop_map(|(i, g)| Mutation::Insert(i, g)),
        ]
    }

    fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
        let mut lines: Vec<Vec<u8>> = bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
        match m {
            Mutation::Flip(i, b) if !bytes.is_empty() => {
                let i = i.index(bytes.len());
                bytes[i] ^= b;
                return;
            }
            Mutation::Cut(i) => {
                bytes.truncate(i.index(bytes.len() + 1));
                return;
            }
            Mutation::Insert(i, g) => {
                let at = i.index(bytes.len() + 1);
                bytes.splice(at..at, g.iter().copied());
                return;
            }
            Mutation::RepeatLine(i) => {
                let l = lines[i.index(lines.len())].clone();
                lines.insert(i.index(lines.len()), l);
            }
            Mutation::DropLine(i) => {
                lines.remove(i.index(lines.len()));
            }
            Mutation::SwapLines(a, b) => {
                let (a, b) = (a.index(lines.len()), b.index(lines.len()));
                lines.swap(a, b);
            }
            Mutation::Flip(..) => return,
        }
        *bytes = lines.join(&b'\n');
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        /// Any output of its probes, ended in any way: the check gives one of its declared
        /// outcomes, an Error carries what was required and why, any other verdict what was
        /// found; never a panic.
        #[test]
        fn any_probe_output_gives_a_sound_verdict(
            outputs in prop::collection::vec(output(), 8),
            run in run(),
        ) {
            for c in registry::ALL {
                let mut ev = evidence(run);
                for (p, out) in c.probes().iter().zip(outputs.iter().cycle()) {
                    ev.insert(*p, out.clone());
                }
                sound(*c, &c.evaluate(&ev))?;
            }
        }

        /// Garbage that completed with status 0 never passes a check whose rule needs positive
        /// evidence ([`may_pass_on_garbage`]).
        #[test]
        fn garbage_never_passes_a_check_that_needs_evidence(
            stdouts in prop::collection::vec(garbage(), 8),
            run in run(),
        ) {
            for c in registry::ALL {
                let mut ev = evidence(run);
                for (p, out) in c.probes().iter().zip(stdouts.iter().cycle()) {
                    ev.insert(*p, ProbeOutput::exited(0, out.clone()));
                }
                if may_pass_on_garbage(*c, ev.outputs.values().map(|o| o.stdout.as_slice())) {
                    continue;
                }
                let v = c.evaluate(&ev);
                prop_assert_ne!(
                    v.status, Status::Pass,
                    "{} {} passed on garbage: {:?} ({})",
                    c.meta().os, c.meta().id, v.actual, v.message
                );
            }
        }

        /// A recorded case with its outputs mutated: a sound verdict, never a panic.
        #[test]
        fn mutated_fixtures_give_a_sound_verdict(
            case in any::<prop::sample::Index>(),
            mutations in prop::collection::vec((any::<prop::sample::Index>(), mutation()), 1..6),
        ) {
            let f = &fixtures()[case.index(fixtures().len())];
            let mut ev = f.ev.clone();
            let ids: Vec<String> = ev.outputs.keys().cloned().collect();
            if !ids.is_empty() {
                for (which, m) in &mutations {
                    let out = ev.outputs.get_mut(&ids[which.index(ids.len())]).unwrap();
                    apply(&mut out.stdout, m);
                }
            }
            sound(f.check, &f.check.evaluate(&ev))?;
        }

        /// Real output of other probes (another check's recorded case, under this check's probe
        /// ids): a sound verdict, and, when none of it is the probe's own, never Pass for a check
        /// that needs positive evidence.
        #[test]
        fn another_probes_output_gives_a_sound_verdict(
            c in 0..registry::ALL.len(),
            from in prop::collection::vec(any::<prop::sample::Index>(), 8),
            run in run(),
        ) {
            let c = registry::ALL[c];
            let all = fixtures();
            let mut ev = evidence(run);
            let mut own = false;
            for (p, i) in c.probes().iter().zip(&from) {
                let f = &all[i.index(all.len())];
                let Some((src, out)) = f.ev.outputs.iter().nth(i.index(f.ev.outputs.len().max(1)))
                else {
                    continue;
                };
                own |= src == p;
                ev.insert(*p, out.clone());
            }
            let v = c.evaluate(&ev);
            sound(c, &v)?;
            let exited_0 = ev.outputs.values().all(|o| o.exit_code == Some(0) && !o.truncated);
            if !own
                && exited_0
                && !may_pass_on_garbage(c, ev.outputs.values().map(|o| o.stdout.as_slice()))
            {
                prop_assert_ne!(
                    v.status, Status::Pass,
                    "{} {} passed on another probe's output: {:?} ({})",
                    c.meta().os, c.meta().id, v.actual, v.message
                );
            }
        }
    }

    /// The lists of checks that may pass without positive evidence name real checks.
    #[test]
    fn the_lists_name_real_checks() {
        for (os, id) in BLANK_IS_NONE.iter().chain(TEXT_WITHOUT_FINDING) {
            assert!(registry::by_id(*os, id).is_some(), "{os} {id}");
        }
    }
}
