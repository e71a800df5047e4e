//! `shipdeck models test MODEL [--targets N|FILE]`: the phases and batches a model's plan would
//! produce, for the edge cases of a fleet or for a given inventory (deployment model testing).
//! `models review`, `models actions` and `models action` live in [`super::model_review`].

use super::{Context, Reported, usage};
use crate::domain::DeploymentModel;
use crate::domain::rehearsal::{self, Case};
use std::io::Write;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the phases and batches a model would plan, for edge cases or an inventory; exit 1
    /// when it would produce an empty phase or a phase over its budget
    Test {
        /// The model, as named in the config
        model: String,
        /// A number of targets, or an inventory file (one host per line, CSV or TOML)
        /// [default: 1, 2, 3, 7, 100 and 10000 labelled targets, targets without labels, and
        /// a fleet where the smallest percentage is under one target]
        #[arg(long, value_name = "N|FILE")]
        targets: Option<String>,
    },
    /// How each model did over a period (runs, success, phases, gates, failures) and suggestions
    /// to improve it; --record N makes suggestion N an improvement action
    Review(super::model_review::Args),
    /// The improvement actions recorded from model reviews
    Actions {
        /// Only this model's
        #[arg(long, value_name = "MODEL")]
        model: Option<String>,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Mark a model's improvement action done (or open again)
    Action {
        /// The model
        model: String,
        /// The action's number within the model
        n: usize,
        /// Mark it done
        #[arg(long, required_unless_present = "open", conflicts_with = "open")]
        done: bool,
        /// Mark it open again
        #[arg(long)]
        open: bool,
    },
}

impl Command {
    /// Whether this invocation writes to the log.
    #[must_use]
    pub fn writes(&self) -> bool {
        match self {
            Self::Review(a) => a.writes(),
            Self::Action { .. } => true,
            Self::Test { .. } | Self::Actions { .. } => false,
        }
    }
}

pub fn run(ctx: &Context, cmd: &Command) -> anyhow::Result<i32> {
    let (name, targets) = match cmd {
        Command::Test { model, targets } => (model, targets),
        Command::Review(args) => return super::model_review::run(ctx, args),
        Command::Actions { model, json } => return super::model_review::actions(ctx, model.as_deref(), *json),
        Command::Action { model, n, done, open: _ } => return super::model_review::mark(ctx, model, *n, *done),
    };
    let model = ctx.config.model(name).map_err(usage)?;
    let cases = match targets.as_deref() {
        None => rehearsal::rehearse(model),
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            let n: usize = n.parse().map_err(|_| usage(format!("--targets \"{n}\" is too large")))?;
            if n == 0 {
                return Err(usage("--targets 0: a model is tested on at least 1 target"));
            }
            vec![rehearsal::try_fleet(model, format!("{n} target(s)"), &rehearsal::fleet(model, n), true)]
        }
        Some(file) => {
            let inventory = super::plan::read_targets(file)?;
            vec![rehearsal::try_fleet(model, format!("{file} ({} target(s))", inventory.len()), &inventory, false)]
        }
    };
    let mut out = std::io::stdout().lock();
    let refused = print(&mut out, name, model, &cases)?;
    if refused > 0 {
        return Err(Reported(format!(
            "model \"{name}\" is refused: {refused} case(s) would produce an empty phase or a phase over its budget"
        ))
        .into());
    }
    Ok(0)
}

/// How the model builds its phases, in one line.
#[must_use]
pub fn describe(model: &DeploymentModel) -> String {
    let mut text = format!("{}", model.technique);
    if let Some(b) = model.batch {
        text.push_str(&format!(", batch {b}"));
    }
    if let Some(m) = model.max_unavailable {
        text.push_str(&format!(", max_unavailable {m}"));
    }
    if let Some(s) = &model.spread {
        text.push_str(&format!(", spread over {s}"));
    }
    if let Some(n) = &model.new {
        text.push_str(&format!(
            ", new set {n} beside the old, switch-over gate, old set kept {}",
            crate::domain::duration::format(model.keep_old())
        ));
    }
    if model.supervised_runs > 0 {
        text.push_str(&format!(", first {} run(s) supervised", model.supervised_runs));
    }
    for p in &model.phases {
        text.push_str(&format!("; {} takes {}", p.name, p.targets));
        if let Some(sel) = &p.select {
            text.push_str(&format!(" of {sel}"));
        }
        if let Some(s) = &p.spread {
            text.push_str(&format!(" spread over {s}"));
        }
    }
    text
}

/// Prints every case of a model; returns how many refuse it.
pub fn print(out: &mut impl Write, name: &str, model: &DeploymentModel, cases: &[Case]) -> std::io::Result<usize> {
    outln!(out, "model {name}: {}", describe(model))?;
    let mut refused = 0;
    for case in cases {
        let shape = match &case.outcome {
            Ok(phases) => rehearsal::shape(phases),
            Err(e) => format!("plan refused: {e}"),
        };
        outln!(out, "  {:<36} {shape}", case.title)?;
        for note in &case.notes {
            outln!(out, "  {:<36}   note: {note}", "")?;
        }
        if let Some(problem) = &case.problem {
            refused += 1;
            outln!(out, "  {:<36}   REFUSED: {problem}", "")?;
        }
    }
    Ok(refused)
}
