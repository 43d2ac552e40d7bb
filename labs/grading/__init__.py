"""The course's grader: release, batch autograde, gradebook, report and feedback.

Modules, one concern each (importing any of them starts nothing and writes nothing):

- ``course``: paths and settings read from ``nbgrader_config.py``;
- ``release``: ``labs release`` and ``labs release --check`` (nbgrader's generate_assignment);
- ``runner``: the executor that runs inside the sandbox (papermill);
- ``execute``: the sandbox around it (account, limits, deadline, clean-up);
- ``autograde``: nbgrader's steps before and after execution;
- ``batch``: parallel scheduling, progress, resume and shards;
- ``gradebook``: the run table, snapshots and merging gradebooks;
- ``report``: ``grades.csv`` and ``report.html``;
- ``feedback``: per-student HTML without hidden tests;
- ``demo``: ``labs demo-class``;
- ``commands``: the command line.
"""
