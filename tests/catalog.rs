//! The sales catalogue end to end through the gateway: products and price lists on the
//! shared record machinery (tenant-scoped), exact money in currencies of different minor
//! units, dated exchange rates, upserts by external id, custom fields, import and export.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use tonic::Code;

use crm_proto::common::{
    CustomFieldDefinition, CustomFieldType, Date, DuplicatePolicy, ExportFormat, ImportOptions,
    Money, UpsertOutcome,
};
use crm_proto::contacts::AccountTier;
use crm_proto::identity::DataScope;
use crm_proto::sales::*;
use support::clients::{Session, expect_code, expect_invalid, reason};
use support::existence::{Asker, Shown, assert_hidden};
use support::{Mode, Suite, org};

fn money(code: &str, amount: &str) -> Option<Money> {
    Some(Money {
        currency_code: code.into(),
        amount: amount.into(),
    })
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn product(code: &str, name: &str) -> Product {
    Product {
        code: code.into(),
        display_name: name.into(),
        unit: "pcs".into(),
        category: "pumps".into(),
        tax_rate: "0.13".into(),
        cost: money("CNY", "8.5"),
        ..Default::default()
    }
}

async fn create_product(session: &Session, input: Product) -> Result<Product, tonic::Status> {
    Ok(session
        .sales()
        .create_product(CreateProductRequest {
            product: Some(input),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .product
        .unwrap())
}

async fn get_product(session: &Session, id: &str) -> Result<Product, tonic::Status> {
    Ok(session
        .sales()
        .get_product(GetProductRequest { id: id.into() })
        .await?
        .into_inner()
        .product
        .unwrap())
}

async fn rename(
    session: &Session,
    id: &str,
    etag: &str,
    name: &str,
) -> Result<Product, tonic::Status> {
    Ok(session
        .sales()
        .update_product(UpdateProductRequest {
            product: Some(Product {
                id: id.into(),
                etag: etag.into(),
                display_name: name.into(),
                ..Default::default()
            }),
            update_mask: None,
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .product
        .unwrap())
}

async fn product_codes(session: &Session, filter: &str) -> Vec<String> {
    let mut codes: Vec<String> = session
        .sales()
        .list_products(ListProductsRequest {
            page_size: 100,
            filter: filter.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .products
        .into_iter()
        .map(|p| p.code)
        .collect();
    codes.sort();
    codes
}

/// A user holding only `permissions`, over the whole tenant.
async fn holder(suite: &Suite, admin: &Session, email: &str, permissions: &[&str]) -> Session {
    org::custom_user(suite, admin, email, permissions, DataScope::All).await
}

/// Products: the standard checklist. Good path, each validation failure with its field, not
/// found, stale etag, request-id replay, another tenant, callers without the permission,
/// concurrent writers, events and audit.
async fn products_follow_the_standard_methods(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "catalog").await;
    let other = org::other_tenant(&suite, &admin, "catalog-other").await;

    let created = create_product(&admin, product("P-100", "不锈钢离心泵"))
        .await
        .unwrap();
    assert_eq!(
        created.cost,
        money("CNY", "8.50"),
        "the currency's two decimals"
    );
    assert_eq!(created.tax_rate, "0.13");
    assert_eq!(
        created.status,
        ProductStatus::Active as i32,
        "new products are on sale"
    );
    assert!(!created.etag.is_empty() && created.create_time.is_some());

    // Every bad field is named, and nothing is written.
    let bad: Vec<(Product, &str)> = vec![
        (
            Product {
                code: String::new(),
                ..product("", "x")
            },
            "product.code",
        ),
        (product("P-1", ""), "product.display_name"),
        (product(&"C".repeat(65), "x"), "product.code"),
        (product("P-1\u{7}", "x"), "product.code"),
        (
            Product {
                tax_rate: "1.5".into(),
                ..product("P-2", "x")
            },
            "product.tax_rate",
        ),
        (
            Product {
                tax_rate: "0.123456".into(),
                ..product("P-2", "x")
            },
            "product.tax_rate",
        ),
        (
            Product {
                tax_rate: "-0.1".into(),
                ..product("P-2", "x")
            },
            "product.tax_rate",
        ),
        (
            Product {
                cost: money("CNY", "8.505"),
                ..product("P-3", "x")
            },
            "product.cost.amount",
        ),
        (
            Product {
                cost: money("JPY", "1.5"),
                ..product("P-3", "x")
            },
            "product.cost.amount",
        ),
        (
            Product {
                cost: money("RMB", "1"),
                ..product("P-3", "x")
            },
            "product.cost.currency_code",
        ),
        (
            Product {
                cost: money("CNY", "1e3"),
                ..product("P-3", "x")
            },
            "product.cost.amount",
        ),
        (
            Product {
                status: 9,
                ..product("P-4", "x")
            },
            "product.status",
        ),
        (
            Product {
                tags: vec!["x".repeat(51)],
                ..product("P-5", "x")
            },
            "product.tags",
        ),
    ];
    for (input, field) in bad {
        expect_invalid(create_product(&admin, input).await, field);
    }
    expect_invalid(
        admin
            .sales()
            .create_product(CreateProductRequest::default())
            .await,
        "product",
    );
    assert_eq!(product_codes(&admin, "").await, ["P-100"]);

    // A code names one product, ignoring case.
    let taken = expect_code(
        create_product(&admin, product("p-100", "another")).await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&taken), "DUPLICATE_RECORD");
    assert!(taken.message().contains("code"), "{}", taken.message());

    // Not found, for a well-formed unknown id and for another tenant's product alike.
    let unknown = "0190f5f1-0000-7000-8000-000000000000";
    expect_code(get_product(&admin, unknown).await, Code::NotFound);
    expect_code(get_product(&other, &created.id).await, Code::NotFound);
    let hidden = [Asker {
        label: "another tenant's admin",
        session: other.clone(),
        id: created.id.clone(),
    }];
    let unknown_asker = Asker {
        label: "unknown id",
        session: admin.clone(),
        id: unknown.into(),
    };
    for rpc in [
        "GetProduct",
        "UpdateProduct",
        "DeleteProduct",
        "UndeleteProduct",
        "ListAuditEntries",
        "QuotePrice",
    ] {
        let shown = assert_hidden(
            rpc,
            &hidden,
            &unknown_asker,
            |s: Session, id: String| async move {
                let sales = s.sales();
                let mut sales = sales;
                match rpc {
                    "GetProduct" => get_product(&s, &id).await.map(|p| p.id),
                    "UpdateProduct" => rename(&s, &id, "", "renamed").await.map(|p| p.id),
                    "DeleteProduct" => sales
                        .delete_product(DeleteProductRequest {
                            id,
                            ..Default::default()
                        })
                        .await
                        .map(|_| "deleted".to_owned()),
                    "UndeleteProduct" => sales
                        .undelete_product(UndeleteProductRequest {
                            id,
                            ..Default::default()
                        })
                        .await
                        .map(|_| "restored".to_owned()),
                    "ListAuditEntries" => sales
                        .list_audit_entries(ListAuditEntriesRequest {
                            resource_type: "product".into(),
                            resource_id: id,
                            ..Default::default()
                        })
                        .await
                        .map(|r| r.into_inner().entries.len().to_string()),
                    _ => sales
                        .quote_price(QuotePriceRequest {
                            product_id: id,
                            currency_code: "CNY".into(),
                            ..Default::default()
                        })
                        .await
                        .map(|r| r.into_inner().price_list_id),
                }
            },
        )
        .await;
        assert!(
            matches!(
                shown,
                Shown::Refused {
                    code: Code::NotFound,
                    ..
                }
            ),
            "{rpc}: {shown:?}"
        );
    }
    assert!(product_codes(&other, "").await.is_empty());
    assert_eq!(
        get_product(&admin, &created.id).await.unwrap().display_name,
        "不锈钢离心泵"
    );

    // The catalogue is the tenant's: every seller reads it, whoever created a product; only
    // those who maintain it write it, and someone without the permission reads nothing.
    for rep in [&o.rep1, &o.outsider, &o.manager] {
        assert_eq!(get_product(rep, &created.id).await.unwrap().id, created.id);
        assert_eq!(product_codes(rep, "").await, ["P-100"]);
        expect_code(
            create_product(rep, product("P-R", "rep's")).await,
            Code::PermissionDenied,
        );
        expect_code(
            rename(rep, &created.id, "", "rep was here").await,
            Code::PermissionDenied,
        );
    }
    let customers_only = holder(
        &suite,
        &admin,
        "customers-only@catalog.example",
        &["contacts.contacts.read"],
    )
    .await;
    expect_code(
        get_product(&customers_only, &created.id).await,
        Code::PermissionDenied,
    );
    let keeper = holder(
        &suite,
        &admin,
        "keeper@catalog.example",
        &[
            "sales.products.read",
            "sales.products.write",
            "sales.audit.read",
        ],
    )
    .await;
    let kept = rename(&keeper, &created.id, &created.etag, "不锈钢离心泵 A型")
        .await
        .unwrap();
    assert_ne!(kept.etag, created.etag);

    // A stale etag is refused and changes nothing.
    expect_code(
        rename(&admin, &created.id, &created.etag, "stale").await,
        Code::Aborted,
    );
    assert_eq!(
        get_product(&admin, &created.id).await.unwrap().display_name,
        "不锈钢离心泵 A型"
    );

    // A replayed create answers the first result and writes one product.
    let replay = |session: Session| async move {
        session
            .sales()
            .create_product(CreateProductRequest {
                product: Some(product("P-200", "Valve")),
                request_id: "create-p-200".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap()
    };
    let first = replay(admin.clone()).await;
    let again = replay(admin.clone()).await;
    assert_eq!(first, again);
    assert_eq!(product_codes(&admin, "").await, ["P-100", "P-200"]);

    // Concurrent writers with one etag: exactly one wins, the rest are told to re-read.
    let current = get_product(&admin, &first.id).await.unwrap();
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let admin = admin.clone();
            let (id, etag) = (current.id.clone(), current.etag.clone());
            tokio::spawn(async move { rename(&admin, &id, &etag, &format!("Valve {i}")).await })
        })
        .collect();
    let mut won = 0;
    for writer in writers {
        match writer.await.unwrap() {
            Ok(_) => won += 1,
            Err(status) => assert_eq!(status.code(), Code::Aborted, "{status:?}"),
        }
    }
    assert_eq!(won, 1);

    // Filters, search, delete and restore; a deleted product's code is free again.
    assert_eq!(
        product_codes(&admin, "category = \"pumps\" AND display_name : \"离心\"").await,
        ["P-100"]
    );
    assert_eq!(
        product_codes(&admin, "status = PRODUCT_STATUS_ACTIVE").await,
        ["P-100", "P-200"]
    );
    expect_invalid(
        admin
            .sales()
            .list_products(ListProductsRequest {
                filter: "cost > 1".into(),
                ..Default::default()
            })
            .await,
        "filter",
    );
    let found = admin
        .sales()
        .search_products(SearchProductsRequest {
            query: "离心泵".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].matched_field, "display_name");
    let by_code = o
        .rep1
        .sales()
        .search_products(SearchProductsRequest {
            query: "p-200".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(by_code[0].product.as_ref().unwrap().id, first.id);
    assert!(
        other
            .sales()
            .search_products(SearchProductsRequest {
                query: "p-200".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .results
            .is_empty()
    );
    let deleted = admin
        .sales()
        .delete_product(DeleteProductRequest {
            id: first.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert!(deleted.delete_time.is_some());
    let successor = create_product(&admin, product("P-200", "Valve, new"))
        .await
        .unwrap();
    let blocked = expect_code(
        admin
            .sales()
            .undelete_product(UndeleteProductRequest {
                id: first.id.clone(),
                ..Default::default()
            })
            .await,
        Code::AlreadyExists,
    );
    assert_eq!(
        reason(&blocked),
        "DUPLICATE_RECORD",
        "two live products cannot share a code"
    );
    assert_ne!(successor.id, first.id);
    expect_invalid(
        admin
            .sales()
            .delete_product(DeleteProductRequest {
                id: successor.id.clone(),
                etag: "not an etag".into(),
                request_id: String::new(),
            })
            .await,
        "etag",
    );
    let delete_once = |session: Session, id: String| async move {
        session
            .sales()
            .delete_product(DeleteProductRequest {
                id,
                etag: String::new(),
                request_id: "delete-successor".into(),
            })
            .await
            .map(|r| r.into_inner().product.unwrap())
    };
    let gone = delete_once(admin.clone(), successor.id.clone())
        .await
        .unwrap();
    assert_eq!(
        delete_once(admin.clone(), successor.id.clone())
            .await
            .unwrap(),
        gone,
        "a replay answers the first delete"
    );
    let restored = admin
        .sales()
        .undelete_product(UndeleteProductRequest {
            id: first.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert!(
        restored.delete_time.is_none(),
        "the code is free again once the successor is gone"
    );
    expect_invalid(
        admin
            .sales()
            .search_products(SearchProductsRequest {
                query: "华".into(),
                ..Default::default()
            })
            .await,
        "query",
    );

    // The history says who changed what; the outbox announced each change.
    let history = keeper
        .sales()
        .list_audit_entries(ListAuditEntriesRequest {
            resource_type: "product".into(),
            resource_id: created.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let actions: Vec<(&str, &str)> = history
        .iter()
        .map(|e| (e.action.as_str(), e.actor_id.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("update", keeper.user_id.as_str()),
            ("create", admin.user_id.as_str())
        ]
    );
    let renamed = history[0]
        .changes
        .iter()
        .find(|c| c.field == "display_name")
        .unwrap();
    assert_eq!(
        (renamed.before.as_str(), renamed.after.as_str()),
        ("不锈钢离心泵", "不锈钢离心泵 A型")
    );
    let events = suite.outbox::<SalesEvent>("sales").await;
    let about = |id: &str| -> Vec<i32> {
        events
            .iter()
            .filter(|e| matches!(&e.subject, Some(sales_event::Subject::Product(p)) if p.id == id))
            .map(|e| e.r#type)
            .collect()
    };
    assert_eq!(
        about(&created.id),
        [
            SalesEventType::ProductCreated as i32,
            SalesEventType::ProductUpdated as i32
        ]
    );
    assert_eq!(
        about(&first.id),
        [
            SalesEventType::ProductCreated as i32,
            SalesEventType::ProductUpdated as i32,
            SalesEventType::ProductDeleted as i32,
            SalesEventType::ProductUndeleted as i32
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e.tenant_id == admin.tenant_id && !e.event_id.is_empty())
    );
}

/// An ERP sends its item and price lists by its own ids: the first upsert creates, a repeat
/// changes nothing (no new version, no event), a change updates, and a deleted record sent
/// again comes back.
async fn upserts_by_external_id_change_only_what_changed(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let other = org::other_tenant(&suite, &admin, "upsert-other").await;
    let upsert = |session: Session, input: Product| async move {
        session
            .sales()
            .upsert_product(UpsertProductRequest {
                product: Some(input),
                request_id: String::new(),
            })
            .await
            .map(|r| r.into_inner())
    };
    let item = Product {
        external_id: "ERP-4711".into(),
        ..product("P-4711", "Gear pump")
    };
    let created = upsert(admin.clone(), item.clone()).await.unwrap();
    assert_eq!(created.outcome, UpsertOutcome::Created as i32);
    let first = created.product.unwrap();
    let events_before = suite.outbox::<SalesEvent>("sales").await.len();
    let repeated = upsert(admin.clone(), item.clone()).await.unwrap();
    assert_eq!(repeated.outcome, UpsertOutcome::Unchanged as i32);
    assert_eq!(repeated.product.unwrap().etag, first.etag);
    assert_eq!(
        suite.outbox::<SalesEvent>("sales").await.len(),
        events_before
    );

    let changed = upsert(
        admin.clone(),
        Product {
            cost: money("CNY", "9"),
            ..item.clone()
        },
    )
    .await
    .unwrap();
    assert_eq!(changed.outcome, UpsertOutcome::Updated as i32);
    let changed = changed.product.unwrap();
    assert_eq!(
        (changed.id.as_str(), changed.cost.clone()),
        (first.id.as_str(), money("CNY", "9.00"))
    );

    // Another tenant's ERP with the same item code gets its own product.
    let theirs = upsert(other.clone(), item.clone()).await.unwrap();
    assert_eq!(theirs.outcome, UpsertOutcome::Created as i32);
    assert_ne!(theirs.product.unwrap().id, first.id);

    // Bad input is named; the external id is required; an id another product holds is taken.
    expect_invalid(
        upsert(admin.clone(), product("P-1", "no external id")).await,
        "product.external_id",
    );
    expect_invalid(
        upsert(
            admin.clone(),
            Product {
                tax_rate: "2".into(),
                ..item.clone()
            },
        )
        .await,
        "product.tax_rate",
    );
    let clash = expect_code(
        create_product(
            &admin,
            Product {
                external_id: "ERP-4711".into(),
                ..product("P-9", "clash")
            },
        )
        .await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&clash), "EXTERNAL_ID_TAKEN");
    expect_code(
        upsert(
            suite.admin().await,
            Product {
                external_id: "ERP-NEW".into(),
                ..product("p-4711", "same code")
            },
        )
        .await,
        Code::AlreadyExists,
    );
    let rep = org::build(&suite, admin.clone(), "upsert").await.rep1;
    expect_code(upsert(rep, item.clone()).await, Code::PermissionDenied);

    // Deleted, then sent again: restored with the values sent.
    admin
        .sales()
        .delete_product(DeleteProductRequest {
            id: first.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let back = upsert(admin.clone(), item.clone()).await.unwrap();
    assert_eq!(back.outcome, UpsertOutcome::Updated as i32);
    let back = back.product.unwrap();
    assert!(back.delete_time.is_none());
    assert_eq!(back.cost, money("CNY", "8.50"));

    // Price lists are upserted the same way.
    let list = PriceList {
        external_id: "ERP-PL-1".into(),
        display_name: "Retail 2027".into(),
        currency_code: "CNY".into(),
        entries: vec![PriceListEntry {
            product_id: first.id.clone(),
            unit_price: money("CNY", "12.5"),
            volume_breaks: vec![],
        }],
        ..Default::default()
    };
    let send = |input: PriceList| {
        let admin = admin.clone();
        async move {
            admin
                .sales()
                .upsert_price_list(UpsertPriceListRequest {
                    price_list: Some(input),
                    request_id: String::new(),
                })
                .await
                .unwrap()
                .into_inner()
                .outcome
        }
    };
    assert_eq!(send(list.clone()).await, UpsertOutcome::Created as i32);
    assert_eq!(send(list.clone()).await, UpsertOutcome::Unchanged as i32);
    let mut cheaper = list.clone();
    cheaper.entries[0].unit_price = money("", "12");
    assert_eq!(send(cheaper).await, UpsertOutcome::Updated as i32);
    expect_invalid(
        admin
            .sales()
            .upsert_price_list(UpsertPriceListRequest {
                price_list: Some(PriceList {
                    external_id: String::new(),
                    ..list.clone()
                }),
                request_id: String::new(),
            })
            .await,
        "price_list.external_id",
    );
}

fn entry(product_id: &str, price: &str, breaks: &[(&str, &str)]) -> PriceListEntry {
    PriceListEntry {
        product_id: product_id.into(),
        unit_price: money("", price),
        volume_breaks: breaks
            .iter()
            .map(|(q, p)| VolumeBreak {
                min_quantity: (*q).into(),
                unit_price: money("", p),
            })
            .collect(),
    }
}

async fn create_list(session: &Session, input: PriceList) -> Result<PriceList, tonic::Status> {
    Ok(session
        .sales()
        .create_price_list(CreatePriceListRequest {
            price_list: Some(input),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .price_list
        .unwrap())
}

async fn quote(
    session: &Session,
    product_id: &str,
    (quantity, currency, tier): (&str, &str, AccountTier),
    on: Option<Date>,
) -> Result<QuotePriceResponse, tonic::Status> {
    Ok(session
        .sales()
        .quote_price(QuotePriceRequest {
            product_id: product_id.into(),
            quantity: quantity.into(),
            currency_code: currency.into(),
            account_tier: tier as i32,
            date: on,
        })
        .await?
        .into_inner())
}

/// Price lists: the standard checklist (good path, bad fields, not found, stale etag,
/// replay, another tenant, callers without the permission, concurrent writers, events and
/// audit).
async fn price_lists_follow_the_standard_methods(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "lists").await;
    let other = org::other_tenant(&suite, &admin, "lists-other").await;
    let pump = create_product(&admin, product("P-1", "Pump"))
        .await
        .unwrap();
    let input = PriceList {
        display_name: "Distributors".into(),
        currency_code: "CNY".into(),
        entries: vec![entry(&pump.id, "10", &[])],
        tags: vec!["channel".into()],
        ..Default::default()
    };
    let create_once = |request_id: &'static str| {
        let (admin, input) = (admin.clone(), input.clone());
        async move {
            admin
                .sales()
                .create_price_list(CreatePriceListRequest {
                    price_list: Some(input),
                    request_id: request_id.into(),
                })
                .await
                .unwrap()
                .into_inner()
                .price_list
                .unwrap()
        }
    };
    let created = create_once("create-distributors").await;
    assert_eq!(create_once("create-distributors").await, created);
    let lists = |session: Session, filter: &'static str| async move {
        session
            .sales()
            .list_price_lists(ListPriceListsRequest {
                filter: filter.into(),
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().price_lists.len())
    };
    assert_eq!(lists(admin.clone(), "").await.unwrap(), 1);
    assert_eq!(
        lists(
            o.rep2.clone(),
            "currency_code = \"CNY\" AND tags = \"channel\""
        )
        .await
        .unwrap(),
        1
    );
    expect_invalid(lists(admin.clone(), "entries = 1").await, "filter");
    assert_eq!(lists(other.clone(), "").await.unwrap(), 0);
    assert_eq!(
        get_list(&o.outsider, &created.id).await.unwrap().id,
        created.id
    );
    expect_code(
        create_list(&o.manager, input.clone()).await,
        Code::PermissionDenied,
    );
    let no_catalogue = holder(
        &suite,
        &admin,
        "no-catalogue@lists.example",
        &["contacts.accounts.read"],
    )
    .await;
    expect_code(
        get_list(&no_catalogue, &created.id).await,
        Code::PermissionDenied,
    );

    let update = |session: Session, etag: String, name: String| {
        let id = created.id.clone();
        async move {
            session
                .sales()
                .update_price_list(UpdatePriceListRequest {
                    price_list: Some(PriceList {
                        id,
                        etag,
                        display_name: name,
                        ..Default::default()
                    }),
                    update_mask: None,
                    request_id: String::new(),
                })
                .await
                .map(|r| r.into_inner().price_list.unwrap())
        }
    };
    expect_invalid(
        admin
            .sales()
            .update_price_list(UpdatePriceListRequest {
                price_list: Some(PriceList {
                    id: created.id.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into()],
                }),
                request_id: String::new(),
            })
            .await,
        "price_list.display_name",
    );
    let renamed = update(
        admin.clone(),
        created.etag.clone(),
        "Distributors 2027".into(),
    )
    .await
    .unwrap();
    assert_eq!(
        renamed.entries, created.entries,
        "an update changes only what it names"
    );
    expect_code(
        update(admin.clone(), created.etag.clone(), "stale".into()).await,
        Code::Aborted,
    );
    expect_code(
        update(o.rep1.clone(), String::new(), "rep".into()).await,
        Code::PermissionDenied,
    );
    let writers: Vec<_> = (0..6)
        .map(|i| {
            tokio::spawn(update(
                admin.clone(),
                renamed.etag.clone(),
                format!("Writer {i}"),
            ))
        })
        .collect();
    let mut won = 0;
    for writer in writers {
        match writer.await.unwrap() {
            Ok(_) => won += 1,
            Err(status) => assert_eq!(status.code(), Code::Aborted, "{status:?}"),
        }
    }
    assert_eq!(won, 1);

    // Another tenant's list answers exactly like an unknown id on every RPC that takes one.
    let unknown = "0190f5f1-0000-7000-8000-000000000000";
    let hidden = [Asker {
        label: "another tenant's admin",
        session: other.clone(),
        id: created.id.clone(),
    }];
    let unknown_asker = Asker {
        label: "unknown id",
        session: admin.clone(),
        id: unknown.into(),
    };
    for rpc in [
        "GetPriceList",
        "UpdatePriceList",
        "DeletePriceList",
        "UndeletePriceList",
        "ListAuditEntries",
    ] {
        let shown = assert_hidden(
            rpc,
            &hidden,
            &unknown_asker,
            |s: Session, id: String| async move {
                let mut sales = s.sales();
                match rpc {
                    "GetPriceList" => get_list(&s, &id).await.map(|l| l.id),
                    "UpdatePriceList" => sales
                        .update_price_list(UpdatePriceListRequest {
                            price_list: Some(PriceList {
                                id,
                                display_name: "x".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        })
                        .await
                        .map(|_| "updated".to_owned()),
                    "DeletePriceList" => sales
                        .delete_price_list(DeletePriceListRequest {
                            id,
                            ..Default::default()
                        })
                        .await
                        .map(|_| "deleted".to_owned()),
                    "UndeletePriceList" => sales
                        .undelete_price_list(UndeletePriceListRequest {
                            id,
                            ..Default::default()
                        })
                        .await
                        .map(|_| "restored".to_owned()),
                    _ => sales
                        .list_audit_entries(ListAuditEntriesRequest {
                            resource_type: "price_list".into(),
                            resource_id: id,
                            ..Default::default()
                        })
                        .await
                        .map(|r| r.into_inner().entries.len().to_string()),
                }
            },
        )
        .await;
        assert!(
            matches!(
                shown,
                Shown::Refused {
                    code: Code::NotFound,
                    ..
                }
            ),
            "{rpc}: {shown:?}"
        );
    }

    // Delete and restore, with the etag checked, replays answered, and the deleted list unused.
    let deleted = admin
        .sales()
        .delete_price_list(DeletePriceListRequest {
            id: created.id.clone(),
            etag: String::new(),
            request_id: "delete-list".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .price_list
        .unwrap();
    let replayed = admin
        .sales()
        .delete_price_list(DeletePriceListRequest {
            id: created.id.clone(),
            etag: String::new(),
            request_id: "delete-list".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .price_list
        .unwrap();
    assert_eq!(replayed, deleted);
    let unpriced = expect_code(
        quote(&o.rep1, &pump.id, ("1", "CNY", AccountTier::Standard), None).await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&unpriced), "NO_PRICE");
    expect_invalid(
        admin
            .sales()
            .undelete_price_list(UndeletePriceListRequest {
                id: created.id.clone(),
                etag: "\"x\"".into(),
                request_id: String::new(),
            })
            .await,
        "etag",
    );
    let back = admin
        .sales()
        .undelete_price_list(UndeletePriceListRequest {
            id: created.id.clone(),
            etag: deleted.etag.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .price_list
        .unwrap();
    assert!(back.delete_time.is_none());
    assert_eq!(
        quote(&o.rep1, &pump.id, ("2", "CNY", AccountTier::Standard), None)
            .await
            .unwrap()
            .amount,
        money("CNY", "20.00")
    );

    // A product in a list cannot silently vanish from the catalogue's rules: a deleted product
    // is refused in a new list, like one that never existed.
    admin
        .sales()
        .delete_product(DeleteProductRequest {
            id: pump.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    expect_invalid(
        create_list(&admin, input.clone()).await,
        "price_list.entries[0].product_id",
    );

    let history = admin
        .sales()
        .list_audit_entries(ListAuditEntriesRequest {
            resource_type: "price_list".into(),
            resource_id: created.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["undelete", "delete", "update", "update", "create"]
    );
    expect_invalid(
        admin
            .sales()
            .list_audit_entries(ListAuditEntriesRequest {
                resource_type: "invoice".into(),
                resource_id: created.id.clone(),
                ..Default::default()
            })
            .await,
        "resource_type",
    );
    // The history of another kind of record asks for that record: a price list's id is no
    // quote.
    expect_code(
        admin
            .sales()
            .list_audit_entries(ListAuditEntriesRequest {
                resource_type: "quote".into(),
                resource_id: created.id.clone(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );
    let events: Vec<i32> = suite
        .outbox::<SalesEvent>("sales")
        .await
        .into_iter()
        .filter(|e| matches!(&e.subject, Some(sales_event::Subject::PriceList(l)) if l.id == created.id))
        .map(|e| e.r#type)
        .collect();
    assert_eq!(
        events,
        [
            SalesEventType::PriceListCreated as i32,
            SalesEventType::PriceListUpdated as i32,
            SalesEventType::PriceListUpdated as i32,
            SalesEventType::PriceListDeleted as i32,
            SalesEventType::PriceListUndeleted as i32
        ]
    );
}

/// Exact money: a CNY list (2 decimals) with volume breaks, a JPY list (0 decimals), tier and
/// validity rules, and conversion into the base currency through dated exchange rates.
async fn price_lists_and_exchange_rates_keep_money_exact(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "money").await;
    let other = org::other_tenant(&suite, &admin, "money-other").await;
    let pump = create_product(&admin, product("P-1", "Pump"))
        .await
        .unwrap();
    let seal = create_product(&admin, product("P-2", "Seal"))
        .await
        .unwrap();
    let foreign = create_product(&other, product("P-1", "Their pump"))
        .await
        .unwrap();

    let retail = create_list(
        &admin,
        PriceList {
            display_name: "Retail CNY".into(),
            currency_code: "CNY".into(),
            valid_from: date(2027, 1, 1),
            entries: vec![
                entry(&pump.id, "12.5", &[("10", "11.00"), ("100", "9.99")]),
                entry(&seal.id, "0.35", &[]),
            ],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(retail.entries[0].unit_price, money("CNY", "12.50"));
    assert_eq!(
        retail.entries[0].volume_breaks[1].unit_price,
        money("CNY", "9.99")
    );
    let yen = create_list(
        &admin,
        PriceList {
            display_name: "Japan".into(),
            currency_code: "JPY".into(),
            entries: vec![entry(&pump.id, "1980", &[])],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(yen.entries[0].unit_price, money("JPY", "1980"));
    let key_accounts = create_list(
        &admin,
        PriceList {
            display_name: "Key accounts".into(),
            currency_code: "CNY".into(),
            account_tier: AccountTier::Key as i32,
            valid_from: date(2027, 1, 1),
            valid_until: date(2027, 6, 30),
            entries: vec![entry(&pump.id, "10.8", &[])],
            ..Default::default()
        },
    )
    .await
    .unwrap();

    // Every bad field of a list is named.
    let list = |entries: Vec<PriceListEntry>| PriceList {
        display_name: "Bad".into(),
        currency_code: "JPY".into(),
        entries,
        ..Default::default()
    };
    for (input, field) in [
        (
            list(vec![entry(&pump.id, "1980.5", &[])]),
            "price_list.entries[0].unit_price.amount",
        ),
        (
            list(vec![entry(&pump.id, "-1", &[])]),
            "price_list.entries[0].unit_price.amount",
        ),
        (
            list(vec![entry(&pump.id, "100", &[("0", "90")])]),
            "price_list.entries[0].volume_breaks[0].min_quantity",
        ),
        (
            list(vec![entry(&pump.id, "100", &[("10", "90"), ("5", "80")])]),
            "price_list.entries[0].volume_breaks[1].min_quantity",
        ),
        (
            list(vec![entry(&pump.id, "1", &[]), entry(&pump.id, "2", &[])]),
            "price_list.entries[1].product_id",
        ),
        (
            list(vec![entry("", "1", &[])]),
            "price_list.entries[0].product_id",
        ),
        (
            list(vec![entry(&seal.id, "", &[])]),
            "price_list.entries[0].unit_price.amount",
        ),
        (
            PriceList {
                currency_code: "XAU".into(),
                ..list(vec![])
            },
            "price_list.currency_code",
        ),
        (
            PriceList {
                currency_code: String::new(),
                ..list(vec![])
            },
            "price_list.currency_code",
        ),
        (
            PriceList {
                display_name: String::new(),
                ..list(vec![])
            },
            "price_list.display_name",
        ),
        (
            PriceList {
                valid_from: date(2027, 2, 30),
                ..list(vec![])
            },
            "price_list.valid_from",
        ),
        (
            PriceList {
                valid_from: date(2027, 5, 1),
                valid_until: date(2027, 4, 1),
                ..list(vec![])
            },
            "price_list.valid_until",
        ),
        (
            PriceList {
                account_tier: 42,
                ..list(vec![])
            },
            "price_list.account_tier",
        ),
    ] {
        expect_invalid(create_list(&admin, input).await, field);
    }
    let mut usd_in_yen = list(vec![entry(&pump.id, "1", &[])]);
    usd_in_yen.entries[0].unit_price = money("USD", "1");
    expect_invalid(
        create_list(&admin, usd_in_yen).await,
        "price_list.entries[0].unit_price.currency_code",
    );
    // A product that is not the tenant's is refused exactly like one that does not exist.
    let unknown = "0190f5f1-0000-7000-8000-000000000000";
    let not_ours = expect_code(
        create_list(&admin, list(vec![entry(&foreign.id, "1", &[])])).await,
        Code::InvalidArgument,
    );
    let not_there = expect_code(
        create_list(&admin, list(vec![entry(unknown, "1", &[])])).await,
        Code::InvalidArgument,
    );
    assert_eq!(
        support::existence::refusal(&not_ours, &foreign.id),
        support::existence::refusal(&not_there, unknown)
    );
    // Yen have no decimals: a CNY list with cents cannot become a JPY list without new prices.
    expect_invalid(
        admin
            .sales()
            .update_price_list(UpdatePriceListRequest {
                price_list: Some(PriceList {
                    id: retail.id.clone(),
                    currency_code: "JPY".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["currency_code".into()],
                }),
                request_id: String::new(),
            })
            .await,
        "price_list.currency_code",
    );

    // Quotes: the volume break reached, exact amounts rounded half away from zero once.
    let in_2027 = date(2027, 3, 1);
    let standard = AccountTier::Standard;
    let three = quote(&o.rep1, &pump.id, ("3", "CNY", standard), in_2027)
        .await
        .unwrap();
    assert_eq!(
        (three.unit_price, three.amount),
        (money("CNY", "12.50"), money("CNY", "37.50"))
    );
    assert_eq!(three.price_list_id, retail.id);
    let ten = quote(&o.rep1, &pump.id, ("10", "CNY", standard), in_2027)
        .await
        .unwrap();
    assert_eq!(
        (ten.amount, ten.min_quantity.as_str()),
        (money("CNY", "110.00"), "10")
    );
    let bulk = quote(&o.rep1, &pump.id, ("150", "CNY", standard), in_2027)
        .await
        .unwrap();
    assert_eq!(bulk.amount, money("CNY", "1498.50"));
    let fraction = quote(&o.rep1, &seal.id, ("0.5", "CNY", standard), in_2027)
        .await
        .unwrap();
    assert_eq!(fraction.amount, money("CNY", "0.18"), "0.175 rounds up");
    let yen_quote = quote(&o.rep1, &pump.id, ("3", "JPY", standard), in_2027)
        .await
        .unwrap();
    assert_eq!(yen_quote.amount, money("JPY", "5940"));
    // A key account gets its own list while it is valid, the general one after.
    let key = quote(&o.rep1, &pump.id, ("1", "CNY", AccountTier::Key), in_2027)
        .await
        .unwrap();
    assert_eq!(
        (key.price_list_id.as_str(), key.unit_price),
        (key_accounts.id.as_str(), money("CNY", "10.80"))
    );
    let later = quote(
        &o.rep1,
        &pump.id,
        ("1", "CNY", AccountTier::Key),
        date(2027, 7, 1),
    )
    .await
    .unwrap();
    assert_eq!(later.price_list_id, retail.id);
    let before = expect_code(
        quote(&o.rep1, &pump.id, ("1", "CNY", standard), date(2026, 12, 1)).await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&before), "NO_PRICE");
    expect_invalid(
        quote(&o.rep1, &pump.id, ("0", "CNY", standard), in_2027).await,
        "quantity",
    );
    expect_invalid(
        quote(&o.rep1, &pump.id, ("1.23456", "CNY", standard), in_2027).await,
        "quantity",
    );
    expect_invalid(
        quote(&o.rep1, &pump.id, ("1", "cny", standard), in_2027).await,
        "currency_code",
    );
    expect_code(get_list(&other, &retail.id).await, Code::NotFound);
    expect_code(
        quote(&other, &pump.id, ("1", "CNY", standard), in_2027).await,
        Code::NotFound,
    );

    // Exchange rates into the base currency (CNY until set), by day.
    let settings = admin
        .sales()
        .get_catalog_settings(GetCatalogSettingsRequest {})
        .await
        .unwrap()
        .into_inner()
        .settings
        .unwrap();
    assert_eq!(settings.base_currency_code, "CNY");
    let set = |session: Session, code: &str, rate: &str, on: Option<Date>| {
        let (code, rate) = (code.to_owned(), rate.to_owned());
        async move {
            session
                .sales()
                .set_exchange_rate(SetExchangeRateRequest {
                    exchange_rate: Some(ExchangeRate {
                        currency_code: code,
                        rate,
                        effective_date: on,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .map(|r| r.into_inner().exchange_rate.unwrap())
        }
    };
    let convert = |session: Session, code: &str, amount: &str, on: Option<Date>| {
        let wire = money(code, amount);
        async move {
            session
                .sales()
                .convert_money(ConvertMoneyRequest {
                    money: wire,
                    date: on,
                })
                .await
                .map(|r| r.into_inner())
        }
    };
    let none_yet = expect_code(
        convert(o.rep1.clone(), "USD", "100", in_2027).await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&none_yet), "NO_EXCHANGE_RATE");
    set(admin.clone(), "USD", "7.1", date(2027, 1, 1))
        .await
        .unwrap();
    set(admin.clone(), "USD", "7.2345", date(2027, 6, 1))
        .await
        .unwrap();
    set(admin.clone(), "JPY", "0.0475", date(2027, 1, 1))
        .await
        .unwrap();
    for (field, code, rate, on) in [
        ("exchange_rate.rate", "EUR", "0", date(2027, 1, 1)),
        (
            "exchange_rate.rate",
            "EUR",
            "7.12345678901",
            date(2027, 1, 1),
        ),
        (
            "exchange_rate.currency_code",
            "EURO",
            "7.8",
            date(2027, 1, 1),
        ),
        ("exchange_rate.currency_code", "CNY", "1", date(2027, 1, 1)),
        ("exchange_rate.effective_date", "EUR", "7.8", None),
        (
            "exchange_rate.effective_date",
            "EUR",
            "7.8",
            Some(Date::default()),
        ),
    ] {
        expect_invalid(set(admin.clone(), code, rate, on).await, field);
    }
    expect_code(
        set(o.manager.clone(), "EUR", "7.8", date(2027, 1, 1)).await,
        Code::PermissionDenied,
    );
    let march = convert(o.rep1.clone(), "USD", "100", in_2027)
        .await
        .unwrap();
    assert_eq!(march.money, money("CNY", "710.00"));
    assert_eq!(march.exchange_rate.unwrap().rate, "7.1");
    let july = convert(o.rep1.clone(), "USD", "99.99", date(2027, 7, 1))
        .await
        .unwrap();
    assert_eq!(
        july.money,
        money("CNY", "723.38"),
        "99.99 × 7.2345 = 723.377655"
    );
    let from_yen = convert(o.rep1.clone(), "JPY", "5940", in_2027)
        .await
        .unwrap();
    assert_eq!(from_yen.money, money("CNY", "282.15"));
    let same = convert(o.rep1.clone(), "CNY", "37.5", in_2027)
        .await
        .unwrap();
    assert_eq!(
        (same.money, same.exchange_rate),
        (money("CNY", "37.50"), None)
    );
    expect_invalid(
        convert(o.rep1.clone(), "USD", "1.001", in_2027).await,
        "money.amount",
    );
    // The other tenant has no rates, and its base currency can still change.
    let theirs = expect_code(
        convert(other.clone(), "USD", "100", in_2027).await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&theirs), "NO_EXCHANGE_RATE");
    let rates = admin
        .sales()
        .list_exchange_rates(ListExchangeRatesRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let listed: Vec<(String, i32)> = rates
        .exchange_rates
        .iter()
        .map(|r| (r.currency_code.clone(), r.effective_date.unwrap().month))
        .collect();
    assert_eq!(listed, [("JPY".to_owned(), 1), ("USD".to_owned(), 6)]);
    let rest = admin
        .sales()
        .list_exchange_rates(ListExchangeRatesRequest {
            page_size: 2,
            page_token: rates.next_page_token,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.exchange_rates.len(), 1);
    assert!(rest.next_page_token.is_empty());
    let replayed = |request_id: &'static str| {
        let admin = admin.clone();
        async move {
            admin
                .sales()
                .set_exchange_rate(SetExchangeRateRequest {
                    exchange_rate: Some(ExchangeRate {
                        currency_code: "HKD".into(),
                        rate: "0.91".into(),
                        effective_date: date(2027, 1, 1),
                        ..Default::default()
                    }),
                    request_id: request_id.into(),
                })
                .await
                .unwrap()
                .into_inner()
        }
    };
    assert_eq!(replayed("hkd-2027").await, replayed("hkd-2027").await);
    expect_invalid(
        admin
            .sales()
            .list_exchange_rates(ListExchangeRatesRequest {
                page_size: -1,
                ..Default::default()
            })
            .await,
        "page_size",
    );
    let none_there = other
        .sales()
        .list_exchange_rates(ListExchangeRatesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(none_there.exchange_rates.is_empty());
    let change_base = |session: Session, code: &str| {
        let code = code.to_owned();
        async move {
            session
                .sales()
                .update_catalog_settings(UpdateCatalogSettingsRequest {
                    settings: Some(CatalogSettings {
                        base_currency_code: code,
                        etag: String::new(),
                    }),
                    request_id: String::new(),
                })
                .await
        }
    };
    let locked = expect_code(
        change_base(admin.clone(), "USD").await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&locked), "EXCHANGE_RATES_EXIST");
    let settings_once = |request_id: &'static str| {
        let other = other.clone();
        async move {
            other
                .sales()
                .update_catalog_settings(UpdateCatalogSettingsRequest {
                    settings: Some(CatalogSettings {
                        base_currency_code: "USD".into(),
                        etag: String::new(),
                    }),
                    request_id: request_id.into(),
                })
                .await
                .unwrap()
                .into_inner()
                .settings
                .unwrap()
        }
    };
    let changed = settings_once("to-usd").await;
    assert_eq!(changed.base_currency_code, "USD");
    assert_eq!(
        settings_once("to-usd").await,
        changed,
        "a replay answers the first change"
    );
    let stale = other
        .sales()
        .update_catalog_settings(UpdateCatalogSettingsRequest {
            settings: Some(CatalogSettings {
                base_currency_code: "EUR".into(),
                etag: settings.etag.clone(),
            }),
            request_id: String::new(),
        })
        .await;
    expect_code(stale, Code::Aborted);
    expect_invalid(
        change_base(other.clone(), "usd").await,
        "settings.base_currency_code",
    );
    let events = suite.outbox::<SalesEvent>("sales").await;
    let rate_events = events
        .iter()
        .filter(|e| e.r#type == SalesEventType::ExchangeRateSet as i32)
        .count();
    assert_eq!(rate_events, 4);
}

async fn get_list(session: &Session, id: &str) -> Result<PriceList, tonic::Status> {
    Ok(session
        .sales()
        .get_price_list(GetPriceListRequest { id: id.into() })
        .await?
        .into_inner()
        .price_list
        .unwrap())
}

/// Products take the tenant's custom fields and come and go as CSV and XLSX, found again by
/// their code, all through the shared machinery.
async fn products_take_custom_fields_and_files(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "files").await;
    let definition = admin
        .sales()
        .create_custom_field(CreateCustomFieldRequest {
            custom_field: Some(CustomFieldDefinition {
                resource_type: "product".into(),
                name: "grade".into(),
                display_name: "Grade".into(),
                r#type: CustomFieldType::SingleChoice as i32,
                options: vec!["A".into(), "B".into()],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .custom_field
        .unwrap();
    expect_invalid(
        admin
            .sales()
            .create_custom_field(CreateCustomFieldRequest {
                custom_field: Some(CustomFieldDefinition {
                    resource_type: "account".into(),
                    ..definition.clone()
                }),
                request_id: String::new(),
            })
            .await,
        "custom_field.resource_type",
    );
    expect_code(
        o.manager
            .sales()
            .create_custom_field(CreateCustomFieldRequest::default())
            .await,
        Code::PermissionDenied,
    );
    let listed = o
        .rep1
        .sales()
        .list_custom_fields(ListCustomFieldsRequest {
            resource_type: "product".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .custom_fields;
    assert_eq!(listed, std::slice::from_ref(&definition));
    expect_invalid(
        admin
            .sales()
            .list_custom_fields(ListCustomFieldsRequest {
                resource_type: "account".into(),
            })
            .await,
        "resource_type",
    );
    let outsider = org::other_tenant(&suite, &admin, "files-other").await;
    let theirs = outsider
        .sales()
        .list_custom_fields(ListCustomFieldsRequest {
            resource_type: "product".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .custom_fields;
    assert!(theirs.is_empty(), "definitions stay in their tenant");
    let relabel = |session: Session, etag: String, request_id: &'static str| {
        let id = definition.id.clone();
        async move {
            session
                .sales()
                .update_custom_field(UpdateCustomFieldRequest {
                    custom_field: Some(CustomFieldDefinition {
                        id,
                        etag,
                        display_name: "Quality grade".into(),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["display_name".into()],
                    }),
                    request_id: request_id.into(),
                })
                .await
                .map(|r| r.into_inner().custom_field.unwrap())
        }
    };
    expect_code(
        relabel(outsider.clone(), String::new(), "").await,
        Code::NotFound,
    );
    let relabelled = relabel(admin.clone(), definition.etag.clone(), "relabel")
        .await
        .unwrap();
    assert_eq!(relabelled.display_name, "Quality grade");
    assert_eq!(
        relabel(admin.clone(), definition.etag.clone(), "relabel")
            .await
            .unwrap(),
        relabelled
    );
    expect_code(
        relabel(admin.clone(), definition.etag.clone(), "").await,
        Code::Aborted,
    );
    expect_code(
        outsider
            .sales()
            .delete_custom_field(DeleteCustomFieldRequest {
                id: definition.id.clone(),
                etag: String::new(),
                request_id: String::new(),
            })
            .await,
        Code::NotFound,
    );
    let definition = relabelled;
    expect_invalid(
        admin
            .sales()
            .update_custom_field(UpdateCustomFieldRequest {
                custom_field: Some(CustomFieldDefinition {
                    id: definition.id.clone(),
                    display_name: " ".into(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["display_name".into()],
                }),
                request_id: String::new(),
            })
            .await,
        "custom_field.display_name",
    );
    // A definition created and removed with request ids: each replay answers the first call.
    let define_once = || {
        let admin = admin.clone();
        async move {
            admin
                .sales()
                .create_custom_field(CreateCustomFieldRequest {
                    custom_field: Some(CustomFieldDefinition {
                        resource_type: "price_list".into(),
                        name: "region".into(),
                        display_name: "Region".into(),
                        r#type: CustomFieldType::Text as i32,
                        ..Default::default()
                    }),
                    request_id: "define-region".into(),
                })
                .await
                .unwrap()
                .into_inner()
                .custom_field
                .unwrap()
        }
    };
    let region = define_once().await;
    assert_eq!(define_once().await, region);
    let remove_once = |id: String| {
        let admin = admin.clone();
        async move {
            admin
                .sales()
                .delete_custom_field(DeleteCustomFieldRequest {
                    id,
                    etag: String::new(),
                    request_id: "remove-region".into(),
                })
                .await
                .map(|r| r.into_inner())
        }
    };
    remove_once(region.id.clone()).await.unwrap();
    remove_once(region.id.clone()).await.unwrap();
    expect_invalid(remove_once(String::new()).await, "id");
    let graded = create_product(
        &admin,
        Product {
            custom_fields: [("grade".to_owned(), "A".to_owned())].into(),
            ..product("P-A", "Graded")
        },
    )
    .await
    .unwrap();
    assert_eq!(graded.custom_fields["grade"], "A");
    expect_invalid(
        create_product(
            &admin,
            Product {
                custom_fields: [("grade".to_owned(), "Z".to_owned())].into(),
                ..product("P-Z", "Ungraded")
            },
        )
        .await,
        "product.custom_fields[grade]",
    );
    assert_eq!(product_codes(&admin, "custom.grade = \"A\"").await, ["P-A"]);
    // A field still held cannot be removed.
    let held = expect_code(
        admin
            .sales()
            .delete_custom_field(DeleteCustomFieldRequest {
                id: definition.id.clone(),
                etag: definition.etag.clone(),
                request_id: String::new(),
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&held), "CUSTOM_FIELD_IN_USE");

    // Import: new codes are created, a known code is updated, bad rows are named by column.
    let csv = "code,display_name,cost,cost_currency,tax_rate,status,custom.grade\n\
               P-A,Graded (renamed),3.2,CNY,0.09,active,B\n\
               P-B,Bolt,0.05,cny,0.13,active,A\n\
               P-C,Nut,0.001,CNY,0.13,active,A\n\
               P-D,Washer,0.02,CNY,0.13,gone,A\n\
               P-E,Spring,1,CNY,0.13,inactive,Z\n";
    let import = |session: Session, policy: DuplicatePolicy, body: &'static str| async move {
        let messages = vec![
            ImportRecordsRequest {
                part: Some(import_records_request::Part::Options(ImportOptions {
                    resource_type: "product".into(),
                    dry_run: false,
                    duplicate_policy: policy as i32,
                    assign_by_rule: false,
                })),
            },
            ImportRecordsRequest {
                part: Some(import_records_request::Part::Csv(body.as_bytes().to_vec())),
            },
        ];
        session
            .sales()
            .import_records(tokio_stream::iter(messages))
            .await
            .map(|r| r.into_inner())
    };
    let summary = import(admin.clone(), DuplicatePolicy::Update, csv)
        .await
        .unwrap();
    assert_eq!(
        (
            summary.rows,
            summary.created,
            summary.updated,
            summary.failed
        ),
        (5, 1, 1, 3),
        "{summary:?}"
    );
    let failed: Vec<(i64, Vec<String>)> = summary
        .results
        .iter()
        .filter(|r| !r.errors.is_empty())
        .map(|r| (r.row, r.errors.iter().map(|e| e.column.clone()).collect()))
        .collect();
    assert_eq!(
        failed,
        [
            (3, vec!["cost".to_owned()]),
            (4, vec!["status".to_owned()]),
            (5, vec!["custom.grade".to_owned()])
        ]
    );
    let renamed = get_product(&admin, &graded.id).await.unwrap();
    assert_eq!(
        (
            renamed.display_name.as_str(),
            renamed.custom_fields["grade"].as_str()
        ),
        ("Graded (renamed)", "B")
    );
    assert_eq!(renamed.cost, money("CNY", "3.20"));
    assert_eq!(product_codes(&admin, "").await, ["P-A", "P-B"]);
    let again = import(admin.clone(), DuplicatePolicy::Update, csv)
        .await
        .unwrap();
    assert_eq!(
        (again.created, again.updated, again.failed),
        (0, 2, 3),
        "a re-run creates nothing twice"
    );
    assert_eq!(product_codes(&admin, "").await, ["P-A", "P-B"]);
    // Codes are unique: an import cannot be told to create duplicates.
    expect_invalid(
        import(admin.clone(), DuplicatePolicy::Create, csv).await,
        "options.duplicate_policy",
    );
    expect_code(
        import(o.rep1.clone(), DuplicatePolicy::Update, csv).await,
        Code::PermissionDenied,
    );

    // Export: every seller downloads the catalogue, with the custom field as a column.
    let export = |session: Session, format: ExportFormat| async move {
        let mut stream = session
            .sales()
            .export_records(ExportRecordsRequest {
                resource_type: "product".into(),
                filter: String::new(),
                format: format as i32,
            })
            .await
            .unwrap()
            .into_inner();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.message().await.unwrap() {
            bytes.extend(chunk.chunk);
        }
        bytes
    };
    let text = String::from_utf8(export(o.rep1.clone(), ExportFormat::Csv).await).unwrap();
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    assert_eq!(
        lines.next().unwrap(),
        "id,code,display_name,unit,category,tax_rate,cost,cost_currency,status,external_id,tags,description,custom.grade"
    );
    let mut rows: Vec<&str> = lines.collect();
    rows.sort();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .any(|r| r.contains(",P-B,Bolt,,,0.13,0.05,CNY,active,,,,A")),
        "{rows:?}"
    );
    for (resource_type, format, field) in
        [("contact", 0, "resource_type"), ("product", 9, "format")]
    {
        expect_invalid(
            o.rep1
                .sales()
                .export_records(ExportRecordsRequest {
                    resource_type: resource_type.into(),
                    filter: String::new(),
                    format,
                })
                .await,
            field,
        );
    }
    let workbook = export(o.rep1.clone(), ExportFormat::Xlsx).await;
    assert!(workbook.starts_with(b"PK"), "an XLSX file is a zip archive");
    let theirs = String::from_utf8(export(outsider, ExportFormat::Csv).await).unwrap();
    assert_eq!(
        theirs.trim_start_matches('\u{feff}').lines().count(),
        1,
        "only the header"
    );
}

/// A deployment of the gateway and sales alone: the catalogue works without contacts, and
/// what is not deployed answers as absent.
async fn sales_runs_without_contacts(mode: Mode) {
    let suite = Suite::builder(mode).services(&["sales"]).start().await;
    let admin = suite.admin().await;
    let created = create_product(&admin, product("P-1", "Alone"))
        .await
        .unwrap();
    assert_eq!(get_product(&admin, &created.id).await.unwrap().code, "P-1");
    let absent = admin
        .contacts()
        .list_contacts(crm_proto::contacts::ListContactsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(absent.code(), Code::Unimplemented, "{absent:?}");
    // Opportunities name accounts, which only contacts can vouch for.
    let pipeline = admin
        .sales()
        .create_pipeline(CreatePipelineRequest {
            pipeline: Some(Pipeline {
                display_name: "Direct".into(),
                stages: vec![
                    Stage {
                        display_name: "Open".into(),
                        probability: 20,
                        ..Default::default()
                    },
                    Stage {
                        display_name: "Won".into(),
                        probability: 100,
                        kind: StageKind::Won as i32,
                        ..Default::default()
                    },
                    Stage {
                        display_name: "Lost".into(),
                        kind: StageKind::Lost as i32,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .pipeline
        .unwrap();
    let undeployed = expect_code(
        admin
            .sales()
            .create_opportunity(CreateOpportunityRequest {
                opportunity: Some(Opportunity {
                    display_name: "Deal".into(),
                    account_id: "0190f5f1-0000-7000-8000-000000000000".into(),
                    pipeline_id: pipeline.id,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&undeployed), "SERVICE_NOT_DEPLOYED");
    if mode == Mode::Distributed {
        assert!(suite.database_name("contacts").is_none());
        assert!(suite.database_name("sales").is_some());
    } else {
        assert!(!suite.data_dir.join("contacts.db").exists());
    }
}

both_modes!(
    products_follow_the_standard_methods,
    price_lists_follow_the_standard_methods,
    upserts_by_external_id_change_only_what_changed,
    price_lists_and_exchange_rates_keep_money_exact,
    products_take_custom_fields_and_files,
    sales_runs_without_contacts
);
