"""Plain-PyTorch job kinds of the lab. Never imports Django, Celery or Channels."""
