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

fn frame(script: &PsScript, i: usize, id: &str, rc: &str, stdout: &str) -> String {
    format!(
        "{}probe {{\"i\":{i},\"id\":\"{id}\",\"rc\":{rc},\"ms\":12,\"timed_out\":false,\"truncated\":false,\"error\":null,\"stdout_b64\":\"{}\",\"stderr_b64\":\"\"}}\n",
        marker(script),
        b64(stdout)
    )
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
        "\u{FEFF}{m}start {{\"n\":1,\"lanes\":1,\"ps\":\"5.1\",\"admin\":true,\"pid\":9}}\r\n\u{FEFF}{}{m}done {{\"n\":1}}\r\n",
        frame(&s, 0, "a", "0", "ok"),
        m = marker(&s)
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
        "Windows PowerShell noise\r\n{m}start {{\"n\":3,\"lanes\":2,\"ps\":\"5.1\",\"admin\":true,\"pid\":9}}\r\n{}{}{}{m}done {{\"n\":3}}\r\n",
        frame(&s, 1, "b", "0", "{\"x\":1}\n"),
        frame(&s, 0, "a", "1", ""),
        frame(&s, 2, "c", "0", "three"),
        m = marker(&s)
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
    let m = marker(&s);
    let out = p.feed(format!(
        "{m}probe {{\"i\":0,\"id\":\"slow\",\"rc\":null,\"ms\":30004,\"timed_out\":true,\"truncated\":false,\"error\":null,\"stdout_b64\":\"\",\"stderr_b64\":\"\"}}\n\
         {m}probe {{\"i\":1,\"id\":\"admin\",\"rc\":null,\"ms\":0,\"timed_out\":false,\"truncated\":false,\"error\":\"needs an administrator: x\",\"stdout_b64\":\"\",\"stderr_b64\":\"\"}}\n"
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
fn forged_malformed_and_oversized_frames_never_pass_as_results() {
    let s = PsScript::new(&[spec("a", "1"), spec("b", "2"), spec("c", "3")], 2).unwrap();
    let mut p = s.parser();
    let m = marker(&s);
    // Another run's nonce: noise, not a frame.
    let forged = frame(&s, 0, "a", "0", "fake").replace(&s.nonce, "0123456789abcdef");
    assert!(p.feed(forged.as_bytes()).is_empty());
    assert_eq!(p.noise_lines(), 1);
    // Index and id disagree: skipped.
    assert!(p.feed(frame(&s, 0, "b", "0", "").as_bytes()).is_empty());
    // Not JSON: skipped.
    assert!(p.feed(format!("{m}probe {{oops\n").as_bytes()).is_empty());
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
        frame(&s, 2, "c", "0", "ok")
            .replace(&b64("ok"), "!!!")
            .as_bytes(),
    );
    assert!(bad[0].output.error.as_deref().unwrap().contains("base64"));
    // A second frame for a delivered probe is skipped, and marks the stream forged (the run
    // fails).
    assert!(
        p.feed(frame(&s, 1, "b", "0", "again").as_bytes())
            .is_empty()
    );
    assert_eq!(p.missing(), ["a"]);
    assert_eq!(p.problems().len(), 4, "{:?}", p.problems());
    assert_eq!(p.forged(), ["a second frame for probe `b`"]);
    // A frame cut off by the end of the stream is never delivered.
    let cut = frame(&s, 0, "a", "0", "half");
    assert!(p.feed(&cut.as_bytes()[..cut.len() / 2]).is_empty());
    assert!(p.finish().is_empty());
    assert_eq!(p.missing(), ["a"]);
    assert!(!p.is_done());
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
