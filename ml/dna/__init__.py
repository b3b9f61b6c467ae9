"""The synthetic DNA enhancer task: a generator with exact likelihood and a hidden true activity.

- params.py: DnaTask (the `data` of train jobs; recorded as "task" in every DNA model.json)
- hmm.py: the generator (HMM with a motif grammar; ancestral sampling, exact forward log-likelihood)
- activity.py: ground truth f*(x) and accessibility; problem.py: the Problem built from DnaTask (+ generated data)
- mdlm.py: masked diffusion (MDLM, SUBS, log-linear); metrics.py: the DRAKES table's metrics
- train_job.py / sample_job.py: the train objectives "masked_diffusion" and "oracle" (on ml.engine), and the
  sample kind's runner for masked models; smoke.py: the cached CI-sized pipeline used by tests and bench_drakes.py
"""
