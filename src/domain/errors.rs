//! Error groups: failed targets grouped by the *shape* of their error message.
//!
//! Thirty hosts that report "No space left on device (free 12 MB)" with different paths and
//! numbers are one problem, not thirty lines. [`shape`] turns a message into a pattern where the
//! parts that vary between hosts (numbers, sizes, durations, hex and UUID-like ids, IP addresses
//! and ports, quoted strings, file paths, URLs, host names, versions) are placeholders; the words
//! that say *what* went wrong stay literal, so "connection refused" and "connection reset" stay
//! apart. [`group`] folds failures into groups, largest first.

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};

/// How many sample hosts a group keeps.
pub const SAMPLE_HOSTS: usize = 5;

/// One failure to group: a target, the step that failed, when, and what it said.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub target: String,
    pub step: String,
    pub at: DateTime<Utc>,
    pub message: String,
}

/// Failures that share the shape of their message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorGroup {
    /// The message with its varying parts as placeholders (`<n>`, `<path>`, `<host>`, ...).
    pub pattern: String,
    /// How many failures (not distinct hosts) have this shape.
    pub count: usize,
    /// Distinct hosts among them.
    pub hosts: usize,
    /// The steps these failures happened in.
    pub steps: Vec<String>,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    /// Up to [`SAMPLE_HOSTS`] hosts, in the order they first failed.
    pub sample_hosts: Vec<String>,
    /// One real message of the group, the first seen, to read beside the pattern.
    pub example: String,
}

/// Groups failures by the shape of their message: largest group first, then the earliest.
#[must_use]
pub fn group<'a>(failures: impl IntoIterator<Item = &'a Failure>) -> Vec<ErrorGroup> {
    struct Acc {
        group: ErrorGroup,
        steps: BTreeSet<String>,
        hosts: BTreeSet<String>,
    }
    let mut by_shape: HashMap<String, Acc> = HashMap::new();
    let mut sorted: Vec<&Failure> = failures.into_iter().collect();
    sorted.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.target.cmp(&b.target)));
    for f in sorted {
        let pattern = shape(&f.message);
        let acc = by_shape.entry(pattern.clone()).or_insert_with(|| Acc {
            group: ErrorGroup {
                pattern,
                count: 0,
                hosts: 0,
                steps: Vec::new(),
                first_at: f.at,
                last_at: f.at,
                sample_hosts: Vec::new(),
                example: f.message.clone(),
            },
            steps: BTreeSet::new(),
            hosts: BTreeSet::new(),
        });
        acc.group.count += 1;
        acc.group.last_at = acc.group.last_at.max(f.at);
        acc.steps.insert(f.step.clone());
        if acc.hosts.insert(f.target.clone()) && acc.group.sample_hosts.len() < SAMPLE_HOSTS {
            acc.group.sample_hosts.push(f.target.clone());
        }
    }
    let mut groups: Vec<ErrorGroup> = by_shape
        .into_values()
        .map(|acc| ErrorGroup { steps: acc.steps.into_iter().collect(), hosts: acc.hosts.len(), ..acc.group })
        .collect();
    groups.sort_by(|a, b| {
        b.count.cmp(&a.count).then_with(|| a.first_at.cmp(&b.first_at)).then_with(|| a.pattern.cmp(&b.pattern))
    });
    groups
}

/// The shape of an error message: what varies between hosts becomes a placeholder.
///
/// Whitespace is collapsed; letters' case is kept (it is part of what the program said).
#[must_use]
pub fn shape(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message.trim();
    while !rest.is_empty() {
        let c = rest.chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            rest = rest.trim_start();
            push_space(&mut out);
            continue;
        }
        if let Some(len) = quoted_len(rest) {
            push_placeholder(&mut out, "<str>");
            rest = &rest[len..];
            continue;
        }
        // A run of non-space characters, without the punctuation that frames it.
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        let lead = word.len() - word.trim_start_matches(['(', '[', '{', '<']).len();
        let core_end = word.trim_end_matches(is_frame).len().max(lead);
        out.push_str(&word[..lead]);
        let core = &word[lead..core_end];
        match classify(core) {
            Some(placeholder) => push_placeholder(&mut out, placeholder),
            None => push_word(&mut out, core),
        }
        out.push_str(&word[core_end..]);
    }
    out.trim_end().to_owned()
}

