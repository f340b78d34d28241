"""Prepare, on a machine with the package registry, the wheels a GPU box without internet
lacks, in parts small enough to be carried there a few at a time.

    python scripts/gpu_wheelhouse.py                 # → .whl1/ .whl2/ … (each ≤ --folder-mib)
    python scripts/gpu_wheelhouse.py --check         # only check what is already there

The target (benchmarks/results/gpu/README.md): CPython 3.12, x86-64 manylinux, with a CUDA
torch and many packages already installed (`DEVICE_HAS`, read off such a machine), no
internet. `scripts/gpu_check.sh` installs from the folders made here (`--wheelhouse
.whl1:.whl2`), joining `NAME.whl.part-aa`, `.part-ab`, … back into `NAME.whl` first.

Steps: `pip download --no-deps` of exactly `WANTED` for that platform into a cache folder;
any wheel over `--part-mib` is cut with `split -b` into parts; wheels and parts are dealt
into `.whl1/`, `.whl2/`, … so that no folder exceeds `--folder-mib` (a device call carries at
most 64 MiB together with the repository). Then the check: every wheel's run-time
`Requires-Dist` (no extras, except Ray's `tune`), with markers evaluated for CPython 3.12 on
Linux x86-64, must name a wheel here or a package in `DEVICE_HAS`; anything else is listed and
the exit code is 1. Versions of packages already on the device are not checked (only names).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What this project needs at run time that the GPU image lacks; versions as in the dev venv.
WANTED = [
    "ray==2.60.0",
    # ray: core + the `tune` extra
    "jsonschema==4.26.0", "jsonschema-specifications==2025.9.1", "referencing==0.37.0",
    "rpds-py==2026.9.1", "tensorboardX==2.6.5",
    "pydantic==2.14.4", "pydantic-core==2.50.5", "annotated-types==0.8.0",
    "typing-inspection==0.4.5",
    # optuna (searchers, dashboard journal) and its SQL storage stack
    "optuna==5.1.0", "alembic==1.20.1", "sqlalchemy==2.1.9", "colorlog==6.12.0",
    "mako==1.4.3", "greenlet==3.5.6",
    # hyperopt (TPE searcher)
    "hyperopt==0.3.0",
    # the mnist1d dataset
    "mnist1d==0.0.2.post1",
]

# The GPU image's packages (/work/.library/device/KINDS.md, "Python packages already there",
# read 2026-11-17); names normalised (PEP 503).
DEVICE_HAS = set("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch
build certifi charset-normalizer chex click cloudpickle cmake colorama contourpy coverage
cuda-bindings cuda-core cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn
einops equinox etils execnet filelock flatbuffers flax fonttools formulaic frozenlist fsspec
gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize hypothesis idna imageio
iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib
kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml
markdown markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack
multidict multipledispatch mypy-extensions nanobind narwhals networkx ninja numba numba-cuda
numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime
nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse
nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13
nvidia-nvtx onnx onnx-ir onnxruntime onnxscript opencv-python-headless optax opt-einsum
opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec patsy peft pillow pip
pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo
pygments pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov
pytest-mock pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests
rich sacrebleu safetensors scikit-build-core scikit-image scikit-learn scipy seaborn
sentencepiece sentence-transformers setuptools shellingham simplejson six sortedcontainers
statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl
tifffile tiktoken timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric
torchmetrics torchvision tqdm transformers treescope triton typer typing-extensions
typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp
""".split())

PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64"]
# PEP 508 marker environment of the target interpreter
TARGET_ENV = {"python_version": "3.12", "python_full_version": "3.12.3", "os_name": "posix",
              "sys_platform": "linux", "platform_system": "Linux",
              "platform_machine": "x86_64", "implementation_name": "cpython",
              "platform_python_implementation": "CPython", "extra": ""}
EXTRAS = {"ray": {"tune"}}  # extras whose requirements count too
MIB = 2**20


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def download(cache: Path, wanted: list[str]) -> None:
    """`pip download --no-deps` of each pinned wheel for CPython 3.12 manylinux x86-64."""
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
           "--python-version", "3.12", "--implementation", "cp", "-d", str(cache)]
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    subprocess.run(cmd + wanted, check=True)


def strip_java(wheel: Path) -> Path:
    """Ray's wheel without ``ray/jars/`` (31 of its 75 MiB: the Java workers' jars, which a
    Python-only job never loads), its RECORD lines dropped too; written beside the download
    as ``NAME.whl`` in ``cache/stripped/`` (pip installs it like the original)."""
    out = wheel.parent / "stripped" / wheel.name
    out.parent.mkdir(exist_ok=True)
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename.startswith("ray/jars/"):
                continue
            data = src.read(item)
            if item.filename.endswith(".dist-info/RECORD"):
                data = b"".join(line for line in data.splitlines(keepends=True)
                                if not line.startswith(b"ray/jars/"))
            dst.writestr(item, data)
    return out


