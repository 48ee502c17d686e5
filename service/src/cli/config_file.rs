//! `--config FILE` (or `APPEAL_TRIAGE_CONFIG`): one TOML file that can hold
//! every flag, and `appeal-triage config print`, the effective configuration
//! with secrets redacted.
//!
//! Every flag already has an environment twin (`--max-in-flight` is
//! `APPEAL_TRIAGE_MAX_IN_FLIGHT`), and clap resolves flag > env > default. So
//! the file is read before clap parses, and each of its keys becomes its
//! flag's variable unless that variable is already set: the file slots in
//! between env and the defaults (flag > env > file > default), with clap's
//! own parsing and validation of every value, and nothing to keep in sync by
//! hand. (The `figment` layering, without a second description of the flags.)
//!
//! Keys are the long flag names with `_` or `-` (`max_in_flight = 64`);
//! tables only group keys (`[http]`, `[routing]`) and are otherwise ignored;
//! an array is a comma list (`cors_origins = ["https://a", "https://b"]`).
//! An unknown key is an error naming it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgMatches, Command};

/// Why a configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file cannot be read.
    #[error("config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error (line and column).
        source: toml::de::Error,
    },
    /// A key that is no flag, or a value of the wrong shape.
    #[error("config file {path}: {key}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "APPEAL_TRIAGE_CONFIG";

/// The configuration file named by `--config FILE`, `--config=FILE` in
/// `args`, or else by [`CONFIG_ENV`].
pub fn path_from(args: &[String]) -> Option<PathBuf> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            break;
        }
        if a == "--config" {
            return it.next().map(PathBuf::from);
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some(PathBuf::from(p));
        }
    }
    std::env::var_os(CONFIG_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Every flag of `cmd` and its subcommands that has an env twin: long name
/// with `_` -> variable.
pub fn env_twins(cmd: &Command) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    collect(cmd, &mut out);
    out
}

fn collect(cmd: &Command, out: &mut BTreeMap<String, String>) {
    for arg in cmd.get_arguments() {
        if let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) {
            out.insert(long.replace('-', "_"), env.to_string_lossy().into_owned());
        }
    }
    for sub in cmd.get_subcommands() {
        collect(sub, out);
    }
}

/// The (variable, value) pairs the file at `path` sets, given the flags'
/// twins (see [`env_twins`]).
pub fn read(
    path: &Path,
    twins: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, twins).map_err(|e| match e {
        Bad::Toml(source) => ConfigFileError::Parse {
            path: path.to_path_buf(),
            source,
        },
        Bad::Key { key, reason } => ConfigFileError::Key {
            path: path.to_path_buf(),
            key,
            reason,
        },
    })
}

enum Bad {
    Toml(toml::de::Error),
    Key { key: String, reason: String },
}

fn parse(text: &str, twins: &BTreeMap<String, String>) -> Result<Vec<(String, String)>, Bad> {
    let table: toml::Table = toml::from_str(text).map_err(Bad::Toml)?;
    let mut out = Vec::new();
    for (key, value) in &table {
        match value {
            toml::Value::Table(group) => {
                for (key, value) in group {
                    out.push(pair(key, value, twins)?);
                }
            }
            value => out.push(pair(key, value, twins)?),
        }
    }
    Ok(out)
}

fn pair(
    key: &str,
    value: &toml::Value,
    twins: &BTreeMap<String, String>,
) -> Result<(String, String), Bad> {
    let bad = |reason: &str| Bad::Key {
        key: key.to_string(),
        reason: reason.to_string(),
    };
    let var = twins.get(&key.replace('-', "_")).ok_or_else(|| {
        bad("not a flag of appeal-triage (keys are long flag names, e.g. max_in_flight)")
    })?;
    let scalar = |v: &toml::Value| match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    };
    let text = match value {
        toml::Value::Array(items) => items
            .iter()
            .map(scalar)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("an array holds strings, numbers or booleans only"))?
            .join(","),
        v => scalar(v).ok_or_else(|| bad("a string, number, boolean or array of them"))?,
    };
    Ok((var.clone(), text))
}

/// Sets each variable the file names that is not set already; returns the
/// variables it set. Call before any thread starts (it changes the process
/// environment).
pub fn apply(pairs: Vec<(String, String)>) -> Vec<String> {
    let mut set = Vec::new();
    for (var, value) in pairs {
        if std::env::var_os(&var).is_none() {
            std::env::set_var(&var, value);
            set.push(var);
        }
    }
    set
}

