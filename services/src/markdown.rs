//! Product descriptions: plain text or a small, safe subset of Markdown, rendered to HTML that
//! can be inserted into a page as is ([`to_html`]), or to plain text for meta descriptions
//! ([`to_plain`]).
//!
//! Supported syntax:
//! - paragraphs separated by blank lines; a single line break inside one becomes `<br>`;
//! - `# `, `## `, `### ` headings, rendered as `<h3>`, `<h4>`, `<h5>` (the page has its own
//!   `<h1>`/`<h2>`);
//! - `- ` or `* ` bullet lists and `1. ` (or `1) `) numbered lists, one level; a line indented
//!   under an item continues it;
//! - `**bold**`, `*italic*`, `_italic_` (not inside words, so `ten_san_pham` stays as is);
//! - links `[text](url)`, only to `http://…`, `https://…` or site paths `/…` (not `//…`); any
//!   other URL (`javascript:`, `data:`, relative, containing spaces) renders the text alone;
//! - `\` before a punctuation character makes it literal (`\*`).
//!
//! Safety: no raw HTML passes through, ever. Every character of the source reaches the output
//! only through [`escape`] (`& < > " '` become entities), as text or as the `href` value; the
//! only tags in the output are the ones this module writes: `p br h3 h4 h5 ul ol li strong em
//! a`, with attributes `href` and `rel` on `a` and a numeric `start` on `ol`. Control
//! characters other than tab and line breaks are dropped and the text is NFC-normalised.

use crate::text;

/// Longest link text and URL looked at when matching `[text](url)`; longer ones are left as
/// text. Bounds the work per `[` so rendering stays linear.
const MAX_LINK_TEXT: usize = 1_000;
const MAX_LINK_URL: usize = 2_000;

/// Characters a backslash makes literal.
const ESCAPABLE: &[u8] = b"\\`*_{}[]()#+-.!>|~";

/// The `rel` of every link: descriptions are user content.
const LINK_REL: &str = "nofollow ugc noopener";

/// Renders a description to safe HTML (see the module documentation). Blocks are separated by
/// `\n`; empty input gives `""`.
pub fn to_html(src: &str) -> String {
    let mut out = String::with_capacity(src.len() + src.len() / 4 + 16);
    for (n, block) in blocks(&normalise(src)).iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        match block {
            Block::Heading(level, body) => {
                let tag = match level {
                    1 => "h3",
                    2 => "h4",
                    _ => "h5",
                };
                open(&mut out, tag);
                inline(&mut out, Mode::Html, body, Allow::ALL);
                close(&mut out, tag);
            }
            Block::Paragraph(body) => {
                open(&mut out, "p");
                inline(&mut out, Mode::Html, body, Allow::ALL);
                close(&mut out, "p");
            }
            Block::List {
                ordered,
                start,
                items,
            } => {
                let tag = if *ordered { "ol" } else { "ul" };
                if *ordered && *start != 1 {
                    out.push_str(&format!("<ol start=\"{start}\">\n"));
                } else {
                    open(&mut out, tag);
                    out.push('\n');
                }
                for item in items {
                    open(&mut out, "li");
                    inline(&mut out, Mode::Html, item, Allow::ALL);
                    close(&mut out, "li");
                    out.push('\n');
                }
                close(&mut out, tag);
            }
        }
    }
    out
}

/// The description as plain text: markup stripped (link texts kept, URLs dropped), whitespace
/// collapsed to single spaces, and cut to at most `max_chars` characters at a word boundary,
/// ending with `…` when cut. For `<meta name="description">` (escape it when inserting).
pub fn to_plain(src: &str, max_chars: usize) -> String {
    let mut raw = String::with_capacity(src.len());
    for block in blocks(&normalise(src)) {
        match &block {
            Block::Heading(_, body) | Block::Paragraph(body) => {
                inline(&mut raw, Mode::Plain, body, Allow::ALL);
            }
            Block::List { items, .. } => {
                for item in items {
                    inline(&mut raw, Mode::Plain, item, Allow::ALL);
                    raw.push(' ');
                }
            }
        }
        raw.push(' ');
    }
    truncate_words(&text::clean(&raw), max_chars)
}

/// HTML-escapes text for element content and double- or single-quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_into(&mut out, s);
    out
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

fn open(out: &mut String, tag: &str) {
    out.push('<');
    out.push_str(tag);
    out.push('>');
}

