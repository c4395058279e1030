//! The complete customer record through the gateway: every account and contact field, group
//! trees, normalised phones and emails, duplicate detection, merges, tags and groups, and
//! ownership transfer, in both modes, with bad input, scope and tenant refusals, concurrency
//! and the events each change announces.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use prost_types::FieldMask;
use tonic::Code;
use tonic_types::StatusExt as _;

use crm_proto::common::{Date, PostalAddress, UpsertOutcome};
use crm_proto::contacts::*;
use support::clients::{Session, expect_code, expect_invalid, reason};
use support::{Mode, Suite, org};

async fn create_account(session: &Session, account: Account) -> Result<Account, tonic::Status> {
    Ok(session
        .contacts()
        .create_account(CreateAccountRequest {
            account: Some(account),
            request_id: String::new(),
            allow_duplicates: false,
        })
        .await?
        .into_inner()
        .account
        .unwrap())
}

async fn create_contact(session: &Session, contact: Contact) -> Result<Contact, tonic::Status> {
    create_contact_with(session, contact, false).await
}

async fn create_contact_with(
    session: &Session,
    contact: Contact,
    allow_duplicates: bool,
) -> Result<Contact, tonic::Status> {
    Ok(session
        .contacts()
        .create_contact(CreateContactRequest {
            contact: Some(contact),
            request_id: String::new(),
            allow_duplicates,
        })
        .await?
        .into_inner()
        .contact
        .unwrap())
}

async fn get_contact(session: &Session, id: &str) -> Result<Contact, tonic::Status> {
    Ok(session
        .contacts()
        .get_contact(GetContactRequest { id: id.into() })
        .await?
        .into_inner()
        .contact
        .unwrap())
}

