"""Faces: safe decoding, detection and encoding, quality, crops, photo feedback, match policy."""
