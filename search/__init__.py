"""Face search: each worker's replicas of the faces it matches against, and the vector indexes behind them.

`replica.py` follows MongoDB into a replica per engine; `gallery.py` holds the two
that matching searches (open cases' faces, recent sightings' faces);
`vector_index.py` is the index interface and chooses a kind by size
(`index_exact.py`, `index_approximate.py`); `index_faces.py` keeps one
engine's index with its columns; `index_snapshots.py` seals them on disk.
A new index kind goes here. The removal log the replicas follow is written by
storage (`storage/gallery_changes.py`), because storage's own removals record it.
"""
