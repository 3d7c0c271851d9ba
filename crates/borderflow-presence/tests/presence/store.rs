//! The store refuses a foreign key and a foreign binding, adds each delivery's files beside the
//! others', removes a delivery killed before its commit, records the contents it took, and
//! forgets exactly the days before the date retention is given.

use std::fs;
use std::path::{Path, PathBuf};

use borderflow_core::DateWindow;
use borderflow_presence::{
    DeliveredFile, Delivery, DeliveryState, PresenceStore, StoreBinding, StoreError, segment_file,
};

fn day(root: &std::path::Path, date: &str, file: &str, content: &str) {
    let d = root.join(format!("local_date={date}"));
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join(file), content).unwrap();
}

fn delivery(id: &str, sha: &str, window: (i32, i32)) -> Delivery {
    Delivery {
        id: id.into(),
        state: DeliveryState::Pending,
        files: vec![DeliveredFile {
            sha256: sha.into(),
            size: 10,
            name: format!("{id}.csv"),
            window: DateWindow::from_range(window.0, window.1),
            dates: Some((window.0 + 1, window.1 + 5)),
        }],
    }
}

#[test]
fn a_store_refuses_a_run_with_another_key() {
    let dir = tempfile::tempdir().unwrap();
    PresenceStore::open(dir.path(), "aaaa").unwrap();
    PresenceStore::open(dir.path(), "aaaa").unwrap();
    day(
        dir.path(),
        "2025-03-01",
        "part-0.parquet",
        "pseudonyms of aaaa",
    );
    let err = PresenceStore::open(dir.path(), "bbbb").unwrap_err();
    assert!(matches!(err, StoreError::KeyMismatch { .. }));
    assert!(err.to_string().contains("fingerprint aaaa"), "{err}");
}

#[test]
fn no_directory_or_an_empty_one_is_no_store_yet_but_days_without_a_description_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("presence");
    assert!(PresenceStore::existing_if_any(&dir).unwrap().is_none());
    // A first run killed between making the directory and describing it.
    fs::create_dir_all(&dir).unwrap();
    assert!(PresenceStore::existing_if_any(&dir).unwrap().is_none());
    PresenceStore::open(&dir, "aaaa").unwrap();
    let (_, fingerprint) = PresenceStore::existing_if_any(&dir).unwrap().unwrap();
    assert_eq!(fingerprint, "aaaa");
    // Days whose description is lost are never taken for an empty store.
    day(&dir, "2025-03-01", "part-0.parquet", "pseudonyms of aaaa");
    fs::remove_file(dir.join("store.json")).unwrap();
    let err = PresenceStore::existing_if_any(&dir).unwrap_err();
    assert!(matches!(err, StoreError::MetaMissing { .. }), "{err}");
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
    day(
        dir.path(),
        "2025-03-01",
        "part-0.parquet",
        "pseudonyms of bbbb",
    );
    assert!(PresenceStore::open(dir.path(), "aaaa").is_err());
}

