//! Working with customers over time, through the gateway in both modes: interactions and
//! their timeline, follow-ups (due today, overdue, announced when due, moved with the
//! customer), and the shared pool (release, first claim wins, per-rep limits, and the rule
//! that returns customers nobody has been in touch with), and birthdays (listed by range of
//! days, announced once on the day).

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prost_types::Timestamp;
use tonic::Code;

use crm_platform::time::civil_date;
use crm_proto::common::Date;
use crm_proto::contacts::*;
use support::clients::{Session, expect_code, expect_invalid, reason};
use support::{ADMIN_PASSWORD, Mode, Suite, org};

const JOBS_EVERY_SECOND: &[(&str, &str)] = &[("CRM_JOBS_INTERVAL_SECS", "1")];
const DAY: i64 = 86_400;

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn at(seconds_from_now: i64) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: now_secs() + seconds_from_now,
        nanos: 0,
    })
}

fn call(subject: &Contact, summary: &str, ago: i64, follow_up_in: Option<i64>) -> Interaction {
    Interaction {
        subject_type: "contact".into(),
        subject_id: subject.id.clone(),
        kind: InteractionKind::Call as i32,
        occur_time: at(-ago),
        summary: summary.into(),
        outcome: "interested".into(),
        next_follow_up_time: follow_up_in.and_then(at),
        ..Default::default()
    }
}

async fn record(
    session: &Session,
    interaction: Interaction,
) -> Result<RecordInteractionResponse, tonic::Status> {
    Ok(session
        .contacts()
        .record_interaction(RecordInteractionRequest {
            interaction: Some(interaction),
            follow_up_note: "send the quote".into(),
            request_id: String::new(),
        })
        .await?
        .into_inner())
}

async fn timeline(session: &Session, subject: &Contact) -> Result<Vec<String>, tonic::Status> {
    Ok(session
        .contacts()
        .list_interactions(ListInteractionsRequest {
            subject_type: "contact".into(),
            subject_id: subject.id.clone(),
            ..Default::default()
        })
        .await?
        .into_inner()
        .interactions
        .into_iter()
        .map(|i| i.summary)
        .collect())
}

async fn follow_ups(
    session: &Session,
    owner: &str,
    view: FollowUpView,
) -> Result<Vec<FollowUp>, tonic::Status> {
    Ok(session
        .contacts()
        .list_follow_ups(ListFollowUpsRequest {
            owner_id: owner.into(),
            view: view as i32,
            utc_offset_minutes: 480,
            ..Default::default()
        })
        .await?
        .into_inner()
        .follow_ups)
}

