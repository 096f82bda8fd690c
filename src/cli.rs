//! The command line: `serve` (the default, with `--demo`), `migrate`, `schema`, `user create`.

use std::{net::SocketAddr, path::PathBuf};

use choso_services::{
    Db, Error,
    accounts::{self, NewUser, Role},
    db::redact,
};
use clap::{Args, Parser, Subcommand};

use crate::{
    BoxError,
    config::{Config, DEFAULT_ADDR, DEFAULT_DATABASE_URL},
    server::{Server, shutdown_signal},
};

#[derive(Parser, Debug)]
#[command(
    name = "choso",
    version,
    about = "Choso: storefronts and online ordering for Vietnamese SMEs"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Migrate the database, then serve the API, storefronts and console.
    Serve(ServeArgs),
    /// Bring a database's schema up to date and exit.
    Migrate(DbArgs),
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Args, Debug, Clone)]
pub struct DbArgs {
    /// sqlite://path or postgres://user@host/db
    #[arg(long, env = "CHOSO_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[arg(long, env = "CHOSO_ADDR", default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub db: DbArgs,
    /// Seed a demo shop with products when the database has no shop.
    #[arg(long)]
    pub demo: bool,
    /// Public base address, e.g. https://choso.example
    #[arg(long, env = "CHOSO_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// `{slug}.{base domain}` reaches a shop.
    #[arg(long, env = "CHOSO_BASE_DOMAIN")]
    pub base_domain: Option<String>,
    /// Folder for uploads and outgoing mail files.
    #[arg(long, env = "CHOSO_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    #[command(flatten)]
    pub stripe: StripeArgs,
    /// SMTP server for email (`smtp://user:pass@host:587?tls=required`, `smtps://…`); unset:
    /// emails are written as .eml files under the data folder.
    #[arg(long, env = "CHOSO_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    #[arg(long, env = "CHOSO_MAIL_FROM", default_value = crate::config::DEFAULT_MAIL_FROM)]
    pub mail_from: String,
    /// GraphQL cost units a shop's clients may be ahead by before `THROTTLED`.
    #[arg(long, env = "CHOSO_SHOP_BUDGET", default_value_t = 200_000.0)]
    pub shop_budget: f64,
    /// GraphQL cost units a shop's bucket drains per second.
    #[arg(long, env = "CHOSO_SHOP_BUDGET_PER_SEC", default_value_t = 100_000.0)]
    pub shop_budget_per_sec: f64,
}

/// Card payments through Stripe (all from the environment; off when the key is unset).
#[derive(Args, Debug, Clone, Default)]
pub struct StripeArgs {
    #[arg(long, env = "CHOSO_STRIPE_SECRET_KEY", hide_env_values = true)]
    pub stripe_secret_key: Option<String>,
    #[arg(long, env = "CHOSO_STRIPE_WEBHOOK_SECRET", hide_env_values = true)]
    pub stripe_webhook_secret: Option<String>,
    /// Another Stripe API address (a local double in tests).
    #[arg(long, env = "CHOSO_STRIPE_API_BASE")]
    pub stripe_api_base: Option<String>,
}

impl StripeArgs {
    fn from_env() -> StripeArgs {
        StripeArgs {
            stripe_secret_key: std::env::var("CHOSO_STRIPE_SECRET_KEY").ok(),
            stripe_webhook_secret: std::env::var("CHOSO_STRIPE_WEBHOOK_SECRET").ok(),
            stripe_api_base: std::env::var("CHOSO_STRIPE_API_BASE").ok(),
        }
    }

    fn config(&self) -> Option<choso_services::stripe::StripeConfig> {
        let key = self.stripe_secret_key.clone().filter(|k| !k.is_empty())?;
        Some(choso_services::stripe::StripeConfig {
            secret_key: key,
            webhook_secret: self.stripe_webhook_secret.clone().unwrap_or_default(),
            api_base: self.stripe_api_base.clone().filter(|b| !b.is_empty()),
            expire_after_minutes: 60,
        })
    }
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account (admin or province staff).
    Create(UserCreateArgs),
}

#[derive(Args, Debug)]
pub struct UserCreateArgs {
    #[arg(long)]
    pub email: String,
    #[arg(long, env = "CHOSO_USER_PASSWORD")]
    pub password: String,
    /// admin, province_staff or merchant
    #[arg(long)]
    pub role: String,
    /// Province code (province staff only), one of the 34.
    #[arg(long)]
    pub province: Option<String>,
    #[arg(long, default_value = "")]
    pub full_name: String,
    #[command(flatten)]
    pub db: DbArgs,
}

/// A setting from the environment (the no-argument `cargo run` path; `choso serve` parses
/// the same variables through clap).
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T, BoxError> {
    parse_setting(name, std::env::var(name).ok(), default)
}

