//! The shapes of the desk's short texts (ids, names, codes) in one place. The validators check
//! a text against its shape and the OpenAPI document states the same shape (the `*_schema`
//! functions, used with `#[schema(schema_with = …)]`), so the two cannot drift apart: what the
//! document calls valid, the server accepts.
//!
//! Patterns use only what JSON Schema's ECMA-262 regexes and Rust's `regex` read alike
//! (ASCII classes, no look-around), and lengths count characters in both.

use crate::error::{problem, FieldProblem};
use regex::Regex;
use std::sync::LazyLock;

/// A text shape: a pattern, a length range and what to tell people who miss it.
pub struct Shape {
    pattern: &'static str,
    regex: LazyLock<Regex>,
    min: usize,
    max: usize,
    /// The rule in words, e.g. "1-64 letters, digits, '-' or '_'".
    pub says: &'static str,
}

macro_rules! shape {
    ($(#[$doc:meta])* $name:ident, $pattern:literal, $min:literal..=$max:literal, $says:literal) => {
        $(#[$doc])*
        pub static $name: Shape = Shape {
            pattern: $pattern,
            // The pattern is a literal checked by this module's tests.
            regex: LazyLock::new(|| Regex::new($pattern).expect("shape patterns compile")),
            min: $min,
            max: $max,
            says: $says,
        };
    };
}

shape!(
    /// Account ids, billing-schedule names and other keys people type: `ACME-EUR`.
    ID, "^[A-Za-z0-9_-]+$", 1..=64, "1-64 letters, digits, '-' or '_'"
);
shape!(
    /// User names: `ada`, `rita.requester@example.com`.
    USER_NAME, "^[A-Za-z0-9_.@-]+$", 1..=64, "1-64 letters, digits or - _ . @"
);
shape!(
    /// Token names: `billing-portal`, `ci token 2`; at least one character is not a space.
    TOKEN_NAME, "^ *[A-Za-z0-9_.-][A-Za-z0-9 _.-]*$", 1..=64,
    "1-64 letters, digits, spaces or - _ . (not only spaces)"
);
shape!(
    /// Invoice and credit-note number series: `INV`, `CN2`.
    SERIES, "^[A-Z0-9]+$", 1..=10, "1-10 capital letters or digits"
);
shape!(
    /// An `Idempotency-Key` header: visible ASCII, spaces only inside (HTTP drops them at the
    /// ends).
    IDEMPOTENCY_KEY, "^[!-~]([ -~]*[!-~])?$", 1..=255,
    "1 to 255 visible ASCII characters (spaces only inside)"
);
shape!(
    /// A calendar month: `2027-01`.
    MONTH, "^(19[7-9][0-9]|[2-9][0-9]{3})-(0[1-9]|1[0-2])$", 7..=7,
    "a month as YYYY-MM from 1970-01 on, e.g. 2027-01"
);
shape!(
    /// Free text that must say something: a name, a segment, a reason.
    TEXT,
    "^[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*[^\\x00-\\x20\\x7F-\\x9F][^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\x7F-\\x9F]*$",
    1..=2000,
    "1-2000 characters, not only spaces, no control characters but tabs and line breaks"
);

shape!(
    /// A callback URL: absolute http(s), an ASCII host name or IPv4 address (no IPv6
    /// literal: a name serves, and brackets trip common URL parsers), an optional port, then
    /// anything without spaces or control characters (Cc and what Rust calls white space).
    CALLBACK,
    "^https?://(?:[A-Za-z0-9._~%!$&'()*+,;=:-]*@)?[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?#][^\\x00-\\x20\\x7F-\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]*)?$",
    1..=2000,
    "an absolute http(s) URL with a host name, such as https://crm.example.net/events"
);

impl Shape {
    /// A problem at `path` under `rule` unless `text` has this shape: "`text` must be …".
    pub fn check(&self, path: &str, rule: &'static str, text: &str) -> Option<FieldProblem> {
        (!self.fits(text)).then(|| problem(path, rule, format!("{text:?} must be {}", self.says)))
    }

    /// The most characters a text of this shape has.
    pub fn max_chars(&self) -> usize {
        self.max
    }

    /// Whether `text` has this shape.
    pub fn fits(&self, text: &str) -> bool {
        (self.min..=self.max).contains(&text.chars().count()) && self.regex.is_match(text)
    }

    /// The JSON Schema of a string of this shape.
    #[cfg(feature = "openapi")]
    pub fn schema(&self) -> utoipa::openapi::Object {
        use utoipa::openapi::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(self.pattern))
            .min_length(Some(self.min))
            .max_length(Some(self.max))
            .description(Some(self.says))
            .build()
    }
}

/// The ISO 3166-1 alpha-2 country codes l2c knows, sorted: `DE`, `FR`, …
pub fn countries() -> &'static [&'static str] {
    static CODES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        let mut codes: Vec<_> = iso_country::data::all()
            .into_iter()
            .map(|c| c.alpha2)
            .collect();
        codes.sort_unstable();
        codes
    });
    &CODES
}

/// Whether `code` is one of [`countries`].
pub fn is_country(code: &str) -> bool {
    countries().binary_search(&code).is_ok()
}

/// The IANA time zone names l2c knows: `Europe/Berlin`, `UTC`, …
pub fn time_zones() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name())
}

