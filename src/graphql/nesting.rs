//! A bound on how deeply a document nests, checked on its text before any
//! parser sees it. GraphQL's parser recurses once per level: a document of
//! 5,000 nested list brackets, 10 KB, overflowed a worker's stack and aborted
//! the whole process. No limit of the schema could stop that, as they all
//! run on the parsed document.

/// Far deeper than any document the depth limit lets run.
pub const MAX_NESTING: usize = 64;

/// Whether `{`, `[` or `(` nest more than `max` levels deep in `document`,
/// outside strings and comments.
pub fn nests_deeper_than(document: &str, max: usize) -> bool {
    let bytes = document.as_bytes();
    let mut depth = 0usize;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'#' => {
                while at < bytes.len() && bytes[at] != b'\n' {
                    at += 1;
                }
            }
            b'"' if bytes[at..].starts_with(b"\"\"\"") => {
                at += 3;
                while at < bytes.len() && !bytes[at..].starts_with(b"\"\"\"") {
                    // `\"""` is an escaped delimiter inside a block string.
                    at += if bytes[at..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                at += 2;
            }
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' && bytes[at] != b'\n' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(open: &str, close: &str, levels: usize) -> String {
        format!("{}x{}", open.repeat(levels), close.repeat(levels))
    }

    #[test]
    fn braces_brackets_and_parentheses_count() {
        for (open, close) in [("{", "}"), ("[", "]"), ("(", ")")] {
            assert!(!nests_deeper_than(&nested(open, close, 64), 64));
            assert!(nests_deeper_than(&nested(open, close, 65), 64));
            assert!(nests_deeper_than(&nested(open, close, 50_000), 64));
        }
        let mixed = "{ a(b: [{ c: [[1]] }]) { d { e } } }";
        assert!(!nests_deeper_than(mixed, 6));
        assert!(nests_deeper_than(mixed, 5));
    }

    #[test]
    fn strings_and_comments_do_not_count() {
        let deep = "[".repeat(100);
        assert!(!nests_deeper_than(&format!("{{ a(s: \"{deep}\") }}"), 4));
        assert!(!nests_deeper_than(
            &format!("{{ a(s: \"\\\"{deep}\") }}"),
            4
        ));
        assert!(!nests_deeper_than(
            &format!("{{ a(s: \"\"\"{deep} \\\"\"\" {deep}\"\"\") }}"),
            4
        ));
        assert!(!nests_deeper_than(&format!("# {deep}\n{{ a }}"), 4));
        // A string left open ends at the line, as the parser's does.
        assert!(nests_deeper_than(&format!("{{ a(s: \"x\n{deep}"), 4));
    }
}
