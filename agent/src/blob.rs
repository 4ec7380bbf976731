//! A small Azure Blob REST client for SAS URLs: the few requests vmcert makes (HEAD, ranged GET,
//! Put Blob), with bounded retries on timeouts and server errors, and errors that never carry the
//! signature.
//!
//! Why not the `azure_storage_blob` SDK: 1.1.0 builds with Rust 1.95 and accepts a SAS URL
//! (tested against Azurite: 201), but it adds 33 crates (azure_core, typespec...) for three
//! requests, and the `Debug` form of its transport errors contains the reqwest URL with `sig=`.
//! reqwest (rustls) is already in the dependency tree through winrm-rs.
//!
//! Blocking on purpose: callers are synchronous commands. Do not call from inside a Tokio runtime
//! thread (reqwest's blocking client refuses); [`crate::upload::upload_report`] runs it on its own
//! thread for that reason.

use std::io::Read as _;
use std::sync::mpsc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::HeaderMap;

use crate::sas::{SasUrl, redact};

/// REST API version sent as `x-ms-version` (supported by Azure and by Azurite 3.35).
pub(crate) const API_VERSION: &str = "2023-11-03";

/// How often and how patiently a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Attempts in total, at least 1.
    pub attempts: u32,
    /// Wait after the first failed attempt; doubled after each further one.
    pub first_delay: Duration,
}

impl RetryPolicy {
    /// Four attempts, waiting 0.5 s, 1 s, 2 s in between (3.5 s at most).
    pub(crate) const DEFAULT: Self = Self {
        attempts: 4,
        first_delay: Duration::from_millis(500),
    };

    /// The wait after failed attempt `n` (1-based).
    pub(crate) fn delay(&self, n: u32) -> Duration {
        self.first_delay
            .saturating_mul(1 << n.saturating_sub(1).min(16))
    }
}

/// What one attempt came to.
#[derive(Debug)]
pub(crate) enum Attempt<T> {
    /// Finished (successfully or with an answer that retrying will not change).
    Done(T),
    /// Failed in a way worth retrying; the text says how.
    Retry(String),
    /// Failed in a way that retrying would only repeat at length: a server that let a whole
    /// request time out (a silent endpoint would otherwise cost every attempt's timeout).
    Stop(String),
}

/// Runs `op` until it is [`Attempt::Done`] or the policy's attempts are used up; `sleep` waits
/// between attempts. Returns the outcome and the number of attempts made, or the last failure.
pub(crate) fn with_retries<T>(
    policy: RetryPolicy,
    mut op: impl FnMut() -> Attempt<T>,
    mut sleep: impl FnMut(Duration),
) -> Result<(T, u32), (String, u32)> {
    let mut n = 1;
    loop {
        match op() {
            Attempt::Done(v) => return Ok((v, n)),
            Attempt::Stop(why) => return Err((why, n)),
            Attempt::Retry(why) if n >= policy.attempts.max(1) => return Err((why, n)),
            Attempt::Retry(why) => {
                tracing::info!("attempt {n} failed ({why}); retrying");
                sleep(policy.delay(n));
                n += 1;
            }
        }
    }
}

/// Runs `work` (a whole command's requests) on a thread of its own and waits for it at most
/// `limit`: each request has its own timeout, but a server that answers every request just
/// before that timeout (or a body that trickles in a byte at a time) would otherwise stretch a
/// command to the sum of them (issue 17 item 13: `vhd inspect` of a silent endpoint took 243 s).
/// Past `limit` the error says what gave up and which flag sets the limit; the thread is left
/// to the process's exit (it only holds a socket).
///
/// # Errors
/// `work`'s own error, or the deadline.
pub(crate) fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    flag: &str,
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("blob".into())
        .spawn(move || {
            // The receiver is gone only after the deadline: nothing waits for this result.
            let _ = tx.send(work());
        })
        .map_err(|e| anyhow::anyhow!("cannot start a thread for {what}: {e}"))?;
    match rx.recv_timeout(limit) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(anyhow::anyhow!(
            "{what} did not finish within {} s: the server is not answering or answers too slowly (the limit is {flag})",
            limit.as_secs_f64()
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(anyhow::anyhow!("{what} stopped: its thread panicked"))
        }
    }
}

