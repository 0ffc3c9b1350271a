//! What an expression reads of `input` and `output`, found once from its syntax tree so that
//! evaluating it converts no more JSON to CEL values than it needs. An order's input carries
//! every item with its quote; a condition such as `input.order.needs_commercial_approval`
//! reads one small object of it.

use super::VARIABLES;
use cel::common::ast::{Expr as Ast, IdedExpr};
use std::collections::BTreeSet;

/// How an expression reads one variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Reads {
    /// Not at all.
    Nothing,
    /// Only these top-level fields (`input.order`, `has(input.x)`).
    Fields(BTreeSet<String>),
    /// Whole (passed on as a value, or read inside a macro).
    Whole,
}

impl Reads {
    fn field(&mut self, name: &str) {
        match self {
            Reads::Nothing => *self = Reads::Fields(BTreeSet::from([name.to_string()])),
            Reads::Fields(fields) => {
                fields.insert(name.to_string());
            }
            Reads::Whole => {}
        }
    }
}

/// The reads of `input` and `output`, in [`VARIABLES`] order.
pub(super) fn reads(expr: &IdedExpr) -> [Reads; 2] {
    let mut reads = [Reads::Nothing, Reads::Nothing];
    collect(&expr.expr, &mut reads);
    reads
}

/// `input.a.b` or `output.a`: the variable's index and the path, for expressions that only
/// select fields (their value is read straight from the JSON).
pub(super) fn plain_path(expr: &IdedExpr) -> Option<(usize, Vec<String>)> {
    let mut path = Vec::new();
    let mut e = &expr.expr;
    loop {
        match e {
            Ast::Select(s) if !s.test => {
                path.push(s.field.clone());
                e = &s.operand.expr;
            }
            Ast::Ident(name) => {
                let i = variable(name)?;
                path.reverse();
                return Some((i, path));
            }
            _ => return None,
        }
    }
}

/// The names macros bind (`all(i, ...)`'s `i`, and their accumulators): they are not free
/// variables of the expression.
pub(super) fn bound_names(e: &Ast, out: &mut BTreeSet<String>) {
    match e {
        Ast::Comprehension(c) => {
            out.insert(c.iter_var.clone());
            out.extend(c.iter_var2.clone());
            out.insert(c.accu_var.clone());
            for sub in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                bound_names(&sub.expr, out);
            }
        }
        Ast::Select(s) => bound_names(&s.operand.expr, out),
        Ast::Call(call) => {
            if let Some(target) = &call.target {
                bound_names(&target.expr, out);
            }
            for arg in &call.args {
                bound_names(&arg.expr, out);
            }
        }
        Ast::List(list) => {
            for element in &list.elements {
                bound_names(&element.expr, out);
            }
        }
        _ => {}
    }
}

fn variable(name: &str) -> Option<usize> {
    VARIABLES.iter().position(|v| *v == name)
}

fn collect(e: &Ast, reads: &mut [Reads; 2]) {
    match e {
        Ast::Select(s) => match &s.operand.expr {
            Ast::Ident(name) => {
                if let Some(i) = variable(name) {
                    reads[i].field(&s.field);
                }
            }
            operand => collect(operand, reads),
        },
        Ast::Ident(name) => {
            if let Some(i) = variable(name) {
                reads[i] = Reads::Whole;
            }
        }
        Ast::Call(call) => {
            if let Some(target) = &call.target {
                collect(&target.expr, reads);
            }
            for arg in &call.args {
                collect(&arg.expr, reads);
            }
        }
        Ast::Literal(_) | Ast::Unspecified => {}
        // Lists, maps, structs and macros (comprehensions, which bind names of their own):
        // whatever variable they use is converted whole.
        Ast::List(_) | Ast::Map(_) | Ast::Struct(_) | Ast::Comprehension(_) => {
            *reads = [Reads::Whole, Reads::Whole];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(source: &str) -> cel::Program {
        cel::Program::compile(source).expect("compiles")
    }

    fn fields(names: &[&str]) -> Reads {
        Reads::Fields(names.iter().map(|n| n.to_string()).collect())
    }

    #[test]
    fn reads_only_what_is_selected() {
        let p = program("input.order.big && !has(input.flag) && output.ok == 1");
        assert_eq!(
            reads(p.expression()),
            [fields(&["flag", "order"]), fields(&["ok"])]
        );
        assert_eq!(
            reads(program("size(input) > 0").expression())[0],
            Reads::Whole
        );
        assert_eq!(
            reads(program("input.items.all(i, i > 0)").expression())[0],
            Reads::Whole
        );
        assert_eq!(
            reads(program("true").expression()),
            [Reads::Nothing, Reads::Nothing]
        );
    }

    #[test]
    fn plain_paths_are_recognised() {
        assert_eq!(
            plain_path(program("input.order.id").expression()),
            Some((0, vec!["order".to_string(), "id".to_string()]))
        );
        assert_eq!(
            plain_path(program("output").expression()),
            Some((1, vec![]))
        );
        assert_eq!(plain_path(program("!input.x").expression()), None);
        assert_eq!(plain_path(program("has(input.x)").expression()), None);
    }
}
