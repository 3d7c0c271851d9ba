"""Loads a release's SDMX-ML 3.0 structure message with the sdmx1 library (the SDMX reader used
by statistics offices in Python), reads every SDMX-CSV 2.0 file against its dataflow, and
checks every observation against the data structure definition: every dimension and attribute
value a code of its code list, values integers, the observation status consistent with the
value, and one observation per CSV row.

usage: check_sdmx.py RELEASE_DIR [--agency ID] [--version X.Y.Z]
"""

import argparse
import csv
from pathlib import Path

import sdmx

args = argparse.ArgumentParser()
args.add_argument("release")
args.add_argument("--agency", default="BORDERFLOW")
args.add_argument("--version", default="1.0.0")
args = args.parse_args()
release = Path(args.release)

structures = sdmx.read_sdmx(release / "structure.sdmx.xml")
flows = dict(structures.dataflow)
assert len(flows) == 5, f"{len(flows)} dataflows"
# Persons are published only by a partnership's combined release.
ONLY_COMBINED = {"DF_BORDERFLOW_PERSONS"}
print(f"structure.sdmx.xml: {len(flows)} dataflows, {len(structures.structure)} DSDs, "
      f"{len(structures.codelist)} code lists, "
      f"{sum(len(c) for c in structures.concept_scheme.values())} concepts")


def codes_of(component):
    """The code ids a component may take, or None for a non-enumerated one."""
    rep = component.local_representation
    if rep is None or rep.enumerated is None:
        return None
    return {code.id for code in rep.enumerated}


files = {}
for path in sorted(release.glob("*.sdmx.csv")):
    with open(path, newline="") as f:
        first = next(csv.DictReader(f))
    files[first["STRUCTURE_ID"]] = path

for flow_id, flow in flows.items():
    assert flow.maintainer.id == args.agency, (flow_id, flow.maintainer.id)
    assert str(flow.version) == args.version, (flow_id, flow.version)
    structure_id = f"{args.agency}:{flow_id}({args.version})"
    if structure_id not in files and flow_id in ONLY_COMBINED:
        print(f"{flow_id}: no data in this release (a combined release's table)")
        continue
    path = files.pop(structure_id)
    dsd = structures.structure[flow.structure.id]
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    message = sdmx.read_sdmx(path, structure=flow)
    observations = [o for ds in message.data for o in ds.obs]
    assert len(observations) == len(rows), (path.name, len(observations), len(rows))
    allowed = {c.id: codes_of(c) for c in dsd.dimensions.components}
    allowed.update({c.id: codes_of(c) for c in dsd.attributes.components})
    statuses = {}
    for obs in observations:
        for dim, kv in obs.dimension.values.items():
            codes = allowed[dim]
            if codes is not None:
                assert kv.value in codes, f"{path.name}: {dim}={kv.value!r} not in its code list"
        for attr, av in obs.attached_attribute.items():
            codes = allowed[attr]
            if av.value in ("", None):
                # The DSD's mandatory attributes (sdmx1 does not read SDMX 3.0's usage).
                assert attr not in ("OBS_STATUS", "CONF_STATUS", "UNIT_MEASURE"), (path.name, attr)
            elif codes is not None:
                assert av.value in codes, f"{path.name}: {attr}={av.value!r} not in its code list"
        status = obs.attached_attribute["OBS_STATUS"].value
        statuses[status] = statuses.get(status, 0) + 1
        value = obs.value
        if status == "A":
            assert value not in ("", None) and int(value) >= 0, (path.name, value)
        else:
            assert value in ("", None), f"{path.name}: a value under OBS_STATUS {status}"
            if status == "L":
                assert obs.attached_attribute["NOISE_SD"].value in ("", None)
    print(f"{path.name}: {len(observations)} observations valid against "
          f"{dsd.id}; OBS_STATUS {dict(sorted(statuses.items()))}")
assert not files, f"SDMX-CSV files with no dataflow: {sorted(files)}"
