//! One configuration file as written: its keys, validated, each error pointing at its span.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::error::ConfigError;
use super::pattern::{InvalidPattern, PathPattern};
use crate::paths::absolute;
use crate::profiles::{self, Profile, PROFILES};
use crate::settings::validate_selector;

/// Every key graphlint reads, in the order the reference documents them.
pub const KEYS: &[&str] = &[
    "extend",
    "select",
    "extend-select",
    "ignore",
    "per-file-ignores",
    "exclude",
    "extend-exclude",
    "hot",
    "cold",
    "profiles",
    "all-paths",
];

/// The keys of one file; `None` (or empty) where the file does not set them.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The configuration file, absolute.
    pub path: PathBuf,
    /// The path in `extend`, resolved against this file's directory, and its span.
    pub extend: Option<(PathBuf, Range<usize>)>,
    pub select: Option<Vec<String>>,
    pub extend_select: Vec<String>,
    pub ignore: Vec<String>,
    pub per_file_ignores: Option<Vec<PerFileIgnore>>,
    pub exclude: Option<Vec<PathPattern>>,
    pub extend_exclude: Vec<PathPattern>,
    pub hot: Option<Vec<String>>,
    pub cold: Option<Vec<String>>,
    /// The framework profiles on (`[]`: none).
    pub profiles: Option<Vec<&'static Profile>>,
    pub all_paths: Option<bool>,
    /// The file's text, for errors found after parsing (e.g. an `extend` cycle).
    pub text: Arc<str>,
}

/// `"glob" = ["CODE", ...]` in `per-file-ignores`.
#[derive(Debug, Clone)]
pub struct PerFileIgnore {
    pub pattern: PathPattern,
    pub codes: Vec<String>,
}

impl Options {
    /// Reads the configuration file at `path`. `Ok(None)` for a `pyproject.toml` without a
    /// `[tool.graphlint]` table, which is not a graphlint configuration.
    pub fn read(path: &Path) -> Result<Option<Options>, ConfigError> {
        let path = absolute(path);
        let bytes = std::fs::read(&path).map_err(|err| {
            ConfigError::plain(format!(
                "cannot read configuration file `{}`: {}",
                crate::paths::display_path(&path),
                crate::paths::io_reason(&err)
            ))
        })?;
        let text = String::from_utf8(bytes).map_err(|_| {
            ConfigError::plain(format!("configuration file `{}` is not valid UTF-8", crate::paths::display_path(&path)))
        })?;
        Self::parse(&path, text.into())
    }

    /// Parses `text`, the contents of the configuration file `path` (absolute).
    pub fn parse(path: &Path, text: Arc<str>) -> Result<Option<Options>, ConfigError> {
        let is_pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
        // Someone else's pyproject.toml that does not parse is not ours to reject.
        if is_pyproject && !text.contains("graphlint") {
            return Ok(None);
        }
        let parser = Parser { path, text: &text };
        let document = DeTable::parse(&text).map_err(|err| {
            let span = err.span().unwrap_or(0..0);
            parser.error(span, format!("invalid TOML: {}", err.message().trim_end()), "here")
        })?;
        let table = if is_pyproject {
            let Some(tool) = document.get_ref().get("tool") else { return Ok(None) };
            let Some(graphlint) = tool.get_ref().as_table().and_then(|t| t.get("graphlint")) else { return Ok(None) };
            match graphlint.get_ref() {
                DeValue::Table(table) => table,
                other => {
                    return Err(parser.error(
                        graphlint.span(),
                        "`tool.graphlint` must be a table",
                        format!("this is {}", type_name(other)),
                    ))
                }
            }
        } else {
            document.get_ref()
        };
        let mut options = Options { path: path.to_path_buf(), text: text.clone(), ..Options::default() };
        // The map is ordered by key; report the first error in the file's order instead.
        let mut entries: Vec<_> = table.iter().collect();
        entries.sort_by_key(|(key, _)| key.span().start);
        for (key, value) in entries {
            parser.apply(&mut options, key, value)?;
        }
        Ok(Some(options))
    }

    /// The directory the file's relative paths and globs are anchored at.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("/"))
    }
}

struct Parser<'a> {
    path: &'a Path,
    text: &'a Arc<str>,
}

type Key<'i> = Spanned<std::borrow::Cow<'i, str>>;
type Value<'i> = Spanned<DeValue<'i>>;

