//! Web desk sessions on both backends: a session opened at sign-in is found by its cookie id
//! until it has been idle for 8 hours or open for 7 days, a sign-out ends it, the table keeps
//! only the id's hash, and a form's CSRF token must be the session's own.

use crate::support::{world, Backend};
use l2c_orders::sessions::{self, ABSOLUTE_MS, IDLE_MS};

scenarios!(
    a_session_lives_until_idle_or_old_or_signed_out,
    each_session_has_its_own_csrf_token,
);

const HOUR: i64 = 3600 * 1000;

async fn a_session_lives_until_idle_or_old_or_signed_out(backend: Backend) {
    let w = world(backend).await;
    let db = &w.app.db;
    let t0 = 1_000_000_000;
    let opened = sessions::open(db, &w.rita.id, t0).await.expect("open");
    assert_eq!(opened.id.len(), 64, "256 random bits in hex");
    let stored: Vec<String> = sqlx::query_scalar("SELECT id_hash FROM web_sessions")
        .fetch_all(&db.pool)
        .await
        .expect("stored");
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0], opened.id, "only the hash is kept");

    let found = sessions::find(db, &opened.id, t0 + HOUR)
        .await
        .expect("find");
    assert_eq!(found.map(|s| s.user.name).as_deref(), Some("rita"));
    assert!(sessions::find(db, "not-a-session", t0)
        .await
        .expect("find")
        .is_none());

    // Seen every 7 hours, it outlives the idle limit, up to the absolute one.
    let mut at = t0 + HOUR;
    while at + 7 * HOUR < t0 + ABSOLUTE_MS {
        at += 7 * HOUR;
        let s = sessions::find(db, &opened.id, at).await.expect("find");
        assert!(s.is_some(), "alive at +{} h", (at - t0) / HOUR);
    }
    assert!(sessions::find(db, &opened.id, t0 + ABSOLUTE_MS)
        .await
        .expect("find")
        .is_none());
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM web_sessions")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(left, 0, "an expired session is deleted");

    let idle = sessions::open(db, &w.nina.id, t0).await.expect("open");
    let almost = t0 + IDLE_MS - 1;
    assert!(sessions::find(db, &idle.id, almost)
        .await
        .expect("find")
        .is_some());
    let idle_again = almost + IDLE_MS;
    assert!(sessions::find(db, &idle.id, idle_again)
        .await
        .expect("find")
        .is_none());

    let out = sessions::open(db, &w.sam.id, t0).await.expect("open");
    sessions::close(db, &out.id).await.expect("sign out");
    assert!(sessions::find(db, &out.id, t0)
        .await
        .expect("find")
        .is_none());
    sessions::close(db, &out.id)
        .await
        .expect("a second sign-out does nothing");
}

async fn each_session_has_its_own_csrf_token(backend: Backend) {
    let w = world(backend).await;
    let db = &w.app.db;
    let a = sessions::open(db, &w.rita.id, 0).await.expect("open");
    let b = sessions::open(db, &w.rita.id, 0).await.expect("open");
    assert_ne!(a.csrf, b.csrf);
    let session = sessions::find(db, &a.id, 0)
        .await
        .expect("find")
        .expect("live");
    assert!(session.csrf_matches(&a.csrf));
    assert!(
        !session.csrf_matches(&b.csrf),
        "another session's token is refused"
    );
    assert!(!session.csrf_matches(""));
}
