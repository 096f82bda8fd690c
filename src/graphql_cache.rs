//! A cache of public GraphQL answers: anonymous, single queries whose every root field is
//! `shop(slug:)` (the storefront's catalog reads). An answer is stored with the content
//! versions of the shops it read (`choso_graphql::Touched`) and served, byte for byte, only
//! while those versions are unchanged (`choso_services::versions`): any member action on a
//! shop or an order changing its stock moves its version, here and — on PostgreSQL — in every
//! other process. Keys are the exact request bodies. Answers with errors, answers that read
//! no shop (e.g. an unknown slug) and large answers are not stored.

use std::{
    collections::HashMap,
    sync::{Mutex, RwLock},
};

use async_graphql::parser::{
    parse_query,
    types::{OperationType, Selection},
};
use axum::body::Bytes;
use choso_services::versions::{Version, Versions};

use crate::bounded_map::BoundedMap;

/// At most this many bytes of requests and answers are kept; when full, about half the
/// entries (arbitrary ones) are dropped.
const MAX_BYTES: usize = 16 * 1024 * 1024;
/// At most this many verdicts on requests are kept; when full, the map starts again empty.
const MAX_VERDICTS: usize = 20_000;
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
    /// Whether a request body is cacheable at all (parsed once per distinct body).
    verdicts: Mutex<HashMap<Bytes, bool>>,
}

impl Default for GraphqlCache {
    fn default() -> Self {
        GraphqlCache {
            entries: RwLock::new(BoundedMap::new(MAX_BYTES, Entry::size)),
            verdicts: Mutex::new(HashMap::new()),
        }
    }
}

impl GraphqlCache {
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
    /// root fields are all `shop` (or `__typename`).
    pub fn cacheable(&self, request: &Bytes) -> bool {
        if let Some(v) = self
            .verdicts
            .lock()
            .ok()
            .and_then(|m| m.get(request).copied())
        {
            return v;
        }
        let verdict = judge(request);
        if let Ok(mut m) = self.verdicts.lock() {
            if m.len() >= MAX_VERDICTS {
                m.clear();
            }
            // A copy: the request's bytes may be a view into the connection's read buffer.
            m.insert(Bytes::copy_from_slice(request), verdict);
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

fn judge(request: &Bytes) -> bool {
    #[derive(serde::Deserialize)]
    struct Req {
        query: String,
        #[serde(rename = "operationName")]
        operation_name: Option<String>,
    }
    let Ok(req) = serde_json::from_slice::<Req>(request) else {
        return false;
    };
    let Ok(doc) = parse_query(&req.query) else {
        return false;
    };
    let mut ops = doc.operations.iter();
    let op = match (&req.operation_name, ops.next(), ops.next()) {
        (_, Some((_, op)), None) => op,
        (Some(name), _, _) => match doc
            .operations
            .iter()
            .find(|(n, _)| n.map(|n| n.as_str()) == Some(name.as_str()))
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

    #[test]
    fn only_public_shop_queries_are_cacheable() {
        let c = GraphqlCache::default();
        assert!(c.cacheable(&body("{ shop(slug: \"a\") { name } }")));
        assert!(c.cacheable(&body(
            "query Q($s: String!) { shop(slug: $s) { products(first: 20) { edges { node { title } } } } }"
        )));
        assert!(!c.cacheable(&body("{ me { email } }")));
        assert!(!c.cacheable(&body("{ shop(slug: \"a\") { name } me { email } }")));
        assert!(!c.cacheable(&body(
            "mutation { createShop(input: {name: \"x\"}) { shop { id } } }"
        )));
        assert!(!c.cacheable(&body("{ ...F } fragment F on Query { me { id } }")));
        assert!(!c.cacheable(&body("{ shop(slug: \"a\") @include(if: true) { name } }")));
        assert!(!c.cacheable(&Bytes::from_static(b"not json")));
        assert!(!c.cacheable(&body("{ shop(")));
    }

    #[test]
    fn entries_follow_versions() {
        let c = GraphqlCache::default();
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
