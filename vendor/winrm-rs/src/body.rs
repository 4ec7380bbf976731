// vmcert patch (see VMCERT-PATCHES.md, 10): every HTTP response body is read within a cap.
//
// Upstream read bodies whole with `Response::bytes()` / `text()`: a server (WinRM is the target
// being certified, not trusted) that answers with an endless or huge body made the client hold
// all of it in memory until the request's timeout, gigabytes on a fast network. A WinRM answer
// is at most `MaxEnvelopeSize` (500 KB by default on Windows, a few MB when raised) plus its
// sealing; anything past `MAX_BODY` is refused as soon as it arrives.

use crate::error::WinrmError;

/// The most a response body may hold: far above any envelope Windows sends.
pub(crate) const MAX_BODY: usize = 32 * 1024 * 1024;

/// The whole body of `resp`, or an error once it passes [`MAX_BODY`] (announced or received).
pub(crate) async fn read_body(mut resp: reqwest::Response) -> Result<Vec<u8>, WinrmError> {
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(WinrmError::ResponseTooLarge(MAX_BODY));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(WinrmError::Http)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(WinrmError::ResponseTooLarge(MAX_BODY));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// [`read_body`] as text (WinRM speaks UTF-8; anything else is replaced, never trusted).
pub(crate) async fn read_text(resp: reqwest::Response) -> Result<String, WinrmError> {
    let body = read_body(resp).await?;
    Ok(match String::from_utf8(body) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}
