//! The tables the machinery keeps in each service's database: the record index, the search
//! grams and the custom field definitions. A new service adds [`RecordTables`] to its
//! migrator; contacts' own earlier migrations build the same tables from the same statements,
//! so every service's tables are alike.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// `record_index`: (record, key) pairs of duplicate keys, labels and custom values.
pub fn record_index() -> TableCreateStatement {
    Table::create()
        .table("record_index")
        .if_not_exists()
        .col(string("tenant_id"))
        .col(string("record_kind"))
        .col(string("record_id"))
        .col(string("key_kind"))
        .col(string("key_value"))
        .primary_key(
            Index::create()
                .col("record_kind")
                .col("record_id")
                .col("key_kind")
                .col("key_value"),
        )
        .to_owned()
}

/// The lookup of a key's holders: tenant, kind, key kind, value.
pub fn record_index_by_value() -> IndexCreateStatement {
    Index::create()
        .name("record_index_by_value")
        .table("record_index")
        .col("tenant_id")
        .col("record_kind")
        .col("key_kind")
        .col("key_value")
        .if_not_exists()
        .to_owned()
}

/// `search_grams`, keyed in the lookup's order: tenant, gram, then owner for scoped searches.
pub fn search_grams() -> TableCreateStatement {
    Table::create()
        .table("search_grams")
        .if_not_exists()
        .col(string("tenant_id"))
        .col(string("gram"))
        .col(string("owner_id"))
        .col(string("record_kind"))
        .col(string("record_id"))
        .primary_key(
            Index::create()
                .col("tenant_id")
                .col("gram")
                .col("owner_id")
                .col("record_kind")
                .col("record_id"),
        )
        .to_owned()
}

/// A record's grams, for rewriting them.
pub fn search_grams_by_record() -> IndexCreateStatement {
    Index::create()
        .name("search_grams_by_record")
        .table("search_grams")
        .col("record_kind")
        .col("record_id")
        .if_not_exists()
        .to_owned()
}

/// `custom_fields`: the tenant's definitions per resource type.
pub fn custom_fields() -> TableCreateStatement {
    Table::create()
        .table("custom_fields")
        .if_not_exists()
        .col(string("id").primary_key())
        .col(string("tenant_id"))
        .col(string("resource_kind"))
        .col(string("name"))
        .col(string("display_name"))
        .col(integer("field_type"))
        .col(boolean("required"))
        .col(text("options"))
        .col(big_integer("version"))
        .col(big_integer("create_time"))
        .col(big_integer("update_time"))
        .to_owned()
}

/// One definition per name and resource type of a tenant.
pub fn custom_fields_by_name() -> IndexCreateStatement {
    Index::create()
        .name("custom_fields_by_name")
        .table("custom_fields")
        .col("tenant_id")
        .col("resource_kind")
        .col("name")
        .unique()
        .if_not_exists()
        .to_owned()
}

/// A plain index: its name, its table and its columns in order.
pub type IndexSpec = (&'static str, &'static str, &'static [&'static str]);

/// Creates `indexes` (those that do not exist yet).
pub async fn create_indexes(
    manager: &SchemaManager<'_>,
    indexes: &[IndexSpec],
) -> Result<(), DbErr> {
    for (name, table, columns) in indexes {
        let mut index = Index::create();
        index.name(*name).table(*table).if_not_exists();
        for column in *columns {
            index.col(*column);
        }
        manager.create_index(index).await?;
    }
    Ok(())
}

/// Drops the tables named, in order.
pub async fn drop_tables(
    manager: &SchemaManager<'_>,
    tables: &[&'static str],
) -> Result<(), DbErr> {
    for table in tables {
        manager
            .drop_table(Table::drop().table(*table).to_owned())
            .await?;
    }
    Ok(())
}

/// Creates the machinery's tables in a new service's database.
pub struct RecordTables;

impl MigrationName for RecordTables {
    fn name(&self) -> &str {
        "m20261202_000001_create_record_tables"
    }
}

// The trait declares `&SchemaManager` without its lifetime; matching it exactly is required.
#[allow(elided_lifetimes_in_paths)]
#[async_trait::async_trait]
impl MigrationTrait for RecordTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [record_index(), search_grams(), custom_fields()] {
            manager.create_table(table).await?;
        }
        for index in [
            record_index_by_value(),
            search_grams_by_record(),
            custom_fields_by_name(),
        ] {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_tables(manager, &["custom_fields", "search_grams", "record_index"]).await
    }
}

/// The columns every record table starts with, then `texts`, `integers` and `long_texts`,
/// then the version, the times and soft deletion.
pub fn record_table(
    name: &'static str,
    texts: &[&'static str],
    integers: &[&'static str],
    long_texts: &[&'static str],
) -> TableCreateStatement {
    let mut table = Table::create();
    table
        .table(name)
        .if_not_exists()
        .col(string("id").primary_key())
        .col(string("tenant_id"))
        .col(string("owner_id"))
        .col(big_integer("owner_since"))
        .col(string("display_name"));
    for column in texts {
        table.col(string(*column));
    }
    for column in integers {
        table.col(integer(*column));
    }
    for column in long_texts {
        table.col(text(*column));
    }
    table
        .col(big_integer("version"))
        .col(big_integer("create_time"))
        .col(big_integer("update_time"))
        .col(big_integer_null("delete_time"))
        .to_owned()
}
