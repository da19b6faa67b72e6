//! The `fieldpay` command line, run as a real process.

fn fieldpay(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    crate::common::fieldpay_cmd(&format!("sqlite://{}/cli.db", dir.display()))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn migrate_company_create_and_jobs() {
    let dir = std::env::temp_dir().join(format!("fieldpay-cli-{}", fieldpay::crypto::new_id("t")));
    std::fs::create_dir_all(&dir).unwrap();

    let out = fieldpay(&dir, &["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("cli.db").exists());
    assert!(
        dir.join("cli.db.secret").exists(),
        "the secret is generated beside the database"
    );

    let out = fieldpay(
        &dir,
        &[
            "company",
            "create",
            "--name",
            "Acme Pest",
            "--owner-email",
            "owner@acme.example",
            "--owner-password",
            "long enough pw",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert!(json["company_id"].as_str().unwrap().starts_with("co_"));
    assert!(json["api_key"].as_str().unwrap().starts_with("fpk_"));

    // The same owner twice is refused with a message, not a panic.
    let out = fieldpay(
        &dir,
        &[
            "company",
            "create",
            "--name",
            "Acme 2",
            "--owner-email",
            "owner@acme.example",
            "--owner-password",
            "long enough pw",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    // The jobs at an instant given on the command line: now, by the system
    // clock the process reads too.
    let now = fieldpay::domain::Clock::system()
        .now()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let out = fieldpay(&dir, &["jobs", "run", "--once", "--now", &now]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Lines an operator reads, not a debug dump; `--json` for scripts.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Messages: 0 sent"), "{text}");
    assert!(!text.contains("RunReport"), "{text}");
    let out = fieldpay(&dir, &["jobs", "run", "--once", "--now", &now, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["delivered"]["sent"], 0);
    assert_eq!(report["reconciled"]["still_pending"], 0);
    let out = fieldpay(&dir, &["jobs", "run", "--once", "--now", "yesterday"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_database_url_is_a_clear_error() {
    let out = crate::common::fieldpay_cmd("mysql://nope")
        .args(["migrate"])
        .env(
            "FIELDPAY_SECRET_KEY",
            fieldpay::crypto::Secret::generate().encoded(),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("FIELDPAY_DATABASE_URL must look like sqlite://PATH")
    );
}
