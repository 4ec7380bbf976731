//! `vmcert sas check`: the SAS rules on URLs signed like real ones (HMAC-SHA256 with the Azurite
//! account key), exit codes, and the signature never printed, whatever the output format.

use chrono::{Duration, Utc};
use serde_json::Value;

use crate::azurite::{ACCOUNT, assert_no_signature, container_sas};
use crate::util::vmcert;

fn check(url: &str, sas: &str) -> (Option<i32>, Value) {
    let out = vmcert(&["sas", "check", url, "--format", "json"]);
    let human = vmcert(&["sas", "check", url]);
    for o in [&out, &human] {
        assert_no_signature(sas, &String::from_utf8_lossy(&o.stdout));
        assert_no_signature(sas, &String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(
        out.status.code(),
        human.status.code(),
        "same verdict in both formats"
    );
    let v = serde_json::from_slice(&out.stdout).expect("JSON");
    (out.status.code(), v)
}

fn status(v: &Value, id: &str) -> String {
    v["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id}: {v}"))["status"]
        .as_str()
        .expect("status")
        .to_string()
}

fn azure_url(name: &str, sas: &str) -> String {
    format!("https://{ACCOUNT}.blob.core.windows.net/vhds/{name}?{sas}")
}

#[test]
fn a_partner_center_ready_url_is_acceptable() {
    let sas = container_sas(
        "vhds",
        "rl",
        Some(Utc::now() - Duration::days(1)),
        Utc::now() + Duration::days(30),
    );
    let (code, v) = check(&azure_url("os-disk.vhd", &sas), &sas);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["acceptable"], true);
    assert_eq!(v["account"], ACCOUNT);
    assert_eq!(v["container"], "vhds");
    assert_eq!(v["blob"], "os-disk.vhd");
    let redacted = v["url_redacted"].as_str().expect("url_redacted");
    assert!(redacted.ends_with("&sig=REDACTED"), "{redacted}");
    for id in [
        "sas-has-query",
        "sas-permissions",
        "sas-no-write-delete",
        "sas-start",
        "sas-expiry",
        "sas-blob-name",
        "sas-scheme",
        "sas-signature",
    ] {
        assert_eq!(status(&v, id), "Pass", "{id}");
    }
}

#[test]
fn write_permissions_short_window_and_bad_name_fail() {
    let sas = container_sas(
        "vhds",
        "racwdl",
        Some(Utc::now() - Duration::minutes(5)),
        Utc::now() + Duration::days(2),
    );
    let (code, v) = check(&azure_url("os%20disk.vhdx", &sas), &sas);
    assert_eq!(code, Some(1));
    assert_eq!(v["acceptable"], false);
    for id in [
        "sas-permissions",
        "sas-no-write-delete",
        "sas-start",
        "sas-expiry",
        "sas-blob-name",
    ] {
        assert_eq!(status(&v, id), "Fail", "{id}: {v}");
    }
}

#[test]
fn expiry_between_7_business_days_and_3_weeks_warns() {
    let sas = container_sas(
        "vhds",
        "rl",
        Some(Utc::now() - Duration::days(1)),
        Utc::now() + Duration::days(16),
    );
    let (code, v) = check(&azure_url("os.vhd", &sas), &sas);
    assert_eq!(status(&v, "sas-expiry"), "Warning");
    assert_eq!(code, Some(0), "warnings are acceptable: {v}");
}

#[test]
fn missing_start_and_shortened_dates_fail() {
    let sas = container_sas("vhds", "rl", None, Utc::now() + Duration::days(30));
    let (_, v) = check(&azure_url("os.vhd", &sas), &sas);
    assert_eq!(status(&v, "sas-start"), "Fail");
    let short = format!(
        "sv=2022-11-02&sr=c&sp=rl&st=2026-01-01&se=2099-01-01&{}",
        sas.split('&').next_back().expect("sig")
    );
    let (_, v) = check(&azure_url("os.vhd", &short), &short);
    assert_eq!(status(&v, "sas-start"), "Fail");
    assert_eq!(status(&v, "sas-expiry"), "Fail");
}

#[test]
fn loopback_azurite_url_is_flagged_by_scheme() {
    let sas = container_sas(
        "vhds",
        "rl",
        Some(Utc::now() - Duration::days(1)),
        Utc::now() + Duration::days(30),
    );
    let url = format!("http://127.0.0.1:10000/{ACCOUNT}/vhds/os.vhd?{sas}");
    let (code, v) = check(&url, &sas);
    assert_eq!(code, Some(1));
    assert_eq!(v["account"], ACCOUNT, "path-style URL");
    assert_eq!(status(&v, "sas-scheme"), "Fail");
}

#[test]
fn not_a_url_exits_2_with_one_redacted_line() {
    let sas = container_sas("vhds", "rl", None, Utc::now() + Duration::days(30));
    for bad in [
        format!("vhds/os.vhd?{sas}"),
        format!("https://{ACCOUNT}.blob.core.windows.net/?{sas}"),
    ] {
        let out = vmcert(&["sas", "check", &bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("sig=REDACTED"), "{err}");
        assert_no_signature(&sas, &err);
    }
    // A usage error echoing the URL is redacted too.
    let url = azure_url("os.vhd", &sas);
    let out = vmcert(&[
        "sas",
        "check",
        "https://x.blob.core.windows.net/c/a.vhd",
        &url,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_no_signature(&sas, &String::from_utf8_lossy(&out.stderr));
}

#[test]
fn env_var_urls_keep_the_signature_off_the_command_line() {
    let sas = container_sas(
        "vhds",
        "rl",
        Some(Utc::now() - Duration::days(1)),
        Utc::now() + Duration::days(30),
    );
    let url = azure_url("os-disk.vhd", &sas);
    let (direct, v) = check(&url, &sas);
    let via_env = |var_value: Option<&str>| {
        let mut cmd = std::process::Command::new(crate::util::vmcert_bin());
        cmd.args([
            "sas",
            "check",
            "env:VMCERT_TEST_SAS_URL",
            "--format",
            "json",
        ]);
        match var_value {
            Some(value) => cmd.env("VMCERT_TEST_SAS_URL", value),
            None => cmd.env_remove("VMCERT_TEST_SAS_URL"),
        };
        cmd.output().expect("run vmcert")
    };
    let out = via_env(Some(&url));
    assert_eq!(
        out.status.code(),
        direct,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_env: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(from_env["url_redacted"], v["url_redacted"]);
    assert_eq!(from_env["acceptable"], true);
    assert_no_signature(&sas, &String::from_utf8_lossy(&out.stdout));

    let out = via_env(None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        "vmcert: error: environment variable VMCERT_TEST_SAS_URL (from `env:VMCERT_TEST_SAS_URL`) is not set"
    );
}
