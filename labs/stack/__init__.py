"""The local data stack: Kafka (KRaft), Kafka Connect + Debezium, MariaDB, Apicurio Registry
and a Spark Connect server, each a plain process on 127.0.0.1 started from the project's
own files (no Docker). ``labs stack up | down | status | logs`` drives it.

Code that only uses the stack (``labs.spark``, notebooks) needs nothing but
``labs.stack.clients``: the settings of a classic Spark session and whether Spark Connect answers.
"""
