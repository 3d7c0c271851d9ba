//! A release through `borderflow run pipelines/annual.toml --input …` on generated CSV files
//! with the operator's column names, checked as a statistics office and an auditor would:
//! every file there, the three formats agreeing cell by cell, SDMX-CSV valid, corridors equal
//! to the sums of their cells, the manifest reconciling, no identifier in any released byte,
//! a second run returning the release as it is, and a release over budget refused.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use borderflow_refdata::RefData;

use crate::common;

use crate::common::{borderflow, csv_rows, ok, parquet_rows};

/// Operator names for the canonical columns, as the annual template maps them.
const OPERATOR_NAMES: [(&str, &str); 7] = [
    ("subscriber_id", "IMSI"),
    ("event_time", "EVENT_TS"),
    ("home_plmn", "HPLMN"),
    ("serving_plmn", "VPLMN"),
    ("cell_id", "CELL_ID"),
    ("event_type", "EVENT_TYPE"),
    ("counterpart_number", "B_NUMBER"),
];

struct World {
    root: PathBuf,
    input: PathBuf,
    pipeline: PathBuf,
    raw_ids: Vec<Vec<u8>>,
}

fn world(dir: &Path) -> World {
    let root = dir.to_path_buf();
    let generated = root.join("gen");
    ok(&borderflow(&[
        "generate",
        "--out",
        generated.to_str().unwrap(),
        "--subscribers",
        "600",
        "--seed",
        "5",
        "--format",
        "csv",
    ]));
    // The operator's export: same rows, the operator's column names.
    let text = std::fs::read_to_string(generated.join("events.csv")).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    let renamed: Vec<&str> = header
        .split(',')
        .map(|c| {
            OPERATOR_NAMES
                .iter()
                .find(|(canon, _)| *canon == c)
                .map_or(c, |(_, op)| *op)
        })
        .collect();
    std::fs::create_dir_all(root.join("data")).unwrap();
    let input = root.join("data/cdr-2025.csv");
    std::fs::write(&input, format!("{}\n{body}", renamed.join(","))).unwrap();
    let mut raw_ids: HashSet<Vec<u8>> = HashSet::new();
    for line in body.lines() {
        let mut f = line.split(',');
        raw_ids.insert(f.next().unwrap().as_bytes().to_vec());
        let counterpart = f.nth(5).unwrap_or("");
        if !counterpart.is_empty() {
            raw_ids.insert(counterpart.as_bytes().to_vec());
        }
    }
    std::fs::remove_dir_all(&generated).unwrap();
    // The shipped template, as a user copies it: ../state, ../release, ../keys.
    std::fs::create_dir_all(root.join("pipelines")).unwrap();
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines/annual.toml");
    let pipeline = root.join("pipelines/annual.toml");
    std::fs::copy(template, &pipeline).unwrap();
    std::fs::create_dir_all(root.join("keys")).unwrap();
    ok(&borderflow(&[
        "keygen",
        root.join("keys/pseudonym.key").to_str().unwrap(),
    ]));
    World {
        root,
        input,
        pipeline,
        raw_ids: raw_ids.into_iter().collect(),
    }
}

fn run(w: &World, period: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        w.pipeline.to_str().unwrap(),
        "--period",
        period,
        "--input",
        w.input.to_str().unwrap(),
        "--set",
        "input.paths=[]",
        "--test-seed",
        "11",
    ];
    args.extend_from_slice(extra);
    borderflow(&args)
}

fn sdmx_code_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

