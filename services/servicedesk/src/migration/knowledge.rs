//! The knowledge base: articles, their revisions, and the tickets they solved.

use sea_orm_migration::prelude::*;

use crm_records::schema::record_table;

pub(super) struct CreateKnowledge;

impl MigrationName for CreateKnowledge {
    fn name(&self) -> &str {
        "m20261206_000001_create_knowledge"
    }
}

/// Keyset pages of the tenant's articles; an article's revisions; a ticket's links.
const INDEXES: &[crm_records::schema::IndexSpec] = &[
    (
        "articles_by_tenant_created",
        "articles",
        &["tenant_id", "create_time", "id"],
    ),
    (
        "articles_by_use",
        "articles",
        &["tenant_id", "use_count", "id"],
    ),
];

fn revisions() -> TableCreateStatement {
    Table::create()
        .table("article_revisions")
        .if_not_exists()
        .col(ColumnDef::new("tenant_id").string().not_null())
        .col(ColumnDef::new("article_id").string().not_null())
        .col(ColumnDef::new("revision").integer().not_null())
        .col(ColumnDef::new("title").string().not_null())
        .col(ColumnDef::new("body").text().not_null())
        .col(ColumnDef::new("category").string().not_null())
        .col(ColumnDef::new("editor_id").string().not_null())
        .col(ColumnDef::new("create_time").big_integer().not_null())
        .primary_key(
            Index::create()
                .col("tenant_id")
                .col("article_id")
                .col("revision"),
        )
        .to_owned()
}

/// One row per ticket and article: the primary key makes a second link of the same pair
/// fail in the database, whatever races.
fn links() -> TableCreateStatement {
    Table::create()
        .table("ticket_articles")
        .if_not_exists()
        .col(ColumnDef::new("tenant_id").string().not_null())
        .col(ColumnDef::new("ticket_id").string().not_null())
        .col(ColumnDef::new("article_id").string().not_null())
        .col(ColumnDef::new("linked_by").string().not_null())
        .col(ColumnDef::new("create_time").big_integer().not_null())
        .primary_key(
            Index::create()
                .col("tenant_id")
                .col("ticket_id")
                .col("article_id"),
        )
        .to_owned()
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for CreateKnowledge {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut articles = record_table(
            "articles",
            &["category"],
            &["status", "visibility", "revision"],
            &["body", "tags", "custom_fields"],
        );
        articles
            .col(ColumnDef::new("use_count").big_integer().not_null())
            .col(ColumnDef::new("publish_time").big_integer().null());
        for table in [articles, revisions(), links()] {
            manager.create_table(table).await?;
        }
        crm_records::schema::create_indexes(manager, INDEXES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crm_records::schema::drop_tables(
            manager,
            &["ticket_articles", "article_revisions", "articles"],
        )
        .await
    }
}
