//! https for the client commands: `emit` and `gate wait --server` through a TLS-terminating
//! proxy on loopback (as a deployment would put nginx or a load balancer in front of the
//! receiver), with a self-signed certificate made here.

use crate::support::{Env, Run};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

/// A TLS-terminating proxy in front of a plain receiver, and the PEM of its certificate.
struct Proxy {
    url: String,
    ca: PathBuf,
    _runtime: tokio::runtime::Runtime,
}

impl Proxy {
    /// Terminates TLS for `127.0.0.1` on a free port and forwards each connection to `backend`.
    fn start(env: &Env, backend: String) -> Self {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
        let ca = env.path("receiver-ca.pem");
        std::fs::write(&ca, cert.cert.pem()).expect("writes the certificate");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).expect("binds");
        let url = format!("https://{}", listener.local_addr().expect("addr"));
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let (acceptor, backend) = (acceptor.clone(), backend.clone());
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake: nothing to forward.
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let Ok(mut plain) = TcpStream::connect(&backend).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Self { url, ca, _runtime: runtime }
    }
}

fn emit(env: &Env, url: &str, key: &str, extra: &[&str]) -> Run {
    let args = [
        &["emit", "--server", url, "--deployment", key, "--target", "web-01", "--step", "download"][..],
        &["--status", "started"],
        extra,
    ]
    .concat();
    env.run(&args)
}

#[test]
fn emit_and_gate_wait_speak_https_to_a_receiver_behind_tls() {
    let env = Env::new();
    let key = env.plan("phased", 10);
    let server = env.serve();
    let proxy = Proxy::start(&env, server.addr.clone());
    let ca = proxy.ca.to_str().expect("utf-8 path");
    env.run_env(&[("SHIPDECK_OPERATOR", "omar")], &["approve", &key, "pilot"]).ok();

    let sent = emit(&env, &proxy.url, &key, &["--ca-cert", ca, "--id", "over-tls"]);
    assert_eq!(sent.json()["accepted"], 1, "{}", sent.stderr);
    assert!(env.event_ids(&key).contains(&"over-tls".to_owned()));

    let waited = env.run(&["gate", "wait", &key, "pilot", "--server", &proxy.url, "--ca-cert", ca, "--timeout", "30s"]);
    assert_eq!((waited.code, waited.stdout.trim()), (0, "approved"), "{}", waited.stderr);
}

#[test]
fn a_certificate_that_does_not_verify_is_refused_with_the_reason() {
    let env = Env::new();
    let key = env.plan("phased", 10);
    let server = env.serve();
    let proxy = Proxy::start(&env, server.addr.clone());

    // The system's roots do not know the test's self-signed certificate.
    let refused = emit(&env, &proxy.url, &key, &["--id", "never-stored"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!("TLS with {} failed: invalid peer certificate", proxy.url)),
        "{}",
        refused.stderr
    );
    assert!(!env.event_ids(&key).contains(&"never-stored".to_owned()));

    // A certificate for another host, trusted, still does not verify for this one.
    let other = rcgen::generate_simple_self_signed(vec!["deploy.example".to_owned()]).expect("certificate");
    let other_ca = env.path("other-ca.pem");
    std::fs::write(&other_ca, other.cert.pem()).expect("writes");
    let wrong = emit(&env, &proxy.url, &key, &["--ca-cert", other_ca.to_str().expect("utf-8")]);
    assert_eq!(wrong.code, 1);
    assert!(wrong.stderr.contains("invalid peer certificate"), "{}", wrong.stderr);

    // gate wait gives up at once with the reason: retrying cannot make the certificate valid.
    let waited = env.run(&["gate", "wait", &key, "pilot", "--server", &proxy.url, "--timeout", "60s"]);
    assert_eq!(waited.code, 1, "{}", waited.stderr);
    assert!(waited.stderr.contains("invalid peer certificate"), "{}", waited.stderr);
}

