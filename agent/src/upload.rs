//! Uploading a finished report zip next to the VHDs: `vmcert report upload REPORT.zip
//! CONTAINER_SAS_URL`, and [`upload_report`] for `vmcert run --upload`.
//!
//! One Put Blob (block blob, `Content-MD5` so the service checks what it received), then a HEAD
//! to verify length and MD5 when the SAS can read. The blob is named after the zip's file name;
//! an existing blob of that name is never overwritten (`If-None-Match: *`): if it holds the same
//! bytes the upload counts as done, otherwise it is an error. The local zip is only read. Errors
//! are one line saying what to fix, and never show the signature.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use md5::{Digest as _, Md5};
use reqwest::{Method, StatusCode};

use crate::blob::{BlobClient, Reply, Request, RetryPolicy};
use crate::sas::{SasUrl, redact};

/// Longest single upload request (plus a second per MiB of the report). A request that times
/// out is not retried (see [`crate::blob::Attempt::Stop`]), so this also bounds an upload to a
/// silent endpoint.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// Default overall limit of an upload (`report upload --deadline`, and `run --upload`), in
/// seconds: the Put Blob of the largest zip at its own timeout, and its check.
pub(crate) const DEFAULT_DEADLINE: u64 = 600;

/// Largest zip uploaded (one Put Blob; reports are a few MiB).
const MAX_ZIP: u64 = 256 << 20;

/// How the upload was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verification {
    /// HEAD returned the same length and Content-MD5.
    Verified,
    /// The SAS cannot read (typical for a create+write SAS): only the service's Content-MD5 check
    /// on receipt vouches for the bytes.
    NotReadable(String),
}

/// What [`upload_report`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadOutcome {
    /// The blob's URL without its query (safe to print).
    pub blob_url: String,
    /// Bytes uploaded.
    pub size: u64,
    /// Base64 MD5 of the zip, as in `Content-MD5`.
    pub md5: String,
    /// A blob of that name with the same bytes was already there; nothing was written.
    pub already_present: bool,
    /// How the result was checked.
    pub verification: Verification,
    /// HTTP requests made, retries included.
    pub requests: u32,
}

impl std::fmt::Display for UploadOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.already_present {
            "already present (identical)"
        } else {
            "uploaded"
        };
        write!(
            f,
            "{what}: {} ({} bytes, MD5 {})",
            self.blob_url, self.size, self.md5
        )?;
        match &self.verification {
            Verification::Verified => {
                write!(f, "; verified by HEAD (length and Content-MD5 match)")
            }
            Verification::NotReadable(why) => {
                write!(
                    f,
                    "; not read back ({why}); the service checked Content-MD5 on receipt"
                )
            }
        }
    }
}

/// Uploads the report `zip` into the container of `container_sas_url` (a container SAS URL with
/// Create and Write permission, e.g. `https://ACCOUNT.blob.core.windows.net/CONTAINER?sv=...&sig=...`)
/// as a block blob named after the zip's file name, then verifies it.
///
/// Blocking, at most `deadline` in all (bounded retries on 5xx; a request that times out is not
/// retried). Safe to call from any thread, including inside a Tokio runtime: the HTTP work runs
/// on a thread of its own. Errors are one line without the signature (403: wrong permission,
/// expired or tampered signature; 404: no such container; the deadline); the zip is never
/// modified.
pub(crate) fn upload_report(
    zip: &Path,
    container_sas_url: &str,
    deadline: Duration,
) -> anyhow::Result<UploadOutcome> {
    let (zip, url) = (zip.to_owned(), container_sas_url.to_owned());
    crate::blob::within(deadline, "the upload", "--deadline", move || {
        upload_blocking(&zip, &url)
    })
}

/// Parses a container SAS URL as `--upload` and `report upload` take it, so `vmcert run` can
/// refuse a malformed one before the run instead of after it.
///
/// # Errors
/// When the URL does not parse or names a blob instead of a container.
pub(crate) fn container_url(container_sas_url: &str) -> anyhow::Result<SasUrl> {
    let container = SasUrl::parse(container_sas_url)?;
    if let Some(blob) = &container.blob {
        bail!(
            "expected a container SAS URL (.../{}?SAS), got one naming blob `{blob}`: drop `/{blob}` from the URL",
            container.container
        );
    }
    Ok(container)
}

