//! Colours and text attributes of the dashboard.
//!
//! Every style a view uses comes from a [`Theme`], so the monochrome theme (`theme = "mono"` or
//! `NO_COLOR` in the environment) can drop all colour in one place, and the light theme
//! (`theme = "light"`, for terminals with a light background) can trade the pale colours that
//! vanish on white for darker ones. Meaning never rests on colour
//! alone: host states also have symbols, selection is reversed, failures are bold.

use crate::domain::{DeploymentStatus, PhaseStatus};
use ratatui::style::{Color, Modifier, Style};

/// How a host (target) looks in the heatmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostState {
    Pending,
    Running,
    Succeeded,
    Failed,
    /// Running (or started) but its agent has sent nothing for `silent_after`.
    Silent,
}

impl HostState {
    pub const ALL: [Self; 5] = [Self::Succeeded, Self::Running, Self::Failed, Self::Silent, Self::Pending];

    /// The symbol that marks this state without colour.
    #[must_use]
    pub fn symbol(self) -> char {
        match self {
            Self::Pending => '·',
            Self::Running => '●',
            Self::Succeeded => '✓',
            Self::Failed => '✗',
            Self::Silent => '◌',
        }
    }

    /// A short label for legends.
    #[must_use]
    pub fn short(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "run",
            Self::Succeeded => "ok",
            Self::Failed => "fail",
            Self::Silent => "silent",
        }
    }

    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Silent => "silent",
        }
    }
}

/// All styles of the dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub mono: bool,
    pub text: Style,
    pub dim: Style,
    pub title: Style,
    pub border: Style,
    pub header: Style,
    pub tab: Style,
    pub tab_active: Style,
    pub selected: Style,
    pub cursor: Style,
    pub paused: Style,
    pub warning: Style,
    pub key: Style,
    pub gauge_done: Style,
    pub gauge_failed: Style,
    pub gauge_empty: Style,
    hosts: [Style; 5],
}

impl Theme {
    /// The theme for a config value and the `NO_COLOR` convention (any non-empty value).
    #[must_use]
    pub fn select(name: &str, no_color: bool) -> Self {
        match name {
            _ if no_color => Self::mono(),
            "mono" => Self::mono(),
            "light" => Self::light(),
            _ => Self::colour(),
        }
    }

    /// Whether `NO_COLOR` asks for no colour.
    #[must_use]
    pub fn no_color_env() -> bool {
        std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
    }

    #[must_use]
    pub fn colour() -> Self {
        let fg = |c: Color| Style::new().fg(c);
        Self {
            mono: false,
            text: Style::new(),
            dim: fg(Color::DarkGray),
            title: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            border: fg(Color::DarkGray),
            header: Style::new().bg(Color::Blue).fg(Color::White),
            tab: fg(Color::Gray),
            tab_active: Style::new().fg(Color::Black).bg(Color::Cyan).add_modifier(Modifier::BOLD),
            selected: Style::new().bg(Color::DarkGray).add_modifier(Modifier::BOLD),
            cursor: Style::new().add_modifier(Modifier::REVERSED),
            paused: Style::new().fg(Color::Black).bg(Color::Yellow).add_modifier(Modifier::BOLD),
            warning: fg(Color::Yellow).add_modifier(Modifier::BOLD),
            key: fg(Color::Cyan).add_modifier(Modifier::BOLD),
            gauge_done: fg(Color::Green),
            gauge_failed: fg(Color::Red),
            gauge_empty: fg(Color::DarkGray),
            hosts: [
                fg(Color::DarkGray),
                fg(Color::Blue).add_modifier(Modifier::BOLD),
                fg(Color::Green),
                fg(Color::Red).add_modifier(Modifier::BOLD),
                fg(Color::Magenta).add_modifier(Modifier::BOLD),
            ],
        }
    }

