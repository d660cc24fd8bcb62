//! `prospector bench fingerprint DIR`: time to match one saved page against
//! the loaded definitions (the engine only; parsing is timed separately).
//!
//! Every `*.html` file in DIR is a page; an optional `<name>.headers` file
//! beside it holds its response headers (`Name: value` per line). Each page
//! is parsed once, then matched `--repeat` times; the figures are the
//! median and 99th percentile of all match runs. With `--synthesize N` the
//! definitions are replicated (renamed copies) up to N technologies and the
//! run is repeated, for a dataset the size of the community's.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use prospector_jobs::ScanTech;
use prospector_jobs::tech_scan::{
    document,
    fingerprint::{Engine, PageInput, RawDefinitions},
};
use url::Url;

use super::{ms, percentile};
use prospector::config::Settings;

use crate::cli::BenchFingerprintArgs;

struct Saved {
    name: String,
    html: String,
    headers: Vec<(String, String)>,
}

/// Run the benchmark and print its figures.
pub fn run(settings: &Settings, args: &BenchFingerprintArgs) -> anyhow::Result<()> {
    let pages = load_pages(&args.dir)?;
    if pages.is_empty() {
        bail!("no *.html files in {}", args.dir.display());
    }
    let raw = RawDefinitions::load(&settings.of::<ScanTech>().definitions)?;
    let started = Instant::now();
    let engine = Engine::compile(raw.clone());
    println!(
        "bench fingerprint: {} pages from {}, {} technologies ({} patterns, {} skipped) compiled in {:.0} ms, {} runs per page",
        pages.len(),
        args.dir.display(),
        engine.report().technologies,
        engine.report().patterns,
        engine.report().skipped.len(),
        started.elapsed().as_secs_f64() * 1000.0,
        args.repeat
    );
    measure(&engine, &pages, args.repeat, true);
    if let Some(target) = args.synthesize
        && target > raw.technologies.len()
    {
        let mut bigger = raw.clone();
        let originals: Vec<_> = raw.technologies.clone().into_iter().collect();
        let mut copy = 1;
        while bigger.technologies.len() < target {
            for (name, def) in &originals {
                if bigger.technologies.len() >= target {
                    break;
                }
                bigger
                    .technologies
                    .insert(format!("{name} (copy {copy})"), def.clone());
            }
            copy += 1;
        }
        let started = Instant::now();
        let engine = Engine::compile(bigger);
        println!(
            "synthesized: definitions replicated to {} technologies ({} patterns), compiled in {:.0} ms",
            engine.report().technologies,
            engine.report().patterns,
            started.elapsed().as_secs_f64() * 1000.0
        );
        measure(&engine, &pages, args.repeat, false);
    }
    Ok(())
}

fn measure(engine: &Engine, pages: &[Saved], repeat: usize, per_page: bool) {
    let mut all = Vec::new();
    let mut parse_times = Vec::new();
    for page in pages {
        let url = Url::parse("https://bench.test/").unwrap_or_else(|_| unreachable!("constant URL"));
        let started = Instant::now();
        let parsed = document::parse_page(&page.html, &url, 512);
        parse_times.push(started.elapsed());
        let input = PageInput {
            url: url.as_str(),
            html: &page.html,
            headers: &page.headers,
            meta: &parsed.meta,
            script_src: &parsed.script_src,
            scripts: &parsed.scripts,
            text: &parsed.text,
            css: &parsed.css,
            document: Some(&parsed.document),
            ..PageInput::default()
        };
        let mut times = Vec::with_capacity(repeat);
        let mut found = 0;
        for _ in 0..repeat {
            let started = Instant::now();
            found = engine.analyze(&input).len();
            times.push(started.elapsed());
        }
        times.sort();
        if per_page {
            println!(
                "  {:<32} {:>7} KB  {:>3} detections  match p50 {:>7.3} ms  p99 {:>7.3} ms  (parse {:.2} ms)",
                page.name,
                page.html.len() / 1024,
                found,
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.99)),
                ms(*parse_times.last().unwrap_or(&Duration::ZERO)),
            );
        }
        all.extend(times);
    }
    all.sort();
    parse_times.sort();
    println!(
        "  all pages: match median {:.3} ms, p99 {:.3} ms per page; parse median {:.2} ms",
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99)),
        ms(percentile(&parse_times, 0.5)),
    );
}

fn load_pages(dir: &Path) -> anyhow::Result<Vec<Saved>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "html" || e == "htm"))
        .collect();
    files.sort();
    let mut pages = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let (html, _) = prospector_jobs::tech_scan::fetch::decode::decode_text(&bytes, None);
        let headers = std::fs::read_to_string(file.with_extension("headers"))
            .map(|text| {
                text.lines()
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        pages.push(Saved {
            name: file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            html,
            headers,
        });
    }
    Ok(pages)
}