fn upload_blocking(zip: &Path, container_sas_url: &str) -> anyhow::Result<UploadOutcome> {
    let container = container_url(container_sas_url)?;
    let name = zip.file_name().and_then(|n| n.to_str()).with_context(|| {
        format!(
            "{}: not a file name vmcert can use as a blob name",
            zip.display()
        )
    })?;
    let meta = std::fs::metadata(zip).with_context(|| format!("cannot read {}", zip.display()))?;
    if !meta.is_file() {
        bail!("{} is not a file", zip.display());
    }
    if meta.len() > MAX_ZIP {
        bail!(
            "{} is {} bytes; reports larger than {MAX_ZIP} bytes are not uploaded",
            zip.display(),
            meta.len()
        );
    }
    let bytes = std::fs::read(zip).with_context(|| format!("cannot read {}", zip.display()))?;
    let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&bytes));
    let size = bytes.len() as u64;
    let target = container.blob_in_container(name);
    let blob_url = target.without_query();
    let where_ = format!(
        "{} to container `{}` of account `{}`",
        zip.display(),
        container.container,
        container.account
    );

    // Plus a second per MiB: a large report on a slow link still gets through.
    let timeout = UPLOAD_TIMEOUT + Duration::from_secs(size >> 20);
    let mut client = BlobClient::new(timeout, RetryPolicy::DEFAULT)?;
    let put = client
        .send(&Request {
            method: Method::PUT,
            url: &target,
            headers: vec![
                ("x-ms-blob-type", "BlockBlob".into()),
                ("Content-Type", "application/zip".into()),
                ("Content-MD5", md5.clone()),
                ("x-ms-blob-content-md5", md5.clone()),
                ("If-None-Match", "*".into()),
            ],
            body: Some(&bytes),
            max_body: 64 << 10,
        })
        .map_err(|e| anyhow!("cannot upload {where_}: {e}"))?;
    let already_present = match put.status {
        StatusCode::CREATED => false,
        StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => true,
        _ => bail!(
            "cannot upload {where_}: {}",
            explain(&put, &container, chrono::Utc::now())
        ),
    };
    let head = client.send(&Request {
        method: Method::HEAD,
        url: &target,
        headers: vec![],
        body: None,
        max_body: 0,
    });
    let verification = match head {
        Ok(h) if h.status == StatusCode::OK => {
            let len = h
                .header("content-length")
                .and_then(|v| v.parse::<u64>().ok());
            let got_md5 = h.header("content-md5").map(str::to_string);
            if len == Some(size) && got_md5.as_deref() == Some(md5.as_str()) {
                Verification::Verified
            } else if already_present {
                bail!(
                    "a different blob named `{name}` already exists in container `{}` ({} bytes, MD5 {}); not overwritten: rename the zip or delete the blob",
                    container.container,
                    len.map_or_else(|| "?".into(), |l| l.to_string()),
                    got_md5.as_deref().unwrap_or("none")
                );
            } else {
                bail!(
                    "uploaded {where_}, but the blob does not match: {} bytes / MD5 {} in the container, {size} bytes / MD5 {md5} locally",
                    len.map_or_else(|| "?".into(), |l| l.to_string()),
                    got_md5.as_deref().unwrap_or("none")
                );
            }
        }
        _ if already_present => bail!(
            "a blob named `{name}` already exists in container `{}` and this SAS cannot read it to compare; not overwritten",
            container.container
        ),
        Ok(h) => Verification::NotReadable(h.describe()),
        Err(e) => Verification::NotReadable(e.to_string()),
    };
    Ok(UploadOutcome {
        blob_url,
        size,
        md5,
        already_present,
        verification,
        requests: client.requests(),
    })
}

