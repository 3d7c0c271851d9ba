#!/usr/bin/env python3
"""Builds borderflow's own code lists from the public source tables.

Run from the repository root:  python3 crates/borderflow-refdata/tools/build_codelists.py SOURCE_DIR
where SOURCE_DIR holds iso3166_m49_regions.csv, mcc_mnc.csv and mcc_mnc_list.json (their licences
are reproduced in docs/reference-data.md). Writes countries.csv, plmn.csv and e164.csv into
crates/borderflow-refdata/data/. The output is deterministic (sorted), so a re-run shows as a clean
diff. income_groups.csv and hdi_groups.csv are maintained by hand (see docs/reference-data.md).
"""
import collections
import csv
import json
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")

# Corrections to the calling-code column of mcc_mnc.csv, from the ITU-T E.164 list of assigned
# country codes. Keys are ISO alpha-2 codes; values replace the source's codes for that country.
CALLING_CODE_FIXES = {
    "ru": ["7"],            # source says 79; Russia holds the rest of the +7 zone
    "kz": ["76", "77"],     # Kazakhstan holds +7 6xx and +7 7xx within the shared +7 zone
    "ge": ["995"],          # source adds 7 (Abkhazia operators); Georgia is +995
    "vg": ["1284"], "as": ["1684"], "pr": ["1787", "1939"], "tc": ["1649"], "va": ["379", "3906698"],
    "ss": ["211"], "tv": ["688"], "wf": ["681"], "mp": ["1670"], "sx": ["1721"], "nr": ["674"],
    "tk": ["690"], "nf": ["6723"], "gg": ["441481", "447781", "447839", "447911"],
    "je": ["441534", "447509", "447700", "447797", "447829", "447937"],
    "im": ["441624", "447524", "447624", "447924"], "ax": ["35818"], "sj": ["4779"],
    "cx": ["6189164"], "cc": ["6189162"], "eh": ["2125288", "2125289"],
    "bq": ["5993", "5994", "5997"], "cw": ["5999"], "yt": ["262269", "262639"],
    "re": ["262262", "262692", "262693"], "an": [], "xk": ["383"],
    "bl": [], "mf": [], "pn": [], "io": ["246"], "fk": ["500"], "gs": [],
    "dm": ["1767"], "ca": [],  # Canada's area codes are listed below
}

# Canadian geographic area codes within the shared +1 zone (NANP administrator's list).
CANADA_AREA_CODES = """204 226 236 249 250 257 263 289 306 343 354 365 367 368 382 387 403 416 418
428 431 437 438 450 460 468 474 506 514 519 548 568 579 581 584 587 604 613 639 647 672 683 705
709 742 753 778 780 782 807 819 825 867 873 879 902 905 942""".split()

# Codes that name no country: explicit "unknown", never a guess.
NON_GEOGRAPHIC_E164 = """800 808 870 878 881 882 883 888 979 991 1800 1833 1844 1855 1866 1877
1888 1900 1500 1533 1544 1566 1577 1588 1700 1710""".split()

# Codes shared by several territories with no public split of their numbers: explicit unknown.
SHARED_E164 = ["590", "599", "262"]


ZONE_TAB = "/usr/share/zoneinfo/zone.tab"

