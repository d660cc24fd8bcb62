//! Technology definitions in the Wappalyzer / webappanalyzer JSON format.
//!
//! Accepted layouts:
//! - one file `{"categories": {…}, "technologies": {…}}` (`"apps"` is read
//!   as `"technologies"`, as in old Wappalyzer releases);
//! - a directory with `categories.json` and `technologies/*.json` (each a
//!   map of name → technology), as webappanalyzer's `src/` folder.
//!
//! The project's own definitions (written for Prospector, not copied from
//! the community files) are compiled in and used when no path is configured.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use serde_json::{Map, Value};

/// Category files of the compiled-in definitions.
const BUILTIN_CATEGORIES: &str = include_str!("../definitions/categories.json");

/// Technology files of the compiled-in definitions (name, content).
const BUILTIN_TECHNOLOGIES: &[(&str, &str)] = &[
    ("cms.json", include_str!("../definitions/technologies/cms.json")),
    (
        "site-builders.json",
        include_str!("../definitions/technologies/site-builders.json"),
    ),
    (
        "ecommerce.json",
        include_str!("../definitions/technologies/ecommerce.json"),
    ),
    (
        "servers.json",
        include_str!("../definitions/technologies/servers.json"),
    ),
    (
        "cdn-hosting.json",
        include_str!("../definitions/technologies/cdn-hosting.json"),
    ),
    (
        "languages-frameworks.json",
        include_str!("../definitions/technologies/languages-frameworks.json"),
    ),
    (
        "javascript.json",
        include_str!("../definitions/technologies/javascript.json"),
    ),
    (
        "ui-fonts.json",
        include_str!("../definitions/technologies/ui-fonts.json"),
    ),
    (
        "static-sites.json",
        include_str!("../definitions/technologies/static-sites.json"),
    ),
    (
        "analytics-marketing.json",
        include_str!("../definitions/technologies/analytics-marketing.json"),
    ),
    (
        "consent-widgets.json",
        include_str!("../definitions/technologies/consent-widgets.json"),
    ),
    (
        "web-apps.json",
        include_str!("../definitions/technologies/web-apps.json"),
    ),
    (
        "wordpress-plugins.json",
        include_str!("../definitions/technologies/wordpress-plugins.json"),
    ),
    (
        "dns-email.json",
        include_str!("../definitions/technologies/dns-email.json"),
    ),
    (
        "parking.json",
        include_str!("../definitions/technologies/parking.json"),
    ),
];

/// Where definitions come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DefinitionsSource {
    /// The project's own, compiled in.
    #[default]
    Builtin,
    /// A file or directory in one of the accepted layouts.
    Path(PathBuf),
}

/// Why definitions could not be loaded at all (single bad patterns are not
/// errors: they are reported and skipped).
#[derive(Debug, thiserror::Error)]
pub enum DefinitionsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is not JSON of the expected shape.
    #[error("{path} is not a definitions file: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// A category.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RawCategory {
    /// Display name.
    pub name: String,
    /// Lower is more important (Wappalyzer's meaning).
    #[serde(default)]
    pub priority: Option<i64>,
}

/// Raw definitions: categories by id and technologies by name (sorted).
#[derive(Debug, Clone, Default)]
pub struct RawDefinitions {
    /// Category id → category.
    pub categories: BTreeMap<u32, RawCategory>,
    /// Technology name → its JSON object.
    pub technologies: BTreeMap<String, Map<String, Value>>,
}

impl RawDefinitions {
    /// Load from `source`.
    pub fn load(source: &DefinitionsSource) -> Result<Self, DefinitionsError> {
        match source {
            DefinitionsSource::Builtin => Self::builtin(),
            DefinitionsSource::Path(path) if path.is_dir() => Self::from_dir(path),
            DefinitionsSource::Path(path) => {
                let text = read(path)?;
                let mut defs = Self::default();
                defs.add_combined(&path.display().to_string(), &text)?;
                Ok(defs)
            }
        }
    }

    /// The compiled-in definitions.
    pub fn builtin() -> Result<Self, DefinitionsError> {
        let mut defs = Self::default();
        defs.add_categories("builtin categories.json", BUILTIN_CATEGORIES)?;
        for (name, text) in BUILTIN_TECHNOLOGIES {
            defs.add_technologies(&format!("builtin technologies/{name}"), text)?;
        }
        Ok(defs)
    }

    fn from_dir(dir: &Path) -> Result<Self, DefinitionsError> {
        let mut defs = Self::default();
        let categories = dir.join("categories.json");
        defs.add_categories(&categories.display().to_string(), &read(&categories)?)?;
        let tech_dir = dir.join("technologies");
        let entries = std::fs::read_dir(&tech_dir).map_err(|source| DefinitionsError::Read {
            path: tech_dir.clone(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for file in files {
            defs.add_technologies(&file.display().to_string(), &read(&file)?)?;
        }
        Ok(defs)
    }

    fn add_combined(&mut self, path: &str, text: &str) -> Result<(), DefinitionsError> {
        let value: Value = parse_json(path, text)?;
        let Value::Object(mut root) = value else {
            return Err(format_error(path, "the top level is not an object"));
        };
        if let Some(categories) = root.remove("categories") {
            self.add_categories_value(path, categories)?;
        }
        let technologies = root
            .remove("technologies")
            .or_else(|| root.remove("apps"))
            .ok_or_else(|| format_error(path, "no \"technologies\" (or \"apps\") object"))?;
        self.add_technologies_value(path, technologies)
    }

    fn add_categories(&mut self, path: &str, text: &str) -> Result<(), DefinitionsError> {
        let value = parse_json(path, text)?;
        self.add_categories_value(path, value)
    }

    fn add_categories_value(&mut self, path: &str, value: Value) -> Result<(), DefinitionsError> {
        let categories: BTreeMap<String, RawCategory> =
            serde_json::from_value(value).map_err(|e| format_error(path, &e.to_string()))?;
        for (id, category) in categories {
            let id: u32 = id
                .parse()
                .map_err(|_| format_error(path, &format!("category id `{id}` is not a number")))?;
            self.categories.insert(id, category);
        }
        Ok(())
    }

    fn add_technologies(&mut self, path: &str, text: &str) -> Result<(), DefinitionsError> {
        let value = parse_json(path, text)?;
        self.add_technologies_value(path, value)
    }

    fn add_technologies_value(&mut self, path: &str, value: Value) -> Result<(), DefinitionsError> {
        let Value::Object(map) = value else {
            return Err(format_error(path, "technologies are not an object"));
        };
        for (name, tech) in map {
            match tech {
                Value::Object(tech) => {
                    self.technologies.insert(name, tech);
                }
                _ => {
                    return Err(format_error(
                        path,
                        &format!("technology `{name}` is not an object"),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn read(path: &Path) -> Result<String, DefinitionsError> {
    std::fs::read_to_string(path).map_err(|source| DefinitionsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn parse_json(path: &str, text: &str) -> Result<Value, DefinitionsError> {
    serde_json::from_str(text).map_err(|e| format_error(path, &e.to_string()))
}

fn format_error(path: &str, message: &str) -> DefinitionsError {
    DefinitionsError::Format {
        path: path.to_owned(),
        message: message.to_owned(),
    }
}
