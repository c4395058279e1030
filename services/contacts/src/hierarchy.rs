//! A group's account tree: parents and subsidiaries through `accounts.parent_id`.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter};

use crate::account::Accounts;
use crate::entity::account::{Column, Entity, Model};
use crate::resource::Resource;
use crm_platform::auth::Principal;
use crm_platform::error::Error;
use crm_proto::contacts::{Account, AccountNode};

/// Deepest tree the service keeps: groups deeper than this are almost always a data error.
pub const MAX_DEPTH: usize = 10;
/// Most nodes a hierarchy answer carries.
const MAX_NODES: usize = 1000;

/// A parent must be a live account the caller can see, and neither the account itself nor one
/// of its subsidiaries (which would close a cycle). Concurrent re-parenting within a tenant is
/// serialised so two changes cannot together close a cycle that neither closes alone.
pub async fn check_parent(
    txn: &DatabaseTransaction,
    principal: &Principal,
    model: &Model,
) -> Result<(), Error> {
    if model.parent_id.is_empty() {
        return Ok(());
    }
    let field = "account.parent_id";
    if model.parent_id == model.id {
        return Err(Error::invalid(field, "an account cannot be its own parent"));
    }
    crm_platform::db::lock_keys(txn, &[format!("{}/account-tree", principal.tenant_id)]).await?;
    match crate::store::find::<Accounts, _>(txn, principal, &model.parent_id).await {
        Ok(parent) if parent.delete_time.is_none() => {}
        Ok(_) | Err(Error::NotFound { .. }) => {
            return Err(Error::invalid(field, "no such account, or it is deleted"));
        }
        Err(e) => return Err(e),
    }
    // Walk up from the new parent: meeting the account means a cycle.
    let mut depth = 1;
    let mut cursor = model.parent_id.clone();
    while !cursor.is_empty() {
        if cursor == model.id {
            return Err(Error::invalid(
                field,
                "is a subsidiary of this account; the tree would become a cycle",
            ));
        }
        depth += 1;
        if depth > MAX_DEPTH {
            return Err(Error::invalid(
                field,
                format!("the group tree would be deeper than {MAX_DEPTH} levels"),
            ));
        }
        cursor = parent_of(txn, &principal.tenant_id, &cursor).await?;
    }
    let below = subtree_depth(txn, &principal.tenant_id, &model.id).await?;
    if depth + below > MAX_DEPTH {
        return Err(Error::invalid(
            field,
            format!("the group tree would be deeper than {MAX_DEPTH} levels"),
        ));
    }
    Ok(())
}

async fn parent_of<C: ConnectionTrait>(db: &C, tenant_id: &str, id: &str) -> Result<String, Error> {
    Ok(Entity::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::Id.eq(id))
        .one(db)
        .await?
        .map(|a| a.parent_id)
        .unwrap_or_default())
}

/// Levels of live subsidiaries below `id`.
async fn subtree_depth<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    id: &str,
) -> Result<usize, Error> {
    let mut frontier = vec![id.to_owned()];
    let mut depth = 0;
    while !frontier.is_empty() && depth <= MAX_DEPTH {
        frontier = children(db, tenant_id, &frontier)
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect();
        if !frontier.is_empty() {
            depth += 1;
        }
    }
    Ok(depth)
}

async fn children<C: ConnectionTrait>(
    db: &C,
    tenant_id: &str,
    parents: &[String],
) -> Result<Vec<Model>, Error> {
    Ok(Entity::find()
        .filter(Column::TenantId.eq(tenant_id))
        .filter(Column::ParentId.is_in(parents.iter().map(String::as_str)))
        .filter(Column::DeleteTime.is_null())
        .all(db)
        .await?)
}

/// Shows a node in full when the caller may see it, and otherwise only as a place in the tree.
fn node(principal: &Principal, model: &Model, depth: i32) -> AccountNode {
    if principal.reaches(&model.owner_id) {
        AccountNode {
            account: Some(Accounts::to_proto(model)),
            depth,
            restricted: false,
        }
    } else {
        AccountNode {
            account: Some(Account {
                id: model.id.clone(),
                parent_id: model.parent_id.clone(),
                ..Default::default()
            }),
            depth,
            restricted: true,
        }
    }
}

/// The ancestors (top first) and the depth-first subtree of an account the caller may see.
pub async fn hierarchy<C: ConnectionTrait>(
    db: &C,
    principal: &Principal,
    id: &str,
) -> Result<(Vec<AccountNode>, Vec<AccountNode>), Error> {
    let root = crate::store::find::<Accounts, _>(db, principal, id).await?;
    let tenant = &principal.tenant_id;
    let mut ancestors = Vec::new();
    let mut cursor = root.parent_id.clone();
    while !cursor.is_empty() && ancestors.len() < MAX_DEPTH {
        let Some(parent) = Entity::find()
            .filter(Column::TenantId.eq(tenant.as_str()))
            .filter(Column::Id.eq(cursor.as_str()))
            .one(db)
            .await?
        else {
            break;
        };
        cursor = parent.parent_id.clone();
        ancestors.push(parent);
    }
    ancestors.reverse();
    let levels = ancestors.len() as i32;
    let ancestors = ancestors
        .iter()
        .enumerate()
        .map(|(i, a)| node(principal, a, i as i32 - levels))
        .collect();

    // Breadth-first by level (one query each), then laid out depth first.
    let mut by_parent: HashMap<String, Vec<Model>> = HashMap::new();
    let mut frontier = vec![root.id.clone()];
    let mut count = 1;
    for _ in 0..MAX_DEPTH {
        if frontier.is_empty() || count >= MAX_NODES {
            break;
        }
        let mut level = children(db, tenant, &frontier).await?;
        level.sort_by(|a, b| a.display_name.cmp(&b.display_name).then(a.id.cmp(&b.id)));
        level.truncate(MAX_NODES - count);
        count += level.len();
        frontier = level.iter().map(|a| a.id.clone()).collect();
        for account in level {
            by_parent
                .entry(account.parent_id.clone())
                .or_default()
                .push(account);
        }
    }
    let mut descendants = Vec::with_capacity(count);
    let mut stack = vec![(root, 0)];
    while let Some((account, depth)) = stack.pop() {
        descendants.push(node(principal, &account, depth));
        if let Some(kids) = by_parent.remove(&account.id) {
            stack.extend(kids.into_iter().rev().map(|k| (k, depth + 1)));
        }
    }
    Ok((ancestors, descendants))
}