/// Punctuation that frames a token: brackets, commas, a trailing colon or full stop.
fn is_frame(c: char) -> bool {
    matches!(c, '(' | ')' | '[' | ']' | '{' | '}' | '<' | '>' | ',' | ';' | ':' | '.' | '!' | '?' | '=')
}

fn push_space(out: &mut String) {
    if !out.is_empty() && !out.ends_with(' ') {
        out.push(' ');
    }
}

/// Pushes a placeholder; a run of the same one (`<n> <n>`) stays one.
fn push_placeholder(out: &mut String, placeholder: &str) {
    let trimmed = out.trim_end();
    if trimmed.ends_with(placeholder) && trimmed.len() + 1 == out.len() {
        out.truncate(trimmed.len());
        return;
    }
    out.push_str(placeholder);
}

/// A word that is not one token as a whole: digit runs inside it still vary (`exit code 137`,
/// `worker-3` but not `http2`, where the digit is part of the name).
fn push_word(out: &mut String, word: &str) {
    if word.chars().any(|c| c.is_ascii_digit()) && word.contains(['-', '_', '=', '/', ':', '#', '@']) {
        let mut digits = false;
        for ch in word.chars() {
            if ch.is_ascii_digit() {
                if !digits {
                    out.push_str("<n>");
                }
                digits = true;
            } else {
                digits = false;
                out.push(ch);
            }
        }
    } else {
        out.push_str(word);
    }
}

/// The length of a quoted string at the start of `s` ('...', "...", `...`), if it closes.
fn quoted_len(s: &str) -> Option<usize> {
    let quote = s.chars().next().filter(|c| matches!(c, '"' | '\'' | '`'))?;
    // An apostrophe inside a word ("can't") is not a quote: only a quote that closes counts,
    // and a single quote must close before the end of the line.
    let close = s[1..].find(quote)?;
    let inner = &s[1..=close];
    (quote != '\'' || !inner.is_empty()).then_some(close + 2)
}

/// The placeholder for a whole token, if it is a value that varies.
fn classify(token: &str) -> Option<&'static str> {
    if token.is_empty() {
        return None;
    }
    if token.contains("://") {
        return Some("<url>");
    }
    if is_uuid(token) {
        return Some("<id>");
    }
    if is_ip_addr(token) {
        return Some("<addr>");
    }
    if is_path(token) {
        return Some("<path>");
    }
    if is_number(token) {
        return Some("<n>");
    }
    if is_duration_or_size(token) {
        return Some("<n>");
    }
    if is_version(token) {
        // Versions vary like any other number: `libssl 1.1.1` and `libssl 3.0` are one shape.
        return Some("<n>");
    }
    if is_hex(token) {
        return Some("<hex>");
    }
    if is_host(token) {
        return Some("<host>");
    }
    None
}

fn is_uuid(t: &str) -> bool {
    let parts: Vec<&str> = t.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// IPv4 or IPv6, with an optional port (`10.0.0.5:5432`, `[::1]:8080`, `fe80::1`).
fn is_ip_addr(t: &str) -> bool {
    let bare = t.trim_start_matches('[');
    let (host, port) = match bare.split_once("]:") {
        Some((h, p)) => (h, Some(p)),
        None => match bare.rsplit_once(':') {
            Some((h, p)) if h.parse::<std::net::Ipv4Addr>().is_ok() => (h, Some(p)),
            _ => (bare.trim_end_matches(']'), None),
        },
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok());
    port_ok && host.parse::<std::net::IpAddr>().is_ok()
}

/// A file path: absolute, home- or dot-relative, a Windows drive, or two or more segments.
fn is_path(t: &str) -> bool {
    if t.starts_with('/') || t.starts_with("~/") || t.starts_with("./") || t.starts_with("../") {
        return t.len() > 1;
    }
    let b = t.as_bytes();
    if b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/') {
        return true;
    }
    // Relative: `releases/2.4.1/app.jar`, `lib/app.so`; not `HTTP/2` or `and/or`.
    let segments: Vec<&str> = t.split('/').collect();
    segments.len() >= 2
        && segments.iter().all(|seg| !seg.is_empty())
        && (segments.len() >= 3 || segments.last().is_some_and(|seg| seg.contains('.')))
}

