"""The training job: ETL → an ensemble of regressors tuned by cross-validation → a stacking
model over their out-of-fold predictions → one PipelineModel registered in MLflow.

`job.py` is the spark-submit entry point (a SparkApplication's mainApplicationFile).
"""
