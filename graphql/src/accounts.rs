//! Accounts in GraphQL: `register`, `login`, `logout`, `me`, and the `User` type.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use choso_services::accounts::{self, RegisterInput as SvcRegister};

use crate::{
    context::{db, require_user, viewer},
    error::{UserError, payload, top_level},
};

/// A person with an account (contract type `User`).
pub struct User(pub accounts::User);

#[Object]
impl User {
    async fn id(&self) -> &str {
        &self.0.id
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn full_name(&self) -> &str {
        &self.0.full_name
    }
    /// `merchant`, `admin` or `province_staff`.
    async fn role(&self) -> &str {
        self.0.role.as_str()
    }
    /// The shops this user is a member of.
    async fn shops(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<crate::shops::Shop>> {
        let list = choso_services::shops::for_user(db(ctx), &self.0.id)
            .await
            .map_err(top_level)?;
        Ok(list
            .into_iter()
            .map(|(shop, role)| crate::shops::Shop {
                shop,
                role: Some(role),
            })
            .collect())
    }
    /// For province staff: the province they see.
    async fn province_code(&self) -> Option<&str> {
        self.0.province_code.as_deref()
    }
}

#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Bearer token for `Authorization: Bearer <token>`; shown once.
    pub token: Option<String>,
    pub user: Option<User>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct RegisterInput {
    pub email: String,
    pub password: String,
    pub full_name: String,
    /// A province onboarding invite: links the new owner's shops to an enterprise.
    pub invite_code: Option<String>,
}

#[derive(InputObject)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

#[derive(SimpleObject)]
pub struct LogoutPayload {
    pub ok: bool,
    pub user_errors: Vec<UserError>,
}

fn auth_payload(
    r: choso_services::Result<accounts::Session>,
) -> async_graphql::Result<AuthPayload> {
    let (session, user_errors) = payload(r)?;
    Ok(match session {
        Some(s) => AuthPayload {
            token: Some(s.token),
            user: Some(User(s.user)),
            user_errors,
        },
        None => AuthPayload {
            token: None,
            user: None,
            user_errors,
        },
    })
}

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The signed-in user, or null.
    async fn me(&self, ctx: &Context<'_>) -> Option<User> {
        viewer(ctx).user.clone().map(User)
    }
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates a merchant account and signs it in.
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> async_graphql::Result<AuthPayload> {
        let r = accounts::register(
            db(ctx),
            SvcRegister {
                email: input.email,
                password: input.password,
                full_name: input.full_name,
                invite_code: input.invite_code,
            },
        )
        .await;
        auth_payload(r)
    }

    /// Signs in. Failures are throttled per account and per client address.
    async fn login(
        &self,
        ctx: &Context<'_>,
        input: LoginInput,
    ) -> async_graphql::Result<AuthPayload> {
        let client = viewer(ctx).client_ip.as_deref();
        auth_payload(accounts::login(db(ctx), &input.email, &input.password, client).await)
    }

    /// Revokes the token this request was made with.
    async fn logout(&self, ctx: &Context<'_>) -> async_graphql::Result<LogoutPayload> {
        require_user(ctx).map_err(top_level)?;
        if let Some(token) = &viewer(ctx).token {
            accounts::logout(db(ctx), token).await.map_err(top_level)?;
        }
        Ok(LogoutPayload {
            ok: true,
            user_errors: vec![],
        })
    }
}
