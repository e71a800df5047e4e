//! shipdeck: a terminal dashboard for deployment managers.
//!
//! Layers, from the inside out:
//! - [`domain`]: pure types and rules (no IO);
//! - [`store`]: the SQLite deployment log, the only code that speaks SQL;
//! - [`decide`]: who the operator is and the one path every decision takes;
//! - [`server`]: the agent API (HTTP);
//! - the front ends: [`cli`] (commands), `tui` (the dashboard) and [`demo`].
//!
//! [`config`], [`clock`] and [`runtime`] are shared by all of them. Arrows point inwards only:
//! nothing below the front ends imports them, and the front ends do not import each other
//! except that `cli` starts the dashboard and the demo, and the demo shows the dashboard.

pub mod cli;
pub mod clock;
pub mod config;
pub mod decide;
pub mod demo;
pub mod domain;
pub mod keymap;
pub mod notify;
pub mod runtime;
pub mod server;
pub mod store;
pub mod tui;
