//! The list shapes the bench times, each with the total it must answer on the seeded data
//! (`seed`), computed here from the same rules.

use super::seed::{app_guid, created_at, droplet_guid, updated_at};

pub(super) struct Shape {
    pub(super) name: String,
    pub(super) path: String,
    pub(super) expected_total: u64,
}

/// Droplet `i`'s state, as seeded.
pub(super) fn state(i: u64) -> &'static str {
    match i % 10 {
        0 => "FAILED",
        1 => "AWAITING_UPLOAD",
        2 => "EXPIRED",
        _ => "STAGED",
    }
}

/// Droplet `i`'s `env` label, as seeded (a tenth are labelled).
pub(super) fn env(i: u64) -> Option<&'static str> {
    (i % 10 == 5).then(|| ["prod", "staging", "dev"][(i / 10 % 3) as usize])
}

fn team(i: u64) -> Option<String> {
    (i % 10 == 5).then(|| format!("t{}", i / 10 % 5 + 1))
}

fn timestamp(t: i64) -> String {
    let time = chrono::DateTime::from_timestamp(t, 0).expect("a time the seed makes");
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Every shape, for a table of `n` droplets.
pub(super) fn all(n: u64) -> Vec<Shape> {
    let count = |matches: &dyn Fn(u64) -> bool| (0..n).filter(|&i| matches(i)).count() as u64;
    let shape = |name: &str, query: &str, matches: &dyn Fn(u64) -> bool| Shape {
        name: name.to_owned(),
        path: format!("/v3/droplets?{query}"),
        expected_total: count(matches),
    };
    let all = |_| true;
    let middle = n / 2;
    let app = app_guid(middle);
    let guids = [7, middle, n - 1].map(droplet_guid).join(",");
    let late = created_at(n * 9 / 10);
    let early = created_at(n / 10);
    let (from, to) = (created_at(middle), created_at(middle + 1000));
    let is_env = |value: &'static str| move |i| env(i) == Some(value);
    let team_in = |i| team(i).is_some_and(|t| t == "t1" || t == "t2");
    let mut shapes = vec![
        shape("first page", "", &all),
        shape("page 998", "page=998", &all),
        shape(&format!("page {} (halfway)", n / 100), &format!("page={}", n / 100), &all),
        shape("per_page=5000", "per_page=5000", &all),
        shape("guids (3)", &format!("guids={guids}"), &|i| [7, middle, n - 1].contains(&i)),
        shape("app_guids (one app)", &format!("app_guids={app}"), &|i| i / 5 == middle / 5),
        shape("states=STAGED", "states=STAGED", &|i| state(i) == "STAGED"),
        shape("states=COPYING (none)", "states=COPYING", &|_| false),
        shape("states=FAILED,EXPIRED", "states=FAILED,EXPIRED", &|i| {
            matches!(state(i), "FAILED" | "EXPIRED")
        }),
        shape(
            "created_ats[gt] (last tenth)",
            &format!("created_ats[gt]={}", timestamp(late)),
            &|i| created_at(i) > late,
        ),
        shape(
            "created_ats[lt] (first tenth)",
            &format!("created_ats[lt]={}", timestamp(early)),
            &|i| created_at(i) < early,
        ),
        shape("created_ats (one second)", &format!("created_ats={}", timestamp(from)), &|i| {
            created_at(i) == from
        }),
        shape(
            "updated_ats[gte]&[lte] (a window)",
            &format!("updated_ats[gte]={}&updated_ats[lte]={}", timestamp(from), timestamp(to)),
            &|i| (from..=to).contains(&updated_at(i)),
        ),
        shape(
            "updated_ats[gte] (last tenth)",
            &format!("updated_ats[gte]={}", timestamp(late)),
            &|i| updated_at(i) >= late,
        ),
        shape("label env=prod", "label_selector=env%3Dprod", &is_env("prod")),
        shape("label env==prod", "label_selector=env%3D%3Dprod", &is_env("prod")),
        shape("label env!=prod", "label_selector=env!%3Dprod", &|i| env(i) != Some("prod")),
        shape("label team in (t1,t2)", "label_selector=team%20in%20(t1,t2)", &team_in),
        shape("label team notin (t1,t2)", "label_selector=team%20notin%20(t1,t2)", &|i| {
            !team_in(i)
        }),
        shape("label env (key)", "label_selector=env", &|i| env(i).is_some()),
        shape("label !env", "label_selector=!env", &|i| env(i).is_none()),
        shape("label team in (t1,t2),env", "label_selector=team%20in%20(t1,t2),env", &|i| {
            team_in(i) && env(i).is_some()
        }),
        shape("label env=prod,team!=t3", "label_selector=env%3Dprod,team!%3Dt3", &|i| {
            env(i) == Some("prod") && team(i).as_deref() != Some("t3")
        }),
        shape("states=STAGED, label env=prod", "states=STAGED&label_selector=env%3Dprod", &|i| {
            state(i) == "STAGED" && env(i) == Some("prod")
        }),
        shape("order_by=-created_at", "order_by=-created_at", &all),
        shape("order_by=updated_at", "order_by=updated_at", &all),
        shape("order_by=-updated_at", "order_by=-updated_at", &all),
        shape(
            "label env=prod, order_by=-updated_at",
            "label_selector=env%3Dprod&order_by=-updated_at",
            &is_env("prod"),
        ),
    ];
    shapes.push(Shape {
        name: "/v3/apps/{guid}/droplets".to_owned(),
        path: format!("/v3/apps/{app}/droplets"),
        expected_total: count(&|i| i / 5 == middle / 5),
    });
    shapes
}
