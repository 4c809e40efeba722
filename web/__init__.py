"""The web apps outside Airflow (design.md): ``web.public`` is the public column (专栏公示)."""
