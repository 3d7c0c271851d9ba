//! The ledger's discipline: budgets, refusal over budget, no release noised twice, crash
//! reconciliation and concurrent writers.

use std::path::Path;
use std::sync::{Arc, Barrier};

use borderflow_privacy::{Ledger, LedgerError, Ratio, Request, Reservation};

fn r(x: &str) -> Ratio {
    Ratio::from_decimal(x).unwrap()
}

fn request<'a>(table: &'a str, period: &'a str, rho: &'a Ratio) -> Request<'a> {
    Request {
        dataset: "ken",
        year: 2025,
        period,
        table,
        rho,
        inputs_digest: "in-1",
        for_publication: true,
    }
}

fn open(dir: &Path) -> Ledger {
    Ledger::open(&dir.join("ledger.sqlite")).unwrap()
}

#[test]
fn releases_spend_the_budget_and_are_refused_beyond_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = open(dir.path());
    let budget = l.budget("ken", 2025, &r("0.25")).unwrap();
    let (a, b) = (r("0.1"), r("0.1"));
    let Reservation::Reserved(id) = l
        .reserve(&request("categories", "2025", &a), &budget)
        .unwrap()
    else {
        panic!("expected a reservation");
    };
    l.commit(id, "out-1").unwrap();
    let Reservation::Reserved(id2) = l
        .reserve(&request("crossings", "2025", &b), &budget)
        .unwrap()
    else {
        panic!("expected a reservation");
    };
    l.commit(id2, "out-2").unwrap();
    assert_eq!(l.spent("ken", 2025).unwrap(), r("0.2"));
    // 0.2 + 0.1 > 0.25: refused with the numbers, nothing recorded.
    let c = r("0.1");
    let err = l
        .reserve(&request("categories", "2025-07", &c), &budget)
        .unwrap_err();
    assert!(matches!(err, LedgerError::OverBudget { .. }));
    assert_eq!(
        err.to_string(),
        "privacy budget exceeded for dataset ken, 2025: this release needs ρ = 0.1, 0.2 of ρ = 0.25 is spent, 0.05 remains; nothing was published (raise privacy.annual_rho, lower the release's ρ, or wait for next year)"
    );
    assert_eq!(l.releases("ken").unwrap().len(), 2);
    // Exactly what is left still fits.
    let d = r("0.05");
    assert!(matches!(
        l.reserve(&request("categories", "2025-07", &d), &budget)
            .unwrap(),
        Reservation::Reserved(_)
    ));
    // Another year has its own budget.
    let mut other = request("categories", "2026", &c);
    other.year = 2026;
    let b26 = l.budget("ken", 2026, &r("0.25")).unwrap();
    assert!(matches!(
        l.reserve(&other, &b26).unwrap(),
        Reservation::Reserved(_)
    ));
}

#[test]
fn a_published_release_is_returned_not_reserved_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = open(dir.path());
    let budget = l.budget("ken", 2025, &r("0.25")).unwrap();
    let rho = r("0.1");
    let Reservation::Reserved(id) = l
        .reserve(&request("categories", "2025", &rho), &budget)
        .unwrap()
    else {
        panic!()
    };
    l.commit(id, "out-1").unwrap();
    for _ in 0..3 {
        match l
            .reserve(&request("categories", "2025", &rho), &budget)
            .unwrap()
        {
            Reservation::AlreadyPublished(rec) => {
                assert_eq!(rec.id, id);
                assert_eq!(rec.outputs_digest.as_deref(), Some("out-1"));
                assert_eq!(rec.status, "published");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(l.spent("ken", 2025).unwrap(), rho, "one debit only");
}

#[test]
fn a_crash_between_reserve_and_commit_is_settled_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let rho = r("0.1");
    let id = {
        let mut l = open(dir.path());
        let budget = l.budget("ken", 2025, &r("0.25")).unwrap();
        match l
            .reserve(&request("categories", "2025", &rho), &budget)
            .unwrap()
        {
            Reservation::Reserved(id) => id,
            other => panic!("{other:?}"),
        }
        // The process dies here: the ledger is dropped with the reservation open.
    };
    let mut l = open(dir.path());
    let budget = l.budget("ken", 2025, &r("0.25")).unwrap();
    let pending = l.pending("ken").unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, id);
    assert_eq!(
        l.spent("ken", 2025).unwrap(),
        rho,
        "a reservation holds its cost"
    );
    // Until settled, the same release cannot be reserved again.
    assert!(matches!(
        l.reserve(&request("categories", "2025", &rho), &budget)
            .unwrap_err(),
        LedgerError::Pending { .. }
    ));
    // Nothing was published: abort returns the cost, and the release can be made afresh.
    l.abort(id).unwrap();
    assert!(l.pending("ken").unwrap().is_empty());
    assert_eq!(l.spent("ken", 2025).unwrap(), r("0"));
    assert!(matches!(
        l.reserve(&request("categories", "2025", &rho), &budget)
            .unwrap(),
        Reservation::Reserved(_)
    ));
    // Settling twice is an error, not a silent change.
    assert!(l.abort(id).is_err());
}