fn close(out: &mut String, tag: &str) {
    out.push_str("</");
    out.push_str(tag);
    out.push('>');
}

/// LF line ends, no control characters except tab and LF, NFC.
fn normalise(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\n' | '\t' => out.push(c),
            '\u{2028}' | '\u{2029}' => out.push('\n'),
            c if c.is_control() || c == '\u{FEFF}' => {}
            c => out.push(c),
        }
    }
    text::nfc(&out)
}

// ---------------------------------------------------------------------------------------------
// Blocks
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
enum Block {
    /// Level 1–3 and the heading text.
    Heading(u8, String),
    /// Lines joined by `\n`.
    Paragraph(String),
    /// Items, each with its continuation lines joined by `\n`.
    List {
        ordered: bool,
        start: u32,
        items: Vec<String>,
    },
}

/// The text after `marker` when it is followed by a space or tab, trimmed.
fn after_marker<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(marker)?;
    rest.starts_with([' ', '\t']).then(|| rest.trim())
}

fn heading(line: &str) -> Option<(u8, &str)> {
    [("###", 3), ("##", 2), ("#", 1)]
        .into_iter()
        .find_map(|(marker, level)| after_marker(line, marker).map(|rest| (level, rest)))
}

/// A list item: whether it is numbered, its number, and its text.
fn list_item(line: &str) -> Option<(bool, u32, &str)> {
    if let Some(rest) = after_marker(line, "-").or_else(|| after_marker(line, "*")) {
        return Some((false, 1, rest));
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let (number, rest) = line.split_at_checked(digits)?;
    let rest = after_marker(rest, ".").or_else(|| after_marker(rest, ")"))?;
    Some((true, number.parse().ok()?, rest))
}

fn blocks(src: &str) -> Vec<Block> {
    let mut done = Vec::new();
    let mut current: Option<Block> = None;
    for raw in src.split('\n') {
        let line = raw.trim();
        if line.is_empty() {
            done.extend(current.take());
            continue;
        }
        if let Some((level, body)) = heading(line) {
            done.extend(current.take());
            done.push(Block::Heading(level, body.to_owned()));
            continue;
        }
        if let Some((numbered, number, body)) = list_item(line) {
            match &mut current {
                Some(Block::List { ordered, items, .. }) if *ordered == numbered => {
                    items.push(body.to_owned());
                }
                _ => {
                    done.extend(current.take());
                    current = Some(Block::List {
                        ordered: numbered,
                        start: number,
                        items: vec![body.to_owned()],
                    });
                }
            }
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        match &mut current {
            Some(Block::List { items, .. }) if indented => {
                if let Some(last) = items.last_mut() {
                    last.push('\n');
                    last.push_str(line);
                }
            }
            Some(Block::Paragraph(body)) => {
                body.push('\n');
                body.push_str(line);
            }
            _ => {
                done.extend(current.take());
                current = Some(Block::Paragraph(line.to_owned()));
            }
        }
    }
    done.extend(current);
    done
}

// ---------------------------------------------------------------------------------------------
// Inline
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Html,
    Plain,
}

/// Which inline constructs may start here; each is switched off inside itself, which also
/// bounds the recursion depth to four.
#[derive(Debug, Clone, Copy)]
struct Allow {
    bold: bool,
    italic: bool,
    link: bool,
}

impl Allow {
    const ALL: Allow = Allow {
        bold: true,
        italic: true,
        link: true,
    };
}

/// Writes a text run: escaped, line breaks as `<br>` (HTML), or as spaces (plain).
fn text_run(out: &mut String, mode: Mode, s: &str) {
    match mode {
        Mode::Html => {
            let mut lines = s.split('\n');
            if let Some(first) = lines.next() {
                escape_into(out, first);
            }
            for line in lines {
                out.push_str("<br>\n");
                escape_into(out, line);
            }
        }
        Mode::Plain => out.extend(s.chars().map(|c| if c == '\n' { ' ' } else { c })),
    }
}

/// An inline tag: written in HTML mode, nothing in plain mode.
fn open_in(out: &mut String, mode: Mode, tag: &str) {
    if mode == Mode::Html {
        open(out, tag);
    }
}

fn close_in(out: &mut String, mode: Mode, tag: &str) {
    if mode == Mode::Html {
        close(out, tag);
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n')
}

/// Renders inline markup of `s`. Markers are ASCII, so every index where one is found is a
/// character boundary; `get` is still used so no input can panic.
fn inline(out: &mut String, mode: Mode, s: &str, allow: Allow) {
    let b = s.as_bytes();
    // Once a closing marker search fails, later ones in this run would fail too: remembering
    // it keeps rendering linear on inputs such as a long row of `*`.
    let mut no_bold = false;
    let mut no_star = false;
    let mut no_under = false;
    let mut text_start = 0;
    let mut i = 0;
    let flush = |out: &mut String, from: usize, to: usize| {
        text_run(out, mode, s.get(from..to).unwrap_or_default());
    };
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' if b.get(i + 1).is_some_and(|n| ESCAPABLE.contains(n)) => {
                flush(out, text_start, i);
                // The escaped character starts the next text run.
                text_start = i + 1;
                i += 2;
            }
            b'[' if allow.link => match find_link(b, i) {
                Some(link) => {
                    flush(out, text_start, i);
                    let label = s.get(i + 1..link.label_end).unwrap_or_default();
                    let url = s.get(link.url_start..link.url_end).unwrap_or_default();
                    render_link(out, mode, label, url.trim(), allow);
                    i = link.next;
                    text_start = i;
                }
                None => i += 1,
            },
            b'*' if b.get(i + 1) == Some(&b'*') => {
                let opens = allow.bold && !no_bold && b.get(i + 2).is_some_and(|&n| !is_space(n));
                match opens.then(|| find_double_close(b, i + 2)).flatten() {
                    Some(j) => {
                        flush(out, text_start, i);
                        open_in(out, mode, "strong");
                        let inner = Allow {
                            bold: false,
                            ..allow
                        };
                        inline(out, mode, s.get(i + 2..j).unwrap_or_default(), inner);
                        close_in(out, mode, "strong");
                        i = j + 2;
                        text_start = i;
                    }
                    None => {
                        no_bold |= opens;
                        i += 2; // a literal `**`, never two italic markers
                    }
                }
            }
            b'*' | b'_' if allow.italic => {
                let flag = if c == b'*' { no_star } else { no_under };
                let after_ok = b.get(i + 1).is_some_and(|&n| !is_space(n));
                let before_ok = c == b'*' || !prev_char(s, i).is_some_and(char::is_alphanumeric);
                let opens = !flag && after_ok && before_ok;
                match opens.then(|| find_single_close(s, i + 1, c)).flatten() {
                    Some(j) => {
                        flush(out, text_start, i);
                        open_in(out, mode, "em");
                        let inner = Allow {
                            italic: false,
                            ..allow
                        };
                        inline(out, mode, s.get(i + 1..j).unwrap_or_default(), inner);
                        close_in(out, mode, "em");
                        i = j + 1;
                        text_start = i;
                    }
                    None => {
                        if opens {
                            if c == b'*' {
                                no_star = true;
                            } else {
                                no_under = true;
                            }
                        }
                        i += 1;
                    }
                }
            }
            _ => i += 1,
        }
    }
    flush(out, text_start, b.len());
}

