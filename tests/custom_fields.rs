//! Custom fields through the gateway in both modes: definitions per tenant and resource type,
//! values checked and made canonical on every write, filters on them, definition changes that
//! never strand stored values (also under concurrency), merges that keep them, and events.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::HashMap;

use prost_types::FieldMask;
use tonic::Code;

use crm_proto::common::{CustomFieldDefinition, CustomFieldType};
use crm_proto::contacts::*;
use support::clients::{Session, expect_code, expect_invalid, reason, violations};
use support::{Mode, Suite, org};

fn definition(
    resource_type: &str,
    name: &str,
    field_type: CustomFieldType,
    options: &[&str],
) -> CustomFieldDefinition {
    CustomFieldDefinition {
        resource_type: resource_type.into(),
        name: name.into(),
        display_name: name.replace('_', " "),
        r#type: field_type as i32,
        options: options.iter().map(|o| o.to_string()).collect(),
        ..Default::default()
    }
}

async fn define(
    session: &Session,
    custom_field: CustomFieldDefinition,
) -> Result<CustomFieldDefinition, tonic::Status> {
    Ok(session
        .contacts()
        .create_custom_field(CreateCustomFieldRequest {
            custom_field: Some(custom_field),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .custom_field
        .unwrap())
}

async fn set_options(
    session: &Session,
    field: &CustomFieldDefinition,
    options: &[&str],
) -> Result<CustomFieldDefinition, tonic::Status> {
    Ok(session
        .contacts()
        .update_custom_field(UpdateCustomFieldRequest {
            custom_field: Some(CustomFieldDefinition {
                options: options.iter().map(|o| o.to_string()).collect(),
                ..field.clone()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["options".into()],
            }),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .custom_field
        .unwrap())
}

fn values(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn create(
    session: &Session,
    name: &str,
    custom: &[(&str, &str)],
) -> Result<Contact, tonic::Status> {
    Ok(session
        .contacts()
        .create_contact(CreateContactRequest {
            contact: Some(Contact {
                display_name: name.into(),
                custom_fields: values(custom),
                ..Default::default()
            }),
            allow_duplicates: false,
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .contact
        .unwrap())
}

async fn set_values(
    session: &Session,
    contact: &Contact,
    custom: &[(&str, &str)],
) -> Result<Contact, tonic::Status> {
    Ok(session
        .contacts()
        .update_contact(UpdateContactRequest {
            contact: Some(Contact {
                id: contact.id.clone(),
                etag: contact.etag.clone(),
                custom_fields: values(custom),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["custom_fields".into()],
            }),
            allow_duplicates: false,
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .contact
        .unwrap())
}

async fn definitions(session: &Session, resource_type: &str) -> Vec<CustomFieldDefinition> {
    session
        .contacts()
        .list_custom_fields(ListCustomFieldsRequest {
            resource_type: resource_type.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .custom_fields
}

async fn custom_fields(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "custom").await;
    let segment = define(
        &admin,
        definition(
            "contact",
            "segment",
            CustomFieldType::SingleChoice,
            &["Retail", "Wholesale", "零售"],
        ),
    )
    .await
    .unwrap();
    let channels = define(
        &admin,
        definition(
            "contact",
            "channels",
            CustomFieldType::MultiChoice,
            &["wechat", "email", "phone"],
        ),
    )
    .await
    .unwrap();
    for (name, field_type) in [
        ("annual_spend", CustomFieldType::Decimal),
        ("employees", CustomFieldType::Number),
        ("first_order", CustomFieldType::Date),
        ("vip", CustomFieldType::Boolean),
        ("referrer", CustomFieldType::Text),
    ] {
        define(&admin, definition("contact", name, field_type, &[]))
            .await
            .unwrap();
    }
    let mut credit = definition(
        "account",
        "credit_level",
        CustomFieldType::SingleChoice,
        &["A", "B", "C"],
    );
    credit.required = true;
    define(&admin, credit).await.unwrap();

    // A retry with the same request id returns the first answer instead of a conflict.
    let retried = |request_id: &str| {
        let admin = admin.clone();
        let request = CreateCustomFieldRequest {
            custom_field: Some(definition(
                "contact",
                "source_campaign",
                CustomFieldType::Text,
                &[],
            )),
            request_id: request_id.into(),
        };
        async move {
            admin
                .contacts()
                .create_custom_field(request)
                .await
                .map(|r| r.into_inner().custom_field.unwrap())
        }
    };
    let first = retried("cf-retry-1").await.unwrap();
    assert_eq!(retried("cf-retry-1").await.unwrap(), first);
    let conflict = expect_code(retried("cf-retry-2").await, Code::AlreadyExists);
    assert_eq!(reason(&conflict), "CUSTOM_FIELD_EXISTS");

    // Bad definitions name the field; names are unique per type; only admins define.
    for (bad, field) in [
        (
            definition("contact", "2nd", CustomFieldType::Text, &[]),
            "custom_field.name",
        ),
        (
            definition("contact", "x", CustomFieldType::Unspecified, &[]),
            "custom_field.type",
        ),
        (
            definition("contact", "x", CustomFieldType::SingleChoice, &[]),
            "custom_field.options",
        ),
        (
            definition("contact", "x", CustomFieldType::MultiChoice, &["a", "A"]),
            "custom_field.options[1]",
        ),
        (
            definition("contact", "x", CustomFieldType::MultiChoice, &["a;b"]),
            "custom_field.options[0]",
        ),
        (
            definition("contact", "x", CustomFieldType::Number, &["1"]),
            "custom_field.options",
        ),
        (
            definition("lead", "x", CustomFieldType::Text, &[]),
            "custom_field.resource_type",
        ),
    ] {
        expect_invalid(define(&admin, bad).await, field);
    }
    let taken = expect_code(
        define(
            &admin,
            definition("contact", "segment", CustomFieldType::Text, &[]),
        )
        .await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&taken), "CUSTOM_FIELD_EXISTS");
    // The same name on the other resource type is another field.
    define(
        &admin,
        definition("account", "segment", CustomFieldType::Text, &[]),
    )
    .await
    .unwrap();
    expect_code(
        define(
            &o.rep1,
            definition("contact", "mine", CustomFieldType::Text, &[]),
        )
        .await,
        Code::PermissionDenied,
    );
    let listed: Vec<String> = definitions(&o.rep1, "contact")
        .await
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(
        listed,
        [
            "annual_spend",
            "channels",
            "employees",
            "first_order",
            "referrer",
            "segment",
            "source_campaign",
            "vip"
        ]
    );

    // Values are checked and stored in their canonical form.
    let ada = create(
        &o.rep1,
        "Ada",
        &[
            ("segment", "retail"),
            ("channels", "phone; wechat"),
            ("annual_spend", "1200.50"),
            ("employees", "+012"),
            ("first_order", "2024-5-1"),
            ("vip", "TRUE"),
            ("referrer", "  trade fair "),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        ada.custom_fields,
        values(&[
            ("segment", "Retail"),
            ("channels", "wechat;phone"),
            ("annual_spend", "1200.5"),
            ("employees", "12"),
            ("first_order", "2024-05-01"),
            ("vip", "true"),
            ("referrer", "trade fair"),
        ])
    );
    let footprint = suite.contacts_footprint().await;
    let bad = expect_code(
        create(
            &o.rep1,
            "Bad",
            &[
                ("segment", "online"),
                ("employees", "1.5"),
                ("first_order", "2023-02-29"),
                ("unknown", "x"),
            ],
        )
        .await,
        Code::InvalidArgument,
    );
    let mut fields = violations(&bad);
    fields.sort();
    assert_eq!(
        fields,
        [
            "contact.custom_fields[employees]",
            "contact.custom_fields[first_order]",
            "contact.custom_fields[segment]",
            "contact.custom_fields[unknown]",
        ]
    );
    assert_eq!(
        o.rep1.contact_names("").await.unwrap(),
        ["Ada"],
        "nothing written"
    );
    assert_eq!(suite.contacts_footprint().await, footprint);
    // A required field must be given when creating.
    let account = o
        .rep1
        .contacts()
        .create_account(CreateAccountRequest {
            account: Some(Account {
                display_name: "Acme Trading".into(),
                ..Default::default()
            }),
            allow_duplicates: false,
            request_id: String::new(),
        })
        .await;
    expect_invalid(account, "account.custom_fields[credit_level]");

    // An update sets the values it gives, clears empty ones and keeps the rest.
    let ada = set_values(&o.rep1, &ada, &[("employees", "30"), ("vip", "")])
        .await
        .unwrap();
    assert_eq!(ada.custom_fields["employees"], "30");
    assert!(!ada.custom_fields.contains_key("vip"));
    assert_eq!(ada.custom_fields["segment"], "Retail");
    expect_invalid(
        set_values(&o.rep1, &ada, &[("annual_spend", "lots")]).await,
        "contact.custom_fields[annual_spend]",
    );

    // Filters compare values by type, within the caller's data scope.
    create(
        &o.rep1,
        "Bo",
        &[
            ("segment", "Wholesale"),
            ("channels", "email"),
            ("annual_spend", "999.99"),
            ("employees", "-3"),
            ("first_order", "2024-07-01"),
            ("vip", "true"),
        ],
    )
    .await
    .unwrap();
    create(
        &o.rep1,
        "Cy",
        &[("annual_spend", "15000"), ("segment", "零售")],
    )
    .await
    .unwrap();
    create(&o.rep2, "Di", &[("segment", "Retail")])
        .await
        .unwrap();
    for (filter, expected) in [
        (r#"custom.segment = "RETAIL""#, vec!["Ada"]),
        (r#"custom.segment = "零售""#, vec!["Cy"]),
        (r#"custom.segment != "Retail""#, vec!["Bo", "Cy"]),
        (r#"custom.channels : "wechat""#, vec!["Ada"]),
        (r#"custom.channels = "email""#, vec!["Bo"]),
        (r#"custom.annual_spend > "1000""#, vec!["Ada", "Cy"]),
        (r#"custom.annual_spend <= "1200.5""#, vec!["Ada", "Bo"]),
        (r#"custom.employees < "0""#, vec!["Bo"]),
        (r#"custom.employees >= "12""#, vec!["Ada"]),
        (r#"custom.first_order < "2024-06-01""#, vec!["Ada"]),
        (r#"custom.vip = "true""#, vec!["Bo"]),
        (r#"custom.referrer = "Trade Fair""#, vec!["Ada"]),
        (
            r#"custom.segment = "Retail" AND custom.annual_spend > "1000""#,
            vec!["Ada"],
        ),
    ] {
        assert_eq!(
            o.rep1.contact_names(filter).await.unwrap(),
            expected,
            "{filter}"
        );
    }
    assert_eq!(
        o.manager
            .contact_names(r#"custom.segment = "Retail""#)
            .await
            .unwrap(),
        ["Ada", "Di"]
    );
    for bad in [
        r#"custom.nope = "x""#,
        r#"custom.segment > "Retail""#,
        r#"custom.employees = "many""#,
        r#"custom.channels = "wechat;email""#,
    ] {
        expect_invalid(o.rep1.contact_names(bad).await, "filter");
    }

    // Definitions change without stranding values: an option in use stays, a stale etag is
    // refused, name and type are fixed.
    let refused = expect_code(
        set_options(&admin, &segment, &["Wholesale", "零售"]).await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&refused), "OPTION_IN_USE");
    let segment = set_options(&admin, &segment, &["Retail", "Wholesale", "零售", "Online"])
        .await
        .unwrap();
    expect_code(
        set_options(&admin, &channels, &["wechat"]).await,
        Code::FailedPrecondition,
    );
    let stale = CustomFieldDefinition {
        etag: "\"1\"".into(),
        ..segment.clone()
    };
    expect_code(
        set_options(&admin, &stale, &["Retail"]).await,
        Code::Aborted,
    );
    let fixed = admin
        .contacts()
        .update_custom_field(UpdateCustomFieldRequest {
            custom_field: Some(segment.clone()),
            update_mask: Some(FieldMask {
                paths: vec!["type".into()],
            }),
            request_id: String::new(),
        })
        .await;
    expect_invalid(fixed, "update_mask");
    expect_code(
        set_options(&o.rep1, &segment, &["Retail"]).await,
        Code::PermissionDenied,
    );

    // Another tenant sees none of it and cannot touch it.
    let platform = suite.admin().await;
    let stranger = org::other_tenant(&suite, &platform, "custom-other").await;
    assert!(definitions(&stranger, "contact").await.is_empty());
    expect_code(
        set_options(&stranger, &segment, &["Retail"]).await,
        Code::NotFound,
    );
    expect_code(
        stranger
            .contacts()
            .delete_custom_field(DeleteCustomFieldRequest {
                id: segment.id.clone(),
                etag: segment.etag.clone(),
                request_id: String::new(),
            })
            .await,
        Code::NotFound,
    );
    expect_invalid(
        create(&stranger, "Foreign", &[("segment", "Retail")]).await,
        "contact.custom_fields[segment]",
    );
    // The field is unknown there: the filter names it, as for any undefined field.
    expect_invalid(
        stranger.contact_names(r#"custom.segment = "Retail""#).await,
        "filter",
    );

    // Removing an option races writes that choose it: afterwards, either the option is gone
    // and no record holds it, or the removal was refused.
    for round in 0..4 {
        let current = definitions(&admin, "contact")
            .await
            .into_iter()
            .find(|d| d.name == "segment")
            .unwrap();
        let options: Vec<&str> = current.options.iter().map(String::as_str).collect();
        let without_online: Vec<&str> =
            options.iter().copied().filter(|o| *o != "Online").collect();
        let racer = format!("Racer {round}");
        let (removal, write) = tokio::join!(
            set_options(&admin, &current, &without_online),
            create(&o.rep1, &racer, &[("segment", "Online")])
        );
        let holders = o
            .rep1
            .contacts()
            .list_contacts(ListContactsRequest {
                page_size: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .contacts
            .into_iter()
            .filter(|c| c.custom_fields.get("segment").map(String::as_str) == Some("Online"))
            .count();
        match (removal, write) {
            (Ok(_), Err(e)) => {
                assert_eq!(e.code(), Code::InvalidArgument);
                assert_eq!(holders, 0, "the option is gone, so nobody holds it");
            }
            (Err(e), Ok(_)) => {
                assert_eq!(reason(&e), "OPTION_IN_USE");
                assert!(holders > 0);
                // Clear it so the next round races again.
                let racer = o
                    .rep1
                    .contacts()
                    .list_contacts(ListContactsRequest {
                        filter: r#"custom.segment = "Online""#.into(),
                        ..Default::default()
                    })
                    .await
                    .unwrap()
                    .into_inner()
                    .contacts
                    .remove(0);
                set_values(&o.rep1, &racer, &[("segment", "")])
                    .await
                    .unwrap();
            }
            (removal, write) => panic!("inconsistent race: {removal:?} / {write:?}"),
        }
        let current = definitions(&admin, "contact")
            .await
            .into_iter()
            .find(|d| d.name == "segment")
            .unwrap();
        if !current.options.iter().any(|o| o == "Online") {
            set_options(&admin, &current, &options).await.unwrap();
        }
    }

    // A merge keeps every custom value: the survivor's, then the merged record's others.
    let survivor = create(&o.rep1, "Eve", &[("segment", "Retail")])
        .await
        .unwrap();
    let merged = create(
        &o.rep1,
        "Eve Duplicate",
        &[("segment", "Wholesale"), ("referrer", "web")],
    )
    .await
    .unwrap();
    let survivor = o
        .manager
        .contacts()
        .merge_contacts(MergeContactsRequest {
            survivor_id: survivor.id.clone(),
            survivor_etag: survivor.etag.clone(),
            merged_ids: vec![merged.id.clone()],
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(
        survivor.custom_fields,
        values(&[("segment", "Retail"), ("referrer", "web")])
    );

    // A field with values cannot be removed until they are cleared.
    let vip = definitions(&admin, "contact")
        .await
        .into_iter()
        .find(|d| d.name == "vip")
        .unwrap();
    let delete = |field: CustomFieldDefinition| {
        let admin = admin.clone();
        async move {
            admin
                .contacts()
                .delete_custom_field(DeleteCustomFieldRequest {
                    id: field.id.clone(),
                    etag: field.etag.clone(),
                    request_id: String::new(),
                })
                .await
        }
    };
    let in_use = expect_code(delete(vip.clone()).await, Code::FailedPrecondition);
    assert_eq!(reason(&in_use), "CUSTOM_FIELD_IN_USE");
    let bo = o
        .rep1
        .contacts()
        .list_contacts(ListContactsRequest {
            filter: r#"custom.vip = "true""#.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .contacts
        .remove(0);
    set_values(&o.rep1, &bo, &[("vip", "")]).await.unwrap();
    delete(vip).await.unwrap();
    expect_invalid(
        o.rep1.contact_names(r#"custom.vip = "true""#).await,
        "filter",
    );

    // Definitions and records announce their changes.
    let events = suite.contacts_events().await;
    let of = |kind: ContactsEventType| events.iter().filter(|e| e.r#type() == kind).count();
    assert_eq!(of(ContactsEventType::CustomFieldCreated), 10);
    assert!(of(ContactsEventType::CustomFieldUpdated) >= 1);
    assert_eq!(of(ContactsEventType::CustomFieldDeleted), 1);
    assert!(events.iter().any(|e| matches!(&e.subject,
        Some(contacts_event::Subject::Contact(c))
            if c.id == ada.id && c.custom_fields.get("employees").map(String::as_str) == Some("30"))));
}

both_modes!(custom_fields);
