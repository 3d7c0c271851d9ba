//! The release ledger: one SQLite database per store (state directory) holding the privacy
//! budget of every calendar year of data, every release's cost, what each release charged to
//! each year, and the noisy values each release drew.
//!
//! The unit of privacy is one SIM's data in one calendar year (docs/privacy.md). A release
//! reads a window of days; it is charged, in one transaction, to **every calendar year its
//! window reads**, whatever its dataset name or period length: budgets belong to the data,
//! not to a pipeline file.
//!
//! A release goes **reserved → sampled → published**:
//!
//! 1. [`Ledger::reserve`] debits each table's cost from every year it reads, in one immediate
//!    transaction (two processes cannot both spend the last of a budget), and refuses a
//!    release that would exceed any year's budget. A table whose query was already answered
//!    (same query digest, noise at least as small) reuses those noisy values at no cost.
//! 2. [`Ledger::mark_sampled`] is written **before any noise is drawn**. From then on the
//!    cost is never refunded: only a reservation that never reached `sampled` is aborted.
//! 3. [`Ledger::store_draws`] keeps the noisy values, so a run retried after a crash
//!    republishes the same values instead of noising the data a second time.
//! 4. [`Ledger::commit`] records the outputs digest once the release is in place.
//!
//! A store is created either for production or as a test store ([`StoreKind`]); seeded
//! (reproducible) noise is accepted only in a test store, and a test store never publishes
//! for real.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use borderflow_core::TableId;

use crate::sampler::Ratio;

/// ρ as a person reads it: at most six significant digits, so a sum of decimal costs shows
/// as the decimal it is (0.02, not 0.01999999999999999).
pub fn rho_text(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (5 - v.abs().log10().floor() as i32).clamp(0, 17) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Why the ledger refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The release would spend more than is left of a data year's budget.
    #[error(
        "privacy budget exceeded for data year {year}: release {dataset}/{period} needs ρ = {}, {} of ρ = {} is spent, {} remains; nothing was published (raise privacy.annual_rho before the year's first release, lower the release's ρ, or release less often)",
        rho_text(*requested), rho_text(*spent), rho_text(*budget), rho_text(*remaining)
    )]
    OverBudget {
        /// The release's dataset.
        dataset: String,
        /// The release's period.
        period: String,
        /// The data year whose budget would be exceeded.
        year: i32,
        /// ρ the release needs from that year.
        requested: f64,
        /// ρ already spent from that year.
        spent: f64,
        /// The year's budget.
        budget: f64,
        /// What is left of it.
        remaining: f64,
    },
    /// The pipeline's budget differs from the one the ledger already holds for that year.
    #[error(
        "the ledger holds a budget of ρ = {ledger} for data year {year}, but the pipeline says ρ = {pipeline}; a year's budget is fixed once set"
    )]
    BudgetChanged {
        /// The data year.
        year: i32,
        /// The budget the ledger holds.
        ledger: String,
        /// The budget the pipeline asks for.
        pipeline: String,
    },
    /// The store is a test store and the run is for publication, or the other way round.
    #[error("{0}")]
    StoreKind(String),
    /// A release's stored noisy values do not fit its table.
    #[error(
        "ledger: the stored noisy values of release #{id} hold {held} cells, its table has {expected}"
    )]
    DrawsMismatch {
        /// Ledger id of the release.
        id: i64,
        /// Cells stored.
        held: usize,
        /// Cells the table has.
        expected: usize,
    },
    /// The database failed or holds something unreadable.
    #[error("ledger {}: {source}", path.display())]
    Database {
        /// The ledger file.
        path: PathBuf,
        /// What SQLite said (its own error), or what is unreadable.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// What a store is for, fixed when its ledger is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// Noise from the operating system only; releases are for publication.
    Production,
    /// Seeded noise allowed; nothing it releases is for publication.
    Test,
}

impl StoreKind {
    fn as_str(self) -> &'static str {
        match self {
            StoreKind::Production => "production",
            StoreKind::Test => "test",
        }
    }
}