/// A setting's value: the default when unset, else its parse — a value that does not parse
/// stops the start with a message naming the variable (it is never silently replaced).
fn parse_setting<T: std::str::FromStr>(
    name: &str,
    value: Option<String>,
    default: T,
) -> Result<T, BoxError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("{name}={v:?} is not a valid value").into()),
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), BoxError> {
    match cli.command {
        None => {
            serve(ServeArgs {
                addr: env_or(
                    "CHOSO_ADDR",
                    DEFAULT_ADDR.parse().expect("valid default address"),
                )?,
                db: DbArgs {
                    database_url: std::env::var("CHOSO_DATABASE_URL")
                        .unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_string()),
                },
                demo: true,
                public_url: std::env::var("CHOSO_PUBLIC_URL").ok(),
                base_domain: std::env::var("CHOSO_BASE_DOMAIN").ok(),
                data_dir: std::env::var("CHOSO_DATA_DIR")
                    .unwrap_or_else(|_| "data".into())
                    .into(),
                stripe: StripeArgs::from_env(),
                smtp_url: std::env::var("CHOSO_SMTP_URL").ok(),
                mail_from: std::env::var("CHOSO_MAIL_FROM")
                    .unwrap_or_else(|_| crate::config::DEFAULT_MAIL_FROM.to_string()),
                shop_budget: env_or("CHOSO_SHOP_BUDGET", 200_000.0)?,
                shop_budget_per_sec: env_or("CHOSO_SHOP_BUDGET_PER_SEC", 100_000.0)?,
            })
            .await
        }
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Migrate(args)) => {
            let db = Db::connect_and_migrate(&args.database_url).await?;
            db.close().await;
            println!("migrated {}", redact(&args.database_url));
            Ok(())
        }
        Some(Command::Schema) => {
            print!("{}", choso_graphql::sdl());
            Ok(())
        }
        Some(Command::User(UserCommand::Create(args))) => {
            let Some(role) = Role::parse(&args.role) else {
                return Err(format!(
                    "unknown role {:?}: use admin, province_staff or merchant",
                    args.role
                )
                .into());
            };
            let db = Db::connect_and_migrate(&args.db.database_url).await?;
            let result = accounts::create_user(
                &db,
                NewUser {
                    email: args.email,
                    password: args.password,
                    full_name: args.full_name,
                    role,
                    province_code: args.province,
                },
            )
            .await;
            db.close().await;
            match result {
                Ok(user) => {
                    println!(
                        "created {} {} ({})",
                        user.role.as_str(),
                        user.email,
                        user.id
                    );
                    Ok(())
                }
                Err(Error::Invalid(errs)) => {
                    let msg: Vec<String> = errs
                        .iter()
                        .map(|e| format!("{}: {}", e.code, e.message))
                        .collect();
                    Err(msg.join("\n").into())
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), BoxError> {
    let config = Config {
        addr: args.addr,
        database_url: args.db.database_url.clone(),
        public_url: args.public_url,
        base_domain: args.base_domain,
        data_dir: args.data_dir,
        demo: args.demo,
        max_body_bytes: 1024 * 1024,
        stripe: args.stripe.config(),
        smtp_url: args.smtp_url.clone(),
        mail_from: args.mail_from.clone(),
        mail_poll: std::time::Duration::from_secs(1),
        mail_retry_base_ms: 5_000,
        shop_budget: choso_graphql::budget::BudgetConfig {
            capacity: args.shop_budget.max(1.0),
            per_second: args.shop_budget_per_sec.max(1.0),
        },
        limits: crate::config::Limits::from_env()?,
    };
    tracing::info!(database = %redact(&config.database_url), "starting");
    let server = Server::start(config).await?;
    let base = server.base_url.clone();
    println!();
    println!("  Choso is running on {}", redact(&args.db.database_url));
    println!("  GraphiQL:         {base}/graphql");
    if args.demo {
        println!("  Demo storefront:  {base}/s/{}/", crate::demo::DEMO_SLUG);
        println!(
            "  Demo owner:       {} / {}",
            crate::demo::DEMO_EMAIL,
            crate::demo::DEMO_PASSWORD
        );
    }
    println!("  Console:          {base}/console");
    if args.demo {
        println!(
            "  Province staff:   {} / {}",
            crate::demo::DEMO_STAFF_EMAIL,
            crate::demo::DEMO_PASSWORD
        );
    }
    println!("  Health check:     {base}/healthz");
    println!("  Press Ctrl-C to stop.");
    println!();
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    server.stop().await?;
    tracing::info!("stopped cleanly");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_or_refuse() {
        assert_eq!(parse_setting("X", None, 5.0).ok(), Some(5.0));
        assert_eq!(parse_setting("X", Some(" 7 ".into()), 5.0).ok(), Some(7.0));
        let e = parse_setting::<f64>("CHOSO_SHOP_BUDGET", Some("lots".into()), 5.0)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("CHOSO_SHOP_BUDGET=\"lots\" is not a valid value")
        );
        assert!(
            parse_setting::<std::net::SocketAddr>(
                "CHOSO_ADDR",
                Some("nope".into()),
                DEFAULT_ADDR.parse().expect("addr")
            )
            .is_err()
        );
    }
}
