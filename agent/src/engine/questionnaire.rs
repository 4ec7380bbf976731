//! The questionnaire on the agent's side: reading the answers file, the order and progress of
//! the questions still to ask and the saving of each answer ([`Session`]), asking them on another
//! thread so that a stop request ends the questionnaire at once with what was answered
//! ([`ask`]), and turning the answers into the report's `questionnaire[]` and `notes.txt`.
//! The catalogue, the answers file format and the statuses are the pure
//! `vmcert_checks::questionnaire`; the terminal prompts are `crate::cmd::ask`, and
//! `vmcert questionnaire template` is `crate::cmd::questionnaire`.
//!
//! `vmcert run` asks after the checks have run, as Microsoft's tool does: the answers file is
//! read and checked before connecting ([`load_answers`], [`check_complete`]), the questions it
//! leaves open are asked once the results are on screen, and the report is written after.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context as _, bail};
use vmcert_checks::Os;
/// The validated answers (`load_answers` gives them, `results` takes them).
pub(crate) use vmcert_checks::questionnaire::Answers;
use vmcert_checks::questionnaire::{self, Answer, Kind, Question, Tab};

use crate::report::model::QuestionResult;
/// What to do about questions the answers file leaves unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AskMode {
    /// Ask them on the terminal once the checks have run (stdin and stderr are terminals).
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

/// Refuses to go on when `mode` is [`AskMode::RequireAll`] and a required question is
/// unanswered (before connecting, so that a missing answer costs nothing).
///
/// # Errors
/// The unanswered ids, and how to answer them.
pub(crate) fn check_complete(answers: &Answers, os: Os, mode: AskMode) -> anyhow::Result<()> {
    let missing = questionnaire::unanswered(answers, os);
    if mode == AskMode::RequireAll && !missing.is_empty() {
        bail!("{}", missing_message(&missing, os));
    }
    Ok(())
}

fn missing_message(missing: &[&Question], os: Os) -> String {
    let ids: Vec<&str> = missing.iter().map(|q| q.id).collect();
    format!(
        "unanswered questions: {}; answer them in the answers file (`vmcert questionnaire template --os {os}` \
         prints one) or pass --allow-unanswered to record them as unanswered",
        ids.join(", ")
    )
}

/// The report's entries (every question asked for `os`, answered or not, with its status) and
/// the text of `notes.txt` for these answers.
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

/// `true`/`false` in the forms a person types: t, true, y, yes, f, false, n, no, in any case.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" => Some(true),
        "f" | "false" | "n" | "no" => Some(false),
        _ => None,
    }
}

/// How well the typed `input` matches choice number `index` (from 0) with this `value` and
/// `label`, higher first; `None` hides it. Nothing typed keeps every choice in catalogue order;
/// its number or its value in any case is the best match, then a value that starts with the
/// input, then a value or label that contains it.
pub(crate) fn choice_score(input: &str, index: usize, value: &str, label: &str) -> Option<i64> {
    let input = input.trim().to_ascii_lowercase();
    let rank = i64::try_from(index).unwrap_or(i64::MAX / 4);
    if input.is_empty() {
        return Some(-rank);
    }
    let value = value.to_ascii_lowercase();
    if value == input || input.parse::<usize>().ok() == index.checked_add(1) {
        Some(3000)
    } else if value.starts_with(&input) {
        Some(2000 - rank)
    } else if value.contains(&input) || label.to_ascii_lowercase().contains(&input) {
        Some(1000 - rank)
    } else {
        None
    }
}

/// One `check-id: explanation` line of the exceptions question, validated.
///
/// # Errors
/// No colon, a malformed check id or an empty explanation, as the message to show.
pub(crate) fn parse_exception(line: &str) -> Result<Answer, String> {
    let Some((id, why)) = line.split_once(':') else {
        return Err("write it as `check-id: explanation`".to_owned());
    };
    let mut one = std::collections::BTreeMap::new();
    one.insert(id.trim().to_owned(), why.trim().to_owned());
    let answer = Answer::Exceptions(one);
    let q = questionnaire::find("NOTES-EXCEPTIONS").ok_or("NOTES-EXCEPTIONS is missing")?;
    q.validate(&answer)?;
    Ok(answer)
}

