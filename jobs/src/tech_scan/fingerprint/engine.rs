//! The compiled definitions and the matcher.
//!
//! Loading compiles every pattern once; a pattern Rust's `regex` cannot
//! compile (look-around, back-references) is reported in [`LoadReport`] and
//! skipped. Matching a page:
//! 1. every text haystack is ASCII-lower-cased once;
//! 2. per field, one Aho-Corasick pass finds which required literals occur,
//!    and only the patterns whose literal occurs (or that have none) run;
//! 3. named fields (headers, cookies, meta, DNS types) run only the patterns
//!    of the names present;
//! 4. detections are summed per technology (confidence capped at 100), then
//!    `implies`, `requires`/`requiresCategory` and `excludes` are resolved.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use scraper::{Html, Selector};
use serde_json::{Map, Value};

pub use super::detection::{CategoryRef, Detection, Evidence, Field, LoadReport, PageInput, SkippedPattern};
use super::{
    definitions::{DefinitionsError, DefinitionsSource, RawCategory, RawDefinitions},
    dom::{DomRule, dom_check, dom_rules, selector_tokens},
    pattern::{Pattern, PatternMatch, resolve_version},
    prefilter::Prefilter,
};

/// Fields Prospector cannot evaluate without running the page's JavaScript.
const UNSUPPORTED_FIELDS: &[&str] = &["js", "xhr", "probe"];
/// Fields that carry no patterns.
const DESCRIPTIVE_FIELDS: &[&str] = &[
    "cats",
    "website",
    "description",
    "icon",
    "cpe",
    "saas",
    "oss",
    "pricing",
    "implies",
    "requires",
    "requiresCategory",
    "excludes",
    "scripts",
];

struct Implied {
    tech: usize,
    confidence: u8,
    version: Option<String>,
}

struct Tech {
    name: String,
    categories: Vec<u32>,
    website: Option<String>,
    implies: Vec<Implied>,
    requires: Vec<usize>,
    requires_category: Vec<u32>,
    excludes: Vec<usize>,
}

impl Tech {
    /// Whether it may be detected on any page (no `requires`).
    fn unconditional(&self) -> bool {
        self.requires.is_empty() && self.requires_category.is_empty()
    }
}

struct Compiled {
    tech: usize,
    field: Field,
    key: Option<String>,
    pattern: Pattern,
}

/// Patterns of one field (or one name within a field).
#[derive(Default)]
struct Group {
    patterns: Vec<usize>,
    prefilter: Option<Prefilter>,
}

impl Group {
    /// Which patterns may match `values` (all, without a prefilter).
    fn candidates(&self, values: &[(&str, &str)]) -> Vec<bool> {
        let mut run = vec![self.prefilter.is_none(); self.patterns.len()];
        if let Some(prefilter) = &self.prefilter {
            let lowers: Vec<&str> = values.iter().map(|(_, l)| *l).collect();
            prefilter.candidates(&lowers, &mut run);
        }
        run
    }

    fn finish(&mut self, all: &[Compiled]) {
        if self.patterns.len() >= 4 {
            let literals: Vec<_> = self
                .patterns
                .iter()
                .map(|&p| all[p].pattern.literals.clone())
                .collect();
            self.prefilter = Prefilter::build(&literals);
        }
    }
}

/// Compiled definitions.
pub struct Engine {
    techs: Vec<Tech>,
    categories: BTreeMap<u32, RawCategory>,
    patterns: Vec<Compiled>,
    html: Group,
    scripts: Group,
    text: Group,
    css: Group,
    url: Group,
    script_src: Group,
    robots: Group,
    cert_issuer: Group,
    headers: HashMap<String, Group>,
    cookies: HashMap<String, Group>,
    cookie_prefixes: Vec<(String, usize)>,
    meta: HashMap<String, Group>,
    dns: HashMap<String, Group>,
    dom: Vec<DomRule>,
    dom_prefilter: Option<Prefilter>,
    report: LoadReport,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("technologies", &self.techs.len())
            .field("patterns", &self.patterns.len())
            .finish_non_exhaustive()
    }
}

