"""Reads a borderflow release the way a statistics office would, with pandas and pyarrow, and
checks that the formats agree, that manifest.json and quality.json follow the JSON Schemas
shipped beside them, and that the public manifest holds no exact count; optionally
checks the operator manifest's rows reconcile, and that a screenshot of report.html is not
blank.

usage: check_release.py RELEASE_DIR [--operator OPERATOR_MANIFEST] [--report REPORT_PNG]
"""

import argparse
import json
from pathlib import Path

import jsonschema
import pandas as pd
import pyarrow.parquet as pq

args = argparse.ArgumentParser()
args.add_argument("release")
args.add_argument("--operator")
args.add_argument("--report")
args = args.parse_args()
release = Path(args.release)
manifest = json.loads((release / "manifest.json").read_text())
for exact in ["rows", "inputs", "facts_digest", "key_fingerprint", "timings_seconds"]:
    assert exact not in manifest, f"{exact} in the public manifest"
quality = json.loads((release / "quality.json").read_text())
assert manifest["schema_version"] == 1 and quality["schema_version"] == 1
# The JSON Schemas shipped in the release, by a validator borderflow did not write (formats
# such as date-time checked too).
for doc, name in [(manifest, "manifest"), (quality, "quality")]:
    schema = json.loads((release / f"{name}.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    validator.check_schema(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, f"{name}.json: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)
    # A document that departs fails: a field the schema does not know.
    assert not validator.is_valid({**doc, "unexpected": 1}), name
    print(f"{name}.json: valid against {schema['$id']}")

for exact in ["rows_read", "events_per_day", "lookback_days_without_data"]:
    assert exact not in quality, f"{exact} in the public quality indicators"
for table in ["categories", "crossings", "totals", "corridors"]:
    parquet = pq.read_table(release / f"{table}.parquet").to_pandas()
    csv = pd.read_csv(release / f"{table}.csv", keep_default_na=False, na_values=[""],
                      dtype={"subscribers": "Int64"})
    sdmx = pd.read_csv(release / f"{table}.sdmx.csv", keep_default_na=False, na_values=[""],
                       dtype={"OBS_VALUE": "Int64"})
    assert len(parquet) == len(csv) == len(sdmx), table
    assert list(parquet.columns) == list(csv.columns), table
    assert (parquet["subscribers"].astype("Int64").fillna(-1)
            == csv["subscribers"].fillna(-1)).all(), table
    assert (csv["subscribers"].fillna(-1) == sdmx["OBS_VALUE"].fillna(-1)).all(), table
    assert (parquet["suppressed"] == csv["suppressed"]).all(), table
    assert (parquet["status"] == csv["status"]).all(), table
    obs_status = {"published": "A", "suppressed": "Q", "not_measured": "L"}
    assert (parquet["status"].map(obs_status) == sdmx["OBS_STATUS"]).all(), table
    assert (parquet["suppressed"] == (parquet["status"] == "suppressed")).all(), table
    # Not measured: no value and no noise; every other cell has its noise's sd.
    unmeasured = parquet["status"] == "not_measured"
    assert (parquet["noise_sd"].isna() == unmeasured).all(), table
    assert (csv["noise_sd"].isna() == unmeasured).all(), table
    assert ((parquet["noise_sd"] - csv["noise_sd"]).abs()[~unmeasured] < 1e-9).all(), table
    published = parquet[parquet["status"] == "published"]
    assert (published["subscribers"] >= manifest["privacy"]["k"]).all(), table
    if table in manifest["cells"]:
        for status, n in parquet["status"].value_counts().items():
            assert manifest["cells"][table][status] == n, (table, status)
    print(f"{table}: {len(parquet)} cells, {len(published)} published; formats agree")

# datapackage.json alone tells pandas how to read each CSV: the same logical types as Parquet.
package = json.loads((release / "datapackage.json").read_text())
pandas_type = {"string": "string", "integer": "Int64", "number": "Float64", "boolean": "boolean"}
for resource in package["resources"]:
    schema = resource["schema"]
    dtypes = {f["name"]: pandas_type[f["type"]] for f in schema["fields"]}
    csv = pd.read_csv(release / resource["path"], dtype=dtypes, keep_default_na=False,
                      na_values=schema["missingValues"])
    parquet = pq.read_table(release / f"{resource['name']}.parquet").to_pandas(
        types_mapper=pd.ArrowDtype)
    assert list(csv.columns) == [f["name"] for f in schema["fields"]], resource["name"]
    for f in schema["fields"]:
        arrow = str(parquet[f["name"]].dtype)
        want = {"string": "string", "integer": "int64", "number": "double", "boolean": "bool"}[f["type"]]
        assert arrow.startswith(want), f"{resource['name']}.{f['name']}: Parquet {arrow}, package {f['type']}"
    assert csv[schema["primaryKey"]].duplicated().sum() == 0, resource["name"]
    assert csv["period"].iloc[0] == parquet["period"].iloc[0], resource["name"]
    print(f"{resource['name']}: read through datapackage.json, types as in Parquet, key unique")

if args.operator:
    rows = json.loads(Path(args.operator).read_text())["rows"]
    assert rows["read"] == rows["accepted"] + sum(rows["quarantined"].values())
    print(f"operator manifest: {rows['read']} rows read, accounted for")

if args.report:
    from PIL import Image

    img = Image.open(args.report).convert("RGB")
    small = img.resize((img.width // 4, img.height // 4))
    pixels = [small.getpixel((x, y)) for y in range(small.height) for x in range(small.width)]
    ink = sum(1 for p in pixels if sum(p) < 600) / len(pixels)
    colours = len(set(pixels))
    print(f"report.png: {img.width}x{img.height}, {ink:.1%} ink, {colours} colours")
    assert ink > 0.02, "the report rendered blank"
    assert colours > 20, "the report has no charts"
