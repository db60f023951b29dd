import pytest
from ccxt_pipeline_rs.sim import ExchangeSimulator


@pytest.fixture()
def sim():
    """A fresh simulator per test: latency, faults and counters never leak between tests."""
    with ExchangeSimulator(seed=7) as simulator:
        yield simulator
