//! The integration tests: the real `shipdeck` binary, a real log file, the real receiver on a
//! loopback port and, through tmux, a real terminal.
//!
//! One test binary, so `support` (the fluent helpers) is compiled once. Add a file here and a
//! `mod` line below; run one file's tests with `cargo test --test it gates::`.

mod support;

mod bench_logs;
mod bluegreen;
mod canary;
mod checklist_e2e;
mod cli;
mod compare;
mod completions;
mod demo;
mod edges;
mod gates;
mod gates_e2e;
mod hardening;
mod kpi;
mod login;
mod logs;
mod model_review;
mod new_user;
mod notify;
mod progress;
mod prometheus;
mod read_only;
mod receiver;
mod recipes;
mod reliability;
mod replay;
mod reviews;
mod schedule;
mod signing;
mod socket;
mod techniques;
mod tls;
mod tokens;
mod trust;
mod tui_e2e;
mod upgrade;
mod verification;
mod walkthrough;
