r"""The checkpoint format of the learned detectors: two files, written
atomically, verified before use.

A checkpoint at ``path`` is ``<path>.weights.h5`` (the variables, one HDF5
dataset each, via ``h5py``) and ``<path>.json`` (format name and version,
class, constructor arguments, variable shapes and dtypes, and the SHA-256
of the weights file). Nothing is unpickled and no code is deserialised:
the JSON holds only numbers, strings and lists, and the weights file only
arrays.

:func:`write` writes both files under temporary names in the target
directory and then renames them into place (``os.replace``, atomic on one
file system), weights first, so a crash mid-save never leaves a truncated
file under the real name: the pair found afterwards is the old one, the
new one, or a new weights file beside an old JSON, which the checksum
rejects. :func:`read` checks everything that does not depend on the class
(format, version, checksum, the arrays' shapes and dtypes against the
JSON, finite values) and raises ``ValueError`` on any defect, so that a
caller (a sweep resuming from cached checkpoints) can tell "usable" from
"retrain" without loading twice.

Example
-------
>>> import os, tempfile
>>> import numpy as np
>>> from detectors import checkpoint
>>> d = tempfile.mkdtemp()
>>> _ = checkpoint.write(os.path.join(d, "net"), {"class": "Demo"},
...                      [np.ones((2, 3), np.float32)])
>>> meta, values = checkpoint.read(os.path.join(d, "net"))
>>> meta["class"], values[0].shape
('Demo', (2, 3))
>>> with open(os.path.join(d, "net.json"), "w") as f:
...     _ = f.write("{")
>>> checkpoint.read(os.path.join(d, "net"))
Traceback (most recent call last):
...
ValueError: Cannot load checkpoint ...: the JSON file is not valid JSON ...
"""

import hashlib
import json
import os
import tempfile

import h5py
import numpy as np

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "paths", "write", "read",
           "sha256"]

FORMAT_NAME = "rxsim.learned-detector"
FORMAT_VERSION = 1


def paths(path):
    """``(<path>.weights.h5, <path>.json)``; a trailing ``.json`` or
    ``.weights.h5`` in ``path`` is dropped first."""
    path = os.fspath(path)
    for suffix in (".weights.h5", ".json"):
        if path.endswith(suffix):
            path = path[:-len(suffix)]
    return path + ".weights.h5", path + ".json"


def sha256(filename):
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(filename, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _describe(values):
    return [{"shape": list(map(int, np.shape(v))),
             "dtype": np.asarray(v).dtype.name} for v in values]


def _temporary(target):
    """A new empty file beside ``target`` (same directory, hence same file
    system, so that ``os.replace`` onto ``target`` is atomic)."""
    directory, base = os.path.split(os.path.abspath(target))
    fd, name = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp",
                                dir=directory)
    os.close(fd)
    return name


def _fsync(filename):
    with open(filename, "rb") as f:
        os.fsync(f.fileno())


def write(path, meta, values):
    """Write a checkpoint atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Checkpoint path (suffixes as in :func:`paths`).
    meta : dict
        JSON-serialisable description (class, config, ...); the format
        fields, the variable list and the checksum are added.
    values : list of array_like
        The variables, in a fixed order.

    Output
    ------
    : (str, str), the weights and JSON file names
    """
    weights_file, json_file = paths(path)
    values = [np.asarray(v) for v in values]
    tmp_weights = _temporary(weights_file)
    tmp_json = None
    try:
        with h5py.File(tmp_weights, "w") as f:
            f.attrs["format"] = FORMAT_NAME
            f.attrs["version"] = FORMAT_VERSION
            grp = f.create_group("variables")
            for i, value in enumerate(values):
                grp.create_dataset(f"{i:04d}", data=value)
        _fsync(tmp_weights)
        meta = {**meta, "format": FORMAT_NAME, "version": FORMAT_VERSION,
                "variables": _describe(values),
                "weights_file": os.path.basename(weights_file),
                "weights_sha256": sha256(tmp_weights)}
        tmp_json = _temporary(json_file)
        with open(tmp_json, "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        # Weights first: a crash between the two renames leaves new weights
        # beside the old JSON, whose checksum then rejects them.
        os.replace(tmp_weights, weights_file)
        os.replace(tmp_json, json_file)
    except BaseException:
        for name in (tmp_weights, tmp_json):
            if name is not None and os.path.exists(name):
                os.remove(name)
        raise
    return weights_file, json_file


def read(path):
    """Read and verify a checkpoint.

    Parameters
    ----------
    path : str or os.PathLike
        As given to :func:`write`.

    Output
    ------
    meta : dict
        The JSON object.
    values : list of np.ndarray
        The variables, checked against ``meta["variables"]`` and finite.

    Raises
    ------
    ValueError
        A missing file of the pair, invalid JSON, another format or
        version, a weights file that fails the checksum or cannot be read,
        or arrays that differ from the JSON's description.
    """
    weights_file, json_file = paths(path)

    def bad(why):
        return ValueError(f"Cannot load checkpoint {json_file!r}: {why}.")

    try:
        with open(json_file, "r", encoding="utf-8") as f:
            meta = json.load(f)
    except FileNotFoundError:
        raise bad("the JSON file does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise bad(f"the JSON file is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise bad("the JSON file does not hold an object")
    if meta.get("format") != FORMAT_NAME:
        raise bad(f"format is {meta.get('format')!r}, expected "
                  f"{FORMAT_NAME!r}")
    if meta.get("version") != FORMAT_VERSION:
        raise bad(f"format version {meta.get('version')!r} is not supported "
                  f"(this code reads version {FORMAT_VERSION})")
    described = meta.get("variables")
    if not isinstance(described, list) or not all(
            isinstance(d, dict) for d in described):
        raise bad("'variables' is missing")
    if not os.path.exists(weights_file):
        raise bad(f"weights file {weights_file!r} does not exist")
    if sha256(weights_file) != meta.get("weights_sha256"):
        raise bad("the weights file does not match the checksum in the "
                  "JSON (truncated, edited or from another save)")
    try:
        with h5py.File(weights_file, "r") as f:
            grp = f["variables"]
            if sorted(grp.keys()) != [f"{i:04d}" for i in
                                      range(len(described))]:
                raise bad("the weights file holds other variables")
            values = [grp[f"{i:04d}"][()] for i in range(len(described))]
    except (OSError, KeyError) as e:
        raise bad(f"the weights file is unreadable ({e})") from None
    if _describe(values) != described:
        raise bad("a weight array has the wrong shape or dtype")
    for value in values:
        if not np.all(np.isfinite(value)):
            raise bad("a weight array holds NaN or Inf")
    return meta, values
