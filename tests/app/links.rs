//! Every relative link in the repository's Markdown, and every `docs/….md#anchor` a source
//! comment sends readers to, resolves: the file exists and the anchor is one of its headings
//! as GitHub writes them.

use std::{collections::BTreeSet, fs, path::Path};

use crate::support::{files_under as files, repository_root as root};

/// The lines of a Markdown text outside fenced code blocks.
fn prose_lines(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|line| {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// `line` without its inline code spans.
fn without_code_spans(line: &str) -> String {
    line.split('`')
        .enumerate()
        .filter(|(index, _)| index % 2 == 0)
        .map(|(_, part)| part)
        .collect::<Vec<_>>()
        .join(" ")
}

/// GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped,
/// spaces turned into `-`; code marks and link targets do not count.
fn slug(heading: &str) -> String {
    let mut text = String::new();
    let mut rest = heading;
    // `[text](target)` reads as `text`.
    while let Some(open) = rest.find("](") {
        let close = rest[open..]
            .find(')')
            .map_or(rest.len(), |at| open + at + 1);
        text.push_str(&rest[..open].replace('[', ""));
        rest = &rest[close..];
    }
    text.push_str(&rest.replace('[', ""));
    text.chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file: its headings' slugs (a repeated one also as `-1`, `-2`, …)
/// and explicit `<a id="…">` or `name="…"`.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in prose_lines(text) {
        if let Some(heading) = line.strip_prefix('#') {
            let heading = heading.trim_start_matches('#').trim();
            let base = slug(heading);
            let mut anchor = base.clone();
            let mut repeat = 0;
            while found.contains(&anchor) {
                repeat += 1;
                anchor = format!("{base}-{repeat}");
            }
            found.insert(anchor);
        }
        for marker in ["id=\"", "name=\""] {
            let mut rest = line;
            while let Some(at) = rest.find(marker) {
                rest = &rest[at + marker.len()..];
                if let Some(end) = rest.find('"') {
                    found.insert(rest[..end].to_owned());
                }
            }
        }
    }
    found
}

/// The link targets of a Markdown text: `[text](target)` and `[label]: target`.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose_lines(text) {
        let line = without_code_spans(line);
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            let end = rest.find(')').unwrap_or(rest.len());
            let target = rest[..end].split_whitespace().next().unwrap_or_default();
            targets.push(target.trim_matches(['<', '>']).to_owned());
            rest = &rest[end..];
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with('[')
            && let Some((_, target)) = trimmed.split_once("]: ")
        {
            targets.push(target.trim().to_owned());
        }
    }
    targets
}

/// Why `target`, written in `from`, does not resolve; `None` when it does (or is not ours to
/// check: another site, a mail address).
fn broken(from: &Path, target: &str) -> Option<String> {
    if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (path, anchor) = target.split_once('#').unwrap_or((target, ""));
    let file = if path.is_empty() {
        from.to_path_buf()
    } else if let Some(from_root) = path.strip_prefix('/') {
        root().join(from_root)
    } else {
        from.parent().unwrap_or(root()).join(path)
    };
    if !file.exists() {
        return Some(format!("no file {}", file.display()));
    }
    let markdown = file.extension().is_some_and(|ext| ext == "md");
    if anchor.is_empty() || !markdown {
        return None;
    }
    let text = fs::read_to_string(&file).unwrap_or_default();
    (!anchors(&text).contains(anchor)).then(|| format!("no heading #{anchor}"))
}

#[test]
fn every_relative_markdown_link_and_anchor_resolves() {
    let mut broken_links = Vec::new();
    let pages = files(root(), &[".md"]);
    assert!(pages.len() >= 8, "the docs: {pages:?}");
    for page in pages {
        let text = fs::read_to_string(&page).unwrap_or_default();
        for target in link_targets(&text) {
            if let Some(why) = broken(&page, &target) {
                let page = page.strip_prefix(root()).unwrap_or(&page).display();
                broken_links.push(format!("{page}: ({target}): {why}"));
            }
        }
    }
    assert!(broken_links.is_empty(), "{}", broken_links.join("\n"));
}

/// The `docs/….md` (and `README.md`) references in `text`, with their anchors.
fn docs_references(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for start in ["docs/", "README.md"] {
        let mut rest = text;
        while let Some(at) = rest.find(start) {
            let reference: String = rest[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || "/._-#".contains(*c))
                .collect();
            let reference = reference.trim_end_matches(['.', '-']).to_owned();
            rest = &rest[at + start.len()..];
            if reference.contains(".md") {
                found.push(reference);
            }
        }
    }
    found
}

#[test]
fn every_docs_page_a_source_file_names_exists_with_its_anchor() {
    let mut broken_references = Vec::new();
    let sources = files(root(), &[".rs", ".sh", ".py", ".yml", ".yaml", ".toml"]);
    for source in sources {
        let text = fs::read_to_string(&source).unwrap_or_default();
        for reference in docs_references(&text) {
            let target = format!("/{reference}");
            if let Some(why) = broken(&root().join("README.md"), &target) {
                let source = source.strip_prefix(root()).unwrap_or(&source).display();
                broken_references.push(format!("{source}: {reference}: {why}"));
            }
        }
    }
    assert!(
        broken_references.is_empty(),
        "{}",
        broken_references.join("\n")
    );
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug("Ports and binding"), "ports-and-binding");
    assert_eq!(slug("The `end-user` header"), "the-end-user-header");
    assert_eq!(slug("ratings v2 on a database"), "ratings-v2-on-a-database");
    assert_eq!(slug("What [the page](x.md) says!"), "what-the-page-says");
    let text = "# A\n## A\n```\n# not a heading\n```\n<a id=\"x\"></a>\n";
    assert_eq!(anchors(text), ["a", "a-1", "x"].map(String::from).into());
    assert_eq!(
        link_targets("see [a](b.md#c), `[no](link)` and\n[ref]: d.md\n"),
        ["b.md#c", "d.md"]
    );
}
