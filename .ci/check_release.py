"""Reads a borderflow release the way a statistics office would, with pandas and pyarrow, and
checks that the formats agree; optionally checks that a screenshot of report.html is not blank.

usage: check_release.py RELEASE_DIR [REPORT_PNG]
"""

import json
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

release = Path(sys.argv[1])
manifest = json.loads((release / "manifest.json").read_text())
for table in ["categories", "crossings", "corridors"]:
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
    assert (parquet["suppressed"] == (sdmx["OBS_STATUS"] == "Q")).all(), table
    assert ((parquet["noise_sd"] - csv["noise_sd"]).abs() < 1e-9).all(), table
    published = parquet[~parquet["suppressed"]]
    assert (published["subscribers"] >= manifest["privacy"]["k"]).all(), table
    if table in manifest["cells"]:
        assert manifest["cells"][table]["published"] == len(published), table
    print(f"{table}: {len(parquet)} cells, {len(published)} published; formats agree")

rows = manifest["rows"]
assert rows["read"] == rows["accepted"] + sum(rows["quarantined"].values())

if len(sys.argv) > 2:
    from PIL import Image

    img = Image.open(sys.argv[2]).convert("RGB")
    small = img.resize((img.width // 4, img.height // 4))
    pixels = [small.getpixel((x, y)) for y in range(small.height) for x in range(small.width)]
    ink = sum(1 for p in pixels if sum(p) < 600) / len(pixels)
    colours = len(set(pixels))
    print(f"report.png: {img.width}x{img.height}, {ink:.1%} ink, {colours} colours")
    assert ink > 0.02, "the report rendered blank"
    assert colours > 20, "the report has no charts"
