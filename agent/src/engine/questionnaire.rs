//! The questionnaire on the agent's side: reading the answers file, asking the missing questions
//! on the terminal, and turning the answers into the report's `questionnaire[]` and `notes.txt`.
//! The catalogue, the answers file format and the statuses are the pure
//! `vmcert_checks::questionnaire`; this module only adds files and the terminal
//! (`vmcert questionnaire template` is `crate::cmd::questionnaire`).

use std::io::{BufRead, IsTerminal as _, Write};
use std::path::Path;

use anyhow::{Context as _, bail};
use vmcert_checks::Os;
/// The validated answers (`load_answers` gives them, `complete` takes them).
pub(crate) use vmcert_checks::questionnaire::Answers;
use vmcert_checks::questionnaire::{self, Answer, Kind, Question};

use crate::report::model::QuestionResult;

/// What to do about questions the answers file leaves unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AskMode {
    /// Ask them on the terminal (stdin must be a TTY).
    Prompt,
    /// Refuse to go on, listing the unanswered ids (exit 2).
    RequireAll,
    /// Record them as unanswered (a Warning each).
    AllowUnanswered,
}

/// Reads and validates the answers file for an image of `os`; no file means no answers yet.
///
/// # Errors
/// The file cannot be read, or its first problem as `FILE:LINE:COLUMN: problem` (syntax, unknown
/// question id, question of the other OS, wrong type, bad choice, empty text).
pub(crate) fn load_answers(path: Option<&Path>, os: Os) -> anyhow::Result<Answers> {
    let Some(path) = path else {
        return Ok(Answers::default());
    };
    let text = super::input::read_text(path)
        .with_context(|| format!("cannot read the answers file {}", path.display()))?;
    Answers::parse(&text, os)
        .map_err(|e| anyhow::anyhow!("{}:{}:{}: {}", path.display(), e.line, e.column, e.message))
}

/// Completes the answers according to `mode` and returns the report's questionnaire entries
/// (every question asked for `os`, answered or not, with its status) and the text of
/// `notes.txt`.
///
/// # Errors
/// `RequireAll` with unanswered questions (the message lists their ids), `Prompt` without a
/// terminal on stdin, or a terminal read error.
pub(crate) fn complete(
    mut answers: Answers,
    os: Os,
    mode: AskMode,
    save: Option<&Path>,
) -> anyhow::Result<(Vec<QuestionResult>, String)> {
    let missing = questionnaire::unanswered(&answers, os);
    if !missing.is_empty() {
        match mode {
            AskMode::AllowUnanswered => {}
            AskMode::RequireAll => bail!("{}", missing_message(&missing, os)),
            AskMode::Prompt => {
                if !std::io::stdin().is_terminal() {
                    bail!(
                        "{} (no terminal to ask them on)",
                        missing_message(&missing, os)
                    );
                }
                let stdin = std::io::stdin();
                prompt(
                    &mut answers,
                    os,
                    save,
                    &mut stdin.lock(),
                    &mut std::io::stderr(),
                )?;
            }
        }
    }
    Ok(results(&answers, os))
}

fn missing_message(missing: &[&Question], os: Os) -> String {
    let ids: Vec<&str> = missing.iter().map(|q| q.id).collect();
    format!(
        "unanswered questions: {}; answer them in the answers file (`vmcert questionnaire template --os {os}` \
         prints one) or pass --allow-unanswered to record them as unanswered",
        ids.join(", ")
    )
}

/// The report's entries and the notes text for these answers.
pub(crate) fn results(answers: &Answers, os: Os) -> (Vec<QuestionResult>, String) {
    let entries = questionnaire::assess(answers, os)
        .into_iter()
        .map(|a| QuestionResult {
            id: a.question.id.to_owned(),
            tab: a.question.tab.as_str().to_owned(),
            question: a.question.text.to_owned(),
            // An `Answer` is a bool, a string or a map of strings: it always converts.
            answer: a.answer.as_ref().and_then(|v| serde_json::to_value(v).ok()),
            status: a.status,
            message: a.message,
        })
        .collect();
    (entries, questionnaire::notes_text(answers, os))
}

