//! Running the suite: restarts keep data, events survive a Redis outage through the outbox,
//! reads fall back to the database while Redis is down, bad configuration stops the process
//! with one actionable line, rate limits answer RESOURCE_EXHAUSTED, and standard tools find
//! the services through reflection.

// Helpers panic on purpose: a failed step is a failed test with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use prost::Message as _;
use tonic::Code;
use tonic_types::StatusExt as _;

use crm_proto::contacts::*;
use support::{ADMIN_PASSWORD, Mode, Suite};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_restart_keeps_data_and_admin() {
    let suite = Suite::start(Mode::Embedded).await;
    let admin = suite.admin().await;
    let kept = admin.create_contact("Survives restarts").await;
    let data_dir = suite.stop();

    let suite = Suite::start_embedded(data_dir, &[]);
    let admin = suite.admin().await;
    let read = admin.get_contact(&kept.id).await;
    assert_eq!(read.display_name, "Survives restarts");
    let users = admin
        .identity()
        .list_users(crm_proto::identity::ListUsersRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        users.users.len(),
        1,
        "a second start does not bootstrap again"
    );
}

/// Reads every event on the contacts stream through a consumer group, acknowledging them.
async fn drain_group(
    conn: &mut redis::aio::MultiplexedConnection,
    group: &str,
) -> Vec<ContactsEvent> {
    let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(group)
        .arg("reporting-1")
        .arg("COUNT")
        .arg(1000)
        .arg("STREAMS")
        .arg("crm.contacts.v1")
        .arg(">")
        .query_async(conn)
        .await
        .expect("the group reads the stream");
    let mut events = Vec::new();
    for key in reply.keys {
        for entry in key.ids {
            let payload: Vec<u8> = entry.get("payload").expect("payload field");
            events.push(ContactsEvent::decode(payload.as_slice()).expect("a ContactsEvent"));
            let _: i64 = redis::cmd("XACK")
                .arg("crm.contacts.v1")
                .arg(group)
                .arg(&entry.id)
                .query_async(conn)
                .await
                .unwrap();
        }
    }
    events
}

fn subject_id(event: &ContactsEvent) -> &str {
    match &event.subject {
        Some(contacts_event::Subject::Contact(c)) => &c.id,
        Some(contacts_event::Subject::Account(a)) => &a.id,
        Some(contacts_event::Subject::Interaction(i)) => &i.id,
        Some(contacts_event::Subject::FollowUp(f)) => &f.id,
        Some(contacts_event::Subject::CustomField(f)) => &f.id,
        None => "",
    }
}

