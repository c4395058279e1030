//! Seeds contacts straight into the contacts database with `COPY` ([`Copy`]), with
//! the search grams the service itself would write, and draws queries from what it seeded.

use crate::common::{Copy, Rng};
use crate::support::Suite;

const FAMILY: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "肖", "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁",
    "任", "沈", "姚", "卢", "姜", "崔", "钟", "谭", "陆", "汪", "范", "金",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超",
    "秀", "霞", "平", "刚", "桂", "英", "华", "文", "辉", "力", "建", "国", "玉", "兰", "萍", "红",
    "鹏", "飞", "宇", "浩", "凯", "健", "俊", "帆", "欣", "婷", "雪", "琳", "晨", "晓", "佳", "颖",
    "博", "涵", "子", "梓", "轩", "然", "怡", "雨", "思", "嘉", "一", "诗", "梦", "天", "泽", "瑞",
    "昊", "航", "鑫", "彤", "悦", "璐", "倩", "慧", "新", "春", "海", "波", "峰", "亮", "龙", "云",
    "斌", "毅", "成", "志", "兵", "珍", "燕", "莉", "丹", "蕾", "琦", "薇", "晶", "露", "瑶", "菲",
    "阳", "光", "东", "松",
];
const FIRST: &[&str] = &[
    "James", "Mary", "John", "Linda", "Robert", "Susan", "Michael", "Karen", "David", "Nancy",
    "William", "Lisa", "Richard", "Betty", "Joseph", "Sandra", "Thomas", "Ashley", "Charles",
    "Emily", "Daniel", "Donna", "Matthew", "Michelle", "Anthony", "Carol", "Mark", "Amanda",
    "Steven", "Melissa", "Paul", "Deborah", "Andrew", "Laura", "Kevin", "Rebecca", "Brian",
    "Sharon", "George", "Cynthia",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
];
const SYLLABLES: &[&str] = &[
    "zhang", "wang", "li", "zhao", "liu", "chen", "yang", "huang", "zhou", "wu", "xu", "sun", "ma",
    "zhu", "hu", "guo", "he", "lin", "gao", "luo", "wei", "fang", "na", "min", "jing", "qiang",
    "lei", "jun", "yong", "yan", "jie", "tao", "ming", "chao", "xiu", "xia", "ping",
];
const DOMAINS: &[&str] = &[
    "huaqiang.cn",
    "acme.com",
    "example.com",
    "163.com",
    "qq.com",
    "sina.com",
    "foxmail.com",
    "gmail.com",
    "outlook.com",
    "globex.com",
    "initech.cn",
    "umbrella.cn",
];

/// The kinds of query drawn, in the order [`Seeded::queries`] returns them.
pub(crate) const QUERY_KINDS: &[&str] = &[
    "Chinese name part",
    "phone digits",
    "email local part",
    "whole Latin name",
];

struct Person {
    id: String,
    mine: bool,
    name: String,
    chinese: bool,
    national: String,
    email: String,
}

/// What was seeded.
pub(crate) struct Seeded {
    pub(crate) contacts: u64,
    pub(crate) grams: u64,
    people: Vec<Person>,
}

const CONTACT_COLUMNS: &[&str] = &[
    "id",
    "tenant_id",
    "owner_id",
    "given_name",
    "family_name",
    "display_name",
    "email",
    "phone",
    "title",
    "account_id",
    "department",
    "gender",
    "birth_year",
    "birth_month",
    "birth_day",
    "phones",
    "emails",
    "region_code",
    "administrative_area",
    "locality",
    "sublocality",
    "postal_code",
    "address_lines",
    "related_account_ids",
    "occupation",
    "notes",
    "tags",
    "group_ids",
    "merged_into_id",
    "owner_since",
    "birthday_announced",
    "custom_fields",
    "version",
    "create_time",
    "update_time",
];

