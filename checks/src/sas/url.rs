//! SAS URLs: taking them apart (account, container, blob, SAS parameters) and the one function
//! that hides their signature, [`redact`], which every place that prints a URL or an error that
//! may contain one goes through.
//!
//! A SAS URL carries its credential in the `sig` query parameter: whoever reads it can use it
//! until it expires. vmcert prints URLs (results, errors, logs) only after [`redact`].

use std::fmt;

use percent_encoding::percent_decode_str;
use url::Url;

/// What replaces a signature.
pub const REDACTED: &str = "REDACTED";

/// Replaces the value of every `sig` parameter in `text` (a URL, or an error message or log line
/// containing URLs, possibly percent-encoded inside another URL) with `REDACTED`.
///
/// Keys are matched on their percent-decoded form, as servers read them: `sig=`, `s%69g=`,
/// `%73ig%3D`, `sig%253D` (encoded twice, inside a URL nested in another), any case, at the start
/// of the text or after `?`, `&`, `;` or white space (or those characters encoded). A value runs
/// to the next `&` or `#` (encoded or not), white space, quote or angle bracket: never stopping at
/// a comma or a bracket, which may be part of a hostile signature (hiding too much is harmless,
/// printing the tail of a signature is not).
pub fn redact(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if let Some(key_len) = sig_key_at(bytes, i) {
            let start = i + key_len;
            let mut end = start;
            while end < bytes.len() && !value_ends_at(bytes, end) {
                end += 1;
            }
            if end > start {
                out.push_str(&text[copied..start]);
                out.push_str(REDACTED);
                copied = end;
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    // `copied` only ever stops at ASCII bytes, so it is a char boundary.
    out.push_str(&text[copied..]);
    out
}

/// Length of the encoding at `i` of the byte `want` (ASCII, compared without case): the byte
/// itself, `%XX`, or `%25XX` (encoded twice).
fn encoded_at(b: &[u8], i: usize, want: u8) -> Option<usize> {
    let hex = |at: usize| -> Option<u8> {
        let h = b.get(at..at + 2)?;
        let s = std::str::from_utf8(h).ok()?;
        u8::from_str_radix(s, 16).ok()
    };
    let c = *b.get(i)?;
    if c.eq_ignore_ascii_case(&want) {
        return Some(1);
    }
    if c != b'%' {
        return None;
    }
    match hex(i + 1)? {
        x if x.eq_ignore_ascii_case(&want) => Some(3),
        b'%' => hex(i + 3)
            .filter(|x| x.eq_ignore_ascii_case(&want))
            .map(|_| 5),
        _ => None,
    }
}

/// Length of the encoded `word` at `i`.
fn word_at(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    let mut j = i;
    for &w in word {
        j += encoded_at(b, j, w)?;
    }
    Some(j - i)
}

/// Length of the `sig=` key at `i`, when one starts there after a parameter boundary: the start
/// of the text, any byte that cannot end a longer key name (not a letter or digit: a service
/// quoting the query in `<Message>sig=...` or `(sig=...` shows it too), or `?`, `&`, `;` encoded.
fn sig_key_at(b: &[u8], i: usize) -> Option<usize> {
    let key_len = word_at(b, i, b"sig=")?;
    let boundary = i == 0
        || !b[i - 1].is_ascii_alphanumeric()
        || [b'?', b'&', b';']
            .iter()
            .any(|&sep| (1..=5).any(|n| i >= n && word_at(b, i - n, &[sep]) == Some(n)));
    boundary.then_some(key_len)
}

fn value_ends_at(b: &[u8], j: usize) -> bool {
    b"&#\"'<> \t\r\n\x0b\x0c".contains(&b[j])
        || (b[j] == b'%' && (encoded_at(b, j, b'&').is_some() || encoded_at(b, j, b'#').is_some()))
}

/// A URL that is not usable as a blob service SAS URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SasUrlError {
    /// Not a URL at all.
    #[error("not a URL ({reason}): {redacted}")]
    NotUrl {
        /// Why.
        reason: String,
        /// The input, signature hidden.
        redacted: String,
    },
    /// A URL without a host, or a non-HTTP scheme.
    #[error("not an http(s) URL with a host: {0}")]
    NoHost(String),
    /// The path names no account (path-style URLs) or no container.
    #[error("the URL names no storage container: {0}")]
    NoContainer(String),
    /// A control character in the URL, or a `sig` value with a character where [`redact`] ends a
    /// value in text (white space, a quote, an angle bracket): no SAS URL has one, and the URL
    /// parser's reading (it drops tabs and newlines) and redaction's would differ, showing the
    /// signature wherever the URL is quoted. The message quotes nothing of the URL.
    #[error(
        "the URL holds a control character, or its signature (`sig`) white space, a quote or an angle bracket, which no SAS URL has: copy the SAS URL again"
    )]
    SignatureText,
}

