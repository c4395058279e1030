//! The tenant's service levels: first-response and resolution targets in business minutes
//! per priority and support level, the share of a target at which a warning goes out, and
//! what a breach does. Kept as tenant settings.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crm_platform::error::Error;
use crm_platform::time::to_timestamp_opt;
use crm_platform::validate::Violations;
use crm_proto::servicedesk::{SlaEscalation, SlaPolicy, SlaTarget, TicketPriority};
use crm_records::settings::{Settings, Stored};

/// Permission to read the calendar and the policy.
pub(crate) const SETTINGS_READ: &str = "servicedesk.settings.read";
/// Permission to change them.
pub(crate) const SETTINGS_WRITE: &str = "servicedesk.settings.write";

/// The warning share when none is set.
const DEFAULT_WARNING_PERCENT: i32 = 80;
/// The longest target: a year of business minutes.
const MAX_MINUTES: i32 = 525_600;
/// Most targets (every priority for a handful of support levels).
const MAX_TARGETS: usize = 100;
/// Most users a breach notifies.
const MAX_NOTIFIED: usize = 20;

/// One target as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredTarget {
    pub(crate) priority: i32,
    pub(crate) support_level: String,
    /// Business minutes; 0 for none.
    pub(crate) first_response: i32,
    /// Business minutes; 0 for none.
    pub(crate) resolution: i32,
}

/// The policy as stored; the default has no targets, so tickets get no due times.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredPolicy {
    #[serde(default)]
    pub(crate) targets: Vec<StoredTarget>,
    #[serde(default)]
    pub(crate) warning_percent: i32,
    #[serde(default)]
    pub(crate) raise_priority: bool,
    #[serde(default)]
    pub(crate) reassign_to: String,
    #[serde(default)]
    pub(crate) notify_user_ids: Vec<String>,
}

impl Settings for StoredPolicy {
    const KIND: &'static str = "sla_policy";
}

impl StoredPolicy {
    /// The target of a ticket of `priority` for a customer of `support_level`: the level's
    /// own, else the priority's for customers without a level.
    pub(crate) fn target(&self, priority: i32, support_level: &str) -> Option<&StoredTarget> {
        let of = |level: &str| {
            self.targets
                .iter()
                .find(|t| t.priority == priority && t.support_level == level)
        };
        of(support_level).or_else(|| of(""))
    }

    /// The share of a target after which the warning goes out, in percent.
    pub(crate) fn warning_percent(&self) -> i32 {
        if self.warning_percent == 0 {
            DEFAULT_WARNING_PERCENT
        } else {
            self.warning_percent
        }
    }
}

fn minutes(v: &mut Violations, field: &str, minutes: i32) {
    if !(0..=MAX_MINUTES).contains(&minutes) {
        v.add(field, "must be from 0 (no target) to 525,600 minutes");
    }
}

/// Checks a sent policy and gives its stored form.
pub(crate) fn check(input: &SlaPolicy) -> Result<StoredPolicy, Error> {
    let mut v = Violations::new();
    if input.targets.len() > MAX_TARGETS {
        v.add("policy.targets", "must list at most 100 targets");
    }
    let mut seen = HashSet::new();
    let mut targets = Vec::with_capacity(input.targets.len());
    for (i, t) in input.targets.iter().enumerate() {
        let field = format!("policy.targets[{i}]");
        let priority =
            v.required_enumeration::<TicketPriority>(&format!("{field}.priority"), t.priority);
        let support_level = t.support_level.trim().to_owned();
        v.max_chars(&format!("{field}.support_level"), &support_level, 50);
        if priority != 0 && !seen.insert((priority, support_level.to_lowercase())) {
            v.add(
                &format!("{field}.priority"),
                "appears twice for this support level",
            );
        }
        let first = format!("{field}.first_response_minutes");
        minutes(&mut v, &first, t.first_response_minutes);
        minutes(
            &mut v,
            &format!("{field}.resolution_minutes"),
            t.resolution_minutes,
        );
        if t.first_response_minutes == 0 && t.resolution_minutes == 0 {
            v.add(&first, "or resolution_minutes must be set");
        }
        targets.push(StoredTarget {
            priority,
            support_level,
            first_response: t.first_response_minutes,
            resolution: t.resolution_minutes,
        });
    }
    if !(0..=99).contains(&input.warning_percent) {
        v.add("policy.warning_percent", "must be from 1 to 99 (0 for 80)");
    }
    let escalation = input.escalation.clone().unwrap_or_default();
    let reassign_to = escalation.reassign_to.trim().to_owned();
    v.max_chars("policy.escalation.reassign_to", &reassign_to, 100);
    if escalation.notify_user_ids.len() > MAX_NOTIFIED {
        v.add(
            "policy.escalation.notify_user_ids",
            "must list at most 20 users",
        );
    }
    let mut notify_user_ids = Vec::new();
    for (i, user) in escalation.notify_user_ids.iter().enumerate() {
        let user = user.trim().to_owned();
        let field = format!("policy.escalation.notify_user_ids[{i}]");
        v.required(&field, &user);
        v.max_chars(&field, &user, 100);
        if !user.is_empty() && !notify_user_ids.contains(&user) {
            notify_user_ids.push(user);
        }
    }
    v.finish()?;
    Ok(StoredPolicy {
        targets,
        warning_percent: input.warning_percent,
        raise_priority: escalation.raise_priority,
        reassign_to,
        notify_user_ids,
    })
}

/// The wire form of a stored policy.
pub(crate) fn to_proto(stored: &Stored<StoredPolicy>) -> SlaPolicy {
    let p = &stored.value;
    SlaPolicy {
        targets: p
            .targets
            .iter()
            .map(|t| SlaTarget {
                priority: t.priority,
                support_level: t.support_level.clone(),
                first_response_minutes: t.first_response,
                resolution_minutes: t.resolution,
            })
            .collect(),
        warning_percent: p.warning_percent(),
        escalation: Some(SlaEscalation {
            raise_priority: p.raise_priority,
            reassign_to: p.reassign_to.clone(),
            notify_user_ids: p.notify_user_ids.clone(),
        }),
        etag: stored.etag(),
        update_time: to_timestamp_opt(stored.update_time),
    }
}
