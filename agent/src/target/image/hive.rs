//! A small, bounded reader of Windows registry hive files (regf), for the SYSTEM and SOFTWARE
//! hives of a Windows image. `nt-hive` is GPL-2.0-or-later (not compatible with MIT OR
//! Apache-2.0) and works on the hive as one byte slice; this reader fetches only the cells on the
//! looked-up paths, on demand, through the image's block cache (a SOFTWARE hive is tens of MiB,
//! more than an image check should fetch over a SAS URL), and the lookups need little of the
//! format: the base block, the hive bins' cells, key nodes (`nk`), subkey lists (`lf`, `lh`,
//! `li`, `ri`), value lists and values (`vk`). The hive comes from an untrusted image, so every
//! offset and length is checked against the hive's size, and lists and cells are bounded.

use std::io::{Read, Seek, SeekFrom};

/// Size of the base block; cell offsets count from its end.
const BASE: u64 = 4096;
/// Largest cell read (a value's data past this is not read).
const MAX_CELL: u32 = 1 << 20;
/// Most entries taken from one subkey or value list.
const MAX_LIST: u32 = 100_000;
/// Deepest `ri` nesting followed.
const MAX_DEPTH: u32 = 4;

/// Why a hive could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum HiveError {
    /// Not a regf file, or a cell pointing where it should not.
    #[error("corrupt registry hive: {0}")]
    Corrupt(String),
    /// The file could not be read.
    #[error("registry hive: {0}")]
    Io(String),
}

fn corrupt(what: impl Into<String>) -> HiveError {
    HiveError::Corrupt(what.into())
}

/// A registry value's data, decoded for the types the probes print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// REG_SZ, REG_EXPAND_SZ.
    Str(String),
    /// REG_DWORD, REG_QWORD.
    Int(i64),
    /// REG_MULTI_SZ.
    Multi(Vec<String>),
    /// Anything else, undecoded.
    Other,
}

/// An open hive over any `Read + Seek` holding the hive file.
pub(crate) struct Hive<R> {
    r: R,
    len: u64,
    root: u32,
}

/// A key node, by its cell offset.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key(u32);

fn u16_at(b: &[u8], at: usize) -> Result<u16, HiveError> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| corrupt("cell too short"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, HiveError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| corrupt("cell too short"))
}

/// A key or value name: Latin-1 when `compressed`, else UTF-16LE.
fn name(bytes: &[u8], compressed: bool) -> String {
    if compressed {
        bytes.iter().map(|&b| char::from(b)).collect()
    } else {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    }
}

