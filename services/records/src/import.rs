//! Importing any resource's records from rows (parsed CSV or structured rows).
//!
//! Rows are written in batches, one transaction a batch. Every row is first checked like a
//! create of the resource (fields, owner, custom values, references) with reads only, so
//! a refused row leaves nothing; duplicates are then looked up for the whole batch at once
//! (its keys locked in one statement) and the new records written in a few multi-row
//! statements with their index entries, audit entries and events. Updates of duplicates go
//! one at a time, each in a savepoint. A dry run does everything and rolls each batch back.

use crm_platform::clock;
use sea_orm::{DatabaseTransaction, TransactionTrait};

use crate::entity::custom_field::Model as Definition;
use crate::handlers::{Records, check_links, check_owner};
use crate::resource::{Action, IndexKey};
use crate::tabular::{Row, Tabular};
use crate::{custom_fields, index, store};
use crm_platform::auth::Principal;
use crm_platform::csv::{CsvError, CsvReader};
use crm_platform::error::{Error, FieldViolation};
use crm_proto::ImportTotals;
use crm_proto::common::{DuplicatePolicy, ImportError, ImportOutcome, ImportRow, ImportRowResult};

/// Rows per transaction.
pub const BATCH_ROWS: usize = 256;
/// Most row results a response lists.
pub const MAX_RESULTS: usize = 10_000;

/// How an import runs.
#[derive(Debug, Clone, Copy)]
pub struct ImportSettings {
    /// Write nothing.
    pub dry_run: bool,
    /// What to do with duplicates.
    pub policy: DuplicatePolicy,
    /// Rows that name no owner go to whom the tenant's assignment rule picks, not to the
    /// importer.
    pub assign_by_rule: bool,
}

/// One row to import: its number and its cells, or why it could not be read.
pub type NumberedRow = (i64, Result<Row, Vec<FieldViolation>>);

/// The running totals of an import of one resource type.
#[derive(Debug)]
pub struct Tally {
    kind: &'static str,
    summary: ImportTotals,
}

impl Tally {
    /// Totals of an import of `kind` records.
    pub fn new(kind: &'static str) -> Self {
        Self {
            kind,
            summary: ImportTotals::default(),
        }
    }

    fn note(&mut self, row: i64, outcome: ImportOutcome, id: String, errors: Vec<FieldViolation>) {
        let kind = self.kind;
        let r = &mut self.summary;
        r.rows += 1;
        match outcome {
            ImportOutcome::Created => {
                r.created += 1;
                return;
            }
            ImportOutcome::Updated => r.updated += 1,
            ImportOutcome::Skipped => r.skipped += 1,
            ImportOutcome::Failed | ImportOutcome::Unspecified => r.failed += 1,
        }
        if r.results.len() < MAX_RESULTS {
            r.results.push(ImportRowResult {
                row,
                outcome: outcome as i32,
                id,
                errors: errors
                    .into_iter()
                    .map(|e| ImportError {
                        column: crate::tabular::column_of(kind, &e.field),
                        description: e.description,
                        field: e.field,
                    })
                    .collect(),
            });
        }
    }

    /// What the import did.
    pub fn finish(mut self, dry_run: bool) -> ImportTotals {
        self.summary.dry_run = dry_run;
        self.summary.results.sort_by_key(|r| r.row);
        self.summary
    }
}

/// A refusal as row errors: field violations as they are, anything else as one error.
fn row_errors(error: Error) -> Vec<FieldViolation> {
    match error {
        Error::InvalidArgument(violations) => violations,
        Error::AlreadyExists { message, .. } | Error::FailedPrecondition { message, .. } => {
            vec![FieldViolation {
                field: String::new(),
                description: message,
            }]
        }
        Error::NotFound { resource, id } => vec![FieldViolation {
            field: String::new(),
            description: format!("no {resource} `{id}`"),
        }],
        other => vec![FieldViolation {
            field: String::new(),
            description: format!("{other}"),
        }],
    }
}