/// The status of one release table in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Cost debited, no noise drawn yet: a crash here is aborted and refunded.
    Reserved,
    /// Noise is being or was drawn: the cost is spent for good.
    Sampled,
    /// In place, with its outputs digest.
    Published,
    /// Reserved and never sampled: refunded.
    Aborted,
    /// Sampled and never published, replaced by a different query: the cost stays spent.
    Withdrawn,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Reserved => "reserved",
            Status::Sampled => "sampled",
            Status::Published => "published",
            Status::Aborted => "aborted",
            Status::Withdrawn => "withdrawn",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "reserved" => Status::Reserved,
            "sampled" => Status::Sampled,
            "published" => Status::Published,
            "aborted" => Status::Aborted,
            "withdrawn" => Status::Withdrawn,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One table of one release, as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRecord {
    /// Ledger id.
    pub id: i64,
    /// Dataset (a label: budgets do not depend on it).
    pub dataset: String,
    /// Reference period (`2025`, `2025-07`).
    pub period: String,
    /// Table name.
    pub table: String,
    /// Digest of the query: what is counted, over which window of which data.
    pub query_digest: String,
    /// Cost charged to each data year the window reads (zero when the noise was reused).
    pub rho: Ratio,
    /// The noise's variance parameter σ² (exact).
    pub sigma2: Ratio,
    /// Squared L2 sensitivity the cost was computed with.
    pub delta_sq: u32,
    /// The data years charged.
    pub years: Vec<i32>,
    /// The release whose noisy values this one reuses, if any.
    pub reused_from: Option<i64>,
    /// Digest of the published files, once committed.
    pub outputs_digest: Option<String>,
    /// Where it stands.
    pub status: Status,
    /// Whether the noise came from the OS (false: test store, NOT FOR PUBLICATION).
    pub for_publication: bool,
}

/// One table of a release asking for budget.
#[derive(Debug, Clone)]
pub struct TableRequest<'a> {
    /// The table (stored by its name).
    pub table: TableId,
    /// Digest of its query (table, window, rules, code lists, data read).
    pub query_digest: &'a str,
    /// Its exact cost per data year read.
    pub rho: Ratio,
    /// Its noise's variance parameter σ².
    pub sigma2: Ratio,
    /// Its squared L2 sensitivity under the unit of privacy.
    pub delta_sq: u32,
    /// How many cells it noises.
    pub cells: usize,
}

/// A release asking for budget: all its tables at once.
#[derive(Debug, Clone)]
pub struct ReleaseRequest<'a> {
    /// The dataset label.
    pub dataset: &'a str,
    /// The reference period.
    pub period: &'a str,
    /// Every calendar year of data the release's window reads.
    pub years: Vec<i32>,
    /// The configured budget per data year (fixed in the ledger at a year's first release).
    pub budget: Ratio,
    /// The noised tables.
    pub tables: Vec<TableRequest<'a>>,
    /// False for a test release (seeded noise).
    pub for_publication: bool,
}

/// One table of a reserved release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedTable {
    /// Ledger id.
    pub id: i64,
    /// The table.
    pub table: TableId,
    /// Noisy values already drawn for this query (resumed or reused): publish these, draw
    /// nothing.
    pub draws: Option<Vec<i64>>,
    /// The release whose noisy values are reused, if any.
    pub reused_from: Option<i64>,
    /// The σ² of the values to publish: the request's, or the reused release's (no larger).
    pub sigma2: Ratio,
}

/// What [`Ledger::reserve`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The cost is debited (or nothing was due); mark sampled, draw what is missing, write,
    /// commit.
    Reserved(Vec<ReservedTable>),
    /// The release exists already: return it as it is, never noise it again.
    AlreadyPublished(Vec<ReleaseRecord>),
}

/// What one release charged to one data year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// Ledger id of the release table.
    pub release: i64,
    /// The data year.
    pub year: i32,
    /// ρ charged.
    pub rho: Ratio,
}

/// The ledger database.
pub struct Ledger {
    conn: Connection,
    path: String,
}

