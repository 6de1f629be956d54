"""PLY mesh reader (generic header; binary or ascii) and the ScanNet ``_vh_clean_2.ply`` writer.

ScanNet's annotation mesh ``<scene>_vh_clean_2.ply`` is binary little-endian with::

    element vertex N   property float x, y, z; property uchar red, green, blue, alpha
    element face F     property list uchar int vertex_indices

Coordinates are the **raw** ScanNet world (metres, +Z up); see ``loc3r.geometry.frames``.

The reader parses the header generically (element order, property types, ``binary_little_endian``,
``binary_big_endian`` and ``ascii``), reads binary elements as numpy structured arrays (no per-vertex Python
loop), and keeps every other vertex property (``alpha``, ``label`` of ``_vh_clean_2.labels.ply``, normals) in
``PlyMesh.vertex_properties``. Polygon faces with more than 3 corners are fan-triangulated.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from loc3r.utils.io import DataError, atomic_write

__all__ = ["PlyMesh", "read_ply", "write_ply"]

_PLY_TYPES = {
    "char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1",
    "short": "i2", "int16": "i2", "ushort": "u2", "uint16": "u2",
    "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
    "float": "f4", "float32": "f4", "double": "f8", "float64": "f8",
}


@dataclass(eq=False)
class PlyMesh:
    """A triangle mesh.

    Attributes:
        vertices: [N, 3] float32 positions (raw ScanNet world for ScanNet meshes, metres).
        colors: [N, 3] uint8 RGB, or None when the file has no ``red green blue``.
        faces: [F, 3] int32 vertex indices (empty [0, 3] for a point cloud).
        vertex_properties: other per-vertex properties by name ([N] arrays, e.g. ``alpha``, ``label``).
    """

    vertices: np.ndarray
    colors: np.ndarray | None
    faces: np.ndarray
    vertex_properties: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class _Prop:
    name: str
    dtype: str  # numpy code without byte order, e.g. "f4"
    count_dtype: str | None = None  # list properties: the type of the length prefix


@dataclass
class _Element:
    name: str
    count: int
    props: list[_Prop]


def _parse_header(f, path: Path) -> tuple[str, list[_Element]]:
    magic = f.readline()
    if magic.strip() != b"ply":
        raise DataError(f"{path}: not a PLY file (first line {magic[:20]!r})")
    fmt = None
    elements: list[_Element] = []
    while True:
        raw = f.readline()
        if not raw:
            raise DataError(f"{path}: PLY header has no end_header line")
        toks = raw.decode("ascii", errors="replace").split()
        if not toks or toks[0] in ("comment", "obj_info"):
            continue
        if toks[0] == "end_header":
            break
        if toks[0] == "format":
            if len(toks) < 2 or toks[1] not in ("ascii", "binary_little_endian", "binary_big_endian"):
                raise DataError(f"{path}: unsupported PLY format line {raw.strip()!r}")
            fmt = toks[1]
        elif toks[0] == "element":
            if len(toks) != 3 or not toks[2].isdigit():
                raise DataError(f"{path}: bad PLY element line {raw.strip()!r}")
            elements.append(_Element(toks[1], int(toks[2]), []))
        elif toks[0] == "property":
            if not elements:
                raise DataError(f"{path}: PLY property before any element")
            try:
                if toks[1] == "list":
                    prop = _Prop(toks[4], _PLY_TYPES[toks[3]], _PLY_TYPES[toks[2]])
                else:
                    prop = _Prop(toks[2], _PLY_TYPES[toks[1]])
            except (KeyError, IndexError):
                raise DataError(f"{path}: bad PLY property line {raw.strip()!r}") from None
            elements[-1].props.append(prop)
        else:
            raise DataError(f"{path}: unknown PLY header line {raw.strip()!r}")
    if fmt is None:
        raise DataError(f"{path}: PLY header has no format line")
    return fmt, elements


def _read_binary_element(buf: memoryview, pos: int, el: _Element, bo: str, path: Path):
    """Read one binary element from ``buf`` at ``pos``; returns ({prop: array}, new pos)."""
    lists = [p for p in el.props if p.count_dtype is not None]
    if not lists:
        dt = np.dtype([(p.name, bo + p.dtype) for p in el.props])
        end = pos + dt.itemsize * el.count
        if end > len(buf):
            raise DataError(f"{path}: file is truncated inside element {el.name!r}")
        arr = np.frombuffer(buf[pos:end], dtype=dt)
        return {p.name: arr[p.name] for p in el.props}, end
    # Fast path: every list has the same length as in the first row (ScanNet: all triangles).
    if el.count == 0:
        return {p.name: (np.zeros((0, 0)) if p.count_dtype else np.zeros(0)) for p in el.props}, pos
    lens, q = [], pos
    for p in el.props:  # lengths in the first row
        if p.count_dtype is None:
            q += np.dtype(p.dtype).itemsize
        else:
            cdt = np.dtype(bo + p.count_dtype)
            if q + cdt.itemsize > len(buf):
                raise DataError(f"{path}: file is truncated inside element {el.name!r}")
            k = int(np.frombuffer(buf[q:q + cdt.itemsize], dtype=cdt)[0])
            lens.append(k)
            q += cdt.itemsize + k * np.dtype(p.dtype).itemsize
    fields, li = [], 0
    for p in el.props:
        if p.count_dtype is None:
            fields.append((p.name, bo + p.dtype))
        else:
            fields.append((p.name + "__n", bo + p.count_dtype))
            fields.append((p.name, bo + p.dtype, (lens[li],)))
            li += 1
    dt = np.dtype(fields)
    end = pos + dt.itemsize * el.count
    if end <= len(buf):
        arr = np.frombuffer(buf[pos:end], dtype=dt)
        if all((arr[p.name + "__n"] == k).all() for p, k in zip(lists, lens, strict=True)):
            return {p.name: arr[p.name] for p in el.props}, end
    return _read_binary_element_slow(buf, pos, el, bo, path)


def _read_binary_element_slow(buf: memoryview, pos: int, el: _Element, bo: str, path: Path):
    """Row-by-row reading for elements whose lists vary in length (e.g. mixed triangles and quads)."""
    out: dict[str, list] = {p.name: [] for p in el.props}
    for _ in range(el.count):
        for p in el.props:
            if p.count_dtype is None:
                dt = np.dtype(bo + p.dtype)
                if pos + dt.itemsize > len(buf):
                    raise DataError(f"{path}: file is truncated inside element {el.name!r}")
                out[p.name].append(np.frombuffer(buf[pos:pos + dt.itemsize], dtype=dt)[0])
                pos += dt.itemsize
            else:
                cdt, dt = np.dtype(bo + p.count_dtype), np.dtype(bo + p.dtype)
                if pos + cdt.itemsize > len(buf):
                    raise DataError(f"{path}: file is truncated inside element {el.name!r}")
                k = int(np.frombuffer(buf[pos:pos + cdt.itemsize], dtype=cdt)[0])
                pos += cdt.itemsize
                if pos + k * dt.itemsize > len(buf):
                    raise DataError(f"{path}: file is truncated inside element {el.name!r}")
                out[p.name].append(np.frombuffer(buf[pos:pos + k * dt.itemsize], dtype=dt))
                pos += k * dt.itemsize
    res = {}
    for p in el.props:
        res[p.name] = list(out[p.name]) if p.count_dtype else np.array(out[p.name])
    return res, pos


def _read_ascii_elements(lines: list[bytes], elements: list[_Element], path: Path) -> dict[str, dict]:
    data: dict[str, dict] = {}
    row = 0
    for el in elements:
        block = lines[row:row + el.count]
        if len(block) < el.count:
            raise DataError(f"{path}: ascii PLY ends inside element {el.name!r}")
        row += el.count
        has_list = any(p.count_dtype for p in el.props)
        if not has_list:
            if el.count == 0:
                data[el.name] = {p.name: np.zeros(0, dtype=p.dtype) for p in el.props}
                continue
            try:
                table = np.array([ln.split() for ln in block], dtype=np.float64)
            except ValueError as e:
                raise DataError(f"{path}: bad ascii rows in element {el.name!r}: {e}") from e
            if table.ndim != 2 or table.shape[1] != len(el.props):
                raise DataError(f"{path}: element {el.name!r} rows do not have {len(el.props)} values")
            data[el.name] = {p.name: table[:, j].astype(p.dtype) for j, p in enumerate(el.props)}
            continue
        cols: dict[str, list] = {p.name: [] for p in el.props}
        for ln in block:
            toks, j = ln.split(), 0
            for p in el.props:
                if p.count_dtype is None:
                    cols[p.name].append(float(toks[j]))
                    j += 1
                else:
                    k = int(toks[j])
                    cols[p.name].append(np.array(toks[j + 1:j + 1 + k], dtype=np.float64).astype(p.dtype))
                    j += 1 + k
        data[el.name] = {
            p.name: (cols[p.name] if p.count_dtype else np.array(cols[p.name]).astype(p.dtype))
            for p in el.props
        }
    return data


def _faces_to_triangles(faces, path: Path) -> np.ndarray:
    """[F, 3] int32 from either a 2-D array of equal-length faces or a list of per-face index arrays."""
    if isinstance(faces, np.ndarray) and faces.ndim == 2:
        if faces.shape[1] == 3 or faces.shape[0] == 0:
            return faces.reshape(-1, 3).astype(np.int32)
        faces = list(faces)
    tris = []
    for poly in faces:  # fan triangulation of polygons
        poly = np.asarray(poly)
        if len(poly) < 3:
            raise DataError(f"{path}: face with {len(poly)} vertices")
        for k in range(1, len(poly) - 1):
            tris.append((poly[0], poly[k], poly[k + 1]))
    return np.array(tris, dtype=np.int32).reshape(-1, 3)


def read_ply(path: str | os.PathLike) -> PlyMesh:
    """Read a PLY mesh or point cloud (binary little/big-endian or ascii).

    Args:
        path: the ``.ply`` file (e.g. ``scene0000_00_vh_clean_2.ply``).

    Returns:
        ``PlyMesh`` with vertices [N, 3] float32, colors [N, 3] uint8 (or None), faces [F, 3] int32.

    Raises:
        FileNotFoundError: missing file.
        DataError: malformed header or body, no ``x y z``, or face indices out of range (naming the file).
    """
    path = Path(path)
    with open(path, "rb") as f:
        fmt, elements = _parse_header(f, path)
        body = f.read()
    names = [e.name for e in elements]
    if "vertex" not in names:
        raise DataError(f"{path}: PLY has no 'vertex' element")
    if fmt == "ascii":
        data = _read_ascii_elements(body.splitlines(), elements, path)
    else:
        bo = "<" if fmt == "binary_little_endian" else ">"
        buf, pos, data = memoryview(body), 0, {}
        for el in elements:
            data[el.name], pos = _read_binary_element(buf, pos, el, bo, path)
    vert = data["vertex"]
    missing = [c for c in "xyz" if c not in vert]
    if missing:
        raise DataError(f"{path}: vertex element lacks properties {missing}")
    vertices = np.stack([vert[c] for c in "xyz"], axis=1).astype(np.float32)
    colors = None
    if all(c in vert for c in ("red", "green", "blue")):
        colors = np.stack([vert[c] for c in ("red", "green", "blue")], axis=1).astype(np.uint8)
    extra = {k: np.asarray(v) for k, v in vert.items() if k not in ("x", "y", "z", "red", "green", "blue")}
    faces = np.zeros((0, 3), dtype=np.int32)
    if "face" in data:
        fprops = data["face"]
        key = next((k for k in ("vertex_indices", "vertex_index") if k in fprops), None)
        if key is None:
            raise DataError(f"{path}: face element has no vertex_indices list")
        faces = _faces_to_triangles(fprops[key], path)
        if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
            raise DataError(f"{path}: face indices outside [0, {len(vertices)})")
    return PlyMesh(vertices=vertices, colors=colors, faces=faces, vertex_properties=extra)


def write_ply(
    path: str | os.PathLike,
    vertices: np.ndarray,
    colors: np.ndarray | None = None,
    faces: np.ndarray | None = None,
    *,
    binary: bool = True,
    comment: str | None = "VCGLIB generated",
) -> None:
    """Write a mesh atomically in ScanNet's ``_vh_clean_2.ply`` layout.

    Args:
        path: output ``.ply``.
        vertices: [N, 3] positions (written as float32).
        colors: [N, 3] or [N, 4] uint8 RGB(A); alpha defaults to 255, colours to 0 when None.
        faces: [F, 3] vertex indices (written as ``list uchar int``); None = no faces.
        binary: binary little-endian (ScanNet) or ascii.
        comment: optional header comment line (ScanNet meshes carry ``VCGLIB generated``).
    """
    v = np.asarray(vertices, dtype=np.float32)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"vertices must be [N, 3], got {v.shape}")
    n = len(v)
    rgba = np.full((n, 4), 255, dtype=np.uint8)
    rgba[:, :3] = 0
    if colors is not None:
        c = np.asarray(colors)
        if c.shape not in ((n, 3), (n, 4)):
            raise ValueError(f"colors must be [N, 3] or [N, 4], got {c.shape}")
        rgba[:, : c.shape[1]] = c.astype(np.uint8)
    fc = np.zeros((0, 3), dtype=np.int32) if faces is None else np.asarray(faces, dtype=np.int32)
    if fc.ndim != 2 or fc.shape[1] != 3:
        raise ValueError(f"faces must be [F, 3], got {fc.shape}")
    if fc.size and (fc.min() < 0 or fc.max() >= n):
        raise ValueError(f"face indices outside [0, {n})")
    header = ["ply", f"format {'binary_little_endian' if binary else 'ascii'} 1.0"]
    if comment:
        header.append(f"comment {comment}")
    header += [f"element vertex {n}"]
    header += [f"property float {c}" for c in "xyz"]
    header += [f"property uchar {c}" for c in ("red", "green", "blue", "alpha")]
    header += [f"element face {len(fc)}", "property list uchar int vertex_indices", "end_header"]
    head = ("\n".join(header) + "\n").encode("ascii")
    with atomic_write(path, "wb") as f:
        f.write(head)
        if binary:
            vdt = np.dtype([("xyz", "<f4", (3,)), ("rgba", "u1", (4,))])
            va = np.empty(n, dtype=vdt)
            va["xyz"], va["rgba"] = v, rgba
            f.write(va.tobytes())
            fdt = np.dtype([("n", "u1"), ("idx", "<i4", (3,))])
            fa = np.empty(len(fc), dtype=fdt)
            fa["n"], fa["idx"] = 3, fc
            f.write(fa.tobytes())
        else:
            lines = [
                f"{x!r} {y!r} {z!r} {r} {g} {b} {a}"
                for (x, y, z), (r, g, b, a) in zip(v.astype(float).tolist(), rgba.tolist(), strict=True)
            ]
            lines += [f"3 {a} {b} {c}" for a, b, c in fc.tolist()]
            f.write(("\n".join(lines) + ("\n" if lines else "")).encode("ascii"))
