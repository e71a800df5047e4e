//! Finding the line of a key in TOML text, so semantic errors can point at it.

use toml::de::{DeTable, DeValue};

/// 1-based line of a byte offset.
pub fn line_of_offset(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// 1-based line of a key path such as `models.phased.phases[1].gate.windows`.
pub fn line_of_key(text: &str, path: &str) -> Option<usize> {
    let root = DeTable::parse(text).ok()?;
    let mut node: Option<&toml::Spanned<DeValue<'_>>> = None;
    let mut found = None;
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        let (name, index) = match segment.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let next = match node {
            None => root.get_ref().get(name),
            Some(n) => n.get_ref().get(name),
        };
        let Some(next) = next else { break };
        node = Some(next);
        found = Some(next.span());
        if let Some(i) = index {
            let Some(item) = next.get_ref().get(i) else { break };
            node = Some(item);
            found = Some(item.span());
        }
    }
    found.map(|span| line_of_offset(text, span.start))
}