async fn update_contact(
    session: &Session,
    contact: Contact,
    paths: &[&str],
) -> Result<Contact, tonic::Status> {
    Ok(session
        .contacts()
        .update_contact(UpdateContactRequest {
            contact: Some(contact),
            update_mask: Some(FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
            request_id: String::new(),
            allow_duplicates: false,
        })
        .await?
        .into_inner()
        .contact
        .unwrap())
}

async fn update_account(
    session: &Session,
    account: Account,
    paths: &[&str],
) -> Result<Account, tonic::Status> {
    Ok(session
        .contacts()
        .update_account(UpdateAccountRequest {
            account: Some(account),
            update_mask: Some(FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
            request_id: String::new(),
            allow_duplicates: false,
        })
        .await?
        .into_inner()
        .account
        .unwrap())
}

async fn list_accounts(session: &Session, filter: &str) -> Vec<Account> {
    session
        .contacts()
        .list_accounts(ListAccountsRequest {
            page_size: 1000,
            filter: filter.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .accounts
}

fn named(name: &str) -> Contact {
    Contact {
        display_name: name.into(),
        ..Default::default()
    }
}

fn company(name: &str) -> Account {
    Account {
        display_name: name.into(),
        ..Default::default()
    }
}

fn point(value: &str, label: &str, primary: bool) -> ContactPoint {
    ContactPoint {
        value: value.into(),
        label: label.into(),
        primary,
    }
}

/// The `ErrorInfo.metadata` entry `key` of a status.
fn metadata(status: &tonic::Status, key: &str) -> String {
    status
        .get_error_details()
        .error_info()
        .and_then(|i| i.metadata.get(key).cloned())
        .unwrap_or_default()
}

fn names_of(contacts: &[Contact]) -> Vec<String> {
    let mut names: Vec<String> = contacts.iter().map(|c| c.display_name.clone()).collect();
    names.sort();
    names
}

async fn full_records_and_group_trees(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "records").await;

    // An account with every field, normalised on the way in.
    let group = create_account(
        &admin,
        Account {
            display_name: "华强集团".into(),
            industry: "electronics".into(),
            website: "https://huaqiang.example".into(),
            phone: "0755 8888 0000".into(),
            email: "Info@HuaQiang.example".into(),
            address: Some(PostalAddress {
                region_code: "cn".into(),
                administrative_area: "广东省".into(),
                locality: "深圳市".into(),
                sublocality: "福田区".into(),
                postal_code: "518000".into(),
                address_lines: vec!["华强北路 1 号".into()],
            }),
            account_type: AccountType::Customer as i32,
            size: AccountSize::Enterprise as i32,
            tier: AccountTier::Strategic as i32,
            source: "trade fair".into(),
            tags: vec!["VIP".into(), "vip".into(), "华南".into()],
            notes: "Group headquarters".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(group.phone, "+8675588880000");
    assert_eq!(group.email, "info@huaqiang.example");
    assert_eq!(group.address.as_ref().unwrap().region_code, "CN");
    assert_eq!(group.tags, ["VIP", "华南"], "tags are unique ignoring case");
    assert_eq!(group.tier(), AccountTier::Strategic);
    assert_eq!(admin.get_account(&group.id).await, group);

    // A group's subsidiaries form a tree.
    let electronics = create_account(
        &admin,
        Account {
            display_name: "深圳华强电子有限公司".into(),
            parent_id: group.id.clone(),
            owner_id: o.rep1.user_id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let retail = create_account(
        &o.rep1,
        Account {
            display_name: "华强电子零售".into(),
            parent_id: electronics.id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let hierarchy = admin
        .contacts()
        .get_account_hierarchy(GetAccountHierarchyRequest {
            id: electronics.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let ids = |nodes: &[AccountNode]| -> Vec<(String, i32)> {
        nodes
            .iter()
            .map(|n| (n.account.as_ref().unwrap().id.clone(), n.depth))
            .collect()
    };
    assert_eq!(ids(&hierarchy.ancestors), [(group.id.clone(), -1)]);
    assert_eq!(
        ids(&hierarchy.descendants),
        [(electronics.id.clone(), 0), (retail.id.clone(), 1)]
    );
    // A rep sees the tree's shape, but not the accounts outside their scope.
    let seen_by_rep = o
        .rep1
        .contacts()
        .get_account_hierarchy(GetAccountHierarchyRequest {
            id: retail.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen_by_rep.ancestors.len(), 2);
    let top = &seen_by_rep.ancestors[0];
    assert!(top.restricted);
    assert_eq!(top.account.as_ref().unwrap().display_name, "");
    assert!(!seen_by_rep.ancestors[1].restricted);
    // Another rep and another tenant cannot read it at all.
    expect_code(
        o.rep2
            .contacts()
            .get_account_hierarchy(GetAccountHierarchyRequest {
                id: retail.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    let platform_admin = suite.admin().await;
    let stranger = org::other_tenant(&suite, &platform_admin, "records-other").await;
    expect_code(
        stranger
            .contacts()
            .get_account_hierarchy(GetAccountHierarchyRequest {
                id: group.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    // Children are listed by parent.
    let children = list_accounts(&admin, &format!("parent_id = \"{}\"", group.id)).await;
    assert_eq!(children.len(), 1);
    assert_eq!(children[0].id, electronics.id);
    assert_eq!(
        list_accounts(&admin, "tier = ACCOUNT_TIER_STRATEGIC")
            .await
            .len(),
        1
    );
    expect_invalid(
        admin
            .contacts()
            .list_accounts(ListAccountsRequest {
                filter: "tier = GOLD".into(),
                ..Default::default()
            })
            .await,
        "filter",
    );

    // A tree never becomes a cycle, and a parent must be visible and live.
    let mut cyclic = group.clone();
    cyclic.parent_id = retail.id.clone();
    expect_invalid(
        update_account(&admin, cyclic, &["parent_id"]).await,
        "account.parent_id",
    );
    let mut own_parent = group.clone();
    own_parent.parent_id = group.id.clone();
    expect_invalid(
        update_account(&admin, own_parent, &["parent_id"]).await,
        "account.parent_id",
    );
    expect_invalid(
        create_account(
            &o.rep2,
            Account {
                display_name: "Not my parent".into(),
                parent_id: electronics.id.clone(),
                ..Default::default()
            },
        )
        .await,
        "account.parent_id",
    );
    expect_invalid(
        create_account(
            &admin,
            Account {
                display_name: "Bad enums".into(),
                tier: 99,
                size: -1,
                ..Default::default()
            },
        )
        .await,
        "account.tier",
    );

    // A contact with several phones and emails, a birthday and linked accounts.
    let person = create_contact(
        &o.rep1,
        Contact {
            given_name: "小明".into(),
            family_name: "王".into(),
            title: "采购经理".into(),
            department: "采购部".into(),
            gender: Gender::Male as i32,
            birthday: Some(Date {
                year: 1990,
                month: 5,
                day: 17,
            }),
            phones: vec![
                point("138 0013 8000", "mobile", false),
                point("010-12345678 转 801", "work", true),
            ],
            emails: vec![point("XiaoMing.Wang@HuaQiang.example", "work", false)],
            account_id: electronics.id.clone(),
            related_account_ids: vec![retail.id.clone()],
            address: Some(PostalAddress {
                region_code: "CN".into(),
                locality: "深圳市".into(),
                ..Default::default()
            }),
            tags: vec!["决策人".into()],
            notes: "Prefers WeChat".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(person.display_name, "王小明");
    assert_eq!(person.phone, "+861012345678;ext=801", "the primary phone");
    assert_eq!(person.phones[0].value, "+8613800138000");
    assert_eq!(person.phones[0].label, "mobile");
    assert!(!person.phones[0].primary && person.phones[1].primary);
    assert_eq!(person.email, "xiaoming.wang@huaqiang.example");
    assert!(person.emails[0].primary, "a lone entry is primary");
    assert!(person.age >= 35, "age follows the birthday: {}", person.age);
    assert_eq!(get_contact(&o.rep1, &person.id).await.unwrap(), person);

    // Setting `phone` replaces the primary number and keeps the others.
    let mut change = person.clone();
    change.phone = "+86 139 0000 1111".into();
    let changed = update_contact(&o.rep1, change, &["phone"]).await.unwrap();
    assert_eq!(changed.phone, "+8613900001111");
    assert_eq!(changed.phones.len(), 2);
    assert_eq!(changed.phones[0].value, "+8613800138000");

    // An individual customer: no account, an occupation and an age.
    let individual = create_contact(
        &o.rep1,
        Contact {
            display_name: "Li Hua".into(),
            occupation: "teacher".into(),
            gender: Gender::Female as i32,
            birthday: Some(Date {
                year: 0,
                month: 2,
                day: 29,
            }),
            phone: "+44 20 7946 0958".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(individual.account_id, "");
    assert_eq!(individual.age, 0, "no year, no age");
    assert_eq!(individual.phones.len(), 1);
    assert_eq!(
        names_of(
            &o.rep1
                .list_contacts("gender = GENDER_FEMALE")
                .await
                .unwrap()
        ),
        ["Li Hua"]
    );

    // Every bad field is named, and nothing is written.
    let before = admin.list_contacts("").await.unwrap().len();
    let footprint = suite.contacts_footprint().await;
    let bad = create_contact(
        &o.rep1,
        Contact {
            display_name: "Bad".into(),
            phones: vec![
                point("+86 138 0013 8000", "", false),
                point("call me", "", false),
            ],
            emails: vec![point("not-an-email", "", false)],
            birthday: Some(Date {
                year: 2001,
                month: 2,
                day: 30,
            }),
            gender: 7,
            related_account_ids: vec!["0190a0a0-0000-7000-8000-000000000000".into()],
            ..Default::default()
        },
    )
    .await;
    let status = expect_code(bad, Code::InvalidArgument);
    let fields: Vec<String> = status
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    for field in [
        "contact.phones[1].value",
        "contact.emails[0].value",
        "contact.birthday",
        "contact.gender",
    ] {
        assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
    }
    expect_invalid(
        create_contact(
            &o.rep1,
            Contact {
                display_name: "Linked to nothing".into(),
                related_account_ids: vec!["0190a0a0-0000-7000-8000-000000000000".into()],
                ..Default::default()
            },
        )
        .await,
        "contact.related_account_ids[0]",
    );
    assert_eq!(
        suite.contacts_footprint().await,
        footprint,
        "refused writes leave no row anywhere"
    );
    // A contact cannot be linked to an account outside its creator's scope.
    expect_invalid(
        create_contact(
            &o.rep2,
            Contact {
                display_name: "Linked elsewhere".into(),
                related_account_ids: vec![electronics.id.clone()],
                ..Default::default()
            },
        )
        .await,
        "contact.related_account_ids[0]",
    );
    expect_invalid(
        update_contact(&o.rep1, changed.clone(), &["age"]).await,
        "update_mask",
    );
    assert_eq!(admin.list_contacts("").await.unwrap().len(), before);

    // Another rep and another tenant cannot read, change or delete the contact.
    expect_code(get_contact(&o.rep2, &person.id).await, Code::NotFound);
    expect_code(get_contact(&stranger, &person.id).await, Code::NotFound);
    expect_code(
        update_contact(&stranger, changed.clone(), &["title"]).await,
        Code::NotFound,
    );
    expect_code(
        stranger
            .contacts()
            .delete_contact(DeleteContactRequest {
                id: person.id.clone(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );

    // The creation events carry the full record.
    let events = suite.contacts_events().await;
    let created = events
        .iter()
        .find_map(|e| match &e.subject {
            Some(contacts_event::Subject::Contact(c))
                if c.id == person.id && e.r#type() == ContactsEventType::ContactCreated =>
            {
                Some(c.clone())
            }
            _ => None,
        })
        .expect("a CONTACT_CREATED event");
    assert_eq!(created.phones.len(), 2);
    assert_eq!(created.birthday, person.birthday);
}

async fn duplicates_are_refused_found_and_merged(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "dupes").await;

    // The same number written another way is the same customer.
    let first = create_contact(
        &o.rep1,
        Contact {
            display_name: "Zhang Wei".into(),
            phone: "+86 138 0013 8000".into(),
            tags: vec!["key".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let refused = expect_code(
        create_contact(
            &o.rep1,
            Contact {
                display_name: "张伟".into(),
                phone: "13800138000".into(),
                ..Default::default()
            },
        )
        .await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&refused), "DUPLICATE_RECORD");
    assert_eq!(metadata(&refused, "duplicate_id"), first.id);
    assert_eq!(metadata(&refused, "matched_field"), "phone");
    // Another rep is told too, so two reps do not chase one customer unknowingly, but is
    // never handed the id of a record it cannot see; the owner is named only when the
    // tenant's ownership rules say so. A manager who reaches the record gets its id.
    let same_phone = || Contact {
        display_name: "Wei Zhang".into(),
        phones: vec![point("0086 138 0013 8000", "", false)],
        ..Default::default()
    };
    let across = expect_code(
        create_contact(&o.rep2, same_phone()).await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&across), "DUPLICATE_RECORD");
    assert_eq!(metadata(&across, "duplicate_id"), "");
    assert_eq!(metadata(&across, "owner_id"), "");
    assert_eq!(metadata(&across, "matched_field"), "phone");
    assert!(
        !across.message().contains(&first.id),
        "{}",
        across.message()
    );
    admin
        .contacts()
        .update_pool_rules(UpdatePoolRulesRequest {
            rules: Some(PoolRules {
                resource_type: "contact".into(),
                disclose_duplicate_owner: true,
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let disclosed = expect_code(
        create_contact(&o.rep2, same_phone()).await,
        Code::AlreadyExists,
    );
    assert_eq!(metadata(&disclosed, "duplicate_id"), "");
    assert_eq!(metadata(&disclosed, "owner_id"), o.rep1.user_id);
    let managed = expect_code(
        create_contact(&o.manager, same_phone()).await,
        Code::AlreadyExists,
    );
    assert_eq!(metadata(&managed, "duplicate_id"), first.id);
    // Another tenant's customers are not duplicates.
    let platform_admin = suite.admin().await;
    let stranger = org::other_tenant(&suite, &platform_admin, "dupes-other").await;
    create_contact(
        &stranger,
        Contact {
            display_name: "Zhang Wei".into(),
            phone: "13800138000".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // Confirmed, the duplicate is saved.
    let second = create_contact_with(
        &o.rep1,
        Contact {
            display_name: "张伟".into(),
            phone: "13800138000".into(),
            email: "Zhang.Wei@Example.com".into(),
            tags: vec!["wechat".into()],
            ..Default::default()
        },
        true,
    )
    .await
    .unwrap();
    // Editing other fields of a known duplicate is not refused again.
    let mut retitle = second.clone();
    retitle.title = "CTO".into();
    let second = update_contact(&o.rep1, retitle, &["title"]).await.unwrap();
    // Emails compare case-insensitively.
    let by_email = expect_code(
        create_contact(
            &o.rep1,
            Contact {
                display_name: "Someone".into(),
                email: "zhang.wei@example.COM".into(),
                ..Default::default()
            },
        )
        .await,
        Code::AlreadyExists,
    );
    assert_eq!(metadata(&by_email, "matched_field"), "email");
    assert_eq!(metadata(&by_email, "duplicate_id"), second.id);
    // Company names compare without legal form, case, width or spacing.
    let huaqiang = create_account(&admin, company("深圳华强电子有限公司"))
        .await
        .unwrap();
    let by_name = expect_code(
        create_account(&admin, company("深圳华强电子")).await,
        Code::AlreadyExists,
    );
    assert_eq!(metadata(&by_name, "matched_field"), "name");
    assert_eq!(metadata(&by_name, "duplicate_id"), huaqiang.id);
    // Legal suffixes and width do not make another company.
    create_account(&admin, company("Acme Co., Ltd."))
        .await
        .unwrap();
    let acme = expect_code(
        create_account(&admin, company("ＡＣＭＥ Inc")).await,
        Code::AlreadyExists,
    );
    assert_eq!(metadata(&acme, "matched_field"), "name");

    // FindDuplicates lists the sets a caller may see.
    let sets = |session: Session, resource_type: &'static str| async move {
        session
            .contacts()
            .find_duplicates(FindDuplicatesRequest {
                resource_type: resource_type.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .sets
    };
    let found = sets(o.rep1.clone(), "contact").await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].matched_field, "phone");
    assert_eq!(found[0].matched_value, "+8613800138000");
    assert_eq!(found[0].ids, [first.id.clone(), second.id.clone()]);
    assert!(sets(o.rep2.clone(), "contact").await.is_empty());
    assert!(sets(stranger.clone(), "contact").await.is_empty());
    expect_invalid(
        o.rep1
            .contacts()
            .find_duplicates(FindDuplicatesRequest {
                resource_type: "lead".into(),
                ..Default::default()
            })
            .await,
        "resource_type",
    );

    // Merging keeps everything of both and redirects the merged record.
    let group = admin
        .contacts()
        .create_group(CreateGroupRequest {
            group: Some(Group {
                display_name: "Local".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    o.rep1
        .contacts()
        .batch_modify_labels(BatchModifyLabelsRequest {
            resource_type: "contact".into(),
            ids: vec![second.id.clone()],
            add_group_ids: vec![group.id.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    let first = get_contact(&o.rep1, &first.id).await.unwrap();
    // Bad merges are refused whole.
    let merge = |survivor: &Contact, merged: Vec<String>| MergeContactsRequest {
        survivor_id: survivor.id.clone(),
        survivor_etag: survivor.etag.clone(),
        merged_ids: merged,
        request_id: String::new(),
    };
    expect_invalid(
        o.manager
            .contacts()
            .merge_contacts(merge(&first, vec![first.id.clone()]))
            .await,
        "merged_ids",
    );
    expect_invalid(
        o.manager
            .contacts()
            .merge_contacts(merge(&first, vec![]))
            .await,
        "merged_ids",
    );
    // Merging is its own permission: a rep who may write both records may not merge them.
    let denied = expect_code(
        o.rep1
            .contacts()
            .merge_contacts(merge(&first, vec![second.id.clone()]))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(reason(&denied), "PERMISSION_DENIED");
    let outsiders = o.outsider.create_contact("Outsider's").await;
    expect_code(
        o.manager
            .contacts()
            .merge_contacts(merge(&first, vec![outsiders.id.clone()]))
            .await,
        Code::NotFound,
    );
    expect_code(
        stranger
            .contacts()
            .merge_contacts(merge(&first, vec![second.id.clone()]))
            .await,
        Code::NotFound,
    );
    let merged = o
        .manager
        .contacts()
        .merge_contacts(merge(&first, vec![second.id.clone()]))
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(merged.id, first.id);
    assert_eq!(
        merged.display_name, "Zhang Wei",
        "the survivor's fields win"
    );
    assert_eq!(merged.title, "CTO", "empty fields are filled");
    assert_eq!(merged.email, "zhang.wei@example.com");
    assert_eq!(merged.phones.len(), 1, "one number, not two");
    assert_eq!(merged.tags, ["key", "wechat"]);
    assert_eq!(merged.group_ids, std::slice::from_ref(&group.id));
    let gone = get_contact(&o.rep1, &second.id).await.unwrap();
    assert_eq!(gone.merged_into_id, first.id);
    assert!(gone.delete_time.is_some());
    assert!(sets(o.rep1.clone(), "contact").await.is_empty());
    // A stale survivor etag, or an already merged record, is refused.
    let third = create_contact_with(&o.rep1, named("Third"), true)
        .await
        .unwrap();
    expect_code(
        o.manager
            .contacts()
            .merge_contacts(merge(&first, vec![third.id.clone()]))
            .await,
        Code::Aborted,
    );
    expect_code(
        o.manager
            .contacts()
            .merge_contacts(merge(&merged, vec![second.id.clone()]))
            .await,
        Code::FailedPrecondition,
    );

    // Two merges racing on one survivor: one wins, the other is told to reload.
    let a = create_contact(&o.rep1, named("Race A")).await.unwrap();
    let b = create_contact(&o.rep1, named("Race B")).await.unwrap();
    let survivor = get_contact(&o.rep1, &merged.id).await.unwrap();
    let (mut one, mut other) = (o.manager.contacts(), o.manager.contacts());
    let (left, right) = tokio::join!(
        one.merge_contacts(merge(&survivor, vec![a.id.clone()])),
        other.merge_contacts(merge(&survivor, vec![b.id.clone()])),
    );
    let outcomes = [left.map(|_| ()), right.map(|_| ())];
    assert_eq!(outcomes.iter().filter(|r| r.is_ok()).count(), 1);
    let lost = outcomes.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(lost.code(), Code::Aborted, "{lost:?}");
    let history = o
        .rep1
        .contacts()
        .list_audit_entries(ListAuditEntriesRequest {
            resource_type: "contact".into(),
            resource_id: second.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(history[0].action, "merged");

    // Account merges move contacts and subsidiaries to the survivor.
    let acme = create_account(&admin, company("Acme Trading"))
        .await
        .unwrap();
    let acme_twin = create_account(&admin, company("Acme Trading Ltd (old)"))
        .await
        .unwrap();
    let buyer = create_contact(
        &admin,
        Contact {
            display_name: "Buyer".into(),
            account_id: acme_twin.id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let branch = create_account(
        &admin,
        Account {
            display_name: "Acme Branch".into(),
            parent_id: acme_twin.id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let survivor = admin
        .contacts()
        .merge_accounts(MergeAccountsRequest {
            survivor_id: acme.id.clone(),
            survivor_etag: acme.etag.clone(),
            merged_ids: vec![acme_twin.id.clone()],
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(survivor.id, acme.id);
    let buyer = get_contact(&admin, &buyer.id).await.unwrap();
    assert_eq!(buyer.account_id, acme.id, "the contact moved");
    assert_eq!(admin.get_account(&branch.id).await.parent_id, acme.id);
    assert_eq!(
        admin.get_account(&acme_twin.id).await.merged_into_id,
        acme.id
    );

    // The merges were announced with the ids to repoint.
    let events = suite.contacts_events().await;
    let merged_event = events
        .iter()
        .find(|e| e.r#type() == ContactsEventType::ContactMerged)
        .expect("a CONTACT_MERGED event");
    assert_eq!(merged_event.merged_ids, std::slice::from_ref(&second.id));
    assert!(
        events
            .iter()
            .any(|e| e.r#type() == ContactsEventType::AccountMerged
                && e.merged_ids == [acme_twin.id.clone()])
    );
}

async fn tags_groups_and_ownership_transfer(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "labels").await;

    // Managers define groups; reps use them.
    let create_group = |session: Session, name: &'static str| async move {
        session
            .contacts()
            .create_group(CreateGroupRequest {
                group: Some(Group {
                    display_name: name.into(),
                    description: "customers who buy monthly".into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .map(|r| r.into_inner().group.unwrap())
    };
    let frequent = create_group(o.manager.clone(), "高频").await.unwrap();
    expect_code(
        create_group(o.rep1.clone(), "Mine").await,
        Code::PermissionDenied,
    );
    expect_code(
        create_group(o.manager.clone(), "高频").await,
        Code::AlreadyExists,
    );
    expect_invalid(
        create_group(o.manager.clone(), " ").await,
        "group.display_name",
    );
    let listed = o
        .rep1
        .contacts()
        .list_groups(ListGroupsRequest {})
        .await
        .unwrap()
        .into_inner()
        .groups;
    assert_eq!(listed, std::slice::from_ref(&frequent));

    let mut mine = Vec::new();
    for name in ["Alpha", "Beta", "Gamma"] {
        mine.push(o.rep1.create_contact(name).await);
    }
    let ids: Vec<String> = mine.iter().map(|c| c.id.clone()).collect();
    let label = |session: &Session, ids: Vec<String>, add: &[&str], groups: Vec<String>| {
        let mut client = session.contacts();
        let request = BatchModifyLabelsRequest {
            resource_type: "contact".into(),
            ids,
            add_tags: add.iter().map(|t| (*t).to_owned()).collect(),
            add_group_ids: groups,
            ..Default::default()
        };
        async move {
            client
                .batch_modify_labels(request)
                .await
                .map(|r| r.into_inner().updated_count)
        }
    };
    let tagged = label(
        &o.rep1,
        ids.clone(),
        &["VIP", "本地"],
        vec![frequent.id.clone()],
    )
    .await
    .unwrap();
    assert_eq!(tagged, 3);
    assert_eq!(
        label(&o.rep1, ids.clone(), &["vip"], vec![]).await.unwrap(),
        0,
        "labels already there change nothing"
    );
    assert_eq!(
        o.rep1.list_contacts("tags = \"vip\"").await.unwrap().len(),
        3
    );
    assert_eq!(
        o.rep1.list_contacts("tags = \"本地\"").await.unwrap().len(),
        3
    );
    assert_eq!(
        o.rep1
            .list_contacts(&format!("group_ids = \"{}\"", frequent.id))
            .await
            .unwrap()
            .len(),
        3
    );
    let untagged = o
        .rep1
        .contacts()
        .batch_modify_labels(BatchModifyLabelsRequest {
            resource_type: "contact".into(),
            ids: vec![ids[0].clone()],
            remove_tags: vec!["VIP".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(untagged.updated_count, 1);
    assert_eq!(
        names_of(&o.rep1.list_contacts("tags = \"vip\"").await.unwrap()),
        ["Beta", "Gamma"]
    );
    assert_eq!(
        names_of(&o.rep1.list_contacts("tags != \"vip\"").await.unwrap()),
        ["Alpha"]
    );

    // A batch with one record outside the caller's scope changes nothing at all.
    let theirs = o.rep2.create_contact("Rep2's").await;
    let before = get_contact(&o.rep1, &ids[0]).await.unwrap();
    expect_code(
        label(
            &o.rep1,
            vec![ids[0].clone(), theirs.id.clone()],
            &["new"],
            vec![],
        )
        .await,
        Code::NotFound,
    );
    assert_eq!(
        get_contact(&o.rep1, &ids[0]).await.unwrap().etag,
        before.etag
    );
    expect_invalid(
        label(&o.rep1, ids.clone(), &[], vec!["no-such-group".into()]).await,
        "add_group_ids[0]",
    );
    expect_invalid(label(&o.rep1, vec![], &["x"], vec![]).await, "ids");
    expect_invalid(label(&o.rep1, ids.clone(), &[], vec![]).await, "add_tags");
    let platform_admin = suite.admin().await;
    let stranger = org::other_tenant(&suite, &platform_admin, "labels-other").await;
    expect_code(
        label(&stranger, vec![ids[1].clone()], &["mine now"], vec![]).await,
        Code::NotFound,
    );
    expect_code(
        stranger
            .contacts()
            .delete_group(DeleteGroupRequest {
                request_id: String::new(),
                id: frequent.id.clone(),
            })
            .await,
        Code::NotFound,
    );

    // A group with members cannot be deleted.
    let in_use = expect_code(
        o.manager
            .contacts()
            .delete_group(DeleteGroupRequest {
                request_id: String::new(),
                id: frequent.id.clone(),
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&in_use), "GROUP_IN_USE");

    // Ownership: a rep leaves, the manager hands all their customers to another rep at once.
    let transfer = |session: &Session, request: TransferOwnershipRequest| {
        let mut client = session.contacts();
        async move {
            client
                .transfer_ownership(request)
                .await
                .map(|r| r.into_inner().transferred_count)
        }
    };
    expect_invalid(
        transfer(
            &o.rep1,
            TransferOwnershipRequest {
                resource_type: "contact".into(),
                ids: ids.clone(),
                to_owner_id: o.outsider.user_id.clone(),
                ..Default::default()
            },
        )
        .await,
        "to_owner_id",
    );
    expect_invalid(
        transfer(
            &o.manager,
            TransferOwnershipRequest {
                resource_type: "contact".into(),
                to_owner_id: o.rep2.user_id.clone(),
                ..Default::default()
            },
        )
        .await,
        "from_owner_id",
    );
    assert_eq!(
        transfer(
            &stranger,
            TransferOwnershipRequest {
                resource_type: "contact".into(),
                from_owner_id: o.rep1.user_id.clone(),
                to_owner_id: stranger.user_id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap(),
        0,
        "another tenant moves nothing of ours"
    );
    let moved = transfer(
        &o.manager,
        TransferOwnershipRequest {
            resource_type: "contact".into(),
            from_owner_id: o.rep1.user_id.clone(),
            to_owner_id: o.rep2.user_id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(moved, 3);
    assert!(o.rep1.list_contacts("").await.unwrap().is_empty());
    assert_eq!(
        names_of(&o.rep2.list_contacts("").await.unwrap()),
        ["Alpha", "Beta", "Gamma", "Rep2's"]
    );
    // The history keeps who owned it when.
    let history = o
        .rep2
        .contacts()
        .list_audit_entries(ListAuditEntriesRequest {
            resource_type: "contact".into(),
            resource_id: ids[1].clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let owner_change = history[0]
        .changes
        .iter()
        .find(|c| c.field == "owner_id")
        .expect("the transfer is in the history");
    assert_eq!(owner_change.before, o.rep1.user_id);
    assert_eq!(owner_change.after, o.rep2.user_id);
    assert_eq!(history[0].actor_id, o.manager.user_id);

    // Transfers of named records check their current owner.
    let stale = expect_code(
        transfer(
            &o.manager,
            TransferOwnershipRequest {
                resource_type: "contact".into(),
                ids: vec![ids[0].clone()],
                from_owner_id: o.rep1.user_id.clone(),
                to_owner_id: o.manager.user_id.clone(),
                ..Default::default()
            },
        )
        .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&stale), "OWNER_CHANGED");
    // Accounts move the same way.
    let account = create_account(&o.rep2, company("Transferred Ltd"))
        .await
        .unwrap();
    assert_eq!(
        transfer(
            &o.manager,
            TransferOwnershipRequest {
                resource_type: "account".into(),
                ids: vec![account.id.clone()],
                to_owner_id: o.rep1.user_id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap(),
        1
    );
    assert_eq!(
        o.rep1.get_account(&account.id).await.owner_id,
        o.rep1.user_id
    );

    // Each change was announced.
    let events = suite.contacts_events().await;
    let owner_updates = events
        .iter()
        .filter(|e| e.r#type() == ContactsEventType::ContactUpdated)
        .filter(|e| match &e.subject {
            Some(contacts_event::Subject::Contact(c)) => c.owner_id == o.rep2.user_id,
            _ => false,
        })
        .count();
    assert!(owner_updates >= 3, "{owner_updates} transfer events");
}

/// An account's whole life: updated (conditionally on its etag), deleted, undeleted; and a
/// group removed once empty. Each change is audited and announced.
async fn accounts_and_groups_through_their_lives(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "lives").await;
    let created = create_account(&o.rep1, company("深圳华强电子有限公司"))
        .await
        .unwrap();
    let mut api = o.rep1.contacts();
    let updated = api
        .update_account(UpdateAccountRequest {
            account: Some(Account {
                id: created.id.clone(),
                etag: created.etag.clone(),
                industry: "electronics".into(),
                website: "https://huaqiang.example.cn".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["industry".into(), "website".into()],
            }),
            request_id: String::new(),
            allow_duplicates: false,
        })
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(updated.industry, "electronics");
    assert_eq!(
        updated.display_name, created.display_name,
        "unmasked fields stay"
    );
    assert_ne!(updated.etag, created.etag);
    let stale = api
        .update_account(UpdateAccountRequest {
            account: Some(Account {
                id: created.id.clone(),
                etag: created.etag.clone(),
                industry: "retail".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["industry".into()],
            }),
            request_id: String::new(),
            allow_duplicates: false,
        })
        .await;
    expect_code(stale, Code::Aborted);
    let read = api
        .get_account(GetAccountRequest {
            id: created.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(read, updated, "the stale write changed nothing");
    let deleted = api
        .delete_account(DeleteAccountRequest {
            id: created.id.clone(),
            etag: updated.etag.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert!(deleted.delete_time.is_some());
    let listed = api
        .list_accounts(ListAccountsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .accounts;
    assert!(listed.iter().all(|a| a.id != created.id));
    let restored = api
        .undelete_account(UndeleteAccountRequest {
            id: created.id.clone(),
            etag: deleted.etag.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert!(restored.delete_time.is_none());
    assert_eq!(restored.industry, "electronics");
    let history: Vec<String> = api
        .list_audit_entries(ListAuditEntriesRequest {
            resource_type: "account".into(),
            resource_id: created.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(history, ["undelete", "delete", "update", "create"]);
    let events: Vec<ContactsEventType> = suite
        .contacts_events()
        .await
        .into_iter()
        .filter(|e| matches!(&e.subject, Some(contacts_event::Subject::Account(a)) if a.id == created.id))
        .map(|e| e.r#type())
        .collect();
    assert_eq!(
        events,
        [
            ContactsEventType::AccountCreated,
            ContactsEventType::AccountUpdated,
            ContactsEventType::AccountDeleted,
            ContactsEventType::AccountUndeleted,
        ]
    );

    // A group with no members goes; ListGroups no longer shows it.
    let group = o
        .manager
        .contacts()
        .create_group(CreateGroupRequest {
            group: Some(Group {
                display_name: "Trade fair 2026".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .group
        .unwrap();
    o.manager
        .contacts()
        .delete_group(DeleteGroupRequest {
            request_id: String::new(),
            id: group.id.clone(),
        })
        .await
        .unwrap();
    let groups = o
        .manager
        .contacts()
        .list_groups(ListGroupsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .groups;
    assert!(groups.iter().all(|g| g.id != group.id));
}

/// An ERP's customer master is upserted by its customer number: created once, unchanged when
/// re-sent, changed in the fields the ERP owns only, restored when deleted, taken over by a
/// merge's survivor, and never shared by two accounts, whoever can see them.
async fn accounts_upsert_by_the_erps_customer_number(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let org = org::build(&suite, admin.clone(), "erp-accounts").await;
    let other = org::other_tenant(&suite, &admin, "erp-accounts-other").await;
    let key = admin
        .identity()
        .create_api_key(crm_proto::identity::CreateApiKeyRequest {
            display_name: "ERP customer master".into(),
            user_id: String::new(),
            permissions: vec![
                "contacts.accounts.read".into(),
                "contacts.accounts.write".into(),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    let erp = Session::api_key(&suite, &key.secret).await;
    let upsert = |session: Session, account: Account, request_id: &str| {
        let request_id = request_id.to_owned();
        async move {
            session
                .contacts()
                .upsert_account(UpsertAccountRequest {
                    account: Some(account),
                    request_id,
                })
                .await
                .map(|r| r.into_inner())
        }
    };
    let rep1_id = org.rep1.user_id.clone();
    let sent = Account {
        external_id: "C-10042".into(),
        display_name: "深圳华强电子有限公司".into(),
        phone: "+86 755 8888 1234".into(),
        industry: "electronics".into(),
        owner_id: rep1_id.clone(),
        ..Default::default()
    };

    // Created once, owned by the rep the ERP names; the same values again change nothing.
    let created = upsert(erp.clone(), sent.clone(), "").await.unwrap();
    assert_eq!(created.outcome, UpsertOutcome::Created as i32);
    let account = created.account.unwrap();
    assert_eq!(
        (
            account.external_id.as_str(),
            account.owner_id.as_str(),
            account.phone.as_str()
        ),
        ("C-10042", rep1_id.as_str(), "+8675588881234")
    );
    let events = suite.contacts_events().await.len();
    let again = upsert(erp.clone(), sent.clone(), "").await.unwrap();
    assert_eq!(again.outcome, UpsertOutcome::Unchanged as i32);
    assert_eq!(again.account.unwrap().etag, account.etag);
    assert_eq!(
        suite.contacts_events().await.len(),
        events,
        "nothing announced"
    );

    // The rep sees it and finds it by the ERP's number; the rep's tags stay when the ERP
    // changes what it owns, and the ERP cannot move the owner.
    let found = list_accounts(&org.rep1, "external_id = \"C-10042\"").await;
    assert_eq!(
        found.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        [account.id.as_str()]
    );
    let tagged = update_account(
        &org.rep1,
        Account {
            id: account.id.clone(),
            etag: account.etag.clone(),
            tags: vec!["key account".into()],
            ..Default::default()
        },
        &["tags"],
    )
    .await
    .unwrap();
    let changed = upsert(
        erp.clone(),
        Account {
            industry: "semiconductors".into(),
            owner_id: org.rep2.user_id.clone(),
            ..sent.clone()
        },
        "",
    )
    .await
    .unwrap();
    assert_eq!(changed.outcome, UpsertOutcome::Updated as i32);
    let changed = changed.account.unwrap();
    assert_eq!(changed.id, account.id);
    assert_eq!(changed.industry, "semiconductors");
    assert_eq!(changed.tags, tagged.tags);
    assert_eq!(changed.owner_id, rep1_id, "the owner is the CRM's");

    // A retried request answers the first result, even after the account changed since.
    let first = upsert(erp.clone(), sent.clone(), "sync-7").await.unwrap();
    let retried = upsert(erp.clone(), sent.clone(), "sync-7").await.unwrap();
    assert_eq!(first, retried);

    // Nobody gives a second account the number: not the admin, not a rep who cannot see the
    // holder (who is not told which account holds it), not by an update.
    let taken = expect_code(
        create_account(
            &admin,
            Account {
                external_id: "C-10042".into(),
                ..company("Another Huaqiang")
            },
        )
        .await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&taken), "EXTERNAL_ID_TAKEN");
    assert_eq!(metadata(&taken, "duplicate_id"), account.id);
    assert_eq!(metadata(&taken, "field"), "account.external_id");
    let hidden = expect_code(
        upsert(
            org.rep2.clone(),
            Account {
                owner_id: String::new(),
                ..sent.clone()
            },
            "",
        )
        .await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&hidden), "EXTERNAL_ID_TAKEN");
    assert_eq!(
        metadata(&hidden, "duplicate_id"),
        "",
        "the holder stays hidden"
    );
    let plain = create_account(&admin, company("Plain Co")).await.unwrap();
    let clash = expect_code(
        update_account(
            &admin,
            Account {
                id: plain.id.clone(),
                etag: plain.etag.clone(),
                external_id: "C-10042".into(),
                ..Default::default()
            },
            &["external_id"],
        )
        .await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&clash), "EXTERNAL_ID_TAKEN");

    // Another tenant's ERP with the same number gets its own account.
    let theirs = upsert(
        other.clone(),
        Account {
            owner_id: String::new(),
            ..sent.clone()
        },
        "",
    )
    .await
    .unwrap();
    assert_eq!(theirs.outcome, UpsertOutcome::Created as i32);
    assert_ne!(theirs.account.unwrap().id, account.id);
    assert!(
        list_accounts(&other, "external_id = \"C-10042\"")
            .await
            .len()
            == 1
    );

    // Bad input names the field; a caller without the permission is refused.
    expect_invalid(
        upsert(
            erp.clone(),
            Account {
                external_id: String::new(),
                ..sent.clone()
            },
            "",
        )
        .await,
        "account.external_id",
    );
    expect_invalid(
        upsert(
            erp.clone(),
            Account {
                external_id: "x".repeat(101),
                ..sent.clone()
            },
            "",
        )
        .await,
        "account.external_id",
    );
    expect_invalid(
        upsert(
            erp.clone(),
            Account {
                display_name: String::new(),
                ..sent.clone()
            },
            "",
        )
        .await,
        "account.display_name",
    );
    let reader = admin
        .identity()
        .create_api_key(crm_proto::identity::CreateApiKeyRequest {
            display_name: "ERP reader".into(),
            user_id: String::new(),
            permissions: vec!["contacts.accounts.read".into()],
        })
        .await
        .unwrap()
        .into_inner();
    let reader = Session::api_key(&suite, &reader.secret).await;
    expect_code(
        upsert(reader, sent.clone(), "").await,
        Code::PermissionDenied,
    );

    // Deleted in the CRM, then sent again by the ERP: restored, not duplicated.
    let current = admin.get_account(&account.id).await;
    admin
        .contacts()
        .delete_account(DeleteAccountRequest {
            id: account.id.clone(),
            etag: current.etag,
            request_id: String::new(),
        })
        .await
        .unwrap();
    let back = upsert(erp.clone(), sent.clone(), "").await.unwrap();
    assert_eq!(back.outcome, UpsertOutcome::Updated as i32);
    let back = back.account.unwrap();
    assert_eq!(back.id, account.id);
    assert!(back.delete_time.is_none());

    // Merged into a survivor, the ERP's number moves with it and the next upsert lands there.
    let survivor = create_account(&admin, company("Huaqiang Group"))
        .await
        .unwrap();
    let merged = admin
        .contacts()
        .merge_accounts(MergeAccountsRequest {
            survivor_id: survivor.id.clone(),
            survivor_etag: survivor.etag.clone(),
            merged_ids: vec![account.id.clone()],
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .account
        .unwrap();
    assert_eq!(merged.external_id, "C-10042");
    assert_eq!(admin.get_account(&account.id).await.external_id, "");
    let after = upsert(erp.clone(), sent.clone(), "").await.unwrap();
    assert_eq!(after.account.unwrap().id, survivor.id);
}

both_modes!(
    accounts_and_groups_through_their_lives,
    accounts_upsert_by_the_erps_customer_number,
    full_records_and_group_trees,
    duplicates_are_refused_found_and_merged,
    tags_groups_and_ownership_transfer,
);
