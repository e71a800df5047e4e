//! The release record: what exactly is deployed and what vouches for it.
//!
//! ITIL's deployment verification starts before execution: the service components (each
//! `name@version` with the checksum of what was built), the release notes, the change that
//! authorises it and the evidence that it was tested. The record is written once, at plan time,
//! from a release file (`plan --release-file`) and/or flags, and is shown by `status`, the
//! dashboard and the report. Nothing here reads files: the CLI hands the text in.

use super::ReleaseRef;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A checksum as `algorithm:hex`, the hex lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Checksum(String);

/// Algorithms a checksum may name, and the length of their hex digest.
const ALGORITHMS: [(&str, usize); 3] = [("sha256", 64), ("sha384", 96), ("sha512", 128)];

/// A string that is not `algorithm:hex`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("checksum \"{0}\" is not sha256:<64 hex digits> (sha384:<96> and sha512:<128> are accepted too)")]
pub struct BadChecksum(pub String);

impl Checksum {
    /// Parses `sha256:<64 hex>` (or sha384 / sha512 with their lengths).
    pub fn parse(text: &str) -> Result<Self, BadChecksum> {
        let bad = || BadChecksum(text.to_owned());
        let (algo, hex) = text.trim().split_once(':').ok_or_else(bad)?;
        let algo = algo.to_ascii_lowercase();
        let len = ALGORITHMS.iter().find(|(a, _)| *a == algo).map(|(_, n)| *n).ok_or_else(bad)?;
        if hex.len() != len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        Ok(Self(format!("{algo}:{}", hex.to_ascii_lowercase())))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Checksum {
    type Error = BadChecksum;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Checksum> for String {
    fn from(c: Checksum) -> Self {
        c.0
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One service component of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    pub name: String,
    pub version: String,
    pub checksum: Checksum,
}

impl Component {
    /// Parses the flag form `NAME@VERSION=ALGO:HEX`.
    pub fn parse_flag(text: &str) -> Result<Self, String> {
        let (release, checksum) = text.split_once('=').ok_or_else(|| {
            format!("component \"{text}\" is not NAME@VERSION=sha256:<64 hex> (e.g. payments-api@2.4.1=sha256:9f86...)")
        })?;
        Self::new(release, checksum)
    }

    fn new(release: &str, checksum: &str) -> Result<Self, String> {
        let r: ReleaseRef = release.parse().map_err(|e: super::BadRelease| format!("component {e}"))?;
        let checksum = Checksum::parse(checksum).map_err(|e| format!("component {release}: {e}"))?;
        Ok(Self { name: r.name, version: r.version, checksum })
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{} {}", self.name, self.version, self.checksum)
    }
}

/// The release record of one deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReleaseRecord {
    pub components: Vec<Component>,
    /// Release notes, as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// Where the release notes are published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes_url: Option<String>,
    /// The change reference (RFC) that authorises the deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_ref: Option<String>,
    /// Links to test evidence (reports, pipeline runs).
    pub evidence: Vec<String>,
}

/// The release file (`plan --release-file release.toml`) as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    /// The release as NAME@VERSION; optional, `--release` names it otherwise.
    release: Option<String>,
    change: Option<String>,
    notes: Option<String>,
    notes_url: Option<String>,
    #[serde(default)]
    evidence: Vec<String>,
    #[serde(default)]
    components: Vec<RawComponent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    /// NAME@VERSION
    component: String,
    checksum: String,
}

/// A release file read: the release it names (if any) and its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFile {
    pub release: Option<ReleaseRef>,
    pub record: ReleaseRecord,
}

/// A link must be an absolute http(s) URL, so that it can be followed from a report.
fn link(what: &str, text: &str) -> Result<String, String> {
    let t = text.trim();
    let rest = t.strip_prefix("https://").or_else(|| t.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !t.chars().any(char::is_whitespace) => Ok(t.to_owned()),
        _ => Err(format!("{what} \"{text}\" is not an http:// or https:// link")),
    }
}

impl ReleaseFile {
    /// Parses a release file; errors name the file and what is wrong.
    pub fn parse(text: &str, file: &str) -> Result<Self, String> {
        let raw: RawFile = toml::from_str(text).map_err(|e| format!("{file}: {}", e.message()))?;
        let within = |e: String| format!("{file}: {e}");
        let release =
            raw.release.as_deref().map(str::parse::<ReleaseRef>).transpose().map_err(|e| within(e.to_string()))?;
        let mut record = ReleaseRecord {
            components: Vec::new(),
            notes: raw.notes.filter(|n| !n.trim().is_empty()),
            notes_url: None,
            change_ref: raw.change.filter(|c| !c.trim().is_empty()),
            evidence: Vec::new(),
        };
        record.set_notes_url(raw.notes_url.as_deref()).map_err(within)?;
        for e in &raw.evidence {
            record.add_evidence(e).map_err(within)?;
        }
        for c in &raw.components {
            record.add_component(Component::new(&c.component, &c.checksum).map_err(within)?).map_err(within)?;
        }
        Ok(Self { release, record })
    }
}

impl ReleaseRecord {
    /// Adds a component; the same name twice is an error.
    pub fn add_component(&mut self, c: Component) -> Result<(), String> {
        if self.components.iter().any(|o| o.name == c.name) {
            return Err(format!("component \"{}\" is listed twice", c.name));
        }
        self.components.push(c);
        Ok(())
    }

