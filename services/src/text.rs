//! Text handling for Vietnamese input: normalisation, search keys, slugs, and the validated
//! value types the rest of the crate stores (slugs, mobile numbers, tax codes, prices in đồng,
//! e-mail addresses).
//!
//! Domain facts (see `shared/domain/README.md`):
//! - text is stored in NFC; search keys strip tone and vowel marks, and `Đ`/`đ` (and the
//!   look-alike `Ð`/`ð`) are folded to `d` by hand because they do not decompose;
//! - mobile numbers are `0` + 9 digits (prefixes 03, 05, 07, 08, 09) or `+84` + those 9 digits;
//! - tax codes are 10 digits with a check digit, 10 digits `-` a branch 001–999, or a 12-digit
//!   personal identification number (household businesses, since 1 July 2025);
//! - the đồng has no minor unit and is written `150.000 ₫` (no-break space before `₫`).
//!
//! Every parser returns [`TextError`], whose [`TextError::code`] is the GraphQL `userError`
//! code.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// Maximum length of a slug, in characters (slugs are ASCII, so also in bytes).
pub const SLUG_MAX_LEN: usize = 60;

/// Error for text that fails to parse. `code()` gives the SCREAMING_SNAKE GraphQL userError code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Not a valid slug; the string says why.
    #[error("invalid slug: {0}")]
    InvalidSlug(String),
    /// Not a Vietnamese mobile number.
    #[error(
        "not a Vietnamese mobile number: expected 10 digits starting 03, 05, 07, 08 or 09, \
         or +84 followed by the 9 digits after the 0"
    )]
    InvalidPhone,
    /// Not a valid tax code; the string says why.
    #[error("invalid tax code: {0}")]
    InvalidTaxCode(String),
    /// Not a valid amount of đồng; the string says why.
    #[error("invalid price: {0}")]
    InvalidPrice(String),
    /// Not a valid e-mail address.
    #[error("invalid e-mail address")]
    InvalidEmail,
}

impl TextError {
    /// The SCREAMING_SNAKE code reported to GraphQL clients as `userError.code`.
    pub fn code(&self) -> &'static str {
        match self {
            TextError::InvalidSlug(_) => "INVALID_SLUG",
            TextError::InvalidPhone => "INVALID_PHONE",
            TextError::InvalidTaxCode(_) => "INVALID_TAX_CODE",
            TextError::InvalidPrice(_) => "INVALID_PRICE",
            TextError::InvalidEmail => "INVALID_EMAIL",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Free functions
// ---------------------------------------------------------------------------------------------

/// Unicode NFC (canonical composition), the form all stored text uses.
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// Cleans user-entered text: drops control characters (and zero-width space / BOM), turns every
/// run of whitespace (including tabs, newlines and no-break spaces) into one space, trims, and
/// returns NFC.
pub fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if c.is_control() || c == '\u{200B}' || c == '\u{FEFF}' {
            continue; // dropped, and not a word break
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    // Filtering first and composing last keeps the result NFC even when a dropped control
    // character sat between a letter and its combining mark.
    nfc(&out)
}

/// Letters that do not decompose under NFD but have an obvious ASCII search form.
fn fold_special(c: char) -> Option<&'static str> {
    Some(match c {
        'Đ' | 'đ' | 'Ð' | 'ð' => "d",
        'Ø' | 'ø' => "o",
        'Ł' | 'ł' => "l",
        'Æ' | 'æ' => "ae",
        'Œ' | 'œ' => "oe",
        'ß' | 'ẞ' => "ss",
        'Þ' | 'þ' => "th",
        'ı' => "i",
        _ => return None,
    })
}

/// Whether `c` survives another round of folding unchanged. Only such characters are emitted,
/// which makes [`fold`] idempotent by construction, whatever odd Unicode it is given.
fn fold_stable(c: char) -> bool {
    if !c.is_alphanumeric() || is_combining_mark(c) || fold_special(c).is_some() {
        return false;
    }
    let mut lower = c.to_lowercase();
    if lower.next() != Some(c) || lower.next().is_some() {
        return false;
    }
    let mut same = true;
    decompose_canonical(c, |d| same &= d == c);
    same
}

/// Folds one character into `emit`: `Some(ch)` is a search-key character, `None` a word break.
fn fold_char(c: char, emit: &mut impl FnMut(Option<char>)) {
    decompose_canonical(c, |d| {
        if is_combining_mark(d) {
            return;
        }
        for l in d.to_lowercase() {
            decompose_canonical(l, |e| {
                if is_combining_mark(e) {
                    return;
                }
                if let Some(rep) = fold_special(e) {
                    rep.chars().for_each(|r| emit(Some(r)));
                } else if fold_stable(e) {
                    emit(Some(e));
                } else {
                    emit(None);
                }
            });
        }
    });
}

/// Search key: strips marks (NFD, then drops combining marks), maps `Đ đ Ð ð` to `d`,
/// lower-cases, turns every run of non-alphanumeric characters into one space, and trims.
///
/// `"CÀ PHÊ Sữa"` → `"ca phe sua"`; `"hoà"` and `"hòa"` → `"hoa"`; `"Ðà Nẵng"` → `"da nang"`.
/// Letters of other scripts are kept (lower-cased, marks stripped).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        fold_char(c, &mut |k| match k {
            Some(ch) => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(ch);
            }
            None => pending_space = true,
        });
    }
    out
}

