//! The list's answers against a brute-force filter of the same droplets, on both databases and
//! whichever statements the plan picks; and each query shape's statements held to their index
//! by the databases' own plans (`plans.rs`).

mod plans;

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::query::{DropletFilter, DropletListQuery, LabelRequirement, OrderBy, TimeFilter};
use crate::store::records::DropletRecord;
use crate::store::test_support::{TestDb, droplets};

/// Whether `droplet` meets `filter`, the plain way.
fn matches(droplet: &DropletRecord, filter: &DropletFilter) -> bool {
    let listed = |values: &Option<Vec<String>>, value: String| {
        values.as_ref().is_none_or(|values| values.contains(&value))
    };
    let time = |filters: &[TimeFilter], t: i64| {
        filters.iter().all(|filter| match filter {
            TimeFilter::Equals(times) => times.contains(&t),
            TimeFilter::Before(x) => t < *x,
            TimeFilter::AtOrBefore(x) => t <= *x,
            TimeFilter::After(x) => t > *x,
            TimeFilter::AtOrAfter(x) => t >= *x,
        })
    };
    let label = |requirement: &LabelRequirement| {
        let (negated, key, values) = requirement.parts();
        let held = match (droplet.labels.get(key), values) {
            (Some(value), Some(values)) => values.contains(value),
            (found, None) => found.is_some(),
            (None, Some(_)) => false,
        };
        held != negated
    };
    listed(&filter.guids, droplet.guid.to_string())
        && listed(&filter.app_guids, droplet.app_guid.to_string())
        && listed(&filter.states, droplet.state.as_str().to_owned())
        && time(&filter.created_at, droplet.created_at)
        && time(&filter.updated_at, droplet.updated_at)
        && filter.labels.iter().all(label)
}

fn expected_page(all: &[DropletRecord], query: &DropletListQuery) -> (u64, Vec<String>) {
    let mut found: Vec<&DropletRecord> = all.iter().filter(|d| matches(d, &query.filter)).collect();
    found.sort_by_key(|d| {
        let at = if query.order_by == OrderBy::CreatedAt { d.created_at } else { d.updated_at };
        (at, d.guid.to_string())
    });
    if query.descending {
        found.reverse();
    }
    let offset = ((query.page - 1) * query.per_page) as usize;
    let page = found.iter().skip(offset).take(query.per_page as usize);
    (found.len() as u64, page.map(|d| d.guid.to_string()).collect())
}

fn random_requirement(rng: &mut StdRng) -> LabelRequirement {
    let key = ["env", "team", "rare", "absent"][rng.random_range(0..4)].to_owned();
    let values = |rng: &mut StdRng| {
        let pool = ["prod", "staging", "dev", "t1", "t2", "t3", "", "none"];
        let n = rng.random_range(1..=2);
        (0..n).map(|_| pool[rng.random_range(0..pool.len())].to_owned()).collect::<Vec<_>>()
    };
    match rng.random_range(0..4) {
        0 => LabelRequirement::Exists(key),
        1 => LabelRequirement::NotExists(key),
        2 => LabelRequirement::In(key, values(rng)),
        _ => LabelRequirement::NotIn(key, values(rng)),
    }
}

fn random_time(rng: &mut StdRng) -> TimeFilter {
    // Mostly where most droplets were created; sometimes over the weeks before and the days
    // after, where some were created and late ones updated.
    let around = if rng.random_bool(0.7) { -4000..30_000 } else { -2_600_000..400_000 };
    let t = 1_700_000_000 + rng.random_range(around);
    match rng.random_range(0..5) {
        0 => TimeFilter::Equals(vec![t, t + 1]),
        1 => TimeFilter::Before(t),
        2 => TimeFilter::AtOrBefore(t),
        3 => TimeFilter::After(t),
        _ => TimeFilter::AtOrAfter(t),
    }
}

fn random_query(rng: &mut StdRng, all: &[DropletRecord]) -> DropletListQuery {
    let some = |rng: &mut StdRng, p: f64| rng.random_bool(p);
    let mut filter = DropletFilter::default();
    if some(rng, 0.1) {
        let mut guids: Vec<String> =
            (0..3).map(|_| all[rng.random_range(0..all.len())].guid.to_string()).collect();
        guids.push(uuid::Uuid::new_v4().to_string());
        filter.guids = Some(guids);
    }
    if some(rng, 0.15) {
        filter.app_guids = Some(vec![all[rng.random_range(0..all.len())].app_guid.to_string()]);
    }
    if some(rng, 0.3) {
        let states = ["AWAITING_UPLOAD", "STAGED", "FAILED", "EXPIRED", "COPYING"];
        let n = rng.random_range(1..=2);
        let picked = (0..n).map(|_| states[rng.random_range(0..states.len())].to_owned());
        filter.states = Some(picked.collect());
    }
    for _ in 0..rng.random_range(0..=2) {
        if some(rng, 0.3) {
            filter.created_at.push(random_time(rng));
        } else if some(rng, 0.2) {
            filter.updated_at.push(random_time(rng));
        }
    }
    if some(rng, 0.7) {
        filter.labels = (0..rng.random_range(1..=3)).map(|_| random_requirement(rng)).collect();
    }
    DropletListQuery {
        filter,
        per_page: [1, 3, 7, 50, 400][rng.random_range(0..5)],
        page: rng.random_range(1..=6),
        order_by: if some(rng, 0.5) { OrderBy::CreatedAt } else { OrderBy::UpdatedAt },
        descending: some(rng, 0.5),
    }
}

