//! Running one command on a channel and reading its stdout as it arrives, for the probe script:
//! [`SshSession::exec`] collects everything at the end, which would hold back every probe result
//! until the last probe finished and lose them all when the connection drops.
//!
//! The input (the sudo password line, then the script) is written whole and the channel's input
//! closed before anything is read: the script prints only its `start` line before it has read all
//! of its input, and sshd's 2 MiB channel window takes far more than a script, so the write cannot
//! wait on our reading. Then the session turns non-blocking and [`StreamingExec`] is a [`Read`]
//! of stdout that drains stderr on every turn (a shell that floods stderr can never fill the
//! window and stall stdout), waits on the socket with poll(2) in the direction libssh2 asks for,
//! and gives up at the deadline or at Ctrl-C (see `crate::interrupt`). Only reads happen in that
//! phase (libssh2 itself sends the window adjustments), so no partially sent packet can ever be
//! left behind by an interleaved write.

use std::io::{self, Read, Write as _};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use ssh2::{BlockDirections, Channel, ErrorCode};

use super::error::SshError;
use super::session::{SshSession, millis};

/// Longest single wait while writing the input (a stalled connection fails the write).
const WRITE_WAIT: Duration = Duration::from_secs(60);
/// Longest wait for the exit status and the end of stderr once stdout has ended.
const FINISH_WAIT: Duration = Duration::from_secs(10);
/// Longest poll(2): the deadline is checked at least this often.
const POLL_SLICE: Duration = Duration::from_secs(1);
/// libssh2: reading the socket failed (closed, reset, timed out by TCP keepalive).
const LIBSSH2_ERROR_SOCKET_RECV: i32 = -43;
/// libssh2: the server sent a disconnect.
const LIBSSH2_ERROR_SOCKET_DISCONNECT: i32 = -13;

/// How a streamed command ended.
#[derive(Debug, Clone, Default)]
pub(crate) struct StreamEnd {
    /// Exit status, when the server sent one.
    pub(crate) status: Option<i32>,
    /// The signal that killed the command, without `SIG`.
    pub(crate) signal: Option<String>,
    /// The first bytes of its stderr (see [`SshSession::exec_streaming`]).
    pub(crate) stderr: Vec<u8>,
    /// Why writing its input stopped early (the command exited before reading it all).
    pub(crate) input_error: Option<String>,
    /// The server closed the channel within [`FINISH_WAIT`] (it does not while a process left
    /// behind on the target holds the command's output open).
    pub(crate) closed: bool,
}

/// A command running on its own channel; reading it reads the command's stdout as it arrives.
/// Read errors say what happened in one line (connection lost, deadline passed). Call
/// [`StreamingExec::finish`] at the end of stdout or after an error.
pub(crate) struct StreamingExec<'s> {
    ssh: &'s SshSession,
    channel: Channel,
    started: Instant,
    deadline: Instant,
    stderr: Vec<u8>,
    stderr_cap: usize,
    input_error: Option<String>,
    /// The connection failed or the deadline passed: do not wait for an exit status.
    broken: bool,
}

impl SshSession {
    /// Runs `command` on a new channel, writes `stdin` to it and closes its input, and returns
    /// a reader of its stdout. Reads fail once `deadline` has passed since the start. The first
    /// `stderr_cap` bytes of stderr are kept for [`StreamingExec::finish`]; the rest is read and
    /// dropped. `command` is visible in the target's process list: never put a secret in it; a
    /// secret for the command goes first in `stdin`.
    ///
    /// # Errors
    /// When the channel cannot be opened or the command cannot be started.
    pub(crate) fn exec_streaming(
        &self,
        command: &str,
        stdin: &[u8],
        deadline: Duration,
        stderr_cap: usize,
    ) -> Result<StreamingExec<'_>, SshError> {
        let failed = |what: &str, e: &dyn std::fmt::Display| SshError::Session {
            addr: self.target().authority(),
            reason: format!("{what}: {e}"),
        };
        let started = Instant::now();
        self.session.set_blocking(true);
        self.session.set_timeout(millis(WRITE_WAIT));
        self.channels.set(self.channels.get() + 1);
        let mut channel = self
            .session
            .channel_session()
            .map_err(|e| failed("cannot open a channel", &e))?;
        channel
            .exec(command)
            .map_err(|e| failed("cannot start the command", &e))?;
        // A command that exits before reading all its input (sudo refusing) closes the channel
        // under the write: that is for the caller to judge from the output, not a failure here.
        let mut input_error = None;
        if let Err(e) = channel.write_all(stdin).and_then(|()| channel.flush()) {
            input_error = Some(format!("writing the command's input: {e}"));
        } else if let Err(e) = channel.send_eof() {
            input_error = Some(format!("closing the command's input: {e}"));
        }
        self.session.set_blocking(false);
        Ok(StreamingExec {
            ssh: self,
            channel,
            started,
            deadline: started + deadline,
            stderr: Vec::new(),
            stderr_cap,
            input_error,
            broken: false,
        })
    }
}

