//! Dates between Python and Rust: what users pass (`datetime`, ISO strings, epoch ms) to epoch nanoseconds, and
//! epoch nanoseconds back to UTC `datetime`.

use pyo3::prelude::*;
use pyo3::types::IntoPyDict;

use crate::model::time::parse_datetime_ns;
use crate::model::PipelineError;
use crate::python::errors::to_py_err;

/// A date from Python: `datetime` (naive = UTC), ISO-8601 string, or epoch milliseconds.
#[pyfunction]
#[pyo3(name = "to_epoch_ns")]
pub fn datetime_ns(value: &Bound<'_, PyAny>) -> PyResult<i64> {
    let py = value.py();
    // `True` is an int to Python, but never a date.
    if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(to_py_err(PipelineError::InvalidArgument(format!(
            "{} is not a date: expected datetime, ISO-8601 string or epoch milliseconds",
            value.repr()?
        ))));
    }
    if let Ok(ms) = value.extract::<i64>() {
        return ms.checked_mul(1_000_000).ok_or_else(|| {
            to_py_err(PipelineError::InvalidArgument(format!(
                "epoch milliseconds {ms} are out of range"
            )))
        });
    }
    if let Ok(text) = value.extract::<String>() {
        return parse_datetime_ns(&text).map_err(to_py_err);
    }
    let datetime = py.import("datetime")?;
    if value.is_instance(&datetime.getattr("datetime")?)? {
        let utc = datetime.getattr("timezone")?.getattr("utc")?;
        let aware = if value.getattr("tzinfo")?.is_none() {
            value.call_method("replace", (), Some(&[("tzinfo", &utc)].into_py_dict(py)?))?
        } else {
            value.clone()
        };
        // Exact to the microsecond: (dt - epoch) // 1 µs avoids float rounding of timestamp().
        let epoch = datetime
            .getattr("datetime")?
            .call1((1970, 1, 1, 0, 0, 0, 0, &utc))?;
        let micros: i64 = aware
            .sub(&epoch)?
            .floor_div(datetime.getattr("timedelta")?.call1((0, 0, 1))?)?
            .extract()?;
        return micros.checked_mul(1_000).ok_or_else(|| {
            to_py_err(PipelineError::InvalidArgument(format!(
                "{} is after 2262, beyond nanosecond timestamps",
                value.repr().map(|r| r.to_string()).unwrap_or_default()
            )))
        });
    }
    Err(to_py_err(PipelineError::InvalidArgument(format!(
        "cannot read {} as a date: expected datetime, ISO-8601 string or epoch milliseconds",
        value.repr()?
    ))))
}

/// 2019-01-01: no venue here has history before it (Binance USDⓈ-M opened in September 2019, Bybit's linear
/// perpetuals in 2020, Hyperliquid in 2023). An earlier date is a mistake to point out before any request.
pub const HISTORY_FLOOR_MS: i64 = 1_546_300_800_000;

/// A history bound (`what` = "start" or "end") in epoch nanoseconds: a date as [`datetime_ns`] reads it, refused
/// if it is before [`HISTORY_FLOOR_MS`], with a hint when it looks like epoch seconds given for milliseconds.
#[pyfunction]
#[pyo3(signature = (value, what="start"))]
pub fn history_date_ns(value: &Bound<'_, PyAny>, what: &str) -> PyResult<i64> {
    let ns = datetime_ns(value)?;
    let ms = ns.div_euclid(1_000_000);
    if ms >= HISTORY_FLOOR_MS {
        return Ok(ns);
    }
    // An integer (or digits) between 10^9 and 10^11 is a date of 2001–5138 in seconds, of 1970–1973 in ms.
    let raw = value
        .extract::<i64>()
        .ok()
        .or_else(|| value.extract::<String>().ok()?.trim().parse().ok());
    let hint = match raw {
        Some(n) if (1_000_000_000..100_000_000_000).contains(&n) => format!(
            "; {n} looks like epoch seconds: in milliseconds that is {}",
            n.saturating_mul(1000)
        ),
        _ => String::new(),
    };
    Err(to_py_err(PipelineError::InvalidArgument(format!(
        "{what} {} is before any venue has history (Binance USDⓈ-M opened in 2019, Bybit linear in 2020, \
         Hyperliquid in 2023){hint}",
        crate::model::time::iso_ms(ms)
    ))))
}

/// A UTC `datetime` (to the microsecond) from epoch nanoseconds.
pub fn py_datetime(py: Python<'_>, ns: i64) -> PyResult<Py<PyAny>> {
    let datetime = py.import("datetime")?;
    let utc = datetime.getattr("timezone")?.getattr("utc")?;
    let epoch = datetime
        .getattr("datetime")?
        .call1((1970, 1, 1, 0, 0, 0, 0, utc))?;
    let delta = datetime
        .getattr("timedelta")?
        .call1((0, 0, ns.div_euclid(1_000)))?;
    Ok(epoch.add(delta)?.unbind())
}
