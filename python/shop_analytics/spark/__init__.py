"""Apache Spark as a second engine for the dbt project (docs/spark.md): the local Thrift Server."""
