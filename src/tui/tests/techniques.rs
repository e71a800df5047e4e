//! The Live view of the techniques' shapes: rolling batches as one growing row, a blue/green
//! deployment's old and new sets around the switch, and the heatmap grouped by a label (`g`).

use super::{app_on, fixture, press, screen, serve};
use crate::domain::DeploymentKey;
use crate::domain::inventory::{Inventory, Target};
use crate::store::testing::{Plan, ingest};
use crossterm::event::KeyCode;

/// `n` hosts `prefix-NN` on racks r1..r3, in `slot` when given.
fn hosts(prefix: &str, n: usize, slot: Option<&str>) -> Vec<Target> {
    (1..=n)
        .map(|i| Target {
            name: format!("{prefix}-{i:02}"),
            labels: [("rack".to_owned(), format!("r{}", 1 + i % 3))]
                .into_iter()
                .chain(slot.map(|s| ("slot".to_owned(), s.to_owned())))
                .collect(),
        })
        .collect()
}

fn report(store: &mut crate::store::Store, key: DeploymentKey, names: &[String], step: &str, status: &str, at: &str) {
    let lines: Vec<String> = names
        .iter()
        .map(|h| format!(r#"{{"id":"{h}-{step}-{status}","deployment":"{key}","target":"{h}","step":"{step}","status":"{status}"}}"#))
        .collect();
    ingest(store, &lines, fixture::at(at));
}

/// A rolling deployment of 30 hosts (batch-1 done, batch-2 under way) and a blue/green one
/// whose green set succeeded and waits at the switch.
fn log() -> (tempfile::TempDir, std::path::PathBuf, DeploymentKey, DeploymentKey) {
    let (dir, mut store) = crate::store::testing::open();
    let path = dir.path().join("log.db");
    let rolling = Plan::new("rolling", 0)
        .release("checkout-web@7.13.0")
        .inventory(Inventory { targets: hosts("web", 30, None) })
        .at(fixture::at("2026-11-26T09:00:00Z"))
        .plan(&mut store);
    let batches = store.detail(rolling, true).expect("detail");
    let in_batch = |b: &str| -> Vec<String> {
        batches.target_list.iter().filter(|t| t.phase == b).map(|t| t.name.clone()).collect()
    };
    report(&mut store, rolling, &in_batch("batch-1"), "undrain", "succeeded", "2026-11-26T09:10:00Z");
    let automatic = crate::decide::automatic(&mut store, fixture::at("2026-11-26T09:11:00Z")).expect("runs");
    assert_eq!(automatic.approved.len(), 1, "batch-2 started on its own");
    let second = in_batch("batch-2");
    report(&mut store, rolling, &second[..4], "undrain", "succeeded", "2026-11-26T09:20:00Z");
    report(&mut store, rolling, &second[4..5], "install", "started", "2026-11-26T10:29:00Z");

    let mut fleet = hosts("blue", 4, Some("blue"));
    fleet.extend(hosts("green", 4, Some("green")));
    let parallel = Plan::new("parallel", 0)
        .release("web@2.0.0")
        .inventory(Inventory { targets: fleet })
        .at(fixture::at("2026-11-26T09:30:00Z"))
        .plan(&mut store);
    let green: Vec<String> = (1..=4).map(|i| format!("green-{i:02}")).collect();
    report(&mut store, parallel, &green, "verify", "succeeded", "2026-11-26T09:40:00Z");
    drop(store);
    (dir, path, rolling, parallel)
}

/// Selects `key` in the Live list with the arrows, as a user would.
fn select(app: &mut crate::tui::app::App, loader: &mut crate::tui::data::Loader, key: DeploymentKey) {
    for code in [KeyCode::Home, KeyCode::Down, KeyCode::Down, KeyCode::Down] {
        if app.live.selected == Some(key) {
            return;
        }
        let cmds = press(app, code);
        serve(app, loader, cmds);
    }
    assert_eq!(app.live.selected, Some(key));
}

#[test]
fn the_rolling_and_parallel_pipelines_and_the_heatmap_grouped_by_label() {
    let (_dir, path, rolling, parallel) = log();
    let (mut app, mut loader) = app_on(&path, 100, 24);
    select(&mut app, &mut loader, rolling);
    insta::assert_snapshot!("rolling_pipeline_100x24", screen(&app));
    select(&mut app, &mut loader, parallel);
    insta::assert_snapshot!("parallel_pipeline_100x24", screen(&app));

    // `g` groups the heatmap by each label in turn (rack, slot), then not at all.
    let cmds = press(&mut app, KeyCode::Char('g'));
    serve(&mut app, &mut loader, cmds);
    assert_eq!(app.live.group_by.as_deref(), Some("rack"));
    press(&mut app, KeyCode::Char('g'));
    assert_eq!(app.live.group_by.as_deref(), Some("slot"));
    let text = screen(&app);
    assert!(text.contains("by slot") && text.contains("green ✓✓✓✓"), "only the new set deploys: {text}");
    press(&mut app, KeyCode::Char('g'));
    assert_eq!(app.live.group_by, None, "the rolling fleet has no slot: back to no grouping");

    // The rolling fleet grouped by rack: one block per rack; the cursor moves as drawn.
    select(&mut app, &mut loader, rolling);
    press(&mut app, KeyCode::Char('g'));
    insta::assert_snapshot!("rolling_grouped_by_rack_100x24", screen(&app));
    press(&mut app, KeyCode::Enter);
    let rack = |app: &crate::tui::app::App| {
        app.live.detail.as_ref().and_then(|d| d.cursor_target()).map(|t| t.labels["rack"].clone())
    };
    let first = rack(&app);
    press(&mut app, KeyCode::Home);
    assert_eq!(rack(&app).as_deref(), Some("r1"), "Home: the first host as drawn, rack r1's");
    press(&mut app, KeyCode::Down);
    assert_eq!(rack(&app).as_deref(), Some("r2"), "down: the row below is rack r2's (was {first:?})");
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('g'));
    assert_eq!(app.live.group_by, None, "after its last label, back to no grouping");
}
