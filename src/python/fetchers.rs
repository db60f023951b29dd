//! `BinanceFetcher`, `BybitFetcher`, `HyperliquidFetcher` and the `Orchestrator` (DESIGN §5).

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::fetch::{MultiVenue, Orchestrator, VenueClient};
use crate::model::records::{funding_rate_batch, open_interest_batch};
use crate::model::{FundingRate, OpenInterest, Venue};
use crate::net::HttpConfig;
use crate::python::errors::to_py_err;
use crate::python::runtime::{block_on_result, to_pyarrow};

fn client(venue: Venue, base_url: Option<&str>) -> PyResult<Arc<VenueClient>> {
    VenueClient::new(venue, base_url, &HttpConfig::default()).map(Arc::new).map_err(to_py_err)
}

/// The same methods on the three fetcher classes; only the venue differs.
macro_rules! fetcher {
    ($name:ident, $venue:expr, $doc:literal) => {
        #[doc = $doc]
        #[pyclass(module = "ccxt_pipeline_rs", frozen)]
        pub struct $name {
            client: Arc<VenueClient>,
        }

        #[pymethods]
        impl $name {
            #[new]
            #[pyo3(signature = (base_url=None, ws_url=None))]
            fn new(base_url: Option<&str>, ws_url: Option<&str>) -> PyResult<Self> {
                // The WebSocket URL belongs to liquidation streams, which read it when they start.
                let _ = ws_url;
                Ok(Self { client: client($venue, base_url)? })
            }

            #[getter]
            fn venue(&self) -> &'static str {
                $venue.as_str()
            }

            #[getter]
            fn base_url(&self) -> &str {
                self.client.base_url()
            }

            /// Current open interest of `symbol` as a one-row pyarrow.Table.
            fn fetch_open_interest(&self, py: Python<'_>, symbol: &str) -> PyResult<Py<PyAny>> {
                let row = block_on_result(py, self.client.fetch_open_interest(symbol))?;
                to_pyarrow(py, open_interest_batch(&[row]))
            }

            fn fetch_open_interest_async<'py>(&self, py: Python<'py>, symbol: String) -> PyResult<Bound<'py, PyAny>> {
                let client = self.client.clone();
                pyo3_async_runtimes::tokio::future_into_py(py, async move {
                    let row = client.fetch_open_interest(&symbol).await.map_err(to_py_err)?;
                    Python::attach(|py| to_pyarrow(py, open_interest_batch(&[row])))
                })
            }

            /// Current funding rate (with interval, next funding time, mark and index price) as a one-row table.
            fn fetch_funding_rate(&self, py: Python<'_>, symbol: &str) -> PyResult<Py<PyAny>> {
                let row = block_on_result(py, self.client.fetch_funding_rate(symbol))?;
                to_pyarrow(py, funding_rate_batch(&[row]))
            }

            fn fetch_funding_rate_async<'py>(&self, py: Python<'py>, symbol: String) -> PyResult<Bound<'py, PyAny>> {
                let client = self.client.clone();
                pyo3_async_runtimes::tokio::future_into_py(py, async move {
                    let row = client.fetch_funding_rate(&symbol).await.map_err(to_py_err)?;
                    Python::attach(|py| to_pyarrow(py, funding_rate_batch(&[row])))
                })
            }

            fn __repr__(&self) -> String {
                format!("{}(base_url='{}')", stringify!($name), self.client.base_url())
            }
        }
    };
}

fetcher!(BinanceFetcher, Venue::Binance, "Binance USDⓈ-M futures.");
fetcher!(BybitFetcher, Venue::Bybit, "Bybit v5, linear perpetuals.");
fetcher!(HyperliquidFetcher, Venue::Hyperliquid, "Hyperliquid perpetuals.");

/// The rows of the venues that answered and one exception object per venue that did not.
#[pyclass(module = "ccxt_pipeline_rs", frozen, get_all)]
pub struct MultiVenueResult {
    table: Py<PyAny>,
    failures: Py<PyList>,
}

#[pymethods]
impl MultiVenueResult {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("MultiVenueResult(rows={}, failures={})", self.table.bind(py).len()?, self.failures.bind(py).len()))
    }
}

fn multi_venue_result<T>(
    py: Python<'_>,
    result: MultiVenue<T>,
    to_batch: fn(&[T]) -> arrow_array::RecordBatch,
) -> PyResult<MultiVenueResult> {
    let failures = PyList::empty(py);
    for error in result.failures {
        failures.append(to_py_err(error).into_value(py))?;
    }
    Ok(MultiVenueResult { table: to_pyarrow(py, to_batch(&result.rows))?, failures: failures.unbind() })
}

/// Fans one request out to several venues concurrently.
#[pyclass(name = "Orchestrator", module = "ccxt_pipeline_rs", frozen)]
pub struct PyOrchestrator {
    inner: Orchestrator,
}

#[pymethods]
impl PyOrchestrator {
    /// `exchanges`: venue names (default all three); `base_urls`: venue name → base URL overrides.
    #[new]
    #[pyo3(signature = (exchanges=None, base_urls=None))]
    fn new(exchanges: Option<Vec<String>>, base_urls: Option<std::collections::HashMap<String, String>>) -> PyResult<Self> {
        let venues: Vec<Venue> = match exchanges {
            None => Venue::ALL.to_vec(),
            Some(names) => names.iter().map(|n| n.parse()).collect::<Result<_, _>>().map_err(to_py_err)?,
        };
        let mut overrides = std::collections::HashMap::new();
        for (name, url) in base_urls.unwrap_or_default() {
            overrides.insert(name.parse::<Venue>().map_err(to_py_err)?, url);
        }
        let inner = Orchestrator::for_venues(&venues, |v| overrides.get(&v).cloned(), &HttpConfig::default())
            .map_err(to_py_err)?;
        Ok(PyOrchestrator { inner })
    }

    #[getter]
    fn exchanges(&self) -> Vec<&'static str> {
        self.inner.clients().iter().map(|c| c.venue().as_str()).collect()
    }

    fn fetch_open_interest(&self, py: Python<'_>, symbol: &str) -> PyResult<MultiVenueResult> {
        let result = block_on_result(py, self.inner.fetch_open_interest(symbol))?;
        multi_venue_result::<OpenInterest>(py, result, open_interest_batch)
    }

    fn fetch_open_interest_async<'py>(&self, py: Python<'py>, symbol: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let result = inner.fetch_open_interest(&symbol).await.map_err(to_py_err)?;
            Python::attach(|py| multi_venue_result::<OpenInterest>(py, result, open_interest_batch))
        })
    }

    fn fetch_funding_rate(&self, py: Python<'_>, symbol: &str) -> PyResult<MultiVenueResult> {
        let result = block_on_result(py, self.inner.fetch_funding_rate(symbol))?;
        multi_venue_result::<FundingRate>(py, result, funding_rate_batch)
    }

    fn fetch_funding_rate_async<'py>(&self, py: Python<'py>, symbol: String) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let result = inner.fetch_funding_rate(&symbol).await.map_err(to_py_err)?;
            Python::attach(|py| multi_venue_result::<FundingRate>(py, result, funding_rate_batch))
        })
    }
}
