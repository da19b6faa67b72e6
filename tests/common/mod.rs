//! What every test binary shares (tests/api, tests/browser, tests/faults);
//! each includes it with `#[path = "../common/mod.rs"] mod common;`.

/// Whether the tests run under CI: `CI` is `true` or `1` (in any case).
/// There a missing tool or service (aiosmtpd, localstripe, PostgreSQL,
/// Chromium, a tmpfs mount…) fails the test that needs it; elsewhere the
/// test prints why it is skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| means_ci(&v))
}

fn means_ci(value: &str) -> bool {
    let v = value.trim();
    v == "1" || v.eq_ignore_ascii_case("true")
}

#[test]
fn ci_is_true_or_1_in_any_case() {
    for yes in ["true", "TRUE", "True", "1", " true\n"] {
        assert!(means_ci(yes), "{yes:?}");
    }
    for no in ["", "0", "false", "yes", "no", "2", "truthy"] {
        assert!(!means_ci(no), "{no:?}");
    }
}