/// Waits until `check` holds for the contacts events, or fails after 20 seconds.
async fn await_events(suite: &Suite, what: &str, check: impl Fn(&[ContactsEvent]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if check(&suite.contacts_events().await) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn due_events_for(events: &[ContactsEvent], follow_up_id: &str) -> usize {
    events
        .iter()
        .filter(|e| e.r#type() == ContactsEventType::FollowUpDue)
        .filter(|e| {
            matches!(&e.subject, Some(contacts_event::Subject::FollowUp(f)) if f.id == follow_up_id)
        })
        .count()
}

async fn interactions_and_follow_ups(mode: Mode) {
    let suite = Suite::start_with(mode, JOBS_EVERY_SECOND).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "engage").await;
    let customer = o.rep1.create_contact("Chen Jing").await;

    let soon = record(&o.rep1, call(&customer, "first call", 2 * 3600, Some(2)))
        .await
        .unwrap();
    let soon_follow_up = soon.follow_up.clone().expect("a follow-up was scheduled");
    assert_eq!(soon_follow_up.owner_id, o.rep1.user_id);
    assert_eq!(soon_follow_up.note, "send the quote");
    assert_eq!(
        soon.interaction.as_ref().unwrap().follow_up_id,
        soon_follow_up.id
    );
    let mut meeting = call(&customer, "site meeting", DAY, Some(2 * DAY));
    meeting.kind = InteractionKind::Meeting as i32;
    let later = record(&o.rep1, meeting).await.unwrap().follow_up.unwrap();
    let mut note = call(&customer, "prefers email", 0, None);
    note.kind = InteractionKind::Note as i32;
    assert!(record(&o.rep1, note).await.unwrap().follow_up.is_none());

    // The timeline is newest first, and pages.
    assert_eq!(
        timeline(&o.rep1, &customer).await.unwrap(),
        ["prefers email", "first call", "site meeting"]
    );
    let first_page = o
        .rep1
        .contacts()
        .list_interactions(ListInteractionsRequest {
            subject_type: "contact".into(),
            subject_id: customer.id.clone(),
            page_size: 2,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first_page.interactions.len(), 2);
    let second_page = o
        .rep1
        .contacts()
        .list_interactions(ListInteractionsRequest {
            subject_type: "contact".into(),
            subject_id: customer.id.clone(),
            page_size: 2,
            page_token: first_page.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second_page.interactions[0].summary, "site meeting");
    assert!(second_page.next_page_token.is_empty());

    // Bad input names the field, and nothing is recorded.
    let mut unkind = call(&customer, "x", 0, None);
    unkind.kind = 0;
    expect_invalid(record(&o.rep1, unkind).await, "interaction.kind");
    expect_invalid(
        record(&o.rep1, call(&customer, "", 0, None)).await,
        "interaction.summary",
    );
    expect_invalid(
        record(&o.rep1, call(&customer, "from the future", -3600, None)).await,
        "interaction.occur_time",
    );
    expect_invalid(
        record(&o.rep1, call(&customer, "follow-up first", 0, Some(-60))).await,
        "interaction.next_follow_up_time",
    );
    let mut with_stranger = call(&customer, "with someone", 0, None);
    with_stranger.participant_contact_ids = vec!["0190a0a0-0000-7000-8000-000000000000".into()];
    expect_invalid(
        record(&o.rep1, with_stranger).await,
        "interaction.participant_contact_ids[0]",
    );
    let mut lead = call(&customer, "a lead", 0, None);
    lead.subject_type = "lead".into();
    expect_invalid(record(&o.rep1, lead).await, "interaction.subject_type");
    assert_eq!(timeline(&o.rep1, &customer).await.unwrap().len(), 3);

    // Outside the scope or the tenant, the customer does not exist.
    expect_code(
        record(&o.rep2, call(&customer, "not mine", 0, None)).await,
        Code::NotFound,
    );
    expect_code(timeline(&o.rep2, &customer).await, Code::NotFound);
    let platform_admin = suite.admin().await;
    let stranger = org::other_tenant(&suite, &platform_admin, "engage-other").await;
    expect_code(timeline(&stranger, &customer).await, Code::NotFound);
    expect_code(
        record(&stranger, call(&customer, "hello", 0, None)).await,
        Code::NotFound,
    );
    // Another owner's follow-ups, out of scope or of another tenant, are none to see.
    assert!(
        follow_ups(&o.rep2, &o.rep1.user_id, FollowUpView::Unspecified)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        follow_ups(&stranger, &o.rep1.user_id, FollowUpView::Unspecified)
            .await
            .unwrap()
            .is_empty()
    );

    // My follow-ups: both open; one due today; after it passes, overdue too. The manager sees
    // the rep's.
    let open = follow_ups(&o.rep1, "", FollowUpView::Unspecified)
        .await
        .unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(open[0].id, soon_follow_up.id, "earliest due first");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let overdue = follow_ups(&o.rep1, "", FollowUpView::Overdue)
        .await
        .unwrap();
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].id, soon_follow_up.id);
    let today = follow_ups(&o.rep1, "", FollowUpView::DueToday)
        .await
        .unwrap();
    assert!(today.iter().any(|f| f.id == soon_follow_up.id));
    assert!(today.iter().all(|f| f.id != later.id), "due in two days");
    assert_eq!(
        follow_ups(&o.manager, &o.rep1.user_id, FollowUpView::Unspecified)
            .await
            .unwrap()
            .len(),
        2
    );

    // It was announced once when it fell due, however many sweeps ran.
    await_events(&suite, "FOLLOW_UP_DUE", |events| {
        due_events_for(events, &soon_follow_up.id) == 1
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = suite.contacts_events().await;
    assert_eq!(due_events_for(&events, &soon_follow_up.id), 1);
    assert_eq!(due_events_for(&events, &later.id), 0);
    let recorded = events
        .iter()
        .filter(|e| e.r#type() == ContactsEventType::InteractionRecorded)
        .count();
    assert_eq!(recorded, 3);

    // Completing it: stale etags and other reps are refused.
    let done = |follow_up: &FollowUp, session: &Session| {
        let mut client = session.contacts();
        let request = UpdateFollowUpRequest {
            follow_up: Some(FollowUp {
                id: follow_up.id.clone(),
                etag: follow_up.etag.clone(),
                state: FollowUpState::Done as i32,
                ..Default::default()
            }),
            update_mask: None,
            request_id: String::new(),
        };
        async move { client.update_follow_up(request).await }
    };
    expect_code(done(&soon_follow_up, &o.rep2).await, Code::NotFound);
    expect_code(done(&soon_follow_up, &stranger).await, Code::NotFound);
    let completed = done(&soon_follow_up, &o.rep1)
        .await
        .unwrap()
        .into_inner()
        .follow_up
        .unwrap();
    assert_eq!(completed.state(), FollowUpState::Done);
    assert!(completed.close_time.is_some());
    expect_code(done(&soon_follow_up, &o.rep1).await, Code::Aborted);
    assert_eq!(
        follow_ups(&o.rep1, "", FollowUpView::Unspecified)
            .await
            .unwrap()
            .len(),
        1
    );

    // A transfer takes the customer's open follow-ups along.
    o.manager
        .contacts()
        .transfer_ownership(TransferOwnershipRequest {
            resource_type: "contact".into(),
            ids: vec![customer.id.clone()],
            to_owner_id: o.rep2.user_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        follow_ups(&o.rep1, "", FollowUpView::Unspecified)
            .await
            .unwrap()
            .is_empty()
    );
    let moved = follow_ups(&o.rep2, "", FollowUpView::Unspecified)
        .await
        .unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].id, later.id);

    // A merge keeps the merged contact's timeline.
    let twin = o.rep2.create_contact("Chen Jing (old)").await;
    record(&o.rep2, call(&twin, "old call", 3 * DAY, None))
        .await
        .unwrap();
    let survivor = o.rep2.get_contact(&customer.id).await;
    o.manager
        .contacts()
        .merge_contacts(MergeContactsRequest {
            survivor_id: survivor.id.clone(),
            survivor_etag: survivor.etag.clone(),
            merged_ids: vec![twin.id.clone()],
            request_id: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(
        timeline(&o.rep2, &customer).await.unwrap(),
        ["prefers email", "first call", "site meeting", "old call"]
    );
}

async fn pool_request(resource_type: &str) -> ListPoolRequest {
    ListPoolRequest {
        resource_type: resource_type.into(),
        page_size: 1000,
        ..Default::default()
    }
}

async fn pool_names(session: &Session) -> Vec<String> {
    let mut names: Vec<String> = session
        .contacts()
        .list_pool(pool_request("contact").await)
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

async fn claim(session: &Session, id: &str) -> Result<Contact, tonic::Status> {
    Ok(session
        .contacts()
        .claim_from_pool(ClaimFromPoolRequest {
            resource_type: "contact".into(),
            id: id.into(),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .contact
        .unwrap())
}

async fn release(session: &Session, ids: &[&str]) -> Result<i32, tonic::Status> {
    Ok(session
        .contacts()
        .release_to_pool(ReleaseToPoolRequest {
            resource_type: "contact".into(),
            ids: ids.iter().map(|i| (*i).to_owned()).collect(),
            reason: "no budget this year".into(),
            request_id: String::new(),
        })
        .await?
        .into_inner()
        .released_count)
}

async fn set_rules(session: &Session, days: i32, max: i32) -> Result<PoolRules, tonic::Status> {
    Ok(session
        .contacts()
        .update_pool_rules(UpdatePoolRulesRequest {
            rules: Some(PoolRules {
                resource_type: "contact".into(),
                return_after_days: days,
                max_owned_per_rep: max,
                disclose_duplicate_owner: false,
            }),
        })
        .await?
        .into_inner()
        .rules
        .unwrap())
}

async fn shared_pool(mode: Mode) {
    let suite = Suite::start_with(mode, JOBS_EVERY_SECOND).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "pool").await;

    // Only admins set the rules; reps read them.
    expect_invalid(set_rules(&admin, -1, 0).await, "rules.return_after_days");
    expect_code(set_rules(&o.rep1, 30, 3).await, Code::PermissionDenied);
    let rules = set_rules(&admin, 30, 3).await.unwrap();
    assert_eq!((rules.return_after_days, rules.max_owned_per_rep), (30, 3));
    let read = o
        .rep1
        .contacts()
        .get_pool_rules(GetPoolRulesRequest {
            resource_type: "contact".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .rules
        .unwrap();
    assert_eq!(read, rules);

    // Releasing: the customer leaves the rep's list, its follow-ups are cancelled, and any
    // rep of the tenant sees it in the pool.
    let released = o.rep1.create_contact("Pooled One").await;
    let kept = o.rep1.create_contact("Kept").await;
    record(&o.rep1, call(&released, "no answer", 60, Some(DAY)))
        .await
        .unwrap();
    expect_code(release(&o.rep2, &[&released.id]).await, Code::NotFound);
    assert_eq!(release(&o.rep1, &[&released.id]).await.unwrap(), 1);
    expect_code(release(&o.rep1, &[&released.id]).await, Code::NotFound);
    expect_code(
        o.rep1
            .contacts()
            .get_contact(GetContactRequest {
                id: released.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    assert!(
        follow_ups(&o.rep1, "", FollowUpView::Unspecified)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(pool_names(&o.rep2).await, ["Pooled One"]);
    assert_eq!(pool_names(&o.outsider).await, ["Pooled One"]);
    let platform_admin = suite.admin().await;
    let stranger = org::other_tenant(&suite, &platform_admin, "pool-other").await;
    assert!(pool_names(&stranger).await.is_empty());
    expect_code(claim(&stranger, &released.id).await, Code::NotFound);
    expect_code(claim(&o.rep1, &kept.id).await, Code::FailedPrecondition);
    expect_invalid(
        o.rep1
            .contacts()
            .list_pool(pool_request("lead").await)
            .await,
        "resource_type",
    );

    // Two reps claim at once: exactly one gets it.
    let (mut left, mut right) = (o.rep1.contacts(), o.rep2.contacts());
    let request = || ClaimFromPoolRequest {
        resource_type: "contact".into(),
        id: released.id.clone(),
        request_id: String::new(),
    };
    let (a, b) = tokio::join!(
        left.claim_from_pool(request()),
        right.claim_from_pool(request())
    );
    let outcomes = [a.map(|_| ()), b.map(|_| ())];
    assert_eq!(
        outcomes.iter().filter(|r| r.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    let lost = outcomes.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(lost.code(), Code::FailedPrecondition);
    assert_eq!(reason(lost), "ALREADY_CLAIMED");
    assert!(pool_names(&o.rep1).await.is_empty());

    // A rep who owns the limit cannot claim more.
    for name in ["Own A", "Own B", "Own C"] {
        o.outsider.create_contact(name).await;
    }
    let spare = o.rep1.create_contact("Spare").await;
    release(&o.rep1, &[&spare.id]).await.unwrap();
    let refused = expect_code(
        claim(&o.outsider, &spare.id).await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&refused), "CLAIM_LIMIT_REACHED");
    assert_eq!(
        claim(&o.rep2, &spare.id).await.unwrap().owner_id,
        o.rep2.user_id
    );

    // The return rule: 30 days without an interaction sends a customer back to the pool.
    // The rule rests while the suite's clock moves 40 days on, so that the one customer
    // called meanwhile can be called before the sweep looks.
    set_rules(&admin, 0, 3).await.unwrap();
    let idle = o.rep1.create_contact("Idle").await;
    let recent = o.rep1.create_contact("Recently called").await;
    let stale = o.rep1.create_contact("Called long ago").await;
    record(&o.rep1, call(&stale, "long ago", 2 * DAY, None))
        .await
        .unwrap();
    suite
        .advance_clock(Duration::from_secs(40 * DAY as u64))
        .await;
    // Every token is 40 days old now: people sign in again.
    expect_code(o.rep1.contact_names("").await, Code::Unauthenticated);
    let rep1 = Session::login(&suite, "rep1@pool.example", ADMIN_PASSWORD)
        .await
        .unwrap();
    let rep2 = Session::login(&suite, "rep2@pool.example", ADMIN_PASSWORD)
        .await
        .unwrap();
    let admin = suite.admin().await;
    let two_days_ago = Timestamp {
        seconds: suite.now_micros() / 1_000_000 - 2 * DAY,
        nanos: 0,
    };
    record(
        &rep1,
        Interaction {
            occur_time: Some(two_days_ago),
            ..call(&recent, "checking in", 0, None)
        },
    )
    .await
    .unwrap();
    set_rules(&admin, 30, 3).await.unwrap();
    // Every customer of the tenant left alone for 30 days returns, whoever held it.
    let returned = [
        "Called long ago",
        "Idle",
        "Kept",
        "Own A",
        "Own B",
        "Own C",
        "Pooled One",
        "Spare",
    ];
    let deadline = Instant::now() + Duration::from_secs(20);
    while pool_names(&rep2).await != returned {
        assert!(
            Instant::now() < deadline,
            "idle customers did not return: {:?}",
            pool_names(&rep2).await
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let history = admin
        .contacts()
        .list_audit_entries(ListAuditEntriesRequest {
            resource_type: "contact".into(),
            resource_id: idle.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let returned = history
        .iter()
        .find(|e| e.action == "release")
        .expect("the return is in the history");
    assert_eq!(returned.actor_id, "system");
    assert_eq!(returned.changes[0].after, "no interaction for 30 days");
    // The customer called recently stays with its rep.
    let names: Vec<String> = rep1
        .contacts()
        .list_contacts(ListContactsRequest {
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .contacts
        .into_iter()
        .map(|c| c.display_name)
        .collect();
    assert!(names.contains(&"Recently called".to_owned()), "{names:?}");
    // And each return was announced.
    let events = suite.contacts_events().await;
    assert!(events.iter().any(|e| matches!(&e.subject,
        Some(contacts_event::Subject::Contact(c)) if c.id == idle.id && c.owner_id.is_empty())));
}

/// The day of the year `days` from today in China (UTC+8), as a birthday.
fn china_day(days: i64) -> Date {
    let (_, month, day) = civil_date((now_secs() + 8 * 3600 + days * DAY) * 1_000_000);
    Date {
        year: 0,
        month: month as i32,
        day: day as i32,
    }
}

fn day(month: i32, day: i32) -> Date {
    Date {
        year: 0,
        month,
        day,
    }
}

async fn born(session: &Session, name: &str, birthday: Date) -> Contact {
    session
        .contacts()
        .create_contact(CreateContactRequest {
            contact: Some(Contact {
                display_name: name.into(),
                birthday: Some(birthday),
                ..Default::default()
            }),
            allow_duplicates: false,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap()
}

async fn birthdays(
    session: &Session,
    start: Option<Date>,
    end: Option<Date>,
    page_size: i32,
    page_token: String,
) -> Result<ListBirthdaysResponse, tonic::Status> {
    Ok(session
        .contacts()
        .list_birthdays(ListBirthdaysRequest {
            start,
            end,
            page_size,
            page_token,
        })
        .await?
        .into_inner())
}

async fn birthday_names(session: &Session, start: Date, end: Date) -> Vec<String> {
    let page = birthdays(session, Some(start), Some(end), 0, String::new())
        .await
        .unwrap();
    page.contacts.into_iter().map(|c| c.display_name).collect()
}

fn birthday_events_for(events: &[ContactsEvent], contact_id: &str) -> usize {
    events
        .iter()
        .filter(|e| e.r#type() == ContactsEventType::ContactBirthday)
        .filter(|e| {
            matches!(&e.subject, Some(contacts_event::Subject::Contact(c)) if c.id == contact_id)
        })
        .count()
}

async fn birthdays_listed_and_announced(mode: Mode) {
    let env = [
        ("CRM_JOBS_INTERVAL_SECS", "1"),
        ("CRM_LOCAL_UTC_OFFSET_MINUTES", "480"),
    ];
    let suite = Suite::start_with(mode, &env).await;
    let admin = suite.admin().await;
    let o = org::build(&suite, admin.clone(), "birthdays").await;
    let today = born(&o.rep1, "Today", china_day(0)).await;
    let other_days = [
        born(&o.rep1, "Yesterday", china_day(-1)).await,
        born(&o.rep1, "Tomorrow", china_day(1)).await,
        born(&o.rep1, "Next month", china_day(31)).await,
    ];
    let teammate = born(&o.rep2, "Teammate", china_day(0)).await;
    let gone = born(&o.rep1, "Gone", china_day(2)).await;
    o.rep1
        .contacts()
        .delete_contact(DeleteContactRequest {
            id: gone.id.clone(),
            etag: gone.etag.clone(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let platform = suite.admin().await;
    let stranger = org::other_tenant(&suite, &platform, "birthdays-other").await;
    let foreign = born(&stranger, "Foreign", china_day(0)).await;

    // Calendar order around today, within each caller's data scope.
    assert_eq!(
        birthday_names(&o.rep1, china_day(-1), china_day(2)).await,
        ["Yesterday", "Today", "Tomorrow"]
    );
    assert_eq!(
        birthday_names(&o.rep1, china_day(0), china_day(0)).await,
        ["Today"]
    );
    let mut team = birthday_names(&o.manager, china_day(0), china_day(0)).await;
    team.sort();
    assert_eq!(team, ["Teammate", "Today"]);
    assert!(
        birthday_names(&o.outsider, china_day(0), china_day(0))
            .await
            .is_empty()
    );
    assert_eq!(
        birthday_names(&stranger, china_day(0), china_day(0)).await,
        ["Foreign"]
    );

    // A range over the new year lists December before January, and pages.
    for (name, birthday) in [
        ("Christmas", day(12, 25)),
        ("Midsummer", day(6, 21)),
        ("Epiphany", day(1, 6)),
        (
            "Leap",
            Date {
                year: 2000,
                month: 2,
                day: 29,
            },
        ),
    ] {
        born(&o.outsider, name, birthday).await;
    }
    assert_eq!(
        birthday_names(&o.outsider, day(12, 20), day(1, 10)).await,
        ["Christmas", "Epiphany"]
    );
    assert_eq!(
        birthday_names(&o.outsider, day(2, 29), day(2, 29)).await,
        ["Leap"]
    );
    let first = birthdays(
        &o.outsider,
        Some(day(12, 20)),
        Some(day(1, 10)),
        1,
        String::new(),
    )
    .await
    .unwrap();
    assert_eq!(first.contacts[0].display_name, "Christmas");
    let second = birthdays(
        &o.outsider,
        Some(day(12, 20)),
        Some(day(1, 10)),
        1,
        first.next_page_token.clone(),
    )
    .await
    .unwrap();
    assert_eq!(second.contacts[0].display_name, "Epiphany");
    assert!(second.next_page_token.is_empty());
    // A token belongs to its range and its caller.
    expect_invalid(
        birthdays(
            &o.outsider,
            Some(day(1, 1)),
            Some(day(1, 10)),
            1,
            first.next_page_token.clone(),
        )
        .await,
        "page_token",
    );
    expect_invalid(
        birthdays(
            &o.rep1,
            Some(day(12, 20)),
            Some(day(1, 10)),
            1,
            first.next_page_token,
        )
        .await,
        "page_token",
    );

    // Bad ranges name the field.
    expect_invalid(
        birthdays(&o.rep1, None, Some(day(1, 1)), 0, String::new()).await,
        "start",
    );
    expect_invalid(
        birthdays(&o.rep1, Some(day(2, 1)), Some(day(2, 30)), 0, String::new()).await,
        "end",
    );
    expect_invalid(
        birthdays(&o.rep1, Some(day(13, 1)), Some(day(1, 1)), 0, String::new()).await,
        "start",
    );
    expect_invalid(
        birthdays(&o.rep1, Some(day(1, 1)), Some(day(1, 2)), -1, String::new()).await,
        "page_size",
    );

    // Today's birthdays are announced, in every tenant, once however many sweeps run;
    // other days' are not.
    await_events(&suite, "today's birthdays", |events| {
        [&today.id, &teammate.id, &foreign.id]
            .iter()
            .all(|id| birthday_events_for(events, id) == 1)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let events = suite.contacts_events().await;
    for id in [&today.id, &teammate.id, &foreign.id] {
        assert_eq!(birthday_events_for(&events, id), 1);
    }
    for other in other_days.iter().chain([&gone]) {
        assert_eq!(
            birthday_events_for(&events, &other.id),
            0,
            "{}",
            other.display_name
        );
    }
    let event = events
        .iter()
        .find(|e| birthday_events_for(std::slice::from_ref(e), &foreign.id) == 1)
        .unwrap();
    assert_eq!(event.tenant_id, stranger.tenant_id);
    assert_eq!(event.actor_id, "system");
}

both_modes!(
    interactions_and_follow_ups,
    shared_pool,
    birthdays_listed_and_announced
);
