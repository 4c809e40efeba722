"""Read raw batches from department business databases (方式一 database docking).

``connectors.sql`` builds the incremental SELECT and streams chunks; ``connectors.settings`` holds the
settings model a department file's ``source`` and per-dataset extract keys are validated against.
"""
