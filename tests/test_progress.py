"""Long steps report progress in the run log: throttled, but always the last item."""

from bua_assets.progress import progress_logger


class Log:
    def __init__(self):
        self.lines = []

    def info(self, message):
        self.lines.append(message)


def test_progress_is_throttled_but_always_reports_the_end():
    log = Log()
    report = progress_logger(log, "interval_reads: files", every_s=3600)
    for done in range(1, 91):
        report(done, 90, done * 1000)
    assert len(log.lines) == 1
    assert log.lines[0].startswith("interval_reads: files: 90/90 (100%), 90,000 rows, ")


def test_progress_without_throttle_reports_every_item_with_its_detail():
    log = Log()
    report = progress_logger(log, "unbilled months", every_s=0)
    report(1, 3, "2026-08: 1,200 register-days")
    report(2, 3)
    report(3, 3)
    assert [line.split(", ")[0] for line in log.lines] == [
        "unbilled months: 1/3 (33%)",
        "unbilled months: 2/3 (67%)",
        "unbilled months: 3/3 (100%)",
    ]
    assert "2026-08: 1,200 register-days" in log.lines[0]