/// Random lists of random droplets, each answered as a brute-force filter answers it.
async fn lists_match_a_brute_force_filter(db: TestDb) {
    let mut all = droplets(1500, 7);
    // A third spread over several hours, so that time ranges cover whole time buckets.
    for (i, droplet) in all.iter_mut().enumerate().step_by(3) {
        droplet.created_at += (i as i64 % 7) * 3000;
        droplet.updated_at = droplet.created_at + (i as i64 % 5) * 2000;
    }
    // A fifth created over the month before: a day is a small part of the times' span.
    for (i, droplet) in all.iter_mut().enumerate().skip(2).step_by(5) {
        let earlier = (i as i64 % 30) * 86_400 + (i as i64 % 17) * 600;
        droplet.created_at -= earlier;
        droplet.updated_at -= earlier;
    }
    // Some updated days after their creation (late: `times::LATE_AFTER_SECONDS`), some
    // exactly a day after it (not late).
    for (i, droplet) in all.iter_mut().enumerate().skip(1).step_by(11) {
        droplet.updated_at = droplet.created_at + 86_400 * (i as i64 % 4) + i as i64 % 3;
    }
    db.store.insert_droplets(&all).await;
    // A few droplets with more labels than the counters pair (counted one by one).
    for droplet in all.iter_mut().step_by(40) {
        for k in 0..=crate::store::counts::PAIRED_LABELS {
            droplet.labels.insert(format!("x{k}"), "v".to_owned());
        }
        let labels = droplet.labels.clone();
        let change =
            |_: &_, annotations: &BTreeMap<String, String>| (labels.clone(), annotations.clone());
        db.store.update_metadata(droplet.guid, change, droplet.updated_at).await.unwrap();
    }
    let mut rng = StdRng::seed_from_u64(11);
    for round in 0..600 {
        if round == 300 {
            // Half the lists read compacted counters, half fresh ones.
            db.store.compact_counts().await.unwrap();
        }
        let mut query = random_query(&mut rng, &all);
        if round % 2 == 0 {
            // A time range alone, which the two times' order lets a list narrow (`times`).
            let times = (0..rng.random_range(1..=2)).map(|_| random_time(&mut rng)).collect();
            query.filter = if rng.random_bool(0.5) {
                DropletFilter { created_at: times, ..DropletFilter::default() }
            } else {
                DropletFilter { updated_at: times, ..DropletFilter::default() }
            };
        }
        let (total, page) = db.store.list_droplets(&query).await.unwrap();
        let page: Vec<String> = page.iter().map(|d| d.guid.to_string()).collect();
        assert_eq!((total, page), expected_page(&all, &query), "{query:?}");
    }
    db.remove().await;
}

#[tokio::test]
async fn sqlite_lists_match_a_brute_force_filter() {
    lists_match_a_brute_force_filter(TestDb::sqlite(None).await).await;
}

#[tokio::test]
async fn postgres_lists_match_a_brute_force_filter() {
    lists_match_a_brute_force_filter(TestDb::postgres(None).await).await;
}

/// A write stamped by a clock behind the one that created the droplet leaves it updated at its
/// creation, not before, so that lists that rely on the order of the two times still find it.
async fn writes_keep_updates_at_or_after_creation(db: TestDb) {
    let droplet = droplets(1, 9).remove(0);
    db.store.insert_droplets(std::slice::from_ref(&droplet)).await;
    let keep = |labels: &BTreeMap<_, _>, annotations: &BTreeMap<_, _>| {
        (labels.clone(), annotations.clone())
    };
    let earlier = droplet.created_at - 60;
    let updated = db.store.update_metadata(droplet.guid, keep, earlier).await.unwrap().unwrap();
    assert_eq!(updated.updated_at, droplet.created_at);
    let filter = DropletFilter {
        updated_at: vec![TimeFilter::AtOrAfter(droplet.created_at)],
        ..DropletFilter::default()
    };
    let (total, page) = db
        .store
        .list_droplets(&DropletListQuery { filter, ..DropletListQuery::default() })
        .await
        .unwrap();
    assert_eq!((total, page.len()), (1, 1));
    db.remove().await;
}

#[tokio::test]
async fn sqlite_writes_keep_updates_at_or_after_creation() {
    writes_keep_updates_at_or_after_creation(TestDb::sqlite(None).await).await;
}

#[tokio::test]
async fn postgres_writes_keep_updates_at_or_after_creation() {
    writes_keep_updates_at_or_after_creation(TestDb::postgres(None).await).await;
}