/// URL slug built from [`fold`]: ASCII `[a-z0-9]` words joined by `-`, at most
/// [`SLUG_MAX_LEN`] characters (cut at a word boundary when possible). Characters outside ASCII
/// that survive folding (other scripts) act as word breaks. May return `""` when the input has
/// no letters or digits; a non-empty result always passes [`Slug::parse`].
///
/// `"Trà Cung Đình Huế"` → `"tra-cung-dinh-hue"`.
pub fn slugify(s: &str) -> String {
    let folded = fold(s);
    let mut slug = String::with_capacity(folded.len().min(SLUG_MAX_LEN + 1));
    let mut pending_dash = false;
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            pending_dash = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            pending_dash = true;
        }
    }
    if slug.len() > SLUG_MAX_LEN {
        // `slug` is ASCII, so byte positions are character positions.
        let cut = if slug.as_bytes()[SLUG_MAX_LEN] == b'-' {
            SLUG_MAX_LEN
        } else {
            slug[..SLUG_MAX_LEN].rfind('-').unwrap_or(SLUG_MAX_LEN)
        };
        slug.truncate(cut);
        while slug.ends_with('-') {
            slug.pop();
        }
    }
    slug
}

/// Formats đồng the CLDR `vi` way: `.` groups thousands, then U+00A0 and `₫`.
///
/// `1250000` → `"1.250.000\u{a0}₫"`, `-5000` → `"-5.000\u{a0}₫"`. Total for every `i64`.
pub fn format_vnd(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 6);
    if amount < 0 {
        out.push('-');
    }
    let n = digits.len();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out.push('\u{a0}');
    out.push('₫');
    out
}

// ---------------------------------------------------------------------------------------------
// Slug
// ---------------------------------------------------------------------------------------------

/// A URL slug: 1–60 characters of `[a-z0-9-]`, no leading, trailing or doubled `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    /// Validates a slug as given (no trimming, no case folding; use [`slugify`] to make one).
    pub fn parse(s: &str) -> Result<Slug, TextError> {
        let bad = |why: &str| Err(TextError::InvalidSlug(why.to_owned()));
        if s.is_empty() {
            return bad("empty");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return bad("only lowercase letters a-z, digits 0-9 and '-' are allowed");
        }
        if s.len() > SLUG_MAX_LEN {
            return bad("longer than 60 characters");
        }
        if s.starts_with('-') || s.ends_with('-') {
            return bad("must not start or end with '-'");
        }
        if s.contains("--") {
            return bad("must not contain '--'");
        }
        Ok(Slug(s.to_owned()))
    }

    /// The slug text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The slug text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

// ---------------------------------------------------------------------------------------------
// Phone
// ---------------------------------------------------------------------------------------------

/// A Vietnamese mobile number, stored in E.164 form (`+84912345678`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Accepts `0912345678`, `091 234 5678`, `091.234.5678`, `091-234-5678`, `+84912345678`,
    /// `+84 91 234 56 78` and `84912345678`; spaces, `.`, `-` and parentheses are ignored.
    /// Only mobile prefixes 03, 05, 07, 08 and 09 are accepted (landlines such as
    /// `02438254780` are refused).
    pub fn parse(s: &str) -> Result<Phone, TextError> {
        let mut digits = String::with_capacity(16);
        let mut plus = false;
        for (i, c) in s.trim().chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => plus = true,
                ' ' | '.' | '-' | '(' | ')' | '\u{a0}' => {}
                _ => return Err(TextError::InvalidPhone),
            }
        }
        // "+84…", or "84…" written without the plus (11 digits), or the domestic "0…".
        let national = if plus || digits.len() == 11 {
            digits.strip_prefix("84")
        } else {
            digits.strip_prefix('0')
        }
        .ok_or(TextError::InvalidPhone)?;
        match national.as_bytes() {
            [b'3' | b'5' | b'7' | b'8' | b'9', rest @ ..] if rest.len() == 8 => {
                Ok(Phone(format!("+84{national}")))
            }
            _ => Err(TextError::InvalidPhone),
        }
    }

    /// E.164 form, `+84912345678`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Domestic form, `0912345678`.
    pub fn local(&self) -> String {
        format!("0{}", self.0.get(3..).unwrap_or_default())
    }

    /// E.164 form, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

// ---------------------------------------------------------------------------------------------
// TaxCode
// ---------------------------------------------------------------------------------------------

/// Which form a [`TaxCode`] has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaxCodeKind {
    /// 10 digits with a check digit (an enterprise or organisation).
    Enterprise,
    /// 10 digits, `-`, branch number 001–999 (a dependent unit).
    Branch,
    /// 12-digit personal identification number (individuals, household businesses).
    Personal,
}

/// A Vietnamese tax code (mã số thuế), stored as `0314409058`, `0314409058-002` or the
/// 12-digit personal identification number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TaxCode(String);

