//! TLS in process: `l2c serve --tls-cert --tls-key` serves HTTPS with a certificate made
//! here (rcgen, self-signed for localhost) that the client trusts; plain HTTP to that port
//! gets nothing; a client that never says hello is closed after the header-read timeout;
//! unreadable files are refused naming the option.

use crate::support::{world_with, Backend};
use l2c::server::Server;
use l2c::settings::Settings;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// A self-signed certificate for localhost, written as PEM files: (dir, cert, key, cert PEM).
fn certificate() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::path::PathBuf,
    String,
) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let dir = tempfile::tempdir().expect("dir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let pem = made.cert.pem();
    std::fs::write(&cert, &pem).expect("cert written");
    std::fs::write(&key, made.signing_key.serialize_pem()).expect("key written");
    (dir, cert, key, pem)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_is_served_with_the_given_certificate() {
    let (_dir, cert, key, pem) = certificate();
    let mut settings = Settings::default();
    settings.server.header_read_timeout = "1s".into();
    let world = world_with(Backend::Sqlite, settings).await;
    let token = world.tokens["rita"].clone();
    let acceptor = l2c::tls::acceptor(&cert, &key).expect("a usable pair");
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = Server::start_with(world.app.clone(), any_port, 0, Some(acceptor))
        .await
        .expect("server starts");
    assert!(server.url().starts_with("https://"));
    let trusted = reqwest::Certificate::from_pem(pem.as_bytes()).expect("pem");
    let client = reqwest::Client::builder()
        .add_root_certificate(trusted)
        .resolve("localhost", server.addr)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let base = format!("https://localhost:{}", server.addr.port());
    let health = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("https answers");
    assert_eq!(health.status().as_u16(), 200);
    let orders = client
        .get(format!("{base}/api/v1/orders"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("https answers");
    assert_eq!(orders.status().as_u16(), 200);
    assert_eq!(orders.headers()["cache-control"], "no-store");

    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let refused = plain
        .get(format!("http://{}/healthz", server.addr))
        .send()
        .await;
    assert!(refused.is_err(), "plain HTTP gets no answer: {refused:?}");

    let mut silent = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connects");
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "a client that never says hello is closed: {closed:?}"
    );
    server.shutdown().await.expect("stops");
}

/// The error `acceptor` gives for these files.
fn refusal(cert: &std::path::Path, key: &std::path::Path) -> String {
    match l2c::tls::acceptor(cert, key) {
        Ok(_) => panic!("{} and {} were taken", cert.display(), key.display()),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn unusable_files_are_refused_naming_the_option() {
    let (dir, cert, key, _) = certificate();
    let missing = dir.path().join("nope.pem");
    let e = refusal(&missing, &key);
    assert!(e.contains("--tls-cert"), "no such file: {e}");
    let e = refusal(&cert, &cert);
    assert!(e.contains("--tls-key"), "a certificate is not a key: {e}");
    let e = refusal(&key, &key);
    assert!(e.contains("--tls-cert"), "a key is not a certificate: {e}");
}
