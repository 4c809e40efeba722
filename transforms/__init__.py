"""Department columns → national columns: mapping, normalisation and derived fields (spec §3.4, §5.2).

Modules: ``settings`` (the mapping model, light to import: DAG files parse it), ``normalise``
(mapping and normalisation, pandas), ``derive`` (publicity periods).
"""