/// One sentence for a refused Put Blob: what the service said and what the user should do.
fn explain(r: &Reply, sas: &SasUrl, now: chrono::DateTime<chrono::Utc>) -> String {
    let said = r.describe();
    let code = r.error_code().unwrap_or_default();
    let sp = sas.param("sp").unwrap_or_default();
    let expired = sas
        .param("se")
        .and_then(|se| crate::sas::rules::full_datetime(&se).ok().map(|t| (se, t)))
        .filter(|(_, t)| *t <= now);
    let hint = match (r.status, code.as_str()) {
        (StatusCode::FORBIDDEN, _) if expired.is_some() => {
            format!("the SAS expired at {}; ask for a new container SAS URL", expired.map(|(se, _)| se).unwrap_or_default())
        }
        (StatusCode::FORBIDDEN, "AuthorizationPermissionMismatch") => format!(
            "the SAS does not allow writing (sp={sp}); a container SAS with Create and Write (sp=cw, or racwl) is needed"
        ),
        (StatusCode::FORBIDDEN, _) => "the SAS was refused: its signature does not match (tampered or truncated URL), \
                                       it was made for another container or account, or it is not valid yet"
            .to_string(),
        (StatusCode::NOT_FOUND, _) => format!(
            "container `{}` does not exist in account `{}`; create it or check the URL",
            sas.container, sas.account
        ),
        (StatusCode::BAD_REQUEST, "InvalidOperation" | "Md5Mismatch") => {
            "the service received different bytes than were sent (Content-MD5 mismatch); try again".to_string()
        }
        _ => "unexpected answer".to_string(),
    };
    redact(&format!("{said}: {hint}"))
}

/// Runs `vmcert report upload`: 0 uploaded (or already there, identical), 2 on any error.
pub(crate) fn run(
    zip: &Path,
    container_sas_url: &str,
    deadline: Duration,
) -> anyhow::Result<ExitCode> {
    let outcome = upload_report(zip, container_sas_url, deadline)?;
    println!("{}", redact(&outcome.to_string()));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use reqwest::header::HeaderMap;

    fn reply(status: u16, code: &str) -> Reply {
        let mut headers = HeaderMap::new();
        headers.insert("x-ms-error-code", code.parse().unwrap());
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: vec![],
        }
    }

    fn sas(q: &str) -> SasUrl {
        SasUrl::parse(&format!(
            "http://127.0.0.1:10000/devstoreaccount1/reports?{q}"
        ))
        .unwrap()
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc
            .with_ymd_and_hms(2026, 11, 21, 12, 0, 0)
            .single()
            .unwrap()
    }

    #[test]
    fn read_only_sas() {
        let m = explain(
            &reply(403, "AuthorizationPermissionMismatch"),
            &sas("sp=rl&se=2026-11-22T00:00:00Z&sig=S3CRET"),
            now(),
        );
        assert!(
            m.starts_with(
                "HTTP 403 AuthorizationPermissionMismatch: the SAS does not allow writing (sp=rl)"
            ),
            "{m}"
        );
    }

    #[test]
    fn expired_sas_is_named_whatever_the_code() {
        let m = explain(
            &reply(403, "AuthorizationFailure"),
            &sas("sp=cw&se=2026-11-21T11:00:00Z&sig=S3CRET"),
            now(),
        );
        assert!(m.contains("the SAS expired at 2026-11-21T11:00:00Z"), "{m}");
    }

    #[test]
    fn tampered_signature() {
        let m = explain(
            &reply(403, "AuthorizationFailure"),
            &sas("sp=cw&se=2026-11-22T00:00:00Z&sig=S3CRET"),
            now(),
        );
        assert!(m.contains("signature does not match"), "{m}");
        assert!(!m.contains("S3CRET"));
    }

    #[test]
    fn missing_container() {
        let m = explain(
            &reply(404, "ContainerNotFound"),
            &sas("sp=cw&sig=S3CRET"),
            now(),
        );
        assert!(
            m.contains("container `reports` does not exist in account `devstoreaccount1`"),
            "{m}"
        );
    }

    #[test]
    fn outcome_line_has_no_query() {
        let o = UploadOutcome {
            blob_url: "http://127.0.0.1:10000/devstoreaccount1/reports/r.zip".into(),
            size: 5,
            md5: "XUFAKrxLKna5cZ2REBfFkg==".into(),
            already_present: false,
            verification: Verification::Verified,
            requests: 2,
        };
        assert_eq!(
            o.to_string(),
            "uploaded: http://127.0.0.1:10000/devstoreaccount1/reports/r.zip (5 bytes, MD5 XUFAKrxLKna5cZ2REBfFkg==); verified by HEAD (length and Content-MD5 match)"
        );
    }
}
