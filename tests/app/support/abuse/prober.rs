//! A prober that asks `/health` on a new connection every 250 ms, as the kubelet does, and
//! fails the test on any answer not `200` within 1 s.

use super::*;

/// Asks `GET /health` on a fresh connection every 250 ms, as the kubelet does, until stopped;
/// each must be answered 200 within a second. It runs on a thread and runtime of its own, so
/// the attack it watches, sent from this process, does not delay its own questions.
pub struct HealthProber {
    failures: Arc<Mutex<Vec<String>>>,
    asked: Arc<Mutex<u64>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HealthProber {
    pub fn start(addr: SocketAddr) -> Self {
        let failures = Arc::new(Mutex::new(Vec::new()));
        let asked = Arc::new(Mutex::new(0));
        let (failures_seen, asked_seen) = (failures.clone(), asked.clone());
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                failures_seen
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push("the prober's runtime did not start".to_owned());
                return;
            };
            runtime.block_on(async move {
                loop {
                    let started = Instant::now();
                    let outcome = timeout(Duration::from_secs(1), probe(addr)).await;
                    let failure = match outcome {
                        Ok(Ok(200)) => None,
                        Ok(Ok(status)) => Some(format!("/health answered {status}")),
                        Ok(Err(why)) => Some(why),
                        Err(_) => Some("/health: no answer within 1 s".to_owned()),
                    };
                    *asked_seen.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                    if let Some(failure) = failure {
                        failures_seen
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(format!("{failure} (after {:?})", started.elapsed()));
                    }
                    tokio::select! {
                        _ = &mut stopped => break,
                        () = tokio::time::sleep_until(started + Duration::from_millis(250)) => {}
                    }
                }
            });
        });
        Self {
            failures,
            asked,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops probing; returns how many probes were sent and the failures.
    pub fn stop(mut self) -> (u64, Vec<String>) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let asked = *self.asked.lock().unwrap_or_else(|p| p.into_inner());
        let failures =
            std::mem::take(&mut *self.failures.lock().unwrap_or_else(|p| p.into_inner()));
        (asked, failures)
    }
}

async fn probe(addr: SocketAddr) -> Result<u16, String> {
    let sender = connect(addr, Protocol::Http1).await?;
    let Sender::Http1(sender) = sender else {
        return Err("not HTTP/1.1".to_owned());
    };
    let request = Request::get("/health")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .map_err(|err| err.to_string())?;
    let response = sender
        .lock()
        .await
        .send_request(request)
        .await
        .map_err(|err| format!("/health: {err}"))?;
    Ok(response.status().as_u16())
}
