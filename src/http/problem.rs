//! RFC 9457 problem details: every error the API returns is `application/problem+json` with a
//! stable `type`, a `title`, the `status`, a `detail` for people and, for validation errors,
//! every field problem with its path and rule. Internal causes are logged, never sent.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use l2c_engine::EngineError;
use l2c_orders::error::{DeskError, FieldProblem};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of problem responses.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:l2c:problem:<kind>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// Field problems (validation errors only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Seconds to wait before retrying (sent as `Retry-After`, rate limits only).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

/// One field that broke a rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// Where, e.g. `items[0].characteristics.bandwidth_mbps`.
    pub path: String,
    /// The rule's stable name, e.g. `range`.
    pub rule: String,
    /// What to do about it.
    pub message: String,
}

impl From<&FieldProblem> for FieldError {
    fn from(p: &FieldProblem) -> Self {
        FieldError {
            path: p.path.clone(),
            rule: p.rule.to_string(),
            message: p.message.clone(),
        }
    }
}

/// The API's error: a problem ready to be sent.
#[derive(Debug)]
pub struct ApiError(pub Problem);

impl ApiError {
    /// A problem of `kind` with `status`.
    pub fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> ApiError {
        ApiError(Problem {
            kind: format!("urn:l2c:problem:{kind}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        })
    }

    /// 422 for a well-formed JSON body that is not what the operation takes.
    pub fn invalid_body(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-body", detail)
    }

    /// 404 for a path no route serves.
    pub fn no_route() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "no such resource; see /api/openapi.json for the API",
        )
    }

    fn validation(problems: &[FieldProblem]) -> ApiError {
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            format!("{} field problem(s); see errors", problems.len()),
        );
        e.0.errors = problems.iter().map(FieldError::from).collect();
        e
    }

    fn internal(context: &str, cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "{context}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; it has been logged",
        )
    }

    fn unavailable(cause: &dyn std::fmt::Display) -> ApiError {
        tracing::warn!(%cause, "database busy");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the database is busy; retry shortly",
        )
    }
}

impl From<DeskError> for ApiError {
    fn from(e: DeskError) -> Self {
        match e {
            DeskError::Validation(p) => ApiError::validation(&p),
            DeskError::BadRequest { rule, message } => {
                // The IETF Idempotency-Key draft answers a key reused with another body 422.
                let status = if rule == "idempotency_key_reused" {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::BAD_REQUEST
                };
                ApiError::new(status, &rule.replace('_', "-"), message)
            }
            DeskError::Unauthenticated(m) => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", m)
            }
            DeskError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            e @ DeskError::NotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "not-found", e.to_string())
            }
            DeskError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            DeskError::RateLimited {
                user,
                retry_after_secs,
            } => {
                let detail = format!(
                    "{user} made too many writes; wait {retry_after_secs} s (Retry-After), \
                     then try again"
                );
                let mut limited =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", detail);
                limited.0.retry_after = Some(retry_after_secs);
                limited
            }
            DeskError::Engine(e) => e.into(),
            DeskError::OutcomeUnknown(m) => {
                tracing::error!(%m, "a commit's outcome is unknown");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "outcome-unknown",
                    "the order may or may not have been stored; retry with the same Idempotency-Key",
                )
            }
            e if e.is_transient() => ApiError::unavailable(&e),
            e => ApiError::internal("request failed", &e),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NotFound { what, id } => ApiError::new(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("{what} {id} not found"),
            ),
            EngineError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            EngineError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            EngineError::Invalid {
                field,
                rule,
                message,
            } => ApiError::validation(&[l2c_orders::error::problem(field, rule, message)]),
            e if e.is_transient() => ApiError::unavailable(&e),
            e => ApiError::internal("engine call failed", &e),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let (status, kind) = match &r {
            JsonRejection::JsonDataError(_) => return ApiError::invalid_body(r.body_text()),
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed-json"),
            JsonRejection::MissingJsonContentType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "content-type")
            }
            _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large")
            }
            _ => (StatusCode::BAD_REQUEST, "unreadable-body"),
        };
        ApiError::new(status, kind, r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "path", r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "query", r.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(&self.0)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.0.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Results of API handlers.
pub type ApiResult<T> = Result<T, ApiError>;
