//! Storefront and console security: the signed visitor cookie (`choso_sid`, the console's
//! pre-session key too), CSRF tokens derived from it (and, in the console, from the session
//! token), the signed cart cookie, cookie parsing and writing, CSP nonces, and the response
//! headers every page carries.

use axum::http::{HeaderMap, HeaderValue, header};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub const SID_COOKIE: &str = "choso_sid";
/// The cookie that holds a shop's cart (its path is the shop's own: `/s/{slug}` or `/`).
pub const CART_COOKIE: &str = "choso_cart";

pub fn hex(bytes: &[u8]) -> String {
    choso_services::ids::hex(bytes)
}

fn mac(secret: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut m =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    for p in parts {
        m.update(p);
        m.update(b"\x1f");
    }
    m.finalize().into_bytes().to_vec()
}

/// Constant-time string equality (for tokens and signatures).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// `{id}.{signature}` for a new visitor id.
pub fn sign_sid(secret: &str, sid: &str) -> String {
    format!(
        "{sid}.{}",
        hex(&mac(secret, &[b"sid", sid.as_bytes()])[..16])
    )
}

/// The visitor id of a cookie value, if its signature holds.
pub fn verify_sid(secret: &str, value: &str) -> Option<String> {
    let (sid, sig) = value.split_once('.')?;
    if sid.len() != 26 || !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let expected = hex(&mac(secret, &[b"sid", sid.as_bytes()])[..16]);
    same(&expected, sig).then(|| sid.to_string())
}

/// A shop's cart as its cookie holds it: `{shop}.{items}.{signature}` (`items` in
/// `carts::Items`'s cookie form). The signature keeps a cart to what this server put in it.
pub fn sign_cart(secret: &str, shop: &str, items: &str) -> String {
    format!(
        "{shop}.{items}.{}",
        hex(&mac(secret, &[b"cart", shop.as_bytes(), items.as_bytes()])[..16])
    )
}

/// The items of a cart cookie, if it is this shop's and its signature holds.
pub fn verify_cart(secret: &str, shop: &str, value: &str) -> Option<String> {
    let (rest, sig) = value.rsplit_once('.')?;
    let (for_shop, items) = rest.split_once('.')?;
    if for_shop != shop {
        return None;
    }
    let expected = hex(&mac(secret, &[b"cart", shop.as_bytes(), items.as_bytes()])[..16]);
    same(&expected, sig).then(|| items.to_string())
}

/// The CSRF token of a visitor.
pub fn csrf_token(secret: &str, sid: &str) -> String {
    hex(&mac(secret, &[b"csrf", sid.as_bytes()])[..16])
}

pub fn check_csrf(secret: &str, sid: &str, token: &str) -> bool {
    same(&csrf_token(secret, sid), token)
}

/// The console's CSRF token for a key: `s:{session token}` when signed in, `v:{visitor id}`
/// before (sign-in, sign-up and password reset forms).
pub fn console_csrf(secret: &str, key: &str) -> String {
    hex(&mac(secret, &[b"console-csrf", key.as_bytes()])[..16])
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure when `secure`; `max_age`
/// 0 deletes the cookie, `None` makes it last as long as the browser session.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// Lets a page be shown in a frame of the platform's own pages (the console's theme
/// preview) instead of nowhere.
pub fn allow_same_origin_framing(h: &mut HeaderMap) {
    let csp = h
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.replace("frame-ancestors 'none'", "frame-ancestors 'self'"));
    if let Some(v) = csp.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
}

/// A cookie's value from the request headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    cookies(headers, name).next()
}

/// Every value of a cookie in the request headers (a browser sends one per matching path).
pub fn cookies<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = String> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |kv| {
            let (k, val) = kv.trim().split_once('=')?;
            (k == name).then(|| val.to_string())
        })
}

/// A random nonce for the page's own `<style>` and JSON-LD blocks.
pub fn nonce() -> String {
    choso_services::ids::random_hex(12)
}

/// Security headers of every storefront page.
pub fn page_headers(h: &mut HeaderMap, nonce: &str) {
    let csp = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; img-src 'self' https: data:; \
         font-src 'self' data:; form-action 'self' https://checkout.stripe.com; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sid_and_csrf() {
        let sid = choso_services::ids::new_id();
        let v = sign_sid("s3cret", &sid);
        assert_eq!(verify_sid("s3cret", &v), Some(sid.clone()));
        assert_eq!(verify_sid("other", &v), None);
        assert_eq!(verify_sid("s3cret", &v.replace('.', "x")), None);
        let t = csrf_token("s3cret", &sid);
        assert!(check_csrf("s3cret", &sid, &t));
        assert!(!check_csrf("s3cret", &choso_services::ids::new_id(), &t));
        assert!(!check_csrf("s3cret", &sid, ""));
    }

    #[test]
    fn a_cart_cookie_holds_for_its_shop_only() {
        let c = sign_cart("s3cret", "SHOPA", "v1:2-v2:1");
        assert_eq!(verify_cart("s3cret", "SHOPA", &c), Some("v1:2-v2:1".into()));
        assert_eq!(verify_cart("s3cret", "SHOPB", &c), None);
        assert_eq!(verify_cart("other", "SHOPA", &c), None);
        assert_eq!(
            verify_cart("s3cret", "SHOPA", &c.replace("v1:2", "v1:9")),
            None
        );
        let empty = sign_cart("s3cret", "SHOPA", "");
        assert_eq!(verify_cart("s3cret", "SHOPA", &empty), Some(String::new()));
        assert_eq!(verify_cart("s3cret", "SHOPA", ""), None);
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; choso_cart=x; b=2"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("choso_cart=y"));
        assert_eq!(cookies(&h, CART_COOKIE).collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(cookie(&h, "b"), Some("2".into()));
    }
}