/// Accumulated matches of one technology.
#[derive(Default)]
struct Acc {
    confidence: u32,
    evidence: Vec<Evidence>,
    versions: Vec<String>,
    implied_by: Vec<String>,
}

impl Engine {
    /// Load and compile definitions.
    pub fn load(source: &DefinitionsSource) -> Result<Self, DefinitionsError> {
        Ok(Self::compile(RawDefinitions::load(source)?))
    }

    /// Compile raw definitions; bad patterns are reported and skipped.
    pub fn compile(raw: RawDefinitions) -> Self {
        let names: HashMap<String, usize> = raw
            .technologies
            .keys()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let mut report = LoadReport {
            technologies: raw.technologies.len(),
            categories: raw.categories.len(),
            ..LoadReport::default()
        };
        let mut engine = Engine {
            techs: Vec::with_capacity(names.len()),
            categories: raw.categories.clone(),
            patterns: Vec::new(),
            html: Group::default(),
            scripts: Group::default(),
            text: Group::default(),
            css: Group::default(),
            url: Group::default(),
            script_src: Group::default(),
            robots: Group::default(),
            cert_issuer: Group::default(),
            headers: HashMap::new(),
            cookies: HashMap::new(),
            cookie_prefixes: Vec::new(),
            meta: HashMap::new(),
            dns: HashMap::new(),
            dom: Vec::new(),
            dom_prefilter: None,
            report: LoadReport::default(),
        };
        for (index, (name, def)) in raw.technologies.iter().enumerate() {
            let mut resolve = |list: Vec<String>, what: &str| -> Vec<(usize, String)> {
                list.into_iter()
                    .filter_map(|entry| {
                        let target = entry.split("\\;").next().unwrap_or_default().trim().to_owned();
                        match names.get(&target) {
                            Some(&i) => Some((i, entry)),
                            None => {
                                report
                                    .unknown_references
                                    .push(format!("{name}: {what} `{target}` is not defined"));
                                None
                            }
                        }
                    })
                    .collect()
            };
            let implies = resolve(strings(def.get("implies")), "implies")
                .into_iter()
                .map(|(tech, entry)| {
                    let (confidence, version) = tags(&entry);
                    Implied {
                        tech,
                        confidence,
                        version,
                    }
                })
                .collect();
            let requires = resolve(strings(def.get("requires")), "requires")
                .into_iter()
                .map(|(i, _)| i)
                .collect();
            let excludes = resolve(strings(def.get("excludes")), "excludes")
                .into_iter()
                .map(|(i, _)| i)
                .collect();
            engine.techs.push(Tech {
                name: name.clone(),
                categories: numbers(def.get("cats")),
                website: def.get("website").and_then(Value::as_str).map(str::to_owned),
                implies,
                requires,
                requires_category: numbers(def.get("requiresCategory")),
                excludes,
            });
            engine.add_patterns(index, name, def, &mut report);
        }
        for group in [
            &mut engine.html,
            &mut engine.scripts,
            &mut engine.text,
            &mut engine.css,
            &mut engine.url,
            &mut engine.script_src,
            &mut engine.robots,
            &mut engine.cert_issuer,
        ] {
            group.finish(&engine.patterns);
        }
        for map in [
            &mut engine.headers,
            &mut engine.cookies,
            &mut engine.meta,
            &mut engine.dns,
        ] {
            for group in map.values_mut() {
                group.finish(&engine.patterns);
            }
        }
        let dom_tokens: Vec<_> = engine.dom.iter().map(|r| r.tokens.clone()).collect();
        engine.dom_prefilter = Prefilter::build(&dom_tokens);
        report.patterns = engine.patterns.len() + engine.dom.len();
        report.unknown_references.sort();
        report.unknown_references.dedup();
        engine.report = report;
        engine
    }

