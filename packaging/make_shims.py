"""Build the empty wheels that point pip at the packages we really install (see README.md).

Each shim only carries a distribution name and a dependency: `dlib` -> the
prebuilt `dlib-bin`, `opencv-python` -> the `opencv-python-headless` we pin.
"""

import base64
import hashlib
import zipfile
from pathlib import Path

# (distribution name, shim version, the one requirement it stands for, what it solves)
SHIMS = (
    ("dlib", "19.24.99", "dlib-bin==20.0.1.post1", "the prebuilt dlib-bin wheel (no compiling)"),
    # A local version label (+headless) is never on PyPI, so this pin can only resolve to the shim.
    (
        "opencv-python",
        "5.0.0.93+headless",
        "opencv-python-headless==5.0.0.93",
        "opencv-python-headless (one cv2 module, no GUI libraries)",
    ),
)


def _files(name: str, version: str, target: str, why: str) -> dict[str, str]:
    return {
        "METADATA": (
            "Metadata-Version: 2.1\n"
            f"Name: {name}\nVersion: {version}\n"
            f'Summary: Shim: satisfies the distribution name "{name}" with {why}.\n'
            f"Requires-Dist: {target}\n"
        ),
        "WHEEL": "Wheel-Version: 1.0\nGenerator: homeward-shim\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }


def _record_line(info: str, name: str, body: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()
    return f"{info}/{name},sha256={digest},{len(body)}"


def build(name: str, version: str, target: str, why: str) -> Path:
    wheel_name = name.replace("-", "_")
    info = f"{wheel_name}-{version}.dist-info"
    files = _files(name, version, target, why)
    out = Path(__file__).parent / "wheels" / f"{wheel_name}-{version}-py3-none-any.whl"
    out.parent.mkdir(exist_ok=True)
    record = [_record_line(info, n, b.encode()) for n, b in files.items()] + [f"{info}/RECORD,,"]
    with zipfile.ZipFile(out, "w") as wheel:
        entries = {**files, "RECORD": "\n".join(record) + "\n"}
        for entry, body in entries.items():
            # A fixed date keeps the wheel byte-identical from one build to the next.
            wheel.writestr(zipfile.ZipInfo(f"{info}/{entry}", date_time=(2020, 1, 1, 0, 0, 0)), body)
    return out


def main() -> None:
    for shim in SHIMS:
        print(build(*shim))


if __name__ == "__main__":
    main()
