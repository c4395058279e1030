//! Identity numbers were masked keeping their first three and last four characters, which
//! showed a resident ID's region and its check digits. The masked forms kept on each contact
//! (and in its audit entries) now keep the first and last character only. The originals are
//! sealed, so the narrower mask is taken from the old one: its ends are the number's ends.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

/// Rewrites stored identity-number masks.
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
        const BATCH: u64 = 500;
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        let mut after = String::new();
        loop {
            let select = Query::select()
                .columns(["id", "id_document_masked"])
                .from("contacts")
                .and_where(Expr::col("id_document_masked").ne(""))
                .and_where(Expr::col("id").gt(after.as_str()))
                .order_by("id", Order::Asc)
                .limit(BATCH)
                .to_owned();
            let rows = db.query_all_raw(backend.build(&select)).await?;
            let Some(last) = rows.last() else {
                break;
            };
            after = last.try_get("", "id")?;
            for row in &rows {
                let id: String = row.try_get("", "id")?;
                let old: String = row.try_get("", "id_document_masked")?;
                let narrowed = crate::sensitive::mask_id_document(&old);
                if narrowed == old {
                    continue;
                }
                let update = Query::update()
                    .table("contacts")
                    .value("id_document_masked", narrowed)
                    .and_where(Expr::col("id").eq(id.as_str()))
                    .to_owned();
                db.execute_raw(backend.build(&update)).await?;
            }
        }
        // Audit entries recorded the old masks as before and after values.
        redact_audit_masks(db).await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // The wider masks cannot be recovered from the narrow ones, nor should they be.
        Ok(())
    }
}

/// Narrows the identity-number values in the audit entries of contacts.
async fn redact_audit_masks<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    const BATCH: u64 = 500;
    let backend = db.get_database_backend();
    let mut after = String::new();
    loop {
        let select = Query::select()
            .columns(["id", "changes"])
            .from("audit_log")
            .and_where(Expr::col("resource_type").eq("contact"))
            .and_where(Expr::col("changes").like("%id_document_number%"))
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
            let text: String = row.try_get("", "changes")?;
            let Ok(mut changes) = serde_json::from_str::<Vec<crm_platform::audit::Change>>(&text)
            else {
                continue;
            };
            for change in changes
                .iter_mut()
                .filter(|c| c.field == "id_document_number")
            {
                change.before = crate::sensitive::mask_id_document(&change.before);
                change.after = crate::sensitive::mask_id_document(&change.after);
            }
            let rewritten =
                serde_json::to_string(&changes).map_err(|e| DbErr::Custom(e.to_string()))?;
            if rewritten == text {
                continue;
            }
            let update = Query::update()
                .table("audit_log")
                .value("changes", rewritten)
                .and_where(Expr::col("id").eq(id.as_str()))
                .to_owned();
            db.execute_raw(backend.build(&update)).await?;
        }
    }
}
