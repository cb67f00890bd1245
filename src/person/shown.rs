//! Make-supplied text (names, types) as a question to the person shows it.
//!
//! A name is chosen by whoever created or renamed the object, which may be the model
//! itself. Shown raw, a newline or a bidirectional override could make the question read
//! differently from what it asks ("… (id 1003, http)? It is unused and safe to remove"),
//! or push the real id out of view. [`quoted`] shows every such character as a visible
//! escape and clips the text; the questions state the object's id and type before it.

/// Most characters a quoted Make string takes in a question, escapes included.
pub(crate) const MAX_SHOWN_CHARS: usize = 80;

/// `text` in double quotes, safe to show inside a question: control characters (C0, DEL,
/// C1), line and paragraph separators, bidirectional formatting characters and invisible
/// format characters as `\n`, `\t`, `\r` or `\u{…}`; `"` and `\` escaped so the quotes
/// cannot be closed early; clipped to [`MAX_SHOWN_CHARS`] shown characters (never inside
/// an escape) with `…` when cut.
pub(crate) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_SHOWN_CHARS * 4) + 4);
    out.push('"');
    let mut shown = 0;
    let mut escape = String::new();
    for c in text.chars() {
        escape.clear();
        match c {
            '\n' => escape.push_str("\\n"),
            '\r' => escape.push_str("\\r"),
            '\t' => escape.push_str("\\t"),
            '"' => escape.push_str("\\\""),
            '\\' => escape.push_str("\\\\"),
            c if hidden(c) => escape.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => escape.push(c),
        }
        let width = escape.chars().count();
        if shown + width > MAX_SHOWN_CHARS {
            out.push('…');
            break;
        }
        shown += width;
        out.push_str(&escape);
    }
    out.push('"');
    out
}

/// A type or other identifier-like Make string: as it is when it is a plain identifier
/// (letters, digits, `#`, `_`, `-`, `.`, at most [`MAX_SHOWN_CHARS`]), else [`quoted`].
pub(crate) fn identifier(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '#' | '_' | '-' | '.');
    if !text.is_empty() && text.len() <= MAX_SHOWN_CHARS && text.chars().all(plain) {
        text.to_string()
    } else {
        quoted(text)
    }
}

/// Characters that change how the text around them reads, or that cannot be seen.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{061c}' | '\u{200e}' | '\u{200f}' // bidi marks
            | '\u{202a}'..='\u{202e}' // bidi embeddings and overrides
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{200b}' | '\u{2060}' | '\u{feff}' // zero-width space, word joiner, BOM
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No character of `shown` is one a question must not carry raw.
    fn assert_visible(shown: &str) {
        assert!(!shown.chars().any(hidden), "{shown:?}");
    }

    #[test]
    fn a_plain_name_is_only_quoted() {
        assert_eq!(
            quoted("Slack (Acme workspace)"),
            "\"Slack (Acme workspace)\""
        );
        assert_eq!(quoted("Zürich 東京 ✓"), "\"Zürich 東京 ✓\"");
        assert_eq!(identifier("slack3"), "slack3");
        assert_eq!(identifier("app#my-app.v2"), "app#my-app.v2");
    }

    #[test]
    fn newlines_and_other_controls_are_escaped() {
        let shown = quoted("Slack\n(id 1003, http)? It is unused\r\tand\u{1b}[2K\u{85}\u{7f}");
        assert_eq!(
            shown,
            r#""Slack\n(id 1003, http)? It is unused\r\tand\u{1b}[2K\u{85}\u{7f}""#
        );
        assert_visible(&shown);
        let shown = quoted("a\u{2028}b\u{2029}c");
        assert_eq!(shown, r#""a\u{2028}b\u{2029}c""#);
    }

    #[test]
    fn a_bidi_override_is_escaped() {
        let shown = quoted("evil\u{202e}ptth ,3001 di");
        assert_eq!(shown, r#""evil\u{202e}ptth ,3001 di""#);
        for c in [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{200e}', '\u{200f}', '\u{061c}',
        ] {
            assert_eq!(quoted(&c.to_string()), format!("\"\\u{{{:x}}}\"", c as u32));
        }
    }

    #[test]
    fn bidi_isolates_are_escaped() {
        let shown = quoted("x\u{2066}y\u{2067}z\u{2068}w\u{2069}");
        assert_eq!(shown, r#""x\u{2066}y\u{2067}z\u{2068}w\u{2069}""#);
        assert_visible(&shown);
    }

    #[test]
    fn quotes_cannot_be_closed_early() {
        assert_eq!(quoted(r#"a"? Yes \"#), r#""a\"? Yes \\""#);
    }

    #[test]
    fn a_long_name_is_clipped_on_a_character_boundary() {
        let long = "é".repeat(200);
        let shown = quoted(&long);
        assert_eq!(shown, format!("\"{}…\"", "é".repeat(MAX_SHOWN_CHARS)));
        // Escapes count as what they show, and are never cut in half.
        let shown = quoted(&"\u{202e}".repeat(100));
        let inner = shown.trim_matches('"').trim_end_matches('…');
        assert_eq!(inner, r"\u{202e}".repeat(MAX_SHOWN_CHARS / 8));
        assert!(shown.ends_with("…\""), "{shown}");
        assert_eq!(
            quoted(&"x".repeat(MAX_SHOWN_CHARS)),
            format!("\"{}\"", "x".repeat(80))
        );
    }

    #[test]
    fn an_identifier_that_is_not_plain_is_quoted() {
        assert_eq!(identifier("http\n(id 1)"), r#""http\n(id 1)""#);
        assert_eq!(identifier(""), "\"\"");
        assert_eq!(
            identifier(&"a".repeat(81)),
            format!("\"{}…\"", "a".repeat(80))
        );
    }
}