const TAX_WEIGHTS: [u32; 9] = [31, 29, 23, 19, 17, 13, 7, 5, 3];

/// Checks the 10-digit form (ASCII digits already verified by the caller).
fn tax_check_digit_ok(ten: &[u8]) -> Result<(), TextError> {
    let sum: u32 = ten
        .iter()
        .zip(TAX_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let r = sum % 11;
    if r == 0 {
        return Err(TextError::InvalidTaxCode(
            "no valid check digit exists for these first nine digits".to_owned(),
        ));
    }
    let expected = 10 - r; // 1..=10 → 9..=0
    match ten.get(9) {
        Some(&d) if u32::from(d - b'0') == expected => Ok(()),
        _ => Err(TextError::InvalidTaxCode(
            "check digit does not match".to_owned(),
        )),
    }
}

impl TaxCode {
    /// Accepts (after trimming surrounding whitespace) 10 digits with a valid check digit,
    /// 10 such digits `-` a 3-digit branch 001–999, or 12 digits (personal identification
    /// number, no check digit).
    pub fn parse(s: &str) -> Result<TaxCode, TextError> {
        let t = s.trim();
        let all_digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
        let (base, branch) = match t.split_once('-') {
            Some((b, br)) => (b, Some(br)),
            None => (t, None),
        };
        if !all_digits(base) || branch.is_some_and(|br| !all_digits(br)) {
            return Err(TextError::InvalidTaxCode(
                "expected 10 digits, 10 digits-3 digits, or 12 digits".to_owned(),
            ));
        }
        match (base.len(), branch) {
            (10, None) => {
                tax_check_digit_ok(base.as_bytes())?;
                Ok(TaxCode(base.to_owned()))
            }
            (10, Some(br)) if br.len() == 3 => {
                tax_check_digit_ok(base.as_bytes())?;
                if br == "000" {
                    return Err(TextError::InvalidTaxCode(
                        "branch number must be 001 to 999".to_owned(),
                    ));
                }
                Ok(TaxCode(format!("{base}-{br}")))
            }
            (12, None) => Ok(TaxCode(base.to_owned())),
            _ => Err(TextError::InvalidTaxCode(
                "expected 10 digits, 10 digits-3 digits, or 12 digits".to_owned(),
            )),
        }
    }

    /// Which form this is.
    pub fn kind(&self) -> TaxCodeKind {
        match self.0.len() {
            14 => TaxCodeKind::Branch,
            12 => TaxCodeKind::Personal,
            _ => TaxCodeKind::Enterprise,
        }
    }

    /// The code, e.g. `0314409058-002`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

// ---------------------------------------------------------------------------------------------
// Vnd
// ---------------------------------------------------------------------------------------------

/// A non-negative whole amount of đồng, at most [`Vnd::MAX`]. Serialises as a JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize)]
#[serde(transparent)]
pub struct Vnd(i64);

impl Vnd {
    /// The largest amount accepted: 10^15 ₫.
    pub const MAX: i64 = 1_000_000_000_000_000;

    /// Parses a plain decimal string: `"150000"`, `"150000.00"` (a fraction of zeros is
    /// accepted), surrounding whitespace ignored. Refuses signs, fractions, exponents, digit
    /// separators, and amounts over 10^15. `"150.000"` is refused as ambiguous, since `.` is
    /// the Vietnamese thousands separator.
    pub fn parse(s: &str) -> Result<Vnd, TextError> {
        let bad = |why: &str| Err(TextError::InvalidPrice(why.to_owned()));
        let t = s.trim();
        if t.is_empty() {
            return bad("empty");
        }
        if t.starts_with('-') {
            return bad("must not be negative");
        }
        if t.contains(',') || t.matches('.').count() > 1 {
            return bad("digit-group separators are not allowed; write plain digits like 1500000");
        }
        let (int, frac) = match t.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (t, None),
        };
        let digits = |x: &str| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit());
        if !digits(int) || frac.is_some_and(|f| !digits(f)) {
            return bad("expected a whole number of đồng in plain digits, like 150000");
        }
        let int_zero = int.bytes().all(|b| b == b'0');
        if let Some(f) = frac {
            if f.bytes().any(|b| b != b'0') {
                return bad("the đồng has no minor unit; fractional amounts are not allowed");
            }
            if f.len() == 3 && int.len() <= 3 && !int_zero {
                return bad(
                    "ambiguous: '.' is the Vietnamese thousands separator; write plain digits \
                     like 150000",
                );
            }
        }
        let significant = int.trim_start_matches('0');
        if significant.len() > 16 {
            return bad("over 1.000.000.000.000.000 ₫");
        }
        // At most 16 digits: fits an i64 (< 9.2 * 10^18) without overflow.
        let amount = significant
            .bytes()
            .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'));
        Vnd::from_i64(amount)
    }

    /// Wraps an amount, refusing negatives and amounts over [`Vnd::MAX`].
    pub fn from_i64(amount: i64) -> Result<Vnd, TextError> {
        if amount < 0 {
            Err(TextError::InvalidPrice("must not be negative".to_owned()))
        } else if amount > Vnd::MAX {
            Err(TextError::InvalidPrice(
                "over 1.000.000.000.000.000 ₫".to_owned(),
            ))
        } else {
            Ok(Vnd(amount))
        }
    }

    /// The amount in đồng.
    pub fn amount(self) -> i64 {
        self.0
    }

    /// `"150.000\u{a0}₫"`, via [`format_vnd`].
    pub fn formatted(self) -> String {
        format_vnd(self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Email
// ---------------------------------------------------------------------------------------------

/// An e-mail address, trimmed and lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Trims and lower-cases, then checks: at most 254 bytes, exactly one `@`, a local part of
    /// 1–64 bytes with no spaces, control characters or unquoted specials and no leading,
    /// trailing or doubled `.`, and a domain of at least two `.`-separated labels of
    /// `[a-z0-9-]` (1–63 characters, not starting or ending with `-`, the last not all digits).
    pub fn parse(s: &str) -> Result<Email, TextError> {
        let e = nfc(&s.trim().to_lowercase());
        if e.is_empty() || e.len() > 254 {
            return Err(TextError::InvalidEmail);
        }
        if e.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(TextError::InvalidEmail);
        }
        let (local, domain) = e.split_once('@').ok_or(TextError::InvalidEmail)?;
        if domain.contains('@') || local.is_empty() || local.len() > 64 {
            return Err(TextError::InvalidEmail);
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(TextError::InvalidEmail);
        }
        if local.chars().any(|c| {
            matches!(
                c,
                '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | ']' | '\\'
            )
        }) {
            return Err(TextError::InvalidEmail);
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(TextError::InvalidEmail);
        }
        let label_ok = |l: &str| {
            (1..=63).contains(&l.len())
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !labels.iter().all(|l| label_ok(l)) {
            return Err(TextError::InvalidEmail);
        }
        if labels
            .last()
            .is_none_or(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(TextError::InvalidEmail);
        }
        Ok(Email(e))
    }

    /// The address, lower-cased.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

// ---------------------------------------------------------------------------------------------
// Common trait impls
// ---------------------------------------------------------------------------------------------

macro_rules! string_newtype_impls {
    ($($t:ident),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $t {
            type Err = TextError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $t::parse(s)
            }
        }
    )*};
}

