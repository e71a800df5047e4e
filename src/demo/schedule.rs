//! The demo's change calendar: an emergency freeze in the history, deployments scheduled in the
//! coming days at the next free slot (found by the same code as `schedule next`), and one that
//! a freeze declared after it was planned now conflicts with, so the Schedule view has
//! something to show.

use crate::config::Config;
use crate::decide::schedule::{self as scheduling, Proposal};
use crate::domain::ReleaseRef;
use crate::store::{FreezeRequest, PlanRequest, Store};
use chrono::{DateTime, Duration, TimeZone, Utc};

/// What the calendar holds after [`seed`].
#[derive(Debug, Default)]
pub struct Scheduled {
    pub planned: usize,
    pub freezes: usize,
}

fn plan_at(
    store: &mut Store,
    config: &Config,
    (service, version, env, model_name, prefix, hosts): (&str, &str, &str, &str, &str, usize),
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let model = config.model_for(model_name, env).map_err(anyhow::Error::msg)?;
    let targets: Vec<String> = (1..=hosts).map(|i| format!("{prefix}-{i:03}")).collect();
    let targets: crate::domain::inventory::Inventory = targets.into();
    let length = scheduling::run_length(store, config, model_name, model, &targets)?;
    let req = PlanRequest {
        release: ReleaseRef { name: service.into(), version: version.into() },
        environment: env.into(),
        model_name: model_name.into(),
        model,
        targets,
        change_ref: None,
        requested_by: "sam".into(),
        release_record: crate::domain::release::ReleaseRecord::default(),
        planned_start: start,
        planned_end: Some(start + length),
        now,
    };
    store.plan(&req)?;
    Ok(())
}

/// Local 21:00 of the day `days` after `now`, in the configured zone.
fn evening(config: &Config, now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    let day = (now + Duration::days(days)).with_timezone(&config.timezone).date_naive();
    let t = day.and_hms_opt(21, 0, 0).unwrap_or_default();
    config.timezone.from_local_datetime(&t).earliest().map_or(now + Duration::days(days), |d| d.with_timezone(&Utc))
}

/// Seeds the calendar around `now`.
pub fn seed(store: &mut Store, config: &Config, now: DateTime<Utc>) -> anyhow::Result<Scheduled> {
    let mut out = Scheduled::default();
    let production = vec!["production".to_owned()];
    // Ten days ago, a payment provider's incident froze production for six hours.
    let past = now - Duration::days(10);
    store.declare_freeze(&FreezeRequest {
        name: "payment-provider-incident",
        environments: &production,
        from: past,
        until: past + Duration::hours(6),
        reason: "Payment provider incident: no changes until their status page is green.",
        person: "omar",
        os_user: "shipdeck-demo",
        now: past,
    })?;
    out.freezes += 1;
    // The next free slots of the coming days, as `schedule next` finds them.
    let specs = [
        ("auth-gateway", "2.2.0", "production", "phased", "auth-prd", 20, 1),
        ("inventory-db", "2.2.0", "staging", "big-bang", "inv-stg", 6, 1),
        ("checkout-web", "7.13.0", "production", "rolling", "web-prd", 36, 2),
        ("search-svc", "3.5.0", "staging", "big-bang", "srch-stg", 6, 3),
    ];
    for (service, version, env, model_name, prefix, hosts, days) in specs {
        let model = config.model_for(model_name, env).map_err(anyhow::Error::msg)?;
        let targets: Vec<String> = (1..=hosts).map(|i| format!("{prefix}-{i:03}")).collect();
        let inventory: crate::domain::inventory::Inventory = targets.clone().into();
        let length = scheduling::run_length(store, config, model_name, model, &inventory)?;
        let proposal = Proposal { key: None, service, environment: env, targets: &targets, length };
        let after = now + Duration::days(days);
        if let (Some(start), _) = scheduling::next(store, config, &proposal, after)? {
            plan_at(store, config, (service, version, env, model_name, prefix, hosts), start, now)?;
            out.planned += 1;
        }
    }
    // Planned for an evening two days from now; the data centre then announced maintenance
    // over it: the calendar shows the conflict.
    let ledger_at = evening(config, now, 2);
    plan_at(store, config, ("ledger", "3.1.0", "production", "big-bang", "led-prd", 8), ledger_at, now)?;
    out.planned += 1;
    store.declare_freeze(&FreezeRequest {
        name: "dc-maintenance",
        environments: &production,
        from: ledger_at - Duration::hours(1),
        until: ledger_at + Duration::hours(3),
        reason: "Data centre power maintenance.",
        person: "dana",
        os_user: "shipdeck-demo",
        now,
    })?;
    out.freezes += 1;
    Ok(out)
}
