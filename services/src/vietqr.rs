//! NAPAS VietQR: the EMVCo merchant-presented QR payload that every Vietnamese banking app
//! scans to pre-fill a bank transfer (bank, account, and optionally amount and purpose).
//!
//! A payload is a run of data objects, each a 2-digit tag, a 2-digit length and a value
//! (lengths count characters). The ones VietQR uses (see `shared/domain/vietqr-vectors.md`):
//!
//! | tag | content |
//! |---|---|
//! | `00` | payload format, `01` |
//! | `01` | point of initiation: `11` static (no amount), `12` dynamic (with amount) |
//! | `38` | merchant account: `00` GUID `A000000727`, `01` { `00` BIN, `01` account }, `02` service `QRIBFTTA` (to an account) or `QRIBFTTC` (to a card) |
//! | `53` | currency, `704` (VND) |
//! | `54` | amount, whole đồng (present only for a dynamic code) |
//! | `58` | country, `VN` |
//! | `62` | additional data: `08` purpose (≤ 25 characters) |
//! | `63` | CRC-16/CCITT-FALSE of everything before it including the literal `6304`, 4 uppercase hex digits |
//!
//! [`encode`] builds a payload from a [`Transfer`]; the purpose is folded to plain ASCII first
//! ([`fold_purpose`]) because lengths count characters and banks strip diacritics anyway.
//! [`decode`] parses and checks any scanned string and never panics.

use serde::{Deserialize, Serialize};
use unicode_normalization::char::decompose_canonical;

use crate::banks::{self, Bank};

/// The NAPAS application identifier under tag 38, sub-tag 00.
pub const NAPAS_GUID: &str = "A000000727";
/// Service code (tag 38, sub-tag 02) of a transfer to a bank account.
pub const SERVICE_TO_ACCOUNT: &str = "QRIBFTTA";
/// Service code (tag 38, sub-tag 02) of a transfer to a card number.
pub const SERVICE_TO_CARD: &str = "QRIBFTTC";
/// Largest amount the 13-character tag 54 holds, in đồng.
pub const MAX_AMOUNT: i64 = 9_999_999_999_999;
/// Longest purpose (tag 62, sub-tag 08) [`encode`] writes, in characters.
pub const PURPOSE_MAX_LEN: usize = 25;
/// Longest account number [`encode`] accepts, in digits.
pub const ACCOUNT_MAX_LEN: usize = 19;
/// Longest value of any data object: the length field has two digits.
const FIELD_MAX_LEN: usize = 99;

/// Error of [`encode`] or [`decode`]. `code()` gives the SCREAMING_SNAKE GraphQL userError code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VietQrError {
    /// The bank BIN is not 6 ASCII digits.
    #[error("bank BIN must be 6 digits")]
    InvalidBin,
    /// The account number is not 1 to 19 ASCII digits.
    #[error("account number must be 1 to 19 digits")]
    InvalidAccount,
    /// The amount is not between 1 and [`MAX_AMOUNT`] đồng.
    #[error("amount must be a whole number of đồng from 1 to 9999999999999")]
    InvalidAmount,
    /// A value would not fit the 2-digit length field.
    #[error("VietQR field {0} is longer than 99 characters")]
    FieldTooLong(&'static str),
    /// The string is not a well-formed EMVCo payload; the string says why.
    #[error("malformed VietQR payload: {0}")]
    Malformed(String),
    /// The CRC in tag 63 does not match the payload (misread or altered).
    #[error("VietQR checksum does not match")]
    BadCrc,
    /// A well-formed EMVCo payload that is not a NAPAS VietQR transfer; the string says why.
    #[error("not a VietQR bank transfer: {0}")]
    NotVietQr(String),
}

impl VietQrError {
    /// The SCREAMING_SNAKE code reported to GraphQL clients as `userError.code`: input errors
    /// of [`encode`] name the field, everything about a payload is `INVALID_VIETQR`.
    pub fn code(&self) -> &'static str {
        match self {
            VietQrError::InvalidBin => "INVALID_BANK_BIN",
            VietQrError::InvalidAccount => "INVALID_BANK_ACCOUNT",
            VietQrError::InvalidAmount => "INVALID_AMOUNT",
            VietQrError::FieldTooLong(_)
            | VietQrError::Malformed(_)
            | VietQrError::BadCrc
            | VietQrError::NotVietQr(_) => "INVALID_VIETQR",
        }
    }
}

