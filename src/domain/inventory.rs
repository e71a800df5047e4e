//! Inventory: the targets of a deployment with their labels (site, rack, group, tier, ...).
//!
//! Phases select targets by label (`select = "site=berlin"`) and spread themselves across a
//! label (`spread = "rack"`), so an inventory is more than a list of names. It is read from a
//! plain file (one host per line, `#` comments), a CSV file with a `name` column and one column
//! per label, or a TOML file of `[[targets]]` tables; all three give the same [`Inventory`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

/// A target's labels, by key.
pub type Labels = BTreeMap<String, String>;

/// One target: a host (or site, or configuration item) and its labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub labels: Labels,
}

/// The targets of a deployment, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub targets: Vec<Target>,
}

impl From<Vec<String>> for Inventory {
    fn from(names: Vec<String>) -> Self {
        Self { targets: names.into_iter().map(|name| Target { name, labels: Labels::new() }).collect() }
    }
}

impl FromIterator<String> for Inventory {
    fn from_iter<I: IntoIterator<Item = String>>(names: I) -> Self {
        names.into_iter().collect::<Vec<_>>().into()
    }
}

/// How an inventory file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One host per line, `#` starts a comment.
    Plain,
    /// A header row with a `name` column; every other column is a label (an empty cell: none).
    Csv,
    /// `[[targets]]` tables with `name` and label keys.
    Toml,
}

impl Format {
    /// The format a file name implies: `.csv`, `.toml`, else plain.
    #[must_use]
    pub fn of_path(path: &str) -> Self {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".csv") {
            Self::Csv
        } else if lower.ends_with(".toml") {
            Self::Toml
        } else {
            Self::Plain
        }
    }
}

/// An inventory that cannot be read, naming the file and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("inventory {source_name}: {problem}")]
pub struct InventoryError {
    pub source_name: String,
    pub problem: String,
}

impl Inventory {
    /// Parses `text` written in `format`; `source_name` names it in errors.
    pub fn parse(text: &str, format: Format, source_name: &str) -> Result<Self, InventoryError> {
        let err = |problem: String| InventoryError { source_name: source_name.to_owned(), problem };
        match format {
            Format::Plain => Ok(text
                .lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
                .into()),
            Format::Csv => parse_csv(text).map_err(err),
            Format::Toml => parse_toml(text).map_err(err),
        }
    }

    /// The target names, in order.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        self.targets.iter().map(|t| t.name.clone()).collect()
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Every label key any target carries.
    #[must_use]
    pub fn label_keys(&self) -> BTreeSet<&str> {
        self.targets.iter().flat_map(|t| t.labels.keys().map(String::as_str)).collect()
    }
}

fn parse_csv(text: &str) -> Result<Inventory, String> {
    let mut reader = csv::ReaderBuilder::new().comment(Some(b'#')).trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| format!("the header row does not parse ({e})"))?.clone();
    let Some(name_col) = headers.iter().position(|h| h == "name") else {
        return Err(format!(
            "the header row has no \"name\" column (found: {})",
            headers.iter().collect::<Vec<_>>().join(", ")
        ));
    };
    let mut targets = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|e| match e.position() {
            Some(p) => format!("line {}: {e}", p.line()),
            None => e.to_string(),
        })?;
        let line = row.position().map_or(0, csv::Position::line);
        let name = row.get(name_col).unwrap_or("").to_owned();
        if name.is_empty() {
            return Err(format!("line {line}: the \"name\" cell is empty"));
        }
        let labels = headers
            .iter()
            .zip(row.iter())
            .enumerate()
            .filter(|(i, (_, v))| *i != name_col && !v.is_empty())
            .map(|(_, (k, v))| (k.to_owned(), v.to_owned()))
            .collect();
        targets.push(Target { name, labels });
    }
    Ok(Inventory { targets })
}