    /// For a light background: dark text colours, pale fills; the same symbols and modifiers as
    /// the default theme, so nothing rests on colour alone here either.
    #[must_use]
    pub fn light() -> Self {
        let fg = |c: Color| Style::new().fg(c);
        // 256-colour dark green and amber: ANSI green and yellow wash out on white.
        let green = Color::Indexed(28);
        let amber = Color::Indexed(130);
        Self {
            mono: false,
            text: Style::new(),
            dim: fg(Color::DarkGray),
            title: fg(Color::Blue).add_modifier(Modifier::BOLD),
            border: fg(Color::Gray),
            header: Style::new().bg(Color::Indexed(252)).fg(Color::Black),
            tab: fg(Color::DarkGray),
            tab_active: Style::new().fg(Color::White).bg(Color::Blue).add_modifier(Modifier::BOLD),
            selected: Style::new().bg(Color::Indexed(254)).add_modifier(Modifier::BOLD),
            cursor: Style::new().add_modifier(Modifier::REVERSED),
            paused: Style::new().fg(Color::Black).bg(Color::Yellow).add_modifier(Modifier::BOLD),
            warning: fg(amber).add_modifier(Modifier::BOLD),
            key: fg(Color::Blue).add_modifier(Modifier::BOLD),
            gauge_done: fg(green),
            gauge_failed: fg(Color::Red),
            gauge_empty: fg(Color::Gray),
            hosts: [
                fg(Color::DarkGray),
                fg(Color::Blue).add_modifier(Modifier::BOLD),
                fg(green),
                fg(Color::Red).add_modifier(Modifier::BOLD),
                fg(Color::Magenta).add_modifier(Modifier::BOLD),
            ],
        }
    }

    #[must_use]
    pub fn mono() -> Self {
        let plain = Style::new();
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Self {
            mono: true,
            text: plain,
            dim: plain,
            title: bold,
            border: plain,
            header: bold,
            tab: plain,
            tab_active: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            cursor: Style::new().add_modifier(Modifier::REVERSED),
            paused: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            warning: bold,
            key: bold,
            gauge_done: plain,
            gauge_failed: bold,
            gauge_empty: plain,
            hosts: [plain, bold, plain, bold, bold],
        }
    }

    #[must_use]
    pub fn host(&self, state: HostState) -> Style {
        let i = match state {
            HostState::Pending => 0,
            HostState::Running => 1,
            HostState::Succeeded => 2,
            HostState::Failed => 3,
            HostState::Silent => 4,
        };
        self.hosts[i]
    }

    #[must_use]
    pub fn deployment(&self, status: DeploymentStatus) -> Style {
        self.host(match status {
            DeploymentStatus::Planned => HostState::Pending,
            DeploymentStatus::Running => HostState::Running,
            DeploymentStatus::AwaitingApproval => HostState::Silent,
            DeploymentStatus::Verifying => HostState::Running,
            DeploymentStatus::Succeeded => HostState::Succeeded,
            DeploymentStatus::Failed | DeploymentStatus::Aborted | DeploymentStatus::RolledBack => HostState::Failed,
        })
    }

    #[must_use]
    pub fn phase(&self, status: PhaseStatus) -> Style {
        self.host(phase_host_state(status))
    }
}

/// The heatmap state a phase status looks like.
#[must_use]
pub fn phase_host_state(status: PhaseStatus) -> HostState {
    match status {
        PhaseStatus::Pending => HostState::Pending,
        PhaseStatus::Running => HostState::Running,
        PhaseStatus::Succeeded => HostState::Succeeded,
        PhaseStatus::Failed => HostState::Failed,
    }
}

/// A one-character marker of a deployment status, readable without colour.
#[must_use]
pub fn deployment_symbol(status: DeploymentStatus) -> char {
    match status {
        DeploymentStatus::Planned => '·',
        DeploymentStatus::Running => '●',
        DeploymentStatus::AwaitingApproval => '◆',
        DeploymentStatus::Verifying => '☐',
        DeploymentStatus::Succeeded => '✓',
        DeploymentStatus::Failed => '✗',
        DeploymentStatus::Aborted => '■',
        DeploymentStatus::RolledBack => '↺',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_or_mono_drops_every_colour() {
        for theme in [Theme::select("default", true), Theme::select("mono", false)] {
            assert!(theme.mono);
            let styles = [theme.text, theme.dim, theme.title, theme.header, theme.selected, theme.paused];
            for s in styles.iter().chain(theme.hosts.iter()) {
                assert_eq!((s.fg, s.bg), (None, None), "{s:?}");
            }
        }
        assert!(!Theme::select("default", false).mono);
    }

    #[test]
    fn every_host_state_has_its_own_symbol() {
        let symbols: std::collections::HashSet<char> = HostState::ALL.iter().map(|s| s.symbol()).collect();
        assert_eq!(symbols.len(), HostState::ALL.len());
    }
}
