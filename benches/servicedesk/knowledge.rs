//! The knowledge-base workload: articles seeded straight into the service desk's database
//! with `COPY` (with the search grams the service itself writes), then suggestions asked
//! through the gateway for ticket texts drawn from them, beside point reads of articles.
//!
//! The words follow a Zipf law over a large vocabulary, in Chinese and in English, as real
//! text does: a few words are in nearly every article (the grams the suggestion leaves out
//! as common), most are rare. A ticket takes a few words of one article's title and body,
//! mixed with as many words from anywhere; how often that article is among the suggestions
//! is printed beside the latency.

use std::time::Instant;

use crate::common::{Copy, Latency, Rng};
use crate::support::Suite;
use crate::support::clients::Session;
use crm_proto::servicedesk::{GetArticleRequest, SuggestArticlesRequest};

/// Distinct words per language.
const VOCABULARY: usize = 20_000;

const SYLLABLES: &[&str] = &[
    "ba", "ko", "mi", "ter", "ran", "lo", "print", "net", "ser", "vi", "con", "fig", "ra", "tion",
    "pass", "word", "in", "voice", "pay", "ment", "de", "li", "ver", "y", "sto", "re", "ac",
    "count", "up", "date", "sync", "er", "ror", "mo", "dem", "wi", "fi", "ca", "ble",
];
const HAN: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严";

/// One language's words, most common first.
fn vocabulary(rng: &mut Rng, chinese: bool) -> Vec<String> {
    let han: Vec<char> = HAN.chars().collect();
    let mut words = std::collections::BTreeSet::new();
    let mut ordered = Vec::with_capacity(VOCABULARY);
    while ordered.len() < VOCABULARY {
        let word: String = if chinese {
            (0..2).map(|_| han[rng.below(han.len())]).collect()
        } else {
            (0..2 + rng.below(2)).map(|_| rng.pick(SYLLABLES)).collect()
        };
        if words.insert(word.clone()) {
            ordered.push(word);
        }
    }
    ordered
}

/// A word drawn by Zipf's law (rank r with weight about 1/r).
fn zipf<'a>(rng: &mut Rng, words: &'a [String]) -> &'a str {
    let u = (rng.next() % 1_000_000) as f64 / 1_000_000.0;
    let rank = (words.len() as f64).powf(u) as usize;
    &words[rank.saturating_sub(1).min(words.len() - 1)]
}

/// One seeded article's words, to draw tickets from.
struct Seeded {
    id: String,
    title: Vec<String>,
    body: Vec<String>,
    chinese: bool,
}

/// The seeded knowledge base.
pub(crate) struct Knowledge {
    articles: Vec<Seeded>,
    words: [Vec<String>; 2],
    pub(crate) grams: u64,
}

const ARTICLE_COLUMNS: &[&str] = &[
    "id",
    "tenant_id",
    "owner_id",
    "owner_since",
    "display_name",
    "category",
    "status",
    "visibility",
    "revision",
    "body",
    "tags",
    "custom_fields",
    "version",
    "create_time",
    "update_time",
    "use_count",
    "publish_time",
];

