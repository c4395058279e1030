//! Identity numbers were masked keeping their first three and last four characters, which
//! showed a resident ID's region and its check digits. The masked forms kept on each contact
//! (and in its audit entries) now keep the first and last character only. The originals are
//! sealed, so the narrower mask is taken from the old one: its ends are the number's ends.
//!
//! Exports recorded their filter whole, sensitive values included; those values are starred.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

use crate::sensitive::{mask_id_document, redacted_filter};
use crm_platform::audit::Change;

/// Rewrites stored identity-number masks and recorded export filters.
pub(super) struct NarrowIdMasks;

impl MigrationName for NarrowIdMasks {
    fn name(&self) -> &str {
        "m20261201_000001_narrow_id_masks"
    }
}

#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for NarrowIdMasks {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let masked = Expr::col("id_document_masked").ne("");
        rewrite(db, ("contacts", "id_document_masked"), masked, |old| {
            Some(mask_id_document(old))
        })
        .await?;
        let contact_masks = Expr::col("resource_type")
            .eq("contact")
            .and(Expr::col("changes").like("%id_document_number%"));
        rewrite(db, ("audit_log", "changes"), contact_masks, |text| {
            rewrite_changes(text, "id_document_number", |change| {
                change.before = mask_id_document(&change.before);
                change.after = mask_id_document(&change.after);
            })
        })
        .await?;
        let exports = Expr::col("action").eq("export");
        rewrite(db, ("audit_log", "changes"), exports, |text| {
            rewrite_changes(text, "filter", |change| {
                // Recorded as `<filter> (<FORMAT>)`.
                change.after = match change.after.rsplit_once(" (") {
                    Some((filter, format)) => format!("{} ({format}", redacted_filter(filter)),
                    None => redacted_filter(&change.after),
                };
            })
        })
        .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The wider masks cannot be recovered from the narrow ones, nor should they be.
        Ok(())
    }
}

/// Applies `edit` to the recorded changes of `field` in an audit entry's JSON; `None` when the
/// entry does not parse or nothing changes.
fn rewrite_changes(text: &str, field: &str, edit: impl Fn(&mut Change)) -> Option<String> {
    let mut changes: Vec<Change> = serde_json::from_str(text).ok()?;
    changes
        .iter_mut()
        .filter(|c| c.field == field)
        .for_each(edit);
    serde_json::to_string(&changes).ok()
}

/// Rewrites `column` of the rows of `table` that `filter` selects, a batch at a time in id
/// order; `new` returns the new text, or `None` to leave a row as it is.
async fn rewrite<C: ConnectionTrait>(
    db: &C,
    (table, column): (&'static str, &'static str),
    filter: SimpleExpr,
    new: impl Fn(&str) -> Option<String>,
) -> Result<(), DbErr> {
    const BATCH: u64 = 500;
    let backend = db.get_database_backend();
    let mut after = String::new();
    loop {
        let select = Query::select()
            .columns(["id", column])
            .from(table)
            .and_where(filter.clone())
            .and_where(Expr::col("id").gt(after.as_str()))
            .order_by("id", Order::Asc)
            .limit(BATCH)
            .to_owned();
        let rows = db.query_all_raw(backend.build(&select)).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get("", "id")?;
        for row in &rows {
            let id: String = row.try_get("", "id")?;
            let old: String = row.try_get("", column)?;
            let Some(text) = new(&old).filter(|text| *text != old) else {
                continue;
            };
            let update = Query::update()
                .table(table)
                .value(column, text)
                .and_where(Expr::col("id").eq(id.as_str()))
                .to_owned();
            db.execute_raw(backend.build(&update)).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm_migration::MigratorTrait as _;
    use sea_orm_migration::sea_orm::{ConnectionTrait as _, Database, Statement};

    use crate::migration::Migrator;

    async fn one(db: &impl sea_orm_migration::sea_orm::ConnectionTrait, sql: &str) -> String {
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index(0).unwrap()
    }

    #[tokio::test]
    async fn wide_masks_and_recorded_filters_are_narrowed() {
        let path = std::env::temp_dir().join(format!("narrow-masks-{}.db", uuid::Uuid::now_v7()));
        let db = Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        let before = Migrator::migrations()
            .iter()
            .position(|m| m.name() == "m20261201_000001_narrow_id_masks")
            .unwrap();
        Migrator::up(&db, Some(before as u32)).await.unwrap();
        for sql in [
            "INSERT INTO contacts (id, tenant_id, owner_id, given_name, family_name, \
             display_name, email, phone, title, account_id, id_document_masked, version, \
             create_time, update_time) VALUES ('c1', 't1', 'u1', '', '', 'Chen', '', '', '', \
             '', '440***********2312', 1, 0, 0)",
            "INSERT INTO audit_log (id, tenant_id, resource_type, resource_id, action, actor_id, \
             client, changes, create_time) VALUES ('a1', 't1', 'contact', 'c1', 'update', 'u1', \
             'user', '[{\"field\":\"id_document_number\",\"before\":\"\",\"after\":\"440***********2312\"}]', 0)",
            "INSERT INTO audit_log (id, tenant_id, resource_type, resource_id, action, actor_id, \
             client, changes, create_time) VALUES ('a2', 't1', 'contact', '', 'export', 'u1', \
             'user', '[{\"field\":\"filter\",\"before\":\"\",\"after\":\"bank_card_number = \\\"4111111111111111\\\" (EXPORT_FORMAT_CSV)\"}]', 0)",
        ] {
            db.execute_unprepared(sql).await.unwrap();
        }
        Migrator::up(&db, None).await.unwrap();
        assert_eq!(
            one(&db, "SELECT id_document_masked FROM contacts").await,
            "4****************2"
        );
        let update = one(&db, "SELECT changes FROM audit_log WHERE id = 'a1'").await;
        assert!(
            update.contains("4****************2") && !update.contains("440"),
            "{update}"
        );
        let export = one(&db, "SELECT changes FROM audit_log WHERE id = 'a2'").await;
        assert!(
            export.contains(r#"bank_card_number = \"***\" (EXPORT_FORMAT_CSV)"#),
            "{export}"
        );
        drop(db);
        let _ = std::fs::remove_file(path);
    }
}
