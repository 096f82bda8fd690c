//! Rendered storefront pages (home, collection and product pages), kept per shop content
//! version (`choso_services::versions`): any member action on the shop or an order moving its
//! stock makes the next visitor's page fresh. A page is rendered once with per-process random
//! marks where the visitor's own values go (the CSP nonce, the CSRF token, the cart count) and
//! each answer fills them in, so visitors never share a token. Pages with messages (`?added`,
//! `?error`), theme previews and themes read from a folder (development) are not kept.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use choso_services::versions::Version;

/// At most this many pages are kept; when full, the cache starts again empty.
const MAX_PAGES: usize = 20_000;

/// The marks a cached page holds in place of the visitor's values.
#[derive(Debug, Clone)]
pub struct Marks {
    pub nonce: String,
    pub csrf: String,
    pub cart_count: String,
}

pub struct PageCache {
    pages: RwLock<HashMap<String, (Version, Arc<str>)>>,
    marks: Marks,
}

impl Default for PageCache {
    fn default() -> Self {
        // Letters and digits only, so HTML escaping leaves them as they are; random, so no
        // shop content can contain them by chance.
        let r = choso_services::ids::random_hex(12);
        PageCache {
            pages: RwLock::new(HashMap::new()),
            marks: Marks {
                nonce: format!("chosoNONCE{r}"),
                csrf: format!("chosoCSRF{r}"),
                cart_count: format!("chosoCART{r}"),
            },
        }
    }
}

impl PageCache {
    pub fn marks(&self) -> &Marks {
        &self.marks
    }

    /// The page stored under `key` if it was made at `version`.
    pub fn get(&self, key: &str, version: Version) -> Option<Arc<str>> {
        let pages = self.pages.read().ok()?;
        let (v, html) = pages.get(key)?;
        (*v == version).then(|| html.clone())
    }

    /// Stores a page rendered with the marks, made from data read at `version` or later.
    pub fn put(&self, key: String, version: Version, html: Arc<str>) {
        if let Ok(mut m) = self.pages.write() {
            if m.len() >= MAX_PAGES {
                m.clear();
            }
            m.insert(key, (version, html));
        }
    }

    /// The page with the visitor's values in place of the marks.
    pub fn fill(&self, html: &str, nonce: &str, csrf: &str, cart_count: i64) -> String {
        html.replace(&self.marks.nonce, nonce)
            .replace(&self.marks.csrf, csrf)
            .replace(&self.marks.cart_count, &cart_count.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_versions_and_fill_marks() {
        let c = PageCache::default();
        let m = c.marks().clone();
        let html: Arc<str> = format!(
            "<style nonce=\"{}\"></style><input value=\"{}\"><b>{}</b>",
            m.nonce, m.csrf, m.cart_count
        )
        .into();
        c.put("k".into(), (0, 1), html.clone());
        assert!(c.get("k", (0, 2)).is_none());
        let got = c.get("k", (0, 1)).expect("stored");
        assert_eq!(
            c.fill(&got, "N1", "C1", 3),
            "<style nonce=\"N1\"></style><input value=\"C1\"><b>3</b>"
        );
        assert_ne!(PageCache::default().marks().csrf, m.csrf);
    }
}