#[test]
fn a_years_budget_is_fixed_once_set() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = open(dir.path());
    l.budget("ken", 2025, &r("0.25")).unwrap();
    let err = l.budget("ken", 2025, &r("0.5")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the ledger holds a budget of ρ = 0.25 for dataset ken, 2025, but the pipeline says ρ = 0.5; a year's budget is fixed once set"
    );
    assert_eq!(l.budgets("ken").unwrap(), vec![(2025, r("0.25"))]);
}

#[test]
fn concurrent_reservations_never_overspend() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path()).budget("ken", 2025, &r("0.25")).unwrap();
    // Eight writers, each with its own connection, race for a budget that fits two.
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let path = dir.path().to_path_buf();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut l = open(&path);
                let budget = r("0.25");
                let rho = r("0.1");
                let period = format!("2025-{:02}", i + 1);
                barrier.wait();
                l.reserve(&request("categories", &period, &rho), &budget)
                    .map(|res| matches!(res, Reservation::Reserved(_)))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let won = results.iter().filter(|r| matches!(r, Ok(true))).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(LedgerError::OverBudget { .. })))
        .count();
    assert_eq!((won, refused), (2, 6), "{results:?}");
    assert_eq!(open(dir.path()).spent("ken", 2025).unwrap(), r("0.2"));
}

/// Environment variable that turns [`reserve_in_a_child_process`] into a ledger writer.
const CHILD: &str = "BORDERFLOW_LEDGER_TEST_CHILD";

/// A helper, not a test of its own: run by [`separate_processes_never_overspend`] as a child
/// process (this test binary, filtered to this test), it reserves one release and prints the
/// outcome. It is ignored in a normal run and started with `--ignored` by the parent.
#[test]
#[ignore = "helper process of separate_processes_never_overspend, not a test of its own"]
fn reserve_in_a_child_process() {
    let spec = std::env::var(CHILD).expect("started by separate_processes_never_overspend");
    let (dir, period) = spec.split_once('|').unwrap();
    let dir = Path::new(dir);
    let mut l = open(dir);
    // Start together: wait for the parent's signal.
    while !dir.join("go").exists() {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let rho = r("0.1");
    match l.reserve(&request("categories", period, &rho), &r("0.25")) {
        Ok(Reservation::Reserved(_)) => println!("outcome: reserved"),
        Err(LedgerError::OverBudget { .. }) => println!("outcome: refused"),
        other => println!("outcome: {other:?}"),
    }
}

#[test]
fn separate_processes_never_overspend() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path()).budget("ken", 2025, &r("0.25")).unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|i| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "reserve_in_a_child_process",
                    "--ignored",
                    "--nocapture",
                ])
                .env(CHILD, format!("{}|2025-{:02}", dir.path().display(), i + 1))
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    std::fs::write(dir.path().join("go"), b"").unwrap();
    let mut outcomes: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success());
            let text = String::from_utf8(out.stdout).unwrap();
            text.lines()
                .find_map(|l| l.strip_prefix("outcome: "))
                .unwrap_or("none")
                .to_string()
        })
        .collect();
    outcomes.sort();
    assert_eq!(outcomes, ["refused", "refused", "reserved", "reserved"]);
    assert_eq!(open(dir.path()).spent("ken", 2025).unwrap(), r("0.2"));
}
