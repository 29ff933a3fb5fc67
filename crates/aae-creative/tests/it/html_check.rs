//! A strict, small HTML checker for generated pages: every non-void element is closed in order,
//! text and attribute values contain no raw `<` or `>`, every `&` starts an entity, and the
//! contents of `<style>` and `<script>` are skipped as raw text. Returns the start tags in order.

/// One start tag.
#[derive(Debug, Clone)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

const VOID: [&str; 13] =
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"];

fn check_entities(text: &str, at: usize) -> Result<(), String> {
    for (i, _) in text.match_indices('&') {
        let rest = &text[i + 1..];
        let end = rest.find(';').ok_or_else(|| format!("bare & near byte {}", at + i))?;
        let name = &rest[..end];
        let ok = (name.starts_with('#') && name.len() > 1 && name[1..].bytes().all(|b| b.is_ascii_digit()))
            || (!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()));
        if !ok {
            return Err(format!("malformed entity &{name}; near byte {}", at + i));
        }
    }
    if let Some(i) = text.find('>') {
        return Err(format!("raw > in text near byte {}", at + i));
    }
    Ok(())
}

fn parse_attrs(src: &str, at: usize) -> Result<Vec<(String, String)>, String> {
    let mut attrs = Vec::new();
    let mut rest = src.trim_start();
    while !rest.is_empty() {
        let name_end = rest.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == ':') {
            return Err(format!("bad attribute name {name:?} near byte {at}"));
        }
        rest = rest[name_end..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let quote = after.chars().next().ok_or("attribute without value")?;
            if quote != '"' && quote != '\'' {
                return Err(format!("unquoted attribute {name} near byte {at}"));
            }
            let close = after[1..].find(quote).ok_or_else(|| format!("unclosed attribute {name} near byte {at}"))?;
            let value = &after[1..=close];
            if value.contains('<') {
                return Err(format!("raw < in attribute {name} near byte {at}"));
            }
            check_entities(value, at)?;
            rest = after[close + 2..].trim_start();
            value.to_owned()
        } else {
            String::new()
        };
        attrs.push((name, value));
    }
    Ok(attrs)
}

/// Parses `html`, returning its start tags, or the first problem found.
pub fn parse(html: &str) -> Result<Vec<Element>, String> {
    let mut elements = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut pos = 0;
    while let Some(offset) = html[pos..].find('<') {
        let start = pos + offset;
        check_entities(&html[pos..start], pos)?;
        let rest = &html[start..];
        if rest.starts_with("<!--") {
            let end = rest.find("-->").ok_or("unclosed comment")?;
            pos = start + end + 3;
            continue;
        }
        let end = rest.find('>').ok_or_else(|| format!("unclosed tag at byte {start}"))?;
        let tag = &rest[1..end];
        pos = start + end + 1;
        if let Some(doctype) = tag.strip_prefix('!') {
            if !doctype.eq_ignore_ascii_case("doctype html") {
                return Err(format!("unexpected declaration <{tag}>"));
            }
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            match stack.pop() {
                Some(open) if open == name => continue,
                other => return Err(format!("</{name}> at byte {start} closes {other:?}")),
            }
        }
        let tag = tag.strip_suffix('/').unwrap_or(tag);
        let name_end = tag.find(char::is_whitespace).unwrap_or(tag.len());
        let name = tag[..name_end].to_ascii_lowercase();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!("stray < or bad tag name at byte {start}"));
        }
        let attrs = parse_attrs(&tag[name_end..], start)?;
        if name == "style" || name == "script" {
            let close = format!("</{name}>");
            let body_end = html[pos..].find(&close).ok_or_else(|| format!("unclosed <{name}>"))?;
            pos += body_end + close.len();
        } else if !VOID.contains(&name.as_str()) {
            stack.push(name.clone());
        }
        elements.push(Element { name, attrs });
    }
    check_entities(&html[pos..], pos)?;
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> is never closed"));
    }
    Ok(elements)
}

#[test]
fn the_checker_rejects_broken_markup() {
    assert!(parse("<p>ok &amp; fine</p>").is_ok());
    for bad in [
        "<p>unclosed",
        "<p><b></p></b>",
        "<p>a < b</p>",
        "<p>a > b</p>",
        "<p>AT&T</p>",
        "<a href=\"x\"y\">",
        "<a href=x>z</a>",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}
