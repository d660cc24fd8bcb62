//! `prospector-bench build`: throughput of the whole site generator (DNA +
//! copy + render + static gate) and the size of its pages.
//!
//! The inputs are synthesised here, one per index, cycling through
//! categories, languages and the presence or absence of optional data, so a
//! run exercises every theme and fallback. Call it from a release build; the
//! figures are printed by the caller.

use std::time::{Duration, Instant};

use serde::Serialize;
use uuid::Uuid;

use prospector_jobs::build_site::{
    AddressInput, GeneratorConfig, PhotoInput, ReviewInput, SiteInput, Variant, generate,
};

/// What a run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchFigures {
    /// Sites generated.
    pub sites: usize,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// `sites / elapsed` on one thread.
    pub sites_per_second: f64,
    /// Mean size of a page (HTML, CSS inlined), bytes.
    pub mean_page_bytes: usize,
    /// Largest page, bytes.
    pub max_page_bytes: usize,
    /// Mean size of the CSS alone, bytes.
    pub mean_css_bytes: usize,
    /// Sites that failed to build or failed the gate (should be 0).
    pub failures: usize,
}

const CATEGORIES: [(&str, &str, &str); 8] = [
    ("Boulangerie", "rue de la Gare", "lundi: 06:30–18:30"),
    ("Autowerkstatt", "Hauptstraße", "Montag: 08:00–18:00"),
    ("Dentist", "Avenue John F. Kennedy", "Monday: 8:00 AM – 6:00 PM"),
    ("Salon de coiffure", "Grand-Rue", "mardi: 09:00–18:00"),
    (
        "Restaurant",
        "Place d'Armes",
        "Tuesday: 12:00 – 2:30 PM, 7:00 – 10:30 PM",
    ),
    ("Plumber", "Route d'Esch", "Monday: Open 24 hours"),
    ("Water damage restoration service", "Rue du Fort", ""),
    ("Rechtsanwalt", "Bahnhofstrasse", "Freitag: 09:00–12:00"),
];

/// A synthetic but realistic business for bench index `i`.
fn sample(i: usize) -> SiteInput {
    let (category, street, hours) = CATEGORIES[i % CATEGORIES.len()];
    let with_extras = i % 3 != 2;
    SiteInput {
        public_id: Uuid::from_u128(0x5eed_0000 + i as u128),
        name: format!("{category} Muller {i}"),
        category: Some(category.to_owned()),
        subcategory: None,
        address: AddressInput {
            full: None,
            street: Some(format!("{} {street}", 1 + i % 90)),
            city: Some(["Luxembourg", "Esch-sur-Alzette", "Ettelbruck", "Diekirch"][i % 4].to_owned()),
            postal_code: Some(format!("L-{}", 1000 + i % 8000)),
            state: None,
            country_code: Some("LU".to_owned()),
        },
        phone: with_extras.then(|| format!("+352 26 {:02} {:02} {:02}", i % 100, (i / 7) % 100, (i / 3) % 100)),
        email: i.is_multiple_of(2).then(|| format!("contact{i}@example.lu")),
        opening_hours: if hours.is_empty() {
            vec![]
        } else {
            vec![hours.to_owned(), "Sunday: Closed".to_owned()]
        },
        rating: with_extras.then_some(4.0 + (i % 10) as f64 / 10.0),
        review_count: with_extras.then_some(10 + (i % 300) as i64),
        reviews: (0..(i % 6))
            .map(|r| ReviewInput {
                author: format!("Client{r} Nom{r}"),
                rating: Some(5.0 - (r % 2) as f64),
                text: format!(
                    "Review number {r}: friendly people, careful work and a fair price. We will come back again, thank you {i}."
                ),
                published: Some(format!("2025-0{}-1{}", 1 + r % 9, r % 9)),
                source_url: Some(format!("https://maps.google.com/?cid={i}{r}")),
            })
            .collect(),
        photos: (0..(i % 4))
            .map(|p| PhotoInput {
                url: format!("/photos/{i}-{p}.webp"),
                width: Some(1200),
                height: Some(800),
                attribution: None,
            })
            .collect(),
        lat: with_extras.then_some(49.6 + (i % 100) as f64 / 1000.0),
        lng: with_extras.then_some(6.1 + (i % 100) as f64 / 1000.0),
        existing_website: None,
        existing_content: None,
        variant: Variant::New,
    }
}

/// Generate `n` sites end to end and measure.
pub fn bench_generate(n: usize) -> BenchFigures {
    let config = GeneratorConfig::default();
    let inputs: Vec<SiteInput> = (0..n).map(sample).collect();
    let (mut total, mut max, mut css_total, mut failures) = (0usize, 0usize, 0usize, 0usize);
    let start = Instant::now();
    for (i, input) in inputs.iter().enumerate() {
        let url = format!("https://preview.example.lu/s/{i}/");
        match generate(
            input,
            &config,
            &url,
            "https://preview.example.lu/claim",
            false,
            None,
        ) {
            Ok(g) => {
                if !g.gate.passed {
                    failures += 1;
                }
                total += g.site.html.len();
                css_total += g.site.css.len();
                max = max.max(g.site.html.len());
            }
            Err(_) => failures += 1,
        }
    }
    let elapsed = start.elapsed();
    BenchFigures {
        sites: n,
        elapsed,
        sites_per_second: n as f64 / elapsed.as_secs_f64().max(1e-9),
        mean_page_bytes: total / n.max(1),
        max_page_bytes: max,
        mean_css_bytes: css_total / n.max(1),
        failures,
    }
}

/// `prospector-bench build`: run the generator `sites` times on one thread,
/// then split over `threads`, and print the figures.
pub fn run(sites: usize, threads: usize) -> anyhow::Result<()> {
    let one = bench_generate(sites);
    println!(
        "bench build: {} sites on 1 thread in {:.2} s = {:.0} sites/s; pages mean {} B, max {} B (CSS mean {} B); failures {}",
        one.sites,
        one.elapsed.as_secs_f64(),
        one.sites_per_second,
        one.mean_page_bytes,
        one.max_page_bytes,
        one.mean_css_bytes,
        one.failures
    );
    if threads > 1 {
        let started = Instant::now();
        let per = sites.div_ceil(threads);
        let handles: Vec<_> = (0..threads)
            .map(|_| std::thread::spawn(move || bench_generate(per)))
            .collect();
        let mut done = 0;
        let mut failures = 0;
        for h in handles {
            let f = h.join().map_err(|_| anyhow::anyhow!("a bench thread panicked"))?;
            done += f.sites;
            failures += f.failures;
        }
        let elapsed = started.elapsed();
        println!(
            "bench build: {done} sites on {threads} threads in {:.2} s = {:.0} sites/s; failures {failures}",
            elapsed.as_secs_f64(),
            done as f64 / elapsed.as_secs_f64()
        );
    }
    if one.failures > 0 {
        anyhow::bail!(
            "{} sites failed to build or failed their static checks",
            one.failures
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_inputs_all_build_and_pass_the_gate() {
        let figures = bench_generate(24);
        assert_eq!(figures.failures, 0, "{figures:?}");
        assert!(figures.max_page_bytes <= prospector_jobs::build_site::gate::MAX_PAGE_BYTES);
        assert!(figures.mean_css_bytes > 1000);
    }
}
