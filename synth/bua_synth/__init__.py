"""bua-synth: the development tooling beside the product (not in the bua-assets wheel).

Synthetic retailers (``generator``: population, CORE tables, NEM12 files, bills and their truth;
load models ``load``/``rich``/``alt``), the accuracy backtest against a world's truth
(``backtest``), and the ``bua-synth`` command (``generate``, ``demo``). It imports the product;
the product never imports it (tests/test_import_contracts.py)."""