# zone.tab lists a country's zones west to east; where the first is not where most people live,
# the principal zone is named here. A cell catalogue gives the exact zone of each cell.
PRINCIPAL_ZONE = {
    "au": "Australia/Sydney", "br": "America/Sao_Paulo", "ca": "America/Toronto",
    "ru": "Europe/Moscow", "ua": "Europe/Kyiv", "fm": "Pacific/Pohnpei", "xk": "Europe/Belgrade",
}


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def main(src):
    m49 = read_csv(os.path.join(src, "iso3166_m49_regions.csv"))
    a2_to_a3 = {r["alpha-2"].lower(): r["alpha-3"] for r in m49}
    a2_to_a3["xk"] = "XKX"  # Kosovo: user-assigned code used by the EU, World Bank and IMF

    with open(os.path.join(OUT, "countries.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["alpha2", "alpha3", "numeric", "name", "region", "sub_region",
                    "intermediate_region", "region_code", "sub_region_code",
                    "intermediate_region_code"])
        rows = [[r["alpha-2"], r["alpha-3"], r["country-code"], r["name"], r["region"],
                 r["sub-region"], r["intermediate-region"], r["region-code"],
                 r["sub-region-code"], r["intermediate-region-code"]] for r in m49]
        rows.append(["XK", "XKX", "", "Kosovo", "Europe", "Southern Europe", "", "150", "039", ""])
        for row in sorted(rows, key=lambda r: r[1]):
            w.writerow(row)

    # --- PLMN: MCC (+ MNC where it belongs elsewhere) -> alpha-3 -------------------------
    # (mcc, mnc) -> every country a source places that network in ("" = non-geographic).
    # The Wikipedia-derived list is newer and names territories (Jersey, Guernsey, ...) that
    # the older table files under their sovereign: it wins wherever it has the network.
    listed = collections.defaultdict(set)
    for x in json.load(open(os.path.join(src, "mcc_mnc_list.json"), encoding="utf-8")):
        code = x["countryCode"]
        key = (x["mcc"], x["mnc"])
        if x["type"] != "National" or not code:
            listed[key].add("")
            continue
        # "BL/GF/GP/MF/MQ": one network serving several territories.
        for part in code.split("/"):
            listed[key].add(a2_to_a3.get(part.split("-")[0].lower(), ""))
    seen = dict(listed)
    for r in read_csv(os.path.join(src, "mcc_mnc.csv")):
        key = (r["MCC"], r["MNC"])
        if key not in listed:
            seen.setdefault(key, set()).add(a2_to_a3.get(r["ISO"].lower(), ""))
    by_mcc = collections.defaultdict(collections.Counter)
    for (mcc, mnc), a3s in seen.items():
        for a3 in a3s:
            by_mcc[mcc][a3] += 1
    def mcc_country(mcc):
        top = by_mcc[mcc].most_common(2)
        if len(top) == 2 and top[0][1] == top[1][1]:
            return ""  # a tie (the French Antilles' 340, say): the MCC alone cannot tell
        return top[0][0]
    entries = {}
    for (mcc, mnc), a3s in seen.items():
        default = mcc_country(mcc)
        # A network listed in several territories (one PLMN id for the US and its islands,
        # say) cannot be told apart by its id: it takes the MCC's own country when that is
        # among them, and is unknown otherwise.
        if len(a3s) == 1:
            entries[(mcc, mnc)] = next(iter(a3s))
        else:
            entries[(mcc, mnc)] = default if default in a3s else ""
    plmn = []
    for mcc, counts in sorted(by_mcc.items()):
        # MCC 9xx are shared international codes (satellite, maritime, test): never a country.
        default = "" if mcc.startswith("9") else mcc_country(mcc)
        plmn.append((mcc, "", default))
        for (m, mnc), a3 in sorted(entries.items()):
            if m == mcc and a3 != default and not mcc.startswith("9"):
                plmn.append((mcc, mnc, a3))
    with open(os.path.join(OUT, "plmn.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["mcc", "mnc", "alpha3"])
        w.writerows(plmn)

    # --- E.164 country calling codes -> alpha-3 --------------------------------------------
    codes = collections.defaultdict(set)
    for r in read_csv(os.path.join(src, "mcc_mnc.csv")):
        a2 = r["ISO"].lower()
        if a2 in CALLING_CODE_FIXES or a2 not in a2_to_a3 and a2 != "xk":
            continue
        if r["Country Code"]:
            codes[r["Country Code"]].add(a2_to_a3[a2])
    for a2, fixed in CALLING_CODE_FIXES.items():
        for c in fixed:
            codes[c].add(a2_to_a3[a2])
    for ac in CANADA_AREA_CODES:
        codes["1" + ac].add("CAN")
    out = {}
    for c, a3s in codes.items():
        if len(a3s) != 1:
            sys.exit(f"calling code +{c} is ambiguous: {sorted(a3s)}; add a fix")
        out[c] = a3s.pop()
    for c in NON_GEOGRAPHIC_E164 + SHARED_E164:
        out[c] = ""
    with open(os.path.join(OUT, "e164.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["prefix", "alpha3"])
        for c in sorted(out, key=lambda c: (len(c), c)):
            w.writerow([c, out[c]])
    # --- principal time zone per country (tzdata's zone.tab, public domain) ----------------
    zones = {}
    with open(ZONE_TAB, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            a2, _coords, zone = line.split("\t")[:3]
            zones.setdefault(a2.strip().lower(), zone.strip())
    zones.update(PRINCIPAL_ZONE)
    with open(os.path.join(OUT, "timezones.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["alpha3", "time_zone"])
        for a2, zone in sorted(zones.items(), key=lambda kv: a2_to_a3.get(kv[0], "")):
            if a2 in a2_to_a3:
                w.writerow([a2_to_a3[a2], zone])
    print(f"countries {len(rows)}, plmn {len(plmn)}, e164 {len(out)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join("..", "shared", "refdata"))
