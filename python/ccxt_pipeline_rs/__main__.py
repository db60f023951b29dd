"""``python -m ccxt_pipeline_rs``: the ``ccxt-cli`` command line."""

from ccxt_pipeline_rs.cli import main

if __name__ == "__main__":
    main()