string_newtype_impls!(Slug, Phone, TaxCode, Email);

impl fmt::Display for Vnd {
    /// Formats as `150.000\u{a0}₫`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_vnd(self.0))
    }
}

impl FromStr for Vnd {
    type Err = TextError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Vnd::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // --- nfc / clean ---------------------------------------------------------------------

    #[test]
    fn nfc_composes() {
        assert_eq!(nfc("Vie\u{302}\u{323}t"), "Việt");
        assert_eq!(nfc("Việt"), "Việt");
        assert_eq!(nfc(""), "");
    }

    #[test]
    fn clean_collapses_and_trims() {
        assert_eq!(clean("  Cà   phê \t sữa\n đá  "), "Cà phê sữa đá");
        assert_eq!(clean("a\u{a0}\u{a0}b"), "a b");
        assert_eq!(clean("a\u{0}b\u{7}c"), "abc");
        assert_eq!(clean("\u{feff}Phở\u{200b}"), "Phở");
        assert_eq!(clean("   "), "");
        assert_eq!(clean(""), "");
        // NFD input comes out NFC, even with a control char between letter and mark.
        assert_eq!(clean("ho\u{1}\u{300}a"), "hòa");
        assert_eq!(clean("Vie\u{302}\u{323}t Nam"), "Việt Nam");
    }

    // --- fold ----------------------------------------------------------------------------

    #[test]
    fn fold_examples() {
        assert_eq!(fold("CÀ PHÊ Sữa"), "ca phe sua");
        assert_eq!(fold("hoà"), "hoa");
        assert_eq!(fold("hòa"), "hoa");
        assert_eq!(fold("Ðà Nẵng"), "da nang");
        assert_eq!(fold("Đà Nẵng"), "da nang");
        assert_eq!(fold("đường"), "duong");
        assert_eq!(fold("ðường"), "duong");
        assert_eq!(fold("ĐÐđð"), "dddd");
    }

    #[test]
    fn fold_old_and_new_tone_placement() {
        for (old, new) in [
            ("hoà", "hòa"),
            ("thuý", "thúy"),
            ("khoẻ", "khỏe"),
            ("Hoá", "Hóa"),
            ("uỷ ban", "ủy ban"),
        ] {
            assert_eq!(fold(old), fold(new), "{old} vs {new}");
        }
        // NFC and NFD spellings fold alike.
        assert_eq!(fold("Vie\u{302}\u{323}t"), fold("Việt"));
        assert_eq!(fold("Việt"), "viet");
    }

    #[test]
    fn fold_punctuation_and_spacing() {
        assert_eq!(fold("  Bánh mì -- Hội An!!  "), "banh mi hoi an");
        assert_eq!(fold("Phở_bò/tái"), "pho bo tai");
        assert_eq!(fold("Số 12, Lê Lợi"), "so 12 le loi");
        assert_eq!(fold("...!!!"), "");
        assert_eq!(fold(""), "");
        assert_eq!(fold("Straße Øresund Łódź"), "strasse oresund lodz");
        assert_eq!(fold("İstanbul"), "istanbul");
        assert_eq!(fold("北京 café"), "北京 cafe");
    }

