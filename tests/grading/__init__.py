"""End-to-end tests of the grader (labs.grading)."""
