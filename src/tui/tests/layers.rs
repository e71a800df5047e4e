//! The files of `src/tui` import each other without a cycle: `model` and `layout` at the
//! bottom, `data`, `app` and `view` above them, the run loop on top (see `tui/model.rs`). A
//! child module that reaches back into its parent (`super::boxed`) is a cycle too: import the
//! item from where it lives.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir` except tests, by its module path (`["tui", "app", "live"]`).
fn files(src: &Path, dir: &Path, out: &mut BTreeMap<Vec<String>, PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("reads src/tui") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if path.is_dir() {
            if name != "tests" && name != "snapshots" {
                files(src, &path, out);
            }
        } else if let Some(stem) = name.strip_suffix(".rs").filter(|s| *s != "tests") {
            let rel = path.parent().and_then(|p| p.strip_prefix(src).ok()).expect("under src");
            let mut module: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
            module.push(stem.to_owned());
            out.insert(module, path);
        }
    }
}

/// The longest prefix of `path` that is a file of ours.
fn resolve(path: &[String], known: &BTreeMap<Vec<String>, PathBuf>) -> Option<Vec<String>> {
    (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| known.contains_key(p))
}

/// The modules a file's code names: `crate::…`, `super::…` (also `super::{a, b}`) and its own
/// children (`mod x;` then `x::…`).
fn uses(module: &[String], code: &str, known: &BTreeMap<Vec<String>, PathBuf>) -> BTreeSet<Vec<String>> {
    // Inline test modules (`#[cfg(test)] mod tests { use super::*; }`) are not the file's code.
    let code = code.split("#[cfg(test)]").next().unwrap_or_default();
    let code: String = code.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("::") {
        // The whole path around this `::`, e.g. `super::super::widgets::put`.
        let start = code[..at].rfind(|c: char| !(ident(c) || c == ':')).map_or(0, |i| i + 1);
        if code[..start].ends_with("::") || code[start..at].is_empty() {
            continue;
        }
        let rest = &code[start..];
        let end = rest.find(|c: char| !(ident(c) || c == ':')).unwrap_or(rest.len());
        let mut parts: Vec<&str> = rest[..end].split("::").collect();
        let group =
            rest[end..].starts_with('{').then(|| &rest[end + 1..rest[end..].find('}').map_or(end, |e| end + e)]);
        if parts.last() == Some(&"") {
            parts.pop();
        }
        let mut base: Vec<String> = match parts.first() {
            Some(&"crate") => Vec::new(),
            Some(&"self") => module.to_vec(),
            Some(&"super") => module.to_vec(),
            Some(child) if known.contains_key(&[module, &[(*child).to_owned()]].concat()) => module.to_vec(),
            _ => continue,
        };
        let mut i = usize::from(parts.first() == Some(&"crate") || parts.first() == Some(&"self"));
        while parts.get(i) == Some(&"super") {
            base.pop();
            i += 1;
        }
        let tails: Vec<Vec<String>> = match group {
            Some(items) => items
                .split(',')
                .map(|s| s.split_whitespace().next().unwrap_or_default())
                .filter(|s| !s.is_empty())
                .map(|s| parts[i..].iter().copied().chain(s.split("::")).map(str::to_owned).collect())
                .collect(),
            None => vec![parts[i..].iter().map(|s| (*s).to_owned()).collect()],
        };
        for tail in tails {
            if let Some(m) = resolve(&[base.clone(), tail].concat(), known).filter(|m| m != module) {
                out.insert(m);
            }
        }
    }
    out
}

#[test]
fn no_file_of_the_dashboard_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut known = BTreeMap::new();
    files(&src, &src.join("tui"), &mut known);
    known.insert(vec!["tui".to_owned()], src.join("tui.rs"));
    assert!(known.len() > 20, "found the dashboard's files: {known:?}");
    let graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = known
        .iter()
        .map(|(m, path)| {
            let code = std::fs::read_to_string(path).expect("reads");
            let deps = uses(m, &code, &known).into_iter().filter(|d| d.first().map(String::as_str) == Some("tui"));
            (m.clone(), deps.collect())
        })
        .collect();
    // The checker itself sees the arrows that must exist.
    let has = |from: &str, to: &str| {
        let key = |s: &str| s.split('/').map(str::to_owned).collect::<Vec<_>>();
        graph.get(&key(from)).is_some_and(|d| d.contains(&key(to)))
    };
    assert!(has("tui/app", "tui/model") && has("tui/view/live", "tui/layout") && has("tui/data", "tui/model"));
    // Depth-first search for a path back to where it started.
    for start in graph.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, path)) = stack.pop() {
            for next in &graph[&at] {
                assert!(
                    next != start,
                    "import cycle: {}",
                    [path.clone(), vec![next.clone()]]
                        .concat()
                        .iter()
                        .map(|m| m.join("/"))
                        .collect::<Vec<_>>()
                        .join(" -> ")
                );
                if seen.insert(next.clone()) {
                    stack.push((next.clone(), [path.clone(), vec![next.clone()]].concat()));
                }
            }
        }
    }
}
