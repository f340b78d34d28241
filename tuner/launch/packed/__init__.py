"""A packed run: ``run`` (checks, Ray, result files), ``executor`` (our controller driving the
searcher and scheduler over Ray actors that each hold a fused pack) and ``state`` (the snapshot
``--resume`` continues from, and the records ``tuner.load`` reads back)."""
