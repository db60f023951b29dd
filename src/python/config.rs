//! `CCXTPipelineConfig` for Python (keys: docs/formats.md#configuration): the daemon's configuration, read and
//! validated by [`DaemonConfig`]; this file only converts between Python values and the core's.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{IntoPyDict, PyBool, PyDelta, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::daemon::config::{env_var, format_duration, unknown_env_vars, Setting, KEYS};
use crate::daemon::{DaemonConfig, SymbolSelection};
use crate::model::PipelineError;
use crate::python::errors::to_py_err;

/// What `origin` says in errors for values given to the constructor or `from_dict`.
const ARGUMENTS: &str = "CCXTPipelineConfig arguments";

#[pyclass(name = "CCXTPipelineConfig", module = "ccxt_pipeline_rs", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyPipelineConfig {
    pub(crate) config: DaemonConfig,
}

/// A value that has no TOML form (or not the one asked for), with what was expected.
fn invalid(origin: &str, key: &str, value: &Bound<'_, PyAny>, expected: Option<&str>) -> PyErr {
    let shown = value
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".into());
    let expected = match expected {
        Some(expected) => expected.to_string(),
        None => {
            let type_name = value
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "?".into());
            format!("expected a string, number, boolean, list or dict, not {type_name}")
        }
    };
    to_py_err(PipelineError::InvalidArgument(format!(
        "{origin}: {key} = {shown}: {expected}"
    )))
}

/// A Python value as a typed TOML value: str, bool, int, float, list/tuple, dict (a table), `os.PathLike` (a
/// string) and `datetime.timedelta` (a duration string such as `30s`). `None` is no value.
fn to_toml(value: &Bound<'_, PyAny>, origin: &str, key: &str) -> PyResult<Option<toml::Value>> {
    if value.is_none() {
        return Ok(None);
    }
    let converted = if let Ok(text) = value.cast::<PyString>() {
        toml::Value::String(text.to_str()?.to_string())
    } else if let Ok(flag) = value.cast::<PyBool>() {
        toml::Value::Boolean(flag.is_true())
    } else if value.cast::<PyInt>().is_ok() {
        let number: i64 = value.extract().map_err(|_| {
            invalid(
                origin,
                key,
                value,
                Some("expected an integer that fits in 64 bits"),
            )
        })?;
        toml::Value::Integer(number)
    } else if let Ok(number) = value.cast::<PyFloat>() {
        toml::Value::Float(number.value())
    } else if value.cast::<PyDelta>().is_ok() {
        // Below 1s or in fractions of a millisecond there is no duration string that means it: refuse it here
        // rather than round it (1µs would read as 0, which turns a feature off).
        let duration = value
            .extract::<Duration>()
            .ok()
            .filter(|d| *d >= Duration::from_secs(1) && d.subsec_nanos() % 1_000_000 == 0)
            .ok_or_else(|| {
                invalid(
                    origin,
                    key,
                    value,
                    Some("expected a duration of at least 1s in whole milliseconds"),
                )
            })?;
        toml::Value::String(format_duration(duration))
    } else if value.cast::<PyList>().is_ok() || value.cast::<PyTuple>().is_ok() {
        let mut items = Vec::new();
        for (i, item) in value.try_iter()?.enumerate() {
            let item = item?;
            items.push(
                to_toml(&item, origin, &format!("{key}[{i}]"))?
                    .ok_or_else(|| invalid(origin, &format!("{key}[{i}]"), &item, None))?,
            );
        }
        toml::Value::Array(items)
    } else if let Ok(dict) = value.cast::<PyDict>() {
        toml::Value::Table(to_table(dict, origin, Some(key))?)
    } else if value.hasattr("__fspath__")? {
        let path: PathBuf = value.extract()?;
        toml::Value::String(path.display().to_string())
    } else {
        return Err(invalid(origin, key, value, None));
    };
    Ok(Some(converted))
}

/// A dict laid out like the file as a TOML table; `None` values are left out (the default applies).
fn to_table(dict: &Bound<'_, PyDict>, origin: &str, prefix: Option<&str>) -> PyResult<toml::Table> {
    let mut table = toml::Table::new();
    for (key, value) in dict.iter() {
        let name: String = key.extract().map_err(|_| {
            invalid(
                origin,
                prefix.unwrap_or("key"),
                &key,
                Some("expected a string key"),
            )
        })?;
        let dotted = prefix.map_or_else(|| name.clone(), |p| format!("{p}.{name}"));
        if let Some(value) = to_toml(&value, origin, &dotted)? {
            table.insert(name, value);
        }
    }
    Ok(table)
}