/// Asks every required unanswered question (and, when none were given, the exceptions) on
/// `output`, reading lines from `input`. An empty line leaves a question unanswered; a bad answer
/// is asked again; end of input leaves the rest unanswered.
fn prompt(
    answers: &mut Answers,
    os: Os,
    save: Option<&Path>,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> anyhow::Result<()> {
    let missing = questionnaire::unanswered(answers, os).len();
    writeln!(
        output,
        "Questionnaire: {missing} question(s) unanswered. Press Enter to leave one unanswered \
         (a Warning in the report)."
    )?;
    let mut tab = None;
    let to_ask = |q: &Question, answers: &Answers| match q.kind {
        Kind::Exceptions => answers.get(q.id).is_none(),
        _ => q.is_required(answers) && answers.get(q.id).is_none(),
    };
    // "3 of 16": asked so far plus what is left to ask, recounted at each question, since an
    // answer can make another question required (KC1 `custom` -> KC2).
    let all: Vec<&Question> = questionnaire::for_os(os).collect();
    let mut asked = 0;
    for (i, &q) in all.iter().enumerate() {
        // Asked in order, so KC2 becomes required as soon as KC1 is answered `custom`.
        if !to_ask(q, answers) {
            continue;
        }
        if tab != Some(q.tab) {
            tab = Some(q.tab);
            writeln!(output, "\n{}", q.tab.as_str())?;
        }
        asked += 1;
        let left = all[i + 1..].iter().filter(|q| to_ask(q, answers)).count();
        let progress = format!("{asked} of {}", asked + left);
        let more = if q.kind == Kind::Exceptions {
            ask_exceptions(answers, os, q, &progress, input, output)?
        } else {
            ask_one(answers, os, q, &progress, input, output)?
        };
        if let Some(path) = save {
            save_answers(path, answers)?;
        }
        if !more {
            writeln!(
                output,
                "\n(end of input: the remaining questions stay unanswered)"
            )?;
            break;
        }
    }
    Ok(())
}

/// Writes `answers` to `path` as an answers file, atomically (a temporary file renamed over it),
/// so what was answered survives Ctrl-C or a closed terminal at any point.
///
/// # Errors
/// The file cannot be written, naming it.
pub(crate) fn save_answers(path: &Path, answers: &Answers) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let text = format!(
        "# vmcert questionnaire answers, saved as they were given; pass back with --answers.\n{}",
        answers.to_toml()
    );
    let write = || -> std::io::Result<()> {
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(text.as_bytes())?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    write().with_context(|| format!("--save-answers {}: cannot write it", path.display()))
}

/// Reads one line; `None` at end of input.
fn read_line(input: &mut dyn BufRead) -> anyhow::Result<Option<String>> {
    let mut line = String::new();
    if input
        .read_line(&mut line)
        .context("reading the answer from the terminal")?
        == 0
    {
        return Ok(None);
    }
    Ok(Some(line.trim().to_owned()))
}

/// Asks `q` until it gets a valid answer or an empty line. Returns false at end of input.
fn ask_one(
    answers: &mut Answers,
    os: Os,
    q: &Question,
    progress: &str,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> anyhow::Result<bool> {
    writeln!(output, "  ({progress}) {}  {}", q.id, q.text)?;
    let hint = match q.kind {
        Kind::Bool => "true/false (t/f)".to_owned(),
        Kind::Choice(choices) => {
            for (i, c) in choices.iter().enumerate() {
                writeln!(output, "      {}) {:<12} {}", i + 1, c.value, c.label)?;
            }
            format!("1-{} or the value", choices.len())
        }
        Kind::Text | Kind::Exceptions => "text".to_owned(),
    };
    loop {
        write!(output, "      {} [{hint}]: ", q.id)?;
        output.flush()?;
        let Some(line) = read_line(input)? else {
            return Ok(false);
        };
        if line.is_empty() {
            return Ok(true);
        }
        let answer = match q.kind {
            Kind::Bool => match line.to_ascii_lowercase().as_str() {
                "t" | "true" | "y" | "yes" => Answer::Bool(true),
                "f" | "false" | "n" | "no" => Answer::Bool(false),
                _ => {
                    writeln!(output, "      please answer true or false")?;
                    continue;
                }
            },
            Kind::Choice(choices) => {
                // By number, or by value in any case (`LIS` is `lis`).
                let picked = line
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|i| choices.get(i))
                    .or_else(|| choices.iter().find(|c| c.value.eq_ignore_ascii_case(&line)));
                Answer::Choice(picked.map_or(line, |c| c.value.to_owned()))
            }
            Kind::Text | Kind::Exceptions => Answer::Text(line),
        };
        match answers.set(os, q.id, answer) {
            Ok(()) => return Ok(true),
            Err(e) => writeln!(output, "      {e}")?,
        }
    }
}

/// Asks for `check-id: explanation` lines until an empty line. Returns false at end of input.
fn ask_exceptions(
    answers: &mut Answers,
    os: Os,
    q: &Question,
    progress: &str,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> anyhow::Result<bool> {
    writeln!(output, "  ({progress}) {}  {}", q.id, q.text)?;
    writeln!(
        output,
        "      One `check-id: explanation` a line; an empty line ends (none: just Enter)."
    )?;
    let mut map = std::collections::BTreeMap::new();
    let more = loop {
        write!(output, "      exception: ")?;
        output.flush()?;
        let Some(line) = read_line(input)? else {
            break false;
        };
        if line.is_empty() {
            break true;
        }
        let Some((id, why)) = line.split_once(':') else {
            writeln!(output, "      write it as `check-id: explanation`")?;
            continue;
        };
        let mut one = std::collections::BTreeMap::new();
        one.insert(id.trim().to_owned(), why.trim().to_owned());
        match q.validate(&Answer::Exceptions(one)) {
            Ok(()) => {
                map.insert(id.trim().to_owned(), why.trim().to_owned());
            }
            Err(e) => writeln!(output, "      {e}")?,
        }
    };
    if !map.is_empty() {
        answers.set(os, q.id, Answer::Exceptions(map))?;
    }
    Ok(more)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmcert_checks::Status;

    #[test]
    fn answers_are_saved_after_each_question_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("answers.toml");
        let mut answers = Answers::default();
        let mut out = Vec::new();
        // Two answers, then the input ends (as a closed terminal or Ctrl-C would leave it).
        prompt(
            &mut answers,
            Os::Windows,
            Some(&file),
            &mut "t\nf\n".as_bytes(),
            &mut out,
        )
        .unwrap();
        let saved = std::fs::read_to_string(&file).unwrap();
        let back = Answers::parse(&saved, Os::Windows).unwrap();
        assert_eq!(back, answers, "{saved}");
        assert_eq!(back.get("GA1"), Some(&Answer::Bool(true)));
        assert_eq!(back.get("GA2"), Some(&Answer::Bool(false)));
    }

    fn prompt_with(answers: &mut Answers, os: Os, typed: &str) -> String {
        let mut out = Vec::new();
        prompt(answers, os, None, &mut typed.as_bytes(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn load_answers_names_file_line_and_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("answers.toml");
        std::fs::write(
            &path,
            "[general]\nGA1 = true\n\n[kernel]\nKC3 = \"modules\"\n",
        )
        .unwrap();
        let err = load_answers(Some(&path), Os::Linux)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "{}:5:7: KC3: `modules` is not one of \"built-in\", \"lis\", \"backported\"",
                path.display()
            )
        );
        assert_eq!(err.lines().count(), 1);

        let missing = dir.path().join("nope.toml");
        let err = format!("{:#}", load_answers(Some(&missing), Os::Linux).unwrap_err());
        assert!(
            err.starts_with(&format!(
                "cannot read the answers file {}",
                missing.display()
            )),
            "{err}"
        );
        assert_eq!(load_answers(None, Os::Windows).unwrap(), Answers::default());
    }

    #[test]
    fn require_all_lists_the_unanswered_ids() {
        let answers = Answers::parse("[general]\nGA1 = true\n", Os::Windows).unwrap();
        let err = complete(answers, Os::Windows, AskMode::RequireAll, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "unanswered questions: GA2, GA3, GA4, GA5, GA6, GA7, GA8, GA9, GA10, GA11, GA12;"
            ),
            "{err}"
        );
        assert!(err.contains("--allow-unanswered"), "{err}");
    }

    #[test]
    fn allow_unanswered_records_warnings_and_notes() {
        let answers = Answers::parse("[general]\nGA1 = false\n", Os::Linux).unwrap();
        let (entries, notes) =
            complete(answers, Os::Linux, AskMode::AllowUnanswered, None).unwrap();
        let ga1 = entries.iter().find(|e| e.id == "GA1").unwrap();
        assert_eq!(
            (ga1.status, ga1.answer.clone()),
            (Status::Warning, Some(serde_json::json!(false)))
        );
        assert!(ga1.message.contains("unless an exception is granted"));
        let ga2 = entries.iter().find(|e| e.id == "GA2").unwrap();
        assert_eq!((ga2.status, ga2.answer.clone()), (Status::Warning, None));
        assert_eq!(
            entries.iter().find(|e| e.id == "KC2").unwrap().status,
            Status::NotApplicable
        );
        assert!(entries.iter().all(|e| e.id != "GA10"));
        assert!(
            notes.contains("SSH access\n==========\n(not given)"),
            "{notes}"
        );
    }

    #[test]
    fn complete_answers_need_no_terminal() {
        let t: String = questionnaire::template(Os::Windows)
            .lines()
            .map(|l| {
                if l.starts_with("# GA") && l.contains(" = ") {
                    &l[2..]
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let answers = Answers::parse(&t, Os::Windows).unwrap();
        // Prompt mode with everything answered never touches the terminal.
        let (entries, _) = complete(answers, Os::Windows, AskMode::Prompt, None).unwrap();
        assert!(
            entries
                .iter()
                .filter(|e| e.tab == "General Assessment")
                .all(|e| e.status == Status::Pass)
        );
    }

    #[test]
    fn prompt_asks_missing_questions_and_re_asks_bad_answers() {
        let mut answers = Answers::parse(
            "[general]\nGA1 = true\nGA2 = true\nGA3 = true\nGA4 = true\nGA5 = true\nGA6 = true\nGA7 = true\nGA8 = true\nGA9 = true\nGA11 = true\n",
            Os::Linux,
        )
        .unwrap();
        // GA12: "maybe" is refused, then f. KC1: choice 3 (custom), so KC2 is asked. KC3 by value,
        // KC4 bad value then 1, KC5 skipped, NOTES-SSH text, one exception with a bad id first.
        let typed = "maybe\nf\n3\nbased on 6.1\nLIS\nbogus\n1\n\nazureuser, port 22\nNot An Id: x\nssh-client-alive-interval: 120 on purpose\n\n";
        let out = prompt_with(&mut answers, Os::Linux, typed);
        assert!(out.contains("please answer true or false"), "{out}");
        assert!(out.contains("KC4: `bogus` is not one of"), "{out}");
        // Progress: 7 to ask at first; KC2 joins when KC1 is answered custom.
        assert!(out.contains("  (1 of 7) GA12  "), "{out}");
        assert!(out.contains("  (2 of 7) KC1  "), "{out}");
        assert!(out.contains("  (3 of 8) KC2  "), "{out}");
        assert!(out.contains("  (8 of 8) NOTES-EXCEPTIONS  "), "{out}");
        assert!(out.contains("`Not An Id` is not a check id"), "{out}");
        assert!(
            !out.contains("GA1 "),
            "answered questions are not asked again:\n{out}"
        );
        assert_eq!(answers.get("GA12"), Some(&Answer::Bool(false)));
        assert_eq!(answers.get("KC1"), Some(&Answer::Choice("custom".into())));
        assert_eq!(
            answers.get("KC2"),
            Some(&Answer::Text("based on 6.1".into()))
        );
        assert_eq!(answers.get("KC3"), Some(&Answer::Choice("lis".into())));
        assert_eq!(answers.get("KC4"), Some(&Answer::Choice("yes".into())));
        assert_eq!(answers.get("KC5"), None);
        assert_eq!(
            answers.get("NOTES-SSH"),
            Some(&Answer::Text("azureuser, port 22".into()))
        );
        assert_eq!(
            answers
                .exceptions()
                .get("ssh-client-alive-interval")
                .map(String::as_str),
            Some("120 on purpose")
        );
    }

    #[test]
    fn prompt_stops_at_end_of_input() {
        let mut answers = Answers::default();
        let out = prompt_with(&mut answers, Os::Windows, "t\n");
        assert!(out.contains("end of input"), "{out}");
        assert_eq!(answers.get("GA1"), Some(&Answer::Bool(true)));
        assert_eq!(questionnaire::unanswered(&answers, Os::Windows).len(), 11);
    }
}
