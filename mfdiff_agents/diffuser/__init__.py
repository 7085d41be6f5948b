"""MF-Diffuser, the mean-field particle diffusion planner (docs/method.md): its Config
(:mod:`.config`), model (:mod:`.model`, :mod:`.denoiser`, :mod:`.diffusion`, :mod:`.action_head`),
training loss and learner (:mod:`.objective`, :mod:`.train`), coarse-to-fine sampling
(:mod:`.sampler`), lifting of agents onto particles (:mod:`.lifting`) and the policy that plans
and acts (:mod:`.planner`)."""