fn to_python<'py>(py: Python<'py>, value: &toml::Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        toml::Value::String(s) => s.into_pyobject(py)?.into_any(),
        toml::Value::Integer(i) => i.into_pyobject(py)?.into_any(),
        toml::Value::Float(f) => f.into_pyobject(py)?.into_any(),
        toml::Value::Boolean(b) => PyBool::new(py, *b).to_owned().into_any(),
        toml::Value::Datetime(d) => d.to_string().into_pyobject(py)?.into_any(),
        toml::Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any()
        }
        toml::Value::Table(table) => {
            let dict = PyDict::new(py);
            for (k, v) in table {
                dict.set_item(k, to_python(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

fn venue_map(
    urls: &std::collections::BTreeMap<crate::model::Venue, String>,
) -> Vec<(String, String)> {
    urls.iter()
        .map(|(venue, url)| (venue.as_str().to_string(), url.clone()))
        .collect()
}

#[pymethods]
impl PyPipelineConfig {
    /// The defaults, overridden by keyword arguments laid out like the TOML file:
    /// `CCXTPipelineConfig(venues=["binance"], snapshots={"open_interest_interval": "30s"})`. The environment is
    /// not read (see `with_env`).
    #[new]
    #[pyo3(signature = (**keys))]
    fn new(keys: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        match keys {
            Some(keys) => Self::from_dict(keys, false),
            None => Ok(PyPipelineConfig {
                config: DaemonConfig::default(),
            }),
        }
    }

    /// Reads a TOML file, then (unless `env=False`) the `CCXT_PIPELINE_*` environment variables over it.
    #[staticmethod]
    #[pyo3(signature = (path, *, env = true))]
    fn from_file(path: PathBuf, env: bool) -> PyResult<Self> {
        let mut config = DaemonConfig::from_toml_file(&path).map_err(to_py_err)?;
        if env {
            config.apply_process_env().map_err(to_py_err)?;
        }
        Ok(PyPipelineConfig { config })
    }

    /// Reads a dict laid out like the TOML file (as `to_dict` returns it) over the defaults; tables are dicts, and
    /// dotted keys (`"snapshots.open_interest_interval"`) work too. With `env=True` the environment is read over it.
    #[staticmethod]
    #[pyo3(signature = (data, *, env = false))]
    fn from_dict(data: &Bound<'_, PyDict>, env: bool) -> PyResult<Self> {
        let table = to_table(data, ARGUMENTS, None)?;
        let mut config = DaemonConfig::from_toml_table(&table, ARGUMENTS).map_err(to_py_err)?;
        if env {
            config.apply_process_env().map_err(to_py_err)?;
        }
        Ok(PyPipelineConfig { config })
    }

    /// A copy with the `CCXT_PIPELINE_*` environment variables applied over this configuration.
    fn with_env(&self) -> PyResult<Self> {
        let mut config = self.config.clone();
        config.apply_process_env().map_err(to_py_err)?;
        Ok(PyPipelineConfig { config })
    }

    /// A copy with `overrides` (dotted key → value, e.g. `{"snapshots.open_interest_interval": "30s"}`) applied,
    /// all or none. Strings are read as on the command line (lists comma-separated, `"true"`/`"false"`); other
    /// values as in the file; `None` leaves a key as it is. `origin` is named in error messages.
    #[pyo3(signature = (overrides, *, origin = "overrides"))]
    fn with_overrides(&self, overrides: &Bound<'_, PyDict>, origin: &str) -> PyResult<Self> {
        let mut settings = Vec::new();
        for (key, value) in overrides.iter() {
            let key: String = key
                .extract()
                .map_err(|_| invalid(origin, "key", &key, Some("expected a string key")))?;
            let setting = if let Ok(text) = value.cast::<PyString>() {
                Setting::Text(text.to_str()?.to_string())
            } else {
                match to_toml(&value, origin, &key)? {
                    Some(value) => Setting::Value(value),
                    None => continue,
                }
            };
            settings.push((key, setting));
        }
        let mut config = self.config.clone();
        config
            .set_all(
                settings.iter().map(|(k, v)| (k.as_str(), v.clone())),
                origin,
            )
            .map_err(to_py_err)?;
        Ok(PyPipelineConfig { config })
    }

    /// Every key, dotted as in `with_overrides`.
    #[classattr]
    #[allow(non_snake_case)]
    fn KEYS() -> Vec<&'static str> {
        KEYS.to_vec()
    }

    /// The environment variable that overrides `key` (`CCXT_PIPELINE_…`).
    #[staticmethod]
    fn env_var(key: &str) -> PyResult<String> {
        if KEYS.contains(&key) {
            Ok(env_var(key))
        } else {
            Err(to_py_err(PipelineError::InvalidArgument(format!(
                "unknown key '{key}': expected one of {}",
                KEYS.join(", ")
            ))))
        }
    }

    /// `CCXT_PIPELINE_*` variables of this process that are no key's (likely typos; they are ignored).
    #[staticmethod]
    fn unknown_env_vars() -> Vec<String> {
        let names: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .collect();
        unknown_env_vars(names.iter().map(String::as_str))
    }

    /// The file this configuration was read from, if any.
    #[getter]
    fn source(&self) -> Option<String> {
        self.config.source.as_ref().map(|p| p.display().to_string())
    }

    #[getter]
    fn data_dir(&self) -> String {
        self.config.data_dir.display().to_string()
    }

    #[getter]
    fn venues(&self) -> Vec<&'static str> {
        self.config.venues.iter().map(|v| v.as_str()).collect()
    }

    /// The unified symbols, or `None` when the top N by open interest are chosen at start.
    #[getter]
    fn symbols(&self) -> Option<Vec<String>> {
        match &self.config.symbols {
            SymbolSelection::Listed(symbols) => Some(symbols.clone()),
            SymbolSelection::TopByOpenInterest(_) => None,
        }
    }

    #[getter]
    fn top_n_by_open_interest(&self) -> Option<usize> {
        match self.config.symbols {
            SymbolSelection::TopByOpenInterest(n) => Some(n),
            SymbolSelection::Listed(_) => None,
        }
    }

    #[getter]
    fn open_interest_interval(&self) -> Option<Duration> {
        self.config.open_interest_interval
    }

    #[getter]
    fn funding_interval(&self) -> Option<Duration> {
        self.config.funding_interval
    }

    #[getter]
    fn history_catch_up(&self) -> Option<Duration> {
        self.config.history_catch_up
    }

    #[getter]
    fn history_period(&self) -> &'static str {
        self.config.history_period.binance_name()
    }

    #[getter]
    fn liquidations(&self) -> bool {
        self.config.liquidations
    }

    #[getter]
    fn liquidations_all_market(&self) -> bool {
        self.config.liquidations_all_market
    }

    #[getter]
    fn hyperliquid_addresses(&self) -> Vec<String> {
        self.config.hyperliquid_addresses.clone()
    }

    /// REST base URL overrides by venue.
    #[getter]
    fn base_urls<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        venue_map(&self.config.base_urls).into_py_dict(py)
    }

    /// WebSocket base URL overrides by venue.
    #[getter]
    fn ws_urls<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        venue_map(&self.config.ws_urls).into_py_dict(py)
    }

    #[getter]
    fn flush_interval(&self) -> Duration {
        self.config.flush_interval
    }

    #[getter]
    fn compaction_interval(&self) -> Option<Duration> {
        self.config.compaction_interval
    }

    #[getter]
    fn log_level(&self) -> &str {
        &self.config.log_level
    }

    #[getter]
    fn log_file(&self) -> Option<String> {
        self.config
            .log_file
            .as_ref()
            .map(|p| p.display().to_string())
    }

    #[getter]
    fn metrics_port(&self) -> Option<u16> {
        self.config.metrics_port
    }

    /// The configuration laid out like the TOML file (durations as `"1m"`, `"off"`); `from_dict` reads it back.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &toml::Value::Table(self.config.to_toml_table()))
    }

    /// The configuration as a TOML document.
    fn to_toml(&self) -> String {
        self.config.to_toml_string()
    }

    fn __repr__(&self) -> String {
        let config = &self.config;
        let optional = |d: Option<Duration>| py_str(&format_optional(d));
        let symbols = match &config.symbols {
            SymbolSelection::Listed(symbols) => py_list(symbols),
            SymbolSelection::TopByOpenInterest(n) => {
                format!("{} (top {n} by open interest)", py_str("all"))
            }
        };
        let source = config
            .source
            .as_ref()
            .map_or_else(|| "None".into(), |p| py_str(&p.display().to_string()));
        format!(
            "CCXTPipelineConfig(source={source}, data_dir={}, venues={}, symbols={symbols}, \
             open_interest_interval={}, funding_interval={}, history_catch_up={}, liquidations={})",
            py_str(&config.data_dir.display().to_string()),
            py_list(config.venues.iter().map(|v| v.as_str())),
            optional(config.open_interest_interval),
            optional(config.funding_interval),
            optional(config.history_catch_up),
            if config.liquidations { "True" } else { "False" },
        )
    }
}

/// A Python string literal of `text`, as `repr` writes it for plain text.
fn py_str(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn py_list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| py_str(s.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

fn format_optional(value: Option<Duration>) -> String {
    value.map_or_else(|| "off".into(), format_duration)
}