fn prev_char(s: &str, i: usize) -> Option<char> {
    s.get(..i)?.chars().next_back()
}

fn next_char(s: &str, i: usize) -> Option<char> {
    s.get(i..)?.chars().next()
}

/// Index of the `**` closing a bold run whose content starts at `from`: not preceded by
/// whitespace, content not empty. In `***x***` the last two stars close.
fn find_double_close(b: &[u8], from: usize) -> Option<usize> {
    let mut j = from;
    while let Some(&c) = b.get(j) {
        match c {
            b'\\' => j += 2,
            b'*' if b.get(j + 1) == Some(&b'*')
                && j > from
                && !b.get(j - 1).copied().is_some_and(is_space) =>
            {
                while b.get(j + 2) == Some(&b'*') {
                    j += 1;
                }
                return Some(j);
            }
            _ => j += 1,
        }
    }
    None
}

/// Index of the `*` or `_` closing an italic run whose content starts at `from`: not preceded
/// by whitespace, content not empty, `**` pairs skipped (they belong to bold runs inside), and
/// for `_` not followed by a letter or digit.
fn find_single_close(s: &str, from: usize, marker: u8) -> Option<usize> {
    let b = s.as_bytes();
    let mut j = from;
    while let Some(&c) = b.get(j) {
        if c == b'\\' {
            j += 2;
            continue;
        }
        if c == marker {
            if marker == b'*' && b.get(j + 1) == Some(&b'*') {
                j += 2;
                continue;
            }
            let after_ok =
                marker == b'*' || !next_char(s, j + 1).is_some_and(char::is_alphanumeric);
            if j > from && !b.get(j - 1).copied().is_some_and(is_space) && after_ok {
                return Some(j);
            }
        }
        j += 1;
    }
    None
}

