//! Knowledge-base articles: the tenant's (every agent reads them), written as drafts,
//! published by those who may. Each change of the content (title, body, category) is a new
//! revision, kept in `article_revisions` in the write's transaction. Their title, category,
//! tags and body are indexed for search and suggestions (`knowledge`).

use sea_orm::{ActiveModelTrait, DatabaseTransaction, IntoActiveModel};

use crate::entity::article::{Column, Entity, Model};
use crate::entity::article_revision;
use crm_platform::audit::enum_name;
use crm_platform::auth::Principal;
use crm_platform::clock;
use crm_platform::error::Error;
use crm_platform::field_mask::{self, Field};
use crm_platform::time::{to_timestamp, to_timestamp_opt};
use crm_platform::validate::Violations;
use crm_proto::servicedesk::{
    Article, ArticleStatus, ArticleVisibility, ServicedeskEvent, ServicedeskEventType,
    servicedesk_event::Subject,
};
use crm_records::json;
use crm_records::resource::{Action, FieldKind, Resource, Scope, WriteContext};

/// The article resource.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Articles;

/// Permission to publish, and to change or delete what is published.
pub(crate) const PUBLISH: &str = "servicedesk.kb.publish";

/// The longest body, in characters.
const MAX_BODY_CHARS: usize = 50_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArticleField {
    Title,
    Body,
    Category,
    Tags,
    Status,
    Visibility,
}

impl Field for ArticleField {
    const ALL: &'static [Self] = &[
        ArticleField::Title,
        ArticleField::Body,
        ArticleField::Category,
        ArticleField::Tags,
        ArticleField::Status,
        ArticleField::Visibility,
    ];

    fn name(self) -> &'static str {
        match self {
            ArticleField::Title => "title",
            ArticleField::Body => "body",
            ArticleField::Category => "category",
            ArticleField::Tags => "tags",
            ArticleField::Status => "status",
            ArticleField::Visibility => "visibility",
        }
    }
}

const OUTPUT_ONLY: &[&str] = &[
    "id",
    "etag",
    "revision",
    "use_count",
    "author_id",
    "publish_time",
    "create_time",
    "update_time",
    "delete_time",
];

fn apply(model: &mut Model, input: &Article, fields: &[ArticleField]) -> Result<(), Error> {
    let mut v = Violations::new();
    for field in fields {
        match field {
            ArticleField::Title => {
                model.display_name = input.title.trim().to_owned();
                v.required("article.title", &model.display_name);
                v.max_chars("article.title", &model.display_name, 200);
            }
            ArticleField::Body => {
                model.body = input.body.trim().to_owned();
                v.required("article.body", &model.body);
                v.max_chars("article.body", &model.body, MAX_BODY_CHARS);
            }
            ArticleField::Category => {
                model.category = input.category.trim().to_owned();
                v.max_chars("article.category", &model.category, 100);
            }
            ArticleField::Tags => {
                model.tags = json::to_json(&crm_records::labels::tags(
                    &mut v,
                    "article.tags",
                    &input.tags,
                ));
            }
            ArticleField::Status => {
                model.status = match input.status {
                    0 => ArticleStatus::Draft as i32,
                    n => v.enumeration::<ArticleStatus>("article.status", n),
                };
            }
            ArticleField::Visibility => {
                model.visibility = match input.visibility {
                    0 => ArticleVisibility::Internal as i32,
                    n => v.enumeration::<ArticleVisibility>("article.visibility", n),
                };
            }
        }
    }
    v.finish()
}

/// Whether the content (what a revision keeps) differs.
fn content_changed(current: &Model, next: &Model) -> bool {
    current.display_name != next.display_name
        || current.body != next.body
        || current.category != next.category
}

pub(crate) fn is_published(m: &Model) -> bool {
    m.status == ArticleStatus::Published as i32
}

impl Resource for Articles {
    type Event = ServicedeskEvent;
    type Entity = Entity;
    type Model = Model;
    type Active = crate::entity::article::ActiveModel;
    type Proto = Article;

