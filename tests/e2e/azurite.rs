//! Azurite (Microsoft's Blob storage emulator) for the upload and VHD-over-SAS tests: one server
//! per test binary run, started by `tests/lab/azurite.sh` on a free loopback port, plus what a
//! test needs to play the storage account owner: SAS URLs signed with the emulator's well-known
//! key (HMAC-SHA256, as in research/feasibility.md appendix B), containers, page blobs uploaded
//! sparsely, block blobs, downloads.
//!
//! The server is stopped by its PID when this test binary exits, whether the tests pass, fail or
//! panic: `azurite.sh start PORT OWNER_PID` leaves a watchdog that kills it once the owner is gone
//! (libtest has no global teardown). A missing node or Azurite install fails the tests with a
//! message; nothing is skipped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit as _, Mac as _};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

/// The emulator's account.
pub(crate) const ACCOUNT: &str = "devstoreaccount1";
/// The emulator's well-known account key (public, documented by Microsoft for Azurite).
const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// SAS version signed (the string-to-sign layout below is the one of 2020-12-06 and later).
const SV: &str = "2022-11-02";
/// REST version sent by the helpers.
const API: &str = "2023-11-03";
/// Largest Put Page body.
const MAX_PAGE_WRITE: u64 = 4 << 20;

/// A running Azurite.
pub(crate) struct Azurite {
    port: u16,
    http: reqwest::blocking::Client,
}

static AZURITE: OnceLock<Azurite> = OnceLock::new();

