//! A private tmux server (its own socket) running one command in a window of a given size:
//! keys go in with send-keys, the screen comes back with capture-pane, as a person sees it.

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Starts `command` in a `cols` x `rows` window; `name` keeps parallel tests apart.
    pub fn start(name: &str, cols: u16, rows: u16, command: &str) -> Self {
        let tmux = Self { socket: format!("shipdeck-{name}-{}", std::process::id()) };
        let status = Command::new("tmux")
            .args(["-L", &tmux.socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &cols.to_string(), "-y", &rows.to_string(), command])
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .env("XDG_CONFIG_HOME", "/nonexistent-shipdeck-test")
            .status()
            .expect("tmux runs (CI installs it: apt-get install tmux)");
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").args(["-L", &self.socket]).args(args).output().expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Presses keys by name (`a`, `Enter`, `Escape`, `Space`).
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "0", k]);
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Types text literally.
    pub fn text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "0", "-l", text]);
        std::thread::sleep(Duration::from_millis(150));
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "0"])
    }

    /// Waits until the screen shows `text`; panics with the screen when it never does.
    #[track_caller]
    pub fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "never showed {text:?}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the screen no longer shows `text`; panics with the screen when it stays.
    #[track_caller]
    pub fn wait_gone(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if !screen.contains(text) {
                return screen;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "still shows {text:?}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn resize(&self, cols: u16, rows: u16) {
        self.tmux(&["resize-window", "-t", "0", "-x", &cols.to_string(), "-y", &rows.to_string()]);
        std::thread::sleep(Duration::from_millis(300));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}