    fn add_patterns(&mut self, tech: usize, name: &str, def: &Map<String, Value>, report: &mut LoadReport) {
        let mut skipped: Vec<SkippedPattern> = Vec::new();
        let mut skip = |field: String, pattern: &str, reason: String| {
            skipped.push(SkippedPattern {
                technology: name.to_owned(),
                field,
                pattern: pattern.chars().take(200).collect(),
                reason,
            });
        };
        for (key, value) in def {
            let field = match key.as_str() {
                "html" => Some(Field::Html),
                "scripts" => Some(Field::Scripts),
                "text" => Some(Field::Text),
                "css" => Some(Field::Css),
                "url" => Some(Field::Url),
                "scriptSrc" | "script" => Some(Field::ScriptSrc),
                "robots" => Some(Field::Robots),
                "certIssuer" => Some(Field::CertIssuer),
                _ => None,
            };
            if let Some(field) = field {
                for raw in strings(Some(value)) {
                    match Pattern::parse(&raw) {
                        Ok(pattern) => {
                            let id = self.patterns.len();
                            self.patterns.push(Compiled {
                                tech,
                                field: field.clone(),
                                key: None,
                                pattern,
                            });
                            self.group_mut(&field).patterns.push(id);
                        }
                        Err(e) => skip(key.clone(), &raw, e.reason),
                    }
                }
                continue;
            }
            match key.as_str() {
                "headers" | "cookies" | "meta" | "dns" => {
                    let Value::Object(named) = value else {
                        skip(key.clone(), &value.to_string(), "not an object".into());
                        continue;
                    };
                    let field = match key.as_str() {
                        "headers" => Field::Header,
                        "cookies" => Field::Cookie,
                        "meta" => Field::Meta,
                        _ => Field::Dns,
                    };
                    for (entry_name, patterns) in named {
                        let entry_key = if field == Field::Dns {
                            entry_name.to_ascii_uppercase()
                        } else {
                            entry_name.to_ascii_lowercase()
                        };
                        for raw in strings(Some(patterns)) {
                            match Pattern::parse(&raw) {
                                Ok(pattern) => {
                                    let id = self.patterns.len();
                                    self.patterns.push(Compiled {
                                        tech,
                                        field: field.clone(),
                                        key: Some(entry_key.clone()),
                                        pattern,
                                    });
                                    if field == Field::Cookie && entry_key.ends_with('*') {
                                        self.cookie_prefixes
                                            .push((entry_key.trim_end_matches('*').to_owned(), id));
                                        continue;
                                    }
                                    let map = match field {
                                        Field::Header => &mut self.headers,
                                        Field::Cookie => &mut self.cookies,
                                        Field::Meta => &mut self.meta,
                                        _ => &mut self.dns,
                                    };
                                    map.entry(entry_key.clone()).or_default().patterns.push(id);
                                }
                                Err(e) => skip(format!("{key}.{entry_name}"), &raw, e.reason),
                            }
                        }
                    }
                }
                "dom" => {
                    for (selector, check) in dom_rules(value, report, name) {
                        match Selector::parse(&selector) {
                            Ok(parsed) => match check {
                                Ok(check) => self.dom.push(DomRule {
                                    tech,
                                    tokens: selector_tokens(&selector),
                                    selector_source: selector,
                                    selector: parsed,
                                    check,
                                }),
                                Err(reason) => skip("dom".into(), &selector, reason),
                            },
                            Err(e) => skip("dom".into(), &selector, format!("invalid CSS selector: {e}")),
                        }
                    }
                }
                other if UNSUPPORTED_FIELDS.contains(&other) => {
                    *report.unsupported.entry(other.to_owned()).or_default() += 1;
                }
                other if DESCRIPTIVE_FIELDS.contains(&other) => {}
                _ => {}
            }
        }
        report.skipped.extend(skipped);
    }

    fn group_mut(&mut self, field: &Field) -> &mut Group {
        match field {
            Field::Html => &mut self.html,
            Field::Scripts => &mut self.scripts,
            Field::Text => &mut self.text,
            Field::Css => &mut self.css,
            Field::Url => &mut self.url,
            Field::ScriptSrc => &mut self.script_src,
            Field::Robots => &mut self.robots,
            _ => &mut self.cert_issuer,
        }
    }

    /// What loading found (skipped patterns, unsupported fields).
    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// Number of technologies.
    pub fn technology_count(&self) -> usize {
        self.techs.len()
    }