    const KIND: &'static str = "article";
    const SCOPE: Scope = Scope::Tenant;
    const DUPLICATE_KINDS: &'static [&'static str] = &[];
    const SORTABLE: &'static [&'static str] = &["use_count"];
    const READ: &'static str = "servicedesk.kb.read";
    const WRITE: &'static str = "servicedesk.kb.write";
    const MERGE: &'static str = "servicedesk.kb.write";

    crm_records::shared_columns!(tags);

    fn filter_field(name: &str) -> Option<(Column, FieldKind)> {
        Some(match name {
            "status" => (
                Column::Status,
                FieldKind::Enum(|s| ArticleStatus::from_str_name(s).map(|e| e as i32)),
            ),
            "visibility" => (
                Column::Visibility,
                FieldKind::Enum(|s| ArticleVisibility::from_str_name(s).map(|e| e as i32)),
            ),
            "category" => (Column::Category, FieldKind::Text),
            "author_id" => (Column::OwnerId, FieldKind::Id),
            "tags" => (Column::Id, FieldKind::Label("tag")),
            "use_count" => (Column::UseCount, FieldKind::Int),
            "create_time" => (Column::CreateTime, FieldKind::Time),
            "update_time" => (Column::UpdateTime, FieldKind::Time),
            _ => return None,
        })
    }

    fn sort_value(m: &Model, _field: &str) -> i64 {
        m.use_count
    }

    fn to_proto(m: &Model) -> Article {
        Article {
            id: m.id.clone(),
            etag: crm_platform::etag::format(m.version),
            title: m.display_name.clone(),
            body: m.body.clone(),
            category: m.category.clone(),
            tags: json::from_json(&m.tags),
            status: m.status,
            visibility: m.visibility,
            revision: m.revision,
            use_count: m.use_count,
            author_id: m.owner_id.clone(),
            publish_time: to_timestamp_opt(m.publish_time),
            create_time: Some(to_timestamp(m.create_time)),
            update_time: Some(to_timestamp(m.update_time)),
            delete_time: to_timestamp_opt(m.delete_time),
        }
    }

    fn audit_fields(m: &Model) -> Vec<(&'static str, String)> {
        vec![
            ("title", m.display_name.clone()),
            ("category", m.category.clone()),
            ("status", enum_name::<ArticleStatus>(m.status)),
            ("visibility", enum_name::<ArticleVisibility>(m.visibility)),
            ("revision", m.revision.to_string()),
            ("tags", m.tags.clone()),
        ]
    }

    /// The title weighs most (the shared name field); the body is searched in full.
    fn search_fields(m: &Model) -> Vec<crm_records::SearchField> {
        let tags: Vec<String> = json::from_json(&m.tags);
        vec![
            ("display_name", m.display_name.clone()),
            ("category", m.category.clone()),
            ("tags", tags.join(" ")),
            ("body", m.body.clone()),
        ]
    }

    fn event(action: Action, proto: Article, _merged_ids: &[String]) -> ServicedeskEvent {
        let types = [
            ServicedeskEventType::ArticleCreated,
            ServicedeskEventType::ArticleUpdated,
            ServicedeskEventType::ArticleDeleted,
            ServicedeskEventType::ArticleUndeleted,
        ];
        crate::events::of_write(action, types, Subject::Article(proto))
    }

    fn create(
        tenant_id: &str,
        owner_id: String,
        (id, now): (String, i64),
        input: Article,
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let mut model = Model {
            id,
            tenant_id: tenant_id.to_owned(),
            owner_id,
            owner_since: now,
            display_name: String::new(),
            category: String::new(),
            status: ArticleStatus::Draft as i32,
            visibility: ArticleVisibility::Internal as i32,
            revision: 0,
            body: String::new(),
            tags: "[]".to_owned(),
            custom_fields: "{}".to_owned(),
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
            use_count: 0,
            publish_time: None,
        };
        apply(&mut model, &input, ArticleField::ALL)?;
        Ok(model)
    }

    fn update(
        current: &Model,
        input: Article,
        mask: &[String],
        _cx: &WriteContext<'_>,
    ) -> Result<Model, Error> {
        let fields = field_mask::resolve_fields(mask, OUTPUT_ONLY, |f| match f {
            ArticleField::Title => !input.title.is_empty(),
            ArticleField::Body => !input.body.is_empty(),
            ArticleField::Category => !input.category.is_empty(),
            ArticleField::Tags => !input.tags.is_empty(),
            ArticleField::Status => input.status != 0,
            ArticleField::Visibility => input.visibility != 0,
        })?;
        let mut next = current.clone();
        apply(&mut next, &input, &fields)?;
        Ok(next)
    }

    /// Publishing, and changing what is published, is for publishers; a new content is a
    /// new revision, kept.
    async fn before_write(
        txn: &DatabaseTransaction,
        principal: &Principal,
        current: Option<&Model>,
        next: &mut Model,
    ) -> Result<(), Error> {
        let changed = current.is_none_or(|c| *c != *next);
        if changed && (is_published(next) || current.is_some_and(is_published)) {
            principal.require(PUBLISH)?;
        }
        if is_published(next) && next.publish_time.is_none() {
            next.publish_time = Some(clock::now_micros());
        }
        let revised = current.is_none_or(|c| content_changed(c, next));
        if revised {
            next.revision = current.map_or(1, |c| c.revision + 1);
            let revision = article_revision::Model {
                tenant_id: next.tenant_id.clone(),
                article_id: next.id.clone(),
                revision: next.revision,
                title: next.display_name.clone(),
                body: next.body.clone(),
                category: next.category.clone(),
                editor_id: principal.user_id.clone(),
                create_time: clock::now_micros(),
            };
            revision.into_active_model().insert(txn).await?;
        }
        Ok(())
    }

    fn keys(input: &Article) -> (&str, &str, &str) {
        (&input.id, "", &input.etag)
    }
}

/// Every revision of an article the caller reads, newest first.
pub(crate) async fn revisions(
    records: &crm_records::handlers::Records,
    principal: &Principal,
    article_id: &str,
) -> Result<Vec<crm_proto::servicedesk::ArticleRevision>, Error> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let mut v = Violations::new();
    v.required("article_id", article_id.trim());
    v.finish()?;
    let article = records
        .get::<Articles>(principal, article_id.trim())
        .await?;
    let rows = article_revision::Entity::find()
        .filter(article_revision::Column::TenantId.eq(principal.tenant_id.as_str()))
        .filter(article_revision::Column::ArticleId.eq(article.id.as_str()))
        .order_by_desc(article_revision::Column::Revision)
        .all(&records.db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| crm_proto::servicedesk::ArticleRevision {
            article_id: r.article_id,
            revision: r.revision,
            title: r.title,
            body: r.body,
            category: r.category,
            editor_id: r.editor_id,
            create_time: Some(to_timestamp(r.create_time)),
        })
        .collect())
}
