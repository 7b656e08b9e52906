"""The Spark engine: the same documents as DuckDB's, rated on Apache Spark.

`engine` is the driver (the session, the rating, the output), `ledger` stage 1
in Spark SQL, `executors` what runs on the executors. pyspark is imported
only when this engine is used.
"""
