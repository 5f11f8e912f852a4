"""Build the empty `dlib` wheel that points pip at the prebuilt `dlib-bin` (see README.md)."""

import base64
import hashlib
import zipfile
from pathlib import Path

NAME, VERSION, TARGET = "dlib", "19.24.99", "dlib-bin==20.0.1.post1"
INFO = f"{NAME}-{VERSION}.dist-info"
FILES = {
    "METADATA": (
        "Metadata-Version: 2.1\n"
        f"Name: {NAME}\nVersion: {VERSION}\n"
        'Summary: Shim: satisfies the distribution name "dlib" with the prebuilt '
        "dlib-bin wheel (no compiling).\n"
        f"Requires-Dist: {TARGET}\n"
    ),
    "WHEEL": "Wheel-Version: 1.0\nGenerator: homeward-shim\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}


def _record_line(name: str, body: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()
    return f"{INFO}/{name},sha256={digest},{len(body)}"


def main() -> None:
    out = Path(__file__).parent / "wheels" / f"{NAME}-{VERSION}-py3-none-any.whl"
    out.parent.mkdir(exist_ok=True)
    record = [_record_line(n, b.encode()) for n, b in FILES.items()] + [f"{INFO}/RECORD,,"]
    with zipfile.ZipFile(out, "w") as wheel:
        entries = {**FILES, "RECORD": "\n".join(record) + "\n"}
        for name, body in entries.items():
            # A fixed date keeps the wheel byte-identical from one build to the next.
            wheel.writestr(zipfile.ZipInfo(f"{INFO}/{name}", date_time=(2020, 1, 1, 0, 0, 0)), body)
    print(out)


if __name__ == "__main__":
    main()
