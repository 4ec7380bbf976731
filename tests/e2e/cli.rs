//! The command line without a target: listing, usage errors and their exit codes.

use crate::util::vmcert;

#[test]
fn checks_list_json_lists_linux_checks_with_test_ids() {
    let out = vmcert(&["checks", "list", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let arch = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "os-architecture" && r["os"] == "linux")
        .expect("os-architecture listed");
    assert_eq!(arch["test_id"], "49");
}

#[test]
fn unknown_check_id_exits_2_with_one_line() {
    let out = vmcert(&["checks", "show", "no-such-check"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("unknown check id `no-such-check`"), "{err}");
}
