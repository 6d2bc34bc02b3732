//! The names people give programs, integrations, gates and client keys: text
//! a console shows as it is meant to read, unique in its workspace however it
//! is spelt. Two names are the same when their keys are equal: NFKC, full
//! Unicode case folding, NFKC again (folding can leave text unnormalized),
//! without the characters that render as nothing.

use unicode_normalization::UnicodeNormalization as _;

use super::RuleViolation;

pub const MAX_NAME_CHARS: usize = 100;

/// A valid name: the text as given (trimmed), and the key its uniqueness is
/// stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub key: String,
}

/// The embedding, override and isolate controls that reorder what follows
/// them ("Trojan Source", CVE-2021-42574): a name could read as another.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Format characters that render as nothing: zero-width space, joiners,
/// direction marks, word joiner and invisible operators, the BOM, soft
/// hyphen and variation selectors. Joiners belong inside emoji and some
/// scripts, so they are allowed there, but a name of nothing else is blank,
/// and the key leaves them out.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
    )
}

/// Trims the name and checks it is something a console can show
/// unambiguously. Every refusal is on the field `name`.
pub fn validate_name(text: &str) -> Result<Name, RuleViolation> {
    let invalid = |message: String| RuleViolation::invalid_input("name", message);
    let text = text.trim();
    if text.starts_with('\u{FEFF}') {
        return Err(invalid(
            "must not start with a byte order mark (U+FEFF)".into(),
        ));
    }
    if text.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
        return Err(invalid("must not be blank".into()));
    }
    if text.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(format!(
            "must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid("must not contain control characters".into()));
    }
    if let Some(control) = text.chars().find(|c| is_bidi_control(*c)) {
        return Err(invalid(format!(
            "must not contain bidirectional controls (U+{:04X})",
            u32::from(control)
        )));
    }
    Ok(Name {
        text: text.to_owned(),
        key: name_key(text),
    })
}

/// The form under which names are compared: "PROGA", "progA" and "ｐｒｏｇＡ"
/// share one key.
pub fn name_key(text: &str) -> String {
    let compatible: String = text.nfkc().filter(|c| !is_invisible(*c)).collect();
    unicase::UniCase::unicode(compatible)
        .to_folded_case()
        .nfkc()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(text: &str) -> String {
        match validate_name(text) {
            Err(RuleViolation::InvalidInput { field, message }) => {
                assert_eq!(field, "name");
                message
            }
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn names_are_trimmed_and_keep_their_spelling() {
        let name = validate_name("  Shop  ").unwrap();
        assert_eq!(name.text, "Shop");
        assert_eq!(name.key, "shop");
    }

    #[test]
    fn blank_long_and_control_names_are_refused() {
        for bad in ["", "   ", "a\nb", "tab\there", "nul\0"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_name(&"x".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(validate_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
    }

    #[test]
    fn bidirectional_controls_are_refused() {
        for control in ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}') {
            let message = refusal(&format!("Shop{control}gnikcart"));
            assert!(message.contains("bidirectional"), "{control:?}: {message}");
        }
    }

    #[test]
    fn invisible_only_and_bom_led_names_are_refused() {
        for invisible in [
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}",
            " \u{2060} ",
            "\u{00AD}",
        ] {
            assert_eq!(refusal(invisible), "must not be blank", "{invisible:?}");
        }
        assert!(refusal("\u{FEFF}Shop").contains("byte order mark"));
        assert!(refusal(" \u{FEFF}Shop").contains("byte order mark"));
        // A joiner inside an emoji sequence or a word is part of it.
        assert!(validate_name("Team \u{1F468}\u{200D}\u{1F469}").is_ok());
        assert!(
            validate_name("\u{0645}\u{06CC}\u{200C}\u{062E}\u{0648}\u{0627}\u{0647}\u{0645}")
                .is_ok()
        );
    }

    #[test]
    fn keys_ignore_case_compatibility_forms_and_invisible_characters() {
        let key = name_key("progA");
        for same in [
            "PROGA",
            "proga",
            "\u{FF30}\u{FF32}\u{FF2F}\u{FF27}\u{FF21}", // fullwidth
            "prog\u{200B}A",
            "pro\u{00AD}gA",
        ] {
            assert_eq!(name_key(same), key, "{same:?}");
        }
        assert_eq!(name_key("Straße"), name_key("STRASSE"));
        assert_eq!(name_key("ﬁle"), name_key("FILE"));
        assert_eq!(name_key("\u{0041}\u{030A}"), name_key("\u{00C5}"));
        assert_eq!(name_key("\u{212B}"), name_key("å"));
        assert_ne!(name_key("Shop"), name_key("Shops"));
    }
}