    // --- slugify / Slug --------------------------------------------------------------------

    #[test]
    fn slugify_examples() {
        assert_eq!(slugify("Trà Cung Đình Huế"), "tra-cung-dinh-hue");
        assert_eq!(slugify("CÀ PHÊ Sữa"), "ca-phe-sua");
        assert_eq!(slugify("Ðà Nẵng"), "da-nang");
        assert_eq!(slugify("  --Bánh   mì__Hội An--  "), "banh-mi-hoi-an");
        assert_eq!(slugify("Quán 68 & Co."), "quan-68-co");
        assert_eq!(slugify("北京 café"), "cafe");
        assert_eq!(slugify("cafe北京shop"), "cafe-shop");
        assert_eq!(slugify("!!!"), "");
        assert_eq!(slugify("北京"), "");
        assert_eq!(slugify(""), "");
    }

    #[test]
    fn slugify_truncates_at_word_boundary() {
        let long = "Cửa hàng bán lẻ thực phẩm sạch và nông sản an toàn của Hợp tác xã Bình Minh";
        let s = slugify(long);
        assert!(s.len() <= SLUG_MAX_LEN, "{s}");
        assert_eq!(
            s,
            "cua-hang-ban-le-thuc-pham-sach-va-nong-san-an-toan-cua-hop"
        );
        assert!(Slug::parse(&s).is_ok());

        // Exactly 60 characters is kept as is.
        let sixty = "a".repeat(29) + "-" + &"b".repeat(30);
        assert_eq!(slugify(&sixty), sixty);
        // Cut right before a '-' at position 60.
        let w = "a".repeat(60) + " b";
        assert_eq!(slugify(&w), "a".repeat(60));
        // One very long word: hard cut.
        let one = "x".repeat(100);
        assert_eq!(slugify(&one), "x".repeat(60));
        // The '-' at position 59 is dropped, not left trailing.
        let w = "a".repeat(59) + " bbbb";
        assert_eq!(slugify(&w), "a".repeat(59));
    }

    #[test]
    fn slug_parse() {
        for ok in ["a", "tra-cung-dinh-hue", "0", "a1-b2-c3", &"a".repeat(60)] {
            let slug = Slug::parse(ok).expect(ok);
            assert_eq!(slug.as_str(), ok);
            assert_eq!(slug.to_string(), ok);
            assert_eq!(slug.clone().into_string(), ok);
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a--b",
            "A",
            "a b",
            "trà",
            "a_b",
            " a",
            "-",
            &"a".repeat(61),
        ] {
            let err = Slug::parse(bad).expect_err(bad);
            assert_eq!(err.code(), "INVALID_SLUG");
        }
    }

    // --- format_vnd / Vnd ------------------------------------------------------------------

    #[test]
    fn format_vnd_examples() {
        assert_eq!(format_vnd(1_250_000), "1.250.000\u{a0}₫");
        assert_eq!(format_vnd(0), "0\u{a0}₫");
        assert_eq!(format_vnd(-5000), "-5.000\u{a0}₫");
        assert_eq!(format_vnd(999), "999\u{a0}₫");
        assert_eq!(format_vnd(1000), "1.000\u{a0}₫");
        assert_eq!(format_vnd(150_000), "150.000\u{a0}₫");
        assert_eq!(format_vnd(-1), "-1\u{a0}₫");
        assert_eq!(format_vnd(i64::MIN), "-9.223.372.036.854.775.808\u{a0}₫");
        assert_eq!(format_vnd(i64::MAX), "9.223.372.036.854.775.807\u{a0}₫");
    }

    #[test]
    fn vnd_parse_accepts() {
        for (s, n) in [
            ("150000", 150_000),
            ("150000.00", 150_000),
            ("150000.0", 150_000),
            ("150000.000", 150_000),
            ("  150000 ", 150_000),
            ("0", 0),
            ("0.00", 0),
            ("0.000", 0),
            ("007", 7),
            ("1000000000000000", Vnd::MAX),
            ("0001000000000000000.00", Vnd::MAX),
        ] {
            let v = Vnd::parse(s).expect(s);
            assert_eq!(v.amount(), n, "{s}");
        }
        assert_eq!(
            Vnd::parse("150000").map(Vnd::formatted),
            Ok("150.000\u{a0}₫".into())
        );
        assert_eq!(
            "2500".parse::<Vnd>().map(|v| v.to_string()),
            Ok("2.500\u{a0}₫".into())
        );
    }