impl StreamingExec<'_> {
    /// Reads whatever stderr has arrived, without waiting.
    fn drain_stderr(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 8192];
        loop {
            match self.channel.stderr().read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    let room = self.stderr_cap.saturating_sub(self.stderr.len());
                    self.stderr.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(self.lost(&e)),
            }
        }
    }

    fn lost(&mut self, e: &io::Error) -> io::Error {
        self.broken = true;
        // libssh2's own words ("transport read") say little; its error code says more.
        let why = match ssh2::Error::last_session_error(&self.ssh.session).map(|l| l.code()) {
            Some(ErrorCode::Session(LIBSSH2_ERROR_SOCKET_RECV)) => {
                "the target closed or reset it, or stopped answering".to_owned()
            }
            Some(ErrorCode::Session(LIBSSH2_ERROR_SOCKET_DISCONNECT)) => {
                "the server disconnected".to_owned()
            }
            _ => e.to_string(),
        };
        io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!(
                "the SSH connection to {} was lost after {} s ({why})",
                self.ssh.target().authority(),
                self.started.elapsed().as_secs()
            ),
        )
    }

    /// Waits until the socket is ready in the direction libssh2 is blocked on, or `limit`.
    fn wait(&mut self, limit: Duration) -> io::Result<()> {
        let flags = match self.ssh.session.block_directions() {
            BlockDirections::Outbound => PollFlags::OUT,
            BlockDirections::Both => PollFlags::IN | PollFlags::OUT,
            BlockDirections::Inbound | BlockDirections::None => PollFlags::IN,
        };
        let timeout = Timespec::try_from(limit).unwrap_or(Timespec {
            tv_sec: 1,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(&self.ssh.socket, flags)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
            Err(e) => Err(self.lost(&e.into())),
        }
    }

    /// Ends the command: collects the rest of stderr and the exit status, or, after a failure,
    /// closes the channel (sshd then closes the command's pipes and the script's traps kill what
    /// is still running) without waiting on a connection that is gone.
    pub(crate) fn finish(mut self) -> StreamEnd {
        let session = &self.ssh.session;
        session.set_blocking(true);
        session.set_timeout(millis(FINISH_WAIT));
        let mut end = StreamEnd {
            input_error: self.input_error.take(),
            ..StreamEnd::default()
        };
        if self.broken {
            let _ = self.channel.close();
        } else {
            let mut rest = Vec::new();
            let _ = self.channel.stderr().read_to_end(&mut rest);
            let room = self.stderr_cap.saturating_sub(self.stderr.len());
            self.stderr.extend_from_slice(&rest[..rest.len().min(room)]);
            if self.channel.wait_close().is_ok() {
                end.closed = true;
                end.status = self.channel.exit_status().ok();
                end.signal = self.channel.exit_signal().ok().and_then(|s| s.exit_signal);
            } else {
                let _ = self.channel.close();
            }
        }
        end.stderr = std::mem::take(&mut self.stderr);
        end
    }
}

impl Read for StreamingExec<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if crate::interrupt::requested() {
                self.broken = true;
                return Err(io::Error::other(crate::interrupt::CAUSE));
            }
            self.drain_stderr()?;
            match self.channel.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(self.lost(&e)),
            }
            let now = Instant::now();
            if now >= self.deadline {
                self.broken = true;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the command did not finish within {} s",
                        (self.deadline - self.started).as_secs()
                    ),
                ));
            }
            self.wait((self.deadline - now).min(POLL_SLICE))?;
        }
    }
}

impl Drop for StreamingExec<'_> {
    fn drop(&mut self) {
        // The session is shared with later exec calls, which expect blocking mode.
        self.ssh.session.set_blocking(true);
    }
}
