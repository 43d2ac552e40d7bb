"""Data Pipeline Architecture Lab: the course's support package.

Importing this package has no side effects: nothing starts, nothing is written.
"""

__version__ = "0.1.0"
