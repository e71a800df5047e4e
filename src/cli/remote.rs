//! Decisions through a shipdeck server (`--server URL`), as the person whose token is sent:
//! the same exit codes as on the file (0 recorded, 1 refused, 2 a wrong ask). A server
//! `unix:PATH` is the server's Unix socket on this host: no token, the caller is the OS account.

use super::{Reported, usage};
use crate::decide::Ask;

/// Where to send a decision instead of the local log.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Remote {
    /// Decide through this server (e.g. https://deploy.example.com) as your token's person,
    /// instead of on the local log
    #[arg(long, env = "SHIPDECK_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Trust only the CA certificates of this PEM file for an https --server [default: the
    /// system's trusted roots]
    #[arg(long, env = "SHIPDECK_CA_CERT", value_name = "FILE", requires = "server")]
    pub ca_cert: Option<std::path::PathBuf>,
    /// Your token for --server (`shipdeck token issue`)
    #[arg(long, env = "SHIPDECK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Sends `body` (JSON) to `path` on `server` with your token (`--token`, `SHIPDECK_TOKEN`, or the
/// one `shipdeck login` kept for that server); the answer's status and JSON. A `unix:` server
/// needs no token: the kernel tells it who is calling.
pub fn call(
    remote: &Remote,
    server: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<(u16, serde_json::Value)> {
    if let Some(socket) = unix_path(server) {
        let (status, bytes) = crate::runtime::build()?
            .block_on(over_socket(socket, method.as_str(), path, body.map(ToString::to_string)))
            .map_err(|e| Reported(format!("{server}: cannot reach the server ({e})")))?;
        return Ok((status, serde_json::from_slice(&bytes).unwrap_or_default()));
    }
    crate::client::check_url(server).map_err(|e| usage(format!("--server {e}")))?;
    let stored = remote.token.is_none().then(|| super::login::stored_token(server)).flatten();
    let Some(token) = remote.token.as_deref().or(stored.as_deref()) else {
        return Err(usage(format!(
            "{server} needs your token: run `shipdeck login {server}`, pass --token or set SHIPDECK_TOKEN (an admin issues it with `shipdeck token issue`)"
        )));
    };
    let client = crate::client::client(remote.ca_cert.as_deref())?;
    let url = format!("{}{path}", server.trim_end_matches('/'));
    let answer = crate::runtime::build()?.block_on(async {
        let mut request = client.request(method, &url).bearer_auth(token);
        if let Some(body) = body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let json: serde_json::Value = serde_json::from_slice(&response.bytes().await?).unwrap_or_default();
        Ok::<_, reqwest::Error>((status, json))
    });
    Ok(answer.map_err(|e| Reported(crate::client::describe(server, &e)))?)
}

/// The error of an answer that is not 200: a wrong ask (400, 404) is a usage error (exit 2),
/// anything else a failure the command reports (exit 1), naming the server.
pub fn failed(server: &str, status: u16, json: &serde_json::Value) -> anyhow::Error {
    let text = json["error"].as_str().unwrap_or("(no answer)").to_owned();
    match status {
        400 | 404 => usage(text),
        _ => Reported(format!("{server}: {text}")).into(),
    }
}

/// Posts `ask` to `server`'s decisions endpoint and says what it answered.
pub fn decide(remote: &Remote, server: &str, ask: &Ask) -> anyhow::Result<i32> {
    let body = serde_json::json!({ "decision": ask.decision.as_str(), "comment": ask.comment, "reason": ask.reason });
    let (status, json) = call(remote, server, reqwest::Method::POST, &decisions_path(ask), Some(&body))?;
    if status != 200 {
        return Err(failed(server, status, &json));
    }
    sayln!("{}", json["recorded"].as_str().unwrap_or_default());
    Ok(0)
}

/// The socket path of a `unix:PATH` (or `unix:///PATH`) server, if it is one.
pub fn unix_path(server: &str) -> Option<&std::path::Path> {
    let rest = server.strip_prefix("unix:")?;
    Some(std::path::Path::new(rest.strip_prefix("//").unwrap_or(rest)))
}

/// The decisions path of `ask`.
fn decisions_path(ask: &Ask) -> String {
    format!("/v1/deployments/{}/gates/{}/decisions", ask.key, percent(&ask.phase))
}

/// One HTTP/1 request over the Unix socket at `socket`: the answer's status and body.
pub async fn over_socket(
    socket: &std::path::Path,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<(u16, Vec<u8>), Box<dyn std::error::Error + Send + Sync>> {
    use http_body_util::BodyExt;
    let stream = tokio::net::UnixStream::connect(socket).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let mut request = hyper::Request::builder().method(method).uri(path).header(hyper::header::HOST, "localhost");
    if body.is_some() {
        request = request.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    let request = request.body(http_body_util::Full::new(axum::body::Bytes::from(body.unwrap_or_default())))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await?.to_bytes().to_vec();
    Ok((status, bytes))
}

/// A phase name as one URL path segment.
pub fn percent(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::unix_path;

    #[test]
    fn a_unix_server_names_its_socket_either_way_and_urls_are_not_sockets() {
        assert_eq!(unix_path("unix:/run/s.sock"), Some(std::path::Path::new("/run/s.sock")));
        assert_eq!(unix_path("unix:///run/s.sock"), Some(std::path::Path::new("/run/s.sock")));
        assert_eq!(unix_path("https://deploy.example.com"), None);
    }
}
