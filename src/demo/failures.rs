//! Why the demo's past deployments fail: causes, and the error texts agents report for them.
//!
//! Each cause writes messages the way real tools do, with what varies between hosts varying
//! (free megabytes, paths, addresses, ports, durations, versions), so that History's error
//! groups have something to fold: one cause is one group, however many hosts it hit.

use super::rng::Rng;

/// A cause of failure on a host, with the lifecycle step it shows up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The disk filled up while unpacking the release (old releases never pruned).
    DiskFull,
    /// The database the service needs refused connections.
    DatabaseRefused,
    /// The service did not answer its health check in time.
    HealthTimeout,
    /// A package the release needs conflicts with what the host has.
    DependencyConflict,
    /// The agent could not read or write a file it needs.
    PermissionDenied,
    /// The artifact in the repository is not the one that was built.
    ChecksumMismatch,
    /// The post-deploy smoke test failed.
    SmokeTest,
}

impl Cause {
    /// Every cause.
    pub const ALL: [Self; 7] = [
        Self::DiskFull,
        Self::DatabaseRefused,
        Self::HealthTimeout,
        Self::DependencyConflict,
        Self::PermissionDenied,
        Self::ChecksumMismatch,
        Self::SmokeTest,
    ];

    /// A cause for a failing deployment, the common ones more often.
    pub fn pick(rng: &mut Rng) -> Self {
        *rng.pick(&[
            Self::DiskFull,
            Self::DatabaseRefused,
            Self::DatabaseRefused,
            Self::HealthTimeout,
            Self::HealthTimeout,
            Self::DependencyConflict,
            Self::PermissionDenied,
            Self::ChecksumMismatch,
            Self::SmokeTest,
        ])
    }

    /// The step of `steps` where the cause shows: the install, download or verify step when the
    /// model has it, else the last step.
    pub fn step(self, steps: &[String]) -> usize {
        let wanted = match self {
            Self::DiskFull | Self::DependencyConflict | Self::PermissionDenied => "install",
            Self::ChecksumMismatch => "download",
            Self::DatabaseRefused | Self::HealthTimeout | Self::SmokeTest => "verify",
        };
        steps.iter().position(|s| s == wanted).unwrap_or(steps.len().saturating_sub(1))
    }

    /// What an agent on `host` of `service` reports. `seed` fixes what is shared by the hosts of
    /// one deployment (the database's address, the package in conflict).
    pub fn message(self, service: &str, host: &str, seed: u64, rng: &mut Rng) -> String {
        let mut shared = Rng::seeded(seed);
        match self {
            Self::DiskFull => {
                let file = rng.pick(&["app.tar.gz", "static-assets.tar", "vendor.tar.zst", "bundle.jar"]);
                format!(
                    "No space left on device while unpacking /var/lib/{service}/releases/{}/{file} (need {} MB, {} MB free)",
                    rng.range(10, 400),
                    rng.range(120, 900),
                    rng.range(0, 110)
                )
            }
            Self::DatabaseRefused => {
                let db = shared.pick(&["ledger-db", "orders-db", "sessions-pg", "catalog-mysql"]);
                let port = if db.ends_with("mysql") { 3306 } else { 5432 };
                format!(
                    "health check failed: dial tcp 10.{}.{}.{}:{port}: connect: connection refused (database '{db}', {} retries)",
                    shared.range(10, 40),
                    rng.range(0, 8),
                    rng.range(2, 250),
                    rng.range(3, 6)
                )
            }
            Self::HealthTimeout => format!(
                "health check timed out after {}s: GET http://{host}:{}/healthz did not answer (attempt {} of 5)",
                rng.range(20, 121),
                rng.pick(&[8080, 8443, 9000]),
                rng.range(3, 6)
            ),
            Self::DependencyConflict => {
                let (package, need) = *shared.pick(&[
                    ("libssl3", "3.0.13"),
                    ("libpq5", "16.2"),
                    ("openjdk-17-jre-headless", "17.0.10"),
                    ("python3-cryptography", "42.0.5"),
                ]);
                format!(
                    "dependency conflict: {service} requires {package} >= {need}, but {}.{}.{}-{} is installed",
                    need.split('.').next().unwrap_or("1"),
                    rng.range(0, 2),
                    rng.range(1, 9),
                    rng.range(1, 20)
                )
            }
            Self::PermissionDenied => {
                let path = match rng.range(0, 3) {
                    0 => format!("/etc/{service}/conf.d/{:02}-tls.conf", rng.range(10, 100)),
                    1 => format!("/var/lib/{service}/releases/{}/bin/{service}", rng.range(100, 999)),
                    _ => format!("/run/{service}/worker-{}.sock", rng.range(1, 64)),
                };
                format!("open {path}: permission denied (running as uid {})", shared.range(990, 1010))
            }
            Self::ChecksumMismatch => format!(
                "checksum mismatch: expected sha256 {:016x}, got {:016x} (artifact re-uploaded?)",
                shared.next_u64(),
                rng.next_u64()
            ),
            Self::SmokeTest => format!(
                "smoke test 'checkout-happy-path' failed after {} ms: expected HTTP 200, got 500 (request {})",
                rng.range(150, 4000),
                rng.uuid_v4()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::errors::shape;
    use std::collections::BTreeSet;

    #[test]
    fn each_cause_is_one_error_group_across_hosts_services_and_deployments() {
        let mut rng = Rng::seeded(11);
        let mut shapes = Vec::new();
        for cause in Cause::ALL {
            // The hosts of one deployment (one seed), for several deployments.
            for seed in 0..4 {
                let mut seen = BTreeSet::new();
                let mut messages = BTreeSet::new();
                for i in 0..40 {
                    let host = format!("pay-prd-{:02}", i + 1);
                    let message = cause.message("payments-api", &host, seed, &mut rng);
                    seen.insert(shape(&message));
                    messages.insert(message);
                }
                assert_eq!(seen.len(), 1, "{cause:?} should be one group: {seen:#?}");
                assert!(messages.len() > 20, "{cause:?} messages should vary between hosts: {messages:#?}");
                shapes.extend(seen);
            }
        }
        // Two causes never share a shape, whatever the deployment.
        let mut by_shape: std::collections::BTreeMap<&String, usize> = std::collections::BTreeMap::new();
        for (i, s) in shapes.iter().enumerate() {
            let cause = i / 4;
            assert_eq!(*by_shape.entry(s).or_insert(cause), cause, "causes share a group: {s}");
        }
    }

    #[test]
    fn a_cause_fails_the_step_where_it_shows_or_the_last_one() {
        let steps: Vec<String> = ["download", "install", "verify"].map(String::from).to_vec();
        assert_eq!(Cause::DiskFull.step(&steps), 1);
        assert_eq!(Cause::ChecksumMismatch.step(&steps), 0);
        assert_eq!(Cause::HealthTimeout.step(&steps), 2);
        let other: Vec<String> = ["fetch", "switch"].map(String::from).to_vec();
        assert_eq!(Cause::DiskFull.step(&other), 1);
    }
}