/// Most rows one import call takes; a larger file is split into several calls.
pub const MAX_ROWS: i64 = 1_000_000;

/// Refuses an import that has grown past [`MAX_ROWS`]. The batches before it stay imported,
/// each whole; importing the file again with the skip policy finishes it.
pub fn check_row_count(read: i64) -> Result<(), Error> {
    if read > MAX_ROWS {
        return Err(Error::invalid(
            "csv",
            format!("an import takes at most {MAX_ROWS} rows; split the file into several"),
        ));
    }
    Ok(())
}

/// Turns the data messages of an import into numbered rows: CSV text (a header of column
/// names, then rows) or structured rows, not both.
#[derive(Debug, Default)]
pub struct RowReader {
    csv: Option<CsvReader>,
    header: Option<Vec<String>>,
    structured: bool,
    next_row: i64,
}

fn whole_row_error(description: String) -> Vec<FieldViolation> {
    vec![FieldViolation {
        field: String::new(),
        description,
    }]
}

impl RowReader {
    /// How many rows (the header aside) have been read.
    pub fn rows_read(&self) -> i64 {
        self.next_row
    }

    fn number(&mut self) -> i64 {
        self.next_row += 1;
        self.next_row
    }

    fn records(&mut self, records: Vec<Result<Vec<String>, CsvError>>, out: &mut Vec<NumberedRow>) {
        for record in records {
            let Some(header) = &self.header else {
                match record {
                    Ok(names) => {
                        self.header = Some(names.iter().map(|n| n.trim().to_lowercase()).collect());
                    }
                    Err(e) => {
                        let row = self.number();
                        out.push((row, Err(whole_row_error(format!("the header {e}")))));
                    }
                }
                continue;
            };
            let cells = match record {
                Ok(cells) if cells.len() <= header.len() => {
                    Ok(header.iter().cloned().zip(cells).collect::<Row>())
                }
                Ok(cells) => Err(whole_row_error(format!(
                    "has {} cells; the header names {}",
                    cells.len(),
                    header.len()
                ))),
                Err(e) => Err(whole_row_error(format!("the row {e}"))),
            };
            let row = self.number();
            out.push((row, cells));
        }
    }

    /// Reads the next CSV bytes.
    pub fn csv(&mut self, bytes: &[u8], out: &mut Vec<NumberedRow>) -> Result<(), Error> {
        if self.structured {
            return Err(Error::invalid(
                "csv",
                "an import sends CSV or rows, not both",
            ));
        }
        let records = self.csv.get_or_insert_with(CsvReader::new).push(bytes);
        self.records(records, out);
        Ok(())
    }

    /// Reads structured rows.
    pub fn structured(
        &mut self,
        rows: Vec<ImportRow>,
        out: &mut Vec<NumberedRow>,
    ) -> Result<(), Error> {
        if self.csv.is_some() {
            return Err(Error::invalid(
                "rows",
                "an import sends CSV or rows, not both",
            ));
        }
        self.structured = true;
        for row in rows {
            let number = self.number();
            let cells = row
                .values
                .into_iter()
                .map(|(k, v)| (k.trim().to_lowercase(), v))
                .collect();
            out.push((number, Ok(cells)));
        }
        Ok(())
    }

    /// Ends the input: the CSV's last line may have had no line end.
    pub fn finish(&mut self, out: &mut Vec<NumberedRow>) {
        if let Some(reader) = self.csv.take() {
            let records = reader.finish();
            self.records(records, out);
        }
    }
}

