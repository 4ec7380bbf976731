//! Tests of the PowerShell probe script: the frame parser against hand-written streams, and the
//! generated script, the loader line and every Windows probe of the catalogue against a real
//! PowerShell grammar (tree-sitter-powershell), since no PowerShell runs on the build machine.

use super::*;

fn spec(id: &str, command: &str) -> ProbeSpec {
    ProbeSpec {
        id: id.to_string(),
        command: command.to_string(),
        needs_root: false,
        timeout_secs: 30,
        output_cap: 64,
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn marker(script: &PsScript) -> String {
    format!("#vmcert:{}:", script.nonce)
}

/// A frame line as the script writes it: marker, kind, HMAC of "<kind> <json>", JSON.
fn line(script: &PsScript, kind: &str, json: &str) -> String {
    let mac = script.key().mac(&format!("{kind} {json}"));
    format!("{}{kind} {mac} {json}\n", marker(script))
}

fn probe_json(i: usize, id: &str, rc: &str, stdout: &str) -> String {
    format!(
        "{{\"i\":{i},\"id\":\"{id}\",\"rc\":{rc},\"ms\":12,\"timed_out\":false,\"truncated\":false,\"error\":null,\"stdout_b64\":\"{}\",\"stderr_b64\":\"\"}}",
        b64(stdout)
    )
}

fn frame(script: &PsScript, i: usize, id: &str, rc: &str, stdout: &str) -> String {
    line(script, "probe", &probe_json(i, id, rc, stdout))
}

fn start(script: &PsScript, n: usize) -> String {
    line(
        script,
        "start",
        &format!("{{\"n\":{n},\"lanes\":2,\"ps\":\"5.1\",\"admin\":true,\"pid\":9}}"),
    )
}

fn done(script: &PsScript, n: usize) -> String {
    line(script, "done", &format!("{{\"n\":{n}}}"))
}

/// Syntax errors tree-sitter-powershell finds in `text`, as `line:col kind` strings.
fn syntax_errors(text: &str) -> Vec<String> {
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_powershell::LANGUAGE.into())
        .expect("load the PowerShell grammar");
    let tree = parser.parse(text, None).expect("parse");
    let mut errors = Vec::new();
    let mut cursor = tree.walk();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.is_error() || node.is_missing() {
            let p = node.start_position();
            let what = if node.is_missing() {
                format!("missing {}", node.kind())
            } else {
                let end = node.end_byte().min(node.start_byte() + 60);
                format!("unexpected `{}`", &text[node.start_byte()..end])
            };
            errors.push(format!("{}:{} {what}", p.row + 1, p.column + 1));
        }
        if node.has_error() {
            stack.extend(node.children(&mut cursor));
        }
    }
    errors
}

/// The body the loader lines carry: the `Append` lines joined and decoded.
fn body_of(text: &str) -> String {
    let b64: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("[void]$VmB.Append('"))
        .map(|l| l.strip_suffix("')").expect("an Append line ends with ')"))
        .collect();
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn probes_become_one_ascii_table_line_each_with_the_fragment_in_base64() {
    let mut root = spec(
        "bitlocker",
        "Get-BitLockerVolume | ConvertTo-Json -Compress\n",
    );
    root.needs_root = true;
    let s = PsScript::new(&[spec("os-info", "'Straße'"), root], 4).unwrap();
    assert!(s.text().is_ascii(), "the script must be pure ASCII");
    let text = body_of(s.text());
    assert!(text.is_ascii(), "the body must be pure ASCII");
    assert!(text.contains(&format!(
        "@{{ Index = 0; Id = 'os-info'; Timeout = 30; Cap = 64; Admin = $false; After = -1; Code = '{}' }}\n",
        b64("'Straße'")
    )));
    assert!(text.contains("Index = 1; Id = 'bitlocker'; Timeout = 30; Cap = 64; Admin = $true;"));
    assert!(text.starts_with(&format!("#vmcert-begin:{}\r\n", s.nonce)));
    assert!(
        text.trim_end()
            .ends_with(&format!("#vmcert-end:{}", s.nonce))
    );
    // The marker is only ever assembled at run time.
    assert!(
        !s.text().contains(&marker(&s)) && !text.contains(&marker(&s)),
        "the script text holds a frame marker"
    );
}