/// A plain number: integers, decimals, signs, thousands separators, percentages.
fn is_number(t: &str) -> bool {
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    let t = t.strip_suffix('%').unwrap_or(t);
    !t.is_empty()
        && t.starts_with(|c: char| c.is_ascii_digit())
        && t.chars().all(|c| c.is_ascii_digit() || c == '.' || c == ',' || c == '_')
        && t.matches('.').count() <= 1
}

/// A number with a unit: `12ms`, `3.5s`, `2m30s`, `512MB`, `64KiB`, `1h`.
fn is_duration_or_size(t: &str) -> bool {
    const UNITS: [&str; 20] = [
        "ns", "us", "µs", "ms", "s", "m", "h", "d", "b", "kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "k",
        "min", "sec",
    ];
    if !t.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    // Split into (number, unit) pairs: 2m30s is two of them.
    let mut rest = t;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_end == 0 {
            return false;
        }
        let after = &rest[num_end..];
        let unit_end = after.find(|c: char| c.is_ascii_digit()).unwrap_or(after.len());
        let unit = after[..unit_end].to_ascii_lowercase();
        if !UNITS.contains(&unit.as_str()) {
            return false;
        }
        rest = &after[unit_end..];
    }
    true
}

/// A version: `2.4.1`, `v1.2`, `1.2.3-rc.1`.
fn is_version(t: &str) -> bool {
    let t = t.strip_prefix(['v', 'V']).unwrap_or(t);
    let core = t.split(['-', '+']).next().unwrap_or(t);
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() >= 2 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Hex: `0x7f3a`, or a run of six or more hex digits with at least one digit (commit ids,
/// addresses, request ids) — but not an English word made of a-f letters.
fn is_hex(t: &str) -> bool {
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit());
    }
    t.len() >= 6 && t.chars().all(|c| c.is_ascii_hexdigit()) && t.chars().any(|c| c.is_ascii_digit())
}