/// The session that asks what `answers` leaves open, when `mode` is [`AskMode::Prompt`] and a
/// required question is unanswered; `None` when nothing is to be asked.
pub(crate) fn session(
    answers: &Answers,
    os: Os,
    mode: AskMode,
    save: Option<&Path>,
) -> Option<Session> {
    (mode == AskMode::Prompt && !questionnaire::unanswered(answers, os).is_empty())
        .then(|| Session::new(answers.clone(), os, save.map(Path::to_path_buf)))
}

/// One question to put on screen, with the progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    /// The question.
    pub question: &'static Question,
    /// Its place among the questions asked in this session (from 1).
    pub number: usize,
    /// How many this session asks, as far as known now: an answer can add one (KC1 `custom`
    /// makes KC2 required).
    pub total: usize,
    /// The first question of its tab in this session.
    pub new_tab: bool,
    /// The exceptions question again, after an exception was given (one a time, until none).
    pub again: bool,
}

/// What was replied to a [`Step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// An answer (validated by the prompt; stored after validation again).
    Answer(Answer),
    /// Left unanswered (for the exceptions: no more).
    Skip,
    /// The user asked to stop (Ctrl-C): nothing more is asked.
    Interrupted,
}

/// The questions one run still has to ask, in catalogue order, and the answers so far, saved
/// to the `--save-answers` file after every reply. Pure apart from that file: the prompts are
/// elsewhere (an [`Asker`]).
#[derive(Debug)]
pub(crate) struct Session {
    answers: Answers,
    os: Os,
    save: Option<PathBuf>,
    /// Index in `questionnaire::for_os(os)` of the first question not yet dealt with.
    pos: usize,
    /// Questions dealt with (the exceptions count once however many are given).
    asked: usize,
    /// The exceptions are still to be asked: not in the answers file and not ended.
    exceptions_open: bool,
    /// The tab of the last question dealt with.
    tab: Option<Tab>,
    /// An exception was given and the exceptions question is asked again.
    again: bool,
}

impl Session {
    /// A session asking what `answers` leaves open for an image of `os` (the exceptions only
    /// when the answers give none), saving to `save` after every reply.
    pub(crate) fn new(answers: Answers, os: Os, save: Option<PathBuf>) -> Self {
        let exceptions_open = answers.get("NOTES-EXCEPTIONS").is_none();
        Self {
            answers,
            os,
            save,
            pos: 0,
            asked: 0,
            exceptions_open,
            tab: None,
            again: false,
        }
    }

    /// The answers so far.
    pub(crate) fn answers(&self) -> &Answers {
        &self.answers
    }

    fn to_ask(&self, q: &Question) -> bool {
        match q.kind {
            Kind::Exceptions => self.exceptions_open,
            _ => q.is_required(&self.answers) && self.answers.get(q.id).is_none(),
        }
    }

    /// The next question to ask, or `None` when every one has been dealt with.
    pub(crate) fn step(&self) -> Option<Step> {
        let all: Vec<&'static Question> = questionnaire::for_os(self.os).collect();
        let i = (self.pos..all.len()).find(|&i| self.to_ask(all[i]))?;
        let question = all[i];
        let left = all[i + 1..].iter().filter(|q| self.to_ask(q)).count();
        Some(Step {
            question,
            number: self.asked + 1,
            total: self.asked + 1 + left,
            new_tab: self.tab != Some(question.tab),
            again: self.again,
        })
    }

