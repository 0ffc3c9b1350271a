//! `l2c user token add|list|revoke|rotate`, `l2c user list`, `l2c user deactivate` and
//! `l2c user reactivate`: the admin API's access controls, for an operator at the database.

use crate::server_cmd::DbArgs;
use anyhow::Result;
use clap::Subcommand;
use l2c::access::{wall_now, CLI_ACTOR as CLI};
use l2c_orders::tokens::{self, NewToken, TokenInfo};
use l2c_orders::users;

/// `l2c user token ...`.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make a named token for a user and print its secret (shown once).
    Add {
        /// The user's name.
        user: String,
        /// The token's name, e.g. billing-portal.
        name: String,
        /// How long it works (e.g. 90days); without it, until revoked.
        #[arg(long, value_parser = humantime::parse_duration)]
        expires_in: Option<std::time::Duration>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List a user's tokens (never their secrets).
    List {
        /// The user's name.
        user: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a token: it stops working on every node within a second.
    Revoke {
        /// The user's name.
        user: String,
        /// The token's id (from `list`).
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Replace a token with a new secret of the same name and lifetime.
    Rotate {
        /// The user's name.
        user: String,
        /// The token's id (from `list`).
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

fn shown(t: &TokenInfo) -> String {
    let time = |at: Option<chrono::DateTime<chrono::Utc>>, none: &str| {
        at.map_or(none.to_string(), |at| {
            at.format("%Y-%m-%d %H:%M").to_string()
        })
    };
    let state = match t.revoked_at {
        Some(at) => format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
        None => "live".to_string(),
    };
    format!(
        "{}  {:<24} {:<22} created {}  expires {}  last used {}",
        t.id,
        t.name,
        state,
        t.created_at.format("%Y-%m-%d %H:%M"),
        time(t.expires_at, "never"),
        time(t.last_used_at, "never"),
    )
}

/// Runs a `l2c user token` command.
pub async fn token(command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Add {
            user,
            name,
            expires_in,
            db,
        } => {
            let app = db.open(false).await?;
            let now = wall_now();
            let expires_at = expires_in
                .map(|d| i64::try_from(d.as_millis()).map(|ms| now.saturating_add(ms)))
                .transpose()?;
            let token = NewToken { name, expires_at };
            let (made, secret) = tokens::add(&app.db, CLI, &user, &token, now).await?;
            println!("{}", shown(&made));
            println!("secret (shown once; l2c keeps only its hash): {secret}");
        }
        TokenCommand::List { user, db } => {
            let app = db.open(false).await?;
            for t in tokens::list(&app.db, &user).await? {
                println!("{}", shown(&t));
            }
        }
        TokenCommand::Revoke { user, id, db } => {
            let app = db.open(false).await?;
            println!("{}", shown(&app.revoke_token(CLI, &user, &id).await?));
        }
        TokenCommand::Rotate { user, id, db } => {
            let app = db.open(false).await?;
            let (made, secret) = app.rotate_token(CLI, &user, &id).await?;
            println!("{}", shown(&made));
            println!("secret (shown once; l2c keeps only its hash): {secret}");
        }
    }
    Ok(())
}

/// `l2c user list`.
pub async fn list(db: &DbArgs) -> Result<()> {
    let app = db.open(false).await?;
    for u in users::list(&app.db).await? {
        let state = if u.active { "active" } else { "deactivated" };
        println!(
            "{:<24} {:<10} {:<12} {}",
            u.name,
            u.role,
            state,
            u.groups.join(",")
        );
    }
    Ok(())
}

/// `l2c user deactivate NAME`.
pub async fn deactivate(db: &DbArgs, name: &str) -> Result<()> {
    let app = db.open(false).await?;
    let done = app.deactivate_user(CLI, name).await?;
    println!(
        "{name} deactivated: {} token(s) revoked, {} session(s) ended, {} claimed task(s) \
         back in their queues",
        done.tokens_revoked, done.sessions_ended, done.claims_released
    );
    Ok(())
}

/// `l2c user reactivate NAME`.
pub async fn reactivate(db: &DbArgs, name: &str) -> Result<()> {
    let app = db.open(false).await?;
    app.reactivate_user(CLI, name).await?;
    println!("{name} may sign in again (make them a token: l2c user token add {name} NAME)");
    Ok(())
}
