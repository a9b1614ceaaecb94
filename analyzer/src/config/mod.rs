//! Configuration files: `[tool.graphlint]` in `pyproject.toml`, `graphlint.toml` and
//! `.graphlint.toml`.
//!
//! Discovery is hierarchical, as in ruff: each file is governed by the nearest configuration
//! among its directory and that directory's ancestors. In one directory `.graphlint.toml` wins
//! over `graphlint.toml`, which wins over `pyproject.toml` (a `pyproject.toml` without a
//! `[tool.graphlint]` table is not a configuration). `extend = "path"` layers a file over
//! another. The command line is the last layer over whichever configuration applies; `--config`
//! uses one file for everything, and `--isolated` none.

mod error;
mod options;
mod pattern;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

pub use self::error::ConfigError;
pub use self::options::{Options, PerFileIgnore, KEYS};
pub use self::pattern::PathPattern;
use crate::paths::absolute;
use crate::rule::prefix_matches;
use crate::settings::{RootPatterns, RuleSelection, SelectionLayer, Settings};

/// The configuration file names, in the order they win within one directory.
pub const CONFIG_FILES: [&str; 3] = [".graphlint.toml", "graphlint.toml", "pyproject.toml"];

/// Where configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigMode {
    /// The nearest configuration file to each checked file.
    Discover,
    /// One file for every checked file (`--config PATH`).
    File(PathBuf),
    /// No configuration file (`--isolated`).
    Isolated,
}

/// What the command line sets over every configuration.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--select`, `--extend-select`, `--ignore`.
    pub selection: SelectionLayer,
    /// `--all-paths` (it can only turn cold findings on).
    pub all_paths: bool,
    /// `--hot` patterns, added to the configuration's.
    pub hot: Vec<String>,
}

/// One configuration, resolved through its `extend` chain, with the command line on top.
#[derive(Debug)]
pub struct Configuration {
    /// The file it came from (`None`: the defaults).
    pub source: Option<PathBuf>,
    pub selection: RuleSelection,
    pub per_file_ignores: Vec<PerFileIgnore>,
    /// `None`: the default directory names (see [`crate::discovery::DEFAULT_EXCLUDED_DIRS`]).
    /// Virtualenvs are skipped either way.
    pub exclude: Option<Vec<PathPattern>>,
    pub extend_exclude: Vec<PathPattern>,
    pub roots: Arc<RootPatterns>,
    pub all_paths: bool,
}

impl Configuration {
    /// The defaults (every rule, hot paths only), with the command line on top.
    pub fn defaults(overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::from_chain(&[], overrides)
    }

    /// A configuration equivalent to `settings`, for running without configuration files.
    pub fn from_settings(settings: &Settings) -> Self {
        Configuration {
            source: None,
            selection: settings.selection.clone(),
            per_file_ignores: Vec::new(),
            exclude: None,
            extend_exclude: Vec::new(),
            roots: Arc::new(settings.roots.clone()),
            all_paths: settings.all_paths,
        }
    }

    /// Layers `chain` (the most basic file first) and then `overrides`.
    fn from_chain(chain: &[Options], overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut layers: Vec<SelectionLayer> = chain
            .iter()
            .map(|o| SelectionLayer {
                select: o.select.clone(),
                extend_select: o.extend_select.clone(),
                ignore: o.ignore.clone(),
            })
            .collect();
        layers.push(overrides.selection.clone());
        let last = |get: &dyn Fn(&Options) -> bool| chain.iter().rev().find(|o| get(o));
        let mut roots = RootPatterns {
            hot: last(&|o| o.hot.is_some()).and_then(|o| o.hot.clone()).unwrap_or_default(),
            cold: last(&|o| o.cold.is_some()).and_then(|o| o.cold.clone()).unwrap_or_default(),
            profiles: match last(&|o| o.profiles.is_some()) {
                Some(options) => options.profiles.clone().unwrap_or_default(),
                None => RootPatterns::default().profiles,
            },
        };
        roots.hot.extend(overrides.hot.iter().cloned());
        Ok(Configuration {
            source: chain.last().map(|o| o.path.clone()),
            selection: RuleSelection::from_layers(&layers)?,
            per_file_ignores: last(&|o| o.per_file_ignores.is_some())
                .and_then(|o| o.per_file_ignores.clone())
                .unwrap_or_default(),
            exclude: last(&|o| o.exclude.is_some()).and_then(|o| o.exclude.clone()),
            extend_exclude: chain.iter().flat_map(|o| o.extend_exclude.iter().cloned()).collect(),
            roots: Arc::new(roots),
            all_paths: overrides.all_paths
                || last(&|o| o.all_paths.is_some()).and_then(|o| o.all_paths).unwrap_or(false),
        })
    }