    /// Adds a test evidence link.
    pub fn add_evidence(&mut self, url: &str) -> Result<(), String> {
        let url = link("evidence link", url)?;
        if !self.evidence.contains(&url) {
            self.evidence.push(url);
        }
        Ok(())
    }

    /// Sets where the release notes are published.
    pub fn set_notes_url(&mut self, url: Option<&str>) -> Result<(), String> {
        if let Some(u) = url {
            self.notes_url = Some(link("release notes link", u)?);
        }
        Ok(())
    }

    /// Whether nothing was recorded beyond the change reference.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.components.is_empty() && self.notes.is_none() && self.notes_url.is_none() && self.evidence.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn checksums_need_a_known_algorithm_and_the_right_number_of_hex_digits() {
        let c = Checksum::parse(&format!("SHA256:{}", HEX.to_uppercase())).expect("valid");
        assert_eq!(c.as_str(), format!("sha256:{HEX}"));
        for bad in [
            HEX.to_owned(),
            format!("md5:{HEX}"),
            format!("sha256:{}", &HEX[1..]),
            format!("sha256:{}g", &HEX[1..]),
            "sha256:".to_owned(),
        ] {
            let err = Checksum::parse(&bad).expect_err(&bad);
            assert!(err.to_string().contains(&format!("\"{bad}\"")), "{err}");
        }
    }

    #[test]
    fn a_release_file_holds_components_notes_and_evidence() {
        let text = format!(
            r#"
            release = "payments@2.4.1"
            change = "RFC-7"
            notes = "Faster refunds."
            notes_url = "https://wiki.example.com/payments/2.4.1"
            evidence = ["https://ci.example.com/runs/88"]
            [[components]]
            component = "payments-api@2.4.1"
            checksum = "sha256:{HEX}"
            "#
        );
        let f = ReleaseFile::parse(&text, "release.toml").expect("valid");
        assert_eq!(f.release.map(|r| r.to_string()).as_deref(), Some("payments@2.4.1"));
        assert_eq!(f.record.components.len(), 1);
        assert_eq!(f.record.components[0].to_string(), format!("payments-api@2.4.1 sha256:{HEX}"));
        assert_eq!(f.record.change_ref.as_deref(), Some("RFC-7"));
        assert_eq!(f.record.evidence, ["https://ci.example.com/runs/88"]);
    }

    #[test]
    fn a_bad_component_names_the_file_and_the_value() {
        let text = "[[components]]\ncomponent = \"api@1\"\nchecksum = \"sha256:abc\"\n";
        let err = ReleaseFile::parse(text, "r.toml").expect_err("bad checksum");
        assert!(err.starts_with("r.toml: ") && err.contains("\"sha256:abc\""), "{err}");
        let err = ReleaseFile::parse("evidence = [\"ci run 88\"]", "r.toml").expect_err("not a link");
        assert!(err.contains("\"ci run 88\""), "{err}");
        let err = Component::parse_flag("api@1").expect_err("no checksum");
        assert!(err.contains("\"api@1\""), "{err}");
        let mut r = ReleaseRecord::default();
        r.add_component(Component::parse_flag(&format!("api@1=sha256:{HEX}")).expect("valid")).expect("first");
        let twice = r.add_component(Component::parse_flag(&format!("api@2=sha256:{HEX}")).expect("valid"));
        assert!(twice.expect_err("twice").contains("\"api\""));
    }
}