    /// Match a page.
    pub fn analyze(&self, page: &PageInput<'_>) -> Vec<Detection> {
        let mut acc: BTreeMap<usize, Acc> = BTreeMap::new();

        let html_lower = page.html.to_ascii_lowercase();
        let scripts_lower = page.scripts.to_ascii_lowercase();
        let text_lower = page.text.to_ascii_lowercase();
        let css_lower = page.css.to_ascii_lowercase();
        let url_lower = page.url.to_ascii_lowercase();
        let robots = page.robots.unwrap_or("");
        let robots_lower = robots.to_ascii_lowercase();
        let issuer = page.cert_issuer.unwrap_or("");
        let issuer_lower = issuer.to_ascii_lowercase();
        let srcs_lower: Vec<String> = page.script_src.iter().map(|s| s.to_ascii_lowercase()).collect();

        let srcs: Vec<(&str, &str)> = page
            .script_src
            .iter()
            .map(String::as_str)
            .zip(srcs_lower.iter().map(String::as_str))
            .collect();
        let header_values: Vec<(String, String)> = page
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_ascii_lowercase()))
            .collect();
        let meta_values: Vec<(String, String)> = page
            .meta
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_ascii_lowercase()))
            .collect();
        let cookie_values: Vec<(String, String)> = page
            .cookies
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.to_ascii_lowercase()))
            .collect();
        let dns_values: Vec<String> = page.dns.iter().map(|(_, v)| v.to_ascii_lowercase()).collect();

        // Every (group, values) pair to match, with its prefilter's verdict.
        let mut work: Vec<(&Group, Vec<(&str, &str)>)> = Vec::new();
        for (group, original, lower) in [
            (&self.html, page.html, html_lower.as_str()),
            (&self.scripts, page.scripts, scripts_lower.as_str()),
            (&self.text, page.text, text_lower.as_str()),
            (&self.css, page.css, css_lower.as_str()),
            (&self.url, page.url, url_lower.as_str()),
            (&self.robots, robots, robots_lower.as_str()),
            (&self.cert_issuer, issuer, issuer_lower.as_str()),
        ] {
            if !original.is_empty() {
                work.push((group, vec![(original, lower)]));
            }
        }
        if !srcs.is_empty() {
            work.push((&self.script_src, srcs));
        }
        for (map, originals, lowers) in [
            (&self.headers, page.headers, &header_values),
            (&self.meta, page.meta, &meta_values),
            (&self.cookies, page.cookies, &cookie_values),
        ] {
            for ((name, value), (lname, lvalue)) in originals.iter().zip(lowers.iter()) {
                let _ = name;
                if let Some(group) = map.get(lname) {
                    work.push((group, vec![(value.as_str(), lvalue.as_str())]));
                }
            }
        }
        for ((kind, value), lower) in page.dns.iter().zip(dns_values.iter()) {
            if let Some(group) = self.dns.get(&kind.to_ascii_uppercase()) {
                work.push((group, vec![(*value, lower.as_str())]));
            }
        }
        let verdicts: Vec<Vec<bool>> = work
            .iter()
            .map(|(group, values)| group.candidates(values))
            .collect();

        // Pass 1: technologies without requirements. Pass 2: those whose
        // `requires`/`requiresCategory` are met by what pass 1 found (as
        // Wappalyzer does), which also keeps their patterns from running on
        // pages they cannot apply to.
        for (prefix, id) in &self.cookie_prefixes {
            for (name, value) in page.cookies {
                if name.to_ascii_lowercase().starts_with(prefix.as_str()) {
                    let c = &self.patterns[*id];
                    if let Some(m) = c.pattern.find(value, &value.to_ascii_lowercase()) {
                        record(&mut acc, c, name, m);
                        break;
                    }
                }
            }
        }
        for ((group, values), run) in work.iter().zip(&verdicts) {
            self.run_group(
                group,
                values,
                run,
                &|tech| self.techs[tech].unconditional(),
                &mut acc,
            );
        }
        let present = self.closure(&acc);
        for ((group, values), run) in work.iter().zip(&verdicts) {
            self.run_group(
                group,
                values,
                run,
                &|tech| !self.techs[tech].unconditional() && self.requirements_met(tech, &present),
                &mut acc,
            );
        }
        if let Some(document) = page.document {
            self.run_dom(document, &html_lower, &mut acc);
        }
        self.resolve(acc)
    }

    fn run_group(
        &self,
        group: &Group,
        values: &[(&str, &str)],
        run: &[bool],
        include: &dyn Fn(usize) -> bool,
        acc: &mut BTreeMap<usize, Acc>,
    ) {
        for (local, &id) in group.patterns.iter().enumerate() {
            let compiled = &self.patterns[id];
            if !run[local] || !include(compiled.tech) {
                continue;
            }
            for (original, lower) in values {
                if let Some(m) = compiled.pattern.find(original, lower) {
                    record(acc, compiled, original, m);
                    break;
                }
            }
        }
    }

    fn run_dom(&self, document: &Html, html_lower: &str, acc: &mut BTreeMap<usize, Acc>) {
        if self.dom.is_empty() {
            return;
        }
        let mut run = vec![self.dom_prefilter.is_none(); self.dom.len()];
        if let Some(prefilter) = &self.dom_prefilter {
            prefilter.candidates(&[html_lower], &mut run);
        }
        for (i, rule) in self.dom.iter().enumerate() {
            if !run[i] {
                continue;
            }
            let found = document
                .select(&rule.selector)
                .find_map(|el| dom_check(&rule.check, el));
            let Some((pattern, matched, m)) = found else {
                continue;
            };
            let entry = acc.entry(rule.tech).or_default();
            if entry.evidence.iter().any(|e| {
                e.field == Field::Dom
                    && e.key.as_deref() == Some(&rule.selector_source)
                    && e.pattern == pattern.source
            }) {
                continue;
            }
            entry.confidence += u32::from(pattern.confidence);
            if let Some(v) = &m.version {
                entry.versions.push(v.clone());
            }
            entry.evidence.push(Evidence {
                field: Field::Dom,
                key: Some(rule.selector_source.clone()),
                pattern: pattern.source.clone(),
                matched,
                confidence: pattern.confidence,
                version: m.version,
            });
        }
    }

    /// Implies, requires and excludes, then the detections in a stable order.
    fn resolve(&self, direct: BTreeMap<usize, Acc>) -> Vec<Detection> {
        let mut direct = direct;
        // `requires`: drop technologies whose requirements are not met by
        // what the page shows (directly or through implies), until stable.
        loop {
            let present = self.closure(&direct);
            let before = direct.len();
            direct.retain(|&t, _| self.requirements_met(t, &present));
            if direct.len() == before {
                break;
            }
        }
        let mut all = self.closure(&direct);
        // `excludes`: a detected technology removes the ones it excludes,
        // the most confident first.
        let mut order: Vec<usize> = all.keys().copied().collect();
        order.sort_by_key(|t| std::cmp::Reverse(all.get(t).map_or(0, |a| a.confidence)));
        let mut removed: BTreeSet<usize> = BTreeSet::new();
        for t in order {
            if !removed.contains(&t) {
                removed.extend(self.techs[t].excludes.iter().copied().filter(|x| *x != t));
            }
        }
        all.retain(|t, _| !removed.contains(t));
        let mut out: Vec<Detection> = all
            .into_iter()
            .filter(|(_, acc)| acc.confidence > 0)
            .map(|(t, acc)| {
                let tech = &self.techs[t];
                Detection {
                    name: tech.name.clone(),
                    version: best_version(&acc.versions),
                    confidence: acc.confidence.min(100) as u8,
                    categories: tech
                        .categories
                        .iter()
                        .map(|id| CategoryRef {
                            id: *id,
                            name: self
                                .categories
                                .get(id)
                                .map_or_else(|| format!("Category {id}"), |c| c.name.clone()),
                        })
                        .collect(),
                    website: tech.website.clone(),
                    evidence: acc.evidence,
                    implied_by: acc.implied_by,
                }
            })
            .collect();
        out.sort_by(|a, b| b.confidence.cmp(&a.confidence).then_with(|| a.name.cmp(&b.name)));
        out
    }

    /// Direct detections plus everything they imply (transitively).
    fn closure(&self, direct: &BTreeMap<usize, Acc>) -> BTreeMap<usize, Acc> {
        let mut all: BTreeMap<usize, Acc> = direct
            .iter()
            .map(|(t, a)| {
                (
                    *t,
                    Acc {
                        confidence: a.confidence,
                        evidence: a.evidence.clone(),
                        versions: a.versions.clone(),
                        implied_by: Vec::new(),
                    },
                )
            })
            .collect();
        let mut queue: Vec<usize> = all.keys().copied().collect();
        let mut steps = 0;
        while let Some(source) = queue.pop() {
            steps += 1;
            if steps > 10_000 {
                break;
            }
            let source_confidence = all.get(&source).map_or(0, |a| a.confidence.min(100));
            for implied in &self.techs[source].implies {
                let confidence = source_confidence.min(u32::from(implied.confidence));
                let source_name = self.techs[source].name.clone();
                let entry = all.entry(implied.tech).or_default();
                if entry.implied_by.contains(&source_name) {
                    continue;
                }
                entry.implied_by.push(source_name);
                if let Some(v) = implied.version.as_deref().and_then(|v| resolve_version(v, &[])) {
                    entry.versions.push(v);
                }
                if confidence > entry.confidence {
                    entry.confidence = confidence;
                    queue.push(implied.tech);
                } else if entry.implied_by.len() == 1 && entry.evidence.is_empty() {
                    queue.push(implied.tech);
                }
            }
        }
        all
    }

    fn requirements_met(&self, tech: usize, present: &BTreeMap<usize, Acc>) -> bool {
        let t = &self.techs[tech];
        t.requires.iter().all(|r| present.contains_key(r))
            && t.requires_category.iter().all(|cat| {
                present
                    .keys()
                    .any(|&p| p != tech && self.techs[p].categories.contains(cat))
            })
    }
}

