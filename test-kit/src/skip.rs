//! Tests that need an outside tool: skipped with a printed reason, or failed when CI requires the tool.

/// A test's outside tool (Envoy, Chromium, Docker, MariaDB): `found`, or `None` after printing
/// `SKIPPED <test>: <why>` (see [`report_skip`]); a panic instead when `require_variable` is
/// `1`, as CI sets it after installing the tool.
pub fn tool_or_skip<T>(test: &str, require_variable: &str, found: Result<T, String>) -> Option<T> {
    match found {
        Ok(tool) => Some(tool),
        Err(why) if std::env::var(require_variable).is_ok_and(|v| v == "1") => {
            panic!("{require_variable}=1 but {why}")
        }
        Err(why) => {
            report_skip(test, &why);
            None
        }
    }
}

/// Prints `SKIPPED <test>: <why>` on the process's real stderr: libtest captures `println!`
/// and `eprintln!` of a passing test, so `cargo test` would show a skipped test as passed
/// with no word of why.
pub fn report_skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {test}: {why}");
}
