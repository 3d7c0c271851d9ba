#!/usr/bin/env bash
# Benchmark of the ingest stage on generated data, with DuckDB on the same files for scale.
# Usage: tools/bench-ingest.sh [SUBSCRIBERS_PER_FILE] [FILES] [FORMAT]   (default 25000 2 parquet)
# Needs a release build (cargo build --release) and, for the comparison, `pip install duckdb`.
set -euo pipefail
per_file="${1:-25000}"; files="${2:-2}"; format="${3:-parquet}"
bin="${CARGO_TARGET_DIR:-target}/release/borderflow"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data" "$work/pipelines"
for i in $(seq 1 "$files"); do
  "$bin" generate --out "$work/gen$i" --subscribers "$per_file" --seed "$i" --format "$format" >/dev/null
  mv "$work/gen$i/events.$format" "$work/data/events-$i.$format"
done
"$bin" keygen "$work/key" >/dev/null
cat > "$work/pipelines/bench.toml" <<TOML
dataset = "bench"
measuring_country = "KEN"
operator_plmns = ["63902"]
state_dir = "../state"
release_dir = "../release"
[key]
file = "../key"
[input]
paths = ["../data/*.$format"]
[engine]
memory_limit_mb = ${MEMORY_LIMIT_MB:-2048}
TOML
echo "borderflow ingest ($files $format files):"
/usr/bin/time -f "  wall %e s, peak RSS %M KB" "$bin" ingest "$work/pipelines/bench.toml" --period 2025
if python3 -c "import duckdb" 2>/dev/null; then
  echo "DuckDB, the same files, an equivalent reduction (no validation, no pseudonymisation):"
  /usr/bin/time -f "  wall %e s, peak RSS %M KB" python3 - "$work/data" "$format" <<'PY'
import sys, time, duckdb
d, fmt = sys.argv[1], sys.argv[2]
if fmt == "parquet":
    src = f"(SELECT * REPLACE (event_time::TIMESTAMP AS event_time) FROM read_parquet('{d}/*.parquet'))"
else:
    src = f"(SELECT * REPLACE (CAST(event_time AS TIMESTAMPTZ)::TIMESTAMP AS event_time) FROM read_csv('{d}/*.csv', header=true, all_varchar=true))"
con = duckdb.connect()
con.execute("SET threads TO 2; SET memory_limit = '2GB'")
t = time.time()
n = con.execute(f"""
COPY (
  SELECT sha256(subscriber_id) AS pseudonym, home_plmn, serving_plmn,
         substr(counterpart_number, 1, 4) AS counterpart,
         CAST(event_time + INTERVAL 3 HOUR - INTERVAL 4 HOUR AS DATE) AS local_date,
         count(*) AS events,
         min(event_time) AS first_event, max(event_time) AS last_event
  FROM {src}
  GROUP BY ALL
) TO '{d}/../duck' (FORMAT parquet, PARTITION_BY (local_date))
""").fetchall()
print(f"  rows {n}, {time.time() - t:.1f} s")
PY
fi