/// Seeds `total` published articles by `author_id` in `tenant_id`, half of them Chinese.
pub(crate) fn seed(suite: &Suite, (tenant_id, author_id): (&str, &str), total: u64) -> Knowledge {
    let database = suite
        .database_name("servicedesk")
        .expect("a distributed suite");
    let mut rng = Rng(0x6b62);
    let words = [vocabulary(&mut rng, false), vocabulary(&mut rng, true)];
    let mut rows = Copy::start(&database, "articles", ARTICLE_COLUMNS);
    let mut grams = Copy::start(
        &database,
        "search_grams",
        &["tenant_id", "gram", "owner_id", "record_kind", "record_id"],
    );
    let now = 1_790_000_000_000_000_i64.to_string();
    let mut articles = Vec::with_capacity(total as usize);
    let mut gram_count = 0;
    for n in 0..total {
        let chinese = n % 2 == 1;
        let vocabulary = &words[usize::from(chinese)];
        let title: Vec<String> = (0..4 + rng.below(4))
            .map(|_| zipf(&mut rng, vocabulary).to_owned())
            .collect();
        let body: Vec<String> = (0..30 + rng.below(30))
            .map(|_| zipf(&mut rng, vocabulary).to_owned())
            .collect();
        let join = |w: &[String]| w.join(if chinese { "" } else { " " });
        let (title_text, body_text) = (join(&title), join(&body));
        let category = format!("category {}", rng.below(40));
        let id = format!("0190c0c0-0000-7000-8000-{n:012}");
        let visibility = (1 + n % 2).to_string();
        rows.row(&[
            &id,
            tenant_id,
            author_id,
            &now,
            &title_text,
            &category,
            "2",
            &visibility,
            "1",
            &body_text,
            "[]",
            "{}",
            "1",
            &now,
            &now,
            "0",
            &now,
        ]);
        // The fields `Articles::search_fields` indexes, in its order.
        let fields = [
            ("display_name", title_text),
            ("category", category),
            ("tags", String::new()),
            ("body", body_text),
        ];
        for gram in crm_records::search::record_grams(&fields) {
            grams.row(&[tenant_id, &gram, author_id, "article", &id]);
            gram_count += 1;
        }
        articles.push(Seeded {
            id,
            title,
            body,
            chinese,
        });
    }
    rows.finish();
    grams.finish();
    Knowledge {
        articles,
        words,
        grams: gram_count,
    }
}

/// A ticket drawn from one article: three words of its title for the subject, eight of its
/// body among eight from anywhere for the description. Returns the article's id with it.
fn ticket(knowledge: &Knowledge, rng: &mut Rng) -> (String, String, String) {
    let article = &knowledge.articles[rng.below(knowledge.articles.len())];
    let vocabulary = &knowledge.words[usize::from(article.chinese)];
    let pick = |rng: &mut Rng, from: &[String], n: usize| -> Vec<String> {
        (0..n)
            .map(|_| from[rng.below(from.len())].clone())
            .collect()
    };
    let subject = pick(rng, &article.title, 3);
    let mut description = pick(rng, &article.body, 8);
    for _ in 0..8 {
        description.push(zipf(rng, vocabulary).to_owned());
    }
    let join = |w: &[String]| w.join(if article.chinese { "，" } else { " " });
    (article.id.clone(), join(&subject), join(&description))
}

/// Times `count` suggestions for drawn tickets; `found` counts the tickets whose article was
/// among the five suggested.
pub(crate) async fn time_suggestions(
    session: &Session,
    knowledge: &Knowledge,
    (name, count, seed): (&str, usize, u64),
) -> Latency {
    let mut rng = Rng(seed);
    let mut latency = Latency::new(name);
    let mut client = session.servicedesk();
    for _ in 0..count {
        let (id, subject, description) = ticket(knowledge, &mut rng);
        let started = Instant::now();
        let results = client
            .suggest_articles(SuggestArticlesRequest {
                subject: subject.clone(),
                description,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("suggestions for {subject:?}: {e}"))
            .into_inner()
            .results;
        latency.record(started);
        if results.iter().any(|m| m.article.as_ref().unwrap().id == id) {
            latency.found += 1;
        }
    }
    latency
}

/// Times `count` point reads of random articles (the baseline).
pub(crate) async fn time_gets(session: &Session, knowledge: &Knowledge, count: usize) -> Latency {
    let mut rng = Rng(7);
    let mut latency = Latency::new("GetArticle, random ids (baseline)");
    let mut client = session.servicedesk();
    for _ in 0..count {
        let id = knowledge.articles[rng.below(knowledge.articles.len())]
            .id
            .clone();
        let started = Instant::now();
        client.get_article(GetArticleRequest { id }).await.unwrap();
        latency.record(started);
        latency.found += 1;
    }
    latency
}
