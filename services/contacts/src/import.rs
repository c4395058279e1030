//! Importing accounts and contacts from rows (parsed CSV or structured rows).
//!
//! Rows are written in batches, one transaction a batch and a savepoint a row: a refused
//! row rolls back to its savepoint, so nothing of it is written, while its neighbours are.
//! A dry run does everything and rolls each batch back. Every row goes through the same
//! checks as CreateContact/CreateAccount (fields, custom fields, references, duplicates).

use sea_orm::{DatabaseTransaction, TransactionTrait};

use crate::entity::custom_field::Model as Definition;
use crate::handlers::{Handlers, check_links, check_owner};
use crate::resource::Action;
use crate::tabular::{Row, Tabular};
use crate::{custom_fields, index, store};
use crm_platform::auth::Principal;
use crm_platform::csv::{CsvError, CsvReader};
use crm_platform::error::{Error, FieldViolation};
use crm_platform::time::now_micros;
use crm_proto::contacts::{
    DuplicatePolicy, ImportError, ImportOutcome, ImportRecordsResponse, ImportRow, ImportRowResult,
};

/// Rows per transaction.
pub const BATCH_ROWS: usize = 250;
/// Most row results a response lists.
const MAX_RESULTS: usize = 10_000;

/// How an import runs.
#[derive(Debug, Clone, Copy)]
pub struct ImportSettings {
    /// Write nothing.
    pub dry_run: bool,
    /// What to do with duplicates.
    pub policy: DuplicatePolicy,
}

/// One row to import: its number and its cells, or why it could not be read.
pub type NumberedRow = (i64, Result<Row, Vec<FieldViolation>>);

/// The running totals of an import.
#[derive(Debug, Default)]
pub struct Tally(ImportRecordsResponse);

impl Tally {
    fn note(&mut self, row: i64, outcome: ImportOutcome, id: String, errors: Vec<FieldViolation>) {
        let r = &mut self.0;
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
                        column: e.field,
                        description: e.description,
                    })
                    .collect(),
            });
        }
    }

    /// The response.
    pub fn finish(mut self, dry_run: bool) -> ImportRecordsResponse {
        self.0.dry_run = dry_run;
        self.0
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

impl Handlers {
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
        let txn = crm_platform::db::begin_write(&self.db).await?;
        // Read once for the batch, under the lock a record write takes on them.
        let definitions =
            custom_fields::definitions(&txn, &principal.tenant_id, R::KIND, true).await?;
        let mut touched = Vec::new();
        for (number, row) in rows {
            let row = match row {
                Ok(row) => row,
                Err(errors) => {
                    tally.note(number, ImportOutcome::Failed, String::new(), errors);
                    continue;
                }
            };
            let savepoint = txn.begin().await?;
            match self
                .import_row::<R>(&savepoint, principal, settings, (row, &definitions))
                .await
            {
                Ok((outcome, id)) => {
                    savepoint.commit().await?;
                    if outcome == ImportOutcome::Updated {
                        touched.push(id.clone());
                    }
                    tally.note(number, outcome, id, Vec::new());
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

    /// Imports one row inside its savepoint.
    async fn import_row<R: Tabular>(
        &self,
        txn: &DatabaseTransaction,
        principal: &Principal,
        settings: ImportSettings,
        (row, definitions): (Row, &[Definition]),
    ) -> Result<(ImportOutcome, String), Error> {
        let (input, mask) = R::from_row(&row).map_err(Error::InvalidArgument)?;
        let owner = R::keys(&input).1.to_owned();
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
            (id.clone(), now_micros()),
            input.clone(),
            &self.keys,
        )?;
        custom_fields::check_with::<R>(definitions, &mut model, None)?;
        check_links::<R>(txn, principal, &model).await?;
        let duplicate = index::find_duplicate::<R>(txn, &principal.tenant_id, &model).await?;
        let existing = match (duplicate, settings.policy) {
            (None, _) | (Some(_), DuplicatePolicy::Create) => {
                self.insert_new::<R>(txn, principal, &model).await?;
                return Ok((ImportOutcome::Created, id));
            }
            (Some((existing, _)), DuplicatePolicy::Skip) => {
                return Ok((ImportOutcome::Skipped, existing));
            }
            (Some((existing, _)), _) => existing,
        };
        // Update: the duplicate must be the caller's to change.
        let current = store::find::<R, _>(txn, principal, &existing)
            .await
            .map_err(|_| {
                Error::precondition(
                    "DUPLICATE_NOT_VISIBLE",
                    "duplicates a record outside your data scope; it was not changed",
                )
            })?;
        let mut next = R::update(&current, input, &mask, &self.keys)?;
        custom_fields::check_with::<R>(definitions, &mut next, Some(&current))?;
        check_links::<R>(txn, principal, &next).await?;
        self.save_change::<R>(txn, principal, &current, next, Action::Update, &[])
            .await?;
        Ok((ImportOutcome::Updated, existing))
    }
}
