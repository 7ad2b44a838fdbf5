"""The CLI's in-process runs: Dagster's full event log to a file, and on the terminal only what an
operator follows (each step's own progress messages, steps finishing, warnings and failures).
Dagster's default console logger prints every framework event at DEBUG: hundreds of lines for a
month, the progress lost among them."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.log_manager import get_log_record_metadata, has_log_record_metadata

TERMINAL_EVENTS = {DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}


class TerminalFilter(logging.Filter):
    """Keep a step's own messages (INFO and up), step ends, and anything at WARNING or above."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        if not has_log_record_metadata(record):
            return record.levelno >= logging.INFO
        event = get_log_record_metadata(record)["dagster_event"]
        return (event is None and record.levelno >= logging.INFO) or (
            event is not None and event.event_type in TERMINAL_EVENTS
        )


class TerminalFormatter(logging.Formatter):
    """``[bua]   <message>``: the message as the step wrote it, without the run id and job name."""

    def format(self, record: logging.LogRecord) -> str:
        if not has_log_record_metadata(record):
            return f"[bua]   {record.getMessage()}"
        meta = get_log_record_metadata(record)
        message = meta["orig_message"]
        event = meta["dagster_event"]
        if event is not None and event.event_type == DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            message = f"{meta['step_key']} FAILED: {error.message.strip() if error else message}"
        level = "" if record.levelno < logging.WARNING else f"{record.levelname}: "
        return f"[bua]   {level}{message}"


@dg.logger(
    config_schema=None, description="Progress on the terminal (stderr): steps' messages, step ends, warnings, failures."
)
def terminal_progress(_init_context) -> logging.Logger:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(TerminalFilter())
    handler.setFormatter(TerminalFormatter())
    logger = logging.Logger("bua_terminal", level=logging.DEBUG)
    logger.addHandler(handler)
    return logger


@dg.logger(
    config_schema={"path": dg.Field(str, description="the file the run's event log is appended to")},
    description="Dagster's event log, every level, appended to a file.",
)
def event_log_file(init_context) -> logging.Logger:
    handler = logging.FileHandler(init_context.logger_config["path"], encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.Logger("bua_event_log", level=logging.DEBUG)
    logger.addHandler(handler)
    return logger


def quiet_materialize(log_file: Path, *, terminal: bool = True):
    """A ``dg.materialize`` for this process whose event log goes to ``log_file`` (appended) and
    whose terminal output is progress only (nothing with ``terminal=False``: the caller says one
    line per run). Same arguments and result as ``dg.materialize``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    loggers = {"event_log_file": event_log_file} | ({"terminal_progress": terminal_progress} if terminal else {})
    run_config = {
        "loggers": {"event_log_file": {"config": {"path": str(log_file)}}}
        | ({"terminal_progress": {}} if terminal else {})
    }

    def materialize(
        assets: Sequence[dg.AssetsDefinition],
        *,
        instance: dg.DagsterInstance,
        resources: Mapping[str, object],
        partition_key: str,
        tags: Mapping[str, str] | None = None,
        raise_on_error: bool = False,
    ) -> dg.ExecuteInProcessResult:
        defs = dg.Definitions(
            assets=assets,
            resources=resources,
            jobs=[dg.define_asset_job("bua_cli_run")],
            loggers=loggers,
        )
        return defs.resolve_job_def("bua_cli_run").execute_in_process(
            run_config=run_config,
            instance=instance,
            partition_key=partition_key,
            tags=tags,
            raise_on_error=raise_on_error,
        )

    return materialize