/// Version of the schema below (SQLite `user_version`).
pub const SCHEMA_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS store (
    kind TEXT NOT NULL CHECK (kind IN ('production', 'test')),
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS budgets (
    year INTEGER PRIMARY KEY,
    rho TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS releases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset TEXT NOT NULL,
    period TEXT NOT NULL,
    tbl TEXT NOT NULL,
    query_digest TEXT NOT NULL,
    rho TEXT NOT NULL,
    sigma2 TEXT NOT NULL,
    delta_sq INTEGER NOT NULL,
    reused_from INTEGER REFERENCES releases (id),
    outputs_digest TEXT,
    status TEXT NOT NULL
        CHECK (status IN ('reserved', 'sampled', 'published', 'aborted', 'withdrawn')),
    for_publication INTEGER NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_live_release
    ON releases (dataset, period, tbl) WHERE status IN ('reserved', 'sampled', 'published');
CREATE TABLE IF NOT EXISTS charges (
    release INTEGER NOT NULL REFERENCES releases (id),
    year INTEGER NOT NULL,
    rho TEXT NOT NULL,
    PRIMARY KEY (release, year)
);
CREATE TABLE IF NOT EXISTS draws (
    release INTEGER PRIMARY KEY REFERENCES releases (id),
    cells INTEGER NOT NULL,
    noisy BLOB NOT NULL
);
";

const RECORD_COLUMNS: &str = "id, dataset, period, tbl, query_digest, rho, sigma2, delta_sq, \
     reused_from, outputs_digest, status, for_publication";

fn now() -> String {
    // Seconds since the epoch, UTC: enough for an audit trail, no time-zone ambiguity.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{secs}")
}

fn zero() -> Ratio {
    Ratio::new(0u32, 1u32).expect("zero")
}

impl Ledger {
    /// Opens the ledger at `path`, creating it as a `kind` store when no file is there. An
    /// existing store of the other kind is refused: seeded noise never reaches a production
    /// store, and a test store never publishes for real. A file that is there but holds no
    /// ledger (empty, truncated, another database) is refused too, never taken for a new
    /// store: the releases it accounted for would be published again.
    pub fn open(path: &Path, kind: StoreKind) -> Result<Self, LedgerError> {
        if !path.exists() {
            Self::create(path, kind)?;
        }
        let ledger = Self::open_existing(path)?;
        match ledger.kind_held()? {
            Some(k) if k == kind => Ok(ledger),
            Some(StoreKind::Production) => Err(LedgerError::StoreKind(
                "this state directory is a production store: a test seed is refused here (create a test store: a fresh state directory whose first release uses --test-seed)".into(),
            )),
            Some(StoreKind::Test) => Err(LedgerError::StoreKind(
                "this state directory is a test store: it never publishes for real (run without --test-seed from a fresh state directory)".into(),
            )),
            None => unreachable!("open_existing refuses a ledger without a store kind"),
        }
    }

    /// Creates a ledger of `kind` at `path` in one step: built beside it under a temporary
    /// name and renamed into place, so a crash leaves either no ledger or a whole one.
    fn create(path: &Path, kind: StoreKind) -> Result<(), LedgerError> {
        let fail = |message: String| LedgerError::Database {
            path: path.to_path_buf(),
            source: message.into(),
        };
        let tmp = path.with_extension(format!("creating-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        {
            let conn = Connection::open(&tmp).map_err(|e| fail(e.to_string()))?;
            // A rollback journal while it is built: the file alone is the whole ledger.
            conn.execute_batch(SCHEMA)
                .map_err(|e| fail(e.to_string()))?;
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(|e| fail(e.to_string()))?;
            conn.execute(
                "INSERT INTO store (kind, created) VALUES (?1, ?2)",
                params![kind.as_str(), now()],
            )
            .map_err(|e| fail(e.to_string()))?;
        }
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| fail(e.to_string()))?;
        if let Some(dir) = path.parent() {
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }

    /// Opens an existing ledger of either kind, to read it. A file that holds no ledger is
    /// refused with what to do.
    pub fn open_existing(path: &Path) -> Result<Self, LedgerError> {
        let not_a_ledger = |what: &str| {
            LedgerError::Database {
            path: path.to_path_buf(),
            source: format!(
                "{what}: this is not a borderflow ledger; restore the ledger from a backup (docs/operations.md), never start a store over it — the releases it accounted for would be charged and published again"
            )
            .into(),
        }
        };
        match std::fs::metadata(path) {
            Err(_) => return Err(not_a_ledger("no such file")),
            Ok(m) if m.len() == 0 => return Err(not_a_ledger("the file is empty")),
            Ok(_) => {}
        }
        let ledger = Self::connect(path)?;
        if ledger.kind_held()?.is_none() {
            return Err(not_a_ledger("no store is recorded in it"));
        }
        Ok(ledger)
    }

    fn connect(path: &Path) -> Result<Self, LedgerError> {
        let db = |e: rusqlite::Error| LedgerError::Database {
            path: path.to_path_buf(),
            source: e.into(),
        };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(db)?;
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .map_err(db)?;
        if tables == 0 {
            return Err(LedgerError::Database {
                path: path.to_path_buf(),
                source: "holds no tables: this is not a borderflow ledger; restore the ledger from a backup (docs/operations.md), never start a store over it — the releases it accounted for would be charged and published again".into(),
            });
        }
        if version != SCHEMA_VERSION {
            return Err(LedgerError::Database {
                path: path.to_path_buf(),
                source: format!(
                    "schema version {version}, this borderflow reads version {SCHEMA_VERSION} (budgets per data year); keep this ledger with the releases it accounts for and start a new state directory"
                )
                .into(),
            });
        }
        conn.execute_batch(SCHEMA).map_err(db)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(db)?;
        Ok(Self {
            conn,
            path: path.display().to_string(),
        })
    }

    fn kind_held(&self) -> Result<Option<StoreKind>, LedgerError> {
        let kind: Option<String> = self
            .conn
            .query_row("SELECT kind FROM store LIMIT 1", [], |r| r.get(0))
            .optional()
            .map_err(|e| self.db(e))?;
        Ok(kind.map(|k| {
            if k == "test" {
                StoreKind::Test
            } else {
                StoreKind::Production
            }
        }))
    }

    /// Who this ledger is: its kind and the second it was created
    /// (`production-1764864000`). The presence store records it at its first run, so a ledger
    /// restored from another store, or made anew, is told from the store's own.
    pub fn identity(&self) -> Result<String, LedgerError> {
        let (kind, created): (String, String) = self
            .conn
            .query_row("SELECT kind, created FROM store LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(|e| self.db(e))?;
        Ok(format!("{kind}-{created}"))
    }

    /// What the store is for.
    pub fn kind(&self) -> Result<StoreKind, LedgerError> {
        Ok(self.kind_held()?.unwrap_or(StoreKind::Production))
    }

    fn db(&self, e: rusqlite::Error) -> LedgerError {
        db_at(&self.path)(e)
    }

    /// The budget of data year `year`: the ledger's, or `configured` recorded now when the
    /// year has none yet. A configured value that differs from the ledger's is refused.
    pub fn budget(&mut self, year: i32, configured: &Ratio) -> Result<Ratio, LedgerError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_at(&path))?;
        let b = budget_in(&tx, &path, year, configured)?;
        tx.commit().map_err(db_at(&path))?;
        Ok(b)
    }

    /// Refuses, without reserving or recording anything, a release of `dataset`/`period`
    /// costing `cost` on each data year of `years` that [`Ledger::reserve`] would refuse were
    /// none of its noise reusable: a `configured` budget other than the one a year holds, or
    /// more than is left of one. The same exact arithmetic as `reserve`.
    pub fn check_cost(
        &self,
        dataset: &str,
        period: &str,
        years: &[i32],
        configured: &Ratio,
        cost: &Ratio,
    ) -> Result<(), LedgerError> {
        for &year in years {
            let budget = held_budget(&self.conn, &self.path, year, configured)?
                .unwrap_or_else(|| configured.clone());
            let spent = self.spent(year)?;
            refuse_over_budget(dataset, period, year, cost, &spent, &budget)?;
        }
        Ok(())
    }

    /// Refuses a `configured` budget other than the one a year of `years` holds (a year's
    /// budget is fixed at its first release); records nothing.
    pub fn check_budget_fixed(&self, years: &[i32], configured: &Ratio) -> Result<(), LedgerError> {
        for &year in years {
            held_budget(&self.conn, &self.path, year, configured)?;
        }
        Ok(())
    }

    /// ρ spent from data year `year` (by releases reserved, sampled, published or withdrawn).
    pub fn spent(&self, year: i32) -> Result<Ratio, LedgerError> {
        spent_in(&self.conn, &self.path, year)
    }

    /// Reserves a release: resumes its sampled tables, reuses the noisy values of identical
    /// queries, and debits the cost of the rest from every data year the release reads, in
    /// one transaction. Refuses when any year's budget would be exceeded; returns the release
    /// as published when it is.
    pub fn reserve(&mut self, req: &ReleaseRequest) -> Result<Reservation, LedgerError> {
        let path = self.path.clone();
        let db = db_at(&path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&db)?;
        let live = select_in(
            &tx,
            &path,
            "WHERE dataset = ?1 AND period = ?2 AND status IN ('reserved', 'sampled', 'published') ORDER BY id",
            params![req.dataset, req.period],
        )?;
        if live.iter().any(|r| r.status == Status::Published) {
            return Ok(Reservation::AlreadyPublished(
                live.into_iter()
                    .filter(|r| r.status == Status::Published)
                    .collect(),
            ));
        }
        let mut out = Vec::new();
        let mut due = Vec::new();
        for t in &req.tables {
            let old = live.iter().find(|r| r.table == t.table.name());
            if let Some(r) = old {
                // Never sampled: no noise exists, the cost is returned. Sampled: the cost is
                // spent; the same query resumes from its draws, another one withdraws it.
                let resumes = r.status == Status::Sampled
                    && r.query_digest == t.query_digest
                    && (r.sigma2 == t.sigma2 || (r.reused_from.is_some() && r.sigma2 <= t.sigma2))
                    && r.for_publication == req.for_publication;
                if resumes {
                    let draws = draws_in(&tx, &path, r.reused_from.unwrap_or(r.id))?;
                    out.push(ReservedTable {
                        id: r.id,
                        table: t.table,
                        draws,
                        reused_from: r.reused_from,
                        sigma2: r.sigma2.clone(),
                    });
                    continue;
                }
                let status = if r.status == Status::Reserved {
                    Status::Aborted
                } else {
                    Status::Withdrawn
                };
                set_status(&tx, &path, r.id, status)?;
            }
            match reusable(&tx, &path, t, req.for_publication)? {
                Some((from, sigma2, draws)) => {
                    let mut actual = t.clone();
                    actual.sigma2 = sigma2.clone();
                    let id = insert_release(
                        &tx,
                        &path,
                        req,
                        &actual,
                        &zero(),
                        Status::Sampled,
                        Some(from),
                    )?;
                    out.push(ReservedTable {
                        id,
                        table: t.table,
                        draws: Some(draws),
                        reused_from: Some(from),
                        sigma2,
                    });
                }
                None => due.push(t),
            }
        }
        let cost = due.iter().fold(zero(), |a, t| a.add(&t.rho));
        for &year in &req.years {
            let budget = budget_in(&tx, &path, year, &req.budget)?;
            let spent = spent_in(&tx, &path, year)?;
            refuse_over_budget(req.dataset, req.period, year, &cost, &spent, &budget)?;
        }
        for t in due {
            let id = insert_release(&tx, &path, req, t, &t.rho, Status::Reserved, None)?;
            for &year in &req.years {
                tx.execute(
                    "INSERT INTO charges (release, year, rho) VALUES (?1, ?2, ?3)",
                    params![id, year, t.rho.to_fraction()],
                )
                .map_err(&db)?;
            }
            out.push(ReservedTable {
                id,
                table: t.table,
                draws: None,
                reused_from: None,
                sigma2: t.sigma2.clone(),
            });
        }
        tx.commit().map_err(&db)?;
        Ok(Reservation::Reserved(out))
    }

    /// Marks reserved tables sampled. Called before any noise is drawn: from here on their
    /// cost is never refunded. Tables already sampled are left as they are.
    pub fn mark_sampled(&mut self, ids: &[i64]) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(db_at(&path))?;
        for &id in ids {
            tx.execute(
                "UPDATE releases SET status = 'sampled', updated = ?1 WHERE id = ?2 AND status = 'reserved'",
                params![now(), id],
            )
            .map_err(db_at(&path))?;
        }
        tx.commit().map_err(db_at(&path))
    }

    /// Keeps the noisy values a sampled table drew, so a retry publishes the same values.
    pub fn store_draws(&mut self, id: i64, noisy: &[i64]) -> Result<(), LedgerError> {
        self.store_all_draws(&[(id, noisy)])
    }

    /// Keeps the noisy values of several sampled tables in one transaction: a crash keeps all
    /// of them or none. (None kept means none left the process either, so a retry may draw
    /// them again under the charge already made.)
    pub fn store_all_draws(&mut self, tables: &[(i64, &[i64])]) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let db = db_at(&path);
        let tx = self.conn.transaction().map_err(&db)?;
        for (id, noisy) in tables {
            let blob: Vec<u8> = noisy.iter().flat_map(|v| v.to_le_bytes()).collect();
            let n = tx
                .execute(
                    "INSERT INTO draws (release, cells, noisy)
                     SELECT ?1, ?2, ?3 WHERE EXISTS
                       (SELECT 1 FROM releases WHERE id = ?1 AND status = 'sampled')",
                    params![id, noisy.len() as i64, blob],
                )
                .map_err(&db)?;
            if n != 1 {
                return Err(LedgerError::Database {
                    path: PathBuf::from(path.clone()),
                    source: format!("release {id} is not sampled").into(),
                });
            }
        }
        tx.commit().map_err(&db)
    }

    /// The noisy values a release table drew (or reuses), if stored.
    pub fn draws(&self, id: i64) -> Result<Option<Vec<i64>>, LedgerError> {
        let from: Option<i64> = self
            .conn
            .query_row(
                "SELECT reused_from FROM releases WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.db(e))?
            .flatten();
        draws_in(&self.conn, &self.path, from.unwrap_or(id))
    }

    /// Marks sampled tables published, with the digest of what was published.
    pub fn commit(&mut self, ids: &[i64], outputs_digest: &str) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(db_at(&path))?;
        for &id in ids {
            let n = tx
                .execute(
                    "UPDATE releases SET status = 'published', outputs_digest = ?1, updated = ?2
                     WHERE id = ?3 AND status = 'sampled'",
                    params![outputs_digest, now(), id],
                )
                .map_err(db_at(&path))?;
            if n != 1 {
                return Err(LedgerError::Database {
                    path: PathBuf::from(path),
                    source: format!("release {id} is not sampled").into(),
                });
            }
        }
        tx.commit().map_err(db_at(&path))
    }

    /// Aborts reserved tables that never reached `sampled`: no noise was drawn, the cost is
    /// returned. A sampled table is never aborted (its cost stays spent).
    pub fn abort(&mut self, ids: &[i64]) -> Result<usize, LedgerError> {
        let mut n = 0;
        for &id in ids {
            n += self
                .conn
                .execute(
                    "UPDATE releases SET status = 'aborted', updated = ?1 WHERE id = ?2 AND status = 'reserved'",
                    params![now(), id],
                )
                .map_err(|e| self.db(e))?;
        }
        Ok(n)
    }

    /// Release tables not yet published (a run stopped between reserve and commit).
    pub fn unfinished(&self) -> Result<Vec<ReleaseRecord>, LedgerError> {
        self.select(
            "WHERE status IN ('reserved', 'sampled') ORDER BY id",
            params![],
        )
    }

    /// One release table, by ledger id.
    pub fn release(&self, id: i64) -> Result<Option<ReleaseRecord>, LedgerError> {
        Ok(self
            .select("WHERE id = ?1", params![id])?
            .into_iter()
            .next())
    }

    /// The published tables of release `dataset`/`period`, if it is published.
    pub fn published(
        &self,
        dataset: &str,
        period: &str,
    ) -> Result<Vec<ReleaseRecord>, LedgerError> {
        self.select(
            "WHERE dataset = ?1 AND period = ?2 AND status = 'published' ORDER BY id",
            params![dataset, period],
        )
    }

    /// Every release table in the store, oldest first.
    pub fn releases(&self) -> Result<Vec<ReleaseRecord>, LedgerError> {
        self.select("ORDER BY id", params![])
    }

    /// Every charge to a data year, oldest first.
    pub fn charges(&self) -> Result<Vec<Charge>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT release, year, rho FROM charges ORDER BY release, year")
            .map_err(|e| self.db(e))?;
        let rows: Vec<(i64, i32, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.db(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.db(e))?;
        rows.into_iter()
            .map(|(release, year, t)| {
                Ok(Charge {
                    release,
                    year,
                    rho: ratio_at(&self.path, &t)?,
                })
            })
            .collect()
    }

    /// The budgets recorded: (data year, ρ).
    pub fn budgets(&self) -> Result<Vec<(i32, Ratio)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT year, rho FROM budgets ORDER BY year")
            .map_err(|e| self.db(e))?;
        let rows: Vec<(i32, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.db(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.db(e))?;
        rows.into_iter()
            .map(|(y, t)| Ok((y, ratio_at(&self.path, &t)?)))
            .collect()
    }

    fn select(
        &self,
        clause: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<ReleaseRecord>, LedgerError> {
        select_in(&self.conn, &self.path, clause, args)
    }
}

fn budget_in(
    tx: &Transaction,
    path: &str,
    year: i32,
    configured: &Ratio,
) -> Result<Ratio, LedgerError> {
    match held_budget(tx, path, year, configured)? {
        Some(b) => Ok(b),
        None => {
            tx.execute(
                "INSERT INTO budgets (year, rho, created) VALUES (?1, ?2, ?3)",
                params![year, configured.to_fraction(), now()],
            )
            .map_err(db_at(path))?;
            Ok(configured.clone())
        }
    }
}

/// The budget data year `year` holds, if any; a `configured` value other than it is refused.
fn held_budget(
    conn: &Connection,
    path: &str,
    year: i32,
    configured: &Ratio,
) -> Result<Option<Ratio>, LedgerError> {
    let held: Option<String> = conn
        .query_row(
            "SELECT rho FROM budgets WHERE year = ?1",
            params![year],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_at(path))?;
    let Some(text) = held else {
        return Ok(None);
    };
    let b = ratio_at(path, &text)?;
    if &b != configured {
        return Err(LedgerError::BudgetChanged {
            year,
            ledger: format!("{}", b.to_f64()),
            pipeline: format!("{}", configured.to_f64()),
        });
    }
    Ok(Some(b))
}

/// Refuses a cost that would take `spent` above `budget` in data year `year`.
fn refuse_over_budget(
    dataset: &str,
    period: &str,
    year: i32,
    cost: &Ratio,
    spent: &Ratio,
    budget: &Ratio,
) -> Result<(), LedgerError> {
    if spent.add(cost) > *budget {
        return Err(LedgerError::OverBudget {
            dataset: dataset.into(),
            period: period.into(),
            year,
            requested: cost.to_f64(),
            spent: spent.to_f64(),
            budget: budget.to_f64(),
            remaining: budget.checked_sub(spent).map_or(0.0, |r| r.to_f64()),
        });
    }
    Ok(())
}

fn spent_in(conn: &Connection, path: &str, year: i32) -> Result<Ratio, LedgerError> {
    let mut stmt = conn
        .prepare(
            "SELECT c.rho FROM charges c JOIN releases r ON r.id = c.release
             WHERE c.year = ?1 AND r.status <> 'aborted'",
        )
        .map_err(db_at(path))?;
    let texts: Vec<String> = stmt
        .query_map(params![year], |r| r.get(0))
        .map_err(db_at(path))?
        .collect::<Result<_, _>>()
        .map_err(db_at(path))?;
    texts
        .iter()
        .try_fold(zero(), |acc, t| Ok(acc.add(&ratio_at(path, t)?)))
}

/// A published or sampled release of the same query whose noise is no larger, with its
/// stored noisy values: the smallest such noise wins.
fn reusable(
    conn: &Connection,
    path: &str,
    t: &TableRequest,
    for_publication: bool,
) -> Result<Option<(i64, Ratio, Vec<i64>)>, LedgerError> {
    let candidates = select_in(
        conn,
        path,
        "WHERE query_digest = ?1 AND tbl = ?2 AND for_publication = ?3
         AND status IN ('sampled', 'published') AND reused_from IS NULL ORDER BY id",
        params![t.query_digest, t.table.name(), for_publication],
    )?;
    let mut best: Option<(Ratio, i64, Vec<i64>)> = None;
    for c in candidates {
        if c.sigma2 > t.sigma2 {
            continue;
        }
        let Some(draws) = draws_in(conn, path, c.id)? else {
            continue;
        };
        if draws.len() != t.cells {
            continue;
        }
        if best.as_ref().is_none_or(|(s, _, _)| c.sigma2 < *s) {
            best = Some((c.sigma2.clone(), c.id, draws));
        }
    }
    Ok(best.map(|(s, id, d)| (id, s, d)))
}

fn insert_release(
    tx: &Transaction,
    path: &str,
    req: &ReleaseRequest,
    t: &TableRequest,
    rho: &Ratio,
    status: Status,
    reused_from: Option<i64>,
) -> Result<i64, LedgerError> {
    let stamp = now();
    tx.execute(
        "INSERT INTO releases (dataset, period, tbl, query_digest, rho, sigma2, delta_sq,
             reused_from, status, for_publication, created, updated)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
        params![
            req.dataset,
            req.period,
            t.table.name(),
            t.query_digest,
            rho.to_fraction(),
            t.sigma2.to_fraction(),
            t.delta_sq,
            reused_from,
            status.as_str(),
            req.for_publication,
            stamp
        ],
    )
    .map_err(db_at(path))?;
    Ok(tx.last_insert_rowid())
}

