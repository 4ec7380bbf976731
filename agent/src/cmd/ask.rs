//! The questionnaire at a terminal, for `vmcert run`: each question the answers file left open,
//! asked with `inquire` once the check results are on screen, with its place ("3 of 17").
//! Yes/no questions take y/n or true/false in any case, choices a value typed in any case, its
//! number or the arrow keys; Esc (or Enter on an empty text) leaves a question unanswered.
//!
//! The order, the progress, the saving after each answer and the stop on Ctrl-C or SIGTERM are
//! `crate::engine::questionnaire` ([`questionnaire::ask`]); this file only draws the prompts and
//! gives the terminal back when a stop came while one was on screen.

use std::fmt;
use std::sync::mpsc;

use inquire::validator::Validation;
use inquire::{Confirm, InquireError, Select, Text};
use vmcert_checks::Status;
use vmcert_checks::questionnaire::{Answer, Choice, Kind};

use crate::engine::questionnaire::{
    self, Asked, Asker, Event, Reply, Session, Step, choice_score, parse_bool, parse_exception,
};
use crate::report::model::CheckResult;

/// Asks `session`'s questions on the terminal (stderr) until they are all dealt with, the
/// prompt fails, or Ctrl-C or SIGTERM stops it; `checks` are the run's results, whose Fails,
/// Errors and Warnings the exceptions question lists.
pub(crate) fn ask(session: Session, checks: &[CheckResult]) -> Asked {
    let attention: Vec<String> = checks
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Error | Status::Warning))
        .map(|c| format!("{} ({})", c.id, c.status))
        .collect();
    let open = session.step().map_or(0, |s| s.total);
    eprintln!(
        "\nQuestionnaire: {open} question(s) to answer. Esc leaves one unanswered (a Warning in \
         the report); Ctrl-C stops and writes the report with the answers given."
    );
    // Colours as everywhere in vmcert: none when NO_COLOR is set and not empty. A question
    // left out says so.
    let colour = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let look = if colour {
        inquire::ui::RenderConfig::default_colored()
    } else {
        inquire::ui::RenderConfig::empty()
    };
    inquire::set_global_render_config(
        look.with_canceled_prompt_indicator(inquire::ui::Styled::new("(unanswered)")),
    );
    let (tx, rx) = mpsc::channel();
    let hook = tx.clone();
    let _hook = crate::interrupt::on_request(move || {
        let _ = hook.send(Event::Interrupted);
    });
    let asked = questionnaire::ask(session, Box::new(Prompts { attention }), tx, &rx);
    if asked.interrupted {
        give_back_the_terminal();
        eprintln!();
    }
    asked
}

/// Gives the terminal back ([`give_back_the_terminal`]) when dropped: `run` holds one after a
/// stop at a question and drops it as it returns, for a prompt that was being opened at the
/// instant of the stop (its thread had already taken the question and turns raw mode on after
/// the first give-back).
pub(crate) struct GiveBack;

impl Drop for GiveBack {
    fn drop(&mut self) {
        give_back_the_terminal();
    }
}

/// Undoes what a prompt leaves on the terminal when it is abandoned (SIGTERM while it waits for
/// a key): raw mode, bracketed paste, a hidden cursor.
fn give_back_the_terminal() {
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(
        std::io::stderr(),
        crossterm::event::DisableBracketedPaste,
        crossterm::cursor::Show
    );
}

/// The prompts of one session.
struct Prompts {
    /// The checks a publisher may want an exception for, as `id (Status)`.
    attention: Vec<String>,
}

/// A choice as the list shows it.
struct Option_ {
    number: usize,
    choice: &'static Choice,
}

impl fmt::Display for Option_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}) {:<12} {}",
            self.number, self.choice.value, self.choice.label
        )
    }
}

impl Asker for Prompts {
    fn ask(&mut self, step: &Step) -> anyhow::Result<Reply> {
        let q = step.question;
        if step.new_tab {
            eprintln!("\n{}", q.tab.as_str());
        }
        let message = if step.again {
            format!(
                "({} of {}) {} another exception (Enter when there is none)",
                step.number, step.total, q.id
            )
        } else {
            format!("({} of {}) {}  {}", step.number, step.total, q.id, q.text)
        };
        let answer = match q.kind {
            Kind::Bool => Confirm::new(&message)
                .with_parser(&|typed| parse_bool(typed).ok_or(()))
                .with_error_message("answer y or n (true or false)")
                .with_help_message("y/n (true/false); Esc leaves it unanswered")
                .prompt_skippable()
                .map(|b| b.map(Answer::Bool)),
            Kind::Choice(choices) => {
                let options: Vec<Option_> = choices
                    .iter()
                    .enumerate()
                    .map(|(i, choice)| Option_ {
                        number: i + 1,
                        choice,
                    })
                    .collect();
                let scorer = |typed: &str, o: &Option_, _: &str, _: usize| {
                    choice_score(typed, o.number - 1, o.choice.value, o.choice.label)
                };
                Select::new(&message, options)
                    .with_scorer(&scorer)
                    .with_formatter(&|o| o.value.choice.value.to_owned())
                    .with_help_message(
                        "type the value (any case) or its number, or use the arrows; Enter picks, \
                         Esc leaves it unanswered",
                    )
                    .prompt_skippable()
                    .map(|o| o.map(|o| Answer::Choice(o.choice.value.to_owned())))
            }
            Kind::Text => {
                let validator = move |typed: &str| {
                    let typed = typed.trim();
                    Ok(match q.validate(&Answer::Text(typed.to_owned())) {
                        _ if typed.is_empty() => Validation::Valid,
                        Ok(()) => Validation::Valid,
                        Err(e) => Validation::Invalid(e.into()),
                    })
                };
                Text::new(&message)
                    .with_validator(validator)
                    .with_help_message("Enter with nothing (or Esc) leaves it unanswered")
                    .prompt_skippable()
                    .map(|t| {
                        t.map(|t| t.trim().to_owned())
                            .filter(|t| !t.is_empty())
                            .map(Answer::Text)
                    })
            }
            Kind::Exceptions => {
                let help = if self.attention.is_empty() {
                    "`check-id: why`, one at a time; Enter with nothing when done".to_owned()
                } else {
                    format!(
                        "`check-id: why`, one at a time; Enter with nothing when done. \
                         Needing attention: {}",
                        self.attention.join(", ")
                    )
                };
                let validator = |typed: &str| {
                    Ok(match parse_exception(typed) {
                        _ if typed.trim().is_empty() => Validation::Valid,
                        Ok(_) => Validation::Valid,
                        Err(e) => Validation::Invalid(e.into()),
                    })
                };
                Text::new(&message)
                    .with_validator(validator)
                    .with_help_message(&help)
                    .prompt_skippable()
                    .map(|t| t.filter(|t| !t.trim().is_empty()))
                    .and_then(|t| {
                        t.map(|t| parse_exception(&t).map_err(|e| InquireError::Custom(e.into())))
                            .transpose()
                    })
            }
        };
        match answer {
            Ok(Some(a)) => Ok(Reply::Answer(a)),
            Ok(None) => Ok(Reply::Skip),
            Err(InquireError::OperationInterrupted) => {
                // Ctrl-C read as a key (the prompt's raw mode): the same as the signal.
                crate::interrupt::request();
                Ok(Reply::Interrupted)
            }
            Err(e) => Err(anyhow::anyhow!("the questionnaire's prompt failed: {e}")),
        }
    }
}
