//! A webhook receiver for tests: a real HTTP server on loopback that records every request and
//! answers 500 to the first `fail_first` attempts of each idempotency key.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the sink saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// The answer it got.
    pub status: u16,
}

impl Hit {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(&name.to_ascii_lowercase()).map_or("", String::as_str)
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

pub struct Sink {
    pub addr: String,
    pub hits: Arc<Mutex<Vec<Hit>>>,
}

impl Sink {
    /// Starts a sink; `delay` holds each answer back (a slow receiver).
    pub fn start(fail_first: usize, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
        let addr = listener.local_addr().expect("addr").to_string();
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let tries: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let h = hits.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (h, tries) = (h.clone(), tries.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &h, &tries, fail_first, delay);
                });
            }
        });
        Self { addr, hits }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("lock").clone()
    }

    /// Waits until `done` holds for the hits so far (at most 60 s).
    pub fn wait_until(&self, what: &str, done: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
        for _ in 0..1200 {
            let hits = self.hits();
            if done(&hits) {
                return hits;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the sink never saw {what}: {:#?}", self.hits().len());
    }
}

fn serve(
    conn: TcpStream,
    hits: &Mutex<Vec<Hit>>,
    tries: &Mutex<HashMap<String, usize>>,
    fail_first: usize,
    delay: Duration,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        let key = headers.get("idempotency-key").cloned().unwrap_or_default();
        let n = {
            let mut t = tries.lock().expect("lock");
            let n = t.entry(key).or_default();
            *n += 1;
            *n
        };
        let status = if n <= fail_first { 500 } else { 200 };
        hits.lock().expect("lock").push(Hit { path, headers, body, status });
        std::thread::sleep(delay);
        let text = if status == 200 { "ok" } else { "sink says no" };
        write!(
            conn,
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n{text}",
            text.len()
        )?;
        conn.flush()?;
    }
}
