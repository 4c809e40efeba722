"""The facade: settings every entry point uses (``pipeline.settings``), department configuration, ``ingest()``
chaining the stages, the Airflow task functions and the ``sgs`` command line."""