def deal(cache: Path, folders: list[Path], part_mib: int, folder_mib: int) -> list[Path]:
    """Cut wheels over `part_mib` into `NAME.part-aa`, … and deal wheels and parts into
    `folders` (largest first, each into the first folder it fits); returns the folders used."""
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    staging = cache / "parts"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for wheel in sorted(cache.glob("*.whl")):
        if wheel.name.startswith("ray-"):
            wheel = strip_java(wheel)
        if wheel.stat().st_size > part_mib * MIB:
            subprocess.run(["split", "-b", f"{part_mib}M", str(wheel),
                            str(staging / f"{wheel.name}.part-")], check=True)
        else:
            shutil.copy2(wheel, staging / wheel.name)
    pieces = sorted(staging.iterdir(), key=lambda p: -p.stat().st_size)
    fill = [0] * len(folders)
    for piece in pieces:
        size = piece.stat().st_size
        slot = next((i for i, used in enumerate(fill) if used + size <= folder_mib * MIB), None)
        if slot is None:
            raise SystemExit(f"gpu_wheelhouse: {piece.name} ({size / MIB:.1f} MiB) fits in none "
                             f"of {len(folders)} folders of {folder_mib} MiB; add --folders")
        folders[slot].mkdir(parents=True, exist_ok=True)
        shutil.move(str(piece), folders[slot] / piece.name)
        fill[slot] += size
    return [f for f in folders if f.exists()]


def wheels_in(folders: list[Path]) -> dict[str, list[str]]:
    """{normalised project name: [its Requires-Dist lines]} of the wheels in `folders`,
    joining parts in memory."""
    out: dict[str, list[str]] = {}
    groups: dict[str, list[Path]] = {}
    for folder in folders:
        for path in folder.iterdir():
            groups.setdefault(path.name.split(".whl")[0] + ".whl", []).append(path)
    for name, paths in sorted(groups.items()):
        tmp = Path("/tmp") / f"gpu-wheelhouse-check-{os.getpid()}-{name}"
        with open(tmp, "wb") as sink:
            for path in sorted(paths, key=lambda p: p.name):
                sink.write(path.read_bytes())
        try:
            with zipfile.ZipFile(tmp) as zf:
                meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
                text = zf.read(meta).decode()
        finally:
            tmp.unlink()
        out[normalise(name.split("-")[0])] = [line.split(":", 1)[1].strip()
                                              for line in text.splitlines()
                                              if line.startswith("Requires-Dist:")]
    return out


def missing(wheels: dict[str, list[str]]) -> list[str]:
    """`needer → requirement` for each run-time requirement found neither here nor there."""
    from packaging.requirements import Requirement

    have = set(wheels) | DEVICE_HAS
    gaps = []
    for project, lines in wheels.items():
        for line in lines:
            req = Requirement(line)
            if req.marker is not None:
                extras = {""} | EXTRAS.get(project, set())
                if not any(req.marker.evaluate({**TARGET_ENV, "extra": e}) for e in extras):
                    continue
            if normalise(req.name) not in have:
                gaps.append(f"{project} → {line}")
    return gaps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", default=str(ROOT / ".whl-cache"),
                        help="where whole wheels are downloaded (kept between runs)")
    parser.add_argument("--folders", default=".whl1,.whl2,.whl3,.whl4",
                        help="comma-separated folders (under the repository) to deal into")
    parser.add_argument("--part-mib", type=int, default=10, help="split wheels larger than this")
    parser.add_argument("--folder-mib", type=int, default=28,
                        help="at most this much per folder (one device call carries one)")
    parser.add_argument("--check", action="store_true", help="only check the folders")
    args = parser.parse_args(argv)
    folders = [ROOT / f for f in args.folders.split(",")]
    if not args.check:
        download(Path(args.cache), WANTED)
        folders = deal(Path(args.cache), folders, args.part_mib, args.folder_mib)
    folders = [f for f in folders if f.exists()]
    for folder in folders:
        size = sum(p.stat().st_size for p in folder.iterdir())
        print(f"{folder.relative_to(ROOT)}/: {len(list(folder.iterdir()))} files, "
              f"{size / MIB:.1f} MiB")
    wheels = wheels_in(folders)
    print(f"{len(wheels)} wheels: {', '.join(sorted(wheels))}")
    gaps = missing(wheels)
    for gap in gaps:
        print(f"missing on the device and here: {gap}")
    print("check: every run-time requirement is in the wheelhouse or on the device"
          if not gaps else f"check: {len(gaps)} requirement(s) missing")
    return 1 if gaps else 0


if __name__ == "__main__":
    raise SystemExit(main())