/// Seeds `total` contacts in `tenant_id`: 1% owned by `rep_id`, the rest by 99 others.
pub(crate) fn contacts(
    suite: &Suite,
    tenant_id: &str,
    rep_id: &str,
    total: u64,
    rng: &mut Rng,
) -> Seeded {
    let database = suite
        .database_name("contacts")
        .expect("a distributed suite");
    let others: Vec<String> = (0..99)
        .map(|i| format!("0190a0a0-0000-7000-8000-{i:012}"))
        .collect();
    let mut contacts = Copy::start(&database, "contacts", CONTACT_COLUMNS);
    let mut grams = Copy::start(
        &database,
        "search_grams",
        &["tenant_id", "gram", "owner_id", "record_kind", "record_id"],
    );
    let mut people = Vec::with_capacity(total as usize);
    let mut gram_count = 0;
    let now = 1_790_000_000_000_000_i64.to_string();
    for n in 0..total {
        let id = format!("0190b0b0-0000-7000-8000-{n:012}");
        let mine = n % 100 == 0;
        let owner = if mine {
            rep_id.to_owned()
        } else {
            others[rng.below(others.len())].clone()
        };
        let chinese = rng.below(10) < 7;
        let (given, family, name) = if chinese {
            let family = rng.pick(FAMILY);
            let given: String = (0..1 + rng.below(2)).map(|_| rng.pick(GIVEN)).collect();
            (given.clone(), family.to_owned(), format!("{family}{given}"))
        } else {
            let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
            (first.to_owned(), last.to_owned(), format!("{first} {last}"))
        };
        let national = format!("1{}{:09}", 3 + rng.below(7), rng.next() % 1_000_000_000);
        let phone = format!("+86{national}");
        let email = format!(
            "{}.{}{}@{}",
            rng.pick(SYLLABLES),
            rng.pick(SYLLABLES),
            rng.below(1000),
            rng.pick(DOMAINS)
        );
        let phones = format!(r#"[{{"value":"{phone}","label":"mobile","primary":true}}]"#);
        let emails = format!(r#"[{{"value":"{email}","primary":true}}]"#);
        contacts.row(&[
            &id, tenant_id, &owner, &given, &family, &name, &email, &phone, "", "", "", "0", "0",
            "0", "0", &phones, &emails, "", "", "", "", "", "", "[]", "", "", "[]", "[]", "", &now,
            "0", "{}", "1", &now, &now,
        ]);
        let fields = [
            ("display_name", name.clone()),
            ("phone", phone),
            ("email", email.clone()),
        ];
        for gram in crm_contacts::search::record_grams(&fields) {
            grams.row(&[tenant_id, &gram, &owner, "contact", &id]);
            gram_count += 1;
        }
        people.push(Person {
            id,
            mine,
            name,
            chinese,
            national,
            email,
        });
    }
    contacts.finish();
    grams.finish();
    // What autovacuum does to a table at rest: statistics, and the visibility map that lets
    // index-only scans skip the heap.
    crate::support::psql_db(&database, "VACUUM ANALYZE").expect("vacuum");
    Seeded {
        contacts: total,
        grams: gram_count,
        people,
    }
}

impl Seeded {
    /// `per_kind` queries of each of [`QUERY_KINDS`], drawn from the contacts of `owner`
    /// (the seeded rep's when given, anyone's otherwise).
    pub(crate) fn queries(
        &self,
        rng: &mut Rng,
        per_kind: usize,
        mine: Option<&str>,
    ) -> Vec<String> {
        let pool: Vec<&Person> = self
            .people
            .iter()
            .filter(|p| mine.is_none() || p.mine)
            .collect();
        let draw = |rng: &mut Rng, want_chinese: Option<bool>| loop {
            let person = pool[rng.below(pool.len())];
            if want_chinese.is_none_or(|c| c == person.chinese) {
                return person;
            }
        };
        let mut out = Vec::with_capacity(per_kind * QUERY_KINDS.len());
        for _ in 0..per_kind {
            let person = draw(rng, Some(true));
            out.push(person.name.chars().take(2).collect());
        }
        for _ in 0..per_kind {
            let person = draw(rng, None);
            let start = rng.below(person.national.len() - 7);
            out.push(person.national[start..start + 7].to_owned());
        }
        for _ in 0..per_kind {
            let person = draw(rng, None);
            out.push(
                person
                    .email
                    .split('@')
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        for _ in 0..per_kind {
            out.push(draw(rng, Some(false)).name.clone());
        }
        out
    }

    /// Random contact ids.
    pub(crate) fn sample_ids(&self, rng: &mut Rng, count: usize) -> Vec<String> {
        (0..count)
            .map(|_| self.people[rng.below(self.people.len())].id.clone())
            .collect()
    }
}
