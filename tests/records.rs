//! How accounts and contacts behave: validation with field details, optimistic concurrency,
//! idempotent retries, pagination under concurrent writes, soft delete, cache invalidation
//! and the audit trail, through the gateway.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::HashSet;

use prost_types::FieldMask;
use tonic::Code;

use crm_proto::common::PostalAddress;
use crm_proto::contacts::*;
use support::clients::{Session, expect_code, expect_invalid, reason};
use support::{Mode, Suite};

fn contact(name: &str) -> Contact {
    Contact {
        display_name: name.into(),
        ..Default::default()
    }
}

async fn create(session: &Session, c: Contact) -> Contact {
    session
        .contacts()
        .create_contact(CreateContactRequest {
            allow_duplicates: false,
            contact: Some(c),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap()
}

fn update(c: Contact, paths: &[&str]) -> UpdateContactRequest {
    UpdateContactRequest {
        allow_duplicates: false,
        contact: Some(c),
        update_mask: Some(FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
        request_id: String::new(),
    }
}

async fn accounts_and_validation(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let mut api = admin.contacts();

    let account = api
        .create_account(CreateAccountRequest {
            allow_duplicates: false,
            account: Some(Account {
                display_name: "深圳华强电子有限公司".into(),
                industry: "electronics".into(),
                website: "https://huaqiang.example.cn".into(),
                phone: "+86 755 8888 0000".into(),
                email: "Sales@HuaQiang.example.cn".into(),
                address: Some(PostalAddress {
                    region_code: "cn".into(),
                    locality: "深圳".into(),
                    address_lines: vec!["华强北路 1 号".into()],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(
        account.email, "sales@huaqiang.example.cn",
        "emails are normalised"
    );
    assert_eq!(account.address.as_ref().unwrap().region_code, "CN");
    assert_eq!(
        account.owner_id, admin.user_id,
        "the creator owns it by default"
    );
    assert!(!account.etag.is_empty());

    // Every bad field is named.
    let bad = CreateAccountRequest {
        allow_duplicates: false,
        account: Some(Account {
            display_name: " ".into(),
            website: "ftp://nope".into(),
            email: "nope".into(),
            phone: "call me".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    };
    for field in [
        "account.display_name",
        "account.website",
        "account.email",
        "account.phone",
    ] {
        expect_invalid(api.create_account(bad.clone()).await, field);
    }
    expect_invalid(
        api.create_account(CreateAccountRequest::default()).await,
        "account",
    );
    expect_invalid(
        api.create_contact(CreateContactRequest {
            allow_duplicates: false,
            contact: Some(Contact::default()),
            request_id: String::new(),
        })
        .await,
        "contact.display_name",
    );
    expect_invalid(
        api.create_contact(CreateContactRequest {
            allow_duplicates: false,
            contact: Some(Contact {
                display_name: "x".into(),
                account_id: "no-such-account".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await,
        "contact.account_id",
    );
    expect_invalid(
        api.create_contact(CreateContactRequest {
            allow_duplicates: false,
            contact: Some(contact("x")),
            request_id: "x".repeat(65),
        })
        .await,
        "request_id",
    );
    expect_invalid(
        api.list_contacts(ListContactsRequest {
            page_size: -1,
            ..Default::default()
        })
        .await,
        "page_size",
    );
    expect_invalid(
        api.list_contacts(ListContactsRequest {
            filter: "password = \"x\"".into(),
            ..Default::default()
        })
        .await,
        "filter",
    );
    expect_invalid(
        api.list_contacts(ListContactsRequest {
            filter: "display_name = ".into(),
            ..Default::default()
        })
        .await,
        "filter",
    );
    expect_invalid(
        api.list_contacts(ListContactsRequest {
            filter: "create_time > \"yesterday\"".into(),
            ..Default::default()
        })
        .await,
        "filter",
    );
    expect_invalid(
        api.list_contacts(ListContactsRequest {
            order_by: "owner_id".into(),
            ..Default::default()
        })
        .await,
        "order_by",
    );
    expect_invalid(
        api.list_contacts(ListContactsRequest {
            page_token: "forged".into(),
            ..Default::default()
        })
        .await,
        "page_token",
    );
    expect_invalid(
        api.get_contact(GetContactRequest { id: String::new() })
            .await,
        "id",
    );
    expect_code(
        api.get_account(GetAccountRequest {
            id: "missing".into(),
        })
        .await,
        Code::NotFound,
    );

    // A contact at the account; names are derived the way people write them.
    let person = create(
        &admin,
        Contact {
            given_name: "小明".into(),
            family_name: "王".into(),
            email: "xiaoming.wang@huaqiang.example.cn".into(),
            phone: "+86 138 0013 8000".into(),
            account_id: account.id.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(person.display_name, "王小明");
    let at_account = api
        .list_contacts(ListContactsRequest {
            filter: format!("account_id = \"{}\"", account.id),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(at_account.contacts.len(), 1);
    let by_email = api
        .list_contacts(ListContactsRequest {
            filter: "email = \"XIAOMING.WANG@huaqiang.example.cn\"".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_email.contacts.len(), 1, "email filters ignore case");
    let by_name = api
        .list_accounts(ListAccountsRequest {
            filter: "display_name : \"华强\"".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_name.accounts.len(), 1);

    // Output-only and unknown fields cannot be written through the mask.
    expect_invalid(
        api.update_contact(update(
            Contact {
                id: person.id.clone(),
                ..Default::default()
            },
            &["etag"],
        ))
        .await,
        "update_mask",
    );
    expect_invalid(
        api.update_contact(update(
            Contact {
                id: person.id.clone(),
                ..Default::default()
            },
            &["tenant_id"],
        ))
        .await,
        "update_mask",
    );
    expect_invalid(
        api.update_contact(update(Contact::default(), &["title"]))
            .await,
        "contact.id",
    );
    // A masked field is replaced, others are kept; an emptied name is refused.
    let retitled = api
        .update_contact(update(
            Contact {
                id: person.id.clone(),
                title: "采购经理".into(),
                email: "ignored@x.example".into(),
                ..Default::default()
            },
            &["title"],
        ))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(retitled.title, "采购经理");
    assert_eq!(retitled.email, person.email);
    expect_invalid(
        api.update_account(UpdateAccountRequest {
            allow_duplicates: false,
            account: Some(Account {
                id: account.id.clone(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".into()],
            }),
            request_id: String::new(),
        })
        .await,
        "account.display_name",
    );
    // Deleting the account keeps the contact but new contacts cannot point at it.
    api.delete_account(DeleteAccountRequest {
        id: account.id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    expect_invalid(
        api.create_contact(CreateContactRequest {
            allow_duplicates: false,
            contact: Some(Contact {
                display_name: "late".into(),
                account_id: account.id.clone(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await,
        "contact.account_id",
    );
}

async fn etags_and_idempotent_retries(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let mut api = admin.contacts();
    let original = admin.create_contact("Ada Lovelace").await;

    // The first writer with the current etag wins; the second, holding the same etag, is refused.
    let first = api
        .update_contact(update(
            Contact {
                id: original.id.clone(),
                title: "CTO".into(),
                etag: original.etag.clone(),
                ..Default::default()
            },
            &["title"],
        ))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_ne!(first.etag, original.etag);
    let stale = expect_code(
        api.update_contact(update(
            Contact {
                id: original.id.clone(),
                title: "CEO".into(),
                etag: original.etag.clone(),
                ..Default::default()
            },
            &["title"],
        ))
        .await,
        Code::Aborted,
    );
    assert_eq!(reason(&stale), "STALE_ETAG");
    expect_code(
        api.delete_contact(DeleteContactRequest {
            id: original.id.clone(),
            etag: original.etag.clone(),
            request_id: String::new(),
        })
        .await,
        Code::Aborted,
    );
    expect_invalid(
        api.update_contact(update(
            Contact {
                id: original.id.clone(),
                title: "x".into(),
                etag: "garbage".into(),
                ..Default::default()
            },
            &["title"],
        ))
        .await,
        "contact.etag",
    );

    // Concurrent writers with the same etag: exactly one succeeds, the rest get ABORTED.
    let current = api
        .get_contact(GetContactRequest {
            id: original.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    let mut writers = Vec::new();
    for i in 0..8 {
        let mut api = admin.contacts();
        let c = Contact {
            id: current.id.clone(),
            title: format!("title {i}"),
            etag: current.etag.clone(),
            ..Default::default()
        };
        writers.push(tokio::spawn(async move {
            api.update_contact(update(c, &["title"])).await.map(|_| ())
        }));
    }
    let mut won = 0;
    for writer in writers {
        match writer.await.unwrap() {
            Ok(()) => won += 1,
            Err(status) => assert_eq!(status.code(), Code::Aborted),
        }
    }
    assert_eq!(won, 1, "exactly one concurrent writer wins");

    // The same request id returns the first result, even when sent concurrently.
    let request = CreateContactRequest {
        allow_duplicates: false,
        contact: Some(contact("Retried")),
        request_id: "4f7c2a4e-retry".into(),
    };
    let mut sends = Vec::new();
    for _ in 0..4 {
        let mut api = admin.contacts();
        let request = request.clone();
        sends.push(tokio::spawn(async move {
            api.create_contact(request)
                .await
                .map(|r| r.into_inner().contact.unwrap().id)
        }));
    }
    let mut ids = HashSet::new();
    for send in sends {
        ids.insert(send.await.unwrap().unwrap());
    }
    assert_eq!(ids.len(), 1, "one record for one request id");
    let listed = api
        .list_contacts(ListContactsRequest {
            filter: "display_name = \"Retried\"".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.contacts.len(), 1);
    // Reusing the id with another payload is refused; another caller's id is independent.
    expect_invalid(
        api.create_contact(CreateContactRequest {
            allow_duplicates: false,
            contact: Some(contact("Different")),
            request_id: "4f7c2a4e-retry".into(),
        })
        .await,
        "request_id",
    );
    let other = support::org::user(&suite, &admin, "other@idem.example", "sales_rep", &[]).await;
    let theirs = other
        .contacts()
        .create_contact(request)
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert!(
        !ids.contains(&theirs.id),
        "another caller's key never replays this caller's response"
    );
    // Retried updates and deletes replay too.
    let del = DeleteContactRequest {
        id: theirs.id.clone(),
        etag: String::new(),
        request_id: "del-1".into(),
    };
    let first = other
        .contacts()
        .delete_contact(del.clone())
        .await
        .unwrap()
        .into_inner();
    let again = other
        .contacts()
        .delete_contact(del)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    // An update retried with its request id replays its first answer, even though the etag it
    // carries is stale by then, and changes the record once.
    let target = other.create_contact("Updated once").await;
    let update = UpdateContactRequest {
        allow_duplicates: false,
        contact: Some(Contact {
            id: target.id.clone(),
            etag: target.etag.clone(),
            title: "Buyer".into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["title".into()],
        }),
        request_id: "upd-1".into(),
    };
    let first = other
        .contacts()
        .update_contact(update.clone())
        .await
        .unwrap()
        .into_inner();
    let again = other
        .contacts()
        .update_contact(update)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    let now = other.get_contact(&target.id).await;
    assert_eq!(now.etag, first.contact.unwrap().etag, "changed once");
}

async fn pagination_under_concurrent_inserts(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    for i in 0..60 {
        admin.create_contact(&format!("Seed {i:03}")).await;
    }
    let writer = {
        let admin = admin.clone();
        tokio::spawn(async move {
            for i in 0..30 {
                admin.create_contact(&format!("Late {i:03}")).await;
            }
        })
    };
    for order_by in ["", "display_name", "update_time desc"] {
        let mut api = admin.contacts();
        let mut seen = Vec::new();
        let mut token = String::new();
        loop {
            let page = api
                .list_contacts(ListContactsRequest {
                    page_size: 7,
                    page_token: token,
                    order_by: order_by.into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            assert!(page.contacts.len() <= 7);
            seen.extend(page.contacts.into_iter().map(|c| c.display_name));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
            // A token is bound to its query: changing the order mid-walk is refused.
            expect_invalid(
                api.list_contacts(ListContactsRequest {
                    page_size: 7,
                    page_token: token.clone(),
                    order_by: "create_time".into(),
                    ..Default::default()
                })
                .await,
                "page_token",
            );
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len(), "no row repeats ({order_by})");
        for i in 0..60 {
            assert!(
                seen.contains(&format!("Seed {i:03}")),
                "no stable row is skipped ({order_by})"
            );
        }
    }
    writer.await.unwrap();
    // Page sizes above the maximum are coerced down, not refused.
    let big = admin
        .contacts()
        .list_contacts(ListContactsRequest {
            page_size: 100_000,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(big.contacts.len(), 90);
    // A token issued to one caller is useless to another.
    let page = admin
        .contacts()
        .list_contacts(ListContactsRequest {
            page_size: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let rep = support::org::user(&suite, &admin, "rep@paging.example", "sales_rep", &[]).await;
    expect_invalid(
        rep.contacts()
            .list_contacts(ListContactsRequest {
                page_size: 5,
                page_token: page.next_page_token,
                ..Default::default()
            })
            .await,
        "page_token",
    );
}

async fn soft_delete_cache_and_audit(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let mut api = admin.contacts();
    let c = admin.create_contact("Grace Hopper").await;

    // Reads after writes never see the old value, however warm the cache is.
    for i in 0..20 {
        api.get_contact(GetContactRequest { id: c.id.clone() })
            .await
            .unwrap();
        let title = format!("Rear Admiral {i}");
        api.update_contact(update(
            Contact {
                id: c.id.clone(),
                title: title.clone(),
                ..Default::default()
            },
            &["title"],
        ))
        .await
        .unwrap();
        let read = api
            .get_contact(GetContactRequest { id: c.id.clone() })
            .await
            .unwrap()
            .into_inner()
            .contact
            .unwrap();
        assert_eq!(read.title, title);
    }

    // Delete hides it from lists, keeps it readable, and undelete brings it back.
    let deleted = api
        .delete_contact(DeleteContactRequest {
            id: c.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert!(deleted.delete_time.is_some());
    let got = api
        .get_contact(GetContactRequest { id: c.id.clone() })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert!(
        got.delete_time.is_some(),
        "get returns a deleted record, marked"
    );
    let live = api
        .list_contacts(ListContactsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(live.contacts.is_empty());
    let all = api
        .list_contacts(ListContactsRequest {
            show_deleted: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.contacts.len(), 1);
    let status = expect_code(
        api.update_contact(update(
            Contact {
                id: c.id.clone(),
                title: "x".into(),
                ..Default::default()
            },
            &["title"],
        ))
        .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&status), "RESOURCE_DELETED");
    expect_code(
        api.delete_contact(DeleteContactRequest {
            id: c.id.clone(),
            ..Default::default()
        })
        .await,
        Code::FailedPrecondition,
    );
    let restored = api
        .undelete_contact(UndeleteContactRequest {
            id: c.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert!(restored.delete_time.is_none());
    expect_code(
        api.undelete_contact(UndeleteContactRequest {
            id: c.id.clone(),
            ..Default::default()
        })
        .await,
        Code::AlreadyExists,
    );

    // The audit trail holds every change, newest first, with who and what.
    let history = api
        .list_audit_entries(ListAuditEntriesRequest {
            resource_type: "contact".into(),
            resource_id: c.id.clone(),
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions.len(), 23);
    assert_eq!(actions[..3], ["undelete", "delete", "update"]);
    assert_eq!(actions.last(), Some(&"create"));
    let last_update = &history[2];
    assert_eq!(last_update.actor_id, admin.user_id);
    assert_eq!(last_update.client, "user");
    assert_eq!(last_update.changes.len(), 1);
    assert_eq!(last_update.changes[0].field, "title");
    assert_eq!(last_update.changes[0].before, "Rear Admiral 18");
    assert_eq!(last_update.changes[0].after, "Rear Admiral 19");
    expect_invalid(
        api.list_audit_entries(ListAuditEntriesRequest {
            resource_type: "invoice".into(),
            resource_id: c.id.clone(),
            ..Default::default()
        })
        .await,
        "resource_type",
    );
}

both_modes!(
    accounts_and_validation,
    etags_and_idempotent_retries,
    pagination_under_concurrent_inserts,
    soft_delete_cache_and_audit,
);
