//! Fixtures shared by the end-to-end tests of the `borderflow` binary: running it, and
//! reading what it printed and wrote.

#![allow(dead_code)] // each test file uses its own share of the fixtures

use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary with `args`.
pub fn borderflow(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_borderflow"))
        .args(args)
        .output()
        .expect("the binary runs")
}

/// What the binary wrote on standard error.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The run succeeded; its standard output.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The run failed with status 1 and one line `error: …` on standard error; that line.
pub fn one_line_error(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let err = stderr(o);
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.starts_with("error: "), "{err:?}");
    err
}

/// The names in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
