//! Passwords for signing in to the web desk: argon2id hashes in PHC string form, and the rule
//! a new password must meet. Only the hash is stored. Checking a name that has no user (or no
//! password) costs as much as checking a wrong password, so the time an answer takes does not
//! tell whether the user exists.

use crate::error::{problem, DeskError, DeskResult, FieldProblem};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::LazyLock;

/// The fewest characters a password may have.
pub const MIN_PASSWORD: usize = 10;
/// The most characters a password may have (argon2 takes any length; this bounds the work).
pub const MAX_PASSWORD: usize = 256;

/// What is wrong with a new password, at the field `password`, if anything.
pub fn rule_problem(password: &str) -> Option<FieldProblem> {
    let n = password.chars().count();
    (!(MIN_PASSWORD..=MAX_PASSWORD).contains(&n)).then(|| {
        problem(
            "password",
            "length",
            format!("a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters; this one has {n}"),
        )
    })
}

/// Checks a new password against the rule, naming the field `password`.
pub fn check_rule(password: &str) -> DeskResult<()> {
    DeskError::check(rule_problem(password).into_iter().collect())
}

/// The argon2id hash of `password` with a fresh random salt (CPU-heavy: call it from
/// blocking code, see [`hash_blocking`]).
pub fn hash(password: &str) -> DeskResult<String> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| DeskError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| DeskError::Internal(format!("hash a password: {e}")))
}

/// Whether `password` matches `stored`. With no stored hash the password is checked against a
/// hash nobody's password matches, so the work is the same either way.
pub fn verify(stored: Option<&str>, password: &str) -> bool {
    static NOBODY: LazyLock<String> =
        LazyLock::new(|| hash("no user has this password").unwrap_or_default());
    let (stored, real) = match stored {
        Some(s) => (s, true),
        None => (NOBODY.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && real
}

/// [`hash`] on tokio's blocking pool, so a request's hashing does not stall other requests.
pub async fn hash_blocking(password: String) -> DeskResult<String> {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .map_err(|e| DeskError::Internal(e.to_string()))?
}

/// [`verify`] on tokio's blocking pool.
pub async fn verify_blocking(stored: Option<String>, password: String) -> DeskResult<bool> {
    tokio::task::spawn_blocking(move || verify(stored.as_deref(), &password))
        .await
        .map_err(|e| DeskError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify(Some(&h), "correct horse battery"));
        assert!(!verify(Some(&h), "correct horse batterY"));
        assert_ne!(h, hash("correct horse battery").expect("hash"), "salted");
    }

    #[test]
    fn no_stored_hash_or_a_broken_one_never_verifies() {
        assert!(!verify(None, "no user has this password"));
        assert!(!verify(Some("not a phc string"), "anything at all"));
    }

    #[test]
    fn the_rule_names_the_field_and_the_length() {
        assert!(check_rule("ten chars!").is_ok());
        let Err(DeskError::Validation(p)) = check_rule("short") else {
            panic!("a short password is refused");
        };
        assert_eq!(p[0].path, "password");
        assert!(p[0].message.contains("has 5"), "{}", p[0].message);
        assert!(check_rule(&"x".repeat(MAX_PASSWORD + 1)).is_err());
    }
}
