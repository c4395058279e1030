//! Tenant-wide data stays in its tenant, through the gateway in both modes: groups, custom
//! fields, pool rules, duplicate sets, birthdays, exports, imports and API keys of one tenant
//! are invisible to another, and the other's writes never touch them. Birthdays are also
//! scoped to the caller's own customers.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use crm_proto::common::Date;
use crm_proto::contacts::*;
use support::clients::Session;
use support::{Mode, Suite, org};

async fn create_group(session: &Session, name: &str) -> Result<Group, tonic::Status> {
    Ok(session
        .contacts()
        .create_group(CreateGroupRequest {
            group: Some(Group {
                display_name: name.into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .group
        .unwrap())
}

async fn create_field(
    session: &Session,
    name: &str,
) -> Result<CustomFieldDefinition, tonic::Status> {
    Ok(session
        .contacts()
        .create_custom_field(CreateCustomFieldRequest {
            custom_field: Some(CustomFieldDefinition {
                resource_type: "contact".into(),
                name: name.into(),
                display_name: name.into(),
                r#type: CustomFieldType::Text as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .custom_field
        .unwrap())
}

async fn pool_rules(session: &Session) -> PoolRules {
    session
        .contacts()
        .get_pool_rules(GetPoolRulesRequest {
            resource_type: "contact".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .rules
        .unwrap()
}

async fn set_rules(session: &Session, days: i32) {
    session
        .contacts()
        .update_pool_rules(UpdatePoolRulesRequest {
            rules: Some(PoolRules {
                resource_type: "contact".into(),
                return_after_days: days,
                ..Default::default()
            }),
        })
        .await
        .unwrap();
}

async fn born(session: &Session, name: &str, phone: &str) -> Contact {
    session
        .contacts()
        .create_contact(CreateContactRequest {
            contact: Some(Contact {
                display_name: name.into(),
                phone: phone.into(),
                birthday: Some(Date {
                    year: 1990,
                    month: 6,
                    day: 15,
                }),
                ..Default::default()
            }),
            allow_duplicates: true,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap()
}

async fn birthday_names(session: &Session) -> Vec<String> {
    let mut names: Vec<String> = session
        .contacts()
        .list_birthdays(ListBirthdaysRequest {
            start: Some(Date {
                year: 0,
                month: 6,
                day: 1,
            }),
            end: Some(Date {
                year: 0,
                month: 6,
                day: 30,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .contacts
        .into_iter()
        .map(|c| c.display_name)
        .collect();
    names.sort();
    names
}

async fn duplicate_sets(session: &Session) -> usize {
    session
        .contacts()
        .find_duplicates(FindDuplicatesRequest {
            resource_type: "contact".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .sets
        .len()
}

async fn export_text(session: &Session) -> String {
    let mut stream = session
        .contacts()
        .export_records(ExportRecordsRequest {
            resource_type: "contact".into(),
            filter: String::new(),
            format: ExportFormat::Csv as i32,
        })
        .await
        .unwrap()
        .into_inner();
    let mut file = Vec::new();
    while let Some(part) = stream.message().await.unwrap() {
        file.extend(part.chunk);
    }
    String::from_utf8(file).unwrap()
}

async fn tenant_wide_data_stays_in_its_tenant(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "tenants").await;
    let platform = suite.admin().await;
    let stranger = org::other_tenant(&suite, &platform, "tenants-other").await;

    // One tenant's definitions: the other lists none of them and may use the same names.
    let ours = create_group(&admin, "Key accounts").await.unwrap();
    create_field(&admin, "segment").await.unwrap();
    let theirs = create_group(&stranger, "Key accounts").await.unwrap();
    assert_ne!(theirs.id, ours.id);
    create_field(&stranger, "segment").await.unwrap();
    let listed = stranger
        .contacts()
        .list_groups(ListGroupsRequest {})
        .await
        .unwrap()
        .into_inner()
        .groups;
    let listed: Vec<&str> = listed.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(listed, [theirs.id.as_str()]);

    // Pool rules are each tenant's own.
    set_rules(&admin, 10).await;
    assert_eq!(pool_rules(&stranger).await.return_after_days, 0);
    set_rules(&stranger, 99).await;
    assert_eq!(pool_rules(&admin).await.return_after_days, 10);

    // Customers: duplicates, birthdays and exports see only the caller's tenant, and
    // birthdays only the caller's own customers.
    born(&o.rep1, "Rep one's twin A", "13800138001").await;
    born(&o.rep1, "Rep one's twin B", "13800138001").await;
    born(&o.rep2, "Rep two's customer", "13900139002").await;
    assert_eq!(duplicate_sets(&admin).await, 1);
    assert_eq!(duplicate_sets(&stranger).await, 0);
    assert_eq!(
        birthday_names(&o.rep1).await,
        ["Rep one's twin A", "Rep one's twin B"]
    );
    assert_eq!(birthday_names(&o.rep2).await, ["Rep two's customer"]);
    assert!(birthday_names(&stranger).await.is_empty());
    assert!(export_text(&admin).await.contains("Rep two's customer"));
    assert!(!export_text(&stranger).await.contains("Rep"));

    // An import in the other tenant does not see this tenant's customers as duplicates.
    let imported = stranger
        .contacts()
        .import_records(tokio_stream::iter(vec![
            ImportRecordsRequest {
                part: Some(import_records_request::Part::Options(ImportOptions {
                    resource_type: "contact".into(),
                    dry_run: false,
                    duplicate_policy: DuplicatePolicy::Skip as i32,
                })),
            },
            ImportRecordsRequest {
                part: Some(import_records_request::Part::Csv(
                    b"display_name,phone\r\nTheir customer,13800138001\r\n".to_vec(),
                )),
            },
        ]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((imported.created, imported.skipped), (1, 0));

    // API keys are listed in their own tenant only.
    let key = admin
        .identity()
        .create_api_key(crm_proto::identity::CreateApiKeyRequest {
            display_name: "ERP".into(),
            user_id: String::new(),
            permissions: vec!["contacts.contacts.read".into()],
        })
        .await
        .unwrap()
        .into_inner()
        .api_key
        .unwrap();
    let their_keys = stranger
        .identity()
        .list_api_keys(crm_proto::identity::ListApiKeysRequest::default())
        .await
        .unwrap()
        .into_inner()
        .api_keys;
    assert!(their_keys.iter().all(|k| k.id != key.id));
}

both_modes!(tenant_wide_data_stays_in_its_tenant);
