//! Identifiers and clock: ids are ULID strings (sortable by creation, so they double as
//! stable pagination keys), timestamps are Unix milliseconds (UTC) stored as BIGINT.

use std::time::{SystemTime, UNIX_EPOCH};

/// A new lexicographically sortable id, strictly increasing within this process (ids made in
/// the same millisecond keep their order, so "newest first" lists are exact).
pub fn new_id() -> String {
    static GENERATOR: std::sync::Mutex<ulid::Generator> =
        std::sync::Mutex::new(ulid::Generator::new());
    let next = GENERATOR.lock().ok().and_then(|mut g| g.generate().ok());
    next.unwrap_or_else(ulid::Ulid::generate).to_string()
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// RFC 3339 (UTC, millisecond precision) for a Unix-milliseconds timestamp.
pub fn rfc3339(ms: i64) -> String {
    let nanos = (ms as i128) * 1_000_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => t
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Parses an RFC 3339 timestamp or a plain `YYYY-MM-DD` date (midnight UTC) into Unix ms.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Some((t.unix_timestamp_nanos() / 1_000_000) as i64);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .ok()
        .map(|d| d.midnight().assume_utc().unix_timestamp() * 1000)
}

/// 32 random bytes as lowercase hex (tokens, secrets).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS RNG failing is not recoverable in any useful way; fall back to a ULID-derived
    // value would weaken tokens, so abort loudly instead.
    getrandom::fill(&mut buf).expect("operating system random number generator failed");
    hex(&buf)
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// SHA-256 of a string, as hex (how tokens are stored).
pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let ms = 1_764_000_000_123;
        assert_eq!(parse_datetime(&rfc3339(ms)), Some(ms));
        assert_eq!(parse_datetime("2025-07-01"), Some(1_751_328_000_000));
        assert_eq!(parse_datetime("not a date"), None);
    }

    #[test]
    fn ids_sort_by_creation() {
        let ids: Vec<String> = (0..1000).map(|_| new_id()).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "monotonic within a millisecond"
        );
        assert_eq!(random_hex(32).len(), 64);
    }
}
