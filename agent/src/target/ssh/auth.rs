//! Logging in once the host key is trusted: try the given credentials in a fixed order (key file,
//! ssh-agent keys, password, and keyboard-interactive answered with the password when the server
//! only offers that), and report exactly what was tried when everything is refused. Which methods
//! the server offers costs a round trip to ask: `vmcert connect` asks first, to show them; a run
//! asks only once a credential was refused, so a fitting first credential saves that round trip.
//! Rejections move on to the next credential; anything else (broken key, wrong passphrase, lost
//! connection) stops at once with its own message.

use serde::Serialize;
use ssh2::{ErrorCode, KeyboardInteractivePrompt, Prompt, Session};

use super::error::SshError;
use super::keyfile::KeyFormat;
use super::setup::{Credentials, Identity};
use super::target::SshTarget;
use crate::target::secret::Secret;

/// libssh2: the server refused the credential.
const LIBSSH2_ERROR_AUTHENTICATION_FAILED: i32 = -18;
/// libssh2: the server refused the public key.
const LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED: i32 = -19;
/// libssh2: the key file could not be used (also an encrypted OpenSSH key it cannot decrypt).
const LIBSSH2_ERROR_FILE: i32 = -16;
/// libssh2: a PEM/PKCS#8 key did not decrypt with the passphrase.
const LIBSSH2_ERROR_KEYFILE_AUTH_FAILED: i32 = -48;

/// How the login went.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AuthReport {
    /// Methods the server offers for this user (`publickey`, `password`, ...); `None` when the
    /// first credential fitted before anyone asked (see [`MethodList`]).
    pub(crate) offered: Option<Vec<String>>,
    /// The method that succeeded, with detail (`publickey (key ~/.ssh/id_ed25519, ...)`).
    pub(crate) method: String,
    /// Everything tried before it, in order (refused attempts).
    pub(crate) refused: Vec<String>,
}

/// When to ask the server which methods it offers (an SSH "none" request: one round trip).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MethodList {
    /// Before anything else, to report the list (`vmcert connect`, which diagnoses).
    First,
    /// Only after a credential was refused: a run whose credential fits saves the round trip.
    /// A refusal cannot tell "wrong credential" from "method not offered", so the list decides
    /// what is tried next and names the offered methods in the error.
    OnRefusal,
}

/// The server's method list, asked for at most once.
struct Offered<'a> {
    session: &'a Session,
    user: &'a str,
    addr: &'a str,
    list: Option<Vec<String>>,
}

impl Offered<'_> {
    /// Asks the server (once).
    fn ask(&mut self) -> Result<&[String], SshError> {
        if self.list.is_none() {
            let methods = self
                .session
                .auth_methods(self.user)
                .map_err(|e| lost(self.addr, &e))?;
            let list: Vec<String> = methods
                .split(',')
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect();
            tracing::debug!(
                "{} offers authentication methods: {}",
                self.addr,
                list.join(",")
            );
            self.list = Some(list);
        }
        Ok(self.list.as_deref().unwrap_or_default())
    }

    /// Whether `method` is worth trying: offered, or not asked yet.
    fn may_offer(&self, method: &str) -> bool {
        self.list
            .as_ref()
            .is_none_or(|l| l.iter().any(|o| o == method))
    }

    /// Whether the server is known to offer `method`.
    fn offers(&self, method: &str) -> bool {
        self.list
            .as_ref()
            .is_some_and(|l| l.iter().any(|o| o == method))
    }
}

fn lost(addr: &str, e: &ssh2::Error) -> SshError {
    SshError::Session {
        addr: addr.to_owned(),
        reason: e.message().to_owned(),
    }
}

/// Authenticates `target.user` on `session` (handshake done, host key verified).
pub(crate) fn authenticate(
    session: &Session,
    target: &SshTarget,
    addr: &str,
    creds: &Credentials,
    list: MethodList,
) -> Result<AuthReport, SshError> {
    let mut offered = Offered {
        session,
        user: &target.user,
        addr,
        list: None,
    };
    let mut refused: Vec<String> = Vec::new();
    let done = |method: String, refused: Vec<String>, offered: Offered<'_>| {
        Ok(AuthReport {
            offered: offered.list,
            method,
            refused,
        })
    };
    // Asking is itself an attempt (method "none"), which a server may accept.
    let ask = |offered: &mut Offered<'_>| -> Result<bool, SshError> {
        offered.ask()?;
        Ok(session.authenticated())
    };
    const NO_CREDENTIAL: &str = "none (the server asked for no credential)";
    if list == MethodList::First && ask(&mut offered)? {
        return done(NO_CREDENTIAL.to_owned(), refused, offered);
    }

    if let Some(id) = &creds.identity
        && offered.may_offer("publickey")
    {
        let label = format!(
            "publickey (key {}, {})",
            id.key.path.display(),
            id.key.describe()
        );
        if try_key(session, &target.user, id, addr)? {
            return done(label, refused, offered);
        }
        refused.push(label);
        if ask(&mut offered)? {
            return done(NO_CREDENTIAL.to_owned(), refused, offered);
        }
    }
    if let Some(socket) = creds.agent.as_ref()
        && offered.may_offer("publickey")
    {
        let (ok, label) = try_agent(session, &target.user, socket, addr)?;
        if ok {
            return done(label, refused, offered);
        }
        refused.push(label);
        if ask(&mut offered)? {
            return done(NO_CREDENTIAL.to_owned(), refused, offered);
        }
    }
    if let Some(password) = &creds.password {
        if offered.may_offer("password") {
            match session.userauth_password(&target.user, password.expose()) {
                Ok(()) => return done("password".to_owned(), refused, offered),
                Err(e) if is_refusal(&e) => refused.push("password".to_owned()),
                Err(e) => return Err(lost(addr, &e)),
            }
            if ask(&mut offered)? {
                return done(NO_CREDENTIAL.to_owned(), refused, offered);
            }
        }
        // Servers with `PasswordAuthentication no` often take the password through PAM's
        // keyboard-interactive prompt instead.
        if !offered.offers("password") && offered.offers("keyboard-interactive") {
            let mut answer = PasswordAnswer {
                password,
                answered: false,
            };
            match session.userauth_keyboard_interactive(&target.user, &mut answer) {
                Ok(()) if session.authenticated() => {
                    return done(
                        "keyboard-interactive (password)".to_owned(),
                        refused,
                        offered,
                    );
                }
                Ok(()) => refused.push("keyboard-interactive".to_owned()),
                Err(e) if is_refusal(&e) => refused.push("keyboard-interactive".to_owned()),
                Err(e) => return Err(lost(addr, &e)),
            }
        }
    }
    let offered = offered.ask()?;
    Err(SshError::AuthFailed {
        user: target.user.clone(),
        host: target.host.clone(),
        tried: if refused.is_empty() {
            "none of the given credentials fits".to_owned()
        } else {
            refused.join(", ")
        },
        offered: if offered.is_empty() {
            "nothing".to_owned()
        } else {
            offered.join(",")
        },
    })
}

