//! A cache of public GraphQL answers: anonymous, single queries whose every root field is
//! `shop(slug:)` (the storefront's catalog reads). An answer is stored with the content
//! versions of the shops it read (`choso_graphql::Touched`) and served, byte for byte, only
//! while those versions are unchanged (`choso_services::versions`): any member action on a
//! shop or an order changing its stock moves its version, here and — on PostgreSQL — in every
//! other process. Keys are the exact request bodies. Answers with errors, answers that read
//! no shop (e.g. an unknown slug) and large answers are not stored.

use std::{
    borrow::Cow,
    sync::{Mutex, RwLock},
};

use async_graphql::parser::{
    parse_query,
    types::{OperationType, Selection},
};
use axum::body::Bytes;
use choso_services::versions::{Version, Versions};

use crate::bounded_map::BoundedMap;

/// At most this many bytes of verdicts on query texts are kept.
const MAX_VERDICT_BYTES: usize = 2 * 1024 * 1024;
/// Answers larger than this are not kept.
const MAX_BODY: usize = 256 * 1024;

struct Entry {
    body: Bytes,
    deps: Vec<(String, Version)>,
    requested: u64,
}

impl Entry {
    fn size(key: &Bytes, e: &Entry) -> usize {
        key.len() + e.body.len() + e.deps.iter().map(|(s, _)| s.len() + 32).sum::<usize>() + 96
    }
}

/// A stored answer: its body (a JSON object without `extensions`), the cost its document
/// requested, and the shops it read.
pub struct Hit {
    pub body: Bytes,
    pub requested: u64,
    pub shops: Vec<String>,
}

impl Hit {
    /// The body with `extensions` added (`extra` is a JSON object's text).
    pub fn with_extensions(&self, extra: &str) -> Bytes {
        let b = &self.body[..];
        match b.iter().rposition(|c| *c == b'}') {
            Some(end) => {
                let mut out = Vec::with_capacity(b.len() + extra.len() + 16);
                out.extend_from_slice(&b[..end]);
                out.extend_from_slice(b",\"extensions\":");
                out.extend_from_slice(extra.as_bytes());
                out.push(b'}');
                Bytes::from(out)
            }
            None => self.body.clone(),
        }
    }
}

/// The cache (one per process, in the app state).
pub struct GraphqlCache {
    entries: RwLock<BoundedMap<Bytes, Entry>>,
    /// Whether a query text (with its operation name) is cacheable at all: parsed once per
    /// distinct text, whatever the variables.
    verdicts: Mutex<BoundedMap<String, bool>>,
}

impl GraphqlCache {
    /// A cache keeping at most `max_bytes` of requests and answers; when full, about half the
    /// entries (arbitrary ones) are dropped.
    pub fn new(max_bytes: usize) -> Self {
        GraphqlCache {
            entries: RwLock::new(BoundedMap::new(max_bytes, Entry::size)),
            verdicts: Mutex::new(BoundedMap::new(MAX_VERDICT_BYTES, |k, _| k.len() + 32)),
        }
    }

    /// The stored answer for this request body, if every shop it read is unchanged.
    pub fn get(&self, versions: &Versions, request: &Bytes) -> Option<Hit> {
        let entries = self.entries.read().ok()?;
        let e = entries.get(request)?;
        e.deps
            .iter()
            .all(|(shop, v)| versions.current(shop) == *v)
            .then(|| Hit {
                body: e.body.clone(),
                requested: e.requested,
                shops: e.deps.iter().map(|(s, _)| s.clone()).collect(),
            })
    }

    /// Whether answers to this anonymous request may be stored: one operation, a query, whose
    /// root fields are all `shop` (or `__typename`). Decided once per query text and
    /// operation name, whatever the variables.
    pub fn cacheable(&self, query: &str, operation_name: Option<&str>) -> bool {
        let key: Cow<'_, str> = match operation_name {
            None => Cow::Borrowed(query),
            Some(name) => Cow::Owned(format!("{name}\n{query}")),
        };
        if let Some(v) = self
            .verdicts
            .lock()
            .ok()
            .and_then(|m| m.get(key.as_ref()).copied())
        {
            return v;
        }
        let verdict = judge(query, operation_name);
        if let Ok(mut m) = self.verdicts.lock() {
            m.insert(key.into_owned(), verdict);
        }
        verdict
    }

    /// Stores an answer with the versions of the shops it read, as they were before it read
    /// them (`before`): if one moved meanwhile, the entry is already stale and never served.
    pub fn put(&self, request: Bytes, body: Bytes, before: Vec<(String, Version)>, requested: u64) {
        if before.is_empty() || body.len() > MAX_BODY {
            return;
        }
        if let Ok(mut m) = self.entries.write() {
            m.insert(
                // Copies: the request's bytes may be a view into the connection's read buffer.
                Bytes::copy_from_slice(&request),
                Entry {
                    body: Bytes::copy_from_slice(&body),
                    deps: before,
                    requested,
                },
            );
        }
    }
}