/// A host name: a dotted name with a letter in its last label (`db-01.prod.internal`,
/// `api.example.com`), or a hyphenated name that ends in a number (`pay-prd-007`).
fn is_host(t: &str) -> bool {
    let valid = |label: &str| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let labels: Vec<&str> = t.split('.').collect();
    if labels.len() >= 2 && labels.iter().all(|l| valid(l)) {
        let tld = labels.last().copied().unwrap_or_default();
        // `config.toml` and `app.log` are files, not hosts.
        const FILE_EXTS: [&str; 12] =
            ["toml", "yaml", "yml", "json", "log", "txt", "conf", "cfg", "py", "rs", "sh", "service"];
        return tld.len() >= 2
            && tld.chars().all(|c| c.is_ascii_alphabetic())
            && !FILE_EXTS.contains(&tld.to_ascii_lowercase().as_str())
            && (labels.len() >= 3 || labels[0].chars().any(|c| c.is_ascii_digit()) || labels[0].contains('-'));
    }
    let parts: Vec<&str> = t.split('-').collect();
    parts.len() >= 2
        && valid(t)
        && parts.last().is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && parts[0].chars().any(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn same(a: &str, b: &str) {
        assert_eq!(shape(a), shape(b), "should group:\n  {a}\n  {b}");
    }

    fn apart(a: &str, b: &str) {
        assert_ne!(shape(a), shape(b), "should not group:\n  {a}\n  {b}");
    }

    #[test]
    fn disk_full_on_many_hosts_is_one_shape() {
        same(
            "No space left on device (free 12 MB) writing /var/lib/app/releases/2.4.1/app.jar",
            "No space left on device (free 3 MB) writing /srv/payments/cache/blob-77.bin",
        );
        assert_eq!(
            shape("No space left on device (free 12 MB) writing /var/lib/app/x.jar"),
            "No space left on device (free <n> MB) writing <path>"
        );
    }

    #[test]
    fn addresses_ports_and_hosts_vary() {
        same(
            "connection refused: postgres at 10.0.4.17:5432 after 3 attempts",
            "connection refused: postgres at 10.0.9.2:6432 after 5 attempts",
        );
        same("connect to [::1]:8080 failed", "connect to [fe80::2]:9090 failed");
        same("health check of pay-prd-007 timed out", "health check of pay-prd-112 timed out");
        same("could not resolve db-01.prod.internal", "could not resolve db-17.prod.internal");
    }

    #[test]
    fn durations_sizes_ids_and_quotes_vary() {
        same("health check timed out after 30s", "health check timed out after 2m30s");
        same("GET /healthz took 1503ms", "GET /ready took 97ms");
        same(
            "request 3f2b8c1a-0d4e-4b7a-9c2d-1e5f6a7b8c9d failed",
            "request 00000000-1111-2222-3333-444444444444 failed",
        );
        same(
            "checksum mismatch: got 9f86d081884c, want e3b0c44298fc",
            "checksum mismatch: got 0a1b2c3d4e5f, want 77aa88bb99cc",
        );
        same("permission denied: 'deploy' cannot write", "permission denied: \"svc-web\" cannot write");
        same(
            "dependency conflict: libssl 1.1.1 required, 3.0.2 found",
            "dependency conflict: libssl 1.0 required, 3.2 found",
        );
        same("fetch https://repo.example.com/a.tgz failed", "fetch http://mirror/b/c.tgz failed");
        same("worker-3 exited with code 137", "worker-12 exited with code 1");
    }

    #[test]
    fn different_problems_stay_apart() {
        apart("connection refused to 10.0.0.1:5432", "connection reset by 10.0.0.1:5432");
        apart("No space left on device", "Permission denied");
        apart("health check timed out after 30s", "health check failed: HTTP 503");
        apart("install: exit code 1", "verify: exit code 1");
        apart("HTTP 503 from upstream", "HTTP/2 stream reset");
        // Words made of hex letters are words, not ids.
        apart("cafe closed", "added feed");
        // An apostrophe is not a quote.
        assert_eq!(shape("can't open the file"), "can't open the file");
    }

    #[test]
    fn files_are_not_hosts_and_words_are_kept() {
        assert_eq!(shape("bad key in config.toml"), "bad key in config.toml");
        assert_eq!(shape("upgrade to http2 failed"), "upgrade to http2 failed");
        assert_eq!(shape("  spaces   collapse\there "), "spaces collapse here");
        assert_eq!(shape(""), "");
    }

    #[test]
    fn groups_count_hosts_steps_and_times_largest_first() {
        let t = |m| Utc.with_ymd_and_hms(2026, 3, 1, 10, m, 0).single().expect("valid");
        let f = |target: &str, step: &str, m, message: &str| Failure {
            target: target.into(),
            step: step.into(),
            at: t(m),
            message: message.into(),
        };
        let failures = vec![
            f("web-03", "verify", 5, "health check timed out after 30s"),
            f("web-01", "install", 1, "No space left on device (free 12 MB)"),
            f("web-02", "install", 2, "No space left on device (free 9 MB)"),
            f("web-01", "install", 3, "No space left on device (free 1 MB)"),
            f("web-04", "download", 4, "No space left on device (free 0 MB)"),
        ];
        let groups = group(&failures);
        assert_eq!(groups.len(), 2);
        let disk = &groups[0];
        assert_eq!(disk.pattern, "No space left on device (free <n> MB)");
        assert_eq!((disk.count, disk.hosts), (4, 3));
        assert_eq!(disk.steps, ["download", "install"]);
        assert_eq!((disk.first_at, disk.last_at), (t(1), t(4)));
        assert_eq!(disk.sample_hosts, ["web-01", "web-02", "web-04"]);
        assert_eq!(disk.example, "No space left on device (free 12 MB)");
        assert_eq!(groups[1].count, 1);
        assert!(group(&[]).is_empty());
    }

    #[test]
    fn samples_are_capped() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).single().expect("valid");
        let failures: Vec<Failure> = (0..40)
            .map(|i| Failure {
                target: format!("h-{i:03}"),
                step: "install".into(),
                at,
                message: format!("disk full on /data/{i}/x"),
            })
            .collect();
        let groups = group(&failures);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].hosts, 40);
        assert_eq!(groups[0].sample_hosts.len(), SAMPLE_HOSTS);
    }
}
