//! The image's directory tree as the booted system would see it: the root ext4 file system with
//! the others of its fstab mounted on it (`/boot` on its own partition, say), read with
//! `ext4-view`. Paths are resolved here, component by component, so symlinks may cross mounts
//! (`/lib` -> `usr/lib`, absolute links) like the kernel resolves them, with the kernel's bounds:
//! 40 symlinks per lookup, 4096 bytes of path. Reads are capped; nothing is ever executed.

use ext4_view::{Ext4, Ext4Error};

/// Most symlinks followed in one lookup (the kernel's limit).
const MAX_SYMLINKS: usize = 40;
/// Longest path handled, in bytes.
const MAX_PATH: usize = 4096;
/// Most entries listed from one directory.
pub(crate) const MAX_ENTRIES: usize = 10_000;

/// Why the tree could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum FsError {
    /// A symlink loop or too long a chain.
    #[error("{0}: too many levels of symbolic links")]
    Loop(String),
    /// The path grew past [`MAX_PATH`].
    #[error("{0}: path too long")]
    TooLong(String),
    /// The path lies on a file system vmcert cannot read offline.
    #[error("{path} is on {what}, which vmcert cannot read offline")]
    Unreadable {
        /// The path asked for.
        path: String,
        /// What the mount is (`XFS partition 2 mounted at /boot`).
        what: String,
    },
    /// The file system is damaged or the disk could not be read.
    #[error("{path}: {error}")]
    Broken {
        /// The path asked for.
        path: String,
        /// The reader's error.
        error: String,
    },
    /// A file is larger than the reader takes.
    #[error("{path} is {len} bytes, more than the {cap} bytes read offline")]
    TooLarge {
        /// The path.
        path: String,
        /// Its size.
        len: u64,
        /// The cap.
        cap: u64,
    },
}

/// What is mounted at one point of the tree.
pub(crate) enum Mounted {
    /// A readable ext file system.
    Ext(Ext4),
    /// A file system vmcert does not read; any path below it is [`FsError::Unreadable`].
    Unreadable(String),
}

/// A mount: point (`/`, `/boot`) and file system.
pub(crate) struct Mount {
    /// Absolute, no trailing slash except `/` itself.
    pub point: String,
    /// The file system.
    pub fs: Mounted,
}

/// Kind of a resolved entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symlink (only when not followed).
    Symlink,
    /// Anything else (device, fifo, socket).
    Other,
}

/// The mounted tree.
pub(crate) struct Tree {
    mounts: Vec<Mount>,
}

fn split(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect()
}

fn join(components: &[String]) -> String {
    format!("/{}", components.join("/"))
}

impl Tree {
    /// A tree of `root` alone.
    pub(crate) fn new(root: Ext4) -> Self {
        Self {
            mounts: vec![Mount {
                point: "/".to_string(),
                fs: Mounted::Ext(root),
            }],
        }
    }

    /// Mounts `fs` at `point` (absolute).
    pub(crate) fn mount(&mut self, point: &str, fs: Mounted) {
        self.mounts.push(Mount {
            point: join(&split(point)),
            fs,
        });
    }

    /// The mount holding absolute, symlink-free `path` and the path inside it.
    fn locate(&self, path: &str) -> (&Mount, String) {
        let mut best = &self.mounts[0];
        for m in &self.mounts {
            let under = m.point == "/"
                || path == m.point
                || path
                    .strip_prefix(m.point.as_str())
                    .is_some_and(|r| r.starts_with('/'));
            if under && m.point.len() >= best.point.len() {
                best = m;
            }
        }
        let inner = if best.point == "/" {
            path.to_string()
        } else {
            let r = &path[best.point.len()..];
            if r.is_empty() {
                "/".to_string()
            } else {
                r.to_string()
            }
        };
        (best, inner)
    }

    /// Kind of `path` without following it, `None` when it does not exist.
    fn lstat(&self, path: &str) -> Result<Option<(Kind, u64)>, FsError> {
        let (m, inner) = self.locate(path);
        let fs = match &m.fs {
            Mounted::Ext(fs) => fs,
            Mounted::Unreadable(what) => {
                return Err(FsError::Unreadable {
                    path: path.to_string(),
                    what: what.clone(),
                });
            }
        };
        match fs.symlink_metadata(inner.as_str()) {
            Ok(md) => {
                let t = md.file_type();
                let kind = if t.is_symlink() {
                    Kind::Symlink
                } else if t.is_dir() {
                    Kind::Dir
                } else if t.is_regular_file() {
                    Kind::File
                } else {
                    Kind::Other
                };
                Ok(Some((kind, md.len())))
            }
            Err(Ext4Error::NotFound | Ext4Error::NotADirectory) => Ok(None),
            Err(e) => Err(broken(path, &e)),
        }
    }

