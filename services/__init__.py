"""What both processes call: the web (webhooks, panel) and the workers.

Accepting an inbound message (`inbound.py`), telling a family of an approval
(`approval.py`), putting jobs on the queue (`queue.py`, which names every job),
signed media links (`media_links.py`), metrics (`metrics.py`) and what the web
reads of the workers' maintenance (`maintenance.py`). Nothing here runs a job:
the jobs are in workers/, which calls these.
"""
