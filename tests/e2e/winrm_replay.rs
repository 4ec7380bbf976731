//! Pins vmcert's WinRM protocol layer (the vendored winrm-rs client, as the transport drives
//! it) to what real Windows answers, not to what the project's own test server believes it
//! answers: a small HTTP server replays WinRS response envelopes recorded from a real Windows
//! host (tests/winrm/recorded/pypsrp-winrs.txt, from pypsrp's test recordings; source and
//! licence in its header), and the client must read them as Windows meant them: the shell and
//! command ids, stdin sent in pieces as one stream to `powershell.exe -`, stdout in several
//! `rsp:Stream` pieces, `CommandState/Done` with its exit code, and the `w:TimedOut` fault of a
//! long poll that found no output, which the transport (target/winrm/session.rs) treats as "ask
//! again". The replay server also checks that every request of the client names the recorded
//! shell and command, so a client that lost or invented an id fails here.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use winrm_rs::{
    AuthMethod, EncryptionMode, Shell, SoapError, WinrmClient, WinrmConfig, WinrmCredentials,
    WinrmError,
};

use crate::winrm_server::winrm_dir;

/// The recorded responses of one recording, per WS-Man action, in recorded order.
fn recording(name: &str) -> BTreeMap<String, VecDeque<String>> {
    let path = winrm_dir().join("recorded/pypsrp-winrs.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out: BTreeMap<String, VecDeque<String>> = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(head) = line.strip_prefix("== ") else {
            continue;
        };
        let (rec, action) = head.split_once(' ').unwrap();
        let body = lines.next().unwrap().to_string();
        if rec == name {
            out.entry(action.to_string()).or_default().push_back(body);
        }
    }
    assert!(
        !out.is_empty(),
        "no recording `{name}` in {}",
        path.display()
    );
    out
}

/// What the replay server saw.
#[derive(Default)]
struct Seen {
    actions: Vec<String>,
    problems: Vec<String>,
}

/// Serves `responses` over plain HTTP: each request gets the next recorded response of its
/// action (HTTP 500 for a SOAP fault, as Windows sends it). Every request but Create must name
/// `shell`; Send, Receive and Signal must also name `command`.
fn replay(
    mut responses: BTreeMap<String, VecDeque<String>>,
    shell: &'static str,
    command: &'static str,
) -> (u16, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut length = 0usize;
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = l.split_once(':')
                        && k.eq_ignore_ascii_case("content-length")
                    {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let body = String::from_utf8_lossy(&body).to_string();
                let action = body
                    .split("Action")
                    .nth(1)
                    .and_then(|s| s.split('<').next())
                    .and_then(|s| s.rsplit('/').next())
                    .unwrap_or("?")
                    .to_string();
                let mut seen = log.lock().unwrap();
                seen.actions.push(action.clone());
                if action != "Create" && !body.contains(shell) {
                    seen.problems
                        .push(format!("{action} does not name shell {shell}"));
                }
                if matches!(action.as_str(), "Send" | "Receive" | "Signal")
                    && !body.contains(command)
                {
                    seen.problems
                        .push(format!("{action} does not name command {command}"));
                }
                drop(seen);
                let reply = responses.get_mut(&action).and_then(VecDeque::pop_front);
                let (status, reply) = match reply {
                    Some(r) if r.contains("<s:Fault>") => ("500 Internal Server Error", r),
                    Some(r) => ("200 OK", r),
                    // Not recorded (Delete, Signal): an empty success, which the test ignores.
                    None => ("200 OK", String::new()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
                    reply.len()
                );
                if stream.write_all(head.as_bytes()).is_err()
                    || stream.write_all(reply.as_bytes()).is_err()
                {
                    break;
                }
            }
        }
    });
    (port, seen)
}

fn client(port: u16) -> WinrmClient {
    let config = WinrmConfig {
        port,
        auth_method: AuthMethod::Basic,
        encryption: EncryptionMode::Never,
        operation_timeout_secs: 20,
        ..WinrmConfig::default()
    };
    WinrmClient::new(config, WinrmCredentials::new("vagrant", "recorded", "")).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `powershell.exe -` fed its script in two Send requests, as vmcert sends a long one: Windows
/// reads them as one stdin stream and answers with stdout in pieces, then Done and exit 0.
#[test]
fn recorded_powershell_stdin_session_reads_as_windows_sent_it() {
    const SHELL: &str = "0D6FCA9D-2D40-44C3-B691-E665BE7AA687";
    const COMMAND: &str = "B0973E54-434E-4D99-B4BE-ADE584CE3BFB";
    let (port, seen) = replay(recording("send"), SHELL, COMMAND);
    let c = client(port);
    runtime().block_on(async {
        let shell_id = c.create_shell("127.0.0.1").await.unwrap();
        assert_eq!(shell_id, SHELL);
        let shell = Shell::attach(&c, "127.0.0.1", &shell_id);
        let command = shell.start_command("powershell.exe", &["-"]).await.unwrap();
        assert_eq!(command, COMMAND);
        shell
            .send_input(&command, b"Write-Host \"output 1\";", false)
            .await
            .unwrap();
        shell
            .send_input(&command, b"Write-Host \"output 2\";", true)
            .await
            .unwrap();
        let out = shell.receive_next(&command).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "output 1\noutput 2\n");
        assert!(out.stderr.is_empty());
        assert!(out.done);
        assert_eq!(out.exit_code, Some(0));
        let _ = shell.close().await;
    });
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.actions[..5],
        ["Create", "Command", "Send", "Send", "Receive"]
    );
    assert!(seen.problems.is_empty(), "{:?}", seen.problems);
}

/// A long poll that found no output: Windows answers HTTP 500 with the `w:TimedOut` fault, and
/// the client must surface it as that fault (the transport then asks again), then read the rest.
#[test]
fn recorded_receive_timeouts_are_the_fault_the_transport_asks_again_on() {
    const SHELL: &str = "849551A1-CEC2-4ABD-8B62-652AD1053E9B";
    const COMMAND: &str = "D644AE56-61E5-4C1A-A135-E599B76B3035";
    let (port, seen) = replay(recording("operation_timeout"), SHELL, COMMAND);
    let c = client(port);
    runtime().block_on(async {
        let shell_id = c.create_shell("127.0.0.1").await.unwrap();
        let shell = Shell::attach(&c, "127.0.0.1", &shell_id);
        let command = shell
            .start_command(
                "powershell.exe",
                &["Write-Host hi; Start-Sleep 30; Write-Host hi again"],
            )
            .await
            .unwrap();
        let first = shell.receive_next(&command).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&first.stdout), "hi\n");
        assert!(!first.done);
        for _ in 0..2 {
            match shell.receive_next(&command).await {
                Err(WinrmError::Soap(SoapError::Fault { code, .. })) => {
                    assert!(code.ends_with("TimedOut"), "{code}");
                }
                Err(e) => panic!("expected the w:TimedOut fault, got {e:?}"),
                Ok(_) => panic!("expected the w:TimedOut fault, got output"),
            }
        }
        let last = shell.receive_next(&command).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&last.stdout), "hi again\n");
        assert!(last.done);
        assert_eq!(last.exit_code, Some(0));
        let _ = shell.close().await;
    });
    let seen = seen.lock().unwrap();
    assert!(seen.problems.is_empty(), "{:?}", seen.problems);
}