/// Whether a status is worth retrying: request timeout, throttling and server errors.
pub(crate) fn retryable(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

/// An answer from the service.
#[derive(Debug)]
pub(crate) struct Reply {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body, at most the limit given to [`BlobClient::send`].
    pub body: Vec<u8>,
}

impl Reply {
    /// A header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The storage error code (`x-ms-error-code`, else `<Code>` of the XML body).
    pub(crate) fn error_code(&self) -> Option<String> {
        self.header("x-ms-error-code")
            .map(str::to_string)
            .or_else(|| xml_tag(&self.body, "Code"))
    }

    /// `HTTP 403 AuthorizationFailure (first line of the service's message)`: one line, whatever
    /// the service sent.
    pub(crate) fn describe(&self) -> String {
        let mut s = format!("HTTP {}", self.status.as_u16());
        if let Some(code) = self.error_code()
            && let Some(code) = first_line(&code)
        {
            s.push(' ');
            s.push_str(code);
        }
        if let Some(msg) = xml_tag(&self.body, "Message")
            && let Some(first) = first_line(&msg)
        {
            s.push_str(&format!(" ({first})"));
        }
        redact(&s)
    }
}

/// The first non-blank run of `s` between control characters (line breaks, carriage returns),
/// trimmed.
fn first_line(s: &str) -> Option<&str> {
    s.split(char::is_control)
        .map(str::trim)
        .find(|l| !l.is_empty())
}

fn xml_tag(body: &[u8], tag: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let open = format!("<{tag}>");
    let start = text.find(&open)? + open.len();
    let end = text[start..].find(&format!("</{tag}>"))? + start;
    Some(text[start..end].to_string())
}

/// A request that failed for good.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {reason} (after {attempts} attempt{})", if *.attempts == 1 { "" } else { "s" })]
pub(crate) struct GaveUp {
    /// What was being done (`GET https://.../disk.vhd`, no query).
    pub what: String,
    /// The last failure, redacted.
    pub reason: String,
    /// Attempts made.
    pub attempts: u32,
}

/// One request, rebuilt for every attempt.
pub(crate) struct Request<'a> {
    /// `GET`, `HEAD`, `PUT`.
    pub method: reqwest::Method,
    /// Target (its SAS carries the signature).
    pub url: &'a SasUrl,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// Body to send.
    pub body: Option<&'a [u8]>,
    /// Most bytes of the response body kept.
    pub max_body: u64,
}

/// The HTTP client.
pub(crate) struct BlobClient {
    http: Client,
    policy: RetryPolicy,
    requests: u32,
}

/// The error text of a transport failure: reqwest's message and its causes, without the URL.
fn transport_reason(e: reqwest::Error) -> String {
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut s = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    if timeout && !s.contains("timed out") {
        s.push_str(" (timed out)");
    }
    redact(&s)
}

impl BlobClient {
    /// A client whose requests time out after `timeout`.
    pub(crate) fn new(timeout: Duration, policy: RetryPolicy) -> anyhow::Result<Self> {
        let http = Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .timeout(timeout)
            .user_agent(concat!("vmcert/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                anyhow::anyhow!("cannot set up the HTTP client: {}", transport_reason(e))
            })?;
        Ok(Self {
            http,
            policy,
            requests: 0,
        })
    }

    /// Requests sent so far (every attempt counts).
    pub(crate) const fn requests(&self) -> u32 {
        self.requests
    }

    fn build(&self, r: &Request<'_>) -> RequestBuilder {
        let mut b = self
            .http
            .request(r.method.clone(), r.url.secret_url().clone())
            .header("x-ms-version", API_VERSION);
        for (k, v) in &r.headers {
            b = b.header(*k, v);
        }
        if let Some(body) = r.body {
            b = b.body(body.to_vec());
        }
        b
    }

