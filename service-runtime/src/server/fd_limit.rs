//! The open-file limit: raised to its hard limit at start, and the connection cap kept well
//! below it, so clients cannot take the descriptors the service needs for its own calls,
//! its listener and its probes.

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft limit now in force
/// (`None` where it cannot be read).
pub fn raise_open_file_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => Some(limit),
        Err(err) => {
            tracing::warn!(%err, "could not raise the open-file limit");
            open_file_limit()
        }
    }
}

/// The soft `RLIMIT_NOFILE` in force now (`None` where it cannot be read).
pub fn open_file_limit() -> Option<u64> {
    rlimit::getrlimit(rlimit::Resource::NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// The connection cap: `configured`, but at most half the open-file limit, leaving the
/// other half to outbound calls, the listener and the process's own files.
pub fn connection_cap(configured: u32, open_file_limit: Option<u64>) -> usize {
    let configured = usize::try_from(configured).unwrap_or(usize::MAX);
    match open_file_limit {
        Some(limit) => configured
            .min(usize::try_from(limit / 2).unwrap_or(usize::MAX))
            .max(1),
        None => configured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_half_the_descriptors_free() {
        assert_eq!(connection_cap(10_000, Some(256)), 128);
        assert_eq!(connection_cap(10_000, Some(1 << 20)), 10_000);
        assert_eq!(connection_cap(10_000, None), 10_000);
        assert_eq!(connection_cap(10_000, Some(1)), 1);
    }

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let raised = raise_open_file_limit();
        let hard = rlimit::getrlimit(rlimit::Resource::NOFILE)
            .ok()
            .map(|(_, hard)| hard);
        assert!(raised.is_some());
        // macOS caps the soft limit below an unlimited hard one; Linux raises it all the way.
        if cfg!(target_os = "linux") {
            assert_eq!(raised, hard);
        }
    }
}
