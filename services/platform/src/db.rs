//! Database connections: SQLite files for the embedded mode, PostgreSQL in production.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::config::ConfigError;
use crate::error::Error;

/// Opens a pool on `url` (`sqlite://...` or `postgres://...`) and checks it answers.
pub async fn connect(url: &str) -> Result<DatabaseConnection, ConfigError> {
    let sqlite = url.starts_with("sqlite:");
    let mut options = ConnectOptions::new(url.to_owned());
    options
        // SQLite has one writer; a small pool avoids lock contention. PostgreSQL gets a few
        // connections per core.
        .max_connections(if sqlite { 4 } else { 16 })
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        // sqlx pings a connection before every checkout by default: one more round trip per
        // query. A dead connection shows up as an error on use instead (UNAVAILABLE, retried
        // by the caller), and the pool replaces it.
        .test_before_acquire(false)
        .sqlx_logging(false);
    let db = Database::connect(options).await.map_err(|e| {
        ConfigError(format!(
            "cannot connect to database {}: {e}",
            redact_password(url)
        ))
    })?;
    if sqlite {
        // WAL lets readers run beside the writer; NORMAL sync is durable across process crashes.
        for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"] {
            db.execute_unprepared(pragma)
                .await
                .map_err(|e| ConfigError(format!("cannot configure sqlite: {e}")))?;
        }
    }
    Ok(db)
}

/// Applies a service's pending migrations.
pub async fn migrate<M: MigratorTrait>(db: &DatabaseConnection) -> Result<(), Error> {
    M::up(db, None).await?;
    Ok(())
}

/// Begins a transaction that will write. On SQLite it takes the write lock up front
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads first cannot upgrade to a writer
/// once another writer has committed, and would fail instead of waiting. PostgreSQL ignores
/// the option.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, Error> {
    Ok(db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?)
}

/// Serialises transactions that touch the same logical keys (for example "tenant t, phone
/// +86..."), which no unique index can express. On PostgreSQL each key takes a
/// transaction-scoped advisory lock, in sorted order so two writers cannot deadlock; on SQLite
/// write transactions are already serial.
pub async fn lock_keys(txn: &DatabaseTransaction, keys: &[String]) -> Result<(), Error> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let mut hashes: Vec<i64> = keys.iter().map(|k| stable_hash(k)).collect();
    hashes.sort_unstable();
    hashes.dedup();
    if hashes.is_empty() {
        return Ok(());
    }
    // One round trip for all keys, taken in ascending order so two writers that share keys
    // cannot deadlock on them.
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest($1::bigint[]) AS k ORDER BY 1) AS keys",
        [hashes.into()],
    ))
    .await?;
    Ok(())
}

/// FNV-1a: a hash that is the same in every process and release, as lock keys must be.
fn stable_hash(key: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

/// Hides the password of a database URL for messages.
pub fn redact_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Tells whether a database error is a unique-key violation (a lost insert race).
pub fn is_unique_violation(err: &Error) -> bool {
    match err {
        Error::Internal(message) => {
            let message = message.to_ascii_lowercase();
            message.contains("unique") || message.contains("duplicate key")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_appear_in_messages() {
        assert_eq!(
            redact_password("postgres://crm:secret@db:5432/crm"),
            "postgres://crm:***@db:5432/crm"
        );
        assert_eq!(redact_password("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}

/// Splits `items` into chunks of `max` (a power of two), then the rest into descending powers
/// of two. Multi-row statements then come in a few fixed sizes, so each connection prepares
/// each size once and reuses it, instead of parsing a new statement of every length.
pub fn fixed_chunks<T>(items: &[T], max: usize) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    let mut rest = items;
    let mut size = max.max(1);
    while !rest.is_empty() {
        while size > rest.len() {
            size /= 2;
        }
        let (chunk, tail) = rest.split_at(size);
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

#[cfg(test)]
mod chunk_tests {
    use super::fixed_chunks;

    #[test]
    fn chunks_come_in_powers_of_two() {
        let items: Vec<u32> = (0..1300).collect();
        let sizes: Vec<usize> = fixed_chunks(&items, 512).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [512, 512, 256, 16, 4]);
        assert!(fixed_chunks::<u32>(&[], 512).is_empty());
    }
}
