//! Conditions and expressions in definitions: CEL (Common Expression Language) via the `cel`
//! crate, compiled once at load and evaluated against an instance's `input` and `output`.
//!
//! `input` is what the instance was started with (the order, or one order item); `output` is
//! the merge of everything its completed stages returned. No other variable exists, and the
//! loader refuses an expression that names one, so a typo is caught before anything runs.

mod reads;

use reads::Reads;
use serde_json::Value as Json;
use std::fmt;
use std::sync::Arc;

thread_local! {
    static ROOT: cel::Context<'static, 'static> = cel::Context::default();
}

/// The variables an expression may use.
pub const VARIABLES: [&str; 2] = ["input", "output"];

/// A compiled CEL expression with its source text.
#[derive(Clone)]
pub struct Expr {
    source: String,
    program: Arc<cel::Program>,
    /// What it reads of `input` and `output` (see [`reads`]): only that is converted for
    /// CEL, which costs as much as the value converted is large.
    reads: Arc<[Reads; 2]>,
    /// For a plain field path (`input.items`), the path: read from the JSON without CEL.
    path: Option<Arc<(usize, Vec<String>)>>,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({:?})", self.source)
    }
}

impl Expr {
    /// Compiles an expression; the error says what is wrong (syntax, or an unknown variable).
    pub fn compile(source: &str) -> Result<Expr, String> {
        let program = cel::Program::compile(source).map_err(|e| e.to_string())?;
        let references = program.references();
        let mut bound = std::collections::BTreeSet::new();
        reads::bound_names(&program.expression().expr, &mut bound);
        let unknown: Vec<&str> = references
            .variables()
            .into_iter()
            .filter(|v| !VARIABLES.contains(v) && !bound.contains(*v))
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "unknown variable(s) {}; an expression can use only `input` and `output`",
                unknown.join(", ")
            ));
        }
        let reads = Arc::new(reads::reads(program.expression()));
        let path = reads::plain_path(program.expression()).map(Arc::new);
        Ok(Expr {
            source: source.to_string(),
            program: Arc::new(program),
            reads,
            path,
        })
    }

    /// The expression as written in the definition.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates to a JSON value.
    pub fn eval(
        &self,
        input: &serde_json::Value,
        output: &serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let vars = [input, output];
        if let Some(path) = &self.path {
            let (var, fields) = path.as_ref();
            let mut value = vars[*var];
            for field in fields {
                value = value
                    .get(field)
                    .ok_or_else(|| format!("`{}` failed: No such key: {field}", self.source))?;
            }
            return Ok(value.clone());
        }
        // A root context builds CEL's whole standard library; build it once per thread and
        // give each evaluation a child scope with the variables it reads.
        let value = ROOT.with(|root| {
            let mut context = root.new_inner_scope();
            for ((name, value), reads) in VARIABLES.iter().zip(vars).zip(self.reads.iter()) {
                if let Some(v) = partial(value, reads) {
                    context.add_variable_from_value(*name, v);
                }
            }
            self.program.execute(&context)
        });
        let value = value.map_err(|e| format!("`{}` failed: {e}", self.source))?;
        value
            .json()
            .map_err(|e| format!("`{}` gave a value JSON cannot hold: {e}", self.source))
    }

    /// Evaluates a condition; anything but a boolean is an error, never silently false.
    pub fn eval_bool(
        &self,
        input: &serde_json::Value,
        output: &serde_json::Value,
    ) -> Result<bool, String> {
        match self.eval(input, output)? {
            serde_json::Value::Bool(b) => Ok(b),
            other => Err(format!(
                "`{}` must give true or false, gave {other}",
                self.source
            )),
        }
    }
}

/// JSON to CEL with every integer that fits an `int` as an `int`: serde_json keeps
/// non-negative numbers unsigned, and CEL refuses arithmetic between `uint` and the `int`
/// literals people write (`5 * input.bandwidth`).
/// The part of `value` an expression reads, as a CEL value (`None`: it reads nothing).
fn partial(value: &Json, reads: &Reads) -> Option<cel::Value> {
    match (reads, value) {
        (Reads::Nothing, _) => None,
        (Reads::Fields(fields), Json::Object(map)) => {
            let entries: std::collections::HashMap<String, cel::Value> = fields
                .iter()
                .filter_map(|f| map.get(f).map(|v| (f.clone(), to_cel(v))))
                .collect();
            Some(cel::Value::from(entries))
        }
        (_, value) => Some(to_cel(value)),
    }
}