    /// The `per-file-ignores` selectors that apply to `path` (absolute).
    pub fn ignored_for(&self, path: &Path) -> Vec<String> {
        self.per_file_ignores
            .iter()
            .filter(|entry| entry.pattern.matches(path))
            .flat_map(|entry| entry.codes.iter().cloned())
            .collect()
    }

    /// Whether `path` (absolute) is excluded from discovery.
    pub fn excludes(&self, path: &Path, is_dir: bool) -> bool {
        let excluded = match &self.exclude {
            Some(patterns) => {
                patterns.iter().any(|p| p.matches(path)) || (is_dir && crate::discovery::is_virtualenv(path))
            }
            None => is_dir && crate::discovery::is_default_excluded_dir(path),
        };
        excluded || self.extend_exclude.iter().any(|p| p.matches(path))
    }
}

/// The rules that apply to one file: its configuration, less its `per-file-ignores`.
#[derive(Debug, Clone)]
pub struct FileRules {
    pub configuration: Arc<Configuration>,
    pub ignored: Vec<String>,
}

impl FileRules {
    pub fn is_enabled(&self, code: &str) -> bool {
        self.configuration.selection.is_enabled(code) && !self.ignored.iter().any(|sel| prefix_matches(sel, code))
    }
}

/// Finds the configuration of each path, loading each configuration file once. Clones share
/// what was loaded.
#[derive(Clone)]
pub struct Resolver {
    mode: ConfigMode,
    overrides: Overrides,
    /// For `--config`, `--isolated`, and directories with no configuration above them.
    fallback: Arc<Configuration>,
    /// Directory (absolute) → its configuration.
    by_dir: Arc<Mutex<FxHashMap<PathBuf, Arc<Configuration>>>>,
}

impl Resolver {
    pub fn new(mode: ConfigMode, overrides: Overrides) -> Result<Self, ConfigError> {
        let fallback = match &mode {
            ConfigMode::File(path) => {
                let path = absolute(path);
                let Some(options) = Options::read(&path)? else {
                    return Err(ConfigError::plain(format!(
                        "`{}` has no `[tool.graphlint]` table",
                        crate::paths::display_path(&path)
                    )));
                };
                load_chain(options, &overrides)?
            }
            ConfigMode::Discover | ConfigMode::Isolated => Configuration::defaults(&overrides)?,
        };
        Ok(Resolver { mode, overrides, fallback: Arc::new(fallback), by_dir: Arc::default() })
    }

    /// A resolver that gives `configuration` to every file.
    pub fn fixed(configuration: Configuration) -> Self {
        Resolver {
            mode: ConfigMode::Isolated,
            overrides: Overrides::default(),
            fallback: Arc::new(configuration),
            by_dir: Arc::default(),
        }
    }

