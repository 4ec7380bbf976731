//! Version strings as the checks meet them (`2.2.53.1`, `1.1.1w`, `3.11.2`, `4.9.168-1+deb9u3`),
//! compared numerically component by component.

use std::cmp::Ordering;

/// A dotted version, compared numerically per component; a component's trailing letters
/// (`1.1.1w`) and any `-release` suffix take part as tie-breakers. Equal when they compare equal
/// (`2.2.41` and `2.2.41.0`), whatever the text.
#[derive(Debug, Clone)]
pub struct Version {
    parts: Vec<(u64, String)>,
    raw: String,
}

impl Version {
    /// Parses the leading version of `s` (e.g. `"3.0.11 19 Sep 2023"` gives `3.0.11`).
    /// Returns `None` when `s` does not start with a digit, or when a component's number does
    /// not fit in 64 bits (it would otherwise compare as 0).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let token: &str = s.split_whitespace().next()?;
        if !token.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let mut parts = Vec::new();
        for comp in token.split(['.', '-', '+', '~', '_']) {
            let digits: String = comp.chars().take_while(char::is_ascii_digit).collect();
            let rest: String = comp.chars().skip(digits.len()).collect();
            let n = if digits.is_empty() {
                0
            } else {
                digits.parse::<u64>().ok()?
            };
            parts.push((n, rest));
        }
        Some(Self {
            parts,
            raw: token.to_string(),
        })
    }

    /// The text the version was parsed from.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// True when `self` starts with all components of `series` (`1.1.1w` is in `1.1.1`).
    #[must_use]
    pub fn in_series(&self, series: &str) -> bool {
        let Some(s) = Self::parse(series) else {
            return false;
        };
        s.parts.len() <= self.parts.len()
            && s.parts.iter().zip(&self.parts).all(|(a, b)| a.0 == b.0)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.parts.len().max(other.parts.len());
        let zero = (0, String::new());
        for i in 0..n {
            let a = self.parts.get(i).unwrap_or(&zero);
            let b = other.parts.get(i).unwrap_or(&zero);
            match a.0.cmp(&b.0).then_with(|| cmp_suffix(&a.1, &b.1)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        Ordering::Equal
    }
}

/// Compares the non-numeric tails of two components (`w`, `deb9u3`, `el7`) as alternating runs of
/// digits (numerically) and other characters (lexicographically), so `deb9u10` > `deb9u3`.
fn cmp_suffix(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        let (ra, rest_a) = leading_run(a);
        let (rb, rest_b) = leading_run(b);
        let both_digits = ra.starts_with(|c: char| c.is_ascii_digit())
            && rb.starts_with(|c: char| c.is_ascii_digit());
        let ord = if both_digits {
            let (na, nb) = (ra.trim_start_matches('0'), rb.trim_start_matches('0'));
            na.len().cmp(&nb.len()).then_with(|| na.cmp(nb))
        } else {
            ra.cmp(rb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
        (a, b) = (rest_a, rest_b);
    }
}

/// The leading run of `s` (all digits, or all non-digits) and the rest.
fn leading_run(s: &str) -> (&str, &str) {
    let digits = s.starts_with(|c: char| c.is_ascii_digit());
    let end = s
        .find(|c: char| c.is_ascii_digit() != digits)
        .unwrap_or(s.len());
    s.split_at(end)
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares two version strings; `None` when either does not parse.
#[must_use]
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(Version::parse(a)?.cmp(&Version::parse(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_per_component() {
        assert_eq!(compare("2.2.53.1", "2.2.53"), Some(Ordering::Greater));
        assert_eq!(compare("2.10", "2.9"), Some(Ordering::Greater));
        assert_eq!(compare("2.7.3.0", "2.2.53.1"), Some(Ordering::Greater));
        assert_eq!(compare("2.2.41", "2.2.41.0"), Some(Ordering::Equal));
        assert_eq!(compare("x", "1"), None);
    }

    /// A component past 2^64 is no version: it compared as 0 (a 10^22 kernel was older than 1).
    #[test]
    fn a_component_past_64_bits_is_not_a_version() {
        assert_eq!(Version::parse("99999999999999999999999.1"), None);
        assert_eq!(Version::parse("1.18446744073709551616"), None);
        assert!(Version::parse("1.18446744073709551615").is_some());
    }

    /// Equality follows the order: `2.2.41` and `2.2.41.0` compare equal, so they are equal.
    #[test]
    fn equal_means_compares_equal() {
        let v = |s| Version::parse(s).unwrap();
        assert_eq!(v("2.2.41"), v("2.2.41.0"));
        assert_ne!(v("2.2.41"), v("2.2.41.1"));
    }

    #[test]
    fn letters_and_series() {
        let v = Version::parse("1.1.1w  11 Sep 2023").unwrap();
        assert!(v.in_series("1.1.1"));
        assert!(!v.in_series("1.1.0"));
        assert_eq!(compare("1.1.1w", "1.1.1k"), Some(Ordering::Greater));
        assert_eq!(compare("3.0.11", "3.0.0"), Some(Ordering::Greater));
        assert_eq!(
            compare("4.9.168-1+deb9u3", "4.9.168-1"),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn numbers_inside_suffixes_compare_numerically() {
        assert_eq!(
            compare("4.9.168-1+deb9u10", "4.9.168-1+deb9u3"),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare("4.9.168-1+deb9u2", "4.9.168-1+deb9u3"),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare("3.10.0-957.21.3.el7.x86_64", "3.10.0-957.21.3"),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare("3.10.0-957.el7.x86_64", "3.10.0-957.21.3"),
            Some(Ordering::Less)
        );
    }
}

/// Property tests of [`Version`] (proptest, on stable; `fuzz/run.sh` runs them longer): any text
/// parses or is refused without a panic, and the order is a total order that agrees with the
/// numbers it was built from.
#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    /// Version-like text: numbers (huge ones too), letters and the separators.
    fn version_text() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                "[0-9]{1,3}",
                "[0-9]{18,24}",
                "[a-z]{1,3}",
                Just(".".to_string()),
                Just("-".to_string()),
                Just("+".to_string()),
                Just("~".to_string()),
                Just("_".to_string()),
            ],
            1..10,
        )
        .prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            crate::proptest_cases::cases(128)
        ))]

        #[test]
        fn any_text_parses_or_is_refused(s in ".{0,64}") {
            if let Some(v) = Version::parse(&s) {
                prop_assert!(s.trim_start().starts_with(|c: char| c.is_ascii_digit()));
                prop_assert_eq!(v.cmp(&v), Ordering::Equal);
            }
        }

        /// Antisymmetric, transitive, and equal exactly when it compares equal.
        #[test]
        fn the_order_is_total(a in version_text(), b in version_text(), c in version_text()) {
            let (Some(a), Some(b), Some(c)) =
                (Version::parse(&a), Version::parse(&b), Version::parse(&c))
            else {
                return Ok(());
            };
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
            prop_assert_eq!(a == b, a.cmp(&b) == Ordering::Equal);
            if a <= b && b <= c {
                prop_assert!(a <= c, "{:?} <= {:?} <= {:?}", a, b, c);
            }
        }

        /// Dotted numbers compare as their number lists (trailing zeros aside).
        #[test]
        fn numbers_compare_as_numbers(
            a in prop::collection::vec(any::<u64>(), 1..5),
            b in prop::collection::vec(any::<u64>(), 1..5),
        ) {
            let text = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(".");
            let (va, vb) = (Version::parse(&text(&a)).unwrap(), Version::parse(&text(&b)).unwrap());
            let pad = |v: &[u64]| {
                let mut v = v.to_vec();
                v.resize(5, 0);
                v
            };
            prop_assert_eq!(va.cmp(&vb), pad(&a).cmp(&pad(&b)));
        }
    }
}