fn malformed(why: impl Into<String>) -> VietQrError {
    VietQrError::Malformed(why.into())
}

fn not_vietqr(why: impl Into<String>) -> VietQrError {
    VietQrError::NotVietQr(why.into())
}

/// A transfer to a bank account, the input of [`encode`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Transfer {
    /// NAPAS BIN of the receiving bank, 6 digits (see [`crate::banks`]).
    pub bin: String,
    /// Receiving account number, 1 to 19 digits.
    pub account: String,
    /// Amount in đồng; `Some` makes a dynamic code, `None` a static one (payer types it).
    pub amount: Option<i64>,
    /// Transfer message; folded by [`fold_purpose`], omitted when nothing is left.
    pub purpose: Option<String>,
}

/// What [`decode`] found in a payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Decoded {
    /// NAPAS BIN of the receiving bank, 6 digits.
    pub bin: String,
    /// Account (or, for [`SERVICE_TO_CARD`], card) number.
    pub account: String,
    /// Service code: [`SERVICE_TO_ACCOUNT`] or [`SERVICE_TO_CARD`] (other values passed on).
    pub service: String,
    /// Amount in đồng (tag 54), if the code fixes one.
    pub amount: Option<i64>,
    /// Purpose (tag 62, sub-tag 08) exactly as written in the payload.
    pub purpose: Option<String>,
    /// Currency (tag 53), ISO 4217 numeric: `704` for VND.
    pub currency: String,
    /// Country (tag 58): `VN`.
    pub country: String,
    /// Point of initiation: `12` (dynamic) is `true`, `11` (static) `false`; when tag 01 is
    /// absent, whether an amount is present.
    pub dynamic: bool,
}

