//! Key files: created owner-only, never overwritten, refused when exposed; pseudonyms follow
//! docs/design.md §5 exactly.

use std::os::unix::fs::PermissionsExt;

use borderflow_pseudo::{KeyError, PseudonymKey, Pseudonymiser};
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[test]
fn keygen_writes_32_owner_only_bytes_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    let key = PseudonymKey::generate().unwrap();
    key.write_new(&path).unwrap();
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.len(), 32);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let loaded = PseudonymKey::load_file(&path).unwrap();
    assert_eq!(loaded.fingerprint(), key.fingerprint());

    let before = std::fs::read(&path).unwrap();
    let err = PseudonymKey::generate()
        .unwrap()
        .write_new(&path)
        .unwrap_err();
    assert!(matches!(err, KeyError::Exists { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn two_generated_keys_differ() {
    let a = PseudonymKey::generate().unwrap();
    let b = PseudonymKey::generate().unwrap();
    assert_ne!(a.fingerprint(), b.fingerprint());
}

#[test]
fn an_exposed_key_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    PseudonymKey::generate().unwrap().write_new(&path).unwrap();
    for mode in [0o640, 0o604, 0o644, 0o660] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = PseudonymKey::load_file(&path).unwrap_err().to_string();
        assert!(err.contains("accessible to group or others"), "{err}");
        assert!(err.contains("chmod 600"), "{err}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    assert!(PseudonymKey::load_file(&path).is_ok());
}

#[test]
fn missing_and_malformed_keys_fail_without_showing_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = PseudonymKey::load_file(&missing).unwrap_err().to_string();
    assert!(
        err.contains("does not exist") && err.contains("borderflow keygen"),
        "{err}"
    );

    let short = dir.path().join("short");
    std::fs::write(&short, b"0123456789abcdef").unwrap();
    std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = PseudonymKey::load_file(&short).unwrap_err().to_string();
    assert!(err.contains("does not hold a 32-byte key"), "{err}");
    assert!(!err.contains("0123456789abcdef"), "{err}");
}

#[test]
fn hex_keys_from_the_environment_match_raw_key_files() {
    let bytes: [u8; 32] = std::array::from_fn(|i| i as u8 * 7);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // SAFETY: this test alone touches this variable.
    unsafe { std::env::set_var("BORDERFLOW_TEST_KEY_HEX", format!("{hex}\n")) };
    let from_env = PseudonymKey::load_env("BORDERFLOW_TEST_KEY_HEX").unwrap();
    assert_eq!(
        from_env.fingerprint(),
        PseudonymKey::from_bytes(bytes).fingerprint()
    );
    let err = PseudonymKey::load_env("BORDERFLOW_TEST_KEY_UNSET").unwrap_err();
    assert!(matches!(err, KeyError::EnvMissing { .. }));
    let dbg = format!("{from_env:?}");
    assert!(!dbg.contains(&hex[..16]), "{dbg}");
}

#[test]
fn pseudonym_is_truncated_hmac_of_the_normalised_id() {
    let bytes = [42u8; 32];
    let mut p = Pseudonymiser::new(&PseudonymKey::from_bytes(bytes));
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&bytes).unwrap();
    mac.update(b"borderflow/v1/254712345678");
    let want = mac.finalize().into_bytes();
    assert_eq!(p.pseudonym("254712345678").unwrap().0, want[..16]);
    // One SIM written two ways gets one pseudonym.
    assert_eq!(
        p.pseudonym(" +254 712-345.678 "),
        p.pseudonym("254712345678")
    );
    assert_ne!(p.pseudonym("254712345679"), p.pseudonym("254712345678"));
    assert_eq!(p.pseudonym("  "), None);
    // Another key, another pseudonym.
    let mut q = Pseudonymiser::new(&PseudonymKey::from_bytes([43u8; 32]));
    assert_ne!(q.pseudonym("254712345678"), p.pseudonym("254712345678"));
}
