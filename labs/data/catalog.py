"""The course's datasets: the modules of ``labs.data`` that have ``generate(seed, scale, **options)``.

A new dataset is a new module plus its name here. Only what looks datasets up by name (the
``labs data`` command, ``labs.data.generate(name)``, ``DATASETS``) reads this list, so adding one
changes nothing for a lab that uses other datasets.
"""

NAMES = ("clickstream", "ecommerce", "payments", "iot", "rides", "transactions", "timeseries", "cardtxns", "incidents",
         "shopevents")
