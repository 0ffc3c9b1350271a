//! Hash chains that make rewritten history visible. Each chained row carries
//! `hash = hex(SHA-256(canonical))`, where `canonical` is the compact JSON array of the
//! previous row's hash (`null` for a chain's first row) followed by the row's own fields in a
//! fixed order, each as stored (text as text, JSON columns as their stored text, numbers as
//! integers, absent values as `null`). The owner of the chain keeps its last hash (its head)
//! beside it, so a truncated chain shows too. Anyone with the rows can recompute a chain:
//! nothing secret goes into it.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The hash of a row whose fields are `fields`, following the row hashed `prev`.
pub fn link(prev: Option<&str>, fields: &[Value]) -> String {
    let mut all = Vec::with_capacity(fields.len() + 1);
    all.push(prev.map_or(Value::Null, |p| Value::String(p.to_string())));
    all.extend_from_slice(fields);
    let canonical = Value::Array(all).to_string();
    format!("{:x}", Sha256::digest(canonical.as_bytes()))
}

/// A text field (or `null`).
pub fn text(value: Option<&str>) -> Value {
    value.map_or(Value::Null, |v| Value::String(v.to_string()))
}

/// An integer field (or `null`).
pub fn int(value: Option<i64>) -> Value {
    value.map_or(Value::Null, Value::from)
}

/// A workflow history row's chained fields, in their fixed order: instance, at (ms), event,
/// stage, actor, attempt, data (the stored JSON text).
pub fn history_fields(
    instance_id: &str,
    at: i64,
    event: &str,
    stage: Option<&str>,
    actor: Option<&str>,
    attempt: Option<i64>,
    data: Option<&str>,
) -> [Value; 7] {
    [
        Value::String(instance_id.to_string()),
        Value::from(at),
        Value::String(event.to_string()),
        text(stage),
        text(actor),
        int(attempt),
        text(data),
    ]
}

/// The first place a chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Break {
    /// The table (`wf_history`, `order_events`, `audit_log`).
    pub table: String,
    /// Whose chain: the instance, the order, or `audit`.
    pub chain: String,
    /// The row's id (its `seq`, `id` or `position`); the head's owner when the chain ends
    /// early.
    pub row: String,
    /// Its position in the chain, from 1.
    pub position: u64,
    /// What does not hold.
    pub problem: String,
}

/// Walks one chain's rows in order, as `(id, fields, stored hash)`, against its head.
/// Rows before the first hashed one are history from before hashes were kept; after it,
/// every row must carry the hash that follows from the one before.
pub struct Walk {
    table: &'static str,
    chain: String,
    prev: Option<String>,
    position: u64,
    started: bool,
    /// The first break, once found.
    pub broken: Option<Break>,
}

impl Walk {
    /// A walk over `chain` of `table`.
    pub fn new(table: &'static str, chain: impl Into<String>) -> Walk {
        Walk {
            table,
            chain: chain.into(),
            prev: None,
            position: 0,
            started: false,
            broken: None,
        }
    }

    fn fail(&mut self, row: String, problem: String) {
        if self.broken.is_none() {
            self.broken = Some(Break {
                table: self.table.to_string(),
                chain: self.chain.clone(),
                row,
                position: self.position,
                problem,
            });
        }
    }

    /// The next row.
    pub fn row(&mut self, id: impl ToString, fields: &[Value], hash: Option<&str>) {
        self.position += 1;
        if self.broken.is_some() {
            return;
        }
        let Some(hash) = hash else {
            if self.started {
                self.fail(
                    id.to_string(),
                    "the row has no hash, after rows that do".into(),
                );
            }
            return;
        };
        self.started = true;
        let expected = link(self.prev.as_deref(), fields);
        if expected != hash {
            self.fail(
                id.to_string(),
                "the row does not follow from the one before it: it was changed, or a row \
                 before it was deleted or moved"
                    .into(),
            );
            return;
        }
        self.prev = Some(expected);
    }

    /// Ends the walk against the chain's stored head; returns the first break, if any.
    pub fn end(mut self, head: Option<&str>) -> Option<Break> {
        if self.broken.is_none() && head != self.prev.as_deref() {
            let problem = match head {
                Some(_) => "the chain ends before its head: rows at its end were deleted, \
                            or its head was changed"
                    .to_string(),
                None => {
                    "the chain has rows its owner does not know of (its head is empty)".to_string()
                }
            };
            self.position += 1;
            let chain = self.chain.clone();
            self.fail(chain, problem);
        }
        self.broken
    }
}

