"""The assessment (考核) of the 双公示 data: indicators, working-day calendar, HTML/Excel reports, dashboard.

- :mod:`reports.workdays`: China's working days and the 7-working-day publication deadline;
- :mod:`reports.indicators`: 及时率, 完整率, 准确率, volumes, silent departments, open feedback items;
- :mod:`reports.build`: :func:`reports.build.write_report` (HTML + Excel of one month);
- :mod:`reports.dashboard`: the FastAPI app the Airflow plugin mounts;
- :mod:`reports.airflow_auth`: Airflow's login in front of it (imports Airflow only when a request comes).

Kept import-light: importing the package loads nothing (the plugin and the DAG import submodules lazily).
See docs/assessment.md.
"""