    #[test]
    fn vnd_parse_refuses() {
        for s in [
            "",
            "   ",
            "-1",
            "-0",
            "+150000",
            "1.5",
            "150000.50",
            "150000.",
            ".00",
            "abc",
            "12a",
            "1e5",
            "1E5",
            "1.0e5",
            "150,000",
            "1.500.000",
            "150.000",
            "1 500 000",
            "1000000000000001",
            "99999999999999999999999999999",
            "١٢٣",
            "１２３",
            "NaN",
            "inf",
        ] {
            let err = Vnd::parse(s).expect_err(s);
            assert_eq!(err.code(), "INVALID_PRICE", "{s}");
            assert!(matches!(&err, TextError::InvalidPrice(why) if !why.is_empty()));
        }
    }

    #[test]
    fn vnd_from_i64() {
        assert_eq!(Vnd::from_i64(0).map(Vnd::amount), Ok(0));
        assert_eq!(Vnd::from_i64(Vnd::MAX).map(Vnd::amount), Ok(Vnd::MAX));
        assert!(Vnd::from_i64(-1).is_err());
        assert!(Vnd::from_i64(i64::MIN).is_err());
        assert!(Vnd::from_i64(Vnd::MAX + 1).is_err());
        assert!(Vnd::from_i64(i64::MAX).is_err());
    }

    // --- Phone -----------------------------------------------------------------------------

    #[test]
    fn phone_accepts() {
        for s in [
            "0912345678",
            "091 234 5678",
            "091.234.5678",
            "091-234-5678",
            "+84912345678",
            "+84 91 234 56 78",
            "84912345678",
            " 0912345678 ",
            "(+84) 912 345 678".trim_start_matches('('),
        ] {
            let p = Phone::parse(s).expect(s);
            assert_eq!(p.as_str(), "+84912345678", "{s}");
            assert_eq!(p.local(), "0912345678");
            assert_eq!(p.to_string(), "+84912345678");
        }
        for (s, e164) in [
            ("0321234567", "+84321234567"),
            ("0551234567", "+84551234567"),
            ("0701234567", "+84701234567"),
            ("0861234567", "+84861234567"),
            ("0981234567", "+84981234567"),
        ] {
            assert_eq!(Phone::parse(s).map(Phone::into_string), Ok(e164.to_owned()));
        }
    }

    #[test]
    fn phone_refuses() {
        for s in [
            "",
            "02438254780",   // Hà Nội landline
            "+842438254780", // landline, international
            "0241234567",    // 02x prefix
            "0112345678",
            "0412345678",
            "0612345678",
            "+8491234567",    // too short
            "091234567",      // 9 digits
            "09123456789",    // 11 digits
            "849123456789",   // 12 digits
            "+849123456789",  // too long
            "+840912345678",  // +84 then 0
            "0084912345678",  // 00 prefix
            "912345678",      // no trunk prefix
            "+85912345678",   // other country
            "+1 912 345 678", // other country
            "09123a5678",
            "0912345678x",
            "0912+345678",
            "++84912345678",
            "84 912 345 67",
            "8491234567",
            "１２３",
        ] {
            assert_eq!(Phone::parse(s), Err(TextError::InvalidPhone), "{s}");
        }
        assert_eq!(TextError::InvalidPhone.code(), "INVALID_PHONE");
    }

    // --- TaxCode ---------------------------------------------------------------------------

    #[test]
    fn tax_code_published_examples() {
        for s in ["0300588569", "0101248141", "0100109106", "0100233488"] {
            let t = TaxCode::parse(s).expect(s);
            assert_eq!(t.as_str(), s);
            assert_eq!(t.kind(), TaxCodeKind::Enterprise);
        }
        let b = TaxCode::parse("0314409058-002").expect("branch");
        assert_eq!(b.as_str(), "0314409058-002");
        assert_eq!(b.kind(), TaxCodeKind::Branch);

        for s in ["0300588568", "0300588569-000", "0110000010"] {
            let err = TaxCode::parse(s).expect_err(s);
            assert_eq!(err.code(), "INVALID_TAX_CODE");
        }
    }

