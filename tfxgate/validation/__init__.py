"""A batch judged as `tfxgate validate` judges it (`validate.py`): its checks loaded once, the batch
read, judged against its baseline and worded. The command line and the online service both call it,
so they answer alike.

May import: common, reports.
"""
