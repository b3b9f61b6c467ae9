"""The lab's Python client: `Lab(url, token).submit(kind, params) -> Job`, and the `lab` command."""
from .errors import ApiError
from .lab import Job, Lab
from .types import Artifact, Event, JobData

__all__ = ["Lab", "Job", "JobData", "Artifact", "Event", "ApiError"]