/// The loader as Windows PowerShell 5.1's console host meets it with `-Command -`: it reads
/// stdin itself, through its own buffered reader, one line at a time, and runs each line as a
/// statement (a multi-line block would wait for a blank line). So every line must be a
/// complete statement, and nothing may read `[Console]::In`, whose reader would find the first
/// ~4 KB already taken by the host's buffer.
#[test]
fn the_loader_is_one_line_statements_the_host_reads_itself() {
    let probes: Vec<ProbeSpec> = (0..40)
        .map(|n| spec(&format!("p{n}"), &"'x' * 200\n".repeat(60)))
        .collect();
    let s = PsScript::new(&probes, 4).unwrap();
    let text = s.text();
    assert!(text.len() > 40_000, "a script this size spans many chunks");
    assert!(
        !text.contains("[Console]::In"),
        "nothing reads [Console]::In"
    );
    assert!(!body_of(text).contains("[Console]::In"));
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0], "",
        "line 1 is empty: a stray byte-order mark lands there alone"
    );
    assert_eq!(lines[1], "$VmB = New-Object System.Text.StringBuilder");
    let appends = lines
        .iter()
        .filter(|l| l.starts_with("[void]$VmB.Append('"))
        .count();
    assert!(appends > 10, "{appends} Append lines");
    let check = lines[2 + appends];
    assert!(check.starts_with("$VmWhy=''"), "{check}");
    assert_eq!(
        &lines[3 + appends..],
        ["", ""],
        "then blank lines and the end of stdin"
    );
    for (n, line) in lines.iter().enumerate() {
        assert!(
            line.len() <= CHUNK + 64 || n == 2 + appends,
            "line {n} is {} long",
            line.len()
        );
        if !line.is_empty() {
            assert_eq!(
                syntax_errors(line),
                Vec::<String>::new(),
                "line {n}: {line}"
            );
        }
        assert!(!line.contains('\n'), "line {n} holds a bare LF");
    }
    // The check line holds the body's length and SHA-256, and tests both markers.
    let body = body_of(text);
    use sha2::Digest as _;
    let sha: String = sha2::Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert!(
        check.contains(&format!("$VmBytes.Length -ne {})", body.len())),
        "{check}"
    );
    assert!(check.contains(&format!("$VmSha -ne '{sha}'")), "{check}");
    assert!(check.contains(&format!("StartsWith('#vmcert-begin:'+'{}')", s.nonce)));
    assert!(check.contains(&format!("EndsWith('#vmcert-end:'+'{}')", s.nonce)));
    assert!(
        check.contains("TrimStart([char]0xFEFF)"),
        "a byte-order mark is tolerated"
    );
    assert!(
        check.contains("SHA256CryptoServiceProvider"),
        "FIPS-mode safe"
    );
    assert!(
        check.contains("& ([ScriptBlock]::Create($VmText))"),
        "the body runs as one block"
    );
}

#[test]
fn one_long_probe_does_not_multiply_the_deadline() {
    let mut probes: Vec<ProbeSpec> = (0..20).map(|n| spec(&format!("p{n}"), "1")).collect();
    probes[0].timeout_secs = 600;
    let s = PsScript::new(&probes, 4).unwrap();
    // 600 + 19 * 30 s of probes, each +5 s, in 4 lanes: at most 1270 / 4 + 605 + 120 s.
    assert_eq!(s.deadline(), Duration::from_secs(318 + 605 + 120));
}