impl Records {
    /// Imports one batch of rows, adding their outcomes to `tally`. Errors that are not a
    /// row's own (the database is gone) end the import.
    pub async fn import_batch<R: Tabular>(
        &self,
        principal: &Principal,
        settings: ImportSettings,
        rows: Vec<NumberedRow>,
        tally: &mut Tally,
    ) -> Result<(), Error> {
        principal.require(R::WRITE)?;
        if R::KEYS_UNIQUE && settings.policy == DuplicatePolicy::Create {
            return Err(Error::invalid(
                "options.duplicate_policy",
                format!(
                    "a {} is unique by its key; skip or update duplicates",
                    R::KIND
                ),
            ));
        }
        if settings.assign_by_rule && !R::ASSIGNED_BY_RULE {
            return Err(Error::invalid(
                "options.assign_by_rule",
                format!("a {} has no assignment rule", R::KIND),
            ));
        }
        let txn = crm_platform::db::begin_write(&self.db).await?;
        // Read once for the batch, under the lock a record write takes on them.
        let definitions =
            custom_fields::definitions(&txn, &principal.tenant_id, R::KIND, true).await?;
        // 1. Check every row; nothing is written yet, so a refused row leaves nothing.
        let mut ready = Vec::with_capacity(rows.len());
        // The new records whose rows named no owner.
        let mut unowned = std::collections::HashSet::new();
        for (number, row) in rows {
            let checked = match row {
                Ok(row) => self
                    .prepare::<R>(&txn, principal, &definitions, &row)
                    .await
                    .map(|(model, named)| (row, model, named)),
                Err(errors) => Err(Error::InvalidArgument(errors)),
            };
            match checked {
                Ok((row, model, named)) => {
                    if !named {
                        unowned.insert(R::stamps(&model).id);
                    }
                    ready.push((number, row, model));
                }
                Err(e @ (Error::Internal(_) | Error::Unavailable(_))) => return Err(e),
                Err(e) => tally.note(number, ImportOutcome::Failed, String::new(), row_errors(e)),
            }
        }
        // 2. Duplicates against the tenant's records and the batch's earlier rows.
        let keys: Vec<IndexKey> = ready
            .iter()
            .flat_map(|(_, _, model)| index::duplicate_keys::<R>(model))
            .collect();
        let mut holders = index::holders::<R>(&txn, &principal.tenant_id, &keys).await?;
        // A duplicate outside the importer's reach is skipped without its id, whatever the
        // policy: it is someone else's customer, neither to be named nor changed.
        let held: Vec<String> = holders.values().cloned().collect();
        let owners = index::owners::<R>(&txn, &principal.tenant_id, &held).await?;
        let reachable = |id: &str| {
            owners
                .get(id)
                .is_some_and(|o| crate::resource::reaches::<R>(principal, o))
        };
        let mut fresh = Vec::with_capacity(ready.len());
        let mut updates = Vec::new();
        for (number, row, model) in ready {
            let model_keys = index::duplicate_keys::<R>(&model);
            let duplicate = model_keys.iter().find_map(|k| holders.get(k)).cloned();
            let duplicate = duplicate.map(|id| {
                let new_in_batch = !owners.contains_key(&id);
                (new_in_batch || reachable(&id), id)
            });
            match (duplicate, settings.policy) {
                (Some((false, _)), DuplicatePolicy::Skip | DuplicatePolicy::Update) => {
                    tally.note(number, ImportOutcome::Skipped, String::new(), Vec::new());
                }
                (Some((true, id)), DuplicatePolicy::Skip) => {
                    tally.note(number, ImportOutcome::Skipped, id, Vec::new());
                }
                (Some((true, _)), DuplicatePolicy::Update) => updates.push((number, (row, model))),
                _ => {
                    let id = R::stamps(&model).id;
                    for key in model_keys {
                        holders.entry(key).or_insert_with(|| id.clone());
                    }
                    tally.note(number, ImportOutcome::Created, id, Vec::new());
                    fresh.push(model);
                }
            }
        }
        // 3. The new records, in a few statements; those naming no owner first go by the
        // rule when asked (after the duplicates, which take no turn of it).
        if settings.assign_by_rule {
            let to_assign = fresh
                .iter_mut()
                .filter(|model| unowned.contains(&R::stamps(model).id))
                .collect();
            R::assign_by_rule(&txn, &principal.tenant_id, to_assign).await?;
        }
        self.insert_new_many::<R>(&txn, principal, &fresh).await?;
        // 4. Updates of duplicates, one at a time (each reads and changes one record).
        let mut touched = Vec::new();
        for (number, model) in updates {
            let savepoint = txn.begin().await?;
            match self
                .update_duplicate::<R>(&savepoint, principal, &definitions, model)
                .await
            {
                Ok(id) => {
                    savepoint.commit().await?;
                    touched.push(id.clone());
                    tally.note(number, ImportOutcome::Updated, id, Vec::new());
                }
                Err(e @ (Error::Internal(_) | Error::Unavailable(_))) => return Err(e),
                Err(e) => {
                    savepoint.rollback().await?;
                    tally.note(number, ImportOutcome::Failed, String::new(), row_errors(e));
                }
            }
        }
        if settings.dry_run {
            txn.rollback().await?;
            return Ok(());
        }
        txn.commit().await?;
        self.relay.wake();
        for id in touched {
            self.forget(&principal.tenant_id, R::KIND, &id).await;
        }
        Ok(())
    }

