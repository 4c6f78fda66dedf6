//! `cargo bench -p kiroku-policy`: the time of one access decision by the default policy set,
//! for 60 accounts across the demo's job types and roles, against the target of issue 6 (p99
//! under 100 µs). Prints its figures; asserts nothing (machines here are shared and noisy).

use kiroku_policy::{Action, Engine, Principal, PrincipalKind, Resource};
use std::time::Instant;

const JOB_TYPES: &[&str] = &[
    "doctor",
    "trainee-doctor",
    "nurse",
    "pharmacist",
    "lab-technologist",
    "radiology-technologist",
    "therapist",
    "dietitian",
    "medical-clerk",
    "researcher",
    "student",
    "vendor-engineer",
];
const ROLES: &[&str] = &["", "system_administrator", "auditor", "operations_manager"];
const CATEGORIES: &[&str] = &["medical_staff", "registered_trainee", "researcher"];

fn accounts() -> Vec<Principal> {
    (0..60)
        .map(|i| Principal {
            id: format!("staff.{i:03}"),
            kind: PrincipalKind::Person,
            status: if i % 17 == 0 { "suspended" } else { "active" }.into(),
            job_type: JOB_TYPES[i % JOB_TYPES.len()].into(),
            department: format!("dept-{}", i % 10),
            category: CATEGORIES[i % CATEGORIES.len()].into(),
            roles: match ROLES[i % ROLES.len()] {
                "" => Vec::new(),
                r => vec![r.to_owned()],
            },
            heads: if i % 6 == 0 {
                vec![format!("dept-{}", i % 10)]
            } else {
                Vec::new()
            },
            scopes: Vec::new(),
        })
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let engine = Engine::compile(kiroku_policy::engine::DEFAULT_POLICY)?;
    let accounts = accounts();
    let categories = [
        "medical",
        "nursing",
        "pharmacy",
        "laboratory",
        "administrative",
    ];
    let resources: Vec<(Action, Resource)> = Action::ALL
        .iter()
        .enumerate()
        .map(|(i, action)| {
            let resource = match action.any_resource() {
                Resource::Record { .. } => Resource::Record {
                    id: format!("rec-{i}"),
                    category: categories[i % categories.len()].into(),
                    department: format!("dept-{}", i % 10),
                    care: kiroku_policy::Care {
                        relationship: ["encounter", "department", "none"][i % 3].into(),
                        flags: Vec::new(),
                    },
                },
                Resource::Application { .. } => Resource::Application {
                    id: format!("{i}"),
                    department: format!("dept-{}", i % 10),
                },
                other => other,
            };
            (*action, resource)
        })
        .collect();
    // Warm up.
    for p in &accounts {
        for (a, r) in &resources {
            engine.decide(p, *a, r)?;
        }
    }
    let rounds = 200;
    let mut times = Vec::with_capacity(rounds * accounts.len() * resources.len());
    let mut allowed = 0u64;
    let started = Instant::now();
    for _ in 0..rounds {
        for p in &accounts {
            for (a, r) in &resources {
                let t = Instant::now();
                let d = engine.decide(p, *a, r)?;
                times.push(t.elapsed());
                allowed += u64::from(d.allowed);
            }
        }
    }
    let total = started.elapsed();
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q) as usize];
    println!(
        "policy decision (default policy set, {} accounts × {} actions, {} decisions, {} allowed)",
        accounts.len(),
        resources.len(),
        times.len(),
        allowed
    );
    println!(
        "  p50 {:.1} µs  p99 {:.1} µs  max {:.1} µs  ({:.0} decisions/s on one thread)",
        at(0.50).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        at(1.0).as_secs_f64() * 1e6,
        times.len() as f64 / total.as_secs_f64()
    );
    println!("  target (issue 6): p99 under 100 µs");
    Ok(())
}