/// The catalogue's order (`Get-WindowsFeature` never beside the update search) is in the table:
/// `windows-features` carries the index of `pending-updates`, every other probe -1, and the
/// scheduler starts a probe only once its `After` probe has ended, letting later ones pass.
#[test]
fn the_feature_query_waits_for_the_update_search_and_nothing_else_waits() {
    let probes = [
        spec("pending-updates", "1"),
        spec("os-info", "2"),
        spec("windows-features", "3"),
        spec("rdp-settings", "4"),
    ];
    let s = PsScript::new(&probes, 4).unwrap();
    let body = body_of(s.text());
    let after = |id: &str| -> String {
        let row = body
            .lines()
            .find(|l| l.contains(&format!("Id = '{id}';")))
            .unwrap();
        row.split("After = ")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(after("windows-features"), "0");
    for id in ["pending-updates", "os-info", "rdp-settings"] {
        assert_eq!(after(id), "-1", "{id} runs in parallel");
    }
    // The scheduler: table order, a waiting probe skipped (not blocking the lane), a probe
    // marked ended whether it finished or was stopped at its timeout.
    assert!(body.contains("foreach ($probe in @($waiting)) {"));
    assert!(body.contains("if ($probe.After -lt 0 -or $ended.ContainsKey($probe.After)) {"));
    assert!(
        body.contains(
            "Complete-VmProbe $job $late\n                $ended[$job.Probe.Index] = $true"
        )
    );
    assert_eq!(syntax_errors(&body), Vec::<String>::new());

    // Without the update search in the run, the feature query waits for nothing.
    let s = PsScript::new(&probes[1..], 4).unwrap();
    assert!(!body_of(s.text()).contains("After = 0;"));
    assert!(
        body_of(s.text()).contains(
            "Id = 'windows-features'; Timeout = 30; Cap = 64; Admin = $false; After = -1;"
        )
    );
}

#[test]
fn a_probe_cannot_wait_for_a_later_one_or_for_two() {
    let later = [spec("windows-features", "1"), spec("pending-updates", "2")];
    assert_eq!(
        PsScript::new(&later, 4).unwrap_err(),
        ScriptError::Order("windows-features".into(), "pending-updates".into())
    );
    let two = [spec("a", "1"), spec("b", "2"), spec("c", "3")];
    assert_eq!(
        PsScript::with_order(&two, 4, &[("c", "a"), ("c", "b")]).unwrap_err(),
        ScriptError::Order("c".into(), "b".into())
    );
    // A chain is fine: each probe waits for one earlier probe.
    let s = PsScript::with_order(&two, 1, &[("b", "a"), ("c", "b")]).unwrap();
    let body = body_of(s.text());
    assert!(body.contains("Id = 'b'; Timeout = 30; Cap = 64; Admin = $false; After = 0;"));
    assert!(body.contains("Id = 'c'; Timeout = 30; Cap = 64; Admin = $false; After = 1;"));
}

#[test]
fn the_deadline_counts_the_feature_query_after_the_update_search() {
    let mut probes: Vec<ProbeSpec> = (0..18).map(|n| spec(&format!("p{n}"), "1")).collect();
    let mut search = spec("pending-updates", "1");
    search.timeout_secs = 600;
    let mut features = spec("windows-features", "1");
    features.timeout_secs = 180;
    probes.insert(0, search);
    probes.insert(5, features);
    let s = PsScript::new(&probes, 4).unwrap();
    // 605 + 185 + 18 * 35 = 1420 s of probes in 4 lanes, then the chain 605 + 185 s.
    assert_eq!(s.deadline(), Duration::from_secs(355 + 790 + 120));
    // Unordered, the longest single probe bounds it.
    let s = PsScript::with_order(&probes, 4, &[]).unwrap();
    assert_eq!(s.deadline(), Duration::from_secs(355 + 605 + 120));
}

#[test]
fn a_byte_order_mark_before_a_frame_is_ignored() {
    let s = PsScript::new(&[spec("a", "1")], 1).unwrap();
    let mut p = s.parser();
    let stream = format!(
        "\u{FEFF}{}\u{FEFF}{}{}",
        start(&s, 1).replace('\n', "\r\n"),
        frame(&s, 0, "a", "0", "ok"),
        done(&s, 1).replace('\n', "\r\n"),
    );
    let got = p.feed(stream.as_bytes());
    assert_eq!(got.len(), 1);
    assert!(p.is_done() && p.header().is_some());
    assert_eq!(p.noise_lines(), 0);
}

#[test]
fn bad_probe_lists_are_refused() {
    assert_eq!(
        PsScript::new(&[spec("Bad Id", "x")], 4).unwrap_err(),
        ScriptError::BadId("Bad Id".into())
    );
    assert_eq!(
        PsScript::new(&[spec("a", "x"), spec("a", "y")], 4).unwrap_err(),
        ScriptError::Duplicate("a".into())
    );
    let mut zero = spec("a", "x");
    zero.timeout_secs = 0;
    assert_eq!(
        PsScript::new(&[zero], 4).unwrap_err(),
        ScriptError::Zero("a".into())
    );
    assert_eq!(
        PsScript::new(&[spec("a", "x")], 0).unwrap_err(),
        ScriptError::NoLanes
    );
}

#[test]
fn frames_stream_in_any_order_across_arbitrary_chunks() {
    let s = PsScript::new(&[spec("a", "1"), spec("b", "2"), spec("c", "3")], 2).unwrap();
    let mut p = s.parser();
    let stream = format!(
        "Windows PowerShell noise\r\n{}{}{}{}{}",
        start(&s, 3).replace('\n', "\r\n"),
        frame(&s, 1, "b", "0", "{\"x\":1}\n"),
        frame(&s, 0, "a", "1", ""),
        frame(&s, 2, "c", "0", "three"),
        done(&s, 3).replace('\n', "\r\n"),
    );
    let mut got = Vec::new();
    for chunk in stream.as_bytes().chunks(7) {
        got.extend(p.feed(chunk));
    }
    got.extend(p.finish());
    let ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["b", "a", "c"]);
    assert_eq!(got[0].output.stdout, b"{\"x\":1}\n");
    assert_eq!(got[0].output.exit_code, Some(0));
    assert_eq!(got[0].output.duration_ms, 12);
    assert_eq!(got[1].output.exit_code, Some(1));
    assert!(p.is_done());
    assert_eq!(p.noise_lines(), 1);
    assert!(p.header().unwrap().contains("\"admin\":true"));
    assert!(p.missing().is_empty());
    assert!(p.problems().is_empty(), "{:?}", p.problems());
}

