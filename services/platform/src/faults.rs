//! Fault points: named places where a test makes a process fail on purpose, to show that
//! what follows a failure (a retry, a restart) finishes the work exactly once. A point is
//! armed by the `FAILPOINTS` variable of the process, in the format of the `fail` crate
//! (`lead-conversion-after-customer=1*return` fails the first pass only). Only builds with
//! the `fault-points` feature have them: the test builds turn it on, and a release build
//! compiles every point to nothing.

use crate::error::Error;

/// Fails with `UNAVAILABLE` when the test has armed the point `name`; passes otherwise.
pub fn check(name: &str) -> Result<(), Error> {
    #[cfg(feature = "fault-points")]
    armed::check(name)?;
    #[cfg(not(feature = "fault-points"))]
    let _ = name;
    Ok(())
}

#[cfg(feature = "fault-points")]
mod armed {
    use std::sync::OnceLock;

    use crate::error::Error;

    static ARMED: OnceLock<()> = OnceLock::new();

    pub(super) fn check(name: &str) -> Result<(), Error> {
        ARMED.get_or_init(|| {
            let points = std::env::var("FAILPOINTS").unwrap_or_default();
            for point in points.split(';').filter(|p| !p.trim().is_empty()) {
                if let Some((point, actions)) = point.split_once('=')
                    && let Err(why) = fail::cfg(point.trim(), actions.trim())
                {
                    tracing::warn!(point, why, "a fault point could not be armed");
                }
            }
        });
        fail::fail_point!(name, |_| Err(Error::Unavailable(format!(
            "fault point {name} fired"
        ))));
        Ok(())
    }
}
