//! The release ledger: a SQLite database in the state directory holding each dataset's privacy
//! budget per calendar year and every release's cost, inputs digest, outputs digest and status.
//!
//! A release goes **reserve → write → commit**. [`Ledger::reserve`] debits the cost in one
//! immediate transaction (so two processes cannot both spend the last of a budget), refuses a
//! release that would exceed the budget, and returns an already-published release instead of
//! reserving it again (the same release is never noised twice). After the release directory
//! is in place, [`Ledger::commit`] records its outputs digest. A reservation left behind by a
//! crash is found by [`Ledger::pending`] and settled by the next run: committed when its
//! release was completely published, aborted (its cost returned) when nothing was.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::sampler::Ratio;

/// Why the ledger refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The release would spend more than is left of the year's budget.
    #[error(
        "privacy budget exceeded for dataset {dataset}, {year}: this release needs ρ = {requested}, {spent} of ρ = {budget} is spent, {remaining} remains; nothing was published (raise privacy.annual_rho, lower the release's ρ, or wait for next year)"
    )]
    OverBudget {
        /// The dataset.
        dataset: String,
        /// The budget's calendar year.
        year: i32,
        /// ρ the release needs.
        requested: f64,
        /// ρ already spent that year.
        spent: f64,
        /// The year's budget.
        budget: f64,
        /// What is left of it.
        remaining: f64,
    },
    /// The pipeline's budget differs from the one the ledger already holds for that year.
    #[error(
        "the ledger holds a budget of ρ = {ledger} for dataset {dataset}, {year}, but the pipeline says ρ = {pipeline}; a year's budget is fixed once set"
    )]
    BudgetChanged {
        /// The dataset.
        dataset: String,
        /// The budget's calendar year.
        year: i32,
        /// The budget the ledger holds.
        ledger: String,
        /// The budget the pipeline asks for.
        pipeline: String,
    },
    /// A release of this (dataset, period, table) was reserved and not settled.
    #[error(
        "release {dataset}/{period}/{table} is reserved by an earlier run that did not finish; it is settled at the start of the next run"
    )]
    Pending {
        /// The dataset.
        dataset: String,
        /// The period.
        period: String,
        /// The table.
        table: String,
    },
    /// The database failed or holds something unreadable.
    #[error("ledger {path}: {message}")]
    Database {
        /// The ledger file.
        path: String,
        /// What SQLite said, or what is unreadable.
        message: String,
    },
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRecord {
    /// Ledger id.
    pub id: i64,
    /// Dataset.
    pub dataset: String,
    /// Calendar year whose budget paid.
    pub year: i32,
    /// Reference period (`2025`, `2025-07`).
    pub period: String,
    /// Table name.
    pub table: String,
    /// Cost in ρ (exact).
    pub rho: Ratio,
    /// Digest of the inputs (classified facts and configuration).
    pub inputs_digest: String,
    /// Digest of the published files, once committed.
    pub outputs_digest: Option<String>,
    /// `reserved`, `published` or `aborted`.
    pub status: String,
    /// Whether the noise came from the OS (false: test mode, NOT FOR PUBLICATION).
    pub for_publication: bool,
}

/// What [`Ledger::reserve`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The cost is debited; write the release, then commit this id.
    Reserved(i64),
    /// The release exists already: return it as it is, never noise it again.
    AlreadyPublished(ReleaseRecord),
}

/// A request to spend budget on one table of one release.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The dataset.
    pub dataset: &'a str,
    /// The calendar year whose budget pays.
    pub year: i32,
    /// The reference period (`2025`, `2025-07`).
    pub period: &'a str,
    /// The table.
    pub table: &'a str,
    /// Its exact cost.
    pub rho: &'a Ratio,
    /// Digest of the facts it is computed from.
    pub inputs_digest: &'a str,
    /// False for a test release (seeded noise).
    pub for_publication: bool,
}

/// The ledger database.
pub struct Ledger {
    conn: Connection,
    path: String,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS budgets (
    dataset TEXT NOT NULL,
    year INTEGER NOT NULL,
    rho TEXT NOT NULL,
    created TEXT NOT NULL,
    PRIMARY KEY (dataset, year)
);
CREATE TABLE IF NOT EXISTS releases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset TEXT NOT NULL,
    year INTEGER NOT NULL,
    period TEXT NOT NULL,
    tbl TEXT NOT NULL,
    rho TEXT NOT NULL,
    inputs_digest TEXT NOT NULL,
    outputs_digest TEXT,
    status TEXT NOT NULL CHECK (status IN ('reserved', 'published', 'aborted')),
    for_publication INTEGER NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_live_release
    ON releases (dataset, period, tbl) WHERE status IN ('reserved', 'published');
";

fn now() -> String {
    // Seconds since the epoch, UTC: enough for an audit trail, no time-zone ambiguity.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{secs}")
}

impl Ledger {
    /// Opens (or creates) the ledger at `path`. Writers wait up to 30 s for each other.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let name = path.display().to_string();
        let db = |e: rusqlite::Error| LedgerError::Database {
            path: name.clone(),
            message: e.to_string(),
        };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(Self { conn, path: name })
    }

