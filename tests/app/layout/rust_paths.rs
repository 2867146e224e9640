//! Just enough of Rust's syntax to read which paths a module names: comments and literals
//! blanked, tokens, `use` trees with their groups and aliases, and inline `crate::` paths.

/// `text` with comments, string literals and character literals blanked out, so only code
/// is read for paths.
pub(super) fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            i += end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |at| at + 2);
            i += end;
        } else if rest.starts_with("r#\"") || rest.starts_with("r\"") {
            let hashes = rest[1..].chars().take_while(|&c| c == '#').count();
            let closing = format!("\"{}", "#".repeat(hashes));
            let body = 2 + hashes;
            let end = rest[body..]
                .find(&closing)
                .map_or(rest.len(), |at| body + at + closing.len());
            i += end;
            out.push_str("\"\"");
        } else if rest.starts_with('"') {
            let mut j = 1;
            while j < rest.len() {
                match rest.as_bytes()[j] {
                    b'\\' => j += 2,
                    b'"' => break,
                    _ => j += 1,
                }
            }
            i += (j + 1).min(rest.len());
            out.push_str("\"\"");
        } else if let Some(length) = char_literal_length(rest) {
            i += length;
            out.push_str("' '");
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The length in bytes of the character literal `rest` starts with ('x', '±', '\n', '"'), if
/// it starts with one rather than a lifetime.
pub(super) fn char_literal_length(rest: &str) -> Option<usize> {
    let after = rest.strip_prefix('\'')?;
    let first = after.chars().next()?;
    if first == '\\' {
        // '\n', '\'', '\\', '\u{1F600}': the escape is at least two bytes.
        return after.get(2..)?.find('\'').map(|at| at + 4);
    }
    after[first.len_utf8()..]
        .starts_with('\'')
        .then(|| 2 + first.len_utf8())
}

/// One token of Rust code, as far as paths are concerned.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Semi,
    Star,
    Other,
}

pub(super) fn tokens(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
            continue;
        }
        out.push(match c {
            ':' if chars.get(i + 1) == Some(&':') => {
                i += 1;
                Token::PathSep
            }
            '{' => Token::Open,
            '}' => Token::Close,
            ',' => Token::Comma,
            ';' => Token::Semi,
            '*' => Token::Star,
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            _ => Token::Other,
        });
        i += 1;
    }
    out
}

/// One name a `use` brings in: the path as written, and whether it is re-exported (`pub`).
#[derive(Debug)]
pub(super) struct UseLeaf {
    pub(super) path: Vec<String>,
    pub(super) name: String,
    pub(super) public: bool,
}

/// Reads the use tree at `tokens[at..]` under `prefix`; returns where it ends.
pub(super) fn use_tree(
    tokens: &[Token],
    mut at: usize,
    prefix: &[String],
    public: bool,
    out: &mut Vec<UseLeaf>,
) -> usize {
    let mut path = prefix.to_vec();
    loop {
        match tokens.get(at) {
            Some(Token::Open) => {
                at += 1;
                while !matches!(tokens.get(at), Some(Token::Close) | None) {
                    at = use_tree(tokens, at, &path, public, out);
                    if tokens.get(at) == Some(&Token::Comma) {
                        at += 1;
                    }
                }
                return at + 1;
            }
            Some(Token::Star) => return at + 1,
            Some(Token::Ident(segment)) => {
                path.push(segment.clone());
                at += 1;
                if tokens.get(at) == Some(&Token::PathSep) {
                    at += 1;
                    continue;
                }
                let mut name = segment.clone();
                if tokens.get(at) == Some(&Token::Ident("as".into())) {
                    if let Some(Token::Ident(alias)) = tokens.get(at + 1) {
                        name = alias.clone();
                    }
                    at += 2;
                }
                if path.len() > prefix.len() {
                    out.push(UseLeaf { path, name, public });
                }
                return at;
            }
            _ => return at,
        }
    }
}

/// The `use` declarations of `code`, and every other path it names after `crate::`,
/// `super::` or `self::` (as use leaves that are not public).
pub(super) fn named_paths(code: &str) -> Vec<UseLeaf> {
    let tokens = tokens(code);
    let mut out = Vec::new();
    let mut at = 0;
    while at < tokens.len() {
        match &tokens[at] {
            Token::Ident(word) if word == "use" => {
                let public = at > 0
                    && (tokens[at - 1] == Token::Ident("pub".into())
                        || (tokens[at - 1] == Token::Other
                            && tokens[..at].iter().rev().nth(3)
                                == Some(&Token::Ident("pub".into()))));
                at = use_tree(&tokens, at + 1, &[], public, &mut out);
                while !matches!(tokens.get(at), Some(Token::Semi) | None) {
                    at += 1;
                }
            }
            Token::Ident(word) if matches!(word.as_str(), "crate" | "super" | "self") => {
                let before_is_path = at > 0 && tokens[at - 1] == Token::PathSep;
                if !before_is_path && tokens.get(at + 1) == Some(&Token::PathSep) {
                    at = use_tree(&tokens, at, &[], false, &mut out);
                    continue;
                }
            }
            _ => {}
        }
        at += 1;
    }
    out
}
