//! Characteristic values and their types, parsed strictly from JSON (orders) or TOML (catalog).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The type of a characteristic's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// A whole number (i64).
    Integer,
    /// An exact decimal number (written as a string or a number).
    Decimal,
    /// Free text, optionally constrained by a pattern.
    String,
    /// true or false.
    Boolean,
    /// One of a fixed list of strings.
    Enumeration,
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            ValueType::Integer => "integer",
            ValueType::Decimal => "decimal",
            ValueType::String => "string",
            ValueType::Boolean => "boolean",
            ValueType::Enumeration => "enumeration",
        })
    }
}

impl ValueType {
    /// Whether values of this type are ordered numbers (min, max and ranges apply).
    pub fn is_numeric(self) -> bool {
        matches!(self, ValueType::Integer | ValueType::Decimal)
    }

    fn article(self) -> &'static str {
        match self {
            ValueType::Integer => "an integer",
            ValueType::Decimal => "a decimal number",
            ValueType::String => "a string",
            ValueType::Boolean => "true or false",
            ValueType::Enumeration => "one of the listed strings",
        }
    }
}

/// A typed characteristic value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// An integer.
    Integer(i64),
    /// A decimal, serialized as exact text.
    Decimal(#[serde(with = "rust_decimal::serde::str")] Decimal),
    /// A string or an enumeration member.
    String(String),
    /// A boolean.
    Boolean(bool),
}

impl Value {
    /// The numeric value, for integers and decimals.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Value::Integer(i) => Some(Decimal::from(*i)),
            Value::Decimal(d) => Some(*d),
            _ => None,
        }
    }

    /// The integer value, for integers.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// Orders two numeric values; `None` for anything else.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        Some(self.as_decimal()?.cmp(&other.as_decimal()?))
    }

    /// Reads `raw` as a value of `ty`, refusing anything that is not exactly that type.
    pub fn parse(ty: ValueType, raw: &serde_json::Value) -> Result<Value, String> {
        use serde_json::Value as J;
        let wrong = || format!("expected {}, got {}", ty.article(), describe(raw));
        match (ty, raw) {
            (ValueType::Integer, J::Number(n)) => n.as_i64().map(Value::Integer).ok_or_else(wrong),
            (ValueType::Decimal, J::Number(n)) if n.is_i64() || n.is_u64() => {
                parse_decimal(&n.to_string()).ok_or_else(wrong)
            }
            // A JSON or TOML fraction has passed through a binary float: 2.0000000000000001
            // would arrive as 2. Only text keeps a decimal exact.
            (ValueType::Decimal, J::Number(n)) => Err(format!(
                "write the decimal {n} as a string, e.g. \"{n}\", to keep it exact"
            )),
            (ValueType::Decimal, J::String(s)) => parse_decimal(s).ok_or_else(wrong),
            (ValueType::String | ValueType::Enumeration, J::String(s)) => {
                Ok(Value::String(s.clone()))
            }
            (ValueType::Boolean, J::Bool(b)) => Ok(Value::Boolean(*b)),
            _ => Err(wrong()),
        }
    }

    /// Reads a TOML value from the catalog file as a value of `ty`.
    pub fn parse_toml(ty: ValueType, raw: &toml::Value) -> Result<Value, String> {
        let json = match raw {
            toml::Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .ok_or_else(|| format!("{f} is not a finite number"))?,
            toml::Value::Integer(i) => serde_json::Value::from(*i),
            toml::Value::String(s) => serde_json::Value::from(s.as_str()),
            toml::Value::Boolean(b) => serde_json::Value::from(*b),
            other => {
                return Err(format!(
                    "expected {}, got {}",
                    ty.article(),
                    other.type_str()
                ))
            }
        };
        Value::parse(ty, &json)
    }
}

fn parse_decimal(text: &str) -> Option<Value> {
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .ok()
        .map(Value::Decimal)
}

fn describe(raw: &serde_json::Value) -> String {
    match raw {
        serde_json::Value::Null => "null".into(),
        serde_json::Value::Array(_) => "a list".into(),
        serde_json::Value::Object(_) => "an object".into(),
        serde_json::Value::String(s) => format!("the string {s:?}"),
        other => other.to_string(),
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Integer(i) => write!(f, "{i}"),
            Value::Decimal(d) => write!(f, "{d}"),
            Value::String(s) => write!(f, "{s}"),
            Value::Boolean(b) => write!(f, "{b}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde_json::json;

    #[test]
    fn parses_each_type_strictly() {
        assert_eq!(
            Value::parse(ValueType::Integer, &json!(100)),
            Ok(Value::Integer(100))
        );
        assert_eq!(
            Value::parse(ValueType::Integer, &json!(1.5)),
            Err("expected an integer, got 1.5".into())
        );
        assert_eq!(
            Value::parse(ValueType::Integer, &json!("100")),
            Err("expected an integer, got the string \"100\"".into())
        );
        assert_eq!(
            Value::parse(ValueType::Decimal, &json!("2.50")),
            Ok(Value::Decimal(dec!(2.50)))
        );
        assert_eq!(
            Value::parse(ValueType::Decimal, &json!(2)),
            Ok(Value::Decimal(dec!(2)))
        );
        assert_eq!(
            Value::parse(ValueType::Decimal, &json!(2.5)),
            Err("write the decimal 2.5 as a string, e.g. \"2.5\", to keep it exact".into())
        );
        assert_eq!(
            Value::parse(ValueType::Boolean, &json!(true)),
            Ok(Value::Boolean(true))
        );
        assert!(Value::parse(ValueType::Boolean, &json!("yes")).is_err());
        assert!(Value::parse(ValueType::String, &json!(null)).is_err());
        assert!(Value::parse(ValueType::Enumeration, &json!(["a"])).is_err());
    }

    #[test]
    fn numeric_values_compare_across_integer_and_decimal() {
        let a = Value::Integer(10);
        let b = Value::Decimal(dec!(10.5));
        assert_eq!(a.compare(&b), Some(Ordering::Less));
        assert_eq!(a.compare(&Value::String("x".into())), None);
    }

    #[test]
    fn toml_values_follow_the_same_rules() {
        assert!(Value::parse_toml(ValueType::Decimal, &toml::Value::Float(0.1)).is_err());
        assert_eq!(
            Value::parse_toml(ValueType::Decimal, &toml::Value::String("0.1".into())),
            Ok(Value::Decimal(dec!(0.1)))
        );
        assert!(Value::parse_toml(ValueType::Integer, &toml::Value::String("1".into())).is_err());
    }
}