/// A UTF-16LE string up to its first NUL.
fn utf16z(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

impl<R: Read + Seek> Hive<R> {
    /// Opens the hive file of `len` bytes read through `r`.
    ///
    /// # Errors
    /// Not a regf file, or its root cell lies outside it.
    pub(crate) fn open(mut r: R, len: u64) -> Result<Self, HiveError> {
        if len < BASE + 32 {
            return Err(corrupt(format!("{len} bytes is too small for a hive")));
        }
        let mut base = [0u8; 64];
        read_at(&mut r, 0, &mut base)?;
        if &base[..4] != b"regf" {
            return Err(corrupt("no regf signature"));
        }
        let root = u32_at(&base, 0x24)?;
        let mut hive = Self { r, len, root };
        hive.key(root)?;
        Ok(hive)
    }

    /// The root key.
    pub(crate) const fn root(&self) -> Key {
        Key(self.root)
    }

    /// The data of the cell at `offset` (from the end of the base block), at most [`MAX_CELL`].
    fn cell(&mut self, offset: u32) -> Result<Vec<u8>, HiveError> {
        let at = BASE + u64::from(offset);
        if offset == u32::MAX || at + 4 > self.len {
            return Err(corrupt(format!("cell offset {offset:#x} outside the hive")));
        }
        let mut size = [0u8; 4];
        read_at(&mut self.r, at, &mut size)?;
        let size = i32::from_le_bytes(size).unsigned_abs();
        if !(4..=MAX_CELL).contains(&size) || at + u64::from(size) > self.len {
            return Err(corrupt(format!(
                "cell at {offset:#x} has a bad size {size}"
            )));
        }
        let mut data = vec![0; (size - 4) as usize];
        read_at(&mut self.r, at + 4, &mut data)?;
        Ok(data)
    }

    /// The `nk` cell at `offset`.
    fn key(&mut self, offset: u32) -> Result<Vec<u8>, HiveError> {
        let c = self.cell(offset)?;
        if c.len() < 76 || &c[..2] != b"nk" {
            return Err(corrupt(format!("no key node at {offset:#x}")));
        }
        Ok(c)
    }

    /// The name of key node cell `c`.
    fn key_name(c: &[u8]) -> Result<String, HiveError> {
        let flags = u16_at(c, 2)?;
        let len = usize::from(u16_at(c, 72)?);
        let bytes = c
            .get(76..76 + len)
            .ok_or_else(|| corrupt("key name past its cell"))?;
        Ok(name(bytes, flags & 0x20 != 0))
    }

    /// The key offsets of subkey list cell `offset`, following `ri` lists `depth` deep.
    fn subkeys(&mut self, offset: u32, depth: u32, out: &mut Vec<u32>) -> Result<(), HiveError> {
        let c = self.cell(offset)?;
        let sig = c.get(..2).ok_or_else(|| corrupt("empty list"))?;
        let count = u32::from(u16_at(&c, 2)?).min(MAX_LIST) as usize;
        match sig {
            b"lf" | b"lh" => {
                for i in 0..count {
                    out.push(u32_at(&c, 4 + i * 8)?);
                }
            }
            b"li" => {
                for i in 0..count {
                    out.push(u32_at(&c, 4 + i * 4)?);
                }
            }
            b"ri" if depth < MAX_DEPTH => {
                for i in 0..count {
                    let sub = u32_at(&c, 4 + i * 4)?;
                    self.subkeys(sub, depth + 1, out)?;
                }
            }
            _ => return Err(corrupt(format!("bad subkey list at {offset:#x}"))),
        }
        if out.len() > MAX_LIST as usize {
            return Err(corrupt("too many subkeys"));
        }
        Ok(())
    }

    /// The subkey of `key` named `child` (case-insensitively), if any.
    ///
    /// # Errors
    /// A corrupt cell on the way.
    pub(crate) fn child(&mut self, key: Key, child: &str) -> Result<Option<Key>, HiveError> {
        let c = self.key(key.0)?;
        if u32_at(&c, 20)? == 0 {
            return Ok(None);
        }
        let mut offsets = Vec::new();
        self.subkeys(u32_at(&c, 28)?, 0, &mut offsets)?;
        for o in offsets {
            let k = self.key(o)?;
            if Self::key_name(&k)?.eq_ignore_ascii_case(child) {
                return Ok(Some(Key(o)));
            }
        }
        Ok(None)
    }

    /// The key at backslash-separated `path` below the root, if it exists.
    ///
    /// # Errors
    /// A corrupt cell on the way.
    pub(crate) fn path(&mut self, path: &str) -> Result<Option<Key>, HiveError> {
        let mut key = self.root();
        for part in path.split('\\').filter(|p| !p.is_empty()) {
            match self.child(key, part)? {
                Some(k) => key = k,
                None => return Ok(None),
            }
        }
        Ok(Some(key))
    }

    /// The names of `key`'s subkeys.
    ///
    /// # Errors
    /// A corrupt cell on the way.
    pub(crate) fn subkey_names(&mut self, key: Key) -> Result<Vec<(String, Key)>, HiveError> {
        let c = self.key(key.0)?;
        if u32_at(&c, 20)? == 0 {
            return Ok(Vec::new());
        }
        let mut offsets = Vec::new();
        self.subkeys(u32_at(&c, 28)?, 0, &mut offsets)?;
        offsets
            .into_iter()
            .map(|o| Ok((Self::key_name(&self.key(o)?)?, Key(o))))
            .collect()
    }

    /// Every value of `key`: name and decoded data.
    ///
    /// # Errors
    /// A corrupt cell on the way.
    pub(crate) fn values(&mut self, key: Key) -> Result<Vec<(String, Value)>, HiveError> {
        let c = self.key(key.0)?;
        let count = u32_at(&c, 36)?;
        if count == 0 {
            return Ok(Vec::new());
        }
        if count > MAX_LIST {
            return Err(corrupt("too many values"));
        }
        let list = self.cell(u32_at(&c, 40)?)?;
        let mut out = Vec::new();
        for i in 0..count as usize {
            let vk = self.cell(u32_at(&list, i * 4)?)?;
            if vk.len() < 20 || &vk[..2] != b"vk" {
                return Err(corrupt("no value node in a value list"));
            }
            let name_len = usize::from(u16_at(&vk, 2)?);
            let flags = u16_at(&vk, 16)?;
            let vname = name(
                vk.get(20..20 + name_len)
                    .ok_or_else(|| corrupt("value name past its cell"))?,
                flags & 1 != 0,
            );
            let raw_size = u32_at(&vk, 4)?;
            let kind = u32_at(&vk, 12)?;
            let data = if raw_size & 0x8000_0000 != 0 {
                let n = (raw_size & 0x7fff_ffff).min(4) as usize;
                vk[8..8 + n].to_vec()
            } else if raw_size > MAX_CELL || raw_size > 16_344 {
                // Big data (`db` cells) is not read: nothing the probes need is that large.
                out.push((vname, Value::Other));
                continue;
            } else if raw_size == 0 {
                Vec::new()
            } else {
                let mut d = self.cell(u32_at(&vk, 8)?)?;
                if d.len() < raw_size as usize {
                    return Err(corrupt(format!("value {vname} past its cell")));
                }
                d.truncate(raw_size as usize);
                d
            };
            out.push((vname, decode(kind, &data)));
        }
        Ok(out)
    }

    /// The value `name` of `key` (case-insensitively), if set.
    ///
    /// # Errors
    /// A corrupt cell on the way.
    pub(crate) fn value(&mut self, key: Key, name: &str) -> Result<Option<Value>, HiveError> {
        Ok(self
            .values(key)?
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v))
    }
}