    /// Records the reply to `step` (from [`Session::step`]) and saves the answers.
    ///
    /// # Errors
    /// An invalid answer (the prompt validates first, so a bug), or the file cannot be written.
    pub(crate) fn reply(&mut self, step: &Step, reply: Reply) -> anyhow::Result<()> {
        let q = step.question;
        let pos = questionnaire::for_os(self.os)
            .position(|x| x.id == q.id)
            .context("the question is not asked for this OS")?;
        let mut advance = true;
        match reply {
            Reply::Answer(Answer::Exceptions(one)) if q.kind == Kind::Exceptions => {
                let mut all = self.answers.exceptions();
                all.extend(one);
                self.answers.set(self.os, q.id, Answer::Exceptions(all))?;
                advance = false;
            }
            Reply::Answer(answer) => self.answers.set(self.os, q.id, answer)?,
            Reply::Skip if q.kind == Kind::Exceptions => self.exceptions_open = false,
            Reply::Skip | Reply::Interrupted => {}
        }
        self.tab = Some(q.tab);
        self.again = !advance;
        if advance {
            self.pos = pos + 1;
            self.asked += 1;
        }
        if let Some(path) = &self.save {
            save_answers(path, &self.answers)?;
        }
        Ok(())
    }
}

/// Puts one question on screen and returns the reply (`crate::cmd::ask` on a terminal).
pub(crate) trait Asker: Send {
    /// Asks `step`.
    ///
    /// # Errors
    /// The terminal could not be read or written.
    fn ask(&mut self, step: &Step) -> anyhow::Result<Reply>;
}

/// What [`ask`] hears: the questionnaire ended, or a stop was asked for (the first Ctrl-C or
/// SIGTERM, from `crate::interrupt`'s hook, or Ctrl-C read by the prompt).
#[derive(Debug)]
pub(crate) enum Event {
    /// Every question was dealt with, or the prompt failed (the error).
    Ended(Option<String>),
    /// Stop now.
    Interrupted,
}

/// How a questionnaire session ended.
#[derive(Debug)]
pub(crate) struct Asked {
    /// The answers given (with those of the answers file): exactly what was saved last.
    pub answers: Answers,
    /// It was stopped by Ctrl-C or SIGTERM.
    pub interrupted: bool,
    /// The prompt failed (a terminal error): the rest stays unanswered.
    pub error: Option<String>,
}

struct Shared {
    session: Session,
    /// No reply is taken any more: the report is being written with what the session holds.
    closed: bool,
}

/// Asks `session`'s questions through `asker` on a thread of their own and waits on `events`
/// (`tx` is their sender, also given to whatever else may stop the run). On `Interrupted` it
/// returns at once, while the question may still be on screen: a reply that comes later is
/// neither kept nor saved, so the answers returned are the ones in the `--save-answers` file.
pub(crate) fn ask(
    session: Session,
    mut asker: Box<dyn Asker>,
    tx: Sender<Event>,
    events: &Receiver<Event>,
) -> Asked {
    let shared = Arc::new(Mutex::new(Shared {
        session,
        closed: false,
    }));
    let theirs = Arc::clone(&shared);
    std::thread::spawn(move || {
        let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            ask_all(&theirs, asker.as_mut())
        }));
        let _ = tx.send(match ended {
            Ok(Ok(true)) => Event::Ended(None),
            Ok(Ok(false)) => Event::Interrupted,
            Ok(Err(e)) => Event::Ended(Some(format!("{e:#}"))),
            Err(_) => Event::Ended(Some("the prompt panicked (a bug in vmcert)".to_owned())),
        });
    });
    // The thread holds a sender until it ends, so this returns.
    let event = events
        .recv()
        .unwrap_or_else(|_| Event::Ended(Some("the prompt thread vanished".to_owned())));
    let mut s = shared.lock().unwrap_or_else(PoisonError::into_inner);
    s.closed = true;
    let (interrupted, error) = match event {
        Event::Interrupted => (true, None),
        Event::Ended(error) => (false, error),
    };
    Asked {
        answers: s.session.answers().clone(),
        interrupted,
        error,
    }
}

