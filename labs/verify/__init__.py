"""Lab verification: does a lab's hidden testing tell right answers from wrong ones?

``notebook`` runs a source notebook with solution cells swapped and reports which graded test
cells passed (and how long each cell took); ``discriminate`` runs the solution, the stub and
every recorded variant of a lab; ``record`` keeps the result of the last full run next to the
lab's fixtures, with hashes of everything it depended on, so CI knows which labs changed.
"""