#[test]
fn timed_out_and_unstarted_probes_have_no_exit_status() {
    let s = PsScript::new(&[spec("slow", "x"), spec("admin", "y")], 2).unwrap();
    let mut p = s.parser();
    let out = p.feed(format!(
        "{}{}",
        line(&s, "probe", "{\"i\":0,\"id\":\"slow\",\"rc\":null,\"ms\":30004,\"timed_out\":true,\"truncated\":false,\"error\":null,\"stdout_b64\":\"\",\"stderr_b64\":\"\"}"),
        line(&s, "probe", "{\"i\":1,\"id\":\"admin\",\"rc\":null,\"ms\":0,\"timed_out\":false,\"truncated\":false,\"error\":\"needs an administrator: x\",\"stdout_b64\":\"\",\"stderr_b64\":\"\"}"),
    ).as_bytes());
    assert_eq!(out.len(), 2);
    assert!(out[0].output.timed_out);
    assert_eq!(out[0].output.exit_code, None);
    assert_eq!(out[1].output.exit_code, None);
    assert_eq!(
        out[1].output.error.as_deref(),
        Some("needs an administrator: x")
    );
}

#[test]
fn malformed_and_oversized_frames_never_pass_as_results() {
    let s = PsScript::new(&[spec("a", "1"), spec("b", "2"), spec("c", "3")], 2).unwrap();
    let mut p = s.parser();
    // Another run's nonce: noise, not a frame.
    let other = frame(&s, 0, "a", "0", "fake").replace(&s.nonce, "0123456789abcdef");
    assert!(p.feed(other.as_bytes()).is_empty());
    assert_eq!(p.noise_lines(), 1);
    // Not JSON, with its HMAC (a script bug, not a forgery): skipped.
    assert!(p.feed(line(&s, "probe", "{oops").as_bytes()).is_empty());
    // Over the cap of 64 bytes: delivered as not run.
    let big = p.feed(frame(&s, 1, "b", "0", &"x".repeat(65)).as_bytes());
    assert_eq!(big.len(), 1);
    assert!(
        big[0]
            .output
            .error
            .as_deref()
            .unwrap()
            .contains("malformed")
    );
    // Bad base64: delivered as not run.
    let bad = p.feed(
        line(
            &s,
            "probe",
            &probe_json(2, "c", "0", "ok").replace(&b64("ok"), "!!!"),
        )
        .as_bytes(),
    );
    assert!(bad[0].output.error.as_deref().unwrap().contains("base64"));
    assert_eq!(p.missing(), ["a"]);
    assert_eq!(p.problems().len(), 3, "{:?}", p.problems());
    assert!(p.forged().is_empty(), "{:?}", p.forged());
    // A frame cut off by the end of the stream is never delivered.
    let cut = frame(&s, 0, "a", "0", "half");
    assert!(p.feed(&cut.as_bytes()[..cut.len() / 2]).is_empty());
    assert!(p.finish().is_empty());
    assert_eq!(p.missing(), ["a"]);
    assert!(!p.is_done());
}