/// Walks many chains of one table, their rows grouped by chain and in order within each,
/// against their owners' heads.
pub struct Chains {
    table: &'static str,
    heads: HashMap<String, Option<String>>,
    walk: Option<(String, Walk)>,
    broken: Option<Break>,
}

impl Chains {
    /// The chains of `table` whose owners' heads are `heads` (owner id: last hash).
    pub fn new(table: &'static str, heads: HashMap<String, Option<String>>) -> Chains {
        Chains {
            table,
            heads,
            walk: None,
            broken: None,
        }
    }

    /// The next row, of `chain`; false once a break is found (the rest need not be read).
    pub fn row(
        &mut self,
        chain: &str,
        id: impl ToString,
        fields: &[Value],
        hash: Option<&str>,
    ) -> bool {
        if self.broken.is_some() {
            return false;
        }
        if self.walk.as_ref().is_none_or(|(c, _)| c != chain) {
            self.close();
            self.walk = Some((chain.to_string(), Walk::new(self.table, chain)));
        }
        if let Some((_, w)) = self.walk.as_mut() {
            w.row(id, fields, hash);
            if w.broken.is_some() {
                self.close();
            }
        }
        self.broken.is_none()
    }

    fn close(&mut self) {
        if let Some((chain, walk)) = self.walk.take() {
            let head = self.heads.remove(&chain).flatten();
            if self.broken.is_none() {
                self.broken = walk.end(head.as_deref());
            }
        }
    }

    /// The first break: in a chain walked, or an owner with a head and no rows at all.
    pub fn finish(mut self) -> Option<Break> {
        self.close();
        if self.broken.is_some() {
            return self.broken;
        }
        let mut emptied: Vec<String> = self
            .heads
            .into_iter()
            .filter_map(|(id, head)| head.map(|_| id))
            .collect();
        emptied.sort();
        emptied.into_iter().next().map(|id| Break {
            table: self.table.to_string(),
            chain: id.clone(),
            row: id,
            position: 1,
            problem: "the owner has a head but the chain has no rows: they were deleted".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(rows: &[[Value; 2]]) -> Vec<String> {
        let mut prev: Option<String> = None;
        rows.iter()
            .map(|r| {
                let h = link(prev.as_deref(), r);
                prev = Some(h.clone());
                h
            })
            .collect()
    }

    #[test]
    fn links_depend_on_the_row_and_the_one_before() {
        let a = link(None, &[json!("x"), json!(1)]);
        assert_eq!(a.len(), 64);
        assert_ne!(a, link(None, &[json!("x"), json!(2)]));
        assert_ne!(a, link(Some("00"), &[json!("x"), json!(1)]));
        assert_ne!(
            link(None, &[json!("1")]),
            link(None, &[json!(1)]),
            "types count"
        );
    }

    #[test]
    fn a_walk_finds_changes_deletions_moves_and_truncations() {
        let rows = [
            [json!("a"), json!(1)],
            [json!("b"), json!(2)],
            [json!("c"), json!(3)],
        ];
        let hashes = chain(&rows);
        let walk = |order: &[usize], changed: Option<usize>, head: &str| {
            let mut w = Walk::new("t", "c1");
            for &i in order {
                let mut fields = rows[i].clone();
                if changed == Some(i) {
                    fields[1] = json!(99);
                }
                w.row(i, &fields, Some(&hashes[i]));
            }
            w.end(Some(head)).map(|b| (b.row, b.position))
        };
        let head = hashes[2].as_str();
        assert_eq!(walk(&[0, 1, 2], None, head), None);
        assert_eq!(walk(&[0, 1, 2], Some(1), head), Some(("1".into(), 2)));
        assert_eq!(walk(&[0, 2], None, head), Some(("2".into(), 2)), "deleted");
        assert_eq!(walk(&[1, 0, 2], None, head), Some(("1".into(), 1)), "moved");
        assert_eq!(
            walk(&[0, 1], None, head),
            Some(("c1".into(), 3)),
            "truncated"
        );
        let mut legacy = Walk::new("t", "c1");
        legacy.row(0, &rows[0], None);
        assert_eq!(legacy.end(None), None, "unhashed rows before hashing began");
    }
}
