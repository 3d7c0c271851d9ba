//! Pipeline files under property tests: any text, any value put in place of a valid one and any
//! `--set` is either a pipeline or an error naming the file (and the key where there is one),
//! never a panic.

use std::path::Path;

use borderflow_pipeline::Pipeline;
use proptest::prelude::*;

const VALID: &str = r#"
dataset = "d"
measuring_country = "KEN"
operator_plmns = ["63902"]
state_dir = "s"
release_dir = "r"
period = "2025"
[key]
env = "K"
[input]
paths = ["x.csv"]
time_format = "rfc3339"
[privacy]
annual_rho = 0.25
k = 16
[privacy.categories]
rho = 0.1
[classify]
frontier_weeks = 13
"#;

/// TOML values of every type, and text that is not TOML.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[0-9]{1,12}",
        "-?[0-9]{1,4}\\.[0-9]{1,6}(e-?[0-9]{1,2})?",
        Just("true".to_string()),
        "\"[ -~]{0,12}\"",
        Just("[]".to_string()),
        Just("[1, \"a\"]".to_string()),
        Just("{ a = 1 }".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        "[ -~]{0,12}",
    ]
}

fn parse(text: &str, sets: &[String]) -> Result<Pipeline, String> {
    Pipeline::parse("fuzz.toml", text, sets, Path::new("/base")).map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_text_is_a_pipeline_or_an_error_naming_the_file(text in "[ -~\n]{0,300}") {
        if let Err(e) = parse(&text, &[]) {
            prop_assert!(e.starts_with("fuzz.toml"), "{}", e);
        }
    }

    #[test]
    fn any_value_in_place_of_a_valid_one_never_panics(line in 1usize..20, v in value()) {
        let lines: Vec<&str> = VALID.lines().collect();
        let line = line.min(lines.len() - 1);
        let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        if let Some((key, _)) = lines[line].split_once(" = ") {
            changed[line] = format!("{key} = {v}");
        }
        if let Err(e) = parse(&changed.join("\n"), &[]) {
            prop_assert!(e.starts_with("fuzz.toml"), "{}", e);
        }
    }

    #[test]
    fn any_set_never_panics(key in "[a-z_.]{0,30}", v in value()) {
        let set = format!("{key}={v}");
        if let Err(e) = parse(VALID, std::slice::from_ref(&set)) {
            prop_assert!(e.starts_with("fuzz.toml") || e.starts_with("--set"), "{}", e);
        }
    }
}

#[test]
fn the_valid_pipeline_of_these_properties_parses() {
    let p = parse(VALID, &[]).unwrap();
    assert_eq!(p.dataset, "d");
}
