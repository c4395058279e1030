//! The platform clock: the one source of "now" for domain and gateway code (rules that
//! expire, reclaim, remind and measure; tokens and sessions). It is the system clock, plus an
//! offset that only builds with the `movable-clock` feature can set: the test builds turn it
//! on (through a dev-dependency), so a test moves every process of a suite through weeks in
//! seconds, while a release build has no way to move it at all.
//!
//! A test moves the clock by writing the offset, in microseconds, to the file named by
//! `CRM_TEST_CLOCK_FILE`. Each process reads it at its first clock reading and then every
//! 20 ms, and after taking a new value writes it to `<file>.<pid>`, so the test knows when
//! every process has moved.
//!
//! Timers that measure durations for the machinery (idle connections, cache lifetimes,
//! rate-limit buckets) use `Instant`: they never decide what a date is.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current time in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    system_micros() + offset_micros()
}

fn system_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or_default()
}

#[cfg(not(feature = "movable-clock"))]
fn offset_micros() -> i64 {
    0
}

#[cfg(feature = "movable-clock")]
fn offset_micros() -> i64 {
    movable::offset_micros()
}

#[cfg(feature = "movable-clock")]
mod movable {
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::time::Duration;

    /// The environment variable naming the offset file.
    const FILE_VAR: &str = "CRM_TEST_CLOCK_FILE";

    static OFFSET: AtomicI64 = AtomicI64::new(0);
    static WATCH: OnceLock<()> = OnceLock::new();

    pub(super) fn offset_micros() -> i64 {
        WATCH.get_or_init(|| {
            if let Some(file) = std::env::var_os(FILE_VAR).map(PathBuf::from) {
                // The first reading already follows the file: a process started after a move
                // starts moved.
                apply(&file);
                std::thread::spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_millis(20));
                        apply(&file);
                    }
                });
            }
        });
        OFFSET.load(Ordering::Relaxed)
    }

    fn apply(file: &Path) {
        let Ok(text) = std::fs::read_to_string(file) else {
            return;
        };
        let Ok(offset) = text.trim().parse::<i64>() else {
            return;
        };
        if OFFSET.swap(offset, Ordering::Relaxed) != offset {
            let ack = file.with_extension(std::process::id().to_string());
            let _ = std::fs::write(ack, offset.to_string());
        }
    }
}