#[test]
fn a_ca_cert_that_is_not_a_pem_file_exits_2_naming_it() {
    let env = Env::new();
    let key = env.plan("phased", 10);
    let not_pem = env.path("ca.der");
    std::fs::write(&not_pem, [0x30, 0x82, 0x01, 0x0a, 0x02]).expect("writes");
    let named = format!("--ca-cert \"{}\" is not a PEM file", not_pem.display());
    let path = not_pem.to_str().expect("utf-8");

    let emitted = emit(&env, "https://127.0.0.1:9", &key, &["--ca-cert", path]);
    assert_eq!(emitted.code, 2, "{}", emitted.stderr);
    assert!(emitted.stderr.contains(&named), "{}", emitted.stderr);
    let waited = env.run(&["gate", "wait", &key, "pilot", "--server", "https://127.0.0.1:9", "--ca-cert", path]);
    assert_eq!(waited.code, 2, "{}", waited.stderr);
    assert!(waited.stderr.contains(&named), "{}", waited.stderr);
    let missing = emit(&env, "https://127.0.0.1:9", &key, &["--ca-cert", "/nonexistent/ca.pem"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("--ca-cert \"/nonexistent/ca.pem\""), "{}", missing.stderr);
}

/// A self-signed certificate for 127.0.0.1 written as `NAME.pem` and `NAME.key`.
fn certificate(env: &Env, name: &str) -> (PathBuf, PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
    let (pem, key) = (env.path(&format!("{name}.pem")), env.path(&format!("{name}.key")));
    std::fs::write(&pem, cert.cert.pem()).expect("writes the certificate");
    std::fs::write(&key, cert.signing_key.serialize_pem()).expect("writes the key");
    (pem, key)
}

#[test]
fn the_server_speaks_https_itself_and_takes_a_renewed_certificate_on_sighup() {
    use std::io::BufRead;
    let env = Env::new();
    let key = env.plan("phased", 10);
    let (old, old_key) = certificate(&env, "old");
    let (new, new_key) = certificate(&env, "new");
    let (cert, cert_key) = (env.path("served.pem"), env.path("served.key"));
    std::fs::copy(&old, &cert).expect("copies");
    std::fs::copy(&old_key, &cert_key).expect("copies");
    let mut child = crate::support::bin()
        .arg("--db")
        .arg(&env.db)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&cert_key)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut banner = String::new();
    lines.read_line(&mut banner).expect("reads the banner");
    std::thread::spawn(move || for _ in lines.lines() {});
    let url =
        banner.split_whitespace().find(|w| w.starts_with("https://")).unwrap_or_else(|| panic!("{banner}")).to_owned();
    // A decision over https (before agents report: no retroactive approval) from the command line, as the token's person.
    let omar = env.run_env(&[("SHIPDECK_OPERATOR", "dana")], &["token", "issue", "omar"]).ok().trim().to_owned();
    let approve = env.run_env(
        &[("SHIPDECK_TOKEN", omar.as_str())],
        &["approve", &key, "pilot", "--server", &url, "--ca-cert", old.to_str().expect("utf-8")],
    );
    assert!(approve.ok().contains("approve by omar"), "{}", approve.stderr);
    let with = |ca: &PathBuf, id: &str| emit(&env, &url, &key, &["--ca-cert", ca.to_str().expect("utf-8"), "--id", id]);
    assert_eq!(with(&old, "a").json()["accepted"], 1);
    let refused = with(&new, "b");
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert!(refused.stderr.contains("TLS with"), "{}", refused.stderr);
    // The certificate is renewed in place and the server told with SIGHUP.
    std::fs::copy(&new, &cert).expect("copies");
    std::fs::copy(&new_key, &cert_key).expect("copies");
    let pid = child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-HUP", &pid]).status().expect("kill").success());
    let mut renewed = false;
    for i in 0..50 {
        if with(&new, &format!("c{i}")).code == 0 {
            renewed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(renewed, "the renewed certificate is served");
    assert_eq!(with(&old, "d").code, 1, "the old one is not");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_tls_certificate_that_does_not_load_stops_serve_naming_it() {
    let env = Env::new();
    let junk = env.path("junk.pem");
    std::fs::write(&junk, "not a certificate\n").expect("writes");
    let run = env.run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        junk.to_str().expect("utf-8"),
        "--tls-key",
        junk.to_str().expect("utf-8"),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("junk.pem"), "{}", run.stderr);
}
