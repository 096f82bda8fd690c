//! A map bounded in bytes, for the caches of public answers (`graphql_cache`,
//! `storefront::page_cache`): each entry's size is given by the cache, and an insert that
//! would pass the budget first drops about half the entries (arbitrary ones: a hash map's
//! order), so a cache keeps serving its hot half instead of starting again empty. An entry
//! larger than the whole budget is not kept.

use std::{borrow::Borrow, collections::HashMap, hash::Hash};

pub struct BoundedMap<K, V> {
    map: HashMap<K, V>,
    bytes: usize,
    max_bytes: usize,
    size: fn(&K, &V) -> usize,
}

impl<K: Eq + Hash, V> BoundedMap<K, V> {
    /// An empty map of at most `max_bytes`, entries measured by `size`.
    pub fn new(max_bytes: usize, size: fn(&K, &V) -> usize) -> Self {
        BoundedMap {
            map: HashMap::new(),
            bytes: 0,
            max_bytes,
            size,
        }
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.map.get(key)
    }

    pub fn insert(&mut self, key: K, value: V) {
        if let Some(old) = self.map.remove(&key) {
            self.bytes -= (self.size)(&key, &old);
        }
        let size = (self.size)(&key, &value);
        if size > self.max_bytes {
            // Larger than the whole budget (a budget of 0 keeps nothing).
            return;
        }
        if self.bytes + size > self.max_bytes {
            let mut keep = false;
            self.map.retain(|_, _| {
                keep = !keep;
                keep
            });
            let measure = self.size;
            self.bytes = self.map.iter().map(|(k, v)| measure(k, v)).sum();
        }
        self.map.insert(key, value);
        self.bytes += size;
    }

    /// The bytes held, as the entries' sizes add up.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_its_budget_and_keeps_about_half() {
        let mut m: BoundedMap<u32, String> = BoundedMap::new(1_000, |_, v| v.len());
        for i in 0..100u32 {
            m.insert(i, "x".repeat(50));
            assert!(m.bytes() <= 1_000, "{} bytes after {i}", m.bytes());
        }
        assert!(m.get(&99).is_some(), "the newest entry is kept");
        let kept = (0..100u32).filter(|i| m.get(i).is_some()).count();
        assert!((5..=20).contains(&kept), "{kept} kept");
        // Replacing an entry counts only its new size, and drops nothing else.
        let before = m.bytes();
        m.insert(99, "y".repeat(10));
        assert_eq!(m.bytes(), before - 40);
        assert_eq!((0..100u32).filter(|i| m.get(i).is_some()).count(), kept);
    }

    #[test]
    fn keeps_nothing_larger_than_its_budget() {
        let mut m: BoundedMap<u32, String> = BoundedMap::new(100, |_, v| v.len());
        m.insert(1, "x".repeat(60));
        m.insert(2, "x".repeat(101));
        assert!(m.get(&2).is_none());
        assert!(m.get(&1).is_some(), "a refused entry drops nothing");
        // Replacing an entry with one too large removes the old one.
        m.insert(1, "x".repeat(101));
        assert!(m.get(&1).is_none());
        assert_eq!(m.bytes(), 0);
        let mut none: BoundedMap<u32, String> = BoundedMap::new(0, |_, v| v.len());
        none.insert(1, "x".to_string());
        assert!(none.get(&1).is_none());
    }
}
