//! Property tests (proptest, on stable) of the TOML inputs the pure crate parses: check packs,
//! waivers and questionnaire answers (issue 17). Arbitrary text is parsed or refused with one
//! error line that names the file (packs, waivers) and a line (and column, for answers) inside
//! the text, never a panic; a generated valid document parses to what was generated; a mistake
//! planted on a known line is reported on that line. `cargo test` runs a few dozen cases each;
//! `fuzz/run.sh` runs them longer (VMCERT_PROPTEST_CASES).
#![allow(
    clippy::unwrap_used,
    reason = "test harness: a panic is the failure report"
)]

mod props {
    use proptest::prelude::*;
    use vmcert_checks::questionnaire::{self, Answer, Answers, Kind};
    use vmcert_checks::{Check, Evidence, Os, ProbeOutput, Profile, Status, pack, waiver};

    fn cases() -> u32 {
        std::env::var("VMCERT_PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(32)
    }

    /// A TOML string literal for `s`, escaped by the toml crate itself.
    fn lit(s: &str) -> String {
        toml::Value::String(s.to_string()).to_string()
    }

    /// Text that looks like TOML: keys, tables, arrays of tables, values of every type, broken
    /// quotes and brackets, the files' own keys.
    fn tomlish() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("check"),
            Just("waiver"),
            Just("id"),
            Just("title"),
            Just("os"),
            Just("command"),
            Just("justification"),
            Just("expires"),
            Just("version_regex"),
            Just("version_min"),
            Just("stdout_matches"),
            Just("general"),
            Just("kernel"),
            Just("notes"),
            Just("exceptions"),
            Just("GA1"),
            Just("KC1"),
            Just("ssh_access"),
            Just("x"),
        ];
        let value = prop_oneof![
            Just("\"linux\"".to_string()),
            Just("\"2026-12-31\"".to_string()),
            Just("2026-12-31".to_string()),
            Just("true".to_string()),
            Just("1".to_string()),
            Just("[".to_string()),
            Just("{".to_string()),
            Just("\"".to_string()),
            Just("'''".to_string()),
            Just("\"(\"".to_string()),
            Just("\"9999999999999999999999\"".to_string()),
            ".{0,16}".prop_map(|s| lit(&s)),
            ".{0,16}",
        ];
        let line = prop_oneof![
            (key.clone(), value).prop_map(|(k, v)| format!("{k} = {v}")),
            key.clone().prop_map(|k| format!("[{k}]")),
            key.clone().prop_map(|k| format!("[[{k}]]")),
            key.prop_map(|k| format!("[notes.{k}]")),
            ".{0,40}",
        ];
        prop::collection::vec(line, 0..24).prop_map(|ls| ls.join("\n"))
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![tomlish(), ".{0,300}"]
    }

    /// `file:N: message` on one line, with N a line of `text` (or the line after its last).
    fn located(err: &str, file: &str, text: &str) -> Result<(), TestCaseError> {
        let rest = err.strip_prefix(&format!("{file}:"));
        prop_assert!(rest.is_some(), "no file in {:?}", err);
        let (line, message) = rest.unwrap().split_once(": ").unwrap_or(("", ""));
        let line: usize = line
            .parse()
            .map_err(|_| TestCaseError::fail(format!("no line in {err:?}")))?;
        prop_assert!(
            (1..=text.lines().count() + 1).contains(&line),
            "line {} of {} in {:?}",
            line,
            text.lines().count(),
            err
        );
        prop_assert!(
            !message.trim().is_empty() && !err.contains('\n'),
            "{:?}",
            err
        );
        Ok(())
    }

    /// A pack check id: kebab-case, never a built-in's.
    fn pack_id() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,6}(-[a-z0-9]{1,6}){0,2}".prop_map(|s| format!("zz-{s}"))
    }

    /// One generated pack check: id, title, os, command, and its optional expectations.
    #[derive(Debug, Clone)]
    struct GenCheck {
        id: String,
        title: String,
        os: Os,
        command: String,
        matches: Option<String>,
        version: Option<(String, String)>,
    }

    fn gen_check() -> impl Strategy<Value = GenCheck> {
        (
            pack_id(),
            "[^\u{0}-\u{1f}\u{7f}]{0,20}".prop_map(|t| format!("T {t}")),
            prop_oneof![Just(Os::Linux), Just(Os::Windows)],
            ".{0,40}".prop_map(|c| format!("echo {c}")),
            prop::option::of("[a-z ]{0,10}"),
            prop::option::of(("[0-9]{1,3}", "[0-9]{1,3}")),
        )
            .prop_map(|(id, title, os, command, matches, v)| GenCheck {
                id,
                title,
                os,
                command,
                matches,
                version: v.map(|(a, b)| (format!("{a}.0"), format!("{b}.1"))),
            })
    }

    fn pack_text(checks: &[GenCheck]) -> (String, Vec<usize>) {
        let mut text = String::from("# generated\n");
        let mut lines = Vec::new();
        for c in checks {
            text.push_str("\n[[check]]\n");
            lines.push(text.lines().count() + 1);
            text.push_str(&format!("id = {}\n", lit(&c.id)));
            text.push_str(&format!("title = {}\n", lit(&c.title)));
            text.push_str(&format!("os = \"{}\"\n", c.os));
            text.push_str(&format!("command = {}\n", lit(&c.command)));
            if let Some(m) = &c.matches {
                text.push_str(&format!("stdout_matches = {}\n", lit(&regex::escape(m))));
            }
            if let Some((min, max)) = &c.version {
                text.push_str("version_regex = '(\\d+\\.\\d+)'\n");
                text.push_str(&format!(
                    "version_min = {}\nversion_max = {}\n",
                    lit(min),
                    lit(max)
                ));
            }
        }
        (text, lines)
    }

    fn unique_ids(checks: &[GenCheck]) -> bool {
        let mut ids: Vec<&str> = checks.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        ids.windows(2).all(|w| w[0] != w[1])
    }

    /// A generated waiver: check id, justification, date.
    fn gen_waiver() -> impl Strategy<Value = (String, String, (i32, u32, u32))> {
        (
            pack_id(),
            ".{0,30}".prop_map(|j| format!("because {j}")),
            (1970..9999i32, 1..=12u32, 1..=28u32),
        )
    }

    /// An answer valid for `q`.
    fn answer_for(q: &questionnaire::Question) -> BoxedStrategy<Answer> {
        match q.kind {
            Kind::Bool => any::<bool>().prop_map(Answer::Bool).boxed(),
            Kind::Choice(choices) => prop::sample::select(choices.to_vec())
                .prop_map(|c| Answer::Choice(c.value.to_string()))
                .boxed(),
            Kind::Text => ".{0,40}"
                .prop_map(|t| Answer::Text(format!("t {t}")))
                .boxed(),
            Kind::Exceptions => {
                let why = ".{0,20}".prop_map(|w| format!("why {w}"));
                prop::collection::btree_map("[a-z]{1,5}(-[a-z0-9]{1,4}){0,2}", why, 1..4)
                    .prop_map(Answer::Exceptions)
                    .boxed()
            }
        }
    }

    fn answers(os: Os) -> impl Strategy<Value = Vec<(&'static str, Answer)>> {
        let qs: Vec<&'static questionnaire::Question> = questionnaire::for_os(os).collect();
        let each: Vec<_> = qs
            .into_iter()
            .map(|q| prop::option::of(answer_for(q)).prop_map(move |a| a.map(|a| (q.id, a))))
            .collect();
        each.prop_map(|v| v.into_iter().flatten().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        /// Any text as a check pack: checks or one `file:line: problem` line.
        #[test]
        fn any_text_as_a_pack_parses_or_names_file_and_line(text in text()) {
            if let Err(e) = pack::parse("packs/p.toml", &text) {
                located(&e.to_string(), "packs/p.toml", &text)?;
            }
        }

        /// Generated packs parse to the checks generated, each at the line of its `[[check]]`
        /// id; two packs repeating an id are refused on the second one's line.
        #[test]
        fn generated_packs_parse_to_what_was_generated(
            checks in prop::collection::vec(gen_check(), 0..6).prop_filter("unique ids", |c| unique_ids(c)),
        ) {
            let (text, lines) = pack_text(&checks);
            let parsed = pack::parse("p.toml", &text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(parsed.len(), checks.len());
            for ((p, c), line) in parsed.iter().zip(&checks).zip(&lines) {
                prop_assert_eq!(p.meta().id, c.id.as_str());
                prop_assert_eq!(p.meta().title, c.title.as_str());
                prop_assert_eq!(p.meta().os, c.os);
                prop_assert_eq!(p.line(), *line);
                prop_assert_eq!(p.file(), "p.toml");
            }
            if let (Some(first), Some(line)) = (checks.first(), lines.first()) {
                let e = pack::parse_all(&[("a.toml", &text), ("b.toml", &text)]).unwrap_err();
                prop_assert_eq!(
                    e.to_string(),
                    format!("b.toml:{line}: check id `{}` is already defined at a.toml:{line}", first.id)
                );
            }
        }

        /// A generated pack check on any output of its probe: a declared outcome, an Error with
        /// what was required, any other verdict with what was found; never a panic.
        #[test]
        fn pack_checks_give_a_sound_verdict_on_any_output(
            c in gen_check(),
            stdout in prop::collection::vec(any::<u8>(), 0..200),
            text_out in "[a-z0-9. ]{0,40}",
            exit in prop_oneof![Just(0), Just(1), Just(126), Just(127), any::<i32>()],
            as_text in any::<bool>(),
        ) {
            let (text, _) = pack_text(std::slice::from_ref(&c));
            let p = pack::parse("p.toml", &text).unwrap().remove(0);
            let mut ev = Evidence::new(Profile::Current);
            let out = if as_text { text_out.into_bytes() } else { stdout };
            ev.insert(p.probes()[0], ProbeOutput::exited(exit, out));
            let v = p.evaluate(&ev);
            prop_assert!(p.meta().outcomes.contains(&v.status), "{:?}", v);
            if v.status == Status::Error {
                prop_assert!(!v.required.is_empty() && !v.message.is_empty(), "{:?}", v);
            } else {
                prop_assert!(!v.actual.trim().is_empty() || exit == 0, "{:?}", v);
            }
            if exit == 127 || exit == 126 {
                prop_assert_eq!(v.status, Status::Error);
            }
        }

        /// An unknown key planted in a generated pack is reported on its line.
        #[test]
        fn a_bad_key_in_a_pack_is_reported_on_its_line(
            checks in prop::collection::vec(gen_check(), 1..5).prop_filter("unique ids", |c| unique_ids(c)),
            at in any::<prop::sample::Index>(),
        ) {
            let (text, _) = pack_text(&checks);
            let mut lines: Vec<&str> = text.lines().collect();
            let starts: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].starts_with("id = ")).collect();
            let i = starts[at.index(starts.len())] + 1;
            lines.insert(i, "colour = \"red\"");
            let text = lines.join("\n");
            let e = pack::parse("p.toml", &text).unwrap_err();
            prop_assert_eq!(e.line, i + 1, "{}", e);
        }

        /// Any text as a waivers file: waivers or one `file:line: problem` line.
        #[test]
        fn any_text_as_waivers_parses_or_names_file_and_line(text in text()) {
            if let Err(e) = waiver::parse("w.toml", &text) {
                located(&e.to_string(), "w.toml", &text)?;
            }
        }

        /// Generated waivers parse to what was generated, each at the line of its `check`; a
        /// date not written YYYY-MM-DD is refused on its line.
        #[test]
        fn generated_waivers_parse_to_what_was_generated(
            ws in prop::collection::btree_map(pack_id(), gen_waiver(), 0..6),
            bad in any::<prop::sample::Index>(),
            as_date in any::<bool>(),
        ) {
            let ws: Vec<(String, String, (i32, u32, u32))> =
                ws.into_values().collect::<Vec<_>>();
            let mut seen = std::collections::HashSet::new();
            let ws: Vec<_> = ws.into_iter().filter(|w| seen.insert(w.0.clone())).collect();
            let mut text = String::new();
            let mut lines = Vec::new();
            for (check, why, (y, m, d)) in &ws {
                text.push_str("[[waiver]]\n");
                lines.push(text.lines().count() + 1);
                let date = format!("{y:04}-{m:02}-{d:02}");
                let date = if as_date { date } else { lit(&date) };
                text.push_str(&format!("check = {}\njustification = {}\nexpires = {date}\n", lit(check), lit(why)));
            }
            let parsed = waiver::parse("w.toml", &text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(parsed.len(), ws.len());
            for ((p, (check, why, (y, m, d))), line) in parsed.iter().zip(&ws).zip(&lines) {
                prop_assert_eq!(&p.check, check);
                prop_assert_eq!(&p.justification, why);
                prop_assert_eq!(p.expires_text(), format!("{y:04}-{m:02}-{d:02}"));
                prop_assert_eq!(p.line, *line);
            }
            if !ws.is_empty() {
                let i = bad.index(ws.len());
                let (y, m, d) = ws[i].2;
                let wrong = format!("expires = \"{y}-{m}-{d}x\"");
                let mut ls: Vec<String> = text.lines().map(str::to_string).collect();
                let at = lines[i] + 1; // 0-based index of the `expires` line
                ls[at] = wrong;
                let e = waiver::parse("w.toml", &ls.join("\n")).unwrap_err();
                prop_assert_eq!(e.line, at + 1, "{}", e);
            }
        }

        /// Any text as an answers file: answers or one `line L, column C: problem` line, with
        /// L and C inside the text.
        #[test]
        fn any_text_as_answers_parses_or_names_line_and_column(
            text in text(),
            windows in any::<bool>(),
        ) {
            let os = if windows { Os::Windows } else { Os::Linux };
            if let Err(e) = Answers::parse(&text, os) {
                let lines: Vec<&str> = text.split('\n').collect();
                prop_assert!((1..=lines.len()).contains(&e.line), "{:?} in {} lines", e, lines.len());
                prop_assert!(e.column >= 1 && e.column <= lines[e.line - 1].chars().count() + 1, "{:?}", e);
                prop_assert!(!e.message.trim().is_empty() && !e.to_string().contains('\n'), "{:?}", e);
            }
        }

        /// Valid answers written as an answers file read back to the same answers.
        #[test]
        fn generated_answers_round_trip(
            linux in answers(Os::Linux),
            windows in answers(Os::Windows),
        ) {
            for (os, given) in [(Os::Linux, linux), (Os::Windows, windows)] {
                let mut a = Answers::default();
                for (id, answer) in given {
                    a.set(os, id, answer).unwrap();
                }
                let text = a.to_toml();
                let back = Answers::parse(&text, os).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
                prop_assert_eq!(back, a);
            }
        }
    }

    /// The generated pack ids are never a built-in check's.
    #[test]
    fn generated_ids_are_not_built_in() {
        assert!(
            vmcert_checks::registry::ALL
                .iter()
                .all(|c| !c.meta().id.starts_with("zz-"))
        );
    }
}
