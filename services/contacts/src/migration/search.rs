//! Customer search: the grams of every live record's names, phones and emails.

use sea_orm_migration::prelude::*;

use sea_orm_migration::sea_orm::{ConnectionTrait, EntityTrait};

/// Adds `search_grams`.
pub(super) struct AddSearch;

impl MigrationName for AddSearch {
    fn name(&self) -> &str {
        "m20261123_000007_add_search"
    }
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for AddSearch {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(crm_records::schema::search_grams())
            .await?;
        manager
            .create_index(crm_records::schema::search_grams_by_record())
            .await?;
        // Records written before search existed are indexed now.
        let db = manager.get_connection();
        backfill(db, "accounts", &["phone", "email", "website"]).await?;
        backfill(db, "contacts", &["phones", "emails"]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("search_grams").to_owned())
            .await
    }
}

/// Indexes every live record of `table`, a batch at a time. Reads only the columns it needs,
/// by name, so it stays right as later migrations add columns.
async fn backfill<C: ConnectionTrait>(
    db: &C,
    table: &'static str,
    extra: &'static [&'static str],
) -> Result<(), DbErr> {
    const BATCH: u64 = 500;
    let kind = if table == "accounts" {
        "account"
    } else {
        "contact"
    };
    let mut after = String::new();
    loop {
        let mut select = Query::select();
        select
            .columns(["id", "tenant_id", "owner_id", "display_name"])
            .columns(extra.iter().copied())
            .from(table)
            .and_where(Expr::col("delete_time").is_null())
            .and_where(Expr::col("id").gt(after.as_str()))
            .order_by("id", Order::Asc)
            .limit(BATCH);
        let rows = db
            .query_all_raw(db.get_database_backend().build(&select))
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get("", "id")?;
        let mut postings = Vec::new();
        for row in &rows {
            let text = |column: &str| row.try_get::<String>("", column);
            let mut fields = vec![("display_name", text("display_name")?)];
            for column in extra {
                match *column {
                    "phones" | "emails" => {
                        let name = if *column == "phones" {
                            "phone"
                        } else {
                            "email"
                        };
                        for point in
                            crate::fields::from_json::<crate::fields::StoredPoint>(&text(column)?)
                        {
                            fields.push((name, point.value));
                        }
                    }
                    "phone" => fields.push(("phone", text(column)?)),
                    "email" => fields.push(("email", text(column)?)),
                    _ => fields.push(("website", text(column)?)),
                }
            }
            let (id, tenant_id, owner_id) = (text("id")?, text("tenant_id")?, text("owner_id")?);
            let record = crate::search::Posting {
                tenant_id: &tenant_id,
                owner_id: &owner_id,
                kind,
                id: &id,
            };
            postings.extend(record.rows(&fields));
        }
        for chunk in postings.chunks(1000) {
            crate::entity::search_gram::Entity::insert_many(chunk.to_vec())
                .exec(db)
                .await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm_migration::MigratorTrait as _;
    use sea_orm_migration::sea_orm::{ConnectionTrait as _, Database};

    use crate::migration::Migrator;

    #[tokio::test]
    async fn records_written_before_search_are_indexed() {
        let path =
            std::env::temp_dir().join(format!("search-backfill-{}.db", uuid::Uuid::now_v7()));
        let db = Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        let before_search = Migrator::migrations()
            .iter()
            .position(|m| m.name() == "m20261123_000007_add_search")
            .unwrap();
        Migrator::up(&db, Some(before_search as u32)).await.unwrap();
        db.execute_unprepared(
            "INSERT INTO contacts (id, tenant_id, owner_id, given_name, family_name, display_name, \
             email, phone, title, account_id, phones, emails, version, create_time, update_time) \
             VALUES ('c1', 't1', 'u1', '', '', '深圳华强 Li', '', '+8613800138000', '', '', \
             '[{\"value\":\"+8613800138000\",\"primary\":true}]', '[]', 1, 0, 0)",
        )
        .await
        .unwrap();
        Migrator::up(&db, None).await.unwrap();
        let grams: Vec<String> = db
            .query_all_raw(sea_orm_migration::sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT gram FROM search_grams WHERE record_id = 'c1' AND owner_id = 'u1'",
            ))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get("", "gram").unwrap())
            .collect();
        for gram in ["华强", "1380", "li"] {
            assert!(grams.iter().any(|g| g == gram), "{gram} in {grams:?}");
        }
        drop(db);
        let _ = std::fs::remove_file(path);
    }
}
