//! Customer search through the gateway in both modes: Chinese and Latin names, companies,
//! phone digits and emails, ranked, paged, kept current by every write, and confined to the
//! caller's data scope and tenant.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use prost_types::FieldMask;

use crm_proto::contacts::*;
use support::clients::{Session, expect_invalid};
use support::{Mode, Suite, org};

async fn account(session: &Session, name: &str, phone: &str) -> Account {
    session
        .contacts()
        .create_account(CreateAccountRequest {
            account: Some(Account {
                display_name: name.into(),
                phone: phone.into(),
                ..Default::default()
            }),
            allow_duplicates: true,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap()
}

async fn contact(session: &Session, name: &str, phone: &str, email: &str) -> Contact {
    session
        .contacts()
        .create_contact(CreateContactRequest {
            contact: Some(Contact {
                display_name: name.into(),
                phone: phone.into(),
                email: email.into(),
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

async fn search_page(
    session: &Session,
    query: &str,
    resource_type: &str,
    page_size: i32,
    page_token: String,
) -> Result<SearchCustomersResponse, tonic::Status> {
    Ok(session
        .contacts()
        .search_customers(SearchCustomersRequest {
            query: query.into(),
            resource_type: resource_type.into(),
            page_size,
            page_token,
        })
        .await?
        .into_inner())
}

fn name(result: &SearchResult) -> String {
    match &result.customer {
        Some(search_result::Customer::Account(a)) => a.display_name.clone(),
        Some(search_result::Customer::Contact(c)) => c.display_name.clone(),
        None => String::new(),
    }
}

/// The names found, best first.
async fn found(session: &Session, query: &str) -> Vec<String> {
    search_page(session, query, "", 0, String::new())
        .await
        .unwrap()
        .results
        .iter()
        .map(name)
        .collect()
}

async fn search(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "search").await;
    account(&o.rep1, "深圳华强电子有限公司", "0755-8888 6666").await;
    account(&o.rep1, "华强北贸易有限公司", "").await;
    let exact = contact(&o.rep1, "华强", "", "").await;
    let wang = contact(&o.rep1, "王小明", "+86 138 0013 8000", "").await;
    contact(&o.rep1, "Li Na", "", "li.na@acme.com").await;
    contact(&o.rep1, "Alice Lin", "", "alice@lin.example").await;
    contact(&o.rep1, "Oliver Chen", "13900001111", "oliver@acme.com").await;
    contact(&o.rep2, "华强 North-East", "", "").await;
    let platform = suite.admin().await;
    let stranger = org::other_tenant(&suite, &platform, "search-other").await;
    contact(&stranger, "华强 Foreign", "", "").await;

    // Chinese text by any part, best first: the whole name, then a prefix, then inside.
    assert_eq!(
        found(&o.rep1, "华强").await,
        ["华强", "华强北贸易有限公司", "深圳华强电子有限公司"]
    );
    assert_eq!(found(&o.rep1, "电子有限").await, ["深圳华强电子有限公司"]);
    assert!(found(&o.rep1, "华强电器").await.is_empty());

    // Phone numbers by any run of digits, however they are written.
    for query in ["1380013", "138 0013 8000", "138-0013-8000", "13800138000"] {
        assert_eq!(found(&o.rep1, query).await, ["王小明"], "{query}");
    }
    let best = search_page(&o.rep1, "+86 138 0013 8000", "", 0, String::new())
        .await
        .unwrap();
    assert_eq!(best.results[0].matched_field, "phone");
    assert!(
        best.results[0].score > 30,
        "a whole number is an exact match"
    );
    assert_eq!(found(&o.rep1, "8888 6666").await, ["深圳华强电子有限公司"]);

    // Latin names and emails, whatever the case or width; short queries match whole words.
    assert_eq!(found(&o.rep1, "ALICE").await, ["Alice Lin"]);
    assert_eq!(found(&o.rep1, "ａｌｉｃｅ").await, ["Alice Lin"]);
    assert_eq!(found(&o.rep1, "li").await, ["Li Na"]);
    let acme = search_page(&o.rep1, "acme", "", 0, String::new())
        .await
        .unwrap();
    let mut acme_names: Vec<String> = acme.results.iter().map(name).collect();
    acme_names.sort();
    assert_eq!(acme_names, ["Li Na", "Oliver Chen"]);
    assert!(acme.results.iter().all(|r| r.matched_field == "email"));
    assert_eq!(found(&o.rep1, "liver").await, ["Oliver Chen"]);

    // One resource type, and pages that neither skip nor repeat.
    let accounts = search_page(&o.rep1, "有限公司", "account", 0, String::new())
        .await
        .unwrap();
    assert_eq!(accounts.results.len(), 2);
    assert!(
        accounts
            .results
            .iter()
            .all(|r| matches!(r.customer, Some(search_result::Customer::Account(_))))
    );
    let first = search_page(&o.rep1, "华强", "", 2, String::new())
        .await
        .unwrap();
    assert_eq!(first.results.len(), 2);
    let second = search_page(&o.rep1, "华强", "", 2, first.next_page_token.clone())
        .await
        .unwrap();
    assert_eq!(
        second.results.iter().map(name).collect::<Vec<_>>(),
        ["深圳华强电子有限公司"]
    );
    assert!(second.next_page_token.is_empty());
    expect_invalid(
        search_page(&o.rep1, "华强北", "", 2, first.next_page_token.clone()).await,
        "page_token",
    );

    // Data scope and tenancy: a rep sees their own, a manager their team's, a stranger and
    // an outsider none of it.
    assert_eq!(
        found(&o.manager, "华强").await,
        [
            "华强",
            "华强 North-East",
            "华强北贸易有限公司",
            "深圳华强电子有限公司"
        ]
    );
    assert_eq!(found(&stranger, "华强").await, ["华强 Foreign"]);
    assert!(found(&o.outsider, "华强").await.is_empty());
    assert!(found(&o.rep2, "王小明").await.is_empty());

    // Every write keeps the index current: a rename, a deletion, a handover.
    let renamed = o
        .rep1
        .contacts()
        .update_contact(UpdateContactRequest {
            contact: Some(Contact {
                id: exact.id.clone(),
                etag: exact.etag.clone(),
                display_name: "华为".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".into()],
            }),
            allow_duplicates: false,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(found(&o.rep1, "华为").await, ["华为"]);
    assert!(!found(&o.rep1, "华强").await.contains(&"华强".to_owned()));
    o.rep1
        .contacts()
        .delete_contact(DeleteContactRequest {
            id: renamed.id.clone(),
            etag: renamed.etag.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    assert!(found(&o.rep1, "华为").await.is_empty());
    o.manager
        .contacts()
        .transfer_ownership(TransferOwnershipRequest {
            resource_type: "contact".into(),
            ids: vec![wang.id.clone()],
            to_owner_id: o.rep2.user_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(found(&o.rep1, "1380013").await.is_empty());
    assert_eq!(found(&o.rep2, "1380013").await, ["王小明"]);

    // Bad queries name the field.
    for bad in ["", "华", "13", "-", &"x".repeat(101)] {
        expect_invalid(
            search_page(&o.rep1, bad, "", 0, String::new()).await,
            "query",
        );
    }
    expect_invalid(
        search_page(&o.rep1, "华强", "lead", 0, String::new()).await,
        "resource_type",
    );
    expect_invalid(
        search_page(&o.rep1, "华强", "", -1, String::new()).await,
        "page_size",
    );
}

both_modes!(search);