#[test]
fn an_annual_release_through_the_template_is_complete_consistent_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let out = ok(&run(&w, "2025", &[]));
    assert!(out.contains("publish:"), "{out}");
    let rel = w.root.join("release/ken-operator-annual/2025");
    let mut names: Vec<String> = std::fs::read_dir(&rel)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected = vec![
        "datapackage.json".to_string(),
        "manifest.json".into(),
        "manifest.schema.json".into(),
        "quality.json".into(),
        "quality.schema.json".into(),
        "report.html".into(),
        "structure.sdmx.xml".into(),
    ];
    for t in ["categories", "corridors", "crossings", "totals"] {
        for ext in ["csv", "parquet", "sdmx.csv"] {
            expected.push(format!("{t}.{ext}"));
        }
    }
    expected.sort();
    assert_eq!(names, expected);
    data_package_describes_every_csv(&rel);

    let rd = RefData::embedded();
    let alpha3: HashSet<String> = rd.countries.iter().map(|c| c.alpha3.to_string()).collect();
    let dims: [(&str, &[(&str, &str)]); 3] = [
        (
            "categories",
            &[
                ("category", "MOB_CATEGORY"),
                ("partner_country", "COUNTERPART_AREA"),
            ],
        ),
        (
            "crossings",
            &[
                ("from_country", "ORIGIN_AREA"),
                ("to_country", "DESTINATION_AREA"),
            ],
        ),
        (
            "corridors",
            &[
                ("category", "MOB_CATEGORY"),
                ("grouping", "GROUPING"),
                ("partner_group", "COUNTERPART_GROUP"),
            ],
        ),
    ];
    let mut tables = HashMap::new();
    for (table, keys) in dims {
        // Parquet and CSV agree cell by cell.
        let pq = parquet_rows(&rel.join(format!("{table}.parquet")));
        let (_, csv) = csv_rows(&rel.join(format!("{table}.csv")));
        assert_eq!(pq, csv, "{table}: Parquet and CSV differ");
        // SDMX-CSV: the header, valid codes, and the same cells.
        let (header, sdmx) = csv_rows(&rel.join(format!("{table}.sdmx.csv")));
        let mut want = vec!["STRUCTURE", "STRUCTURE_ID", "ACTION", "FREQ", "REF_AREA"];
        want.extend(keys.iter().map(|k| k.1));
        want.extend([
            "TIME_PERIOD",
            "OBS_VALUE",
            "OBS_STATUS",
            "CONF_STATUS",
            "UNIT_MEASURE",
            "NOISE_SD",
        ]);
        assert_eq!(&header[..want.len()], &want[..], "{table}");
        assert_eq!(sdmx.len(), csv.len());
        let flow = format!("BORDERFLOW:DF_BORDERFLOW_{}(1.0.0)", table.to_uppercase());
        for (s, c) in sdmx.iter().zip(&csv) {
            assert_eq!(s["STRUCTURE"], "dataflow");
            assert_eq!(s["STRUCTURE_ID"], flow);
            assert_eq!(s["ACTION"], "I");
            assert_eq!(s["FREQ"], "A");
            assert_eq!(s["REF_AREA"], "KEN");
            assert_eq!(s["TIME_PERIOD"], "2025");
            assert_eq!(s["OBS_VALUE"], c["subscribers"]);
            assert_eq!(s["NOISE_SD"], c["noise_sd"]);
            assert_eq!(s["UNIT_MEASURE"], "SIM");
            let suppressed = c["suppressed"] == "true";
            // Return migrants need the previous window, which the annual template does not
            // read: missing (not measured, no noise), never withheld noise around zero.
            let not_measured = c.get("category").map(String::as_str) == Some("return_migrant");
            let status = match (suppressed, not_measured) {
                (true, false) => ("Q", "C", "suppressed"),
                (false, false) => ("A", "F", "published"),
                (false, true) => ("L", "F", "not_measured"),
                (true, true) => panic!("{table}: a return-migrant cell suppressed: {c:?}"),
            };
            assert_eq!(
                (
                    s["OBS_STATUS"].as_str(),
                    s["CONF_STATUS"].as_str(),
                    c["status"].as_str()
                ),
                status,
                "{table} {c:?}"
            );
            assert_eq!(not_measured, c["noise_sd"].is_empty(), "{c:?}");
            assert_eq!(suppressed || not_measured, c["subscribers"].is_empty());
            if status.2 == "published" {
                assert!(c["subscribers"].parse::<i64>().unwrap() >= 16);
            }
            for (col, concept) in keys.iter() {
                let code = &s[*concept];
                assert!(sdmx_code_ok(code), "{table} {concept} {code:?}");
                if concept.ends_with("_AREA") {
                    assert!(code == "_Z" || alpha3.contains(code), "{code}");
                    assert_eq!(code, if c[*col].is_empty() { "_Z" } else { &c[*col] });
                }
            }
        }
        tables.insert(table, csv);
    }
    // Every cell of the domain: 1 + 10·249 categories, 250·249 crossings.
    assert_eq!(tables["categories"].len(), 2491);
    assert_eq!(tables["crossings"].len(), 62250);

    // Corridors are the sums of their cells' noisy values (kept operator-side), σ√n.
    let noisy = parquet_rows(
        &w.root
            .join("state/noisy/ken-operator-annual/2025/categories.parquet"),
    );
    for (n, c) in noisy.iter().zip(&tables["categories"]) {
        assert_eq!(n["category"], c["category"]);
        if c["status"] == "published" {
            assert_eq!(n["subscribers"], c["subscribers"]);
        }
    }
    for row in &tables["corridors"] {
        if row["status"] == "not_measured" {
            continue;
        }
        let (mut sum, mut n) = (0i64, 0usize);
        for cell in &noisy {
            if cell["category"] != row["category"] || cell["partner_country"].is_empty() {
                continue;
            }
            let partner = cell["partner_country"].parse().unwrap();
            if borderflow_release::corridors::group_of(&rd, &row["grouping"], partner)
                == row["partner_group"]
            {
                sum += cell["subscribers"].parse::<i64>().unwrap();
                n += 1;
            }
        }
        assert_eq!(row["partner_cells"], n.to_string(), "{row:?}");
        let sd: f64 = row["noise_sd"].parse().unwrap();
        // The annual template's categories: ρ = 0.03, Δ² = 1, σ² = 1/0.06.
        assert!(
            (sd - (1.0f64 / 0.06).sqrt() * (n as f64).sqrt()).abs() < 1e-9,
            "{row:?}"
        );
        let threshold = borderflow_privacy::Threshold {
            k: 16,
            phantom_rate: 0.5,
            cells: tables["corridors"].len(),
        }
        .at(sd);
        if row["suppressed"] == "true" {
            assert!(sum < threshold, "{row:?}: {sum}");
        } else {
            assert_eq!(row["subscribers"], sum.to_string(), "{row:?}");
            assert!(sum >= threshold, "{row:?}");
        }
    }
    // Under each grouping, a category's groups add up to its `all` total.
    let mut by: HashMap<(String, String), i64> = HashMap::new();
    for row in &tables["corridors"] {
        *by.entry((row["category"].clone(), row["grouping"].clone()))
            .or_default() += row["partner_cells"].parse::<i64>().unwrap();
    }
    for ((cat, _), n) in &by {
        assert_eq!(*n, by[&(cat.clone(), "all".to_string())]);
    }

    // The public manifest holds no exact count: rows, inputs and digests of the data are in
    // the operator manifest under the state directory, and reconcile with the input there.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rel.join("manifest.json")).unwrap()).unwrap();
    // Both public documents follow the JSON Schemas shipped beside them, which are the ones
    // the library carries, at the version each document states.
    let json = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(rel.join(name)).unwrap()).unwrap()
    };
    let quality = json("quality.json");
    for (doc, file, text) in [
        (
            &manifest,
            "manifest.schema.json",
            borderflow_release::manifest::MANIFEST_SCHEMA,
        ),
        (
            &quality,
            "quality.schema.json",
            borderflow_release::manifest::QUALITY_SCHEMA,
        ),
    ] {
        assert_eq!(std::fs::read_to_string(rel.join(file)).unwrap(), text);
        let schema = json(file);
        let version = borderflow_release::manifest::SCHEMA_VERSION;
        assert_eq!(doc["schema_version"], version);
        assert!(
            schema["$id"]
                .as_str()
                .unwrap()
                .ends_with(&format!(":{version}"))
        );
        assert_eq!(
            common::schema_departures(doc, &schema),
            Vec::<String>::new(),
            "{file}"
        );
    }
    // The check sees a document that departs: a field the schema does not know, a count
    // gone, a count of the wrong type.
    let mut odd = manifest.clone();
    odd["cells"]["totals"]["withheld"] = 1.into();
    odd["privacy"]["tables"]["totals"]
        .as_object_mut()
        .unwrap()
        .remove("sigma");
    odd["privacy"]["k"] = "16".into();
    assert_eq!(
        common::schema_departures(&odd, &json("manifest.schema.json")),
        [
            "$.cells.totals.withheld: not in the schema",
            "$.privacy.k: \"16\" is not [\"integer\"]",
            "$.privacy.tables.totals: required sigma is missing",
        ]
    );
    for exact in [
        "rows",
        "inputs",
        "facts_digest",
        "key_fingerprint",
        "timings_seconds",
    ] {
        assert!(
            manifest.get(exact).is_none(),
            "{exact} in the public manifest"
        );
    }
    assert_eq!(
        manifest["privacy"]["unit"],
        "one SIM's data in one calendar year (SIM-year)"
    );
    assert_eq!(
        manifest["privacy"]["budget_years"],
        serde_json::json!([2025])
    );
    let operator: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            w.root
                .join("state/operator/ken-operator-annual/2025/operator-manifest.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let rows = &operator["rows"];
    let quarantined: u64 = rows["quarantined"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    let input_rows = std::fs::read_to_string(&w.input).unwrap().lines().count() as u64 - 1;
    assert_eq!(rows["read"].as_u64().unwrap(), input_rows);
    assert_eq!(
        rows["read"].as_u64().unwrap(),
        rows["accepted"].as_u64().unwrap() + quarantined
    );
    let input = &operator["inputs"][0];
    assert_eq!(input["name"], "cdr-2025.csv");
    assert_eq!(
        input["bytes"].as_u64().unwrap(),
        std::fs::metadata(&w.input).unwrap().len()
    );
    assert_eq!(input["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(manifest["for_publication"], false);
    assert_eq!(manifest["privacy"]["k"], 16);
    assert_eq!(
        manifest["privacy"]["tables"]["categories"]["rho_exact"],
        "3/100"
    );
    // The manifest counts each table's cells by the status its rows carry.
    for (table, rows) in &tables {
        for status in ["published", "suppressed", "not_measured"] {
            let n = rows.iter().filter(|c| c["status"] == status).count() as u64;
            assert_eq!(manifest["cells"][table][status], n, "{table} {status}");
        }
    }
    // 249 partners × 1 return-migrant category, missing by configuration.
    assert_eq!(manifest["cells"]["categories"]["not_measured"], 249);
    assert_eq!(
        manifest["privacy"]["tables"]["categories"]["not_measured"],
        249
    );

    // The report is one self-contained page with charts, marked as a test release.
    let html = std::fs::read_to_string(rel.join("report.html")).unwrap();
    assert!(html.contains("<svg"));
    assert!(html.contains("NOT FOR PUBLICATION"));
    assert!(!html.contains("<script"));
    assert!(
        html.replace("http://www.w3.org/2000/svg", "")
            .find("http")
            .is_none(),
        "the report must not reach the network"
    );
    // It answers at a glance: frontier workers in and out with their totals and margins
    // (the released `totals` values), then each category's top partners with intervals; the
    // release's date, version and a citation; short country names; no return migrants among
    // "where people come from".
    let (_, totals) = csv_rows(&rel.join("totals.csv"));
    let glance = &html[html
        .find("<p class=glance>")
        .expect("an at-a-glance paragraph")..];
    let glance = &glance[..glance.find("</p>").unwrap()];
    for (total, words) in [
        (
            "frontier_in",
            "SIMs of frontier workers commuting into Kenya",
        ),
        (
            "frontier_out",
            "SIMs of frontier workers living here and commuting abroad",
        ),
    ] {
        let row = totals.iter().find(|r| r["total"] == total).unwrap();
        let sd: f64 = row["noise_sd"].parse().unwrap();
        let shown = match row["subscribers"].parse::<i64>() {
            Ok(value) => format!(
                "<b>{} ± {}</b> {words}",
                value,
                (1.959964 * sd).round() as i64
            ),
            // Suppressed in this small world: said, never a number.
            Err(_) => format!(
                "too few frontier workers {}",
                words.strip_prefix("SIMs of frontier workers ").unwrap()
            ),
        };
        assert!(glance.contains(&shown), "{shown} not in {glance}");
    }
    // The South-South share is stated whenever a labour-mobility corridor was published.
    let labour_corridor = tables["corridors"].iter().any(|r| {
        r["grouping"] == "south_un_m49"
            && r["status"] == "published"
            && !r["direction"].is_empty()
            && !["visitor_in", "return_migrant"].contains(&r["category"].as_str())
    });
    assert_eq!(glance.contains("Global South"), labour_corridor, "{glance}");
    for c in ["Frontier workers in", "Frontier workers out"] {
        assert!(
            html.contains(&format!("{c} — top partner countries"))
                || html.contains(&format!("{c}: no partner country reached the threshold.")),
            "{c}"
        );
    }
    assert!(!html.contains("Return migrants — top partner countries"));
    assert!(html.contains(&format!("borderflow {}", env!("CARGO_PKG_VERSION"))));
    assert!(html.contains("<h2>Citation</h2>"));
    assert!(!html.contains("United Kingdom of Great Britain"));

    // No raw id or counterpart number in any released byte.
    let released: Vec<(PathBuf, Vec<u8>)> = expected
        .iter()
        .map(|n| (rel.join(n), std::fs::read(rel.join(n)).unwrap()))
        .collect();
    let mut by_len: HashMap<usize, HashSet<&[u8]>> = HashMap::new();
    for id in &w.raw_ids {
        by_len.entry(id.len()).or_default().insert(id);
    }
    for (path, bytes) in &released {
        for (len, set) in &by_len {
            assert!(
                !bytes.windows(*len).any(|win| set.contains(win)),
                "{} holds a raw identifier",
                path.display()
            );
        }
    }

    // A second run returns the release as it is: nothing read, nothing re-noised or spent.
    // (Logged as JSON lines, as a scheduler would collect them.)
    let again = ok(&run(&w, "2025", &["--log-format", "json"]));
    let lines: Vec<serde_json::Value> = again
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let stages: Vec<&str> = lines.iter().map(|l| l["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["start", "publish", "summary"], "{again}");
    assert_eq!(lines[1]["message"], "already published");
    assert_eq!(lines[1]["new"], false);
    assert_eq!(lines[1]["period"], "2025");
    assert_eq!(lines[2]["outcome"], "already_published");
    assert_eq!(lines[2]["exit_code"], 0);
    for (path, bytes) in &released {
        assert_eq!(&std::fs::read(path).unwrap(), bytes, "{}", path.display());
    }

    // Another dataset name on the same store asks the same query of the same data: it gets
    // the same noisy values at no cost, never a fresh draw and never a fresh budget.
    let renamed = ok(&run(&w, "2025", &["--set", "dataset=ken-other-name"]));
    assert!(renamed.contains("publish:"), "{renamed}");
    let other = w.root.join("release/ken-other-name/2025");
    for t in ["categories", "crossings", "totals"] {
        assert_eq!(
            std::fs::read(other.join(format!("{t}.csv"))).unwrap(),
            std::fs::read(rel.join(format!("{t}.csv"))).unwrap(),
            "{t}"
        );
    }

    // June's window (July 2024 – June 2025) reads both years; at a raised ρ it does not fit
    // what is left of 2025: refused in one line, nothing published, 2024 not charged.
    let refused = run(&w, "2025-06", &["--set", "privacy.categories.rho=0.1"]);
    assert_eq!(refused.status.code(), Some(4), "over budget exits 4");
    let err = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "error: publish: privacy budget exceeded for data year 2025: release ken-operator-annual/2025-06 needs ρ = 0.185, 0.115 of ρ = 0.25 is spent"
        ),
        "{err}"
    );
    assert_eq!(
        err.matches("privacy budget exceeded").count(),
        1,
        "said once: {err}"
    );
    assert!(!w.root.join("release/ken-operator-annual/2025-06").exists());
    let budget = ok(&borderflow(&["budget", w.pipeline.to_str().unwrap()]));
    assert!(
        budget.contains("2025          0.2500     0.1150"),
        "{budget}"
    );
    assert!(!budget.contains("2024 "), "{budget}");
}

#[test]
fn validate_checks_a_pipeline_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let w = world(dir.path());
    let pipeline = w.pipeline.to_str().unwrap();
    let input = w.input.to_str().unwrap();
    let validate = |extra: &[&str]| {
        let mut args = vec![
            "validate",
            pipeline,
            "--input",
            input,
            "--set",
            "input.paths=[]",
        ];
        args.extend_from_slice(extra);
        borderflow(&args)
    };
    let out = ok(&validate(&[]));
    assert!(out.contains("inputs    1 file(s)"), "{out}");
    assert!(out.contains("store     none yet"), "{out}");
    assert!(out.contains("period    previous_year → "), "{out}");
    assert!(out.ends_with("ok: a run can start\n"), "{out}");
    assert!(!w.root.join("state").exists(), "validate wrote state");

    // A column the file does not have, named in one line.
    let bad = validate(&["--set", "input.columns.subscriber_id=MSISDN"]);
    assert_eq!(bad.status.code(), Some(3), "an input error exits 3");
    let err = String::from_utf8_lossy(&bad.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cdr-2025.csv: missing column \"MSISDN\""),
        "{err}"
    );

    // A key others can read is refused.
    use std::os::unix::fs::PermissionsExt;
    let key = w.root.join("keys/pseudonym.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let bad = validate(&[]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "a key error is configuration: exits 2"
    );
    let err = String::from_utf8_lossy(&bad.stderr).into_owned();
    assert!(err.contains("pseudonym.key"), "{err}");
    assert!(!w.root.join("state").exists());
}

/// `datapackage.json` lists every CSV with its columns in order, and each column's declared
/// type holds for every value of the CSV (empty: missing) and is the Parquet column's type.
fn data_package_describes_every_csv(rel: &Path) {
    use arrow::datatypes::DataType;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let package: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rel.join("datapackage.json")).unwrap()).unwrap();
    assert_eq!(package["profile"], "tabular-data-package");
    let resources = package["resources"].as_array().unwrap();
    let names: Vec<&str> = resources
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["categories", "crossings", "totals", "corridors"]);
    for r in resources {
        let name = r["name"].as_str().unwrap();
        assert_eq!(r["path"], format!("{name}.csv"));
        let fields = r["schema"]["fields"].as_array().unwrap();
        let (header, rows) = csv_rows(&rel.join(format!("{name}.csv")));
        let declared: Vec<&str> = fields.iter().map(|f| f["name"].as_str().unwrap()).collect();
        assert_eq!(declared, header, "{name}: columns");
        let schema = ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(rel.join(format!("{name}.parquet"))).unwrap(),
        )
        .unwrap()
        .schema()
        .clone();
        for f in fields {
            let column = f["name"].as_str().unwrap();
            let kind = f["type"].as_str().unwrap();
            let arrow = schema.field_with_name(column).unwrap().data_type().clone();
            let (want, holds): (DataType, fn(&str) -> bool) = match kind {
                "string" => (DataType::Utf8, |_| true),
                "integer" => (DataType::Int64, |v| v.parse::<i64>().is_ok()),
                "number" => (DataType::Float64, |v| v.parse::<f64>().is_ok()),
                "boolean" => (DataType::Boolean, |v| v == "true" || v == "false"),
                other => panic!("{name}.{column}: type {other}"),
            };
            assert_eq!(arrow, want, "{name}.{column}: Parquet type");
            for row in &rows {
                let v = &row[column];
                assert!(
                    v.is_empty() || holds(v),
                    "{name}.{column}: {v:?} is no {kind}"
                );
            }
        }
        // An annual release's period is a year: an integer in both formats, as a CSV reader
        // infers it.
        assert_eq!(fields[0]["name"], "period");
        assert_eq!(fields[0]["type"], "integer");
        let key: Vec<&str> = r["schema"]["primaryKey"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert!(key.starts_with(&["period", "measuring_country"]), "{key:?}");
    }
    let corridors = &resources[3]["schema"]["fields"];
    let cells = corridors
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "partner_cells")
        .unwrap();
    assert_eq!(cells["type"], "integer");
}
