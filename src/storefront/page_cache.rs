//! Rendered storefront pages (home, collection, product and search pages), kept per shop content
//! version (`choso_services::versions`): any member action on the shop or an order moving its
//! stock makes the next visitor's page fresh. A page is rendered once with per-process random
//! marks where the visitor's own values go (the CSP nonce, the CSRF token, the cart count),
//! stored as the text between the marks, and each answer fills them in with one copy of the
//! page, so visitors never share a token. Pages with messages (`?added`,
//! `?error`), theme previews and themes read from a folder (development) are not kept.

use std::sync::{Arc, RwLock};

use choso_services::versions::Version;

use crate::bounded_map::BoundedMap;

/// The marks a cached page holds in place of the visitor's values.
#[derive(Debug, Clone)]
pub struct Marks {
    pub nonce: String,
    pub csrf: String,
    pub cart_count: String,
}

type Pages = RwLock<BoundedMap<String, (Version, Arc<Page>)>>;

pub struct PageCache {
    /// Home, collection and product pages.
    pages: Pages,
    /// Search pages, in a budget of their own: visitors choose the queries, so a flood of
    /// new ones drops only other search pages.
    searches: Pages,
    marks: Marks,
}

impl PageCache {
    /// A cache keeping at most `max_bytes` of home, collection and product pages and a
    /// quarter of that of search pages (keys whose page part starts with `search:`); when
    /// either is full, about half its pages (arbitrary ones) are dropped.
    pub fn new(max_bytes: usize) -> Self {
        // Letters and digits only, so HTML escaping leaves them as they are; random, so no
        // shop content can contain them by chance.
        let r = choso_services::ids::random_hex(12);
        let within = |bytes| {
            RwLock::new(BoundedMap::new(
                bytes,
                |key: &String, (_, page): &(Version, Arc<Page>)| {
                    key.len() + page.html.len() + page.holes.len() * 24 + 96
                },
            ))
        };
        PageCache {
            pages: within(max_bytes),
            searches: within(max_bytes / 4),
            marks: Marks {
                nonce: format!("chosoNONCE{r}"),
                csrf: format!("chosoCSRF{r}"),
                cart_count: format!("chosoCART{r}"),
            },
        }
    }

    pub fn marks(&self) -> &Marks {
        &self.marks
    }

    /// Where a key's page is kept: keys are `shop|theme|language|base|page`.
    fn map_for(&self, key: &str) -> &Pages {
        if key
            .split('|')
            .nth(4)
            .is_some_and(|p| p.starts_with("search:"))
        {
            &self.searches
        } else {
            &self.pages
        }
    }

    /// The page stored under `key` if it was made at `version`.
    pub fn get(&self, key: &str, version: Version) -> Option<Arc<Page>> {
        let pages = self.map_for(key).read().ok()?;
        let (v, html) = pages.get(key)?;
        (*v == version).then(|| html.clone())
    }

    /// Stores a page rendered with the marks, made from data read at `version` or later.
    pub fn put(&self, key: String, version: Version, html: Arc<Page>) {
        if let Ok(mut m) = self.map_for(&key).write() {
            m.insert(key, (version, html));
        }
    }

    /// A page rendered with the marks, split at them.
    pub fn page(&self, html: String) -> Page {
        let m = &self.marks;
        let mut holes: Vec<(usize, usize, Hole)> = [
            (&m.nonce, Hole::Nonce),
            (&m.csrf, Hole::Csrf),
            (&m.cart_count, Hole::CartCount),
        ]
        .into_iter()
        .flat_map(|(mark, hole)| {
            html.match_indices(mark.as_str())
                .map(move |(at, _)| (at, at + mark.len(), hole))
        })
        .collect();
        holes.sort_unstable_by_key(|h| h.0);
        Page { html, holes }
    }
}

/// Where a visitor's value goes in a kept page.
#[derive(Debug, Clone, Copy)]
enum Hole {
    Nonce,
    Csrf,
    CartCount,
}

/// A page as rendered with the marks, and where they are.
pub struct Page {
    html: String,
    holes: Vec<(usize, usize, Hole)>,
}

impl Page {
    /// The page with the visitor's values in place of the marks.
    pub fn fill(&self, nonce: &str, csrf: &str, cart_count: i64) -> String {
        let count = cart_count.to_string();
        let mut out = String::with_capacity(self.html.len() + 64);
        let mut at = 0;
        for (start, end, hole) in &self.holes {
            out.push_str(&self.html[at..*start]);
            out.push_str(match hole {
                Hole::Nonce => nonce,
                Hole::Csrf => csrf,
                Hole::CartCount => &count,
            });
            at = *end;
        }
        out.push_str(&self.html[at..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_versions_and_fill_marks() {
        let c = PageCache::new(1 << 20);
        let m = c.marks().clone();
        let html = format!(
            "<style nonce=\"{}\"></style><input value=\"{}\"><b>{}</b><i>{}</i>",
            m.nonce, m.csrf, m.cart_count, m.nonce
        );
        c.put("k".into(), (0, 1), Arc::new(c.page(html)));
        assert!(c.get("k", (0, 2)).is_none());
        let got = c.get("k", (0, 1)).expect("stored");
        assert_eq!(
            got.fill("N1", "C1", 3),
            "<style nonce=\"N1\"></style><input value=\"C1\"><b>3</b><i>N1</i>"
        );
        assert_eq!(c.page("no marks".into()).fill("N", "C", 0), "no marks");
        assert_ne!(PageCache::new(1 << 20).marks().csrf, m.csrf);
    }

    #[test]
    fn a_flood_of_searches_drops_only_search_pages() {
        let c = PageCache::new(64 << 10);
        let page = |c: &PageCache| Arc::new(c.page("x".repeat(1000)));
        c.put("s|warm|vi|/s/a|product:banh".into(), (0, 1), page(&c));
        c.put("s|warm|vi|/s/a|home".into(), (0, 1), page(&c));
        for i in 0..1000 {
            c.put(format!("s|warm|vi|/s/a|search:q{i}|x"), (0, 1), page(&c));
        }
        assert!(c.get("s|warm|vi|/s/a|product:banh", (0, 1)).is_some());
        assert!(c.get("s|warm|vi|/s/a|home", (0, 1)).is_some());
        assert!(c.get("s|warm|vi|/s/a|search:q999|x", (0, 1)).is_some());
        assert!(
            (0..1000)
                .filter(|i| c
                    .get(&format!("s|warm|vi|/s/a|search:q{i}|x"), (0, 1))
                    .is_some())
                .count()
                < 20,
            "searches keep to their quarter (16 KiB)"
        );
    }
}
