"""The facade: department configuration, ``ingest()`` chaining the stages, and the ``sgs`` command line."""
