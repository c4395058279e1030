//! Tenant-wide data stays in its tenant, through the gateway in both modes: groups, custom
//! fields, pool rules, duplicate sets, birthdays, exports, imports and API keys of one tenant
//! are invisible to another, and the other's writes never touch them. Birthdays are also
//! scoped to the caller's own customers.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use crm_proto::common::Date;
use crm_proto::common::{
    CustomFieldDefinition, CustomFieldType, DuplicatePolicy, ExportFormat, ImportOptions,
};
use crm_proto::contacts::*;
use crm_proto::identity::{GetTenantRequest, ListAuditEntriesRequest, Tenant, UpdateTenantRequest};
use support::clients::{Session, expect_code, expect_invalid};
use support::{Mode, Suite, org};
use tonic::Code;

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
                    assign_by_rule: false,
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

async fn get_tenant(session: &Session) -> Result<Tenant, tonic::Status> {
    Ok(session
        .identity()
        .get_tenant(GetTenantRequest {})
        .await?
        .into_inner()
        .tenant
        .unwrap())
}

async fn update_tenant(
    session: &Session,
    tenant: Tenant,
    paths: &[&str],
    request_id: &str,
) -> Result<Tenant, tonic::Status> {
    Ok(session
        .identity()
        .update_tenant(UpdateTenantRequest {
            tenant: Some(tenant),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| p.to_string()).collect(),
            }),
            request_id: request_id.into(),
        })
        .await?
        .into_inner()
        .tenant
        .unwrap())
}

async fn contact_with_phone(session: &Session, name: &str, phone: &str) -> Contact {
    session
        .contacts()
        .create_contact(CreateContactRequest {
            contact: Some(Contact {
                display_name: name.into(),
                phone: phone.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap()
}

/// A tenant's settings: everyone reads them, only its admin changes them (etag, request id,
/// audit), another tenant neither sees nor changes them, and the phone region reads the
/// numbers its people write without a country code from their next call on.
async fn tenant_settings_read_phone_numbers(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "settings").await;
    let platform = suite.admin().await;
    let stranger = org::other_tenant(&suite, &platform, "settings-other").await;

    let ours = get_tenant(&o.rep1).await.unwrap();
    assert_eq!(ours.phone_region, "CN");
    assert_eq!(get_tenant(&admin).await.unwrap(), ours);
    let theirs = get_tenant(&stranger).await.unwrap();
    assert_ne!(theirs.id, ours.id);

    // Bad input names its field; a rep and a manager may not change the tenant.
    let gb = || Tenant {
        phone_region: "gb".into(),
        etag: ours.etag.clone(),
        ..Default::default()
    };
    for bad in ["G", "ZZ", "001", "GBR", "中国"] {
        let tenant = Tenant {
            phone_region: bad.into(),
            ..Default::default()
        };
        expect_invalid(
            update_tenant(&admin, tenant, &["phone_region"], "").await,
            "tenant.phone_region",
        );
    }
    expect_invalid(
        update_tenant(&admin, Tenant::default(), &["display_name"], "").await,
        "tenant.display_name",
    );
    expect_invalid(
        update_tenant(&admin, gb(), &["create_time"], "").await,
        "update_mask",
    );
    for refused in [&o.rep1, &o.manager] {
        expect_code(
            update_tenant(refused, gb(), &["phone_region"], "").await,
            Code::PermissionDenied,
        );
    }
    // Naming another tenant answers as an unknown id does, and changes nothing there.
    for id in [
        theirs.id.clone(),
        "0190c0c0-0000-7000-8000-000000000000".into(),
    ] {
        let tenant = Tenant { id, ..gb() };
        let status = expect_code(
            update_tenant(&admin, tenant, &["phone_region"], "").await,
            Code::NotFound,
        );
        assert!(status.message().contains("tenant"), "{status:?}");
    }
    assert_eq!(get_tenant(&stranger).await.unwrap(), theirs);

    // Before the change, a number without its code is a mainland one.
    let before = contact_with_phone(&o.rep1, "Guangzhou", "020 7946 0958").await;
    assert_eq!(before.phone, "+862079460958");

    let changed = update_tenant(&admin, gb(), &["phone_region"], "to-britain")
        .await
        .unwrap();
    assert_eq!(changed.phone_region, "GB");
    assert_ne!(changed.etag, ours.etag);
    // A retry with the request id answers the same; a stale etag is refused.
    let replayed = update_tenant(&admin, gb(), &["phone_region"], "to-britain")
        .await
        .unwrap();
    assert_eq!(replayed, changed);
    expect_code(
        update_tenant(&admin, gb(), &["phone_region"], "").await,
        Code::Aborted,
    );
    assert_eq!(get_tenant(&o.rep1).await.unwrap(), changed);
    let audit = admin
        .identity()
        .list_audit_entries(ListAuditEntriesRequest {
            resource_type: "tenant".into(),
            resource_id: ours.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(audit.len(), 1, "{audit:?}");
    let change = &audit[0].changes[0];
    assert_eq!(
        (
            change.field.as_str(),
            change.before.as_str(),
            change.after.as_str()
        ),
        ("phone_region", "CN", "GB")
    );

    // The rep's next call reads the same digits as a London number; the other tenant still
    // reads them in China; numbers with their code read alike everywhere.
    let london = contact_with_phone(&o.rep1, "London", "020 7946 0958").await;
    assert_eq!(london.phone, "+442079460958");
    let mobile = contact_with_phone(&o.rep1, "Mobile", "+86 139 0013 9000").await;
    assert_eq!(mobile.phone, "+8613900139000");
    let there = contact_with_phone(&stranger, "Guangzhou", "020 7946 0958").await;
    assert_eq!(there.phone, "+862079460958");
    // A mainland mobile without its code is no British number.
    let refused = o
        .rep1
        .contacts()
        .create_contact(CreateContactRequest {
            contact: Some(Contact {
                display_name: "Unreadable".into(),
                phone: "13800138000".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    expect_invalid(refused, "contact.phone");
    // An import reads the tenant's region too.
    let csv = "display_name,phone\nImported,020 7946 0000\n";
    let imported = o
        .rep1
        .contacts()
        .import_records(tokio_stream::iter([
            ImportRecordsRequest {
                part: Some(import_records_request::Part::Options(ImportOptions {
                    resource_type: "contact".into(),
                    duplicate_policy: DuplicatePolicy::Skip as i32,
                    assign_by_rule: false,
                    ..Default::default()
                })),
            },
            ImportRecordsRequest {
                part: Some(import_records_request::Part::Csv(csv.as_bytes().to_vec())),
            },
        ]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(imported.created, 1, "{imported:?}");
    let found = o
        .rep1
        .list_contacts("phone = \"+442079460000\"")
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
}

both_modes!(
    tenant_wide_data_stays_in_its_tenant,
    tenant_settings_read_phone_numbers
);