    /// The configuration of the files in `dir`.
    pub fn for_dir(&self, dir: &Path) -> Result<Arc<Configuration>, ConfigError> {
        if self.mode != ConfigMode::Discover {
            return Ok(self.fallback.clone());
        }
        let dir = absolute(dir);
        // Walk up to the nearest directory already known or holding a configuration file.
        let mut unknown = Vec::new();
        let mut current = Some(dir.as_path());
        let found = loop {
            let Some(here) = current else { break self.fallback.clone() };
            if let Some(known) = self.by_dir.lock().unwrap().get(here) {
                break known.clone();
            }
            if let Some(options) = config_in(here)? {
                let configuration = Arc::new(load_chain(options, &self.overrides)?);
                self.by_dir.lock().unwrap().insert(here.to_path_buf(), configuration.clone());
                break configuration;
            }
            unknown.push(here.to_path_buf());
            current = here.parent();
        };
        let mut by_dir = self.by_dir.lock().unwrap();
        for dir in unknown {
            by_dir.insert(dir, found.clone());
        }
        Ok(found)
    }

    /// The rules for the file at `path`.
    pub fn rules_for(&self, path: &Path) -> Result<FileRules, ConfigError> {
        let path = absolute(path);
        let configuration = self.for_dir(path.parent().unwrap_or(Path::new("/")))?;
        let ignored = configuration.ignored_for(&path);
        Ok(FileRules { configuration, ignored })
    }

    /// Whether discovery skips `path`, by the configuration of the directory holding it.
    pub fn excludes(&self, path: &Path, is_dir: bool) -> Result<bool, ConfigError> {
        let path = absolute(path);
        let Some(parent) = path.parent() else { return Ok(false) };
        Ok(self.for_dir(parent)?.excludes(&path, is_dir))
    }
}

/// Whether `dir` holds a configuration file graphlint reads (a `pyproject.toml` counts only with
/// a `[tool.graphlint]` table; an invalid one counts, so that the run reports it).
pub fn is_config_dir(dir: &Path) -> bool {
    config_in(dir).map_or(true, |options| options.is_some())
}

/// The configuration file in `dir`, if any.
fn config_in(dir: &Path) -> Result<Option<Options>, ConfigError> {
    for name in CONFIG_FILES {
        let candidate = dir.join(name);
        if candidate.is_file() {
            if let Some(options) = Options::read(&candidate)? {
                return Ok(Some(options));
            }
        }
    }
    Ok(None)
}