fn parse_toml(text: &str) -> Result<Inventory, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        targets: Vec<toml::Table>,
    }
    let file: File = toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))?;
    let mut targets = Vec::with_capacity(file.targets.len());
    for (i, table) in file.targets.into_iter().enumerate() {
        let mut name = None;
        let mut labels = Labels::new();
        for (key, value) in table {
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(n) => n.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(format!(
                        "target {}: label \"{key}\" must be a string or a number, not {}",
                        i + 1,
                        other.type_str()
                    ));
                }
            };
            if key == "name" {
                name = Some(text);
            } else {
                labels.insert(key, text);
            }
        }
        let Some(name) = name.filter(|n| !n.is_empty()) else {
            return Err(format!("target {} of [[targets]] has no \"name\"", i + 1));
        };
        targets.push(Target { name, labels });
    }
    Ok(Inventory { targets })
}

/// One condition of a selector: `key=v1|v2` or `key!=v`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    key: String,
    values: Vec<String>,
    negated: bool,
}

/// Which targets a phase takes by label: `site=berlin`, `group=internal|beta`, `tier!=gold`;
/// clauses separated by `,` must all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    text: String,
    clauses: Vec<Clause>,
}

impl Selector {
    /// Parses a selector, naming it when it does not parse.
    pub fn parse(text: &str) -> Result<Self, super::Invalid> {
        let bad = |why: &str| {
            super::Invalid(format!(
                "invalid selector \"{text}\": {why} (write key=value, key=a|b or key!=value, joined by commas)"
            ))
        };
        let mut clauses = Vec::new();
        for part in text.split(',').map(str::trim) {
            if part.is_empty() {
                return Err(bad("an empty condition"));
            }
            let (key, value, negated) = match (part.split_once("!="), part.split_once('=')) {
                (Some((k, v)), _) => (k, v, true),
                (None, Some((k, v))) => (k, v, false),
                (None, None) => return Err(bad(&format!("\"{part}\" has no ="))),
            };
            let key = key.trim();
            let values: Vec<String> = value.split('|').map(|v| v.trim().to_owned()).collect();
            if key.is_empty() || values.iter().any(String::is_empty) {
                return Err(bad(&format!("\"{part}\" needs a label and a value")));
            }
            clauses.push(Clause { key: key.to_owned(), values, negated });
        }
        Ok(Self { text: text.trim().to_owned(), clauses })
    }

    /// Whether `labels` satisfy every clause (a missing label never equals a value).
    #[must_use]
    pub fn matches(&self, labels: &Labels) -> bool {
        self.clauses.iter().all(|c| {
            let equal = labels.get(&c.key).is_some_and(|v| c.values.contains(v));
            equal != c.negated
        })
    }

