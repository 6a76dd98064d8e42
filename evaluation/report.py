"""Writing evaluation results: per-video CSV, summary JSON (atomic), a markdown table, tensorboard scalars."""
from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from atomic import atomic_write_text

UNAVAILABLE = "unavailable"


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def write_csv(path, rows: Iterable[dict], columns: Sequence[str]) -> None:
    """One row per dict, the given columns in order (missing values are empty cells)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    atomic_write_text(path, buffer.getvalue())


def _json_safe(value):
    """NaN/inf (not valid JSON) become None; paths become strings; tuples become lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path, data) -> None:
    atomic_write_text(path, json.dumps(_json_safe(data), indent=2, allow_nan=False) + "\n")


def format_value(entry, digits: int = 4) -> str:
    """A summary entry ({'mean', 'std', 'count'} or 'unavailable') as 'mean +- std' text."""
    if entry == UNAVAILABLE or entry is None:
        return UNAVAILABLE if entry == UNAVAILABLE else "-"
    mean, std = entry.get("mean"), entry.get("std")
    if mean is None:
        return "-"
    text = f"{mean:.{digits}g}"
    return text if std is None else f"{text} +- {std:.{max(2, digits - 1)}g}"


def format_table(summary: dict[str, dict], columns: Sequence[str], label: str = "system") -> str:
    """A markdown table: one row per system (summary: {system: {column: entry}}), one column per metric."""
    header = [label, *columns]
    rows = [[name, *(format_value(values.get(c)) for c in columns)] for name, values in summary.items()]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def tag(text: str) -> str:
    """A tensorboard-friendly tag part: lower case, spaces and odd characters as '_'."""
    return re.sub(r"[^0-9A-Za-z_.-]+", "_", text.strip()).strip("_").lower() or "_"


def write_tensorboard(log_dir, per_video: Sequence[dict], summary: dict[str, dict], columns: Sequence[str],
                      prefix: str = "reconstruction") -> None:
    """Scalars: `<prefix>/<system>/<column>` per video (step = video number) and `<prefix>_summary/...`
    with each system's mean (step 0). per_video rows have 'system', 'index' and column values."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(log_dir))
    try:
        for row in per_video:
            for column in columns:
                value = row.get(column)
                if isinstance(value, (int, float)) and math.isfinite(value):
                    writer.add_scalar(f"{prefix}/{tag(row['system'])}/{column}", value, row["index"])
        for system, values in summary.items():
            for column in columns:
                entry = values.get(column)
                if isinstance(entry, dict) and entry.get("mean") is not None:
                    writer.add_scalar(f"{prefix}_summary/{tag(system)}/{column}", entry["mean"], 0)
    finally:
        writer.close()
