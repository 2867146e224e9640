//! Shares as `--user` and `--expect` write them.

/// `50%` → 50: a percentage from 0 to 100 with its sign, as `--user` shares and `--expect`
/// shares are written.
pub fn percentage(text: &str) -> Option<f64> {
    text.strip_suffix('%')
        .and_then(|number| number.parse::<f64>().ok())
        .filter(|percent| (0.0..=100.0).contains(percent))
}
