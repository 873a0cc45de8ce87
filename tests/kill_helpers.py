"""A training run killed at a chosen step, for the resume tests (one process and under torchrun)."""

import ppgn.training.loop as loop


class Interrupt(Exception):
    pass


class CountedBatches:
    """Stands in for the loop's ``resumed_batches``: counts the steps a run makes and dies, if told, after ``die_after``."""

    real = staticmethod(loop.resumed_batches)

    def __init__(self, die_after: int | None = None):
        self.steps, self.die_after = 0, die_after

    def __call__(self, *args):
        for idx in self.real(*args):
            if self.steps == self.die_after:
                raise Interrupt  # killed after the step, before the next one
            self.steps += 1
            yield idx
