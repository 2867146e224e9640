//! The Bookinfo calls a request's handling makes, kept for its hop report: the outbound
//! client adds each attempt while a [`record`] is running on the same task.

use std::{
    future::Future,
    sync::{Arc, Mutex},
};

use super::{Attempt, report::MAX_ATTEMPTS};

tokio::task_local! {
    static ATTEMPTS: Arc<Mutex<Vec<Attempt>>>;
}

/// Runs `future` and returns its output with the attempts its outbound calls made, in the
/// order they ended. Calls made on other tasks (`tokio::spawn`) are not seen.
pub async fn record<F: Future>(future: F) -> (F::Output, Vec<Attempt>) {
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let output = ATTEMPTS.scope(attempts.clone(), future).await;
    let recorded = attempts
        .lock()
        .map(|mut attempts| std::mem::take(&mut *attempts))
        .unwrap_or_default();
    (output, recorded)
}

/// Whether a [`record`] is running on this task.
pub(crate) fn recording() -> bool {
    ATTEMPTS.try_with(|_| ()).is_ok()
}

/// Keeps `attempt` for the running [`record`], if any, up to [`MAX_ATTEMPTS`].
pub(crate) fn push(attempt: Attempt) {
    let _ = ATTEMPTS.try_with(|attempts| {
        if let Ok(mut attempts) = attempts.lock()
            && attempts.len() < MAX_ATTEMPTS
        {
            attempts.push(attempt);
        }
    });
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn attempt(destination: &str) -> Attempt {
        Attempt {
            destination: destination.to_owned(),
            status: Some(200),
            error: None,
            duration: Duration::from_millis(1),
            callee: None,
            callee_app_ms: None,
        }
    }

    #[tokio::test]
    async fn a_record_sees_its_own_task_only() {
        assert!(!recording());
        push(attempt("ignored"));
        let ((), attempts) = record(async {
            assert!(recording());
            push(attempt("details"));
            for _ in 0..MAX_ATTEMPTS + 5 {
                push(attempt("reviews"));
            }
            tokio::spawn(async { push(attempt("elsewhere")) })
                .await
                .unwrap();
        })
        .await;
        assert_eq!(attempts.len(), MAX_ATTEMPTS);
        assert_eq!(attempts[0].destination, "details");
        assert!(attempts.iter().all(|a| a.destination != "elsewhere"));
        assert!(!recording());
    }
}
