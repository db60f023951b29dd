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