    /// The label keys it names.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.clauses.iter().map(|c| c.key.as_str())
    }

    /// The values it asks for, by key (for generating test inventories).
    #[must_use]
    pub fn wanted(&self) -> Vec<(&str, &str)> {
        self.clauses.iter().filter(|c| !c.negated).map(|c| (c.key.as_str(), c.values[0].as_str())).collect()
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for Selector {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Selector {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Reorders `indices` (into `targets`) round-robin across the values of label `key`, groups in
/// order of first appearance (targets without the label form one group), so every prefix takes
/// from each group in proportion: no rack loses more than its share at once. Linear time.
#[must_use]
pub fn spread(targets: &[Target], indices: &[usize], key: &str) -> Vec<usize> {
    let mut group_of: HashMap<Option<&str>, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for &i in indices {
        let value = targets[i].labels.get(key).map(String::as_str);
        let g = *group_of.entry(value).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    // Larger groups are visited proportionally more often: each target gets the fractional
    // position (k + 0.5) / group size, and the merge is by that position (stable by group).
    let mut keyed: Vec<(u64, usize, usize)> = Vec::with_capacity(indices.len());
    for (g, members) in groups.iter().enumerate() {
        let n = members.len() as u64;
        for (k, &i) in members.iter().enumerate() {
            // Positions scaled to integers so the sort is exact and deterministic.
            let pos = ((2 * k as u64 + 1) << 32) / (2 * n);
            keyed.push((pos, g, i));
        }
    }
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, _, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str, labels: &[(&str, &str)]) -> Target {
        Target { name: name.into(), labels: labels.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect() }
    }

    #[test]
    fn csv_toml_and_plain_files_give_the_same_inventory() {
        let csv = "name,site,rack\n# a comment\nweb-01,berlin,r1\nweb-02,paris,\n";
        let toml = "[[targets]]\nname = \"web-01\"\nsite = \"berlin\"\nrack = \"r1\"\n\n[[targets]]\nname = \"web-02\"\nsite = \"paris\"\n";
        let want = Inventory {
            targets: vec![
                target("web-01", &[("site", "berlin"), ("rack", "r1")]),
                target("web-02", &[("site", "paris")]),
            ],
        };
        assert_eq!(Inventory::parse(csv, Format::Csv, "a.csv"), Ok(want.clone()));
        assert_eq!(Inventory::parse(toml, Format::Toml, "a.toml"), Ok(want));
        let plain = Inventory::parse("web-01 # first\n\nweb-02\n", Format::Plain, "hosts").expect("parses");
        assert_eq!(plain.names(), vec!["web-01", "web-02"]);
        assert!(plain.label_keys().is_empty());
    }

    #[test]
    fn bad_inventories_name_the_file_and_the_problem() {
        let no_name = Inventory::parse("host,site\na,b\n", Format::Csv, "inv.csv").expect_err("no name column");
        assert_eq!(no_name.to_string(), "inventory inv.csv: the header row has no \"name\" column (found: host, site)");
        let empty = Inventory::parse("name,site\n,berlin\n", Format::Csv, "inv.csv").expect_err("empty name");
        assert!(empty.to_string().contains("line 2: the \"name\" cell is empty"), "{empty}");
        let ragged = Inventory::parse("name,site\na,b,c\n", Format::Csv, "inv.csv").expect_err("ragged");
        assert!(ragged.to_string().starts_with("inventory inv.csv: line 2"), "{ragged}");
        let nested =
            Inventory::parse("[[targets]]\nname = \"a\"\nsite = [1]\n", Format::Toml, "i.toml").expect_err("array");
        assert!(nested.to_string().contains("label \"site\" must be a string or a number, not array"), "{nested}");
    }

    #[test]
    fn selectors_match_all_clauses_and_missing_labels_never_equal() {
        let berlin = target("a", &[("site", "berlin"), ("tier", "gold")]);
        let paris = target("b", &[("site", "paris")]);
        let s = Selector::parse("site=berlin|paris, tier!=gold").expect("parses");
        assert!(!s.matches(&berlin.labels));
        assert!(s.matches(&paris.labels), "a missing tier is not gold");
        assert!(Selector::parse("site=berlin").expect("parses").matches(&berlin.labels));
        for bad in ["site", "=x", "site=", "a=b,,c=d"] {
            let err = Selector::parse(bad).expect_err(bad);
            assert!(err.0.contains(&format!("\"{bad}\"")), "{err}");
        }
    }

    #[test]
    fn spread_interleaves_racks_in_proportion() {
        let targets: Vec<Target> =
            (0..12).map(|i| target(&format!("h{i}"), &[("rack", if i < 8 { "big" } else { "small" })])).collect();
        let order = spread(&targets, &(0..12).collect::<Vec<_>>(), "rack");
        assert_eq!(order.len(), 12);
        // The small rack (4 of 12) never loses two hosts in a row.
        for pair in order.windows(2) {
            assert!(!(pair[0] >= 8 && pair[1] >= 8), "{order:?}");
        }
        let first_half: Vec<_> = order[..6].iter().filter(|&&i| i >= 8).collect();
        assert_eq!(first_half.len(), 2, "half of the order takes half of the small rack: {order:?}");
    }
}
