//! Document numbers people read and say: a tenant's quotes, orders or tickets numbered
//! 1, 2, 3 in the order their transactions take them. The counter row is bumped by an upsert
//! inside the writing transaction, so concurrent writers queue on its row lock (PostgreSQL)
//! or the single writer (SQLite): no number is issued twice, and a rolled-back write gives
//! its number back.

use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbErr, Iden};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::entity::document_number::{Column, Entity};
use crm_platform::error::Error;

/// The next number of `kind` for the tenant, in `txn`.
pub async fn next<C: ConnectionTrait>(txn: &C, tenant_id: &str, kind: &str) -> Result<i64, Error> {
    let bump = Query::insert()
        .into_table(Entity)
        .columns([Column::TenantId, Column::Kind, Column::Last])
        .values([tenant_id.into(), kind.into(), 1_i64.into()])
        .map_err(|e| Error::internal(e.to_string()))?
        .on_conflict(
            OnConflict::columns([Column::TenantId, Column::Kind])
                .value(Column::Last, Expr::col((Entity, Column::Last)).add(1))
                .to_owned(),
        )
        .returning_col(Column::Last)
        .to_owned();
    let row = txn
        .query_one_raw(txn.get_database_backend().build(&bump))
        .await?
        .ok_or_else(|| Error::internal("the number counter returned no row"))?;
    Ok(row.try_get::<i64>("", &Column::Last.to_string())?)
}

/// `number` as people see it: the prefix and at least six digits ("Q-000042").
pub fn format(prefix: &str, number: i64) -> String {
    format!("{prefix}-{number:06}")
}

/// Creates the counters' table in a service's database.
pub struct NumberTables;

impl MigrationName for NumberTables {
    fn name(&self) -> &str {
        "m20261204_000000_create_document_numbers"
    }
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for NumberTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("document_numbers")
                    .if_not_exists()
                    .col(string("tenant_id"))
                    .col(string("kind"))
                    .col(big_integer("last"))
                    .primary_key(Index::create().col("tenant_id").col("kind"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::schema::drop_tables(manager, &["document_numbers"]).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_read_with_six_digits_at_least() {
        assert_eq!(super::format("Q", 42), "Q-000042");
        assert_eq!(super::format("Q", 1_234_567), "Q-1234567");
    }
}