impl Parser<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>, label: impl Into<String>) -> ConfigError {
        ConfigError::at(self.path, self.text, span, message, label)
    }

    fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("/"))
    }

    fn apply(&self, options: &mut Options, key: &Key<'_>, value: &Value<'_>) -> Result<(), ConfigError> {
        match key.get_ref().as_ref() {
            "extend" => {
                let text = self.string(value)?;
                options.extend = Some((absolute(&self.dir().join(text)), value.span()));
            }
            "select" => options.select = Some(self.selectors(value)?),
            "extend-select" => options.extend_select = self.selectors(value)?,
            "ignore" => options.ignore = self.selectors(value)?,
            "per-file-ignores" => {
                let DeValue::Table(table) = value.get_ref() else {
                    return Err(self.type_error(value, "a table of `\"glob\" = [\"CODE\", ...]` entries"));
                };
                let mut entries: Vec<_> = table.iter().collect();
                entries.sort_by_key(|(key, _)| key.span().start);
                let mut ignores = Vec::new();
                for (glob, codes) in entries {
                    let pattern = self.pattern(glob.get_ref(), glob.span())?;
                    ignores.push(PerFileIgnore { pattern, codes: self.selectors(codes)? });
                }
                options.per_file_ignores = Some(ignores);
            }
            "exclude" => options.exclude = Some(self.patterns(value)?),
            "extend-exclude" => options.extend_exclude = self.patterns(value)?,
            "hot" => options.hot = Some(self.root_patterns(value)?),
            "cold" => options.cold = Some(self.root_patterns(value)?),
            "profiles" => options.profiles = Some(self.profiles(value)?),
            "all-paths" => match value.get_ref() {
                DeValue::Boolean(b) => options.all_paths = Some(*b),
                _ => return Err(self.type_error(value, "`true` or `false`")),
            },
            unknown => {
                let mut error =
                    self.error(key.span(), format!("unknown configuration key `{unknown}`"), "not a graphlint setting");
                error = match closest_key(unknown) {
                    Some(known) => {
                        error.with_help(format!("did you mean `{known}`? (valid keys: {})", KEYS.join(", ")))
                    }
                    None => error.with_help(format!("valid keys: {}", KEYS.join(", "))),
                };
                return Err(error);
            }
        }
        Ok(())
    }

    fn type_error(&self, value: &Value<'_>, expected: &str) -> ConfigError {
        self.error(value.span(), format!("expected {expected}"), format!("this is {}", type_name(value.get_ref())))
    }

    fn string<'v>(&self, value: &'v Value<'_>) -> Result<&'v str, ConfigError> {
        match value.get_ref() {
            DeValue::String(s) => Ok(s),
            _ => Err(self.type_error(value, "a string")),
        }
    }

    /// An array of strings, with each string's span.
    fn strings<'v>(&self, value: &'v Value<'_>) -> Result<Vec<(&'v str, Range<usize>)>, ConfigError> {
        let DeValue::Array(array) = value.get_ref() else {
            return Err(self.type_error(value, "an array of strings"));
        };
        array.iter().map(|item| Ok((self.string(item)?, item.span()))).collect()
    }

    fn selectors(&self, value: &Value<'_>) -> Result<Vec<String>, ConfigError> {
        self.strings(value)?
            .into_iter()
            .map(|(text, span)| {
                let selector = text.trim().to_ascii_uppercase();
                validate_selector(&selector).map_err(|_| {
                    self.error(span, format!("unknown rule selector `{text}`"), "no rule has this code or prefix")
                        .with_help("a selector is `ALL`, a code such as `GL201` or a prefix such as `GL2`; `graphlint rule --all` lists the codes")
                })?;
                Ok(selector)
            })
            .collect()
    }

    fn pattern(&self, text: &str, span: Range<usize>) -> Result<PathPattern, ConfigError> {
        PathPattern::new(text, self.dir()).map_err(|InvalidPattern(reason)| {
            self.error(span, format!("invalid glob `{text}`: {reason}"), reason.clone())
                .with_help("globs use `*`, `**`, `?`, `[abc]` and `{a,b}`; a `/`-free pattern also matches file and directory names at any depth")
        })
    }

    fn patterns(&self, value: &Value<'_>) -> Result<Vec<PathPattern>, ConfigError> {
        self.strings(value)?.into_iter().map(|(text, span)| self.pattern(text, span)).collect()
    }

    /// Names of built-in profiles, each checked against the table.
    fn profiles(&self, value: &Value<'_>) -> Result<Vec<&'static Profile>, ConfigError> {
        let mut chosen: Vec<&'static Profile> = Vec::new();
        for (text, span) in self.strings(value)? {
            let Some(profile) = profiles::named(text) else {
                let names: Vec<&str> = PROFILES.iter().map(|p| p.name).collect();
                return Err(self
                    .error(span, format!("unknown profile `{text}`"), "no built-in profile has this name")
                    .with_help(format!("the built-in profiles are {}", names.join(", "))));
            };
            if !chosen.contains(&profile) {
                chosen.push(profile);
            }
        }
        Ok(chosen)
    }

    fn root_patterns(&self, value: &Value<'_>) -> Result<Vec<String>, ConfigError> {
        self.strings(value)?
            .into_iter()
            .map(|(text, span)| {
                if text.trim().is_empty() {
                    Err(self.error(span, "empty hot/cold pattern", "matches nothing").with_help(
                        "write `pkg.module:Class.method`, or a glob on qualified names such as `*.generate*`",
                    ))
                } else {
                    Ok(text.to_string())
                }
            })
            .collect()
    }
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The known key nearest to a misspelt one (at most two edits, or `_` for `-`).
fn closest_key(unknown: &str) -> Option<&'static str> {
    let dashed = unknown.replace('_', "-");
    if let Some(key) = KEYS.iter().find(|k| **k == dashed) {
        return Some(key);
    }
    KEYS.iter().map(|k| (edit_distance(unknown, k), *k)).filter(|(d, _)| *d <= 2).min().map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != *cb)).min(row[j] + 1).min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str, text: &str) -> Result<Option<Options>, ConfigError> {
        Options::parse(&Path::new("/proj").join(name), text.into())
    }

    fn error(name: &str, text: &str) -> (String, String) {
        let err = parse(name, text).unwrap_err();
        let location = err.location.as_ref().expect("a located error");
        (err.message.clone(), text[location.span.clone()].to_string())
    }

    #[test]
    fn reads_every_key() {
        let options = parse(
            "graphlint.toml",
            r#"
extend = "../base.toml"
select = ["GL2", "gl301"]
extend-select = ["GL1"]
ignore = ["GL202"]
exclude = ["legacy"]
extend-exclude = ["gen/*.py"]
hot = ["*.generate*"]
cold = ["pkg.train:*"]
profiles = ["vllm", "diffusers", "vllm"]
all-paths = true
[per-file-ignores]
"tests/*" = ["ALL"]
"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(options.extend.as_ref().unwrap().0, PathBuf::from("/base.toml"));
        assert_eq!(options.select, Some(vec!["GL2".to_string(), "GL301".to_string()]));
        assert_eq!(options.extend_select, vec!["GL1"]);
        assert_eq!(options.ignore, vec!["GL202"]);
        assert_eq!(options.exclude.as_ref().unwrap()[0].text, "legacy");
        assert_eq!(options.hot, Some(vec!["*.generate*".to_string()]));
        assert_eq!(options.cold, Some(vec!["pkg.train:*".to_string()]));
        let names: Vec<&str> = options.profiles.unwrap().iter().map(|p| p.name).collect();
        assert_eq!(names, ["vllm", "diffusers"], "each once, in the order given");
        assert_eq!(options.all_paths, Some(true));
        let ignores = options.per_file_ignores.unwrap();
        assert!(ignores[0].pattern.matches(Path::new("/proj/tests/test_a.py")));
        assert_eq!(ignores[0].codes, vec!["ALL"]);
    }

    #[test]
    fn pyproject_needs_the_tool_table() {
        assert!(parse("pyproject.toml", "[project]\nname = \"x\"\n").unwrap().is_none());
        assert!(parse("pyproject.toml", "not toml at all [").unwrap().is_none(), "not ours");
        assert!(parse("pyproject.toml", "[tool.black]\nline-length = 1 # graphlint\n").unwrap().is_none());
        let options = parse("pyproject.toml", "[project]\nname = \"x\"\n\n[tool.graphlint]\nselect = [\"GL2\"]\n")
            .unwrap()
            .unwrap();
        assert_eq!(options.select, Some(vec!["GL2".to_string()]));
        assert!(parse("graphlint.toml", "").unwrap().is_some(), "an empty graphlint.toml is a configuration");
    }

    #[test]
    fn errors_point_at_the_offending_text() {
        assert_eq!(
            error("graphlint.toml", "select = [\"GL2\"]\nselcet = []\n"),
            ("unknown configuration key `selcet`".into(), "selcet".into())
        );
        assert_eq!(error("pyproject.toml", "[tool.graphlint]\nignore = [\"GL2\", \"GL99\"]\n").1, "\"GL99\"");
        assert_eq!(error("graphlint.toml", "exclude = [\"src/[a-\"]\n").1, "\"src/[a-\"");
        assert_eq!(error("graphlint.toml", "[per-file-ignores]\n\"{a,b\" = [\"GL2\"]\n").1, "\"{a,b\"");
        assert_eq!(error("graphlint.toml", "[per-file-ignores]\n\"a\" = [\"XX1\"]\n").1, "\"XX1\"");
        assert_eq!(error("graphlint.toml", "select = \"GL2\"\n").0, "expected an array of strings");
        assert_eq!(error("graphlint.toml", "all-paths = \"yes\"\n").1, "\"yes\"");
        assert_eq!(error("graphlint.toml", "profiles = [\"vllm\", \"torch\"]\n").1, "\"torch\"");
        assert_eq!(error("graphlint.toml", "select = [\n").0.split(':').next(), Some("invalid TOML"));
        assert_eq!(error("pyproject.toml", "[tool]\ngraphlint = 3\n").1, "3");
        let err = parse("graphlint.toml", "extend_select = []\n").unwrap_err();
        assert!(err.help.unwrap().starts_with("did you mean `extend-select`?"));
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("selcet", "select"), 2);
        assert_eq!(edit_distance("hot", "hot"), 0);
        assert_eq!(closest_key("colds"), Some("cold"));
        assert_eq!(closest_key("output-format"), None);
    }
}
