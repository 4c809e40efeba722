"""The national 双公示 data template (2019 "v2"), as data.

This package is the single place that names the national columns of the 行政许可 (``xk``) and
行政处罚 (``cf``) datasets, their Chinese names, their kinds and lengths. Every stage that needs
the template (transforms, expectations, store, reports) imports it from here, so the stages do not
import each other. Source: ../shared/spec/national-rules.md §1 and §2.
"""

from national.fields import (
    DATASETS,
    Dataset,
    DatasetName,
    Field,
    FieldKind,
    dataset,
)

__all__ = ["DATASETS", "Dataset", "DatasetName", "Field", "FieldKind", "dataset"]
