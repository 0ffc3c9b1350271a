//! The problem answers every operation can give, added to the document in one place so the
//! handlers' annotations list only their own (404, 409, ...) and none forgets the common ones:
//! a token's 401/403, a refused query's 400/422, a body's 413/415/422, the write limit's 429
//! with `Retry-After` and the request timeout's 503. Every 4xx/5xx answer is
//! `application/problem+json` with the `Problem` schema.

use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{Content, Ref, RefOr, Response, Type};
use utoipa::Modify;

/// The modifier (see the module docs).
pub struct Problems;

impl Modify for Problems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let writes = [
                ("post", item.post.as_mut()),
                ("put", item.put.as_mut()),
                ("patch", item.patch.as_mut()),
                ("delete", item.delete.as_mut()),
            ];
            for (method, op) in writes {
                if let Some(op) = op {
                    complete(path, method, op);
                }
            }
            if let Some(op) = item.get.as_mut() {
                complete(path, "get", op);
            }
        }
    }
}

/// Add the common answers `op` can give and make its error answers problems.
fn complete(path: &str, method: &str, op: &mut Operation) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let params = op.parameters.as_deref().unwrap_or_default();
    let has_query = params.iter().any(|p| p.parameter_in == ParameterIn::Query);
    let has_path = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
    let has_body = op.request_body.is_some();
    let mut add = |code: &str, why: &str| {
        op.responses
            .responses
            .entry(code.to_string())
            .or_insert_with(|| RefOr::T(problem(why)));
    };
    if secured {
        add(
            "401",
            "No bearer token, or an unknown, revoked or expired one",
        );
        add("403", "The caller's role may not do this");
        add(
            "503",
            "The request timed out or the database is unavailable",
        );
    }
    if has_query {
        add("400", "A query parameter is malformed or unknown");
        add("422", "A query parameter breaks its rule");
    }
    if has_path && secured {
        add("404", "Not found, or not visible to the caller");
    }
    if has_body {
        add("400", "The body is not well-formed JSON");
        add("413", "The body is too large");
        add("415", "The body is not application/json");
        add(
            "422",
            "A field breaks its rule; every problem names its field",
        );
    }
    if method != "get" && rate_limited(path) {
        let mut limited = problem("Too many writes; wait Retry-After seconds");
        limited.headers.insert(
            "Retry-After".into(),
            Header::new(utoipa::openapi::ObjectBuilder::new().schema_type(Type::Integer)),
        );
        op.responses
            .responses
            .entry("429".into())
            .or_insert(RefOr::T(limited));
    }
    for (code, answer) in op.responses.responses.iter_mut() {
        if let (true, RefOr::T(answer)) = (code.as_str() >= "400", answer) {
            as_problem(answer);
        }
    }
}

/// Writes the per-user write limit counts: orders placed and cancelled, task actions.
fn rate_limited(path: &str) -> bool {
    path.starts_with("/api/v1/orders")
        || path.starts_with("/api/v1/tasks/")
        || path == "/tmf-api/productOrderingManagement/v4/productOrder"
}

/// A problem answer.
fn problem(why: &str) -> Response {
    let mut answer = Response::new(why);
    as_problem(&mut answer);
    answer
}

/// Serve the answer as `application/problem+json` with the `Problem` schema.
fn as_problem(answer: &mut Response) {
    answer.content.clear();
    answer.content.insert(
        "application/problem+json".into(),
        Content::new(Some(Ref::from_schema_name("Problem"))),
    );
}