fn session_code(e: &ssh2::Error) -> Option<i32> {
    match e.code() {
        ErrorCode::Session(c) => Some(c),
        ErrorCode::SFTP(_) => None,
    }
}

fn is_refusal(e: &ssh2::Error) -> bool {
    matches!(
        session_code(e),
        Some(LIBSSH2_ERROR_AUTHENTICATION_FAILED | LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED)
    )
}

/// Tries the key file: `Ok(true)` logged in, `Ok(false)` refused by the server.
fn try_key(session: &Session, user: &str, id: &Identity, addr: &str) -> Result<bool, SshError> {
    let passphrase = id.passphrase.as_ref().map(Secret::expose);
    match session.userauth_pubkey_file(user, None, &id.key.path, passphrase) {
        Ok(()) => Ok(true),
        Err(e) if is_refusal(&e) => Ok(false),
        Err(e) => {
            let code = session_code(&e);
            let wrong_passphrase = code == Some(LIBSSH2_ERROR_KEYFILE_AUTH_FAILED)
                // libssh2 cannot tell a bad passphrase of an OpenSSH-format key from a broken
                // file; we checked the file's header already, so a passphrase is the culprit.
                || (code == Some(LIBSSH2_ERROR_FILE) && id.key.encrypted && id.key.format == KeyFormat::OpenSsh);
            if wrong_passphrase {
                Err(SshError::WrongPassphrase {
                    file: id.key.path.clone(),
                })
            } else if code == Some(LIBSSH2_ERROR_FILE) {
                Err(SshError::KeyFile {
                    file: id.key.path.clone(),
                    reason: format!("libssh2 cannot use it: {}", e.message()),
                })
            } else {
                Err(lost(addr, &e))
            }
        }
    }
}

/// Tries every key the agent holds. Returns whether one worked and a label for the report.
fn try_agent(
    session: &Session,
    user: &str,
    socket: &str,
    addr: &str,
) -> Result<(bool, String), SshError> {
    let agent_err = |e: ssh2::Error| SshError::Agent {
        socket: socket.to_owned(),
        reason: e.message().to_owned(),
    };
    let mut agent = session.agent().map_err(agent_err)?;
    agent.connect().map_err(agent_err)?;
    agent.list_identities().map_err(agent_err)?;
    let keys = agent.identities().map_err(agent_err)?;
    if keys.is_empty() {
        return Err(SshError::Agent {
            socket: socket.to_owned(),
            reason: "the agent holds no keys (ssh-add KEY)".to_owned(),
        });
    }
    for key in &keys {
        match agent.userauth(user, key) {
            Ok(()) => {
                let label = format!("publickey (ssh-agent key {})", non_empty(key.comment()));
                return Ok((true, label));
            }
            Err(e) if is_refusal(&e) => {}
            Err(e) => return Err(lost(addr, &e)),
        }
    }
    Ok((false, format!("publickey (ssh-agent, {} keys)", keys.len())))
}

fn non_empty(comment: &str) -> &str {
    if comment.is_empty() {
        "without comment"
    } else {
        comment
    }
}

/// Answers a keyboard-interactive password prompt (PAM's `Password: `) once with the password.
struct PasswordAnswer<'a> {
    password: &'a Secret,
    answered: bool,
}

impl KeyboardInteractivePrompt for PasswordAnswer<'_> {
    fn prompt<'b>(
        &mut self,
        _user: &str,
        _instructions: &str,
        prompts: &[Prompt<'b>],
    ) -> Vec<String> {
        prompts
            .iter()
            .map(|p| {
                if !self.answered && !p.echo && p.text.to_ascii_lowercase().contains("password") {
                    self.answered = true;
                    self.password.expose().to_owned()
                } else {
                    String::new()
                }
            })
            .collect()
    }
}
