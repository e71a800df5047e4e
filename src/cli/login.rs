//! `shipdeck login URL` / `logout URL`: a person's token per server, kept in the user's config
//! folder (`$XDG_CONFIG_HOME/shipdeck/servers.toml`, else `~/.config/...`, mode 0600), like
//! kubeconfig contexts, so `--server URL` needs no `--token`.
//!
//! A token is kept only after the server said whose it is (`GET /v1/whoami`); logging in again
//! replaces that server's entry.

use super::{Reported, usage};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The server (e.g. https://deploy.example.com)
    url: String,
    /// Read the token from stdin without a prompt (for scripts)
    #[arg(long)]
    token_stdin: bool,
    /// Trust only the CA certificates of this PEM file for an https server
    #[arg(long, env = "SHIPDECK_CA_CERT", value_name = "FILE")]
    ca_cert: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// The server whose token to forget
    url: String,
}

/// The servers file: one entry per server.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Servers {
    #[serde(default)]
    server: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    url: String,
    token: String,
    person: Option<String>,
}

/// Where the servers file is: `$XDG_CONFIG_HOME/shipdeck/servers.toml`, else `~/.config/...`.
fn file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("shipdeck").join("servers.toml"))
}

/// A server URL as entries are keyed: without a trailing slash.
fn key(url: &str) -> &str {
    url.trim_end_matches('/')
}

fn load(path: &std::path::Path) -> anyhow::Result<Servers> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            toml::from_str(&text).map_err(|e| usage(format!("\"{}\" is not a servers file ({e})", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Servers::default()),
        Err(e) => Err(usage(format!("\"{}\" cannot be read ({e})", path.display()))),
    }
}

/// Writes `servers` to `path` with mode 0600 (through a file beside it, renamed over it).
fn save(path: &std::path::Path, servers: &Servers) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let next = path.with_extension("toml.new");
    let _ = std::fs::remove_file(&next);
    let mut out = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&next)?;
    out.write_all(toml::to_string(servers)?.as_bytes())?;
    out.sync_all()?;
    std::fs::set_permissions(&next, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&next, path)?;
    Ok(())
}

/// The token kept for `url` by `shipdeck login`, if any.
pub fn stored_token(url: &str) -> Option<String> {
    let servers = load(&file()?).ok()?;
    servers.server.into_iter().find(|e| key(&e.url) == key(url)).map(|e| e.token)
}

pub fn login(args: &LoginArgs) -> anyhow::Result<i32> {
    crate::client::check_url(&args.url).map_err(|e| usage(format!("login {e}")))?;
    let path = file().ok_or_else(|| usage("no config folder: set XDG_CONFIG_HOME or HOME"))?;
    let stdin = std::io::stdin();
    if !args.token_stdin && stdin.is_terminal() {
        eprint!("token for {}: ", args.url);
    }
    let mut token = String::new();
    stdin.lock().read_line(&mut token)?;
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(usage("no token was given on stdin"));
    }
    let client = crate::client::client(args.ca_cert.as_deref())?;
    let url = format!("{}/v1/whoami", key(&args.url));
    let answer = crate::runtime::build()?.block_on(async {
        let response = client.get(&url).bearer_auth(&token).send().await?;
        let status = response.status().as_u16();
        let json: serde_json::Value = serde_json::from_slice(&response.bytes().await?).unwrap_or_default();
        Ok::<_, reqwest::Error>((status, json))
    });
    let (status, json) = answer.map_err(|e| Reported(crate::client::describe(&args.url, &e)))?;
    if status != 200 {
        let why = json["error"].as_str().unwrap_or("(no answer)");
        return Err(Reported(format!("{} refused the token: {why}", args.url)).into());
    }
    let person = json["person"].as_str().map(str::to_owned);
    let mut servers = load(&path)?;
    servers.server.retain(|e| key(&e.url) != key(&args.url));
    servers.server.push(Entry { url: key(&args.url).to_owned(), token, person: person.clone() });
    save(&path, &servers)?;
    sayln!(
        "logged in to {} as {} (scope {}); the token is kept in {}",
        key(&args.url),
        person.as_deref().unwrap_or("(nobody)"),
        json["scope"].as_str().unwrap_or("?"),
        path.display()
    );
    Ok(0)
}

pub fn logout(args: &LogoutArgs) -> anyhow::Result<i32> {
    let path = file().ok_or_else(|| usage("no config folder: set XDG_CONFIG_HOME or HOME"))?;
    let mut servers = load(&path)?;
    let before = servers.server.len();
    servers.server.retain(|e| key(&e.url) != key(&args.url));
    if servers.server.len() == before {
        return Err(usage(format!("no token is kept for \"{}\"", args.url)));
    }
    save(&path, &servers)?;
    sayln!("logged out of {}", key(&args.url));
    Ok(0)
}
