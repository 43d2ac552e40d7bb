"""The local data stack: Kafka (KRaft), Kafka Connect + Debezium, MariaDB, Apicurio Registry
and a Spark Connect server, each a plain process on 127.0.0.1 started from the project's
own files (no Docker). ``labs stack up | down | status | logs`` drives it.
"""