fn set_status(conn: &Connection, path: &str, id: i64, status: Status) -> Result<(), LedgerError> {
    conn.execute(
        "UPDATE releases SET status = ?1, updated = ?2 WHERE id = ?3",
        params![status.as_str(), now(), id],
    )
    .map_err(db_at(path))?;
    Ok(())
}

fn draws_in(conn: &Connection, path: &str, id: i64) -> Result<Option<Vec<i64>>, LedgerError> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT cells, noisy FROM draws WHERE release = ?1",
            params![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db_at(path))?;
    let Some((cells, blob)) = row else {
        return Ok(None);
    };
    if blob.len() != cells as usize * 8 {
        return Err(LedgerError::DrawsMismatch {
            id,
            held: blob.len() / 8,
            expected: cells as usize,
        });
    }
    Ok(Some(
        blob.chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
    ))
}

fn ratio_at(path: &str, text: &str) -> Result<Ratio, LedgerError> {
    Ratio::from_fraction(text).map_err(|e| LedgerError::Database {
        path: PathBuf::from(path.to_string()),
        source: format!("unreadable ρ {text:?}: {e}").into(),
    })
}

fn db_at(path: &str) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
    move |e| LedgerError::Database {
        path: PathBuf::from(path.to_string()),
        source: e.into(),
    }
}

