"""``write_report``: the monthly assessment report as HTML (with charts) and Excel, from the central store."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from sqlalchemy.engine import Engine

from national.safety import private_dir, write_private
from reports.indicators import Assessment, DepartmentLike, assess
from reports.render import render_report_html, write_workbook
from reports.settings import ReportSettings
from reports.workdays import WorkdayCalendar

log = logging.getLogger("sgs.reports")


def report_names(month: str) -> tuple[str, str]:
    """File names of the HTML report and the workbook of ``month`` (ASCII, so links and shells stay simple)."""
    return f"sgs-assessment-{month}.html", f"sgs-assessment-{month}.xlsx"


def write_report(
    engine: Engine,
    month: str,
    out_dir: Path,
    *,
    departments: Mapping[str, DepartmentLike] | Iterable[DepartmentLike] | None = None,
    as_of: dt.datetime | None = None,
    settings: ReportSettings | None = None,
    calendar: WorkdayCalendar | None = None,
) -> Path:
    """Write ``sgs-assessment-<month>.html`` and ``.xlsx`` into ``out_dir``; return the HTML path.

    ``month`` is ``YYYY-MM``. ``departments`` (``pipeline.config.load_departments()``) gives names and the
    datasets each department should report (for "reported nothing"); without it departments appear by code.
    ``as_of`` (aware) fixes what is known; default now. Both files are written next to each other through a
    temporary name, so a reader never sees half a report.
    """
    assessment = assess(engine, month, departments=departments, as_of=as_of, settings=settings, calendar=calendar)
    return write_assessment(assessment, out_dir)


def write_assessment(assessment: Assessment, out_dir: Path) -> Path:
    """Write the files of an already computed assessment (see :func:`write_report`)."""
    out_dir = private_dir(Path(out_dir))  # owner-only: folders 0700, files 0600 (docs/operations.md)
    html_name, xlsx_name = report_names(assessment.month)
    xlsx_tmp = out_dir / f".{xlsx_name}.tmp"
    write_workbook(assessment, xlsx_tmp)
    xlsx_tmp.replace(out_dir / xlsx_name)
    html_tmp = out_dir / f".{html_name}.tmp"
    write_private(html_tmp, render_report_html(assessment, xlsx_name=xlsx_name))
    html_path = out_dir / html_name
    html_tmp.replace(html_path)
    log.info("assessment report %s written to %s", assessment.month, html_path)
    return html_path