/// Waits until the group has delivered events for every id in `want` (with the given
/// counts), and returns everything delivered.
async fn await_events(
    conn: &mut redis::aio::MultiplexedConnection,
    group: &str,
    want: &HashMap<String, usize>,
) -> Vec<ContactsEvent> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        seen.extend(drain_group(conn, group).await);
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for event in &seen {
            *counts.entry(subject_id(event)).or_default() += 1;
        }
        if want
            .iter()
            .all(|(id, n)| counts.get(id.as_str()) >= Some(n))
        {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "events did not arrive: want {want:?}, got {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_reads_survive_a_redis_outage() {
    let mut suite = Suite::start(Mode::Distributed).await;
    let admin = suite.admin().await;
    let redis_url = suite.redis().url();
    let connect = || async {
        redis::Client::open(redis_url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    };
    let mut conn = connect().await;
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("crm.contacts.v1")
        .arg("reporting")
        .arg("$")
        .arg("MKSTREAM")
        .query_async(&mut conn)
        .await
        .unwrap();

    // The consumer is down while changes happen; when it comes back, it gets each event once.
    let early = admin.create_contact("Before the outage").await;
    let want = HashMap::from([(early.id.clone(), 1)]);
    let events = await_events(&mut conn, "reporting", &want).await;
    let event = events.iter().find(|e| subject_id(e) == early.id).unwrap();
    assert_eq!(event.r#type(), ContactsEventType::ContactCreated);
    assert_eq!(event.tenant_id, admin.tenant_id);
    assert_eq!(event.actor_id, admin.user_id);
    // Acknowledged means gone from the group's pending list: neither new entries nor this
    // consumer's own history ("0") hands them out again.
    assert!(drain_group(&mut conn, "reporting").await.is_empty());
    let pending: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
        .arg("crm.contacts.v1")
        .arg("reporting")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(pending.count(), 0, "acknowledged events are not pending");
    let history: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("reporting")
        .arg("reporting-1")
        .arg("STREAMS")
        .arg("crm.contacts.v1")
        .arg("0")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        history.keys.iter().all(|k| k.ids.is_empty()),
        "acknowledged events are not redelivered"
    );

    // Redis goes away: writes and reads still succeed, from the database.
    drop(conn);
    suite.redis().stop();
    let mut during = Vec::new();
    for i in 0..5 {
        during.push(
            admin
                .create_contact(&format!("During the outage {i}"))
                .await,
        );
    }
    let mut api = admin.contacts();
    for c in &during {
        let read = api
            .get_contact(GetContactRequest { id: c.id.clone() })
            .await
            .unwrap()
            .into_inner()
            .contact
            .unwrap();
        assert_eq!(read.display_name, c.display_name);
    }
    api.update_contact(UpdateContactRequest {
        allow_duplicates: false,
        contact: Some(Contact {
            id: during[0].id.clone(),
            title: "Updated while Redis was down".into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["title".into()],
        }),
        request_id: String::new(),
    })
    .await
    .unwrap();

    // Redis comes back empty: the relay re-sends from the outbox; nothing is lost, nothing doubled.
    suite.redis().restart();
    let mut conn = connect().await;
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("crm.contacts.v1")
        .arg("reporting")
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut want: HashMap<String, usize> = during.iter().map(|c| (c.id.clone(), 1)).collect();
    want.insert(during[0].id.clone(), 2);
    let events = await_events(&mut conn, "reporting", &want).await;
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    let unique: HashSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no event is delivered twice");
    let updated = events
        .iter()
        .find(|e| e.r#type() == ContactsEventType::ContactUpdated)
        .expect("the update's event arrives");
    assert_eq!(subject_id(updated), during[0].id);
    // The cache is consistent after the outage: the update made while Redis was down shows.
    let read = api
        .get_contact(GetContactRequest {
            id: during[0].id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .contact
        .unwrap();
    assert_eq!(read.title, "Updated while Redis was down");
}

fn crm_output(args: &[&str], env: &[(&str, &str)], keep: &[&str]) -> (i32, String) {
    let dir = support::process::scratch_dir("config");
    let mut cmd = support::crm(&dir, env);
    for name in ["CRM_SECRET", "CRM_BOOTSTRAP_ADMIN_PASSWORD"] {
        if !keep.contains(&name) {
            cmd.env_remove(name);
        }
    }
    let out = cmd.args(args).output().expect("crm runs");
    let _ = std::fs::remove_dir_all(dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

#[test]
fn bad_configuration_fails_fast_with_one_actionable_line() {
    let secret = [(
        "CRM_SECRET",
        "test-secret-that-is-at-least-32-characters-long",
    )];
    // (arguments, environment, test defaults kept, what the message must name)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, Vec<&'a str>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            vec!["serve", "--target", "contacts"],
            vec![],
            vec![],
            "CRM_REDIS_URL",
        ),
        (
            vec!["serve", "--target", "contacts"],
            vec![("CRM_REDIS_URL", "redis://127.0.0.1:1")],
            vec![],
            "CRM_SECRET",
        ),
        (
            vec!["serve", "--target", "contacts"],
            vec![
                ("CRM_REDIS_URL", "redis://127.0.0.1:1"),
                ("CRM_SECRET", "short"),
            ],
            vec!["CRM_SECRET"],
            "too short",
        ),
        (
            vec!["serve", "--target", "contacts"],
            vec![("CRM_REDIS_URL", "not a url"), secret[0]],
            vec!["CRM_SECRET"],
            "CRM_REDIS_URL",
        ),
        (
            vec!["serve", "--target", "contacts"],
            vec![("CRM_REDIS_URL", "redis://127.0.0.1:1"), secret[0]],
            vec!["CRM_SECRET"],
            "cannot connect to redis",
        ),
        (
            vec!["serve", "--target", "billing"],
            vec![],
            vec![],
            "unknown target",
        ),
        (vec!["serve"], vec![], vec![], "--target"),
        (
            vec!["migrate", "--target", "contacts"],
            vec![],
            vec![],
            "CRM_DATABASE_URL",
        ),
        (
            vec!["migrate", "--target", "contacts"],
            vec![("CRM_DATABASE_URL", "postgres://nobody@127.0.0.1:1/x")],
            vec![],
            "cannot connect to database",
        ),
        (
            vec!["up"],
            vec![("CRM_LISTEN_ADDR", "localhost")],
            vec![],
            "CRM_LISTEN_ADDR",
        ),
        (
            vec!["up"],
            vec![("CRM_RATE_LIMIT_RPS", "fast")],
            vec![],
            "CRM_RATE_LIMIT_RPS",
        ),
    ];
    for (args, env, keep, expected) in cases {
        let (code, stderr) = crm_output(&args, &env, &keep);
        assert_eq!(code, 64, "{args:?} {env:?}: {stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("crm: ") && last.contains(expected),
            "{args:?}: {stderr}"
        );
    }

    // A config file is read (the environment still wins), and its mistakes are named too.
    let dir = support::process::scratch_dir("config-file");
    let file = dir.join("crm.env");
    std::fs::write(&file, "# settings\nCRM_RATE_LIMIT_RPS=fast\n").unwrap();
    let path = file.to_str().unwrap();
    let (code, stderr) = crm_output(&["up"], &[("CRM_CONFIG_FILE", path)], &[]);
    assert!(
        code == 64 && stderr.contains("CRM_RATE_LIMIT_RPS=fast"),
        "{stderr}"
    );
    std::fs::write(&file, "CRM_LISTEN_ADDR 127.0.0.1:1\n").unwrap();
    let (code, stderr) = crm_output(&["up"], &[("CRM_CONFIG_FILE", path)], &[]);
    assert!(
        code == 64 && stderr.contains("line 1 is not KEY=VALUE"),
        "{stderr}"
    );
    let (code, stderr) = crm_output(&["up"], &[("CRM_CONFIG_FILE", "/nonexistent/crm.env")], &[]);
    assert!(code == 64 && stderr.contains("cannot be read"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);

    // A port already in use is named.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let (code, stderr) = crm_output(
        &["up"],
        &[("CRM_LISTEN_ADDR", &addr)],
        &["CRM_BOOTSTRAP_ADMIN_PASSWORD"],
    );
    assert_eq!(code, 64, "{stderr}");
    assert!(
        stderr.contains(&addr) && stderr.contains("CRM_LISTEN_ADDR"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_resource_exhausted_per_principal() {
    let suite = Suite::start_with(
        Mode::Embedded,
        &[("CRM_RATE_LIMIT_RPS", "2"), ("CRM_RATE_LIMIT_BURST", "5")],
    )
    .await;
    let admin = suite.admin().await;
    let rep = support::org::user(&suite, &admin, "rep@limits.example", "sales_rep", &[]).await;
    // Burst 5, then 2 per second: however slowly the calls go, at most 5 + 2 per elapsed
    // second are admitted, and the rest are told when to retry.
    let mut api = admin.contacts();
    let (mut ok, mut limited) = (0u32, 0u32);
    let started = Instant::now();
    for _ in 0..20 {
        match api.list_contacts(ListContactsRequest::default()).await {
            Ok(_) => ok += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted);
                let retry = status
                    .get_error_details()
                    .retry_info()
                    .cloned()
                    .expect("RetryInfo says when to retry");
                assert!(retry.retry_delay.is_some());
                limited += 1;
            }
        }
    }
    let allowed = 5 + (2.0 * started.elapsed().as_secs_f64()).ceil() as u32;
    assert!(
        ok <= allowed && limited >= 1,
        "ok {ok} (allowed {allowed}), limited {limited}"
    );
    // Another principal has its own budget.
    rep.contacts()
        .list_contacts(ListContactsRequest::default())
        .await
        .unwrap();
}

/// A tenant's budget holds across all its principals, other tenants keep theirs, and the
/// public sign-in RPCs are limited per client address before any password is checked.
async fn tenant_and_public_limits(mode: Mode) {
    let suite = Suite::start_with(
        mode,
        &[
            ("CRM_RATE_LIMIT_RPS", "1000"),
            ("CRM_TENANT_RATE_LIMIT_RPS", "3"),
            ("CRM_PUBLIC_RATE_LIMIT_RPS", "1"),
        ],
    )
    .await;
    let admin = suite.admin().await;
    let platform = suite.admin().await;
    let stranger = support::org::other_tenant(&suite, &platform, "limits-other").await;
    let rep = support::org::user(
        &suite,
        &admin,
        "rep@tenant-limits.example",
        "sales_rep",
        &[],
    )
    .await;
    // Burst 6 (twice the rate), then 3 a second, whoever of the tenant calls.
    let (mut ok, mut limited) = (0u32, 0u32);
    let started = Instant::now();
    for i in 0..30 {
        let caller = if i % 2 == 0 { &admin } else { &rep };
        match caller.list_contacts("").await {
            Ok(_) => ok += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted);
                assert!(status.get_error_details().retry_info().is_some());
                limited += 1;
            }
        }
    }
    let allowed = 6 + (3.0 * started.elapsed().as_secs_f64()).ceil() as u32;
    assert!(
        ok <= allowed && limited >= 1,
        "ok {ok} (allowed {allowed}), limited {limited}"
    );
    stranger.list_contacts("").await.unwrap();
    // Sign-in from one address: a burst of 5, then one a second, for any account.
    let mut auth =
        crm_proto::identity::auth_service_client::AuthServiceClient::new(suite.channel().await);
    let mut refused = 0;
    for i in 0..12 {
        let attempt = auth
            .login(crm_proto::identity::LoginRequest {
                email: format!("nobody{i}@limits.example"),
                password: "not a password at all".into(),
            })
            .await;
        match attempt {
            Err(s) if s.code() == Code::ResourceExhausted => refused += 1,
            Err(s) => assert_eq!(s.code(), Code::Unauthenticated, "{s:?}"),
            Ok(_) => panic!("a made-up account signed in"),
        }
    }
    assert!(refused >= 1, "the address limit held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_and_public_limits_embedded() {
    tenant_and_public_limits(Mode::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_and_public_limits_distributed() {
    tenant_and_public_limits(Mode::Distributed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_services_without_credentials() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let suite = Suite::start(Mode::Embedded).await;
    let mut client = ServerReflectionClient::new(suite.channel().await);
    let ask = |message| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message),
    };
    let requests = vec![
        ask(MessageRequest::ListServices(String::new())),
        ask(MessageRequest::FileContainingSymbol(
            "crm.nothing.v1.Nothing".into(),
        )),
        ask(MessageRequest::FileContainingSymbol(
            "crm.contacts.v1.ContactsService".into(),
        )),
    ];
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "crm.contacts.v1.ContactsService",
        "crm.identity.v1.AuthService",
        "crm.identity.v1.IdentityService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    // An unknown symbol is an error answer, and the stream goes on.
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ErrorResponse(error)) = response.message_response else {
        panic!("expected an error answer");
    };
    assert_eq!(error.error_code, Code::NotFound as i32);
    // A symbol's file comes with all it imports, so a client that never asks for a file by
    // name can resolve every type from this one answer.
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::FileDescriptorResponse(files)) = response.message_response else {
        panic!("expected files");
    };
    let files: Vec<prost_types::FileDescriptorProto> = files
        .file_descriptor_proto
        .iter()
        .map(|raw| prost::Message::decode(raw.as_slice()).unwrap())
        .collect();
    let names: Vec<&str> = files.iter().map(|f| f.name()).collect();
    assert_eq!(names[0], "crm/contacts/v1/contacts_service.proto");
    for file in &files {
        for import in &file.dependency {
            assert!(
                names.contains(&import.as_str()),
                "{} imports {import}, not sent: {names:?}",
                file.name()
            );
        }
    }
    assert!(names.contains(&"crm/common/v1/common.proto"));
}

/// Sends one gRPC-Web call over plain HTTP/1.1 and returns (HTTP header block, body).
fn grpc_web_call(addr: &str, path: &str, message: &[u8]) -> (String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(message);
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        frame.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&frame).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let headers = String::from_utf8_lossy(&response[..split]).to_string();
    let mut body = response[split + 4..].to_vec();
    if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (headers, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16)
                .unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 2 + size + 2..];
    }
}

