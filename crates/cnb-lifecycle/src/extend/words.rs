//! The small bits of Dockerfile word syntax the extender needs: `$VAR` expansion and the
//! `KEY=value` lists of `ENV` and `LABEL`.

use std::collections::BTreeMap;

/// Replaces `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alt}` with `vars` (unknown names
/// expand to nothing, as in Docker); `\$` stays a literal `$`.
pub(crate) fn expand(s: &str, vars: &BTreeMap<String, String>) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < chars.len() {
        match chars[i] {
            '\\' if chars.get(i + 1) == Some(&'$') => {
                out.push('$');
                i += 2;
            }
            '$' if chars.get(i + 1) == Some(&'{') => {
                let Some(end) = chars[i..].iter().position(|&c| c == '}') else {
                    out.extend(&chars[i..]);
                    break;
                };
                let inner: String = chars[i + 2..i + end].iter().collect();
                let value = match inner.split_once(":-") {
                    Some((n, d)) => vars
                        .get(n)
                        .filter(|v| !v.is_empty())
                        .cloned()
                        .unwrap_or(d.to_string()),
                    None => match inner.split_once(":+") {
                        Some((n, a)) => {
                            if vars.get(n).is_some_and(|v| !v.is_empty()) {
                                a.to_string()
                            } else {
                                String::new()
                            }
                        }
                        None => vars.get(&inner).cloned().unwrap_or_default(),
                    },
                };
                out.push_str(&value);
                i += end + 1;
            }
            '$' if chars.get(i + 1).is_some_and(|&c| is_name(c)) => {
                let len = chars[i + 1..].iter().take_while(|&&c| is_name(c)).count();
                let name: String = chars[i + 1..i + 1 + len].iter().collect();
                out.push_str(vars.get(&name).map_or("", String::as_str));
                i += 1 + len;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// `KEY=value KEY2="a b"` (or the legacy `KEY value`) as pairs, quotes removed.
pub(crate) fn split_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let words = split_words(text)?;
    if words.first().is_some_and(|w| !w.contains('=')) {
        let key = words[0].clone();
        let rest = text.trim_start()[key.len()..].trim().to_string();
        return Ok(vec![(key, unquote_all(&rest))]);
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("expected KEY=value, got '{w}'")),
        })
        .collect()
}

fn unquote_all(s: &str) -> String {
    split_words(s).map_or_else(|_| s.to_string(), |w| w.join(" "))
}

/// Words split on unquoted white space, with quotes and backslash escapes removed (but `\$` kept
/// for [`expand`]).
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => match chars.next() {
                Some('$') => cur.push_str("\\$"),
                Some(n) => cur.push(n),
                None => {}
            },
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(format!("unterminated quote in '{text}'"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_and_splits() {
        let vars: BTreeMap<String, String> = [("A".to_string(), "1".to_string())].into();
        assert_eq!(expand("$A-${A}-${B:-x}-${A:+y}-\\$A", &vars), "1-1-x-y-$A");
        assert_eq!(
            split_pairs(r#"X=1 Y="a b" Z='c d'"#).unwrap(),
            vec![
                ("X".into(), "1".into()),
                ("Y".into(), "a b".into()),
                ("Z".into(), "c d".into())
            ]
        );
        assert_eq!(
            split_pairs("X a b").unwrap(),
            vec![("X".into(), "a b".into())]
        );
        assert!(split_pairs("X=\"a").is_err());
    }
}
