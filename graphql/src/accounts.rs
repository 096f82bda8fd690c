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
    /// Emails that gave up after their last attempt (admins).
    async fn failed_emails(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<FailedEmail>> {
        require_admin(ctx)?;
        let list = choso_services::notify::failed(db(ctx), i64::from(first.unwrap_or(50)))
            .await
            .map_err(top_level)?;
        Ok(list
            .into_iter()
            .map(|e| FailedEmail {
                id: e.id,
                kind: e.kind,
                recipient: e.recipient,
                attempts: e.attempts,
                last_error: e.last_error,
                created_at: e.created_at,
            })
            .collect())
    }

    /// The signed-in user, or null.
    async fn me(&self, ctx: &Context<'_>) -> Option<User> {
        viewer(ctx).user.clone().map(User)
    }
}

/// An email that could not be delivered (admins).
#[derive(SimpleObject)]
pub struct FailedEmail {
    pub id: String,
    pub kind: String,
    pub recipient: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: String,
}

fn require_admin(ctx: &Context<'_>) -> async_graphql::Result<()> {
    let u = require_user(ctx).map_err(top_level)?;
    if u.is_admin() {
        Ok(())
    } else {
        Err(top_level(choso_services::Error::Forbidden))
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

    /// Emails a single-use reset link when the address has an account. Always answers ok:
    /// the answer gives no hint whether the address exists.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> async_graphql::Result<LogoutPayload> {
        choso_services::accounts::request_password_reset(db(ctx), &email)
            .await
            .map_err(top_level)?;
        Ok(LogoutPayload {
            ok: true,
            user_errors: vec![],
        })
    }

    /// Sets a new password with a reset token; every session of the account is revoked.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> async_graphql::Result<LogoutPayload> {
        let (ok, user_errors) = payload(
            choso_services::accounts::reset_password(db(ctx), &token, &new_password).await,
        )?;
        Ok(LogoutPayload {
            ok: ok.is_some(),
            user_errors,
        })
    }

    /// Puts a failed email back in the queue (admins).
    async fn retry_email(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> async_graphql::Result<LogoutPayload> {
        require_admin(ctx)?;
        let (ok, user_errors) = payload(choso_services::notify::retry(db(ctx), &id).await)?;
        Ok(LogoutPayload {
            ok: ok.is_some(),
            user_errors,
        })
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