fn select_in(
    conn: &Connection,
    path: &str,
    clause: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<ReleaseRecord>, LedgerError> {
    let sql = format!("SELECT {RECORD_COLUMNS} FROM releases {clause}");
    let mut stmt = conn.prepare(&sql).map_err(db_at(path))?;
    let rows: Vec<RawRecord> = stmt
        .query_map(args, |r| {
            Ok(RawRecord {
                id: r.get(0)?,
                dataset: r.get(1)?,
                period: r.get(2)?,
                table: r.get(3)?,
                query_digest: r.get(4)?,
                rho: r.get(5)?,
                sigma2: r.get(6)?,
                delta_sq: r.get(7)?,
                reused_from: r.get(8)?,
                outputs_digest: r.get(9)?,
                status: r.get(10)?,
                for_publication: r.get(11)?,
            })
        })
        .map_err(db_at(path))?
        .collect::<Result<_, _>>()
        .map_err(db_at(path))?;
    let mut years = conn
        .prepare("SELECT year FROM charges WHERE release = ?1 ORDER BY year")
        .map_err(db_at(path))?;
    rows.into_iter()
        .map(|raw| {
            let charged: Vec<i32> = years
                .query_map(params![raw.id], |r| r.get(0))
                .map_err(db_at(path))?
                .collect::<Result<_, _>>()
                .map_err(db_at(path))?;
            Ok(ReleaseRecord {
                id: raw.id,
                dataset: raw.dataset,
                period: raw.period,
                table: raw.table,
                query_digest: raw.query_digest,
                rho: ratio_at(path, &raw.rho)?,
                sigma2: ratio_at(path, &raw.sigma2)?,
                delta_sq: raw.delta_sq,
                years: charged,
                reused_from: raw.reused_from,
                outputs_digest: raw.outputs_digest,
                status: Status::parse(&raw.status).ok_or_else(|| LedgerError::Database {
                    path: PathBuf::from(path.to_string()),
                    source: format!("unknown status {:?}", raw.status).into(),
                })?,
                for_publication: raw.for_publication,
            })
        })
        .collect()
}

struct RawRecord {
    id: i64,
    dataset: String,
    period: String,
    table: String,
    query_digest: String,
    rho: String,
    sigma2: String,
    delta_sq: u32,
    reused_from: Option<i64>,
    outputs_digest: Option<String>,
    status: String,
    for_publication: bool,
}

impl borderflow_core::FailureKind for LedgerError {
    fn failure(&self) -> borderflow_core::Failure {
        use borderflow_core::Failure;
        match self {
            LedgerError::OverBudget { .. } => Failure::Budget,
            LedgerError::BudgetChanged { .. } | LedgerError::StoreKind(_) => Failure::Config,
            LedgerError::DrawsMismatch { .. } | LedgerError::Database { .. } => Failure::State,
        }
    }
}
