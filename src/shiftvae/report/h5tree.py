"""Write and read nested dictionaries as HDF5 groups, datasets and attributes.

Keys map to groups (dict values), datasets (arrays) or attributes (scalars, strings, and
JSON-encoded lists/dicts under the reserved key ``"@attrs"``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np


def _set_attr(obj: h5py.HLObject, key: str, value: Any) -> None:
    if isinstance(value, dict | list | tuple):
        obj.attrs[key] = json.dumps(value, default=_json_default)
    elif value is None:
        obj.attrs[key] = "null"
    else:
        obj.attrs[key] = value


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"cannot store {type(v).__name__} in JSON")


def write_tree(group: h5py.Group, tree: dict[str, Any]) -> None:
    """Write ``tree`` below ``group``: dicts become groups, arrays datasets, '@attrs' attrs."""
    for key, value in tree.items():
        if key == "@attrs":
            for k, v in value.items():
                _set_attr(group, k, v)
        elif isinstance(value, dict):
            write_tree(group.require_group(key), value)
        elif isinstance(value, np.ndarray):
            opts = {"compression": "gzip", "compression_opts": 4} if value.size > 1024 else {}
            group.create_dataset(key, data=value, **opts)
        else:
            _set_attr(group, key, value)


def read_tree(group: h5py.Group) -> dict[str, Any]:
    """Inverse of :func:`write_tree` (attributes that hold JSON are decoded)."""
    out: dict[str, Any] = {}
    attrs = {}
    for k, v in group.attrs.items():
        if isinstance(v, bytes):
            v = v.decode()
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError:
                pass
        elif isinstance(v, np.generic):
            v = v.item()
        attrs[k] = v
    if attrs:
        out["@attrs"] = attrs
    for k, item in group.items():
        out[k] = read_tree(item) if isinstance(item, h5py.Group) else item[()]
    return out