fn to_cel(value: &serde_json::Value) -> cel::Value {
    use serde_json::Value as J;
    match value {
        J::Null => cel::Value::Null,
        J::Bool(b) => cel::Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => cel::Value::Int(i),
            (None, Some(u), _) => cel::Value::UInt(u),
            (None, None, Some(f)) => cel::Value::Float(f),
            (None, None, None) => cel::Value::Null,
        },
        J::String(s) => cel::Value::String(std::sync::Arc::new(s.clone())),
        J::Array(items) => {
            cel::Value::List(std::sync::Arc::new(items.iter().map(to_cel).collect()))
        }
        J::Object(map) => {
            let entries: std::collections::HashMap<String, cel::Value> =
                map.iter().map(|(k, v)| (k.clone(), to_cel(v))).collect();
            cel::Value::from(entries)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_partial_reads_give_what_cel_gives() {
        let input = json!({"order": {"big": true}, "items": [{"q": {"a": "1.50"}}], "n": 3});
        let path = Expr::compile("input.items").expect("compiles");
        assert_eq!(
            path.eval(&input, &json!({})),
            Ok(json!([{"q": {"a": "1.50"}}]))
        );
        let missing = Expr::compile("input.order.nope").expect("compiles");
        assert!(
            missing.eval(&input, &json!({})).is_err(),
            "a missing key is an error"
        );
        let partial = Expr::compile("input.order.big && !has(input.absent) && input.n > 2")
            .expect("compiles");
        assert_eq!(partial.eval_bool(&input, &json!({})), Ok(true));
        let whole = Expr::compile("size(input) == 3 && input.items.all(i, has(i.q))")
            .expect("macros bind their own names");
        assert_eq!(whole.eval_bool(&input, &json!({})), Ok(true));
    }

    #[test]
    fn conditions_see_input_and_output() {
        let e = Expr::compile("input.mrc > 1000 && output.feasible").expect("compiles");
        let input = json!({"mrc": 1500});
        assert_eq!(e.eval_bool(&input, &json!({"feasible": true})), Ok(true));
        assert_eq!(e.eval_bool(&input, &json!({"feasible": false})), Ok(false));
    }

    #[test]
    fn unknown_variables_and_bad_syntax_are_refused() {
        let err = Expr::compile("order.mrc > 1").expect_err("unknown variable");
        assert!(err.contains("order"), "{err}");
        assert!(Expr::compile("input.mrc >").is_err());
        let err = Expr::compile("input.items.all(i, i > limit)").expect_err("limit is free");
        assert!(err.contains("limit") && !err.contains("i,"), "{err}");
    }

    #[test]
    fn a_non_boolean_condition_is_an_error() {
        let e = Expr::compile("input.mrc").expect("compiles");
        let err = e
            .eval_bool(&json!({"mrc": 3}), &json!({}))
            .expect_err("int");
        assert!(err.contains("true or false"), "{err}");
    }

    #[test]
    fn json_integers_take_part_in_int_arithmetic() {
        let e = Expr::compile("input.new >= 5 * input.old && input.old + 1 > 0").expect("compiles");
        assert_eq!(
            e.eval_bool(&json!({"new": 500, "old": 100}), &json!({})),
            Ok(true)
        );
        assert_eq!(
            e.eval_bool(&json!({"new": 499, "old": 100}), &json!({})),
            Ok(false)
        );
        let big = Expr::compile("input.n > 0").expect("compiles");
        assert_eq!(big.eval_bool(&json!({"n": u64::MAX}), &json!({})), Ok(true));
    }

    #[test]
    fn lists_come_back_as_json() {
        let e = Expr::compile("input.items").expect("compiles");
        let v = e.eval(&json!({"items": [{"a": 1}, {"a": 2}]}), &json!({}));
        assert_eq!(v, Ok(json!([{"a": 1}, {"a": 2}])));
    }
}