impl Decoded {
    /// The receiving bank, when its BIN is in [`crate::banks`].
    pub fn bank(&self) -> Option<&'static Bank> {
        banks::by_bin(&self.bin)
    }

    /// The transfer this payload describes (what [`encode`] would be given to make it).
    pub fn transfer(&self) -> Transfer {
        Transfer {
            bin: self.bin.clone(),
            account: self.account.clone(),
            amount: self.amount,
            purpose: self.purpose.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CRC and purpose folding
// ---------------------------------------------------------------------------------------------

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final xor.
/// `crc16(b"123456789") == 0x29B1`.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in data {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The purpose as [`encode`] writes it: Vietnamese diacritics stripped with case kept
/// (`Đ`/`đ` → `D`/`d`), only `[A-Za-z0-9]` and spaces kept (other characters dropped), runs of
/// whitespace turned into one space, trimmed, and cut to [`PURPOSE_MAX_LEN`] characters.
///
/// `"Đơn hàng #1001"` → `"Don hang 1001"`.
pub fn fold_purpose(s: &str) -> String {
    let mut ascii = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'Đ' | 'Ð' => ascii.push('D'),
            'đ' | 'ð' => ascii.push('d'),
            c if c.is_whitespace() => ascii.push(' '),
            // Canonical decomposition puts the base letter first; the marks are not ASCII.
            c => decompose_canonical(c, |d| {
                if d.is_ascii_alphanumeric() {
                    ascii.push(d);
                }
            }),
        }
    }
    let mut out = String::with_capacity(ascii.len().min(PURPOSE_MAX_LEN));
    for word in ascii.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    // `out` is ASCII, so characters are bytes.
    out.truncate(PURPOSE_MAX_LEN);
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/// Appends one data object: tag, 2-digit character count, value.
fn push_field(out: &mut String, tag: &'static str, value: &str) -> Result<(), VietQrError> {
    let len = value.chars().count();
    if len > FIELD_MAX_LEN {
        return Err(VietQrError::FieldTooLong(tag));
    }
    out.push_str(tag);
    out.push_str(&format!("{len:02}"));
    out.push_str(value);
    Ok(())
}

fn all_digits(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

/// Builds the VietQR payload of a transfer to a bank account (service [`SERVICE_TO_ACCOUNT`]).
///
/// Refuses a BIN that is not 6 digits ([`VietQrError::InvalidBin`]), an account that is not 1
/// to 19 digits ([`VietQrError::InvalidAccount`]) and an amount outside 1..=[`MAX_AMOUNT`]
/// ([`VietQrError::InvalidAmount`]). The purpose goes through [`fold_purpose`]; tag 62 is left
/// out when nothing remains.
pub fn encode(t: &Transfer) -> Result<String, VietQrError> {
    if t.bin.len() != 6 || !all_digits(&t.bin) {
        return Err(VietQrError::InvalidBin);
    }
    if t.account.is_empty() || t.account.len() > ACCOUNT_MAX_LEN || !all_digits(&t.account) {
        return Err(VietQrError::InvalidAccount);
    }
    if let Some(amount) = t.amount
        && !(1..=MAX_AMOUNT).contains(&amount)
    {
        return Err(VietQrError::InvalidAmount);
    }

    let mut beneficiary = String::with_capacity(40);
    push_field(&mut beneficiary, "00", &t.bin)?;
    push_field(&mut beneficiary, "01", &t.account)?;
    let mut merchant = String::with_capacity(70);
    push_field(&mut merchant, "00", NAPAS_GUID)?;
    push_field(&mut merchant, "01", &beneficiary)?;
    push_field(&mut merchant, "02", SERVICE_TO_ACCOUNT)?;

    let mut out = String::with_capacity(160);
    push_field(&mut out, "00", "01")?;
    push_field(&mut out, "01", if t.amount.is_some() { "12" } else { "11" })?;
    push_field(&mut out, "38", &merchant)?;
    push_field(&mut out, "53", "704")?;
    if let Some(amount) = t.amount {
        push_field(&mut out, "54", &amount.to_string())?;
    }
    push_field(&mut out, "58", "VN")?;
    let purpose = t.purpose.as_deref().map(fold_purpose).unwrap_or_default();
    if !purpose.is_empty() {
        let mut additional = String::with_capacity(purpose.len() + 4);
        push_field(&mut additional, "08", &purpose)?;
        push_field(&mut out, "62", &additional)?;
    }
    out.push_str("6304");
    let crc = crc16(out.as_bytes());
    out.push_str(&format!("{crc:04X}"));
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// One data object of a parsed template.
struct Field<'a> {
    tag: &'a str,
    value: &'a str,
    /// Byte offset of the value within the parsed string (so the CRC's coverage is known).
    value_start: usize,
}

/// Splits a template into its data objects. Rejects anything that is not a clean run of
/// tag-length-value objects, and repeated tags.
fn parse_fields(s: &str) -> Result<Vec<Field<'_>>, VietQrError> {
    let mut fields: Vec<Field<'_>> = Vec::new();
    let mut pos = 0;
    while pos < s.len() {
        let rest = s
            .get(pos..)
            .ok_or_else(|| malformed(format!("cut inside a character at byte {pos}")))?;
        let header = rest
            .get(..4)
            .filter(|h| all_digits(h))
            .ok_or_else(|| malformed(format!("expected a 2-digit tag and length at byte {pos}")))?;
        let (tag, len) = header
            .split_at_checked(2)
            .ok_or_else(|| malformed("bad header"))?;
        let len = len.parse::<usize>().map_err(|_| malformed("bad length"))?;
        let body = rest.get(4..).unwrap_or_default();
        let mut end = 0;
        let mut count = 0;
        for c in body.chars().take(len) {
            end += c.len_utf8();
            count += 1;
        }
        if count < len {
            return Err(malformed(format!(
                "field {tag} announces {len} characters but only {count} follow"
            )));
        }
        let value = body
            .get(..end)
            .ok_or_else(|| malformed(format!("field {tag} is cut")))?;
        if fields.iter().any(|f| f.tag == tag) {
            return Err(malformed(format!("field {tag} appears twice")));
        }
        fields.push(Field {
            tag,
            value,
            value_start: pos + 4,
        });
        pos += 4 + end;
    }
    Ok(fields)
}

fn find<'a>(fields: &[Field<'a>], tag: &str) -> Option<&'a str> {
    fields.iter().find(|f| f.tag == tag).map(|f| f.value)
}

