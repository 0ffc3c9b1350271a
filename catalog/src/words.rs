//! A characteristic's rules in words, for the people filling in an order form: "a whole
//! number from 10 to 10000 Mbit/s", "one of 10, 50, 100, 1000", and a text pattern read out
//! from its parsed syntax tree ("3 capital letters, then “-”, then 3 digits").

use crate::model::CharacteristicSpec;
use crate::value::ValueType;
use regex_syntax::hir::{Class, Hir, HirKind};

/// What `spec` accepts, in one sentence.
pub fn rule_words(spec: &CharacteristicSpec) -> String {
    let unit = spec.unit().map_or(String::new(), |u| format!(" {u}"));
    let allowed = spec.allowed();
    if !allowed.is_empty() {
        let list: Vec<String> = allowed.iter().map(ToString::to_string).collect();
        return format!("One of {}{unit}.", list.join(", "));
    }
    let what = match spec.value_type() {
        ValueType::Integer => "A whole number",
        ValueType::Decimal => "A number (decimals allowed)",
        ValueType::Boolean => return "Tick for yes.".to_string(),
        ValueType::String | ValueType::Enumeration => {
            return match spec.pattern() {
                Some(p) => match pattern_words(p) {
                    Some(words) => format!("Text of {words}."),
                    None => format!("Text matching the pattern {p}."),
                },
                None => "Text.".to_string(),
            };
        }
    };
    match spec.bounds() {
        (Some(min), Some(max)) => format!("{what} from {min} to {max}{unit}."),
        (Some(min), None) => format!("{what} of at least {min}{unit}."),
        (None, Some(max)) => format!("{what} of at most {max}{unit}."),
        (None, None) if unit.is_empty() => format!("{what}."),
        (None, None) => format!("{what}, in{unit}."),
    }
}

/// A regular expression in words, or `None` when it uses more than simple sequences of
/// classes, literals and counted repetitions (the form then shows the pattern itself).
pub fn pattern_words(pattern: &str) -> Option<String> {
    let hir = regex_syntax::parse(pattern).ok()?;
    let parts = sequence(&hir)?;
    (!parts.is_empty()).then(|| parts.join(", then "))
}

fn sequence(hir: &Hir) -> Option<Vec<String>> {
    match hir.kind() {
        HirKind::Concat(parts) => {
            let mut words = Vec::new();
            for p in parts {
                words.extend(sequence(p)?);
            }
            Some(words)
        }
        HirKind::Look(_) | HirKind::Empty => Some(Vec::new()),
        HirKind::Capture(c) => sequence(&c.sub),
        _ => Some(vec![piece(hir)?]),
    }
}

fn piece(hir: &Hir) -> Option<String> {
    match hir.kind() {
        HirKind::Literal(l) => Some(format!("“{}”", String::from_utf8_lossy(&l.0))),
        HirKind::Class(c) => Some(format!("1 {}", class_name(c)?)),
        HirKind::Repetition(r) => {
            let HirKind::Class(c) = r.sub.kind() else {
                return None;
            };
            let name = class_name(c)?;
            let count = match (r.min, r.max) {
                (n, Some(m)) if n == m => n.to_string(),
                (0, None) => "any number of".to_string(),
                (1, None) => "1 or more".to_string(),
                (n, None) => format!("at least {n}"),
                (n, Some(m)) => format!("{n} to {m}"),
            };
            let plural = r.max != Some(1);
            Some(format!("{count} {name}{}", if plural { "s" } else { "" }))
        }
        _ => None,
    }
}

fn class_name(class: &Class) -> Option<&'static str> {
    let Class::Unicode(u) = class else {
        return None;
    };
    let ranges: Vec<(char, char)> = u.ranges().iter().map(|r| (r.start(), r.end())).collect();
    let name = match ranges.as_slice() {
        [('0', '9')] => "digit",
        [('A', 'Z')] => "capital letter",
        [('a', 'z')] => "small letter",
        [('A', 'Z'), ('a', 'z')] => "letter",
        [('0', '9'), ('A', 'Z')] => "capital letter or digit",
        [('0', '9'), ('A', 'Z'), ('a', 'z')] => "letter or digit",
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_patterns_read_as_words() {
        assert_eq!(
            pattern_words("[A-Z]{3}-[0-9]{3}").as_deref(),
            Some("3 capital letters, then “-”, then 3 digits")
        );
        assert_eq!(
            pattern_words("^[a-z]{2,8}[0-9]+$").as_deref(),
            Some("2 to 8 small letters, then 1 or more digits")
        );
        assert_eq!(
            pattern_words("[A-Z0-9]").as_deref(),
            Some("1 capital letter or digit")
        );
    }

    #[test]
    fn patterns_beyond_simple_sequences_are_left_to_the_pattern() {
        assert_eq!(pattern_words("(ab|cd)+"), None);
        assert_eq!(pattern_words("[^x]{2}"), None);
        assert_eq!(pattern_words("("), None, "an invalid pattern has no words");
    }
}