    #[test]
    fn tax_code_forms() {
        let t = TaxCode::parse("  0300588569 ").expect("trimmed");
        assert_eq!(t.to_string(), "0300588569");
        assert_eq!(
            TaxCode::parse("0314409058-999").map(|t| t.kind()),
            Ok(TaxCodeKind::Branch)
        );
        let p = TaxCode::parse("001095012345").expect("personal");
        assert_eq!(p.kind(), TaxCodeKind::Personal);
        assert_eq!(p.into_string(), "001095012345");
        // The branch's base must itself be valid.
        assert!(TaxCode::parse("0314409059-002").is_err());
        for s in [
            "",
            "030058856",
            "03005885690",
            "0300588569-",
            "0300588569-02",
            "0300588569-0002",
            "0300588569002",
            "-002",
            "03005885a9",
            "0300 588 569",
            "0300588569 - 002",
            "0300588569-002-001",
            "001095012345-001",
            "00109501234",
            "0010950123456",
            "０３００５８８５６９",
        ] {
            assert!(TaxCode::parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn tax_code_check_digit_ten() {
        // Remainder 10 gives check digit 0: find such a code and make sure it is accepted.
        let mut found = false;
        for n in 100_000_000u32..100_000_200 {
            let nine = format!("{n:09}");
            let sum: u32 = nine
                .bytes()
                .zip(TAX_WEIGHTS)
                .map(|(d, w)| u32::from(d - b'0') * w)
                .sum();
            if sum % 11 == 10 {
                assert!(TaxCode::parse(&format!("{nine}0")).is_ok());
                found = true;
            }
        }
        assert!(found);
    }

    // --- Email -----------------------------------------------------------------------------

    #[test]
    fn email_accepts() {
        for (s, norm) in [
            ("an@example.com", "an@example.com"),
            (
                "  Nguyen.Van.An@Example.COM.vn ",
                "nguyen.van.an@example.com.vn",
            ),
            ("a+tag@sub-domain.example.vn", "a+tag@sub-domain.example.vn"),
            ("x@a.b", "x@a.b"),
            ("o'brien_99@mail.co", "o'brien_99@mail.co"),
        ] {
            let e = Email::parse(s).expect(s);
            assert_eq!(e.as_str(), norm);
            assert_eq!(e.to_string(), norm);
        }
        let local = "a".repeat(64);
        assert!(Email::parse(&format!("{local}@example.com")).is_ok());
        // 254 bytes total is the limit.
        let domain = format!(
            "{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(57)
        );
        let max = format!("{local}@{domain}");
        assert_eq!(max.len(), 254);
        assert!(Email::parse(&max).is_ok());
        assert!(Email::parse(&format!("{max}m")).is_err());
    }

    #[test]
    fn email_refuses() {
        for s in [
            "",
            "   ",
            "plainaddress",
            "@example.com",
            "an@",
            "an@localhost",
            "an@@example.com",
            "a@b@example.com",
            "an @example.com",
            "an@exa mple.com",
            "an@example..com",
            "an@.example.com",
            "an@example.com.",
            "an@-example.com",
            "an@example-.com",
            "an@exa_mple.com",
            "an@ví-dụ.vn",
            "an@example.123",
            ".an@example.com",
            "an.@example.com",
            "a..n@example.com",
            "a\u{0}n@example.com",
            "a\tn@example.com",
            "\"an\"@example.com",
            "a<n@example.com",
            "a,n@example.com",
        ] {
            assert_eq!(Email::parse(s), Err(TextError::InvalidEmail), "{s:?}");
        }
        let local = "a".repeat(65);
        assert!(Email::parse(&format!("{local}@example.com")).is_err());
        let label = "a".repeat(64);
        assert!(Email::parse(&format!("an@{label}.com")).is_err());
        assert_eq!(TextError::InvalidEmail.code(), "INVALID_EMAIL");
    }

    // --- errors and serde -----------------------------------------------------------------

    #[test]
    fn error_codes_and_messages() {
        let cases = [
            (TextError::InvalidSlug("x".into()), "INVALID_SLUG"),
            (TextError::InvalidPhone, "INVALID_PHONE"),
            (TextError::InvalidTaxCode("x".into()), "INVALID_TAX_CODE"),
            (TextError::InvalidPrice("x".into()), "INVALID_PRICE"),
            (TextError::InvalidEmail, "INVALID_EMAIL"),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code);
            assert!(!e.to_string().is_empty());
        }
        assert_eq!(
            TextError::InvalidPrice("must not be negative".into()).to_string(),
            "invalid price: must not be negative"
        );
    }

    #[test]
    fn serialize_as_plain_values() -> Result<(), Box<dyn std::error::Error>> {
        assert_eq!(
            serde_json::to_string(&Slug::parse("tra-sen")?)?,
            "\"tra-sen\""
        );
        assert_eq!(
            serde_json::to_string(&Phone::parse("0912345678")?)?,
            "\"+84912345678\""
        );
        assert_eq!(
            serde_json::to_string(&TaxCode::parse("0314409058-002")?)?,
            "\"0314409058-002\""
        );
        assert_eq!(
            serde_json::to_string(&Email::parse("A@B.VN")?)?,
            "\"a@b.vn\""
        );
        assert_eq!(serde_json::to_string(&Vnd::parse("150000")?)?, "150000");
        assert_eq!(
            serde_json::to_string(&TaxCodeKind::Personal)?,
            "\"PERSONAL\""
        );
        Ok(())
    }

    // --- properties ------------------------------------------------------------------------

    fn assert_slug_shape(s: &str) -> Result<(), TestCaseError> {
        prop_assert!(
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "bad chars: {:?}",
            s
        );
        prop_assert!(
            !s.starts_with('-') && !s.ends_with('-'),
            "edge dash: {:?}",
            s
        );
        prop_assert!(!s.contains("--"), "double dash: {:?}", s);
        prop_assert!(s.len() <= SLUG_MAX_LEN, "too long: {:?}", s);
        Ok(())
    }

    /// Mostly Vietnamese text, long enough to exercise truncation.
    fn vietnamese_text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9àáảãạăắằẳẵặâấầẩẫậèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵĐđÐð \
         \\-_.,!?/\t\u{300}\u{301}\u{303}\u{309}\u{323}]{0,200}"
    }

