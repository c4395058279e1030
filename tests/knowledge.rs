//! The knowledge base end to end through the gateway, in both modes: articles written as
//! drafts by agents and published by a manager, every content change a kept revision; search
//! in Chinese and English that ranks the right article first; suggestions for a ticket from
//! its subject and description (filed or not), public ones only for the customer; articles
//! linked to the tickets they solved, counted once per ticket. Bad input names its field;
//! agents do not publish; another agent's ticket and another tenant's articles are not found.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use tonic::Code;

use crm_proto::servicedesk::*;
use support::clients::{Session, expect_code, expect_invalid};
use support::desk::*;
use support::{Mode, Suite, org};

use crate::support;

fn draft(title: &str, body: &str, category: &str) -> Article {
    Article {
        title: title.into(),
        body: body.into(),
        category: category.into(),
        ..Default::default()
    }
}

fn published(title: &str, body: &str, category: &str, visibility: ArticleVisibility) -> Article {
    Article {
        status: ArticleStatus::Published as i32,
        visibility: visibility as i32,
        ..draft(title, body, category)
    }
}

async fn create_article(session: &Session, article: Article) -> Result<Article, tonic::Status> {
    Ok(session
        .servicedesk()
        .create_article(CreateArticleRequest {
            article: Some(article),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .article
        .unwrap())
}

async fn update_article(
    session: &Session,
    article: Article,
    mask: &[&str],
) -> Result<Article, tonic::Status> {
    Ok(session
        .servicedesk()
        .update_article(UpdateArticleRequest {
            article: Some(article),
            update_mask: Some(prost_types::FieldMask {
                paths: mask.iter().map(|p| p.to_string()).collect(),
            }),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .article
        .unwrap())
}

async fn get_article(session: &Session, id: &str) -> Result<Article, tonic::Status> {
    Ok(session
        .servicedesk()
        .get_article(GetArticleRequest { id: id.into() })
        .await?
        .into_inner()
        .article
        .unwrap())
}

async fn search(session: &Session, query: &str) -> Result<Vec<ArticleMatch>, tonic::Status> {
    Ok(session
        .servicedesk()
        .search_articles(SearchArticlesRequest {
            query: query.into(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .results)
}

async fn suggest(
    session: &Session,
    request: SuggestArticlesRequest,
) -> Result<Vec<ArticleMatch>, tonic::Status> {
    Ok(session
        .servicedesk()
        .suggest_articles(request)
        .await?
        .into_inner()
        .results)
}

fn for_text(subject: &str, description: &str) -> SuggestArticlesRequest {
    SuggestArticlesRequest {
        subject: subject.into(),
        description: description.into(),
        ..Default::default()
    }
}

fn titles(found: &[ArticleMatch]) -> Vec<String> {
    found
        .iter()
        .map(|m| m.article.as_ref().unwrap().title.clone())
        .collect()
}

async fn link(
    session: &Session,
    ticket_id: &str,
    article_id: &str,
    request_id: &str,
) -> Result<Article, tonic::Status> {
    Ok(session
        .servicedesk()
        .link_ticket_article(LinkTicketArticleRequest {
            ticket_id: ticket_id.into(),
            article_id: article_id.into(),
            request_id: request_id.into(),
        })
        .await?
        .into_inner()
        .article
        .unwrap())
}

async fn articles_are_written_revised_and_published(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "kb-write").await;
    let other = org::other_tenant(&suite, &admin, "kb-write-other").await;
    let agent = &desk.agent1;

    // An agent drafts; a draft is internal, at revision 1, the agent's.
    let body = "Open Settings > Network and reconnect the printer to the office Wi-Fi.";
    let first = create_article(agent, draft("Printer offline", body, "Printer"))
        .await
        .unwrap();
    assert_eq!(
        (
            first.status,
            first.visibility,
            first.revision,
            first.use_count
        ),
        (
            ArticleStatus::Draft as i32,
            ArticleVisibility::Internal as i32,
            1,
            0
        )
    );
    assert_eq!(first.author_id, agent.user_id);
    assert!(first.publish_time.is_none());
    // A retried create with its request id answers the first article and writes no other.
    let retried = || {
        let mut client = agent.servicedesk();
        async move {
            client
                .create_article(CreateArticleRequest {
                    article: Some(draft("Toner low", "Replace the cartridge.", "Printer")),
                    request_id: "kb-create-1".into(),
                })
                .await
                .unwrap()
                .into_inner()
                .article
                .unwrap()
        }
    };
    let (once, twice) = tokio::join!(retried(), retried());
    assert_eq!(once, twice);

    // Bad input names its field; nothing is written.
    let long = "长".repeat(201);
    for (article, field) in [
        (draft("", body, ""), "article.title"),
        (draft(&long, body, ""), "article.title"),
        (draft("Title", "  ", ""), "article.body"),
        (draft("Title", &"x".repeat(50_001), ""), "article.body"),
        (draft("Title", body, &"c".repeat(101)), "article.category"),
        (
            Article {
                status: 9,
                ..draft("Title", body, "")
            },
            "article.status",
        ),
        (
            Article {
                visibility: 7,
                ..draft("Title", body, "")
            },
            "article.visibility",
        ),
    ] {
        expect_invalid(create_article(agent, article).await, field);
    }
    // An agent publishes nothing, not even at creation.
    let public = published(
        "Toner",
        "Shake the cartridge.",
        "",
        ArticleVisibility::Public,
    );
    expect_code(
        create_article(agent, public.clone()).await,
        Code::PermissionDenied,
    );

    // A new body is a new revision; new tags alone are not.
    let second = update_article(
        agent,
        Article {
            id: first.id.clone(),
            etag: first.etag.clone(),
            body: format!("{body} Then print a test page."),
            ..Default::default()
        },
        &["body"],
    )
    .await
    .unwrap();
    assert_eq!(second.revision, 2);
    let tagged = update_article(
        agent,
        Article {
            id: first.id.clone(),
            tags: vec!["wifi".into()],
            ..Default::default()
        },
        &["tags"],
    )
    .await
    .unwrap();
    assert_eq!(
        (tagged.revision, tagged.tags.clone()),
        (2, vec!["wifi".into()])
    );
    // A stale etag is refused.
    let stale = Article {
        id: first.id.clone(),
        etag: first.etag.clone(),
        title: "Printer offline (old)".into(),
        ..Default::default()
    };
    expect_code(
        update_article(agent, stale, &["title"]).await,
        Code::Aborted,
    );

    let revisions = agent
        .servicedesk()
        .list_article_revisions(ListArticleRevisionsRequest {
            article_id: first.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .revisions;
    let kept: Vec<(i32, String)> = revisions
        .iter()
        .map(|r| (r.revision, r.body.clone()))
        .collect();
    assert_eq!(
        kept,
        [
            (2, format!("{body} Then print a test page.")),
            (1, body.to_owned())
        ]
    );
    assert!(revisions.iter().all(|r| r.editor_id == agent.user_id));
    expect_invalid(
        agent
            .servicedesk()
            .list_article_revisions(ListArticleRevisionsRequest::default())
            .await,
        "article_id",
    );

    // Publishing is the manager's; then a published article is theirs to change.
    let publish = |etag: &str| Article {
        id: first.id.clone(),
        etag: etag.into(),
        status: ArticleStatus::Published as i32,
        ..Default::default()
    };
    expect_code(
        update_article(agent, publish(&tagged.etag), &["status"]).await,
        Code::PermissionDenied,
    );
    assert!(
        search(agent, "printer").await.unwrap().is_empty(),
        "a draft"
    );
    let live = update_article(&desk.lead, publish(&tagged.etag), &["status"])
        .await
        .unwrap();
    assert_eq!(
        (live.status, live.revision),
        (ArticleStatus::Published as i32, 2)
    );
    assert!(live.publish_time.is_some());
    assert_eq!(
        titles(&search(agent, "printer").await.unwrap()),
        ["Printer offline"]
    );
    let retitle = Article {
        id: first.id.clone(),
        title: "Printer shows offline".into(),
        ..Default::default()
    };
    expect_code(
        update_article(agent, retitle.clone(), &["title"]).await,
        Code::PermissionDenied,
    );
    let delete = |session: &Session, request_id: &str| {
        let id = first.id.clone();
        let request_id = request_id.to_owned();
        let mut client = session.servicedesk();
        async move {
            client
                .delete_article(DeleteArticleRequest {
                    id,
                    request_id,
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner().article.unwrap())
        }
    };
    expect_code(delete(agent, "").await, Code::PermissionDenied);
    let renamed = update_article(&desk.lead, retitle, &["title"])
        .await
        .unwrap();
    assert_eq!(renamed.revision, 3);
    // Deleting and restoring replay their first answer on a retry.
    let deleted = delete(&desk.lead, "kb-delete-1").await.unwrap();
    assert_eq!(delete(&desk.lead, "kb-delete-1").await.unwrap(), deleted);
    assert!(
        search(agent, "printer").await.unwrap().is_empty(),
        "deleted"
    );
    expect_code(delete(&desk.lead, "").await, Code::FailedPrecondition);
    let undelete = || {
        let mut client = desk.lead.servicedesk();
        let id = first.id.clone();
        async move {
            client
                .undelete_article(UndeleteArticleRequest {
                    id,
                    request_id: "kb-undelete-1".into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .article
                .unwrap()
        }
    };
    let restored = undelete().await;
    assert_eq!(undelete().await, restored);
    assert!(restored.delete_time.is_none());
    assert_eq!(search(agent, "printer").await.unwrap().len(), 1);

    // Another tenant sees none of it.
    expect_code(get_article(&other, &first.id).await, Code::NotFound);
    expect_code(
        other
            .servicedesk()
            .list_article_revisions(ListArticleRevisionsRequest {
                article_id: first.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    let theirs = Article {
        id: first.id.clone(),
        title: "Taken".into(),
        ..Default::default()
    };
    expect_code(
        update_article(&other, theirs, &["title"]).await,
        Code::NotFound,
    );
    assert!(search(&other, "printer").await.unwrap().is_empty());
    let listed = other
        .servicedesk()
        .list_articles(ListArticlesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .articles;
    assert!(listed.is_empty());
    expect_invalid(
        agent
            .servicedesk()
            .list_articles(ListArticlesRequest {
                filter: "colour = \"red\"".into(),
                ..Default::default()
            })
            .await,
        "filter",
    );

    let events = suite.outbox::<ServicedeskEvent>("servicedesk").await;
    let count =
        |kind: ServicedeskEventType| events.iter().filter(|e| e.r#type == kind as i32).count();
    assert_eq!(
        (
            count(ServicedeskEventType::ArticleCreated),
            count(ServicedeskEventType::ArticleUpdated),
            count(ServicedeskEventType::ArticleDeleted),
            count(ServicedeskEventType::ArticleUndeleted),
        ),
        (2, 4, 1, 1)
    );
}

/// The knowledge base the search and suggestion tests read: Chinese and English articles on
/// neighbouring matters, so the right one must win on what it shares, not merely appear.
const ARTICLES: &[(&str, &str, &str, ArticleVisibility)] = &[
    (
        "打印机显示脱机怎么办",
        "打印机显示脱机，通常是网络断开。请在打印机面板上重新连接办公室无线网络，然后打印测试页。",
        "打印机",
        ArticleVisibility::Public,
    ),
    (
        "打印机卡纸的处理方法",
        "打开前盖，沿出纸方向慢慢取出卡住的纸张，不要用力撕扯。",
        "打印机",
        ArticleVisibility::Public,
    ),
    (
        "如何申请开具增值税发票",
        "在订单页面点击申请开票，填写公司抬头和税号，发票将在三个工作日内寄出。",
        "财务",
        ArticleVisibility::Public,
    ),
    (
        "退货退款流程",
        "签收后七天内可申请退货，商品寄回仓库验收后三个工作日内退款到原支付账户。",
        "售后",
        ArticleVisibility::Public,
    ),
    (
        "水泵漏水的排查",
        "先关闭电源和进水阀，检查密封圈是否老化，更换密封圈后再试机。",
        "维修",
        ArticleVisibility::Internal,
    ),
    (
        "How to reset your password",
        "Click Forgot password on the sign-in page, enter your account email, and follow the \
         link we send to choose a new password.",
        "Account",
        ArticleVisibility::Public,
    ),
    (
        "Printer paper jam",
        "Open the front cover and pull the jammed paper out slowly in the feed direction.",
        "Printer",
        ArticleVisibility::Public,
    ),
    (
        "Requesting an invoice",
        "Open the order, choose Request invoice, and enter your company name and tax number.",
        "Billing",
        ArticleVisibility::Public,
    ),
    (
        "Escalating a warranty repair",
        "Internal: check the serial number against the warranty list before booking a field \
         engineer.",
        "Repair",
        ArticleVisibility::Internal,
    ),
];

async fn articles_are_found_in_chinese_and_english(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "kb-find").await;
    let other = org::other_tenant(&suite, &admin, "kb-find-other").await;
    for (title, body, category, visibility) in ARTICLES {
        create_article(&desk.lead, published(title, body, category, *visibility))
            .await
            .unwrap();
    }
    create_article(
        &desk.agent1,
        draft("打印机驱动安装（草稿）", "下载驱动后双击安装。", "打印机"),
    )
    .await
    .unwrap();
    let agent = &desk.agent1;

    // Search: the article a query names comes first, in either script, whatever the word
    // order; drafts are not found; a query matching nothing finds nothing.
    let first = |found: Vec<ArticleMatch>| titles(&found).first().cloned().unwrap_or_default();
    for (query, expected) in [
        ("打印机脱机", "打印机显示脱机怎么办"),
        ("卡纸", "打印机卡纸的处理方法"),
        ("发票", "如何申请开具增值税发票"),
        ("退款", "退货退款流程"),
        ("reset password", "How to reset your password"),
        ("password reset", "How to reset your password"),
        ("paper jam", "Printer paper jam"),
        ("invoice", "Requesting an invoice"),
    ] {
        let found = search(agent, query).await.unwrap();
        assert_eq!(
            first(found.clone()),
            expected,
            "{query}: {:?}",
            titles(&found)
        );
        assert!(
            found.iter().all(|m| (50..=100).contains(&m.score)),
            "{found:?}"
        );
    }
    let printers = search(agent, "打印机").await.unwrap();
    assert_eq!(printers.len(), 2, "{:?}", titles(&printers));
    assert!(search(agent, "xyzzy plugh").await.unwrap().is_empty());
    let in_category = agent
        .servicedesk()
        .search_articles(SearchArticlesRequest {
            query: "invoice".into(),
            category: "billing".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(titles(&in_category), ["Requesting an invoice"]);
    let public = agent
        .servicedesk()
        .search_articles(SearchArticlesRequest {
            query: "漏水".into(),
            public_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert!(public.is_empty(), "an internal article is not public");
    assert_eq!(search(agent, "漏水").await.unwrap().len(), 1);
    for query in ["打", "12", "", &"长".repeat(201)] {
        expect_invalid(search(agent, query).await, "query");
    }
    expect_invalid(
        agent
            .servicedesk()
            .search_articles(SearchArticlesRequest {
                query: "发票".into(),
                page_size: 51,
                ..Default::default()
            })
            .await,
        "page_size",
    );

    // Suggestions from a text not yet filed: the customer's words, not the article's.
    for (subject, description, expected) in [
        (
            "打印机无法打印",
            "办公室的打印机连不上网络，一直显示脱机，测试页也打不出来。",
            "打印机显示脱机怎么办",
        ),
        (
            "想退货",
            "收到的商品有划痕，想申请退货，退款多久能到账？",
            "退货退款流程",
        ),
        (
            "Cannot sign in",
            "I forgot my password and the sign-in page will not accept my email. How do I \
             choose a new one?",
            "How to reset your password",
        ),
        (
            "Paper stuck",
            "The printer has jammed paper inside and the front cover will not open easily.",
            "Printer paper jam",
        ),
    ] {
        let found = suggest(agent, for_text(subject, description))
            .await
            .unwrap();
        assert_eq!(
            first(found.clone()),
            expected,
            "{subject}: {:?}",
            titles(&found)
        );
        assert!(found.len() <= 5);
    }

    // Suggestions for a filed ticket; only public ones for the customer.
    let caller = agent.create_contact("周芷若").await;
    let ticket = create_ticket(
        agent,
        Ticket {
            subject: "水泵漏水".into(),
            description: "密封圈附近一直滴水，已经关闭电源。".into(),
            ..repair(&caller.id)
        },
    )
    .await
    .unwrap();
    let for_ticket = SuggestArticlesRequest {
        ticket_id: ticket.id.clone(),
        ..Default::default()
    };
    let found = suggest(agent, for_ticket.clone()).await.unwrap();
    assert_eq!(first(found), "水泵漏水的排查");
    let for_customer = SuggestArticlesRequest {
        public_only: true,
        ..for_ticket.clone()
    };
    let shown = suggest(agent, for_customer).await.unwrap();
    assert!(
        shown
            .iter()
            .all(|m| m.article.as_ref().unwrap().visibility == ArticleVisibility::Public as i32),
        "{:?}",
        titles(&shown)
    );
    assert!(!titles(&shown).contains(&"水泵漏水的排查".to_owned()));

    // Another agent's ticket, and another tenant, are not found; their knowledge base is
    // their own.
    expect_code(
        suggest(&desk.agent2, for_ticket.clone()).await,
        Code::NotFound,
    );
    expect_code(suggest(&other, for_ticket).await, Code::NotFound);
    let text = for_text("打印机无法打印", "打印机显示脱机");
    assert!(suggest(&other, text).await.unwrap().is_empty());

    // Bad requests name their field.
    for (request, field) in [
        (SuggestArticlesRequest::default(), "ticket_id"),
        (
            SuggestArticlesRequest {
                ticket_id: ticket.id.clone(),
                subject: "x".into(),
                ..Default::default()
            },
            "subject",
        ),
        (
            SuggestArticlesRequest {
                page_size: 21,
                ..for_text("发票", "")
            },
            "page_size",
        ),
        (
            SuggestArticlesRequest {
                min_score: 101,
                ..for_text("发票", "")
            },
            "min_score",
        ),
        (for_text(&"长".repeat(201), ""), "subject"),
        (for_text("发票", &"长".repeat(20_001)), "description"),
    ] {
        expect_invalid(suggest(agent, request).await, field);
    }
}

async fn articles_solve_tickets(mode: Mode) {
    let suite = Suite::start(mode).await;
    let admin = suite.admin().await;
    let desk = org::service_desk(&suite, &admin, "kb-use").await;
    let other = org::other_tenant(&suite, &admin, "kb-use-other").await;
    let agent = &desk.agent1;
    let (title, body, category, visibility) = ARTICLES[3];
    let refund = create_article(&desk.lead, published(title, body, category, visibility))
        .await
        .unwrap();
    let (title, body, category, visibility) = ARTICLES[2];
    let invoice = create_article(&desk.lead, published(title, body, category, visibility))
        .await
        .unwrap();
    let unfinished = create_article(agent, draft("退货运费说明", "草稿。", "售后"))
        .await
        .unwrap();
    let caller = agent.create_contact("赵敏").await;
    let ticket = create_ticket(agent, repair(&caller.id)).await.unwrap();

    // Linked once: the article counts a use, and its etag moves, so an edit read before
    // the link cannot put the old count back; a retry with the same request id answers the
    // same and counts nothing more.
    let used = link(agent, &ticket.id, &refund.id, "link-1").await.unwrap();
    assert_eq!(used.use_count, 1);
    assert_ne!(used.etag, refund.etag);
    let stale = Article {
        id: refund.id.clone(),
        etag: refund.etag.clone(),
        title: "退货与退款流程".into(),
        ..Default::default()
    };
    expect_code(
        update_article(&desk.lead, stale, &["title"]).await,
        Code::Aborted,
    );
    let again = link(agent, &ticket.id, &refund.id, "link-1").await.unwrap();
    assert_eq!(again, used);
    expect_code(
        link(agent, &ticket.id, &refund.id, "").await,
        Code::AlreadyExists,
    );
    assert_eq!(get_article(agent, &refund.id).await.unwrap().use_count, 1);
    let second = create_ticket(agent, repair(&caller.id)).await.unwrap();
    link(agent, &second.id, &refund.id, "").await.unwrap();
    link(agent, &second.id, &invoice.id, "").await.unwrap();
    assert_eq!(get_article(agent, &refund.id).await.unwrap().use_count, 2);

    // The most used come first when listed by use.
    let listed = agent
        .servicedesk()
        .list_articles(ListArticlesRequest {
            filter: "status = ARTICLE_STATUS_PUBLISHED".into(),
            order_by: "use_count desc".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .articles;
    let uses: Vec<(String, i64)> = listed.iter().map(|a| (a.id.clone(), a.use_count)).collect();
    assert_eq!(uses, [(refund.id.clone(), 2), (invoice.id.clone(), 1)]);
    let linked = agent
        .servicedesk()
        .list_ticket_articles(ListTicketArticlesRequest {
            ticket_id: second.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .articles;
    let ids: Vec<&str> = linked.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, [refund.id.as_str(), invoice.id.as_str()]);
    expect_invalid(
        agent
            .servicedesk()
            .list_ticket_articles(ListTicketArticlesRequest::default())
            .await,
        "ticket_id",
    );

    // The ticket's history says so.
    let history = agent
        .servicedesk()
        .list_audit_entries(ListAuditEntriesRequest {
            resource_type: "ticket".into(),
            resource_id: ticket.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let links: Vec<&str> = history
        .iter()
        .filter(|e| e.action == "link_article")
        .filter_map(|e| e.changes.iter().find(|c| c.field == "article"))
        .map(|c| c.after.as_str())
        .collect();
    assert_eq!(links, [refund.id.as_str()]);

    // Refused: a draft, bad input, another agent's ticket, another tenant's.
    let status = expect_code(
        link(agent, &ticket.id, &unfinished.id, "").await,
        Code::FailedPrecondition,
    );
    assert!(status.message().contains("published"), "{status:?}");
    expect_invalid(link(agent, "", &refund.id, "").await, "ticket_id");
    expect_invalid(link(agent, &ticket.id, " ", "").await, "article_id");
    expect_code(
        link(&desk.agent2, &ticket.id, &invoice.id, "").await,
        Code::NotFound,
    );
    expect_code(
        desk.agent2
            .servicedesk()
            .list_ticket_articles(ListTicketArticlesRequest {
                ticket_id: ticket.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    let theirs = create_article(
        &other,
        published(
            "Their refunds",
            "Refunds in 14 days.",
            "",
            ArticleVisibility::Public,
        ),
    )
    .await
    .unwrap();
    expect_code(
        link(agent, &ticket.id, &theirs.id, "").await,
        Code::NotFound,
    );
    expect_code(
        link(&other, &ticket.id, &theirs.id, "").await,
        Code::NotFound,
    );
    assert_eq!(get_article(agent, &invoice.id).await.unwrap().use_count, 1);

    let events = suite.outbox::<ServicedeskEvent>("servicedesk").await;
    let announced: Vec<(String, i64)> = events
        .iter()
        .filter(|e| e.r#type == ServicedeskEventType::TicketArticleLinked as i32)
        .filter_map(|e| match &e.subject {
            Some(servicedesk_event::Subject::ArticleLink(l)) => {
                let article = l.article.as_ref().unwrap();
                Some((l.ticket_id.clone(), article.use_count))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        announced,
        [
            (ticket.id.clone(), 1),
            (second.id.clone(), 2),
            (second.id.clone(), 1)
        ]
    );
}

both_modes!(
    articles_are_written_revised_and_published,
    articles_are_found_in_chinese_and_english,
    articles_solve_tickets
);