fn judge(query: &str, operation_name: Option<&str>) -> bool {
    let Ok(doc) = parse_query(query) else {
        return false;
    };
    let mut ops = doc.operations.iter();
    let op = match (operation_name, ops.next(), ops.next()) {
        (_, Some((_, op)), None) => op,
        (Some(name), _, _) => match doc
            .operations
            .iter()
            .find(|(n, _)| n.map(|n| n.as_str()) == Some(name))
        {
            Some((_, op)) => op,
            None => return false,
        },
        _ => return false,
    };
    op.node.ty == OperationType::Query
        && !op.node.selection_set.node.items.is_empty()
        && op
            .node
            .selection_set
            .node
            .items
            .iter()
            .all(|s| match &s.node {
                Selection::Field(f) => {
                    let name = f.node.name.node.as_str();
                    (name == "shop" || name == "__typename") && f.node.directives.is_empty()
                }
                _ => false,
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(q: &str) -> Bytes {
        Bytes::from(serde_json::json!({ "query": q }).to_string())
    }

    fn cacheable(c: &GraphqlCache, q: &str) -> bool {
        c.cacheable(q, None)
    }

    #[test]
    fn only_public_shop_queries_are_cacheable() {
        let c = GraphqlCache::new(1 << 20);
        assert!(cacheable(&c, "{ shop(slug: \"a\") { name } }"));
        assert!(cacheable(
            &c,
            "query Q($s: String!) { shop(slug: $s) { products(first: 20) { edges { node { title } } } } }"
        ));
        assert!(!cacheable(&c, "{ me { email } }"));
        assert!(!cacheable(
            &c,
            "{ shop(slug: \"a\") { name } me { email } }"
        ));
        assert!(!cacheable(
            &c,
            "mutation { createShop(input: {name: \"x\"}) { shop { id } } }"
        ));
        assert!(!cacheable(&c, "{ ...F } fragment F on Query { me { id } }"));
        assert!(!cacheable(
            &c,
            "{ shop(slug: \"a\") @include(if: true) { name } }"
        ));
        assert!(!cacheable(&c, "{ shop("));
        // The operation name picks the operation; the verdict is kept per name.
        let two = "query A { shop(slug: \"a\") { name } } query B { me { email } }";
        assert!(!cacheable(&c, two), "two operations and no name");
        assert!(c.cacheable(two, Some("A")));
        assert!(!c.cacheable(two, Some("B")));
        assert!(c.cacheable(two, Some("A")), "kept verdict");
        assert!(!c.cacheable(two, Some("C")));
    }

    #[test]
    fn entries_follow_versions() {
        let c = GraphqlCache::new(1 << 20);
        let v = Versions::default();
        let req = body("{ shop(slug: \"a\") { name } }");
        c.put(
            req.clone(),
            Bytes::from_static(b"{\"data\":1}"),
            vec![("s1".to_string(), v.current("s1"))],
            7,
        );
        let hit = c.get(&v, &req).expect("stored");
        assert_eq!(&hit.body[..], b"{\"data\":1}");
        assert_eq!(
            &hit.with_extensions("{\"cost\":{}}")[..],
            b"{\"data\":1,\"extensions\":{\"cost\":{}}}"
        );
        v.bump("s2");
        assert!(c.get(&v, &req).is_some());
        v.bump("s1");
        assert!(c.get(&v, &req).is_none());
        // Nothing is stored for an answer that read no shop.
        c.put(req.clone(), Bytes::from_static(b"{}"), Vec::new(), 1);
        assert!(c.get(&v, &req).is_none());
    }
}
