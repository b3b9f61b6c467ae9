"""The lab's Python client: `Lab(url, token).submit(kind, params) -> Job`, and the `lab` command."""
from .errors import ApiError
from .lab import Job, Lab, Sweep
from .types import Artifact, Event, JobData, SweepData

__all__ = ["Lab", "Job", "JobData", "Sweep", "SweepData", "Artifact", "Event", "ApiError"]