/// Splits a gRPC-Web body into (data messages, trailer text).
fn grpc_web_frames(mut body: &[u8]) -> (Vec<Vec<u8>>, String) {
    let (mut messages, mut trailers) = (Vec::new(), String::new());
    while body.len() >= 5 {
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let payload = &body[5..5 + len];
        if body[0] & 0x80 != 0 {
            trailers.push_str(&String::from_utf8_lossy(payload));
        } else {
            messages.push(payload.to_vec());
        }
        body = &body[5 + len..];
    }
    (messages, trailers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_reach_the_gateway_with_grpc_web_over_http1() {
    use crm_proto::identity::{LoginRequest, LoginResponse};

    let suite = Suite::start(Mode::Embedded).await;
    let addr = suite.gateway.clone();
    let login = LoginRequest {
        email: support::ADMIN_EMAIL.into(),
        password: ADMIN_PASSWORD.into(),
    }
    .encode_to_vec();
    let (status, body) = tokio::task::spawn_blocking(move || {
        grpc_web_call(&addr, "/crm.identity.v1.AuthService/Login", &login)
    })
    .await
    .unwrap();
    assert!(
        status.lines().next().unwrap_or_default().contains("200"),
        "{status}"
    );
    let (messages, trailers) = grpc_web_frames(&body);
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    let response = LoginResponse::decode(messages[0].as_slice()).unwrap();
    assert!(!response.access_token.is_empty());

    // Without credentials a protected call is refused the same way as over HTTP/2.
    let addr = suite.gateway.clone();
    let (headers, body) = tokio::task::spawn_blocking(move || {
        grpc_web_call(
            &addr,
            "/crm.contacts.v1.ContactsService/ListContacts",
            &ListContactsRequest::default().encode_to_vec(),
        )
    })
    .await
    .unwrap();
    // A refusal is "trailers-only": the status travels in the HTTP headers.
    let (_, trailers) = grpc_web_frames(&body);
    let all = format!("{}\n{trailers}", headers.to_ascii_lowercase()).replace(": ", ":");
    assert!(
        all.contains(&format!("grpc-status:{}", Code::Unauthenticated as i32)),
        "{all}"
    );
}
