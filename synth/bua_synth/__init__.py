"""bua-synth: the development tooling beside the product (not in the bua-assets wheel).

Synthetic retailers (``generator``, running ``population``, ``meter_data``: NEM12 files and the
truth, ``plans``, ``billing``: bills and their truth, and ``core_tables``; load models
``load``/``rich``/``alt``), the accuracy backtest against a world's truth (``backtest``), and the
``bua-synth`` command (``generate``, ``demo``). It imports the product; the product never imports
it (tests/test_import_contracts.py)."""