/// Byte positions of a `[label](url)` starting at `open`.
struct LinkSpan {
    label_end: usize,
    url_start: usize,
    url_end: usize,
    next: usize,
}

fn find_link(b: &[u8], open: usize) -> Option<LinkSpan> {
    let mut depth = 0usize;
    let mut j = open + 1;
    let limit = open.saturating_add(MAX_LINK_TEXT);
    loop {
        if j > limit {
            return None;
        }
        match *b.get(j)? {
            b'\\' => j += 1,
            b'[' => depth += 1,
            b']' if depth == 0 => break,
            b']' => depth -= 1,
            _ => {}
        }
        j += 1;
    }
    let label_end = j;
    if b.get(label_end + 1) != Some(&b'(') {
        return None;
    }
    let url_start = label_end + 2;
    let limit = url_start.saturating_add(MAX_LINK_URL);
    let mut depth = 0usize;
    let mut k = url_start;
    loop {
        if k > limit {
            return None;
        }
        match *b.get(k)? {
            b'\n' => return None,
            b'(' => depth += 1,
            b')' if depth == 0 => {
                return Some(LinkSpan {
                    label_end,
                    url_start,
                    url_end: k,
                    next: k + 1,
                });
            }
            b')' => depth -= 1,
            _ => {}
        }
        k += 1;
    }
}

/// The URL when it may be linked: `http://…`, `https://…` (any case) or a site path `/…`
/// (not `//…` or `/\…`, which name another host), with no whitespace or control characters.
fn safe_url(url: &str) -> Option<&str> {
    let starts = |prefix: &str| {
        url.len() > prefix.len()
            && url
                .as_bytes()
                .get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix.as_bytes()))
    };
    // `//host` and `/\host` leave the site (browsers read both as another host).
    let site_path = url.starts_with('/') && !url.starts_with("//") && !url.starts_with("/\\");
    let allowed = starts("http://") || starts("https://") || site_path;
    let clean = !url.chars().any(|c| c.is_whitespace() || c.is_control());
    (allowed && clean).then_some(url)
}

fn render_link(out: &mut String, mode: Mode, label: &str, url: &str, allow: Allow) {
    let inner = Allow {
        link: false,
        ..allow
    };
    // An empty label shows the URL itself.
    let label = if label.trim().is_empty() { url } else { label };
    match (mode, safe_url(url)) {
        (Mode::Html, Some(href)) => {
            out.push_str("<a href=\"");
            escape_into(out, href);
            out.push_str("\" rel=\"");
            out.push_str(LINK_REL);
            out.push_str("\">");
            inline(out, mode, label, inner);
            close(out, "a");
        }
        _ => inline(out, mode, label, inner),
    }
}

