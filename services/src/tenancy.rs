//! Tenancy: every tenant-owned row belongs to a shop, and every service function on tenant
//! data takes a [`ShopId`] (public reads) or a checked [`ShopScope`] (member actions) first.
//! A `ShopScope` can only be made by `shops::authorize`, which checks membership, so holding
//! one is proof that the caller may act on that shop.

use std::fmt;

/// A shop's id: the tenant key (and the Citus distribution column `shop_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ShopId(String);

impl ShopId {
    /// Wraps an id read from the database or received from a client (unchecked: a wrong id
    /// simply finds nothing, because every query also filters by it).
    pub fn new(id: impl Into<String>) -> Self {
        ShopId(id.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ShopId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A member's role in a shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum MemberRole {
    /// Everything, including members and payment settings.
    Owner,
    /// Products and orders, not members or payments.
    Staff,
}

impl MemberRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberRole::Owner => "owner",
            MemberRole::Staff => "staff",
        }
    }
    pub fn parse(s: &str) -> Option<MemberRole> {
        match s {
            "owner" => Some(MemberRole::Owner),
            "staff" => Some(MemberRole::Staff),
            _ => None,
        }
    }
}

/// Proof that `user_id` is a member of `shop_id` with `role` (or a platform admin acting as
/// owner). Made only by `shops::authorize`.
/// It also holds the shop's [`ChangeGuard`](crate::versions::ChangeGuard): caches of the
/// shop's public answers are invalidated when a scope is made and when its last copy goes.
#[derive(Debug, Clone)]
pub struct ShopScope {
    shop_id: ShopId,
    user_id: String,
    role: MemberRole,
    _changes: std::sync::Arc<crate::versions::ChangeGuard>,
}

impl ShopScope {
    pub(crate) fn new(
        shop_id: ShopId,
        user_id: String,
        role: MemberRole,
        changes: crate::versions::ChangeGuard,
    ) -> Self {
        ShopScope {
            shop_id,
            user_id,
            role,
            _changes: std::sync::Arc::new(changes),
        }
    }
    pub fn shop_id(&self) -> &ShopId {
        &self.shop_id
    }
    pub fn user_id(&self) -> &str {
        &self.user_id
    }
    pub fn role(&self) -> MemberRole {
        self.role
    }
}