/// A blob service URL with its SAS query, taken apart.
///
/// Two shapes are understood: Azure's `https://ACCOUNT.blob.core.windows.net/CONTAINER[/BLOB]?SAS`
/// and the path-style `http://127.0.0.1:10000/ACCOUNT/CONTAINER[/BLOB]?SAS` of Azurite and other
/// IP or single-label hosts.
#[derive(Clone, PartialEq, Eq)]
pub struct SasUrl {
    url: Url,
    /// Storage account name.
    pub account: String,
    /// Container name.
    pub container: String,
    /// Blob name, percent-decoded (`None` for a container URL).
    pub blob: Option<String>,
    /// The blob path as it was written (percent-encoded), for name checks.
    pub blob_raw: Option<String>,
}

/// Never prints the signature, even with `{:?}`.
impl fmt::Debug for SasUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SasUrl")
            .field("url", &self.redacted())
            .finish()
    }
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

impl SasUrl {
    /// Parses `input`.
    pub fn parse(input: &str) -> Result<Self, SasUrlError> {
        let url = Url::parse(input.trim()).map_err(|e| SasUrlError::NotUrl {
            reason: e.to_string(),
            redacted: redact(input),
        })?;
        // The URL parser drops tabs and newlines anywhere (`s<LF>ig=` is `sig=` to it, not to
        // redaction): a URL is one line of printable text.
        if input.trim().contains(char::is_control) {
            return Err(SasUrlError::SignatureText);
        }
        // The query as written, percent-decoded only (not form decoding: a `+` stays a `+`, as
        // redaction reads it).
        let written = input.trim().split_once('?').map_or("", |(_, q)| q);
        let written = written.split('#').next().unwrap_or_default();
        let text_ends_sig = written.split('&').any(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            decode(k) == "sig"
                && decode(v)
                    .contains(|c: char| c.is_whitespace() || c.is_control() || "\"'<>".contains(c))
        });
        if text_ends_sig {
            return Err(SasUrlError::SignatureText);
        }
        let host = match url.host() {
            Some(h) if matches!(url.scheme(), "http" | "https") => h,
            _ => return Err(SasUrlError::NoHost(redact(input))),
        };
        let path_style = match host {
            url::Host::Ipv4(_) | url::Host::Ipv6(_) => true,
            url::Host::Domain(d) => !d.contains('.'),
        };
        let mut segments: Vec<&str> = url
            .path_segments()
            .map(Iterator::collect)
            .unwrap_or_default();
        while segments.last() == Some(&"") {
            segments.pop();
        }
        let account = if path_style {
            if segments.is_empty() {
                return Err(SasUrlError::NoContainer(redact(input)));
            }
            decode(segments.remove(0))
        } else {
            host.to_string()
                .split('.')
                .next()
                .unwrap_or_default()
                .to_string()
        };
        if segments.is_empty() || segments[0].is_empty() {
            return Err(SasUrlError::NoContainer(redact(input)));
        }
        let container = decode(segments.remove(0));
        let blob_raw = (!segments.is_empty()).then(|| segments.join("/"));
        let blob = blob_raw.as_deref().map(decode);
        Ok(Self {
            url,
            account,
            container,
            blob,
            blob_raw,
        })
    }

    /// The URL with its signature hidden.
    pub fn redacted(&self) -> String {
        redact(self.url.as_str())
    }

    /// The URL without its query: safe to print, useless without the SAS.
    pub fn without_query(&self) -> String {
        let mut u = self.url.clone();
        u.set_query(None);
        u.set_fragment(None);
        u.to_string()
    }

    /// The URL to send requests to (carries the signature: never print it).
    pub const fn secret_url(&self) -> &Url {
        &self.url
    }

    /// The URL scheme.
    pub fn scheme(&self) -> &str {
        self.url.scheme()
    }

    /// Whether the URL has a non-empty query.
    pub fn has_query(&self) -> bool {
        self.url.query().is_some_and(|q| !q.is_empty())
    }

    /// The first value of query parameter `name` (percent-decoded).
    pub fn param(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The query parameters, the signature replaced by `REDACTED`.
    pub fn params_redacted(&self) -> Vec<(String, String)> {
        self.url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k.eq_ignore_ascii_case("sig") {
                    REDACTED.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect()
    }

    /// For a container URL: the URL of blob `name` in that container, with the same SAS query.
    pub fn blob_in_container(&self, name: &str) -> Self {
        let mut url = self.url.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty().push(name);
        }
        Self {
            url,
            account: self.account.clone(),
            container: self.container.clone(),
            blob: Some(name.to_string()),
            blob_raw: Some(name.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "OKth8EMV6Hp%2B%2FkXGo%2FBs1%2BWeE%2FubvhaCuaP95HOVqnU%3D";

    /// Found by the fuzzer (fuzz/corpus/sas/regression-sig-with-*): a signature starting with a
    /// space, `<` or a newline (which the URL parser drops) parsed, and `redact` (which ends a
    /// value there) printed its tail.
    #[test]
    fn a_signature_that_redaction_would_cut_is_refused_without_quoting_it() {
        for sig in [
            "%20ECRETSECRETSECRET",
            "<ECRETSECRETSECRET",
            "AB%22CDEFGHIJ",
            "ABCD'EFGH",
            "ABCD%3EEFGH",
            "\nABCDEFGHECRET",
            "\r\u{0}ECRETSECRET",
            "ABCD\tECRET",
        ] {
            for key in ["sig", "s%69g", "%73ig"] {
                let input = format!("https://a.blob.core.windows.net/c/b.vhd?sp=r&{key}={sig}");
                let err = SasUrl::parse(&input).unwrap_err();
                assert_eq!(err, SasUrlError::SignatureText, "{input}");
                assert!(!err.to_string().contains("ECRET"), "{err}");
            }
        }
        let split = format!("https://a.blob.core.windows.net/c/b.vhd?sp=r&s\n%69g={SIG}");
        assert_eq!(SasUrl::parse(&split), Err(SasUrlError::SignatureText));
        let plus = format!("https://a.blob.core.windows.net/c/b.vhd?sp=r&sig=ab+cd{SIG}");
        assert!(
            SasUrl::parse(&plus).is_ok(),
            "a raw + is not white space here"
        );
    }

    #[test]
    fn redacts_the_signature_of_a_url() {
        let u = format!(
            "https://acct.blob.core.windows.net/vhds/os.vhd?sv=2022-11-02&sr=c&sp=rl&sig={SIG}&se=2030-01-01"
        );
        let r = redact(&u);
        assert_eq!(
            r,
            "https://acct.blob.core.windows.net/vhds/os.vhd?sv=2022-11-02&sr=c&sp=rl&sig=REDACTED&se=2030-01-01"
        );
    }

    #[test]
    fn redacts_every_occurrence_in_error_text_in_any_case() {
        let t = format!(
            "error sending request for url (http://127.0.0.1:10000/a/b/c.zip?sp=cw&sig={SIG}): retry of \
             http://x/y?SIG={SIG}\nand \"http://x/y?sv=1&Sig={SIG}\""
        );
        let r = redact(&t);
        assert!(!r.contains("OKth8"), "{r}");
        assert_eq!(r.matches("REDACTED").count(), 3, "{r}");
        assert!(r.contains("sig=REDACTED retry"), "{r}");
    }

    /// Found by the property tests of the blob error reader (issue 17): a storage service that
    /// quotes the query in its XML (`<Code>sig=...</Code>`) had the signature printed, since
    /// `>` was not a boundary before a key.
    #[test]
    fn redacts_a_signature_after_any_punctuation() {
        for before in ["<Code>", "(", ",", "\"", "'", "[", "|", "/"] {
            let r = redact(&format!("{before}sig={SIG}<"));
            assert!(!r.contains("OKth8"), "{before}: {r}");
        }
        assert_eq!(redact("designature=x&mysig=y"), "designature=x&mysig=y");
    }

    #[test]
    fn redacts_a_url_nested_percent_encoded_in_another() {
        let t = "https://portal/?next=https%3A%2F%2Fa.blob.core.windows.net%2Fc%2Fd.vhd%3Fsp%3Drl%26sig%3DABC%252Bdef%26se%3D2030";
        assert_eq!(
            redact(t),
            "https://portal/?next=https%3A%2F%2Fa.blob.core.windows.net%2Fc%2Fd.vhd%3Fsp%3Drl%26sig%3DREDACTED%26se%3D2030"
        );
    }

    /// Issue 17, item 7: keys servers decode to `sig`, and signatures holding characters that
    /// used to end a value.
    #[test]
    fn redacts_percent_encoded_keys_and_signatures_with_commas_or_brackets() {
        for (t, want) in [
            (
                "https://a/b?sp=r&s%69g=SECRETtail&se=1",
                "https://a/b?sp=r&s%69g=REDACTED&se=1",
            ),
            ("https://a/b?%73ig=SECRETtail", "https://a/b?%73ig=REDACTED"),
            (
                "https://a/b?%53%49%47%3dSECRETtail",
                "https://a/b?%53%49%47%3dREDACTED",
            ),
            (
                "https://a/b?x=1%26s%2569g%253DSECRETtail%2526y",
                "https://a/b?x=1%26s%2569g%253DREDACTED%2526y",
            ),
            (
                "https://a/b?sig=SECRET,tail&x=1",
                "https://a/b?sig=REDACTED&x=1",
            ),
            (
                "(https://a/b?sig=SECRET(tail)) next",
                "(https://a/b?sig=REDACTED next",
            ),
            (
                "https://a/b?sig=SECRET;tail[x]{y}",
                "https://a/b?sig=REDACTED",
            ),
            ("https://a/b%3Fsig=SECRETtail", "https://a/b%3Fsig=REDACTED"),
        ] {
            let r = redact(t);
            assert_eq!(r, want);
            assert!(!r.contains("SECRET") && !r.contains("tail"), "{r}");
        }
    }

    #[test]
    fn leaves_lookalikes_and_other_text_alone() {
        for t in [
            "https://x/y?design=1&consig=2",
            "no url here",
            "sig",
            "Überprüfung sig: ok",
            "?sig=",
            "",
        ] {
            assert_eq!(redact(t), t);
        }
        assert_eq!(redact("sig=abc"), "sig=REDACTED");
        assert_eq!(redact("größe ?sig=äöü&x=1"), "größe ?sig=REDACTED&x=1");
    }

    #[test]
    fn parses_an_azure_blob_url() {
        let u = SasUrl::parse(&format!("https://myacct.blob.core.windows.net/vhds/dir/os%20disk.vhd?sv=2022-11-02&sp=rl&sig={SIG}")).unwrap();
        assert_eq!(u.account, "myacct");
        assert_eq!(u.container, "vhds");
        assert_eq!(u.blob.as_deref(), Some("dir/os disk.vhd"));
        assert_eq!(u.blob_raw.as_deref(), Some("dir/os%20disk.vhd"));
        assert_eq!(u.param("sp").as_deref(), Some("rl"));
        assert_eq!(
            u.param("sig").as_deref(),
            Some("OKth8EMV6Hp+/kXGo/Bs1+WeE/ubvhaCuaP95HOVqnU=")
        );
        assert!(u.has_query());
        assert!(!u.redacted().contains("OKth8"));
        assert!(!format!("{u:?}").contains("OKth8"));
        assert_eq!(
            u.without_query(),
            "https://myacct.blob.core.windows.net/vhds/dir/os%20disk.vhd"
        );
        assert!(
            u.params_redacted()
                .contains(&("sig".to_string(), "REDACTED".to_string()))
        );
    }

    #[test]
    fn parses_a_path_style_azurite_container_url_and_appends_a_blob() {
        let u = SasUrl::parse(&format!(
            "http://127.0.0.1:10000/devstoreaccount1/reports?sv=2022-11-02&sr=c&sp=cw&sig={SIG}"
        ))
        .unwrap();
        assert_eq!(
            (u.account.as_str(), u.container.as_str(), u.blob.as_deref()),
            ("devstoreaccount1", "reports", None)
        );
        let b = u.blob_in_container("host_20261121-101500.zip");
        assert_eq!(
            b.without_query(),
            "http://127.0.0.1:10000/devstoreaccount1/reports/host_20261121-101500.zip"
        );
        assert_eq!(b.param("sp").as_deref(), Some("cw"));
        let trailing =
            SasUrl::parse("http://localhost:10000/devstoreaccount1/reports/?sp=cw").unwrap();
        assert_eq!(
            trailing.blob_in_container("a b.zip").without_query(),
            "http://localhost:10000/devstoreaccount1/reports/a%20b.zip"
        );
    }

    #[test]
    fn bad_urls_are_errors_that_hide_the_signature() {
        for bad in [
            format!("not a url?sig={SIG}"),
            format!("ftp://x.example/c?sig={SIG}"),
            format!("https://acct.blob.core.windows.net/?sig={SIG}"),
        ] {
            let e = SasUrl::parse(&bad).expect_err(&bad).to_string();
            assert!(!e.contains("OKth8"), "{e}");
            assert!(e.contains("sig=REDACTED"), "{e}");
        }
        assert!(matches!(
            SasUrl::parse("http://127.0.0.1:10000/devstoreaccount1"),
            Err(SasUrlError::NoContainer(_))
        ));
    }
}

/// Property tests of [`redact`] and [`SasUrl`] (proptest, on stable; `fuzz/run.sh` runs them
/// longer): a signature is never shown, whatever characters it holds and however its key is
/// written; any text is parsed or refused; generated URLs read back as they were built.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    /// What a blob name's path segments percent-encode.
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}');

    /// `sig` with each letter as itself (either case), `%XX` or `%25XX`, then `=` likewise.
    fn key() -> impl Strategy<Value = String> {
        let enc = |c: char| {
            let up = c.to_ascii_uppercase();
            prop_oneof![
                Just(c.to_string()),
                Just(up.to_string()),
                Just(format!("%{:02X}", c as u8)),
                Just(format!("%{:02x}", c as u8)),
                Just(format!("%25{:02X}", c as u8)),
            ]
        };
        (enc('s'), enc('i'), enc('g'), enc('=')).prop_map(|(a, b, c, d)| format!("{a}{b}{c}{d}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            crate::proptest_cases::cases(512)
        ))]

        #[test]
        fn a_signature_is_never_shown(
            key in key(),
            sep in prop_oneof![Just("?"), Just("&"), Just("%26"), Just("%3F"), Just(" ")],
            // Anything but the characters that end a value; a marker keeps it recognisable.
            sig in "[^&#\"'<> \t\r\n\u{b}\u{c}%]{0,40}",
            after in prop_oneof![Just(""), Just("&se=1"), Just("#x"), Just(" more text")],
        ) {
            let secret = format!("SeCrEt{sig}");
            let text = format!("https://a.blob.core.windows.net/c/b{sep}{key}{secret}{after}");
            let r = redact(&text);
            prop_assert!(!r.contains(&secret), "{} -> {}", text, r);
        }

        #[test]
        fn any_text_is_redacted_without_panic(text in ".{0,300}") {
            let _ = redact(&text);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            crate::proptest_cases::cases(128)
        ))]

        /// Any text as a SAS URL: taken apart or refused, never a panic, and the error never
        /// shows a signature it holds.
        #[test]
        fn any_text_parses_or_is_refused_without_its_signature(
            text in prop_oneof![
                ".{0,120}",
                "(https?|ftp|file)://[a-z0-9.:\\[\\]@%/-]{0,40}(\\?[a-z%0-9=&]{0,30})?",
            ],
            with_sig in any::<bool>(),
        ) {
            let text = if with_sig { format!("{text}?sig=SeCrEt9&x=1") } else { text };
            match SasUrl::parse(&text) {
                Ok(u) => {
                    let _ = (u.without_query(), u.param("sv"), u.has_query(), u.scheme());
                    prop_assert!(!u.redacted().contains("SeCrEt9"));
                    let debug = format!("{u:?}");
                    prop_assert!(!debug.contains("SeCrEt9"), "{}", debug);
                }
                Err(e) => prop_assert!(!e.to_string().contains("SeCrEt9"), "{}", e),
            }
        }

        /// A generated blob or container URL, in either shape, reads back as its account,
        /// container, blob and parameters; nothing printable from it shows the signature, however
        /// its key is written, and its value comes back decoded.
        #[test]
        fn generated_sas_urls_round_trip_without_showing_the_signature(
            account in "[a-z0-9]{3,24}",
            container in "[a-z0-9](-?[a-z0-9]){2,20}",
            blob in prop::option::of("[A-Za-z0-9._ -]{1,20}(/[A-Za-z0-9._-]{1,10}){0,2}"),
            path_style in any::<bool>(),
            sig in "[A-Za-z0-9+/]{8,40}={0,2}",
            key in prop_oneof![
                Just("sig".to_string()),
                Just("SIG".to_string()),
                Just("s%69g".to_string()),
                Just("%73%69%67".to_string()),
            ],
            sig_first in any::<bool>(),
        ) {
            // Dot segments are folded away by every URL parser, as by Azure's clients.
            let blob = blob.filter(|b| {
                !b.trim().is_empty()
                    && !b.ends_with(['.', ' '])
                    && b.split('/').all(|seg| !seg.trim_matches('.').is_empty())
            });
            let base = if path_style {
                format!("http://127.0.0.1:10000/{account}/{container}")
            } else {
                format!("https://{account}.blob.core.windows.net/{container}")
            };
            let path = blob.as_ref().map_or_else(String::new, |b| {
                format!("/{}", percent_encoding::utf8_percent_encode(b, SEGMENT))
            });
            let secret = format!("SeCrEt{sig}");
            let enc_sig: String =
                percent_encoding::utf8_percent_encode(&secret, percent_encoding::NON_ALPHANUMERIC)
                    .to_string();
            let query = if sig_first {
                format!("{key}={enc_sig}&sv=2022-11-02&sp=r")
            } else {
                format!("sv=2022-11-02&sp=r&{key}={enc_sig}")
            };
            let text = format!("{base}{path}?{query}");
            let u = SasUrl::parse(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            prop_assert_eq!(&u.account, &account);
            prop_assert_eq!(&u.container, &container);
            prop_assert_eq!(u.blob.as_deref(), blob.as_deref());
            prop_assert_eq!(u.param("sv"), Some("2022-11-02".to_string()));
            if key.eq_ignore_ascii_case("sig") {
                prop_assert_eq!(u.param(&key), Some(secret.clone()));
            }
            let printed = format!(
                "{} {:?} {} {:?}",
                u.redacted(),
                u,
                u.without_query(),
                u.params_redacted()
            );
            prop_assert!(!printed.contains("SeCrEt"), "{}", printed);
            if let Some(b) = &blob {
                let c = SasUrl::parse(&format!("{base}?{query}")).unwrap().blob_in_container(b);
                prop_assert_eq!(c.blob.as_deref(), Some(b.as_str()));
                prop_assert!(!c.redacted().contains("SeCrEt"));
            }
        }
    }
}
