"""The presence reduction of `borderflow ingest` written as one DuckDB query, to compare
engines on the same files (docs/ingest.md, Performance).

usage: duckdb_presence.py EVENTS.parquet REFDATA_DIR OUT_DIR [THREADS]
  REFDATA_DIR: the code lists from `borderflow refdata export DIR`.

It does a little less than borderflow: SHA-256 of a salted id instead of HMAC (once per
distinct id), PLMN → country by MCC, counterpart prefix by the longest of 1–4 digits, and no
validation, duplicate detection or quarantine.
"""

import sys
import time

import duckdb

events, refdata, out = sys.argv[1], sys.argv[2], sys.argv[3]
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute(f"CREATE TABLE mcc AS SELECT DISTINCT mcc, alpha3 FROM read_csv('{refdata}/plmn.csv', all_varchar=true) WHERE alpha3 IS NOT NULL AND (mnc IS NULL OR mnc = '')")
con.execute(f"CREATE TABLE e164 AS SELECT prefix, alpha3 FROM read_csv('{refdata}/e164.csv', all_varchar=true)")
con.execute(f"CREATE TABLE tz AS SELECT alpha3, time_zone FROM read_csv('{refdata}/timezones.csv', all_varchar=true)")
started = time.time()
con.execute(f"""
COPY (
  WITH ids AS (
    SELECT subscriber_id, sha256('borderflow-bench-key' || subscriber_id)[1:32] AS pseudonym
    FROM (SELECT DISTINCT subscriber_id FROM read_parquet('{events}'))
  ),
  ev AS (
    SELECT i.pseudonym, h.alpha3 AS sim_country, s.alpha3 AS country,
           coalesce(p4.alpha3, p3.alpha3, p2.alpha3, p1.alpha3) AS counterpart_country,
           timezone(t.time_zone, e.event_time) - INTERVAL 4 HOUR AS fday
    FROM read_parquet('{events}') e
    JOIN ids i USING (subscriber_id)
    JOIN mcc h ON h.mcc = substr(e.home_plmn, 1, 3)
    JOIN mcc s ON s.mcc = substr(e.serving_plmn, 1, 3)
    JOIN tz t ON t.alpha3 = s.alpha3
    LEFT JOIN e164 p4 ON p4.prefix = substr(e.counterpart_number, 2, 4)
    LEFT JOIN e164 p3 ON p3.prefix = substr(e.counterpart_number, 2, 3)
    LEFT JOIN e164 p2 ON p2.prefix = substr(e.counterpart_number, 2, 2)
    LEFT JOIN e164 p1 ON p1.prefix = substr(e.counterpart_number, 2, 1)
    WHERE h.alpha3 = 'KEN' OR s.alpha3 = 'KEN'
  )
  SELECT pseudonym, sim_country, country, counterpart_country,
         count(*)::INT AS events,
         sum(CASE WHEN hour(fday) >= 14 OR hour(fday) < 4 THEN 1 ELSE 0 END)::INT AS night_events,
         sum(CASE WHEN isodow(fday) <= 5 AND hour(fday) >= 4 AND hour(fday) < 13 THEN 1 ELSE 0 END)::INT AS weekday_day_events,
         min(hour(fday) * 60 + minute(fday))::SMALLINT AS first_minute,
         max(hour(fday) * 60 + minute(fday))::SMALLINT AS last_minute,
         CAST(fday AS DATE) AS local_date
  FROM ev
  GROUP BY ALL
) TO '{out}' (FORMAT PARQUET, PARTITION_BY (local_date), COMPRESSION zstd, OVERWRITE_OR_IGNORE)
""")
secs = time.time() - started
rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}/*/*.parquet')").fetchone()[0]
n = con.execute(f"SELECT count(*) FROM read_parquet('{events}')").fetchone()[0]
print(f"duckdb {duckdb.__version__}: {n} events → {rows} presence rows in {secs:.1f} s ({n / secs:.0f} events/s, {threads} threads)")