    fn db(&self, e: rusqlite::Error) -> LedgerError {
        LedgerError::Database {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    fn ratio(&self, text: &str) -> Result<Ratio, LedgerError> {
        ratio_at(&self.path, text)
    }

    /// The budget of `dataset` for `year`: the ledger's, or `configured` recorded now when the
    /// year has none yet. A configured value that differs from the ledger's is refused.
    pub fn budget(
        &mut self,
        dataset: &str,
        year: i32,
        configured: &Ratio,
    ) -> Result<Ratio, LedgerError> {
        let path = self.path.clone();
        let db = db_at(&path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&db)?;
        let held: Option<String> = tx
            .query_row(
                "SELECT rho FROM budgets WHERE dataset = ?1 AND year = ?2",
                params![dataset, year],
                |r| r.get(0),
            )
            .optional()
            .map_err(&db)?;
        let budget = match held {
            Some(text) => {
                let b = ratio_at(&path, &text)?;
                if &b != configured {
                    return Err(LedgerError::BudgetChanged {
                        dataset: dataset.into(),
                        year,
                        ledger: format!("{}", b.to_f64()),
                        pipeline: format!("{}", configured.to_f64()),
                    });
                }
                b
            }
            None => {
                tx.execute(
                    "INSERT INTO budgets (dataset, year, rho, created) VALUES (?1, ?2, ?3, ?4)",
                    params![dataset, year, configured.to_fraction(), now()],
                )
                .map_err(&db)?;
                configured.clone()
            }
        };
        tx.commit().map_err(&db)?;
        Ok(budget)
    }

    /// ρ spent (reserved or published) by `dataset` in `year`.
    pub fn spent(&self, dataset: &str, year: i32) -> Result<Ratio, LedgerError> {
        spent_in(&self.conn, dataset, year)
            .map_err(|e| self.db(e))?
            .iter()
            .try_fold(Ratio::new(0u32, 1u32).expect("zero"), |acc, t| {
                Ok(acc.add(&self.ratio(t)?))
            })
    }

    /// Debits `req.rho` from the year's budget for a new release, or returns the release
    /// already published. Refuses when the budget would be exceeded or the release is pending.
    pub fn reserve(&mut self, req: &Request, budget: &Ratio) -> Result<Reservation, LedgerError> {
        let path = self.path.clone();
        let db = db_at(&path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&db)?;
        let live: Option<ReleaseRecord> = tx
            .query_row(
                "SELECT id, dataset, year, period, tbl, rho, inputs_digest, outputs_digest, status, for_publication
                 FROM releases WHERE dataset = ?1 AND period = ?2 AND tbl = ?3
                 AND status IN ('reserved', 'published')",
                params![req.dataset, req.period, req.table],
                row_to_record,
            )
            .optional()
            .map_err(&db)?
            .transpose()
            .map_err(|m| LedgerError::Database {
                path: path.clone(),
                message: m,
            })?;
        match live {
            Some(r) if r.status == "published" => return Ok(Reservation::AlreadyPublished(r)),
            Some(_) => {
                return Err(LedgerError::Pending {
                    dataset: req.dataset.into(),
                    period: req.period.into(),
                    table: req.table.into(),
                });
            }
            None => {}
        }
        let mut spent = Ratio::new(0u32, 1u32).expect("zero");
        for t in spent_in(&tx, req.dataset, req.year).map_err(&db)? {
            spent = spent.add(&ratio_at(&path, &t)?);
        }
        let after = spent.add(req.rho);
        if &after > budget {
            return Err(LedgerError::OverBudget {
                dataset: req.dataset.into(),
                year: req.year,
                requested: req.rho.to_f64(),
                spent: spent.to_f64(),
                budget: budget.to_f64(),
                remaining: budget.checked_sub(&spent).map_or(0.0, |r| r.to_f64()),
            });
        }
        let t = now();
        tx.execute(
            "INSERT INTO releases (dataset, year, period, tbl, rho, inputs_digest, status, for_publication, created, updated)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'reserved', ?7, ?8, ?8)",
            params![
                req.dataset,
                req.year,
                req.period,
                req.table,
                req.rho.to_fraction(),
                req.inputs_digest,
                req.for_publication,
                t
            ],
        )
        .map_err(&db)?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(&db)?;
        Ok(Reservation::Reserved(id))
    }

    /// Marks a reserved release published, with the digest of what was published.
    pub fn commit(&mut self, id: i64, outputs_digest: &str) -> Result<(), LedgerError> {
        self.settle(id, "published", Some(outputs_digest))
    }

    /// Marks a reserved release aborted: nothing of it was published, its cost is returned.
    pub fn abort(&mut self, id: i64) -> Result<(), LedgerError> {
        self.settle(id, "aborted", None)
    }

    fn settle(&mut self, id: i64, status: &str, digest: Option<&str>) -> Result<(), LedgerError> {
        let n = self
            .conn
            .execute(
                "UPDATE releases SET status = ?1, outputs_digest = ?2, updated = ?3
                 WHERE id = ?4 AND status = 'reserved'",
                params![status, digest, now(), id],
            )
            .map_err(|e| self.db(e))?;
        if n != 1 {
            return Err(LedgerError::Database {
                path: self.path.clone(),
                message: format!("release {id} is not reserved"),
            });
        }
        Ok(())
    }

    /// Releases reserved and not settled (a run crashed between reserve and commit).
    pub fn pending(&self, dataset: &str) -> Result<Vec<ReleaseRecord>, LedgerError> {
        self.select(
            "WHERE dataset = ?1 AND status = 'reserved' ORDER BY id",
            dataset,
        )
    }

    /// Every release of `dataset`, oldest first.
    pub fn releases(&self, dataset: &str) -> Result<Vec<ReleaseRecord>, LedgerError> {
        self.select("WHERE dataset = ?1 ORDER BY id", dataset)
    }

    /// The budgets recorded for `dataset`: (year, ρ).
    pub fn budgets(&self, dataset: &str) -> Result<Vec<(i32, Ratio)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare("SELECT year, rho FROM budgets WHERE dataset = ?1 ORDER BY year")
            .map_err(|e| self.db(e))?;
        let rows: Vec<(i32, String)> = stmt
            .query_map(params![dataset], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.db(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.db(e))?;
        rows.into_iter()
            .map(|(y, t)| Ok((y, self.ratio(&t)?)))
            .collect()
    }

    fn select(&self, clause: &str, dataset: &str) -> Result<Vec<ReleaseRecord>, LedgerError> {
        let sql = format!(
            "SELECT id, dataset, year, period, tbl, rho, inputs_digest, outputs_digest, status, for_publication
             FROM releases {clause}"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.db(e))?;
        let rows = stmt
            .query_map(params![dataset], row_to_record)
            .map_err(|e| self.db(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.db(e))?;
        rows.into_iter()
            .map(|r| {
                r.map_err(|m| LedgerError::Database {
                    path: self.path.clone(),
                    message: m,
                })
            })
            .collect()
    }
}

fn ratio_at(path: &str, text: &str) -> Result<Ratio, LedgerError> {
    Ratio::from_fraction(text).map_err(|e| LedgerError::Database {
        path: path.to_string(),
        message: format!("unreadable ρ {text:?}: {e}"),
    })
}

fn db_at(path: &str) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
    move |e| LedgerError::Database {
        path: path.to_string(),
        message: e.to_string(),
    }
}

fn spent_in(conn: &Connection, dataset: &str, year: i32) -> Result<Vec<String>, rusqlite::Error> {
    let mut stmt = conn.prepare(
        "SELECT rho FROM releases WHERE dataset = ?1 AND year = ?2
         AND status IN ('reserved', 'published')",
    )?;
    stmt.query_map(params![dataset, year], |r| r.get(0))?
        .collect()
}

type RecordResult = Result<ReleaseRecord, String>;

fn row_to_record(r: &rusqlite::Row) -> Result<RecordResult, rusqlite::Error> {
    let rho: String = r.get(5)?;
    Ok(Ratio::from_fraction(&rho)
        .map_err(|e| format!("unreadable ρ {rho:?}: {e}"))
        .and_then(|rho| {
            Ok(ReleaseRecord {
                id: r.get(0).map_err(|e| e.to_string())?,
                dataset: r.get(1).map_err(|e| e.to_string())?,
                year: r.get(2).map_err(|e| e.to_string())?,
                period: r.get(3).map_err(|e| e.to_string())?,
                table: r.get(4).map_err(|e| e.to_string())?,
                rho,
                inputs_digest: r.get(6).map_err(|e| e.to_string())?,
                outputs_digest: r.get(7).map_err(|e| e.to_string())?,
                status: r.get(8).map_err(|e| e.to_string())?,
                for_publication: r.get(9).map_err(|e| e.to_string())?,
            })
        }))
}
