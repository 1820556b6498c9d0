"""``batch``: a whole catalogue through the one pipeline, on Ray Data, resumable.

Two halves, so the bookkeeping is testable without starting Ray:

- ``plan.py``: pure helpers with no Ray in them: listing the inputs (a folder, a glob, a CSV or
  Parquet manifest, local or any filesystem pyarrow opens), stable output names, the settings hash,
  the job file that stops two settings mixing in one folder, the append-only journal that makes a
  killed run resumable, and the manifest.
- ``run.py``: the Ray Data plan (read and decode as tasks, the method as an actor pool that loads
  the network once per worker, frame/encode/write as tasks) and the driver loop that journals each
  photo as it finishes. Ray is imported there, inside ``run_batch``, and nowhere else in bgapp.
"""
