//! Records the git commit the binary was built from, for release manifests.

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok());
    if let Some(c) = commit {
        println!("cargo:rustc-env=BORDERFLOW_GIT_COMMIT={}", c.trim());
    }
    for f in [
        "../../.git/HEAD",
        "../../.git/refs/heads",
        "../../.git/packed-refs",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
}
