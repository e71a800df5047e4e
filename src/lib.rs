//! shipdeck: a terminal dashboard for deployment managers.
//!
//! Layers, from the inside out: [`domain`] (pure rules), [`store`] (the SQLite deployment log),
//! [`server`] (the agent API), [`cli`] (commands) and `tui` (the dashboard). [`config`] and
//! [`clock`] are shared by all of them.

pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod keymap;
pub mod server;
pub mod store;
pub mod tui;
