//! Sensitive data and personal-data rights through the gateway in both modes: identity
//! document and bank card numbers encrypted at rest, masked unless the caller may see them,
//! found by exact value; a contact's personal-data export; erasure on request and after the
//! retention of deleted contacts, everywhere in the service, announced to the others.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::time::{Duration, Instant};

use sea_orm::EntityTrait as _;
use tonic::Code;

use crm_proto::common::ExportFormat;
use crm_proto::contacts::*;
use support::clients::{Session, expect_code, expect_invalid, reason};
use support::{Mode, Suite, org};

const RESIDENT_ID: &str = "11010519491231002X";
const CARD: &str = "4111111111111111";
/// Jobs every second, and deleted contacts erased at once.
const ERASE_AT_ONCE: &[(&str, &str)] = &[
    ("CRM_JOBS_INTERVAL_SECS", "1"),
    ("CRM_ERASE_DELETED_AFTER_DAYS", "0"),
];

async fn create(
    session: &Session,
    name: &str,
    id_document: (IdDocumentType, &str),
    card: &str,
) -> Result<Contact, tonic::Status> {
    Ok(session
        .contacts()
        .create_contact(CreateContactRequest {
            contact: Some(Contact {
                display_name: name.into(),
                phone: "+86 139 0000 1234".into(),
                id_document_type: id_document.0 as i32,
                id_document_number: id_document.1.into(),
                bank_card_number: card.into(),
                ..Default::default()
            }),
            allow_duplicates: true,
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .contact
        .unwrap())
}

async fn get(session: &Session, id: &str) -> Result<Contact, tonic::Status> {
    Ok(session
        .contacts()
        .get_contact(GetContactRequest { id: id.into() })
        .await?
        .into_inner()
        .contact
        .unwrap())
}

async fn export(session: &Session, id: &str) -> Result<ExportPersonalDataResponse, tonic::Status> {
    Ok(session
        .contacts()
        .export_personal_data(ExportPersonalDataRequest {
            contact_id: id.into(),
        })
        .await?
        .into_inner())
}

async fn erase(session: &Session, id: &str) -> Result<Contact, tonic::Status> {
    Ok(session
        .contacts()
        .erase_personal_data(ErasePersonalDataRequest {
            contact_id: id.into(),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .contact
        .unwrap())
}

async fn history(session: &Session, id: &str) -> Vec<crm_proto::common::AuditEntry> {
    session
        .contacts()
        .list_audit_entries(ListAuditEntriesRequest {
            resource_type: "contact".into(),
            resource_id: id.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries
}

fn erased_events(events: &[ContactsEvent], id: &str) -> usize {
    events
        .iter()
        .filter(|e| e.r#type() == ContactsEventType::ContactErased)
        .filter(|e| matches!(&e.subject, Some(contacts_event::Subject::Contact(c)) if c.id == id))
        .count()
}

async fn sensitive_data(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "privacy").await;
    let resident = (IdDocumentType::ResidentId, "110105 19491231 002x");
    let chen = create(&o.rep1, "陈静", resident, "4111-1111-1111-1111")
        .await
        .unwrap();

    // Masked for the rep who entered them, whole for the admin who may see them.
    assert_eq!(chen.id_document_number, "1****************X");
    assert_eq!(chen.bank_card_number, "************1111");
    assert_eq!(
        get(&o.rep1, &chen.id).await.unwrap().id_document_number,
        "1****************X"
    );
    let whole = get(&admin, &chen.id).await.unwrap();
    assert_eq!(whole.id_document_number, RESIDENT_ID);
    assert_eq!(whole.bank_card_number, CARD);
    assert_eq!(whole.id_document_type, IdDocumentType::ResidentId as i32);
    assert_eq!(
        admin.list_contacts("").await.unwrap()[0].bank_card_number,
        CARD
    );
    assert_eq!(
        o.rep1.list_contacts("").await.unwrap()[0].bank_card_number,
        "************1111"
    );

    // At rest there is only ciphertext, a keyed hash and the mask.
    let db = suite.contacts_db().await;
    let row = crm_contacts::entity::contact::Entity::find_by_id(chen.id.clone())
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.id_document_sealed.starts_with("v1:"));
    for column in [&row.id_document_sealed, &row.id_document_hash] {
        assert!(!column.contains("110105"), "{column}");
    }
    for column in [&row.bank_card_sealed, &row.bank_card_hash] {
        assert!(!column.contains("411111"), "{column}");
    }

    // Exact values find the record only for callers who may see the values (matching one is
    // reading it), within their scope and tenant.
    let platform = suite.admin().await;
    let stranger = org::other_tenant(&suite, &platform, "privacy-other").await;
    let officer = org::custom_user(
        &suite,
        &admin,
        "officer@privacy.example",
        &["contacts.contacts.read", "contacts.sensitive.read"],
        crm_proto::identity::DataScope::Own,
    )
    .await;
    for filter in [
        format!(r#"id_document_number = "{}""#, "11010519491231002x"),
        format!(r#"bank_card_number = "{}""#, "4111 1111 1111 1111"),
    ] {
        assert_eq!(
            admin.list_contacts(&filter).await.unwrap().len(),
            1,
            "{filter}"
        );
        assert!(officer.list_contacts(&filter).await.unwrap().is_empty());
        assert!(stranger.list_contacts(&filter).await.unwrap().is_empty());
        for rep in [&o.rep1, &o.rep2, &o.manager] {
            let denied = expect_code(rep.list_contacts(&filter).await, Code::PermissionDenied);
            assert_eq!(reason(&denied), "PERMISSION_DENIED");
        }
        // An export's filter is a list's: refused alike, and never recorded whole.
        let export = o
            .rep1
            .contacts()
            .export_records(ExportRecordsRequest {
                resource_type: "contact".into(),
                filter: filter.clone(),
                format: ExportFormat::Csv as i32,
            })
            .await;
        expect_code(export, Code::PermissionDenied);
    }
    // The guessing loop the mask once allowed now ends at its first query.
    assert!(
        admin
            .list_contacts(r#"bank_card_number = "4012888888881881""#)
            .await
            .unwrap()
            .is_empty()
    );
    expect_invalid(
        admin
            .list_contacts(r#"bank_card_number != "4111111111111111""#)
            .await,
        "filter",
    );
    let mut exported = admin
        .contacts()
        .export_records(ExportRecordsRequest {
            resource_type: "contact".into(),
            filter: format!(r#"id_document_number = "{RESIDENT_ID}""#),
            format: ExportFormat::Csv as i32,
        })
        .await
        .unwrap()
        .into_inner();
    while exported.message().await.unwrap().is_some() {}
    let recorded = crm_platform::entity::audit_log::Entity::find()
        .all(&db)
        .await
        .unwrap();
    let exports: Vec<_> = recorded.iter().filter(|e| e.action == "export").collect();
    assert!(!exports.is_empty());
    for entry in exports {
        assert!(!entry.changes.contains("110105"), "{}", entry.changes);
    }

    // Bad numbers name the field, and nothing is written.
    let footprint = suite.contacts_footprint().await;
    for (document, card, field) in [
        (
            (IdDocumentType::ResidentId, "110105194912310021"),
            "",
            "contact.id_document_number",
        ),
        (
            (IdDocumentType::Unspecified, "E12345678"),
            "",
            "contact.id_document_type",
        ),
        (
            (IdDocumentType::Passport, "E1"),
            "",
            "contact.id_document_number",
        ),
        (
            (IdDocumentType::Unspecified, ""),
            "4111111111111112",
            "contact.bank_card_number",
        ),
    ] {
        expect_invalid(create(&o.rep1, "Bad", document, card).await, field);
    }
    assert_eq!(admin.list_contacts("").await.unwrap().len(), 1);
    assert_eq!(suite.contacts_footprint().await, footprint);

    // History and events carry the masked forms only.
    let entries = history(&o.rep1, &chen.id).await;
    let text = format!("{entries:?}");
    assert!(text.contains("************1111"));
    assert!(!text.contains(CARD) && !text.contains("110105"), "{text}");
    for event in suite.contacts_events().await {
        if let Some(contacts_event::Subject::Contact(c)) = &event.subject {
            assert_ne!(c.bank_card_number, CARD);
        }
    }

    // The export holds everything, whole; only privacy admins may take it, in their tenant.
    o.rep1
        .contacts()
        .record_interaction(RecordInteractionRequest {
            interaction: Some(Interaction {
                subject_type: "contact".into(),
                subject_id: chen.id.clone(),
                kind: InteractionKind::Call as i32,
                occur_time: Some(prost_types::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 0,
                }),
                summary: "陈静 asked about her card".into(),
                next_follow_up_time: Some(prost_types::Timestamp {
                    seconds: 4_000_000_000,
                    nanos: 0,
                }),
                ..Default::default()
            }),
            follow_up_note: "call 陈静 back".into(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    // A rep rewrites the note: the follow-up's history records both texts.
    let follow_up = export(&admin, &chen.id).await.unwrap().follow_ups.remove(0);
    o.rep1
        .contacts()
        .update_follow_up(UpdateFollowUpRequest {
            follow_up: Some(FollowUp {
                id: follow_up.id.clone(),
                etag: follow_up.etag.clone(),
                note: "call 陈静 back about her card".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["note".into()],
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let exported = export(&admin, &chen.id).await.unwrap();
    let contact = exported.contact.unwrap();
    assert_eq!(contact.id_document_number, RESIDENT_ID);
    assert_eq!(exported.interactions.len(), 1);
    assert_eq!(exported.follow_ups.len(), 1);
    expect_code(export(&o.rep1, &chen.id).await, Code::PermissionDenied);
    expect_code(export(&o.manager, &chen.id).await, Code::PermissionDenied);
    expect_code(export(&stranger, &chen.id).await, Code::NotFound);
    expect_invalid(export(&admin, "").await, "contact_id");
    assert!(
        history(&admin, &chen.id)
            .await
            .iter()
            .any(|e| e.action == "export_personal_data")
    );

    // A duplicate merged into the contact earlier is the same person: erased with it.
    let earlier = create(&o.rep1, "陈静 (old)", (IdDocumentType::Unspecified, ""), "")
        .await
        .unwrap();
    let chen = get(&o.rep1, &chen.id).await.unwrap();
    o.manager
        .contacts()
        .merge_contacts(MergeContactsRequest {
            survivor_id: chen.id.clone(),
            survivor_etag: chen.etag.clone(),
            merged_ids: vec![earlier.id.clone()],
            request_id: String::new(),
        })
        .await
        .unwrap();

    // Erasure empties the record, its history and its timeline, and is announced.
    expect_code(erase(&o.rep1, &chen.id).await, Code::PermissionDenied);
    expect_code(erase(&stranger, &chen.id).await, Code::NotFound);
    let tombstone = erase(&admin, &chen.id).await.unwrap();
    assert_eq!(tombstone.display_name, "[erased]");
    assert!(tombstone.phones.is_empty() && tombstone.phone.is_empty());
    assert!(tombstone.id_document_number.is_empty() && tombstone.bank_card_number.is_empty());
    assert!(tombstone.delete_time.is_some() && tombstone.erase_time.is_some());
    assert_eq!(
        erase(&admin, &chen.id).await.unwrap(),
        tombstone,
        "erasing twice is a no-op"
    );
    let after = export(&admin, &chen.id).await.unwrap();
    assert_eq!(after.interactions[0].summary, "[erased]");
    assert!(after.follow_ups[0].note.is_empty());
    assert_eq!(after.follow_ups[0].state, FollowUpState::Cancelled as i32);
    // Only the recorded values are searched: ids and times may hold any digits.
    for entry in history(&admin, &chen.id).await {
        for change in &entry.changes {
            let values = format!("{} {}", change.before, change.after);
            assert!(
                !values.contains("陈静") && !values.contains("1111"),
                "{values}"
            );
        }
    }
    assert!(
        admin
            .list_contacts(r#"bank_card_number = "4111111111111111""#)
            .await
            .unwrap()
            .is_empty()
    );
    // Nor do the follow-ups' own histories keep their notes.
    let follow_up_entries = crm_platform::entity::audit_log::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.resource_type == "follow_up")
        .collect::<Vec<_>>();
    assert!(!follow_up_entries.is_empty());
    for entry in follow_up_entries {
        assert!(!entry.changes.contains("陈静"), "{}", entry.changes);
    }
    let undelete = o
        .rep1
        .contacts()
        .undelete_contact(UndeleteContactRequest {
            id: chen.id.clone(),
            etag: String::new(),
            request_id: String::new(),
        })
        .await;
    let refused = expect_code(undelete, Code::FailedPrecondition);
    assert_eq!(reason(&refused), "RESOURCE_ERASED");
    assert_eq!(erased_events(&suite.contacts_events().await, &chen.id), 1);
    let old = get(&admin, &earlier.id).await.unwrap();
    assert_eq!(old.display_name, "[erased]");
    assert_eq!(old.merged_into_id, chen.id, "the redirect stays");
    assert_eq!(
        erased_events(&suite.contacts_events().await, &earlier.id),
        1
    );
}

async fn deleted_contacts_are_erased(mode: Mode) {
    let suite = Suite::start_with(mode, ERASE_AT_ONCE).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "retention").await;
    // A deleted contact is erased by the job once its retention (here: none) runs out.
    let gone = create(&o.rep1, "Zhou Min", (IdDocumentType::Unspecified, ""), CARD)
        .await
        .unwrap();
    o.rep1
        .contacts()
        .delete_contact(DeleteContactRequest {
            id: gone.id.clone(),
            etag: gone.etag.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while erased_events(&suite.contacts_events().await, &gone.id) == 0 {
        assert!(
            Instant::now() < deadline,
            "the job erases the deleted contact"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let purged = get(&admin, &gone.id).await.unwrap();
    assert_eq!(purged.display_name, "[erased]");
    assert!(purged.bank_card_number.is_empty());
}

both_modes!(sensitive_data, deleted_contacts_are_erased);
