//! The disk image as a target: `vmcert run --image DISK.vhd | SAS_URL | env:VAR` certifies an
//! image before any VM exists. Nothing from the image is executed and nothing is mounted: the
//! disk is read by pure-Rust readers ([`layout`]: VHD footer and partition table, shared with
//! `vhd inspect`; [`fs`]: ext4 through `ext4-view`) from a local file or a blob's SAS URL through
//! a block cache ([`disk`]), so it needs no root and a hostile image cannot harm the machine.
//!
//! The runner hands this target the same probes as any other; [`ImageTransport`] answers each
//! from the disk in the live probe's output format ([`linux`]), so the checks need no change.
//! A probe only a running system can answer comes back with an error starting with [`OFFLINE`];
//! the runner turns a check that needs such a probe into NotApplicable saying it needs a live
//! run (never Pass, never an Error failing the run), and an image run is never `certified`.

pub(crate) mod disk;
pub(crate) mod fs;
pub(crate) mod hive;
pub(crate) mod layout;
pub(crate) mod linux;
pub(crate) mod windows;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use vmcert_checks::{Evidence, Os, ProbeOutput, Status, Verdict};

use self::disk::{CachePolicy, Disk};
use self::layout::{FsKind, Layout};
use self::linux::Linux;
use self::windows::Windows;
use crate::report::model::TargetInfo;
use crate::sas::SasUrl;
use crate::target::open::{Connected, Kind, TargetSpec};
use crate::target::script::{ProbeResult, ProbeSpec};
use crate::target::{ProbeSink, Transport, TransportError};
use crate::vhd::source::{Blob, LocalFile, Source};

/// A fleet target `image:PATH` with a relative PATH, taken relative to the inventory's directory
/// `base` like the inventory's other paths; any other locator unchanged.
pub(crate) fn relative_to(base: &std::path::Path, locator: &str) -> String {
    match locator.strip_prefix("image:") {
        Some(p)
            if !p.starts_with('/')
                && !p.starts_with("env:")
                && !p.starts_with("https://")
                && !p.starts_with("http://") =>
        {
            format!("image:{}", base.join(p).display())
        }
        _ => locator.to_string(),
    }
}

/// The start of a probe error meaning "this target cannot answer it offline".
pub(crate) const OFFLINE: &str = "not evaluated offline: ";

/// Why an image cannot be checked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImageError {
    /// Not a disk image, or its partition table cannot be trusted.
    #[error("{0}")]
    NotADisk(String),
    /// A container vmcert does not read (dynamic VHD, VHDX).
    #[error("{0}")]
    Unsupported(String),
    /// No root file system vmcert can read.
    #[error("{0}")]
    NoRoot(String),
    /// The root file system is damaged.
    #[error("the root file system cannot be read: {0}")]
    Unreadable(String),
    /// The file or blob could not be read.
    #[error("{0:#}")]
    Io(anyhow::Error),
}

/// One probe's answer from the disk.
pub(crate) enum Answer {
    /// What the live probe would print.
    Out(ProbeOutput),
    /// Only a running system can tell; the reason.
    Offline(String),
    /// The image could not be read where the answer is.
    Error(String),
}

/// Where the image is.
#[derive(Clone)]
enum Location {
    File(PathBuf),
    Blob(Box<SasUrl>),
}

/// An image target as the command line gives it: located and its OS known; nothing kept open
/// (the readers hold `Rc`s and stay on the thread that runs the probes).
#[derive(Clone)]
pub(crate) struct ImageSpec {
    location: Location,
    login_user: Option<String>,
    os: Os,
}

/// `--image X` (the locator `image:X`), a fleet target `image:PATH`, or a blob's URL.
pub(crate) const KIND: Kind = Kind {
    usage: "image:PATH|SAS_URL",
    accepts: |locator| {
        locator.starts_with("image:")
            || locator.starts_with("https://")
            || locator.starts_with("http://")
    },
    open: |options| {
        Ok(Box::new(ImageSpec::parse(
            &options.locator,
            options.login_user.as_deref(),
        )?))
    },
};

impl ImageSpec {
    /// Reads `locator` (`image:` then a path, a SAS URL or `env:VAR` holding either; or a bare
    /// URL) and opens the image once to learn its OS.
    ///
    /// # Errors
    /// A bad URL, or an image that cannot be checked (see [`ImageError`]).
    pub(crate) fn parse(locator: &str, login_user: Option<&str>) -> anyhow::Result<Self> {
        let arg = locator.strip_prefix("image:").unwrap_or(locator);
        let arg = crate::sas::url_arg(arg).map_err(|e| anyhow::anyhow!("--image: {e:#}"))?;
        let location = if arg.starts_with("https://") || arg.starts_with("http://") {
            Location::Blob(Box::new(SasUrl::parse(&arg)?))
        } else {
            Location::File(PathBuf::from(&arg))
        };
        if let Some(u) = login_user
            && (u.is_empty() || u.contains(|c: char| c.is_whitespace() || c == ':'))
        {
            anyhow::bail!("--login-user {u:?}: not an account name");
        }
        let mut spec = Self {
            location,
            login_user: login_user.map(str::to_string),
            os: Os::Linux,
        };
        spec.os = spec.layout()?.1;
        Ok(spec)
    }

    /// The path, or the URL without its signature.
    fn location(&self) -> String {
        match &self.location {
            Location::File(p) => p.display().to_string(),
            Location::Blob(u) => u.redacted(),
        }
    }

    /// A run name: the file or blob name without its extension.
    fn name(&self) -> String {
        let full = match &self.location {
            Location::File(p) => p.display().to_string(),
            Location::Blob(u) => u.without_query(),
        };
        let base = full.rsplit('/').next().unwrap_or(&full);
        let stem = base.rsplit_once('.').map_or(base, |(s, _)| s);
        if stem.is_empty() {
            "image".to_string()
        } else {
            stem.to_string()
        }
    }

