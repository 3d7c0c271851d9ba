//! Reference periods: a calendar year or a calendar month.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;

/// A calendar year (`2025`) or month (`2025-07`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// A calendar year.
    Year(i32),
    /// A calendar month (year, 1–12).
    Month(i32, u32),
}

impl Period {
    /// First date of the period.
    pub fn first(&self) -> NaiveDate {
        match *self {
            Period::Year(y) => NaiveDate::from_ymd_opt(y, 1, 1).expect("valid year"),
            Period::Month(y, m) => NaiveDate::from_ymd_opt(y, m, 1).expect("valid month"),
        }
    }

    /// Last date of the period.
    pub fn last(&self) -> NaiveDate {
        match *self {
            Period::Year(y) => NaiveDate::from_ymd_opt(y, 12, 31).expect("valid year"),
            Period::Month(y, m) => {
                let next = if m == 12 {
                    NaiveDate::from_ymd_opt(y + 1, 1, 1)
                } else {
                    NaiveDate::from_ymd_opt(y, m + 1, 1)
                };
                next.expect("valid month")
                    .pred_opt()
                    .expect("has a day before")
            }
        }
    }

    /// The period a run means by `text` on `today`: `previous_month` and `previous_year` (the
    /// last complete calendar month or year, what a scheduled job releases), or a period as
    /// written (`2025`, `2025-07`) that ended before `today` — a period still running, or in
    /// the future, is refused before any input is read.
    pub fn resolve(text: &str, today: NaiveDate) -> Result<Period, PeriodError> {
        use chrono::Datelike;
        match text {
            "previous_year" => Ok(Period::Year(today.year() - 1)),
            "previous_month" => Ok(if today.month() == 1 {
                Period::Month(today.year() - 1, 12)
            } else {
                Period::Month(today.year(), today.month() - 1)
            }),
            other => {
                let period: Period = other.parse()?;
                if period.last() >= today {
                    return Err(PeriodError::NotEnded {
                        period: period.to_string(),
                        last: period.last(),
                        today,
                    });
                }
                Ok(period)
            }
        }
    }

    /// The period's dates as days since 1970-01-01, both ends included.
    pub fn day_range(&self) -> (i32, i32) {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        (
            (self.first() - epoch).num_days() as i32,
            (self.last() - epoch).num_days() as i32,
        )
    }
}

/// Why a text is not a period a run can release.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// The text is not a period.
    #[error(
        "period {0:?} is neither a year (2025) nor a month (2025-07), nor previous_year or previous_month"
    )]
    Malformed(String),
    /// The period has not ended yet: its statistics would change with every day still to come.
    #[error(
        "period {period} has not ended yet (its last day is {last}, today is {today}): a release covers a complete period"
    )]
    NotEnded {
        /// The period.
        period: String,
        /// Its last day.
        last: NaiveDate,
        /// The day the run started.
        today: NaiveDate,
    },
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PeriodError::Malformed(s.to_string());
        let year = |y: &str| -> Result<i32, PeriodError> {
            (y.len() == 4)
                .then(|| y.parse::<i32>().ok())
                .flatten()
                .filter(|y| (1970..=9999).contains(y))
                .ok_or_else(bad)
        };
        match s.split_once('-') {
            None => Ok(Period::Year(year(s)?)),
            Some((y, m)) => {
                let m: u32 = (m.len() == 2)
                    .then(|| m.parse().ok())
                    .flatten()
                    .ok_or_else(bad)?;
                if !(1..=12).contains(&m) {
                    return Err(bad());
                }
                Ok(Period::Month(year(y)?, m))
            }
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Year(y) => write!(f, "{y}"),
            Period::Month(y, m) => write!(f, "{y}-{m:02}"),
        }
    }
}

impl borderflow_core::FailureKind for PeriodError {
    fn failure(&self) -> borderflow_core::Failure {
        borderflow_core::Failure::Config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn years_and_months_span_their_dates() {
        let y: Period = "2024".parse().unwrap();
        assert_eq!(
            (y.first().to_string(), y.last().to_string()),
            ("2024-01-01".into(), "2024-12-31".into())
        );
        let feb: Period = "2024-02".parse().unwrap();
        assert_eq!(feb.last().to_string(), "2024-02-29");
        let dec: Period = "2025-12".parse().unwrap();
        assert_eq!(dec.last().to_string(), "2025-12-31");
        assert_eq!(
            "2025".parse::<Period>().unwrap().day_range(),
            (20_089, 20_453)
        );
        assert_eq!(feb.to_string(), "2024-02");
    }

    #[test]
    fn a_period_not_yet_ended_is_refused() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 15).unwrap();
        assert_eq!(Period::resolve("2025", today), Ok(Period::Year(2025)));
        assert_eq!(
            Period::resolve("2026-02", today),
            Ok(Period::Month(2026, 2))
        );
        assert_eq!(
            Period::resolve("previous_month", today),
            Ok(Period::Month(2026, 2))
        );
        for running in ["2026", "2026-03", "2031", "2026-04"] {
            let e = Period::resolve(running, today).unwrap_err();
            assert!(matches!(e, PeriodError::NotEnded { .. }), "{running}: {e}");
        }
        // The last day of a period is still part of it.
        let last = NaiveDate::from_ymd_opt(2026, 2, 28).unwrap();
        assert!(Period::resolve("2026-02", last).is_err());
    }

    #[test]
    fn malformed_periods_are_refused() {
        for bad in [
            "",
            "25",
            "2025-13",
            "2025-7",
            "2025/07",
            "year",
            "2025-07-01",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }
}