/// The Azurite of this test run, started on first use.
pub(crate) fn azurite() -> &'static Azurite {
    AZURITE.get_or_init(Azurite::start)
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lab/azurite.sh")
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn sign(string_to_sign: &str) -> String {
    let key = B64.decode(KEY).expect("the well-known key is base64");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(string_to_sign.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// A service SAS query for `container` (what a customer hands over): permissions `sp`,
/// optional start, expiry.
pub(crate) fn container_sas(
    container: &str,
    sp: &str,
    st: Option<DateTime<Utc>>,
    se: DateTime<Utc>,
) -> String {
    let st = st.map(iso).unwrap_or_default();
    let se = iso(se);
    let sts = format!("{sp}\n{st}\n{se}\n/blob/{ACCOUNT}/{container}\n\n\n\n{SV}\nc\n\n\n\n\n\n\n");
    let mut q = format!("sv={SV}&sr=c&sp={sp}");
    if !st.is_empty() {
        q.push_str(&format!("&st={}", enc(&st)));
    }
    q.push_str(&format!("&se={}&sig={}", enc(&se), enc(&sign(&sts))));
    q
}

/// A container SAS valid from a day ago for two hours.
pub(crate) fn sas_now(container: &str, sp: &str) -> String {
    container_sas(
        container,
        sp,
        Some(Utc::now() - Duration::days(1)),
        Utc::now() + Duration::hours(2),
    )
}

/// A time as SAS parameters want it.
pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

impl Azurite {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free loopback port");
        let out = Command::new("bash")
            .arg(script())
            .args(["start", &port.to_string(), &std::process::id().to_string()])
            .output()
            .expect("bash runs tests/lab/azurite.sh");
        assert!(
            out.status.success(),
            "Azurite did not start (prerequisite missing? run `bash tests/lab/install-prereqs.sh`): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
        eprintln!(
            "azurite: pid {pid} on 127.0.0.1:{port} (stopped by PID when the test binary exits)"
        );
        let http = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .expect("HTTP client");
        Self { port, http }
    }

    /// `http://127.0.0.1:PORT/devstoreaccount1`.
    pub(crate) fn base(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// An account SAS with every permission (the storage owner's tool).
    fn account_sas(&self) -> String {
        let se = iso(Utc::now() + Duration::hours(2));
        let sts = format!("{ACCOUNT}\nracwdl\nb\nsco\n\n{se}\n\n\n{SV}\n\n");
        format!(
            "sv={SV}&ss=b&srt=sco&sp=racwdl&se={}&sig={}",
            enc(&se),
            enc(&sign(&sts))
        )
    }

    fn send(&self, what: &str, req: reqwest::blocking::RequestBuilder, want: u16) {
        let resp = req
            .header("x-ms-version", API)
            .send()
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = resp.status().as_u16();
        let body = resp.text().unwrap_or_default();
        assert_eq!(status, want, "{what}: {body}");
    }

    /// Creates `container`.
    pub(crate) fn create_container(&self, container: &str) {
        let url = format!(
            "{}/{container}?restype=container&{}",
            self.base(),
            self.account_sas()
        );
        self.send(
            &format!("create container {container}"),
            self.http.put(url).header("Content-Length", "0"),
            201,
        );
    }

    /// Uploads `bytes` as block blob `container/name`.
    pub(crate) fn put_block_blob(&self, container: &str, name: &str, bytes: Vec<u8>) {
        let url = format!("{}/{container}/{name}?{}", self.base(), self.account_sas());
        self.send(
            &format!("put block blob {name}"),
            self.http
                .put(url)
                .header("x-ms-blob-type", "BlockBlob")
                .body(bytes),
            201,
        );
    }

    /// Uploads the file at `path` as page blob `container/name` (its length must be a multiple
    /// of 512), sparsely: only the 512-byte pages that are not zero, found in the data extents
    /// `qemu-img map` reports, so a 1 TiB sparse VHD costs a few requests. Returns the number
    /// of bytes written.
    pub(crate) fn put_page_blob_sparse(&self, container: &str, name: &str, path: &Path) -> u64 {
        let len = std::fs::metadata(path).expect("fixture exists").len();
        assert_eq!(
            len % 512,
            0,
            "{}: a page blob's length is a multiple of 512",
            path.display()
        );
        let sas = self.account_sas();
        let url = format!("{}/{container}/{name}?{sas}", self.base());
        self.send(
            &format!("create page blob {name}"),
            self.http
                .put(&url)
                .header("x-ms-blob-type", "PageBlob")
                .header("x-ms-blob-content-length", len.to_string())
                .header("Content-Length", "0"),
            201,
        );
        let page_url = format!("{}/{container}/{name}?comp=page&{sas}", self.base());
        let mut written = 0;
        for (start, run) in nonzero_runs(path, len) {
            let mut off = 0;
            while off < run.len() as u64 {
                let n = (run.len() as u64 - off).min(MAX_PAGE_WRITE);
                let (a, b) = (start + off, start + off + n - 1);
                let body = run[off as usize..(off + n) as usize].to_vec();
                self.send(
                    &format!("put page {a}-{b} of {name}"),
                    self.http
                        .put(&page_url)
                        .header("x-ms-page-write", "update")
                        .header("x-ms-range", format!("bytes={a}-{b}"))
                        .body(body),
                    201,
                );
                off += n;
                written += n;
            }
        }
        written
    }

    /// Downloads `container/name` with the SAS query `sas`.
    pub(crate) fn get(&self, container: &str, name: &str, sas: &str) -> Vec<u8> {
        let url = format!("{}/{container}/{name}?{sas}", self.base());
        let resp = self
            .http
            .get(url)
            .header("x-ms-version", API)
            .send()
            .expect("GET blob");
        assert_eq!(resp.status().as_u16(), 200, "GET {name}");
        resp.bytes().expect("blob body").to_vec()
    }
}

/// The runs of non-zero 512-byte pages of the file, as `(offset, bytes)`, reading only the data
/// extents that `qemu-img map -f raw` lists.
fn nonzero_runs(path: &Path, len: u64) -> Vec<(u64, Vec<u8>)> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let out = Command::new("qemu-img")
        .args(["map", "--output=json", "-f", "raw"])
        .arg(path)
        .output()
        .expect("qemu-img is installed (apt-get install qemu-utils)");
    assert!(
        out.status.success(),
        "qemu-img map: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let extents: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("qemu-img map JSON");
    let mut file = std::fs::File::open(path).expect("open fixture");
    let mut runs: Vec<(u64, Vec<u8>)> = Vec::new();
    for e in extents.as_array().expect("a list of extents") {
        if e["data"] != true {
            continue;
        }
        let start = e["start"].as_u64().expect("start") / 512 * 512;
        let end = (e["start"].as_u64().expect("start") + e["length"].as_u64().expect("length"))
            .div_ceil(512)
            * 512;
        let end = end.min(len);
        let mut buf = vec![0; (end - start) as usize];
        file.seek(SeekFrom::Start(start)).expect("seek");
        file.read_exact(&mut buf).expect("read extent");
        for (i, page) in buf.chunks(512).enumerate() {
            if page.iter().all(|b| *b == 0) {
                continue;
            }
            let at = start + 512 * i as u64;
            match runs.last_mut() {
                Some((s, bytes)) if *s + bytes.len() as u64 == at => bytes.extend_from_slice(page),
                _ => runs.push((at, page.to_vec())),
            }
        }
    }
    runs
}

/// The signature of a SAS query, raw and percent-decoded: what must never be printed.
pub(crate) fn signature_forms(sas: &str) -> Vec<String> {
    let sig = sas
        .split('&')
        .find_map(|kv| kv.strip_prefix("sig="))
        .expect("the SAS has a sig");
    let decoded = percent_encoding::percent_decode_str(sig)
        .decode_utf8_lossy()
        .into_owned();
    // Any 12-character piece of the signature is enough to leak it.
    vec![sig.to_string(), decoded.clone(), decoded[..12].to_string()]
}

/// Asserts that no form of the signature of `sas` appears in `text`.
pub(crate) fn assert_no_signature(sas: &str, text: &str) {
    for s in signature_forms(sas) {
        assert!(
            !text.contains(&s),
            "the SAS signature leaked into the output:\n{text}"
        );
    }
}