/// Asks until the session is done (`true`), stopped (`false`) or an error.
fn ask_all(shared: &Mutex<Shared>, asker: &mut dyn Asker) -> anyhow::Result<bool> {
    let lock = || shared.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        let step = {
            let s = lock();
            if s.closed {
                return Ok(false);
            }
            match s.session.step() {
                Some(step) => step,
                None => return Ok(true),
            }
        };
        let reply = asker.ask(&step)?;
        let mut s = lock();
        if s.closed || reply == Reply::Interrupted {
            return Ok(false);
        }
        s.session.reply(&step, reply)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::mpsc;
    use vmcert_checks::Status;

    /// Replies from a list, recording each step it was asked.
    struct Script {
        replies: VecDeque<Reply>,
        seen: Arc<Mutex<Vec<Step>>>,
    }

    impl Asker for Script {
        fn ask(&mut self, step: &Step) -> anyhow::Result<Reply> {
            self.seen.lock().unwrap().push(*step);
            self.replies
                .pop_front()
                .ok_or_else(|| anyhow::anyhow!("the script ran out"))
        }
    }

    fn script(replies: Vec<Reply>) -> (Box<dyn Asker>, Arc<Mutex<Vec<Step>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let asker = Script {
            replies: replies.into(),
            seen: Arc::clone(&seen),
        };
        (Box::new(asker), seen)
    }

    fn run(session: Session, replies: Vec<Reply>) -> (Asked, Vec<Step>) {
        let (asker, seen) = script(replies);
        let (tx, rx) = mpsc::channel();
        let asked = ask(session, asker, tx, &rx);
        let seen = seen.lock().unwrap().clone();
        (asked, seen)
    }

    fn yes() -> Reply {
        Reply::Answer(Answer::Bool(true))
    }

    fn all_ga(os: Os, except: &[&str]) -> Answers {
        let mut a = Answers::default();
        for q in questionnaire::for_os(os).filter(|q| q.kind == Kind::Bool) {
            if !except.contains(&q.id) {
                a.set(os, q.id, Answer::Bool(true)).unwrap();
            }
        }
        a
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
        let err = check_complete(&answers, Os::Windows, AskMode::RequireAll)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "unanswered questions: GA2, GA3, GA4, GA5, GA6, GA7, GA8, GA9, GA10, GA11, GA12;"
            ),
            "{err}"
        );
        assert!(err.contains("--allow-unanswered"), "{err}");
        check_complete(&answers, Os::Windows, AskMode::AllowUnanswered).unwrap();
        check_complete(&answers, Os::Windows, AskMode::Prompt).unwrap();
        let full = all_ga(Os::Windows, &[]);
        check_complete(&full, Os::Windows, AskMode::RequireAll).unwrap();
    }

    #[test]
    fn unanswered_questions_are_warnings_in_the_report() {
        let answers = Answers::parse("[general]\nGA1 = false\n", Os::Linux).unwrap();
        let (entries, notes) = results(&answers, Os::Linux);
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
    fn a_session_only_when_prompting_and_something_is_missing() {
        let full = all_ga(Os::Windows, &[]);
        assert!(session(&full, Os::Windows, AskMode::Prompt, None).is_none());
        let part = all_ga(Os::Windows, &["GA3"]);
        assert!(session(&part, Os::Windows, AskMode::RequireAll, None).is_none());
        assert!(session(&part, Os::Windows, AskMode::AllowUnanswered, None).is_none());
        let s = session(&part, Os::Windows, AskMode::Prompt, None).unwrap();
        let step = s.step().unwrap();
        // GA3, then the exceptions (none given): 2 to ask.
        assert_eq!(
            (step.question.id, step.number, step.total, step.new_tab),
            ("GA3", 1, 2, true)
        );
    }

    #[test]
    fn bools_choices_and_exception_lines_as_typed() {
        for (typed, want) in [
            ("YES", Some(true)),
            (" t ", Some(true)),
            ("True", Some(true)),
            ("y", Some(true)),
            ("N", Some(false)),
            ("false", Some(false)),
            ("maybe", None),
            ("", None),
        ] {
            assert_eq!(parse_bool(typed), want, "{typed:?}");
        }
        let kc3 = ["built-in", "lis", "backported"];
        let best = |typed: &str| {
            kc3.iter()
                .enumerate()
                .filter_map(|(i, v)| choice_score(typed, i, v, "label").map(|s| (s, i)))
                .max_by_key(|&(s, i)| (s, std::cmp::Reverse(i)))
                .map(|(_, i)| kc3[i])
        };
        assert_eq!(best("LIS"), Some("lis"));
        assert_eq!(best("3"), Some("backported"));
        assert_eq!(best("Back"), Some("backported"));
        assert_eq!(best("in"), Some("built-in"), "contains, first in order");
        assert_eq!(best("zzz"), None);
        assert_eq!(best(""), Some("built-in"), "nothing typed: first");
        assert!(choice_score("", 0, "a", "") > choice_score("", 1, "b", ""));
        assert_eq!(choice_score("x", 0, "stock", "lanes"), None);
        assert!(choice_score("tuned", 1, "azure-tuned", "").is_some());
        assert!(choice_score("integration", 1, "lis", "Linux Integration Services").is_some());

        let mut one = std::collections::BTreeMap::new();
        one.insert("bash-history-cleared".to_owned(), "on purpose".to_owned());
        assert_eq!(
            parse_exception(" bash-history-cleared :  on purpose "),
            Ok(Answer::Exceptions(one))
        );
        assert_eq!(
            parse_exception("no colon"),
            Err("write it as `check-id: explanation`".to_owned())
        );
        assert!(
            parse_exception("Not An Id: x")
                .unwrap_err()
                .contains("`Not An Id` is not a check id")
        );
        assert!(
            parse_exception("ssh-x:  ")
                .unwrap_err()
                .contains("is empty")
        );
    }

    #[test]
    fn progress_follows_the_answers_and_each_reply_is_saved() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("answers.toml");
        let answers = all_ga(Os::Linux, &["GA12"]);
        let session = Session::new(answers, Os::Linux, Some(file.clone()));
        let choice = |v: &str| Reply::Answer(Answer::Choice(v.into()));
        let text = |v: &str| Reply::Answer(Answer::Text(v.into()));
        let exception = |line: &str| Reply::Answer(parse_exception(line).unwrap());
        let replies = vec![
            Reply::Answer(Answer::Bool(false)),
            choice("custom"),
            text("based on 6.1"),
            choice("lis"),
            choice("yes"),
            Reply::Skip,
            text("azureuser, port 22"),
            exception("ssh-client-alive-interval: 120 on purpose"),
            exception("bash-history-cleared: a fixture"),
            Reply::Skip,
        ];
        let (asked, seen) = run(session, replies);
        assert_eq!((asked.interrupted, asked.error.as_deref()), (false, None));
        let progress: Vec<(&str, usize, usize, bool, bool)> = seen
            .iter()
            .map(|s| (s.question.id, s.number, s.total, s.new_tab, s.again))
            .collect();
        // 7 to ask at first; KC2 joins when KC1 is answered custom; the exceptions are asked
        // again after each one given, at the same place.
        assert_eq!(
            progress,
            [
                ("GA12", 1, 7, true, false),
                ("KC1", 2, 7, true, false),
                ("KC2", 3, 8, false, false),
                ("KC3", 4, 8, false, false),
                ("KC4", 5, 8, false, false),
                ("KC5", 6, 8, false, false),
                ("NOTES-SSH", 7, 8, true, false),
                ("NOTES-EXCEPTIONS", 8, 8, false, false),
                ("NOTES-EXCEPTIONS", 8, 8, false, true),
                ("NOTES-EXCEPTIONS", 8, 8, false, true),
            ]
        );
        let a = &asked.answers;
        assert_eq!(a.get("GA12"), Some(&Answer::Bool(false)));
        assert_eq!(a.get("KC2"), Some(&Answer::Text("based on 6.1".into())));
        assert_eq!(a.get("KC5"), None, "skipped");
        assert_eq!(a.exceptions().len(), 2);
        let saved = Answers::parse(&std::fs::read_to_string(&file).unwrap(), Os::Linux).unwrap();
        assert_eq!(
            &saved, a,
            "the file holds every answer, with the answers file's"
        );
    }

    /// Blocks on the question after `answer_first` replies until the test lets it go, and says
    /// when that question is on screen.
    struct Stuck {
        first: VecDeque<Reply>,
        on_screen: mpsc::Sender<&'static str>,
        release: mpsc::Receiver<Reply>,
    }

    impl Asker for Stuck {
        fn ask(&mut self, step: &Step) -> anyhow::Result<Reply> {
            if let Some(r) = self.first.pop_front() {
                return Ok(r);
            }
            self.on_screen.send(step.question.id)?;
            Ok(self.release.recv()?)
        }
    }

    #[test]
    fn a_stop_keeps_the_answers_given_and_ignores_a_late_one() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("saved.toml");
        let session = Session::new(Answers::default(), Os::Windows, Some(file.clone()));
        let (screen_tx, screen_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel();
        let asker = Stuck {
            first: vec![yes(), Reply::Answer(Answer::Bool(false))].into(),
            on_screen: screen_tx,
            release: release_rx,
        };
        let (tx, rx) = mpsc::channel();
        let stop = tx.clone();
        let stopper = std::thread::spawn(move || {
            // As the interrupt hook does, once GA3 is on screen.
            let id = screen_rx.recv().unwrap();
            stop.send(Event::Interrupted).unwrap();
            id
        });
        let asked = ask(session, Box::new(asker), tx, &rx);
        assert_eq!(stopper.join().unwrap(), "GA3");
        assert!(asked.interrupted);
        assert_eq!(asked.answers.get("GA1"), Some(&Answer::Bool(true)));
        assert_eq!(asked.answers.get("GA2"), Some(&Answer::Bool(false)));
        assert_eq!(asked.answers.get("GA3"), None);
        // The question still on screen is answered after the stop: neither kept nor saved.
        let before = std::fs::read_to_string(&file).unwrap();
        release_tx.send(yes()).unwrap();
        // The prompt thread ends on its own (it sends its own Interrupted when it sees the
        // session closed).
        assert!(matches!(rx.recv().unwrap(), Event::Interrupted));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
        assert_eq!(Answers::parse(&before, Os::Windows).unwrap(), asked.answers);
    }

    #[test]
    fn ctrl_c_at_the_prompt_and_a_terminal_error_end_the_session() {
        let session = Session::new(Answers::default(), Os::Windows, None);
        let (asked, seen) = run(session, vec![yes(), Reply::Interrupted]);
        assert!(asked.interrupted);
        assert_eq!(seen.len(), 2);
        assert_eq!(asked.answers.get("GA1"), Some(&Answer::Bool(true)));
        assert_eq!(
            questionnaire::unanswered(&asked.answers, Os::Windows).len(),
            11
        );

        let session = Session::new(Answers::default(), Os::Windows, None);
        let (asked, _) = run(session, vec![yes()]);
        assert!(!asked.interrupted);
        assert_eq!(asked.error.as_deref(), Some("the script ran out"));
        assert_eq!(asked.answers.get("GA1"), Some(&Answer::Bool(true)));
    }

    #[test]
    fn a_save_file_that_cannot_be_written_is_an_error_naming_it() {
        let session = Session::new(
            Answers::default(),
            Os::Windows,
            Some(PathBuf::from("/proc/no/answers.toml")),
        );
        let (asked, _) = run(session, vec![yes()]);
        let e = asked.error.unwrap();
        assert!(
            e.starts_with("--save-answers /proc/no/answers.toml: cannot write it"),
            "{e}"
        );
    }
}
