//! Ordered sets and maps built by insertion.
//!
//! `collect()` and `From<[_; N]>` sort their items before building a tree,
//! and each item type sorted that way adds its own sort (2–8 KiB) to a module.

use std::collections::{BTreeMap, BTreeSet};

/// The distinct items, as `collect()` would give them.
pub fn set<T: Ord>(items: impl IntoIterator<Item = T>) -> BTreeSet<T> {
    let mut set = BTreeSet::new();
    set.extend(items);
    set
}

/// The entries by key, the last value of a repeated key winning, as
/// `collect()` would give them.
pub fn map<K: Ord, V>(entries: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, V> {
    let mut map = BTreeMap::new();
    map.extend(entries);
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::empty(&[])]
    #[case::one(&["a"])]
    #[case::unordered(&["c", "a", "b"])]
    #[case::repeated(&["b", "a", "b", "a"])]
    fn set_equals_collect(#[case] items: &[&str]) {
        let collected: BTreeSet<&str> = items.iter().copied().collect();
        assert_eq!(set(items.iter().copied()), collected);
    }

    #[rstest]
    #[case::empty(&[])]
    #[case::one(&[("a", 1)])]
    #[case::unordered(&[("c", 1), ("a", 2), ("b", 3)])]
    #[case::last_value_wins(&[("a", 1), ("b", 2), ("a", 3)])]
    fn map_equals_collect(#[case] entries: &[(&str, i32)]) {
        let collected: BTreeMap<&str, i32> = entries.iter().copied().collect();
        assert_eq!(map(entries.iter().copied()), collected);
    }
}