#[test]
fn a_delivery_adds_its_files_beside_the_others_and_never_replaces_a_day() {
    let root = tempfile::tempdir().unwrap();
    let store = PresenceStore::open(&root.path().join("presence"), "k").unwrap();
    for (id, dates) in [
        ("a", ["2025-03-01", "2025-03-02"]),
        ("b", ["2025-03-02", "2025-03-03"]),
    ] {
        let staging = root.path().join(format!("s-{id}"));
        for d in dates {
            day(&staging, d, &segment_file(id), id);
        }
        store.begin(delivery(id, id, (0, 10))).unwrap();
        let added = store.add_from(&staging).unwrap();
        assert_eq!(added.len(), 2);
        // Every file left the staging directory, whether its date was new to the store
        // (the staged directory taken whole) or already held (the file moved beside).
        let left: Vec<_> = walk_files(&staging);
        assert!(left.is_empty(), "{left:?}");
        store.commit(id).unwrap();
    }
    let files = |d: &str| {
        let mut v: Vec<String> = fs::read_dir(store.dir().join(format!("local_date={d}")))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(files("2025-03-01"), ["part-a.parquet"]);
    assert_eq!(files("2025-03-02"), ["part-a.parquet", "part-b.parquet"]);
    assert_eq!(files("2025-03-03"), ["part-b.parquet"]);
    // Both contents are taken for the windows they were read under.
    let register = store.register().unwrap();
    assert_eq!(register.files.len(), 2);
    assert_eq!(register.files["a"].covered.ranges(), &[(0, 10)]);
    assert!(
        register
            .deliveries
            .iter()
            .all(|d| d.state == DeliveryState::Committed)
    );
}

#[test]
fn a_delivery_killed_before_its_commit_is_removed_whole_by_the_next_run() {
    let root = tempfile::tempdir().unwrap();
    let store = PresenceStore::open(&root.path().join("presence"), "k").unwrap();
    let staging = root.path().join("s1");
    day(&staging, "2025-03-01", &segment_file("a"), "a");
    store.begin(delivery("a", "sha-a", (0, 10))).unwrap();
    store.add_from(&staging).unwrap();
    store.commit("a").unwrap();
    // The second delivery moved in a file, then the run died before committing.
    let staging = root.path().join("s2");
    day(&staging, "2025-03-01", &segment_file("b"), "b");
    day(&staging, "2025-03-05", &segment_file("b"), "b");
    store.begin(delivery("b", "sha-b", (0, 10))).unwrap();
    store.add_from(&staging).unwrap();
    assert_eq!(store.roll_back().unwrap(), 1);
    assert_eq!(store.dates().unwrap(), ["2025-03-01".parse().unwrap()]);
    assert!(
        store
            .dir()
            .join("local_date=2025-03-01/part-a.parquet")
            .exists()
    );
    assert!(
        !store
            .dir()
            .join("local_date=2025-03-01/part-b.parquet")
            .exists()
    );
    // Its content is not taken: the next delivery of it reads it again.
    let register = store.register().unwrap();
    assert!(!register.files.contains_key("sha-b"));
    assert_eq!(register.deliveries.len(), 1);
    assert_eq!(store.roll_back().unwrap(), 0);
}

#[test]
fn a_content_is_read_again_only_for_dates_it_has_rows_on_and_was_not_read_for() {
    let root = tempfile::tempdir().unwrap();
    let store = PresenceStore::open(&root.path().join("presence"), "k").unwrap();
    // Read for days 0–10; its rows lie on days 1–15.
    store.begin(delivery("a", "sha-a", (0, 10))).unwrap();
    store.commit("a").unwrap();
    let taken = &store.register().unwrap().files["sha-a"];
    assert!(
        taken
            .still_to_give(&DateWindow::from_range(0, 10))
            .is_empty()
    );
    assert_eq!(
        taken.still_to_give(&DateWindow::from_range(5, 40)).ranges(),
        &[(11, 15)]
    );
    assert!(
        taken
            .still_to_give(&DateWindow::from_range(16, 40))
            .is_empty()
    );
}

#[test]
fn retention_removes_exactly_the_days_before_the_date_given() {
    let root = tempfile::tempdir().unwrap();
    let store = PresenceStore::open(&root.path().join("presence"), "k").unwrap();
    let staging = root.path().join("s");
    for d in ["2024-12-30", "2024-12-31", "2025-01-01", "2099-12-31"] {
        day(&staging, d, "part-x.parquet", "x");
    }
    store.add_from(&staging).unwrap();
    // A date far in the future moves nothing: retention counts from the date it is given.
    let removed = store.retain_from("2025-01-01".parse().unwrap()).unwrap();
    assert_eq!(
        removed,
        ["2024-12-30".parse().unwrap(), "2024-12-31".parse().unwrap()]
    );
    assert_eq!(
        store.dates().unwrap(),
        ["2025-01-01".parse().unwrap(), "2099-12-31".parse().unwrap()]
    );
}

#[test]
fn a_store_is_bound_to_one_country_operator_and_ledger() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("presence");
    let store = PresenceStore::open(&dir, "k").unwrap();
    let ken = StoreBinding {
        measuring_country: "KEN".into(),
        operator_plmns: vec!["63902".into()],
        ledger: None,
    };
    store.bind(&ken).unwrap();
    // The ledger is recorded once it exists; the same binding passes.
    let with_ledger = StoreBinding {
        ledger: Some("production-1".into()),
        ..ken.clone()
    };
    store.bind(&with_ledger).unwrap();
    PresenceStore::check_binding(&dir, &with_ledger).unwrap();
    PresenceStore::check_binding(&dir, &ken).unwrap();
    let uga = StoreBinding {
        measuring_country: "UGA".into(),
        ..with_ledger.clone()
    };
    let err = PresenceStore::check_binding(&dir, &uga).unwrap_err();
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
    let other_ledger = StoreBinding {
        ledger: Some("production-2".into()),
        ..with_ledger
    };
    let err = PresenceStore::check_binding(&dir, &other_ledger).unwrap_err();
    assert!(matches!(err, StoreError::ForeignLedger { .. }), "{err}");
    assert_eq!(
        PresenceStore::binding_at(&dir)
            .unwrap()
            .unwrap()
            .ledger
            .as_deref(),
        Some("production-1")
    );
}

/// Every file under `dir`, at any depth.
fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}