    /// A row's new record, checked like a create (fields, owner, the resource's own checks,
    /// custom values, references), and whether the row named its owner; reads only.
    async fn prepare<R: Tabular>(
        &self,
        txn: &DatabaseTransaction,
        principal: &Principal,
        definitions: &[Definition],
        row: &Row,
    ) -> Result<(R::Model, bool), Error> {
        let (input, _) = R::from_row(row).map_err(Error::InvalidArgument)?;
        let owner = R::keys(&input).1.to_owned();
        let named = !owner.is_empty();
        let owner_id = if owner.is_empty() {
            principal.user_id.clone()
        } else {
            check_owner::<R>(principal, &owner)?;
            owner
        };
        let id = uuid::Uuid::now_v7().to_string();
        let mut model = R::create(
            &principal.tenant_id,
            owner_id,
            (id, clock::now_micros()),
            input,
            &self.write_context(principal),
        )?;
        R::before_write(txn, principal, None, &mut model).await?;
        custom_fields::check_with::<R>(definitions, &mut model, None)?;
        check_links::<R>(txn, principal, &model).await?;
        Ok((model, named))
    }

    /// Updates the record a row duplicates with the row's columns (the duplicate policy
    /// "update"), inside the row's savepoint; returns its id.
    async fn update_duplicate<R: Tabular>(
        &self,
        txn: &DatabaseTransaction,
        principal: &Principal,
        definitions: &[Definition],
        row: (Row, R::Model),
    ) -> Result<String, Error> {
        let (row, model) = row;
        let Some((existing, _)) =
            index::find_duplicate::<R>(txn, &principal.tenant_id, &model).await?
        else {
            return Err(Error::precondition(
                "DUPLICATE_GONE",
                "the record this row duplicated changed meanwhile; import the row again",
            ));
        };
        let (input, mask) = R::from_row(&row).map_err(Error::InvalidArgument)?;
        // The duplicate must be the caller's to change.
        let current = store::find::<R, _>(txn, principal, &existing)
            .await
            .map_err(|_| {
                Error::precondition(
                    "DUPLICATE_NOT_VISIBLE",
                    "duplicates a record outside your data scope; it was not changed",
                )
            })?;
        let mut next = R::update(&current, input, &mask, &self.write_context(principal))?;
        R::before_write(txn, principal, Some(&current), &mut next).await?;
        custom_fields::check_with::<R>(definitions, &mut next, Some(&current))?;
        check_links::<R>(txn, principal, &next).await?;
        self.save_change::<R>(txn, principal, &current, next, Action::Update, &[])
            .await?;
        Ok(existing)
    }
}