/// Issue 17, item 1: whoever knows the nonce and the format but not the frame key (a probe that
/// read the script text from script block logging) cannot make a frame the parser takes; nor
/// can it replay, reorder or hide a real one.
#[test]
fn frames_without_the_key_repeated_or_hidden_make_the_probe_error_and_the_run_forged() {
    let s = PsScript::new(
        &[
            spec("a", "1"),
            spec("b", "2"),
            spec("c", "3"),
            spec("d", "4"),
        ],
        2,
    )
    .unwrap();
    let other = PsScript::new(&[spec("a", "1")], 1).unwrap();
    let m = marker(&s);
    let mut p = s.parser();
    let mut got = p.feed(start(&s, 4).as_bytes());
    // a: a frame in the old format (no HMAC), before the real one, which then counts for nothing.
    got.extend(p.feed(format!("{m}probe {}\n", probe_json(0, "a", "0", "forged")).as_bytes()));
    got.extend(p.feed(frame(&s, 0, "a", "1", "real").as_bytes()));
    // b: an HMAC under another key; the real frame glued to a partial line to hide it.
    let wrong = other
        .key()
        .mac(&format!("probe {}", probe_json(1, "b", "0", "")));
    got.extend(p.feed(format!("{m}probe {wrong} {}\nx", probe_json(1, "b", "0", "")).as_bytes()));
    got.extend(p.feed(frame(&s, 1, "b", "1", "real").as_bytes()));
    // c: its real frame, then a replay of it (after its end).
    got.extend(p.feed(frame(&s, 2, "c", "1", "fail").as_bytes()));
    got.extend(p.feed(frame(&s, 2, "c", "1", "fail").as_bytes()));
    // d: a real frame with one byte of base64 slipped into it fails its HMAC.
    let real = frame(&s, 3, "d", "1", "fail");
    got.extend(
        p.feed(
            real.replacen(&b64("fail"), &format!("A{}", b64("fail")), 1)
                .as_bytes(),
        ),
    );
    // A `done` without the key, a second `start`, a frame naming no probe of the script.
    got.extend(p.feed(format!("{m}done {{\"n\":4}}\n").as_bytes()));
    got.extend(p.feed(start(&s, 4).as_bytes()));
    got.extend(p.feed(frame(&s, 9, "zz", "0", "").as_bytes()));
    got.extend(p.finish());
    assert!(!p.is_done(), "a done without the key is not the script's");
    let by_id: Vec<(&str, bool)> = got
        .iter()
        .map(|r| {
            let e = r.output.error.as_deref().unwrap_or("");
            (r.id.as_str(), e.contains("cannot be trusted"))
        })
        .collect();
    // Every probe is delivered exactly once, as Error: the first thing delivered for c (its real
    // frame) is replaced by the Error that the replay brings.
    assert_eq!(
        by_id,
        [
            ("a", true),
            ("b", true),
            ("c", false),
            ("c", true),
            ("d", true)
        ],
        "{got:?}"
    );
    assert!(
        got.iter()
            .all(|r| r.output.exit_code.is_none() || r.id == "c")
    );
    assert_eq!(
        p.forged(),
        [
            "a frame without the frame key for probe `a`",
            "a second frame for probe `a`",
            "a frame without the frame key for probe `b`",
            "a frame that does not start its line",
            "a second frame for probe `c`",
            "a frame without the frame key for probe `d`",
            "a `done` frame without the frame key",
            "a second `start` frame",
            "a probe frame names probe #9 `zz`, which the script does not hold",
        ]
    );
}

#[test]
fn fatal_frames_are_kept() {
    let s = PsScript::new(&[spec("a", "1")], 1).unwrap();
    let mut p = s.parser();
    p.feed(format!("{}fatal {{\"error\":\"no pool\"}}", marker(&s)).as_bytes());
    p.finish();
    assert_eq!(p.fatal(), Some("no pool"));
}

#[test]
fn the_grammar_check_catches_a_broken_script() {
    assert!(syntax_errors("$a = @{ B = 1 }\nif ($a.B -eq 1) { 'ok' }\n").is_empty());
    let broken = body_of(PsScript::new(&[spec("a", "1")], 1).unwrap().text()).replacen(
        "foreach ($ch in",
        "foreach ($ch in (",
        1,
    );
    assert!(
        !syntax_errors(&broken).is_empty(),
        "an unbalanced parenthesis must be a syntax error"
    );
    assert!(!syntax_errors("function f( { }\n").is_empty());
}

