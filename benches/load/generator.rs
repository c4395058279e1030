//! The load generator: closed loop (a fixed number of callers, each sending as soon as the
//! previous answer arrives: finds the maximum rate) and open loop (a fixed schedule of sends:
//! latency at a given rate, measured from the scheduled time so a stalled server cannot hide
//! its queueing). Latencies go into HDR histograms.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// What one run measured.
pub(crate) struct Report {
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    pub(crate) elapsed: Duration,
    pub(crate) latency_us: Histogram<u64>,
}

impl Report {
    pub(crate) fn rps(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn p50_ms(&self) -> f64 {
        self.latency_us.value_at_quantile(0.50) as f64 / 1000.0
    }

    pub(crate) fn p99_ms(&self) -> f64 {
        self.latency_us.value_at_quantile(0.99) as f64 / 1000.0
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Runs `concurrency` callers for `duration`; `call(i)` sends request number `i`.
pub(crate) async fn closed_loop<F, Fut, E>(
    concurrency: usize,
    duration: Duration,
    call: F,
) -> Report
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: std::fmt::Debug,
{
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let call = call.clone();
        let counter = Arc::clone(&counter);
        workers.push(tokio::spawn(async move {
            let (mut hist, mut ok, mut errors) = (histogram(), 0u64, 0u64);
            while Instant::now() < deadline {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let sent = Instant::now();
                match call(i).await {
                    Ok(()) => {
                        ok += 1;
                        let _ = hist.record(sent.elapsed().as_micros() as u64);
                    }
                    Err(e) => {
                        if errors == 0 {
                            eprintln!("  first error: {e:?}");
                        }
                        errors += 1;
                    }
                }
            }
            (hist, ok, errors)
        }));
    }
    let mut report = Report {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency_us: histogram(),
    };
    for worker in workers {
        let (hist, ok, errors) = worker.await.expect("worker finished");
        report.latency_us.add(hist).expect("same bounds");
        report.ok += ok;
        report.errors += errors;
    }
    report.elapsed = start.elapsed();
    report
}

/// Sends at `rate` per second for `duration`, each send on its own task at its scheduled time.
pub(crate) async fn open_loop<F, Fut, E>(rate: f64, duration: Duration, call: F) -> Report
where
    F: Fn(u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Debug + Send + 'static,
{
    let start = Instant::now();
    let total = (rate * duration.as_secs_f64()) as u64;
    let mut sends = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(scheduled.into()).await;
        let call = call.clone();
        sends.push(tokio::spawn(async move {
            let result = call(i).await;
            (result.is_ok(), scheduled.elapsed())
        }));
    }
    let mut report = Report {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency_us: histogram(),
    };
    for send in sends {
        let (ok, latency) = send.await.expect("send finished");
        if ok {
            report.ok += 1;
            let _ = report.latency_us.record(latency.as_micros() as u64);
        } else {
            report.errors += 1;
        }
    }
    report.elapsed = start.elapsed();
    report
}
