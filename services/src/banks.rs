//! Vietnamese banks by NAPAS BIN (the 6-digit bank identifier that VietQR payloads carry under
//! tag 38, and that shops pick when they enter their bank account).
//!
//! The data is `services/reference/banks.tsv` (a copy of `shared/domain/banks.tsv`: `bin`,
//! `short_name`, `name`), compiled in and parsed once. Beware the common mix-up: 970422 is MB
//! (Ngân hàng TMCP Quân đội), 970407 is Techcombank.

use std::sync::OnceLock;

const TSV: &str = include_str!("../reference/banks.tsv");

/// One bank of the NAPAS network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Bank {
    /// NAPAS BIN, 6 digits (`970436`).
    pub bin: &'static str,
    /// The name customers know (`Vietcombank`, `MB`).
    pub short_name: &'static str,
    /// The full legal name in Vietnamese, NFC.
    pub name: &'static str,
}

/// All banks, in the order of the data file.
pub fn all() -> &'static [Bank] {
    static ALL: OnceLock<Vec<Bank>> = OnceLock::new();
    ALL.get_or_init(|| parse(TSV))
}

/// The bank with this NAPAS BIN (surrounding whitespace ignored), if it is in the list.
pub fn by_bin(bin: &str) -> Option<&'static Bank> {
    let bin = bin.trim();
    all().iter().find(|b| b.bin == bin)
}

/// Parses the TSV: a header line, then `bin \t short_name \t name` rows. Blank lines and rows
/// with fewer than three fields are skipped.
fn parse(tsv: &'static str) -> Vec<Bank> {
    tsv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .filter_map(|line| {
            let mut f = line.split('\t').map(str::trim);
            Some(Bank {
                bin: f.next()?,
                short_name: f.next()?,
                name: f.next()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mb_is_970422_not_techcombank() {
        let mb = by_bin("970422").expect("970422");
        assert_eq!(mb.short_name, "MB");
        assert_eq!(mb.name, "Ngân hàng TMCP Quân đội");
        assert_ne!(mb.short_name, "Techcombank");
    }

    #[test]
    fn techcombank_is_970407() {
        let tcb = by_bin("970407").expect("970407");
        assert_eq!(tcb.short_name, "Techcombank");
        assert_eq!(tcb.name, "Ngân hàng TMCP Kỹ thương Việt Nam");
    }

    #[test]
    fn known_banks() {
        assert_eq!(by_bin("970436").map(|b| b.short_name), Some("Vietcombank"));
        assert_eq!(by_bin("970415").map(|b| b.short_name), Some("VietinBank"));
        assert_eq!(by_bin("970416").map(|b| b.short_name), Some("ACB"));
        assert_eq!(by_bin(" 970418 ").map(|b| b.short_name), Some("BIDV"));
    }

    #[test]
    fn unknown_bin_is_none() {
        for bin in ["", "000000", "970000", "97042", "9704222", "abcdef"] {
            assert_eq!(by_bin(bin), None, "{bin:?}");
        }
    }

    #[test]
    fn count_equals_data_rows() {
        let rows = TSV.lines().skip(1).filter(|l| !l.trim().is_empty()).count();
        assert_eq!(all().len(), rows);
        assert_eq!(all().len(), 19);
    }

    #[test]
    fn bins_are_six_digits_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for b in all() {
            assert_eq!(b.bin.len(), 6, "{b:?}");
            assert!(b.bin.bytes().all(|c| c.is_ascii_digit()), "{b:?}");
            assert!(!b.short_name.is_empty() && !b.name.is_empty(), "{b:?}");
            assert!(seen.insert(b.bin), "duplicate {}", b.bin);
        }
    }
}