/// Follows `extend` from `options` and layers the chain.
fn load_chain(options: Options, overrides: &Overrides) -> Result<Configuration, ConfigError> {
    let mut seen = vec![canonical(&options.path)];
    let mut chain = vec![options];
    while let Some((base, span)) = chain.last().and_then(|o| o.extend.clone()) {
        let child = chain.last().unwrap();
        let at = |message: String, label: &str| ConfigError::at(&child.path, &child.text, span.clone(), message, label);
        let shown = crate::paths::display_path(&base);
        if !base.is_file() {
            return Err(at(format!("cannot extend `{shown}`: no such file"), "this file does not exist"));
        }
        let key = canonical(&base);
        if seen.contains(&key) {
            return Err(at(
                format!("`extend` cycle: `{shown}` is already in the chain"),
                "extends a file that extends this one",
            ));
        }
        seen.push(key);
        let Some(options) = Options::read(&base)? else {
            return Err(at(
                format!("cannot extend `{shown}`: it has no `[tool.graphlint]` table"),
                "not a graphlint configuration",
            ));
        };
        chain.push(options);
    }
    chain.reverse();
    Configuration::from_chain(&chain, overrides)
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn nearest_configuration_wins_and_extend_layers() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(root, "pyproject.toml", "[tool.graphlint]\nselect = [\"GL2\"]\nhot = [\"*.step\"]\n");
        write(
            root,
            "sub/graphlint.toml",
            "extend = \"../pyproject.toml\"\nextend-select = [\"GL301\"]\nignore = [\"GL202\"]\n",
        );
        write(root, "sub/.graphlint.toml", "select = [\"GL1\"]\n");
        write(root, "other/pyproject.toml", "[project]\nname = \"no graphlint table here\"\n");
        let resolver = Resolver::new(ConfigMode::Discover, Overrides::default()).unwrap();

        let top = resolver.rules_for(&root.join("a.py")).unwrap();
        assert!(top.is_enabled("GL201") && !top.is_enabled("GL101"));
        assert_eq!(top.configuration.roots.hot, vec!["*.step"]);
        // `.graphlint.toml` wins over `graphlint.toml` in the same directory.
        let sub = resolver.rules_for(&root.join("sub/deep/b.py")).unwrap();
        assert!(sub.is_enabled("GL101") && !sub.is_enabled("GL201"));
        // A pyproject.toml without the table does not stop the search.
        let other = resolver.rules_for(&root.join("other/c.py")).unwrap();
        assert!(Arc::ptr_eq(&other.configuration, &top.configuration));

        std::fs::remove_file(root.join("sub/.graphlint.toml")).unwrap();
        let resolver = Resolver::new(ConfigMode::Discover, Overrides::default()).unwrap();
        let sub = resolver.rules_for(&root.join("sub/b.py")).unwrap();
        assert!(
            sub.is_enabled("GL201") && sub.is_enabled("GL301") && !sub.is_enabled("GL202") && !sub.is_enabled("GL302")
        );
        assert_eq!(sub.configuration.roots.hot, vec!["*.step"], "inherited through extend");

        // The command line is the last layer; --isolated and --config bypass discovery.
        let cli = Overrides {
            selection: SelectionLayer { ignore: vec!["GL201".into()], ..Default::default() },
            ..Default::default()
        };
        let resolver = Resolver::new(ConfigMode::Discover, cli.clone()).unwrap();
        assert!(!resolver.rules_for(&root.join("a.py")).unwrap().is_enabled("GL201"));
        let isolated = Resolver::new(ConfigMode::Isolated, Overrides::default()).unwrap();
        assert!(isolated.rules_for(&root.join("a.py")).unwrap().is_enabled("GL101"));
        let explicit = Resolver::new(ConfigMode::File(root.join("sub/graphlint.toml")), Overrides::default()).unwrap();
        assert!(explicit.rules_for(Path::new("/elsewhere/x.py")).unwrap().is_enabled("GL301"));
    }

    #[test]
    fn per_file_ignores_and_excludes() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(root, "graphlint.toml", "extend-exclude = [\"gen\"]\n[per-file-ignores]\n\"tests/**\" = [\"GL2\"]\n");
        let resolver = Resolver::new(ConfigMode::Discover, Overrides::default()).unwrap();
        let test = resolver.rules_for(&root.join("tests/unit/t.py")).unwrap();
        assert!(!test.is_enabled("GL201") && test.is_enabled("GL301"));
        assert!(resolver.rules_for(&root.join("src/t.py")).unwrap().is_enabled("GL201"));
        assert!(resolver.excludes(&root.join("src/gen"), true).unwrap());
        assert!(resolver.excludes(&root.join("target"), true).unwrap(), "the default names still apply");
        assert!(!resolver.excludes(&root.join("src"), true).unwrap());

        write(root, "graphlint.toml", "exclude = [\"gen\"]\n");
        let resolver = Resolver::new(ConfigMode::Discover, Overrides::default()).unwrap();
        assert!(!resolver.excludes(&root.join("target"), true).unwrap(), "`exclude` replaces the defaults");
    }

    #[test]
    fn extend_errors_point_at_the_extend_value() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        write(root, "a/graphlint.toml", "extend = \"../b/graphlint.toml\"\n");
        write(root, "b/graphlint.toml", "extend = \"../a/graphlint.toml\"\n");
        write(root, "c/graphlint.toml", "extend = \"missing.toml\"\n");
        let resolver = Resolver::new(ConfigMode::Discover, Overrides::default()).unwrap();
        let cycle = resolver.rules_for(&root.join("a/x.py")).unwrap_err();
        assert!(cycle.message.contains("cycle"), "{}", cycle.message);
        let missing = resolver.rules_for(&root.join("c/x.py")).unwrap_err();
        let location = missing.location.unwrap();
        assert_eq!(&"extend = \"missing.toml\"\n"[location.span], "\"missing.toml\"");
    }
}