/// At most `max` characters: `s` itself, or its start cut at the last space that leaves room
/// for `…` (mid-word only when the first word is too long), trailing punctuation removed.
fn truncate_words(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let keep = max - 1; // room for the ellipsis
    let cut = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
    let head = s.get(..cut).unwrap_or_default();
    let at_boundary = s.get(cut..).is_some_and(|rest| rest.starts_with(' '));
    let head = match head.rfind(' ') {
        Some(space) if !at_boundary && space > 0 => head.get(..space).unwrap_or(head),
        _ => head,
    };
    let head = head.trim_end_matches(|c: char| {
        c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-' | '–' | '—' | '(' | '[')
    });
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALLOWED_TAGS: [&str; 11] = [
        "p", "br", "h3", "h4", "h5", "ul", "ol", "li", "strong", "em", "a",
    ];

    /// Checks that every `<` in `html` opens an allowed, well-nested tag with only the
    /// expected attributes, and that every link goes to an allowed URL.
    fn check_html(html: &str) -> Result<(), String> {
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = html;
        while let Some(lt) = rest.find('<') {
            let tag_and_more = rest.get(lt + 1..).unwrap_or_default();
            let gt = tag_and_more.find('>').ok_or("unclosed tag")?;
            let inside = tag_and_more.get(..gt).unwrap_or_default();
            rest = tag_and_more.get(gt + 1..).unwrap_or_default();
            let (closing, inside) = match inside.strip_prefix('/') {
                Some(i) => (true, i),
                None => (false, inside),
            };
            let name_len = inside.bytes().take_while(u8::is_ascii_alphanumeric).count();
            let (name, attrs) = inside.split_at(name_len);
            if !ALLOWED_TAGS.contains(&name) {
                return Err(format!("tag {name:?} in {html:?}"));
            }
            if closing {
                if !attrs.is_empty() || stack.pop() != Some(name) {
                    return Err(format!("bad close {name:?} in {html:?}"));
                }
                continue;
            }
            match name {
                "a" => {
                    let href = attrs
                        .strip_prefix(" href=\"")
                        .and_then(|a| a.strip_suffix("\" rel=\"nofollow ugc noopener\""))
                        .ok_or_else(|| format!("bad a attributes {attrs:?}"))?;
                    if href.contains(['"', '<', '>', '\'']) {
                        return Err(format!("unescaped href {href:?}"));
                    }
                    let lower = href.to_ascii_lowercase();
                    if !(lower.starts_with("http://")
                        || lower.starts_with("https://")
                        || lower.starts_with('/'))
                    {
                        return Err(format!("bad href {href:?}"));
                    }
                }
                "ol" => {
                    let ok = attrs.is_empty()
                        || attrs
                            .strip_prefix(" start=\"")
                            .and_then(|a| a.strip_suffix('"'))
                            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
                    if !ok {
                        return Err(format!("bad ol attributes {attrs:?}"));
                    }
                }
                _ if !attrs.is_empty() => return Err(format!("attributes on {name}")),
                _ => {}
            }
            if name != "br" {
                stack.push(name);
            }
        }
        if !stack.is_empty() {
            return Err(format!("unclosed {stack:?} in {html:?}"));
        }
        if html.contains('>') && html.matches('>').count() != html.matches('<').count() {
            return Err(format!("stray > in {html:?}"));
        }
        Ok(())
    }

    fn assert_safe(html: &str) {
        if let Err(e) = check_html(html) {
            panic!("{e}");
        }
    }

    #[test]
    fn script_and_img_are_escaped() {
        let html = to_html("<script>alert(1)</script>");
        assert_eq!(html, "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>");
        let html = to_html("Ảnh: <img src=x onerror=alert(1)>\n\n**<b>đậm</b>**");
        assert!(!html.contains("<script") && !html.contains("<img") && !html.contains("<b>"));
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        assert!(
            html.contains("<strong>&lt;b&gt;đậm&lt;/b&gt;</strong>"),
            "{html}"
        );
        assert_safe(&html);
        let html = to_html("# <svg onload=alert(1)>\n- <iframe>\n1. </p><p>");
        assert!(!html.contains("<svg") && !html.contains("<iframe") && !html.contains("</p><p>"));
        assert_safe(&html);
        assert_eq!(
            to_html("a & b \"c\" 'd'"),
            "<p>a &amp; b &quot;c&quot; &#39;d&#39;</p>"
        );
    }

    #[test]
    fn unsafe_links_lose_their_href() {
        for src in [
            "[x](javascript:alert(1))",
            "[x](JavaScript:alert(1))",
            "[x]( javascript:alert(1) )",
            "[x](data:text/html,<script>alert(1)</script>)",
            "[x](vbscript:msgbox)",
            "[x](&#106;avascript:alert(1))",
            "[x](evil.com)",
            "[x](http://)",
            "[x](http://a b)",
            "[x](//evil.example/)",
            "[x](/\\evil.example)",
        ] {
            let html = to_html(src);
            assert!(!html.contains("href"), "{src} -> {html}");
            assert!(html.starts_with("<p>x"), "{src} -> {html}");
            assert_safe(&html);
        }
    }

    #[test]
    fn links() {
        assert_eq!(
            to_html("Xem [trang chủ](https://choso.vn/a?b=1&c=2) nhé"),
            "<p>Xem <a href=\"https://choso.vn/a?b=1&amp;c=2\" rel=\"nofollow ugc noopener\">\
             trang chủ</a> nhé</p>"
        );
        assert_eq!(
            to_html("[**Giá**](/san-pham/tra)"),
            "<p><a href=\"/san-pham/tra\" rel=\"nofollow ugc noopener\"><strong>Giá</strong>\
             </a></p>"
        );
        assert_eq!(
            to_html("[wiki](http://vi.wikipedia.org/wiki/Phở_(món_ăn))"),
            "<p><a href=\"http://vi.wikipedia.org/wiki/Phở_(món_ăn)\" \
             rel=\"nofollow ugc noopener\">wiki</a></p>"
        );
        // No links inside links, empty label shows the URL.
        assert_eq!(
            to_html("[a [b](/x)](/y)"),
            "<p><a href=\"/y\" rel=\"nofollow ugc noopener\">a [b](/x)</a></p>"
        );
        assert_eq!(
            to_html("[](https://a.vn)"),
            "<p><a href=\"https://a.vn\" rel=\"nofollow ugc noopener\">https://a.vn</a></p>"
        );
        assert_eq!(to_html("[no url] (x)"), "<p>[no url] (x)</p>");
    }

    #[test]
    fn quote_in_url_stays_inside_the_attribute() {
        for src in [
            "[x](http://a.vn/\"onmouseover=\"alert(1))",
            "[x](http://a.vn/'onmouseover='alert(1))",
            "[x](/\"><script>alert(1)</script>)",
        ] {
            let html = to_html(src);
            assert_safe(&html);
            assert!(!html.contains("<script"), "{html}");
            // Only the four quotes around the two attribute values.
            assert_eq!(html.matches('"').count(), 4, "{html}");
            assert!(html.contains("&quot;") || html.contains("&#39;"), "{html}");
        }
    }

    #[test]
    fn blocks_render() {
        let src = "# Trà sen Tây Hồ\n\
                   Ướp từ sen Hồ Tây.\nMỗi bông một nắm trà.\n\n\
                   ## Thành phần\n\
                   - Trà Thái Nguyên\n\
                   * Gạo sen\n  thu hái buổi sáng\n\n\
                   ### Cách pha\n\
                   1. Tráng ấm\n\
                   2) Pha nước 85°C\n\n\
                   3. Thêm\n\
                   Đoạn cuối";
        let expected = "<h3>Trà sen Tây Hồ</h3>\n\
                        <p>Ướp từ sen Hồ Tây.<br>\nMỗi bông một nắm trà.</p>\n\
                        <h4>Thành phần</h4>\n\
                        <ul>\n<li>Trà Thái Nguyên</li>\n<li>Gạo sen<br>\nthu hái buổi sáng</li>\n</ul>\n\
                        <h5>Cách pha</h5>\n\
                        <ol>\n<li>Tráng ấm</li>\n<li>Pha nước 85°C</li>\n</ol>\n\
                        <ol start=\"3\">\n<li>Thêm</li>\n</ol>\n\
                        <p>Đoạn cuối</p>";
        let html = to_html(src);
        assert_eq!(html, expected);
        assert_safe(&html);
        assert_eq!(to_html(&src.replace('\n', "\r\n")), expected);
    }

    #[test]
    fn not_blocks() {
        assert_eq!(to_html("#hashtag"), "<p>#hashtag</p>");
        assert_eq!(to_html("#### bốn"), "<p>#### bốn</p>");
        assert_eq!(to_html("-5 độ"), "<p>-5 độ</p>");
        assert_eq!(to_html("0912.345.678"), "<p>0912.345.678</p>");
        assert_eq!(to_html(""), "");
        assert_eq!(to_html("\n \n\t\n"), "");
    }

    #[test]
    fn emphasis() {
        assert_eq!(
            to_html("**đậm** và *nghiêng* và _cũng nghiêng_"),
            "<p><strong>đậm</strong> và <em>nghiêng</em> và <em>cũng nghiêng</em></p>"
        );
        assert_eq!(
            to_html("***cả hai***"),
            "<p><strong><em>cả hai</em></strong></p>"
        );
        assert_eq!(
            to_html("*nghiêng **và đậm** nữa*"),
            "<p><em>nghiêng <strong>và đậm</strong> nữa</em></p>"
        );
        assert_eq!(to_html("ten_san_pham_moi"), "<p>ten_san_pham_moi</p>");
        assert_eq!(to_html("2 * 3 * 4"), "<p>2 * 3 * 4</p>");
        assert_eq!(to_html("\\*không nghiêng\\*"), "<p>*không nghiêng*</p>");
        assert_eq!(to_html("**a\nb**"), "<p><strong>a<br>\nb</strong></p>");
    }

    #[test]
    fn unclosed_and_nested_markers_do_not_panic() {
        for src in [
            "**",
            "***",
            "****",
            "*",
            "_",
            "__",
            "**a",
            "*a",
            "_a",
            "a**",
            "[",
            "[a",
            "[a]",
            "[a](",
            "[a](http://x",
            "**[a**](/b)",
            "*[a*](/b)",
            "[*a](/b)*",
            "\\",
            "a\\",
            "**_*_**",
            "*_**_*",
            "[[[[]]]]",
            "((()))",
            "](",
            "1.",
            "- ",
            "#",
            "# ",
            "***a**",
            "**a***",
            "_a*b_c*",
            "\\[a](/b)",
            "[a\\](/b)",
            "[a](/b\\)",
        ] {
            let html = to_html(src);
            assert_safe(&html);
            let _ = to_plain(src, 10);
        }
        let deep = "**_*[".repeat(2_000);
        assert_safe(&to_html(&deep));
        let stars = "*".repeat(100_001);
        assert_safe(&to_html(&stars));
        let brackets = "[".repeat(50_000);
        assert_safe(&to_html(&brackets));
    }

    #[test]
    fn vietnamese_is_preserved() {
        let s = "Đặc sản Đà Lạt: dâu tây, atisô, mứt gừng — giá rẻ!";
        assert_eq!(to_html(s), format!("<p>{s}</p>"));
        assert_eq!(to_plain(s, 500), s);
        // Decomposed input comes out composed (NFC).
        assert_eq!(to_html("Hue\u{302}\u{301}"), "<p>Huế</p>");
    }

    #[test]
    fn plain_text() {
        let src = "# Trà sen\n**Thơm** [ngon](https://a.vn) và <rẻ>\n\n- một\n- hai\n\n\
                   [xấu](javascript:x) \\*";
        assert_eq!(
            to_plain(src, 200),
            "Trà sen Thơm ngon và <rẻ> một hai xấu *"
        );
    }

    #[test]
    fn plain_truncates_at_word_boundary() {
        let s = "Cà phê sữa đá Sài Gòn, đậm đà khó quên";
        assert_eq!(to_plain(s, 100), s);
        assert_eq!(to_plain(s, s.chars().count()), s);
        assert_eq!(to_plain(s, 12), "Cà phê sữa…");
        assert_eq!(to_plain(s, 23), "Cà phê sữa đá Sài Gòn…");
        assert_eq!(to_plain(s, 14), "Cà phê sữa đá…");
        assert_eq!(to_plain("Siêudàikhôngcókhoảngtrắng", 6), "Siêud…");
        assert_eq!(to_plain(s, 1), "…");
        assert_eq!(to_plain(s, 0), "");
    }

    fn markdownish() -> impl Strategy<Value = String> {
        "([a-zđàáạảãâầấậẩẫăằắặẳẵ <>\"'&/=:.()\\[\\]*_#\\-\\\\\n1]|https://|javascript:|\
         <script>|\\]\\(|\\*\\*|\n\n|- |# |1\\. ){0,60}"
    }

    proptest! {
        #[test]
        fn prop_html_only_allowed_tags_any(s in any::<String>()) {
            let html = to_html(&s);
            prop_assert!(check_html(&html).is_ok(), "{:?}", check_html(&html));
        }

        #[test]
        fn prop_html_only_allowed_tags_markdownish(s in markdownish()) {
            let html = to_html(&s);
            prop_assert!(check_html(&html).is_ok(), "{:?}", check_html(&html));
            let plain = to_plain(&s, 40);
            prop_assert!(plain.chars().count() <= 40);
            prop_assert!(!plain.contains("  ") && plain.trim() == plain);
            // Plain text never gains markup: no `<` unless the source had one.
            let no_lt = s.replace('<', "");
            prop_assert!(!to_plain(&no_lt, 1_000).contains('<'));
        }

        #[test]
        fn prop_plain_length(s in any::<String>(), max in 0usize..80) {
            let plain = to_plain(&s, max);
            prop_assert!(plain.chars().count() <= max);
        }
    }
}
