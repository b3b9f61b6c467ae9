"""The synthetic DNA enhancer task: a generator with exact likelihood and a hidden true activity."""
