//! `shipdeck audit verify | head | list | key`: the hash-chained, signed trail of every decision.

use super::{Context, Reported, usage};
use crate::domain::DeploymentKey;
use crate::domain::audit::ExpectedHead;
use crate::domain::signing::{PublicKey, SigningKey};
use crate::store::Store;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check the chain: exit 0 when intact, 1 naming the first record changed, removed or inserted
    Verify {
        /// A head printed earlier by `audit head` (and kept elsewhere): the trail must still
        /// contain that record, so a rewritten chain is detected too; it must be a record's
        /// hash (the genesis hash of 64 zeros, which every trail starts from, is refused)
        #[arg(long, value_name = "HASH")]
        expect: Option<String>,
        /// The server's public key (as `audit key` prints it, or a file holding it): every
        /// record from the first signed one on must carry its valid signature
        #[arg(long, value_name = "PUBLIC")]
        key: Option<String>,
    },
    /// Print the public key of a signing key file (for `audit verify --key`), or make one
    Key {
        /// The signing key file (PKCS#8), as `serve --signing-key` reads it [default:
        /// receiver.signing_key from config]
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        /// Write a new key to FILE (readable by its owner only; an existing file is refused)
        #[arg(long)]
        generate: bool,
    },
    /// Print the chain's record count and newest hash, to keep elsewhere
    Head {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// List decisions, oldest first
    List {
        /// Only this deployment's decisions
        #[arg(long, value_name = "KEY")]
        deployment: Option<String>,
        /// Print JSON, one record per line
        #[arg(long)]
        json: bool,
    },
}

pub fn run(ctx: &Context, cmd: &Command) -> anyhow::Result<i32> {
    // A bad --expect is the user's input: refused before the log is read.
    let (expect, key) = match cmd {
        Command::Verify { expect, key } => (
            expect.as_deref().map(str::parse::<ExpectedHead>).transpose().map_err(usage)?,
            key.as_deref().map(public_key).transpose()?,
        ),
        Command::Key { file, generate } => {
            let Some(file) = file.as_ref().or(ctx.config.receiver.signing_key.as_ref()) else {
                return Err(usage("which signing key? pass FILE, or set receiver.signing_key in the config"));
            };
            return key_command(file, *generate);
        }
        _ => (None, None),
    };
    let store = ctx.open_log()?;
    match cmd {
        Command::Key { .. } => Ok(0),
        Command::Verify { .. } => verify(&store, expect.as_ref(), key.as_ref()),
        Command::Head { json } => {
            let (count, hash) = store.audit_head()?;
            if *json {
                outln!(std::io::stdout().lock(), "{}", serde_json::json!({ "count": count, "hash": hash }))?;
            } else {
                outln!(std::io::stdout().lock(), "{count} {hash}")?;
            }
            Ok(0)
        }
        Command::List { deployment, json } => {
            let key = match deployment {
                Some(k) => Some(k.parse::<DeploymentKey>().map_err(|e| usage(e.to_string()))?),
                None => None,
            };
            let records = store.audit_records(key)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let tz = ctx.config.timezone;
            for r in &records {
                if *json {
                    serde_json::to_writer(&mut out, r)?;
                    writeln!(out)?;
                    continue;
                }
                let role = r.role.as_deref().map_or(String::new(), |x| format!(" as {x}"));
                let os = r
                    .os_user
                    .as_deref()
                    .filter(|u| *u != r.person)
                    .map_or(String::new(), |u| format!(" (OS account {u})"));
                let text = r.note(tz);
                let key = if r.deployment.0 == 0 { "-".to_owned() } else { r.deployment.to_string() };
                let decision = r.label();
                outln!(
                    out,
                    "{:>4}  {}  {key} {:<10} {:<8} {}{role}{os}  {}  {}",
                    r.id,
                    r.decided_at.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z"),
                    r.phase,
                    decision,
                    r.person,
                    text,
                    &r.hash[..12.min(r.hash.len())]
                )?;
            }
            out.flush()?;
            Ok(0)
        }
    }
}

/// `audit key FILE` prints its public key; `--generate` writes a new key there first.
fn key_command(file: &Path, generate: bool) -> anyhow::Result<i32> {
    if generate {
        let der = SigningKey::generate()?;
        write_new_key(file, &der)
            .map_err(|e| usage(format!("cannot write the signing key {}: {e}", file.display())))?;
    }
    outln!(std::io::stdout().lock(), "{}", read_signing_key(file)?.public())?;
    Ok(0)
}

/// Creates `file` readable and writable by its owner only, refusing one that exists.
fn write_new_key(file: &Path, der: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(file)?;
    out.write_all(der)?;
    out.sync_all()
}

/// The signing key in `file`; one that cannot be read or is no key is a usage error (exit 2)
/// naming it, so a server never starts without the key it was given.
pub(super) fn read_signing_key(file: &Path) -> anyhow::Result<SigningKey> {
    let der = std::fs::read(file).map_err(|e| usage(format!("cannot read the signing key {}: {e}", file.display())))?;
    SigningKey::from_pkcs8(&der).map_err(|e| usage(format!("the signing key {} {e}", file.display())))
}

/// `--key PUBLIC`: the key itself, or a file holding it.
fn public_key(given: &str) -> anyhow::Result<PublicKey> {
    if let Ok(key) = given.parse() {
        return Ok(key);
    }
    let path = Path::new(given);
    if !path.is_file() {
        return Err(usage(format!(
            "--key \"{given}\" is neither a public key (64 hex digits, as `shipdeck audit key FILE` prints) nor a file holding one"
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read the public key file {}: {e}", path.display())))?;
    text.parse().map_err(|_| {
        usage(format!(
            "the file {} holds no public key (64 hex digits, as `shipdeck audit key FILE` prints)",
            path.display()
        ))
    })
}

/// `audit verify`: the chain is intact, signed by `key` when one is given, and holds the
/// expected head when one is given.
fn verify(store: &Store, expect: Option<&ExpectedHead>, key: Option<&PublicKey>) -> anyhow::Result<i32> {
    let (n, signed) = match store.audit_verify_signed(key)? {
        Ok(v) => (v.count, key.map(|_| signed_note(v.count, v.unsigned_before))),
        Err(problem) => return Err(Reported(problem.to_string()).into()),
    };
    let signed = signed.unwrap_or_default();
    let Some(hash) = expect.map(ExpectedHead::as_str) else {
        sayln!("audit trail intact: {n} record(s){signed}");
        return Ok(0);
    };
    let Some(id) = store.audit_find(hash)? else {
        return Err(Reported(format!(
            "the audit trail ({n} record(s)) does not contain the expected head {hash}: the chain was rewritten or cut back"
        ))
        .into());
    };
    sayln!("audit trail intact: {n} record(s){signed}; it contains the expected head {hash} (record {id})");
    Ok(0)
}

/// What `--key` proved: the signed records, and those that predate signing.
fn signed_note(count: i64, unsigned_before: i64) -> String {
    match unsigned_before {
        0 => "; every record is signed by the server's key".to_owned(),
        1 => format!("; records 2-{count} are signed by the server's key, record 1 predates signing"),
        n => format!("; records {}-{count} are signed by the server's key, records 1-{n} predate signing", n + 1),
    }
}
