//! The SSH transport for Linux targets: parse `ssh://USER@HOST[:PORT]`, connect with a timeout
//! and TCP_NODELAY, verify the host key against known_hosts or a pin before sending anything
//! secret, log in with a key file, ssh-agent or password, and run commands over channels of that
//! one session. Built on `ssh2` (libssh2 1.11, vendored). The runner keeps one [`SshSession`]
//! per target and sends the whole probe script over one channel; `vmcert connect` uses the same
//! session to report what a run would find.
//!
//! Order of use: [`SshSetup::from_options`] (options and secrets, no network), then
//! [`SshSession::connect`], then [`SshSession::exec`] and [`sudo::check`], and
//! [`SshSession::exec_streaming`] for the probe script (`crate::target::ssh::transport`).

mod auth;
mod config;
mod error;
mod host_key;
pub(crate) mod keyfile;
pub(crate) mod known_hosts;
mod session;
mod setup;
mod stream;
pub(crate) mod sudo;
pub(crate) mod target;
pub(crate) mod transport;

pub(crate) use transport::KIND;

pub(crate) use auth::{AuthReport, MethodList};
pub(crate) use host_key::Trust;
pub(crate) use session::SshSession;
pub(crate) use setup::SshSetup;
pub(crate) use stream::StreamEnd;
