//! Running a transaction again when it lost a race the database resolved by aborting it
//! (deadlock, serialization failure, SQLite busy).

use crate::error::Result;
use std::future::Future;
use std::time::Duration;

/// Runs a transaction again when it lost a race the database resolved by aborting it
/// (deadlock, serialization failure, SQLite busy).
/// Runs a transaction again (a few times, with a short jittered pause) while it fails with a
/// transient error: a busy SQLite database, a PostgreSQL deadlock or serialization failure.
pub async fn retry<T, E, F, Fut>(mut attempt: F) -> std::result::Result<T, E>
where
    E: crate::error::Transient,
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
{
    let mut tries = 0u32;
    loop {
        match attempt().await {
            Err(e) if e.is_transient() && tries < 8 => {
                tries += 1;
                let jitter = rand::random_range(0..10u64);
                tokio::time::sleep(Duration::from_millis(5 * u64::from(tries) + jitter)).await;
            }
            result => return result,
        }
    }
}

/// [`retry`] for the engine's own transactions.
pub(crate) async fn retry_transient<T, F, Fut>(attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    retry(attempt).await
}
