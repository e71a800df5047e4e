//! `shipdeck token issue | list | revoke`: per-person API tokens for the server.
//!
//! A token is the identity of whoever presents it to `shipdeck serve`: its person is the
//! operator, with the roles the log's team gives them, so nothing is claimed by name. Issuing
//! and revoking need an admin role of the stored team and, on the file, the OS account that owns
//! the log (anyone else must not be able to write it). The secret is printed once; the log
//! keeps its SHA-256. Exit 0 done, 1 refused (audited), 2 usage.

use super::remote::{Remote, call, failed};
use super::{Context, Reported, usage};
use crate::domain::token::{Scope, TokenInfo};
use crate::store::{Store, TokenError, TokenRequest};
use std::io::Write;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Issue a token for PERSON (printed once; the log keeps only its hash)
    Issue {
        /// The person it identifies (with --scope events: the agent's name)
        person: String,
        /// What it is for ("laptop", "ci")
        #[arg(long)]
        name: Option<String>,
        /// How long it is valid ("90d", "12h"), or "never"
        #[arg(long, default_value = "90d")]
        expires: String,
        /// What it may do: events (an agent's), read, decide or admin
        #[arg(long, value_enum, default_value = "decide")]
        scope: Scope,
        #[command(flatten)]
        remote: Remote,
    },
    /// List the tokens the log knows (never their secrets)
    List {
        /// One JSON object per line
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        remote: Remote,
    },
    /// Revoke a token by its id (see `token list`)
    Revoke {
        /// The token's id (tk_...)
        id: String,
        #[command(flatten)]
        remote: Remote,
    },
}

impl Command {
    /// Whether the command writes to the log.
    #[must_use]
    pub fn writes(&self) -> bool {
        !matches!(self, Self::List { .. })
    }
}

pub fn run(ctx: &Context, cmd: &Command) -> anyhow::Result<i32> {
    match cmd {
        Command::Issue { person, name, expires, scope, remote: remote @ Remote { server: Some(server), .. } } => {
            let body = serde_json::json!({ "person": person, "name": name, "scope": scope, "expires": expires });
            let (status, json) = call(remote, server, reqwest::Method::POST, "/v1/tokens", Some(&body))?;
            if status != 200 {
                return Err(failed(server, status, &json));
            }
            let token: TokenInfo = serde_json::from_value(json.clone())?;
            issued(ctx, &token, json["secret"].as_str().unwrap_or_default());
            Ok(0)
        }
        Command::Issue { person, name, expires, scope, .. } => issue(ctx, person, name.as_deref(), expires, *scope),
        Command::List { json, remote: remote @ Remote { server: Some(server), .. } } => {
            let (status, answer) = call(remote, server, reqwest::Method::GET, "/v1/tokens", None)?;
            if status != 200 {
                return Err(failed(server, status, &answer));
            }
            show(ctx, &serde_json::from_value::<Vec<TokenInfo>>(answer)?, *json)
        }
        Command::List { json, .. } => list(ctx, *json),
        Command::Revoke { id, remote: remote @ Remote { server: Some(server), .. } } => {
            let path = format!("/v1/tokens/{}/revoke", super::remote::percent(id));
            let (status, json) = call(remote, server, reqwest::Method::POST, &path, None)?;
            if status != 200 {
                return Err(failed(server, status, &json));
            }
            let t: TokenInfo = serde_json::from_value(json)?;
            sayln!("revoked token {} of {}", t.id, t.person);
            Ok(0)
        }
        Command::Revoke { id, .. } => revoke(ctx, id),
    }
}

/// On the file, only the OS account that owns the log may manage tokens.
fn owner_only(db: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(db)?.uid();
    let me = crate::decide::real_uid();
    if me != Some(owner) {
        return Err(Reported(format!(
            "tokens are managed on the log's file only by the account that owns it (uid {owner}); you are {}: ask its owner, or an admin through the server",
            crate::decide::os_user()
        ))
        .into());
    }
    Ok(())
}

fn refused(e: TokenError) -> anyhow::Error {
    match e {
        TokenError::Store(e) => e.into(),
        TokenError::UnknownPerson(_) | TokenError::UnknownToken(_) | TokenError::NoTeam => usage(e),
        refused => Reported(refused.to_string()).into(),
    }
}

fn issue(ctx: &Context, person: &str, name: Option<&str>, expires: &str, scope: Scope) -> anyhow::Result<i32> {
    let db = ctx.db_path()?;
    let mut store = Store::open_existing(&db)?;
    owner_only(&db)?;
    let now = ctx.clock.now();
    let expires = match expires {
        "never" => None,
        text => {
            let d = crate::domain::duration::parse(text)
                .map_err(|e| usage(format!("--expires \"{text}\": {e} (e.g. 90d, 12h, or never)")))?;
            Some(now + d)
        }
    };
    let operator = ctx.operator_in(&store)?;
    let req = TokenRequest { person, name, scope, expires, by: &operator.name, os_user: &operator.os_user, now };
    let (token, secret) = store.issue_token(&req).map_err(refused)?;
    issued(ctx, &token, &secret);
    Ok(0)
}

/// Says what was issued (stderr) and prints the secret alone on stdout, for scripts.
fn issued(ctx: &Context, token: &TokenInfo, secret: &str) {
    let until = token
        .expires_at
        .map_or("never expires".to_owned(), |t| format!("expires {}", crate::domain::time::at(t, ctx.config.timezone)));
    esayln!("issued token {} for {} (scope {}, {until}); it is shown once:", token.id, token.person, token.scope);
    sayln!("{secret}");
}

fn list(ctx: &Context, json: bool) -> anyhow::Result<i32> {
    let store = ctx.open_log()?;
    show(ctx, &store.tokens()?, json)
}

fn show(ctx: &Context, tokens: &[TokenInfo], json: bool) -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    if json {
        for t in tokens {
            serde_json::to_writer(&mut out, t)?;
            writeln!(out)?;
        }
        return Ok(0);
    }
    if tokens.is_empty() {
        outln!(out, "no tokens: issue one with `shipdeck token issue PERSON`")?;
    }
    let now = ctx.clock.now();
    let zone = ctx.config.timezone;
    for t in tokens {
        let state = match crate::domain::token::check(t, now) {
            Ok(()) => t.expires_at.map_or("valid, never expires".to_owned(), |e| {
                format!("valid until {}", crate::domain::time::until(e, zone))
            }),
            Err(crate::domain::token::TokenRefusal::Revoked { .. }) => "revoked".to_owned(),
            Err(_) => {
                t.expires_at.map_or("expired".to_owned(), |e| format!("expired {}", crate::domain::time::at(e, zone)))
            }
        };
        let name = t.name.as_deref().map_or(String::new(), |n| format!(" \"{n}\""));
        outln!(out, "{}  {:<12} {:<7} {state}{name}, issued by {}", t.id, t.person, t.scope, t.issued_by)?;
    }
    Ok(0)
}

fn revoke(ctx: &Context, id: &str) -> anyhow::Result<i32> {
    let db = ctx.db_path()?;
    let mut store = Store::open_existing(&db)?;
    owner_only(&db)?;
    let operator = ctx.operator_in(&store)?;
    let t = store.revoke_token(id, &operator.name, &operator.os_user, ctx.clock.now()).map_err(refused)?;
    sayln!("revoked token {} of {}", t.id, t.person);
    Ok(0)
}