/// Add one matched pattern to its technology (once per pattern).
fn record(acc: &mut BTreeMap<usize, Acc>, c: &Compiled, original: &str, m: PatternMatch) {
    let entry = acc.entry(c.tech).or_default();
    if entry
        .evidence
        .iter()
        .any(|e| e.pattern == c.pattern.source && e.field == c.field && e.key == c.key)
    {
        return;
    }
    entry.confidence += u32::from(c.pattern.confidence);
    if let Some(v) = &m.version {
        entry.versions.push(v.clone());
    }
    entry.evidence.push(Evidence {
        field: c.field.clone(),
        key: c.key.clone(),
        pattern: c.pattern.source.clone(),
        matched: snippet(original, m.start, m.end),
        confidence: c.pattern.confidence,
        version: m.version,
    });
}

/// Up to 160 characters of `text[start..end]`.
pub(super) fn snippet(text: &str, start: usize, end: usize) -> String {
    let matched = text.get(start..end).unwrap_or("");
    let mut out: String = matched.chars().take(160).collect();
    if matched.chars().count() > 160 {
        out.push('…');
    }
    out
}

/// The most specific version: most numeric components, then highest.
fn best_version(versions: &[String]) -> Option<String> {
    let key = |v: &String| {
        let nums: Vec<u64> = v
            .split(['.', '-', '_'])
            .map_while(|part| part.parse::<u64>().ok())
            .collect();
        (nums.len(), nums, v.len())
    };
    versions.iter().max_by_key(|v| key(v)).cloned()
}

/// The confidence and version tags of an `implies` entry.
fn tags(entry: &str) -> (u8, Option<String>) {
    let mut confidence = 100;
    let mut version = None;
    for tag in entry.split("\\;").skip(1) {
        if let Some(c) = tag.strip_prefix("confidence:") {
            confidence = c.trim().parse::<u16>().map_or(100, |c| c.min(100) as u8);
        } else if let Some(v) = tag.strip_prefix("version:") {
            version = Some(v.trim().to_owned()).filter(|v| !v.is_empty());
        }
    }
    (confidence, version)
}

/// A string or an array of strings.
pub(super) fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// A number or an array of numbers.
fn numbers(value: Option<&Value>) -> Vec<u32> {
    match value {
        Some(Value::Number(n)) => n.as_u64().map(|n| vec![n as u32]).unwrap_or_default(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_u64().map(|n| n as u32))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
