//! Marks the build with `cfg(test_database)` when `TEST_DATABASE_URL` is set,
//! so that without it the PostgreSQL half of the test suite is listed as
//! ignored, with the reason, instead of silently passing.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(test_database)");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=test_database");
    }
}
