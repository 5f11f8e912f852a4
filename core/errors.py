"""Named errors of the domain, each turned into a clear reply at the edge."""

from __future__ import annotations


class PhotoRejected(Exception):
    """A file cannot be used as a photo.

    `reason` is a stable code the chat layer turns into words
    (not_an_image, video, too_large_file, too_many_pixels, truncated, empty);
    `detail` is for logs and the admin, never shown to the sender verbatim.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