    /// Sends `r`, retrying timeouts, connection failures and retryable statuses
    /// ([`retryable`]). Any other status, success or not, is returned for the caller to judge.
    pub(crate) fn send(&mut self, r: &Request<'_>) -> Result<Reply, GaveUp> {
        let what = format!("{} {}", r.method, r.url.without_query());
        let policy = self.policy;
        let mut sent = 0;
        let result = with_retries(
            policy,
            || {
                sent += 1;
                tracing::debug!("{what} (attempt {sent})");
                let resp = match self.build(r).send() {
                    Ok(resp) => resp,
                    Err(e) if e.is_timeout() => return Attempt::Stop(transport_reason(e)),
                    Err(e) => return Attempt::Retry(transport_reason(e)),
                };
                let status = resp.status();
                let headers = resp.headers().clone();
                let mut body = Vec::new();
                if let Err(e) = resp.take(r.max_body).read_to_end(&mut body) {
                    return Attempt::Retry(redact(&format!("reading the response: {e}")));
                }
                let reply = Reply {
                    status,
                    headers,
                    body,
                };
                if retryable(status) {
                    return Attempt::Retry(reply.describe());
                }
                Attempt::Done(reply)
            },
            std::thread::sleep,
        );
        self.requests += sent;
        result
            .map(|(reply, _)| reply)
            .map_err(|(reason, attempts)| GaveUp {
                what,
                reason,
                attempts,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn backoff_doubles() {
        let p = RetryPolicy::DEFAULT;
        let d: Vec<u128> = (1..=3).map(|n| p.delay(n).as_millis()).collect();
        assert_eq!(d, [500, 1000, 2000]);
    }

    #[test]
    fn retries_until_done_and_waits_between() {
        let waits = RefCell::new(Vec::new());
        let mut calls = 0;
        let r = with_retries(
            RetryPolicy::DEFAULT,
            || {
                calls += 1;
                if calls < 3 {
                    Attempt::Retry(format!("HTTP 503 #{calls}"))
                } else {
                    Attempt::Done("ok")
                }
            },
            |d| waits.borrow_mut().push(d.as_millis()),
        );
        assert_eq!(r, Ok(("ok", 3)));
        assert_eq!(*waits.borrow(), [500, 1000]);
    }

    #[test]
    fn gives_up_after_the_bound_with_the_last_reason() {
        let mut calls = 0;
        let r: Result<((), u32), _> = with_retries(
            RetryPolicy {
                attempts: 3,
                first_delay: Duration::ZERO,
            },
            || {
                calls += 1;
                Attempt::Retry(format!("timed out #{calls}"))
            },
            |_| {},
        );
        assert_eq!(r, Err(("timed out #3".to_string(), 3)));
        assert_eq!(calls, 3);
    }

    /// Issue 17 item 13: an endpoint that accepts connections and never answers costs one
    /// request timeout, not one per attempt.
    #[test]
    fn a_silent_endpoint_is_not_retried() {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let url = SasUrl::parse(&format!(
            "http://127.0.0.1:{port}/acct/c/b.zip?sp=cw&sig=SECRET"
        ))
        .unwrap();
        let mut client = BlobClient::new(Duration::from_secs(1), RetryPolicy::DEFAULT).unwrap();
        let r = client.send(&Request {
            method: reqwest::Method::GET,
            url: &url,
            headers: Vec::new(),
            body: None,
            max_body: 1024,
        });
        let Err(e) = r else {
            panic!("a silent endpoint answered")
        };
        assert_eq!(e.attempts, 1, "{e}");
        assert!(!e.to_string().contains("SECRET"), "{e}");
        drop(silent);
    }

    #[test]
    fn a_final_answer_is_not_retried() {
        let mut calls = 0;
        let r = with_retries(
            RetryPolicy::DEFAULT,
            || {
                calls += 1;
                Attempt::Done(403)
            },
            |_| panic!("no wait"),
        );
        assert_eq!(r, Ok((403, 1)));
    }

    #[test]
    fn which_statuses_are_retried() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [200, 201, 206, 400, 403, 404, 409, 412] {
            assert!(!retryable(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }

    #[test]
    fn storage_errors_are_described_from_header_and_xml() {
        // What Azurite 3.35.0 answered to a Put Blob with a read-only (sp=rl) container SAS.
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ms-error-code",
            "AuthorizationPermissionMismatch".parse().unwrap(),
        );
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Error>\n  <Code>AuthorizationPermissionMismatch</Code>\n  <Message>This request is not authorized to perform this operation using this permission.\nRequestId:40a6bbd1-af23-42ba-88e0-a2d14e9f3bd9\nTime:2026-11-21T23:27:15.725Z</Message>\n</Error>".to_vec();
        let r = Reply {
            status: StatusCode::FORBIDDEN,
            headers,
            body,
        };
        assert_eq!(
            r.error_code().as_deref(),
            Some("AuthorizationPermissionMismatch")
        );
        assert_eq!(
            r.describe(),
            "HTTP 403 AuthorizationPermissionMismatch (This request is not authorized to perform this operation using this permission.)"
        );
        let bare = Reply {
            status: StatusCode::FORBIDDEN,
            headers: HeaderMap::new(),
            body: r.body.clone(),
        };
        assert_eq!(
            bare.error_code().as_deref(),
            Some("AuthorizationPermissionMismatch"),
            "from the XML body"
        );
        let empty = Reply {
            status: StatusCode::NOT_FOUND,
            headers: HeaderMap::new(),
            body: Vec::new(),
        };
        assert_eq!(empty.describe(), "HTTP 404");
        // Found by the property tests (issue 17): a code or message of several lines, or one
        // quoting the signature after `>`, came out as such.
        let hostile = Reply {
            status: StatusCode::FORBIDDEN,
            headers: HeaderMap::new(),
            body: b"<Code>\nBad\r\x1b[2J</Code><Message>\r\nsig=SECRET\nmore</Message>".to_vec(),
        };
        // (A value runs past brackets, which a hostile signature may hold: the `)` goes too.)
        assert_eq!(hostile.describe(), "HTTP 403 Bad (sig=REDACTED");
    }
}

/// Property tests (proptest, on stable; `fuzz/run.sh` runs them longer) of the storage error
/// reader, with the server as the adversary: any status, error-code header and body give one
/// line, `HTTP <status>` first, without a signature the body quotes; never a panic.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    fn body() -> impl Strategy<Value = Vec<u8>> {
        let part = prop_oneof![
            Just("<Code>".to_string()),
            Just("</Code>".to_string()),
            Just("<Message>".to_string()),
            Just("</Message>".to_string()),
            Just("\n".to_string()),
            Just("https://a.blob.core.windows.net/c/b?sv=1&sig=SeCrEt1".to_string()),
            Just("sig=SeCrEt2".to_string()),
            ".{0,20}",
        ];
        prop_oneof![
            prop::collection::vec(part, 0..12).prop_map(|p| p.concat().into_bytes()),
            prop::collection::vec(any::<u8>(), 0..200),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            crate::proptest_cases::cases(128)
        ))]

        #[test]
        fn any_error_reply_is_described_on_one_line(
            status in 100..1000u16,
            code in prop::option::of("[ -~]{0,30}"),
            body in body(),
        ) {
            let mut headers = HeaderMap::new();
            if let Some(c) = code
                && let Ok(v) = c.parse()
            {
                headers.insert("x-ms-error-code", v);
            }
            let r = Reply { status: StatusCode::from_u16(status).unwrap(), headers, body };
            let d = r.describe();
            prop_assert!(d.starts_with(&format!("HTTP {status}")), "{}", d);
            prop_assert!(!d.contains('\n') && !d.contains('\r'), "{:?}", d);
            prop_assert!(!d.contains("SeCrEt"), "{}", d);
        }
    }
}
