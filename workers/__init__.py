"""RQ jobs: the slow work (faces, matching, sending) and the I/O around core."""
