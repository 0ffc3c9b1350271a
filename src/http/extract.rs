//! Extractors whose refusals are problems: JSON bodies, path and query parameters, and the
//! caller (a bearer token looked up by its hash).

use super::problem::ApiError;
use super::ApiState;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::header;
use axum::http::request::Parts;
use l2c_orders::error::DeskError;
use l2c_orders::users::{Role, User};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

/// A JSON body, which must be an object; malformed JSON, a wrong content type, another kind
/// of value, unknown fields or an oversized body become 4xx problems.
pub struct ApiJson<T>(pub T);

/// Every body the API takes is an object, as the document says. serde would also read a
/// struct from an array of its fields in order (`[null, null]`), so that is refused first.
fn object<T: DeserializeOwned>(raw: &RawValue) -> Result<ApiJson<T>, ApiError> {
    let text = raw.get();
    if !text.trim_start().starts_with('{') {
        return Err(ApiError::invalid_body("the body must be a JSON object"));
    }
    serde_json::from_str(text).map(ApiJson).map_err(|e| {
        ApiError::invalid_body(format!(
            "Failed to deserialize the JSON body into the target type: {e}"
        ))
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(raw) =
            <axum::Json<Box<RawValue>> as FromRequest<S>>::from_request(req, state).await?;
        object(&raw)
    }
}

/// An optional JSON body: absent when the request has no `Content-Type` (an empty POST).
impl<S: Send + Sync, T: DeserializeOwned> OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        let body: Option<axum::Json<Box<RawValue>>> =
            <axum::Json<Box<RawValue>> as OptionalFromRequest<S>>::from_request(req, state).await?;
        body.map(|axum::Json(raw)| object(&raw)).transpose()
    }
}

/// Path parameters.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(ApiPath(value))
    }
}

/// Query parameters.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(value))
    }
}

/// The authenticated caller (`Authorization: Bearer <token>`).
pub struct Caller(pub User);

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthenticated("send Authorization: Bearer <token>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthenticated("the Authorization header must be Bearer <token>"))?;
        let user = state
            .app
            .access
            .caller(&state.app.db, token, crate::access::wall_now())
            .await?
            .ok_or_else(|| unauthenticated("unknown, expired or revoked token"))?;
        Ok(Caller(user))
    }
}

fn unauthenticated(message: &str) -> ApiError {
    DeskError::Unauthenticated(message.into()).into()
}

impl Caller {
    /// The caller, if their role is one of `roles`; else 403.
    pub fn require(&self, roles: &[Role]) -> Result<&User, ApiError> {
        Ok(require(&self.0, roles)?)
    }
}

/// `user`, if their role is one of `roles`; else a refusal naming the roles (the web desk
/// checks its pages with the same role sets, [`Roles`]).
pub fn require<'u>(user: &'u User, roles: &[Role]) -> Result<&'u User, DeskError> {
    if roles.contains(&user.role) {
        Ok(user)
    } else {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(DeskError::Forbidden(format!(
            "{} is a {}; this needs the role {}",
            user.name,
            user.role,
            names.join(" or ")
        )))
    }
}

/// Which roles an endpoint admits.
pub trait Roles {
    /// The roles.
    const ROLES: &'static [Role];
}

/// The caller, admitted only with one of `P`'s roles. As an extractor it runs before the
/// body is read, so other roles get 403 whatever they send.
pub struct Allowed<P>(pub User, pub std::marker::PhantomData<P>);

impl<P: Roles + Send + Sync> FromRequestParts<ApiState> for Allowed<P> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(P::ROLES)?;
        Ok(Allowed(caller.0, std::marker::PhantomData))
    }
}

macro_rules! roles {
    ($($(#[$doc:meta])* $name:ident = [$($role:ident),+];)+) => {$(
        $(#[$doc])*
        pub struct $name;
        impl Roles for $name {
            const ROLES: &'static [Role] = &[$(Role::$role),+];
        }
    )+};
}

roles! {
    /// Requesters only (placing orders).
    Requesters = [Requester];
    /// Requesters and admins (cancelling orders).
    RequestersAndAdmins = [Requester, Admin];
    /// Admins only.
    Admins = [Admin];
    /// Finance and admins.
    FinanceAndAdmins = [Finance, Admin];
    /// The people who work task queues.
    TaskWorkers = [Approver, Engineer];
}