    /// The disk's layout (container, partition table, file system signatures: a few reads)
    /// and the OS it holds.
    fn layout(&self) -> anyhow::Result<(Layout, Os)> {
        let (src, policy): (Box<dyn Source>, _) = match &self.location {
            Location::File(p) => (Box::new(LocalFile::open(p)?), CachePolicy::LOCAL),
            Location::Blob(u) => (Box::new(Blob::open((**u).clone())?), CachePolicy::REMOTE),
        };
        let layout = layout::open(src, policy)?;
        let os = if layout.parts.iter().any(|p| p.fs == FsKind::Ntfs)
            && !layout.parts.iter().any(|p| matches!(p.fs, FsKind::Ext(_)))
        {
            Os::Windows
        } else {
            Os::Linux
        };
        Ok((layout, os))
    }
}

impl TargetSpec for ImageSpec {
    fn os(&self) -> Os {
        self.os
    }

    fn host(&self) -> String {
        self.name()
    }

    fn describe(&self) -> String {
        format!("image {}", self.location())
    }

    fn record_source(&self) -> String {
        format!("vmcert run --image {}", self.location())
    }

    fn is_disk_image(&self) -> bool {
        true
    }

    fn connect(&self) -> anyhow::Result<Connected> {
        let started = Instant::now();
        let (layout, os) = self.layout()?;
        let reader = match os {
            Os::Windows => Reader::Windows(Windows::open(&layout)?),
            Os::Linux => Reader::Linux(Box::new(Linux::open(&layout, self.login_user.as_deref())?)),
        };
        let log = match &reader {
            Reader::Linux(l) => l.notes.clone(),
            Reader::Windows(w) => w.notes.clone(),
        };
        let transport = ImageTransport {
            disk: Rc::clone(&layout.disk),
            reader,
            started,
        };
        Ok(Connected {
            log,
            info: TargetInfo {
                transport: "image".to_string(),
                host: self.location(),
                port: None,
                user: None,
                os: self.os,
                facts: BTreeMap::default(),
            },
            transport: Box::new(transport),
        })
    }
}

/// The reader of the image's OS.
enum Reader {
    Linux(Box<Linux>),
    Windows(Windows),
}

/// Answers probes from an opened image.
pub(crate) struct ImageTransport {
    disk: Rc<RefCell<Disk>>,
    reader: Reader,
    started: Instant,
}

impl Transport for ImageTransport {
    fn kind(&self) -> &'static str {
        "image"
    }

    fn run_probes(
        &mut self,
        probes: &[ProbeSpec],
        sink: &mut dyn ProbeSink,
    ) -> Result<(), TransportError> {
        for p in probes {
            let t = Instant::now();
            let answer = match &self.reader {
                Reader::Linux(l) if vmcert_checks::probe::find(Os::Linux, &p.id).is_some() => {
                    l.answer(&p.id)
                }
                Reader::Windows(w) if vmcert_checks::probe::find(Os::Windows, &p.id).is_some() => {
                    w.answer(&p.id)
                }
                _ => Answer::Offline(format!(
                    "probe `{}` is a check pack's shell command, which only runs on a live system",
                    p.id
                )),
            };
            let mut output = match answer {
                Answer::Out(o) => o,
                Answer::Offline(why) => ProbeOutput {
                    error: Some(format!("{OFFLINE}{why}")),
                    ..ProbeOutput::default()
                },
                Answer::Error(why) => ProbeOutput {
                    error: Some(why),
                    ..ProbeOutput::default()
                },
            };
            let cap = usize::try_from(p.output_cap).unwrap_or(usize::MAX);
            if output.stdout.len() > cap {
                output.stdout.truncate(cap);
                output.truncated = true;
            }
            output.duration_ms = u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX);
            sink.result(ProbeResult {
                id: p.id.clone(),
                output,
            });
        }
        let d = self.disk.borrow();
        sink.note(format!(
            "image {}: {} bytes read in {} reads in {} ms (disk of {} bytes)",
            d.display_name(),
            d.bytes_read(),
            d.requests(),
            self.started.elapsed().as_millis(),
            d.len()
        ));
        Ok(())
    }
}

/// The verdict of a check one of whose probes cannot be answered offline: NotApplicable,
/// saying the check needs a live run and why. `None` when every probe was answered.
pub(crate) fn offline_verdict(probes: &[&str], ev: &Evidence) -> Option<Verdict> {
    let (id, why) = probes.iter().find_map(|p| {
        let e = ev.outputs.get(*p)?.error.as_deref()?;
        Some((*p, e.strip_prefix(OFFLINE)?))
    })?;
    Some(Verdict::new(
        Status::NotApplicable,
        "not evaluated offline",
        "",
        format!("Needs a live run: probe `{id}` is not evaluated on a disk image ({why})."),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleet_image_paths_are_relative_to_the_inventory() {
        let base = std::path::Path::new("/srv/inv");
        assert_eq!(
            relative_to(base, "image:disk.vhd"),
            "image:/srv/inv/disk.vhd"
        );
        assert_eq!(relative_to(base, "image:/abs.vhd"), "image:/abs.vhd");
        assert_eq!(relative_to(base, "image:env:URL"), "image:env:URL");
        assert_eq!(relative_to(base, "ssh://u@h"), "ssh://u@h");
        assert_eq!(
            relative_to(base, "https://a.blob.core.windows.net/c/d.vhd?sig=x"),
            "https://a.blob.core.windows.net/c/d.vhd?sig=x"
        );
    }
}