fn decode(kind: u32, d: &[u8]) -> Value {
    match kind {
        1 | 2 => Value::Str(utf16z(d)),
        4 if d.len() >= 4 => Value::Int(i64::from(u32::from_le_bytes([d[0], d[1], d[2], d[3]]))),
        11 if d.len() >= 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&d[..8]);
            Value::Int(i64::from_le_bytes(b))
        }
        7 => {
            let units: Vec<u16> = d
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            Value::Multi(
                units
                    .split(|&u| u == 0)
                    .filter(|s| !s.is_empty())
                    .map(String::from_utf16_lossy)
                    .collect(),
            )
        }
        _ => Value::Other,
    }
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, buf: &mut [u8]) -> Result<(), HiveError> {
    r.seek(SeekFrom::Start(at))
        .and_then(|_| r.read_exact(buf))
        .map_err(|e| HiveError::Io(e.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Cursor;

    /// A hive of one root key `ROOT` with subkey `Sub` holding `Str` = "hi" and `Num` = 7.
    pub(super) fn sample() -> Vec<u8> {
        let mut h = vec![0u8; 4096 + 4096];
        h[..4].copy_from_slice(b"regf");
        h[0x24..0x28].copy_from_slice(&0x20u32.to_le_bytes());
        h[4096..4100].copy_from_slice(b"hbin");
        let mut put = |off: usize, data: &[u8]| {
            let size = -i32::try_from(data.len() + 4).unwrap();
            h[4096 + off..4100 + off].copy_from_slice(&size.to_le_bytes());
            h[4100 + off..4100 + off + data.len()].copy_from_slice(data);
        };
        let nk = |name: &str, subkeys: u32, list: u32, values: u32, vlist: u32| {
            let mut c = vec![0u8; 76];
            c[..2].copy_from_slice(b"nk");
            c[2..4].copy_from_slice(&0x20u16.to_le_bytes());
            c[20..24].copy_from_slice(&subkeys.to_le_bytes());
            c[28..32].copy_from_slice(&list.to_le_bytes());
            c[36..40].copy_from_slice(&values.to_le_bytes());
            c[40..44].copy_from_slice(&vlist.to_le_bytes());
            c[72..74].copy_from_slice(&u16::try_from(name.len()).unwrap().to_le_bytes());
            c.extend_from_slice(name.as_bytes());
            c
        };
        put(0x20, &nk("ROOT", 1, 0x100, 0, 0));
        let mut lf = b"lf".to_vec();
        lf.extend_from_slice(&1u16.to_le_bytes());
        lf.extend_from_slice(&0x200u32.to_le_bytes());
        lf.extend_from_slice(b"Sub\0");
        put(0x100, &lf);
        put(0x200, &nk("Sub", 0, 0, 2, 0x300));
        let mut vl = 0x400u32.to_le_bytes().to_vec();
        vl.extend_from_slice(&0x500u32.to_le_bytes());
        put(0x300, &vl);
        let vk = |name: &str, size: u32, data: u32, kind: u32| {
            let mut c = vec![0u8; 20];
            c[..2].copy_from_slice(b"vk");
            c[2..4].copy_from_slice(&u16::try_from(name.len()).unwrap().to_le_bytes());
            c[4..8].copy_from_slice(&size.to_le_bytes());
            c[8..12].copy_from_slice(&data.to_le_bytes());
            c[12..16].copy_from_slice(&kind.to_le_bytes());
            c[16..18].copy_from_slice(&1u16.to_le_bytes());
            c.extend_from_slice(name.as_bytes());
            c
        };
        put(0x400, &vk("Str", 6, 0x600, 1));
        put(0x500, &vk("Num", 0x8000_0004, 7, 4));
        put(0x600, &[b'h', 0, b'i', 0, 0, 0]);
        h
    }

    #[test]
    fn reads_keys_and_values_case_insensitively() {
        let h = sample();
        let len = h.len() as u64;
        let mut hive = Hive::open(Cursor::new(h), len).unwrap();
        let k = hive.path("sub").unwrap().unwrap();
        assert_eq!(hive.value(k, "STR").unwrap(), Some(Value::Str("hi".into())));
        assert_eq!(hive.value(k, "num").unwrap(), Some(Value::Int(7)));
        assert_eq!(hive.value(k, "absent").unwrap(), None);
        assert!(hive.path("Sub\\Nope").unwrap().is_none());
        let names: Vec<String> = hive
            .subkey_names(hive.root())
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, vec!["Sub"]);
    }

    #[test]
    fn corrupt_hives_are_errors_not_panics() {
        let good = sample();
        // Every single-byte corruption of the cells and the header: an answer or an error.
        for at in (0..0x40).chain(4096..4096 + 0x700) {
            for byte in [0x00, 0xff, 0x7f, 0x80] {
                let mut h = good.clone();
                h[at] = byte;
                let len = h.len() as u64;
                if let Ok(mut hive) = Hive::open(Cursor::new(h), len)
                    && let Ok(Some(k)) = hive.path("Sub")
                {
                    let _ = hive.values(k);
                }
            }
        }
        assert!(Hive::open(Cursor::new(vec![0u8; 10]), 10).is_err());
        let mut h = good;
        h[0x24..0x28].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let len = h.len() as u64;
        assert!(matches!(
            Hive::open(Cursor::new(h), len),
            Err(HiveError::Corrupt(_))
        ));
    }
}

/// Property tests (proptest, on stable; `fuzz/run.sh` runs them longer) of the hive reader, with
/// the image as the adversary: a hive with any bytes changed, cut or added is opened and walked
/// (subkeys, values, paths) or refused, never a panic, whatever its cells point at.
#[cfg(test)]
mod props {
    use std::io::Cursor;

    use proptest::prelude::*;

    use super::*;

    /// Visits at most `budget` keys from the root, `depth` deep, reading every value.
    fn walk(h: &mut Hive<Cursor<Vec<u8>>>, key: Key, depth: u32, budget: &mut u32) {
        if depth == 0 || *budget == 0 {
            return;
        }
        *budget -= 1;
        let _ = h.values(key);
        let _ = h.value(key, "Str");
        if let Ok(subs) = h.subkey_names(key) {
            for (_, k) in subs.into_iter().take(8) {
                walk(h, k, depth - 1, budget);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            crate::proptest_cases::cases(64)
        ))]

        #[test]
        fn mutated_hives_are_walked_or_refused(
            flips in prop::collection::vec(
                (prop_oneof![0..64usize, 4096..4096 + 0x600usize, any::<usize>()], any::<u8>()),
                0..12,
            ),
            cut in prop::option::of(any::<prop::sample::Index>()),
            tail in prop::collection::vec(any::<u8>(), 0..32),
        ) {
            let mut h = tests::sample();
            for (i, b) in &flips {
                let i = i % h.len();
                h[i] ^= b;
            }
            if let Some(c) = cut {
                h.truncate(c.index(h.len() + 1));
            }
            h.extend_from_slice(&tail);
            let len = h.len() as u64;
            if let Ok(mut hive) = Hive::open(Cursor::new(h), len) {
                let _ = hive.path("Sub\\Deeper");
                let root = hive.root();
                let mut budget = 64;
                walk(&mut hive, root, 4, &mut budget);
            }
        }
    }
}