/// The effective value of every flag `matches` (of `cmd`) resolved, one
/// `key = value  # source` line each (source: flag, env, file, default),
/// secrets redacted.
pub fn render(cmd: &Command, matches: &ArgMatches, from_file: &[String]) -> String {
    let mut lines = Vec::new();
    for arg in cmd.get_arguments() {
        let (Some(long), id) = (arg.get_long(), arg.get_id().as_str()) else {
            continue;
        };
        if long == "config" || long == "help" || long == "version" {
            continue;
        }
        let values: Vec<String> = matches
            .get_raw(id)
            .map(|vs| vs.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
        let source = match matches.value_source(id) {
            Some(ValueSource::CommandLine) => "flag",
            Some(ValueSource::EnvVariable)
                if env.as_ref().is_some_and(|e| from_file.contains(e)) =>
            {
                "file"
            }
            Some(ValueSource::EnvVariable) => "env",
            Some(ValueSource::DefaultValue) => "default",
            _ => "unset",
        };
        let secret = arg.is_hide_env_values_set() || is_secret_name(long);
        let value = if values.is_empty() {
            "\"\"".to_string()
        } else if secret {
            "\"<redacted>\"".to_string()
        } else {
            toml_value(&values.join(","))
        };
        lines.push(format!("{} = {value}  # {source}", long.replace('-', "_")));
    }
    lines.sort();
    lines.join("\n") + "\n"
}

fn is_secret_name(long: &str) -> bool {
    ["key", "secret", "password", "token", "database-url"]
        .iter()
        .any(|w| long.contains(w))
}

/// Numbers and booleans bare, everything else a quoted TOML string.
fn toml_value(s: &str) -> String {
    if s == "true" || s == "false" || s.parse::<f64>().is_ok_and(f64::is_finite) {
        s.to_string()
    } else {
        // A JSON string literal is a valid TOML basic string.
        serde_json::to_string(s).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn twins() -> BTreeMap<String, String> {
        [
            ("max_in_flight", "APPEAL_TRIAGE_MAX_IN_FLIGHT"),
            ("cors_origins", "APPEAL_TRIAGE_CORS_ORIGINS"),
            ("knn_k", "APPEAL_TRIAGE_KNN_K"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    }

    #[test]
    fn keys_map_to_their_env_twins_and_unknown_keys_are_named() {
        let mut ok = parse(
            "max-in-flight = 8\n[http]\ncors_origins = [\"https://a\", \"https://b\"]\n\
             [routing]\nknn_k = 20\n",
            &twins(),
        )
        .ok()
        .unwrap();
        ok.sort();
        assert_eq!(
            ok,
            vec![
                (
                    "APPEAL_TRIAGE_CORS_ORIGINS".into(),
                    "https://a,https://b".into()
                ),
                ("APPEAL_TRIAGE_KNN_K".into(), "20".into()),
                ("APPEAL_TRIAGE_MAX_IN_FLIGHT".into(), "8".into()),
            ]
        );
        match parse("max_inflight = 8\n", &twins()) {
            Err(Bad::Key { key, .. }) => assert_eq!(key, "max_inflight"),
            _ => panic!("an unknown key is refused"),
        }
        assert!(matches!(
            parse("max_in_flight = \n", &twins()),
            Err(Bad::Toml(_))
        ));
        assert!(matches!(
            parse("max_in_flight = { a = 1 }\n[x]\n", &twins()),
            Err(Bad::Key { .. })
        ));
    }

    #[test]
    fn the_config_flag_is_found_in_either_form() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            path_from(&args(&["x", "--config", "a.toml", "serve"])),
            Some(PathBuf::from("a.toml"))
        );
        assert_eq!(
            path_from(&args(&["x", "serve", "--config=b.toml"])),
            Some(PathBuf::from("b.toml"))
        );
    }

    #[test]
    fn printed_values_are_toml() {
        assert_eq!(toml_value("64"), "64");
        assert_eq!(toml_value("true"), "true");
        assert_eq!(toml_value("127.0.0.1:8080"), "\"127.0.0.1:8080\"");
        assert_eq!(toml_value("inf"), "\"inf\"");
    }
}
