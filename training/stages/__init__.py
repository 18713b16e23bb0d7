"""The stages of a training run, one module each, in the order `training.pipeline.run_training` runs them
(`training.events.Stage` names them): prepare data -> train -> evaluate (internal, external, stability) ->
calibrate -> fit guard -> check heatmaps -> write card -> seal. Each is a function with typed inputs and outputs;
the command line, the desktop wizard and torchrun all go through the same ones."""
