"""ledgerflow_spark: what a Spark application run by a Ledgerflow `spark` stage imports to read its
run context, read and write the stage's datasets, and report back (docs/spark.md).

Shipped with Ledgerflow: the engine puts this file on the driver's PYTHONPATH and passes it with
--py-files, so nothing needs installing.
"""
