"""nbgrader configuration of the course.

Plain ``nbgrader`` commands run from the repository root read this file, and so does the
``labs`` command (``labs release``, ``labs grade``). Paths are relative to this file, so a
copy of the course elsewhere works unchanged.
"""

import os

c = get_config()  # noqa: F821 (injected by traitlets when the file is loaded)

_root = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "data-pipeline-lab"
c.CourseDirectory.root = _root
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
# The gradebook lives with the grader's output (git-ignored).
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_root, "autograded", "gradebook.db")

# nbgrader's exchange (release_assignment, fetch, submit, collect, and the Assignment List page
# of JupyterLab) lives in the course's git-ignored var/ instead of /srv/nbgrader/exchange, which
# a laptop does not have; students of this course get their notebooks from release/ anyway.
c.Exchange.root = os.path.join(_root, "var", "exchange")
os.makedirs(c.Exchange.root, exist_ok=True)

# nbgrader writes a log file in the working directory by default; keep it out of the tree.
c.NbGrader.logfile = os.path.join(_root, "autograded", "nbgrader.log")

# Per-cell time limit in seconds (nbgrader autograde and labs grade both use it).
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