    proptest! {
        #[test]
        fn prop_slugify_shape_any(s in any::<String>()) {
            let slug = slugify(&s);
            assert_slug_shape(&slug)?;
            prop_assert_eq!(slugify(&slug), slug.clone());
            if !slug.is_empty() {
                prop_assert!(Slug::parse(&slug).is_ok(), "{:?}", slug);
            }
        }

        #[test]
        fn prop_slugify_shape_vietnamese(s in vietnamese_text()) {
            let slug = slugify(&s);
            assert_slug_shape(&slug)?;
            prop_assert_eq!(slugify(&slug), slug.clone());
            if !slug.is_empty() {
                prop_assert!(Slug::parse(&slug).is_ok(), "{:?}", slug);
            }
        }

        #[test]
        fn prop_fold_idempotent_any(s in any::<String>()) {
            let f = fold(&s);
            prop_assert_eq!(fold(&f), f.clone());
            prop_assert!(!f.starts_with(' ') && !f.ends_with(' ') && !f.contains("  "));
        }

        #[test]
        fn prop_fold_idempotent_vietnamese(s in vietnamese_text()) {
            let f = fold(&s);
            prop_assert_eq!(fold(&f), f.clone());
            prop_assert!(f.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b' '));
            prop_assert_eq!(fold(&nfc(&s)), f.clone());
            prop_assert_eq!(fold(&s.to_uppercase()), f);
        }

        #[test]
        fn prop_clean_idempotent(s in any::<String>()) {
            let c = clean(&s);
            prop_assert_eq!(clean(&c), c.clone());
            prop_assert_eq!(c.trim(), c.as_str());
            prop_assert!(!c.contains("  "));
            prop_assert!(!c.chars().any(char::is_control));
        }

        #[test]
        fn prop_format_vnd_round_trips(n in any::<i64>()) {
            let f = format_vnd(n);
            let body = f.strip_suffix("\u{a0}₫");
            prop_assert!(body.is_some(), "{}", f);
            let body = body.unwrap_or_default();
            let digits: String = body.chars().filter(|&c| c != '.').collect();
            prop_assert_eq!(digits.parse::<i128>().ok(), Some(i128::from(n)));
            // Groups of three after the first.
            let unsigned = body.trim_start_matches('-');
            let mut groups = unsigned.split('.');
            let first = groups.next().unwrap_or_default();
            prop_assert!((1..=3).contains(&first.len()));
            prop_assert!(groups.all(|g| g.len() == 3));
        }

        #[test]
        fn prop_vnd_parse_round_trips(n in 0i64..=Vnd::MAX, zeros in 0usize..4) {
            prop_assert_eq!(Vnd::parse(&n.to_string()).map(Vnd::amount), Ok(n));
            if zeros > 0 && n >= 1000 {
                let s = format!("{n}.{}", "0".repeat(zeros));
                prop_assert_eq!(Vnd::parse(&s).map(Vnd::amount), Ok(n));
            }
        }

        #[test]
        fn prop_vnd_parse_never_panics(s in any::<String>()) {
            let _ = Vnd::parse(&s);
        }

        #[test]
        fn prop_parsers_never_panic(s in any::<String>()) {
            let _ = Phone::parse(&s);
            let _ = TaxCode::parse(&s);
            let _ = Email::parse(&s);
            let _ = Slug::parse(&s);
        }

        #[test]
        fn prop_phone_round_trips(
            first in prop::sample::select(vec!['3', '5', '7', '8', '9']),
            rest in "[0-9]{8}",
            style in 0usize..6,
        ) {
            let nine = format!("{first}{rest}");
            let input = match style {
                0 => format!("0{nine}"),
                1 => format!("+84{nine}"),
                2 => format!("84{nine}"),
                3 => format!("0{} {} {}", &nine[..2], &nine[2..5], &nine[5..]),
                4 => format!("0{}.{}.{}", &nine[..2], &nine[2..5], &nine[5..]),
                _ => format!("+84 {} {} {} {}", &nine[..2], &nine[2..5], &nine[5..7], &nine[7..]),
            };
            let p = Phone::parse(&input);
            prop_assert!(p.is_ok(), "{}", input);
            if let Ok(p) = p {
                prop_assert_eq!(p.as_str(), format!("+84{nine}"));
                prop_assert_eq!(p.local(), format!("0{nine}"));
                prop_assert_eq!(Phone::parse(p.as_str()), Ok(p.clone()));
                prop_assert_eq!(Phone::parse(&p.local()), Ok(p.clone()));
            }
        }

        #[test]
        fn prop_tax_code_check_digit(nine in "[0-9]{9}", branch in 1u32..=999) {
            let sum: u32 = nine
                .bytes()
                .zip(TAX_WEIGHTS)
                .map(|(d, w)| u32::from(d - b'0') * w)
                .sum();
            let r = sum % 11;
            for check in 0..=9u32 {
                let code = format!("{nine}{check}");
                let valid = r != 0 && check == 10 - r;
                prop_assert_eq!(TaxCode::parse(&code).is_ok(), valid, "{}", code);
                let with_branch = format!("{code}-{branch:03}");
                prop_assert_eq!(TaxCode::parse(&with_branch).is_ok(), valid, "{}", with_branch);
            }
        }
    }
}
