//! The store refuses a foreign key, replaces whole days, and forgets days past the look-back.

use std::fs;

use borderflow_presence::{PresenceStore, StoreError};

fn day(root: &std::path::Path, date: &str, content: &str) {
    let d = root.join(format!("local_date={date}"));
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("part-0.parquet"), content).unwrap();
}

#[test]
fn a_store_refuses_a_run_with_another_key() {
    let dir = tempfile::tempdir().unwrap();
    PresenceStore::open(dir.path(), "aaaa").unwrap();
    PresenceStore::open(dir.path(), "aaaa").unwrap();
    day(dir.path(), "2025-03-01", "pseudonyms of aaaa");
    let err = PresenceStore::open(dir.path(), "bbbb").unwrap_err();
    assert!(matches!(err, StoreError::KeyMismatch { .. }));
    assert!(err.to_string().contains("fingerprint aaaa"), "{err}");
}

#[test]
fn a_store_that_never_held_a_day_takes_the_next_runs_key() {
    // A first run that failed before writing a day leaves a store bound to its key; nothing
    // can be mixed yet, so a run with another key is not refused.
    let dir = tempfile::tempdir().unwrap();
    PresenceStore::open(dir.path(), "aaaa").unwrap();
    PresenceStore::open(dir.path(), "bbbb").unwrap();
    let (_, fingerprint) = PresenceStore::existing(dir.path()).unwrap();
    assert_eq!(fingerprint, "bbbb");
    day(dir.path(), "2025-03-01", "pseudonyms of bbbb");
    assert!(PresenceStore::open(dir.path(), "aaaa").is_err());
}

#[test]
fn reingesting_a_date_replaces_its_partition_whole() {
    let root = tempfile::tempdir().unwrap();
    let store = PresenceStore::open(&root.path().join("presence"), "k").unwrap();
    let staging = root.path().join("s1");
    day(&staging, "2025-03-01", "first");
    day(&staging, "2025-03-02", "first");
    store.replace_from(&staging).unwrap();
    let staging = root.path().join("s2");
    day(&staging, "2025-03-02", "second");
    let replaced = store.replace_from(&staging).unwrap();
    assert_eq!(replaced, ["2025-03-02".parse().unwrap()]);
    let read = |d: &str| {
        fs::read_to_string(store.dir().join(format!("local_date={d}/part-0.parquet"))).unwrap()
    };
    assert_eq!(read("2025-03-01"), "first");
    assert_eq!(read("2025-03-02"), "second");
    // Nothing but the partitions and the stamp remain.
    let mut names: Vec<_> = fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "local_date=2025-03-01",
            "local_date=2025-03-02",
            "store.json"
        ]
    );
}

#[test]
fn retention_keeps_exactly_the_lookback_window() {
    let root = tempfile::tempdir().unwrap();
    let store = PresenceStore::open(&root.path().join("presence"), "k").unwrap();
    let staging = root.path().join("s");
    for d in ["2024-12-30", "2024-12-31", "2025-01-01", "2025-12-31"] {
        day(&staging, d, "x");
    }
    store.replace_from(&staging).unwrap();
    // 365 days ending 2025-12-31 start on 2025-01-01.
    let removed = store.retain(365).unwrap();
    assert_eq!(
        removed,
        ["2024-12-30".parse().unwrap(), "2024-12-31".parse().unwrap()]
    );
    assert_eq!(
        store.dates().unwrap(),
        ["2025-01-01".parse().unwrap(), "2025-12-31".parse().unwrap()]
    );
}
