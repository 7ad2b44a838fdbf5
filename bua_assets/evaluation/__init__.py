"""Evaluation against the synthetic world's truth (accuracy backtests): above both estimation
and billing, which it uses; nothing in the pipeline imports it."""