/// Whether `name` is one of [`time_zones`] (exactly, no other spelling).
pub fn is_time_zone(name: &str) -> bool {
    name.parse::<chrono_tz::Tz>()
        .is_ok_and(|zone| zone.name() == name)
}

#[cfg(feature = "openapi")]
mod schemas {
    //! The `schema_with` functions of the document: one per shape or code list.
    use super::*;
    use utoipa::openapi::{Object, ObjectBuilder, Type};

    /// A string that is one of `codes`.
    pub fn codes_schema(codes: impl IntoIterator<Item = &'static str>, says: &str) -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(codes))
            .description(Some(says))
            .build()
    }

    /// [`ID`].
    pub fn id_schema() -> Object {
        ID.schema()
    }
    /// [`USER_NAME`].
    pub fn user_name_schema() -> Object {
        USER_NAME.schema()
    }
    /// [`TOKEN_NAME`].
    pub fn token_name_schema() -> Object {
        TOKEN_NAME.schema()
    }
    /// [`SERIES`].
    pub fn series_schema() -> Object {
        SERIES.schema()
    }
    /// [`IDEMPOTENCY_KEY`].
    pub fn idempotency_key_schema() -> Object {
        IDEMPOTENCY_KEY.schema()
    }
    /// [`MONTH`].
    pub fn month_schema() -> Object {
        MONTH.schema()
    }
    /// [`CALLBACK`].
    pub fn callback_schema() -> Object {
        CALLBACK.schema()
    }
    /// [`TEXT`].
    pub fn text_schema() -> Object {
        TEXT.schema()
    }
    /// One of [`countries`].
    pub fn country_schema() -> Object {
        codes_schema(
            countries().iter().copied(),
            "ISO 3166-1 alpha-2 country code, e.g. DE",
        )
    }
    /// One of [`time_zones`].
    pub fn time_zone_schema() -> Object {
        codes_schema(time_zones(), "IANA time zone, e.g. Europe/Berlin")
    }
    /// One of the currencies billing knows ([`l2c_billing::Currency::codes`]).
    pub fn currency_schema() -> Object {
        codes_schema(
            l2c_billing::Currency::codes(),
            "ISO 4217 currency code, e.g. EUR",
        )
    }
}
#[cfg(feature = "openapi")]
pub use schemas::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_accept_and_refuse_what_their_words_say() {
        assert!(ID.fits("ACME-EUR_2"));
        assert!(!ID.fits("") && !ID.fits("ACME EUR") && !ID.fits(&"A".repeat(65)));
        assert!(ID.fits(&"A".repeat(64)));
        assert!(!ID.fits("ACME\n"), "a trailing newline is not at the end");
        assert!(USER_NAME.fits("rita.r@example.com") && !USER_NAME.fits("rita r"));
        assert!(TOKEN_NAME.fits(" ci token 2") && !TOKEN_NAME.fits("   "));
        assert!(!TOKEN_NAME.fits("") && !TOKEN_NAME.fits("tab\there"));
        assert!(IDEMPOTENCY_KEY.fits("order 7") && !IDEMPOTENCY_KEY.fits("tab\tkey"));
        assert!(!IDEMPOTENCY_KEY.fits(" lead") && !IDEMPOTENCY_KEY.fits("caf\u{e9}"));
        assert!(SERIES.fits("INV") && !SERIES.fits("inv") && !SERIES.fits("ABCDEFGHIJK"));
        assert!(MONTH.fits("2027-01") && !MONTH.fits("2027-13") && !MONTH.fits("2027-1"));
        assert!(MONTH.fits("1970-01") && !MONTH.fits("1969-12") && MONTH.fits("9999-12"));
        assert!(TEXT.fits(" a ") && TEXT.fits("line\nbreak\ttab"));
        assert!(
            !TEXT.fits(" \t\n") && !TEXT.fits("") && !TEXT.fits("nul\0") && !TEXT.fits("\u{9f}a")
        );
    }

    #[test]
    fn the_callback_pattern_refuses_exactly_white_space_and_controls() {
        for c in (0..=0x3000u32).filter_map(char::from_u32) {
            let url = format!("https://h/{c}");
            let refused = c.is_whitespace() || c.is_control();
            assert_eq!(CALLBACK.fits(&url), !refused, "{c:?}");
        }
    }

    #[test]
    fn callbacks_name_their_host_plainly() {
        assert!(CALLBACK.fits("http://user:pw@127.0.0.1:8081/hook?x=[1]"));
        for bad in [
            "http://[::1]/",
            "http://[/",
            "http://h:80x/",
            "http://h\u{e9}/",
            "http://a@/",
        ] {
            assert!(!CALLBACK.fits(bad), "{bad}");
        }
    }

    #[test]
    fn code_lists_hold_the_usual_codes_and_nothing_else() {
        assert!(is_country("DE") && is_country("FR") && !is_country("de") && !is_country("XX"));
        assert!(!is_country("DEU"), "alpha-3 codes are not alpha-2");
        assert!(is_time_zone("Europe/Berlin") && is_time_zone("UTC"));
        assert!(!is_time_zone("europe/berlin") && !is_time_zone("Mars/Olympus"));
        assert!(time_zones().all(is_time_zone));
    }
}
