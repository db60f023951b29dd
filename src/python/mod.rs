//! PyO3 glue only: everything here adapts the Rust API to Python; no venue or I/O logic lives here.

mod config;
mod daemon;
mod dates;
mod errors;
mod fetchers;
mod logging;
mod names;
mod progress;
mod runtime;
mod sim;
mod store;
mod stream;

use pyo3::prelude::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    logging::install();
    crate::net::install_crypto_provider();
    errors::register(m)?;
    names::register(m)?;
    m.add_class::<config::PyPipelineConfig>()?;
    m.add_class::<fetchers::BinanceFetcher>()?;
    m.add_class::<fetchers::BybitFetcher>()?;
    m.add_class::<fetchers::HyperliquidFetcher>()?;
    m.add_class::<fetchers::PyOrchestrator>()?;
    m.add_class::<fetchers::MultiVenueResult>()?;
    m.add_class::<sim::PySimServer>()?;
    m.add_class::<store::PyParquetStore>()?;
    m.add_class::<stream::PyLiquidationStream>()?;
    m.add_class::<daemon::PyDaemonRunner>()?;
    m.add_function(wrap_pyfunction!(daemon::daemon_pid, m)?)?;
    m.add_function(wrap_pyfunction!(dates::datetime_ns, m)?)?;
    m.add_function(wrap_pyfunction!(dates::history_date_ns, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::_panic_for_tests, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