    /// The symlink-free absolute path `path` leads to (following the last component when
    /// `follow`), with its kind and size; `None` when some component does not exist.
    ///
    /// # Errors
    /// A loop, too long a path, an unreadable mount or a damaged file system.
    pub(crate) fn resolve(
        &self,
        path: &str,
        follow: bool,
    ) -> Result<Option<(String, Kind, u64)>, FsError> {
        let mut done: Vec<String> = Vec::new();
        let mut todo: Vec<String> = split(path);
        todo.reverse();
        let mut links = 0usize;
        let mut last = (Kind::Dir, 0u64);
        while let Some(c) = todo.pop() {
            if c == ".." {
                done.pop();
                last = (Kind::Dir, 0);
                continue;
            }
            done.push(c);
            let here = join(&done);
            if here.len() > MAX_PATH {
                return Err(FsError::TooLong(path.to_string()));
            }
            let Some((kind, len)) = self.lstat(&here)? else {
                return Ok(None);
            };
            if kind == Kind::Symlink && (follow || !todo.is_empty()) {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(FsError::Loop(path.to_string()));
                }
                let target = self.read_link(&here)?;
                if target.len() > MAX_PATH {
                    return Err(FsError::TooLong(path.to_string()));
                }
                done.pop();
                if target.starts_with('/') {
                    done.clear();
                }
                let mut parts = split(&target);
                parts.reverse();
                todo.extend(parts);
                last = (Kind::Dir, 0);
                continue;
            }
            if kind != Kind::Dir && !todo.is_empty() {
                return Ok(None);
            }
            last = (kind, len);
        }
        Ok(Some((join(&done), last.0, last.1)))
    }

    /// [`Tree::resolve`] following symlinks, a loop being no file (as `[ -f ]` sees it).
    fn resolve_file(&self, path: &str) -> Result<Option<(String, Kind, u64)>, FsError> {
        match self.resolve(path, true) {
            Err(FsError::Loop(_)) => Ok(None),
            other => other,
        }
    }

    /// The target of symlink `path` (symlink-free absolute path).
    fn read_link(&self, path: &str) -> Result<String, FsError> {
        let (m, inner) = self.locate(path);
        let Mounted::Ext(fs) = &m.fs else {
            return Err(FsError::Unreadable {
                path: path.to_string(),
                what: "an unreadable file system".to_string(),
            });
        };
        let t = fs.read_link(inner.as_str()).map_err(|e| broken(path, &e))?;
        Ok(String::from_utf8_lossy(t.as_ref()).into_owned())
    }

    /// Kind and size of what `path` leads to (symlinks followed), `None` when absent or when
    /// its symlinks loop (as the shell's tests see it).
    ///
    /// # Errors
    /// As [`Tree::resolve`].
    pub(crate) fn stat(&self, path: &str) -> Result<Option<(Kind, u64)>, FsError> {
        match self.resolve(path, true) {
            Ok(found) => Ok(found.map(|(_, k, l)| (k, l))),
            // As `[ -e ]` and `[ -f ]`: a path that loops leads nowhere.
            Err(FsError::Loop(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether `path` is a regular file (symlinks followed), like `[ -f ]`.
    ///
    /// # Errors
    /// As [`Tree::resolve`].
    pub(crate) fn is_file(&self, path: &str) -> Result<bool, FsError> {
        Ok(matches!(self.stat(path)?, Some((Kind::File, _))))
    }

    /// Whether `path` exists (symlinks followed), like `[ -e ]`.
    ///
    /// # Errors
    /// As [`Tree::resolve`].
    pub(crate) fn exists(&self, path: &str) -> Result<bool, FsError> {
        Ok(self.stat(path)?.is_some())
    }

    /// Where symlink `path` points, as written (`None`: not a symlink or absent).
    ///
    /// # Errors
    /// As [`Tree::resolve`].
    pub(crate) fn link_target(&self, path: &str) -> Result<Option<String>, FsError> {
        match self.resolve(path, false)? {
            Some((real, Kind::Symlink, _)) => Ok(Some(self.read_link(&real)?)),
            _ => Ok(None),
        }
    }

    /// The contents of regular file `path`, `None` when absent or not a regular file.
    ///
    /// # Errors
    /// A file larger than `cap`, or as [`Tree::resolve`].
    pub(crate) fn read(&self, path: &str, cap: u64) -> Result<Option<Vec<u8>>, FsError> {
        Ok(self.read_prefix(path, cap)?.map(|(bytes, _)| bytes))
    }

    /// The contents of regular file `path` and its length.
    ///
    /// # Errors
    /// A file larger than `cap`, or as [`Tree::resolve`].
    pub(crate) fn read_prefix(
        &self,
        path: &str,
        cap: u64,
    ) -> Result<Option<(Vec<u8>, u64)>, FsError> {
        let Some((real, Kind::File, len)) = self.resolve_file(path)? else {
            return Ok(None);
        };
        if len > cap {
            return Err(FsError::TooLarge {
                path: path.to_string(),
                len,
                cap,
            });
        }
        let (m, inner) = self.locate(&real);
        let Mounted::Ext(fs) = &m.fs else {
            return Ok(None);
        };
        let want = usize::try_from(len).unwrap_or(usize::MAX);
        Ok(Some((read_up_to(fs, path, &inner, want)?, len)))
    }

    /// The first `n` bytes of regular file `path` whatever its size (an ELF header).
    ///
    /// # Errors
    /// As [`Tree::resolve`].
    pub(crate) fn head(&self, path: &str, n: usize) -> Result<Option<Vec<u8>>, FsError> {
        let Some((real, Kind::File, _)) = self.resolve_file(path)? else {
            return Ok(None);
        };
        let (m, inner) = self.locate(&real);
        let Mounted::Ext(fs) = &m.fs else {
            return Ok(None);
        };
        Ok(Some(read_up_to(fs, path, &inner, n)?))
    }

    /// Names in directory `path` (symlinks followed), sorted, without `.` and `..`; `None`
    /// when it is absent or not a directory. At most [`MAX_ENTRIES`].
    ///
    /// # Errors
    /// More entries than that, or as [`Tree::resolve`].
    pub(crate) fn list(&self, path: &str) -> Result<Option<Vec<String>>, FsError> {
        let Some((real, Kind::Dir, _)) = self.resolve(path, true)? else {
            return Ok(None);
        };
        let (m, inner) = self.locate(&real);
        let fs = match &m.fs {
            Mounted::Ext(fs) => fs,
            Mounted::Unreadable(what) => {
                return Err(FsError::Unreadable {
                    path: path.to_string(),
                    what: what.clone(),
                });
            }
        };
        let mut names = Vec::new();
        for e in fs.read_dir(inner.as_str()).map_err(|e| broken(path, &e))? {
            let e = e.map_err(|e| broken(path, &e))?;
            let name = String::from_utf8_lossy(e.file_name().as_ref()).into_owned();
            if name == "." || name == ".." {
                continue;
            }
            if names.len() >= MAX_ENTRIES {
                return Err(FsError::Broken {
                    path: path.to_string(),
                    error: format!("more than {MAX_ENTRIES} entries"),
                });
            }
            names.push(name);
        }
        names.sort();
        Ok(Some(names))
    }

    /// Entries of directory `dir` whose names match `prefix*suffix`, as full paths, sorted
    /// (the shell's glob; names starting with `.` never match).
    ///
    /// # Errors
    /// As [`Tree::list`].
    pub(crate) fn glob(
        &self,
        dir: &str,
        prefix: &str,
        suffix: &str,
    ) -> Result<Vec<String>, FsError> {
        Ok(self
            .list(dir)?
            .unwrap_or_default()
            .into_iter()
            .filter(|n| {
                !n.starts_with('.')
                    && n.len() >= prefix.len() + suffix.len()
                    && n.starts_with(prefix)
                    && n.ends_with(suffix)
            })
            .map(|n| format!("{}/{n}", dir.trim_end_matches('/')))
            .collect())
    }
}

/// Up to `want` bytes of file `inner` of `fs` (`path` names it in errors): fewer when the file
/// is shorter.
fn read_up_to(fs: &Ext4, path: &str, inner: &str, want: usize) -> Result<Vec<u8>, FsError> {
    let mut file = fs.open(inner).map_err(|e| broken(path, &e))?;
    let mut out = vec![0u8; want];
    let mut got = 0;
    while got < want {
        let n = file
            .read_bytes(&mut out[got..])
            .map_err(|e| broken(path, &e))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    out.truncate(got);
    Ok(out)
}

fn broken(path: &str, e: &Ext4Error) -> FsError {
    match e {
        Ext4Error::TooManySymlinks => FsError::Loop(path.to_string()),
        Ext4Error::PathTooLong => FsError::TooLong(path.to_string()),
        _ => FsError::Broken {
            path: path.to_string(),
            error: e.to_string(),
        },
    }
}