#[test]
fn the_generated_script_and_its_loader_parse_as_powershell() {
    let probes: Vec<ProbeSpec> = vmcert_checks::probe::all()
        .filter(|p| p.os == vmcert_checks::Os::Windows)
        .map(|p| ProbeSpec {
            id: p.id.to_string(),
            command: p.command.to_string(),
            needs_root: p.needs_root,
            timeout_secs: 60,
            output_cap: crate::target::script::DEFAULT_OUTPUT_CAP,
        })
        .chain([spec("pack-x", "Get-Date")])
        .collect();
    // The update search first, as the runner orders it, so the feature query can wait for it.
    let mut probes = probes;
    probes.sort_by_key(|p| p.id != "pending-updates");
    let s = PsScript::new(&probes, 4).unwrap();
    assert!(body_of(s.text()).contains("Id = 'windows-features'; Timeout = 60;"));
    let text = s.text();
    assert_eq!(syntax_errors(text), Vec::<String>::new());
    let body = body_of(text);
    assert_eq!(syntax_errors(&body), Vec::<String>::new());
    // The probe-error rule of the module documentation: rc never comes from HadErrors.
    assert!(
        !body.contains(".HadErrors"),
        "rc must not come from HadErrors"
    );
    assert!(body.contains("$Job.Ps.Streams.Error.Count -gt 0"));
}

#[test]
fn every_windows_probe_fragment_parses_as_powershell() {
    for p in vmcert_checks::probe::all().filter(|p| p.os == vmcert_checks::Os::Windows) {
        let errors = syntax_errors(p.command);
        assert!(
            errors.is_empty(),
            "probe {} does not parse: {errors:?}\n{}",
            p.id,
            p.command
        );
    }
}

/// The frame key reaches the script through the shell's environment only: never in the text
/// (which the host runs as statements, so script block logging keeps it), and the body removes
/// it from the process environment before the pool that runs the probes opens.
#[test]
fn the_frame_key_is_never_in_the_script_text_and_leaves_the_environment_first() {
    let s = PsScript::new(&[spec("a", "1")], 1).unwrap();
    let (name, value) = s.key().env_var();
    assert_eq!(name, KEY_VAR);
    assert_eq!(value.len(), 64);
    let body = body_of(s.text());
    assert!(!s.text().contains(&value) && !body.contains(&value));
    let read = body
        .find(&format!("GetEnvironmentVariable('{KEY_VAR}', 'Process')"))
        .unwrap();
    let removed = body
        .find(&format!(
            "SetEnvironmentVariable('{KEY_VAR}', $null, 'Process')"
        ))
        .unwrap();
    let pool = body.find("CreateRunspacePool").unwrap();
    assert!(read < removed && removed < pool);
    // The transport's key replaces the script's own; the text does not change.
    let k = FrameKey::random();
    let t = s.clone().keyed(k.clone());
    assert_eq!(t.text(), s.text());
    assert_eq!(t.key(), &k);
    assert_ne!(s.key(), &k);
    assert_eq!(
        format!("{k:?}"),
        "FrameKey(..)",
        "Debug never shows the key"
    );
    // A frame made with the script's key is refused by a parser holding the transport's.
    let mut p = t.parser();
    assert!(
        p.feed(frame(&s, 0, "a", "0", "x").as_bytes())[0]
            .output
            .error
            .is_some()
    );
    assert_eq!(p.forged().len(), 1);
}

/// The HMAC is RFC 2104's over SHA-256 (RFC 4231 test case 2 with the key zero-padded as the
/// script pads it, which HMAC does itself for a key under the block size).
#[test]
fn the_frame_hmac_is_standard_hmac_sha256() {
    let mut key = [0u8; 32];
    key[..4].copy_from_slice(b"Jefe");
    let k = FrameKey(key);
    assert_eq!(
        k.mac("what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert!(k.verifies(
        "what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    ));
    assert!(!k.verifies("what do ya want for nothing?", "5BDCC146"));
    assert!(!k.verifies("x", &"g".repeat(64)));
}