/// Parses an amount in đồng: digits, optionally followed by `.` and zeros only.
fn parse_amount(s: &str) -> Result<i64, VietQrError> {
    let bad = || {
        malformed(format!(
            "amount {s:?} is not a whole number of đồng from 1 to {MAX_AMOUNT}"
        ))
    };
    let whole = match s.split_once('.') {
        Some((whole, fraction)) if fraction.bytes().all(|b| b == b'0') => whole,
        Some(_) => return Err(bad()),
        None => s,
    };
    if whole.is_empty() || !all_digits(whole) {
        return Err(bad());
    }
    match whole.parse::<i64>() {
        Ok(n) if (1..=MAX_AMOUNT).contains(&n) => Ok(n),
        _ => Err(bad()),
    }
}

/// Parses and checks a VietQR payload (surrounding whitespace ignored).
///
/// Errors: [`VietQrError::Malformed`] for anything that is not a well-formed EMVCo payload
/// ending in a CRC (tag 63), [`VietQrError::BadCrc`] when the CRC does not match, and
/// [`VietQrError::NotVietQr`] when tag 38 is missing, does not carry the NAPAS GUID
/// [`NAPAS_GUID`], or lacks a 6-digit BIN, an alphanumeric account or a service code.
/// Never panics, whatever the input.
pub fn decode(payload: &str) -> Result<Decoded, VietQrError> {
    let payload = payload.trim();
    if payload.is_empty() {
        return Err(malformed("empty"));
    }
    let fields = parse_fields(payload)?;

    let crc_field = fields
        .last()
        .filter(|f| f.tag == "63")
        .ok_or_else(|| malformed("the payload must end with the CRC (tag 63)"))?;
    if crc_field.value.len() != 4 || !crc_field.value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(malformed("the CRC (tag 63) must be 4 hex digits"));
    }
    let expected =
        u16::from_str_radix(crc_field.value, 16).map_err(|_| malformed("bad CRC digits"))?;
    let covered = payload
        .get(..crc_field.value_start)
        .ok_or_else(|| malformed("bad CRC position"))?;
    if crc16(covered.as_bytes()) != expected {
        return Err(VietQrError::BadCrc);
    }

    match fields.first() {
        Some(f) if f.tag == "00" && f.value == "01" => {}
        _ => {
            return Err(malformed(
                "the payload must start with format indicator 000201",
            ));
        }
    }

    let merchant = find(&fields, "38").ok_or_else(|| not_vietqr("no merchant account (tag 38)"))?;
    let merchant = parse_fields(merchant)?;
    match find(&merchant, "00") {
        Some(guid) if guid.eq_ignore_ascii_case(NAPAS_GUID) => {}
        _ => {
            return Err(not_vietqr(
                "tag 38 does not carry the NAPAS GUID A000000727",
            ));
        }
    }
    let beneficiary =
        find(&merchant, "01").ok_or_else(|| not_vietqr("no beneficiary (tag 38, sub-tag 01)"))?;
    let beneficiary = parse_fields(beneficiary)?;
    let bin = find(&beneficiary, "00")
        .filter(|b| b.len() == 6 && all_digits(b))
        .ok_or_else(|| not_vietqr("the bank BIN must be 6 digits"))?;
    let account = find(&beneficiary, "01")
        .filter(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric()))
        .ok_or_else(|| not_vietqr("the account must be letters and digits"))?;
    let service = find(&merchant, "02")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| not_vietqr("no service code (tag 38, sub-tag 02)"))?;

    let currency = find(&fields, "53")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| malformed("no currency (tag 53)"))?;
    let country = find(&fields, "58")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| malformed("no country (tag 58)"))?;
    let amount = find(&fields, "54").map(parse_amount).transpose()?;
    let purpose = match find(&fields, "62") {
        Some(additional) => find(&parse_fields(additional)?, "08")
            .filter(|p| !p.is_empty())
            .map(str::to_owned),
        None => None,
    };
    let dynamic = match find(&fields, "01") {
        Some("11") => false,
        Some("12") => true,
        None => amount.is_some(),
        Some(other) => {
            return Err(malformed(format!(
                "point of initiation {other:?} is neither 11 nor 12"
            )));
        }
    };

    Ok(Decoded {
        bin: bin.to_owned(),
        account: account.to_owned(),
        service: service.to_owned(),
        amount,
        purpose,
        currency: currency.to_owned(),
        country: country.to_owned(),
        dynamic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The vectors of `shared/domain/vietqr-vectors.md`: inputs and expected payload.
    fn vectors() -> Vec<(Transfer, &'static str)> {
        let t = |bin: &str, account: &str, amount: Option<i64>, purpose: Option<&str>| Transfer {
            bin: bin.to_owned(),
            account: account.to_owned(),
            amount,
            purpose: purpose.map(str::to_owned),
        };
        vec![
            (
                t("970436", "0011001234567", None, None),
                "00020101021138570010A00000072701270006970436011300110012345670208QRIBFTTA53037045802VN6304E8DB",
            ),
            (
                t("970436", "0011001234567", Some(150_000), Some("DH1234")),
                "00020101021238570010A00000072701270006970436011300110012345670208QRIBFTTA530370454061500005802VN62100806DH1234630427E2",
            ),
            (
                t("970416", "257678859", None, None),
                "00020101021138530010A0000007270123000697041601092576788590208QRIBFTTA53037045802VN6304AE9F",
            ),
            (
                t("970416", "257678859", Some(10_000), Some("Chuyen tien")),
                "00020101021238530010A0000007270123000697041601092576788590208QRIBFTTA53037045405100005802VN62150811Chuyen tien630453E6",
            ),
            (
                t(
                    "970415",
                    "0011001932418",
                    Some(120_000),
                    Some("ung ho lu lut"),
                ),
                "00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA530370454061200005802VN62170813ung ho lu lut6304C15C",
            ),
        ]
    }

    const BAD_CRC: &str = "00020101021238570010A00000072701270006970436011300110012345670208QRIBFTTA530370454061500005802VN62100806DH123463040000";

    /// Appends `6304` and the right CRC.
    fn with_crc(body: &str) -> String {
        let s = format!("{body}6304");
        let crc = crc16(s.as_bytes());
        format!("{s}{crc:04X}")
    }

    #[test]
    fn crc_check_value() {
        assert_eq!(crc16(b"123456789"), 0x29B1);
        assert_eq!(crc16(b""), 0xFFFF);
    }

    #[test]
    fn vectors_encode_exactly() {
        for (t, payload) in vectors() {
            assert_eq!(encode(&t).as_deref(), Ok(payload), "{t:?}");
        }
    }

    #[test]
    fn vectors_decode_to_their_inputs() {
        for (t, payload) in vectors() {
            let d = decode(payload).expect(payload);
            assert_eq!(d.transfer(), t);
            assert_eq!(d.bin, t.bin);
            assert_eq!(d.account, t.account);
            assert_eq!(d.amount, t.amount);
            assert_eq!(d.purpose, t.purpose);
            assert_eq!(d.service, SERVICE_TO_ACCOUNT);
            assert_eq!(d.currency, "704");
            assert_eq!(d.country, "VN");
            assert_eq!(d.dynamic, t.amount.is_some());
        }
    }

    #[test]
    fn decoded_bank() {
        let (_, payload) = &vectors()[2];
        let d = decode(payload).expect("ACB");
        assert_eq!(d.bank().map(|b| b.short_name), Some("ACB"));
    }

    #[test]
    fn bad_crc_is_rejected() {
        assert_eq!(decode(BAD_CRC), Err(VietQrError::BadCrc));
        assert_eq!(VietQrError::BadCrc.code(), "INVALID_VIETQR");
        // The same payload with its right CRC is the dynamic vector.
        let fixed = with_crc(BAD_CRC.trim_end_matches("63040000"));
        assert_eq!(fixed, vectors()[1].1);
        // Each single-character change of a valid payload is caught.
        let good = vectors()[1].1;
        for i in 0..good.len() {
            let mut bytes = good.as_bytes().to_vec();
            bytes[i] = if bytes[i] == b'1' { b'2' } else { b'1' };
            let altered = String::from_utf8(bytes).expect("ascii");
            assert!(decode(&altered).is_err(), "{altered}");
        }
    }

    #[test]
    fn lowercase_crc_and_surrounding_whitespace_accepted() {
        let (t, payload) = &vectors()[3];
        let cut = payload.len() - 4;
        let mixed = format!(
            " {}{}\n",
            &payload[..cut],
            payload[cut..].to_ascii_lowercase()
        );
        assert_ne!(&mixed[1..mixed.len() - 1], *payload);
        assert_eq!(decode(&mixed).map(|d| d.transfer()), Ok(t.clone()));
    }

    #[test]
    fn purpose_is_folded() {
        assert_eq!(fold_purpose("Đơn hàng #1001"), "Don hang 1001");
        assert_eq!(
            fold_purpose("Thanh toán ĐƠN HÀNG số 42"),
            "Thanh toan DON HANG so 42"
        );
        assert_eq!(fold_purpose("  ủng  hộ\tlũ lụt  "), "ung ho lu lut");
        assert_eq!(fold_purpose("Cà phê sữa đá – Huế!"), "Ca phe sua da Hue");
        assert_eq!(fold_purpose("#!?"), "");
        // Decomposed input (NFD) folds the same.
        assert_eq!(fold_purpose("Đo\u{31b}\u{300}i"), "Doi");
        // 25 characters at most, no trailing space after the cut.
        assert_eq!(
            fold_purpose("Thanh toán đơn hàng số 123456 của chị Hoa"),
            "Thanh toan don hang so 12"
        );
        assert_eq!(
            fold_purpose("aaaaaaaaaaaaaaaaaaaaaaaa bbb"),
            "aaaaaaaaaaaaaaaaaaaaaaaa"
        );

        let t = Transfer {
            bin: "970422".into(),
            account: "0123456789".into(),
            amount: Some(250_000),
            purpose: Some("Đơn hàng #1001".into()),
        };
        let payload = encode(&t).expect("encode");
        assert!(payload.contains("62170813Don hang 1001"), "{payload}");
        let d = decode(&payload).expect("decode");
        assert_eq!(d.purpose.as_deref(), Some("Don hang 1001"));
        assert_eq!(d.bank().map(|b| b.short_name), Some("MB"));

        // A purpose with nothing left after folding leaves tag 62 out.
        let blank = Transfer {
            purpose: Some(" #! ".into()),
            ..t.clone()
        };
        let no_purpose = Transfer {
            purpose: None,
            ..t.clone()
        };
        assert_eq!(encode(&blank), encode(&no_purpose));
        assert!(!encode(&blank).expect("blank").contains("5802VN62"));
    }

    #[test]
    fn encode_refuses_bad_input() {
        let ok = Transfer {
            bin: "970436".into(),
            account: "0011001234567".into(),
            amount: Some(1),
            purpose: None,
        };
        assert!(encode(&ok).is_ok());
        for bin in ["", "97043", "9704366", "97043a", " 970436", "９７０４３６"] {
            let t = Transfer {
                bin: bin.into(),
                ..ok.clone()
            };
            assert_eq!(encode(&t), Err(VietQrError::InvalidBin), "{bin:?}");
        }
        for account in [
            "",
            "12345678901234567890",
            "0011-0012",
            "abc123",
            "0011 001",
            "１２３",
        ] {
            let t = Transfer {
                account: account.into(),
                ..ok.clone()
            };
            assert_eq!(encode(&t), Err(VietQrError::InvalidAccount), "{account:?}");
        }
        let longest = Transfer {
            account: "1".repeat(ACCOUNT_MAX_LEN),
            amount: Some(MAX_AMOUNT),
            purpose: Some("x".repeat(100)),
            ..ok.clone()
        };
        assert_eq!(
            decode(&encode(&longest).expect("longest")).map(|d| d.amount),
            Ok(Some(MAX_AMOUNT))
        );
        for amount in [0, -1, MAX_AMOUNT + 1, i64::MIN, i64::MAX] {
            let t = Transfer {
                amount: Some(amount),
                ..ok.clone()
            };
            assert_eq!(encode(&t), Err(VietQrError::InvalidAmount), "{amount}");
        }
        assert_eq!(VietQrError::InvalidBin.code(), "INVALID_BANK_BIN");
        assert_eq!(VietQrError::InvalidAccount.code(), "INVALID_BANK_ACCOUNT");
        assert_eq!(VietQrError::InvalidAmount.code(), "INVALID_AMOUNT");
        assert_eq!(VietQrError::FieldTooLong("62").code(), "INVALID_VIETQR");
        assert_eq!(VietQrError::Malformed("x".into()).code(), "INVALID_VIETQR");
        assert_eq!(VietQrError::NotVietQr("x".into()).code(), "INVALID_VIETQR");
    }

    #[test]
    fn decode_refuses_broken_payloads() {
        for s in [
            "",
            "   ",
            "0",
            "000201",
            "00020163",
            "6304FFFF",
            "hello",
            "0002016304zzzz",
        ] {
            assert!(decode(s).is_err(), "{s:?}");
        }
        // Every proper prefix of every vector is refused.
        for (_, payload) in vectors() {
            for i in 0..payload.len() {
                assert!(decode(&payload[..i]).is_err(), "{}", &payload[..i]);
            }
        }
        // Well-formed, right CRC, but not VietQR or missing parts.
        let cases = [
            // Another GUID under tag 38.
            (
                "00020101021138570010A00000072801270006970436011300110012345670208QRIBFTTA53037045802VN",
                "NotVietQr",
            ),
            // No tag 38.
            ("00020101021153037045802VN", "NotVietQr"),
            // BIN of 5 digits.
            (
                "00020101021138560010A0000007270126000597043011300110012345670208QRIBFTTA53037045802VN",
                "NotVietQr",
            ),
            // Amount 0.
            (
                "00020101021238570010A00000072701270006970436011300110012345670208QRIBFTTA5303704540105802VN",
                "Malformed",
            ),
            // Format indicator not first.
            (
                "01021100020138570010A00000072701270006970436011300110012345670208QRIBFTTA53037045802VN",
                "Malformed",
            ),
            // Repeated tag.
            (
                "00020101021138570010A00000072701270006970436011300110012345670208QRIBFTTA53037045802VN5802VN",
                "Malformed",
            ),
            // No currency.
            (
                "00020101021138570010A00000072701270006970436011300110012345670208QRIBFTTA5802VN",
                "Malformed",
            ),
            // Point of initiation 13.
            (
                "00020101021338570010A00000072701270006970436011300110012345670208QRIBFTTA53037045802VN",
                "Malformed",
            ),
        ];
        for (body, kind) in cases {
            let payload = with_crc(body);
            let got = decode(&payload);
            let matches = match kind {
                "NotVietQr" => matches!(got, Err(VietQrError::NotVietQr(_))),
                _ => matches!(got, Err(VietQrError::Malformed(_))),
            };
            assert!(matches, "{payload}: {got:?}");
        }
        // CRC not last.
        let (_, v) = &vectors()[0];
        assert!(matches!(
            decode(&format!("{v}5802VN")),
            Err(VietQrError::Malformed(_))
        ));
    }

    #[test]
    fn decode_counts_characters_not_bytes() {
        // A foreign encoder that kept the diacritics: lengths count characters.
        let body = "00020101021238570010A00000072701270006970436011300110012345670208QRIBFTTA530370454061500005802VN62120808Đơn hàng";
        let d = decode(&with_crc(body)).expect("non-ASCII purpose");
        assert_eq!(d.purpose.as_deref(), Some("Đơn hàng"));
        assert_eq!(d.amount, Some(150_000));
        // Lengths that overrun, or land inside a multi-byte character, are refused cleanly.
        for s in [
            "0002010102115899Đ",
            "00020101021162040801Đ6304",
            "0002ĐĐ",
            "Đ0020101",
            "00020101021162050803ĐĐ",
        ] {
            assert!(decode(s).is_err(), "{s:?}");
            assert!(decode(&with_crc(s)).is_err(), "{s:?}");
        }
    }

    #[test]
    fn decode_accepts_zero_decimals_and_static_without_tag_01() {
        let body = "00020138570010A00000072701270006970436011300110012345670208QRIBFTTA530370454071500.005802VN";
        let d = decode(&with_crc(body)).expect("decimal amount");
        assert_eq!(d.amount, Some(1500));
        assert!(d.dynamic);
        let body =
            "00020138570010A00000072701270006970436011300110012345670208QRIBFTTA53037045802VN";
        let d = decode(&with_crc(body)).expect("no tag 01");
        assert_eq!(d.amount, None);
        assert!(!d.dynamic);
        let body = "00020138570010A00000072701270006970436011300110012345670208QRIBFTTA530370454071500.505802VN";
        assert!(decode(&with_crc(body)).is_err());
    }

    // --- properties ------------------------------------------------------------------------

    fn purpose_text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9àáảãạăắằẳẵặâấầẩẫậèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵĐđ \
         #\\-_.,!?/\t\u{300}\u{301}]{0,60}"
    }

    fn transfer() -> impl Strategy<Value = Transfer> {
        (
            "[0-9]{6}",
            "[0-9]{1,19}",
            proptest::option::of(1i64..=MAX_AMOUNT),
            proptest::option::of(prop_oneof![purpose_text(), any::<String>()]),
        )
            .prop_map(|(bin, account, amount, purpose)| Transfer {
                bin,
                account,
                amount,
                purpose,
            })
    }

    proptest! {
        #[test]
        fn prop_round_trip(t in transfer()) {
            let payload = encode(&t);
            prop_assert!(payload.is_ok(), "{:?}: {:?}", t, payload);
            let payload = payload.unwrap_or_default();
            prop_assert!(payload.is_ascii());
            let d = decode(&payload);
            prop_assert!(d.is_ok(), "{}: {:?}", payload, d);
            let Ok(d) = d else { return Ok(()) };
            let folded = t.purpose.as_deref().map(fold_purpose).filter(|p| !p.is_empty());
            prop_assert_eq!(&d.purpose, &folded);
            prop_assert_eq!(d.transfer(), Transfer { purpose: folded, ..t.clone() });
            prop_assert_eq!(d.dynamic, t.amount.is_some());
            prop_assert_eq!(d.service.as_str(), SERVICE_TO_ACCOUNT);
            prop_assert_eq!(d.currency.as_str(), "704");
            prop_assert_eq!(d.country.as_str(), "VN");
        }

        #[test]
        fn prop_fold_purpose_shape(s in any::<String>()) {
            let p = fold_purpose(&s);
            prop_assert!(p.len() <= PURPOSE_MAX_LEN);
            prop_assert!(p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' '));
            prop_assert!(!p.starts_with(' ') && !p.ends_with(' ') && !p.contains("  "));
            prop_assert_eq!(fold_purpose(&p), p.clone());
        }

        #[test]
        fn prop_decode_never_panics(s in any::<String>()) {
            let _ = decode(&s);
            let _ = decode(&with_crc(&s));
        }

        #[test]
        fn prop_decode_never_panics_on_tlv_like(s in "([0-9]{4}[0-9A-Za-zĐơ ]{0,12}){0,12}") {
            let _ = decode(&s);
            let _ = decode(&with_crc(&s));
            let _ = decode(&with_crc(&format!("000201{s}")));
        }

        #[test]
        fn prop_decode_never_panics_on_damaged(
            t in transfer(),
            at in any::<prop::sample::Index>(),
            c in any::<char>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let Ok(payload) = encode(&t) else { return Ok(()) };
            let i = at.index(payload.len());
            let mut altered = payload.clone();
            altered.replace_range(i..=i, c.encode_utf8(&mut [0; 4]));
            // A one-byte change before the CRC is always caught (CRC-16 catches every burst
            // of up to 16 bits).
            if c.is_ascii_graphic() && i < payload.len() - 4 && altered != payload {
                prop_assert!(decode(&altered).is_err(), "{}", altered);
            }
            // Recomputing the CRC takes the damaged payload past the checksum.
            let body = altered.get(..altered.len().saturating_sub(8)).unwrap_or_default();
            let _ = decode(&with_crc(body));
            let truncated = &payload[..cut.index(payload.len())];
            prop_assert!(decode(truncated).is_err());
            let _ = decode(&with_crc(truncated));
        }
    }
}
